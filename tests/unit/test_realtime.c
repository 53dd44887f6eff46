/*
 * The hub's fan-out while loops subscribe and unsubscribe: every delivery is posted to
 * exactly as many loops as it holds references for. Another thread flips one loop between
 * zero and one subscriber (as a loop thread does, without the hub's lock) while events are
 * published; each loop's receiver counts the messages of every delivery. The .c is
 * included to reach on_event and the delivery's reference count.
 */
#include "core/realtime.c"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#define ROUND 2000 /* events published between two checks */
#define ROUNDS 50

static atomic_int flipping;
static struct {
    delivery_t **d; /* one entry per message received, in any order */
    size_t n, cap;
} got;

static void on_messages(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    (void)receiver;
    while (!h2o_linklist_is_empty(messages)) {
        dmsg_t *m = H2O_STRUCT_FROM_MEMBER(dmsg_t, super.link, messages->next);
        h2o_linklist_unlink(&m->super.link);
        if (got.n == got.cap) {
            got.cap = got.cap ? got.cap * 2 : 1024;
            got.d = realloc(got.d, got.cap * sizeof(*got.d));
        }
        got.d[got.n++] = m->d;
    }
}

/* a loop thread's subscribe and unsubscribe, as fast as it can */
static void *flip(void *arg)
{
    hub_t *hub = arg;
    while (atomic_load(&flipping)) {
        atomic_fetch_add(&hub->n_subs, 1);
        sched_yield();
        atomic_fetch_sub(&hub->n_subs, 1);
        sched_yield();
    }
    return NULL;
}

static int by_address(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (delivery_t *const *)a, y = (uintptr_t) * (delivery_t *const *)b;
    return x < y ? -1 : x > y;
}

/* Reads every message posted so far, then checks and releases their deliveries. */
static void check_round(h2o_evloop_t *loop)
{
    size_t before;
    do {
        before = got.n;
        h2o_evloop_run(loop, 10);
    } while (got.n != before || got.n < ROUND);
    /* the messages of one delivery are its references: no more (a loop would read it
     * after the last release freed it), no fewer (it would never be freed) */
    qsort(got.d, got.n, sizeof(*got.d), by_address);
    size_t deliveries = 0;
    for (size_t i = 0; i < got.n;) {
        size_t j = i;
        while (j < got.n && got.d[j] == got.d[i])
            j++;
        assert_int_equal(j - i, atomic_load(&got.d[i]->refs));
        for (; i < j; i++)
            release(got.d[i]);
        deliveries++;
    }
    assert_int_equal(deliveries, ROUND);
    got.n = 0;
}

static void test_each_delivery_has_one_reference_per_message(void **state)
{
    (void)state;
    h2o_evloop_t *loop = h2o_evloop_create();
    h2o_multithread_queue_t *queue = h2o_multithread_create_queue(loop);
    cn_realtime_init(2);
    for (int i = 0; i < 2; i++) {
        h2o_multithread_register_receiver(queue, &cn__realtime.hubs[i].receiver, on_messages);
        cn__realtime.hubs[i].bound = 1;
    }
    atomic_store(&cn__realtime.hubs[0].n_subs, 1); /* always a target; hub 1 comes and goes */
    atomic_store(&flipping, 1);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, flip, &cn__realtime.hubs[1]), 0);
    cn_event_t ev = {"tenant", "notes", "note.created", "{}", 2, 1, "00ff", 0};
    for (int round = 0; round < ROUNDS; round++) {
        for (int i = 0; i < ROUND; i++, ev.seq++)
            on_event(&ev, NULL);
        check_round(loop);
    }
    atomic_store(&flipping, 0);
    pthread_join(t, NULL);
    for (int i = 0; i < 2; i++)
        h2o_multithread_unregister_receiver(queue, &cn__realtime.hubs[i].receiver);
    h2o_multithread_destroy_queue(queue);
    h2o_evloop_destroy(loop);
    free(got.d);
    free(cn__realtime.hubs);
    cn__realtime.hubs = NULL;
    cn__realtime.n_hubs = 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_delivery_has_one_reference_per_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
