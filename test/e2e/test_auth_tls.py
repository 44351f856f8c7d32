"""Client certificates and SIGHUP reloads (issue 4) over real TLS.

--client-ca: a handshake needs a certificate from the CA; its subject CN
names the user for roles and the access log, unless Basic credentials
(with --auth) name another.  SIGHUP reloads the user file, the server's
certificate and key, and the client CA, without dropping a connection;
a file that fails to load leaves the old one in force.

Certificates and CAs are made by openssl in a folder of the test's own,
user files by htpasswd.  Every file the server reads is readable by
nobody, who it runs as when the tests run as root.  Files are replaced
the way a careful admin does it (write beside, then rename over).
"""

import base64
import collections
import hashlib
import os
import pathlib
import re
import shutil
import signal
import ssl
import tempfile
import threading
import time

import pytest

from ferrylib import (HTTPError, ResponseReader, build_request,
                      client_context, curl_status, run, tcp_connect,
                      write_file)

REALM = 'Basic realm="ferry", charset="UTF-8"'

LOG_RE = re.compile(
    r'^(?P<host>\S+) - (?P<user>\S+) \[(?P<time>[^\]]+)\] '
    r'"(?P<request>[^"]*)" (?P<status>\d{3}) (?P<bytes>\d+|-) '
    r'"(?P<referer>[^"]*)" "(?P<agent>[^"]*)"$')

AUTH_RELOADED = "auth: reloaded"
AUTH_KEPT = "the old user file stays in force"
TLS_RELOADED = "tls: reloaded"
TLS_KEPT = "tls: reload failed, keeping the old certificate"

# Errors a refused handshake may show a client as.
REFUSED = (ssl.SSLError, ConnectionResetError, BrokenPipeError,
           ConnectionAbortedError)

PASSWORDS = {"alice": "secret-a", "bob": "pw-bob"}

NEWKEY = {
    "p256": ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
    "p384": ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"],
    "rsa": ["-newkey", "rsa:2048"],
}

CLIENT_EXT = ("basicConstraints=CA:FALSE\n"
              "keyUsage=critical,digitalSignature\n"
              "extendedKeyUsage=clientAuth\n")

Ident = collections.namedtuple("Ident", "cert key cn")


# --- making certificates -----------------------------------------------------

def openssl(args, timeout=60):
    r = run(["openssl", *args], timeout=timeout)
    assert r.returncode == 0, (args, r.stderr.decode("utf-8", "replace"))
    return r


def readable(*paths):
    for p in paths:
        p.chmod(0o644)      # ferry runs as nobody in these tests


def make_ca(folder, name, kind="p256"):
    key, crt = folder / (name + "-key.pem"), folder / (name + ".pem")
    openssl(["req", "-x509", *NEWKEY[kind], "-nodes", "-keyout", str(key),
             "-out", str(crt), "-subj", "/CN=ferry test " + name,
             "-days", "2", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    readable(crt)
    return crt, key


def make_client(folder, ca, name, subject, kind="p256"):
    """A client certificate for SUBJECT signed by CA (cert, key)."""
    key, crt = folder / (name + "-key.pem"), folder / (name + ".pem")
    csr, ext = folder / (name + ".csr"), folder / (name + ".ext")
    ext.write_text(CLIENT_EXT)
    openssl(["req", "-new", *NEWKEY[kind], "-nodes", "-keyout", str(key),
             "-out", str(csr), "-subj", subject, "-utf8"])
    openssl(["x509", "-req", "-in", str(csr), "-CA", str(ca[0]),
             "-CAkey", str(ca[1]), "-set_serial",
             "0x" + os.urandom(8).hex(), "-days", "2", "-extfile", str(ext),
             "-out", str(crt)])
    readable(crt, key)
    return crt, key


def make_server_pair(folder, name):
    """A self-signed P-256 server certificate and key."""
    key, crt = folder / (name + "-key.pem"), folder / (name + ".pem")
    openssl(["req", "-x509", *NEWKEY["p256"], "-nodes", "-keyout",
             str(key), "-out", str(crt), "-subj", "/CN=localhost", "-days",
             "2", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
    readable(crt, key)
    return crt, key


def der_sha256(pem_path):
    der = ssl.PEM_cert_to_DER_cert(pathlib.Path(pem_path).read_text())
    return hashlib.sha256(der).hexdigest()


def colon_hex(hexdigest):
    return ":".join(hexdigest[i:i + 2] for i in range(0, 64, 2)).upper()


class PKI:
    """CA A with clients of each key type, carol, dave and odd names;
    CA B with a carol of its own."""

    def __init__(self, folder):
        self.dir = folder
        self.ca_a = make_ca(folder, "ca-a")
        self.ca_b = make_ca(folder, "ca-b")
        self.kinds = {}
        for kind in NEWKEY:
            cn = "user-" + kind
            self.kinds[kind] = self._client(self.ca_a, cn, "/CN=" + cn, kind)
        self.carol = self._client(self.ca_a, "carol", "/CN=carol")
        self.dave = self._client(self.ca_a, "dave", "/CN=dave", "p384")
        self.carol_b = self._client(self.ca_b, "carol", "/CN=carol",
                                    name="carol-b")
        # a name with a space and quotes: one user, one log field
        self.odd = self._client(self.ca_a, 'eve "x" smith',
                                '/CN=eve "x" smith', name="odd")
        # two CNs: which one would name the user?
        self.two_cn = self._client(self.ca_a, None, "/CN=dave/CN=carol",
                                   name="two-cn")

    def _client(self, ca, cn, subject, kind="p256", name=None):
        name = name or cn
        crt, key = make_client(self.dir, ca, name, subject, kind)
        return Ident(crt, key, cn)


@pytest.fixture(scope="module")
def pki():
    folder = pathlib.Path(tempfile.mkdtemp(prefix="ferry-pki-"))
    folder.chmod(0o755)
    try:
        yield PKI(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# --- clients -----------------------------------------------------------------

def tls_context(ident=None):
    ctx = client_context()
    if ident is not None:
        ctx.load_cert_chain(str(ident.cert), str(ident.key))
    return ctx


class Client:
    """One TLS connection (with a client certificate if IDENT) that sends
    requests one after the other and reads each answer."""

    def __init__(self, port, ident=None, ctx=None, session=None,
                 timeout=10.0):
        self.port = port
        self.ctx = ctx or tls_context(ident)
        raw = tcp_connect(port, timeout=timeout)
        try:
            self.sock = self.ctx.wrap_socket(raw, server_hostname="localhost",
                                             session=session)
        except BaseException:
            raw.close()
            raise
        self.reader = ResponseReader(self.sock, 0)

    def request(self, path="/", method="GET", headers=(), body=None,
                close=False, timeout=10.0):
        hdrs = list(headers.items() if isinstance(headers, dict)
                    else headers)
        if body is not None:
            hdrs.append(("Content-Length", str(len(body))))
        self.sock.sendall(build_request(path, method, hdrs, port=self.port,
                                        close=close) + (body or b""))
        self.reader.deadline = time.monotonic() + timeout
        r = self.reader.read_response(method)
        if r is None:
            raise HTTPError("connection closed before an answer to %s %s"
                            % (method, path))
        return r

    def peer_sha256(self):
        return hashlib.sha256(self.sock.getpeercert(binary_form=True)) \
            .hexdigest()

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def once(port, ident=None, path="/", method="GET", headers=(), body=None):
    """One request on a connection of its own."""
    with Client(port, ident) as c:
        return c.request(path, method, headers, body, close=True)


def refusal(port, ident=None, ctx=None, session=None):
    """Why the server refused this client: the handshake's error, or, if
    the client thought it done (a resumed session ends with the client's
    Finished), the error or EOF instead of an answer.  Fails the test if
    the server answers."""
    try:
        c = Client(port, ident, ctx=ctx, session=session)
    except REFUSED as e:
        return "handshake: %r" % e
    with c:
        try:
            r = c.request("/", close=True)
        except REFUSED + (HTTPError,) as e:
            return "after handshake: %r" % e
    pytest.fail("server answered a client it should refuse: %r" % r)


def cert_args(ident):
    return ["--cert", str(ident.cert), "--key", str(ident.key)]


def curl_get(f, ident=None, path="/"):
    extra = cert_args(ident) if ident else []
    return curl_status(f.url + path, extra=extra)


def basic(name, password):
    token = base64.b64encode(("%s:%s" % (name, password)).encode()).decode()
    return {"Authorization": "Basic " + token}


def htpasswd_line(name, password):
    r = run(["htpasswd", "-nbB", name, password], timeout=60)
    assert r.returncode == 0, r.stderr
    line = r.stdout.decode().strip()
    assert line.startswith(name + ":$2y$"), line
    return line


@pytest.fixture(scope="module")
def need_htpasswd():
    if not shutil.which("htpasswd"):
        pytest.fail("htpasswd missing: apt-get install apache2-utils")


def replace_file(path, data):
    """Write DATA beside PATH and rename it over PATH, readable by all."""
    path = pathlib.Path(path)
    tmp = path.with_name(".new-" + path.name)
    write_file(tmp, data)
    tmp.chmod(0o644)
    os.replace(tmp, path)


def write_users(path, lines):
    replace_file(path, "".join(l + "\n" for l in lines))


def log_entries(f, count, wait=5.0):
    """The access log's lines, parsed; fails on a line that does not
    parse."""
    lines = f.access_lines(wait=wait, count=count)
    out = []
    for line in lines:
        m = LOG_RE.match(line)
        assert m, "access log line does not parse: %r" % line
        req = m["request"].split()
        out.append((req[0], req[1], m["status"], m["user"]))
    assert len(out) >= count, out
    return out


def wait_stderr(f, needle, count, wait=10.0):
    """Wait until NEEDLE is in f's stderr COUNT times."""
    deadline = time.monotonic() + wait
    while f.stderr().count(needle) < count:
        if time.monotonic() > deadline:
            pytest.fail("%r not %d times in stderr after %.0f s:\n%s"
                        % (needle, count, wait, f.stderr()[-3000:]))
        time.sleep(0.02)


def hup(f, needle, wait=10.0):
    """SIGHUP F and wait for the NEEDLE line that answers it."""
    before = f.stderr().count(needle)
    os.kill(f.pid, signal.SIGHUP)
    wait_stderr(f, needle, before + 1, wait)


def share_file(f, name="hello.txt", data=b"hello\n"):
    write_file(f.path(name), data)
    return data


# --- 1. client certificates --------------------------------------------------

@pytest.mark.limit(90)
@pytest.mark.parametrize("kind", ["p256", "p384", "rsa"])
def test_client_cert_accepted(ferry, pki, kind):
    """A certificate from the CA with each key type: python and curl both
    get in, and the log names the CN."""
    ident = pki.kinds[kind]
    f = ferry("--client-ca", str(pki.ca_a[0]))
    data = share_file(f)
    r = once(f.port, ident, "/hello.txt")
    assert r.status == 200, r
    assert r.body == data
    code, body, res = curl_get(f, ident, "/hello.txt")
    assert code == 200, res.stderr
    assert body == data
    got = log_entries(f, 2)
    assert got == [("GET", "/hello.txt", "200", ident.cn)] * 2, got


@pytest.mark.limit(90)
def test_client_cert_refused(ferry, pki):
    """No certificate, or one from another CA (even with a name the
    server knows), fails the handshake; good clients still get in."""
    f = ferry("--client-ca", str(pki.ca_a[0]))
    share_file(f)
    why = [refusal(f.port, None), refusal(f.port, pki.carol_b)]
    assert all(w.startswith("handshake:") for w in why), why
    for ident in (None, pki.carol_b):
        code, _, res = curl_get(f, ident)
        assert code == 0 and res.returncode != 0, (ident, code, res.stderr)
    assert once(f.port, pki.carol, "/hello.txt").status == 200
    code, _, res = curl_get(f, pki.carol, "/hello.txt")
    assert code == 200, res.stderr
    assert f.running()
    got = log_entries(f, 2)
    assert got == [("GET", "/hello.txt", "200", "carol")] * 2, got


@pytest.mark.limit(90)
def test_client_cert_writers(wferry, pki):
    """--writers carol: carol's certificate writes, dave's only reads."""
    f = wferry("--client-ca", str(pki.ca_a[0]), "--writers", "carol")
    r = once(f.port, pki.carol, "/c.txt", "PUT", body=b"from carol")
    assert r.status == 201, r
    assert f.path("c.txt").read_bytes() == b"from carol"
    r = once(f.port, pki.dave, "/d.txt", "PUT", body=b"from dave")
    assert r.status == 403, r
    r = once(f.port, pki.dave, "/c.txt", "PUT", body=b"replaced")
    assert r.status == 403, r
    assert not f.path("d.txt").exists()
    assert f.path("c.txt").read_bytes() == b"from carol"
    r = once(f.port, pki.dave, "/c.txt")
    assert (r.status, r.body) == (200, b"from carol"), r
    code, _, res = curl_status(f.url + "/k.txt", extra=[
        *cert_args(pki.carol), "-T", "-"])
    assert code == 201, res.stderr
    got = log_entries(f, 5)
    assert got == [("PUT", "/c.txt", "201", "carol"),
                   ("PUT", "/d.txt", "403", "dave"),
                   ("PUT", "/c.txt", "403", "dave"),
                   ("GET", "/c.txt", "200", "dave"),
                   ("PUT", "/k.txt", "201", "carol")], got


@pytest.mark.limit(90)
def test_client_cert_with_auth(wferry, pki, tmp, need_htpasswd):
    """With --auth too, Basic credentials sent over a certificate are
    checked and name the user instead of the certificate."""
    users = tmp / "users"
    write_users(users, [htpasswd_line("alice", PASSWORDS["alice"])])
    f = wferry("--client-ca", str(pki.ca_a[0]), "--auth", str(users),
               "--writers", "carol")
    data = share_file(f)
    alice = basic("alice", PASSWORDS["alice"])
    wrong = basic("alice", "not-her-password")

    r = once(f.port, pki.carol, "/hello.txt")
    assert (r.status, r.body) == (200, data), r
    r = once(f.port, pki.carol, "/hello.txt", headers=alice)
    assert (r.status, r.body) == (200, data), r
    r = once(f.port, pki.carol, "/hello.txt", headers=wrong)
    assert r.status == 401, r
    assert r.header_all("WWW-Authenticate") == [REALM], r.headers
    # alice is the user now, and not a writer, though carol is
    r = once(f.port, pki.carol, "/a.txt", "PUT", headers=alice, body=b"a")
    assert r.status == 403, r
    r = once(f.port, pki.carol, "/c.txt", "PUT", body=b"c")
    assert r.status == 201, r
    assert not f.path("a.txt").exists()
    # the certificate stays required: a password alone does not get in
    why = refusal(f.port, None)
    assert why.startswith("handshake:"), why

    got = log_entries(f, 5)
    assert got[0] == ("GET", "/hello.txt", "200", "carol"), got
    assert got[1] == ("GET", "/hello.txt", "200", "alice"), got
    assert got[2][:3] == ("GET", "/hello.txt", "401"), got
    assert got[3] == ("PUT", "/a.txt", "403", "alice"), got
    assert got[4] == ("PUT", "/c.txt", "201", "carol"), got
    f.stop()
    for secret in ("not-her-password", PASSWORDS["alice"],
                   wrong["Authorization"].split()[1],
                   alice["Authorization"].split()[1]):
        assert secret not in f.stdout() + f.stderr(), secret


@pytest.mark.limit(60)
def test_client_cert_two_cns_names_nobody(wferry, pki):
    """A subject with two CNs (dave, then carol) must not pass for
    carol, whichever CN a parser would pick."""
    f = wferry("--client-ca", str(pki.ca_a[0]), "--writers", "carol")
    r = once(f.port, pki.two_cn, "/x.txt", "PUT", body=b"x")
    assert r.status in (401, 403), r
    assert not f.path("x.txt").exists()
    got = log_entries(f, 1)
    assert got[0][3] not in ("carol", "dave"), got


@pytest.mark.limit(60)
def test_client_cert_odd_cn_one_log_field(ferry, pki):
    """A CN with a space and quotes is still one field of the access log:
    the line parses as Combined Log Format."""
    f = ferry("--client-ca", str(pki.ca_a[0]))
    share_file(f)
    r = once(f.port, pki.odd, "/hello.txt")
    assert r.status == 200, r
    lines = f.access_lines(count=1)
    assert len(lines) == 1, lines
    m = LOG_RE.match(lines[0])
    assert m, "access log line does not parse: %r" % lines[0]
    assert m["request"] == "GET /hello.txt HTTP/1.1", lines[0]
    assert m["status"] == "200", lines[0]


# --- 2. SIGHUP: the user file under load -----------------------------------

class Load:
    """Threads that send alice's GETs until told to stop (and at least
    MIN each), over keep-alive connections or a new one per request, and
    record every outcome."""

    def __init__(self, port, headers, threads=4, minimum=50):
        self.port = port
        self.headers = headers
        self.minimum = minimum
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.results = []       # (monotonic time, thread, status or error)
        self.threads = [threading.Thread(target=self._run,
                                         args=(i, i % 2 == 0), daemon=True)
                        for i in range(threads)]

    def start(self):
        for t in self.threads:
            t.start()

    def _note(self, i, what):
        with self.lock:
            self.results.append((time.monotonic(), i, what))

    def _run(self, i, keep_alive):
        done, conn = 0, None
        deadline = time.monotonic() + 60
        while (done < self.minimum or not self.stop.is_set()) and \
                time.monotonic() < deadline:
            try:
                if conn is None:
                    conn = Client(self.port)
                r = conn.request("/hello.txt", headers=self.headers,
                                 close=not keep_alive)
                self._note(i, r.status if r.body == b"hello\n"
                           else "bad body %r" % r.body[:40])
                if not keep_alive or \
                        (r.header("Connection") or "").lower() == "close":
                    conn.close()
                    conn = None
            except Exception as e:      # noqa: BLE001 - recorded as failed
                self._note(i, "%s %r" % ("keep-alive" if keep_alive
                                         else "new", e))
                if conn is not None:
                    conn.close()
                conn = None
            done += 1
        if conn is not None:
            conn.close()

    def join(self, timeout=90):
        for t in self.threads:
            t.join(max(0.1, timeout))
        return not any(t.is_alive() for t in self.threads)


@pytest.mark.limit(150)
def test_sighup_reloads_users_under_load(ferry, tmp, need_htpasswd):
    users = tmp / "users"
    alice = htpasswd_line("alice", PASSWORDS["alice"])
    bob = htpasswd_line("bob", PASSWORDS["bob"])
    write_users(users, [alice])
    f = ferry("--auth", str(users), "-q")
    share_file(f)
    assert once(f.port, path="/hello.txt",
                headers=basic("bob", PASSWORDS["bob"])).status == 401

    versions = [
        [alice, bob],
        ["# with bob", bob, "", alice],
        [htpasswd_line("alice", PASSWORDS["alice"]), bob],  # new salt
        ["# last", alice, bob],
    ]
    load = Load(f.port, basic("alice", PASSWORDS["alice"]))
    load.start()
    time.sleep(0.3)
    hups = []
    for lines in versions * 2:
        write_users(users, lines)
        hups.append(time.monotonic())
        hup(f, AUTH_RELOADED)
        time.sleep(0.15)
    load.stop.set()
    assert load.join(90), "load threads still running"

    res = load.results
    bad = [(round(t - hups[0], 3), i, w) for t, i, w in res if w != 200]
    assert not bad, "%d of %d requests failed: %s" % (len(bad), len(res),
                                                      bad[:20])
    assert len(res) >= 200, len(res)
    during = [r for r in res if hups[0] <= r[0] <= hups[-1]]
    assert len(during) >= 10, "too few requests during the reloads: %d" \
        % len(during)
    assert f.stderr().count(AUTH_RELOADED) == len(hups), f.stderr()
    print("%d requests, %d during %d reloads over %.2f s"
          % (len(res), len(during), len(hups), hups[-1] - hups[0]))

    r = once(f.port, path="/hello.txt",
             headers=basic("bob", PASSWORDS["bob"]))
    assert r.status == 200, r

    # a plaintext line on line 3: refused, the old table stays
    write_users(users, [alice, bob, "mallory:plaintext-pw"])
    hup(f, AUTH_KEPT)
    err = f.stderr()
    why = [l for l in err.splitlines() if AUTH_KEPT in l][-1]
    assert "%s:3" % users in why, why
    assert "plaintext-pw" not in err
    for name in ("alice", "bob"):
        r = once(f.port, path="/hello.txt",
                 headers=basic(name, PASSWORDS[name]))
        assert r.status == 200, (name, r)
    r = once(f.port, path="/hello.txt",
             headers=basic("mallory", "plaintext-pw"))
    assert r.status == 401, r

    # a file that cannot be read at all: the same
    users.unlink()
    hup(f, AUTH_KEPT)
    r = once(f.port, path="/hello.txt",
             headers=basic("bob", PASSWORDS["bob"]))
    assert r.status == 200, r
    # and a good file again is taken
    write_users(users, [alice])
    hup(f, AUTH_RELOADED)
    r = once(f.port, path="/hello.txt",
             headers=basic("bob", PASSWORDS["bob"]))
    assert r.status == 401, r
    assert once(f.port, path="/hello.txt",
                headers=basic("alice", PASSWORDS["alice"])).status == 200


# --- 2. SIGHUP: certificate and key ----------------------------------------

@pytest.fixture
def server_pairs(tmp):
    """Three server pairs, and the live --cert/--key files (pair 0)."""
    d = tmp / "tls"
    d.mkdir()
    d.chmod(0o755)
    pairs = [make_server_pair(d, "pair%d" % i) for i in range(3)]
    live = (d / "cert.pem", d / "key.pem")
    install_pair(live, pairs[0])
    return pairs, live


def install_pair(live, pair):
    replace_file(live[1], pair[1].read_bytes())
    replace_file(live[0], pair[0].read_bytes())


TLS_OWN_KEPT = "tls: the self-signed identity stays as it is"


@pytest.mark.limit(60)
@pytest.mark.parametrize("as_root", [False, True])
def test_sighup_keeps_own_identity(ferry, as_root):
    """Without --cert/--key, SIGHUP leaves ferry's own identity alone.
    Started as root, its key (0600, root's) is out of reach of nobody,
    so re-reading it could only fail with a warning on every reload."""
    if as_root and os.geteuid() != 0:
        pytest.skip("needs root to start as root")
    f = ferry(as_root=as_root)
    data = share_file(f)
    before = Client(f.port)
    try:
        fpr = before.peer_sha256()
        hup(f, TLS_OWN_KEPT)
        assert TLS_KEPT not in f.stderr(), f.stderr()
        after = Client(f.port)
        try:
            assert after.peer_sha256() == fpr
            r = after.request("/hello.txt")
            assert r.status == 200 and r.body == data
        finally:
            after.close()
    finally:
        before.close()


@pytest.mark.limit(120)
def test_sighup_reloads_certificate(ferry, server_pairs):
    pairs, live = server_pairs
    fpr = [der_sha256(p[0]) for p in pairs]
    f = ferry("--cert", str(live[0]), "--key", str(live[1]))
    data = share_file(f)
    old = Client(f.port)
    try:
        assert old.peer_sha256() == fpr[0]
        assert old.request("/hello.txt").status == 200

        install_pair(live, pairs[1])
        hup(f, TLS_RELOADED)
        line = [l for l in f.stderr().splitlines() if TLS_RELOADED in l][-1]
        assert colon_hex(fpr[1]) in line.upper(), line
        r = old.request("/hello.txt")
        assert (r.status, r.body) == (200, data), r
        with Client(f.port) as c:
            assert c.peer_sha256() == fpr[1]
            assert c.request("/hello.txt").status == 200

        # broken files: each leaves pair 1 in force
        broken = [
            ("garbage certificate",
             lambda: replace_file(live[0], b"-----BEGIN CERTIFICATE-----\n"
                                  b"bm90IGEgY2VydA==\n"
                                  b"-----END CERTIFICATE-----\n")),
            ("garbage key", lambda: (install_pair(live, pairs[1]),
                                     replace_file(live[1], b"junk\n"))),
            ("key of another certificate",
             lambda: (replace_file(live[0], pairs[2][0].read_bytes()),
                      replace_file(live[1], pairs[1][1].read_bytes()))),
            ("missing key", lambda: (install_pair(live, pairs[2]),
                                     live[1].unlink())),
        ]
        for what, spoil in broken:
            spoil()
            before = f.stderr().count(TLS_RELOADED)
            hup(f, TLS_KEPT)
            assert f.stderr().count(TLS_RELOADED) == before, \
                (what, f.stderr()[-2000:])
            with Client(f.port) as c:
                assert c.peer_sha256() == fpr[1], what
                assert c.request("/hello.txt").status == 200, what
            r = old.request("/hello.txt")
            assert r.status == 200, (what, r)
            code, _, res = curl_status(f.url + "/hello.txt")
            assert code == 200, (what, res.stderr)

        # good files again: taken
        install_pair(live, pairs[2])
        hup(f, TLS_RELOADED)
        with Client(f.port) as c:
            assert c.peer_sha256() == fpr[2]
            assert c.request("/hello.txt").status == 200
        assert old.peer_sha256() == fpr[0]
        assert old.request("/hello.txt").status == 200
    finally:
        old.close()


# --- SIGHUP: the client CA -------------------------------------------------

@pytest.mark.limit(120)
def test_sighup_reloads_client_ca(ferry, pki, tmp):
    """A new client CA takes effect for new handshakes, including resumed
    sessions of certificates it no longer vouches for; connections made
    before stay up."""
    d = tmp / "ca"
    d.mkdir()
    d.chmod(0o755)
    live = d / "clients.pem"
    replace_file(live, pki.ca_a[0].read_bytes())
    f = ferry("--client-ca", str(live))
    share_file(f)

    ctx = tls_context(pki.carol)
    with Client(f.port, ctx=ctx) as first:
        assert first.request("/hello.txt").status == 200
        session = first.sock.session
    with Client(f.port, ctx=ctx, session=session) as again:
        assert again.request("/hello.txt").status == 200
        resumed = again.sock.session_reused
    old = Client(f.port, pki.dave)
    try:
        assert old.request("/hello.txt").status == 200

        replace_file(live, pki.ca_b[0].read_bytes())
        hup(f, TLS_RELOADED)
        assert old.request("/hello.txt").status == 200
        why = refusal(f.port, pki.carol)
        assert why.startswith("handshake:"), why
        if resumed:
            refusal(f.port, ctx=ctx, session=session)
        r = once(f.port, pki.carol_b, "/hello.txt")
        assert r.status == 200, r

        # a broken CA file leaves CA B in force
        replace_file(live, b"not a CA\n")
        hup(f, TLS_KEPT)
        assert once(f.port, pki.carol_b, "/hello.txt").status == 200
        refusal(f.port, pki.dave)
        assert old.request("/hello.txt").status == 200
    finally:
        old.close()
    assert resumed, "no session resumption before the reload: the " \
        "resumed-session check was not exercised"
    got = log_entries(f, 5)
    assert ("GET", "/hello.txt", "200", "carol") in got, got
