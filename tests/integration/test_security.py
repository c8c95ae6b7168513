"""The web config (TLS with client certificates, bcrypt basic auth, reload),
request limits, and secrets that never show in pages or logs, against a
real PostgreSQL 15."""

import os
import signal
import socket
import ssl
import shutil
import subprocess
import time
import warnings
from pathlib import Path

import pytest
import requests

import pgfix
from pgfix import REPO, wait_for

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt  # libxcrypt's bcrypt, as pgpulse verifies it

QUERIES = REPO / "queries"
ENV = {"MONITOR_PW": pgfix.MONITOR_PASSWORD}
WEB_PASSWORD = "web-secret-pw-7731"
PROBE_PASSWORD_FILE_TEXT = pgfix.MONITOR_PASSWORD


def config(pg, extra=""):
    return ("targets:\n"
            "  - name: main\n"
            f"    url: {pg.dsn(password=None)}\n"
            "    password_env: MONITOR_PW\n"
            f"queries: [{QUERIES}/server.yaml]\n" + extra)


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A test CA, a server certificate for 127.0.0.1 and a client
    certificate it signed, and a client certificate of another CA."""
    # a missing openssl skips outside CI and fails in it
    pgfix.need(shutil.which("openssl"), "openssl (scripts/bootstrap)")
    d = tmp_path_factory.mktemp("pki")
    for ca in ("ca", "rogue-ca"):
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-nodes", "-keyout", f"{ca}.key", "-out", f"{ca}.crt", "-days", "2",
                "-subj", f"/CN=pgpulse test {ca}", cwd=d)

    def leaf(name, ca, subj, ext):
        (d / f"{name}.ext").write_text(ext)
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subj, cwd=d)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey",
                f"{ca}.key", "-CAcreateserial", "-out", f"{name}.crt", "-days", "2",
                "-extfile", f"{name}.ext", cwd=d)

    for name in ("server", "server2"):
        leaf(name, "ca", "/CN=127.0.0.1",
             "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    leaf("client", "ca", "/CN=prometheus", "extendedKeyUsage=clientAuth\n")
    leaf("rogue", "rogue-ca", "/CN=intruder", "extendedKeyUsage=clientAuth\n")
    return d


def bcrypt(password, prefix="$2b$"):
    h = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << 6))
    assert h.startswith("$2b$"), h
    return prefix + h[4:]


def start_tls(pgpulse, pg, web, *args):
    port = pgfix.free_port()
    wc = pgpulse.write(f"web-{port}.yml", web)
    p = pgpulse("--web.config.file", str(wc), *args, config=config(pg), env=ENV,
                port=port, wait=False)
    deadline = time.monotonic() + 20
    while not pgfix.port_open("127.0.0.1", port):
        assert p.running and time.monotonic() < deadline, p.describe()
        time.sleep(0.05)
    p.url = f"https://127.0.0.1:{port}"
    return p, wc


# --- TLS ----------------------------------------------------------------------

def test_tls_with_client_certificates(pg, pgpulse, pki):
    web = (f"tls_server_config:\n"
           f"  cert_file: {pki}/server.crt\n"
           f"  key_file: {pki}/server.key\n"
           f"  client_ca_file: {pki}/ca.crt\n"
           f"  client_auth_type: RequireAndVerifyClientCert\n")
    p, _ = start_tls(pgpulse, pg, web)
    ca = str(pki / "ca.crt")
    good = (str(pki / "client.crt"), str(pki / "client.key"))
    r = requests.get(p.url + "/metrics", verify=ca, cert=good, timeout=30)
    assert r.status_code == 200
    assert pgfix.Page(r.text).sample("pg_up", target="main") == 1
    # no certificate, or one of another CA: refused
    assert requests.get(p.url + "/metrics", verify=ca, timeout=30).status_code == 403
    rogue = (str(pki / "rogue.crt"), str(pki / "rogue.key"))
    r = requests.get(p.url + "/metrics", verify=ca, cert=rogue, timeout=30)
    assert r.status_code == 403
    # the server's certificate is the test CA's
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(p.url + "/healthz", verify=str(pki / "rogue-ca.crt"), cert=good, timeout=10)
    # plain HTTP gets nothing
    with pytest.raises(requests.exceptions.RequestException):
        requests.get(p.url.replace("https", "http") + "/healthz", timeout=5)
    # no path of the web config in the logs
    assert str(pki) not in p.log_text()


def test_tls_min_version_refuses_older_clients(pg, pgpulse, pki):
    web = (f"tls_server_config:\n"
           f"  cert_file: {pki}/server.crt\n"
           f"  key_file: {pki}/server.key\n"
           f"  min_version: TLS13\n")
    p, _ = start_tls(pgpulse, pg, web)
    port = int(p.url.rsplit(":", 1)[1])

    def handshake(maxv):
        ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        ctx.maximum_version = maxv
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            with ctx.wrap_socket(s, server_hostname="127.0.0.1") as t:
                return t.version()

    assert handshake(ssl.TLSVersion.TLSv1_3) == "TLSv1.3"
    with pytest.raises(ssl.SSLError):
        handshake(ssl.TLSVersion.TLSv1_2)


def served_cert(port, ca):
    ctx = ssl.create_default_context(cafile=ca)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        with ctx.wrap_socket(s, server_hostname="127.0.0.1") as t:
            return t.getpeercert(binary_form=True)


def der(path):
    return ssl.PEM_cert_to_DER_cert(path.read_text())


def test_reload_replaces_the_certificate_without_a_restart(pg, pgpulse, pki):
    web = (f"tls_server_config:\n  cert_file: {pki}/server.crt\n"
           f"  key_file: {pki}/server.key\n")
    p, wc = start_tls(pgpulse, pg, web, "--web.enable-lifecycle")
    port, ca = int(p.url.rsplit(":", 1)[1]), str(pki / "ca.crt")
    assert served_cert(port, ca) == der(pki / "server.crt")
    # a key that is not the certificate's: rejected, the old pair serves
    pgpulse.write(wc.name, f"tls_server_config:\n  cert_file: {pki}/server2.crt\n"
                           f"  key_file: {pki}/server.key\n")
    r = requests.post(p.url + "/-/reload", verify=ca, timeout=30)
    assert r.status_code == 500
    assert "'cert_file' and 'key_file' are not a usable pair" in p.log_text()
    assert served_cert(port, ca) == der(pki / "server.crt")
    pgpulse.write(wc.name, f"tls_server_config:\n  cert_file: {pki}/server2.crt\n"
                           f"  key_file: {pki}/server2.key\n")
    pid = p.pid
    r = requests.post(p.url + "/-/reload", verify=ca, timeout=30)
    assert r.status_code == 200
    assert served_cert(port, ca) == der(pki / "server2.crt")
    assert p.pid == pid and p.running
    assert requests.get(p.url + "/metrics", verify=ca, timeout=30).status_code == 200


# --- basic auth -------------------------------------------------------------

def users_yaml(**users):
    return "basic_auth_users:\n" + "".join(f"  {u}: '{h}'\n" for u, h in users.items())


def test_basic_auth_on_every_route_but_healthz_and_reloaded_with_the_config(pg, pgpulse):
    web = pgpulse.write("web-auth.yml", users_yaml(prom=bcrypt(WEB_PASSWORD),
                                                   other=bcrypt("other-pw", "$2y$")))
    p = pgpulse("--web.config.file", str(web), "--web.enable-lifecycle", config=config(pg),
                env=ENV)
    for path in ("/metrics", "/probe?target=main", "/readyz", "/", "/nosuch"):
        r = p.get(path)
        assert r.status_code == 401, path
        assert r.headers["WWW-Authenticate"].startswith('Basic realm="pgpulse"')
        assert p.get(path, auth=("prom", "wrong")).status_code == 401
        assert p.get(path, auth=("nobody", WEB_PASSWORD)).status_code == 401
    assert requests.post(p.url + "/-/reload", timeout=30).status_code == 401
    assert p.get("/healthz").status_code == 200
    r = p.get("/metrics", auth=("prom", WEB_PASSWORD))
    assert r.status_code == 200 and pgfix.Page(r.text).sample("pg_up", target="main") == 1
    # $2y$ (htpasswd's) works as $2b$ does
    assert p.get("/metrics", auth=("other", "other-pw")).status_code == 200
    assert p.get("/metrics", auth=("other", WEB_PASSWORD)).status_code == 401

    # a reload swaps the users
    pgpulse.write("web-auth.yml", users_yaml(newer=bcrypt("newer-pw")))
    p.reload()
    assert wait_for(lambda: p.get("/metrics", auth=("newer", "newer-pw")).status_code == 200)
    assert p.get("/metrics", auth=("prom", WEB_PASSWORD)).status_code == 401
    # a broken web config on reload keeps the one that serves
    pgpulse.write("web-auth.yml", "basic_auth_users:\n  x: not-a-hash\n")
    r = requests.post(p.url + "/-/reload", auth=("newer", "newer-pw"), timeout=30)
    assert r.status_code == 500
    assert p.get("/metrics", auth=("newer", "newer-pw")).status_code == 200
    assert "not a bcrypt hash" in p.log_text()
    assert p.scrape(auth=("newer", "newer-pw")).sample(
        "pgpulse_config_last_reload_successful") == 0


def test_a_bad_web_config_stops_the_start_with_its_position(pg, pgpulse):
    web = pgpulse.write("web-bad.yml", "tls_server_config:\n  cert_file: /nonexistent/c.pem\n"
                                       "  client_auth_type: RequireAndVerifyClientCrt\n"
                                       "basic_auth_users:\n  u: plain\n")
    p = pgpulse("--web.config.file", str(web), config=config(pg), env=ENV, wait=False)
    assert p.wait() == 1  # a config error, not a crash
    err = p.stderr_text()
    assert f"{web}:2:3: error: 'cert_file' and 'key_file' are required" in err
    assert f"{web}:2:14: error: cannot read 'cert_file'" in err
    assert (f"{web}:3:21: error: invalid client_auth_type 'RequireAndVerifyClientCrt' "
            "(did you mean 'RequireAndVerifyClientCert'?)") in err
    assert f"{web}:5:6: error: user 'u': not a bcrypt hash" in err
    assert "/nonexistent" not in err


# --- request limits ---------------------------------------------------------

def test_slow_idle_and_oversized_requests_are_cut_off(pg, pgpulse):
    p = pgpulse("--web.read-timeout", "1s", "--web.max-connections", "4",
                config=config(pg), env=ENV)
    # headers and URL must fit the per-connection memory: an error status
    # or the connection closed, and no page
    for req in (b"GET /metrics?" + b"x" * 40000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
                b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"y" * 40000 + b"\r\n\r\n"):
        answer = raw(p.port, req)
        assert answer == b"" or answer.split(b" ")[1] in (b"413", b"414", b"431"), answer[:80]
    assert p.get("/healthz").status_code == 200
    # a client that never finishes its request is disconnected
    port = p.port

    def held_open(s):
        """The server kept 's' (no answer, no close) for a moment."""
        s.settimeout(0.1)
        try:
            return s.recv(1, socket.MSG_PEEK) != b""
        except socket.timeout:
            return True
        except ConnectionResetError:
            return False

    # the connections of the steps above may still count for a moment:
    # open the two slow ones until the server holds both
    for _ in range(20):
        slow = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
        for s in slow:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        if all(held_open(s) for s in slow):
            break
        for s in slow:
            s.close()
        time.sleep(0.2)
    # two per address (half of 4): a third is turned away meanwhile
    third = socket.create_connection(("127.0.0.1", port))
    third.settimeout(2)
    third.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    try:
        assert third.recv(100) == b""
    except ConnectionResetError:
        pass
    third.close()
    start = time.monotonic()
    for s in slow:
        s.settimeout(5)
        try:
            assert s.recv(100) == b""
        except ConnectionResetError:
            pass
        s.close()
    assert time.monotonic() - start < 3
    # and the slots are free again
    assert wait_for(lambda: ok(p, "/healthz"), timeout=3)


def ok(p, path):
    try:
        return p.get(path, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def raw(port, request):
    """Send request bytes; the answer's first bytes, b"" if closed/reset."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        try:
            s.sendall(request)
            return s.recv(200)
        except (ConnectionResetError, BrokenPipeError):
            return b""


# --- secrets ------------------------------------------------------------------

def test_no_password_conninfo_or_key_path_in_pages_or_logs(pg, pgpulse, pki):
    """Every route, failing and working connections, debug logs."""
    pwfile = pgpulse.write("mod-pw", PROBE_PASSWORD_FILE_TEXT)
    wrong = "wrong-secret-pw-4242"
    wrongfile = pgpulse.write("wrong-pw", wrong)
    web = pgpulse.write("web-secrets.yml", users_yaml(prom=bcrypt(WEB_PASSWORD)))
    cfg = ("targets:\n"
           "  - name: main\n"
           f"    url: {pg.dsn(password=None)}\n"
           "    password_env: MONITOR_PW\n"
           "  - name: badpw\n"
           f"    url: {pg.dsn(password=None)}\n"
           f"    password_file: {wrongfile}\n"
           "  - name: tls\n"
           f"    host: 127.0.0.1\n    port: '{pg.port}'\n    user: monitor\n"
           f"    sslmode: verify-full\n    sslrootcert: {pki}/ca.crt\n"
           f"    sslcert: {pki}/client.crt\n    sslkey: {pki}/client.key\n"
           f"queries: [{QUERIES}/server.yaml]\n"
           f"probe: {{allow: ['127\\.0\\.0\\.1:{pg.port}']}}\n"
           "auth_modules:\n"
           "  m: {type: userpass, userpass: {username: monitor, "
           f"password_file: {pwfile}}}}}\n")
    mark = pg.log_mark()
    p = pgpulse("--web.config.file", str(web), "--log.level", "debug",
                "--web.enable-lifecycle", config=cfg, env=ENV)
    auth = ("prom", WEB_PASSWORD)
    texts = []
    for path in ("/", "/metrics", "/readyz", "/healthz", "/probe?target=main",
                 "/probe?target=badpw", "/probe?target=tls",
                 f"/probe?target=127.0.0.1:{pg.port}&auth_module=m",
                 f"/probe?target=host%3D127.0.0.1%20password%3D{wrong}",
                 f"/probe?target={pg.dsn()}", "/nosuch"):
        for a in (auth, None):
            r = p.get(path, auth=a)
            texts.append(r.text)
    r = requests.post(p.url + "/-/reload", auth=auth, timeout=30)
    texts.append(r.text)
    page = pgfix.Page(texts[2])
    assert page.sample("pg_up", target="main") == 1
    assert page.sample("pg_up", target="badpw") == 0
    assert page.sample("pg_up", target="tls") == 0
    p.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    p.stop()
    # the bad target was tried with the file's password, in this test: the
    # server saw it fail, and pgpulse logged it under the target's name
    assert 'password authentication failed for user "monitor"' in pg.log_since(mark)
    assert any("target=badpw" in l and "password authentication failed" in l
               for l in p.log_text().splitlines())
    for secret in (pgfix.MONITOR_PASSWORD, wrong, WEB_PASSWORD, str(pki), str(wrongfile),
                   str(pwfile), pgfix.SUPERUSER_PASSWORD):
        assert secret not in "\n".join(texts) + p.log_text(), secret


# --- operator traps -------------------------------------------------------------

def test_the_readme_example_data_source_name_with_a_pass_file_connects(pg, pgpulse):
    pwfile = pgpulse.write("readme-pw", pgfix.MONITOR_PASSWORD + "\n")
    p = pgpulse(dsn=pg.dsn(password=None), env={"DATA_SOURCE_PASS_FILE": str(pwfile)})
    page = p.scrape()
    assert page.sample("pg_up") == 1
    assert page.samples("pg_info")[0].labels["server_version_num"] == str(pg.version_num)
    assert "no password supplied" not in p.log_text()


def test_a_listen_port_out_of_range_is_a_usage_error_not_another_port(pgpulse):
    for port in ("124464", "0", "65536", "http", ""):
        p = pgpulse("--web.listen-address", f"127.0.0.1:{port}", listen=False, wait=False)
        assert p.wait() == 2, port
        assert (f"--web.listen-address must be HOST:PORT with a port from 1 to 65535, "
                f"not '127.0.0.1:{port}'") in p.stderr_text()


def test_a_fifo_as_password_or_config_file_is_an_error_not_a_hang(pg, pgpulse):
    fifo = pgpulse.workdir / "pw-fifo"
    os.mkfifo(fifo)
    cfg = ("targets:\n"
           "  - name: main\n"
           f"    url: {pg.dsn(password=None)}\n"
           "    password_env: MONITOR_PW\n"
           "  - name: fifo\n"
           f"    url: {pg.dsn(password=None)}\n"
           f"    password_file: {fifo}\n"
           f"queries: [{QUERIES}/server.yaml]\n")
    p = pgpulse(config=cfg, env=ENV)
    page, took = p.scrape_timed(10)
    assert page.sample("pg_up", target="main") == 1
    assert page.sample("pg_up", target="fifo") == 0
    assert took < 9
    assert "not a regular file" in p.log_text()
    # as the config on reload: refused at once, the old one serves
    cfgpath = p.argv[p.argv.index("--config") + 1]
    os.unlink(cfgpath)
    os.mkfifo(cfgpath)
    p.reload()
    assert wait_for(lambda: "not a regular file" in p.log_text().split("reloading")[-1])
    page = p.scrape()
    assert page.sample("pgpulse_config_last_reload_successful") == 0
    assert page.sample("pg_up", target="main") == 1
    p.stop()
    # and at start
    q = pgpulse("--config", cfgpath, env=ENV, wait=False)
    assert q.wait(timeout=20) == 1
    assert f"{cfgpath}: error: cannot read: not a regular file" in q.stderr_text()


def test_an_empty_config_on_reload_is_refused_but_targets_empty_list_is_taken(pg, pgpulse):
    p = pgpulse(config=config(pg), env=ENV)
    cfgpath = p.argv[p.argv.index("--config") + 1]
    for i, text in enumerate(("", "\n  \n# nothing yet\n")):
        pgfix.write_owned(Path(cfgpath), text)
        p.reload()
        assert wait_for(lambda: p.scrape().sample("pgpulse_config_reload_failures_total") == i + 1)
        page = p.scrape()
        assert page.sample("pgpulse_config_last_reload_successful") == 0
        assert page.sample("pg_up", target="main") == 1
    assert f"at={cfgpath}:1:1 " in p.log_text()
    assert "the config file is empty; for a config without targets write 'targets: []'" \
        in p.log_text()
    pgfix.write_owned(Path(cfgpath), f"targets: []\nqueries: [{QUERIES}/server.yaml]\n")
    p.reload()
    assert wait_for(lambda: p.scrape().sample("pgpulse_config_last_reload_successful") == 1)
    assert p.scrape().samples("pg_up") == []


def test_statement_texts_show_no_password_literals(pg, pgpulse):
    secrets = ["pw-LEAK-7731", "pw-LEAK-e'sc", "pw-LEAK-dollar"]
    pg.psql("SELECT pg_stat_statements_reset()")
    pg.psql("CREATE ROLE leaky1 PASSWORD 'pw-LEAK-7731'")
    pg.psql("ALTER ROLE leaky1 PASSWORD E'pw-LEAK-e\\'sc'")
    pg.psql("CREATE ROLE leaky2 PASSWORD $q$pw-LEAK-dollar$q$")
    try:
        cfg = ("targets:\n  - name: main\n"
               f"    url: {pg.dsn(password=None)}\n    password_env: MONITOR_PW\n"
               "    tags: [statement_texts]\n"
               f"queries: [{QUERIES}/statements.yaml]\n")
        p = pgpulse(config=cfg, env=ENV)
        page = p.scrape()
        texts = [s.labels["query"] for s in page.samples("pg_stat_statements_query_info")]
        assert "CREATE ROLE leaky1 PASSWORD '***'" in texts, texts
        assert "ALTER ROLE leaky1 PASSWORD '***'" in texts, texts
        assert "CREATE ROLE leaky2 PASSWORD $$***$$" in texts, texts
        for s in secrets:
            assert s not in page
    finally:
        pg.psql("DROP ROLE IF EXISTS leaky1")
        pg.psql("DROP ROLE IF EXISTS leaky2")
