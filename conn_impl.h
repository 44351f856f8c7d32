/*
 * conn_impl.h: the inside of a connection, shared by conn.c and
 * conn_body.c only.
 *
 * Receiving a PUT body is its own file, but it steps the same state
 * machine: it reads and changes the connection's state, deadline, input
 * buffer and response, and answers through the same helpers.  This
 * header lets the two files share struct conn while every other module
 * still sees it only as the opaque type of conn.h.  Include it nowhere
 * else.
 */
#ifndef FERRY_CONN_IMPL_H
#define FERRY_CONN_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "access.h"
#include "auth.h"
#include "body.h"
#include "conn.h"
#include "http.h"
#include "respond.h"
#include "tls.h"
#include "verify.h"

enum state {
    ST_PEEK,
    ST_PLAIN,
    ST_HANDSHAKE,
    ST_READ_HEAD,
    ST_CONTINUE,
    ST_READ_BODY,
    ST_DELAY,               /* a refusal held back (login throttle) */
    ST_CHECKING,            /* the head waits for a password check */
    ST_WRITE,
    ST_CLOSE_NOTIFY,
    ST_LINGER,
};

/* What a step wants: go on with the new state, or wait, or stop. */
enum step {
    STEP_AGAIN = -1,
    STEP_READ = CONN_WAIT_READ,
    STEP_WRITE = CONN_WAIT_WRITE,
    STEP_DONE = CONN_DONE,
    STEP_TIMER = CONN_WAIT_TIMER,
};

struct conn {
    int fd;
    enum state state;
    bool head_started;          /* bytes of the next head have arrived */
    bool have_response;
    bool reparse;               /* buffered bytes not parsed yet */
    struct tls_conn *tls;
    uint64_t deadline_ms;
    uint64_t connected_ms;      /* when accepted */
    char *in;                   /* HTTP_MAX_HEAD_BYTES, only while needed */
    size_t in_len;
    size_t pending;             /* length of a TLS write to repeat */
    size_t lingered;
    size_t body_progress;       /* body bytes since the deadline moved */
    struct response res;
    struct body *body;          /* a PUT being received, or NULL */
    size_t head_len;            /* its head, kept at the start of in */
    struct access_line log;     /* the access-log line in the making */
    bool deposit;               /* this request: drop box, new files only */
    bool may_write;             /* this request's client may write, or
                                   could after logging in */
    struct verify_job *job;     /* ST_CHECKING: the password check */
    void *owner;                /* the worker's handle, for the check */
    char user[AUTH_NAME_CAP];   /* this request's verified user, or "" */
    char cert_user[AUTH_NAME_CAP]; /* the client certificate's CN, or "" */
    char host[64];              /* peer address, for the access log */
    char peer[80];              /* "[addr]:port", for diagnostics */
};

/* In conn.c. */

/* Answer STATUS (DETAIL or NULL) to REQ (NULL if unparsed), then close. */
enum step conn_refuse(struct conn *c, struct conn_ctx *ctx,
                      const struct http_request *req, int status,
                      const char *detail);

/* Enter ST_WRITE for the response now planned in C. */
enum step conn_begin_write(struct conn *c, struct conn_ctx *ctx);

/* What respond.c needs to know about the share, and the time now. */
struct respond_env conn_make_env(const struct conn_ctx *ctx);

/* In conn_gate.c. */

/*
 * Ask the gate about REQ (CHECKED: its finished password check, or NULL).
 * Returns true with C->user and C->deposit set when the request may go
 * on; else false with *NEXT: a refusal under way, a refusal held back
 * (ST_DELAY), or a wait for a password check (ST_CHECKING).
 */
bool conn_pass_gate(struct conn *c, struct conn_ctx *ctx,
                    const struct http_request *req, bool keep,
                    const struct verify_result *checked, enum step *next);

/* ST_DELAY and ST_CHECKING: watch for nothing but a hang-up. */
enum step conn_step_wait(struct conn *c, struct conn_ctx *ctx);

/* The deadline of ST_DELAY (send the refusal) or ST_CHECKING (give up). */
enum conn_wait conn_gate_expire(struct conn *c, struct conn_ctx *ctx);

/* In conn_body.c. */

/* Check a PUT's head (HEAD_LEN bytes), then ask for its body or refuse. */
enum step conn_start_upload(struct conn *c, struct conn_ctx *ctx,
                            const struct http_request *req, int head_len);

/* ST_CONTINUE: send 100 Continue, then read the body. */
enum step conn_step_continue(struct conn *c, struct conn_ctx *ctx);

/* ST_READ_BODY: feed the body to its file; at its end, answer. */
enum step conn_step_read_body(struct conn *c, struct conn_ctx *ctx);

#endif /* FERRY_CONN_IMPL_H */
