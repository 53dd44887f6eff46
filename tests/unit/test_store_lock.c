/*
 * The process write lock as event loops take it (cn_store_batch_try_begin): a loop that
 * finds it held is told CN_EBUSY instead of blocking, is woken when it is released, and
 * then goes first: the releasing loop yields for the hand-off even if it asks again at once.
 * A loop that asks again the moment it has committed does not keep the checkpointer out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store/store_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char dir[64];
static cn_store_t *a, *b;
static int woken_a, woken_b;

static void wake(void *ud)
{
    ++*(int *)ud;
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/cairn-lock-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    cn_store_opts_t opts = {.data_dir = dir, .busy_timeout_ms = 1000};
    cn_err_t err = {0};
    if (cn_store_open(&opts, &a, &err) != 0 || cn_store_open(&opts, &b, &err) != 0)
        return -1;
    if (cn_store_exec(a, "CREATE TABLE t (v INTEGER)", NULL, 0, NULL, &err) != 0)
        return -1;
    cn_store_set_batching(a, 1);
    cn_store_set_batching(b, 1);
    cn_store_set_waker(a, wake, &woken_a);
    cn_store_set_waker(b, wake, &woken_b);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cn_store_close(a);
    cn_store_close(b);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd);
}

static int64_t count_rows(cn_store_t *s)
{
    cn_err_t err = {0};
    cn_stmt_t *st = NULL;
    assert_int_equal(cn_store_query(s, "SELECT count(*) FROM t", NULL, 0, &st, &err), 0);
    assert_int_equal(cn_stmt_step(st, &err), CN_ROW);
    int64_t n = cn_stmt_int(st, 0);
    cn_stmt_finish(st);
    return n;
}

static void test_busy_then_woken_then_handed_over(void **state)
{
    (void)state;
    cn_err_t err = {0};
    assert_int_equal(cn_store_batch_try_begin(a, &err), 0);
    assert_int_equal(cn_store_exec(a, "INSERT INTO t VALUES (1)", NULL, 0, NULL, &err), 0);

    assert_int_equal(cn_store_batch_try_begin(b, &err), CN_STORE_LOCKED); /* a holds it */
    assert_int_equal(cn_store_batch_try_begin(b, &err), CN_STORE_LOCKED); /* still; one waiter */
    assert_int_equal(woken_b, 0);

    assert_int_equal(cn_store_batch_commit(a, &err), 0);
    assert_int_equal(woken_b, 1); /* woken once, though it asked twice */
    assert_int_equal(woken_a, 0);

    /* a asks again at once: b waited, so a yields during the hand-off */
    assert_int_equal(cn_store_batch_try_begin(a, &err), CN_STORE_LOCKED);
    assert_int_equal(cn_store_batch_try_begin(b, &err), 0);
    assert_int_equal(cn_store_exec(b, "INSERT INTO t VALUES (2)", NULL, 0, NULL, &err), 0);
    assert_int_equal(cn_store_batch_commit(b, &err), 0);
    assert_int_equal(woken_a, 1);

    assert_int_equal(cn_store_batch_try_begin(a, &err), 0); /* no hand-off pending for a */
    assert_int_equal(count_rows(a), 2);
    assert_int_equal(cn_store_batch_commit(a, &err), 0);
}

static void test_removed_waker_is_not_called(void **state)
{
    (void)state;
    cn_err_t err = {0};
    int before = woken_b;
    assert_int_equal(cn_store_batch_try_begin(a, &err), 0);
    assert_int_equal(cn_store_exec(a, "INSERT INTO t VALUES (3)", NULL, 0, NULL, &err), 0);
    assert_int_equal(cn_store_batch_try_begin(b, &err), CN_STORE_LOCKED);
    cn_store_set_waker(b, NULL, NULL); /* a loop that is going away */
    assert_int_equal(cn_store_batch_commit(a, &err), 0);
    assert_int_equal(woken_b, before);
    /* without a waker the begin blocks instead, so it succeeds */
    assert_int_equal(cn_store_batch_try_begin(b, &err), 0);
    assert_int_equal(cn_store_batch_commit(b, &err), 0);
    cn_store_set_waker(b, wake, &woken_b);
}

static _Atomic int checkpoints, stop_checkpoints;

static void *checkpoint_loop(void *arg)
{
    cn_store_t *c = arg;
    while (!stop_checkpoints) {
        cn_err_t err = {0};
        if (cn_store_checkpoint(c, &err) == 0)
            checkpoints++;
        usleep(1000);
    }
    return NULL;
}

static void test_checkpointer_is_not_starved(void **state)
{
    (void)state;
    cn_err_t err = {0};
    cn_store_opts_t opts = {.data_dir = dir, .busy_timeout_ms = 1000};
    cn_store_t *c = NULL;
    assert_int_equal(cn_store_open(&opts, &c, &err), 0);
    pthread_t t;
    pthread_create(&t, NULL, checkpoint_loop, c);
    /* a loop with a write in every turn and nothing else to do: it asks again the moment it
     * has released the lock, before the blocked checkpointer has woken */
    uint64_t until = cn_now_ns() + 2000000000u;
    while (checkpoints < 5 && cn_now_ns() < until) {
        int rc = cn_store_batch_try_begin(a, &err);
        if (rc == CN_STORE_LOCKED)
            continue;
        assert_int_equal(rc, 0);
        assert_int_equal(cn_store_exec(a, "INSERT INTO t VALUES (4)", NULL, 0, NULL, &err), 0);
        assert_int_equal(cn_store_batch_commit(a, &err), 0);
    }
    int done = checkpoints;
    stop_checkpoints = 1;
    pthread_join(t, NULL);
    cn_store_close(c);
    assert_true(done >= 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_busy_then_woken_then_handed_over),
        cmocka_unit_test(test_removed_waker_is_not_called),
        cmocka_unit_test(test_checkpointer_is_not_starved),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
