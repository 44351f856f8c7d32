/*
 * cond.c: entity tags and conditional requests (RFC 9110 section 13).
 *
 * Makes our ETags and evaluates the precondition fields of a parsed
 * request against the selected representation's validators.  Sending the
 * 304 or 412, and deciding whether a Range applies, is the caller's job.
 *
 * Entity-tag lists are parsed strictly (section 8.8.3): optional "W/",
 * a quoted opaque-tag of etagc bytes, elements separated by commas with
 * OWS, empty elements allowed (section 5.6.1).  A list that does not
 * parse matches nothing.
 */
#include "cond.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "head.h"

/* An entity-tag: its opaque-tag, quotes included, and whether it is weak. */
struct etag {
    const char *ptr;
    size_t len;
    bool weak;
};

static bool field_matches(struct http_slice v, bool exists, const char *etag,
                          bool strong);
static bool list_matches(struct http_slice v, const char *etag, bool strong);
static bool etag_equal(const struct etag *a, const char *etag, bool strong);
static const char *parse_etag(const char *p, const char *end,
                              struct etag *tag);
static bool is_etagc(unsigned char c);
static const char *skip_ows(const char *p, const char *end);

/*
 * Inode, size and modification time in hex.  Any write changes the size or
 * the nanosecond mtime; a replacement by rename changes the inode.  The
 * longest form is 3 x 16 + 8 hex digits, 3 separators and 2 quotes: 61.
 */
void
cond_etag(const struct stat *st, char *out)
{
    snprintf(out, COND_ETAG_MAX, "\"%" PRIx64 "-%" PRIx64 "-%" PRIx64
             ".%" PRIx64 "\"", (uint64_t)st->st_ino, (uint64_t)st->st_size,
             (uint64_t)st->st_mtim.tv_sec, (uint64_t)st->st_mtim.tv_nsec);
}

/* Section 13.2.2, steps 1 to 4; step 5 (If-Range) is cond_if_range_holds. */
int
cond_evaluate(const struct http_request *req, bool exists,
              const char *etag, time_t mtime)
{
    bool get_head = req->method == HTTP_METHOD_GET ||
                    req->method == HTTP_METHOD_HEAD;
    const struct http_slice *ius = &req->if_unmodified_since;
    const struct http_slice *ims = &req->if_modified_since;
    time_t date;

    /*
     * If-Match uses the strong comparison (section 13.1.1).  Invalid dates,
     * and dates when there is no file, are ignored (sections 13.1.3-4).
     */
    if (req->if_match.len > 0) {
        if (!field_matches(req->if_match, exists, etag, true))
            return 412;
    } else if (ius->len > 0 && exists &&
               http_date_parse(ius->ptr, ius->len, &date) == 0 &&
               mtime > date) {
        return 412;
    }

    /* If-None-Match uses the weak comparison (section 13.1.2). */
    if (req->if_none_match.len > 0) {
        if (field_matches(req->if_none_match, exists, etag, false))
            return get_head ? 304 : 412;
    } else if (get_head && exists && ims->len > 0 &&
               http_date_parse(ims->ptr, ims->len, &date) == 0 &&
               mtime <= date) {
        return 304;
    }
    return 0;
}

/*
 * Section 13.1.5: an entity-tag must match strongly, a date exactly; a
 * weak tag, a list or anything unparsable never matches.
 */
bool
cond_if_range_holds(const struct http_request *req, const char *etag,
                    time_t mtime)
{
    struct http_slice v = req->if_range;
    struct etag tag;
    time_t date;

    if (v.len == 0)
        return true;
    if (v.ptr[0] == '"' || (v.len >= 2 && v.ptr[0] == 'W' &&
                            v.ptr[1] == '/')) {
        if (parse_etag(v.ptr, v.ptr + v.len, &tag) != v.ptr + v.len)
            return false;
        return etag != NULL && etag_equal(&tag, etag, true);
    }
    return http_date_parse(v.ptr, v.len, &date) == 0 && date == mtime;
}

/*
 * Whether If-Match or If-None-Match value V matches: "*" matches any
 * current representation, a list must name ETAG.  Nothing matches when
 * there is no representation.
 */
static bool
field_matches(struct http_slice v, bool exists, const char *etag,
              bool strong)
{
    if (v.len == 1 && v.ptr[0] == '*')
        return exists;
    if (!exists || etag == NULL)
        return false;
    return list_matches(v, etag, strong);
}

/*
 * Whether the entity-tag list V names ETAG.  The whole list is parsed
 * before answering, so a malformed tail also means no match.
 */
static bool
list_matches(struct http_slice v, const char *etag, bool strong)
{
    const char *p = v.ptr, *end = v.ptr + v.len;
    struct etag tag;
    bool found = false;

    for (;;) {
        p = skip_ows(p, end);
        if (p == end)
            break;
        if (*p == ',') {
            p++;            /* an empty element */
            continue;
        }
        if ((p = parse_etag(p, end, &tag)) == NULL)
            return false;
        if (etag_equal(&tag, etag, strong))
            found = true;

        p = skip_ows(p, end);
        if (p < end && *p != ',')
            return false;
    }
    return found;
}

/*
 * Compare A with our ETAG (a NUL-terminated entity-tag).  The strong
 * comparison needs both strong; the weak one only the opaque-tags.
 */
static bool
etag_equal(const struct etag *a, const char *etag, bool strong)
{
    const char *end = etag + strlen(etag);
    struct etag ours;

    if (parse_etag(etag, end, &ours) != end)
        return false;
    if (strong && (a->weak || ours.weak))
        return false;
    return a->len == ours.len && memcmp(a->ptr, ours.ptr, a->len) == 0;
}

/*
 * Parse one entity-tag at P (before END) into TAG.  Returns the byte after
 * it, or NULL if P does not start with a valid one.  "W/" is
 * case-sensitive (section 8.8.3).
 */
static const char *
parse_etag(const char *p, const char *end, struct etag *tag)
{
    const char *q;

    tag->weak = false;
    if (end - p >= 2 && p[0] == 'W' && p[1] == '/') {
        tag->weak = true;
        p += 2;
    }
    if (p == end || *p != '"')
        return NULL;
    for (q = p + 1; q < end && *q != '"'; q++) {
        if (!is_etagc((unsigned char)*q))
            return NULL;
    }
    if (q == end)
        return NULL;        /* no closing quote */

    tag->ptr = p;
    tag->len = (size_t)(q + 1 - p);
    return q + 1;
}

/* etagc = %x21 / %x23-7E / obs-text */
static bool
is_etagc(unsigned char c)
{
    return c == 0x21 || (c >= 0x23 && c <= 0x7e) || c >= 0x80;
}

static const char *
skip_ows(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}
