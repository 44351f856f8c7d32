"""GET and HEAD on files: fields, types, conditionals, files over 4 GiB."""

import os
import re
import time

import pytest

from ferrylib import curl, exchange, fetch, http_date, write_file

MTIME = 1700000000      # Tue, 14 Nov 2023 22:13:20 GMT


def norm_type(value):
    return re.sub(r"\s+", "", (value or "").lower())


@pytest.mark.parametrize("name,ctype", [
    ("index.html", "text/html;charset=utf-8"),
    ("style.css", "text/css;charset=utf-8"),
    ("notes.txt", "text/plain;charset=utf-8"),
    ("pic.png", "image/png"),
    ("data.zzqq", "application/octet-stream"),
    ("noext", "application/octet-stream"),
])
def test_content_type(srv, name, ctype):
    write_file(srv.path(name), b"\x89PNG..." if name.endswith(".png")
               else b"content")
    r = fetch(srv.port, "/" + name)
    assert r.status == 200
    assert norm_type(r.header("Content-Type")) == ctype, r.header(
        "Content-Type")


def test_file_fields(srv):
    body = os.urandom(12345)
    write_file(srv.path("f.bin"), body, mtime=MTIME)
    r = fetch(srv.port, "/f.bin")
    assert r.status == 200
    assert r.body == body
    assert r.header("Content-Length") == "12345"
    assert r.header("Accept-Ranges") == "bytes"
    etag = r.header("ETag")
    assert etag and re.match(r'^"[\x21\x23-\x7e]+"$', etag), etag
    assert r.header("Last-Modified") == http_date(MTIME)


def test_empty_file(srv):
    write_file(srv.path("empty.txt"), b"")
    r = fetch(srv.port, "/empty.txt")
    assert r.status == 200 and r.body == b""
    assert r.header("Content-Length") == "0"


def test_etag_changes_with_content(srv):
    p = srv.path("e.txt")
    write_file(p, "one", mtime=MTIME)
    e1 = fetch(srv.port, "/e.txt").header("ETag")
    assert fetch(srv.port, "/e.txt").header("ETag") == e1, "ETag not stable"
    write_file(p, "two", mtime=MTIME + 1)
    e2 = fetch(srv.port, "/e.txt").header("ETag")
    assert e1 != e2
    # Same size, same second, different nanoseconds: still a new tag.
    os.utime(p, ns=(MTIME * 10**9 + 1 + 10**9, MTIME * 10**9 + 1 + 10**9))
    e3 = fetch(srv.port, "/e.txt").header("ETag")
    assert e3 != e2


def test_if_none_match(srv):
    write_file(srv.path("c.txt"), "cached", mtime=MTIME)
    etag = fetch(srv.port, "/c.txt").header("ETag")
    for value in (etag, '"nope", ' + etag, "*", "W/" + etag):
        r = fetch(srv.port, "/c.txt", headers={"If-None-Match": value})
        assert r.status == 304, (value, r)
        assert r.body == b""
        assert r.header("ETag") == etag
    r = fetch(srv.port, "/c.txt", headers={"If-None-Match": '"other"'})
    assert r.status == 200 and r.body == b"cached"


def test_if_none_match_head(srv):
    write_file(srv.path("c.txt"), "cached")
    etag = fetch(srv.port, "/c.txt").header("ETag")
    r = fetch(srv.port, "/c.txt", "HEAD", headers={"If-None-Match": etag})
    assert r.status == 304


def test_if_modified_since(srv):
    write_file(srv.path("m.txt"), "mod", mtime=MTIME)
    for when, status in [(MTIME, 304), (MTIME + 3600, 304),
                         (MTIME - 1, 200), (MTIME - 86400 * 365, 200)]:
        r = fetch(srv.port, "/m.txt",
                  headers={"If-Modified-Since": http_date(when)})
        assert r.status == status, (http_date(when), r)
        if status == 200:
            assert r.body == b"mod"


@pytest.mark.parametrize("value", [
    "Tuesday, 14-Nov-23 22:13:20 GMT",      # RFC 850
    "Tue Nov 14 22:13:20 2023",             # asctime
])
def test_if_modified_since_old_formats(srv, value):
    write_file(srv.path("m.txt"), "mod", mtime=MTIME)
    r = fetch(srv.port, "/m.txt", headers={"If-Modified-Since": value})
    assert r.status == 304, r


def test_if_modified_since_invalid_ignored(srv):
    write_file(srv.path("m.txt"), "mod", mtime=MTIME)
    r = fetch(srv.port, "/m.txt", headers={"If-Modified-Since": "yesterday"})
    assert r.status == 200 and r.body == b"mod"


def test_if_none_match_wins_over_if_modified_since(srv):
    write_file(srv.path("m.txt"), "mod", mtime=MTIME)
    r = fetch(srv.port, "/m.txt", headers={
        "If-None-Match": '"other"', "If-Modified-Since": http_date(MTIME)})
    assert r.status == 200


def test_404(srv):
    r = fetch(srv.port, "/no/such/file.txt")
    assert r.status == 404
    assert r.header("Content-Length") == str(len(r.body))


def test_file_with_trailing_slash(srv):
    write_file(srv.path("a.txt"), "x")
    r = fetch(srv.port, "/a.txt/")
    assert r.status in (404, 301), r
    if r.status == 301:
        assert r.header("Location").endswith("/a.txt")


def test_curl_download_exact(srv, tmp):
    body = os.urandom(3 * 1024 * 1024 + 7)
    write_file(srv.path("big.bin"), body)
    out = tmp / "dl.bin"
    r = curl(["-o", str(out), srv.url + "/big.bin"], cacert=srv.cert)
    # --cacert with an IP URL: the SAN has 127.0.0.1.
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == body


# --- files over 4 GiB --------------------------------------------------------

SIZE_5G = 5 * 1024 ** 3
MARK_AT = 4 * 1024 ** 3 + 512 * 1024 ** 2        # 4.5 GiB
MARK = b"FERRY-MARK-AT-4.5-GiB:0123456789abcdef"
END_MARK = b"THE-END"


@pytest.fixture
def sparse5g(srv):
    p = srv.path("huge.bin")
    with open(p, "wb") as f:
        f.truncate(SIZE_5G)
        f.seek(MARK_AT)
        f.write(MARK)
        f.seek(SIZE_5G - len(END_MARK))
        f.write(END_MARK)
    return p


def test_5g_head_length(srv, sparse5g):
    r = fetch(srv.port, "/huge.bin", "HEAD")
    assert r.status == 200
    assert r.header("Content-Length") == str(SIZE_5G)


def test_5g_range_past_4g(srv, sparse5g):
    first, last = MARK_AT - 3, MARK_AT + len(MARK) + 2
    r = fetch(srv.port, "/huge.bin",
              headers={"Range": "bytes=%d-%d" % (first, last)})
    assert r.status == 206
    assert r.header("Content-Range") == "bytes %d-%d/%d" % (first, last,
                                                             SIZE_5G)
    assert r.body == b"\0" * 3 + MARK + b"\0" * 3


def test_5g_suffix_and_open_range(srv, sparse5g):
    r = fetch(srv.port, "/huge.bin", headers={"Range": "bytes=-7"})
    assert r.status == 206 and r.body == END_MARK
    r = fetch(srv.port, "/huge.bin",
              headers={"Range": "bytes=%d-" % (SIZE_5G - 10)})
    assert r.status == 206 and r.body == b"\0\0\0" + END_MARK
    assert r.header("Content-Range") == "bytes %d-%d/%d" % (
        SIZE_5G - 10, SIZE_5G - 1, SIZE_5G)


def test_5g_curl_range(srv, sparse5g):
    r = curl(["-r", "%d-%d" % (MARK_AT, MARK_AT + len(MARK) - 1), "-o", "-",
              srv.url + "/huge.bin"])
    assert r.returncode == 0, r.stderr
    assert r.stdout == MARK


def test_5g_multipart_past_4g(srv, sparse5g):
    from ferrylib import parse_multipart
    r = fetch(srv.port, "/huge.bin", headers={
        "Range": "bytes=0-3,%d-%d" % (MARK_AT, MARK_AT + len(MARK) - 1)})
    assert r.status == 206
    parts = parse_multipart(r.header("Content-Type"), r.body)
    assert [(a, b) for a, b, *_ in parts] == [
        (0, 3), (MARK_AT, MARK_AT + len(MARK) - 1)]
    assert parts[1][4] == MARK
    assert parts[1][2] == str(SIZE_5G)


@pytest.mark.parametrize("as_root", [False, True], ids=["nobody", "root"])
def test_mime_types_file_read_before_chroot(ferry, as_root):
    """A type that only /etc/mime.types knows: it was loaded before the
    chroot (as root) or read normally (as nobody)."""
    if not os.path.exists("/etc/mime.types"):
        pytest.skip("no /etc/mime.types")
    f = ferry(as_root=as_root)
    write_file(f.path("db.sqlite3"), "x")
    write_file(f.path("page.html"), "x")
    r = fetch(f.port, "/db.sqlite3")
    assert norm_type(r.header("Content-Type")) == "application/vnd.sqlite3"
    r = fetch(f.port, "/page.html")
    assert norm_type(r.header("Content-Type")) == "text/html;charset=utf-8"


def test_failed_precondition_keeps_no_descriptor(ferry):
    """A 412 carries no file: the descriptor opened to check it is let go
    (each one was kept open for good before).  Fifty different files, so
    that the handful ferry keeps open for reuse cannot hide a leak."""
    f = ferry("--workers", "1")
    for i in range(50):
        (f.dir / ("f%d.txt" % i)).write_bytes(b"x" * i)
    fd_dir = "/proc/%d/fd" % f.pid
    before = len(os.listdir(fd_dir))
    for i in range(50):
        r = fetch(f.port, "/f%d.txt" % i, headers={"If-Match": '"nope"'})
        assert r.status == 412, r
    deadline = time.monotonic() + 3      # the last clients still closing
    while len(os.listdir(fd_dir)) - before > 8 and time.monotonic() < deadline:
        time.sleep(0.05)
    after = len(os.listdir(fd_dir))
    assert after - before <= 8, (before, after)    # opencache.h's size


def test_access_line_whole_when_every_field_is_long(srv):
    """Request line, Referer and User-Agent each at the log's cap once
    escaped: the line still ends with its closing quote (it was cut at
    1,567 bytes when the writer's buffer was smaller than the line)."""
    target = "/" + "/".join(["~" * 100] * 6)     # 606 bytes
    raw = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nReferer: %s\r\n"
           "User-Agent: " % (target, '"' * 500)).encode() + \
        b"\xff" * 500 + b"\r\nConnection: close\r\n\r\n"
    responses, _ = exchange(srv.port, raw)
    assert responses[0].status == 404, responses
    lines = srv.access_lines(count=1)
    assert len(lines) == 1, lines
    line = lines[0]
    assert line.endswith('"'), line[-80:]
    assert ' 404 ' in line and '\\x22\\x22' in line and '\\xff\\xff' in line
    assert len(line) > 1568, len(line)      # the old writer's room
