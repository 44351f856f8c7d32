/*
 * verify.c: the password-check pool (see verify.h).
 *
 * One mutex guards the queue and each job's state; each sink has its own
 * mutex for the finished list.  A job is in exactly one place: the queue,
 * a thread's hands, or a sink's list; only the worker that owns the sink
 * frees a job that got that far, so cancelling needs no reference count.
 */
#include "verify.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include <mbedtls/platform_util.h>

#include "auth.h"
#include "log.h"

#define VERIFY_NICE     10      /* below the event loops */
#define VERIFY_ADDR_CAP 64      /* as struct conn's host */

enum job_state {
    JOB_QUEUED,
    JOB_RUNNING,
    JOB_DONE,
};

struct verify_job {
    enum job_state state;       /* under the pool's lock */
    bool cancelled;             /* the owner's thread only */
    void *owner;
    struct verify_pool *pool;
    struct verify_sink *sink;
    struct verify_result result;
    char addr[VERIFY_ADDR_CAP];
    char name[AUTH_NAME_CAP];
    char password[AUTH_PASSWORD_CAP];
    struct verify_job *next;
};

struct verify_sink {
    pthread_mutex_t lock;
    int fd;
    struct verify_job *done;
};

struct verify_pool {
    pthread_mutex_t lock;
    pthread_cond_t more;
    bool stopping;
    struct verify_job *head, *tail;     /* the queue, oldest first */
    struct verify_job **running;        /* one per thread, or NULL */
    size_t in_flight;                   /* queued and running */
    verify_check_fn *check;
    void *arg;
    unsigned nthreads, started;
    pthread_t *threads;
};

struct thread_arg {
    struct verify_pool *pool;
    unsigned index;
};

static void *pool_thread(void *arg);
static struct verify_job *take_job(struct verify_pool *p, unsigned index);
static void deliver(struct verify_job *job);
static size_t count_addr(const struct verify_pool *p, const char *addr);
static void job_free(struct verify_job *job);

struct verify_pool *
verify_pool_new(unsigned threads, verify_check_fn *check, void *arg)
{
    struct verify_pool *p = calloc(1, sizeof *p);
    unsigned i;

    if (p == NULL)
        return NULL;
    p->check = check;
    p->arg = arg;
    p->nthreads = threads;
    p->running = calloc(threads, sizeof *p->running);
    p->threads = calloc(threads, sizeof *p->threads);
    if (p->running == NULL || p->threads == NULL ||
        pthread_mutex_init(&p->lock, NULL) != 0 ||
        pthread_cond_init(&p->more, NULL) != 0) {
        free(p->running);
        free(p->threads);
        free(p);
        return NULL;
    }
    for (i = 0; i < threads; i++) {
        struct thread_arg *ta = malloc(sizeof *ta);

        if (ta == NULL)
            break;
        ta->pool = p;
        ta->index = i;
        if (pthread_create(&p->threads[i], NULL, pool_thread, ta) != 0) {
            free(ta);
            break;
        }
        p->started++;
    }
    if (p->started == threads)
        return p;
    verify_pool_free(p);
    return NULL;
}

void
verify_pool_free(struct verify_pool *p)
{
    struct verify_job *job;
    unsigned i;

    if (p == NULL)
        return;
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    pthread_cond_broadcast(&p->more);
    pthread_mutex_unlock(&p->lock);
    for (i = 0; i < p->started; i++)
        pthread_join(p->threads[i], NULL);
    while ((job = p->head) != NULL) {
        p->head = job->next;
        job_free(job);
    }
    pthread_cond_destroy(&p->more);
    pthread_mutex_destroy(&p->lock);
    free(p->running);
    free(p->threads);
    free(p);
}

int
verify_submit(struct verify_pool *p, struct verify_sink *sink, void *owner,
              const char *addr, const char *name, const char *password,
              struct verify_job **job)
{
    struct verify_job *j = calloc(1, sizeof *j);
    int status = 0;

    *job = NULL;
    if (j == NULL)
        return 503;
    j->owner = owner;
    j->pool = p;
    j->sink = sink;
    snprintf(j->addr, sizeof j->addr, "%s", addr);
    snprintf(j->name, sizeof j->name, "%s", name);
    snprintf(j->password, sizeof j->password, "%s", password);
    pthread_mutex_lock(&p->lock);
    if (p->in_flight >= VERIFY_MAX_JOBS)
        status = 503;
    else if (count_addr(p, j->addr) >= VERIFY_MAX_PER_ADDR)
        status = 429;
    if (status == 0) {
        if (p->tail != NULL)
            p->tail->next = j;
        else
            p->head = j;
        p->tail = j;
        p->in_flight++;
        pthread_cond_signal(&p->more);
    }
    pthread_mutex_unlock(&p->lock);
    if (status != 0) {
        log_debug("auth: %s: password check not queued (%d)", addr, status);
        job_free(j);
        return status;
    }
    *job = j;
    return 0;
}

void
verify_cancel(struct verify_job *job)
{
    struct verify_pool *p = job->pool;
    struct verify_job **at;
    bool dropped = false;

    pthread_mutex_lock(&p->lock);
    if (job->state == JOB_QUEUED) {
        for (at = &p->head; *at != NULL; at = &(*at)->next) {
            if (*at != job)
                continue;
            *at = job->next;
            break;
        }
        /* Find the tail again: the queue is short (VERIFY_MAX_JOBS). */
        for (p->tail = p->head; p->tail != NULL && p->tail->next != NULL;)
            p->tail = p->tail->next;
        p->in_flight--;
        dropped = true;
    } else {
        job->cancelled = true;
    }
    pthread_mutex_unlock(&p->lock);
    if (dropped)
        job_free(job);
}

/* Run queued checks until the pool stops. */
static void *
pool_thread(void *arg)
{
    struct thread_arg ta = *(struct thread_arg *)arg;
    struct verify_job *job;

    free(arg);
    /* Linux sets nice per thread: a check yields to the event loops. */
    if (setpriority(PRIO_PROCESS, (id_t)gettid(), VERIFY_NICE) == -1)
        log_debug("auth: cannot lower a check thread's priority");
    while ((job = take_job(ta.pool, ta.index)) != NULL) {
        job->result.ok = ta.pool->check(ta.pool->arg, job->name,
                                        job->password,
                                        &job->result.users_id);
        mbedtls_platform_zeroize(job->password, sizeof job->password);
        pthread_mutex_lock(&ta.pool->lock);
        job->state = JOB_DONE;
        ta.pool->running[ta.index] = NULL;
        ta.pool->in_flight--;
        pthread_mutex_unlock(&ta.pool->lock);
        deliver(job);
    }
    return NULL;
}

/* Wait for the oldest queued job and mark it running; NULL: stop. */
static struct verify_job *
take_job(struct verify_pool *p, unsigned index)
{
    struct verify_job *job;

    pthread_mutex_lock(&p->lock);
    while (p->head == NULL && !p->stopping)
        pthread_cond_wait(&p->more, &p->lock);
    job = p->stopping ? NULL : p->head;
    if (job != NULL) {
        p->head = job->next;
        if (p->head == NULL)
            p->tail = NULL;
        job->next = NULL;
        job->state = JOB_RUNNING;
        p->running[index] = job;
    }
    pthread_mutex_unlock(&p->lock);
    return job;
}

/* Put a finished job on its sink's list and knock. */
static void
deliver(struct verify_job *job)
{
    struct verify_sink *s = job->sink;
    uint64_t one = 1;

    pthread_mutex_lock(&s->lock);
    job->next = s->done;
    s->done = job;
    pthread_mutex_unlock(&s->lock);
    if (write(s->fd, &one, sizeof one) == -1 && errno != EAGAIN)
        log_warn("auth: cannot wake a worker after a password check");
}

/* How many of P's jobs come from ADDR; P's lock held. */
static size_t
count_addr(const struct verify_pool *p, const char *addr)
{
    const struct verify_job *j;
    size_t n = 0;
    unsigned i;

    for (j = p->head; j != NULL; j = j->next)
        n += strcmp(j->addr, addr) == 0;
    for (i = 0; i < p->nthreads; i++)
        n += p->running[i] != NULL && strcmp(p->running[i]->addr, addr) == 0;
    return n;
}

static void
job_free(struct verify_job *job)
{
    mbedtls_platform_zeroize(job, sizeof *job);
    free(job);
}

struct verify_sink *
verify_sink_new(void)
{
    struct verify_sink *s = calloc(1, sizeof *s);

    if (s == NULL)
        return NULL;
    s->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->fd == -1 || pthread_mutex_init(&s->lock, NULL) != 0) {
        if (s->fd != -1)
            close(s->fd);
        free(s);
        return NULL;
    }
    return s;
}

int
verify_sink_fd(const struct verify_sink *s)
{
    return s->fd;
}

void
verify_sink_drain(struct verify_sink *s,
                  void (*done)(void *owner, const struct verify_result *r,
                               void *arg),
                  void *arg)
{
    struct verify_job *list, *next;
    uint64_t count;

    if (read(s->fd, &count, sizeof count) == -1 && errno != EAGAIN)
        log_warn("auth: reading a worker's wake-up");
    pthread_mutex_lock(&s->lock);
    list = s->done;
    s->done = NULL;
    pthread_mutex_unlock(&s->lock);
    for (; list != NULL; list = next) {
        next = list->next;
        if (!list->cancelled)
            done(list->owner, &list->result, arg);
        job_free(list);
    }
}

void
verify_sink_free(struct verify_sink *s)
{
    struct verify_job *next;

    if (s == NULL)
        return;
    for (; s->done != NULL; s->done = next) {
        next = s->done->next;
        job_free(s->done);
    }
    close(s->fd);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
