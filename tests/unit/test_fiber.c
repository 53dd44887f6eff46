/*
 * Unit tests for fibers (src/base/fiber.h): a fiber that returns at once, one that suspends
 * and resumes in turns, a hundred interleaved fibers whose stacks must not touch, the
 * on_switch calls in order, ten thousand fibers through the pool, a deep stack, and misuse
 * aborting (in a child process). Run in the normal, ASan and TSan builds.
 */
#include "base/fiber.h"

#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

static void set_flag(void *arg)
{
    *(int *)arg = 1;
}

static void test_returns_at_once(void **state)
{
    int ran = 0;
    assert_null(cn_fiber_start(set_flag, &ran, NULL, NULL));
    assert_int_equal(ran, 1);
    assert_null(cn_fiber_current());
}

typedef struct {
    int step;         /* written by the fiber between suspensions */
    cn_fiber_t *self; /* cn_fiber_current() as the fiber saw it */
    int moved;        /* cn_fiber_current() changed across a suspension */
} steps_t;

/* The fibers record what they see and the test asserts on the thread's own stack: a
 * failing cmocka assertion longjmps, which must not leave a fiber's stack. */

static void three_steps(void *arg)
{
    steps_t *s = arg;
    s->self = cn_fiber_current();
    for (int i = 1; i <= 3; i++) {
        s->step = i;
        cn_fiber_suspend();
        s->moved |= cn_fiber_current() != s->self;
    }
    s->step = 4;
}

static void test_suspend_three_times(void **state)
{
    steps_t s = {0};
    cn_fiber_t *f = cn_fiber_start(three_steps, &s, NULL, NULL);
    assert_non_null(f);
    assert_ptr_equal(s.self, f);
    assert_int_equal(s.step, 1);
    assert_null(cn_fiber_current());
    assert_int_equal(cn_fiber_resume(f), 1);
    assert_int_equal(s.step, 2);
    assert_int_equal(cn_fiber_resume(f), 1);
    assert_int_equal(s.step, 3);
    assert_int_equal(cn_fiber_resume(f), 0);
    assert_int_equal(s.step, 4);
    assert_false(s.moved);
    assert_null(cn_fiber_current());
}

#define N_FIBERS 100
#define LOCALS 16384

typedef struct {
    int id;
    int rounds; /* suspensions left */
    int checked;
    int bad; /* a byte of its locals was not its id */
} worker_t;

/* Fills 16 KiB of its stack with its id and checks it after every resume: a fiber that
 * ran on another's stack, or a switch that lost registers, shows up as a wrong byte. */
static void worker(void *arg)
{
    worker_t *w = arg;
    unsigned char locals[LOCALS];
    memset(locals, w->id, sizeof(locals));
    while (w->rounds > 0) {
        w->rounds--;
        cn_fiber_suspend();
        for (size_t i = 0; i < sizeof(locals); i++)
            w->bad |= locals[i] != (unsigned char)w->id;
        w->checked++;
    }
}

static void test_interleaved(void **state)
{
    static worker_t w[N_FIBERS];
    cn_fiber_t *f[N_FIBERS];
    for (int i = 0; i < N_FIBERS; i++) {
        w[i] = (worker_t){.id = i + 1, .rounds = 1 + i % 5};
        f[i] = cn_fiber_start(worker, &w[i], NULL, NULL);
        assert_non_null(f[i]);
    }
    for (int live = N_FIBERS; live > 0;) {
        for (int i = 0; i < N_FIBERS; i++) {
            if (f[i] != NULL && cn_fiber_resume(f[i]) == 0) {
                f[i] = NULL;
                live--;
            }
        }
    }
    for (int i = 0; i < N_FIBERS; i++) {
        assert_false(w[i].bad);
        assert_int_equal(w[i].rounds, 0);
        assert_int_equal(w[i].checked, 1 + i % 5);
    }
}

typedef struct {
    char log[32]; /* '1' for each switch in, '0' for each switch out, 'S' at suspend */
    size_t n;
    cn_fiber_t *seen; /* cn_fiber_current() inside on_switch */
} switches_t;

static void on_switch(void *ud, int in)
{
    switches_t *s = ud;
    s->log[s->n++] = in ? '1' : '0';
    s->seen = cn_fiber_current();
}

static void suspend_twice(void *arg)
{
    switches_t *s = arg;
    s->log[s->n++] = 'S';
    cn_fiber_suspend();
    s->log[s->n++] = 'S';
    cn_fiber_suspend();
    s->log[s->n++] = 'R';
}

static void test_on_switch_order(void **state)
{
    switches_t s = {0};
    cn_fiber_t *f = cn_fiber_start(suspend_twice, &s, on_switch, &s);
    assert_non_null(f);
    assert_string_equal(s.log, "1S0");
    assert_ptr_equal(s.seen, f);
    assert_int_equal(cn_fiber_resume(f), 1);
    assert_string_equal(s.log, "1S01S0");
    assert_int_equal(cn_fiber_resume(f), 0);
    assert_string_equal(s.log, "1S01S01R0");
    assert_ptr_equal(s.seen, f); /* the last call still ran on the fiber */
}

static void suspend_once(void *arg)
{
    (*(int *)arg)++;
    cn_fiber_suspend();
    (*(int *)arg)++;
}

/* More fibers than the pool keeps, both alive at once and one after another: under ASan,
 * a stack or struct lost on the way is a leak report. */
static void test_pool_reuse(void **state)
{
    int count = 0;
    for (int i = 0; i < 10000; i++) {
        cn_fiber_t *f = cn_fiber_start(suspend_once, &count, NULL, NULL);
        assert_non_null(f);
        assert_int_equal(cn_fiber_resume(f), 0);
    }
    assert_int_equal(count, 20000);
    cn_fiber_t *f[200];
    for (int i = 0; i < 200; i++)
        f[i] = cn_fiber_start(suspend_once, &count, NULL, NULL);
    for (int i = 0; i < 200; i++)
        assert_int_equal(cn_fiber_resume(f[i]), 0);
    assert_int_equal(count, 20400);
    cn_fiber_thread_exit();
    assert_null(cn_fiber_start(set_flag, &count, NULL, NULL)); /* a new pool after exit */
    assert_int_equal(count, 1);
    cn_fiber_thread_exit();
}

/* 64 frames of 1 KiB each, every byte written and read back. */
static unsigned deep(int depth)
{
    volatile unsigned char frame[1024];
    for (size_t i = 0; i < sizeof(frame); i++)
        frame[i] = (unsigned char)(depth + i);
    unsigned sum = depth > 0 ? deep(depth - 1) : 0;
    for (size_t i = 0; i < sizeof(frame); i++)
        sum += frame[i];
    return sum;
}

static void deep_fiber(void *arg)
{
    unsigned first = deep(64);
    cn_fiber_suspend();
    *(unsigned *)arg = first == deep(64) ? first : 0;
}

static void test_deep_stack(void **state)
{
    unsigned sum = 0;
    cn_fiber_t *f = cn_fiber_start(deep_fiber, &sum, NULL, NULL);
    assert_non_null(f);
    assert_int_equal(cn_fiber_resume(f), 0);
    assert_int_equal(sum, deep(64)); /* the same sums on the thread's own stack */
}

static void resume_inside(void *arg)
{
    cn_fiber_resume((cn_fiber_t *)arg);
}

static void start_inside(void *arg)
{
    cn_fiber_start(set_flag, arg, NULL, NULL);
}

/* Runs misuse number which in a child, which must die of abort(). */
static void expect_abort(int which)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int flag = 0;
        dup2(open("/dev/null", O_WRONLY), 2); /* the expected fatal message */
        /* fibers of its own: ThreadSanitizer loses track of the parent's after fork() */
        cn_fiber_thread_exit();
        cn_fiber_t *f;
        switch (which) {
        case 0: cn_fiber_suspend(); break;
        case 1: cn_fiber_start(start_inside, &flag, NULL, NULL); break;
        case 2:
            f = cn_fiber_start(suspend_once, &flag, NULL, NULL);
            cn_fiber_start(resume_inside, f, NULL, NULL);
            break;
        case 3:
            f = cn_fiber_start(suspend_once, &flag, NULL, NULL);
            cn_fiber_resume(f);
            cn_fiber_resume(f); /* finished */
            break;
        }
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT)
        fail_msg("misuse %d: the child did not abort (status %d)", which, status);
}

static void test_misuse_aborts(void **state)
{
    for (int which = 0; which < 4; which++)
        expect_abort(which);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_returns_at_once), cmocka_unit_test(test_suspend_three_times),
        cmocka_unit_test(test_interleaved),     cmocka_unit_test(test_on_switch_order),
        cmocka_unit_test(test_pool_reuse),      cmocka_unit_test(test_deep_stack),
        cmocka_unit_test(test_misuse_aborts),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    cn_fiber_thread_exit();
    return rc;
}
