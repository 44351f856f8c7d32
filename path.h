/*
 * path.h: from a request target to a relative path, and back to a URL.
 *
 * The first line of confinement: what leaves path_from_target is a plain
 * relative path with no "." or ".." segments, no empty segments, no NUL.
 * The resolver in files.c is the second line and does not trust this one.
 */
#ifndef FERRY_PATH_H
#define FERRY_PATH_H

#include <stdbool.h>
#include <stddef.h>

/* Longest decoded path we accept; a longer target gets 414. */
#define PATH_MAX_BYTES 4096

struct target_path {
    char path[PATH_MAX_BYTES];  /* "a/b c/d.txt", or "." for the root */
    bool trailing_slash;        /* the target's path ended in '/' */
    bool has_dot_segment;       /* some segment starts with '.' (dotfile) */
    const char *query;          /* after '?', in the caller's target, or NULL */
    size_t query_len;
};

/*
 * Turn request target TARGET (LEN bytes; origin-form "/a%20b?q" or
 * absolute-form "https://host/a") into *OUT: percent-decoded, empty and
 * "." segments dropped.  Returns 0, or -400 (bad or truncated escape,
 * "%00", an encoded '/', a ".." segment, a control byte, not a path),
 * or -414 (longer than PATH_MAX_BYTES once decoded).
 */
int path_from_target(const char *target, size_t len, struct target_path *out);

/*
 * Percent-encode NAME (one path segment) into OUT (capacity CAP, NUL-
 * terminated) so it can stand in an href or a Location: every byte but
 * unreserved ones (A-Z a-z 0-9 - . _ ~) is encoded.  Returns the length,
 * or -1 if CAP is too small.
 */
int path_encode_segment(const char *name, char *out, size_t cap);

/*
 * Percent-encode relative PATH ("a/b c") as an absolute URL path
 * ("/a/b%20c"), segment by segment, into OUT.  Returns the length or -1.
 */
int path_encode(const char *path, char *out, size_t cap);

#endif /* FERRY_PATH_H */
