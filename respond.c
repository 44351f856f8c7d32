/*
 * respond.c: what to answer, for every request the parser accepted.
 *
 * Method checks, the path through path.c and the confined resolver in
 * files.c, preconditions (cond.c), ranges (range.c) and listings
 * (listing.c) meet here and become a status, a head and a list of body
 * segments.  Sending them is the connection's business.
 */
#include "respond.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "cond.h"
#include "head.h"
#include "listing.h"
#include "log.h"
#include "mime.h"
#include "path.h"
#include "range.h"
#include "tidy.h"

#define ALLOW_READ_ONLY "GET, HEAD, OPTIONS"
#define ALLOW_WRITABLE  "GET, HEAD, OPTIONS, PUT, DELETE, MKCOL"
#define ALLOW(env)      ((env)->writable ? ALLOW_WRITABLE : ALLOW_READ_ONLY)
#define DETAIL_MAX      256
/*
 * On a writable share anyone may have uploaded a page.  Served in our own
 * origin, its script could PUT and DELETE with a visitor's browser; the
 * sandbox runs it in an opaque origin instead, where such requests need a
 * CORS preflight that ferry never grants.
 */
#define SANDBOX_CSP     "sandbox allow-scripts allow-forms allow-popups " \
                        "allow-modals allow-downloads"
#define BOUNDARY_BYTES  12      /* random bytes, sent as 24 hex digits */
#define PART_HEAD_MAX   256     /* one multipart part head */

static int respond_path(const struct http_request *req,
                        const struct respond_env *env, bool keep_alive,
                        struct response *res);
static int respond_dir(const struct http_request *req,
                       const struct respond_env *env, bool keep_alive,
                       const struct target_path *tp, int fd,
                       struct response *res);
static int respond_redirect(const struct respond_env *env, bool keep_alive,
                            const struct target_path *tp,
                            struct response *res);
static int respond_file(const struct http_request *req,
                        const struct respond_env *env, bool keep_alive,
                        const struct target_path *tp, int fd,
                        const struct stat *st, struct response *res);
static int respond_ranges(const char *type, uint64_t size,
                          const struct byte_range *r, size_t count,
                          bool head_only, struct http_head *h,
                          struct response *res);
static int add_part_segments(struct response *res, const char *parts,
                             const struct byte_range *r, size_t count);
static int make_boundary(char *out);
static int refuse_with(int status, const char *detail,
                       unsigned retry_after_s, const struct respond_env *env,
                       bool keep_alive, bool head_only, struct response *res);
static int respond_write_op(const struct http_request *req,
                            const struct respond_env *env, bool keep_alive,
                            struct response *res);
static int respond_options(const struct http_request *req,
                           const struct respond_env *env, bool keep_alive,
                           struct response *res);
static bool active_content(const char *type);
static int status_for_errno(int err);
static void head_common(struct http_head *h, char *buf, int status,
                        const struct respond_env *env, bool keep_alive);
static int finish(struct response *res, struct http_head *h, int status,
                  char *body, size_t body_len, bool send_body);

int
respond_request(const struct http_request *req,
                const struct respond_env *env, bool keep_alive,
                struct response *res)
{
    res->fd = -1;
    switch (req->method) {
    case HTTP_METHOD_GET:
    case HTTP_METHOD_HEAD:
        return respond_path(req, env, keep_alive, res);
    case HTTP_METHOD_OPTIONS:
        return respond_options(req, env, keep_alive, res);
    case HTTP_METHOD_UNKNOWN:
        return respond_error(501, env, keep_alive, false, res);
    case HTTP_METHOD_PUT:
    case HTTP_METHOD_DELETE:
    case HTTP_METHOD_MKCOL:
        /* A read-only share forbids writes (403, saying how to allow
         * them); PUT bodies on a writable one are the connection's. */
        if (!env->writable || req->method == HTTP_METHOD_PUT)
            return respond_refusal(403, "This share is read-only: ferry "
                                   "was started without -w.", env,
                                   keep_alive, false, res);
        return respond_write_op(req, env, keep_alive, res);
    default:
        return respond_error(405, env, keep_alive, false, res);
    }
}

/*
 * 204 with Allow, for "*" (the server) or a target that names a path as
 * any other method's would; a malformed one, or the authority-form only
 * CONNECT may use, gets 400 like elsewhere (RFC 9112 3.2).
 */
static int
respond_options(const struct http_request *req,
                const struct respond_env *env, bool keep_alive,
                struct response *res)
{
    char buf[RESPOND_HEAD_MAX];
    struct http_head h;
    struct target_path tp;
    int rv;

    if (!(req->target.len == 1 && req->target.ptr[0] == '*') &&
        (rv = path_from_target(req->target.ptr, req->target.len, &tp)) < 0)
        return respond_error(-rv, env, keep_alive, false, res);
    head_common(&h, buf, 204, env, keep_alive);
    http_head_put(&h, "Allow", ALLOW(env));
    res->close_after = !keep_alive;
    return finish(res, &h, 204, NULL, 0, false);
}

int
respond_error(int status, const struct respond_env *env, bool keep_alive,
              bool head_only, struct response *res)
{
    return respond_refusal(status, NULL, env, keep_alive, head_only, res);
}

int
respond_refusal(int status, const char *detail,
                const struct respond_env *env, bool keep_alive,
                bool head_only, struct response *res)
{
    return refuse_with(status, detail, 0, env, keep_alive, head_only, res);
}

int
respond_denied(int status, unsigned retry_after_s,
               const struct respond_env *env, bool keep_alive,
               bool head_only, struct response *res)
{
    const char *detail = status == 401 ? "Log in to go on." :
                         status == 429 ? "Too many logins from your "
                                         "address; wait and retry." :
                         status == 503 ? "Too many logins to check at "
                                         "once; retry shortly." :
                         "You may not do this here.";

    return refuse_with(status, detail, retry_after_s, env, keep_alive,
                       head_only, res);
}

/* A refusal with its status line, DETAIL, and the fields it calls for. */
static int
refuse_with(int status, const char *detail, unsigned retry_after_s,
            const struct respond_env *env, bool keep_alive, bool head_only,
            struct response *res)
{
    char buf[RESPOND_HEAD_MAX], *body;
    struct http_head h;
    int n;

    res->fd = -1;
    body = malloc(DETAIL_MAX + 64);
    if (body == NULL)
        return -1;
    n = snprintf(body, DETAIL_MAX + 64, "%d %s\n%.*s%s", status,
                 http_reason(status), DETAIL_MAX, detail ? detail : "",
                 detail ? "\n" : "");
    if (n < 0 || n >= DETAIL_MAX + 64) {
        free(body);
        return -1;
    }
    head_common(&h, buf, status, env, keep_alive);
    if (status == 403 || status == 405 || status == 501)
        http_head_put(&h, "Allow", ALLOW(env));
    if (status == 401)          /* RFC 7617; the realm is ours */
        http_head_put(&h, "WWW-Authenticate",
                      "Basic realm=\"ferry\", charset=\"UTF-8\"");
    if ((status == 429 || status == 503) && retry_after_s > 0)
        http_head_put_u64(&h, "Retry-After", retry_after_s);
    http_head_put(&h, "Content-Type", "text/plain; charset=utf-8");
    http_head_put_u64(&h, "Content-Length", n);
    res->close_after = !keep_alive;
    return finish(res, &h, status, body, (size_t)n, !head_only);
}

int
respond_stored(int status, const char *path, const struct respond_env *env,
               bool keep_alive, struct response *res)
{
    char buf[RESPOND_HEAD_MAX], location[RESPOND_HEAD_MAX / 2];
    struct http_head h;

    res->fd = -1;
    head_common(&h, buf, status, env, keep_alive);
    if (status == 201 && path_encode(path, location, sizeof location) >= 0)
        http_head_put(&h, "Location", location);
    if (status == 201)
        http_head_put(&h, "Content-Length", "0");
    res->close_after = !keep_alive;
    return finish(res, &h, status, NULL, 0, false);
}

const char *
respond_write_detail(int status)
{
    switch (status) {
    case 403:
        return "Writing this name is not permitted.";
    case 405:
        return "That name exists already.";
    case 409:
        return "A folder is in the way: the name is a folder, a parent is "
               "a file, or the folder is not empty.";
    case 411:
        return "An upload needs Content-Length or chunked encoding.";
    case 412:
        return "The file is not the version the request names (If-Match, "
               "If-None-Match or If-Unmodified-Since).";
    case 413:
        return "The upload is larger than this server accepts "
               "(--max-upload).";
    case 507:
        return "There is not enough free space for this upload.";
    default:
        return NULL;
    }
}

/* GET or HEAD of a path: decode it, open it confined, answer by type. */
static int
respond_path(const struct http_request *req, const struct respond_env *env,
             bool keep_alive, struct response *res)
{
    bool head_only = req->method == HTTP_METHOD_HEAD;
    struct target_path tp;
    struct stat st;
    int fd, rv;

    if (req->target.len == 1 && req->target.ptr[0] == '*')
        return respond_error(400, env, keep_alive, head_only, res);
    rv = path_from_target(req->target.ptr, req->target.len, &tp);
    if (rv < 0)
        return respond_error(-rv, env, keep_alive, head_only, res);
    if (tp.has_dot_segment && !env->root->hidden)
        return respond_error(404, env, keep_alive, head_only, res);

    fd = files_open(env->root, tp.path, &st);
    if (fd == -1)
        return respond_error(status_for_errno(errno), env, keep_alive,
                             head_only, res);
    if (S_ISDIR(st.st_mode)) {
        rv = respond_dir(req, env, keep_alive, &tp, fd, res);
        files_close(fd);
        return rv;
    }
    if (tp.trailing_slash || env->deposit) {
        files_close(fd);        /* "a.txt/" names a folder that is not; a
                                   drop box shows outsiders no file */
        return respond_error(404, env, keep_alive, head_only, res);
    }
    return respond_file(req, env, keep_alive, &tp, fd, &st, res);
}

/* A folder: redirect to the slash form, or list it. */
static int
respond_dir(const struct http_request *req, const struct respond_env *env,
            bool keep_alive, const struct target_path *tp, int fd,
            struct response *res)
{
    bool head_only = req->method == HTTP_METHOD_HEAD;
    char buf[RESPOND_HEAD_MAX], *body;
    struct listing list = { 0 };
    enum listing_format format;
    struct http_head h;
    size_t len;

    if (!tp->trailing_slash)
        return respond_redirect(env, keep_alive, tp, res);
    if (!env->deposit && files_list(env->root, tp->path, fd, &list) == -1)
        return respond_error(status_for_errno(errno), env, keep_alive,
                             head_only, res);
    format = listing_pick_format(req->accept.ptr, req->accept.len);
    if (env->deposit && format == LISTING_HTML)
        body = listing_render_deposit(tp->path, &len);  /* upload-only */
    else
        body = listing_render(format, tp->path, &list, env->offer_writes,
                              &len);
    listing_free(&list);
    if (body == NULL)
        return -1;

    head_common(&h, buf, 200, env, keep_alive);
    http_head_put(&h, "Content-Type", listing_content_type(format));
    http_head_put_u64(&h, "Content-Length", len);
    http_head_put(&h, "Vary", "Accept");
    http_head_put(&h, "Cache-Control", "no-cache");
    if (format == LISTING_HTML)
        http_head_put(&h, "Content-Security-Policy",
                      listing_csp(env->offer_writes || env->deposit));
    res->close_after = !keep_alive;
    return finish(res, &h, 200, body, len, !head_only);
}

/* 301 from "/a/b" to "/a/b/": an absolute path on the same host. */
static int
respond_redirect(const struct respond_env *env, bool keep_alive,
                 const struct target_path *tp, struct response *res)
{
    char buf[RESPOND_HEAD_MAX], location[RESPOND_HEAD_MAX / 2];
    struct http_head h;
    int n;

    n = path_encode(tp->path, location, sizeof location - 1);
    if (n < 0)
        return respond_error(414, env, keep_alive, false, res);
    if (n == 0 || location[n - 1] != '/')
        location[n++] = '/';
    location[n] = '\0';

    head_common(&h, buf, 301, env, keep_alive);
    if (tp->query != NULL && (size_t)n + 1 + tp->query_len < sizeof location)
        http_head_add(&h, "Location", "%s?%.*s", location,
                      (int)tp->query_len, tp->query);
    else
        http_head_put(&h, "Location", location);
    http_head_put(&h, "Content-Length", "0");
    res->close_after = !keep_alive;
    return finish(res, &h, 301, NULL, 0, false);
}

/* A regular file: preconditions, then 304, 412, 416, 206 or 200. */
static int
respond_file(const struct http_request *req, const struct respond_env *env,
             bool keep_alive, const struct target_path *tp, int fd,
             const struct stat *st, struct response *res)
{
    bool head_only = req->method == HTTP_METHOD_HEAD;
    char buf[RESPOND_HEAD_MAX], etag[COND_ETAG_MAX], date[HTTP_DATE_LEN + 1];
    const char *type = mime_type_for(tp->path);
    uint64_t size = (uint64_t)st->st_size;
    struct byte_range ranges[RANGE_MAX_PARTS];
    enum range_outcome outcome = RANGE_IGNORE;
    struct http_head h;
    size_t count = 0;
    int status;

    cond_etag(st, etag);
    http_date_format(st->st_mtime, date);
    status = cond_evaluate(req, true, etag, st->st_mtime);
    if (status == 412) {
        files_close(fd);        /* a refusal carries no file */
        return respond_error(412, env, keep_alive, head_only, res);
    }
    res->fd = fd;
    res->close_after = !keep_alive;

    /* Range applies to GET only (RFC 9110 section 14.2), and only while
     * If-Range still names this version of the file. */
    if (status == 0 && req->method == HTTP_METHOD_GET && req->range.len > 0 &&
        cond_if_range_holds(req, etag, st->st_mtime))
        outcome = range_plan(req->range.ptr, req->range.len, size, ranges,
                             &count);
    if (status == 0)
        status = outcome == RANGE_PARTIAL ? 206 :
                 outcome == RANGE_UNSATISFIABLE ? 416 : 200;

    head_common(&h, buf, status, env, keep_alive);
    http_head_put(&h, "ETag", etag);
    http_head_put(&h, "Last-Modified", date);
    if (status == 304)
        return finish(res, &h, 304, NULL, 0, false);
    http_head_put(&h, "Accept-Ranges", "bytes");
    if (env->writable && active_content(type))
        http_head_put(&h, "Content-Security-Policy", SANDBOX_CSP);
    if (status == 416) {
        http_head_add(&h, "Content-Range", "bytes */%" PRIu64, size);
        http_head_put(&h, "Content-Length", "0");
        return finish(res, &h, 416, NULL, 0, false);
    }
    if (status == 206)
        return respond_ranges(type, size, ranges, count, head_only, &h, res);

    http_head_put(&h, "Content-Type", type);
    http_head_put_u64(&h, "Content-Length", size);
    if (finish(res, &h, 200, NULL, 0, false) == -1)
        return -1;
    return head_only ? 0 : response_add_file(res, 0, size);
}

/*
 * 206: one range as a plain body, several as multipart/byteranges
 * (RFC 9110 section 14.6) whose part heads live in one buffer.
 */
static int
respond_ranges(const char *type, uint64_t size, const struct byte_range *r,
               size_t count, bool head_only, struct http_head *h,
               struct response *res)
{
    char boundary[2 * BOUNDARY_BYTES + 1], *parts;
    size_t i, used = 0, cap = (count + 1) * PART_HEAD_MAX;
    uint64_t total = 0;

    if (count == 1) {
        total = r[0].last - r[0].first + 1;
        http_head_put(h, "Content-Type", type);
        http_head_add(h, "Content-Range", "bytes %" PRIu64 "-%" PRIu64
                      "/%" PRIu64, r[0].first, r[0].last, size);
        http_head_put_u64(h, "Content-Length", total);
        if (finish(res, h, 206, NULL, 0, false) == -1)
            return -1;
        return head_only ? 0 : response_add_file(res, r[0].first, total);
    }

    if (make_boundary(boundary) == -1 || (parts = malloc(cap)) == NULL)
        return -1;
    res->body = parts;      /* owned by the response from here on */
    for (i = 0; i < count; i++) {
        int n = snprintf(parts + used, cap - used,
                         "%s--%s\r\nContent-Type: %s\r\n"
                         "Content-Range: bytes %" PRIu64 "-%" PRIu64
                         "/%" PRIu64 "\r\n\r\n", i ? "\r\n" : "", boundary,
                         type, r[i].first, r[i].last, size);

        used += (size_t)n;
        total += (uint64_t)n + (r[i].last - r[i].first + 1);
    }
    used += (size_t)snprintf(parts + used, cap - used, "\r\n--%s--\r\n",
                             boundary);
    total += 8 + 2 * BOUNDARY_BYTES;

    http_head_add(h, "Content-Type", "multipart/byteranges; boundary=%s",
                  boundary);
    http_head_put_u64(h, "Content-Length", total);
    if (finish(res, h, 206, parts, 0, false) == -1)
        return -1;
    return head_only ? 0 : add_part_segments(res, parts, r, count);
}

/*
 * The body of a multipart answer: each part head from PARTS (written in
 * order, one after the other), then its range of the file, then the
 * closing delimiter.
 */
static int
add_part_segments(struct response *res, const char *parts,
                  const struct byte_range *r, size_t count)
{
    size_t i, used = 0, n;

    if (response_grow(res, 2 * count + 1) == -1)
        return -1;
    for (i = 0; i < count; i++) {
        n = strstr(parts + used, "\r\n\r\n") + 4 - (parts + used);
        res->segs[1 + 2 * i] = (struct segment){ parts, used, n };
        res->segs[2 + 2 * i] = (struct segment){ NULL, r[i].first,
                                                 r[i].last - r[i].first + 1 };
        res->body_len += n + res->segs[2 + 2 * i].len;
        used += n;
    }
    n = strlen(parts + used);
    res->segs[1 + 2 * count] = (struct segment){ parts, used, n };
    res->body_len += n;
    return 0;
}

/* A boundary the file's bytes cannot be made to contain: random. */
static int
make_boundary(char *out)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char rnd[BOUNDARY_BYTES];
    size_t i;

    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        return -1;
    for (i = 0; i < sizeof rnd; i++) {
        out[2 * i] = hex[rnd[i] >> 4];
        out[2 * i + 1] = hex[rnd[i] & 15];
    }
    out[2 * BOUNDARY_BYTES] = '\0';
    return 0;
}

/* DELETE or MKCOL on a writable share. */
static int
respond_write_op(const struct http_request *req,
                 const struct respond_env *env, bool keep_alive,
                 struct response *res)
{
    struct target_path tp;
    int rv = path_from_target(req->target.ptr, req->target.len, &tp);

    if (rv < 0)
        return respond_error(-rv, env, keep_alive, false, res);
    if (tp.has_dot_segment && !env->root->hidden)
        return respond_refusal(403, "Dotfiles cannot be written (start "
                               "ferry with --hidden).", env, keep_alive,
                               false, res);
    if (env->deposit)
        return respond_refusal(403, "This drop box takes new files only.",
                               env, keep_alive, false, res);
    if (req->method == HTTP_METHOD_DELETE)
        rv = upload_delete(env->root, tp.path, req);
    else
        rv = upload_mkcol(env->root, tp.path);
    if (rv > 0)
        return respond_stored(rv == 201 ? 201 : 204, tp.path, env,
                              keep_alive, res);
    return respond_refusal(-rv, respond_write_detail(-rv), env, keep_alive,
                           false, res);
}

/* Whether a browser would run script in a document of this TYPE. */
static bool
active_content(const char *type)
{
    static const char *const active[] = {
        "text/html", "application/xhtml+xml", "image/svg+xml", "text/xml",
        "application/xml",
    };
    size_t i, len;

    for (i = 0; i < sizeof active / sizeof active[0]; i++) {
        len = strlen(active[i]);
        if (strncmp(type, active[i], len) == 0 &&
            (type[len] == '\0' || type[len] == ';'))
            return true;
    }
    return false;
}

/* What a failed open means to the client. */
static int
status_for_errno(int err)
{
    switch (err) {
    case ENOENT:
    case ENOTDIR:
    case ELOOP:
    case EXDEV:
        return 404;
    case EACCES:
    case EPERM:
        return 403;
    case ENAMETOOLONG:
        return 414;
    case EMFILE:
    case ENFILE:
    case ENOMEM:
    case EAGAIN:
        return 503;
    default:
        log_warnx("files: open failed: %s", strerror(err));
        return 500;
    }
}

/* Status line, Date, Server and the fields every answer carries. */
static void
head_common(struct http_head *h, char *buf, int status,
            const struct respond_env *env, bool keep_alive)
{
    http_head_begin(h, buf, RESPOND_HEAD_MAX, status, env->now);
    http_head_put(h, "X-Content-Type-Options", "nosniff");
    if (!keep_alive)
        http_head_put(h, "Connection", "close");
    else
        http_head_put(h, "Connection", "keep-alive");
}

/*
 * End the head, copy it to the response and make it segment 0; a memory
 * BODY (owned from now on, even on failure) becomes segment 1 when sent.
 */
static int
finish(struct response *res, struct http_head *h, int status, char *body,
       size_t body_len, bool send_body)
{
    int len = http_head_end(h);

    res->status = status;
    if (body != NULL)
        res->body = body;
    if (len < 0)
        return -1;
    res->head = malloc((size_t)len);
    if (res->head == NULL || response_grow(res, 0) == -1)
        return -1;
    memcpy(res->head, h->buf, (size_t)len);
    res->segs[0] = (struct segment){ res->head, 0, (uint64_t)len };
    if (send_body && body_len > 0) {
        if (response_grow(res, 1) == -1)
            return -1;
        res->segs[1] = (struct segment){ body, 0, body_len };
        res->body_len = body_len;
    }
    return 0;
}
