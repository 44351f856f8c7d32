/*
 * listing.c: a folder's entries as HTML, JSON or plain text.
 *
 * Works on a struct listing made by files_list and does no I/O.  Names are
 * bytes someone else chose: HTML and JSON get them escaped, with U+FFFD in
 * place of each byte that is not part of well-formed UTF-8, while hrefs
 * carry the exact bytes percent-encoded, so every link leads to its file.
 * A writable share gets the drop page: page.c's controls and script, and a
 * delete button per row; those who may only deposit in a drop box get a
 * page with the drop controls and no listing.  Accept parsing is
 * accept.c's; the page's style, script and policy are page.c's.
 */
#include "listing.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "accept.h"
#include "page.h"
#include "path.h"

#define BUF_MIN_BYTES   4096    /* first allocation of an output buffer */
/*
 * Each breadcrumb link costs "../" per level up, so linking every ancestor
 * of a path of 2000 one-letter folders would cost megabytes; ancestors
 * further up than this are shown as plain text (the root stays linked).
 */
#define CRUMB_MAX_UP    64

#define REPLACEMENT_UTF8 "\xef\xbf\xbd"     /* U+FFFD */

/* Grows as needed; once an allocation fails, appends do nothing. */
struct buf {
    char *data;
    size_t len, cap;
    bool failed;
};

typedef void put_char_fn(struct buf *b, unsigned char ch);

/* In enum order: HTML first, so that it wins ties. */
static const struct accept_type formats[] = {
    [LISTING_HTML] = { "text", "html" },
    [LISTING_JSON] = { "application", "json" },
    [LISTING_TEXT] = { "text", "plain" },
};
#define NFORMATS (sizeof formats / sizeof formats[0])

static void render_html(struct buf *b, const char *path,
                        const struct listing *l, bool writable);
static void put_html_head(struct buf *b, const char *title,
                          const char *path, bool writable);
static void put_breadcrumb(struct buf *b, const char *path);
static void put_up_link(struct buf *b, size_t up);
static void put_html_row(struct buf *b, const struct listing_entry *e,
                         bool writable);
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

/* Bounds of the choice are accept.c's: it answers 0 (HTML) when unsure. */
enum listing_format
listing_pick_format(const char *accept, size_t len)
{
    return (enum listing_format)accept_pick(accept, len, formats, NFORMATS);
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
               const struct listing *l, bool writable, size_t *len)
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
        render_html(&b, path, l, writable);
        break;
    }
    return buf_finish(&b, len);
}

/*
 * The heading names the folder, as a listing's does, so that a deposit in
 * a subfolder shows where it goes.
 */
char *
listing_render_deposit(const char *path, size_t *len)
{
    struct buf b = { NULL, 0, 0, false };

    put_html_head(&b, "Drop box", path, true);
    buf_str(&b, "<body>\n<h1>Drop box ");
    put_breadcrumb(&b, path);
    buf_str(&b, "</h1>\n");
    buf_str(&b, page_deposit_controls());
    buf_fmt(&b, "<script>%s</script>\n</body>\n</html>\n", page_script());
    return buf_finish(&b, len);
}

const char *
listing_csp(bool writable)
{
    return page_csp(writable);
}

/*
 * Writable, the page gains the drop controls under the heading, a column
 * of delete buttons, an empty-folder note the script can show again, and
 * the script last, once the elements it looks for exist.
 */
static void
render_html(struct buf *b, const char *path, const struct listing *l,
            bool writable)
{
    size_t i;

    put_html_head(b, "Index of", path, writable);
    buf_str(b, "<body>\n<h1>Index of ");
    put_breadcrumb(b, path);
    buf_str(b, "</h1>\n");
    if (writable)
        buf_str(b, page_controls());
    buf_str(b, "<table>\n<thead><tr><th>Name</th><th>Size</th>"
            "<th>Modified</th>");
    buf_str(b, writable ? "<th></th></tr></thead>\n<tbody>\n"
                        : "</tr></thead>\n<tbody>\n");
    if (!is_root(path))
        buf_str(b, writable ? "<tr><td><a href=\"../\">../</a></td>"
                              "<td>-</td><td></td><td></td></tr>\n"
                            : "<tr><td><a href=\"../\">../</a></td>"
                              "<td>-</td><td></td></tr>\n");

    for (i = 0; i < l->count; i++)
        put_html_row(b, &l->entries[i], writable);
    buf_str(b, "</tbody>\n</table>\n");
    if (writable)
        buf_fmt(b, "<p id=\"empty\"%s>This folder is empty.</p>\n"
                "<script>%s</script>\n", l->count > 0 ? " hidden" : "",
                page_script());
    else if (l->count == 0)
        buf_str(b, "<p>This folder is empty.</p>\n");
    buf_str(b, "</body>\n</html>\n");
}

static void
put_html_head(struct buf *b, const char *title, const char *path,
              bool writable)
{
    buf_str(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
            "<meta charset=\"utf-8\">\n<meta name=\"viewport\" "
            "content=\"width=device-width, initial-scale=1\">\n"
            "<link rel=\"icon\" href=\"data:,\">\n<title>");
    buf_str(b, title);
    buf_str(b, " /");
    if (!is_root(path)) {
        put_html(b, path, strlen(path));
        buf_str(b, "/");
    }
    buf_str(b, "</title>\n<style>");
    buf_str(b, page_style(writable));
    buf_str(b, "</style>\n</head>\n");
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
put_html_row(struct buf *b, const struct listing_entry *e, bool writable)
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
    if (writable)
        buf_str(b, "</td><td><button type=\"button\" class=\"del\" "
                "title=\"Delete\">\xc3\x97</button>");     /* U+00D7 */
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
