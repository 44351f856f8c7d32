/*
 * http.h: the HTTP/1.1 request parser and its number and token helpers.
 *
 * Works on buffers only: no sockets, no files, no TLS, no allocation.
 * The parser follows RFC 9112 strictly; what it refuses it answers with
 * the status to send.  Slices in struct http_request point into the
 * caller's buffer and stay valid only while that buffer does.
 */
#ifndef FERRY_HTTP_H
#define FERRY_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limits, each with the status sent when a client passes it. */
#define HTTP_MAX_HEAD_BYTES   16384 /* whole head; 431 beyond */
#define HTTP_MAX_TARGET_BYTES 8192  /* request target; 414 beyond */
#define HTTP_MAX_FIELDS       100   /* header lines; 431 beyond */

enum http_method {
    HTTP_METHOD_UNKNOWN = 0,        /* a valid token we do not know: 501 */
    HTTP_METHOD_GET,
    HTTP_METHOD_HEAD,
    HTTP_METHOD_OPTIONS,
    HTTP_METHOD_PUT,
    HTTP_METHOD_DELETE,
    HTTP_METHOD_MKCOL,
    HTTP_METHOD_POST,               /* known, never allowed: 405 */
    HTTP_METHOD_PATCH,
    HTTP_METHOD_TRACE,
    HTTP_METHOD_CONNECT,
};

/* A byte range inside the buffer the request was parsed from. */
struct http_slice {
    const char *ptr;
    size_t len;
};

struct http_request {
    enum http_method method;
    struct http_slice method_name;  /* as sent, for the access log */
    struct http_slice target;       /* request-target as sent */
    struct http_slice request_line; /* without CRLF, for the access log */
    int version_minor;              /* 0 or 1: HTTP/1.0 or HTTP/1.1 */

    /* Fields we act on; len 0 when absent.  Values are OWS-trimmed. */
    struct http_slice host;
    struct http_slice range;
    struct http_slice if_range;
    struct http_slice if_match;
    struct http_slice if_none_match;
    struct http_slice if_modified_since;
    struct http_slice if_unmodified_since;
    struct http_slice accept;
    struct http_slice user_agent;
    struct http_slice referer;
    struct http_slice authorization;
    struct http_slice content_type;

    bool has_host;
    bool has_content_length;
    uint64_t content_length;
    bool chunked;                   /* Transfer-Encoding: chunked (final) */
    bool expect_continue;           /* Expect: 100-continue, HTTP/1.1 only */
    bool keep_alive;                /* after Connection and version rules */
    size_t head_len;                /* bytes of the head, CRLFCRLF included */
};

/*
 * Parse the request head at the start of BUF (LEN bytes received so far).
 * Returns the head length (> 0) when complete and valid, 0 when more bytes
 * are needed, or -STATUS (-400, -414, -417, -431, -501, -505) when the request
 * must be refused; after -400 the connection must be closed, since where
 * the next request starts is unknown.  A request head that can never
 * become valid is refused as soon as that is certain, not only at its end,
 * so a client cannot make us buffer a hopeless head.
 */
int http_parse_request(const char *buf, size_t len, struct http_request *req);

/*
 * Parse a decimal number from the wire: digits only, no sign, no space,
 * at least one digit, at most MAX.  Returns 0 and sets *OUT, or -1.
 */
int http_parse_uint(const char *s, size_t len, uint64_t max, uint64_t *out);

/* Case-insensitive comparison of a slice with a NUL-terminated token. */
bool http_slice_eq(struct http_slice s, const char *token);

#endif /* FERRY_HTTP_H */
