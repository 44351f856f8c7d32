/*
 * listing.h: a directory listing rendered for people and programs.
 *
 * HTML for browsers (names escaped, hrefs percent-encoded per segment,
 * readable on a phone), JSON for "Accept: application/json", and one name
 * per line for "Accept: text/plain".  Pure: works on a struct listing.
 * When the share is writable, the HTML page is also the drop page: upload
 * by drag and drop or a file picker, new folder, delete.
 */
#ifndef FERRY_LISTING_H
#define FERRY_LISTING_H

#include <stdbool.h>
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
 * nothing prefers another.  Reads only LEN bytes (see accept.h).
 */
enum listing_format listing_pick_format(const char *accept, size_t len);

/* The Content-Type to send with FORMAT. */
const char *listing_content_type(enum listing_format format);

/*
 * Render L in FORMAT for the folder at relative PATH ("." for the root,
 * else "a/b").  WRITABLE (-w) makes the HTML page the drop page; JSON and
 * text do not change.  Returns a malloc'd buffer of *LEN bytes (caller
 * frees), or NULL with errno ENOMEM.
 */
char *listing_render(enum listing_format format, const char *path,
                     const struct listing *l, bool writable, size_t *len);

/*
 * The HTML page a drop box shows those who may only deposit, for the
 * folder at relative PATH: the drop controls and script, a note that
 * nothing is listed, and no entries, "new folder" or delete buttons.
 * Its policy is listing_csp(true).  Returns a malloc'd buffer of *LEN
 * bytes (caller frees), or NULL with errno ENOMEM.
 */
char *listing_render_deposit(const char *path, size_t *len);

/*
 * The Content-Security-Policy for HTML listings rendered with the same
 * WRITABLE: nothing but the page's own inline style is allowed (by its
 * hash); writable, also its script (by hash) and requests to its origin.
 */
const char *listing_csp(bool writable);

#endif /* FERRY_LISTING_H */
