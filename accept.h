/*
 * accept.h: choosing among media types by an Accept field.
 *
 * RFC 9110 12.5.1 content negotiation over a caller's short list of
 * types.  Pure: reads only the bytes it is given, allocates nothing.
 */
#ifndef FERRY_ACCEPT_H
#define FERRY_ACCEPT_H

#include <stddef.h>

/* Scores live on the stack, one per type; callers offer a handful. */
#define ACCEPT_MAX_TYPES 8

/* A media type offered to accept_pick, lowercase: "text", "html". */
struct accept_type {
    const char *type, *subtype;
};

/*
 * The index into TYPES (NTYPES of them, 1 to ACCEPT_MAX_TYPES) that the
 * Accept field value ACCEPT of LEN bytes prefers by q-value.  Only LEN
 * bytes are read (ACCEPT may be NULL when LEN is 0).  Ties go to the
 * earlier type; 0 when the field is absent, malformed, accepts none of
 * TYPES, or NTYPES is out of range.
 */
size_t accept_pick(const char *accept, size_t len,
                   const struct accept_type *types, size_t ntypes);

#endif /* FERRY_ACCEPT_H */
