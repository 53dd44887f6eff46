/*
 * What the files of the job queue share; included by src/core/jobs*.c only, never by an
 * app (apps see jobs.h).
 *
 *   jobs.c          the engine: enqueue, claim, run, retry, workers, the metrics collector
 *   jobs_api.c      the queue's module: its table, permission and /api/v1/jobs routes
 *   jobs_cli.c      what `cairn jobs list|show` print
 */
#ifndef CAIRN_CORE_JOBS_INT_H
#define CAIRN_CORE_JOBS_INT_H

#include "core/jobs.h"

#define JOB_COLUMNS                                                                                \
    "id, tenant_id, name, state, attempts, max_attempts, run_at, lease_until, unique_key,"         \
    " every_ms, last_error, payload, created_at, updated_at, finished_at, progress"

/* Writes the job in the current row of st (JOB_COLUMNS) as a JSON object: the API's
 * representation, which `cairn jobs show` prints as well. */
void cn__jobs_write_job(cn_jw_t *w, cn_stmt_t *st, int with_tenant);

#endif
