"""The bundled Grafana dashboards and alert rules (dashboards/) against a real
Prometheus: every panel expression and every template variable query gives
data, scraped from pgpulse watching PostgreSQL 15, its streaming replica and
pgbouncer under a small pgbench load; the files follow the import and
provisioning rules; the alert rules pass promtool; one PNG preview per
dashboard is rendered from the same data (dashboards/previews/)."""

import json
import os
import re
import subprocess
import time

import pytest

import pgfix
from pgfix import PgPulseFactory

DASH = pgfix.REPO / "dashboards"
DASHBOARDS = ["pgpulse-overview.json", "pgpulse-database.json", "pgpulse-statements.json",
              "pgpulse-pools.json", "pgpulse-replication.json"]
PGBENCH = pgfix.PG_BIN / "pgbench"
BENCH_DB = "bench"
SLOT = "pgpulse_dash_slot"


def need_module(name, package):
    try:
        return __import__(name)
    except ImportError:
        pgfix.need(False, f"python module {name} missing: apt-get install {package} (scripts/bootstrap)")


def load(name):
    return json.loads((DASH / name).read_text())


@pytest.fixture(scope="module")
def stack(scratch, pg, replica, pgbouncer, pgpulse_bin, prometheus):
    """pgpulse watching primary, replica and bouncer; Prometheus scraping it
    every second; pgbench through pgbouncer; returns a dict of the pieces."""
    pgfix.require_file(PGBENCH, "pgbench")
    pgfix.require_modules("requests", "prometheus_client")
    # the statements panels show this test's load, not what earlier tests
    # of the session ran (a canceled pg_sleep outweighs pgbench)
    pg.psql("SELECT pg_stat_statements_reset()")
    base = scratch / f"dash-{os.urandom(3).hex()}"
    base.mkdir(mode=0o755)
    pgfix.give(base)
    factory = PgPulseFactory(pgpulse_bin, base, lambda: pg.dsn())
    pw = factory.write("monitor.pw", pgfix.MONITOR_PASSWORD + "\n", mode=0o600)
    config = f"""
targets:
  - name: primary
    url: postgresql://{pgfix.MONITOR_USER}@127.0.0.1:{pg.port}/postgres
    password_file: {pw}
    labels: {{cluster: dash}}
    tags: [statement_texts]
  - name: replica
    url: postgresql://{pgfix.MONITOR_USER}@127.0.0.1:{replica.port}/postgres
    password_file: {pw}
    labels: {{cluster: dash}}
  - name: bouncer
    kind: pgbouncer
    url: postgresql://{pgfix.MONITOR_USER}@{pgbouncer.host}:{pgbouncer.port}/pgbouncer
    password_file: {pw}
    labels: {{cluster: dash}}
queries: [{pgfix.REPO / 'queries'}]
"""
    pg.psql(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
    pg.psql(f"CREATE DATABASE {BENCH_DB}")
    if not pg.scalar("SELECT 1 FROM pg_replication_slots WHERE slot_name = %s", (SLOT,)):
        pg.psql("SELECT pg_create_physical_replication_slot(%s, true)", (SLOT,))
    try:
        bench = dict(PGPASSWORD=pgfix.SUPERUSER_PASSWORD, PGHOST=pgbouncer.host,
                     PGPORT=str(pgbouncer.port), PGUSER=pgfix.SUPERUSER, PGDATABASE=BENCH_DB,
                     LC_ALL="C.UTF-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(bench)
        # Tables first: the tables collector caches for a minute (ttl).
        subprocess.run([PGBENCH, "-i", "-q", "-s", "1"], env=env, check=True,
                       capture_output=True, timeout=60)
        exporter = factory(config=config)
        prom = prometheus([f"127.0.0.1:{exporter.port}"], rule_files=[DASH / "alerts.yaml"])
        # Prometheus applies new scrape targets on a 5 s tick: wait for the
        # first scrape, so the load below is seen from its start.
        prom.wait_scraped(n=1)
        start = time.time()
        # 4 clients on a pool of 2: some of them wait for a server.
        subprocess.run([PGBENCH, "-c", "4", "-j", "2", "-T", "6", "-n"], env=env, check=True,
                       capture_output=True, timeout=60)
        end = time.time()
        time.sleep(1.5)  # the scrape after the load
        prom.wait_scraped(n=5)
        yield dict(pg=pg, replica=replica, pgbouncer=pgbouncer, pgpulse=exporter,
                   prometheus=prom, start=start, end=end)
    finally:
        factory.finish()
        # Leave the session cluster as found: later tests count databases
        # and sessions (pgbouncer's server connections to it go too).
        pg.psql(f"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                f"WHERE slot_name = '{SLOT}'")
        pg.psql(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")


# ---------------------------------------------------------------------------
# Structure: what Grafana's import UI and file provisioning need

DS = {"type": "prometheus", "uid": "${datasource}"}
UNITS = {"none", "short", "percent", "percentunit", "bytes", "decbytes", "Bps", "binBps", "s", "ms",
         "dtdurations", "ops", "reqps", "rowsps", "cps", "bool"}  # Grafana unit ids
BUILTINS = {"__rate_interval", "__interval", "__range", "__range_s", "__interval_ms"}
FILTERS = ('job=~"$job"', 'instance=~"$instance"', 'target=~"$target"')


def panels_of(dash):
    for p in dash["panels"]:
        yield p
        yield from p.get("panels", [])


def exprs_of(dash):
    """(panel, target) for every query of every panel."""
    for p in panels_of(dash):
        for t in p.get("targets", []):
            yield p, t


def test_generated_json_is_current():
    r = subprocess.run(["python3", DASH / "generate.py", "--check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_uids_and_titles_are_unique():
    dashes = [load(n) for n in DASHBOARDS]
    assert len({d["uid"] for d in dashes}) == len({d["title"] for d in dashes}) == len(DASHBOARDS)


@pytest.mark.parametrize("name", DASHBOARDS)
def test_structure_imports_and_provisions(name):
    dash = load(name)
    text = (DASH / name).read_text()
    assert dash["id"] is None
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,40}", dash["uid"]) and dash["uid"] == name[:-5]
    assert dash["title"] and dash["schemaVersion"] == 39
    # No ${DS_...} import placeholders: provisioning would leave them literal.
    assert "${DS_" not in text and "__inputs" not in dash
    assert {"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"} \
        in dash["__requires"]

    variables = {v["name"]: v for v in dash["templating"]["list"]}
    ds = [v for v in variables.values() if v["type"] == "datasource"]
    assert len(ds) == 1 and ds[0]["name"] == "datasource" and ds[0]["query"] == "prometheus"
    for name_ in ("job", "instance", "target"):
        v = variables[name_]
        assert v["type"] == "query" and v["multi"] and v["includeAll"] and v["allValue"], name_
    for v in variables.values():
        if v["type"] == "query":
            assert v["datasource"] == DS and v["refresh"] == 2, v["name"]
            assert v["query"]["query"] == v["definition"] and \
                re.fullmatch(r"label_values\(.+\)", v["definition"]), v["name"]

    titles = [p["title"] for p in panels_of(dash) if p["type"] != "row"]
    assert len(titles) == len(set(titles)), "panel titles must be unique (the test keys by title)"
    used = set()
    ids, cells = set(), set()
    for p in panels_of(dash):
        assert p["id"] not in ids, p["id"]
        ids.add(p["id"])
        g = p["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24 and g["h"] > 0, (p["title"], g)
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"{p['title']} overlaps another panel"
                cells.add((x, y))
        if p["type"] == "row":
            continue
        where = f"{name}: {p['title']}"
        assert p["title"] and p.get("description"), where
        assert p["datasource"] == DS, where
        assert p["fieldConfig"]["defaults"].get("unit") in UNITS, where
        for o in p["fieldConfig"]["overrides"]:
            for prop in o["properties"]:
                if prop["id"] == "unit":
                    assert prop["value"] in UNITS, where
        assert p["targets"], where
        assert [t["refId"] for t in p["targets"]] == [chr(65 + i) for i in range(len(p["targets"]))]
        for t in p["targets"]:
            e = t["expr"]
            assert t["datasource"] == DS, where
            # every rate/irate/increase over $__rate_interval
            for fn in re.finditer(r"\b(rate|irate|increase)\(", e):
                rng = re.match(r"[^\[]*\[([^\]]*)\]", e[fn.end():])
                assert rng and rng.group(1) == "$__rate_interval", f"{where}: {e}"
            # every selector filters by job, instance and target
            sels = re.findall(r"[a-z_:]+\{([^}]*)\}", e)
            assert sels, f"{where}: no selector in {e}"
            for sel in sels:
                for f in FILTERS:
                    assert f in sel, f"{where}: {f} missing in {{{sel}}}"
            used |= set(re.findall(r"\$\{?([A-Za-z_]\w*)", e))
    for v in variables.values():
        used |= set(re.findall(r"\$\{?([A-Za-z_]\w*)", v.get("definition", "")))
    undefined = used - set(variables) - BUILTINS
    assert not undefined, f"undefined variables: {undefined}"
    unused = set(variables) - used - {"datasource"}
    assert not unused, f"variables no query uses: {unused}"


def test_alert_rules_pass_promtool_check_and_unit_tests():
    pgfix.require_file(pgfix.PROMTOOL, "promtool (Debian package prometheus)")
    r = subprocess.run([pgfix.PROMTOOL, "check", "rules", "alerts.yaml"], cwd=DASH,
                       capture_output=True, text=True, timeout=60)
    yaml = need_module("yaml", "python3-yaml")
    doc = yaml.safe_load((DASH / "alerts.yaml").read_text())
    nrules = sum(len(g["rules"]) for g in doc["groups"])
    assert r.returncode == 0 and f"SUCCESS: {nrules} rules found" in r.stdout, \
        r.stdout + r.stderr
    r = subprocess.run([pgfix.PROMTOOL, "test", "rules", "alerts_test.yaml"], cwd=DASH,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "SUCCESS" in r.stdout, r.stdout + r.stderr
    # every alert is exercised, firing and not firing
    rules = [r["alert"] for g in doc["groups"] for r in g["rules"] if "alert" in r]
    records = [r["record"] for g in doc["groups"] for r in g["rules"] if "record" in r]
    tests = yaml.safe_load((DASH / "alerts_test.yaml").read_text())["tests"]
    firing, quiet = set(), set()
    for t in tests:
        for a in t.get("alert_rule_test", []):
            (firing if a["exp_alerts"] else quiet).add(a["alertname"])
    assert firing == quiet == set(rules)
    # and every recording rule is checked against known inputs
    checked = {t2["expr"] for t in tests for t2 in t.get("promql_expr_test", [])}
    assert set(records) <= checked, set(records) - checked
    readme = (DASH / "README.md").read_text().lower()
    for name in rules:
        assert f"#### {name.lower()}" in readme, f"no runbook paragraph for {name}"


# ---------------------------------------------------------------------------
# Real data: every variable and every panel against Prometheus

RATE_INTERVAL = "4s"  # Grafana's $__rate_interval for a 1 s scrape interval

# (dashboard, panel title, refId): why the query is empty in this test.
EMPTY_BY_NATURE = {
    ("pgpulse-replication.json", "WAL a slot may still retain", "A"):
        "safe_wal_size is NULL unless max_slot_wal_keep_size is set; the test cluster leaves it -1",
    ("pgpulse-replication.json", "Time since last archived segment", "A"):
        "the session cluster runs without archive_mode, so nothing was ever archived",
    ("pgpulse-replication.json", "Invalidated slots", "A"): "no slot is lost in the test",
    ("pgpulse-replication.json", "Logical slot lag", "A"): "the stack has no logical slot",
    **{("pgpulse-replication.json", "Subscriptions", r): "the stack has no subscription"
       for r in "ABCD"},
    **{("pgpulse-replication.json", "Subscription errors", r): "the stack has no subscription"
       for r in "AB"},
    **{("pgpulse-database.json", "Sequences close to exhaustion", r):
       "pgbench's tables have no sequence, none is past the threshold" for r in "AB"},
    ("pgpulse-pools.json", "Paused or suspended", "A"): "SHOW STATE is new in pgbouncer 1.19",
    **{("pgpulse-pools.json", "Per-user limits", r):
       "SHOW USERS has the limit columns from pgbouncer 1.23/1.24" for r in "ABCD"},
    **{("pgpulse-database.json", "Unused and invalid indexes", r):
       "pgbench's indexes are primary keys, never reported as unused" for r in "AB"},
}

# Panels whose data depends on timing (either way is right).
MAYBE_EMPTY = {
    **{("pgpulse-overview.json", "Running maintenance", r):
       "autovacuum may or may not be analyzing pgbench's tables at that moment" for r in "AB"},
}

# Metrics alerts read that the healthy stack need not have.
ABSENT_BY_NATURE = {
    "pg_replication_slot_safe_wal_size_bytes": "NULL without max_slot_wal_keep_size",
    "pg_replication_slot_invalidated": "no slot is lost",
    "pg_subscription_enabled": "no subscription",
    "pg_subscription_apply_workers": "no subscription",
    "pg_subscription_apply_errors_total": "no subscription",
    "pg_sequence_used_ratio": "no sequence past the threshold",
    "pg_xmin_horizon_age_xids": "only while a transaction, slot or prepared transaction holds one",
}


def label_values_query(q):
    m = re.fullmatch(r"label_values\((?:(.+),\s*)?(\w+)\)", q)
    assert m, q
    return m.group(1), m.group(2)


def substitute(expr, values):
    expr = expr.replace("$__rate_interval", RATE_INTERVAL)
    for name in sorted(values, key=len, reverse=True):
        expr = expr.replace("${" + name + "}", values[name]).replace("$" + name, values[name])
    return expr


PREFERRED = {"datname": BENCH_DB}


def resolve_variables(dash, prom):
    """Every query variable's values from Prometheus, in order, with the
    earlier ones substituted as Grafana does: all values of a multi-value
    variable as (a|b), the preferred (else first) value of a single one."""
    values, seen = {}, {}
    for v in dash["templating"]["list"]:
        if v["type"] != "query":
            continue
        match, label = label_values_query(v["definition"])
        got = sorted(prom.label_values(label, substitute(match, values) if match else None))
        assert got, f"{dash['uid']}: variable {v['name']} ({v['definition']}) has no values"
        seen[v["name"]] = got
        if v["multi"]:
            # regex-escaped inside a PromQL string, as Grafana does
            values[v["name"]] = "(" + "|".join(re.escape(x).replace("\\", "\\\\") for x in got) + ")"
        else:
            values[v["name"]] = PREFERRED.get(v["name"]) if PREFERRED.get(v["name"]) in got else got[0]
    return values, seen


def run_panel(prom, expr, target, at):
    if target.get("instant"):
        return prom.query(expr, at)
    return prom.query_range(expr, at - 15, at, 1)


@pytest.fixture(scope="module")
def results(stack):
    """{dashboard: {"vars": seen values, "panels": {(title, refId): result}}}."""
    prom, at = stack["prometheus"], stack["end"] - 0.5
    out = {}
    for name in DASHBOARDS:
        dash = load(name)
        values, seen = resolve_variables(dash, prom)
        panels = {}
        for p, t in exprs_of(dash):
            panels[(p["title"], t["refId"])] = run_panel(prom, substitute(t["expr"], values), t, at)
        out[name] = {"vars": seen, "values": values, "panels": panels}
    return out


def test_variables_list_the_real_targets_and_databases(stack, results):
    pg = stack["pg"]
    dbs = {r[0] for r in pg.psql("SELECT datname FROM pg_database WHERE datallowconn")}
    for name in DASHBOARDS:
        seen = results[name]["vars"]
        assert seen["job"] == ["pgpulse"], name
        assert seen["instance"] == [f"127.0.0.1:{stack['pgpulse'].port}"], name
        want = ["bouncer"] if name == "pgpulse-pools.json" else ["primary", "replica"]
        assert seen["target"] == want, (name, seen["target"])
    assert set(results["pgpulse-database.json"]["vars"]["datname"]) == dbs
    assert results["pgpulse-database.json"]["values"]["datname"] == BENCH_DB
    st = results["pgpulse-statements.json"]["vars"]
    assert BENCH_DB in st["datname"] and pgfix.SUPERUSER in st["usename"]
    pools = results["pgpulse-pools.json"]["vars"]
    assert BENCH_DB in pools["database"] and pgfix.SUPERUSER in pools["user"]


@pytest.mark.parametrize("name", DASHBOARDS)
def test_every_panel_query_returns_data(name, results):
    empty, unexpected = [], []
    for (title, ref), res in results[name]["panels"].items():
        key = (name, title, ref)
        if key in MAYBE_EMPTY:
            continue
        if not res and key not in EMPTY_BY_NATURE:
            empty.append(f"{title} [{ref}]")
        if res and key in EMPTY_BY_NATURE:
            unexpected.append(f"{title} [{ref}]")
    assert not empty, f"{name}: panels without data: {empty}"
    assert not unexpected, f"{name}: allow-listed as empty but has data (drop the entry): {unexpected}"
    for (dash, title, ref) in EMPTY_BY_NATURE:
        if dash == name:
            assert (title, ref) in results[name]["panels"], f"stale allow-list entry {title}"


def values_of(res, **labels):
    """The last value of each series of res whose labels include labels."""
    out = []
    for r in res:
        if all(r["metric"].get(k) == v for k, v in labels.items()):
            v = r["values"][-1][1] if "values" in r else r["value"][1]
            out.append(float(v))
    return out


def test_panels_show_what_the_servers_report(stack, results):
    pg, replica, bouncer = stack["pg"], stack["replica"], stack["pgbouncer"]
    ov = results["pgpulse-overview.json"]["panels"]
    n = pg.scalar("SELECT count(*) FROM pg_database WHERE datallowconn "
                  "AND has_database_privilege('monitor', oid, 'CONNECT')")
    assert values_of(ov[("Databases", "A")], target="primary") == [n]
    roles = {r["metric"]["target"]: r["metric"]["role"] for r in ov[("Role and version", "A")]}
    assert roles == {"primary": "primary", "replica": "replica"}
    version = pg.scalar("SHOW server_version")
    assert {r["metric"]["version"] for r in ov[("Role and version", "A")]} == {version}
    assert values_of(ov[("PostgreSQL up", "A")]) == [1, 1]
    max_conn = int(pg.scalar("SHOW max_connections"))
    assert values_of(ov[("Connections used and allowed", "B")], target="primary") == [max_conn]

    db = results["pgpulse-database.json"]["panels"]
    top = sorted(db[("Largest tables", "A")], key=lambda r: -float(r["value"][1]))
    assert top[0]["metric"]["relname"] == "pgbench_accounts"
    size = pg.scalar("SELECT pg_total_relation_size('pgbench_accounts')", dbname=BENCH_DB)
    assert float(top[0]["value"][1]) == pytest.approx(size, rel=0.05)

    st = results["pgpulse-statements.json"]["panels"]
    texts = [r["metric"].get("query", "") for r in st[("Top statements by total time", "A")]]
    assert any(t.startswith("UPDATE pgbench_accounts") for t in texts), texts
    assert values_of(st[("Top by calls", "A")]), "no statement rate during the load"

    pools = results["pgpulse-pools.json"]["panels"]
    assert [r["metric"]["version"] for r in pools[("Version", "A")]] == \
        [bouncer.show("VERSION")[0]["version"]]
    sizes = values_of(pools[("Server connections by state", "F")], database=BENCH_DB)
    assert sizes == [2]  # default_pool_size of the fixture
    assert max(values_of(pools[("Queries", "A")], database=BENCH_DB)) > 0

    rep = results["pgpulse-replication.json"]["panels"]
    assert {r["metric"]["slot_name"] for r in rep[("Slots", "A")]} == {SLOT}
    assert {r["metric"]["application_name"] for r in rep[("Lag in bytes", "B")]} == {replica.name}
    assert values_of(rep[("WAL receiver", "A")], target="replica") == [1]


def test_alert_expressions_evaluate_on_real_series(stack):
    """Every metric an alert reads exists, and each rule evaluates without
    error in a Prometheus that loaded alerts.yaml next to the scrape."""
    yaml = need_module("yaml", "python3-yaml")
    prom = stack["prometheus"]
    doc = yaml.safe_load((DASH / "alerts.yaml").read_text())
    names = set()
    for g in doc["groups"]:
        for r in g["rules"]:
            names |= set(re.findall(r"\b((?:pg|pgbouncer|pgpulse)_[a-z_]+|up)\b(?!\s*\()", r["expr"]))
    missing = [n for n in sorted(names - set(ABSENT_BY_NATURE)) if not prom.series(n)]
    assert not missing, f"alerts read metrics pgpulse does not export: {missing}"
    deadline = time.monotonic() + 10
    while True:
        rules = [r for g in prom.api("rules")["groups"] for r in g["rules"]]
        if rules and all(r["health"] == "ok" for r in rules):
            break
        assert time.monotonic() < deadline, [(r["name"], r["health"], r.get("lastError")) for r in rules]
        time.sleep(0.5)
    assert len(rules) == sum(len(g["rules"]) for g in doc["groups"])
    # The ones whose state this healthy stack decides (the others depend on
    # the machine's disk or on timing).
    state = {r["name"]: r["state"] for r in rules if r.get("type") == "alerting"}
    # the recorded pgbouncer ratios have data from the real pgbouncer
    for g in doc["groups"]:
        for r in g["rules"]:
            if "record" in r:
                end = time.monotonic() + 10
                while not (got := prom.query(r["record"])) and time.monotonic() < end:
                    time.sleep(0.5)
                assert got, f"recording rule {r['record']} is empty"
                for sample in got:
                    assert 0 <= float(sample["value"][1]) <= 1, sample
    for name in ("PgpulseExporterDown", "PostgresDown", "PgbouncerDown", "PgpulseCollectorFailing",
                 "PostgresXidWraparound", "PostgresReplicationSlotRetainingWal"):
        assert state[name] == "inactive", (name, state[name])


# ---------------------------------------------------------------------------
# Previews: the panels' data drawn where Grafana puts the panels

PREVIEW_MAX_BYTES = 200_000


def fmt(v, unit):
    if v != v:  # NaN
        return "NaN"
    if unit == "percentunit":
        return f"{v * 100:.1f}%"
    if unit in ("bytes", "Bps"):
        suffix = "/s" if unit == "Bps" else ""
        for p in ("B", "KiB", "MiB", "GiB", "TiB"):
            if abs(v) < 1024 or p == "TiB":
                return f"{v:.3g} {p}{suffix}"
            v /= 1024
    if unit == "dtdurations":
        v = int(v)
        return f"{v // 86400}d {v % 86400 // 3600:02d}:{v % 3600 // 60:02d}:{v % 60:02d}" \
            if v >= 86400 else f"{v // 3600:02d}:{v % 3600 // 60:02d}:{v % 60:02d}"
    if unit in ("s", "ms"):
        return f"{v * 1000:.3g} ms" if abs(v) < 1 else f"{v:.3g} s"
    tail = {"ops": " ops/s", "rowsps": " rows/s", "cps": " /s"}.get(unit, "")
    return f"{v:.4g}{tail}"


def legend_of(fmt_, metric):
    text = re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: metric.get(m.group(1), ""), fmt_ or "")
    return text.strip() or ",".join(f"{k}={v}" for k, v in metric.items()
                                    if k not in ("job", "instance", "__name__"))


def render_preview(dash, results, prom, start, end, path):
    plt = need_module("matplotlib", "python3-matplotlib")
    plt.use("Agg")
    import matplotlib.pyplot as pyplot
    from matplotlib.gridspec import GridSpec

    panels = list(panels_of(dash))
    rows = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels)
    fig = pyplot.figure(figsize=(16, rows * 0.34 + 0.6), dpi=56)
    fig.suptitle(f"{dash['title']}  (pgpulse test run: primary, replica, pgbouncer, pgbench)",
                 fontsize=13, x=0.01, ha="left")
    grid = GridSpec(rows, 24, figure=fig, left=0.02, right=0.99, bottom=0.01,
                    top=1 - 0.5 / (rows * 0.34 + 0.6), hspace=4 / rows + 0.6, wspace=0.6)
    values = results["values"]
    for p in panels:
        g = p["gridPos"]
        ax = fig.add_subplot(grid[g["y"]:g["y"] + g["h"], g["x"]:g["x"] + g["w"]])
        if p["type"] == "row":
            ax.axis("off")
            ax.text(0, 0.2, p["title"], fontsize=11, fontweight="bold", transform=ax.transAxes)
            continue
        unit = p["fieldConfig"]["defaults"]["unit"]
        ax.set_title(p["title"], fontsize=9, loc="left")
        ax.tick_params(labelsize=6)
        if p["type"] == "timeseries":
            n = 0
            for t in p["targets"]:
                for r in prom.query_range(substitute(t["expr"], values), start, end, 1):
                    xs = [float(x) - start for x, _ in r["values"]]
                    ys = [float(y) for _, y in r["values"]]
                    ax.plot(xs, ys, linewidth=1, label=legend_of(t["legendFormat"], r["metric"])[:40])
                    n += 1
            if n:
                ax.legend(fontsize=5, loc="upper left", ncol=2 if n > 4 else 1, frameon=False)
            ax.yaxis.set_major_formatter(plt.ticker.FuncFormatter(lambda v, _, u=unit: fmt(v, u)))
            ax.set_xlim(0, end - start)
            ax.set_xlabel("seconds", fontsize=6, labelpad=0)
            continue
        ax.set_xticks([])
        ax.set_yticks([])
        lines = []
        for t in p["targets"]:
            res = results["panels"][(p["title"], t["refId"])]
            for r in res:
                v = float((r["values"][-1] if "values" in r else r["value"])[1])
                label = legend_of(t["legendFormat"], r["metric"])
                lines.append((label, v, t["refId"]))
        if p["type"] == "table":
            cols = p["transformations"][-1]["options"]["renameByName"]
            hide = p["transformations"][-1]["options"]["excludeByName"]
            label_cols = [c for c in cols if not c.startswith("Value") and c not in hide]
            head = [cols[c] for c in label_cols] + \
                   [cols.get(f"Value #{t['refId']}", "Value") for t in p["targets"]
                    if f"Value #{t['refId']}" in cols or len(p["targets"]) == 1 and "Value" not in hide]
            table = {}
            for t in p["targets"]:
                for r in results["panels"][(p["title"], t["refId"])]:
                    key = tuple(r["metric"].get(c, "") for c in label_cols)
                    table.setdefault(key, {})[t["refId"]] = float(r["value"][1])
            body = []
            for key, vals in sorted(table.items(), key=lambda kv: -max(kv[1].values()))[:g["h"] - 2]:
                cells = [k[:50] for k in key]
                if len(head) > len(label_cols):
                    cells += [fmt(vals[t["refId"]], unit) if t["refId"] in vals else ""
                              for t in p["targets"]][:len(head) - len(label_cols)]
                body.append(cells)
            if body:
                tb = ax.table(cellText=body, colLabels=head, loc="upper left", cellLoc="left")
                tb.auto_set_font_size(False)
                tb.set_fontsize(6)
                tb.auto_set_column_width(list(range(len(head))))
            ax.axis("off")
            continue
        if p["type"] in ("bargauge", "gauge"):
            lines.sort(key=lambda x: x[1])
            ax.barh(range(len(lines)), [v for _, v, _ in lines], color="#3274d9")
            for i, (label, v, _) in enumerate(lines):
                ax.text(0, i, f" {label}: {fmt(v, unit)}", va="center", fontsize=7)
            if p["type"] == "gauge":
                ax.set_xlim(0, p["fieldConfig"]["defaults"].get("max", 1))
            continue
        # stat
        ax.axis("off")
        for i, (label, v, _) in enumerate(lines[:4]):
            text = fmt(v, unit)
            for m in p["fieldConfig"]["defaults"].get("mappings", []):
                text = m["options"].get(str(int(v)), {}).get("text", text) if v == int(v) else text
            ax.text(0.02, 0.75 - i * 0.25, f"{label}: {text}", fontsize=9, transform=ax.transAxes)
    fig.savefig(path, dpi=56)
    pyplot.close(fig)


@pytest.mark.parametrize("name", DASHBOARDS)
def test_render_preview(name, stack, results, tmp_path):
    """One PNG per dashboard from this run's data; written to
    dashboards/previews/ with PGPULSE_UPDATE_PREVIEWS=1, else to a temp dir."""
    out_dir = DASH / "previews" if os.environ.get("PGPULSE_UPDATE_PREVIEWS") else tmp_path
    out_dir.mkdir(exist_ok=True)
    path = out_dir / name.replace(".json", ".png")
    render_preview(load(name), results[name], stack["prometheus"],
                   stack["start"] - 2, stack["end"] + 1, path)
    size = path.stat().st_size
    assert 10_000 < size < PREVIEW_MAX_BYTES, (path, size)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
