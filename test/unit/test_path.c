/*
 * test_path.c: request targets to relative paths and back (path.c).
 *
 * Every target is copied to the end of a page followed by an unmapped
 * page, so reading one byte past it crashes the test instead of passing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "path.h"

#include "guard.h"

struct target_case {
    const char *target;
    size_t len;             /* 0: strlen(target) */
    int rv;
    const char *path;       /* expected when rv == 0 */
    bool trailing_slash;
    bool has_dot_segment;
    const char *query;      /* NULL: no '?' */
    const char *label;
};

#define OK(t, p, slash, dot, label) { t, 0, 0, p, slash, dot, NULL, label }
#define QUERY(t, p, q, label) { t, 0, 0, p, false, false, q, label }
#define BAD(t, label) { t, 0, -400, NULL, false, false, NULL, label }

static const struct target_case target_cases[] = {
    OK("/", ".", true, false, "root"),
    OK("/a/b", "a/b", false, false, "two segments"),
    OK("/a//b/", "a/b", true, false, "empty segment dropped"),
    OK("/./a", "a", false, false, "leading dot segment dropped"),
    OK("/a/./b", "a/b", false, false, "inner dot segment dropped"),
    OK("/a/.", "a", false, false, "final dot segment: no slash"),
    OK("/%2e", ".", false, false, "encoded dot alone is the root"),
    OK("/%2E/a", "a", false, false, "upper-case encoded dot dropped"),
    OK("///", ".", true, false, "only slashes"),
    BAD("/..", "dot-dot"),
    BAD("/a/../b", "inner dot-dot"),
    BAD("/a/..", "final dot-dot"),
    BAD("/%2e%2e/", "encoded dot-dot"),
    BAD("/.%2e/", "half-encoded dot-dot"),
    BAD("/%2e./", "other half-encoded dot-dot"),
    BAD("/%2E%2e", "mixed-case encoded dot-dot"),
    OK("/...", "...", false, true, "three dots is a name"),
    OK("/%2e%2e%2e", "...", false, true, "three encoded dots"),
    OK("/a%2e%2e", "a..", false, false, "dots after a name"),
    OK("/..a", "..a", false, true, "dot-dot prefix is a name"),
    BAD("/%2e%2", "truncated escape after a dot"),
    BAD("/a%2fb", "encoded slash"),
    BAD("/a%2Fb", "upper-case encoded slash"),
    BAD("/%2f", "encoded slash alone"),
    BAD("/%00", "encoded NUL"),
    BAD("/%", "lone percent"),
    BAD("/%4", "one hex digit"),
    BAD("/a%2", "one hex digit after a name"),
    BAD("/%zz", "no hex digits"),
    BAD("/%g0", "bad first digit"),
    BAD("/%0g", "bad second digit"),
    BAD("/%+1", "sign is no digit"),
    OK("/a%20b", "a b", false, false, "encoded space"),
    OK("/%23", "#", false, false, "encoded hash"),
    OK("/%25", "%", false, false, "encoded percent"),
    OK("/%2541", "%41", false, false, "decoded once only"),
    OK("/%3F", "?", false, false, "encoded question mark"),
    OK("/%3f", "?", false, false, "lower-case hex"),
    OK("/%22%27", "\"'", false, false, "encoded quotes"),
    OK("/a;b=c,d&e+f!$()*@:", "a;b=c,d&e+f!$()*@:", false, false,
       "sub-delims kept literally"),
    QUERY("/x?y=1", "x", "y=1", "query split"),
    QUERY("/x?", "x", "", "empty query"),
    QUERY("/x?a/../b", "x", "a/../b", "query is not a path"),
    QUERY("/x?a%zz", "x", "a%zz", "query is not decoded"),
    {"/?a?b", 0, 0, ".", true, false, "a?b",
     "second '?' belongs to the query"},
    BAD("/x#frag", "fragment"),
    BAD("/x?a#b", "fragment after query"),
    BAD("/#", "bare hash"),
    OK("https://h/a", "a", false, false, "absolute-form https"),
    OK("HTTP://h:8443/", ".", true, false, "absolute-form, scheme case"),
    OK("hTtPs://[::1]:8443/a/", "a", true, false, "IPv6 authority"),
    OK("http://h", ".", true, false, "absolute-form, empty path"),
    {"http://h?q", 0, 0, ".", true, false, "q", "absolute, empty path, query"},
    BAD("http:///a", "empty host"),
    BAD("http://", "scheme only"),
    BAD("http://u@h/", "userinfo"),
    BAD("http://h h/", "space in authority"),
    {"http://h\0/", 9, -400, NULL, false, false, NULL, "NUL in authority"},
    BAD("http://h\x01/", "control in authority"),
    BAD("ftp://h/a", "other scheme"),
    BAD("http:/a", "one slash after scheme"),
    BAD("http:h/a", "no slashes after scheme"),
    BAD("*", "asterisk-form"),
    BAD("example.com:443", "authority-form"),
    BAD("a", "bare name"),
    BAD("", "empty target"),
    OK("/caf%C3%A9", "caf\xc3\xa9", false, false, "encoded UTF-8"),
    OK("/%E6%97%A5/%F0%9F%99%82", "\xe6\x97\xa5/\xf0\x9f\x99\x82", false,
       false, "encoded UTF-8, several segments"),
    /* The HTTP parser refuses raw bytes >= 0x80; here they stay bytes. */
    OK("/caf\xc3\xa9", "caf\xc3\xa9", false, false, "literal UTF-8 kept"),
    OK("/\xff\x80", "\xff\x80", false, false, "literal high bytes kept"),
    OK("/%ff", "\xff", false, false, "encoded high byte kept"),
    /* Backslash is an ordinary byte in a Linux name, never a separator. */
    OK("/..\\..\\etc", "..\\..\\etc", false, true, "backslashes, one name"),
    OK("/a\\b", "a\\b", false, false, "literal backslash"),
    OK("/%5C..%5C", "\\..\\", false, false, "encoded backslash"),
    OK("/\\", "\\", false, false, "backslash alone"),
    BAD("/a%01", "encoded SOH"),
    BAD("/a%0a", "encoded newline"),
    BAD("/a%0D%0A", "encoded CRLF"),
    BAD("/a%1f", "encoded US"),
    BAD("/a%7f", "encoded DEL"),
    BAD("/a\x01", "raw SOH"),
    BAD("/a\x7f", "raw DEL"),
    BAD("/a\tb", "raw tab"),
    BAD("/a b", "raw space"),
    {"/a\0b", 4, -400, NULL, false, false, NULL, "raw NUL"},
    OK("/.git/config", ".git/config", false, true, "dot directory"),
    OK("/a/.env", "a/.env", false, true, "dot file below"),
    OK("/%2egit", ".git", false, true, "encoded dotfile"),
    OK("/a.b/c.", "a.b/c.", false, false, "inner dots are no dotfile"),
    OK("/a/.env/", "a/.env", true, true, "dot folder, trailing slash"),
};

/* Targets are copied to its end; mapped once for the whole group. */
static struct guard guard;

static int
guard_setup(void **state)
{
    (void)state;
    guard_init(&guard, 4 * (size_t)sysconf(_SC_PAGESIZE));
    return 0;
}

static int
guard_teardown(void **state)
{
    (void)state;
    guard_free(&guard);
    return 0;
}

static void
check_target(const struct target_case *c)
{
    struct target_path tp;
    size_t len = c->len != 0 ? c->len : strlen(c->target);
    const char *t = guard_copy(&guard, c->target, len);
    int rv;

    rv = path_from_target(t, len, &tp);
    if (rv != c->rv)
        fail_msg("%s: rv %d, want %d", c->label, rv, c->rv);
    if (rv != 0)
        return;
    if (strcmp(tp.path, c->path) != 0)
        fail_msg("%s: path \"%s\", want \"%s\"", c->label, tp.path, c->path);
    if (tp.trailing_slash != c->trailing_slash)
        fail_msg("%s: trailing_slash %d", c->label, tp.trailing_slash);
    if (tp.has_dot_segment != c->has_dot_segment)
        fail_msg("%s: has_dot_segment %d", c->label, tp.has_dot_segment);
    if ((tp.query == NULL) != (c->query == NULL))
        fail_msg("%s: query %s", c->label, tp.query ? "set" : "NULL");
    if (c->query != NULL && (tp.query_len != strlen(c->query) ||
                             memcmp(tp.query, c->query, tp.query_len) != 0))
        fail_msg("%s: query \"%.*s\", want \"%s\"", c->label,
                 (int)tp.query_len, tp.query, c->query);
    if (c->query != NULL && (tp.query < t || tp.query > t + len))
        fail_msg("%s: query does not point into the target", c->label);
}

static void
test_targets(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof target_cases / sizeof target_cases[0]; i++)
        check_target(&target_cases[i]);
}

/* Build "/" + the pieces, each REPEAT times, into a malloc'd string. */
static char *
repeat(const char *unit, size_t times, const char *tail)
{
    size_t ulen = strlen(unit), tlen = strlen(tail), i;
    char *s = malloc(1 + ulen * times + tlen + 1);

    assert_non_null(s);
    s[0] = '/';
    for (i = 0; i < times; i++)
        memcpy(s + 1 + i * ulen, unit, ulen);
    memcpy(s + 1 + times * ulen, tail, tlen + 1);
    return s;
}

struct long_case {
    const char *unit;
    size_t times;
    const char *tail;
    int rv;
    size_t path_len;
    const char *label;
};

static const struct long_case long_cases[] = {
    {"a", PATH_MAX_BYTES - 1, "", 0, PATH_MAX_BYTES - 1, "longest path"},
    {"a", PATH_MAX_BYTES, "", -414, 0, "one byte too long"},
    {"a", PATH_MAX_BYTES + 100, "", -414, 0, "far too long"},
    {"%41", PATH_MAX_BYTES - 1, "", 0, PATH_MAX_BYTES - 1,
     "longest path, all encoded"},
    {"%41", PATH_MAX_BYTES, "", -414, 0, "encoded, one byte too long"},
    {"a", PATH_MAX_BYTES - 2, "/.", 0, PATH_MAX_BYTES - 2,
     "dot segment at the limit"},
    {"a", PATH_MAX_BYTES - 1, "/./", 0, PATH_MAX_BYTES - 1,
     "dot segment past the limit"},
    {"a", PATH_MAX_BYTES - 1, "/b", -414, 0, "segment past the limit"},
    {"a", PATH_MAX_BYTES - 3, "/b", 0, PATH_MAX_BYTES - 1,
     "segment up to the limit"},
    {"/", 10000, "a", 0, 1, "many slashes"},
    {"./", 5000, "a", 0, 1, "many dot segments"},
    {"ab/", 1000, "", 0, 2999, "many segments"},
    {"ab/", 1365, "", 0, 4094, "many segments, near the limit"},
    {"ab/", 1366, "", -414, 0, "many segments, too long"},
};

static void
test_long_targets(void **state)
{
    const struct long_case *c;
    struct target_path tp;
    size_t i;
    char *s;
    int rv;

    (void)state;
    for (i = 0; i < sizeof long_cases / sizeof long_cases[0]; i++) {
        c = &long_cases[i];
        s = repeat(c->unit, c->times, c->tail);
        rv = path_from_target(guard_copy(&guard, s, strlen(s)), strlen(s),
                              &tp);
        if (rv != c->rv)
            fail_msg("%s: rv %d, want %d", c->label, rv, c->rv);
        if (rv == 0 && strlen(tp.path) != c->path_len)
            fail_msg("%s: length %zu, want %zu", c->label, strlen(tp.path),
                     c->path_len);
        free(s);
    }
}

struct encode_case {
    const char *name;
    const char *encoded;
    bool serveable;         /* decodes back (no control bytes) */
    const char *label;
};

static const struct encode_case encode_cases[] = {
    {"plain-name_1.txt~", "plain-name_1.txt~", true, "unreserved kept"},
    {"a b", "a%20b", true, "space"},
    {"#1", "%231", true, "hash"},
    {"100%", "100%25", true, "percent"},
    {"why?", "why%3F", true, "question mark"},
    {"\"q\" 'q'", "%22q%22%20%27q%27", true, "quotes"},
    {"caf\xc3\xa9", "caf%C3%A9", true, "UTF-8"},
    {"\xf0\x9f\x99\x82", "%F0%9F%99%82", true, "four-byte UTF-8"},
    {"a\\b", "a%5Cb", true, "backslash"},
    {"<x>&;=+", "%3Cx%3E%26%3B%3D%2B", true, "markup and delimiters"},
    {".env", ".env", true, "dotfile"},
    {"...", "...", true, "three dots"},
    {"a\nb", "a%0Ab", false, "newline"},
    {"\x01\x1f\x7f", "%01%1F%7F", false, "control bytes"},
};

static void
test_encode_segment(void **state)
{
    const struct encode_case *c;
    struct target_path tp;
    char out[256], target[300];
    size_t i;
    int rv;

    (void)state;
    for (i = 0; i < sizeof encode_cases / sizeof encode_cases[0]; i++) {
        c = &encode_cases[i];
        rv = path_encode_segment(c->name, out, sizeof out);
        if (rv != (int)strlen(c->encoded) || strcmp(out, c->encoded) != 0)
            fail_msg("%s: encoded \"%s\" (%d), want \"%s\"", c->label, out,
                     rv, c->encoded);

        /* Round trip: what a listing links to must decode to the name. */
        snprintf(target, sizeof target, "/%s", out);
        rv = path_from_target(target, strlen(target), &tp);
        if (rv != (c->serveable ? 0 : -400))
            fail_msg("%s: round trip rv %d", c->label, rv);
        if (rv == 0 && strcmp(tp.path, c->name) != 0)
            fail_msg("%s: round trip gave \"%s\"", c->label, tp.path);
    }
}

static void
test_encode_all_bytes(void **state)
{
    struct target_path tp;
    char name[2], out[8], target[16];
    int c, rv;

    (void)state;
    for (c = 1; c < 256; c++) {
        name[0] = (char)c;
        name[1] = '\0';
        assert_in_range(path_encode_segment(name, out, sizeof out), 1, 3);
        snprintf(target, sizeof target, "/%s", out);
        rv = path_from_target(target, strlen(target), &tp);
        if (c < 0x20 || c == 0x7f || c == '/') {
            assert_int_equal(rv, -400);
        } else if (c == '.') {
            assert_int_equal(rv, 0);
            assert_string_equal(tp.path, ".");
        } else {
            assert_int_equal(rv, 0);
            assert_memory_equal(tp.path, name, 2);
        }
    }
}

struct cap_case {
    const char *input;
    bool whole_path;        /* path_encode instead of the segment one */
    size_t cap;
    int rv;
    const char *out;
    const char *label;
};

static const struct cap_case cap_cases[] = {
    {".", true, 64, 1, "/", "root"},
    {"a/b c", true, 64, 8, "/a/b%20c", "two segments"},
    {"a/.env/x y", true, 64, 13, "/a/.env/x%20y", "dot segment kept"},
    {"d\xc3\xa9j\xc3\xa0/#?", true, 64, 22, "/d%C3%A9j%C3%A0/%23%3F",
     "UTF-8 and delimiters"},
    {"a/b", true, 5, 4, "/a/b", "exact fit"},
    {"a/b", true, 4, -1, NULL, "one short"},
    {"ab/c", true, 3, -1, NULL, "first segment does not fit"},
    {"a", true, 1, -1, NULL, "no room for the slash"},
    {".", true, 2, 1, "/", "root, exact fit"},
    {"abc", false, 4, 3, "abc", "segment, exact fit"},
    {"abc", false, 3, -1, NULL, "segment, one short"},
    {"a b", false, 6, 5, "a%20b", "escape, exact fit"},
    {"a b", false, 5, -1, NULL, "escape, one short"},
    {"a b", false, 3, -1, NULL, "escape cut in the middle"},
    {"", false, 1, 0, "", "empty name"},
    {"", false, 0, -1, NULL, "no room at all"},
};

static void
test_encode_capacity(void **state)
{
    const struct cap_case *c;
    char buf[80];
    size_t i;
    int rv;

    (void)state;
    for (i = 0; i < sizeof cap_cases / sizeof cap_cases[0]; i++) {
        c = &cap_cases[i];
        memset(buf, 'Z', sizeof buf);
        if (c->whole_path)
            rv = path_encode(c->input, buf, c->cap);
        else
            rv = path_encode_segment(c->input, buf, c->cap);
        if (rv != c->rv)
            fail_msg("%s: rv %d, want %d", c->label, rv, c->rv);
        if (buf[c->cap] != 'Z')
            fail_msg("%s: wrote past the capacity", c->label);
        if (c->out != NULL && strcmp(buf, c->out) != 0)
            fail_msg("%s: \"%s\", want \"%s\"", c->label, buf, c->out);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_targets),
        cmocka_unit_test(test_long_targets),
        cmocka_unit_test(test_encode_segment),
        cmocka_unit_test(test_encode_all_bytes),
        cmocka_unit_test(test_encode_capacity),
    };

    return cmocka_run_group_tests(tests, guard_setup, guard_teardown);
}
