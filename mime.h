/*
 * mime.h: Content-Type by file name extension.
 *
 * Read /etc/mime.types once at start-up (before any chroot); a built-in
 * table answers for common types when the file is missing.
 */
#ifndef FERRY_MIME_H
#define FERRY_MIME_H

/*
 * Load PATH (mime.types format) over the built-in table.  Returns 0, or -1
 * with errno if it could not be read (the built-in table still works).
 */
int mime_load(const char *path);

/*
 * The Content-Type for NAME, with "; charset=utf-8" for text types, or
 * "application/octet-stream".  The string is static.  Thread-safe after
 * mime_load.
 */
const char *mime_type_for(const char *name);

/* Free the loaded table (for leak checkers at exit). */
void mime_free(void);

#endif /* FERRY_MIME_H */
