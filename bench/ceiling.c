/*
 * bench/ceiling.c: what mbedTLS itself allows on this machine, the
 * ceiling that ferry's own figures are read against (issue 6).
 *
 * One thread, no sockets: a server and a client mbedtls_ssl_context talk
 * through two ring buffers in memory.  It measures AEAD throughput on full
 * 16 KiB records, through mbedtls_ssl_write and through the bare cipher
 * call the record layer makes, and the server's cost of a full and of a
 * resumed TLS 1.2 handshake, configured as tls_config.c configures ferry.
 * Only the server's calls are timed, on this thread's CPU clock; the
 * client's work (decrypting, verifying) is done but not counted.
 */
#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/cipher.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_cache.h>
#include <mbedtls/ssl_ticket.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>

#include "ident.h"              /* ferry's self-signed identity */
#include "tls.h"                /* ferry's ticket lifetime and cache size */
#include "tls_config.h"         /* what ferry offers */

#define RECORD_BYTES    16384   /* a full record's content, TLS's maximum */
#define TAG_BYTES       16      /* the AEAD tag of every suite here */
#define BATCH_RECORDS   4       /* records per timed region */
#define RING_BYTES      (BATCH_RECORDS * (RECORD_BYTES + 64))  /* + framing */
#define RESUMES_PER_FULL 20     /* of each kind per full handshake, which
                                   costs ~50: both kinds get many samples */
#define ROUNDS_MAX      16      /* rounds of the handshake loop; 3 needed */
#define CALIBRATE_READS 20000   /* clock readings averaged for their cost */
#define SECONDS_DEFAULT 1.0
#define SECONDS_MAX     600.0
#define AEAD_COUNT      3
#define ERRTEXT_MAX     160

/* An AEAD as a TLS suite (for the record figure) and as a cipher (raw). */
struct aead {
    const char *name;
    int suites[2];              /* what the client offers, 0-terminated */
    mbedtls_cipher_type_t cipher;
};

/* A byte queue: one direction of the in-memory connection. */
struct ring {
    unsigned char buf[RING_BYTES];
    size_t start, len;
};

/* What one side's BIO callbacks see: where it reads, where it writes. */
struct end {
    struct ring *in, *out;
};

/* A connected pair; to_srv carries the client's bytes, to_cli the server's. */
struct pair {
    mbedtls_ssl_context srv, cli;
    struct ring to_srv, to_cli;
    struct end srv_end, cli_end;
};

/* Server CPU in timed regions, and what reading the clock costs each. */
struct stopwatch {
    int64_t ns, started_ns;
    long regions;
    double bias_ns;
};

/* The server CPU of each kind of handshake. */
struct clocks {
    struct stopwatch full, ticket, cache;
};

/* ferry's ticket and cache contexts, counted: a resumed run must hit. */
struct counted_ticket {
    mbedtls_ssl_ticket_context ctx;
    long parsed;
};

struct counted_cache {
    mbedtls_ssl_cache_context ctx;
    long hits;
};

/* Everything made once at start and shared by every connection. */
struct bench {
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_pk_context key;
    mbedtls_x509_crt crt;
    struct counted_ticket ticket;
    struct counted_cache cache;
    mbedtls_ssl_config srv_conf;
    mbedtls_ssl_config cli_conf;            /* offers tickets */
    mbedtls_ssl_config cli_noticket_conf;   /* resumes by session ID */
    struct pair pair;
    unsigned char plain[RECORD_BYTES];
    unsigned char sealed[RECORD_BYTES + TAG_BYTES];
    const char *suite;          /* of the last handshake */
    double seconds;             /* wall time per figure */
    double clock_bias_ns;
};

struct results {
    double record_mb_s[AEAD_COUNT], raw_mb_s[AEAD_COUNT];
    double full_ms, full_per_s, ticket_us, cache_us;
    long full_count, resumed_count;     /* of each resumed kind */
    const char *suite;
};

struct options {
    double seconds;
    bool json;
};

static const struct aead aeads[AEAD_COUNT] = {
    { "chacha20-poly1305",
      { MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, 0 },
      MBEDTLS_CIPHER_CHACHA20_POLY1305 },
    { "aes-128-gcm",
      { MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, 0 },
      MBEDTLS_CIPHER_AES_128_GCM },
    { "aes-256-gcm",
      { MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, 0 },
      MBEDTLS_CIPHER_AES_256_GCM },
};

static const char *const client_alpn[] = { "http/1.1", NULL };

static int parse_args(int argc, char **argv, struct options *opts);
static void usage(FILE *f);
static void bench_init(struct bench *b, double seconds);
static int bench_setup(struct bench *b);
static void bench_free(struct bench *b);
static int run_all(struct bench *b, struct results *r);
static void print_table(const struct bench *b, const struct results *r);
static void print_json(const struct bench *b, const struct results *r);
static int load_identity(struct bench *b);
static int setup_sessions(struct bench *b);
static int configure_server(struct bench *b);
static int configure_client(struct bench *b, mbedtls_ssl_config *conf,
                            bool tickets);
static int configure_common(struct bench *b, mbedtls_ssl_config *conf,
                            int endpoint);
static int bench_aead(struct bench *b, const struct aead *a,
                      double *record_mb_s, double *raw_mb_s);
static int check_suite(const struct pair *p, const struct aead *a);
static int setup_cipher(struct bench *b, const struct aead *a,
                        mbedtls_cipher_context_t *ctx);
static int send_batch(struct bench *b, struct stopwatch *sw);
static int receive_all(struct bench *b, size_t expected);
static int encrypt_batch(struct bench *b, mbedtls_cipher_context_t *ctx,
                         uint64_t *seq, struct stopwatch *sw);
static int bench_handshakes(struct bench *b, struct results *r);
static int handshake_round(struct bench *b,
                           const mbedtls_ssl_session *by_ticket,
                           const mbedtls_ssl_session *by_id,
                           struct clocks *c);
static int report_handshakes(const struct clocks *c, long rounds,
                             long tickets, long hits, struct results *r);
static int connect_once(struct bench *b, const mbedtls_ssl_config *cli_conf,
                        const mbedtls_ssl_session *resume,
                        mbedtls_ssl_session *save, struct stopwatch *sw);
static int pair_open(struct bench *b, const mbedtls_ssl_config *cli_conf,
                     const mbedtls_ssl_session *resume, struct stopwatch *sw);
static void pair_close(struct pair *p, struct stopwatch *sw);
static int handshake(struct pair *p, struct stopwatch *sw);
static int step(mbedtls_ssl_context *ssl, bool *done);
static int bio_send(void *ctx, const unsigned char *buf, size_t len);
static int bio_recv(void *ctx, unsigned char *buf, size_t len);
static size_t ring_put(struct ring *r, const unsigned char *buf, size_t len);
static size_t ring_get(struct ring *r, unsigned char *buf, size_t len);
static int write_ticket(void *p_ticket, const mbedtls_ssl_session *session,
                        unsigned char *start, const unsigned char *end,
                        size_t *tlen, uint32_t *lifetime);
static int parse_ticket(void *p_ticket, mbedtls_ssl_session *session,
                        unsigned char *buf, size_t len);
static int get_cached(void *data, mbedtls_ssl_session *session);
static int set_cached(void *data, const mbedtls_ssl_session *session);
static struct stopwatch stopwatch_new(const struct bench *b);
static void stopwatch_start(struct stopwatch *sw);
static void stopwatch_stop(struct stopwatch *sw);
static double stopwatch_ns(const struct stopwatch *sw);
static double calibrate_clock(void);
static bool time_up(int64_t start_ns, double seconds);
static int64_t clock_ns(clockid_t id);
static bool ok(int ret, const char *call);
static int fail(const char *call, int ret);
static int failx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

int
main(int argc, char **argv)
{
    struct options opts = { SECONDS_DEFAULT, false };
    struct results r;
    struct bench *b;
    int rv = 1;

    if (parse_args(argc, argv, &opts) == -1)
        return 2;
    /* The rings and buffers make it ~200 KiB: the heap, not the stack. */
    if ((b = calloc(1, sizeof *b)) == NULL) {
        perror("bench-ceiling: cannot allocate");
        return 1;
    }
    bench_init(b, opts.seconds);
    memset(&r, 0, sizeof r);

    if (bench_setup(b) == 0 && run_all(b, &r) == 0) {
        if (opts.json)
            print_json(b, &r);
        else
            print_table(b, &r);
        rv = 0;
    }
    bench_free(b);
    free(b);
    return rv;
}

/* -t SECONDS (wall time per figure), --json; -1 after a usage error. */
static int
parse_args(int argc, char **argv, struct options *opts)
{
    static const struct option longopts[] = {
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    char *end;
    int c;

    while ((c = getopt_long(argc, argv, "t:h", longopts, NULL)) != -1) {
        switch (c) {
        case 't':
            errno = 0;
            opts->seconds = strtod(optarg, &end);
            /* NaN fails both comparisons, so it is refused too. */
            if (errno != 0 || end == optarg || *end != '\0' ||
                !(opts->seconds > 0 && opts->seconds <= SECONDS_MAX)) {
                fprintf(stderr, "bench-ceiling: -t wants seconds, more "
                        "than 0 and at most %.0f: %s\n", SECONDS_MAX, optarg);
                return -1;
            }
            break;
        case 'j':
            opts->json = true;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return -1;
    }
    return 0;
}

static void
usage(FILE *f)
{
    fprintf(f, "usage: bench-ceiling [-t SECONDS] [--json]\n"
            "  -t SECONDS  wall time spent on each figure (%.1f)\n"
            "  --json      one JSON object instead of the table\n",
            SECONDS_DEFAULT);
}

/* Init everything, so that bench_free works however far setup got. */
static void
bench_init(struct bench *b, double seconds)
{
    size_t i;

    mbedtls_entropy_init(&b->entropy);
    mbedtls_ctr_drbg_init(&b->drbg);
    mbedtls_pk_init(&b->key);
    mbedtls_x509_crt_init(&b->crt);
    mbedtls_ssl_ticket_init(&b->ticket.ctx);
    mbedtls_ssl_cache_init(&b->cache.ctx);
    mbedtls_ssl_config_init(&b->srv_conf);
    mbedtls_ssl_config_init(&b->cli_conf);
    mbedtls_ssl_config_init(&b->cli_noticket_conf);
    mbedtls_ssl_init(&b->pair.srv);
    mbedtls_ssl_init(&b->pair.cli);
    b->seconds = seconds;

    /* The ciphers do not care what the bytes are; the check does. */
    for (i = 0; i < sizeof b->plain; i++)
        b->plain[i] = (unsigned char)(i * 131 + 7);
}

static int
bench_setup(struct bench *b)
{
    static const unsigned char pers[] = "ferry bench-ceiling";

    if (!ok(mbedtls_ctr_drbg_seed(&b->drbg, mbedtls_entropy_func,
                                  &b->entropy, pers, sizeof pers - 1),
            "mbedtls_ctr_drbg_seed"))
        return -1;
    if (load_identity(b) == -1 || setup_sessions(b) == -1 ||
        configure_server(b) == -1 ||
        configure_client(b, &b->cli_conf, true) == -1 ||
        configure_client(b, &b->cli_noticket_conf, false) == -1)
        return -1;
    b->clock_bias_ns = calibrate_clock();
    return 0;
}

/* The configurations point at the rest, so they go first. */
static void
bench_free(struct bench *b)
{
    mbedtls_ssl_free(&b->pair.cli);
    mbedtls_ssl_free(&b->pair.srv);
    mbedtls_ssl_config_free(&b->cli_noticket_conf);
    mbedtls_ssl_config_free(&b->cli_conf);
    mbedtls_ssl_config_free(&b->srv_conf);
    mbedtls_ssl_cache_free(&b->cache.ctx);
    mbedtls_ssl_ticket_free(&b->ticket.ctx);
    mbedtls_x509_crt_free(&b->crt);
    mbedtls_pk_free(&b->key);
    mbedtls_ctr_drbg_free(&b->drbg);
    mbedtls_entropy_free(&b->entropy);
}

static int
run_all(struct bench *b, struct results *r)
{
    size_t i;

    for (i = 0; i < AEAD_COUNT; i++)
        if (bench_aead(b, &aeads[i], &r->record_mb_s[i],
                       &r->raw_mb_s[i]) == -1)
            return -1;
    return bench_handshakes(b, r);
}

static void
print_table(const struct bench *b, const struct results *r)
{
    char version[16];
    size_t i;

    mbedtls_version_get_string(version);
    printf("# mbedTLS %s, one thread, in memory, server CPU only, "
           "%.1f s a figure\n", version, b->seconds);
    printf("# handshakes: TLS 1.2 %s, ECDSA P-256 certificate, x25519\n",
           r->suite);
    printf("%-46s %10s  %s\n", "figure", "value", "unit");
    for (i = 0; i < AEAD_COUNT; i++) {
        printf("%-18s record (mbedtls_ssl_write)    %10.1f  MB/s\n",
               aeads[i].name, r->record_mb_s[i]);
        printf("%-18s raw (cipher_auth_encrypt_ext) %10.1f  MB/s\n",
               aeads[i].name, r->raw_mb_s[i]);
    }
    printf("%-46s %10.3f  ms (n=%ld)\n", "full handshake, server CPU",
           r->full_ms, r->full_count);
    printf("%-46s %10.0f  /s\n", "full handshakes per second of server CPU",
           r->full_per_s);
    printf("%-46s %10.1f  us (n=%ld)\n", "resumed handshake, session ticket",
           r->ticket_us, r->resumed_count);
    printf("%-46s %10.1f  us (n=%ld)\n", "resumed handshake, session cache",
           r->cache_us, r->resumed_count);
    printf("%-46s %10.2f  us\n", "clock reading, subtracted per timed region",
           b->clock_bias_ns / 1e3);
}

static void
print_json(const struct bench *b, const struct results *r)
{
    char version[16];
    size_t i;

    mbedtls_version_get_string(version);
    printf("{\"mbedtls\":\"%s\",\"seconds\":%.3f,\"clock_read_us\":%.3f,"
           "\"aead\":{", version, b->seconds, b->clock_bias_ns / 1e3);
    for (i = 0; i < AEAD_COUNT; i++)
        printf("%s\"%s\":{\"record_mb_s\":%.1f,\"raw_mb_s\":%.1f}",
               i > 0 ? "," : "", aeads[i].name, r->record_mb_s[i],
               r->raw_mb_s[i]);
    printf("},\"handshake\":{\"suite\":\"%s\",\"full_ms\":%.3f,"
           "\"full_per_s\":%.1f,\"resumed_ticket_us\":%.1f,"
           "\"resumed_cache_us\":%.1f,\"full_n\":%ld,\"resumed_n\":%ld}}\n",
           r->suite, r->full_ms, r->full_per_s, r->ticket_us, r->cache_us,
           r->full_count, r->resumed_count);
}

/*
 * ferry's own self-signed identity (ident.c), made in a temporary folder
 * and read back as tls.c reads it; the folder goes at once.
 */
static int
load_identity(struct bench *b)
{
    char dir[] = "/tmp/ferry-ceiling.XXXXXX";
    char cert[PATH_MAX], key[PATH_MAX];
    int rv = -1;

    if (mkdtemp(dir) == NULL)
        return failx("cannot make a temporary folder: %s", strerror(errno));
    if (ident_find_or_make(dir, cert, key, sizeof cert,
                           mbedtls_ctr_drbg_random, &b->drbg) == 0 &&
        ok(mbedtls_x509_crt_parse_file(&b->crt, cert),
           "mbedtls_x509_crt_parse_file") &&
        ok(mbedtls_pk_parse_keyfile(&b->key, key, NULL),
           "mbedtls_pk_parse_keyfile"))
        rv = 0;
    unlink(cert);
    unlink(key);
    rmdir(dir);
    return rv;
}

/* Ticket keys and the session cache set up as tls.c sets up ferry's. */
static int
setup_sessions(struct bench *b)
{
    mbedtls_ssl_cache_set_max_entries(&b->cache.ctx, TLS_CACHE_ENTRIES);
    mbedtls_ssl_cache_set_timeout(&b->cache.ctx, TLS_CACHE_TIMEOUT_S);
    return ok(mbedtls_ssl_ticket_setup(&b->ticket.ctx,
                                       mbedtls_ctr_drbg_random, &b->drbg,
                                       MBEDTLS_CIPHER_AES_256_GCM,
                                       TLS_TICKET_LIFETIME_S),
              "mbedtls_ssl_ticket_setup") ? 0 : -1;
}

/* tls_config.c's configure(), without a client CA. */
static int
configure_server(struct bench *b)
{
    mbedtls_ssl_config *conf = &b->srv_conf;

    if (configure_common(b, conf, MBEDTLS_SSL_IS_SERVER) == -1)
        return -1;
    if (!ok(tls_config_choose(conf), "tls_config_choose"))
        return -1;
    mbedtls_ssl_conf_session_cache(conf, &b->cache, get_cached, set_cached);
    mbedtls_ssl_conf_session_tickets_cb(conf, write_ticket, parse_ticket,
                                        &b->ticket);
    mbedtls_ssl_conf_authmode(conf, MBEDTLS_SSL_VERIFY_NONE);

    if (!ok(mbedtls_ssl_conf_own_cert(conf, &b->crt, &b->key),
            "mbedtls_ssl_conf_own_cert"))
        return -1;
    return 0;
}

/*
 * A client like curl's: it verifies the certificate (so a bad one would
 * show here, not as a too-fast server) and offers tickets, or not.
 */
static int
configure_client(struct bench *b, mbedtls_ssl_config *conf, bool tickets)
{
    if (configure_common(b, conf, MBEDTLS_SSL_IS_CLIENT) == -1)
        return -1;
    /* mbedTLS's defaults, many suites and curves, as a browser offers:
     * the server's order picks. */
    mbedtls_ssl_conf_ciphersuites(conf, mbedtls_ssl_list_ciphersuites());
    mbedtls_ssl_conf_authmode(conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(conf, &b->crt, NULL);
    mbedtls_ssl_conf_session_tickets(conf, tickets ?
                                     MBEDTLS_SSL_SESSION_TICKETS_ENABLED :
                                     MBEDTLS_SSL_SESSION_TICKETS_DISABLED);
    return ok(mbedtls_ssl_conf_alpn_protocols(conf,
                                              (const char **)client_alpn),
              "mbedtls_ssl_conf_alpn_protocols (client)") ? 0 : -1;
}

/* Both ends: TLS 1.2 only (the defaults accept 1.0), one generator. */
static int
configure_common(struct bench *b, mbedtls_ssl_config *conf, int endpoint)
{
    if (!ok(mbedtls_ssl_config_defaults(conf, endpoint,
                                        MBEDTLS_SSL_TRANSPORT_STREAM,
                                        MBEDTLS_SSL_PRESET_DEFAULT),
            "mbedtls_ssl_config_defaults"))
        return -1;
    mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                                 MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_max_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                                 MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_rng(conf, mbedtls_ctr_drbg_random, &b->drbg);
    return 0;
}

/*
 * One AEAD both ways: full records that the server writes and the client
 * reads and compares (so they really decrypted), and the bare cipher call,
 * a batch of each in turn, so that a change in the machine's load falls on
 * both figures alike.
 */
static int
bench_aead(struct bench *b, const struct aead *a, double *record_mb_s,
           double *raw_mb_s)
{
    struct stopwatch record = stopwatch_new(b), raw = stopwatch_new(b);
    struct stopwatch scratch = stopwatch_new(b);
    mbedtls_cipher_context_t ctx;
    uint64_t seq = 0, bytes = 0;
    int64_t start;
    int rv = -1;

    mbedtls_cipher_init(&ctx);
    /* The server picks from what the client offers: offer only A. */
    mbedtls_ssl_conf_ciphersuites(&b->cli_conf, a->suites);
    if (pair_open(b, &b->cli_conf, NULL, &scratch) == -1 ||
        handshake(&b->pair, &scratch) == -1 ||
        check_suite(&b->pair, a) == -1 || setup_cipher(b, a, &ctx) == -1 ||
        send_batch(b, &scratch) == -1 ||            /* warm-up */
        encrypt_batch(b, &ctx, &seq, &scratch) == -1)
        goto out;

    start = clock_ns(CLOCK_MONOTONIC);
    do {
        if (send_batch(b, &record) == -1 ||
            encrypt_batch(b, &ctx, &seq, &raw) == -1)
            goto out;
        bytes += BATCH_RECORDS * RECORD_BYTES;
    } while (!time_up(start, 2 * b->seconds));
    *record_mb_s = (double)bytes * 1e3 / stopwatch_ns(&record);  /* 10^6 */
    *raw_mb_s = (double)bytes * 1e3 / stopwatch_ns(&raw);
    rv = 0;
out:
    pair_close(&b->pair, &scratch);
    mbedtls_ssl_conf_ciphersuites(&b->cli_conf,
                                  mbedtls_ssl_list_ciphersuites());
    mbedtls_cipher_free(&ctx);
    return rv;
}

static int
check_suite(const struct pair *p, const struct aead *a)
{
    const char *want = mbedtls_ssl_get_ciphersuite_name(a->suites[0]);
    const char *got = mbedtls_ssl_get_ciphersuite(&p->srv);

    if (got == NULL || strcmp(got, want) != 0)
        return failx("%s: the server chose %s, not %s", a->name,
                     got != NULL ? got : "nothing", want);
    return 0;
}

/* CTX set up for A with a random key, for encrypting. */
static int
setup_cipher(struct bench *b, const struct aead *a,
             mbedtls_cipher_context_t *ctx)
{
    const mbedtls_cipher_info_t *info;
    unsigned char key[32];
    int rv = -1;

    if ((info = mbedtls_cipher_info_from_type(a->cipher)) == NULL)
        return failx("%s: this mbedTLS lacks the cipher", a->name);
    if (ok(mbedtls_cipher_setup(ctx, info), "mbedtls_cipher_setup") &&
        ok(mbedtls_ctr_drbg_random(&b->drbg, key, sizeof key),
           "mbedtls_ctr_drbg_random") &&
        ok(mbedtls_cipher_setkey(ctx, key, (int)info->key_bitlen,
                                 MBEDTLS_ENCRYPT), "mbedtls_cipher_setkey"))
        rv = 0;
    mbedtls_platform_zeroize(key, sizeof key);
    return rv;
}

/*
 * The server writes BATCH_RECORDS full records, timed together so the
 * clock's cost is spread; the client then reads them all.  The ring holds
 * them, so mbedtls_ssl_write never waits.
 */
static int
send_batch(struct bench *b, struct stopwatch *sw)
{
    int i, ret = 0;

    stopwatch_start(sw);
    for (i = 0; i < BATCH_RECORDS; i++)
        if ((ret = mbedtls_ssl_write(&b->pair.srv, b->plain,
                                     RECORD_BYTES)) != RECORD_BYTES)
            break;
    stopwatch_stop(sw);

    if (i < BATCH_RECORDS)
        return ret < 0 ? fail("mbedtls_ssl_write", ret)
                       : failx("mbedtls_ssl_write took %d of %d bytes",
                               ret, RECORD_BYTES);
    return receive_all(b, (size_t)BATCH_RECORDS * RECORD_BYTES);
}

/* The client reads until it would wait; it must get EXPECTED bytes. */
static int
receive_all(struct bench *b, size_t expected)
{
    unsigned char buf[RECORD_BYTES];
    size_t got = 0, off;
    int ret;

    /* A read returns at most one record, so OFF + RET stays in PLAIN. */
    while ((ret = mbedtls_ssl_read(&b->pair.cli, buf, sizeof buf)) > 0) {
        off = got % RECORD_BYTES;
        if ((size_t)ret > RECORD_BYTES - off ||
            memcmp(buf, b->plain + off, (size_t)ret) != 0)
            return failx("the client read other bytes than were written");
        got += (size_t)ret;
    }
    if (ret == 0)
        return failx("the client saw the connection close");
    if (ret != MBEDTLS_ERR_SSL_WANT_READ)
        return fail("mbedtls_ssl_read (client)", ret);
    if (got != expected)
        return failx("the client read %zu bytes of %zu", got, expected);
    return 0;
}

/*
 * BATCH_RECORDS records sealed as the record layer seals one (its
 * mbedtls_ssl_write ends in this call): in place, a 12-byte nonce, 13
 * bytes of additional data, a 16-byte tag.  What the record figure adds is
 * framing and two copies.
 */
static int
encrypt_batch(struct bench *b, mbedtls_cipher_context_t *ctx, uint64_t *seq,
              struct stopwatch *sw)
{
    unsigned char iv[12] = { 0 }, ad[13] = { 0 };
    size_t olen;
    int i, ret = 0;

    stopwatch_start(sw);
    for (i = 0; i < BATCH_RECORDS && ret == 0; i++) {
        /* A nonce must never repeat under a key: TLS uses the sequence. */
        memcpy(iv + 4, seq, sizeof *seq);
        (*seq)++;
        ret = mbedtls_cipher_auth_encrypt_ext(ctx, iv, sizeof iv, ad,
                                              sizeof ad, b->sealed,
                                              RECORD_BYTES, b->sealed,
                                              sizeof b->sealed, &olen,
                                              TAG_BYTES);
    }
    stopwatch_stop(sw);
    return ret == 0 ? 0 : fail("mbedtls_cipher_auth_encrypt_ext", ret);
}

/*
 * The handshakes, each on a new connection as ferry serves them
 * (mbedtls_ssl_setup, the handshake, mbedtls_ssl_free): full ones from a
 * client with no session, which get a new ticket, and resumed ones by
 * ticket and by session ID, in rounds so that all three see the same load.
 * The ticket and cache callbacks' counts prove each resumption resumed.
 */
static int
bench_handshakes(struct bench *b, struct results *r)
{
    struct clocks c = { stopwatch_new(b), stopwatch_new(b), stopwatch_new(b) };
    struct stopwatch scratch = stopwatch_new(b);
    mbedtls_ssl_session by_ticket, by_id;
    long rounds = 0, tickets, hits;
    int64_t start;
    int rv = -1;

    mbedtls_ssl_session_init(&by_ticket);
    mbedtls_ssl_session_init(&by_id);
    if (connect_once(b, &b->cli_conf, NULL, &by_ticket, &scratch) == -1 ||
        connect_once(b, &b->cli_noticket_conf, NULL, &by_id, &scratch) == -1)
        goto out;
    r->suite = b->suite;
    if (handshake_round(b, &by_ticket, &by_id, &c) == -1)
        goto out;               /* warm-up: caches, lazy tables */
    c = (struct clocks){ stopwatch_new(b), stopwatch_new(b), stopwatch_new(b) };
    tickets = b->ticket.parsed;
    hits = b->cache.hits;

    start = clock_ns(CLOCK_MONOTONIC);
    do {
        if (handshake_round(b, &by_ticket, &by_id, &c) == -1)
            goto out;
        rounds++;
    } while (!time_up(start, 3 * b->seconds));
    if (report_handshakes(&c, rounds, b->ticket.parsed - tickets,
                          b->cache.hits - hits, r) == 0)
        rv = 0;
out:
    mbedtls_ssl_session_free(&by_id);
    mbedtls_ssl_session_free(&by_ticket);
    return rv;
}

/* One full handshake, then RESUMES_PER_FULL of each resumed kind. */
static int
handshake_round(struct bench *b, const mbedtls_ssl_session *by_ticket,
                const mbedtls_ssl_session *by_id, struct clocks *c)
{
    int i;

    if (connect_once(b, &b->cli_conf, NULL, NULL, &c->full) == -1)
        return -1;
    for (i = 0; i < RESUMES_PER_FULL; i++)
        if (connect_once(b, &b->cli_conf, by_ticket, NULL, &c->ticket) == -1 ||
            connect_once(b, &b->cli_noticket_conf, by_id, NULL,
                         &c->cache) == -1)
            return -1;
    return 0;
}

/* Per-handshake figures, once the counts show that all resumed. */
static int
report_handshakes(const struct clocks *c, long rounds, long tickets,
                  long hits, struct results *r)
{
    long resumed = rounds * RESUMES_PER_FULL;
    double full_ns = stopwatch_ns(&c->full) / (double)rounds;

    if (tickets != resumed || hits != resumed)
        return failx("of %ld handshakes each, %ld resumed by ticket and %ld "
                     "by session ID", resumed, tickets, hits);
    r->full_ms = full_ns / 1e6;
    r->full_per_s = 1e9 / full_ns;
    r->ticket_us = stopwatch_ns(&c->ticket) / (double)resumed / 1e3;
    r->cache_us = stopwatch_ns(&c->cache) / (double)resumed / 1e3;
    r->full_count = rounds;
    r->resumed_count = resumed;
    return 0;
}

/*
 * One connection: open, handshake, close.  The client resumes RESUME if
 * given, and saves its session into SAVE if given.
 */
static int
connect_once(struct bench *b, const mbedtls_ssl_config *cli_conf,
             const mbedtls_ssl_session *resume, mbedtls_ssl_session *save,
             struct stopwatch *sw)
{
    struct pair *p = &b->pair;
    int rv = -1;

    if (pair_open(b, cli_conf, resume, sw) == 0 && handshake(p, sw) == 0 &&
        (save == NULL || ok(mbedtls_ssl_get_session(&p->cli, save),
                            "mbedtls_ssl_get_session"))) {
        b->suite = mbedtls_ssl_get_ciphersuite(&p->srv);  /* a static name */
        rv = 0;
    }
    pair_close(p, sw);
    return rv;
}

/*
 * Set up both contexts of B's pair on empty rings, the client on CLI_CONF
 * and resuming RESUME if given.  The server's mbedtls_ssl_setup is timed:
 * ferry pays it for every connection (it allocates both record buffers).
 */
static int
pair_open(struct bench *b, const mbedtls_ssl_config *cli_conf,
          const mbedtls_ssl_session *resume, struct stopwatch *sw)
{
    struct pair *p = &b->pair;
    int ret;

    p->to_srv.start = p->to_srv.len = 0;
    p->to_cli.start = p->to_cli.len = 0;
    p->srv_end = (struct end){ &p->to_srv, &p->to_cli };
    p->cli_end = (struct end){ &p->to_cli, &p->to_srv };
    mbedtls_ssl_init(&p->srv);
    mbedtls_ssl_init(&p->cli);

    stopwatch_start(sw);
    ret = mbedtls_ssl_setup(&p->srv, &b->srv_conf);
    stopwatch_stop(sw);
    if (ret != 0)
        return fail("mbedtls_ssl_setup (server)", ret);
    mbedtls_ssl_set_bio(&p->srv, &p->srv_end, bio_send, bio_recv, NULL);

    if (!ok(mbedtls_ssl_setup(&p->cli, cli_conf),
            "mbedtls_ssl_setup (client)") ||
        !ok(mbedtls_ssl_set_hostname(&p->cli, "localhost"),
            "mbedtls_ssl_set_hostname") ||
        (resume != NULL && !ok(mbedtls_ssl_set_session(&p->cli, resume),
                               "mbedtls_ssl_set_session")))
        return -1;
    mbedtls_ssl_set_bio(&p->cli, &p->cli_end, bio_send, bio_recv, NULL);
    return 0;
}

/* Free both contexts; the server's mbedtls_ssl_free is timed. */
static void
pair_close(struct pair *p, struct stopwatch *sw)
{
    stopwatch_start(sw);
    mbedtls_ssl_free(&p->srv);
    stopwatch_stop(sw);
    mbedtls_ssl_free(&p->cli);
}

/*
 * Drive both sides until both are done, the client first since it speaks
 * first; only the server's calls are timed.  Each round moves a flight
 * each way; a full TLS 1.2 handshake takes 3, so one past ROUNDS_MAX is
 * stuck (a peer waiting for bytes that never come).
 */
static int
handshake(struct pair *p, struct stopwatch *sw)
{
    bool srv_done = false, cli_done = false;
    int round, ret;

    for (round = 0; round < ROUNDS_MAX; round++) {
        if (!cli_done && (ret = step(&p->cli, &cli_done)) != 0)
            return fail("mbedtls_ssl_handshake (client)", ret);
        if (!srv_done) {
            stopwatch_start(sw);
            ret = step(&p->srv, &srv_done);
            stopwatch_stop(sw);
            if (ret != 0)
                return fail("mbedtls_ssl_handshake (server)", ret);
        }
        if (srv_done && cli_done)
            return 0;
    }
    return failx("the handshake made no progress in %d rounds", ROUNDS_MAX);
}

/* One handshake call: 0 if it finished or waits for its peer, else why. */
static int
step(mbedtls_ssl_context *ssl, bool *done)
{
    int ret = mbedtls_ssl_handshake(ssl);

    if (ret == 0)
        *done = true;
    return ret == MBEDTLS_ERR_SSL_WANT_READ ? 0 : ret;
}

/* A BIO over the rings: byte counts, or WANT_* when full or empty. */
static int
bio_send(void *ctx, const unsigned char *buf, size_t len)
{
    size_t n = ring_put(((struct end *)ctx)->out, buf, len);

    return n == 0 ? MBEDTLS_ERR_SSL_WANT_WRITE : (int)n;
}

static int
bio_recv(void *ctx, unsigned char *buf, size_t len)
{
    size_t n = ring_get(((struct end *)ctx)->in, buf, len);

    return n == 0 ? MBEDTLS_ERR_SSL_WANT_READ : (int)n;
}

/* Append what fits of BUF, wrapping at the end; returns how much. */
static size_t
ring_put(struct ring *r, const unsigned char *buf, size_t len)
{
    size_t n, tail, first;

    n = len < RING_BYTES - r->len ? len : RING_BYTES - r->len;
    tail = (r->start + r->len) % RING_BYTES;
    first = n < RING_BYTES - tail ? n : RING_BYTES - tail;
    memcpy(r->buf + tail, buf, first);
    memcpy(r->buf, buf + first, n - first);
    r->len += n;
    return n;
}

/* Take up to LEN bytes from the front; returns how many. */
static size_t
ring_get(struct ring *r, unsigned char *buf, size_t len)
{
    size_t n, first;

    n = len < r->len ? len : r->len;
    first = n < RING_BYTES - r->start ? n : RING_BYTES - r->start;
    memcpy(buf, r->buf + r->start, first);
    memcpy(buf + first, r->buf, n - first);
    r->start = (r->start + n) % RING_BYTES;
    r->len -= n;
    return n;
}

/* mbedTLS's ticket and cache callbacks, counting what they find. */
static int
write_ticket(void *p_ticket, const mbedtls_ssl_session *session,
             unsigned char *start, const unsigned char *end, size_t *tlen,
             uint32_t *lifetime)
{
    struct counted_ticket *t = p_ticket;

    return mbedtls_ssl_ticket_write(&t->ctx, session, start, end, tlen,
                                    lifetime);
}

static int
parse_ticket(void *p_ticket, mbedtls_ssl_session *session,
             unsigned char *buf, size_t len)
{
    struct counted_ticket *t = p_ticket;
    int ret = mbedtls_ssl_ticket_parse(&t->ctx, session, buf, len);

    if (ret == 0)
        t->parsed++;
    return ret;
}

static int
get_cached(void *data, mbedtls_ssl_session *session)
{
    struct counted_cache *c = data;
    int ret = mbedtls_ssl_cache_get(&c->ctx, session);

    if (ret == 0)
        c->hits++;
    return ret;
}

static int
set_cached(void *data, const mbedtls_ssl_session *session)
{
    struct counted_cache *c = data;

    return mbedtls_ssl_cache_set(&c->ctx, session);
}

static struct stopwatch
stopwatch_new(const struct bench *b)
{
    struct stopwatch sw = { 0, 0, 0, b->clock_bias_ns };

    return sw;
}

static void
stopwatch_start(struct stopwatch *sw)
{
    sw->started_ns = clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

static void
stopwatch_stop(struct stopwatch *sw)
{
    sw->ns += clock_ns(CLOCK_THREAD_CPUTIME_ID) - sw->started_ns;
    sw->regions++;
}

/* The CPU time of the timed regions, less the clock's cost in each. */
static double
stopwatch_ns(const struct stopwatch *sw)
{
    double ns = (double)sw->ns - (double)sw->regions * sw->bias_ns;

    return ns > 1 ? ns : 1;     /* never divide by zero or less */
}

/*
 * Reading this thread's CPU clock is a system call (no vDSO for it): half
 * a microsecond here, over 1% of a resumed handshake for each of its 4
 * timed regions (setup, two handshake calls, free).  An empty region
 * measures what each region pays, to subtract.
 */
static double
calibrate_clock(void)
{
    struct stopwatch sw = { 0, 0, 0, 0 };
    int i;

    for (i = 0; i < CALIBRATE_READS; i++) {
        stopwatch_start(&sw);
        stopwatch_stop(&sw);
    }
    return (double)sw.ns / (double)sw.regions;
}

/* Whether SECONDS have passed since START_NS (monotonic). */
static bool
time_up(int64_t start_ns, double seconds)
{
    return (double)(clock_ns(CLOCK_MONOTONIC) - start_ns) >= seconds * 1e9;
}

static int64_t
clock_ns(clockid_t id)
{
    struct timespec ts;

    (void)clock_gettime(id, &ts);       /* cannot fail for these clocks */
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* True if RET is 0; else say which call failed and why. */
static bool
ok(int ret, const char *call)
{
    if (ret == 0)
        return true;
    fail(call, ret);
    return false;
}

/* mbedTLS's words for RET, after the call that returned it; -1. */
static int
fail(const char *call, int ret)
{
    char text[ERRTEXT_MAX];

    mbedtls_strerror(ret, text, sizeof text);
    fprintf(stderr, "bench-ceiling: %s failed: %s (-0x%04x)\n", call, text,
            (unsigned int)-ret);
    return -1;
}

static int
failx(const char *fmt, ...)
{
    va_list ap;

    fputs("bench-ceiling: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return -1;
}
