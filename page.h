/*
 * page.h: the listing page's own style and script, and the policy that
 * allows exactly them.
 *
 * Everything the page uses is in here (no external files, fonts or
 * scripts), so the page works offline and its Content-Security-Policy can
 * name each inline element by its SHA-256.
 */
#ifndef FERRY_PAGE_H
#define FERRY_PAGE_H

#include <stdbool.h>

/*
 * The stylesheet, exactly the bytes that go between <style> and </style>;
 * WRITABLE adds the rules of the drop page.  Static storage.
 */
const char *page_style(bool writable);

/*
 * The drop page's controls (drop zone, file picker, "new folder", status
 * line, upload rows), HTML to place after the heading.  Static storage.
 */
const char *page_controls(void);

/*
 * The controls of a drop box's deposit page, for those who may only add
 * files: the drop zone and file picker, a note that nothing is listed,
 * and no "new folder".  Static storage.
 */
const char *page_deposit_controls(void);

/*
 * The drop page's script, exactly the bytes that go between <script> and
 * </script>, placed last in <body>.  It expects page_controls() and the
 * listing's <tbody> with a delete button per row, or
 * page_deposit_controls() and no listing.  Static storage.
 */
const char *page_script(void);

/*
 * The Content-Security-Policy for an HTML listing: its style by hash and
 * nothing else; WRITABLE adds the script by hash and requests to the same
 * origin.  Hashes are computed once, on the first call from any thread.
 */
const char *page_csp(bool writable);

#endif /* FERRY_PAGE_H */
