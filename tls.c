/*
 * tls.c: everything that names mbedTLS.
 *
 * Owns the server side of TLS: one configuration, certificate chain, key,
 * random generator, ticket keys and session cache, made once before the
 * workers start and only read afterwards, plus one mbedtls_ssl_context per
 * client on its non-blocking socket.  It also makes and stores ferry's own
 * self-signed identity.  Sockets, timeouts and HTTP belong to the callers.
 */
#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/asn1write.h>
#include <mbedtls/base64.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_cache.h>
#include <mbedtls/ssl_ticket.h>
#include <mbedtls/x509_crt.h>

#include "log.h"

#define PEER_MAX        64      /* "[v6 address%scope]:port" fits */
#define ERRTEXT_MAX     128     /* mbedtls_strerror texts are shorter */
#define PEM_MAX         4096    /* our P-256 key or certificate as PEM */
#define SAN_DER_MAX     640     /* two DNS names (<= 255 B) and two IPs */
#define EKU_DER_MAX     32      /* one key purpose OID */
#define HOST_MAX        256     /* gethostname limit (HOST_NAME_MAX + 1) */
#define CN_HOST_MAX     55      /* "ferry on " + 55 = 64, X.520's limit */
#define SERIAL_BYTES    16      /* RFC 5280 allows up to 20 */
#define VALID_DAYS      3653    /* ten years, leap days included */
#define DAY_S           86400

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
static int own_dir(const char *state_dir, char *dir, size_t cap);
static int join_path(char *out, size_t cap, const char *dir,
                     const char *name);
static bool file_exists(const char *path);
static int make_dirs(const char *dir);
static int make_identity(struct tls_server *srv, const char *dir);
static int make_key(struct tls_server *srv, mbedtls_pk_context *pk);
static int make_certificate(struct tls_server *srv, mbedtls_pk_context *pk,
                            unsigned char *pem, size_t cap);
static int set_names_and_dates(struct tls_server *srv,
                               mbedtls_x509write_cert *w, const char *host);
static int set_extensions(mbedtls_x509write_cert *w, const char *host);
static void get_host(char *host, size_t cap);
static int format_time(time_t t, char *out, size_t cap);
static int write_san(const char *host, unsigned char *buf, size_t cap);
static int write_san_ip(unsigned char **p, unsigned char *start,
                        const unsigned char *addr, size_t len);
static int write_eku(unsigned char *buf, size_t cap);
static int write_file(const char *dir, const char *name,
                      const unsigned char *data, size_t len, mode_t mode);
static int write_all(int fd, const unsigned char *data, size_t len);
static int set_ids(struct tls_server *srv);
static int configure(struct tls_server *srv);
static int check(int ret, const char *what);
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

    return check(mbedtls_ctr_drbg_seed(&srv->drbg, mbedtls_entropy_func,
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

/* Load our stored identity, making it first if it is not there. */
static int
load_own_identity(struct tls_server *srv, const char *state_dir)
{
    char dir[PATH_MAX], cert[PATH_MAX], key[PATH_MAX];

    if (own_dir(state_dir, dir, sizeof dir) == -1 ||
        join_path(cert, sizeof cert, dir, "cert.pem") == -1 ||
        join_path(key, sizeof key, dir, "key.pem") == -1)
        return -1;

    /* The certificate is renamed into place last: it marks a full pair. */
    if (!file_exists(cert) || !file_exists(key)) {
        if (make_dirs(dir) == -1 || make_identity(srv, dir) == -1)
            return -1;
        log_info("tls: made a self-signed certificate: %s", cert);
    }
    return load_files(srv, cert, key);
}

/* STATE_DIR, else $XDG_CONFIG_HOME/ferry, else ~/.config/ferry. */
static int
own_dir(const char *state_dir, char *dir, size_t cap)
{
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    struct passwd *pw;

    if (state_dir != NULL) {
        if (state_dir[0] == '\0') {
            log_warnx("tls: the state directory name is empty");
            return -1;
        }
        return join_path(dir, cap, state_dir, "");
    }
    /* The XDG spec says to ignore relative values. */
    if (xdg != NULL && xdg[0] == '/')
        return join_path(dir, cap, xdg, "ferry");

    if ((home == NULL || home[0] == '\0') &&
        (pw = getpwuid(getuid())) != NULL)
        home = pw->pw_dir;
    if (home == NULL || home[0] == '\0') {
        log_warnx("tls: no home directory to keep a certificate in; "
                  "use --cert and --key");
        return -1;
    }
    return join_path(dir, cap, home, ".config/ferry");
}

/* DIR "/" NAME into OUT; an empty NAME copies DIR. */
static int
join_path(char *out, size_t cap, const char *dir, const char *name)
{
    int n;

    if (name[0] == '\0')
        n = snprintf(out, cap, "%s", dir);
    else
        n = snprintf(out, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap) {
        log_warnx("tls: path too long: %s/%s", dir, name);
        return -1;
    }
    return 0;
}

/* Anything but "no such file" counts: loading it will say what is wrong. */
static bool
file_exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 || errno != ENOENT;
}

/* mkdir -p with mode 0700: the key lives there. */
static int
make_dirs(const char *dir)
{
    char path[PATH_MAX], end;
    char *p;

    if (join_path(path, sizeof path, dir, "") == -1)
        return -1;
    for (p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        end = *p;
        *p = '\0';
        if (mkdir(path, 0700) == -1 && errno != EEXIST) {
            log_warn("tls: cannot create %s", path);
            return -1;
        }
        *p = end;
        if (end == '\0')
            return 0;
    }
}

/* Make a P-256 key and a self-signed certificate, and store both in DIR. */
static int
make_identity(struct tls_server *srv, const char *dir)
{
    mbedtls_pk_context pk;
    unsigned char key_pem[PEM_MAX], crt_pem[PEM_MAX];
    int rv = -1, dfd;

    mbedtls_pk_init(&pk);
    if (make_key(srv, &pk) == -1 ||
        make_certificate(srv, &pk, crt_pem, sizeof crt_pem) == -1 ||
        check(mbedtls_pk_write_key_pem(&pk, key_pem, sizeof key_pem),
              "mbedtls_pk_write_key_pem") == -1)
        goto out;

    /* Key first: a crash in between leaves no cert.pem, so we start over. */
    if (write_file(dir, "key.pem", key_pem, strlen((char *)key_pem),
                   0600) == -1 ||
        write_file(dir, "cert.pem", crt_pem, strlen((char *)crt_pem),
                   0644) == -1)
        goto out;

    /* Make the renames durable; failing here costs nothing but that. */
    if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
        (void)fsync(dfd);
        close(dfd);
    }
    rv = 0;
out:
    mbedtls_platform_zeroize(key_pem, sizeof key_pem);
    mbedtls_pk_free(&pk);
    return rv;
}

static int
make_key(struct tls_server *srv, mbedtls_pk_context *pk)
{
    int ret;

    ret = mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
    if (ret == 0)
        ret = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*pk),
                                  mbedtls_ctr_drbg_random, &srv->drbg);
    return check(ret, "making a P-256 key");
}

/* A v3 certificate for PK, signed by PK, as PEM into PEM. */
static int
make_certificate(struct tls_server *srv, mbedtls_pk_context *pk,
                 unsigned char *pem, size_t cap)
{
    mbedtls_x509write_cert w;
    char host[HOST_MAX];
    int rv = -1;

    mbedtls_x509write_crt_init(&w);
    get_host(host, sizeof host);
    mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
    mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
    mbedtls_x509write_crt_set_subject_key(&w, pk);
    mbedtls_x509write_crt_set_issuer_key(&w, pk);

    if (set_names_and_dates(srv, &w, host) == -1 ||
        set_extensions(&w, host) == -1 ||
        check(mbedtls_x509write_crt_pem(&w, pem, cap, mbedtls_ctr_drbg_random,
                                        &srv->drbg),
              "mbedtls_x509write_crt_pem") == -1)
        goto out;
    rv = 0;
out:
    mbedtls_x509write_crt_free(&w);
    return rv;
}

/* Serial, validity, subject and issuer. */
static int
set_names_and_dates(struct tls_server *srv, mbedtls_x509write_cert *w,
                    const char *host)
{
    unsigned char raw[SERIAL_BYTES];
    char name[128], from[16], until[16];
    mbedtls_mpi serial;
    time_t now = time(NULL);
    int ret;

    if (format_time(now - DAY_S, from, sizeof from) == -1 ||
        format_time(now + (time_t)VALID_DAYS * DAY_S, until,
                    sizeof until) == -1) {
        log_warnx("tls: cannot format the certificate's validity");
        return -1;
    }
    if (host[0] != '\0')
        snprintf(name, sizeof name, "CN=ferry on %.*s,O=ferry",
                 CN_HOST_MAX, host);
    else
        snprintf(name, sizeof name, "CN=ferry,O=ferry");

    /* Random, positive and always SERIAL_BYTES long. */
    mbedtls_mpi_init(&serial);
    ret = mbedtls_ctr_drbg_random(&srv->drbg, raw, sizeof raw);
    raw[0] = (unsigned char)((raw[0] & 0x7f) | 0x40);
    if (ret == 0)
        ret = mbedtls_mpi_read_binary(&serial, raw, sizeof raw);
    if (ret == 0)
        ret = mbedtls_x509write_crt_set_serial(w, &serial);
    if (ret == 0)
        ret = mbedtls_x509write_crt_set_validity(w, from, until);
    if (ret == 0)
        ret = mbedtls_x509write_crt_set_subject_name(w, name);
    if (ret == 0)
        ret = mbedtls_x509write_crt_set_issuer_name(w, name);
    mbedtls_mpi_free(&serial);
    return check(ret, "making the certificate's names");
}

/*
 * A leaf for TLS servers: CA false, digitalSignature (ECDHE_ECDSA), EKU
 * serverAuth, key identifiers, and names for loopback use.  2.28 has no
 * setter for SAN or EKU, so their DER is built here.
 */
static int
set_extensions(mbedtls_x509write_cert *w, const char *host)
{
    unsigned char san[SAN_DER_MAX], eku[EKU_DER_MAX];
    int san_len, eku_len, ret;

    if ((san_len = write_san(host, san, sizeof san)) < 0 ||
        (eku_len = write_eku(eku, sizeof eku)) < 0)
        return check(san_len < 0 ? san_len : eku_len,
                     "encoding the certificate's extensions");

    ret = mbedtls_x509write_crt_set_basic_constraints(w, 0, -1);
    if (ret == 0)
        ret = mbedtls_x509write_crt_set_key_usage(w,
                  MBEDTLS_X509_KU_DIGITAL_SIGNATURE);
    if (ret == 0)
        ret = mbedtls_x509write_crt_set_subject_key_identifier(w);
    if (ret == 0)
        ret = mbedtls_x509write_crt_set_authority_key_identifier(w);
    if (ret == 0)
        ret = mbedtls_x509write_crt_set_extension(w,
                  MBEDTLS_OID_SUBJECT_ALT_NAME,
                  MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0,
                  san + sizeof san - san_len, (size_t)san_len);
    if (ret == 0)
        ret = mbedtls_x509write_crt_set_extension(w,
                  MBEDTLS_OID_EXTENDED_KEY_USAGE,
                  MBEDTLS_OID_SIZE(MBEDTLS_OID_EXTENDED_KEY_USAGE), 0,
                  eku + sizeof eku - eku_len, (size_t)eku_len);
    return check(ret, "setting the certificate's extensions");
}

/* The host name if it is a plain DNS name, else "" (it goes into a DN). */
static void
get_host(char *host, size_t cap)
{
    size_t i;

    if (gethostname(host, cap) == -1) {
        host[0] = '\0';
        return;
    }
    host[cap - 1] = '\0';
    for (i = 0; host[i] != '\0'; i++) {
        char ch = host[i];

        if (!(ch >= 'a' && ch <= 'z') && !(ch >= 'A' && ch <= 'Z') &&
            !(ch >= '0' && ch <= '9') && ch != '-' && ch != '.') {
            host[0] = '\0';
            return;
        }
    }
}

/* UTC as X.509 wants it from mbedTLS: "YYYYMMDDhhmmss". */
static int
format_time(time_t t, char *out, size_t cap)
{
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL ||
        strftime(out, cap, "%Y%m%d%H%M%S", &tm) != 14)
        return -1;
    return 0;
}

/*
 * subjectAltName DER at the end of BUF: localhost, HOST, 127.0.0.1, ::1.
 * ASN.1 is written backwards, so the entries go in reverse.  Returns the
 * length, or a negative mbedTLS code.
 */
static int
write_san(const char *host, unsigned char *buf, size_t cap)
{
    static const unsigned char v4[4] = { 127, 0, 0, 1 };
    static const unsigned char v6[16] = { [15] = 1 };
    const int dns = MBEDTLS_ASN1_CONTEXT_SPECIFIC | 2;
    unsigned char *p = buf + cap;
    size_t len = 0;
    int ret;

    MBEDTLS_ASN1_CHK_ADD(len, write_san_ip(&p, buf, v6, sizeof v6));
    MBEDTLS_ASN1_CHK_ADD(len, write_san_ip(&p, buf, v4, sizeof v4));
    if (host[0] != '\0' && strcasecmp(host, "localhost") != 0)
        MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tagged_string(&p, buf,
                                      dns, host, strlen(host)));
    MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tagged_string(&p, buf,
                                  dns, "localhost", strlen("localhost")));
    MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(&p, buf, len));
    MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tag(&p, buf,
                                  MBEDTLS_ASN1_CONSTRUCTED |
                                  MBEDTLS_ASN1_SEQUENCE));
    return (int)len;
}

/* One iPAddress GeneralName: [7] with the address bytes. */
static int
write_san_ip(unsigned char **p, unsigned char *start,
             const unsigned char *addr, size_t addr_len)
{
    size_t len = 0;
    int ret;

    MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_raw_buffer(p, start, addr,
                                                            addr_len));
    MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(p, start, len));
    MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tag(p, start,
                                  MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7));
    return (int)len;
}

/* extKeyUsage DER at the end of BUF: SEQUENCE { id-kp-serverAuth }. */
static int
write_eku(unsigned char *buf, size_t cap)
{
    unsigned char *p = buf + cap;
    size_t len = 0;
    int ret;

    MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_oid(&p, buf,
                                  MBEDTLS_OID_SERVER_AUTH,
                                  MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)));
    MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(&p, buf, len));
    MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tag(&p, buf,
                                  MBEDTLS_ASN1_CONSTRUCTED |
                                  MBEDTLS_ASN1_SEQUENCE));
    return (int)len;
}

/*
 * Store DATA as DIR/NAME with MODE.  mkostemp creates the temporary file
 * with O_EXCL and mode 0600, so a key is never readable by others, and the
 * rename means NAME is never half-written.
 */
static int
write_file(const char *dir, const char *name, const unsigned char *data,
           size_t len, mode_t mode)
{
    char tmp[PATH_MAX], path[PATH_MAX];
    int fd, n, rv = -1;

    n = snprintf(tmp, sizeof tmp, "%s/.%s.XXXXXX", dir, name);
    if (n < 0 || (size_t)n >= sizeof tmp ||
        join_path(path, sizeof path, dir, name) == -1) {
        log_warnx("tls: path too long: %s/%s", dir, name);
        return -1;
    }
    if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1) {
        log_warn("tls: cannot create a temporary file in %s", dir);
        return -1;
    }
    if (fchmod(fd, mode) == -1 || write_all(fd, data, len) == -1 ||
        fsync(fd) == -1) {
        log_warn("tls: cannot write %s", tmp);
        goto out;
    }
    if (rename(tmp, path) == -1) {
        log_warn("tls: cannot rename %s to %s", tmp, path);
        goto out;
    }
    rv = 0;
out:
    close(fd);
    if (rv == -1)
        unlink(tmp);
    return rv;
}

static int
write_all(int fd, const unsigned char *data, size_t len)
{
    ssize_t n;

    while (len > 0) {
        if ((n = write(fd, data, len)) == -1) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
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
    return check(ret, "hashing the certificate");
}

/* The shared configuration; see the static lists above for the choices. */
static int
configure(struct tls_server *srv)
{
    mbedtls_ssl_config *conf = &srv->conf;

    if (check(mbedtls_ssl_config_defaults(conf, MBEDTLS_SSL_IS_SERVER,
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
    if (check(mbedtls_ssl_conf_alpn_protocols(conf,
                  (const char **)alpn_protos),
              "mbedtls_ssl_conf_alpn_protocols") == -1 ||
        check(mbedtls_ssl_ticket_setup(&srv->ticket, mbedtls_ctr_drbg_random,
                                       &srv->drbg, MBEDTLS_CIPHER_AES_256_GCM,
                                       TLS_TICKET_LIFETIME_S),
              "mbedtls_ssl_ticket_setup") == -1 ||
        check(mbedtls_ssl_conf_own_cert(conf, &srv->crt, &srv->key),
              "mbedtls_ssl_conf_own_cert") == -1)
        return -1;
    return 0;
}

/* Log a failed start-up call WHAT with mbedTLS's words for RET. */
static int
check(int ret, const char *what)
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
