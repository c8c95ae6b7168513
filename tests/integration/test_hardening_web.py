"""The web side under attack: bcrypt hashes checked at load, failed logins
counted and logged without flooding, bounded login work, a total deadline
for reading a request, and a shutdown that does not wait for long work.
Against a real PostgreSQL 15."""

import re
import signal
import socket
import threading
import time
import warnings

import requests

import pgfix

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt  # libxcrypt's bcrypt, as pgpulse verifies it

QUERIES = pgfix.REPO / "queries"
ENV = {"MONITOR_PW": pgfix.MONITOR_PASSWORD}
PASSWORD = "web-secret-pw-5120"


def config(pg, extra=""):
    return ("targets:\n"
            "  - name: main\n"
            f"    url: {pg.dsn(password=None)}\n"
            "    password_env: MONITOR_PW\n"
            f"queries: [{QUERIES}/server.yaml]\n" + extra)


def bcrypt(password, cost=4):
    return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << cost))


def users_yaml(**users):
    return "basic_auth_users:\n" + "".join(f"  {u}: '{h}'\n" for u, h in users.items())


def test_malformed_and_too_costly_hashes_are_refused_at_start_and_by_the_dry_run(pg, pgpulse):
    good = bcrypt("pw", 4)
    web = pgpulse.write("web-hashes.yml", users_yaml(
        short="$2y$10$short",
        cost31="$2b$31$" + good[7:],
        cost15="$2y$15$" + good[7:],
        alphabet="$2b$10$" + good[7:-1] + "!",
        ok=good))
    p = pgpulse("--web.config.file", str(web), config=config(pg), env=ENV, wait=False)
    assert p.wait() == 1
    err = p.stderr_text()
    assert f"{web}:2:10: error: user 'short': not a bcrypt hash" in err
    assert f"{web}:3:11: error: user 'cost31': bcrypt cost 31 is not from 4 to 14" in err
    assert f"{web}:4:11: error: user 'cost15': bcrypt cost 15 is not from 4 to 14" in err
    assert f"{web}:5:13: error: user 'alphabet': not a bcrypt hash" in err
    assert "user 'ok'" not in err
    assert good[7:] not in err  # hashes are not shown
    # the dry run refuses what the daemon refuses
    dry = pgpulse("--dry-run", "--offline", "--web.config.file", str(web),
                  config=config(pg), env=ENV, listen=False, wait=False)
    assert dry.wait() == 1
    assert f"{web}:2:10: error: user 'short': not a bcrypt hash" in dry.stderr_text()
    assert f"{web}:3:11: error: user 'cost31'" in dry.stderr_text()


def test_failed_logins_are_counted_and_logged_at_most_once_per_ten_seconds(pg, pgpulse):
    web = pgpulse.write("web-fail.yml", users_yaml(prom=bcrypt(PASSWORD)))
    p = pgpulse("--web.config.file", str(web), config=config(pg), env=ENV)
    start = time.monotonic()
    for i in range(30):
        user = "prom" if i % 2 else f"guess{i}"
        assert p.get("/metrics", auth=(user, f"wrong-{i}")).status_code == 401
    for _ in range(3):  # no credentials: a first request, not a guess
        assert p.get("/metrics").status_code == 401
    elapsed = time.monotonic() - start
    page = p.scrape(auth=("prom", PASSWORD))
    assert page.sample("pgpulse_web_auth_failures_total") == 30
    lines = [l for l in p.log_text().splitlines() if "failed web logins" in l]
    assert 1 <= len(lines) <= 2 + elapsed / 10, lines
    assert "count=1 " in lines[0] and "last_client=127.0.0.1" in lines[0], lines[0]
    counts = [int(re.search(r"count=(\d+)", l).group(1)) for l in lines]
    assert sum(counts) <= 30
    for i in range(30):
        assert f"wrong-{i}" not in p.log_text()
        assert f"guess{i} " not in p.log_text()


def test_a_flood_of_guesses_waits_for_two_bcrypt_slots_and_known_clients_pass(pg, pgpulse):
    """Cost 13 is about 0.6 s of CPU a check: 16 guesses at once are 5 s of
    work for two slots, more than the 2 s a check may wait for its turn."""
    web = pgpulse.write("web-flood.yml", users_yaml(prom=bcrypt(PASSWORD, 13)))
    p = pgpulse("--web.config.file", str(web), config=config(pg), env=ENV)
    # Prometheus logged in once: its credentials are remembered
    assert p.get("/metrics", auth=("prom", PASSWORD)).status_code == 200
    statuses, known = [], []

    def guess(i):
        try:
            statuses.append(p.get("/readyz", auth=("prom", f"guess-{i}"), timeout=120).status_code)
        except requests.RequestException as e:
            statuses.append(repr(e))

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    while any(t.is_alive() for t in threads):
        r = p.get("/healthz", timeout=30)  # open route: no bcrypt
        assert r.status_code == 200
        known.append(p.get("/metrics", auth=("prom", PASSWORD), timeout=60).status_code)
        time.sleep(0.1)
    for t in threads:
        t.join()
    assert sorted(set(statuses)) == [401, 503], statuses
    assert statuses.count(503) >= 2, statuses
    assert known and set(known) == {200}, known


def test_a_request_trickled_in_gets_the_read_timeout_in_total_not_per_byte(pg, pgpulse):
    """Eight connections from two addresses take the slots (one per address
    is left for the connections of the steps before, which may still count
    for a moment) and send a byte each 0.5 s, below the 2 s idle timeout:
    cut after 2 s all the same."""
    p = pgpulse("--web.read-timeout", "2s", "--web.max-connections", "10",
                config=config(pg), env=ENV)
    assert p.get("/healthz").status_code == 200
    cut_after = {}
    stop = threading.Event()

    def trickle(i, source):
        s = socket.create_connection(("127.0.0.1", p.port), timeout=5,
                                     source_address=(source, 0))
        start = time.monotonic()
        try:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            while not stop.is_set() and time.monotonic() - start < 20:
                s.sendall(b"X")
                time.sleep(0.5)
                s.settimeout(0.01)
                try:
                    if s.recv(100) == b"":
                        break
                except socket.timeout:
                    pass
                except ConnectionResetError:
                    break
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            cut_after[i] = time.monotonic() - start
            s.close()

    threads = [threading.Thread(target=trickle, args=(i, "127.0.0.1" if i % 2 else "127.0.0.2"))
               for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    stop.set()
    assert len(cut_after) == 8
    # cut at 2 s (the sweep runs each 0.25 s), not after 20 s of trickling
    assert all(1.5 < v < 12 for v in cut_after.values()), cut_after
    assert pgfix.wait_for(lambda: p.get("/healthz", timeout=5).status_code == 200, timeout=10)
    page = p.scrape()
    assert page.sample("pg_up", target="main") == 1


def test_sigterm_ends_the_process_within_seconds_while_a_long_scrape_runs(pg, pgpulse):
    slow = pgpulse.write("slow.yaml", "collectors:\n  slow:\n    help: a slow query.\n"
                                      "    sql: SELECT 1 AS v FROM pg_sleep(40)\n"
                                      "    metrics:\n      v: gauge\n")
    cfg = ("targets:\n  - name: main\n"
           f"    url: {pg.dsn(password=None)}\n    password_env: MONITOR_PW\n"
           f"queries: [{slow}]\n"
           "limits: {scrape_timeout: 60s, statement_timeout: 50s}\n")
    p = pgpulse(config=cfg, env=ENV)
    result = []
    t = threading.Thread(target=lambda: result.append(_get(p)))
    t.start()
    assert pgfix.wait_for(lambda: pg.scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(40)%' "
        "AND pid <> pg_backend_pid()") >= 1, timeout=20)
    start = time.monotonic()
    p.stop(signal.SIGTERM, timeout=30)
    took = time.monotonic() - start
    t.join(60)
    pg.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE query LIKE '%pg_sleep(40)%' AND pid <> pg_backend_pid()")
    assert took < 15, took  # 5 s of grace, then exit; not the 40 s query
    assert "exiting without them" in p.log_text()


def _get(p):
    try:
        return p.get("/metrics", timeout=90).status_code
    except requests.RequestException as e:
        return repr(e)
