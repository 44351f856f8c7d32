/*
 * range.c: plan a Range request (RFC 9110 sections 14.1 and 14.2).
 *
 * Parses "bytes=" range-sets, resolves open and suffix ranges against the
 * representation's size, then sorts and merges what is satisfiable.  It
 * allocates nothing and reads nothing but the field value; whether Range
 * applies at all (method, If-Range) is the caller's decision.
 *
 * Decisions where the RFC leaves room:
 * - Any syntax error anywhere in the field ignores the whole field (200):
 *   RFC 9110 section 14.2 lets a server ignore a Range it cannot parse.
 * - The list rule of section 5.6.1 is applied as written: empty elements
 *   ("bytes=0-1,,2-3") and OWS around elements are accepted; at least one
 *   range-spec must be present.  No whitespace is allowed inside a
 *   range-spec or around the "=".
 * - A zero-length representation can satisfy only a non-zero suffix
 *   (section 14.1.1), but no Content-Range can describe zero bytes, so
 *   such a request is ignored (200 with the empty body) instead of 416.
 */
#include "range.h"

#include <stdbool.h>
#include <string.h>

#include "http.h"

/*
 * Most comma-separated elements read from one field, empty ones included.
 * Together with the fixed array below this bounds both our memory (16 KB of
 * stack) and our work (a sort of this many entries) whatever the client
 * sends.  Real clients ask for a handful.
 */
#define RANGE_MAX_ELEMS 1000

/* The satisfiable ranges found so far, resolved against the size. */
struct range_set {
    struct byte_range r[RANGE_MAX_ELEMS];
    size_t n;
    bool empty_whole;   /* a suffix asked for all of an empty body */
};

static const char *skip_unit(const char *s, size_t len);
static int parse_set(const char *p, const char *end, uint64_t size,
                     struct range_set *set);
static int add_spec(const char *p, size_t len, uint64_t size,
                    struct range_set *set);
static int parse_int_range(const char *p, size_t len, const char *dash,
                           uint64_t *first, uint64_t *last);
static void sort_ranges(struct byte_range *r, size_t n);
static void sift_down(struct byte_range *r, size_t root, size_t n);
static size_t merge_ranges(struct byte_range *r, size_t n);
static bool is_ows(char c);

enum range_outcome
range_plan(const char *s, size_t len, uint64_t size,
           struct byte_range *out, size_t *count)
{
    struct range_set set;
    const char *p;

    if (len == 0 || (p = skip_unit(s, len)) == NULL)
        return RANGE_IGNORE;
    set.n = 0;
    set.empty_whole = false;
    if (parse_set(p, s + len, size, &set) == -1)
        return RANGE_IGNORE;

    if (set.n == 0)
        return set.empty_whole ? RANGE_IGNORE : RANGE_UNSATISFIABLE;
    sort_ranges(set.r, set.n);
    set.n = merge_ranges(set.r, set.n);
    if (set.n > RANGE_MAX_PARTS)
        return RANGE_IGNORE;    /* section 14.2: a server MAY ignore */

    memcpy(out, set.r, set.n * sizeof *out);
    *count = set.n;
    return RANGE_PARTIAL;
}

/*
 * Skip "bytes=" at S.  Range units are case-insensitive (section 14.1);
 * any other unit is one we do not support, so the field is ignored.
 */
static const char *
skip_unit(const char *s, size_t len)
{
    const char *eq;
    struct http_slice unit;

    eq = memchr(s, '=', len);
    if (eq == NULL)
        return NULL;
    unit.ptr = s;
    unit.len = (size_t)(eq - s);
    return http_slice_eq(unit, "bytes") ? eq + 1 : NULL;
}

/*
 * Read the range-set from P to END into SET.  Returns 0, or -1 when the
 * field must be ignored: a syntax error, no range-spec, too many elements.
 */
static int
parse_set(const char *p, const char *end, uint64_t size,
          struct range_set *set)
{
    size_t elems = 0, specs = 0;
    const char *comma, *a, *b;

    for (;;) {
        comma = memchr(p, ',', (size_t)(end - p));
        b = comma != NULL ? comma : end;
        if (++elems > RANGE_MAX_ELEMS)
            return -1;
        for (a = p; a < b && is_ows(*a); a++)
            continue;
        while (b > a && is_ows(b[-1]))
            b--;

        if (a < b) {
            if (add_spec(a, (size_t)(b - a), size, set) == -1)
                return -1;
            specs++;
        }
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    return specs > 0 ? 0 : -1;
}

/*
 * Parse one range-spec (P, LEN bytes, no OWS) and add it to SET if it is
 * satisfiable (section 14.1.1).  Returns -1 only on a syntax error.
 */
static int
add_spec(const char *p, size_t len, uint64_t size, struct range_set *set)
{
    const char *dash;
    uint64_t first, last, suffix;

    dash = memchr(p, '-', len);
    if (dash == NULL)
        return -1;
    if (dash == p) {
        if (http_parse_uint(p + 1, len - 1, UINT64_MAX, &suffix) == -1)
            return -1;
        if (suffix == 0)
            return 0;               /* "-0" asks for nothing */
        if (size == 0) {
            set->empty_whole = true;
            return 0;
        }
        first = suffix >= size ? 0 : size - suffix;
        last = size - 1;
    } else {
        if (parse_int_range(p, len, dash, &first, &last) == -1)
            return -1;
        if (first >= size)
            return 0;               /* starts past the end */
        if (last > size - 1)
            last = size - 1;
    }
    set->r[set->n].first = first;
    set->r[set->n].last = last;
    set->n++;                       /* one per element: never past the end */
    return 0;
}

/*
 * Parse "first-" or "first-last" (DASH inside P).  An open range gets
 * UINT64_MAX as its last position.  last < first is invalid, and by
 * section 14.1.1 that makes the whole field invalid.
 */
static int
parse_int_range(const char *p, size_t len, const char *dash,
                uint64_t *first, uint64_t *last)
{
    size_t first_len = (size_t)(dash - p);
    size_t rest = len - first_len - 1;

    if (http_parse_uint(p, first_len, UINT64_MAX, first) == -1)
        return -1;
    if (rest == 0) {
        *last = UINT64_MAX;
        return 0;
    }
    if (http_parse_uint(dash + 1, rest, UINT64_MAX, last) == -1)
        return -1;
    return *last < *first ? -1 : 0;
}

/*
 * Heapsort by first position: O(n log n) on any input a client can craft,
 * in place, and no qsort, which may allocate.
 */
static void
sort_ranges(struct byte_range *r, size_t n)
{
    struct byte_range tmp;
    size_t i;

    for (i = n / 2; i > 0; i--)
        sift_down(r, i - 1, n);
    for (i = n; i > 1; i--) {
        tmp = r[0];
        r[0] = r[i - 1];
        r[i - 1] = tmp;
        sift_down(r, 0, i - 1);
    }
}

/* Restore the max-heap below ROOT among the first N entries. */
static void
sift_down(struct byte_range *r, size_t root, size_t n)
{
    struct byte_range tmp;
    size_t child;

    while ((child = 2 * root + 1) < n) {
        if (child + 1 < n && r[child + 1].first > r[child].first)
            child++;
        if (r[root].first >= r[child].first)
            return;
        tmp = r[root];
        r[root] = r[child];
        r[child] = tmp;
        root = child;
    }
}

/*
 * Merge sorted ranges that overlap or touch, in place; returns the new
 * count.  Positions are below the size, so last + 1 cannot overflow.
 */
static size_t
merge_ranges(struct byte_range *r, size_t n)
{
    size_t i, out = 0;

    for (i = 1; i < n; i++) {
        if (r[i].first <= r[out].last + 1) {
            if (r[i].last > r[out].last)
                r[out].last = r[i].last;
        } else {
            r[++out] = r[i];
        }
    }
    return n > 0 ? out + 1 : 0;
}

static bool
is_ows(char c)
{
    return c == ' ' || c == '\t';
}
