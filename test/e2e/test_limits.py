"""--max-conns enforced gracefully (issue 5): at the limit, idle clients
(connected but silent, or between requests) make room for new ones; when
every slot is busy, new clients wait in the kernel's backlog and are
served once a slot frees, instead of being taken and closed."""

import socket
import threading
import time

import pytest

from ferrylib import fetch, tcp_connect, tls_connect, wait_closed

LIMIT = 20


def timed_fetch(port, path, timeout=30):
    t0 = time.monotonic()
    r = fetch(port, path, timeout=timeout)
    return r, time.monotonic() - t0


@pytest.mark.limit(60)
def test_idle_clients_make_room(ferry):
    f = ferry("--max-conns", str(LIMIT), "--workers", "1")
    (f.dir / "a.txt").write_bytes(b"served")
    idle = [tcp_connect(f.port) for _ in range(LIMIT)]
    time.sleep(0.3)
    for _ in range(5):
        r, dt = timed_fetch(f.port, "/a.txt")
        assert r.status == 200 and r.body == b"served", r
        assert dt < 2, dt
    # the oldest silent clients were closed to make room, one per new
    # client at most; the rest are still connected
    closed = [i for i, s in enumerate(idle)
              if wait_closed(s, 0.3) is not None]
    assert 1 <= len(closed) <= 5, closed
    assert closed[0] == 0, closed       # the oldest went first
    for s in idle:
        s.close()


def busy_client(port):
    """A client in the middle of sending its head: not idle."""
    s = tls_connect(port)
    s.sendall(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n")
    return s


@pytest.mark.limit(60)
def test_busy_clients_make_new_ones_wait(ferry):
    f = ferry("--max-conns", str(LIMIT), "--workers", "1",
              "--header-timeout", "30")
    (f.dir / "a.txt").write_bytes(b"served")
    busy = [busy_client(f.port) for _ in range(LIMIT)]
    time.sleep(0.3)
    # a new client is not refused: it waits in the backlog
    waiting = tls_connect_later(f.port)
    time.sleep(1.0)
    assert waiting["sock"] is None, "handshake done while at the limit"
    assert "none idle: the --max-conns limit" in f.stderr(), f.stderr()
    busy.pop().close()          # one slot frees
    deadline = time.monotonic() + 5
    while waiting["sock"] is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert waiting["sock"] is not None, waiting.get("error")
    s = waiting["sock"]
    s.sendall(b"GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    assert data.startswith(b"HTTP/1.1 200 ") and data.endswith(b"served")
    s.close()
    for b in busy:
        b.close()


def tls_connect_later(port):
    """Start a TLS handshake in a thread; the dict gets "sock" once done."""
    out = {"sock": None}

    def run():
        try:
            out["sock"] = tls_connect(port, timeout=20)
        except (OSError, socket.timeout) as e:
            out["error"] = e

    threading.Thread(target=run, daemon=True).start()
    return out
