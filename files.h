/*
 * files.h: the shared folder, confined.
 *
 * Every path a client names is opened here, relative to a directory fd of
 * DIR, with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS): "..", absolute
 * symlinks and symlinks leading out are clamped to DIR by the kernel, even
 * while someone swaps directories during the lookup.  Only regular files
 * and directories are ever opened for reading; FIFOs and device nodes are
 * refused without being opened.
 */
#ifndef FERRY_FILES_H
#define FERRY_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

/*
 * Unfinished uploads are dotfiles with this prefix (upload.c): never
 * listed or served, even with --hidden.
 */
#define FILES_UPLOAD_TMP_PREFIX ".ferry-upload-"

struct files_root {
    int fd;                 /* O_PATH | O_DIRECTORY descriptor of DIR */
    bool hidden;            /* --hidden: list and serve dotfiles */
};

/* Open DIR as the root.  Returns 0, or -1 with errno set. */
int files_root_open(struct files_root *root, const char *dir, bool hidden);

/* Close the root; accepts a root that was never opened (fd -1). */
void files_root_close(struct files_root *root);

/*
 * The one resolver: open PATH below ROOT with open(2) FLAGS through
 * openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS).  PATH is not trusted:
 * "..", absolute paths and symlinks are resolved with ROOT as "/", so the
 * result is inside DIR or nothing, and procfs magic links are refused.
 * It checks no type and hides no dotfile; that is the caller's part.  A
 * lookup that meets ".." fails with EAGAIN when anything is renamed
 * meanwhile; that is retried a bounded number of times.  Returns an fd
 * (the caller closes it), or -1 with errno (EAGAIN once the retries are
 * spent).
 */
int files_resolve(const struct files_root *root, const char *path,
                  int flags);

/*
 * Open relative PATH (as made by path_from_target) below ROOT for reading
 * and fill *ST.  Returns an fd of a regular file or a directory (the
 * caller closes it), or -1 with errno: ENOENT/ENOTDIR (absent), EACCES
 * (not a regular file or directory, or not readable), ELOOP, ENAMETOOLONG,
 * EMFILE, ...  Retries the lookup a bounded number of times on EAGAIN.
 */
int files_open(const struct files_root *root, const char *path,
               struct stat *st);

/* Done with FD from files_open: close it, or leave it kept for reuse. */
void files_close(int fd);

/* One entry of a directory listing. */
struct listing_entry {
    char *name;             /* owned by the listing */
    bool is_dir;
    uint64_t size;
    time_t mtime;
};

struct listing {
    struct listing_entry *entries;
    size_t count;
};

/*
 * Read the directory open as DIRFD (PATH is its relative path below ROOT,
 * used to stat symlinks through the confined resolver) into *OUT, sorted:
 * folders first, then by name.  Dotfiles are left out unless root->hidden;
 * entries that are neither regular files nor directories once resolved,
 * and symlinks whose target is missing, are left out.  Returns 0, or -1
 * with errno.  DIRFD stays open and owned by the caller.
 */
int files_list(const struct files_root *root, const char *path, int dirfd,
               struct listing *out);

/* Free a listing filled by files_list; accepts an empty one. */
void listing_free(struct listing *l);

#endif /* FERRY_FILES_H */
