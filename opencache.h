/*
 * opencache.h: read descriptors of files served a moment ago, kept by
 * each worker thread so that a file asked for again is not opened again.
 *
 * The path is still resolved, confined, on every request (files_open's
 * probe); a kept descriptor is reused only when the probe finds the same
 * file: device, inode, size, mode and both times equal.  A file replaced,
 * rewritten, truncated or made unreadable is therefore opened afresh.
 * Every function acts on the calling thread's own descriptors.
 */
#ifndef FERRY_OPENCACHE_H
#define FERRY_OPENCACHE_H

#include <stdbool.h>
#include <sys/stat.h>

/* Descriptors kept per thread at most (server.c reserves them). */
#define OPENCACHE_SIZE 8

/* A kept descriptor of the file PROBED describes, now in use, or -1. */
int opencache_take(const struct stat *probed);

/* Offer FD, just opened for reading the file ST describes and in use by
 * the caller; it may be kept for later requests. */
void opencache_offer(int fd, const struct stat *st);

/* The caller is done with FD: true if it is kept (do not close it). */
bool opencache_release(int fd);

/* Close what no request used for a while: a deleted file's blocks are
 * freed only when its last descriptor closes. */
void opencache_sweep(void);

#endif
