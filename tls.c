/*
 * tls.c: everything that names mbedTLS.
 *
 * Owns the server side of TLS: the random generator, ticket keys and
 * session cache, made once; the configuration with its certificate chain,
 * key and client CA, made at start and again on each reload as one
 * reference-counted generation; and one mbedtls_ssl_context per client on
 * its non-blocking socket.  It loads --cert and --key, or the self-signed
 * identity that ident.c finds or makes on disk.  Sockets, timeouts and
 * HTTP belong to the callers.  Reading the files is tls_files.c's, making
 * a generation tls_config.c's; choosing and swapping them is done here.
 */
#include "tls.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/oid.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_cache.h>
#include <mbedtls/ssl_ticket.h>
#include <mbedtls/x509_crt.h>

#include "ident.h"
#include "log.h"
#include "tls_bio.h"
#include "tls_config.h"
#include "tls_files.h"
#include "tls_log.h"

#define PEER_MAX        64      /* "[v6 address%scope]:port" fits */
#define VERIFY_MAX      512     /* every verify_info line fits */
#define HELD_ROUNDS     64      /* records with nothing for us read in a
                                   row before others get a turn */

struct tls_server {
    mbedtls_entropy_context     entropy;
    struct tls_config_base      base;   /* generator, tickets, cache, files */
    pthread_mutex_t lock;       /* guards current against a reload */
    struct tls_config *current;
    char fingerprint[TLS_FINGERPRINT_MAX];  /* copies for the main thread */
    char pin[TLS_PIN_MAX];
    bool own_identity;          /* ident.c's, not --cert and --key */
};

struct tls_conn {
    mbedtls_ssl_context ssl;
    struct tls_config *cfg;     /* a reference, dropped by tls_conn_free */
    bool handshake_done;
    bool chain_checked;         /* this handshake verified a client chain */
    struct tls_bio bio;         /* the socket under it */
    char peer[PEER_MAX];
};

static int seed_drbg(struct tls_server *srv);
static int setup_shared(struct tls_server *srv);
static int find_files(struct tls_server *srv, const struct tls_options *opts,
                      struct tls_why *why);
static struct tls_config *config_acquire(struct tls_server *srv);
static void publish(struct tls_server *srv, struct tls_config *cfg);
static void refuse_client(struct tls_conn *c, int ret);
static int note_verify(void *ctx, mbedtls_x509_crt *crt, int depth,
                       uint32_t *flags);
static int recheck_resumed(struct tls_conn *c);
static bool read_again(const struct tls_conn *c, int ret);
static bool held_unread(const struct tls_conn *c, int ret);
static void verify_text(char *out, size_t cap, uint32_t flags);
static const mbedtls_x509_buf *subject_cn(const mbedtls_x509_name *name);
static enum tls_status status_of(struct tls_conn *c, int ret,
                                 const char *what);

struct tls_server *
tls_server_new(const struct tls_options *opts)
{
    struct tls_server *srv;
    struct tls_config *cfg = NULL;
    struct tls_why why = { "" };

    if ((srv = calloc(1, sizeof *srv)) == NULL ||
        (errno = pthread_mutex_init(&srv->lock, NULL)) != 0) {
        log_warn("tls: cannot make the server");
        free(srv);
        return NULL;
    }
    srv->base.cert.dirfd = srv->base.key.dirfd = srv->base.ca.dirfd = -1;
    mbedtls_entropy_init(&srv->entropy);
    mbedtls_ctr_drbg_init(&srv->base.drbg);
    mbedtls_ssl_ticket_init(&srv->base.ticket);
    mbedtls_ssl_cache_init(&srv->base.cache);

    if (seed_drbg(srv) == -1 || setup_shared(srv) == -1)
        goto fail;
    if (find_files(srv, opts, &why) == -1 ||
        (cfg = tls_config_load(&srv->base, &why)) == NULL) {
        if (why.text[0] != '\0')        /* ident.c logs its own */
            log_warnx("tls: %s", why.text);
        goto fail;
    }
    publish(srv, cfg);
    return srv;
fail:
    tls_server_free(srv);
    return NULL;
}

int
tls_server_reload(struct tls_server *srv)
{
    struct tls_config *cfg;
    struct tls_why why = { "" };

    /*
     * Our own identity never changes while we run, so there is nothing
     * to re-read; and started as root, its key is root's alone (0600 in
     * a 0700 folder), out of reach of the user we became.
     */
    if (srv->own_identity && srv->base.ca.dirfd == -1) {
        log_info("tls: the self-signed identity stays as it is (nothing "
                 "to reload)");
        return 0;
    }

    if ((cfg = tls_config_load(&srv->base, &why)) == NULL) {
        log_warnx("tls: reload failed, keeping the old certificate: %s",
                  why.text);
        return -1;
    }
    publish(srv, cfg);
    log_info("tls: reloaded %s, SHA-256 fingerprint %s",
             srv->base.cert.path, srv->fingerprint);
    return 0;
}

void
tls_server_free(struct tls_server *srv)
{
    struct tls_file *files[3];
    size_t i;

    if (srv == NULL)
        return;
    tls_config_release(srv->current);
    files[0] = &srv->base.cert;
    files[1] = &srv->base.key;
    files[2] = &srv->base.ca;
    for (i = 0; i < sizeof files / sizeof files[0]; i++)
        if (files[i]->dirfd != -1)
            close(files[i]->dirfd);
    mbedtls_ssl_cache_free(&srv->base.cache);
    mbedtls_ssl_ticket_free(&srv->base.ticket);
    mbedtls_ctr_drbg_free(&srv->base.drbg);
    mbedtls_entropy_free(&srv->entropy);
    pthread_mutex_destroy(&srv->lock);
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
    return srv->base.cert.path;
}

struct tls_conn *
tls_conn_new(struct tls_server *srv, int fd, const char *peer)
{
    struct tls_conn *c;
    char text[TLS_ERRTEXT_MAX];
    int ret;

    if (peer == NULL)
        peer = "?";
    if ((c = calloc(1, sizeof *c)) == NULL) {
        log_warn("tls: cannot allocate a connection for %s", peer);
        return NULL;
    }
    mbedtls_ssl_init(&c->ssl);
    c->cfg = config_acquire(srv);
    tls_bio_init(&c->bio, fd);
    snprintf(c->peer, sizeof c->peer, "%s", peer);

    if ((ret = mbedtls_ssl_setup(&c->ssl, &c->cfg->conf)) != 0) {
        mbedtls_strerror(ret, text, sizeof text);
        log_warnx("tls: mbedtls_ssl_setup failed for %s: %s (-0x%04x)",
                  c->peer, text, (unsigned int)-ret);
        tls_conn_free(c);
        return NULL;
    }
    /* C is on the heap and outlives the context: its BIO can live in it. */
    mbedtls_ssl_set_bio(&c->ssl, &c->bio, tls_bio_send, tls_bio_recv,
                        NULL);
    if (c->cfg->ca.raw.p != NULL)
        mbedtls_ssl_set_verify(&c->ssl, note_verify, c);
    return c;
}

void
tls_conn_free(struct tls_conn *c)
{
    if (c == NULL)
        return;
    mbedtls_ssl_free(&c->ssl);          /* may still look at the config */
    tls_config_release(c->cfg);
    free(c);
}

enum tls_status
tls_handshake(struct tls_conn *c)
{
    enum tls_status st;
    int ret, rounds = 0;

    do
        ret = mbedtls_ssl_handshake(&c->ssl);
    while (held_unread(c, ret) && ++rounds < HELD_ROUNDS);
    if (held_unread(c, ret))
        return TLS_WANT_WRITE;          /* see tls_read */
    if (ret == 0) {
        if (recheck_resumed(c) == -1)
            return TLS_FAILED;
        c->handshake_done = true;
        return TLS_OK;
    }
    st = status_of(c, ret, "handshake");
    if (st == TLS_FAILED)
        refuse_client(c, ret);
    return st;
}

size_t
tls_read(struct tls_conn *c, void *buf, size_t len, enum tls_status *st)
{
    int ret, rounds = 0;

    /* mbedTLS answers 0 for an empty buffer, which would look like EOF. */
    if (len == 0) {
        *st = TLS_OK;
        return 0;
    }
    do
        ret = mbedtls_ssl_read(&c->ssl, buf, len);
    while (read_again(c, ret) && ++rounds < HELD_ROUNDS);
    if (ret > 0) {
        *st = TLS_OK;
        return (size_t)ret;
    }
    if (read_again(c, ret)) {
        /* Many records with nothing in them: let the worker's other
         * clients go first.  Writable at once, this one comes back. */
        *st = TLS_WANT_WRITE;
        return 0;
    }
    *st = ret == 0 ? TLS_CLOSED : status_of(c, ret, "read");
    return 0;
}

/*
 * mbedTLS returns 0 for an empty record, as for the end of the stream:
 * unless the socket has ended, read on.
 */
static bool
read_again(const struct tls_conn *c, int ret)
{
    return ret == 0 ? !c->bio.eof : held_unread(c, ret);
}

/*
 * mbedTLS returns WANT_READ after a warning alert it does not skip
 * (no_renegotiation) even when more bytes are held in the read-ahead,
 * which no epoll event will announce: then it must be called again.
 */
static bool
held_unread(const struct tls_conn *c, int ret)
{
    return ret == MBEDTLS_ERR_SSL_WANT_READ && tls_bio_holds(&c->bio);
}

size_t
tls_write(struct tls_conn *c, const void *buf, size_t len, bool more,
          enum tls_status *st)
{
    int ret;

    if (len == 0) {             /* would send an empty record */
        *st = TLS_OK;
        return 0;
    }
    c->bio.more = more;
    ret = mbedtls_ssl_write(&c->ssl, buf, len);
    c->bio.more = false;
    if (ret > 0) {
        *st = TLS_OK;
        return (size_t)ret;
    }
    *st = ret == 0 ? TLS_CLOSED : status_of(c, ret, "write");
    return 0;
}

bool
tls_pending(const struct tls_conn *c)
{
    return tls_bio_holds(&c->bio) ||
           mbedtls_ssl_check_pending(&c->ssl) != 0;
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

/*
 * Only a CN that a verified certificate carries, and only one that reads
 * as a user name: it ends up in roles and in the log.
 */
size_t
tls_peer_name(const struct tls_conn *c, char *out, size_t cap)
{
    const mbedtls_x509_crt *crt;
    const mbedtls_x509_buf *cn;
    size_t i;

    if (cap == 0)
        return 0;
    out[0] = '\0';
    if (!c->handshake_done || mbedtls_ssl_get_verify_result(&c->ssl) != 0 ||
        (crt = mbedtls_ssl_get_peer_cert(&c->ssl)) == NULL ||
        (cn = subject_cn(&crt->subject)) == NULL)
        return 0;
    if (cn->len == 0 || cn->len >= cap)
        return 0;
    for (i = 0; i < cn->len; i++)
        if (cn->p[i] < 0x20 || cn->p[i] == 0x7f)
            return 0;
    memcpy(out, cn->p, cn->len);
    out[cn->len] = '\0';
    return cn->len;
}

/*
 * The subject's one CN in a string type that holds text as bytes; NULL if
 * it has none, or two (which one would name the user?), or a BMPString.
 */
static const mbedtls_x509_buf *
subject_cn(const mbedtls_x509_name *name)
{
    const mbedtls_x509_buf *cn = NULL;

    for (; name != NULL; name = name->next) {
        if (MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &name->oid) != 0)
            continue;
        if (cn != NULL)
            return NULL;
        cn = &name->val;
    }
    if (cn == NULL || (cn->tag != MBEDTLS_ASN1_UTF8_STRING &&
                       cn->tag != MBEDTLS_ASN1_PRINTABLE_STRING &&
                       cn->tag != MBEDTLS_ASN1_IA5_STRING))
        return NULL;
    return cn;
}

/*
 * A failed handshake with a client CA: say which check the client's
 * certificate failed (missing, unknown CA, expired, key...).  mbedTLS
 * sends no alert for a missing certificate, and the client would see only
 * a reset, so send TLS 1.2's handshake_failure (best effort).
 */
static void
refuse_client(struct tls_conn *c, int ret)
{
    char info[VERIFY_MAX];
    uint32_t flags;

    if (c->cfg->ca.raw.p == NULL)
        return;
    if (ret == MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE)
        (void)mbedtls_ssl_send_alert_message(&c->ssl,
                MBEDTLS_SSL_ALERT_LEVEL_FATAL,
                MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE);
    if (!log_debug_enabled())
        return;
    flags = mbedtls_ssl_get_verify_result(&c->ssl);
    if (flags == 0 || flags == (uint32_t)-1)
        return;
    verify_text(info, sizeof info, flags);
    log_debug("tls: client certificate of %s refused: %s", c->peer, info);
}

/* mbedTLS's words for verify FLAGS as one line ("a; b"); 0: missing. */
static void
verify_text(char *out, size_t cap, uint32_t flags)
{
    char *p;

    if (flags == 0)
        flags = MBEDTLS_X509_BADCERT_MISSING;
    if (mbedtls_x509_crt_verify_info(out, cap, "", flags) < 0) {
        snprintf(out, cap, "verify flags 0x%08x", (unsigned int)flags);
        return;
    }
    for (p = out; (p = strchr(p, '\n')) != NULL; )
        *p = p[1] != '\0' ? ';' : '\0';
}

/* Called by mbedTLS for each certificate of a chain it verifies. */
static int
note_verify(void *ctx, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
    struct tls_conn *c = ctx;

    (void)crt;
    (void)depth;
    (void)flags;                /* mbedTLS's verdict stands */
    c->chain_checked = true;
    return 0;
}

/*
 * A resumed session (ticket or cache) skips certificate verification: it
 * may predate a reload that changed the client CA, or its certificate may
 * have expired since.  So check it against this generation's CAs now.
 * Sessions keep only the leaf, so the CA file must hold its issuer.
 */
static int
recheck_resumed(struct tls_conn *c)
{
    const mbedtls_x509_crt *peer;
    uint32_t flags = 0;
    int ret = -1;

    if (c->cfg->ca.raw.p == NULL || c->chain_checked)
        return 0;
    peer = mbedtls_ssl_get_peer_cert(&c->ssl);
    if (peer != NULL)
        ret = mbedtls_x509_crt_verify((mbedtls_x509_crt *)peer, &c->cfg->ca,
                                      NULL, NULL, &flags, NULL, NULL);
    if (ret == 0)
        return 0;
    if (log_debug_enabled()) {
        char info[VERIFY_MAX];

        verify_text(info, sizeof info, peer != NULL ? flags : 0);
        log_debug("tls: resumed session of %s refused: %s", c->peer, info);
    }
    (void)mbedtls_ssl_send_alert_message(&c->ssl,
            MBEDTLS_SSL_ALERT_LEVEL_FATAL, MBEDTLS_SSL_ALERT_MSG_BAD_CERT);
    return -1;
}

/* One generator for everything; its mutex makes it safe across workers. */
static int
seed_drbg(struct tls_server *srv)
{
    static const unsigned char pers[] = "ferry";

    return tls_check(mbedtls_ctr_drbg_seed(&srv->base.drbg,
                                           mbedtls_entropy_func,
                                           &srv->entropy, pers,
                                           sizeof pers - 1),
                     "mbedtls_ctr_drbg_seed");
}

/*
 * Ticket keys and the session cache outlive reloads, so a client can
 * resume a session made with the previous certificate.
 */
static int
setup_shared(struct tls_server *srv)
{
    mbedtls_ssl_cache_set_max_entries(&srv->base.cache, TLS_CACHE_ENTRIES);
    mbedtls_ssl_cache_set_timeout(&srv->base.cache, TLS_CACHE_TIMEOUT_S);
    return tls_check(mbedtls_ssl_ticket_setup(&srv->base.ticket,
                                              mbedtls_ctr_drbg_random,
                                              &srv->base.drbg,
                                              MBEDTLS_CIPHER_AES_256_GCM,
                                              TLS_TICKET_LIFETIME_S),
                     "mbedtls_ssl_ticket_setup");
}

/*
 * Decide which files to load: --cert and --key, or our own identity (made
 * first if need be), and the client CA; open the folder of each.
 */
static int
find_files(struct tls_server *srv, const struct tls_options *opts,
           struct tls_why *why)
{
    char cert[PATH_MAX], key[PATH_MAX];
    const char *state_dir = opts != NULL ? opts->state_dir : NULL;

    if (opts != NULL && (opts->cert_path != NULL || opts->key_path != NULL)) {
        if (opts->cert_path == NULL || opts->key_path == NULL)
            return tls_fail(why, 0, 0, "--cert and --key must be given "
                            "together");
        if (tls_files_open(&srv->base.cert, "certificate", opts->cert_path,
                           why) == -1 ||
            tls_files_open(&srv->base.key, "key", opts->key_path, why) == -1)
            return -1;
    } else {
        srv->own_identity = true;
        if (ident_find_or_make(state_dir, cert, key, sizeof cert,
                               mbedtls_ctr_drbg_random,
                               &srv->base.drbg) == -1 ||
            tls_files_open(&srv->base.cert, "certificate", cert,
                           why) == -1 ||
            tls_files_open(&srv->base.key, "key", key, why) == -1)
            return -1;
    }
    if (opts != NULL && opts->client_ca_path != NULL)
        return tls_files_open(&srv->base.ca, "client CA",
                              opts->client_ca_path, why);
    return 0;
}

/*
 * Take a reference to the current generation.  The lock keeps a reload
 * from dropping the server's reference between reading the pointer and
 * counting ours, so the count never climbs back from zero.
 */
static struct tls_config *
config_acquire(struct tls_server *srv)
{
    struct tls_config *cfg;

    pthread_mutex_lock(&srv->lock);
    cfg = srv->current;
    atomic_fetch_add(&cfg->refs, 1);
    pthread_mutex_unlock(&srv->lock);
    return cfg;
}

/* Make CFG current for new connections, and drop the one it replaces. */
static void
publish(struct tls_server *srv, struct tls_config *cfg)
{
    struct tls_config *old;

    pthread_mutex_lock(&srv->lock);
    old = srv->current;
    srv->current = cfg;
    pthread_mutex_unlock(&srv->lock);
    tls_config_release(old);
    memcpy(srv->fingerprint, cfg->fingerprint, sizeof srv->fingerprint);
    memcpy(srv->pin, cfg->pin, sizeof srv->pin);
}


/*
 * Map an mbedTLS result to what the event loop needs.  Failures come from
 * clients (scanners, resets, bad records), so they are debug lines only.
 */
static enum tls_status
status_of(struct tls_conn *c, int ret, const char *what)
{
    char text[TLS_ERRTEXT_MAX], sys[TLS_ERRTEXT_MAX], errbuf[TLS_ERRTEXT_MAX];

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
             ret == MBEDTLS_ERR_NET_RECV_FAILED) && c->bio.sys_errno != 0)
            snprintf(sys, sizeof sys, ": %s",
                     strerror_r(c->bio.sys_errno, errbuf, sizeof errbuf));
        log_debug("tls: %s failed for %s: %s (-0x%04x)%s", what, c->peer,
                  text, (unsigned int)-ret, sys);
    }
    return TLS_FAILED;
}
