/*
 * fuzz.h: what the libFuzzer targets share.
 *
 * A reader that takes parameters off the front of the fuzzer's bytes, a
 * copy into a heap block of exactly the right size (so ASan stops any read
 * one byte past it), and a check that names the broken invariant before
 * aborting, so libFuzzer saves the input that broke it.
 */
#ifndef FERRY_FUZZ_H
#define FERRY_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                \
    do {                                                                \
        if (!(cond)) {                                                  \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__,  \
                    __LINE__, #cond);                                   \
            abort();                                                    \
        }                                                               \
    } while (0)

/* The fuzzer's bytes not yet taken. */
struct fuzz_in {
    const uint8_t *p;
    size_t n;
};

/* One byte off the front; 0 once the input is used up. */
static inline uint8_t
fuzz_byte(struct fuzz_in *in)
{
    uint8_t b;

    if (in->n == 0)
        return 0;
    b = in->p[0];
    in->p++;
    in->n--;
    return b;
}

/* N bytes (at most 8), little-endian, as a number. */
static inline uint64_t
fuzz_uint(struct fuzz_in *in, int n)
{
    uint64_t v = 0;
    int i;

    for (i = 0; i < n; i++)
        v |= (uint64_t)fuzz_byte(in) << (8 * i);
    return v;
}

/*
 * The next field: the bytes up to SEP (which is dropped), or all that is
 * left.  The slice points into the fuzzer's buffer.
 */
static inline const uint8_t *
fuzz_field(struct fuzz_in *in, uint8_t sep, size_t *len)
{
    const uint8_t *start = in->p, *end;

    end = in->n > 0 ? memchr(in->p, sep, in->n) : NULL;
    *len = end != NULL ? (size_t)(end - start) : in->n;
    in->p += *len;
    in->n -= *len;
    if (end != NULL) {
        in->p++;
        in->n--;
    }
    return start;
}

/*
 * A heap copy of exactly N bytes, not terminated: the code under test
 * gets lengths, never NUL ends, and ASan catches a read past them.
 */
static inline char *
fuzz_copy(const void *src, size_t n)
{
    char *p = malloc(n);

    if (p == NULL && n > 0)
        abort();
    if (n > 0)
        memcpy(p, src, n);
    return p;
}

#endif /* FERRY_FUZZ_H */
