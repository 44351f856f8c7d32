/*
 * tls_log.c: mbedTLS's error codes in words, for a log line or for the
 * reason a loading step gives its caller.
 */
#include "tls_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <mbedtls/error.h>

#include "log.h"

/* Fill WHY with FMT, then errno's words or mbedTLS's (if not 0). */
int
tls_fail(struct tls_why *why, int sys_errno, int ret, const char *fmt, ...)
{
    char text[TLS_ERRTEXT_MAX];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(why->text, sizeof why->text, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof why->text)
        return -1;              /* cut short; enough to act on */
    if (sys_errno != 0) {
        snprintf(why->text + n, sizeof why->text - (size_t)n, ": %s",
                 strerror_r(sys_errno, text, sizeof text));
    } else if (ret != 0) {
        mbedtls_strerror(ret, text, sizeof text);
        snprintf(why->text + n, sizeof why->text - (size_t)n,
                 ": %s (-0x%04x)", text, (unsigned int)-ret);
    }
    return -1;
}

/* Log a failed mbedTLS call WHAT with mbedTLS's words (see tls_log.h). */
int
tls_check(int ret, const char *what)
{
    char text[TLS_ERRTEXT_MAX];

    if (ret == 0)
        return 0;
    mbedtls_strerror(ret, text, sizeof text);
    log_warnx("tls: %s failed: %s (-0x%04x)", what, text,
              (unsigned int)-ret);
    return -1;
}
