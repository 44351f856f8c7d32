/*
 * test_auth.c: unit tests for auth.c and auth_cache.c.
 *
 * User files are written to a temporary folder: every accepted hash kind,
 * made here with libcrypt and as htpasswd -B and mkpasswd made them, then
 * bad lines whose message must name the exact line.  Basic values are
 * parsed from the end of a page followed by an unmapped page.  The cache
 * and the throttle get the time passed in, so expiry is tested exactly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/base64.h>

#include "auth.h"

#include "guard.h"
#include "cases.h"

/* Made with `htpasswd -nbB alice 'correct horse'` and `bob 's3cr:et'`. */
#define H2Y_ALICE "$2y$05$btxBmeI3v6.zIBSi08FAa.XQ/R/nRw4K9zzkO8B06lFo2w3m7euSy"
#define H2Y_BOB   "$2y$05$khSru.zKJQJlpksLDrzDceRYklRCsC7kOn5eIRivtArAabenR8R5m"
/* The same bcrypt as other tools label it; equal for ASCII passwords. */
#define H2A_ALICE "$2a$05$btxBmeI3v6.zIBSi08FAa.XQ/R/nRw4K9zzkO8B06lFo2w3m7euSy"
/* `mkpasswd -m sha-512 'pass word'` and `mkpasswd -m yescrypt 'yes pass'`. */
#define H6 "$6$nLAaNufB0jT2oPWE$sC6Tlkq1u7akT4fpQMlhXoifFjWZsOKoQyvPMc8Wq8m8" \
           "rnfSPVHUwGMCdT/48/7g1Y8zUp9mJPvqKfLtJcof2."
#define HY "$y$j9T$FPnwu1CECRVAEcwq3ppop.$dmwfzqxtnwFoPLHjZlnif3jBCSuVsrAsYb" \
           "k29htXHHA"
/* Kinds we refuse: htpasswd -m, -s, -d; mkpasswd -m sha-256, -m md5. */
#define HAPR1 "$apr1$8OzFNbZd$od1u0jW5G//fXmGF0gbf//"
#define HSHA1 "{SHA}EfatjsUqKYSrqv18O1FlA3hcIHI="
#define HDES  "DrpiLYp40bhoE"
#define H5    "$5$1K.ysKJ7nLwH6QSk$IR/8N51TTgJvtyrD86qmzNQyCS0PBHWBGHGw8sSYFp."
#define H1    "$1$jq9wXAd7$qm/n3nISWgBUurB2I/lxf0"
#define UNSUP "(only bcrypt, SHA-512-crypt, yescrypt)"

#define NAME64  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define MIN_MS  60000ULL
#define WIN_MS  ((uint64_t)AUTH_THROTTLE_WINDOW_S * 1000)

static char tmpdir[] = "/tmp/test_auth.XXXXXX";

/* Write CONTENT (LEN bytes) to a file in tmpdir; returns its path. */
static const char *
write_file(const char *content, size_t len)
{
    static char path[64];
    int fd;

    snprintf(path, sizeof path, "%s/users", tmpdir);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd != -1);
    assert_int_equal(write(fd, content, len), (ssize_t)len);
    assert_int_equal(close(fd), 0);
    return path;
}

static struct auth_users *
load_str(const char *content, char *err, size_t errlen)
{
    return auth_users_load(write_file(content, strlen(content)), err, errlen);
}

static struct auth_users *
must_load(const char *content)
{
    char err[AUTH_ERR_CAP];
    struct auth_users *u = load_str(content, err, sizeof err);

    if (u == NULL)
        fail_msg("load failed: %s", err);
    return u;
}

/* Run FN with stderr sent to a file; returns what it wrote (static). */
static const char *
capture_stderr(void (*fn)(void *), void *arg)
{
    static char out[4096];
    char path[64];
    int fd, saved;
    ssize_t n;

    snprintf(path, sizeof path, "%s/stderr", tmpdir);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd != -1);
    saved = dup(STDERR_FILENO);
    assert_true(saved != -1);
    assert_true(dup2(fd, STDERR_FILENO) != -1);
    fn(arg);
    assert_true(dup2(saved, STDERR_FILENO) != -1);
    close(saved);
    n = pread(fd, out, sizeof out - 1, 0);
    assert_true(n >= 0);
    out[n] = '\0';
    close(fd);
    return out;
}

/* A fresh hash of PASSWORD, made by libcrypt with PREFIX and COUNT. */
static void
make_hash(const char *prefix, unsigned long count, const char *password,
          char *out, size_t cap)
{
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    struct crypt_data *cd = calloc(1, sizeof *cd);

    assert_non_null(cd);
    assert_non_null(crypt_gensalt_rn(prefix, count, NULL, 0, setting,
                                     sizeof setting));
    assert_non_null(crypt_rn(password, setting, cd, sizeof *cd));
    assert_true(strlen(cd->output) < cap);
    memcpy(out, cd->output, strlen(cd->output) + 1);
    free(cd);
}

/* Hash kinds made now by libcrypt; each must check right, refuse wrong. */
struct made_case {
    const char *label;
    const char *prefix;
    unsigned long count;
};

static const struct made_case made_cases[] = {
    { "bcrypt $2b$ cost 4", "$2b$", 4 },
    { "bcrypt $2y$ cost 5", "$2y$", 5 },
    { "SHA-512-crypt rounds=1000", "$6$", 1000 },
    { "SHA-512-crypt default rounds", "$6$", 0 },
    { "yescrypt cost 1", "$y$", 1 },
    { "yescrypt default cost", "$y$", 0 },
};

static void
test_made(void **state)
{
    const struct made_case *c = *state;
    const char *pw = "pw 1:\xc3\xbc";
    char hash[CRYPT_OUTPUT_SIZE], file[2 * CRYPT_OUTPUT_SIZE + 32];
    struct auth_users *u;

    make_hash(c->prefix, c->count, pw, hash, sizeof hash);
    snprintf(file, sizeof file, "# made now\nu:%s\nother:%s\n", hash, hash);
    u = must_load(file);
    assert_int_equal(auth_users_count(u), 2);
    assert_true(auth_users_has(u, "u"));
    assert_true(auth_verify(u, "u", pw));
    assert_true(auth_verify(u, "other", pw));
    assert_false(auth_verify(u, "u", "pw 1:"));
    assert_false(auth_verify(u, "u", "pw 1:\xc3\xbc "));
    assert_false(auth_verify(u, "u", ""));
    assert_false(auth_verify(u, "U", pw));
    assert_false(auth_verify(u, "nobody", pw));     /* the dummy's password */
    auth_users_free(u);
}

/* Lines as the usual tools write them: name, password, whether right. */
struct fixed_case {
    const char *label;
    const char *line;
    const char *name;
    const char *password;
    bool ok;
};

static const struct fixed_case fixed_cases[] = {
    { "htpasswd -B", "alice:" H2Y_ALICE "\n", "alice", "correct horse", 1 },
    { "htpasswd -B wrong", "alice:" H2Y_ALICE "\n", "alice", "correct", 0 },
    { "htpasswd -B case", "alice:" H2Y_ALICE "\n", "alice", "Correct horse",
      0 },
    { "htpasswd -B colon", "bob:" H2Y_BOB "\n", "bob", "s3cr:et", 1 },
    { "htpasswd -B colon, cut", "bob:" H2Y_BOB "\n", "bob", "s3cr", 0 },
    { "$2a$ label", "alice:" H2A_ALICE "\n", "alice", "correct horse", 1 },
    { "$2a$ wrong", "alice:" H2A_ALICE "\n", "alice", "correct horsE", 0 },
    { "mkpasswd sha-512", "carol:" H6 "\n", "carol", "pass word", 1 },
    { "mkpasswd sha-512 wrong", "carol:" H6 "\n", "carol", "password", 0 },
    { "mkpasswd yescrypt", "dave:" HY "\n", "dave", "yes pass", 1 },
    { "mkpasswd yescrypt wrong", "dave:" HY "\n", "dave", "yes pas", 0 },
    { "CRLF", "alice:" H2Y_ALICE "\r\n", "alice", "correct horse", 1 },
    { "no final newline", "alice:" H2Y_ALICE, "alice", "correct horse", 1 },
    { "after comments and blanks", "# users\n\n   \n\t\r\n#x:y\nalice:"
      H2Y_ALICE "\n\n", "alice", "correct horse", 1 },
    { "UTF-8 name", "j\xc3\xbcrgen:" H6 "\n", "j\xc3\xbcrgen", "pass word",
      1 },
    { "name with space", "a b:" H6 "\n", "a b", "pass word", 1 },
    { "64-byte name", NAME64 ":" H6 "\n", NAME64, "pass word", 1 },
    { "unknown user", "alice:" H2Y_ALICE "\n", "bob", "correct horse", 0 },
    { "name prefix", "alice:" H2Y_ALICE "\n", "alic", "correct horse", 0 },
    { "empty name", "alice:" H2Y_ALICE "\n", "", "correct horse", 0 },
};

static void
test_fixed(void **state)
{
    const struct fixed_case *c = *state;
    struct auth_users *u = must_load(c->line);

    assert_int_equal(auth_users_count(u), 1);
    assert_int_equal(auth_verify(u, c->name, c->password), c->ok);
    auth_users_free(u);
}

/* Refused files: the message after "auth: PATH". */
struct bad_case {
    const char *label;
    const char *content;
    const char *msg;
};

static const struct bad_case bad_cases[] = {
    { "plaintext", "alice:" H2Y_ALICE "\n\n# comment\nbob:secret\n",
      ":4: unsupported hash for user bob " UNSUP },
    { "htpasswd -m (apr1)", "a:" H6 "\nb:" H6 "\nmd5:" HAPR1 "\n",
      ":3: unsupported hash for user md5 " UNSUP },
    { "htpasswd -s ({SHA})", "sha:" HSHA1 "\n",
      ":1: unsupported hash for user sha " UNSUP },
    { "htpasswd -d (DES)", "# c\ndes:" HDES "\n",
      ":2: unsupported hash for user des " UNSUP },
    { "mkpasswd -m md5", "x:" H1 "\n", ":1: unsupported hash for user x "
      UNSUP },
    { "mkpasswd -m sha-256", "x:" H5 "\n", ":1: unsupported hash for user x "
      UNSUP },
    { "bcrypt $2x$", "x:$2x$05$btxBmeI3v6.zIBSi08FAa.XQ/R/nRw4K9zzkO8B06lFo2"
      "w3m7euSy\n", ":1: unsupported hash for user x " UNSUP },
    { "scrypt $7$", "x:$7$CU..../....abc$def\n",
      ":1: unsupported hash for user x " UNSUP },
    { "empty hash", "x:\n", ":1: unsupported hash for user x " UNSUP },
    { "escaped name", "j\xc3\xbc\"n:pw\n",
      ":1: unsupported hash for user j\\xc3\\xbc\\x22n " UNSUP },
    { "bcrypt cut", "a:" H6 "\nx:$2y$05$btxBmeI3v6.zIBSi08FAa.XQ/R/nRw4K9zz\n",
      ":2: malformed bcrypt hash for user x" },
    { "bcrypt one longer", "x:" H2Y_ALICE "A\n",
      ":1: malformed bcrypt hash for user x" },
    { "bcrypt trailing space", "x:" H2Y_ALICE " \n",
      ":1: malformed bcrypt hash for user x" },
    { "bcrypt CR inside", "x:" H2Y_ALICE "\ry:" H6 "\n",
      ":1: malformed bcrypt hash for user x" },
    { "bcrypt cost 3", "x:$2b$03$btxBmeI3v6.zIBSi08FAa.XQ/R/nRw4K9zzkO8B06lFo"
      "2w3m7euSy\n", ":1: malformed bcrypt hash for user x" },
    { "bcrypt cost 32", "x:$2b$32$btxBmeI3v6.zIBSi08FAa.XQ/R/nRw4K9zzkO8B06lF"
      "o2w3m7euSy\n", ":1: malformed bcrypt hash for user x" },
    { "bcrypt bad char", "x:$2b$05$btxBmeI3v6.zIBSi08FAa.XQ/R/nRw4K9zzkO8B06l"
      "Fo2w3m7eu-y\n", ":1: malformed bcrypt hash for user x" },
    { "sha-512 cut", "x:$6$nLAaNufB0jT2oPWE$sC6Tlkq1u7\n",
      ":1: malformed SHA-512-crypt hash for user x" },
    { "sha-512 no checksum", "x:$6$nLAaNufB0jT2oPWE\n",
      ":1: malformed SHA-512-crypt hash for user x" },
    { "sha-512 rounds=999", "x:$6$rounds=999$abc$sC6Tlkq1u7akT4fpQMlhXoifFjW"
      "ZsOKoQyvPMc8Wq8m8rnfSPVHUwGMCdT/48/7g1Y8zUp9mJPvqKfLtJcof2.\n",
      ":1: malformed SHA-512-crypt hash for user x" },
    { "sha-512 rounds=x", "x:$6$rounds=x$abc$sC6Tlkq1u7akT4fpQMlhXoifFjWZsOK"
      "oQyvPMc8Wq8m8rnfSPVHUwGMCdT/48/7g1Y8zUp9mJPvqKfLtJcof2.\n",
      ":1: malformed SHA-512-crypt hash for user x" },
    { "sha-512 17-char salt", "x:$6$nLAaNufB0jT2oPWEx$sC6Tlkq1u7akT4fpQMlhXoi"
      "fFjWZsOKoQyvPMc8Wq8m8rnfSPVHUwGMCdT/48/7g1Y8zUp9mJPvqKfLtJcof2.\n",
      ":1: malformed SHA-512-crypt hash for user x" },
    { "yescrypt cut", "x:$y$j9T$FPnwu1CECRVAEcwq3ppop.$dmwfzqxtnw\n",
      ":1: malformed yescrypt hash for user x" },
    { "yescrypt no salt", "x:$y$j9T$$dmwfzqxtnwFoPLHjZlnif3jBCSuVsrAsYbk29htX"
      "HHA\n", ":1: malformed yescrypt hash for user x" },
    { "colon in hash", "x:" H6 ":extra\n",
      ":1: malformed SHA-512-crypt hash for user x" },
    { "no colon", "a:" H6 "\nalice\n",
      ":2: no ':' between user name and hash" },
    { "empty name", "\n:" H6 "\n", ":2: empty user name" },
    { "65-byte name",
      NAME64 "a:" H6 "\n", ":1: user name longer than 64 bytes" },
    { "tab in name", "a\tb:" H6 "\n", ":1: control byte in user name" },
    { "DEL in name", "a\x7f" "b:" H6 "\n", ":1: control byte in user name" },
    { "escape in name", "a\x1b" "b:" H6 "\n", ":1: control byte in user name" },
    { "duplicate", "a:" H6 "\nb:" H6 "\na:" HY "\n",
      ":3: duplicate user a (first on line 1)" },
    { "earliest duplicate", "a:" H6 "\nb:" H6 "\nb:" H6 "\na:" H6 "\na:" H6
      "\n", ":3: duplicate user b (first on line 2)" },
    { "duplicate with CRLF", "a:" H6 "\r\na:" H6 "\r\n",
      ":2: duplicate user a (first on line 1)" },
    { "empty file", "", ": no users" },
    { "only comments", "# nobody\n\n#x:" H6 "\n", ": no users" },
    { "CRLF, bad 2nd line", "a:" H6 "\r\nb:x\r\n",
      ":2: unsupported hash for user b " UNSUP },
};

static void
test_bad(void **state)
{
    const struct bad_case *c = *state;
    char err[AUTH_ERR_CAP], want[AUTH_ERR_CAP];
    const char *path = write_file(c->content, strlen(c->content));

    assert_null(auth_users_load(path, err, sizeof err));
    snprintf(want, sizeof want, "auth: %s%s", path, c->msg);
    assert_string_equal(err, want);
}

/* Messages that need bytes a string table cannot hold well. */
static void
test_bad_generated(void **state)
{
    char line[AUTH_MAX_LINE + 256], err[AUTH_ERR_CAP], want[AUTH_ERR_CAP];
    static const char nul[] = "a:" H6 "\nb\0c:" H6 "\n";
    const char *path;
    size_t n;

    (void)state;
    path = write_file(nul, sizeof nul - 1);
    assert_null(auth_users_load(path, err, sizeof err));
    snprintf(want, sizeof want, "auth: %s:2: NUL byte in line", path);
    assert_string_equal(err, want);

    /* AUTH_MAX_LINE bytes (CR not counted) load; one more does not. */
    for (n = AUTH_MAX_LINE; n <= AUTH_MAX_LINE + 1; n++) {
        memset(line, '#', n);
        memcpy(line + n, "\r\na:" H6 "\n", sizeof "\r\na:" H6 "\n");
        path = write_file(line, strlen(line));
        if (n == AUTH_MAX_LINE) {
            auth_users_free(auth_users_load(path, err, sizeof err));
            assert_string_equal(err, "");
            continue;
        }
        assert_null(auth_users_load(path, err, sizeof err));
        snprintf(want, sizeof want, "auth: %s:1: line longer than %d bytes",
                 path, AUTH_MAX_LINE);
        assert_string_equal(err, want);
    }
}

static void
test_load_errors(void **state)
{
    char err[AUTH_ERR_CAP], want[AUTH_ERR_CAP], small[12];
    char path[64];

    (void)state;
    snprintf(path, sizeof path, "%s/missing", tmpdir);
    assert_null(auth_users_load(path, err, sizeof err));
    snprintf(want, sizeof want, "auth: %s: No such file or directory", path);
    assert_string_equal(err, want);

    /* A short buffer gets a cut message; none at all is fine too. */
    assert_null(load_str("bob:secret\n", small, sizeof small));
    assert_string_equal(small, "auth: /tmp/");
    assert_null(load_str("bob:secret\n", NULL, 0));
    auth_users_free(NULL);
    assert_false(auth_users_has(NULL, "x"));
    assert_int_equal(auth_users_count(NULL), 0);
}

static void
test_users_has(void **state)
{
    struct auth_users *u = must_load("c:" H6 "\na:" HY "\nb:" H2Y_BOB "\n");

    (void)state;
    assert_int_equal(auth_users_count(u), 3);
    assert_true(auth_users_has(u, "a"));
    assert_true(auth_users_has(u, "b"));
    assert_true(auth_users_has(u, "c"));
    assert_false(auth_users_has(u, "d"));
    assert_false(auth_users_has(u, ""));
    assert_false(auth_users_has(u, "a "));
    assert_false(auth_verify(u, NULL, "x"));
    assert_false(auth_verify(u, "a", NULL));
    assert_false(auth_verify(NULL, "a", "x"));
    assert_true(auth_verify(u, "a", "yes pass"));
    assert_true(auth_verify(u, "b", "s3cr:et"));
    assert_true(auth_verify(u, "c", "pass word"));
    assert_false(auth_verify(u, "a", "pass word"));  /* c's password */
    auth_users_free(u);
}

/* 255 bytes are checked; 256 are refused before any hashing. */
static void
test_long_password(void **state)
{
    char pw[AUTH_MAX_PASSWORD + 2], hash[CRYPT_OUTPUT_SIZE];
    char file[CRYPT_OUTPUT_SIZE + 16];
    struct auth_users *u;

    (void)state;
    memset(pw, 'p', AUTH_MAX_PASSWORD);
    pw[AUTH_MAX_PASSWORD] = '\0';
    make_hash("$6$", 1000, pw, hash, sizeof hash);
    snprintf(file, sizeof file, "u:%s\n", hash);
    u = must_load(file);
    assert_true(auth_verify(u, "u", pw));
    pw[AUTH_MAX_PASSWORD] = 'p';
    pw[AUTH_MAX_PASSWORD + 1] = '\0';
    assert_false(auth_verify(u, "u", pw));
    auth_users_free(u);
}

static void
verify_x_y(void *arg)
{
    assert_false(auth_verify(arg, "x", "yes pass"));
    assert_false(auth_verify(arg, "y", "yes pass"));    /* no log: unknown */
}

/* Well-formed to us and to crypt_checksalt, refused by crypt_rn. */
static void
test_crypt_refuses(void **state)
{
    struct auth_users *u = must_load("x:$y$jZT$FPnwu1CECRVAEcwq3ppop.$dmwfzq"
                                     "xtnwFoPLHjZlnif3jBCSuVsrAsYbk29htXHHA\n");

    (void)state;
    assert_string_equal(capture_stderr(verify_x_y, u),
                        "ferry: auth: cannot check the password of user x "
                        "(line 1): libcrypt refused its hash\n");
    auth_users_free(u);
}

/* Basic credentials: value, result, name and password. */
struct basic_case {
    const char *label;
    const char *value;
    int rv;
    const char *name;
    const char *password;
};

static const struct basic_case basic_cases[] = {
    { "valid", "Basic YWxpY2U6c2VjcmV0", 0, "alice", "secret" },
    { "lowercase scheme", "basic YWxpY2U6c2VjcmV0", 0, "alice", "secret" },
    { "uppercase scheme", "BASIC YWxpY2U6c2VjcmV0", 0, "alice", "secret" },
    { "mixed-case scheme", "bAsIc YWxpY2U6c2VjcmV0", 0, "alice", "secret" },
    { "three spaces", "Basic   YWxpY2U6c2VjcmV0", 0, "alice", "secret" },
    { "tab", "Basic\tYWxpY2U6c2VjcmV0", 0, "alice", "secret" },
    { "trailing OWS", "Basic YWxpY2U6c2VjcmV0 \t ", 0, "alice", "secret" },
    { "padding 2", "Basic YWxpY2U6eA==", 0, "alice", "x" },
    { "padding 1", "Basic Ym9iOnMzY3I6ZXQ=", 0, "bob", "s3cr:et" },
    { "colons in password", "Basic YWxpY2U6YTpiOmM=", 0, "alice", "a:b:c" },
    { "empty password", "Basic YWxpY2U6", 0, "alice", "" },
    { "UTF-8", "Basic asO8cmdlbjpww6Rzc3fDtnJk", 0, "j\xc3\xbcrgen",
      "p\xc3\xa4ssw\xc3\xb6rd" },
    { "+ and /", "Basic YWxpY2U6Pj4+Pz8+", 0, "alice", ">>>?" "?>" },
    { "empty", "", -1, "", "" },
    { "scheme only", "Basic", -1, "", "" },
    { "scheme and space", "Basic ", -1, "", "" },
    { "scheme and spaces", "Basic    ", -1, "", "" },
    { "no space", "BasicYWxpY2U6c2VjcmV0", -1, "", "" },
    { "colon after scheme", "Basic: YWxpY2U6c2VjcmV0", -1, "", "" },
    { "short scheme", "Basi YWxpY2U6c2VjcmV0", -1, "", "" },
    { "other scheme", "Bearer YWxpY2U6c2VjcmV0", -1, "", "" },
    { "leading space", " Basic YWxpY2U6c2VjcmV0", -1, "", "" },
    { "no colon", "Basic YWxpY2U=", -1, "", "" },
    { "empty user", "Basic OnNlY3JldA==", -1, "", "" },
    { "bad char", "Basic YWxpY2U6c2VjcmV0!", -1, "", "" },
    { "bad char, length 16", "Basic YWxpY2U6c2Vjcm!0", -1, "", "" },
    { "not a multiple of 4", "Basic YWxpY2U6c2VjcmV", -1, "", "" },
    { "missing padding", "Basic YWxpY2U6eA", -1, "", "" },
    { "too much padding", "Basic YWxpY2U6eA===", -1, "", "" },
    { "padding only", "Basic ====", -1, "", "" },
    { "padding inside", "Basic YWxp=2U6eA==", -1, "", "" },
    { "space inside", "Basic YWxpY2U6 2VjcmV0", -1, "", "" },
    { "newline inside", "Basic YWxpY2U6\n2VjcmV0", -1, "", "" },
    { "CRLF inside", "Basic YWxp\r\nY2U6c2VjcmV0", -1, "", "" },
    { "URL-safe alphabet", "Basic YWxpY2U6Pj4-Pz8-", -1, "", "" },
    { "two tokens", "Basic YWxpY2U6c2VjcmV0 YWxpY2U6c2VjcmV0", -1, "", "" },
    { "control in password", "Basic YWxpY2U6c2UBY3JldA==", -1, "", "" },
    { "control in name", "Basic YWwBY2U6c2VjcmV0", -1, "", "" },
    { "NUL in password", "Basic YWxpY2U6AHg=", -1, "", "" },
    { "DEL in password", "Basic YWxpY2U6eH8=", -1, "", "" },
    { "tab in password", "Basic YWxpY2U6eAk=", -1, "", "" },
    { "newline in password", "Basic YWxpY2U6eAp5", -1, "", "" },
};

static void
test_basic(void **state)
{
    const struct basic_case *c = *state;
    char name[AUTH_NAME_CAP], pw[AUTH_PASSWORD_CAP];
    size_t len = strlen(c->value);
    struct guard g;
    const char *v;

    guard_init(&g, len);
    v = guard_copy(&g, c->value, len);
    memset(name, 'N', sizeof name);
    memset(pw, 'P', sizeof pw);
    assert_int_equal(auth_parse_basic(v, len, name, sizeof name, pw,
                                      sizeof pw), c->rv);
    assert_string_equal(name, c->name);
    assert_string_equal(pw, c->password);
    guard_free(&g);
}

/* "Basic " and the base64 of the LEN bytes of S; the caller frees. */
static char *
basic_of(const char *s, size_t len, size_t *out_len)
{
    size_t cap = 6 + (len + 2) / 3 * 4 + 1, n = 0;
    char *v = malloc(cap);

    assert_non_null(v);
    memcpy(v, "Basic ", 6);
    assert_int_equal(mbedtls_base64_encode((unsigned char *)v + 6, cap - 6,
                                           &n, (const unsigned char *)s,
                                           len), 0);
    *out_len = 6 + n;
    return v;
}

static int
parse_sized(size_t name_len, size_t pw_len, size_t name_cap, size_t pw_cap)
{
    char cred[AUTH_MAX_NAME + AUTH_MAX_PASSWORD + 8];
    char name[AUTH_NAME_CAP + 8], pw[AUTH_PASSWORD_CAP + 8];
    size_t len;
    char *v;
    int rv;

    memset(cred, 'n', name_len);
    cred[name_len] = ':';
    memset(cred + name_len + 1, 'p', pw_len);
    v = basic_of(cred, name_len + 1 + pw_len, &len);
    rv = auth_parse_basic(v, len, name, name_cap, pw, pw_cap);
    if (rv == 0) {
        assert_int_equal(strlen(name), name_len);
        assert_int_equal(strlen(pw), pw_len);
    } else {
        assert_string_equal(name, "");
        assert_string_equal(pw, "");
    }
    free(v);
    return rv;
}

static void
test_basic_sizes(void **state)
{
    (void)state;
    assert_int_equal(parse_sized(64, 255, AUTH_NAME_CAP, AUTH_PASSWORD_CAP), 0);
    assert_int_equal(parse_sized(65, 1, AUTH_NAME_CAP + 8, AUTH_PASSWORD_CAP),
                     -1);
    assert_int_equal(parse_sized(1, 256, AUTH_NAME_CAP, AUTH_PASSWORD_CAP + 8),
                     -1);
    assert_int_equal(parse_sized(4, 5, 5, 6), 0);
    assert_int_equal(parse_sized(5, 5, 5, 6), -1);
    assert_int_equal(parse_sized(4, 6, 5, 6), -1);
    assert_int_equal(parse_sized(4, 0, 5, 1), 0);
}

/* The cache: hits, expiry, eviction, reloads, and wrong passwords. */
struct cache_env {
    struct auth_users *u, *u2;
    struct auth_cache *c;
};

static int
cache_setup(void **state)
{
    static struct cache_env env;
    static const char file[] = "alice:" H6 "\nbob:" H6 "\n";

    env.u = must_load(file);
    env.u2 = must_load(file);       /* the same file, reloaded */
    env.c = auth_cache_new(3, AUTH_CACHE_TTL_S);
    assert_non_null(env.c);
    *state = &env;
    return 0;
}

static int
cache_teardown(void **state)
{
    struct cache_env *env = *state;

    auth_cache_free(env->c);
    auth_users_free(env->u);
    auth_users_free(env->u2);
    return 0;
}

static void
test_cache_hit_ttl(void **state)
{
    struct cache_env *e = *state;
    const uint64_t t0 = 1000 * MIN_MS, ttl = AUTH_CACHE_TTL_S * 1000ULL;

    assert_false(auth_cache_check(e->c, e->u, "alice", "pass word", t0));
    auth_cache_add(e->c, e->u, "alice", "pass word", t0);
    assert_true(auth_cache_check(e->c, e->u, "alice", "pass word", t0));
    assert_true(auth_cache_check(e->c, e->u, "alice", "pass word",
                                 t0 + ttl - 1));
    assert_false(auth_cache_check(e->c, e->u, "alice", "pass word", t0 + ttl));
    /* Expired means gone, even if the clock is asked about earlier again. */
    assert_false(auth_cache_check(e->c, e->u, "alice", "pass word", t0));

    /* A fresh add restarts the TTL. */
    auth_cache_add(e->c, e->u, "alice", "pass word", t0);
    auth_cache_add(e->c, e->u, "alice", "pass word", t0 + ttl);
    assert_true(auth_cache_check(e->c, e->u, "alice", "pass word",
                                 t0 + 2 * ttl - 1));
    assert_false(auth_cache_check(e->c, e->u, "alice", "pass word",
                                  t0 + 2 * ttl));
}

static void
test_cache_never_wrong(void **state)
{
    struct cache_env *e = *state;
    static const char *const wrong[][2] = {
        { "alice", "pass wor" }, { "alice", "pass word " },
        { "alice", "" }, { "bob", "pass word" }, { "Alice", "pass word" },
        { "alic", "epass word" }, { "alicep", "ass word" },
        { "", "alice\npass word" },
    };
    size_t i;

    auth_cache_clear(e->c);
    auth_cache_add(e->c, e->u, "alice", "pass word", 0);
    for (i = 0; i < sizeof wrong / sizeof wrong[0]; i++)
        assert_false(auth_cache_check(e->c, e->u, wrong[i][0], wrong[i][1],
                                      1));
    assert_true(auth_cache_check(e->c, e->u, "alice", "pass word", 1));
    assert_false(auth_cache_check(e->c, NULL, "alice", "pass word", 1));
    assert_false(auth_cache_check(e->c, e->u, NULL, "pass word", 1));
}

static void
test_cache_evict(void **state)
{
    struct cache_env *e = *state;
    static const char *const names[] = { "a", "b", "c", "d", "e" };
    size_t i;

    auth_cache_clear(e->c);
    for (i = 0; i < 3; i++)
        auth_cache_add(e->c, e->u, names[i], "pw", i);
    auth_cache_add(e->c, e->u, "a", "pw", 3);       /* a is newest again */
    auth_cache_add(e->c, e->u, "d", "pw", 4);       /* b, the oldest, goes */
    assert_true(auth_cache_check(e->c, e->u, "a", "pw", 5));
    assert_false(auth_cache_check(e->c, e->u, "b", "pw", 5));
    assert_true(auth_cache_check(e->c, e->u, "c", "pw", 5));
    assert_true(auth_cache_check(e->c, e->u, "d", "pw", 5));
    auth_cache_add(e->c, e->u, "e", "pw", 6);       /* c goes */
    assert_false(auth_cache_check(e->c, e->u, "c", "pw", 7));
    assert_true(auth_cache_check(e->c, e->u, "e", "pw", 7));

    /* An expired entry dropped by a check leaves a slot: nobody goes. */
    assert_false(auth_cache_check(e->c, e->u, "a", "pw",
                                  3 + AUTH_CACHE_TTL_S * 1000ULL));
    auth_cache_add(e->c, e->u, "b", "pw", 8);
    assert_true(auth_cache_check(e->c, e->u, "b", "pw", 9));
    assert_true(auth_cache_check(e->c, e->u, "d", "pw", 9));
    assert_true(auth_cache_check(e->c, e->u, "e", "pw", 9));
}

static void
test_cache_reload_clear(void **state)
{
    struct cache_env *e = *state;

    auth_cache_clear(e->c);
    auth_cache_add(e->c, e->u, "alice", "pass word", 0);
    assert_false(auth_cache_check(e->c, e->u2, "alice", "pass word", 1));
    assert_true(auth_cache_check(e->c, e->u, "alice", "pass word", 1));
    /* A check still running on the old table adds nothing for the new. */
    auth_cache_add(e->c, e->u, "bob", "pass word", 2);
    assert_false(auth_cache_check(e->c, e->u2, "bob", "pass word", 3));

    auth_cache_clear(e->c);
    assert_false(auth_cache_check(e->c, e->u, "alice", "pass word", 4));
    assert_false(auth_cache_check(e->c, e->u, "bob", "pass word", 4));
    auth_cache_add(e->c, e->u2, "alice", "pass word", 5);
    assert_true(auth_cache_check(e->c, e->u2, "alice", "pass word", 6));
}

#define THREADS 4
#define ROUNDS  2000

struct worker {
    struct auth_cache *c;
    const struct auth_users *u;
    int id;
    int misses;
};

static void *
cache_worker(void *arg)
{
    struct worker *w = arg;
    char name[16];
    int i;

    for (i = 0; i < ROUNDS; i++) {
        snprintf(name, sizeof name, "t%d-%d", w->id, i % 50);
        auth_cache_add(w->c, w->u, name, "pw", (uint64_t)i);
        if (!auth_cache_check(w->c, w->u, name, "pw", (uint64_t)i))
            w->misses++;            /* another thread may have evicted it */
        if (auth_cache_check(w->c, w->u, name, "wrong", (uint64_t)i))
            w->misses += 1000000;   /* never */
        if (i % 500 == 0)
            auth_cache_clear(w->c);
    }
    return NULL;
}

static void
test_cache_threads(void **state)
{
    struct cache_env *e = *state;
    struct auth_cache *c = auth_cache_new(64, AUTH_CACHE_TTL_S);
    struct worker w[THREADS];
    pthread_t tid[THREADS];
    int i;

    assert_non_null(c);
    for (i = 0; i < THREADS; i++) {
        w[i] = (struct worker){ .c = c, .u = e->u, .id = i };
        assert_int_equal(pthread_create(&tid[i], NULL, cache_worker, &w[i]),
                         0);
    }
    for (i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(tid[i], NULL), 0);
        assert_true(w[i].misses < ROUNDS / 10);
    }
    auth_cache_free(c);
}

static void
test_cache_new(void **state)
{
    (void)state;
    errno = 0;
    assert_null(auth_cache_new(0, 60));
    assert_int_equal(errno, EINVAL);
    assert_null(auth_throttle_new(0));
    assert_int_equal(errno, EINVAL);
    auth_cache_free(NULL);
    auth_throttle_free(NULL);
}

/* Throttle: the answer after N failures inside the window. */
struct throttle_case {
    const char *label;
    unsigned failures;
    enum auth_verdict want;
    unsigned delay_ms;
};

static const struct throttle_case throttle_cases[] = {
    { "0 failures", 0, AUTH_ALLOW, 0 },
    { "1 failure", 1, AUTH_ALLOW, 0 },
    { "2 failures", 2, AUTH_ALLOW, 0 },
    { "3 failures", 3, AUTH_DELAY, 250 },
    { "4 failures", 4, AUTH_DELAY, 500 },
    { "5 failures", 5, AUTH_DELAY, 1000 },
    { "6 failures", 6, AUTH_DELAY, 2000 },
    { "7 failures", 7, AUTH_DELAY, 2000 },
    { "9 failures", 9, AUTH_DELAY, 2000 },
    { "10 failures", 10, AUTH_REFUSE, 0 },
    { "11 failures", 11, AUTH_REFUSE, 0 },
    { "50 failures", 50, AUTH_REFUSE, 0 },
};

struct fail_run {
    struct auth_throttle *t;
    const char *addr;
    unsigned n;
    uint64_t t0;
};

/* N failures, one second apart, from T0. */
static void
fail_n(void *arg)
{
    struct fail_run *r = arg;
    unsigned i;

    for (i = 0; i < r->n; i++)
        auth_throttle_fail(r->t, r->addr, r->t0 + i * 1000ULL);
}

static void
test_throttle_counts(void **state)
{
    const struct throttle_case *c = *state;
    struct auth_throttle *t = auth_throttle_new(AUTH_THROTTLE_ADDRS);
    struct fail_run r = { t, "192.0.2.1", c->failures, 5 * MIN_MS };
    unsigned delay = 99, retry = 99, want_retry = 0;
    uint64_t last;
    const char *log;
    char want[128];

    assert_non_null(t);
    log = capture_stderr(fail_n, &r);
    if (c->failures >= AUTH_THROTTLE_REFUSE_AFTER) {
        /* The window opened at t0; we ask at the last failure. */
        want_retry = AUTH_THROTTLE_WINDOW_S - (c->failures - 1);
        snprintf(want, sizeof want, "ferry: auth: too many failed logins "
                 "from 192.0.2.1, refusing for %u s\n",
                 AUTH_THROTTLE_WINDOW_S - (AUTH_THROTTLE_REFUSE_AFTER - 1));
        assert_string_equal(log, want);     /* once, whatever follows */
    } else {
        assert_string_equal(log, "");
    }
    last = r.t0 + (c->failures > 0 ? c->failures - 1 : 0) * 1000ULL;
    assert_int_equal(auth_throttle_check(t, "192.0.2.1", last, &delay,
                                         &retry), c->want);
    assert_int_equal(delay, c->delay_ms);
    assert_int_equal(retry, want_retry);
    /* Nobody else is slowed. */
    assert_int_equal(auth_throttle_check(t, "192.0.2.2", r.t0, &delay,
                                         &retry), AUTH_ALLOW);
    assert_int_equal(delay, 0);
    auth_throttle_free(t);
}

static void
test_throttle_window(void **state)
{
    struct auth_throttle *t = auth_throttle_new(AUTH_THROTTLE_ADDRS);
    struct fail_run r = { t, "2001:db8::1", 10, 7 * MIN_MS };
    const uint64_t end = r.t0 + WIN_MS;
    unsigned delay, retry;

    (void)state;
    assert_non_null(t);
    capture_stderr(fail_n, &r);
    assert_int_equal(auth_throttle_check(t, "2001:db8::1", end - 1001, &delay,
                                         &retry), AUTH_REFUSE);
    assert_int_equal(retry, 2);
    assert_int_equal(auth_throttle_check(t, "2001:db8::1", end - 1, &delay,
                                         &retry), AUTH_REFUSE);
    assert_int_equal(retry, 1);
    assert_int_equal(auth_throttle_check(t, "2001:db8::1", end, &delay,
                                         &retry), AUTH_ALLOW);
    assert_int_equal(retry, 0);

    /* A new window starts with the next failure, counting from one. */
    auth_throttle_fail(t, "2001:db8::1", end + 1);
    auth_throttle_fail(t, "2001:db8::1", end + 2);
    assert_int_equal(auth_throttle_check(t, "2001:db8::1", end + 3, &delay,
                                         &retry), AUTH_ALLOW);
    auth_throttle_fail(t, "2001:db8::1", end + 3);
    assert_int_equal(auth_throttle_check(t, "2001:db8::1", end + 4, &delay,
                                         &retry), AUTH_DELAY);
    assert_int_equal(delay, 250);

    /* Failures after the window, with no check between, start anew. */
    r.addr = "2001:db8:5::1";
    r.n = 5;
    fail_n(&r);
    r.t0 = end + 4000;
    r.n = 3;
    fail_n(&r);
    assert_int_equal(auth_throttle_check(t, "2001:db8:5::1", end + 7000,
                                         &delay, &retry), AUTH_DELAY);
    assert_int_equal(delay, 250);
    auth_throttle_free(t);
}

/* Addresses that share a record, and addresses that do not. */
struct addr_case {
    const char *label;
    const char *failing;
    const char *asking;
    bool shared;
};

static const struct addr_case addr_cases[] = {
    { "same IPv4", "192.0.2.1", "192.0.2.1", 1 },
    { "next IPv4", "192.0.2.1", "192.0.2.2", 0 },
    { "IPv4-mapped", "::ffff:192.0.2.1", "192.0.2.1", 1 },
    { "IPv4-mapped, other", "::ffff:192.0.2.1", "192.0.2.3", 0 },
    { "IPv6 same /64", "2001:db8:1:2::1", "2001:db8:1:2:ffff::9", 1 },
    { "IPv6 other /64", "2001:db8:1:2::1", "2001:db8:1:3::1", 0 },
    { "IPv6 zone dropped", "fe80::1%eth0", "fe80::2", 1 },
    { "IPv6 loopback", "::1", "::1", 1 },
    { "IPv6 vs IPv4", "::1", "127.0.0.1", 0 },
    { "unparsable shares", "unknown", "nonsense", 1 },
    { "unparsable vs IPv4", "unknown", "192.0.2.1", 0 },
};

static void
test_throttle_addr(void **state)
{
    const struct addr_case *c = *state;
    struct auth_throttle *t = auth_throttle_new(16);
    struct fail_run r = { t, c->failing, 3, MIN_MS };
    unsigned delay, retry;

    assert_non_null(t);
    fail_n(&r);
    assert_int_equal(auth_throttle_check(t, c->asking, 2 * MIN_MS, &delay,
                                         &retry),
                     c->shared ? AUTH_DELAY : AUTH_ALLOW);
    auth_throttle_free(t);
}

/* A full table forgets the address whose last failure is oldest. */
static void
test_throttle_bound(void **state)
{
    struct auth_throttle *t = auth_throttle_new(AUTH_THROTTLE_ADDRS);
    struct fail_run r = { t, "2001:db8::1", 10, MIN_MS };
    unsigned delay, retry, i;
    char addr[32];

    (void)state;
    assert_non_null(t);
    capture_stderr(fail_n, &r);
    for (i = 0; i < AUTH_THROTTLE_ADDRS - 1; i++) {
        snprintf(addr, sizeof addr, "10.%u.%u.%u", i >> 16, (i >> 8) & 255,
                 i & 255);
        auth_throttle_fail(t, addr, 2 * MIN_MS);
    }
    assert_int_equal(auth_throttle_check(t, "2001:db8::1", 2 * MIN_MS, &delay,
                                         &retry), AUTH_REFUSE);
    auth_throttle_fail(t, "10.255.255.255", 2 * MIN_MS);
    assert_int_equal(auth_throttle_check(t, "2001:db8::1", 2 * MIN_MS, &delay,
                                         &retry), AUTH_ALLOW);
    assert_int_equal(auth_throttle_check(t, "10.0.0.0", 2 * MIN_MS, &delay,
                                         &retry), AUTH_ALLOW);
    assert_int_equal(auth_throttle_check(t, "10.0.0.1", 2 * MIN_MS, &delay,
                                         &retry), AUTH_ALLOW);

    /* A failure makes the oldest address newest: 10.0.0.1 goes instead. */
    for (i = 0; i < 3; i++)
        auth_throttle_fail(t, "10.0.0.0", 3 * MIN_MS);
    auth_throttle_fail(t, "203.0.113.9", 3 * MIN_MS);
    assert_int_equal(auth_throttle_check(t, "10.0.0.0", 3 * MIN_MS, &delay,
                                         &retry), AUTH_DELAY);
    assert_int_equal(delay, 500);
    for (i = 0; i < 2; i++)
        auth_throttle_fail(t, "10.0.0.1", 3 * MIN_MS);
    assert_int_equal(auth_throttle_check(t, "10.0.0.1", 3 * MIN_MS, &delay,
                                         &retry), AUTH_ALLOW);
    auth_throttle_free(t);
}

int
main(void)
{
    static const struct CMUnitTest users[] = {
        cmocka_unit_test(test_bad_generated),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_users_has),
        cmocka_unit_test(test_long_password),
        cmocka_unit_test(test_crypt_refuses),
        cmocka_unit_test(test_basic_sizes),
    };
    static const struct CMUnitTest cache[] = {
        cmocka_unit_test(test_cache_hit_ttl),
        cmocka_unit_test(test_cache_never_wrong),
        cmocka_unit_test(test_cache_evict),
        cmocka_unit_test(test_cache_reload_clear),
        cmocka_unit_test(test_cache_threads),
        cmocka_unit_test(test_cache_new),
    };
    static const struct CMUnitTest throttle[] = {
        cmocka_unit_test(test_throttle_window),
        cmocka_unit_test(test_throttle_bound),
    };
    char path[64];
    int failed;

    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    failed = CASES_RUN("made hashes", test_made, made_cases);
    failed += CASES_RUN("fixed hashes", test_fixed, fixed_cases);
    failed += CASES_RUN("refused files", test_bad, bad_cases);
    failed += cmocka_run_group_tests_name("users", users, NULL, NULL);
    failed += CASES_RUN("basic", test_basic, basic_cases);
    failed += cmocka_run_group_tests_name("cache", cache, cache_setup,
                                          cache_teardown);
    failed += CASES_RUN("throttle counts", test_throttle_counts,
                        throttle_cases);
    failed += CASES_RUN("throttle addresses", test_throttle_addr, addr_cases);
    failed += cmocka_run_group_tests_name("throttle", throttle, NULL, NULL);

    snprintf(path, sizeof path, "%s/users", tmpdir);
    unlink(path);
    snprintf(path, sizeof path, "%s/stderr", tmpdir);
    unlink(path);
    rmdir(tmpdir);
    return failed != 0;
}
