/*
 * auth.h: who is this: users and their password hashes, HTTP Basic
 * credentials, a cache of verified logins and throttling of failed ones.
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

/* Limits, each with its reason. */
#define AUTH_MAX_NAME       64      /* bytes of a user name: fits a log field */
#define AUTH_NAME_CAP       (AUTH_MAX_NAME + 1)
#define AUTH_MAX_PASSWORD   255     /* htpasswd's own limit; SHA-512-crypt's
                                       work grows with the length */
#define AUTH_PASSWORD_CAP   (AUTH_MAX_PASSWORD + 1)
#define AUTH_MAX_LINE       1024    /* bytes of one user-file line */
#define AUTH_ERR_CAP        512     /* auth_users_load messages; cut, not
                                       overflowed, with a long path */

/* Defaults the server is expected to use. */
#define AUTH_CACHE_ENTRIES  1024    /* remembered logins */
#define AUTH_CACHE_TTL_S    600     /* a login is re-checked after this */
#define AUTH_THROTTLE_ADDRS 4096    /* client addresses with a failure record */

/* Throttling: counted per address over a window opened by its 1st failure. */
#define AUTH_THROTTLE_WINDOW_S      600
#define AUTH_THROTTLE_DELAY_AFTER   3       /* failures before a delay */
#define AUTH_THROTTLE_REFUSE_AFTER  10      /* failures before a refusal */
#define AUTH_THROTTLE_FIRST_MS      250     /* delay at DELAY_AFTER failures */
#define AUTH_THROTTLE_MAX_MS        2000    /* doubling stops here */

struct auth_users;
struct auth_cache;
struct auth_throttle;

enum auth_verdict {
    AUTH_ALLOW,                     /* check the credentials now */
    AUTH_DELAY,                     /* check, but answer after *delay_ms */
    AUTH_REFUSE,                    /* 429 with Retry-After: *retry_after_s */
};

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
 * call it from a worker thread, after auth_cache_check missed.  Safe from
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
 * A bounded cache of verified logins, so that one client pays for one
 * bcrypt, not one per request.  An entry is a keyed SHA-256 over a
 * per-process random key, the table's identity, the name and the
 * password: never the password itself.  Holds up to ENTRIES logins (the
 * oldest added goes first) for TTL_S seconds each.  Returns NULL with
 * errno set (EINVAL for 0 entries, ENOMEM, or getrandom's error).  Its
 * functions take its own mutex, so worker threads share one cache.
 * Freed with auth_cache_free.
 */
struct auth_cache *auth_cache_new(size_t entries, unsigned ttl_s);

/*
 * Whether NAME with PASSWORD was verified against table U less than the
 * TTL before NOW_MS (a monotonic clock in ms).  Entries added for another
 * table never match, so a reloaded user file drops every cached login
 * even while a check against the old one is still running.  Trusts
 * nothing in NAME or PASSWORD.
 */
bool auth_cache_check(struct auth_cache *c, const struct auth_users *u,
                      const char *name, const char *password,
                      uint64_t now_ms);

/* Remember that auth_verify(U, NAME, PASSWORD) succeeded at NOW_MS. */
void auth_cache_add(struct auth_cache *c, const struct auth_users *u,
                    const char *name, const char *password, uint64_t now_ms);

/* Forget every login, e.g. after a reload, to free the slots at once. */
void auth_cache_clear(struct auth_cache *c);

/* Free a cache; NULL is fine.  No thread may still use it. */
void auth_cache_free(struct auth_cache *c);

/*
 * Failure records for up to MAX_ADDRS client addresses (when full, the
 * address whose last failure is oldest is forgotten).  Returns NULL with
 * errno set, like auth_cache_new.  Thread-safe; freed with
 * auth_throttle_free.
 */
struct auth_throttle *auth_throttle_new(size_t max_addrs);

/*
 * What to do with a login attempt from ADDR (a numeric IPv4 or IPv6
 * address as the access log prints it; IPv6 addresses count per /64,
 * IPv4-mapped ones as IPv4, and any other string shares one record) at
 * NOW_MS.  AUTH_ALLOW: go ahead.  AUTH_DELAY: go ahead, but answer a
 * failure only after *DELAY_MS (250 ms after 3 failures in the window,
 * doubling per further failure, at most 2 s).  AUTH_REFUSE: after 10
 * failures in the window, answer 429 without checking, with Retry-After
 * *RETRY_AFTER_S (until the window ends, at least 1).  Unused outputs
 * are set to 0.
 */
enum auth_verdict auth_throttle_check(struct auth_throttle *t,
                                      const char *addr, uint64_t now_ms,
                                      unsigned *delay_ms,
                                      unsigned *retry_after_s);

/*
 * Count a failed login from ADDR at NOW_MS.  The failure that reaches the
 * refusal logs one warning: "auth: too many failed logins from ADDR,
 * refusing for N s".
 */
void auth_throttle_fail(struct auth_throttle *t, const char *addr,
                        uint64_t now_ms);

/* A login from ADDR succeeded: forget its failures.  Others keep theirs. */
void auth_throttle_success(struct auth_throttle *t, const char *addr);

/* Free the records; NULL is fine.  No thread may still use them. */
void auth_throttle_free(struct auth_throttle *t);

#endif /* FERRY_AUTH_H */
