/*
 * conn.c: one client, from its first byte to its last.
 *
 * States: PEEK (nothing received; no TLS memory spent yet), PLAIN (plain
 * HTTP on the TLS port: answered in plain text, then closed), HANDSHAKE,
 * READ_HEAD, WRITE, CLOSE_NOTIFY and LINGER (our FIN is out; drain what
 * the client still sends so our last response is not destroyed by a
 * reset).  Deadlines are kept here; the worker enforces them.  The
 * access-log line is worded by access.c.  CONTINUE and READ_BODY, a PUT
 * body being received, are conn_body.c's; DELAY and CHECKING, waits at
 * the gate, are conn_gate.c's; struct conn is in conn_impl.h.
 */
#include "conn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "access.h"
#include "body.h"
#include "conn_impl.h"
#include "http.h"
#include "log.h"
#include "respond.h"

#define LINGER_MS          2000     /* drain after our FIN, at most */
#define LINGER_MAX_BYTES   (1 << 20)
#define WRITE_BURST        16       /* records per turn: fairness */
#define TLS_RECORD_MAX     16384    /* plaintext bytes of one record */
#define TLS_HANDSHAKE_BYTE 0x16     /* first byte of every ClientHello */
#define CLIENT_CLOSED      499      /* the access log's status for a
                                       request its client gave up */

static enum step step_peek(struct conn *c, struct conn_ctx *ctx);
static enum step step_plain(struct conn *c, struct conn_ctx *ctx);
static enum step step_handshake(struct conn *c, struct conn_ctx *ctx);
static enum step step_read(struct conn *c, struct conn_ctx *ctx);
static enum step step_write(struct conn *c, struct conn_ctx *ctx);
static enum step next_request(struct conn *c);
static enum step step_close_notify(struct conn *c, struct conn_ctx *ctx);
static enum step step_linger(struct conn *c, struct conn_ctx *ctx);
static enum step took_bytes(struct conn *c, struct conn_ctx *ctx, size_t n);
static enum step read_stopped(struct conn *c, enum tls_status st);
static enum step parse_head(struct conn *c, struct conn_ctx *ctx);
static enum step start_response(struct conn *c, struct conn_ctx *ctx,
                                const struct http_request *req, int rv,
                                const struct verify_result *checked);
static void finish_response(struct conn *c);
static void log_abandoned(struct conn *c);
static int ensure_input(struct conn *c);
static void release_input(struct conn *c);
static void plain_answer(struct conn *c, const struct http_request *req,
                         int rv);

struct conn *
conn_new(int fd, const struct sockaddr *peer, socklen_t len,
         const struct conn_ctx *ctx, void *owner)
{
    struct conn *c = calloc(1, sizeof *c);

    if (c == NULL)
        return NULL;
    c->fd = fd;
    c->owner = owner;
    c->state = ST_PEEK;
    c->res.fd = -1;
    c->connected_ms = ctx->now_ms;
    c->deadline_ms = ctx->now_ms + ctx->settings->handshake_timeout_ms;
    access_peer(peer, len, c->host, sizeof c->host, c->peer,
                sizeof c->peer);
    return c;
}

enum conn_wait
conn_run(struct conn *c, struct conn_ctx *ctx)
{
    enum step r = STEP_AGAIN;

    while (r == STEP_AGAIN) {
        switch (c->state) {
        case ST_PEEK:
            r = step_peek(c, ctx);
            break;
        case ST_PLAIN:
            r = step_plain(c, ctx);
            break;
        case ST_HANDSHAKE:
            r = step_handshake(c, ctx);
            break;
        case ST_READ_HEAD:
            r = step_read(c, ctx);
            break;
        case ST_CONTINUE:
            r = conn_step_continue(c, ctx);
            break;
        case ST_READ_BODY:
            r = conn_step_read_body(c, ctx);
            break;
        case ST_DELAY:
        case ST_CHECKING:
            r = conn_step_wait(c, ctx);
            break;
        case ST_WRITE:
            r = step_write(c, ctx);
            break;
        case ST_CLOSE_NOTIFY:
            r = step_close_notify(c, ctx);
            break;
        case ST_LINGER:
            r = step_linger(c, ctx);
            break;
        }
    }
    return (enum conn_wait)r;
}

uint64_t
conn_deadline_ms(const struct conn *c)
{
    return c->deadline_ms;
}

bool
conn_is_idle(const struct conn *c)
{
    return c->state == ST_PEEK || c->state == ST_HANDSHAKE ||
           c->state == ST_LINGER || c->state == ST_CLOSE_NOTIFY ||
           (c->state == ST_READ_HEAD && c->in_len == 0);
}

bool
conn_is_silent(const struct conn *c, uint64_t now_ms, unsigned seconds)
{
    return c->state == ST_PEEK &&
           now_ms - c->connected_ms >= (uint64_t)seconds * 1000;
}

enum conn_wait
conn_expire(struct conn *c, struct conn_ctx *ctx)
{
    static const char *const names[] = {
        "before any byte", "reading a plain-HTTP request", "in handshake",
        "reading a request head", "sending 100 Continue",
        "reading a request body", "holding back a refusal",
        "waiting for a password check",
        "sending a response", "closing", "lingering",
    };

    if (c->state == ST_DELAY || c->state == ST_CHECKING)
        return conn_gate_expire(c, ctx);
    if (c->state == ST_READ_HEAD && !c->head_started)
        log_debug("conn: %s: idle timeout", c->peer);
    else
        log_debug("conn: %s: timeout %s", c->peer, names[c->state]);
    return CONN_DONE;
}

void
conn_free(struct conn *c)
{
    if (c == NULL)
        return;
    if ((c->job != NULL || c->body != NULL) && c->in != NULL)
        log_abandoned(c);
    if (c->job != NULL)
        verify_cancel(c->job);  /* nobody waits for the check now */
    if (c->have_response)
        finish_response(c);     /* logs what was sent before the end */
    if (c->body != NULL) {
        log_debug("conn: %s: upload abandoned, the client is gone",
                  c->peer);
        body_abort(c->body);    /* the target stays as it was */
        free(c->body);
    }
    tls_conn_free(c->tls);
    release_input(c);
    access_free(&c->log);
    close(c->fd);
    free(c);
}

/*
 * The first byte tells TLS from plain HTTP.  The TLS context and its
 * 33 KiB of record buffers are made only now, so a silent connection
 * costs nothing but this struct.
 */
static enum step
step_peek(struct conn *c, struct conn_ctx *ctx)
{
    unsigned char first;
    ssize_t n = recv(c->fd, &first, 1, MSG_PEEK);

    if (n == -1 && (errno == EAGAIN || errno == EINTR))
        return STEP_READ;
    if (n <= 0)
        return STEP_DONE;
    if (first == TLS_HANDSHAKE_BYTE) {
        c->tls = tls_conn_new(ctx->settings->tls, c->fd, c->peer);
        if (c->tls == NULL)
            return STEP_DONE;
        c->state = ST_HANDSHAKE;
        return STEP_AGAIN;
    }
    if (first >= 'A' && first <= 'Z' && ensure_input(c) == 0) {
        c->state = ST_PLAIN;
        return STEP_AGAIN;
    }
    log_debug("conn: %s: neither TLS nor HTTP (first byte 0x%02x)", c->peer,
              first);
    return STEP_DONE;
}

/* Plain HTTP sent to the TLS port: read its head, answer readably. */
static enum step
step_plain(struct conn *c, struct conn_ctx *ctx)
{
    struct http_request req;
    ssize_t n;
    int rv;

    n = recv(c->fd, c->in + c->in_len, HTTP_MAX_HEAD_BYTES - c->in_len, 0);
    if (n == -1 && (errno == EAGAIN || errno == EINTR))
        return STEP_READ;
    if (n <= 0)
        return STEP_DONE;
    c->in_len += (size_t)n;
    rv = http_parse_request(c->in, c->in_len, &req);
    if (rv == 0 && c->in_len < HTTP_MAX_HEAD_BYTES)
        return STEP_READ;
    plain_answer(c, &req, rv);
    shutdown(c->fd, SHUT_WR);
    c->state = ST_LINGER;
    c->deadline_ms = ctx->now_ms + LINGER_MS;
    return STEP_AGAIN;
}

static enum step
step_handshake(struct conn *c, struct conn_ctx *ctx)
{
    switch (tls_handshake(c->tls)) {
    case TLS_OK:
        tls_peer_name(c->tls, c->cert_user, sizeof c->cert_user);
        log_debug("conn: %s: handshake done, %s, alpn %s", c->peer,
                  tls_cipher(c->tls),
                  tls_alpn(c->tls) ? tls_alpn(c->tls) : "none");
        c->state = ST_READ_HEAD;
        c->head_started = false;
        c->deadline_ms = ctx->now_ms + ctx->settings->header_timeout_ms;
        return STEP_AGAIN;
    case TLS_WANT_READ:
        return STEP_READ;
    case TLS_WANT_WRITE:
        return STEP_WRITE;
    default:
        return STEP_DONE;
    }
}

/*
 * Read until a whole head is buffered.  Bytes left over from the last
 * request (pipelining) are parsed first; then mbedTLS is read until it has
 * nothing left, since it may hold decrypted bytes that no epoll event
 * will announce.
 */
static enum step
step_read(struct conn *c, struct conn_ctx *ctx)
{
    enum tls_status st;
    enum step r;
    size_t n;

    if (c->reparse) {
        c->reparse = false;
        r = parse_head(c, ctx);
        if (r != STEP_READ)
            return r;
    }
    if (c->in == NULL) {
        /* A buffer of its own only once a request begins: waking up to
         * nothing, or idle between requests, a client holds none. */
        n = tls_read(c->tls, ctx->scratch, HTTP_MAX_HEAD_BYTES, &st);
        if (n == 0)
            return read_stopped(c, st);
        if (ensure_input(c) == -1)
            return STEP_DONE;
        memcpy(c->in, ctx->scratch, n);
        if ((r = took_bytes(c, ctx, n)) != STEP_READ)
            return r;
    }
    for (;;) {
        n = tls_read(c->tls, c->in + c->in_len,
                     HTTP_MAX_HEAD_BYTES - c->in_len, &st);
        if (n == 0)
            return read_stopped(c, st);
        if ((r = took_bytes(c, ctx, n)) != STEP_READ)
            return r;
    }
}

/* N more bytes of a head are in the buffer: parse it when it may be whole. */
static enum step
took_bytes(struct conn *c, struct conn_ctx *ctx, size_t n)
{
    if (!c->head_started) {
        c->head_started = true;
        c->deadline_ms = ctx->now_ms + ctx->settings->header_timeout_ms;
    }
    c->in_len += n;
    /* Parse only once a line is complete or the buffer is full, so a
     * client trickling bytes cannot make us reparse the head per byte. */
    if (memchr(c->in + c->in_len - n, '\n', n) != NULL ||
        c->in_len == HTTP_MAX_HEAD_BYTES)
        return parse_head(c, ctx);
    return STEP_READ;
}

/* mbedTLS has no more bytes for now (ST says why): wait, or give up. */
static enum step
read_stopped(struct conn *c, enum tls_status st)
{
    if (st == TLS_WANT_READ) {
        if (c->in_len == 0)
            release_input(c);   /* idle keep-alive: hold no buffer */
        return STEP_READ;
    }
    if (st == TLS_WANT_WRITE)
        return STEP_WRITE;
    if (st == TLS_CLOSED && c->in_len > 0)
        log_debug("conn: %s: closed in the middle of a request head",
                  c->peer);
    return STEP_DONE;
}

/* Parse the buffered head; on a verdict, start the response. */
static enum step
parse_head(struct conn *c, struct conn_ctx *ctx)
{
    struct http_request req;
    int rv = http_parse_request(c->in, c->in_len, &req);

    if (rv == 0 && c->in_len >= HTTP_MAX_HEAD_BYTES)
        rv = -431;
    if (rv == 0)
        return STEP_READ;
    return start_response(c, ctx, &req, rv, NULL);
}

enum conn_wait
conn_checked(struct conn *c, struct conn_ctx *ctx,
             const struct verify_result *checked)
{
    struct http_request req;
    enum step next;
    int rv;

    c->job = NULL;
    /* The head waited in the buffer, unchanged: it parses as before. */
    rv = http_parse_request(c->in, c->in_len, &req);
    c->state = ST_READ_HEAD;
    next = start_response(c, ctx, &req, rv, checked);
    return next == STEP_AGAIN ? conn_run(c, ctx) : (enum conn_wait)next;
}

/*
 * Plan the response to a parsed head (RV > 0) or a refusal (RV < 0), and
 * drop the head from the buffer.  A request with a body we do not read,
 * and every refusal, closes the connection after the answer: where the
 * next request would start is unknown.
 */
static enum step
start_response(struct conn *c, struct conn_ctx *ctx,
               const struct http_request *req, int rv,
               const struct verify_result *checked)
{
    struct respond_env env = conn_make_env(ctx);
    bool keep = rv > 0 && req->keep_alive && !ctx->stopping &&
                !req->chunked &&
                !(req->has_content_length && req->content_length > 0);
    enum step next;

    c->user[0] = '\0';
    c->deposit = false;
    if (rv < 0)
        return conn_refuse(c, ctx, NULL, -rv, NULL);
    if (!conn_pass_gate(c, ctx, req, keep, checked, &next))
        return next;
    env.deposit = c->deposit;
    env.offer_writes = env.writable && c->may_write;
    if (req->method == HTTP_METHOD_PUT && ctx->settings->writable)
        return conn_start_upload(c, ctx, req, rv);
    memset(&c->res, 0, sizeof c->res);
    c->res.fd = -1;
    if (respond_request(req, &env, keep, &c->res) == -1) {
        response_free(&c->res);
        return conn_refuse(c, ctx, req, 503, NULL);  /* out of memory */
    }
    access_begin(&c->log, c->host, c->user, req, c->in, c->in_len,
                 c->res.status, env.now);
    c->have_response = true;
    if (!c->res.close_after) {
        c->in_len -= (size_t)rv;
        memmove(c->in, c->in + rv, c->in_len);
        c->reparse = c->in_len > 0;
    } else {
        c->in_len = 0;
    }
    return conn_begin_write(c, ctx);
}

/*
 * Answer STATUS (with DETAIL, or NULL) and close after it: the request's
 * body, if any, stays unread.  REQ is NULL when the head did not parse.
 */
enum step
conn_refuse(struct conn *c, struct conn_ctx *ctx,
            const struct http_request *req, int status, const char *detail)
{
    struct respond_env env = conn_make_env(ctx);
    bool head = req != NULL && req->method == HTTP_METHOD_HEAD;

    memset(&c->res, 0, sizeof c->res);
    c->res.fd = -1;
    if (respond_refusal(status, detail, &env, false, head, &c->res) == -1) {
        response_free(&c->res);
        return STEP_DONE;
    }
    access_begin(&c->log, c->host, c->user, req, c->in, c->in_len, status,
                 env.now);
    c->have_response = true;
    c->in_len = 0;
    return conn_begin_write(c, ctx);
}

enum step
conn_begin_write(struct conn *c, struct conn_ctx *ctx)
{
    c->state = ST_WRITE;
    c->pending = 0;
    c->deadline_ms = ctx->now_ms + ctx->settings->send_timeout_ms;
    return STEP_AGAIN;
}

struct respond_env
conn_make_env(const struct conn_ctx *ctx)
{
    struct respond_env env = {
        .root = ctx->settings->root,
        .now = time(NULL),
        .writable = ctx->settings->writable,
        .offer_writes = ctx->settings->writable,
    };

    return env;
}

/*
 * Send the response record by record.  After a WANT_* the same bytes are
 * produced again and offered with the same length, as mbedTLS requires.
 * At most WRITE_BURST records per turn, so a fast reader cannot starve
 * the other clients of this worker.
 */
static enum step
step_write(struct conn *c, struct conn_ctx *ctx)
{
    size_t cap = ctx->scratch_len < TLS_RECORD_MAX ? ctx->scratch_len :
                 TLS_RECORD_MAX;
    enum tls_status st;
    int burst;

    for (burst = 0; burst < WRITE_BURST; burst++) {
        ssize_t got;
        size_t n;

        if (response_done(&c->res)) {
            bool close_after = c->res.close_after || ctx->stopping;

            finish_response(c);
            c->state = close_after ? ST_CLOSE_NOTIFY : ST_READ_HEAD;
            c->head_started = c->in_len > 0;
            c->deadline_ms = ctx->now_ms + (c->head_started ?
                             ctx->settings->header_timeout_ms :
                             ctx->settings->idle_timeout_ms);
            return next_request(c);
        }
        got = response_read(&c->res, ctx->scratch,
                            c->pending ? c->pending : cap);
        if (got <= 0) {
            log_warn("conn: %s: reading the file being sent failed",
                     c->peer);
            return STEP_DONE;
        }
        n = tls_write(c->tls, ctx->scratch, (size_t)got,
                      response_more_after(&c->res, (size_t)got), &st);
        if (n == 0) {
            c->pending = (size_t)got;
            if (st == TLS_WANT_WRITE)
                return STEP_WRITE;
            return st == TLS_WANT_READ ? STEP_READ : STEP_DONE;
        }
        c->pending = 0;
        response_advance(&c->res, n);
        c->deadline_ms = ctx->now_ms + ctx->settings->send_timeout_ms;
    }
    return STEP_WRITE;
}

/*
 * After a response: with nothing buffered, wait for epoll to announce the
 * next request instead of reading to find nothing (one system call per
 * request saved; lighttpd does the same).
 */
static enum step
next_request(struct conn *c)
{
    if (c->state != ST_READ_HEAD || c->reparse || tls_pending(c->tls))
        return STEP_AGAIN;
    if (c->in_len == 0)
        release_input(c);       /* idle keep-alive: hold no buffer */
    return STEP_READ;
}

/* Tell the client we are done, then half-close and linger. */
static enum step
step_close_notify(struct conn *c, struct conn_ctx *ctx)
{
    enum tls_status st = c->tls ? tls_close_notify(c->tls) : TLS_OK;

    if (st == TLS_WANT_WRITE)
        return STEP_WRITE;
    if (st == TLS_WANT_READ)
        return STEP_READ;
    shutdown(c->fd, SHUT_WR);
    release_input(c);
    c->state = ST_LINGER;
    c->deadline_ms = ctx->now_ms + LINGER_MS;
    return STEP_AGAIN;
}

/*
 * Discard what the client still sends until it closes: closing a socket
 * with unread bytes sends a reset, which can destroy our last response
 * before the client has read it.  Bounded in time and bytes.
 */
static enum step
step_linger(struct conn *c, struct conn_ctx *ctx)
{
    for (;;) {
        ssize_t n = recv(c->fd, ctx->scratch, ctx->scratch_len, 0);

        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1 && errno == EAGAIN)
            return STEP_READ;
        if (n <= 0)
            return STEP_DONE;
        c->lingered += (size_t)n;
        if (c->lingered > LINGER_MAX_BYTES)
            return STEP_DONE;
    }
}

/* The response is over (complete or not): log it and let it go. */
static void
finish_response(struct conn *c)
{
    access_end(&c->log, c->res.sent_body);
    response_free(&c->res);
    c->have_response = false;
}

/*
 * The client left before its answer (an upload cut short, a login still
 * being checked): its access-log line says 499, nginx's "client closed
 * the request", so every request read leaves a line.
 */
static void
log_abandoned(struct conn *c)
{
    access_begin(&c->log, c->host, c->user, NULL, c->in, c->in_len,
                 CLIENT_CLOSED, time(NULL));
    access_end(&c->log, 0);
}

static int
ensure_input(struct conn *c)
{
    if (c->in == NULL)
        c->in = malloc(HTTP_MAX_HEAD_BYTES);
    return c->in == NULL ? -1 : 0;
}

static void
release_input(struct conn *c)
{
    free(c->in);
    c->in = NULL;
    c->in_len = 0;
}

/*
 * Answer plain HTTP with a redirect to the same host and target over
 * https when the request is valid and names its host, else with a 400
 * that says what to do.  One send: the answer is small and the socket's
 * buffer empty, so it cannot block; if it is cut short, so be it.
 */
static void
plain_answer(struct conn *c, const struct http_request *req, int rv)
{
    static const char body[] =
        "This is an HTTPS server. Use https:// in the address.\n";
    char out[HTTP_MAX_TARGET_BYTES + 512];
    bool redirect = rv > 0 && req->host.len > 0 && req->target.len > 0 &&
                    req->target.ptr[0] == '/' && req->host.len < 256;
    int n;

    if (redirect)
        n = snprintf(out, sizeof out,
                     "HTTP/1.1 301 Moved Permanently\r\n"
                     "Location: https://%.*s%.*s\r\nContent-Length: 0\r\n"
                     "Connection: close\r\n\r\n", (int)req->host.len,
                     req->host.ptr, (int)req->target.len, req->target.ptr);
    else
        n = snprintf(out, sizeof out,
                     "HTTP/1.1 400 Bad Request\r\n"
                     "Content-Type: text/plain; charset=utf-8\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     sizeof body - 1, body);
    if (n > 0 && (size_t)n < sizeof out)
        (void)send(c->fd, out, (size_t)n, MSG_NOSIGNAL);
    log_debug("conn: %s: plain HTTP on the TLS port, answered %s", c->peer,
              redirect ? "301" : "400");
    /* A request like any other: it has its access-log line. */
    access_begin(&c->log, c->host, "", rv > 0 ? req : NULL, c->in, c->in_len,
                 redirect ? 301 : 400, time(NULL));
    access_end(&c->log, redirect ? 0 : sizeof body - 1);
}
