/*
 * log.h: diagnostics on stderr and the access log on stdout.
 *
 * Every diagnostic is one greppable line, "ferry: <area>: <what>: <cause>".
 * Callers pass "<area>: <what>"; the prefix and, for log_warn and fatal,
 * the errno text are added here.  Bytes chosen by a client must go through
 * log_escape before they reach any of these.
 */
#ifndef FERRY_LOG_H
#define FERRY_LOG_H

#include <stdbool.h>
#include <stddef.h>

/* Switch debug lines on, and the access log off (-q).  Called once by main. */
void log_init(bool debug, bool access_log);

/* Whether debug lines are wanted, so callers can skip formatting them. */
bool log_debug_enabled(void);

/* Warnings: log_warn appends ": strerror(errno)" and keeps errno intact. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Fatal errors at start-up: print and exit(1); fatal adds strerror(errno). */
void fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

/*
 * Write one access-log line (without its newline) to stdout in a single
 * write, so lines from several threads never interleave.  No-op with -q.
 */
void log_access(const char *line, size_t len);

/* Whether access-log lines are written (false with -q). */
bool log_access_on(void);

/*
 * Copy LEN bytes of SRC into DST (capacity CAP, always NUL-terminated),
 * escaping controls, '"', '\\' and bytes >= 0x80 as \xHH.  Returns the
 * length written; output is cut short rather than overflow.
 */
size_t log_escape(char *dst, size_t cap, const char *src, size_t len);

#endif /* FERRY_LOG_H */
