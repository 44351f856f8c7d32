"""A TLS 1.2 client whose records, once the handshake is done, are built
here: a test decides exactly which records, alerts or empty records go
into each TCP send, which no TLS library lets a client do.

The handshake is Python's ssl module (an SSLObject over memory BIOs,
ECDHE-ECDSA-CHACHA20-POLY1305 only), which writes the master secret to a
key log; the keys come from it by the TLS 1.2 PRF (RFC 5246 section 6.3)
and records are sealed and opened with python3-cryptography's
ChaCha20-Poly1305 (RFC 7905: the sequence number XORed into the IV)."""
import hashlib
import hmac
import socket
import ssl
import struct
import tempfile
import time

from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from ferrylib import HTTPError, ResponseReader

HANDSHAKE, ALERT, APPLICATION_DATA = 0x16, 0x15, 0x17
TLS12 = 0x0303
KEY_LEN, IV_LEN = 32, 12


def prf(secret, label, seed, n):
    """TLS 1.2's PRF with SHA-256: N bytes."""
    seed = label + seed
    out, a = b"", seed
    while len(out) < n:
        a = hmac.new(secret, a, hashlib.sha256).digest()
        out += hmac.new(secret, a + seed, hashlib.sha256).digest()
    return out[:n]


def split_records(buf):
    """The whole records at the front of BUF, and the rest."""
    records = []
    while len(buf) >= 5:
        end = 5 + struct.unpack(">H", buf[3:5])[0]
        if len(buf) < end:
            break
        records.append(buf[:end])
        buf = buf[end:]
    return records, buf


class RecordClient:
    """Connect to 127.0.0.1:PORT (from SOURCE, if given) and shake
    hands; then rec(), alert() and send() write records by hand, and
    responses() reads the answers (recv() gives their decrypted bytes)."""

    def __init__(self, port, source=None, timeout=10):
        self.keylog = tempfile.NamedTemporaryFile(prefix="ferry-keylog-")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers("ECDHE-ECDSA-CHACHA20-POLY1305")
        ctx.keylog_filename = self.keylog.name
        self.sock = socket.create_connection(
            ("127.0.0.1", port), timeout,
            source_address=(source, 0) if source else None)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = ctx.wrap_bio(self.incoming, self.outgoing)
        self.raw = b""              # received, not yet taken as records
        self.plain = b""            # decrypted, not yet taken by recv
        self.eof = False
        self.client_random = self.server_random = None
        self._handshake()
        self._derive_keys()
        self.client_seq = self.server_seq = 1   # each Finished was 0

    def _handshake(self):
        while True:
            try:
                self.tls.do_handshake()
                done = True
            except ssl.SSLWantReadError:
                done = False
            out = self.outgoing.read()
            if out[:1] == bytes([HANDSHAKE]) and out[5] == 1:   # Hello
                self.client_random = out[11:43]
            if out:
                self.sock.sendall(out)
            if done:
                return
            self._feed_handshake_record()

    def _feed_handshake_record(self):
        while True:
            records, self.raw = split_records(self.raw)
            if records:
                first = records[0]
                self.raw = b"".join(records[1:]) + self.raw
                if first[0] == HANDSHAKE and self.server_random is None \
                        and first[5] == 2:                  # ServerHello
                    self.server_random = first[11:43]
                self.incoming.write(first)
                return
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("the server closed during the handshake")
            self.raw += data

    def _derive_keys(self):
        master = None
        with open(self.keylog.name) as f:
            for line in f:
                words = line.split()
                if len(words) == 3 and words[0] == "CLIENT_RANDOM" and \
                        bytes.fromhex(words[1]) == self.client_random:
                    master = bytes.fromhex(words[2])
        assert master is not None, "no key log line for this connection"
        block = prf(master, b"key expansion",
                    self.server_random + self.client_random,
                    2 * KEY_LEN + 2 * IV_LEN)
        self.client_aead = ChaCha20Poly1305(block[:KEY_LEN])
        self.server_aead = ChaCha20Poly1305(block[KEY_LEN:2 * KEY_LEN])
        self.client_iv = block[2 * KEY_LEN:2 * KEY_LEN + IV_LEN]
        self.server_iv = block[2 * KEY_LEN + IV_LEN:]

    @staticmethod
    def _nonce(iv, seq):
        return bytes(a ^ b for a, b in zip(iv, bytes(4) + seq.to_bytes(8,
                                                                      "big")))

    def rec(self, data, kind=APPLICATION_DATA):
        """One sealed record of KIND carrying DATA (may be empty)."""
        seq = self.client_seq
        self.client_seq += 1
        aad = struct.pack(">QBHH", seq, kind, TLS12, len(data))
        sealed = self.client_aead.encrypt(self._nonce(self.client_iv, seq),
                                          data, aad)
        return struct.pack(">BHH", kind, TLS12, len(sealed)) + sealed

    def alert(self, level, description):
        return self.rec(bytes([level, description]), ALERT)

    def send(self, data):
        self.sock.sendall(data)

    def shutdown_write(self):
        self.sock.shutdown(socket.SHUT_WR)

    def settimeout(self, seconds):
        self.sock.settimeout(seconds)

    def recv(self, size):
        """The server's next decrypted bytes (at most SIZE), or b"" once
        it has closed: what ferrylib's ResponseReader reads from."""
        while not self.plain and not self.eof:
            records, self.raw = split_records(self.raw)
            for r in records:
                self._open(r)
            if self.plain:
                break
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                data = b""
            self.eof = not data
            self.raw += data
        data, self.plain = self.plain[:size], self.plain[size:]
        return data

    def _open(self, record):
        seq = self.server_seq
        self.server_seq += 1
        sealed = record[5:]
        aad = struct.pack(">QBHH", seq, record[0], TLS12, len(sealed) - 16)
        data = self.server_aead.decrypt(self._nonce(self.server_iv, seq),
                                        sealed, aad)
        if record[0] == APPLICATION_DATA:
            self.plain += data

    def responses(self, count, timeout=5.0):
        """Wait up to TIMEOUT s for COUNT final responses; the list of
        (status, body) read by then (100 Continue not counted)."""
        reader = ResponseReader(self, time.monotonic() + timeout)
        got = []
        try:
            while len(got) < count:
                r = reader.read_response()
                if r is None:
                    break
                if r.status >= 200:
                    got.append((r.status, r.body))
        except (socket.timeout, HTTPError):
            pass
        return got

    def close(self):
        self.sock.close()
        self.keylog.close()


def get(path, headers=""):
    return ("GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n" % (path, headers)).encode()
