"""Machinery behind the integration fixtures (see conftest.py).

Real servers on free ports in temp dirs: PostgreSQL 15 from
/usr/lib/postgresql/15/bin (13, 14, 16, 17 and 18 from the builds
scripts/pgversions caches, see pg_bin()), pgbouncer, and the pgpulse binary
under test.
When the tests run as root (CI does), the servers run as an unprivileged
user (PGPULSE_TEST_USER, default pgpulse-test, created on demand) through
setpriv, because initdb and pgbouncer refuse to run as root.

scripts/lib.sh does the same in shell for the demo and the benchmarks; keep
the cluster settings of the two in step.
"""

import atexit
import contextlib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

import pytest

try:
    import psycopg
except ImportError:  # reported by require_modules()
    psycopg = None
try:
    import requests
except ImportError:
    requests = None
try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    text_string_to_metric_families = None

REPO = Path(__file__).resolve().parents[2]
PG_BIN = Path(os.environ.get("PGPULSE_PG_BIN", "/usr/lib/postgresql/15/bin"))
PGBOUNCER = Path(os.environ.get("PGPULSE_PGBOUNCER", "/usr/sbin/pgbouncer"))
PROMTOOL = Path(os.environ.get("PGPULSE_PROMTOOL", "/usr/bin/promtool"))
TEST_USER = os.environ.get("PGPULSE_TEST_USER", "pgpulse-test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
SANITIZE = os.environ.get("PGPULSE_SANITIZE", "")
KEEP_TMP = bool(os.environ.get("PGPULSE_KEEP_TMP"))

SUPERUSER = "postgres"
SUPERUSER_PASSWORD = "super-secret-pw"
MONITOR_USER = "monitor"
MONITOR_PASSWORD = "monitor-secret-pw"
PASSWORDS = {SUPERUSER: SUPERUSER_PASSWORD, MONITOR_USER: MONITOR_PASSWORD}

# Settings every cluster gets (scripts/lib.sh has the same list).
PG_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "max_connections": 40,
    "shared_buffers": "32MB",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "shared_preload_libraries": "pg_stat_statements",
    "pg_stat_statements.track": "all",
    "track_io_timing": "on",
    "track_functions": "all",
    "log_connections": "on",
    "log_disconnections": "on",
    "log_line_prefix": "%m [%p] %q%u@%d app=%a ",
}

# libpq reads PG*, pgpulse reads DATA_SOURCE_*, DATABASE_URL, PG_EXPORTER_*
# and PGPULSE_*: a developer's settings must not leak into the tests.
LIBPQ_ENV = re.compile(r"^PG(?!PULSE_)[A-Z_]*$")
TARGET_ENV = re.compile(r"^(DATA_SOURCE_[A-Z_]*|DATABASE_URL)$")


def _leaky(key):
    return bool(LIBPQ_ENV.match(key) or TARGET_ENV.match(key))


DEFAULT = object()  # "use the default" where None means "none"


def wait_for(predicate, timeout=20, interval=0.1):
    """Call predicate until it returns something true or 'timeout' seconds
    pass; return its last value."""
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > end:
            return value
        time.sleep(interval)


def need(ok, what):
    """Skip (or, under CI=true, fail) when a prerequisite is absent."""
    if ok:
        return
    if IN_CI:
        pytest.fail(f"{what} (CI=true: missing prerequisites fail, not skip)", pytrace=False)
    pytest.skip(what)


def require_file(path, what):
    need(Path(path).exists(), f"{what} not found: {path} (run scripts/bootstrap)")


def require_modules(*names):
    mods = {"psycopg": psycopg, "requests": requests,
            "prometheus_client": text_string_to_metric_families}
    absent = [n for n in names if mods[n] is None]
    need(not absent, f"python modules missing: {', '.join(absent)}; run the suite with "
         f"Debian's /usr/bin/python3 -m pytest (python3-psycopg, python3-requests, "
         f"python3-prometheus-client)")


def scrub_environment():
    """Drop libpq's PG* variables and pgpulse's target variables from this
    process (PGPULSE_* stay: they configure the suite)."""
    for k in list(os.environ):
        if _leaky(k):
            del os.environ[k]


# ---------------------------------------------------------------------------
# Running as the unprivileged owner

def is_root():
    return os.geteuid() == 0


def ensure_user():
    """Create TEST_USER when running as root and it does not exist yet."""
    if not is_root():
        return
    try:
        pwd.getpwnam(TEST_USER)
        return
    except KeyError:
        pass
    r = subprocess.run(["useradd", "--system", "--user-group", "--no-create-home",
                        "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
                        TEST_USER], capture_output=True, text=True)
    try:
        pwd.getpwnam(TEST_USER)  # a concurrent run may have won the race
    except KeyError:
        raise RuntimeError(f"cannot create user {TEST_USER}: {r.stderr.strip()}")


def as_owner(cmd):
    """Prefix cmd so that it runs as the cluster owner (setpriv execs, so the
    pid of the Popen is the pid of the server)."""
    cmd = [str(c) for c in cmd]
    if not is_root():
        return cmd
    return ["setpriv", "--reuid", TEST_USER, "--regid", TEST_USER, "--init-groups", "--"] + cmd


def owner_env(base=None, **extra):
    env = {k: v for k, v in os.environ.items() if not _leaky(k)}
    env.update(LC_ALL="C.UTF-8", LANG="C.UTF-8", TZ="UTC")
    if base is not None:
        env["HOME"] = str(base)
    env.update({k: str(v) for k, v in extra.items()})
    return env


def give(*paths):
    """Hand files and directories (recursively) to the owner."""
    if not is_root():
        return
    pw = pwd.getpwnam(TEST_USER)
    for p in paths:
        p = Path(p)
        os.chown(p, pw.pw_uid, pw.pw_gid)
        if p.is_dir():
            for root, dirs, files in os.walk(p):
                for n in dirs + files:
                    os.chown(os.path.join(root, n), pw.pw_uid, pw.pw_gid, follow_symlinks=False)


def write_owned(path, text, mode=0o644, append=False):
    path = Path(path)
    with open(path, "a" if append else "w") as f:
        f.write(text)
    os.chmod(path, mode)
    give(path)
    return path


def run_owner(cmd, base=None, check=True, timeout=120, **kw):
    r = subprocess.run(as_owner(cmd), env=owner_env(base), stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} exited {r.returncode}:\n{r.stdout}{r.stderr}")
    return r


def make_scratch(prefix="pgpulse-it-"):
    """A temp dir the owner can use (mode 755: pgpulse running as root or as
    the owner must read config files written into it)."""
    ensure_user()
    base = Path(tempfile.mkdtemp(prefix=prefix, dir=os.environ.get("PGPULSE_TEST_TMPDIR")))
    _registry.add_dir(base)
    os.chmod(base, 0o755)
    give(base)
    return base


def remove_scratch(base):
    _registry.discard_dir(base)
    if KEEP_TMP:
        print(f"\nPGPULSE_KEEP_TMP: kept {base}")
        return
    shutil.rmtree(base, ignore_errors=True)


# ---------------------------------------------------------------------------
# Ports

_handed_out = set()
_port_lock = threading.Lock()


def free_port(host="127.0.0.1"):
    """A TCP port free right now, never the same one twice in this run."""
    with _port_lock:
        for _ in range(50):
            with socket.socket() as s:
                s.bind((host, 0))
                port = s.getsockname()[1]
            if port not in _handed_out:
                _handed_out.add(port)
                return port
    raise RuntimeError("no free port")


def port_open(host, port, timeout=0.2):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


# ---------------------------------------------------------------------------
# Emergency cleanup: if teardown never runs (an exception in a finalizer, an
# interpreter exit), stop whatever is still registered at exit.

class _Registry:
    def __init__(self):
        self.lock = threading.Lock()
        self.things = []
        self.dirs = []

    def add(self, thing):
        with self.lock:
            self.things.append(thing)

    def discard(self, thing):
        with self.lock:
            if thing in self.things:
                self.things.remove(thing)

    def add_dir(self, d):
        with self.lock:
            self.dirs.append(d)

    def discard_dir(self, d):
        with self.lock:
            if d in self.dirs:
                self.dirs.remove(d)

    def reap(self):
        with self.lock:
            things, dirs = list(reversed(self.things)), list(self.dirs)
        for t in things:
            with contextlib.suppress(Exception):
                t.kill()
        for d in dirs:
            if not KEEP_TMP:
                shutil.rmtree(d, ignore_errors=True)


_registry = _Registry()
atexit.register(_registry.reap)


def _stop_process(proc, sig=signal.SIGTERM, timeout=15):
    """Signal a Popen and wait; SIGKILL when it does not go. Returns rc."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait(10)
            raise
    return proc.returncode


def _tail(path, lines=40, quiet=False):
    """The last lines of a log; 'quiet' leaves out connection chatter."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return ""
    out = text.splitlines()
    if quiet:
        out = [l for l in out if not re.search(r"connection (received|authorized)|disconnection", l)]
    return "\n".join(out[-lines:])


# ---------------------------------------------------------------------------
# PostgreSQL

CONN_RECEIVED = re.compile(r"\[(\d+)\] .*LOG:\s+connection received: host=(\S+)(?: port=(\S+))?")
CONN_AUTHORIZED = re.compile(
    r"\[(\d+)\] .*LOG:\s+connection authorized: user=(\S+) database=(\S+)"
    r"(?: application_name=(.*?))?(?: SSL enabled.*)?$")


def _conninfo_quote(v):
    v = str(v)
    if v and not re.search(r"[\s'\\]", v):
        return v
    return "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"


class PgCluster:
    """One PostgreSQL cluster in base/name, on 127.0.0.1:port and a
    private unix socket dir. Superuser "postgres" (trust on the socket,
    password SUPERUSER_PASSWORD over TCP). The server is the one in 'bin'
    (PostgreSQL 15's PG_BIN by default; pg_bin(major) for the others)."""

    host = "127.0.0.1"
    superuser = SUPERUSER

    def __init__(self, base, name="pg", settings=None, bin=None):
        self.base = Path(base)
        self.bin = Path(bin or PG_BIN)
        self.name = name
        self.dir = self.base / name
        self.datadir = self.dir / "data"
        self.sockdir = self.dir / "sock"
        self.logfile = self.dir / "postgresql.log"
        self.settings = dict(PG_SETTINGS, **(settings or {}))
        self.port = None
        self.primary = None
        self._version_num = None

    def __repr__(self):
        return f"<PgCluster {self.name} {self.host}:{self.port} {self.datadir}>"

    # -- lifecycle ---------------------------------------------------------

    def init(self):
        self.dir.mkdir(mode=0o755)
        self.sockdir.mkdir(mode=0o700)
        give(self.dir)
        pwfile = write_owned(self.dir / "pwfile", SUPERUSER_PASSWORD + "\n", 0o600)
        run_owner([self.bin / "initdb", f"--pgdata={self.datadir}", f"--username={SUPERUSER}",
                   f"--pwfile={pwfile}", "--auth-local=trust", "--auth-host=scram-sha-256",
                   "--locale=C", "--encoding=UTF8", "--no-sync"],
                  base=self.dir)
        pwfile.unlink()
        write_owned(self.datadir / "pg_hba.conf", (
            "# TYPE  DATABASE     USER        ADDRESS        METHOD\n"
            f"local   all          {SUPERUSER}                  trust\n"
            f"local   replication  {SUPERUSER}                  trust\n"
            "local   all          all                        scram-sha-256\n"
            "host    all          all         127.0.0.1/32   scram-sha-256\n"
            "host    replication  all         127.0.0.1/32   scram-sha-256\n"), 0o600)
        write_owned(self.datadir / "postgresql.conf", "\ninclude 'pgpulse-test.conf'\n", 0o600, append=True)
        return self

    def _write_settings(self):
        lines = ["# written by tests/integration/pgfix.py on every start"]
        for k, v in dict(self.settings, port=self.port,
                         unix_socket_directories=str(self.sockdir),
                         cluster_name=self.name).items():
            if isinstance(v, str):
                v = "'" + v.replace("'", "''") + "'"
            lines.append(f"{k} = {v}")
        write_owned(self.datadir / "pgpulse-test.conf", "\n".join(lines) + "\n", 0o600)

    def start(self, timeout=60):
        """Start (on the same port as before, if there was one). A port
        picked here is re-picked on a clash, up to 3 tries."""
        if self.running:
            return self
        pick = self.port is None
        for _ in range(3):
            if pick:
                self.port = free_port()
            self._write_settings()
            if not self.logfile.exists():
                write_owned(self.logfile, "", 0o644)
            r = run_owner([self.bin / "pg_ctl", f"--pgdata={self.datadir}", f"--log={self.logfile}",
                           "--wait", f"--timeout={timeout}", "--silent", "start"],
                          base=self.dir, check=False, timeout=timeout + 30)
            if r.returncode == 0:
                _registry.add(self)
                return self
            if not (pick and "could not bind" in _tail(self.logfile, 20)):
                break
        raise RuntimeError(f"PostgreSQL {self.name} did not start:\n{r.stdout}{r.stderr}\n"
                           f"--- {self.logfile}\n{_tail(self.logfile)}")

    def stop(self, mode="fast"):
        if (self.datadir / "postmaster.pid").exists():
            r = run_owner([self.bin / "pg_ctl", f"--pgdata={self.datadir}", f"--mode={mode}",
                           "--wait", "--timeout=60", "--silent", "stop"], base=self.dir, check=False)
            if r.returncode != 0 and self.running:
                run_owner([self.bin / "pg_ctl", f"--pgdata={self.datadir}", "--mode=immediate",
                           "--wait", "--silent", "stop"], base=self.dir, check=False)
        _registry.discard(self)
        return self

    def kill(self):  # emergency path
        self.stop(mode="immediate")

    def restart(self):
        return self.stop().start()

    def reload(self):
        self.psql("SELECT pg_reload_conf()")

    @property
    def running(self):
        if not (self.datadir / "postmaster.pid").exists():
            return False
        r = run_owner([self.bin / "pg_ctl", f"--pgdata={self.datadir}", "status"],
                      base=self.dir, check=False)
        return r.returncode == 0

    def ensure_running(self):
        if not self.running:
            self.start()

    @contextlib.contextmanager
    def stopped(self, mode="fast"):
        """with pg.stopped(): ...  -- the server is down inside, up after."""
        self.stop(mode)
        try:
            yield self
        finally:
            self.start()

    def destroy(self):
        self.stop(mode="immediate")
        shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def postmaster_pid(self):
        return int((self.datadir / "postmaster.pid").read_text().split("\n", 1)[0])

    # -- roles and setup ---------------------------------------------------

    def setup_monitoring(self):
        """The monitor role (pg_monitor member) and pg_stat_statements."""
        self.psql(f"CREATE ROLE {MONITOR_USER} LOGIN PASSWORD '{MONITOR_PASSWORD}' IN ROLE pg_monitor")
        self.psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        return self

    # -- connecting --------------------------------------------------------

    def dsn(self, user=MONITOR_USER, dbname="postgres", *, password=DEFAULT, via="tcp",
            style="uri", **params):
        """A connection string for pgpulse or libpq.

        via: "tcp" (127.0.0.1:port) or "socket" (the unix socket dir).
        style: "uri" (postgresql://...) or "kv" (conninfo key=value).
        password: DEFAULT = the role's known password, None = none.
        params: extra libpq keywords (sslmode="disable", connect_timeout=3...).
        """
        if password is DEFAULT:
            password = PASSWORDS.get(user)
        host = self.host if via == "tcp" else str(self.sockdir)
        if style == "kv":
            kv = dict(host=host, port=self.port, user=user, dbname=dbname)
            if password is not None:
                kv["password"] = password
            kv.update(params)
            return " ".join(f"{k}={_conninfo_quote(v)}" for k, v in kv.items())
        q = urllib.parse.quote
        auth = q(user, safe="")
        if password is not None:
            auth += ":" + q(password, safe="")
        if via == "tcp":
            netloc = f"{auth}@{host}:{self.port}"
        else:
            netloc = f"{auth}@"
            params = dict(host=host, port=self.port, **params)
        url = f"postgresql://{netloc}/{q(dbname, safe='')}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        return url

    def connect(self, dbname="postgres", user=SUPERUSER, *, password=DEFAULT, via=None,
                autocommit=True, **kwargs):
        """A psycopg connection (superuser over the socket by default)."""
        require_modules("psycopg")
        if via is None:
            via = "socket" if user == SUPERUSER else "tcp"
        if password is DEFAULT:
            password = PASSWORDS.get(user)
        kwargs.setdefault("connect_timeout", 10)
        return psycopg.connect(host=self.host if via == "tcp" else str(self.sockdir),
                               port=self.port, user=user, dbname=dbname, password=password,
                               autocommit=autocommit, **kwargs)

    def psql(self, sql, params=None, *, dbname="postgres", user=SUPERUSER, **kwargs):
        """Run SQL (several statements allowed without params) on a fresh
        connection; return the rows of the last statement that has rows."""
        with self.connect(dbname, user, **kwargs) as conn:
            cur = conn.execute(sql, params)
            rows = []
            while True:
                if cur.description is not None:
                    rows = cur.fetchall()
                if not cur.nextset():
                    break
            return rows

    def scalar(self, sql, params=None, **kwargs):
        rows = self.psql(sql, params, **kwargs)
        return rows[0][0] if rows else None

    @property
    def version_num(self):
        if self._version_num is None:
            self._version_num = int(self.scalar("SHOW server_version_num"))
        return self._version_num

    # -- the server log ----------------------------------------------------

    def log_text(self):
        return self.logfile.read_text(errors="replace") if self.logfile.exists() else ""

    @contextlib.contextmanager
    def databases(self, *names):
        """Fresh databases for the 'with' block, dropped after it (even
        with sessions still in them)."""
        for db in names:
            self.psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
            self.psql(f"CREATE DATABASE {db}")
        try:
            yield names
        finally:
            for db in names:
                self.psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")

    def log_mark(self):
        """An offset into the log; pass it to log_since()/connections_since()."""
        return self.logfile.stat().st_size if self.logfile.exists() else 0

    def log_since(self, mark):
        with open(self.logfile, "rb") as f:
            f.seek(mark)
            return f.read().decode(errors="replace")

    def connections_since(self, mark=0, **match):
        """Connections authorized since mark (log_connections), as dicts with
        pid, user, database, application_name, host. match filters, e.g.
        connections_since(m, user="monitor")."""
        text = self.log_since(mark)
        hosts, out = {}, []
        for line in text.splitlines():
            m = CONN_RECEIVED.search(line)
            if m:
                hosts[m.group(1)] = m.group(2)
                continue
            m = CONN_AUTHORIZED.search(line)
            if m:
                c = dict(pid=int(m.group(1)), user=m.group(2), database=m.group(3),
                         application_name=m.group(4), host=hosts.get(m.group(1)))
                if all(c.get(k) == v for k, v in match.items()):
                    out.append(c)
        return out

    # -- replication -------------------------------------------------------

    def create_replica(self, name=None, timeout=60):
        """A streaming replica (pg_basebackup -R), started; waits until the
        primary reports it streaming."""
        name = name or f"{self.name}-replica"
        # the standby has no slot (the tests count slots): WAL it has not
        # received yet must not be recycled under it while it is slow
        self.psql("ALTER SYSTEM SET wal_keep_size = '512MB'")
        self.psql("SELECT pg_reload_conf()")
        r = PgCluster(self.base, name, self.settings, self.bin)
        r.dir.mkdir(mode=0o755)
        r.sockdir.mkdir(mode=0o700)
        give(r.dir)
        run_owner([self.bin / "pg_basebackup", "-D", r.datadir, "-h", self.sockdir,
                   "-p", self.port, "-U", SUPERUSER, "-X", "stream", "-R", "-c", "fast",
                   "--no-sync", "--no-password"], base=r.dir, timeout=timeout)
        r.primary = self
        r.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.psql("SELECT 1 FROM pg_stat_replication WHERE application_name = %s"
                         " AND state = 'streaming'", (name,)):
                return r
            time.sleep(0.1)
        raise RuntimeError(f"replica {name} not streaming after {timeout}s:\n{_tail(r.logfile)}")

    def catch_up(self, timeout=90):
        """On a replica: wait until it has replayed everything its primary
        has inserted into the WAL so far.

        The fixture runs with synchronous_commit off, so the tail of the WAL
        (records after the last commit, on a partly filled page) may sit
        unflushed, and a standby only receives flushed WAL: a transaction
        that commits synchronously after the LSN is taken flushes through
        it, or the wait could never end."""
        lsn = self.primary.scalar("SELECT pg_current_wal_insert_lsn()")
        self.primary.psql("BEGIN; SET LOCAL synchronous_commit = on;"
                          " SELECT pg_current_xact_id(); COMMIT")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.scalar("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,)):
                return self
            time.sleep(0.05)
        state = self.psql("SELECT pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn(), "
                          "pg_is_wal_replay_paused(), (SELECT status FROM pg_stat_wal_receiver)")
        sent = self.primary.psql("SELECT state, sent_lsn, flush_lsn, replay_lsn "
                                 "FROM pg_stat_replication WHERE application_name = %s",
                                 (self.name,))
        raise AssertionError(
            f"replica {self.name} did not replay up to {lsn} in {timeout}s: "
            f"receive/replay/paused/receiver {state}, primary's view {sent}\n"
            f"--- replica log\n{_tail(self.logfile, quiet=True)}\n"
            f"--- primary log\n{_tail(self.primary.logfile, quiet=True)}")


def start_cluster(base, name="pg", settings=None, bin=None):
    """initdb + start + monitor role + pg_stat_statements."""
    pg = PgCluster(base, name, settings, bin).init()
    pg.start()
    try:
        pg.setup_monitoring()
    except Exception:
        pg.destroy()
        raise
    return pg


# ---------------------------------------------------------------------------
# PostgreSQL versions: 15 from Debian, the others from scripts/pgversions

def pg_versions():
    """The majors the version-parametrized tests run on: PGPULSE_PG_VERSIONS
    ("13,17" or "13 14 15 16 17 18"; `make check` sets it from PG_VERSIONS),
    15 alone when unset."""
    text = os.environ.get("PGPULSE_PG_VERSIONS", "").strip() or "15"
    out = []
    for word in re.split(r"[,\s]+", text):
        if not word.isdigit():
            raise pytest.UsageError(f"PGPULSE_PG_VERSIONS: '{word}' is not a major version")
        if int(word) not in out:
            out.append(int(word))
    return out


_bins = {}


def pg_bin(major):
    """The bin directory of PostgreSQL 'major' (PG_BIN for 15; a cached npm
    build for the others, downloaded by scripts/pgversions on first use).
    Skips, or under CI fails, with the script's reason when it cannot."""
    if major == 15:
        return PG_BIN
    if major not in _bins:
        r = subprocess.run([REPO / "scripts" / "pgversions", "bindir", str(major)],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=900)
        _bins[major] = Path(r.stdout.strip()) if r.returncode == 0 else r.stderr.strip()
    b = _bins[major]
    need(isinstance(b, Path), f"PostgreSQL {major}: {b}")
    return b


def _extversion_key(v):
    return [int(p) if p.isdigit() else p for p in re.findall(r"\d+|\D+", v)]


def _variant_fits(var, version, extversions):
    """The test of exporter/querydef.c collector_variant_ext(), in Python."""
    if var.get("min_version") and version < var["min_version"]:
        return False
    if var.get("max_version") and version >= var["max_version"]:
        return False
    for key, is_max in (("min_extversion", False), ("max_extversion", True)):
        for ext, want in (var.get(key) or {}).items():
            have = extversions.get(ext)
            if have is None:
                return False
            below = _extversion_key(have) < _extversion_key(str(want))
            if below != is_max:  # under a minimum, or not under a maximum
                return False
    return True


_collectors = None


def shipped_collector(name):
    """The definition of collector 'name' in queries/*.yaml (parsed YAML)."""
    global _collectors
    if _collectors is None:
        import yaml
        _collectors = {}
        for f in sorted((REPO / "queries").glob("*.yaml")):
            doc = yaml.safe_load(f.read_text()) or {}
            _collectors.update(doc.get("collectors") or {})
    return _collectors[name]


def collector_variant(pg, name, dbname="postgres"):
    """The index of the variant of shipped collector 'name' that runs on
    'pg' (its database 'dbname'), chosen as pgpulse chooses it: by
    server_version_num and the installed extensions' versions; None when
    none fits."""
    c = shipped_collector(name)
    variants = c.get("variants") or [c]
    exts = dict(pg.psql("SELECT extname::text, extversion FROM pg_extension", dbname=dbname))
    for i, var in enumerate(variants):
        if _variant_fits(var, pg.version_num, exts):
            return i
    return None


def require_collector(pg, name, dbname="postgres"):
    """Skip the test when collector 'name' has no variant for 'pg': the
    gate the query file itself sets (min_version, min_extversion...)."""
    i = collector_variant(pg, name, dbname)
    if i is None:
        pytest.skip(f"collector {name} does not run on PostgreSQL {pg.version_num}")
    return i


# ---------------------------------------------------------------------------
# pgbouncer

class _ForegroundServer:
    """A server this module runs in the foreground as the owner (pgbouncer,
    Prometheus): self.proc is its Popen, self.dir its directory."""

    def stop(self):
        if self.proc is not None:
            _stop_process(self.proc, signal.SIGTERM)
        _registry.discard(self)
        return self

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()

    def destroy(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class PgBouncer(_ForegroundServer):
    """pgbouncer (run as the owner, foreground) in front of a PgCluster.
    auth_type scram-sha-256 with a plain-text userlist, stats_users =
    monitor, admin_users = postgres, pool_mode transaction,
    default_pool_size 2. The console is the database "pgbouncer"."""

    host = "127.0.0.1"

    def __init__(self, base, pg, name="pgbouncer", settings=None, users=None, databases=None):
        self.base = Path(base)
        self.pg = pg
        self.name = name
        self.dir = self.base / name
        self.ini = self.dir / "pgbouncer.ini"
        self.userlist = self.dir / "userlist.txt"
        self.logfile = self.dir / "pgbouncer.log"
        self.sockdir = self.dir / "sock"
        self.users = dict(PASSWORDS, **(users or {}))
        self.settings = {
            "listen_addr": "127.0.0.1",
            "unix_socket_dir": str(self.sockdir),
            "auth_type": "scram-sha-256",
            "auth_file": str(self.userlist),
            "admin_users": SUPERUSER,
            "stats_users": MONITOR_USER,
            "pool_mode": "transaction",
            "default_pool_size": 2,
            "max_client_conn": 100,
            "stats_period": 1,
            "ignore_startup_parameters": "extra_float_digits",
            "pidfile": str(self.dir / "pgbouncer.pid"),
            **(settings or {}),
        }
        server = f"host={pg.sockdir} port={pg.port}"
        self.databases = databases or {"postgres": f"{server} dbname=postgres", "*": server}
        self.port = None
        self.proc = None

    def __repr__(self):
        return f"<PgBouncer {self.host}:{self.port}>"

    def _write_config(self):
        ini = ["[databases]"] + [f"{k} = {v}" for k, v in self.databases.items()]
        ini += ["", "[pgbouncer]", f"listen_port = {self.port}"]
        ini += [f"{k} = {v}" for k, v in self.settings.items()]
        write_owned(self.ini, "\n".join(ini) + "\n", 0o600)
        write_owned(self.userlist, "".join(
            f'"{u}" "{p}"\n' for u, p in self.users.items()), 0o600)

    def start(self, timeout=20):
        if self.proc is not None and self.proc.poll() is None:
            return self
        if not self.dir.exists():
            self.dir.mkdir(mode=0o755)
            self.sockdir.mkdir(mode=0o700)
            give(self.dir)
        pick = self.port is None
        for _ in range(3):
            if pick:
                self.port = free_port()
            self._write_config()
            log = open(self.logfile, "ab")
            give(self.logfile)
            self.proc = subprocess.Popen(as_owner([PGBOUNCER, self.ini]), env=owner_env(self.dir),
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         start_new_session=True)
            log.close()
            _registry.add(self)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.proc.poll() is None:
                if port_open(self.host, self.port):
                    return self
                time.sleep(0.05)
            self.stop()
            if not (pick and "Address already in use" in _tail(self.logfile, 10)):
                break
        raise RuntimeError(f"pgbouncer did not start:\n{_tail(self.logfile)}")


    def restart(self):
        return self.stop().start()

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def ensure_running(self):
        if not self.running:
            self.start()

    @contextlib.contextmanager
    def stopped(self):
        self.stop()
        try:
            yield self
        finally:
            self.start()


    def dsn(self, user=MONITOR_USER, dbname="pgbouncer", *, password=DEFAULT, style="uri", **params):
        if password is DEFAULT:
            password = self.users.get(user)
        if style == "kv":
            kv = dict(host=self.host, port=self.port, user=user, dbname=dbname)
            if password is not None:
                kv["password"] = password
            kv.update(params)
            return " ".join(f"{k}={_conninfo_quote(v)}" for k, v in kv.items())
        q = urllib.parse.quote
        auth = q(user, safe="") + ("" if password is None else ":" + q(password, safe=""))
        url = f"postgresql://{auth}@{self.host}:{self.port}/{q(dbname, safe='')}"
        return url + ("?" + urllib.parse.urlencode(params) if params else "")

    def connect(self, dbname="pgbouncer", user=MONITOR_USER, *, password=DEFAULT, **kwargs):
        """psycopg connection; to the console (dbname "pgbouncer") by default.
        The console speaks the simple protocol only: run statements without
        parameters there (psycopg then sends them as simple queries)."""
        require_modules("psycopg")
        if password is DEFAULT:
            password = self.users.get(user)
        kwargs.setdefault("connect_timeout", 10)
        kwargs.setdefault("autocommit", True)
        return psycopg.connect(host=self.host, port=self.port, user=user, dbname=dbname,
                               password=password, **kwargs)

    def show(self, what, user=MONITOR_USER):
        """SHOW <what> on the console, as a list of dicts."""
        with self.connect(user=user) as conn:
            cur = conn.execute(f"SHOW {what}")
            cols = [d.name for d in cur.description]
            return [dict(zip(cols, row)) for row in cur.fetchall()]

    def log_text(self):
        return self.logfile.read_text(errors="replace") if self.logfile.exists() else ""


# ---------------------------------------------------------------------------
# The exposition format

class Sample:
    __slots__ = ("name", "labels", "value", "timestamp")

    def __init__(self, name, labels, value, timestamp=None):
        self.name, self.labels, self.value, self.timestamp = name, labels, value, timestamp

    def __repr__(self):
        lab = ",".join(f'{k}="{v}"' for k, v in self.labels.items())
        return f"{self.name}{{{lab}}} {self.value}"

    def __eq__(self, other):
        return isinstance(other, Sample) and (self.name, self.labels, self.value, self.timestamp) \
            == (other.name, other.labels, other.value, other.timestamp)


_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,?)')
_UNESCAPE = {"\\": "\\", '"': '"', "n": "\n"}


def _float(tok):
    t = tok.lower()
    if t in ("+inf", "inf"):
        return float("inf")
    if t == "-inf":
        return float("-inf")
    if t == "nan":
        return float("nan")
    return float(tok)


def parse_samples(text):
    """Every sample line of a text 0.0.4 / OpenMetrics page, exactly as
    written (unlike prometheus_client, which renames counter samples)."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        m = _NAME.match(line)
        if not m:
            raise ValueError(f"line {n}: no metric name: {line!r}")
        name, pos, labels = m.group(0), m.end(), {}
        if pos < len(line) and line[pos] == "{":
            pos += 1
            while True:
                rest = line[pos:]
                if rest.lstrip().startswith("}"):
                    pos += len(rest) - len(rest.lstrip()) + 1
                    break
                lm = _LABEL.match(line, pos)
                if not lm:
                    raise ValueError(f"line {n}: bad labels: {line!r}")
                labels[lm.group(1)] = re.sub(r"\\(.)", lambda e: _UNESCAPE.get(e.group(1), "\\" + e.group(1)),
                                             lm.group(2))
                pos = lm.end()
                if not lm.group(3):
                    rest = line[pos:].lstrip()
                    if not rest.startswith("}"):
                        raise ValueError(f"line {n}: bad labels: {line!r}")
        rest = line[pos:].split(" # ", 1)[0].split()  # drop an OpenMetrics exemplar
        if not rest or len(rest) > 2:
            raise ValueError(f"line {n}: bad value: {line!r}")
        try:
            value = _float(rest[0])
            ts = float(rest[1]) if len(rest) == 2 else None
        except ValueError:
            raise ValueError(f"line {n}: bad value: {line!r}") from None
        out.append(Sample(name, labels, value, ts))
    return out


def select_samples(samples, name, /, **labels):
    """Samples called name whose labels include the given ones."""
    want = {k: str(v) for k, v in labels.items()}
    return [s for s in samples if s.name == name and all(s.labels.get(k) == v for k, v in want.items())]


def one_sample(samples, name, /, **labels):
    found = select_samples(samples, name, **labels)
    if len(found) == 1:
        return found[0].value
    same = [s for s in samples if s.name == name]
    if not found:
        if same:
            shown = "\n  ".join(map(repr, same[:20]))
            raise AssertionError(f"no {name} with labels {labels}; there are:\n  {shown}")
        near = sorted({s.name for s in samples if s.name.split("_")[:2] == name.split("_")[:2]})
        raise AssertionError(f"no sample {name}" + (f"; similar: {', '.join(near[:20])}" if near else ""))
    shown = "\n  ".join(map(repr, found[:20]))
    raise AssertionError(f"{len(found)} samples match {name} {labels}; add labels:\n  {shown}")


class Page(str):
    """A scraped page: the text itself, plus parsed views of it.
    page.status, page.headers, page.samples(...), page.sample(...),
    page.families (name -> prometheus_client Metric)."""

    def __new__(cls, text, status=200, headers=None):
        self = super().__new__(cls, text)
        self.status = status
        self.headers = headers or {}
        self._samples = None
        self._families = None
        return self

    def all_samples(self):
        if self._samples is None:
            self._samples = parse_samples(self)
        return self._samples

    def samples(self, name, /, **labels):
        return select_samples(self.all_samples(), name, **labels)

    def sample(self, name, /, **labels):
        """The value of the one sample called name whose labels include the
        given ones; AssertionError (listing candidates) when not exactly one."""
        return one_sample(self.all_samples(), name, **labels)

    def has(self, name, /, **labels):
        return bool(self.samples(name, **labels))

    @property
    def families(self):
        if self._families is None:
            require_modules("prometheus_client")
            self._families = {f.name: f for f in text_string_to_metric_families(str(self))}
        return self._families


# ---------------------------------------------------------------------------
# promtool

def promtool_lint(text):
    """(exit status, output) of `promtool check metrics` on text."""
    r = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=60)
    return r.returncode, (r.stdout + r.stderr).strip()


def promtool_check(text):
    """Assert that promtool check metrics accepts text with no lint output."""
    rc, out = promtool_lint(text)
    assert rc == 0 and not out, f"promtool check metrics: exit {rc}\n{out}"


# ---------------------------------------------------------------------------
# pgpulse

SANITIZER_REPORT = re.compile(
    r"(ERROR: (Address|Leak|Memory|Thread)Sanitizer|WARNING: ThreadSanitizer|"
    r"SUMMARY: \w+Sanitizer|runtime error: |UndefinedBehaviorSanitizer)")


def sanitizer_report(text):
    """The first lines of a sanitizer report in text, or None."""
    m = SANITIZER_REPORT.search(text)
    if not m:
        return None
    start = text.rfind("\n", 0, max(0, m.start() - 200)) + 1
    return text[start:start + 4000]


def _http_session():
    """A fresh session that ignores http_proxy & co. (CI machines set them)
    and so opens a new connection for every request."""
    s = requests.Session()
    s.trust_env = False
    return s


class PgPulse:
    """A running pgpulse. Use the pgpulse fixture to start one."""

    host = "127.0.0.1"

    def __init__(self, argv, env, workdir, port, as_owner_user=False):
        self.argv = argv
        self.env = env
        self.workdir = Path(workdir)
        self.port = port
        self.url = f"http://{self.host}:{port}" if port else None
        self.stdout_path = self.workdir / "stdout.log"
        self.stderr_path = self.workdir / "stderr.log"
        out, err = open(self.stdout_path, "wb"), open(self.stderr_path, "wb")
        if as_owner_user:
            give(self.stdout_path, self.stderr_path)
        self.proc = subprocess.Popen(as_owner(argv) if as_owner_user else argv, env=env,
                                     stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                     cwd=REPO, start_new_session=True)
        out.close()
        err.close()
        self.exit_seen = False  # the test looked at the exit status itself
        _registry.add(self)

    def __repr__(self):
        return f"<PgPulse pid {self.proc.pid} {self.url}>"

    @property
    def pid(self):
        return self.proc.pid

    @property
    def running(self):
        return self.proc.poll() is None

    def stdout_text(self):
        return self.stdout_path.read_text(errors="replace")

    def stderr_text(self):
        return self.stderr_path.read_text(errors="replace")

    def log_text(self):
        """stdout + stderr (the logs go to one or the other)."""
        return self.stdout_text() + self.stderr_text()

    def describe(self, lines=40):
        return (f"{' '.join(self.argv)}\n--- stderr (last {lines} lines)\n"
                f"{_tail(self.stderr_path, lines)}\n--- stdout\n{_tail(self.stdout_path, lines)}")

    def wait_ready(self, timeout, path="/healthz"):
        """Wait until path answers at all (any HTTP status)."""
        require_modules("requests")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.exit_seen = True
                raise AssertionError(f"pgpulse exited {self.proc.returncode} before "
                                     f"answering {path}\n{self.describe()}")
            try:
                with _http_session() as s:
                    s.get(self.url + path, timeout=1)
                return self
            except requests.RequestException:
                time.sleep(0.05)
        raise AssertionError(f"pgpulse did not answer {path} within {timeout}s\n{self.describe()}")

    # -- HTTP --------------------------------------------------------------

    def get(self, path="/", **kwargs):
        """requests.get on the exporter; returns the Response."""
        require_modules("requests")
        kwargs.setdefault("timeout", 60)
        with _http_session() as s:
            return s.get(self.url + path, **kwargs)

    def scrape(self, path="/metrics", expect_status=200, **kwargs):
        """GET path, assert the status, return a Page (a str)."""
        r = self.get(path, **kwargs)
        if expect_status is not None:
            assert r.status_code == expect_status, \
                f"GET {path}: HTTP {r.status_code}, wanted {expect_status}\n{r.text[:2000]}"
        return Page(r.text, r.status_code, r.headers)

    def scrape_timed(self, prometheus_timeout, path="/metrics", **kwargs):
        """Scrape as Prometheus does with a scrape timeout of that many
        seconds (its header); returns (Page, seconds the answer took)."""
        kwargs.setdefault("timeout", 30)
        start = time.monotonic()
        page = self.scrape(path, headers={
            "X-Prometheus-Scrape-Timeout-Seconds": str(prometheus_timeout)}, **kwargs)
        return page, time.monotonic() - start

    def metrics(self, path="/metrics", **kwargs):
        """A fresh scrape parsed into families: {name: prometheus_client Metric}.
        Note prometheus_client strips _total from counter family names."""
        return self.scrape(path, **kwargs).families

    def sample(self, name, /, **labels):
        """A fresh scrape of /metrics; the value of the one matching sample
        (for another path: p.scrape(path).sample(...))."""
        return self.scrape().sample(name, **labels)

    # -- process -----------------------------------------------------------

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def reload(self):
        self.send_signal(signal.SIGHUP)

    def wait(self, timeout=30):
        """Wait for pgpulse to exit on its own; return its exit status."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"pgpulse still running after {timeout}s\n{self.describe()}") from None
        self.exit_seen = True
        _registry.discard(self)
        self.check_sanitizer()
        return rc

    def stop(self, sig=signal.SIGTERM, timeout=None, expect=0):
        """Signal pgpulse, wait, assert the exit status (expect=None: any)."""
        timeout = timeout or (30 if SANITIZE else 10)
        was_running = self.running
        try:
            rc = _stop_process(self.proc, sig, timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"pgpulse ignored {signal.Signals(sig).name} for {timeout}s; "
                                 f"killed\n{self.describe()}") from None
        finally:
            _registry.discard(self)
        self.exit_seen = True
        self.check_sanitizer()
        if not was_running and expect is not None:
            raise AssertionError(f"pgpulse had already exited ({rc}) before "
                                 f"{signal.Signals(sig).name}\n{self.describe()}")
        if expect is not None:
            assert rc == expect, f"pgpulse exited {rc} after {signal.Signals(sig).name}, " \
                                 f"wanted {expect}\n{self.describe()}"
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def check_sanitizer(self):
        if not SANITIZE:
            return
        report = sanitizer_report(self.stderr_text()) or sanitizer_report(self.stdout_text())
        assert report is None, f"sanitizer report from pgpulse:\n{report}"

    def finish(self):
        """Teardown: SIGTERM, exit 0, no sanitizer report. A pgpulse the test
        already waited for or stopped is only checked for sanitizer reports."""
        if self.exit_seen:
            return
        if not self.running:
            self.exit_seen = True
            _registry.discard(self)
            self.check_sanitizer()
            raise AssertionError(f"pgpulse died during the test (exit {self.proc.returncode})\n"
                                 f"{self.describe()}")
        self.stop()


class PgPulseFactory:
    """Callable that starts pgpulse instances for one test; see __call__."""

    def __init__(self, binary, base, default_dsn):
        self.binary = binary
        self.base = Path(base)
        self.workdir = self.base
        self._default_dsn = default_dsn  # callable: the session pg's monitor DSN
        self.instances = []
        self._n = 0

    def write(self, name, text, mode=0o644):
        """Write a file (config, query file) where pgpulse can read it,
        also when it runs as the unprivileged owner. Returns its Path."""
        path = self.base / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return write_owned(path, text, mode)

    def __call__(self, *args, config=None, dsn=DEFAULT, env=None, queries=DEFAULT, port=None,
                 listen=True, wait=True, timeout=None, as_owner=False, binary=None):
        """Start pgpulse.

        args: extra command-line arguments.
        config: YAML text (written to a file and passed as --config) or a Path.
        dsn: DATA_SOURCE_NAME. DEFAULT: the session pg's monitor DSN, unless
             config or env gives a target; None: not set.
        env: extra environment (value None removes a variable). The base
             environment has no PG*, PGPULSE_*, PG_EXPORTER_*, DATA_SOURCE_*
             or DATABASE_URL.
        queries: paths passed as --queries each. DEFAULT: the repository's
             queries/ unless config is given or args have --queries.
        Relative paths are relative to the repository (pgpulse runs there).
        listen: add --web.listen-address 127.0.0.1:<free port> (or port).
        wait: wait until /healthz answers (else call .wait_ready() or .wait()).
        as_owner: run as the unprivileged cluster owner (when root).
        """
        self._n += 1
        workdir = self.base / f"pgpulse-{self._n}"
        workdir.mkdir(mode=0o755)
        give(workdir)
        argv = [str(binary or self.binary)]
        if config is not None:
            path = config if isinstance(config, Path) else self.write(f"pgpulse-{self._n}/config.yml", config)
            argv += ["--config", str(path)]
        if queries is DEFAULT:
            given = any(str(a).split("=", 1)[0] in ("--queries", "--extend.query-path")
                        for a in args)
            queries = [] if (config is not None or given) else [REPO / "queries"]
        for q in queries:
            argv += ["--queries", str(q)]
        if listen:
            port = port or free_port()
            argv += ["--web.listen-address", f"127.0.0.1:{port}"]
        argv += [str(a) for a in args]

        full_env = owner_env() if not as_owner else owner_env(workdir)
        for k in [k for k in full_env if k.startswith("PGPULSE_")]:
            del full_env[k]
        env = dict(env or {})
        if dsn is DEFAULT:
            dsn = None if (config is not None or "DATA_SOURCE_NAME" in env
                           or "DATABASE_URL" in env) else self._default_dsn()
        if dsn is not None:
            full_env["DATA_SOURCE_NAME"] = dsn
        if SANITIZE:
            full_env["ASAN_OPTIONS"] = ":".join(filter(None, [
                "detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=1",
                os.environ.get("ASAN_OPTIONS")]))
            full_env["UBSAN_OPTIONS"] = ":".join(filter(None, [
                "print_stacktrace=1:halt_on_error=1", os.environ.get("UBSAN_OPTIONS")]))
            full_env["TSAN_OPTIONS"] = ":".join(filter(None, [
                "second_deadlock_stack=1", os.environ.get("TSAN_OPTIONS")]))
        for k, v in env.items():
            if v is None:
                full_env.pop(k, None)
            else:
                full_env[k] = str(v)

        p = PgPulse(argv, full_env, workdir, port, as_owner_user=as_owner)
        self.instances.append(p)
        if wait and p.url:
            p.wait_ready(timeout or (60 if SANITIZE else 20))
        return p

    def finish(self):
        errors = []
        for p in self.instances:
            try:
                p.finish()
            except AssertionError as e:
                errors.append(str(e))
            finally:
                with contextlib.suppress(Exception):
                    p.kill()
        if errors:
            raise AssertionError("\n\n".join(errors))


# ---------------------------------------------------------------------------
# Prometheus

PROMETHEUS = Path(os.environ.get("PGPULSE_PROMETHEUS", "/usr/bin/prometheus"))


class Prometheus(_ForegroundServer):
    """Debian's Prometheus server (run as the owner) on 127.0.0.1:port with a
    temp storage dir, scraping static targets ("host:port" strings, or
    {"targets": [...], "labels": {...}} dicts) every scrape_interval.
    query(expr) / query_range(expr, start, end, step) / series(match) /
    label_values(label, match) call the HTTP API and return its "data";
    an error status raises PrometheusError."""

    host = "127.0.0.1"

    def __init__(self, base, targets, name="prometheus", scrape_interval="1s",
                 job="pgpulse", metrics_path="/metrics", rule_files=()):
        self.base = Path(base)
        self.name = name
        self.dir = self.base / name
        self.config = self.dir / "prometheus.yml"
        self.storage = self.dir / "data"
        self.logfile = self.dir / "prometheus.log"
        self.scrape_interval = scrape_interval
        self.job = job
        self.metrics_path = metrics_path
        self.targets = list(targets)
        self.rule_files = [str(f) for f in rule_files]
        self.port = None
        self.proc = None

    def __repr__(self):
        return f"<Prometheus {self.host}:{self.port}>"

    @property
    def url(self):
        return f"http://{self.host}:{self.port}"

    def _write_config(self):
        groups = []
        for t in self.targets:
            if isinstance(t, str):
                t = {"targets": [t]}
            lines = ["      - targets: [" + ", ".join(f'"{x}"' for x in t["targets"]) + "]"]
            if t.get("labels"):
                lines.append("        labels: {" + ", ".join(
                    f'{k}: "{v}"' for k, v in t["labels"].items()) + "}")
            groups.append("\n".join(lines))
        text = (f"global:\n"
                f"  scrape_interval: {self.scrape_interval}\n"
                f"  scrape_timeout: {self.scrape_interval}\n"
                f"  evaluation_interval: {self.scrape_interval}\n")
        if self.rule_files:
            # copies the owner can read, whatever the permissions of the originals
            copies = []
            for n, f in enumerate(self.rule_files):
                copies.append(write_owned(self.dir / f"rules-{n}-{Path(f).name}",
                                          Path(f).read_text(), 0o644))
            text += "rule_files:\n" + "".join(f'  - "{f}"\n' for f in copies)
        text += (f"scrape_configs:\n"
                 f"  - job_name: {self.job}\n"
                 f"    metrics_path: {self.metrics_path}\n"
                 f"    static_configs:\n" + "\n".join(groups) + "\n")
        write_owned(self.config, text, 0o644)

    def start(self, timeout=30):
        if self.proc is not None and self.proc.poll() is None:
            return self
        if not self.dir.exists():
            self.dir.mkdir(mode=0o755)
            self.storage.mkdir(mode=0o755)
            give(self.dir)
        require_modules("requests")
        for _ in range(3):
            self.port = free_port()
            self._write_config()
            log = open(self.logfile, "ab")
            give(self.logfile)
            self.proc = subprocess.Popen(as_owner([
                PROMETHEUS, f"--config.file={self.config}",
                f"--storage.tsdb.path={self.storage}",
                f"--web.listen-address={self.host}:{self.port}",
                "--storage.tsdb.retention.time=1d", "--log.level=warn"]),
                env=owner_env(self.dir), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                cwd=self.dir, start_new_session=True)
            log.close()
            _registry.add(self)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    with _http_session() as s:
                        if s.get(self.url + "/-/ready", timeout=1).status_code == 200:
                            return self
                except requests.RequestException:
                    pass
                time.sleep(0.1)
            self.stop()
            if "address already in use" not in _tail(self.logfile, 10).lower():
                break
        raise RuntimeError(f"prometheus did not start:\n{_tail(self.logfile)}")



    def log_text(self):
        return self.logfile.read_text(errors="replace") if self.logfile.exists() else ""

    # -- HTTP API ----------------------------------------------------------

    def api(self, path, **params):
        """GET /api/v1/<path>; returns "data", raises PrometheusError."""
        with _http_session() as s:
            r = s.get(f"{self.url}/api/v1/{path}", params=params, timeout=30)
        try:
            body = r.json()
        except ValueError:
            raise PrometheusError(f"{path} {params}: HTTP {r.status_code}: {r.text[:500]}") from None
        if body.get("status") != "success":
            raise PrometheusError(f"{path} {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr, time_=None):
        """Instant query; the "result" list (vector/matrix) or [ts, value] pair."""
        params = {"query": expr}
        if time_ is not None:
            params["time"] = time_
        return self.api("query", **params)["result"]

    def query_range(self, expr, start, end, step):
        return self.api("query_range", query=expr, start=start, end=end, step=step)["result"]

    def series(self, match):
        return self.api("series", **{"match[]": match})

    def label_values(self, label, match=None):
        params = {"match[]": match} if match else {}
        return self.api(f"label/{label}/values", **params)

    def targets_health(self):
        """{scrapeUrl: health} of the active targets."""
        return {t["scrapeUrl"]: t["health"] for t in self.api("targets")["activeTargets"]}

    def wait_scraped(self, n=3, timeout=30):
        """Wait until every target was scraped successfully n times."""
        deadline = time.monotonic() + timeout
        expr = f'count_over_time(up{{job="{self.job}"}}[1h]) >= {n} and up == 1'
        want = sum(len(t["targets"]) if isinstance(t, dict) else 1 for t in self.targets)
        while time.monotonic() < deadline:
            if len(self.query(expr)) == want:
                return self
            time.sleep(0.2)
        raise AssertionError(f"prometheus: targets not scraped {n} times in {timeout}s: "
                             f"{self.targets_health()}\n{_tail(self.logfile)}")


class PrometheusError(Exception):
    pass
