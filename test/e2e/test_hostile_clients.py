"""Hostile clients against the release build (issue 5): slowhttptest's
four attacks while a normal client keeps downloading, 10,000 idle
connections against --max-conns, and every deadline shown to fire.

The release build (FERRY_RELEASE_BIN, else ./ferry) is used throughout:
these tests are about the product's timing and memory, which the ASan
build distorts.  Figures are printed (run pytest with -s to see them).

1. slowhttptest (Debian's package) in each mode, 500 connections for
   FERRY_SLOW_SECONDS (30) s against a server with default settings,
   while a normal client downloads a small file and a 1 MiB file in a
   loop, on a new connection per request and on one kept-alive
   connection: every request succeeds with the right bytes, its p95
   latency stays within 5 times (at least 50 ms) the p95 measured just
   before without the attack, and none takes over 1 s; and no attack
   makes ferry queue more than 256 KiB per client in the kernel.  The
   slow read is held to it by TCP_NOTSENT_LOWAT (worker.c).

2. 5,000 idle TCP connections that never start a handshake, then 5,000
   idle TLS connections (handshake done, then silent), with
   --max-conns 8000: all are accepted up to the limit, then the oldest
   idle clients are closed to make room, never a new one refused; normal
   requests are served in under 1 s meanwhile; ferry's VmRSS per idle
   connection is reported (under 1 KiB before the handshake); once all
   are gone ferry holds as many descriptors as before.  Each worker
   closes its own oldest idle client, so clients that finished their
   handshake may go while older silent ones stay: the test then ends
   as an xfail naming that.  ferry sizes its limit to its descriptors
   ((limit - 64 - 8 per worker) / 3): under a 20,000 limit with two
   workers, --max-conns 8000 is 6,640.
   And a client that turns idle while ferry has stopped accepting
   makes room for one waiting in the backlog.

3. Deadlines, each fired with a small value and shown to close the
   connection within the timeout plus a margin, and not much before.
   Covered here: the handshake deadline for half a ClientHello and for a
   whole one followed by silence; the head deadline for a client silent
   after its handshake, for half a head (with a lower bound), and for
   half of a second head on a kept-alive connection (it replaces the
   idle deadline); a stalled body by Content-Length, mid-chunk, and
   after 100 Continue (with a lower bound); a stalled reader, timed from
   the last byte ferry could hand to the kernel.
   Covered elsewhere, against the ASan build: a silent TCP client and
   the handshake deadline sparing others (test_server.py
   test_handshake_timeout, test_handshake_timeout_spares_others); a
   trickled head (test_server.py test_header_timeout_trickle); the idle
   deadline with both bounds and a busy connection kept
   (test_server.py test_idle_timeout,
   test_idle_timeout_keeps_busy_connection); a stalled reader dropped at
   all (test_server.py test_send_timeout); a stalled or trickled body
   (test_upload.py test_stalled_body_dropped, test_trickled_body_dropped,
   test_slow_but_steady_body_kept); --max-conns with a few clients,
   including new clients waiting in the backlog while none is idle
   (test_limits.py).
"""

import fcntl
import os
import resource
import shutil
import socket
import ssl
import struct
import subprocess
import termios
import threading
import time

import pytest

from conftest import release_bin
from ferrylib import (KIB, MIB, SLOW_CONNS, SLOW_MODES, Prober,
                      ResponseReader, Upload, build_request, client_context,
                      closed_now, get, open_tls_many, p95, probe_for,
                      raise_nofile, share_files, slowhttptest_cmd,
                      slowhttptest_peak, tcp_connect, tls, wait_closed,
                      wait_no_temps, write_file)

CTX = client_context()


# --- what ferry holds, read from /proc (as root: it runs as nobody) ----------

def ferry_sockets(pid):
    """Inodes of the sockets process PID holds."""
    out = set()
    base = "/proc/%d/fd" % pid
    for name in os.listdir(base):
        try:
            link = os.readlink(os.path.join(base, name))
        except FileNotFoundError:
            continue
        if link.startswith("socket:["):
            out.add(int(link[8:-1]))
    return out


def ferry_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def ferry_rss_kib(pid):
    with open("/proc/%d/status" % pid) as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


def ferry_nofile(pid):
    """The soft descriptor limit ferry runs with (it raises its own)."""
    with open("/proc/%d/limits" % pid) as fh:
        for line in fh:
            if line.startswith("Max open files"):
                return int(line.split()[3])
    raise AssertionError("no descriptor limit for %d" % pid)


def wait_sockets(pid, count, timeout):
    """Wait until PID holds COUNT sockets; returns how many it holds."""
    deadline = time.monotonic() + timeout
    while True:
        n = len(ferry_sockets(pid))
        if n == count or time.monotonic() > deadline:
            return n
        time.sleep(0.1)


def server_inode(server_port, client_port):
    """The inode of the server's end of the TCP connection from
    CLIENT_PORT (0 once its process has closed it), or None."""
    with open("/proc/net/tcp") as fh:
        next(fh)
        for line in fh:
            f = line.split()
            local, remote = f[1], f[2]
            if (int(local.split(":")[1], 16) == server_port and
                    int(remote.split(":")[1], 16) == client_port):
                return int(f[9])
    return None


# --- 1. slowhttptest ---------------------------------------------------------

SLOW_SECONDS = int(os.environ.get("FERRY_SLOW_SECONDS", "30"))


def send_queues(port):
    """Bytes queued in the kernel, unacknowledged, on every connection
    whose local end is PORT (ferry's side)."""
    total = 0
    with open("/proc/net/tcp") as fh:
        next(fh)
        for line in fh:
            f = line.split()
            if int(f[1].split(":")[1], 16) == port and f[3] == "01":
                total += int(f[4].split(":")[0], 16)
    return total


class SocketWatch:
    """Samples how many sockets ferry holds and how many bytes wait in
    their kernel send queues, for the peaks."""

    def __init__(self, pid, port):
        self.pid = pid
        self.port = port
        self.peak = 0
        self.peak_queued = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping.wait(0.25):
            try:
                self.peak = max(self.peak, len(ferry_sockets(self.pid)))
            except FileNotFoundError:
                return
            self.peak_queued = max(self.peak_queued,
                                   send_queues(self.port))

    def stop(self):
        self.stopping.set()
        self.thread.join(5)


def report(title, base, hit):
    print("\n%s" % title)
    print("  %-5s %-10s %6s %9s %9s %9s %9s" % (
        "conn", "file", "count", "p95 base", "p95 load", "max load",
        "limit"))
    for key in sorted(hit.samples):
        b, h = base.samples.get(key, []), hit.samples[key]
        print("  %-5s %-10s %6d %8.1fms %8.1fms %8.1fms %8.1fms" % (
            key[0], key[1], len(h), p95(b) * 1e3, p95(h) * 1e3,
            max(h) * 1e3, latency_limit(b) * 1e3))


def latency_limit(base_samples):
    return max(5 * p95(base_samples), 0.050)


def check_prober(base, hit):
    assert not base.errors, "errors without attack: %r" % base.errors[:5]
    assert not hit.errors, "%d failed requests under attack: %r" % (
        len(hit.errors), hit.errors[:5])
    for key, h in hit.samples.items():
        assert len(h) >= 10, "only %d requests %r under attack" % (len(h),
                                                                    key)
        limit = latency_limit(base.samples[key])
        assert p95(h) <= limit, "%r p95 %.3f s > %.3f s" % (key, p95(h),
                                                             limit)
        assert max(h) <= 1.0, "%r: a request took %.3f s" % (key, max(h))


# What one client may make ferry queue in the kernel: a slow reader
# must not pin megabytes of kernel memory each (TCP_NOTSENT_LOWAT, or a
# capped SO_SNDBUF, bounds it; autotuning alone lets it grow to
# net.ipv4.tcp_wmem's maximum, 4 MiB by default).
MAX_QUEUED_PER_CLIENT = 256 * KIB

@pytest.mark.limit(SLOW_SECONDS + 120)
@pytest.mark.parametrize("mode", SLOW_MODES)
def test_slowhttptest_spares_normal_client(wferry, tmp, mode):
    if not shutil.which("slowhttptest"):
        pytest.fail("slowhttptest missing: make deps installs it")
    f = wferry(binary=release_bin())
    files = share_files(f.dir)
    listeners = len(ferry_sockets(f.pid))
    base = probe_for(f.port, files, 3.0)
    prefix = tmp / ("slow-" + mode)
    log_path = tmp / ("slow-%s.log" % mode)
    watch = SocketWatch(f.pid, f.port)
    hit = Prober(f.port, files).start()
    t0 = time.monotonic()
    cmd = slowhttptest_cmd(mode, f.port, prefix, SLOW_SECONDS)
    try:
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, cwd=tmp)
            rc = proc.wait(SLOW_SECONDS + 60)
    finally:
        hit.stop()
        watch.stop()
    took = time.monotonic() - t0
    attack = slowhttptest_peak(str(prefix) + ".csv")
    peak = watch.peak - listeners
    report("%s: %.0f s, slowhttptest peak %d connected, ferry peak %d "
           "clients, %.0f MiB queued in the kernel at most" % (
               mode, took, attack, peak, watch.peak_queued / MIB),
           base, hit)
    assert rc == 0, log_path.read_text("latin-1")
    check_prober(base, hit)
    check_attack(f, mode, peak)
    assert watch.peak_queued <= SLOW_CONNS * MAX_QUEUED_PER_CLIENT, (
        "%.0f MiB queued" % (watch.peak_queued / MIB))


def check_attack(f, mode, peak):
    """The attack reached ferry: its clients were held at once, or (the
    range flood, which asks and goes) their requests were answered."""
    if mode == "range":
        answered = [l for l in f.access_lines(count=SLOW_CONNS)
                    if "TESTING_PURPOSES_ONLY" in l and
                    '"HEAD /big.bin HTTP/1.1" 200 ' in l]
        print("  range: %d complete answers to the attacker" % len(answered))
        assert len(answered) >= SLOW_CONNS * 8 // 10, len(answered)
    else:
        assert peak >= SLOW_CONNS * 8 // 10, "ferry held only %d" % peak
    if mode == "slow-body":
        assert wait_no_temps(f.dir, 10) == []
        assert not f.path("slow.bin").exists()


# --- 2. 10,000 idle connections ----------------------------------------------

IDLE_TCP = 5000
IDLE_TLS = 5000
MAX_CONNS = 8000


def timed_requests(port, files, rounds):
    """ROUNDS of each file on a new connection and on one kept alive:
    the seconds each took, and the paths answered wrongly."""
    times, bad = [], []
    keep = tls(port)
    try:
        for _ in range(rounds):
            for path, want in files.items():
                for sock in (None, keep):
                    t0 = time.monotonic()
                    s = sock or tls(port)
                    try:
                        got = get(s, path, port, sock is not None)
                    finally:
                        if sock is None:
                            s.close()
                    times.append(time.monotonic() - t0)
                    if got != want:
                        bad.append((path, repr(got)[:100]))
    finally:
        keep.close()
    return times, bad


def report_idle(fig):
    """Print the figures of the 10,000-client run; returns the bytes of
    VmRSS per silent client and per TLS client."""
    per_tcp = (fig["rss_tcp"] - fig["rss0"]) * 1024 / IDLE_TCP
    per_tls = (fig["rss_tls"] - fig["rss_tcp"]) * 1024 / fig["below"]
    closed, times = fig["closed"], fig["times"]
    print("\n10,000 idle clients against --max-conns %d (ferry's limit "
          "%d, descriptors %d):" % (MAX_CONNS, fig["limit"], fig["nofile"]))
    print("  ferry idle: %d fds, VmRSS %d KiB" % (fig["base_fds"],
                                                   fig["rss0"]))
    print("  %d silent TCP clients: VmRSS +%d KiB, %.0f bytes each" % (
        IDLE_TCP, fig["rss_tcp"] - fig["rss0"], per_tcp))
    print("  %d TLS clients (handshake done): VmRSS +%d KiB, %.1f KiB "
          "each" % (fig["below"], fig["rss_tls"] - fig["rss_tcp"],
                    per_tls / 1024))
    print("  %d handshakes in %.1f s; then ferry held %d clients; %d "
          "silent TCP clients closed to make room (oldest %d, newest "
          "%d), %d TLS clients closed" % (
              IDLE_TLS, fig["t_tls"], fig["held"], len(closed),
              closed[0] if closed else -1, closed[-1] if closed else -1,
              fig["closed_tls"]))
    print("  %d requests at the limit: max %.0f ms, p95 %.0f ms; VmRSS "
          "%d KiB" % (len(times), max(times) * 1e3, p95(times) * 1e3,
                      fig["rss_full"]))
    return per_tcp, per_tls


@pytest.mark.limit(240)
def test_ten_thousand_idle_connections(ferry):
    old = raise_nofile(3 * MAX_CONNS + 1024)
    socks = []
    try:
        run_idle_connections(ferry, socks)
    finally:
        for s in socks:
            if not isinstance(s, Exception):
                s.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, old)


def run_idle_connections(ferry, socks):
    t_start = time.monotonic()
    f = ferry("-q", "--max-conns", str(MAX_CONNS), "--handshake-timeout",
              "300", "--header-timeout", "300", binary=release_bin())
    files = share_files(f.dir)
    # ferry sizes its limit to its descriptors: 3 per client at most, after
    # 64 for itself and 8 per worker for files kept open (server.c); a
    # worker per CPU it may use
    workers = len(os.sched_getaffinity(f.pid))
    limit = min(MAX_CONNS, (ferry_nofile(f.pid) - 64 - 8 * workers) // 3)
    if limit <= IDLE_TCP:
        pytest.skip("ferry's descriptor limit allows %d clients" % limit)
    timed_requests(f.port, files, 2)        # warm up, then the idle figures
    time.sleep(3)       # after the files kept open for reuse are let go
                        # (2 s unused, opencache.c), as they will be at the end
    fig = {"limit": limit, "nofile": ferry_nofile(f.pid),
           "base_fds": ferry_fds(f.pid), "rss0": ferry_rss_kib(f.pid)}
    base_socks = len(ferry_sockets(f.pid))

    tcp = [tcp_connect(f.port) for _ in range(IDLE_TCP)]
    socks.extend(tcp)
    held = wait_sockets(f.pid, base_socks + IDLE_TCP, 20) - base_socks
    assert held == IDLE_TCP, "%d of %d silent clients held" % (held,
                                                                IDLE_TCP)
    fig["rss_tcp"] = ferry_rss_kib(f.pid)

    t0 = time.monotonic()
    fig["below"] = limit - IDLE_TCP         # handshakes before the limit
    first = open_tls_many(f.port, fig["below"])
    socks.extend(first)
    held = wait_sockets(f.pid, base_socks + limit, 20) - base_socks
    fig["rss_tls"] = ferry_rss_kib(f.pid)
    rest = open_tls_many(f.port, IDLE_TLS - fig["below"])
    socks.extend(rest)
    fig["t_tls"] = time.monotonic() - t0
    tls_socks = first + rest
    errors = [s for s in tls_socks if isinstance(s, Exception)]
    assert not errors, "%d handshakes failed: %r" % (len(errors),
                                                      errors[:3])
    assert held == limit, "held %d, limit %d" % (held, limit)
    fig["held"] = wait_sockets(f.pid, base_socks + limit, 10) - base_socks

    times, bad = timed_requests(f.port, files, 5)
    closed = [i for i, s in enumerate(tcp) if closed_now(s)]
    closed_tls = [s for s in tls_socks if closed_now(s)]
    held_now = len(ferry_sockets(f.pid)) - base_socks
    fig.update(times=times, closed=closed, closed_tls=len(closed_tls),
               rss_full=ferry_rss_kib(f.pid))
    per_tcp, per_tls = report_idle(fig)

    assert fig["held"] == limit, fig["held"]
    assert not bad, bad
    assert max(times) < 1.0, max(times)
    assert held_now <= limit, held_now
    # idle clients made room, one per newcomer (and one more for each
    # request that came while ferry was full), the older ones first
    evicted = IDLE_TCP + IDLE_TLS - limit
    assert evicted <= len(closed) + len(closed_tls) <= evicted + 11, (
        len(closed), len(closed_tls), evicted)
    gone = set(closed)
    still = [i for i in range(IDLE_TCP) if i not in gone]
    assert not closed or not still or \
        sorted(closed)[len(closed) // 2] < still[len(still) // 2]
    assert per_tcp < 1024, "%.0f bytes per silent client" % per_tcp
    assert per_tls < 64 * 1024, "%.0f bytes per TLS client" % per_tls
    check_released(f, files, socks, fig, t_start)
    if closed_tls and len(closed) < IDLE_TCP:
        # Each worker closes its own clients, silent ones first (worker.c
        # oldest_idle): a worker whose silent clients are all gone closes
        # clients that finished their handshake, while another worker
        # keeps silent ones.  A known limitation (README), shown here.
        pytest.xfail("known limitation: %d TLS clients closed while %d "
                     "silent ones were kept by another worker"
                     % (len(closed_tls), IDLE_TCP - len(closed)))


def check_released(f, files, socks, fig, t_start):
    """Close every client: ferry is back to its idle descriptors, and
    serves as before."""
    for s in socks:
        if not isinstance(s, Exception):
            s.close()
    socks.clear()
    deadline = time.monotonic() + 20
    while (ferry_fds(f.pid) != fig["base_fds"] and
           time.monotonic() < deadline):
        time.sleep(0.2)
    fds_after = ferry_fds(f.pid)
    print("  all closed: %d fds (idle %d), VmRSS %d KiB; whole test "
          "%.0f s" % (fds_after, fig["base_fds"], ferry_rss_kib(f.pid),
                      time.monotonic() - t_start))
    assert fds_after == fig["base_fds"], (fds_after, fig["base_fds"])
    times, bad = timed_requests(f.port, files, 2)
    assert not bad and max(times) < 1.0, (bad, max(times))


def connect_into(port, out):
    """A TLS connection into OUT["s"] once its handshake is done."""
    try:
        out["s"] = tls(port, timeout=20)
    except (OSError, ssl.SSLError):
        pass                # closed by the test's end


@pytest.mark.limit(60)
def test_waiting_client_takes_the_place_of_one_turned_idle(ferry):
    """At --max-conns with every client busy (half a head each), a new
    client waits in the backlog; when one of the busy clients gets its
    answer and stays connected, idle, the waiting one gets its place."""
    f = ferry("--max-conns", "3", "--workers", "1", "--idle-timeout", "30",
              binary=release_bin())
    write_file(f.path("a.txt"), "a")
    busy = [tls(f.port) for _ in range(3)]
    waiting = {}
    try:
        for s in busy:
            s.sendall(b"GET /a.txt HTTP/1.1\r\nHost: a\r\n")
        time.sleep(0.5)
        t = threading.Thread(target=connect_into, args=(f.port, waiting),
                             daemon=True)
        t.start()
        time.sleep(1.0)
        assert not waiting, "handshake done while every slot was busy"
        busy[0].sendall(b"\r\n")
        rd = ResponseReader(busy[0], time.monotonic() + 5)
        assert rd.read_response().body == b"a"
        t.join(5)
        assert waiting, "still waiting 5 s after a client turned idle"
    finally:
        for s in busy + list(waiting.values()):
            s.close()


# --- 3. deadlines ------------------------------------------------------------

TIMEOUT = 2             # seconds, the value given to the deadline under test
LONG = "30"             # the other deadlines, out of the way
EARLY = 0.15            # the earliest a close may come before TIMEOUT
LATE = 1.5              # the sweep runs every 0.5 s; the rest is margin


def deadline_server(ferry_or_wferry, name):
    args = []
    for opt in ("--handshake-timeout", "--header-timeout", "--idle-timeout",
                "--send-timeout"):
        args += [opt, str(TIMEOUT) if opt == name else LONG]
    return ferry_or_wferry(*args, binary=release_bin())


def assert_fired(took, what):
    assert took is not None, "%s: still open after %d s" % (what,
                                                          TIMEOUT + 8)
    print("\n%s: closed after %.2f s (deadline %d s)" % (what, took,
                                                          TIMEOUT))
    assert took >= TIMEOUT - EARLY, "%s: closed early, %.2f s" % (what,
                                                                  took)
    assert took <= TIMEOUT + LATE, "%s: closed late, %.2f s" % (what, took)


def closed_after(sock, t0):
    """Seconds from T0 until the peer closed SOCK, or None."""
    took = wait_closed(sock, TIMEOUT + 8)
    return None if took is None else time.monotonic() - t0


def client_hello():
    """The bytes of a real ClientHello."""
    bio_in, bio_out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = CTX.wrap_bio(bio_in, bio_out, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return bio_out.read()


@pytest.mark.parametrize("part", ["half", "whole"])
def test_handshake_deadline(ferry, part):
    """Half a ClientHello, or a whole one and then silence (ferry has
    answered and waits for the client's key exchange)."""
    f = deadline_server(ferry, "--handshake-timeout")
    hello = client_hello()
    t0 = time.monotonic()
    s = tcp_connect(f.port)
    try:
        s.sendall(hello[:len(hello) // 2] if part == "half" else hello)
        if part == "whole":
            s.settimeout(5)
            assert s.recv(5)[:1] == b"\x16", "no ServerHello"
        took = closed_after(s, t0)
    finally:
        s.close()
    assert_fired(took, "%s ClientHello" % part)


def test_head_deadline_after_handshake(ferry):
    """A client that finishes its handshake and sends nothing meets the
    head deadline, not the idle one."""
    f = deadline_server(ferry, "--header-timeout")
    s = tls(f.port)
    t0 = time.monotonic()
    try:
        took = closed_after(s, t0)
    finally:
        s.close()
    assert_fired(took, "silent after the handshake")


def test_head_deadline_half_head(ferry):
    f = deadline_server(ferry, "--header-timeout")
    s = tls(f.port)
    try:
        time.sleep(1.0)     # the deadline runs from the head's first byte
        t0 = time.monotonic()
        s.sendall(b"GET /a.txt HTTP/1.1\r\nHost: a\r\n")
        took = closed_after(s, t0)
    finally:
        s.close()
    assert_fired(took, "half a head")


def test_head_deadline_second_request(ferry):
    """On a kept-alive connection, half of the next head meets the head
    deadline from its first byte, not the (longer) idle one."""
    f = deadline_server(ferry, "--header-timeout")
    write_file(f.path("a.txt"), "a")
    s = tls(f.port)
    try:
        s.sendall(build_request("/a.txt", close=False, port=f.port))
        rd = ResponseReader(s, time.monotonic() + 5)
        assert rd.read_response().body == b"a"
        time.sleep(1.0)
        t0 = time.monotonic()
        s.sendall(b"GET /a.txt HTTP/1.1\r\n")
        took = closed_after(s, t0)
    finally:
        s.close()
    assert_fired(took, "half of a second head")


@pytest.mark.parametrize("how", ["length", "chunked", "continue"])
def test_stalled_body_deadline(wferry, how):
    """A PUT whose body stops: 8 KiB of 100 KiB by Content-Length, in the
    middle of a chunk, or nothing after 100 Continue.  The upload is
    abandoned: no file, no temporary file."""
    f = deadline_server(wferry, "--header-timeout")
    up = Upload(f.port, "/stalled.bin", None if how == "chunked"
                else 100 * KIB, expect=how == "continue")
    with up:
        if how == "length":
            assert up.send(os.urandom(8 * KIB))
        elif how == "chunked":
            up.sock.sendall(b"10000\r\n" + os.urandom(8 * KIB))
        else:
            r = up.response(5)
            assert r is not None and r.status == 100, r
        t0 = time.monotonic()
        took = closed_after(up.sock, t0)
    assert_fired(took, "body stalled (%s)" % how)
    assert wait_no_temps(f.dir, 3) == []
    assert not f.path("stalled.bin").exists()


@pytest.mark.limit(60)
def test_stalled_reader_deadline(ferry):
    """A client asks for 64 MiB and reads nothing: once the kernel's
    buffers are full, ferry lets go of it after --send-timeout.  Timed on
    ferry's side: from the last byte that reached our receive buffer to
    the moment ferry no longer holds the socket."""
    f = deadline_server(ferry, "--send-timeout")
    with open(f.path("big.bin"), "wb") as fh:
        fh.truncate(64 * MIB)
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * KIB)
    raw.settimeout(5)
    raw.connect(("127.0.0.1", f.port))
    s = CTX.wrap_socket(raw, server_hostname="localhost")
    try:
        inode = server_inode(f.port, s.getsockname()[1])
        assert inode, "ferry's end of the connection not found"
        s.sendall(build_request("/big.bin", port=f.port))
        last, queued, gone = stalled_until_dropped(f.pid, s, inode)
    finally:
        s.close()
    assert gone is not None, "ferry still holds a stalled reader"
    print("\nstalled reader: %d KiB queued for us, dropped %.2f s after "
          "the last byte moved" % (queued // KIB, gone - last))
    assert queued < 64 * MIB
    assert_fired(gone - last, "stalled reader")


def stalled_until_dropped(pid, sock, inode, wait=TIMEOUT + 10):
    """Watch our receive queue and ferry's socket: the time the queue
    last grew, its size, and the time ferry let go (or None)."""
    fd = sock.fileno()
    last, queued = time.monotonic(), -1
    deadline = last + wait
    while time.monotonic() < deadline:
        n = struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD,
                                           b"\0\0\0\0"))[0]
        now = time.monotonic()
        if n != queued:
            last, queued = now, n
        if inode not in ferry_sockets(pid):
            return last, queued, now
        time.sleep(0.02)
    return last, queued, None
