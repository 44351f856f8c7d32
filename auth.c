/*
 * auth.c: users, password checks and Basic credentials (see auth.h).
 *
 * Hashing passwords is libcrypt's job; this file only reads the user file
 * strictly enough that a hash it accepts is one libcrypt will check.  The
 * login cache and the failure throttle live in auth_cache.c.
 */
#include "auth.h"

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/base64.h>
#include <mbedtls/constant_time.h>
#include <mbedtls/platform_util.h>

#include "http.h"
#include "log.h"

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
static FILE *open_users(const struct load *ld, int dirfd, const char *name);
static int say(const struct load *ld, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int say_errno(const struct load *ld, const char *what);
static bool strict_base64(const char *s, size_t len);
static int copy_part(char *dst, size_t cap, size_t max,
                     const unsigned char *src, size_t len);

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
    return auth_users_load_at(AT_FDCWD, path, path, err, errlen);
}

struct auth_users *
auth_users_load_at(int dirfd, const char *name, const char *path, char *err,
                   size_t errlen)
{
    struct load ld = { .path = path, .err = err, .errlen = errlen };
    struct auth_users *u, *rv = NULL;
    FILE *f = NULL;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;

    if (errlen > 0)
        err[0] = '\0';
    if ((u = calloc(1, sizeof *u)) == NULL) {
        say_errno(&ld, NULL);
        goto out;
    }
    if ((f = open_users(&ld, dirfd, name)) == NULL)
        goto out;
    while ((n = getline(&line, &cap, f)) != -1) {
        ld.line++;
        if (parse_line(u, &ld, line, (size_t)n) == -1)
            goto out;
    }
    if (ferror(f)) {
        say_errno(&ld, "read");
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

/*
 * Open NAME in DIRFD as a stream.  Only a regular file: a FIFO put in its
 * place would hold start-up, or a reload, for ever.  NULL after saying why.
 */
static FILE *
open_users(const struct load *ld, int dirfd, const char *name)
{
    struct stat st;
    FILE *f;
    int fd;

    fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd == -1 || fstat(fd, &st) == -1) {
        say_errno(ld, NULL);
        if (fd != -1)
            close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        say(ld, 0, "not a regular file");
        close(fd);
        return NULL;
    }
    if ((f = fdopen(fd, "r")) == NULL) {
        say_errno(ld, NULL);
        close(fd);
    }
    return f;
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

uint64_t
auth_users_id(const struct auth_users *u)
{
    return u->id;
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

/* Say errno's text, after WHAT ("read") when given. */
static int
say_errno(const struct load *ld, const char *what)
{
    char buf[128];
    const char *why = strerror_r(errno, buf, sizeof buf);

    if (what != NULL)
        return say(ld, 0, "%s: %s", what, why);
    return say(ld, 0, "%s", why);
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
