/*
 * auth_cache.h: a cache of verified logins and throttling of failed ones.
 *
 * Split from auth.h, which includes this header; the users and password
 * checks stay there.  Policy-free like auth.h: the server decides what
 * to answer (401, 429, a delay); this tells it how a client has behaved.
 */
#ifndef FERRY_AUTH_CACHE_H
#define FERRY_AUTH_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* Free the records; NULL is fine.  No thread may still use them. */
void auth_throttle_free(struct auth_throttle *t);

#endif /* FERRY_AUTH_CACHE_H */
