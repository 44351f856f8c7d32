/*
 * head.c: HTTP dates and the response-head writer.
 *
 * Everything here works on caller buffers: no sockets, files, TLS or
 * allocation.  http.c reads what a client sends; this file writes what
 * we send back, and reads the dates a client echoes in its conditions.
 */
#include "head.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Fixed names, so dates never depend on the locale. */
static const char day_names[7][4] = {
    "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat",
};
static const char *const long_day_names[7] = {
    "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
    "Saturday",
};
static const char month_names[12][4] = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun",
    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

/* Date fields as read, before they are checked. */
struct date_fields {
    int year, mon, mday, hour, min, sec;
    bool two_digit_year;
};

static bool match_date(const char *s, size_t len, const char *pat,
                       struct date_fields *f);
static bool match_item(const char *s, size_t len, size_t *i, char code,
                       struct date_fields *f);
static int match_name(const char *s, size_t len, size_t *i,
                      const char *const *names, const char *short_names,
                      int count);
static bool read_digits(const char *s, size_t len, size_t *i, int n,
                        int *out);
static bool date_valid(struct date_fields *f);
static int full_year(int two_digits);
static void put_digits(char *out, int value, int n);
static void head_append(struct http_head *h, const char *s, size_t n);
static void head_field(struct http_head *h, const char *name,
                       const char *value, size_t len);
static void head_vprintf(struct http_head *h, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
static bool safe_field_bytes(const char *s, size_t n);
static bool is_token(const char *s);
static bool is_tchar(unsigned char c);
static bool is_digit(unsigned char c);

const char *
http_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    case 507: return "Insufficient Storage";
    default: return "Unknown";
    }
}

/* Years beyond four digits (or before year 0) are written as the epoch. */
void
http_date_format(time_t t, char *out)
{
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL || tm.tm_year < -1900 ||
        tm.tm_year > 9999 - 1900) {
        t = 0;
        gmtime_r(&t, &tm);
    }
    memcpy(out, day_names[tm.tm_wday], 3);
    memcpy(out + 3, ", ", 2);
    put_digits(out + 5, tm.tm_mday, 2);
    out[7] = ' ';
    memcpy(out + 8, month_names[tm.tm_mon], 3);
    out[11] = ' ';
    put_digits(out + 12, tm.tm_year + 1900, 4);
    out[16] = ' ';
    put_digits(out + 17, tm.tm_hour, 2);
    out[19] = ':';
    put_digits(out + 20, tm.tm_min, 2);
    out[22] = ':';
    put_digits(out + 23, tm.tm_sec, 2);
    memcpy(out + 25, " GMT", 5);    /* with the NUL */
}

/*
 * IMF-fixdate, then the obsolete RFC 850 and asctime forms (RFC 9110
 * 5.6.7), each matched exactly: names and "GMT" are case-sensitive.  The
 * day name is checked to be a day name but not against the date: it adds
 * nothing, and a mismatch could only make us ignore a condition.
 */
int
http_date_parse(const char *s, size_t len, time_t *t)
{
    static const char *const patterns[] = {
        "%a, %d %b %Y %H:%M:%S GMT",    /* IMF-fixdate */
        "%A, %d-%b-%y %H:%M:%S GMT",    /* rfc850-date */
        "%a %b %e %H:%M:%S %Y",         /* asctime-date */
    };
    struct date_fields f;
    struct tm tm;
    size_t k;

    for (k = 0; k < sizeof patterns / sizeof patterns[0]; k++) {
        memset(&f, 0, sizeof f);
        if (match_date(s, len, patterns[k], &f))
            break;
    }
    if (k == sizeof patterns / sizeof patterns[0])
        return -1;
    if (f.two_digit_year)
        f.year = full_year(f.year);
    if (!date_valid(&f))
        return -1;

    memset(&tm, 0, sizeof tm);
    tm.tm_year = f.year - 1900;
    tm.tm_mon = f.mon;
    tm.tm_mday = f.mday;
    tm.tm_hour = f.hour;
    tm.tm_min = f.min;
    tm.tm_sec = f.sec;
    *t = timegm(&tm);
    return 0;
}

/* S against PAT: "%x" items as in match_item, other bytes literally. */
static bool
match_date(const char *s, size_t len, const char *pat, struct date_fields *f)
{
    size_t i = 0;

    for (; *pat != '\0'; pat++) {
        if (*pat == '%') {
            if (!match_item(s, len, &i, *++pat, f))
                return false;
        } else if (i < len && s[i] == *pat) {
            i++;
        } else {
            return false;
        }
    }
    return i == len;
}

/* One item: a (A) short (long) day, b month, d (e: or SP DIGIT) day... */
static bool
match_item(const char *s, size_t len, size_t *i, char code,
           struct date_fields *f)
{
    switch (code) {
    case 'a':
        return match_name(s, len, i, NULL, day_names[0], 7) >= 0;
    case 'A':
        return match_name(s, len, i, long_day_names, NULL, 7) >= 0;
    case 'b':
        f->mon = match_name(s, len, i, NULL, month_names[0], 12);
        return f->mon >= 0;
    case 'd':
        return read_digits(s, len, i, 2, &f->mday);
    case 'e':
        if (*i < len && s[*i] == ' ') {
            ++*i;
            return read_digits(s, len, i, 1, &f->mday);
        }
        return read_digits(s, len, i, 2, &f->mday);
    case 'Y':
        return read_digits(s, len, i, 4, &f->year);
    case 'y':
        f->two_digit_year = true;
        return read_digits(s, len, i, 2, &f->year);
    case 'H':
        return read_digits(s, len, i, 2, &f->hour);
    case 'M':
        return read_digits(s, len, i, 2, &f->min);
    default:
        return read_digits(s, len, i, 2, &f->sec);
    }
}

/*
 * The index of the name found at S + *I, among NAMES or, if that is NULL,
 * the 4-byte strings packed at SHORT_NAMES; -1 if none.
 */
static int
match_name(const char *s, size_t len, size_t *i, const char *const *names,
           const char *short_names, int count)
{
    const char *name;
    size_t n;
    int k;

    for (k = 0; k < count; k++) {
        name = names != NULL ? names[k] : short_names + 4 * k;
        n = strlen(name);
        if (len - *i >= n && memcmp(s + *i, name, n) == 0) {
            *i += n;
            return k;
        }
    }
    return -1;
}

static bool
read_digits(const char *s, size_t len, size_t *i, int n, int *out)
{
    int k;

    *out = 0;
    for (k = 0; k < n; k++, ++*i) {
        if (*i >= len || !is_digit((unsigned char)s[*i]))
            return false;
        *out = *out * 10 + (s[*i] - '0');
    }
    return true;
}

/* Ranges, with 60 seconds for a leap second; Feb 29 only in leap years. */
static bool
date_valid(struct date_fields *f)
{
    static const int mdays[12] = {
        31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31,
    };
    bool leap = (f->year % 4 == 0 && f->year % 100 != 0) ||
                f->year % 400 == 0;

    if (f->hour > 23 || f->min > 59 || f->sec > 60)
        return false;
    if (f->mday < 1 || f->mday > mdays[f->mon])
        return false;
    return !(f->mon == 1 && f->mday == 29 && !leap);
}

/*
 * RFC 9110 5.6.7: a two-digit year more than 50 years ahead is the latest
 * past year with those digits.
 */
static int
full_year(int two_digits)
{
    time_t now = time(NULL);
    struct tm tm;
    int this_year = 2000, year;

    if (gmtime_r(&now, &tm) != NULL)
        this_year = tm.tm_year + 1900;
    year = this_year - this_year % 100 + two_digits;
    return year > this_year + 50 ? year - 100 : year;
}

static void
put_digits(char *out, int value, int n)
{
    while (n-- > 0) {
        out[n] = (char)('0' + value % 10);
        value /= 10;
    }
}

/*
 * The fields every response starts with, put together by hand: printf
 * was 4% of the CPU of a 4 KiB keep-alive request, the Date's gmtime 1%.
 */
void
http_head_begin(struct http_head *h, char *buf, size_t cap, int status,
                time_t now)
{
    static _Thread_local time_t date_of;
    static _Thread_local char date[HTTP_DATE_LEN + 1];
    const char *reason = http_reason(status);
    char code[4];

    h->buf = buf;
    h->cap = cap;
    h->len = 0;
    h->overflow = false;
    if (date[0] == '\0' || now != date_of) {
        http_date_format(now, date);
        date_of = now;
    }
    if (status < 100 || status > 999)
        h->overflow = true;     /* not a status: the caller answers 500 */
    put_digits(code, status, 3);
    code[3] = ' ';
    head_append(h, "HTTP/1.1 ", 9);
    head_append(h, code, 4);
    head_append(h, reason, strlen(reason));
    head_append(h, "\r\nDate: ", 8);
    head_append(h, date, HTTP_DATE_LEN);
    head_append(h, "\r\nServer: ferry\r\n", 17);
}

void
http_head_put(struct http_head *h, const char *name, const char *value)
{
    head_field(h, name, value, strlen(value));
}

void
http_head_put_u64(struct http_head *h, const char *name, uint64_t value)
{
    char digits[20];            /* 2^64 - 1 has 20 */
    size_t i = sizeof digits;

    do {
        digits[--i] = (char)('0' + value % 10);
        value /= 10;
    } while (value > 0);
    head_field(h, name, digits + i, sizeof digits - i);
}

/*
 * A name that is not a token or a value with CR, LF or NUL would split
 * the response; it is treated like an overflow, so the caller sends 500.
 */
void
http_head_add(struct http_head *h, const char *name, const char *fmt, ...)
{
    va_list ap;
    size_t start;

    if (!is_token(name))
        h->overflow = true;
    head_append(h, name, strlen(name));
    head_append(h, ": ", 2);
    start = h->len;
    va_start(ap, fmt);
    head_vprintf(h, fmt, ap);
    va_end(ap);
    if (!h->overflow && !safe_field_bytes(h->buf + start, h->len - start))
        h->overflow = true;
    head_append(h, "\r\n", 2);
}

int
http_head_end(struct http_head *h)
{
    head_append(h, "\r\n", 2);
    if (h->overflow || h->len > INT_MAX)
        return -1;
    return (int)h->len;
}

/* A name that is not a token or a value that could split the head is
 * treated like an overflow, as in http_head_add. */
static void
head_field(struct http_head *h, const char *name, const char *value,
           size_t len)
{
    if (!is_token(name) || !safe_field_bytes(value, len))
        h->overflow = true;
    head_append(h, name, strlen(name));
    head_append(h, ": ", 2);
    head_append(h, value, len);
    head_append(h, "\r\n", 2);
}

/* Kept NUL-terminated, as vsnprintf leaves it; nothing once dropped. */
static void
head_append(struct http_head *h, const char *s, size_t n)
{
    if (h->overflow || h->len >= h->cap || n >= h->cap - h->len) {
        h->overflow = true;
        return;
    }
    memcpy(h->buf + h->len, s, n);
    h->len += n;
    h->buf[h->len] = '\0';
}

/* Once anything was dropped nothing more is written. */
static void
head_vprintf(struct http_head *h, const char *fmt, va_list ap)
{
    size_t room;
    int n;

    if (h->overflow || h->len >= h->cap) {
        h->overflow = true;
        return;
    }
    room = h->cap - h->len;
    n = vsnprintf(h->buf + h->len, room, fmt, ap);
    if (n < 0 || (size_t)n >= room) {
        h->overflow = true;
        return;
    }
    h->len += (size_t)n;
}

static bool
safe_field_bytes(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0')
            return false;
    }
    return true;
}

/* A field name: one or more tchar (RFC 9110 5.6.2). */
static bool
is_token(const char *s)
{
    size_t i;

    for (i = 0; s[i] != '\0'; i++) {
        if (!is_tchar((unsigned char)s[i]))
            return false;
    }
    return i > 0;
}

/* ASCII only, whatever the locale. */
static bool
is_tchar(unsigned char c)
{
    static const char other[] = "!#$%&'*+-.^_`|~";

    if (is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c != '\0' && memchr(other, c, sizeof other - 1) != NULL;
}

static bool
is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}
