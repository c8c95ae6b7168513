"""A session's collectors go in one pipeline, inside one read-only
transaction, each statement prepared once per session: a failing one loses
only itself, statements are planned once per session (not per scrape),
reconnects and reloads never meet a stale prepared name, and the server
counts one rolled-back transaction per batch (README, "Each query runs in
a read-only transaction")."""

import signal

import pgfix
from pgfix import wait_for

TRACK_PLANNING = {"pg_stat_statements.track_planning": "on"}

# Five collectors on the main session: one fails with an error, one with
# its own statement_timeout, between three that answer.
ISOLATION = """
collectors:
  iso_first:
    help: The databases.
    sql: SELECT count(*) AS v FROM pg_database
    metrics:
      v: gauge
  iso_zero:
    help: Divides by zero when it runs.
    sql: SELECT 1 / (count(*) - count(*)) AS v FROM pg_roles
    metrics:
      v: gauge
  iso_middle:
    help: A setting.
    sql: SELECT setting::int AS v FROM pg_settings WHERE name = 'max_connections'
    metrics:
      v: gauge
  iso_slow:
    help: Sleeps past its own timeout.
    timeout: 300ms
    sql: SELECT 1 AS v FROM pg_sleep(5)
    metrics:
      v: gauge
  iso_last:
    help: The roles, and the session that read them.
    sql: SELECT count(*) AS v, pg_backend_pid()::text AS pid FROM pg_roles
    metrics:
      v: gauge
      pid: label
"""


def config(pg, queries, extra=""):
    return f"""
targets:
  - name: main
    url: {pg.dsn(password=None)}
    password_env: MONITOR_PW
queries: [{queries}]
limits: {{connections_per_target: 1}}
{extra}"""


def start(pgpulse, pg, text, name="pipeline.yaml"):
    q = pgpulse.write(name, text)
    p = pgpulse(config=config(pg, q), env={"MONITOR_PW": pgfix.MONITOR_PASSWORD})
    return p, q


def success(page, collector):
    return page.sample("pgpulse_scrape_success", collector=collector, target="main")


def test_one_failing_statement_loses_only_its_own_collector(pgv, pgpulse):
    p, _ = start(pgpulse, pgv, ISOLATION)
    pids = set()
    for _ in range(3):  # the first prepares, the others run by name
        page = p.scrape()
        assert page.sample("iso_first_v", target="main") == \
            pgv.scalar("SELECT count(*) FROM pg_database")
        assert page.sample("iso_middle_v", target="main") == \
            pgv.scalar("SELECT setting::int FROM pg_settings WHERE name = 'max_connections'")
        last = page.samples("iso_last_v", target="main")
        assert len(last) == 1 and last[0].value == pgv.scalar("SELECT count(*) FROM pg_roles")
        pids.add(last[0].labels["pid"])
        for c in ("iso_first", "iso_middle", "iso_last"):
            assert success(page, c) == 1, c
        assert success(page, "iso_zero") == 0
        assert success(page, "iso_slow") == 0
        assert not page.has("iso_zero_v") and not page.has("iso_slow_v")
        assert page.sample("pgpulse_scrape_cut", target="main") == 0
    # the failures cost no session: the same one served every scrape
    assert len(pids) == 1, pids
    log = p.stderr_text()
    assert "division by zero" in log and "statement timeout" in log


MARKED = """
collectors:
  marked:
    help: A statement pg_stat_statements can find.
    sql: SELECT {value} AS v, count(*) AS n FROM generate_series(1, 3) AS pipeline_marker{tail}
    metrics:
      v: gauge
      n: gauge
"""
# pg_stat_statements tells statements apart by structure, not constants:
# the reloaded SQL has a WHERE of its own
BEFORE, AFTER = "", " WHERE true"


def marked(pg, tail):
    """pg_stat_statements' calls and plans of the marked statement."""
    rows = pg.psql("SELECT coalesce(sum(calls), 0)::int, coalesce(sum(plans), 0)::int "
                   "FROM pg_stat_statements WHERE query LIKE %s AND query NOT LIKE %s",
                   ("%AS pipeline_marker" + (" WHERE%" if tail else ""),
                    "%pg_stat_statements%"))
    return tuple(rows[0])


def sessions(pg):
    return pg.scalar("SELECT count(*) FROM pg_stat_activity WHERE usename = %s "
                     "AND application_name = 'pgpulse'", (pgfix.MONITOR_USER,))


def kill_sessions(pg):
    pg.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE usename = %s AND application_name = 'pgpulse'", (pgfix.MONITOR_USER,))
    assert wait_for(lambda: sessions(pg) == 0, timeout=20)


def scrape_marked(p, value, n):
    for _ in range(n):
        page = p.scrape()
        assert page.sample("marked_v", target="main") == value
        assert page.sample("marked_n", target="main") == 3


def test_statements_are_planned_once_per_session_across_reconnects_and_reloads(
        pg_factory, pgpulse):
    pg = pg_factory(settings=TRACK_PLANNING)
    p, q = start(pgpulse, pg, MARKED.format(value=4241, tail=BEFORE))
    pg.psql("SELECT pg_stat_statements_reset()")
    scrape_marked(p, 4241, 6)
    # one session, one plan: every scrape after the first runs it by name
    assert marked(pg, BEFORE) == (6, 1)
    # a new session starts with nothing prepared: it prepares again, once
    kill_sessions(pg)
    scrape_marked(p, 4241, 4)
    assert marked(pg, BEFORE) == (10, 2)
    # a reload with other SQL under the same collector name: a new name
    q.write_text(MARKED.format(value=4242, tail=AFTER))
    p.send_signal(signal.SIGHUP)
    # (a scrape that came before the reload ran the old one, by its name)
    assert wait_for(lambda: p.scrape().sample("marked_v", target="main") == 4242)
    before, old = marked(pg, AFTER), marked(pg, BEFORE)
    assert before[1] == 1 and old[1] == 2, (before, old)
    scrape_marked(p, 4242, 4)
    calls, plans = marked(pg, AFTER)
    assert calls == before[0] + 4 and plans == 1, (before, calls, plans)
    assert marked(pg, BEFORE) == old
    assert "prepared statement" not in p.stderr_text()


def rollbacks(pg):
    return pg.scalar("SELECT xact_rollback FROM pg_stat_database WHERE datname = 'postgres'")


def test_one_rolled_back_transaction_per_batch(pg_factory, pgpulse):
    # four collectors on the main session: the server facts and the
    # collectors are one read-only transaction each per scrape
    pg = pg_factory()
    text = "collectors:" + "".join(f"""
  xact_{i}:
    help: Answers at once.
    sql: SELECT {i} AS v
    metrics:
      v: gauge
""" for i in range(4))
    p, _ = start(pgpulse, pg, text)
    assert p.scrape().sample("xact_3_v", target="main") == 3
    # a backend's counts reach pg_stat_database for sure when it exits
    kill_sessions(pg)
    base = rollbacks(pg)
    for _ in range(5):
        page = p.scrape()
        assert all(page.sample(f"xact_{i}_v", target="main") == i for i in range(4))
    kill_sessions(pg)
    assert rollbacks(pg) - base == 5 * 2


def test_through_a_transaction_pooler_prepared_statements_give_way(pg, pgbouncer_factory,
                                                                   pgpulse):
    # PgBouncer in transaction mode hands each transaction a server
    # session in turn: a statement prepared on one is unknown on the next.
    # The session goes back to unnamed statements, the scrape loses nothing.
    bouncer = pgbouncer_factory(settings={
        "ignore_startup_parameters": "extra_float_digits,options",
        "server_round_robin": 1, "default_pool_size": 3, "min_pool_size": 3})
    q = pgpulse.write("pooled.yaml", ISOLATION)
    cfg = f"""
targets:
  - name: main
    url: {bouncer.dsn(dbname="postgres", password=None)}
    password_env: MONITOR_PW
queries: [{q}]
limits: {{connections_per_target: 1}}
"""
    p = pgpulse(config=cfg, env={"MONITOR_PW": pgfix.MONITOR_PASSWORD})
    pids = set()
    for _ in range(6):
        page = p.scrape()
        pids |= {s.labels["pid"] for s in page.samples("iso_last_v", target="main")}
        assert page.sample("pg_up", target="main") == 1
        assert page.sample("iso_first_v", target="main") == \
            pg.scalar("SELECT count(*) FROM pg_database")
        for c in ("iso_first", "iso_middle", "iso_last"):
            assert success(page, c) == 1, (c, p.stderr_text()[-2000:])
        assert success(page, "iso_zero") == 0
    # the server sessions behind it did change between scrapes
    assert len(pids) > 1, pids
    assert "does not exist" not in p.stderr_text(), p.stderr_text()[-2000:]
