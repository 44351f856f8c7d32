/*
 * tls_log.h: how a failed mbedTLS call is logged, and how a loading step
 * says why it failed, shared by the tls*.c files and ident.c (which makes
 * our identity with mbedTLS) so all say it alike.  Defined in tls_log.c.
 */
#ifndef FERRY_TLS_LOG_H
#define FERRY_TLS_LOG_H

#include <limits.h>

#define TLS_ERRTEXT_MAX 128     /* mbedtls_strerror texts are shorter */
#define TLS_WHY_MAX     (2 * PATH_MAX + 2 * TLS_ERRTEXT_MAX)  /* two paths */

/* Why loading failed, made into one log line by the caller. */
struct tls_why {
    char text[TLS_WHY_MAX];
};

/*
 * For RET, what the mbedTLS call WHAT returned: 0 gives 0; anything else
 * is logged as "tls: WHAT failed: <mbedTLS's words> (-0xCODE)" and gives
 * -1.
 */
int tls_check(int ret, const char *what);

/*
 * Fill WHY with FMT, then ": <errno's words>" for SYS_ERRNO if not 0,
 * else ": <mbedTLS's words> (-0xCODE)" for RET if not 0.  A text too long
 * for WHY is kept cut short, without the cause.  Always returns -1, so a
 * caller can return what it gives.  Nothing is logged or allocated.
 */
int tls_fail(struct tls_why *why, int sys_errno, int ret, const char *fmt,
             ...) __attribute__((format(printf, 4, 5)));

#endif /* FERRY_TLS_LOG_H */
