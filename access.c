/*
 * access.c: the Combined Log Format line of each request, and the names
 * a peer is logged under.
 *
 * The connection says when a response starts and ends and what was sent;
 * this file turns that into text, escaping what the client chose, and
 * hands the line to log_access.  Nothing here knows a socket's state.
 */
#include "access.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define ACCESS_FIELD_MAX   512      /* escaped client bytes per log field */

/*
 * Prepare the Combined Log Format line, all but the byte count, which is
 * known only at the end: host - user [time] "request" status bytes
 * "referer" "user-agent".  Client bytes are escaped.
 */
static void escape_user(char *dst, size_t cap, const char *user);

void
access_begin(struct access_line *a, const char *host, const char *user,
             const struct http_request *req, const char *in, size_t in_len,
             int status, time_t now)
{
    char line[ACCESS_FIELD_MAX * 4], when[64], reqline[ACCESS_FIELD_MAX];
    char ref[ACCESS_FIELD_MAX], ua[ACCESS_FIELD_MAX], who[ACCESS_FIELD_MAX];
    struct tm tm;
    int head, tail;

    access_free(a);
    if (!log_access_on())
        return;                 /* -q: a line nobody will read */
    localtime_r(&now, &tm);
    strftime(when, sizeof when, "%d/%b/%Y:%H:%M:%S %z", &tm);
    if (req != NULL) {
        log_escape(reqline, sizeof reqline, req->request_line.ptr,
                   req->request_line.len);
        log_escape(ref, sizeof ref, req->referer.ptr, req->referer.len);
        log_escape(ua, sizeof ua, req->user_agent.ptr, req->user_agent.len);
    } else {
        const char *eol = memchr(in, '\r', in_len);

        log_escape(reqline, sizeof reqline, in,
                   eol ? (size_t)(eol - in) : in_len);
        ref[0] = ua[0] = '\0';
    }
    escape_user(who, sizeof who, user);
    head = snprintf(line, sizeof line, "%s - %s [%s] \"%s\" %d ", host,
                    who[0] ? who : "-", when, reqline, status);
    if (head < 0 || (size_t)head + 1 >= sizeof line)
        return;                 /* cannot happen: every field is capped */
    tail = snprintf(line + head + 1, sizeof line - (size_t)head - 1,
                    " \"%s\" \"%s\"", ref[0] ? ref : "-", ua[0] ? ua : "-");
    if (tail < 0 || (size_t)tail >= sizeof line - (size_t)head - 1)
        return;
    a->text = malloc((size_t)head + 1 + (size_t)tail + 1);
    if (a->text == NULL)
        return;
    memcpy(a->text, line, (size_t)head + 1 + (size_t)tail + 1);
    a->text[head] = '\0';
    a->split = (size_t)head;
}

/*
 * The user field is one word of the line: besides what log_escape
 * escapes, a space becomes \x20 (a certificate's CN may have spaces).
 */
static void
escape_user(char *dst, size_t cap, const char *user)
{
    size_t out = 0;

    dst[0] = '\0';
    for (; *user != '\0' && out + 5 < cap; user++) {
        if (*user == ' ') {
            memcpy(dst + out, "\\x20", 5);
            out += 4;
        } else {
            out += log_escape(dst + out, cap - out, user, 1);
        }
    }
}

/* Write the access-log line with the body bytes actually sent. */
void
access_end(struct access_line *a, uint64_t sent_body)
{
    char line[ACCESS_FIELD_MAX * 4 + 32];   /* access_begin's, the count */
    int n;

    if (a->text == NULL)
        return;
    n = snprintf(line, sizeof line, "%s%llu%s", a->text,
                 (unsigned long long)sent_body,
                 a->text + a->split + 1);
    if (n > 0)
        log_access(line, (size_t)n < sizeof line ? (size_t)n :
                   sizeof line - 1);
    access_free(a);
}

void
access_free(struct access_line *a)
{
    free(a->text);
    a->text = NULL;
    a->split = 0;
}

/* "127.0.0.1" and "127.0.0.1:5555" (or "[::1]:5555") from a sockaddr;
 * IPv4 peers on a dual-stack socket lose their "::ffff:" prefix. */
void
access_peer(const struct sockaddr *sa, socklen_t len, char *host,
            size_t host_cap, char *peer, size_t peer_cap)
{
    char name[NI_MAXHOST], port[NI_MAXSERV];
    const char *h = name;

    if (getnameinfo(sa, len, name, sizeof name, port, sizeof port,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        snprintf(host, host_cap, "unknown");
        snprintf(peer, peer_cap, "unknown");
        return;
    }
    if (strncmp(h, "::ffff:", 7) == 0 && strchr(h + 7, ':') == NULL)
        h += 7;
    snprintf(host, host_cap, "%.63s", h);
    if (strchr(h, ':') != NULL)
        snprintf(peer, peer_cap, "[%.63s]:%.7s", h, port);
    else
        snprintf(peer, peer_cap, "%.63s:%.7s", h, port);
}
