/*
 * auth_cache.c: the login cache and failure throttling (see auth_cache.h).
 *
 * The cache and the throttle share one small table: fixed slots found by a
 * SHA-256 keyed with a secret from getrandom, chained in buckets and kept
 * in a list from oldest to newest, so lookups are short, eviction is
 * exact, and a client can neither aim at a bucket nor learn what is kept.
 */
#include "auth_cache.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/random.h>

#include <mbedtls/constant_time.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>

#include "auth.h"
#include "log.h"

#define KEY_BYTES       32          /* SHA-256 */
#define NONE            UINT32_MAX  /* no slot */
#define WINDOW_MS       ((uint64_t)AUTH_THROTTLE_WINDOW_S * 1000)

struct slot {
    unsigned char key[KEY_BYTES];
    uint64_t since_ms;              /* cache: verified; throttle: 1st fail */
    unsigned failures;              /* throttle only */
    uint32_t chain;                 /* next in bucket, or in the free list */
    uint32_t older, newer;          /* the age list */
};

struct table {
    pthread_mutex_t lock;
    unsigned char secret[KEY_BYTES];
    struct slot *slot;
    uint32_t *bucket;               /* as many buckets as slots */
    uint32_t cap, used, free_head, oldest, newest;
};

struct auth_cache {
    struct table t;
    uint64_t ttl_ms;
};

struct auth_throttle {
    struct table t;
};

static int login_key(const struct table *t, uint64_t id, const char *name,
                     const char *password, unsigned char *key);
static void addr_key(const struct table *t, const char *addr,
                     unsigned char *key);
static enum auth_verdict verdict(unsigned failures, uint64_t left_ms,
                                 unsigned *delay_ms, unsigned *retry_after_s);
static int table_init(struct table *t, size_t cap);
static void table_free(struct table *t);
static void table_clear(struct table *t);
static uint32_t table_find(const struct table *t, const unsigned char *key);
static uint32_t table_take(struct table *t, const unsigned char *key);
static void table_touch(struct table *t, uint32_t i);
static void table_drop(struct table *t, uint32_t i);
static void table_unlink(struct table *t, uint32_t i);
static void list_append(struct table *t, uint32_t i);
static void list_remove(struct table *t, uint32_t i);

struct auth_cache *
auth_cache_new(size_t entries, unsigned ttl_s)
{
    struct auth_cache *c = calloc(1, sizeof *c);
    int saved_errno;

    if (c == NULL)
        return NULL;
    if (table_init(&c->t, entries) == -1) {
        saved_errno = errno;
        auth_cache_free(c);
        errno = saved_errno;
        return NULL;
    }
    c->ttl_ms = (uint64_t)ttl_s * 1000;
    return c;
}

bool
auth_cache_check(struct auth_cache *c, const struct auth_users *u,
                 const char *name, const char *password, uint64_t now_ms)
{
    unsigned char key[KEY_BYTES];
    bool hit = false;
    uint32_t i;

    if (u == NULL || login_key(&c->t, auth_users_id(u), name, password,
                               key) == -1)
        return false;
    pthread_mutex_lock(&c->t.lock);
    i = table_find(&c->t, key);
    if (i != NONE) {
        /* Unsigned: a clock that went back counts as expired. */
        hit = now_ms - c->t.slot[i].since_ms < c->ttl_ms;
        if (!hit)
            table_drop(&c->t, i);
    }
    pthread_mutex_unlock(&c->t.lock);
    mbedtls_platform_zeroize(key, sizeof key);
    return hit;
}

void
auth_cache_add(struct auth_cache *c, const struct auth_users *u,
               const char *name, const char *password, uint64_t now_ms)
{
    unsigned char key[KEY_BYTES];
    uint32_t i;

    if (u == NULL || login_key(&c->t, auth_users_id(u), name, password,
                               key) == -1)
        return;
    pthread_mutex_lock(&c->t.lock);
    i = table_find(&c->t, key);
    if (i != NONE)
        table_touch(&c->t, i);
    else
        i = table_take(&c->t, key);
    c->t.slot[i].since_ms = now_ms;
    pthread_mutex_unlock(&c->t.lock);
    mbedtls_platform_zeroize(key, sizeof key);
}

void
auth_cache_clear(struct auth_cache *c)
{
    pthread_mutex_lock(&c->t.lock);
    table_clear(&c->t);
    pthread_mutex_unlock(&c->t.lock);
}

void
auth_cache_free(struct auth_cache *c)
{
    if (c == NULL)
        return;
    table_free(&c->t);
    free(c);
}

/*
 * SHA-256 over secret, table id, name, NUL, password.  The NUL keeps
 * ("ab", "c") and ("a", "bc") apart, as no name holds one.
 */
static int
login_key(const struct table *t, uint64_t id, const char *name,
          const char *password, unsigned char *key)
{
    mbedtls_sha256_context ctx;
    unsigned char idb[sizeof id];
    int rv;

    if (name == NULL || password == NULL)
        return -1;
    memcpy(idb, &id, sizeof id);
    mbedtls_sha256_init(&ctx);
    rv = mbedtls_sha256_starts_ret(&ctx, 0);
    rv = rv != 0 ? rv : mbedtls_sha256_update_ret(&ctx, t->secret, KEY_BYTES);
    rv = rv != 0 ? rv : mbedtls_sha256_update_ret(&ctx, idb, sizeof idb);
    rv = rv != 0 ? rv : mbedtls_sha256_update_ret(&ctx,
                            (const unsigned char *)name, strlen(name) + 1);
    rv = rv != 0 ? rv : mbedtls_sha256_update_ret(&ctx,
                            (const unsigned char *)password, strlen(password));
    rv = rv != 0 ? rv : mbedtls_sha256_finish_ret(&ctx, key);
    mbedtls_sha256_free(&ctx);      /* wipes the state */
    return rv == 0 ? 0 : -1;
}

struct auth_throttle *
auth_throttle_new(size_t max_addrs)
{
    struct auth_throttle *t = calloc(1, sizeof *t);
    int saved_errno;

    if (t == NULL)
        return NULL;
    if (table_init(&t->t, max_addrs) == -1) {
        saved_errno = errno;
        auth_throttle_free(t);
        errno = saved_errno;
        return NULL;
    }
    return t;
}

enum auth_verdict
auth_throttle_check(struct auth_throttle *t, const char *addr,
                    uint64_t now_ms, unsigned *delay_ms,
                    unsigned *retry_after_s)
{
    unsigned char key[KEY_BYTES];
    unsigned failures = 0;
    uint64_t left_ms = 0;
    uint32_t i;

    addr_key(&t->t, addr, key);
    pthread_mutex_lock(&t->t.lock);
    i = table_find(&t->t, key);
    if (i != NONE && now_ms - t->t.slot[i].since_ms >= WINDOW_MS) {
        table_drop(&t->t, i);       /* its window is over */
        i = NONE;
    }
    if (i != NONE) {
        failures = t->t.slot[i].failures;
        left_ms = t->t.slot[i].since_ms + WINDOW_MS - now_ms;
    }
    pthread_mutex_unlock(&t->t.lock);
    return verdict(failures, left_ms, delay_ms, retry_after_s);
}

/* Failures so far and time left in the window make the answer. */
static enum auth_verdict
verdict(unsigned failures, uint64_t left_ms, unsigned *delay_ms,
        unsigned *retry_after_s)
{
    unsigned ms = AUTH_THROTTLE_FIRST_MS, n;

    *delay_ms = 0;
    *retry_after_s = 0;
    if (failures >= AUTH_THROTTLE_REFUSE_AFTER) {
        /* Rounded up: LEFT_MS is at least 1, or the window would be over. */
        *retry_after_s = (unsigned)((left_ms + 999) / 1000);
        return AUTH_REFUSE;
    }
    if (failures < AUTH_THROTTLE_DELAY_AFTER)
        return AUTH_ALLOW;
    for (n = AUTH_THROTTLE_DELAY_AFTER; n < failures; n++) {
        if (ms >= AUTH_THROTTLE_MAX_MS)
            break;
        ms *= 2;
    }
    *delay_ms = ms < AUTH_THROTTLE_MAX_MS ? ms : AUTH_THROTTLE_MAX_MS;
    return AUTH_DELAY;
}

void
auth_throttle_fail(struct auth_throttle *t, const char *addr,
                   uint64_t now_ms)
{
    unsigned char key[KEY_BYTES];
    char esc[4 * INET6_ADDRSTRLEN + 1];
    uint64_t left_ms = 0;
    bool crossed;
    uint32_t i;

    addr_key(&t->t, addr, key);
    pthread_mutex_lock(&t->t.lock);
    i = table_find(&t->t, key);
    if (i != NONE && now_ms - t->t.slot[i].since_ms >= WINDOW_MS) {
        table_drop(&t->t, i);
        i = NONE;
    }
    if (i == NONE) {
        i = table_take(&t->t, key);
        t->t.slot[i].since_ms = now_ms;
    } else {
        table_touch(&t->t, i);      /* the last failure decides the age */
    }
    if (t->t.slot[i].failures < UINT32_MAX)
        t->t.slot[i].failures++;
    crossed = t->t.slot[i].failures == AUTH_THROTTLE_REFUSE_AFTER;
    if (crossed)
        left_ms = t->t.slot[i].since_ms + WINDOW_MS - now_ms;
    pthread_mutex_unlock(&t->t.lock);

    if (crossed) {
        log_escape(esc, sizeof esc, addr, strlen(addr));
        log_warnx("auth: too many failed logins from %s, refusing for %u s",
                  esc, (unsigned)((left_ms + 999) / 1000));
    }
}

void
auth_throttle_free(struct auth_throttle *t)
{
    if (t == NULL)
        return;
    table_free(&t->t);
    free(t);
}

/*
 * The record an address counts against: IPv4 (plain or mapped) whole,
 * IPv6 by its /64, since one host gets a /64 and picks freely inside it.
 * Anything unparsable shares the all-ones key, a multicast address no
 * peer can have.
 */
static void
addr_key(const struct table *t, const char *addr, unsigned char *key)
{
    char tmp[INET6_ADDRSTRLEN];
    unsigned char in[KEY_BYTES + 16], *a = in + KEY_BYTES;
    struct in6_addr a6;
    size_t n = strcspn(addr, "%");  /* drop a zone, "fe80::1%eth0" */

    memcpy(in, t->secret, KEY_BYTES);
    memset(a, 0xff, 16);
    if (n < sizeof tmp) {
        memcpy(tmp, addr, n);
        tmp[n] = '\0';
        if (inet_pton(AF_INET, tmp, a + 12) == 1) {
            memset(a, 0, 10);       /* as ::ffff:a.b.c.d */
            a[10] = a[11] = 0xff;
        } else if (inet_pton(AF_INET6, tmp, &a6) == 1) {
            memcpy(a, &a6, 16);
            if (!IN6_IS_ADDR_V4MAPPED(&a6))
                memset(a + 8, 0, 8);
        }
    }
    if (mbedtls_sha256_ret(in, sizeof in, key, 0) != 0)
        memset(key, 0, KEY_BYTES);  /* never: software SHA-256 */
}

/* A table of CAP slots, empty, with a fresh secret.  Sets errno. */
static int
table_init(struct table *t, size_t cap)
{
    if (cap == 0 || cap >= NONE) {
        errno = EINVAL;
        return -1;
    }
    t->slot = calloc(cap, sizeof *t->slot);
    t->bucket = calloc(cap, sizeof *t->bucket);
    if (t->slot == NULL || t->bucket == NULL)
        return -1;
    if (getrandom(t->secret, KEY_BYTES, 0) != KEY_BYTES) {
        if (errno == 0)
            errno = EIO;
        return -1;
    }
    errno = pthread_mutex_init(&t->lock, NULL);
    if (errno != 0)
        return -1;
    t->cap = (uint32_t)cap;         /* also: the mutex exists */
    table_clear(t);
    return 0;
}

static void
table_free(struct table *t)
{
    if (t->cap > 0)
        pthread_mutex_destroy(&t->lock);
    free(t->slot);
    free(t->bucket);
    mbedtls_platform_zeroize(t->secret, KEY_BYTES);
}

/* Empty every slot; the caller holds the lock (or is alone). */
static void
table_clear(struct table *t)
{
    uint32_t i;

    memset(t->slot, 0, t->cap * sizeof *t->slot);
    for (i = 0; i < t->cap; i++)
        t->bucket[i] = NONE;
    t->used = 0;
    t->free_head = t->oldest = t->newest = NONE;
}

/* Keys are uniform digests, so their first bytes make a fair bucket. */
static uint32_t
bucket_of(const struct table *t, const unsigned char *key)
{
    uint32_t h;

    memcpy(&h, key, sizeof h);
    return h % t->cap;
}

static uint32_t
table_find(const struct table *t, const unsigned char *key)
{
    uint32_t i;

    for (i = t->bucket[bucket_of(t, key)]; i != NONE; i = t->slot[i].chain) {
        if (mbedtls_ct_memcmp(t->slot[i].key, key, KEY_BYTES) == 0)
            return i;
    }
    return NONE;
}

/* A zeroed slot holding KEY, the newest; the oldest goes when full. */
static uint32_t
table_take(struct table *t, const unsigned char *key)
{
    uint32_t i, b = bucket_of(t, key);

    if (t->free_head != NONE) {
        i = t->free_head;
        t->free_head = t->slot[i].chain;
    } else if (t->used < t->cap) {
        i = t->used++;
    } else {
        i = t->oldest;
        table_unlink(t, i);
    }
    memset(&t->slot[i], 0, sizeof t->slot[i]);
    memcpy(t->slot[i].key, key, KEY_BYTES);
    t->slot[i].chain = t->bucket[b];
    t->bucket[b] = i;
    list_append(t, i);
    return i;
}

static void
table_touch(struct table *t, uint32_t i)
{
    list_remove(t, i);
    list_append(t, i);
}

/* Forget slot I and put it on the free list. */
static void
table_drop(struct table *t, uint32_t i)
{
    table_unlink(t, i);
    memset(&t->slot[i], 0, sizeof t->slot[i]);
    t->slot[i].chain = t->free_head;
    t->free_head = i;
}

/* Take slot I out of its bucket and the age list. */
static void
table_unlink(struct table *t, uint32_t i)
{
    uint32_t *p = &t->bucket[bucket_of(t, t->slot[i].key)];

    while (*p != i)
        p = &t->slot[*p].chain;
    *p = t->slot[i].chain;
    list_remove(t, i);
}

static void
list_append(struct table *t, uint32_t i)
{
    t->slot[i].older = t->newest;
    t->slot[i].newer = NONE;
    if (t->newest != NONE)
        t->slot[t->newest].newer = i;
    else
        t->oldest = i;
    t->newest = i;
}

static void
list_remove(struct table *t, uint32_t i)
{
    struct slot *s = &t->slot[i];

    if (s->older != NONE)
        t->slot[s->older].newer = s->newer;
    else
        t->oldest = s->newer;
    if (s->newer != NONE)
        t->slot[s->newer].older = s->older;
    else
        t->newest = s->older;
}
