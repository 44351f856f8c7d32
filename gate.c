/*
 * gate.c: one verdict per request from credentials and policy.
 *
 * The password lives on this function's stack only, is compared through
 * the cache (which keeps a keyed hash, never the password) or libcrypt,
 * and is wiped before returning.  Nothing here logs a credential.
 */
#include "gate.h"

#include <stdio.h>
#include <string.h>

#include <mbedtls/platform_util.h>

#include "log.h"

static int check_login(struct gate *g, const struct http_request *req,
                       const char *addr, uint64_t now_ms,
                       struct gate_verdict *v);

int
gate_init(struct gate *g, const struct roles *roles, const char *users_path,
          char *err)
{
    memset(g, 0, sizeof *g);
    g->roles = *roles;
    g->users_path = users_path;
    if (pthread_rwlock_init(&g->users_lock, NULL) != 0) {
        snprintf(err, AUTH_ERR_CAP, "auth: cannot make a lock");
        return -1;
    }
    if (users_path == NULL)
        return 0;
    g->users = auth_users_load(users_path, err, AUTH_ERR_CAP);
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

void
gate_check(struct gate *g, const struct http_request *req,
           const char *cert_user, const char *addr, uint64_t now_ms,
           struct gate_verdict *v)
{
    memset(v, 0, sizeof *v);
    if (cert_user != NULL && cert_user[0] != '\0')
        snprintf(v->user, sizeof v->user, "%s", cert_user);
    if (g->users_path != NULL && req->authorization.len > 0) {
        pthread_rwlock_rdlock(&g->users_lock);
        v->status = check_login(g, req, addr, now_ms, v);
        pthread_rwlock_unlock(&g->users_lock);
        if (v->status != 0)
            return;
    }
    switch (roles_decide(&g->roles, v->user[0] ? v->user : NULL,
                         req->method)) {
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
 * Check the request's Basic credentials.  Returns 0 with V->user set, or
 * 401 (wrong or malformed: counted against ADDR, answered after the
 * throttle's delay), or 429 while ADDR is refused.
 */
static int
check_login(struct gate *g, const struct http_request *req,
            const char *addr, uint64_t now_ms, struct gate_verdict *v)
{
    char name[AUTH_NAME_CAP], password[AUTH_PASSWORD_CAP];
    enum auth_verdict throttle;
    bool ok;

    throttle = auth_throttle_check(g->throttle, addr, now_ms, &v->delay_ms,
                                   &v->retry_after_s);
    if (throttle == AUTH_REFUSE)
        return 429;
    ok = auth_parse_basic(req->authorization.ptr, req->authorization.len,
                          name, sizeof name, password, sizeof password) == 0;
    if (ok && !auth_cache_check(g->cache, g->users, name, password,
                                now_ms)) {
        ok = auth_verify(g->users, name, password);
        if (ok)
            auth_cache_add(g->cache, g->users, name, password, now_ms);
    }
    mbedtls_platform_zeroize(password, sizeof password);
    if (!ok) {
        auth_throttle_fail(g->throttle, addr, now_ms);
        return 401;
    }
    auth_throttle_success(g->throttle, addr);
    v->delay_ms = 0;
    memcpy(v->user, name, sizeof v->user);
    return 0;
}

int
gate_reload_users(struct gate *g)
{
    char err[AUTH_ERR_CAP];
    struct auth_users *fresh, *old;

    if (g->users_path == NULL)
        return 0;
    fresh = auth_users_load(g->users_path, err, sizeof err);
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
    auth_users_free(g->users);
    auth_cache_free(g->cache);
    auth_throttle_free(g->throttle);
    pthread_rwlock_destroy(&g->users_lock);
    g->users = NULL;
    g->cache = NULL;
    g->throttle = NULL;
}
