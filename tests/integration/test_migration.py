"""Switching from postgres_exporter or pgbouncer_exporter in one step:
--extend.query-path adds to the query set as upstream's does; pg_up is the
engine's own, on every page, once; --compat (and the config's 'compat')
serve the peer's names, proven with the peer's own dashboard and alert
rules evaluated by a real Prometheus against postgres_exporter 0.11.1 and
pgpulse in the same run; password_command gets a fresh password at each
connect, bounded, without leaking descriptors or children; the README's
name map is generated from the query files."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import pgfix
from pgfix import wait_for

REPO = pgfix.REPO
PEERS = Path(__file__).parent / "data" / "peers"
PE_BIN = Path("/usr/bin/prometheus-postgres-exporter")

CUSTOM = """
pg_custom:
  query: "SELECT count(*) AS roles FROM pg_roles WHERE rolname LIKE 'pg\\\\_%'"
  metrics:
    - roles:
        usage: "GAUGE"
        description: "Built-in roles"
"""


def builtin_roles(pg):
    return pg.scalar(r"SELECT count(*) FROM pg_roles WHERE rolname LIKE 'pg\_%'")


# --- the query set ------------------------------------------------------------

@pytest.mark.parametrize("how", ["flag", "env"])
def test_extend_query_path_adds_to_the_default_set(pg, pgpulse, how):
    f = pgpulse.write("queries.yaml", CUSTOM)
    if how == "flag":
        p = pgpulse("--extend.query-path", f, queries=[])
    else:
        p = pgpulse(queries=[], env={"PG_EXPORTER_EXTEND_QUERY_PATH": f})
    page = p.scrape()
    assert page.sample("pg_custom_roles") == builtin_roles(pg)
    # the default set is all there, not replaced
    assert page.sample("pg_up") == 1
    for fam in ("pg_info", "pg_stat_database_xact_commit_total", "pg_locks",
                "pg_settings_value"):
        assert page.has(fam), fam
    failed = [s.labels["collector"] for s in page.samples("pgpulse_scrape_success")
              if s.value != 1]
    assert failed == [], failed


def test_queries_replaces_the_set_but_pg_up_and_self_metrics_stay(pg, pgpulse, promtool_check):
    f = pgpulse.write("queries.yaml", CUSTOM)
    page = pgpulse(queries=[f]).scrape()
    promtool_check(page)
    assert page.sample("pg_custom_roles") == builtin_roles(pg)
    assert page.sample("pg_up") == 1
    assert page.has("pgpulse_build_info")
    assert not page.has("pg_info") and not page.has("pg_locks")
    # the server down: pg_up 0, the self metrics still there
    down = pgpulse(queries=[f], dsn=f"postgresql://nobody@127.0.0.1:{pgfix.free_port()}/x"
                   "?connect_timeout=2").scrape()
    promtool_check(down)
    assert down.sample("pg_up") == 0
    assert down.has("pgpulse_build_info")
    assert not down.has("pg_custom_roles")


def test_a_file_defining_pg_up_is_served_once(pg, pgpulse, promtool_check):
    old = pgpulse.write("server-old.yaml", """
collectors:
  pg_up:
    help: An older server.yaml's pg_up.
    sql: SELECT 1 AS up
    metrics:
      up: {type: gauge, name: pg_up, error_value: 0}
""")
    page = pgpulse(queries=[old, REPO / "queries" / "server.yaml"]).scrape()
    promtool_check(page)
    assert len(page.samples("pg_up")) == 1 and page.sample("pg_up") == 1
    assert page.sample("pgpulse_scrape_success", collector="pg_up") == 1
    # and the shipped server.yaml no longer defines it: it comes from the engine
    assert "name: pg_up" not in (REPO / "queries" / "server.yaml").read_text()


def test_postgres_exporter_flags_without_meaning_are_ignored_with_a_warning(pg, pgpulse):
    p = pgpulse("--auto-discover-databases", "--exclude-databases=template1",
                "--disable-settings-metrics", "--no-collector.bgwriter",
                env={"PG_EXPORTER_CONSTANT_LABELS": "env=prod"})
    page = p.scrape()
    assert page.sample("pg_up") == 1
    assert page.has("pg_settings_value")  # nothing was disabled
    assert not any("env" in s.labels for s in page.samples("pg_up"))
    log = p.log_text()
    for opt in ("--auto-discover-databases", "--exclude-databases", "--disable-settings-metrics",
                "--no-collector.bgwriter", "PG_EXPORTER_CONSTANT_LABELS"):
        assert re.search(r'level=warn msg="a postgres_exporter option is ignored" option="?'
                         + re.escape(opt), log), (opt, log[-2000:])
    assert "template1" not in log  # options are named, not echoed
    # a flag whose meaning pgpulse cannot keep is refused, not ignored
    d = pgpulse("--web.telemetry-path=/pgmetrics", listen=False, wait=False)
    assert d.wait() != 0
    assert "unknown option" in d.log_text()


def test_unknown_compat_names_are_refused(pgpulse, tmp_path):
    d = pgpulse("--dry-run", "--offline", "--compat", "postgres_exportr", queries=[],
                listen=False, wait=False)
    assert d.wait() == 2 or d.wait() == 1
    assert "unknown --compat 'postgres_exportr'" in d.log_text(), d.log_text()
    bad = pgpulse.write("bad.yml", "compat: [postgres_exporter, pg_exporter]\n")
    d = pgpulse("--dry-run", "--offline", config=Path(bad), listen=False, wait=False)
    assert d.wait() == 1
    assert re.search(r"bad\.yml:1:9: error: unknown compat 'pg_exporter'", d.log_text()), \
        d.log_text()


# --- postgres_exporter: its mixin, evaluated against both ---------------------

def start_postgres_exporter(pg):
    pgfix.need(PE_BIN.exists(), f"{PE_BIN} (Debian prometheus-postgres-exporter)")
    port = pgfix.free_port()
    env = dict(os.environ, DATA_SOURCE_NAME=pg.dsn(style="kv", sslmode="disable"))
    proc = subprocess.Popen([str(PE_BIN), f"--web.listen-address=127.0.0.1:{port}",
                             "--log.level=warn"], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import requests
    s = requests.Session()
    s.trust_env = False

    def up():
        assert proc.poll() is None, "postgres_exporter exited"
        try:
            return s.get(f"http://127.0.0.1:{port}/metrics", timeout=2).status_code == 200
        except requests.RequestException:
            return False
    assert wait_for(up, timeout=20)
    return proc, port


GRAFANA_VARS = {"$__rate_interval": "1m", "$__interval": "15s", "$db": ".*",
                "$job": ".*", "$instance": ".*"}


def dashboard_exprs(path):
    """Every PromQL text of a Grafana dashboard: targets, then variables
    (label_values(sel, label) becomes count by (label) (sel))."""
    out = []

    def walk(o, key=None):
        if isinstance(o, dict):
            for k, v in o.items():
                walk(v, k)
        elif isinstance(o, list):
            for v in o:
                walk(v, key)
        elif key in ("expr", "query") and isinstance(o, str) and o != "prometheus":
            out.append(o)
    walk(json.loads(path.read_text()))
    exprs = []
    for e in out:
        for k, v in GRAFANA_VARS.items():
            e = e.replace(k, v)
        m = re.fullmatch(r"\s*label_values\((.*),\s*(\w+)\)\s*", e, re.S)
        if m:
            e = f"count by ({m.group(2)}) ({m.group(1)})"
        exprs.append(e)
    return list(dict.fromkeys(exprs))


def alert_exprs(path):
    """Each rule's expression, and its left side when it compares with a
    number (the data the threshold is applied to)."""
    import yaml
    exprs = []
    for g in yaml.safe_load(path.read_text())["groups"]:
        for r in g["rules"]:
            e = r["expr"].strip()
            exprs.append(e)
            m = re.fullmatch(r"(.*?)\s*(?:>=|<=|!=|==|>|<)\s*[0-9.][0-9.\s*]*", e, re.S)
            if m:
                exprs.append(m.group(1))
    return list(dict.fromkeys(exprs))


def selectors(expr):
    """The metric names an expression reads."""
    words = set(re.findall(r"\b(pg_[a-z0-9_]+)\b", expr))
    return sorted(words)


def test_compat_postgres_exporter_serves_the_mixin_like_0_11_1(pg, pgpulse, prometheus):
    pe, pe_port = start_postgres_exporter(pg)
    try:
        p = pgpulse("--compat", "postgres_exporter", queries=[],
                    dsn=pg.dsn(sslmode="disable"))
        theirs = prometheus([f"127.0.0.1:{pe_port}"], job="peer")
        ours = prometheus([f"{p.host}:{p.port}"], job="peer")
        # traffic, so that rates have something to show
        for _ in range(20):
            pg.psql("SELECT 1")
        theirs.wait_scraped(6, timeout=60)
        ours.wait_scraped(6, timeout=60)
        exprs = (dashboard_exprs(PEERS / "postgres_mixin" / "postgres-overview.json")
                 + alert_exprs(PEERS / "postgres_mixin" / "alerts.yaml"))
        exprs += [n for e in list(exprs) for n in selectors(e)]
        exprs = list(dict.fromkeys(exprs))
        assert len(exprs) > 30
        compared, skipped, missing = [], [], []
        for e in exprs:
            if not theirs.query(e):
                skipped.append(e)
                continue
            compared.append(e)
            if not ours.query(e):
                missing.append(e)
        print(f"\n{len(compared)} expressions with data from postgres_exporter 0.11.1; "
              f"{len(skipped)} without (skipped):\n  " + "\n  ".join(skipped))
        assert missing == [], missing
        # what matters most is there: the dashboard's panels and pg_up
        assert len(compared) >= 25, compared
        assert "pg_up" in compared
        # the same label sets for the plain selectors (minus the scrape's own)
        for name in {n for e in exprs for n in selectors(e)} & set(compared):
            def keys(prom):
                return {frozenset((k, v) for k, v in r["metric"].items()
                                  if k not in ("instance", "job"))
                        for r in prom.query(name)}
            if name in ("pg_stat_activity_max_tx_duration",):
                continue  # the exporters' own sessions come and go
            assert keys(ours) >= keys(theirs), name
    finally:
        pe.terminate()
        pe.wait(10)


def test_compat_postgres_exporter_replaces_database_yaml_only(pg, pgpulse):
    page = pgpulse(queries=[], env={"PGPULSE_COMPAT": "postgres_exporter"}).scrape()
    assert page.sample("pg_up") == 1
    assert page.has("pg_stat_database_xact_commit") and page.has("pg_static")
    assert not page.has("pg_stat_database_xact_commit_total")  # database.yaml's
    assert page.has("pg_info") and page.has("pg_connections_max")  # other defaults stay
    failed = [s.labels["collector"] for s in page.samples("pgpulse_scrape_success")
              if s.value != 1]
    assert failed == [], failed


# --- pgbouncer_exporter: its names, values from the console -------------------

def peer_pgbouncer_names(version):
    names = {}
    for line in (PEERS / "pgbouncer_exporter_metrics.txt").read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, since, _ = line.split(None, 2)
        if since == "-" or tuple(map(int, since.split("."))) <= version:
            names[name] = line
    return names


def test_compat_pgbouncer_exporter_serves_its_current_names(pgbouncer, pgpulse, promtool_check):
    import test_pgbouncer as tb
    pw = pgpulse.write("monitor.pw", pgfix.MONITOR_PASSWORD + "\n", mode=0o600)
    p = pgpulse(config=f"""
targets:
  - name: bouncer
    kind: pgbouncer
    url: postgresql://{pgfix.MONITOR_USER}@{pgbouncer.host}:{pgbouncer.port}/pgbouncer
    password_file: {pw}
compat: pgbouncer_exporter
""")
    console = tb.Console(pgbouncer)
    try:
        with pgbouncer.connect(dbname="postgres", user=pgfix.SUPERUSER) as c:
            for _ in range(5):
                c.execute("SELECT 1")
        p.scrape()
        version = console.show("VERSION")[0]["version"]
        ver = tuple(int(x) for x in re.search(r"(\d+)\.(\d+)", version).groups())
        before = {w: console.show(w) for w in ("POOLS", "LISTS", "STATS_TOTALS")}
        page = p.scrape()
        after = {w: console.show(w) for w in ("POOLS", "LISTS", "STATS_TOTALS")}
        promtool_check(page)
        want = peer_pgbouncer_names(ver)
        # SHOW CLIENTS counted by group is the one family left out (README)
        want.pop("pgbouncer_client_connections")
        names = {s.name for s in page.all_samples()}
        assert set(want) - names == set(), sorted(set(want) - names)
        # nothing of pgbouncer.yaml's older names
        assert not page.has("pgbouncer_stats_queries_pooled_total")
        assert not page.has("pgbouncer_lists_items")
        assert page.sample("pgbouncer_up") == 1
        assert tb.labels_of(page, "pgbouncer_version_info")["version"] == version
        # values: the console's, read around the scrape
        tb.check_pools({(r["database"], r["user"]): r for r in before["POOLS"]}, page,
                       {(r["database"], r["user"]): r for r in after["POOLS"]})
        lists = {"databases": "pgbouncer_databases", "users": "pgbouncer_users",
                 "pools": "pgbouncer_pools", "free_clients": "pgbouncer_free_clients",
                 "used_clients": "pgbouncer_used_clients",
                 "free_servers": "pgbouncer_free_servers",
                 "used_servers": "pgbouncer_used_servers",
                 "login_clients": "pgbouncer_login_clients"}
        lb = {r["list"]: r["items"] for r in before["LISTS"]}
        la = {r["list"]: r["items"] for r in after["LISTS"]}
        for col, name in lists.items():
            tb.between(page.sample(name), lb[col], la[col], name)
        sb = {r["database"]: r for r in before["STATS_TOTALS"]}
        sa = {r["database"]: r for r in after["STATS_TOTALS"]}
        for col, name, scale in (("query_count", "queries_pooled_total", 1),
                                 ("xact_count", "sql_transactions_pooled_total", 1),
                                 ("bytes_received", "received_bytes_total", 1),
                                 ("query_time", "queries_duration_seconds_total", 1e-6),
                                 ("wait_time", "client_wait_seconds_total", 1e-6)):
            for db in sb:
                tb.between(page.sample(f"pgbouncer_stats_totals_{name}", database=db),
                           sb[db][col], sa[db][col], f"{name}{{{db}}}", scale)
        assert page.sample("pgbouncer_stats_totals_queries_pooled_total",
                           database="postgres") >= 5
        cfg = {r["key"]: r["value"] for r in console.show("CONFIG")}
        assert page.sample("pgbouncer_config_max_client_connections") == \
            float(cfg["max_client_conn"])
        assert page.sample("pgbouncer_config_max_user_connections") == \
            float(cfg["max_user_connections"])
        for r in console.show("DATABASES"):
            lbl = tb.labels_of(page, "pgbouncer_databases_pool_size", name=r["name"])
            assert lbl["database"] == r["database"] and lbl["pool_mode"] == (r["pool_mode"] or "")
            assert page.sample("pgbouncer_databases_pool_size", name=r["name"]) == r["pool_size"]
            assert page.sample("pgbouncer_databases_reserve_pool", name=r["name"]) == \
                r.get("reserve_pool", r.get("reserve_pool_size"))
        fams = page.families
        assert fams["pgbouncer_stats_totals_queries_pooled"].type == "counter"
        assert fams["pgbouncer_databases"].type == "gauge"
    finally:
        console.close()


def test_pgbouncer_exporter_connection_string_is_a_pgbouncer_target(pgbouncer, pgpulse,
                                                                     promtool_check):
    dsn = pgbouncer.dsn()  # with the password: never to be echoed
    p = pgpulse("--compat", "pgbouncer_exporter", queries=[], dsn=None,
                env={"PGBOUNCER_EXPORTER_CONNECTION_STRING": dsn})
    page = p.scrape()
    promtool_check(page)
    assert page.sample("pgbouncer_up") == 1
    assert page.has("pgbouncer_pools_client_active_connections", database="pgbouncer")
    assert page.has("pgbouncer_stats_totals_queries_pooled_total")
    # the only target: no PostgreSQL one from libpq's defaults, no target label
    assert not page.has("pg_up")
    assert not any("target" in s.labels for s in page.samples("pgbouncer_up"))
    password = pgbouncer.users[pgfix.MONITOR_USER]
    assert password not in p.log_text()
    # beside DATA_SOURCE_NAME both are targets, told apart by their label
    both = pgpulse("--pgBouncer.connectionString", dsn, queries=[]).scrape()
    assert both.sample("pg_up", target="default") == 1
    assert both.sample("pgbouncer_up", target="pgbouncer") == 1
    # a bad string is named by its flag, not shown
    bad = pgpulse("--pgBouncer.connectionString", "host=x password=hunter2 bogus=1",
                  queries=[], dsn=None, listen=False, wait=False)
    assert bad.wait() != 0
    assert "--pgBouncer.connectionString: invalid connection string" in bad.log_text()
    assert "hunter2" not in bad.log_text()


# --- password_command -----------------------------------------------------------

TOKEN_SCRIPT = r'''
import os, subprocess, sys, time
d = sys.argv[1]
count = os.path.join(d, "count")
n = int(open(count).read()) + 1 if os.path.exists(count) else 1
open(count, "w").write(str(n))
fds = " ".join(sorted(os.listdir("/proc/self/fd")))
open(os.path.join(d, "fds"), "w").write(fds)
mode = open(os.path.join(d, "mode")).read().strip()
if mode == "fail":
    sys.stderr.write("vault: permission denied for token hvs.CAESIJ7xQ2mZr8uVtP4kWn\n")
    sys.exit(3)
if mode == "hang":
    # a grandchild holding the pipes open too: the whole group must go
    subprocess.Popen(["sleep", sys.argv[2]])
    time.sleep(float(sys.argv[2]))
password = open(os.path.join(d, "password")).read().strip()
sys.stderr.write("fetched a token for rotor: " + password + "\n")
print(password)
'''

ROLE = "rotor"


@pytest.fixture
def rotor(pg):
    pg.psql(f"DROP ROLE IF EXISTS {ROLE}")
    pg.psql(f"CREATE ROLE {ROLE} LOGIN PASSWORD 'rotating-secret-0001-aaaa' IN ROLE pg_monitor")
    yield ROLE
    pg.psql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{ROLE}'")
    pg.psql(f"DROP ROLE IF EXISTS {ROLE}")


class TokenDir:
    """The script's directory: what it prints and does, and how often it ran."""

    def __init__(self, pgpulse):
        self.script = pgpulse.write("token.py", TOKEN_SCRIPT, mode=0o755)
        self.dir = Path(self.script).parent / f"tok-{os.urandom(3).hex()}"
        self.dir.mkdir(mode=0o777)
        self.sleep = f"{60 + int.from_bytes(os.urandom(2), 'big') / 1e5:.5f}"
        self.set(mode="ok", password="rotating-secret-0001-aaaa")

    def set(self, **kv):
        for k, v in kv.items():
            (self.dir / k).write_text(v + "\n")

    def argv(self):
        return f"[{sys.executable}, {self.script}, {self.dir}, '{self.sleep}']"

    @property
    def calls(self):
        f = self.dir / "count"
        return int(f.read_text()) if f.exists() else 0


def token_config(pg, tok, extra=""):
    return f"""
targets:
  - name: main
    url: postgresql://{ROLE}@127.0.0.1:{pg.port}/postgres?sslmode=disable
    password_command: {tok.argv()}
queries: [{REPO / 'queries' / 'server.yaml'}]
limits: {{connect_timeout: 2s, scrape_timeout: 10s}}
{extra}"""


def children(pid):
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(d.name))
    return out


def test_password_command_runs_at_each_connect_and_follows_rotation(pg, rotor, pgpulse):
    tok = TokenDir(pgpulse)
    p = pgpulse(config=token_config(pg, tok))
    page = p.scrape()
    assert page.sample("pg_up", target="main") == 1
    first = tok.calls
    assert first >= 1
    # the program sees nothing of pgpulse's sockets and files: 0, 1, 2 and
    # the descriptor listing /proc/self/fd
    assert len(tok.dir.joinpath("fds").read_text().split()) <= 4, \
        tok.dir.joinpath("fds").read_text()
    # rotate: the server gets a new password, the old sessions are cut
    tok.set(password="rotating-secret-0002-bbbb")
    pg.psql(f"ALTER ROLE {ROLE} PASSWORD 'rotating-secret-0002-bbbb'")
    pg.psql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{ROLE}'")

    def up_again():
        return p.scrape().sample("pg_up", target="main") == 1 and tok.calls > first
    assert wait_for(up_again, timeout=30)
    assert pg.scalar(f"SELECT count(*) FROM pg_stat_activity WHERE usename = '{ROLE}'") >= 1
    # a session is reused across scrapes: no run per scrape
    calls = tok.calls
    for _ in range(3):
        assert p.scrape().sample("pg_up", target="main") == 1
    assert tok.calls == calls
    log = p.log_text()
    assert "rotating-secret" not in log, log[-3000:]
    assert "fetched a token for rotor: ***" in log, log[-3000:]
    assert not children(p.pid)


def test_password_command_failure_is_pg_up_0_with_a_clear_line(pg, rotor, pgpulse):
    tok = TokenDir(pgpulse)
    tok.set(mode="fail")
    p = pgpulse(config=token_config(pg, tok))
    page = p.scrape()
    assert page.sample("pg_up", target="main") == 0
    log = p.log_text()
    assert re.search(r"password_command '[^']*python3[^']*' failed with exit status 3", log), \
        log[-3000:]
    assert "vault: permission denied for token ***" in log, log[-3000:]
    assert "CAESIJ7xQ2mZr8uVtP4kWn" not in log
    # nothing is left behind, scrape after scrape (connects are retried
    # with a backoff, so not each scrape runs it)
    fds = len(os.listdir(f"/proc/{p.pid}/fd"))
    for _ in range(5):
        assert p.scrape().sample("pg_up", target="main") == 0
    assert len(os.listdir(f"/proc/{p.pid}/fd")) <= fds + 2
    assert not children(p.pid)
    # fixed: up again with no restart, the command run again
    calls = tok.calls
    tok.set(mode="ok")
    assert wait_for(lambda: p.scrape().sample("pg_up", target="main") == 1, timeout=60)
    assert tok.calls > calls


def test_password_command_that_hangs_is_killed_with_its_children(pg, rotor, pgpulse):
    tok = TokenDir(pgpulse)
    tok.set(mode="hang")
    p = pgpulse(config=token_config(pg, tok))
    t0 = time.monotonic()
    page = p.scrape()
    took = time.monotonic() - t0
    assert page.sample("pg_up", target="main") == 0
    assert took < 30, took  # connect_timeout 2s, scrape_timeout 10s; the script sleeps 60
    assert "timed out after" in p.log_text(), p.log_text()[-3000:]

    def gone():
        for d in Path("/proc").iterdir():
            if d.name.isdigit():
                try:
                    if tok.sleep.encode() in (d / "cmdline").read_bytes():
                        return False
                except OSError:
                    pass
        return not children(p.pid)
    assert wait_for(gone, timeout=10), "the command or its child outlived the timeout"


def test_auth_module_password_command_for_probe_targets(pg, rotor, pgpulse):
    tok = TokenDir(pgpulse)
    p = pgpulse(config=f"""
targets: []
queries: [{REPO / 'queries' / 'server.yaml'}]
probe: {{allow: ['127\\.0\\.0\\.1:{pg.port}']}}
auth_modules:
  vault:
    type: userpass
    userpass: {{username: {ROLE}, password_command: {tok.argv()}}}
    options: {{sslmode: disable}}
""")
    page = p.scrape(f"/probe?auth_module=vault&target=127.0.0.1:{pg.port}")
    assert page.sample("pg_up") == 1
    assert tok.calls >= 1


def test_password_command_must_be_a_list(pgpulse):
    bad = pgpulse.write("bad.yml", """targets:
  - name: main
    url: postgresql://x@127.0.0.1:5432/postgres
    password_command: vault read -field=password secret/pg
""")
    d = pgpulse("--dry-run", "--offline", config=Path(bad), listen=False, wait=False)
    assert d.wait() == 1
    assert re.search(r"bad\.yml:4:23: error: target 'main': 'password_command' must be a list",
                     d.log_text()), d.log_text()


# --- the README's name map ---------------------------------------------------

def test_readme_name_map_is_generated_from_the_query_files():
    r = subprocess.run([sys.executable, str(REPO / "scripts" / "compat-map"), "--check",
                        str(REPO / "README.md")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    table = subprocess.run([sys.executable, str(REPO / "scripts" / "compat-map")],
                           capture_output=True, text=True, check=True).stdout
    rows = [l for l in table.splitlines()
            if l.startswith(("| postgres_exporter", "| pgbouncer_exporter"))]
    # every compat metric has its row, and the known counterparts are found
    assert "| postgres_exporter | `pg_stat_database_xact_commit` | " \
           "`pg_stat_database_xact_commit_total` |" in rows
    assert "| pgbouncer_exporter | `pgbouncer_stats_totals_queries_pooled_total` | " \
           "`pgbouncer_stats_queries_pooled_total` |" in rows
    assert '| pgbouncer_exporter | `pgbouncer_databases` | ' \
           '`pgbouncer_lists_items{list="databases"}` |' in rows
    names = {l.split("`")[1] for l in rows}
    peer = {l.split()[0] for l in (PEERS / "pgbouncer_exporter_metrics.txt").read_text()
            .splitlines() if l and not l.startswith("#")}
    assert peer - names <= {"pgbouncer_up", "pgbouncer_client_connections"}, peer - names
    # and a stale table is caught
    stale = Path(pgfix.REPO / "README.md").read_text().replace(
        "`pg_stat_database_xact_commit_total`", "`pg_stat_database_commits_total`", 1)
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"readme-{os.urandom(3).hex()}.md"
    tmp.write_text(stale)
    try:
        r = subprocess.run([sys.executable, str(REPO / "scripts" / "compat-map"), "--check",
                            str(tmp)], capture_output=True, text=True)
        assert r.returncode == 1 and "stale" in r.stderr, r.stderr
    finally:
        tmp.unlink()
