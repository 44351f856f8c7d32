/*
 * worker.h: one event loop on its own thread.
 *
 * One worker per CPU, each with its own epoll set holding the shared
 * listening sockets (EPOLLEXCLUSIVE: one worker wakes per new client),
 * its own connections, and the eventfd where its password checks come
 * back.  No thread per connection: a client is a conn (conn.c) that runs
 * only when its socket is ready or its deadline has come.
 */
#ifndef FERRY_WORKER_H
#define FERRY_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "conn.h"

/* What every worker shares; set up by main before the first starts. */
struct worker_shared {
    atomic_size_t open_conns;       /* clients of all workers */
    size_t max_conns;               /* --max-conns */
    atomic_bool stopping;           /* graceful stop under way */
    struct worker **workers;        /* all of them, to pass clients on */
    size_t nworkers;                /* set before any worker starts */
};

struct worker;

/*
 * Set how the heap serves clients' buffers; call before any thread
 * starts.
 */
void worker_heap_init(void);

/*
 * A worker serving the listening sockets FDS (NFDS of them) with
 * SETTINGS, and SHARED with the others.  Not running yet.  Returns NULL
 * on failure (out of memory or descriptors).
 */
struct worker *worker_new(const struct conn_settings *settings,
                          struct worker_shared *shared, const int *fds,
                          size_t nfds);

/* Start W's thread.  Returns 0, or -1. */
int worker_start(struct worker *w);

/*
 * Tell W that SHARED->stopping is set: it stops taking clients, lets its
 * responses in flight finish for up to 5 s, closes the rest and ends.
 */
void worker_wake(struct worker *w);

/* Wait for W's thread to end. */
void worker_join(struct worker *w);

/* Close W's clients and descriptors and free it; NULL is fine. */
void worker_free(struct worker *w);

#endif /* FERRY_WORKER_H */
