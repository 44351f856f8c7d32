/*
 * http.c: the HTTP/1.1 request-head parser.
 *
 * Everything here works on caller buffers: no sockets, files, TLS or
 * allocation.  The parser keeps no state between calls; each call parses
 * the head from its first byte, which at HTTP_MAX_HEAD_BYTES is cheap, and
 * meets the bytes in order, so the first fault it meets decides the answer
 * whatever the number of calls.  Framing, methods and conditionals are the
 * callers' business; this file only says what the client sent.  Dates
 * and response heads are in head.c.
 */
#include "http.h"

#include <string.h>

/* RFC 9112 2.2 asks us to skip at least one CRLF before a request line. */
#define HTTP_MAX_EMPTY_LINES 4
#define MAX_METHOD_BYTES     32  /* longer than any method we know */

/* Far above any disk, far below overflow when offsets are added to it. */
#define HTTP_MAX_CONTENT_LENGTH (UINT64_C(1) << 62)

/* Step results besides -STATUS: the step is done, or needs more bytes. */
enum { PARSE_OK = 0, PARSE_MORE = 1 };

struct parser {
    const char *buf;
    size_t end;                 /* bytes we look at, at most a full head */
    size_t pos;
    struct http_request *req;
    unsigned long seen;         /* bit i: field_defs[i] met */
    int nfields;
    bool te_seen;               /* a Transfer-Encoding field, maybe empty */
    bool te_unknown;            /* a coding other than chunked */
    bool conn_close;
    bool conn_keep_alive;
};

/* What a repeated field gets. */
enum repeat {
    REPEAT_LIST,                /* a list: each field is checked in turn */
    REPEAT_REFUSE,              /* we act on it; two are ambiguous: 400 */
    REPEAT_FIRST,               /* informational: keep the first */
};

#define NO_SLOT SIZE_MAX
#define SLOT(f) offsetof(struct http_request, f)

static int check_host(struct parser *, struct http_slice);
static int check_content_length(struct parser *, struct http_slice);
static int check_transfer_encoding(struct parser *, struct http_slice);
static int check_connection(struct parser *, struct http_slice);
static int check_expect(struct parser *, struct http_slice);

/*
 * The fields we look at.  If-Match and If-None-Match are lists, but
 * combining two fields would mean copying them out of the buffer; a client
 * that splits one is rare enough that we choose strictness and refuse.
 */
static const struct field_def {
    const char *name;
    enum repeat repeat;
    size_t slot;                /* offset of its slice in http_request */
    int (*check)(struct parser *, struct http_slice);
} field_defs[] = {
    { "Host", REPEAT_REFUSE, SLOT(host), check_host },
    { "Content-Length", REPEAT_LIST, NO_SLOT, check_content_length },
    { "Transfer-Encoding", REPEAT_LIST, NO_SLOT, check_transfer_encoding },
    { "Connection", REPEAT_LIST, NO_SLOT, check_connection },
    { "Expect", REPEAT_LIST, NO_SLOT, check_expect },
    { "Range", REPEAT_REFUSE, SLOT(range), NULL },
    { "If-Range", REPEAT_REFUSE, SLOT(if_range), NULL },
    { "If-Match", REPEAT_REFUSE, SLOT(if_match), NULL },
    { "If-None-Match", REPEAT_REFUSE, SLOT(if_none_match), NULL },
    { "If-Modified-Since", REPEAT_REFUSE, SLOT(if_modified_since), NULL },
    { "If-Unmodified-Since", REPEAT_REFUSE, SLOT(if_unmodified_since), NULL },
    { "Authorization", REPEAT_REFUSE, SLOT(authorization), NULL },
    { "Content-Type", REPEAT_REFUSE, SLOT(content_type), NULL },
    { "Accept", REPEAT_FIRST, SLOT(accept), NULL },
    { "User-Agent", REPEAT_FIRST, SLOT(user_agent), NULL },
    { "Referer", REPEAT_FIRST, SLOT(referer), NULL },
};

/* Method names are case-sensitive (RFC 9110 9.1). */
static const struct {
    const char *name;
    enum http_method method;
} methods[] = {
    { "GET", HTTP_METHOD_GET },         { "HEAD", HTTP_METHOD_HEAD },
    { "OPTIONS", HTTP_METHOD_OPTIONS }, { "PUT", HTTP_METHOD_PUT },
    { "DELETE", HTTP_METHOD_DELETE },   { "MKCOL", HTTP_METHOD_MKCOL },
    { "POST", HTTP_METHOD_POST },       { "PATCH", HTTP_METHOD_PATCH },
    { "TRACE", HTTP_METHOD_TRACE },     { "CONNECT", HTTP_METHOD_CONNECT },
};

/* A list being walked one comma-separated element at a time. */
struct list_iter {
    const char *cur;
    const char *end;
    bool done;
};

static int parse_head(struct parser *p);
static int skip_empty_lines(struct parser *p);
static int parse_request_line(struct parser *p);
static int parse_method(struct parser *p);
static int parse_target(struct parser *p);
static int parse_version(struct parser *p);
static int parse_field_line(struct parser *p);
static int parse_field_value(struct parser *p, struct http_slice *value);
static int eat_crlf(struct parser *p);
static int process_field(struct parser *p, struct http_slice name,
                         struct http_slice value);
static int finish_head(struct parser *p);
static bool valid_host(struct http_slice h);
static bool valid_reg_name(const char *s, size_t n);
static void list_init(struct list_iter *it, struct http_slice list);
static bool list_next(struct list_iter *it, struct http_slice *elem);
static size_t token_len(const char *s, size_t n);
static bool is_token(struct http_slice s);
static bool is_tchar(unsigned char c);
static bool is_field_byte(unsigned char c);
static bool is_digit(unsigned char c);
static bool is_hex(unsigned char c);
static unsigned char to_lower(unsigned char c);
static struct http_slice trim_ows(const char *start, const char *end);

int
http_parse_request(const char *buf, size_t len, struct http_request *req)
{
    struct parser p;
    int rv;

    memset(req, 0, sizeof *req);
    memset(&p, 0, sizeof p);
    p.buf = buf;
    p.end = len < HTTP_MAX_HEAD_BYTES ? len : HTTP_MAX_HEAD_BYTES;
    p.req = req;

    rv = parse_head(&p);
    if (rv == PARSE_MORE)           /* a full head's worth, still open */
        return len >= HTTP_MAX_HEAD_BYTES ? -431 : 0;
    if (rv < 0)
        return rv;
    return finish_head(&p);
}

/* Request line, then field lines up to the empty line. */
static int
parse_head(struct parser *p)
{
    int rv;

    if ((rv = skip_empty_lines(p)) != PARSE_OK ||
        (rv = parse_request_line(p)) != PARSE_OK)
        return rv;

    for (;;) {
        if (p->pos == p->end)
            return PARSE_MORE;
        if (p->buf[p->pos] == '\r')
            return eat_crlf(p);
        if ((rv = parse_field_line(p)) != PARSE_OK)
            return rv;
    }
}

static int
skip_empty_lines(struct parser *p)
{
    int n, rv;

    for (n = 0; p->pos < p->end && p->buf[p->pos] == '\r'; n++) {
        if (n == HTTP_MAX_EMPTY_LINES)
            return -400;
        if ((rv = eat_crlf(p)) != PARSE_OK)
            return rv;
    }
    return PARSE_OK;
}

/* RFC 9112 3: method SP request-target SP HTTP-version CRLF, nothing more. */
static int
parse_request_line(struct parser *p)
{
    size_t start = p->pos;
    int rv;

    if ((rv = parse_method(p)) != PARSE_OK ||
        (rv = parse_target(p)) != PARSE_OK ||
        (rv = parse_version(p)) != PARSE_OK)
        return rv;
    p->req->request_line.ptr = p->buf + start;
    p->req->request_line.len = p->pos - 2 - start;
    return PARSE_OK;
}

static int
parse_method(struct parser *p)
{
    struct http_request *req = p->req;
    size_t i, n;

    n = token_len(p->buf + p->pos, p->end - p->pos);
    if (n > MAX_METHOD_BYTES)
        return -501;            /* RFC 9112 3: longer than any we know */
    if (p->pos + n == p->end)
        return PARSE_MORE;
    if (n == 0 || p->buf[p->pos + n] != ' ')
        return -400;

    req->method_name.ptr = p->buf + p->pos;
    req->method_name.len = n;
    req->method = HTTP_METHOD_UNKNOWN;
    for (i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        if (strlen(methods[i].name) == n &&
            memcmp(methods[i].name, req->method_name.ptr, n) == 0)
            req->method = methods[i].method;
    }
    p->pos += n + 1;
    return PARSE_OK;
}

/*
 * Visible ASCII only; too long is refused as soon as it is too long.
 * Bytes no URI may hold and every browser escapes (RFC 3986 2, and the
 * WHATWG URL standard's path set: " < > ` { }, and \ which browsers turn
 * into /) are refused; | ^ [ ] are not URI bytes either, but browsers
 * send them raw in paths, so they are taken as they come.
 */
static int
parse_target(struct parser *p)
{
    size_t start = p->pos, i;
    unsigned char c;

    for (i = start; i < p->end; i++) {
        c = (unsigned char)p->buf[i];
        if (c == ' ')
            break;
        if (c < 0x21 || c > 0x7e || strchr("\"<>`{}\\", c) != NULL)
            return -400;
        if (i - start >= HTTP_MAX_TARGET_BYTES)
            return -414;
    }
    if (i == p->end)
        return PARSE_MORE;
    if (i == start)
        return -400;

    p->req->target.ptr = p->buf + start;
    p->req->target.len = i - start;
    p->pos = i + 1;
    return PARSE_OK;
}

/*
 * Exactly "HTTP/" DIGIT "." DIGIT CRLF, case-sensitive (RFC 9112 2.3).
 * Minor versions above 1 are spoken to as 1.1; other majors get 505, but
 * only once the line is complete, since "HTTP/2.0x" is simply malformed.
 */
static int
parse_version(struct parser *p)
{
    static const char pattern[] = "HTTP/#.#\r\n";
    const char *v = p->buf + p->pos;
    size_t i;
    bool ok;

    for (i = 0; i < sizeof pattern - 1; i++) {
        if (p->pos + i == p->end)
            return PARSE_MORE;
        if (pattern[i] == '#')
            ok = is_digit((unsigned char)v[i]);
        else
            ok = v[i] == pattern[i];
        if (!ok)
            return -400;
    }
    p->pos += sizeof pattern - 1;
    if (v[5] != '1')
        return -505;
    p->req->version_minor = v[7] == '0' ? 0 : 1;
    return PARSE_OK;
}

/* RFC 9112 5: field-name ":" OWS field-value OWS CRLF. */
static int
parse_field_line(struct parser *p)
{
    struct http_slice name, value;
    size_t n;
    int rv;

    /* obs-fold, or space before the first field (RFC 9112 2.2, 5.2) */
    if (p->buf[p->pos] == ' ' || p->buf[p->pos] == '\t')
        return -400;
    if (++p->nfields > HTTP_MAX_FIELDS)
        return -431;

    n = token_len(p->buf + p->pos, p->end - p->pos);
    if (p->pos + n == p->end)
        return PARSE_MORE;
    /* also refuses space before the colon (RFC 9112 5.1) */
    if (n == 0 || p->buf[p->pos + n] != ':')
        return -400;
    name.ptr = p->buf + p->pos;
    name.len = n;
    p->pos += n + 1;

    if ((rv = parse_field_value(p, &value)) != PARSE_OK)
        return rv;
    return process_field(p, name, value);
}

/* Up to and including CRLF; NUL, bare CR or LF and other controls: 400. */
static int
parse_field_value(struct parser *p, struct http_slice *value)
{
    size_t start = p->pos, i;
    int rv;

    for (i = start; i < p->end && p->buf[i] != '\r'; i++) {
        if (!is_field_byte((unsigned char)p->buf[i]))
            return -400;
    }
    p->pos = i;
    if ((rv = eat_crlf(p)) != PARSE_OK)
        return rv;
    *value = trim_ows(p->buf + start, p->buf + i);
    return PARSE_OK;
}

/* At a CR (or the end): CRLF is the only line ending we take. */
static int
eat_crlf(struct parser *p)
{
    if (p->pos == p->end || p->pos + 1 == p->end)
        return PARSE_MORE;
    if (p->buf[p->pos] != '\r' || p->buf[p->pos + 1] != '\n')
        return -400;
    p->pos += 2;
    return PARSE_OK;
}

static int
process_field(struct parser *p, struct http_slice name,
              struct http_slice value)
{
    const struct field_def *def = NULL;
    unsigned long bit;
    size_t i;

    for (i = 0; i < sizeof field_defs / sizeof field_defs[0]; i++) {
        if (http_slice_eq(name, field_defs[i].name)) {
            def = &field_defs[i];
            break;
        }
    }
    if (def == NULL)
        return PARSE_OK;

    bit = 1UL << i;
    if ((p->seen & bit) && def->repeat == REPEAT_REFUSE)
        return -400;
    if ((p->seen & bit) && def->repeat == REPEAT_FIRST)
        return PARSE_OK;
    p->seen |= bit;
    if (def->slot != NO_SLOT)
        *(struct http_slice *)(void *)((char *)p->req + def->slot) = value;
    return def->check != NULL ? def->check(p, value) : PARSE_OK;
}

/* Checks that need the whole head, then the connection's fate. */
static int
finish_head(struct parser *p)
{
    struct http_request *req = p->req;

    if (req->version_minor == 1 && !req->has_host)
        return -400;                /* RFC 9112 3.2 */
    if (p->te_seen && !req->chunked)
        return -400;                /* RFC 9112 6.3: length unknowable */
    if (p->te_unknown)
        return -501;                /* RFC 9112 6.1: coding not understood */

    if (req->version_minor == 1)
        req->keep_alive = !p->conn_close;
    else
        req->keep_alive = p->conn_keep_alive && !p->conn_close;
    req->head_len = p->pos;
    return (int)p->pos;
}

/* Empty Host is for targets without an authority, which 1.1 must not send. */
static int
check_host(struct parser *p, struct http_slice value)
{
    p->req->has_host = true;
    if (value.len == 0)
        return p->req->version_minor == 1 ? -400 : PARSE_OK;
    return valid_host(value) ? PARSE_OK : -400;
}

/*
 * Digits only; a list of identical values is one value (RFC 9110 8.6),
 * differing values in any fields are request smuggling bait: 400.
 */
static int
check_content_length(struct parser *p, struct http_slice value)
{
    struct http_request *req = p->req;
    struct list_iter it;
    struct http_slice elem;
    uint64_t n;

    if (p->te_seen)
        return -400;                /* RFC 9112 6.1: both is an attack */
    list_init(&it, value);
    while (list_next(&it, &elem)) {
        if (http_parse_uint(elem.ptr, elem.len, HTTP_MAX_CONTENT_LENGTH,
                            &n) == -1)
            return -400;
        if (req->has_content_length && n != req->content_length)
            return -400;
        req->has_content_length = true;
        req->content_length = n;
    }
    return PARSE_OK;
}

/*
 * RFC 9112 6.1: chunked must be last and applied once, so anything after
 * it is refused at once.  Quotes are refused too: a parameter could hide
 * a comma and make us split the list where the client did not.
 */
static int
check_transfer_encoding(struct parser *p, struct http_slice value)
{
    struct list_iter it;
    struct http_slice elem;

    if (p->req->version_minor == 0 || p->req->has_content_length)
        return -400;                /* RFC 9112 6.1, 6.3 */
    if (memchr(value.ptr, '"', value.len) != NULL)
        return -400;

    p->te_seen = true;
    list_init(&it, value);
    while (list_next(&it, &elem)) {
        if (elem.len == 0)
            continue;
        if (p->req->chunked)
            return -400;
        if (http_slice_eq(elem, "chunked"))
            p->req->chunked = true;
        else
            p->te_unknown = true;
    }
    return PARSE_OK;
}

/* RFC 9112 9.3: a list of tokens; we care about two. */
static int
check_connection(struct parser *p, struct http_slice value)
{
    struct list_iter it;
    struct http_slice elem;

    list_init(&it, value);
    while (list_next(&it, &elem)) {
        if (elem.len == 0)
            continue;
        if (!is_token(elem))
            return -400;
        if (http_slice_eq(elem, "close"))
            p->conn_close = true;
        else if (http_slice_eq(elem, "keep-alive"))
            p->conn_keep_alive = true;
    }
    return PARSE_OK;
}

/* RFC 9110 10.1.1: 100-continue is the only expectation; 1.0 ignores it. */
static int
check_expect(struct parser *p, struct http_slice value)
{
    struct list_iter it;
    struct http_slice elem;
    bool any = false;

    list_init(&it, value);
    while (list_next(&it, &elem)) {
        if (elem.len == 0)
            continue;
        if (!http_slice_eq(elem, "100-continue"))
            return -417;
        any = true;
    }
    if (!any)
        return PARSE_OK;        /* an empty list expects nothing */
    p->req->expect_continue = p->req->version_minor == 1;
    return PARSE_OK;
}

/*
 * uri-host [ ":" port ] (RFC 9110 7.2, RFC 3986 3.2.2).  IP literals are
 * taken as hex digits, colons and dots; zone IDs and IPvFuture are refused.
 */
static bool
valid_host(struct http_slice h)
{
    const char *s = h.ptr;
    size_t i = 0, n = h.len;

    if (n > 0 && s[0] == '[') {
        for (i = 1; i < n && s[i] != ']'; i++) {
            if (!is_hex((unsigned char)s[i]) && s[i] != ':' && s[i] != '.')
                return false;
        }
        if (i == n || i == 1)
            return false;
        i++;
    } else {
        while (i < n && s[i] != ':')
            i++;
        if (i == 0 || !valid_reg_name(s, i))
            return false;
    }

    if (i < n && s[i++] != ':')
        return false;
    for (; i < n; i++) {
        if (!is_digit((unsigned char)s[i]))
            return false;
    }
    return true;
}

/* unreserved / pct-encoded / sub-delims: no space, '/', '@' or '\'. */
static bool
valid_reg_name(const char *s, size_t n)
{
    static const char other[] = "-._~!$&'()*+,;=";
    size_t i;
    unsigned char c;

    for (i = 0; i < n; i++) {
        c = (unsigned char)s[i];
        if (c == '%') {
            if (n - i < 3 || !is_hex((unsigned char)s[i + 1]) ||
                !is_hex((unsigned char)s[i + 2]))
                return false;
            i += 2;
        } else if (!is_digit(c) && !(to_lower(c) >= 'a' &&
                                     to_lower(c) <= 'z') &&
                   memchr(other, c, sizeof other - 1) == NULL) {
            return false;
        }
    }
    return true;
}

/* Walk LIST by commas (RFC 9110 5.6.1); elements are OWS-trimmed. */
static void
list_init(struct list_iter *it, struct http_slice list)
{
    it->cur = list.ptr;
    it->end = list.ptr + list.len;
    it->done = false;
}

/* The next element, possibly empty; false once the list is used up. */
static bool
list_next(struct list_iter *it, struct http_slice *elem)
{
    const char *comma;

    if (it->done)
        return false;
    comma = memchr(it->cur, ',', (size_t)(it->end - it->cur));
    if (comma == NULL) {
        *elem = trim_ows(it->cur, it->end);
        it->done = true;
    } else {
        *elem = trim_ows(it->cur, comma);
        it->cur = comma + 1;
    }
    return true;
}

/* How many of the N bytes at S are tchar, from the start. */
static size_t
token_len(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n && is_tchar((unsigned char)s[i]); i++)
        continue;
    return i;
}

static bool
is_token(struct http_slice s)
{
    return s.len > 0 && token_len(s.ptr, s.len) == s.len;
}

/* RFC 9110 5.6.2 */
static bool
is_tchar(unsigned char c)
{
    static const char other[] = "!#$%&'*+-.^_`|~";

    if (is_digit(c) || (to_lower(c) >= 'a' && to_lower(c) <= 'z'))
        return true;
    return c != '\0' && memchr(other, c, sizeof other - 1) != NULL;
}

/* RFC 9110 5.5: VCHAR, SP, HTAB and obs-text. */
static bool
is_field_byte(unsigned char c)
{
    return (c >= 0x20 && c != 0x7f) || c == '\t';
}

static bool
is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool
is_hex(unsigned char c)
{
    return is_digit(c) || (to_lower(c) >= 'a' && to_lower(c) <= 'f');
}

/* ASCII only, whatever the locale. */
static unsigned char
to_lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

static struct http_slice
trim_ows(const char *start, const char *end)
{
    struct http_slice s;

    while (start < end && (*start == ' ' || *start == '\t'))
        start++;
    while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    s.ptr = start;
    s.len = (size_t)(end - start);
    return s;
}

int
http_parse_uint(const char *s, size_t len, uint64_t max, uint64_t *out)
{
    uint64_t v = 0, d;
    size_t i;

    if (len == 0)
        return -1;
    for (i = 0; i < len; i++) {
        if (!is_digit((unsigned char)s[i]))
            return -1;
        d = (uint64_t)(s[i] - '0');
        if (d > max || v > (max - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

bool
http_slice_eq(struct http_slice s, const char *token)
{
    size_t i;

    for (i = 0; i < s.len; i++) {
        if (token[i] == '\0' ||
            to_lower((unsigned char)s.ptr[i]) !=
            to_lower((unsigned char)token[i]))
            return false;
    }
    return token[i] == '\0';
}
