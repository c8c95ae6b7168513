"""pgpulse --dry-run against a real PostgreSQL 15 (and pgbouncer): every
problem reported at its file:line:column, queries run read-only and rolled
back, results checked against their declaration, the exit status CI needs."""

import json
import re
import time

import pgfix

REPO_QUERIES = pgfix.REPO / "queries"


class Run:
    def __init__(self, rc, out, err, seconds):
        self.rc, self.out, self.err, self.seconds = rc, out, err, seconds

    def diags(self):
        """file:line:col: severity: message lines of stderr."""
        return [l for l in self.err.splitlines() if re.match(r"^\S+:\d+(:\d+)?: (error|warning): ", l)]

    def row(self, collector, target="default"):
        """The table row of a collector as {column: cell}."""
        lines = [l for l in self.out.splitlines() if l.strip()]
        head = next(l for l in lines if l.startswith("COLLECTOR"))
        names = head.split()
        for l in lines[lines.index(head) + 1:]:
            cells = l.split(None, 7)
            if cells[0] == collector and cells[1] == target:
                return dict(zip(names, cells + [""] * (8 - len(cells))))
        raise AssertionError(f"no row for {collector} on {target}:\n{self.out}")


def dry(pgpulse, *args, queries=None, **kw):
    """Run pgpulse --dry-run to completion."""
    start = time.monotonic()
    p = pgpulse("--dry-run", *args, listen=False, wait=False,
                queries=[str(q) for q in queries] if queries is not None else pgfix.DEFAULT, **kw)
    rc = p.wait(120)
    return Run(rc, p.stdout_text(), p.stderr_text(), time.monotonic() - start)


def write(pgpulse, name, text):
    return pgpulse.write(name, text)


def collector_names(run_json):
    return [c["collector"] for c in run_json["collectors"]]


# --- a valid set ------------------------------------------------------------

def test_valid_set_passes_and_lists_every_collector(pg, pgpulse):
    offline = dry(pgpulse, "--offline", "--output", "json")
    assert offline.rc == 0, offline.err
    names = collector_names(json.loads(offline.out))
    assert len(names) >= 3 and "pg_up" in names and "pg_database" in names

    r = dry(pgpulse)
    assert r.rc == 0, r.err
    assert r.err.splitlines()[-1] == f"{len(names)} collectors, 1 target: 0 errors, 0 warnings"
    for n in names:
        if n.startswith("pgbouncer"):
            continue  # kind: pgbouncer, no row for a PostgreSQL target
        assert r.row(n)["STATUS"] in ("ok", "skipped"), r.row(n)
    # the rows are what PostgreSQL returns to the same role
    dbs = pg.scalar("SELECT count(*) FROM pg_database WHERE datallowconn "
                    "AND has_database_privilege(oid, 'CONNECT')", user="monitor")
    assert r.row("pg_database")["ROWS"] == str(dbs)
    assert r.row("pg_up") == {"COLLECTOR": "pg_up", "TARGET": "default", "STATUS": "ok",
                              "VARIANT": "1/1", "TIME": r.row("pg_up")["TIME"], "ROWS": "1",
                              "SERIES": "1", "NOTE": ""}
    version = pg.scalar("SHOW server_version_num")
    assert "target 'default' (postgres): PostgreSQL " in r.out
    assert f"({version})" in r.out


# --- files --------------------------------------------------------------------

def test_yaml_syntax_error_is_reported_at_its_position(pgpulse):
    q = write(pgpulse, "syntax.yaml",
              "collectors:\n"
              "  a:\n"
              "    sql: SELECT 1 AS v\n"
              "    metrics: {v: gauge\n"
              "  b:\n")
    r = dry(pgpulse, "--offline", queries=[q], dsn=None)
    assert r.rc == 1
    d = r.diags()
    assert len(d) == 1 and d[0].startswith(f"{q}:5:4: error: "), r.err
    assert r.err.splitlines()[-1].endswith(": 1 error, 0 warnings")


def test_schema_errors_are_all_reported_at_exact_positions(pgpulse):
    q = write(pgpulse, "schema.yaml",
              "collectors:\n"
              "  first:\n"
              "    sql: SELECT 1 AS v\n"
              "    ttl: soon\n"
              "    metrics:\n"
              "      v: {type: gauge, name: dr_first}\n"
              "  second:\n"
              "    sqll: SELECT 1 AS v\n"
              "    metrics:\n"
              "      v: gauge\n")
    r = dry(pgpulse, "--offline", queries=[q], dsn=None)
    assert r.rc == 1
    assert r.diags() == [
        f"{q}:2:3: error: collector 'first': missing 'help'",
        f"{q}:4:10: error: collector 'first': 'ttl' must be a duration such as 250ms, 30s, 5m, "
        "1h or 1d, not 'soon'",
        f"{q}:7:3: error: collector 'second': missing 'help'",
        f"{q}:7:3: error: collector 'second': missing 'sql' (or 'variants')",
        f"{q}:8:5: error: collector 'second': unknown key 'sqll' (did you mean 'sql'?)",
    ]
    assert r.err.splitlines()[-1] == \
        "2 collectors, 0 targets (offline: files only): 5 errors, 0 warnings"  # pg_up, pgbouncer_up


def test_several_statements_are_rejected_before_connecting(pgpulse):
    q = write(pgpulse, "two.yaml",
              "collectors:\n"
              "  two:\n"
              "    help: Two statements.\n"
              "    sql: |\n"
              "      SELECT 1 AS v;\n"
              "        DELETE FROM nothing\n"
              "    metrics:\n"
              "      v: {type: gauge, name: dr_two, help: x}\n")
    r = dry(pgpulse, "--offline", queries=[q], dsn=None)
    assert r.rc == 1
    assert r.diags() == [f"{q}:6:9: error: collector 'two': the sql holds more than one "
                         "statement (the second starts here); a collector runs exactly one query"]


def test_offline_needs_no_server(pgpulse):
    port = pgfix.free_port()
    r = dry(pgpulse, "--offline", dsn=f"postgresql://monitor@127.0.0.1:{port}/postgres")
    assert r.rc == 0, r.err
    assert "offline" in r.err.splitlines()[-1]
    assert "TARGET" in r.out and " - " in r.out


# --- SQL run on the server ----------------------------------------------------

SQL_ERROR = """\
collectors:
  typo:
    help: A misspelt column.
    sql: |
      SELECT datname,
             numbakends AS n
      FROM pg_stat_database
    metrics:
      datname: label
      n: {type: gauge, name: dr_typo, help: x}
"""


def test_sql_error_gives_postgresqls_message_at_the_files_line(pg, pgpulse):
    q = write(pgpulse, "typo.yaml", SQL_ERROR)
    r = dry(pgpulse, queries=[q])
    assert r.rc == 1
    d = r.diags()
    assert len(d) == 1
    assert d[0].startswith(f"{q}:6:14: error: collector 'typo': target 'default': "
                           "column \"numbakends\" does not exist (SQLSTATE 42703); hint: "), d
    assert r.row("typo")["STATUS"] == "error"


def test_writes_are_rejected_and_change_nothing_even_as_superuser(pg, pgpulse):
    pg.psql("DROP TABLE IF EXISTS dr_victim; CREATE TABLE dr_victim (id int); "
            "INSERT INTO dr_victim VALUES (1), (2), (3); "
            "DROP SEQUENCE IF EXISTS dr_seq; CREATE SEQUENCE dr_seq")
    q = write(pgpulse, "writes.yaml",
              "collectors:\n"
              "  deleter:\n"
              "    help: Deletes.\n"
              "    sql: DELETE FROM dr_victim RETURNING id\n"
              "    metrics:\n"
              "      id: {type: gauge, name: dr_deleter, help: x}\n"
              "  sequencer:\n"
              "    help: Takes a sequence value.\n"
              "    sql: SELECT nextval('dr_seq') AS v\n"
              "    metrics:\n"
              "      v: {type: gauge, name: dr_seq_value, help: x}\n"
              "  creator:\n"
              "    help: DDL.\n"
              "    sql: CREATE TABLE dr_new AS SELECT 1 AS v\n"
              "    metrics:\n"
              "      v: {type: gauge, name: dr_creator, help: x}\n"
              "  vacuumer:\n"
              "    help: Cannot run in a transaction.\n"
              "    sql: VACUUM dr_victim\n"
              "    metrics:\n"
              "      v: {type: gauge, name: dr_vacuumer, help: x}\n"
              "  killer:\n"
              "    help: Acts outside the transaction.\n"
              "    sql: SELECT pg_terminate_backend(pid) AS v FROM pg_stat_activity\n"
              "    metrics:\n"
              "      v: {type: gauge, name: dr_killer, help: x}\n")
    bystander = pg.connect()
    try:
        r = dry(pgpulse, queries=[q], dsn=pg.dsn(user="postgres"))
        assert f"{q}:24:17: error: collector 'killer': calls pg_terminate_backend(), which " \
               "acts outside the transaction: a read-only transaction does not refuse it and " \
               "a rollback cannot undo it; collectors must only read" in r.diags()
        assert bystander.execute("SELECT 1").fetchone() == (1,)
        assert r.rc == 1
        d = r.diags()
        assert f"{q}:4:10: error: collector 'deleter': target 'default': the query tries to " \
               "write: cannot execute DELETE in a read-only transaction; collectors must only " \
               "read (it ran read-only and was rolled back: nothing changed)" in d
        assert any(l.startswith(f"{q}:9:10: error: collector 'sequencer': target 'default': "
                                "the query tries to write: cannot execute nextval()") for l in d)
        assert any(l.startswith(f"{q}:14:10: error: collector 'creator': target 'default': "
                                "the query tries to write: cannot execute CREATE TABLE AS")
                   for l in d), d
        assert any(l.startswith(f"{q}:19:10: error: collector 'vacuumer': target 'default': "
                                "VACUUM cannot run inside a transaction block") for l in d), d
        for c in ("deleter", "sequencer", "creator", "vacuumer", "killer"):
            assert r.row(c)["STATUS"] == "error"
        # nothing changed
        assert pg.psql("SELECT id FROM dr_victim ORDER BY id") == [(1,), (2,), (3,)]
        assert pg.psql("SELECT last_value, is_called FROM dr_seq") == [(1, False)]
        assert pg.scalar("SELECT to_regclass('dr_new')") is None
    finally:
        bystander.close()
        pg.psql("DROP TABLE IF EXISTS dr_victim; DROP SEQUENCE IF EXISTS dr_seq")


def test_a_query_slower_than_its_timeout_is_reported_as_such(pg, pgpulse):
    q = write(pgpulse, "slow.yaml",
              "collectors:\n"
              "  slow:\n"
              "    help: Sleeps.\n"
              "    timeout: 300ms\n"
              "    sql: SELECT 1 AS v FROM pg_sleep(3)\n"
              "    metrics:\n"
              "      v: {type: gauge, name: dr_slow, help: x}\n")
    r = dry(pgpulse, queries=[q])
    assert r.rc == 1
    assert r.seconds < 3, "the query was not canceled at its timeout"
    d = r.diags()
    assert len(d) == 1 and d[0].startswith(
        f"{q}:5:10: error: collector 'slow': target 'default': slower than its timeout of "
        "0.3s: canceled after 0.3"), d
    row = r.row("slow")
    assert row["STATUS"] == "timeout" and row["NOTE"] == "slower than 0.3s"
    assert 300 <= float(row["TIME"].rstrip("ms")) < 2000


GATES = """\
collectors:
  needs_ext:
    help: Needs an extension that is not installed.
    requires: [pg_buffercache]
    sql: SELECT count(*) AS v FROM pg_buffercache
    metrics:
      v: {type: gauge, name: dr_buffers, help: x}
  future:
    help: Only from PostgreSQL 17.
    min_version: 170000
    sql: SELECT 1 AS v
    metrics:
      v: {type: gauge, name: dr_future, help: x}
  picked:
    help: Two variants.
    variants:
      - min_version: 160000
        sql: SELECT 16 AS v
      - max_version: 160000
        sql: SELECT 15 AS v
    metrics:
      v: {type: gauge, name: dr_picked, help: x}
"""


def test_missing_extension_and_version_gates(pg, pgpulse):
    assert pg.scalar("SELECT count(*) FROM pg_extension WHERE extname = 'pg_buffercache'") == 0
    q = write(pgpulse, "gates.yaml", GATES)
    r = dry(pgpulse, "--show-metrics", queries=[q])
    assert r.rc == 0, r.err  # warnings only
    assert r.diags() == [
        f"{q}:2:3: warning: collector 'needs_ext': target 'default': requires extension "
        "'pg_buffercache', which is not installed in database 'postgres'; the collector is "
        "skipped there (fix: CREATE EXTENSION pg_buffercache)"]
    assert r.row("needs_ext")["STATUS"] == "skipped"
    future = r.row("future")
    assert future["STATUS"] == "skipped"
    assert future["NOTE"] == f"version: no variant for {pg.version_num}"
    picked = r.row("picked")
    assert picked["STATUS"] == "ok" and picked["VARIANT"] == "2/2"
    # --show-metrics: the series the variant that ran produces
    assert "\ndr_picked 15\n" in r.out
    assert "dr_future" not in r.out.split("COLLECTOR")[1].split("\n\n", 1)[1]


COPY_AND_SETTING = """collectors:
  copier:
    help: COPY sends no rows the engine can read.
    sql: COPY (SELECT 1 AS v) TO STDOUT
    metrics:
      v: gauge
  unset:
    help: Needs a setting the server does not have.
    requires: ['setting:pgpulse.no_such_setting']
    sql: SELECT 1 AS v
    metrics:
      v: gauge
  after:
    help: Runs after both.
    sql: SELECT 6 AS v
    metrics:
      v: gauge
"""


def test_copy_fails_alone_and_settings_gate_as_in_the_daemon(pg, pgpulse):
    q = write(pgpulse, "copy.yaml", COPY_AND_SETTING)
    r = dry(pgpulse, "--show-metrics", queries=[q])
    assert r.rc == 1, r.err
    assert r.diags() == [
        f"{q}:4:10: error: collector 'copier': target 'default': "
        "COPY is not a query pgpulse can run",
        f"{q}:7:3: warning: collector 'unset': target 'default': requires "
        "setting:pgpulse.no_such_setting, which the server does not have; the "
        "collector is skipped there"], r.err
    assert r.row("copier")["STATUS"] == "error"
    assert r.row("unset")["STATUS"] == "skipped"
    # the session COPY left unusable is replaced: the next one runs
    assert r.row("after")["STATUS"] == "ok"
    assert "\nafter_v 6\n" in r.out
    assert r.seconds < 30


def test_undeclared_missing_and_non_numeric_columns(pg, pgpulse):
    q = write(pgpulse, "columns.yaml",
              "collectors:\n"
              "  cols:\n"
              "    help: Column problems.\n"
              "    sql: |\n"
              "      SELECT datname, datname::text AS word, oid AS extra\n"
              "      FROM pg_database\n"
              "    metrics:\n"
              "      datname: label\n"
              "      word: {type: gauge, name: dr_word, help: x}\n"
              "      absent: {type: gauge, name: dr_absent, help: x}\n")
    r = dry(pgpulse, queries=[q])
    assert r.rc == 1
    first_db = pg.psql("SELECT datname FROM pg_database LIMIT 1")[0][0]
    assert r.diags() == [
        f"{q}:5:7: warning: collector 'cols': target 'default': column 'extra' is returned but "
        "not declared in 'metrics' (declare it, as a label or 'discard', or leave it out of the "
        "query)",
        f"{q}:9:7: error: collector 'cols': target 'default': column 'word' is not numeric: "
        f"row 1 holds '{first_db}' (use it as a label, or map its values with 'values')",
        f"{q}:10:7: error: collector 'cols': target 'default': column 'absent' is declared but "
        "the query does not return it",
    ]
    dbs = pg.scalar("SELECT count(*) FROM pg_database")
    assert r.row("cols")["ROWS"] == str(dbs)


def test_missing_privilege_is_reported_with_the_grant_that_fixes_it(pg, pgpulse):
    pg.psql("DROP ROLE IF EXISTS dr_plain; CREATE ROLE dr_plain LOGIN PASSWORD 'plain-pw'")
    q = write(pgpulse, "priv.yaml",
              "collectors:\n"
              "  wal:\n"
              "    help: WAL files.\n"
              "    sql: SELECT count(*) AS files FROM pg_ls_waldir()\n"
              "    metrics:\n"
              "      files: {type: gauge, name: dr_wal_files, help: x}\n")
    dsn = pg.dsn(user="dr_plain", password="plain-pw")
    try:
        r = dry(pgpulse, queries=[q], dsn=dsn)
        assert r.rc == 1
        assert r.diags() == [
            f"{q}:4:40: error: collector 'wal': target 'default': role dr_plain may not "
            "execute pg_ls_waldir() (fix: GRANT pg_monitor TO dr_plain)"]
        assert r.row("wal")["STATUS"] == "error" and r.row("wal")["NOTE"] == "privileges"
        # the fix given is the fix
        pg.psql("GRANT pg_monitor TO dr_plain")
        r = dry(pgpulse, queries=[q], dsn=dsn)
        assert r.rc == 0, r.err
        assert r.row("wal")["STATUS"] == "ok" and r.row("wal")["ROWS"] == "1"
    finally:
        pg.psql("DROP ROLE IF EXISTS dr_plain")


def test_json_output_for_ci(pg, pgpulse):
    q = write(pgpulse, "mixed.yaml", SQL_ERROR + GATES.replace("collectors:\n", ""))
    r = dry(pgpulse, "--output", "json", queries=[q])
    assert r.rc == 1
    doc = json.loads(r.out)
    assert doc["errors"] == 1 and doc["warnings"] == 1 and doc["offline"] is False
    assert doc["targets"] == [{"name": "default", "kind": "postgres",
                               "version": doc["targets"][0]["version"],
                               "version_num": pg.version_num, "error": None}]
    assert doc["diagnostics"][0]["file"] == str(q)
    assert (doc["diagnostics"][0]["line"], doc["diagnostics"][0]["column"]) == (6, 14)
    assert doc["diagnostics"][0]["severity"] == "error"
    by = {c["collector"]: c for c in doc["collectors"]}
    assert set(by) == {"typo", "needs_ext", "future", "picked", "pg_up"}  # pg_up: built in
    assert by["typo"]["status"] == "error"
    assert by["picked"]["status"] == "ok" and by["picked"]["variant"] == 2
    assert by["picked"]["rows"] == 1 and by["picked"]["series"] == 1
    assert by["future"]["status"] == "skipped" and by["future"]["rows"] is None


def test_label_cardinality_and_max_series(pg, pgpulse):
    q = write(pgpulse, "many.yaml",
              "collectors:\n"
              "  many:\n"
              "    help: Many series.\n"
              "    max_series: 5\n"
              "    sql: SELECT g::text AS n, g % 3 AS k, 1 AS v FROM generate_series(1, 8) g\n"
              "    metrics:\n"
              "      n: label\n"
              "      k: label\n"
              "      v: {type: gauge, name: dr_many, help: x}\n")
    r = dry(pgpulse, "--output", "json", queries=[q])
    assert r.rc == 0, r.err
    doc = json.loads(r.out)
    many = doc["collectors"][0]
    assert many["labels"] == {"n": 8, "k": 3}
    assert many["series"] == 8 and many["max_series"] == 5
    assert doc["diagnostics"][0]["message"] == (
        "collector 'many': target 'default': produces 8 series, more than max_series (5): "
        "the exporter would drop 3 of them")


# --- pgbouncer ----------------------------------------------------------------

def test_pgbouncer_targets_run_show_commands_only(pg, pgbouncer, pgpulse):
    q = write(pgpulse, "bouncer.yaml",
              "collectors:\n"
              "  pools:\n"
              "    help: Pools.\n"
              "    kind: pgbouncer\n"
              "    sql: SHOW POOLS\n"
              "    metrics:\n"
              "      database: label\n"
              "      user: label\n"
              "      cl_active: {type: gauge, name: dr_cl_active, help: x}\n"
              "  pause:\n"
              "    help: Not a SHOW.\n"
              "    kind: pgbouncer\n"
              "    sql: PAUSE\n"
              "    metrics:\n"
              "      v: {type: gauge, name: dr_pause, help: x}\n")
    # as an admin, whom the console would obey: only the check stops PAUSE
    admin = pgfix.SUPERUSER
    cfg = ("targets:\n"
           f"  - name: bouncer\n    kind: pgbouncer\n"
           f"    url: {pgbouncer.dsn(user=admin, password=None)}\n"
           "    password_env: DR_BOUNCER_PW\n"
           f"queries: [{q}]\n")
    r = dry(pgpulse, config=cfg, env={"DR_BOUNCER_PW": pgbouncer.users[admin]})
    assert r.rc == 1
    assert r.diags() == [
        f"{q}:13:10: error: collector 'pause': pgbouncer collectors may run SHOW commands only "
        "(the console would run anything else, such as PAUSE or SHUTDOWN)"]
    assert r.row("pools", "bouncer")["STATUS"] == "ok"
    pools = pgbouncer.show("POOLS")
    assert r.row("pools", "bouncer")["ROWS"] == str(len(pools))
    assert r.row("pause", "bouncer")["STATUS"] == "error"
    dbs = pgbouncer.show("DATABASES")
    assert dbs and all(int(d["paused"]) == 0 for d in dbs), dbs
