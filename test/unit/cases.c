/*
 * cases.c: making and running unit-test cases (see cases.h).
 */
#include "cases.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

int
cases_run(const char *name, void (*fn)(void **), const void *table,
          size_t nrows, size_t row_size)
{
    struct CMUnitTest *tests = calloc(nrows, sizeof *tests);
    const char *row;
    size_t i;
    int failed;

    if (tests == NULL)
        return 1;
    for (i = 0; i < nrows; i++) {
        row = (const char *)table + i * row_size;
        /* a row's first member is its label */
        tests[i].name = *(const char *const *)(const void *)row;
        tests[i].test_func = fn;
        tests[i].initial_state = (void *)row;
    }
    failed = _cmocka_run_group_tests(name, tests, nrows, NULL, NULL);
    free(tests);
    return failed;
}

char *
cases_build(const char *head, char fill, size_t fill_len, const char *tail,
            size_t *len)
{
    size_t hl = strlen(head), tl = strlen(tail);
    char *s = malloc(hl + fill_len + tl + 1);

    assert_non_null(s);
    memcpy(s, head, hl);
    memset(s + hl, fill, fill_len);
    memcpy(s + hl + fill_len, tail, tl + 1);
    *len = hl + fill_len + tl;
    return s;
}
