/*
 * gate.h: who the client is and whether it may go on.
 *
 * Joins auth.c (Basic credentials checked against the user file),
 * auth_cache.c (the login cache and the failure throttle) and roles.c
 * (the policy) into one verdict per request.  No I/O but reading the user
 * file; the connection acts on the verdict.
 */
#ifndef FERRY_GATE_H
#define FERRY_GATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "auth.h"
#include "http.h"
#include "roles.h"

/* What gate_check needs; users, cache and throttle are NULL without
 * --auth.  Filled once at start-up. */
struct gate {
    struct roles roles;
    struct auth_users *users;       /* swapped by gate_reload_users */
    pthread_rwlock_t users_lock;    /* readers: checks; writer: reload */
    const char *users_path;
    struct auth_cache *cache;
    struct auth_throttle *throttle;
};

struct gate_verdict {
    int status;                 /* 0: go on; else 401, 403 or 429 */
    char user[AUTH_NAME_CAP];   /* the verified name, or "" */
    bool deposit;               /* drop box: create new files only */
    unsigned delay_ms;          /* answer a refusal only after this */
    unsigned retry_after_s;     /* with 429 */
};

/*
 * Set up G for ROLES and, with USERS_PATH, load the user file and make
 * the login cache and throttle.  Returns 0, or -1 with a one-line reason
 * in ERR (AUTH_ERR_CAP bytes).
 */
int gate_init(struct gate *g, const struct roles *roles,
              const char *users_path, char *err);

/*
 * Decide for REQ from the client at ADDR (as the access log prints it)
 * at NOW_MS (monotonic).  CERT_USER is the name from a verified client
 * certificate, or NULL.  Basic credentials are checked when --auth is on
 * and the request carries them: wrong ones get 401 even where no login
 * is needed and count as a failure for ADDR; right ones name the user,
 * before the certificate's name.
 */
void gate_check(struct gate *g, const struct http_request *req,
                const char *cert_user, const char *addr, uint64_t now_ms,
                struct gate_verdict *v);

/*
 * Read the user file again (SIGHUP) and put it in force; logins cached
 * for the old one are forgotten.  A file that fails to load leaves the
 * old one in force: returns -1 after logging why.
 */
int gate_reload_users(struct gate *g);

/* Free what gate_init made. */
void gate_free(struct gate *g);

#endif /* FERRY_GATE_H */
