/*
 * roles.c: the access policy, as one function of configuration, user and
 * method.  Kept apart so that every combination can be tested as a table.
 */
#include "roles.h"

#include <string.h>

static bool is_write(enum http_method method);
static bool may_read(const struct roles *r, const char *user);
static bool is_writer(const struct roles *r, const char *user);

enum roles_verdict
roles_decide(const struct roles *r, const char *user,
             enum http_method method)
{
    if (!is_write(method)) {
        if (may_read(r, user))
            return ROLES_ALLOW;
        if (r->drop_box)
            return ROLES_DEPOSIT;
        return ROLES_LOGIN;
    }
    if (!r->writable)
        return ROLES_ALLOW;     /* the read-only refusal says why */
    if (r->auth && user != NULL && is_writer(r, user))
        return ROLES_ALLOW;
    if (!r->auth)
        return r->drop_box ? ROLES_DEPOSIT : ROLES_ALLOW;
    if (r->drop_box)
        return ROLES_DEPOSIT;
    return user == NULL ? ROLES_LOGIN : ROLES_FORBIDDEN;
}

int
roles_parse_writers(struct roles *r, char *list)
{
    char *name = list, *comma;

    r->nwriters = 0;
    for (;;) {
        comma = strchr(name, ',');
        if (comma != NULL)
            *comma = '\0';
        if (*name == '\0' || r->nwriters == ROLES_MAX_WRITERS)
            return -1;
        r->writers[r->nwriters++] = name;
        if (comma == NULL)
            return 0;
        name = comma + 1;
    }
}

/* The methods that change the share. */
static bool
is_write(enum http_method method)
{
    return method == HTTP_METHOD_PUT || method == HTTP_METHOD_DELETE ||
           method == HTTP_METHOD_MKCOL;
}

/*
 * Readers: everyone on an open share (but nobody in a drop box without
 * users); with --auth, logged-in users, and anyone with --public-read.
 */
static bool
may_read(const struct roles *r, const char *user)
{
    if (!r->auth)
        return !r->drop_box;
    return user != NULL || r->public_read;
}

static bool
is_writer(const struct roles *r, const char *user)
{
    size_t i;

    if (r->nwriters == 0)
        return true;
    for (i = 0; i < r->nwriters; i++)
        if (strcmp(r->writers[i], user) == 0)
            return true;
    return false;
}
