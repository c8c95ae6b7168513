"""The fixtures themselves: if these fail, every other integration test is
suspect. No pgpulse features are tested here."""

import os
import sys
import textwrap

import pytest

import pgfix


def owner_uid(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Uid:"):
                return int(line.split()[1])
    raise AssertionError("no Uid line")


# --- PostgreSQL -------------------------------------------------------------

def test_pg_is_postgresql_15_with_test_settings(pg):
    assert 150000 <= pg.version_num < 160000
    settings = dict(pg.psql("SELECT name, setting FROM pg_settings WHERE name = ANY(%s)",
                            (["shared_preload_libraries", "pg_stat_statements.track",
                              "track_io_timing", "log_connections", "fsync", "port",
                              "listen_addresses", "unix_socket_directories"],)))
    assert settings["shared_preload_libraries"] == "pg_stat_statements"
    assert settings["pg_stat_statements.track"] == "all"
    assert settings["track_io_timing"] == "on"
    assert settings["log_connections"] == "on"
    assert settings["fsync"] == "off"
    assert settings["listen_addresses"] == "127.0.0.1"
    assert int(settings["port"]) == pg.port
    assert settings["unix_socket_directories"] == str(pg.sockdir)
    assert pgfix.port_open("127.0.0.1", pg.port)


def test_pg_runs_unprivileged_from_debian_binaries(pg):
    pid = pg.postmaster_pid
    assert os.readlink(f"/proc/{pid}/exe") == str(pgfix.PG_BIN / "postgres")
    assert owner_uid(pid) != 0
    assert owner_uid(pid) == os.stat(pg.datadir).st_uid


def test_pg_stat_statements_works(pg):
    marker = f"fixture_marker_{os.getpid()}"
    pg.psql(f"SELECT 1 AS {marker}")
    rows = pg.psql("SELECT calls FROM pg_stat_statements WHERE query LIKE %s",
                   (f"%{marker}%",))
    assert rows and rows[0][0] >= 1


def test_monitor_role(pg):
    assert pg.scalar("SELECT pg_has_role('monitor', 'pg_monitor', 'member')") is True
    assert pg.scalar("SELECT rolsuper FROM pg_roles WHERE rolname = 'monitor'") is False
    # over TCP with its password, and through the DSN pgpulse would get
    with pg.connect(user="monitor") as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == "monitor"
        # pg_monitor gives it pg_stat_statements of everybody
        assert conn.execute("SELECT count(*) FROM pg_stat_statements").fetchone()[0] > 0
    import psycopg
    with psycopg.connect(pg.dsn(), connect_timeout=5) as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == "monitor"
    with psycopg.connect(pg.dsn(via="socket", style="kv", application_name="x y"),
                         connect_timeout=5) as conn:
        assert conn.execute("SHOW application_name").fetchone()[0] == "x y"
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        pg.connect(user="monitor", password="wrong").close()


def test_connections_are_logged(pg):
    mark = pg.log_mark()
    with pg.connect(user="monitor", application_name="fixture-probe"):
        pass
    conns = pg.connections_since(mark, user="monitor")
    assert len(conns) == 1, conns
    c = conns[0]
    assert (c["database"], c["application_name"], c["host"]) == \
        ("postgres", "fixture-probe", "127.0.0.1")


def test_psql_helper(pg):
    assert pg.psql("CREATE TEMP TABLE t (a int); INSERT INTO t VALUES (1), (2); "
                   "SELECT a FROM t ORDER BY a") == [(1,), (2,)]
    assert pg.psql("SELECT %s::int + 1", (41,)) == [(42,)]
    assert pg.psql("SET work_mem = '8MB'") == []


def test_stop_and_start(pg):
    import psycopg
    port = pg.port
    with pg.stopped():
        assert not pg.running
        with pytest.raises(psycopg.OperationalError):
            pg.connect(user="monitor", connect_timeout=2).close()
    assert pg.running and pg.port == port
    assert pg.scalar("SELECT 1") == 1


def test_replica_streams(pg, replica):
    assert replica.scalar("SELECT pg_is_in_recovery()") is True
    assert pg.scalar("SELECT pg_is_in_recovery()") is False
    pg.psql("CREATE TABLE IF NOT EXISTS fixture_repl (a int); INSERT INTO fixture_repl VALUES (7)")
    replica.catch_up()
    assert replica.scalar("SELECT count(*) FROM fixture_repl WHERE a = 7") >= 1
    assert replica.psql("SELECT 1", user="monitor") == [(1,)]
    pg.psql("DROP TABLE fixture_repl")


def test_pg_factory_gives_a_separate_cluster(pg, pg_factory):
    other = pg_factory(settings={"max_connections": 12})
    assert other.port != pg.port
    assert other.scalar("SHOW max_connections") == "12"
    assert other.scalar("SELECT pg_has_role('monitor', 'pg_monitor', 'member')") is True


# --- pgbouncer --------------------------------------------------------------

def test_pgbouncer_console_as_monitor(pgbouncer):
    pools = pgbouncer.show("POOLS")
    assert isinstance(pools, list)
    config = {r["key"]: r["value"] for r in pgbouncer.show("CONFIG")}
    assert config["pool_mode"] == "transaction"
    assert config["default_pool_size"] == "2"
    assert config["stats_users"] == "monitor"
    assert pgbouncer.show("VERSION")[0]["version"].startswith("PgBouncer 1.18")
    assert owner_uid(pgbouncer.proc.pid) != 0 or not pgfix.is_root()


def test_pgbouncer_pools_a_real_database(pgbouncer, pg):
    with pgbouncer.connect(dbname="postgres") as conn:
        assert conn.execute("SELECT current_user, current_database()").fetchone() == \
            ("monitor", "postgres")
    pools = {(p["database"], p["user"]): p for p in pgbouncer.show("POOLS")}
    assert ("postgres", "monitor") in pools
    assert pools[("postgres", "monitor")]["pool_mode"] == "transaction"


def test_pgbouncer_rejects_a_wrong_password(pgbouncer):
    import psycopg
    with pytest.raises(psycopg.OperationalError):
        pgbouncer.connect(password="wrong").close()


def test_pgbouncer_admin_console_refuses_writes_for_stats_users(pgbouncer):
    import psycopg
    with pgbouncer.connect() as conn:
        with pytest.raises(psycopg.Error, match="admin access needed|not allowed"):
            conn.execute("RELOAD")
    with pgbouncer.connect(user="postgres") as conn:
        conn.execute("RELOAD")


# --- promtool and the page parser ------------------------------------------

GOOD_PAGE = textwrap.dedent("""\
    # HELP pg_up Whether the last scrape could connect.
    # TYPE pg_up gauge
    pg_up 1
    # HELP pg_stat_database_xact_commit_total Transactions committed.
    # TYPE pg_stat_database_xact_commit_total counter
    pg_stat_database_xact_commit_total{datname="postgres"} 12
    pg_stat_database_xact_commit_total{datname="we\\"ird\\\\na\\nme"} 3
    """)


def test_promtool_accepts_a_good_page(promtool_check):
    promtool_check(GOOD_PAGE)


@pytest.mark.parametrize("bad", [
    "# TYPE foo counter\nfoo 1\n",                      # lint: counter without _total, no HELP
    "# HELP x_seconds s.\n# TYPE x_seconds gauge\nx_seconds{a=\"1\" 2\n",  # parse error
])
def test_promtool_rejects_a_bad_page(promtool_check, promtool_lint, bad):
    rc, out = promtool_lint(bad)
    assert out
    with pytest.raises(AssertionError, match="promtool check metrics"):
        promtool_check(bad)


def test_page_parser():
    page = pgfix.Page(GOOD_PAGE + 'x_info{v="1.0",} 1 1700000000000\nbig +Inf\nodd NaN\n'
                      'coll{name="a"} 4\n')
    assert page.sample("pg_up") == 1
    assert page.sample("pg_stat_database_xact_commit_total", datname="postgres") == 12
    assert page.sample("pg_stat_database_xact_commit_total", datname='we"ird\\na\nme') == 3
    assert page.samples("x_info")[0].timestamp == 1700000000000
    assert page.sample("big") == float("inf")
    assert page.sample("coll", name="a") == 4
    assert page.sample("odd") != page.sample("odd")
    with pytest.raises(AssertionError, match="2 samples match"):
        page.sample("pg_stat_database_xact_commit_total")
    with pytest.raises(AssertionError, match="no pg_stat_database_xact_commit_total with"):
        page.sample("pg_stat_database_xact_commit_total", datname="nope")
    assert not page.has("pg_down")
    # prometheus_client's view: family names of counters lose _total
    assert "pg_stat_database_xact_commit" in page.families
    with pytest.raises(ValueError):
        pgfix.parse_samples('foo{a="1" 2\n')


def test_sanitizer_report_detection():
    assert pgfix.sanitizer_report("level=info msg=ok\n") is None
    asan = "==12==ERROR: AddressSanitizer: heap-use-after-free on address 0x1\n"
    assert "heap-use-after-free" in pgfix.sanitizer_report("x\n" + asan)
    assert pgfix.sanitizer_report("sb.c:10:5: runtime error: signed integer overflow\n")
    assert pgfix.sanitizer_report("==1==ERROR: LeakSanitizer: detected memory leaks\n")


# --- the pgpulse factory, exercised with a stand-in -------------------------

STAND_IN = textwrap.dedent("""\
    #!%(python)s
    import http.server, os, signal, sys
    args = sys.argv[1:]
    port = int(args[args.index("--web.listen-address") + 1].rsplit(":", 1)[1])
    if "--die" in args:
        print("fatal: told to die", file=sys.stderr)
        sys.exit(3)
    body = ("# HELP pg_up Up.\\n# TYPE pg_up gauge\\npg_up 1\\n"
            "# HELP dsn_set_info Whether a DSN came in.\\n# TYPE dsn_set_info gauge\\n"
            "dsn_set_info{set=\\"%%s\\"} 1\\n" %% bool(os.environ.get("DATA_SOURCE_NAME"))).encode()
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            self.wfile.write(body)
        def log_message(self, *a):
            pass
    srv = http.server.HTTPServer(("127.0.0.1", port), H)
    code = 5 if "--bad-exit" in args else 0
    signal.signal(signal.SIGTERM, lambda *a: os._exit(code))
    print("listening", file=sys.stderr, flush=True)
    srv.serve_forever()
    """) % {"python": sys.executable}


@pytest.fixture
def stand_in_factory(scratch):
    base = scratch / f"standin-{os.urandom(3).hex()}"
    base.mkdir(mode=0o755)
    pgfix.give(base)
    binary = base / "pgpulse-stand-in"
    binary.write_text(STAND_IN)
    binary.chmod(0o755)
    factory = pgfix.PgPulseFactory(binary, base, lambda: "postgresql://monitor@127.0.0.1:1/postgres")
    yield factory
    for p in factory.instances:
        p.kill()


def test_pgpulse_factory_with_a_stand_in(stand_in_factory, promtool_check):
    p = stand_in_factory()
    page = p.scrape()
    promtool_check(page)
    assert page.sample("pg_up") == 1
    assert p.sample("dsn_set_info", set="True") == 1
    assert "pg_up" in p.metrics()
    assert page.headers["Content-Type"].startswith("text/plain")
    assert p.argv[p.argv.index("--queries") + 1] == str(pgfix.REPO / "queries")
    q = stand_in_factory(dsn=None, as_owner=True, queries=())
    assert "--queries" not in q.argv
    assert q.sample("dsn_set_info", set="False") == 1
    if pgfix.is_root():
        assert owner_uid(q.pid) != 0
    assert p.stop() == 0
    stand_in_factory.finish()  # q: SIGTERM, exit 0


def test_pgpulse_factory_reports_failures(stand_in_factory):
    with pytest.raises(AssertionError, match="exited 3 before answering"):
        stand_in_factory("--die")
    p = stand_in_factory("--bad-exit")
    with pytest.raises(AssertionError, match="exited 5 after SIGTERM"):
        stand_in_factory.finish()
    q = stand_in_factory()
    q.kill()
    with pytest.raises(AssertionError, match="died during the test"):
        q.finish()
    # a test that expects an exit waits for it itself
    r = stand_in_factory("--die", wait=False)
    assert r.wait() == 3 and "told to die" in r.stderr_text()
    r.finish()
    assert p.exit_seen
