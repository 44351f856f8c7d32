/*
 * test_listing.c: format picking by Accept, and the three renderings of a
 * listing (escaping, hrefs, sizes, dates, breadcrumbs, CSP hashes), read
 * only and as the drop page of a writable share.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/base64.h>
#include <mbedtls/sha256.h>

#include "accept.h"
#include "listing.h"
#include "page.h"

#include "guard.h"

#define T_2026 1796317631       /* 2026-12-03T17:07:11Z */

/* Render ENTRIES; the result must not be NULL and is freed by the caller. */
static char *
render_as(enum listing_format format, const char *path,
          struct listing_entry *entries, size_t count, bool writable,
          size_t *len)
{
    struct listing l = { entries, count };
    char *out;

    out = listing_render(format, path, &l, writable, len);
    assert_non_null(out);
    return out;
}

/* A read-only share's rendering. */
static char *
render(enum listing_format format, const char *path,
       struct listing_entry *entries, size_t count, size_t *len)
{
    return render_as(format, path, entries, count, false, len);
}

static void
assert_contains(const char *out, size_t len, const char *needle,
                const char *label)
{
    if (memmem(out, len, needle, strlen(needle)) == NULL)
        fail_msg("%s: output lacks \"%s\" in:\n%.*s", label, needle,
                 (int)len, out);
}

static void
assert_lacks(const char *out, size_t len, const char *needle,
             const char *label)
{
    if (memmem(out, len, needle, strlen(needle)) != NULL)
        fail_msg("%s: output has \"%s\"", label, needle);
}

static void
assert_output(const char *out, size_t len, const char *want,
              const char *label)
{
    if (len != strlen(want) || memcmp(out, want, len) != 0)
        fail_msg("%s: got\n%.*s\nwant\n%s", label, (int)len, out, want);
}

static const struct {
    const char *accept;
    enum listing_format want;
    const char *label;
} accept_cases[] = {
    { "", LISTING_HTML, "empty" },
    { "  \t ", LISTING_HTML, "blank" },
    { "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,"
      "image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;"
      "q=0.7", LISTING_HTML, "chrome" },
    { "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,"
      "image/webp,*/*;q=0.8", LISTING_HTML, "firefox" },
    { "*/*", LISTING_HTML, "curl and wget" },
    { "application/json", LISTING_JSON, "json" },
    { "text/plain", LISTING_TEXT, "text" },
    { "text/plain;q=0.5, application/json;q=0.9", LISTING_JSON,
      "json preferred" },
    { "text/plain;q=0.9, application/json;q=0.5", LISTING_TEXT,
      "text preferred" },
    { "text/html;q=0", LISTING_HTML, "nothing acceptable" },
    { "text/html;q=0, */*", LISTING_JSON, "html refused, any else" },
    { "text/html;q=0, text/*", LISTING_TEXT, "html refused, text/*" },
    { "text/*", LISTING_HTML, "text/* tie goes to html" },
    { "application/*", LISTING_JSON, "application/*" },
    { "application/json, text/html", LISTING_HTML, "tie: html" },
    { "text/plain, application/json", LISTING_JSON, "tie: json" },
    { "application/json;q=1, text/html;q=0.999", LISTING_JSON,
      "a thousandth" },
    { "text/html;q=0.5, application/json;q=0.500", LISTING_HTML,
      "equal q written differently" },
    { "*/*;q=0.1, text/plain", LISTING_TEXT, "specific beats wildcard" },
    { "text/plain;q=0.1, */*", LISTING_HTML, "specific q wins for text" },
    { "text/plain;q=0.1, application/*;q=0.2", LISTING_JSON,
      "application/* over a low text/plain" },
    { "text/plain;q=0, text/*;q=1, application/json;q=0.5", LISTING_HTML,
      "text/* covers html too" },
    { "TEXT/PLAIN", LISTING_TEXT, "case-insensitive type" },
    { "text/plain;Q=0.5,application/json;q=0.4", LISTING_TEXT,
      "case-insensitive q" },
    { "application/json;charset=utf-8", LISTING_JSON, "other parameter" },
    { "application/json;foo=\"a,b;q=0\\\"\", text/html;q=0.1",
      LISTING_JSON, "quoted parameter" },
    { "text/html ; q=0.2 , application/json\t;\tq=0.3", LISTING_JSON,
      "whitespace around ; and ," },
    { ", , application/json ,,", LISTING_JSON, "empty list elements" },
    { "text/plain;;q=0.9, text/html;q=0.8", LISTING_TEXT,
      "empty parameter" },
    { "application/json;q=0., text/html;q=0", LISTING_HTML, "q=0." },
    { "application/json;q=1.000", LISTING_JSON, "q=1.000" },
    { "text/html;q=0.2, text/html;q=0.9, application/json;q=0.5",
      LISTING_HTML, "best of duplicates" },
    { "image/png", LISTING_HTML, "unrelated type" },
    /* Malformed: HTML whatever the field asks for. */
    { "application/json;q=2", LISTING_HTML, "q above 1" },
    { "application/json;q=1.5", LISTING_HTML, "q 1.5" },
    { "application/json;q=1.0001", LISTING_HTML, "q 4 decimals" },
    { "application/json;q=0.1234", LISTING_HTML, "q 4 decimals below 1" },
    { "application/json;q=", LISTING_HTML, "empty q" },
    { "application/json;q=abc", LISTING_HTML, "q not a number" },
    { "application/json;q=.5", LISTING_HTML, "q without 0" },
    { "application/json;q=-1", LISTING_HTML, "negative q" },
    { "application/json;q=0.5x", LISTING_HTML, "q trailing junk" },
    { "application/json;q=\"0.5\"", LISTING_HTML, "quoted q" },
    { "application/json;foo=\"open", LISTING_HTML, "open quote" },
    { "application/json;foo=\"a\x01\"", LISTING_HTML, "control in quote" },
    { "application/json;foo", LISTING_HTML, "parameter without value" },
    { "application/json;=x", LISTING_HTML, "parameter without name" },
    { "application/json;foo=", LISTING_HTML, "empty parameter value" },
    { "application", LISTING_HTML, "no slash" },
    { "application/", LISTING_HTML, "no subtype" },
    { "/json", LISTING_HTML, "no type" },
    { "*/json", LISTING_HTML, "star type, named subtype" },
    { "application/json text/plain", LISTING_HTML, "missing comma" },
    { "app lication/json", LISTING_HTML, "space in type" },
    { "application/json\x01", LISTING_HTML, "control byte" },
    { "application/json\xff", LISTING_HTML, "high byte" },
    { "application/json/x", LISTING_HTML, "two slashes" },
};

/* Each case ends at a page boundary followed by an unmapped page. */
static void
test_pick_format(void **state)
{
    struct guard g;
    const char *in;
    size_t i, len;

    (void)state;
    guard_init(&g, 0);              /* one page: every case is shorter */

    for (i = 0; i < sizeof accept_cases / sizeof accept_cases[0]; i++) {
        len = strlen(accept_cases[i].accept);
        in = guard_copy(&g, accept_cases[i].accept, len);
        if (listing_pick_format(in, len) != accept_cases[i].want)
            fail_msg("accept case \"%s\": wrong format",
                     accept_cases[i].label);
    }
    guard_free(&g);
}

static void
test_pick_format_bounds(void **state)
{
    char many[64 * 11 + 32];
    size_t i, len = 0;

    (void)state;
    assert_int_equal(listing_pick_format(NULL, 0), LISTING_HTML);
    assert_int_equal(listing_pick_format("application/json", 0),
                     LISTING_HTML);
    /* LEN is the end: what follows must not be read. */
    assert_int_equal(listing_pick_format("application/json;q=0", 16),
                     LISTING_JSON);
    assert_int_equal(listing_pick_format("text/plain", 8), LISTING_HTML);

    /* 63 ranges and JSON are taken, a 65th range makes it malformed. */
    for (i = 0; i < 63; i++) {
        memcpy(many + len, "image/png,", 10);
        len += 10;
    }
    memcpy(many + len, "application/json", 16);
    assert_int_equal(listing_pick_format(many, len + 16), LISTING_JSON);
    memcpy(many + len, "image/png,application/json", 26);
    assert_int_equal(listing_pick_format(many, len + 26), LISTING_HTML);
}

static void
test_content_type(void **state)
{
    (void)state;
    assert_string_equal(listing_content_type(LISTING_HTML),
                        "text/html; charset=utf-8");
    assert_string_equal(listing_content_type(LISTING_JSON),
                        "application/json");
    assert_string_equal(listing_content_type(LISTING_TEXT),
                        "text/plain; charset=utf-8");
}

static const struct {
    const char *name;
    bool is_dir;
    const char *link;           /* the whole <a> element */
    const char *label;
} html_name_cases[] = {
    { "plain.txt", false, "<a href=\"plain.txt\">plain.txt</a>", "plain" },
    { "<script>alert(1)", false,
      "<a href=\"%3Cscript%3Ealert%281%29\">&lt;script&gt;alert(1)</a>",
      "script" },
    { "a&b", false, "<a href=\"a%26b\">a&amp;b</a>", "ampersand" },
    { "say \"hi\"", false,
      "<a href=\"say%20%22hi%22\">say &quot;hi&quot;</a>", "double quotes" },
    { "it's", false, "<a href=\"it%27s\">it&#39;s</a>", "single quote" },
    { "a > b", false, "<a href=\"a%20%3E%20b\">a &gt; b</a>", "greater" },
    { "two words", false, "<a href=\"two%20words\">two words</a>",
      "space" },
    { "#1", false, "<a href=\"%231\">#1</a>", "hash" },
    { "100%", false, "<a href=\"100%25\">100%</a>", "percent" },
    { "why?", false, "<a href=\"why%3F\">why?</a>", "question mark" },
    { "a+b=c", false, "<a href=\"a%2Bb%3Dc\">a+b=c</a>", "plus, equals" },
    { "javascript:alert(1)", false,
      "<a href=\"javascript%3Aalert%281%29\">javascript:alert(1)</a>",
      "scheme-like name stays relative" },
    { "caf\xc3\xa9", false, "<a href=\"caf%C3%A9\">caf\xc3\xa9</a>",
      "utf-8" },
    { "\xf0\x9f\x98\x80", false,
      "<a href=\"%F0%9F%98%80\">\xf0\x9f\x98\x80</a>", "4-byte utf-8" },
    { "bad\xff\xfe", false,
      "<a href=\"bad%FF%FE\">bad\xef\xbf\xbd\xef\xbf\xbd</a>",
      "invalid utf-8" },
    { "x\xc3", false, "<a href=\"x%C3\">x\xef\xbf\xbd</a>",
      "truncated utf-8" },
    { "\xe2\x82(", false, "<a href=\"%E2%82%28\">\xef\xbf\xbd(</a>",
      "one U+FFFD for a cut 3-byte sequence" },
    { "\xf0\x9f\x98", false, "<a href=\"%F0%9F%98\">\xef\xbf\xbd</a>",
      "one U+FFFD for a cut 4-byte sequence at the end" },
    { "\xc0\xaf", false,
      "<a href=\"%C0%AF\">\xef\xbf\xbd\xef\xbf\xbd</a>", "overlong" },
    { "\xed\xa0\x80", false,
      "<a href=\"%ED%A0%80\">\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd</a>",
      "surrogate" },
    { "\xf4\x90\x80\x80", false,
      "<a href=\"%F4%90%80%80\">"
      "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd</a>",
      "past U+10FFFF" },
    { "line\nbreak", false,
      "<a href=\"line%0Abreak\">line\xe2\x90\x8a" "break</a>",
      "newline shown as a control picture" },
    { "tab\t\x7f", false,
      "<a href=\"tab%09%7F\">tab\xe2\x90\x89\xe2\x90\xa1</a>",
      "tab and DEL" },
    { "sub dir", true, "<a href=\"sub%20dir/\">sub dir/</a>", "folder" },
    { "a&b", true, "<a href=\"a%26b/\">a&amp;b/</a>", "escaped folder" },
};

static void
test_html_names(void **state)
{
    struct listing_entry e;
    size_t i, len;
    char *out;

    (void)state;
    for (i = 0; i < sizeof html_name_cases / sizeof html_name_cases[0];
         i++) {
        e.name = (char *)html_name_cases[i].name;
        e.is_dir = html_name_cases[i].is_dir;
        e.size = 1;
        e.mtime = T_2026;
        out = render(LISTING_HTML, "sub", &e, 1, &len);
        assert_contains(out, len, html_name_cases[i].link,
                        html_name_cases[i].label);
        free(out);
    }
}

static const struct {
    const char *path;
    const char *title;
    const char *h1;
    const char *label;
} crumb_cases[] = {
    { ".", "<title>Index of /</title>", "<h1>Index of /</h1>", "root" },
    { "a", "<title>Index of /a/</title>",
      "<h1>Index of <a href=\"../\">/</a>a/</h1>", "one level" },
    { "a/b", "<title>Index of /a/b/</title>",
      "<h1>Index of <a href=\"../../\">/</a><a href=\"../\">a</a>/b/</h1>",
      "two levels" },
    { "a/b c/d", "<title>Index of /a/b c/d/</title>",
      "<h1>Index of <a href=\"../../../\">/</a><a href=\"../../\">a</a>/"
      "<a href=\"../\">b c</a>/d/</h1>", "three levels" },
    { "x<y/&z", "<title>Index of /x&lt;y/&amp;z/</title>",
      "<h1>Index of <a href=\"../../\">/</a><a href=\"../\">x&lt;y</a>/"
      "&amp;z/</h1>", "escaped" },
    { "\xff/caf\xc3\xa9", "<title>Index of /\xef\xbf\xbd/caf\xc3\xa9/</title>",
      "<h1>Index of <a href=\"../../\">/</a><a href=\"../\">\xef\xbf\xbd</a>/"
      "caf\xc3\xa9/</h1>", "invalid utf-8" },
};

static void
test_html_breadcrumb(void **state)
{
    size_t i, len;
    char *out;

    (void)state;
    for (i = 0; i < sizeof crumb_cases / sizeof crumb_cases[0]; i++) {
        out = render(LISTING_HTML, crumb_cases[i].path, NULL, 0, &len);
        assert_contains(out, len, crumb_cases[i].title, crumb_cases[i].label);
        assert_contains(out, len, crumb_cases[i].h1, crumb_cases[i].label);
        free(out);
    }
}

/* 100 levels: the root and the nearest 64 ancestors are linked. */
static void
test_html_breadcrumb_deep(void **state)
{
    char path[200], *out, *h1, *end;
    size_t i, len, links = 0;

    (void)state;
    for (i = 0; i < 100; i++) {
        path[2 * i] = 'd';
        path[2 * i + 1] = '/';
    }
    path[199] = '\0';
    out = render(LISTING_HTML, path, NULL, 0, &len);
    h1 = strstr(out, "<h1>");
    end = strstr(out, "</h1>");
    assert_non_null(h1);
    assert_non_null(end);
    for (; (h1 = strstr(h1 + 1, "<a ")) != NULL && h1 < end; )
        links++;
    assert_int_equal(links, 1 + 64);
    free(out);
}

static void
test_html_page(void **state)
{
    struct listing_entry e = { (char *)"f", false, 3, T_2026 };
    size_t len;
    char *out;

    (void)state;
    out = render(LISTING_HTML, "sub", &e, 1, &len);
    assert_true(len > 15 && memcmp(out, "<!DOCTYPE html>\n", 16) == 0);
    assert_contains(out, len, "<meta name=\"viewport\" content=\"width="
                    "device-width, initial-scale=1\">", "viewport");
    assert_contains(out, len, "<meta charset=\"utf-8\">", "charset");
    assert_contains(out, len, "<tr><td><a href=\"../\">../</a></td>",
                    "parent link");
    assert_contains(out, len, "<tr><td><a href=\"f\">f</a></td><td title=\""
                    "3 bytes\">3 B</td><td>2026-12-03 17:07</td></tr>\n",
                    "file row");
    assert_contains(out, len, "@media (max-width:", "narrow-screen rule");
    assert_lacks(out, len, "<script", "no script");
    assert_lacks(out, len, "http", "no external resource");
    assert_lacks(out, len, "This folder is empty", "not empty");
    assert_true(len > 16 &&
                memcmp(out + len - 16, "</body>\n</html>\n", 16) == 0);
    free(out);

    out = render(LISTING_HTML, ".", &e, 1, &len);
    assert_lacks(out, len, "href=\"../\"", "no parent at the root");
    free(out);
}

static void
test_html_empty(void **state)
{
    size_t len;
    char *out;

    (void)state;
    out = render(LISTING_HTML, ".", NULL, 0, &len);
    assert_contains(out, len, "<tbody>\n</tbody>", "no rows");
    assert_contains(out, len, "<p>This folder is empty.</p>", "empty note");
    free(out);

    out = render(LISTING_HTML, "a", NULL, 0, &len);
    assert_contains(out, len, "<tbody>\n<tr><td><a href=\"../\">../</a>"
                    "</td><td>-</td><td></td></tr>\n</tbody>",
                    "only the parent row");
    free(out);
}

static const struct {
    uint64_t size;
    bool is_dir;
    time_t mtime;
    const char *cells;          /* the size and date cells */
    const char *label;
} cell_cases[] = {
    { 0, false, T_2026,
      "<td title=\"0 bytes\">0 B</td><td>2026-12-03 17:07</td>", "zero" },
    { 1, false, T_2026, "<td title=\"1 byte\">1 B</td>", "one byte" },
    { 1023, false, 0,
      "<td title=\"1023 bytes\">1023 B</td><td>1970-01-01 00:00</td>",
      "1023 bytes, epoch" },
    { 1024, false, -1,
      "<td title=\"1024 bytes\">1.0 KiB</td><td>1969-12-31 23:59</td>",
      "1 KiB, before the epoch" },
    { 1536, false, T_2026, "<td title=\"1536 bytes\">1.5 KiB</td>",
      "1.5 KiB" },
    { 4404019, false, T_2026, "<td title=\"4404019 bytes\">4.2 MiB</td>",
      "4.2 MiB" },
    { 1048575, false, T_2026, "<td title=\"1048575 bytes\">1.0 MiB</td>",
      "rounds up to the next unit" },
    { 5368709120ULL, false, T_2026,
      "<td title=\"5368709120 bytes\">5.0 GiB</td>", "over 4 GiB" },
    { UINT64_MAX, false, T_2026,
      "<td title=\"18446744073709551615 bytes\">16.0 EiB</td>", "largest" },
    { 4096, true, T_2026, "<td>-</td><td>2026-12-03 17:07</td>",
      "folder" },
};

static void
test_html_cells(void **state)
{
    struct listing_entry e;
    size_t i, len;
    char *out;

    (void)state;
    for (i = 0; i < sizeof cell_cases / sizeof cell_cases[0]; i++) {
        e.name = (char *)"x";
        e.is_dir = cell_cases[i].is_dir;
        e.size = cell_cases[i].size;
        e.mtime = cell_cases[i].mtime;
        out = render(LISTING_HTML, ".", &e, 1, &len);
        assert_contains(out, len, cell_cases[i].cells, cell_cases[i].label);
        free(out);
    }
}

/* Occurrences of NEEDLE in the LEN bytes at OUT. */
static size_t
count_of(const char *out, size_t len, const char *needle)
{
    const char *p = out, *end = out + len;
    size_t n = 0, nlen = strlen(needle);

    while ((p = memmem(p, (size_t)(end - p), needle, nlen)) != NULL) {
        n++;
        p += nlen;
    }
    return n;
}

/*
 * The base64 SHA-256 of what lies between the one OPEN tag of the page
 * and the CLOSE after it, into B64 (64 bytes).
 */
static void
element_hash(const char *out, size_t len, const char *open,
             const char *close, unsigned char *b64)
{
    unsigned char hash[32];
    const char *start, *end;
    size_t b64_len;

    assert_int_equal(count_of(out, len, open), 1);
    start = memmem(out, len, open, strlen(open));
    start += strlen(open);
    end = memmem(start, len - (size_t)(start - out), close, strlen(close));
    assert_non_null(end);
    assert_int_equal(mbedtls_sha256_ret((const unsigned char *)start,
                                        (size_t)(end - start), hash, 0), 0);
    assert_int_equal(mbedtls_base64_encode(b64, 64, &b64_len, hash,
                                           sizeof hash), 0);
}

/* The CSP must carry the hash of exactly what the page has in <style>. */
static void
test_csp_hash(void **state)
{
    unsigned char b64[64];
    char want[256], *out;
    size_t len;

    (void)state;
    out = render(LISTING_HTML, ".", NULL, 0, &len);
    element_hash(out, len, "<style>", "</style>", b64);
    snprintf(want, sizeof want, "default-src 'none'; style-src "
             "'sha256-%s'; img-src data:; base-uri 'none'; form-action "
             "'none'; frame-ancestors 'none'", (char *)b64);
    assert_string_equal(listing_csp(false), want);
    assert_ptr_equal(listing_csp(false), listing_csp(false));
    assert_lacks(out, len, " style=", "no style attributes");
    free(out);
}

/* Writable: the style (with the drop rules) and the script, by hash. */
static void
test_csp_hash_writable(void **state)
{
    struct listing_entry e = { (char *)"f", false, 3, T_2026 };
    unsigned char style[64], script[64];
    char want[512], *out;
    size_t len;

    (void)state;
    out = render_as(LISTING_HTML, "a/b", &e, 1, true, &len);
    element_hash(out, len, "<style>", "</style>", style);
    element_hash(out, len, "<script>", "</script>", script);
    snprintf(want, sizeof want, "default-src 'none'; style-src "
             "'sha256-%s'; script-src 'sha256-%s'; connect-src 'self'; "
             "img-src data:; base-uri 'none'; form-action 'none'; "
             "frame-ancestors 'none'", (char *)style, (char *)script);
    assert_string_equal(listing_csp(true), want);
    assert_ptr_equal(listing_csp(true), listing_csp(true));
    assert_string_not_equal(listing_csp(true), listing_csp(false));
    assert_lacks(out, len, " style=", "no style attributes");
    free(out);

    /* The same bytes whatever the folder holds. */
    out = render_as(LISTING_HTML, ".", NULL, 0, true, &len);
    element_hash(out, len, "<script>", "</script>", style);
    assert_string_equal((char *)style, (char *)script);
    free(out);
}

static void *
csp_thread(void *arg)
{
    return (void *)listing_csp(arg != NULL);
}

/* First calls from several threads at once (run before test_csp_hash). */
static void
test_csp_threads(void **state)
{
    pthread_t t[8];
    void *got[8];
    size_t i;

    (void)state;
    for (i = 0; i < 8; i++)
        assert_int_equal(pthread_create(&t[i], NULL, csp_thread,
                                        i % 2 ? (void *)state : NULL), 0);
    for (i = 0; i < 8; i++) {
        assert_int_equal(pthread_join(t[i], &got[i]), 0);
        assert_string_equal(got[i], got[i % 2]);
    }
    assert_non_null(strstr(got[0], "style-src 'sha256-"));
    assert_null(strstr(got[0], "script-src"));
    assert_non_null(strstr(got[1], "script-src 'sha256-"));
}

static void
test_writable_page(void **state)
{
    struct listing_entry e[] = {
        { (char *)"d", true, 4096, T_2026 },
        { (char *)"f", false, 3, T_2026 },
    };
    size_t len;
    char *out;

    (void)state;
    out = render_as(LISTING_HTML, "sub", e, 2, true, &len);
    assert_contains(out, len, "Drop files here or <input type=\"file\" "
                    "id=\"pick\" multiple><label class=\"btn\" for=\"pick\">"
                    "choose files</label>", "drop hint and picker");
    assert_contains(out, len, "id=\"mkdir\">New folder</button>",
                    "new folder");
    assert_contains(out, len, "<p id=\"msg\" role=\"status\"></p>", "status");
    assert_contains(out, len, "<div id=\"jobs\"></div>", "upload rows");
    assert_contains(out, len, "<th>Modified</th><th></th></tr>",
                    "delete column");
    assert_contains(out, len, "<tr><td><a href=\"../\">../</a></td><td>-"
                    "</td><td></td><td></td></tr>\n", "parent row");
    assert_contains(out, len, "<tr><td><a href=\"d/\">d/</a></td><td>-</td>"
                    "<td>2026-12-03 17:07</td><td><button type=\"button\" "
                    "class=\"del\" title=\"Delete\">\xc3\x97</button></td>"
                    "</tr>\n", "folder row");
    assert_contains(out, len, "<tr><td><a href=\"f\">f</a></td><td title=\""
                    "3 bytes\">3 B</td><td>2026-12-03 17:07</td><td><button"
                    " type=\"button\" class=\"del\" title=\"Delete\">\xc3\x97"
                    "</button></td></tr>\n", "file row");
    assert_int_equal(count_of(out, len, "class=\"del\""), 2);
    assert_contains(out, len, "<p id=\"empty\" hidden>This folder is empty."
                    "</p>\n<script>", "hidden empty note, then the script");
    assert_true(len > 26 && memcmp(out + len - 26, "</script>\n</body>\n"
                                   "</html>\n", 26) == 0);
    assert_lacks(out, len, "http", "no external resource");
    assert_lacks(out, len, "src=", "no loaded script or image");
    free(out);

    out = render_as(LISTING_HTML, ".", NULL, 0, true, &len);
    assert_contains(out, len, "<p id=\"empty\">This folder is empty.</p>",
                    "shown empty note");
    assert_lacks(out, len, "href=\"../\"", "no parent at the root");
    free(out);
}

/* Read-only: no script, control or rule of the drop page at all. */
static void
test_read_only_page(void **state)
{
    static const char *const absent[] = {
        "<script", "<button", "<input", "id=\"", "Drop files", ".drop",
        ".job", "hidden",
    };
    struct listing_entry e = { (char *)"f", false, 3, T_2026 };
    size_t i, len;
    char *out;

    (void)state;
    out = render(LISTING_HTML, "sub", &e, 1, &len);
    for (i = 0; i < sizeof absent / sizeof absent[0]; i++)
        assert_lacks(out, len, absent[i], absent[i]);
    assert_null(strstr(listing_csp(false), "script-src"));
    assert_null(strstr(listing_csp(false), "connect-src"));
    free(out);
}

/* Every element the script looks up by id is on the page; no inline JS. */
static void
test_script_ids(void **state)
{
    static const char *const handlers[] = {
        " onclick=", " onchange=", " onload=", " ondrop=", " onerror=",
        "javascript:",
    };
    const char *script = page_script(), *p = script, *q;
    char id[64];
    size_t i, len, n = 0;
    char *out;

    (void)state;
    out = render_as(LISTING_HTML, ".", NULL, 0, true, &len);
    while ((p = strstr(p, "getElementById('")) != NULL) {
        p += strlen("getElementById('");
        q = strchr(p, '\'');
        assert_non_null(q);
        snprintf(id, sizeof id, "id=\"%.*s\"", (int)(q - p), p);
        assert_int_equal(count_of(out, len, id), 1);
        n++;
    }
    assert_true(n >= 5);
    for (i = 0; i < sizeof handlers / sizeof handlers[0]; i++)
        assert_lacks(out, len, handlers[i], handlers[i]);
    assert_lacks(script, strlen(script), "innerHTML", "no innerHTML");
    assert_lacks(script, strlen(script), "</", "nothing that ends <script>");
    assert_contains(script, strlen(script), "'If-None-Match', '*'",
                    "create only first");
    free(out);
}

/* Names that try to end the style or the script stay text. */
static void
test_writable_names(void **state)
{
    struct listing_entry e[] = {
        { (char *)"</script><script>alert(1)</script>", false, 1, T_2026 },
        { (char *)"</style><b>", true, 1, T_2026 },
    };
    size_t len;
    char *out;

    (void)state;
    out = render_as(LISTING_HTML, "<script>", e, 2, true, &len);
    assert_int_equal(count_of(out, len, "<script>"), 1);
    assert_int_equal(count_of(out, len, "</script>"), 1);
    assert_int_equal(count_of(out, len, "</style>"), 1);
    assert_contains(out, len, "<a href=\"%3C%2Fscript%3E%3Cscript%3Ealert"
                    "%281%29%3C%2Fscript%3E\">&lt;/script&gt;&lt;script&gt;"
                    "alert(1)&lt;/script&gt;</a>", "escaped file name");
    assert_contains(out, len, "<title>Index of /&lt;script&gt;/</title>",
                    "escaped path");
    free(out);
}

/* JSON and text are the same whether or not the share is writable. */
static void
test_writable_data(void **state)
{
    struct listing_entry e[] = {
        { (char *)"d", true, 4096, T_2026 },
        { (char *)"x", false, 123, T_2026 },
    };
    enum listing_format formats[] = { LISTING_JSON, LISTING_TEXT };
    size_t i, len, wlen;
    char *out, *wout;

    (void)state;
    for (i = 0; i < 2; i++) {
        out = render_as(formats[i], "a", e, 2, false, &len);
        wout = render_as(formats[i], "a", e, 2, true, &wlen);
        assert_int_equal(len, wlen);
        assert_memory_equal(out, wout, len);
        assert_true(len > 0 && out[len - 1] == '\n');
        free(out);
        free(wout);
    }
}

/* accept_pick on its own: bounds on the list of offered types. */
static void
test_accept_pick(void **state)
{
    static const struct accept_type types[ACCEPT_MAX_TYPES + 1] = {
        { "text", "html" }, { "image", "png" }, { "image", "webp" },
        { "a", "a" }, { "a", "b" }, { "a", "c" }, { "a", "d" }, { "a", "e" },
        { "a", "f" },
    };

    (void)state;
    assert_int_equal(accept_pick("image/*", 7, types, 3), 1);
    assert_int_equal(accept_pick("image/webp", 10, types, 3), 2);
    assert_int_equal(accept_pick("image/webp", 10, types, 2), 0);
    assert_int_equal(accept_pick("image/webp", 10, types, 0), 0);
    assert_int_equal(accept_pick("image/webp", 10, types,
                                 ACCEPT_MAX_TYPES), 2);
    assert_int_equal(accept_pick("image/webp", 10, types,
                                 ACCEPT_MAX_TYPES + 1), 0);
    assert_int_equal(accept_pick(NULL, 0, types, 3), 0);
}

static void
test_json_listing(void **state)
{
    struct listing_entry e[] = {
        { (char *)"d", true, 4096, T_2026 },
        { (char *)"x", false, 123, T_2026 },
        { (char *)"z", false, UINT64_MAX, 0 },
    };
    size_t len;
    char *out;

    (void)state;
    out = render(LISTING_JSON, "a/b", e, 3, &len);
    assert_output(out, len, "{\"path\":\"/a/b/\",\"entries\":["
                  "{\"name\":\"d\",\"type\":\"dir\","
                  "\"mtime\":\"2026-12-03T17:07:11Z\"},"
                  "{\"name\":\"x\",\"type\":\"file\",\"size\":123,"
                  "\"mtime\":\"2026-12-03T17:07:11Z\"},"
                  "{\"name\":\"z\",\"type\":\"file\","
                  "\"size\":18446744073709551615,"
                  "\"mtime\":\"1970-01-01T00:00:00Z\"}]}\n", "listing");
    free(out);

    out = render(LISTING_JSON, ".", NULL, 0, &len);
    assert_output(out, len, "{\"path\":\"/\",\"entries\":[]}\n", "empty");
    free(out);

    out = render(LISTING_JSON, "q\"/b\\s", NULL, 0, &len);
    assert_output(out, len, "{\"path\":\"/q\\\"/b\\\\s/\",\"entries\":[]}\n",
                  "escaped path");
    free(out);
}

static const struct {
    const char *name;
    const char *json;           /* the JSON string, quotes included */
    const char *label;
} json_name_cases[] = {
    { "plain", "\"plain\"", "plain" },
    { "say \"hi\"", "\"say \\\"hi\\\"\"", "quotes" },
    { "back\\slash", "\"back\\\\slash\"", "backslash" },
    { "a/b", "\"a/b\"", "slash stays" },
    { "nl\ncr\rtab\t", "\"nl\\u000acr\\u000dtab\\u0009\"", "whitespace" },
    { "\x01\x1f", "\"\\u0001\\u001f\"", "controls" },
    { "del\x7f", "\"del\x7f\"", "DEL is allowed" },
    { "<b>&amp;", "\"<b>&amp;\"", "no HTML escaping" },
    { "caf\xc3\xa9", "\"caf\xc3\xa9\"", "utf-8" },
    { "\xe2\x80\xa8", "\"\xe2\x80\xa8\"", "U+2028" },
    { "bad\xff", "\"bad\\ufffd\"", "invalid utf-8" },
    { "\xc3(", "\"\\ufffd(\"", "truncated sequence" },
    { "\xe0\x80\x80", "\"\\ufffd\\ufffd\\ufffd\"", "overlong" },
    { "\xe2\x82\xe2\x82\xac", "\"\\ufffd\xe2\x82\xac\"",
      "cut sequence before a whole one" },
    { "\xf0\x9f\x98", "\"\\ufffd\"", "cut at the end" },
};

static void
test_json_names(void **state)
{
    struct listing_entry e;
    char want[256];
    size_t i, len;
    char *out;

    (void)state;
    for (i = 0; i < sizeof json_name_cases / sizeof json_name_cases[0];
         i++) {
        e.name = (char *)json_name_cases[i].name;
        e.is_dir = false;
        e.size = 7;
        e.mtime = T_2026;
        out = render(LISTING_JSON, ".", &e, 1, &len);
        snprintf(want, sizeof want, "{\"path\":\"/\",\"entries\":["
                 "{\"name\":%s,\"type\":\"file\",\"size\":7,"
                 "\"mtime\":\"2026-12-03T17:07:11Z\"}]}\n",
                 json_name_cases[i].json);
        assert_output(out, len, want, json_name_cases[i].label);
        free(out);
    }
}

static void
test_text(void **state)
{
    struct listing_entry e[] = {
        { (char *)"docs", true, 0, T_2026 },
        { (char *)"a b#%?.txt", false, 1, T_2026 },
        { (char *)"new\nline", false, 1, T_2026 },
        { (char *)"carriage\rreturn", true, 1, T_2026 },
        { (char *)"\x1b]0;pwned\x07", false, 1, T_2026 },
        { (char *)"caf\xc3\xa9", false, 1, T_2026 },
        { (char *)"raw\xff", false, 1, T_2026 },
    };
    size_t len;
    char *out;

    (void)state;
    out = render(LISTING_TEXT, "a", e, 7, &len);
    assert_output(out, len, "docs/\na b#%?.txt\ncaf\xc3\xa9\nraw\xff\n",
                  "text listing");
    free(out);

    out = render(LISTING_TEXT, ".", NULL, 0, &len);
    assert_int_equal(len, 0);
    free(out);
}

/* Enough entries to grow the buffer many times over. */
static void
test_large(void **state)
{
    enum { N = 20000 };
    struct listing_entry *e;
    char (*names)[16];
    size_t i, len, rows = 0;
    char *out, *p;

    (void)state;
    e = calloc(N, sizeof *e);
    names = calloc(N, sizeof *names);
    assert_non_null(e);
    assert_non_null(names);
    for (i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "f<%zu>", i);
        e[i].name = names[i];
        e[i].size = i;
        e[i].mtime = T_2026;
    }
    out = render(LISTING_HTML, "big", e, N, &len);
    for (p = out; (p = memmem(p, len - (size_t)(p - out), "<tr><td>", 8));
         p++)
        rows++;
    assert_int_equal(rows, N + 1);
    assert_contains(out, len, "<a href=\"f%3C19999%3E\">f&lt;19999&gt;</a>",
                    "last row");
    free(out);

    out = render(LISTING_JSON, "big", e, N, &len);
    assert_true(len > 0 && out[len - 1] == '\n');
    free(out);
    free(names);
    free(e);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pick_format),
        cmocka_unit_test(test_pick_format_bounds),
        cmocka_unit_test(test_content_type),
        cmocka_unit_test(test_html_names),
        cmocka_unit_test(test_html_breadcrumb),
        cmocka_unit_test(test_html_breadcrumb_deep),
        cmocka_unit_test(test_html_page),
        cmocka_unit_test(test_html_empty),
        cmocka_unit_test(test_html_cells),
        cmocka_unit_test(test_csp_threads),
        cmocka_unit_test(test_csp_hash),
        cmocka_unit_test(test_csp_hash_writable),
        cmocka_unit_test(test_writable_page),
        cmocka_unit_test(test_read_only_page),
        cmocka_unit_test(test_script_ids),
        cmocka_unit_test(test_writable_names),
        cmocka_unit_test(test_writable_data),
        cmocka_unit_test(test_accept_pick),
        cmocka_unit_test(test_json_listing),
        cmocka_unit_test(test_json_names),
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_large),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
