#!/usr/bin/python3
"""Hostile clients side by side: ferry, nginx and lighttpd, same attacks.

Serves one private temporary folder (a small file and a 1 MiB file) from
three servers on 127.0.0.1, on ports it picks, with one ECDSA P-256
certificate made by openssl, TLS 1.2 only, ChaCha20-Poly1305 first:

  ferry     the release ./ferry, default settings, -q -w
  nginx     Debian's (on OpenSSL), a config written here: Debian's own
            defaults, master process and one worker per CPU, PUT by
            ngx_http_dav_module
  lighttpd  Debian's, mod_mbedtls, compiled-in defaults, PUT by
            mod_webdav (without it a PUT is refused before its body)

Each measurement starts a fresh server and stops it after; the order of
the servers turns by one for each attack and each run.  For every
attack of test/e2e's SLOW_MODES (slowloris, slow body, slow read,
range), per server: a Prober (test/e2e/ferrylib.py: a new connection
per request, and one kept alive) runs unloaded for a few seconds, then
again while slowhttptest attacks with 500 connections for 30 s.
Recorded: requests made and failed, p50/p95/max latency per probe mode,
the most connections slowhttptest held, how many the server closed and
how long the attack lasted (slowhttptest stops early once the server
has closed every connection), the server's RSS (all its processes,
/proc/PID/status) and CPU seconds (utime + stime, /proc/PID/stat)
during the attack.  ferry runs from a copy taken at the start.

Then an idle flood per server: 1,000 TCP connections that never send a
byte, then 1,000 TLS connections that finish their handshake and go
silent; RSS per connection of each kind, a Prober run meanwhile, and how
many of the connections the server closed within a short window.

Prints two tables; asserts nothing.  Exits 1 only if a server would not
start or serve.  Needs nginx, lighttpd, lighttpd-mod-mbedtls,
lighttpd-mod-webdav, slowhttptest and openssl (make bench-hostile
installs them).  Stops only what it started, by pid.
"""

import argparse
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from benchlib import (ROOT, SERVERS, STARTERS, TICK_S, StartError,  # noqa
                      ferry_version, free_port, give_to_nobody, machine,
                      make_certificate, package_version, start_ferry)
from ferrylib import (SLOW_CONNS, SLOW_MODES, Prober, closed_now,  # noqa
                      get, open_tls_many, p95, probe_for, put,
                      raise_nofile, share_files, slowhttptest_cmd,
                      slowhttptest_peak, tcp_connect, tls)

WARMUP_S = 0.5          # a Prober run whose figures are dropped
BASE_S = 3.0            # the Prober unloaded, before each attack
SAMPLE_S = 0.25         # how often RSS is read during an attack
SETTLE_S = 1.0          # after a flood, before its RSS is read
FLOOD_TIMEOUT_S = 5.0   # one connect or handshake of the idle flood
FLOOD_LIMIT_S = 60.0    # no handshake of the flood begun after this
FLOOD_THREADS = 16
IDLE_WINDOW_S = 10.0    # after the flood: closed by then, or not


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=int, default=30,
                   help="length of each slowhttptest attack (30)")
    p.add_argument("--conns", type=int, default=SLOW_CONNS,
                   help="slowhttptest connections (%d)" % SLOW_CONNS)
    p.add_argument("--runs", type=int, default=1,
                   help="times each attack is run on each server (1)")
    p.add_argument("--idle", type=int, default=1000,
                   help="idle TCP and as many idle TLS connections "
                        "(1000; 0: no idle flood)")
    p.add_argument("--modes", default=",".join(SLOW_MODES),
                   help="attacks, comma-separated (all; '': none)")
    p.add_argument("--servers", default=",".join(SERVERS),
                   help="servers, comma-separated (all)")
    p.add_argument("--ferry", default=str(ROOT / "ferry"),
                   help="the binary (default: the release ./ferry)")
    args = p.parse_args()
    args.modes = [m for m in args.modes.split(",") if m]
    args.servers = [s for s in args.servers.split(",") if s]
    if not set(args.modes) <= set(SLOW_MODES):
        p.error("--modes: from %s" % ", ".join(SLOW_MODES))
    if not args.modes and not args.idle:
        p.error("nothing to do: no --modes and --idle 0")
    if not set(args.servers) <= set(SERVERS) or "ferry" not in args.servers:
        p.error("--servers: ferry and any of nginx, lighttpd")
    if args.seconds < 2 or args.conns < 1 or args.runs < 1 or args.idle < 0:
        p.error("need --seconds >= 2, --conns >= 1, --runs >= 1")
    if not os.access(args.ferry, os.X_OK):
        p.error("%s: not an executable (make ferry)" % args.ferry)
    return args


# ---- the servers ---------------------------------------------------------

class Context:
    """The temporary folder: the shared files, the certificate, a
    folder per server; and the server running now, to stop."""

    def __init__(self, args, tmp):
        self.args = args
        self.tmp = tmp
        self.share = tmp / "share"
        self.share.mkdir()
        self.files = share_files(self.share)
        self.check_path = "/small.txt"     # a server is up once it serves
        give_to_nobody(self.share)
        self.cert, self.key = make_certificate(tmp)
        # A copy, so that a rebuild during the run changes nothing.
        self.ferry = tmp / "ferry.bin"
        shutil.copy2(args.ferry, self.ferry)
        self.running = None

    def dir(self, name):
        d = self.tmp / name
        d.mkdir(exist_ok=True)
        return d

    def start(self, name):
        if name == "ferry":     # -w: the slow-body attack PUTs
            self.running = start_ferry(self, free_port(), ["-w"])
        else:
            self.running = STARTERS[name](self, free_port())
        return self.running

    def stop(self):
        if self.running is not None:
            self.running.stop()
            self.running = None


def check_put(ctx, server):
    """What the server answers to a small PUT; the file is removed."""
    name = "put-check-%s.txt" % server.name
    r = put(server.port, "/" + name, b"a small upload\n", timeout=5)
    try:
        os.unlink(ctx.share / name)
    except FileNotFoundError:
        pass
    return "%d %s" % (r.status, r.reason) if r else "no answer"


def preflight(ctx, names):
    """Each server once: it starts, serves both files, answers a PUT."""
    puts = {}
    for name in names:
        server = ctx.start(name)
        try:
            for path, want in ctx.files.items():
                with tls(server.port) as sock:
                    if get(sock, path, server.port, False) != want:
                        raise StartError("%s: %s served wrong" % (name,
                                                                   path))
            puts[name] = check_put(ctx, server)
        finally:
            ctx.stop()
    return puts


# ---- one attack on one server ------------------------------------------

class RssWatch:
    """The highest RSS of SERVER's processes, read every SAMPLE_S."""

    def __init__(self, server):
        self.server = server
        self.peak_kib = server.rss_kib()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping.wait(SAMPLE_S):
            self.peak_kib = max(self.peak_kib, self.server.rss_kib())

    def stop(self):
        self.stopping.set()
        self.thread.join(5)
        self.peak_kib = max(self.peak_kib, self.server.rss_kib())


class AttackRow:
    """The figures of one attack on one server."""

    def __init__(self, mode, name, run):
        self.mode, self.name, self.run = mode, name, run
        self.base = self.hit = None
        self.held = self.shut = 0
        self.took_s = 0.0       # slowhttptest ends early if all are shut
        self.rss0_kib = self.rss_kib = 0
        self.base_cpu_s = self.cpu_s = 0.0
        self.rc = None


def attack(ctx, name, mode, run):
    server = ctx.start(name)
    row = AttackRow(mode, name, run)
    try:
        probe_for(server.port, ctx.files, WARMUP_S)
        ticks = server.cpu_ticks()
        row.base = probe_for(server.port, ctx.files, BASE_S)
        row.base_cpu_s = (server.cpu_ticks() - ticks) * TICK_S
        row.rss0_kib = server.rss_kib()
        run_slowhttptest(ctx, server, row)
    finally:
        ctx.stop()
    return row


def run_slowhttptest(ctx, server, row):
    """slowhttptest in ROW's mode while a Prober downloads; the server's
    RSS peak and CPU over the attack."""
    out = ctx.dir("slow")
    prefix = out / ("%s-%s-%d" % (row.mode, row.name, row.run))
    cmd = slowhttptest_cmd(row.mode, server.port, prefix, ctx.args.seconds,
                           ctx.args.conns)
    watch = RssWatch(server)
    ticks = server.cpu_ticks()
    row.hit = Prober(server.port, ctx.files).start()
    t0 = time.monotonic()
    try:
        with open(str(prefix) + ".log", "wb") as log:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT,
                                    cwd=out)
            row.rc = wait_or_kill(proc, ctx.args.seconds + 60)
        row.took_s = time.monotonic() - t0
    finally:
        row.hit.stop()
        watch.stop()
    row.cpu_s = (server.cpu_ticks() - ticks) * TICK_S
    row.rss_kib = watch.peak_kib
    csv_path = str(prefix) + ".csv"
    if os.path.exists(csv_path):
        row.held = slowhttptest_peak(csv_path)
        row.shut = slowhttptest_peak(csv_path, "Closed")


def wait_or_kill(proc, timeout):
    """PROC's exit status; ended (it is ours) if it outlasts TIMEOUT."""
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return "killed"


# ---- the idle flood ------------------------------------------------------

class IdleRow:
    """The figures of the idle flood on one server."""

    def __init__(self, name):
        self.name = name
        self.tcp = []
        self.tls = []
        self.rss0_kib = self.rss_tcp_kib = self.rss_tls_kib = 0
        self.cpu_s = 0.0
        self.probe = None
        self.closed_tcp = self.closed_tls = 0
        self.age_s = 0.0        # of the oldest connection, when checked


def open_tcp_many(port, count, deadline):
    """COUNT connections that send nothing; the sockets, or the errors."""
    out = []
    for _ in range(count):
        if time.monotonic() > deadline:
            out.append(TimeoutError("not tried: past the deadline"))
            continue
        try:
            out.append(tcp_connect(port, timeout=FLOOD_TIMEOUT_S))
        except OSError as e:
            out.append(e)
    return out


def idle_flood(ctx, name):
    server = ctx.start(name)
    row = IdleRow(name)
    try:
        probe_for(server.port, ctx.files, WARMUP_S)
        time.sleep(SETTLE_S)
        flood(ctx, server, row)
    finally:
        for s in row.tcp + row.tls:
            if not isinstance(s, Exception):
                s.close()
        ctx.stop()
    return row


def flood(ctx, server, row):
    n = ctx.args.idle
    row.rss0_kib = server.rss_kib()
    ticks = server.cpu_ticks()
    first = time.monotonic()
    row.tcp = open_tcp_many(server.port, n, time.monotonic() + FLOOD_LIMIT_S)
    time.sleep(SETTLE_S)
    row.rss_tcp_kib = server.rss_kib()
    row.tls = open_tls_many(server.port, n, FLOOD_THREADS, FLOOD_TIMEOUT_S,
                            time.monotonic() + FLOOD_LIMIT_S)
    time.sleep(SETTLE_S)
    row.rss_tls_kib = server.rss_kib()
    flooded = time.monotonic()
    row.probe = probe_for(server.port, ctx.files, BASE_S)
    time.sleep(max(0.0, flooded + IDLE_WINDOW_S - time.monotonic()))
    row.closed_tcp = sum(closed_now(s) for s in sockets(row.tcp))
    row.closed_tls = sum(closed_now(s) for s in sockets(row.tls))
    row.age_s = time.monotonic() - first
    row.cpu_s = (server.cpu_ticks() - ticks) * TICK_S


def sockets(results):
    return [s for s in results if not isinstance(s, Exception)]


# ---- the runs ------------------------------------------------------------

def turned(names, k):
    """NAMES in order, turned by K: each server goes first in turn."""
    k %= len(names)
    return names[k:] + names[:k]


def run_all(ctx):
    args = ctx.args
    rows = []
    k = 0
    for run in range(1, args.runs + 1):
        for mode in args.modes:
            for name in turned(args.servers, k):
                print("bench: %s on %s (run %d)" % (mode, name, run),
                      file=sys.stderr, flush=True)
                rows.append(attack(ctx, name, mode, run))
            k += 1
    idle = []
    if args.idle:
        for name in turned(args.servers, k):
            print("bench: idle flood on %s" % name, file=sys.stderr,
                  flush=True)
            idle.append(idle_flood(ctx, name))
    return rows, idle


# ---- the report ----------------------------------------------------------

def ms(seconds):
    return seconds * 1e3


def pct(values, p):
    """Nearest-rank percentile, NaN for no values."""
    if not values:
        return float("nan")
    s = sorted(values)
    return s[max(0, -(-p * len(s) // 100) - 1)]


def mode_samples(prober, mode):
    """Every latency of one probe mode ("new" or "keep"), both files."""
    return [t for (m, _), ts in prober.samples.items() if m == mode
            for t in ts]


def all_samples(prober):
    return [t for ts in prober.samples.values() for t in ts]


def ratio(ferry_value, other_value):
    """ferry / other, as text: below 1, ferry did better."""
    if ferry_value == other_value == 0:
        return "="
    if other_value == 0:
        return "inf"
    return "%.2f" % (ferry_value / other_value)


def group_titles(lead, groups):
    """A header line: LEAD blank columns, then each (title, width)
    centred over its group of columns."""
    return " " * lead + "".join("| %s " % t.center(w) for t, w in groups)


ATTACK_HEAD = (
    group_titles(34, (("new connection ms", 21), ("keep-alive ms", 21),
                      ("p95 ms", 13), ("attacker", 15),
                      ("server RSS MiB, CPU", 19), ("ferry vs X", 11))),
    "%-9s %-8s %3s %5s %4s | %6s %6s %7s | %6s %6s %7s | %6s %6s | %4s %5s "
    "%4s | %6s %6s %5s | %5s %5s"
    % ("attack", "server", "run", "reqs", "fail", "p50", "p95", "max",
       "p50", "p95", "max", "base", "load", "held", "shut", "s", "idle",
       "peak", "s", "fail", "p95"))


def attack_line(row, ferry_row):
    hit = row.hit
    new, keep = mode_samples(hit, "new"), mode_samples(hit, "keep")
    load95 = p95(all_samples(hit))
    vs_fail = vs_p95 = ""
    if row.name != "ferry" and ferry_row is not None:
        vs_fail = ratio(len(ferry_row.hit.errors), len(hit.errors))
        vs_p95 = ratio(p95(all_samples(ferry_row.hit)), load95)
    return ("%-9s %-8s %3d %5d %4d | %6.1f %6.1f %7.1f | %6.1f %6.1f %7.1f "
            "| %6.1f %6.1f | %4d %5d %4.0f | %6.1f %6.1f %5.1f | %5s %5s"
            % (row.mode, row.name, row.run, len(all_samples(hit)),
               len(hit.errors), ms(pct(new, 50)), ms(p95(new)),
               ms(max(new, default=0)), ms(pct(keep, 50)), ms(p95(keep)),
               ms(max(keep, default=0)), ms(p95(all_samples(row.base))),
               ms(load95), row.held, row.shut, row.took_s,
               row.rss0_kib / 1024,
               row.rss_kib / 1024, row.cpu_s, vs_fail,
               vs_p95))


def print_attacks(rows):
    """Rows by attack, run, then server (ferry, nginx, lighttpd), whatever
    order they ran in."""
    rows = sorted(rows, key=lambda r: (list(SLOW_MODES).index(r.mode),
                                       r.run, SERVERS.index(r.name)))
    print("\n".join(ATTACK_HEAD))
    ferry = {(r.mode, r.run): r for r in rows if r.name == "ferry"}
    for row in rows:
        print(attack_line(row, ferry.get((row.mode, row.run))))
    print_unloaded_cost(rows)
    for row in rows:
        if row.hit.errors or row.base.errors:
            first = (row.hit.errors or row.base.errors)[0]
            print("  %s on %s: %d failures under attack, %d unloaded; "
                  "first: %s %s %s" % (row.mode, row.name,
                                       len(row.hit.errors),
                                       len(row.base.errors), *first))
        if row.rc not in (0, None):
            print("  %s on %s: slowhttptest ended with %s"
                  % (row.mode, row.name, row.rc))


def print_unloaded_cost(rows):
    """Per server, the CPU each request of the unloaded Prober cost it,
    over every attack's unloaded phase: the price of a request alone."""
    costs = []
    for name in SERVERS:
        mine = [r for r in rows if r.name == name]
        if mine:
            n = sum(len(all_samples(r.base)) for r in mine)
            cpu = sum(r.base_cpu_s for r in mine)
            costs.append("%s %.2f ms (%d requests)" % (name, cpu * 1e3 / n,
                                                       n))
    print("unloaded, server CPU per request: " + "; ".join(costs))


IDLE_HEAD = (
    group_titles(9, (("connected", 11), ("KiB per conn", 13),
                     ("server RSS MiB", 17), ("CPU", 5),
                     ("probe while held", 23), ("closed", 17))),
    "%-8s | %5s %5s | %6s %6s | %5s %5s %5s | %5s | %4s %4s %6s %6s | %5s %5s"
    " %5s"
    % ("server", "tcp", "tls", "tcp", "tls", "idle", "+tcp", "+tls",
       "s", "reqs", "fail", "p95 ms", "max ms", "tcp", "tls", "age s"))


def per_conn_kib(before_kib, after_kib, count):
    return (after_kib - before_kib) / count if count else float("nan")


def idle_line(row):
    tcp, tls_ok = len(sockets(row.tcp)), len(sockets(row.tls))
    times = all_samples(row.probe)
    return ("%-8s | %5d %5d | %6.2f %6.2f | %5.1f %5.1f %5.1f | %5.1f | "
            "%4d %4d %6.1f %6.1f | %5d %5d %5.0f"
            % (row.name, tcp, tls_ok,
               per_conn_kib(row.rss0_kib, row.rss_tcp_kib, tcp),
               per_conn_kib(row.rss_tcp_kib, row.rss_tls_kib, tls_ok),
               row.rss0_kib / 1024, row.rss_tcp_kib / 1024,
               row.rss_tls_kib / 1024, row.cpu_s, len(times),
               len(row.probe.errors), ms(p95(times)),
               ms(max(times, default=0)), row.closed_tcp, row.closed_tls,
               row.age_s))


def print_idle(rows, n):
    print("\nidle flood: %d TCP connections that send nothing, then %d "
          "TLS connections silent\nafter their handshake; closed: by the "
          "server, %.0f s after the flood, when the\noldest connection was "
          "\"age\" seconds old" % (n, n, IDLE_WINDOW_S))
    print("\n".join(IDLE_HEAD))
    rows = sorted(rows, key=lambda r: SERVERS.index(r.name))
    for row in rows:
        print(idle_line(row))
    for row in rows:
        errors = [e for e in row.tcp + row.tls if isinstance(e, Exception)]
        if errors:
            print("  %s: %d connections failed; first: %r"
                  % (row.name, len(errors), errors[0]))
        if row.probe.errors:
            print("  %s: probe failures: %d; first: %s %s %s"
                  % (row.name, len(row.probe.errors), *row.probe.errors[0]))


def print_header(args, ferry, puts, load_before):
    print("hostile clients side by side on %s" % machine())
    print("ferry: %s (%s); nginx %s (OpenSSL, libssl3 %s); lighttpd %s "
          "(mod_mbedtls, libmbedtls14 %s); slowhttptest %s"
          % (ferry, args.ferry, package_version("nginx"),
             package_version("libssl3"), package_version("lighttpd"),
             package_version("libmbedtls14"),
             package_version("slowhttptest")))
    print("TLS 1.2, ECDSA P-256; a small PUT answered: %s"
          % "; ".join("%s %s" % kv for kv in puts.items()))
    print("slowhttptest: %d connections, %d s per attack, %d run(s); the "
          "prober %.0f s unloaded first\nload average %.2f before, %.2f "
          "after" % (args.conns, args.seconds, args.runs, BASE_S,
                     load_before, os.getloadavg()[0]))
    print()


def main():
    args = parse_args()
    for tool in ("nginx", "lighttpd", "slowhttptest", "openssl"):
        if shutil.which(tool) is None:
            sys.exit("bench: %s not found (make bench-hostile installs "
                     "it)" % tool)
    need = 2 * args.idle + 1024
    if os.sysconf("SC_OPEN_MAX") < need:
        raise_nofile(need)
    load_before = os.getloadavg()[0]
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="ferry-bench-hostile-"))
    tmp.chmod(0o755)            # the servers run as nobody
    ctx = None
    try:
        ctx = Context(args, tmp)
        ferry = ferry_version(str(ctx.ferry))
        puts = preflight(ctx, args.servers)
        rows, idle = run_all(ctx)
    except StartError as e:
        sys.exit("bench: %s" % e)
    finally:
        if ctx is not None:
            ctx.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print_header(args, ferry, puts, load_before)
    if rows:
        print_attacks(rows)
    if idle:
        print_idle(idle, args.idle)


if __name__ == "__main__":
    main()
