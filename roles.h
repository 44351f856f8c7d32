/*
 * roles.h: who may do what, once we know who the client is.
 *
 * A pure decision from the configuration (--auth, --public-read, -w,
 * --writers, --drop-box), the user name (NULL for nobody logged in) and
 * the method.  Checking credentials is auth.c's business; acting on the
 * verdict is the connection's.
 */
#ifndef FERRY_ROLES_H
#define FERRY_ROLES_H

#include <stdbool.h>
#include <stddef.h>

#include "http.h"

#define ROLES_MAX_WRITERS 64

struct roles {
    bool auth;              /* --auth: there are users */
    bool public_read;       /* --public-read: reading needs no login */
    bool writable;          /* -w (or --drop-box) */
    bool drop_box;          /* --drop-box: outsiders may only deposit */
    const char *writers[ROLES_MAX_WRITERS]; /* --writers, or none: all */
    size_t nwriters;
};

enum roles_verdict {
    ROLES_ALLOW,            /* go on (a read-only share still refuses
                               writes with its own 403) */
    ROLES_DEPOSIT,          /* drop box: create new files only; reads
                               see nothing */
    ROLES_LOGIN,            /* 401: a login could allow it */
    ROLES_FORBIDDEN,        /* 403: this user may not */
};

/*
 * Decide what USER (a verified name, or NULL) may do with METHOD.
 * Without --auth everyone reads, and writes when the share is writable;
 * a drop box without --auth lets everyone deposit and nobody read.  With
 * --auth, logged-in users read (anyone with --public-read) and, when
 * writable, those in --writers (all of them without it) write; in a drop
 * box everyone else deposits.
 */
enum roles_verdict roles_decide(const struct roles *r, const char *user,
                                enum http_method method);

/*
 * Fill R's writer list from the comma-separated LIST (kept by pointer:
 * LIST must outlive R, and is cut in place).  Returns 0, or -1 for an
 * empty name or too many names.
 */
int roles_parse_writers(struct roles *r, char *list);

#endif /* FERRY_ROLES_H */
