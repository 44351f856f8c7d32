/*
 * auth.c: users, password checks, Basic credentials, the login cache and
 * failure throttling (see auth.h).
 *
 * Hashing passwords is libcrypt's job; this file only reads the user file
 * strictly enough that a hash it accepts is one libcrypt will check.  The
 * cache and the throttle share one small table: fixed slots found by a
 * SHA-256 keyed with a secret from getrandom, chained in buckets and kept
 * in a list from oldest to newest, so lookups are short, eviction is
 * exact, and a client can neither aim at a bucket nor learn what is kept.
 */
#include "auth.h"

#include <crypt.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/random.h>

#include <mbedtls/base64.h>
#include <mbedtls/constant_time.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>

#include "http.h"
#include "log.h"

#define KEY_BYTES       32          /* SHA-256 */
#define NONE            UINT32_MAX  /* no slot */
#define CRYPT64         "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ" \
                        "abcdefghijklmnopqrstuvwxyz"
#define ESC_NAME_CAP    (4 * AUTH_MAX_NAME + 1)     /* log_escape worst case */
#define BCRYPT_TAIL     53          /* salt and checksum after "$2b$NN$" */
#define SHA512_SALT_MAX 16          /* libcrypt cuts longer salts */
#define SHA512_SUM      86
#define SHA512_ROUNDS_MIN 1000      /* libcrypt raises fewer: never matches */
#define SHA512_ROUNDS_MAX 999999999
#define YESCRYPT_SUM    43
#define BASIC_MAX       (AUTH_MAX_NAME + 1 + AUTH_MAX_PASSWORD)
#define BASIC_B64_MAX   ((BASIC_MAX + 2) / 3 * 4)
#define WINDOW_MS       ((uint64_t)AUTH_THROTTLE_WINDOW_S * 1000)

struct user {
    char *name;                     /* one allocation: name, NUL, hash */
    const char *hash;
    unsigned line;
};

struct auth_users {
    struct user *user;              /* sorted by name */
    size_t n, cap;
    const char *dummy;              /* hashed for unknown names */
    uint64_t id;                    /* random: ties cached logins to us */
};

/* Where auth_users_load is, for its messages. */
struct load {
    const char *path;
    unsigned line;
    char *err;
    size_t errlen;
};

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

static int parse_line(struct auth_users *u, struct load *ld, char *line,
                      size_t len);
static int check_name(const struct load *ld, const char *name, size_t len);
static int check_hash(const struct load *ld, const char *name,
                      const char *hash);
static bool bcrypt_ok(const char *rest);
static bool sha512_ok(const char *rest);
static bool yescrypt_ok(const char *rest);
static int add_user(struct auth_users *u, const struct load *ld,
                    const char *name, size_t name_len, const char *hash);
static int finish_table(struct auth_users *u, const struct load *ld);
static int by_name(const void *a, const void *b);
static const struct user *find_user(const struct auth_users *u,
                                    const char *name);
static bool same_hash(const char *computed, const char *stored);
static int say(const struct load *ld, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool strict_base64(const char *s, size_t len);
static int copy_part(char *dst, size_t cap, size_t max,
                     const unsigned char *src, size_t len);
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

/* The hash kinds we accept, by prefix; everything else is refused. */
static const struct {
    const char *prefix;
    const char *name;
    bool (*ok)(const char *rest);
} kinds[] = {
    { "$2y$", "bcrypt", bcrypt_ok },        /* htpasswd -B */
    { "$2b$", "bcrypt", bcrypt_ok },        /* OpenBSD, Python bcrypt */
    { "$2a$", "bcrypt", bcrypt_ok },        /* older tools; same for ASCII */
    { "$6$", "SHA-512-crypt", sha512_ok },  /* mkpasswd -m sha-512 */
    { "$y$", "yescrypt", yescrypt_ok },     /* mkpasswd -m yescrypt */
};

struct auth_users *
auth_users_load(const char *path, char *err, size_t errlen)
{
    struct load ld = { .path = path, .err = err, .errlen = errlen };
    struct auth_users *u, *rv = NULL;
    FILE *f = NULL;
    char *line = NULL, buf[128];
    size_t cap = 0;
    ssize_t n;

    if (errlen > 0)
        err[0] = '\0';
    u = calloc(1, sizeof *u);
    if (u == NULL || (f = fopen(path, "re")) == NULL) {
        say(&ld, 0, "%s", strerror_r(errno, buf, sizeof buf));
        goto out;
    }
    while ((n = getline(&line, &cap, f)) != -1) {
        ld.line++;
        if (parse_line(u, &ld, line, (size_t)n) == -1)
            goto out;
    }
    if (ferror(f)) {
        say(&ld, 0, "read: %s", strerror_r(errno, buf, sizeof buf));
        goto out;
    }
    if (finish_table(u, &ld) == 0) {
        rv = u;
        u = NULL;
    }
out:
    free(line);
    if (f != NULL)
        fclose(f);
    auth_users_free(u);
    return rv;
}

/* One line of the user file, LEN bytes with its newline, NUL-terminated. */
static int
parse_line(struct auth_users *u, struct load *ld, char *line, size_t len)
{
    char *colon;

    if (len > 0 && line[len - 1] == '\n')
        line[--len] = '\0';
    if (len > 0 && line[len - 1] == '\r')
        line[--len] = '\0';         /* a file saved by a Windows editor */
    if (len > AUTH_MAX_LINE)
        return say(ld, ld->line, "line longer than %d bytes", AUTH_MAX_LINE);
    if (memchr(line, '\0', len) != NULL)
        return say(ld, ld->line, "NUL byte in line");
    if (line[0] == '#' || strspn(line, " \t") == len)
        return 0;

    colon = memchr(line, ':', len);
    if (colon == NULL)
        return say(ld, ld->line, "no ':' between user name and hash");
    *colon = '\0';
    if (check_name(ld, line, (size_t)(colon - line)) == -1 ||
        check_hash(ld, line, colon + 1) == -1)
        return -1;
    return add_user(u, ld, line, (size_t)(colon - line), colon + 1);
}

/* Names reach the access log and roles: keep them short and printable. */
static int
check_name(const struct load *ld, const char *name, size_t len)
{
    size_t i;

    if (len == 0)
        return say(ld, ld->line, "empty user name");
    if (len > AUTH_MAX_NAME)
        return say(ld, ld->line, "user name longer than %d bytes",
                   AUTH_MAX_NAME);
    for (i = 0; i < len; i++) {
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return say(ld, ld->line, "control byte in user name");
    }
    return 0;
}

/*
 * Accept only kinds that resist guessing, in a shape libcrypt will
 * reproduce byte for byte: a truncated or padded hash would load fine
 * and then never match, which is worse than a refusal at start.
 */
static int
check_hash(const struct load *ld, const char *name, const char *hash)
{
    char esc[ESC_NAME_CAP];
    size_t i, plen;

    log_escape(esc, sizeof esc, name, strlen(name));
    for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        plen = strlen(kinds[i].prefix);
        if (strncmp(hash, kinds[i].prefix, plen) != 0)
            continue;
        if (!kinds[i].ok(hash + plen) ||
            crypt_checksalt(hash) != CRYPT_SALT_OK)
            return say(ld, ld->line, "malformed %s hash for user %s",
                       kinds[i].name, esc);
        return 0;
    }
    return say(ld, ld->line, "unsupported hash for user %s (only bcrypt, "
               "SHA-512-crypt, yescrypt)", esc);
}

/* "NN$" and 53 characters: cost 4 to 31, salt and checksum. */
static bool
bcrypt_ok(const char *rest)
{
    uint64_t cost;

    return http_parse_uint(rest, 2, 31, &cost) == 0 && cost >= 4 &&
           rest[2] == '$' && strspn(rest + 3, CRYPT64) == BCRYPT_TAIL &&
           rest[3 + BCRYPT_TAIL] == '\0';
}

/* Optional "rounds=N$", a salt of at most 16, '$' and 86 characters. */
static bool
sha512_ok(const char *rest)
{
    uint64_t rounds;
    size_t n;

    if (strncmp(rest, "rounds=", 7) == 0) {
        rest += 7;
        n = strcspn(rest, "$");
        if (http_parse_uint(rest, n, SHA512_ROUNDS_MAX, &rounds) == -1 ||
            rounds < SHA512_ROUNDS_MIN || rest[n] != '$')
            return false;
        rest += n + 1;
    }
    n = strspn(rest, CRYPT64);
    if (n > SHA512_SALT_MAX || rest[n] != '$')
        return false;
    rest += n + 1;
    return strspn(rest, CRYPT64) == SHA512_SUM && rest[SHA512_SUM] == '\0';
}

/* Parameters, '$', salt, '$' and a 43-character checksum. */
static bool
yescrypt_ok(const char *rest)
{
    size_t n;
    int part;

    for (part = 0; part < 2; part++) {
        n = strspn(rest, CRYPT64);
        if (n == 0 || rest[n] != '$')
            return false;
        rest += n + 1;
    }
    return strspn(rest, CRYPT64) == YESCRYPT_SUM && rest[YESCRYPT_SUM] == '\0';
}

static int
add_user(struct auth_users *u, const struct load *ld, const char *name,
         size_t name_len, const char *hash)
{
    size_t hash_len = strlen(hash), cap;
    struct user *grown;
    char *p, buf[128];

    if (u->n == u->cap) {
        cap = u->cap > 0 ? u->cap * 2 : 16;
        grown = reallocarray(u->user, cap, sizeof *grown);
        if (grown == NULL)
            return say(ld, 0, "%s", strerror_r(errno, buf, sizeof buf));
        u->user = grown;
        u->cap = cap;
    }
    p = malloc(name_len + 1 + hash_len + 1);
    if (p == NULL)
        return say(ld, 0, "%s", strerror_r(errno, buf, sizeof buf));
    memcpy(p, name, name_len);
    p[name_len] = '\0';
    memcpy(p + name_len + 1, hash, hash_len + 1);
    u->user[u->n].name = p;
    u->user[u->n].hash = p + name_len + 1;
    u->user[u->n].line = ld->line;
    u->n++;
    return 0;
}

/* Sort for lookups, refuse duplicates, pick the dummy, draw our id. */
static int
finish_table(struct auth_users *u, const struct load *ld)
{
    const struct user *dup = NULL;
    char esc[ESC_NAME_CAP], buf[128];
    size_t i;

    if (u->n == 0)
        return say(ld, 0, "no users");
    u->dummy = u->user[0].hash;     /* the first line's kind and cost */
    qsort(u->user, u->n, sizeof *u->user, by_name);

    /* Name the earliest line that repeats a name, and the line it repeats. */
    for (i = 1; i < u->n; i++) {
        if (strcmp(u->user[i - 1].name, u->user[i].name) == 0 &&
            (dup == NULL || u->user[i].line < dup->line))
            dup = &u->user[i];
    }
    if (dup != NULL) {
        log_escape(esc, sizeof esc, dup->name, strlen(dup->name));
        return say(ld, dup->line, "duplicate user %s (first on line %u)",
                   esc, dup[-1].line);
    }
    if (getrandom(&u->id, sizeof u->id, 0) != (ssize_t)sizeof u->id)
        return say(ld, 0, "getrandom: %s", strerror_r(errno, buf, sizeof buf));
    return 0;
}

/* By name, then by line, so a name's first line sorts first. */
static int
by_name(const void *a, const void *b)
{
    const struct user *x = a, *y = b;
    int c = strcmp(x->name, y->name);

    if (c != 0)
        return c;
    return (x->line > y->line) - (x->line < y->line);
}

void
auth_users_free(struct auth_users *u)
{
    size_t i;

    if (u == NULL)
        return;
    for (i = 0; i < u->n; i++)
        free(u->user[i].name);
    free(u->user);
    free(u);
}

bool
auth_users_has(const struct auth_users *u, const char *name)
{
    return find_user(u, name) != NULL;
}

size_t
auth_users_count(const struct auth_users *u)
{
    return u != NULL ? u->n : 0;
}

static int
find_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const struct user *)elem)->name);
}

static const struct user *
find_user(const struct auth_users *u, const char *name)
{
    if (u == NULL || name == NULL)
        return NULL;
    return bsearch(name, u->user, u->n, sizeof *u->user, find_cmp);
}

bool
auth_verify(const struct auth_users *u, const char *name,
            const char *password)
{
    const struct user *user;
    struct crypt_data *cd;
    const char *setting, *out;
    char esc[ESC_NAME_CAP];
    bool match = false;

    if (u == NULL || name == NULL || password == NULL ||
        strnlen(password, AUTH_MAX_PASSWORD + 1) > AUTH_MAX_PASSWORD)
        return false;
    user = find_user(u, name);
    setting = user != NULL ? user->hash : u->dummy;

    cd = calloc(1, sizeof *cd);     /* 32 KiB: too much for a stack */
    if (cd == NULL) {
        log_warn("auth: checking a password");
        return false;
    }
    out = crypt_rn(password, setting, cd, sizeof *cd);
    if (out != NULL) {
        match = same_hash(out, setting);
    } else if (user != NULL) {
        log_escape(esc, sizeof esc, user->name, strlen(user->name));
        log_warnx("auth: cannot check the password of user %s (line %u): "
                  "libcrypt refused its hash", esc, user->line);
    }
    mbedtls_platform_zeroize(cd, sizeof *cd);
    free(cd);
    return match && user != NULL;
}

/* Compare in constant time, so a guess learns nothing from the timing. */
static bool
same_hash(const char *computed, const char *stored)
{
    size_t n = strlen(stored);

    return strlen(computed) == n && mbedtls_ct_memcmp(computed, stored, n) == 0;
}

/* Format "auth: PATH[:LINE]: what" into the caller's buffer; returns -1. */
static int
say(const struct load *ld, unsigned line, const char *fmt, ...)
{
    char what[AUTH_ERR_CAP];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (ld->errlen == 0)
        return -1;
    if (line > 0)
        snprintf(ld->err, ld->errlen, "auth: %s:%u: %s", ld->path, line, what);
    else
        snprintf(ld->err, ld->errlen, "auth: %s: %s", ld->path, what);
    return -1;
}

static bool
is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* RFC 9110 11.4 and RFC 7617: "Basic" 1*SP token68, in base64. */
int
auth_parse_basic(const char *value, size_t len, char *name,
                 size_t name_cap, char *password, size_t pass_cap)
{
    unsigned char buf[BASIC_MAX];
    const unsigned char *colon;
    size_t i = 5, end = len, n = 0;
    int rv = -1;

    if (len <= 5 || strncasecmp(value, "Basic", 5) != 0 || !is_ows(value[5]))
        goto out;
    while (i < end && is_ows(value[i]))
        i++;
    while (end > i && is_ows(value[end - 1]))
        end--;
    if (!strict_base64(value + i, end - i) ||
        mbedtls_base64_decode(buf, sizeof buf, &n,
                              (const unsigned char *)value + i, end - i) != 0)
        goto out;

    colon = memchr(buf, ':', n);
    if (colon != NULL && colon > buf &&
        copy_part(name, name_cap, AUTH_MAX_NAME, buf,
                  (size_t)(colon - buf)) == 0 &&
        copy_part(password, pass_cap, AUTH_MAX_PASSWORD, colon + 1,
                  n - (size_t)(colon + 1 - buf)) == 0)
        rv = 0;
out:
    mbedtls_platform_zeroize(buf, sizeof buf);
    if (rv == -1) {
        mbedtls_platform_zeroize(name, name_cap);
        mbedtls_platform_zeroize(password, pass_cap);
    }
    return rv;
}

/*
 * Padded base64 and nothing else: mbedtls_base64_decode alone would also
 * take line breaks and spaces in the middle.
 */
static bool
strict_base64(const char *s, size_t len)
{
    size_t i, pad = 0;
    char c;

    if (len == 0 || len % 4 != 0 || len > BASIC_B64_MAX)
        return false;
    while (pad < 2 && s[len - 1 - pad] == '=')
        pad++;
    for (i = 0; i < len - pad; i++) {
        c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == '+' || c == '/'))
            return false;
    }
    return true;
}

/* Copy LEN bytes to DST as a C string: no controls, DEL or NUL. */
static int
copy_part(char *dst, size_t cap, size_t max, const unsigned char *src,
          size_t len)
{
    size_t i;

    if (len > max || len >= cap)
        return -1;
    for (i = 0; i < len; i++) {
        if (src[i] < 0x20 || src[i] == 0x7f)
            return -1;
    }
    memcpy(dst, src, len);
    dst[len] = '\0';
    return 0;
}

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

    if (u == NULL || login_key(&c->t, u->id, name, password, key) == -1)
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

    if (u == NULL || login_key(&c->t, u->id, name, password, key) == -1)
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
auth_throttle_success(struct auth_throttle *t, const char *addr)
{
    unsigned char key[KEY_BYTES];
    uint32_t i;

    addr_key(&t->t, addr, key);
    pthread_mutex_lock(&t->t.lock);
    i = table_find(&t->t, key);
    if (i != NONE)
        table_drop(&t->t, i);
    pthread_mutex_unlock(&t->t.lock);
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
