/*
 * Event bus on a real SQLite store: events reach subscribers only after their
 * transaction commits, in order; a rolled-back batch or unit of work publishes nothing
 * and gives its numbers back; the history replays gap-free or asks for a resync; the
 * numbers come from the database, so a channel another process wrote to goes on from
 * where that process left it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/events.h"
#include "core/events_int.h"
#include "store/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];
static cn_store_t *s;

static struct {
    int64_t seq[64];
    char type[64][32];
    char tenant[64][40];
    int n;
} got;

static void record(const cn_event_t *ev, void *ud)
{
    (void)ud;
    if (got.n == 64)
        return;
    got.seq[got.n] = ev->seq;
    snprintf(got.type[got.n], sizeof(got.type[0]), "%s", ev->type);
    snprintf(got.tenant[got.n], sizeof(got.tenant[0]), "%s", ev->tenant_id);
    __atomic_store_n(&got.n, got.n + 1, __ATOMIC_RELEASE);
}

static int setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/cairn-events-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    cn_store_opts_t opts = {.data_dir = dir, .busy_timeout_ms = 1000};
    cn_err_t err = {0};
    cn_migration_set_t set = {"realtime", cn_events_migrations};
    if (cn_store_open(&opts, &s, &err) != 0 || cn_migrate(s, &set, 1, 0, NULL, NULL, &err) != 0)
        return -1;
    cn_store_set_batching(s, 1);
    cn_store_add_hook(&cn_events_hook);
    cn_events_configure(10, 3600);
    cn_events_subscribe("note.", record, NULL);
    memset(&got, 0, sizeof(got));
    return 0;
}

static int teardown(void **state)
{
    cn_events_relay_stop();
    cn_store_close(s);
    cn_store_clear_hooks();
    cn_events_reset();
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd);
}

static void start_relay(void)
{
    cn_store_opts_t opts = {.data_dir = dir, .busy_timeout_ms = 1000};
    cn_err_t err = {0};
    cn_store_t *r;
    assert_int_equal(cn_store_open(&opts, &r, &err), 0);
    assert_int_equal(cn_events_relay_start(r, &err), 0);
}

/* Polls (the relay delivers on its own thread) until n events came; no timing asserted. */
static void wait_for(int n)
{
    for (int i = 0; i < 500 && __atomic_load_n(&got.n, __ATOMIC_ACQUIRE) < n; i++)
        usleep(10000);
    assert_int_equal(__atomic_load_n(&got.n, __ATOMIC_ACQUIRE), n);
}

static int publish(const char *tenant, const char *type)
{
    cn_err_t err = {0};
    return cn_event_publish_text(s, tenant, "notes", type, "{}", 2, &err);
}

static void test_delivered_after_commit_in_order(void **state)
{
    cn_err_t err = {0};
    assert_int_equal(publish("t1", "note.created"), 0); /* opens the batch by itself */
    assert_int_equal(publish("t1", "note.updated"), 0);
    assert_int_equal(publish("t2", "note.created"), 0);
    assert_int_equal(publish("t1", "other.thing"), 0); /* numbered, not for our prefix */
    assert_int_equal(got.n, 0);                        /* nothing before the commit */
    assert_int_equal(cn_store_batch_commit(s, &err), 0);
    assert_int_equal(got.n, 3);
    assert_int_equal(got.seq[0], 1);
    assert_string_equal(got.type[1], "note.updated");
    assert_int_equal(got.seq[1], 2);
    assert_string_equal(got.tenant[2], "t2");
    assert_int_equal(got.seq[2], 1); /* every tenant's channel counts on its own */
    cn_position_t pos;
    assert_int_equal(cn_events_position(s, "t1", "notes", &pos.seq, pos.epoch, &err), 0);
    assert_int_equal(pos.seq, 3);
    assert_int_equal((int)strlen(pos.epoch), CN_EPOCH_LEN);
}

static void test_rolled_back_batch_publishes_nothing(void **state)
{
    cn_err_t err = {0};
    assert_int_equal(publish("t1", "note.created"), 0);
    assert_int_equal(cn_store_batch_commit(s, &err), 0);
    assert_int_equal(publish("t1", "note.lost"), 0);
    cn_store_batch_fail(s);
    assert_int_not_equal(cn_store_batch_commit(s, &err), 0);
    assert_int_equal(got.n, 1);
    assert_int_equal(publish("t1", "note.kept"), 0);
    assert_int_equal(cn_store_batch_commit(s, &err), 0);
    assert_int_equal(got.n, 2);
    assert_int_equal(got.seq[1], 2); /* the lost event's number was given back */
}

static void test_rolled_back_unit_gives_its_numbers_back(void **state)
{
    cn_err_t err = {0};
    assert_int_equal(publish("t1", "note.a"), 0);
    assert_int_equal(cn_store_begin(s, &err), 0);
    assert_int_equal(publish("t1", "note.b"), 0);
    assert_int_equal(publish("t1", "note.c"), 0);
    cn_store_rollback(s);
    assert_int_equal(cn_store_begin(s, &err), 0);
    assert_int_equal(publish("t1", "note.d"), 0);
    assert_int_equal(cn_store_commit(s, &err), 0);
    assert_int_equal(cn_store_batch_commit(s, &err), 0);
    assert_int_equal(got.n, 2);
    assert_string_equal(got.type[0], "note.a");
    assert_string_equal(got.type[1], "note.d");
    assert_int_equal(got.seq[1], 2);
}

static int collect(const cn_event_t *ev, void *ud)
{
    int64_t *last = ud;
    if (ev->seq != *last + 1)
        return -99;
    *last = ev->seq;
    return 0;
}

static void test_replay_and_resync(void **state)
{
    cn_err_t err = {0};
    for (int i = 0; i < 100; i++) { /* 100 events, history of 10 (pruned every 64) */
        assert_int_equal(publish("t1", "note.x"), 0);
        assert_int_equal(cn_store_batch_commit(s, &err), 0);
    }
    cn_position_t pos;
    assert_int_equal(cn_events_position(s, "t1", "notes", &pos.seq, pos.epoch, &err), 0);
    assert_int_equal(pos.seq, 100);
    int64_t last = 95;
    assert_int_equal(cn_events_replay(s, "t1", "notes", 95, pos.epoch, &pos, collect, &last, &err),
                     0);
    assert_int_equal(last, 100);
    last = 0; /* seq 1 was pruned */
    assert_int_equal(cn_events_replay(s, "t1", "notes", 0, NULL, &pos, collect, &last, &err),
                     CN_RESYNC);
    assert_int_equal(last, 0); /* nothing was sent before the gap was found */
    last = 95;
    assert_int_equal(
        cn_events_replay(s, "t1", "notes", 95, "0000000000000000", &pos, collect, &last, &err),
        CN_RESYNC);
    assert_int_equal(cn_events_replay(s, "t1", "notes", 101, NULL, &pos, collect, &last, &err),
                     CN_RESYNC); /* a position from the future: the numbering restarted */
    last = 100;
    assert_int_equal(cn_events_replay(s, "t1", "notes", 100, NULL, &pos, collect, &last, &err), 0);
    assert_int_equal(last, 100);
}

/* Another process (a second node on the same database) adds two events to a channel this
 * one has already written: the next event here continues after them instead of reusing
 * their numbers, and the history stays gap-free. */
static void test_numbers_continue_after_another_writer(void **state)
{
    cn_err_t err = {0};
    assert_int_equal(publish("t1", "note.a"), 0);
    assert_int_equal(publish("t1", "note.b"), 0);
    assert_int_equal(cn_store_batch_commit(s, &err), 0);
    cn_store_opts_t opts = {.data_dir = dir, .busy_timeout_ms = 1000};
    cn_store_t *other;
    assert_int_equal(cn_store_open(&opts, &other, &err), 0);
    assert_int_equal(cn_store_begin(other, &err), 0);
    assert_int_equal(cn_store_exec(other,
                                   "UPDATE realtime_channels SET seq = seq + 2"
                                   " WHERE tenant_id = 't1' AND channel = 'notes'",
                                   NULL, 0, NULL, &err),
                     0);
    assert_int_equal(cn_store_exec(other,
                                   "INSERT INTO realtime_events (tenant_id, channel, seq, type,"
                                   " data, at) VALUES ('t1', 'notes', 3, 'note.c', '{}', $1),"
                                   " ('t1', 'notes', 4, 'note.d', '{}', $1)",
                                   (cn_val_t[]){CN_VINT(cn_now_ms())}, 1, NULL, &err),
                     0);
    assert_int_equal(cn_store_commit(other, &err), 0);
    cn_store_close(other);
    assert_int_equal(publish("t1", "note.e"), 0);
    assert_int_equal(cn_store_batch_commit(s, &err), 0);
    /* 5 waits for 3 and 4, which never came here: the relay reads them from the history */
    assert_int_equal(got.n, 2);
    start_relay();
    wait_for(5);
    assert_string_equal(got.type[2], "note.c");
    assert_int_equal(got.seq[3], 4);
    assert_int_equal(got.seq[4], 5);
    assert_string_equal(got.type[4], "note.e");
    cn_position_t pos;
    assert_int_equal(cn_events_position(s, "t1", "notes", &pos.seq, pos.epoch, &err), 0);
    assert_int_equal(pos.seq, 5);
    int64_t last = 0;
    assert_int_equal(cn_events_replay(s, "t1", "notes", 0, pos.epoch, &pos, collect, &last, &err),
                     0);
    assert_int_equal(last, 5);
}

static void accept_seq(int64_t seq)
{
    cn_event_t ev = {"t9", "notes", "note.x", "{}", 2, seq, "00000000000000e1", 1};
    cn__events_accept(&ev);
}

/* Commits of two loops (or nodes) reach this process out of order: a channel a subscriber
 * waits on delivers seq after seq, holds what comes early, drops what comes twice, and its
 * position is never older than what was delivered. */
static void test_out_of_order_arrivals_deliver_in_seq_order(void **state)
{
    int64_t seq = 4;
    char epoch[CN_EPOCH_LEN + 1] = "00000000000000e1";
    cn__events_floor("t9", "notes", &seq, epoch); /* a subscriber read position 4 */
    assert_int_equal(seq, 4);
    accept_seq(7);
    accept_seq(6);
    assert_int_equal(got.n, 0); /* 5 has not come */
    accept_seq(5);
    assert_int_equal(got.n, 3);
    accept_seq(6); /* again (a fill overlapping the bus) */
    accept_seq(3);
    assert_int_equal(got.n, 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(got.seq[i], 5 + i);
    seq = 5; /* the database answered older than what was delivered */
    cn__events_floor("t9", "notes", &seq, epoch);
    assert_int_equal(seq, 7);
    /* a restore restarted the numbering: the new epoch starts over */
    cn_event_t ev = {"t9", "notes", "note.x", "{}", 2, 1, "00000000000000e2", 1};
    cn__events_accept(&ev);
    assert_int_equal(got.n, 4);
    assert_int_equal(got.seq[3], 1);
}

/* Several channels in one transaction, interleaved: each counts on its own, in the order
 * its events were published. */
static void test_interleaved_channels_number_in_publication_order(void **state)
{
    cn_err_t err = {0};
    const char *tenants[] = {"t2", "t1", "t2", "t3", "t1", "t2"};
    const int64_t want[] = {1, 1, 2, 1, 2, 3};
    for (int i = 0; i < 6; i++)
        assert_int_equal(publish(tenants[i], "note.x"), 0);
    assert_int_equal(cn_store_batch_commit(s, &err), 0);
    assert_int_equal(got.n, 6);
    for (int i = 0; i < 6; i++) { /* delivered in publication order, numbered per channel */
        assert_string_equal(got.tenant[i], tenants[i]);
        assert_int_equal(got.seq[i], want[i]);
    }
}

static void test_publish_needs_a_transaction_and_a_valid_channel(void **state)
{
    cn_err_t err = {0};
    cn_store_set_batching(s, 0);
    assert_int_not_equal(publish("t1", "note.x"), 0);
    assert_int_equal(cn_store_begin(s, &err), 0);
    assert_int_equal(publish("t1", "note.x"), 0);
    assert_int_not_equal(cn_event_publish_text(s, "t1", "no spaces", "note.x", "{}", 2, &err), 0);
    assert_int_equal(cn_store_commit(s, &err), 0); /* a plain transaction delivers too */
    assert_int_equal(got.n, 1);
    assert_true(cn_events_channel_valid("chat:conv-1.a_b"));
    assert_false(cn_events_channel_valid(""));
    char longname[CN_CHANNEL_MAX + 2];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_false(cn_events_channel_valid(longname));
    cn_store_set_batching(s, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_delivered_after_commit_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rolled_back_batch_publishes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rolled_back_unit_gives_its_numbers_back, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_replay_and_resync, setup, teardown),
        cmocka_unit_test_setup_teardown(test_numbers_continue_after_another_writer, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_out_of_order_arrivals_deliver_in_seq_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_interleaved_channels_number_in_publication_order,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_publish_needs_a_transaction_and_a_valid_channel, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
