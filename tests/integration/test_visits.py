"""Per-database work at a login budget (exporter/visits.h), against a real
PostgreSQL 15 with 30 databases: the first pass within the deadline, then
about one login per scrape (counted from the server's log_connections),
the databases that matter first, and when each database was last collected
exported and true to the server's log."""

import time

import pytest

import pgfix

NDBS = 30
DBS = [f"v{i:02d}" for i in range(NDBS)]
ENV = {"MONITOR_PW": pgfix.MONITOR_PASSWORD}
BURST = 4  # VISITS_BURST: logins saved from the scrapes of the first pass

# without a ttl: every visit runs it, and what it found is served until
# the database's next visit
TABLES = """
collectors:
  vt:
    help: The tables of each database.
    scope: database
    sql: SELECT relname::text AS relname, 1 AS present FROM pg_stat_user_tables
    metrics:
      relname: label
      present: gauge
"""

# the same, fresh for 1 s at most
TABLES_TTL = TABLES.replace("scope: database", "scope: database\n    ttl: 1s")

# the same, slow enough that a 1 s scrape cannot visit all 30 databases
SLOW_TABLES = TABLES.replace(
    "FROM pg_stat_user_tables",
    "FROM pg_stat_user_tables, pg_sleep(0.1)")


@pytest.fixture(scope="module")
def vpg(scratch):
    """A cluster of its own with 30 databases of one table each."""
    c = pgfix.start_cluster(scratch, f"pg-visits-{time.monotonic_ns() % 100000}")
    try:
        c.psql("CREATE TABLE t0 AS SELECT 1 AS g", dbname="template1")
        for db in DBS:
            c.psql(f"CREATE DATABASE {db}")
        yield c
    finally:
        c.destroy()


def start(vpg, pgpulse, queries=TABLES, limits="database_logins_per_scrape: 1"):
    q = pgpulse.write("visits.yaml", queries)
    cfg = pgpulse.write("visits-config.yaml", f"""
targets:
  - name: main
    url: {vpg.dsn(password=None)}
    password_env: MONITOR_PW
    databases: {{include: ['^v[0-9]+$']}}
queries: [{q}]
limits: {{{limits}}}
""")
    return pgpulse(config=cfg, env=ENV)


def logins(vpg, mark):
    """Databases pgpulse logged into since 'mark', in order (the server's
    log), the main database aside."""
    return [c["database"] for c in vpg.connections_since(mark, user=pgfix.MONITOR_USER)
            if c["database"] != "postgres"]


def collected(page):
    return {s.labels["datname"]: s.value
            for s in page.samples("pgpulse_database_last_collected_timestamp_seconds")}


def first_pass(p):
    """Scrape until every database was collected once; the last page."""
    for _ in range(20):
        page = p.scrape()
        if len(collected(page)) == NDBS:
            return page
    raise AssertionError(f"first pass incomplete: {sorted(collected(page))}")


def flush_stats(vpg, db, column, before):
    """Wait until pg_stat_database shows the writes of a closed session."""
    assert pgfix.wait_for(lambda: vpg.scalar(
        f"SELECT {column} FROM pg_stat_database WHERE datname = %s", (db,)) > before), \
        f"pg_stat_database never showed the writes in {db}"


def test_after_the_first_pass_a_scrape_costs_about_one_login(vpg, pgpulse, promtool_check):
    p = start(vpg, pgpulse)
    mark = vpg.log_mark()
    page = first_pass(p)
    # the first pass visits each database once, whatever the budget
    first = logins(vpg, mark)
    assert sorted(first) == DBS, first
    assert sorted(s.labels["datname"] for s in page.samples("vt_present", relname="t0")) == DBS
    promtool_check(page)
    since = time.time()
    mark = vpg.log_mark()
    n = 12
    for _ in range(n):
        page = p.scrape()
    got = logins(vpg, mark)
    # one login per scrape, and the few saved while the first pass was free
    assert n - 2 <= len(got) <= n + BURST, got
    # a database is not visited twice while others wait longer
    assert len(set(got)) == len(got), got
    # every database's results are still served, visited or not
    assert sorted(s.labels["datname"] for s in page.samples("vt_present", relname="t0")) == DBS
    # the timestamps say which databases were visited since, no more
    times = collected(page)
    assert sorted(times) == DBS
    assert sorted(db for db, ts in times.items() if ts >= since) == sorted(got)
    assert all(ts <= time.time() + 1 for ts in times.values())
    # the bound alerts compare with: 30 databases at 1 login per scrape,
    # scraped back to back, go round within database_max_staleness (10m)
    assert page.sample("pgpulse_database_staleness_bound_seconds") == 600


def test_a_database_whose_activity_jumps_is_visited_first(vpg, pgpulse):
    p = start(vpg, pgpulse, limits="database_logins_per_scrape: 1, "
                                   "database_max_staleness: 1h")
    first_pass(p)
    for _ in range(3):  # pg_stat_database read twice: the baselines
        p.scrape()
    db = "v17"
    before = vpg.scalar("SELECT tup_inserted FROM pg_stat_database WHERE datname = %s", (db,))
    vpg.psql("CREATE TABLE fresh AS SELECT generate_series(1, 1000) g", dbname=db)
    flush_stats(vpg, db, "tup_inserted", before)
    mark = vpg.log_mark()
    page = p.scrape()
    got = logins(vpg, mark)
    assert got[:1] == [db], got
    # the new table shows on the page of the scrape that visited it
    assert page.sample("vt_present", datname=db, relname="fresh") == 1
    assert not page.has("vt_present", datname="v16", relname="fresh")


def test_logins_per_scrape_0_visits_every_database_when_its_ttl_ran_out(vpg, pgpulse):
    p = start(vpg, pgpulse, queries=TABLES_TTL, limits="database_logins_per_scrape: 0")
    first_pass(p)
    time.sleep(1.1)  # the 1 s ttl of every database's result ran out
    mark = vpg.log_mark()
    page = p.scrape()
    assert sorted(logins(vpg, mark)) == DBS
    assert len(collected(page)) == NDBS
    # without a budget: the ttl, and the scrape that finds it ran out
    assert 1 < page.sample("pgpulse_database_staleness_bound_seconds") < 60


def test_the_first_scrape_keeps_a_1s_deadline_and_the_rest_fill_in(vpg, pgpulse):
    p = start(vpg, pgpulse, queries=SLOW_TABLES)
    page, took = p.scrape_timed(1)
    assert took < 1.6, took
    # 30 visits of 0.1 s each cannot fit: the deadline cut the first pass
    assert len(collected(page)) < NDBS, sorted(collected(page))
    seen = set(collected(page))
    for _ in range(3 * NDBS):
        page, took = p.scrape_timed(1)
        assert took < 1.6, took
        seen |= set(collected(page))
        if len(seen) == NDBS:
            break
    assert sorted(seen) == DBS
    # what each database's visit found is served until its next visit
    assert sorted(s.labels["datname"] for s in page.samples("vt_present", relname="t0")) == DBS
