"""Hostile requests: a corpus of malformed and smuggling requests, sent
byte for byte over real TLS to the real binary.

CASES is one table, complete on its own.  Each entry is a raw request,
the status RFC 9112 / RFC 9110 asks for (several when the RFC leaves the
server a choice, each choice named in the comment above the entry, with
its section), and whether the connection must close after it.  Every
request goes out in one write together with a valid follow-up,

    GET /probe.txt HTTP/1.1 / Host: localhost / Connection: close

and then the follow-up is either answered, once and correctly, or the
connection is closed after the first response: never a response to a
request smuggled inside a body (/smuggled.txt), never a wait for bytes
the client will not send, never a byte from outside the share.
A few entries ("data") make the follow-up part of the body by the RFC's
own framing: then it must not be answered at all.

Uploads (PUT, chunked) run against a writable server and store /up.txt:
a refused upload leaves neither the file nor a temporary file behind,
and an accepted one stores exactly the bytes the RFC's framing says.

When ferry's answer differs from the RFC's, the entry keeps the RFC's
answer and is marked xfail(strict=True) with what ferry does instead.
"""

import socket
import time
from dataclasses import dataclass

import pytest

from conftest import make_dir
from ferrylib import (SEND_ERRORS, HTTPError, ResponseReader, fetch,
                      tls_connect, tree_state, wait_no_temps, write_file)

PROBE = b"probe: the follow-up request was answered\n"
SMUGGLED = b"smuggled: a request hidden in a body was answered\n"
OUTSIDE = b"outside: a byte from outside the share was served\n"

FOLLOW = (b"GET /probe.txt HTTP/1.1\r\nHost: localhost\r\n"
          b"Connection: close\r\n\r\n")
# A request that must never be answered when it hides in a body.
INNER = b"GET /smuggled.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"

H = b"Host: localhost\r\n"
TE = b"Transfer-Encoding: chunked\r\n"
HELLO = b"5\r\nhello\r\n0\r\n\r\n"      # "hello", chunked

READ_WAIT = 8.0     # a response, or the close, must come within this
DATA_WAIT = 1.5     # how long a server may sit on a body it still expects

# Limits from http.h, met and passed by one byte in the cases below.
MAX_HEAD = 16384
MAX_TARGET = 8192
MAX_FIELDS = 100

MUST = True         # the connection must be closed after the first answer
MAY = False         # it may stay open: then the follow-up is answered

@dataclass
class Case:
    data: bytes
    status: tuple       # allowed final statuses; None: no answer yet
    close: object       # MUST, MAY, or the statuses after which it must
    write: bool         # needs -w; PUTs store /up.txt
    stored: bytes       # what /up.txt holds after a 2xx
    follow: str         # "answer", or "data": the follow-up is body bytes
    forbid: tuple       # bytes no response may carry
    interim: bool       # whether a 1xx may come before the final answer


def C(cid, data, status, close, write=False, stored=None, follow="answer",
      forbid=(), interim=True, xfail=None):
    """One entry of the table, as a pytest parameter."""
    if not isinstance(status, tuple):
        status = (status,)
    case = Case(data, status, close, write, stored, follow, forbid, interim)
    marks = [pytest.mark.xfail(strict=True, reason=xfail)] if xfail else []
    return pytest.param(case, id=cid, marks=marks)


def get(target=b"/probe.txt", fields=b"", version=b"HTTP/1.1",
        method=b"GET", host=H):
    return b"%s %s %s\r\n%s%s\r\n" % (method, target, version, host, fields)


def put(fields=b"", body=b"", target=b"/up.txt", version=b"HTTP/1.1",
        host=H):
    return b"PUT %s %s\r\n%s%s\r\n%s" % (target, version, host, fields, body)


def chunk(data, ext=b""):
    return b"%x%s\r\n%s\r\n" % (len(data), ext, data)


def padded_head(total):
    """A GET of /probe.txt whose head is exactly TOTAL bytes."""
    base = get(fields=b"X-Pad: \r\n")
    return get(fields=b"X-Pad: %s\r\n" % (b"p" * (total - len(base))))


def with_fields(count):
    """A GET of /probe.txt with COUNT header lines, Host included."""
    return get(fields=b"".join(b"X-%d: v\r\n" % i for i in range(count - 1)))


def long_target(total):
    """A /probe.txt target of exactly TOTAL bytes, padded in the query."""
    base = b"/probe.txt?"
    return base + b"q" * (total - len(base))


CL5 = b"Content-Length: 5\r\n"
# CL.TE: by Content-Length the body holds INNER, by chunked it ends just
# before it: a server that goes by chunked and reads on answers INNER.
CLTE_BODY = b"0\r\n\r\n" + INNER
# TE.CL: by chunked the body is INNER; by Content-Length 3 it is "2f\r",
# and a server that goes by that and reads on answers INNER.
TECL_BODY = chunk(INNER) + b"0\r\n\r\n"


CASES = [
    # --- request line ----------------------------------------------------
    # RFC 9112 3: method SP request-target SP HTTP-version CRLF; an
    # invalid request-line SHOULD get 400 (3), and a message that does not
    # match the grammar 400 and close (2.2).  The MAY of 3 (split on any
    # whitespace) is not taken: 3 itself warns that it invites smuggling.
    C("rl-double-space", b"GET  /probe.txt HTTP/1.1\r\n" + H + b"\r\n",
      400, MUST),
    C("rl-space-before-version", b"GET /probe.txt  HTTP/1.1\r\n" + H +
      b"\r\n", 400, MUST),
    C("rl-trailing-space", b"GET /probe.txt HTTP/1.1 \r\n" + H + b"\r\n",
      400, MUST),
    C("rl-leading-space", b" GET /probe.txt HTTP/1.1\r\n" + H + b"\r\n",
      400, MUST),
    C("rl-tab-separator", b"GET\t/probe.txt HTTP/1.1\r\n" + H + b"\r\n",
      400, MUST),
    C("rl-vt-separator", b"GET\x0b/probe.txt HTTP/1.1\r\n" + H + b"\r\n",
      400, MUST),
    C("rl-ff-separator", b"GET /probe.txt\x0cHTTP/1.1\r\n" + H + b"\r\n",
      400, MUST),
    C("rl-junk-after-version", b"GET /probe.txt HTTP/1.1 x\r\n" + H +
      b"\r\n", 400, MUST),
    C("rl-missing-target", b"GET HTTP/1.1\r\n" + H + b"\r\n", 400, MUST),
    # RFC 9112 2.2: a server SHOULD ignore at least one empty line before
    # the request-line; one is skipped, a run of them may be refused.
    C("rl-one-leading-crlf", b"\r\n" + get(), 200, MAY),
    C("rl-many-leading-crlf", b"\r\n" * 8 + get(), (200, 400), (400,)),
    # RFC 9112 2.2: a recipient MAY take a bare LF as a line end.
    C("rl-leading-bare-lf", b"\n" + get(), (200, 400), (400,)),
    # RFC 9112 2.2 (end of section): HTTP/0.9's "GET /x" alone is not an
    # HTTP/1.x request line, so 400; never an HTTP/0.9 answer (a bare body).
    C("http09-simple-request", b"GET /probe.txt\r\n", 400, MUST),
    C("http09-simple-with-crlfcrlf", b"GET /probe.txt\r\n\r\n", 400, MUST),

    # --- methods ---------------------------------------------------------
    # RFC 9110 9.1: methods are case-sensitive tokens; an unknown one
    # SHOULD get 501 (15.6.2).  The head is well framed, so open or closed.
    C("method-lowercase", get(method=b"get"), 501, MAY),
    C("method-unknown", get(method=b"BREW"), 501, MAY),
    # RFC 9110 5.6.2: '@' and '/' are not tchar: no method at all, 400.
    C("method-not-a-token", get(method=b"G@T"), 400, MUST),
    C("method-with-slash", get(method=b"GET/1"), 400, MUST),
    # RFC 9112 3: a method longer than any implemented SHOULD get 501.
    C("method-1000-bytes", get(method=b"X" * 1000), 501, MAY),
    C("method-20000-bytes", get(method=b"X" * 20000), 501, MAY),
    C("method-obs-text", get(method=b"G\xc3\x89T"), 400, MUST),
    # RFC 9110 9.3.8: TRACE is optional; refused, it must not echo the
    # request (and its credentials) back: cross-site tracing.
    C("method-trace-no-echo", get(b"/probe.txt", b"Cookie: xst-secret\r\n",
                                  method=b"TRACE"), (405, 501), MAY,
      forbid=(b"xst-secret",)),

    # --- HTTP versions ---------------------------------------------------
    # RFC 9110 2.5: a higher minor version SHOULD be served as 1.1.
    C("version-1.2", get(version=b"HTTP/1.2"), 200, MAY),
    C("version-1.9", get(version=b"HTTP/1.9"), 200, MAY),
    # RFC 9110 15.6.6: a major version we do not speak: 505.
    C("version-2.0", get(version=b"HTTP/2.0"), 505, MAY),
    C("version-3.0", get(version=b"HTTP/3.0"), 505, MAY),
    C("version-0.9", get(version=b"HTTP/0.9"), (505, 400), MAY),
    C("version-9.9", get(version=b"HTTP/9.9"), 505, MAY),
    # RFC 9112 2.3: HTTP-version = "HTTP" "/" DIGIT "." DIGIT, the name
    # case-sensitive; anything else is an invalid request-line: 400 (3).
    C("version-lowercase", get(version=b"http/1.1"), 400, MUST),
    C("version-mixed-case", get(version=b"Http/1.1"), 400, MUST),
    C("version-two-digit-minor", get(version=b"HTTP/1.01"), 400, MUST),
    C("version-two-digit-major", get(version=b"HTTP/11.1"), 400, MUST),
    C("version-no-minor", get(version=b"HTTP/1"), 400, MUST),
    C("version-three-parts", get(version=b"HTTP/1.1.1"), 400, MUST),
    C("version-https", get(version=b"HTTPS/1.1"), 400, MUST),
    C("version-space-after-slash", get(version=b"HTTP/ 1.1"), 400, MUST),
    C("version-fullwidth-digit", get(version=b"HTTP/\xef\xbc\x91.1"), 400,
      MUST),
    # RFC 9113 3.4: the HTTP/2 preface; on HTTP/1.1 it is an unsupported
    # version (505) or an unknown method (501).  What follows it is binary
    # frames, so reading on can only desynchronise: close.
    C("h2-preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", (505, 501, 400),
      MUST),

    # --- request targets -------------------------------------------------
    # RFC 9112 3.2.2: absolute-form is accepted; the target's host wins
    # over Host, which MUST be ignored (so no 400 for a Host mismatch);
    # RFC 9110 7.4: a server not authoritative for it MAY say 421.
    C("absolute-form", get(b"https://localhost/probe.txt"), 200, MAY),
    C("absolute-form-upper-scheme", get(b"HTTPS://LOCALHOST/probe.txt"),
      200, MAY),
    C("absolute-form-other-host", get(b"https://other.example/probe.txt"),
      (200, 421), MAY),
    C("absolute-form-with-port", get(b"https://localhost:443/probe.txt"),
      (200, 421), MAY),
    C("absolute-form-http-scheme", get(b"http://localhost/probe.txt"),
      (200, 421), MAY),
    C("absolute-form-host-mismatch",
      get(b"https://localhost/probe.txt", host=b"Host: other.example\r\n"),
      200, MAY),
    # RFC 9110 4.2.2: an https URI with an empty host MUST be rejected.
    C("absolute-form-empty-host", get(b"https:///probe.txt"), 400, MAY),
    # RFC 9110 4.2.4: userinfo SHOULD be treated as an error.
    C("absolute-form-userinfo", get(b"https://user:pw@localhost/probe.txt"),
      400, MAY),
    # RFC 9112 3.2: absolute-URI has no fragment: invalid request-target.
    C("absolute-form-fragment", get(b"https://localhost/probe.txt#f"), 400,
      MAY),
    # RFC 9110 7.4 / 15.5.1: not an http(s) URI: misdirected or bad.
    C("absolute-form-ftp", get(b"ftp://localhost/probe.txt"), (400, 421),
      MAY),
    # RFC 9112 3.2.4: asterisk-form only for a server-wide OPTIONS.
    C("asterisk-form-get", get(b"*"), 400, MAY),
    C("asterisk-form-head", get(b"*", method=b"HEAD"), 400, MAY),
    C("asterisk-form-options", get(b"*", method=b"OPTIONS"), (200, 204),
      MAY),
    C("asterisk-form-put", put(CL5, b"hello", target=b"*"), 400, MAY,
      write=True),
    # RFC 9112 3.2.3: authority-form only for CONNECT (read as an
    # absolute-URI, "localhost:" is a scheme no server of ours serves).
    C("authority-form-get", get(b"localhost:443"), 400, MAY),
    C("authority-form-options", get(b"localhost:443", method=b"OPTIONS"),
      (400, 421), MAY),
    # RFC 9110 4.2.2: an https URI with an empty host MUST be rejected,
    # and RFC 9112 3: a broken target is an invalid request-line (400),
    # whatever the method.
    C("options-empty-host", get(b"https:///probe.txt", method=b"OPTIONS"),
      400, MAY),
    C("options-bad-escape", get(b"/probe.txt%zz", method=b"OPTIONS"), 400,
      MAY),
    # RFC 9110 9.3.6: a server that does no tunnels refuses CONNECT, and
    # the bytes after it stay HTTP: 405 (15.5.6) or 501 (15.6.2).
    C("connect-authority-form", get(b"localhost:443", method=b"CONNECT"),
      (405, 501), MAY),
    # RFC 9112 3.2.1: origin-form has no fragment.
    C("origin-form-fragment", get(b"/probe.txt#frag"), 400, MAY),
    # RFC 3986 3.3: "//a/b" is a path with an empty segment, never an
    # authority: no such file (or refused), never the file "/probe.txt".
    C("origin-form-double-slash", get(b"//localhost/probe.txt"), (400, 404),
      MAY),
    C("target-not-origin-form", get(b"probe.txt"), 400, MAY),
    # RFC 9112 3.2 / RFC 3986 2: a raw control, space or non-ASCII byte
    # is no URI: invalid request-line, 400 (9112 3).
    C("target-del", get(b"/probe.txt\x7f"), 400, MUST),
    C("target-obs-text", get(b"/pr\xc3\xb6be.txt"), 400, MUST),
    C("target-query-del", get(b"/probe.txt?\x7f"), 400, MUST),
    # RFC 3986 2, 3.3: '\\', '<', '>', '"', '{', '}', '|', '^' and '`' are
    # visible but no URI byte (pchar): an invalid request-line, so 400,
    # or 301 to the target properly encoded (RFC 9112 3).  ferry refuses
    # those browsers always escape; '|', '^', '[' and ']' browsers send
    # raw, so they are taken (see http.c's parse_target).
    C("target-not-uri-bytes", get(b"/probe.txt\\<x>"), (400, 301), MAY),
    C("target-not-uri-quote", get(b'/probe.txt"'), (400, 301), MAY),
    C("target-not-uri-backtick", get(b"/probe`.txt"), (400, 301), MAY),
    C("target-not-uri-brace", get(b"/probe{.txt"), (400, 301), MAY),
    # RFC 3986 2.3, 6.2.2.2: an encoded unreserved byte is that byte.
    C("pct-encoded-dot", get(b"/probe%2etxt"), 200, MAY),
    C("pct-encoded-letter", get(b"/%70robe.txt"), 200, MAY),
    # RFC 3986 2.1: "%" HEXDIG HEXDIG, else no URI: 400 (9112 3).
    C("pct-bad-hex", get(b"/probe.txt%zz"), 400, MAY),
    C("pct-lone-percent", get(b"/probe.txt%"), 400, MAY),
    C("pct-iis-unicode", get(b"/%u002e%u002e/outside.txt"), 400, MAY),
    # %00, an encoded '/' and dot-dot in every disguise: refused or not
    # found, never a byte from outside the share (RFC 9110 17.3).
    C("pct-nul", get(b"/probe.txt%00"), (400, 404), MAY),
    C("pct-nul-then-ext", get(b"/probe.txt%00.html"), (400, 404), MAY),
    C("pct-encoded-slash", get(b"/..%2foutside.txt"), (400, 404), MAY),
    C("pct-dot-dot", get(b"/%2e%2e/outside.txt"), (400, 404), MAY),
    C("pct-dot-dot-slash", get(b"/%2e%2e%2foutside.txt"), (400, 404), MAY),
    C("pct-double-encoded", get(b"/%252e%252e/outside.txt"), (400, 404),
      MAY),
    C("pct-overlong-dot-2", get(b"/%c0%ae%c0%ae/outside.txt"), (400, 404),
      MAY),
    C("pct-overlong-dot-3", get(b"/%e0%80%ae%e0%80%ae/outside.txt"),
      (400, 404), MAY),
    C("pct-overlong-slash", get(b"/..%c0%afoutside.txt"), (400, 404), MAY),
    C("pct-fullwidth-dots", get(b"/%ef%bc%8e%ef%bc%8e/outside.txt"),
      (400, 404), MAY),
    # A raw backslash is no URI byte: 400 is the RFC's answer (see
    # target-not-uri-bytes); 404 is let pass here, where the point is
    # that nothing outside is served.
    C("raw-backslash-dot-dot", get(b"/..\\outside.txt"), (400, 404), MAY),
    C("pct-backslash-dot-dot", get(b"/..%5coutside.txt"), (400, 404), MAY),
    # RFC 9112 11.1: response splitting; a decoded CRLF never reaches a
    # head, neither from the path nor from a query copied to a redirect.
    C("pct-crlf-in-path", get(b"/%0d%0aX-Injected:%20yes"), (400, 404), MAY,
      forbid=(b"\r\nX-Injected",)),
    # The same disguises on a writable share, where they would change
    # something outside it (RFC 9110 9.3.4, 9.3.5; RFC 4918 9.3).
    C("put-dot-dot", put(CL5, b"hello", target=b"/%2e%2e/up.txt"),
      (400, 403), MAY, write=True),
    C("put-encoded-slash", put(CL5, b"hello", target=b"/..%2fup.txt"),
      (400, 403), MAY, write=True),
    C("put-nul-name", put(CL5, b"hello", target=b"/up%00.txt"), 400, MAY,
      write=True),
    C("delete-dot-dot", get(b"/%2e%2e/outside.txt", method=b"DELETE"),
      (400, 403, 404), MAY, write=True),
    C("delete-overlong-dot", get(b"/%c0%ae%c0%ae/outside.txt",
                                 method=b"DELETE"), (400, 403, 404), MAY,
      write=True),
    C("mkcol-dot-dot", get(b"/%2e%2e/made", method=b"MKCOL"),
      (400, 403, 404, 409), MAY, write=True),
    C("pct-crlf-in-redirect-query", get(b"/folder?%0d%0aX-Injected:%20yes"),
      301, MAY, forbid=(b"\r\nX-Injected",)),

    # --- header field syntax ---------------------------------------------
    # RFC 9112 5.1: whitespace between name and colon MUST get 400.
    C("ws-before-colon", b"GET /probe.txt HTTP/1.1\r\nHost : localhost"
      b"\r\n\r\n", 400, MUST),
    C("tab-before-colon", get(fields=b"X-A\t: b\r\n"), 400, MUST),
    C("ws-before-colon-content-length", get(fields=b"Content-Length : 0\r\n"),
      400, MUST),
    C("ws-before-colon-transfer-encoding",
      put(b"Transfer-Encoding : chunked\r\n", HELLO), 400, MUST, write=True),
    # RFC 9112 2.2: a whitespace-preceded line right after the request
    # line MUST be refused or skipped unread (not joined to anything).
    C("ws-line-after-request-line",
      b"GET /probe.txt HTTP/1.1\r\n X-Junk: a\r\n" + H + b"\r\n",
      (400, 200), (400,)),
    # RFC 9112 5.2: obs-fold MUST get 400, or be replaced by SP.
    C("obs-fold-space", get(fields=b"X-A: b\r\n c\r\n"), (400, 200), (400,)),
    C("obs-fold-tab", get(fields=b"X-A: b\r\n\tc\r\n"), (400, 200), (400,)),
    # Folded into a space, "local host" is an invalid Host: 400 either way.
    C("obs-fold-in-host", b"GET /probe.txt HTTP/1.1\r\nHost: local\r\n host"
      b"\r\n\r\n", 400, MUST),
    # Unfolded, the TE line belongs to X-A and the body is 5 bytes by CL.
    C("obs-fold-hides-transfer-encoding",
      put(CL5 + b"X-A: b\r\n Transfer-Encoding: chunked\r\n", b"hello"),
      (400, 201), (400,), write=True, stored=b"hello"),
    # RFC 9112 5: field-name = token, then ":".
    C("field-empty-name", get(fields=b": b\r\n"), 400, MUST),
    C("field-space-in-name", get(fields=b"X A: b\r\n"), 400, MUST),
    C("field-no-colon", get(fields=b"NoColon\r\n"), 400, MUST),
    C("field-obs-text-in-name", get(fields=b"X-\xc3\xa9: b\r\n"), 400, MUST),
    # RFC 9110 5.5: obs-text is a valid field byte.
    C("field-obs-text-in-value", get(fields=b"X-A: \xc3\xa9\xff\r\n"), 200,
      MAY),
    C("field-empty-value", get(fields=b"X-A:\r\n"), 200, MAY),
    # RFC 9110 5.5: other controls are invalid; a recipient MAY keep them
    # in a safe context, else 400.
    C("field-esc-in-value", get(fields=b"X-A: \x1b[31mred\r\n"), (400, 200),
      (400,)),
    C("field-del-in-value", get(fields=b"X-A: a\x7fb\r\n"), (400, 200),
      (400,)),
    C("field-soh-in-value", get(fields=b"X-A: a\x01b\r\n"), (400, 200),
      (400,)),

    # --- NUL in every place ----------------------------------------------
    # RFC 9110 5.5: NUL in a value MUST be refused or replaced by SP;
    # anywhere else it breaks the grammar: 400 (RFC 9112 2.2, 3, 5).
    C("nul-first-byte", b"\x00" + get(), 400, MUST),
    C("nul-in-method", get(method=b"GE\x00T"), 400, MUST),
    C("nul-as-separator", b"GET\x00/probe.txt HTTP/1.1\r\n" + H + b"\r\n",
      400, MUST),
    C("nul-in-target", get(b"/probe\x00.txt"), 400, MUST),
    C("nul-in-version", get(version=b"HTTP/1.1\x00"), 400, MUST),
    C("nul-in-field-name", get(fields=b"X-A\x00: b\r\n"), 400, MUST),
    C("nul-in-field-value", get(fields=b"X-A: b\x00c\r\n"), (400, 200),
      (400,)),
    C("nul-after-colon", get(fields=b"X-A:\x00b\r\n"), (400, 200), (400,)),
    C("nul-line", get(fields=b"\x00\r\n"), 400, MUST),
    C("nul-in-host", get(host=b"Host: local\x00host\r\n"), 400, MUST),

    # --- bare CR and bare LF ---------------------------------------------
    # RFC 9112 2.2: a recipient MAY take a bare LF as the end of the
    # request-line or a field line (and then must get it all right).
    C("bare-lf-request-line", b"GET /probe.txt HTTP/1.1\n" + H + b"\r\n",
      (400, 200), (400,)),
    C("bare-lf-everywhere", b"GET /probe.txt HTTP/1.1\nHost: localhost\n\n",
      (400, 200), (400,)),
    C("bare-lf-end-of-head", b"GET /probe.txt HTTP/1.1\r\n" + H + b"\n",
      (400, 200), (400,)),
    # A lone LF hides a TE line: strict, 400; lenient, CL and TE together
    # (RFC 9112 6.1: refuse or TE only, then "hello" is no chunk): 400.
    C("bare-lf-hides-transfer-encoding",
      put(CL5 + b"X-A: a\nTransfer-Encoding: chunked\r\n", b"hello"), 400,
      MUST, write=True),
    # RFC 9112 2.2: a bare CR MUST be invalid or read as SP.
    C("bare-cr-in-value", get(fields=b"X-A: b\rc\r\n"), (400, 200), (400,)),
    C("bare-cr-ends-request-line", b"GET /probe.txt HTTP/1.1\r" + H +
      b"\r\n", 400, MUST),
    C("bare-cr-in-name", get(fields=b"X\rA: b\r\n"), 400, MUST),
    C("cr-cr-lf", b"GET /probe.txt HTTP/1.1\r\r\n" + H + b"\r\n", 400, MUST),
    # As SP, the bare CR joins the TE line to X-A: then CL 5 frames it.
    C("bare-cr-hides-transfer-encoding",
      put(CL5 + b"X-A: a\rTransfer-Encoding: chunked\r\n", b"hello"),
      (400, 201), (400,), write=True, stored=b"hello"),
    # The head's last CR is not followed by LF: the follow-up's "G" is
    # no line end.
    C("bare-cr-at-end-of-head", b"GET /probe.txt HTTP/1.1\r\n" + H + b"\r",
      400, MUST),
    # No empty line: the follow-up's request line becomes a field line,
    # which has no colon: 400 (RFC 9112 5), never two answers.
    C("head-without-end", b"GET /probe.txt HTTP/1.1\r\n" + H, 400, MUST),

    # --- Host ------------------------------------------------------------
    # RFC 9112 3.2: 400 for an HTTP/1.1 request without Host, for more
    # than one Host line, and for an invalid Host value.
    C("host-missing", b"GET /probe.txt HTTP/1.1\r\n\r\n", 400, MAY),
    C("host-missing-absolute-form", b"GET https://localhost/probe.txt "
      b"HTTP/1.1\r\n\r\n", 400, MAY),
    C("host-twice-same", get(fields=H), 400, MAY),
    C("host-twice-differing", get(fields=b"Host: other.example\r\n"), 400,
      MAY),
    C("host-twice-by-case", get(fields=b"hOST: localhost\r\n"), 400, MAY),
    C("host-twice-http10", get(version=b"HTTP/1.0", fields=H), 400, MAY),
    C("host-list", get(host=b"Host: localhost, other.example\r\n"), 400,
      MAY),
    C("host-space", get(host=b"Host: local host\r\n"), 400, MAY),
    C("host-bad-port", get(host=b"Host: localhost:https\r\n"), 400, MAY),
    C("host-two-ports", get(host=b"Host: localhost:443:443\r\n"), 400, MAY),
    C("host-userinfo", get(host=b"Host: user@localhost\r\n"), 400, MAY),
    C("host-with-path", get(host=b"Host: localhost/probe.txt\r\n"), 400,
      MAY),
    C("host-backslash", get(host=b"Host: local\\host\r\n"), 400, MAY),
    C("host-ipv6-unclosed", get(host=b"Host: [::1\r\n"), 400, MAY),
    C("host-ipv6-junk", get(host=b"Host: [::g]\r\n"), 400, MAY),
    C("host-obs-text", get(host=b"Host: l\xc3\xb6calhost\r\n"), 400, MAY),
    C("host-ipv6", get(host=b"Host: [::1]:443\r\n"), 200, MAY),
    # RFC 3986 3.2.3: port = *DIGIT, so an empty port is valid.
    C("host-empty-port", get(host=b"Host: localhost:\r\n"), 200, MAY),
    # RFC 9112 3.3: with an empty Host the target URI has no authority;
    # the server can reject the request or use its own name.
    C("host-empty", get(host=b"Host:\r\n"), (400, 200), MAY),

    # --- Content-Length --------------------------------------------------
    # RFC 9110 8.6: Content-Length = 1*DIGIT; RFC 9112 6.3 (5): an
    # invalid one is unrecoverable: 400, then close (MUST).
    C("cl-plus-sign", get(fields=b"Content-Length: +0\r\n"), 400, MUST),
    C("cl-minus-zero", get(fields=b"Content-Length: -0\r\n"), 400, MUST),
    C("cl-negative", get(fields=b"Content-Length: -1\r\n"), 400, MUST),
    C("cl-hex", get(fields=b"Content-Length: 0x0\r\n"), 400, MUST),
    C("cl-decimal-point", get(fields=b"Content-Length: 0.0\r\n"), 400, MUST),
    C("cl-exponent", get(fields=b"Content-Length: 0e1\r\n"), 400, MUST),
    C("cl-empty", get(fields=b"Content-Length:\r\n"), 400, MUST),
    C("cl-inner-space", get(fields=b"Content-Length: 0 0\r\n"), 400, MUST),
    C("cl-nul", get(fields=b"Content-Length: 0\x00\r\n"), 400, MUST),
    C("cl-vt", get(fields=b"Content-Length: 0\x0b\r\n"), 400, MUST),
    C("cl-arabic-digit", get(fields=b"Content-Length: \xd9\xa0\r\n"), 400,
      MUST),
    C("cl-list-differing", get(fields=b"Content-Length: 0, 1\r\n"), 400,
      MUST),
    C("cl-lines-differing",
      get(fields=b"Content-Length: 0\r\nContent-Length: 1\r\n"), 400, MUST),
    # RFC 9110 8.6: "too large" is no overflow: refuse, 400 or 413, close.
    C("cl-2-to-the-64", get(fields=b"Content-Length: 18446744073709551616"
                                   b"\r\n"), (400, 413), MUST),
    C("cl-1000-digits", get(fields=b"Content-Length: %s\r\n" % (b"9" * 1000)),
      (400, 413), MUST),
    # OWS around the value is not part of it (RFC 9110 5.5).
    C("cl-ows", get(fields=b"Content-Length: \t0 \t\r\n"), 200, MAY),
    # RFC 9110 8.6 / RFC 9112 6.3 (5): the same value repeated MAY be read
    # as that value, or refused as invalid (400 and close).
    C("cl-list-same-zero", get(fields=b"Content-Length: 0, 0\r\n"),
      (200, 400), (400,)),
    # A body on a GET: read and dropped, or the connection closed; the
    # request inside the body is never answered (RFC 9112 6.3 (6)).
    C("cl-get-body-hides-request",
      get(fields=b"Content-Length: %d\r\n" % len(INNER)) + INNER, 200, MAY),
    C("cl-head-body-hides-request",
      get(fields=b"Content-Length: %d\r\n" % len(INNER), method=b"HEAD") +
      INNER, 200, MAY),
    # The client announced more than it sent: the follow-up is body.
    C("cl-get-short-body", get(fields=b"Content-Length: 500\r\n") + b"x",
      (200, None), MAY, follow="data"),

    # --- Content-Length on uploads ---------------------------------------
    # RFC 9110 8.6: leading zeros are digits like any other.
    C("put-cl-leading-zeros", put(b"Content-Length: 0005\r\n", b"hello"),
      201, MAY, write=True, stored=b"hello"),
    C("put-cl-many-leading-zeros",
      put(b"Content-Length: %s5\r\n" % (b"0" * 40), b"hello"), 201, MAY,
      write=True, stored=b"hello"),
    C("put-cl-no-space", put(b"Content-Length:5\r\n", b"hello"), 201, MAY,
      write=True, stored=b"hello"),
    C("put-cl-lowercase-name", put(b"content-length: 5\r\n", b"hello"), 201,
      MAY, write=True, stored=b"hello"),
    # A request in a body is data: stored, never answered.
    C("put-cl-body-hides-request",
      put(b"Content-Length: %d\r\n" % len(INNER), INNER), 201, MAY,
      write=True, stored=INNER),
    # RFC 9110 8.6 (MAY refuse) / RFC 9112 6.3 (5) (processed as one).
    C("put-cl-list-same", put(b"Content-Length: 5, 5\r\n", b"hello"),
      (201, 400), (400,), write=True, stored=b"hello"),
    C("put-cl-lines-same", put(CL5 + CL5, b"hello"), (201, 400), (400,),
      write=True, stored=b"hello"),
    C("put-cl-trailing-comma", put(b"Content-Length: 5,\r\n", b"hello"),
      (201, 400), (400,), write=True, stored=b"hello"),
    C("put-cl-plus", put(b"Content-Length: +5\r\n", b"hello"), 400, MUST,
      write=True),
    C("put-cl-list-differing", put(b"Content-Length: 5, 6\r\n", b"hello!"),
      400, MUST, write=True),
    # RFC 9110 15.5.14, RFC 4918 11.5: a length no disk can hold: 413 or
    # 507 before the body; 400 for a number past what is parsed.
    C("put-cl-2-to-the-62", put(b"Content-Length: 4611686018427387904\r\n",
                                b"hello"), (413, 507), MAY, write=True),
    C("put-cl-2-to-the-64", put(b"Content-Length: 18446744073709551616\r\n",
                                b"hello"), (400, 413), MUST, write=True),
    # RFC 9112 6.3 (7): no length means no body; RFC 9110 15.5.12: a
    # server MAY ask for one with 411.  (No body is sent.)
    C("put-no-length", put(), (411, 201), MAY, write=True, stored=b""),
    # The client sends less than announced: the follow-up is body data.
    C("put-cl-short-body", put(b"Content-Length: 500\r\n", b"hello"),
      (None, 400, 413), MAY, write=True, follow="data"),

    # --- Content-Length and Transfer-Encoding together -------------------
    # RFC 9112 6.1: a server MAY refuse both or go by TE alone, and MUST
    # close after answering, whichever way the header fields come.
    C("cl-te-get", get(fields=CL5 + TE) + HELLO, (400, 200), MUST),
    C("te-cl-get", get(fields=TE + CL5) + HELLO, (400, 200), MUST),
    C("cl-te-smuggle", put(b"Content-Length: %d\r\n" % len(CLTE_BODY) + TE,
                           CLTE_BODY), (400, 201), MUST, write=True,
      stored=b""),
    C("te-cl-smuggle", put(TE + b"Content-Length: 3\r\n", TECL_BODY),
      (400, 201), MUST, write=True, stored=INNER),
    C("cl-zero-te", put(b"Content-Length: 0\r\n" + TE, HELLO), (400, 201),
      MUST, write=True, stored=b"hello"),
    C("te-empty-cl", put(b"Transfer-Encoding:\r\n" + CL5, b"hello"), 400,
      MUST, write=True),
    # RFC 9112 6.1: TE in HTTP/1.0 means faulty framing: close after.
    C("te-http10", put(TE, HELLO, version=b"HTTP/1.0"), 400, MUST,
      write=True),
    C("te-http10-get", get(version=b"HTTP/1.0", fields=TE) + HELLO, 400,
      MUST),

    # --- Transfer-Encoding spellings -------------------------------------
    # RFC 9112 7: coding names are case-insensitive; RFC 9110 5.1 field
    # names too; 5.5: OWS is not part of the value; 5.6.1.2: empty list
    # elements are ignored.  All of these are chunked.
    C("te-trailing-space", put(b"Transfer-Encoding: chunked \r\n", HELLO),
      201, MAY, write=True, stored=b"hello"),
    C("te-tabs", put(b"Transfer-Encoding:\tchunked\t\r\n", HELLO), 201, MAY,
      write=True, stored=b"hello"),
    C("te-no-space", put(b"Transfer-Encoding:chunked\r\n", HELLO), 201, MAY,
      write=True, stored=b"hello"),
    C("te-uppercase", put(b"Transfer-Encoding: CHUNKED\r\n", HELLO), 201,
      MAY, write=True, stored=b"hello"),
    C("te-mixed-case", put(b"Transfer-Encoding: cHuNkEd\r\n", HELLO), 201,
      MAY, write=True, stored=b"hello"),
    C("te-lowercase-name", put(b"transfer-encoding: chunked\r\n", HELLO),
      201, MAY, write=True, stored=b"hello"),
    C("te-leading-comma", put(b"Transfer-Encoding: , chunked\r\n", HELLO),
      201, MAY, write=True, stored=b"hello"),
    C("te-trailing-comma", put(b"Transfer-Encoding: chunked,\r\n", HELLO),
      201, MAY, write=True, stored=b"hello"),
    # Another field: the body is framed by Content-Length.
    C("te-underscore-name", put(b"Transfer_Encoding: chunked\r\n" + CL5,
                                b"hello"), 201, MAY, write=True,
      stored=b"hello"),
    # RFC 9112 6.1: chunked MUST NOT be applied twice, and (6.3 (4)) a
    # request whose final coding is not chunked MUST get 400 and close.
    C("te-chunked-chunked", put(b"Transfer-Encoding: chunked, chunked\r\n",
                                HELLO), (400, 501), MUST, write=True),
    C("te-chunked-twice-lines", put(TE + TE, HELLO), (400, 501), MUST,
      write=True),
    C("te-chunked-gzip", put(b"Transfer-Encoding: chunked, gzip\r\n",
                             HELLO), 400, MUST, write=True),
    C("te-chunked-then-identity-line",
      put(TE + b"Transfer-Encoding: identity\r\n", HELLO), 400, MUST,
      write=True),
    C("te-gzip-only", put(b"Transfer-Encoding: gzip\r\n", HELLO), 400, MUST,
      write=True),
    C("te-identity", put(b"Transfer-Encoding: identity\r\n", HELLO), 400,
      MUST, write=True),
    C("te-quoted", put(b"Transfer-Encoding: \"chunked\"\r\n", HELLO), 400,
      MUST, write=True),
    C("te-xchunked", put(b"Transfer-Encoding: xchunked\r\n", HELLO), 400,
      MUST, write=True),
    C("te-chunk", put(b"Transfer-Encoding: chunk\r\n", HELLO), 400, MUST,
      write=True),
    C("te-vt-after", put(b"Transfer-Encoding: chunked\x0b\r\n", HELLO), 400,
      MUST, write=True),
    C("te-nul-after", put(b"Transfer-Encoding: chunked\x00\r\n", HELLO),
      400, MUST, write=True),
    C("te-only-commas", put(b"Transfer-Encoding: , ,\r\n", HELLO), 400,
      MUST, write=True),
    # RFC 9112 6.1: a coding not understood SHOULD get 501; the chunked
    # body is then left unread, so the connection closes.
    C("te-gzip-chunked", put(b"Transfer-Encoding: gzip, chunked\r\n",
                             HELLO), 501, MAY, write=True),
    C("te-gzip-then-chunked-lines",
      put(b"Transfer-Encoding: gzip\r\n" + TE, HELLO), 501, MAY, write=True),
    # A chunked GET: its body is read or the connection closed, and the
    # request inside the chunk is never answered.
    C("te-get-chunk-hides-request", get(fields=TE) + chunk(INNER) +
      b"0\r\n\r\n", 200, MAY),

    # --- chunk sizes -----------------------------------------------------
    # RFC 9112 7.1: chunk-size = 1*HEXDIG, case-insensitive, leading
    # zeros allowed; last-chunk = 1*("0").
    C("chunk-leading-zeros", put(TE, b"0005\r\nhello\r\n0\r\n\r\n"), 201,
      MAY, write=True, stored=b"hello"),
    C("chunk-upper-hex", put(TE, b"A\r\n0123456789\r\n0\r\n\r\n"), 201, MAY,
      write=True, stored=b"0123456789"),
    C("chunk-lower-hex", put(TE, b"a\r\n0123456789\r\n0\r\n\r\n"), 201, MAY,
      write=True, stored=b"0123456789"),
    C("chunk-last-00", put(TE, b"5\r\nhello\r\n000\r\n\r\n"), 201, MAY,
      write=True, stored=b"hello"),
    C("chunk-empty-body", put(TE, b"0\r\n\r\n"), 201, MAY, write=True,
      stored=b""),
    C("chunk-nul-in-data", put(TE, chunk(b"a\x00b\r\nc") + b"0\r\n\r\n"),
      201, MAY, write=True, stored=b"a\x00b\r\nc"),
    C("chunk-hides-request", put(TE, chunk(INNER) + b"0\r\n\r\n"), 201, MAY,
      write=True, stored=INNER),
    C("chunk-300-tiny", put(TE, chunk(b"x") * 300 + b"0\r\n\r\n"), 201, MAY,
      write=True, stored=b"x" * 300),
    # Anything but hex digits before the line end is not a chunk-size:
    # the body's framing is lost, 400 and close (RFC 9112 2.2, 7.1).
    C("chunk-0x-prefix", put(TE, b"0x5\r\nhello\r\n0\r\n\r\n"), 400, MUST,
      write=True),
    C("chunk-minus", put(TE, b"-5\r\nhello\r\n0\r\n\r\n"), 400, MUST,
      write=True),
    C("chunk-plus", put(TE, b"+5\r\nhello\r\n0\r\n\r\n"), 400, MUST,
      write=True),
    C("chunk-leading-space", put(TE, b" 5\r\nhello\r\n0\r\n\r\n"), 400,
      MUST, write=True),
    # RFC 9112 7.1.1: BWS only before ";": "5 " alone is malformed.
    C("chunk-trailing-space", put(TE, b"5 \r\nhello\r\n0\r\n\r\n"), 400,
      MUST, write=True),
    C("chunk-trailing-tab", put(TE, b"5\t\r\nhello\r\n0\r\n\r\n"), 400,
      MUST, write=True),
    C("chunk-last-with-space", put(TE, b"5\r\nhello\r\n0 \r\n\r\n"), 400,
      MUST, write=True),
    C("chunk-nul-in-size", put(TE, b"5\x00\r\nhello\r\n0\r\n\r\n"), 400,
      MUST, write=True),
    C("chunk-empty-size", put(TE, b"\r\nhello\r\n0\r\n\r\n"), 400, MUST,
      write=True),
    # RFC 9112 7.1: large numerals MUST NOT overflow: 2^64 is refused...
    C("chunk-size-2-to-the-64", put(TE, b"10000000000000000\r\nhello\r\n"),
      (400, 413), MUST, write=True),
    C("chunk-size-40-digits", put(TE, b"f" * 40 + b"\r\nhello\r\n"),
      (400, 413), MUST, write=True),
    # ...and 2^64-1 is a chunk far larger than any disk: refused, or the
    # follow-up is taken as its first bytes.
    C("chunk-size-2-to-the-64-minus-1",
      put(TE, b"ffffffffffffffff\r\nhello"), (None, 400, 413, 507), MAY,
      write=True, follow="data"),
    # A size line of 5000 bytes is valid hex, and a server MAY bound it.
    C("chunk-size-5000-zeros", put(TE, b"0" * 5000 + b"5\r\nhello\r\n0\r\n"
                                   b"\r\n"), (201, 400), (400,), write=True,
      stored=b"hello"),
    # RFC 9112 7.1: chunk CRLF after exactly chunk-size bytes of data.
    C("chunk-data-too-long", put(TE, b"3\r\nhello\r\n0\r\n\r\n"), 400, MUST,
      write=True),
    C("chunk-data-too-short", put(TE, b"7\r\nhello\r\n0\r\n\r\n"), 400,
      MUST, write=True),
    C("chunk-no-crlf-after-data", put(TE, b"5\r\nhello0\r\n\r\n"), 400,
      MUST, write=True),
    # RFC 9112 2.2 allows a bare LF for the start-line and fields only:
    # in chunk framing a lone LF or CR is a framing error.
    C("chunk-bare-lf-after-size", put(TE, b"5\nhello\r\n0\r\n\r\n"), 400,
      MUST, write=True),
    C("chunk-bare-cr-after-size", put(TE, b"5\rhello\r\n0\r\n\r\n"), 400,
      MUST, write=True),
    C("chunk-bare-lf-after-data", put(TE, b"5\r\nhello\n0\r\n\r\n"), 400,
      MUST, write=True),
    C("chunk-bare-lf-after-last", put(TE, b"5\r\nhello\r\n0\n\r\n"), 400,
      MUST, write=True),
    # No last chunk: the follow-up's "G" is no hex digit.
    C("chunk-no-last-chunk", put(TE, b"5\r\nhello\r\n"), 400, MUST,
      write=True),
    # No final CRLF: the follow-up's request line is read as a trailer
    # field, which it is not (no colon after a token): 400.
    C("chunk-no-final-crlf", put(TE, b"5\r\nhello\r\n0\r\n"), 400, MUST,
      write=True),

    # --- chunk extensions ------------------------------------------------
    # RFC 9112 7.1.1: chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS val ] );
    # unknown extensions MUST be ignored.
    C("ext-name", put(TE, chunk(b"hello", b";a") + b"0\r\n\r\n"), 201, MAY,
      write=True, stored=b"hello"),
    C("ext-token-value", put(TE, chunk(b"hello", b";a=b;c=d") +
                             b"0\r\n\r\n"), 201, MAY, write=True,
      stored=b"hello"),
    C("ext-bws", put(TE, chunk(b"hello", b" ; a = b\t;\tc") + b"0\r\n\r\n"),
      201, MAY, write=True, stored=b"hello"),
    C("ext-quoted", put(TE, chunk(b"hello", b';a="b; c\\"d"') +
                        b"0\r\n\r\n"), 201, MAY, write=True,
      stored=b"hello"),
    C("ext-on-last-chunk", put(TE, chunk(b"hello") + b"0;a=b\r\n\r\n"), 201,
      MAY, write=True, stored=b"hello"),
    C("ext-no-name", put(TE, chunk(b"hello", b";") + b"0\r\n\r\n"), 400,
      MUST, write=True),
    C("ext-equals-no-name", put(TE, chunk(b"hello", b";=b") + b"0\r\n\r\n"),
      400, MUST, write=True),
    C("ext-empty-value", put(TE, chunk(b"hello", b";a=") + b"0\r\n\r\n"),
      400, MUST, write=True),
    C("ext-space-in-value", put(TE, chunk(b"hello", b";a=b c") +
                                b"0\r\n\r\n"), 400, MUST, write=True),
    C("ext-unterminated-quote", put(TE, chunk(b"hello", b';a="b') +
                                    b"0\r\n\r\n"), 400, MUST, write=True),
    C("ext-nul", put(TE, chunk(b"hello", b";a\x00") + b"0\r\n\r\n"), 400,
      MUST, write=True),
    C("ext-control-in-value", put(TE, chunk(b"hello", b";a=\x01") +
                                  b"0\r\n\r\n"), 400, MUST, write=True),
    # RFC 9112 7.1.1: a server ought to bound extensions and answer 4xx.
    C("ext-5000-bytes", put(TE, chunk(b"hello", b";a=" + b"b" * 5000) +
                            b"0\r\n\r\n"), (400, 413, 431), MUST,
      write=True),

    # --- trailers --------------------------------------------------------
    # RFC 9112 7.1.2, RFC 9110 6.5.1: trailer fields are field lines; a
    # framing field in them is never merged into the head: ignored.
    C("trailer-field", put(TE, chunk(b"hello") + b"0\r\nX-T: v\r\n\r\n"),
      201, MAY, write=True, stored=b"hello"),
    C("trailer-content-length", put(TE, chunk(b"hello") +
                                    b"0\r\nContent-Length: 60\r\n\r\n"),
      201, MAY, write=True, stored=b"hello"),
    C("trailer-transfer-encoding", put(TE, chunk(b"hello") + b"0\r\n" + TE +
                                       b"\r\n"), 201, MAY, write=True,
      stored=b"hello"),
    # RFC 9112 5.1: whitespace before the colon: 400.
    C("trailer-ws-before-colon", put(TE, chunk(b"hello") +
                                     b"0\r\nX-T : v\r\n\r\n"), 400, MUST,
      write=True),
    # RFC 9112 5.2: obs-fold: 400, or folded into SP.
    C("trailer-obs-fold", put(TE, chunk(b"hello") +
                              b"0\r\nX-T: v\r\n w\r\n\r\n"), (400, 201),
      (400,), write=True, stored=b"hello"),
    # RFC 9110 5.5: NUL in a value: refused, or read as SP.
    C("trailer-nul", put(TE, chunk(b"hello") + b"0\r\nX-T: a\x00b\r\n\r\n"),
      (400, 201), (400,), write=True, stored=b"hello"),
    C("trailer-no-colon", put(TE, chunk(b"hello") + b"0\r\nX-T\r\n\r\n"),
      400, MUST, write=True),
    C("trailer-10k", put(TE, chunk(b"hello") + b"0\r\nX-T: %s\r\n\r\n" %
                         (b"v" * 10000)), (400, 413, 431), MUST, write=True),

    # --- Expect ----------------------------------------------------------
    # RFC 9110 10.1.1: a server MAY skip the 100 when there is no content.
    C("expect-get", get(fields=b"Expect: 100-continue\r\n"), 200, MAY),
    # The field value is case-insensitive.
    C("expect-mixed-case", put(b"Expect: 100-Continue\r\n" + CL5, b"hello"),
      201, MAY, write=True, stored=b"hello"),
    C("expect-twice", put(b"Expect: 100-continue\r\nExpect: 100-continue"
                          b"\r\n" + CL5, b"hello"), 201, MAY, write=True,
      stored=b"hello"),
    C("expect-chunked", put(b"Expect: 100-continue\r\n" + TE, HELLO), 201,
      MAY, write=True, stored=b"hello"),
    # A member other than 100-continue MAY get 417 (RFC 9110 15.5.18).
    C("expect-unknown", get(fields=b"Expect: 200-ok\r\n"), (417, 200), MAY),
    C("expect-continue-and-unknown",
      get(fields=b"Expect: 100-continue, x\r\n"), (417, 200), MAY),
    C("expect-with-parameter",
      get(fields=b"Expect: 100-continue; a=b\r\n"), (417, 200), MAY),
    # RFC 9110 5.6.1.2: empty list elements are ignored; an empty Expect
    # holds no expectation, so nothing can fail (15.5.18).
    C("expect-empty", get(fields=b"Expect:\r\n"), 200, MAY),
    # RFC 9110 10.1.1: HTTP/1.0 MUST ignore 100-continue, and (15.2) no
    # 1xx goes to an HTTP/1.0 client.
    C("expect-http10-put", put(b"Expect: 100-continue\r\n" + CL5, b"hello",
                               version=b"HTTP/1.0"), 201, MUST, write=True,
      stored=b"hello", interim=False),
    # Refused from the head alone: the final status, not 100 (the
    # contract's reading of RFC 9110 10.1.1), and the body left unread.
    C("expect-refused-bad-cl", put(b"Expect: 100-continue\r\n"
                                   b"Content-Length: +5\r\n", b"hello"), 400,
      MUST, write=True, interim=False),
    C("expect-refused-coding", put(b"Expect: 100-continue\r\n"
                                   b"Transfer-Encoding: gzip, chunked\r\n",
                                   HELLO), 501, MAY, write=True,
      interim=False),

    # --- Connection and Upgrade ------------------------------------------
    # RFC 9112 9.6: after "close" the server MUST close and MUST NOT
    # process a further request on the connection.
    C("connection-close", get(fields=b"Connection: close\r\n"), 200, MUST),
    C("connection-close-uppercase", get(fields=b"Connection: CLOSE\r\n"),
      200, MUST),
    C("connection-keep-alive-close",
      get(fields=b"Connection: keep-alive, close\r\n"), 200, MUST),
    C("connection-close-second-line",
      get(fields=b"Connection: keep-alive\r\nConnection: close\r\n"), 200,
      MUST),
    # RFC 9112 9.3: HTTP/1.0 persists only with keep-alive.
    C("http10-default-close", get(version=b"HTTP/1.0"), 200, MUST),
    C("http10-keep-alive", get(version=b"HTTP/1.0",
                               fields=b"Connection: keep-alive\r\n"), 200,
      MAY),
    # RFC 9110 7.8: a server MAY ignore Upgrade; RFC 9113 3.1: h2c is not
    # for TLS.  The answer is HTTP/1.1 and the next request too.
    C("upgrade-h2c", get(fields=b"Connection: Upgrade, HTTP2-Settings\r\n"
                         b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__"
                         b"\r\n"), 200, MAY),
    C("upgrade-websocket", get(fields=b"Connection: Upgrade\r\n"
                               b"Upgrade: websocket\r\nSec-WebSocket-Key: "
                               b"dGhlIHNhbXBsZSBub25jZQ==\r\n"
                               b"Sec-WebSocket-Version: 13\r\n"), 200, MAY),

    # --- huge numbers in Range -------------------------------------------
    # RFC 9110 14.1.1: a last-pos past the end means the end; 14.2: a
    # server MAY ignore Range (200).  No overflow either way.
    C("range-huge-last", get(fields=b"Range: bytes=0-%s\r\n" % (b"9" * 40)),
      (206, 200), MAY),
    C("range-huge-suffix", get(fields=b"Range: bytes=-%s\r\n" % (b"9" * 40)),
      (206, 200), MAY),
    # RFC 9110 15.5.17: a first-pos past the end is unsatisfiable.
    C("range-huge-first", get(fields=b"Range: bytes=%s-\r\n" % (b"9" * 40)),
      (416, 200), MAY),
    C("range-2-to-the-64", get(fields=b"Range: bytes=18446744073709551615-"
                                      b"18446744073709551616\r\n"),
      (416, 200), MAY),

    # --- sizes (limits in http.h) ----------------------------------------
    # RFC 9112 3: 8000 octets of request line SHOULD be supported, and a
    # target longer than the server parses MUST get 414.
    C("target-at-limit", get(long_target(MAX_TARGET)), 200, MAY),
    C("target-past-limit", get(long_target(MAX_TARGET + 1)), 414, MAY),
    C("target-far-past-limit", get(long_target(40000)), 414, MAY),
    # RFC 6585 5: header fields too large: 431.
    C("head-at-limit", padded_head(MAX_HEAD), 200, MAY),
    C("head-past-limit", padded_head(MAX_HEAD + 1), 431, MAY),
    C("head-one-huge-field", padded_head(3 * MAX_HEAD), 431, MAY),
    C("fields-at-limit", with_fields(MAX_FIELDS), 200, MAY),
    C("fields-past-limit", with_fields(MAX_FIELDS + 1), 431, MAY),
    C("field-name-8000", get(fields=b"X-%s: v\r\n" % (b"n" * 8000)), 200,
      MAY),
    C("version-junk-20000", get(version=b"HTTP/1.1" + b"1" * 20000), 400,
      MUST),
]


def test_corpus_is_complete():
    ids = [p.id for p in CASES]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    assert len(CASES) >= 80


# --- running one case --------------------------------------------------------

@pytest.fixture
def share(tmp):
    """The served folder, with the probe, the smuggling bait and a folder;
    beside it a file that no request may reach."""
    root = make_dir(tmp, "share")
    write_file(root / "probe.txt", PROBE)
    write_file(root / "smuggled.txt", SMUGGLED)
    make_dir(root, "folder")
    write_file(tmp / "outside.txt", OUTSIDE)
    return root


def first_line(data):
    return data.lstrip(b"\r\n").split(b"\r\n", 1)[0].split(b"\n", 1)[0]


def read_answers(rd, method, wait):
    """Every response until the server closes or WAIT passes.  Returns
    (finals, interims, how): how is "closed" or "open"."""
    finals, interims = [], []
    rd.deadline = time.monotonic() + wait
    while True:
        try:
            r = rd.read_response(method if not finals else "GET")
        except (socket.timeout, TimeoutError):
            return finals, interims, "open"
        if r is None:
            return finals, interims, "closed"
        if 100 <= r.status < 200:
            interims.append(r)
        else:
            finals.append(r)


def exchange_case(port, case, wait=None):
    """Send the case and the follow-up in one write; read what comes."""
    method = "HEAD" if first_line(case.data).startswith(b"HEAD ") else "GET"
    if wait is None:
        wait = DATA_WAIT if case.follow == "data" else READ_WAIT
    sock = tls_connect(port)
    try:
        try:
            sock.sendall(case.data + FOLLOW)
        except SEND_ERRORS:
            pass        # refused and closed mid-request; read the answer
        rd = ResponseReader(sock, time.monotonic() + wait)
        try:
            return read_answers(rd, method, wait)
        except HTTPError as e:
            pytest.fail("not an HTTP/1.x answer: %s" % e)
    finally:
        sock.close()


def raw(r):
    head = "%s %d %s\r\n" % (r.version, r.status, r.reason)
    head += "".join("%s: %s\r\n" % nv for nv in r.headers)
    return head.encode("latin-1") + b"\r\n" + r.body


def says_close(r):
    return "close" in (r.header("Connection") or "").lower()


def check_exchange(case, finals, interims, how):
    """Everything the wire shows, for one case."""
    for r in finals + interims:
        for bad in (SMUGGLED, OUTSIDE) + case.forbid:
            assert bad not in raw(r), "%r served: %r" % (bad, raw(r)[:300])
    if not case.interim or b" HTTP/1.0" in first_line(case.data):
        assert not interims, "a 1xx where none may be sent (RFC 9110 " \
            "15.2, 10.1.1): %r" % interims
    if case.follow == "data":
        check_data(case, finals, how)
    else:
        check_answered(case, finals, how)


def check_first(case, r):
    """The answer to the hostile request itself."""
    assert r.status in case.status, \
        "status %d, the RFC asks for %s" % (r.status, case.status)
    line = first_line(case.data)
    if line.startswith((b"GET ", b"HEAD ")) and r.status in (200, 206):
        if line.startswith(b"HEAD "):
            assert r.header("Content-Length") == str(len(PROBE)), r.headers
        else:
            assert r.body == PROBE, "wrong body %r" % r.body[:200]


def check_answered(case, finals, how):
    """Follow-up answered once and right, or the connection closed."""
    assert how == "closed", (
        "desynchronised: after %s the server neither answered the follow-up "
        "nor closed (it waits for bytes that are not coming)"
        % [r.status for r in finals])
    assert finals, "no answer at all"
    first, rest = finals[0], finals[1:]
    check_first(case, first)
    assert len(rest) <= 1, "answered %d requests after the first: %s" % (
        len(rest), [(r.status, r.body[:60]) for r in rest])
    must = case.close is True or (isinstance(case.close, tuple) and
                                  first.status in case.close)
    if rest:
        assert not must, "the connection must close after %d, but the " \
            "follow-up was answered" % first.status
        assert rest[0].status == 200 and rest[0].body == PROBE, \
            "the follow-up got %r" % rest[0]
        assert not says_close(first), "said close, then answered more"
    else:
        assert says_close(first), \
            "closed without saying Connection: close: %r" % first.headers


def check_data(case, finals, how):
    """The follow-up is body bytes: it must not be answered."""
    assert len(finals) <= 1, "the follow-up, which is body data, was " \
        "answered: %s" % [(r.status, r.body[:60]) for r in finals]
    if not finals:
        assert None in case.status, "no answer, and the server %s" % how
        return
    check_first(case, finals[0])
    if how == "closed":
        assert says_close(finals[0]), finals[0].headers


def disk_state(root):
    """The share, and what lies beside it (names, and the outside file)."""
    beside = sorted(p.name for p in root.parent.iterdir())
    return (tree_state(root, skip=("up.txt",)), beside,
            (root.parent / "outside.txt").read_bytes())


def check_upload(root, case, finals, before):
    """A 2xx stored exactly the framed body; anything else left nothing."""
    assert wait_no_temps(root, 5.0) == [], "upload temp left behind"
    target = root / "up.txt"
    ok = finals and 200 <= finals[0].status < 300
    if ok and case.stored is not None:
        assert target.read_bytes() == case.stored, "stored the wrong bytes"
    elif not ok:
        assert not target.exists(), "a refused upload left up.txt"


@pytest.mark.parametrize("case", CASES)
def test_hostile(ferry, wferry, share, case):
    srv = wferry(dir=share) if case.write else ferry(dir=share)
    before = disk_state(share)
    finals, interims, how = exchange_case(srv.port, case)

    check_exchange(case, finals, interims, how)
    if case.write:
        check_upload(share, case, finals, before)
    assert disk_state(share) == before, "files changed in or beside the share"

    # Still serving, and no worse for it.
    assert srv.running(), "ferry died:\n%s" % srv.stderr()[-3000:]
    assert fetch(srv.port, "/probe.txt").body == PROBE


# --- the checks can fail -----------------------------------------------------
# A corpus that passes proves something only if its checks catch a server
# that gets it wrong: here the real binary meets a wrong expectation.

def wrong(data, status, close, follow="answer"):
    return C("wrong", data, status, close, follow=follow).values[0]


def test_checks_catch_a_swallowed_follow_up(wferry, share):
    """A body announced longer than sent makes the follow-up body bytes;
    taken for a request that must be answered, the wait is a desync."""
    srv = wferry(dir=share)
    case = wrong(put(b"Content-Length: 500\r\n", b"hello"), 201, MAY)
    got = exchange_case(srv.port, case, wait=2.0)
    with pytest.raises(AssertionError, match="desynchronised"):
        check_exchange(case, *got)
    assert wait_no_temps(share, 5.0) == []


def test_checks_catch_an_answered_inner_request(ferry, share):
    """INNER sent openly is answered, and the checks see its bait."""
    srv = ferry(dir=share)
    case = wrong(get() + INNER, 200, MAY)
    got = exchange_case(srv.port, case)
    assert [r.status for r in got[0]] == [200, 200, 200]
    with pytest.raises(AssertionError, match="served"):
        check_exchange(case, *got)


def test_checks_catch_a_connection_kept(ferry, share):
    """A plain GET keeps the connection: expected to close, it fails."""
    srv = ferry(dir=share)
    case = wrong(get(), 200, MUST)
    got = exchange_case(srv.port, case)
    with pytest.raises(AssertionError, match="must close"):
        check_exchange(case, *got)


def test_checks_catch_an_answered_body(wferry, share):
    """Complete, the upload is answered, and so is the follow-up: taken
    for body bytes, that answer is one too many."""
    srv = wferry(dir=share)
    case = wrong(put(CL5, b"hello"), 201, MAY, follow="data")
    got = exchange_case(srv.port, case, wait=READ_WAIT)
    with pytest.raises(AssertionError, match="body data, was answered"):
        check_exchange(case, *got)
