/*
 * conn.h: one client connection as a small state machine.
 *
 * A connection is driven by its worker's event loop: conn_run advances it
 * as far as the socket allows and says what to wait for next.  It owns
 * the socket, the TLS context (made only once the client has sent its
 * first byte), the bytes of the request head and the response in flight.
 */
#ifndef FERRY_CONN_H
#define FERRY_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "files.h"
#include "gate.h"
#include "tls.h"
#include "verify.h"

/* Settings every connection reads; filled once by main. */
struct conn_settings {
    struct tls_server *tls;
    const struct files_root *root;
    uint32_t handshake_timeout_ms;  /* accept to finished handshake */
    uint32_t header_timeout_ms;     /* first byte to complete head */
    uint32_t idle_timeout_ms;       /* between requests */
    uint32_t send_timeout_ms;       /* a client that stops reading */
    bool writable;                  /* -w: PUT, DELETE and MKCOL */
    struct gate *gate;              /* who may do what */
    uint64_t max_upload_bytes;      /* --max-upload, or UINT64_MAX */
};

/* What a worker lends every connection it runs. */
struct conn_ctx {
    const struct conn_settings *settings;
    char *scratch;                  /* one TLS record of plaintext */
    size_t scratch_len;
    uint64_t now_ms;                /* CLOCK_MONOTONIC */
    struct verify_sink *checks;     /* the worker's finished password
                                       checks arrive here */
    bool stopping;                  /* graceful stop: finish, then close */
};

enum conn_wait {
    CONN_WAIT_READ,
    CONN_WAIT_WRITE,
    CONN_WAIT_TIMER,                /* nothing to watch until the deadline */
    CONN_DONE,                      /* free it */
};

struct conn;

/*
 * A connection on accepted non-blocking socket FD from PEER.  OWNER is
 * the worker's handle for it, handed back with its password checks (see
 * conn_checked).  Returns NULL on ENOMEM (the caller closes FD).
 */
struct conn *conn_new(int fd, const struct sockaddr *peer, socklen_t len,
                      const struct conn_ctx *ctx, void *owner);

/* Advance C after its socket became ready (or on a timer). */
enum conn_wait conn_run(struct conn *c, struct conn_ctx *ctx);

/* When C must be given up (CLOCK_MONOTONIC ms). */
uint64_t conn_deadline_ms(const struct conn *c);

/* Whether C sits between requests, so a graceful stop may close it now. */
bool conn_is_idle(const struct conn *c);

/* Whether C has sent nothing in the SECONDS since it connected, at
 * NOW_MS. */
bool conn_is_silent(const struct conn *c, uint64_t now_ms, unsigned seconds);

/*
 * C's deadline has passed: a held-back answer goes out now (returns what
 * to wait for next); anything else is dropped (logged at debug level,
 * returns CONN_DONE).
 */
enum conn_wait conn_expire(struct conn *c, struct conn_ctx *ctx);

/*
 * C's password check has finished with CHECKED: go on with the request
 * that waited for it.  Returns what to wait for next, as conn_run.
 */
enum conn_wait conn_checked(struct conn *c, struct conn_ctx *ctx,
                            const struct verify_result *checked);

/* Close the socket and free everything (cancelling a password check in
 * flight); accepts NULL. */
void conn_free(struct conn *c);

#endif /* FERRY_CONN_H */
