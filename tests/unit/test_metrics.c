/*
 * Unit tests for the Prometheus histogram type (src/core/metrics.h) that the request,
 * store and job metrics share: bucket boundaries (le is inclusive), cumulative rendering
 * in the exact text format, labelled and unlabelled series, merging per-thread copies and
 * the many-writer variant.
 */
#include "core/metrics.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static const double le[] = {0.001, 0.5, 2.5};
static const cn_hist_bounds_t bounds = {le, 3};

static void test_boundaries_and_text(void **state)
{
    cn_hist_t h = {0};
    cn_hist_observe(&h, &bounds, 1000000);    /* exactly 1 ms: in le="0.001" */
    cn_hist_observe(&h, &bounds, 1000001);    /* just above: le="0.5" */
    cn_hist_observe(&h, &bounds, 500000000);  /* exactly 0.5 s */
    cn_hist_observe(&h, &bounds, 2500000001); /* above every bound: +Inf only */
    cn_buf_t out = {0};
    cn_hist_render(&out, "x_seconds", "", &bounds, &h);
    assert_string_equal(out.data, "x_seconds_bucket{le=\"0.001\"} 1\n"
                                  "x_seconds_bucket{le=\"0.5\"} 3\n"
                                  "x_seconds_bucket{le=\"2.5\"} 3\n"
                                  "x_seconds_bucket{le=\"+Inf\"} 4\n"
                                  "x_seconds_sum 3.002000002\n"
                                  "x_seconds_count 4\n");
    out.len = 0;
    cn_hist_render(&out, "x_seconds", "name=\"a\"", &bounds, &h);
    assert_string_equal(out.data, "x_seconds_bucket{name=\"a\",le=\"0.001\"} 1\n"
                                  "x_seconds_bucket{name=\"a\",le=\"0.5\"} 3\n"
                                  "x_seconds_bucket{name=\"a\",le=\"2.5\"} 3\n"
                                  "x_seconds_bucket{name=\"a\",le=\"+Inf\"} 4\n"
                                  "x_seconds_sum{name=\"a\"} 3.002000002\n"
                                  "x_seconds_count{name=\"a\"} 4\n");
    cn_buf_free(&out);
}

static void test_merge(void **state)
{
    cn_hist_t a = {0}, b = {0}, sum = {0};
    cn_hist_observe(&a, &bounds, 10);
    cn_hist_observe(&b, &bounds, 10);
    cn_hist_observe(&b, &bounds, 3000000000);
    cn_hist_merge(&sum, &a);
    cn_hist_merge(&sum, &b);
    assert_int_equal(sum.bucket[0], 2);
    assert_int_equal(sum.bucket[3], 1);
    assert_int_equal(sum.count, 3);
    assert_int_equal(sum.sum_ns, 3000000020);
}

static cn_hist_t shared;

static void *observe_many(void *arg)
{
    for (int i = 0; i < 100000; i++)
        cn_hist_observe_shared(&shared, &bounds, (uint64_t)(i % 2) * 1000000000);
    return NULL;
}

/* Four threads writing one histogram lose no observation. */
static void test_shared_writers(void **state)
{
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, observe_many, NULL), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(shared.count, 400000);
    assert_int_equal(shared.bucket[0], 200000);
    assert_int_equal(shared.bucket[2], 200000);
    assert_int_equal(shared.sum_ns, 200000ull * 1000000000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_boundaries_and_text),
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_shared_writers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
