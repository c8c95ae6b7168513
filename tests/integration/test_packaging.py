"""Packaging: the monitoring role's SQL on a real cluster (pgpulse --dry-run
then finds nothing missing), the systemd unit (systemd-analyze verify and
security), the Kubernetes manifests (kubectl kustomize, then a schema check
of every object with kubernetes-models in Node). The container image has its
own check, make docker-check (scripts/docker-check)."""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import yaml

import pgfix

REPO = pgfix.REPO
PACKAGING = REPO / "packaging"
ROLE_SQL = PACKAGING / "sql" / "monitoring-role.sql"
UNIT = PACKAGING / "systemd" / "pgpulse.service"
KUBERNETES = PACKAGING / "kubernetes"
NPM_DIR = Path(os.environ.get("PGPULSE_NPM_DIR", "/var/cache/pgpulse/npm"))
# systemd-analyze security's exposure (0 = locked down, 10 = not at all):
# the unit scores 1.2 ("OK"); more than 2.0 means a hardening setting was
# lost.
SECURITY_MAX_EXPOSURE = 2.0


def tool(name, what):
    path = shutil.which(name)
    pgfix.require_file(path or f"/usr/bin/{name}", what)
    return path


def run(cmd, **kw):
    kw.setdefault("timeout", 120)
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)


# --- packaging/sql/monitoring-role.sql ------------------------------------------

def apply_role_sql(pg, role, password):
    r = run([pgfix.PG_BIN / "psql", "-X", "-q", "-h", pg.sockdir, "-p", pg.port,
             "-U", pgfix.SUPERUSER, "-d", "postgres", "-v", f"role={role}",
             "-v", f"password={password}", "-f", ROLE_SQL])
    assert r.returncode == 0, r.stderr
    assert "ERROR" not in r.stderr and "WARNING" not in r.stderr, r.stderr
    return r


def role_state(pg, role):
    return pg.psql(
        "SELECT r.rolsuper, r.rolcanlogin, r.rolcreatedb, r.rolcreaterole, r.rolreplication,"
        "       r.rolbypassrls, r.rolconfig,"
        "       ARRAY(SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid"
        "             WHERE m.member = r.oid ORDER BY 1),"
        "       ARRAY(SELECT datname FROM pg_database"
        "             WHERE datallowconn AND has_database_privilege(r.oid, oid, 'CONNECT')"
        "             ORDER BY 1)"
        " FROM pg_roles r WHERE r.rolname = %s", (role,))[0]


def dry_run(pgpulse, config):
    """pgpulse --dry-run over queries/ and queries/compat/ (two runs: their
    metric names overlap) with a config's targets; returns the runs."""
    path = pgpulse.write(f"cfg-{os.urandom(3).hex()}.yaml", config)
    runs = []
    for queries in (REPO / "queries", REPO / "queries" / "compat"):
        p = pgpulse("--dry-run", "--output", "json", "--config", path,
                    "--queries", queries, listen=False, wait=False)
        rc = p.wait(180)
        runs.append((rc, json.loads(p.stdout_text()), p.stderr_text()))
    return runs


def problems(doc):
    """(collector, target, status, note) of every collector that did not
    run cleanly, and every diagnostic."""
    bad = [(c["collector"], c.get("target"), c["status"], c.get("note"))
           for c in doc["collectors"] if c["status"] not in ("ok", "skipped")]
    bad += [d["message"] for d in doc["diagnostics"]]
    return bad


def test_monitoring_role_gives_every_shipped_collector_what_it_needs(pg_factory, pgpulse):
    primary = pg_factory()
    # a database whose CONNECT was revoked from PUBLIC, as hardened servers do
    primary.psql("CREATE DATABASE app")
    primary.psql("REVOKE CONNECT ON DATABASE app FROM PUBLIC")
    primary.psql("CREATE ROLE plain LOGIN PASSWORD 'plain-pw'")
    replica = primary.create_replica()
    try:
        apply_role_sql(primary, "pp_mon", "pp-mon-pw")
        state = role_state(primary, "pp_mon")
        assert state == (False, True, False, False, False, False,
                         ["default_transaction_read_only=on"], ["pg_monitor"],
                         ["app", "postgres", "template1"])
        # idempotent: a second run succeeds and changes nothing
        apply_role_sql(primary, "pp_mon", "pp-mon-pw")
        assert role_state(primary, "pp_mon") == state
        replica.catch_up()

        pw = pgpulse.write("pp_mon_pw", "pp-mon-pw\n", mode=0o600)
        plain_pw = pgpulse.write("plain_pw", "plain-pw\n", mode=0o600)

        def config(user, password_file):
            return "targets:\n" + "".join(
                f"  - name: {name}\n"
                f"    url: postgresql://{user}@127.0.0.1:{c.port}/postgres?sslmode=disable\n"
                f"    password_file: {password_file}\n"
                # the opt-in collectors too
                f"    tags: [activity_details, statement_texts]\n"
                f"    databases: {{include: ['.*']}}\n"
                for name, c in (("primary", primary), ("replica", replica)))

        for rc, doc, err in dry_run(pgpulse, config("pp_mon", pw)):
            assert problems(doc) == [] and rc == 0, err
            ran = {(c["collector"], c["target"]) for c in doc["collectors"]
                   if c["status"] == "ok"}
            assert {t for _, t in ran} == {"primary", "replica"}, doc["collectors"]
        # every collector of the default set ran somewhere, but those that
        # need a newer PostgreSQL
        default = dry_run(pgpulse, config("pp_mon", pw))[0][1]
        skipped = {c["collector"] for c in default["collectors"]} - {
            c["collector"] for c in default["collectors"] if c["status"] == "ok"}
        assert all(c["note"].startswith("version:") for c in default["collectors"]
                   if c["collector"] in skipped and not c["collector"].startswith("pgbouncer")
                   ), default["collectors"]

        # the same check fails for a role without the script's grants
        rc, doc, err = dry_run(pgpulse, config("plain", plain_pw))[0]
        assert rc == 1
        assert any("GRANT pg_monitor TO plain" in str(p) for p in problems(doc)), err
        assert any("app" in str(p) and "CONNECT" in str(p) for p in problems(doc)), problems(doc)
    finally:
        replica.destroy()


def test_monitoring_role_is_enough_on_every_version(pgv, pgpulse):
    """The role script on each server of the version matrix: a dry run of
    every shipped collector (the opt-in ones too) finds nothing missing."""
    role, password = "pp_mon_v", "pp-mon-v-pw"
    apply_role_sql(pgv, role, password)
    apply_role_sql(pgv, role, password)  # idempotent on every version
    pw = pgpulse.write("pp_mon_v_pw", password + "\n", mode=0o600)
    config = ("targets:\n"
              "  - name: v\n"
              f"    url: postgresql://{role}@127.0.0.1:{pgv.port}/postgres?sslmode=disable\n"
              f"    password_file: {pw}\n"
              "    tags: [activity_details, statement_texts]\n"
              "    databases: {include: ['.*']}\n")
    for rc, doc, err in dry_run(pgpulse, config):
        assert problems(doc) == [] and rc == 0, err
        assert any(c["status"] == "ok" for c in doc["collectors"]), doc["collectors"]


# --- packaging/systemd ------------------------------------------------------------

def installed_unit(tmp):
    """make install-systemd into a DESTDIR; returns (destdir, unit path)."""
    dest = tmp / "dest"
    # not the suite's make's flags (SANITIZE=..., its jobserver)
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    r = run(["make", "-s", "-C", REPO, "install-systemd", f"DESTDIR={dest}", "PREFIX=/usr"],
            env=env, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return dest, dest / "usr/lib/systemd/system/pgpulse.service"


def test_systemd_unit_is_installed_with_its_environment_file(tmp_path):
    dest, unit = installed_unit(tmp_path)
    text = unit.read_text()
    assert "ExecStart=/usr/bin/pgpulse $PGPULSE_OPTS" in text
    assert text == UNIT.read_text().replace("/usr/local/bin/", "/usr/bin/")
    env = (dest / "etc/default/pgpulse").read_text()
    assert env == (PACKAGING / "systemd/pgpulse.env").read_text()
    assert (dest / "etc/default/pgpulse").stat().st_mode & 0o777 == 0o640
    # an edited environment file survives a second install
    (dest / "etc/default/pgpulse").write_text("DATA_SOURCE_URI=mine\n")
    installed_unit(tmp_path)
    assert (dest / "etc/default/pgpulse").read_text() == "DATA_SOURCE_URI=mine\n"


def test_systemd_unit_verifies_without_any_message(tmp_path, pgpulse_bin):
    analyze = tool("systemd-analyze", "systemd-analyze (systemd)")
    # the unit as installed, with the binary under test where ExecStart says
    unit = tmp_path / "pgpulse.service"
    unit.write_text(UNIT.read_text().replace("/usr/local/bin/pgpulse", str(pgpulse_bin)))
    man = tmp_path / "man" / "man1"
    man.mkdir(parents=True)
    shutil.copy(REPO / "exporter/pgpulse.1", man / "pgpulse.1")
    r = run([analyze, "verify", unit], env=dict(os.environ, MANPATH=str(tmp_path / "man"),
                                                 SYSTEMD_LOG_LEVEL="info"))
    # verify only warns about unknown keys and exits 0: any output fails
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")

    # and it does complain about a misspelt key
    unit.write_text(unit.read_text().replace("NoNewPrivileges=", "NoNewPrivilege="))
    r = run([analyze, "verify", unit], env=dict(os.environ, MANPATH=str(tmp_path / "man")))
    assert "NoNewPrivilege" in r.stdout + r.stderr


def test_systemd_environment_file_names_only_variables_pgpulse_reads(pgpulse_bin):
    text = (PACKAGING / "systemd/pgpulse.env").read_text()
    names = set(re.findall(r"^#?([A-Z][A-Z_]*)=", text, re.M)) - {"PGPULSE_OPTS"}
    assert names and names <= pgpulse_env_names(pgpulse_bin), names - pgpulse_env_names(pgpulse_bin)
    # PGPULSE_OPTS is the unit's: its ExecStart passes it on
    assert "$PGPULSE_OPTS" in UNIT.read_text()


def test_systemd_unit_exposure_stays_low():
    analyze = tool("systemd-analyze", "systemd-analyze (systemd)")
    r = run([analyze, "security", "--offline=yes", "--no-pager", UNIT])
    m = re.search(r"Overall exposure level for pgpulse\.service: (\d+\.\d+)", r.stdout)
    assert m, r.stdout + r.stderr
    assert float(m.group(1)) <= SECURITY_MAX_EXPOSURE, r.stdout
    text = UNIT.read_text()
    for setting in ("DynamicUser=yes", "ProtectSystem=strict", "NoNewPrivileges=yes",
                    "SystemCallFilter=@system-service", "LoadCredential=monitor_pw:",
                    "Environment=DATA_SOURCE_PASS_FILE=%d/monitor_pw",
                    "Restart=on-failure", "ExecReload=/bin/kill -HUP $MAINPID"):
        assert re.search("^" + re.escape(setting), text, re.M), setting


# --- packaging/kubernetes -----------------------------------------------------------

def render(directory):
    kubectl = tool("kubectl", "kubectl with kustomize (kubernetes-client)")
    r = run([kubectl, "kustomize", KUBERNETES / directory])
    assert r.returncode == 0, r.stderr
    return r.stdout


def schema_check(text):
    node = tool("node", "node (nodejs)")
    pgfix.require_file(NPM_DIR / "node_modules" / "kubernetes-models",
                       "npm packages of tests/packaging (run scripts/node-deps)")
    return run([node, REPO / "tests/packaging/check-kubernetes.js"], input=text,
               env=dict(os.environ, NODE_PATH=str(NPM_DIR / "node_modules")))


def pgpulse_env_names(pgpulse_bin):
    """The variables --help lists ("DATA_SOURCE_PASS[_FILE]" is two)."""
    names = set()
    for name, file in re.findall(r"\b((?:DATA_SOURCE|PG_EXPORTER|PGPULSE)_[A-Z_]*[A-Z])(\[_FILE\])?",
                                 run([pgpulse_bin, "--help"]).stdout):
        names |= {name, name + "_FILE"} if file else {name}
    return names


def containers(objs, name="pgpulse"):
    return [c for o in objs if o["kind"] in ("Deployment", "StatefulSet")
            for c in o["spec"]["template"]["spec"]["containers"] if c["name"] == name]


def test_kubernetes_manifests_render_and_every_object_passes_its_schema(pgpulse_bin):
    kinds = {}
    for d in ("base", "sidecar", "grafana"):
        text = render(d)
        r = schema_check(text)
        assert r.returncode == 0, r.stdout + r.stderr
        objs = [o for o in yaml.safe_load_all(text) if o]
        assert len(r.stdout.splitlines()) == len(objs)
        kinds[d] = sorted(o["kind"] for o in objs)
        env_names = pgpulse_env_names(pgpulse_bin)
        for c in containers(objs):
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] and not sc["allowPrivilegeEscalation"]
            assert sc["capabilities"]["drop"] == ["ALL"]
            assert c["resources"]["requests"] and c["resources"]["limits"]["memory"]
            used = {e["name"] for e in c.get("env", [])}
            assert used <= env_names, used - env_names
            assert {"name": "DATA_SOURCE_PASS_FILE",
                    "value": "/run/secrets/pgpulse/password"} in c["env"]
    assert kinds == {
        "base": ["ConfigMap", "Deployment", "PrometheusRule", "Service", "ServiceMonitor"],
        "sidecar": ["PodMonitor", "StatefulSet"],
        "grafana": ["ConfigMap"] * len(list((REPO / "dashboards").glob("*.json"))),
    }
    base = [o for o in yaml.safe_load_all(render("base")) if o]
    deploy = next(o for o in base if o["kind"] == "Deployment")
    pod = deploy["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["runAsUser"] == 10001
    (c,) = containers(base)
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    cm = next(o for o in base if o["kind"] == "ConfigMap")
    assert set(cm["data"]) <= pgpulse_env_names(pgpulse_bin)


def test_schema_check_rejects_unknown_fields_and_wrong_types():
    deploy = [o for o in yaml.safe_load_all(render("base")) if o and o["kind"] == "Deployment"][0]
    c = deploy["spec"]["template"]["spec"]["containers"][0]
    c["readinesProbe"] = c.pop("readinessProbe")
    r = schema_check(yaml.safe_dump(deploy))
    assert r.returncode == 1
    assert "unknown field(s) /spec/template/spec/containers/0/readinesProbe" in r.stdout
    c["readinessProbe"] = c.pop("readinesProbe")
    c["ports"][0]["containerPort"] = "9187"
    r = schema_check(yaml.safe_dump(deploy))
    assert r.returncode == 1 and "containerPort must be integer" in r.stdout


def test_generated_kubernetes_files_match_dashboards():
    r = run([KUBERNETES / "generate", "--check"])
    assert (r.returncode, r.stderr) == (0, "")
    rule = yaml.safe_load((KUBERNETES / "base/prometheusrule.yaml").read_text())
    alerts = yaml.safe_load((REPO / "dashboards/alerts.yaml").read_text())
    assert rule["spec"]["groups"] == alerts["groups"]
    maps = [o for o in yaml.safe_load_all((KUBERNETES / "grafana/dashboards.yaml").read_text()) if o]
    got = {k: v for m in maps for k, v in m["data"].items()}
    assert got == {p.name: p.read_text() for p in (REPO / "dashboards").glob("*.json")}
    assert all(m["metadata"]["labels"]["grafana_dashboard"] == "1" for m in maps)
