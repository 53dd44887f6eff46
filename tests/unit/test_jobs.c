/*
 * Job queue (src/core/jobs.c) on a real SQLite database in a temporary directory: a job
 * exists only if its transaction committed; unique keys; the back-off schedule and its
 * jitter bounds; dead letters with the last error, and retry; run_at; reclaiming after a
 * lease expires (and the fence that discards a run whose lease was lost); recurring
 * types; the retention purge; types that run outside the transaction; commits waking
 * idle workers; and 10 000 jobs across 4 worker threads, each run exactly once. Tests
 * drive single worker turns with cn_jobs_run_due at chosen times, or start real workers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/jobs.h"
#include "core/jobs_int.h"
#include "core/module.h"
#include "store/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];
static cn_store_t *s;
static cn_config_t cfg;
static uint64_t handler_calls; /* atomic: every handler invocation, any type */

/* ---- test job types ---- */

/* Records its effect: effects.n counts how many runs took effect for a job. */
static int add_effect(cn_job_t *job, cn_err_t *err)
{
    cn_val_t a[] = {CN_VTEXT(job->id), CN_VINT(job->attempt)};
    return cn_store_exec(job->store,
                         "INSERT INTO effects (job_id, n, attempt) VALUES ($1, 1, $2)"
                         " ON CONFLICT (job_id) DO UPDATE SET n = n + 1, attempt = $2",
                         a, 2, NULL, err);
}

static int run_ok(cn_job_t *job, cn_err_t *err)
{
    __atomic_fetch_add(&handler_calls, 1, __ATOMIC_RELAXED);
    return add_effect(job, err);
}

/* Writes an effect, then fails: the effect must be rolled back with the run. */
static int run_fail(cn_job_t *job, cn_err_t *err)
{
    __atomic_fetch_add(&handler_calls, 1, __ATOMIC_RELAXED);
    int rc = add_effect(job, err);
    return rc != 0 ? rc : cn_err_set(err, CN_ERR, "boom %d", job->attempt);
}

/* On its first attempt, acts as if another worker had reclaimed the job meanwhile (the
 * attempt number in the row moves on), so its done mark finds no claim of its own. */
static int run_steal(cn_job_t *job, cn_err_t *err)
{
    int rc = add_effect(job, err);
    if (rc == 0 && job->attempt == 1) {
        cn_val_t a[] = {CN_VTEXT(job->id)};
        rc = cn_store_exec(job->store, "UPDATE jobs SET attempts = attempts + 1 WHERE id = $1", a,
                           1, NULL, err);
    }
    return rc;
}

/* Runs without a transaction: its write commits on its own. */
static int run_outside(cn_job_t *job, cn_err_t *err)
{
    if (cn_store_in_txn(job->store) || cn_store_batch_open(job->store))
        return cn_err_set(err, CN_ERR, "ran inside a transaction");
    return add_effect(job, err);
}

static const cn_job_type_t test_jobs[] = {
    {"t.ok", run_ok},
    {"t.fail", run_fail, .max_attempts = 3},
    {"t.steal", run_steal},
    {"t.outside", run_outside, .outside_txn = 1},
    {0},
};

/* Only test_recurring registers it: a recurring type is scheduled by every worker turn. */
static const cn_job_type_t recurring_jobs[] = {
    {"t.every", run_ok, .every_ms = 1000},
    {0},
};

static const cn_migration_t test_migrations[] = {
    {1, "effects",
     "CREATE TABLE effects (job_id TEXT PRIMARY KEY, n INTEGER NOT NULL, attempt INTEGER)"},
    {0},
};

static const cn_app_t test_app = {.name = "test", .migrations = test_migrations, .jobs = test_jobs};
static const cn_app_t recurring_app = {.name = "recurring", .jobs = recurring_jobs};
static const cn_app_t *const apps[] = {&cn_jobs_app, &test_app, NULL};
static const cn_app_t *const apps_recurring[] = {&cn_jobs_app, &test_app, &recurring_app, NULL};

/* ---- helpers ---- */

static int setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/cairn-jobs-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    cn_err_t err = {0};
    cn_config_defaults(&cfg);
    if (cn_config_set(&cfg, "store.data", dir, CN_SRC_FLAG, &err) != 0)
        return -1;
    cfg.jobs_backoff_ms = 1000;
    cfg.jobs_backoff_max_ms = 60000;
    cn_store_opts_t opts = {.data_dir = dir, .busy_timeout_ms = 5000};
    cn_migration_set_t sets[] = {{"jobs", cn_jobs_app.migrations}, {"test", test_migrations}};
    if (cn_store_open(&opts, &s, &err) != 0 || cn_migrate(s, sets, 2, 0, NULL, NULL, &err) != 0 ||
        cn_jobs_init(&cfg, apps, &err) != 0) {
        fprintf(stderr, "setup: %s\n", err.msg);
        return -1;
    }
    cn_store_set_batching(s, 1);
    __atomic_store_n(&handler_calls, 0, __ATOMIC_RELAXED);
    return 0;
}

static int teardown(void **state)
{
    cn_jobs_stop();
    cn_store_close(s);
    cn_config_free(&cfg);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd);
}

static int64_t query_int(const char *sql, const char *arg)
{
    cn_err_t err = {0};
    cn_stmt_t *st;
    cn_val_t a[] = {CN_VTEXT(arg ? arg : "")};
    assert_int_equal(cn_store_query(s, sql, a, arg ? 1 : 0, &st, &err), 0);
    assert_int_equal(cn_stmt_step(st, &err), CN_ROW);
    int64_t v = cn_stmt_int(st, 0);
    cn_stmt_finish(st);
    /* ends the read transaction: later reads see new data */
    assert_int_equal(cn_store_batch_commit(s, &err), 0);
    return v;
}

static void query_text(const char *sql, const char *arg, char *out, size_t cap)
{
    cn_err_t err = {0};
    cn_stmt_t *st;
    cn_val_t a[] = {CN_VTEXT(arg)};
    assert_int_equal(cn_store_query(s, sql, a, 1, &st, &err), 0);
    assert_int_equal(cn_stmt_step(st, &err), CN_ROW);
    const char *t = cn_stmt_text(st, 0, NULL);
    snprintf(out, cap, "%s", t ? t : "(null)");
    cn_stmt_finish(st);
    assert_int_equal(cn_store_batch_commit(s, &err), 0);
}

/* Enqueues in a transaction of its own (a unit of work inside a batch, then committed). */
static void enqueue(const char *name, int64_t run_at, const char *key, char id[CN_UUID_LEN + 1])
{
    cn_err_t err = {0};
    cn_job_opts_t opts = {.run_at_ms = run_at, .unique_key = key, .tenant_id = "t1"};
    assert_int_equal(cn_store_begin(s, &err), 0);
    int rc = cn_jobs_enqueue(s, name, NULL, &opts, id, &err);
    if (rc != 0)
        fail_msg("enqueue %s: %s", name, err.msg);
    assert_int_equal(cn_store_commit(s, &err), 0);
    assert_int_equal(cn_store_batch_commit(s, &err), 0);
}

static int run_due(int64_t now)
{
    cn_err_t err = {0};
    int n = -1;
    if (cn_jobs_run_due(s, now, 64, &n, &err) != 0)
        fail_msg("run_due: %s", err.msg);
    return n;
}

static void assert_state(const char *id, const char *want)
{
    char state[16];
    query_text("SELECT state FROM jobs WHERE id = $1", id, state, sizeof(state));
    assert_string_equal(state, want);
}

/* ---- tests ---- */

static void test_rollback_leaves_no_job(void **state)
{
    cn_err_t err = {0};
    char id[CN_UUID_LEN + 1];
    /* a unit of work rolled back inside a batch that commits */
    assert_int_equal(cn_store_begin(s, &err), 0);
    assert_int_equal(cn_jobs_enqueue(s, "t.ok", NULL, NULL, id, &err), 0);
    cn_store_rollback(s);
    assert_int_equal(cn_store_batch_commit(s, &err), 0);
    assert_int_equal(query_int("SELECT count(*) FROM jobs", NULL), 0);
    /* a whole batch that fails */
    assert_int_equal(cn_store_batch_begin(s, &err), 0);
    assert_int_equal(cn_jobs_enqueue(s, "t.ok", NULL, NULL, id, &err), 0);
    cn_store_batch_fail(s);
    assert_int_not_equal(cn_store_batch_commit(s, &err), 0);
    assert_int_equal(query_int("SELECT count(*) FROM jobs", NULL), 0);
    /* the same on a plain connection */
    cn_store_set_batching(s, 0);
    assert_int_equal(cn_store_begin(s, &err), 0);
    assert_int_equal(cn_jobs_enqueue(s, "t.ok", NULL, NULL, id, &err), 0);
    cn_store_rollback(s);
    assert_int_equal(query_int("SELECT count(*) FROM jobs", NULL), 0);
    assert_int_equal(cn_store_begin(s, &err), 0);
    assert_int_equal(cn_jobs_enqueue(s, "t.ok", NULL, NULL, id, &err), 0);
    assert_int_equal(cn_store_commit(s, &err), 0);
    cn_store_set_batching(s, 1);
    assert_int_equal(query_int("SELECT count(*) FROM jobs WHERE id = $1", id), 1);
    /* an unknown type is refused before anything is written */
    assert_int_equal(cn_jobs_enqueue(s, "t.nope", NULL, NULL, id, &err), CN_EINVAL);
}

static void test_unique_key(void **state)
{
    char a[CN_UUID_LEN + 1], b[CN_UUID_LEN + 1], c[CN_UUID_LEN + 1];
    enqueue("t.ok", 0, "k1", a);
    enqueue("t.ok", 0, "k1", b);
    assert_string_equal(a, b);
    enqueue("t.fail", 0, "k1", c); /* keys are per type */
    assert_string_not_equal(a, c);
    assert_int_equal(query_int("SELECT count(*) FROM jobs", NULL), 2);
    /* a finished job keeps its key: asking again adds nothing */
    assert_int_equal(run_due(cn_now_ms()), 2);
    enqueue("t.ok", 0, "k1", b);
    assert_string_equal(a, b);
    assert_int_equal(query_int("SELECT count(*) FROM jobs", NULL), 2);
}

static void test_backoff_bounds(void **state)
{
    for (int attempt = 1; attempt <= 40; attempt++) {
        int64_t d = 1000;
        for (int i = 1; i < attempt && d < 60000; i++)
            d *= 2;
        if (d > 60000)
            d = 60000;
        uint64_t rnds[] = {0, 1, UINT64_MAX, 12345678901234567ull};
        for (size_t k = 0; k < CN_ARRAY_SIZE(rnds); k++) {
            int64_t v = cn_jobs_backoff_ms(attempt, 1000, 60000, rnds[k]);
            if (v < d / 2 || v > d)
                fail_msg("attempt %d: %lld outside [%lld, %lld]", attempt, (long long)v,
                         (long long)(d / 2), (long long)d);
        }
    }
    assert_int_equal(cn_jobs_backoff_ms(1, 1000, 60000, 0), 500);
    assert_int_equal(cn_jobs_backoff_ms(3, 1000, 60000, 2000), 4000);
}

/* The retry schedule a failing job actually gets, then the dead letter and its retry. */
static void test_retries_then_dead(void **state)
{
    char id[CN_UUID_LEN + 1], err_text[64];
    int64_t t = cn_now_ms();
    enqueue("t.fail", t, NULL, id);
    int64_t expect_base[] = {1000, 2000}; /* delays after attempts 1 and 2 */
    for (int attempt = 1; attempt <= 3; attempt++) {
        assert_int_equal(run_due(t - 1), 0); /* not due yet */
        assert_int_equal(run_due(t), 1);
        assert_int_equal(query_int("SELECT attempts FROM jobs WHERE id = $1", id), attempt);
        query_text("SELECT last_error FROM jobs WHERE id = $1", id, err_text, sizeof(err_text));
        char want[32];
        snprintf(want, sizeof(want), "boom %d", attempt);
        assert_string_equal(err_text, want);
        if (attempt == 3)
            break;
        assert_state(id, "queued");
        int64_t run_at = query_int("SELECT run_at FROM jobs WHERE id = $1", id);
        int64_t d = expect_base[attempt - 1];
        if (run_at < t + d / 2 || run_at > t + d + 50)
            fail_msg("attempt %d: next run %lld ms later, want %lld..%lld", attempt,
                     (long long)(run_at - t), (long long)(d / 2), (long long)d);
        t = run_at;
    }
    assert_state(id, "dead");
    assert_int_not_equal(query_int("SELECT finished_at FROM jobs WHERE id = $1", id), 0);
    assert_int_equal(query_int("SELECT count(*) FROM effects", NULL), 0); /* rolled back */
    assert_int_equal(run_due(t + 3600 * 1000), 0);                        /* dead stays dead */

    cn_err_t err = {0};
    char ok_id[CN_UUID_LEN + 1];
    enqueue("t.ok", t, NULL, ok_id);
    assert_int_equal(cn_jobs_retry(s, NULL, ok_id, &err), CN_ECONFLICT); /* queued, not dead */
    assert_int_equal(cn_jobs_retry(s, "t2", id, &err), CN_ENOTFOUND);    /* other tenant */
    assert_int_equal(cn_jobs_retry(s, NULL, "01a20282-0000-7000-8000-000000000000", &err),
                     CN_ENOTFOUND);
    assert_int_equal(cn_jobs_retry(s, "t1", id, &err), 0);
    assert_int_equal(cn_store_batch_commit(s, &err), 0);
    assert_state(id, "queued");
    assert_int_equal(query_int("SELECT attempts FROM jobs WHERE id = $1", id), 0);
    assert_int_equal(run_due(t), 2); /* the retried one and the ok one */
    assert_int_equal(query_int("SELECT attempts FROM jobs WHERE id = $1", id), 1);

    /* purge: only finished jobs, only those old enough */
    int64_t n = -1;
    assert_int_equal(cn_jobs_purge(s, "queued", cn_now_ms(), &n, &err), CN_EINVAL);
    assert_int_equal(cn_jobs_purge(s, "done", 0, &n, &err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(cn_jobs_purge(s, "done", t + 10000, &n, &err), 0);
    assert_int_equal(cn_store_batch_commit(s, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(query_int("SELECT count(*) FROM jobs", NULL), 1);
}

static void test_run_at_respected(void **state)
{
    char id[CN_UUID_LEN + 1];
    int64_t t = cn_now_ms() + 10000;
    enqueue("t.ok", t, NULL, id);
    assert_int_equal(run_due(t - 10000), 0);
    assert_int_equal(run_due(t - 1), 0);
    assert_state(id, "queued");
    assert_int_equal(run_due(t), 1);
    assert_state(id, "done");
    assert_int_equal(query_int("SELECT n FROM effects WHERE job_id = $1", id), 1);
}

/* A worker that claimed a job and died: the job runs again once its lease ran out. */
static void test_lease_expiry_reclaim(void **state)
{
    cn_err_t err = {0};
    char id[CN_UUID_LEN + 1], poison[CN_UUID_LEN + 1];
    int64_t t = cn_now_ms();
    enqueue("t.ok", t, NULL, id);
    enqueue("t.fail", t, NULL, poison);
    /* what a claim does, without the run that would follow (the worker died) */
    cn_val_t a[] = {CN_VINT(t), CN_VINT(t + cfg.jobs_lease_ms)};
    assert_int_equal(cn_store_exec(s,
                                   "UPDATE jobs SET state = 'running', attempts = attempts + 1,"
                                   " lease_until = $2 WHERE run_at <= $1",
                                   a, 2, NULL, &err),
                     0);
    /* the poison job has used all its attempts */
    assert_int_equal(
        cn_store_exec(s, "UPDATE jobs SET attempts = 3 WHERE name = 't.fail'", NULL, 0, NULL, &err),
        0);
    assert_int_equal(cn_store_batch_commit(s, &err), 0);
    assert_int_equal(run_due(t + 1), 0);
    assert_int_equal(run_due(t + cfg.jobs_lease_ms - 1), 0); /* the lease still holds */
    assert_state(id, "running");
    /* (expired leases are looked for at most once a second) */
    assert_int_equal(run_due(t + cfg.jobs_lease_ms + 1000), 1);
    assert_state(id, "done");
    assert_int_equal(query_int("SELECT attempts FROM jobs WHERE id = $1", id), 2);
    assert_int_equal(query_int("SELECT n FROM effects WHERE job_id = $1", id), 1);
    assert_state(poison, "dead");
    char last[128];
    query_text("SELECT last_error FROM jobs WHERE id = $1", poison, last, sizeof(last));
    assert_non_null(strstr(last, "lease expired"));
}

/* A run whose claim moved on (another worker reclaimed the job) must leave no trace. */
static void test_lost_lease_discards_the_run(void **state)
{
    char id[CN_UUID_LEN + 1];
    int64_t t = cn_now_ms();
    enqueue("t.steal", t, NULL, id);
    assert_int_equal(run_due(t), 1);
    assert_int_equal(query_int("SELECT count(*) FROM effects", NULL), 0);
    assert_state(id, "running"); /* still leased by the first claim */
    assert_int_equal(query_int("SELECT attempts FROM jobs WHERE id = $1", id), 1);
    assert_int_equal(run_due(t + cfg.jobs_lease_ms + 1), 1);
    assert_state(id, "done");
    assert_int_equal(query_int("SELECT n FROM effects WHERE job_id = $1", id), 1);
    assert_int_equal(query_int("SELECT attempt FROM effects WHERE job_id = $1", id), 2);
}

static void test_recurring(void **state)
{
    cn_err_t err = {0};
    assert_int_equal(cn_jobs_init(&cfg, apps_recurring, &err), 0);
    int64_t slot = cn_now_ms() / 1000 + 100, t = slot * 1000 + 500;
    assert_int_equal(cn_jobs_schedule_recurring(s, t, &err), 0);
    assert_int_equal(cn_jobs_schedule_recurring(s, t + 100, &err), 0); /* same interval */
    assert_int_equal(cn_store_batch_commit(s, &err), 0);
    assert_int_equal(query_int("SELECT count(*) FROM jobs WHERE name = 't.every'", NULL), 1);
    assert_int_equal(run_due(t), 1);
    assert_int_equal(query_int("SELECT count(*) FROM jobs WHERE name = 't.every'", NULL), 2);
    char key[32];
    snprintf(key, sizeof(key), "every:%lld", (long long)slot + 1);
    assert_int_equal(query_int("SELECT run_at FROM jobs WHERE unique_key = $1", key),
                     (slot + 1) * 1000);
    assert_int_equal(run_due(t + 400), 0); /* the next interval has not begun */
    assert_int_equal(run_due((slot + 1) * 1000), 1);
    assert_int_equal(query_int("SELECT count(*) FROM jobs WHERE name = 't.every' AND"
                               " state = 'done'",
                               NULL),
                     2);
    assert_int_equal(query_int("SELECT count(*) FROM jobs WHERE name = 't.every' AND"
                               " state = 'queued'",
                               NULL),
                     1);
}

/* Done jobs go after jobs.retention_s; dead ones stay. */
static void test_retention_purge(void **state)
{
    cn_err_t err = {0};
    cfg.jobs_retention_s = 2;
    assert_int_equal(cn_jobs_init(&cfg, apps, &err), 0);
    char ok[CN_UUID_LEN + 1], bad[CN_UUID_LEN + 1];
    int64_t t = cn_now_ms();
    enqueue("t.ok", t, NULL, ok);
    enqueue("t.fail", t, NULL, bad);
    assert_int_equal(cn_store_exec(s, "UPDATE jobs SET max_attempts = 1", NULL, 0, NULL, &err), 0);
    assert_int_equal(cn_store_batch_commit(s, &err), 0);
    assert_int_equal(run_due(t), 2);
    assert_state(ok, "done");
    assert_state(bad, "dead");
    assert_int_equal(run_due(t + 1500), 0); /* looked (once a second), too young */
    assert_int_equal(query_int("SELECT count(*) FROM jobs", NULL), 2);
    assert_int_equal(run_due(t + 2600), 0);
    assert_int_equal(query_int("SELECT count(*) FROM jobs", NULL), 1);
    assert_state(bad, "dead");
}

static void test_outside_txn(void **state)
{
    char id[CN_UUID_LEN + 1];
    enqueue("t.outside", 0, NULL, id);
    assert_int_equal(run_due(cn_now_ms()), 1);
    assert_state(id, "done");
    assert_int_equal(query_int("SELECT n FROM effects WHERE job_id = $1", id), 1);
}

static void start_workers(int n, int poll_ms)
{
    cn_err_t err = {0};
    cfg.jobs_workers = n;
    cfg.jobs_poll_ms = poll_ms;
    if (cn_jobs_start(&cfg, apps, &err) != 0)
        fail_msg("start: %s", err.msg);
}

static int64_t wait_done(int64_t want, int timeout_ms)
{
    int64_t n = 0;
    for (int waited = 0; waited < timeout_ms; waited += 10) {
        n = query_int("SELECT count(*) FROM jobs WHERE state = 'done'", NULL);
        if (n >= want)
            break;
        usleep(10000);
    }
    return n;
}

/* Idle workers sleep for jobs.poll_ms (a minute here); a commit wakes them at once. */
static void test_commit_wakes_workers(void **state)
{
    start_workers(2, 60000);
    usleep(50000); /* let them go idle */
    char id[CN_UUID_LEN + 1];
    enqueue("t.ok", 0, NULL, id);
    assert_int_equal(wait_done(1, 3000), 1);
    /* also from a batch's units, and from a plain connection's transaction */
    cn_err_t err = {0};
    assert_int_equal(cn_store_begin(s, &err), 0);
    assert_int_equal(cn_jobs_enqueue(s, "t.ok", NULL, NULL, id, &err), 0);
    assert_int_equal(cn_store_commit(s, &err), 0);
    assert_int_equal(cn_store_batch_commit(s, &err), 0);
    assert_int_equal(wait_done(2, 3000), 2);
    cn_store_set_batching(s, 0);
    assert_int_equal(cn_store_begin(s, &err), 0);
    assert_int_equal(cn_jobs_enqueue(s, "t.ok", NULL, NULL, id, &err), 0);
    assert_int_equal(cn_store_commit(s, &err), 0);
    cn_store_set_batching(s, 1);
    assert_int_equal(wait_done(3, 3000), 3);
}

/* 10 000 jobs, 4 workers: every job runs exactly once and its effect applies once. */
static void test_many_jobs_four_workers(void **state)
{
    start_workers(4, 50);
    cn_err_t err = {0};
    for (int batch = 0; batch < 20; batch++) {
        assert_int_equal(cn_store_batch_begin(s, &err), 0);
        for (int i = 0; i < 500; i++)
            assert_int_equal(cn_jobs_enqueue(s, "t.ok", NULL, NULL, NULL, &err), 0);
        assert_int_equal(cn_store_batch_commit(s, &err), 0);
    }
    assert_int_equal(wait_done(10000, 60000), 10000);
    cn_jobs_stop();
    assert_int_equal(query_int("SELECT count(*) FROM jobs", NULL), 10000);
    assert_int_equal(query_int("SELECT count(*) FROM jobs WHERE attempts <> 1", NULL), 0);
    assert_int_equal(query_int("SELECT count(*) FROM effects", NULL), 10000);
    assert_int_equal(query_int("SELECT count(*) FROM effects WHERE n <> 1", NULL), 0);
    assert_int_equal(__atomic_load_n(&handler_calls, __ATOMIC_RELAXED), 10000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rollback_leaves_no_job, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unique_key, setup, teardown),
        cmocka_unit_test(test_backoff_bounds),
        cmocka_unit_test_setup_teardown(test_retries_then_dead, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_at_respected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lease_expiry_reclaim, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lost_lease_discards_the_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recurring, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retention_purge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outside_txn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_wakes_workers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_jobs_four_workers, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
