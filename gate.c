/*
 * gate.c: one verdict per request from credentials and policy.
 *
 * The password lives on this function's stack only, is compared through
 * the cache (which keeps a keyed hash, never the password) or libcrypt,
 * and is wiped before returning.  Nothing here logs a credential.
 */
#include "gate.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/platform_util.h>

#include "log.h"
#include "tls_files.h"

/* What is known of a login before any hashing. */
enum login {
    LOGIN_UNKNOWN,
    LOGIN_RIGHT,
    LOGIN_WRONG,
};

static int check_login(struct gate *g, const struct gate_request *r,
                       struct gate_verdict *v);
static enum login known_login(struct gate *g, const struct gate_request *r,
                              const char *name, const char *password);
static int submit(struct gate *g, const struct gate_request *r,
                  const char *name, char *password, struct gate_verdict *v);
static bool check_password(void *arg, const char *name, const char *password,
                           uint64_t *users_id);
static uint64_t now_ms(void);

int
gate_init(struct gate *g, const struct roles *roles, const char *users_path,
          char *err)
{
    memset(g, 0, sizeof *g);
    g->roles = *roles;
    g->users_path = users_path;
    g->users_dirfd = -1;
    if (pthread_rwlock_init(&g->users_lock, NULL) != 0) {
        snprintf(err, AUTH_ERR_CAP, "auth: cannot make a lock");
        return -1;
    }
    if (users_path == NULL)
        return 0;
    /* Its folder, held open: after chroot the path may lead nowhere. */
    g->users_dirfd = tls_files_open_dir(users_path, g->users_name,
                                        sizeof g->users_name);
    if (g->users_dirfd == -1) {
        snprintf(err, AUTH_ERR_CAP, "auth: %s: %s", users_path,
                 errno == EINVAL ? "not a file name" : strerror(errno));
        return -1;
    }
    g->users = auth_users_load_at(g->users_dirfd, g->users_name, users_path,
                                  err, AUTH_ERR_CAP);
    if (g->users == NULL)
        return -1;
    g->cache = auth_cache_new(AUTH_CACHE_ENTRIES, AUTH_CACHE_TTL_S);
    g->throttle = auth_throttle_new(AUTH_THROTTLE_ADDRS);
    if (g->cache == NULL || g->throttle == NULL) {
        snprintf(err, AUTH_ERR_CAP, "auth: cannot make the login cache");
        return -1;
    }
    return 0;
}

int
gate_start_checks(struct gate *g, unsigned threads, char *err)
{
    if (g->users_path == NULL)
        return 0;
    g->checks = verify_pool_new(threads, check_password, g);
    if (g->checks == NULL) {
        snprintf(err, AUTH_ERR_CAP, "auth: cannot start check threads");
        return -1;
    }
    return 0;
}

void
gate_stop_checks(struct gate *g)
{
    verify_pool_free(g->checks);
    g->checks = NULL;
}

void
gate_check(struct gate *g, const struct gate_request *r,
           struct gate_verdict *v)
{
    const char *user;
    enum roles_verdict put;

    memset(v, 0, sizeof *v);
    if (r->cert_user != NULL && r->cert_user[0] != '\0')
        snprintf(v->user, sizeof v->user, "%s", r->cert_user);
    if (g->users_path != NULL && r->req->authorization.len > 0) {
        v->status = check_login(g, r, v);
        if (v->status != 0)
            return;
    }
    user = v->user[0] ? v->user : NULL;
    put = roles_decide(&g->roles, user, HTTP_METHOD_PUT);
    v->may_write = put == ROLES_ALLOW || put == ROLES_LOGIN;
    switch (roles_decide(&g->roles, user, r->req->method)) {
    case ROLES_LOGIN:
        v->status = 401;
        break;
    case ROLES_FORBIDDEN:
        v->status = 403;
        break;
    case ROLES_DEPOSIT:
        v->deposit = true;
        break;
    default:
        break;
    }
}

/*
 * Check the request's Basic credentials.  Returns 0 with V->user set;
 * 401 (wrong or malformed: counted against the address, answered after
 * the throttle's delay); 429 while the address is refused; GATE_CHECKING
 * with V->job while a check thread hashes the password; or 429 or 503
 * when the check threads cannot take it.
 */
static int
check_login(struct gate *g, const struct gate_request *r,
            struct gate_verdict *v)
{
    char name[AUTH_NAME_CAP], password[AUTH_PASSWORD_CAP];
    enum login known;

    if (auth_throttle_check(g->throttle, r->addr, r->now_ms, &v->delay_ms,
                            &v->retry_after_s) == AUTH_REFUSE)
        return 429;
    if (auth_parse_basic(r->req->authorization.ptr,
                         r->req->authorization.len, name, sizeof name,
                         password, sizeof password) == -1)
        known = LOGIN_WRONG;
    else
        known = known_login(g, r, name, password);
    if (known == LOGIN_UNKNOWN)
        return submit(g, r, name, password, v);
    mbedtls_platform_zeroize(password, sizeof password);
    if (known == LOGIN_WRONG) {
        auth_throttle_fail(g->throttle, r->addr, r->now_ms);
        return 401;
    }
    v->delay_ms = 0;
    memcpy(v->user, name, sizeof v->user);
    return 0;
}

/*
 * What is known of NAME and PASSWORD without hashing: the result of this
 * request's finished check, if made against the table now in force, or
 * a login cached for it.
 */
static enum login
known_login(struct gate *g, const struct gate_request *r, const char *name,
            const char *password)
{
    enum login known = LOGIN_UNKNOWN;

    pthread_rwlock_rdlock(&g->users_lock);
    if (r->checked != NULL && !r->checked->ok)
        known = LOGIN_WRONG;
    else if (r->checked != NULL &&
             r->checked->users_id == auth_users_id(g->users))
        known = LOGIN_RIGHT;
    else if (auth_cache_check(g->cache, g->users, name, password,
                              r->now_ms))
        known = LOGIN_RIGHT;
    pthread_rwlock_unlock(&g->users_lock);
    return known;
}

/* Hand NAME and PASSWORD to the check threads; wipes PASSWORD. */
static int
submit(struct gate *g, const struct gate_request *r, const char *name,
       char *password, struct gate_verdict *v)
{
    int status = verify_submit(g->checks, r->sink, r->owner, r->addr, name,
                               password, &v->job);

    mbedtls_platform_zeroize(password, AUTH_PASSWORD_CAP);
    if (status == 0)
        return GATE_CHECKING;
    v->delay_ms = 0;
    v->retry_after_s = 1;
    return status;
}

/*
 * The check the threads run (verify_check_fn): one full hash against the
 * table in force, remembered in the cache when right.  The cache is asked
 * first: a client that opened many connections at once queued one check
 * per connection, and the first to finish answers the rest.  Holding the
 * read lock keeps the table alive; a reload waits for at most one hash.
 */
static bool
check_password(void *arg, const char *name, const char *password,
               uint64_t *users_id)
{
    struct gate *g = arg;
    uint64_t now = now_ms();
    bool ok;

    pthread_rwlock_rdlock(&g->users_lock);
    *users_id = auth_users_id(g->users);
    ok = auth_cache_check(g->cache, g->users, name, password, now);
    if (!ok && auth_verify(g->users, name, password)) {
        auth_cache_add(g->cache, g->users, name, password, now);
        ok = true;
    }
    pthread_rwlock_unlock(&g->users_lock);
    return ok;
}

/* The monotonic clock in ms, as the workers read it. */
static uint64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int
gate_reload_users(struct gate *g)
{
    char err[AUTH_ERR_CAP];
    struct auth_users *fresh, *old;

    if (g->users_path == NULL)
        return 0;
    fresh = auth_users_load_at(g->users_dirfd, g->users_name, g->users_path,
                               err, sizeof err);
    if (fresh == NULL) {
        log_warnx("%s (the old user file stays in force)", err);
        return -1;
    }
    pthread_rwlock_wrlock(&g->users_lock);
    old = g->users;
    g->users = fresh;
    pthread_rwlock_unlock(&g->users_lock);
    auth_cache_clear(g->cache);
    auth_users_free(old);       /* no check can hold it: we had the lock */
    log_info("auth: reloaded %zu user(s) from %s",
             auth_users_count(fresh), g->users_path);
    return 0;
}

void
gate_free(struct gate *g)
{
    gate_stop_checks(g);
    auth_users_free(g->users);
    auth_cache_free(g->cache);
    auth_throttle_free(g->throttle);
    pthread_rwlock_destroy(&g->users_lock);
    g->users = NULL;
    g->cache = NULL;
    g->throttle = NULL;
    if (g->users_dirfd != -1)
        close(g->users_dirfd);
    g->users_dirfd = -1;
}
