/*
 * upload.c: PUT in the shared folder, never half done.
 *
 * A PUT body goes to a dotfile next to its target; once complete it is
 * fsynced, renamed over the target and the folder is fsynced, so the
 * target is always the old version or the whole new one.  Folders are
 * opened confined (files_resolve); every name created, renamed or removed
 * is one component used with *at() calls on such a folder, so symlinks
 * swapped in meanwhile cannot lead a write out of DIR.  Framing the body
 * and answering the client is the caller's job.  DELETE, MKCOL and the
 * stale sweep are in tidy.c, on the helpers this file shares.
 */
#include "upload.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "cond.h"
#include "log.h"
#include "tidy.h"

/* Fresh random names tried before giving up on a temporary file. */
#define UPLOAD_TMP_TRIES 8
/* Dirty data handed to the disk every this many bytes (see write_behind). */
#define UPLOAD_FLUSH_BYTES ((uint64_t)8 << 20)
/* Deepest folder an upload may write in: the stale sweep must reach it. */
#define UPLOAD_MAX_DEPTH   (UPLOAD_CLEAN_DEPTH - 2)

/*
 * Held from a precondition check to the rename or unlink it allows, so
 * that of two writes that saw the same version (If-Match) only one can
 * act on it.  Only those two steps run under it; the fsyncs do not.
 */
static pthread_mutex_t act_lock = PTHREAD_MUTEX_INITIALIZER;

/* What a name in a folder is, and the validators of what it leads to. */
struct found {
    bool present;           /* the name is there (a symlink counts) */
    bool exists;            /* it leads to something: the fields below */
    bool own_dir;           /* the name itself is a folder, not a link */
    mode_t type;            /* S_IFREG, S_IFDIR, ... of what it leads to */
    char etag[COND_ETAG_MAX];
    time_t mtime;
};

static void upload_reset(struct upload *up, const struct files_root *root,
                         uint64_t max_bytes);
static int open_parent(const struct files_root *root, const char *parent,
                       const struct http_request *req, uint64_t declared,
                       bool make_folders);
static int make_parents(const struct files_root *root, const char *parent);
static int open_step(const struct files_root *root, int dirfd, char *prefix,
                     size_t comp);
static int check_target(const struct upload *up,
                        const struct http_request *req, struct found *f);
static int look_up(const struct files_root *root, const char *path,
                   int dirfd, const char *name, struct found *f);
static int check_space(int fd, uint64_t declared);
static int create_temp(struct upload *up);
static int reserve(struct upload *up, uint64_t declared);
static void write_behind(struct upload *up, uint64_t before);
static int rename_into_place(struct upload *up);
static bool has_tmp_segment(const char *parent);
static int depth_of(const char *path);
static void close_keep_errno(int fd);

/*
 * Everything that can refuse the upload is checked before the temporary
 * file exists.  When the parent folders are missing, the preconditions
 * and the free space are checked before any folder is made, so a refusal
 * leaves nothing behind.
 */
int
upload_prepare(const struct files_root *root, const char *path,
               const struct http_request *req, uint64_t declared,
               uint64_t max_bytes, struct upload *up)
{
    return upload_prepare_in(root, path, req, declared, max_bytes, true,
                             up);
}

int
upload_prepare_in(const struct files_root *root, const char *path,
                  const struct http_request *req, uint64_t declared,
                  uint64_t max_bytes, bool make_folders, struct upload *up)
{
    char parent[PATH_MAX];
    struct found f;
    int rv;

    upload_reset(up, root, max_bytes);
    if (upload_is_root(path))
        return -409;                /* the root is a folder */
    if ((rv = upload_split_path(path, parent, up->name)) < 0)
        return rv;
    if (upload_is_tmp_name(up->name) || has_tmp_segment(parent))
        return -403;                /* nobody writes over an upload */
    if (depth_of(path) > UPLOAD_MAX_DEPTH)
        return -403;                /* deeper than the stale sweep goes */
    if (declared != UPLOAD_SIZE_UNKNOWN && declared > max_bytes)
        return -413;

    if ((up->path = strdup(path)) == NULL) {
        rv = upload_status_of("copying the path");
        goto fail;
    }
    if ((rv = open_parent(root, parent, req, declared, make_folders)) < 0)
        goto fail;
    up->dirfd = rv;
    if ((rv = check_target(up, req, &f)) < 0)
        goto fail;
    up->existed = f.present;
    up->create_only = http_slice_eq(req->if_none_match, "*");

    if ((rv = check_space(up->dirfd, declared)) < 0 ||
        (rv = create_temp(up)) < 0 || (rv = reserve(up, declared)) < 0)
        goto fail;
    return 0;
fail:
    upload_abort(up);
    return rv;
}

/*
 * Every UPLOAD_FLUSH_BYTES the data written so far starts on its way to
 * the disk (write_behind), so the fsync in upload_commit finds little
 * left to write.
 */
int
upload_write(struct upload *up, const char *buf, size_t len)
{
    uint64_t before = up->written;
    size_t done = 0;
    ssize_t n;

    if (up->fd == -1)
        return -500;
    if (len > up->max_bytes - up->written)
        return -413;                /* a chunked body just passed the limit */

    while (done < len) {
        n = write(up->fd, buf + done, len - done);
        if (n == -1 && errno == EINTR)
            continue;
        if (n == 0)
            errno = EIO;            /* cannot happen on a file; never spin */
        if (n <= 0)
            return upload_status_of("writing the temporary file");
        done += (size_t)n;
    }
    up->written += len;
    write_behind(up, before);
    return 0;
}

/*
 * The preconditions are checked again because the target may have changed
 * while the body arrived.  Between that check and the rename another
 * upload may still win; with create_only RENAME_NOREPLACE closes that gap,
 * otherwise the last rename wins whole, which is what two PUTs mean.
 */
int
upload_commit(struct upload *up, const struct http_request *req)
{
    struct found f;
    int rv, fd = up->fd;

    if (fd == -1) {
        rv = -500;
        goto out;
    }
    up->fd = -1;
    if (fsync(fd) == -1) {
        rv = upload_status_of("syncing the temporary file");
        close(fd);
        goto out;
    }
    if (close(fd) == -1) {
        rv = upload_status_of("closing the temporary file");
        goto out;
    }

    pthread_mutex_lock(&act_lock);
    if ((rv = check_target(up, req, &f)) == 0)
        rv = rename_into_place(up);
    pthread_mutex_unlock(&act_lock);
    if (rv < 0)
        goto out;
    up->tmp[0] = '\0';              /* it is the target now */

    /*
     * Without this fsync a crash could bring the old name back.  If it
     * fails the new file is in place but may not last: say so.
     */
    if (fsync(up->dirfd) == -1) {
        rv = upload_status_of("syncing the folder");
        goto out;
    }
    rv = f.present && !up->create_only ? 204 : 201;
out:
    upload_abort(up);
    return rv;
}

void
upload_abort(struct upload *up)
{
    if (up->fd != -1)
        close(up->fd);
    up->fd = -1;
    if (up->dirfd != -1) {
        if (up->tmp[0] != '\0' && unlinkat(up->dirfd, up->tmp, 0) == -1 &&
            errno != ENOENT)
            log_warn("upload: removing temporary file %s", up->tmp);
        close(up->dirfd);
    }
    up->dirfd = -1;
    up->tmp[0] = '\0';
    free(up->path);
    up->path = NULL;
}

/* An empty upload: no descriptors, nothing to remove. */
static void
upload_reset(struct upload *up, const struct files_root *root,
             uint64_t max_bytes)
{
    memset(up, 0, sizeof *up);
    up->dirfd = -1;
    up->fd = -1;
    up->root = root;
    up->max_bytes = max_bytes;
}

/*
 * Open folder PARENT below ROOT, making it and any missing folder above
 * it (with MAKE_FOLDERS; else 409).  Before making anything, the target
 * is known to be absent, so the preconditions and the free space can
 * refuse the upload first.  Returns the folder's fd or -STATUS.
 */
static int
open_parent(const struct files_root *root, const char *parent,
            const struct http_request *req, uint64_t declared,
            bool make_folders)
{
    int fd, rv;

    if ((fd = files_resolve(root, parent, UPLOAD_DIR_FLAGS)) != -1)
        return fd;
    if (!make_folders && (errno == ENOENT || errno == ENOTDIR))
        return -409;
    if (errno != ENOENT)
        return upload_status_of("opening the target's folder");
    if (cond_evaluate(req, false, NULL, 0) != 0)
        return -412;
    if ((rv = check_space(root->fd, declared)) < 0)
        return rv;
    return make_parents(root, parent);
}

/*
 * Walk PARENT one component at a time from the root, making what is
 * missing.  Each step is a single name below an open folder, so the walk
 * costs one lookup per component; only a symlink is resolved from the
 * root (open_step).  Returns the last folder's fd or -STATUS.
 */
static int
make_parents(const struct files_root *root, const char *parent)
{
    char prefix[PATH_MAX];
    size_t i = 0, comp, len = strlen(parent);
    int fd, next;
    char c;

    if ((fd = files_resolve(root, ".", UPLOAD_DIR_FLAGS)) == -1)
        return upload_status_of("opening the root");
    memcpy(prefix, parent, len + 1);       /* upload_split_path bounded it */
    while (i < len) {
        for (; prefix[i] == '/'; i++)
            ;
        for (comp = i; i < len && prefix[i] != '/'; i++)
            ;
        c = prefix[i];
        prefix[i] = '\0';
        if (strcmp(prefix + comp, "..") == 0) {
            next = -1;              /* never: it would leave the root */
            errno = EACCES;
        } else if (i == comp || strcmp(prefix + comp, ".") == 0) {
            next = dup(fd);
        } else {
            next = open_step(root, fd, prefix, comp);
        }
        prefix[i] = c;
        close_keep_errno(fd);
        if ((fd = next) == -1)
            return upload_status_of("making a parent folder");
    }
    return fd;
}

/*
 * Open (making it if missing) the component at PREFIX + COMP, a folder
 * inside DIRFD; PREFIX is the whole path to it, NUL-terminated there.  A
 * symlink is not followed by openat: it is resolved from the root like
 * any path.  A dangling one, or a file, ends in ENOENT or ENOTDIR.
 */
static int
open_step(const struct files_root *root, int dirfd, char *prefix,
          size_t comp)
{
    const char *name = prefix + comp;
    int fd, tries;

    for (tries = 0; tries < 2; tries++) {
        fd = openat(dirfd, name, UPLOAD_DIR_FLAGS | O_NOFOLLOW);
        if (fd != -1)
            return fd;
        if (errno == ENOTDIR || errno == ELOOP)
            return files_resolve(root, prefix, UPLOAD_DIR_FLAGS);
        if (errno != ENOENT || tries > 0)
            return -1;
        if (mkdirat(dirfd, name, 0755) == -1 && errno != EEXIST)
            return -1;              /* EEXIST: someone made it first */
    }
    return -1;
}

/*
 * Look at the target as it is now and evaluate REQ's preconditions on
 * it.  Returns 0, or -STATUS: 409 when it is (or leads to) a folder or
 * something other than a file, 412 when a precondition fails.
 */
static int
check_target(const struct upload *up, const struct http_request *req,
             struct found *f)
{
    int rv;

    if ((rv = look_up(up->root, up->path, up->dirfd, up->name, f)) < 0)
        return rv;
    if (f->exists && f->type != S_IFREG)
        return -409;
    if (cond_evaluate(req, f->exists, f->etag, f->mtime) != 0)
        return -412;
    return 0;
}

/*
 * Fill *F for NAME in DIRFD (PATH below ROOT).  A symlink is resolved
 * from the root, as a GET of PATH would be, so its validators are those
 * a client saw; a dangling one leads nowhere.  Returns 0 or -STATUS.
 */
static int
look_up(const struct files_root *root, const char *path, int dirfd,
        const char *name, struct found *f)
{
    struct stat st;
    int fd, rv;

    memset(f, 0, sizeof *f);
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
        return errno == ENOENT ? 0 : upload_status_of("looking at the target");
    f->present = true;
    f->own_dir = S_ISDIR(st.st_mode);

    if (S_ISLNK(st.st_mode)) {
        if ((fd = files_resolve(root, path, O_PATH | O_CLOEXEC)) == -1) {
            if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
                return 0;
            return upload_status_of("resolving a symlink");
        }
        rv = fstat(fd, &st);
        close_keep_errno(fd);
        if (rv == -1)
            return upload_status_of("resolving a symlink");
    }
    f->exists = true;
    f->type = st.st_mode & S_IFMT;
    cond_etag(&st, f->etag);
    f->mtime = st.st_mtim.tv_sec;
    return 0;
}

/*
 * 507 when DECLARED bytes exceed what an unprivileged writer may use on
 * FD's file system.  When that cannot be learned, the writes will tell.
 */
static int
check_space(int fd, uint64_t declared)
{
    struct statvfs vfs;
    uint64_t avail, frsize;

    if (declared == UPLOAD_SIZE_UNKNOWN || declared == 0)
        return 0;
    if (fstatvfs(fd, &vfs) == -1) {
        log_warn("upload: checking free space");
        return 0;
    }
    avail = (uint64_t)vfs.f_bavail;
    frsize = (uint64_t)vfs.f_frsize;
    if (frsize != 0 && avail > UINT64_MAX / frsize)
        return 0;
    return declared > avail * frsize ? -507 : 0;
}

/*
 * A fresh random dotfile in the target's folder.  O_EXCL and O_NOFOLLOW
 * make sure it is a new file of ours, never an existing name or a link
 * planted there.  The mode passes through the umask, as for any file.
 */
static int
create_temp(struct upload *up)
{
    uint64_t r;
    int tries;

    for (tries = 0; tries < UPLOAD_TMP_TRIES; tries++) {
        if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
            return upload_status_of("picking a temporary name");
        snprintf(up->tmp, sizeof up->tmp, "%s%016" PRIx64,
                 UPLOAD_TMP_PREFIX, r);
        up->fd = openat(up->dirfd, up->tmp, O_WRONLY | O_CREAT | O_EXCL |
                        O_CLOEXEC | O_NOFOLLOW, 0644);
        if (up->fd != -1)
            return 0;
        if (errno != EEXIST)
            break;
    }
    up->tmp[0] = '\0';              /* not ours: never remove it */
    return upload_status_of("creating a temporary file");
}

/*
 * Reserve DECLARED bytes, so a body that cannot fit fails now (507)
 * rather than after a long transfer.  KEEP_SIZE leaves the file's size
 * at 0.  A failed fallocate on ext4 can keep what it got, so the file is
 * truncated before it is removed.  File systems without fallocate are
 * simply written.
 */
static int
reserve(struct upload *up, uint64_t declared)
{
    if (declared == UPLOAD_SIZE_UNKNOWN || declared == 0)
        return 0;
    if (declared > (uint64_t)INT64_MAX)
        return -413;
    if (fallocate(up->fd, FALLOC_FL_KEEP_SIZE, 0, (off_t)declared) == 0)
        return 0;

    switch (errno) {
    case ENOSPC:
    case EDQUOT:
        if (ftruncate(up->fd, 0) == -1)
            log_warn("upload: freeing a failed reservation");
        return -507;
    case EFBIG:
        return -413;
    case EOPNOTSUPP:
    case ENOSYS:
    case EINTR:
        return 0;
    default:
        log_warn("upload: reserving %" PRIu64 " bytes", declared);
        return 0;
    }
}

/*
 * Each time another UPLOAD_FLUSH_BYTES are written, ask the kernel to
 * start writing the completed stretch out without waiting for it.  The
 * final fsync runs on the server's event loop and blocks it; without this
 * it could find gigabytes of dirty pages to write.  Failures are left to
 * that fsync to report.
 */
static void
write_behind(struct upload *up, uint64_t before)
{
    uint64_t start = before / UPLOAD_FLUSH_BYTES * UPLOAD_FLUSH_BYTES;
    uint64_t end = up->written / UPLOAD_FLUSH_BYTES * UPLOAD_FLUSH_BYTES;

    if (end > start)
        (void)sync_file_range(up->fd, (off_t)start, (off_t)(end - start),
                              SYNC_FILE_RANGE_WRITE);
}

/*
 * Move the temporary file onto the target's name.  With create_only the
 * name must not exist: RENAME_NOREPLACE, or where a file system lacks it,
 * linkat, which never replaces either.
 */
static int
rename_into_place(struct upload *up)
{
    if (!up->create_only) {
        if (renameat(up->dirfd, up->tmp, up->dirfd, up->name) == -1)
            return upload_status_of("renaming the upload into place");
        return 0;
    }
    if (renameat2(up->dirfd, up->tmp, up->dirfd, up->name,
                  RENAME_NOREPLACE) == 0)
        return 0;
    if (errno == EEXIST)
        return -412;
    if (errno != EINVAL)
        return upload_status_of("renaming the upload into place");

    if (linkat(up->dirfd, up->tmp, up->dirfd, up->name, 0) == -1)
        return errno == EEXIST ? -412 : upload_status_of("linking the upload");
    if (unlinkat(up->dirfd, up->tmp, 0) == -1)
        log_warn("upload: removing temporary file %s", up->tmp);
    return 0;
}

/* Remove NAME in DIRFD (PATH below ROOT) if REQ's preconditions hold. */
int
upload_remove(const struct files_root *root, const char *path, int dirfd,
              const char *name, const struct http_request *req)
{
    struct found f;
    int rv;

    pthread_mutex_lock(&act_lock);
    rv = look_up(root, path, dirfd, name, &f);
    if (rv == 0 && !f.present)
        rv = -404;
    else if (rv == 0 && cond_evaluate(req, f.exists, f.etag, f.mtime) != 0)
        rv = -412;
    else if (rv == 0 &&
             unlinkat(dirfd, name, f.own_dir ? AT_REMOVEDIR : 0) == -1)
        rv = errno == ENOENT ? -404 : upload_status_of("deleting");
    pthread_mutex_unlock(&act_lock);
    if (rv < 0)
        return rv;
    if (fsync(dirfd) == -1)
        return upload_status_of("syncing the folder");
    return 204;
}

bool
upload_is_root(const char *path)
{
    return path[0] == '\0' || strcmp(path, ".") == 0;
}

/*
 * Split PATH into its folder PARENT (PATH_MAX bytes; "." for the root)
 * and its last component NAME (NAME_MAX + 1 bytes).  Returns 0, or -403
 * for a name that cannot be written: empty, "." or "..", or too long.
 */
int
upload_split_path(const char *path, char *parent, char *name)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash != NULL ? slash + 1 : path;
    size_t parent_len = slash != NULL ? (size_t)(slash - path) : 0;
    size_t name_len = strlen(base);

    if (name_len == 0 || name_len > NAME_MAX || strcmp(base, ".") == 0 ||
        strcmp(base, "..") == 0 || parent_len >= PATH_MAX)
        return -403;
    memcpy(name, base, name_len + 1);
    if (parent_len == 0) {
        memcpy(parent, ".", 2);
    } else {
        memcpy(parent, path, parent_len);
        parent[parent_len] = '\0';
    }
    return 0;
}

/* Whether any folder of PARENT is named like an upload's temporary. */
static bool
has_tmp_segment(const char *parent)
{
    const char *p = parent;

    for (;;) {
        if (upload_is_tmp_name(p))
            return true;
        if ((p = strchr(p, '/')) == NULL)
            return false;
        p++;
    }
}

/* How many folders deep PATH ("a/b/c": 2) lies. */
static int
depth_of(const char *path)
{
    int depth = 0;

    while ((path = strchr(path, '/')) != NULL) {
        depth++;
        path++;
    }
    return depth;
}

bool
upload_is_tmp_name(const char *name)
{
    return strncmp(name, UPLOAD_TMP_PREFIX,
                   sizeof UPLOAD_TMP_PREFIX - 1) == 0;
}

/*
 * The status for errno after a failed file system call.  Only what no
 * client can cause on its own is logged, naming WHAT we were doing.
 */
int
upload_status_of(const char *what)
{
    switch (errno) {
    case EACCES:
    case EPERM:
    case EROFS:
    case ENAMETOOLONG:
        return -403;
    case ENOENT:
    case ENOTDIR:
    case ELOOP:
    case EISDIR:
    case ENOTEMPTY:
    case EEXIST:
    case EBUSY:
        return -409;
    case EFBIG:
        return -413;
    case ENOSPC:
    case EDQUOT:
        return -507;
    default:
        log_warn("upload: %s", what);
        return -500;
    }
}

static void
close_keep_errno(int fd)
{
    int saved_errno = errno;

    close(fd);
    errno = saved_errno;
}
