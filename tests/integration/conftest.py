"""Fixtures for the integration suite: real PostgreSQL 15, pgbouncer and
pgpulse on free ports in temp dirs. Run with Debian's interpreter:

    /usr/bin/python3 -m pytest tests/integration        (make integration)

Fixtures
  pg                  session PgCluster, monitor role, pg_stat_statements
                      (PostgreSQL 15, Debian's)
  pgv                 the same on each version of PGPULSE_PG_VERSIONS (tests
                      using it run once per version, ids [pg13]...[pg18];
                      pg itself for 15); one cluster per version, started on
                      first use, stopped when the next version starts. A
                      pgpulse started in such a test scrapes it by default.
  replica             session streaming replica of pg (created on first use)
  pg_factory          pg_factory(name=None, settings=None) -> a fresh PgCluster
                      for this test only (destroyed after it)
  pgbouncer           session PgBouncer in front of pg
  pgbouncer_factory   pgbouncer_factory(pg=None, settings=None, users=None,
                      databases=None) -> a PgBouncer for this test only
  pgpulse             pgpulse(*args, config=, dsn=, env=, queries=, ...) -> PgPulse
                      (see pgfix.PgPulseFactory.__call__); SIGTERMed after the
                      test, which fails unless it exits 0 (and, under
                      PGPULSE_SANITIZE, without a sanitizer report)
  pgpulse_bin         Path of the binary under test (PGPULSE_BIN)
  promtool_check      promtool_check(text): assert `promtool check metrics` is clean
  promtool_lint       promtool_lint(text) -> (exit status, output)
  prometheus          prometheus(targets, scrape_interval="1s", job="pgpulse",
                      rule_files=()) -> a started pgfix.Prometheus (Debian's
                      server, as the unprivileged user, free port, temp storage)
                      scraping the static targets ("host:port" or {"targets":
                      [...], "labels": {...}}); module scope, stopped after the
                      module's last test
  scratch             session temp dir owned by the unprivileged user

Prerequisites that are absent make the tests that need them skip, except
under CI=true, where they fail (a PostgreSQL build scripts/pgversions cannot
download is one). PGPULSE_KEEP_TMP=1 keeps the temp dirs.
"""

import signal
import os
from pathlib import Path

import pytest

import pgfix
from pgfix import PgBouncer, PgPulseFactory, Prometheus, start_cluster


def pytest_configure(config):
    pgfix.scrub_environment()
    # SIGTERM (a CI timeout, kill) behaves like Ctrl-C: pytest then runs
    # every finalizer, so no server outlives the run.
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        def on_term(signum, frame):
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            raise KeyboardInterrupt(f"signal {signum}")
        signal.signal(signal.SIGTERM, on_term)
        signal.signal(signal.SIGHUP, on_term)


def pytest_report_header(config):
    return [f"pgpulse: PGPULSE_BIN={os.environ.get('PGPULSE_BIN') or '(default build/pgpulse)'} "
            f"PGPULSE_SANITIZE={pgfix.SANITIZE or '(none)'} CI={pgfix.IN_CI} "
            f"servers run as {pgfix.TEST_USER if pgfix.is_root() else 'the current user'}"]


def _require_pg(major=15):
    bindir = pgfix.pg_bin(major)
    tools = ("initdb", "pg_ctl", "postgres") + (("pg_basebackup",) if major == 15 else ())
    for tool in tools:
        pgfix.require_file(bindir / tool, f"PostgreSQL {major} {tool}")
    lib = bindir.parent / "lib"
    pgfix.require_file(lib / "pg_stat_statements.so" if major == 15 else
                       lib / "postgresql" / "pg_stat_statements.so", "pg_stat_statements")
    pgfix.require_modules("psycopg")
    if pgfix.is_root():
        pgfix.require_file("/usr/bin/setpriv", "setpriv (util-linux)")
        pgfix.ensure_user()


@pytest.fixture(scope="session")
def scratch():
    base = pgfix.make_scratch()
    yield base
    pgfix.remove_scratch(base)


@pytest.fixture(scope="session")
def pg(scratch):
    _require_pg()
    cluster = start_cluster(scratch, "pg")
    yield cluster
    cluster.destroy()


def pytest_generate_tests(metafunc):
    if "pgv" in metafunc.fixturenames:
        versions = pgfix.pg_versions()
        metafunc.parametrize("pgv", versions, ids=[f"pg{v}" for v in versions],
                             indirect=True, scope="session")


@pytest.fixture(scope="session")
def pgv(request, scratch):
    major = request.param
    if major == 15:
        yield request.getfixturevalue("pg")
        return
    _require_pg(major)
    cluster = start_cluster(scratch, f"pg{major}", bin=pgfix.pg_bin(major))
    assert cluster.version_num // 10000 == major, cluster.version_num
    yield cluster
    cluster.destroy()


@pytest.fixture(scope="session")
def replica(pg):
    r = pg.create_replica("replica")
    yield r
    r.destroy()


@pytest.fixture
def pg_factory(scratch):
    _require_pg()
    made = []

    def make(name=None, settings=None):
        name = name or f"pg-extra-{len(made) + 1}-{os.urandom(3).hex()}"
        c = start_cluster(scratch, name, settings)
        made.append(c)
        return c

    yield make
    for c in reversed(made):
        c.destroy()


def _require_pgbouncer():
    pgfix.require_file(pgfix.PGBOUNCER, "pgbouncer")


@pytest.fixture(scope="session")
def pgbouncer(scratch, pg):
    _require_pgbouncer()
    b = PgBouncer(scratch, pg).start()
    yield b
    b.destroy()


@pytest.fixture
def pgbouncer_factory(scratch, request):
    _require_pgbouncer()
    made = []

    def make(pg=None, settings=None, users=None, databases=None):
        pg = pg or request.getfixturevalue("pg")
        b = PgBouncer(scratch, pg, f"pgbouncer-extra-{len(made) + 1}-{os.urandom(3).hex()}",
                      settings=settings, users=users, databases=databases).start()
        made.append(b)
        return b

    yield make
    for b in reversed(made):
        b.destroy()


@pytest.fixture(autouse=True)
def _servers_up(request):
    """A test that stopped the session pg or pgbouncer and failed before
    starting it again must not break the tests after it."""
    for name in ("pg", "pgv", "pgbouncer"):
        if name in request.fixturenames:
            request.getfixturevalue(name).ensure_running()
    yield


@pytest.fixture(scope="session")
def pgpulse_bin():
    path = Path(os.environ.get("PGPULSE_BIN") or pgfix.REPO / "build" / "pgpulse")
    pgfix.need(path.is_file() and os.access(path, os.X_OK),
               f"pgpulse binary not found: {path} (make, or set PGPULSE_BIN)")
    return path


@pytest.fixture
def pgpulse(request, scratch, pgpulse_bin):
    pgfix.require_modules("requests", "prometheus_client")
    base = scratch / f"t-{os.urandom(4).hex()}"
    base.mkdir(mode=0o755)
    pgfix.give(base)
    default = "pgv" if "pgv" in request.fixturenames else "pg"
    factory = PgPulseFactory(pgpulse_bin, base,
                             lambda: request.getfixturevalue(default).dsn())
    yield factory
    factory.finish()


@pytest.fixture(scope="session")
def promtool_lint():
    pgfix.require_file(pgfix.PROMTOOL, "promtool (Debian package prometheus)")
    return pgfix.promtool_lint


@pytest.fixture(scope="session")
def promtool_check(promtool_lint):
    return pgfix.promtool_check


@pytest.fixture(scope="module")
def prometheus(scratch):
    pgfix.require_file(pgfix.PROMETHEUS, "prometheus (Debian package prometheus)")
    pgfix.require_modules("requests")
    made = []

    def make(targets, **kwargs):
        p = Prometheus(scratch, targets, f"prometheus-{len(made) + 1}-{os.urandom(3).hex()}",
                       **kwargs).start()
        made.append(p)
        return p

    yield make
    for p in reversed(made):
        p.destroy()
