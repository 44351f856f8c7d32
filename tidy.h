/*
 * tidy.h: the writes in the shared folder other than PUT: DELETE, MKCOL,
 * and the start-up sweep of uploads a killed server left behind.
 *
 * They keep the upload_ names callers know, and upload.h includes this
 * header: they follow its rules (one confined folder, one name acted on
 * with *at() calls, the same lock as a PUT's rename) and use its helpers.
 */
#ifndef FERRY_TIDY_H
#define FERRY_TIDY_H

#include <stddef.h>

#include "files.h"
#include "http.h"

/*
 * Deepest folder the stale sweep descends to; uploads stay two folders
 * shallower, so every temporary file they make is within its reach.
 */
#define UPLOAD_CLEAN_DEPTH 64

/*
 * DELETE of relative PATH: a file, or an empty folder.  Returns 204, or
 * -STATUS: 404, 409 (folder not empty), 403, 412 (preconditions of REQ),
 * 500.  The root itself cannot be deleted (403).
 */
int upload_delete(const struct files_root *root, const char *path,
                  const struct http_request *req);

/*
 * MKCOL of relative PATH: one new folder.  Returns 201, or -STATUS: 405
 * (the name exists), 409 (the parent is missing or not a folder), 403,
 * 500.
 */
int upload_mkcol(const struct files_root *root, const char *path);

/*
 * Remove temporary files left in ROOT by a server that was killed mid
 * upload: walks the tree without following symlinks.  Returns how many
 * were removed.
 */
size_t upload_clean_stale(const struct files_root *root);

#endif /* FERRY_TIDY_H */
