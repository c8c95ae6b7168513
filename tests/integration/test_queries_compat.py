"""The postgres_exporter 0.11.1 compatibility set (queries/compat/) against
the real thing: Debian's prometheus-postgres-exporter 0.11.1 scraped against
the same cluster must give the same series names and label sets.

Run as a script with --generate to rewrite queries/compat/postgres_exporter.yaml
from a running server's pg_settings (PGHOST, PGPORT, PGUSER...):

    python3 tests/integration/test_queries_compat.py --generate
"""

import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import pgfix

PE_BIN = Path("/usr/bin/prometheus-postgres-exporter")
REPO = Path(__file__).resolve().parents[2]
COMPAT = REPO / "queries" / "compat" / "postgres_exporter.yaml"
# the exporters' own metrics, different by design
SELF = ("go_", "process_", "promhttp_", "pg_exporter_", "pg_scrape_collector_",
        "postgres_exporter_", "pgpulse_")


PE_SECONDS = {"ms": 0.001, "s": 1, "min": 60, "h": 3600, "d": 86400}
PE_BYTES = {"B": 1, "kB": 1024, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40,
            "8kB": 8192, "16kB": 16384, "32kB": 32768, "16MB": 16 << 20,
            "32MB": 32 << 20, "64MB": 64 << 20}

SERVER = ("coalesce(host(inet_server_addr()), "
          "split_part(current_setting('unix_socket_directories'), ',', 1))"
          " || ':' || current_setting('port')")

# (column, usage, description) of postgres_exporter 0.11.1's pg_stat_database
# on PostgreSQL 15; columns a server lacks give no series.
STAT_DATABASE = [
    ("numbackends", "GAUGE", "Number of backends currently connected to this database. This is the only column in this view that returns a value reflecting current state; all other columns return the accumulated values since the last reset."),
    ("xact_commit", "COUNTER", "Number of transactions in this database that have been committed"),
    ("xact_rollback", "COUNTER", "Number of transactions in this database that have been rolled back"),
    ("blks_read", "COUNTER", "Number of disk blocks read in this database"),
    ("blks_hit", "COUNTER", "Number of times disk blocks were found already in the buffer cache, so that a read was not necessary (this only includes hits in the PostgreSQL buffer cache, not the operating system's file system cache)"),
    ("tup_returned", "COUNTER", "Number of rows returned by queries in this database"),
    ("tup_fetched", "COUNTER", "Number of rows fetched by queries in this database"),
    ("tup_inserted", "COUNTER", "Number of rows inserted by queries in this database"),
    ("tup_updated", "COUNTER", "Number of rows updated by queries in this database"),
    ("tup_deleted", "COUNTER", "Number of rows deleted by queries in this database"),
    ("conflicts", "COUNTER", "Number of queries canceled due to conflicts with recovery in this database. (Conflicts occur only on standby servers; see pg_stat_database_conflicts for details.)"),
    ("temp_files", "COUNTER", "Number of temporary files created by queries in this database. All temporary files are counted, regardless of why the temporary file was created (e.g., sorting or hashing), and regardless of the log_temp_files setting."),
    ("temp_bytes", "COUNTER", "Total amount of data written to temporary files by queries in this database. All temporary files are counted, regardless of why the temporary file was created, and regardless of the log_temp_files setting."),
    ("deadlocks", "COUNTER", "Number of deadlocks detected in this database"),
    ("blk_read_time", "COUNTER", "Time spent reading data file blocks by backends in this database, in milliseconds"),
    ("blk_write_time", "COUNTER", "Time spent writing data file blocks by backends in this database, in milliseconds"),
    ("stats_reset", "COUNTER", "Time at which these statistics were last reset"),
    # 0.11.1 passes these through as untyped ("Unknown metric"); gauges here
    ("checksum_failures", "GAUGE", "Unknown metric from pg_stat_database"),
    ("checksum_last_failure", "GAUGE", "Unknown metric from pg_stat_database"),
    ("session_time", "GAUGE", "Unknown metric from pg_stat_database"),
    ("active_time", "GAUGE", "Unknown metric from pg_stat_database"),
    ("idle_in_transaction_time", "GAUGE", "Unknown metric from pg_stat_database"),
    ("sessions", "GAUGE", "Unknown metric from pg_stat_database"),
    ("sessions_abandoned", "GAUGE", "Unknown metric from pg_stat_database"),
    ("sessions_fatal", "GAUGE", "Unknown metric from pg_stat_database"),
    ("sessions_killed", "GAUGE", "Unknown metric from pg_stat_database"),
]
TIMESTAMPS = {"stats_reset", "checksum_last_failure", "reply_time"}

CONFLICTS = [
    ("confl_tablespace", "Number of queries in this database that have been canceled due to dropped tablespaces"),
    ("confl_lock", "Number of queries in this database that have been canceled due to lock timeouts"),
    ("confl_snapshot", "Number of queries in this database that have been canceled due to old snapshots"),
    ("confl_bufferpin", "Number of queries in this database that have been canceled due to pinned buffers"),
    ("confl_deadlock", "Number of queries in this database that have been canceled due to deadlocks"),
]

BGWRITER = [
    ("checkpoints_timed", "Number of scheduled checkpoints that have been performed"),
    ("checkpoints_req", "Number of requested checkpoints that have been performed"),
    ("checkpoint_write_time", "Total amount of time that has been spent in the portion of checkpoint processing where files are written to disk, in milliseconds"),
    ("checkpoint_sync_time", "Total amount of time that has been spent in the portion of checkpoint processing where files are synchronized to disk, in milliseconds"),
    ("buffers_checkpoint", "Number of buffers written during checkpoints"),
    ("buffers_clean", "Number of buffers written by the background writer"),
    ("maxwritten_clean", "Number of times the background writer stopped a cleaning scan because it had written too many buffers"),
    ("buffers_backend", "Number of buffers written directly by a backend"),
    ("buffers_backend_fsync", "Number of times a backend had to execute its own fsync call (normally the background writer handles those even when the backend does its own write)"),
    ("buffers_alloc", "Number of buffers allocated"),
    ("stats_reset", "Time at which these statistics were last reset"),
]


def q(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def jcol(rel, col, nan=True):
    """Column col of rel read through jsonb, so that one SQL text works on
    every version: NULL when the server lacks the column (no series), NaN
    when the column is NULL (as postgres_exporter)."""
    v = f"({rel} ->> '{col}')"
    v = f"extract(epoch FROM {v}::timestamptz)" if col in TIMESTAMPS else f"{v}::float8"
    if nan:
        v = f"coalesce({v}, 'NaN')"
    return f"CASE WHEN {rel} ? '{col}' THEN {v} END"


def metric_list(cols):
    out = ["  metrics:"]
    for col, usage, desc in cols:
        d = f", description: {q(desc)}" if desc else ""
        out.append(f"    - {col}: {{usage: {usage}{d}}}")
    return out


def block(name, header, sql, cols, extra=()):
    out = [f"{name}:"] + [f"  {h}" for h in extra]
    out += [f"  # {h}" for h in header] if header else []
    out.append("  query: |")
    out += ["    " + l for l in sql.strip().splitlines()]
    out += metric_list(cols)
    return "\n".join(out) + "\n"


def settings_block(rows):
    """rows: (name, vartype, unit, short_desc) of the numeric settings."""
    cols, sel = [], []
    for name, vartype, unit, desc in rows:
        col = name.replace(".", "_").replace("-", "_")
        help_ = desc
        if vartype != "bool" and unit in PE_SECONDS:
            col += "_seconds"
            help_ += " [Units converted to seconds.]"
        elif vartype != "bool" and unit in PE_BYTES:
            col += "_bytes"
            help_ += " [Units converted to bytes.]"
        sel.append(f"(s.j->>'{name}')::float8 AS {col}")
        cols.append((col, "GAUGE", help_))
    cases_s = " ".join(f"WHEN '{u}' THEN {f}" for u, f in PE_SECONDS.items())
    cases_b = " ".join(f"WHEN '{u}' THEN {f}" for u, f in PE_BYTES.items())
    # One jsonb object of all settings, read once per column: half the
    # time of one FILTER aggregate per column (2.0 ms to 1.2 ms a run,
    # planning 1.5 ms to 0.3 ms), with the same values.
    sql = ("SELECT " + SERVER + " AS server,\n  " + ",\n  ".join(sel) + "\n"
           "FROM (SELECT jsonb_object_agg(name,\n"
           "        CASE WHEN vartype = 'bool' THEN (val = 'on')::int::float8\n"
           "             WHEN val::float8 = -1 THEN -1\n"
           f"             ELSE val::float8 * coalesce(CASE unit {cases_s} {cases_b} END, 1) END) AS j\n"
           "      FROM (SELECT *, CASE WHEN source = 'client' THEN boot_val\n"
           "                           WHEN name = 'transaction_read_only' THEN reset_val\n"
           "                           ELSE setting END AS val FROM pg_settings) AS p\n"
           "      WHERE vartype IN ('bool', 'integer', 'real')\n"
           "        AND name <> 'sync_commit_cancel_wait') AS s")
    return block("pg_settings", [
        "one column per numeric setting of PostgreSQL 15 (generated, see",
        "tests/integration/test_queries_compat.py); name and suffix as 0.11.1"],
        sql, [("server", "LABEL", "")] + cols)


def generate(settings_rows):
    parts = [HEADER]
    # pg_static
    parts.append(block("pg", ["pg_static{short_version, version}: the server's version"], f"""
SELECT {SERVER} AS server, version() AS version,
       substring(current_setting('server_version') FROM '^[0-9]+(?:\\.[0-9]+)?')
         || CASE WHEN current_setting('server_version') ~ '^[0-9]+\\.[0-9]+\\.[0-9]+'
                 THEN '' WHEN current_setting('server_version') ~ '^[0-9]+\\.[0-9]+'
                 THEN '.0' ELSE '.0.0' END AS short_version,
       1 AS static
""", [("server", "LABEL", ""), ("version", "LABEL", ""), ("short_version", "LABEL", ""),
      ("static", "GAUGE", "Version string as reported by postgres")]))
    # pg_database_size_bytes
    parts.append(block("pg_database_size", ["pg_database_size_bytes{datname}: every database, templates included"], f"""
SELECT {SERVER} AS server, datname, pg_database_size(oid) AS bytes
FROM pg_database
""", [("server", "LABEL", ""), ("datname", "LABEL", ""),
      ("bytes", "GAUGE", "Disk space used by the database")]))
    # pg_stat_database_* (namespace pg_stat, columns database_*)
    sel = ",\n       ".join(f"{jcol('j', c)} AS database_{c}" for c, _, _ in STAT_DATABASE)
    parts.append(block("pg_stat", [
        "pg_stat_database_*{datid, datname}, the shared-objects row (datid 0,",
        "datname \"\") included; NULL is NaN as in 0.11.1. The namespace is",
        "pg_stat (columns database_*) so that the collector name does not clash",
        "with the default set's pg_stat_database."], f"""
SELECT {SERVER} AS server, d.datid::text AS datid, coalesce(d.datname, '') AS datname,
       {sel}
FROM pg_stat_database d, LATERAL to_jsonb(d) AS j
""", [("server", "LABEL", ""), ("datid", "LABEL", ""), ("datname", "LABEL", "")]
        + [(f"database_{c}", u, d) for c, u, d in STAT_DATABASE]))
    sel = ",\n       ".join(f"{jcol('j', c)} AS {c}" for c, _ in CONFLICTS)
    parts.append(block("pg_stat_database_conflicts", [], f"""
SELECT {SERVER} AS server, d.datid::text AS datid, d.datname,
       {sel}
FROM pg_stat_database_conflicts d, LATERAL to_jsonb(d) AS j
""", [("server", "LABEL", ""), ("datid", "LABEL", ""), ("datname", "LABEL", "")]
        + [(c, "COUNTER", d) for c, d in CONFLICTS]))
    parts.append(block("pg_locks", ["pg_locks_count{datname, mode}: 9 modes x every database, zeros included"], f"""
SELECT {SERVER} AS server, pg_database.datname, tmp.mode,
       coalesce(count, 0) AS count
FROM (VALUES ('accesssharelock'), ('rowsharelock'), ('rowexclusivelock'),
             ('shareupdateexclusivelock'), ('sharelock'),
             ('sharerowexclusivelock'), ('exclusivelock'),
             ('accessexclusivelock'), ('sireadlock')) AS tmp(mode)
CROSS JOIN pg_database
LEFT JOIN (SELECT database, lower(mode) AS mode, count(*) AS count
           FROM pg_locks WHERE database IS NOT NULL
           GROUP BY database, lower(mode)) AS tmp2
  ON tmp.mode = tmp2.mode AND pg_database.oid = tmp2.database
""", [("server", "LABEL", ""), ("datname", "LABEL", "Name of this database"),
      ("mode", "LABEL", "Type of Lock"), ("count", "GAUGE", "Number of locks")]))
    parts.append(block("pg_stat_activity", ["pg_stat_activity_count and _max_tx_duration{datname, state}: 6 states x every database"], f"""
SELECT {SERVER} AS server, pg_database.datname, tmp.state,
       coalesce(count, 0) AS count,
       coalesce(max_tx_duration, 0) AS max_tx_duration
FROM (VALUES ('active'), ('idle'), ('idle in transaction'),
             ('idle in transaction (aborted)'), ('fastpath function call'),
             ('disabled')) AS tmp(state)
CROSS JOIN pg_database
LEFT JOIN (SELECT datname, state, count(*) AS count,
                  max(extract(epoch FROM now() - xact_start))::float8 AS max_tx_duration
           FROM pg_stat_activity GROUP BY datname, state) AS tmp2
  ON tmp.state = tmp2.state AND pg_database.datname = tmp2.datname
""", [("server", "LABEL", ""), ("datname", "LABEL", "Name of this database"),
      ("state", "LABEL", "connection state"),
      ("count", "GAUGE", "number of connections in this state"),
      ("max_tx_duration", "GAUGE", "max duration in seconds any active transaction has been running")]))
    parts.append(settings_block(settings_rows))
    sel = ",\n       ".join(f"{jcol('j', c, nan=False)} AS {c}_total" for c, _ in BGWRITER)
    parts.append(block("pg_stat_bgwriter", [
        "pg_stat_bgwriter_*_total; on 17+ the checkpoint columns are gone",
        "from pg_stat_bgwriter and give no series (0.11.1 fails there)"], f"""
SELECT {SERVER} AS server,
       {sel}
FROM pg_stat_bgwriter b, LATERAL to_jsonb(b) AS j
""", [("server", "LABEL", "")] + [(f"{c}_total", "COUNTER", d) for c, d in BGWRITER]))
    parts.append(block("pg_replication_slots", [], f"""
SELECT {SERVER} AS server, slot_name, coalesce(database, '') AS database,
       active::int AS active,
       coalesce(pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn()
                                     ELSE pg_current_wal_lsn() END, restart_lsn), 'NaN') AS pg_wal_lsn_diff
FROM pg_replication_slots
""", [("server", "LABEL", ""), ("slot_name", "LABEL", "Name of the replication slot"),
      ("database", "LABEL", "Name of the database"),
      ("active", "GAUGE", "Flag indicating if the slot is active"),
      ("pg_wal_lsn_diff", "GAUGE", "Replication lag in bytes")]))
    parts.append(block("pg_stat_replication", [
        "slot_name is the standby's slot (\"\" without one); 0.11.1 put the",
        "walsender's pid there by mistake"], f"""
SELECT {SERVER} AS server, r.application_name,
       coalesce(host(r.client_addr), '') AS client_addr,
       coalesce(s.slot_name, '') AS slot_name, coalesce(r.state, '') AS state,
       CASE WHEN pg_is_in_recovery() THEN 'NaN'
            ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0') END AS pg_current_wal_lsn_bytes,
       CASE WHEN pg_is_in_recovery() THEN 'NaN'
            ELSE coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), r.replay_lsn), 'NaN') END AS pg_wal_lsn_diff,
       coalesce(extract(epoch FROM r.reply_time), 'NaN') AS reply_time
FROM pg_stat_replication r
LEFT JOIN pg_replication_slots s ON s.active_pid = r.pid
""", [("server", "LABEL", ""), ("application_name", "LABEL", "Name of the application connected to this WAL sender"),
      ("client_addr", "LABEL", "IP address of the client connected to this WAL sender"),
      ("slot_name", "LABEL", "Replication slot of the standby"),
      ("state", "LABEL", "Current WAL sender state"),
      ("pg_current_wal_lsn_bytes", "GAUGE", "WAL position in bytes"),
      ("pg_wal_lsn_diff", "GAUGE", "Lag in bytes between master and slave"),
      ("reply_time", "GAUGE", "Unknown metric from pg_stat_replication")]))
    parts.append(block("pg_stat_archiver", [], f"""
SELECT {SERVER} AS server, archived_count, failed_count,
       coalesce(extract(epoch FROM now() - last_archived_time), 'NaN') AS last_archive_age
FROM pg_stat_archiver
""", [("server", "LABEL", ""),
      ("archived_count", "COUNTER", "Number of WAL files that have been successfully archived"),
      ("failed_count", "COUNTER", "Number of failed attempts for archiving WAL files"),
      ("last_archive_age", "GAUGE", "Time in seconds since last WAL segment was successfully archived")]))
    return "\n".join(parts)


HEADER = """\
# postgres_exporter 0.11.1 compatibility set (the Debian package's names,
# types and labels), in postgres_exporter's own queries.yaml format, so
# counters keep their names without _total. Not loaded by default (it is in
# a subdirectory). `--compat postgres_exporter` (or `compat:
# [postgres_exporter]` in the config) loads it INSTEAD OF
# queries/database.yaml, beside the other default files; by hand:
#
#   queries: [queries/server.yaml, ...every default file but
#             database.yaml..., queries/compat/postgres_exporter.yaml]
#
# (or just [queries/compat/postgres_exporter.yaml] for exactly 0.11.1's set;
# pg_up, 0 when the server is down, is always served by the engine).
# database.yaml cannot be loaded beside it: pg_stat_database_xact_commit_total
# and pg_stat_database_xact_commit would be one counter, and
# pg_database_size_bytes would have two label sets.
#
# The "server" label ("host:port", which 0.11.1 took from the DSN) is computed
# by each query: the server's address (inet_server_addr) or, over a unix
# socket, its first unix_socket_directories entry, and its port. A DSN that
# names a host by name gives its address here, not the name.
#
# Differences from 0.11.1, all deliberate: the columns 0.11.1 passed through
# as "untyped" are gauges; pg_stat_replication's slot_name is the slot (0.11.1
# gave the walsender's pid); pg_settings shows the server's value, not the
# session's (for the settings pgpulse sets on its own sessions,
# source 'client', the built-in default boot_val); pg_settings covers the numeric settings of
# PostgreSQL 15 (a setting only other versions have gives no series); the
# exporter's self-metrics (pg_exporter_*, pg_scrape_collector_*,
# postgres_exporter_build_info) are pgpulse's own (pgpulse_*).
#
# Generated by: python3 tests/integration/test_queries_compat.py --generate
"""


SETTINGS_SQL = ("SELECT name, vartype, coalesce(unit, ''), short_desc FROM pg_settings "
                "WHERE vartype IN ('bool', 'integer', 'real') "
                "AND name <> 'sync_commit_cancel_wait' ORDER BY name")


# ---------------------------------------------------------------------------

def series(text):
    """{(name, frozenset(labels)): value} and {family: type} of a page."""
    types, out = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split()
            types[name] = typ
    for s in pgfix.parse_samples(text):
        if not s.name.startswith(SELF):
            labels = dict(s.labels)
            if s.name.startswith("pg_stat_replication_"):
                # 0.11.1 put the walsender's pid there; the set gives the slot
                slot = labels["slot_name"]
                labels["slot_name"] = "<pid>" if slot.isdigit() else "<slot>"
            out[(s.name, frozenset(labels.items()))] = s.value
    return out, types


@pytest.fixture
def postgres_exporter(pg):
    pgfix.need(PE_BIN.exists(), f"{PE_BIN} (Debian prometheus-postgres-exporter)")
    port = pgfix.free_port()
    env = dict(os.environ, DATA_SOURCE_NAME=pg.dsn(style="kv", sslmode="disable"))
    proc = subprocess.Popen([str(PE_BIN), f"--web.listen-address=127.0.0.1:{port}",
                             "--log.level=warn"], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, proc.stderr.read().decode()
            try:
                import requests
                s = requests.Session()
                s.trust_env = False
                s.get(url, timeout=2)
                break
            except Exception:
                assert time.monotonic() < deadline, "postgres_exporter did not start"
                time.sleep(0.1)

        def scrape():
            s = requests.Session()
            s.trust_env = False
            r = s.get(url, timeout=30)
            assert r.status_code == 200, r.text[:500]
            return r.text
        yield scrape
    finally:
        proc.terminate()
        proc.wait(10)


def test_compat_file_is_current_for_this_server(pg):
    rows = pg.psql(SETTINGS_SQL)
    assert COMPAT.read_text() == generate(rows), \
        "queries/compat/postgres_exporter.yaml is stale: rerun this file with --generate"


def test_compat_set_matches_postgres_exporter_0_11_1(pg, replica, pgpulse, postgres_exporter,
                                                      promtool_lint):
    # a physical slot used by the replica... and one unused logical-free slot
    pg.psql("SELECT pg_create_physical_replication_slot('compat_unused')")
    pg.psql("CREATE DATABASE compat_db")
    # locks held all through the two scrapes, in modes the exporters' own
    # queries never take, so each count has one right value
    pg.psql("CREATE TABLE held_a (v int); CREATE TABLE held_b (v int)", dbname="compat_db")
    holder = pg.connect("compat_db", autocommit=False)
    holder.execute("LOCK TABLE held_a IN SHARE ROW EXCLUSIVE MODE")
    holder.execute("LOCK TABLE held_b IN EXCLUSIVE MODE")
    try:
        p = pgpulse(queries=["queries/server.yaml", "queries/compat/postgres_exporter.yaml"],
                    dsn=pg.dsn(sslmode="disable"))
        theirs_text = postgres_exporter()
        ours_text = p.scrape()
        truth = dict(((d, m), n) for d, m, n in pg.psql(
            "SELECT d.datname, lower(l.mode), count(*) FROM pg_locks l "
            "JOIN pg_database d ON d.oid = l.database GROUP BY 1, 2"))
        theirs, their_types = series(theirs_text)
        ours, our_types = series(ours_text)
        # pgpulse's server.yaml adds its own families (pg_info...); compare
        # the families postgres_exporter has
        fams = {n for n, _ in theirs}
        mine = {k: v for k, v in ours.items() if k[0] in fams}
        theirs = {(n, frozenset(dict(l, slot_name="<slot>").items()) if dict(l).get("slot_name") == "<pid>" else l): v
                  for (n, l), v in theirs.items()}
        assert any(n.startswith("pg_stat_replication_") for n, _ in theirs)
        assert set(theirs) - set(mine) == set(), sorted(set(theirs) - set(mine))[:20]
        assert set(mine) - set(theirs) == set(), sorted(set(mine) - set(theirs))[:20]
        # the families the issue names are all there, with the server label
        server = f"127.0.0.1:{pg.port}"
        for fam in ("pg_stat_database_xact_commit", "pg_stat_activity_count",
                    "pg_stat_activity_max_tx_duration", "pg_locks_count",
                    "pg_settings_max_connections", "pg_stat_bgwriter_buffers_alloc_total",
                    "pg_database_size_bytes", "pg_replication_slots_active",
                    "pg_stat_replication_pg_wal_lsn_diff", "pg_stat_archiver_archived_count",
                    "pg_stat_database_conflicts_confl_lock", "pg_static"):
            assert any(n == fam and ("server", server) in l for n, l in mine), fam
        assert ("pg_up", frozenset()) in ours and ("pg_up", frozenset()) in theirs
        # types: the same, except what 0.11.1 leaves untyped (gauges here)
        for fam in fams:
            base = fam
            t = their_types.get(base)
            o = our_types.get(base)
            if t == "untyped":
                assert o == "gauge", fam
            else:
                assert o == t, (fam, o, t)
        # values: the same where they do not move between the two reads
        # (settings pgpulse sets on its own session are shown as the server's)
        steady = [k for k in theirs if k[0].startswith(("pg_settings_", "pg_locks_count",
                                                        "pg_replication_slots_active",
                                                        "pg_stat_archiver_"))
                  and k[0] not in ("pg_settings_extra_float_digits",)]
        assert len(steady) > 250
        for k in steady:
            a, b = ours[k], theirs[k]
            lbl = dict(k[1])
            if k[0] == "pg_locks_count" and lbl["mode"] == "accesssharelock":
                # each exporter's own query holds these while it runs
                continue
            assert (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9), (k, a, b)
            if k[0] == "pg_locks_count":
                assert a == truth.get((lbl["datname"], lbl["mode"]), 0), (k, a)
        held = {m: ours[("pg_locks_count", frozenset(dict(
            server=server, datname="compat_db", mode=m).items()))]
            for m in ("sharerowexclusivelock", "exclusivelock")}
        assert held == {"sharerowexclusivelock": 1, "exclusivelock": 1}, held
        for (name, labels), v in theirs.items():
            if name == "pg_database_size_bytes":
                assert abs(ours[(name, labels)] - v) <= 64 * 1024
        # the page parses; promtool's only complaints are 0.11.1's names
        rc, out = promtool_lint(ours_text)
        lint = [l for l in out.splitlines() if l.strip()]
        assert lint and all("should have \"_total\" suffix" in l
                            or "should not have \"_count\" suffix" in l for l in lint), out
    finally:
        holder.close()
        pg.psql("SELECT pg_drop_replication_slot('compat_unused')")
        pg.psql("DROP DATABASE compat_db")


def test_compat_loads_beside_every_default_file_but_database_yaml(pg, pgpulse):
    files = sorted(str(f.relative_to(REPO)) for f in (REPO / "queries").glob("*.yaml")
                   if f.name != "database.yaml")
    p = pgpulse(queries=files + ["queries/compat/postgres_exporter.yaml"])
    page = p.scrape()
    assert page.sample("pg_up") == 1
    assert page.has("pg_connections_max") and page.has("pg_stat_activity_count")
    failed = [s.labels["collector"] for s in page.samples("pgpulse_scrape_success") if s.value != 1]
    assert failed == [], failed
    # with database.yaml beside it, the clash is refused and named
    d = pgpulse("--dry-run", queries=["queries", "queries/compat"], listen=False, wait=False)
    assert d.wait() == 1  # errors found, not a crash
    assert "pg_stat_database_xact_commit" in d.log_text(), d.log_text()[-2000:]


def main():
    if "--generate" not in sys.argv:
        print(__doc__)
        return 2
    import psycopg
    with psycopg.connect(dbname=os.environ.get("PGDATABASE", "postgres")) as c:
        rows = c.execute(SETTINGS_SQL).fetchall()
    COMPAT.write_text(generate(rows))
    print(f"wrote {COMPAT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
