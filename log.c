/*
 * log.c: diagnostics on stderr, the access log on stdout.
 *
 * Each line is formatted into a local buffer and written with one write(2),
 * so lines from worker threads never interleave.  Nothing else in ferry
 * writes to stdout or stderr.
 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOG_LINE_MAX 2048   /* longer diagnostics are cut, never split */

static bool debug_on;
static bool access_on = true;

static void vlog(const char *fmt, va_list ap, int errnum)
    __attribute__((format(printf, 1, 0)));
static void write_all(int fd, const char *buf, size_t len);

void
log_init(bool debug, bool access_log)
{
    debug_on = debug;
    access_on = access_log;
}

bool
log_debug_enabled(void)
{
    return debug_on;
}

void
log_warn(const char *fmt, ...)
{
    int saved_errno = errno;
    va_list ap;

    va_start(ap, fmt);
    vlog(fmt, ap, saved_errno);
    va_end(ap);
    errno = saved_errno;
}

void
log_warnx(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vlog(fmt, ap, 0);
    va_end(ap);
}

void
log_info(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vlog(fmt, ap, 0);
    va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
    va_list ap;

    if (!debug_on)
        return;
    va_start(ap, fmt);
    vlog(fmt, ap, 0);
    va_end(ap);
}

void
fatal(const char *fmt, ...)
{
    int saved_errno = errno;
    va_list ap;

    va_start(ap, fmt);
    vlog(fmt, ap, saved_errno);
    va_end(ap);
    exit(1);
}

void
fatalx(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vlog(fmt, ap, 0);
    va_end(ap);
    exit(1);
}

bool
log_access_on(void)
{
    return access_on;
}

void
log_access(const char *line, size_t len)
{
    char buf[LOG_LINE_MAX + 1];

    if (!access_on)
        return;
    if (len > LOG_LINE_MAX)
        len = LOG_LINE_MAX;
    memcpy(buf, line, len);
    buf[len] = '\n';
    write_all(STDOUT_FILENO, buf, len + 1);
}

size_t
log_escape(char *dst, size_t cap, const char *src, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t out = 0, i;

    if (cap == 0)
        return 0;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)src[i];
        bool plain = c >= 0x20 && c < 0x7f && c != '"' && c != '\\';

        if (out + (plain ? 1 : 4) >= cap)
            break;
        if (plain) {
            dst[out++] = (char)c;
            continue;
        }
        dst[out++] = '\\';
        dst[out++] = 'x';
        dst[out++] = hex[c >> 4];
        dst[out++] = hex[c & 15];
    }
    dst[out] = '\0';
    return out;
}

/* Format "ferry: <message>[: <strerror>]\n" and write it in one call. */
static void
vlog(const char *fmt, va_list ap, int errnum)
{
    char buf[LOG_LINE_MAX];
    size_t len;
    int n;

    memcpy(buf, "ferry: ", 7);
    n = vsnprintf(buf + 7, sizeof buf - 7, fmt, ap);
    if (n < 0)
        return;
    len = 7 + (size_t)n;
    if (len > sizeof buf - 2)
        len = sizeof buf - 2;
    if (errnum != 0) {
        char err[128];

        n = snprintf(buf + len, sizeof buf - len, ": %s",
                     strerror_r(errnum, err, sizeof err));
        if (n > 0)
            len += (size_t)n;
        if (len > sizeof buf - 2)
            len = sizeof buf - 2;
    }
    buf[len++] = '\n';
    write_all(STDERR_FILENO, buf, len);
}

/* Write everything, retrying on EINTR; a log that cannot be written is
 * dropped rather than allowed to stop the server. */
static void
write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        buf += n;
        len -= (size_t)n;
    }
}
