/*
 * tls_bio.c: the socket under mbedTLS (see tls_bio.h).  Socket errors
 * become the codes mbedTLS expects; the errno behind a failure is kept
 * for the log line.
 */
#include "tls_bio.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>

static ssize_t recv_some(struct tls_bio *b, void *buf, size_t len);
static int net_error(struct tls_bio *b, int err, int failed, int want);

void
tls_bio_init(struct tls_bio *b, int fd)
{
    memset(b, 0, sizeof *b);
    b->fd = fd;
}

bool
tls_bio_holds(const struct tls_bio *b)
{
    return b->ahead_at < b->ahead_len;
}

int
tls_bio_send(void *ctx, const unsigned char *buf, size_t len)
{
    struct tls_bio *b = ctx;
    ssize_t n;

    if (len > INT_MAX)
        len = INT_MAX;
    do
        n = send(b->fd, buf, len, MSG_NOSIGNAL |     /* no SIGPIPE */
                 (b->more ? MSG_MORE : 0));
    while (n == -1 && errno == EINTR);
    if (n >= 0)
        return (int)n;
    return net_error(b, errno, MBEDTLS_ERR_NET_SEND_FAILED,
                     MBEDTLS_ERR_SSL_WANT_WRITE);
}

/* From what was read ahead first, else from the socket (see TLS_BIO_AHEAD). */
int
tls_bio_recv(void *ctx, unsigned char *buf, size_t len)
{
    struct tls_bio *b = ctx;
    ssize_t n;

    if (len > INT_MAX)
        len = INT_MAX;
    if (b->ahead_at == b->ahead_len && len < TLS_BIO_AHEAD) {
        n = recv_some(b, b->ahead, TLS_BIO_AHEAD);
        b->eof = n == 0;
        if (n <= 0)
            return n == 0 ? 0 : net_error(b, errno,
                                          MBEDTLS_ERR_NET_RECV_FAILED,
                                          MBEDTLS_ERR_SSL_WANT_READ);
        b->ahead_at = 0;
        b->ahead_len = (uint16_t)n;
    }
    if (b->ahead_at < b->ahead_len) {
        size_t have = (size_t)(b->ahead_len - b->ahead_at);

        if (len > have)
            len = have;
        memcpy(buf, b->ahead + b->ahead_at, len);
        b->ahead_at = (uint16_t)(b->ahead_at + len);
        return (int)len;
    }
    n = recv_some(b, buf, len);
    b->eof = n == 0;
    if (n >= 0)
        return (int)n;          /* 0 is EOF: mbedTLS reports it */
    return net_error(b, errno, MBEDTLS_ERR_NET_RECV_FAILED,
                     MBEDTLS_ERR_SSL_WANT_READ);
}

static ssize_t
recv_some(struct tls_bio *b, void *buf, size_t len)
{
    ssize_t n;

    do
        n = recv(b->fd, buf, len, 0);
    while (n == -1 && errno == EINTR);
    return n;
}

/* Turn a socket errno into the code mbedTLS expects from a BIO. */
static int
net_error(struct tls_bio *b, int err, int failed, int want)
{
    if (err == EAGAIN || err == EWOULDBLOCK)
        return want;
    if (err == ECONNRESET || err == EPIPE)
        return MBEDTLS_ERR_NET_CONN_RESET;
    b->sys_errno = err;
    return failed;
}
