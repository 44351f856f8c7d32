#!/usr/bin/python3
"""ferry, nginx and lighttpd side by side, against mbedTLS's ceilings.

The benchmark of issue 6.  It first runs build/bench-ceiling (what
mbedTLS itself does on one core, in memory) on the server's core, then
serves one private temporary folder (a 1 GiB file of a random 1 MiB
block repeated, and a 4 KiB random file) from three servers on
127.0.0.1, on ports it picks, with one ECDSA P-256 certificate, TLS 1.2,
ChaCha20-Poly1305 first:

  ferry     the release ./ferry (a copy), default settings, -q
  nginx     Debian's, on OpenSSL, Debian's defaults (bench/benchlib.py)
            and a shared session cache (its default keeps none)
  lighttpd  Debian's, mod_mbedtls, its defaults, groups x25519 then
            secp256r1

In two phases: pinned (each server on CPU 0, its clients on CPU 1;
nginx with one worker, ferry with one worker per CPU it may use, so
one) and unpinned (nothing pinned; nginx one worker per CPU).  Each
load runs on each server in turn, a fresh server each time, the order
turned by one for every load; the rate loads --runs times, and the
tables give medians.  The loads:

  bulk1      the 1 GiB file over one connection (curl to /dev/null)
  bulk4      the same file over 4 connections at once, a quarter each
             (curl with a Range each)
  keepalive  the 4 KiB file, keep-alive, 64 connections (wrk)
  keepalive-hs  the same while a side client makes 50 new connections
             a second, each a full handshake (bench-hsclient)
  full       a new connection, a full handshake and a GET of the 4 KiB
             file per request (bench-hsclient, 8 processes)
  ticket     the same, each client offering the session ticket of its
             last connection
  id         the same with tickets off in the client: resumed by
             session ID from the server's cache
  memory     server RSS (all its processes) idle, with TCP connections
             that send nothing, after they leave; on a second server
             the same with idle TLS connections; once per phase, not
             --runs times
  startup    from exec to the first TCP connect that succeeds (tried
             every 1 ms), and to the first answer

For each: the server's CPU time (utime + stime of all its processes,
/proc/PID/stat) and its clients', over the load's wall time, so that a
load where the client and not the server was the bound shows.  Prints
the ceilings, a table per phase and the targets of issue 6 with
"meets" or "MISSES"; writes every sample to --json.  Exits 0 unless a
server would not start or a load failed outright.  Stops only what it
started, by pid; removes its folder at the end.
"""

import argparse
import json
import os
import pathlib
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager

from benchlib import (ROOT, SERVERS, TICK_S, StartError, ferry_version,
                      free_port, give_to_nobody, machine, make_certificate,
                      package_version, start_ferry, start_lighttpd,
                      start_nginx)
from ferrylib import closed_now, open_tls_many, raise_nofile, tls

LOADS = ("bulk1", "bulk4", "keepalive", "keepalive-hs", "full", "ticket",
         "id", "memory", "startup")
PHASES = ("pinned", "unpinned")
SERVER_CPUS = {0}               # pinned: the server's core
CLIENT_CPUS = {1}               # pinned: the clients' and this script's
ALL_CPUS = set(range(os.cpu_count()))
MIB = 1 << 20
SMALL_PATH, BIG_PATH = "/4k.bin", "/big.bin"
SMALL_BYTES = 4096
# A bound is computed from figures of the same run, each a few per cent
# noisy (the ceiling's 1 s runs, 10 ms CPU ticks): within this of it,
# ferry is at the bound, even a little past it.
BOUND_NOISE = 0.97
WRK_CONNS = 64
BULK_CONNS = 4
BULK_TIMEOUT_S = 600            # 1 GiB at under 2 MB/s is a failure
HS_PROCS = 8                    # bench-hsclient processes
SIDE_RATE = 50                  # new connections a second in keepalive-hs
SIDE_PROCS = 2
CONNECT_POLL_S = 0.001          # start-up: how often connect is tried
SETTLE_S = 1.0                  # after connections open, before RSS
LEAVE_S = 2.0                   # after they close, before RSS
FLOOD_THREADS = 16
FLOOD_TIMEOUT_S = 5.0
FLOOD_LIMIT_S = 60.0            # no handshake of the flood begun after
CLIENT_MARGIN_S = 60.0          # a client outliving its time by this fails
BUSY = 0.9                      # a core this busy bounds the load
# nginx keeps no session cache by default (ssl_session_cache none), so
# it would resume nothing by session ID; the size its documentation
# gives as an example.
NGINX_SESSION_CACHE = "ssl_session_cache shared:SSL:10m;"


class Sizes:
    """How big and long each load is: the default run, or --quick."""

    def __init__(self, quick):
        self.big_mib = 256 if quick else 1024
        self.wrk_s = 2 if quick else 6
        self.full_s = 2 if quick else 5
        self.resumed_s = 2 if quick else 4
        self.idle_conns = 200 if quick else 1000
        self.starts = 3 if quick else 7
        self.ceiling_s = 0.3 if quick else 1.0


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=3,
                   help="runs of each rate load on each server (3)")
    p.add_argument("--quick", action="store_true",
                   help="1 run, short loads, a 256 MiB file: a try-out")
    p.add_argument("--servers", default=",".join(SERVERS),
                   help="comma-separated, ferry among them (all)")
    p.add_argument("--loads", default=",".join(LOADS),
                   help="comma-separated, of: " + ", ".join(LOADS))
    p.add_argument("--phases", default=",".join(PHASES),
                   help="comma-separated: pinned, unpinned (both)")
    p.add_argument("--json", default=str(ROOT / "build" / "bench.json"),
                   help="where every sample goes (build/bench.json)")
    p.add_argument("--ferry", default=str(ROOT / "ferry"))
    p.add_argument("--ceiling", default=str(ROOT / "build" /
                                            "bench-ceiling"))
    p.add_argument("--client", default=str(ROOT / "build" /
                                           "bench-hsclient"))
    args = p.parse_args()
    args.servers = [s for s in args.servers.split(",") if s]
    args.loads = [s for s in args.loads.split(",") if s]
    args.phases = [s for s in args.phases.split(",") if s]
    if args.quick:
        args.runs = 1
    if not set(args.servers) <= set(SERVERS) or "ferry" not in args.servers:
        p.error("--servers: ferry and any of nginx, lighttpd")
    if not args.loads or not set(args.loads) <= set(LOADS):
        p.error("--loads: of %s" % ", ".join(LOADS))
    if not args.phases or not set(args.phases) <= set(PHASES):
        p.error("--phases: pinned, unpinned")
    if args.runs < 1:
        p.error("--runs: at least 1")
    if "pinned" in args.phases and os.cpu_count() < 2:
        p.error("pinned needs 2 CPUs")
    for path in (args.ferry, args.ceiling, args.client):
        if not os.access(path, os.X_OK):
            p.error("%s: not an executable (make bench builds it)" % path)
    return args


# ---- the folder, the servers ---------------------------------------------

class Site:
    """The private folder: the files every server serves, the
    certificate, a copy of ferry, a folder per server (benchlib's
    start_* read these)."""

    def __init__(self, tmp, ferry, big_mib):
        self.tmp = tmp
        self.share = tmp / "share"
        self.share.mkdir()
        small = os.urandom(SMALL_BYTES)
        (self.share / SMALL_PATH[1:]).write_bytes(small)
        self.big_bytes = write_big_file(self.share / BIG_PATH[1:], big_mib)
        give_to_nobody(self.share)
        self.files = {SMALL_PATH: small}
        self.check_path = SMALL_PATH
        self.cert, self.key = make_certificate(tmp)
        # A copy, so that a rebuild during the run changes nothing.
        self.ferry = tmp / "ferry.bin"
        shutil.copy2(ferry, self.ferry)

    def dir(self, name):
        d = self.tmp / name
        d.mkdir(exist_ok=True)
        return d


def write_big_file(path, mib):
    """MIB MiB of one random 1 MiB block repeated: made fast, and as
    incompressible as random bytes to anything with a window under
    1 MiB (gzip's is 32 KiB).  Returns its size."""
    block = os.urandom(MIB)
    with open(path, "wb") as f:
        for _ in range(mib):
            f.write(block)
    return mib * MIB


@contextmanager
def cpus(mask):
    """This thread on MASK for the block: what it starts inherits it."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, mask)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def start(site, name, phase, wait=True):
    """NAME on a free port, on the server's core when pinned."""
    port = free_port()
    pinned = phase == "pinned"
    with cpus(SERVER_CPUS if pinned else ALL_CPUS):
        if name == "ferry":
            return start_ferry(site, port, wait=wait)
        if name == "nginx":
            return start_nginx(site, port, workers=1 if pinned else "auto",
                               put=False, extra=NGINX_SESSION_CACHE,
                               wait=wait)
        return start_lighttpd(site, port, put=False, wait=wait)


class LoadError(Exception):
    """A load failed outright: its client failed, or nothing was done."""


@contextmanager
def serving(site, name, phase):
    server = start(site, name, phase)
    try:
        yield server
    finally:
        server.stop()


def client_cpu_s():
    """CPU time of this script's children that have been waited for."""
    r = os.times()
    return r.children_user + r.children_system


def core_times():
    """Per CPU, (busy, total) clock ticks since boot, from /proc/stat:
    what every process did there, ours or not."""
    out = []
    with open("/proc/stat") as f:
        for line in f:
            name, *fields = line.split()
            if name.startswith("cpu") and name != "cpu":
                ticks = [int(x) for x in fields]
                idle = ticks[3] + ticks[4]          # idle, iowait
                out.append((sum(ticks) - idle, sum(ticks)))
    return out


class Meter:
    """Over a load: the wall time, the server's CPU, its clients' CPU,
    and how busy each core was with anything at all (the machine is
    shared: a core full of other work bounds a load too)."""

    def __init__(self, server):
        self.server = server
        self.split = server.cpu_split()
        self.client = client_cpu_s()
        self.cores = core_times()
        self.t0 = time.monotonic()

    def read(self):
        wall = time.monotonic() - self.t0
        cores = [(b1 - b0) / max(1, t1 - t0) for (b0, t0), (b1, t1)
                 in zip(self.cores, core_times())]
        user, sys_ = (b - a for a, b in zip(self.split,
                                            self.server.cpu_split()))
        return {"wall_s": wall,
                "server_cpu_s": (user + sys_) * TICK_S,
                "server_user_s": user * TICK_S,
                "server_sys_s": sys_ * TICK_S,
                "client_cpu_s": client_cpu_s() - self.client,
                "cores_busy": cores}


def run_client(cmd, seconds):
    """Run a client; its stdout.  A failure or a hang is a LoadError."""
    try:
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=seconds
                           + CLIENT_MARGIN_S, check=False)
    except subprocess.TimeoutExpired:
        raise LoadError("%s did not end in time" % cmd[0])
    if r.returncode != 0:
        raise LoadError("%s exited %d: %s" % (cmd[0], r.returncode,
                                              r.stderr.decode()[-500:]))
    return r.stdout.decode()


def url(server, path):
    return "https://127.0.0.1:%d%s" % (server.port, path)


# ---- (a) bulk: the big file ----------------------------------------------

def load_bulk(ctx, server, conns):
    """The big file over CONNS connections at once, each a part of it
    (curl's --range), to /dev/null."""
    size = ctx.site.big_bytes
    cuts = [size * i // conns for i in range(conns + 1)]
    cmds = [["curl", "-sk", "--http1.1", "-o", "/dev/null", "-w",
             "%{http_code} %{size_download}", url(server, BIG_PATH)]
            + (["--range", "%d-%d" % (a, b - 1)] if conns > 1 else [])
            for a, b in zip(cuts, cuts[1:])]
    meter = Meter(server)
    procs = [subprocess.Popen(c, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE) for c in cmds]
    try:
        outs = [p.communicate(timeout=BULK_TIMEOUT_S)[0].decode().split()
                for p in procs]
    except subprocess.TimeoutExpired:
        for p in procs:
            p.kill()
            p.wait()
        raise LoadError("curl took over %d s" % BULK_TIMEOUT_S)
    sample = meter.read()
    got = sum(int(o[1]) for o in outs if len(o) == 2)
    if got != size or any(p.returncode != 0 for p in procs):
        raise LoadError("curl got %d of %d bytes (%s)" % (got, size, outs))
    sample["mb_s"] = size / 1e6 / sample["wall_s"]
    sample["cpu_s_gb"] = sample["server_cpu_s"] / (size / 1e9)
    sample["user_s_gb"] = sample["server_user_s"] / (size / 1e9)
    sample["sys_s_gb"] = sample["server_sys_s"] / (size / 1e9)
    return sample


# ---- (b) keep-alive: the small file over 64 connections -----------------

def wrk_cmd(ctx, server, phase):
    threads = 1 if phase == "pinned" else 2
    return ["wrk", "-t%d" % threads, "-c%d" % WRK_CONNS,
            "-d%ds" % ctx.sizes.wrk_s, "--latency", "-s",
            str(ROOT / "bench" / "wrk_report.lua"), url(server, SMALL_PATH)]


def hsclient_cmd(ctx, server, seconds, mode, procs, rate=0):
    return [ctx.args.client, "-p", str(server.port), "-P", SMALL_PATH,
            "-t", str(seconds), "-c", str(procs), "-m", mode,
            "-r", str(rate)]


def load_keepalive(ctx, server, phase, side_handshakes):
    """wrk's figures; with SIDE_HANDSHAKES, while bench-hsclient makes
    SIDE_RATE new connections a second beside it."""
    meter = Meter(server)
    side = None
    if side_handshakes:
        side = subprocess.Popen(
            hsclient_cmd(ctx, server, ctx.sizes.wrk_s, "none", SIDE_PROCS,
                         SIDE_RATE),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    try:
        out = run_client(wrk_cmd(ctx, server, phase), ctx.sizes.wrk_s)
    finally:
        side_out = side.communicate(timeout=ctx.sizes.wrk_s
                                    + CLIENT_MARGIN_S)[0] if side else b""
    sample = meter.read()
    w = json.loads(out.strip().splitlines()[-1])
    errors = sum(w[k] for k in ("connect_errors", "read_errors",
                                "write_errors", "status_errors", "timeouts"))
    if w["requests"] == 0:
        raise LoadError("wrk made no request: %s" % out[-500:])
    sample.update(req_s=w["requests"] / (w["duration_us"] / 1e6),
                  p50_ms=w["p50_us"] / 1e3, p99_ms=w["p99_us"] / 1e3,
                  cpu_us_req=sample["server_cpu_s"] * 1e6 / w["requests"],
                  errors=errors)
    if side is not None:
        s = json.loads(side_out.decode())
        sample.update(side_hs_s=s["done"] / s["seconds"],
                      side_errors=s["errors"])
    return sample


# ---- (c), (d) handshakes -------------------------------------------------

def load_handshakes(ctx, server, mode):
    """bench-hsclient in MODE (none, ticket, id): per connection a
    handshake, a GET of the small file and the close."""
    seconds = ctx.sizes.full_s if mode == "none" else ctx.sizes.resumed_s
    meter = Meter(server)
    out = run_client(hsclient_cmd(ctx, server, seconds, mode, HS_PROCS),
                     seconds)
    sample = meter.read()
    h = json.loads(out)
    if h["done"] == 0:
        raise LoadError("no connection made: %s" % h["first_error"])
    offered = h["offered"]
    sample.update(hs_s=h["done"] / h["seconds"],
                  cpu_ms_hs=sample["server_cpu_s"] * 1e3 / h["done"],
                  cpu_us_hs=sample["server_cpu_s"] * 1e6 / h["done"],
                  resumed_pct=100.0 * h["resumed"] / offered if offered
                  else 0.0,
                  errors=h["errors"], first_error=h["first_error"])
    return sample


# ---- (e) memory ----------------------------------------------------------

def open_tcp_many(port, count):
    """COUNT connections that send nothing: the sockets (or errors)."""
    out = []
    deadline = time.monotonic() + FLOOD_LIMIT_S
    for _ in range(count):
        if time.monotonic() > deadline:
            break
        try:
            s = socket.create_connection(("127.0.0.1", port),
                                         FLOOD_TIMEOUT_S)
            out.append(s)
        except OSError as e:
            out.append(e)
    return out


def held(results):
    """The sockets among RESULTS that the server has not closed."""
    return [s for s in results
            if not isinstance(s, Exception) and not closed_now(s)]


def close_all(results):
    for s in results:
        if not isinstance(s, Exception):
            s.close()


def load_memory(ctx, name, phase):
    """RSS idle, with silent TCP connections, after they left; then on
    a second fresh server the same with idle TLS connections.  Each kind
    on its own server: what a server frees, its allocator keeps, and the
    kind that came second would fill that at no growth."""
    n = ctx.sizes.idle_conns
    sample = {}
    for kind in ("tcp", "tls"):
        with serving(ctx.site, name, phase) as server:
            time.sleep(SETTLE_S)
            idle = server.rss_kib()
            if kind == "tcp":
                conns = open_tcp_many(server.port, n)
            else:
                conns = open_tls_many(server.port, n, FLOOD_THREADS,
                                      FLOOD_TIMEOUT_S,
                                      time.monotonic() + FLOOD_LIMIT_S)
            sample.update(measure_held(server, conns, kind))
        sample[kind + "_idle_kib"] = idle
        sample[kind + "_kib_conn"] = per_conn(sample[kind + "_kib"] - idle,
                                              sample[kind + "_held"])
    sample["idle_kib"] = sample["tcp_idle_kib"]
    return sample


def measure_held(server, conns, kind):
    """RSS with CONNS open, how many the server holds, RSS once they
    have left."""
    time.sleep(SETTLE_S)
    out = {kind + "_kib": server.rss_kib(), kind + "_held": len(held(conns)),
           kind + "_failed": sum(isinstance(s, Exception) for s in conns)}
    close_all(conns)
    time.sleep(LEAVE_S)
    out[kind + "_left_kib"] = server.rss_kib()
    return out


def per_conn(kib, count):
    return kib / count if count else float("nan")


# ---- (f) start-up --------------------------------------------------------

def load_startup(ctx, name, phase):
    """From exec to the first connect that succeeds, and to the first
    answer over TLS: the medians of several starts."""
    connect_ms, first_ms = [], []
    for _ in range(ctx.sizes.starts):
        t0 = time.monotonic()
        server = start(ctx.site, name, phase, wait=False)
        try:
            wait_connect(server)
            connect_ms.append((time.monotonic() - t0) * 1e3)
            server.wait_serving(SMALL_PATH, ctx.site.files[SMALL_PATH])
            first_ms.append((time.monotonic() - t0) * 1e3)
        finally:
            server.stop()
    return {"connect_ms": statistics.median(connect_ms),
            "first_ms": statistics.median(first_ms),
            "connect_ms_all": connect_ms, "first_ms_all": first_ms}


def wait_connect(server):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise StartError("%s exited at start" % server.name)
        try:
            socket.create_connection(("127.0.0.1", server.port), 1).close()
            return
        except OSError:
            time.sleep(CONNECT_POLL_S)
    raise StartError("%s: no connection in 10 s" % server.name)


# ---- the runs ------------------------------------------------------------

def run_load(ctx, load, name, phase):
    """One sample of LOAD on a fresh NAME."""
    if load == "startup":
        return load_startup(ctx, name, phase)
    if load == "memory":
        return load_memory(ctx, name, phase)
    with serving(ctx.site, name, phase) as server:
        if load in ("bulk1", "bulk4"):
            return load_bulk(ctx, server, 1 if load == "bulk1"
                             else BULK_CONNS)
        if load in ("keepalive", "keepalive-hs"):
            return load_keepalive(ctx, server, phase,
                                  load == "keepalive-hs")
        return load_handshakes(ctx, server, {"full": "none"}.get(load, load))


def turned(names, k):
    """NAMES in order, turned by K: each server goes first in turn."""
    k %= len(names)
    return names[k:] + names[:k]


def run_phase(ctx, phase, samples):
    args = ctx.args
    k = 0
    with cpus(CLIENT_CPUS if phase == "pinned" else ALL_CPUS):
        for run in range(1, args.runs + 1):
            for load in args.loads:
                if load == "memory" and run > 1:
                    continue        # its figures hardly move: once a phase
                for name in turned(args.servers, k):
                    log("%s, run %d: %s on %s" % (phase, run, load, name))
                    sample = run_load(ctx, load, name, phase)
                    sample.update(phase=phase, run=run, load=load,
                                  server=name)
                    samples.append(sample)
                k += 1


def log(text):
    print("bench: " + text, file=sys.stderr, flush=True)


def run_ceiling(ctx):
    """build/bench-ceiling --json, on the server's core."""
    with cpus(SERVER_CPUS if "pinned" in ctx.args.phases else ALL_CPUS):
        out = run_client([ctx.args.ceiling, "--json", "-t",
                          str(ctx.sizes.ceiling_s)], 60)
    return json.loads(out)


def negotiated(site, names):
    """What each server chose for Python's client: {name: (protocol,
    cipher)}."""
    out = {}
    for name in names:
        with serving(site, name, "unpinned") as server:
            with tls(server.port) as sock:
                out[name] = (sock.version(), sock.cipher()[0])
    return out


# ---- the report ----------------------------------------------------------

# The figures of the tables: (load, key, what, unit); a figure in HIGHER
# is better high, any other low.
ROWS = (
    ("bulk1", "mb_s", "(a) 1 file, 1 connection", "MB/s"),
    ("bulk1", "cpu_s_gb", "", "CPU s/GB"),
    ("bulk1", "user_s_gb", "    of it in user space", "CPU s/GB"),
    ("bulk1", "sys_s_gb", "    of it in the kernel", "CPU s/GB"),
    ("bulk4", "mb_s", "(a) 1 file, 4 conns, 1/4 each", "MB/s"),
    ("bulk4", "cpu_s_gb", "", "CPU s/GB"),
    ("keepalive", "req_s", "(b) 4 KiB keep-alive, 64 conns", "req/s"),
    ("keepalive", "p50_ms", "", "p50 ms"),
    ("keepalive", "p99_ms", "", "p99 ms"),
    ("keepalive", "cpu_us_req", "", "CPU us/req"),
    ("keepalive-hs", "req_s", "(b') the same + 50 handshakes/s",
     "req/s"),
    ("keepalive-hs", "p99_ms", "", "p99 ms"),
    ("keepalive-hs", "cpu_us_req", "", "CPU us/req"),
    ("keepalive-hs", "side_hs_s", "    side handshakes made", "conns/s"),
    ("full", "hs_s", "(c) new conn, full handshake", "conns/s"),
    ("full", "cpu_ms_hs", "", "CPU ms/conn"),
    ("ticket", "resumed_pct", "(d) resumed by ticket", "% resumed"),
    ("ticket", "hs_s", "", "conns/s"),
    ("ticket", "cpu_us_hs", "", "CPU us/conn"),
    ("id", "resumed_pct", "(d) resumed by session ID", "% resumed"),
    ("id", "hs_s", "", "conns/s"),
    ("id", "cpu_us_hs", "", "CPU us/conn"),
    ("memory", "idle_kib", "(e) RSS idle after start", "KiB"),
    ("memory", "tcp_kib_conn", "    per silent TCP connection", "KiB"),
    ("memory", "tcp_held", "    TCP connections held", "conns"),
    ("memory", "tls_kib_conn", "    per idle TLS connection", "KiB"),
    ("memory", "tls_held", "    TLS connections held", "conns"),
    ("memory", "tcp_left_kib", "    after the TCP ones left", "KiB"),
    ("memory", "tls_left_kib", "    after the TLS ones left", "KiB"),
    ("startup", "connect_ms", "(f) exec to first connect", "ms"),
    ("startup", "first_ms", "    exec to first answer", "ms"),
)
HIGHER = {"mb_s", "req_s", "hs_s", "resumed_pct", "tls_held", "tcp_held",
          "side_hs_s"}
CIPHER_KEYS = {"CHACHA20": "chacha20-poly1305", "AES128": "aes-128-gcm",
               "AES256": "aes-256-gcm"}


class Report:
    """Medians of the samples, ratios to ferry, fractions of the
    ceilings."""

    def __init__(self, samples, ceiling, cipher, servers):
        self.samples = samples
        self.ceiling = ceiling
        self.servers = servers
        key = next((v for k, v in CIPHER_KEYS.items() if k in cipher),
                   "chacha20-poly1305")
        self.aead = ceiling["aead"][key]
        self.aead_name = key

    def values(self, phase, load, name, key):
        return [s[key] for s in self.samples
                if (s["phase"], s["load"], s["server"]) == (phase, load, name)
                and key in s and s[key] == s[key]]   # NaN is not itself

    def median(self, phase, load, name, key):
        v = self.values(phase, load, name, key)
        return statistics.median(v) if v else None

    def ratio(self, phase, load, key, other):
        """How many times better ferry did than OTHER: above 1, ferry
        did better, whichever way the figure goes."""
        f = self.median(phase, load, "ferry", key)
        o = self.median(phase, load, other, key)
        if not f or not o:
            return None
        return f / o if key in HIGHER else o / f

    def of_ceiling(self, phase, load, key):
        """ferry's figure as a fraction of what mbedTLS allows, where a
        ceiling applies: rates against the ceiling times the cores the
        server may use, costs as ceiling / figure."""
        f = self.median(phase, load, "ferry", key)
        c = self.ceiling_of(phase, load, key)
        if f is None or c is None or f == 0:
            return None
        return f / c if key in HIGHER else c / f

    def ceiling_of(self, phase, load, key):
        hs = self.ceiling["handshake"]
        per_s = {"full": hs["full_per_s"],
                 "ticket": 1e6 / hs["resumed_ticket_us"],
                 "id": 1e6 / hs["resumed_cache_us"]}
        cores = 1 if phase == "pinned" or load == "bulk1" else os.cpu_count()
        if key == "mb_s":
            return self.aead["record_mb_s"] * cores
        if key in ("cpu_s_gb", "user_s_gb"):
            return 1e3 / self.aead["record_mb_s"]
        if key == "hs_s" and load in per_s:
            return per_s[load] * cores
        if key == "cpu_ms_hs":
            return hs["full_ms"]
        if key == "cpu_us_hs":
            return hs["resumed_%s_us" % ("ticket" if load == "ticket"
                                         else "cache")]
        return None

    def bound(self, what):
        """For a target mbedTLS may put out of reach: the most ferry
        could reach (same unit as the target), or None.  Each assumes
        ferry spends nothing beyond the work no TLS server on mbedTLS
        can skip, measured here."""
        P = "pinned"
        ceiling_s_gb = 1e3 / self.aead["record_mb_s"]
        sys_s_gb = self.median(P, "bulk1", "ferry", "sys_s_gb")
        if what in ("bulk1 ceiling", "bulk1 lighttpd") and sys_s_gb:
            # mbedTLS at its ceiling, plus the kernel's part of sending
            # each byte over TCP, which its in-memory ceiling leaves out.
            best = ceiling_s_gb / (ceiling_s_gb + sys_s_gb)
            if what == "bulk1 ceiling":
                return best
            other = self.median(P, "bulk1", "lighttpd", "mb_s")
            return (best * self.aead["record_mb_s"] / other if other
                    else None)
        if what == "keepalive nginx":
            # Encrypting the 4 KiB body alone, at the ceiling, against
            # the whole of nginx's CPU per request (64 connections always
            # waiting: its latency follows its rate, Little's law).
            floor_us = SMALL_BYTES / self.aead["record_mb_s"]
            other = self.median(P, "keepalive", "nginx", "cpu_us_req")
            return other / floor_us if other else None
        if what == "full lighttpd":
            other = self.median(P, "full", "lighttpd", "hs_s")
            return (self.ceiling["handshake"]["full_per_s"] / other
                    if other else None)
        return None

    def busy(self, phase, load, name):
        """Medians over the load's runs: the cores the server kept busy,
        those its clients did, and each CPU's busy fraction (anyone's
        work)."""
        ss = [s for s in self.samples
              if (s["phase"], s["load"], s["server"]) == (phase, load, name)
              and s.get("wall_s")]
        if not ss:
            return None
        cores = [statistics.median(s["cores_busy"][i] for s in ss)
                 for i in range(len(ss[0]["cores_busy"]))]
        return (statistics.median(s["server_cpu_s"] / s["wall_s"]
                                  for s in ss),
                statistics.median(s["client_cpu_s"] / s["wall_s"]
                                  for s in ss), cores)

    def client_bound(self, phase, load, name):
        """Pinned, the clients' core was full (with their work or any
        other) while the server's was not."""
        b = self.busy(phase, load, name)
        if phase != "pinned" or b is None:
            return False
        server_core, client_core = (b[2][min(SERVER_CPUS)],
                                    b[2][min(CLIENT_CPUS)])
        return client_core >= BUSY and server_core < BUSY


def num(v):
    """A figure in about 4 significant digits."""
    if v is None:
        return "-"
    a = abs(v)
    return ("%.0f" % v if a >= 100 else "%.1f" % v if a >= 10
            else "%.2f" % v if a >= 1 else "%.3f" % v)


def print_phase(rep, phase, runs):
    others = [n for n in rep.servers if n != "ferry"]
    print("\n%s: %s; medians of %d run(s), memory once"
          % (phase, "servers on CPU 0, clients on CPU 1"
             if phase == "pinned" else "nothing pinned", runs))
    print("ratio: how many times better ferry did than the other, "
          "whichever way the figure\ngoes (above 1: ferry better); "
          "'hi'/'lo': which way is better; c: the client's\ncore was "
          "busy and the server's not (the client was the bound); "
          "ceiling: ferry's\nfigure against mbedTLS's in memory")
    head = "%-31s %-11s %2s" % ("load", "figure", "") + "".join(
        "%9s " % n for n in rep.servers) + "".join(
        "%12s" % ("vs " + n) for n in others) + "%9s" % "ceiling"
    print(head)
    done = set(s["load"] for s in rep.samples if s["phase"] == phase)
    for load, key, what, unit in ROWS:
        if load in done:
            print(phase_line(rep, phase, load, key, what, unit, others))
    print_busy(rep, phase, done)


def phase_line(rep, phase, load, key, what, unit, others):
    cells = []
    for name in rep.servers:
        mark = "c" if rep.client_bound(phase, load, name) else " "
        cells.append("%9s%s" % (num(rep.median(phase, load, name, key)),
                                mark))
    ratios = ["%12s" % num(rep.ratio(phase, load, key, o)) for o in others]
    frac = rep.of_ceiling(phase, load, key)
    return ("%-31s %-11s %2s" % (what, unit, "hi" if key in HIGHER
                                 else "lo")
            + "".join(cells) + "".join(ratios)
            + "%9s" % ("-" if frac is None else "%.0f%%" % (frac * 100)))


def print_busy(rep, phase, done):
    loads = [x for x in LOADS if x in done and x not in ("memory",
                                                         "startup")]
    if loads:
        print("cores busy over each load (medians): server/clients, then "
              "each CPU with anything")
    for load in loads:
        parts = []
        for name in rep.servers:
            b = rep.busy(phase, load, name)
            if b:
                parts.append("%s %.2f/%.2f (%s)" % (
                    name, b[0], b[1], "/".join("%.2f" % c for c in b[2])))
        print("  %-12s %s" % (load, ", ".join(parts)))


def print_notes(samples):
    """Errors the clients met, and idle connections not held."""
    for s in samples:
        where = "%s run %d, %s on %s" % (s["phase"], s["run"], s["load"],
                                         s["server"])
        if s.get("errors") or s.get("side_errors"):
            print("  %s: %d errors%s %s" % (where, s.get("errors", 0),
                                           ", side %d" % s["side_errors"]
                                           if s.get("side_errors") else "",
                                           s.get("first_error", "")))
        for kind in ("tls", "tcp"):
            if s.get(kind + "_failed"):
                print("  %s: %d %s connections failed to open"
                      % (where, s[kind + "_failed"], kind.upper()))


# The target lines mbedTLS may put out of reach, by (load, other server):
# which of Report.bound's bounds applies.
BOUNDS = {("bulk1", None): "bulk1 ceiling",
          ("bulk1", "lighttpd"): "bulk1 lighttpd",
          ("keepalive", "nginx"): "keepalive nginx",
          ("keepalive-hs", "nginx"): "keepalive nginx",
          ("full", "lighttpd"): "full lighttpd"}


def target_lines(rep, sizes):
    """Each line of issue 6's "What ferry must reach": (what, measured,
    True if at least LIMIT is wanted (else at most), LIMIT, format, the
    (phase, load, other server or None) whose client may have been the
    bound, or None), and the bound mbedTLS sets on it (Report.bound, by
    BOUNDS) or None."""
    P, U = "pinned", "unpinned"
    n = sizes.idle_conns
    idle = rep.median(P, "memory", "ferry", "idle_kib")
    back = [rep.median(P, "memory", "ferry", kind + "_left_kib")
            / rep.median(P, "memory", "ferry", kind + "_idle_kib")
            for kind in ("tcp", "tls")
            if rep.median(P, "memory", "ferry", kind + "_idle_kib")]
    lowest = {load: min(rep.values(P, load, "ferry", "resumed_pct"),
                        default=None) for load in ("ticket", "id")}
    lines = [
        ("bulk, 1 conn: >= 90%% of the %s ceiling" % rep.aead_name,
         rep.of_ceiling(P, "bulk1", "mb_s"), True, 0.9, "%.2f",
         (P, "bulk1", None)),
        ("bulk, 1 conn: >= 1.1x lighttpd MB/s",
         rep.ratio(P, "bulk1", "mb_s", "lighttpd"), True, 1.1, "%.2fx",
         (P, "bulk1", "lighttpd")),
        ("bulk, unpinned, 4 conns: >= 1.6x lighttpd MB/s",
         rep.ratio(U, "bulk4", "mb_s", "lighttpd"), True, 1.6, "%.2fx",
         None),
        ("4 KiB keep-alive: >= 1.1x nginx requests/s",
         rep.ratio(P, "keepalive", "req_s", "nginx"), True, 1.1, "%.2fx",
         (P, "keepalive", "nginx")),
        ("4 KiB keep-alive: >= 1.1x lighttpd requests/s",
         rep.ratio(P, "keepalive", "req_s", "lighttpd"), True, 1.1, "%.2fx",
         (P, "keepalive", "lighttpd")),
        ("4 KiB keep-alive: p99 no worse than nginx's (ratio)",
         rep.ratio(P, "keepalive", "p99_ms", "nginx"), True, 1.0, "%.2fx",
         (P, "keepalive", "nginx")),
        ("4 KiB keep-alive: p99 no worse than lighttpd's (ratio)",
         rep.ratio(P, "keepalive", "p99_ms", "lighttpd"), True, 1.0,
         "%.2fx", (P, "keepalive", "lighttpd")),
        ("... while clients handshake: p99 vs nginx's",
         rep.ratio(P, "keepalive-hs", "p99_ms", "nginx"), True, 1.0,
         "%.2fx", (P, "keepalive-hs", "nginx")),
        ("... while clients handshake: p99 vs lighttpd's",
         rep.ratio(P, "keepalive-hs", "p99_ms", "lighttpd"), True, 1.0,
         "%.2fx", (P, "keepalive-hs", "lighttpd")),
        ("full handshakes: >= 90% of the in-memory ceiling",
         rep.of_ceiling(P, "full", "hs_s"), True, 0.9, "%.2f",
         (P, "full", None)),
        ("full handshakes: >= 1.2x lighttpd",
         rep.ratio(P, "full", "hs_s", "lighttpd"), True, 1.2, "%.2fx",
         (P, "full", "lighttpd")),
        ("resumed: 100% of returning clients, tickets (lowest run)",
         lowest["ticket"], True, 100, "%.2f%%", None),
        ("resumed: 100% of returning clients, cache (lowest run)",
         lowest["id"], True, 100, "%.2f%%", None),
        ("resumed by ticket: >= 1.0x nginx conns/s",
         rep.ratio(P, "ticket", "hs_s", "nginx"), True, 1.0, "%.2fx",
         (P, "ticket", "nginx")),
        ("resumed by session ID: >= 1.0x nginx conns/s",
         rep.ratio(P, "id", "hs_s", "nginx"), True, 1.0, "%.2fx",
         (P, "id", "nginx")),
        ("memory: at most 4 MiB idle", idle, False, 4096, "%.0f KiB", None),
        ("memory: at most 40 KiB per idle TLS connection (%d)" % n,
         rep.median(P, "memory", "ferry", "tls_kib_conn"), False, 40,
         "%.2f KiB", None),
        ("memory: at most 1 KiB per silent TCP connection (%d)" % n,
         rep.median(P, "memory", "ferry", "tcp_kib_conn"), False, 1,
         "%.2f KiB", None),
        ("memory: back to idle when they leave (within 10%)",
         max(back, default=None), False, 1.10, "%.2fx idle", None),
        ("start-up: exec to accepting connections under 50 ms",
         rep.median(P, "startup", "ferry", "connect_ms"), False, 50,
         "%.1f ms", None),
    ]
    return [line + (rep.bound(BOUNDS[line[5][1:]])
                    if line[5] and line[5][1:] in BOUNDS else None,)
            for line in lines]


def print_targets(rep, sizes):
    print("\ntargets (issue 6), from the pinned medians but for the "
          "unpinned 4-conn bulk line:")
    for what, value, at_least, limit, fmt, where, bound in target_lines(
            rep, sizes):
        if value is None:
            measured, verdict = "-", "not measured"
        else:
            met = value >= limit if at_least else value <= limit
            measured, verdict = fmt % value, "meets" if met else "MISSES"
            if not met and bound is not None and bound < limit:
                verdict += "; out of mbedTLS's reach: at most " + fmt % bound
                if value >= BOUND_NOISE * bound:
                    verdict += ", ferry is there"
        if where and any(rep.client_bound(where[0], where[1], name)
                         for name in ("ferry", where[2]) if name):
            verdict += " (a client was the bound)"
        print("  %-58s %12s  %s" % (what, measured, verdict))
    print("out of mbedTLS's reach: the most ferry could reach spending "
          "nothing but what no server\non mbedTLS can skip, measured in this "
          "run: bulk, mbedTLS at its ceiling plus\nthe kernel's part of "
          "sending over TCP (ferry's kernel CPU/GB); keep-alive against\n"
          "nginx, encrypting the 4 KiB body at the ceiling against nginx's "
          "whole CPU per\nrequest (its p99 follows its rate: 64 "
          "connections always waiting); full\nhandshakes, the in-memory "
          "ceiling against lighttpd's rate.")


def print_ceiling(c):
    hs = c["handshake"]
    print("\nmbedTLS %s ceilings, one core, in memory, server CPU only "
          "(build/bench-ceiling, %.1f s a figure):"
          % (c["mbedtls"], c["seconds"]))
    for name, a in c["aead"].items():
        print("  %-18s %7.1f MB/s through mbedtls_ssl_write (%.2f CPU s/GB)"
              % (name, a["record_mb_s"], 1e3 / a["record_mb_s"]))
    print("  full handshake %.3f ms (%.0f/s), resumed by ticket %.1f us, "
          "by session ID %.1f us; %s" % (hs["full_ms"], hs["full_per_s"],
                                         hs["resumed_ticket_us"],
                                         hs["resumed_cache_us"],
                                         hs["suite"]))


def versions(args):
    return {"ferry": ferry_version(args.ferry),
            "nginx": package_version("nginx"),
            "libssl3": package_version("libssl3"),
            "lighttpd": package_version("lighttpd"),
            "libmbedtls14": package_version("libmbedtls14"),
            "wrk": package_version("wrk"), "curl": package_version("curl")}


def print_header(args, sizes, vers, chosen, load_before):
    print("ferry, nginx and lighttpd side by side on %s" % machine())
    print("ferry: %s (%s); nginx %s (OpenSSL, libssl3 %s); lighttpd %s "
          "(mod_mbedtls, libmbedtls14 %s); wrk %s; curl %s"
          % (vers["ferry"], args.ferry, vers["nginx"], vers["libssl3"],
             vers["lighttpd"], vers["libmbedtls14"], vers["wrk"],
             vers["curl"]))
    print("negotiated with Python's client: " + "; ".join(
        "%s %s %s" % (n, *v) for n, v in chosen.items()))
    print("runs: %d; files: %d MiB and 4 KiB; wrk %d s, %d connections; "
          "handshakes %d s (full), %d s (resumed), %d client processes; "
          "%d idle connections of each kind; %d starts"
          % (args.runs, sizes.big_mib, sizes.wrk_s, WRK_CONNS, sizes.full_s,
             sizes.resumed_s, HS_PROCS, sizes.idle_conns, sizes.starts))
    print("load average %.2f before, %.2f after" % (load_before,
                                                   os.getloadavg()[0]))


def write_json(path, data):
    pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        json.dump(data, f, indent=1)


class Context:
    def __init__(self, args, sizes, site):
        self.args, self.sizes, self.site = args, sizes, site


def check_tools(servers):
    need = ["curl", "wrk", "openssl"] + [n for n in servers if n != "ferry"]
    missing = [t for t in need if shutil.which(t) is None]
    if missing:
        sys.exit("bench: not found: %s (make bench installs them)"
                 % ", ".join(missing))


def main():
    args = parse_args()
    sizes = Sizes(args.quick)
    check_tools(args.servers)
    raise_nofile(4096 + 2 * sizes.idle_conns)
    load_before = os.getloadavg()[0]
    started = time.monotonic()
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="ferry-bench-"))
    tmp.chmod(0o755)            # the servers run as nobody
    samples, failure, ceiling, chosen = [], None, None, {}
    try:
        ctx = Context(args, sizes, Site(tmp, args.ferry, sizes.big_mib))
        log("mbedTLS ceilings")
        ceiling = run_ceiling(ctx)
        chosen = negotiated(ctx.site, args.servers)
        for phase in args.phases:
            run_phase(ctx, phase, samples)
    except (StartError, LoadError) as e:
        failure = e
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    vers = versions(args)
    write_json(args.json, {"machine": machine(), "versions": vers,
                           "sizes": vars(sizes), "runs": args.runs,
                           "ceiling": ceiling, "negotiated": chosen,
                           "samples": samples,
                           "failure": str(failure) if failure else None})
    if failure is not None:
        sys.exit("bench: %s (samples so far in %s)" % (failure, args.json))
    print_header(args, sizes, vers, chosen, load_before)
    print_ceiling(ceiling)
    rep = Report(samples, ceiling, chosen["ferry"][1], args.servers)
    for phase in args.phases:
        print_phase(rep, phase, args.runs)
    print_notes(samples)
    print_targets(rep, sizes)
    print("\ntook %.1f min; every sample in %s"
          % ((time.monotonic() - started) / 60, args.json))


if __name__ == "__main__":
    main()
