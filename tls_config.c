/*
 * tls_config.c: making one generation of the TLS configuration from the
 * files, and freeing it when its last user lets go.  The choices of
 * protocol, suites and curves are made here.
 */
#include "tls_config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/base64.h>
#include <mbedtls/ecp.h>
#include <mbedtls/sha256.h>

#include "tls_log.h"

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

/*
 * The server's order wins: x25519 first.  The list also limits the keys
 * of client certificates, so P-384 is here for mTLS.
 */
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

static int load_pair(struct tls_config_base *base, struct tls_config *cfg,
                     struct tls_why *why);
static int load_ca(struct tls_config_base *base, struct tls_config *cfg,
                   struct tls_why *why);
static int set_ids(struct tls_config *cfg, struct tls_why *why);
static int configure(struct tls_config_base *base, struct tls_config *cfg,
                     struct tls_why *why);

/*
 * A new generation from the files: chain, key, client CA, ids and the
 * configuration, with one reference (the caller's).  NULL with WHY filled.
 */
struct tls_config *
tls_config_load(struct tls_config_base *base, struct tls_why *why)
{
    struct tls_config *cfg;

    if ((cfg = calloc(1, sizeof *cfg)) == NULL) {
        tls_fail(why, errno, 0, "cannot allocate a configuration");
        return NULL;
    }
    mbedtls_ssl_config_init(&cfg->conf);
    mbedtls_x509_crt_init(&cfg->crt);
    mbedtls_pk_init(&cfg->key);
    mbedtls_x509_crt_init(&cfg->ca);
    atomic_init(&cfg->refs, 1);

    if (load_pair(base, cfg, why) == -1 || load_ca(base, cfg, why) == -1 ||
        set_ids(cfg, why) == -1 || configure(base, cfg, why) == -1) {
        tls_config_release(cfg);
        return NULL;
    }
    return cfg;
}

/* Drop a reference; the last one frees the generation.  Accepts NULL. */
void
tls_config_release(struct tls_config *cfg)
{
    if (cfg == NULL || atomic_fetch_sub(&cfg->refs, 1) != 1)
        return;
    mbedtls_ssl_config_free(&cfg->conf);
    mbedtls_x509_crt_free(&cfg->ca);
    mbedtls_pk_free(&cfg->key);         /* zeroizes the key */
    mbedtls_x509_crt_free(&cfg->crt);
    free(cfg);
}

/* Load the PEM chain and its key, and check that they belong together. */
static int
load_pair(struct tls_config_base *base, struct tls_config *cfg,
          struct tls_why *why)
{
    int ret;

    if (tls_files_parse_crt(&base->cert, "certificate", &cfg->crt, why) == -1 ||
        tls_files_parse_key(&base->key, &cfg->key, why) == -1)
        return -1;
    if ((ret = mbedtls_pk_check_pair(&cfg->crt.pk, &cfg->key)) != 0)
        return tls_fail(why, 0, ret, "key %s does not match certificate %s",
                        base->key.path, base->cert.path);
    return 0;
}

/*
 * The CAs a client certificate must chain to.  A file with no CA in it
 * (say, a client's own certificate given by mistake) would refuse every
 * client, so it is refused here with a clearer word.
 */
static int
load_ca(struct tls_config_base *base, struct tls_config *cfg,
        struct tls_why *why)
{
    const mbedtls_x509_crt *crt;

    if (base->ca.dirfd == -1)
        return 0;
    if (tls_files_parse_crt(&base->ca, "client CA", &cfg->ca, why) == -1)
        return -1;
    for (crt = &cfg->ca; crt != NULL; crt = crt->next)
        if (crt->ca_istrue)
            return 0;
    return tls_fail(why, 0, 0, "cannot load client CA %s: no certificate in it "
                    "is a CA (basicConstraints CA:TRUE)", base->ca.path);
}

/*
 * The fingerprint hashes the leaf's DER, as openssl does.  The pin hashes
 * the SubjectPublicKeyInfo exactly as the certificate carries it, which is
 * what curl --pinnedpubkey hashes.
 */
static int
set_ids(struct tls_config *cfg, struct tls_why *why)
{
    static const char hex[] = "0123456789ABCDEF";
    unsigned char hash[32];
    size_t i, b64_len;
    int ret;

    ret = mbedtls_sha256_ret(cfg->crt.raw.p, cfg->crt.raw.len, hash, 0);
    for (i = 0; ret == 0 && i < sizeof hash; i++) {
        cfg->fingerprint[3 * i] = hex[hash[i] >> 4];
        cfg->fingerprint[3 * i + 1] = hex[hash[i] & 0x0f];
        cfg->fingerprint[3 * i + 2] = i + 1 < sizeof hash ? ':' : '\0';
    }
    if (ret == 0)
        ret = mbedtls_sha256_ret(cfg->crt.pk_raw.p, cfg->crt.pk_raw.len,
                                 hash, 0);
    if (ret == 0) {
        memcpy(cfg->pin, "sha256//", strlen("sha256//"));
        ret = mbedtls_base64_encode((unsigned char *)cfg->pin + 8,
                                    sizeof cfg->pin - 8, &b64_len,
                                    hash, sizeof hash);
    }
    return ret == 0 ? 0 : tls_fail(why, 0, ret, "hashing the certificate");
}

int
tls_config_choose(mbedtls_ssl_config *conf)
{
    /* The defaults accept TLS 1.0; 1.3 is not in this mbedTLS. */
    mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                                 MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_max_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                                 MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_ciphersuites(conf, ciphersuites);
    mbedtls_ssl_conf_curves(conf, curves);
    mbedtls_ssl_conf_sig_hashes(conf, sig_hashes);
    mbedtls_ssl_conf_renegotiation(conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
    /* mbedTLS only reads the list; its prototype lacks the const. */
    return mbedtls_ssl_conf_alpn_protocols(conf, (const char **)alpn_protos);
}

/*
 * One generation's configuration: tls_config_choose's choices, then the
 * server's shared generator, tickets and cache, the client CA and the key.
 */
static int
configure(struct tls_config_base *base, struct tls_config *cfg,
          struct tls_why *why)
{
    mbedtls_ssl_config *conf = &cfg->conf;
    int ret;

    ret = mbedtls_ssl_config_defaults(conf, MBEDTLS_SSL_IS_SERVER,
                                      MBEDTLS_SSL_TRANSPORT_STREAM,
                                      MBEDTLS_SSL_PRESET_DEFAULT);
    if (ret != 0)
        return tls_fail(why, 0, ret, "mbedtls_ssl_config_defaults failed");
    if ((ret = tls_config_choose(conf)) != 0)
        return tls_fail(why, 0, ret, "mbedtls_ssl_conf_alpn_protocols failed");
    mbedtls_ssl_conf_rng(conf, mbedtls_ctr_drbg_random, &base->drbg);
    mbedtls_ssl_conf_session_cache(conf, &base->cache, mbedtls_ssl_cache_get,
                                   mbedtls_ssl_cache_set);
    mbedtls_ssl_conf_session_tickets_cb(conf, mbedtls_ssl_ticket_write,
                                        mbedtls_ssl_ticket_parse,
                                        &base->ticket);
    if (cfg->ca.raw.p != NULL) {
        mbedtls_ssl_conf_ca_chain(conf, &cfg->ca, NULL);
        mbedtls_ssl_conf_authmode(conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    } else {
        mbedtls_ssl_conf_authmode(conf, MBEDTLS_SSL_VERIFY_NONE);
    }

    if ((ret = mbedtls_ssl_conf_own_cert(conf, &cfg->crt, &cfg->key)) != 0)
        return tls_fail(why, 0, ret, "mbedtls_ssl_conf_own_cert failed");
    return 0;
}
