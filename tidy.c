/*
 * tidy.c: DELETE, MKCOL, and the start-up sweep of unfinished uploads.
 *
 * The writes in the shared folder other than a PUT's body.  They follow
 * upload.c's rules and use its helpers: the folder written in is opened
 * confined (files_resolve), the name acted on is one component used with
 * *at() calls on it, and the unlink of a DELETE runs under the same lock
 * as a PUT's rename (upload_remove).  Answering the client is the
 * caller's job.
 */
#include "tidy.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "upload.h"

/* Start-up sweep bound: entries read in all. */
#define UPLOAD_CLEAN_ENTRIES 10000000

static void clean_dir(int fd, int depth, size_t *budget, size_t *removed);
static void clean_entry(int dfd, const struct dirent *e, int depth,
                        size_t *budget, size_t *removed);
static void log_warn_name(const char *what, const char *name);

/*
 * A symlink is removed itself, never what it points at.  Temporary files
 * do not exist as far as clients can tell.
 */
int
upload_delete(const struct files_root *root, const char *path,
              const struct http_request *req)
{
    char parent[PATH_MAX], name[NAME_MAX + 1];
    int dirfd, rv;

    if (upload_is_root(path))
        return -403;
    if ((rv = upload_split_path(path, parent, name)) < 0)
        return rv;
    if (upload_is_tmp_name(name))
        return -404;

    dirfd = files_resolve(root, parent, UPLOAD_DIR_FLAGS);
    if (dirfd == -1) {
        if (errno == ENOENT || errno == ENOTDIR)
            return -404;
        return upload_status_of("opening the folder to delete in");
    }
    rv = upload_remove(root, path, dirfd, name, req);
    close(dirfd);
    return rv;
}

int
upload_mkcol(const struct files_root *root, const char *path)
{
    char parent[PATH_MAX], name[NAME_MAX + 1];
    int dirfd, rv;

    if (upload_is_root(path))
        return -405;                /* the root exists */
    if ((rv = upload_split_path(path, parent, name)) < 0)
        return rv;
    if (upload_is_tmp_name(name))
        return -403;

    /*
     * upload_status_of makes a missing or non-folder parent 409
     * (RFC 4918 9.3.1).
     */
    if ((dirfd = files_resolve(root, parent, UPLOAD_DIR_FLAGS)) == -1)
        return upload_status_of("opening the parent folder");
    if (mkdirat(dirfd, name, 0755) == -1)
        rv = errno == EEXIST ? -405 : upload_status_of("making a folder");
    else if (fsync(dirfd) == -1)
        rv = upload_status_of("syncing the parent folder");
    else
        rv = 201;
    close(dirfd);
    return rv;
}

/* Symlinks are never followed, so the sweep stays inside DIR. */
size_t
upload_clean_stale(const struct files_root *root)
{
    size_t removed = 0, budget = UPLOAD_CLEAN_ENTRIES;
    int fd;

    fd = openat(root->fd, ".", UPLOAD_DIR_FLAGS);
    if (fd == -1) {
        log_warn("upload: opening the root to remove stale uploads");
        return 0;
    }
    clean_dir(fd, 0, &budget, &removed);
    if (budget == 0)
        log_warnx("upload: stopped looking for stale uploads after %d "
                  "entries", UPLOAD_CLEAN_ENTRIES);
    return removed;
}

/* Sweep the folder open as FD (taken over and closed). */
static void
clean_dir(int fd, int depth, size_t *budget, size_t *removed)
{
    struct dirent *e;
    DIR *d;

    if ((d = fdopendir(fd)) == NULL) {
        log_warn("upload: reading a folder for stale uploads");
        close(fd);
        return;
    }
    while (*budget > 0 && (e = readdir(d)) != NULL) {
        (*budget)--;
        clean_entry(dirfd(d), e, depth, budget, removed);
    }
    closedir(d);
}

/*
 * Remove E if it is a temporary file; descend if it is a folder.
 * O_NOFOLLOW keeps a folder swapped for a symlink from leading us out.
 */
static void
clean_entry(int dfd, const struct dirent *e, int depth, size_t *budget,
            size_t *removed)
{
    unsigned char type = e->d_type;
    struct stat st;
    int fd;

    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
        return;
    if (type == DT_UNKNOWN) {
        if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1)
            return;
        type = S_ISREG(st.st_mode) ? DT_REG :
               S_ISDIR(st.st_mode) ? DT_DIR : DT_UNKNOWN;
    }

    if (type == DT_REG && upload_is_tmp_name(e->d_name)) {
        if (unlinkat(dfd, e->d_name, 0) == 0)
            (*removed)++;
        else if (errno != ENOENT)
            log_warn_name("upload: removing stale upload", e->d_name);
        return;
    }
    if (type != DT_DIR || depth + 1 >= UPLOAD_CLEAN_DEPTH)
        return;
    fd = openat(dfd, e->d_name, UPLOAD_DIR_FLAGS | O_NOFOLLOW);
    if (fd != -1)
        clean_dir(fd, depth + 1, budget, removed);
}

/* Log WHAT about NAME, a name from the disk: escaped, as any such bytes. */
static void
log_warn_name(const char *what, const char *name)
{
    char esc[4 * NAME_MAX + 1];
    int saved_errno = errno;

    log_escape(esc, sizeof esc, name, strlen(name));
    errno = saved_errno;
    log_warn("%s \"%s\"", what, esc);
}
