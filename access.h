/*
 * access.h: the access log line of one request, and the names a peer is
 * logged under.
 *
 * The line is Combined Log Format, one per request on stdout through
 * log_access.  It is built in two steps because its byte count is known
 * only once the response is over, and every byte a client chose is
 * escaped on the way in.
 */
#ifndef FERRY_ACCESS_H
#define FERRY_ACCESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "http.h"

/* The line in the making; a zeroed one is empty. */
struct access_line {
    char *text;             /* "... STATUS " NUL " \"ref\" \"ua\"", or NULL */
    size_t split;           /* where that NUL is */
};

/*
 * Start the line of a request from HOST (as access_peer made it), by USER
 * ("" when nobody logged in), that is answered STATUS at NOW: all but the
 * byte count.  REQ is the parsed head,
 * or NULL when it did not parse; then the request line is taken from IN
 * (IN_LEN bytes as received).  Client bytes are escaped.  A line begun
 * before is dropped.  Out of memory leaves A empty: no line is logged.
 */
void access_begin(struct access_line *a, const char *host, const char *user,
                  const struct http_request *req, const char *in,
                  size_t in_len, int status, time_t now);

/*
 * Log the line begun in A with SENT_BODY body bytes actually sent, and
 * empty A.  Does nothing when A is empty.
 */
void access_end(struct access_line *a, uint64_t sent_body);

/* Empty A without logging; accepts an empty one. */
void access_free(struct access_line *a);

/*
 * From SA (LEN bytes): HOST, the address as the access log shows it
 * ("127.0.0.1"), and PEER, address and port for diagnostics
 * ("127.0.0.1:5555", "[::1]:5555").  IPv4 peers on a dual-stack socket
 * lose their "::ffff:" prefix.  Both are "unknown" when SA cannot be
 * named.  HOST_CAP and PEER_CAP are the buffers' sizes.
 */
void access_peer(const struct sockaddr *sa, socklen_t len, char *host,
                 size_t host_cap, char *peer, size_t peer_cap);

#endif /* FERRY_ACCESS_H */
