/*
 * test_roles.c: the access policy as a table of configuration, user,
 * method and verdict.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "roles.h"

#define GET    HTTP_METHOD_GET
#define HEAD   HTTP_METHOD_HEAD
#define PUT    HTTP_METHOD_PUT
#define DELETE HTTP_METHOD_DELETE
#define MKCOL  HTTP_METHOD_MKCOL

/* Configurations: open, open -w, drop box, --auth variants. */
enum conf {
    OPEN, OPEN_W, DROP, AUTH, AUTH_W, AUTH_PUB_W, AUTH_W_ALICE, AUTH_DROP,
    AUTH_PUB,
};

static const struct {
    enum conf conf;
    const char *user;
    enum http_method method;
    enum roles_verdict want;
    const char *label;
} cases[] = {
    { OPEN, NULL, GET, ROLES_ALLOW, "open share: anyone reads" },
    { OPEN, NULL, PUT, ROLES_ALLOW, "read-only share: its own 403" },
    { OPEN_W, NULL, PUT, ROLES_ALLOW, "open -w: anyone writes" },
    { OPEN_W, NULL, DELETE, ROLES_ALLOW, "open -w: anyone deletes" },
    { DROP, NULL, GET, ROLES_DEPOSIT, "drop box: nobody reads" },
    { DROP, NULL, HEAD, ROLES_DEPOSIT, "drop box: nobody heads" },
    { DROP, NULL, PUT, ROLES_DEPOSIT, "drop box: everyone deposits" },
    { DROP, NULL, DELETE, ROLES_DEPOSIT, "drop box: delete only as deposit" },
    { AUTH, NULL, GET, ROLES_LOGIN, "auth: anonymous must log in" },
    { AUTH, "alice", GET, ROLES_ALLOW, "auth: user reads" },
    { AUTH, "alice", PUT, ROLES_ALLOW, "auth read-only: its own 403" },
    { AUTH_W, NULL, PUT, ROLES_LOGIN, "auth -w: anonymous must log in" },
    { AUTH_W, "bob", PUT, ROLES_ALLOW, "auth -w: every user writes" },
    { AUTH_PUB, NULL, GET, ROLES_ALLOW, "public read: anonymous reads" },
    { AUTH_PUB_W, NULL, GET, ROLES_ALLOW, "public read -w: anonymous reads" },
    { AUTH_PUB_W, NULL, PUT, ROLES_LOGIN, "public read -w: write needs login" },
    { AUTH_PUB_W, NULL, MKCOL, ROLES_LOGIN, "public read -w: mkcol needs login" },
    { AUTH_PUB_W, "bob", PUT, ROLES_ALLOW, "public read -w: user writes" },
    { AUTH_W_ALICE, "alice", PUT, ROLES_ALLOW, "writers: alice writes" },
    { AUTH_W_ALICE, "alice", DELETE, ROLES_ALLOW, "writers: alice deletes" },
    { AUTH_W_ALICE, "bob", PUT, ROLES_FORBIDDEN, "writers: bob may not" },
    { AUTH_W_ALICE, "bob", GET, ROLES_ALLOW, "writers: bob still reads" },
    { AUTH_W_ALICE, "alicex", PUT, ROLES_FORBIDDEN, "writers: exact names" },
    { AUTH_W_ALICE, NULL, PUT, ROLES_LOGIN, "writers: anonymous logs in" },
    { AUTH_DROP, NULL, GET, ROLES_DEPOSIT, "auth drop: outsider sees nothing" },
    { AUTH_DROP, NULL, PUT, ROLES_DEPOSIT, "auth drop: outsider deposits" },
    { AUTH_DROP, "alice", GET, ROLES_ALLOW, "auth drop: user reads" },
    { AUTH_DROP, "alice", PUT, ROLES_ALLOW, "auth drop: user writes" },
};

static void
make_roles(enum conf conf, struct roles *r, char *writers)
{
    memset(r, 0, sizeof *r);
    r->auth = conf >= AUTH;
    r->public_read = conf == AUTH_PUB || conf == AUTH_PUB_W;
    r->writable = conf == OPEN_W || conf == DROP || conf == AUTH_W ||
                  conf == AUTH_PUB_W || conf == AUTH_W_ALICE ||
                  conf == AUTH_DROP;
    r->drop_box = conf == DROP || conf == AUTH_DROP;
    if (conf == AUTH_W_ALICE) {
        assert_int_equal(roles_parse_writers(r, writers), 0);
        assert_int_equal(r->nwriters, 2);
    }
}

static void
test_table(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char writers[] = "alice,carol";
        struct roles r;

        make_roles(cases[i].conf, &r, writers);
        if (roles_decide(&r, cases[i].user, cases[i].method) !=
            cases[i].want)
            fail_msg("case %zu: %s", i, cases[i].label);
    }
}

static void
test_parse_writers(void **state)
{
    char ok[] = "a,b,c", empty[] = "", hole[] = "a,,b", trail[] = "a,";
    struct roles r;

    (void)state;
    memset(&r, 0, sizeof r);
    assert_int_equal(roles_parse_writers(&r, ok), 0);
    assert_int_equal(r.nwriters, 3);
    assert_string_equal(r.writers[2], "c");
    assert_int_equal(roles_parse_writers(&r, empty), -1);
    assert_int_equal(roles_parse_writers(&r, hole), -1);
    assert_int_equal(roles_parse_writers(&r, trail), -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_parse_writers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
