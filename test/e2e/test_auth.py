"""Access control (issue 4) over real TLS: --auth users with bcrypt,
SHA-512-crypt and yescrypt hashes, --public-read, --writers, --drop-box,
refused user files, throttling of failed logins, the login cache, and
access logs free of secrets.

User files are made by the real tools (htpasswd from apache2-utils,
mkpasswd from whois), never by hand.  They sit outside the shared folder,
readable by nobody, who the server runs as when the tests run as root.
"""

import base64
import json
import os
import re
import shutil
import statistics
import subprocess
import threading
import time

import pytest

from conftest import (ferry_bin, give_to_server, make_dir, nobody_prefix,
                      server_env)
from ferrylib import (build_request, curl, exchange, fetch, put, run,
                      write_file)

REALM = 'Basic realm="ferry", charset="UTF-8"'

LOG_RE = re.compile(
    r'^(?P<host>\S+) - (?P<user>\S+) \[(?P<time>[^\]]+)\] '
    r'"(?P<request>[^"]*)" (?P<status>\d{3}) (?P<bytes>\d+|-) '
    r'"(?P<referer>[^"]*)" "(?P<agent>[^"]*)"$')

# name: (password, how its hash is made)
USERS = {
    "alice": ("secret-a", "bcrypt"),
    "bob": ("pw-bob", "sha-512"),
    "carol": ("pw-carol", "yescrypt"),
    "dave": ("pa:ss:word", "sha-512"),          # ':' in a password
    "erin": ("p\u00e4ssw\u00f6rd", "yescrypt"),  # UTF-8 password
}


def need_tools():
    for tool, pkg in (("htpasswd", "apache2-utils"), ("mkpasswd", "whois")):
        if not shutil.which(tool):
            pytest.fail("%s missing: apt-get install %s" % (tool, pkg))


def make_hash(name, password, kind, cost=None):
    """One "name:hash" line from the real tools."""
    need_tools()
    if kind == "bcrypt":
        cmd = ["htpasswd", "-nbB"] + (["-C", str(cost)] if cost else [])
        out = run(cmd + [name, password], timeout=60)
        assert out.returncode == 0, out.stderr
        line = out.stdout.decode().strip()
        assert line.startswith(name + ":$2y$"), line
        return line
    if kind == "md5-apr1":
        out = run(["htpasswd", "-nbm", name, password])
        line = out.stdout.decode().strip()
        assert line.startswith(name + ":$apr1$"), line
        return line
    method = {"sha-512": "sha-512", "yescrypt": "yescrypt", "md5": "md5"}[kind]
    out = run(["mkpasswd", "-m", method, "--stdin"],
              input=password.encode())
    assert out.returncode == 0, out.stderr
    h = out.stdout.decode().strip()
    prefix = {"sha-512": "$6$", "yescrypt": "$y$", "md5": "$1$"}[kind]
    assert h.startswith(prefix), h
    return "%s:%s" % (name, h)


_LINES = {}


def user_line(name):
    if name not in _LINES:
        password, kind = USERS[name]
        _LINES[name] = make_hash(name, password, kind)
    return _LINES[name]


def write_users(tmp, lines, fname="users"):
    """LINES (strings) into a user file outside any share, readable by
    the server whoever it runs as."""
    d = make_dir(tmp, "auth")
    p = d / fname
    p.write_text("".join(l + "\n" for l in lines), "utf-8")
    p.chmod(0o644)
    return p


@pytest.fixture
def users(tmp):
    """The user file with every user of USERS."""
    return write_users(tmp, ["# ferry test users", ""] +
                       [user_line(n) for n in USERS])


def basic(name, password):
    token = base64.b64encode(("%s:%s" % (name, password)).encode()).decode()
    return "Basic " + token


def login(name, password=None):
    """Headers with NAME's right password (or PASSWORD)."""
    if password is None:
        password = USERS[name][0]
    return {"Authorization": basic(name, password)}


def accept(kind, extra=None):
    h = {"Accept": kind}
    h.update(extra or {})
    return h


def assert_401(r):
    assert r.status == 401, r
    assert r.header_all("WWW-Authenticate") == [REALM], r.headers


def timed_fetch(*a, **kw):
    t0 = time.monotonic()
    r = fetch(*a, **kw)
    return r, time.monotonic() - t0


def listing_names(r):
    """Names a 200 listing shows, whatever its type."""
    ctype = (r.header("Content-Type") or "").lower()
    text = r.body.decode("utf-8")
    if "json" in ctype:
        doc = json.loads(text)
        if isinstance(doc, dict):
            doc = [v for v in doc.values() if isinstance(v, list)][0]
        return {e["name"].rstrip("/") for e in doc}
    if ctype.startswith("text/plain"):
        return {l.rstrip("/") for l in text.splitlines() if l.strip()}
    return set(re.findall(r'href="([^"?#/]+)/?"', text))


def listing_is_empty(r, secret_names):
    """No entry in R, and none of SECRET_NAMES anywhere in its body."""
    ctype = (r.header("Content-Type") or "").lower()
    body = r.body.decode("utf-8", "replace")
    for n in secret_names:
        assert n not in body, "%s visible in %s listing:\n%s" % (
            n, ctype, body)
    if "json" in ctype:
        assert listing_names(r) == set(), body
    elif ctype.startswith("text/plain"):
        assert body.strip() == "", body


def secret_file(f, name="secret.txt", data=b"top secret"):
    write_file(f.path(name), data)
    return data


# --- logins: every hash kind ------------------------------------------------

@pytest.mark.limit(60)
@pytest.mark.parametrize("name", sorted(USERS))
def test_right_password_reads(ferry, users, name):
    f = ferry("--auth", str(users))
    data = secret_file(f)
    r = fetch(f.port, "/secret.txt", headers=login(name))
    assert r.status == 200, r
    assert r.body == data
    r = fetch(f.port, "/", headers=login(name))
    assert r.status == 200, r
    assert "secret.txt" in r.body.decode()


@pytest.mark.limit(60)
@pytest.mark.parametrize("name", sorted(USERS))
def test_wrong_password_401(ferry, users, name):
    f = ferry("--auth", str(users))
    secret_file(f)
    for wrong in (USERS[name][0] + "x", "", USERS[name][0][:-1]):
        r = fetch(f.port, "/secret.txt", headers=login(name, wrong))
        assert_401(r)
        assert b"top secret" not in r.body


def test_another_users_password_401(ferry, users):
    f = ferry("--auth", str(users))
    secret_file(f)
    r = fetch(f.port, "/secret.txt",
              headers=login("alice", USERS["bob"][0]))
    assert_401(r)


@pytest.mark.limit(60)
def test_cached_login_does_not_admit_wrong_password(ferry, users):
    """A remembered login is keyed by name and password, not by name."""
    f = ferry("--auth", str(users))
    secret_file(f)
    for name in ("alice", "bob", "carol"):
        assert fetch(f.port, "/secret.txt",
                     headers=login(name)).status == 200
    # Two failures per user at most: no throttling delay comes into play.
    assert_401(fetch(f.port, "/secret.txt", headers=login("alice", "x")))
    assert_401(fetch(f.port, "/secret.txt", headers=login("bob", "")))
    assert fetch(f.port, "/secret.txt", headers=login("alice")).status == 200
    assert_401(fetch(f.port, "/secret.txt",
                     headers=login("carol", USERS["alice"][0])))


@pytest.mark.parametrize("name", ["mallory", "Alice", "alice ", "root", "a"])
def test_unknown_user_401(ferry, users, name):
    f = ferry("--auth", str(users))
    secret_file(f)
    r = fetch(f.port, "/secret.txt",
              headers={"Authorization": basic(name, "secret-a")})
    assert_401(r)


@pytest.mark.parametrize("method,path", [
    ("GET", "/secret.txt"), ("GET", "/"), ("HEAD", "/secret.txt"),
    ("GET", "/no-such-file"), ("GET", "/sub/"), ("GET", "/sub")])
def test_no_credentials_401(ferry, users, method, path):
    """Everything needs a login, and a missing file is no different from
    an existing one."""
    f = ferry("--auth", str(users))
    secret_file(f)
    make_dir(f.dir, "sub")
    r = fetch(f.port, path, method)
    assert_401(r)
    assert b"top secret" not in r.body
    assert b"secret.txt" not in r.body


def test_no_credentials_curl(ferry, users):
    f = ferry("--auth", str(users))
    secret_file(f)
    r = curl(["-o", "/dev/null", "-D", "-", f.url + "/secret.txt"])
    head = r.stdout.decode("latin-1")
    assert head.startswith("HTTP/1.1 401"), head
    assert "WWW-Authenticate: %s\r\n" % REALM in head, head


def test_curl_user_option(ferry, users):
    """A real client's Basic header."""
    f = ferry("--auth", str(users))
    data = secret_file(f)
    r = curl(["-u", "alice:secret-a", "-o", "-", f.url + "/secret.txt"])
    assert r.returncode == 0, r.stderr
    assert r.stdout == data
    r = curl(["-u", "dave:pa:ss:word", "-o", "-", f.url + "/secret.txt"])
    assert r.stdout == data


@pytest.mark.parametrize("value", [
    "Bearer " + base64.b64encode(b"alice:secret-a").decode(),
    "Digest username=\"alice\"",
    "Basic",
    "Basic ",
    "Basic !!!!",
    "Basic YWxpY2U6c2VjcmV0LWE",            # right, but padding missing
    "Basic " + base64.b64encode(b"alicesecret-a").decode(),   # no colon
    "Basic " + base64.b64encode(b":secret-a").decode(),       # empty name
    "Basic " + base64.b64encode(b"alice\x00:secret-a").decode(),
    "Basic " + base64.b64encode(b"alice:secret-a\n").decode(),
    "Basic " + base64.b64encode(b"alice:secret-a").decode() + "!",
    "Basic " + base64.b64encode(b"alice:secret-a").decode()[:-4],
    "Basic " + base64.b64encode(b"a" * 5000 + b":x").decode(),
    "Basic " + base64.b64encode(b"alice:" + b"p" * 300).decode(),
    "Basicx" + base64.b64encode(b"alice:secret-a").decode(),
], ids=["bearer", "digest", "bare", "bare-sp", "bad-b64", "no-padding",
        "no-colon", "empty-name", "nul-name", "lf-password", "trailing-junk",
        "truncated", "long-name", "long-password", "glued-scheme"])
def test_malformed_authorization(ferry, users, value):
    f = ferry("--auth", str(users))
    secret_file(f)
    r = fetch(f.port, "/secret.txt", headers={"Authorization": value})
    assert r.status in (400, 401, 431), r
    if r.status == 401:
        assert_401(r)
    assert b"top secret" not in r.body


@pytest.mark.parametrize("order", ["right-first", "wrong-first", "twice"])
def test_two_authorization_fields(ferry, users, order):
    """Two Authorization fields are ambiguous: never a login."""
    f = ferry("--auth", str(users))
    secret_file(f)
    right = login("alice")["Authorization"]
    wrong = login("alice", "nope")["Authorization"]
    pair = {"right-first": [right, wrong], "wrong-first": [wrong, right],
            "twice": [right, right]}[order]
    r = fetch(f.port, "/secret.txt",
              headers=[("Authorization", v) for v in pair])
    assert r.status in (400, 401), r
    assert b"top secret" not in r.body


@pytest.mark.parametrize("value", [
    "basic " + base64.b64encode(b"alice:secret-a").decode(),
    "BASIC " + base64.b64encode(b"alice:secret-a").decode(),
    "Basic  " + base64.b64encode(b"alice:secret-a").decode(),
], ids=["lower-scheme", "upper-scheme", "two-spaces"])
def test_scheme_any_case(ferry, users, value):
    """RFC 9110 11.1: the scheme name is case-insensitive."""
    f = ferry("--auth", str(users))
    data = secret_file(f)
    r = fetch(f.port, "/secret.txt", headers={"Authorization": value})
    assert r.status == 200, r
    assert r.body == data


def test_credentials_per_request_not_per_connection(ferry, users):
    """A login on one request of a keep-alive connection does not carry
    over to the next one."""
    f = ferry("--auth", str(users))
    data = secret_file(f)
    req = build_request("/secret.txt", headers=login("alice"), port=f.port,
                        close=False)
    req += build_request("/secret.txt", port=f.port)
    rs, _ = exchange(f.port, req, 2)
    assert len(rs) == 2, rs
    assert rs[0].status == 200 and rs[0].body == data
    assert_401(rs[1])


def test_401_then_credentials_on_same_connection(ferry, users):
    """After a 401 to a request without a body the connection stays
    open, so a client can answer with its credentials at once."""
    f = ferry("--auth", str(users))
    data = secret_file(f)
    req = build_request("/secret.txt", port=f.port, close=False)
    req += build_request("/secret.txt", headers=login("carol"), port=f.port)
    rs, _ = exchange(f.port, req, 2)
    assert len(rs) == 2, rs
    assert_401(rs[0])
    assert rs[1].status == 200 and rs[1].body == data, rs[1]


# --- --public-read ----------------------------------------------------------

def test_public_read_anonymous_reads(ferry, users):
    f = ferry("--auth", str(users), "--public-read")
    data = secret_file(f, "pub.txt", b"public")
    make_dir(f.dir, "sub")
    r = fetch(f.port, "/pub.txt")
    assert r.status == 200 and r.body == data, r
    assert fetch(f.port, "/pub.txt", "HEAD").status == 200
    r = fetch(f.port, "/pub.txt", headers={"Range": "bytes=0-1"})
    assert r.status == 206 and r.body == b"pu"
    for kind in ("text/html", "application/json", "text/plain"):
        r = fetch(f.port, "/", headers=accept(kind))
        assert r.status == 200, (kind, r)
        assert {"pub.txt", "sub"} <= listing_names(r), (kind, r.body)
    r = fetch(f.port, "/", "OPTIONS")
    assert r.status in (200, 204), r
    assert fetch(f.port, "/nope").status == 404


def test_public_read_wrong_password_get_401(ferry, users):
    """Wrong credentials are refused even where none are needed (gate.h),
    so a browser asks again instead of silently reading anonymously."""
    f = ferry("--auth", str(users), "--public-read")
    secret_file(f, "pub.txt", b"public")
    assert_401(fetch(f.port, "/pub.txt", headers=login("alice", "nope")))


def test_public_read_logged_in_reads(ferry, users):
    f = ferry("--auth", str(users), "--public-read")
    data = secret_file(f, "pub.txt", b"public")
    r = fetch(f.port, "/pub.txt", headers=login("carol"))
    assert r.status == 200 and r.body == data, r


@pytest.mark.parametrize("method", ["PUT", "DELETE", "MKCOL"])
def test_public_read_anonymous_write_401(wferry, users, method):
    f = wferry("--auth", str(users), "--public-read")
    write_file(f.path("keep.txt"), b"kept")
    give_to_server(f.dir)
    path = {"PUT": "/new.txt", "DELETE": "/keep.txt",
            "MKCOL": "/newdir"}[method]
    before = sorted(os.listdir(f.dir))
    r = put(f.port, path, b"x") if method == "PUT" \
        else fetch(f.port, path, method)
    assert_401(r)
    assert sorted(os.listdir(f.dir)) == before
    assert f.path("keep.txt").read_bytes() == b"kept"


def test_public_read_anonymous_put_expect_gets_401_not_100(wferry, users):
    """The contract: a refused PUT gets its final status instead of 100."""
    f = wferry("--auth", str(users), "--public-read")
    r = put(f.port, "/new.txt", b"x" * 1000, expect=True)
    assert_401(r)
    assert not r.interim, r.interim
    assert not f.path("new.txt").exists()


def test_public_read_anonymous_replace_401(wferry, users):
    f = wferry("--auth", str(users), "--public-read")
    write_file(f.path("keep.txt"), b"kept")
    give_to_server(f.dir)
    assert_401(put(f.port, "/keep.txt", b"evil"))
    assert f.path("keep.txt").read_bytes() == b"kept"


@pytest.mark.parametrize("name", ["alice", "bob", "carol"])
def test_public_read_logged_in_writes(wferry, users, name):
    f = wferry("--auth", str(users), "--public-read")
    r = put(f.port, "/up-%s.txt" % name, b"from " + name.encode(),
            headers=login(name))
    assert r.status == 201, r
    assert f.path("up-%s.txt" % name).read_bytes() == b"from " + \
        name.encode()
    r = put(f.port, "/up-%s.txt" % name, b"again", headers=login(name))
    assert r.status == 204, r
    assert fetch(f.port, "/d-" + name, "MKCOL",
                 headers=login(name)).status == 201
    assert fetch(f.port, "/up-%s.txt" % name, "DELETE",
                 headers=login(name)).status == 204


def test_public_read_wrong_password_put_401(wferry, users):
    f = wferry("--auth", str(users), "--public-read")
    r = put(f.port, "/new.txt", b"x", headers=login("alice", "nope"))
    assert_401(r)
    assert not f.path("new.txt").exists()


def test_auth_without_public_read_needs_login_to_write(wferry, users):
    f = wferry("--auth", str(users))
    assert_401(put(f.port, "/a.txt", b"x"))
    r = put(f.port, "/a.txt", b"x", headers=login("bob"))
    assert r.status == 201, r
    assert f.path("a.txt").read_bytes() == b"x"


def test_curl_upload_with_login(wferry, users, tmp):
    f = wferry("--auth", str(users), "--public-read")
    src = tmp / "src.bin"
    src.write_bytes(os.urandom(100_000))
    r = curl(["-u", "carol:pw-carol", "-T", str(src), "-o", "/dev/null",
              "-w", "%{http_code}", f.url + "/c.bin"])
    assert r.stdout == b"201", (r.stdout, r.stderr)
    assert f.path("c.bin").read_bytes() == src.read_bytes()


# --- --writers --------------------------------------------------------------

def test_writers(wferry, users):
    f = wferry("--auth", str(users), "--writers", "alice,carol")
    write_file(f.path("keep.txt"), b"kept")
    give_to_server(f.dir)
    # bob may log in and read, not write
    r = fetch(f.port, "/keep.txt", headers=login("bob"))
    assert r.status == 200 and r.body == b"kept", r
    r = put(f.port, "/bob.txt", b"b", headers=login("bob"))
    assert r.status == 403, r
    assert not f.path("bob.txt").exists()
    r = put(f.port, "/keep.txt", b"b", headers=login("bob"))
    assert r.status == 403, r
    assert fetch(f.port, "/keep.txt", "DELETE",
                 headers=login("bob")).status == 403
    assert fetch(f.port, "/bobdir", "MKCOL",
                 headers=login("bob")).status == 403
    assert f.path("keep.txt").read_bytes() == b"kept"
    assert not f.path("bobdir").exists()
    # anonymous: 401, a wrong password: 401
    assert_401(put(f.port, "/anon.txt", b"a"))
    assert_401(put(f.port, "/anon.txt", b"a", headers=login("alice", "x")))
    assert not f.path("anon.txt").exists()
    # the writers may
    for name in ("alice", "carol"):
        r = put(f.port, "/%s.txt" % name, name.encode(), headers=login(name))
        assert r.status == 201, r
        assert f.path("%s.txt" % name).read_bytes() == name.encode()


def test_writers_expect_gets_403_not_100(wferry, users):
    f = wferry("--auth", str(users), "--writers", "alice")
    r = put(f.port, "/bob.txt", b"x" * 1000, expect=True,
            headers=login("bob"))
    assert r.status == 403, r
    assert not r.interim, r.interim
    assert not f.path("bob.txt").exists()


def test_writers_with_public_read(wferry, users):
    f = wferry("--auth", str(users), "--public-read", "--writers", "alice")
    write_file(f.path("pub.txt"), b"pub")
    give_to_server(f.dir)
    assert fetch(f.port, "/pub.txt").status == 200
    assert_401(put(f.port, "/x.txt", b"x"))
    assert put(f.port, "/x.txt", b"x", headers=login("bob")).status == 403
    assert put(f.port, "/x.txt", b"x", headers=login("alice")).status == 201


# --- --drop-box -------------------------------------------------------------

@pytest.fixture
def dropbox(ferry, tmp, users):
    """A drop box with --auth (and without -w: --drop-box implies it),
    holding an older delivery, a folder and a hidden temp-like name."""
    d = make_dir(tmp, "drop")
    write_file(d / "old-delivery.pdf", b"delivered before")
    make_dir(d, "olddir")
    write_file(d / "olddir" / "inner.txt", b"inner")
    give_to_server(d)
    return ferry("--auth", str(users), "--drop-box", dir=d)


SECRET_NAMES = ["old-delivery.pdf", "olddir", "inner.txt"]


def test_drop_box_deposit(dropbox):
    f = dropbox
    r = put(f.port, "/report.txt", b"my report")
    assert r.status == 201, r
    assert f.path("report.txt").read_bytes() == b"my report"


def test_drop_box_no_replace(dropbox):
    f = dropbox
    assert put(f.port, "/mine.txt", b"first").status == 201
    for body, hdrs in ((b"second", {}), (b"third", {"If-Match": "*"}),
                       (b"", {})):
        r = put(f.port, "/mine.txt", body, headers=hdrs)
        assert r.status == 403, (hdrs, r)
        assert f.path("mine.txt").read_bytes() == b"first"
    r = put(f.port, "/old-delivery.pdf", b"evil")
    assert r.status == 403, r
    r = put(f.port, "/old-delivery.pdf", b"evil",
            headers={"If-None-Match": "*"})
    assert r.status in (403, 412), r
    assert f.path("old-delivery.pdf").read_bytes() == b"delivered before"


def test_drop_box_no_replace_chunked_and_expect(dropbox):
    f = dropbox
    r = put(f.port, "/old-delivery.pdf", b"evil" * 1000, chunked=True)
    assert r.status == 403, r
    r = put(f.port, "/old-delivery.pdf", b"evil" * 1000, expect=True)
    assert r.status == 403, r
    assert not r.interim, r.interim
    assert f.path("old-delivery.pdf").read_bytes() == b"delivered before"


@pytest.mark.parametrize("method,path", [
    ("DELETE", "/old-delivery.pdf"), ("DELETE", "/olddir/inner.txt"),
    ("DELETE", "/olddir"), ("DELETE", "/nothing"),
    ("MKCOL", "/newdir"), ("MKCOL", "/olddir")])
def test_drop_box_delete_mkcol_403(dropbox, method, path):
    f = dropbox
    before = sorted(os.listdir(f.dir))
    r = fetch(f.port, path, method)
    assert r.status == 403, r
    assert sorted(os.listdir(f.dir)) == before
    assert f.path("olddir/inner.txt").read_bytes() == b"inner"


def test_drop_box_logged_in_writer_writes_normally(dropbox):
    """A logged-in writer (every user, without --writers) is no outsider:
    the spec lets them write normally, replacing and deleting too."""
    f = dropbox
    h = login("alice")
    r = put(f.port, "/old-delivery.pdf", b"v2", headers=h)
    assert r.status == 204, r
    assert f.path("old-delivery.pdf").read_bytes() == b"v2"
    assert fetch(f.port, "/newdir", "MKCOL", headers=h).status == 201
    assert fetch(f.port, "/old-delivery.pdf", "DELETE",
                 headers=h).status == 204
    assert not f.path("old-delivery.pdf").exists()


def test_drop_box_logged_in_non_writer_only_deposits(ferry, tmp, users):
    """With --writers, a logged-in user who is not one reads, but writes
    like an outsider: create only."""
    d = make_dir(tmp, "drop")
    write_file(d / "old.txt", b"old")
    give_to_server(d)
    f = ferry("--auth", str(users), "--drop-box", "--writers", "alice",
              dir=d)
    h = login("bob")
    r = fetch(f.port, "/old.txt", headers=h)
    assert r.status == 200 and r.body == b"old", r
    assert put(f.port, "/bob.txt", b"b", headers=h).status == 201
    assert put(f.port, "/bob.txt", b"b2", headers=h).status == 403
    assert put(f.port, "/old.txt", b"evil", headers=h).status == 403
    assert fetch(f.port, "/old.txt", "DELETE", headers=h).status == 403
    assert fetch(f.port, "/bobdir", "MKCOL", headers=h).status == 403
    assert f.path("old.txt").read_bytes() == b"old"
    assert f.path("bob.txt").read_bytes() == b"b"
    assert not f.path("bobdir").exists()
    r = put(f.port, "/old.txt", b"new", headers=login("alice"))
    assert r.status == 204, r


@pytest.mark.parametrize("method,path,hdrs", [
    ("GET", "/old-delivery.pdf", {}),
    ("HEAD", "/old-delivery.pdf", {}),
    ("GET", "/old-delivery.pdf", {"Range": "bytes=0-3"}),
    ("GET", "/olddir/inner.txt", {}),
    ("GET", "/just-dropped.txt", {}),
])
def test_drop_box_anonymous_get_404(dropbox, method, path, hdrs):
    f = dropbox
    assert put(f.port, "/just-dropped.txt", b"dropped").status == 201
    r = fetch(f.port, path, method, headers=hdrs)
    assert r.status == 404, r
    assert b"delivered before" not in r.body
    assert b"dropped" not in r.body
    assert b"inner" not in r.body


def test_drop_box_existing_and_missing_alike(dropbox):
    """A GET tells an existing name from a missing one in no way."""
    f = dropbox
    a = fetch(f.port, "/old-delivery.pdf")
    b = fetch(f.port, "/new-delivery.pdf")
    assert a.status == b.status == 404
    assert a.header("Content-Length") == b.header("Content-Length")
    assert {n.lower() for n, _ in a.headers} == \
        {n.lower() for n, _ in b.headers}


@pytest.mark.parametrize("kind", ["text/html", "application/json",
                                  "text/plain"])
def test_drop_box_anonymous_listing_empty(dropbox, kind):
    f = dropbox
    assert put(f.port, "/just-dropped.txt", b"dropped").status == 201
    r = fetch(f.port, "/", headers=accept(kind))
    assert r.status == 200, r
    assert (r.header("Content-Type") or "").startswith(kind), r.headers
    listing_is_empty(r, SECRET_NAMES + ["just-dropped.txt"])
    if kind == "text/html":
        # the drop page itself still works
        assert b'id="pick"' in r.body, r.body[:2000]


@pytest.mark.parametrize("kind", ["text/html", "application/json",
                                  "text/plain"])
def test_drop_box_anonymous_subfolder_listing(dropbox, kind):
    f = dropbox
    r = fetch(f.port, "/olddir/", headers=accept(kind))
    assert r.status in (200, 404), r
    if r.status == 200:
        listing_is_empty(r, ["inner.txt"])
    assert b"inner.txt" not in r.body


@pytest.mark.parametrize("name", ["alice", "bob"])
def test_drop_box_logged_in_reads_and_lists(dropbox, name):
    f = dropbox
    assert put(f.port, "/just-dropped.txt", b"dropped").status == 201
    r = fetch(f.port, "/old-delivery.pdf", headers=login(name))
    assert r.status == 200 and r.body == b"delivered before", r
    r = fetch(f.port, "/just-dropped.txt", headers=login(name))
    assert r.status == 200 and r.body == b"dropped", r
    r = fetch(f.port, "/olddir/inner.txt", headers=login(name))
    assert r.status == 200 and r.body == b"inner", r
    for kind in ("text/html", "application/json", "text/plain"):
        r = fetch(f.port, "/", headers=accept(kind, login(name)))
        assert r.status == 200, (kind, r)
        assert {"old-delivery.pdf", "olddir", "just-dropped.txt"} <= \
            listing_names(r), (kind, r.body)
        r = fetch(f.port, "/olddir/", headers=accept(kind, login(name)))
        assert r.status == 200, (kind, r)
        assert "inner.txt" in listing_names(r), (kind, r.body)


def test_drop_box_logged_in_deposits(dropbox):
    f = dropbox
    r = put(f.port, "/by-alice.txt", b"a", headers=login("alice"))
    assert r.status == 201, r
    assert f.path("by-alice.txt").read_bytes() == b"a"


def test_drop_box_wrong_password_401(dropbox):
    """A wrong login is no anonymous deposit and no read."""
    f = dropbox
    r = fetch(f.port, "/old-delivery.pdf", headers=login("alice", "x"))
    assert_401(r)
    assert b"delivered before" not in r.body


@pytest.mark.limit(60)
def test_drop_box_race_one_winner(dropbox):
    """Eight outsiders deliver the same new name at once: one creates it,
    the others are refused, and what is there is the winner's, whole."""
    f = dropbox
    bodies = [bytes([65 + i]) * 300_000 for i in range(8)]
    start = threading.Barrier(len(bodies))
    results = [None] * len(bodies)

    def one(i):
        start.wait(10)
        results[i] = put(f.port, "/race.bin", bodies[i], timeout=30)

    threads = [threading.Thread(target=one, args=(i,), daemon=True)
               for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(40)
    assert all(r is not None for r in results), results
    statuses = [r.status for r in results]
    assert statuses.count(201) == 1, statuses
    assert all(s in (201, 403, 409, 412) for s in statuses), statuses
    winner = statuses.index(201)
    assert f.path("race.bin").read_bytes() == bodies[winner]


def test_drop_box_put_on_folder_refused(dropbox):
    f = dropbox
    for path in ("/olddir", "/olddir/"):
        r = put(f.port, path, b"x")
        assert 400 <= r.status < 500, (path, r)
    assert f.path("olddir").is_dir()
    assert f.path("olddir/inner.txt").read_bytes() == b"inner"


def test_drop_box_without_auth(ferry, tmp):
    """Without --auth nobody reads over HTTP; everyone deposits."""
    d = make_dir(tmp, "drop")
    write_file(d / "old.txt", b"old")
    give_to_server(d)
    f = ferry("--drop-box", dir=d)
    assert put(f.port, "/new.txt", b"new").status == 201
    assert f.path("new.txt").read_bytes() == b"new"
    assert put(f.port, "/new.txt", b"again").status == 403
    assert f.path("new.txt").read_bytes() == b"new"
    assert fetch(f.port, "/old.txt").status == 404
    assert fetch(f.port, "/new.txt").status == 404
    assert fetch(f.port, "/old.txt", "DELETE").status == 403
    for kind in ("text/html", "application/json", "text/plain"):
        r = fetch(f.port, "/", headers=accept(kind))
        assert r.status == 200, (kind, r)
        listing_is_empty(r, ["old.txt", "new.txt"])


def test_drop_box_curl_deposit(dropbox, tmp):
    f = dropbox
    src = tmp / "upload.bin"
    src.write_bytes(os.urandom(50_000))
    r = curl(["-T", str(src), "-o", "/dev/null", "-w", "%{http_code}",
              f.url + "/"])
    assert r.stdout == b"201", (r.stdout, r.stderr)
    assert f.path("upload.bin").read_bytes() == src.read_bytes()
    r = curl(["-T", str(src), "-o", "/dev/null", "-w", "%{http_code}",
              f.url + "/"])
    assert r.stdout == b"403", (r.stdout, r.stderr)


# --- start-up refusals ------------------------------------------------------

def start_to_exit(args, tmp, timeout=20):
    """Run ferry (as the server would run) expecting it to exit."""
    binary = ferry_bin()
    if not binary:
        pytest.fail("no ferry binary")
    xdg = make_dir(tmp, "xdg-exit")
    share = make_dir(tmp, "share-exit")
    prefix = ()
    if os.geteuid() == 0:
        prefix = nobody_prefix()
        os.chown(xdg, 65534, 65534)
    cmd = [*prefix, binary, "-b", "127.0.0.1", "-p", "0", *args, str(share)]
    try:
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout, env=server_env(xdg))
    except subprocess.TimeoutExpired:
        pytest.fail("ferry %s did not exit" % " ".join(args))
    err = r.stderr.decode("utf-8", "replace")
    assert "AddressSanitizer" not in err and "runtime error:" not in err, err
    return r.returncode, err


@pytest.mark.parametrize("kind", ["plaintext", "md5", "apr1", "sha1", "des",
                                  "sha256", "bcrypt-2x"])
def test_bad_user_line_exit_1(tmp, kind):
    bad = {
        "plaintext": lambda: "mallory:secret",
        "md5": lambda: make_hash("mallory", "pw", "md5"),
        "apr1": lambda: make_hash("mallory", "pw", "md5-apr1"),
        "sha1": lambda: run(["htpasswd", "-nbs", "mallory", "pw"])
        .stdout.decode().strip(),
        "des": lambda: "mallory:rEK1ecacw.7.c",
        "sha256": lambda: "mallory:" + run(
            ["mkpasswd", "-m", "sha-256", "--stdin"], input=b"pw")
        .stdout.decode().strip(),
        "bcrypt-2x": lambda: user_line("alice").replace(
            "alice:$2y$", "mallory:$2x$"),
    }[kind]()
    # line 1 a comment, 2 empty, 3 a good user, 4 the bad one, 5 good
    p = write_users(tmp, ["# users", "", user_line("alice"), bad,
                          user_line("bob")])
    rc, err = start_to_exit(["--auth", str(p)], tmp)
    assert rc == 1, err
    assert "%s:4" % p in err, err
    assert "listening" not in err


def test_bad_user_line_number_counts_every_line(tmp):
    lines = ["#"] * 7 + [user_line(n) for n in ("alice", "bob", "carol")]
    lines += ["carl:plain"]
    p = write_users(tmp, lines)
    rc, err = start_to_exit(["--auth", str(p)], tmp)
    assert rc == 1, err
    assert "%s:11" % p in err, err


def test_missing_user_file(tmp):
    p = tmp / "auth-nonexistent"
    rc, err = start_to_exit(["--auth", str(p)], tmp)
    assert rc == 1, err
    assert str(p) in err, err


def test_user_file_without_users(tmp):
    p = write_users(tmp, ["# nobody here", ""])
    rc, err = start_to_exit(["--auth", str(p)], tmp)
    assert rc == 1, err
    assert str(p) in err, err


def test_drop_box_with_public_read_usage_error(tmp, users):
    rc, err = start_to_exit(["--auth", str(users), "--drop-box",
                             "--public-read"], tmp)
    assert rc == 2, err


def test_crlf_user_file(ferry, tmp):
    """CRLF line ends (a file edited on Windows) are accepted."""
    d = make_dir(tmp, "auth")
    p = d / "users-crlf"
    p.write_bytes(("%s\r\n%s\r\n" % (user_line("alice"), user_line("bob")))
                  .encode())
    p.chmod(0o644)
    f = ferry("--auth", str(p))
    data = secret_file(f)
    for name in ("alice", "bob"):
        r = fetch(f.port, "/secret.txt", headers=login(name))
        assert r.status == 200 and r.body == data, r


# --- throttling -------------------------------------------------------------

def v6_port(f):
    for host, port in f.listen:
        if host.strip("[]") == "::1":
            return port
    pytest.fail("no ::1 listener in %r" % f.listen)


def v4_port(f):
    for host, port in f.listen:
        if host == "127.0.0.1":
            return port
    pytest.fail("no 127.0.0.1 listener in %r" % f.listen)


@pytest.mark.limit(90)
def test_throttle_delays_then_429(ferry, users):
    f = ferry("--auth", str(users), bind=("127.0.0.1", "::1"))
    p4, p6 = v4_port(f), v6_port(f)
    data = secret_file(f)
    times = []
    for i in range(10):
        r, dt = timed_fetch(p4, "/secret.txt",
                            headers=login("bob", "wrong-%d" % i))
        assert_401(r)
        times.append(dt)
    # 1st to 3rd: not delayed; 4th: 250 ms; then doubling up to 2 s
    assert max(times[:3]) < 0.25, times
    assert times[3] >= 0.2, times
    assert times[4] >= 0.45, times
    assert times[5] >= 0.9, times
    assert all(t >= 1.8 for t in times[6:]), times
    assert all(t < 4.0 for t in times), times
    # now refused, even with the right password, without waiting
    for _ in range(2):
        r, dt = timed_fetch(p4, "/secret.txt", headers=login("bob"))
        assert r.status == 429, r
        ra = r.header("Retry-After")
        assert ra is not None and ra.isdigit(), r.headers
        assert 1 <= int(ra) <= 600, ra
        assert b"top secret" not in r.body
        assert dt < 1.5, dt
    # anonymous from there is no login: no reason to call it 429 or 200
    r = fetch(p4, "/secret.txt")
    assert r.status in (401, 429), r
    assert b"top secret" not in r.body
    # another address is not affected
    r, dt = timed_fetch(p6, "/secret.txt", headers=login("bob"), host="::1")
    assert r.status == 200 and r.body == data, r
    r, dt = timed_fetch(p6, "/secret.txt", headers=login("bob", "x"),
                        host="::1")
    assert_401(r)
    assert dt < 0.25, dt
    r = fetch(p6, "/secret.txt", headers=login("alice"), host="::1")
    assert r.status == 200, r
    err = f.stderr()
    assert "auth: too many failed logins from 127.0.0.1" in err, err
    assert "auth: too many failed logins from ::1" not in err, err


@pytest.mark.limit(60)
def test_throttle_success_is_not_slowed_and_forgets_nothing(ferry, users):
    """A right password is answered at once, but it does not wipe the
    address's failures: else one valid account would let its holder
    guess other passwords at full speed between its own logins."""
    f = ferry("--auth", str(users))
    data = secret_file(f)
    times = []
    for i in range(5):
        r, dt = timed_fetch(f.port, "/secret.txt",
                            headers=login("alice", "bad-%d" % i))
        assert_401(r)
        times.append(dt)
    assert times[3] >= 0.2 and times[4] >= 0.45, times
    r, dt = timed_fetch(f.port, "/secret.txt", headers=login("alice"))
    assert r.status == 200 and r.body == data, r
    assert dt < 0.6, dt
    # the 6th failure waits 1 s: the success cleared nothing
    r, dt = timed_fetch(f.port, "/secret.txt",
                        headers=login("bob", "guess"))
    assert_401(r)
    assert dt >= 0.9, dt


@pytest.mark.limit(60)
def test_throttle_counts_unknown_users_too(ferry, users):
    """Guessing names is guessing too."""
    f = ferry("--auth", str(users))
    times = []
    for i in range(5):
        r, dt = timed_fetch(f.port, "/", headers=login("nobody%d" % i, "x"))
        assert_401(r)
        times.append(dt)
    assert times[3] >= 0.2 and times[4] >= 0.45, times


def in_background(fn):
    """Run FN in a thread.  Returns (done, join): DONE is an Event set
    when FN has returned; JOIN waits for it and gives back FN's result
    (or raises what FN raised)."""
    out = {}
    done = threading.Event()

    def run_it():
        try:
            out["value"] = fn()
        except BaseException as e:   # handed over to the joiner
            out["error"] = e
        finally:
            done.set()

    t = threading.Thread(target=run_it, daemon=True)
    t.start()

    def join(timeout=30):
        t.join(timeout)
        assert not t.is_alive(), "background request still running"
        if "error" in out:
            raise out["error"]
        return out["value"]

    return done, join


@pytest.mark.limit(60)
def test_held_refusal_stalls_nobody(ferry, users):
    """A refusal held back for 2 s occupies no worker: with one worker,
    other clients are served meanwhile."""
    f = ferry("--auth", str(users), "--workers", "1",
              bind=("127.0.0.1", "::1"))
    p4, p6 = v4_port(f), v6_port(f)
    secret_file(f)
    for i in range(7):
        assert_401(fetch(p4, "/", headers=login("bob", "w%d" % i)))
    _, held = in_background(lambda: timed_fetch(
        p4, "/", headers=login("bob", "held")))
    time.sleep(0.1)
    lat = []
    for _ in range(10):
        r, dt = timed_fetch(p6, "/secret.txt", headers=login("bob"),
                            host="::1")
        assert r.status == 200, r
        lat.append(dt)
    r, dt = held()
    assert_401(r)
    assert dt >= 1.8, dt
    assert max(lat) < 0.5, lat


@pytest.mark.limit(120)
def test_slow_hash_stalls_nobody(ferry, tmp):
    """A bcrypt check (cost 13: about half a second) must not hold up the
    other clients of its worker: the contract's "one slow client never
    stalls others".  One worker, logins of new users from ::1 one after
    the other, anonymous downloads from 127.0.0.1 meanwhile."""
    names = ["slow%d" % i for i in range(4)]
    p = write_users(tmp, [make_hash(n, "pw-" + n, "bcrypt", cost=13)
                          for n in names])
    f = ferry("--auth", str(p), "--public-read", "--workers", "1",
              bind=("127.0.0.1", "::1"))
    p4, p6 = v4_port(f), v6_port(f)
    secret_file(f, "pub.txt", b"public")
    base = [timed_fetch(p4, "/pub.txt")[1] for _ in range(5)]

    def logins():
        out = []
        for n in names:
            r, dt = timed_fetch(p6, "/pub.txt", headers=login(n, "pw-" + n),
                                host="::1", timeout=30)
            assert r.status == 200, r
            out.append(dt)
        return out

    done, join = in_background(logins)
    time.sleep(0.05)
    lat = []
    while not done.is_set() and len(lat) < 1000:
        r, dt = timed_fetch(p4, "/pub.txt", timeout=30)
        assert r.status == 200, r
        lat.append(dt)
    slow = join()
    assert min(slow) > 0.2, slow         # the hash really is slow
    assert max(lat) < max(0.2, 5 * max(base)), (
        "a download waited %.3f s while bcrypt ran (logins took %s, "
        "downloads normally %s)" % (max(lat), slow, base))


# --- the log ----------------------------------------------------------------

def test_log_user_field_and_no_secrets(wferry, users):
    f = wferry("--auth", str(users), "--public-read", "-v")
    secret_file(f, "pub.txt", b"public")
    wrong = "Wr0ng-Pa55-qzx"
    tokens = []

    def send(name, password, path="/pub.txt", method="GET"):
        h = login(name, password)
        tokens.append(h["Authorization"].split()[1])
        if method == "PUT":
            return put(f.port, path, b"data", headers=h)
        return fetch(f.port, path, method, headers=h)

    assert fetch(f.port, "/pub.txt").status == 200
    assert send("alice", "secret-a").status == 200
    assert send("carol", "pw-carol", "/carol.txt", "PUT").status == 201
    assert send("alice", wrong, "/w.txt", "PUT").status == 401
    assert send("mallory", wrong, "/w.txt", "PUT").status == 401
    assert send("erin", USERS["erin"][0]).status == 200
    r = fetch(f.port, "/pub.txt", headers={
        "Authorization": "Basic " + base64.b64encode(
            b"alice" + wrong.encode()).decode()})
    tokens.append(base64.b64encode(b"alice" + wrong.encode()).decode())
    assert r.status in (400, 401)

    lines = f.access_lines(count=7)
    ms = [LOG_RE.match(l) for l in lines]
    assert all(ms), lines
    got = [(m["request"].split()[0], m["request"].split()[1], m["status"],
            m["user"]) for m in ms]
    assert ("GET", "/pub.txt", "200", "-") in got, got
    assert ("GET", "/pub.txt", "200", "alice") in got, got
    assert ("PUT", "/carol.txt", "201", "carol") in got, got
    assert ("GET", "/pub.txt", "200", "erin") in got, got
    # a name that did not log in is not vouched for by the log... but it
    # must not be a password either
    for m in ms:
        if m["status"] in ("400", "401"):
            assert m["user"] in ("-", "alice", "mallory"), m.group(0)

    f.stop()
    out, err = f.stdout(), f.stderr()
    secrets = ([u[0] for u in USERS.values()] + [wrong] + tokens +
               [base64.b64encode(p.encode()).decode()
                for p, _ in USERS.values()])
    for s in secrets:
        assert s not in out, "%r on stdout:\n%s" % (s, out)
        assert s not in err, "%r on stderr:\n%s" % (s, err)
    for line in (out + err).splitlines():
        assert "Authorization" not in line and "Basic " not in line, line


@pytest.mark.limit(60)
def test_no_secrets_after_throttling(ferry, users):
    """The warning names the address, not what was tried."""
    f = ferry("--auth", str(users), "-v")
    tries = ["guess-%02d-zz" % i for i in range(11)]
    for t in tries:
        r = fetch(f.port, "/", headers=login("alice", t))
        assert r.status in (401, 429), r
    assert r.status == 429
    f.stop()
    out, err = f.stdout(), f.stderr()
    assert "auth: too many failed logins from 127.0.0.1" in err, err
    for t in tries:
        token = basic("alice", t).split()[1]
        for s in (t, token):
            assert s not in out and s not in err, s


# --- the login cache --------------------------------------------------------

@pytest.mark.limit(120)
def test_bcrypt_cost_paid_once(ferry, tmp):
    """bcrypt cost 12 takes a few hundred ms; a remembered login takes a
    TLS handshake.  Loose bounds: the point is once versus every time."""
    p = write_users(tmp, [make_hash("slow", "slow-pw", "bcrypt", cost=12),
                          user_line("bob")])
    f = ferry("--auth", str(p))
    data = secret_file(f)
    r, first = timed_fetch(f.port, "/secret.txt",
                           headers=login("slow", "slow-pw"), timeout=30)
    assert r.status == 200 and r.body == data, r
    assert first > 0.1, first
    later = []
    for _ in range(20):
        r, dt = timed_fetch(f.port, "/secret.txt",
                            headers=login("slow", "slow-pw"), timeout=30)
        assert r.status == 200, r
        later.append(dt)
    med = statistics.median(later)
    assert med < first / 2, (first, later)
    # a wrong password is never a cache hit: it pays the full cost again
    r, dt = timed_fetch(f.port, "/secret.txt",
                        headers=login("slow", "slow-pwx"), timeout=30)
    assert_401(r)
    assert dt > 0.1 and dt > 2 * med, (dt, med)
    # and so does an unknown name (the first user's setting): names
    # cannot be told apart by time
    r, dt = timed_fetch(f.port, "/secret.txt",
                        headers=login("ghost", "slow-pw"), timeout=30)
    assert_401(r)
    assert dt > 0.1 and dt > 2 * med, (dt, med)
