/*
 * handoff.h: a worker's mailbox of clients that another worker accepted
 * and passed on, so that clients spread over every core.  Any thread may
 * push; the owner takes, when the mailbox's eventfd is readable.
 */
#ifndef FERRY_HANDOFF_H
#define FERRY_HANDOFF_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct handoff;

/* One accepted client: its socket and its address. */
struct handoff_client {
    int fd;
    socklen_t len;
    struct sockaddr_storage peer;
};

/* An empty mailbox, or NULL (out of memory or descriptors). */
struct handoff *handoff_new(void);

/* Close the clients still waiting in H, and free it.  Accepts NULL. */
void handoff_free(struct handoff *h);

/* The eventfd that is readable while clients wait. */
int handoff_fd(const struct handoff *h);

/* Leave client FD from PEER for H's owner.  False when H is full. */
bool handoff_push(struct handoff *h, int fd, const struct sockaddr *peer,
                  socklen_t len);

/* Take up to CAP waiting clients into OUT; returns how many. */
size_t handoff_take(struct handoff *h, struct handoff_client *out,
                    size_t cap);

#endif
