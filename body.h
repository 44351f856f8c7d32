/*
 * body.h: a PUT request's body, from received bytes to a committed file.
 *
 * Frames the body (Content-Length or chunked), hands its data to an
 * upload (upload.c) and commits or abandons it.  Works on buffers the
 * connection passes in: no sockets, no TLS.
 */
#ifndef FERRY_BODY_H
#define FERRY_BODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chunked.h"
#include "files.h"
#include "http.h"
#include "upload.h"

enum body_result {
    BODY_MORE = 0,          /* everything used; more bytes are needed */
    BODY_DONE = 1,          /* the body is complete */
};

struct body {
    struct upload up;
    struct chunked chunked;
    bool is_chunked;
    bool active;            /* an upload is open and must end */
    bool deposit;           /* drop box: never replace */
    uint64_t left;          /* Content-Length bytes still to come */
};

/*
 * Start receiving the body of REQ (a PUT of relative PATH) into a new
 * upload, checking everything that can be checked before the first byte:
 * see upload_prepare.  DEPOSIT (a drop box) allows only a new file: an
 * existing name gets 403, and so does one created meanwhile.  Returns 0,
 * or -STATUS (411 without a length).
 */
int body_start(struct body *b, const struct files_root *root,
               const char *path, const struct http_request *req,
               uint64_t max_bytes, bool deposit);

/* How many bytes may be read now without reading past the body. */
size_t body_want(const struct body *b, size_t cap);

/*
 * Take LEN received bytes at BUF (decoded in place when chunked).  *USED
 * is set to how many belonged to the body; the rest are the next
 * request's.  Returns BODY_MORE, BODY_DONE, or -STATUS (400 malformed
 * chunking, 413, 507, 500): then the upload is already abandoned.
 */
int body_feed(struct body *b, char *buf, size_t len, size_t *used);

/*
 * The body is complete: commit the upload against REQ's preconditions.
 * Returns 201 or 204, or -STATUS.  The body is inactive afterwards.
 */
int body_commit(struct body *b, const struct http_request *req);

/* Abandon an active upload (client gone, deadline, error); idempotent. */
void body_abort(struct body *b);

#endif /* FERRY_BODY_H */
