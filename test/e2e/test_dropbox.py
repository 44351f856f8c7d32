"""Leftovers of issue 4 over real TLS: the --auth user file reloaded on
SIGHUP from outside the chroot, --writers refused without -w, a start-up
banner that says who may read and write, the upload-only page a drop box
shows depositors (HTML and headless Chromium), and 409 for a deposit
whose folder does not exist.

User files are made by the real tools (htpasswd, mkpasswd) through
test_auth's helpers, and sit outside the shared folder.
"""

import base64
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from conftest import ROOT, give_to_server, make_dir
from ferrylib import fetch, put, run, write_file
from test_auth import (accept, listing_is_empty, login, start_to_exit,
                       user_line, write_users)

AUTH_RELOADED = "auth: reloaded"
AUTH_KEPT = "the old user file stays in force"
BANNER_RE = re.compile(r"ferry: serving \S+ \((.*)\)$", re.M)
BROWSER_DIR = ROOT / "test" / "browser"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def wait_stderr(f, needle, count, wait=10.0):
    deadline = time.monotonic() + wait
    while f.stderr().count(needle) < count:
        if time.monotonic() > deadline:
            pytest.fail("%r not %d times in stderr after %.0f s:\n%s"
                        % (needle, count, wait, f.stderr()[-3000:]))
        time.sleep(0.02)


def hup(f, needle):
    """SIGHUP F and wait for the NEEDLE line that answers it; that line."""
    before = f.stderr().count(needle)
    os.kill(f.pid, signal.SIGHUP)
    wait_stderr(f, needle, before + 1)
    return [l for l in f.stderr().splitlines() if needle in l][-1]


def status_as(f, name, path="/hello.txt"):
    return fetch(f.port, path, headers=login(name)).status


def replace_users(path, lines):
    """New contents by rename, as editors and htpasswd write them."""
    tmp = path.with_name(path.name + ".new")
    tmp.write_text("".join(l + "\n" for l in lines), "utf-8")
    tmp.chmod(0o644)
    os.replace(tmp, path)


# --- 1. SIGHUP reloads a user file kept outside the chroot -----------------

@pytest.mark.limit(120)
@pytest.mark.parametrize("as_root", [True, False], ids=["root", "nobody"])
def test_sighup_reloads_user_file_outside_share(ferry, tmp, as_root):
    """Started as root, ferry chroots into the share; the user file lives
    outside it and must still reload on SIGHUP, by the path as given in
    every message."""
    if as_root and os.geteuid() != 0:
        pytest.skip("needs root to chroot")
    users = write_users(tmp, [user_line("alice")])
    share = make_dir(tmp, "share")
    write_file(share / "hello.txt", b"hello\n")
    f = ferry("--auth", str(users), dir=share, as_root=as_root)
    if as_root:
        assert "chrooted into the shared folder" in f.stderr(), f.stderr()
    assert status_as(f, "alice") == 200
    assert status_as(f, "bob") == 401

    # bob added in place: loaded, by the path given
    users.write_text(user_line("alice") + "\n" + user_line("bob") + "\n")
    line = hup(f, AUTH_RELOADED)
    assert "2 user(s) from %s" % users in line, line
    assert status_as(f, "bob") == 200
    assert status_as(f, "alice") == 200

    # a broken line 3: refused with its number, the old users stay
    users.write_text("\n".join([user_line("alice"), user_line("bob"),
                                "mallory:plaintext-pw", ""]))
    line = hup(f, AUTH_KEPT)
    assert "%s:3" % users in line, line
    assert "plaintext-pw" not in f.stderr()
    assert status_as(f, "alice") == 200
    assert status_as(f, "bob") == 200
    r = fetch(f.port, "/hello.txt",
              headers={"Authorization": "Basic " + base64.b64encode(
                  b"mallory:plaintext-pw").decode()})
    assert r.status == 401, r

    # gone: kept, and the message names the path as given
    users.unlink()
    line = hup(f, AUTH_KEPT)
    assert str(users) in line and "No such file" in line, line
    assert status_as(f, "bob") == 200

    # replaced by rename (a new inode): read through the folder again
    replace_users(users, ["# only carol now", user_line("carol")])
    line = hup(f, AUTH_RELOADED)
    assert "1 user(s) from %s" % users in line, line
    assert status_as(f, "carol") == 200
    assert status_as(f, "alice") == 401


@pytest.mark.limit(60)
def test_user_file_must_be_a_regular_file(tmp):
    """A FIFO in the user file's place is refused at start, not waited
    on (it would hold start-up, or a reload, for ever)."""
    d = make_dir(tmp, "auth")
    fifo = d / "users"
    os.mkfifo(fifo, 0o644)
    rc, err = start_to_exit(["--auth", str(fifo)], tmp)
    assert rc == 1, err
    assert "%s: not a regular file" % fifo in err, err


# --- 2. --writers needs -w or --drop-box ------------------------------------

@pytest.mark.limit(60)
@pytest.mark.parametrize("extra", [[], ["--public-read"]],
                         ids=["auth", "public-read"])
def test_writers_without_write_is_a_usage_error(tmp, extra):
    users = write_users(tmp, [user_line("alice")])
    rc, err = start_to_exit(["--auth", str(users), "--writers", "alice",
                             *extra], tmp)
    assert rc == 2, err
    assert "--writers goes with -w or --drop-box" in err, err
    assert "listening" not in err


@pytest.mark.limit(60)
@pytest.mark.parametrize("mode", ["-w", "--drop-box"])
def test_writers_with_write_or_drop_box_starts(ferry, tmp, mode):
    users = write_users(tmp, [user_line("alice"), user_line("bob")])
    d = make_dir(tmp, "w")
    give_to_server(d)
    f = ferry("--auth", str(users), mode, "--writers", "alice", dir=d)
    assert put(f.port, "/a.txt", b"a", headers=login("alice")).status == 201
    assert put(f.port, "/a.txt", b"b", headers=login("bob")).status == 403


# --- 3. the start-up banner says who may do what ----------------------------

USERS = object()        # stands for the user file's path
CA = object()           # and for a client CA's

BANNERS = [
    ([], "read-only; anyone may read"),
    (["-w"], "uploads allowed; anyone may read and write"),
    (["--drop-box"],
     "drop box; anyone may add new files, nobody may read them"),
    (["--auth", USERS], "read-only; logged-in users may read"),
    (["--auth", USERS, "--public-read"], "read-only; anyone may read"),
    (["--auth", USERS, "-w"],
     "uploads allowed; logged-in users may read and write"),
    (["--auth", USERS, "-w", "--writers", "alice"],
     "uploads allowed; logged-in users may read, the users in --writers "
     "may write"),
    (["--auth", USERS, "-w", "--public-read"],
     "uploads allowed; anyone may read, logged-in users may write"),
    (["--auth", USERS, "--drop-box"],
     "drop box; anyone may add new files, logged-in users may also read, "
     "replace and delete them"),
    (["--auth", USERS, "--drop-box", "--writers", "alice"],
     "drop box; anyone may add new files, logged-in users may also read "
     "them, the users in --writers replace and delete them"),
    (["--client-ca", CA, "-w", "--writers", "carol", "--hidden"],
     "uploads allowed; logged-in users may read, the users in --writers "
     "may write; client certificates required; dotfiles shown"),
]


def make_ca(tmp):
    d = make_dir(tmp, "ca")
    r = run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(d / "k"),
             "-out", str(d / "ca.pem"), "-subj", "/CN=ferry test CA",
             "-days", "2"])
    assert r.returncode == 0, r.stderr
    (d / "ca.pem").chmod(0o644)
    return d / "ca.pem"


@pytest.mark.limit(60)
@pytest.mark.parametrize("args,want", BANNERS,
                         ids=["-".join(a for a in args if isinstance(a, str))
                              or "plain" for args, _ in BANNERS])
def test_banner(ferry, tmp, args, want):
    users = write_users(tmp, [user_line("alice")])
    args = [str(users) if a is USERS else str(make_ca(tmp)) if a is CA
            else a for a in args]
    d = make_dir(tmp, "banner")
    give_to_server(d)
    f = ferry(*args, dir=d)
    banners = BANNER_RE.findall(f.stderr())
    assert banners == [want], f.stderr()


@pytest.mark.limit(60)
def test_banner_of_drop_box_is_true(ferry, tmp):
    """What the banner says of a drop box with users, checked: anyone
    adds a file, nobody anonymous reads it, a user reads it."""
    users = write_users(tmp, [user_line("alice")])
    d = make_dir(tmp, "box")
    give_to_server(d)
    f = ferry("--auth", str(users), "--drop-box", dir=d)
    assert "logins required" not in f.stderr()
    assert "anyone may add new files" in f.stderr()
    assert put(f.port, "/in.txt", b"in").status == 201
    assert fetch(f.port, "/in.txt").status == 404
    r = fetch(f.port, "/in.txt", headers=login("alice"))
    assert r.status == 200 and r.body == b"in", r


# --- 4. the upload-only page ------------------------------------------------

@pytest.fixture(params=["anonymous-box", "box-with-users"])
def box(request, ferry, tmp):
    """A drop box holding earlier deliveries, with or without --auth."""
    d = make_dir(tmp, "drop")
    write_file(d / "old-delivery.pdf", b"delivered before")
    make_dir(d, "olddir")
    write_file(d / "olddir" / "inner.txt", b"inner")
    give_to_server(d)
    if request.param == "anonymous-box":
        return ferry("--drop-box", dir=d)
    users = write_users(tmp, [user_line("alice"), user_line("bob")])
    return ferry("--auth", str(users), "--drop-box", "--writers", "alice",
                 dir=d)


SECRETS = ["old-delivery.pdf", "olddir", "inner.txt"]
FORBIDDEN_CONTROLS = ['id="mkdir"', "New folder", 'class="del"', "<table",
                      "<tbody", "This folder is empty"]


def script_of(html):
    m = re.search(r"<script>(.*?)</script>", html, re.S)
    assert m, html
    return m.group(1)


def csp_allows_script(csp, script):
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest())
    return "script-src 'sha256-%s'" % digest.decode() in csp


@pytest.mark.limit(60)
@pytest.mark.parametrize("path", ["/", "/olddir/"])
def test_deposit_page_is_upload_only(box, path):
    f = box
    r = fetch(f.port, path, headers=accept("text/html"))
    assert r.status == 200, r
    html = r.body.decode("utf-8")
    for bad in FORBIDDEN_CONTROLS:
        assert bad not in html, (bad, html)
    for name in SECRETS:
        if name not in path:    # a subfolder's page names itself
            assert name not in html, (name, html)
    assert "<title>Drop box %s</title>" % path in html, html
    # what it may do, and words on why nothing shows
    assert 'id="pick"' in html and 'class="drop" data-deposit' in html
    assert "This drop box is upload-only: files sent here are " \
           "delivered but not shown" in html, html
    assert "<h1>Drop box " in html
    # its script runs under the page's policy
    csp = r.header("Content-Security-Policy")
    assert csp_allows_script(csp, script_of(html)), csp
    # JSON and text listings stay empty
    for kind in ("application/json", "text/plain"):
        r = fetch(f.port, path, headers=accept(kind))
        assert r.status == 200, (kind, r)
        listing_is_empty(r, [n for n in SECRETS if n not in path])


@pytest.mark.limit(60)
def test_writer_still_gets_the_full_drop_page(ferry, tmp):
    """A user who may write in the box keeps the listing, "New folder"
    and the delete buttons."""
    users = write_users(tmp, [user_line("alice")])
    d = make_dir(tmp, "drop")
    write_file(d / "old-delivery.pdf", b"delivered before")
    give_to_server(d)
    f = ferry("--auth", str(users), "--drop-box", dir=d)
    r = fetch(f.port, "/", headers=dict(accept("text/html"),
                                        **login("alice")))
    html = r.body.decode("utf-8")
    assert r.status == 200, r
    assert 'id="mkdir"' in html and 'class="del"' in html, html
    assert "old-delivery.pdf" in html and "<div class=\"drop\">" in html
    assert csp_allows_script(r.header("Content-Security-Policy"),
                             script_of(html))


@pytest.mark.limit(60)
def test_page_offers_writing_only_to_who_may(ferry, tmp):
    """On a -w share with --writers alice: alice's page has the upload
    controls, bob's (logged in, not a writer) has none; an anonymous
    visitor of a --public-read share gets them, since a login could let
    the upload through (the browser asks for it on the 401)."""
    users = write_users(tmp, [user_line("alice"), user_line("bob")])
    f = ferry("--auth", str(users), "-w", "--writers", "alice",
              "--public-read")
    write_file(f.dir / "a.txt", b"a")
    pages = {}
    for who, extra in (("alice", login("alice")), ("bob", login("bob")),
                       ("anonymous", {})):
        r = fetch(f.port, "/", headers=dict(accept("text/html"), **extra))
        assert r.status == 200, (who, r)
        pages[who] = r
    for who in ("alice", "anonymous"):
        html = pages[who].body.decode("utf-8")
        assert 'id="mkdir"' in html and 'class="del"' in html, (who, html)
        assert 'id="pick"' in html, (who, html)
    html = pages["bob"].body.decode("utf-8")
    for bad in ('id="mkdir"', "New folder", 'class="del"', 'id="pick"'):
        assert bad not in html, (bad, html)
    assert "a.txt" in html
    for r in pages.values():
        csp = r.header("Content-Security-Policy")
        if "<script>" in r.body.decode("utf-8"):
            assert csp_allows_script(csp, script_of(r.body.decode())), csp


def browser_driver():
    node = shutil.which("node")
    if not node or not os.path.exists(CHROMIUM) or not \
            (BROWSER_DIR / "node_modules" / "playwright-core").is_dir():
        pytest.fail("node, chromium or playwright-core missing (make deps)")
    return node


@pytest.mark.limit(180)
def test_deposit_page_in_chromium(ferry, tmp):
    """Two files dropped on the upload-only page in headless Chromium are
    delivered; the same name again is refused without a question; the
    page shows no "new folder" or delete control and no listing, and
    raises no script error or policy violation."""
    node = browser_driver()
    d = make_dir(tmp, "drop")
    write_file(d / "old-delivery.pdf", b"delivered before")
    give_to_server(d)
    f = ferry("--drop-box", dir=d)
    src = make_dir(tmp, "src")
    files = {"report.txt": b"my report\n" * 1000,
             "photo \u00e9 #1.bin": os.urandom(300 * 1024)}
    for name, data in files.items():
        write_file(src / name, data)
    write_file(src / "again.txt", b"second try")
    cfg = {
        "url": f.url + "/",
        "files": [{"name": n, "path": str(src / n)} for n in files],
        "replace": {"name": "report.txt", "path": str(src / "again.txt")},
        "screenshot": str(tmp / "deposit.png"),
        "chromium": CHROMIUM,
    }
    cfg_path = tmp / "deposit.json"
    cfg_path.write_text(json.dumps(cfg))
    r = run([node, str(BROWSER_DIR / "drop.mjs"), str(cfg_path)],
            timeout=150, cwd=BROWSER_DIR)
    err = r.stderr.decode("utf-8", "replace")
    try:
        report = json.loads(r.stdout.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        pytest.fail("drop.mjs said nothing (rc %d):\n%s"
                    % (r.returncode, err[-3000:]))
    print("drop.mjs report:", json.dumps(report, ensure_ascii=False)[:2000])
    assert r.returncode == 0, err[-3000:]
    c = report["controls"]
    assert c["dropZone"] and c["picker"], c
    assert not c["newFolder"] and c["deleteButtons"] == 0, c
    jobs = {j["name"]: j for j in report["jobs"]}
    assert set(jobs) == set(files), report["jobs"]
    for name, j in jobs.items():
        assert "done" in j["cls"].split(), (name, j)
        assert j["result"] == "delivered", (name, j)
        assert f.path(name).read_bytes() == files[name]
    again = report["replaced"]
    assert again and "error" in again["cls"].split(), again
    assert "403" in again["result"] and "taken" in again["result"], again
    assert f.path("report.txt").read_bytes() == files["report.txt"]
    assert not report["dialogs"], report["dialogs"]
    assert report["rows"] == [], report["rows"]
    assert not report["cspViolations"], report["cspViolations"]
    assert not report["pageErrors"], report["pageErrors"]
    assert not [c for c in report["console"] if c["type"] == "error"
                and "403" not in c["text"]], report["console"]


# --- 5. a deposit makes no folder -------------------------------------------

def tree(root):
    """Every path below ROOT, relative."""
    out = set()
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            out.add(os.path.relpath(os.path.join(dirpath, n), root))
    return out


@pytest.mark.limit(60)
@pytest.mark.parametrize("path", ["/newdir/x.txt", "/a/b/c/x.txt",
                                  "/olddir/missing/x.txt",
                                  "/old-delivery.pdf/x.txt"])
@pytest.mark.parametrize("how", ["length", "chunked", "expect"])
def test_deposit_into_missing_folder_409(box, path, how):
    f = box
    before = tree(f.dir)
    r = put(f.port, path, b"x" * 1000, chunked=how == "chunked",
            expect=how == "expect")
    assert r is not None and r.status == 409, r
    assert not r.interim, r.interim        # refused before any 100
    assert b"makes no folder" in r.body, r.body
    assert tree(f.dir) == before


@pytest.mark.limit(60)
def test_deposit_into_existing_folder(box):
    f = box
    r = put(f.port, "/olddir/new.txt", b"new", expect=True)
    assert r.status == 201, r
    assert f.path("olddir/new.txt").read_bytes() == b"new"


@pytest.mark.limit(60)
def test_mkcol_and_deposit_agree(box):
    """What MKCOL refuses, a PUT cannot do on the side."""
    f = box
    assert fetch(f.port, "/newdir", "MKCOL").status == 403
    assert put(f.port, "/newdir/x.txt", b"x").status == 409
    assert not f.path("newdir").exists()


@pytest.mark.limit(60)
def test_writer_still_makes_parents(ferry, tmp):
    users = write_users(tmp, [user_line("alice"), user_line("bob")])
    d = make_dir(tmp, "drop")
    give_to_server(d)
    f = ferry("--auth", str(users), "--drop-box", "--writers", "alice",
              dir=d)
    r = put(f.port, "/made/by/alice.txt", b"a", headers=login("alice"))
    assert r.status == 201, r
    assert f.path("made/by/alice.txt").read_bytes() == b"a"
    # bob is a user but no writer: he deposits, so no folder for him
    r = put(f.port, "/made/for/bob.txt", b"b", headers=login("bob"))
    assert r.status == 409, r
    assert not f.path("made/for").exists()
    assert put(f.port, "/made/by/bob.txt", b"b",
               headers=login("bob")).status == 201


@pytest.mark.limit(60)
def test_plain_writable_share_still_makes_parents(wferry):
    f = wferry()
    r = put(f.port, "/x/y/z.txt", b"z")
    assert r.status == 201, r
    assert f.path("x/y/z.txt").read_bytes() == b"z"
