/*
 * test_head.c: unit tests for head.c (cmocka): HTTP dates and the
 * response-head writer.
 *
 * Dates are tables of input and expected time, in all three forms a
 * recipient must accept.  The head writer is run at every capacity into a
 * buffer that ends where a page does, followed by an unmapped page, so a
 * write one byte past the capacity crashes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "head.h"

#include "guard.h"

static const struct {
    const char *in;
    time_t want;                    /* -1: invalid */
} date_cases[] = {
    { "Sun, 06 Nov 1994 08:49:37 GMT", 784111777 },
    { "Sunday, 06-Nov-94 08:49:37 GMT", 784111777 },
    { "Sun Nov  6 08:49:37 1994", 784111777 },
    { "Sun Nov 06 08:49:37 1994", 784111777 },
    { "Thu, 01 Jan 1970 00:00:00 GMT", 0 },
    { "Tue, 29 Feb 2000 00:00:00 GMT", 951782400 },
    { "Thu, 31 Dec 2037 23:59:59 GMT", 2145916799 },
    { "Fri, 01 Jan 2100 00:00:00 GMT", 4102444800 },
    { "Sat, 31 Dec 2016 23:59:60 GMT", 1483228800 },
    { "Mon, 06 Nov 1994 08:49:37 GMT", 784111777 },     /* day not checked */
    { "Wednesday, 01-Jan-25 00:00:00 GMT", 1735689600 },
    { "sun, 06 Nov 1994 08:49:37 GMT", -1 },
    { "Sun, 06 nov 1994 08:49:37 GMT", -1 },
    { "Sun, 06 Nov 1994 08:49:37 gmt", -1 },
    { "Sun, 06 Nov 1994 08:49:37 UTC", -1 },
    { "Sun, 06 Nov 1994 08:49:37", -1 },
    { "Sun, 06 Nov 1994 08:49:37 GMT ", -1 },
    { " Sun, 06 Nov 1994 08:49:37 GMT", -1 },
    { "Sun, 6 Nov 1994 08:49:37 GMT", -1 },
    { "Sun, 06 Nov 94 08:49:37 GMT", -1 },
    { "Sun,06 Nov 1994 08:49:37 GMT", -1 },
    { "Sun, 06 Nov 1994 24:00:00 GMT", -1 },
    { "Sun, 06 Nov 1994 08:60:00 GMT", -1 },
    { "Sun, 06 Nov 1994 08:49:61 GMT", -1 },
    { "Sun, 00 Nov 1994 08:49:37 GMT", -1 },
    { "Sun, 31 Nov 1994 08:49:37 GMT", -1 },
    { "Sun, 29 Feb 1900 08:49:37 GMT", -1 },
    { "Sun, 30 Feb 2000 08:49:37 GMT", -1 },
    { "Sun, 06 Foo 1994 08:49:37 GMT", -1 },
    { "Sun, +6 Nov 1994 08:49:37 GMT", -1 },
    { "Sun, 06 Nov 1994 8:49:37 GMT", -1 },
    { "Sun, 06-Nov-94 08:49:37 GMT", -1 },
    { "Sunday, 06-Nov-1994 08:49:37 GMT", -1 },
    { "Sunday, 06 Nov 1994 08:49:37 GMT", -1 },
    { "Sund, 06-Nov-94 08:49:37 GMT", -1 },
    { "Sun Nov  06 08:49:37 1994", -1 },
    { "Sun Nov 6 08:49:37 1994", -1 },
    { "Sun Nov  6 08:49:37 94", -1 },
    { "Sun Nov  6 08:49:37 1994 GMT", -1 },
    { "Sun Nov  6 08:49:37 1994\n", -1 },
    { "", -1 },
    { "Sun", -1 },
    { "Sun, 06 Nov 1994 08:49:37 GMT\0", -1 },
};

static void
test_date_parse(void **state)
{
    size_t i, len;
    time_t t;
    int rv;

    (void)state;
    for (i = 0; i < sizeof date_cases / sizeof date_cases[0]; i++) {
        len = strlen(date_cases[i].in);
        if (i == sizeof date_cases / sizeof date_cases[0] - 1)
            len++;                  /* the NUL is part of the input */
        t = 12345;
        rv = http_date_parse(date_cases[i].in, len, &t);
        if (date_cases[i].want == -1 && rv != -1)
            fail_msg("date \"%s\": accepted as %lld", date_cases[i].in,
                     (long long)t);
        if (date_cases[i].want != -1 &&
            (rv != 0 || t != date_cases[i].want))
            fail_msg("date \"%s\": rv %d, t %lld, want %lld",
                     date_cases[i].in, rv, (long long)t,
                     (long long)date_cases[i].want);
    }
}

/* RFC 850 years: more than 50 years ahead means the century before. */
static void
test_date_two_digit_year(void **state)
{
    time_t now = time(NULL), t;
    struct tm tm;
    char s[64];
    int year, yy, want;

    (void)state;
    gmtime_r(&now, &tm);
    year = tm.tm_year + 1900;
    for (yy = 0; yy < 100; yy++) {
        snprintf(s, sizeof s, "Monday, 01-Jan-%02d 00:00:00 GMT", yy);
        assert_int_equal(http_date_parse(s, strlen(s), &t), 0);
        gmtime_r(&t, &tm);
        want = year - year % 100 + yy;
        if (want > year + 50)
            want -= 100;
        assert_int_equal(tm.tm_year + 1900, want);
        assert_true(want <= year + 50 && want > year - 50);
    }
}

static void
test_date_format(void **state)
{
    static const struct {
        time_t t;
        const char *want;
    } cases[] = {
        { 784111777, "Sun, 06 Nov 1994 08:49:37 GMT" },
        { 0, "Thu, 01 Jan 1970 00:00:00 GMT" },
        { 951782400, "Tue, 29 Feb 2000 00:00:00 GMT" },
        { 4102444799, "Thu, 31 Dec 2099 23:59:59 GMT" },
        { -1, "Wed, 31 Dec 1969 23:59:59 GMT" },
        { 253402300800, "Thu, 01 Jan 1970 00:00:00 GMT" }, /* year 10000 */
    };
    char out[HTTP_DATE_LEN + 1];
    time_t back;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memset(out, 'x', sizeof out);
        http_date_format(cases[i].t, out);
        assert_string_equal(out, cases[i].want);
        assert_int_equal(strlen(out), HTTP_DATE_LEN);
        assert_int_equal(http_date_parse(out, HTTP_DATE_LEN, &back), 0);
    }
}

static void
test_reason(void **state)
{
    static const int known[] = {
        100, 200, 201, 204, 206, 301, 304, 400, 401, 403, 404, 405, 408,
        409, 411, 412, 413, 414, 416, 417, 429, 431, 500, 501, 503, 505, 507,
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof known / sizeof known[0]; i++)
        assert_string_not_equal(http_reason(known[i]), "Unknown");
    assert_string_equal(http_reason(404), "Not Found");
    assert_string_equal(http_reason(417), "Expectation Failed");
    assert_string_equal(http_reason(431), "Request Header Fields Too Large");
    assert_string_equal(http_reason(999), "Unknown");
    assert_string_equal(http_reason(0), "Unknown");
    assert_string_equal(http_reason(-400), "Unknown");
}

#define HEAD_200 "HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n" \
                 "Server: ferry\r\nContent-Length: 5\r\nETag: \"x\"\r\n\r\n"

/* The same head through printf-like fields or through the plain ones. */
static int
write_head(char *buf, size_t cap, bool formatted)
{
    struct http_head h;

    http_head_begin(&h, buf, cap, 200, 784111777);
    if (formatted) {
        http_head_add(&h, "Content-Length", "%d", 5);
        http_head_add(&h, "ETag", "\"%s\"", "x");
    } else {
        http_head_put_u64(&h, "Content-Length", 5);
        http_head_put(&h, "ETag", "\"x\"");
    }
    return http_head_end(&h);
}

/* Each capacity, at the end of a page: a write past CAP would fault. */
static void
test_head_builder(void **state)
{
    size_t full = sizeof HEAD_200 - 1, cap;
    struct guard g;
    char *buf;
    int rv;

    (void)state;
    guard_init(&g, full + 8);
    for (cap = 0; cap <= 2 * (full + 8) + 1; cap++) {
        bool formatted = cap > full + 8;
        size_t room = formatted ? cap - (full + 9) : cap;

        buf = guard_tail(&g, room);
        rv = write_head(room > 0 ? buf : NULL, room, formatted);
        /* the head is kept NUL-terminated: it needs one byte more */
        if (room <= full) {
            assert_int_equal(rv, -1);
        } else {
            assert_int_equal(rv, (int)full);
            assert_memory_equal(buf, HEAD_200, full + 1);
        }
    }
    guard_free(&g);
}

static void
test_head_refuses_splitting(void **state)
{
    struct http_head h;
    char buf[512];
    int rv;

    (void)state;
    http_head_begin(&h, buf, sizeof buf, 301, 0);
    http_head_add(&h, "Location", "%s", "/a\r\nSet-Cookie: x=1");
    assert_int_equal(http_head_end(&h), -1);

    http_head_begin(&h, buf, sizeof buf, 200, 0);
    http_head_add(&h, "X", "a%cb", 0);
    assert_int_equal(http_head_end(&h), -1);

    http_head_begin(&h, buf, sizeof buf, 200, 0);
    http_head_add(&h, "Bad Name", "v");
    assert_int_equal(http_head_end(&h), -1);

    http_head_begin(&h, buf, sizeof buf, 301, 0);
    http_head_put(&h, "Location", "/a\r\nSet-Cookie: x=1");
    assert_int_equal(http_head_end(&h), -1);

    http_head_begin(&h, buf, sizeof buf, 200, 0);
    http_head_put_u64(&h, "Bad:Name", 1);
    assert_int_equal(http_head_end(&h), -1);

    http_head_begin(&h, buf, sizeof buf, 99, 0);    /* not a status */
    assert_int_equal(http_head_end(&h), -1);

    http_head_begin(&h, buf, sizeof buf, 200, 0);
    http_head_put_u64(&h, "Content-Length", UINT64_MAX);
    http_head_put_u64(&h, "X-Zero", 0);
    assert_int_not_equal(http_head_end(&h), -1);
    assert_non_null(strstr(buf, "\r\nContent-Length: 18446744073709551615"
                                "\r\nX-Zero: 0\r\n\r\n"));

    http_head_begin(&h, buf, sizeof buf, 417, 0);
    http_head_add(&h, "Content-Length", "0");
    rv = http_head_end(&h);
    assert_int_equal(rv, (int)strlen(buf));
    assert_memory_equal(buf, "HTTP/1.1 417 Expectation Failed\r\n", 33);
}

int
main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_date_parse),
        cmocka_unit_test(test_date_two_digit_year),
        cmocka_unit_test(test_date_format),
        cmocka_unit_test(test_reason),
        cmocka_unit_test(test_head_builder),
        cmocka_unit_test(test_head_refuses_splitting),
    };

    return cmocka_run_group_tests_name("dates and heads", tests, NULL, NULL)
           != 0;
}
