/*
 * The job queue's kernel part: its life cycle (server.c), the operator's calls (main.c),
 * what tests drive by hand, and what the queue's files share. Never included by an app
 * (apps see jobs.h: job types, enqueue, progress).
 *
 *   jobs.c          the engine: enqueue, claim, run, retry, workers, the metrics collector
 *   jobs_api.c      the queue's module: its table, permission and /api/v1/jobs routes
 *   jobs_cli.c      what `cairn jobs list|show` print
 */
#ifndef CAIRN_CORE_JOBS_INT_H
#define CAIRN_CORE_JOBS_INT_H

#include "core/jobs.h"

#include <stdio.h>

#define JOB_COLUMNS                                                                                \
    "id, tenant_id, name, state, attempts, max_attempts, run_at, lease_until, unique_key,"         \
    " every_ms, last_error, payload, created_at, updated_at, finished_at, progress"

/* What a claim returns of each job it takes, in this order. */
#define JOB_CLAIM_COLUMNS "id, tenant_id, name, payload, attempts, max_attempts"

/*
 * The statements of a worker turn (jobs.c), per engine; tests run the PostgreSQL texts.
 * $1 is the time of the turn in each; dead: RETURNING id, name; reclaim and claim: $2 the
 * new lease's end, $3 how many jobs at most, RETURNING JOB_CLAIM_COLUMNS; purge: $1 the
 * retention horizon, $2 how many rows at most.
 */
extern const cn_sql_pair_t cn__jobs_sql_dead, cn__jobs_sql_reclaim, cn__jobs_sql_purge,
    cn__jobs_sql_claim;

/* Writes the job in the current row of st (JOB_COLUMNS) as a JSON object: the API's
 * representation, which `cairn jobs show` prints as well. */
void cn__jobs_write_job(cn_jw_t *w, cn_stmt_t *st, int with_tenant);

/**
 * Collects the job types of every module in apps (NULL-terminated) and takes the queue
 * settings (jobs.*) from cfg; installs the store hook that wakes workers after a commit.
 * No thread is started. Called by cn_jobs_start; tests call it to drive the queue by hand.
 */
int cn_jobs_init(const cn_config_t *cfg, const struct st_cn_app_t *const *apps, cn_err_t *err);

/**
 * cn_jobs_init, then schedules recurring types and starts jobs.workers threads, each with
 * its own store connection (opened from cfg without checkpointing inside commits: the
 * caller runs a checkpointer, as the server does). Also adds the metrics collector.
 */
int cn_jobs_start(const cn_config_t *cfg, const struct st_cn_app_t *const *apps, cn_err_t *err);

/** Stops the workers after the batch each one is running, and closes their connections.
 *  Safe to call when the queue never started, and more than once. */
void cn_jobs_stop(void);

/**
 * One worker turn on s (a batching connection, outside any transaction) as if the time
 * were now_ms: reclaims jobs whose lease expired, claims up to `max` due jobs, runs them
 * and records each outcome. *n_run (may be NULL) gets the number of jobs run. Returns 0,
 * or a code when the claim itself failed.
 */
int cn_jobs_run_due(cn_store_t *s, int64_t now_ms, int max, int *n_run, cn_err_t *err);

/** Enqueues the current interval's run of every recurring type (idempotent per interval). */
int cn_jobs_schedule_recurring(cn_store_t *s, int64_t now_ms, cn_err_t *err);

/**
 * The delay before the next attempt after `attempt` failed runs: with
 * d = min(max_ms, base_ms * 2^(attempt-1)), a value in [d/2, d] ("equal jitter") picked by
 * rnd (any 64-bit number; random in production).
 */
int64_t cn_jobs_backoff_ms(int attempt, int64_t base_ms, int64_t max_ms, uint64_t rnd);

/**
 * Dead job -> queued now with its attempts reset (its last error is kept until the next
 * run). tenant_id NULL matches any tenant (the CLI). CN_ENOTFOUND without such a job,
 * CN_ECONFLICT when it is not dead.
 */
int cn_jobs_retry(cn_store_t *s, const char *tenant_id, const char *id, cn_err_t *err);

/** Deletes jobs in state ("done" or "dead") that finished before before_ms; *n (may be NULL)
 *  gets how many. */
int cn_jobs_purge(cn_store_t *s, const char *state, int64_t before_ms, int64_t *n, cn_err_t *err);

/** `cairn jobs list`: one line per job, newest first; state and name may be NULL. */
int cn_jobs_print_list(cn_store_t *s, const char *state, const char *name, int64_t limit, FILE *out,
                       cn_err_t *err);

/** `cairn jobs show`: the job as JSON (CN_ENOTFOUND when there is none). */
int cn_jobs_print_one(cn_store_t *s, const char *id, FILE *out, cn_err_t *err);

/** 1 when state names a job state (queued, running, done, dead). */
int cn_jobs_state_valid(const char *state);

#endif
