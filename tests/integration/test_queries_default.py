"""The default query set (queries/*.yaml) against real PostgreSQL: every
family compared with what PostgreSQL (psql, du) reports in the same test.
Tests taking pgv run on every version of PGPULSE_PG_VERSIONS (13 to 18 in
make check); those taking pg on PostgreSQL 15 only."""

import subprocess
import time

import pgfix


def config(pg, *, params=None, data_directory=None, tags=None, dbname="postgres"):
    lines = ["targets:", "  - name: main", f"    url: {pg.dsn(dbname=dbname)}"]
    if data_directory is not None:
        lines.append(f"    data_directory: {data_directory}")
    if tags:
        lines.append(f"    tags: [{', '.join(tags)}]")
    lines.append(f"queries: [{pgfix.REPO / 'queries'}]")
    if params:
        lines.append("params:")
        lines += [f"  {k}: {v}" for k, v in params.items()]
    return "\n".join(lines) + "\n"


def du(path):
    out = subprocess.run(["du", "--block-size=1", "-s", "-x", str(path)], check=True,
                         capture_output=True, text=True).stdout
    return int(out.split()[0])


def test_whole_default_page_is_promtool_clean_and_every_collector_runs(pgv, pgpulse, promtool_check):
    page = pgpulse().scrape()
    promtool_check(page)
    failed = [s.labels["collector"] for s in page.samples("pgpulse_scrape_success") if s.value != 1]
    assert failed == [], failed
    for fam in ("pg_connections", "pg_connections_max", "pg_settings_bytes", "pg_locks",
                "pg_checkpoints_timed_total", "pg_archiver_archived_total",
                "pg_wal_segments", "pg_tablespace_size_bytes", "pg_database_xid_age",
                "pg_stat_statements_calls_total",
                "pg_database_disk_bytes", "pg_filesystem_avail_bytes"):
        assert page.samples(fam), fam
    # a collector whose gate (min_version, min_extversion) keeps it off
    # this version gives nothing, and every other one runs
    gated = {"pg_stat_wal": "pg_wal_records_total",
             "pg_stat_statements_info": "pg_stat_statements_dealloc_total",
             "pg_stat_io": "pg_io_reads_total"}
    for collector, fam in gated.items():
        runs = pgfix.collector_variant(pgv, collector) is not None
        assert bool(page.samples(fam)) == runs, (collector, pgv.version_num)
        assert page.has("pgpulse_scrape_success", collector=collector) == runs, collector


def test_connections_are_counted_by_database_role_and_state(pgv, pgpulse):
    pgv.psql("CREATE DATABASE qconn")
    conns = []
    try:
        for _ in range(3):
            conns.append(pgv.connect("qconn"))
        for _ in range(2):
            c = pgv.connect("qconn", autocommit=False)
            c.execute("SELECT 1")  # idle in transaction from now on
            conns.append(c)
        time.sleep(1.1)
        p = pgpulse()
        page = p.scrape()
        others = pgv.scalar("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
                           "AND application_name <> 'pgpulse' AND pid <> pg_backend_pid()")
        lbl = dict(datname="qconn", usename="postgres", backend_type="client backend")
        assert page.sample("pg_connections", state="idle", **lbl) == 3
        assert page.sample("pg_connections", state="idle in transaction", **lbl) == 2
        assert page.sample("pg_connections", backend_type="checkpointer") == 1
        # plus pgpulse's own sessions (at most connections_per_target, 2)
        assert others + 1 <= page.sample("pg_connections_used") <= others + 2
        assert page.sample("pg_connections_used") == sum(
            s.value for s in page.samples("pg_connections", backend_type="client backend"))
        maxc = int(pgv.scalar("SHOW max_connections"))
        reserved = int(pgv.scalar("SHOW superuser_reserved_connections"))
        assert page.sample("pg_connections_max") == maxc == 40
        assert page.sample("pg_connections_reserved") == reserved
        assert abs(page.sample("pg_connections_utilization_ratio")
                   - page.sample("pg_connections_used") / (maxc - reserved)) < 1e-9
        idle = page.sample("pg_transaction_idle_oldest_age_seconds")
        assert 1.0 <= idle < 60
        assert page.sample("pg_transaction_oldest_age_seconds") >= idle
        assert page.sample("pg_role_connections", rolname="postgres") >= 5
        pgv.psql("ALTER ROLE monitor CONNECTION LIMIT 7; ALTER DATABASE qconn CONNECTION LIMIT 9")
        page = p.scrape()
        assert page.sample("pg_role_connection_limit", rolname="monitor") == 7
        assert page.sample("pg_database_connection_limit", datname="qconn") == 9
        # a held lock is counted by database and mode
        conns[3].execute("LOCK TABLE pg_class IN SHARE MODE")  # inside its open transaction
        page = p.scrape()
        want = pgv.scalar("SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
                         "WHERE d.datname = 'qconn' AND mode = 'ShareLock' AND granted")
        assert want >= 1
        assert page.sample("pg_locks", datname="qconn", mode="ShareLock", granted="true") == want
    finally:
        for c in conns:
            c.close()
        pgv.psql("ALTER ROLE monitor CONNECTION LIMIT -1")
        pgv.psql("DROP DATABASE qconn WITH (FORCE)")


def test_sizes_and_disk_bytes_match_postgresql_and_du(pgv, pgpulse):
    pgv.psql("CREATE DATABASE qsize")
    try:
        pgv.psql("CREATE TABLE big AS SELECT g, repeat('x', 300) AS pad "
                "FROM generate_series(1, 30000) g; CHECKPOINT", dbname="qsize")
        pgv.psql("CHECKPOINT")
        p = pgpulse()
        page = p.scrape()
        oid = pgv.scalar("SELECT oid FROM pg_database WHERE datname = 'qsize'")
        on_disk = du(pgv.datadir / "base" / str(oid))
        got = page.sample("pg_database_disk_bytes", datname="qsize")
        assert abs(got - on_disk) <= 256 * 1024, (got, on_disk)
        assert got > 8_000_000
        size = pgv.scalar("SELECT pg_database_size('qsize')")
        assert abs(page.sample("pg_database_size_bytes", datname="qsize") - size) <= 64 * 1024
        assert abs(page.sample("pg_wal_disk_bytes") - du(pgv.datadir / "pg_wal")) <= 16 << 20
        for spc in ("pg_default", "pg_global"):
            want = pgv.scalar("SELECT pg_tablespace_size(%s)", (spc,))
            assert abs(page.sample("pg_tablespace_size_bytes", spcname=spc) - want) <= 256 * 1024
        assert abs(page.sample("pg_tablespace_disk_bytes", spcname="pg_global")
                   - du(pgv.datadir / "global")) <= 64 * 1024
        segs, wal = pgv.psql("SELECT count(*), sum(size)::float8 FROM pg_ls_waldir() "
                            "WHERE name ~ '^[0-9A-F]{24}$'")[0]
        assert abs(page.sample("pg_wal_segments") - segs) <= 1
        assert abs(page.sample("pg_wal_size_bytes") - wal) <= 16 << 20
        import os
        st = os.statvfs(pgv.datadir)
        assert page.sample("pg_filesystem_size_bytes", directory="data") == st.f_blocks * st.f_frsize
        assert abs(page.sample("pg_filesystem_avail_bytes", directory="data")
                   - st.f_bavail * st.f_frsize) < 256 << 20
        assert page.sample("pg_temp_files", spcname="pg_default") == 0
        # settings in base units, as the server has them
        assert page.sample("pg_settings_bytes", name="shared_buffers") == 32 << 20
        assert page.sample("pg_settings_seconds", name="checkpoint_timeout") == \
            pgv.scalar("SELECT setting::int FROM pg_settings WHERE name = 'checkpoint_timeout'")
        assert page.sample("pg_settings_value", name="max_connections") == 40
        assert page.sample("pg_settings_value", name="fsync") == 0
        assert page.sample("pg_settings_bytes", name="log_temp_files") == -1
        assert not page.has("pg_settings_seconds", name="statement_timeout")  # pgpulse's own
        assert page.samples("pg_settings_unconverted_value") == []
        # xid age per database
        age = pgv.scalar("SELECT age(datfrozenxid) FROM pg_database WHERE datname = 'qsize'")
        assert abs(page.sample("pg_database_xid_age", datname="qsize") - age) <= 5
    finally:
        pgv.psql("DROP DATABASE qsize WITH (FORCE)")


def test_unreadable_data_directory_leaves_disk_metrics_out(pg, pgpulse, promtool_check):
    p = pgpulse(config=config(pg, data_directory="/nonexistent/pgdata"))
    page = p.scrape()
    promtool_check(page)
    assert not page.has("pg_database_disk_bytes")
    assert not page.has("pg_filesystem_size_bytes")
    assert page.sample("pg_database_size_bytes", datname="postgres", target="main") > 0
    page = p.scrape()
    assert not page.has("pg_database_disk_bytes")
    lines = [l for l in p.log_text().splitlines() if "collector=pg_database_disk" in l]
    assert len(lines) == 1, lines  # the reason, once
    assert "/nonexistent/pgdata/base/" in lines[0] and "No such file" in lines[0]


TABLES_SQL = """
SELECT current_database(), s.relname, pg_total_relation_size(s.relid)::float8,
       s.n_dead_tup::float8, s.n_mod_since_analyze::float8
FROM pg_stat_user_tables s
"""


def tables_top(pg, n, per_database):
    """Ground truth of pg_tables' rule, from psql: in each database the
    per_database first by size, dead rows and changed rows (those > 0);
    across the cluster the n first by each of them (> 0), together."""
    dbs = [r[0] for r in pg.psql("SELECT datname FROM pg_database WHERE datallowconn "
                                 "AND NOT datistemplate")]
    rows = [r for db in dbs for r in pg.psql(TABLES_SQL, dbname=db)]

    def first(cands, k, limit, positive):
        ranked = sorted(cands, key=lambda r: (-r[k], r[0], r[1]))
        return [r for r in ranked if not positive or r[k] > 0][:limit]

    cands = set()
    for db in dbs:
        mine = [r for r in rows if r[0] == db]
        for k, positive in ((2, False), (3, True), (4, True)):
            cands |= {(r[0], r[1]) for r in first(mine, k, per_database, positive)}
    pool = [r for r in rows if (r[0], r[1]) in cands]
    return {(r[0], r[1]) for k, positive in ((2, False), (3, True), (4, True))
            for r in first(pool, k, n, positive)}


def test_tables_top_across_the_cluster_by_size_dead_and_changed_rows(pgv, pgpulse,
                                                                    promtool_check):
    with pgv.databases("qtab1", "qtab2"):
        off = "WITH (autovacuum_enabled = off)"
        # one transaction each: what an ANALYZE saw counts once committed
        pgv.psql(f"CREATE TABLE big1 {off} AS SELECT g, repeat('z', 200) AS p "
                 "FROM generate_series(1, 30000) g;"
                 f"CREATE TABLE fresh (g int) {off}", dbname="qtab1")
        pgv.psql("ANALYZE big1, fresh", dbname="qtab1")
        pgv.psql("INSERT INTO fresh SELECT generate_series(1, 3000);"
                 "SELECT count(*) FROM big1; SELECT count(*) FROM big1", dbname="qtab1")
        pgv.psql(f"CREATE TABLE big2 {off} AS SELECT g, repeat('y', 200) AS p "
                 "FROM generate_series(1, 20000) g;"
                 f"CREATE TABLE dirty {off} AS SELECT generate_series(1, 2000) AS g",
                 dbname="qtab2")
        pgv.psql("ANALYZE big2, dirty", dbname="qtab2")
        pgv.psql("DELETE FROM dirty WHERE g <= 1500", dbname="qtab2")
        time.sleep(0.6)  # statistics are flushed at most every 0.5 s
        want = tables_top(pgv, 1, 10)
        # the situation made: one table chosen by each criterion
        assert {("qtab1", "big1"), ("qtab2", "dirty"), ("qtab1", "fresh")} <= want, want
        p = pgpulse(config=config(pgv, params={"pg_tables.top_n": 1}))
        page = p.scrape()
        promtool_check(page)
        got = {(s.labels["datname"], s.labels["relname"])
               for s in page.samples("pg_table_total_size_bytes")}
        assert got == want
        for db, rel in (("qtab1", "big1"), ("qtab2", "dirty")):
            lbl = dict(datname=db, relname=rel)
            size = pgv.scalar("SELECT pg_total_relation_size(%s)", (rel,), dbname=db)
            assert page.sample("pg_table_total_size_bytes", **lbl) == size
            dead = pgv.scalar("SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = %s",
                              (rel,), dbname=db)
            assert page.sample("pg_table_dead_rows", **lbl) == dead
        assert page.sample("pg_table_dead_rows", datname="qtab2", relname="dirty") == 1500
        assert page.sample("pg_table_rows_modified_since_analyze", datname="qtab1",
                           relname="fresh") == 3000
        assert page.sample("pg_table_seq_scans_total", datname="qtab1", relname="big1") == \
            pgv.scalar("SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'big1'",
                       dbname="qtab1")
        # every database's tables, summed, whether or not one made the top
        for db in ("qtab1", "qtab2", "postgres"):
            n, live, dead, seq = pgv.psql(
                "SELECT count(*)::float8, coalesce(sum(n_live_tup), 0)::float8, "
                "coalesce(sum(n_dead_tup), 0)::float8, coalesce(sum(seq_scan), 0)::float8 "
                "FROM pg_stat_user_tables", dbname=db)[0]
            assert page.sample("pg_database_tables", datname=db) == n
            assert page.sample("pg_database_tables_live_rows", datname=db) == live
            assert page.sample("pg_database_tables_dead_rows", datname=db) == dead
            assert page.sample("pg_database_tables_seq_scans_total", datname=db) == seq
        assert page.sample("pg_database_tables_over_vacuum_threshold", datname="qtab2") == 1
        assert page.sample("pg_database_tables_over_vacuum_threshold", datname="qtab1") == 0


def test_statement_counts_and_times_after_known_statements(pgv, pgpulse):
    pgv.psql("SELECT pg_stat_statements_reset()")
    with pgv.connect() as c:
        for i in range(7):
            c.execute("SELECT pg_sleep(0.01), %s::int AS qpulse_marker", (i,))
    qid, calls, exec_ms, rows = pgv.psql(
        "SELECT queryid::text, sum(calls)::float8, sum(total_exec_time), sum(rows)::float8 "
        "FROM pg_stat_statements WHERE query LIKE '%%qpulse_marker%%' GROUP BY queryid")[0]
    assert calls == 7
    before = pgv.scalar("SELECT sum(calls)::float8 FROM pg_stat_statements")
    page = pgpulse().scrape()
    lbl = dict(datname="postgres", usename="postgres", queryid=qid)
    assert page.sample("pg_stat_statements_calls_total", **lbl) == 7
    assert page.sample("pg_stat_statements_rows_total", **lbl) == rows
    assert abs(page.sample("pg_stat_statements_exec_seconds_total", **lbl) - exec_ms / 1000) < 1e-6
    assert page.sample("pg_stat_statements_exec_seconds_total", **lbl) >= 0.07
    # totals stay exact: the sum over all series is what the view holds
    after = pgv.scalar("SELECT sum(calls)::float8 FROM pg_stat_statements")
    got = sum(s.value for s in page.samples("pg_stat_statements_calls_total"))
    assert before <= got <= after
    if pgfix.collector_variant(pgv, "pg_stat_statements_info") is not None:
        reset = pgv.scalar("SELECT extract(epoch FROM stats_reset)::float8 FROM pg_stat_statements_info")
        assert abs(page.sample("pg_stat_statements_stats_reset_timestamp_seconds") - reset) < 1e-3
    else:
        assert not page.has("pg_stat_statements_stats_reset_timestamp_seconds")


def test_a_thousand_statements_give_top_n_plus_other(pgv, pgpulse):
    pgv.psql("SELECT pg_stat_statements_reset()")
    with pgv.connect() as c:
        for i in range(1000):  # 1,000 distinct queryids: 1, 1 + 1, 1 + 1 + 1...
            c.execute("SELECT 1" + " + 1" * i)
    assert pgv.scalar("SELECT count(*) FROM pg_stat_statements WHERE query LIKE 'SELECT $1%%'") >= 1000
    n = 10
    p = pgpulse(config=config(pgv, params={"pg_stat_statements.top_n": n}, tags=["statement_texts"]))
    before = pgv.scalar("SELECT sum(calls)::float8 FROM pg_stat_statements")
    page = p.scrape()
    after = pgv.scalar("SELECT sum(calls)::float8 FROM pg_stat_statements")
    for fam in ("pg_stat_statements_calls_total", "pg_stat_statements_exec_seconds_total",
                "pg_stat_statements_rows_total", "pg_stat_statements_wal_bytes_total"):
        got = page.samples(fam)
        assert len(got) == n + 1, (fam, len(got))
        assert len([s for s in got if s.labels["queryid"] == "other"]) == 1
    got = sum(s.value for s in page.samples("pg_stat_statements_calls_total"))
    assert before <= got <= after
    # the opt-in texts: limited in number and length
    texts = page.samples("pg_stat_statements_query_info")
    assert 0 < len(texts) <= 100
    assert all(len(s.labels["query"]) <= 200 for s in texts)


def test_replication_lag_on_primary_and_standby(pg, replica, pgpulse):
    pg.psql("CREATE TABLE IF NOT EXISTS qrepl (v text)")
    replica.catch_up()
    prim = pgpulse()
    stby = pgpulse(dsn=replica.dsn())
    page = prim.scrape()
    lbl = dict(application_name=replica.name)
    assert page.sample("pg_replication_standby_replay_lag_bytes", state="streaming", **lbl) >= 0
    # pause replay, write, and see the lag on both sides
    replica.psql("SELECT pg_wal_replay_pause()")
    try:
        pg.psql("INSERT INTO qrepl SELECT repeat('w', 1000) FROM generate_series(1, 2000)")
        lsn = pg.scalar("SELECT pg_current_wal_lsn()")
        deadline = time.monotonic() + 20
        while not replica.scalar("SELECT pg_last_wal_receive_lsn() >= %s::pg_lsn", (lsn,)):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.3)  # the standby's reply reaches the primary
        want = pg.scalar("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::float8 "
                         "FROM pg_stat_replication WHERE application_name = %s", (replica.name,))
        page = prim.scrape()
        got = page.sample("pg_replication_standby_replay_lag_bytes", **lbl)
        assert want > 1_000_000 and abs(got - want) <= 64 * 1024, (got, want)
        # replay is paused, so the lag only grows (WAL keeps arriving):
        # the scraped value lies between a read before and one after
        lag_sql = ("SELECT pg_wal_lsn_diff(pg_last_wal_receive_lsn(), "
                   "pg_last_wal_replay_lsn())::float8")
        before = replica.scalar(lag_sql)
        spage = stby.scrape()
        after = replica.scalar(lag_sql)
        assert before > 1_000_000
        assert before <= spage.sample("pg_standby_replay_lag_bytes") <= after
        assert spage.sample("pg_standby_replay_lag_seconds") > 0
        assert spage.sample("pg_is_in_recovery") == 1
        assert spage.sample("pg_standby_wal_receiver_streaming") == 1
        assert spage.samples("pg_info")[0].labels["role"] == "replica"
        assert not spage.has("pg_replication_standby_replay_lag_bytes")
    finally:
        replica.psql("SELECT pg_wal_replay_resume()")
    replica.catch_up()
    # WAL the primary writes on its own (a running-xacts record, say) can
    # arrive between catch_up and the scrape: the lag must return to 0
    def caught_up():
        spage = stby.scrape()
        return (spage.sample("pg_standby_replay_lag_bytes") == 0
                and spage.sample("pg_standby_replay_lag_seconds") == 0)
    assert pgfix.wait_for(caught_up, timeout=30)
    # a slot: active while used, with the WAL it holds back
    pg.psql("SELECT pg_create_physical_replication_slot('qslot', true)")
    try:
        page = prim.scrape()
        want = pg.scalar("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::float8 "
                         "FROM pg_replication_slots WHERE slot_name = 'qslot'")
        assert page.sample("pg_replication_slot_active", slot_name="qslot", slot_type="physical") == 0
        assert abs(page.sample("pg_replication_slot_retained_wal_bytes", slot_name="qslot") - want) <= 64 * 1024
    finally:
        pg.psql("SELECT pg_drop_replication_slot('qslot')")
