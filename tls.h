/*
 * tls.h: everything that names mbedTLS.
 *
 * One server object (configuration, certificate and key, random generator,
 * session tickets and cache) shared by all workers, and one small
 * connection object per client.  The configuration with the certificate,
 * key and client CA is one reference-counted generation: a reload makes a
 * new one for new connections while open ones keep theirs.  mbedTLS error
 * codes never leave this module except inside a log line; callers see
 * enum tls_status.
 */
#ifndef FERRY_TLS_H
#define FERRY_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Lifetime of a session-ticket key; mbedTLS rotates keys after it. */
#define TLS_TICKET_LIFETIME_S (12 * 3600)
/* Session cache for clients without tickets: entries and their lifetime. */
#define TLS_CACHE_ENTRIES     1000
#define TLS_CACHE_TIMEOUT_S   3600
/* Certificate, key and CA files are a few KiB; refuse anything absurd. */
#define TLS_FILE_MAX_BYTES    (1024 * 1024)

struct tls_options {
    const char *cert_path;      /* PEM chain, or NULL to use our own */
    const char *key_path;       /* PEM key, or NULL with cert_path NULL */
    const char *state_dir;      /* where our own identity lives, or NULL
                                   for $XDG_CONFIG_HOME/ferry or
                                   ~/.config/ferry */
    const char *client_ca_path; /* PEM CA(s) a client certificate must
                                   chain to (mTLS), or NULL for none */
};

struct tls_server;
struct tls_conn;

enum tls_status {
    TLS_OK,             /* the call completed */
    TLS_WANT_READ,      /* wait for readability, then repeat the call */
    TLS_WANT_WRITE,     /* wait for writability, then repeat the call */
    TLS_CLOSED,         /* the peer closed (close_notify or EOF) */
    TLS_FAILED,         /* a protocol or socket error; drop the client */
};

/*
 * Build the server: load --cert/--key, or load (first: generate and store)
 * our self-signed ECDSA P-256 identity.  TLS 1.2 only, ECDHE with AEAD
 * suites, x25519 then secp256r1 (secp384r1 too, for client keys), no
 * renegotiation, ALPN http/1.1 and http/1.0, tickets and a session cache.
 * With client_ca_path, every handshake requires a client certificate that
 * chains to one of its CAs (RSA >= 2048 bits or ECDSA P-256/P-384 keys);
 * why one was refused is a debug line.  Keeps a descriptor of each file's
 * folder for tls_server_reload.  Returns NULL after logging why (file name
 * and mbedTLS reason).  Must run before chroot.
 */
struct tls_server *tls_server_new(const struct tls_options *opts);

/*
 * Re-read the certificate, key and client CA (the same files as at start)
 * into a new configuration that new connections use from then on; open
 * connections keep the one they started with, freed after the last of
 * them.  Tickets and the session cache stay, so clients may resume across
 * a reload.  With a client CA, a resumed session's certificate is checked
 * again against the CAs in force, so a new CA file shuts out clients it no
 * longer trusts (sessions keep only the leaf: the CA file must hold its
 * direct issuer).  Files are re-opened relative to the folders opened at
 * start, so this works after chroot; but a relative symlink is followed,
 * an absolute one resolves inside the chroot, and after dropping root the
 * key must be readable by the new user (a root-only key makes every reload
 * fail; the message says so).  On failure logs "tls: reload failed,
 * keeping the old certificate: <why>", changes nothing and returns -1;
 * returns 0 on success.  Call it from one thread (the main one) while
 * workers make connections.
 */
int tls_server_reload(struct tls_server *srv);

/*
 * Free the server and its current configuration; accepts NULL.  No
 * connection may still use it.
 */
void tls_server_free(struct tls_server *srv);

/*
 * "AB:CD:..": SHA-256 of the certificate's DER, as openssl prints it.  The
 * text is rewritten by tls_server_reload: read it on the thread that
 * reloads (the main one).
 */
const char *tls_server_fingerprint(const struct tls_server *srv);

/*
 * "sha256//<base64>": the public-key pin for curl --pinnedpubkey.  Like
 * the fingerprint, rewritten by tls_server_reload.
 */
const char *tls_server_pin(const struct tls_server *srv);

/* Path of the certificate in use (ours or --cert), for the start-up line. */
const char *tls_server_cert_path(const struct tls_server *srv);

/*
 * A TLS connection on non-blocking socket FD; PEER ("[::1]:5555") names it
 * in debug lines and is copied.  Allocates the mbedTLS record buffers, so
 * call it when the client's first bytes have arrived, not at accept.
 * Returns NULL on ENOMEM or setup failure (logged).
 */
struct tls_conn *tls_conn_new(struct tls_server *srv, int fd,
                              const char *peer);

/* Free a connection; accepts NULL.  Does not close the socket. */
void tls_conn_free(struct tls_conn *c);

/* Advance the handshake. */
enum tls_status tls_handshake(struct tls_conn *c);

/*
 * Read up to LEN decrypted bytes.  Returns the count (> 0) and TLS_OK, or
 * 0 with another status in *ST.  After TLS_OK call again until WANT_READ:
 * mbedTLS may hold bytes that no epoll event will announce.  WANT_WRITE
 * here (and from tls_handshake) can also mean that many records with
 * nothing in them came in a row: wait for writability, which is at once,
 * so that the worker's other clients get their turn first.
 */
size_t tls_read(struct tls_conn *c, void *buf, size_t len,
                enum tls_status *st);

/*
 * Write up to LEN bytes as at most one record.  Returns the count taken
 * (> 0) with TLS_OK, or 0 with another status.  After TLS_WANT_* the
 * caller must repeat the call with the same bytes, length and MORE.
 * MORE says that further records follow at once: the kernel may then
 * hold the bytes to send bigger packets (MSG_MORE); the last record of a
 * response goes without it, which sends what was held.
 */
size_t tls_write(struct tls_conn *c, const void *buf, size_t len, bool more,
                 enum tls_status *st);

/*
 * Whether mbedTLS holds bytes it read from the socket and has not handed
 * over: no epoll event will announce them.
 */
bool tls_pending(const struct tls_conn *c);

/* Send close_notify (best effort; TLS_WANT_* means try again later). */
enum tls_status tls_close_notify(struct tls_conn *c);

/* The negotiated ALPN protocol, or NULL. */
const char *tls_alpn(const struct tls_conn *c);

/*
 * The cipher suite in mbedTLS's spelling ("TLS-ECDHE-ECDSA-WITH-..."), or
 * NULL before the handshake, for debug lines.  mbedTLS 2.28 does not say
 * whether a session was resumed.
 */
const char *tls_cipher(const struct tls_conn *c);

/*
 * The client's name for roles and the log: once the handshake is done and
 * the client certificate verified, the subject's CN (exactly one, as a
 * UTF8String, PrintableString or IA5String), copied to OUT with a NUL.
 * Returns its length, or 0 with OUT empty when there is none (no client
 * CA, no handshake yet), or it is empty, has a control byte (< 0x20 or
 * 0x7f) or does not fit in CAP - 1 bytes.  Other bytes (UTF-8) are kept:
 * escape them for the log.
 */
size_t tls_peer_name(const struct tls_conn *c, char *out, size_t cap);

#endif /* FERRY_TLS_H */
