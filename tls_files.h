/*
 * tls_files.h: reading the PEM files a TLS configuration is made from.
 *
 * Each file is remembered at start-up as a descriptor of its folder and a
 * name in it, so that tls_server_reload can read it again after chroot,
 * when its path may no longer lead to it.  A file is read whole each time
 * it is parsed, size-checked first, and its bytes are zeroed before they
 * are freed.  Callers own the mbedTLS objects parsed into.
 */
#ifndef FERRY_TLS_FILES_H
#define FERRY_TLS_FILES_H

#include <limits.h>
#include <stddef.h>

#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

struct tls_why;

/*
 * A file read at start and again on reload.  Its folder stays open so the
 * file can be found after chroot, when PATH may no longer lead to it.
 */
struct tls_file {
    int dirfd;                  /* O_PATH folder, or -1 when unused */
    char name[NAME_MAX + 1];    /* opened relative to dirfd */
    char path[PATH_MAX];        /* as given, for messages */
};

/*
 * Fill F from PATH (ours or the command line's, so trusted; nothing is
 * read yet): its folder opened O_PATH into F->dirfd, its last part in
 * F->name, PATH itself for messages.  WHAT ("certificate", "key", "client
 * CA") names it in messages.  Refuses a PATH too long or ending in "/",
 * "." or "..".  Returns 0, or -1 with WHY filled and no descriptor left
 * open.  The caller closes F->dirfd when done with F.
 */
int tls_files_open(struct tls_file *f, const char *what, const char *path,
                   struct tls_why *why);

/*
 * The step of tls_files_open that any file read again after chroot needs
 * (the --auth user file too): open the folder of PATH (trusted) O_PATH,
 * which needs no read permission, and copy PATH's last part into NAME
 * (NAME_CAP bytes) for openat.  Returns the descriptor, which the caller
 * closes, or -1 with errno EINVAL (PATH ends in "/", "." or ".."),
 * ENAMETOOLONG, or open's.
 */
int tls_files_open_dir(const char *path, char *name, size_t name_cap);

/*
 * Read F again through F->dirfd (a regular file of 1 to
 * TLS_FILE_MAX_BYTES bytes, readable by the current user) and add the
 * certificates in it, PEM or DER, to CRT, which the caller initialised and
 * frees with mbedtls_x509_crt_free.  The contents are not trusted: mbedTLS
 * parses them, and one certificate that fails to parse fails the whole
 * file.  Returns 0, or -1 with WHY filled (WHAT names the file).
 */
int tls_files_parse_crt(const struct tls_file *f, const char *what,
                        mbedtls_x509_crt *crt, struct tls_why *why);

/*
 * Read F as tls_files_parse_crt does and parse the unencrypted private key
 * in it, PEM or DER, into KEY, which the caller initialised and frees with
 * mbedtls_pk_free (which zeroes it).  The bytes read are zeroed before
 * they are freed.  Returns 0, or -1 with WHY filled.
 */
int tls_files_parse_key(const struct tls_file *f, mbedtls_pk_context *key,
                        struct tls_why *why);

#endif /* FERRY_TLS_FILES_H */
