/*
 * ident.c: find or make ferry's own self-signed identity on disk.
 *
 * Chooses the state directory, and on the first start makes a P-256 key
 * and a self-signed certificate there, written atomically with the key
 * private from its first byte.  Loading the files, and everything else
 * TLS, is tls.c's; log lines keep its "tls:" area, as users know them.
 */
#include "ident.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/asn1write.h>
#include <mbedtls/bignum.h>
#include <mbedtls/ecp.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/x509_crt.h>

#include "log.h"
#include "tls_log.h"

#define PEM_MAX         4096    /* our P-256 key or certificate as PEM */
#define SAN_DER_MAX     640     /* two DNS names (<= 255 B) and two IPs */
#define EKU_DER_MAX     32      /* one key purpose OID */
#define HOST_MAX        256     /* gethostname limit (HOST_NAME_MAX + 1) */
#define CN_HOST_MAX     55      /* "ferry on " + 55 = 64, X.520's limit */
#define SERIAL_BYTES    16      /* RFC 5280 allows up to 20 */
#define VALID_DAYS      3653    /* ten years, leap days included */
#define DAY_S           86400

/* The caller's generator, handed down as one argument. */
struct rng {
    int (*f_rng)(void *, unsigned char *, size_t);
    void *p_rng;
};

static int own_dir(const char *state_dir, char *dir, size_t cap);
static int join_path(char *out, size_t cap, const char *dir,
                     const char *name);
static bool file_exists(const char *path);
static int make_dirs(const char *dir);
static int make_identity(const struct rng *rng, const char *dir);
static int make_key(const struct rng *rng, mbedtls_pk_context *pk);
static int make_certificate(const struct rng *rng, mbedtls_pk_context *pk,
                            unsigned char *pem, size_t cap);
static int set_names_and_dates(const struct rng *rng,
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

int
ident_find_or_make(const char *state_dir, char *cert, char *key, size_t cap,
                   int (*f_rng)(void *, unsigned char *, size_t), void *p_rng)
{
    const struct rng rng = { f_rng, p_rng };
    char dir[PATH_MAX];

    if (own_dir(state_dir, dir, sizeof dir) == -1 ||
        join_path(cert, cap, dir, "cert.pem") == -1 ||
        join_path(key, cap, dir, "key.pem") == -1)
        return -1;

    /* The certificate is renamed into place last: it marks a full pair. */
    if (!file_exists(cert) || !file_exists(key)) {
        if (make_dirs(dir) == -1 || make_identity(&rng, dir) == -1)
            return -1;
        log_info("tls: made a self-signed certificate: %s", cert);
    }
    return 0;
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
make_identity(const struct rng *rng, const char *dir)
{
    mbedtls_pk_context pk;
    unsigned char key_pem[PEM_MAX], crt_pem[PEM_MAX];
    int rv = -1, dfd;

    mbedtls_pk_init(&pk);
    if (make_key(rng, &pk) == -1 ||
        make_certificate(rng, &pk, crt_pem, sizeof crt_pem) == -1 ||
        tls_check(mbedtls_pk_write_key_pem(&pk, key_pem, sizeof key_pem),
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
make_key(const struct rng *rng, mbedtls_pk_context *pk)
{
    int ret;

    ret = mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
    if (ret == 0)
        ret = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*pk),
                                  rng->f_rng, rng->p_rng);
    return tls_check(ret, "making a P-256 key");
}

/* A v3 certificate for PK, signed by PK, as PEM into PEM. */
static int
make_certificate(const struct rng *rng, mbedtls_pk_context *pk,
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

    if (set_names_and_dates(rng, &w, host) == -1 ||
        set_extensions(&w, host) == -1 ||
        tls_check(mbedtls_x509write_crt_pem(&w, pem, cap, rng->f_rng,
                                            rng->p_rng),
                  "mbedtls_x509write_crt_pem") == -1)
        goto out;
    rv = 0;
out:
    mbedtls_x509write_crt_free(&w);
    return rv;
}

/* Serial, validity, subject and issuer. */
static int
set_names_and_dates(const struct rng *rng, mbedtls_x509write_cert *w,
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
    ret = rng->f_rng(rng->p_rng, raw, sizeof raw);
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
    return tls_check(ret, "making the certificate's names");
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
        return tls_check(san_len < 0 ? san_len : eku_len,
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
    return tls_check(ret, "setting the certificate's extensions");
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
