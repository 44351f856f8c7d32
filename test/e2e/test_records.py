"""Records a test places by hand (tlsrecords.py): what arrives together in
one TCP send is read ahead by ferry (tls_bio.c), out of epoll's sight, so
every request in it must still be answered, whatever comes between.

Each answer is awaited 5 s: ferry answers these in milliseconds, and
without the fixes they waited for the 30 s header timeout."""
import base64
import os

from ferrylib import write_file
from test_auth import make_hash, write_users
from tlsrecords import RecordClient, get

WARNING, NO_RENEGOTIATION = 1, 100
FAILING_ADDR = "127.0.0.11"     # the wrong passwords come from here


def small_file(srv):
    return write_file(srv.path("small.bin"), os.urandom(4096))


def answers(client, count):
    return [status for status, _ in client.responses(count)]


def test_many_records_in_one_send_all_answered(srv):
    data = small_file(srv)
    c = RecordClient(srv.port)
    try:
        c.send(b"".join(c.rec(get("/small.bin")) for _ in range(60)))
        got = c.responses(60)
        assert [s for s, _ in got] == [200] * 60
        assert all(body == data for _, body in got)
    finally:
        c.close()


def test_warning_alert_then_request_in_one_send(srv):
    """mbedTLS reads a no_renegotiation warning as "nothing yet"; the
    request behind it was already read ahead."""
    small_file(srv)
    c = RecordClient(srv.port)
    try:
        c.send(c.alert(WARNING, NO_RENEGOTIATION) + c.rec(get("/small.bin")))
        assert answers(c, 1) == [200]
    finally:
        c.close()


def test_warning_alert_inside_an_upload_body(wferry):
    f = wferry()
    body = os.urandom(1100)
    c = RecordClient(f.port)
    try:
        c.send(c.rec(b"PUT /up.bin HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Length: 1100\r\n\r\n" + body[:1000]))
        c.send(c.alert(WARNING, NO_RENEGOTIATION) + c.rec(body[1000:]) +
               c.rec(get("/up.bin")))
        got = c.responses(2)
        assert [s for s, _ in got] == [201, 200]
        assert got[1][1] == body
    finally:
        c.close()
    assert (f.dir / "up.bin").read_bytes() == body


def test_empty_records_are_not_the_end(srv):
    """An empty record reads as 0 bytes, as the end of the stream does."""
    small_file(srv)
    c = RecordClient(srv.port)
    try:
        c.send(c.rec(get("/small.bin")) + c.rec(b"") + c.rec(b"") +
               c.rec(get("/small.bin")))
        assert answers(c, 2) == [200, 200]
    finally:
        c.close()


def test_too_many_empty_records_end_the_connection(srv):
    """mbedTLS refuses a run of empty records (a cheap flood): the
    connection ends instead of spinning."""
    small_file(srv)
    c = RecordClient(srv.port)
    try:
        c.send(b"".join(c.rec(b"") for _ in range(20)) +
               c.rec(get("/small.bin")))
        assert answers(c, 1) == []
        assert c.eof
    finally:
        c.close()
    assert srv.running()


def test_held_back_refusal_then_request_then_fin(ferry, tmp):
    """A 401 held back by the throttle, with another request and the
    client's FIN behind it in one send: both are answered, since the
    client is still reading."""
    users = write_users(tmp, [make_hash("ann", "pw", "bcrypt", cost=5)])
    f = ferry("--auth", str(users))
    small_file(f)
    bad = "Authorization: Basic %s\r\n" % base64.b64encode(
        b"ann:wrong").decode()
    for _ in range(4):          # from the 4th, answers are held back
        c = RecordClient(f.port, source=FAILING_ADDR)
        try:
            c.send(c.rec(get("/small.bin", bad)))
            assert answers(c, 1) == [401]
        finally:
            c.close()
    c = RecordClient(f.port, source=FAILING_ADDR)
    try:
        c.send(c.rec(get("/small.bin", bad)) + c.rec(get("/small.bin")))
        c.shutdown_write()
        assert answers(c, 2) == [401, 401]
    finally:
        c.close()


def test_password_check_then_request_then_fin(ferry, tmp):
    users = write_users(tmp, [make_hash("ann", "pw", "bcrypt", cost=5)])
    f = ferry("--auth", str(users))
    data = small_file(f)
    good = "Authorization: Basic %s\r\n" % base64.b64encode(
        b"ann:pw").decode()
    c = RecordClient(f.port)
    try:
        c.send(c.rec(get("/small.bin", good)) +
               c.rec(get("/small.bin", good)))
        c.shutdown_write()
        got = c.responses(2)
        assert [s for s, _ in got] == [200, 200]
        assert got[1][1] == data
    finally:
        c.close()
