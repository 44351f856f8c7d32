/*
 * upload.h: writes into the shared folder that never leave a file half
 * written: PUT (temporary file, fsync, rename, fsync of the folder) here,
 * DELETE, MKCOL and the sweep of stale temporary files in tidy.h.
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

#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "files.h"
#include "http.h"

#define UPLOAD_TMP_PREFIX FILES_UPLOAD_TMP_PREFIX
#define UPLOAD_SIZE_UNKNOWN UINT64_MAX   /* chunked: no Content-Length */
/* Folders we open to write in: readable, so they can be fsynced. */
#define UPLOAD_DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_CLOEXEC)

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
 * upload_prepare, except that without MAKE_FOLDERS a missing parent
 * folder is refused with 409 instead of made (a drop box's deposit).
 */
int upload_prepare_in(const struct files_root *root, const char *path,
                      const struct http_request *req, uint64_t declared,
                      uint64_t max_bytes, bool make_folders,
                      struct upload *up);

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
 * The rest is shared with tidy.c (DELETE, MKCOL), which writes by the
 * same rules; nothing else needs it.
 */

/* Whether relative PATH (from path_from_target) names the root itself. */
bool upload_is_root(const char *path);

/*
 * Split PATH into its folder PARENT (PATH_MAX bytes; "." for the root)
 * and its last component NAME (NAME_MAX + 1 bytes).  Returns 0, or -403
 * for a name that cannot be written: empty, "." or "..", or too long.
 */
int upload_split_path(const char *path, char *parent, char *name);

/* Whether NAME is named like an upload's temporary file. */
bool upload_is_tmp_name(const char *name);

/*
 * The -STATUS for errno after a failed file system call: 403, 409, 413,
 * 507, else 500.  WHAT (what we were doing) is logged only for what no
 * client can cause on its own.
 */
int upload_status_of(const char *what);

/*
 * Remove NAME in the folder DIRFD (PATH below ROOT): a file, an empty
 * folder, or a symlink itself, if REQ's preconditions hold for what PATH
 * leads to.  The check and the unlink run under the lock that
 * upload_commit holds from its check to its rename, so a DELETE and a
 * PUT that saw the same version cannot both act on it.  Then DIRFD is
 * fsynced.  Returns 204, or -STATUS: 404, 412, or one of
 * upload_status_of.  DIRFD stays the caller's.
 */
int upload_remove(const struct files_root *root, const char *path,
                  int dirfd, const char *name,
                  const struct http_request *req);

#endif /* FERRY_UPLOAD_H */
