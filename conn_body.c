/*
 * conn_body.c: receiving a PUT body on a connection.
 *
 * States CONTINUE (send 100 Continue) and READ_BODY (feed the body to
 * body.c until it ends), then the answer: 201/204 or the refusal.  What
 * a body is and how it becomes a file is body.c's; reading heads, writing
 * responses and closing are conn.c's.
 */
#include "conn_impl.h"

#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "body.h"
#include "http.h"
#include "path.h"
#include "respond.h"

#define READ_BURST         64       /* body records per turn: fairness */
/*
 * Bytes a body must bring to renew its deadline: a client trickling a
 * byte now and then cannot hold an upload (and the space reserved for
 * it) open for ever.  Any real link moves this much in a deadline.
 */
#define BODY_PROGRESS_MIN  4096

static const char continue_line[] = "HTTP/1.1 100 Continue\r\n\r\n";

static const char *refusal_detail(const struct conn *c, int status);
static enum step feed_body(struct conn *c, struct conn_ctx *ctx, char *buf,
                           size_t len, size_t *used);
static enum step end_upload(struct conn *c, struct conn_ctx *ctx, int failed,
                            const char *rest, size_t rest_len);

/*
 * A PUT on a writable share: check all that can be checked before the
 * body (path, length, preconditions, room, and for a drop box's deposit
 * that its folder exists), then ask for the body (with 100 Continue when
 * the client waits for it) or refuse at once, unread.
 * The head stays at the start of the input buffer until the upload ends.
 */
enum step
conn_start_upload(struct conn *c, struct conn_ctx *ctx,
                  const struct http_request *req, int head_len)
{
    const struct conn_settings *set = ctx->settings;
    struct target_path tp;
    int rv = path_from_target(req->target.ptr, req->target.len, &tp);

    if (rv < 0)
        return conn_refuse(c, ctx, req, -rv, NULL);
    if (tp.has_dot_segment && !set->root->hidden)
        return conn_refuse(c, ctx, req, 403, "Dotfiles cannot be written "
                           "(start ferry with --hidden).");
    if (tp.trailing_slash || strcmp(tp.path, ".") == 0)
        return conn_refuse(c, ctx, req, 409,
                           "PUT names a folder; name a file.");
    c->body = malloc(sizeof *c->body);
    if (c->body == NULL)
        return conn_refuse(c, ctx, req, 503, NULL);
    rv = body_start(c->body, set->root, tp.path, req, set->max_upload_bytes,
                    c->deposit);
    if (rv < 0) {
        free(c->body);
        c->body = NULL;
        return conn_refuse(c, ctx, req, -rv, refusal_detail(c, -rv));
    }
    c->head_len = (size_t)head_len;
    c->body_progress = 0;
    c->state = req->expect_continue ? ST_CONTINUE : ST_READ_BODY;
    c->deadline_ms = ctx->now_ms + set->header_timeout_ms;
    return STEP_AGAIN;
}

/* The client waits for our word before sending the body (RFC 9110 10.1.1). */
enum step
conn_step_continue(struct conn *c, struct conn_ctx *ctx)
{
    enum tls_status st;

    (void)ctx;
    if (tls_write(c->tls, continue_line, sizeof continue_line - 1, false,
                  &st) > 0) {
        c->state = ST_READ_BODY;
        return STEP_AGAIN;
    }
    if (st == TLS_WANT_WRITE)
        return STEP_WRITE;
    return st == TLS_WANT_READ ? STEP_READ : STEP_DONE;
}

/* Why an upload was refused, in words; a drop box says what it takes. */
static const char *
refusal_detail(const struct conn *c, int status)
{
    if (c->deposit && status == 403)
        return "This drop box takes new files only, and that name is taken.";
    if (c->deposit && status == 409)
        return "This drop box makes no folder: send the file into one that "
               "exists.";
    return respond_write_detail(status);
}

/*
 * Receive the body: first what arrived with the head, then record by
 * record, never reading past its end.  A stalled body meets the head's
 * deadline, renewed each time BODY_PROGRESS_MIN more bytes have come.
 * After READ_BURST records the
 * connection yields by waiting for writability, which is at once, so
 * that a fast upload cannot starve this worker's other clients, and
 * bytes mbedTLS already holds are not left waiting for an epoll event
 * that will never come.
 */
enum step
conn_step_read_body(struct conn *c, struct conn_ctx *ctx)
{
    enum tls_status st;
    size_t n, used;
    enum step r;
    int burst;

    if (c->in_len > c->head_len) {
        n = c->in_len - c->head_len;
        c->in_len = c->head_len;
        r = feed_body(c, ctx, c->in + c->head_len, n, &used);
        if (r != STEP_READ)
            return r;
    }
    for (burst = 0; burst < READ_BURST; burst++) {
        size_t want = body_want(c->body, ctx->scratch_len);

        if (want == 0)          /* Content-Length: 0, or all of it in */
            return end_upload(c, ctx, 0, NULL, 0);
        n = tls_read(c->tls, ctx->scratch, want, &st);
        if (n == 0) {
            if (st == TLS_WANT_READ)
                return STEP_READ;
            if (st == TLS_WANT_WRITE)
                return STEP_WRITE;
            return STEP_DONE;   /* gone mid-body: conn_free abandons it */
        }
        c->body_progress += n;
        if (c->body_progress >= BODY_PROGRESS_MIN) {
            c->body_progress = 0;
            c->deadline_ms = ctx->now_ms + ctx->settings->header_timeout_ms;
        }
        r = feed_body(c, ctx, ctx->scratch, n, &used);
        if (r != STEP_READ)
            return r;
    }
    return STEP_WRITE;
}

/* Give LEN received bytes to the body; at its end, commit and answer. */
static enum step
feed_body(struct conn *c, struct conn_ctx *ctx, char *buf, size_t len,
          size_t *used)
{
    int rv = body_feed(c->body, buf, len, used);

    if (rv == BODY_MORE)
        return STEP_READ;
    if (rv == BODY_DONE)
        return end_upload(c, ctx, 0, buf + *used, len - *used);
    return end_upload(c, ctx, -rv, NULL, 0);
}

/*
 * The body is over: commit it (FAILED == 0) or report why it failed, then
 * answer.  The head, kept at the start of the input buffer, is parsed
 * again for the preconditions and the log.  REST (REST_LEN bytes past the
 * body: a pipelined request) replaces it in the buffer.
 */
static enum step
end_upload(struct conn *c, struct conn_ctx *ctx, int failed,
           const char *rest, size_t rest_len)
{
    struct respond_env env = conn_make_env(ctx);
    struct http_request req;
    struct target_path tp;
    int status = failed;

    if (http_parse_request(c->in, c->head_len, &req) <= 0 ||
        path_from_target(req.target.ptr, req.target.len, &tp) < 0) {
        body_abort(c->body);    /* cannot happen: it parsed before */
        free(c->body);
        c->body = NULL;
        return conn_refuse(c, ctx, NULL, 500, NULL);
    }
    if (failed == 0)
        status = body_commit(c->body, &req);
    free(c->body);
    c->body = NULL;
    if (status < 0)
        status = -status;
    if (status != 201 && status != 204)
        return conn_refuse(c, ctx, &req, status,
                           refusal_detail(c, status));

    memset(&c->res, 0, sizeof c->res);
    if (respond_stored(status, tp.path, &env, req.keep_alive &&
                       !ctx->stopping, &c->res) == -1) {
        response_free(&c->res);
        return conn_refuse(c, ctx, &req, 503, NULL);
    }
    access_begin(&c->log, c->host, c->user, &req, c->in, c->in_len, status,
                 env.now);
    c->have_response = true;
    if (rest_len > 0)
        memmove(c->in, rest, rest_len);
    c->in_len = rest_len;
    c->reparse = rest_len > 0;
    return conn_begin_write(c, ctx);
}
