/*
 * tls_log.h: how a failed mbedTLS call is logged, shared by tls.c and
 * ident.c (which makes our identity with mbedTLS) so both say it alike.
 * Defined in tls.c; ident.c is only ever linked with it.
 */
#ifndef FERRY_TLS_LOG_H
#define FERRY_TLS_LOG_H

/*
 * For RET, what the mbedTLS call WHAT returned: 0 gives 0; anything else
 * is logged as "tls: WHAT failed: <mbedTLS's words> (-0xCODE)" and gives
 * -1.
 */
int tls_check(int ret, const char *what);

#endif /* FERRY_TLS_LOG_H */
