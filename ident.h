/*
 * ident.h: ferry's own self-signed identity on disk.
 *
 * Without --cert and --key, ferry serves with a key and certificate of its
 * own, kept in a private state directory and made on the first start.
 * This module finds that directory and makes and stores the pair; tls.c
 * loads it like any other PEM files.
 */
#ifndef FERRY_IDENT_H
#define FERRY_IDENT_H

#include <stddef.h>

/*
 * Find our identity, making it first if it is not there.  The directory is
 * STATE_DIR, or for NULL $XDG_CONFIG_HOME/ferry (absolute values only),
 * else ~/.config/ferry.  If cert.pem or key.pem is missing there, makes
 * the directories (0700), an ECDSA P-256 key (key.pem, 0600) and a
 * ten-year self-signed certificate for localhost, the host name, 127.0.0.1
 * and ::1 (cert.pem, 0644), each file written whole or not at all.
 * F_RNG and P_RNG (mbedTLS style, already seeded) supply the key and the
 * serial number.  Trusts the environment and the directory to be the
 * user's own; reads nothing from the files, so the caller's parser judges
 * them.  Fills CERT and KEY (CAP bytes each; PATH_MAX fits any) with the
 * two paths.  Returns 0, or -1 after logging why.  Nothing to free.
 */
int ident_find_or_make(const char *state_dir, char *cert, char *key,
                       size_t cap,
                       int (*f_rng)(void *, unsigned char *, size_t),
                       void *p_rng);

#endif /* FERRY_IDENT_H */
