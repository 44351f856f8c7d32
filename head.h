/*
 * head.h: HTTP dates and the response-head writer.
 *
 * Works on caller buffers only: no sockets, no files, no TLS, no
 * allocation.  Dates are written and read without the locale.
 */
#ifndef FERRY_HEAD_H
#define FERRY_HEAD_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <time.h>

#define HTTP_DATE_LEN 29            /* "Sun, 06 Nov 1994 08:49:37 GMT" */

/* The reason phrase for STATUS ("Not Found"), "Unknown" if none. */
const char *http_reason(int status);

/* Write T as an IMF-fixdate into OUT (HTTP_DATE_LEN + 1 bytes). */
void http_date_format(time_t t, char *out);

/*
 * Parse an HTTP-date in any of the three forms RFC 9110 section 5.6.7 says
 * a recipient must accept.  Returns 0 and sets *T, or -1 if invalid.
 */
int http_date_parse(const char *s, size_t len, time_t *t);

/*
 * A response head being written into a caller's buffer.  Writes past CAP
 * are dropped and remembered, so callers check once, at http_head_end.
 */
struct http_head {
    char *buf;
    size_t cap;
    size_t len;
    bool overflow;
};

/* Start "HTTP/1.1 STATUS Reason" with Date and Server fields. */
void http_head_begin(struct http_head *h, char *buf, size_t cap, int status,
                     time_t now);

/* Append "NAME: VALUE\r\n", VALUE formatted like printf. */
void http_head_add(struct http_head *h, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Append "NAME: VALUE\r\n" as given, without printf's cost. */
void http_head_put(struct http_head *h, const char *name, const char *value);

/* Append "NAME: VALUE\r\n" with VALUE in decimal. */
void http_head_put_u64(struct http_head *h, const char *name, uint64_t value);

/* Append the blank line.  Returns the head length, or -1 on overflow. */
int http_head_end(struct http_head *h);

#endif /* FERRY_HEAD_H */
