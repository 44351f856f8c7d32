/*
 * opencache.c: each thread's few kept read descriptors.  A handful of
 * slots searched in a row: cheaper than the open, fstat and close that a
 * hit saves (three system calls of the ten a small keep-alive GET made).
 */
#include "opencache.h"

#include <stdint.h>
#include <time.h>
#include <unistd.h>

/* Unused this long, a kept descriptor is closed by the sweep. */
#define OPENCACHE_IDLE_MS 2000

struct kept {
    bool used;
    int fd;
    unsigned refs;              /* responses reading it now */
    uint64_t last_ms;           /* when it was last taken or released */
    struct stat st;
};

static _Thread_local struct kept kept[OPENCACHE_SIZE];

static bool same_file(const struct stat *a, const struct stat *b);
static uint64_t now_ms(void);
static void drop(struct kept *k);

int
opencache_take(const struct stat *probed)
{
    size_t i;

    for (i = 0; i < OPENCACHE_SIZE; i++) {
        if (kept[i].used && same_file(&kept[i].st, probed)) {
            kept[i].refs++;
            kept[i].last_ms = now_ms();
            return kept[i].fd;
        }
    }
    return -1;
}

void
opencache_offer(int fd, const struct stat *st)
{
    struct kept *slot = NULL;
    size_t i;

    /* A free slot, else the one unused longest that nobody reads now. */
    for (i = 0; i < OPENCACHE_SIZE; i++) {
        if (!kept[i].used) {
            slot = &kept[i];
            break;
        }
        if (kept[i].refs == 0 &&
            (slot == NULL || kept[i].last_ms < slot->last_ms))
            slot = &kept[i];
    }
    if (slot == NULL)
        return;                 /* all in use: the caller's to close */
    if (slot->used)
        drop(slot);
    slot->used = true;
    slot->fd = fd;
    slot->refs = 1;
    slot->last_ms = now_ms();
    slot->st = *st;
}

bool
opencache_release(int fd)
{
    size_t i;

    for (i = 0; i < OPENCACHE_SIZE; i++) {
        if (kept[i].used && kept[i].fd == fd && kept[i].refs > 0) {
            kept[i].refs--;
            kept[i].last_ms = now_ms();
            return true;
        }
    }
    return false;
}

void
opencache_sweep(void)
{
    uint64_t now = now_ms();
    size_t i;

    for (i = 0; i < OPENCACHE_SIZE; i++)
        if (kept[i].used && kept[i].refs == 0 &&
            now - kept[i].last_ms >= OPENCACHE_IDLE_MS)
            drop(&kept[i]);
}

static bool
same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
           a->st_size == b->st_size && a->st_mode == b->st_mode &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
           a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
           a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
           a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static void
drop(struct kept *k)
{
    close(k->fd);
    k->used = false;
}

/* The coarse clock: read from memory, no system call. */
static uint64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
