/*
 * verify.h: password checks on threads of their own.
 *
 * A bcrypt or yescrypt check costs tens to hundreds of milliseconds of
 * CPU.  Run on a worker's event loop, it would stall every client of that
 * worker; here it runs on a small pool of low-priority threads instead,
 * and the worker hears of the result through an eventfd it watches (its
 * sink).  The pool knows nothing of users or HTTP: it calls the check it
 * was given with a name and a password and hands back a yes or no.
 */
#ifndef FERRY_VERIFY_H
#define FERRY_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VERIFY_MAX_JOBS      64     /* queued or running: ~3 s of bcrypt
                                       cost 12 on 2 threads */
#define VERIFY_MAX_PER_ADDR  4      /* one client address: no more than
                                       this many checks in flight */

struct verify_pool;
struct verify_sink;
struct verify_job;

/* A finished check, as the owner hears of it. */
struct verify_result {
    bool ok;                    /* the password is right */
    uint64_t users_id;          /* which user table said so */
};

/*
 * The check the pool runs: whether PASSWORD is NAME's, against the user
 * table in force (its identity in *USERS_ID).  Called on pool threads,
 * several at once.
 */
typedef bool verify_check_fn(void *arg, const char *name,
                             const char *password, uint64_t *users_id);

/*
 * Start THREADS threads that run CHECK(ARG, ...) for submitted jobs, at
 * a lower priority than the event loops.  Returns NULL on failure.
 */
struct verify_pool *verify_pool_new(unsigned threads, verify_check_fn *check,
                                    void *arg);

/*
 * Stop the threads: the running checks finish and reach their sinks,
 * queued ones are dropped.  Frees the pool; NULL is fine.  Call it after
 * the workers have stopped and before their sinks are freed.
 */
void verify_pool_free(struct verify_pool *p);

/*
 * Queue a check of NAME and PASSWORD (copied; wiped when the job ends)
 * for OWNER, a pointer the sink hands back with the result.  ADDR (the
 * client's address) bounds the checks one client can have in flight.
 * Returns 0 with the job in *JOB; 429 when ADDR has VERIFY_MAX_PER_ADDR
 * in flight; 503 when the pool holds VERIFY_MAX_JOBS or memory is short.
 */
int verify_submit(struct verify_pool *p, struct verify_sink *sink,
                  void *owner, const char *addr, const char *name,
                  const char *password, struct verify_job **job);

/*
 * The owner no longer wants JOB's result (its client left).  Call from
 * the thread that drains JOB's sink.  A queued job is dropped at once;
 * a running or finished one is freed when its sink is drained.
 */
void verify_cancel(struct verify_job *job);

/*
 * Where a worker collects the checks it submitted.  Returns NULL on
 * failure.  Freed with verify_sink_free, after verify_pool_free.
 */
struct verify_sink *verify_sink_new(void);

/* The eventfd that becomes readable when a check has finished. */
int verify_sink_fd(const struct verify_sink *s);

/* Hand each finished, still wanted check to DONE(OWNER, RESULT, ARG). */
void verify_sink_drain(struct verify_sink *s,
                       void (*done)(void *owner,
                                    const struct verify_result *r,
                                    void *arg),
                       void *arg);

/* Free S and any results it still holds; NULL is fine. */
void verify_sink_free(struct verify_sink *s);

#endif /* FERRY_VERIFY_H */
