/*
 * test_chunked.c: unit tests for chunked.c (cmocka).
 *
 * Every body in the table is decoded whole, split into two calls at every
 * offset, and one byte at a time; each piece is first copied to the end
 * of a page followed by an unmapped page, so reading one byte past a
 * piece crashes.  Every way of feeding must give the same answer, the
 * same data and the same count of bytes used.  Generated bodies (long
 * lines and trailers, random encodings and random corruptions of them)
 * go through the same checks with random splits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunked.h"

#include "guard.h"
#include "cases.h"

#define MORE  CHUNKED_MORE
#define DONE  CHUNKED_DONE
#define ERROR CHUNKED_ERROR

/* A case's first fields; lengths count NULs inside the strings too. */
#define CASE(l, IN, w, DATA) .label = l, .in = IN, .len = sizeof(IN) - 1, \
    .want = w, .data = DATA, .data_len = sizeof(DATA) - 1
#define END "0\r\n\r\n"

struct chunk_case {
    const char *label;
    const char *in;
    size_t len;
    enum chunked_result want;
    const char *data;               /* all data decoded, before any error */
    size_t data_len;
    size_t used;                    /* DONE: where the body ends; 0: LEN */
};

static const struct chunk_case cases[] = {
    /* Valid bodies. */
    { CASE("empty body", END, DONE, "") },
    { CASE("single chunk", "5\r\nhello\r\n" END, DONE, "hello") },
    { CASE("many chunks", "1\r\na\r\n2\r\nbc\r\n3\r\ndef\r\n4\r\nghij\r\n"
           END, DONE, "abcdefghij") },
    { CASE("uppercase hex", "A\r\n0123456789\r\n" END, DONE, "0123456789") },
    { CASE("lowercase hex", "a\r\n0123456789\r\n" END, DONE, "0123456789") },
    { CASE("mixed case two digits", "1a\r\nabcdefghijklmnopqrstuvwxyz\r\n"
           "1A\r\nABCDEFGHIJKLMNOPQRSTUVWXYZ\r\n" END, DONE,
           "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") },
    { CASE("leading zeros", "0005\r\nhello\r\n000\r\n\r\n", DONE, "hello") },
    { CASE("many leading zeros, 16 digits",
           "000000000000000000000000000000001\r\nx\r\n"
           "00000000000000000000000000000000000\r\n\r\n", DONE, "x") },
    { CASE("extension name only", "5;flag\r\nhello\r\n" END, DONE,
           "hello") },
    { CASE("extension token value", "5;name=value\r\nhello\r\n" END, DONE,
           "hello") },
    { CASE("extension odd tchars", "5;!#$%&'*+-.^_`|~09az=!#$%&'*+-.^_`|~"
           "\r\nhello\r\n" END, DONE, "hello") },
    { CASE("several extensions", "5;a=1;b;c=\"x\"\r\nhello\r\n" END, DONE,
           "hello") },
    { CASE("BWS where allowed", "5 ; a = 1 ;b\t=\t\"q\"\t;\tc ;d\r\nhello\r\n"
           END, DONE, "hello") },
    { CASE("BWS after the size", "5 \t ;a\r\nhello\r\n" END, DONE,
           "hello") },
    { CASE("quoted value, escaped quote and backslash",
           "5;q=\"a\\\"b\\\\c\"\r\nhello\r\n" END, DONE, "hello") },
    { CASE("quoted value with ; = and spaces",
           "5;q=\"a;b=c d\t\"\r\nhello\r\n" END, DONE, "hello") },
    { CASE("quoted value empty", "5;q=\"\"\r\nhello\r\n" END, DONE,
           "hello") },
    { CASE("quoted value obs-text", "5;q=\"caf\xc3\xa9\\\xff\"\r\nhello\r\n"
           END, DONE, "hello") },
    { CASE("quoted-pair of SP and HTAB", "5;q=\"\\ \\\t\"\r\nhello\r\n" END,
           DONE, "hello") },
    { CASE("extension on the last chunk", "0;end=\"yes\"\r\n\r\n", DONE,
           "") },
    { CASE("trailers", "3\r\nabc\r\n0\r\nX-Sum: abc\r\nY:\r\nZ: \t\r\n\r\n",
           DONE, "abc") },
    { CASE("trailer value with inner space, tab, obs-text",
           "0\r\nX: a b\tc\xc3\xa9 \r\n\r\n", DONE, "") },
    { CASE("data containing CRLF", "4\r\n\r\n\r\n\r\n" END, DONE,
           "\r\n\r\n") },
    { CASE("data containing the last chunk", "5\r\n" END "\r\n" END, DONE,
           END) },
    { CASE("data containing NUL and controls", "4\r\na\0\x7f\n\r\n" END,
           DONE, "a\0\x7f\n") },
    { CASE("data of every kind of byte", "6\r\n\xff\x80\r\r\n\x01\r\n" END,
           DONE, "\xff\x80\r\r\n\x01") },
    { CASE("pipelined request after the body",
           "3\r\nabc\r\n" END "GET / HTTP/1.1\r\n\r\n", DONE, "abc"),
      .used = 13 },
    { CASE("pipelined request after trailers",
           "0\r\nA: b\r\n\r\nPUT / HTTP/1.1\r\n", DONE, ""), .used = 11 },
    { CASE("garbage after the body is not ours", END "\n\r\0", DONE, ""),
      .used = 5 },

    /* Incomplete bodies: all input used. */
    { CASE("nothing yet", "", MORE, "") },
    { CASE("size only", "5", MORE, "") },
    { CASE("size and CR", "5\r", MORE, "") },
    { CASE("data shorter than declared", "5\r\nhel", MORE, "hel") },
    { CASE("data without its CRLF", "5\r\nhello", MORE, "hello") },
    { CASE("data and CR", "5\r\nhello\r", MORE, "hello") },
    { CASE("no last chunk yet", "5\r\nhello\r\n", MORE, "hello") },
    { CASE("last chunk without final CRLF", "0\r\n", MORE, "") },
    { CASE("last chunk and CR", "0\r\n\r", MORE, "") },
    { CASE("trailer without final CRLF", "0\r\nX: y\r\n", MORE, "") },
    { CASE("trailer name so far", "0\r\nX-Long-Na", MORE, "") },
    { CASE("quoted value so far", "5;a=\"x\\", MORE, "") },
    { CASE("largest size", "FFFFFFFFFFFFFFFF\r\nabc", MORE, "abc") },
    { CASE("largest size, lowercase, zeros", "0000ffffffffffffffff\r\n",
           MORE, "") },

    /* Framing. */
    { CASE("no CRLF after data", "5\r\nhelloX\r\n" END, ERROR, "hello") },
    { CASE("CR and junk after data", "5\r\nhello\rX\n" END, ERROR,
           "hello") },
    { CASE("bare LF after data", "5\r\nhello\n" END, ERROR, "hello") },
    { CASE("data longer than declared", "3\r\nhello\r\n" END, ERROR, "hel") },
    { CASE("bare LF after the size", "5\nhello\r\n" END, ERROR, "") },
    { CASE("bare CR after the size", "5\rhello\r\n" END, ERROR, "") },
    { CASE("CR CR after the size", "5\r\r\nhello\r\n" END, ERROR, "") },
    { CASE("bare LF ending the body", "0\r\n\n", ERROR, "") },
    { CASE("bare CR ending the body", "0\r\n\rX", ERROR, "") },
    { CASE("bare LF after a trailer", "0\r\nX: y\n\r\n", ERROR, "") },
    { CASE("bare CR in a trailer", "0\r\nX: y\rz\r\n\r\n", ERROR, "") },
    { CASE("empty size line", "\r\nhello\r\n" END, ERROR, "") },
    { CASE("empty size line after a chunk", "1\r\na\r\n\r\n" END, ERROR,
           "a") },

    /* Sizes. */
    { CASE("space after the size", "5 \r\nhello\r\n" END, ERROR, "") },
    { CASE("tab after the size", "5\t\r\nhello\r\n" END, ERROR, "") },
    { CASE("space before the size", " 5\r\nhello\r\n" END, ERROR, "") },
    { CASE("space inside the size", "1 0\r\n", ERROR, "") },
    { CASE("negative size", "-5\r\nhello\r\n" END, ERROR, "") },
    { CASE("plus sign", "+5\r\nhello\r\n" END, ERROR, "") },
    { CASE("0x prefix", "0x5\r\nhello\r\n" END, ERROR, "") },
    { CASE("non-hex digit", "5g\r\nhello\r\n" END, ERROR, "") },
    { CASE("non-hex letter first", "g\r\n", ERROR, "") },
    { CASE("decimal point", "1.5\r\n", ERROR, "") },
    { CASE("17 significant digits", "10000000000000000\r\n", ERROR, "") },
    { CASE("17 F digits", "FFFFFFFFFFFFFFFFF\r\n", ERROR, "") },
    { CASE("2^64 after zeros", "00010000000000000000\r\n", ERROR, "") },
    { CASE("huge size", "123456789abcdef0123456789abcdef\r\n", ERROR, "") },
    { CASE("fullwidth digit", "\xef\xbc\x95\r\n", ERROR, "") },
    { CASE("NUL in the size", "5\0\r\nhello\r\n" END, ERROR, "") },
    { CASE("NUL before the size", "\0" "5\r\n", ERROR, "") },
    { CASE("NUL instead of CRLF after data", "1\r\na\0\r\n" END, ERROR,
           "a") },

    /* Extensions. */
    { CASE("empty extension name", "5;\r\nhello\r\n" END, ERROR, "") },
    { CASE("empty name before =", "5;=v\r\nhello\r\n" END, ERROR, "") },
    { CASE("empty value", "5;a=\r\nhello\r\n" END, ERROR, "") },
    { CASE("empty value before ;", "5;a=;b\r\nhello\r\n" END, ERROR, "") },
    { CASE("double semicolon", "5;a;;b\r\nhello\r\n" END, ERROR, "") },
    { CASE("@ in a name", "5;a@b\r\nhello\r\n" END, ERROR, "") },
    { CASE("slash in a name", "5;a/b=c\r\nhello\r\n" END, ERROR, "") },
    { CASE("@ in a token value", "5;a=b@c\r\nhello\r\n" END, ERROR, "") },
    { CASE("two equals", "5;a=b=c\r\nhello\r\n" END, ERROR, "") },
    { CASE("equals twice", "5;a==b\r\nhello\r\n" END, ERROR, "") },
    { CASE("BWS before CRLF after a name", "5;a \r\nhello\r\n" END, ERROR,
           "") },
    { CASE("BWS before CRLF after a value", "5;a=b\t\r\nhello\r\n" END,
           ERROR, "") },
    { CASE("BWS before CRLF after a quote", "5;a=\"b\" \r\nhello\r\n" END,
           ERROR, "") },
    { CASE("space inside a name", "5;a b\r\nhello\r\n" END, ERROR, "") },
    { CASE("space inside a value", "5;a=b c\r\nhello\r\n" END, ERROR, "") },
    { CASE("unterminated quoted string", "5;a=\"bc\r\nhello\r\n" END, ERROR,
           "") },
    { CASE("backslash then CR", "5;a=\"b\\\r\nhello\r\n" END, ERROR, "") },
    { CASE("junk after the closing quote", "5;a=\"b\"c\r\nhello\r\n" END,
           ERROR, "") },
    { CASE("two quoted strings", "5;a=\"b\"\"c\"\r\nhello\r\n" END, ERROR,
           "") },
    { CASE("control in a quoted string", "5;a=\"\x01\"\r\nhello\r\n" END,
           ERROR, "") },
    { CASE("DEL in a quoted string", "5;a=\"\x7f\"\r\nhello\r\n" END, ERROR,
           "") },
    { CASE("NUL in a quoted string", "5;a=\"\0\"\r\nhello\r\n" END, ERROR,
           "") },
    { CASE("quoted-pair of a control", "5;a=\"\\\x01\"\r\nhello\r\n" END,
           ERROR, "") },
    { CASE("quoted-pair of LF", "5;a=\"\\\n\"\r\nhello\r\n" END, ERROR,
           "") },
    { CASE("quoted name", "5;\"a\"=b\r\nhello\r\n" END, ERROR, "") },
    { CASE("comma instead of semicolon", "5;a,b\r\nhello\r\n" END, ERROR,
           "") },
    { CASE("bare LF after an extension", "5;a=b\nhello\r\n" END, ERROR,
           "") },
    { CASE("NUL in an extension name", "5;a\0\r\nhello\r\n" END, ERROR,
           "") },
    { CASE("obs-text in a token value", "5;a=\xc3\xa9\r\nhello\r\n" END,
           ERROR, "") },
    { CASE("bad extension on the last chunk", "0;\r\n\r\n", ERROR, "") },

    /* Trailers. */
    { CASE("trailer obs-fold", "0\r\nX: a\r\n b\r\n\r\n", ERROR, "") },
    { CASE("trailer obs-fold by tab", "0\r\nX: a\r\n\tb\r\n\r\n", ERROR,
           "") },
    { CASE("space before the first trailer", "0\r\n X: a\r\n\r\n", ERROR,
           "") },
    { CASE("space before the colon", "0\r\nX : a\r\n\r\n", ERROR, "") },
    { CASE("tab before the colon", "0\r\nX\t: a\r\n\r\n", ERROR, "") },
    { CASE("trailer without a colon", "0\r\nX\r\n\r\n", ERROR, "") },
    { CASE("trailer without a name", "0\r\n: a\r\n\r\n", ERROR, "") },
    { CASE("trailer name with @", "0\r\nX@: a\r\n\r\n", ERROR, "") },
    { CASE("control in a trailer value", "0\r\nX: a\x01\r\n\r\n", ERROR,
           "") },
    { CASE("DEL in a trailer value", "0\r\nX: a\x7f\r\n\r\n", ERROR, "") },
    { CASE("NUL in a trailer value", "0\r\nX: a\0b\r\n\r\n", ERROR, "") },
    { CASE("NUL in a trailer name", "0\r\nX\0: a\r\n\r\n", ERROR, "") },
    { CASE("data where trailers go", "0\r\nhello\r\n\r\n", ERROR, "") },
};

/* What feeding a body gave. */
struct outcome {
    enum chunked_result rv;
    size_t used;                    /* input bytes used in all */
    char *data;                     /* all data decoded, LEN bytes room */
    size_t data_len;
};

static void
outcome_init(struct outcome *o, size_t len)
{
    o->data = malloc(len > 0 ? len : 1);
    assert_non_null(o->data);
}

/*
 * Decode LEN bytes of IN in pieces ending at the NCUTS ascending offsets
 * CUTS and at LEN, each piece copied to the end of G, as a connection
 * reading from a socket would.  Checks what holds for every call.
 */
static void
feed(const char *label, struct guard *g, const char *in, size_t len,
     const size_t *cuts, size_t ncuts, struct outcome *o)
{
    struct chunked c;
    size_t start = 0, end, n, used, dl, i;
    char *p;

    chunked_init(&c);
    o->data_len = 0;
    for (i = 0; i <= ncuts; i++, start = end) {
        end = i < ncuts ? cuts[i] : len;
        n = end - start;
        p = guard_copy(g, in + start, n);
        used = dl = 7777777;
        o->rv = chunked_decode(&c, p, n, &used, &dl);
        if (used > n || dl > used)
            fail_msg("%s, piece %zu+%zu: used %zu, data %zu", label, start,
                     n, used, dl);
        if (o->rv == MORE && used != n)
            fail_msg("%s, piece %zu+%zu: MORE with %zu used", label, start,
                     n, used);
        memcpy(o->data + o->data_len, p, dl);
        o->data_len += dl;
        o->used = start + used;
        if (o->rv != MORE)
            break;
    }
}

static const char *
result_name(enum chunked_result rv)
{
    return rv == DONE ? "DONE" : rv == MORE ? "MORE" : "ERROR";
}


/* A whole-buffer reading of the grammar, written apart from chunked.c. */
enum { REF_OK, REF_MORE, REF_ERR };

struct ref {
    const unsigned char *s;
    size_t len, pos;                /* on REF_ERR, pos is the bad byte */
    char *data;
    size_t data_len;
};

static bool
p_hex(int ch)
{
    return strchr("0123456789abcdefABCDEF", ch) != NULL && ch != 0;
}

static bool
p_tchar(int ch)
{
    return ch != 0 && (strchr("!#$%&'*+-.^_`|~", ch) != NULL ||
                       (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
                       (ch >= 'A' && ch <= 'Z'));
}

static bool
p_bws(int ch)
{
    return ch == ' ' || ch == '\t';
}

/* HTAB, SP, VCHAR, obs-text */
static bool
p_text(int ch)
{
    return ch == '\t' || (ch >= ' ' && ch != 0x7f);
}

static int
ref_peek(const struct ref *r)
{
    return r->pos < r->len ? r->s[r->pos] : -1;
}

static size_t
ref_skip(struct ref *r, bool (*pred)(int))
{
    size_t n = 0;

    while (ref_peek(r) >= 0 && pred(ref_peek(r))) {
        r->pos++;
        n++;
    }
    return n;
}

static int
ref_eat(struct ref *r, int ch)
{
    if (ref_peek(r) < 0)
        return REF_MORE;
    if (ref_peek(r) != ch)
        return REF_ERR;
    r->pos++;
    return REF_OK;
}

static int
ref_crlf(struct ref *r)
{
    int rv = ref_eat(r, '\r');

    return rv == REF_OK ? ref_eat(r, '\n') : rv;
}

static int
ref_token(struct ref *r)
{
    size_t n = ref_skip(r, p_tchar);

    if (ref_peek(r) < 0)
        return REF_MORE;
    return n > 0 ? REF_OK : REF_ERR;
}

static int
ref_value(struct ref *r)
{
    int ch = ref_peek(r);

    if (ch != '"')
        return ch < 0 ? REF_MORE : ref_token(r);
    for (r->pos++;; r->pos++) {
        ch = ref_peek(r);
        if (ch == '"') {
            r->pos++;
            return REF_OK;
        }
        if (ch == '\\') {
            r->pos++;
            ch = ref_peek(r);
        }
        if (ch < 0)
            return REF_MORE;
        if (!p_text(ch))
            return REF_ERR;
    }
}

/* *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ) CRLF */
static int
ref_exts(struct ref *r)
{
    size_t ws;
    int rv;

    for (;;) {
        ws = ref_skip(r, p_bws);
        if (ref_peek(r) != ';') {
            if (ws > 0 && ref_peek(r) >= 0)
                return REF_ERR;
            return ref_crlf(r);
        }
        r->pos++;
        ref_skip(r, p_bws);
        if ((rv = ref_token(r)) != REF_OK)
            return rv;
        ws = ref_skip(r, p_bws);
        if (ref_peek(r) != '=') {
            r->pos -= ws;           /* that BWS must lead to a ";" */
            continue;
        }
        r->pos++;
        ref_skip(r, p_bws);
        if ((rv = ref_value(r)) != REF_OK)
            return rv;
    }
}

static int
ref_size_line(struct ref *r, uint64_t *size)
{
    size_t start = r->pos, n = ref_skip(r, p_hex), sig = 0, i;
    char digits[17];

    for (i = start; i < start + n; i++) {
        if ((sig > 0 || r->s[i] != '0') && sig == 16) {
            r->pos = i;             /* no 17th significant digit */
            return REF_ERR;
        }
        if (sig > 0 || r->s[i] != '0')
            digits[sig++] = (char)r->s[i];
    }
    if (ref_peek(r) < 0)
        return REF_MORE;
    if (n == 0)
        return REF_ERR;
    digits[sig] = '\0';
    *size = strtoull(digits, NULL, 16);
    return ref_exts(r);
}

static int
ref_trailers(struct ref *r)
{
    int rv;

    for (;;) {
        if (ref_peek(r) == '\r')
            return ref_crlf(r);
        if ((rv = ref_token(r)) != REF_OK || (rv = ref_eat(r, ':')) != REF_OK)
            return rv;
        ref_skip(r, p_text);
        if ((rv = ref_crlf(r)) != REF_OK)
            return rv;
    }
}

static int
ref_body(struct ref *r)
{
    uint64_t size;
    size_t n;
    int rv;

    for (;;) {
        if ((rv = ref_size_line(r, &size)) != REF_OK)
            return rv;
        if (size == 0)
            return ref_trailers(r);
        n = r->len - r->pos;
        if (size < n)
            n = (size_t)size;
        memcpy(r->data + r->data_len, r->s + r->pos, n);
        r->data_len += n;
        r->pos += n;
        if (n < size)
            return REF_MORE;
        if ((rv = ref_crlf(r)) != REF_OK)
            return rv;
    }
}

/* The reference's answer for IN, ignoring the two length limits. */
static void
ref_decode(const char *in, size_t len, struct outcome *o)
{
    struct ref r = { .s = (const unsigned char *)in, .len = len,
                     .data = o->data };
    int rv = ref_body(&r);

    o->data_len = r.data_len;
    o->rv = rv == REF_OK ? DONE : rv == REF_MORE ? MORE : ERROR;
    o->used = rv == REF_OK ? r.pos : rv == REF_MORE ? len : r.pos + 1;
}

static void
check_outcome(const char *label, const char *how, const struct outcome *got,
              const struct outcome *want)
{
    if (got->rv != want->rv)
        fail_msg("%s, %s: %s, want %s", label, how, result_name(got->rv),
                 result_name(want->rv));
    if (want->used != SIZE_MAX && got->used != want->used)
        fail_msg("%s, %s: used %zu, want %zu", label, how, got->used,
                 want->used);
    if (got->data_len != want->data_len ||
        memcmp(got->data, want->data, got->data_len) != 0)
        fail_msg("%s, %s: %zu bytes of data differ from the %zu wanted",
                 label, how, got->data_len, want->data_len);
}

/* Offsets 1 .. LEN - 1: every byte its own piece. */
static size_t *
every_byte(size_t len, size_t *ncuts)
{
    size_t *cuts = malloc((len > 0 ? len : 1) * sizeof *cuts), i;

    assert_non_null(cuts);
    for (i = 1; i < len; i++)
        cuts[i - 1] = i;
    *ncuts = len > 0 ? len - 1 : 0;
    return cuts;
}

/*
 * Feed IN whole and check it against WANT (its used unchecked when
 * SIZE_MAX), then in two pieces split at every offset, and one byte at a
 * time: each must give exactly what the whole feed gave.
 */
static void
feed_every_way(const char *label, const char *in, size_t len,
               const struct outcome *want)
{
    struct outcome whole, part;
    struct guard g;
    size_t *cuts, ncuts, k;
    char how[64];

    guard_init(&g, len);
    outcome_init(&whole, len);
    outcome_init(&part, len);
    feed(label, &g, in, len, NULL, 0, &whole);
    check_outcome(label, "whole", &whole, want);

    for (k = 1; k < len; k++) {
        feed(label, &g, in, len, &k, 1, &part);
        snprintf(how, sizeof how, "split at %zu", k);
        check_outcome(label, how, &part, &whole);
    }
    cuts = every_byte(len, &ncuts);
    feed(label, &g, in, len, cuts, ncuts, &part);
    check_outcome(label, "byte at a time", &part, &whole);

    free(cuts);
    free(part.data);
    free(whole.data);
    guard_free(&g);
}

/*
 * A table case, and the reference on it: where an error is found is
 * left to the reference, which names the first byte that breaks the
 * grammar.
 */
static void
test_case(void **state)
{
    const struct chunk_case *c = *state;
    struct outcome want = {
        .rv = c->want, .data = (char *)c->data, .data_len = c->data_len,
        .used = c->want == ERROR ? SIZE_MAX : c->used != 0 ? c->used : c->len,
    }, ref;

    outcome_init(&ref, c->len);
    ref_decode(c->in, c->len, &ref);
    check_outcome(c->label, "reference", &ref, &want);
    feed_every_way(c->label, c->in, c->len, &ref);
    free(ref.data);
}

/* Build a body and feed it every way; WANT_USED 0 means all of it. */
static void
run_built(const char *label, const char *head, char fill, size_t fill_len,
          const char *tail, enum chunked_result rv, const char *data,
          size_t want_used)
{
    struct outcome want = { .rv = rv, .data = (char *)data };
    size_t len;
    char *s = cases_build(head, fill, fill_len, tail, &len);

    want.data_len = strlen(data);
    want.used = want_used != 0 ? want_used : len;
    feed_every_way(label, s, len, &want);
    free(s);
}

static void
test_long_lines(void **state)
{
    const size_t max = CHUNKED_MAX_LINE;

    (void)state;
    run_built("extension line of the most bytes", "1;", 'a', max - 2,
              "\r\nx\r\n" END, DONE, "x", 0);
    run_built("extension line one byte too long", "1;", 'a', max - 1,
              "\r\nx\r\n" END, ERROR, "", max + 1);
    run_built("extension line that never ends", "1;", 'a', max + 500, "",
              ERROR, "", max + 1);
    run_built("longest line, its CR last", "1;", 'a', max - 2, "\r", MORE,
              "", 0);
    run_built("leading zeros filling the line", "", '0', max - 1,
              "1\r\nx\r\n" END, DONE, "x", 0);
    run_built("leading zeros past the line", "", '0', max,
              "1\r\nx\r\n" END, ERROR, "", max + 1);
    run_built("quoted value past the line", "1;q=\"", 'v', max,
              "\"\r\nx\r\n" END, ERROR, "", max + 1);
    run_built("long line after a chunk", "1\r\nx\r\n1;", 'a', max,
              "\r\ny\r\n" END, ERROR, "x", 6 + max + 1);
}

static void
test_big_trailers(void **state)
{
    const size_t max = CHUNKED_MAX_TRAILERS;

    (void)state;
    /* "X: " + value + CRLF: the trailer section is MAX bytes */
    run_built("trailers of the most bytes", "0\r\nX: ", 'v', max - 5,
              "\r\n\r\n", DONE, "", 0);
    run_built("trailers one byte too many", "0\r\nX: ", 'v', max - 4,
              "\r\n\r\n", ERROR, "", 3 + max + 1);
    run_built("trailer that never ends", "0\r\nX: ", 'v', max + 10, "",
              ERROR, "", 3 + max + 1);
    run_built("long trailer name", "0\r\n", 'N', max + 10, ": v\r\n\r\n",
              ERROR, "", 3 + max + 1);
}

/* Many short trailer lines add up to the limit too. */
static void
test_many_trailers(void **state)
{
    static const char head[] = "1\r\nz\r\n0\r\n", field[] = "A: b\r\n";
    size_t hl = sizeof head - 1, fl = sizeof field - 1;
    size_t n = CHUNKED_MAX_TRAILERS / fl, len, i;
    struct outcome want = { .rv = DONE, .data = "z", .data_len = 1 };
    char *s = malloc(hl + (n + 1) * fl + 2);

    (void)state;
    assert_non_null(s);
    memcpy(s, head, hl);
    for (len = hl, i = 0; i < n; i++, len += fl)
        memcpy(s + len, field, fl);
    memcpy(s + len, "\r\n", 2);
    want.used = len + 2;
    feed_every_way("many trailer lines", s, len + 2, &want);

    /* one line more takes the fields past the limit */
    memcpy(s + len, field, fl);
    memcpy(s + len + fl, "\r\n", 2);
    want.rv = ERROR;
    want.used = hl + CHUNKED_MAX_TRAILERS + 1;
    feed_every_way("too many trailer lines", s, len + fl + 2, &want);
    free(s);
}

/* Calls with nothing to give, and calls after the end or an error. */
static void
test_calls_after_end(void **state)
{
    char buf[32];
    struct chunked c;
    size_t used, dl;

    (void)state;
    chunked_init(&c);
    assert_int_equal(chunked_decode(&c, buf, 0, &used, &dl), MORE);
    assert_int_equal(used, 0);
    assert_int_equal(dl, 0);

    memcpy(buf, "2\r\nab\r\n" END "xyz", 15);
    assert_int_equal(chunked_decode(&c, buf, 15, &used, &dl), DONE);
    assert_int_equal(used, 12);
    assert_int_equal(dl, 2);
    assert_memory_equal(buf, "ab", 2);
    assert_memory_equal(buf + 12, "xyz", 3);    /* the next request's */
    assert_int_equal(chunked_decode(&c, buf, 15, &used, &dl), DONE);
    assert_int_equal(used, 0);
    assert_int_equal(dl, 0);

    chunked_init(&c);
    memcpy(buf, "x\r\n" END, 8);
    assert_int_equal(chunked_decode(&c, buf, 8, &used, &dl), ERROR);
    assert_int_equal(chunked_decode(&c, buf, 8, &used, &dl), ERROR);
}

/* A body bigger than any one call: a 2^40-byte chunk, 1 MiB at a time. */
static void
test_huge_chunk(void **state)
{
    size_t mib = 1 << 20, used, dl, i;
    char *buf = malloc(mib);
    struct chunked c;

    (void)state;
    assert_non_null(buf);
    chunked_init(&c);
    memcpy(buf, "10000000000\r\n", 13);
    assert_int_equal(chunked_decode(&c, buf, 13, &used, &dl), MORE);
    assert_int_equal(dl, 0);
    for (i = 0; i < 64; i++) {
        memset(buf, (int)i, mib);
        assert_int_equal(chunked_decode(&c, buf, mib, &used, &dl), MORE);
        assert_int_equal(used, mib);
        assert_int_equal(dl, mib);
        assert_int_equal(buf[mib - 1], (char)i);
    }
    assert_true(c.chunk_left == (UINT64_C(1) << 40) - 64 * mib);
    free(buf);
}

/* xorshift64*: fixed seeds, so a failure can be replayed. */
static uint64_t
rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * UINT64_C(0x2545F4914F6CDD1D);
}

static size_t
below(uint64_t *s, size_t n)
{
    return n > 0 ? (size_t)(rnd(s) % n) : 0;
}

/* A growing output buffer. */
struct sbuf {
    char *p;
    size_t len, cap;
};

static void
put(struct sbuf *b, const void *s, size_t n)
{
    while (b->len + n > b->cap) {
        b->cap = b->cap > 0 ? b->cap * 2 : 256;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void
put_char(struct sbuf *b, int ch)
{
    char c = (char)ch;

    put(b, &c, 1);
}

static void
put_str(struct sbuf *b, const char *s)
{
    put(b, s, strlen(s));
}

static void
put_bws(struct sbuf *b, uint64_t *r)
{
    size_t n = below(r, 4) == 0 ? below(r, 3) + 1 : 0;

    while (n-- > 0)
        put_char(b, below(r, 2) ? ' ' : '\t');
}

static void
put_token(struct sbuf *b, uint64_t *r)
{
    static const char t[] = "azAZ09!#$%&'*+-.^_`|~";
    size_t n = below(r, 8) + 1;

    while (n-- > 0)
        put_char(b, t[below(r, sizeof t - 1)]);
}

/* A byte for a field value or a quoted string: HTAB, SP, VCHAR, obs-text */
static int
text_byte(uint64_t *r)
{
    int ch = (int)below(r, 0x100 - 0x20) + 0x20;

    return ch == 0x7f ? '\t' : ch;
}

static void
put_quoted(struct sbuf *b, uint64_t *r)
{
    size_t n = below(r, 10);
    int ch;

    put_char(b, '"');
    while (n-- > 0) {
        ch = below(r, 4) == 0 ? "\"\\"[below(r, 2)] : text_byte(r);
        if (ch == '"' || ch == '\\' || below(r, 8) == 0)
            put_char(b, '\\');
        put_char(b, ch);
    }
    put_char(b, '"');
}

static void
put_exts(struct sbuf *b, uint64_t *r)
{
    size_t n = below(r, 3) == 0 ? below(r, 4) + 1 : 0;

    while (n-- > 0) {
        put_bws(b, r);
        put_char(b, ';');
        put_bws(b, r);
        put_token(b, r);
        if (below(r, 2) == 0)
            continue;
        put_bws(b, r);
        put_char(b, '=');
        put_bws(b, r);
        if (below(r, 2) == 0)
            put_token(b, r);
        else
            put_quoted(b, r);
    }
}

/* SIZE in hex, each digit in either case, maybe after zeros. */
static void
put_size(struct sbuf *b, uint64_t *r, size_t size)
{
    char digits[20];
    size_t n = 0, zeros = below(r, 4) == 0 ? below(r, 4) + 1 : 0;

    do {
        digits[n++] = "0123456789abcdef0123456789ABCDEF"[(size & 15) +
                                                        below(r, 2) * 16];
        size >>= 4;
    } while (size > 0);
    while (zeros-- > 0)
        put_char(b, '0');
    while (n-- > 0)
        put_char(b, digits[n]);
    put_exts(b, r);
    put_str(b, "\r\n");
}

static void
put_trailers(struct sbuf *b, uint64_t *r)
{
    size_t n = below(r, 3) == 0 ? below(r, 4) + 1 : 0, k;

    while (n-- > 0) {
        put_token(b, r);
        put_char(b, ':');
        for (k = below(r, 20); k > 0; k--)
            put_char(b, text_byte(r));
        put_str(b, "\r\n");
    }
    put_str(b, "\r\n");
}

/* Encode N bytes of DATA in chunks of random sizes, then the last chunk. */
static void
encode(uint64_t *r, const char *data, size_t n, struct sbuf *b)
{
    size_t caps[] = { 1, 8, 300, n }, cap = caps[below(r, 4)], pos, k;

    for (pos = 0; pos < n; pos += k) {
        k = n - pos < cap ? n - pos : cap;
        k = below(r, k) + 1;
        put_size(b, r, k);
        put(b, data + pos, k);
        put_str(b, "\r\n");
    }
    put_size(b, r, 0);
    put_trailers(b, r);
}

/* Data that looks like framing now and then. */
static void
random_data(uint64_t *r, char *data, size_t n)
{
    static const char framing[] = "0\r\n;\"\\ ";
    size_t i;

    for (i = 0; i < n; i++) {
        if (below(r, 2) == 0)
            data[i] = framing[below(r, sizeof framing - 1)];
        else
            data[i] = (char)below(r, 256);
    }
}

/* Random ascending cuts in (0, LEN), pieces of up to 1, 3, 50 or 5000. */
static size_t
random_cuts(uint64_t *r, size_t len, size_t *cuts)
{
    static const size_t steps[] = { 1, 3, 50, 5000 };
    size_t step = steps[below(r, 4)], pos = 0, n = 0;

    for (;;) {
        pos += below(r, step) + 1;
        if (pos >= len)
            return n;
        cuts[n++] = pos;
    }
}

/* Feed B whole, byte by byte and split at random: each must give WANT. */
static void
feed_randomly(uint64_t *r, const char *label, const struct sbuf *b,
              const struct outcome *want)
{
    struct outcome got;
    struct guard g;
    size_t *cuts, ncuts, k;

    guard_init(&g, b->len);
    outcome_init(&got, b->len);
    feed(label, &g, b->p, b->len, NULL, 0, &got);
    check_outcome(label, "whole", &got, want);
    cuts = every_byte(b->len, &ncuts);
    feed(label, &g, b->p, b->len, cuts, ncuts, &got);
    check_outcome(label, "byte at a time", &got, want);
    for (k = 0; k < 4; k++) {
        ncuts = random_cuts(r, b->len, cuts);
        feed(label, &g, b->p, b->len, cuts, ncuts, &got);
        check_outcome(label, "random split", &got, want);
    }
    free(cuts);
    free(got.data);
    guard_free(&g);
}

/*
 * Random data, encoded with random chunk sizes, extensions and trailers,
 * a pipelined request after it half of the time: decoded whole, byte by
 * byte and with random splits, it must come back exact.
 */
static void
test_round_trip(void **state)
{
    static const size_t sizes[] = { 0, 20, 2000, 70000 };
    uint64_t seed = UINT64_C(0x9e3779b97f4a7c15), r = seed;
    struct outcome want;
    struct sbuf b = { 0 };
    size_t n, i;
    char label[64];

    (void)state;
    want.data = malloc(sizes[3]);
    assert_non_null(want.data);
    for (i = 0; i < 300; i++) {
        n = below(&r, sizes[below(&r, 4)] + 1);
        random_data(&r, want.data, n);
        b.len = 0;
        encode(&r, want.data, n, &b);
        want.rv = DONE;
        want.used = b.len;
        want.data_len = n;
        if (below(&r, 2) == 0)
            put_str(&b, "GET / HTTP/1.1\r\n\r\n");
        snprintf(label, sizeof label, "round trip %zu (seed %#llx)", i,
                 (unsigned long long)seed);
        feed_randomly(&r, label, &b, &want);
    }
    free(b.p);
    free(want.data);
}

/* Change B at random: a byte replaced, inserted or removed, 1 to 3 times. */
static void
mutate(uint64_t *r, struct sbuf *b)
{
    static const char odd[] = "\r\n \t;=\"\\:0aF\x7f\xff\x01";
    size_t n = below(r, 3) + 1, at;
    int ch;

    while (n-- > 0 && b->len > 0) {
        at = below(r, b->len);
        ch = below(r, 2) ? odd[below(r, sizeof odd)] : (int)below(r, 256);
        switch (below(r, 3)) {
        case 0:
            b->p[at] = (char)ch;
            break;
        case 1:
            put_char(b, 0);
            memmove(b->p + at + 1, b->p + at, b->len - at - 1);
            b->p[at] = (char)ch;
            break;
        default:
            memmove(b->p + at, b->p + at + 1, b->len - at - 1);
            b->len--;
        }
    }
}

/*
 * Small encodings, corrupted: whatever the decoder answers must match
 * the reference (answer, data and where it stopped), fed every way.
 */
static void
test_mutations(void **state)
{
    uint64_t seed = UINT64_C(0x243f6a8885a308d3), r = seed;
    struct outcome want;
    struct sbuf b = { 0 };
    size_t n, i, counts[3] = { 0 };
    char data[40], label[64];

    (void)state;
    for (i = 0; i < 3000; i++) {
        n = below(&r, sizeof data + 1);
        random_data(&r, data, n);
        b.len = 0;
        encode(&r, data, n, &b);
        mutate(&r, &b);
        snprintf(label, sizeof label, "mutation %zu (seed %#llx)", i,
                 (unsigned long long)seed);
        outcome_init(&want, b.len);
        ref_decode(b.p, b.len, &want);
        counts[want.rv]++;
        feed_every_way(label, b.p, b.len, &want);
        free(want.data);
    }
    print_message("mutations: %zu more, %zu done, %zu errors\n",
                  counts[MORE], counts[DONE], counts[ERROR]);
    free(b.p);
}

int
main(void)
{
    static const struct CMUnitTest other[] = {
        cmocka_unit_test(test_long_lines),
        cmocka_unit_test(test_big_trailers),
        cmocka_unit_test(test_many_trailers),
        cmocka_unit_test(test_calls_after_end),
        cmocka_unit_test(test_huge_chunk),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_mutations),
    };
    int failed;

    failed = CASES_RUN("bodies", test_case, cases);
    failed += cmocka_run_group_tests_name("generated", other, NULL, NULL);
    return failed != 0;
}
