#!/usr/bin/env python3
"""Writes the pgpulse Grafana dashboards (dashboards/pgpulse-*.json).

The JSON files are the product; this script is how they are kept uniform
(one datasource variable used everywhere, job/instance/target variables,
units and descriptions, $__rate_interval). Edit the panels here, then run

    python3 dashboards/generate.py            # rewrite the JSON files
    python3 dashboards/generate.py --check    # exit 1 if a file is stale

tests/integration/test_dashboards.py runs every expression against a real
Prometheus scraping pgpulse, and the --check.
"""

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCHEMA_VERSION = 39  # Grafana 10.x/11.x; newer Grafana migrates forward
DS = {"type": "prometheus", "uid": "${datasource}"}

# Selectors. Every series of a multi-target pgpulse carries target="<name>";
# a single-target pgpulse (DATA_SOURCE_NAME) has no target label, hence the
# target variable's allValue ".*".
B = 'job=~"$job",instance=~"$instance"'
T = B + ',target=~"$target"'
RI = "[$__rate_interval]"


def rate(metric, sel=T):
    return f"rate({metric}{{{sel}}}{RI})"


# --- panels -----------------------------------------------------------------

def q(expr, legend="", instant=False, table=False):
    t = {"datasource": DS, "expr": expr, "legendFormat": legend, "range": not instant,
         "instant": instant}
    if table:
        t["format"] = "table"
    return t


def _panel(kind, title, desc, unit, targets, w, h, **extra):
    p = {"type": kind, "title": title, "description": desc, "datasource": DS,
         "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
         "targets": targets, "_w": w, "_h": h}
    p.update(extra)
    return p


def ts(title, desc, unit, *targets, w=12, h=8, stack=False, bars=False, min0=True):
    p = _panel("timeseries", title, desc, unit, list(targets), w, h,
               options={"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                        "tooltip": {"mode": "multi", "sort": "desc"}})
    custom = {"drawStyle": "bars" if bars else "line", "fillOpacity": 10, "lineWidth": 1,
              "showPoints": "never", "spanNulls": False,
              "stacking": {"mode": "normal" if stack else "none", "group": "A"}}
    p["fieldConfig"]["defaults"]["custom"] = custom
    if min0:
        p["fieldConfig"]["defaults"]["min"] = 0
    return p


def stat(title, desc, unit, *targets, w=4, h=4, mappings=None, thresholds=None, text="auto"):
    p = _panel("stat", title, desc, unit, list(targets), w, h,
               options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                        "colorMode": "value" if (mappings or thresholds) else "none",
                        "graphMode": "none", "textMode": text, "justifyMode": "auto",
                        "orientation": "auto"})
    if mappings:
        p["fieldConfig"]["defaults"]["mappings"] = mappings
    if thresholds:
        p["fieldConfig"]["defaults"]["thresholds"] = {"mode": "absolute", "steps": thresholds}
    return p


def gauge(title, desc, unit, *targets, w=6, h=6, max_=1, steps=None):
    p = _panel("gauge", title, desc, unit, list(targets), w, h,
               options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                        "showThresholdLabels": False, "showThresholdMarkers": True})
    d = p["fieldConfig"]["defaults"]
    d["min"], d["max"] = 0, max_
    d["thresholds"] = {"mode": "absolute", "steps": steps or [
        {"color": "green", "value": None}, {"color": "orange", "value": 0.75 * max_},
        {"color": "red", "value": 0.9 * max_}]}
    return p


def bars(title, desc, unit, *targets, w=12, h=8):
    return _panel("bargauge", title, desc, unit, list(targets), w, h,
                  options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                           "displayMode": "basic", "orientation": "horizontal",
                           "showUnfilled": True, "valueMode": "color"})


HIDDEN = ["Time", "__name__", "job", "instance"]


def table(title, desc, unit, *targets, w=12, h=8, columns=None, units=None, hide=()):
    """Instant queries shown as one table; columns maps "Value #<refId>" (or
    a label) to its header; units maps a header to its unit."""
    p = _panel("table", title, desc, unit, list(targets), w, h,
               options={"showHeader": True, "cellHeight": "sm",
                        "footer": {"show": False, "reducer": ["sum"], "fields": ""}})
    tr = []
    if len(targets) > 1:
        tr.append({"id": "merge", "options": {}})
    tr.append({"id": "organize", "options": {
        "excludeByName": {k: True for k in HIDDEN + list(hide)},
        "renameByName": dict(columns or {}), "indexByName": {}}})
    p["transformations"] = tr
    for col, u in (units or {}).items():
        p["fieldConfig"]["overrides"].append({
            "matcher": {"id": "byName", "options": col},
            "properties": [{"id": "unit", "value": u}]})
    return p


def row(title):
    return {"type": "row", "title": title, "collapsed": False, "panels": [], "_w": 24, "_h": 1}


UPDOWN = [{"type": "value", "options": {
    "0": {"text": "DOWN", "color": "red", "index": 0},
    "1": {"text": "UP", "color": "green", "index": 1}}}]


# --- variables ----------------------------------------------------------------

def var_datasource():
    return {"name": "datasource", "label": "Data source", "type": "datasource",
            "query": "prometheus", "regex": "", "hide": 0, "refresh": 1,
            "includeAll": False, "multi": False, "current": {}, "options": []}


def var_query(name, label, query, multi=True, all_value=".+", hide=0):
    v = {"name": name, "label": label, "type": "query", "datasource": DS,
         "query": {"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery",
                   "qryType": 1},
         "definition": query, "refresh": 2, "regex": "", "sort": 1, "hide": hide,
         "multi": multi, "includeAll": multi, "current": {}, "options": []}
    if multi:
        v["allValue"] = all_value
    return v


def common_vars(target_metric="pg_up"):
    return [var_datasource(),
            var_query("job", "Job", "label_values(pgpulse_build_info, job)"),
            var_query("instance", "Instance", 'label_values(pgpulse_build_info{job=~"$job"}, instance)'),
            var_query("target", "Target", f"label_values({target_metric}{{{B}}}, target)",
                      all_value=".*")]


# --- dashboards ---------------------------------------------------------------

def dashboard(uid, title, desc, variables, items):
    panels, x, y, row_h, pid = [], 0, 0, 0, 1
    for it in items:
        w, h = it.pop("_w"), it.pop("_h")
        if it["type"] == "row" or x + w > 24:
            x, y, row_h = 0, y + row_h, 0
        it["id"] = pid
        pid += 1
        for n, t in enumerate(it.get("targets", [])):
            t["refId"] = chr(ord("A") + n)
        it["gridPos"] = {"h": h, "w": w, "x": x, "y": y}
        panels.append(it)
        x, row_h = x + w, max(row_h, h)
        if it["type"] == "row":
            x, y, row_h = 0, y + 1, 0
    kinds = sorted({p["type"] for p in panels if p["type"] != "row"})
    return {
        "__requires": [{"type": "grafana", "id": "grafana", "name": "Grafana", "version": "10.4.0"},
                       {"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"}]
                      + [{"type": "panel", "id": k, "name": k, "version": ""} for k in kinds],
        "annotations": {"list": [{"builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                                  "enable": True, "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
                                  "name": "Annotations & Alerts", "type": "dashboard"}]},
        "description": desc,
        "editable": True,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "id": None,
        "links": [{"type": "dashboards", "tags": ["pgpulse"], "asDropdown": True, "title": "pgpulse",
                   "includeVars": True, "keepTime": True, "icon": "external link",
                   "targetBlank": False, "tooltip": "", "url": ""}],
        "panels": panels,
        "refresh": "30s",
        "schemaVersion": SCHEMA_VERSION,
        "tags": ["pgpulse", "postgresql"] + (["pgbouncer"] if "pools" in uid else []),
        "templating": {"list": variables},
        "time": {"from": "now-1h", "to": "now"},
        "timepicker": {},
        "timezone": "",
        "title": title,
        "uid": uid,
        "version": 1,
        "weekStart": "",
    }


def overview():
    tx = (f"sum by (target) ({rate('pg_stat_database_xact_commit_total')})"
          f" + sum by (target) ({rate('pg_stat_database_xact_rollback_total')})")
    hit = f"sum by (target) ({rate('pg_stat_database_blks_hit_total')})"
    read = f"sum by (target) ({rate('pg_stat_database_blks_read_total')})"
    items = [
        row("Servers"),
        stat("PostgreSQL up", "pg_up: 1 when pgpulse could connect to the server and run a query.",
             "none", q(f"pg_up{{{T}}}", "{{target}}"), w=6, mappings=UPDOWN),
        stat("Failing collectors", "Collectors whose last run failed (pgpulse_scrape_success == 0), "
             "per target. Details on the exporter panels below.", "none",
             q(f"count by (target) (pgpulse_scrape_success{{{T}}} == 0)"
               f" or count by (target) (pgpulse_scrape_success{{{T}}}) * 0", "{{target}}"),
             w=6, thresholds=[{"color": "green", "value": None}, {"color": "red", "value": 1}]),
        stat("Uptime", "Time since the postmaster started (pg_postmaster_start_time_seconds).",
             "dtdurations", q(f"time() - pg_postmaster_start_time_seconds{{{T}}}", "{{target}}"), w=6),
        stat("Databases", "Databases pgpulse can connect to, per target.", "none",
             q(f"count by (target) (pg_database_size_bytes{{{T}}})", "{{target}}"), w=6),
        table("Role and version", "Each PostgreSQL target: primary or replica, and the server version "
              "(pg_info).", "none", q(f"pg_info{{{T}}}", instant=True, table=True), w=12, h=6,
              hide=["Value"], columns={"target": "Target", "role": "Role", "version": "Version",
                                       "server_version_num": "Version number"}),
        gauge("Connection utilization", "Client backends divided by max_connections less the "
              "reserved slots (pg_connections_utilization_ratio).", "percentunit",
              q(f"pg_connections_utilization_ratio{{{T}}}", "{{target}}"), w=12, h=6),
        row("Activity"),
        ts("Connections used and allowed", "Client backends (pg_connections_used) against "
           "max_connections (pg_connections_max).", "short",
           q(f"pg_connections_used{{{T}}}", "{{target}} used"),
           q(f"pg_connections_max{{{T}}}", "{{target}} max"), w=8),
        ts("Transactions", "Commits plus rollbacks per second, all databases "
           "(pg_stat_database_xact_*_total).", "ops", q(tx, "{{target}}"), w=8),
        ts("Rows", "Rows read and written per second, all databases (pg_stat_database_tup_*_total).",
           "rowsps",
           *[q(f"sum by (target) ({rate(f'pg_stat_database_tup_{k}_total')})", "{{target}} " + k)
             for k in ("returned", "fetched", "inserted", "updated", "deleted")], w=8),
        ts("Cache hit ratio", "Share of block reads found in shared buffers "
           "(blks_hit / (blks_hit + blks_read)); empty while nothing is read.", "percentunit",
           q(f"{hit} / ({hit} + {read} > 0)", "{{target}}"), w=8),
        ts("Deadlocks and recovery conflicts", "Deadlocks and queries canceled by recovery "
           "conflicts in each interval (pg_stat_database_deadlocks_total, "
           "pg_stat_database_conflicts_total).", "short",
           q(f"sum by (target) (increase(pg_stat_database_deadlocks_total{{{T}}}{RI}))",
             "{{target}} deadlocks"),
           q(f"sum by (target) (increase(pg_stat_database_conflicts_total{{{T}}}{RI}))",
             "{{target}} conflicts"), w=8, bars=True),
        bars("Largest databases", "The ten largest databases (pg_database_size_bytes).", "bytes",
             q(f"topk(10, pg_database_size_bytes{{{T}}})", "{{target}} {{datname}}", instant=True),
             w=8),
        row("Replication and WAL"),
        ts("Replication lag", "Replay lag of each standby as its primary sees it "
           "(pg_replication_standby_replay_lag_bytes) and as the standby sees it "
           "(pg_standby_replay_lag_bytes).", "bytes",
           q(f"max by (target, application_name) (pg_replication_standby_replay_lag_bytes{{{T}}})",
             "{{target}} → {{application_name}}"),
           q(f"pg_standby_replay_lag_bytes{{{T}}}", "{{target}} (standby)"), w=8),
        ts("WAL archiving", "WAL segments archived and archive failures in each interval "
           "(pg_archiver_*_total). Failures mean archive_command is failing.", "short",
           q(f"increase(pg_archiver_archived_total{{{T}}}{RI})", "{{target}} archived"),
           q(f"increase(pg_archiver_failed_total{{{T}}}{RI})", "{{target}} failed"), w=8, bars=True),
        ts("WAL generated", "WAL written per second (pg_wal_generated_bytes_total).", "Bps",
           q(rate("pg_wal_generated_bytes_total"), "{{target}}"), w=8),
        row("Vacuum horizon and maintenance"),
        ts("What holds back vacuum", "Age in transactions of the oldest xmin each kind of holder "
           "keeps (pg_xmin_horizon_age_xids: a session's transaction, a replication slot, a "
           "logical slot's catalog_xmin, a prepared transaction, a standby's "
           "hot_standby_feedback); VACUUM cannot remove rows deleted after the oldest. 0 when "
           "nothing holds it.", "short",
           q(f"max by (target, holder) (pg_xmin_horizon_age_xids{{{T}}})"
             f" or max by (target) (pg_up{{{T}}}) * 0", "{{target}} {{holder}}"), w=12),
        table("Running maintenance", "CREATE INDEX, REINDEX, CLUSTER, VACUUM FULL, ANALYZE and "
              "base backups running now: the phase and how far it is "
              "(pg_progress_phase_done_ratio), and for how long (pg_progress_running_seconds).",
              "percentunit",
              q(f"pg_progress_phase_done_ratio{{{T}}}", instant=True, table=True),
              q(f"pg_progress_running_seconds{{{T}}}", instant=True, table=True),
              w=12, h=8, hide=["cluster", "relid", "pid"],
              columns={"target": "Target", "command": "Command", "datname": "Database",
                       "relname": "Table", "phase": "Phase", "Value #A": "Phase done",
                       "Value #B": "Running"},
              units={"Running": "dtdurations"}),
        row("Exporter"),
        ts("Collection time", "Time pgpulse took to collect each target "
           "(pgpulse_collection_duration_seconds).", "s",
           q(f"pgpulse_collection_duration_seconds{{{T}}}", "{{target}}"), w=8),
        ts("Slowest collectors", "The five slowest collectors of the last scrape "
           "(pgpulse_scrape_duration_seconds).", "s",
           q(f"topk(5, pgpulse_scrape_duration_seconds{{{T}}})", "{{target}} {{collector}}"), w=8),
        ts("Exporter sessions", "pgpulse's own sessions per target: open, busy and the limit "
           "(pgpulse_connections_*).", "short",
           q(f"pgpulse_connections_open{{{T}}}", "{{target}} open"),
           q(f"pgpulse_connections_busy{{{T}}}", "{{target}} busy"),
           q(f"pgpulse_connections_max{{{T}}}", "{{target}} max"), w=8),
    ]
    return dashboard("pgpulse-overview", "pgpulse / Overview",
                     "Every PostgreSQL target at a glance: up, role, connections, throughput, "
                     "replication, archiving and the exporter's health.", common_vars(), items)


def database():
    D = T + ',datname=~"$datname"'
    items = [
        row("Size"),
        ts("Database size", "Size as PostgreSQL reports it (pg_database_size_bytes) and the space "
           "its directory takes on disk (pg_database_disk_bytes; needs pgpulse next to the data "
           "directory).", "bytes",
           q(f"pg_database_size_bytes{{{D}}}", "{{target}} size"),
           q(f"pg_database_disk_bytes{{{D}}}", "{{target}} on disk"), w=12),
        ts("Growth", "Change of the database size over the last hour "
           "(delta of pg_database_size_bytes and pg_database_disk_bytes).", "bytes",
           q(f"delta(pg_database_size_bytes{{{D}}}[1h])", "{{target}} size"),
           q(f"delta(pg_database_disk_bytes{{{D}}}[1h])", "{{target}} on disk"), w=12, min0=False),
        row("Activity"),
        ts("Connections by state and role", "Server processes of this database by role and state "
           "(pg_connections).", "short",
           q(f"sum by (target, usename, state) (pg_connections{{{D}}})",
             "{{target}} {{usename}} {{state}}"), w=8, stack=True),
        ts("Transactions", "Commits and rollbacks per second (pg_stat_database_xact_*_total).", "ops",
           q(rate("pg_stat_database_xact_commit_total", D), "{{target}} commit"),
           q(rate("pg_stat_database_xact_rollback_total", D), "{{target}} rollback"), w=8),
        ts("Tuples", "Rows returned, fetched, inserted, updated and deleted per second "
           "(pg_stat_database_tup_*_total).", "rowsps",
           *[q(rate(f"pg_stat_database_tup_{k}_total", D), "{{target}} " + k)
             for k in ("returned", "fetched", "inserted", "updated", "deleted")], w=8),
        ts("Temporary files", "Temporary files created per second by queries that ran out of "
           "work_mem (pg_stat_database_temp_files_total).", "cps",
           q(rate("pg_stat_database_temp_files_total", D), "{{target}}"), w=8),
        ts("Temporary bytes", "Bytes written to temporary files per second "
           "(pg_stat_database_temp_bytes_total).", "Bps",
           q(rate("pg_stat_database_temp_bytes_total", D), "{{target}}"), w=8),
        ts("Block I/O time", "Time spent reading and writing data blocks per second "
           "(pg_stat_database_blk_*_time_seconds_total; needs track_io_timing).", "s",
           q(rate("pg_stat_database_blk_read_time_seconds_total", D), "{{target}} read"),
           q(rate("pg_stat_database_blk_write_time_seconds_total", D), "{{target}} write"), w=8),
        row("Tables"),
        table("Largest tables", "The tables of this database among the cluster's top 20 by "
              "size, by dead rows or by rows changed since analyze, with their indexes "
              "(pg_table_*).", "bytes",
              q(f"topk(20, pg_table_total_size_bytes{{{D}}})", instant=True, table=True),
              q(f"pg_table_indexes_size_bytes{{{D}}}", instant=True, table=True),
              q(f"pg_table_live_rows{{{D}}}", instant=True, table=True),
              q(f"pg_table_dead_rows{{{D}}}", instant=True, table=True),
              w=24, h=8, hide=["cluster", "datname"],
              columns={"target": "Target", "schemaname": "Schema", "relname": "Table",
                       "Value #A": "Total size", "Value #B": "Index size",
                       "Value #C": "Live rows", "Value #D": "Dead rows"},
              units={"Live rows": "short", "Dead rows": "short"}),
        ts("Table scans", "Sequential and index scans per second, all user tables of the "
           "database (pg_database_tables_seq_scans_total, pg_database_tables_index_scans_total). "
           "The tables collector refreshes once a minute (its ttl), so short windows show steps.",
           "ops",
           q(f"sum by (target) ({rate('pg_database_tables_seq_scans_total', D)})",
             "{{target}} sequential"),
           q(f"sum by (target) ({rate('pg_database_tables_index_scans_total', D)})",
             "{{target}} index"), w=8),
        ts("Dead rows", "Dead rows of all user tables, and of the tables with the most "
           "(pg_database_tables_dead_rows, pg_table_dead_rows).", "short",
           q(f"pg_database_tables_dead_rows{{{D}}}", "{{target}} all tables"),
           q(f"topk(5, pg_table_dead_rows{{{D}}})", "{{target}} {{schemaname}}.{{relname}}"),
           w=8),
        ts("Tables due for autovacuum", "User tables whose dead rows exceed the autovacuum "
           "threshold of the server's settings (pg_database_tables_over_vacuum_threshold): "
           "lasting values mean autovacuum is behind.", "short",
           q(f"pg_database_tables_over_vacuum_threshold{{{D}}}", "{{target}}"), w=8),
        ts("Age of the per-database data", "How long ago pgpulse last visited this database "
           "and ran its per-database collectors: tables, indexes, sequences "
           "(time() - pgpulse_database_last_collected_timestamp_seconds), against the bound of "
           "its visit rule (pgpulse_database_staleness_bound_seconds). Above 20 databases "
           "pgpulse visits them at a login budget, the busiest first and the others in turn, "
           "and serves each one's last results in between.", "s",
           q(f"time() - pgpulse_database_last_collected_timestamp_seconds{{{D}}}",
             "{{target}} age"),
           q(f"pgpulse_database_staleness_bound_seconds{{{T}}}", "{{target}} bound"),
           w=24, h=6),
        row("Sequences and indexes"),
        table("Sequences close to exhaustion", "Sequences that have used more than the "
              "collector's threshold of their range (default 50%), and the values left "
              "(pg_sequence_used_ratio, pg_sequence_remaining_values); nextval() fails at 100%.",
              "percentunit",
              q(f"pg_sequence_used_ratio{{{D}}}", instant=True, table=True),
              q(f"pg_sequence_remaining_values{{{D}}}", instant=True, table=True),
              w=12, h=8, hide=["cluster", "datname"],
              columns={"target": "Target", "schemaname": "Schema", "sequencename": "Sequence",
                       "Value #A": "Used", "Value #B": "Values left"},
              units={"Values left": "short"}),
        table("Unused and invalid indexes", "The largest indexes never scanned since the "
              "statistics were reset (non-unique, at least 1 MiB; pg_index_unused_size_bytes) and "
              "invalid indexes left by a failed CREATE or REINDEX CONCURRENTLY "
              "(pg_index_invalid_size_bytes), with their size.", "bytes",
              q(f"pg_index_unused_size_bytes{{{D}}}", instant=True, table=True),
              q(f"pg_index_invalid_size_bytes{{{D}}}", instant=True, table=True),
              w=12, h=8, hide=["cluster", "datname"],
              columns={"target": "Target", "schemaname": "Schema", "relname": "Table",
                       "indexrelname": "Index", "Value #A": "Unused", "Value #B": "Invalid"}),
        row("Vacuum and wraparound"),
        ts("Time since last vacuum", "Time since the last manual or auto vacuum of each table "
           "(pg_table_last_vacuum_timestamp_seconds; tables never vacuumed are absent).",
           "dtdurations",
           q(f"topk(5, time() - pg_table_last_vacuum_timestamp_seconds{{{D}}})",
             "{{target}} {{schemaname}}.{{relname}}"), w=8),
        ts("Autovacuums and autoanalyzes", "Autovacuums and autoanalyzes in each interval, all "
           "user tables (pg_database_tables_autovacuums_total, "
           "pg_database_tables_autoanalyzes_total).", "short",
           *[q(f"sum by (target) (increase(pg_database_tables_{k}_total{{{D}}}{RI}))",
               "{{target}} " + k)
             for k in ("autovacuums", "autoanalyzes")], w=8, bars=True),
        ts("Transaction ID age", "Age of the oldest unfrozen transaction ID against "
           "autovacuum_freeze_max_age (pg_database_xid_age_freeze_max_ratio); above 100% "
           "anti-wraparound vacuums are due, wraparound is at 2^31.", "percentunit",
           q(f"pg_database_xid_age_freeze_max_ratio{{{D}}}", "{{target}}"), w=8),
    ]
    v = common_vars() + [var_query("datname", "Database",
                                   f"label_values(pg_database_size_bytes{{{T}}}, datname)", multi=False)]
    return dashboard("pgpulse-database", "pgpulse / Database",
                     "One database: size on disk and its growth, connections, tuples, temporary "
                     "files, largest tables, vacuum and wraparound.", v, items)


def statements():
    S = T + ',datname=~"$datname",usename=~"$usename"'
    by = "target, datname, usename, queryid"

    def srate(m):
        return f"sum by ({by}) ({rate('pg_stat_statements_' + m, S)})"

    calls = srate("calls_total")
    exec_ = srate("exec_seconds_total")
    text = f"max by (target, queryid, query) (pg_stat_statements_query_info{{{T}}})"

    def texted(x):
        """x with a query label where the text is known (same labels in
        every query of a table, so Grafana's merge lines them up)."""
        return f"({x}) * on (target, queryid) group_left (query) {text} or ({x})"
    legend = "{{target}} {{datname}} {{queryid}}"
    items = [
        row("Top statements"),
        table("Top statements by total time", "The 20 statements that spent the most time "
              "executing, with calls, mean time and rows per call; the text where the target has "
              "tags [statement_texts] (pg_stat_statements_*; queryid \"other\" sums the "
              "statements outside pgpulse's top N).", "s",
              q(texted(f"topk(20, {exec_})"), instant=True, table=True),
              q(texted(calls), instant=True, table=True),
              q(texted(f"{exec_} / ({calls} > 0)"), instant=True, table=True),
              q(texted(f"{srate('rows_total')} / ({calls} > 0)"), instant=True, table=True),
              w=24, h=9, hide=["cluster"],
              columns={"target": "Target", "datname": "Database", "usename": "Role",
                       "queryid": "Query ID", "query": "Query",
                       "Value #A": "Time/s", "Value #B": "Calls/s",
                       "Value #C": "Mean time", "Value #D": "Rows/call"},
              units={"Calls/s": "ops", "Rows/call": "short"}),
        ts("Top by total time", "Execution time per second of wall time: 1 s/s is one session "
           "busy all the time (pg_stat_statements_exec_seconds_total).", "s",
           q(f"topk(10, {exec_})", legend), w=12),
        ts("Top by calls", "Executions per second (pg_stat_statements_calls_total).", "ops",
           q(f"topk(10, {calls})", legend), w=12),
        ts("Top by mean time", "Mean execution time per call (exec seconds / calls).", "s",
           q(f"topk(10, {exec_} / ({calls} > 0))", legend), w=12),
        ts("Rows per call", "Rows retrieved or affected per execution "
           "(pg_stat_statements_rows_total / calls).", "short",
           q(f"topk(10, {srate('rows_total')} / ({calls} > 0))", legend), w=12),
        row("I/O"),
        ts("I/O time", "Time spent reading and writing blocks per second "
           "(pg_stat_statements_block_*_seconds_total; needs track_io_timing).", "s",
           q(f"topk(10, {srate('block_read_seconds_total')} + {srate('block_write_seconds_total')})",
             legend), w=8),
        ts("Shared blocks read", "Blocks read from disk or the OS cache per second "
           "(pg_stat_statements_shared_blocks_read_total); hits in "
           "pg_stat_statements_shared_blocks_hit_total.", "cps",
           q(f"topk(10, {srate('shared_blocks_read_total')})", legend), w=8),
        ts("WAL generated", "WAL bytes generated per second by each statement "
           "(pg_stat_statements_wal_bytes_total).", "Bps",
           q(f"topk(10, {srate('wal_bytes_total')})", legend), w=8),
        row("Texts"),
        table("Statement texts", "Statement text by queryid, for targets with tags "
              "[statement_texts] (pg_stat_statements_query_info, cut to max_length).", "none",
              q(f"pg_stat_statements_query_info{{{T}}}", instant=True, table=True),
              w=16, h=8, hide=["cluster", "Value"],
              columns={"target": "Target", "queryid": "Query ID", "query": "Query"}),
        ts("Evictions", "Statements evicted because pg_stat_statements.max was reached, in each "
           "interval (pg_stat_statements_dealloc_total); raise pg_stat_statements.max if not 0.",
           "short", q(f"increase(pg_stat_statements_dealloc_total{{{T}}}{RI})", "{{target}}"),
           w=8, bars=True),
    ]
    sel = f"pg_stat_statements_calls_total{{{T}}}"
    v = common_vars() + [
        var_query("datname", "Database", f"label_values({sel}, datname)", all_value=".*"),
        var_query("usename", "Role", f'label_values(pg_stat_statements_calls_total'
                                     f'{{{T},datname=~"$datname"}}, usename)', all_value=".*")]
    return dashboard("pgpulse-statements", "pgpulse / Statements",
                     "pg_stat_statements: the top statements by total time, calls, mean time, rows "
                     "and I/O, with their text where enabled.", v, items)


def pools():
    P = T + ',database=~"$database",user=~"$user"'
    DB = T + ',database=~"$database"'
    by = "target, database, user"
    legend = "{{target}} {{database}}/{{user}}"
    size = (f'max by (target, database) (label_replace(pgbouncer_databases_pool_size'
            f'{{{T},name=~"$database"}}, "database", "$1", "name", "(.*)"))')
    srv = {k: f"sum by (target, database) (pgbouncer_pools_server_{k}_connections{{{P}}})"
           for k in ("active", "idle", "used", "testing", "login")}
    items = [
        row("pgbouncer"),
        stat("pgbouncer up", "pgbouncer_up: 1 when pgpulse could run SHOW commands on the admin "
             "console.", "none", q(f"pgbouncer_up{{{T}}}", "{{target}}"), w=6, mappings=UPDOWN),
        stat("Clients waiting now", "Clients waiting for a server connection now, all pools "
             "(pgbouncer_pools_client_waiting_connections).", "none",
             q(f"sum by (target) (pgbouncer_pools_client_waiting_connections{{{P}}})", "{{target}}"),
             w=6, thresholds=[{"color": "green", "value": None}, {"color": "orange", "value": 1}]),
        stat("Longest wait", "The longest any client has been waiting now "
             "(pgbouncer_pools_client_maxwait_seconds).", "s",
             q(f"max by (target) (pgbouncer_pools_client_maxwait_seconds{{{P}}})", "{{target}}"),
             w=6, thresholds=[{"color": "green", "value": None}, {"color": "orange", "value": 1},
                              {"color": "red", "value": 5}]),
        table("Version", "pgbouncer's version (pgbouncer_version_info).", "none",
              q(f"pgbouncer_version_info{{{T}}}", instant=True, table=True), w=6, h=4,
              hide=["cluster", "Value"], columns={"target": "Target", "version": "Version"}),
        stat("Paused or suspended", "Whether pgbouncer is paused (PAUSE) or suspended (SUSPEND) "
             "as a whole (pgbouncer_state_*, SHOW STATE: pgbouncer 1.19 and later); clients "
             "wait meanwhile.", "none",
             q(f"pgbouncer_state_paused{{{T}}} + 2 * pgbouncer_state_suspended{{{T}}}", "{{target}}"),
             w=6, mappings=[{"type": "value", "options": {
                 "0": {"text": "RUNNING", "color": "green", "index": 0},
                 "1": {"text": "PAUSED", "color": "orange", "index": 1},
                 "2": {"text": "SUSPENDED", "color": "red", "index": 2},
                 "3": {"text": "SUSPENDED", "color": "red", "index": 3}}}]),
        table("Per-user limits", "Each user's server and client connections against its limits "
              "(pgbouncer_users_*, SHOW USERS: pgbouncer 1.23 and later).", "short",
              q(f"pgbouncer_users_current_connections{{{T}}}", instant=True, table=True),
              q(f"pgbouncer_users_max_connections{{{T}}}", instant=True, table=True),
              q(f"pgbouncer_users_current_client_connections{{{T}}}", instant=True, table=True),
              q(f"pgbouncer_users_max_client_connections{{{T}}}", instant=True, table=True),
              w=18, h=4, hide=["cluster"],
              columns={"target": "Target", "name": "User", "Value #A": "Server connections",
                       "Value #B": "Max", "Value #C": "Client connections",
                       "Value #D": "Max clients"}),
        row("Clients"),
        ts("Clients active", "Client connections linked to a server or idle, per pool "
           "(pgbouncer_pools_client_active_connections).", "short",
           q(f"sum by ({by}) (pgbouncer_pools_client_active_connections{{{P}}})", legend), w=8),
        ts("Clients waiting", "Clients that sent a query and wait for a server, per pool "
           "(pgbouncer_pools_client_waiting_connections).", "short",
           q(f"sum by ({by}) (pgbouncer_pools_client_waiting_connections{{{P}}})", legend), w=8),
        ts("Max wait", "Age of the oldest waiting client, per pool "
           "(pgbouncer_pools_client_maxwait_seconds).", "s",
           q(f"max by ({by}) (pgbouncer_pools_client_maxwait_seconds{{{P}}})", legend), w=8),
        ts("Clients by state", "Client connections per database, user and state, from SHOW "
           "CLIENTS (pgbouncer_clients_connections; pgpulse's own console connection included).",
           "short", q(f"sum by ({by}, state) (pgbouncer_clients_connections{{{P}}})",
                      legend + " {{state}}"), w=12, stack=True),
        bars("Clients by application", "Client connections per application_name, all pools "
             "(pgbouncer_clients_application_connections; the top 20 names, the rest as "
             "\"other\").", "short",
             q(f"sum by (target, application_name) (pgbouncer_clients_application_connections{{{T}}})",
               "{{target}} {{application_name}}", instant=True), w=12),
        row("Servers"),
        ts("Server connections by state", "Server connections per database by state "
           "(pgbouncer_pools_server_*_connections) against the pool size "
           "(pgbouncer_databases_pool_size).", "short",
           *[q(e, "{{target}} {{database}} " + k) for k, e in srv.items()],
           q(size, "{{target}} {{database}} pool size"), w=12),
        ts("Pool utilization", "Server connections in use (active + used + testing + login) "
           "divided by the pool size.", "percentunit",
           q(f"({srv['active']} + {srv['used']} + {srv['testing']} + {srv['login']}) / ({size} > 0)",
             "{{target}} {{database}}"), w=12),
        row("Traffic"),
        ts("Queries", "Queries pooled per second, per database "
           "(pgbouncer_stats_queries_pooled_total).", "ops",
           q(f"sum by (target, database) ({rate('pgbouncer_stats_queries_pooled_total', DB)})",
             "{{target}} {{database}}"), w=8),
        ts("Transactions", "SQL transactions pooled per second, per database "
           "(pgbouncer_stats_sql_transactions_pooled_total).", "ops",
           q(f"sum by (target, database) ({rate('pgbouncer_stats_sql_transactions_pooled_total', DB)})",
             "{{target}} {{database}}"), w=8),
        ts("Mean query and transaction time", "Time per query and per transaction on the server "
           "(pgbouncer_stats_queries_duration_seconds_total / queries, "
           "pgbouncer_stats_server_in_transaction_seconds_total / transactions).", "s",
           q(f"sum by (target, database) ({rate('pgbouncer_stats_queries_duration_seconds_total', DB)})"
             f" / (sum by (target, database) ({rate('pgbouncer_stats_queries_pooled_total', DB)}) > 0)",
             "{{target}} {{database}} query"),
           q(f"sum by (target, database) ({rate('pgbouncer_stats_server_in_transaction_seconds_total', DB)})"
             f" / (sum by (target, database) "
             f"({rate('pgbouncer_stats_sql_transactions_pooled_total', DB)}) > 0)",
             "{{target}} {{database}} transaction"), w=8),
        ts("Client wait time", "Time clients spent waiting for a server, per second of wall time "
           "(pgbouncer_stats_client_wait_seconds_total).", "s",
           q(f"sum by (target, database) ({rate('pgbouncer_stats_client_wait_seconds_total', DB)})",
             "{{target}} {{database}}"), w=8),
        ts("Bytes", "Network traffic per database (pgbouncer_stats_{received,sent}_bytes_total).",
           "Bps",
           q(f"sum by (target, database) ({rate('pgbouncer_stats_received_bytes_total', DB)})",
             "{{target}} {{database}} received"),
           q(f"sum by (target, database) ({rate('pgbouncer_stats_sent_bytes_total', DB)})",
             "{{target}} {{database}} sent"), w=8),
        ts("Memory", "Memory of pgbouncer's caches (pgbouncer_mem_bytes, SHOW MEM).", "bytes",
           q(f"sum by (target, name) (pgbouncer_mem_bytes{{{T}}})", "{{target}} {{name}}"),
           w=8, stack=True),
        table("Database entries", "pgbouncer's database entries: pool sizes, limits and state "
              "(pgbouncer_databases_*).", "short",
              q(f'pgbouncer_databases_pool_size{{{T},name=~"$database"}}', instant=True, table=True),
              q(f'pgbouncer_databases_reserve_pool{{{T},name=~"$database"}}', instant=True, table=True),
              q(f'pgbouncer_databases_current_connections{{{T},name=~"$database"}}',
                instant=True, table=True),
              q(f'pgbouncer_databases_max_connections{{{T},name=~"$database"}}',
                instant=True, table=True),
              q(f'pgbouncer_databases_paused{{{T},name=~"$database"}}', instant=True, table=True),
              w=8, h=8, hide=["cluster", "host", "port", "force_user", "pool_mode"],
              columns={"target": "Target", "name": "Entry", "database": "Server database",
                       "Value #A": "Pool size", "Value #B": "Reserve", "Value #C": "Connections",
                       "Value #D": "Max", "Value #E": "Paused"}),
    ]
    v = common_vars("pgbouncer_up") + [
        var_query("database", "Database", f"label_values(pgbouncer_pools_client_active_connections"
                                          f"{{{T}}}, database)", all_value=".*"),
        var_query("user", "User", f'label_values(pgbouncer_pools_client_active_connections'
                                  f'{{{T},database=~"$database"}}, user)', all_value=".*")]
    return dashboard("pgpulse-pools", "pgpulse / pgbouncer pools",
                     "pgbouncer: clients active and waiting, server connections against the pool "
                     "size, waits, query and transaction rates and bytes, per database and user.",
                     v, items)


def replication():
    items = [
        row("Standbys (primary's view)"),
        ts("Lag in bytes", "WAL not yet sent to and not yet replayed by each standby "
           "(pg_replication_standby_{send,replay}_lag_bytes).", "bytes",
           q(f"max by (target, application_name, slot_name, sender) "
             f"(pg_replication_standby_send_lag_bytes{{{T}}})",
             "{{target}} → {{application_name}} {{slot_name}} send"),
           q(f"max by (target, application_name, slot_name, sender) "
             f"(pg_replication_standby_replay_lag_bytes{{{T}}})",
             "{{target}} → {{application_name}} {{slot_name}} replay"), w=12),
        ts("Lag in seconds", "Time until recent WAL was written, flushed and replayed by each "
           "standby (pg_replication_standby_*_lag_seconds; 0 when idle).", "s",
           *[q(f"max by (target, application_name) (pg_replication_standby_{k}_lag_seconds{{{T}}})",
               "{{target}} → {{application_name}} " + k) for k in ("write", "flush", "replay")],
           w=12),
        row("Standby's own view"),
        ts("Replay lag", "WAL received but not replayed yet (pg_standby_replay_lag_bytes).",
           "bytes", q(f"pg_standby_replay_lag_bytes{{{T}}}", "{{target}}"), w=8),
        ts("Replay delay", "Age of the last replayed transaction while WAL waits to be replayed "
           "(pg_standby_replay_lag_seconds), and time since the last message from the primary "
           "(pg_standby_last_message_age_seconds).", "s",
           q(f"pg_standby_replay_lag_seconds{{{T}}}", "{{target}} replay"),
           q(f"pg_standby_last_message_age_seconds{{{T}}}", "{{target}} last message"), w=8),
        stat("WAL receiver", "Whether the standby's WAL receiver streams from the primary "
             "(pg_standby_wal_receiver_streaming).", "none",
             q(f"pg_standby_wal_receiver_streaming{{{T}}}", "{{target}}"), w=8, h=8,
             mappings=[{"type": "value", "options": {
                 "0": {"text": "NOT STREAMING", "color": "red", "index": 0},
                 "1": {"text": "STREAMING", "color": "green", "index": 1}}}]),
        row("Replication slots"),
        ts("WAL retained by slots", "WAL each slot keeps from being removed "
           "(pg_replication_slot_retained_wal_bytes).", "bytes",
           q(f"pg_replication_slot_retained_wal_bytes{{{T}}}", "{{target}} {{slot_name}}"), w=8),
        ts("WAL a slot may still retain", "WAL that can be written before the slot is lost "
           "(pg_replication_slot_safe_wal_size_bytes; only with max_slot_wal_keep_size set).",
           "bytes", q(f"pg_replication_slot_safe_wal_size_bytes{{{T}}}", "{{target}} {{slot_name}}"),
           w=8),
        table("Slots", "Replication slots and whether a client uses them "
              "(pg_replication_slot_active).", "none",
              q(f"pg_replication_slot_active{{{T}}}", instant=True, table=True), w=8, h=8,
              hide=["cluster"], columns={"target": "Target", "slot_name": "Slot",
                                         "slot_type": "Type", "database": "Database",
                                         "Value": "Active"}),
        table("Slot WAL status", "Whether each slot's WAL is reserved, extended (past "
              "max_wal_size), unreserved (removed at the next checkpoint: about to be lost) or "
              "lost (pg_replication_slot_wal_status == 1).", "none",
              q(f"pg_replication_slot_wal_status{{{T}}} == 1", instant=True, table=True),
              w=12, h=6, hide=["cluster", "Value"],
              columns={"target": "Target", "slot_name": "Slot", "status": "WAL status"}),
        table("Invalidated slots", "Slots that can no longer be used, and why "
              "(pg_replication_slot_invalidated: wal_removed, rows_removed, "
              "wal_level_insufficient, idle_timeout).", "none",
              q(f"pg_replication_slot_invalidated{{{T}}}", instant=True, table=True),
              w=12, h=6, hide=["cluster", "Value"],
              columns={"target": "Target", "slot_name": "Slot", "reason": "Reason"}),
        row("Logical replication"),
        ts("Logical slot lag", "WAL each logical slot's consumer has not confirmed yet "
           "(pg_replication_slot_confirmed_flush_lag_bytes): the publisher's view of a "
           "subscription's lag.", "bytes",
           q(f"pg_replication_slot_confirmed_flush_lag_bytes{{{T}}}", "{{target}} {{slot_name}}"),
           w=8),
        table("Subscriptions", "Each subscription on a subscriber: enabled, apply and table "
              "synchronization workers running, errors since the statistics were reset "
              "(pg_subscription_*).", "short",
              q(f"pg_subscription_enabled{{{T}}}", instant=True, table=True),
              q(f"pg_subscription_apply_workers{{{T}}}", instant=True, table=True),
              q(f"pg_subscription_sync_workers{{{T}}}", instant=True, table=True),
              q(f"pg_subscription_apply_errors_total{{{T}}}", instant=True, table=True),
              w=8, h=8, hide=["cluster"],
              columns={"target": "Target", "subname": "Subscription", "datname": "Database",
                       "Value #A": "Enabled", "Value #B": "Apply workers",
                       "Value #C": "Sync workers", "Value #D": "Apply errors"}),
        ts("Subscription errors", "Apply and table synchronization errors in each interval "
           "(pg_subscription_{apply,sync}_errors_total, 15+).", "short",
           q(f"increase(pg_subscription_apply_errors_total{{{T}}}{RI})", "{{target}} {{subname}} apply"),
           q(f"increase(pg_subscription_sync_errors_total{{{T}}}{RI})", "{{target}} {{subname}} sync"),
           w=8, bars=True),
        row("WAL and archiving"),
        ts("WAL generated", "WAL written per second (pg_wal_generated_bytes_total).", "Bps",
           q(rate("pg_wal_generated_bytes_total"), "{{target}}"), w=8),
        ts("WAL archiving", "Segments archived and archive_command failures in each interval "
           "(pg_archiver_archived_total, pg_archiver_failed_total).", "short",
           q(f"increase(pg_archiver_archived_total{{{T}}}{RI})", "{{target}} archived"),
           q(f"increase(pg_archiver_failed_total{{{T}}}{RI})", "{{target}} failed"), w=8, bars=True),
        ts("Time since last archived segment", "Age of the last successfully archived WAL segment "
           "(pg_archiver_last_archive_age_seconds; absent until one was archived).", "dtdurations",
           q(f"pg_archiver_last_archive_age_seconds{{{T}}}", "{{target}}"), w=8),
        ts("pg_wal size", "Size of pg_wal (pg_wal_size_bytes) and what it takes on disk "
           "(pg_wal_disk_bytes).", "bytes",
           q(f"pg_wal_size_bytes{{{T}}}", "{{target}} size"),
           q(f"pg_wal_disk_bytes{{{T}}}", "{{target}} on disk"), w=12),
        ts("Filesystem space available", "Free space for the server on the filesystems of the "
           "data directory and pg_wal (pg_filesystem_avail_bytes / pg_filesystem_size_bytes).",
           "percentunit",
           q(f"pg_filesystem_avail_bytes{{{T}}} / pg_filesystem_size_bytes{{{T}}}",
             "{{target}} {{directory}}"), w=12),
    ]
    return dashboard("pgpulse-replication", "pgpulse / Replication",
                     "Streaming replication: lag per standby in bytes and seconds, the standby's "
                     "own view, replication slots and the WAL they retain, archiving.",
                     common_vars(), items)


DASHBOARDS = {"pgpulse-overview.json": overview, "pgpulse-database.json": database,
              "pgpulse-statements.json": statements, "pgpulse-pools.json": pools,
              "pgpulse-replication.json": replication}


def render(build):
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main(argv):
    check = "--check" in argv
    stale = []
    for name, build in DASHBOARDS.items():
        path = HERE / name
        text = render(build)
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print("stale (run python3 dashboards/generate.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
