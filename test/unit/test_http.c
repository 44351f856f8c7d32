/*
 * test_http.c: unit tests for http.c (cmocka).
 *
 * Every request in the table is parsed whole from a buffer of its exact
 * size (ASan sees any over-read), then every prefix of it is parsed again
 * from the end of a page followed by an unmapped page, so reading one
 * byte past what was received crashes.  The parser keeps no state between
 * calls, so feeding prefixes is the same as feeding a request split at
 * every offset or one byte at a time: each prefix must give "need more"
 * or the final error, never another answer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

#include "guard.h"
#include "cases.h"

#define OK 1                        /* want: a complete head */
/* A case's first fields; the length counts NULs inside IN too. */
#define REQ(l, IN, w) .label = l, .in = IN, .len = sizeof(IN) - 1, .want = w
#define H "Host: a\r\n"

struct req_case {
    const char *label;
    const char *in;
    size_t len;
    int want;                       /* OK, 0 (need more) or -STATUS */
    size_t early;                   /* error due once this many bytes came */

    /* Checked when want == OK; a NULL string is not checked. */
    enum http_method method;
    bool v10;                       /* HTTP/1.0, else 1.1 */
    bool close;                     /* keep_alive false, else true */
    bool chunked;
    bool expect;
    const char *cl;                 /* Content-Length, NULL: absent */
    const char *target;
    const char *host;               /* also means has_host */
    const char *line;               /* request line */
    const char *field;              /* a slice by name, see named_slice */
    const char *value;
};

static const struct req_case req_cases[] = {
    /* Valid heads. */
    { REQ("simple GET", "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", OK),
      .method = HTTP_METHOD_GET, .target = "/", .host = "example.com",
      .line = "GET / HTTP/1.1" },
    { REQ("HEAD 1.0 without Host", "HEAD /x HTTP/1.0\r\n\r\n", OK),
      .method = HTTP_METHOD_HEAD, .v10 = true, .close = true,
      .target = "/x" },
    { REQ("1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
          OK), .method = HTTP_METHOD_GET, .v10 = true },
    { REQ("1.0 Keep-Alive any case",
          "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", OK),
      .method = HTTP_METHOD_GET, .v10 = true },
    { REQ("1.0 keep-alive, close",
          "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", OK),
      .method = HTTP_METHOD_GET, .v10 = true, .close = true },
    { REQ("1.1 close", "GET / HTTP/1.1\r\n" H "Connection: close\r\n\r\n", OK),
      .method = HTTP_METHOD_GET, .close = true },
    { REQ("1.1 Close in a list",
          "GET / HTTP/1.1\r\n" H "Connection: keep-alive, Close\r\n\r\n", OK),
      .method = HTTP_METHOD_GET, .close = true },
    { REQ("1.1 close in a second field",
          "GET / HTTP/1.1\r\n" H "Connection: Upgrade\r\nConnection: close"
          "\r\n\r\n", OK), .method = HTTP_METHOD_GET, .close = true },
    { REQ("1.1 empty list elements",
          "GET / HTTP/1.1\r\n" H "Connection: , ,close,\r\n\r\n", OK),
      .method = HTTP_METHOD_GET, .close = true },
    { REQ("1.1 keep-alive", "GET / HTTP/1.1\r\n" H "Connection: keep-alive"
          "\r\n\r\n", OK), .method = HTTP_METHOD_GET },
    { REQ("HTTP/1.2 spoken to as 1.1", "GET / HTTP/1.2\r\n" H "\r\n", OK),
      .method = HTTP_METHOD_GET },
    { REQ("HTTP/1.9 spoken to as 1.1", "GET / HTTP/1.9\r\n" H "\r\n", OK),
      .method = HTTP_METHOD_GET },
    { REQ("OPTIONS *", "OPTIONS * HTTP/1.1\r\n" H "\r\n", OK),
      .method = HTTP_METHOD_OPTIONS, .target = "*" },
    { REQ("PUT with its body after the head",
          "PUT /f HTTP/1.1\r\n" H "Content-Length: 5\r\n\r\nhello", OK),
      .method = HTTP_METHOD_PUT, .cl = "5" },
    { REQ("Content-Length list of equal values",
          "PUT /f HTTP/1.1\r\n" H "Content-Length: 5, 5\r\n\r\n", OK),
      .method = HTTP_METHOD_PUT, .cl = "5" },
    { REQ("Content-Length equal in two fields",
          "PUT /f HTTP/1.1\r\n" H "Content-Length: 5\r\nContent-Length: 5"
          "\r\n\r\n", OK), .method = HTTP_METHOD_PUT, .cl = "5" },
    { REQ("Content-Length zero", "PUT /f HTTP/1.1\r\n" H "Content-Length: 0"
          "\r\n\r\n", OK),
      .method = HTTP_METHOD_PUT, .cl = "0" },
    { REQ("Content-Length leading zeros",
          "PUT /f HTTP/1.1\r\n" H "Content-Length: 007\r\n\r\n", OK),
      .method = HTTP_METHOD_PUT, .cl = "7" },
    { REQ("Content-Length 2^62",
          "PUT /f HTTP/1.1\r\n" H "Content-Length: 4611686018427387904"
          "\r\n\r\n", OK), .method = HTTP_METHOD_PUT,
      .cl = "4611686018427387904" },
    { REQ("Content-Length with OWS",
          "PUT /f HTTP/1.1\r\n" H "Content-Length: \t 12 \t\r\n\r\n", OK),
      .method = HTTP_METHOD_PUT, .cl = "12" },
    { REQ("chunked", "PUT /f HTTP/1.1\r\n" H "Transfer-Encoding: chunked"
          "\r\n\r\n", OK),
      .method = HTTP_METHOD_PUT, .chunked = true },
    { REQ("Chunked any case", "PUT /f HTTP/1.1\r\n" H "Transfer-Encoding: "
          "ChUnKeD\r\n\r\n", OK),
      .method = HTTP_METHOD_PUT, .chunked = true },
    { REQ("chunked after an empty element",
          "PUT /f HTTP/1.1\r\n" H "Transfer-Encoding: , chunked ,\r\n\r\n",
          OK), .method = HTTP_METHOD_PUT, .chunked = true },
    { REQ("Expect: 100-continue",
          "PUT /f HTTP/1.1\r\n" H "Content-Length: 1\r\nExpect: 100-continue"
          "\r\n\r\n", OK), .method = HTTP_METHOD_PUT, .cl = "1",
      .expect = true },
    { REQ("Expect: 100-Continue any case",
          "PUT /f HTTP/1.1\r\n" H "Expect: 100-Continue\r\n\r\n", OK),
      .method = HTTP_METHOD_PUT, .expect = true },
    { REQ("Expect ignored in 1.0",
          "PUT /f HTTP/1.0\r\nExpect: 100-continue\r\n\r\n", OK),
      .method = HTTP_METHOD_PUT, .v10 = true, .close = true },
    { REQ("unknown method token", "FOO /x HTTP/1.1\r\n" H "\r\n", OK),
      .method = HTTP_METHOD_UNKNOWN, .field = "method", .value = "FOO" },
    { REQ("lowercase get is unknown", "get / HTTP/1.1\r\n" H "\r\n", OK),
      .method = HTTP_METHOD_UNKNOWN, .field = "method", .value = "get" },
    { REQ("method of odd tchars", "!#$%&'*+-.^_`|~09az / HTTP/1.1\r\n" H
          "\r\n", OK),
      .method = HTTP_METHOD_UNKNOWN },
    { REQ("DELETE", "DELETE /f HTTP/1.1\r\n" H "\r\n", OK),
      .method = HTTP_METHOD_DELETE },
    { REQ("MKCOL", "MKCOL /d/ HTTP/1.1\r\n" H "\r\n", OK),
      .method = HTTP_METHOD_MKCOL },
    { REQ("POST", "POST / HTTP/1.1\r\n" H "\r\n", OK),
      .method = HTTP_METHOD_POST },
    { REQ("PATCH", "PATCH / HTTP/1.1\r\n" H "\r\n", OK),
      .method = HTTP_METHOD_PATCH },
    { REQ("TRACE", "TRACE / HTTP/1.1\r\n" H "\r\n", OK),
      .method = HTTP_METHOD_TRACE },
    { REQ("CONNECT authority-form",
          "CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n",
          OK), .method = HTTP_METHOD_CONNECT, .target = "a.example:443",
      .host = "a.example:443" },
    { REQ("one leading empty line", "\r\nGET / HTTP/1.1\r\n" H "\r\n", OK),
      .method = HTTP_METHOD_GET, .line = "GET / HTTP/1.1" },
    { REQ("four leading empty lines",
          "\r\n\r\n\r\n\r\nGET /4 HTTP/1.1\r\n" H "\r\n", OK),
      .method = HTTP_METHOD_GET, .line = "GET /4 HTTP/1.1" },
    { REQ("OWS trimmed", "GET / HTTP/1.1\r\nHost: \t a.b \t\r\n\r\n", OK),
      .method = HTTP_METHOD_GET, .host = "a.b" },
    { REQ("HTAB as the only OWS", "GET / HTTP/1.1\r\nHost:\ta\r\n\r\n", OK),
      .method = HTTP_METHOD_GET, .host = "a" },
    { REQ("obs-text in a value",
          "GET / HTTP/1.1\r\n" H "User-Agent: caf\xc3\xa9/1\r\n\r\n", OK),
      .method = HTTP_METHOD_GET, .field = "user_agent",
      .value = "caf\xc3\xa9/1" },
    { REQ("inner spaces kept", "GET / HTTP/1.1\r\n" H "User-Agent: a b \t c"
          "  \r\n\r\n", OK),
      .method = HTTP_METHOD_GET, .field = "user_agent",
      .value = "a b \t c" },
    { REQ("empty field value", "GET / HTTP/1.1\r\n" H "X-Empty:\r\n\r\n", OK),
      .method = HTTP_METHOD_GET },
    { REQ("Host with port", "GET / HTTP/1.1\r\nHost: a.example:8443\r\n\r\n",
          OK), .method = HTTP_METHOD_GET, .host = "a.example:8443" },
    { REQ("Host IPv6 literal", "GET / HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n",
          OK), .method = HTTP_METHOD_GET, .host = "[::1]:8443" },
    { REQ("Host IPv4", "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", OK),
      .method = HTTP_METHOD_GET, .host = "127.0.0.1" },
    { REQ("Host pct-encoded, sub-delims",
          "GET / HTTP/1.1\r\nHost: a%2Db_c~d!e$f\r\n\r\n", OK),
      .method = HTTP_METHOD_GET, .host = "a%2Db_c~d!e$f" },
    { REQ("Host any case name", "GET / HTTP/1.1\r\nhOsT: x.y\r\n\r\n", OK),
      .method = HTTP_METHOD_GET, .host = "x.y" },
    { REQ("1.0 with an empty Host", "GET / HTTP/1.0\r\nHost:\r\n\r\n", OK),
      .method = HTTP_METHOD_GET, .v10 = true, .close = true, .host = "" },
    { REQ("pipelined second request",
          "GET /1 HTTP/1.1\r\n" H "\r\nGET /2 HTTP/1.1\r\n" H "\r\n", OK),
      .method = HTTP_METHOD_GET, .target = "/1" },
    { REQ("Accept repeated keeps the first",
          "GET / HTTP/1.1\r\n" H "Accept: text/html\r\nAccept: */*\r\n\r\n",
          OK), .method = HTTP_METHOD_GET, .field = "accept",
      .value = "text/html" },
    { REQ("User-Agent repeated keeps the first",
          "GET / HTTP/1.1\r\n" H "User-Agent: one\r\nUser-Agent: two"
          "\r\n\r\n", OK), .method = HTTP_METHOD_GET, .field = "user_agent",
      .value = "one" },
    { REQ("Referer", "GET / HTTP/1.1\r\n" H "Referer: https://a/b\r\n\r\n",
          OK), .method = HTTP_METHOD_GET, .field = "referer",
      .value = "https://a/b" },
    { REQ("query in the target", "GET /a?b=c&d=%20 HTTP/1.1\r\n" H "\r\n",
          OK), .method = HTTP_METHOD_GET, .target = "/a?b=c&d=%20" },
    { REQ("absolute-form target", "GET http://a/b HTTP/1.1\r\n" H "\r\n", OK),
      .method = HTTP_METHOD_GET, .target = "http://a/b" },
    { REQ("Range", "GET / HTTP/1.1\r\n" H "Range: bytes=0-1\r\n\r\n", OK),
      .method = HTTP_METHOD_GET, .field = "range", .value = "bytes=0-1" },
    { REQ("If-Range", "GET / HTTP/1.1\r\n" H "If-Range: \"x\"\r\n\r\n", OK),
      .method = HTTP_METHOD_GET, .field = "if_range", .value = "\"x\"" },
    { REQ("If-None-Match", "GET / HTTP/1.1\r\n" H "If-None-Match: \"a\", "
          "W/\"b\"\r\n\r\n", OK),
      .method = HTTP_METHOD_GET, .field = "if_none_match",
      .value = "\"a\", W/\"b\"" },
    { REQ("If-Match", "PUT / HTTP/1.1\r\n" H "If-Match: *\r\n\r\n", OK),
      .method = HTTP_METHOD_PUT, .field = "if_match", .value = "*" },
    { REQ("If-Modified-Since",
          "GET / HTTP/1.1\r\n" H "If-Modified-Since: Sun, 06 Nov 1994 "
          "08:49:37 GMT\r\n\r\n", OK), .method = HTTP_METHOD_GET,
      .field = "if_modified_since", .value = "Sun, 06 Nov 1994 08:49:37 GMT" },
    { REQ("If-Unmodified-Since",
          "PUT / HTTP/1.1\r\n" H "If-Unmodified-Since: x\r\n\r\n", OK),
      .method = HTTP_METHOD_PUT, .field = "if_unmodified_since",
      .value = "x" },
    { REQ("Authorization", "GET / HTTP/1.1\r\n" H "Authorization: Basic "
          "YTpi\r\n\r\n", OK), .method = HTTP_METHOD_GET,
      .field = "authorization", .value = "Basic YTpi" },
    { REQ("Content-Type", "PUT / HTTP/1.1\r\n" H "Content-Type: text/plain; "
          "charset=utf-8\r\n\r\n", OK),
      .method = HTTP_METHOD_PUT, .field = "content_type",
      .value = "text/plain; charset=utf-8" },
    { REQ("unknown fields ignored, repeated",
          "GET / HTTP/1.1\r\n" H "X-Foo: bar\r\nX-Foo: baz\r\n\r\n", OK),
      .method = HTTP_METHOD_GET },
    { REQ("field value of every allowed byte class",
          "GET / HTTP/1.1\r\n" H "X: !~\"\x80\xff\t(),/:;<=>?@[\\]{}\r\n\r\n",
          OK), .method = HTTP_METHOD_GET },

    /* Request line. */
    { REQ("two spaces after method", "GET  / HTTP/1.1\r\n" H "\r\n", -400),
      .early = 5 },
    { REQ("two spaces before version", "GET /  HTTP/1.1\r\n" H "\r\n", -400),
      .early = 7 },
    { REQ("tab after method", "GET\t/ HTTP/1.1\r\n" H "\r\n", -400),
      .early = 4 },
    { REQ("leading space", " GET / HTTP/1.1\r\n" H "\r\n", -400), .early = 1 },
    { REQ("invalid method byte", "GE(T / HTTP/1.1\r\n" H "\r\n", -400),
      .early = 3 },
    { REQ("NUL in method", "GE\0T / HTTP/1.1\r\n" H "\r\n", -400),
      .early = 3 },
    { REQ("lowercase http", "GET / http/1.1\r\n" H "\r\n", -400), .early = 7 },
    { REQ("HTTP/1.10", "GET / HTTP/1.10\r\n" H "\r\n", -400), .early = 15 },
    { REQ("HTTP/11", "GET / HTTP/11\r\n" H "\r\n", -400), .early = 13 },
    { REQ("HTTP/0.9 simple request", "GET /\r\n\r\n", -400), .early = 6 },
    { REQ("HTTP/2.0", "GET / HTTP/2.0\r\n" H "\r\n", -505), .early = 16 },
    { REQ("HTTP/0.9 with version", "GET / HTTP/0.9\r\n\r\n", -505),
      .early = 16 },
    { REQ("HTTP/3.0", "GET / HTTP/3.0\r\n" H "\r\n", -505), .early = 16 },
    { REQ("HTTP/2.0 then junk", "GET / HTTP/2.0x\r\n" H "\r\n", -400),
      .early = 15 },
    { REQ("space after version", "GET / HTTP/1.1 \r\n" H "\r\n", -400),
      .early = 15 },
    { REQ("no target", "GET HTTP/1.1\r\n" H "\r\n", -400), .early = 13 },
    { REQ("NUL in target", "GET /a\0b HTTP/1.1\r\n" H "\r\n", -400),
      .early = 7 },
    { REQ("tab in target", "GET /a\tb HTTP/1.1\r\n" H "\r\n", -400),
      .early = 7 },
    { REQ("byte 0x80 in target", "GET /\x80 HTTP/1.1\r\n" H "\r\n", -400),
      .early = 6 },
    { REQ("DEL in target", "GET /\x7f HTTP/1.1\r\n" H "\r\n", -400),
      .early = 6 },
    { REQ("five leading empty lines",
          "\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n" H "\r\n", -400),
      .early = 9 },
    { REQ("leading bare LF", "\nGET / HTTP/1.1\r\n" H "\r\n", -400),
      .early = 1 },
    { REQ("leading bare CR", "\rGET / HTTP/1.1\r\n" H "\r\n", -400),
      .early = 2 },

    /* Line endings and field syntax. */
    { REQ("LF-only request", "GET / HTTP/1.1\nHost: a\n\n", -400),
      .early = 15 },
    { REQ("bare CR after request line", "GET / HTTP/1.1\rHost: a\r\n\r\n",
          -400), .early = 16 },
    { REQ("bare LF in a field value",
          "GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n", -400), .early = 24 },
    { REQ("bare LF as the last line", "GET / HTTP/1.1\r\n" H "\n", -400),
      .early = 26 },
    { REQ("bare CR in a field value", "GET / HTTP/1.1\r\n" H "X: a\rb\r\n\r\n",
          -400), .early = 31 },
    { REQ("bare CR as the last line", "GET / HTTP/1.1\r\n" H "\rX", -400),
      .early = 27 },
    { REQ("NUL in a value", "GET / HTTP/1.1\r\n" H "X: a\0" "b\r\n\r\n",
          -400), .early = 30 },
    { REQ("DEL in a value", "GET / HTTP/1.1\r\n" H "X: a\x7f\r\n\r\n", -400),
      .early = 30 },
    { REQ("control byte in a value", "GET / HTTP/1.1\r\n" H "X: \x01\r\n\r\n",
          -400), .early = 29 },
    { REQ("ESC in a value", "GET / HTTP/1.1\r\n" H "X: \x1b[0m\r\n\r\n", -400),
      .early = 29 },
    { REQ("obs-fold", "GET / HTTP/1.1\r\n" H "X: a\r\n b\r\n\r\n", -400),
      .early = 32 },
    { REQ("obs-fold with HTAB", "GET / HTTP/1.1\r\n" H "X: a\r\n\tb\r\n\r\n",
          -400), .early = 32 },
    { REQ("space before the first field", "GET / HTTP/1.1\r\n Host: a\r\n\r\n",
          -400), .early = 17 },
    { REQ("space before the colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", -400),
      .early = 21 },
    { REQ("no colon", "GET / HTTP/1.1\r\n" H "Xyz\r\n\r\n", -400),
      .early = 29 },
    { REQ("empty field name", "GET / HTTP/1.1\r\n" H ": a\r\n\r\n", -400),
      .early = 26 },
    { REQ("non-token field name", "GET / HTTP/1.1\r\n" H "X(: a\r\n\r\n",
          -400), .early = 27 },
    { REQ("UTF-8 in a field name",
          "GET / HTTP/1.1\r\n" H "X\xc3\xa9: a\r\n\r\n", -400), .early = 27 },

    /* Host. */
    { REQ("1.1 without Host", "GET / HTTP/1.1\r\nX: a\r\n\r\n", -400),
      .early = 24 },
    { REQ("two Host fields", "GET / HTTP/1.1\r\n" H H "\r\n", -400),
      .early = 34 },
    { REQ("1.1 with an empty Host", "GET / HTTP/1.1\r\nHost: \r\n\r\n", -400),
      .early = 24 },
    { REQ("Host with a space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", -400) },
    { REQ("Host with a slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", -400) },
    { REQ("Host with userinfo", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", -400) },
    { REQ("Host with a backslash", "GET / HTTP/1.1\r\nHost: a\\b\r\n\r\n",
          -400) },
    { REQ("Host with a bad port", "GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n",
          -400) },
    { REQ("Host with two colons", "GET / HTTP/1.1\r\nHost: a:1:2\r\n\r\n",
          -400) },
    { REQ("Host port only", "GET / HTTP/1.1\r\nHost: :80\r\n\r\n", -400) },
    { REQ("Host unclosed bracket", "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n",
          -400) },
    { REQ("Host empty brackets", "GET / HTTP/1.1\r\nHost: []\r\n\r\n", -400) },
    { REQ("Host junk after bracket", "GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n",
          -400) },
    { REQ("Host short pct-encoding", "GET / HTTP/1.1\r\nHost: a%4\r\n\r\n",
          -400) },

    /* Content-Length and Transfer-Encoding. */
    { REQ("Content-Length not digits",
          "PUT / HTTP/1.1\r\n" H "Content-Length: abc\r\n\r\n", -400) },
    { REQ("Content-Length negative",
          "PUT / HTTP/1.1\r\n" H "Content-Length: -1\r\n\r\n", -400) },
    { REQ("Content-Length with plus",
          "PUT / HTTP/1.1\r\n" H "Content-Length: +5\r\n\r\n", -400) },
    { REQ("Content-Length hex", "PUT / HTTP/1.1\r\n" H "Content-Length: 0x5"
          "\r\n\r\n", -400) },
    { REQ("Content-Length differing list",
          "PUT / HTTP/1.1\r\n" H "Content-Length: 5, 6\r\n\r\n", -400) },
    { REQ("Content-Length differing fields",
          "PUT / HTTP/1.1\r\n" H "Content-Length: 5\r\nContent-Length: 6"
          "\r\n\r\n", -400), .early = 63 },
    { REQ("Content-Length empty", "PUT / HTTP/1.1\r\n" H "Content-Length:"
          "\r\n\r\n", -400) },
    { REQ("Content-Length trailing comma",
          "PUT / HTTP/1.1\r\n" H "Content-Length: 5,\r\n\r\n", -400) },
    { REQ("Content-Length inner space",
          "PUT / HTTP/1.1\r\n" H "Content-Length: 1 2\r\n\r\n", -400) },
    { REQ("Content-Length 20 digits",
          "PUT / HTTP/1.1\r\n" H "Content-Length: 99999999999999999999"
          "\r\n\r\n", -400) },
    { REQ("Content-Length 2^62 + 1",
          "PUT / HTTP/1.1\r\n" H "Content-Length: 4611686018427387905"
          "\r\n\r\n", -400) },
    { REQ("Transfer-Encoding then Content-Length",
          "PUT / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n"
          "Content-Length: 5\r\n\r\n", -400) },
    { REQ("Content-Length then Transfer-Encoding",
          "PUT / HTTP/1.1\r\n" H "Content-Length: 5\r\n"
          "Transfer-Encoding: chunked\r\n\r\n", -400) },
    { REQ("Transfer-Encoding in 1.0",
          "PUT / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", -400),
      .early = 44 },
    { REQ("Transfer-Encoding gzip only",
          "PUT / HTTP/1.1\r\n" H "Transfer-Encoding: gzip\r\n\r\n", -400) },
    { REQ("gzip, chunked: coding unknown",
          "PUT / HTTP/1.1\r\n" H "Transfer-Encoding: gzip, chunked\r\n\r\n",
          -501) },
    { REQ("gzip then chunked in two fields",
          "PUT / HTTP/1.1\r\n" H "Transfer-Encoding: gzip\r\n"
          "Transfer-Encoding: chunked\r\n\r\n", -501) },
    { REQ("chunked, gzip: chunked not last",
          "PUT / HTTP/1.1\r\n" H "Transfer-Encoding: chunked, gzip\r\n\r\n",
          -400) },
    { REQ("chunked twice", "PUT / HTTP/1.1\r\n" H "Transfer-Encoding: chunked,"
          " chunked\r\n\r\n", -400) },
    { REQ("chunked in two fields",
          "PUT / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n"
          "Transfer-Encoding: chunked\r\n\r\n", -400) },
    { REQ("Transfer-Encoding empty",
          "PUT / HTTP/1.1\r\n" H "Transfer-Encoding:\r\n\r\n", -400) },
    { REQ("Transfer-Encoding with a quote",
          "PUT / HTTP/1.1\r\n" H "Transfer-Encoding: x;a=\",\", chunked"
          "\r\n\r\n", -400) },

    /* Expect. */
    { REQ("Expect: foo", "PUT / HTTP/1.1\r\n" H "Expect: foo\r\n\r\n", -417) },
    { REQ("Expect empty: expects nothing",
          "PUT / HTTP/1.1\r\n" H "Expect:\r\n\r\n", OK),
      .method = HTTP_METHOD_PUT },
    { REQ("method over 32 bytes, unfinished",
          "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFG", -501) },
    { REQ("method of 32 bytes", "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEF /x "
          "HTTP/1.1\r\n" H "\r\n", OK), .method = HTTP_METHOD_UNKNOWN },
    { REQ("target with <", "GET /a<b HTTP/1.1\r\n" H "\r\n", -400) },
    { REQ("target with backslash", "GET /a\\b HTTP/1.1\r\n" H "\r\n", -400) },
    { REQ("target with {", "GET /a{b HTTP/1.1\r\n" H "\r\n", -400) },
    { REQ("target with | and ^ and []", "GET /a|b^c[d] HTTP/1.1\r\n" H
          "\r\n", OK), .method = HTTP_METHOD_GET, .target = "/a|b^c[d]" },
    { REQ("Expect 100-continue and more",
          "PUT / HTTP/1.1\r\n" H "Expect: 100-continue, foo\r\n\r\n", -417) },
    { REQ("Expect: foo in 1.0", "PUT / HTTP/1.0\r\nExpect: foo\r\n\r\n",
          -417) },

    /* Fields we act on may come once. */
    { REQ("two Range", "GET / HTTP/1.1\r\n" H "Range: bytes=0-1\r\n"
          "Range: bytes=2-3\r\n\r\n", -400) },
    { REQ("two If-Range", "GET / HTTP/1.1\r\n" H "If-Range: \"a\"\r\n"
          "If-Range: \"a\"\r\n\r\n", -400) },
    { REQ("two If-Modified-Since",
          "GET / HTTP/1.1\r\n" H "If-Modified-Since: x\r\n"
          "If-Modified-Since: x\r\n\r\n", -400) },
    { REQ("two If-Unmodified-Since",
          "GET / HTTP/1.1\r\n" H "If-Unmodified-Since: x\r\n"
          "if-unmodified-since: x\r\n\r\n", -400) },
    { REQ("two Authorization", "GET / HTTP/1.1\r\n" H "Authorization: a\r\n"
          "Authorization: b\r\n\r\n", -400) },
    { REQ("two Content-Type", "PUT / HTTP/1.1\r\n" H "Content-Type: a/b\r\n"
          "Content-Type: a/b\r\n\r\n", -400) },
    { REQ("two If-Match", "PUT / HTTP/1.1\r\n" H "If-Match: \"a\"\r\n"
          "If-Match: \"b\"\r\n\r\n", -400) },
    { REQ("two If-None-Match", "GET / HTTP/1.1\r\n" H "If-None-Match: \"a\""
          "\r\nIf-None-Match: \"b\"\r\n\r\n", -400) },
    { REQ("empty then full Range", "GET / HTTP/1.1\r\n" H "Range:\r\n"
          "Range: bytes=0-1\r\n\r\n", -400) },

    /* Not complete yet. */
    { REQ("nothing", "", 0) },
    { REQ("one byte", "G", 0) },
    { REQ("request line only", "GET / HTTP/1.1\r\n", 0) },
    { REQ("no empty line", "GET / HTTP/1.1\r\n" H, 0) },
    { REQ("last CR without LF", "GET / HTTP/1.1\r\n" H "\r", 0) },
    { REQ("only empty lines", "\r\n\r\n", 0) },
};

/* Where the head ends: after any leading CRLFs, the first CRLFCRLF. */
static size_t
expected_head_len(const struct req_case *c)
{
    size_t skip = 0;
    const char *end;

    while (c->len - skip >= 2 && memcmp(c->in + skip, "\r\n", 2) == 0)
        skip += 2;
    end = memmem(c->in + skip, c->len - skip, "\r\n\r\n", 4);
    assert_non_null(end);
    return (size_t)(end - c->in) + 4;
}

static struct http_slice
named_slice(const struct http_request *r, const char *name)
{
    static const struct {
        const char *name;
        size_t offset;
    } slots[] = {
        { "method", offsetof(struct http_request, method_name) },
        { "range", offsetof(struct http_request, range) },
        { "if_range", offsetof(struct http_request, if_range) },
        { "if_match", offsetof(struct http_request, if_match) },
        { "if_none_match", offsetof(struct http_request, if_none_match) },
        { "if_modified_since",
          offsetof(struct http_request, if_modified_since) },
        { "if_unmodified_since",
          offsetof(struct http_request, if_unmodified_since) },
        { "accept", offsetof(struct http_request, accept) },
        { "user_agent", offsetof(struct http_request, user_agent) },
        { "referer", offsetof(struct http_request, referer) },
        { "authorization", offsetof(struct http_request, authorization) },
        { "content_type", offsetof(struct http_request, content_type) },
    };
    size_t i;

    for (i = 0; i < sizeof slots / sizeof slots[0]; i++) {
        if (strcmp(slots[i].name, name) == 0)
            return *(const struct http_slice *)(const void *)
                ((const char *)r + slots[i].offset);
    }
    fail_msg("no slice named %s", name);
    return (struct http_slice){ NULL, 0 };
}

static bool
slice_is(struct http_slice s, const char *want)
{
    return s.len == strlen(want) && memcmp(s.ptr, want, s.len) == 0;
}

/* Every slice lies inside the head, or is empty. */
static void
check_slices_inside(const struct req_case *c, const char *buf,
                    const struct http_request *r)
{
    const struct http_slice all[] = {
        r->method_name, r->target, r->request_line, r->host, r->range,
        r->if_range, r->if_match, r->if_none_match, r->if_modified_since,
        r->if_unmodified_since, r->accept, r->user_agent, r->referer,
        r->authorization, r->content_type,
    };
    size_t i;

    for (i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (all[i].len == 0)
            continue;
        if (all[i].ptr < buf || all[i].ptr + all[i].len > buf + r->head_len)
            fail_msg("%s: slice %zu outside the head", c->label, i);
    }
}

static void
check_expected_slice(const struct req_case *c, const char *what,
                     struct http_slice got, const char *want)
{
    if (want != NULL && !slice_is(got, want))
        fail_msg("%s: %s is \"%.*s\", want \"%s\"", c->label, what,
                 (int)got.len, got.ptr, want);
}

static void
check_request(const struct req_case *c, const char *buf,
              const struct http_request *r)
{
    check_slices_inside(c, buf, r);
    if (r->method != c->method)
        fail_msg("%s: method %d, want %d", c->label, r->method, c->method);
    if (r->version_minor != (c->v10 ? 0 : 1) || r->keep_alive == c->close ||
        r->chunked != c->chunked || r->expect_continue != c->expect)
        fail_msg("%s: minor %d keep_alive %d chunked %d expect %d", c->label,
                 r->version_minor, r->keep_alive, r->chunked,
                 r->expect_continue);
    if (r->has_content_length != (c->cl != NULL) ||
        (c->cl != NULL && r->content_length != strtoull(c->cl, NULL, 10)))
        fail_msg("%s: Content-Length %d %" PRIu64, c->label,
                 r->has_content_length, r->content_length);
    if (c->host != NULL && !r->has_host)
        fail_msg("%s: no Host", c->label);
    check_expected_slice(c, "target", r->target, c->target);
    check_expected_slice(c, "host", r->host, c->host);
    check_expected_slice(c, "request line", r->request_line, c->line);
    if (c->field != NULL)
        check_expected_slice(c, c->field, named_slice(r, c->field), c->value);
}

/* Parse from an exact-size heap copy, so ASan catches any over-read. */
static int
parse_exact(const char *s, size_t n, struct http_request *r)
{
    char *copy = malloc(n > 0 ? n : 1);
    int rv;

    assert_non_null(copy);
    if (n > 0)
        memcpy(copy, s, n);
    memset(r, 0xa5, sizeof *r);     /* the parser must set every member */
    rv = http_parse_request(copy, n, r);
    if (rv > 0)
        check_slices_inside(&(struct req_case){ .label = "exact" }, copy, r);
    free(copy);
    return rv;
}

/* What prefix K may answer, given the whole request's answer WANT. */
static void
check_prefix(const struct req_case *c, size_t k, int got, int want,
             bool *failed_before)
{
    if (want > 0 && got != ((size_t)want <= k ? want : 0))
        fail_msg("%s: first %zu bytes gave %d (head %d)", c->label, k, got,
                 want);
    if (want <= 0 && got != 0 && got != want)
        fail_msg("%s: first %zu bytes gave %d, whole %d", c->label, k, got,
                 want);
    if (want < 0 && *failed_before && got != want)
        fail_msg("%s: first %zu bytes gave %d after an error", c->label, k,
                 got);
    if (want < 0 && c->early != 0 && (k >= c->early) != (got == want))
        fail_msg("%s: first %zu bytes gave %d, want %d from byte %zu",
                 c->label, k, got, want, c->early);
    if (got == want && want < 0)
        *failed_before = true;
}

static void
run_case(const struct req_case *c)
{
    struct http_request r;
    struct guard g;
    bool failed_before = false;
    int want = c->want, got;
    size_t k;
    char *buf;

    if (want == OK)
        want = (int)expected_head_len(c);
    got = parse_exact(c->in, c->len, &r);
    if (got != want)
        fail_msg("%s: whole request gave %d, want %d", c->label, got, want);

    guard_init(&g, c->len);
    for (k = 0; k <= c->len; k++) {
        buf = guard_copy(&g, c->in, k);
        memset(&r, 0x5a, sizeof r);
        got = http_parse_request(buf, k, &r);
        check_prefix(c, k, got, want, &failed_before);
        if (got > 0)
            check_request(c, buf, &r);
    }
    guard_free(&g);
}

static void
test_request(void **state)
{
    run_case(*state);
}

/* N field lines "X: y" after the request line. */
static char *
build_fields(int n, size_t *len)
{
    static const char line[] = "GET / HTTP/1.1\r\n", field[] = "X: y\r\n";
    size_t fl = sizeof field - 1, ll = sizeof line - 1;
    char *s = malloc(ll + 9 + (size_t)n * fl + 3);
    size_t pos = ll;
    int i;

    assert_non_null(s);
    memcpy(s, line, ll);
    memcpy(s + pos, H, 9);
    pos += 9;
    for (i = 1; i < n; i++, pos += fl)     /* Host is the first field */
        memcpy(s + pos, field, fl);
    memcpy(s + pos, "\r\n", 3);
    *len = pos + 2;
    return s;
}

static void
test_long_target(void **state)
{
    struct req_case c = { .method = HTTP_METHOD_GET };
    char *s;

    (void)state;
    c.label = "target of the most bytes";
    s = cases_build("GET /", 'a', HTTP_MAX_TARGET_BYTES - 1,
                    " HTTP/1.1\r\n" H "\r\n", &c.len);
    c.in = s;
    c.want = OK;
    run_case(&c);
    free(s);

    c.label = "target one byte too long";
    s = cases_build("GET /", 'a', HTTP_MAX_TARGET_BYTES,
                    " HTTP/1.1\r\n" H "\r\n", &c.len);
    c.in = s;
    c.want = -414;
    c.early = 4 + HTTP_MAX_TARGET_BYTES + 1;
    run_case(&c);
    free(s);
}

static void
test_many_fields(void **state)
{
    struct req_case c = { .method = HTTP_METHOD_GET };
    char *s;

    (void)state;
    c.label = "most fields";
    s = build_fields(HTTP_MAX_FIELDS, &c.len);
    c.in = s;
    c.want = OK;
    run_case(&c);
    free(s);

    c.label = "one field too many";
    s = build_fields(HTTP_MAX_FIELDS + 1, &c.len);
    c.in = s;
    c.want = -431;
    c.early = 16 + 9 + (HTTP_MAX_FIELDS - 1) * 6 + 1;
    run_case(&c);
    free(s);
}

static void
test_big_heads(void **state)
{
    static const char head[] = "GET / HTTP/1.1\r\n" H "X: ";
    size_t fill = HTTP_MAX_HEAD_BYTES - (sizeof head - 1) - 4;
    struct req_case c = { .method = HTTP_METHOD_GET };
    char *s;

    (void)state;
    c.label = "head of the most bytes";
    s = cases_build(head, 'v', fill, "\r\n\r\n", &c.len);
    c.in = s;
    c.want = OK;
    run_case(&c);
    free(s);

    c.label = "head one byte too long";
    s = cases_build(head, 'v', fill + 1, "\r\n\r\n", &c.len);
    c.in = s;
    c.want = -431;
    c.early = HTTP_MAX_HEAD_BYTES;
    run_case(&c);
    free(s);

    c.label = "head that never ends";
    s = cases_build(head, 'v', HTTP_MAX_HEAD_BYTES, "", &c.len);
    c.in = s;
    run_case(&c);
    free(s);
}

static void
test_big_body_and_method(void **state)
{
    struct req_case c = { .method = HTTP_METHOD_PUT, .cl = "20000" };
    char *s;

    (void)state;
    c.label = "body past the head limit";
    s = cases_build("PUT / HTTP/1.1\r\n" H "Content-Length: 20000\r\n\r\n",
                    'b', 20000, "", &c.len);
    c.in = s;
    c.want = OK;
    run_case(&c);
    free(s);

    /* Longer than any method: 501 before the head is complete. */
    c = (struct req_case){ .method = HTTP_METHOD_UNKNOWN, .want = -501 };
    c.label = "long unknown method";
    s = cases_build("", 'M', 9000, " / HTTP/1.1\r\n" H "\r\n", &c.len);
    c.in = s;
    run_case(&c);
    free(s);
}

static void
test_parse_uint(void **state)
{
    static const struct {
        const char *in;
        uint64_t max;
        int rv;
        uint64_t want;
    } cases[] = {
        { "0", UINT64_MAX, 0, 0 },
        { "123", UINT64_MAX, 0, 123 },
        { "000000000000000000000000042", UINT64_MAX, 0, 42 },
        { "18446744073709551615", UINT64_MAX, 0, UINT64_MAX },
        { "18446744073709551616", UINT64_MAX, -1, 0 },
        { "99999999999999999999", UINT64_MAX, -1, 0 },
        { "184467440737095516150", UINT64_MAX, -1, 0 },
        { "9", 9, 0, 9 },
        { "10", 9, -1, 0 },
        { "5", 0, -1, 0 },
        { "0", 0, 0, 0 },
        { "4611686018427387904", UINT64_C(1) << 62, 0, UINT64_C(1) << 62 },
        { "4611686018427387905", UINT64_C(1) << 62, -1, 0 },
        { "", UINT64_MAX, -1, 0 },
        { "-1", UINT64_MAX, -1, 0 },
        { "+1", UINT64_MAX, -1, 0 },
        { " 1", UINT64_MAX, -1, 0 },
        { "1 ", UINT64_MAX, -1, 0 },
        { "1a", UINT64_MAX, -1, 0 },
        { "0x10", UINT64_MAX, -1, 0 },
        { "1.5", UINT64_MAX, -1, 0 },
        { "1e3", UINT64_MAX, -1, 0 },
        { "\xd9\xa1", UINT64_MAX, -1, 0 },          /* Arabic-Indic one */
    };
    uint64_t out;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        out = 7777;
        if (http_parse_uint(cases[i].in, strlen(cases[i].in), cases[i].max,
                            &out) != cases[i].rv)
            fail_msg("uint \"%s\": wrong verdict", cases[i].in);
        if (cases[i].rv == 0 && out != cases[i].want)
            fail_msg("uint \"%s\": %" PRIu64, cases[i].in, out);
        if (cases[i].rv == -1 && out != 7777)
            fail_msg("uint \"%s\": output set on failure", cases[i].in);
    }
    /* LEN bounds the read: the digits after it are not ours. */
    assert_int_equal(http_parse_uint("123", 2, UINT64_MAX, &out), 0);
    assert_int_equal(out, 12);
}

static void
test_slice_eq(void **state)
{
    static const struct {
        const char *s;
        const char *token;
        bool want;
    } cases[] = {
        { "chunked", "chunked", true }, { "CHUNKED", "chunked", true },
        { "ChUnKeD", "cHuNkEd", true }, { "chunke", "chunked", false },
        { "chunkedx", "chunked", false }, { "", "", true },
        { "", "a", false }, { "a", "", false },
        { "\xc4", "\xe4", false },  /* no folding outside ASCII */
        { "[", "{", false }, { "@", "`", false },
    };
    struct http_slice s;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s.ptr = cases[i].s;
        s.len = strlen(cases[i].s);
        if (http_slice_eq(s, cases[i].token) != cases[i].want)
            fail_msg("slice_eq \"%s\" \"%s\"", cases[i].s, cases[i].token);
    }
}

int
main(void)
{
    static const struct CMUnitTest other[] = {
        cmocka_unit_test(test_long_target),
        cmocka_unit_test(test_many_fields),
        cmocka_unit_test(test_big_heads),
        cmocka_unit_test(test_big_body_and_method),
        cmocka_unit_test(test_parse_uint),
        cmocka_unit_test(test_slice_eq),
    };
    int failed;

    failed = CASES_RUN("requests", test_request, req_cases);
    failed += cmocka_run_group_tests_name("generated and helpers", other,
                                          NULL, NULL);
    return failed != 0;
}
