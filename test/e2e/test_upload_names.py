"""Names and confinement for writes: names kept byte for byte, and no
PUT, DELETE or MKCOL lands outside DIR, through .., encoded slashes,
symlinks to files or folders (swapped in mid-upload too) or magic links.

The folders around DIR are made writable by the server's user, so that
a write that escaped would succeed and show, instead of being stopped
by permissions alone.  The confinement tests run with ferry started as
root (chroot + drop to nobody) and as nobody (the resolver alone).
"""

import os
import re
import secrets
import urllib.parse

import pytest

from conftest import give_to_server, make_dir
from ferrylib import (Upload, fetch, put, run, tree_state, wait_no_temps,
                      wait_temp, write_file)


def enc(name):
    return "/" + urllib.parse.quote(name, safe="")


def assert_clean(root, wait=3.0):
    left = wait_no_temps(root, wait)
    assert not left, "temporary files left: %r" % left


# --- names -------------------------------------------------------------------

NAMES = ["a b.txt", "ha#sh.txt", "pct%41.txt", "100%.txt", 'q"uote.txt',
         "it's.txt", "é.txt", "日本.txt", "mix é 日本 #%'\" x.txt",
         "plus+and=&.txt", "semi;colon.txt", "que?ry.txt", "~tilde",
         "emoji-\U0001F600.bin"]


@pytest.mark.parametrize("name", NAMES)
def test_name_stored_byte_for_byte(wferry, name):
    f = wferry()
    body = ("content of %s\n" % name).encode()
    r = put(f.port, enc(name), body)
    assert r.status == 201, (name, r, r.body[:200])
    loc = urllib.parse.urlsplit(r.header("Location") or "").path
    assert re.fullmatch(r"[A-Za-z0-9._~!$&'()*+,;=:@/%-]+", loc), \
        "Location not percent-encoded: %r" % r.header("Location")
    assert urllib.parse.unquote_to_bytes(loc) == ("/" + name).encode(), \
        r.header("Location")
    assert os.listdir(f.dir) == [name]
    assert f.path(name).read_bytes() == body
    assert fetch(f.port, enc(name)).body == body
    r = put(f.port, enc(name), b"again")
    assert r.status == 204
    assert os.listdir(f.dir) == [name]


def test_name_not_utf8_stored_as_sent(wferry):
    f = wferry()
    r = put(f.port, "/caf%E9-%FF.txt", b"latin-1")
    assert r.status == 201, r
    assert os.listdir(bytes(f.dir)) == [b"caf\xe9-\xff.txt"]


def test_curl_appends_odd_local_name(wferry, tmp):
    """curl -T NAME .../folder/ appends NAME, percent-encoded."""
    f = wferry()
    src_dir = make_dir(tmp, "src")
    name = "été #1 100%.txt"
    write_file(src_dir / name, b"odd")
    r = run(["curl", "-sS", "-k", "--max-time", "30", "-T", name,
             "-o", "/dev/null", "-w", "%{http_code}",
             f.url + "/in%20box/"], timeout=40, cwd=src_dir)
    assert r.stdout == b"201", r
    assert f.path("in box/" + name).read_bytes() == b"odd"


def test_encoded_slash_is_not_a_separator(wferry):
    """a%2fb is one name that cannot exist: refused, or stored inside DIR
    without creating a folder a."""
    f = wferry()
    r = put(f.port, "/a%2fb", b"slash")
    assert r.status in (400, 403, 404, 409), r
    assert os.listdir(f.dir) == []


# --- dotfiles, folders, temporary names --------------------------------------

@pytest.mark.parametrize("path", ["/.secret", "/sub/.secret", "/.dir/file",
                                  "/.ferry-upload-x",
                                  "/sub/.ferry-upload-abc"])
def test_dotfile_refused(wferry, path):
    f = wferry()
    make_dir(f.dir, "sub")
    give_to_server(f.dir)
    r = put(f.port, path, b"dot")
    assert r.status == 403, (path, r)
    assert sorted(os.listdir(f.dir)) == ["sub"]
    assert os.listdir(f.path("sub")) == []


def test_dotfile_with_hidden(wferry):
    f = wferry("--hidden")
    assert put(f.port, "/.secret", b"dot").status == 201
    assert f.path(".secret").read_bytes() == b"dot"
    assert put(f.port, "/.dir/file", b"dot").status == 201
    for path in ("/.ferry-upload-x", "/sub/.ferry-upload-abc",
                 "/.ferry-upload-d/file"):
        r = put(f.port, path, b"temp")
        assert r.status == 403, (path, r)
    assert not os.path.lexists(f.path(".ferry-upload-x"))
    assert not os.path.lexists(f.path(".ferry-upload-d"))
    # A temporary file is never served or listed, even with --hidden.
    write_file(f.path(".ferry-upload-zzz"), b"half written")
    seen = {}
    for accept in ("text/plain", "application/json", "text/html"):
        r = fetch(f.port, "/", headers={"Accept": accept})
        assert b".secret" in r.body, (accept, r.body[:300])
        seen[accept] = b".ferry-upload" in r.body
    r = fetch(f.port, "/.ferry-upload-zzz")
    seen["GET"] = r.status
    assert not any(v is True for v in seen.values()) and \
        seen["GET"] in (403, 404), "a temporary file shown: listed in " \
        "(format: True) or GET status: %r" % seen
    for method in ("DELETE", "MKCOL"):
        r = fetch(f.port, "/.ferry-upload-zzz", method)
        assert r.status in (403, 404, 405), (method, r)
    assert f.path(".ferry-upload-zzz").read_bytes() == b"half written"


@pytest.mark.parametrize("path", ["/folder", "/folder/"])
def test_put_onto_folder(wferry, path):
    f = wferry()
    make_dir(f.dir, "folder")
    write_file(f.path("folder/inside.txt"), b"kept")
    give_to_server(f.dir)
    r = put(f.port, path, b"not a folder")
    assert r.status in (409, 405), r
    text = r.body.decode("utf-8")
    assert text.strip(), "409/405 without a body saying why"
    assert "<script" not in text
    assert f.path("folder").is_dir()
    assert os.listdir(f.path("folder")) == ["inside.txt"]
    assert_clean(f.dir)


def test_put_onto_root(wferry):
    f = wferry()
    r = put(f.port, "/", b"root")
    assert r.status in (405, 409), r
    assert os.listdir(f.dir) == []


# --- confinement -------------------------------------------------------------

@pytest.fixture(params=["root", "nobody"])
def wjail(request, wferry, tmp):
    """DIR = jail/srv; jail, its siblings srv-backup and outside are
    writable by the server's user; symlinks in DIR lead out."""
    jail = make_dir(tmp, "jail")
    share = make_dir(jail, "srv")
    backup = make_dir(jail, "srv-backup")
    write_file(backup / "secret", "TOPSECRET backup\n")
    outside = make_dir(jail, "outside")
    write_file(outside / "file", "OUTSIDE-SECRET\n")
    write_file(jail / "outside.txt", "TOPSECRET outside\n")
    write_file(share / "pub.txt", "public\n")
    make_dir(share, "sub")
    links = {
        "out_file": "../outside/file",
        "out_file_abs": str(outside / "file"),
        "magic_file": "/proc/self/root" + str(outside / "file"),
        "out_dir": "../outside",
        "out_dir_abs": str(outside),
        "magic_dir": "/proc/self/root" + str(outside),
        "backup_link": "../srv-backup",
    }
    for name, target in links.items():
        os.symlink(target, share / name)
    give_to_server(jail)
    f = wferry(dir=share, as_root=(request.param == "root"))
    f.jail = jail
    f.outside = outside
    return f


def outside_state(f):
    return tree_state(f.jail, skip=("srv",))


def found_inside(f, body):
    """Files inside DIR holding BODY (symlinks not followed)."""
    out = []
    for dirpath, _, filenames in os.walk(f.dir):
        for n in filenames:
            p = os.path.join(dirpath, n)
            if not os.path.islink(p):
                with open(p, "rb") as fh:
                    if fh.read() == body:
                        out.append(os.path.relpath(p, f.dir))
    return out


ESCAPES = [
    "/../{n}", "/..%2f{n}", "/%2e%2e/{n}", "/%2E%2E/{n}", "/.%2e/{n}",
    "/%2e./{n}", "/sub/../../{n}", "/sub/%2e%2e/%2e%2e/{n}",
    "/%2f..%2f{n}", "//../{n}", "/./../{n}", "/..\\{n}", "/..%5c{n}",
    "/../srv-backup/{n}", "/../outside/{n}", "/..%2foutside%2f{n}",
    "/sub/..%2f..%2foutside%2f{n}", "/../../../../../../tmp/{n}",
    "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/tmp/{n}",
    "/../srv/../outside/{n}", "/out_dir/{n}", "/out_dir_abs/{n}",
    "/magic_dir/{n}", "/backup_link/{n}", "/out_dir/new/deeper/{n}",
    "/out_dir_abs/../{n}", "/magic_dir/../{n}", "/out_dir/%2e%2e/{n}",
]


def check_escapes(f, method, make_body):
    """Every escape target by METHOD; returns {path: status}.  Fails if
    anything outside DIR changed or a success landed outside."""
    before = outside_state(f)
    seen = {}
    for tpl in ESCAPES:
        name = "esc-%s" % secrets.token_hex(4)
        path = tpl.format(n=name)
        body = make_body(name)
        r = put(f.port, path, body, method=method) if body is not None \
            else fetch(f.port, path, method)
        seen[path] = r.status
        for where in ("/", "/tmp", str(f.jail.parent)):
            assert not os.path.lexists(os.path.join(where, name)), \
                "%s %s wrote %s" % (method, path, where)
        if 200 <= r.status < 300:
            landed = found_inside(f, body) if body else [
                d for d, _, _ in os.walk(f.dir) if d.endswith("/" + name)]
            assert landed, "%s %s answered %d but nothing inside DIR" % (
                method, path, r.status)
    after = outside_state(f)
    changed = sorted(k for k in set(before) | set(after)
                     if before.get(k) != after.get(k))
    assert not changed, "outside DIR changed: %r (statuses %r)" % (
        changed, seen)
    return seen


@pytest.mark.limit(240)
def test_put_escapes(wjail):
    seen = check_escapes(wjail, "PUT",
                         lambda n: ("ESCAPED %s\n" % n).encode())
    print("PUT escapes:", seen)
    assert_clean(wjail.dir)


def test_mkcol_escapes(wjail):
    seen = check_escapes(wjail, "MKCOL", lambda n: None)
    print("MKCOL escapes:", seen)


def test_delete_escapes(wjail):
    before = outside_state(wjail)
    paths = ["/../outside/file", "/%2e%2e/outside/file",
             "/..%2foutside%2ffile", "/out_dir/file", "/out_dir_abs/file",
             "/magic_dir/file", "/backup_link/secret",
             "/../srv-backup/secret", "/../outside.txt", "/out_dir",
             "/out_dir/", "/../outside", "/%2e%2e/srv-backup"]
    seen = {p: fetch(wjail.port, p, "DELETE").status for p in paths}
    assert outside_state(wjail) == before, seen
    # The links themselves may go; what they point at stays.
    for link in ("out_file", "out_file_abs", "magic_file"):
        r = fetch(wjail.port, "/" + link, "DELETE")
        seen["/" + link] = r.status
        assert r.status in (204, 403, 404), r
    assert outside_state(wjail) == before, seen
    print("DELETE escapes:", seen)


@pytest.mark.parametrize("link", ["out_file", "out_file_abs", "magic_file"])
def test_put_replaces_symlink_not_its_target(wjail, link):
    before = outside_state(wjail)
    body = b"replaces the link %s\n" % link.encode()
    r = put(wjail.port, "/" + link, body)
    assert r.status in (201, 204), r
    p = wjail.path(link)
    assert not p.is_symlink(), "the link is still there"
    assert p.read_bytes() == body
    assert outside_state(wjail) == before
    assert_clean(wjail.dir)


def _swap_during_upload(f, path, swap):
    """Start an upload to PATH, call SWAP once its temporary file exists,
    then finish it.  Returns (response, body)."""
    body = os.urandom(256 * 1024)
    with Upload(f.port, path, len(body)) as up:
        up.send(body[:64 * 1024])
        assert wait_temp(f.dir, 1), "no temporary file while uploading"
        swap()
        up.send(body[64 * 1024:])
        return up.final(), body


def test_parent_swapped_for_symlink_mid_upload(wjail):
    before = outside_state(wjail)
    share = wjail.dir

    def swap():
        os.rename(share / "sub", share / "sub-moved")
        os.symlink(str(wjail.outside), share / "sub")

    r, body = _swap_during_upload(wjail, "/sub/new.bin", swap)
    assert outside_state(wjail) == before, "the upload went through the link"
    if 200 <= r.status < 300:
        assert found_inside(wjail, body), "201 but the file is not in DIR"
    assert_clean(share)


def test_target_swapped_for_symlink_mid_upload(wjail):
    before = outside_state(wjail)
    share = wjail.dir

    def swap():
        os.symlink(str(wjail.outside / "file"), share / "t.bin")

    r, body = _swap_during_upload(wjail, "/t.bin", swap)
    assert outside_state(wjail) == before, "the upload wrote through the link"
    if 200 <= r.status < 300:
        assert not (share / "t.bin").is_symlink()
        assert (share / "t.bin").read_bytes() == body
    assert_clean(share)


def test_too_deep_is_refused(wferry):
    """Uploads stop where the start-up sweep for stale temporary files
    stops, so a killed upload can never be left out of its reach."""
    f = wferry()
    assert put(f.port, "/d" * 62 + "/ok", b"deep").status == 201
    r = put(f.port, "/e" * 63 + "/no", b"too deep")
    assert r.status == 403, r
    assert not os.path.lexists(f.path("e"))
