/*
 * worker.c: a worker's event loop (see worker.h).
 *
 * Deadlines are enforced by a sweep over the worker's connections every
 * SWEEP_MS, or sooner when a connection waits on a timer alone (a refusal
 * held back by the login throttle), so that its wait is not rounded up
 * to the sweep.
 */
#include "worker.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "handoff.h"
#include "http.h"
#include "log.h"
#include "opencache.h"
#include "options.h"
#include "verify.h"

#define EVENTS_PER_WAIT 128
#define ACCEPT_BURST    64      /* new clients per wakeup: fairness */
#define SWEEP_MS        500     /* how often deadlines are checked */
#define DRAIN_MS        5000    /* graceful stop: time for responses */
#define NO_TIMER        UINT64_MAX
#define SILENT_S        2       /* no byte after this long: closed first
                                   when making room */
#define NOTSENT_LOWAT   (128 * 1024)    /* bytes a client may leave unread
                                           in our send queue */
/*
 * Blocks this big get pages of their own, handed back to the system when
 * freed: a client's two TLS record buffers (16,717 bytes each in Debian's
 * mbedTLS 2.28).  From the heap, 1,000 idle TLS clients that had left
 * still held 5-16 MiB, fragmented; this way ferry is back to its idle
 * 3 MiB.  The request-head buffer, made and freed per request, stays
 * below it, on the heap, where reusing it costs no system call.
 */
#define MMAP_FROM_BYTES (HTTP_MAX_HEAD_BYTES + 256)
/*
 * Under AddressSanitizer the heap is ASan's own: glibc's mallopt refuses
 * and its malloc_trim walks an arena nobody set up, and crashes.
 */
#if defined(__SANITIZE_ADDRESS__)
#define GLIBC_HEAP      0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GLIBC_HEAP      0
#endif
#endif
#ifndef GLIBC_HEAP
#define GLIBC_HEAP      1
#endif
#define TRIM_CONNS      64      /* clients gone since the peak before the
                                   freed heap is handed back (~2 MiB) */

/* What the epoll set of a worker holds: a tag says which. */
enum slot_kind {
    SLOT_LISTENER,
    SLOT_WAKE,
    SLOT_CHECKS,
    SLOT_HANDOFF,
    SLOT_CONN,
};

struct slot {
    enum slot_kind kind;
    int fd;
    enum conn_wait wait;        /* SLOT_CONN: what epoll watches now */
    struct conn *conn;
    struct slot *prev, *next;   /* the worker's connections */
};

struct worker {
    pthread_t thread;
    struct worker_shared *shared;
    int epfd;
    struct slot wake;           /* eventfd: the main thread's knock */
    struct slot checks;         /* the sink's eventfd: checks are done */
    struct slot mailbox;        /* the handoff's eventfd: clients wait */
    struct handoff *handoff;    /* clients other workers passed on */
    atomic_size_t load;         /* nconns, for the other workers to read */
    struct slot listeners[OPTIONS_MAX_LISTENERS];
    size_t nlisteners;
    struct slot *conns;         /* newest first */
    struct slot *oldest;        /* the end of that list */
    size_t nconns;              /* the length of that list */
    size_t peak_conns;          /* its most since the heap was trimmed */
    bool paused;                /* listeners unwatched: at --max-conns */
    int spare_fd;               /* given up to shed a client at EMFILE */
    struct conn_ctx ctx;
    uint64_t next_timer_ms;     /* earliest deadline of a timer wait */
    uint64_t stop_deadline_ms;
};

static int worker_init(struct worker *w, const int *fds, size_t nfds);
static int watch_fd(struct worker *w, struct slot *s, uint32_t events);
static void *worker_main(void *arg);
static int wait_ms(const struct worker *w, uint64_t next_sweep);
static void begin_stop(struct worker *w);
static void worker_accept(struct worker *w, struct slot *l);
static struct slot *oldest_idle(const struct worker *w);
static bool make_room(struct worker *w);
static void pause_accepting(struct worker *w, bool pause);
static void add_conn(struct worker *w, int fd, const struct sockaddr *peer,
                     socklen_t len);
static void worker_watch(struct worker *w, struct slot *s,
                         enum conn_wait wait);
static void worker_drop(struct worker *w, struct slot *s);
static void trim_heap(struct worker *w);
static bool pass_on(struct worker *w, int fd, const struct sockaddr *peer,
                    socklen_t len);
static void take_passed_on(struct worker *w);
static void worker_sweep(struct worker *w, bool close_idle);
static void check_done(void *owner, const struct verify_result *r,
                       void *arg);
static uint64_t now_ms(void);

void
worker_heap_init(void)
{
    if (GLIBC_HEAP && mallopt(M_MMAP_THRESHOLD, MMAP_FROM_BYTES) != 1)
        log_warnx("start: mallopt(M_MMAP_THRESHOLD) refused");
}

struct worker *
worker_new(const struct conn_settings *settings,
           struct worker_shared *shared, const int *fds, size_t nfds)
{
    struct worker *w = calloc(1, sizeof *w);

    if (w == NULL)
        return NULL;
    w->shared = shared;
    w->ctx.settings = settings;
    if (worker_init(w, fds, nfds) == -1) {
        worker_free(w);
        return NULL;
    }
    return w;
}

int
worker_start(struct worker *w)
{
    return pthread_create(&w->thread, NULL, worker_main, w) == 0 ? 0 : -1;
}

void
worker_wake(struct worker *w)
{
    uint64_t one = 1;

    if (write(w->wake.fd, &one, sizeof one) == -1)
        log_warn("stop: cannot wake a worker");
}

void
worker_join(struct worker *w)
{
    pthread_join(w->thread, NULL);
}

void
worker_free(struct worker *w)
{
    if (w == NULL)
        return;
    while (w->conns != NULL)
        worker_drop(w, w->conns);
    if (w->epfd > 0)
        close(w->epfd);
    if (w->wake.fd > 0)
        close(w->wake.fd);
    if (w->spare_fd > 0)
        close(w->spare_fd);
    verify_sink_free(w->ctx.checks);
    handoff_free(w->handoff);
    free(w->ctx.scratch);
    free(w);
}

/* Descriptors and buffers; -1 if one is missing (worker_free cleans). */
static int
worker_init(struct worker *w, const int *fds, size_t nfds)
{
    size_t i;

    w->next_timer_ms = NO_TIMER;
    w->ctx.scratch_len = 16384;
    w->ctx.scratch = malloc(w->ctx.scratch_len);
    w->ctx.checks = verify_sink_new();
    w->handoff = handoff_new();
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    w->wake.kind = SLOT_WAKE;
    w->wake.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    w->spare_fd = eventfd(0, EFD_CLOEXEC);
    if (w->ctx.scratch == NULL || w->ctx.checks == NULL ||
        w->handoff == NULL || w->epfd == -1 || w->wake.fd == -1)
        return -1;
    w->checks.kind = SLOT_CHECKS;
    w->checks.fd = verify_sink_fd(w->ctx.checks);
    w->mailbox.kind = SLOT_HANDOFF;
    w->mailbox.fd = handoff_fd(w->handoff);
    if (watch_fd(w, &w->wake, EPOLLIN) == -1 ||
        watch_fd(w, &w->checks, EPOLLIN) == -1 ||
        watch_fd(w, &w->mailbox, EPOLLIN) == -1)
        return -1;
    for (i = 0; i < nfds; i++) {
        w->listeners[i].kind = SLOT_LISTENER;
        w->listeners[i].fd = fds[i];
        if (watch_fd(w, &w->listeners[i], EPOLLIN | EPOLLEXCLUSIVE) == -1)
            return -1;
    }
    w->nlisteners = nfds;
    return 0;
}

static int
watch_fd(struct worker *w, struct slot *s, uint32_t events)
{
    struct epoll_event ev = { 0 };

    ev.events = events;
    ev.data.ptr = s;
    return epoll_ctl(w->epfd, EPOLL_CTL_ADD, s->fd, &ev);
}

/* The event loop of one worker, until the graceful stop is over. */
static void *
worker_main(void *arg)
{
    struct worker *w = arg;
    struct epoll_event events[EVENTS_PER_WAIT];
    uint64_t next_sweep = now_ms() + SWEEP_MS;

    for (;;) {
        int n = epoll_wait(w->epfd, events, EVENTS_PER_WAIT,
                           wait_ms(w, next_sweep)), i;

        w->ctx.now_ms = now_ms();
        for (i = 0; i < n; i++) {
            struct slot *s = events[i].data.ptr;

            if (s->kind == SLOT_LISTENER && !w->ctx.stopping)
                worker_accept(w, s);
            else if (s->kind == SLOT_CONN)
                worker_watch(w, s, conn_run(s->conn, &w->ctx));
            else if (s->kind == SLOT_CHECKS)
                verify_sink_drain(w->ctx.checks, check_done, w);
            else if (s->kind == SLOT_HANDOFF)
                take_passed_on(w);
        }
        if (atomic_load(&w->shared->stopping) && !w->ctx.stopping)
            begin_stop(w);
        if (w->ctx.stopping || w->ctx.now_ms >= next_sweep ||
            w->ctx.now_ms >= w->next_timer_ms) {
            worker_sweep(w, w->ctx.stopping);
            next_sweep = w->ctx.now_ms + SWEEP_MS;
        }
        if (w->ctx.stopping && (w->conns == NULL ||
                                w->ctx.now_ms >= w->stop_deadline_ms))
            break;
    }
    while (w->conns != NULL)
        worker_drop(w, w->conns);
    return NULL;
}

/* How long epoll may sleep: until the next sweep or timer, if sooner. */
static int
wait_ms(const struct worker *w, uint64_t next_sweep)
{
    uint64_t now = now_ms(), until = next_sweep;

    if (w->next_timer_ms < until)
        until = w->next_timer_ms;
    return until <= now ? 0 : (int)(until - now);
}

/* Stop taking clients; the sweep now closes idle ones. */
static void
begin_stop(struct worker *w)
{
    size_t j;

    w->ctx.stopping = true;
    w->stop_deadline_ms = w->ctx.now_ms + DRAIN_MS;
    if (!w->paused)
        for (j = 0; j < w->nlisteners; j++)
            epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->listeners[j].fd, NULL);
    epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->wake.fd, NULL);
}

/* Take new clients, a bounded number per wakeup. */
static void
worker_accept(struct worker *w, struct slot *l)
{
    int burst;

    for (burst = 0; burst < ACCEPT_BURST; burst++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        bool full = atomic_load(&w->shared->open_conns) >=
                    w->shared->max_conns;
        int fd;

        if (full && oldest_idle(w) == NULL) {
            pause_accepting(w, true);
            return;
        }
        fd = accept4(l->fd, (struct sockaddr *)&ss, &len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd == -1) {
            if (errno == EMFILE || errno == ENFILE) {
                /* Out of descriptors: shed this client rather than spin
                 * on a listener that stays readable. */
                close(w->spare_fd);
                fd = accept(l->fd, NULL, NULL);
                if (fd != -1)
                    close(fd);
                w->spare_fd = eventfd(0, EFD_CLOEXEC);
                log_warnx("accept: out of descriptors, client refused");
            } else if (errno != EAGAIN && errno != EINTR &&
                       errno != ECONNABORTED) {
                log_warn("accept");
            }
            return;
        }
        /* Claim a slot; over the limit, free one of ours for it. */
        if (atomic_fetch_add(&w->shared->open_conns, 1) >=
            w->shared->max_conns && !make_room(w)) {
            atomic_fetch_sub(&w->shared->open_conns, 1);
            close(fd);
            return;
        }
        if (!pass_on(w, fd, (struct sockaddr *)&ss, len))
            add_conn(w, fd, (struct sockaddr *)&ss, len);
    }
}

/*
 * Give the client on FD to the worker with the fewest clients, if it has
 * fewer than W: the listeners wake whichever worker waits, often the same
 * one, and four downloads begun at once all landed on one core.
 */
static bool
pass_on(struct worker *w, int fd, const struct sockaddr *peer,
        socklen_t len)
{
    struct worker *least = w;
    size_t least_load = atomic_load_explicit(&w->load, memory_order_relaxed);
    size_t i;

    for (i = 0; i < w->shared->nworkers; i++) {
        struct worker *o = w->shared->workers[i];
        size_t load = atomic_load_explicit(&o->load, memory_order_relaxed);

        if (load < least_load) {
            least = o;
            least_load = load;
        }
    }
    if (least == w || !handoff_push(least->handoff, fd, peer, len))
        return false;
    /* Counted now, so that the next client goes by it too. */
    atomic_fetch_add_explicit(&least->load, 1, memory_order_relaxed);
    return true;
}

/* Clients another worker passed on: ours now. */
static void
take_passed_on(struct worker *w)
{
    struct handoff_client got[16];
    size_t n = handoff_take(w->handoff, got, 16), i;

    for (i = 0; i < n; i++) {
        atomic_fetch_sub_explicit(&w->load, 1, memory_order_relaxed);
        add_conn(w, got[i].fd, (struct sockaddr *)&got[i].peer, got[i].len);
    }
}

/*
 * The client to close first when this worker is full: the one silent
 * longest since it connected, if for over SILENT_S (it has not even sent
 * a ClientHello; one just accepted has had no time to), else the
 * longest-waiting idle one, or NULL.
 */
static struct slot *
oldest_idle(const struct worker *w)
{
    struct slot *s, *idle = NULL;

    for (s = w->oldest; s != NULL; s = s->prev) {
        if (conn_is_silent(s->conn, w->ctx.now_ms, SILENT_S))
            return s;
        if (idle == NULL && conn_is_idle(s->conn))
            idle = s;
    }
    return idle;
}

/* Over --max-conns with a new client taken: close the oldest idle one.
 * Returns false when none is idle. */
static bool
make_room(struct worker *w)
{
    struct slot *s = oldest_idle(w);

    if (s == NULL)
        return false;
    log_debug("accept: at the --max-conns limit (%zu), an idle client "
              "closed to make room", w->shared->max_conns);
    worker_drop(w, s);
    return true;
}

/*
 * Stop or resume watching the listeners.  While every slot is busy,
 * new clients wait in the kernel's backlog instead of being taken and
 * closed; the sweep resumes when a slot is free again.
 */
static void
pause_accepting(struct worker *w, bool pause)
{
    struct epoll_event ev = { 0 };
    size_t i;

    if (w->paused == pause || w->ctx.stopping)
        return;
    w->paused = pause;
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    for (i = 0; i < w->nlisteners; i++) {
        ev.data.ptr = &w->listeners[i];
        if (pause)
            epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->listeners[i].fd, NULL);
        else if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->listeners[i].fd,
                           &ev) == -1)
            log_warn("accept: cannot watch a listening socket again");
    }
    if (pause)
        log_warnx("accept: %zu clients, none idle: the --max-conns limit; "
                  "new clients wait", w->shared->max_conns);
}

/* Make a connection for accepted FD and watch it. */
static void
add_conn(struct worker *w, int fd, const struct sockaddr *peer,
         socklen_t len)
{
    struct slot *s = calloc(1, sizeof *s);
    int lowat = NOTSENT_LOWAT;

    /* Without it the kernel grows a slow reader's send buffer to 4 MiB,
     * and 500 such readers had us encrypt and queue 620 MiB, stalling
     * everyone (slowhttptest -X); with it, 55 MiB and no stall. */
    if (setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat,
                   sizeof lowat) == -1)
        log_debug("accept: TCP_NOTSENT_LOWAT: %s", strerror(errno));
    if (s != NULL)
        s->conn = conn_new(fd, peer, len, &w->ctx, s);
    if (s == NULL || s->conn == NULL) {
        free(s);
        close(fd);
        atomic_fetch_sub(&w->shared->open_conns, 1);
        return;
    }
    s->kind = SLOT_CONN;
    s->fd = fd;
    s->wait = CONN_WAIT_READ;
    if (watch_fd(w, s, EPOLLIN) == -1) {
        conn_free(s->conn);
        free(s);
        atomic_fetch_sub(&w->shared->open_conns, 1);
        return;
    }
    s->next = w->conns;
    if (w->conns != NULL)
        w->conns->prev = s;
    else
        w->oldest = s;
    w->conns = s;
    if (++w->nconns > w->peak_conns)
        w->peak_conns = w->nconns;
    atomic_fetch_add_explicit(&w->load, 1, memory_order_relaxed);
}

/* Watch what S's connection waits for now (nothing for a timer), or drop
 * it when it is done. */
static void
worker_watch(struct worker *w, struct slot *s, enum conn_wait wait)
{
    struct epoll_event ev = { 0 };

    if (wait == CONN_DONE) {
        worker_drop(w, s);
        return;
    }
    if (wait == CONN_WAIT_TIMER && conn_deadline_ms(s->conn) <
                                   w->next_timer_ms)
        w->next_timer_ms = conn_deadline_ms(s->conn);
    if (wait == s->wait)
        return;
    /* A timer wait watches for the client hanging up, once (edge): what
     * it may have sent meanwhile is read only when the wait is over. */
    ev.events = wait == CONN_WAIT_READ ? EPOLLIN :
                wait == CONN_WAIT_WRITE ? EPOLLOUT : EPOLLRDHUP | EPOLLET;
    ev.data.ptr = s;
    if (epoll_ctl(w->epfd, EPOLL_CTL_MOD, s->fd, &ev) == -1) {
        log_warn("epoll: cannot watch a client");
        worker_drop(w, s);
        return;
    }
    s->wait = wait;
}

static void
worker_drop(struct worker *w, struct slot *s)
{
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        w->conns = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    else
        w->oldest = s->prev;
    conn_free(s->conn);         /* closing the socket leaves the epoll set */
    free(s);
    w->nconns--;
    atomic_fetch_sub_explicit(&w->load, 1, memory_order_relaxed);
    atomic_fetch_sub(&w->shared->open_conns, 1);
    trim_heap(w);
}

/*
 * glibc keeps what a crowd of clients freed (33 KiB of TLS buffers each)
 * in this thread's heap for reuse: 1,000 idle TLS clients that left kept
 * ferry at 37 MiB instead of 3.  Once many are gone, hand it back.
 * Checked as each one leaves: once the last have gone, no timer may come.
 */
static void
trim_heap(struct worker *w)
{
    if (!GLIBC_HEAP || w->peak_conns - w->nconns < TRIM_CONNS)
        return;
    malloc_trim(0);
    w->peak_conns = w->nconns;
}

/*
 * Drop clients past their deadline (a held-back answer goes out instead);
 * while stopping, idle ones too.  Notes the earliest deadline of those
 * that still wait on a timer alone, and takes new clients again once
 * below --max-conns.
 */
static void
worker_sweep(struct worker *w, bool close_idle)
{
    struct slot *s = w->conns, *next;

    /* A client that finished and waits idle can make room too. */
    if (w->paused && (atomic_load(&w->shared->open_conns) <
                      w->shared->max_conns || oldest_idle(w) != NULL))
        pause_accepting(w, false);
    w->next_timer_ms = NO_TIMER;
    for (; s != NULL; s = next) {
        next = s->next;
        if (w->ctx.now_ms >= conn_deadline_ms(s->conn))
            worker_watch(w, s, conn_expire(s->conn, &w->ctx));
        else if (close_idle && conn_is_idle(s->conn))
            worker_drop(w, s);
        else if (s->wait == CONN_WAIT_TIMER &&
                 conn_deadline_ms(s->conn) < w->next_timer_ms)
            w->next_timer_ms = conn_deadline_ms(s->conn);
    }
    opencache_sweep();
}

/* A password check came back for the connection in slot OWNER. */
static void
check_done(void *owner, const struct verify_result *r, void *arg)
{
    struct worker *w = arg;
    struct slot *s = owner;

    w->ctx.now_ms = now_ms();
    worker_watch(w, s, conn_checked(s->conn, &w->ctx, r));
}

static uint64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
