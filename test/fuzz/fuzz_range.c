/*
 * fuzz_range.c: libFuzzer target for range_plan (range.c).
 *
 * Input: a byte choosing how the representation's size is read, the size,
 * then the Range field value.  The plan is checked against range.h's
 * promises (sorted, merged, inside the size, at most RANGE_MAX_PARTS, OUT
 * written only inside its room) and against a second reading written from
 * RFC 9110 section 14 and the decisions listed at the top of range.c: the
 * same outcome, and on 206 the same ranges.
 */
#include <stdbool.h>
#include <strings.h>

#include "range.h"
#include "fuzz.h"

/* As range.c: more comma-separated elements than this are ignored. */
#define REF_MAX_ELEMS 1000

struct ref {
    struct byte_range r[REF_MAX_ELEMS];
    size_t n;
    bool empty_whole;
};

static uint64_t read_size(struct fuzz_in *in);
static void check_plan(enum range_outcome got, const struct byte_range *r,
                       size_t count, uint64_t size);
static enum range_outcome ref_plan(const char *s, size_t len, uint64_t size,
                                   struct ref *ref);
static int ref_elements(const char *p, const char *end, uint64_t size,
                        struct ref *ref);
static int ref_spec(const char *s, size_t n, uint64_t size, struct ref *ref);
static bool ref_number(const char *s, size_t n, uint64_t *v);
static size_t ref_merge(struct ref *ref);
static int by_first(const void *a, const void *b);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = { data, size };
    struct byte_range *out = malloc(RANGE_MAX_PARTS * sizeof *out);
    struct ref *ref = malloc(sizeof *ref);
    uint64_t rep_size = read_size(&in);
    char *s = fuzz_copy(in.p, in.n);
    enum range_outcome got, want;
    size_t count = 0, i;

    got = range_plan(s, in.n, rep_size, out, &count);
    check_plan(got, out, count, rep_size);
    want = ref_plan(s, in.n, rep_size, ref);
    FUZZ_CHECK(got == want);
    if (got == RANGE_PARTIAL) {
        FUZZ_CHECK(count == ref->n);
        for (i = 0; i < count; i++) {
            FUZZ_CHECK(out[i].first == ref->r[i].first);
            FUZZ_CHECK(out[i].last == ref->r[i].last);
        }
    }
    free(s);
    free(ref);
    free(out);
    return 0;
}

/* Small sizes most of the time, where ranges overlap and clip often. */
static uint64_t
read_size(struct fuzz_in *in)
{
    static const uint64_t sizes[8] = {
        0, 1, 2, 100, 10000, UINT64_C(1) << 62, UINT64_MAX - 1, UINT64_MAX,
    };
    uint8_t mode = fuzz_byte(in);

    switch (mode & 3) {
    case 0:
        return fuzz_byte(in);
    case 1:
        return fuzz_uint(in, 2);
    case 2:
        return fuzz_uint(in, 8);
    default:
        return sizes[fuzz_byte(in) & 7];
    }
}

/* What range.h promises of a 206 plan. */
static void
check_plan(enum range_outcome got, const struct byte_range *r,
           size_t count, uint64_t size)
{
    size_t i;

    FUZZ_CHECK(got == RANGE_IGNORE || got == RANGE_PARTIAL ||
               got == RANGE_UNSATISFIABLE);
    if (got != RANGE_PARTIAL)
        return;
    FUZZ_CHECK(count >= 1 && count <= RANGE_MAX_PARTS);
    for (i = 0; i < count; i++) {
        FUZZ_CHECK(r[i].first <= r[i].last && r[i].last < size);
        FUZZ_CHECK(i == 0 || r[i].first > r[i - 1].last + 1);
    }
}

/* The second reading: unit, elements, then sort and merge. */
static enum range_outcome
ref_plan(const char *s, size_t len, uint64_t size, struct ref *ref)
{
    const char *eq = memchr(s, '=', len);

    ref->n = 0;
    ref->empty_whole = false;
    if (eq == NULL || eq - s != 5 || strncasecmp(s, "bytes", 5) != 0)
        return RANGE_IGNORE;
    if (ref_elements(eq + 1, s + len, size, ref) == -1)
        return RANGE_IGNORE;
    if (ref->n == 0)
        return ref->empty_whole ? RANGE_IGNORE : RANGE_UNSATISFIABLE;
    ref->n = ref_merge(ref);
    return ref->n > RANGE_MAX_PARTS ? RANGE_IGNORE : RANGE_PARTIAL;
}

/* Comma-separated, OWS-trimmed, empty ones skipped, at least one spec. */
static int
ref_elements(const char *p, const char *end, uint64_t size, struct ref *ref)
{
    size_t elems = 0, specs = 0;
    const char *a, *b, *comma;

    for (;;) {
        for (comma = p; comma < end && *comma != ','; comma++)
            continue;
        if (++elems > REF_MAX_ELEMS)
            return -1;
        for (a = p; a < comma && (*a == ' ' || *a == '\t'); a++)
            continue;
        for (b = comma; b > a && (b[-1] == ' ' || b[-1] == '\t'); b--)
            continue;
        if (a < b) {
            if (ref_spec(a, (size_t)(b - a), size, ref) == -1)
                return -1;
            specs++;
        }
        if (comma == end)
            break;
        p = comma + 1;
    }
    return specs > 0 ? 0 : -1;
}

/* "first-", "first-last" or "-suffix"; kept when satisfiable (14.1.1). */
static int
ref_spec(const char *s, size_t n, uint64_t size, struct ref *ref)
{
    const char *dash = memchr(s, '-', n);
    size_t k = dash != NULL ? (size_t)(dash - s) : 0;
    uint64_t first, last = UINT64_MAX;

    if (dash == NULL)
        return -1;
    if (k == 0) {
        if (!ref_number(s + 1, n - 1, &last))
            return -1;
        if (last > 0 && size == 0)
            ref->empty_whole = true;
        if (last == 0 || size == 0)
            return 0;
        first = last >= size ? 0 : size - last;
        last = size - 1;
    } else {
        if (!ref_number(s, k, &first) ||
            (n > k + 1 && !ref_number(s + k + 1, n - k - 1, &last)) ||
            last < first)
            return -1;
        if (first >= size)
            return 0;
        if (last >= size)
            last = size - 1;
    }
    ref->r[ref->n].first = first;
    ref->r[ref->n++].last = last;
    return 0;
}

/* 1*DIGIT that fits in 64 bits. */
static bool
ref_number(const char *s, size_t n, uint64_t *v)
{
    size_t i;

    *v = 0;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9' ||
            __builtin_mul_overflow(*v, 10, v) ||
            __builtin_add_overflow(*v, (uint64_t)(s[i] - '0'), v))
            return false;
    }
    return n > 0;
}

/* Sort, then join what overlaps or touches. */
static size_t
ref_merge(struct ref *ref)
{
    struct byte_range *r = ref->r;
    size_t i, out = 0;

    qsort(r, ref->n, sizeof *r, by_first);
    for (i = 1; i < ref->n; i++) {
        if (r[i].first <= r[out].last || r[i].first - r[out].last == 1) {
            if (r[i].last > r[out].last)
                r[out].last = r[i].last;
        } else {
            r[++out] = r[i];
        }
    }
    return out + 1;
}

static int
by_first(const void *a, const void *b)
{
    const struct byte_range *x = a, *y = b;

    return x->first < y->first ? -1 : x->first > y->first;
}
