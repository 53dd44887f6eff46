/* The cluster bus against a real nats-server on loopback (the nats fixture,
 * scripts/nats-test): two buses in one process stand for two nodes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/bus.h"
#include "core/cache.h"

#include <nats/nats.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char nats_dir[512];
static char nats_url[256];

static void read_url(void)
{
    const char *dir = getenv("CAIRN_TEST_NATS_DIR");
    snprintf(nats_dir, sizeof(nats_dir), "%s", dir ? dir : ".");
    char path[600];
    snprintf(path, sizeof(path), "%s/url", nats_dir);
    FILE *f = fopen(path, "r");
    if (f == NULL || fgets(nats_url, sizeof(nats_url), f) == NULL)
        fail_msg("no NATS URL in %s: does the nats_start fixture run (scripts/deps)?", path);
    fclose(f);
    nats_url[strcspn(nats_url, "\n")] = '\0';
}

typedef struct {
    pthread_mutex_t lock;
    char got[64][64];
    int n;
    atomic_int ups, downs;
} inbox_t;

static void on_msg(const char *subject, const char *data, size_t len, void *ud)
{
    inbox_t *in = ud;
    pthread_mutex_lock(&in->lock);
    if (in->n < 64)
        snprintf(in->got[in->n++], 64, "%s:%.*s", subject, (int)len, data);
    pthread_mutex_unlock(&in->lock);
}

static void on_state(int connected, void *ud)
{
    inbox_t *in = ud;
    atomic_fetch_add(connected ? &in->ups : &in->downs, 1);
}

static int count(inbox_t *in)
{
    pthread_mutex_lock(&in->lock);
    int n = in->n;
    pthread_mutex_unlock(&in->lock);
    return n;
}

static void sleep_ms(int ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* Runs scripts/nats-test what (halt, restart) on the fixture's server. */
static void nats_test(const char *what)
{
    char cmd[1200];
    const char *src = getenv("CAIRN_SOURCE_DIR");
    snprintf(cmd, sizeof(cmd), "%s/scripts/nats-test %s %s >/dev/null", src ? src : ".", what,
             nats_dir);
    assert_int_equal(system(cmd), 0);
}

/* Polls until in holds n messages; a generous deadline, no timing asserted. */
static void wait_for(inbox_t *in, int n)
{
    for (int i = 0; i < 1000 && count(in) < n; i++)
        sleep_ms(10);
    assert_int_equal(count(in), n);
}

static void wait_connected(cn_bus_t *b)
{
    for (int i = 0; i < 1000 && !cn_bus_is_connected(b); i++)
        sleep_ms(10);
    assert_true(cn_bus_is_connected(b));
}

static cn_bus_t *open_bus_of(const char *cluster, const char *name, inbox_t *in)
{
    cn_err_t err = {0};
    cn_bus_t *b;
    assert_int_equal(cn_bus_open(nats_url, name, cluster, &b, &err), 0);
    assert_non_null(b);
    assert_int_equal(cn_bus_subscribe(b, "t", on_msg, in, &err), 0);
    cn_bus_watch(b, on_state, in);
    wait_connected(b);
    return b;
}

static cn_bus_t *open_bus(const char *name, inbox_t *in)
{
    return open_bus_of("cairn", name, in);
}

/* Two clusters on one NATS (cluster.name): each node hears its own cluster only. */
static void test_clusters_on_one_nats_do_not_hear_each_other(void **state)
{
    (void)state;
    inbox_t a1 = {.lock = PTHREAD_MUTEX_INITIALIZER}, a2 = {.lock = PTHREAD_MUTEX_INITIALIZER},
            b1 = {.lock = PTHREAD_MUTEX_INITIALIZER};
    cn_bus_t *ba1 = open_bus_of("staging", "a1", &a1), *ba2 = open_bus_of("staging", "a2", &a2),
             *bb1 = open_bus_of("production", "b1", &b1);
    sleep_ms(50); /* the subscriptions are registered with the server */
    assert_int_equal(cn_bus_publish(bb1, "t", "prod", 4), 0);
    assert_int_equal(cn_bus_publish(ba1, "t", "stage", 5), 0);
    wait_for(&a2, 1);
    assert_string_equal(a2.got[0], "t:stage");
    sleep_ms(100); /* what would cross over has had time to */
    assert_int_equal(count(&a2), 1);
    assert_int_equal(count(&a1), 0);
    assert_int_equal(count(&b1), 0);
    cn_err_t err = {0};
    cn_bus_t *bad = (cn_bus_t *)1;
    assert_int_equal(cn_bus_open(nats_url, "x", "", &bad, &err), CN_EINVAL);
    cn_bus_close(ba1);
    cn_bus_close(ba2);
    cn_bus_close(bb1);
}

static void test_in_process_bus_is_none(void **state)
{
    (void)state;
    cn_err_t err = {0};
    cn_bus_t *b = (cn_bus_t *)1;
    assert_int_equal(cn_bus_open("", "x", "cairn", &b, &err), 0);
    assert_null(b);
    assert_int_equal(cn_bus_publish(NULL, "t", "x", 1), 0);
    cn_bus_set_process(NULL);
    assert_true(cn_bus_connected()); /* nothing to lose */
    cn_bus_send("t", "x", 1);
}

/* What one node publishes, the other receives in order; neither hears itself, and a
 * subject nobody handles is ignored. */
static void test_publish_reaches_the_other_node_only(void **state)
{
    (void)state;
    inbox_t a = {.lock = PTHREAD_MUTEX_INITIALIZER}, b = {.lock = PTHREAD_MUTEX_INITIALIZER};
    cn_bus_t *ba = open_bus("a", &a), *bb = open_bus("b", &b);
    sleep_ms(50); /* both subscriptions are registered with the server */
    char msg[16];
    for (int i = 0; i < 20; i++) {
        snprintf(msg, sizeof(msg), "m%d", i);
        assert_int_equal(cn_bus_publish(ba, "t", msg, strlen(msg)), 0);
    }
    assert_int_equal(cn_bus_publish(ba, "other", "x", 1), 0);
    assert_int_equal(cn_bus_publish(bb, "t", "from-b", 6), 0);
    wait_for(&b, 20);
    wait_for(&a, 1);
    for (int i = 0; i < 20; i++) {
        snprintf(msg, sizeof(msg), "t:m%d", i);
        assert_string_equal(b.got[i], msg);
    }
    assert_string_equal(a.got[0], "t:from-b");
    sleep_ms(100);
    assert_int_equal(count(&a), 1); /* no echo of its own 21 */
    assert_int_equal(count(&b), 20);
    cn_bus_close(ba);
    cn_bus_close(bb);
}

/* The server restarts: both buses say so, reconnect by themselves, and messages flow
 * again (what was published while down is either buffered or lost, never an error). */
static void test_reconnects_after_the_server_restarts(void **state)
{
    (void)state;
    inbox_t a = {.lock = PTHREAD_MUTEX_INITIALIZER}, b = {.lock = PTHREAD_MUTEX_INITIALIZER};
    cn_bus_t *ba = open_bus("a", &a), *bb = open_bus("b", &b);
    nats_test("restart");
    for (int i = 0; i < 1000 && (atomic_load(&a.downs) == 0 || !cn_bus_is_connected(ba) ||
                                 !cn_bus_is_connected(bb));
         i++)
        sleep_ms(10);
    assert_true(atomic_load(&a.downs) >= 1);
    assert_true(atomic_load(&a.ups) >= 1); /* told again once connected */
    assert_true(cn_bus_is_connected(ba));
    assert_true(cn_bus_is_connected(bb));
    /* the subscription is back on the new server once a round trip passes */
    for (int i = 0; i < 500 && count(&b) == 0; i++) {
        assert_int_equal(cn_bus_publish(ba, "t", "again", 5), 0);
        sleep_ms(20);
    }
    assert_true(count(&b) >= 1);
    assert_string_equal(b.got[0], "t:again");
    cn_bus_close(ba);
    cn_bus_close(bb);
}

/* A watcher told of a reconnection (the events relay then reads the database to catch up
 * on what the outage lost) runs only once the server has the subscription back: a message
 * published from inside it, by a client already on the new server, arrives. Without the
 * round trip before the watchers, it raced the subscription and was lost now and then. */
static struct {
    natsConnection *pc; /* the publisher, on the new server */
    atomic_int armed;   /* the watcher publishes once */
} probe;

static void on_state_probe(int connected, void *ud)
{
    on_state(connected, ud);
    if (connected && atomic_exchange(&probe.armed, 0)) {
        assert_int_equal(natsConnection_PublishString(probe.pc, "cairn.t", "probe"), NATS_OK);
        assert_int_equal(natsConnection_Flush(probe.pc), NATS_OK);
    }
}

static void test_watchers_run_once_the_subscription_is_back(void **state)
{
    (void)state;
    inbox_t b = {.lock = PTHREAD_MUTEX_INITIALIZER};
    cn_err_t err = {0};
    cn_bus_t *bb;
    assert_int_equal(cn_bus_open(nats_url, "b", "cairn", &bb, &err), 0);
    assert_int_equal(cn_bus_subscribe(bb, "t", on_msg, &b, &err), 0);
    cn_bus_watch(bb, on_state_probe, &b);
    wait_connected(bb);
    int probed = 0;
    for (int round = 0; round < 8; round++) {
        nats_test("halt");
        for (int i = 0; i < 1000 && cn_bus_is_connected(bb); i++)
            sleep_ms(10);
        assert_false(cn_bus_is_connected(bb));
        nats_test("restart");
        natsStatus s = NATS_ERR;
        for (int i = 0; i < 500 && s != NATS_OK; i++)
            if ((s = natsConnection_ConnectTo(&probe.pc, nats_url)) != NATS_OK)
                sleep_ms(10);
        assert_int_equal(s, NATS_OK);
        int before = count(&b);
        atomic_store(&probe.armed, 1);
        wait_connected(bb);
        for (int i = 0; i < 200 && atomic_load(&probe.armed); i++)
            sleep_ms(10);
        if (atomic_exchange(&probe.armed, 0) == 0) { /* it published: else bb was too quick */
            probed++;
            wait_for(&b, before + 1);
            assert_string_equal(b.got[before], "t:probe");
        }
        natsConnection_Destroy(probe.pc);
        probe.pc = NULL;
    }
    assert_true(probed >= 1);
    cn_bus_close(bb);
}

/* A bus opened while no server answers is not an error: it connects when one comes. */
static void test_opens_before_the_server_answers(void **state)
{
    (void)state;
    cn_err_t err = {0};
    cn_bus_t *b;
    assert_int_equal(cn_bus_open("nats://127.0.0.1:1", "x", "cairn", &b, &err), 0);
    assert_non_null(b);
    assert_false(cn_bus_is_connected(b));
    cn_bus_set_process(b);
    assert_false(cn_bus_connected());
    cn_bus_send("t", "x", 1); /* queued, never blocks */
    cn_bus_set_process(NULL);
    cn_bus_close(b);
}

/* Stores "v" under key in tenant t with tag x; 1 when a get then hits. */
static int cache_fill(const char *key)
{
    const char *tags[] = {"x", NULL};
    cn_cache_token_t tok;
    cn_buf_t out = {0};
    if (cn_cache_get("t", key, tags, &out, &tok) == CN_CACHE_HIT) {
        cn_buf_free(&out);
        return 1;
    }
    int rc = cn_cache_put("t", key, &tok, "v", 1, 0);
    int hit = rc == 0 && cn_cache_get("t", key, tags, &out, &tok) == CN_CACHE_HIT;
    cn_buf_free(&out);
    return hit;
}

static int cache_hit(const char *key)
{
    const char *tags[] = {"x", NULL};
    cn_cache_token_t tok;
    cn_buf_t out = {0};
    int hit = cn_cache_get("t", key, tags, &out, &tok) == CN_CACHE_HIT;
    cn_buf_free(&out);
    return hit;
}

/* The response cache on a node (bus b): another node's invalidation reaches it; while the
 * bus is away nothing is served or stored; what was stored before an outage is a miss
 * after it (an invalidation may have been lost meanwhile). */
static void test_cache_follows_the_bus(void **state)
{
    (void)state;
    cn_err_t err = {0};
    inbox_t a = {.lock = PTHREAD_MUTEX_INITIALIZER}, b = {.lock = PTHREAD_MUTEX_INITIALIZER};
    cn_bus_t *ba = open_bus("a", &a), *bb = open_bus("b", &b);
    cn_cache_init(1 << 20, 60000);
    assert_int_equal(cn_cache_attach_bus(bb, &err), 0);
    cn_bus_set_process(bb);
    assert_true(cache_fill("k1"));
    sleep_ms(50);
    assert_int_equal(cn_bus_publish(ba, "tag", "t\nx", 3), 0); /* node a changed tag x */
    for (int i = 0; i < 500 && cache_hit("k1"); i++)
        sleep_ms(10);
    assert_false(cache_hit("k1"));

    assert_true(cache_fill("k2"));
    nats_test("halt");
    for (int i = 0; i < 1000 && cn_bus_connected(); i++)
        sleep_ms(10);
    assert_false(cn_bus_connected());
    assert_false(cache_fill("k3")); /* bypassed: neither stored nor served */
    assert_false(cache_hit("k2"));
    nats_test("restart");
    wait_connected(bb);
    assert_false(cache_hit("k2")); /* stored before the outage */
    assert_true(cache_fill("k4"));
    cn_bus_set_process(NULL);
    cn_cache_free();
    cn_bus_close(ba);
    cn_bus_close(bb);
}

int main(void)
{
    read_url();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_process_bus_is_none),
        cmocka_unit_test(test_publish_reaches_the_other_node_only),
        cmocka_unit_test(test_clusters_on_one_nats_do_not_hear_each_other),
        cmocka_unit_test(test_reconnects_after_the_server_restarts),
        cmocka_unit_test(test_opens_before_the_server_answers),
        cmocka_unit_test(test_watchers_run_once_the_subscription_is_back),
        cmocka_unit_test(test_cache_follows_the_bus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
