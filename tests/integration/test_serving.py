"""pgpulse end to end against a real PostgreSQL 15: the page is valid, the
values are PostgreSQL's own, sessions are read-only and reused, a down
server still gives a page, secrets never show."""

import gzip
import json
import signal
import time

import requests
from prometheus_client.parser import text_string_to_metric_families

import pgfix
from pgfix import wait_for


def families(text):
    return {f.name: f for f in text_string_to_metric_families(text)}


# --- the page ---------------------------------------------------------------

def test_page_is_valid_for_promtool_and_prometheus_client(pg, pgpulse, promtool_check):
    p = pgpulse()
    r = p.get("/metrics")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    promtool_check(r.text)
    fams = families(r.text)
    for name in ("pg_up", "pg_info", "pg_database_size_bytes", "pg_stat_database_xact_commit",
                 "pgpulse_build_info", "pgpulse_scrape_duration_seconds",
                 "pgpulse_scrape_success", "pgpulse_scrapes", "process_cpu_seconds",
                 "process_resident_memory_bytes", "process_open_fds",
                 "process_start_time_seconds"):
        assert name in fams, name
    # one HELP and one TYPE per family, each family's samples right after
    # its TYPE, families not split
    helps, types, current = set(), set(), None
    for line in r.text.splitlines():
        if line.startswith("# HELP "):
            name = line.split()[2]
            assert name not in helps, f"HELP of {name} repeated"
            helps.add(name)
        elif line.startswith("# TYPE "):
            current = line.split()[2]
            assert current not in types, f"family {current} split or repeated"
            types.add(current)
        elif line:
            name = line.split("{")[0].split(" ")[0]
            assert name == current or (name.startswith(current) and name[len(current):]
                                       in ("_bucket", "_sum", "_count")), (name, current)
    assert helps == types


def test_values_match_what_postgresql_reports(pg, pgpulse):
    pg.psql("CREATE DATABASE sized")
    try:
        pg.psql("CREATE TABLE filler AS SELECT g, repeat('x', 200) AS pad "
                "FROM generate_series(1, 20000) g", dbname="sized")
        p = pgpulse()
        before = dict(pg.psql("SELECT datname, xact_commit FROM pg_stat_database "
                              "WHERE datname IS NOT NULL"))
        page = p.scrape()
        after = dict(pg.psql("SELECT datname, xact_commit FROM pg_stat_database "
                             "WHERE datname IS NOT NULL"))
        sizes = dict(pg.psql("SELECT datname, pg_database_size(datname) FROM pg_database "
                             "WHERE datallowconn"))
        for db, size in sizes.items():
            got = page.sample("pg_database_size_bytes", datname=db)
            assert abs(got - size) <= 64 * 1024, (db, got, size)
        assert page.sample("pg_database_size_bytes", datname="sized") > 4_000_000
        for db in ("postgres", "sized", "template1"):
            got = page.sample("pg_stat_database_xact_commit_total", datname=db)
            assert before[db] <= got <= after[db], (db, before[db], got, after[db])
        assert page.sample("pg_up") == 1
        version = pg.scalar("SHOW server_version")
        info = page.samples("pg_info")
        assert len(info) == 1
        assert info[0].labels == {"version": version,
                                  "server_version_num": str(pg.version_num),
                                  "role": "primary"}
        start = pg.scalar("SELECT extract(epoch FROM pg_postmaster_start_time())::float8")
        assert abs(page.sample("pg_postmaster_start_time_seconds") - start) < 0.001
        assert page.sample("pg_is_in_recovery") == 0
    finally:
        pg.psql("DROP DATABASE sized WITH (FORCE)")


def test_every_collector_reports_success_and_duration(pg, pgpulse):
    page = pgpulse().scrape()
    for c in ("pg_up", "pg_info", "pg_server", "pg_database", "pg_stat_database"):
        assert page.sample("pgpulse_scrape_success", collector=c) == 1, c
        assert 0 <= page.sample("pgpulse_scrape_duration_seconds", collector=c) < 5
    import re
    info = page.samples("pgpulse_build_info")
    assert len(info) == 1 and info[0].value == 1
    assert info[0].labels["version"] == "0.1.0"
    assert re.fullmatch(r"[0-9a-f]{7,}|unknown", info[0].labels["revision"]), info[0].labels


def test_self_metrics_count_scrapes_and_describe_the_process(pg, pgpulse):
    p = pgpulse()
    first = p.scrape()
    second = p.scrape()
    assert second.sample("pgpulse_scrapes_total") == first.sample("pgpulse_scrapes_total") + 1
    with open(f"/proc/{p.pid}/status") as f:
        rss_kb = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
    assert abs(second.sample("process_resident_memory_bytes") - rss_kb * 1024) < 4 << 20
    assert abs(second.sample("process_start_time_seconds") - time.time()) < 120
    assert second.sample("process_open_fds") >= 3


def test_landing_page_and_health(pg, pgpulse):
    p = pgpulse()
    r = p.get("/healthz")
    assert r.status_code == 200 and r.text == "ok\n"
    r = p.get("/")
    assert r.status_code == 200 and "text/html" in r.headers["Content-Type"]
    assert 'href="metrics"' in r.text
    assert p.get("/nope").status_code == 404
    assert requests.post(f"{p.url}/metrics", timeout=5).status_code == 405


def test_gzip_when_accepted(pg, pgpulse):
    p = pgpulse()
    r = requests.get(f"{p.url}/metrics", headers={"Accept-Encoding": "gzip"}, stream=True,
                     timeout=30)
    assert r.headers["Content-Encoding"] == "gzip"
    text = gzip.decompress(r.raw.read()).decode()
    assert "pg_up 1" in text.splitlines()
    # compressed as it is rendered, 64 KiB at a time: the default page
    # takes several pieces, and every line of it parses (a piece cut in
    # the wrong place would not), each family once
    assert len(text) > 2 * 64 * 1024
    names = [f.name for f in text_string_to_metric_families(text)]
    assert "pg_up" in names and len(names) == len(set(names))


# --- sessions ---------------------------------------------------------------

SESSION_QUERIES = """
collectors:
  session:
    help: What pgpulse's own session looks like.
    sql: |
      SELECT current_setting('default_transaction_read_only') = 'on' AS read_only,
             current_setting('statement_timeout') AS statement_timeout,
             current_setting('lock_timeout') AS lock_timeout,
             current_setting('application_name') AS application_name,
             current_setting('idle_in_transaction_session_timeout') <> '0' AS idle_tx_timeout
    metrics:
      application_name: label
      statement_timeout: label
      lock_timeout: label
      read_only: {type: gauge, name: test_session_read_only}
      idle_tx_timeout: {type: gauge, name: test_session_idle_timeout_set}
"""


def test_sessions_are_read_only_bounded_and_named(pg, pgpulse):
    q = pgpulse.write("session.yaml", SESSION_QUERIES)
    p = pgpulse(queries=[q])
    s = p.scrape().samples("test_session_read_only")
    assert len(s) == 1 and s[0].value == 1
    assert s[0].labels["application_name"] == "pgpulse"
    assert s[0].labels["statement_timeout"] == "5s"
    assert s[0].labels["lock_timeout"] == "1s"


def test_a_query_that_writes_fails_and_changes_nothing(pg, pgpulse):
    pg.psql("CREATE SEQUENCE IF NOT EXISTS pgpulse_guard")
    pg.psql("CREATE TABLE IF NOT EXISTS pgpulse_guard_t (v int)")
    pg.psql("GRANT USAGE, SELECT, UPDATE ON SEQUENCE pgpulse_guard TO monitor")
    pg.psql("GRANT ALL ON pgpulse_guard_t TO monitor")
    before = pg.scalar("SELECT last_value FROM pgpulse_guard")
    q = pgpulse.write("writes.yaml", """
collectors:
  writer:
    help: Tries to write.
    sql: SELECT nextval('pgpulse_guard') AS v
    metrics:
      v: gauge
  inserter:
    help: Tries to insert.
    sql: WITH i AS (INSERT INTO pgpulse_guard_t VALUES (1) RETURNING v) SELECT count(*) AS n FROM i
    metrics:
      n: gauge
  fine:
    help: Still served.
    sql: SELECT 42 AS answer
    metrics:
      answer: gauge
""")
    # refused where each goes wrong, when the file loads: nothing runs
    p = pgpulse(queries=[q], wait=False)
    assert p.wait() != 0
    log = p.stderr_text()
    assert f"{q}:5:17: error: collector 'writer': calls nextval()" in log, log
    assert f"{q}:10:21: error: collector 'inserter': 'INSERT' writes or locks" in log, log
    assert pg.scalar("SELECT last_value FROM pgpulse_guard") == before
    assert pg.scalar("SELECT count(*) FROM pgpulse_guard_t") == 0


def test_one_persistent_session_across_scrapes(pg, pgpulse):
    mark = pg.log_mark()
    p = pgpulse()
    for _ in range(5):
        assert p.scrape().sample("pg_up") == 1
    # (other databases a test left behind get sessions of their own, for
    # the per-database collectors)
    conns = pg.connections_since(mark, application_name="pgpulse", database="postgres")
    assert len(conns) == 1, conns
    rows = pg.psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgpulse' "
                   "AND datname = 'postgres'")
    assert rows[0][0] == 1


# --- failure ----------------------------------------------------------------

def test_down_server_gives_pg_up_0_and_reconnects(pg, pgpulse, promtool_check):
    p = pgpulse()
    assert p.scrape().sample("pg_up") == 1
    with pg.stopped():
        r = p.get("/metrics")
        assert r.status_code == 200
        promtool_check(r.text)
        page = pgfix.Page(r.text)
        assert page.sample("pg_up") == 0
        assert page.sample("pgpulse_scrape_success", collector="pg_up") == 0
        assert page.has("pgpulse_build_info")
        assert not page.has("pg_database_size_bytes")
        assert p.get("/healthz").status_code == 200
    # backoff is at most 10s
    assert wait_for(lambda: p.scrape().sample("pg_up") == 1, timeout=30)
    assert "target is down" in p.stderr_text()


def test_restart_between_scrapes_is_not_reported_as_down(pg, pgpulse):
    p = pgpulse()
    assert p.scrape().sample("pg_up") == 1
    pg.restart()
    page = p.scrape()
    assert page.sample("pg_up") == 1
    assert page.sample("pgpulse_scrape_success", collector="pg_stat_database") == 1
    assert page.sample("pgpulse_connection_failures_total") == 0


def test_failing_collector_never_spoils_the_page(pg, pgpulse, promtool_check):
    q = pgpulse.write("bad.yaml", r"""
collectors:
  broken:
    help: A query PostgreSQL rejects.
    sql: SELECT no_such_column FROM pg_database
    metrics:
      no_such_column: gauge
  dupes:
    help: Two identical rows make duplicate series.
    sql: SELECT 'a' AS k, 1 AS v UNION ALL SELECT 'a', 2 UNION ALL SELECT 'b', 3
    metrics:
      k: label
      v: gauge
  weird:
    help: Label values that need escaping, and special floats.
    sql: |
      SELECT E'quote " backslash \\ newline \n end' AS l, 'NaN'::float8 AS v
      UNION ALL SELECT 'inf', 'Infinity'::float8
      UNION ALL SELECT 'minf', '-Infinity'::float8
    metrics:
      l: label
      v: gauge
  notnum:
    help: Text that is not a number.
    sql: SELECT 'x' AS k, 'abc'::text AS v UNION ALL SELECT 'y', '7'
    metrics:
      k: label
      v: gauge
""")
    p = pgpulse("--queries", str(pgfix.REPO / "queries"), "--queries", str(q))
    r = p.get("/metrics")
    assert r.status_code == 200
    promtool_check(r.text)
    fams = families(r.text)
    page = pgfix.Page(r.text)
    assert page.sample("pgpulse_scrape_success", collector="broken") == 0
    assert page.sample("pg_up") == 1
    assert len(page.samples("dupes_v")) == 2
    assert page.sample("dupes_v", k="a") == 1
    assert page.sample("pgpulse_series_dropped_total", collector="dupes") == 1
    weird = {s.labels["l"]: s.value for s in fams["weird_v"].samples}
    assert set(weird) == {'quote " backslash \\ newline \n end', "inf", "minf"}
    assert weird["inf"] == float("inf") and weird["minf"] == float("-inf")
    assert weird['quote " backslash \\ newline \n end'] != weird['quote " backslash \\ newline \n end']
    assert page.sample("notnum_v", k="y") == 7
    assert not page.has("notnum_v", k="x")
    assert page.sample("pgpulse_scrape_success", collector="notnum") == 0
    err = p.stderr_text()
    assert "no_such_column" in err and "collector=broken" in err
    # logged once when it starts failing, not on every scrape
    for _ in range(3):
        p.scrape()
    assert p.stderr_text().count("collector=broken") == 1


# --- configuration and secrets ----------------------------------------------

def test_env_parts_and_password_file(pg, pgpulse):
    pw = pgpulse.write("pw", pgfix.MONITOR_PASSWORD + "\n", mode=0o600)
    p = pgpulse(dsn=None, env={
        "DATA_SOURCE_URI": f"127.0.0.1:{pg.port}/postgres?sslmode=disable",
        "DATA_SOURCE_USER": "monitor",
        "DATA_SOURCE_PASS_FILE": str(pw),
    })
    assert p.scrape().sample("pg_up") == 1


def test_conninfo_string_and_database_url(pg, pgpulse):
    p = pgpulse(dsn=pg.dsn(style="kv"))
    assert p.scrape().sample("pg_up") == 1
    p = pgpulse(dsn=None, env={"DATABASE_URL": pg.dsn()})
    assert p.scrape().sample("pg_up") == 1


def test_no_password_in_logs_or_pages(pg, pgpulse):
    wrong = "wrong-secret-pw-123"
    p = pgpulse(dsn=pg.dsn(password=wrong))
    page = p.get("/metrics").text
    assert pgfix.Page(page).sample("pg_up") == 0
    landing = p.get("/").text
    p.stop()
    for text in (page, landing, p.stderr_text(), p.stdout_text()):
        assert wrong not in text
        assert "monitor-secret-pw" not in text
    assert "password authentication failed" in p.stderr_text()
    good = pgpulse(dsn=pg.dsn(), env=None)
    text = good.get("/metrics").text + good.get("/").text
    good.stop()
    for t in (text, good.stderr_text()):
        assert pgfix.MONITOR_PASSWORD not in t


def test_superuser_role_is_warned_about(pg, pgpulse):
    p = pgpulse(dsn=pg.dsn(user="postgres"))
    page = p.scrape()
    assert page.sample("pgpulse_role_superuser") == 1
    assert page.sample("pgpulse_role_pg_monitor") == 1
    assert "superuser" in p.stderr_text()
    page = pgpulse().scrape()
    assert page.sample("pgpulse_role_superuser") == 0


def test_json_logs(pg, pgpulse):
    p = pgpulse("--log.format", "json")
    p.scrape()
    lines = [l for l in p.stderr_text().splitlines() if l.strip()]
    assert lines
    for line in lines:
        event = json.loads(line)
        assert {"ts", "level", "msg"} <= set(event)


def test_reload_keeps_the_old_queries_when_the_new_ones_are_invalid(pg, pgpulse):
    q = pgpulse.write("reload.yaml", """
collectors:
  first:
    help: Before the reload.
    sql: SELECT 1 AS v
    metrics:
      v: gauge
""")
    p = pgpulse(queries=[q])
    assert p.scrape().sample("first_v") == 1
    q.write_text(q.read_text().replace("first", "second").replace("SELECT 1", "SELECT 2"))
    p.send_signal(signal.SIGHUP)
    assert wait_for(lambda: p.scrape().has("second_v"))
    page = p.scrape()
    assert page.sample("second_v") == 2 and not page.has("first_v")
    assert page.sample("pgpulse_config_last_reload_successful") == 1
    q.write_text("collectors:\n  broken: [\n")
    p.send_signal(signal.SIGHUP)
    assert wait_for(lambda: p.scrape().sample("pgpulse_config_last_reload_successful") == 0)
    page = p.scrape()
    assert page.sample("second_v") == 2
    assert page.sample("pgpulse_config_reload_failures_total") == 1
    assert "reload.yaml:" in p.stderr_text()


def test_invalid_query_file_at_start_exits_non_zero_with_positions(pg, pgpulse):
    q = pgpulse.write("bad.yaml", "collectors:\n  x:\n    help: h\n    sql: SELECT 1 AS v\n"
                            "    metrics:\n      v: {type: gauge, nmae: y}\n")
    bad = pgpulse(queries=[q], wait=False)
    assert bad.wait(timeout=20) == 1
    assert f"{q}:6:" in bad.stderr_text()


def test_version_and_help(pgpulse_bin):
    import subprocess
    out = subprocess.run([str(pgpulse_bin), "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("pgpulse 0.1.0")
    out = subprocess.run([str(pgpulse_bin), "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "--web.listen-address" in out.stdout
    out = subprocess.run([str(pgpulse_bin), "--bogus"], capture_output=True, text=True)
    assert out.returncode == 2 and "--bogus" in out.stderr


def test_readyz_says_which_targets_were_reached(pg, pgpulse):
    p = pgpulse()
    r = p.get("/readyz")
    assert r.status_code == 503 and r.text == "default not reached yet\n"
    p.scrape()
    r = p.get("/readyz")
    assert r.status_code == 200 and r.text == "default reached\n"
