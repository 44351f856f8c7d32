/*
 * response.h: a planned response as the connection sends it: the head,
 * then body segments, each bytes in memory or a range of the open file,
 * pulled record by record.  respond.c plans it; conn.c sends it.
 */
#ifndef FERRY_RESPONSE_H
#define FERRY_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* One piece of the bytes to send: memory, or a range of the open file. */
struct segment {
    const char *mem;        /* NULL for a file range */
    uint64_t offset;        /* file offset, or offset into mem */
    uint64_t len;
};

struct response {
    int status;
    bool close_after;       /* send Connection: close and close after */
    uint64_t body_len;      /* bytes of content, for the access log */
    int fd;                 /* the file being sent, or -1 */
    char *head;             /* owned */
    char *body;             /* owned memory body or part heads, or NULL */
    struct segment *segs;   /* owned: head first, then the body */
    size_t nsegs;
    size_t seg;             /* position: current segment ... */
    uint64_t seg_off;       /* ... and offset inside it */
    uint64_t sent_body;     /* content bytes sent so far */
};

/* Make room for the head and N body segments.  Returns 0, or -1. */
int response_grow(struct response *res, size_t n);

/* Make LEN bytes of the open file from OFFSET the body (none if LEN is 0).
 * Returns 0, or -1. */
int response_add_file(struct response *res, uint64_t offset, uint64_t len);

/*
 * Copy up to CAP bytes from the current position into BUF without moving
 * it, so the same bytes can be produced again for a repeated TLS write.
 * Returns the count, 0 at the end, or -1 when the file shrank or failed
 * (errno set): the connection must then be dropped.
 */
ssize_t response_read(const struct response *res, char *buf, size_t cap);

/* Move the position N bytes forward. */
void response_advance(struct response *res, size_t n);

/* Whether every byte has been sent. */
bool response_done(const struct response *res);

/* Whether bytes remain after the next N. */
bool response_more_after(const struct response *res, size_t n);

/* Release what RES holds; accepts a zeroed response. */
void response_free(struct response *res);

#endif /* FERRY_RESPONSE_H */
