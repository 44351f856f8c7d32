/*
 * upload.h: writes into the shared folder that never leave a file half
 * written: PUT (temporary file, fsync, rename, fsync of the folder),
 * DELETE and MKCOL.
 *
 * Every folder written in is opened through the confined resolver of
 * files.c, and every name created, renamed or removed in it is a single
 * path component used with *at() calls relative to that folder's
 * descriptor, so no write can land outside DIR, whatever symlinks are
 * swapped in meanwhile.  Temporary files are dotfiles named
 * UPLOAD_TMP_PREFIX..., never listed or served.
 */
#ifndef FERRY_UPLOAD_H
#define FERRY_UPLOAD_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "files.h"
#include "http.h"

#define UPLOAD_TMP_PREFIX FILES_UPLOAD_TMP_PREFIX
#define UPLOAD_SIZE_UNKNOWN UINT64_MAX   /* chunked: no Content-Length */

struct upload {
    int dirfd;              /* the target's folder, inside the root */
    int fd;                 /* the temporary file, or -1 */
    char name[NAME_MAX + 1];/* the target's name in dirfd */
    char tmp[64];           /* the temporary file's name in dirfd */
    bool existed;           /* the target existed when prepared */
    bool create_only;       /* If-None-Match: *: never replace */
    uint64_t written;
    uint64_t max_bytes;     /* --max-upload, or UINT64_MAX */
    /* A target that is a symlink is re-resolved at commit through these. */
    const struct files_root *root;  /* not owned */
    char *path;             /* owned copy of PATH, or NULL */
};

/*
 * Check a PUT of relative PATH (from path_from_target; not the root, no
 * trailing slash) against what is there, before any byte of the body is
 * read: the preconditions of REQ (If-Match, If-None-Match,
 * If-Unmodified-Since), the DECLARED length (or UPLOAD_SIZE_UNKNOWN)
 * against MAX_BYTES and the free space.  Creates missing parent folders,
 * then the temporary file.  Returns 0 with *UP ready, or -STATUS: 403
 * (not permitted by the file system), 409 (a parent is a file, or PATH
 * is a folder), 412 (precondition failed), 413 (over MAX_BYTES), 507 (no
 * room), 500.  On failure nothing is left behind.
 */
int upload_prepare(const struct files_root *root, const char *path,
                   const struct http_request *req, uint64_t declared,
                   uint64_t max_bytes, struct upload *up);

/*
 * Append LEN bytes of the body.  Returns 0, or -STATUS: 413 past
 * MAX_BYTES, 507 when the disk is full, 500 on another error.  After a
 * failure call upload_abort.
 */
int upload_write(struct upload *up, const char *buf, size_t len);

/*
 * The body is complete: fsync the file, check the preconditions of REQ
 * again against the target as it is now, rename the file over it (never
 * replacing with create_only), fsync the folder.  Returns 201 (created)
 * or 204 (replaced), or -STATUS (409 if the name became a folder, 412,
 * 507, 500) after removing the temporary file.  Closes everything either
 * way.
 */
int upload_commit(struct upload *up, const struct http_request *req);

/* Give up: remove the temporary file, close everything.  Idempotent. */
void upload_abort(struct upload *up);

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

#endif /* FERRY_UPLOAD_H */
