"""Uploads with -w over real TLS: curl -T, raw PUTs, Expect, conditional
writes, limits, a full disk, and every way an upload can be cut short.

Whatever happens, a file in DIR is the old version or the complete new
one, and no temporary file (.ferry-upload-*) stays behind.
"""

import os
import pathlib
import random
import subprocess
import threading
import time
import urllib.parse

import pytest

from conftest import give_to_server, make_dir, release_bin
from ferrylib import (GIB, HUGE, HUGE_MARKS, KIB, MIB, Upload, fetch,
                      http_date, put, run, sha256sum, sparse_with_marks,
                      upload_temps, wait_closed, wait_no_temps, wait_temp,
                      write_file)



def blob(size, seed):
    return random.Random(seed).randbytes(size)


def curl_put(f, src, path, *extra, timeout=60):
    """curl -T SRC to PATH.  Returns (status, final head fields as a dict
    with lower-case names, body, whether a 100 came first)."""
    tmpdir = pathlib.Path(f.out_path).parent
    head = tmpdir / ("curl-head-%d" % threading.get_ident())
    r = run(["curl", "-sS", "-k", "-g", "--path-as-is", "--max-time",
             str(timeout), "-T", str(src), "-D", str(head), "-o", "-",
             "-w", "\n%{http_code}", *extra, f.url + path],
            timeout=timeout + 10)
    body, _, code = r.stdout.rpartition(b"\n")
    blocks = head.read_bytes().decode("latin-1").split("\r\n\r\n") \
        if head.exists() else [""]
    blocks = [b for b in blocks if b.strip()]
    fields = {}
    for line in (blocks[-1].split("\r\n")[1:] if blocks else []):
        n, _, v = line.partition(":")
        fields[n.strip().lower()] = v.strip()
    saw_100 = any(b.split(" ", 2)[1:2] == ["100"] for b in blocks)
    assert r.returncode == 0, r.stderr
    return int(code or b"0"), fields, body, saw_100


def location_path(value):
    """The path of a Location, absolute URL or absolute path."""
    assert value, "no Location"
    path = urllib.parse.urlsplit(value).path
    assert path.startswith("/"), value
    return path


def etag_of(f, path):
    r = fetch(f.port, path, "HEAD")
    assert r.status == 200, r
    return r.header("ETag")


def assert_clean(f, wait=3.0):
    left = wait_no_temps(f.dir, wait)
    assert not left, "temporary files left: %r" % left


# --- PUT with curl -----------------------------------------------------------

@pytest.mark.parametrize("folder", ["/", "/inbox/", "/new/deep/er/"])
def test_curl_put_into_folder_appends_name(wferry, tmp, folder):
    f = wferry()
    src = tmp / "report 2026.txt"
    data = write_file(src, blob(100 * KIB, 1))
    code, fields, body, _ = curl_put(f, src, folder)
    assert code == 201, (code, body)
    loc = location_path(fields.get("location"))
    assert loc == folder + "report%202026.txt", fields
    assert f.path(folder.lstrip("/") + "report 2026.txt").read_bytes() \
        == data
    assert fetch(f.port, loc).body == data
    assert_clean(f)


def test_curl_put_named_target_creates_then_replaces(wferry, tmp):
    f = wferry()
    first = write_file(tmp / "a", blob(70 * KIB, 2))
    second = write_file(tmp / "b", blob(33 * KIB, 3))
    code, fields, _, _ = curl_put(f, tmp / "a", "/x/y/name.bin")
    assert code == 201
    assert location_path(fields.get("location")) == "/x/y/name.bin"
    assert f.path("x/y/name.bin").read_bytes() == first
    code, fields, _, _ = curl_put(f, tmp / "b", "/x/y/name.bin")
    assert code == 204, fields
    assert f.path("x/y/name.bin").read_bytes() == second
    assert sorted(os.listdir(f.path("x/y"))) == ["name.bin"]
    assert_clean(f)


def test_curl_put_waits_for_100(wferry, tmp):
    """curl -T sends Expect: 100-continue and waits for the 100."""
    f = wferry()
    data = write_file(tmp / "big", blob(3 * MIB + 5, 4))
    code, _, _, saw_100 = curl_put(f, tmp / "big", "/big.bin")
    assert code == 201
    assert saw_100, "no 100 Continue before the 201"
    assert f.path("big.bin").read_bytes() == data


def test_curl_put_from_pipe_is_chunked(wferry):
    f = wferry()
    data = blob(300 * KIB + 7, 5)
    r = run(["curl", "-sS", "-k", "-v", "--max-time", "30", "-T", "-",
             "-o", "/dev/null", "-w", "%{http_code}", f.url + "/piped.bin"],
            input=data, timeout=40)
    assert r.returncode == 0, r.stderr
    assert b"transfer-encoding: chunked" in r.stderr.lower(), \
        "curl did not send chunked"
    assert r.stdout == b"201"
    assert f.path("piped.bin").read_bytes() == data
    assert_clean(f)


@pytest.mark.parametrize("how", ["length", "chunked", "curl"])
def test_empty_body(wferry, tmp, how):
    f = wferry()
    if how == "curl":
        write_file(tmp / "empty.txt", b"")
        code, fields, _, _ = curl_put(f, tmp / "empty.txt", "/")
        assert code == 201, code
    else:
        r = put(f.port, "/empty.txt", b"", chunked=(how == "chunked"))
        assert r is not None, "connection closed without an answer"
        assert r.status == 201, r
    assert f.path("empty.txt").read_bytes() == b""


def test_raw_chunked_with_extensions_and_trailer(wferry):
    f = wferry()
    body = (b"5;name=value\r\nhello\r\n1\r\n \r\n"
            b"6\r\nworld!\r\n0\r\nX-Trailer: yes\r\n\r\n")
    with Upload(f.port, "/chunks.txt") as up:
        up.sock.sendall(body)
        r = up.final()
    assert r.status == 201, r
    assert f.path("chunks.txt").read_bytes() == b"hello world!"


def test_keep_alive_after_put(wferry):
    """A PUT answered, the connection carries the next request."""
    f = wferry()
    with Upload(f.port, "/one.txt", 3, headers={"Connection": "keep-alive"}
                ) as up:
        req = (b"abc" + b"GET /one.txt HTTP/1.1\r\nHost: x\r\n"
               b"Connection: close\r\n\r\n")
        up.sock.sendall(req)
        assert up.final().status == 201
        up.method = "GET"
        r = up.final()
    assert r.status == 200 and r.body == b"abc"


# --- 5 GiB -------------------------------------------------------------------

def peak_rss(pid):
    """VmHWM of PID in bytes: the most memory it ever held."""
    with open("/proc/%d/status" % pid) as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM for %d" % pid)


@pytest.mark.limit(900)
def test_curl_put_5g_sparse(wferry, tmp):
    src = tmp / "huge-src.bin"
    sparse_with_marks(src)
    f = wferry("-q", binary=release_bin())
    t0 = time.monotonic()
    code, fields, body, _ = curl_put(f, src, "/huge.bin", timeout=700)
    took = time.monotonic() - t0
    assert code == 201, (code, body)
    peak = peak_rss(f.pid)
    stored = f.path("huge.bin")
    assert stored.stat().st_size == HUGE
    with open(stored, "rb") as fh:
        for off, mark in HUGE_MARKS:
            fh.seek(off)
            assert fh.read(len(mark)) == mark, off
    t1 = time.monotonic()
    want, got = sha256sum([src, stored])
    print("5 GiB PUT: %.1f s (%.0f MB/s), sha256 %.1f s, ferry's peak "
          "RSS %.1f MiB" % (took, HUGE / took / 1e6, time.monotonic() - t1,
                            peak / MIB))
    assert got == want
    assert peak < 64 * MIB, "ferry grew to %d MiB for one upload" % (
        peak // MIB)
    assert_clean(f)


# --- Expect: 100-continue ----------------------------------------------------

def test_expect_accepted_gets_100_then_final(wferry):
    f = wferry()
    data = blob(200 * KIB, 6)
    with Upload(f.port, "/e.bin", len(data), expect=True) as up:
        r = up.response(timeout=5)
        assert r.status == 100, r
        assert up.send(data)
        r = up.final()
    assert r.status == 201 and not r.interim
    assert f.path("e.bin").read_bytes() == data


def test_expect_chunked_accepted(wferry):
    f = wferry()
    with Upload(f.port, "/e.txt", None, expect=True) as up:
        assert up.response(timeout=5).status == 100
        up.send(b"first ")
        up.send(b"second")
        up.finish()
        assert up.final().status == 201
    assert f.path("e.txt").read_bytes() == b"first second"


def test_expect_body_sent_without_waiting(wferry):
    """A client that sends the body at once must not confuse the server."""
    f = wferry()
    data = blob(50 * KIB, 7)
    with Upload(f.port, "/eager.bin", len(data), expect=True) as up:
        up.send(data)
        r = up.final()
    assert r.status == 201, r
    assert [i.status for i in r.interim] in ([], [100])
    assert f.path("eager.bin").read_bytes() == data


def _write(name, data=b"old content\n"):
    return lambda d: write_file(d / name, data)


def _mkdir(name):
    return lambda d: make_dir(d, name)


REFUSALS = [
    # label, writable, extra args, setup, path, headers, statuses
    ("over --max-upload", True, ("--max-upload", "10K"), None, "/big.bin",
     {}, {413}),
    ("If-None-Match on an existing file", True, (), _write("f.txt"),
     "/f.txt", {"If-None-Match": "*"}, {412}),
    ("stale If-Match", True, (), _write("f.txt"), "/f.txt",
     {"If-Match": '"not-the-etag"'}, {412}),
    ("If-Match on a missing file", True, (), None, "/f.txt",
     {"If-Match": "*"}, {412}),
    ("If-Unmodified-Since before the file", True, (), _write("f.txt"),
     "/f.txt", {"If-Unmodified-Since": "Sat, 01 Jan 2000 00:00:00 GMT"},
     {412}),
    ("PUT onto a folder", True, (), _mkdir("folder"), "/folder", {},
     {409, 405}),
    ("a parent is a file", True, (), _write("f.txt"), "/f.txt/child", {},
     {409}),
    ("a dotfile", True, (), None, "/.profile", {}, {403}),
    ("a temporary file's name", True, ("--hidden",), None,
     "/.ferry-upload-x", {}, {403}),
    ("without -w", False, (), _write("f.txt"), "/f.txt", {}, {403}),
]


@pytest.mark.parametrize("label,writable,args,setup,path,headers,statuses",
                         REFUSALS, ids=[r[0] for r in REFUSALS])
def test_expect_refused_at_once(ferry, wferry, label, writable, args, setup,
                                path, headers, statuses):
    """The final status comes in answer to the head: no 100, and the
    server does not wait for a body that the client never sends."""
    f = wferry(*args) if writable else ferry(*args)
    if setup:
        setup(f.dir)
        give_to_server(f.dir)
    before = f.path(path.lstrip("/"))
    old = before.read_bytes() if before.is_file() else None
    with Upload(f.port, path, 20 * KIB, headers, expect=True) as up:
        t0 = time.monotonic()
        r = up.response(timeout=5)
        took = time.monotonic() - t0
    assert r is not None, "connection closed without an answer"
    assert r.status in statuses, (label, r, r.body[:300])
    assert took < 3, took
    if old is not None:
        assert before.read_bytes() == old
    elif not before.is_dir():
        assert not os.path.lexists(before)
    assert_clean(f)


def test_refused_before_body_without_expect(wferry):
    """Over --max-upload by Content-Length: 413 before a body byte."""
    f = wferry("--max-upload", "10K")
    write_file(f.path("keep.bin"), b"old")
    with Upload(f.port, "/keep.bin", 10 * KIB + 1) as up:
        r = up.response(timeout=5)
    assert r.status == 413, r
    assert f.path("keep.bin").read_bytes() == b"old"
    assert_clean(f)


def test_expect_ignored_for_http10(wferry):
    f = wferry()
    data = blob(20 * KIB, 8)
    with Upload(f.port, "/old.bin", len(data), expect=True,
                version="HTTP/1.0") as up:
        assert not up.answered(0.7), "the server answered an HTTP/1.0 " \
            "Expect: %r" % up.reader.buf[:100]
        up.send(data)
        r = up.final()
    assert r.status == 201 and not r.interim, (r, r.interim)
    assert f.path("old.bin").read_bytes() == data


# --- conditional writes ------------------------------------------------------

def test_if_none_match_star_creates_only(wferry):
    f = wferry()
    r = put(f.port, "/once.txt", b"first", {"If-None-Match": "*"})
    assert r.status == 201
    r = put(f.port, "/once.txt", b"second", {"If-None-Match": "*"})
    assert r.status == 412, r
    assert f.path("once.txt").read_bytes() == b"first"
    assert_clean(f)


def test_if_match(wferry):
    f = wferry()
    write_file(f.path("doc.txt"), b"version 1")
    v1 = etag_of(f, "/doc.txt")
    r = put(f.port, "/doc.txt", b"version 2", {"If-Match": v1})
    assert r.status == 204, r
    v2 = etag_of(f, "/doc.txt")
    assert v2 != v1
    r = put(f.port, "/doc.txt", b"version 3", {"If-Match": v1})
    assert r.status == 412, r
    assert f.path("doc.txt").read_bytes() == b"version 2"
    r = put(f.port, "/doc.txt", b"version 3",
            {"If-Match": '"other", %s' % v2})
    assert r.status == 204, r
    r = put(f.port, "/doc.txt", b"version 4", {"If-Match": "*"})
    assert r.status == 204, r
    assert f.path("doc.txt").read_bytes() == b"version 4"
    r = put(f.port, "/missing.txt", b"x", {"If-Match": v2})
    assert r.status == 412, r
    assert not f.path("missing.txt").exists()
    assert_clean(f)


def test_if_unmodified_since(wferry):
    f = wferry()
    t = int(time.time()) - 3600
    write_file(f.path("doc.txt"), b"v1", mtime=t)
    r = put(f.port, "/doc.txt", b"v2",
            {"If-Unmodified-Since": http_date(t - 60)})
    assert r.status == 412, r
    assert f.path("doc.txt").read_bytes() == b"v1"
    r = put(f.port, "/doc.txt", b"v2", {"If-Unmodified-Since": http_date(t)})
    assert r.status == 204, r
    assert f.path("doc.txt").read_bytes() == b"v2"
    os.utime(f.path("doc.txt"), (t, t))
    r = put(f.port, "/doc.txt", b"v3",
            {"If-Unmodified-Since": "not a date"})
    assert r.status == 204, "an invalid date must be ignored: %r" % r
    assert_clean(f)


def _slow_put(f, path, headers, first=64 * KIB, total=256 * KIB):
    """An upload sent up to FIRST bytes, its temporary file in place."""
    up = Upload(f.port, path, total, headers)
    up.send(blob(first, 9))
    assert wait_temp(f.dir, 1), "no temporary file for a running upload"
    return up


def test_if_none_match_rechecked_at_commit(wferry):
    """Another client creates the name while a create-only upload is
    running: the create-only one must get 412, not replace it."""
    f = wferry()
    up = _slow_put(f, "/race.txt", {"If-None-Match": "*"})
    with up:
        assert put(f.port, "/race.txt", b"winner").status == 201
        up.send(blob(192 * KIB, 10))
        r = up.final()
    assert r.status == 412, r
    assert f.path("race.txt").read_bytes() == b"winner"
    assert_clean(f)


def test_if_match_rechecked_at_commit(wferry):
    f = wferry()
    write_file(f.path("doc.txt"), b"seen")
    tag = etag_of(f, "/doc.txt")
    up = _slow_put(f, "/doc.txt", {"If-Match": tag})
    with up:
        assert put(f.port, "/doc.txt", b"changed meanwhile").status == 204
        up.send(blob(192 * KIB, 10))
        r = up.final()
    assert r.status == 412, r
    assert f.path("doc.txt").read_bytes() == b"changed meanwhile"
    assert_clean(f)


@pytest.mark.limit(120)
def test_if_match_race_has_one_winner(wferry):
    """Twenty uploads that all saw the same version (If-Match) finish at
    the same moment: exactly one may replace it, the others get 412."""
    f = wferry()
    for round_no in range(8):
        write_file(f.path("im.txt"), b"version %d" % round_no)
        tag = etag_of(f, "/im.txt")
        ups = [Upload(f.port, "/im.txt", 6, {"If-Match": tag})
               for _ in range(20)]
        for i, up in enumerate(ups):
            up.send(b"%04d" % i)
        go = threading.Barrier(len(ups))
        statuses = [None] * len(ups)

        def finish(i):
            go.wait()
            ups[i].send(b"!\n")
            statuses[i] = ups[i].final().status

        threads = [threading.Thread(target=finish, args=(i,))
                   for i in range(len(ups))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        for up in ups:
            up.close()
        winners = [i for i, st in enumerate(statuses) if st == 204]
        assert len(winners) == 1, (round_no, statuses)
        assert sorted(statuses) == [204] + [412] * 19, statuses
        assert f.path("im.txt").read_bytes() == b"%04d!\n" % winners[0]
    assert_clean(f)


@pytest.mark.limit(120)
def test_twenty_concurrent_puts_to_one_name(wferry):
    """All twenty are half sent (twenty temporary files side by side)
    before any finishes; then they finish together."""
    f = wferry()
    size = 512 * KIB
    bodies = [blob(size, 100 + i) for i in range(20)]
    statuses = [None] * 20
    halfway = threading.Barrier(21)
    go = threading.Event()

    def one(i):
        try:
            with Upload(f.port, "/contested.bin", size, timeout=60) as up:
                up.send(bodies[i][:size // 2])
                halfway.wait(30)
                go.wait(30)
                up.send(bodies[i][size // 2:])
                statuses[i] = up.final(timeout=60).status
        except Exception as e:          # reported below
            statuses[i] = repr(e)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    halfway.wait(30)
    deadline = time.monotonic() + 10
    while len(upload_temps(f.dir)) < 20 and time.monotonic() < deadline:
        time.sleep(0.02)
    temps = len(upload_temps(f.dir))
    go.set()
    for t in threads:
        t.join(90)
    print("20 PUTs: %d temporary files at once, %d created, %d replaced"
          % (temps, statuses.count(201), statuses.count(204)))
    assert temps == 20, "%d temporary files for 20 uploads" % temps
    assert all(s in (201, 204) for s in statuses), statuses
    final = f.path("contested.bin").read_bytes()
    assert final in bodies, "the file is none of the bodies (%d bytes)" \
        % len(final)
    assert os.listdir(f.dir) == ["contested.bin"]
    assert_clean(f)


# --- --max-upload ------------------------------------------------------------

SIZES = [("10K", 10 * KIB), ("500M", 500 * MIB), ("3G", 3 * GIB)]


@pytest.mark.parametrize("arg,limit", SIZES, ids=[s[0] for s in SIZES])
def test_max_upload_boundary(wferry, arg, limit):
    f = wferry("--max-upload", arg)
    st = os.statvfs(f.dir)
    if st.f_bavail * st.f_frsize < limit + 100 * MIB:
        pytest.skip("less than %s free in %s" % (arg, f.dir))
    with Upload(f.port, "/over.bin", limit + 1, expect=True) as up:
        r = up.response(timeout=5)
    assert r.status == 413, r
    with Upload(f.port, "/at.bin", limit, expect=True) as up:
        r = up.response(timeout=5)
        assert r.status == 100, "%s exactly refused: %r" % (arg, r)
        up.close()              # gone after the 100: nothing stays
    assert not f.path("at.bin").exists()
    assert_clean(f)


def test_max_upload_exact_size_stored(wferry):
    f = wferry("--max-upload", "10K")
    data = blob(10 * KIB, 11)
    assert put(f.port, "/a.bin", data).status == 201
    assert put(f.port, "/b.bin", data, chunked=True).status == 201
    assert f.path("a.bin").read_bytes() == data
    assert f.path("b.bin").read_bytes() == data


def test_max_upload_chunked_refused_once_past(wferry):
    f = wferry("--max-upload", "10K")
    write_file(f.path("keep.bin"), b"old content")
    step = 4 * KIB
    answered_at = None
    with Upload(f.port, "/keep.bin") as up:
        while up.sent < 256 * KIB:
            if not up.send(blob(step, up.sent)):
                break
            if up.answered(1.0 if up.sent > 10 * KIB else 0.05):
                answered_at = up.sent
                break
        r = up.final(timeout=5)
    print("chunked over 10K: answered after %s bytes" % answered_at)
    assert r is not None and r.status == 413, r
    assert answered_at is None or 10 * KIB < answered_at <= 10 * KIB + \
        2 * step, "answered after %s bytes" % answered_at
    assert f.path("keep.bin").read_bytes() == b"old content"
    assert_clean(f)


# --- a full disk -------------------------------------------------------------

@pytest.fixture
def tmpfs(tmp):
    """mount(path, size): a small tmpfs at PATH (below tmp), for an
    honest ENOSPC.  Request it before wferry: it is unmounted after the
    servers have stopped and before tmp is removed."""
    mounted = []

    def mount(path, size="4m"):
        if os.geteuid() != 0:
            pytest.skip("mounting a small tmpfs needs root")
        path = pathlib.Path(path)
        path.mkdir(parents=True, exist_ok=True)
        r = run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0755" % size,
                 "tmpfs", str(path)])
        if r.returncode != 0:
            pytest.skip("cannot mount a tmpfs here: %s"
                        % r.stderr.decode("utf-8", "replace").strip())
        mounted.append(path)
        give_to_server(path)
        return path

    yield mount
    for p in reversed(mounted):
        if run(["umount", str(p)]).returncode != 0:
            run(["umount", "-l", str(p)])


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def test_507_declared_size_over_free_space(tmpfs, wferry, tmp):
    share = make_dir(tmp, "share")
    small = tmpfs(share / "small")
    f = wferry(dir=share)
    with Upload(f.port, "/small/big.bin", 8 * MIB, expect=True) as up:
        r = up.response(timeout=5)
    assert r.status == 507, r
    with Upload(f.port, "/small/big.bin", 8 * MIB) as up:
        r = up.response(timeout=5)
    assert r.status == 507, r
    assert os.listdir(small) == []
    # What fits is still taken.
    data = blob(MIB, 12)
    assert put(f.port, "/small/fits.bin", data).status == 201
    assert (small / "fits.bin").read_bytes() == data


def test_507_disk_full_mid_body(tmpfs, wferry, tmp):
    share = make_dir(tmp, "share")
    small = tmpfs(share / "small")
    old = write_file(small / "keep.bin", blob(MIB, 13))
    give_to_server(small)
    free = free_bytes(small)
    f = wferry(dir=share)
    step = 64 * KIB
    with Upload(f.port, "/small/keep.bin") as up:
        while up.sent < 16 * MIB:
            if not up.send(blob(step, up.sent)) or up.answered(0.01):
                break
        r = up.final(timeout=10)
    print("disk full: 507 after %d bytes sent, %d free" % (up.sent, free))
    assert r is not None and r.status == 507, r
    # Past the free space, only what the socket buffers hold goes on.
    assert up.sent < 16 * MIB, "never refused"
    assert (small / "keep.bin").read_bytes() == old
    assert_clean(f)
    assert os.listdir(small) == ["keep.bin"]
    assert free_bytes(small) >= free - 64 * KIB, "space not given back"
    # With Content-Length, a body that fits the declared size but not
    # the disk (another upload took the room meanwhile) ends the same way.
    filler = Upload(f.port, "/small/filler.bin", free - 512 * KIB)
    with filler, Upload(f.port, "/small/keep.bin", MIB + 512 * KIB) as up:
        filler.send(blob(free - 512 * KIB, 14))
        assert filler.final().status == 201
        ok = True
        while ok and up.sent < MIB + 512 * KIB:
            ok = up.send(blob(step, up.sent))
        r = up.final(timeout=10)
    print("disk filled by another upload: %r" % r)
    assert r is not None and r.status in (507, 413), r
    assert (small / "keep.bin").read_bytes() == old
    assert_clean(f)


# --- cut short ---------------------------------------------------------------

@pytest.mark.parametrize("reset", [False, True], ids=["fin", "rst"])
@pytest.mark.parametrize("existing", [False, True], ids=["new", "replace"])
def test_client_gone_mid_body(wferry, reset, existing):
    f = wferry()
    if existing:
        write_file(f.path("target.bin"), b"old content")
    up = Upload(f.port, "/target.bin", MIB)
    up.send(blob(256 * KIB, 15))
    assert wait_temp(f.dir, 1), "no temporary file while uploading"
    up.close(reset=reset)
    assert_clean(f, wait=5)
    if existing:
        assert f.path("target.bin").read_bytes() == b"old content"
    else:
        assert not f.path("target.bin").exists()
    assert fetch(f.port, "/").status == 200


@pytest.mark.parametrize("existing", [False, True], ids=["new", "replace"])
def test_curl_killed_mid_upload(wferry, tmp, existing):
    f = wferry()
    if existing:
        write_file(f.path("target.bin"), b"old content")
    src = tmp / "src.bin"
    write_file(src, blob(8 * MIB, 16))
    p = subprocess.Popen(["curl", "-sS", "-k", "--max-time", "60",
                          "--limit-rate", "512K", "-T", str(src),
                          "-o", "/dev/null", f.url + "/target.bin"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        temp = wait_temp(f.dir, 128 * KIB, wait=15)
        assert p.poll() is None, "curl ended before it could be killed"
        assert temp, "no temporary file while curl uploads"
    finally:
        p.kill()
        p.wait(10)
    assert_clean(f, wait=5)
    if existing:
        assert f.path("target.bin").read_bytes() == b"old content"
    else:
        assert not f.path("target.bin").exists()


def test_stalled_body_dropped(wferry):
    f = wferry("--header-timeout", "2")
    write_file(f.path("target.bin"), b"old content")
    with Upload(f.port, "/target.bin", 100 * KIB) as up:
        up.send(blob(10 * KIB, 17))
        t0 = time.monotonic()
        took = wait_closed(up.sock, 10)
    assert took is not None, "a stalled upload was kept for 10 s"
    assert took < 4.5, "dropped only after %.1f s" % took
    assert_clean(f)
    assert f.path("target.bin").read_bytes() == b"old content"
    assert time.monotonic() - t0 < 10


def test_slow_but_steady_body_kept(wferry):
    """A body that keeps coming is not a stalled one, however long: 4 KiB
    per deadline renews it (here 4 KiB every 0.6 s, deadline 2 s)."""
    f = wferry("--header-timeout", "2")
    data = blob(40 * KIB, 18)
    with Upload(f.port, "/slow.bin", len(data)) as up:
        for i in range(10):
            piece = data[i * 4 * KIB:(i + 1) * 4 * KIB]
            assert up.send(piece), "dropped at %d" % i
            time.sleep(0.6)
        r = up.final()
    assert r.status == 201, r
    assert f.path("slow.bin").read_bytes() == data


def test_trickled_body_dropped(wferry):
    """A byte now and then is not progress: a client cannot hold an upload
    (and the space reserved for it) open for ever that way."""
    f = wferry("--header-timeout", "2")
    up = Upload(f.port, "/trickle.bin", 100 * KIB)
    t0 = time.monotonic()
    dropped = None
    with up:
        while time.monotonic() - t0 < 10:
            if not up.send(b"x"):
                dropped = time.monotonic() - t0
                break
            time.sleep(0.3)
        if dropped is None:
            dropped = wait_closed(up.sock, 1)
    assert dropped is not None, "a trickling upload was kept for 10 s"
    assert dropped < 5, "dropped only after %.1f s" % dropped
    assert_clean(f)
    assert not f.path("trickle.bin").exists()


@pytest.mark.limit(120)
def test_server_sigkilled_mid_upload(wferry, tmp):
    f = wferry()
    share = f.dir
    write_file(f.path("keep.txt"), b"old content")
    outside = make_dir(tmp, "outside")
    decoy = write_file(outside / ".ferry-upload-decoy", b"not ours")
    os.symlink(str(outside), f.path("outlink"))
    write_file(f.path("x.ferry-upload-y"), b"a user's file")
    give_to_server(share)
    ups = [Upload(f.port, "/keep.txt", MIB),
           Upload(f.port, "/sub/deeper/new.bin", MIB)]
    try:
        for up in ups:
            up.send(blob(256 * KIB, 19))
        deadline = time.monotonic() + 5
        while len(upload_temps(share)) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        f.sigkill()
    finally:
        for up in ups:
            up.close()
    stale = upload_temps(share)
    assert len(stale) == 2, "SIGKILL should leave both temps: %r" % stale
    assert f.path("keep.txt").read_bytes() == b"old content"
    assert not f.path("sub/deeper/new.bin").exists()
    f2 = wferry(dir=share)
    left = wait_no_temps(share, 3)
    assert not left, "stale temporary files kept after a restart: %r" % left
    assert (outside / ".ferry-upload-decoy").read_bytes() == decoy, \
        "the clean-up followed a symlink out of DIR"
    assert f.path("x.ferry-upload-y").read_bytes() == b"a user's file"
    assert f2.path("keep.txt").read_bytes() == b"old content"
    assert put(f2.port, "/keep.txt", b"new").status == 204
