/*
 * tls_config.h: one generation of the TLS configuration.
 *
 * A generation is what tls_server_reload replaces: the mbedTLS
 * configuration with its certificate chain, key and client CA, and the
 * fingerprint and pin shown for them.  It is reference-counted: the server
 * holds one reference while it is current and each connection made with
 * it holds one; the last to let go frees it.  Which generation is current
 * is tls.c's business.
 */
#ifndef FERRY_TLS_CONFIG_H
#define FERRY_TLS_CONFIG_H

#include <stdatomic.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_cache.h>
#include <mbedtls/ssl_ticket.h>
#include <mbedtls/x509_crt.h>

#include "tls_files.h"

#define TLS_FINGERPRINT_MAX (32 * 3)        /* "AB:" x 32, last ':' NUL */
#define TLS_PIN_MAX         (sizeof "sha256//" + 44)  /* base64 of 32 B: 44 */

struct tls_why;

/*
 * One generation of what a reload replaces.  The server holds a reference
 * while it is current and each connection made with it holds one; the
 * last to let go frees it.
 */
struct tls_config {
    mbedtls_ssl_config  conf;
    mbedtls_x509_crt    crt;
    mbedtls_pk_context  key;
    mbedtls_x509_crt    ca;             /* empty without a client CA */
    atomic_uint         refs;
    char fingerprint[TLS_FINGERPRINT_MAX];
    char pin[TLS_PIN_MAX];
};

/*
 * What every generation is made from, owned, set up and freed by the
 * server: the generator, ticket keys and session cache that all
 * generations share (so sessions outlive a reload), and the files, opened
 * with tls_files_open (ca.dirfd -1: no client CA).
 */
struct tls_config_base {
    mbedtls_ctr_drbg_context    drbg;
    mbedtls_ssl_ticket_context  ticket;
    mbedtls_ssl_cache_context   cache;
    struct tls_file cert, key, ca;
};

/*
 * Make a generation from BASE: read the chain, key and client CA (see
 * tls_files.h for what is trusted), check that key and certificate match
 * and that the client CA file holds a CA, hash the fingerprint and pin,
 * and set up the configuration (TLS 1.2, ECDHE with AEAD suites, ALPN,
 * client certificates required with a client CA).  The configuration
 * points into BASE, which must outlive it.  Returns the generation with
 * one reference, the caller's, to drop with tls_config_release; or NULL
 * with WHY filled.
 */
struct tls_config *tls_config_load(struct tls_config_base *base,
                                   struct tls_why *why);

/*
 * What ferry offers, set on a configuration made by
 * mbedtls_ssl_config_defaults: TLS 1.2 only, ECDHE with AEAD suites
 * (ChaCha20 first), x25519 first, no SHA-1 signatures, no
 * renegotiation, ALPN http/1.1.  Shared with bench/ceiling.c, so that the
 * ceiling is measured on exactly these.  Returns 0 or an mbedTLS error.
 */
int tls_config_choose(mbedtls_ssl_config *conf);

/*
 * Drop a reference to CFG; the last one frees it, key zeroed.  Accepts
 * NULL.  Safe from any thread.
 */
void tls_config_release(struct tls_config *cfg);

#endif /* FERRY_TLS_CONFIG_H */
