/*
 * fuzz_path.c: libFuzzer target for percent-decoding and path
 * normalisation (path.c).
 *
 * Input: a byte choosing the size of the output buffers given to the
 * encoders, then a request target.  path_from_target is checked against
 * path.h's promises (a relative path with no empty, "." or ".." segment,
 * no control byte, never starting at '/', the query inside the target)
 * and against a second reading of the target written from path.h alone.
 * What it lets through is then encoded with path_encode and decoded
 * again, which must give the same path; encoding into a buffer too small
 * must fail, never truncate.
 */
#include <stdbool.h>
#include <strings.h>

#include "path.h"
#include "fuzz.h"

/* The second reading: the decoded path, unbounded, or the error. */
struct ref {
    char *path;
    size_t len;
    int rv;
    const char *query;
    bool trailing_slash;
};

static void check_result(const char *t, size_t n, int rv,
                         const struct target_path *tp);
static void check_segments(const struct target_path *tp);
static void check_against_ref(const char *t, size_t n, int rv,
                              const struct target_path *tp);
static void check_round_trip(const struct target_path *tp, size_t small);
static void check_encoded(const char *enc, int len);
static void ref_read(const char *t, size_t n, struct ref *ref);
static int ref_start(const char *t, size_t n, size_t *start);
static int ref_segment(const char *seg, size_t n, struct ref *ref);
static int hex(char c);
static bool upper_hex(char c);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = { data, size };
    struct target_path *tp = malloc(sizeof *tp);
    size_t small = fuzz_byte(&in);
    char *t = fuzz_copy(in.p, in.n);
    int rv;

    rv = path_from_target(t, in.n, tp);
    check_result(t, in.n, rv, tp);
    check_against_ref(t, in.n, rv, tp);
    if (rv == 0)
        check_round_trip(tp, small);
    free(t);
    free(tp);
    return 0;
}

/* What path.h promises of an accepted target. */
static void
check_result(const char *t, size_t n, int rv, const struct target_path *tp)
{
    const char *q = tp->query;
    size_t len;

    FUZZ_CHECK(rv == 0 || rv == -400 || rv == -414);
    if (rv != 0)
        return;
    len = strnlen(tp->path, PATH_MAX_BYTES);
    FUZZ_CHECK(len > 0 && len < PATH_MAX_BYTES);
    FUZZ_CHECK(memchr(t, '#', n) == NULL);
    if (q != NULL) {
        FUZZ_CHECK(q > t && q <= t + n && q[-1] == '?');
        FUZZ_CHECK(q + tp->query_len == t + n);
    } else {
        FUZZ_CHECK(tp->query_len == 0);
        FUZZ_CHECK(!(n > 0 && t[n - 1] == '/') || tp->trailing_slash);
    }
    check_segments(tp);
}

/* Segments: none empty, ".", "..", or with a control byte. */
static void
check_segments(const struct target_path *tp)
{
    const char *p = tp->path, *slash;
    bool dot = false;
    size_t n, i;

    if (strcmp(p, ".") == 0) {
        FUZZ_CHECK(!tp->has_dot_segment);
        return;
    }
    for (;;) {
        slash = strchr(p, '/');
        n = slash != NULL ? (size_t)(slash - p) : strlen(p);
        FUZZ_CHECK(n > 0);
        FUZZ_CHECK(!(n == 1 && p[0] == '.'));
        FUZZ_CHECK(!(n == 2 && p[0] == '.' && p[1] == '.'));
        dot = dot || p[0] == '.';
        for (i = 0; i < n; i++)
            FUZZ_CHECK((unsigned char)p[i] >= 0x20 && p[i] != 0x7f);
        if (slash == NULL)
            break;
        p = slash + 1;
    }
    FUZZ_CHECK(dot == tp->has_dot_segment);
}

/* The same answer as the second reading; -414 only for a long path. */
static void
check_against_ref(const char *t, size_t n, int rv,
                  const struct target_path *tp)
{
    struct ref ref;

    ref_read(t, n, &ref);
    if (ref.rv == 0 && ref.len < PATH_MAX_BYTES) {
        FUZZ_CHECK(rv == 0);
        FUZZ_CHECK(strcmp(tp->path, ref.path) == 0);
        FUZZ_CHECK(tp->query == ref.query);
        FUZZ_CHECK(tp->trailing_slash == ref.trailing_slash);
    } else if (ref.rv == 0) {
        FUZZ_CHECK(rv == -414);
    } else {
        FUZZ_CHECK(rv == -400 || (rv == -414 && n >= PATH_MAX_BYTES));
    }
    free(ref.path);
}

/*
 * Encoded, the path decodes to itself.  Into SMALL bytes the encoders
 * give the same text or -1.
 */
static void
check_round_trip(const struct target_path *tp, size_t small)
{
    size_t cap = 3 * PATH_MAX_BYTES + 2;
    char *enc = malloc(cap), *part = malloc(small);
    struct target_path *back = malloc(sizeof *back);
    int len, part_len;

    len = path_encode(tp->path, enc, cap);
    check_encoded(enc, len);
    FUZZ_CHECK(path_from_target(enc, (size_t)len, back) == 0);
    FUZZ_CHECK(strcmp(back->path, tp->path) == 0);
    FUZZ_CHECK(back->has_dot_segment == tp->has_dot_segment);

    part_len = path_encode(tp->path, part, small);
    FUZZ_CHECK(part_len == -1 ||
               (part_len == len && strcmp(part, enc) == 0));
    part_len = path_encode_segment(tp->path, part, small);
    len = path_encode_segment(tp->path, enc, cap);
    FUZZ_CHECK(len > 0 && (part_len == -1 || strcmp(part, enc) == 0));
    FUZZ_CHECK(strchr(enc, '/') == NULL);
    free(back);
    free(part);
    free(enc);
}

/* "/" then unreserved bytes, '/' and upper-case %XX only. */
static void
check_encoded(const char *enc, int len)
{
    int i;

    FUZZ_CHECK(len > 0 && (size_t)len == strlen(enc) && enc[0] == '/');
    for (i = 0; i < len; i++) {
        if (enc[i] == '%') {
            FUZZ_CHECK(upper_hex(enc[i + 1]) && upper_hex(enc[i + 2]));
            i += 2;
        } else {
            FUZZ_CHECK(strchr("/-._~", enc[i]) != NULL ||
                       (enc[i] >= '0' && enc[i] <= '9') ||
                       ((enc[i] | 0x20) >= 'a' && (enc[i] | 0x20) <= 'z'));
        }
    }
}

/* Start, query, then each '/'-separated segment in turn. */
static void
ref_read(const char *t, size_t n, struct ref *ref)
{
    size_t start, end, i, j;

    ref->path = malloc(n + 2);
    ref->len = 0;
    ref->query = NULL;
    ref->trailing_slash = false;
    ref->rv = -400;
    if (memchr(t, '#', n) != NULL || ref_start(t, n, &start) == -1)
        return;
    for (end = start; end < n && t[end] != '?'; end++)
        continue;
    if (end < n)
        ref->query = t + end + 1;
    ref->trailing_slash = end == start || t[end - 1] == '/';

    for (i = start; i < end; i = j) {
        for (j = i; j < end && t[j] != '/'; j++)
            continue;
        if (j > i && ref_segment(t + i, j - i, ref) == -1)
            return;
        if (j < end)
            j++;
    }
    if (ref->len == 0)
        ref->path[ref->len++] = '.';
    ref->path[ref->len] = '\0';
    ref->rv = 0;
}

/* Origin-form, or http(s)://authority with a non-empty authority. */
static int
ref_start(const char *t, size_t n, size_t *start)
{
    static const char other[] = "-._~!$&'()*+,;=:[]%";
    size_t i;

    if (n > 0 && t[0] == '/') {
        *start = 0;
        return 0;
    }
    if (n >= 7 && strncasecmp(t, "http://", 7) == 0)
        i = 7;
    else if (n >= 8 && strncasecmp(t, "https://", 8) == 0)
        i = 8;
    else
        return -1;
    for (*start = i; i < n && t[i] != '/' && t[i] != '?'; i++) {
        if (t[i] == '\0' || (memchr(other, t[i], sizeof other - 1) == NULL &&
                             !(t[i] >= '0' && t[i] <= '9') &&
                             !((t[i] | 0x20) >= 'a' && (t[i] | 0x20) <= 'z')))
            return -1;
    }
    if (i == *start)
        return -1;
    *start = i;
    return 0;
}

/* Decode SEG; drop ".", refuse "..", append anything else. */
static int
ref_segment(const char *seg, size_t n, struct ref *ref)
{
    size_t i, at = ref->len > 0 ? ref->len + 1 : 0, len = at;
    unsigned char c;

    for (i = 0; i < n; i++) {
        c = (unsigned char)seg[i];
        if (c == ' ')
            return -1;
        if (c == '%') {
            if (n - i < 3 || hex(seg[i + 1]) < 0 || hex(seg[i + 2]) < 0)
                return -1;
            c = (unsigned char)(hex(seg[i + 1]) * 16 + hex(seg[i + 2]));
            i += 2;
            if (c == '/')
                return -1;
        }
        if (c < 0x20 || c == 0x7f)
            return -1;
        ref->path[len++] = (char)c;
    }
    if (len - at == 1 && ref->path[at] == '.')
        return 0;
    if (len - at == 2 && ref->path[at] == '.' && ref->path[at + 1] == '.')
        return -1;
    if (at > 0)
        ref->path[ref->len] = '/';
    ref->len = len;
    return 0;
}

static int
hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
        return (c | 0x20) - 'a' + 10;
    return -1;
}

static bool
upper_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}
