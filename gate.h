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

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "auth.h"
#include "http.h"
#include "roles.h"
#include "verify.h"

/* What gate_check needs; users, cache and throttle are NULL without
 * --auth.  Filled once at start-up. */
struct gate {
    struct roles roles;
    struct auth_users *users;       /* swapped by gate_reload_users */
    pthread_rwlock_t users_lock;    /* readers: checks; writer: reload */
    const char *users_path;         /* as given, for messages */
    int users_dirfd;                /* its folder, opened before chroot */
    char users_name[NAME_MAX + 1];  /* the file's name in users_dirfd */
    struct auth_cache *cache;
    struct auth_throttle *throttle;
    struct verify_pool *checks;     /* password checks off the workers */
};

/* What gate_check is asked about. */
struct gate_request {
    const struct http_request *req;
    const char *cert_user;      /* a verified client certificate's CN */
    const char *addr;           /* the client, as the access log prints it */
    uint64_t now_ms;            /* monotonic */
    const struct verify_result *checked;  /* this request's finished
                                             password check, or NULL */
    struct verify_sink *sink;   /* where a new check's result goes */
    void *owner;                /* handed back with it */
};

/* gate_verdict.status while the password is being checked. */
#define GATE_CHECKING 1

struct gate_verdict {
    int status;                 /* 0: go on; else 401, 403 or 429 */
    char user[AUTH_NAME_CAP];   /* the verified name, or "" */
    bool deposit;               /* drop box: create new files only */
    bool may_write;             /* a PUT would be let through, or could
                                   be after a login: pages offer writing */
    unsigned delay_ms;          /* answer a refusal only after this */
    unsigned retry_after_s;     /* with 429 or 503 */
    struct verify_job *job;     /* with GATE_CHECKING */
};

/*
 * Set up G for ROLES and, with USERS_PATH, load the user file and make
 * the login cache and throttle.  The file's folder stays open, so that
 * gate_reload_users finds the file after a chroot wherever it lives.
 * Returns 0, or -1 with a one-line reason in ERR (AUTH_ERR_CAP bytes).
 */
int gate_init(struct gate *g, const struct roles *roles,
              const char *users_path, char *err);

/*
 * Start THREADS threads for password checks (with --auth).  Returns 0,
 * or -1 with a reason in ERR (AUTH_ERR_CAP bytes).
 */
int gate_start_checks(struct gate *g, unsigned threads, char *err);

/*
 * Decide for R->req.  Basic credentials are checked when --auth is on and
 * the request carries them: wrong ones get 401 even where no login is
 * needed and count as a failure for R->addr; right ones name the user,
 * before the certificate's name.  Credentials not in the login cache are
 * handed to the check threads: the verdict is GATE_CHECKING with its job,
 * and the caller asks again with R->checked once the sink has the result
 * (or cancels the job).  A full pool answers 503, too many checks from
 * one address 429, both with a Retry-After.
 */
void gate_check(struct gate *g, const struct gate_request *r,
                struct gate_verdict *v);

/*
 * Read the user file again (SIGHUP), through the folder gate_init
 * opened, and put it in force; logins cached for the old one are
 * forgotten.  A file that fails to load leaves the old one in force:
 * returns -1 after logging why.
 */
int gate_reload_users(struct gate *g);

/*
 * Stop the check threads: running checks finish and reach their sinks.
 * Call once the workers are stopped, before their sinks are freed.
 */
void gate_stop_checks(struct gate *g);

/* Free what gate_init made (and the check threads, if still running). */
void gate_free(struct gate *g);

#endif /* FERRY_GATE_H */
