/*
 * cond.h: conditional requests (RFC 9110 section 13) and entity tags.
 *
 * Pure functions: the caller passes the validators of the selected
 * representation (its strong ETag and Last-Modified time) and the
 * request's fields; these say which status the preconditions call for.
 */
#ifndef FERRY_COND_H
#define FERRY_COND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "http.h"

/* Room for an ETag made by cond_etag, quotes and NUL included. */
#define COND_ETAG_MAX 64

/*
 * Write the strong ETag of the file described by ST into OUT (COND_ETAG_MAX
 * bytes), quotes included: it changes whenever the inode, size or
 * modification time (to the nanosecond) changes.
 */
void cond_etag(const struct stat *st, char *out);

/*
 * Evaluate If-Match, If-Unmodified-Since, If-None-Match and
 * If-Modified-Since in the order of RFC 9110 section 13.2.2 for a request
 * with method METHOD on a representation that EXISTS with ETAG and MTIME
 * (both ignored when !EXISTS).  Returns 0 to go on, 304 (GET/HEAD whose
 * copy is current) or 412 (a precondition failed).  Invalid dates are
 * ignored, as the RFC says.
 */
int cond_evaluate(const struct http_request *req, bool exists,
                  const char *etag, time_t mtime);

/*
 * Whether If-Range (present in REQ) still names this representation:
 * a strong ETag equal to ETAG, or an HTTP-date equal to MTIME.  A weak
 * tag or an unparsable value never matches.  True when If-Range is absent.
 */
bool cond_if_range_holds(const struct http_request *req, const char *etag,
                         time_t mtime);

#endif /* FERRY_COND_H */
