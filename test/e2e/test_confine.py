"""Confinement: nothing outside DIR is ever served, whatever the trick.

Every test runs twice: with ferry started as root (in CI: it chroots into
DIR and drops to nobody) and as nobody, where no chroot happens and the
openat2 resolver is the only thing between a client and the rest of the
disk.
"""

import os
import stat
import threading
import time

import pytest

from conftest import make_dir
from ferrylib import (ResponseReader, curl_status, exchange,
                      fetch, tls_connect, write_file)

SECRETS = (b"TOPSECRET", b"root:x:0:", b"OUTSIDE-SECRET")


@pytest.fixture(params=["root", "nobody"])
def jail(request, ferry, tmp):
    """DIR = tmp/srv, with a sibling srv-backup and files outside."""
    base = tmp
    share = make_dir(base, "srv")
    backup = make_dir(base, "srv-backup")
    write_file(backup / "secret", "TOPSECRET backup\n")
    write_file(base / "outside.txt", "TOPSECRET outside\n")
    outside = make_dir(base, "outside")
    write_file(outside / "file", "OUTSIDE-SECRET\n")
    write_file(share / "pub.txt", "public\n")
    sub = make_dir(share, "sub")
    write_file(sub / "file", "INSIDE\n")
    os.symlink("/etc/passwd", share / "out_abs")
    os.symlink("../srv-backup/secret", share / "out_rel")
    os.symlink("../srv-backup", share / "out_dir")
    os.symlink(str(backup), share / "out_abs_dir")
    os.symlink("../../../../../../../../etc/passwd", share / "out_deep")
    os.symlink("/proc/self/root/etc/passwd", share / "out_proc")
    os.symlink("pub.txt", share / "in_link")
    os.symlink("../pub.txt", sub / "up_link")
    os.symlink("sub", share / "in_dirlink")
    os.symlink("loop", share / "loop")
    f = ferry(dir=share, as_root=(request.param == "root"))
    f.base = base
    return f


def assert_no_secret(body, what):
    for s in SECRETS:
        assert s not in body, "%s leaked %r" % (what, body[:300])


TRICKS = [
    "/../srv-backup/secret",
    "/..%2fsrv-backup%2fsecret",
    "/%2e%2e/srv-backup/secret",
    "/%2E%2E/srv-backup/secret",
    "/.%2e/srv-backup/secret",
    "/%2e./srv-backup/secret",
    "/sub/../../srv-backup/secret",
    "/sub/%2e%2e/%2e%2e/srv-backup/secret",
    "/%2f..%2fsrv-backup%2fsecret",
    "//../srv-backup/secret",
    "/./../srv-backup/secret",
    "/..\\..\\srv-backup\\secret",
    "/..%5c..%5csrv-backup%5csecret",
    "/..%255c..%255csrv-backup%255csecret",
    "/%252e%252e/srv-backup/secret",
    "/%c0%ae%c0%ae/srv-backup/secret",
    "/..;/srv-backup/secret",
    "/.../srv-backup/secret",
    "/../srv/../srv-backup/secret",
    "/srv-backup/secret",
    "/../outside.txt",
    "/..%2foutside.txt",
    "/../../../../etc/passwd",
    "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/etc/passwd",
    "//etc/passwd",
    "/%2fetc%2fpasswd",
    "/pub.txt%00",
    "/pub.txt%00.html",
    "/%00",
    "/..%00/srv-backup/secret",
    "/out_abs", "/out_rel", "/out_dir/secret", "/out_dir/", "/out_abs_dir/",
    "/out_abs_dir/secret", "/out_deep", "/out_proc",
    "/sub/..%2f..%2fsrv-backup/secret",
]


@pytest.mark.limit(300)
def test_escapes_with_curl(jail):
    for t in TRICKS:
        code, body, r = curl_status(jail.url + t)
        assert_no_secret(body, "curl " + t)
        assert code in (400, 403, 404), (t, code, body[:200])


@pytest.mark.limit(300)
def test_escapes_raw(jail):
    raw = [t.encode() for t in TRICKS] + [
        b"/pub.txt\x00", b"/..\x00/srv-backup/secret",
        b"https://localhost/../srv-backup/secret",
        b"https://localhost/%2e%2e/srv-backup/secret",
        b"https://localhost/../../etc/passwd",
        b"https://localhost:1/..%2f..%2fetc/passwd",
    ]
    for t in raw:
        req = b"GET " + t + b" HTTP/1.1\r\nHost: localhost\r\n" \
              b"Connection: close\r\n\r\n"
        rs, _ = exchange(jail.port, req, 1, close_wait=0)
        assert rs, t
        assert_no_secret(rs[0].body, repr(t))
        assert rs[0].status in (400, 403, 404), (t, rs[0])


def test_inside_links_work(jail):
    assert fetch(jail.port, "/pub.txt").body == b"public\n"
    r = fetch(jail.port, "/in_link")
    assert r.status == 200 and r.body == b"public\n"
    r = fetch(jail.port, "/sub/up_link")
    assert r.status == 200 and r.body == b"public\n"
    r = fetch(jail.port, "/in_dirlink/file")
    assert r.status == 200 and r.body == b"INSIDE\n"
    assert fetch(jail.port, "/in_dirlink/").status == 200


def test_outside_links_not_listed(jail):
    import json
    r = fetch(jail.port, "/", headers={"Accept": "application/json"})
    doc = json.loads(r.body)
    if isinstance(doc, dict):
        doc = [v for v in doc.values() if isinstance(v, list)][0]
    names = {e["name"].rstrip("/") for e in doc}
    assert {"pub.txt", "sub", "in_link", "in_dirlink"} <= names
    leaked = names & {"out_abs", "out_rel", "out_dir", "out_abs_dir",
                      "out_deep", "out_proc", "loop"}
    assert not leaked, names
    assert_no_secret(fetch(jail.port, "/").body, "listing")


def test_symlink_loop_is_quick(jail):
    t0 = time.monotonic()
    r = fetch(jail.port, "/loop")
    assert r.status in (403, 404), r
    assert time.monotonic() - t0 < 2


def test_fifo_refused_quickly(jail):
    os.mkfifo(jail.path("fifo"))
    for method in ("GET", "HEAD"):
        t0 = time.monotonic()
        r = fetch(jail.port, "/fifo", method, timeout=5)
        assert r.status in (403, 404), r
        assert time.monotonic() - t0 < 2
    # The server is still fine, and the FIFO is not listed.
    assert fetch(jail.port, "/pub.txt").status == 200
    assert b"fifo" not in fetch(jail.port, "/").body


def test_device_node_refused(jail):
    try:
        os.mknod(jail.path("zero"), stat.S_IFCHR | 0o666, os.makedev(1, 5))
    except PermissionError:
        pytest.skip("cannot make device nodes here")
    t0 = time.monotonic()
    r = fetch(jail.port, "/zero", timeout=5)
    assert r.status in (403, 404), r
    assert time.monotonic() - t0 < 2
    os.symlink("/dev/zero", jail.path("zero_link"))
    r = fetch(jail.port, "/zero_link", timeout=5)
    assert r.status in (403, 404), r


def test_unreadable_file(jail):
    if os.geteuid() != 0:
        pytest.skip("ferry runs as the file's owner")
    write_file(jail.path("locked.txt"), "locked")
    os.chmod(jail.path("locked.txt"), 0o600)
    r = fetch(jail.port, "/locked.txt")
    assert r.status in (403, 404), r
    assert b"locked" not in r.body


@pytest.mark.limit(240)
def test_swap_race(jail):
    """A thread swaps sub/ for symlinks that lead out while we fetch
    sub/file (2000 times): every answer is the inside file or a 404."""
    share = jail.dir
    sub = share / "sub"
    real = share / "sub-real"
    links = []
    for i, target in enumerate([str(jail.base / "outside"), "../outside",
                                "../srv-backup", "/etc"]):
        link = share / ("sub-link%d" % i)
        os.symlink(target, link)
        links.append(link)
    stop = threading.Event()
    swaps = [0]

    def swapper():
        i = 0
        while not stop.is_set():
            link = links[i % len(links)]
            os.rename(sub, real)
            os.rename(link, sub)
            time.sleep(0.0002)
            os.rename(sub, link)
            os.rename(real, sub)
            time.sleep(0.0002)
            swaps[0] += 1
            i += 1

    t = threading.Thread(target=swapper, daemon=True)
    counts = {}
    t.start()
    try:
        s = tls_connect(jail.port)
        rd = ResponseReader(s, time.monotonic() + 180)
        for n in range(2000):
            s.sendall(b"GET /sub/file HTTP/1.1\r\nHost: a\r\n\r\n")
            r = rd.read_response()
            assert r is not None, "connection closed after %d" % n
            assert_no_secret(r.body, "swap race")
            if r.status == 200:
                assert r.body == b"INSIDE\n", r.body
            else:
                assert r.status in (403, 404, 500, 503), r
            counts[r.status] = counts.get(r.status, 0) + 1
        s.close()
    finally:
        stop.set()
        t.join(10)
    print("swap race: %d swaps, statuses %r" % (swaps[0], counts))
    assert swaps[0] > 10
    assert counts.get(200, 0) > 0
    assert not counts.get(500) and not counts.get(503), \
        "server errors during the race: %r" % counts
