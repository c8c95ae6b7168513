"""The fault suite: one test per fault a monitored server (or pgbouncer, or
the network, or another scraper) can throw at pgpulse. Each asserts a valid
page (promtool clean) on time (within Prometheus' scrape timeout), pg_up as
it should be, recovery within ONE scrape of the fault ending, and no
session leaked (pg_stat_activity's count of pgpulse's sessions against
pgpulse_connections_open).

Destructive faults run on a cluster of this module's own (the session's pg
stays untouched); each test puts back what it broke. The slowest tests are
marked 'slow_fault': the sanitizer passes skip them (PGPULSE_SANITIZE set),
the plain pass runs everything."""

import os
import signal
import socket
import threading
import time

import psycopg
import pytest
import requests

import pgfix
from pgfix import REPO
from test_multitarget import Partition

QUERIES = REPO / "queries"
TIMEOUT = 4  # Prometheus' scrape timeout (header): pgpulse's deadline is 3.5 s
ROLE_PW = "fault-role-pw-1"

slow_fault = pytest.mark.skipif(
    bool(os.environ.get("PGPULSE_SANITIZE")),
    reason="slow under a sanitizer; the plain pass runs it")


@pytest.fixture(scope="module")
def victim(scratch):
    """A cluster these tests may stop, fill and break (9 connections for
    non-superusers)."""
    pgfix.need(pgfix.PG_BIN.exists(), "PostgreSQL binaries")
    c = pgfix.start_cluster(scratch, f"pg-faults-{os.urandom(3).hex()}",
                            {"max_connections": 12, "superuser_reserved_connections": 3})
    c.psql(f"CREATE ROLE fault_role LOGIN PASSWORD '{ROLE_PW}' IN ROLE pg_monitor")
    yield c
    c.destroy()


@pytest.fixture(autouse=True)
def _victim_up(request):
    if "victim" in request.fixturenames:
        request.getfixturevalue("victim").ensure_running()


def start(pgpulse, pg, *, user=pgfix.MONITOR_USER, password=pgfix.MONITOR_PASSWORD,
          queries=("server.yaml",), port=None, extra="", limits="", conns=2):
    """pgpulse with one target 'main' whose password is read from a file at
    each connect (so a test can rotate it)."""
    pw = pgpulse.write(f"pw-{os.urandom(3).hex()}", password + "\n", mode=0o600)
    qs = ", ".join(str(q if os.path.isabs(str(q)) else QUERIES / q) for q in queries)
    if port is None:
        url = pg.dsn(user=user, password=None)
    else:
        url = f"postgresql://{user}@127.0.0.1:{port}/postgres?sslmode=disable"
    cfg = (f"targets:\n  - name: main\n    url: '{url}'\n    password_file: {pw}\n{extra}"
           f"queries: [{qs}]\n"
           f"limits: {{connections_per_target: {conns}, connect_timeout: 1s{limits}}}\n")
    p = pgpulse(config=cfg)
    p.pwfile = pw
    return p


def scrape(p, promtool_check, timeout=TIMEOUT):
    """A scrape as Prometheus makes it: a valid page, on time."""
    page, took = p.scrape_timed(timeout)
    assert took < timeout - 0.5, f"the page took {took:.2f}s on a {timeout}s timeout"
    promtool_check(page)
    return page


def up(page):
    return page.sample("pg_up", target="main")


def sessions(pg, user=pgfix.MONITOR_USER):
    return pg.scalar("SELECT count(*)::int FROM pg_stat_activity "
                     "WHERE application_name = 'pgpulse' AND usename = %s", (user,))


def no_session_leaked(p, pg, user=pgfix.MONITOR_USER, bound=2):
    """pgpulse keeps at most its bound, and the server has no session of
    pgpulse's beyond those it holds (it may hold one the server already
    closed, found dead when next used)."""
    page = p.scrape()
    held = page.sample("pgpulse_connections_open", target="main")
    assert 1 <= held <= bound
    assert pgfix.wait_for(lambda: 1 <= sessions(pg, user) <= held, timeout=20), \
        (sessions(pg, user), held)


def kill_sessions(pg, user=pgfix.MONITOR_USER):
    pg.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'pgpulse' AND usename = %s", (user,))
    assert pgfix.wait_for(lambda: sessions(pg, user) == 0, timeout=20)


def all_collectors_succeeded(page):
    ok = page.samples("pgpulse_scrape_success", target="main")
    return ok and all(s.value == 1 for s in ok)


# --- the server goes away ----------------------------------------------------

@slow_fault
@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_server_stop_is_down_on_time_and_back_in_one_scrape(victim, pgpulse, promtool_check,
                                                            mode):
    p = start(pgpulse, victim)
    assert up(scrape(p, promtool_check)) == 1
    victim.stop(mode)
    try:
        # three scrapes of the outage: each failed connect doubles the
        # backoff (1, 2, 4 s; its arithmetic is tests/unit/test_backoff.c),
        # and a scrape after the server's return must not wait it out
        outage = []
        for _ in range(3):
            outage.append(scrape(p, promtool_check))
            assert up(outage[-1]) == 0
    finally:
        victim.start()
    page = scrape(p, promtool_check)  # the first one after the return
    assert up(page) == 1
    assert all_collectors_succeeded(page)
    # a real outage, not a cut: pg_up 0 was the server's answer
    assert all(o.sample("pgpulse_scrape_cut", target="main") == 0 for o in outage)
    # the outage is logged when it starts and when it ends, not per scrape
    log = p.stderr_text()
    assert log.count("target is down") == 1, log
    assert log.count("target is up again") == 1, log
    no_session_leaked(p, victim)


def test_restart_between_scrapes_is_not_an_outage(victim, pgpulse, promtool_check):
    p = start(pgpulse, victim)
    assert up(scrape(p, promtool_check)) == 1
    victim.restart()
    page = scrape(p, promtool_check)
    assert up(page) == 1
    assert all_collectors_succeeded(page)
    assert page.sample("pgpulse_connection_failures_total", target="main") == 0
    assert "target is down" not in p.stderr_text()
    no_session_leaked(p, victim)


def test_terminated_sessions_are_replaced_in_the_same_scrape(victim, pgpulse, promtool_check):
    p = start(pgpulse, victim)
    assert up(scrape(p, promtool_check)) == 1
    for _ in range(3):
        kill_sessions(victim)
        page = scrape(p, promtool_check)
        assert up(page) == 1
        assert all_collectors_succeeded(page)
    no_session_leaked(p, victim)


# --- the server is there but stuck -------------------------------------------

LOCKED = """
collectors:
  locked:
    help: Reads a table another session holds locked.
    sql: SELECT count(*) AS n FROM fault_locked
    metrics:
      n: gauge
"""


def test_a_held_lock_fails_one_collector_on_time(victim, pgpulse, promtool_check):
    victim.psql("DROP TABLE IF EXISTS fault_locked; CREATE TABLE fault_locked (i int); "
                "INSERT INTO fault_locked VALUES (1), (2); "
                f"GRANT SELECT ON fault_locked TO {pgfix.MONITOR_USER}")
    q = pgpulse.write("locked.yaml", LOCKED)
    p = start(pgpulse, victim, queries=("server.yaml", q), limits=", lock_timeout: 500ms")
    assert scrape(p, promtool_check).sample("locked_n", target="main") == 2
    locker = victim.connect(autocommit=False)
    try:
        locker.execute("LOCK TABLE fault_locked IN ACCESS EXCLUSIVE MODE")
        page = scrape(p, promtool_check)
        assert up(page) == 1
        assert page.sample("pgpulse_scrape_success", target="main", collector="locked") == 0
        assert page.sample("pgpulse_scrape_success", target="main", collector="pg_info") == 1
    finally:
        locker.rollback()
        locker.close()
    page = scrape(p, promtool_check)
    assert page.sample("locked_n", target="main") == 2
    assert all_collectors_succeeded(page)
    no_session_leaked(p, victim)


def test_a_frozen_backend_is_abandoned_and_the_page_is_on_time(victim, pgpulse, promtool_check):
    # one session: the frozen backend is the one pgpulse holds
    p = start(pgpulse, victim, conns=1)
    assert up(scrape(p, promtool_check)) == 1
    pids = [r[0] for r in victim.psql(
        "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgpulse'")]
    assert len(pids) == 1
    os.kill(pids[0], signal.SIGSTOP)
    try:
        # the kept session gets half the time, a new one the rest
        page = scrape(p, promtool_check)
        assert up(page) == 1
        assert all_collectors_succeeded(page)
    finally:
        os.kill(pids[0], signal.SIGCONT)
    page = scrape(p, promtool_check)
    assert up(page) == 1
    # woken, the frozen backend finds its client gone and exits
    assert pgfix.wait_for(lambda: victim.scalar(
        "SELECT count(*)::int FROM pg_stat_activity WHERE pid = %s", (pids[0],)) == 0,
        timeout=20)
    no_session_leaked(p, victim, bound=1)


def test_max_connections_exhausted_is_down_then_back_in_one_scrape(victim, pgpulse,
                                                                   promtool_check):
    hogs = []
    try:
        # every slot a non-superuser may take (the reserved ones stay free)
        while len(hogs) < 20:
            try:
                hogs.append(victim.connect(user=pgfix.MONITOR_USER))
            except psycopg.OperationalError:
                break
        assert 5 <= len(hogs) < 20
        p = start(pgpulse, victim)
        outage = scrape(p, promtool_check)
        assert up(outage) == 0
        assert "remaining connection slots are reserved" in p.stderr_text()
    finally:
        for h in hogs:
            h.close()
    assert pgfix.wait_for(lambda: sessions(victim) == 0 and victim.scalar(
        "SELECT count(*)::int FROM pg_stat_activity WHERE usename = %s",
        (pgfix.MONITOR_USER,)) == 0, timeout=20)
    page = scrape(p, promtool_check)  # right away: no backoff to wait out
    assert up(page) == 1
    assert outage.sample("pgpulse_scrape_cut", target="main") == 0
    no_session_leaked(p, victim)


# --- the role changes under pgpulse -----------------------------------------

ROLE_FAULTS = {
    "password_changed": (
        "ALTER ROLE fault_role PASSWORD 'a-new-password-2'",
        "ALTER ROLE fault_role PASSWORD '" + ROLE_PW + "'"),
    "role_dropped": (
        "DROP ROLE fault_role",
        f"CREATE ROLE fault_role LOGIN PASSWORD '{ROLE_PW}' IN ROLE pg_monitor"),
    "connection_limit_0": (
        "ALTER ROLE fault_role CONNECTION LIMIT 0",
        "ALTER ROLE fault_role CONNECTION LIMIT -1"),
}


@pytest.mark.parametrize("fault", sorted(ROLE_FAULTS))
def test_role_faults_are_down_then_back_in_one_scrape(victim, pgpulse, promtool_check, fault):
    brk, fix = ROLE_FAULTS[fault]
    p = start(pgpulse, victim, user="fault_role", password=ROLE_PW)
    assert up(scrape(p, promtool_check)) == 1
    victim.psql(brk)
    try:
        # a kept session outlives the change: the next connect meets it
        kill_sessions(victim, "fault_role")
        outage = []
        for _ in range(2):  # the second meets the backoff the first armed
            outage.append(scrape(p, promtool_check))
            assert up(outage[-1]) == 0
    finally:
        victim.psql(fix)
    page = scrape(p, promtool_check)
    assert up(page) == 1
    assert all_collectors_succeeded(page)
    assert all(o.sample("pgpulse_scrape_cut", target="main") == 0 for o in outage)
    log = p.stderr_text()
    assert log.count("target is down") == 1 and ROLE_PW not in log
    no_session_leaked(p, victim, "fault_role")


# --- databases and extensions come and go ------------------------------------

SLEEPY_PER_DB = """
collectors:
  sleepy:
    help: Takes a while in each database.
    scope: database
    sql: SELECT 1 AS v FROM pg_sleep(0.6)
    metrics:
      v: gauge
"""


def test_a_database_dropped_mid_scrape_spoils_nothing(victim, pgpulse, promtool_check):
    for db in ("fault_db_a", "fault_db_b"):
        victim.psql(f"DROP DATABASE IF EXISTS {db}")
        victim.psql(f"CREATE DATABASE {db}")
    q = pgpulse.write("sleepy.yaml", SLEEPY_PER_DB)
    p = start(pgpulse, victim, queries=("server.yaml", q),
              extra="    databases: {include: ['^fault_db_']}\n")
    page = scrape(p, promtool_check)
    assert page.sample("sleepy_v", target="main", datname="fault_db_a") == 1
    # fault_db_a goes while the scrape runs in it (or is about to)
    dropper = threading.Timer(0.3, victim.psql, ["DROP DATABASE fault_db_a WITH (FORCE)"])
    dropper.start()
    try:
        page = scrape(p, promtool_check)
        assert up(page) == 1
    finally:
        dropper.join()
    page = scrape(p, promtool_check)
    assert up(page) == 1
    assert not page.has("sleepy_v", target="main", datname="fault_db_a")
    assert page.sample("sleepy_v", target="main", datname="fault_db_b") == 1
    assert page.sample("pgpulse_scrape_success", target="main", collector="sleepy") == 1
    no_session_leaked(p, victim)
    victim.psql("DROP DATABASE IF EXISTS fault_db_b WITH (FORCE)")


def test_a_dropped_extension_skips_its_collectors_at_once(victim, pgpulse, promtool_check):
    p = start(pgpulse, victim, queries=("server.yaml", "statements.yaml"))
    page = scrape(p, promtool_check)
    assert all_collectors_succeeded(page)
    assert page.has("pgpulse_scrape_success", target="main", collector="pg_stat_statements")
    victim.psql("DROP EXTENSION pg_stat_statements")
    try:
        page = scrape(p, promtool_check)
        assert up(page) == 1
        assert all_collectors_succeeded(page)
        assert page.sample("pgpulse_collector_skipped", target="main",
                           collector="pg_stat_statements", reason="requires") == 1
    finally:
        victim.psql("CREATE EXTENSION pg_stat_statements")
    page = scrape(p, promtool_check)
    assert all_collectors_succeeded(page)
    assert page.has("pgpulse_scrape_success", target="main", collector="pg_stat_statements")
    no_session_leaked(p, victim)


# --- the network ---------------------------------------------------------------

class HealingPartition(Partition):
    """test_multitarget's partition, which can also end: heal() lets new
    connections through again, and a side that closes closes the other
    (so a session pgpulse gave up does not linger on the server)."""

    def heal(self):
        self.cut_off.clear()

    def _pump(self, src, dst):
        super()._pump(src, dst)
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)  # wakes the other pump's recv
            except OSError:
                pass


@slow_fault
def test_a_network_partition_is_down_on_time_and_heals_in_one_scrape(victim, pgpulse,
                                                                     promtool_check):
    part = HealingPartition(victim.port)
    try:
        p = start(pgpulse, victim, port=part.port)
        assert up(scrape(p, promtool_check)) == 1
        part.cut()
        for _ in range(2):  # the second meets the backoff the first armed
            page = scrape(p, promtool_check)
            assert up(page) == 0
        part.heal()
        page = scrape(p, promtool_check)
        assert up(page) == 1
        assert all_collectors_succeeded(page)
        no_session_leaked(p, victim)
    finally:
        part.close()


# --- pgbouncer -------------------------------------------------------------------

def test_pgbouncer_pause_and_kill(pgbouncer_factory, pgpulse, promtool_check):
    bouncer = pgbouncer_factory()
    cfg = ("targets:\n  - name: main\n    kind: pgbouncer\n"
           f"    url: {bouncer.dsn(password=None)}\n    password_env: FAULT_PW\n"
           f"queries: [{QUERIES / 'pgbouncer.yaml'}]\n")
    p = pgpulse(config=cfg, env={"FAULT_PW": pgfix.MONITOR_PASSWORD})
    bup = lambda page: page.sample("pgbouncer_up", target="main")  # noqa: E731
    assert bup(scrape(p, promtool_check)) == 1
    admin = bouncer.connect(user=pgfix.SUPERUSER)
    try:
        admin.execute("PAUSE")
        # the console answers while the pools are paused
        page = scrape(p, promtool_check)
        assert bup(page) == 1
        assert all_collectors_succeeded(page)
    finally:
        admin.execute("RESUME")
        admin.close()
    bouncer.proc.kill()
    bouncer.proc.wait()
    try:
        for _ in range(2):  # the second meets the backoff the first armed
            page = scrape(p, promtool_check)
            assert bup(page) == 0
    finally:
        bouncer.start()
    page = scrape(p, promtool_check)  # the first after its return
    assert bup(page) == 1
    clients = [c for c in bouncer.show("CLIENTS") if c.get("application_name") == "pgpulse"]
    assert len(clients) == 1, clients


# --- another scraper -------------------------------------------------------------

def test_a_hostile_scraper_with_tiny_timeouts_fakes_no_outage(pg, pgpulse, promtool_check):
    p = start(pgpulse, pg, queries=("server.yaml", "database.yaml"))
    baseline = scrape(p, promtool_check, timeout=10)
    assert up(baseline) == 1 and all_collectors_succeeded(baseline)
    names = sorted(s.name for s in baseline.all_samples() if not s.name.startswith(
        ("pgpulse_", "process_")))
    stop = threading.Event()
    hostile = {"pages": 0, "cut": 0, "down": 0, "bad": []}
    kill = []  # when the sessions were killed: start, end

    def hammer(timeout):
        with requests.Session() as s:
            s.trust_env = False
            while not stop.is_set():
                began = time.monotonic()
                r = s.get(p.url + "/metrics", timeout=30,
                          headers={"X-Prometheus-Scrape-Timeout-Seconds": timeout})
                ended = time.monotonic()
                if r.status_code != 200:
                    hostile["bad"].append(r.status_code)
                    continue
                page = pgfix.Page(r.text)
                hostile["pages"] += 1
                hostile["cut"] += page.has("pgpulse_scrape_cut") and \
                    page.sample("pgpulse_scrape_cut", target="main") == 1
                down = any(s.value == 0 for s in page.samples("pg_up"))
                # the kill itself may end a session a page was reading on
                if len(kill) == 2 and began < kill[1] and ended > kill[0]:
                    continue
                if len(kill) == 1 and ended > kill[0]:
                    continue
                hostile["down"] += down

    threads = [threading.Thread(target=hammer, args=(t,)) for t in ("0.005", "0.02")]
    for t in threads:
        t.start()
    normal = []
    try:
        for i in range(20):
            if i == 10:
                kill.append(time.monotonic())
                kill_sessions(pg)  # the second case: after a kill
                kill.append(time.monotonic())
            page = scrape(p, promtool_check, timeout=10)
            normal.append(page)
            assert up(page) == 1, (i, p.stderr_text()[-3000:])
            assert all_collectors_succeeded(page), i
            got = sorted(s.name for s in page.all_samples() if not s.name.startswith(
                ("pgpulse_", "process_")))
            assert got == names, i
    finally:
        stop.set()
        for t in threads:
            t.join()
    # none of the normal scrapes was cut short, whatever the hostile did
    assert all(n.sample("pgpulse_scrape_cut", target="main") == 0 for n in normal)
    assert not hostile["bad"], hostile
    assert hostile["pages"] >= 20 and hostile["cut"] >= 1, hostile
    # a request's own deadline never makes the target down
    assert hostile["down"] == 0, (hostile, p.stderr_text()[-4000:])
    assert "target is down" not in p.stderr_text()
    no_session_leaked(p, pg)
