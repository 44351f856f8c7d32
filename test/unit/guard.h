/*
 * guard.h: guard pages for unit tests.
 *
 * A guard is a mapping whose usable bytes are followed by a PROT_NONE
 * page.  Input copied to its very end has nothing readable after it, so
 * a parser reading (or a writer writing) one byte too far crashes the
 * test instead of passing by luck.
 */
#ifndef FERRY_TEST_GUARD_H
#define FERRY_TEST_GUARD_H

#include <stddef.h>

struct guard {
    char *base;
    size_t map_len;
    size_t room;                    /* bytes before the unmapped page */
};

/* Map at least NEED usable bytes (one page at least); fails the test. */
void guard_init(struct guard *g, size_t need);

/* The last N usable bytes: writing past them faults. */
char *guard_tail(const struct guard *g, size_t n);

/* Copy N bytes of S so that they end at the unmapped page. */
char *guard_copy(const struct guard *g, const void *s, size_t n);

void guard_free(struct guard *g);

#endif
