/*
 * response.c: a planned response, sent piece by piece.  The position only
 * moves once bytes are sent, so after a TLS write that must be repeated
 * the same bytes are produced again.
 */
#include "response.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "files.h"

ssize_t
response_read(const struct response *res, char *buf, size_t cap)
{
    size_t seg = res->seg, done = 0;
    uint64_t off = res->seg_off;

    while (done < cap && seg < res->nsegs) {
        const struct segment *s = &res->segs[seg];
        uint64_t left = s->len - off;
        size_t want = left < cap - done ? (size_t)left : cap - done;

        if (s->mem != NULL) {
            memcpy(buf + done, s->mem + s->offset + off, want);
        } else {
            ssize_t n = pread(res->fd, buf + done, want,
                              (off_t)(s->offset + off));

            if (n <= 0) {
                if (n == 0)
                    errno = EIO;    /* the file shrank under us */
                return -1;
            }
            want = (size_t)n;
        }
        done += want;
        off += want;
        if (off == s->len) {
            seg++;
            off = 0;
        }
    }
    return (ssize_t)done;
}

void
response_advance(struct response *res, size_t n)
{
    while (n > 0 && res->seg < res->nsegs) {
        struct segment *s = &res->segs[res->seg];
        uint64_t left = s->len - res->seg_off;
        uint64_t step = n < left ? n : left;

        if (res->seg > 0)
            res->sent_body += step;
        res->seg_off += step;
        n -= (size_t)step;
        if (res->seg_off == s->len) {
            res->seg++;
            res->seg_off = 0;
        }
    }
}

bool
response_done(const struct response *res)
{
    return res->seg >= res->nsegs;
}

bool
response_more_after(const struct response *res, size_t n)
{
    size_t seg;
    uint64_t left = 0;

    for (seg = res->seg; seg < res->nsegs && left <= n; seg++)
        left += res->segs[seg].len - (seg == res->seg ? res->seg_off : 0);
    return left > n;
}

void
response_free(struct response *res)
{
    if (res->fd >= 0)
        files_close(res->fd);
    free(res->head);
    free(res->body);
    free(res->segs);
    memset(res, 0, sizeof *res);
    res->fd = -1;
}

int
response_add_file(struct response *res, uint64_t offset, uint64_t len)
{
    if (len == 0)
        return 0;
    if (response_grow(res, 1) == -1)
        return -1;
    res->segs[1] = (struct segment){ NULL, offset, len };
    res->body_len = len;
    return 0;
}

int
response_grow(struct response *res, size_t n)
{
    struct segment *segs = realloc(res->segs, (1 + n) * sizeof *segs);

    if (segs == NULL)
        return -1;
    res->segs = segs;
    res->nsegs = 1 + n;
    return 0;
}
