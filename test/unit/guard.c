/*
 * guard.c: guard pages for unit tests (see guard.h).
 */
#include "guard.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

void
guard_init(struct guard *g, size_t need)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);

    g->room = (need + page - 1) / page * page;
    if (g->room == 0)
        g->room = page;
    g->map_len = g->room + page;
    g->base = mmap(NULL, g->map_len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(g->base != MAP_FAILED);
    assert_int_equal(mprotect(g->base + g->room, page, PROT_NONE), 0);
}

char *
guard_tail(const struct guard *g, size_t n)
{
    assert_true(n <= g->room);
    return g->base + g->room - n;
}

char *
guard_copy(const struct guard *g, const void *s, size_t n)
{
    char *dst = guard_tail(g, n);

    if (n > 0)
        memcpy(dst, s, n);
    return dst;
}

void
guard_free(struct guard *g)
{
    munmap(g->base, g->map_len);
}
