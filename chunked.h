/*
 * chunked.h: the chunked transfer coding (RFC 9112 section 7.1), decoded.
 *
 * An incremental decoder with no allocation and no I/O: it takes the bytes
 * of a request body as they arrive and hands back the data they carry,
 * strictly: a malformed size line, extension or trailer ends the request
 * with 400, since where the next request starts is then unknown.
 */
#ifndef FERRY_CHUNKED_H
#define FERRY_CHUNKED_H

#include <stddef.h>
#include <stdint.h>

/* Limits on what is not data: longer is refused (400). */
#define CHUNKED_MAX_LINE     4096   /* a chunk-size line with extensions */
#define CHUNKED_MAX_TRAILERS 8192   /* all trailer lines together */

enum chunked_result {
    CHUNKED_MORE,       /* all input used; more is needed */
    CHUNKED_DONE,       /* the last chunk and trailers are complete */
    CHUNKED_ERROR,      /* malformed: answer 400 and close */
};

struct chunked {
    int state;
    uint64_t chunk_left;        /* data bytes left in this chunk */
    size_t line_len;            /* bytes of the current line so far */
    size_t trailer_len;
    unsigned digits;            /* hex digits of the size so far */
    int ext_state;
};

/* Start decoding a new body. */
void chunked_init(struct chunked *c);

/*
 * Decode the LEN bytes at BUF in place: the data they carry is moved to
 * the front of BUF and its length stored in *DATA_LEN (never more than
 * LEN).  *USED is set to the input bytes that belong to the body; after
 * CHUNKED_DONE the bytes past it are the next request's.  Call again with
 * new bytes after CHUNKED_MORE; state is kept in C.
 */
enum chunked_result chunked_decode(struct chunked *c, char *buf, size_t len,
                                   size_t *used, size_t *data_len);

#endif /* FERRY_CHUNKED_H */
