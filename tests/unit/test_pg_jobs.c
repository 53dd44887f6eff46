/*
 * The job queue's PostgreSQL statements (src/core/jobs.c: claim, reclaim, mark dead, purge)
 * against a real PostgreSQL 15 (ctest's pg fixture, see test_pg.c), on the jobs table the
 * module's PostgreSQL migration creates. Two connections stand for two nodes' workers: a
 * claim skips the rows another open transaction holds, so concurrent claims take disjoint
 * jobs and never wait (the second connection's lock_timeout turns a wait into a failure).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/jobs_int.h"
#include "core/module.h"
#include "pg_db.h"
#include "store/pg_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pg_db_t db;
static cn_pg_t *a, *b; /* two nodes */

static int setup(void **state)
{
    (void)state;
    pg_db_open_two(&db, "cairn_test_pg_jobs", &a, &b);
    pg_db_migrate(a, "jobs", cn_jobs_app.migrations);
    /* a statement that waits for the other's locks fails the test instead of hanging it */
    pg_script(a, "SET lock_timeout = '2s'");
    pg_script(b, "SET lock_timeout = '2s'");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    pg_db_close_two(&db, a, b);
    return 0;
}

/* an empty table, and no transaction left open by a test that failed */
static void fresh(void)
{
    pg_script(a, "ROLLBACK");
    pg_script(b, "ROLLBACK");
    pg_script(a, "DELETE FROM jobs");
}

/* A job "j<n>" in state, run_at = n, with attempts of max 3, its lease until lease. */
static void add_job(int n, const char *state, int attempts, int64_t lease, int64_t finished)
{
    char id[16];
    snprintf(id, sizeof(id), "j%d", n);
    cn_val_t v[] = {CN_VTEXT(id),
                    CN_VTEXT(state),
                    CN_VINT(attempts),
                    CN_VINT(n),
                    lease ? CN_VINT(lease) : CN_VNULL,
                    finished ? CN_VINT(finished) : CN_VNULL};
    cn_err_t err = {0};
    pg_must(cn_pg_run(a,
                      "INSERT INTO jobs (id, tenant_id, name, state, attempts, max_attempts,"
                      " run_at, lease_until, created_at, updated_at, finished_at)"
                      " VALUES ($1, 't1', 'test.job', $2, $3, 3, $4, $5, 0, 0, $6)",
                      v, CN_ARRAY_SIZE(v), NULL, NULL, &err),
            &err, "add a job");
}

/* Runs a claim-like statement (now, lease end, max) on c; its ids into ids ("" after the
 * last), in the order returned. Returns how many. */
static int claim_ids(cn_pg_t *c, const cn_sql_pair_t *q, int64_t now, int max, char ids[][16])
{
    cn_val_t v[] = {CN_VINT(now), CN_VINT(now + 30000), CN_VINT(max)};
    cn_pg_rows_t r;
    cn_err_t err = {0};
    pg_must(cn_pg_run(c, q->postgres, v, 3, &r, NULL, &err), &err, q->postgres);
    int n = 0;
    while (cn_pg_next(&r) == CN_ROW) {
        snprintf(ids[n], 16, "%s", cn_pg_text(&r, 0, NULL));
        assert_string_equal(cn_pg_text(&r, 1, NULL), "t1"); /* JOB_CLAIM_COLUMNS */
        assert_string_equal(cn_pg_text(&r, 2, NULL), "test.job");
        assert_string_equal(cn_pg_text(&r, 3, NULL), "{}");
        assert_int_equal(cn_pg_int(&r, 5), 3);
        n++;
    }
    cn_pg_rows_clear(&r);
    ids[n][0] = '\0';
    return n;
}

static int64_t count(const char *sql)
{
    cn_pg_rows_t r;
    cn_err_t err = {0};
    pg_must(cn_pg_run(a, sql, NULL, 0, &r, NULL, &err), &err, sql);
    assert_int_equal(cn_pg_next(&r), CN_ROW);
    int64_t n = cn_pg_int(&r, 0);
    cn_pg_rows_clear(&r);
    return n;
}

static void sort_ids(char ids[][16], int n)
{
    qsort(ids, (size_t)n, 16, (int (*)(const void *, const void *))strcmp);
}

static void test_concurrent_claims_take_disjoint_jobs(void **state)
{
    (void)state;
    fresh();
    for (int i = 1; i <= 6; i++)
        add_job(i, "queued", 0, 0, 0);
    add_job(50, "queued", 0, 0, 0); /* not due at time 10 */
    char got_a[8][16], got_b[8][16], rest[8][16];
    pg_script(a, "BEGIN");
    assert_int_equal(claim_ids(a, &cn__jobs_sql_claim, 10, 2, got_a), 2);
    sort_ids(got_a, 2);
    assert_string_equal(got_a[0], "j1"); /* the oldest run_at first */
    assert_string_equal(got_a[1], "j2");
    /* b runs while a's claim is still open: it skips a's rows instead of waiting */
    pg_script(b, "BEGIN");
    assert_int_equal(claim_ids(b, &cn__jobs_sql_claim, 10, 2, got_b), 2);
    sort_ids(got_b, 2);
    assert_string_equal(got_b[0], "j3");
    assert_string_equal(got_b[1], "j4");
    pg_script(b, "COMMIT");
    pg_script(a, "COMMIT");
    assert_int_equal(claim_ids(b, &cn__jobs_sql_claim, 10, 10, rest), 2);
    sort_ids(rest, 2);
    assert_string_equal(rest[0], "j5");
    assert_string_equal(rest[1], "j6");
    assert_int_equal(claim_ids(a, &cn__jobs_sql_claim, 10, 10, rest), 0);
    assert_int_equal(count("SELECT COUNT(*) FROM jobs WHERE state = 'running' AND attempts = 1"
                           " AND lease_until = 30010"),
                     6);
}

static void test_reclaim_and_dead_skip_locked_rows(void **state)
{
    (void)state;
    fresh();
    add_job(1, "running", 1, 5, 0);  /* lease ran out, attempts left: reclaimed */
    add_job(2, "running", 1, 5, 0);  /* the same, but a holds it */
    add_job(3, "running", 1, 50, 0); /* lease still valid at 10 */
    add_job(4, "running", 3, 5, 0);  /* lease ran out, no attempt left: dead */
    add_job(5, "running", 3, 5, 0);  /* the same, but a holds it */
    pg_script(a, "BEGIN");
    pg_script(a, "SELECT id FROM jobs WHERE id IN ('j2', 'j5') FOR UPDATE");
    char got[8][16];
    cn_val_t now[] = {CN_VINT(10)};
    cn_pg_rows_t r;
    cn_err_t err = {0};
    /* a worker turn: the dead first, then the reclaim of what is left (never j5, which
     * the dead mark skipped while a held it: it has no attempt left) */
    pg_script(b, "BEGIN");
    pg_must(cn_pg_run(b, cn__jobs_sql_dead.postgres, now, 1, &r, NULL, &err), &err, "dead");
    assert_int_equal(cn_pg_next(&r), CN_ROW);
    assert_string_equal(cn_pg_text(&r, 0, NULL), "j4");
    assert_string_equal(cn_pg_text(&r, 1, NULL), "test.job");
    assert_int_equal(cn_pg_next(&r), CN_DONE);
    cn_pg_rows_clear(&r);
    assert_int_equal(claim_ids(b, &cn__jobs_sql_reclaim, 10, 10, got), 1);
    assert_string_equal(got[0], "j1");
    pg_script(b, "COMMIT");
    pg_script(a, "COMMIT");
    assert_int_equal(count("SELECT COUNT(*) FROM jobs WHERE id = 'j1' AND attempts = 2"
                           " AND state = 'running' AND lease_until = 30010"),
                     1);
    assert_int_equal(count("SELECT COUNT(*) FROM jobs WHERE id = 'j4' AND state = 'dead'"
                           " AND lease_until IS NULL AND finished_at = 10"
                           " AND last_error LIKE 'lease expired%'"),
                     1);
    /* once a let go, the skipped ones are picked up */
    int64_t changes = 0;
    pg_must(cn_pg_run(b, cn__jobs_sql_dead.postgres, now, 1, NULL, &changes, &err), &err, "dead");
    assert_int_equal(changes, 1);
    assert_int_equal(claim_ids(b, &cn__jobs_sql_reclaim, 10, 10, got), 1);
    assert_string_equal(got[0], "j2");
    assert_int_equal(count("SELECT COUNT(*) FROM jobs WHERE state = 'dead'"), 2);
    assert_int_equal(count("SELECT COUNT(*) FROM jobs WHERE id = 'j3' AND attempts = 1"), 1);
}

static void test_purge_deletes_old_done_jobs_and_skips_locked_ones(void **state)
{
    (void)state;
    fresh();
    for (int i = 1; i <= 4; i++)
        add_job(i, "done", 1, 0, 20);
    add_job(5, "done", 1, 0, 200); /* finished after the horizon */
    add_job(6, "dead", 3, 0, 20);  /* dead jobs stay until an operator purges them */
    pg_script(a, "BEGIN");
    pg_script(a, "SELECT id FROM jobs WHERE id = 'j1' FOR UPDATE");
    cn_val_t v[] = {CN_VINT(100), CN_VINT(2)};
    int64_t changes = 0;
    cn_err_t err = {0};
    pg_must(cn_pg_run(b, cn__jobs_sql_purge.postgres, v, 2, NULL, &changes, &err), &err, "purge");
    assert_int_equal(changes, 2); /* its limit, without j1 */
    pg_must(cn_pg_run(b, cn__jobs_sql_purge.postgres, v, 2, NULL, &changes, &err), &err, "purge");
    assert_int_equal(changes, 1);
    pg_script(a, "COMMIT");
    assert_int_equal(count("SELECT COUNT(*) FROM jobs WHERE id = 'j1'"), 1);
    pg_must(cn_pg_run(b, cn__jobs_sql_purge.postgres, v, 2, NULL, &changes, &err), &err, "purge");
    assert_int_equal(changes, 1);
    assert_int_equal(count("SELECT COUNT(*) FROM jobs"), 2); /* j5 and the dead j6 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_claims_take_disjoint_jobs),
        cmocka_unit_test(test_reclaim_and_dead_skip_locked_rows),
        cmocka_unit_test(test_purge_deletes_old_done_jobs_and_skips_locked_ones),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
