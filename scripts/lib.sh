# shellcheck shell=bash
# Helpers shared by scripts/demo and scripts/bench: a throw-away PostgreSQL 15
# cluster in a temp dir, owned by a non-root user, on a port found at run time.
# Source it from a bash script that runs with `set -euo pipefail`.
#
# The Python fixtures (tests/integration/pgfix.py) do the same in Python with
# the same settings; keep the two in step.

PP_PG_BIN=${PP_PG_BIN:-/usr/lib/postgresql/15/bin}
# The user that owns clusters when we run as root (initdb refuses root).
PP_USER=${PGPULSE_TEST_USER:-pgpulse-test}
PP_PYTHON=${PP_PYTHON:-/usr/bin/python3}
PP_SUPERUSER=postgres
PP_MONITOR_USER=monitor
PP_MONITOR_PASSWORD=monitor-secret-pw

pp_die() {
	printf '%s: %s\n' "${0##*/}" "$*" >&2
	exit 1
}

pp_log() {
	printf '%s: %s\n' "${0##*/}" "$*" >&2
}

pp_is_root() {
	[[ $(id -u) -eq 0 ]]
}

# Create the unprivileged owner when running as root. Concurrent callers may
# race on useradd; whoever loses finds the user there afterwards.
pp_ensure_user() {
	pp_is_root || return 0
	getent passwd "$PP_USER" >/dev/null && return 0
	useradd --system --user-group --no-create-home --home-dir /nonexistent \
		--shell /usr/sbin/nologin "$PP_USER" 2>/dev/null ||
		getent passwd "$PP_USER" >/dev/null ||
		pp_die "cannot create user $PP_USER"
}

# Run a command as the cluster owner: the current user, or $PP_USER under root.
pp_as_owner() {
	if pp_is_root; then
		setpriv --reuid "$PP_USER" --regid "$PP_USER" --init-groups -- \
			env HOME=/tmp "$@"
	else
		"$@"
	fi
}

# Give paths to the cluster owner (no-op when not root).
pp_give() {
	if pp_is_root; then
		chown -R "$PP_USER:$PP_USER" "$@"
	fi
}

# Print a TCP port on 127.0.0.1 that is free right now.
pp_free_port() {
	"$PP_PYTHON" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# Succeed when HOST:PORT can be bound (nobody listens there). An empty HOST
# or 0.0.0.0 means all interfaces.
pp_port_is_free() {
	"$PP_PYTHON" - "$1" "$2" <<'EOF'
import socket, sys
host, port = sys.argv[1] or "0.0.0.0", int(sys.argv[2])
s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind((host, port))
except OSError:
    sys.exit(1)
EOF
}

# pp_cluster_init DATADIR SOCKDIR PORT
# initdb with the test settings: 127.0.0.1 + a private socket dir, superuser
# "postgres" trusted on the socket only, everything else scram-sha-256.
pp_cluster_init() {
	local datadir=$1 sockdir=$2 port=$3
	mkdir -p "$sockdir"
	chmod 700 "$sockdir"
	pp_give "$sockdir"
	pp_as_owner "$PP_PG_BIN/initdb" --pgdata="$datadir" --username="$PP_SUPERUSER" \
		--auth-local=trust --auth-host=scram-sha-256 --locale=C --encoding=UTF8 \
		--no-sync >"$datadir.initdb.log" 2>&1 ||
		{
			cat "$datadir.initdb.log" >&2
			pp_die "initdb failed"
		}
	pp_as_owner tee -a "$datadir/postgresql.conf" >/dev/null <<EOF

# pgpulse test/demo settings
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$sockdir'
max_connections = 40
shared_buffers = 32MB
fsync = off
synchronous_commit = off
full_page_writes = off
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = all
track_io_timing = on
track_functions = all
log_connections = on
log_disconnections = on
log_line_prefix = '%m [%p] %q%u@%d app=%a '
EOF
	pp_as_owner tee "$datadir/pg_hba.conf" >/dev/null <<EOF
# TYPE  DATABASE     USER         ADDRESS        METHOD
local   all          $PP_SUPERUSER                 trust
local   replication  $PP_SUPERUSER                 trust
local   all          all                         scram-sha-256
host    all          all          127.0.0.1/32   scram-sha-256
host    replication  all          127.0.0.1/32   scram-sha-256
EOF
}

# pp_cluster_start DATADIR LOGFILE
pp_cluster_start() {
	local datadir=$1 logfile=$2
	pp_as_owner touch "$logfile"
	pp_as_owner "$PP_PG_BIN/pg_ctl" --pgdata="$datadir" --log="$logfile" \
		--wait --timeout=60 --silent start ||
		{
			tail -n 30 "$logfile" >&2
			pp_die "PostgreSQL did not start (log: $logfile)"
		}
}

# pp_cluster_stop DATADIR: fast shutdown, then immediate; quiet if not running.
pp_cluster_stop() {
	local datadir=$1
	[[ -f $datadir/postmaster.pid ]] || return 0
	pp_as_owner "$PP_PG_BIN/pg_ctl" --pgdata="$datadir" --mode=fast --wait \
		--timeout=30 --silent stop >/dev/null 2>&1 ||
		pp_as_owner "$PP_PG_BIN/pg_ctl" --pgdata="$datadir" --mode=immediate \
			--wait --timeout=30 --silent stop >/dev/null 2>&1 || true
}

# pp_psql SOCKDIR PORT DBNAME [psql args...]: as the superuser over the socket.
pp_psql() {
	local sockdir=$1 port=$2 db=$3
	shift 3
	"$PP_PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$sockdir" -p "$port" \
		-U "$PP_SUPERUSER" -d "$db" "$@"
}

# pp_cluster_setup SOCKDIR PORT: the monitor role and pg_stat_statements.
pp_cluster_setup() {
	pp_psql "$1" "$2" postgres <<EOF
CREATE ROLE $PP_MONITOR_USER LOGIN PASSWORD '$PP_MONITOR_PASSWORD' IN ROLE pg_monitor;
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
EOF
}
