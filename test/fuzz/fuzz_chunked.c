/*
 * fuzz_chunked.c: libFuzzer target for the chunked decoder (chunked.c).
 *
 * Input: a mode byte, two bytes for where the first cut falls, one byte
 * for the length of the pieces after it, then the body.  In raw mode the
 * body is decoded as a client sent it.  In encode mode the body drives an
 * encoder that writes a valid chunked body (sizes with leading zeros in
 * either case, extensions, trailers, then a next request's bytes), which
 * must decode to exactly the data put in and stop exactly at its end.
 *
 * Either way the body is decoded whole and in pieces, each piece in a
 * block of its own: the answer, the bytes used and the data must agree,
 * and the data is never longer than the input.
 */
#include <stdbool.h>

#include "chunked.h"
#include "fuzz.h"

/* What a decoding gave. */
struct decoded {
    enum chunked_result result;
    size_t used;
    char *data;
    size_t data_len;
};

/* A body being written by the encoder. */
struct out {
    char *buf;
    size_t len;
    size_t cap;
};

static void decode_whole(const char *body, size_t n, struct decoded *d);
static void decode_pieces(const char *body, size_t n, size_t first,
                          size_t step, struct decoded *d);
static size_t decode_piece(struct chunked *c, const char *src, size_t n,
                           struct decoded *d);
static void check_same(const struct decoded *a, const struct decoded *b);
static void check_both(const char *body, size_t n, size_t first,
                       size_t step, struct decoded *whole);
static void encode_mode(struct fuzz_in *in, size_t first, size_t step);
static size_t encode(struct fuzz_in *in, struct out *o, struct out *data);
static void put_chunk(struct fuzz_in *in, struct out *o, struct out *data,
                      uint8_t len);
static void put_size(struct out *o, size_t size, uint8_t style);
static void put(struct out *o, const void *p, size_t n);

/* Extensions the grammar allows: BWS only before ";" and "=". */
static const char *const exts[16] = {
    "", "", ";a", ";a=b", " ;a", "\t; ext = val", ";a=\"\"",
    ";a=\"q \\\" \\\\ x\"", ";n=\"\x80\xff\"", ";a;b;c", ";a=1;b=\"2\";c",
    ";!#$%&'*+-.^_`|~=~", " \t ;x\t=\t\"y\"", ";a=\"\\\t\"", ";a=b ;c",
    ";a=\"b\" ; c",
};

/* Trailer sections without their final CRLF. */
static const char *const trailers[8] = {
    "", "", "X: y\r\n", "Checksum: abc \t def\r\n", "A:\r\n",
    "a-b:  v\r\nc: d\r\n", "X:\x80\xff\r\n", "!#$%&'*+-.^_`|~:x\r\n",
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = { data, size };
    struct decoded whole;
    uint8_t mode = fuzz_byte(&in);
    size_t first = (size_t)fuzz_uint(&in, 2);
    size_t step = fuzz_byte(&in);

    if (mode & 1) {
        encode_mode(&in, first, step);
        return 0;
    }
    check_both((const char *)in.p, in.n, first % (in.n + 1), step,
               &whole);
    free(whole.data);
    return 0;
}

/* Whole and in pieces, with the same answer. */
static void
check_both(const char *body, size_t n, size_t first, size_t step,
           struct decoded *whole)
{
    struct decoded pieces;

    decode_whole(body, n, whole);
    decode_pieces(body, n, first, step, &pieces);
    check_same(whole, &pieces);
    free(pieces.data);
}

/* One call on an exact copy; after it has ended, more input changes nothing. */
static void
decode_whole(const char *body, size_t n, struct decoded *d)
{
    struct chunked c;
    size_t used, len;

    d->data = fuzz_copy(body, n);
    chunked_init(&c);
    d->result = chunked_decode(&c, d->data, n, &d->used, &d->data_len);
    FUZZ_CHECK(d->used <= n && d->data_len <= d->used);
    FUZZ_CHECK(d->result != CHUNKED_MORE || d->used == n);
    FUZZ_CHECK(d->result != CHUNKED_DONE || d->used >= 5);
    FUZZ_CHECK(d->result != CHUNKED_ERROR || d->used >= 1);

    if (d->result != CHUNKED_MORE && d->used < n) {
        char *rest = fuzz_copy(body + d->used, n - d->used);

        FUZZ_CHECK(chunked_decode(&c, rest, n - d->used, &used, &len) ==
                   d->result);
        FUZZ_CHECK(used == 0 && len == 0);
        free(rest);
    }
}

/*
 * FIRST bytes (0: an empty call), then pieces of STEP bytes (all the rest
 * if STEP is 0), until the decoder stops asking for more.
 */
static void
decode_pieces(const char *body, size_t n, size_t first, size_t step,
              struct decoded *d)
{
    struct chunked c;
    size_t pos = 0, len, used;
    bool started = false;

    d->data = malloc(n > 0 ? n : 1);
    d->data_len = 0;
    d->used = 0;
    d->result = CHUNKED_MORE;
    chunked_init(&c);
    while (pos < n && d->result == CHUNKED_MORE) {
        len = !started ? first : step == 0 ? n - pos : step;
        started = true;
        if (len > n - pos)
            len = n - pos;
        used = decode_piece(&c, body + pos, len, d);
        FUZZ_CHECK(d->result != CHUNKED_MORE || used == len);
        pos += len;
    }
}

/* One piece in a block of its own; its data is added to D's. */
static size_t
decode_piece(struct chunked *c, const char *src, size_t n,
             struct decoded *d)
{
    char *piece = fuzz_copy(src, n);
    size_t used, len;

    d->result = chunked_decode(c, piece, n, &used, &len);
    FUZZ_CHECK(used <= n && len <= used);
    memcpy(d->data + d->data_len, piece, len);
    d->data_len += len;
    d->used += used;
    free(piece);
    return used;
}

static void
check_same(const struct decoded *a, const struct decoded *b)
{
    FUZZ_CHECK(a->result == b->result);
    FUZZ_CHECK(a->used == b->used);
    FUZZ_CHECK(a->data_len == b->data_len);
    FUZZ_CHECK(memcmp(a->data, b->data, a->data_len) == 0);
}

/* A valid body must decode to its data and stop where it ends. */
static void
encode_mode(struct fuzz_in *in, size_t first, size_t step)
{
    struct out o = { NULL, 0, 256 + 64 * in->n };
    struct out data = { NULL, 0, in->n + 1 };
    struct decoded whole;
    size_t body_len;

    o.buf = malloc(o.cap);
    data.buf = malloc(data.cap);
    body_len = encode(in, &o, &data);
    put(&o, "GET / HTTP/1.1\r\n", 16);     /* the next request */

    check_both(o.buf, o.len, first % (o.len + 1), step, &whole);
    FUZZ_CHECK(whole.result == CHUNKED_DONE);
    FUZZ_CHECK(whole.used == body_len);
    FUZZ_CHECK(whole.data_len == data.len);
    FUZZ_CHECK(memcmp(whole.data, data.buf, data.len) == 0);
    free(whole.data);
    free(o.buf);
    free(data.buf);
}

/*
 * Chunks while the input lasts: a length byte (0 ends), a style byte,
 * then that many data bytes.  Then the last chunk and a trailer section.
 * Returns the body's length.
 */
static size_t
encode(struct fuzz_in *in, struct out *o, struct out *data)
{
    uint8_t len, style;

    while (in->n >= 2 && (len = fuzz_byte(in)) != 0)
        put_chunk(in, o, data, len);

    style = fuzz_byte(in);
    put_size(o, 0, style);
    put(o, exts[style >> 4], strlen(exts[style >> 4]));
    put(o, "\r\n", 2);
    style = fuzz_byte(in);
    put(o, trailers[style & 7], strlen(trailers[style & 7]));
    put(o, "\r\n", 2);
    return o->len;
}

static void
put_chunk(struct fuzz_in *in, struct out *o, struct out *data, uint8_t len)
{
    uint8_t style = fuzz_byte(in);
    size_t n = len < in->n ? len : in->n;

    if (n == 0)
        return;
    put_size(o, n, style);
    put(o, exts[style >> 4], strlen(exts[style >> 4]));
    put(o, "\r\n", 2);
    put(o, in->p, n);
    put(data, in->p, n);
    put(o, "\r\n", 2);
    in->p += n;
    in->n -= n;
}

/* Hex, with up to seven leading zeros, upper or lower case. */
static void
put_size(struct out *o, size_t size, uint8_t style)
{
    const char *digits = style & 8 ? "0123456789ABCDEF" : "0123456789abcdef";
    char hex[16];
    size_t i = sizeof hex, zeros = style & 7;

    do {
        hex[--i] = digits[size & 15];
        size >>= 4;
    } while (size != 0);
    while (zeros-- > 0 && i > 0)
        hex[--i] = '0';
    put(o, hex + i, sizeof hex - i);
}

static void
put(struct out *o, const void *p, size_t n)
{
    FUZZ_CHECK(o->len + n <= o->cap);       /* the harness's own bound */
    memcpy(o->buf + o->len, p, n);
    o->len += n;
}
