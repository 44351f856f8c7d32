/*
 * server.c: start-up, listening sockets, privilege drop, signals and the
 * graceful stop; the command line is read by options.c, the event loops
 * are worker.c's.
 *
 * The main thread sets up, starts one worker per CPU (and, with --auth,
 * the password-check threads), then waits for signals: SIGHUP reloads,
 * SIGINT and SIGTERM stop.
 */
#include <errno.h>
#include <fcntl.h>
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
#include "opencache.h"
#include "options.h"
#include "tidy.h"
#include "tls.h"
#include "worker.h"

#define LISTEN_BACKLOG  4096
#define FD_RESERVE      64      /* descriptors kept for files, logs */
#define ACCESS_TEXT_CAP 160     /* the banner's who-may-do-what part */

static struct worker_shared shared;

static size_t bind_all(const struct options *o, int *fds);
static size_t bind_one(const char *host, uint16_t port, int *fds,
                       size_t room);
static int listen_on(const struct addrinfo *ai, uint16_t port);
static void make_gate(struct options *o, struct gate *g);
static void block_signals(sigset_t *sigs);
static struct tls_server *make_tls(const struct options *o);
static void clean_stale(const struct files_root *root);
static void warn_unwritable(const struct files_root *root);
static void start_workers(struct worker **workers, struct gate *gate,
                          const struct options *o, const int *fds,
                          size_t nfds);
static void serve_until_stop(const sigset_t *sigs, struct gate *gate,
                             struct tls_server *tls);
static void stop_workers(struct worker **workers, size_t n,
                         struct gate *gate);
static void raise_fd_limit(unsigned workers);
static void drop_privileges(const struct files_root *root,
                            const struct passwd *pw);
static void announce(const struct options *o, const char *dir,
                     const int *fds, size_t nfds, struct tls_server *tls);
static void describe_access(const struct options *o, char *out,
                            size_t cap);

int
main(int argc, char **argv)
{
    static struct worker *workers[OPTIONS_MAX_WORKERS];
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
    worker_heap_init();
    if (realpath(o.dir, dir) == NULL)
        fatal("start: cannot serve %s", o.dir);
    block_signals(&sigs);

    /* Everything that needs the world outside DIR happens before chroot. */
    raise_fd_limit(o.workers);
    if (o.max_conns != 0 && o.max_conns <= shared.max_conns)
        shared.max_conns = (size_t)o.max_conns;
    else if (o.max_conns != 0)
        log_warnx("start: --max-conns %llu is more than the descriptor "
                  "limit allows (3 per client); taking %zu",
                  (unsigned long long)o.max_conns, shared.max_conns);
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
    if (o.writable) {
        clean_stale(&root);
        warn_unwritable(&root);
    }

    o.settings.tls = tls;
    o.settings.root = &root;
    o.settings.gate = &gate;
    start_workers(workers, &gate, &o, fds, nfds);
    announce(&o, dir, fds, nfds, tls);
    serve_until_stop(&sigs, &gate, tls);
    stop_workers(workers, o.workers, &gate);

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

/*
 * Started as root, ferry writes as --user, who may not own the folder:
 * say so at start rather than through a 403 for every upload.
 */
static void
warn_unwritable(const struct files_root *root)
{
    if (faccessat(root->fd, ".", W_OK | X_OK, AT_EACCESS) == -1)
        log_warnx("upload: uid %u may not write the shared folder itself: "
                  "uploads to its top level will be refused (403)",
                  (unsigned)geteuid());
}

/* The password-check threads (with --auth), then the workers. */
static void
start_workers(struct worker **workers, struct gate *gate,
              const struct options *o, const int *fds, size_t nfds)
{
    char err[AUTH_ERR_CAP];
    size_t i;

    if (gate_start_checks(gate, (unsigned)o->workers, err) == -1)
        fatalx("%s", err);
    for (i = 0; i < o->workers; i++) {
        workers[i] = worker_new(&o->settings, &shared, fds, nfds);
        if (workers[i] == NULL)
            fatal("start: worker %zu", i);
    }
    shared.workers = workers;
    shared.nworkers = o->workers;
    for (i = 0; i < o->workers; i++)
        if (worker_start(workers[i]) == -1)
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

/*
 * Graceful stop: every worker finishes what it can, then ends.  The
 * password checks stop between the two: a check still running delivers
 * its result to its worker's sink, which must still be there.
 */
static void
stop_workers(struct worker **workers, size_t n, struct gate *gate)
{
    size_t i;

    atomic_store(&shared.stopping, true);
    for (i = 0; i < n; i++)
        worker_wake(workers[i]);
    for (i = 0; i < n; i++)
        worker_join(workers[i]);
    gate_stop_checks(gate);
    for (i = 0; i < n; i++)
        worker_free(workers[i]);
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
 * file (read now, before any chroot, through its folder, which stays open
 * for SIGHUP), the login cache and the failure throttle.  A user file
 * that does not load ends start-up.
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
 * an upload's folder and temporary file; each worker keeps a few files
 * open for reuse). */
static void
raise_fd_limit(unsigned workers)
{
    size_t reserve = FD_RESERVE + (size_t)OPENCACHE_SIZE * workers;
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
            log_warn("start: cannot raise the descriptor limit");
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        shared.max_conns = rl.rlim_cur > 2 * reserve ?
                    (size_t)(rl.rlim_cur - reserve) / 3 : reserve / 3;
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
    char who[ACCESS_TEXT_CAP];
    unsigned port = 0;
    bool wildcard = false;
    char bound[NI_MAXHOST + 2] = "";  /* the first address not a wildcard */
    size_t i;

    describe_access(o, who, sizeof who);
    log_info("serving %s (%s%s%s)", dir, who,
             o->client_ca != NULL ? "; client certificates required" : "",
             o->hidden ? "; dotfiles shown" : "");
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
        else if (bound[0] == '\0')     /* the pin line's, below */
            snprintf(bound, sizeof bound, ss.ss_family == AF_INET6 ?
                     "[%s]" : "%s", host);
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
    log_info("pin with: curl --pinnedpubkey '%s' -k https://%s:%u/",
             tls_server_pin(tls), wildcard || bound[0] == '\0' ? "localhost" :
             bound, port);
}

/*
 * Who may read and who may write, as the options make it, for the banner
 * (roles.c decides each request the same way).  --drop-box implies -w.
 */
static void
describe_access(const struct options *o, char *out, size_t cap)
{
    bool users = o->auth_path != NULL || o->client_ca != NULL;
    const char *readers = !users ? (o->drop_box ? "nobody" : "anyone") :
                          o->public_read ? "anyone" : "logged-in users";
    const char *writers = !users ? "anyone" :
                          o->writers != NULL ? "the users in --writers" :
                          "logged-in users";

    if (!o->writable)
        snprintf(out, cap, "read-only; %s may read", readers);
    else if (o->drop_box && !users)
        snprintf(out, cap, "drop box; anyone may add new files, nobody "
                 "may read them");
    else if (o->drop_box && strcmp(readers, writers) == 0)
        snprintf(out, cap, "drop box; anyone may add new files, %s may "
                 "also read, replace and delete them", readers);
    else if (o->drop_box)
        snprintf(out, cap, "drop box; anyone may add new files, %s may "
                 "also read them, %s replace and delete them", readers,
                 writers);
    else if (strcmp(readers, writers) == 0)
        snprintf(out, cap, "uploads allowed; %s may read and write",
                 readers);
    else
        snprintf(out, cap, "uploads allowed; %s may read, %s may write",
                 readers, writers);
}
