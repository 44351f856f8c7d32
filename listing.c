/*
 * listing.c: a folder's entries as HTML, JSON or plain text.
 *
 * Works on a struct listing made by files_list and does no I/O.  Names are
 * bytes someone else chose: HTML and JSON get them escaped, with U+FFFD in
 * place of each byte that is not part of well-formed UTF-8, while hrefs
 * carry the exact bytes percent-encoded, so every link leads to its file.
 * The only state is the CSP string, computed once from the page's style.
 */
#include "listing.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <mbedtls/base64.h>
#include <mbedtls/sha256.h>

#include "path.h"

#define ACCEPT_MAX_RANGES 64    /* browsers send about 10; more is abuse */
#define QVALUE_MAX      1000    /* q-values in thousandths: "q=1" */
#define BUF_MIN_BYTES   4096    /* first allocation of an output buffer */
#define CSP_MAX_BYTES   256     /* the policy below is about 170 bytes */
/*
 * Each breadcrumb link costs "../" per level up, so linking every ancestor
 * of a path of 2000 one-letter folders would cost megabytes; ancestors
 * further up than this are shown as plain text (the root stays linked).
 */
#define CRUMB_MAX_UP    64

#define REPLACEMENT_UTF8 "\xef\xbf\xbd"     /* U+FFFD */

/* One media-range of an Accept field: pointers into the caller's value. */
struct accept_range {
    const char *type, *subtype;
    size_t type_len, subtype_len;
    int q;                  /* thousandths, 0 to QVALUE_MAX */
};

struct cursor {
    const char *p, *end;
};

/* Grows as needed; once an allocation fails, appends do nothing. */
struct buf {
    char *data;
    size_t len, cap;
    bool failed;
};

typedef void put_char_fn(struct buf *b, unsigned char ch);

static const struct {
    const char *type, *subtype;
} formats[] = {
    [LISTING_HTML] = { "text", "html" },
    [LISTING_JSON] = { "application", "json" },
    [LISTING_TEXT] = { "text", "plain" },
};
#define NFORMATS (sizeof formats / sizeof formats[0])

/*
 * The page's only style.  Its SHA-256 goes into the CSP, so it must be
 * sent byte for byte as it is here, inside <style>...</style>.
 */
static const char page_style[] =
    ":root{color-scheme:light dark}"
    "body{font:16px/1.45 system-ui,sans-serif;margin:0 auto;"
    "max-width:60em;padding:0 1em;color:#222;background:#fff}"
    "h1{font-size:1.3em;font-weight:600;overflow-wrap:anywhere}"
    "table{border-collapse:collapse;width:100%}"
    "th,td{padding:.45em .6em;text-align:left;vertical-align:top;"
    "border-bottom:1px solid #ddd}"
    "td:first-child{overflow-wrap:anywhere}"
    "td:first-child a{display:block}"
    "th:nth-child(2),td:nth-child(2){text-align:right;white-space:nowrap}"
    "td:nth-child(3){white-space:nowrap}"
    "a{color:#0645ad;text-decoration:none}a:hover{text-decoration:underline}"
    "@media (max-width:40em){body{padding:0 .5em}th,td{padding:.6em .3em}"
    "td:nth-child(3){white-space:normal;font-size:.85em}}"
    "@media (prefers-color-scheme:dark){body{color:#ddd;background:#121212}"
    "th,td{border-color:#333}a{color:#8ab4f8}}";

static pthread_once_t csp_once = PTHREAD_ONCE_INIT;
/* Set once by make_csp; if hashing ever failed, the page shows unstyled. */
static char csp[CSP_MAX_BYTES] = "default-src 'none'";

static int parse_range(struct cursor *c, struct accept_range *r);
static int parse_params(struct cursor *c, struct accept_range *r);
static int parse_qvalue(struct cursor *c, int *q);
static int skip_param_value(struct cursor *c);
static int skip_quoted(struct cursor *c);
static size_t skip_token(struct cursor *c);
static void skip_ows(struct cursor *c);
static bool is_tchar(unsigned char ch);
static bool is_star(const char *s, size_t len);
static void score_range(const struct accept_range *r, int q[], int spec[]);
static int match_spec(const struct accept_range *r, const char *type,
                      const char *subtype);
static bool token_is(const char *s, size_t len, const char *word);
static void make_csp(void);
static void render_html(struct buf *b, const char *path,
                        const struct listing *l);
static void put_breadcrumb(struct buf *b, const char *path);
static void put_up_link(struct buf *b, size_t up);
static void put_html_row(struct buf *b, const struct listing_entry *e);
static void put_href(struct buf *b, const char *name);
static void put_size(struct buf *b, uint64_t size);
static void render_json(struct buf *b, const char *path,
                        const struct listing *l);
static void put_json_entry(struct buf *b, const struct listing_entry *e);
static void render_text(struct buf *b, const struct listing *l);
static bool has_control(const char *s);
static size_t format_time(time_t t, bool iso, char *out, size_t cap);
static bool is_root(const char *path);
static void put_utf8(struct buf *b, const char *s, size_t len,
                     put_char_fn *put_char, const char *replacement);
static size_t utf8_seq_len(const unsigned char *p, size_t avail,
                           size_t *bad);
static void put_html_char(struct buf *b, unsigned char ch);
static void put_json_char(struct buf *b, unsigned char ch);
static void put_html(struct buf *b, const char *s, size_t len);
static void put_json(struct buf *b, const char *s, size_t len);
static bool buf_reserve(struct buf *b, size_t n);
static void buf_add(struct buf *b, const char *s, size_t n);
static void buf_str(struct buf *b, const char *s);
static void buf_fmt(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static char *buf_finish(struct buf *b, size_t *len);

/*
 * RFC 9110 12.5.1: the most specific media-range that matches a format
 * gives it its q (the highest q among equally specific ones); a format no
 * range matches gets 0.  A malformed field counts as absent.
 */
enum listing_format
listing_pick_format(const char *accept, size_t len)
{
    int q[NFORMATS] = { 0 }, spec[NFORMATS] = { -1, -1, -1 };
    struct accept_range r;
    struct cursor c;
    size_t nranges = 0;
    enum listing_format best = LISTING_HTML;

    if (accept == NULL || len == 0)
        return LISTING_HTML;
    c.p = accept;
    c.end = accept + len;
    for (;;) {
        skip_ows(&c);
        if (c.p == c.end)
            break;
        if (*c.p == ',') {      /* empty list elements are allowed (5.6.1) */
            c.p++;
            continue;
        }
        if (++nranges > ACCEPT_MAX_RANGES || parse_range(&c, &r) == -1)
            return LISTING_HTML;
        score_range(&r, q, spec);
        skip_ows(&c);
        if (c.p != c.end && *c.p++ != ',')
            return LISTING_HTML;
    }

    /* Ties, and nothing acceptable at all, go to HTML, then JSON. */
    if (q[LISTING_JSON] > q[best])
        best = LISTING_JSON;
    if (q[LISTING_TEXT] > q[best])
        best = LISTING_TEXT;
    return best;
}

const char *
listing_content_type(enum listing_format format)
{
    switch (format) {
    case LISTING_JSON:
        return "application/json";
    case LISTING_TEXT:
        return "text/plain; charset=utf-8";
    case LISTING_HTML:
    default:
        return "text/html; charset=utf-8";
    }
}

char *
listing_render(enum listing_format format, const char *path,
               const struct listing *l, size_t *len)
{
    struct buf b = { NULL, 0, 0, false };

    switch (format) {
    case LISTING_JSON:
        render_json(&b, path, l);
        break;
    case LISTING_TEXT:
        render_text(&b, l);
        break;
    case LISTING_HTML:
    default:
        render_html(&b, path, l);
        break;
    }
    return buf_finish(&b, len);
}

const char *
listing_csp(void)
{
    pthread_once(&csp_once, make_csp);
    return csp;
}

/* media-range = ( "*" "/" "*" / type "/" "*" / type "/" subtype ) params */
static int
parse_range(struct cursor *c, struct accept_range *r)
{
    r->type = c->p;
    r->type_len = skip_token(c);
    if (r->type_len == 0 || c->p == c->end || *c->p != '/')
        return -1;
    c->p++;
    r->subtype = c->p;
    r->subtype_len = skip_token(c);
    if (r->subtype_len == 0)
        return -1;
    if (is_star(r->type, r->type_len) && !is_star(r->subtype, r->subtype_len))
        return -1;              /* "*" "/" "html" is no media-range */
    r->q = QVALUE_MAX;
    return parse_params(c, r);
}

/* parameters = *( OWS ";" OWS [ name "=" ( token / quoted-string ) ] ) */
static int
parse_params(struct cursor *c, struct accept_range *r)
{
    const char *name;
    size_t name_len;

    for (;;) {
        skip_ows(c);
        if (c->p == c->end || *c->p != ';')
            return 0;
        c->p++;
        skip_ows(c);
        if (c->p == c->end || !is_tchar((unsigned char)*c->p))
            continue;           /* the parameter is optional */

        name = c->p;
        name_len = skip_token(c);
        if (c->p == c->end || *c->p != '=')
            return -1;
        c->p++;
        if (token_is(name, name_len, "q")) {
            if (parse_qvalue(c, &r->q) == -1)
                return -1;
        } else if (skip_param_value(c) == -1) {
            return -1;
        }
    }
}

/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), 12.4.2 */
static int
parse_qvalue(struct cursor *c, int *q)
{
    int value, scale = QVALUE_MAX / 10, digits = 0;

    if (c->p == c->end || (*c->p != '0' && *c->p != '1'))
        return -1;
    value = (*c->p++ - '0') * QVALUE_MAX;
    if (c->p != c->end && *c->p == '.') {
        c->p++;
        while (c->p != c->end && *c->p >= '0' && *c->p <= '9') {
            if (++digits > 3)
                return -1;
            value += (*c->p++ - '0') * scale;
            scale /= 10;
        }
    }
    if (value > QVALUE_MAX)
        return -1;
    *q = value;
    return 0;
}

static int
skip_param_value(struct cursor *c)
{
    if (c->p != c->end && *c->p == '"')
        return skip_quoted(c);
    return skip_token(c) > 0 ? 0 : -1;
}

/* quoted-string = DQUOTE *( qdtext / "\" octet ) DQUOTE, RFC 9110 5.6.4 */
static int
skip_quoted(struct cursor *c)
{
    unsigned char ch;

    c->p++;
    while (c->p != c->end) {
        ch = (unsigned char)*c->p++;
        if (ch == '"')
            return 0;
        if (ch == '\\') {
            if (c->p == c->end)
                return -1;
            ch = (unsigned char)*c->p++;
        }
        if (ch != '\t' && (ch < 0x20 || ch == 0x7f))
            return -1;
    }
    return -1;
}

static size_t
skip_token(struct cursor *c)
{
    const char *start = c->p;

    while (c->p != c->end && is_tchar((unsigned char)*c->p))
        c->p++;
    return (size_t)(c->p - start);
}

static void
skip_ows(struct cursor *c)
{
    while (c->p != c->end && (*c->p == ' ' || *c->p == '\t'))
        c->p++;
}

static bool
is_tchar(unsigned char ch)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
        (ch >= '0' && ch <= '9'))
        return true;
    return ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

static bool
is_star(const char *s, size_t len)
{
    return len == 1 && *s == '*';
}

/* Let R give its q to each format it matches more specifically than before. */
static void
score_range(const struct accept_range *r, int q[], int spec[])
{
    size_t i;
    int s;

    for (i = 0; i < NFORMATS; i++) {
        s = match_spec(r, formats[i].type, formats[i].subtype);
        if (s < 0 || s < spec[i] || (s == spec[i] && r->q <= q[i]))
            continue;
        spec[i] = s;
        q[i] = r->q;
    }
}

/* 2 for type/subtype, 1 for type/ *, 0 for * / *, -1 if R does not match. */
static int
match_spec(const struct accept_range *r, const char *type, const char *subtype)
{
    if (is_star(r->type, r->type_len))
        return 0;               /* parse_range saw that the subtype is "*" */
    if (!token_is(r->type, r->type_len, type))
        return -1;
    if (is_star(r->subtype, r->subtype_len))
        return 1;
    return token_is(r->subtype, r->subtype_len, subtype) ? 2 : -1;
}

/* Media types and parameter names are case-insensitive (8.3.1). */
static bool
token_is(const char *s, size_t len, const char *word)
{
    return len == strlen(word) && strncasecmp(s, word, len) == 0;
}

static void
make_csp(void)
{
    unsigned char hash[32], b64[64];
    size_t b64_len;

    if (mbedtls_sha256_ret((const unsigned char *)page_style,
                           sizeof page_style - 1, hash, 0) != 0 ||
        mbedtls_base64_encode(b64, sizeof b64, &b64_len, hash,
                              sizeof hash) != 0)
        return;
    snprintf(csp, sizeof csp, "default-src 'none'; style-src 'sha256-%s'; "
             "img-src data:; base-uri 'none'; form-action 'none'; "
             "frame-ancestors 'none'", (const char *)b64);
}

static void
render_html(struct buf *b, const char *path, const struct listing *l)
{
    size_t i;

    buf_str(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
            "<meta charset=\"utf-8\">\n<meta name=\"viewport\" "
            "content=\"width=device-width, initial-scale=1\">\n"
            "<link rel=\"icon\" href=\"data:,\">\n<title>Index of /");
    if (!is_root(path)) {
        put_html(b, path, strlen(path));
        buf_str(b, "/");
    }
    buf_str(b, "</title>\n<style>");
    buf_str(b, page_style);
    buf_str(b, "</style>\n</head>\n<body>\n<h1>Index of ");
    put_breadcrumb(b, path);
    buf_str(b, "</h1>\n<table>\n<thead><tr><th>Name</th><th>Size</th>"
            "<th>Modified</th></tr></thead>\n<tbody>\n");
    if (!is_root(path))
        buf_str(b, "<tr><td><a href=\"../\">../</a></td><td>-</td>"
                "<td></td></tr>\n");

    for (i = 0; i < l->count; i++)
        put_html_row(b, &l->entries[i]);
    buf_str(b, "</tbody>\n</table>\n");
    if (l->count == 0)
        buf_str(b, "<p>This folder is empty.</p>\n");
    buf_str(b, "</body>\n</html>\n");
}

/* "a/b" gives <a href="../../">/</a><a href="../">a</a>/b/ */
static void
put_breadcrumb(struct buf *b, const char *path)
{
    const char *seg = path, *slash;
    size_t up = 1;
    bool linked;

    if (is_root(path)) {
        buf_str(b, "/");
        return;
    }
    for (slash = strchr(path, '/'); slash != NULL;
         slash = strchr(slash + 1, '/'))
        up++;
    put_up_link(b, up);
    buf_str(b, "/</a>");

    for (;;) {
        slash = strchr(seg, '/');
        linked = --up > 0 && up <= CRUMB_MAX_UP;
        if (linked)
            put_up_link(b, up);
        put_html(b, seg, slash != NULL ? (size_t)(slash - seg) : strlen(seg));
        buf_str(b, linked ? "</a>/" : "/");
        if (slash == NULL)
            break;
        seg = slash + 1;
    }
}

/* The opening tag of a link UP folders up: <a href="../../"> for 2. */
static void
put_up_link(struct buf *b, size_t up)
{
    buf_str(b, "<a href=\"");
    while (up-- > 0)
        buf_str(b, "../");
    buf_str(b, "\">");
}

static void
put_html_row(struct buf *b, const struct listing_entry *e)
{
    char when[64];
    size_t n;

    buf_str(b, "<tr><td><a href=\"");
    put_href(b, e->name);
    buf_str(b, e->is_dir ? "/\">" : "\">");
    put_html(b, e->name, strlen(e->name));
    buf_str(b, e->is_dir ? "/</a></td>" : "</a></td>");
    if (e->is_dir) {
        buf_str(b, "<td>-</td>");
    } else {
        buf_fmt(b, "<td title=\"%" PRIu64 " byte%s\">", e->size,
                e->size == 1 ? "" : "s");
        put_size(b, e->size);
        buf_str(b, "</td>");
    }

    n = format_time(e->mtime, false, when, sizeof when);
    buf_str(b, "<td>");
    buf_add(b, n > 0 ? when : "-", n > 0 ? n : 1);
    buf_str(b, "</td></tr>\n");
}

/* NAME percent-encoded straight into the buffer: at most 3 bytes a byte. */
static void
put_href(struct buf *b, const char *name)
{
    size_t n = strlen(name);
    int r;

    if (n > (size_t)(INT_MAX / 3) || !buf_reserve(b, 3 * n)) {
        b->failed = true;
        return;
    }
    r = path_encode_segment(name, b->data + b->len, b->cap - b->len);
    if (r < 0) {
        b->failed = true;
        return;
    }
    b->len += (size_t)r;
}

/* 1023 bytes show as "1023 B", 4404019 as "4.2 MiB". */
static void
put_size(struct buf *b, uint64_t size)
{
    static const char *const units[] = {
        "KiB", "MiB", "GiB", "TiB", "PiB", "EiB",
    };
    size_t u = 0;
    double v;

    if (size < 1024) {
        buf_fmt(b, "%" PRIu64 " B", size);
        return;
    }
    v = (double)size / 1024;
    /* Move up while "%.1f" would show 1024.0 of this unit. */
    while (v >= 1023.95 && u + 1 < sizeof units / sizeof units[0]) {
        v /= 1024;
        u++;
    }
    buf_fmt(b, "%.1f %s", v, units[u]);
}

static void
render_json(struct buf *b, const char *path, const struct listing *l)
{
    size_t i;

    buf_str(b, "{\"path\":\"/");
    if (!is_root(path)) {
        put_json(b, path, strlen(path));
        buf_str(b, "/");
    }
    buf_str(b, "\",\"entries\":[");
    for (i = 0; i < l->count; i++) {
        if (i > 0)
            buf_str(b, ",");
        put_json_entry(b, &l->entries[i]);
    }
    buf_str(b, "]}\n");
}

static void
put_json_entry(struct buf *b, const struct listing_entry *e)
{
    char when[64];
    size_t n;

    buf_str(b, "{\"name\":\"");
    put_json(b, e->name, strlen(e->name));
    if (e->is_dir)
        buf_str(b, "\",\"type\":\"dir\"");
    else
        buf_fmt(b, "\",\"type\":\"file\",\"size\":%" PRIu64, e->size);

    /* A time gmtime cannot convert (year past INT_MAX) becomes null. */
    n = format_time(e->mtime, true, when, sizeof when);
    buf_str(b, ",\"mtime\":");
    if (n > 0) {
        buf_str(b, "\"");
        buf_add(b, when, n);
        buf_str(b, "\"}");
    } else {
        buf_str(b, "null}");
    }
}

static void
render_text(struct buf *b, const struct listing *l)
{
    const struct listing_entry *e;
    size_t i;

    for (i = 0; i < l->count; i++) {
        e = &l->entries[i];
        /*
         * A '\n' or '\r' in a name would split it into lines that name
         * other files, and ESC and other controls would reach the
         * terminal of whoever runs curl on the listing.  One name per line
         * cannot show these names faithfully, so they are left out here;
         * HTML and JSON list them.  Other bytes are sent as they are, so
         * that scripts get exact names, UTF-8 or not.
         */
        if (has_control(e->name))
            continue;
        buf_str(b, e->name);
        buf_str(b, e->is_dir ? "/\n" : "\n");
    }
}

static bool
has_control(const char *s)
{
    const unsigned char *p;

    for (p = (const unsigned char *)s; *p != '\0'; p++)
        if (*p < 0x20 || *p == 0x7f)
            return true;
    return false;
}

/* UTC "2026-12-03T17:07:11Z" (ISO) or "2026-12-03 17:07"; 0 on failure. */
static size_t
format_time(time_t t, bool iso, char *out, size_t cap)
{
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL)
        return 0;
    if (iso)
        return strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return strftime(out, cap, "%Y-%m-%d %H:%M", &tm);
}

static bool
is_root(const char *path)
{
    return path[0] == '\0' || strcmp(path, ".") == 0;
}

/*
 * Copy LEN bytes of S: well-formed UTF-8 sequences of two bytes or more as
 * they are, single bytes through PUT_CHAR, and REPLACEMENT for each run of
 * bytes that is not well-formed (see utf8_seq_len).
 */
static void
put_utf8(struct buf *b, const char *s, size_t len, put_char_fn *put_char,
         const char *replacement)
{
    const unsigned char *p = (const unsigned char *)s;
    const unsigned char *end = p + len;
    size_t n, bad;

    while (p < end) {
        n = utf8_seq_len(p, (size_t)(end - p), &bad);
        if (n == 0) {
            buf_str(b, replacement);
            p += bad;
        } else if (n == 1) {
            put_char(b, *p++);
        } else {
            buf_add(b, (const char *)p, n);
            p += n;
        }
    }
}

/*
 * Length of the well-formed UTF-8 sequence at P (Unicode table 3-7), or 0
 * with *BAD set to how many bytes one U+FFFD stands for: the longest start
 * of a well-formed sequence there, at least 1 (the "maximal subpart" that
 * browsers and Python replace).  Overlong forms, surrogates and code
 * points past U+10FFFF are not well-formed.
 */
static size_t
utf8_seq_len(const unsigned char *p, size_t avail, size_t *bad)
{
    unsigned char lo = 0x80, hi = 0xbf;
    size_t n, i;

    *bad = 1;
    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        n = 2;
    else if (p[0] >= 0xe0 && p[0] <= 0xef)
        n = 3;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4)
        n = 4;
    else
        return 0;

    if (p[0] == 0xe0)
        lo = 0xa0;
    else if (p[0] == 0xed)
        hi = 0x9f;
    else if (p[0] == 0xf0)
        lo = 0x90;
    else if (p[0] == 0xf4)
        hi = 0x8f;
    for (i = 1; i < n; i++) {
        if (i == avail || p[i] < lo || p[i] > hi) {
            *bad = i;
            return 0;
        }
        lo = 0x80;
        hi = 0xbf;
    }
    return n;
}

/*
 * Escape the five characters that matter in text and in quoted attributes.
 * Controls show as their Control Pictures (U+2400 + byte, DEL U+2421), so
 * a newline in a name is visible rather than taken for a space.
 */
static void
put_html_char(struct buf *b, unsigned char ch)
{
    char picture[3] = { '\xe2', '\x90', '\0' };

    switch (ch) {
    case '&':
        buf_str(b, "&amp;");
        return;
    case '<':
        buf_str(b, "&lt;");
        return;
    case '>':
        buf_str(b, "&gt;");
        return;
    case '"':
        buf_str(b, "&quot;");
        return;
    case '\'':
        buf_str(b, "&#39;");
        return;
    }
    if (ch < 0x20 || ch == 0x7f) {
        picture[2] = (char)(ch == 0x7f ? 0xa1 : 0x80 + ch);
        buf_add(b, picture, sizeof picture);
        return;
    }
    buf_add(b, (const char *)&ch, 1);
}

/* RFC 8259 section 7: '"', '\' and controls must be escaped. */
static void
put_json_char(struct buf *b, unsigned char ch)
{
    if (ch == '"')
        buf_str(b, "\\\"");
    else if (ch == '\\')
        buf_str(b, "\\\\");
    else if (ch < 0x20)
        buf_fmt(b, "\\u%04x", (unsigned)ch);
    else
        buf_add(b, (const char *)&ch, 1);
}

static void
put_html(struct buf *b, const char *s, size_t len)
{
    put_utf8(b, s, len, put_html_char, REPLACEMENT_UTF8);
}

static void
put_json(struct buf *b, const char *s, size_t len)
{
    put_utf8(b, s, len, put_json_char, "\\ufffd");
}

/* Make room for N more bytes and a NUL; false (and failed) if impossible. */
static bool
buf_reserve(struct buf *b, size_t n)
{
    size_t need, cap;
    char *p;

    if (b->failed)
        return false;
    if (n > SIZE_MAX - 1 - b->len)
        goto fail;
    need = b->len + n + 1;
    if (need <= b->cap)
        return true;

    cap = b->cap > 0 ? b->cap : BUF_MIN_BYTES;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    p = realloc(b->data, cap);
    if (p == NULL)
        goto fail;
    b->data = p;
    b->cap = cap;
    return true;
fail:
    b->failed = true;
    return false;
}

static void
buf_add(struct buf *b, const char *s, size_t n)
{
    if (!buf_reserve(b, n))
        return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

static void
buf_str(struct buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

static void
buf_fmt(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !buf_reserve(b, (size_t)n)) {
        b->failed = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* The rendered bytes (NUL-terminated, never NULL), or NULL with ENOMEM. */
static char *
buf_finish(struct buf *b, size_t *len)
{
    if (!buf_reserve(b, 0)) {
        free(b->data);
        errno = ENOMEM;
        return NULL;
    }
    b->data[b->len] = '\0';
    *len = b->len;
    return b->data;
}
