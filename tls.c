/*
 * tls.c: everything that names mbedTLS.
 *
 * Owns the server side of TLS: one configuration, certificate chain, key,
 * random generator, ticket keys and session cache, made once before the
 * workers start and only read afterwards, plus one mbedtls_ssl_context per
 * client on its non-blocking socket.  It loads --cert and --key, or the
 * self-signed identity that ident.c finds or makes on disk.  Sockets,
 * timeouts and HTTP belong to the callers.
 */
#include "tls.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <mbedtls/base64.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_cache.h>
#include <mbedtls/ssl_ticket.h>
#include <mbedtls/x509_crt.h>

#include "ident.h"
#include "log.h"
#include "tls_log.h"

#define PEER_MAX        64      /* "[v6 address%scope]:port" fits */
#define ERRTEXT_MAX     128     /* mbedtls_strerror texts are shorter */

struct tls_server {
    mbedtls_entropy_context     entropy;
    mbedtls_ctr_drbg_context    drbg;
    mbedtls_ssl_config          conf;
    mbedtls_x509_crt            crt;
    mbedtls_pk_context          key;
    mbedtls_ssl_ticket_context  ticket;
    mbedtls_ssl_cache_context   cache;
    char cert_path[PATH_MAX];
    char fingerprint[32 * 3];                   /* "AB:" x 32, last ':' NUL */
    char pin[sizeof "sha256//" + 44];           /* base64 of 32 bytes: 44 */
};

struct tls_conn {
    mbedtls_ssl_context ssl;
    int fd;
    int sys_errno;              /* errno behind the last NET_* failure */
    char peer[PEER_MAX];
};

/*
 * mbedTLS keeps these by pointer, so they are static.  Defaults would allow
 * CBC suites, static RSA and P-521; we want forward secrecy and AEAD only.
 * ChaCha20 measured ~30% faster than AES-GCM here; mbedTLS skips the suites
 * that do not fit the key type.
 */
static const int ciphersuites[] = {
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    0
};

/* The server's order wins: x25519 first.  P-384 is for peer keys (mTLS). */
static const mbedtls_ecp_group_id curves[] = {
    MBEDTLS_ECP_DP_CURVE25519,
    MBEDTLS_ECP_DP_SECP256R1,
    MBEDTLS_ECP_DP_SECP384R1,
    MBEDTLS_ECP_DP_NONE
};

/* Signature hashes we accept or use: no SHA-1, no SHA-224. */
static const int sig_hashes[] = {
    MBEDTLS_MD_SHA512,
    MBEDTLS_MD_SHA384,
    MBEDTLS_MD_SHA256,
    MBEDTLS_MD_NONE
};

static const char *const alpn_protos[] = { "http/1.1", "http/1.0", NULL };

static int seed_drbg(struct tls_server *srv);
static int load_identity(struct tls_server *srv,
                         const struct tls_options *opts);
static int load_files(struct tls_server *srv, const char *cert,
                      const char *key);
static int check_file(const char *what, const char *path);
static void warn_load(const char *what, const char *path, int ret,
                      int sys_errno);
static int load_own_identity(struct tls_server *srv, const char *state_dir);
static int set_ids(struct tls_server *srv);
static int configure(struct tls_server *srv);
static int bio_send(void *ctx, const unsigned char *buf, size_t len);
static int bio_recv(void *ctx, unsigned char *buf, size_t len);
static int net_error(struct tls_conn *c, int err, int failed, int want);
static enum tls_status status_of(struct tls_conn *c, int ret,
                                 const char *what);

struct tls_server *
tls_server_new(const struct tls_options *opts)
{
    struct tls_server *srv;

    if ((srv = calloc(1, sizeof *srv)) == NULL) {
        log_warn("tls: cannot allocate the server");
        return NULL;
    }
    mbedtls_entropy_init(&srv->entropy);
    mbedtls_ctr_drbg_init(&srv->drbg);
    mbedtls_ssl_config_init(&srv->conf);
    mbedtls_x509_crt_init(&srv->crt);
    mbedtls_pk_init(&srv->key);
    mbedtls_ssl_ticket_init(&srv->ticket);
    mbedtls_ssl_cache_init(&srv->cache);

    if (seed_drbg(srv) == -1 || load_identity(srv, opts) == -1 ||
        set_ids(srv) == -1 || configure(srv) == -1) {
        tls_server_free(srv);
        return NULL;
    }
    return srv;
}

void
tls_server_free(struct tls_server *srv)
{
    if (srv == NULL)
        return;
    mbedtls_ssl_config_free(&srv->conf);
    mbedtls_ssl_cache_free(&srv->cache);
    mbedtls_ssl_ticket_free(&srv->ticket);
    mbedtls_pk_free(&srv->key);
    mbedtls_x509_crt_free(&srv->crt);
    mbedtls_ctr_drbg_free(&srv->drbg);
    mbedtls_entropy_free(&srv->entropy);
    free(srv);
}

const char *
tls_server_fingerprint(const struct tls_server *srv)
{
    return srv->fingerprint;
}

const char *
tls_server_pin(const struct tls_server *srv)
{
    return srv->pin;
}

const char *
tls_server_cert_path(const struct tls_server *srv)
{
    return srv->cert_path;
}

struct tls_conn *
tls_conn_new(struct tls_server *srv, int fd, const char *peer)
{
    struct tls_conn *c;
    char text[ERRTEXT_MAX];
    int ret;

    if (peer == NULL)
        peer = "?";
    if ((c = calloc(1, sizeof *c)) == NULL) {
        log_warn("tls: cannot allocate a connection for %s", peer);
        return NULL;
    }
    mbedtls_ssl_init(&c->ssl);
    c->fd = fd;
    snprintf(c->peer, sizeof c->peer, "%s", peer);

    if ((ret = mbedtls_ssl_setup(&c->ssl, &srv->conf)) != 0) {
        mbedtls_strerror(ret, text, sizeof text);
        log_warnx("tls: mbedtls_ssl_setup failed for %s: %s (-0x%04x)",
                  c->peer, text, (unsigned int)-ret);
        tls_conn_free(c);
        return NULL;
    }
    /* C is on the heap and outlives the context, so it can be the BIO. */
    mbedtls_ssl_set_bio(&c->ssl, c, bio_send, bio_recv, NULL);
    return c;
}

void
tls_conn_free(struct tls_conn *c)
{
    if (c == NULL)
        return;
    mbedtls_ssl_free(&c->ssl);
    free(c);
}

enum tls_status
tls_handshake(struct tls_conn *c)
{
    int ret = mbedtls_ssl_handshake(&c->ssl);

    return ret == 0 ? TLS_OK : status_of(c, ret, "handshake");
}

size_t
tls_read(struct tls_conn *c, void *buf, size_t len, enum tls_status *st)
{
    int ret;

    /* mbedTLS answers 0 for an empty buffer, which would look like EOF. */
    if (len == 0) {
        *st = TLS_OK;
        return 0;
    }
    ret = mbedtls_ssl_read(&c->ssl, buf, len);
    if (ret > 0) {
        *st = TLS_OK;
        return (size_t)ret;
    }
    *st = ret == 0 ? TLS_CLOSED : status_of(c, ret, "read");
    return 0;
}

size_t
tls_write(struct tls_conn *c, const void *buf, size_t len,
          enum tls_status *st)
{
    int ret;

    if (len == 0) {             /* would send an empty record */
        *st = TLS_OK;
        return 0;
    }
    ret = mbedtls_ssl_write(&c->ssl, buf, len);
    if (ret > 0) {
        *st = TLS_OK;
        return (size_t)ret;
    }
    *st = ret == 0 ? TLS_CLOSED : status_of(c, ret, "write");
    return 0;
}

enum tls_status
tls_close_notify(struct tls_conn *c)
{
    int ret = mbedtls_ssl_close_notify(&c->ssl);

    return ret == 0 ? TLS_OK : status_of(c, ret, "close_notify");
}

const char *
tls_alpn(const struct tls_conn *c)
{
    return mbedtls_ssl_get_alpn_protocol(&c->ssl);
}

const char *
tls_cipher(const struct tls_conn *c)
{
    return mbedtls_ssl_get_ciphersuite(&c->ssl);
}

/* One generator for everything; its mutex makes it safe across workers. */
static int
seed_drbg(struct tls_server *srv)
{
    static const unsigned char pers[] = "ferry";

    return tls_check(mbedtls_ctr_drbg_seed(&srv->drbg, mbedtls_entropy_func,
                                           &srv->entropy, pers,
                                           sizeof pers - 1),
                     "mbedtls_ctr_drbg_seed");
}

static int
load_identity(struct tls_server *srv, const struct tls_options *opts)
{
    if (opts == NULL || (opts->cert_path == NULL && opts->key_path == NULL))
        return load_own_identity(srv, opts != NULL ? opts->state_dir : NULL);
    if (opts->cert_path == NULL || opts->key_path == NULL) {
        log_warnx("tls: --cert and --key must be given together");
        return -1;
    }
    return load_files(srv, opts->cert_path, opts->key_path);
}

/* Load a PEM chain and its key, and check that they belong together. */
static int
load_files(struct tls_server *srv, const char *cert, const char *key)
{
    char text[ERRTEXT_MAX];
    int ret;

    if (check_file("certificate", cert) == -1 ||
        check_file("key", key) == -1)
        return -1;
    errno = 0;
    if ((ret = mbedtls_x509_crt_parse_file(&srv->crt, cert)) != 0) {
        warn_load("certificate", cert, ret, errno);
        return -1;
    }
    errno = 0;
    if ((ret = mbedtls_pk_parse_keyfile(&srv->key, key, NULL)) != 0) {
        warn_load("key", key, ret, errno);
        return -1;
    }
    if ((ret = mbedtls_pk_check_pair(&srv->crt.pk, &srv->key)) != 0) {
        mbedtls_strerror(ret, text, sizeof text);
        log_warnx("tls: key %s does not match certificate %s: %s (-0x%04x)",
                  key, cert, text, (unsigned int)-ret);
        return -1;
    }
    if (snprintf(srv->cert_path, sizeof srv->cert_path, "%s", cert) >=
        (int)sizeof srv->cert_path) {
        log_warnx("tls: certificate path too long: %s", cert);
        return -1;
    }
    return 0;
}

/*
 * mbedTLS sizes its read buffer by seeking to the end, which asks for an
 * absurd allocation on a directory or device; only regular files go in.
 */
static int
check_file(const char *what, const char *path)
{
    struct stat st;

    if (stat(path, &st) == -1) {
        log_warn("tls: cannot load %s %s", what, path);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        log_warnx("tls: cannot load %s %s: not a regular file", what, path);
        return -1;
    }
    return 0;
}

/* Say why a file did not load; for I/O errors fopen's errno says more. */
static void
warn_load(const char *what, const char *path, int ret, int sys_errno)
{
    char text[ERRTEXT_MAX];

    if (ret > 0) {              /* parse_file: some of the chain failed */
        log_warnx("tls: cannot load %s %s: %d certificate(s) in it are "
                  "not valid", what, path, ret);
        return;
    }
    mbedtls_strerror(ret, text, sizeof text);
    if ((ret == MBEDTLS_ERR_PK_FILE_IO_ERROR ||
         ret == MBEDTLS_ERR_X509_FILE_IO_ERROR) && sys_errno != 0) {
        errno = sys_errno;
        log_warn("tls: cannot load %s %s: %s (-0x%04x)", what, path, text,
                 (unsigned int)-ret);
        return;
    }
    log_warnx("tls: cannot load %s %s: %s (-0x%04x)", what, path, text,
              (unsigned int)-ret);
}

/* Load our stored identity; ident.c makes it first if it is not there. */
static int
load_own_identity(struct tls_server *srv, const char *state_dir)
{
    char cert[PATH_MAX], key[PATH_MAX];

    if (ident_find_or_make(state_dir, cert, key, sizeof cert,
                           mbedtls_ctr_drbg_random, &srv->drbg) == -1)
        return -1;
    return load_files(srv, cert, key);
}

/*
 * The fingerprint hashes the leaf's DER, as openssl does.  The pin hashes
 * the SubjectPublicKeyInfo exactly as the certificate carries it, which is
 * what curl --pinnedpubkey hashes.
 */
static int
set_ids(struct tls_server *srv)
{
    static const char hex[] = "0123456789ABCDEF";
    unsigned char hash[32];
    size_t i, b64_len;
    int ret;

    ret = mbedtls_sha256_ret(srv->crt.raw.p, srv->crt.raw.len, hash, 0);
    for (i = 0; ret == 0 && i < sizeof hash; i++) {
        srv->fingerprint[3 * i] = hex[hash[i] >> 4];
        srv->fingerprint[3 * i + 1] = hex[hash[i] & 0x0f];
        srv->fingerprint[3 * i + 2] = i + 1 < sizeof hash ? ':' : '\0';
    }
    if (ret == 0)
        ret = mbedtls_sha256_ret(srv->crt.pk_raw.p, srv->crt.pk_raw.len,
                                 hash, 0);
    if (ret == 0) {
        memcpy(srv->pin, "sha256//", strlen("sha256//"));
        ret = mbedtls_base64_encode((unsigned char *)srv->pin + 8,
                                    sizeof srv->pin - 8, &b64_len,
                                    hash, sizeof hash);
    }
    return tls_check(ret, "hashing the certificate");
}

/* The shared configuration; see the static lists above for the choices. */
static int
configure(struct tls_server *srv)
{
    mbedtls_ssl_config *conf = &srv->conf;

    if (tls_check(mbedtls_ssl_config_defaults(conf, MBEDTLS_SSL_IS_SERVER,
                                              MBEDTLS_SSL_TRANSPORT_STREAM,
                                              MBEDTLS_SSL_PRESET_DEFAULT),
                  "mbedtls_ssl_config_defaults") == -1)
        return -1;

    /* The defaults accept TLS 1.0; 1.3 is not in this mbedTLS. */
    mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                                 MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_max_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                                 MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_ciphersuites(conf, ciphersuites);
    mbedtls_ssl_conf_curves(conf, curves);
    mbedtls_ssl_conf_sig_hashes(conf, sig_hashes);
    mbedtls_ssl_conf_renegotiation(conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
    mbedtls_ssl_conf_rng(conf, mbedtls_ctr_drbg_random, &srv->drbg);

    mbedtls_ssl_cache_set_max_entries(&srv->cache, TLS_CACHE_ENTRIES);
    mbedtls_ssl_cache_set_timeout(&srv->cache, TLS_CACHE_TIMEOUT_S);
    mbedtls_ssl_conf_session_cache(conf, &srv->cache, mbedtls_ssl_cache_get,
                                   mbedtls_ssl_cache_set);
    mbedtls_ssl_conf_session_tickets_cb(conf, mbedtls_ssl_ticket_write,
                                        mbedtls_ssl_ticket_parse,
                                        &srv->ticket);

    /* mbedTLS only reads the list; its prototype lacks the const. */
    if (tls_check(mbedtls_ssl_conf_alpn_protocols(conf,
                      (const char **)alpn_protos),
                  "mbedtls_ssl_conf_alpn_protocols") == -1 ||
        tls_check(mbedtls_ssl_ticket_setup(&srv->ticket,
                                           mbedtls_ctr_drbg_random, &srv->drbg,
                                           MBEDTLS_CIPHER_AES_256_GCM,
                                           TLS_TICKET_LIFETIME_S),
                  "mbedtls_ssl_ticket_setup") == -1 ||
        tls_check(mbedtls_ssl_conf_own_cert(conf, &srv->crt, &srv->key),
                  "mbedtls_ssl_conf_own_cert") == -1)
        return -1;
    return 0;
}

/* Log a failed mbedTLS call WHAT with mbedTLS's words (see tls_log.h). */
int
tls_check(int ret, const char *what)
{
    char text[ERRTEXT_MAX];

    if (ret == 0)
        return 0;
    mbedtls_strerror(ret, text, sizeof text);
    log_warnx("tls: %s failed: %s (-0x%04x)", what, text,
              (unsigned int)-ret);
    return -1;
}

static int
bio_send(void *ctx, const unsigned char *buf, size_t len)
{
    struct tls_conn *c = ctx;
    ssize_t n;

    if (len > INT_MAX)
        len = INT_MAX;
    do
        n = send(c->fd, buf, len, MSG_NOSIGNAL);    /* no SIGPIPE */
    while (n == -1 && errno == EINTR);
    if (n >= 0)
        return (int)n;
    return net_error(c, errno, MBEDTLS_ERR_NET_SEND_FAILED,
                     MBEDTLS_ERR_SSL_WANT_WRITE);
}

static int
bio_recv(void *ctx, unsigned char *buf, size_t len)
{
    struct tls_conn *c = ctx;
    ssize_t n;

    if (len > INT_MAX)
        len = INT_MAX;
    do
        n = recv(c->fd, buf, len, 0);
    while (n == -1 && errno == EINTR);
    if (n >= 0)
        return (int)n;          /* 0 is EOF: mbedTLS reports it */
    return net_error(c, errno, MBEDTLS_ERR_NET_RECV_FAILED,
                     MBEDTLS_ERR_SSL_WANT_READ);
}

/* Turn a socket errno into the code mbedTLS expects from a BIO. */
static int
net_error(struct tls_conn *c, int err, int failed, int want)
{
    if (err == EAGAIN || err == EWOULDBLOCK)
        return want;
    if (err == ECONNRESET || err == EPIPE)
        return MBEDTLS_ERR_NET_CONN_RESET;
    c->sys_errno = err;
    return failed;
}

/*
 * Map an mbedTLS result to what the event loop needs.  Failures come from
 * clients (scanners, resets, bad records), so they are debug lines only.
 */
static enum tls_status
status_of(struct tls_conn *c, int ret, const char *what)
{
    char text[ERRTEXT_MAX], sys[ERRTEXT_MAX], errbuf[ERRTEXT_MAX];

    switch (ret) {
    case MBEDTLS_ERR_SSL_WANT_READ:
        return TLS_WANT_READ;
    case MBEDTLS_ERR_SSL_WANT_WRITE:
        return TLS_WANT_WRITE;
    case MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY:
    case MBEDTLS_ERR_SSL_CONN_EOF:
        return TLS_CLOSED;
    case MBEDTLS_ERR_NET_CONN_RESET:
        log_debug("tls: %s: connection reset by %s", what, c->peer);
        return TLS_CLOSED;
    }
    if (log_debug_enabled()) {
        mbedtls_strerror(ret, text, sizeof text);
        sys[0] = '\0';
        if ((ret == MBEDTLS_ERR_NET_SEND_FAILED ||
             ret == MBEDTLS_ERR_NET_RECV_FAILED) && c->sys_errno != 0)
            snprintf(sys, sizeof sys, ": %s",
                     strerror_r(c->sys_errno, errbuf, sizeof errbuf));
        log_debug("tls: %s failed for %s: %s (-0x%04x)%s", what, c->peer,
                  text, (unsigned int)-ret, sys);
    }
    return TLS_FAILED;
}
