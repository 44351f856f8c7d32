/*
 * tls_bio.h: the socket under mbedTLS.  Records are sent with MSG_MORE
 * while more of the response follows, and small reads are read ahead so
 * that a record takes one recv, not two.
 */
#ifndef FERRY_TLS_BIO_H
#define FERRY_TLS_BIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * mbedTLS asks its BIO for a record's 5-byte header, then for the rest:
 * two recv calls per record.  Reading up to this much when it asks for
 * less takes a request head (curl's, wrk's: 100-200 bytes) or a client's
 * whole second handshake flight in one call.  Larger asks go straight
 * into mbedTLS's buffer.
 */
#define TLS_BIO_AHEAD   2048

struct tls_bio {
    int fd;
    int sys_errno;              /* errno behind the last NET_* failure */
    bool more;                  /* records follow: send with MSG_MORE */
    bool eof;                   /* recv found the end of the stream */
    uint16_t ahead_at;          /* next unread byte of ahead */
    uint16_t ahead_len;         /* bytes received into ahead */
    unsigned char ahead[TLS_BIO_AHEAD]; /* received, not yet mbedTLS's */
};

void tls_bio_init(struct tls_bio *b, int fd);

/* mbedTLS's send and receive callbacks; CTX is a struct tls_bio. */
int tls_bio_send(void *ctx, const unsigned char *buf, size_t len);
int tls_bio_recv(void *ctx, unsigned char *buf, size_t len);

/* Whether bytes were read ahead that mbedTLS has not taken yet: no epoll
 * event will announce them. */
bool tls_bio_holds(const struct tls_bio *b);

#endif /* FERRY_TLS_BIO_H */
