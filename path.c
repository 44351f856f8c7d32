/*
 * path.c: request targets to relative paths, relative paths to URLs.
 *
 * Pure string work: no I/O, no allocation.  What path_from_target lets
 * through has no "." or ".." segment, no empty segment, no NUL, no '/'
 * inside a name and no control byte.  files.c resolves it confined all the
 * same, and the HTTP parser has already checked the target's grammar.
 */
#include "path.h"

#include <limits.h>
#include <string.h>
#include <strings.h>

static int path_start(const char *target, size_t len, size_t *start);
static bool authority_byte(unsigned char c);
static int decode_path(const char *p, size_t n, struct target_path *out);
static int add_segment(const char *seg, size_t n, struct target_path *out,
                       size_t *len);
static size_t dot_count(const char *seg, size_t n);
static int decode_segment(const char *src, size_t n, char *dst, size_t cap,
                          size_t *dlen);
static int hex_value(unsigned char c);
static bool unreserved(unsigned char c);
static int encode_bytes(const char *src, size_t n, char *out, size_t cap);

int
path_from_target(const char *target, size_t len, struct target_path *out)
{
    const char *query;
    size_t start, path_len;
    int rv;

    memset(out, 0, sizeof *out);

    /* A fragment is never sent (RFC 9110 7.1): '#' means a broken client. */
    if (memchr(target, '#', len) != NULL)
        return -400;
    if (path_start(target, len, &start) == -1)
        return -400;

    path_len = len - start;
    query = memchr(target + start, '?', path_len);
    if (query != NULL) {
        path_len = (size_t)(query - (target + start));
        out->query = query + 1;
        out->query_len = len - path_len - start - 1;
    }

    rv = decode_path(target + start, path_len, out);
    if (rv != 0)
        return rv;

    /* An absolute-form target with an empty path names the root, "/". */
    out->trailing_slash = path_len == 0 || target[start + path_len - 1] == '/';
    return 0;
}

/*
 * Find where the path of TARGET begins: at 0 for origin-form, after the
 * authority for absolute-form http(s) (RFC 9112 3.2).  Anything else
 * ("*", authority-form, a bare name) is no path at all.
 */
static int
path_start(const char *target, size_t len, size_t *start)
{
    size_t i;

    if (len > 0 && target[0] == '/') {
        *start = 0;
        return 0;
    }
    if (len >= 7 && strncasecmp(target, "http://", 7) == 0)
        i = 7;
    else if (len >= 8 && strncasecmp(target, "https://", 8) == 0)
        i = 8;
    else
        return -1;

    *start = i;
    while (i < len && target[i] != '/' && target[i] != '?') {
        if (!authority_byte((unsigned char)target[i]))
            return -1;
        i++;
    }
    /* RFC 9110 4.2.1: an empty host is invalid in an http(s) URI. */
    if (i == *start)
        return -1;
    *start = i;
    return 0;
}

/*
 * Bytes allowed in host and port (RFC 3986 3.2).  '@' is left out: userinfo
 * is deprecated in http(s) URIs and a classic phishing trick (RFC 9110
 * 4.2.4), so a target carrying it is refused.
 */
static bool
authority_byte(unsigned char c)
{
    return unreserved(c) ||
           (c != '\0' && strchr("!$&'()*+,;=:[]%", c) != NULL);
}

/* Decode the path part P (N bytes) segment by segment into OUT->path. */
static int
decode_path(const char *p, size_t n, struct target_path *out)
{
    const char *slash;
    size_t i = 0, len = 0, seg_len;
    int rv;

    while (i < n) {
        if (p[i] == '/') {
            i++;
            continue;
        }
        slash = memchr(p + i, '/', n - i);
        seg_len = slash != NULL ? (size_t)(slash - (p + i)) : n - i;
        rv = add_segment(p + i, seg_len, out, &len);
        if (rv != 0)
            return rv;
        i += seg_len;
    }

    if (len == 0)
        out->path[len++] = '.';
    out->path[len] = '\0';
    return 0;
}

/*
 * Decode one raw segment SEG (N bytes) and append it to OUT->path, which
 * holds *LEN bytes so far.  Dot segments are recognised in their encoded
 * forms too, so "%2e%2e" and ".%2e" are the ".." they decode to.
 */
static int
add_segment(const char *seg, size_t n, struct target_path *out, size_t *len)
{
    size_t dots, pos, dlen;
    char *dst;
    int rv;

    dots = dot_count(seg, n);
    if (dots == 1)
        return 0;                           /* "." names nothing */
    if (dots == 2)
        return -400;                        /* refused, never resolved */

    pos = *len > 0 ? *len + 1 : 0;          /* room for the '/' */
    if (pos >= PATH_MAX_BYTES - 1)
        return -414;
    dst = out->path + pos;
    rv = decode_segment(seg, n, dst, PATH_MAX_BYTES - 1 - pos, &dlen);
    if (rv != 0)
        return rv;

    if (dst[0] == '.')
        out->has_dot_segment = true;
    if (*len > 0)
        out->path[*len] = '/';
    *len = pos + dlen;
    return 0;
}

/* How many dots SEG is made of, raw or "%2e", or 0 if anything else. */
static size_t
dot_count(const char *seg, size_t n)
{
    size_t i = 0, dots = 0;

    while (i < n) {
        if (seg[i] == '.')
            i++;
        else if (n - i >= 3 && seg[i] == '%' && seg[i + 1] == '2' &&
                 (seg[i + 2] == 'e' || seg[i + 2] == 'E'))
            i += 3;
        else
            return 0;
        dots++;
    }
    return dots;
}

/*
 * Percent-decode SRC (N bytes) into DST (CAP bytes, not terminated) and set
 * *DLEN.  Refused: a '%' without two hex digits, "%00" (C strings would end
 * early), "%2F" (two segments would become one name), and control bytes,
 * raw or decoded, which no sane name carries and logs would mangle.  A raw
 * space cannot come through the request line, so it means a broken caller.
 * Bytes >= 0x80 stay as they are: the HTTP parser refuses them raw, and
 * encoded they are the UTF-8 names people give their files.
 */
static int
decode_segment(const char *src, size_t n, char *dst, size_t cap,
               size_t *dlen)
{
    unsigned char c;
    size_t i, out_len = 0;
    int hi, lo;

    for (i = 0; i < n; i++) {
        c = (unsigned char)src[i];
        if (c == '%') {
            if (n - i < 3)
                return -400;
            hi = hex_value((unsigned char)src[i + 1]);
            lo = hex_value((unsigned char)src[i + 2]);
            if (hi < 0 || lo < 0)
                return -400;
            c = (unsigned char)(hi << 4 | lo);
            if (c == '/')
                return -400;
            i += 2;
        } else if (c == ' ') {
            return -400;
        }
        if (c < 0x20 || c == 0x7f)
            return -400;                    /* includes NUL */
        if (out_len == cap)
            return -414;
        dst[out_len++] = (char)c;
    }
    *dlen = out_len;
    return 0;
}

static int
hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* RFC 3986 2.3 unreserved: the only bytes never encoded. */
static bool
unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
           c == '~';
}

int
path_encode_segment(const char *name, char *out, size_t cap)
{
    return encode_bytes(name, strlen(name), out, cap);
}

int
path_encode(const char *path, char *out, size_t cap)
{
    const char *slash;
    size_t n = 1, seg_len;
    int rv;

    if (cap < 2)
        return -1;
    out[0] = '/';
    out[1] = '\0';
    if (strcmp(path, ".") == 0)
        return 1;

    for (;;) {
        slash = strchr(path, '/');
        seg_len = slash != NULL ? (size_t)(slash - path) : strlen(path);
        rv = encode_bytes(path, seg_len, out + n, cap - n);
        if (rv == -1)
            return -1;
        n += (size_t)rv;
        if (slash == NULL)
            break;
        if (n + 1 >= cap || n + 1 > INT_MAX)
            return -1;
        out[n++] = '/';
        out[n] = '\0';
        path = slash + 1;
    }
    return (int)n;
}

/*
 * Encode SRC (N bytes) into OUT (CAP bytes, NUL-terminated), upper-case
 * hex as RFC 3986 2.1 recommends.  Returns the length or -1.
 */
static int
encode_bytes(const char *src, size_t n, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    unsigned char c;
    size_t i, len = 0;

    if (cap == 0)
        return -1;
    for (i = 0; i < n; i++) {
        c = (unsigned char)src[i];
        if (len + (unreserved(c) ? 1 : 3) >= cap || len >= INT_MAX - 3)
            return -1;
        if (unreserved(c)) {
            out[len++] = (char)c;
        } else {
            out[len++] = '%';
            out[len++] = hex[c >> 4];
            out[len++] = hex[c & 0x0f];
        }
    }
    out[len] = '\0';
    return (int)len;
}
