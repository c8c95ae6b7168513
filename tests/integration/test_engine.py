"""The query engine against a real PostgreSQL 15: ttl, timeouts, per-database
scope within the connection bound, version gating, requires, top-N, path
transforms, and postgres_exporter's example file from the Debian package."""

import contextlib
import os
import subprocess
import threading
import time

import pgfix

DEBIAN_EXAMPLE = "/usr/share/doc/prometheus-postgres-exporter/examples/queries.yaml"


def calls(pg, marker):
    """Executions of statements containing 'marker', from pg_stat_statements."""
    return pg.scalar("SELECT coalesce(sum(calls), 0)::int FROM pg_stat_statements "
                     "WHERE query LIKE %s AND query NOT LIKE %s",
                     (f"%{marker}%", "%pg_stat_statements%"))


def config(pg, queries, extra="", target=""):
    """A config file with one target 'main' (more of its keys in 'target',
    each line indented by 4) and 'queries'; 'extra' goes at the top level."""
    return f"""
targets:
  - name: main
    url: {pg.dsn(password=None)}
    password_env: MONITOR_PW
{target}queries: [{queries}]
{extra}
"""


def test_ttl_runs_the_query_once_in_its_window(pg, pgpulse):
    q = pgpulse.write("ttl.yaml", """
collectors:
  cached:
    help: A cached value.
    ttl: 30s
    sql: SELECT 7 AS ttl_marker_value FROM pg_am LIMIT 1
    metrics:
      ttl_marker_value: gauge
  fresh:
    help: Not cached.
    sql: SELECT 8 AS fresh_marker_value FROM pg_language LIMIT 1
    metrics:
      fresh_marker_value: gauge
""")
    pg.psql("SELECT pg_stat_statements_reset()")
    p = pgpulse(queries=[q])
    for _ in range(4):
        page = p.scrape()
        assert page.sample("cached_ttl_marker_value") == 7
        assert page.sample("fresh_fresh_marker_value") == 8
    # pg_stat_statements tells queries apart by structure, not by alias
    assert calls(pg, "FROM pg_am") == 1
    assert calls(pg, "FROM pg_language") == 4
    helps = [l for l in page.splitlines() if l.startswith("# HELP cached_ttl_marker_value ")]
    assert len(helps) == 1 and "Cached for up to 30 seconds" in helps[0], helps


def test_a_slow_collector_times_out_alone(pg, pgpulse):
    q = pgpulse.write("slow.yaml", """
collectors:
  slow:
    help: Sleeps past its timeout.
    timeout: 500ms
    sql: SELECT 1 AS v FROM pg_sleep(3)
    metrics:
      v: gauge
  quick:
    help: Answers.
    sql: SELECT 2 AS v
    metrics:
      v: gauge
""")
    p = pgpulse(queries=[q])
    start = time.monotonic()
    page = p.scrape()
    took = time.monotonic() - start
    assert took < 2.5, took
    assert page.sample("pgpulse_scrape_success", collector="slow") == 0
    assert page.sample("pgpulse_scrape_success", collector="quick") == 1
    assert page.sample("quick_v") == 2
    assert "statement timeout" in p.stderr_text()
    # the session survived the cancel and serves the next scrape
    assert p.scrape().sample("quick_v") == 2


def test_scrape_deadline_cancels_what_is_still_running(pg, pgpulse):
    q = pgpulse.write("deadline.yaml", """
collectors:
  sleepy:
    help: Sleeps longer than Prometheus waits.
    timeout: 30s
    sql: SELECT 1 AS v FROM pg_sleep(10)
    metrics:
      v: gauge
""")
    p = pgpulse(queries=[q])
    page, took = p.scrape_timed(2)
    assert took < 2.5, took
    assert page.sample("pgpulse_scrape_success", collector="sleepy") == 0
    assert wait_idle(pg), "the canceled query is still running"


def wait_idle(pg, timeout=5):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pg.scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgpulse' "
                     "AND state = 'active'") == 0:
            return True
        time.sleep(0.1)
    return False


def test_per_database_scope_within_the_connection_bound(pg, pgpulse):
    dbs = [f"tenant_{i}" for i in range(6)]
    for i, db in enumerate(dbs):
        pg.psql(f"DROP DATABASE IF EXISTS {db}")
        pg.psql(f"CREATE DATABASE {db}")
        pg.psql(f"CREATE TABLE t AS SELECT generate_series(1, {100 * (i + 1)}) g", dbname=db)
        pg.psql("GRANT SELECT ON t TO monitor", dbname=db)
    try:
        q = pgpulse.write("perdb.yaml", """
collectors:
  tables:
    help: Rows of table t in each database.
    scope: database
    sql: SELECT count(*) AS rows FROM t
    metrics:
      rows: gauge
  backends:
    help: pgpulse's own sessions, seen from inside a scrape.
    scope: database
    sql: SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'pgpulse'
    metrics:
      n: gauge
""")
        cfg = pgpulse.write("perdb-config.yaml", config(
            pg, q, "limits: {connections_per_target: 2}\n",
            target="    databases: {include: ['^tenant_']}\n"))
        p = pgpulse(config=cfg, env={"MONITOR_PW": pgfix.MONITOR_PASSWORD})
        seen_max = [0]
        stop = threading.Event()

        def watch():
            while not stop.is_set():
                n = pg.scalar("SELECT count(*) FROM pg_stat_activity "
                              "WHERE application_name = 'pgpulse'")
                seen_max[0] = max(seen_max[0], n)
                time.sleep(0.01)

        w = threading.Thread(target=watch)
        w.start()
        try:
            for _ in range(3):
                page = p.scrape()
        finally:
            stop.set()
            w.join()
        # each database's own table: a row sent to the wrong database, or
        # labelled with another one, shows another count
        for i, db in enumerate(dbs):
            assert page.sample("tables_rows", datname=db, target="main") == 100 * (i + 1)
            assert page.sample("backends_n", datname=db, target="main") <= 2
        assert not page.has("tables_rows", datname="template1")
        assert page.sample("pgpulse_scrape_success", collector="tables", target="main") == 1
        assert seen_max[0] <= 2, seen_max[0]
        assert page.sample("pgpulse_connections_max", target="main") == 2
        assert page.sample("pgpulse_connections_open", target="main") <= 2
    finally:
        for db in dbs:
            pg.psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


def test_cached_results_of_a_dropped_database_are_forgotten(pg, pgpulse):
    with pg.databases("gone_a", "gone_b"):
        q = pgpulse.write("cached-perdb.yaml", """
collectors:
  size:
    help: Each database's size.
    scope: database
    ttl: 1s
    sql: SELECT pg_database_size(current_database()) AS bytes
    metrics:
      bytes: gauge
""")
        cfg = pgpulse.write("cached-perdb-config.yaml", config(
            pg, q, target="    databases: {include: ['^gone_']}\n"))
        p = pgpulse(config=cfg, env={"MONITOR_PW": pgfix.MONITOR_PASSWORD})
        page = p.scrape()
        assert page.sample("pgpulse_cache_entries", target="main") == 2
        pg.psql("DROP DATABASE gone_b WITH (FORCE)")
        time.sleep(1.2)
        page = p.scrape()
        assert page.has("size_bytes", datname="gone_a")
        assert not page.has("size_bytes", datname="gone_b")
        # gone_a's result is cached again; gone_b's expired one is freed
        assert page.sample("pgpulse_cache_entries", target="main") == 1


def test_deadline_pressure_does_not_cost_a_round_trip_per_query(pg, pgpulse):
    # each query's statement_timeout is a SET LOCAL in the pipeline that
    # wraps it in its read-only transaction: never a round trip of its own
    body = "".join(f"""
  rt_{i}:
    help: Answers at once.
    sql: SELECT {i} AS v
    metrics:
      v: gauge
""" for i in range(12))
    q = pgpulse.write("roundtrips.yaml", "collectors:" + body)
    cfg = pgpulse.write("roundtrips-config.yaml", config(
        pg, q, "limits: {statement_timeout: 20s, scrape_timeout: 30s}\n"))
    p = pgpulse(config=cfg, env={"MONITOR_PW": pgfix.MONITOR_PASSWORD})
    pg.psql("SELECT pg_stat_statements_reset()")
    for _ in range(3):
        # 2 s less the margin: below statement_timeout, so the time each
        # collector may take is cut to leave the others theirs
        page, _ = p.scrape_timed(2)
        assert all(page.sample(f"rt_{i}_v") == i for i in range(12))
    sets = pg.scalar("SELECT coalesce(sum(calls), 0)::int FROM pg_stat_statements "
                     "WHERE query ILIKE 'SET statement_timeout%%'")
    assert sets == 0, sets
    local = pg.scalar("SELECT coalesce(sum(calls), 0)::int FROM pg_stat_statements "
                      "WHERE query ILIKE 'SET LOCAL statement_timeout%%'")
    assert local >= 36, local


SLOW_PAIR = """
collectors:
  slow_a:
    help: Takes a while.
    sql: SELECT 1 AS v FROM pg_sleep(0.4)
    metrics:
      v: gauge
  slow_b:
    help: Takes a while too.
    sql: SELECT 2 AS v FROM pg_sleep(0.4)
    metrics:
      v: gauge
  quick:
    help: Answers at once.
    sql: SELECT 3 AS v
    metrics:
      v: gauge
"""


def test_slow_cluster_collectors_share_the_two_sessions(pg, pgpulse):
    q = pgpulse.write("pair.yaml", SLOW_PAIR)
    mark = pg.log_mark()
    p = pgpulse(queries=[q])
    # the first collection knows no times yet: one session, one by one
    page, took = p.scrape_timed(10)
    assert took >= 0.8, took
    for _ in range(2):
        page, took = p.scrape_timed(10)
        # the two slow ones run side by side on two sessions
        assert took < 0.75, took
        assert [page.sample(f"{n}_v") for n in ("slow_a", "slow_b", "quick")] == [1, 2, 3]
        assert all(s.value == 1 for s in page.samples("pgpulse_scrape_success"))
    assert page.sample("pgpulse_connections_open") == 2
    # two sessions, both kept: no connection made per scrape
    assert len(pg.connections_since(mark, application_name="pgpulse")) == 2


def test_the_second_session_goes_when_no_longer_shared(pg, pgpulse):
    q = pgpulse.write("pair-ttl.yaml", SLOW_PAIR.replace(
        "    sql: SELECT 1 AS v FROM pg_sleep(0.4)", "    ttl: 3s\n    sql: SELECT 1 AS v FROM pg_sleep(0.4)").replace(
        "    sql: SELECT 2 AS v FROM pg_sleep(0.4)", "    ttl: 3s\n    sql: SELECT 2 AS v FROM pg_sleep(0.4)"))
    cfg = pgpulse.write("pair-ttl-config.yaml", config(pg, q, "limits: {idle_timeout: 1s}\n"))
    p = pgpulse(config=cfg, env={"MONITOR_PW": pgfix.MONITOR_PASSWORD})
    page, took = p.scrape_timed(10)  # one session, one by one, cached 3 s
    assert took >= 0.8 and page.sample("pgpulse_connections_open", target="main") == 1
    # served from the cache: nothing to share, no second session for it
    page, took = p.scrape_timed(10)
    assert page.sample("pgpulse_connections_open", target="main") == 1
    assert page.sample("slow_a_v", target="main") == 1
    time.sleep(max(0, 3.1 - took))
    # the cache ran out: the two slow ones side by side (they kept their
    # times through the cached scrape)
    page, took = p.scrape_timed(10)
    assert took < 0.75, took
    assert page.sample("pgpulse_connections_open", target="main") == 2
    # cached again: the second session idles past idle_timeout and is closed
    time.sleep(1.5)
    page, took = p.scrape_timed(10)
    assert page.sample("slow_b_v", target="main") == 2
    assert page.sample("pgpulse_connections_open", target="main") == 1


@contextlib.contextmanager
def sleep_control(pg):
    """A table whose one value a collector sleeps for: set(seconds)."""
    pg.psql("DROP TABLE IF EXISTS sleep_ctl; CREATE TABLE sleep_ctl (s float8);"
            "INSERT INTO sleep_ctl VALUES (0); GRANT SELECT ON sleep_ctl TO monitor")
    try:
        yield lambda secs: pg.psql("UPDATE sleep_ctl SET s = %s", (secs,))
    finally:
        pg.psql("DROP TABLE sleep_ctl")


def test_a_slow_cluster_collector_leaves_the_databases_their_time(pg, pgpulse):
    with sleep_control(pg) as set_sleep, pg.databases("keep_time_a", "keep_time_b"):
        q = pgpulse.write("keep-time.yaml", """
collectors:
  stuck:
    help: As slow as the control table says.
    timeout: 30s
    sql: SELECT 1 AS v FROM pg_sleep((SELECT s FROM sleep_ctl))
    metrics:
      v: gauge
  each:
    help: Takes 0.4 s in each database.
    scope: database
    sql: SELECT 1 AS v FROM pg_sleep(0.4)
    metrics:
      v: gauge
""")
        cfg = pgpulse.write("keep-time-config.yaml", config(
            pg, q, "limits: {statement_timeout: 20s, scrape_timeout: 30s}\n",
            target="    databases: {include: ['^keep_time_']}\n"))
        p = pgpulse(config=cfg, env={"MONITOR_PW": pgfix.MONITOR_PASSWORD})
        p.scrape_timed(10)  # the times: 0.8 s for the databases
        set_sleep(10)
        page, took = p.scrape_timed(4)
        assert took < 4, took
        # cut in time for the per-database work, which all answers
        assert page.sample("pgpulse_scrape_success", collector="stuck", target="main") == 0
        assert page.sample("pgpulse_scrape_success", collector="each", target="main") == 1
        assert len(page.samples("each_v", target="main")) == 2


def test_a_cached_collector_keeps_no_time_from_the_others(pg, pgpulse):
    with sleep_control(pg) as set_sleep:
        q = pgpulse.write("cached-time.yaml", """
collectors:
  a_first:
    help: As slow as the control table says.
    timeout: 30s
    sql: SELECT 1 AS v FROM pg_sleep((SELECT s FROM sleep_ctl))
    metrics:
      v: gauge
  b_cached:
    help: Slow, and cached for long.
    ttl: 300s
    timeout: 30s
    sql: SELECT 2 AS v FROM pg_sleep(2.5)
    metrics:
      v: gauge
""")
        cfg = pgpulse.write("cached-time-config.yaml", config(
            pg, q, "limits: {connections_per_target: 1, statement_timeout: 20s,"
            " scrape_timeout: 30s}\n"))
        p = pgpulse(config=cfg, env={"MONITOR_PW": pgfix.MONITOR_PASSWORD})
        p.scrape_timed(10)  # b_cached runs: 2.5 s, then cached
        p.scrape_timed(10)
        set_sleep(2)
        # 3.6 s to go: b_cached is served from its cache, so a_first has
        # them all, not what b_cached's 2.5 s of last time would leave
        page, took = p.scrape_timed(4)
        assert page.sample("pgpulse_scrape_success", collector="a_first", target="main") == 1
        assert page.sample("b_cached_v", target="main") == 2


def test_no_second_session_for_a_role_limited_to_one(pg, pgpulse):
    q = pgpulse.write("pair.yaml", SLOW_PAIR)
    pg.psql("ALTER ROLE monitor CONNECTION LIMIT 1")
    try:
        p = pgpulse(queries=[q])
        for _ in range(3):
            page, _ = p.scrape_timed(10)
            assert [page.sample(f"{n}_v") for n in ("slow_a", "slow_b", "quick")] == [1, 2, 3]
            assert page.sample("pgpulse_connections_open") == 1
        # the refused second session is not the target's failure: its
        # one session, killed, comes back at the next scrape
        pg.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE usename = 'monitor' AND application_name = 'pgpulse'")
        page, _ = p.scrape_timed(10)
        assert page.sample("slow_a_v") == 1
        assert all(s.value == 1 for s in page.samples("pgpulse_scrape_success"))
        assert "target is down" not in p.stderr_text()
        assert p.stderr_text().count("no second session") == 1
    finally:
        pg.psql("ALTER ROLE monitor CONNECTION LIMIT -1")


def test_the_same_series_from_two_shared_collectors_resolves_alike(pg, pgpulse):
    q = pgpulse.write("dup-pair.yaml", """
collectors:
  dup_a:
    help: Slow, and writes the shared series first.
    sql: SELECT 1 AS v FROM pg_sleep(0.4)
    metrics:
      v: {type: gauge, name: shared_metric, help: One series of two collectors.}
  dup_b:
    help: Slow, and writes it second.
    sql: SELECT 2 AS v FROM pg_sleep(0.4)
    metrics:
      v: {type: gauge, name: shared_metric, help: One series of two collectors.}
""")
    p = pgpulse(queries=[q])
    for n in range(1, 4):
        page, took = p.scrape_timed(10)
        if n > 1:
            assert took < 0.75, took  # side by side
        # the first declared wins, the second's copy is counted
        assert page.sample("shared_metric") == 1
        assert page.sample("pgpulse_series_dropped_total", collector="dup_b") == n


def test_one_session_when_the_pool_has_one(pg, pgpulse):
    q = pgpulse.write("pair.yaml", SLOW_PAIR)
    cfg = pgpulse.write("pair-config.yaml", config(
        pg, q, "limits: {connections_per_target: 1}\n"))
    mark = pg.log_mark()
    p = pgpulse(config=cfg, env={"MONITOR_PW": pgfix.MONITOR_PASSWORD})
    for _ in range(2):
        page, took = p.scrape_timed(10)
        assert took >= 0.8, took
    assert page.sample("pgpulse_connections_open", target="main") == 1
    assert len(pg.connections_since(mark, application_name="pgpulse")) == 1


def test_what_is_remembered_of_a_dropped_database_goes_with_it(pg, pgpulse):
    q = pgpulse.write("gone-logged.yaml", """
collectors:
  needs_t:
    help: Fails where there is no table t.
    scope: database
    sql: SELECT count(*) AS n FROM t
    metrics:
      n: gauge
""")
    cfg = pgpulse.write("gone-logged-config.yaml", config(
        pg, q, target="    databases: {include: ['^logged_gone$']}\n"))
    p = pgpulse(config=cfg, env={"MONITOR_PW": pgfix.MONITOR_PASSWORD})

    def failures():
        return p.stderr_text().count('msg="collector failed" target=main '
                                     'collector=needs_t datname=logged_gone '
                                     'err="relation \\"t\\" does not exist')

    with pg.databases("logged_gone"):
        p.scrape()
        p.scrape()
        assert failures() == 1  # logged when it starts failing, not again
    p.scrape()  # the database is gone, and what was logged of it
    with pg.databases("logged_gone"):
        p.scrape()
        # a new database of the same name: its failure is news (and the
        # session the drop killed is found dead before it is used)
        assert failures() == 2


def test_version_gating_picks_the_variant_that_fits(pg, pgpulse):
    q = pgpulse.write("versions.yaml", """
collectors:
  gated_future:
    help: Only on PostgreSQL 99.
    min_version: 990000
    sql: SELECT 1 AS v
    metrics:
      v: gauge
  gated_old:
    help: Only before 10.
    max_version: 100000
    sql: SELECT 1 AS v
    metrics:
      v: gauge
  variants:
    help: The variant for this server.
    variants:
      - min_version: 160000
        sql: SELECT 16 AS major
      - min_version: 150000
        max_version: 160000
        sql: SELECT 15 AS major
      - sql: SELECT 0 AS major
    metrics:
      major: gauge
""")
    page = pgpulse(queries=[q]).scrape()
    assert page.sample("variants_major") == pg.version_num // 10000
    assert not page.has("gated_future_v") and not page.has("gated_old_v")
    assert page.sample("pgpulse_collector_skipped", collector="gated_future",
                       reason="version") == 1
    assert page.sample("pgpulse_collector_skipped", collector="gated_old",
                       reason="version") == 1


def test_requires_skips_and_logs_once(pg, pgpulse):
    q = pgpulse.write("requires.yaml", """
collectors:
  needs_missing:
    help: Needs an extension that is not installed.
    requires: [pg_no_such_extension]
    sql: SELECT 1 AS v
    metrics:
      v: gauge
  needs_pgss:
    help: Needs pg_stat_statements, which is installed.
    requires: [pg_stat_statements, "setting:track_io_timing=on"]
    sql: SELECT 1 AS v
    metrics:
      v: gauge
  needs_setting:
    help: Needs a setting value the server does not have.
    requires: ["setting:track_io_timing=off"]
    sql: SELECT 1 AS v
    metrics:
      v: gauge
""")
    p = pgpulse(queries=[q])
    for _ in range(3):
        page = p.scrape()
    assert page.sample("needs_pgss_v") == 1
    assert not page.has("needs_missing_v") and not page.has("needs_setting_v")
    assert page.sample("pgpulse_collector_skipped", collector="needs_missing",
                       reason="requires") == 1
    assert page.sample("pgpulse_collector_skipped", collector="needs_setting",
                       reason="requires") == 1
    assert p.stderr_text().count("collector=needs_missing") == 1


def test_role_and_tags_gate_collectors(pg, pgpulse):
    q = pgpulse.write("roles.yaml", """
collectors:
  on_primary:
    help: Primary only.
    role: primary
    sql: SELECT 1 AS v
    metrics:
      v: gauge
  on_replica:
    help: Replica only.
    role: replica
    sql: SELECT 1 AS v
    metrics:
      v: gauge
  tagged:
    help: Only on targets tagged fleet.
    tags: [fleet]
    sql: SELECT 1 AS v
    metrics:
      v: gauge
""")
    cfg = pgpulse.write("roles-config.yaml", config(pg, q))
    page = pgpulse(config=cfg, env={"MONITOR_PW": pgfix.MONITOR_PASSWORD}).scrape()
    assert page.sample("on_primary_v", target="main") == 1
    assert not page.has("on_replica_v") and not page.has("tagged_v")
    assert page.sample("pgpulse_collector_skipped", collector="tagged", reason="tags",
                       target="main") == 1
    cfg.write_text(config(pg, q, target="    tags: [fleet]\n"
                                        "    labels: {cluster: c1, env: test}\n"))
    page = pgpulse(config=cfg, env={"MONITOR_PW": pgfix.MONITOR_PASSWORD}).scrape()
    assert page.sample("tagged_v", target="main", cluster="c1", env="test") == 1


def test_top_n_keeps_totals_exact_and_series_bounded(pg, pgpulse):
    pg.psql("DROP TABLE IF EXISTS topn")
    pg.psql("CREATE TABLE topn (k text, v float8)")
    pg.psql("GRANT SELECT ON topn TO monitor")
    pg.psql("INSERT INTO topn SELECT 'k' || g, g FROM generate_series(1, 1000) g")
    q = pgpulse.write("top.yaml", """
collectors:
  topn:
    help: The largest values.
    params: {top_n: 10}
    top: {by: v, n: '{{top_n}}', key: k, sticky: 10m}
    sql: SELECT k, 'x' AS other_label, v, 1 AS one FROM topn
    metrics:
      k: label
      other_label: label
      v: gauge
      one: counter
""")
    p = pgpulse(queries=[q])
    page = p.scrape()
    vs = page.samples("topn_v")
    assert len(vs) == 11
    assert len(page.samples("topn_one_total")) == 11
    top = {s.labels["k"]: s.value for s in vs}
    assert set(top) == {f"k{i}" for i in range(991, 1001)} | {"other"}
    assert top["other"] == sum(range(1, 991))
    assert page.sample("topn_one_total", k="other", other_label="") == 990
    assert sum(top.values()) == sum(range(1, 1001))
    # a row that made the top stays while it is sticky
    pg.psql("UPDATE topn SET v = 0 WHERE k = 'k1000'")
    pg.psql("INSERT INTO topn VALUES ('new', 5000)")
    page = p.scrape()
    ks = {s.labels["k"] for s in page.samples("topn_v")}
    assert "new" in ks and "k1000" in ks
    assert page.sample("topn_v", k="k1000") == 0
    assert len(page.samples("topn_v")) == 12


def test_path_transforms_measure_the_data_directory(pg, pgpulse):
    q = pgpulse.write("disk.yaml", """
collectors:
  disk:
    help: Bytes on disk.
    sql: SELECT datname, 'base/' || oid AS dir FROM pg_database WHERE datname = 'postgres'
    metrics:
      datname: label
      dir: {type: gauge, name: test_database_disk_bytes, transform: disk_usage}
  fs:
    help: The data directory's filesystem.
    sql: SELECT '.' AS root
    metrics:
      root: {type: gauge, name: test_data_fs_size_bytes, transform: fs_size}
""")
    p = pgpulse(queries=[q])
    page = p.scrape()
    oid = pg.scalar("SELECT oid FROM pg_database WHERE datname = 'postgres'")
    path = f"{pg.datadir}/base/{oid}"
    before = int(subprocess.run(["du", "-s", "--block-size=1", path], capture_output=True,
                                text=True, check=True).stdout.split()[0])
    got = page.sample("test_database_disk_bytes", datname="postgres")
    assert abs(got - before) <= 256 * 1024, (got, before)
    st = os.statvfs(pg.datadir)
    assert page.sample("test_data_fs_size_bytes") == st.f_blocks * st.f_frsize
    # where pgpulse cannot read the path, the metric is absent, the page valid
    cfg = pgpulse.write("disk-config.yaml", config(
        pg, q, target="    data_directory: /nonexistent/pgdata\n"))
    p = pgpulse(config=cfg, env={"MONITOR_PW": pgfix.MONITOR_PASSWORD})
    page = p.scrape()
    assert not page.has("test_database_disk_bytes")
    assert page.sample("pgpulse_scrape_success", collector="disk", target="main") == 1
    assert "/nonexistent/pgdata" in p.stderr_text()


def test_optional_and_alternative_columns(pg, pgpulse):
    q = pgpulse.write("optional.yaml", """
collectors:
  cols:
    help: Columns that differ between versions.
    sql: SELECT 1 AS present, 2 AS new_name
    metrics:
      absent: {type: gauge, optional: true}
      old_name: {type: gauge, alt_columns: [new_name]}
      present: gauge
""")
    page = pgpulse(queries=[q]).scrape()
    assert page.sample("cols_present") == 1
    assert page.sample("cols_old_name") == 2
    assert not page.has("cols_absent")
    assert page.sample("pgpulse_scrape_success", collector="cols") == 1


def test_values_of_every_type_are_converted(pg, pgpulse):
    q = pgpulse.write("types.yaml", """
collectors:
  types:
    help: One column of each type.
    sql: |
      SELECT 1::int2 AS i2, 2::int4 AS i4, 9007199254740992::int8 AS i8,
             1.5::float4 AS f4, 2.25::float8 AS f8, 12345.678::numeric AS num,
             true AS b, false AS bf,
             '2024-02-29 12:34:56.5+00'::timestamptz AS ts,
             '2024-02-29 12:34:56'::timestamp AS tsl,
             '1 day 2 hours 3.5 seconds'::interval AS iv,
             '-1 mon'::interval AS ivneg,
             '16/B374D848'::pg_lsn AS lsn,
             NULL::int AS nothing
    metrics:
      i2: gauge
      i4: gauge
      i8: gauge
      f4: gauge
      f8: gauge
      num: gauge
      b: gauge
      bf: gauge
      ts: gauge
      tsl: gauge
      iv: gauge
      ivneg: gauge
      lsn: gauge
      nothing: gauge
""")
    page = pgpulse(queries=[q]).scrape()
    expect = {"i2": 1, "i4": 2, "i8": 2**53, "f4": 1.5, "f8": 2.25,
              "num": 12345.678, "b": 1, "bf": 0, "ts": 1709210096.5, "tsl": 1709210096,
              "iv": 93603.5, "ivneg": -30 * 86400, "lsn": 0x16 * 2**32 + 0xB374D848}
    for col, v in expect.items():
        assert page.sample(f"types_{col}") == v, col
    assert not page.has("types_nothing")
    want_ts = pg.scalar("SELECT extract(epoch FROM '2024-02-29 12:34:56.5+00'::timestamptz)")
    assert float(want_ts) == expect["ts"]
    assert float(pg.scalar("SELECT extract(epoch FROM '1 day 2 hours 3.5 seconds'::interval)")) \
        == expect["iv"]


def test_postgres_exporter_example_file_from_debian(pg, pgpulse, promtool_lint):
    assert os.path.exists(DEBIAN_EXAMPLE), "install prometheus-postgres-exporter"
    p = pgpulse("--extend.query-path", DEBIAN_EXAMPLE)
    page = p.scrape()
    # its pg_stat_statements query reads total_time, gone since PostgreSQL 13:
    # that collector fails alone, reported; the others are served
    assert page.sample("pgpulse_scrape_success", collector="pg_stat_statements") == 0
    for c in ("pg_replication", "pg_postmaster", "pg_stat_user_tables",
              "pg_statio_user_tables", "pg_process_idle"):
        assert page.sample("pgpulse_scrape_success", collector=c) == 1, c
    start = pg.scalar("SELECT extract(epoch FROM pg_postmaster_start_time())::float8")
    assert abs(page.sample("pg_postmaster_start_time_seconds") - start) < 1
    # its query gives 0 on a primary
    assert pg.scalar("SELECT pg_is_in_recovery()") is False
    assert page.sample("pg_replication_lag") == 0
    assert "total_time" in p.stderr_text()


def test_max_series_drops_the_rest_and_counts_them(pg, pgpulse, promtool_check):
    q = pgpulse.write("cardinality.yaml", """
collectors:
  many:
    help: More rows than the collector may turn into series.
    max_series: 25
    sql: SELECT g::text AS k, g AS v FROM generate_series(1, 100) g
    metrics:
      k: label
      v: gauge
""")
    p = pgpulse(queries=[q])
    page = p.scrape()
    promtool_check(page)
    assert len(page.samples("many_v")) == 25
    assert page.sample("pgpulse_series_dropped_total", collector="many") == 75
    page = p.scrape()
    assert page.sample("pgpulse_series_dropped_total", collector="many") == 150


def test_undeclared_columns_are_logged_once(pg, pgpulse):
    q = pgpulse.write("undeclared.yaml", """
collectors:
  extra:
    help: Returns a column it does not list.
    sql: SELECT 1 AS v, 2 AS surprise
    metrics:
      v: gauge
""")
    p = pgpulse(queries=[q])
    for _ in range(3):
        page = p.scrape()
    assert page.sample("extra_v") == 1
    assert page.sample("pgpulse_scrape_success", collector="extra") == 1
    err = p.stderr_text()
    assert err.count("columns=surprise") == 1, err


def test_invalid_utf8_from_a_sql_ascii_database_is_replaced(pg, pgpulse, promtool_check):
    pg.psql("DROP DATABASE IF EXISTS legacy")
    pg.psql("CREATE DATABASE legacy ENCODING 'SQL_ASCII' TEMPLATE template0 "
            "LC_COLLATE 'C' LC_CTYPE 'C'")
    try:
        q = pgpulse.write("legacy.yaml", r"""
collectors:
  legacy_names:
    help: Label values in a database without an encoding.
    scope: database
    sql: SELECT convert_from('\x6361666580ff'::bytea, 'SQL_ASCII') AS name, 1 AS v
    metrics:
      name: label
      v: gauge
""")
        cfg = pgpulse.write("legacy-config.yaml", config(
            pg, q, target="    databases: {include: ['^legacy$']}\n"))
        p = pgpulse(config=cfg, env={"MONITOR_PW": pgfix.MONITOR_PASSWORD})
        r = p.get("/metrics")
        r.encoding = "utf-8"
        promtool_check(r.text)
        raw = r.content
        raw.decode("utf-8")  # the whole page is valid UTF-8
        page = pgfix.Page(r.text)
        s = page.samples("legacy_names_v")
        assert len(s) == 1
        assert s[0].labels["name"] == "cafe\ufffd\ufffd"
    finally:
        pg.psql("DROP DATABASE IF EXISTS legacy WITH (FORCE)")


def test_a_slow_collector_first_does_not_starve_the_ones_after_it(pg, pgpulse):
    q = pgpulse.write("order.yaml", """
collectors:
  a_slow:
    help: Sleeps longer than Prometheus waits, and runs first.
    timeout: 30s
    sql: SELECT 1 AS v FROM pg_sleep(10)
    metrics:
      v: gauge
  b_quick:
    help: Answers at once, after the slow one.
    sql: SELECT 2 AS v
    metrics:
      v: gauge
  c_quick:
    help: Answers at once too.
    sql: SELECT 3 AS v
    metrics:
      v: gauge
""")
    p = pgpulse(queries=[q])
    for _ in range(2):
        # 3 s less a tenth: the page must come back before Prometheus gives up
        page, took = p.scrape_timed(3)
        assert took < 3.0, took
        assert page.sample("pgpulse_scrape_success", collector="a_slow") == 0
        assert page.sample("b_quick_v") == 2
        assert page.sample("c_quick_v") == 3


def test_collectors_the_role_may_not_run_are_skipped_not_failed(pg, pgpulse):
    pg.psql("DROP ROLE IF EXISTS weak")
    pg.psql("CREATE ROLE weak LOGIN PASSWORD 'weak-pw-123'")
    # the role could reset statistics: only pgpulse's refusal stops it
    pg.psql("GRANT EXECUTE ON FUNCTION pg_stat_reset() TO weak")
    try:
        q = pgpulse.write("privs.yaml", """
collectors:
  waldir:
    help: Needs EXECUTE on pg_ls_waldir (pg_monitor has it).
    sql: SELECT count(*) AS files FROM pg_ls_waldir()
    metrics:
      files: gauge
  plain:
    help: Anybody may run this.
    sql: SELECT 1 AS v
    metrics:
      v: gauge
""")
        p = pgpulse(queries=[q], dsn=pg.dsn(user="weak", password="weak-pw-123"))
        before = pg.scalar("SELECT stats_reset FROM pg_stat_database WHERE datname = 'postgres'")
        for _ in range(2):
            page = p.scrape()
        assert page.sample("plain_v") == 1
        assert page.sample("pgpulse_collector_skipped", collector="waldir",
                           reason="privileges") == 1
        assert not page.has("pgpulse_scrape_success", collector="waldir")
        assert page.sample("pgpulse_role_pg_monitor") == 0
        assert pg.scalar("SELECT stats_reset FROM pg_stat_database "
                         "WHERE datname = 'postgres'") == before
        assert p.stderr_text().count("reason=privileges") == 1
    finally:
        pg.psql("REVOKE EXECUTE ON FUNCTION pg_stat_reset() FROM weak")
        pg.psql("DROP ROLE IF EXISTS weak")


def test_a_copy_query_is_refused_when_the_file_loads(pg, pgpulse):
    # refused when the file loads (tests/integration/test_faults.py has
    # the statements refused); the daemon does not start with it
    q = pgpulse.write("copy.yaml", """
collectors:
  copier:
    help: COPY is not a query; libpq would hand back COPY states forever.
    sql: COPY (SELECT 1 AS v) TO STDOUT
    metrics:
      v: gauge
""")
    p = pgpulse(queries=[q], wait=False)
    assert p.wait() != 0
    assert f"{q}:5:10: error: collector 'copier': the sql is not a query" in p.stderr_text()


def test_the_main_session_outlives_per_database_work(pg, pgpulse):
    with pg.databases("keep_a", "keep_b", "keep_c") as dbs:
        q = pgpulse.write("perdb2.yaml", """
collectors:
  here:
    help: Which database the session is in.
    scope: database
    sql: SELECT current_database() AS db, 1 AS v
    metrics:
      db: label
      v: gauge
  cluster:
    help: On the main database.
    sql: SELECT 1 AS v
    metrics:
      v: gauge
""")
        cfg = pgpulse.write("perdb2-config.yaml", config(
            pg, q, target="    databases: {include: ['^keep_']}\n"))
        mark = pg.log_mark()
        p = pgpulse(config=cfg, env={"MONITOR_PW": pgfix.MONITOR_PASSWORD})
        for _ in range(3):
            page = p.scrape()
        # each row comes from the database it is labelled with
        for db in dbs:
            assert page.sample("here_v", datname=db, db=db, target="main") == 1
        # the main database's session was kept; the others took turns
        main = pg.connections_since(mark, application_name="pgpulse", database="postgres")
        assert len(main) == 1, main


def test_statement_timeout_0_means_no_limit_but_the_deadline(pg, pgpulse):
    q = pgpulse.write("notimeout.yaml", """
collectors:
  plain:
    help: Runs under no statement_timeout of its own.
    sql: SELECT current_setting('statement_timeout') AS t, 1 AS v
    metrics:
      t: label
      v: gauge
""")
    cfg = pgpulse.write("notimeout-config.yaml", config(pg, q, "limits: {statement_timeout: 0}\n"))
    page = pgpulse(config=cfg, env={"MONITOR_PW": pgfix.MONITOR_PASSWORD}).scrape()
    s = page.samples("plain_v")
    assert len(s) == 1 and s[0].value == 1
    assert page.sample("pgpulse_scrape_success", collector="plain", target="main") == 1
    # bounded by the scrape deadline (10 s, less the others' share), not 0
    assert s[0].labels["t"].endswith("s") and s[0].labels["t"] != "0"


def test_a_collector_cannot_change_the_session_for_the_next(pg, pgpulse):
    # set_config is refused in a query file, but a function of the
    # database may call it: each query runs in a read-only transaction
    # that is rolled back, so what it set ends with it
    pg.psql("CREATE OR REPLACE FUNCTION pgpulse_sneaky() RETURNS int LANGUAGE sql AS $$ "
            "SELECT length(set_config('application_name', 'sneaky', false)) "
            "+ length(set_config('work_mem', '77kB', false)) $$")
    q = pgpulse.write("sneaky.yaml", """
collectors:
  sneaky:
    help: Changes settings of its session, not locally.
    sql: SELECT pgpulse_sneaky() AS v
    metrics:
      v: gauge
  after:
    help: Runs next, on the same session.
    sql: |
      SELECT current_setting('application_name') AS app,
             current_setting('work_mem') AS wm,
             current_setting('transaction_read_only') AS ro, 1 AS v
    metrics:
      app: label
      wm: label
      ro: label
      v: gauge
""")
    cfg = pgpulse.write("sneaky-config.yaml", config(
        pg, q, "limits: {connections_per_target: 1}\n"))
    p = pgpulse(config=cfg, env={"MONITOR_PW": pgfix.MONITOR_PASSWORD})
    for _ in range(3):
        page = p.scrape()
        assert page.sample("sneaky_v", target="main") == 10  # it ran
        s = page.samples("after_v", target="main")
        assert len(s) == 1
        assert s[0].labels["app"] == "pgpulse" and s[0].labels["ro"] == "on", s[0].labels
        assert s[0].labels["wm"] != "77kB", s[0].labels
    assert pg.scalar("SELECT count(*) FROM pg_stat_activity WHERE usename = 'monitor' "
                     "AND application_name = 'sneaky'") == 0
    pg.psql("DROP FUNCTION pgpulse_sneaky()")
