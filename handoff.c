/*
 * handoff.c: the mailbox of passed-on clients.  A short mutex-guarded
 * queue: a push happens once per accepted client at most, so the lock is
 * never busy; the eventfd wakes the owner's epoll.
 */
#include "handoff.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"

/* Clients waiting at most: past it the acceptor keeps its client. */
#define HANDOFF_MAX 64

struct handoff {
    pthread_mutex_t lock;
    int efd;
    size_t count;
    struct handoff_client waiting[HANDOFF_MAX];
};

static void wake_owner(struct handoff *h);

struct handoff *
handoff_new(void)
{
    struct handoff *h = calloc(1, sizeof *h);

    if (h == NULL)
        return NULL;
    h->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (h->efd == -1) {
        free(h);
        return NULL;
    }
    pthread_mutex_init(&h->lock, NULL);
    return h;
}

void
handoff_free(struct handoff *h)
{
    size_t i;

    if (h == NULL)
        return;
    for (i = 0; i < h->count; i++)
        close(h->waiting[i].fd);
    close(h->efd);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

int
handoff_fd(const struct handoff *h)
{
    return h->efd;
}

bool
handoff_push(struct handoff *h, int fd, const struct sockaddr *peer,
             socklen_t len)
{
    struct handoff_client *c;

    if (len > sizeof c->peer)
        return false;
    pthread_mutex_lock(&h->lock);
    if (h->count == HANDOFF_MAX) {
        pthread_mutex_unlock(&h->lock);
        return false;
    }
    c = &h->waiting[h->count++];
    c->fd = fd;
    c->len = len;
    memcpy(&c->peer, peer, len);
    pthread_mutex_unlock(&h->lock);
    wake_owner(h);
    return true;
}

size_t
handoff_take(struct handoff *h, struct handoff_client *out, size_t cap)
{
    uint64_t count;
    size_t n, left;

    if (read(h->efd, &count, sizeof count) == -1)
        log_debug("handoff: woken with nothing to read");
    pthread_mutex_lock(&h->lock);
    n = h->count < cap ? h->count : cap;
    memcpy(out, h->waiting, n * sizeof *out);
    left = h->count - n;
    memmove(h->waiting, h->waiting + n, left * sizeof *h->waiting);
    h->count = left;
    pthread_mutex_unlock(&h->lock);
    if (left > 0)
        wake_owner(h);          /* the rest on the next turn */
    return n;
}

static void
wake_owner(struct handoff *h)
{
    uint64_t one = 1;

    /* Cannot fail short of a counter near 2^64: the owner reads it. */
    if (write(h->efd, &one, sizeof one) == -1)
        log_warn("handoff: cannot wake a worker");
}
