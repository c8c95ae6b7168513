"""pgpulse against a real pgbouncer 1.18 (pool_size 2, transaction mode):
pool state, database entries, traffic and lists equal what the admin console
says at the same moment; one console connection, kept across scrapes and
RELOAD, re-established after a restart; pgbouncer and PostgreSQL targets in
one config, each series labelled with its target. The column sets of other
versions (1.17, 1.24/1.25, from pgbouncer's source at those tags) come from
a small stand-in for the console speaking the wire protocol."""

import concurrent.futures
import socketserver
import struct
import threading
import time

import pytest

import pgfix
from pgfix import wait_for

QUERIES = pgfix.REPO / "queries"


def config(bouncer, password_file, pg=None, pg_password_file=None, extra=""):
    """A config with the pgbouncer target "bouncer" (and the PostgreSQL
    target "pg" when pg is given)."""
    text = f"""
targets:
  - name: bouncer
    kind: pgbouncer
    url: postgresql://{pgfix.MONITOR_USER}@{bouncer.host}:{bouncer.port}/pgbouncer
    password_file: {password_file}
"""
    files = [QUERIES / "pgbouncer.yaml"]
    if pg is not None:
        text += f"""
  - name: pg
    url: postgresql://{pgfix.MONITOR_USER}@127.0.0.1:{pg.port}/postgres
    password_file: {pg_password_file}
"""
        files.append(QUERIES / "server.yaml")
    text += "queries:\n" + "".join(f"  - {f}\n" for f in files) + extra
    return text


def start(pgpulse, bouncer, **kw):
    pw = pgpulse.write("monitor.pw", pgfix.MONITOR_PASSWORD + "\n", mode=0o600)
    return pgpulse(config=config(bouncer, pw, pg_password_file=pw, **kw))


class Console:
    """One persistent connection to pgbouncer's admin console, so that the
    test's own SHOW commands do not change the client counts they read."""

    def __init__(self, bouncer, user=pgfix.MONITOR_USER):
        # psycopg prepares a query it runs often: the console refuses that
        self.conn = bouncer.connect(user=user, prepare_threshold=None)

    def show(self, what):
        cur = self.conn.execute(f"SHOW {what}")
        cols = [d.name for d in cur.description]
        return [dict(zip(cols, row)) for row in cur.fetchall()]

    def run(self, command):
        self.conn.execute(command)

    def pools(self):
        return {(r["database"], r["user"]): r for r in self.show("POOLS")}

    def pgpulse_clients(self):
        """pgpulse's connections to the console, per SHOW CLIENTS."""
        return [c for c in self.show("CLIENTS")
                if c["user"] == pgfix.MONITOR_USER and c["database"] == "pgbouncer"
                and c["application_name"] == "pgpulse"]

    def close(self):
        self.conn.close()


@pytest.fixture
def console(pgbouncer):
    c = Console(pgbouncer)
    yield c
    c.close()


def between(value, a, b, what, scale=1.0):
    lo, hi = sorted((float(a) * scale, float(b) * scale))
    slack = 1e-9 * max(1.0, abs(hi))
    assert lo - slack <= value <= hi + slack, f"{what}: pgpulse {value}, console {a} then {b}"


def labels_of(page, metric, /, **labels):
    found = page.samples(metric, **labels)
    assert len(found) == 1, (metric, labels, found)
    return found[0].labels


POOL_METRICS = {
    "cl_active": "pgbouncer_pools_client_active_connections",
    "cl_waiting": "pgbouncer_pools_client_waiting_connections",
    "cl_active_cancel_req": "pgbouncer_pools_client_active_cancel_connections",
    "cl_waiting_cancel_req": "pgbouncer_pools_client_waiting_cancel_connections",
    "sv_active": "pgbouncer_pools_server_active_connections",
    "sv_active_cancel": "pgbouncer_pools_server_active_cancel_connections",
    "sv_being_canceled": "pgbouncer_pools_server_being_canceled_connections",
    "sv_idle": "pgbouncer_pools_server_idle_connections",
    "sv_used": "pgbouncer_pools_server_used_connections",
    "sv_tested": "pgbouncer_pools_server_testing_connections",
    "sv_login": "pgbouncer_pools_server_login_connections",
    "maxwait": "pgbouncer_pools_client_maxwait_seconds",
}


def scrape_pools(p, console):
    """(SHOW POOLS before, the page, SHOW POOLS after)."""
    before = console.pools()
    page = p.scrape()
    after = console.pools()
    return before, page, after


def check_pools(before, page, after):
    """Every pool of both SHOW POOLS is on the page with values between."""
    assert before.keys() == after.keys()
    for (db, user), row in before.items():
        for col, name in POOL_METRICS.items():
            got = page.sample(name, database=db, user=user)
            lo, hi = row[col], after[(db, user)][col]
            if col == "maxwait":  # with its microsecond part
                lo += row["maxwait_us"] / 1e6
                hi += after[(db, user)]["maxwait_us"] / 1e6
            between(got, lo, hi, f"{name}{{{db}/{user}}}")
    pages_pools = {(s.labels["database"], s.labels["user"])
                   for s in page.samples("pgbouncer_pools_client_active_connections")}
    assert pages_pools == set(before), pages_pools


# --- pools ------------------------------------------------------------------

def test_exhausted_pool_waiting_clients_busy_servers_and_max_wait(pgbouncer, pgpulse, console):
    p = start(pgpulse, pgbouncer)
    pool = ("postgres", pgfix.SUPERUSER)
    clients, sleep = 4, 7  # pool_size 2: two run, two wait (past 2.4 s)

    def work():
        with pgbouncer.connect(dbname="postgres", user=pgfix.SUPERUSER) as c:
            c.execute(f"SELECT pg_sleep({sleep})")

    with concurrent.futures.ThreadPoolExecutor(clients) as ex:
        futures = [ex.submit(work) for _ in range(clients)]
        try:
            assert wait_for(lambda: console.pools().get(pool, {}).get("cl_waiting") == 2,
                            timeout=10), console.pools()
            t0 = time.monotonic()
            seen = []
            for at in (1.2, 2.4):
                time.sleep(max(0.0, t0 + at - time.monotonic()))
                before, page, after = scrape_pools(p, console)
                check_pools(before, page, after)
                assert page.sample("pgbouncer_pools_client_waiting_connections",
                                   database="postgres", user=pgfix.SUPERUSER) == 2
                assert page.sample("pgbouncer_pools_server_active_connections",
                                   database="postgres", user=pgfix.SUPERUSER) == 2
                assert page.sample("pgbouncer_pools_client_active_connections",
                                   database="postgres", user=pgfix.SUPERUSER) == 2
                seen.append(page.sample("pgbouncer_pools_client_maxwait_seconds",
                                        database="postgres", user=pgfix.SUPERUSER))
            assert 1 <= seen[0] < seen[1] <= 3, seen
        finally:
            for f in futures:
                f.result(timeout=4 * sleep)

    # released: nobody waits, the servers are idle, the clients are gone
    before, page, after = scrape_pools(p, console)
    check_pools(before, page, after)
    labels = dict(database="postgres", user=pgfix.SUPERUSER)
    assert page.sample("pgbouncer_pools_client_waiting_connections", **labels) == 0
    assert page.sample("pgbouncer_pools_client_active_connections", **labels) == 0
    assert page.sample("pgbouncer_pools_server_active_connections", **labels) == 0
    assert page.sample("pgbouncer_pools_client_maxwait_seconds", **labels) == 0
    assert page.sample("pgbouncer_pools_server_idle_connections", **labels) + \
        page.sample("pgbouncer_pools_server_used_connections", **labels) == 2
    assert page.sample("pgpulse_scrape_success", collector="pgbouncer_pools") == 1


# --- databases, stats, lists, version -----------------------------------------

DATABASE_METRICS = {
    "pool_size": "pgbouncer_databases_pool_size",
    "min_pool_size": "pgbouncer_databases_min_pool_size",
    "reserve_pool": "pgbouncer_databases_reserve_pool",
    "max_connections": "pgbouncer_databases_max_connections",
    "current_connections": "pgbouncer_databases_current_connections",
    "paused": "pgbouncer_databases_paused",
    "disabled": "pgbouncer_databases_disabled",
}


def test_database_entries_match_show_databases(pgbouncer, pgpulse, console):
    p = start(pgpulse, pgbouncer)
    rows = console.show("DATABASES")
    page = p.scrape()
    assert {r["name"] for r in rows} >= {"pgbouncer", "postgres"}
    assert {s.labels["name"] for s in page.samples("pgbouncer_databases_pool_size")} == \
        {r["name"] for r in rows}
    for r in rows:
        labels = labels_of(page, "pgbouncer_databases_pool_size", name=r["name"])
        want = {k: "" if r[k] is None else str(r[k])
                for k in ("name", "host", "port", "database", "force_user", "pool_mode")}
        assert {k: labels.get(k, "") for k in want} == want
        for col, name in DATABASE_METRICS.items():
            assert page.sample(name, name=r["name"]) == r[col], (name, r)
    assert page.sample("pgbouncer_databases_pool_size", name="postgres") == 2

    # pause and disable show up
    admin = Console(pgbouncer, user=pgfix.SUPERUSER)
    try:
        admin.run("PAUSE postgres")
        admin.run("DISABLE postgres")
        page = p.scrape()
        assert page.sample("pgbouncer_databases_paused", name="postgres") == 1
        assert page.sample("pgbouncer_databases_disabled", name="postgres") == 1
        assert page.sample("pgbouncer_databases_paused", name="pgbouncer") == 0
    finally:
        admin.run("ENABLE postgres")
        admin.run("RESUME postgres")
        admin.close()
    page = p.scrape()
    assert page.sample("pgbouncer_databases_paused", name="postgres") == 0
    assert page.sample("pgbouncer_databases_disabled", name="postgres") == 0


STATS_METRICS = {
    "total_xact_count": ("pgbouncer_stats_sql_transactions_pooled_total", 1),
    "total_query_count": ("pgbouncer_stats_queries_pooled_total", 1),
    "total_received": ("pgbouncer_stats_received_bytes_total", 1),
    "total_sent": ("pgbouncer_stats_sent_bytes_total", 1),
    "total_xact_time": ("pgbouncer_stats_server_in_transaction_seconds_total", 1e-6),
    "total_query_time": ("pgbouncer_stats_queries_duration_seconds_total", 1e-6),
    "total_wait_time": ("pgbouncer_stats_client_wait_seconds_total", 1e-6),
}


def test_stats_counters_match_show_stats(pgbouncer, pgpulse, console):
    p = start(pgpulse, pgbouncer)
    start_count = {r["database"]: r["total_query_count"] for r in console.show("STATS")}
    n = 25
    with pgbouncer.connect(dbname="postgres", user=pgfix.SUPERUSER) as c:
        for _ in range(n):
            c.execute("SELECT pg_sleep(0.01)")

    def counted():
        rows = {r["database"]: r for r in console.show("STATS")}
        return rows["postgres"]["total_query_count"] >= start_count.get("postgres", 0) + n

    assert wait_for(counted, timeout=10)  # stats_period is 1s
    before = {r["database"]: r for r in console.show("STATS")}
    page = p.scrape()
    after = {r["database"]: r for r in console.show("STATS")}
    assert set(before) == set(after) >= {"pgbouncer", "postgres"}
    assert {s.labels["database"] for s in page.samples("pgbouncer_stats_queries_pooled_total")} \
        == set(before)
    for db, row in before.items():
        for col, (name, scale) in STATS_METRICS.items():
            between(page.sample(name, database=db), row[col], after[db][col], f"{name}{{{db}}}",
                    scale)
    # the traffic is there, in seconds: 25 sleeps of 10ms
    assert page.sample("pgbouncer_stats_queries_duration_seconds_total", database="postgres") \
        >= n * 0.01
    assert page.sample("pgbouncer_stats_received_bytes_total", database="postgres") > 0
    fams = page.families
    assert fams["pgbouncer_stats_queries_pooled"].type == "counter"
    assert fams["pgbouncer_stats_client_wait_seconds"].type == "counter"
    assert page.sample("pgpulse_scrape_success", collector="pgbouncer_stats") == 1


def test_lists_and_version(pgbouncer, pgpulse, console, promtool_check):
    p = start(pgpulse, pgbouncer)
    p.scrape()  # pgpulse's console connection exists from here on
    before = {r["list"]: r["items"] for r in console.show("LISTS")}
    page = p.scrape()
    after = {r["list"]: r["items"] for r in console.show("LISTS")}
    promtool_check(page)
    assert {s.labels["list"] for s in page.samples("pgbouncer_lists_items")} == set(before)
    for name, items in before.items():
        between(page.sample("pgbouncer_lists_items", list=name), items, after[name], name)
    # pgpulse and this test are the clients in use
    assert page.sample("pgbouncer_lists_items", list="used_clients") >= 2
    version = console.show("VERSION")[0]["version"]
    assert version.startswith("PgBouncer 1.")
    assert labels_of(page, "pgbouncer_version_info")["version"] == version
    assert page.sample("pgbouncer_version_info") == 1
    assert page.sample("pgbouncer_up") == 1


# --- pgpulse's connection to the console ------------------------------------

def test_one_console_connection_across_scrapes_and_reload(pgbouncer, pgpulse, console):
    p = start(pgpulse, pgbouncer)
    for _ in range(10):
        assert p.scrape().sample("pgbouncer_up") == 1
    # concurrent scrapes share a collection, and the connection
    with concurrent.futures.ThreadPoolExecutor(6) as ex:
        pages = list(ex.map(lambda _: p.scrape(), range(12)))
    assert all(pg_.sample("pgbouncer_up") == 1 for pg_ in pages)
    assert len(console.pgpulse_clients()) == 1, console.show("CLIENTS")
    page = p.scrape()
    assert page.sample("pgpulse_connection_attempts_total") == 1
    assert page.sample("pgpulse_connection_failures_total") == 0
    assert page.sample("pgpulse_connections_open") == 1
    assert page.sample("pgpulse_connections_busy") == 0
    assert page.sample("pgpulse_connections_max") == 2
    assert 0 < page.sample("pgpulse_connect_duration_seconds") < 5
    port = console.pgpulse_clients()[0]["port"]

    admin = Console(pgbouncer, user=pgfix.SUPERUSER)
    try:
        admin.run("RELOAD")
    finally:
        admin.close()
    for _ in range(3):
        page = p.scrape()
        assert page.sample("pgbouncer_up") == 1
        assert page.sample("pgpulse_scrape_success", collector="pgbouncer_pools") == 1
    clients = console.pgpulse_clients()
    assert len(clients) == 1 and clients[0]["port"] == port  # the same connection
    assert page.sample("pgpulse_connection_attempts_total") == 1


def test_restart_gives_up_0_then_reconnects(pgbouncer_factory, pgpulse, promtool_check):
    bouncer = pgbouncer_factory()
    p = start(pgpulse, bouncer)
    page = p.scrape()
    assert page.sample("pgbouncer_up") == 1
    assert page.sample("pgpulse_connection_attempts_total") == 1

    bouncer.stop()
    try:
        r = p.get("/metrics")
        assert r.status_code == 200
        promtool_check(r.text)
        page = pgfix.Page(r.text)
        assert page.sample("pgbouncer_up") == 0
        assert page.sample("pgpulse_scrape_success", collector="pgbouncer_up") == 0
        assert not page.has("pgbouncer_pools_client_active_connections")
        assert not page.has("pgbouncer_version_info")
        assert page.sample("pgpulse_connections_open") == 0
        assert page.sample("pgpulse_connection_failures_total") >= 1
        # a scrape's first connect is tried even during the backoff the
        # last one armed (tests/unit/test_backoff.c): another attempt fails
        page = p.scrape()
        assert page.sample("pgbouncer_up") == 0
    finally:
        bouncer.start()
    failures = page.sample("pgpulse_connection_failures_total")
    assert failures >= 2

    assert wait_for(lambda: p.scrape().sample("pgbouncer_up") == 1, timeout=30)
    page = p.scrape()
    assert page.sample("pgpulse_scrape_success", collector="pgbouncer_pools") == 1
    assert page.sample("pgpulse_connections_open") == 1
    attempts = page.sample("pgpulse_connection_attempts_total")
    # every attempt failed but the first and the one after the restart
    assert attempts - page.sample("pgpulse_connection_failures_total") == 2
    assert page.sample("pgpulse_connection_failures_total") >= failures
    c = Console(bouncer)
    try:
        assert len(c.pgpulse_clients()) == 1
    finally:
        c.close()
    assert "target is down" in p.stderr_text()


def test_restart_between_scrapes_is_not_reported_as_down(pgbouncer_factory, pgpulse):
    bouncer = pgbouncer_factory()
    p = start(pgpulse, bouncer)
    assert p.scrape().sample("pgbouncer_up") == 1
    bouncer.restart()
    page = p.scrape()
    assert page.sample("pgpulse_scrape_success", collector="pgbouncer_pools") == 1
    assert page.sample("pgbouncer_up") == 1


# --- pgbouncer and PostgreSQL in one config ---------------------------------

def test_pgbouncer_and_postgresql_targets_in_one_config(pg, pgbouncer, pgpulse, console,
                                                        promtool_check):
    pw = pgpulse.write("monitor.pw", pgfix.MONITOR_PASSWORD + "\n", mode=0o600)
    p = pgpulse(config=config(pgbouncer, pw, pg=pg, pg_password_file=pw))
    p.scrape()
    page = p.scrape()
    promtool_check(page)

    by_prefix = {}
    for s in page.all_samples():
        prefix = s.name.split("_", 1)[0]
        if prefix in ("pg", "pgbouncer"):
            by_prefix.setdefault(prefix, set()).add(s.labels.get("target"))
    assert by_prefix == {"pg": {"pg"}, "pgbouncer": {"bouncer"}}, by_prefix
    assert page.sample("pg_up", target="pg") == 1
    assert page.sample("pgbouncer_up", target="bouncer") == 1
    assert page.sample("pgbouncer_pools_server_idle_connections", target="bouncer",
                       database="pgbouncer", user="pgbouncer") == 0

    # each target's own pool, with the right values
    for target in ("pg", "bouncer"):
        assert page.sample("pgpulse_connections_max", target=target) == 2
        assert page.sample("pgpulse_connections_busy", target=target) == 0
        # pgbouncer's console: exactly one session. PostgreSQL: one, or two
        # when a loaded machine made the last collectors slow enough to be
        # shared out over the pool's second session (collect.c share_out)
        attempts = page.sample("pgpulse_connection_attempts_total", target=target)
        assert attempts == 1 if target == "bouncer" else attempts in (1, 2), attempts
        assert page.sample("pgpulse_connection_failures_total", target=target) == 0
        assert 0 < page.sample("pgpulse_connect_duration_seconds", target=target) < 5
    # (sessions of the pgpulse of an earlier test may take a moment to go)
    opened = page.sample("pgpulse_connection_attempts_total", target="pg")
    assert page.sample("pgpulse_connections_open", target="pg") == opened
    assert wait_for(lambda: pg.scalar("SELECT count(*) FROM pg_stat_activity "
                                      "WHERE application_name = 'pgpulse'") == opened,
                    timeout=10)
    assert page.sample("pgpulse_connections_open", target="bouncer") == \
        len(console.pgpulse_clients()) == 1
    # collectors of one kind never run on the other
    assert not page.has("pgpulse_scrape_success", target="pg", collector="pgbouncer_pools")
    assert not page.has("pgpulse_scrape_success", target="bouncer", collector="pg_up")
    assert page.sample("pgpulse_scrape_success", target="bouncer", collector="pgbouncer_pools") == 1


# --- other pgbouncer versions: a stand-in console -----------------------------

TEXT, INT4, NUMERIC = 25, 23, 1700


class FakeConsole(socketserver.ThreadingTCPServer):
    """Answers the simple-protocol SHOW commands of a pgbouncer console with
    fixed results: {"SHOW POOLS": [(name, oid), ...], [row, ...]}. Trust
    authentication; refuses SSL; server_version like pgbouncer's."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, results, version):
        self.results = results
        self.version = version
        self.queries = []
        super().__init__(("127.0.0.1", 0), FakeConsoleHandler)
        self.port = self.server_address[1]
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def close(self):
        self.shutdown()
        self.server_close()


def _msg(kind, payload=b""):
    return kind + struct.pack("!i", len(payload) + 4) + payload


def _cstr(text):
    return text.encode() + b"\0"


class FakeConsoleHandler(socketserver.BaseRequestHandler):
    def read(self, n):
        data = b""
        while len(data) < n:
            chunk = self.request.recv(n - len(data))
            if not chunk:
                raise ConnectionError("client went away")
            data += chunk
        return data

    def handle(self):
        srv, sock = self.server, self.request
        try:
            while True:  # SSLRequest / GSSENCRequest, then the startup packet
                (length,) = struct.unpack("!i", self.read(4))
                body = self.read(length - 4)
                if struct.unpack("!i", body[:4])[0] in (80877103, 80877104):
                    sock.sendall(b"N")
                    continue
                break
            out = _msg(b"R", struct.pack("!i", 0))
            for k, v in (("server_version", f"{srv.version}/bouncer"),
                         ("client_encoding", "UTF8")):
                out += _msg(b"S", _cstr(k) + _cstr(v))
            out += _msg(b"K", struct.pack("!ii", 1, 2)) + _msg(b"Z", b"I")
            sock.sendall(out)
            while True:
                kind = self.read(1)
                (length,) = struct.unpack("!i", self.read(4))
                body = self.read(length - 4)
                if kind == b"X":
                    return
                if kind != b"Q":  # what the real console does
                    sock.sendall(_msg(b"E", b"SERROR\0C08P01\0Mextended query protocol not "
                                      b"supported by admin console\0\0"))
                    return
                query = body.rstrip(b"\0").decode().strip().rstrip(";").upper()
                srv.queries.append(query)
                if query not in srv.results:
                    sock.sendall(_msg(b"E", b"SERROR\0C08P01\0Minvalid command\0\0") +
                                 _msg(b"Z", b"I"))
                    continue
                cols, rows = srv.results[query]
                out = _msg(b"T", struct.pack("!h", len(cols)) + b"".join(
                    _cstr(name) + struct.pack("!ihihih", 0, 0, oid, -1, -1, 0)
                    for name, oid in cols))
                for row in rows:
                    out += _msg(b"D", struct.pack("!h", len(row)) + b"".join(
                        struct.pack("!i", -1) if v is None else
                        struct.pack("!i", len(str(v).encode())) + str(v).encode()
                        for v in row))
                out += _msg(b"C", _cstr("SHOW")) + _msg(b"Z", b"I")
                sock.sendall(out)
        except (ConnectionError, OSError):
            pass


def cols(spec):
    """"name:type ..." (t text, i int4, n numeric) -> [(name, oid)]."""
    oids = {"t": TEXT, "i": INT4, "n": NUMERIC}
    return [(c.split(":")[0], oids[c.split(":")[1]]) for c in spec.split()]


POOLS_118 = ("database:t user:t cl_active:i cl_waiting:i cl_active_cancel_req:i "
             "cl_waiting_cancel_req:i sv_active:i sv_active_cancel:i sv_being_canceled:i "
             "sv_idle:i sv_used:i sv_tested:i sv_login:i maxwait:i maxwait_us:i pool_mode:t")
LISTS = ["databases", "users", "peers", "pools", "peer_pools", "free_clients", "used_clients",
         "login_clients", "free_servers", "used_servers", "dns_names", "dns_zones",
         "dns_queries", "dns_pending"]

SOCKETS_125 = ("type:t user:t database:t replication:t state:t addr:t port:i local_addr:t "
               "local_port:i connect_time:t request_time:t wait:i wait_us:i close_needed:i "
               "ptr:t link:t remote_pid:i tls:t application_name:t prepared_statements:i id:i")


def sock(kind, user, db, state, app):
    """A row of SHOW CLIENTS / SHOW SERVERS (1.25 columns)."""
    return (kind, user, db, "none", state, "10.0.0.1", 40000, "10.0.0.2", 6432,
            "2025-01-01 00:00:00 UTC", "2025-01-01 00:00:00 UTC", 0, 0, 0, "0x1", "", 0, "",
            app, 0, 1)


# pgbouncer 1.24 and 1.25 (src/admin.c, src/stats.c at pgbouncer_1_25_0)
RESULTS_125 = {
    "SHOW VERSION": (cols("version:t"), [("PgBouncer 1.25.0",)]),
    "SHOW POOLS": (cols(POOLS_118 + " load_balance_hosts:t"), [
        ("app", "alice", 7, 3, 1, 2, 5, 1, 1, 4, 2, 1, 1, 12, 345678, "transaction", None)]),
    "SHOW DATABASES": (cols(
        "name:t host:t port:i database:t force_user:t pool_size:i min_pool_size:i "
        "reserve_pool_size:i server_lifetime:i pool_mode:t load_balance_hosts:t "
        "max_connections:i current_connections:i max_client_connections:i "
        "current_client_connections:i paused:i disabled:i"), [
        ("app", "db1", 5432, "appdb", None, 20, 3, 5, 3600, "transaction", None, 50, 9, 200, 13,
         0, 1)]),
    "SHOW STATS": (cols(
        "database:t total_server_assignment_count:n total_xact_count:n total_query_count:n "
        "total_received:n total_sent:n total_xact_time:n total_query_time:n total_wait_time:n "
        "total_client_parse_count:n total_server_parse_count:n total_bind_count:n "
        "avg_server_assignment_count:n avg_xact_count:n avg_query_count:n avg_recv:n "
        "avg_sent:n avg_xact_time:n avg_query_time:n avg_wait_time:n "
        "avg_client_parse_count:n avg_server_parse_count:n avg_bind_count:n"), [
        ("app", 41, 1000, 3000, 123456, 654321, 2500000, 1500000, 750000, 17, 11, 29,
         1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)]),
    "SHOW LISTS": (cols("list:t items:i"), [(name, i + 1) for i, name in enumerate(LISTS)]),
    "SHOW CONFIG": (cols("key:t value:t default:t changeable:t"), [
        ("max_client_conn", "300", "100", "yes"),
        ("default_pool_size", "20", "20", "yes"),
        ("min_pool_size", "3", "0", "yes"),
        ("reserve_pool_size", "5", "0", "yes"),
        ("max_db_connections", "0", "0", "yes"),
        ("max_user_connections", "40", "0", "yes"),
        ("pool_mode", "transaction", "session", "yes"),
        ("listen_addr", "127.0.0.1", "", "no")]),
    "SHOW CLIENTS": (cols(SOCKETS_125), [
        sock("C", "alice", "app", "active", "web"), sock("C", "alice", "app", "active", "web"),
        sock("C", "alice", "app", "waiting", "batch"), sock("C", "bob", "app", "active", "")]),
    "SHOW SERVERS": (cols(SOCKETS_125), [
        sock("S", "alice", "app", "active", "web"), sock("S", "alice", "app", "active", "web"),
        sock("S", "alice", "app", "idle", "")]),
    "SHOW MEM": (cols("name:t size:i used:i free:i memtotal:i"), [
        ("user_cache", 2312, 4, 46, 115600), ("client_cache", 608, 3, 47, 30400)]),
    "SHOW STATE": (cols("key:t value:t"), [("active", "no"), ("paused", "yes"),
                                            ("suspended", "no")]),
    "SHOW USERS": (cols("name:t pool_size:i reserve_pool_size:i pool_mode:t "
                        "max_user_connections:i current_connections:i "
                        "max_user_client_connections:i current_client_connections:i"), [
        ("alice", 10, None, None, 40, 9, 100, 13)]),
}

# pgbouncer 1.17: one cl_cancel_req column, no server cancel states
RESULTS_117 = dict(RESULTS_125, **{
    "SHOW VERSION": (cols("version:t"), [("PgBouncer 1.17.0",)]),
    "SHOW USERS": (cols("name:t pool_mode:t"), [("alice", None)]),
    "SHOW POOLS": (cols(
        "database:t user:t cl_active:i cl_waiting:i cl_cancel_req:i sv_active:i sv_idle:i "
        "sv_used:i sv_tested:i sv_login:i maxwait:i maxwait_us:i pool_mode:t"), [
        ("app", "alice", 7, 3, 1, 5, 4, 2, 1, 1, 12, 345678, "transaction")]),
    "SHOW DATABASES": (cols(
        "name:t host:t port:i database:t force_user:t pool_size:i min_pool_size:i "
        "reserve_pool:i pool_mode:t max_connections:i current_connections:i paused:i "
        "disabled:i"), [
        ("app", "db1", 5432, "appdb", None, 20, 3, 5, "transaction", 50, 9, 0, 1)]),
    "SHOW STATS": (cols(
        "database:t total_xact_count:n total_query_count:n total_received:n total_sent:n "
        "total_xact_time:n total_query_time:n total_wait_time:n avg_xact_count:n "
        "avg_query_count:n avg_recv:n avg_sent:n avg_xact_time:n avg_query_time:n "
        "avg_wait_time:n"), [
        ("app", 1000, 3000, 123456, 654321, 2500000, 1500000, 750000, 2, 3, 4, 5, 6, 7, 8)]),
})


@pytest.fixture
def fake_console():
    made = []

    def make(results, version):
        c = FakeConsole(results, version)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


def start_on(pgpulse, console_):
    return pgpulse(config=f"""
targets:
  - name: bouncer
    kind: pgbouncer
    url: postgresql://{pgfix.MONITOR_USER}@127.0.0.1:{console_.port}/pgbouncer
queries: [{QUERIES / 'pgbouncer.yaml'}]
""")


def check_common(page):
    """What every version gives (the values of the stand-in's results)."""
    pool = dict(database="app", user="alice")
    for name, want in [("pgbouncer_pools_client_active_connections", 7),
                       ("pgbouncer_pools_client_waiting_connections", 3),
                       ("pgbouncer_pools_server_active_connections", 5),
                       ("pgbouncer_pools_server_idle_connections", 4),
                       ("pgbouncer_pools_server_used_connections", 2),
                       ("pgbouncer_pools_server_testing_connections", 1),
                       ("pgbouncer_pools_server_login_connections", 1),
                       ("pgbouncer_pools_client_maxwait_seconds", 12.345678)]:
        assert page.sample(name, **pool) == want, name
    entry = dict(name="app", host="db1", port="5432", database="appdb")
    for name, want in [("pgbouncer_databases_pool_size", 20),
                       ("pgbouncer_databases_min_pool_size", 3),
                       ("pgbouncer_databases_reserve_pool", 5),
                       ("pgbouncer_databases_max_connections", 50),
                       ("pgbouncer_databases_current_connections", 9),
                       ("pgbouncer_databases_paused", 0),
                       ("pgbouncer_databases_disabled", 1)]:
        assert page.sample(name, **entry) == want, name
    for name, want in [("pgbouncer_stats_sql_transactions_pooled_total", 1000),
                       ("pgbouncer_stats_queries_pooled_total", 3000),
                       ("pgbouncer_stats_received_bytes_total", 123456),
                       ("pgbouncer_stats_sent_bytes_total", 654321),
                       ("pgbouncer_stats_server_in_transaction_seconds_total", 2.5),
                       ("pgbouncer_stats_queries_duration_seconds_total", 1.5),
                       ("pgbouncer_stats_client_wait_seconds_total", 0.75)]:
        assert page.sample(name, database="app") == pytest.approx(want), name
    for c in ("pgbouncer_up", "pgbouncer_version", "pgbouncer_pools", "pgbouncer_databases",
              "pgbouncer_stats", "pgbouncer_lists"):
        assert page.sample("pgpulse_scrape_success", collector=c) == 1, c
    assert page.sample("pgbouncer_up") == 1


def test_pgbouncer_1_25_columns(fake_console, pgpulse, promtool_check):
    console_ = fake_console(RESULTS_125, "1.25.0")
    page = start_on(pgpulse, console_).scrape()
    promtool_check(page)
    check_common(page)
    pool = dict(database="app", user="alice")
    for name, want in [("pgbouncer_pools_client_active_cancel_connections", 1),
                       ("pgbouncer_pools_client_waiting_cancel_connections", 2),
                       ("pgbouncer_pools_server_active_cancel_connections", 1),
                       ("pgbouncer_pools_server_being_canceled_connections", 1)]:
        assert page.sample(name, **pool) == want, name
    assert page.sample("pgbouncer_databases_max_client_connections", name="app") == 200
    assert page.sample("pgbouncer_databases_current_client_connections", name="app") == 13
    for name, want in [("pgbouncer_stats_server_assignments_total", 41),
                       ("pgbouncer_stats_client_parses_total", 17),
                       ("pgbouncer_stats_server_parses_total", 11),
                       ("pgbouncer_stats_binds_total", 29)]:
        assert page.sample(name, database="app") == want, name
    assert {s.labels["list"]: s.value for s in page.samples("pgbouncer_lists_items")} == \
        {name: i + 1 for i, name in enumerate(LISTS)}
    assert page.samples("pgbouncer_version_info")[0].labels["version"] == "PgBouncer 1.25.0"
    for name, want in [("max_client_connections", 300), ("default_pool_size", 20),
                       ("min_pool_size", 3), ("reserve_pool_size", 5),
                       ("max_db_connections", 0), ("max_user_connections", 40)]:
        assert page.sample(f"pgbouncer_config_{name}") == want, name
    # SHOW CLIENTS and SHOW SERVERS counted per database, user and state
    for fam, want in [("pgbouncer_clients_connections",
                       {("app", "alice", "active"): 2, ("app", "alice", "waiting"): 1,
                        ("app", "bob", "active"): 1}),
                      ("pgbouncer_servers_connections",
                       {("app", "alice", "active"): 2, ("app", "alice", "idle"): 1})]:
        assert {(s.labels["database"], s.labels["user"], s.labels["state"]): s.value
                for s in page.samples(fam)} == want, fam
    assert {s.labels["application_name"]: s.value
            for s in page.samples("pgbouncer_clients_application_connections")} == \
        {"web": 2, "batch": 1, "": 1, "other": 0}
    assert page.sample("pgbouncer_mem_used_items", name="user_cache") == 4
    assert page.sample("pgbouncer_mem_bytes", name="client_cache") == 30400
    assert [page.sample(f"pgbouncer_state_{k}") for k in ("active", "paused", "suspended")] == \
        [0, 1, 0]
    for name, want in [("pool_size", 10), ("max_connections", 40), ("current_connections", 9),
                       ("max_client_connections", 100), ("current_client_connections", 13)]:
        assert page.sample(f"pgbouncer_users_{name}", name="alice") == want, name
    assert not page.has("pgbouncer_users_reserve_pool_size")  # NULL: no override
    # simple protocol, one SHOW per query, nothing else
    assert set(console_.queries) == set(RESULTS_125), console_.queries


def test_pgbouncer_1_17_columns(fake_console, pgpulse):
    console_ = fake_console(RESULTS_117, "1.17.0")
    page = start_on(pgpulse, console_).scrape()
    check_common(page)
    for name in ("pgbouncer_pools_client_active_cancel_connections",
                 "pgbouncer_pools_server_being_canceled_connections",
                 "pgbouncer_databases_max_client_connections",
                 "pgbouncer_stats_server_assignments_total", "pgbouncer_stats_binds_total",
                 "pgbouncer_users_max_connections"):
        assert not page.has(name), name
    # SHOW STATE is not sent to a version before 1.19
    assert "SHOW STATE" not in console_.queries and not page.has("pgbouncer_state_paused")
    assert page.sample("pgpulse_scrape_success", collector="pgbouncer_users") == 1


def test_config_limits_match_show_config(pgbouncer, pgpulse, console):
    p = start(pgpulse, pgbouncer)
    page = p.scrape()
    with pgbouncer.connect() as c:
        conf = {k: v for k, v, *_ in c.execute("SHOW CONFIG").fetchall()}
    for key, name in [("max_client_conn", "max_client_connections"),
                      ("default_pool_size", "default_pool_size"),
                      ("min_pool_size", "min_pool_size"),
                      ("reserve_pool_size", "reserve_pool_size"),
                      ("max_db_connections", "max_db_connections"),
                      ("max_user_connections", "max_user_connections")]:
        assert page.sample(f"pgbouncer_config_{name}") == float(conf[key]), key
    assert page.sample("pgbouncer_config_default_pool_size") == 2
    assert page.sample("pgpulse_scrape_success", collector="pgbouncer_config") == 1
