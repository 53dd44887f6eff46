/*
 * The durable job queue's engine (see jobs.h): enqueueing, the worker threads that claim
 * and run jobs, retries, dead letters and the queue's metrics (its module and routes are
 * in jobs_api.c, the output of `cairn jobs` in jobs_cli.c). A worker turn is two write
 * transactions: a short one that claims a batch of due jobs (state running, a lease,
 * attempts + 1), then one that runs them, each job a unit of work (a savepoint) holding
 * the handler's writes and the job's fenced "done" mark, so a job's database effects
 * commit exactly once. This file must never run a handler while holding its own mutex,
 * wait for anything while a transaction is open, or block in a store hook.
 */
#include "core/jobs.h"
#include "core/bus.h"
#include "core/jobs_int.h"
#include "store/store_int.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/module.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_TYPES 64
#define MAX_WORKERS 64
#define CLAIM_MAX 64                 /* jobs claimed per worker turn */
#define PG_IDLE_MAX_MS 1000          /* longest idle sleep of a worker on PostgreSQL */
#define SEGMENT_NS (50 * 1000000ull) /* a run transaction commits at least this often */
#define PURGE_EVERY_MS 1000 /* retention purge; again at once while it finds a full batch */
#define PURGE_ROWS 2000     /* rows deleted per purge statement */
#define ERROR_MAX 600       /* a cn_err_t message and a short prefix */

static const double run_time_le[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                     0.25,   0.5,   1,      2.5,   5,    10,    30,   60};
static const cn_hist_bounds_t run_time_bounds = {run_time_le, CN_ARRAY_SIZE(run_time_le)};

/* A registered job type and its metrics (updated by every worker: atomic adds). */
typedef struct {
    const cn_job_type_t *type;
    int max_attempts;
    cn_hist_t run_time; /* its count is the number of runs */
    uint64_t done, failures, dead;
} type_entry_t;

/* Process-wide queue state; owned by this file, set up by cn_jobs_init/start. */
static struct {
    type_entry_t types[MAX_TYPES];
    size_t n_types;
    int workers, lease_ms, poll_ms;
    int64_t backoff_ms, backoff_max_ms, retention_ms;
    char *data_dir;  /* owned */
    char *store_url; /* owned: store.url, so workers open the engine the server runs on */
    int synchronous_full, busy_timeout_ms;
    int64_t cache_bytes, write_cache_bytes;

    pthread_mutex_t mu; /* guards wake_gen and stopping; never held around store calls */
    pthread_cond_t cv;  /* CLOCK_MONOTONIC */
    uint64_t wake_gen;  /* bumped by every wake-up */
    int stopping;
    pthread_t threads[MAX_WORKERS];
    cn_store_t *stores[MAX_WORKERS]; /* owned: one connection per worker */
    int n_threads;

    pthread_mutex_t metrics_mu; /* guards metrics_store (scrapes come from any loop) */
    cn_store_t *metrics_store;  /* owned */
    int collector_added;

    int64_t last_reclaim_ms, last_purge_ms; /* atomics: maintenance gates */
} job_queue = {.mu = PTHREAD_MUTEX_INITIALIZER, .metrics_mu = PTHREAD_MUTEX_INITIALIZER};

static pthread_once_t cv_once = PTHREAD_ONCE_INIT;

static void cv_init(void)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&job_queue.cv, &a);
    pthread_condattr_destroy(&a);
}

static type_entry_t *find_type(const char *name)
{
    for (size_t i = 0; i < job_queue.n_types; i++)
        if (strcmp(job_queue.types[i].type->name, name) == 0)
            return &job_queue.types[i];
    return NULL;
}

static inline void add(uint64_t *p, uint64_t v)
{
    __atomic_fetch_add(p, v, __ATOMIC_RELAXED);
}

static inline uint64_t peek(const uint64_t *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* The time of the worker turn running on this thread: cn_jobs_run_due may be given a
 * time other than the wall clock (tests); everything the turn writes follows it. */
static _Thread_local int64_t turn_skew_ms;

static int64_t clock_ms(void)
{
    return cn_now_ms() + turn_skew_ms;
}

/* ---- wake-ups ---- */

/* Wakes one idle worker (a sleeping one, or the next to look: it sees wake_gen move). */
static void wake(void)
{
    pthread_once(&cv_once, cv_init);
    pthread_mutex_lock(&job_queue.mu);
    job_queue.wake_gen++;
    pthread_cond_signal(&job_queue.cv);
    pthread_mutex_unlock(&job_queue.mu);
}

/* Jobs enqueued by this thread in the open transaction, one bit per depth of unit of work
 * (cn_store_unit_depth): the workers are woken only when they commit (a rolled-back job
 * does not exist). */
static _Thread_local unsigned enqueued_at;

/* A committed enqueue: this node's workers, and every other node's (the doorbell). */
static void ring(void)
{
    wake();
    cn_bus_send("jobs", "", 0);
}

/* Another node enqueued: one idle worker here looks too (claims skip what others took). */
static void on_doorbell(const char *subject, const char *data, size_t len, void *ud)
{
    (void)subject;
    (void)data;
    (void)len;
    (void)ud;
    wake();
}

static void stage_wake(cn_store_t *s)
{
    if (cn_store_in_txn(s) || cn_store_batch_open(s))
        enqueued_at |= 1u << cn_store_unit_depth(s);
    else /* an auto-commit write: it is committed already */
        ring();
}

static void hook_unit_end(cn_store_t *s, int committed)
{
    int depth = cn_store_unit_depth(s);
    if (depth < 1)
        return;
    unsigned inner = enqueued_at & ~((1u << depth) - 1);
    enqueued_at &= ~inner;
    if (committed && inner)
        enqueued_at |= 1u << (depth - 1);
}

static void hook_end(cn_store_t *s, int committed)
{
    unsigned any = enqueued_at;
    enqueued_at = 0;
    if (committed && any)
        ring(); /* a condition-variable signal and a queued message: does not block */
}

static const cn_store_hook_t jobs_hook = {.end = hook_end, .unit_end = hook_unit_end};

/* ---- enqueue ---- */

static int insert_job(cn_store_t *s, const type_entry_t *t, const char *payload, int64_t run_at,
                      const char *tenant_id, const char *unique_key, char id_out[CN_UUID_LEN + 1],
                      cn_err_t *err)
{
    char id[CN_UUID_LEN + 1];
    cn_uuid7(id);
    int64_t now = clock_ms(), changes = 0;
    cn_val_t args[] = {CN_VTEXT(id),
                       tenant_id ? CN_VTEXT(tenant_id) : CN_VNULL,
                       CN_VTEXT(t->type->name),
                       CN_VTEXT(payload),
                       CN_VINT(t->max_attempts),
                       CN_VINT(run_at > 0 ? run_at : now),
                       unique_key ? CN_VTEXT(unique_key) : CN_VNULL,
                       CN_VINT(t->type->every_ms > 0 ? t->type->every_ms : 0),
                       CN_VINT(now)};
    int rc = cn_store_exec(s,
                           "INSERT INTO jobs (id, tenant_id, name, payload, state, attempts,"
                           " max_attempts, run_at, unique_key, every_ms, created_at, updated_at)"
                           " VALUES ($1, $2, $3, $4, 'queued', 0, $5, $6, $7, $8, $9, $9)"
                           " ON CONFLICT DO NOTHING",
                           args, CN_ARRAY_SIZE(args), &changes, err);
    if (rc != 0)
        return rc;
    if (changes == 0 && unique_key != NULL) { /* the key exists: answer with its job */
        cn_val_t k[] = {CN_VTEXT(t->type->name), CN_VTEXT(unique_key)};
        char existing[CN_UUID_LEN + 1];
        rc = cn_store_one_text(s, "SELECT id FROM jobs WHERE name = $1 AND unique_key = $2", k, 2,
                               existing, sizeof(existing), err);
        if (rc == CN_ENOTFOUND)
            return cn_err_set(err, CN_ERR, "job vanished");
        if (rc == 0 && id_out != NULL)
            memcpy(id_out, existing, sizeof(existing));
        return rc;
    }
    if (changes == 0)
        return cn_err_set(err, CN_ERR, "job %s was not inserted", id);
    if (id_out != NULL)
        memcpy(id_out, id, CN_UUID_LEN + 1);
    stage_wake(s);
    return 0;
}

int cn_jobs_enqueue(cn_store_t *s, const char *name, json_t *payload, const cn_job_opts_t *opts,
                    char id[CN_UUID_LEN + 1], cn_err_t *err)
{
    const type_entry_t *t = find_type(name);
    if (t == NULL)
        return cn_err_set(err, CN_EINVAL, "unknown job type \"%s\"", name);
    cn_buf_t b = {0};
    if (payload != NULL)
        cn_json_dump(payload, &b);
    int rc = insert_job(s, t, payload ? b.data : "{}", opts ? opts->run_at_ms : 0,
                        opts ? opts->tenant_id : NULL, opts ? opts->unique_key : NULL, id, err);
    cn_buf_free(&b);
    return rc;
}

/* The run of a recurring type for the interval holding at_ms (its unique key names it). */
static int enqueue_slot(cn_store_t *s, const type_entry_t *t, int64_t slot, cn_err_t *err)
{
    char key[48];
    snprintf(key, sizeof(key), "every:%lld", (long long)slot);
    return insert_job(s, t, "{}", slot * t->type->every_ms, NULL, key, NULL, err);
}

int cn_jobs_schedule_recurring(cn_store_t *s, int64_t now_ms, cn_err_t *err)
{
    for (size_t i = 0; i < job_queue.n_types; i++) {
        const type_entry_t *t = &job_queue.types[i];
        if (t->type->every_ms <= 0)
            continue;
        int rc = enqueue_slot(s, t, now_ms / t->type->every_ms, err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ---- back-off ---- */

int64_t cn_jobs_backoff_ms(int attempt, int64_t base_ms, int64_t max_ms, uint64_t rnd)
{
    int64_t d = base_ms;
    for (int i = 1; i < attempt && d < max_ms; i++)
        d *= 2;
    if (d > max_ms)
        d = max_ms;
    int64_t half = d / 2;
    return half + (int64_t)(rnd % (uint64_t)(d - half + 1));
}

/* ---- claiming ---- */

/* A job claimed by this worker; strings are owned. */
typedef struct {
    char id[CN_UUID_LEN + 1];
    char *tenant_id, *name, *payload;
    int attempt, max_attempts;
    type_entry_t *t; /* NULL: no handler in this binary */
    enum { OUT_NONE, OUT_DONE, OUT_RETRY, OUT_DEAD, OUT_LOST } outcome;
    uint64_t dur_ns;
    char error[ERROR_MAX];
} claimed_t;

static void claimed_free(claimed_t *c, int n)
{
    for (int i = 0; i < n; i++) {
        free(c[i].tenant_id);
        free(c[i].name);
        free(c[i].payload);
    }
}

static char *dup_col(cn_stmt_t *st, int col)
{
    size_t len;
    const char *t = cn_stmt_text(st, col, &len);
    return t ? cn_strndup(t, len) : NULL;
}

/* Runs a claiming UPDATE ... RETURNING and appends its rows to out. */
static int fetch_claimed(cn_store_t *s, const char *sql, const cn_val_t *args, size_t n_args,
                         claimed_t *out, int *n, cn_err_t *err)
{
    cn_stmt_t *st;
    int rc = cn_store_query(s, sql, args, n_args, &st, err);
    if (rc != 0)
        return rc;
    while ((rc = cn_stmt_step(st, err)) == CN_ROW && *n < CLAIM_MAX) {
        claimed_t *c = &out[(*n)++];
        memset(c, 0, sizeof(*c));
        snprintf(c->id, sizeof(c->id), "%s", cn_stmt_text(st, 0, NULL));
        c->tenant_id = dup_col(st, 1);
        c->name = dup_col(st, 2);
        c->payload = dup_col(st, 3);
        c->attempt = (int)cn_stmt_int(st, 4);
        c->max_attempts = (int)cn_stmt_int(st, 5);
        c->t = c->name ? find_type(c->name) : NULL;
    }
    cn_stmt_finish(st);
    return rc < 0 ? rc : 0;
}

/* Passes a gate at most once per `every` ms (of the clock the caller runs on). */
static int gate(int64_t *last, int64_t now, int64_t every)
{
    int64_t prev = __atomic_load_n(last, __ATOMIC_RELAXED);
    if (now >= prev && now - prev < every)
        return 0;
    return __atomic_compare_exchange_n(last, &prev, now, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
}

/*
 * The statements that pick rows for a worker. On PostgreSQL several nodes' workers run
 * them at once: each locks the rows it picks and skips those another transaction holds
 * (FOR UPDATE SKIP LOCKED inside the subquery), so two claims never wait on each other
 * nor take the same job. SQLite has one writer at a time and no row locks. A reclaim
 * there follows the dead mark in the same transaction, so it never sees a job without
 * attempts left; on PostgreSQL the dead mark may have skipped one another transaction
 * held, and the reclaim says so itself.
 */
const cn_sql_pair_t cn__jobs_sql_dead = {
    "UPDATE jobs SET state = 'dead', lease_until = NULL, finished_at = $1,"
    " updated_at = $1, last_error = 'lease expired: the worker running it"
    " stopped (crash or kill?) and no attempt is left'"
    " WHERE state = 'running' AND lease_until < $1"
    " AND attempts >= max_attempts RETURNING id, name",
    "UPDATE jobs SET state = 'dead', lease_until = NULL, finished_at = $1,"
    " updated_at = $1, last_error = 'lease expired: the worker running it"
    " stopped (crash or kill?) and no attempt is left'"
    " WHERE id IN (SELECT id FROM jobs WHERE state = 'running' AND lease_until < $1"
    " AND attempts >= max_attempts FOR UPDATE SKIP LOCKED) RETURNING id, name"};

const cn_sql_pair_t cn__jobs_sql_reclaim = {
    "UPDATE jobs SET attempts = attempts + 1, lease_until = $2, updated_at = $1"
    " WHERE id IN (SELECT id FROM jobs WHERE state = 'running' AND lease_until < $1"
    " LIMIT $3) RETURNING " JOB_CLAIM_COLUMNS,
    "UPDATE jobs SET attempts = attempts + 1, lease_until = $2, updated_at = $1"
    " WHERE id IN (SELECT id FROM jobs WHERE state = 'running' AND lease_until < $1"
    " AND attempts < max_attempts LIMIT $3 FOR UPDATE SKIP LOCKED)"
    " RETURNING " JOB_CLAIM_COLUMNS};

/* run_at <= finished_at, so the (state, run_at) index bounds the scan */
const cn_sql_pair_t cn__jobs_sql_purge = {
    "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE state = 'done'"
    " AND run_at < $1 AND finished_at < $1 LIMIT $2)",
    "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE state = 'done'"
    " AND run_at < $1 AND finished_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)"};

const cn_sql_pair_t cn__jobs_sql_claim = {
    "UPDATE jobs SET state = 'running', attempts = attempts + 1,"
    " lease_until = $2, updated_at = $1 WHERE id IN (SELECT id FROM jobs"
    " WHERE state = 'queued' AND run_at <= $1 ORDER BY run_at LIMIT $3)"
    " RETURNING " JOB_CLAIM_COLUMNS,
    "UPDATE jobs SET state = 'running', attempts = attempts + 1,"
    " lease_until = $2, updated_at = $1 WHERE id IN (SELECT id FROM jobs"
    " WHERE state = 'queued' AND run_at <= $1 ORDER BY run_at LIMIT $3"
    " FOR UPDATE SKIP LOCKED) RETURNING " JOB_CLAIM_COLUMNS};

/* Leases that ran out: a job that used up its attempts is dead (it may be what kills its
 * workers), any other is claimed again. Checked at most every lease/2 (and 1 s). */
static int reclaim(cn_store_t *s, int64_t now, claimed_t *out, int *n, cn_err_t *err)
{
    cn_val_t a[] = {CN_VINT(now)};
    cn_stmt_t *st;
    int rc = cn_store_query(s, cn_store_sql(s, &cn__jobs_sql_dead), a, 1, &st, err);
    if (rc != 0)
        return rc;
    while ((rc = cn_stmt_step(st, err)) == CN_ROW) {
        type_entry_t *t = find_type(cn_stmt_text(st, 1, NULL));
        if (t != NULL)
            add(&t->dead, 1);
        cn_log(CN_LOG_ERROR, NULL, "job %s (%s) is dead: its lease expired after the last attempt",
               cn_stmt_text(st, 0, NULL), cn_stmt_text(st, 1, NULL));
    }
    cn_stmt_finish(st);
    if (rc < 0)
        return rc;
    cn_val_t b[] = {CN_VINT(now), CN_VINT(now + job_queue.lease_ms), CN_VINT(CLAIM_MAX - *n)};
    return fetch_claimed(s, cn_store_sql(s, &cn__jobs_sql_reclaim), b, 3, out, n, err);
}

static int purge_done(cn_store_t *s, int64_t now, cn_err_t *err)
{
    cn_val_t a[] = {CN_VINT(now - job_queue.retention_ms), CN_VINT(PURGE_ROWS)};
    int64_t n = 0;
    int rc = cn_store_exec(s, cn_store_sql(s, &cn__jobs_sql_purge), a, 2, &n, err);
    if (rc == 0 && n == PURGE_ROWS) /* behind: the next claim purges again */
        __atomic_store_n(&job_queue.last_purge_ms, 0, __ATOMIC_RELAXED);
    return rc;
}

/* One short write transaction: maintenance when due, then up to `max` due jobs. */
static int claim(cn_store_t *s, int64_t now, int max, claimed_t *out, int *n, cn_err_t *err)
{
    *n = 0;
    int rc = cn_store_batch_begin(s, err);
    int64_t every = job_queue.lease_ms / 2 < 1000 ? job_queue.lease_ms / 2 : 1000;
    if (rc == 0 && gate(&job_queue.last_reclaim_ms, now, every)) {
        rc = reclaim(s, now, out, n, err);
        if (rc == 0)
            rc = cn_jobs_schedule_recurring(s, now, err);
    }
    if (rc == 0 && job_queue.retention_ms > 0 &&
        gate(&job_queue.last_purge_ms, now, PURGE_EVERY_MS))
        rc = purge_done(s, now, err);
    if (rc == 0 && *n < max) {
        cn_val_t a[] = {CN_VINT(now), CN_VINT(now + job_queue.lease_ms), CN_VINT(max - *n)};
        rc = fetch_claimed(s, cn_store_sql(s, &cn__jobs_sql_claim), a, 3, out, n, err);
    }
    if (rc != 0)
        cn_store_batch_fail(s);
    int crc = cn_store_batch_commit(s, rc == 0 ? err : NULL);
    if (rc == 0)
        rc = crc;
    if (rc != 0) {
        claimed_free(out, *n);
        *n = 0;
    }
    return rc;
}

/* ---- running ---- */

/* The fenced "done" mark: only the claim this worker holds may complete the job. */
static int mark_done(cn_store_t *s, const claimed_t *c, int64_t now, int *lost, cn_err_t *err)
{
    cn_val_t a[] = {CN_VTEXT(c->id), CN_VINT(c->attempt), CN_VINT(now)};
    int64_t changes = 0;
    int rc = cn_store_exec(s,
                           "UPDATE jobs SET state = 'done', lease_until = NULL, finished_at = $3,"
                           " updated_at = $3 WHERE id = $1 AND state = 'running' AND attempts = $2",
                           a, 3, &changes, err);
    *lost = rc == 0 && changes == 0;
    return rc;
}

/* A failed run: queued again after the back-off, or dead after the last attempt. */
static int record_failure(cn_store_t *s, claimed_t *c, int64_t now, cn_err_t *err)
{
    int dead = c->attempt >= c->max_attempts;
    uint64_t rnd;
    cn_random(&rnd, sizeof(rnd));
    int64_t run_at = dead ? now
                          : now + cn_jobs_backoff_ms(c->attempt, job_queue.backoff_ms,
                                                     job_queue.backoff_max_ms, rnd);
    cn_val_t a[] = {CN_VTEXT(c->id),
                    CN_VINT(c->attempt),
                    CN_VTEXT(dead ? "dead" : "queued"),
                    CN_VINT(run_at),
                    CN_VTEXT(c->error),
                    CN_VINT(now),
                    dead ? CN_VINT(now) : CN_VNULL};
    int64_t changes = 0;
    int rc = cn_store_exec(s,
                           "UPDATE jobs SET state = $3, run_at = $4, lease_until = NULL,"
                           " last_error = $5, updated_at = $6, finished_at = $7"
                           " WHERE id = $1 AND state = 'running' AND attempts = $2",
                           a, CN_ARRAY_SIZE(a), &changes, err);
    c->outcome = rc != 0 || changes == 0 ? OUT_LOST : dead ? OUT_DEAD : OUT_RETRY;
    return rc;
}

/* After a run of a recurring job (whatever its outcome): the next interval's run. */
static int schedule_next(cn_store_t *s, const claimed_t *c, int64_t now, cn_err_t *err)
{
    if (c->t == NULL || c->t->type->every_ms <= 0)
        return 0;
    return enqueue_slot(s, c->t, now / c->t->type->every_ms + 1, err);
}

static int call_handler(cn_store_t *s, claimed_t *c, cn_err_t *err)
{
    if (c->t == NULL)
        return cn_err_set(err, CN_ERR, "no handler for job type %s in this binary", c->name);
    cn_err_t perr = {0};
    json_t *payload =
        cn_json_parse(c->payload ? c->payload : "{}", c->payload ? strlen(c->payload) : 2, &perr);
    if (payload == NULL)
        return cn_err_set(err, CN_ERR, "payload: %s", perr.msg);
    cn_job_t job = {c->id, c->name, c->tenant_id, payload, c->attempt, s};
    int rc = c->t->type->run(&job, err);
    json_decref(payload);
    if (rc != 0 && err->msg[0] == '\0')
        cn_err_set(err, rc, "the handler failed with code %d", rc);
    return rc;
}

static void note_error(claimed_t *c, const cn_err_t *err)
{
    snprintf(c->error, sizeof(c->error), "%s", err->msg[0] ? err->msg : "failed");
}

/* Runs one job inside the open run transaction: its own unit of work holds the handler's
 * writes and the done mark; a failure rolls the unit back and is recorded beside it. */
static void run_in_txn(cn_store_t *s, claimed_t *c)
{
    cn_err_t err = {0};
    uint64_t t0 = cn_now_ns();
    int lost = 0, rc = cn_store_begin(s, &err);
    if (rc == 0) {
        rc = call_handler(s, c, &err);
        if (!cn_store_in_txn(s)) { /* it released or rolled back our unit: nothing is fenced */
            cn_store_batch_fail(s);
            rc = cn_err_set(&err, CN_ERR, "the handler ended its unit of work");
        }
        int64_t now = clock_ms();
        if (rc == 0)
            rc = mark_done(s, c, now, &lost, &err);
        if (rc == 0 && !lost)
            rc = schedule_next(s, c, now, &err);
        if (lost)
            cn_store_rollback(s);
        else
            rc = cn_store_end(s, rc, &err);
    }
    c->dur_ns = cn_now_ns() - t0;
    if (lost) {
        c->outcome = OUT_LOST;
        cn_log(CN_LOG_WARN, NULL, "job %s (%s): lease lost before it finished; run discarded",
               c->id, c->name);
        return;
    }
    if (rc == 0) {
        c->outcome = OUT_DONE;
        return;
    }
    note_error(c, &err);
    cn_err_t ferr = {0};
    int64_t now = clock_ms();
    if (record_failure(s, c, now, &ferr) != 0 || schedule_next(s, c, now, &ferr) != 0)
        cn_log(CN_LOG_ERROR, NULL, "job %s (%s): cannot record its failure: %s", c->id, c->name,
               ferr.msg);
}

static void count_outcome(claimed_t *c)
{
    if (c->t == NULL || c->outcome == OUT_NONE || c->outcome == OUT_LOST)
        return;
    type_entry_t *t = c->t;
    cn_hist_observe_shared(&t->run_time, &run_time_bounds, c->dur_ns);
    if (c->outcome == OUT_DONE) {
        add(&t->done, 1);
        return;
    }
    add(&t->failures, 1);
    if (c->outcome == OUT_DEAD) {
        add(&t->dead, 1);
        cn_log(CN_LOG_ERROR, NULL, "job %s (%s) is dead after %d attempts: %s", c->id, c->name,
               c->attempt, c->error);
    } else {
        cn_log(CN_LOG_WARN, NULL, "job %s (%s) attempt %d of %d failed: %s", c->id, c->name,
               c->attempt, c->max_attempts, c->error);
    }
}

/* Commits the run transaction holding jobs [from, to). If the commit fails, none of their
 * effects happened: each is recorded as failed in a transaction of its own. */
static void commit_segment(cn_store_t *s, claimed_t *c, int from, int to)
{
    cn_err_t err = {0};
    if (!cn_store_batch_open(s))
        return;
    int rc = cn_store_batch_commit(s, &err);
    for (int i = from; i < to; i++) {
        if (c[i].t != NULL && c[i].t->type->outside_txn)
            continue;
        if (rc == 0) {
            count_outcome(&c[i]);
            continue;
        }
        snprintf(c[i].error, sizeof(c[i].error), "the job's transaction failed: %s", err.msg);
        cn_err_t ferr = {0};
        if (record_failure(s, &c[i], clock_ms(), &ferr) != 0)
            cn_log(CN_LOG_ERROR, NULL, "job %s: cannot record its failure: %s", c[i].id, ferr.msg);
    }
    if (rc != 0) {
        if (cn_store_batch_commit(s, &err) != 0) /* a lease expiry covers this second miss */
            cn_log(CN_LOG_ERROR, NULL, "cannot record the jobs' failures: %s", err.msg);
        for (int i = from; i < to; i++)
            if (!(c[i].t != NULL && c[i].t->type->outside_txn))
                count_outcome(&c[i]);
    }
}

/* A type that runs outside any transaction (slow I/O), then is marked done in its own. */
static void run_outside(cn_store_t *s, claimed_t *c)
{
    cn_err_t err = {0};
    uint64_t t0 = cn_now_ns();
    /* no read transaction may span the run; the claim committed before, so only reads end */
    cn_ignore(cn_store_batch_commit(s, NULL));
    cn_store_set_batching(s, 0); /* the handler's writes commit on their own */
    int rc = call_handler(s, c, &err);
    if (cn_store_in_txn(s))
        cn_store_rollback(s);
    cn_store_set_batching(s, 1);
    c->dur_ns = cn_now_ns() - t0;
    int64_t now = clock_ms();
    cn_err_t ferr = {0};
    int lost = 0, wrc;
    if (rc == 0) {
        wrc = mark_done(s, c, now, &lost, &ferr);
        c->outcome = lost ? OUT_LOST : OUT_DONE;
    } else {
        note_error(c, &err);
        wrc = record_failure(s, c, now, &ferr);
    }
    if (wrc == 0 && !lost)
        wrc = schedule_next(s, c, now, &ferr);
    if (wrc == 0) {
        wrc = cn_store_batch_commit(s, &ferr);
    } else {
        cn_store_batch_fail(s);
        cn_ignore(cn_store_batch_commit(s, NULL)); /* doomed: it rolls back, as wrc says */
    }
    if (wrc != 0) /* the lease runs out and the job runs again */
        cn_log(CN_LOG_ERROR, NULL, "job %s (%s): cannot record the outcome: %s", c->id, c->name,
               ferr.msg);
    else
        count_outcome(c);
}

int cn_jobs_run_due(cn_store_t *s, int64_t now_ms, int max, int *n_run, cn_err_t *err)
{
    claimed_t jobs[CLAIM_MAX];
    int n = 0;
    if (max > CLAIM_MAX)
        max = CLAIM_MAX;
    if (n_run)
        *n_run = 0;
    turn_skew_ms = now_ms - cn_now_ms();
    int rc = claim(s, now_ms, max, jobs, &n, err);
    if (rc != 0) {
        turn_skew_ms = 0;
        return rc;
    }
    int from = 0;
    uint64_t seg_start = 0;
    for (int i = 0; i < n; i++) {
        if (jobs[i].t != NULL && jobs[i].t->type->outside_txn)
            continue;
        if (!cn_store_batch_open(s)) {
            from = i;
            seg_start = cn_now_ns();
        }
        run_in_txn(s, &jobs[i]);
        if (cn_now_ns() - seg_start > SEGMENT_NS)
            commit_segment(s, jobs, from, i + 1);
    }
    commit_segment(s, jobs, from, n);
    for (int i = 0; i < n; i++)
        if (jobs[i].t != NULL && jobs[i].t->type->outside_txn)
            run_outside(s, &jobs[i]);
    claimed_free(jobs, n);
    turn_skew_ms = 0;
    if (n_run)
        *n_run = n;
    return 0;
}

/* ---- workers ---- */

/* The earliest run_at of a queued job, or INT64_MAX. */
static int64_t next_due(cn_store_t *s)
{
    int64_t at = INT64_MAX;
    /* min() of no rows is NULL: COALESCE keeps "no job" apart from a job due at 0 */
    if (cn_store_one_int(s,
                         "SELECT COALESCE(min(run_at), 9223372036854775807) FROM jobs"
                         " WHERE state = 'queued'",
                         NULL, 0, &at, NULL) != 0)
        at = INT64_MAX;
    cn_ignore(cn_store_batch_commit(s, NULL)); /* ends the read transaction before sleeping */
    return at;
}

static void *worker_main(void *arg)
{
    cn_store_t *s = arg;
    int64_t failing_since = 0;
    for (;;) {
        pthread_mutex_lock(&job_queue.mu);
        uint64_t seen = job_queue.wake_gen;
        int stop = job_queue.stopping;
        pthread_mutex_unlock(&job_queue.mu);
        if (stop)
            break;
        cn_err_t err = {0};
        int n = 0;
        int64_t now = cn_now_ms();
        if (cn_jobs_run_due(s, now, CLAIM_MAX, &n, &err) != 0) {
            if (failing_since == 0) /* once per failure streak */
                cn_log(CN_LOG_WARN, NULL, "job worker cannot claim jobs: %s", err.msg);
            failing_since = now;
        } else {
            failing_since = 0;
        }
        if (n == CLAIM_MAX) { /* more may be due: let another worker help */
            wake();
            continue;
        }
        int64_t wait_ms = job_queue.poll_ms;
        /* on PostgreSQL a doorbell from another node may be lost (the bus is fire and
         * forget): no worker sleeps through a due job for more than a second */
        if (cn_store_is_postgres(s) && wait_ms > PG_IDLE_MAX_MS)
            wait_ms = PG_IDLE_MAX_MS;
        if (failing_since == 0) {
            int64_t due = next_due(s), in = due == INT64_MAX ? wait_ms : due - cn_now_ms();
            if (in < wait_ms)
                wait_ms = in < 0 ? 0 : in;
        }
        if (wait_ms == 0)
            continue;
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += wait_ms / 1000;
        until.tv_nsec += (wait_ms % 1000) * 1000000;
        if (until.tv_nsec >= 1000000000)
            until.tv_sec++, until.tv_nsec -= 1000000000;
        pthread_mutex_lock(&job_queue.mu);
        while (!job_queue.stopping && job_queue.wake_gen == seen)
            if (pthread_cond_timedwait(&job_queue.cv, &job_queue.mu, &until) != 0)
                break;
        pthread_mutex_unlock(&job_queue.mu);
    }
    return NULL;
}

static int open_store(cn_store_t **out, cn_err_t *err)
{
    cn_store_opts_t opts = {.url = job_queue.store_url,
                            .data_dir = job_queue.data_dir,
                            .synchronous_full = job_queue.synchronous_full,
                            .busy_timeout_ms = job_queue.busy_timeout_ms,
                            .cache_bytes = job_queue.cache_bytes,
                            .write_cache_bytes = job_queue.write_cache_bytes,
                            .manual_checkpoint = 1};
    return cn_store_open(&opts, out, err);
}

int cn_jobs_init(const cn_config_t *cfg, const cn_app_t *const *apps, cn_err_t *err)
{
    pthread_once(&cv_once, cv_init);
    if (job_queue.n_threads > 0) /* workers read the type table */
        return cn_err_set(err, CN_ERR, "the job queue is already running");
    job_queue.n_types = 0;
    for (const cn_app_t *const *a = apps; *a; a++)
        for (const cn_job_type_t *t = (*a)->jobs; t && t->name; t++) {
            if (find_type(t->name) != NULL)
                return cn_err_set(err, CN_EINVAL, "module %s: job type %s is declared twice",
                                  (*a)->name, t->name);
            if (job_queue.n_types == MAX_TYPES || t->run == NULL)
                return cn_err_set(err, CN_EINVAL, "module %s: job type %s: %s", (*a)->name, t->name,
                                  t->run ? "too many job types" : "no handler");
            type_entry_t *e = &job_queue.types[job_queue.n_types++];
            memset(e, 0, sizeof(*e));
            e->type = t;
            e->max_attempts = t->max_attempts > 0 ? t->max_attempts : cfg->jobs_max_attempts;
        }
    job_queue.workers = cfg->jobs_workers;
    job_queue.lease_ms = cfg->jobs_lease_ms;
    job_queue.poll_ms = cfg->jobs_poll_ms;
    job_queue.backoff_ms = cfg->jobs_backoff_ms;
    job_queue.backoff_max_ms = cfg->jobs_backoff_max_ms;
    job_queue.retention_ms = (int64_t)cfg->jobs_retention_s * 1000;
    free(job_queue.data_dir);
    job_queue.data_dir = cn_strdup(cfg->data_dir);
    free(job_queue.store_url);
    job_queue.store_url = cfg->store_url ? cn_strdup(cfg->store_url) : NULL;
    job_queue.synchronous_full = cfg->synchronous_full;
    job_queue.busy_timeout_ms = cfg->busy_timeout_ms;
    job_queue.cache_bytes = cfg->store_cache_bytes;
    job_queue.write_cache_bytes = cfg->store_write_cache_bytes;
    job_queue.last_reclaim_ms = job_queue.last_purge_ms = 0;
    cn_store_add_hook(&jobs_hook);
    return 0;
}

static void collect(cn_buf_t *out, void *data);

int cn_jobs_start(const cn_config_t *cfg, const cn_app_t *const *apps, cn_err_t *err)
{
    int rc = cn_jobs_init(cfg, apps, err);
    cn_store_t *s = NULL;
    if (rc == 0)
        rc = open_store(&s, err);
    if (rc == 0 && (rc = cn_store_begin(s, err)) == 0) {
        rc = cn_store_end(s, cn_jobs_schedule_recurring(s, cn_now_ms(), err), err);
    }
    if (rc != 0) {
        cn_store_close(s);
        return rc;
    }
    pthread_mutex_lock(&job_queue.metrics_mu);
    job_queue.metrics_store = s; /* kept for scrapes */
    pthread_mutex_unlock(&job_queue.metrics_mu);
    if (!job_queue.collector_added) {
        cn_metrics_add_collector(collect, NULL);
        job_queue.collector_added = 1;
    }
    if (cn_bus_process() != NULL &&
        (rc = cn_bus_subscribe(cn_bus_process(), "jobs", on_doorbell, NULL, err)) != 0)
        return rc;
    for (int i = 0; i < job_queue.workers && i < MAX_WORKERS; i++) {
        if ((rc = open_store(&job_queue.stores[i], err)) != 0)
            break;
        cn_store_set_batching(job_queue.stores[i], 1);
        if (pthread_create(&job_queue.threads[i], NULL, worker_main, job_queue.stores[i]) != 0) {
            cn_store_close(job_queue.stores[i]);
            rc = cn_err_set(err, CN_ERR, "cannot start job worker %d", i);
            break;
        }
        job_queue.n_threads++;
    }
    if (rc != 0)
        cn_jobs_stop();
    return rc;
}

void cn_jobs_stop(void)
{
    pthread_once(&cv_once, cv_init);
    pthread_mutex_lock(&job_queue.mu);
    job_queue.stopping = 1;
    pthread_cond_broadcast(&job_queue.cv);
    pthread_mutex_unlock(&job_queue.mu);
    for (int i = 0; i < job_queue.n_threads; i++) {
        pthread_join(job_queue.threads[i], NULL);
        cn_store_close(job_queue.stores[i]);
        job_queue.stores[i] = NULL;
    }
    job_queue.n_threads = 0;
    free(job_queue.data_dir);
    job_queue.data_dir = NULL;
    free(job_queue.store_url);
    job_queue.store_url = NULL;
    pthread_mutex_lock(&job_queue.metrics_mu);
    cn_store_close(job_queue.metrics_store);
    job_queue.metrics_store = NULL;
    pthread_mutex_unlock(&job_queue.metrics_mu);
    pthread_mutex_lock(&job_queue.mu);
    job_queue.stopping = 0;
    pthread_mutex_unlock(&job_queue.mu);
}

/* ---- metrics ---- */

static void collect(cn_buf_t *out, void *data)
{
    static const char *const shown[] = {"queued", "running", "dead"};
    uint64_t depth[MAX_TYPES][3] = {{0}};
    cn_buf_lit(out, "# HELP cairn_jobs Jobs waiting, running or dead, by type and state.\n"
                    "# TYPE cairn_jobs gauge\n");
    pthread_mutex_lock(&job_queue.metrics_mu);
    cn_stmt_t *st;
    if (job_queue.metrics_store != NULL &&
        cn_store_query(job_queue.metrics_store,
                       "SELECT name, state, count(*) FROM jobs"
                       " WHERE state IN ('queued', 'running', 'dead') GROUP BY name, state",
                       NULL, 0, &st, NULL) == 0) {
        while (cn_stmt_step(st, NULL) == CN_ROW) {
            const char *name = cn_stmt_text(st, 0, NULL), *state = cn_stmt_text(st, 1, NULL);
            const type_entry_t *t = find_type(name);
            int k = strcmp(state, "queued") == 0 ? 0 : strcmp(state, "running") == 0 ? 1 : 2;
            if (t != NULL)
                depth[t - job_queue.types][k] = (uint64_t)cn_stmt_int(st, 2);
            else /* a type this binary does not know */
                cn_buf_appendf(out, "cairn_jobs{name=\"%s\",state=\"%s\"} %lld\n", name, state,
                               (long long)cn_stmt_int(st, 2));
        }
        cn_stmt_finish(st);
    }
    pthread_mutex_unlock(&job_queue.metrics_mu);
    for (size_t i = 0; i < job_queue.n_types; i++)
        for (int k = 0; k < 3; k++)
            cn_buf_appendf(out, "cairn_jobs{name=\"%s\",state=\"%s\"} %llu\n",
                           job_queue.types[i].type->name, shown[k],
                           (unsigned long long)depth[i][k]);

    cn_buf_lit(out, "# HELP cairn_job_run_seconds Job run time (handler and done mark) by type.\n"
                    "# TYPE cairn_job_run_seconds histogram\n");
    for (size_t i = 0; i < job_queue.n_types; i++) {
        char labels[256];
        snprintf(labels, sizeof(labels), "name=\"%s\"", job_queue.types[i].type->name);
        cn_hist_render(out, "cairn_job_run_seconds", labels, &run_time_bounds,
                       &job_queue.types[i].run_time);
    }
    static const struct {
        const char *name, *help;
        size_t off;
    } counters[] = {
        {"cairn_job_done_total", "Job runs that completed, by type.", offsetof(type_entry_t, done)},
        {"cairn_job_failures_total", "Job runs that failed (retried or dead), by type.",
         offsetof(type_entry_t, failures)},
        {"cairn_job_dead_total", "Jobs that became dead letters, by type.",
         offsetof(type_entry_t, dead)},
    };
    for (size_t c = 0; c < CN_ARRAY_SIZE(counters); c++) {
        cn_buf_appendf(out, "# HELP %s %s\n# TYPE %s counter\n", counters[c].name, counters[c].help,
                       counters[c].name);
        for (size_t i = 0; i < job_queue.n_types; i++)
            cn_buf_appendf(
                out, "%s{name=\"%s\"} %llu\n", counters[c].name, job_queue.types[i].type->name,
                (unsigned long long)peek(
                    (const uint64_t *)((const char *)&job_queue.types[i] + counters[c].off)));
    }
}

/* ---- admin functions (the API, the CLI, long jobs) ---- */

int cn_jobs_set_progress(cn_store_t *s, const char *id, json_t *progress, cn_err_t *err)
{
    char *text = json_dumps(progress, JSON_COMPACT);
    if (text == NULL)
        return cn_err_set(err, CN_ERR, "out of memory");
    int64_t now = cn_now_ms();
    cn_val_t a[] = {CN_VTEXT(id), CN_VTEXT(text), CN_VINT(now), CN_VINT(now + job_queue.lease_ms)};
    int64_t n = 0;
    int rc =
        cn_store_exec(s,
                      "UPDATE jobs SET progress = $2, updated_at = $3, lease_until ="
                      " CASE WHEN state = 'running' THEN CAST($4 AS BIGINT) ELSE lease_until END"
                      " WHERE id = $1",
                      a, 4, &n, err);
    free(text);
    if (rc == 0 && n == 0)
        rc = cn_err_set(err, CN_ENOTFOUND, "no job %s", id);
    return rc;
}

int cn_jobs_retry(cn_store_t *s, const char *tenant_id, const char *id, cn_err_t *err)
{
    int64_t now = cn_now_ms(), changes = 0;
    cn_val_t a[] = {CN_VTEXT(id), tenant_id ? CN_VTEXT(tenant_id) : CN_VNULL, CN_VINT(now)};
    int rc = cn_store_exec(
        s,
        "UPDATE jobs SET state = 'queued', attempts = 0, run_at = $3,"
        " lease_until = NULL, finished_at = NULL, updated_at = $3"
        " WHERE id = $1 AND (CAST($2 AS TEXT) IS NULL OR tenant_id = $2) AND state = 'dead'",
        a, 3, &changes, err);
    if (rc != 0)
        return rc;
    if (changes == 1) {
        stage_wake(s);
        return 0;
    }
    char state[16];
    rc = cn_store_one_text(
        s, "SELECT state FROM jobs WHERE id = $1 AND (CAST($2 AS TEXT) IS NULL OR tenant_id = $2)",
        a, 2, state, sizeof(state), err);
    if (rc == 0)
        return cn_err_set(err, CN_ECONFLICT, "job %s is %s: only a dead job can be retried", id,
                          state);
    return rc == CN_ENOTFOUND ? cn_err_set(err, CN_ENOTFOUND, "no job with this id") : rc;
}

int cn_jobs_purge(cn_store_t *s, const char *state, int64_t before_ms, int64_t *n, cn_err_t *err)
{
    if (strcmp(state, "done") != 0 && strcmp(state, "dead") != 0)
        return cn_err_set(err, CN_EINVAL, "only done or dead jobs can be purged (got \"%s\")",
                          state);
    cn_val_t a[] = {CN_VTEXT(state), CN_VINT(before_ms)};
    return cn_store_exec(s, "DELETE FROM jobs WHERE state = $1 AND finished_at < $2", a, 2, n, err);
}
