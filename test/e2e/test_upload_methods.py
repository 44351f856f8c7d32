"""DELETE, MKCOL, what a read-only server says to writes, and the
writable listing page (controls, and a policy that allows its script by
hash and nothing else)."""

import base64
import hashlib
import os
import re

import pytest

from conftest import give_to_server, make_dir
from ferrylib import fetch, put, write_file


def allow_set(r):
    return {m.strip() for m in (r.header("Allow") or "").split(",")
            if m.strip()}


# --- without -w --------------------------------------------------------------

@pytest.mark.parametrize("method,path", [
    ("PUT", "/new.txt"), ("PUT", "/f.txt"), ("DELETE", "/f.txt"),
    ("DELETE", "/dir"), ("MKCOL", "/newdir"), ("MKCOL", "/dir")])
def test_read_only_refuses_writes(ferry, method, path):
    f = ferry()
    write_file(f.path("f.txt"), b"kept")
    make_dir(f.dir, "dir")
    r = put(f.port, path, b"x") if method == "PUT" \
        else fetch(f.port, path, method)
    assert r.status == 403, r
    assert allow_set(r) == {"GET", "HEAD", "OPTIONS"}, r.headers
    assert sorted(os.listdir(f.dir)) == ["dir", "f.txt"]
    assert f.path("f.txt").read_bytes() == b"kept"


@pytest.mark.parametrize("as_root", [False, True])
def test_unwritable_folder_warned_at_start(ferry, tmp, as_root):
    """-w on a folder the serving user may not write: a warning at start,
    and the upload then refused as it said; none for a writable one."""
    if as_root and os.geteuid() != 0:
        pytest.skip("needs root to start as root")
    ro = make_dir(tmp, "ro")
    ro.chmod(0o555)
    f = ferry("-w", dir=ro, as_root=as_root)
    assert re.search(r"upload: uid \d+ may not write the shared folder",
                     f.stderr()), f.stderr()
    assert put(f.port, "/new.txt", b"x").status == 403
    assert os.listdir(ro) == []
    rw = make_dir(tmp, "rw")
    give_to_server(rw)
    g = ferry("-w", dir=rw, as_root=as_root)
    assert "may not write" not in g.stderr(), g.stderr()
    assert put(g.port, "/new.txt", b"x").status == 201


def test_options_allow(ferry, wferry):
    ro = ferry()
    rw = wferry()
    r = fetch(ro.port, "/", "OPTIONS")
    assert not allow_set(r) & {"PUT", "DELETE", "MKCOL"}, r.headers
    r = fetch(rw.port, "/", "OPTIONS")
    assert r.status in (200, 204)
    assert {"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "MKCOL"} <= \
        allow_set(r), r.headers


# --- DELETE ------------------------------------------------------------------

@pytest.fixture
def filled(wferry):
    f = wferry()
    write_file(f.path("file.txt"), b"bye")
    make_dir(f.dir, "empty")
    make_dir(f.dir, "empty2")
    make_dir(f.dir, "full")
    write_file(f.path("full/inside.txt"), b"kept")
    write_file(f.path(".secret"), b"hidden")
    give_to_server(f.dir)
    return f


def test_delete_file(filled):
    r = fetch(filled.port, "/file.txt", "DELETE")
    assert r.status == 204, r
    assert not filled.path("file.txt").exists()
    assert fetch(filled.port, "/file.txt").status == 404
    assert fetch(filled.port, "/file.txt", "DELETE").status == 404


@pytest.mark.parametrize("path", ["/empty", "/empty2/"])
def test_delete_empty_folder(filled, path):
    r = fetch(filled.port, path, "DELETE")
    assert r.status == 204, r
    assert not filled.path(path.strip("/")).exists()


def test_delete_full_folder_409(filled):
    for path in ("/full", "/full/"):
        r = fetch(filled.port, path, "DELETE")
        assert r.status == 409, r
        assert r.body.strip(), "409 without a body saying why"
    assert filled.path("full/inside.txt").read_bytes() == b"kept"


@pytest.mark.parametrize("path,statuses", [
    ("/missing", {404}), ("/missing/deeper", {404}), ("/", {403}),
    ("/.secret", {403, 404}), ("/full/inside.txt/x", {404, 409})])
def test_delete_refused(filled, path, statuses):
    before = sorted(os.listdir(filled.dir))
    r = fetch(filled.port, path, "DELETE")
    assert r.status in statuses, r
    assert sorted(os.listdir(filled.dir)) == before
    assert filled.path(".secret").read_bytes() == b"hidden"


def test_delete_if_match(filled):
    tag = fetch(filled.port, "/file.txt", "HEAD").header("ETag")
    r = fetch(filled.port, "/file.txt", "DELETE",
              headers={"If-Match": '"stale"'})
    assert r.status == 412, r
    assert filled.path("file.txt").exists()
    r = fetch(filled.port, "/file.txt", "DELETE", headers={"If-Match": tag})
    assert r.status == 204, r
    assert not filled.path("file.txt").exists()


# --- MKCOL -------------------------------------------------------------------

def test_mkcol(filled):
    r = fetch(filled.port, "/new", "MKCOL")
    assert r.status == 201, r
    assert filled.path("new").is_dir()
    assert os.listdir(filled.path("new")) == []
    assert fetch(filled.port, "/new", "MKCOL").status == 405
    assert fetch(filled.port, "/new/", "GET").status == 200
    r = fetch(filled.port, "/new/sub", "MKCOL")
    assert r.status == 201, r
    assert filled.path("new/sub").is_dir()
    # A folder made by MKCOL takes uploads.
    assert put(filled.port, "/new/sub/a.txt", b"a").status == 201


def test_mkcol_trailing_slash(filled):
    r = fetch(filled.port, "/slashed/", "MKCOL")
    assert r.status == 201, r
    assert filled.path("slashed").is_dir()


@pytest.mark.parametrize("path,statuses", [
    ("/file.txt", {405}), ("/full", {405}), ("/", {405}),
    ("/missing/child", {409}), ("/file.txt/child", {409}),
    ("/.hidden", {403}), ("/.ferry-upload-x", {403})])
def test_mkcol_refused(filled, path, statuses):
    before = sorted(os.listdir(filled.dir))
    r = fetch(filled.port, path, "MKCOL")
    assert r.status in statuses, r
    assert sorted(os.listdir(filled.dir)) == before
    assert filled.path("file.txt").read_bytes() == b"bye"


# --- the listing page --------------------------------------------------------

def inline(tag, page):
    return re.findall(r"<%s[^>]*>(.*?)</%s>" % (tag, tag), page, re.S)


def sha256_b64(text):
    return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def csp_directives(r):
    csp = r.header("Content-Security-Policy")
    assert csp, "no Content-Security-Policy"
    out = {}
    for d in csp.split(";"):
        parts = d.split()
        if parts:
            out[parts[0]] = parts[1:]
    return out


def test_writable_page_has_controls(filled):
    r = fetch(filled.port, "/", headers={"Accept": "text/html"})
    assert r.status == 200
    page = r.body.decode("utf-8")
    assert 'class="drop"' in page, "no drop zone"
    assert re.search(r'<input[^>]*type="file"', page), "no file picker"
    assert re.search(r'<input[^>]*\bmultiple\b', page), "one file at a time"
    assert 'id="mkdir"' in page, "no new-folder control"
    rows = page.count("<tr") - 1
    assert page.count('class="del"') >= 4 and rows >= 4, \
        "no delete button per row"
    scripts = inline("script", page)
    assert len(scripts) == 1, "expected one inline script"
    assert not re.search(r"<script[^>]*\bsrc=", page), "external script"
    assert not re.search(r"<link\b(?![^>]*href=\"data:)", page), \
        "external stylesheet"
    assert not re.search(r"\son[a-z]+=", page), "inline event handler"
    csp = csp_directives(r)
    assert csp.get("script-src") == ["'sha256-%s'" % sha256_b64(
        scripts[0])], csp.get("script-src")
    styles = inline("style", page)
    assert len(styles) == 1
    assert csp.get("style-src") == ["'sha256-%s'" % sha256_b64(styles[0])]
    assert csp.get("default-src") == ["'none'"]
    assert csp.get("connect-src") == ["'self'"]


def test_read_only_page_has_no_script(ferry):
    f = ferry()
    write_file(f.path("file.txt"), b"x")
    r = fetch(f.port, "/", headers={"Accept": "text/html"})
    page = r.body.decode("utf-8")
    assert "<script" not in page.lower()
    assert 'type="file"' not in page
    assert 'id="mkdir"' not in page and 'class="del"' not in page
    assert 'class="drop"' not in page
    csp = csp_directives(r)
    assert csp.get("script-src") in (None, ["'none'"]), csp
    assert "connect-src" not in csp


# --- uploaded pages cannot act for their visitors ----------------------------

EVIL_PAGE = b"""<!DOCTYPE html><title>evil</title><p id=r>pending</p>
<script>
var x = new XMLHttpRequest();
x.open("DELETE", "/victim.txt");
x.onloadend = function () {
    document.getElementById("r").textContent = "status " + x.status;
};
x.send();
</script>"""


@pytest.mark.parametrize("name,sandboxed", [
    ("p.html", True), ("p.htm", True), ("i.svg", True), ("d.xml", True),
    ("x.xhtml", True), ("t.txt", False), ("b.bin", False)])
def test_writable_share_sandboxes_active_content(wferry, ferry, name,
                                                 sandboxed):
    f = wferry()
    write_file(f.path(name), b"<x/>")
    r = fetch(f.port, "/" + name)
    assert r.status == 200
    csp = r.header("Content-Security-Policy") or ""
    assert csp.startswith("sandbox allow-scripts") == sandboxed, (name, csp)
    assert "allow-same-origin" not in csp
    r = fetch(f.port, "/" + name, headers={"Range": "bytes=0-1"})
    assert r.status == 206
    assert (r.header("Content-Security-Policy") or "").startswith(
        "sandbox") == sandboxed
    # A read-only share serves the owner's own pages as they are.
    g = ferry()
    write_file(g.path(name), b"<x/>")
    assert fetch(g.port, "/" + name).header("Content-Security-Policy") \
        is None


@pytest.mark.limit(180)
def test_uploaded_page_cannot_delete_in_a_browser(wferry, tmp):
    """Someone uploads a page whose script DELETEs a file; a visitor opens
    it in Chromium.  Sandboxed, the script runs in an opaque origin: its
    DELETE needs a CORS preflight that ferry refuses, and the file stays."""
    from test_realuse import CHROMIUM, chromium
    if not os.path.exists(CHROMIUM):
        pytest.fail("chromium is not installed (make deps)")
    f = wferry()
    write_file(f.path("victim.txt"), b"keep me")
    assert put(f.port, "/evil.html", EVIL_PAGE).status == 201
    profile = make_dir(tmp, "chrome-evil")
    r = chromium(["--virtual-time-budget=5000", "--dump-dom",
                  f.url + "/evil.html"], profile)
    assert r.returncode == 0, r.stderr[-3000:]
    dom = r.stdout.decode("utf-8", "replace")
    assert "status 0" in dom, dom[-2000:]       # the request was blocked
    assert f.path("victim.txt").read_bytes() == b"keep me"
