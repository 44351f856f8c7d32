/*
 * listing.h: a directory listing rendered for people and programs.
 *
 * HTML for browsers (names escaped, hrefs percent-encoded per segment,
 * readable on a phone), JSON for "Accept: application/json", and one name
 * per line for "Accept: text/plain".  Pure: works on a struct listing.
 */
#ifndef FERRY_LISTING_H
#define FERRY_LISTING_H

#include <stddef.h>

#include "files.h"

enum listing_format {
    LISTING_HTML,
    LISTING_JSON,
    LISTING_TEXT,
};

/*
 * Choose the format from an Accept field value (LEN 0 when absent) by its
 * q-values among text/html, application/json and text/plain; HTML when
 * nothing prefers another.
 */
enum listing_format listing_pick_format(const char *accept, size_t len);

/* The Content-Type to send with FORMAT. */
const char *listing_content_type(enum listing_format format);

/*
 * Render L in FORMAT for the folder at relative PATH ("." for the root,
 * else "a/b").  Returns a malloc'd buffer of *LEN bytes (caller frees), or
 * NULL with errno ENOMEM.
 */
char *listing_render(enum listing_format format, const char *path,
                     const struct listing *l, size_t *len);

/*
 * The Content-Security-Policy for HTML listings: nothing but the page's
 * own inline style is allowed (by its hash).
 */
const char *listing_csp(void);

#endif /* FERRY_LISTING_H */
