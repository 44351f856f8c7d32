/*
 * fuzz_cond.c: libFuzzer target for conditional requests and If-Range
 * (cond.c; dates are parsed by head.c).
 *
 * Input: a flags byte (method, whether the file exists, whether our ETag
 * is NULL or read from the input), the file's mtime, inode, size and
 * nanoseconds, then If-Match, If-None-Match, If-Modified-Since,
 * If-Unmodified-Since, If-Range and an ETag, separated by '\n' (which no
 * field value can carry).  Each field is a heap block of its own size.
 *
 * Checked: the statuses cond.h allows, the rules that need no parsing
 * (no field: go on; If-Match without a file: 412; a weak If-Range never
 * holds), a strong match implying a weak one, and that our own ETag and
 * Last-Modified, sent back, are recognised.
 */
#include <stdbool.h>

#include "cond.h"
#include "head.h"
#include "fuzz.h"

/* Year 0 to year 9999, the HTTP-dates we can write. */
#define FIRST_TIME (-INT64_C(62167219200))
#define LAST_TIME INT64_C(253402300799)

/* The representation and the request built from the input. */
struct setup {
    struct http_request req;
    bool exists;
    const char *etag;
    time_t mtime;
    char own_etag[COND_ETAG_MAX];
    char *fields[6];
};

/* The fields evaluate_one can set. */
enum { F_IF_MATCH, F_IF_NONE_MATCH, F_IMS, F_IUS };

static const enum http_method methods[8] = {
    HTTP_METHOD_GET, HTTP_METHOD_HEAD, HTTP_METHOD_PUT, HTTP_METHOD_DELETE,
    HTTP_METHOD_POST, HTTP_METHOD_OPTIONS, HTTP_METHOD_MKCOL,
    HTTP_METHOD_UNKNOWN,
};

static void read_setup(struct fuzz_in *in, struct setup *s);
static struct http_slice read_field(struct fuzz_in *in, char **copy);
static void check_fuzzed(const struct setup *s);
static void check_strong_weak(const struct setup *s);
static void check_own_etag(const struct setup *s);
static void check_own_date(const struct setup *s);
static int evaluate_one(const struct setup *s, enum http_method method,
                        int field, const char *value);
static bool if_range_one(const struct setup *s, const char *value);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = { data, size };
    struct setup s;
    size_t i;

    read_setup(&in, &s);
    check_fuzzed(&s);
    check_strong_weak(&s);
    if (s.etag == s.own_etag)
        check_own_etag(&s);
    check_own_date(&s);
    for (i = 0; i < 6; i++)
        free(s.fields[i]);
    return 0;
}

static void
read_setup(struct fuzz_in *in, struct setup *s)
{
    uint8_t flags = fuzz_byte(in);
    uint64_t span = (uint64_t)(LAST_TIME - FIRST_TIME) + 1;
    struct http_slice etag;
    struct stat st;

    memset(s, 0, sizeof *s);
    memset(&st, 0, sizeof st);
    s->req.method = methods[flags & 7];
    s->exists = (flags & 8) != 0;
    s->mtime = (time_t)(FIRST_TIME + (int64_t)(fuzz_uint(in, 8) % span));
    st.st_ino = (ino_t)fuzz_uint(in, 8);
    st.st_size = (off_t)fuzz_uint(in, 8);
    st.st_mtim.tv_sec = s->mtime;
    st.st_mtim.tv_nsec = (long)(fuzz_uint(in, 4) % 1000000000);
    cond_etag(&st, s->own_etag);
    FUZZ_CHECK(strlen(s->own_etag) < COND_ETAG_MAX - 1);

    s->req.if_match = read_field(in, &s->fields[0]);
    s->req.if_none_match = read_field(in, &s->fields[1]);
    s->req.if_modified_since = read_field(in, &s->fields[2]);
    s->req.if_unmodified_since = read_field(in, &s->fields[3]);
    s->req.if_range = read_field(in, &s->fields[4]);
    etag = read_field(in, &s->fields[5]);
    s->etag = s->own_etag;
    if (flags & 16) {
        s->fields[5] = realloc(s->fields[5], etag.len + 1);
        s->fields[5][etag.len] = '\0';
        s->etag = s->fields[5];
    } else if (flags & 32) {
        s->etag = NULL;
    }
}

/* The next '\n'-separated field, copied into a block of its own size. */
static struct http_slice
read_field(struct fuzz_in *in, char **copy)
{
    struct http_slice v;
    const uint8_t *p = fuzz_field(in, '\n', &v.len);

    *copy = fuzz_copy(p, v.len);
    v.ptr = *copy;
    return v;
}

/* What holds for any field values. */
static void
check_fuzzed(const struct setup *s)
{
    const struct http_request *r = &s->req;
    int ev = cond_evaluate(r, s->exists, s->etag, s->mtime);
    bool holds = cond_if_range_holds(r, s->etag, s->mtime);
    bool get_head = r->method == HTTP_METHOD_GET ||
                    r->method == HTTP_METHOD_HEAD;

    FUZZ_CHECK(ev == 0 || ev == 412 || (ev == 304 && get_head));
    if (r->if_match.len == 0 && r->if_none_match.len == 0 &&
        r->if_modified_since.len == 0 && r->if_unmodified_since.len == 0)
        FUZZ_CHECK(ev == 0);
    if (!s->exists && r->if_match.len > 0)
        FUZZ_CHECK(ev == 412);
    if (r->if_range.len == 0)
        FUZZ_CHECK(holds);
    if (r->if_range.len >= 2 && memcmp(r->if_range.ptr, "W/", 2) == 0)
        FUZZ_CHECK(!holds);
    if (s->etag == NULL && r->if_range.len > 0 && r->if_range.ptr[0] == '"')
        FUZZ_CHECK(!holds);
}

/*
 * If-Match compares strongly, If-None-Match weakly: a list that passes
 * If-Match names the file, so as If-None-Match it must match too.
 */
static void
check_strong_weak(const struct setup *s)
{
    struct setup t = *s;
    struct http_slice list = s->req.if_match;

    if (list.len == 0 || !s->exists)
        return;
    memset(&t.req, 0, sizeof t.req);
    t.req.method = HTTP_METHOD_GET;
    t.req.if_match = list;
    if (cond_evaluate(&t.req, true, s->etag, s->mtime) != 0)
        return;
    memset(&t.req, 0, sizeof t.req);
    t.req.method = HTTP_METHOD_GET;
    t.req.if_none_match = list;
    FUZZ_CHECK(cond_evaluate(&t.req, true, s->etag, s->mtime) == 304);
}

/* Our ETag sent back: strong and weak forms, alone and in lists. */
static void
check_own_etag(const struct setup *s)
{
    char weak[COND_ETAG_MAX + 2], list[3 * COND_ETAG_MAX];
    const char *e = s->etag;
    int put_ok = s->exists ? 0 : 412, get_hit = s->exists ? 304 : 0;

    snprintf(weak, sizeof weak, "W/%s", e);
    snprintf(list, sizeof list, " \"x\" ,, W/\"y\",%s\t", e);

    FUZZ_CHECK(evaluate_one(s, HTTP_METHOD_PUT, F_IF_MATCH, e) == put_ok);
    FUZZ_CHECK(evaluate_one(s, HTTP_METHOD_PUT, F_IF_MATCH, list) == put_ok);
    FUZZ_CHECK(evaluate_one(s, HTTP_METHOD_PUT, F_IF_MATCH, "*") == put_ok);
    FUZZ_CHECK(evaluate_one(s, HTTP_METHOD_PUT, F_IF_MATCH, weak) == 412);

    FUZZ_CHECK(evaluate_one(s, HTTP_METHOD_GET, F_IF_NONE_MATCH, e) ==
               get_hit);
    FUZZ_CHECK(evaluate_one(s, HTTP_METHOD_HEAD, F_IF_NONE_MATCH, weak) ==
               get_hit);
    FUZZ_CHECK(evaluate_one(s, HTTP_METHOD_GET, F_IF_NONE_MATCH, list) ==
               get_hit);
    FUZZ_CHECK(evaluate_one(s, HTTP_METHOD_PUT, F_IF_NONE_MATCH, e) ==
               (s->exists ? 412 : 0));

    FUZZ_CHECK(if_range_one(s, e));
    FUZZ_CHECK(!if_range_one(s, weak));
    FUZZ_CHECK(!if_range_one(s, list));
}

/*
 * Our Last-Modified sent back, and one a second earlier (which can be
 * written only above the first date we can write).
 */
static void
check_own_date(const struct setup *s)
{
    char now[HTTP_DATE_LEN + 1], before[HTTP_DATE_LEN + 1];
    bool earlier = s->mtime > FIRST_TIME;

    http_date_format(s->mtime, now);
    http_date_format(s->mtime - 1, before);
    FUZZ_CHECK(if_range_one(s, now));
    FUZZ_CHECK(!if_range_one(s, before));

    FUZZ_CHECK(evaluate_one(s, HTTP_METHOD_GET, F_IMS, now) ==
               (s->exists ? 304 : 0));
    FUZZ_CHECK(evaluate_one(s, HTTP_METHOD_PUT, F_IUS, now) == 0);
    if (earlier) {
        FUZZ_CHECK(evaluate_one(s, HTTP_METHOD_GET, F_IMS, before) == 0);
        FUZZ_CHECK(evaluate_one(s, HTTP_METHOD_PUT, F_IUS, before) ==
                   (s->exists ? 412 : 0));
    }
}

/* cond_evaluate with only FIELD set, to VALUE in a block of its size. */
static int
evaluate_one(const struct setup *s, enum http_method method, int field,
             const char *value)
{
    struct http_request r;
    struct http_slice *slots[4] = {
        &r.if_match, &r.if_none_match, &r.if_modified_since,
        &r.if_unmodified_since,
    };
    char *copy = fuzz_copy(value, strlen(value));
    int ev;

    memset(&r, 0, sizeof r);
    r.method = method;
    slots[field]->ptr = copy;
    slots[field]->len = strlen(value);
    ev = cond_evaluate(&r, s->exists, s->etag, s->mtime);
    free(copy);
    return ev;
}

/* cond_if_range_holds with If-Range set to VALUE. */
static bool
if_range_one(const struct setup *s, const char *value)
{
    struct http_request r;
    char *copy = fuzz_copy(value, strlen(value));
    bool holds;

    memset(&r, 0, sizeof r);
    r.if_range.ptr = copy;
    r.if_range.len = strlen(value);
    holds = cond_if_range_holds(&r, s->etag, s->mtime);
    free(copy);
    return holds;
}
