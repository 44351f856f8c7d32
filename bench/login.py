#!/usr/bin/python3
"""What a login costs ferry: once per client, or once per request?

Starts three release ./ferry processes on 127.0.0.1, on ports it picks,
in a private temporary folder: one with an --auth file made by
`htpasswd -B -C 12`, one with a file made by `mkpasswd -m yescrypt`, one
with no --auth.  It sends them requests one at a time, alternating
between servers, every one on a new TLS connection with a full handshake
(no session is offered, so none is resumed), and measures the server's
CPU time and the client's wall time of each request:

  first login   the first request of each user, right password: the
                hash is checked (the server's very first login is also
                shown alone, with /proc/PID/stat's utime+stime)
  cached login  N more requests of one user with the same credentials:
                the login cache answers, what is left is the handshake
  wrong pass    N requests with a wrong password: 10 failures are
                checked (the 4th to 10th answered late), then 429
  no --auth     N requests to the server without --auth: the baseline

Server CPU is read from the process's CPU-time clock (ns, all threads).
/proc/PID/stat's utime+stime counts clock ticks (10 ms here), too coarse
for one handshake, so it is shown as the total of each row divided by
its requests, a check on the first.  Prints a table; asserts nothing.
Needs htpasswd (apache2-utils) and mkpasswd (whois).
"""

import argparse
import base64
import os
import pathlib
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

from benchlib import machine

ROOT = pathlib.Path(__file__).resolve().parents[1]
PASSWORD = "correct horse battery staple"
WRONG = "wrong horse"
FILE_NAME = "hello.txt"
FILE_BYTES = 1024
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0
IO_TIMEOUT_S = 30.0
WARMUP = 5              # unauthenticated requests before measuring
TICK_MS = 1000.0 / os.sysconf("SC_CLK_TCK")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("-n", "--requests", type=int, default=200,
                   help="requests per cached, wrong and baseline row (200)")
    p.add_argument("-u", "--users", type=int, default=5,
                   help="users, hence first logins, per user file (5)")
    p.add_argument("--bcrypt-cost", type=int, default=12,
                   help="htpasswd -C (12)")
    p.add_argument("--ferry", default=str(ROOT / "ferry"),
                   help="the binary (default: the release ./ferry)")
    args = p.parse_args()
    if args.requests < 11 or args.users < 1:
        p.error("need --requests >= 11 (to reach the 429s) and --users >= 1")
    if not os.access(args.ferry, os.X_OK):
        p.error("%s: not an executable (make ferry)" % args.ferry)
    return args


# ---- user files, made by the real tools --------------------------------

def run_tool(cmd, stdin=None):
    r = subprocess.run(cmd, input=stdin, capture_output=True, check=False)
    if r.returncode != 0:
        sys.exit("bench: %s failed: %s" % (cmd[0], r.stderr.decode().strip()))
    return r.stdout.decode().strip()


def bcrypt_line(name, cost):
    # -i reads the password from stdin, -n prints the line.
    return run_tool(["htpasswd", "-niB", "-C", str(cost), name],
                    stdin=PASSWORD.encode())


def yescrypt_line(name, _cost):
    return name + ":" + run_tool(["mkpasswd", "-m", "yescrypt", "--stdin"],
                                 stdin=PASSWORD.encode())


def write_users(path, make_line, users, cost):
    lines = [make_line("user%d" % i, cost) for i in range(1, users + 1)]
    path.write_text("\n".join(lines) + "\n")
    return path


# ---- the server ----------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One ferry on 127.0.0.1; stop() signals this pid only."""

    def __init__(self, binary, tmp, tag, extra_args):
        self.xdg = tmp / ("xdg-" + tag)
        self.port = free_port()
        self.err_path = tmp / ("ferry-%s.err" % tag)
        cmd = [binary, "-q", "-b", "127.0.0.1", "-p", str(self.port),
               *extra_args, str(tmp / "share")]
        env = dict(os.environ, XDG_CONFIG_HOME=str(self.xdg))
        with open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL,
                                         stderr=err, env=env)
        self.pid = self.proc.pid
        self.tag = tag
        self.wait_listening()
        self.ctx = client_context(self.xdg / "ferry" / "cert.pem")
        self.last_ns = self.cpu_ns()
        self.last_ticks = self.stat_ticks()

    def wait_listening(self):
        deadline = time.monotonic() + START_TIMEOUT_S
        want = "listening on https://127.0.0.1:%d/" % self.port
        while time.monotonic() < deadline:
            if want in self.err_path.read_text(errors="replace"):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        self.stop()
        sys.exit("bench: ferry did not start:\n"
                 + self.err_path.read_text(errors="replace"))

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait()
        if self.proc.returncode != 0:
            print("bench: ferry (%s) exited %d:\n%s"
                  % (self.tag, self.proc.returncode,
                     self.err_path.read_text(errors="replace")),
                  file=sys.stderr)

    def charge(self):
        """CPU ns and clock ticks used since the last call."""
        ns, ticks = self.cpu_ns(), self.stat_ticks()
        used = (ns - self.last_ns, ticks - self.last_ticks)
        self.last_ns, self.last_ticks = ns, ticks
        return used

    def cpu_ns(self):
        """CPU time of the whole process so far, in ns: every thread,
        those that have ended too.  The clock id is the one Linux's
        clock_getcpuclockid(3) makes for a pid (CPUCLOCK_SCHED); it reads
        the runtime that /proc/PID/task/*/schedstat shows per thread."""
        return time.clock_gettime_ns(((~self.pid) << 3) | 2)

    def stat_ticks(self):
        """utime + stime from /proc/PID/stat, in clock ticks."""
        with open("/proc/%d/stat" % self.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])   # fields 14 and 15


# ---- one request on a new connection ----------------------------------

def client_context(cert):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=str(cert))
    return ctx


def request_bytes(port, user, password):
    head = ["GET /%s HTTP/1.1" % FILE_NAME, "Host: 127.0.0.1:%d" % port,
            "Connection: close"]
    if user is not None:
        token = base64.b64encode(("%s:%s" % (user, password)).encode())
        head.append("Authorization: Basic " + token.decode())
    return ("\r\n".join(head) + "\r\n\r\n").encode()


def fetch(server, user=None, password=None):
    """One GET on a fresh TLS connection, read to EOF.

    Returns (status, wall seconds, whether the session was resumed)."""
    t0 = time.perf_counter()
    raw = socket.create_connection(("127.0.0.1", server.port), IO_TIMEOUT_S)
    with server.ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        tls.sendall(request_bytes(server.port, user, password))
        data = bytearray()
        while True:
            chunk = tls.recv(65536)
            if not chunk:
                break
            data += chunk
        resumed = tls.session_reused
    wall = time.perf_counter() - t0
    status = int(bytes(data[:12]).split()[1]) if data else 0
    return status, wall, resumed


class Row:
    """The figures of one row, one entry per request."""

    def __init__(self, label):
        self.label = label
        self.cpu_ms = []
        self.stat_ms = []
        self.wall_ms = []
        self.statuses = []
        self.resumed = 0


def send(server, row, user=None, password=None):
    """One request on a new connection, added to ROW.

    Its CPU is the server's CPU since the end of that server's previous
    request, so a connection's teardown, which can run after the client
    has its last byte, is charged to the next request rather than lost.
    An idle ferry used under 0.1 ms of CPU a second here (its timers), so
    the requests sent to the other servers in between add nothing that
    shows (0.2 ms at most, while the other one answers 2 s late)."""
    status, wall, resumed = fetch(server, user, password)
    cpu_ns, ticks = server.charge()
    row.cpu_ms.append(cpu_ns / 1e6)
    row.stat_ms.append(ticks * TICK_MS)
    row.wall_ms.append(wall * 1e3)
    row.statuses.append(status)
    row.resumed += resumed


# ---- the runs ------------------------------------------------------------

def start_servers(args, tmp):
    """Three ferrys, each warmed up by a few requests without a login."""
    cost = args.bcrypt_cost
    files = (("bcrypt%d" % cost, bcrypt_line), ("yescrypt", yescrypt_line))
    servers = []
    for tag, make_line in files:
        users = write_users(tmp / (tag + ".users"), make_line,
                            args.users, cost)
        servers.append((tag, ["--auth", str(users)]))
    servers.append(("none", []))
    started = []
    try:
        for tag, extra in servers:
            started.append(Server(args.ferry, tmp, tag, extra))
            warm_up = Row("warm-up")
            for _ in range(WARMUP):
                send(started[-1], warm_up)
    except BaseException:
        stop_servers(started)
        raise
    return started


def stop_servers(servers):
    for server in servers:
        server.stop()


def run_rows(args, servers):
    """The rows of every server, requests interleaved between servers so
    that a change in the machine's load touches every row alike."""
    auth = servers[:-1]
    first = {s.tag: Row("first login") for s in auth}
    cached = {s.tag: Row("cached login") for s in auth}
    cached["none"] = Row("no --auth")
    wrong = {s.tag: Row("wrong password") for s in auth}
    for i in range(1, args.users + 1):
        for s in auth:
            send(s, first[s.tag], "user%d" % i, PASSWORD)
    for _ in range(args.requests):
        for s in servers:
            user = "user1" if s in auth else None
            send(s, cached[s.tag], user, PASSWORD)
    for _ in range(args.requests):
        for s in auth:
            send(s, wrong[s.tag], "user1", WRONG)
    rows = [(s.tag, [first[s.tag], cached[s.tag], wrong[s.tag]])
            for s in auth]
    return rows, cached["none"]


# ---- the report ----------------------------------------------------------

def pct(values, p):
    """Nearest-rank percentile."""
    s = sorted(values)
    k = max(0, min(len(s) - 1, -(-p * len(s) // 100) - 1))
    return s[int(k)]


def statuses(row):
    counts = {}
    for s in row.statuses:
        counts[s] = counts.get(s, 0) + 1
    return " ".join("%dx%d" % (n, s) for s, n in sorted(counts.items()))


HEADER = ("%-9s %-14s %4s %8s %8s %8s %8s %8s %8s  %s"
          % ("server", "row", "n", "cpu p50", "cpu p95", "wall p50",
             "wall p95", "cpu avg", "stat avg", "statuses"))


def print_row(tag, row):
    n = len(row.cpu_ms)
    print("%-9s %-14s %4d %8.2f %8.2f %8.2f %8.2f %8.2f %8.2f  %s"
          % (tag, row.label, n, pct(row.cpu_ms, 50), pct(row.cpu_ms, 95),
             pct(row.wall_ms, 50), pct(row.wall_ms, 95),
             sum(row.cpu_ms) / n, sum(row.stat_ms) / n, statuses(row)))


def ratio(a, b):
    return a / b if b > 0 else float("inf")


def print_ratios(tag, first, cached, base):
    f_cpu, c_cpu = pct(first.cpu_ms, 50), pct(cached.cpu_ms, 50)
    f_wall, c_wall = pct(first.wall_ms, 50), pct(cached.wall_ms, 50)
    print("%-9s first/cached: cpu %5.1fx  wall %5.1fx   "
          "cached/no-auth: cpu %.2fx  wall %.2fx"
          % (tag, ratio(f_cpu, c_cpu), ratio(f_wall, c_wall),
             ratio(c_cpu, pct(base.cpu_ms, 50)),
             ratio(c_wall, pct(base.wall_ms, 50))))


def print_details(tag, first, wrong):
    print("%-9s very first login: cpu %.2f ms (utime+stime %.0f ms), "
          "wall %.2f ms"
          % (tag, first.cpu_ms[0], first.stat_ms[0], first.wall_ms[0]))
    refused = [i + 1 for i, s in enumerate(wrong.statuses) if s == 429]
    print("%-9s wrong password: wall of requests 1-10 (ms): %s; "
          "first 429 at request %s"
          % (tag, " ".join("%.0f" % w for w in wrong.wall_ms[:10]),
             refused[0] if refused else "none"))


def report(rows, base, args):
    print("ferry login cost on %s" % machine())
    print("%d requests per row, one at a time, each on a new TLS connection"
          "; times in ms" % args.requests)
    print("cpu: server CPU, all threads (its CPU-time clock); wall: client,"
          " connect to EOF;\nstat avg: server utime+stime (/proc/PID/stat) "
          "over the row / n; cpu avg: the same from the clock")
    print()
    print(HEADER)
    for tag, server_rows in rows:
        for row in server_rows:
            print_row(tag, row)
    print_row("none", base)
    print()
    for tag, (first, cached, _) in rows:
        print_ratios(tag, first, cached, base)
    for tag, (first, _, wrong) in rows:
        print_details(tag, first, wrong)
    resumed = base.resumed + sum(r.resumed for _, rs in rows for r in rs)
    print("sessions resumed: %d (0: every request did a full handshake)"
          % resumed)


def check_tools():
    for tool, pkg in (("htpasswd", "apache2-utils"), ("mkpasswd", "whois")):
        if shutil.which(tool) is None:
            sys.exit("bench: %s not found (apt-get install %s)" % (tool, pkg))


def main():
    args = parse_args()
    check_tools()
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="ferry-bench-login-"))
    servers = []
    try:
        (tmp / "share").mkdir()
        (tmp / "share" / FILE_NAME).write_bytes(b"x" * FILE_BYTES)
        servers = start_servers(args, tmp)
        rows, base = run_rows(args, servers)
    finally:
        stop_servers(servers)
        shutil.rmtree(tmp, ignore_errors=True)
    report(rows, base, args)


if __name__ == "__main__":
    main()
