/*
 * The durable job queue. A job is a row in the store, enqueued inside the caller's
 * transaction: it exists if and only if the change that asked for it committed. Worker
 * threads claim due jobs with a lease; a job whose worker died is claimed again when its
 * lease expires. A failed run is retried with exponential back-off and jitter until the
 * type's max attempts, then the job is dead (kept with its last error) until retried by
 * hand. Handlers must be idempotent: a run can repeat after a crash or a lost lease.
 */
#ifndef CAIRN_CORE_JOBS_H
#define CAIRN_CORE_JOBS_H

#include "core/config.h"
#include "core/json.h"
#include "lib/formats.h"
#include "store/store.h"

struct st_cn_app_t; /* core/module.h, which includes this header */

/** One run of a job, as a handler sees it. */
typedef struct st_cn_job_t {
    const char *id;
    const char *name;
    const char *tenant_id; /* NULL for a job of no tenant */
    json_t *payload;       /* borrowed; valid during the run */
    int attempt;           /* 1 on the first run */
    /* the worker's connection; inside a unit of work that also marks the job done, unless
     * the type runs outside_txn */
    cn_store_t *store;
} cn_job_t;

/**
 * Runs a job: 0 when done, else a CN_E* code with err set (the run is retried).
 *
 * Handlers must be idempotent. A handler that runs inside the transaction (the default)
 * has its writes committed together with the job's "done" mark, so its database effects
 * apply exactly once; but the handler itself may run more than once (a crash, a lost
 * lease, a failed commit), so anything it does outside the store (mail, HTTP) must
 * tolerate repeats. It must not open or close units of work on job->store.
 */
typedef int (*cn_job_fn)(cn_job_t *job, cn_err_t *err);

/** A job type, declared in a module's table (cn_app_t.jobs). */
typedef struct st_cn_job_type_t {
    const char *name; /* "notes.analyse"; NULL ends a list */
    cn_job_fn run;
    int max_attempts; /* 0: jobs.max_attempts */
    /* run outside any transaction (slow I/O: outbound HTTP); the job is marked done in a
     * transaction of its own afterwards, so a crash between the two repeats the run */
    int outside_txn;
    int64_t every_ms; /* > 0: recurring; one run per interval is kept scheduled */
} cn_job_type_t;

typedef struct st_cn_job_opts_t {
    const char *tenant_id;  /* may be NULL */
    int64_t run_at_ms;      /* 0: now */
    const char *unique_key; /* per type: enqueueing an existing key adds nothing */
} cn_job_opts_t;

/**
 * Enqueues a job inside the caller's open transaction (a unit of work or the loop turn's
 * batch). payload is borrowed and stored as JSON text (NULL: {}). id (may be NULL)
 * receives the new job's id, or the existing one's for a duplicate unique_key. The name
 * must be a registered type (CN_EINVAL otherwise). Workers of this process are woken
 * when the transaction commits.
 */
int cn_jobs_enqueue(cn_store_t *s, const char *name, json_t *payload, const cn_job_opts_t *opts,
                    char id[CN_UUID_LEN + 1], cn_err_t *err);

/** The queue's own module: the jobs table, GET /api/v1/jobs[/{id}], POST .../retry. */
extern const struct st_cn_app_t cn_jobs_app;

/**
 * Records what a long job has done so far (a JSON object, borrowed), shown as "progress"
 * by the jobs API. Write it in the same transaction as the work it counts. A running job
 * that reports progress also renews its lease (jobs.lease_ms from now), so a long job is
 * not reclaimed while it keeps reporting.
 */
int cn_jobs_set_progress(cn_store_t *s, const char *id, json_t *progress, cn_err_t *err);

#endif
