"""Many targets and many scrapers against real PostgreSQL 15: a primary and
its streaming replica as two labelled targets, a stopped target that slows
nothing, /probe for configured and allow-listed targets (and never for
anything else), coalesced concurrent scrapes within the connection bound,
the scrape deadline, gzip and OpenMetrics read by real parsers."""

import gzip
import socket
import threading
import time
import urllib.parse

import requests
from prometheus_client.openmetrics.parser import \
    text_string_to_metric_families as om_families
from prometheus_client.parser import text_string_to_metric_families

import pgfix
from pgfix import REPO

QUERIES = REPO / "queries"


def calls(pg, marker):
    """Executions of statements containing 'marker', from pg_stat_statements."""
    return pg.scalar("SELECT coalesce(sum(calls), 0)::int FROM pg_stat_statements "
                     "WHERE query LIKE %s AND query NOT LIKE %s",
                     (f"%{marker}%", "%pg_stat_statements%"))


def target(name, pg, extra=""):
    return (f"  - name: {name}\n"
            f"    url: {pg.dsn(password=None)}\n"
            f"    password_env: MONITOR_PW\n{extra}")


ENV = {"MONITOR_PW": pgfix.MONITOR_PASSWORD}


def pgpulse_conns(pg, user="monitor"):
    return pg.scalar("SELECT count(*) FROM pg_stat_activity "
                     "WHERE application_name = 'pgpulse' AND usename = %s", (user,))


# --- several targets on one page -------------------------------------------

def test_primary_and_replica_are_two_targets_with_their_labels(pg, replica, pgpulse):
    cfg = ("targets:\n"
           + target("primary", pg, "    labels: {cluster: main, node: a}\n")
           + target("standby", replica, "    labels: {cluster: main, node: b}\n")
           + f"queries: [{QUERIES}/server.yaml, {QUERIES}/replication.yaml]\n")
    p = pgpulse(config=cfg, env=ENV)
    replica.catch_up()
    page = p.scrape()
    assert page.sample("pg_up", target="primary", cluster="main", node="a") == 1
    assert page.sample("pg_up", target="standby", cluster="main", node="b") == 1
    assert page.samples("pg_info", target="primary")[0].labels["role"] == "primary"
    assert page.samples("pg_info", target="standby")[0].labels["role"] == "replica"

    # the primary sees its standby; the standby reports its own receiver
    app = pg.scalar("SELECT application_name FROM pg_stat_replication")
    assert app == replica.name
    standbys = page.samples("pg_replication_standby_replay_lag_bytes")
    assert [(s.labels["target"], s.labels["application_name"]) for s in standbys] == \
        [("primary", replica.name)]
    streaming = replica.scalar("SELECT count(*) FROM pg_stat_wal_receiver "
                               "WHERE status = 'streaming'")
    assert page.sample("pg_standby_wal_receiver_streaming", target="standby") == streaming == 1
    assert not page.has("pg_standby_wal_receiver_streaming", target="primary")
    start = replica.scalar("SELECT extract(epoch FROM pg_postmaster_start_time())::float8")
    assert abs(page.sample("pg_postmaster_start_time_seconds", target="standby") - start) < 1
    start = pg.scalar("SELECT extract(epoch FROM pg_postmaster_start_time())::float8")
    assert abs(page.sample("pg_postmaster_start_time_seconds", target="primary") - start) < 1


def blackhole():
    """A port that accepts TCP connections and never answers."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    return s


def test_a_down_or_hanging_target_does_not_hold_up_the_others(pg, pg_factory, pgpulse):
    down = pg_factory(name="down")
    down.stop()
    hole = blackhole()
    try:
        cfg = ("targets:\n" + target("main", pg) + target("down", down)
               + f"  - name: hang\n    host: 127.0.0.1\n    port: '{hole.getsockname()[1]}'\n"
               f"    user: monitor\n"
               f"queries: [{QUERIES}/server.yaml, {QUERIES}/database.yaml]\n"
               "limits: {connect_timeout: 30s, scrape_timeout: 30s}\n")
        p = pgpulse(config=cfg, env=ENV)
        page, took = p.scrape_timed(2)
        assert took < 2.5, took
        assert page.sample("pg_up", target="main") == 1
        assert page.sample("pg_up", target="down") == 0
        size = pg.scalar("SELECT pg_database_size('postgres')")
        got = page.sample("pg_database_size_bytes", target="main", datname="postgres")
        assert abs(got - size) < 256 * 1024
        assert not page.has("pg_database_size_bytes", target="down")
        # the landing page lists targets by name and state, nothing more
        landing = p.get("/").text
        for name, state in (("main", "up"), ("down", "down")):
            assert f"<tr><td>{name}</td><td>postgres</td><td>{state}</td>" in landing
        assert str(down.port) not in landing and "monitor" not in landing
        # a 1 s Prometheus timeout: the hanging connect is bounded by the
        # deadline, not by libpq's 2 s at least (a new pgpulse: the first
        # one's backoff would skip the attempt)
        p.stop()
        p = pgpulse(config=cfg, env=ENV)
        page, took = p.scrape_timed(1)
        assert took < 1.6, took
        assert page.sample("pg_up", target="main") == 1
        assert page.sample("pg_up", target="hang") == 0
    finally:
        hole.close()


def test_a_hanging_host_leaves_time_for_the_next_one(pg, pgpulse):
    # libpq gives each host of a multi-host URL its own connect_timeout
    hole = blackhole()
    try:
        url = (f"postgresql://monitor@127.0.0.1:{hole.getsockname()[1]},"
               f"127.0.0.1:{pg.port}/postgres?connect_timeout=2&sslmode=disable")
        cfg = ("targets:\n  - name: multi\n"
               f"    url: '{url}'\n    password_env: MONITOR_PW\n"
               f"queries: [{QUERIES}/server.yaml]\n")
        p = pgpulse(config=cfg, env=ENV)
        page, took = p.scrape_timed(8)
        assert page.sample("pg_up", target="multi") == 1
        # the hanging host was waited on: libpq's connect_timeout counts whole
        # seconds of the clock (time()), so 2 s end between 1 and 2 s later
        assert 1 <= took < 7, took
    finally:
        hole.close()


class Partition:
    """A TCP proxy to a server that can be cut off like a network
    partition: after cut(), nothing passes either way, and new connections
    are accepted but never answered (so a cancel request hangs too)."""

    def __init__(self, port):
        self.upstream = port
        self.cut_off = threading.Event()
        self.closing = threading.Event()
        self.socks = []
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closing.is_set():
            try:
                down, _ = self.listener.accept()
            except OSError:
                return
            self.socks.append(down)
            if self.cut_off.is_set():
                continue  # accepted, never answered
            up = socket.create_connection(("127.0.0.1", self.upstream))
            self.socks.append(up)
            for a, b in ((down, up), (up, down)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src, dst):
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                return
            if not data:
                return
            if self.cut_off.is_set():
                continue  # lost in the partition
            try:
                dst.sendall(data)
            except OSError:
                return

    def cut(self):
        self.cut_off.set()

    def close(self):
        self.closing.set()
        self.listener.close()
        for s in self.socks:
            try:
                s.close()
            except OSError:
                pass


def test_a_partitioned_target_mid_query_does_not_hold_the_page(pg, pgpulse):
    part = Partition(pg.port)
    try:
        q = pgpulse.write("partition.yaml", """
collectors:
  sleepy:
    help: Still running when the network goes.
    timeout: 30s
    sql: SELECT 1 AS v FROM pg_sleep(8)
    metrics:
      v: gauge
""")
        cfg = ("targets:\n" + target("main", pg)
               + f"  - name: cut\n    host: 127.0.0.1\n    port: '{part.port}'\n"
               f"    dbname: postgres\n    user: monitor\n    password_env: MONITOR_PW\n"
               f"    sslmode: disable\n"
               f"queries: [{q}, {QUERIES}/server.yaml]\n"
               "limits: {connect_timeout: 30s, scrape_timeout: 30s, statement_timeout: 20s}\n")
        p = pgpulse(config=cfg, env=ENV)
        threading.Timer(0.7, part.cut).start()
        # the deadline passes while pg_sleep runs behind the partition: the
        # cancel request cannot get through (libpq's PQcancel would wait
        # for an answer forever), yet the page goes out on time
        page, took = p.scrape_timed(2)
        assert took < 2.5, took
        assert page.sample("pg_up", target="main") == 1
        assert page.sample("pgpulse_scrape_success", target="cut", collector="sleepy") == 0
        # the next scrape finds no way in either: down, on time
        page, took = p.scrape_timed(2)
        assert took < 2.5, took
        assert page.sample("pg_up", target="cut") == 0
        assert page.sample("pg_up", target="main") == 1
        assert "canceled" in p.stderr_text() or "timeout" in p.stderr_text()
    finally:
        part.close()
        # the cancel never got through: end the session behind the cut
        # (still sleeping, or idle once its batch ended there), and the rest
        pg.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'pgpulse' AND pid <> pg_backend_pid()")


# --- /probe -------------------------------------------------------------------

def probe_config(pg, extra=""):
    return ("targets:\n" + target("main", pg)
            + f"queries: [{QUERIES}/server.yaml, {QUERIES}/database.yaml]\n" + extra)


def test_probe_serves_a_configured_target_without_a_target_label(pg, pgpulse):
    p = pgpulse(config=probe_config(pg), env=ENV)
    page = p.scrape("/probe?target=main")
    assert page.sample("pg_up") == 1
    assert all("target" not in s.labels for s in page.all_samples())
    size = pg.scalar("SELECT pg_database_size('postgres')")
    assert abs(page.sample("pg_database_size_bytes", datname="postgres") - size) < 256 * 1024
    # a bare name is a configured target's; host:port needs the port
    r = p.get("/probe?target=nosuch")
    assert r.status_code == 400 and "unknown target 'nosuch'" in r.text
    assert p.get("/probe").status_code == 400


def test_probe_never_connects_where_the_config_does_not_allow(pg, pgpulse):
    p = pgpulse(config=probe_config(pg, "probe: {allow: ['db[0-9]+\\.internal:5432']}\n"),
                env=ENV)
    mark = pg.log_mark()
    port = pg.port
    conninfo = f"host=127.0.0.1 port={port} user=monitor password={pgfix.MONITOR_PASSWORD}"
    refused = {
        conninfo: 400,
        pg.dsn(): 400,
        f"127.0.0.1:{port}/postgres?sslmode=disable": 400,
        f"127.0.0.1:{port} dbname=postgres": 400,
        f"monitor@127.0.0.1:{port}": 400,
        f"127.0.0.1:{port}": 403,
        f"localhost:{port}/postgres": 403,
        # anchored: a pattern must match all of host:port
        f"db1.internal:5432.evil:{port}": 400,
        "xdb1.internal:5432": 403,
    }
    for spec, status in refused.items():
        r = p.get("/probe?" + urllib.parse.urlencode({"target": spec}))
        assert r.status_code == status, (spec, r.status_code, r.text)
        assert pgfix.MONITOR_PASSWORD not in r.text
    # an auth module is for host:port targets only
    r = p.get("/probe?target=main&auth_module=x")
    assert r.status_code == 400
    time.sleep(0.3)
    assert pg.connections_since(mark) == []
    assert "connection received" not in pg.log_since(mark)


def test_allow_listed_probe_uses_its_auth_module_and_keeps_connections_bounded(
        pg, pgpulse):
    pw = pgpulse.write("probe-pw", pgfix.MONITOR_PASSWORD + "\n", mode=0o644)
    for db in ("tenant_a", "tenant_b", "tenant_c"):
        pg.psql(f"DROP DATABASE IF EXISTS {db}")
        pg.psql(f"CREATE DATABASE {db}")
    try:
        cfg = ("targets: []\n"
               f"queries: [{QUERIES}/server.yaml]\n"
               "limits: {connections_per_target: 1}\n"
               f"probe: {{allow: ['127\\.0\\.0\\.1:{pg.port}'], max_targets: 2}}\n"
               "auth_modules:\n"
               "  monitoring:\n"
               "    type: userpass\n"
               f"    userpass: {{username: monitor, password_file: {pw}}}\n"
               "    options: {sslmode: disable}\n")
        p = pgpulse(config=cfg)
        base = f"/probe?auth_module=monitoring&target=127.0.0.1:{pg.port}"
        mark = pg.log_mark()
        page = p.scrape(base + "/tenant_a")
        assert page.sample("pg_up") == 1
        assert page.samples("pg_info")[0].labels["server_version_num"] == str(pg.version_num)
        conns = pg.connections_since(mark, application_name="pgpulse")
        assert [(c["user"], c["database"]) for c in conns] == [("monitor", "tenant_a")]
        # the same target again: its session is reused
        mark = pg.log_mark()
        assert p.scrape(base + "/tenant_a").sample("pg_up") == 1
        assert pg.connections_since(mark, application_name="pgpulse") == []
        # a third target drops the least recently used: at most two kept
        for db in ("tenant_b", "tenant_c"):
            assert p.scrape(base + "/" + db).sample("pg_up") == 1
        time.sleep(0.3)
        dbs = sorted(r[0] for r in pg.psql(
            "SELECT datname FROM pg_stat_activity WHERE application_name = 'pgpulse'"))
        assert dbs == ["tenant_b", "tenant_c"]
        assert p.get(f"/probe?target=127.0.0.1:{pg.port}&auth_module=nosuch").status_code == 400
    finally:
        for db in ("tenant_a", "tenant_b", "tenant_c"):
            pg.psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


# --- many scrapers ----------------------------------------------------------

SLOW = """
collectors:
  slow:
    help: Sleeps, then answers; cached.
    ttl: 60s
    timeout: 20s
    sql: SELECT 1 AS slow_marker_v FROM pg_sleep(3)
    metrics:
      slow_marker_v: gauge
"""


def test_fifty_concurrent_scrapes_share_one_collection(pg, pgpulse):
    q = pgpulse.write("slow.yaml", SLOW)
    cfg = ("targets:\n" + target("main", pg)
           + f"queries: [{q}]\n"
           "limits: {connections_per_target: 2, scrape_timeout: 20s, statement_timeout: 15s}\n")
    pg.psql("SELECT pg_stat_statements_reset()")
    p = pgpulse(config=cfg, env=ENV)
    pages, errors, peak = [], [], [0]
    done = threading.Event()

    def scrape():
        try:
            r = requests.get(p.url + "/metrics", timeout=30)
            pages.append((r.status_code, r.text))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    def watch():
        while not done.is_set():
            peak[0] = max(peak[0], pgpulse_conns(pg))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    threads = [threading.Thread(target=scrape) for _ in range(50)]
    start = time.monotonic()
    for t in threads:
        t.start()
    time.sleep(0.5)
    # the cheap routes answer while every scrape waits
    t0 = time.monotonic()
    assert p.get("/healthz", timeout=5).status_code == 200
    assert p.get("/", timeout=5).status_code == 200
    # (well before the collection ends, at 3 s: nothing waited for it)
    assert time.monotonic() - t0 < 2
    for t in threads:
        t.join()
    took = time.monotonic() - start
    done.set()
    watcher.join()
    assert not errors, errors[:3]
    assert len(pages) == 50
    for status, text in pages:
        assert status == 200
        assert pgfix.Page(text).sample("slow_slow_marker_v", target="main") == 1
    assert took < 7, took
    assert 1 <= peak[0] <= 2, peak
    assert calls(pg, "slow_marker_v") == 1
    # within the ttl, later scrapes do not run it again
    assert p.scrape().sample("slow_slow_marker_v", target="main") == 1
    assert calls(pg, "slow_marker_v") == 1


def test_scrape_timeout_header_serves_what_finished(pg, replica, pgpulse):
    q = pgpulse.write("deadline.yaml", """
collectors:
  quick:
    help: Answers.
    sql: SELECT 2 AS v
    metrics:
      v: gauge
  sleepy:
    help: Slower than Prometheus waits.
    timeout: 30s
    sql: SELECT 1 AS v FROM pg_sleep(5)
    metrics:
      v: gauge
""")
    cfg = ("targets:\n" + target("primary", pg) + target("standby", replica)
           + f"queries: [{q}]\n" "limits: {scrape_timeout: 30s, statement_timeout: 30s}\n")
    p = pgpulse(config=cfg, env=ENV)
    page, took = p.scrape_timed(1.5)
    assert took < 2, took
    for t in ("primary", "standby"):
        assert page.sample("pgpulse_scrape_success", collector="sleepy", target=t) == 0
        assert page.sample("pgpulse_scrape_success", collector="quick", target=t) == 1
        assert page.sample("quick_v", target=t) == 2
        assert not page.has("sleepy_v", target=t)


# --- formats ----------------------------------------------------------------

def raw_get(p, path, headers):
    r = requests.get(p.url + path, headers=headers, stream=True, timeout=30)
    body = r.raw.read(decode_content=False)
    return r, body


def test_gzip_and_openmetrics_are_read_by_real_parsers(pg, pgpulse):
    p = pgpulse(config=probe_config(pg), env=ENV)
    size = pg.scalar("SELECT pg_database_size('postgres')")

    r, body = raw_get(p, "/metrics", {"Accept-Encoding": "gzip",
                                      "Accept": "application/openmetrics-text; version=1.0.0"})
    assert r.headers["Content-Encoding"] == "gzip"
    assert r.headers["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
    text = gzip.decompress(body).decode()
    assert text.endswith("# EOF\n")
    fams = {f.name: f for f in om_families(text)}
    up = [s for s in fams["pg_up"].samples if s.labels.get("target") == "main"]
    assert [s.value for s in up] == [1]
    sizes = [s.value for s in fams["pg_database_size_bytes"].samples
             if s.labels.get("datname") == "postgres"]
    assert len(sizes) == 1 and abs(sizes[0] - size) < 256 * 1024

    r, body = raw_get(p, "/metrics", {"Accept-Encoding": "gzip, deflate"})
    assert r.headers["Content-Encoding"] == "gzip"
    assert r.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    fams = {f.name: f for f in text_string_to_metric_families(gzip.decompress(body).decode())}
    assert [s.value for s in fams["pg_up"].samples] == [1]

    r, body = raw_get(p, "/metrics", {"Accept-Encoding": "gzip;q=0, identity"})
    assert "Content-Encoding" not in r.headers
    assert b"pg_up{" in body
