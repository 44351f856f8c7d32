"""Crash safety and a long session (issue 5).

Crash safety: a -w server (the release build) takes 20 parallel uploads
of 1 to 64 MiB, paced so that they finish one after the other, and is
killed with SIGKILL after a given number of them were answered.  After a
restart on the same folder every file is its old content or the complete
new upload (SHA-256), the start-up sweep has removed every temporary file
the killed server left, and every upload answered 201/204 is intact.

Long session: the ASan+UBSan build with --auth serves a few thousand
requests of every kind from a few threads: reads, ranges, listings, 404s,
uploads and deletions, and clients that give up at every stage (mid-head,
mid-body, mid-response, mid-handshake).  Its memory must stay flat and it
must exit 0 on SIGTERM with no sanitizer or leak report.
"""

import base64
import hashlib
import os
import random
import re
import socket
import ssl
import threading
import time
import urllib.parse

import pytest

from test_auth import login, make_hash, write_users
from conftest import give_to_server, make_dir, release_bin, \
    sanitizer_report
from ferrylib import (KIB, MIB, UPLOAD_TMP_PREFIX, HTTPError,
                      ResponseReader, Upload, build_request, client_context,
                      fetch, parse_multipart, put, run, tcp_connect,
                      tls_connect, tree_state, upload_temps, wait_no_temps,
                      write_file)

CLIENT_ERRORS = (OSError, HTTPError, ssl.SSLError, socket.timeout)


def content(seed, size):
    return random.Random(seed).randbytes(size)


def sha(data):
    return hashlib.sha256(data).hexdigest()


# --- crash safety ------------------------------------------------------------

BLOCK = 256 * KIB
# Random bytes the upload bodies are cut from: each block is a slice at an
# offset that depends on the upload and the block, after a header naming
# both, so that no two bodies (or two blocks) are alike.
POOL = content(20, BLOCK + 64 * KIB)
CRASH_SIZES_MIB = [1, 64, 2, 48, 3, 32, 4, 24, 6, 16,
                   8, 12, 40, 5, 20, 7, 56, 10, 28, 14]


def body_blocks(seed, size):
    """The body of upload SEED, SIZE bytes, in BLOCK-sized pieces."""
    k = 0
    while k * BLOCK < size:
        n = min(BLOCK, size - k * BLOCK)
        off = (seed * 7919 + k * 104729) % (64 * KIB)
        block = (b"%08x%08x" % (seed, k) + POOL[off:off + BLOCK])[:n]
        yield block
        k += 1


def body_sha(seed, size):
    h = hashlib.sha256()
    for block in body_blocks(seed, size):
        h.update(block)
    return h.hexdigest()


class Planned:
    """One upload of the crash test and what became of it."""

    def __init__(self, i):
        self.i = i
        self.size = CRASH_SIZES_MIB[i] * MIB + i * 4099
        self.seed = 1000 + i
        kind = i % 5
        # Replacing a file at the top and in a folder, creating one at
        # the top and in folders that do not exist yet.
        self.path = {0: "/new/d%d/up%d.bin" % (i, i),
                     1: "/old%d.bin" % i,
                     2: "/fresh%d.bin" % i,
                     3: "/old%d.bin" % i,
                     4: "/keep/old%d.bin" % i}[kind]
        self.replaces = kind in (1, 3, 4)
        self.chunked = i % 4 == 1
        self.expect = i % 7 == 3
        # Completions spread from 1 s to 7 s after the start, sizes mixed.
        self.duration = 1.0 + 0.32 * i
        self.sha = body_sha(self.seed, self.size)
        self.status = None
        self.sent = 0
        self.error = None
        self.done_at = None

    @property
    def rel(self):
        return self.path.lstrip("/")


def send_paced(port, p, t0, stop, progress):
    """Upload P, each block at its time after T0, until done or the server
    is gone; PROGRESS (a Condition) hears of each end."""
    nblocks = max(1, -(-p.size // BLOCK))
    try:
        with Upload(port, p.path, None if p.chunked else p.size,
                    expect=p.expect, timeout=30) as up:
            if p.expect:
                r = up.response(timeout=10)
                if r is None or r.status != 100:
                    p.error = "no 100: %r" % r
                    return
            for k, block in enumerate(body_blocks(p.seed, p.size)):
                stop.wait(max(0.0, t0 + p.duration * k / nblocks -
                              time.monotonic()))
                if not up.send(block):
                    p.error = "send failed"
                    return
                p.sent += len(block)
            up.finish()
            r = up.final(timeout=30)
            p.status = r.status if r is not None else None
    except CLIENT_ERRORS as e:
        p.error = repr(e)
    finally:
        p.done_at = time.monotonic()
        with progress:
            progress.notify_all()


def seed_share(share, plan):
    """The files before the uploads: one old version of each target that
    is replaced, and bystanders no upload touches.  Returns
    {rel: sha256}."""
    make_dir(share, "keep")
    old = {}
    for p in plan:
        if p.replaces:
            data = content(p.i, 1 + p.i * 37 * KIB)
            write_file(share / p.rel, data)
            old[p.rel] = sha(data)
    for j in range(3):
        data = content(500 + j, 10 * KIB + j)
        write_file(share / ("bystander%d.txt" % j), data)
        old["bystander%d.txt" % j] = sha(data)
    return old


def check_tree(share, plan, old, allow_temps):
    """Every regular file is a known version (old or the whole upload),
    every answered upload is in place, no old file is gone.  Returns the
    temporary files found (none allowed unless ALLOW_TEMPS)."""
    ok = {rel: {digest} for rel, digest in old.items()}
    for p in plan:
        ok.setdefault(p.rel, set()).add(p.sha)
    state = tree_state(share)
    temps = []
    for rel, what in state.items():
        if os.path.basename(rel).startswith(UPLOAD_TMP_PREFIX):
            temps.append(rel)
            continue
        if what[0] != "f":
            continue
        assert rel in ok, "unexpected file %s (%d bytes)" % (rel, what[2])
        assert what[4] in ok[rel], \
            "%s is %d bytes and neither its old content nor a whole " \
            "upload: a partial file" % (rel, what[2])
    for rel in old:
        assert rel in state, "%s disappeared" % rel
    for p in plan:
        if p.status in (201, 204):
            got = state.get(p.rel)
            assert got is not None and got[4] == p.sha, \
                "%s answered %d but is not the upload" % (p.path, p.status)
    assert allow_temps or not temps, "temporary files left: %r" % temps
    return temps


def start_uploads(port, plan):
    """Start one thread per upload; they pace themselves from t0."""
    stop = threading.Event()
    progress = threading.Condition()
    t0 = time.monotonic() + 0.3         # all connected by then
    threads = [threading.Thread(target=send_paced,
                                args=(port, p, t0, stop, progress),
                                daemon=True) for p in plan]
    for t in threads:
        t.start()
    return threads, stop, progress, t0


@pytest.mark.limit(40)
@pytest.mark.parametrize("kill_after", [3, 10, 16])
def test_sigkill_during_parallel_uploads(wferry, tmp, kill_after):
    """SIGKILL once KILL_AFTER of 20 uploads were answered; restart."""
    share = make_dir(tmp, "crash")
    plan = [Planned(i) for i in range(len(CRASH_SIZES_MIB))]
    old = seed_share(share, plan)
    f = wferry("-q", dir=share, binary=release_bin())
    threads, stop, progress, t0 = start_uploads(f.port, plan)

    with progress:
        progress.wait_for(lambda: sum(p.status in (201, 204)
                                      for p in plan) >= kill_after,
                          timeout=25)
        answered = sum(p.status in (201, 204) for p in plan)
        in_flight = [p for p in plan if p.done_at is None and p.sent > 0]
        f.sigkill()
    killed_at = time.monotonic() - t0
    stop.set()
    for t in threads:
        t.join(15)
    assert answered >= kill_after, \
        "only %d uploads answered: %r" % (answered, [
            (p.path, p.status, p.error) for p in plan])
    assert in_flight, "no upload was mid-way at the kill"
    for p in plan:
        assert p.status in (None, 201, 204), (p.path, p.status, p.error)

    temps = check_tree(share, plan, old, allow_temps=True)
    # Every upload cut short left its temporary file (the kill gave the
    # server no chance to remove it), or had not yet made one.
    assert len(temps) <= len(plan) - answered
    assert temps, "the kill left no temporary file: nothing was mid-way"

    g = wferry("-q", dir=share, binary=release_bin())
    m = re.search(r"removed (\d+) unfinished upload", g.stderr())
    assert m and int(m.group(1)) == len(temps), g.stderr()
    check_tree(share, plan, old, allow_temps=False)
    for p in plan:
        if p.status in (201, 204):
            r = fetch(g.port, p.path, "HEAD")
            assert r.status == 200, (p.path, r)
            assert int(r.header("Content-Length")) == p.size
    after = put(g.port, "/after-restart.txt", b"still writable")
    assert after.status == 201, after
    print("kill after %d answers at %.2f s: %d answered in all, %d "
          "uploads mid-way, %d temporary files swept, %.0f MiB sent" % (
              kill_after, killed_at,
              sum(p.status in (201, 204) for p in plan), len(in_flight),
              len(temps), sum(p.sent for p in plan) / MIB))


# --- a long session under ASan+UBSan -----------------------------------------

# FERRY_SESSION_REQUESTS makes a longer (or shorter) session by hand.
SESSION_REQUESTS = int(os.environ.get("FERRY_SESSION_REQUESTS", "3000"))
SESSION_THREADS = 4
SESSION_DEADLINE_S = 100 * max(1, SESSION_REQUESTS // 3000)
WRONG_LOGINS_S = 40
RSS_EVERY = 200                 # requests between two samples of VmRSS
# How much the last third of the samples may grow past the middle third.
# Memory that lasts (a leak, or a table that only grows) grows with the
# traffic: the samples of the two thirds are about 1,000 requests apart,
# so 2 KiB kept per request reaches the bound, and anything the size of
# one connection's TLS context and record buffers (~40 KiB) or of its
# 16 KiB head buffer goes far past it.  What moves the RSS legitimately
# once warm is the allocator filling its per-size caches: the release
# build stays within 0.1 MiB (3.9-4.0 MiB over 3,000 requests); the ASan
# build's peak moves by -0.1 to +1.1 MiB from the middle third to the
# last, rising ever more slowly (45.6 MiB at 2,000 requests, 47.4 at
# 12,000).  ASan's quarantine keeps freed memory unused for a while to
# catch use after free, and this session frees about 0.7 MiB per
# request, so at its default 256 MiB the quarantine is still filling
# during the first 600 requests; it is held to 16 MiB (see session_env),
# which it fills within the first 200.
RSS_GROWTH_MAX_KIB = 2048
SESSION_USERS = {"alice": "alice-pw", "bob": "bob pw", "carol": "carol:pw"}
FAILING_ADDR = "127.0.0.9"      # the wrong passwords come from here


def session_env():
    """LeakSanitizer on (conftest's default too, said again here since
    this test is about it), ASan's quarantine bounded (see above)."""
    return {"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:"
                            "quarantine_size_mb=16"}


def basic(name, password=None):
    if password is None:
        password = SESSION_USERS[name]
    token = base64.b64encode(("%s:%s" % (name, password)).encode())
    return {"Authorization": "Basic " + token.decode()}


def session_users(tmp):
    """SHA-512-crypt hashes (fast to check) made by mkpasswd."""
    lines = []
    for name, password in SESSION_USERS.items():
        r = run(["mkpasswd", "-m", "sha-512", "--stdin"],
                input=password.encode())
        assert r.returncode == 0, r.stderr
        lines.append("%s:%s\n" % (name, r.stdout.decode().strip()))
    d = make_dir(tmp, "auth")
    (d / "users").write_text("".join(lines))
    (d / "users").chmod(0o644)
    return d / "users"


def session_share(tmp):
    """Files to read: small, medium, big (for reads cut short) and a
    folder to list.  Returns (share, {url path: bytes})."""
    share = make_dir(tmp, "session")
    files = {"/small.txt": b"small file\n" * 90,
             "/medium.bin": content(1, 256 * KIB + 17),
             "/big.bin": content(2, 4 * MIB + 3)}
    make_dir(share, "docs")
    for j in range(40):
        files["/docs/note%%20%02d.txt" % j] = content(100 + j, 100 + j * 50)
    for path, data in files.items():
        write_file(share / urllib.parse.unquote(path.lstrip("/")), data)
    give_to_server(share)
    return share, files


def vm_rss_kib(pid):
    with open("/proc/%d/status" % pid) as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


class Meter:
    """Requests counted by kind, with VmRSS sampled every RSS_EVERY."""

    def __init__(self, pid):
        self.pid = pid
        self.lock = threading.Lock()
        self.count = 0
        self.kinds = {}
        self.samples = []               # (requests, seconds, VmRSS KiB)
        self.t0 = time.monotonic()
        self.errors = []

    def add(self, kind, n=1):
        with self.lock:
            before, self.count = self.count, self.count + n
            self.kinds[kind] = self.kinds.get(kind, 0) + n
            if self.count // RSS_EVERY > before // RSS_EVERY:
                self.samples.append((self.count,
                                     time.monotonic() - self.t0,
                                     vm_rss_kib(self.pid)))

    def more(self):
        return (self.count < SESSION_REQUESTS and not self.errors and
                time.monotonic() - self.t0 < SESSION_DEADLINE_S)


def client_hello():
    """The first flight of a TLS client, as bytes, and the object that
    made it."""
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = client_context().wrap_bio(inc, out, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def reset_close(sock):
    """Close with an RST rather than a FIN."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                        b"\x01\x00\x00\x00\x00\x00\x00\x00")
    except OSError:
        pass
    sock.close()


class Session:
    """One client thread: picks requests at random, checks every answer,
    and keeps its own folder /wN/ whose content it knows."""

    def __init__(self, n, port, files, meter):
        self.n = n
        self.port = port
        self.files = files
        self.meter = meter
        self.rng = random.Random(n)
        self.dir = "/w%d" % n
        self.own = {}                   # name in self.dir: bytes
        self.folders = 0
        self.etag = None

    # - reads -

    def one(self, path, method="GET", headers=None):
        return fetch(self.port, path, method, headers)

    def read_file(self):
        path = self.rng.choice(list(self.files))
        hdrs = basic("bob") if self.rng.random() < 0.3 else None
        r = self.one(path, headers=hdrs)
        assert r.status == 200 and r.body == self.files[path], (path, r)
        self.meter.add("GET")

    def read_range(self):
        data = self.files["/medium.bin"]
        a = self.rng.randrange(len(data))
        b = self.rng.randrange(a, len(data))
        r = self.one("/medium.bin", headers={"Range": "bytes=%d-%d" % (a, b)})
        assert r.status == 206 and r.body == data[a:b + 1], r
        self.meter.add("Range GET")

    def read_ranges(self):
        data = self.files["/medium.bin"]
        r = self.one("/medium.bin",
                     headers={"Range": "bytes=0-9,1000-1999,-50"})
        assert r.status == 206, r
        parts = parse_multipart(r.header("Content-Type"), r.body)
        assert [p[4] for p in parts] == [data[0:10], data[1000:2000],
                                         data[-50:]]
        self.meter.add("multi-Range GET")

    def head(self):
        r = self.one("/big.bin", "HEAD")
        assert r.status == 200 and not r.body, r
        assert int(r.header("Content-Length")) == len(self.files["/big.bin"])
        self.etag = r.header("ETag")
        self.meter.add("HEAD")

    def listing(self):
        kind = self.rng.choice(["text/html", "application/json",
                                "text/plain"])
        r = self.one("/docs/", headers={"Accept": kind})
        assert r.status == 200, r
        assert (r.header("Content-Type") or "").startswith(kind), r.headers
        assert "note 39.txt" in r.body.decode("utf-8") or \
            "note%2039.txt" in r.body.decode("utf-8"), r.body[:300]
        self.meter.add("listing")

    def missing(self):
        r = self.one("/nothing-%d.bin" % self.rng.randrange(10 ** 6))
        assert r.status == 404, r
        self.meter.add("404")

    def keep_alive(self):
        """Several requests on one connection, the last one closing it."""
        sock = tls_connect(self.port)
        rd = ResponseReader(sock, time.monotonic() + 10)
        try:
            count = self.rng.randrange(3, 10)
            for k in range(count):
                self.keep_alive_step(sock, rd, k == count - 1)
            assert rd.at_eof(2.0), "not closed after Connection: close"
        finally:
            sock.close()

    def keep_alive_step(self, sock, rd, last):
        small = self.files["/small.txt"]
        which = self.rng.randrange(5)
        method, path, hdrs = "GET", "/small.txt", {}
        if which == 1:
            method = "HEAD"
        elif which == 2:
            hdrs["Range"] = "bytes=5-20"
        elif which == 3:
            path = "/gone.txt"
        elif which == 4 and self.etag:
            path, hdrs["If-None-Match"] = "/big.bin", self.etag
        sock.sendall(build_request(path, method, hdrs, port=self.port,
                                   close=last))
        r = rd.read_response(method)
        want = {0: (200, small), 1: (200, b""), 2: (206, small[5:21]),
                3: (404, None), 4: (304, b"") if self.etag else (200, small)}
        assert r is not None and r.status == want[which][0], (which, r)
        if want[which][1] is not None:
            assert r.body == want[which][1], (which, r)
        self.meter.add("keep-alive")

    # - writes -

    def put_small(self):
        name = "s%d.txt" % self.rng.randrange(6)
        data = content(self.rng.random(), self.rng.randrange(8 * KIB))
        r = put(self.port, "%s/%s" % (self.dir, name), data,
                headers=basic("alice"))
        assert r.status == (204 if name in self.own else 201), r
        self.own[name] = data
        self.meter.add("PUT small")

    def put_medium(self):
        name = "m%d.bin" % self.rng.randrange(3)
        data = content(self.rng.random(),
                       self.rng.randrange(100 * KIB, MIB))
        r = put(self.port, "%s/%s" % (self.dir, name), data,
                headers=basic("bob"), chunked=self.rng.random() < 0.5)
        assert r.status == (204 if name in self.own else 201), r
        self.own[name] = data
        got = self.one("%s/%s" % (self.dir, name))
        assert got.status == 200 and got.body == data
        self.meter.add("PUT medium", 2)

    def delete(self):
        if self.own and self.rng.random() < 0.8:
            name = self.rng.choice(sorted(self.own))
            del self.own[name]
            want = 204
        else:
            name, want = "never-there.txt", 404
        r = self.one("%s/%s" % (self.dir, name), "DELETE", basic("alice"))
        assert r.status == want, r
        self.meter.add("DELETE")

    def mkcol(self):
        self.folders += 1
        path = "%s/c%d" % (self.dir, self.folders)
        r = self.one(path, "MKCOL", basic("bob"))
        assert r.status == 201, r
        r = self.one(path, "MKCOL", basic("bob"))
        assert r.status == 405, r
        self.meter.add("MKCOL", 2)

    def refused_write(self):
        """No login: 401; carol, not a writer: 403; both before the body."""
        who = self.rng.choice([None, "carol"])
        r = put(self.port, "%s/refused.txt" % self.dir, b"x" * 1000,
                headers=basic(who) if who else (), expect=True)
        assert r is not None and r.status == (403 if who else 401), r
        self.meter.add("refused PUT")

    # - clients that give up -

    def put_aborted(self):
        up = Upload(self.port, "%s/aborted.bin" % self.dir, 2 * MIB,
                    headers=basic("alice"))
        try:
            for _ in range(self.rng.randrange(1, 8)):
                up.send(content(self.rng.random(), 64 * KIB))
            time.sleep(0.01)
        finally:
            up.close(reset=self.rng.random() < 0.5)
        self.meter.add("PUT cut mid-body")

    def mid_head(self):
        sock = tls_connect(self.port)
        head = build_request("/small.txt", port=self.port)
        sock.sendall(head[:self.rng.randrange(1, len(head) - 2)])
        time.sleep(0.005)
        reset_close(sock) if self.rng.random() < 0.5 else sock.close()
        self.meter.add("cut mid-head")

    def mid_response(self):
        sock = tls_connect(self.port)
        sock.sendall(build_request("/big.bin", port=self.port))
        got, want = 0, self.rng.randrange(1, 512 * KIB)
        while got < want:
            data = sock.recv(65536)
            assert data, "closed after %d bytes" % got
            got += len(data)
        reset_close(sock) if self.rng.random() < 0.5 else sock.close()
        self.meter.add("cut mid-response")

    def tls_abort(self):
        how = self.rng.randrange(4)
        raw = tcp_connect(self.port)
        try:
            hello = client_hello()
            if how == 1:
                raw.sendall(hello[:len(hello) // 2])
            elif how == 2:
                raw.sendall(hello)
                data = raw.recv(4096)           # the server's flight
                assert data[:1] == b"\x16", data[:20]
            elif how == 3:
                tls = client_context().wrap_socket(
                    raw, server_hostname="localhost")
                raw = tls                       # handshake done, no request
        finally:
            reset_close(raw) if self.rng.random() < 0.5 else raw.close()
        self.meter.add("TLS abandoned")

    def plain_http(self):
        raw = tcp_connect(self.port)
        try:
            raw.sendall(b"GET /small.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
            data = raw.recv(4096)
            assert data.startswith(b"HTTP/1.1 "), data[:100]
        finally:
            raw.close()
        self.meter.add("plain HTTP")

    def malformed(self):
        r, _ = self.raw(b"GET /small.txt HTTP/1.1\r\nHost: x\r\n"
                        b"Content-Length: 1\r\nContent-Length: 2\r\n\r\n")
        assert r.status == 400, r
        self.meter.add("malformed")

    def raw(self, data):
        sock = tls_connect(self.port)
        try:
            sock.sendall(data)
            rd = ResponseReader(sock, time.monotonic() + 10)
            return rd.read_response(), rd.at_eof(2.0)
        finally:
            sock.close()

    OPS = [("read_file", 14), ("read_range", 8), ("read_ranges", 3),
           ("head", 5), ("listing", 5), ("missing", 5), ("keep_alive", 8),
           ("put_small", 8), ("put_medium", 3), ("delete", 5),
           ("mkcol", 2), ("refused_write", 3), ("put_aborted", 4),
           ("mid_head", 4), ("mid_response", 4), ("tls_abort", 6),
           ("plain_http", 2), ("malformed", 2)]

    def run(self):
        names = [n for n, _ in self.OPS]
        weights = [w for _, w in self.OPS]
        try:
            r = self.one(self.dir, "MKCOL", basic("alice"))
            assert r.status == 201, r
            self.meter.add("MKCOL")
            while self.meter.more():
                op = self.rng.choices(names, weights)[0]
                getattr(self, op)()
        except Exception as e:          # reported by the test
            self.meter.errors.append("thread %d: %r" % (self.n, e))


def wrong_logins(port, meter, stop):
    """Wrong passwords from another address, slowly, until its logins
    are refused with 429; some connections leave while their answer is
    held back by the throttle."""
    statuses = []
    k = 0
    while not stop.is_set() and (len(statuses) < 3 or
                                 statuses[-1] != 429):
        raw = socket.create_connection(("127.0.0.1", port), 10,
                                       source_address=(FAILING_ADDR, 0))
        sock = client_context().wrap_socket(raw,
                                            server_hostname="localhost")
        try:
            sock.sendall(build_request("/w0/x", "PUT", dict(
                basic("alice", "wrong %d" % k), **{"Content-Length": "0"}),
                port=port))
            if k % 4 == 3:
                time.sleep(0.05)        # gone while its 401 is held back
                meter.add("wrong login, left")
            else:
                rd = ResponseReader(sock, time.monotonic() + 10)
                r = rd.read_response("PUT")
                assert r.status in (401, 429), r
                statuses.append(r.status)
                meter.add("wrong login")
        finally:
            sock.close()
        k += 1
    return statuses


@pytest.mark.limit(SESSION_DEADLINE_S + 70)
def test_long_session_memory_flat_and_no_leaks(wferry, tmp):
    share, files = session_share(tmp)
    users = session_users(tmp)
    f = wferry("--auth", str(users), "--public-read", "--writers",
               "alice,bob", dir=share, env=session_env())
    with open("/proc/%d/maps" % f.pid) as fh:
        asan = "libasan" in fh.read()
    if asan:
        with open("/proc/%d/environ" % f.pid, "rb") as fh:
            env = fh.read().split(b"\0")
        assert b"ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:" \
            b"quarantine_size_mb=16" in env, env

    meter = Meter(f.pid)
    meter.samples.append((0, 0.0, vm_rss_kib(f.pid)))
    sessions = [Session(n, f.port, files, meter)
                for n in range(SESSION_THREADS)]
    threads = [threading.Thread(target=s.run, daemon=True)
               for s in sessions]
    stop = threading.Event()
    failing = []
    side = threading.Thread(
        target=lambda: failing.extend(wrong_logins(f.port, meter, stop)),
        daemon=True)
    for t in threads + [side]:
        t.start()
    for t in threads:
        t.join(SESSION_DEADLINE_S + 30)
    # The wrong logins go on until refused with 429 (held-back answers
    # take 8 s or so), even when the sessions were done sooner.
    side.join(WRONG_LOGINS_S)
    stop.set()
    side.join(15)
    took = time.monotonic() - meter.t0
    assert not meter.errors, meter.errors
    assert meter.count >= SESSION_REQUESTS, \
        "only %d requests in %.0f s" % (meter.count, took)
    assert 429 in failing, failing

    # What the threads wrote is there, whole; what they cut short is not.
    assert not wait_no_temps(share), upload_temps(share)
    for s in sessions:
        folder = share / s.dir.lstrip("/")
        on_disk = {p.name: p.read_bytes() for p in folder.iterdir()
                   if p.is_file()}
        assert on_disk == s.own, (s.dir, sorted(on_disk), sorted(s.own))

    rss = [kib for _, _, kib in meter.samples[1:]]
    third = len(rss) // 3
    middle, last = rss[third:2 * third], rss[2 * third:]
    print("\n%d requests in %.1f s (%.0f/s), %d access-log lines" % (
        meter.count, took, meter.count / took,
        len(f.stdout().splitlines())))
    print("by kind: %s" % ", ".join("%s %d" % kv for kv in
                                    sorted(meter.kinds.items())))
    print("wrong logins from %s: %s" % (FAILING_ADDR, failing))
    print("VmRSS MiB at (requests, s): %s" % ", ".join(
        "%d/%.0fs: %.1f" % (c, t, kib / 1024)
        for c, t, kib in meter.samples))
    print("VmRSS growth, middle third to last: %+d KiB (bound %d)" % (
        max(last) - max(middle), RSS_GROWTH_MAX_KIB))
    assert max(last) - max(middle) <= RSS_GROWTH_MAX_KIB, \
        "VmRSS grew by %d KiB from the middle third to the last: %r" % (
            max(last) - max(middle), meter.samples)

    rc = f.stop()
    err = f.stderr()
    assert not sanitizer_report(err), err
    assert rc == 0, "ferry exited %r after SIGTERM:\n%s" % (rc, err[-4000:])


@pytest.mark.limit(60)
def test_abandoned_requests_are_logged_499(ferry, wferry, tmp):
    """Every request read leaves an access-log line, even when its client
    leaves before the answer: an upload cut mid-body, and a login still
    being checked, get status 499 ("client closed the request")."""
    f = wferry()
    up = Upload(f.port, "/cut.bin", length=1 << 20)
    up.send(b"x" * 100000)
    time.sleep(0.3)
    up.close()
    lines = f.access_lines(count=1)
    assert len(lines) == 1, lines
    assert '"PUT /cut.bin HTTP/1.1" 499 0 ' in lines[0], lines
    assert not (f.dir / "cut.bin").exists()

    users = write_users(tmp, [make_hash("slow", "pw", "bcrypt", cost=13)])
    g = ferry("--auth", str(users))
    s = tls_connect(g.port)
    s.sendall(build_request("/", headers=login("slow", "pw"), port=g.port))
    time.sleep(0.1)             # the check (about 0.5 s) is under way
    s.close()
    lines = g.access_lines(count=1)
    assert len(lines) == 1 and '"GET / HTTP/1.1" 499 0 ' in lines[0], lines
    assert lines[0].split()[2] == "-", lines    # never verified: no name
