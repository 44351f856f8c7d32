/*
 * conn_gate.c: a request at the gate: who the client is, whether it may
 * go on, and the waits that deciding can take.
 *
 * A password not in the login cache is checked on the gate's threads
 * (verify.c) while the connection waits in ST_CHECKING with its head in
 * the buffer; the worker hands the result to conn_checked, which parses
 * the head again and comes back here.  A failed login's refusal may be
 * held back in ST_DELAY (the throttle).  Shares struct conn with conn.c
 * through conn_impl.h.
 */
#include <string.h>
#include <sys/socket.h>

#include "access.h"
#include "conn_impl.h"
#include "gate.h"
#include "log.h"
#include "respond.h"

/* How long a head may wait for its password check before 503: the
 * check queue holds a few seconds of bcrypt at most. */
#define CHECK_WAIT_MS   30000

static enum step deny(struct conn *c, struct conn_ctx *ctx,
                      const struct http_request *req, bool keep,
                      const struct gate_verdict *v);

bool
conn_pass_gate(struct conn *c, struct conn_ctx *ctx,
               const struct http_request *req, bool keep,
               const struct verify_result *checked, enum step *next)
{
    struct gate_request r = {
        .req = req,
        .cert_user = c->cert_user,
        .addr = c->host,
        .now_ms = ctx->now_ms,
        .checked = checked,
        .sink = ctx->checks,
        .owner = c->owner,
    };
    struct gate_verdict v;

    gate_check(ctx->settings->gate, &r, &v);
    memcpy(c->user, v.user, sizeof c->user);
    c->deposit = v.deposit;
    c->may_write = v.may_write;
    if (v.status == 0)
        return true;
    if (v.status == GATE_CHECKING) {
        c->job = v.job;
        c->state = ST_CHECKING;
        c->deadline_ms = ctx->now_ms + CHECK_WAIT_MS;
        *next = STEP_AGAIN;
    } else {
        *next = deny(c, ctx, req, keep, &v);
    }
    return false;
}

enum conn_wait
conn_gate_expire(struct conn *c, struct conn_ctx *ctx)
{
    enum step next;

    if (c->state == ST_CHECKING) {
        log_warnx("auth: %s: password check not done in %d s, 503",
                  c->peer, CHECK_WAIT_MS / 1000);
        verify_cancel(c->job);
        c->job = NULL;
        next = conn_refuse(c, ctx, NULL, 503, "The login check took too "
                           "long; retry shortly.");
    } else {
        next = conn_begin_write(c, ctx);
    }
    return next == STEP_AGAIN ? conn_run(c, ctx) : (enum conn_wait)next;
}

/*
 * Refuse access as the gate said (401, 403, 429, 503).  The connection stays
 * open after a 401 or 403 when the request had no body, so a client can
 * send its credentials at once; a failed login's answer may be held back
 * (ST_DELAY) so that guessing passwords cannot go at network speed.
 */
static enum step
deny(struct conn *c, struct conn_ctx *ctx, const struct http_request *req,
     bool keep, const struct gate_verdict *v)
{
    struct respond_env env = conn_make_env(ctx);
    bool head = req->method == HTTP_METHOD_HEAD;

    keep = keep && v->status != 429 && v->status != 503;
    memset(&c->res, 0, sizeof c->res);
    c->res.fd = -1;
    if (respond_denied(v->status, v->retry_after_s, &env, keep, head,
                       &c->res) == -1) {
        response_free(&c->res);
        return STEP_DONE;
    }
    access_begin(&c->log, c->host, c->user, req, c->in, c->in_len,
                 v->status, env.now);
    c->have_response = true;
    if (keep) {
        c->in_len -= req->head_len;
        memmove(c->in, c->in + req->head_len, c->in_len);
        c->reparse = c->in_len > 0;
    } else {
        c->in_len = 0;
    }
    if (v->delay_ms == 0)
        return conn_begin_write(c, ctx);
    c->state = ST_DELAY;
    c->deadline_ms = ctx->now_ms + v->delay_ms;
    return STEP_AGAIN;
}

/*
 * Hold the answer until the deadline (ST_DELAY), or the head until its
 * password check is done (ST_CHECKING).  Nothing is watched meanwhile
 * but a hang-up, which ends the connection (and cancels the check).  A
 * client that sent more requests before its FIN is still waiting for
 * answers: its bytes may already be out of the socket, read ahead.
 */
enum step
conn_step_wait(struct conn *c, struct conn_ctx *ctx)
{
    char byte;

    (void)ctx;
    if (!tls_pending(c->tls) &&
        recv(c->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0)
        return STEP_DONE;
    return STEP_TIMER;
}

