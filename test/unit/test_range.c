/*
 * test_range.c: unit tests for range.c (Range planning) and cond.c
 * (ETags and conditional requests).
 *
 * Cases are tables: input, expected result, label.  Every input is copied
 * to the end of a page followed by an inaccessible page, so reading one
 * byte past a field crashes the test instead of passing by luck.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cond.h"
#include "http.h"
#include "range.h"

#include "guard.h"

#define GUARD_SLOTS 5           /* one per field a case can set */
#define SLOT_BYTES  HTTP_MAX_HEAD_BYTES /* no field can be longer */
#define GIB ((uint64_t)1 << 30)
#define U64_MAX_STR "18446744073709551615"
#define OVERFLOW_STR "18446744073709551616"
#define TWENTY_NINES "99999999999999999999"

/* Test inputs, one guarded slot per field: see the top of the file. */
struct guards {
    struct guard slot[GUARD_SLOTS];
};

static int
guards_setup(void **state)
{
    static struct guards g;     /* lives for the whole group */
    int i;

    for (i = 0; i < GUARD_SLOTS; i++)
        guard_init(&g.slot[i], SLOT_BYTES);
    *state = &g;
    return 0;
}

static int
guards_teardown(void **state)
{
    struct guards *g = *state;
    int i;

    for (i = 0; i < GUARD_SLOTS; i++)
        guard_free(&g->slot[i]);
    return 0;
}

/* Copy LEN bytes of S so that they end at the guard page of SLOT. */
static const char *
place(const struct guards *g, int slot, const char *s, size_t len)
{
    assert_true(len <= SLOT_BYTES);
    return guard_copy(&g->slot[slot], s, len);
}

/* A slice of S (NULL or "" for an absent field) placed in SLOT. */
static struct http_slice
field(const struct guards *g, int slot, const char *s)
{
    struct http_slice v = { NULL, 0 };

    if (s != NULL && *s != '\0') {
        v.len = strlen(s);
        v.ptr = place(g, slot, s, v.len);
    }
    return v;
}

/* ------------------------------------------------------------------ */
/* range_plan */

struct range_case {
    const char *field;
    uint64_t size;
    enum range_outcome want;
    size_t n;
    struct byte_range r[4];
    const char *label;
};

static const char *
outcome_name(enum range_outcome o)
{
    switch (o) {
    case RANGE_IGNORE:
        return "IGNORE";
    case RANGE_PARTIAL:
        return "PARTIAL";
    case RANGE_UNSATISFIABLE:
        return "UNSATISFIABLE";
    }
    return "?";
}

/* Plan FIELD (LEN bytes) and compare with the expected N ranges in WANT_R. */
static void
check_plan(const struct guards *g, const char *s, size_t len, uint64_t size,
           enum range_outcome want, size_t n, const struct byte_range *want_r,
           const char *label)
{
    struct byte_range out[RANGE_MAX_PARTS];
    size_t count = 999, i;
    enum range_outcome got;

    got = range_plan(place(g, 0, s, len), len, size, out, &count);
    if (got != want)
        fail_msg("%s: got %s, want %s", label, outcome_name(got),
                 outcome_name(want));
    if (got != RANGE_PARTIAL)
        return;
    if (count != n)
        fail_msg("%s: got %zu ranges, want %zu", label, count, n);
    for (i = 0; i < n; i++) {
        if (out[i].first != want_r[i].first || out[i].last != want_r[i].last)
            fail_msg("%s: range %zu is %" PRIu64 "-%" PRIu64 ", want %"
                     PRIu64 "-%" PRIu64, label, i, out[i].first,
                     out[i].last, want_r[i].first, want_r[i].last);
    }
}

static const struct range_case range_cases[] = {
    /* Single ranges on a 10000-byte file. */
    { "bytes=0-0", 10000, RANGE_PARTIAL, 1, {{0, 0}}, "first byte" },
    { "bytes=9999-9999", 10000, RANGE_PARTIAL, 1, {{9999, 9999}},
      "last byte" },
    { "bytes=0-499", 10000, RANGE_PARTIAL, 1, {{0, 499}}, "first 500" },
    { "bytes=500-999", 10000, RANGE_PARTIAL, 1, {{500, 999}}, "second 500" },
    { "bytes=-1", 10000, RANGE_PARTIAL, 1, {{9999, 9999}}, "suffix -1" },
    { "bytes=-500", 10000, RANGE_PARTIAL, 1, {{9500, 9999}}, "suffix -500" },
    { "bytes=-10000", 10000, RANGE_PARTIAL, 1, {{0, 9999}},
      "suffix of exactly size" },
    { "bytes=-20000", 10000, RANGE_PARTIAL, 1, {{0, 9999}},
      "suffix past size: whole" },
    { "bytes=-0", 10000, RANGE_UNSATISFIABLE, 0, {{0, 0}}, "suffix -0" },
    { "bytes=9500-", 10000, RANGE_PARTIAL, 1, {{9500, 9999}}, "open range" },
    { "bytes=0-", 10000, RANGE_PARTIAL, 1, {{0, 9999}}, "open from 0" },
    { "bytes=9999-", 10000, RANGE_PARTIAL, 1, {{9999, 9999}},
      "open at last byte" },
    { "bytes=10000-", 10000, RANGE_UNSATISFIABLE, 0, {{0, 0}},
      "open at EOF" },
    { "bytes=10000-10005", 10000, RANGE_UNSATISFIABLE, 0, {{0, 0}},
      "starts at EOF" },
    { "bytes=20000-30000", 10000, RANGE_UNSATISFIABLE, 0, {{0, 0}},
      "past EOF" },
    { "bytes=9990-20000", 10000, RANGE_PARTIAL, 1, {{9990, 9999}},
      "last clamped" },
    { "bytes=000-0001", 10000, RANGE_PARTIAL, 1, {{0, 1}}, "leading zeros" },
    { "bytes=5-5", 10000, RANGE_PARTIAL, 1, {{5, 5}}, "one byte" },
    { "bytes=5-4", 10000, RANGE_IGNORE, 0, {{0, 0}}, "last < first" },
    { "bytes=0-1,5-4", 10000, RANGE_IGNORE, 0, {{0, 0}},
      "one last < first spoils all" },

    /* 20-digit numbers: UINT64_MAX is valid, one more overflows. */
    { "bytes=" TWENTY_NINES "-", 10000, RANGE_IGNORE, 0, {{0, 0}},
      "20-digit first overflows" },
    { "bytes=0-" TWENTY_NINES, 10000, RANGE_IGNORE, 0, {{0, 0}},
      "20-digit last overflows" },
    { "bytes=-" TWENTY_NINES, 10000, RANGE_IGNORE, 0, {{0, 0}},
      "20-digit suffix overflows" },
    { "bytes=0-" OVERFLOW_STR, 10000, RANGE_IGNORE, 0, {{0, 0}},
      "UINT64_MAX + 1" },
    { "bytes=0-" U64_MAX_STR, 10000, RANGE_PARTIAL, 1, {{0, 9999}},
      "last UINT64_MAX clamps" },
    { "bytes=-" U64_MAX_STR, 10000, RANGE_PARTIAL, 1, {{0, 9999}},
      "suffix UINT64_MAX: whole" },
    { "bytes=" U64_MAX_STR "-", 10000, RANGE_UNSATISFIABLE, 0, {{0, 0}},
      "first UINT64_MAX" },
    { "bytes=" U64_MAX_STR "-" U64_MAX_STR, 10000, RANGE_UNSATISFIABLE, 0,
      {{0, 0}}, "UINT64_MAX-UINT64_MAX" },
    { "bytes=00000000000000000000000001-2", 10000, RANGE_PARTIAL, 1,
      {{1, 2}}, "long run of leading zeros" },

    /* Several ranges: sorted, merged when overlapping or adjacent. */
    { "bytes=0-1,5-6", 10000, RANGE_PARTIAL, 2, {{0, 1}, {5, 6}},
      "two apart" },
    { "bytes=5-6,0-1", 10000, RANGE_PARTIAL, 2, {{0, 1}, {5, 6}},
      "two apart, reversed" },
    { "bytes=0-1,2-3", 10000, RANGE_PARTIAL, 1, {{0, 3}}, "adjacent merge" },
    { "bytes=2-3,0-1", 10000, RANGE_PARTIAL, 1, {{0, 3}},
      "adjacent merge, reversed" },
    { "bytes=0-5,3-9", 10000, RANGE_PARTIAL, 1, {{0, 9}}, "overlap" },
    { "bytes=0-9,3-4", 10000, RANGE_PARTIAL, 1, {{0, 9}}, "contained" },
    { "bytes=0-0,0-0,0-0", 10000, RANGE_PARTIAL, 1, {{0, 0}},
      "duplicates" },
    { "bytes=0-1,3-4,2-2", 10000, RANGE_PARTIAL, 1, {{0, 4}},
      "gap filled later" },
    { "bytes=9000-,-500", 10000, RANGE_PARTIAL, 1, {{9000, 9999}},
      "open and suffix overlap" },
    { "bytes=0-0,-1", 10000, RANGE_PARTIAL, 2, {{0, 0}, {9999, 9999}},
      "first and last byte" },
    { "bytes=50-60,0-10,20-30,40-45", 10000, RANGE_PARTIAL, 4,
      {{0, 10}, {20, 30}, {40, 45}, {50, 60}}, "four, shuffled" },
    { "bytes=20000-,0-1", 10000, RANGE_PARTIAL, 1, {{0, 1}},
      "unsatisfiable one dropped" },
    { "bytes=-0,5-5", 10000, RANGE_PARTIAL, 1, {{5, 5}},
      "-0 dropped, other kept" },
    { "bytes=20000-,30000-", 10000, RANGE_UNSATISFIABLE, 0, {{0, 0}},
      "none satisfiable" },
    { "bytes=0-4,5-", 10000, RANGE_PARTIAL, 1, {{0, 9999}},
      "merged into whole" },

    /* Unit, list syntax and whitespace. */
    { "Bytes=0-0", 10000, RANGE_PARTIAL, 1, {{0, 0}}, "unit capitalised" },
    { "BYTES=0-0", 10000, RANGE_PARTIAL, 1, {{0, 0}}, "unit upper case" },
    { "bytes=0-1, 5-6", 10000, RANGE_PARTIAL, 2, {{0, 1}, {5, 6}},
      "SP after comma" },
    { "bytes=0-1 ,5-6", 10000, RANGE_PARTIAL, 2, {{0, 1}, {5, 6}},
      "SP before comma" },
    { "bytes=0-1\t,\t5-6", 10000, RANGE_PARTIAL, 2, {{0, 1}, {5, 6}},
      "HTAB around comma" },
    { "bytes= 0-1", 10000, RANGE_PARTIAL, 1, {{0, 1}}, "OWS before first" },
    { "bytes=0-1 ", 10000, RANGE_PARTIAL, 1, {{0, 1}}, "OWS after last" },
    { "bytes=0-1,,5-6", 10000, RANGE_PARTIAL, 2, {{0, 1}, {5, 6}},
      "empty element" },
    { "bytes=,0-1", 10000, RANGE_PARTIAL, 1, {{0, 1}},
      "leading empty element" },
    { "bytes=0-1,", 10000, RANGE_PARTIAL, 1, {{0, 1}},
      "trailing empty element" },
    { "bytes=0-1, ,\t,5-6", 10000, RANGE_PARTIAL, 2, {{0, 1}, {5, 6}},
      "blank elements" },
    { "bytes=", 10000, RANGE_IGNORE, 0, {{0, 0}}, "no range-spec" },
    { "bytes=,", 10000, RANGE_IGNORE, 0, {{0, 0}}, "only a comma" },
    { "bytes= , ", 10000, RANGE_IGNORE, 0, {{0, 0}}, "only blanks" },
    { "bytes", 10000, RANGE_IGNORE, 0, {{0, 0}}, "no '='" },
    { "bytes 0-1", 10000, RANGE_IGNORE, 0, {{0, 0}}, "SP for '='" },
    { "bytes =0-1", 10000, RANGE_IGNORE, 0, {{0, 0}}, "SP before '='" },
    { "=0-1", 10000, RANGE_IGNORE, 0, {{0, 0}}, "no unit" },
    { "items=0-1", 10000, RANGE_IGNORE, 0, {{0, 0}}, "other unit" },
    { "byte=0-1", 10000, RANGE_IGNORE, 0, {{0, 0}}, "unit too short" },
    { "bytess=0-1", 10000, RANGE_IGNORE, 0, {{0, 0}}, "unit too long" },
    { "bytes=bytes=0-1", 10000, RANGE_IGNORE, 0, {{0, 0}}, "unit twice" },
    { "bytes=0 -1", 10000, RANGE_IGNORE, 0, {{0, 0}}, "SP inside spec" },
    { "bytes=0- 1", 10000, RANGE_IGNORE, 0, {{0, 0}}, "SP after dash" },
    { "bytes=- 1", 10000, RANGE_IGNORE, 0, {{0, 0}}, "SP in suffix" },
    { "bytes=-", 10000, RANGE_IGNORE, 0, {{0, 0}}, "lone dash" },
    { "bytes=--1", 10000, RANGE_IGNORE, 0, {{0, 0}}, "double dash" },
    { "bytes=0--1", 10000, RANGE_IGNORE, 0, {{0, 0}}, "negative last" },
    { "bytes=1", 10000, RANGE_IGNORE, 0, {{0, 0}}, "no dash" },
    { "bytes=1-2-3", 10000, RANGE_IGNORE, 0, {{0, 0}}, "two dashes" },
    { "bytes=+1-2", 10000, RANGE_IGNORE, 0, {{0, 0}}, "plus sign" },
    { "bytes=0x1-2", 10000, RANGE_IGNORE, 0, {{0, 0}}, "hex" },
    { "bytes=1.5-2", 10000, RANGE_IGNORE, 0, {{0, 0}}, "decimal point" },
    { "bytes=0-1;5-6", 10000, RANGE_IGNORE, 0, {{0, 0}}, "semicolon" },
    { "bytes=0-1,x", 10000, RANGE_IGNORE, 0, {{0, 0}},
      "junk after a good spec" },
    { "bytes=0-1,5-6,", 10000, RANGE_PARTIAL, 2, {{0, 1}, {5, 6}},
      "two then trailing comma" },
    { "bytes=\xff-1", 10000, RANGE_IGNORE, 0, {{0, 0}}, "non-ASCII" },

    /* Zero-length representation. */
    { "bytes=0-", 0, RANGE_UNSATISFIABLE, 0, {{0, 0}}, "size 0, open" },
    { "bytes=0-0", 0, RANGE_UNSATISFIABLE, 0, {{0, 0}}, "size 0, 0-0" },
    { "bytes=-0", 0, RANGE_UNSATISFIABLE, 0, {{0, 0}}, "size 0, -0" },
    { "bytes=-1", 0, RANGE_IGNORE, 0, {{0, 0}},
      "size 0, suffix: whole empty body" },
    { "bytes=5-,-1", 0, RANGE_IGNORE, 0, {{0, 0}},
      "size 0, suffix among others" },
    { "bytes=5-4", 0, RANGE_IGNORE, 0, {{0, 0}}, "size 0, invalid" },

    /* Tiny sizes. */
    { "bytes=0-0", 1, RANGE_PARTIAL, 1, {{0, 0}}, "size 1, 0-0" },
    { "bytes=-5", 1, RANGE_PARTIAL, 1, {{0, 0}}, "size 1, -5" },
    { "bytes=1-", 1, RANGE_UNSATISFIABLE, 0, {{0, 0}}, "size 1, 1-" },

    /* Sizes past 4 GiB: 5 GiB = 5368709120 bytes. */
    { "bytes=4294967296-4294967300", 5 * GIB, RANGE_PARTIAL, 1,
      {{4294967296, 4294967300}}, "5 GiB, at 4 GiB" },
    { "bytes=4294967295-4294967296", 5 * GIB, RANGE_PARTIAL, 1,
      {{4294967295, 4294967296}}, "5 GiB, across 4 GiB" },
    { "bytes=-1", 5 * GIB, RANGE_PARTIAL, 1, {{5368709119, 5368709119}},
      "5 GiB, last byte" },
    { "bytes=-1073741824", 5 * GIB, RANGE_PARTIAL, 1,
      {{4294967296, 5368709119}}, "5 GiB, last GiB" },
    { "bytes=5000000000-", 5 * GIB, RANGE_PARTIAL, 1,
      {{5000000000, 5368709119}}, "5 GiB, open past 4 GiB" },
    { "bytes=5368709119-5368709119", 5 * GIB, RANGE_PARTIAL, 1,
      {{5368709119, 5368709119}}, "5 GiB, last byte explicit" },
    { "bytes=5368709120-", 5 * GIB, RANGE_UNSATISFIABLE, 0, {{0, 0}},
      "5 GiB, at EOF" },
    { "bytes=0-99999999999", 5 * GIB, RANGE_PARTIAL, 1,
      {{0, 5368709119}}, "5 GiB, clamped" },
    { "bytes=4294967296-,0-4294967295", 5 * GIB, RANGE_PARTIAL, 1,
      {{0, 5368709119}}, "5 GiB, halves merge at 4 GiB" },
    { "bytes=0-0,4294967296-4294967296", 5 * GIB, RANGE_PARTIAL, 2,
      {{0, 0}, {4294967296, 4294967296}}, "5 GiB, two far apart" },
    { "bytes=-1", UINT64_MAX, RANGE_PARTIAL, 1,
      {{UINT64_MAX - 1, UINT64_MAX - 1}}, "size UINT64_MAX, last byte" },
    { "bytes=0-", UINT64_MAX, RANGE_PARTIAL, 1, {{0, UINT64_MAX - 1}},
      "size UINT64_MAX, open" },
    { "bytes=0-" U64_MAX_STR ",5-", UINT64_MAX, RANGE_PARTIAL, 1,
      {{0, UINT64_MAX - 1}}, "size UINT64_MAX, merge at the top" },
};

static void
test_range_table(void **state)
{
    const struct guards *g = *state;
    size_t i;

    for (i = 0; i < sizeof range_cases / sizeof range_cases[0]; i++) {
        const struct range_case *c = &range_cases[i];

        check_plan(g, c->field, strlen(c->field), c->size, c->want, c->n,
                   c->r, c->label);
    }
}

/* Bytes a table of C strings cannot hold: NUL, and the empty field. */
static void
test_range_odd_bytes(void **state)
{
    const struct guards *g = *state;
    static const char nul_last[] = "bytes=0-1\0";
    static const char nul_mid[] = "bytes=0\0-1";
    static const char nul_unit[] = "bytes\0=0-1";

    check_plan(g, nul_last, sizeof nul_last - 1, 100, RANGE_IGNORE, 0, NULL,
               "NUL after spec");
    check_plan(g, nul_mid, sizeof nul_mid - 1, 100, RANGE_IGNORE, 0, NULL,
               "NUL inside spec");
    check_plan(g, nul_unit, sizeof nul_unit - 1, 100, RANGE_IGNORE, 0, NULL,
               "NUL inside unit");
    check_plan(g, "", 0, 100, RANGE_IGNORE, 0, NULL, "empty field");
}

/* Append "FIRST-LAST," (or "-LAST," when FIRST is UINT64_MAX) to BUF. */
static void
append_spec(char *buf, size_t cap, size_t *len, uint64_t first, uint64_t last)
{
    int n;

    if (first == UINT64_MAX)
        n = snprintf(buf + *len, cap - *len, "-%" PRIu64 ",", last);
    else
        n = snprintf(buf + *len, cap - *len, "%" PRIu64 "-%" PRIu64 ",",
                     first, last);
    assert_true(n > 0 && (size_t)n < cap - *len);
    *len += (size_t)n;
}

/* "bytes=" and COUNT one-byte ranges two apart, in order or reversed. */
static size_t
build_spaced(char *buf, size_t cap, size_t count, bool reversed)
{
    size_t len = 0, i, k;

    len = (size_t)snprintf(buf, cap, "bytes=");
    for (i = 0; i < count; i++) {
        k = reversed ? count - 1 - i : i;
        append_spec(buf, cap, &len, 2 * k, 2 * k);
    }
    return len;
}

static void
test_range_many_parts(void **state)
{
    const struct guards *g = *state;
    struct byte_range want[RANGE_MAX_PARTS];
    char buf[4096];
    size_t len, i;

    for (i = 0; i < RANGE_MAX_PARTS; i++) {
        want[i].first = 2 * i;
        want[i].last = 2 * i;
    }
    len = build_spaced(buf, sizeof buf, RANGE_MAX_PARTS, false);
    check_plan(g, buf, len, 1000, RANGE_PARTIAL, RANGE_MAX_PARTS, want,
               "32 separate parts");
    len = build_spaced(buf, sizeof buf, RANGE_MAX_PARTS, true);
    check_plan(g, buf, len, 1000, RANGE_PARTIAL, RANGE_MAX_PARTS, want,
               "32 separate parts, reversed");
    len = build_spaced(buf, sizeof buf, RANGE_MAX_PARTS + 1, false);
    check_plan(g, buf, len, 1000, RANGE_IGNORE, 0, NULL,
               "33 separate parts");
    len = build_spaced(buf, sizeof buf, RANGE_MAX_PARTS + 1, true);
    check_plan(g, buf, len, 1000, RANGE_IGNORE, 0, NULL,
               "33 separate parts, reversed");

    /* 33 parts of which one lies past EOF: 32 remain. */
    len = build_spaced(buf, sizeof buf, RANGE_MAX_PARTS + 1, false);
    check_plan(g, buf, len, 2 * RANGE_MAX_PARTS - 1, RANGE_PARTIAL,
               RANGE_MAX_PARTS, want, "33 parts, one past EOF");

    /* 40 parts that one more range swallows: one part, not too many. */
    len = build_spaced(buf, sizeof buf, 40, false);
    append_spec(buf, sizeof buf, &len, 0, 200);
    want[0].first = 0;
    want[0].last = 200;
    check_plan(g, buf, len, 1000, RANGE_PARTIAL, 1, want,
               "40 parts swallowed by one");
}

/*
 * Up to 1000 elements are read; one more ignores the field.  Empty
 * elements count too, so a run of commas cannot make the work unbounded.
 */
static void
test_range_element_cap(void **state)
{
    const struct guards *g = *state;
    static const struct byte_range zero = { 0, 0 };
    char buf[4096];
    size_t len, i;

    len = (size_t)snprintf(buf, sizeof buf, "bytes=");
    for (i = 0; i < 1000; i++)
        append_spec(buf, sizeof buf, &len, 0, 0);
    len--;                              /* drop the last comma */
    check_plan(g, buf, len, 10, RANGE_PARTIAL, 1, &zero, "1000 x 0-0");
    buf[len++] = ',';
    buf[len++] = '0';
    check_plan(g, buf, len, 10, RANGE_IGNORE, 0, NULL, "1001 elements");

    len = (size_t)snprintf(buf, sizeof buf, "bytes=0-0");
    memset(buf + len, ',', 999);
    len += 999;
    check_plan(g, buf, len, 10, RANGE_PARTIAL, 1, &zero,
               "0-0 and 999 commas");
    buf[len++] = ',';
    check_plan(g, buf, len, 10, RANGE_IGNORE, 0, NULL,
               "0-0 and 1000 commas");
}

/*
 * 990 one-byte ranges in a scrambled order: bytes 0..999 except every
 * hundredth, so sorting and merging must give ten ranges of 99 bytes.
 */
static void
test_range_scrambled(void **state)
{
    const struct guards *g = *state;
    struct byte_range want[10];
    char buf[8192];
    size_t len, i, pos;

    len = (size_t)snprintf(buf, sizeof buf, "bytes=");
    for (i = 0; i < 1000; i++) {
        pos = (i * 337) % 1000;         /* 337 is prime to 1000 */
        if (pos % 100 != 99)
            append_spec(buf, sizeof buf, &len, pos, pos);
    }
    for (i = 0; i < 10; i++) {
        want[i].first = 100 * i;
        want[i].last = 100 * i + 98;
    }
    check_plan(g, buf, len, 5000, RANGE_PARTIAL, 10, want,
               "990 scrambled bytes");
}

/* The planner against a bitmap: which bytes of a small file are asked. */
struct model {
    bool want[64];
    bool empty_whole;
};

/* A deterministic pseudo-random number below N (an LCG; tests only). */
static uint64_t
next_rand(uint64_t *seed, uint64_t n)
{
    *seed = *seed * 6364136223846793005u + 1442695040888963407u;
    return (*seed >> 33) % n;
}

/* Append one random spec, mark what it covers in M. */
static void
random_spec(char *buf, size_t cap, size_t *len, uint64_t size,
            uint64_t *seed, struct model *m)
{
    uint64_t first, last, i;

    first = next_rand(seed, 70);
    if (next_rand(seed, 4) == 0) {          /* suffix */
        last = next_rand(seed, 70);
        append_spec(buf, cap, len, UINT64_MAX, last);
        m->empty_whole |= size == 0 && last > 0;
        first = last >= size ? 0 : size - last;
        last = last == 0 ? 0 : size;
    } else {
        last = first + next_rand(seed, 10);
        append_spec(buf, cap, len, first, last);
        last = last + 1 < size ? last + 1 : size;
    }
    for (i = first; i < last; i++)
        m->want[i] = true;
}

/* Turn the bitmap of M into ranges; returns how many. */
static size_t
model_ranges(const struct model *m, uint64_t size, struct byte_range *r,
             size_t cap)
{
    size_t n = 0;
    uint64_t i;

    for (i = 0; i < size; i++) {
        if (!m->want[i] || (i > 0 && m->want[i - 1]))
            continue;
        if (n < cap)
            r[n].first = i;
        while (i + 1 < size && m->want[i + 1])
            i++;
        if (n < cap)
            r[n].last = i;
        n++;
    }
    return n;
}

static void
test_range_random(void **state)
{
    const struct guards *g = *state;
    struct byte_range want[RANGE_MAX_PARTS];
    struct model m;
    enum range_outcome outcome;
    uint64_t seed = 42, size;
    size_t len, n, specs, i, round;
    char buf[2048], label[64];

    for (round = 0; round < 5000; round++) {
        memset(&m, 0, sizeof m);
        size = next_rand(&seed, 65);
        specs = 1 + next_rand(&seed, 40);
        len = (size_t)snprintf(buf, sizeof buf, "bytes=");
        for (i = 0; i < specs; i++)
            random_spec(buf, sizeof buf, &len, size, &seed, &m);

        n = model_ranges(&m, size, want, RANGE_MAX_PARTS);
        if (n == 0)
            outcome = m.empty_whole ? RANGE_IGNORE : RANGE_UNSATISFIABLE;
        else
            outcome = n > RANGE_MAX_PARTS ? RANGE_IGNORE : RANGE_PARTIAL;
        snprintf(label, sizeof label, "random round %zu", round);
        check_plan(g, buf, len, size, outcome, n, want, label);
    }
}

/* ------------------------------------------------------------------ */
/* cond_etag */

static void
test_cond_etag(void **state)
{
    struct stat st;
    char a[COND_ETAG_MAX], b[COND_ETAG_MAX];

    (void)state;
    memset(&st, 0, sizeof st);
    st.st_ino = 0x1a;
    st.st_size = 0x2b;
    st.st_mtim.tv_sec = 0x3c;
    st.st_mtim.tv_nsec = 0x4d;
    cond_etag(&st, a);
    assert_string_equal(a, "\"1a-2b-3c.4d\"");

    st.st_mtim.tv_nsec++;
    cond_etag(&st, b);
    assert_string_not_equal(a, b);      /* a nanosecond makes a new tag */

    /* The longest tag still fits, whole, with its closing quote. */
    memset(a, 'x', sizeof a);
    st.st_ino = (ino_t)-1;
    st.st_size = INT64_MAX;
    st.st_mtim.tv_sec = -1;
    st.st_mtim.tv_nsec = 999999999;
    cond_etag(&st, a);
    assert_true(memchr(a, '\0', sizeof a) != NULL);
    assert_string_equal(a, "\"ffffffffffffffff-7fffffffffffffff-"
                        "ffffffffffffffff.3b9ac9ff\"");
}

/* ------------------------------------------------------------------ */
/* cond_evaluate */

#define ETAG     "\"1a-2b-3c.4d\""
#define MTIME    ((time_t)784111777)
#define D_EQ     "Sun, 06 Nov 1994 08:49:37 GMT"   /* MTIME */
#define D_OLD    "Sun, 06 Nov 1994 08:49:36 GMT"   /* MTIME - 1 */
#define D_NEW    "Sun, 06 Nov 1994 08:49:38 GMT"   /* MTIME + 1 */
#define D_850    "Sunday, 06-Nov-94 08:49:37 GMT"  /* MTIME, RFC 850 */
#define D_ASC    "Sun Nov  6 08:49:37 1994"        /* MTIME, asctime */

enum { GET = HTTP_METHOD_GET, HEAD = HTTP_METHOD_HEAD,
       PUT = HTTP_METHOD_PUT, DEL = HTTP_METHOD_DELETE,
       POST = HTTP_METHOD_POST };

struct cond_case {
    int method;
    bool exists;
    const char *if_match;
    const char *if_unmodified_since;
    const char *if_none_match;
    const char *if_modified_since;
    int want;
    const char *label;
};

static const struct cond_case cond_cases[] = {
    { GET, true, NULL, NULL, NULL, NULL, 0, "no conditions" },
    { PUT, false, NULL, NULL, NULL, NULL, 0, "no conditions, no file" },

    /* If-Match: strong comparison, "*", lists. */
    { PUT, true, ETAG, NULL, NULL, NULL, 0, "IM equal" },
    { PUT, true, "\"other\"", NULL, NULL, NULL, 412, "IM different" },
    { PUT, true, "W/" ETAG, NULL, NULL, NULL, 412, "IM weak never strong" },
    { PUT, true, "*", NULL, NULL, NULL, 0, "IM * on a file" },
    { PUT, false, "*", NULL, NULL, NULL, 412, "IM * without a file" },
    { PUT, false, ETAG, NULL, NULL, NULL, 412, "IM tag without a file" },
    { GET, true, "\"a\", " ETAG ", \"b\"", NULL, NULL, NULL, 0,
      "IM in a list" },
    { GET, true, "\"a\",\t" ETAG, NULL, NULL, NULL, 0, "IM list, HTAB" },
    { GET, true, ",\"a\",," ETAG " ,", NULL, NULL, NULL, 0,
      "IM list, empty elements" },
    { GET, true, "\"a\", \"b\"", NULL, NULL, NULL, 412, "IM list, none" },
    { GET, true, "\"a\" " ETAG, NULL, NULL, NULL, 412,
      "IM list without comma: malformed" },
    { GET, true, ETAG ", junk", NULL, NULL, NULL, 412,
      "IM malformed tail spoils a match" },
    { GET, true, "1a-2b-3c.4d", NULL, NULL, NULL, 412, "IM unquoted" },
    { GET, true, "\"1a-2b-3c.4d", NULL, NULL, NULL, 412,
      "IM unterminated" },
    { GET, true, "\"1a 2b\"", NULL, NULL, NULL, 412, "IM SP in tag" },
    { GET, true, "\"a b\", " ETAG, NULL, NULL, NULL, 412,
      "IM SP in another tag spoils the list" },
    { GET, true, "*, " ETAG, NULL, NULL, NULL, 412, "IM * in a list" },
    { GET, true, "w/" ETAG, NULL, NULL, NULL, 412, "IM lower-case w/" },
    { GET, true, "\"1A-2B-3C.4D\"", NULL, NULL, NULL, 412,
      "IM tags are case-sensitive" },
    { GET, true, "W/", NULL, NULL, NULL, 412, "IM bare W/" },

    /* If-Unmodified-Since, only without If-Match. */
    { PUT, true, NULL, D_OLD, NULL, NULL, 412, "IUS changed since" },
    { PUT, true, NULL, D_EQ, NULL, NULL, 0, "IUS same second" },
    { PUT, true, NULL, D_NEW, NULL, NULL, 0, "IUS later date" },
    { GET, true, NULL, D_OLD, NULL, NULL, 412, "IUS on GET" },
    { PUT, true, NULL, "yesterday", NULL, NULL, 0, "IUS invalid date" },
    { PUT, true, NULL, D_EQ " x", NULL, NULL, 0, "IUS trailing junk" },
    { PUT, false, NULL, D_OLD, NULL, NULL, 0, "IUS without a file" },
    { PUT, true, ETAG, D_OLD, NULL, NULL, 0, "IUS ignored after IM" },
    { PUT, true, "\"x\"", D_NEW, NULL, NULL, 412, "IM fails before IUS" },
    { PUT, true, NULL, D_850, NULL, NULL, 0, "IUS RFC 850 date" },

    /* If-None-Match: weak comparison; 304 on GET/HEAD, else 412. */
    { GET, true, NULL, NULL, ETAG, NULL, 304, "INM equal, GET" },
    { HEAD, true, NULL, NULL, ETAG, NULL, 304, "INM equal, HEAD" },
    { PUT, true, NULL, NULL, ETAG, NULL, 412, "INM equal, PUT" },
    { DEL, true, NULL, NULL, ETAG, NULL, 412, "INM equal, DELETE" },
    { POST, true, NULL, NULL, ETAG, NULL, 412, "INM equal, POST" },
    { GET, true, NULL, NULL, "W/" ETAG, NULL, 304, "INM weak matches" },
    { GET, true, NULL, NULL, "\"other\"", NULL, 0, "INM different" },
    { GET, true, NULL, NULL, "\"a\", W/" ETAG, NULL, 304,
      "INM in a list" },
    { GET, true, NULL, NULL, "\"a\" W/" ETAG, NULL, 0,
      "INM malformed list" },
    { GET, true, NULL, NULL, ETAG ",\"unterminated", NULL, 0,
      "INM malformed tail" },
    { GET, true, NULL, NULL, "*", NULL, 304, "INM * on a file, GET" },
    { PUT, true, NULL, NULL, "*", NULL, 412, "INM * on a file, PUT" },
    { PUT, false, NULL, NULL, "*", NULL, 0, "INM * without a file, PUT" },
    { GET, false, NULL, NULL, ETAG, NULL, 0, "INM tag without a file" },
    { GET, true, NULL, NULL, "\"\"", NULL, 0, "INM empty opaque-tag" },
    { GET, true, NULL, NULL, "\"\x01\", " ETAG, NULL, 0,
      "INM control byte spoils the list" },
    { GET, true, NULL, NULL, "\"\x7f\", " ETAG, NULL, 0,
      "INM DEL spoils the list" },
    { GET, true, NULL, NULL, "\"\xc3\xa9\", " ETAG, NULL, 304,
      "INM obs-text is allowed" },

    /* If-Modified-Since, only for GET/HEAD and without If-None-Match. */
    { GET, true, NULL, NULL, NULL, D_EQ, 304, "IMS same second" },
    { HEAD, true, NULL, NULL, NULL, D_EQ, 304, "IMS same second, HEAD" },
    { GET, true, NULL, NULL, NULL, D_NEW, 304, "IMS later date" },
    { GET, true, NULL, NULL, NULL, D_OLD, 0, "IMS changed since" },
    { GET, true, NULL, NULL, NULL, "not a date", 0, "IMS invalid" },
    { GET, true, NULL, NULL, NULL, "Sun, 06 Nov 1994", 0, "IMS cut short" },
    { GET, true, NULL, NULL, NULL, D_850, 304, "IMS RFC 850 date" },
    { GET, true, NULL, NULL, NULL, D_ASC, 304, "IMS asctime date" },
    { PUT, true, NULL, NULL, NULL, D_NEW, 0, "IMS ignored on PUT" },
    { GET, false, NULL, NULL, NULL, D_NEW, 0, "IMS without a file" },
    { GET, true, NULL, NULL, "\"other\"", D_NEW, 0,
      "IMS ignored after INM" },
    { GET, true, NULL, NULL, ETAG, D_OLD, 304, "INM decides over IMS" },

    /* The order of section 13.2.2 across fields. */
    { GET, true, "\"x\"", NULL, ETAG, NULL, 412, "IM fails before INM" },
    { GET, true, ETAG, NULL, ETAG, NULL, 304, "IM holds, INM matches" },
    { GET, true, NULL, D_OLD, ETAG, NULL, 412, "IUS fails before INM" },
    { GET, true, NULL, D_NEW, NULL, D_NEW, 304, "IUS holds, IMS 304" },
    { PUT, true, ETAG, D_OLD, "*", D_NEW, 412, "all four on PUT" },
    { GET, true, ETAG, D_OLD, "\"no\"", D_NEW, 0, "all four, GET goes on" },
};

/* A request carrying the four fields of C, each in its own guarded page. */
static void
fill_request(const struct guards *g, const struct cond_case *c,
             struct http_request *req)
{
    memset(req, 0, sizeof *req);
    req->method = (enum http_method)c->method;
    req->if_match = field(g, 0, c->if_match);
    req->if_unmodified_since = field(g, 1, c->if_unmodified_since);
    req->if_none_match = field(g, 2, c->if_none_match);
    req->if_modified_since = field(g, 3, c->if_modified_since);
}

static void
test_cond_evaluate(void **state)
{
    const struct guards *g = *state;
    struct http_request req;
    size_t i;
    int got;

    for (i = 0; i < sizeof cond_cases / sizeof cond_cases[0]; i++) {
        const struct cond_case *c = &cond_cases[i];

        fill_request(g, c, &req);
        got = cond_evaluate(&req, c->exists, c->exists ? ETAG : NULL,
                            c->exists ? MTIME : 0);
        if (got != c->want)
            fail_msg("%s: got %d, want %d", c->label, got, c->want);
    }
}

/* A tag made by cond_etag is matched by itself, strongly and weakly. */
static void
test_cond_own_etag(void **state)
{
    const struct guards *g = *state;
    struct http_request req;
    struct stat st;
    char etag[COND_ETAG_MAX];

    memset(&st, 0, sizeof st);
    st.st_ino = 123456;
    st.st_size = (off_t)(5 * GIB);
    st.st_mtim.tv_sec = MTIME;
    st.st_mtim.tv_nsec = 123456789;
    cond_etag(&st, etag);

    memset(&req, 0, sizeof req);
    req.method = HTTP_METHOD_GET;
    req.if_match = field(g, 0, etag);
    req.if_none_match = field(g, 1, etag);
    assert_int_equal(cond_evaluate(&req, true, etag, MTIME), 304);
    req.if_none_match = field(g, 1, NULL);
    req.if_range = field(g, 2, etag);
    assert_int_equal(cond_evaluate(&req, true, etag, MTIME), 0);
    assert_true(cond_if_range_holds(&req, etag, MTIME));
}

/* ------------------------------------------------------------------ */
/* cond_if_range_holds */

struct if_range_case {
    const char *if_range;
    bool want;
    const char *label;
};

static const struct if_range_case if_range_cases[] = {
    { NULL, true, "absent" },
    { ETAG, true, "strong tag equal" },
    { "W/" ETAG, false, "weak tag never holds" },
    { "\"other\"", false, "other tag" },
    { "\"1A-2B-3C.4D\"", false, "tag case differs" },
    { ETAG ", " ETAG, false, "a list is not an If-Range" },
    { ETAG " x", false, "junk after the tag" },
    { "\"1a-2b-3c.4d", false, "unterminated tag" },
    { "W/", false, "bare W/" },
    { "W/1a", false, "W/ without quotes" },
    { "\"", false, "lone quote" },
    { "*", false, "star" },
    { D_EQ, true, "date equal" },
    { D_OLD, false, "stale date (file changed since)" },
    { D_NEW, false, "later date, not exact" },
    { D_850, true, "RFC 850 date equal" },
    { D_ASC, true, "asctime date equal" },
    { "yesterday", false, "invalid date" },
    { "1a-2b-3c.4d", false, "unquoted tag taken as a bad date" },
};

static void
test_cond_if_range(void **state)
{
    const struct guards *g = *state;
    struct http_request req;
    size_t i;
    bool got;

    for (i = 0; i < sizeof if_range_cases / sizeof if_range_cases[0]; i++) {
        const struct if_range_case *c = &if_range_cases[i];

        memset(&req, 0, sizeof req);
        req.method = HTTP_METHOD_GET;
        req.if_range = field(g, 4, c->if_range);
        got = cond_if_range_holds(&req, ETAG, MTIME);
        if (got != c->want)
            fail_msg("%s: got %d, want %d", c->label, got, c->want);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_range_table),
        cmocka_unit_test(test_range_odd_bytes),
        cmocka_unit_test(test_range_many_parts),
        cmocka_unit_test(test_range_element_cap),
        cmocka_unit_test(test_range_scrambled),
        cmocka_unit_test(test_range_random),
        cmocka_unit_test(test_cond_etag),
        cmocka_unit_test(test_cond_evaluate),
        cmocka_unit_test(test_cond_own_etag),
        cmocka_unit_test(test_cond_if_range),
    };

    return cmocka_run_group_tests(tests, guards_setup, guards_teardown);
}
