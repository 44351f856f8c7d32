/*
 * body.c: framing a PUT body and feeding it to its upload.
 *
 * A Content-Length body is read to the byte and never past it; a chunked
 * one is decoded in place as it arrives.  Any failure abandons the
 * upload at once, so the target is never touched by a partial body.
 */
#include "body.h"

#include <string.h>

static int write_data(struct body *b, const char *data, size_t len);

int
body_start(struct body *b, const struct files_root *root, const char *path,
           const struct http_request *req, uint64_t max_bytes, bool deposit)
{
    uint64_t declared;
    int rv;

    memset(b, 0, sizeof *b);
    b->up.fd = -1;
    b->up.dirfd = -1;
    if (req->chunked) {
        b->is_chunked = true;
        chunked_init(&b->chunked);
        declared = UPLOAD_SIZE_UNKNOWN;
    } else if (req->has_content_length) {
        b->left = req->content_length;
        declared = req->content_length;
    } else {
        return -411;            /* RFC 9110 section 15.5.12 */
    }
    /* A deposit makes no folder (RFC 4918 9.7.1: a missing parent is a
     * conflict), so outsiders cannot shape the tree. */
    rv = upload_prepare_in(root, path, req, declared, max_bytes, !deposit,
                           &b->up);
    if (rv < 0)
        return rv == -412 && deposit ? -403 : rv;
    b->active = true;
    b->deposit = deposit;
    if (deposit && b->up.existed) {
        body_abort(b);
        return -403;            /* a drop box never replaces */
    }
    b->up.create_only |= deposit;
    return 0;
}

size_t
body_want(const struct body *b, size_t cap)
{
    if (b->is_chunked || b->left >= cap)
        return cap;
    return (size_t)b->left;
}

int
body_feed(struct body *b, char *buf, size_t len, size_t *used)
{
    size_t data_len;
    int rv;

    if (!b->is_chunked) {
        *used = len < b->left ? len : (size_t)b->left;
        rv = write_data(b, buf, *used);
        if (rv < 0)
            return rv;
        b->left -= *used;
        return b->left == 0 ? BODY_DONE : BODY_MORE;
    }
    switch (chunked_decode(&b->chunked, buf, len, used, &data_len)) {
    case CHUNKED_ERROR:
        body_abort(b);
        return -400;
    case CHUNKED_DONE:
        rv = write_data(b, buf, data_len);
        return rv < 0 ? rv : BODY_DONE;
    default:
        rv = write_data(b, buf, data_len);
        return rv < 0 ? rv : BODY_MORE;
    }
}

int
body_commit(struct body *b, const struct http_request *req)
{
    int rv;

    b->active = false;
    rv = upload_commit(&b->up, req);
    return rv == -412 && b->deposit ? -403 : rv;
}

void
body_abort(struct body *b)
{
    if (!b->active)
        return;
    upload_abort(&b->up);
    b->active = false;
}

/* Hand decoded data to the upload; abandon it on failure. */
static int
write_data(struct body *b, const char *data, size_t len)
{
    int rv;

    if (len == 0)
        return 0;
    rv = upload_write(&b->up, data, len);
    if (rv < 0)
        body_abort(b);
    return rv;
}
