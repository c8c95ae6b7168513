"""The DBA collectors (queries/logical.yaml, horizon.yaml, sequences.yaml,
indexes.yaml, progress.yaml, the slot and standby parts of replication.yaml,
the SHOW CLIENTS/SERVERS/MEM/USERS part of pgbouncer.yaml) against real
servers: each test creates the situation (a subscription, a lost slot, two
walsenders from one host, an open transaction, a sequence near its end, an
invalid index, a CREATE INDEX in progress, pgbouncer clients) and compares
the scraped values with what psql or the console reports."""

import os
import subprocess
import threading
import time

import pytest

import pgfix
from pgfix import wait_for

QUERIES = pgfix.REPO / "queries"


def config(pg, files, params=None, dbname="postgres"):
    lines = ["targets:", "  - name: main", f"    url: {pg.dsn(dbname=dbname)}",
             "queries: [" + ", ".join(str(QUERIES / f) for f in files) + "]"]
    if params:
        lines.append("params:")
        lines += [f"  {k}: {v}" for k, v in params.items()]
    return "\n".join(lines) + "\n"


def ok(page, *collectors):
    for c in collectors:
        assert page.sample("pgpulse_scrape_success", collector=c) == 1, c


@pytest.fixture(params=pgfix.pg_versions(), ids=lambda m: f"pg{m}")
def cluster_factory(request, scratch):
    """pg_factory on each version of PGPULSE_PG_VERSIONS (15 alone when
    unset): the slot, subscription and horizon views differ by version."""
    major = request.param
    made = []

    def make(settings=None):
        c = pgfix.start_cluster(scratch, f"dba{major}-{len(made)}-{os.urandom(3).hex()}",
                                settings, bin=pgfix.pg_bin(major))
        made.append(c)
        return c

    yield make
    for c in reversed(made):
        c.destroy()


# --- logical replication --------------------------------------------------

@pytest.fixture
def logical_pg(cluster_factory):
    return cluster_factory(settings={"wal_level": "logical", "max_prepared_transactions": 4,
                                     "max_slot_wal_keep_size": "64MB", "max_wal_size": "64MB",
                                     "min_wal_size": "32MB"})


def subscribe(pg):
    """A publication in database pub, its subscription in database sub of
    the same cluster (the slot made by hand: CREATE SUBSCRIPTION would wait
    for its own cluster to create it)."""
    pg.psql("CREATE DATABASE pub")
    pg.psql("CREATE DATABASE sub")
    pg.psql("CREATE TABLE t (id int PRIMARY KEY, v text);"
            "INSERT INTO t SELECT g, 'x' FROM generate_series(1, 100) g;"
            "CREATE PUBLICATION p FOR TABLE t", dbname="pub")
    pg.psql("SELECT pg_create_logical_replication_slot('s1', 'pgoutput')", dbname="pub")
    pg.psql("CREATE TABLE t (id int PRIMARY KEY, v text)", dbname="sub")
    pg.psql(f"CREATE SUBSCRIPTION s1 CONNECTION 'host={pg.sockdir} port={pg.port} dbname=pub "
            "user=postgres' PUBLICATION p WITH (create_slot = false, slot_name = 's1')",
            dbname="sub")
    assert wait_for(lambda: pg.scalar("SELECT count(*) FROM t", dbname="sub") == 100, timeout=60)
    assert wait_for(lambda: pg.scalar("SELECT count(*) FROM pg_subscription_rel WHERE srsubstate <> 'r'",
                               dbname="sub") == 0, timeout=60)


def test_subscription_workers_errors_and_logical_slot_lag(logical_pg, pgpulse, promtool_check):
    pg = logical_pg
    subscribe(pg)
    p = pgpulse(config=config(pg, ["server.yaml", "logical.yaml", "replication.yaml"]))
    page = p.scrape()
    promtool_check(page)
    ok(page, "pg_subscription", "pg_replication_slot_stats", "pg_replication_slot_wal_status")
    sub = dict(subname="s1", datname="sub")
    assert page.sample("pg_subscription_enabled", **sub) == 1
    workers = pg.scalar("SELECT count(*) FROM pg_stat_subscription WHERE subname = 's1' "
                        "AND relid IS NULL AND pid IS NOT NULL")
    assert workers == 1
    assert page.sample("pg_subscription_apply_workers", **sub) == workers
    assert page.sample("pg_subscription_sync_workers", **sub) == 0
    if pg.version_num >= 150000:  # pg_stat_subscription_stats
        assert page.sample("pg_subscription_apply_errors_total", **sub) == 0
    assert 0 <= page.sample("pg_subscription_last_message_age_seconds", **sub) < 600
    slot = dict(slot_name="s1", slot_type="logical", database="pub")
    assert page.sample("pg_replication_slot_active", **slot) == 1
    if pg.version_num >= 160000:
        assert page.sample("pg_replication_slot_conflicting", **slot) == 0
    else:
        assert not page.has("pg_replication_slot_conflicting")
    assert page.sample("pg_replication_slot_wal_status", slot_name="s1", status="reserved") == 1
    for st in ("extended", "unreserved", "lost"):
        assert page.sample("pg_replication_slot_wal_status", slot_name="s1", status=st) == 0

    # the subscriber stops consuming: the slot's lag is the WAL written since
    pg.psql("ALTER SUBSCRIPTION s1 DISABLE", dbname="sub")
    assert wait_for(lambda: not pg.scalar("SELECT active FROM pg_replication_slots WHERE slot_name = 's1'"))
    pg.psql("INSERT INTO t SELECT g, repeat('y', 500) FROM generate_series(101, 5000) g", dbname="pub")
    lag_sql = ("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::float8 "
               "FROM pg_replication_slots WHERE slot_name = 's1'")
    before = pg.scalar(lag_sql)
    page = p.scrape()
    after = pg.scalar(lag_sql)
    assert before > 1_000_000
    assert before <= page.sample("pg_replication_slot_confirmed_flush_lag_bytes", **slot) <= after
    assert page.sample("pg_replication_slot_active", **slot) == 0
    assert page.sample("pg_subscription_enabled", **sub) == 0
    assert page.sample("pg_subscription_apply_workers", **sub) == 0
    assert not page.has("pg_subscription_received_lsn_bytes", **sub)  # no apply worker

    if pg.version_num < 150000:
        return  # no error counters before pg_stat_subscription_stats
    # a row the subscriber already has: every apply attempt fails
    pg.psql("INSERT INTO t VALUES (6000, 'local')", dbname="sub")
    pg.psql("INSERT INTO t VALUES (6000, 'remote')", dbname="pub")
    pg.psql("ALTER SUBSCRIPTION s1 ENABLE", dbname="sub")
    errors_sql = "SELECT apply_error_count FROM pg_stat_subscription_stats WHERE subname = 's1'"
    assert wait_for(lambda: pg.scalar(errors_sql) >= 1, timeout=60)
    before = pg.scalar(errors_sql)
    page = p.scrape()
    after = pg.scalar(errors_sql)
    assert before <= page.sample("pg_subscription_apply_errors_total", **sub) <= after
    assert page.sample("pg_subscription_sync_errors_total", **sub) == 0


def test_slot_past_max_slot_wal_keep_size_is_lost_with_its_reason(cluster_factory, pgpulse):
    pg = cluster_factory(settings={"max_slot_wal_keep_size": "16MB", "max_wal_size": "32MB",
                              "min_wal_size": "32MB", "wal_keep_size": 0})
    pg.psql("SELECT pg_create_physical_replication_slot('doomed', true)")
    p = pgpulse(config=config(pg, ["replication.yaml"]))
    page = p.scrape()
    assert page.sample("pg_replication_slot_wal_status", slot_name="doomed", status="reserved") == 1
    safe = pg.scalar("SELECT safe_wal_size::float8 FROM pg_replication_slots")
    assert abs(page.sample("pg_replication_slot_safe_wal_size_bytes", slot_name="doomed")
               - safe) <= 64 * 1024
    assert not page.has("pg_replication_slot_invalidated")
    # WAL beyond max_slot_wal_keep_size, then a checkpoint removes it
    deadline = time.monotonic() + 120
    while pg.scalar("SELECT wal_status FROM pg_replication_slots") != "lost":
        assert time.monotonic() < deadline, pg.psql("SELECT * FROM pg_replication_slots")
        pg.psql("CREATE TABLE IF NOT EXISTS w (v text);"
                "INSERT INTO w SELECT repeat('w', 1000) FROM generate_series(1, 4000);"
                "SELECT pg_switch_wal(); CHECKPOINT")
    page = p.scrape()
    assert page.sample("pg_replication_slot_wal_status", slot_name="doomed", status="lost") == 1
    assert page.sample("pg_replication_slot_wal_status", slot_name="doomed", status="reserved") == 0
    assert page.sample("pg_replication_slot_invalidated", slot_name="doomed",
                       reason="wal_removed") == 1
    if pg.version_num >= 170000:
        assert pg.scalar("SELECT invalidation_reason FROM pg_replication_slots") == "wal_removed"
        inactive = pg.scalar("SELECT extract(epoch FROM clock_timestamp() - inactive_since)::float8 "
                             "FROM pg_replication_slots")
        assert 0 < page.sample("pg_replication_slot_inactive_seconds", slot_name="doomed") <= inactive
    else:
        assert not page.has("pg_replication_slot_inactive_seconds")


# --- standbys that share a name -------------------------------------------

def test_walsenders_with_one_application_name_from_one_host_stay_distinct(pg_factory, pgpulse,
                                                                          promtool_check):
    pg = pg_factory()
    receivewal = pgfix.PG_BIN / "pg_receivewal"
    pgfix.require_file(receivewal, "pg_receivewal")
    pg.psql("SELECT pg_create_physical_replication_slot('twin_slot')")
    procs = []

    def start(slot=None):
        d = pg.dir / f"recv-{len(procs)}"
        d.mkdir()
        pgfix.give(d)
        cmd = [receivewal, "-D", d, "--no-loop", "-d",
               f"host=127.0.0.1 port={pg.port} user=postgres application_name=twin"]
        if slot:
            cmd += ["--slot", slot]
        env = pgfix.owner_env(pg.dir, PGPASSWORD=pgfix.SUPERUSER_PASSWORD)
        procs.append(subprocess.Popen(pgfix.as_owner([str(c) for c in cmd]), env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                      start_new_session=True))
        n = len(procs)
        assert wait_for(lambda: pg.scalar("SELECT count(*) FROM pg_stat_replication "
                                   "WHERE application_name = 'twin' AND state = 'streaming'") == n,
                 timeout=30)

    try:
        start("twin_slot")
        start()
        start()
        p = pgpulse(config=config(pg, ["replication.yaml"]))
        page = p.scrape()
        promtool_check(page)
        got = {(s.labels["slot_name"], s.labels["sender"])
               for s in page.samples("pg_replication_standby_send_lag_bytes",
                                     application_name="twin", client_addr="127.0.0.1")}
        assert got == {("twin_slot", "1"), ("", "1"), ("", "2")}
        # the younger slot-less walsender goes: the older one keeps its labels
        pids = [r[0] for r in pg.psql("SELECT pid FROM pg_stat_replication WHERE application_name = "
                                      "'twin' AND pid NOT IN (SELECT active_pid FROM "
                                      "pg_replication_slots WHERE active_pid IS NOT NULL) "
                                      "ORDER BY backend_start, pid")]
        assert len(pids) == 2
        pg.psql("SELECT pg_terminate_backend(%s)", (pids[1],))
        procs[2].wait(30)
        assert wait_for(lambda: pg.scalar("SELECT count(*) FROM pg_stat_replication "
                                   "WHERE application_name = 'twin'") == 2)
        page = p.scrape()
        got = {(s.labels["slot_name"], s.labels["sender"])
               for s in page.samples("pg_replication_standby_send_lag_bytes", application_name="twin")}
        assert got == {("twin_slot", "1"), ("", "1")}
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(30)


# --- xmin horizon ------------------------------------------------------------

def burn_xids(pg, n):
    with pg.connect() as c:
        for _ in range(n):
            c.execute("SELECT pg_current_xact_id()")


def test_xmin_horizon_per_holder_and_prepared_transactions(pg_factory, pgpulse, promtool_check):
    pg = pg_factory(settings={"wal_level": "logical", "max_prepared_transactions": 4})
    pg.psql("CREATE DATABASE hz")
    pg.psql("CREATE TABLE t (v int)", dbname="hz")
    # the slot first: creating it waits for every transaction running
    pg.psql("SELECT pg_create_logical_replication_slot('hz_slot', 'pgoutput')", dbname="hz")
    burn_xids(pg, 5)
    holder = pg.connect("hz", autocommit=False)
    try:
        holder.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        holder.execute("SELECT pg_current_xact_id()")
        burn_xids(pg, 5)
        with pg.connect("hz", autocommit=False) as c:
            c.execute("INSERT INTO t VALUES (1)")
            c.execute("PREPARE TRANSACTION 'hz_prep'")
        burn_xids(pg, 5)
        p = pgpulse(config=config(pg, ["horizon.yaml"]))
        before = time.time()
        page = p.scrape()
        promtool_check(page)
        ok(page, "pg_xmin_horizon", "pg_prepared_xacts")
        want = pg.scalar("SELECT max(greatest(age(backend_xmin), age(backend_xid))) "
                         "FROM pg_stat_activity WHERE datname = 'hz'")
        assert want >= 10
        assert page.sample("pg_xmin_horizon_age_xids", holder="backend", datname="hz") == want
        want = pg.scalar("SELECT age(catalog_xmin) FROM pg_replication_slots WHERE slot_name = 'hz_slot'")
        assert page.sample("pg_xmin_horizon_age_xids", holder="slot_catalog", name="hz_slot",
                           datname="hz") == want
        want = pg.scalar("SELECT age(transaction) FROM pg_prepared_xacts")
        assert want >= 5
        assert page.sample("pg_xmin_horizon_age_xids", holder="prepared", datname="hz") == want
        assert not page.has("pg_xmin_horizon_age_xids", holder="standby")
        assert page.sample("pg_prepared_transactions") == 1
        prepared = pg.scalar("SELECT extract(epoch FROM prepared)::float8 FROM pg_prepared_xacts")
        age = page.sample("pg_prepared_transaction_oldest_age_seconds")
        assert before - prepared - 1 <= age <= time.time() - prepared + 1
        # the holders go: their series go
        holder.rollback()
        pg.psql("ROLLBACK PREPARED 'hz_prep'", dbname="hz")
        pg.psql("SELECT pg_drop_replication_slot('hz_slot')")
        page = p.scrape()
        assert not page.has("pg_xmin_horizon_age_xids", datname="hz")
        assert page.sample("pg_prepared_transactions") == 0
        assert not page.has("pg_prepared_transaction_oldest_age_seconds")
    finally:
        holder.close()


# --- sequences ---------------------------------------------------------------

def test_sequences_above_the_threshold_in_every_database(pg, pgpulse, promtool_check):
    with pg.databases("qseq1", "qseq2"):
        pg.psql("CREATE SEQUENCE small AS smallint; SELECT setval('small', 30000);"
                "CREATE SEQUENCE down INCREMENT -2 MINVALUE -101 MAXVALUE -1 START -1;"
                "SELECT setval('down', -81);"
                "CREATE SEQUENCE young; SELECT nextval('young');"
                "CREATE SEQUENCE circle AS smallint CYCLE; SELECT setval('circle', 32000);"
                "CREATE SEQUENCE hidden AS smallint; SELECT setval('hidden', 32000);"
                "GRANT SELECT ON SEQUENCE small, down, young, circle TO monitor", dbname="qseq1")
        pg.psql("CREATE SEQUENCE big AS integer; SELECT setval('big', 2000000000);"
                "GRANT SELECT ON SEQUENCE big TO monitor", dbname="qseq2")
        p = pgpulse(config=config(pg, ["sequences.yaml"], params={"pg_sequences.threshold": 0.6}))
        page = p.scrape()
        promtool_check(page)
        got = {(s.labels["datname"], s.labels["sequencename"]): s.value
               for s in page.samples("pg_sequence_used_ratio") if s.labels["datname"].startswith("qseq")}
        assert set(got) == {("qseq1", "small"), ("qseq1", "down"), ("qseq2", "big")}
        assert got[("qseq1", "small")] == pytest.approx((30000 - 1) / (32767 - 1))
        assert got[("qseq1", "down")] == pytest.approx((-1 - -81) / (-1 - -101))
        assert got[("qseq2", "big")] == pytest.approx((2000000000 - 1) / (2147483647 - 1))
        assert page.sample("pg_sequence_remaining_values", datname="qseq1", sequencename="small") == 2767
        assert page.sample("pg_sequence_remaining_values", datname="qseq1", sequencename="down") == 10
        # what pg_sequences shows the same role: nothing it cannot read
        assert pg.scalar("SELECT last_value FROM pg_sequences WHERE sequencename = 'hidden'",
                         dbname="qseq1", user="monitor") is None


# --- indexes -------------------------------------------------------------------

def test_unused_and_invalid_indexes_with_their_sizes(pg, pgpulse, promtool_check):
    with pg.databases("qidx"):
        pg.psql("CREATE TABLE big AS SELECT g AS id, md5(g::text) AS m, g % 7 AS k "
                "FROM generate_series(1, 60000) g;"
                "CREATE INDEX big_m ON big (m);"       # unused, ~3.5 MB
                "CREATE INDEX big_k ON big (k);"       # used below
                "CREATE UNIQUE INDEX big_id ON big (id);"  # unique: never 'unused'
                "CREATE TABLE tiny (v int); CREATE INDEX tiny_v ON tiny (v);"  # below min_bytes
                "CREATE TABLE dup (v int); INSERT INTO dup VALUES (1), (1);"
                "SET enable_seqscan = off; SELECT count(*) FROM big WHERE k = 3", dbname="qidx")
        with pytest.raises(Exception):
            pg.psql("CREATE UNIQUE INDEX CONCURRENTLY dup_v ON dup (v)", dbname="qidx")
        time.sleep(0.6)  # statistics are flushed at most every 0.5 s
        assert pg.scalar("SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = 'big_k'",
                         dbname="qidx") >= 1
        p = pgpulse(config=config(pg, ["indexes.yaml"]))
        page = p.scrape()
        promtool_check(page)
        unused = {s.labels["indexrelname"]: s.value
                  for s in page.samples("pg_index_unused_size_bytes", datname="qidx")}
        assert set(unused) == {"big_m"}
        assert unused["big_m"] == pg.scalar("SELECT pg_relation_size('big_m')", dbname="qidx")
        assert unused["big_m"] > 1 << 20
        invalid = {s.labels["indexrelname"]: s.value
                   for s in page.samples("pg_index_invalid_size_bytes", datname="qidx")}
        assert invalid == {"dup_v": pg.scalar("SELECT pg_relation_size('dup_v')", dbname="qidx")}
        assert page.sample("pg_index_invalid_size_bytes", datname="qidx", indexrelname="dup_v",
                           relname="dup", schemaname="public") == invalid["dup_v"]
        # per_database bounds each database's rows: the largest one only
        p = pgpulse(config=config(pg, ["indexes.yaml"], params={"pg_index_health.per_database": 1,
                                                                 "pg_index_health.min_bytes": 0}))
        page = p.scrape()
        names = [s.labels["indexrelname"] for fam in ("pg_index_unused_size_bytes",
                                                       "pg_index_invalid_size_bytes")
                 for s in page.samples(fam, datname="qidx")]
        assert names == ["big_m"]


INDEX_SQL = """
SELECT s.indexrelname, pg_relation_size(s.indexrelid)
FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid
WHERE (NOT i.indisvalid OR (s.idx_scan = 0 AND NOT i.indisunique))
  AND (NOT i.indisvalid OR pg_relation_size(s.indexrelid) >= {min_bytes})
"""


def test_index_top_n_is_across_the_cluster(pg, pgpulse, promtool_check):
    """top: {across: databases}: the n largest of every database together,
    not n per database; sizes as psql's pg_relation_size."""
    rows = {"qtop1": [40000, 35000], "qtop2": [30000, 5000], "qtop3": [20000]}
    min_bytes, n = 100000, 3
    with pg.databases(*rows):
        for db, counts in rows.items():
            pg.psql(";".join(f"CREATE TABLE t{k} AS SELECT g AS v FROM generate_series(1, {c}) g;"
                             f"CREATE INDEX {db}_i{k} ON t{k} (v)"
                             for k, c in enumerate(counts)), dbname=db)
        # ground truth: every database pgpulse visits, as psql sees it
        dbs = [r[0] for r in pg.psql("SELECT datname FROM pg_database "
                                     "WHERE datallowconn AND NOT datistemplate")]
        truth = {}
        for db in dbs:
            for name, size in pg.psql(INDEX_SQL.format(min_bytes=min_bytes), dbname=db):
                truth[(db, name)] = size
        top = sorted(truth.values(), reverse=True)[:n]
        # the test's indexes are the cluster's largest: qtop3's is left out
        assert {k for k, v in truth.items() if v >= top[-1]} >= {
            ("qtop1", "qtop1_i0"), ("qtop1", "qtop1_i1"), ("qtop2", "qtop2_i0")}
        p = pgpulse(config=config(pg, ["indexes.yaml"], params={
            "pg_index_health.top_n": n, "pg_index_health.min_bytes": min_bytes}))
        page = p.scrape()
        promtool_check(page)
        ok(page, "pg_index_health")
        got = {(s.labels["datname"], s.labels["indexrelname"]): s.value
               for fam in ("pg_index_unused_size_bytes", "pg_index_invalid_size_bytes")
               for s in page.samples(fam)}
        assert len(got) == n
        assert sorted(got.values(), reverse=True) == top
        for key, value in got.items():
            assert truth[key] == value, key
        assert ("qtop3", "qtop3_i0") in truth and ("qtop3", "qtop3_i0") not in got
        assert page.sample("pgpulse_series_dropped_total",
                           collector="pg_index_health") >= len(truth) - n
        # a database added later is run; the others are served from the
        # ttl cache (5m), and their cached rows still compete with its rows;
        # the top of the first scrape stays (sticky 30m)
        with pg.databases("qtop4"):
            pg.psql("CREATE TABLE t AS SELECT g AS v FROM generate_series(1, 50000) g;"
                    "CREATE INDEX qtop4_i ON t (v)", dbname="qtop4")
            truth[("qtop4", "qtop4_i")] = pg.scalar("SELECT pg_relation_size('qtop4_i')",
                                                    dbname="qtop4")
            third = sorted(truth.values(), reverse=True)[n - 1]
            page = p.scrape()
            got2 = {(s.labels["datname"], s.labels["indexrelname"]): s.value
                    for fam in ("pg_index_unused_size_bytes", "pg_index_invalid_size_bytes")
                    for s in page.samples(fam)}
            assert set(got2) == set(got) | {k for k, v in truth.items() if v >= third}
            assert ("qtop4", "qtop4_i") in got2 and ("qtop1", "qtop1_i1") in got2
            for key, value in got2.items():
                assert truth[key] == value, key


# --- progress ------------------------------------------------------------------

BLOCKER = """
CREATE FUNCTION slow(x int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF x = 10000 THEN
    PERFORM pg_advisory_lock_shared(4242);
    PERFORM pg_advisory_unlock_shared(4242);
  END IF;
  RETURN x;
END $$;
CREATE TABLE prog AS SELECT g AS v FROM generate_series(1, 20000) g;
"""

PROGRESS = """
SELECT command, phase, done FROM (
  SELECT pid, command, phase,
         coalesce(CASE WHEN blocks_total > 0 THEN blocks_done::float8 / blocks_total END,
                  CASE WHEN tuples_total > 0 THEN tuples_done::float8 / tuples_total END) AS done
  FROM pg_stat_progress_create_index
  UNION ALL
  SELECT pid, command, phase,
         CASE WHEN heap_blks_total > 0 THEN heap_blks_scanned::float8 / heap_blks_total END
  FROM pg_stat_progress_cluster
  UNION ALL
  SELECT pid, 'ANALYZE', phase,
         CASE WHEN sample_blks_total > 0 THEN sample_blks_scanned::float8 / sample_blks_total END
  FROM pg_stat_progress_analyze) p
WHERE pid = %s
"""


@pytest.mark.parametrize("command, sql", [
    ("CREATE INDEX", "CREATE INDEX prog_slow ON prog (slow(v))"),
    ("VACUUM FULL", "VACUUM FULL prog"),
    ("ANALYZE", "ANALYZE prog"),
])
def test_progress_of_a_running_command_matches_its_view(pg, pgpulse, promtool_check, command, sql):
    with pg.databases("qprog"):
        pg.psql(BLOCKER, dbname="qprog")
        if command != "CREATE INDEX":
            pg.psql("CREATE INDEX prog_slow ON prog (slow(v))", dbname="qprog")
        lock = pg.connect("qprog")
        lock.execute("SELECT pg_advisory_lock(4242)")
        worker = pg.connect("qprog")
        pid = worker.execute("SELECT pg_backend_pid()").fetchone()[0]
        worker.execute("SET max_parallel_maintenance_workers = 0")
        failure = []

        def run():
            try:
                worker.execute(sql)
            except Exception as e:  # reported below
                failure.append(e)

        t = threading.Thread(target=run)
        t.start()
        try:
            assert wait_for(lambda: pg.scalar("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s",
                                       (pid,)) == "Lock", timeout=60)
            want = pg.psql(PROGRESS, (pid,))
            assert len(want) == 1 and want[0][0] == command, want
            p = pgpulse(config=config(pg, ["progress.yaml"], dbname="qprog"))
            page = p.scrape()
            promtool_check(page)
            ok(page, "pg_progress")
            s = page.samples("pg_progress_phase_done_ratio", pid=str(pid))
            assert len(s) == 1, s
            assert s[0].labels["command"] == command
            assert s[0].labels["phase"] == want[0][1]
            assert s[0].labels["datname"] == "qprog" and s[0].labels["relname"] == "prog"
            assert s[0].value == pytest.approx(want[0][2])
            assert 0 < s[0].value <= 1
            assert page.sample("pg_progress_running_seconds", pid=str(pid)) > 0
        finally:
            lock.execute("SELECT pg_advisory_unlock(4242)")
            t.join(120)
            lock.close()
            worker.close()
        assert not failure, failure


# --- pgbouncer -------------------------------------------------------------------

def test_pgbouncer_clients_servers_memory_match_the_console(pgbouncer_factory, pgpulse,
                                                            promtool_check):
    bouncer = pgbouncer_factory()
    console = bouncer.connect(prepare_threshold=None)  # open through both reads below
    clients = []
    try:
        for app in ("web", "web", "web", "batch", ""):
            c = bouncer.connect(dbname="postgres", user="postgres", application_name=app)
            c.execute("SELECT 1")
            clients.append(c)
        pw = pgpulse.write("monitor.pw", pgfix.MONITOR_PASSWORD + "\n", mode=0o600)
        p = pgpulse(config=f"""
targets:
  - name: bouncer
    kind: pgbouncer
    url: postgresql://{pgfix.MONITOR_USER}@{bouncer.host}:{bouncer.port}/pgbouncer
    password_file: {pw}
queries: [{QUERIES / 'pgbouncer.yaml'}]
params:
  pgbouncer_clients_by_application.top_n: 2
""")
        p.scrape()  # pgpulse's console connection exists from here on

        def show(what):
            cur = console.execute(f"SHOW {what}")
            names = [d.name for d in cur.description]
            return [dict(zip(names, r)) for r in cur.fetchall()]

        def count(rows, *keys):
            out = {}
            for r in rows:
                k = tuple(r[x] or "" for x in keys)
                out[k] = out.get(k, 0) + 1
            return out

        before = (show("CLIENTS"), show("SERVERS"), show("MEM"))
        page = p.scrape()
        after = (show("CLIENTS"), show("SERVERS"), show("MEM"))
        promtool_check(page)
        ok(page, "pgbouncer_clients", "pgbouncer_clients_by_application", "pgbouncer_servers",
           "pgbouncer_mem", "pgbouncer_users")
        want = count(before[0], "database", "user", "state")
        assert want == count(after[0], "database", "user", "state")
        assert want[("postgres", "postgres", "active")] == 5
        assert {(s.labels["database"], s.labels["user"], s.labels["state"]): s.value
                for s in page.samples("pgbouncer_clients_connections")} == want
        want = count(before[1], "database", "user", "state")
        assert {(s.labels["database"], s.labels["user"], s.labels["state"]): s.value
                for s in page.samples("pgbouncer_servers_connections")} == want
        # the top 2 names by connections; the others summed as "other"
        apps = count(before[0], "application_name")
        assert apps[("web",)] == 3 and apps[("pgpulse",)] == 1
        got = {s.labels["application_name"]: s.value
               for s in page.samples("pgbouncer_clients_application_connections")}
        assert got["web"] == 3 and len(got) == 3 and "other" in got
        assert sum(got.values()) == len(before[0])
        for row in before[2]:
            assert page.sample("pgbouncer_mem_item_size_bytes", name=row["name"]) == row["size"]
            after_row = next(r for r in after[2] if r["name"] == row["name"])
            used = page.sample("pgbouncer_mem_used_items", name=row["name"])
            assert min(row["used"], after_row["used"]) <= used <= max(row["used"], after_row["used"])
            assert page.sample("pgbouncer_mem_bytes", name=row["name"]) == row["memtotal"]
        # pgbouncer 1.18: no SHOW STATE (1.19+), SHOW USERS without limits
        assert not page.has("pgbouncer_state_paused")
        assert not page.has("pgbouncer_users_max_connections")
    finally:
        for c in clients:
            c.close()
        console.close()


def test_base_backup_progress_matches_its_view(pg_factory, pgpulse):
    pg = pg_factory()  # 15: the other versions' builds have no pg_basebackup
    basebackup = pg.bin / "pg_basebackup"
    target = pg.dir / "backup"
    # slow enough to be seen streaming (32 kB/s is the lowest rate)
    proc = subprocess.Popen(pgfix.as_owner([basebackup, "-D", target, "-h", pg.sockdir,
                                            "-p", pg.port, "-U", "postgres", "-X", "none",
                                            "-P", "--max-rate=32k", "--no-sync"]),
                            env=pgfix.owner_env(pg.dir), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        done_sql = ("SELECT backup_streamed::float8 / backup_total FROM pg_stat_progress_basebackup "
                    "WHERE phase = 'streaming database files' AND backup_total > 0")
        assert wait_for(lambda: pg.scalar(done_sql), timeout=60)
        p = pgpulse(config=config(pg, ["progress.yaml"]))
        before = pg.scalar(done_sql)
        page = p.scrape()
        after = pg.scalar(done_sql)
        s = page.samples("pg_progress_phase_done_ratio", command="BASE_BACKUP")
        assert len(s) == 1, s
        assert s[0].labels["phase"] == "streaming database files"
        assert s[0].labels["datname"] == "" and s[0].labels["relname"] == ""
        assert 0 < before <= s[0].value <= after < 1
        assert page.sample("pg_progress_running_seconds", command="BASE_BACKUP") > 0
    finally:
        proc.terminate()
        proc.wait(30)


def test_standby_feedback_holds_the_horizon_by_application_name(pg_factory, pgpulse):
    pg = pg_factory(settings={"hot_standby_feedback": "on", "wal_receiver_status_interval": "1s"})
    replica = pg.create_replica()
    try:
        pg.psql("CREATE TABLE f (v int)")
        burn_xids(pg, 3)
        replica.catch_up()
        with replica.connect(autocommit=False) as c:
            c.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            c.execute("SELECT count(*) FROM f")
            sql = ("SELECT age(backend_xmin) FROM pg_stat_replication "
                   "WHERE application_name = %s AND backend_xmin IS NOT NULL")
            assert wait_for(lambda: pg.scalar(sql, (replica.name,)), timeout=30)
            burn_xids(pg, 5)
            p = pgpulse(config=config(pg, ["horizon.yaml"]))
            before = pg.scalar(sql, (replica.name,))
            page = p.scrape()
            after = pg.scalar(sql, (replica.name,))
            got = page.sample("pg_xmin_horizon_age_xids", holder="standby", name=replica.name)
            assert min(before, after) <= got <= max(before, after)
            assert got >= 5
            # a walsender's xmin is the standby's, not a backend's
            assert not page.has("pg_xmin_horizon_age_xids", holder="backend", datname="")
    finally:
        replica.destroy()
