"""TLS: versions, suites, groups, ALPN, resumption, identity, pinning."""

import base64
import hashlib
import os
import re
import shlex
import socket
import ssl
import stat
import subprocess
import time

import pytest

from conftest import make_dir, run_ferry
from ferrylib import (curl, handshake_ok, run, s_client,
                      tcp_connect, tls_connect, write_file)


def openssl_fingerprint(cert):
    r = run(["openssl", "x509", "-in", str(cert), "-noout", "-fingerprint",
             "-sha256"], timeout=10)
    assert r.returncode == 0, r.stderr
    return r.stdout.decode().strip().split("=", 1)[1].upper()


def openssl_pin(cert):
    r = run(["openssl", "x509", "-in", str(cert), "-noout", "-pubkey"],
            timeout=10)
    der = run(["openssl", "pkey", "-pubin", "-outform", "der"],
              input=r.stdout, timeout=10).stdout
    return "sha256//" + base64.b64encode(hashlib.sha256(der).digest()).decode()


def make_cert(folder, name, kind="rsa", san="DNS:localhost,IP:127.0.0.1"):
    """A self-signed certificate and key made by openssl."""
    key = folder / (name + "-key.pem")
    crt = folder / (name + "-cert.pem")
    newkey = {"rsa": ["-newkey", "rsa:2048"],
              "p256": ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
              "p384": ["-newkey", "ec", "-pkeyopt",
                       "ec_paramgen_curve:P-384"]}[kind]
    r = run(["openssl", "req", "-x509", *newkey, "-nodes", "-keyout",
             str(key), "-out", str(crt), "-subj", "/CN=localhost", "-days",
             "2", "-addext", "subjectAltName=" + san], timeout=60)
    assert r.returncode == 0, r.stderr
    key.chmod(0o644)    # ferry runs as nobody in these tests
    return crt, key


# --- protocol versions and suites --------------------------------------------

def test_tls12_works(srv):
    rc, out = s_client(srv.port, ["-tls1_2"])
    assert handshake_ok(out), out
    assert re.search(r"Protocol\s*:\s*TLSv1\.2", out), out


@pytest.mark.parametrize("flag", ["-tls1", "-tls1_1"])
def test_old_tls_refused(srv, flag):
    # SECLEVEL=0 so that the client really offers the old version.
    rc, out = s_client(srv.port, [flag, "-cipher", "DEFAULT:@SECLEVEL=0"])
    assert not handshake_ok(out), out


def test_tls13_refused(srv):
    rc, out = s_client(srv.port, ["-tls1_3"])
    assert not handshake_ok(out), out


def test_default_suite_is_ecdhe_aead(srv):
    rc, out = s_client(srv.port, [])
    assert handshake_ok(out), out
    cipher = re.search(r"Cipher is (\S+)", out).group(1)
    assert cipher.startswith("ECDHE-"), cipher
    assert "GCM" in cipher or "CHACHA20" in cipher, cipher


@pytest.mark.parametrize("cipher", [
    "AES128-SHA", "AES256-GCM-SHA384", "ECDHE-ECDSA-AES128-SHA",
    "ECDHE-ECDSA-AES256-SHA384", "ECDHE-ECDSA-AES128-SHA256",
])
def test_weak_suites_refused(srv, cipher):
    rc, out = s_client(srv.port, ["-tls1_2", "-cipher",
                                  cipher + ":@SECLEVEL=0"])
    assert not handshake_ok(out), out


@pytest.mark.parametrize("cipher", [
    "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
])
def test_aead_suites_accepted(srv, cipher):
    rc, out = s_client(srv.port, ["-tls1_2", "-cipher", cipher])
    assert handshake_ok(out), out
    assert "Cipher is " + cipher in out, out


def test_temp_key_x25519_by_default(srv):
    rc, out = s_client(srv.port, ["-tls1_2"])
    assert handshake_ok(out), out
    assert re.search(r"Server Temp Key: X25519", out), out


def test_p256_when_offered(srv):
    rc, out = s_client(srv.port, ["-tls1_2", "-groups", "P-256"])
    assert handshake_ok(out), out
    assert re.search(r"Server Temp Key: ECDH, (prime256v1|P-256)", out), out


# --- ALPN --------------------------------------------------------------------

@pytest.mark.parametrize("offer,expect", [
    (["http/1.1"], "http/1.1"),
    (["http/1.0"], "http/1.0"),
    (["h2", "http/1.1"], "http/1.1"),
])
def test_alpn_accepted(srv, offer, expect):
    write_file(srv.path("a.txt"), "alpn")
    s = tls_connect(srv.port, alpn=offer)
    try:
        assert s.selected_alpn_protocol() == expect
        s.sendall(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n"
                  b"Connection: close\r\n\r\n")
        s.settimeout(10)
        assert s.recv(100).startswith(b"HTTP/1.1 ")
    finally:
        s.close()


def test_alpn_h2_only_not_selected(srv):
    try:
        s = tls_connect(srv.port, alpn=["h2"])
    except (ssl.SSLError, ConnectionError):
        return      # refused with no_application_protocol: fine
    try:
        assert s.selected_alpn_protocol() in (None, ""), \
            "server selected %r" % s.selected_alpn_protocol()
    finally:
        s.close()


def test_curl_http10(srv):
    write_file(srv.path("a.txt"), "hello")
    r = curl(["-0", "-v", "-o", "-", srv.url + "/a.txt"])
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"hello"
    assert b"HTTP/1.0" in r.stderr or b"HTTP/1.1 200" in r.stderr


# --- renegotiation and resumption --------------------------------------------

def test_no_renegotiation(srv):
    """s_client's R command: the server must not run a second handshake,
    so the request typed after it never gets an answer."""
    write_file(srv.path("a.txt"), "hello")
    p = subprocess.Popen(
        ["openssl", "s_client", "-connect", "127.0.0.1:%d" % srv.port,
         "-tls1_2", "-crlf"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT)

    def say(data):
        try:
            p.stdin.write(data)
            p.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass

    try:
        time.sleep(1.0)
        say(b"R\n")
        time.sleep(1.5)
        say(b"GET /a.txt HTTP/1.1\nHost: x\nConnection: close\n\n")
        time.sleep(1.5)
        out = p.communicate(timeout=10)[0]
    except subprocess.TimeoutExpired:
        p.kill()
        out = p.communicate(timeout=5)[0]
    text = out.decode("utf-8", "replace")
    assert "RENEGOTIATING" in text, text
    assert "HTTP/1.1 200" not in text, \
        "renegotiation went through and the request was answered:\n" + text


@pytest.mark.parametrize("mode", ["ticket", "cache"])
def test_session_resumption(srv, tmp, mode):
    sess = tmp / ("sess-" + mode)
    extra = ["-no_ticket"] if mode == "cache" else []
    rc, out = s_client(srv.port, ["-tls1_2", "-sess_out", str(sess), *extra])
    assert handshake_ok(out) and "New, TLSv1.2" in out, out
    rc, out = s_client(srv.port, ["-tls1_2", "-sess_in", str(sess), *extra])
    assert handshake_ok(out), out
    assert "Reused, TLSv1.2" in out, out


# --- identity ----------------------------------------------------------------

def test_startup_lines(srv):
    err = srv.stderr()
    assert "listening on https://127.0.0.1:%d/" % srv.port in err, err
    assert re.search(r"fingerprint", err), err
    assert "--pinnedpubkey" in err and "sha256//" in err, err


def test_printed_pin_line_works_as_printed(srv):
    """The curl line ferry prints names the address it listens on (here
    127.0.0.1, not localhost, which may lead to ::1) and works as is."""
    write_file(srv.path("index.txt"), "x")
    line = next(l for l in srv.stderr().splitlines() if "pin with:" in l)
    cmd = shlex.split(line.split("pin with:", 1)[1])
    assert cmd[0] == "curl" and cmd[-1] == "https://127.0.0.1:%d/" % srv.port
    r = run(cmd + ["-sS", "--max-time", "10", "-o", "/dev/null", "-w",
                   "%{http_code}"], timeout=20)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"200"


def test_fingerprint_matches_openssl(srv):
    assert srv.cert.is_file()
    assert srv.fingerprint == openssl_fingerprint(srv.cert)


def test_pin_matches_openssl(srv):
    assert srv.pin == openssl_pin(srv.cert)


def test_curl_pinned(srv):
    write_file(srv.path("a.txt"), "pinned")
    r = curl(["--pinnedpubkey", srv.pin, "-o", "-", srv.url + "/a.txt"])
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"pinned"
    wrong = "sha256//" + base64.b64encode(b"\0" * 32).decode()
    r = curl(["--pinnedpubkey", wrong, "-o", "-", srv.url + "/a.txt"])
    assert r.returncode == 90, (r.returncode, r.stderr)
    assert r.stdout == b""


def test_generated_key_mode_and_files(srv):
    key = srv.xdg / "ferry" / "key.pem"
    cert = srv.xdg / "ferry" / "cert.pem"
    assert cert.is_file() and key.is_file()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    text = run(["openssl", "x509", "-in", str(cert), "-noout", "-text"],
               timeout=10).stdout.decode()
    assert "prime256v1" in text or "P-256" in text, text
    assert "ecdsa-with-SHA256" in text, text


def test_identity_survives_restart(ferry, tmp):
    xdg = make_dir(tmp, "xdg-keep")
    a = ferry(xdg=xdg)
    fpr, pin = a.fingerprint, a.pin
    cert_bytes = a.cert.read_bytes()
    key_bytes = a.key.read_bytes()
    mtimes = (a.cert.stat().st_mtime_ns, a.key.stat().st_mtime_ns)
    assert a.stop() == 0
    b = ferry(xdg=xdg)
    assert b.fingerprint == fpr
    assert b.pin == pin
    assert b.cert.read_bytes() == cert_bytes
    assert b.key.read_bytes() == key_bytes
    assert (b.cert.stat().st_mtime_ns, b.key.stat().st_mtime_ns) == mtimes
    assert stat.S_IMODE(b.key.stat().st_mode) == 0o600


def test_home_config_fallback(ferry, tmp):
    home = make_dir(tmp, "home")
    if os.geteuid() == 0:
        os.chown(home, 65534, 65534)
    f = ferry(env={"XDG_CONFIG_HOME": None, "HOME": str(home)})
    cert = home / ".config" / "ferry" / "cert.pem"
    assert cert.is_file()
    assert f.fingerprint == openssl_fingerprint(cert)


def test_san_covers_local_names(ferry):
    f = ferry(bind=("127.0.0.1", "::1"))
    text = run(["openssl", "x509", "-in", str(f.cert), "-noout", "-ext",
                "subjectAltName"], timeout=10).stdout.decode()
    assert "DNS:localhost" in text, text
    assert "IP Address:127.0.0.1" in text, text
    assert "IP Address:0:0:0:0:0:0:0:1" in text, text
    write_file(f.path("a.txt"), "san")
    ports = {h: p for h, p in f.listen}
    v4 = ports["127.0.0.1"]
    v6 = ports["[::1]"]
    for url, extra in [
        ("https://localhost:%d/a.txt" % v4,
         ["--resolve", "localhost:%d:127.0.0.1" % v4]),
        ("https://127.0.0.1:%d/a.txt" % v4, []),
        ("https://[::1]:%d/a.txt" % v6, ["-g"]),
    ]:
        r = curl([*extra, "-o", "-", url], cacert=f.cert)
        assert r.returncode == 0, (url, r.stderr)
        assert r.stdout == b"san"


# --- --cert / --key ----------------------------------------------------------

@pytest.mark.parametrize("kind", ["rsa", "p256", "p384"])
def test_own_certificate(ferry, tmp, kind):
    crt, key = make_cert(tmp, kind, kind)
    f = ferry("--cert", str(crt), "--key", str(key))
    write_file(f.path("a.txt"), kind)
    assert f.fingerprint == openssl_fingerprint(crt)
    r = curl(["--resolve", "localhost:%d:127.0.0.1" % f.port, "-o", "-",
              f.local_url + "/a.txt"], cacert=crt)
    assert r.returncode == 0, r.stderr
    assert r.stdout == kind.encode()
    rc, out = s_client(f.port, ["-tls1_2"])
    cipher = re.search(r"Cipher is (\S+)", out).group(1)
    assert cipher.startswith("ECDHE-"), cipher
    assert "GCM" in cipher or "CHACHA20" in cipher, cipher
    # No identity was generated when one was given.
    assert not (f.xdg / "ferry" / "key.pem").exists()


def test_rsa_no_static_rsa_kex(ferry, tmp):
    crt, key = make_cert(tmp, "rsa2", "rsa")
    f = ferry("--cert", str(crt), "--key", str(key))
    for cipher in ["AES128-GCM-SHA256", "AES256-GCM-SHA384", "AES128-SHA"]:
        rc, out = s_client(f.port, ["-tls1_2", "-cipher", cipher])
        assert not handshake_ok(out), (cipher, out)


def test_missing_cert_file(tmp):
    crt, key = make_cert(tmp, "ok", "p256")
    share = make_dir(tmp, "share")
    missing = str(tmp / "no-such-cert.pem")
    rc, out, err = run_ferry(["-b", "127.0.0.1", "-p", "0", "--cert",
                              missing, "--key", str(key), str(share)],
                             make_dir(tmp, "xdg"))
    assert rc == 1, (rc, err)
    assert missing in err, err


def test_missing_key_file(tmp):
    crt, key = make_cert(tmp, "ok", "p256")
    share = make_dir(tmp, "share")
    missing = str(tmp / "no-such-key.pem")
    rc, out, err = run_ferry(["-b", "127.0.0.1", "-p", "0", "--cert",
                              str(crt), "--key", missing, str(share)],
                             make_dir(tmp, "xdg"))
    assert rc == 1, (rc, err)
    assert missing in err, err


def test_mismatched_key(tmp):
    crt, _ = make_cert(tmp, "one", "p256")
    _, key = make_cert(tmp, "two", "p256")
    share = make_dir(tmp, "share")
    rc, out, err = run_ferry(["-b", "127.0.0.1", "-p", "0", "--cert",
                              str(crt), "--key", str(key), str(share)],
                             make_dir(tmp, "xdg"))
    assert rc == 1, (rc, err)
    assert str(key) in err or str(crt) in err, err


def test_garbage_key(tmp):
    crt, _ = make_cert(tmp, "one", "p256")
    key = tmp / "garbage.pem"
    write_file(key, "-----BEGIN EC PRIVATE KEY-----\nnope\n"
                    "-----END EC PRIVATE KEY-----\n")
    share = make_dir(tmp, "share")
    rc, out, err = run_ferry(["-b", "127.0.0.1", "-p", "0", "--cert",
                              str(crt), "--key", str(key), str(share)],
                             make_dir(tmp, "xdg"))
    assert rc == 1, (rc, err)
    assert str(key) in err, err


def test_cert_without_key_is_refused(tmp):
    crt, _ = make_cert(tmp, "one", "p256")
    share = make_dir(tmp, "share")
    rc, out, err = run_ferry(["-b", "127.0.0.1", "-p", "0", "--cert",
                              str(crt), str(share)], make_dir(tmp, "xdg"))
    assert rc in (1, 2), (rc, err)
    assert err.strip(), "no message"


# --- plain HTTP on the TLS port ----------------------------------------------

def test_plain_http_gets_readable_answer(srv):
    s = tcp_connect(srv.port)
    try:
        s.sendall(b"GET /x HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % srv.port)
        data = b""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except (socket.timeout, ConnectionResetError):
                break
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    assert data.startswith(b"HTTP/1."), data[:100]
    head = data.split(b"\r\n\r\n", 1)[0]
    assert all(32 <= c < 127 or c in (9, 10, 13) for c in head), head
    status = int(head.split()[1])
    assert status in (400, 301, 302, 307, 308), head
    if status != 400:
        loc = re.search(rb"\r\nLocation: *(\S+)", head, re.I)
        assert loc and loc.group(1).startswith(b"https://"), head
    # Answered like any request, it is logged like one.
    lines = srv.access_lines(count=1)
    assert len(lines) == 1, lines
    assert lines[0].startswith("127.0.0.1 - - ["), lines
    assert '"GET /x HTTP/1.1" %d ' % status in lines[0], lines


def test_plain_http_garbage_is_logged_as_400(srv):
    s = tcp_connect(srv.port)
    try:
        s.sendall(b"GARBAGE\x01 nonsense\r\n\r\n")
        s.settimeout(5)
        data = s.recv(65536)
    finally:
        s.close()
    assert data.startswith(b"HTTP/1.1 400 "), data[:100]
    body = data.split(b"\r\n\r\n", 1)[1]
    lines = srv.access_lines(count=1)
    assert len(lines) == 1, lines
    assert '"GARBAGE\\x01 nonsense" 400 %d ' % len(body) in lines[0], lines


def test_plain_http_with_curl(srv):
    r = run(["curl", "-sS", "--max-time", "10", "-o", "/dev/null", "-w",
             "%{http_code}", "http://127.0.0.1:%d/" % srv.port], timeout=20)
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() in ("400", "301", "302", "307", "308")
