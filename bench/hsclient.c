/*
 * bench/hsclient.c: the handshake client of bench/bench.py.  New TLS
 * connections to 127.0.0.1:PORT, one GET each, from several processes,
 * each in a loop for a given time: connect, a TLS handshake, GET PATH
 * with Connection: close, read the answer to the last byte its
 * Content-Length announces, close.  On OpenSSL, like curl and wrk, and in
 * C, so that one core of it outruns a server core (a Python client spent
 * 0.9-1.2 ms of CPU per connection here, more than mbedTLS's servers).
 *
 * -m none    no session offered: every handshake is a full one
 * -m ticket  each process offers the session of its last connection, as a
 *            browser does: a session ticket
 * -m id      the same with tickets off (SSL_OP_NO_TICKET): the server must
 *            find the session ID in its cache
 *
 * Whether a handshake resumed is what the client saw (SSL_session_reused),
 * counted among those that offered a session.  The certificate is not
 * checked: that is client work the server does not see.  Prints one JSON
 * object.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define PROCS_MAX       64
#define SECONDS_MAX     600.0
#define IO_TIMEOUT_S    5       /* a stuck server fails the connection */
#define HEAD_MAX        4096    /* of a response head, with its end */
#define READ_BYTES      16384
#define ERROR_MAX       120

enum resume { RESUME_NONE, RESUME_TICKET, RESUME_ID };

struct options {
    unsigned short port;
    const char *path;
    double seconds, rate;       /* rate: connections a second, 0: no cap */
    int procs;
    enum resume resume;
};

/* What one process did; sent whole through a pipe to the parent. */
struct tally {
    long done, offered, resumed, errors;    /* offered: a session */
    char first_error[ERROR_MAX];
};

static int parse_args(int argc, char **argv, struct options *o);
static int parse_double(const char *arg, double min, double max,
                        double *out);
static int run_procs(const struct options *o, struct tally *sum,
                     double *seconds);
static void child(const struct options *o, int index, int out_fd);
static void loop(const struct options *o, int index, struct tally *t);
static bool fetch(SSL_CTX *ctx, const struct options *o,
                  SSL_SESSION **session, struct tally *t);
static int tcp_connect(unsigned short port);
static bool read_answer(SSL *ssl, struct tally *t);
static long content_length(const char *head);
static bool failed(struct tally *t, const char *what);
static double now_s(void);
static void sleep_until(double when_s);
static void print_json(const struct tally *t, double seconds);

int
main(int argc, char **argv)
{
    struct options o = { 0, "/4k.bin", 5.0, 0.0, 4, RESUME_NONE };
    struct tally sum;
    double seconds;

    if (parse_args(argc, argv, &o) == -1) {
        fprintf(stderr, "usage: bench-hsclient -p PORT [-P PATH] "
                "[-t SECONDS] [-c PROCS] [-r RATE] [-m none|ticket|id]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);   /* a server's reset is an error counted */
    if (run_procs(&o, &sum, &seconds) == -1)
        return 1;
    print_json(&sum, seconds);
    return 0;
}

static int
parse_args(int argc, char **argv, struct options *o)
{
    double port = 0, procs = 4;
    int c;

    while ((c = getopt(argc, argv, "p:P:t:c:r:m:")) != -1) {
        if ((c == 'p' && parse_double(optarg, 1, 65535, &port) == -1) ||
            (c == 't' && parse_double(optarg, 0.1, SECONDS_MAX,
                                      &o->seconds) == -1) ||
            (c == 'c' && parse_double(optarg, 1, PROCS_MAX, &procs) == -1) ||
            (c == 'r' && parse_double(optarg, 0, 1e6, &o->rate) == -1) ||
            c == '?')
            return -1;
        if (c == 'P')
            o->path = optarg;
        if (c == 'm' && strcmp(optarg, "ticket") == 0)
            o->resume = RESUME_TICKET;
        else if (c == 'm' && strcmp(optarg, "id") == 0)
            o->resume = RESUME_ID;
        else if (c == 'm' && strcmp(optarg, "none") != 0)
            return -1;
    }
    o->port = (unsigned short)port;
    o->procs = (int)procs;
    return port >= 1 && optind == argc ? 0 : -1;
}

/* A number within [MIN, MAX], nothing after it; -1 if not. */
static int
parse_double(const char *arg, double min, double max, double *out)
{
    char *end;

    errno = 0;
    *out = strtod(arg, &end);
    if (errno != 0 || end == arg || *end != '\0' ||
        !(*out >= min && *out <= max))
        return -1;
    return 0;
}

/*
 * Fork the processes, each with a pipe for its tally; add them up.  The
 * wall time is the parent's, from the first fork to the last exit.
 */
static int
run_procs(const struct options *o, struct tally *sum, double *seconds)
{
    int fds[PROCS_MAX], pipefd[2], i, status, rv = 0;
    double start = now_s();
    struct tally t;
    pid_t pid;

    memset(sum, 0, sizeof *sum);
    for (i = 0; i < o->procs; i++) {
        if (pipe(pipefd) == -1 || (pid = fork()) == -1) {
            perror("bench-hsclient: pipe or fork");
            exit(1);            /* the children started end on their own */
        }
        if (pid == 0) {
            close(pipefd[0]);
            child(o, i, pipefd[1]);
        }
        close(pipefd[1]);
        fds[i] = pipefd[0];
    }
    for (i = 0; i < o->procs; i++) {
        if (read(fds[i], &t, sizeof t) != (ssize_t)sizeof t) {
            fprintf(stderr, "bench-hsclient: a process sent no tally\n");
            rv = -1;
        } else {
            sum->done += t.done;
            sum->offered += t.offered;
            sum->resumed += t.resumed;
            sum->errors += t.errors;
            if (sum->first_error[0] == '\0')
                memcpy(sum->first_error, t.first_error, ERROR_MAX);
        }
        close(fds[i]);
    }
    while (wait(&status) > 0)
        ;
    *seconds = now_s() - start;
    return rv;
}

/* One process: its loop, then its tally into OUT_FD; never returns. */
static void
child(const struct options *o, int index, int out_fd)
{
    struct tally t;

    memset(&t, 0, sizeof t);
    loop(o, index, &t);
    if (write(out_fd, &t, sizeof t) != (ssize_t)sizeof t)
        _exit(1);
    _exit(0);
}

static void
loop(const struct options *o, int index, struct tally *t)
{
    double start = now_s(), interval = 0, next;
    SSL_SESSION *session = NULL;
    SSL_CTX *ctx;

    if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
        failed(t, "SSL_CTX_new");
        return;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    if (o->resume == RESUME_ID)
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);

    /* Under a rate, the processes take turns, spread over each interval. */
    if (o->rate > 0)
        interval = o->procs / o->rate;
    next = start + index * interval / o->procs;
    while (now_s() < start + o->seconds) {
        if (interval > 0) {
            sleep_until(next);
            next += interval;
        }
        if (!fetch(ctx, o, o->resume == RESUME_NONE ? NULL : &session, t) &&
            session != NULL) {
            SSL_SESSION_free(session);      /* start again with a full one */
            session = NULL;
        }
    }
    SSL_SESSION_free(session);
    SSL_CTX_free(ctx);
}

/*
 * One connection and one GET; true if a 200 came whole.  With SESSION,
 * offer *SESSION and keep the connection's own session there after.
 */
static bool
fetch(SSL_CTX *ctx, const struct options *o, SSL_SESSION **session,
      struct tally *t)
{
    char request[512];
    bool ok = false, offer = session != NULL && *session != NULL;
    SSL *ssl = NULL;
    int fd, n;

    if ((fd = tcp_connect(o->port)) == -1)
        return failed(t, "connect");
    n = snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: "
                 "localhost:%u\r\nConnection: close\r\n\r\n", o->path,
                 (unsigned)o->port);
    if ((ssl = SSL_new(ctx)) == NULL || SSL_set_fd(ssl, fd) != 1 ||
        SSL_set_tlsext_host_name(ssl, "localhost") != 1 ||
        (offer && SSL_set_session(ssl, *session) != 1))
        failed(t, "SSL_new");
    else if (SSL_connect(ssl) != 1)
        failed(t, "SSL_connect");
    else if (n < 0 || n >= (int)sizeof request ||
             SSL_write(ssl, request, n) != n)
        failed(t, "SSL_write");
    else if (read_answer(ssl, t)) {
        ok = true;
        t->done++;
        t->offered += offer ? 1 : 0;
        t->resumed += SSL_session_reused(ssl) ? 1 : 0;
        if (session != NULL) {
            SSL_SESSION_free(*session);
            *session = SSL_get1_session(ssl);
        }
        /* A close_notify: OpenSSL marks the session of a connection freed
         * without one as not resumable.  The server's is not waited for. */
        SSL_shutdown(ssl);
    }
    SSL_free(ssl);
    close(fd);
    return ok;
}

/* A blocking TCP connection to 127.0.0.1:PORT, no Nagle, with timeouts. */
static int
tcp_connect(unsigned short port)
{
    struct timeval tv = { IO_TIMEOUT_S, 0 };
    struct sockaddr_in sin;
    int fd, one = 1;

    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
        return -1;
    /* As curl and browsers do: else the request, written after the
     * client's last flight, can wait for the server's delayed ACK. */
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == -1 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == -1 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) == -1 ||
        connect(fd, (struct sockaddr *)&sin, sizeof sin) == -1) {
        close(fd);
        return -1;
    }
    return fd;
}

/*
 * Read a 200 to the last byte of its body; false, counted, if not.  The
 * head and the first body bytes come in one read; later reads count.
 */
static bool
read_answer(SSL *ssl, struct tally *t)
{
    char data[HEAD_MAX + READ_BYTES + 1], *end = NULL;
    size_t have = 0;
    long length;
    int n;

    while (end == NULL) {
        if (have > HEAD_MAX)
            return failed(t, "head too long");
        if ((n = SSL_read(ssl, data + have, READ_BYTES)) <= 0)
            return failed(t, "SSL_read");
        have += (size_t)n;
        data[have] = '\0';
        end = strstr(data, "\r\n\r\n");
    }
    if (strncmp(data, "HTTP/1.1 200 ", 13) != 0 ||
        (length = content_length(data)) < 0)
        return failed(t, "not a 200 with a Content-Length");
    length -= (long)(data + have - (end + 4));
    while (length > 0) {
        if ((n = SSL_read(ssl, data, READ_BYTES)) <= 0)
            return failed(t, "SSL_read");
        length -= n;
    }
    return true;
}

/* The Content-Length of a head (lower or mixed case), or -1. */
static long
content_length(const char *head)
{
    const char *p;
    char *end;
    long n;

    for (p = head; (p = strchr(p, '\n')) != NULL; p++) {
        if (strncasecmp(p + 1, "content-length:", 15) != 0)
            continue;
        n = strtol(p + 16, &end, 10);
        return end == p + 16 || n < 0 ? -1 : n;
    }
    return -1;
}

/* Count an error, keep the first one's words; false, for returning. */
static bool
failed(struct tally *t, const char *what)
{
    char ssl_error[ERROR_MAX - 40];     /* room for WHAT before it */
    unsigned long e = ERR_get_error();

    t->errors++;
    if (t->first_error[0] == '\0') {
        if (e != 0)
            ERR_error_string_n(e, ssl_error, sizeof ssl_error);
        snprintf(t->first_error, sizeof t->first_error, "%s: %s", what,
                 e != 0 ? ssl_error : errno != 0 ? strerror(errno) : "?");
    }
    ERR_clear_error();
    return false;
}

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
sleep_until(double when_s)
{
    struct timespec ts;

    ts.tv_sec = (time_t)when_s;
    ts.tv_nsec = (long)((when_s - (double)ts.tv_sec) * 1e9);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
           EINTR)
        ;
}

/* The tally as JSON; the error's words lose any quote or backslash. */
static void
print_json(const struct tally *t, double seconds)
{
    char error[ERROR_MAX];
    size_t i;

    for (i = 0; i < ERROR_MAX && t->first_error[i] != '\0'; i++)
        error[i] = strchr("\"\\", t->first_error[i]) != NULL ||
                   (unsigned char)t->first_error[i] < 0x20 ? '\'' :
                   t->first_error[i];
    error[i < ERROR_MAX ? i : ERROR_MAX - 1] = '\0';
    printf("{\"done\":%ld,\"offered\":%ld,\"resumed\":%ld,"
           "\"errors\":%ld,\"first_error\":\"%s\",\"seconds\":%.3f}\n",
           t->done, t->offered, t->resumed, t->errors, error, seconds);
}
