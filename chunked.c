/*
 * chunked.c: the chunked transfer coding (RFC 9112 7.1), decoded in place.
 *
 * A byte-driven state machine, so any split of the input gives the same
 * answer; only chunk data moves in bulk.  Everything that is not data is
 * checked strictly against the grammar and then dropped: extensions and
 * trailers carry nothing we act on, and a lenient reading is how request
 * smuggling starts (two parsers disagreeing on where a body ends).  What
 * the data is for, and how much of it is too much, is the caller's.
 */
#include "chunked.h"

#include <stdbool.h>
#include <string.h>

enum state {
    ST_SIZE,            /* chunk-size = 1*HEXDIG */
    ST_EXT,             /* chunk-ext, see enum ext_state */
    ST_SIZE_LF,         /* the LF ending the size line */
    ST_DATA,
    ST_DATA_CR,         /* the CRLF after chunk-data */
    ST_DATA_LF,
    ST_TRAILER,         /* a field line starts, or the final CRLF */
    ST_FIELD_NAME,
    ST_FIELD_VALUE,
    ST_FIELD_LF,
    ST_END_LF,          /* the LF of the final CRLF */
    ST_DONE,
    ST_ERROR,
};

/* Where in chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ) */
enum ext_state {
    EXT_BWS,            /* BWS after the size or a value: ";" must follow */
    EXT_NAME_START,     /* after ";" */
    EXT_NAME,
    EXT_NAME_BWS,       /* BWS after a name: "=" or ";" must follow */
    EXT_VALUE_START,    /* after "=" */
    EXT_TOKEN,
    EXT_QUOTED,
    EXT_QUOTED_PAIR,    /* after a backslash inside the quotes */
    EXT_QUOTED_END,     /* after the closing quote */
};

static size_t copy_data(struct chunked *c, const char *src, size_t avail,
                        char *dst);
static int step(struct chunked *c, unsigned char ch);
static int size_byte(struct chunked *c, unsigned char ch);
static int size_lf(struct chunked *c, unsigned char ch);
static int ext_byte(struct chunked *c, unsigned char ch);
static int ext_value_byte(struct chunked *c, unsigned char ch);
static int ext_next(struct chunked *c, unsigned char ch);
static int trailer_byte(struct chunked *c, unsigned char ch);
static int expect(struct chunked *c, unsigned char ch, unsigned char want,
                  int next);
static int to_state(struct chunked *c, int state);
static int to_ext(struct chunked *c, int ext_state);
static int hex_value(unsigned char ch);
static bool is_bws(unsigned char ch);
static bool is_tchar(unsigned char ch);
static bool is_field_byte(unsigned char ch);
static bool is_qdtext(unsigned char ch);

void
chunked_init(struct chunked *c)
{
    memset(c, 0, sizeof *c);
    c->state = ST_SIZE;
    c->ext_state = EXT_BWS;
}

/*
 * Each byte is looked at once and data moves once, so a call costs
 * O(LEN).  Data only ever moves towards the front: OUT never passes POS.
 */
enum chunked_result
chunked_decode(struct chunked *c, char *buf, size_t len, size_t *used,
               size_t *data_len)
{
    size_t pos = 0, out = 0, n;

    while (pos < len && c->state != ST_DONE && c->state != ST_ERROR) {
        if (c->state == ST_DATA) {
            n = copy_data(c, buf + pos, len - pos, buf + out);
            pos += n;
            out += n;
        } else if (step(c, (unsigned char)buf[pos++]) == -1) {
            c->state = ST_ERROR;
        }
    }
    *used = pos;
    *data_len = out;
    if (c->state == ST_DONE)
        return CHUNKED_DONE;
    return c->state == ST_ERROR ? CHUNKED_ERROR : CHUNKED_MORE;
}

/* As much of this chunk's data as AVAIL holds; returns the bytes taken. */
static size_t
copy_data(struct chunked *c, const char *src, size_t avail, char *dst)
{
    size_t n = avail;

    if (c->chunk_left < n)
        n = (size_t)c->chunk_left;
    if (dst != src)
        memmove(dst, src, n);
    c->chunk_left -= n;
    if (c->chunk_left == 0)
        c->state = ST_DATA_CR;
    return n;
}

/* One byte that is not data.  Returns 0, or -1 when it is malformed. */
static int
step(struct chunked *c, unsigned char ch)
{
    /* bounds the size line, leading zeros and extensions included */
    if ((c->state == ST_SIZE || c->state == ST_EXT) && ch != '\r' &&
        ++c->line_len > CHUNKED_MAX_LINE)
        return -1;

    switch (c->state) {
    case ST_SIZE:
        return size_byte(c, ch);
    case ST_EXT:
        return ext_byte(c, ch);
    case ST_SIZE_LF:
        return size_lf(c, ch);
    case ST_DATA_CR:
        return expect(c, ch, '\r', ST_DATA_LF);
    case ST_DATA_LF:
        return expect(c, ch, '\n', ST_SIZE);
    case ST_END_LF:
        return expect(c, ch, '\n', ST_DONE);
    default:
        return trailer_byte(c, ch);
    }
}

static int
size_byte(struct chunked *c, unsigned char ch)
{
    int v = hex_value(ch);

    if (v >= 0) {
        /* a 17th significant digit would not fit: refuse, never wrap */
        if (c->chunk_left >> 60 != 0)
            return -1;
        c->chunk_left = c->chunk_left << 4 | (uint64_t)v;
        c->digits++;
        return 0;
    }
    if (c->digits == 0)             /* no sign, space or "0x" before it */
        return -1;
    if (ch == '\r')
        return to_state(c, ST_SIZE_LF);
    if (ch == ';') {
        c->state = ST_EXT;
        return to_ext(c, EXT_NAME_START);
    }
    if (is_bws(ch)) {
        c->state = ST_EXT;
        return to_ext(c, EXT_BWS);
    }
    return -1;
}

/* The size line is over: a zero size is the last chunk (1*"0"). */
static int
size_lf(struct chunked *c, unsigned char ch)
{
    if (ch != '\n')
        return -1;
    c->line_len = 0;
    c->digits = 0;
    c->ext_state = EXT_BWS;
    return to_state(c, c->chunk_left == 0 ? ST_TRAILER : ST_DATA);
}

/*
 * The extension grammar, byte by byte.  BWS is allowed only where the
 * grammar puts it, before ";" or "=": "5 \r\n" is refused, as some
 * recipients would read it otherwise.
 */
static int
ext_byte(struct chunked *c, unsigned char ch)
{
    switch (c->ext_state) {
    case EXT_BWS:
        if (is_bws(ch))
            return 0;
        return ch == ';' ? to_ext(c, EXT_NAME_START) : -1;
    case EXT_NAME_START:
        if (is_bws(ch))
            return 0;
        return is_tchar(ch) ? to_ext(c, EXT_NAME) : -1;
    case EXT_NAME:
        if (is_tchar(ch))
            return 0;
        if (ch == '=')
            return to_ext(c, EXT_VALUE_START);
        return is_bws(ch) ? to_ext(c, EXT_NAME_BWS) : ext_next(c, ch);
    case EXT_NAME_BWS:
        if (is_bws(ch))
            return 0;
        if (ch == '=')
            return to_ext(c, EXT_VALUE_START);
        return ch == ';' ? to_ext(c, EXT_NAME_START) : -1;
    default:
        return ext_value_byte(c, ch);
    }
}

/* ext-val = token / quoted-string (RFC 9110 5.6.4) */
static int
ext_value_byte(struct chunked *c, unsigned char ch)
{
    switch (c->ext_state) {
    case EXT_VALUE_START:
        if (is_bws(ch))
            return 0;
        if (ch == '"')
            return to_ext(c, EXT_QUOTED);
        return is_tchar(ch) ? to_ext(c, EXT_TOKEN) : -1;
    case EXT_TOKEN:
        if (is_tchar(ch))
            return 0;
        return is_bws(ch) ? to_ext(c, EXT_BWS) : ext_next(c, ch);
    case EXT_QUOTED:
        if (ch == '"')
            return to_ext(c, EXT_QUOTED_END);
        if (ch == '\\')
            return to_ext(c, EXT_QUOTED_PAIR);
        return is_qdtext(ch) ? 0 : -1;
    case EXT_QUOTED_PAIR:
        /* quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text ) */
        return is_field_byte(ch) ? to_ext(c, EXT_QUOTED) : -1;
    default:                        /* EXT_QUOTED_END */
        return is_bws(ch) ? to_ext(c, EXT_BWS) : ext_next(c, ch);
    }
}

/* After a complete extension: another one, or the end of the line. */
static int
ext_next(struct chunked *c, unsigned char ch)
{
    if (ch == ';')
        return to_ext(c, EXT_NAME_START);
    return ch == '\r' ? to_state(c, ST_SIZE_LF) : -1;
}

/*
 * trailer-section = *( field-line CRLF ), then CRLF.  Field lines are held
 * to the rules of header fields (RFC 9112 5): a token name right before
 * the colon, no obs-fold, no controls but HTAB in the value.
 */
static int
trailer_byte(struct chunked *c, unsigned char ch)
{
    if (c->state == ST_TRAILER && ch == '\r')
        return to_state(c, ST_END_LF);
    /* the final CRLF is not counted, so the limit is the fields' bytes */
    if (++c->trailer_len > CHUNKED_MAX_TRAILERS)
        return -1;

    switch (c->state) {
    case ST_TRAILER:
        return is_tchar(ch) ? to_state(c, ST_FIELD_NAME) : -1;
    case ST_FIELD_NAME:
        if (is_tchar(ch))
            return 0;
        return ch == ':' ? to_state(c, ST_FIELD_VALUE) : -1;
    case ST_FIELD_VALUE:
        if (is_field_byte(ch))
            return 0;
        return ch == '\r' ? to_state(c, ST_FIELD_LF) : -1;
    case ST_FIELD_LF:
        return expect(c, ch, '\n', ST_TRAILER);
    default:
        return -1;
    }
}

/* CRLF is the only line ending (RFC 9112 2.2): a bare CR or LF is refused. */
static int
expect(struct chunked *c, unsigned char ch, unsigned char want, int next)
{
    return ch == want ? to_state(c, next) : -1;
}

static int
to_state(struct chunked *c, int state)
{
    c->state = state;
    return 0;
}

static int
to_ext(struct chunked *c, int ext_state)
{
    c->ext_state = ext_state;
    return 0;
}

/* HEXDIG in either case (RFC 5234 is case-insensitive); -1 otherwise. */
static int
hex_value(unsigned char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

static bool
is_bws(unsigned char ch)
{
    return ch == ' ' || ch == '\t';
}

/* RFC 9110 5.6.2 */
static bool
is_tchar(unsigned char ch)
{
    static const char other[] = "!#$%&'*+-.^_`|~";

    if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
        (ch >= 'A' && ch <= 'Z'))
        return true;
    return ch != '\0' && memchr(other, ch, sizeof other - 1) != NULL;
}

/* RFC 9110 5.5: VCHAR, SP, HTAB and obs-text. */
static bool
is_field_byte(unsigned char ch)
{
    return (ch >= 0x20 && ch != 0x7f) || ch == '\t';
}

/* RFC 9110 5.6.4: a field byte other than '"' and '\'. */
static bool
is_qdtext(unsigned char ch)
{
    return is_field_byte(ch) && ch != '"' && ch != '\\';
}
