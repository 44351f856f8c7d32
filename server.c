/*
 * server.c: listening sockets, privilege drop, and the workers' event
 * loops; the command line is read by options.c.
 *
 * One worker thread per CPU, each with its own epoll set holding the
 * shared listening sockets (EPOLLEXCLUSIVE: one worker wakes per new
 * client) and its own connections.  No thread per connection: a client is
 * a conn (conn.c) that runs only when its socket is ready.  The main
 * thread sets up, then waits for signals and conducts the graceful stop.
 */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "files.h"
#include "log.h"
#include "mime.h"
#include "options.h"
#include "tidy.h"
#include "tls.h"

#define LISTEN_BACKLOG  4096
#define EVENTS_PER_WAIT 128
#define ACCEPT_BURST    64      /* new clients per wakeup: fairness */
#define SWEEP_MS        500     /* how often deadlines are checked */
#define DRAIN_MS        5000    /* graceful stop: time for responses */
#define FD_RESERVE      64      /* descriptors kept for files, logs */

/* What the epoll set of a worker holds: a tag says which. */
enum slot_kind {
    SLOT_LISTENER,
    SLOT_WAKE,
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
    int epfd;
    struct slot wake;           /* eventfd: the main thread's knock */
    struct slot listeners[OPTIONS_MAX_LISTENERS];
    size_t nlisteners;
    struct slot *conns;
    int spare_fd;               /* given up to shed a client at EMFILE */
    struct conn_ctx ctx;
    uint64_t stop_deadline_ms;
};

static atomic_size_t open_conns;
static atomic_bool stopping;
static size_t max_conns;

static size_t bind_all(const struct options *o, int *fds);
static size_t bind_one(const char *host, uint16_t port, int *fds,
                       size_t room);
static int listen_on(const struct addrinfo *ai, uint16_t port);
static void make_gate(struct options *o, struct gate *g);
static void block_signals(sigset_t *sigs);
static struct tls_server *make_tls(const struct options *o);
static void clean_stale(const struct files_root *root);
static void start_workers(struct worker *workers, const struct options *o,
                          const int *fds, size_t nfds);
static void serve_until_stop(const sigset_t *sigs, struct gate *gate,
                             struct tls_server *tls);
static void stop_workers(struct worker *workers, size_t n);
static void raise_fd_limit(void);
static void drop_privileges(const struct files_root *root,
                            const struct passwd *pw);
static void announce(const struct options *o, const char *dir,
                     const int *fds, size_t nfds, struct tls_server *tls);
static int worker_init(struct worker *w, const struct options *o,
                       const int *fds, size_t nfds);
static void *worker_main(void *arg);
static void worker_accept(struct worker *w, struct slot *l);
static void worker_run_conn(struct worker *w, struct slot *s);
static void worker_watch(struct worker *w, struct slot *s,
                         enum conn_wait wait);
static void worker_drop(struct worker *w, struct slot *s);
static void worker_sweep(struct worker *w, bool close_idle);
static void worker_free(struct worker *w);
static uint64_t now_ms(void);

int
main(int argc, char **argv)
{
    static struct worker workers[OPTIONS_MAX_WORKERS];
    static struct gate gate;
    struct files_root root = { -1, false };
    struct tls_server *tls;
    struct passwd *pw = NULL;
    struct options o;
    int fds[OPTIONS_MAX_LISTENERS];
    char dir[PATH_MAX];
    size_t nfds, i;
    sigset_t sigs;

    options_parse(argc, argv, &o);
    log_init(o.verbose, !o.quiet);
    if (realpath(o.dir, dir) == NULL)
        fatal("start: cannot serve %s", o.dir);
    block_signals(&sigs);

    /* Everything that needs the world outside DIR happens before chroot. */
    raise_fd_limit();
    if (o.max_conns != 0 && o.max_conns < max_conns)
        max_conns = (size_t)o.max_conns;
    if (mime_load("/etc/mime.types") == -1)
        log_debug("mime: /etc/mime.types not read, using built-in types");
    tzset();
    if (geteuid() == 0 && (pw = getpwnam(o.user)) == NULL)
        fatalx("privileges: no user %s (set another with --user)", o.user);
    make_gate(&o, &gate);
    tls = make_tls(&o);
    nfds = bind_all(&o, fds);
    if (files_root_open(&root, dir, o.hidden) == -1)
        fatal("start: cannot open %s", dir);
    if (pw != NULL)
        drop_privileges(&root, pw);
    if (o.writable)
        clean_stale(&root);

    o.settings.tls = tls;
    o.settings.root = &root;
    o.settings.gate = &gate;
    start_workers(workers, &o, fds, nfds);
    announce(&o, dir, fds, nfds, tls);
    serve_until_stop(&sigs, &gate, tls);
    stop_workers(workers, o.workers);

    for (i = 0; i < nfds; i++)
        close(fds[i]);
    files_root_close(&root);
    tls_server_free(tls);
    gate_free(&gate);
    mime_free();
    log_info("stop: done");
    return 0;
}

/* Signals go to the main thread only, through sigwait. */
static void
block_signals(sigset_t *sigs)
{
    sigemptyset(sigs);
    sigaddset(sigs, SIGINT);
    sigaddset(sigs, SIGTERM);
    sigaddset(sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* The TLS server from --cert/--key/--client-ca, or our own identity. */
static struct tls_server *
make_tls(const struct options *o)
{
    struct tls_options tls_opts = { 0 };
    struct tls_server *tls;

    tls_opts.cert_path = o->cert;
    tls_opts.key_path = o->key;
    tls_opts.client_ca_path = o->client_ca;
    if ((tls = tls_server_new(&tls_opts)) == NULL)
        exit(1);                /* tls_server_new said why */
    return tls;
}

/* Remove what uploads cut short by a killed server left behind. */
static void
clean_stale(const struct files_root *root)
{
    size_t stale = upload_clean_stale(root);

    if (stale > 0)
        log_info("upload: removed %zu unfinished upload(s) left by an "
                 "earlier run", stale);
}

static void
start_workers(struct worker *workers, const struct options *o,
              const int *fds, size_t nfds)
{
    size_t i;

    for (i = 0; i < o->workers; i++)
        if (worker_init(&workers[i], o, fds, nfds) == -1)
            fatal("start: worker %zu", i);
    for (i = 0; i < o->workers; i++)
        if (pthread_create(&workers[i].thread, NULL, worker_main,
                           &workers[i]) != 0)
            fatalx("start: cannot start worker threads");
}

/* Reload on SIGHUP until SIGINT or SIGTERM asks us to stop. */
static void
serve_until_stop(const sigset_t *sigs, struct gate *gate,
                 struct tls_server *tls)
{
    int sig;

    for (;;) {
        if (sigwait(sigs, &sig) != 0)
            continue;
        if (sig != SIGHUP)
            break;
        log_info("signal: SIGHUP, reloading the user file and the "
                 "certificate");
        gate_reload_users(gate);
        tls_server_reload(tls);
    }
    log_info("signal: %s, finishing responses in flight and stopping",
             sig == SIGINT ? "SIGINT" : "SIGTERM");
}

/* Graceful stop: every worker finishes what it can, then ends. */
static void
stop_workers(struct worker *workers, size_t n)
{
    uint64_t one = 1;
    size_t i;

    atomic_store(&stopping, true);
    for (i = 0; i < n; i++)
        if (write(workers[i].wake.fd, &one, sizeof one) == -1)
            log_warn("stop: cannot wake worker %zu", i);
    for (i = 0; i < n; i++) {
        pthread_join(workers[i].thread, NULL);
        worker_free(&workers[i]);
    }
}

/* Bind every -b address, or all addresses (one dual-stack socket). */
static size_t
bind_all(const struct options *o, int *fds)
{
    uint16_t port = o->port;
    size_t n = 0, i;

    if (o->nbinds == 0) {
        n = bind_one("::", port, fds, OPTIONS_MAX_LISTENERS);
        if (n == 0)
            n = bind_one("0.0.0.0", port, fds, OPTIONS_MAX_LISTENERS);
        if (n == 0)
            fatal("listen: cannot listen on port %u", port);
        return n;
    }
    for (i = 0; i < o->nbinds; i++) {
        size_t got = bind_one(o->binds[i], port, fds + n,
                              OPTIONS_MAX_LISTENERS - n);
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;

        if (got == 0)
            fatal("listen: cannot listen on %s port %u", o->binds[i], port);
        /* With --port 0 every address shares the first one's port. */
        if (port == 0 && getsockname(fds[n], (struct sockaddr *)&ss,
                                     &len) == 0)
            port = ntohs(ss.ss_family == AF_INET6 ?
                         ((struct sockaddr_in6 *)&ss)->sin6_port :
                         ((struct sockaddr_in *)&ss)->sin_port);
        n += got;
    }
    return n;
}

/* Listen on every address HOST resolves to; returns how many. */
static size_t
bind_one(const char *host, uint16_t port, int *fds, size_t room)
{
    struct addrinfo hints = { 0 }, *res, *ai;
    char name[256];
    size_t n = 0, len = strlen(host);
    int rv;

    /* Accept "[::1]" as well as "::1". */
    if (len >= 2 && host[0] == '[' && host[len - 1] == ']' &&
        len - 2 < sizeof name) {
        memcpy(name, host + 1, len - 2);
        name[len - 2] = '\0';
        host = name;
    }
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    rv = getaddrinfo(host, NULL, &hints, &res);
    if (rv != 0) {
        log_warnx("listen: %s: %s", host, gai_strerror(rv));
        return 0;
    }
    for (ai = res; ai != NULL && n < room; ai = ai->ai_next) {
        int fd = listen_on(ai, port);

        if (fd != -1)
            fds[n++] = fd;
    }
    freeaddrinfo(res);
    return n;
}

/* One non-blocking listening socket; "::" also takes IPv4. */
static int
listen_on(const struct addrinfo *ai, uint16_t port)
{
    int fd, on = 1, v6only;
    struct sockaddr_storage ss;

    memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
    if (ss.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
    else
        ((struct sockaddr_in *)&ss)->sin_port = htons(port);
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1)
        return -1;
    v6only = !IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&ss)->sin6_addr);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) == -1 ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) == -1 ||
        (ss.ss_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only,
                    sizeof v6only) == -1) ||
        bind(fd, (struct sockaddr *)&ss, ai->ai_addrlen) == -1 ||
        listen(fd, LISTEN_BACKLOG) == -1) {
        log_warn("listen: port %u", port);
        close(fd);
        return -1;
    }
    return fd;
}

/*
 * Who may do what: the roles from the options and, with --auth, the user
 * file (read now, before any chroot), the login cache and the failure
 * throttle.  A user file that does not load ends start-up.
 */
static void
make_gate(struct options *o, struct gate *g)
{
    char err[AUTH_ERR_CAP];
    struct roles roles = { 0 };

    roles.auth = o->auth_path != NULL || o->client_ca != NULL;
    roles.public_read = o->public_read;
    roles.writable = o->writable;
    roles.drop_box = o->drop_box;
    if (o->writers != NULL && roles_parse_writers(&roles, o->writers))
        fatalx("auth: --writers wants names separated by commas (at most "
               "%d)", ROLES_MAX_WRITERS);
    if (gate_init(g, &roles, o->auth_path, err) == -1)
        fatalx("%s", err);
    if (o->auth_path != NULL)
        log_info("auth: %zu user(s) from %s", auth_users_count(g->users),
                 o->auth_path);
}

/* Thousands of clients need thousands of descriptors: take the hard limit
 * and size --max-conns to it (a client may hold a socket, and a file, or
 * an upload's folder and temporary file). */
static void
raise_fd_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
            log_warn("start: cannot raise the descriptor limit");
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        max_conns = rl.rlim_cur > 2 * FD_RESERVE ?
                    (size_t)(rl.rlim_cur - FD_RESERVE) / 3 : FD_RESERVE / 3;
}

/*
 * Started as root: make DIR the root directory and become USER, each step
 * checked, then prove that root cannot be regained.
 */
static void
drop_privileges(const struct files_root *root, const struct passwd *pw)
{
    if (fchdir(root->fd) == -1 || chroot(".") == -1 || chdir("/") == -1)
        fatal("privileges: cannot chroot into the shared folder");
    if (setgroups(0, NULL) == -1)
        fatal("privileges: setgroups");
    if (setgid(pw->pw_gid) == -1)
        fatal("privileges: setgid %u", (unsigned)pw->pw_gid);
    if (setuid(pw->pw_uid) == -1)
        fatal("privileges: setuid %u", (unsigned)pw->pw_uid);
    if (pw->pw_uid == 0) {
        log_warnx("privileges: --user %s keeps root rights", pw->pw_name);
        return;
    }
    if (setuid(0) != -1 || seteuid(0) != -1)
        fatalx("privileges: root could be regained after dropping to %s",
               pw->pw_name);
    log_info("privileges: chrooted into the shared folder, running as %s",
             pw->pw_name);
}

/* The start-up lines: where, what, and how to trust it. */
static void
announce(const struct options *o, const char *dir, const int *fds,
         size_t nfds, struct tls_server *tls)
{
    unsigned port = 0;
    bool wildcard = false;
    size_t i;

    log_info("serving %s (%s%s%s)", dir,
             o->drop_box ? "drop box" :
             o->writable ? "uploads allowed" : "read-only",
             o->hidden ? ", dotfiles shown" : "",
             o->auth_path == NULL ? "" :
             o->public_read ? ", logins for writing" : ", logins required");
    for (i = 0; i < nfds; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        char host[NI_MAXHOST];

        if (getsockname(fds[i], (struct sockaddr *)&ss, &len) == -1 ||
            getnameinfo((struct sockaddr *)&ss, len, host, sizeof host,
                        NULL, 0, NI_NUMERICHOST) != 0)
            continue;
        port = ntohs(ss.ss_family == AF_INET6 ?
                     ((struct sockaddr_in6 *)&ss)->sin6_port :
                     ((struct sockaddr_in *)&ss)->sin_port);
        if (strcmp(host, "::") == 0 || strcmp(host, "0.0.0.0") == 0)
            wildcard = true;
        if (ss.ss_family == AF_INET6)
            log_info("listening on https://[%s]:%u/%s", host, port,
                     strcmp(host, "::") == 0 ? " (all addresses)" : "");
        else
            log_info("listening on https://%s:%u/%s", host, port,
                     strcmp(host, "0.0.0.0") == 0 ? " (all addresses)" : "");
    }
    if (wildcard) {
        char host[256] = "";

        if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0')
            snprintf(host, sizeof host, "this-host");
        log_info("open https://localhost:%u/ here, or https://%s:%u/ from "
                 "other machines", port, host, port);
    }
    log_info("certificate %s sha256 fingerprint %s",
             tls_server_cert_path(tls), tls_server_fingerprint(tls));
    log_info("pin with: curl --pinnedpubkey '%s' -k https://localhost:%u/",
             tls_server_pin(tls), port);
}

static int
worker_init(struct worker *w, const struct options *o, const int *fds,
            size_t nfds)
{
    struct epoll_event ev = { 0 };
    size_t i;

    memset(w, 0, sizeof *w);
    w->ctx.settings = &o->settings;
    w->ctx.scratch_len = 16384;
    w->ctx.scratch = malloc(w->ctx.scratch_len);
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    w->wake.kind = SLOT_WAKE;
    w->wake.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    w->spare_fd = eventfd(0, EFD_CLOEXEC);
    if (w->ctx.scratch == NULL || w->epfd == -1 || w->wake.fd == -1)
        return -1;
    ev.events = EPOLLIN;
    ev.data.ptr = &w->wake;
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->wake.fd, &ev) == -1)
        return -1;
    for (i = 0; i < nfds; i++) {
        w->listeners[i].kind = SLOT_LISTENER;
        w->listeners[i].fd = fds[i];
        ev.events = EPOLLIN | EPOLLEXCLUSIVE;
        ev.data.ptr = &w->listeners[i];
        if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fds[i], &ev) == -1)
            return -1;
    }
    w->nlisteners = nfds;
    return 0;
}

/* The event loop of one worker, until the graceful stop is over. */
static void *
worker_main(void *arg)
{
    struct worker *w = arg;
    struct epoll_event events[EVENTS_PER_WAIT];
    uint64_t next_sweep = now_ms() + SWEEP_MS;

    for (;;) {
        int n = epoll_wait(w->epfd, events, EVENTS_PER_WAIT, SWEEP_MS), i;

        w->ctx.now_ms = now_ms();
        for (i = 0; i < n; i++) {
            struct slot *s = events[i].data.ptr;

            if (s->kind == SLOT_LISTENER && !w->ctx.stopping)
                worker_accept(w, s);
            else if (s->kind == SLOT_CONN)
                worker_run_conn(w, s);
        }
        if (atomic_load(&stopping) && !w->ctx.stopping) {
            size_t j;

            w->ctx.stopping = true;
            w->stop_deadline_ms = w->ctx.now_ms + DRAIN_MS;
            for (j = 0; j < w->nlisteners; j++)
                epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->listeners[j].fd, NULL);
            epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->wake.fd, NULL);
        }
        if (w->ctx.stopping || w->ctx.now_ms >= next_sweep) {
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

/* Take new clients, a bounded number per wakeup. */
static void
worker_accept(struct worker *w, struct slot *l)
{
    int burst;

    for (burst = 0; burst < ACCEPT_BURST; burst++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        struct epoll_event ev = { 0 };
        struct slot *s;
        int fd = accept4(l->fd, (struct sockaddr *)&ss, &len,
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
        if (atomic_fetch_add(&open_conns, 1) >= max_conns) {
            atomic_fetch_sub(&open_conns, 1);
            log_debug("accept: %zu clients already, one refused", max_conns);
            close(fd);
            continue;
        }
        s = calloc(1, sizeof *s);
        if (s != NULL)
            s->conn = conn_new(fd, (struct sockaddr *)&ss, len, &w->ctx);
        if (s == NULL || s->conn == NULL) {
            free(s);
            close(fd);
            atomic_fetch_sub(&open_conns, 1);
            continue;
        }
        s->kind = SLOT_CONN;
        s->fd = fd;
        s->wait = CONN_WAIT_READ;
        ev.events = EPOLLIN;
        ev.data.ptr = s;
        if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) == -1) {
            conn_free(s->conn);
            free(s);
            atomic_fetch_sub(&open_conns, 1);
            continue;
        }
        s->next = w->conns;
        if (w->conns != NULL)
            w->conns->prev = s;
        w->conns = s;
    }
}

/* Let a connection run; then watch what it waits for, or drop it. */
static void
worker_run_conn(struct worker *w, struct slot *s)
{
    worker_watch(w, s, conn_run(s->conn, &w->ctx));
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
    if (wait == s->wait)
        return;
    ev.events = wait == CONN_WAIT_READ ? EPOLLIN :
                wait == CONN_WAIT_WRITE ? EPOLLOUT : 0;
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
    conn_free(s->conn);         /* closing the socket leaves the epoll set */
    free(s);
    atomic_fetch_sub(&open_conns, 1);
}

/* Drop clients past their deadline; while stopping, idle ones too. */
static void
worker_sweep(struct worker *w, bool close_idle)
{
    struct slot *s = w->conns, *next;

    for (; s != NULL; s = next) {
        next = s->next;
        if (w->ctx.now_ms >= conn_deadline_ms(s->conn))
            worker_watch(w, s, conn_expire(s->conn, &w->ctx));
        else if (close_idle && conn_is_idle(s->conn))
            worker_drop(w, s);
    }
}

static void
worker_free(struct worker *w)
{
    while (w->conns != NULL)
        worker_drop(w, w->conns);
    if (w->epfd > 0)
        close(w->epfd);
    if (w->wake.fd > 0)
        close(w->wake.fd);
    if (w->spare_fd > 0)
        close(w->spare_fd);
    free(w->ctx.scratch);
}

static uint64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
