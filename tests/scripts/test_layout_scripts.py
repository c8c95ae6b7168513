"""scripts/check-layers and scripts/longest-functions on small fixture trees:
each rule they enforce fails on a tree that breaks it, and the real tree
passes."""
import os
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
LAYERS = os.path.join(ROOT, "scripts", "check-layers")
LONGEST = os.path.join(ROOT, "scripts", "longest-functions")

TABLE = """# test table
sb leaf
conf model
pool server
main process
"""


def tree(tmp_path, files, table=TABLE):
    src = tmp_path / "exporter"
    src.mkdir()
    (src / "LAYERS").write_text(table)
    for name, text in files.items():
        (src / name).write_text(text)
    return str(src)


def run(script, *args):
    p = subprocess.run([sys.executable, script, *args], capture_output=True,
                       text=True)
    return p.returncode, p.stderr + p.stdout


def test_downward_includes_pass(tmp_path):
    src = tree(tmp_path, {"sb.h": "", "conf.h": '#include "sb.h"\n',
                          "main.c": '#include "conf.h"\n#include "sb.h"\n'})
    assert run(LAYERS, src) == (0, "")


def test_an_upward_include_fails_with_its_place(tmp_path):
    src = tree(tmp_path, {"sb.h": "", "pool.h": "",
                          "conf.c": '#include "sb.h"\n#include "pool.h"\n'})
    rc, out = run(LAYERS, src)
    assert rc == 1
    assert f"{src}/conf.c:2: 'conf' (model) includes 'pool' (server), " \
        "upward" in out


def test_an_allowed_upward_include_is_a_warning(tmp_path):
    src = tree(tmp_path, {"pool.h": "", "conf.c": '#include "pool.h"\n'},
               TABLE + "allow conf -> pool  # moving, issue 11\n")
    rc, out = run(LAYERS, src)
    assert rc == 0
    assert out.startswith("warning: ") and "allowed: moving, issue 11" in out


def test_an_allow_that_matches_nothing_is_reported(tmp_path):
    src = tree(tmp_path, {"sb.h": ""}, TABLE + "allow conf -> pool  # gone\n")
    rc, out = run(LAYERS, src)
    assert rc == 0
    assert "'allow conf -> pool' matches no include here" in out


def test_a_cycle_fails_even_within_a_layer(tmp_path):
    src = tree(tmp_path, {"conf.h": '#include "pool.h"\n',
                          "pool.h": '#include "conf.h"\n'},
               "conf model\npool model\n")
    rc, out = run(LAYERS, src)
    assert rc == 1
    assert "include cycle: conf -> pool -> conf" in out


def test_a_module_missing_from_the_table_fails(tmp_path):
    src = tree(tmp_path, {"sb.h": "", "newthing.c": '#include "sb.h"\n'})
    rc, out = run(LAYERS, src)
    assert rc == 1
    assert "module 'newthing' is not in" in out


def test_a_glob_places_the_parts_of_a_concept(tmp_path):
    src = tree(tmp_path, {"sb.h": "", "conf_env.c": '#include "sb.h"\n'},
               "sb leaf\nconf* model\n")
    assert run(LAYERS, src)[0] == 0


def test_a_private_header_belongs_to_its_module(tmp_path):
    src = tree(tmp_path, {"conf.h": "", "conf_int.h": '#include "conf.h"\n',
                          "conf.c": '#include "conf_int.h"\n'},
               "conf model\n")
    assert run(LAYERS, src) == (0, "")


def function(name, body_lines):
    return f"static int\n{name}(int a,\n\tint b)\n{{\n" + \
        "\ta++;\n" * body_lines + "\treturn a;\n}\n\n"


def test_longest_functions_are_counted_from_their_signature(tmp_path):
    src = tree(tmp_path, {"a.c": "/* x */\n" + function("short_one", 3) +
                          function("long_one", 90)})
    rc, out = run(LONGEST, "-n", "2", src)
    assert rc == 0
    # signature (3 lines) + { + body + return + }
    assert out.splitlines() == [f"{src}/a.c:12: long_one: 96",
                                f"{src}/a.c:2: short_one: 9"]


def test_the_size_check_fails_unless_allowed(tmp_path):
    src = tree(tmp_path, {"a.c": function("long_one", 90) + "\n" * 800})
    allow = tmp_path / "allow"
    allow.write_text("")
    rc, out = run(LONGEST, "--check", "--allowlist", str(allow), src)
    assert rc == 1
    assert f"{src}/a.c:1: function 'long_one' is 96 lines" in out
    assert f"{src}/a.c: 897 lines (at most 800)" in out
    allow.write_text("# ok for now\na.c:long_one\na.c\nb.c:gone\n")
    rc, out = run(LONGEST, "--check", "--allowlist", str(allow), src)
    assert rc == 0
    assert "'b.c:gone' is within the limits now" in out


def test_the_real_tree_passes():
    assert run(LAYERS)[0] == 0
    assert run(LONGEST, "--check")[0] == 0
