/*
 * range.h: Range requests (RFC 9110 section 14) planned against a size.
 *
 * Pure functions on strings and numbers: the caller has parsed the head
 * and stat'ed the file; this decides which bytes to send.
 */
#ifndef FERRY_RANGE_H
#define FERRY_RANGE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Most parts a multipart/byteranges answer may have after merging.  More
 * than this and the Range is ignored (a full 200): a request must never be
 * able to multiply the response or our work.
 */
#define RANGE_MAX_PARTS 32

/* Inclusive byte positions, as in Content-Range. */
struct byte_range {
    uint64_t first;
    uint64_t last;
};

enum range_outcome {
    RANGE_IGNORE,         /* absent, invalid, not "bytes", too many: 200 */
    RANGE_PARTIAL,        /* *count ranges, sorted, merged: 206 */
    RANGE_UNSATISFIABLE,  /* none overlaps the representation: 416 */
};

/*
 * Plan the Range field value S (LEN bytes) against a representation of
 * SIZE bytes.  Suffix ("-500") and open ("9500-") ranges are resolved;
 * overlapping or adjacent ranges are merged and the result sorted.  OUT
 * has room for RANGE_MAX_PARTS entries; *COUNT is set on RANGE_PARTIAL.
 */
enum range_outcome range_plan(const char *s, size_t len, uint64_t size,
                              struct byte_range *out, size_t *count);

#endif /* FERRY_RANGE_H */
