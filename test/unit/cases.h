/*
 * cases.h: making and running unit-test cases.
 */
#ifndef FERRY_TEST_CASES_H
#define FERRY_TEST_CASES_H

#include <stddef.h>

/*
 * Run FN once per row of TABLE (NROWS rows of ROW_SIZE bytes) as the
 * cmocka group NAME; FN finds its row in *state.  Each row must start
 * with `const char *label`, which names its test.  Returns the number of
 * failed tests, or 1 when out of memory.
 */
int cases_run(const char *name, void (*fn)(void **), const void *table,
              size_t nrows, size_t row_size);

/* cases_run over a whole array. */
#define CASES_RUN(name, fn, table) \
    cases_run(name, fn, table, sizeof(table) / sizeof((table)[0]), \
              sizeof((table)[0]))

/*
 * A generated input of *LEN bytes: HEAD, FILL repeated FILL_LEN times,
 * TAIL, NUL-terminated.  Fails the test when out of memory; the caller
 * frees it.
 */
char *cases_build(const char *head, char fill, size_t fill_len,
                  const char *tail, size_t *len);

#endif
