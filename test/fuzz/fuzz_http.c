/*
 * fuzz_http.c: libFuzzer target for http_parse_request (http.c).
 *
 * Input: two bytes choosing a split point K, then the request bytes.  The
 * parser keeps no state, so a connection calls it again with a longer
 * buffer as bytes arrive; the prefix of K bytes must never contradict the
 * whole: an error found early is the error, a head found early is the
 * same head.  Every answer is checked against the header's promises:
 * statuses, slices inside the head, trimmed values, framing rules.
 */
#include <stdbool.h>

#include "http.h"
#include "fuzz.h"

#define NSLICES 15

static void check_status(int rv, size_t len);
static void check_head(const char *buf, size_t len, int rv,
                       const struct http_request *req);
static void check_slice(const char *buf, size_t head_len,
                        struct http_slice s);
static void check_fields(const struct http_request *req);
static void check_prefix(const char *buf, size_t k, int rv,
                         const struct http_request *req);
static void check_uint(const char *s, size_t len, uint64_t max);
static void slices(const struct http_request *r,
                   struct http_slice out[NSLICES]);
static bool same_request(const struct http_request *a, const char *abuf,
                         const struct http_request *b, const char *bbuf);
static bool trimmed(struct http_slice s);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = { data, size };
    struct http_request req;
    size_t k;
    char *buf;
    int rv;

    k = (size_t)fuzz_uint(&in, 2);
    buf = fuzz_copy(in.p, in.n);
    rv = http_parse_request(buf, in.n, &req);
    check_status(rv, in.n);
    check_head(buf, in.n, rv, &req);
    check_prefix(buf, k % (in.n + 1), rv, &req);
    check_uint(buf, in.n < 24 ? in.n : 24, k % 3 == 0 ? UINT64_MAX : k);
    free(buf);
    return 0;
}

/* Only the statuses the header lists, and 0 only while a head can fit. */
static void
check_status(int rv, size_t len)
{
    FUZZ_CHECK(rv >= 0 || rv == -400 || rv == -414 || rv == -417 ||
               rv == -431 || rv == -501 || rv == -505);
    FUZZ_CHECK(rv != 0 || len < HTTP_MAX_HEAD_BYTES);
    FUZZ_CHECK(rv <= (int)len && rv <= HTTP_MAX_HEAD_BYTES);
}

/* A complete head: its length, its end, and where its slices point. */
static void
check_head(const char *buf, size_t len, int rv,
           const struct http_request *req)
{
    struct http_slice s[NSLICES];
    size_t i, h = req->head_len;

    if (rv <= 0)
        return;
    FUZZ_CHECK((size_t)rv == h && h <= len && h >= 16);
    FUZZ_CHECK(memcmp(buf + h - 4, "\r\n\r\n", 4) == 0);

    slices(req, s);
    for (i = 0; i < NSLICES; i++)
        check_slice(buf, h, s[i]);
    FUZZ_CHECK(req->method_name.ptr == req->request_line.ptr);
    FUZZ_CHECK(req->request_line.ptr + req->request_line.len ==
               req->target.ptr + req->target.len + 9);
    FUZZ_CHECK(req->target.len > 0 &&
               req->target.len <= HTTP_MAX_TARGET_BYTES);
    for (i = 0; i < req->target.len; i++)
        FUZZ_CHECK(req->target.ptr[i] > 0x20 && req->target.ptr[i] < 0x7f);
    check_fields(req);
}

/* Inside the head, and never over a line end. */
static void
check_slice(const char *buf, size_t head_len, struct http_slice s)
{
    if (s.len == 0)
        return;
    FUZZ_CHECK(s.ptr >= buf && s.ptr + s.len <= buf + head_len);
    FUZZ_CHECK(memchr(s.ptr, '\r', s.len) == NULL);
    FUZZ_CHECK(memchr(s.ptr, '\n', s.len) == NULL);
    FUZZ_CHECK(memchr(s.ptr, '\0', s.len) == NULL);
}

/* Framing and version rules that hold whatever the fields were. */
static void
check_fields(const struct http_request *req)
{
    struct http_slice s[NSLICES];
    size_t i;

    slices(req, s);
    for (i = 3; i < NSLICES; i++)       /* the field values */
        FUZZ_CHECK(trimmed(s[i]));
    FUZZ_CHECK(req->version_minor == 0 || req->version_minor == 1);
    FUZZ_CHECK(req->method_name.len > 0);
    FUZZ_CHECK(!(req->chunked && req->has_content_length));
    FUZZ_CHECK(!req->chunked || req->version_minor == 1);
    FUZZ_CHECK(!req->expect_continue || req->version_minor == 1);
    FUZZ_CHECK(req->has_content_length || req->content_length == 0);
    FUZZ_CHECK(req->content_length <= UINT64_C(1) << 62);
    FUZZ_CHECK(req->version_minor == 0 || req->host.len > 0);
    FUZZ_CHECK(req->has_host || req->host.len == 0);
}

/*
 * The same bytes cut at K, in a block of their own: 0 (more), or exactly
 * what the whole said.  A complete head is also seen at exactly its
 * length, and not one byte earlier.
 */
static void
check_prefix(const char *buf, size_t k, int rv,
             const struct http_request *req)
{
    struct http_request part;
    char *copy = fuzz_copy(buf, k);
    int rk = http_parse_request(copy, k, &part);

    FUZZ_CHECK(rk == 0 || rk == rv);
    FUZZ_CHECK(rk <= 0 || same_request(req, buf, &part, copy));
    FUZZ_CHECK(rk != 0 || rv <= 0 || (size_t)rv > k);
    free(copy);

    if (rv <= 0)
        return;
    copy = fuzz_copy(buf, (size_t)rv);
    FUZZ_CHECK(http_parse_request(copy, (size_t)rv, &part) == rv);
    FUZZ_CHECK(same_request(req, buf, &part, copy));
    FUZZ_CHECK(http_parse_request(copy, (size_t)rv - 1, &part) == 0);
    free(copy);
}

/* http_parse_uint against a plain reading with overflow checks. */
static void
check_uint(const char *s, size_t len, uint64_t max)
{
    uint64_t got = 7, want = 0;
    bool ok = len > 0;
    size_t i;

    for (i = 0; i < len && ok; i++) {
        ok = s[i] >= '0' && s[i] <= '9' &&
             !__builtin_mul_overflow(want, 10, &want) &&
             !__builtin_add_overflow(want, (uint64_t)(s[i] - '0'), &want) &&
             want <= max;
    }
    if (http_parse_uint(s, len, max, &got) == 0)
        FUZZ_CHECK(ok && got == want);
    else
        FUZZ_CHECK(!ok && got == 7);
}

/* The request line parts, then the field values, in a fixed order. */
static void
slices(const struct http_request *r, struct http_slice out[NSLICES])
{
    const struct http_slice all[NSLICES] = {
        r->method_name, r->target, r->request_line,
        r->host, r->range, r->if_range, r->if_match, r->if_none_match,
        r->if_modified_since, r->if_unmodified_since, r->accept,
        r->user_agent, r->referer, r->authorization, r->content_type,
    };

    memcpy(out, all, sizeof all);
}

/* Equal fields, slices compared by offset in their own buffers. */
static bool
same_request(const struct http_request *a, const char *abuf,
             const struct http_request *b, const char *bbuf)
{
    struct http_slice sa[NSLICES], sb[NSLICES];
    size_t i;

    slices(a, sa);
    slices(b, sb);
    for (i = 0; i < NSLICES; i++) {
        if (sa[i].len != sb[i].len ||
            (sa[i].len > 0 && sa[i].ptr - abuf != sb[i].ptr - bbuf))
            return false;
    }
    return a->method == b->method && a->version_minor == b->version_minor &&
           a->has_host == b->has_host &&
           a->has_content_length == b->has_content_length &&
           a->content_length == b->content_length &&
           a->chunked == b->chunked &&
           a->expect_continue == b->expect_continue &&
           a->keep_alive == b->keep_alive && a->head_len == b->head_len;
}

static bool
trimmed(struct http_slice s)
{
    return s.len == 0 ||
           (s.ptr[0] != ' ' && s.ptr[0] != '\t' &&
            s.ptr[s.len - 1] != ' ' && s.ptr[s.len - 1] != '\t');
}
