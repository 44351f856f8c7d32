/*
 * auth.h: who is this: users and their password hashes, HTTP Basic
 * credentials, a cache of verified logins and throttling of failed ones
 * (those two are declared in auth_cache.h, included below).
 *
 * Pure policy-free parts: no sockets, no responses.  The server decides
 * what to answer (401, 429, a delay); this module tells it who a client
 * is and how a client has behaved.  Passwords are checked by libcrypt
 * only; nothing here hashes a password its own way.
 */
#ifndef FERRY_AUTH_H
#define FERRY_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth_cache.h"     /* the login cache and the throttle */

/* Limits, each with its reason. */
#define AUTH_MAX_NAME       64      /* bytes of a user name: fits a log field */
#define AUTH_NAME_CAP       (AUTH_MAX_NAME + 1)
#define AUTH_MAX_PASSWORD   255     /* htpasswd's own limit; SHA-512-crypt's
                                       work grows with the length */
#define AUTH_PASSWORD_CAP   (AUTH_MAX_PASSWORD + 1)
#define AUTH_MAX_LINE       1024    /* bytes of one user-file line */
#define AUTH_ERR_CAP        512     /* auth_users_load messages; cut, not
                                       overflowed, with a long path */

struct auth_users;

/*
 * Load the user table from the htpasswd-style file PATH: one "name:hash"
 * per line; empty and blank lines and lines starting with '#' are skipped;
 * CRLF endings are accepted (the CR is dropped).  A name is 1 to 64 bytes
 * without ':' or control bytes.  A hash must be bcrypt ($2y$, $2b$, or
 * $2a$ as other tools write it), SHA-512-crypt ($6$) or yescrypt ($y$),
 * well-formed; plaintext, DES, MD5 ($1$, $apr1$), {SHA}, $5$ and $2x$ are
 * refused.  A file without users is refused too.  Trusts the file to be
 * the administrator's; checks its syntax all the same.  Returns the
 * table, or NULL with a one-line message in ERR (ERRLEN bytes, e.g.
 * AUTH_ERR_CAP) naming the file and, for a bad line, its number:
 * "auth: /etc/ferry.users:7: unsupported hash for user bob (...)".  The
 * table is read-only once loaded, so worker threads may share it; the
 * caller frees it with auth_users_free once no thread uses it.
 */
struct auth_users *auth_users_load(const char *path, char *err,
                                   size_t errlen);

/*
 * auth_users_load for the file NAME in the folder DIRFD (AT_FDCWD, or a
 * descriptor opened before chroot, as tls_files_open_dir makes), so that
 * it can be read again inside a chroot; PATH, as the user gave it, names
 * it in messages.  Only a regular file is read.
 */
struct auth_users *auth_users_load_at(int dirfd, const char *name,
                                      const char *path, char *err,
                                      size_t errlen);

/* Free a table from auth_users_load; NULL is fine. */
void auth_users_free(struct auth_users *u);

/* Whether NAME (any C string) is a user in U.  Nothing to free. */
bool auth_users_has(const struct auth_users *u, const char *name);

/* How many users U holds, for the start-up log. */
size_t auth_users_count(const struct auth_users *u);

/*
 * Whether PASSWORD is NAME's password in U.  Both are hostile C strings.
 * Runs libcrypt (crypt_rn) on the stored hash and compares the result in
 * constant time.  An unknown NAME costs the same: the password is hashed
 * with the setting of the file's first user, then refused, so timing does
 * not tell which names exist (with mixed kinds or costs in one file, it
 * matches the first line's).  Passwords over AUTH_MAX_PASSWORD bytes are
 * refused without hashing.  Costs one full hash (bcrypt: tens of ms), so
 * call it from a check thread (verify.c), never an event loop.  Safe from
 * several threads at once.
 */
bool auth_verify(const struct auth_users *u, const char *name,
                 const char *password);

/*
 * Split the value of an Authorization field (VALUE, LEN bytes, hostile,
 * not NUL-terminated) into NAME and PASSWORD (caps NAME_CAP and PASS_CAP;
 * AUTH_NAME_CAP and AUTH_PASSWORD_CAP take the longest).  Wants the
 * scheme "Basic" in any case, one or more SP or HTAB, then strict padded
 * base64 (RFC 7617), which must decode to "name:password" split at the
 * first ':'.  Refuses an empty name, a name or password that does not fit,
 * and control bytes, DEL or NUL in either; a password may be empty or
 * contain ':'.  Returns 0 with both NUL-terminated, or -1 (answer 401)
 * with both emptied.  Decoded bytes are wiped before returning; the
 * caller wipes NAME and PASSWORD after use.
 */
int auth_parse_basic(const char *value, size_t len, char *name,
                     size_t name_cap, char *password, size_t pass_cap);

/*
 * A random number drawn when U was loaded, so the login cache can tell
 * logins checked against U from those checked against another table.
 */
uint64_t auth_users_id(const struct auth_users *u);

#endif /* FERRY_AUTH_H */
