/*
 * tls_files.c: reading the certificate chain, key and client CA.
 *
 * The files are found at start through a descriptor of their folder, kept
 * for reloads inside a chroot; each is read whole into memory, as
 * mbedTLS's own loaders would, parsed, and the bytes wiped.  Opening a
 * file's folder is shared with the --auth user file (gate.c).
 */
#include "tls_files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/platform_util.h>

#include "tls.h"
#include "tls_log.h"

static int read_file(const struct tls_file *f, const char *what,
                     unsigned char **buf, size_t *len, struct tls_why *why);
static int read_all(int fd, unsigned char *buf, size_t cap, size_t *len);
static void wipe(unsigned char *buf, size_t len);

/*
 * Remember PATH as a folder descriptor and a name in it.  O_PATH needs no
 * read permission and is enough for openat.
 */
int
tls_files_open(struct tls_file *f, const char *what, const char *path,
               struct tls_why *why)
{
    if (snprintf(f->path, sizeof f->path, "%s", path) >=
        (int)sizeof f->path)
        return tls_fail(why, 0, 0, "%s path too long: %.64s...", what, path);
    f->dirfd = tls_files_open_dir(path, f->name, sizeof f->name);
    if (f->dirfd == -1 && (errno == EINVAL || errno == ENAMETOOLONG))
        return tls_fail(why, 0, 0, "cannot load %s %s: not a file name", what,
                        path);
    if (f->dirfd == -1)
        return tls_fail(why, errno, 0, "cannot load %s %s: cannot open its "
                        "folder", what, path);
    return 0;
}

int
tls_files_open_dir(const char *path, char *name, size_t name_cap)
{
    char dir[PATH_MAX];
    const char *slash, *last;
    size_t dir_len;

    slash = strrchr(path, '/');
    last = slash != NULL ? slash + 1 : path;
    dir_len = slash == NULL ? 0 : slash == path ? 1 : (size_t)(slash - path);
    if (*last == '\0' || strcmp(last, ".") == 0 || strcmp(last, "..") == 0) {
        errno = EINVAL;
        return -1;
    }
    if (strlen(last) >= name_cap || dir_len >= sizeof dir) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(name, last, strlen(last) + 1);
    memcpy(dir, dir_len > 0 ? path : ".", dir_len > 0 ? dir_len : 1);
    dir[dir_len > 0 ? dir_len : 1] = '\0';
    return open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
}

/*
 * Read F whole into *BUF (to free with wipe) the way mbedTLS's own file
 * loaders do: NUL-terminated, and for PEM the NUL counted in *LEN.  Only
 * regular files: mbedTLS would size a device by seeking.
 */
static int
read_file(const struct tls_file *f, const char *what, unsigned char **buf,
          size_t *len, struct tls_why *why)
{
    struct stat st;
    int fd, rv = -1;

    *buf = NULL;
    fd = openat(f->dirfd, f->name,
                O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd == -1) {
        if (errno == EACCES && geteuid() != 0)
            return tls_fail(why, 0, 0, "cannot load %s %s: permission denied "
                            "for uid %u (after dropping root, it must be "
                            "readable by --user)", what, f->path,
                            (unsigned int)geteuid());
        return tls_fail(why, errno, 0, "cannot load %s %s", what, f->path);
    }
    if (fstat(fd, &st) == -1)
        tls_fail(why, errno, 0, "cannot load %s %s", what, f->path);
    else if (!S_ISREG(st.st_mode))
        tls_fail(why, 0, 0, "cannot load %s %s: not a regular file", what,
                 f->path);
    else if (st.st_size == 0)
        tls_fail(why, 0, 0, "cannot load %s %s: empty file", what, f->path);
    else if (st.st_size > TLS_FILE_MAX_BYTES)
        tls_fail(why, 0, 0, "cannot load %s %s: larger than %d bytes", what,
                 f->path, TLS_FILE_MAX_BYTES);
    else if ((*buf = malloc((size_t)st.st_size + 1)) == NULL)
        tls_fail(why, errno, 0, "cannot load %s %s", what, f->path);
    else if (read_all(fd, *buf, (size_t)st.st_size, len) == -1)
        tls_fail(why, errno, 0, "cannot load %s %s", what, f->path);
    else
        rv = 0;
    close(fd);
    if (rv == -1) {
        free(*buf);             /* nothing read into it yet, or wiped */
        *buf = NULL;
        return -1;
    }
    (*buf)[*len] = '\0';
    if (strstr((const char *)*buf, "-----BEGIN ") != NULL)
        (*len)++;
    return 0;
}

/* Read up to CAP bytes (the file may shrink meanwhile); wipes on error. */
static int
read_all(int fd, unsigned char *buf, size_t cap, size_t *len)
{
    ssize_t n;
    int saved_errno;

    *len = 0;
    while (*len < cap) {
        n = read(fd, buf + *len, cap - *len);
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1) {
            saved_errno = errno;
            mbedtls_platform_zeroize(buf, *len);
            errno = saved_errno;
            return -1;
        }
        if (n == 0)
            break;
        *len += (size_t)n;
    }
    return 0;
}

/* Key bytes must not linger in freed memory; certificates cost little. */
static void
wipe(unsigned char *buf, size_t len)
{
    if (buf == NULL)
        return;
    mbedtls_platform_zeroize(buf, len);
    free(buf);
}

int
tls_files_parse_crt(const struct tls_file *f, const char *what,
                    mbedtls_x509_crt *crt, struct tls_why *why)
{
    unsigned char *buf;
    size_t len;
    int ret;

    if (read_file(f, what, &buf, &len, why) == -1)
        return -1;
    ret = mbedtls_x509_crt_parse(crt, buf, len);
    wipe(buf, len);
    if (ret > 0)                /* some of the chain did not parse */
        return tls_fail(why, 0, 0, "cannot load %s %s: %d certificate(s) in it "
                        "are not valid", what, f->path, ret);
    if (ret < 0)
        return tls_fail(why, 0, ret, "cannot load %s %s", what, f->path);
    return 0;
}

int
tls_files_parse_key(const struct tls_file *f, mbedtls_pk_context *key,
                    struct tls_why *why)
{
    unsigned char *buf;
    size_t len;
    int ret;

    if (read_file(f, "key", &buf, &len, why) == -1)
        return -1;
    ret = mbedtls_pk_parse_key(key, buf, len, NULL, 0);
    wipe(buf, len);
    if (ret != 0)
        return tls_fail(why, 0, ret, "cannot load key %s", f->path);
    return 0;
}
