/*
 * files.c: the shared folder, opened and listed confined.
 *
 * Every lookup below DIR goes through openat2 with RESOLVE_IN_ROOT, so the
 * kernel clamps "..", absolute symlinks and symlinks leading out to DIR,
 * also while directories are renamed during the walk.  This file opens and
 * lists; the connection code decides what a failure means in HTTP, and
 * listing.c renders what files_list reads.
 */
#include "files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "opencache.h"

/*
 * An IN_ROOT lookup that meets ".." fails with EAGAIN whenever anything on
 * the system is renamed (our own uploads too); the kernel asks us to retry.
 */
#define FILES_EAGAIN_TRIES 64
/* Tries when the path is swapped between the type check and the open. */
#define FILES_SWAP_TRIES 8
/* Entries per listing: bounds the memory one request can make us use. */
#define FILES_LIST_MAX 100000
/* First allocation of a listing's entry array. */
#define FILES_LIST_FIRST 64

static bool dot_segment(const char *path);
static bool upload_temp(const char *path);
static int probe(const struct files_root *root, const char *path,
                 struct stat *st);
static int open_checked(const struct files_root *root, const char *path,
                        const struct stat *first, struct stat *st);
static void close_keep_errno(int fd);
static int read_entries(const struct files_root *root, const char *path,
                        DIR *d, struct listing *out);
static bool skip_name(const struct files_root *root, const char *name);
static int add_entry(const struct files_root *root, const char *path,
                     int dfd, const char *name, struct listing *out,
                     size_t *cap);
static int entry_stat(const struct files_root *root, const char *path,
                      int dfd, const char *name, struct stat *st);
static int grow(struct listing *out, size_t *cap);
static int compare_entries(const void *a, const void *b);

int
files_root_open(struct files_root *root, const char *dir, bool hidden)
{
    struct stat st;

    root->hidden = hidden;
    root->fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root->fd == -1)
        return -1;
    if (fstat(root->fd, &st) == -1)
        goto fail;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        goto fail;
    }
    return 0;
fail:
    close_keep_errno(root->fd);
    root->fd = -1;
    return -1;
}

void
files_root_close(struct files_root *root)
{
    if (root->fd != -1)
        close(root->fd);
    root->fd = -1;
}

/*
 * Check the type through an O_PATH descriptor first, which opens nothing:
 * opening a FIFO for reading blocks, opening a device can act.  Then open
 * for reading and make sure it is still the same inode, since the path can
 * be swapped in between.  O_NONBLOCK keeps a FIFO swapped into that window
 * from blocking us; it changes nothing for files and directories.
 */
int
files_open(const struct files_root *root, const char *path, struct stat *st)
{
    struct stat first;
    int fd, tries;

    /* The caller refuses dotfiles already; this is the second line. */
    if ((!root->hidden && dot_segment(path)) || upload_temp(path)) {
        errno = ENOENT;
        return -1;
    }

    for (tries = 0; tries < FILES_SWAP_TRIES; tries++) {
        if (probe(root, path, &first) == -1)
            return -1;
        if (S_ISREG(first.st_mode) && (fd = opencache_take(&first)) != -1) {
            *st = first;
            return fd;
        }
        fd = open_checked(root, path, &first, st);
        if (fd != -1 && S_ISREG(st->st_mode))
            opencache_offer(fd, st);
        if (fd != -1 || errno != EAGAIN)
            return fd;
    }
    errno = EAGAIN;
    return -1;
}

void
files_close(int fd)
{
    if (!opencache_release(fd))
        close(fd);
}

/*
 * openat2 below ROOT, with ROOT acting as "/" and procfs magic links
 * refused.  Returns an fd or -1 with errno.
 */
int
files_resolve(const struct files_root *root, const char *path, int flags)
{
    struct open_how how;
    long fd = -1;
    int tries;

    memset(&how, 0, sizeof how);
    how.flags = (uint64_t)flags;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    for (tries = 0; tries < FILES_EAGAIN_TRIES; tries++) {
        fd = syscall(SYS_openat2, root->fd, path, &how, sizeof how);
        if (fd != -1 || errno != EAGAIN)
            break;
    }
    return (int)fd;
}

/* Whether a segment of PATH starts with '.' (the root "." does not). */
static bool
dot_segment(const char *path)
{
    const char *p = path;

    for (;;) {
        if (p[0] == '.' && p[1] != '\0' && p[1] != '/')
            return true;
        p = strchr(p, '/');
        if (p == NULL)
            return false;
        p++;
    }
}

/* Whether the last segment of PATH names an unfinished upload. */
static bool
upload_temp(const char *path)
{
    const char *base = strrchr(path, '/');

    base = base != NULL ? base + 1 : path;
    return strncmp(base, FILES_UPLOAD_TMP_PREFIX,
                   sizeof FILES_UPLOAD_TMP_PREFIX - 1) == 0;
}

/* Stat PATH without opening it; only files and folders pass. */
static int
probe(const struct files_root *root, const char *path, struct stat *st)
{
    int fd, rv;

    fd = files_resolve(root, path, O_PATH | O_CLOEXEC);
    if (fd == -1)
        return -1;
    rv = fstat(fd, st);
    close_keep_errno(fd);
    if (rv == -1)
        return -1;
    if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode)) {
        errno = EACCES;
        return -1;
    }
    return 0;
}

/*
 * Open PATH for reading and fill *ST; it must be the inode FIRST that
 * probe saw.  Returns the fd, or -1 with EAGAIN when it was swapped.
 */
static int
open_checked(const struct files_root *root, const char *path,
             const struct stat *first, struct stat *st)
{
    int fd, flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;

    if (S_ISDIR(first->st_mode))
        flags |= O_DIRECTORY;
    fd = files_resolve(root, path, flags);
    if (fd == -1)
        return -1;
    if (fstat(fd, st) == -1) {
        close_keep_errno(fd);
        return -1;
    }
    if (st->st_dev != first->st_dev || st->st_ino != first->st_ino) {
        close(fd);
        errno = EAGAIN;
        return -1;
    }
    return fd;
}

static void
close_keep_errno(int fd)
{
    int saved_errno = errno;

    close(fd);
    errno = saved_errno;
}

/*
 * The directory is read through a fresh open of "." on DIRFD: a dup would
 * share the caller's file offset.  "." is the directory itself, so no
 * path is resolved here.
 */
int
files_list(const struct files_root *root, const char *path, int dirfd,
           struct listing *out)
{
    DIR *d = NULL;
    int fd, rv = -1, saved_errno;

    out->entries = NULL;
    out->count = 0;

    fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd == -1)
        return -1;
    d = fdopendir(fd);
    if (d == NULL) {
        close_keep_errno(fd);
        return -1;
    }

    if (read_entries(root, path, d, out) == 0) {
        if (out->count > 1)
            qsort(out->entries, out->count, sizeof *out->entries,
                  compare_entries);
        rv = 0;
    }

    saved_errno = errno;
    closedir(d);
    if (rv == -1)
        listing_free(out);
    errno = saved_errno;
    return rv;
}

/* Read D to the end, or to FILES_LIST_MAX entries, into OUT. */
static int
read_entries(const struct files_root *root, const char *path, DIR *d,
             struct listing *out)
{
    struct dirent *de;
    size_t cap = 0;
    char shown[128];

    for (;;) {
        errno = 0;
        de = readdir(d);
        if (de == NULL)
            return errno != 0 ? -1 : 0;
        if (skip_name(root, de->d_name))
            continue;
        if (out->count == FILES_LIST_MAX) {
            log_escape(shown, sizeof shown, path, strlen(path));
            log_warnx("files: listing cut at %d entries: %s",
                      FILES_LIST_MAX, shown);
            return 0;
        }
        if (add_entry(root, path, dirfd(d), de->d_name, out, &cap) == -1)
            return -1;
    }
}

/*
 * Names left out of listings: "." and "..", dotfiles unless --hidden, and
 * names with control bytes, which no request can name (path.c refuses
 * them), so a link to them could only fail.
 */
static bool
skip_name(const struct files_root *root, const char *name)
{
    const unsigned char *p;

    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return true;
    if ((name[0] == '.' && !root->hidden) || upload_temp(name))
        return true;
    for (p = (const unsigned char *)name; *p != '\0'; p++)
        if (*p < 0x20 || *p == 0x7f)
            return true;
    return false;
}

/*
 * Append NAME, an entry of the folder DFD at PATH, to OUT.  Entries that
 * vanish or are not files or folders are skipped, not errors.  Returns -1
 * only when out of memory.
 */
static int
add_entry(const struct files_root *root, const char *path, int dfd,
          const char *name, struct listing *out, size_t *cap)
{
    struct listing_entry *e;
    struct stat st;

    if (entry_stat(root, path, dfd, name, &st) == -1)
        return 0;
    if (out->count == *cap && grow(out, cap) == -1)
        return -1;

    e = &out->entries[out->count];
    e->name = strdup(name);
    if (e->name == NULL)
        return -1;
    e->is_dir = S_ISDIR(st.st_mode);
    e->size = e->is_dir ? 0 : (uint64_t)st.st_size;
    e->mtime = st.st_mtime;
    out->count++;
    return 0;
}

/*
 * Stat NAME in DFD.  A symlink is followed through the confined resolver,
 * from ROOT by its full path, so a link leading out of DIR lands inside or
 * nowhere.  Returns 0 for a file or folder, else -1.
 */
static int
entry_stat(const struct files_root *root, const char *path, int dfd,
           const char *name, struct stat *st)
{
    char full[PATH_MAX];
    int fd, n, rv;

    if (fstatat(dfd, name, st, AT_SYMLINK_NOFOLLOW) == -1)
        return -1;
    if (S_ISLNK(st->st_mode)) {
        n = snprintf(full, sizeof full, "%s/%s", path, name);
        if (n < 0 || (size_t)n >= sizeof full)
            return -1;
        fd = files_resolve(root, full, O_PATH | O_CLOEXEC);
        if (fd == -1)
            return -1;
        rv = fstat(fd, st);
        close(fd);
        if (rv == -1)
            return -1;
    }
    return S_ISREG(st->st_mode) || S_ISDIR(st->st_mode) ? 0 : -1;
}

static int
grow(struct listing *out, size_t *cap)
{
    struct listing_entry *bigger;
    size_t n;

    n = *cap == 0 ? FILES_LIST_FIRST : *cap * 2;
    if (n > FILES_LIST_MAX)
        n = FILES_LIST_MAX;
    bigger = realloc(out->entries, n * sizeof *bigger);
    if (bigger == NULL)
        return -1;
    out->entries = bigger;
    *cap = n;
    return 0;
}

/* Folders first, then byte order, so the order is the same everywhere. */
static int
compare_entries(const void *a, const void *b)
{
    const struct listing_entry *x = a, *y = b;

    if (x->is_dir != y->is_dir)
        return x->is_dir ? -1 : 1;
    return strcmp(x->name, y->name);
}

void
listing_free(struct listing *l)
{
    size_t i;

    if (l == NULL)
        return;
    for (i = 0; i < l->count; i++)
        free(l->entries[i].name);
    free(l->entries);
    l->entries = NULL;
    l->count = 0;
}
