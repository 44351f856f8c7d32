/*
 * respond.h: from a parsed request to a planned response.
 *
 * Decides status, head and body for GET, HEAD and OPTIONS (and refusals
 * for everything else), opening files through the confined resolver.  The
 * body is a list of segments, memory or file ranges, that the connection
 * pulls record by record with response_read; nothing here touches a
 * socket or TLS.
 */
#ifndef FERRY_RESPOND_H
#define FERRY_RESPOND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "files.h"
#include "http.h"
#include "response.h"

/* Room for a response head; ours are far smaller. */
#define RESPOND_HEAD_MAX 2048

/* What every response needs from the server. */
struct respond_env {
    const struct files_root *root;
    time_t now;
    bool writable;          /* -w: PUT, DELETE and MKCOL allowed */
    bool deposit;           /* drop box outsider: sees nothing, may only
                               create new files */
    bool offer_writes;      /* the listing page shows upload controls:
                               the client may write, or may after a login */
};

/*
 * Plan the answer to REQ into *RES (which the caller has zeroed).
 * KEEP_ALIVE says whether the connection may stay open after it.
 * Returns 0, or -1 on out-of-memory (then answer 503 with respond_error).
 */
int respond_request(const struct http_request *req,
                    const struct respond_env *env, bool keep_alive,
                    struct response *res);

/*
 * Plan a short error page for STATUS into *RES; HEAD_ONLY leaves out the
 * body.  Returns 0, or -1 on out-of-memory.
 */
int respond_error(int status, const struct respond_env *env,
                  bool keep_alive, bool head_only, struct response *res);

/*
 * Like respond_error, with DETAIL (a sentence for people, or NULL) as the
 * body after the status line, e.g. why a write was refused.
 */
int respond_refusal(int status, const char *detail,
                    const struct respond_env *env, bool keep_alive,
                    bool head_only, struct response *res);

/*
 * Refuse access: 401 asks for a login (WWW-Authenticate), 403 says no,
 * 429 (too many logins from one address) and 503 (too many to check at
 * once) say when to come back (RETRY_AFTER_S).  Returns 0, or -1.
 */
int respond_denied(int status, unsigned retry_after_s,
                   const struct respond_env *env, bool keep_alive,
                   bool head_only, struct response *res);

/*
 * The answer to a stored PUT: 201 with the Location of relative PATH, or
 * 204 when an existing file was replaced.  Returns 0, or -1 (ENOMEM).
 */
int respond_stored(int status, const char *path,
                   const struct respond_env *env, bool keep_alive,
                   struct response *res);

/* A sentence saying why STATUS refused a write, or NULL. */
const char *respond_write_detail(int status);


#endif /* FERRY_RESPOND_H */
