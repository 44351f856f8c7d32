"""HTTP/1.1 strictness and connection handling, with byte-exact requests."""

import re
import time

import pytest

from ferrylib import (ResponseReader, build_request, exchange, fetch,
                      tls_connect, write_file)

DATE_RE = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} "
                     r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                     r"\d{4} \d{2}:\d{2}:\d{2} GMT$")


def one(srv, data, close_wait=0.3):
    rs, closed = exchange(srv.port, data, 1, close_wait=close_wait)
    assert rs, "no response to %r" % data[:200]
    return rs[0], closed


def host(srv):
    return b"Host: localhost:%d\r\n" % srv.port


# --- 400 and close -----------------------------------------------------------

BAD_REQUESTS = [
    (b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", "double space"),
    (b"GET / HTTP/1.1 x\r\nHost: a\r\n\r\n", "junk after version"),
    (b"GET /\r\nHost: a\r\n\r\n", "no version"),
    (b" GET / HTTP/1.1\r\nHost: a\r\n\r\n", "leading space"),
    (b"GET / http/1.1\r\nHost: a\r\n\r\n", "lowercase version"),
    (b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n", "obs-fold"),
    (b"GET / HTTP/1.1\r\nHost: a\r\n\tX-A: b\r\n\r\n", "fold at start"),
    (b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", "space before colon"),
    (b"GET / HTTP/1.1\r\nHost: a\r\nX-A : b\r\n\r\n", "space before colon 2"),
    (b"GET / HTTP/1.1\r\nHost: a\r\nBad Name: b\r\n\r\n", "space in name"),
    (b"GET / HTTP/1.1\r\nHost: a\r\nX(A): b\r\n\r\n", "separator in name"),
    (b"GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", "no colon"),
    (b"GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n", "empty name"),
    (b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x00c\r\n\r\n", "NUL in value"),
    (b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\rc\r\n\r\n", "bare CR in value"),
    (b"GET / HTTP/1.1\nHost: a\n\n", "bare LF"),
    (b"GET / HTTP/1.1\r\nHost: a\nX-A: b\r\n\r\n", "bare LF in field"),
    (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "CL + TE"),
    (b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
     b"Content-Length: 5\r\n\r\n0\r\n\r\n", "TE + CL"),
    (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
     b"Content-Length: 6\r\n\r\nhello", "two Content-Lengths"),
    (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\nhello",
     "Content-Length list"),
    (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
     "negative Content-Length"),
    (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n",
     "bad Content-Length"),
    (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: "
     b"99999999999999999999999\r\n\r\n", "huge Content-Length"),
    (b"GET / HTTP/1.1\r\n\r\n", "no Host in 1.1"),
    (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "two Hosts"),
    (b"GET /a\x01b HTTP/1.1\r\nHost: a\r\n\r\n", "control in target"),
    (b"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", "space in target"),
]

# Well-framed requests whose target is refused: 400, and the connection
# may stay open, since where the next request starts is known.
BAD_TARGETS = [
    (b"/a%zz", "bad escape"),
    (b"/a%4", "truncated escape"),
    (b"/a%", "lone percent"),
    (b"/a%00b", "%00"),
    (b"/%2e%2e/a", "encoded dot-dot"),
    (b"/a%2fb", "encoded slash"),
    (b"a.txt", "not origin-form"),
]


@pytest.mark.parametrize("data,label", BAD_REQUESTS,
                         ids=[l for _, l in BAD_REQUESTS])
def test_bad_request_400_and_close(srv, data, label):
    r, closed = one(srv, data, close_wait=3.0)
    assert r.status == 400, (label, r)
    assert closed, "%s: connection left open after 400" % label


@pytest.mark.parametrize("target,label", BAD_TARGETS,
                         ids=[l for _, l in BAD_TARGETS])
def test_bad_target_400(srv, target, label):
    r, _ = one(srv, b"GET " + target + b" HTTP/1.1\r\nHost: a\r\n\r\n",
               close_wait=0)
    assert r.status == 400, (label, r)


def test_cl_te_then_smuggled_request_not_answered(srv):
    """The bytes after a CL+TE head must not be read as a second request."""
    write_file(srv.path("a.txt"), "A")
    data = (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 30\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
            b"GET /a.txt HTTP/1.1\r\nHost: a\r\n\r\n")
    rs, closed = exchange(srv.port, data, 2, close_wait=3)
    assert rs[0].status == 400
    assert len(rs) == 1, "a smuggled request was answered: %r" % rs
    assert closed


def test_414_long_target(srv):
    data = b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: a\r\n\r\n"
    r, _ = one(srv, data)
    assert r.status == 414, r


def test_431_large_headers(srv):
    fields = b"".join(b"X-Pad-%d: %s\r\n" % (i, b"v" * 500)
                      for i in range(40))
    data = b"GET / HTTP/1.1\r\nHost: a\r\n" + fields + b"\r\n"
    assert len(data) > 20000
    r, _ = one(srv, data)
    assert r.status == 431, r


def test_431_one_huge_header(srv):
    data = b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + b"v" * 20480 + b"\r\n\r\n"
    r, _ = one(srv, data)
    assert r.status == 431, r


def test_431_too_many_fields(srv):
    fields = b"".join(b"X-%d: v\r\n" % i for i in range(150))
    r, _ = one(srv, b"GET / HTTP/1.1\r\nHost: a\r\n" + fields + b"\r\n")
    assert r.status == 431, r


def test_head_without_end_is_refused_not_buffered(srv):
    """A head that grows past the limit is refused before it ends."""
    s = tls_connect(srv.port)
    try:
        s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + b"v" * 40000)
        rd = ResponseReader(s, time.monotonic() + 10)
        r = rd.read_response()
        assert r is not None and r.status == 431, r
    finally:
        s.close()


@pytest.mark.parametrize("method", [b"FOO", b"BREW", b"PROPFIND"])
def test_501_unknown_method(srv, method):
    r, _ = one(srv, method + b" / HTTP/1.1\r\nHost: a\r\n\r\n")
    assert r.status == 501, r


@pytest.mark.parametrize("version", [b"HTTP/2.0", b"HTTP/3.0", b"HTTP/0.9"])
def test_505_unsupported_version(srv, version):
    r, _ = one(srv, b"GET / " + version + b"\r\nHost: a\r\n\r\n")
    assert r.status == 505, r


def test_405_post(srv):
    r, _ = one(srv, b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n"
                    b"\r\n")
    assert r.status == 405, r
    assert r.has_header("Allow"), r.headers


def test_http10_without_host_is_fine(srv):
    write_file(srv.path("a.txt"), "ten")
    r, closed = one(srv, b"GET /a.txt HTTP/1.0\r\n\r\n", close_wait=3.0)
    assert r.status == 200 and r.body == b"ten"
    assert closed, "HTTP/1.0 without keep-alive must be closed"


# --- connections -------------------------------------------------------------

def test_keep_alive_two_requests(srv):
    write_file(srv.path("a.txt"), "first")
    write_file(srv.path("b.txt"), "second")
    s = tls_connect(srv.port)
    try:
        rd = ResponseReader(s, time.monotonic() + 10)
        s.sendall(b"GET /a.txt HTTP/1.1\r\n" + host(srv) + b"\r\n")
        r1 = rd.read_response()
        assert r1.status == 200 and r1.body == b"first"
        assert (r1.header("Connection") or "").lower() != "close"
        s.sendall(b"GET /b.txt HTTP/1.1\r\n" + host(srv) + b"\r\n")
        r2 = rd.read_response()
        assert r2.status == 200 and r2.body == b"second"
        assert not rd.at_eof(0.5), "closed after a keep-alive request"
    finally:
        s.close()


def test_pipelining_three_in_order(srv):
    bodies = {"p1.txt": b"one" * 1000, "p2.txt": b"two", "p3.txt": b"3" * 70000}
    for name, body in bodies.items():
        write_file(srv.path(name), body)
    data = b"".join(b"GET /%s HTTP/1.1\r\nHost: a\r\n\r\n" % n.encode()
                    for n in bodies)
    rs, closed = exchange(srv.port, data, 3, close_wait=0.5)
    assert [r.status for r in rs] == [200, 200, 200]
    assert [r.body for r in rs] == list(bodies.values())
    assert not closed


def test_pipelining_with_head_and_404(srv):
    write_file(srv.path("a.txt"), "abc")
    data = (b"HEAD /a.txt HTTP/1.1\r\nHost: a\r\n\r\n"
            b"GET /missing HTTP/1.1\r\nHost: a\r\n\r\n"
            b"GET /a.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    rs, closed = exchange(srv.port, data, 3, ["HEAD", "GET", "GET"])
    assert [r.status for r in rs] == [200, 404, 200]
    assert rs[0].header("Content-Length") == "3" and rs[0].body == b""
    assert rs[2].body == b"abc"
    assert closed


def test_pipelined_after_bad_request_not_answered(srv):
    data = (b"GET / HTTP/1.1\r\nHost : a\r\n\r\n"
            b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    rs, closed = exchange(srv.port, data, 2)
    assert [r.status for r in rs] == [400]
    assert closed


def test_http10_close_by_default(srv):
    write_file(srv.path("a.txt"), "x")
    r, closed = one(srv, b"GET /a.txt HTTP/1.0\r\nHost: a\r\n\r\n",
                    close_wait=3.0)
    assert r.status == 200 and r.version in ("HTTP/1.1", "HTTP/1.0")
    assert closed


def test_http10_keep_alive(srv):
    write_file(srv.path("a.txt"), "x")
    s = tls_connect(srv.port)
    try:
        rd = ResponseReader(s, time.monotonic() + 10)
        req = (b"GET /a.txt HTTP/1.0\r\nHost: a\r\n"
               b"Connection: keep-alive\r\n\r\n")
        s.sendall(req)
        r = rd.read_response()
        assert r.status == 200 and r.body == b"x"
        assert (r.header("Connection") or "").lower() == "keep-alive", r.headers
        s.sendall(req)
        r = rd.read_response()
        assert r.status == 200 and r.body == b"x"
    finally:
        s.close()


def test_http11_connection_close(srv):
    write_file(srv.path("a.txt"), "x")
    r, closed = one(srv, b"GET /a.txt HTTP/1.1\r\nHost: a\r\n"
                         b"Connection: close\r\n\r\n", close_wait=3.0)
    assert r.status == 200
    assert (r.header("Connection") or "").lower() == "close"
    assert closed


def test_head_has_headers_no_body(srv):
    write_file(srv.path("a.txt"), "hello world")
    get = fetch(srv.port, "/a.txt")
    data = (b"HEAD /a.txt HTTP/1.1\r\nHost: a\r\n\r\n"
            b"GET /a.txt HTTP/1.1\r\nHost: a\r\n\r\n")
    rs, _ = exchange(srv.port, data, 2, ["HEAD", "GET"], close_wait=0)
    head, after = rs
    assert head.status == 200 and head.body == b""
    assert head.header("Content-Length") == "11"
    for name in ("Content-Type", "ETag", "Last-Modified", "Accept-Ranges"):
        assert head.header(name) == get.header(name), name
    # The GET after HEAD parsed cleanly: HEAD sent no body bytes.
    assert after.status == 200 and after.body == b"hello world"


def test_head_on_listing(srv):
    write_file(srv.path("a.txt"), "a")
    rs, _ = exchange(srv.port, b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n"
                               b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
                     2, ["HEAD", "GET"], close_wait=0)
    assert rs[0].status == 200 and rs[1].status == 200
    assert rs[0].body == b""
    assert int(rs[0].header("Content-Length")) == len(rs[1].body)


@pytest.mark.parametrize("target", [b"/", b"*"])
def test_options_allow(srv, target):
    r, _ = one(srv, b"OPTIONS " + target + b" HTTP/1.1\r\nHost: a\r\n\r\n")
    assert r.status in (200, 204), r
    allow = {m.strip() for m in (r.header("Allow") or "").split(",")}
    assert {"GET", "HEAD", "OPTIONS"} <= allow, r.headers


@pytest.mark.parametrize("path,status", [("/a.txt", 200), ("/nope", 404)])
def test_common_response_fields(srv, path, status):
    write_file(srv.path("a.txt"), "abc")
    r = fetch(srv.port, path)
    assert r.status == status
    assert DATE_RE.match(r.header("Date") or ""), r.header("Date")
    assert r.header("Server"), r.headers
    assert r.header("Content-Length") == str(len(r.body))
    assert len(r.header_all("Content-Length")) == 1


def test_error_responses_have_fields(srv):
    r, _ = one(srv, b"GET / HTTP/1.1\r\nHost : a\r\n\r\n")
    assert r.status == 400
    assert DATE_RE.match(r.header("Date") or "")
    assert r.header("Server")
    assert r.header("Content-Length") == str(len(r.body))
    assert (r.header("Connection") or "").lower() == "close"


def test_absolute_form_target(srv):
    write_file(srv.path("a.txt"), "abs")
    r, _ = one(srv, b"GET https://localhost/a.txt HTTP/1.1\r\nHost: localhost"
                    b"\r\nConnection: close\r\n\r\n")
    assert r.status == 200 and r.body == b"abs"


def test_query_string_ignored_for_files(srv):
    write_file(srv.path("a.txt"), "q")
    r = fetch(srv.port, "/a.txt?x=1&y=%zz")
    assert r.status == 200 and r.body == b"q"


def test_percent_encoded_name(srv):
    write_file(srv.path("a b.txt"), "space")
    r = fetch(srv.port, "/a%20b.txt")
    assert r.status == 200 and r.body == b"space"


def test_request_split_in_tiny_writes(srv):
    write_file(srv.path("a.txt"), "slow")
    s = tls_connect(srv.port)
    try:
        req = b"GET /a.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        for i in range(0, len(req), 3):
            s.sendall(req[i:i + 3])
            time.sleep(0.01)
        rd = ResponseReader(s, time.monotonic() + 10)
        r = rd.read_response()
        assert r.status == 200 and r.body == b"slow"
    finally:
        s.close()


def test_many_requests_on_one_connection(srv):
    write_file(srv.path("a.txt"), "k")
    data = b"GET /a.txt HTTP/1.1\r\nHost: a\r\n\r\n" * 200
    rs, _ = exchange(srv.port, data, 200, close_wait=0, timeout=30)
    assert len(rs) == 200 and all(r.body == b"k" for r in rs)


def test_build_request_helper_sane(srv):
    # Guards the helper the other modules lean on.
    write_file(srv.path("a.txt"), "ok")
    req = build_request("/a.txt", port=srv.port)
    assert req.startswith(b"GET /a.txt HTTP/1.1\r\nHost: localhost:")
    assert fetch(srv.port, "/a.txt").body == b"ok"
