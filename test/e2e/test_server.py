"""The server: slow and idle clients, many connections, deadlines, the
access log, signals and the command line."""

import concurrent.futures
import re
import signal
import socket
import ssl
import subprocess
import threading
import time

import pytest

from conftest import make_dir, run_ferry
from ferrylib import (ResponseReader, curl, fetch, still_open, tcp_connect,
                      tls_connect, wait_closed, write_file)

MIB = 1024 * 1024

LOG_RE = re.compile(
    r'^(?P<host>\S+) - (?P<user>\S+) \[(?P<time>\d{2}/[A-Z][a-z]{2}/\d{4}:'
    r'\d{2}:\d{2}:\d{2} [+-]\d{4})\] "(?P<request>[^"]*)" (?P<status>\d{3}) '
    r'(?P<bytes>\d+|-) "(?P<referer>[^"]*)" "(?P<agent>[^"]*)"$')


def sparse(path, size):
    with open(path, "wb") as f:
        f.truncate(size)
        f.seek(size // 2)
        f.write(b"middle")


def download(url, timeout=120, extra=()):
    """curl to /dev/null: (rc, bytes, seconds)."""
    t0 = time.monotonic()
    r = curl(["-o", "/dev/null", "-w", "%{size_download}", *extra, url],
             timeout=timeout)
    took = time.monotonic() - t0
    size = int(r.stdout or b"0")
    return r.returncode, size, took, r.stderr


# --- slow and idle clients ---------------------------------------------------

@pytest.mark.limit(300)
def test_idle_clients_do_not_delay_download(ferry):
    # One worker, so every client shares the same event loop.
    f = ferry("--workers", "1", "--handshake-timeout", "120",
              "--header-timeout", "120", "--send-timeout", "120")
    size = 200 * MIB
    sparse(f.path("big.bin"), size)
    rc, got, base, err = download(f.url + "/big.bin")
    assert rc == 0 and got == size, err
    silent_tcp = tcp_connect(f.port)
    silent_tls = tls_connect(f.port)
    half_head = tls_connect(f.port)
    half_head.sendall(b"GET /big.bin HTTP/1.1\r\nHost: a\r\n")
    stalled = tls_connect(f.port)       # asks for 200 MiB, reads nothing
    stalled.sendall(b"GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\n")
    time.sleep(0.5)
    try:
        rc, got, took, err = download(f.url + "/big.bin")
        print("200 MiB: %.2f s alone, %.2f s beside idle clients"
              % (base, took))
        assert rc == 0 and got == size, err
        assert took < max(5 * base, base + 20), (base, took)
        for name, s in [("tcp", silent_tcp), ("tls", silent_tls),
                        ("half head", half_head)]:
            assert still_open(s), "%s client was closed" % name
    finally:
        for s in (silent_tcp, silent_tls, half_head, stalled):
            s.close()


@pytest.mark.limit(300)
def test_500_parallel_connections(ferry):
    f = ferry()
    write_file(f.path("a.txt"), "parallel")
    n = 500

    def opener(_):
        return tls_connect(f.port, timeout=60)

    with concurrent.futures.ThreadPoolExecutor(32) as pool:
        socks = list(pool.map(opener, range(n)))
        try:
            # All 500 are open at once; now each asks for the file.
            for s in socks:
                s.sendall(b"GET /a.txt HTTP/1.1\r\nHost: a\r\n"
                          b"Connection: close\r\n\r\n")

            def reader(s):
                r = ResponseReader(s, time.monotonic() + 120).read_response()
                return r.status, r.body

            results = list(pool.map(reader, socks))
        finally:
            for s in socks:
                s.close()
    bad = [r for r in results if r != (200, b"parallel")]
    assert not bad, "%d of %d failed: %r" % (len(bad), n, bad[:5])


# --- deadlines ---------------------------------------------------------------

def test_handshake_timeout(ferry):
    f = ferry("--handshake-timeout", "2")
    s = tcp_connect(f.port)
    try:
        took = wait_closed(s, 8)
    finally:
        s.close()
    assert took is not None, "silent TCP client still open after 8 s"
    assert 1.0 <= took <= 5.0, took


def test_handshake_timeout_partial_hello(ferry):
    f = ferry("--handshake-timeout", "2")
    s = tcp_connect(f.port)
    try:
        s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
        took = wait_closed(s, 8)
    finally:
        s.close()
    assert took is not None and took <= 5.0, took


def test_handshake_timeout_spares_others(ferry):
    f = ferry("--handshake-timeout", "2")
    write_file(f.path("a.txt"), "ok")
    s = tcp_connect(f.port)
    try:
        time.sleep(3)
        assert fetch(f.port, "/a.txt").body == b"ok"
    finally:
        s.close()


def test_header_timeout_half_head(ferry):
    f = ferry("--header-timeout", "2")
    s = tls_connect(f.port)
    try:
        t0 = time.monotonic()
        s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n")
        rd = ResponseReader(s, t0 + 8)
        try:
            r = rd.read_response()
        except Exception:
            r = None
        took = time.monotonic() - t0
        if r is not None:
            assert r.status == 408, r
            took2 = wait_closed(s, 3)
            assert took2 is not None, "open after 408"
        else:
            assert rd.eof, "no close within 8 s"
    finally:
        s.close()
    assert took <= 5.0, took


def test_header_timeout_trickle(ferry):
    """A head that keeps trickling in is cut at the deadline all the same."""
    f = ferry("--header-timeout", "2")
    s = tls_connect(f.port)
    stop = threading.Event()

    def trickle():
        try:
            s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n")
            while not stop.is_set():
                s.sendall(b"X-Slow: a\r\n")
                time.sleep(0.3)
        except (OSError, ssl.SSLError):
            pass

    t0 = time.monotonic()
    t = threading.Thread(target=trickle, daemon=True)
    t.start()
    try:
        took = wait_closed(s, 10)
    finally:
        stop.set()
        t.join(5)
        s.close()
    assert took is not None, "trickling client never cut"
    assert time.monotonic() - t0 <= 6.0


def test_idle_timeout(ferry):
    f = ferry("--idle-timeout", "2")
    write_file(f.path("a.txt"), "x")
    s = tls_connect(f.port)
    try:
        s.sendall(b"GET /a.txt HTTP/1.1\r\nHost: a\r\n\r\n")
        rd = ResponseReader(s, time.monotonic() + 10)
        assert rd.read_response().status == 200
        assert not rd.at_eof(1.0), "closed long before the idle timeout"
        took = wait_closed(s, 8)
    finally:
        s.close()
    assert took is not None, "idle keep-alive still open"
    assert took <= 4.0, took


def test_idle_timeout_keeps_busy_connection(ferry):
    f = ferry("--idle-timeout", "2")
    write_file(f.path("a.txt"), "x")
    s = tls_connect(f.port)
    try:
        rd = ResponseReader(s, time.monotonic() + 20)
        for _ in range(5):           # 5 requests over ~5 s, 1 s apart
            s.sendall(b"GET /a.txt HTTP/1.1\r\nHost: a\r\n\r\n")
            assert rd.read_response().status == 200
            time.sleep(1.0)
    finally:
        s.close()


@pytest.mark.limit(120)
def test_send_timeout(ferry):
    f = ferry("--send-timeout", "2")
    sparse(f.path("big.bin"), 200 * MIB)
    s = tls_connect(f.port)
    try:
        s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\n")
        time.sleep(6)
        total = 0
        deadline = time.monotonic() + 30
        closed = False
        while time.monotonic() < deadline:
            s.settimeout(5)
            try:
                data = s.recv(1 << 20)
            except (socket.timeout, TimeoutError):
                break
            except (OSError, ssl.SSLError):
                closed = True
                break
            if not data:
                closed = True
                break
            total += len(data)
    finally:
        s.close()
    assert closed, "stalled reader not dropped (read %d bytes)" % total
    assert total < 200 * MIB


# --- access log --------------------------------------------------------------

def test_access_log_format(ferry):
    f = ferry()
    write_file(f.path("a.txt"), "hello")
    r = curl(["-A", "test-agent/1.0", "-e", "https://ref.example/x",
              "-o", "/dev/null", f.url + "/a.txt"])
    assert r.returncode == 0
    lines = f.access_lines(count=1)
    assert len(lines) == 1, lines
    m = LOG_RE.match(lines[0])
    assert m, lines[0]
    assert m["host"] == "127.0.0.1"
    assert m["request"] == "GET /a.txt HTTP/1.1"
    assert m["status"] == "200" and m["bytes"] == "5"
    assert m["referer"] == "https://ref.example/x"
    assert m["agent"] == "test-agent/1.0"
    t = time.strptime(m["time"], "%d/%b/%Y:%H:%M:%S %z")
    assert abs(time.mktime(t) - time.mktime(time.localtime())) < 86400 * 2


def test_access_log_statuses(ferry):
    f = ferry()
    write_file(f.path("a.txt"), "0123456789")
    fetch(f.port, "/missing")
    fetch(f.port, "/a.txt", headers={"Range": "bytes=0-3"})
    fetch(f.port, "/a.txt", "HEAD")
    lines = f.access_lines(count=3)
    assert len(lines) == 3, lines
    ms = [LOG_RE.match(l) for l in lines]
    assert all(ms), lines
    got = {(m["request"], m["status"], m["bytes"]) for m in ms}
    assert ("GET /missing HTTP/1.1", "404") in {g[:2] for g in got}
    assert ("GET /a.txt HTTP/1.1", "206", "4") in got
    head = [m for m in ms if m["request"].startswith("HEAD")][0]
    assert head["status"] == "200" and head["bytes"] in ("0", "-")
    for m in ms:
        assert m["referer"] == "-" and m["agent"] == "-"


def test_access_log_escapes_client_bytes(ferry):
    f = ferry()
    write_file(f.path("a.txt"), "x")
    fetch(f.port, "/a.txt", headers={
        "User-Agent": 'evil" 200 0 "x\\y \xc3\xa9',
        "Referer": '"quoted"'})
    lines = f.access_lines(count=1)
    assert len(lines) == 1, lines
    m = LOG_RE.match(lines[0])
    assert m, "log line not parseable: %r" % lines[0]
    assert m["status"] == "200"
    assert '"' not in m["agent"], m["agent"]


def test_access_log_bad_request_line_escaped(ferry):
    f = ferry()
    from ferrylib import exchange
    exchange(f.port, b"GET /\x1b[31mred HTTP/1.1\r\nHost: a\r\n\r\n",
             close_wait=0)
    time.sleep(0.3)
    assert "\x1b" not in f.stdout()
    assert "\x1b" not in f.stderr()


def test_quiet_no_access_log(ferry):
    f = ferry("-q")
    write_file(f.path("a.txt"), "x")
    for _ in range(3):
        assert fetch(f.port, "/a.txt").status == 200
    time.sleep(0.5)
    assert f.stdout() == ""


def test_verbose_logs_timeouts(ferry):
    f = ferry("-v", "--handshake-timeout", "1")
    s = tcp_connect(f.port)
    try:
        assert wait_closed(s, 6) is not None
    finally:
        s.close()
    time.sleep(0.3)
    assert re.search(r"time(d)?[ -]?out|deadline", f.stderr(), re.I), \
        f.stderr()


# --- signals -----------------------------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_idle_exit_0(ferry, sig):
    f = ferry()
    t0 = time.monotonic()
    assert f.stop(sig) == 0, f.stderr()
    assert time.monotonic() - t0 < 5


def test_sigterm_with_idle_keepalive(ferry):
    f = ferry()
    write_file(f.path("a.txt"), "x")
    s = tls_connect(f.port)
    try:
        s.sendall(b"GET /a.txt HTTP/1.1\r\nHost: a\r\n\r\n")
        ResponseReader(s, time.monotonic() + 10).read_response()
        silent = tcp_connect(f.port)
        t0 = time.monotonic()
        rc = f.stop()
        took = time.monotonic() - t0
        silent.close()
    finally:
        s.close()
    assert rc == 0, f.stderr()
    assert took < 8, "idle connections held the stop for %.1f s" % took


@pytest.mark.limit(120)
def test_sigterm_during_download(ferry, tmp):
    f = ferry()
    sparse(f.path("big.bin"), 1024 * MIB)
    out = tmp / "partial.bin"
    p = subprocess.Popen(["curl", "-sS", "-k", "--max-time", "60",
                          "--limit-rate", "20M", "-o", str(out),
                          f.url + "/big.bin"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(1.5)
        assert out.exists() and out.stat().st_size > 0
        t0 = time.monotonic()
        f.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        # No new connections once stopping.
        refused = False
        try:
            tls_connect(f.port, timeout=3).close()
        except (OSError, ssl.SSLError):
            refused = True
        rc = f.wait(20)
        took = time.monotonic() - t0
    finally:
        try:
            p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
    assert rc == 0, (rc, f.stderr())
    assert took < 15, took
    assert refused, "a new connection was accepted after SIGTERM"
    print("stopped %.1f s after SIGTERM; curl got %d bytes, rc %d"
          % (took, out.stat().st_size, p.returncode))


@pytest.mark.limit(120)
def test_sigterm_lets_short_download_finish(ferry, tmp):
    f = ferry()
    size = 40 * MIB
    sparse(f.path("mid.bin"), size)
    out = tmp / "mid.bin"
    p = subprocess.Popen(["curl", "-sS", "-k", "--max-time", "60",
                          "--limit-rate", "20M", "-o", str(out),
                          f.url + "/mid.bin"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(0.7)
        f.send_signal(signal.SIGTERM)
        rc = f.wait(20)
        _, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert rc == 0, f.stderr()
    assert p.returncode == 0, err
    assert out.stat().st_size == size


# --- command line ------------------------------------------------------------

@pytest.mark.parametrize("args,after", [
    (["--bogus"], []), (["-p", "notaport"], []), (["-p", "70000"], []),
    (["-p", "-1"], []), (["--workers", "x"], []),
    (["--idle-timeout", "soon"], []), ([], ["-b"]), ([], ["--cert"]),
])
def test_usage_errors_exit_2(tmp, args, after):
    share = make_dir(tmp, "share")
    rc, out, err = run_ferry(["-b", "127.0.0.1", "-p", "0", *args,
                              str(share), *after], make_dir(tmp, "xdg"))
    assert rc == 2, (rc, err)
    assert err.strip(), "no message on stderr"


def test_two_dirs_is_usage_error(tmp):
    a, b = make_dir(tmp, "a"), make_dir(tmp, "b")
    rc, out, err = run_ferry(["-b", "127.0.0.1", "-p", "0", str(a), str(b)],
                             make_dir(tmp, "xdg"))
    assert rc == 2, (rc, err)


def test_missing_dir_exits_1(tmp):
    missing = str(tmp / "no-such-dir")
    rc, out, err = run_ferry(["-b", "127.0.0.1", "-p", "0", missing],
                             make_dir(tmp, "xdg"))
    assert rc == 1, (rc, err)
    assert missing in err, err


def test_help_and_version(tmp):
    xdg = make_dir(tmp, "xdg")
    rc, out, err = run_ferry(["--help"], xdg)
    assert rc == 0
    assert "--port" in out + err and "--cert" in out + err
    rc, out, err = run_ferry(["-h"], xdg)
    assert rc == 0
    rc, out, err = run_ferry(["--version"], xdg)
    assert rc == 0
    assert re.search(r"ferry \S*\d", out + err), out + err


def test_ipv6(ferry):
    f = ferry(bind="::1")
    assert f.listen[0][0] == "[::1]"
    write_file(f.path("a.txt"), "six")
    r = curl(["-g", "-o", "-", "https://[::1]:%d/a.txt" % f.port],
             cacert=f.cert)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"six"
    lines = f.access_lines(count=1)
    assert lines and lines[0].startswith("::1 - "), lines


def test_workers_option(ferry):
    f = ferry("--workers", "1")
    write_file(f.path("a.txt"), "w")
    assert fetch(f.port, "/a.txt").body == b"w"
