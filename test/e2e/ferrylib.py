"""Clients and parsers shared by the end-to-end tests.

Everything here talks to a real ferry over real sockets: a byte-exact
HTTP/1.1 client on python's ssl module (for requests that curl would
tidy up), a response parser that knows when a body ends, and thin
wrappers around curl and openssl.  Every blocking call has a timeout.
The normal client that keeps downloading while hostile ones attack (a
Prober, and slowhttptest's command line) serves bench/hostile.py too,
against other servers, so it needs nothing but the standard library.
"""

import concurrent.futures
import csv
import email.utils
import hashlib
import os
import re
import resource
import socket
import ssl
import subprocess
import threading
import time

DEFAULT_TIMEOUT = 10.0


class HTTPError(Exception):
    """The server sent something that is not HTTP/1.x."""


def client_context(alpn=None):
    """A TLS client context that does not check the certificate."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


def tcp_connect(port, host="127.0.0.1", timeout=DEFAULT_TIMEOUT):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((host, port))
    return s


def tls_connect(port, host="127.0.0.1", timeout=DEFAULT_TIMEOUT, alpn=None):
    raw = tcp_connect(port, host, timeout)
    try:
        ctx = client_context(alpn)
        return ctx.wrap_socket(raw, server_hostname="localhost")
    except BaseException:
        raw.close()
        raise


class Response:
    def __init__(self, version, status, reason, headers, body):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers          # list of (name, value), as sent
        self.body = body

    def header(self, name):
        """The value of the first field NAME (case-insensitive), or None."""
        for n, v in self.headers:
            if n.lower() == name.lower():
                return v
        return None

    def header_all(self, name):
        return [v for n, v in self.headers if n.lower() == name.lower()]

    def has_header(self, name):
        return self.header(name) is not None

    def __repr__(self):
        return "<Response %d %r, %d headers, %d body bytes>" % (
            self.status, self.reason, len(self.headers), len(self.body))


class ResponseReader:
    """Read HTTP responses one after the other from a socket."""

    def __init__(self, sock, deadline):
        self.sock = sock
        self.buf = b""
        self.eof = False
        self.deadline = deadline

    def _fill(self):
        if self.eof:
            return False
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("response not complete in time")
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(1 << 20)
        except ConnectionResetError:
            data = b""
        except ssl.SSLError as e:
            # An abrupt close after the last record: treat as EOF.
            if "EOF" in str(e) or "UNEXPECTED" in str(e).upper():
                data = b""
            else:
                raise
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _need(self, n):
        while len(self.buf) < n:
            if not self._fill():
                raise HTTPError("connection closed with %d of %d bytes"
                                % (len(self.buf), n))

    def _line_end(self, start=0):
        while True:
            i = self.buf.find(b"\r\n", start)
            if i >= 0:
                return i
            if not self._fill():
                raise HTTPError("connection closed inside a line")

    def read_head(self):
        """Returns (version, status, reason, headers) or None at clean EOF."""
        while b"\r\n\r\n" not in self.buf:
            if not self._fill():
                if not self.buf:
                    return None
                raise HTTPError("connection closed inside a head: %r"
                                % self.buf[:200])
        end = self.buf.index(b"\r\n\r\n")
        head = self.buf[:end].decode("latin-1")
        self.buf = self.buf[end + 4:]
        lines = head.split("\r\n")
        m = re.match(r"^(HTTP/\d\.\d) (\d{3}) ?(.*)$", lines[0])
        if not m:
            raise HTTPError("bad status line %r" % lines[0])
        headers = []
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                raise HTTPError("bad header line %r" % line)
            headers.append((name, value.strip(" \t")))
        return m.group(1), int(m.group(2)), m.group(3), headers

    def read_body_len(self, n):
        self._need(n)
        body, self.buf = self.buf[:n], self.buf[n:]
        return body

    def read_chunked(self):
        body = b""
        while True:
            i = self._line_end()
            size = int(self.buf[:i].split(b";")[0], 16)
            self.buf = self.buf[i + 2:]
            if size == 0:
                while True:     # trailers up to the empty line
                    i = self._line_end()
                    line, self.buf = self.buf[:i], self.buf[i + 2:]
                    if not line:
                        return body
            self._need(size + 2)
            body += self.buf[:size]
            self.buf = self.buf[size + 2:]

    def read_to_eof(self):
        while self._fill():
            pass
        body, self.buf = self.buf, b""
        return body

    def read_response(self, method="GET"):
        head = self.read_head()
        if head is None:
            return None
        version, status, reason, headers = head
        r = Response(version, status, reason, headers, b"")
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            return r
        te = r.header("Transfer-Encoding")
        cl = r.header("Content-Length")
        if te and "chunked" in te.lower():
            r.body = self.read_chunked()
        elif cl is not None:
            r.body = self.read_body_len(int(cl))
        else:
            r.body = self.read_to_eof()
        return r

    def at_eof(self, wait=0.5):
        """True if the peer closed (no bytes pending) within WAIT seconds."""
        if self.buf:
            return False
        old = self.deadline
        self.deadline = time.monotonic() + wait
        try:
            return not self._fill()
        except (socket.timeout, TimeoutError):
            return False
        finally:
            self.deadline = old


def methods_of(data):
    """The method of each request in DATA (for HEAD-aware parsing)."""
    out = []
    for m in re.finditer(rb"(?:^|\r\n\r\n|\n\n)([A-Z]+) ", data):
        out.append(m.group(1).decode())
    return out or ["GET"]


def exchange(port, data, count=1, methods=None, timeout=DEFAULT_TIMEOUT,
             host="127.0.0.1", close_wait=2.0, sock=None):
    """Send DATA in one write over a new TLS connection and read COUNT
    responses.  Returns (responses, closed): closed says whether the server
    closed the connection within CLOSE_WAIT seconds after the last one."""
    own = sock is None
    if own:
        sock = tls_connect(port, host, timeout)
    try:
        sock.sendall(data)
        rd = ResponseReader(sock, time.monotonic() + timeout)
        methods = methods or ["GET"] * count
        out = []
        for i in range(count):
            r = rd.read_response(methods[i] if i < len(methods) else "GET")
            if r is None:
                break
            out.append(r)
        closed = rd.at_eof(close_wait) if close_wait else False
        return out, closed
    finally:
        if own:
            sock.close()


def build_request(path, method="GET", headers=None, host=None, port=None,
                  version="HTTP/1.1", close=True):
    """Bytes of a request; HEADERS is a list of (name, value) or a dict."""
    if isinstance(headers, dict):
        headers = list(headers.items())
    headers = list(headers or [])
    names = {n.lower() for n, _ in headers}
    lines = ["%s %s %s" % (method, path, version)]
    if "host" not in names and version == "HTTP/1.1":
        lines.append("Host: %s" % (host or "localhost:%s" % port))
    if close and "connection" not in names and version == "HTTP/1.1":
        lines.append("Connection: close")
    for n, v in headers:
        lines.append("%s: %s" % (n, v))
    out = "\r\n".join(lines) + "\r\n\r\n"
    return out.encode("utf-8", "surrogateescape")


def fetch(port, path, method="GET", headers=None, timeout=DEFAULT_TIMEOUT,
          host="127.0.0.1"):
    """One request on its own connection; returns the Response."""
    req = build_request(path, method, headers, port=port)
    rs, _ = exchange(port, req, 1, [method], timeout, host, close_wait=0)
    if not rs:
        raise HTTPError("no response to %s %s" % (method, path))
    return rs[0]


def wait_closed(sock, timeout):
    """Read and discard until the peer closes.  Returns the seconds it
    took, or None if it was still open after TIMEOUT."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        sock.settimeout(left)
        try:
            data = sock.recv(65536)
        except (socket.timeout, TimeoutError):
            return None
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - t0
        except ssl.SSLError:
            return time.monotonic() - t0
        if not data:
            return time.monotonic() - t0


def still_open(sock, wait=0.3):
    """True if SOCK has not been closed by the peer (nothing to read)."""
    sock.settimeout(wait)
    try:
        data = sock.recv(1, socket.MSG_PEEK) if not isinstance(
            sock, ssl.SSLSocket) else sock.recv(1)
    except (socket.timeout, TimeoutError):
        return True
    except (OSError, ssl.SSLError):
        return False
    return bool(data)


def parse_multipart(content_type, body):
    """Parts of a multipart/byteranges body: list of (first, last, total,
    part_content_type, data).  Slices by Content-Range, not by searching."""
    m = re.search(r'boundary="?([^";]+)"?', content_type)
    assert m, "no boundary in %r" % content_type
    delim = b"--" + m.group(1).encode()
    parts = []
    pos = body.index(delim)
    assert body[:pos].strip(b"\r\n") == b"", "junk before first boundary"
    while True:
        pos += len(delim)
        if body[pos:pos + 2] == b"--":
            break
        assert body[pos:pos + 2] == b"\r\n", "no CRLF after boundary"
        end = body.index(b"\r\n\r\n", pos + 2)
        hdrs = {}
        for line in body[pos + 2:end].decode("latin-1").split("\r\n"):
            n, _, v = line.partition(":")
            hdrs[n.strip().lower()] = v.strip()
        cr = re.match(r"bytes (\d+)-(\d+)/(\d+|\*)$",
                      hdrs.get("content-range", ""))
        assert cr, "part without Content-Range: %r" % hdrs
        first, last = int(cr.group(1)), int(cr.group(2))
        data_start = end + 4
        data = body[data_start:data_start + last - first + 1]
        parts.append((first, last, cr.group(3), hdrs.get("content-type"),
                      data))
        pos = data_start + last - first + 1
        assert body[pos:pos + 2] == b"\r\n", "no CRLF after part data"
        pos += 2
        assert body[pos:pos + len(delim)] == delim, "no boundary after part"
    return parts


def http_date(t):
    return email.utils.formatdate(t, usegmt=True)


def run(cmd, timeout=60, input=None, **kw):
    """subprocess.run with a timeout and captured bytes output."""
    return subprocess.run(cmd, input=input, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout, **kw)


def curl(args, timeout=60, cacert=None):
    """Run curl quietly; -k unless a CA certificate is given."""
    base = ["curl", "-sS", "--max-time", str(timeout)]
    base += ["--cacert", str(cacert)] if cacert else ["-k"]
    return run(base + list(args), timeout=timeout + 10)


def curl_status(url, extra=(), timeout=30):
    """(http_code, body) of a curl GET with -k and --path-as-is."""
    r = curl(["--path-as-is", "-g", "-o", "-", "-w", "\n%{http_code}",
              *extra, url], timeout=timeout)
    body, _, code = r.stdout.rpartition(b"\n")
    return int(code or b"0"), body, r


def s_client(port, args=(), stdin=b"", timeout=20, host="127.0.0.1"):
    """openssl s_client against the server; returns (rc, text)."""
    cmd = ["openssl", "s_client", "-connect", "%s:%d" % (host, port),
           "-servername", "localhost", *args]
    r = run(cmd, timeout=timeout, input=stdin)
    return r.returncode, (r.stdout + r.stderr).decode("utf-8", "replace")


def handshake_ok(text):
    """Whether s_client's output shows a negotiated cipher."""
    m = re.search(r"Cipher is (\S+)", text)
    return bool(m) and m.group(1) != "(NONE)"


def write_file(path, data, mtime=None):
    if isinstance(data, str):
        data = data.encode()
    with open(path, "wb") as f:
        f.write(data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return data


# --- uploads -----------------------------------------------------------------

UPLOAD_TMP_PREFIX = ".ferry-upload-"
SEND_ERRORS = (BrokenPipeError, ConnectionResetError, ssl.SSLError)


class Upload:
    """A request with a body (PUT by default) on its own TLS connection,
    sent piece by piece: the head first, then whatever the test chooses,
    so that it can read the answer to the head before any byte of the
    body goes out, stop midway, or go silent.  LENGTH None means chunked."""

    def __init__(self, port, path, length=None, headers=(), expect=False,
                 method="PUT", version="HTTP/1.1", timeout=DEFAULT_TIMEOUT,
                 host="127.0.0.1"):
        hdrs = list(headers.items() if isinstance(headers, dict)
                    else headers)
        self.chunked = length is None
        if self.chunked:
            hdrs.append(("Transfer-Encoding", "chunked"))
        else:
            hdrs.append(("Content-Length", str(length)))
        if expect:
            hdrs.append(("Expect", "100-continue"))
        self.method = method
        self.sent = 0
        self.sock = tls_connect(port, host, timeout)
        self.reader = ResponseReader(self.sock, time.monotonic() + timeout)
        self.sock.sendall(build_request(path, method, hdrs, port=port,
                                        version=version))

    def send(self, data):
        """Send DATA (as one chunk when chunked).  False if the server
        has closed the connection meanwhile."""
        if not data:
            return True
        wire = (b"%x\r\n%s\r\n" % (len(data), data)) if self.chunked \
            else data
        try:
            self.sock.sendall(wire)
        except SEND_ERRORS:
            return False
        self.sent += len(data)
        return True

    def finish(self):
        """The last chunk, when chunked."""
        if self.chunked:
            try:
                self.sock.sendall(b"0\r\n\r\n")
            except SEND_ERRORS:
                return False
        return True

    def response(self, timeout=DEFAULT_TIMEOUT):
        """The next response (an interim 1xx too), or None at EOF."""
        self.reader.deadline = time.monotonic() + timeout
        return self.reader.read_response(self.method)

    def final(self, timeout=DEFAULT_TIMEOUT):
        """The final response; the interim ones are in .interim."""
        interim = []
        while True:
            r = self.response(timeout)
            if r is None or r.status >= 200:
                if r is not None:
                    r.interim = interim
                return r
            interim.append(r)

    def answered(self, wait=0.0):
        """True once the server has sent something (or closed)."""
        if self.reader.buf or self.reader.eof:
            return True
        old = self.reader.deadline
        self.reader.deadline = time.monotonic() + wait
        try:
            self.reader._fill()
            return True
        except (socket.timeout, TimeoutError):
            return False
        finally:
            self.reader.deadline = old

    def close(self, reset=False):
        """Go away without a word: FIN, or RST when RESET."""
        if reset:
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                     b"\x01\x00\x00\x00\x00\x00\x00\x00")
            except OSError:
                pass
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.sock.close()


def put(port, path, body=b"", headers=(), expect=False, chunked=False,
        method="PUT", timeout=DEFAULT_TIMEOUT, version="HTTP/1.1"):
    """One request with BODY on its own connection; the final Response,
    with the interim ones in .interim.  With EXPECT the body goes only
    after a 100; a final status instead ends the exchange."""
    with Upload(port, path, None if chunked else len(body), headers,
                expect, method, version, timeout) as up:
        if expect:
            r = up.response(timeout)
            if r is None or r.status != 100:
                if r is not None:
                    r.interim = []
                return r
            interim = [r]
        else:
            interim = []
        step = 256 * 1024 if chunked else len(body) or 1
        for i in range(0, len(body), step):
            if not up.send(body[i:i + step]):
                break
        up.finish()
        r = up.final(timeout)
        if r is not None:
            r.interim = interim + r.interim
        return r


def upload_temps(root):
    """Every upload temporary file below ROOT (symlinks not followed)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            if n.startswith(UPLOAD_TMP_PREFIX):
                out.append(os.path.join(dirpath, n))
    return out


def wait_no_temps(root, wait=3.0):
    """Temporary files still below ROOT after up to WAIT seconds."""
    deadline = time.monotonic() + wait
    while True:
        left = upload_temps(root)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def wait_temp(root, min_size=1, wait=5.0):
    """The first upload temporary file below ROOT holding at least
    MIN_SIZE bytes, or None after WAIT seconds."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        for p in upload_temps(root):
            try:
                if os.lstat(p).st_size >= min_size:
                    return p
            except FileNotFoundError:
                pass
        time.sleep(0.02)
    return None


def tree_state(root, skip=()):
    """{relative path: what it is} for everything below ROOT, symlinks
    not followed: ('d', mode), ('l', target) or ('f', mode, size, mtime,
    sha256).  Names in SKIP at the top are left out."""
    state = {}
    for dirpath, dirnames, filenames in os.walk(root):
        if dirpath == str(root):
            dirnames[:] = [d for d in dirnames if d not in skip]
            filenames = [f for f in filenames if f not in skip]
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            rel = os.path.relpath(p, root)
            st = os.lstat(p)
            if os.path.islink(p):
                state[rel] = ("l", os.readlink(p))
            elif os.path.isdir(p):
                state[rel] = ("d", st.st_mode)
            else:
                with open(p, "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
                state[rel] = ("f", st.st_mode, st.st_size, st.st_mtime_ns,
                              digest)
    return state


# --- huge sparse files (the 5 GiB upload tests) ---------------------------

KIB = 1024
MIB = 1024 ** 2
GIB = 1024 ** 3
HUGE = 5 * GIB
HUGE_MARKS = [(0, b"START"), (4 * GIB - 3, b"ACROSS-4G"),
              (4 * GIB + 12345, b"PAST-4G"), (HUGE - 3, b"END")]


def sparse_with_marks(path):
    """A HUGE-byte sparse file with HUGE_MARKS written at their offsets."""
    with open(path, "wb") as fh:
        fh.truncate(HUGE)
        for off, mark in HUGE_MARKS:
            fh.seek(off)
            fh.write(mark)


def sha256_file(path):
    """SHA-256 of one file, read in 1 MiB blocks: hashlib uses the CPU's
    SHA instructions where coreutils' sha256sum does not (5x faster here)
    and lets go of the GIL while it hashes."""
    digest = hashlib.sha256()
    block = bytearray(1 << 20)
    view = memoryview(block)
    with open(path, "rb", buffering=0) as f:
        while (n := f.readinto(block)) > 0:
            digest.update(view[:n])
    return digest.hexdigest()


def sha256sum(paths, timeout=600):
    """SHA-256 of each path, the files read in parallel."""
    with concurrent.futures.ThreadPoolExecutor(len(paths)) as pool:
        jobs = [pool.submit(sha256_file, p) for p in paths]
        return [j.result(timeout=timeout) for j in jobs]


# --- a normal client, and hostile ones -------------------------------------
# (test_hostile_clients.py, and bench/hostile.py against other servers too)

PROBE_CTX = client_context()


def tls(port, timeout=5.0):
    """A TLS connection to 127.0.0.1:PORT, the certificate unchecked."""
    raw = tcp_connect(port, timeout=timeout)
    try:
        return PROBE_CTX.wrap_socket(raw, server_hostname="localhost")
    except BaseException:
        raw.close()
        raise


def p95(values):
    """Nearest-rank 95th percentile (NaN for no values)."""
    s = sorted(values)
    return s[max(0, -(-len(s) * 95 // 100) - 1)] if s else float("nan")


def get(sock, path, port, keep):
    """GET PATH on SOCK; the body of a 200, else what came instead.  The
    body is read into one buffer, so that the client's own copying does
    not weigh in the latency it measures."""
    return get_response(sock, path, port, keep)[0]


def get_response(sock, path, port, keep):
    """What get() returns, and whether the connection ends with this
    answer: the server said Connection: close, or closed it."""
    sock.sendall(build_request(path, port=port, close=not keep))
    head = bytearray()
    while b"\r\n\r\n" not in head:
        data = sock.recv(65536)
        if not data:
            return "closed after %d bytes of head" % len(head), True
        head += data
    end = head.index(b"\r\n\r\n") + 4
    lines = bytes(head[:end]).decode("latin-1").split("\r\n")
    closing = any(n.strip().lower() == "connection" and
                  "close" in v.lower()
                  for n, _, v in (l.partition(":") for l in lines[1:]))
    if not lines[0].startswith("HTTP/1.1 200 "):
        return lines[0], closing
    length = [int(l.split(":", 1)[1]) for l in lines
              if l.lower().startswith("content-length:")][0]
    body = bytearray(length)
    view = memoryview(body)
    got = min(length, len(head) - end)
    view[:got] = head[end:end + got]
    while got < length:
        n = sock.recv_into(view[got:])
        if n == 0:
            return "closed after %d of %d body bytes" % (got, length), True
        got += n
    return bytes(body), closing


class Prober:
    """Downloads each of FILES ({path: bytes}) in turn, in two threads:
    one opens a new connection per request, the other keeps one alive
    (a new one when the server says Connection: close, as nginx and
    lighttpd do after 1,000 requests).  Each request is timed; a wrong
    answer or an error is recorded."""

    def __init__(self, port, files):
        self.port = port
        self.files = files
        self.samples = {}
        self.errors = []
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._loop, args=(m,),
                                         daemon=True)
                        for m in ("new", "keep")]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(15)
        assert not any(t.is_alive() for t in self.threads), "prober hung"

    def _loop(self, mode):
        sock = None
        while not self.stopping.is_set():
            for path, want in self.files.items():
                t0 = time.monotonic()
                try:
                    if sock is None:
                        sock = tls(self.port)
                    got, closing = get_response(sock, path, self.port,
                                                mode == "keep")
                except Exception as e:      # any failure is a result
                    got, closing = e, True
                took = time.monotonic() - t0
                if got != want:
                    self.errors.append((mode, path, repr(got)[:200]))
                if sock is not None and (closing or got != want or
                                         mode == "new"):
                    sock.close()
                    sock = None
                self.samples.setdefault((mode, path), []).append(took)
                time.sleep(0.01)
        if sock is not None:
            sock.close()


def probe_for(port, files, seconds):
    """A Prober run for SECONDS, stopped."""
    p = Prober(port, files).start()
    time.sleep(seconds)
    p.stop()
    return p


def share_files(folder):
    """A small file and a 1 MiB one in FOLDER: {path: bytes}, for a
    Prober."""
    files = {"/small.txt": b"small file\n",
             "/big.bin": os.urandom(MIB)}
    for path, data in files.items():
        write_file(os.path.join(folder, path[1:]), data)
    return files


SLOW_CONNS = 500        # connections per attack
SLOW_MODES = {
    # mode: (arguments, target)
    "slowloris": (["-H", "-i", "5"], "/big.bin"),
    "slow-body": (["-B", "-t", "PUT", "-s", str(MIB), "-i", "5"],
                  "/slow.bin"),
    "slow-read": (["-X", "-k", "3", "-n", "1", "-w", "512", "-y", "1024",
                   "-z", "32"], "/big.bin"),
    # HEAD, slowhttptest's choice: the cost of the ranges, not of the
    # bytes (its Range field holds "5-0", so a GET is answered whole
    # with 200, which makes it a plain download flood).  -b 1500 keeps
    # the field within ferry's 16 KiB head.
    "range": (["-R", "-a", "5", "-b", "1500"], "/big.bin"),
}


def slowhttptest_cmd(mode, port, prefix, seconds, conns=SLOW_CONNS):
    """slowhttptest in MODE against 127.0.0.1:PORT for SECONDS, its
    statistics to PREFIX.csv.  All CONNS connections in the first
    second, except for the range requests, which are answered at once:
    those are spread over the run so that it lasts.  (At once they would
    make a burst of 500 TLS handshakes, which measures the CPU, not the
    ranges; the other runs begin with such a burst anyway.)"""
    args, target = SLOW_MODES[mode]
    rate = conns if mode != "range" else conns // seconds + 1
    return ["slowhttptest", *args, "-c", str(conns), "-r",
            str(rate), "-l", str(seconds), "-p", "5", "-g",
            "-o", str(prefix), "-u",
            "https://127.0.0.1:%d%s" % (port, target)]


def slowhttptest_peak(csv_path, column="Connected"):
    """The highest COLUMN in slowhttptest's statistics: by default the
    most connections it had open at once ("Closed": how many the server
    had closed by the end)."""
    with open(csv_path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    return max((int(r[column]) for r in rows), default=0)


def raise_nofile(need):
    """Raise our descriptor limit to NEED, the hard one too where we may
    (ferry inherits it and sizes its own limit to it).  Returns the old
    one."""
    old = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE,
                           (need, max(need, old[1])))
    except (ValueError, OSError):       # no CAP_SYS_RESOURCE
        resource.setrlimit(resource.RLIMIT_NOFILE,
                           (min(need, old[1]), old[1]))
    return old


def open_tls_many(port, count, threads=8, timeout=60, deadline=None):
    """COUNT handshakes from a few threads, each within TIMEOUT seconds,
    none begun after DEADLINE (time.monotonic()); the sockets, or the
    errors."""
    def one(_):
        if deadline is not None and time.monotonic() > deadline:
            return TimeoutError("not tried: past the deadline")
        try:
            return tls(port, timeout=timeout)
        except (OSError, ssl.SSLError) as e:
            return e

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, range(count)))


def closed_now(sock):
    """Whether the peer has closed SOCK (a FIN or reset waiting), seen
    on a duplicate of its descriptor without reading a byte."""
    raw = socket.socket(fileno=os.dup(sock.fileno()))
    try:
        return raw.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        raw.close()
