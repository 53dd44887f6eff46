/*
 * The insights app's query side without a server: the filters parsed from a query
 * string, the keyset cursor, and the plans SQLite chooses for the statements they build
 * (spec property 7: the list, filter and trend queries are served by indexes, never by
 * scanning the interactions table).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "apps/insights/insights.h"
#include "apps/insights/internal.h"
#include "store/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TENANT "00000000-0000-7000-8000-000000000001"

static char dir[64];
static cn_store_t *s;

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/cairn-insights-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    cn_err_t err = {0};
    cn_store_opts_t opts = {.data_dir = dir, .busy_timeout_ms = 5000};
    cn_migration_set_t sets[] = {{"insights", insights_app.migrations}};
    if (cn_store_open(&opts, &s, &err) != 0 || cn_migrate(s, sets, 1, 0, NULL, NULL, &err) != 0) {
        fprintf(stderr, "setup: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cn_store_close(s);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd);
}

/* parses a JSON query object the way the router would have typed it */
static int parse(const char *json, ins_filter_t *f, cn_verrors_t *e)
{
    json_error_t jerr;
    json_t *q = json_loads(json, 0, &jerr);
    assert_non_null(q);
    memset(e, 0, sizeof(*e));
    int rc = ins_filter_parse(q, f, e);
    /* strings borrowed by f stay valid: the test's queries are static-lifetime enough */
    json_decref(q);
    return rc;
}

/* Every plan line that reads interactions, customers or rollups goes through an index. */
static void assert_plan_uses_indexes(const char *sql, const cn_val_t *args, size_t n,
                                     const char *must_contain)
{
    char eqp[INS_SQL_MAX + 32];
    snprintf(eqp, sizeof(eqp), "EXPLAIN QUERY PLAN %s", sql);
    cn_err_t err = {0};
    cn_stmt_t *st;
    assert_int_equal(cn_store_query(s, eqp, args, n, &st, &err), 0);
    char all[2048] = "";
    int rc;
    while ((rc = cn_stmt_step(st, &err)) == CN_ROW) {
        const char *d = cn_stmt_text(st, 3, NULL);
        strncat(all, d, sizeof(all) - strlen(all) - 2);
        strncat(all, "\n", sizeof(all) - strlen(all) - 1);
        if (strncmp(d, "SCAN ", 5) == 0 && strstr(d, "USING") == NULL &&
            strstr(d, "VIRTUAL TABLE") == NULL && strstr(d, "CONSTANT ROW") == NULL &&
            strncmp(d, "SCAN (subquery", 14) != 0 && /* a subquery's own rows, not a table */
            strcmp(d, "SCAN segs") != 0)             /* nor the segments' recursive CTE */
            fail_msg("full scan in the plan of\n  %s\n%s", sql, all);
    }
    cn_stmt_finish(st);
    assert_int_equal(rc, CN_DONE);
    if (must_contain && strstr(all, must_contain) == NULL)
        fail_msg("plan of\n  %s\nlacks \"%s\":\n%s", sql, must_contain, all);
}

static void check_list(const char *query, const char *must_contain)
{
    ins_filter_t f;
    cn_verrors_t e;
    json_error_t jerr;
    json_t *q = json_loads(query, 0, &jerr);
    assert_non_null(q);
    memset(&e, 0, sizeof(e));
    assert_int_equal(ins_filter_parse(q, &f, &e), 0);
    char sql[INS_SQL_MAX];
    cn_val_t args[INS_ARGS_MAX];
    size_t n = ins_filter_sql(&f, TENANT, INS_SELECT_ROWS, 1, sql, args);
    assert_plan_uses_indexes(sql, args, n, must_contain);
    n = ins_filter_sql(&f, TENANT, "SELECT COUNT(*) FROM interactions", 0, sql, args);
    assert_plan_uses_indexes(sql, args, n, NULL);
    json_decref(q);
}

static void test_list_plans_use_indexes(void **state)
{
    (void)state;
    check_list("{}", "interactions_ts");
    check_list("{\"order\": \"asc\"}", "interactions_ts");
    check_list("{\"from\": \"2026-01-01T00:00:00Z\", \"to\": \"2026-02-01T00:00:00Z\"}",
               "interactions_ts");
    check_list("{\"channels\": \"email\"}", "interactions_ts");
    check_list("{\"channels\": \"email\", \"from\": \"2026-01-01T00:00:00Z\"}", "interactions_ts");
    check_list("{\"channels\": \"email,chat,web\"}", "USING INDEX");
    check_list("{\"customer_id\": \"0190a000-0000-7000-8000-000000000001\"}",
               "interactions_customer");
    check_list("{\"sort\": \"sentiment\"}", "interactions_compound");
    check_list("{\"sentiment_min\": 0.5, \"sort\": \"sentiment\", \"order\": \"asc\"}",
               "interactions_compound");
    check_list("{\"segments\": \"gold,silver\"}", "customers_segment");
    /* in time order the sentiment bounds never pull the sentiment index in: it would read
     * every match of all time and sort them */
    check_list("{\"sentiment_max\": -0.05, \"channels\": \"email\", \"segments\": \"gold\"}",
               "interactions_ts");
    check_list("{\"sentiment_min\": 0.5}", "interactions_ts");
    char q[200], cursor[100];
    ins_filter_t f = {0};
    ins_cursor_encode(&f, 123, 0, 42, cursor, sizeof(cursor));
    snprintf(q, sizeof(q), "{\"cursor\": \"%s\"}", cursor);
    check_list(q, "interactions_ts");
}

/* The metrics read the rollups by key ranges: per channel, and per segment (the segments
 * found by seeks), with or without a segment filter. */
static void check_metrics(const char *query)
{
    ins_filter_t f;
    cn_verrors_t e;
    assert_int_equal(parse(query, &f, &e), 0);
    f.from = 0;
    f.to = 1000;
    char sql[INS_SQL_MAX];
    cn_val_t args[INS_ARGS_MAX];
    size_t n = ins_counts_sql(&f, TENANT, sql, args);
    assert_plan_uses_indexes(sql, args, n, "PRIMARY KEY (tenant_id=? AND segment=? AND channel=?");
    n = ins_segments_sql(&f, TENANT, sql, args);
    assert_plan_uses_indexes(sql, args, n,
                             "USING PRIMARY KEY (tenant_id=? AND segment=? AND channel=? AND "
                             "bucket>? AND bucket<?)");
}

static void test_other_plans_use_indexes(void **state)
{
    (void)state;
    /* an unfiltered trend reads only the all-channels rows of its range, in order */
    cn_val_t a[] = {CN_VTEXT(TENANT), CN_VINT(0), CN_VINT(1000), CN_VTEXT("*")};
    assert_plan_uses_indexes(
        "SELECT bucket, interactions, analysed, positive, neutral, negative,"
        " compound_sum FROM insight_rollups WHERE tenant_id = $1"
        " AND segment = '' AND bucket >= $2 AND bucket < $3 AND channel = $4",
        a, 4, "PRIMARY KEY (tenant_id=? AND segment=? AND channel=? AND bucket>? AND bucket<?)");
    cn_val_t c[] = {CN_VTEXT(TENANT), CN_VTEXT("0190a000-0000-7000-8000-000000000001"),
                    CN_VINT(10)};
    assert_plan_uses_indexes("SELECT id FROM interactions WHERE tenant_id = $1"
                             " AND customer_id = $2 ORDER BY ts DESC, seq DESC LIMIT $3",
                             c, 3, "interactions_customer");
    /* the analysis job reads its chunk by the row id range */
    cn_val_t range[] = {CN_VINT(1), CN_VINT(100)};
    assert_plan_uses_indexes("SELECT seq, id, customer_id, ts, channel, content, tenant_id,"
                             " (SELECT rollup_segment FROM customers c"
                             " WHERE c.tenant_id = interactions.tenant_id"
                             " AND c.external_id = interactions.customer_id)"
                             " FROM interactions WHERE seq BETWEEN $1 AND $2"
                             " AND processed_at IS NULL ORDER BY seq",
                             range, 2, "INTEGER PRIMARY KEY");
    /* a segment change reads the customer's history through its own index */
    cn_val_t hist_all[] = {CN_VTEXT(TENANT), CN_VTEXT("0190a000-0000-7000-8000-000000000001"),
                           CN_VINT(900000)};
    assert_plan_uses_indexes("SELECT ts - ts % $3, channel, COUNT(*) FROM interactions"
                             " WHERE tenant_id = $1 AND customer_id = $2 GROUP BY 1, 2 ORDER BY 1",
                             hist_all, 3, "interactions_customer");
    /* idempotent retries find the earlier row through the key's own index */
    cn_val_t key[] = {CN_VTEXT(TENANT), CN_VTEXT("retry-1")};
    assert_plan_uses_indexes("SELECT id FROM interactions WHERE tenant_id = $1"
                             " AND idempotency_key = $2",
                             key, 2, "interactions_idem");
    /* a pattern detection reads one customer's newest window */
    cn_val_t hist[] = {CN_VTEXT(TENANT), CN_VTEXT("0190a000-0000-7000-8000-000000000001"),
                       CN_VINT(0), CN_VINT(100)};
    assert_plan_uses_indexes("SELECT ts, channel, s_compound FROM interactions"
                             " WHERE tenant_id = $1 AND customer_id = $2 AND ts >= $3"
                             " ORDER BY ts DESC LIMIT $4",
                             hist, 4, "interactions_customer");
    /* search: the index yields matches newest first (the virtual table consumes the
     * ORDER BY: no sort of the matches) and stops after the candidates; each match's
     * tenant is on its index row */
    cn_val_t srch[] = {CN_VTEXT("\"refund\""), CN_VINT(21), CN_VINT(0), CN_VINT(2000),
                       CN_VTEXT(TENANT)};
    assert_plan_uses_indexes("SELECT hit, score FROM (SELECT rowid AS hit,"
                             " bm25(interactions_fts) AS score FROM interactions_fts"
                             " WHERE interactions_fts MATCH $1 AND tenant_id = $5"
                             " ORDER BY rowid DESC LIMIT $4)"
                             " ORDER BY score, hit DESC LIMIT $2 OFFSET $3",
                             srch, 5, "SCAN interactions_fts VIRTUAL TABLE");
    /* the active customers of a range: one seek per customer, never a walk over the range */
    assert_plan_uses_indexes("SELECT COUNT(*) FROM customers c WHERE c.tenant_id = $1"
                             " AND c.last_seen >= $2 AND c.first_seen < $3 AND EXISTS (SELECT 1"
                             " FROM interactions i WHERE i.tenant_id = $1"
                             " AND i.customer_id = c.external_id AND i.ts >= $2 AND i.ts < $3)",
                             a, 3, "interactions_customer");
    check_metrics("{}");
    check_metrics("{\"segments\": \"gold,silver\"}");
    assert_plan_uses_indexes("SELECT external_id FROM customers WHERE tenant_id = $1"
                             " AND external_id > $2 ORDER BY external_id LIMIT $3",
                             c, 3, NULL);
}

static void test_filter_errors_name_the_parameter(void **state)
{
    (void)state;
    ins_filter_t f;
    cn_verrors_t e;
    assert_int_equal(parse("{\"channels\": \"email,fax\"}", &f, &e), CN_EVALIDATION);
    assert_string_equal(e.items[0].field, "channels");
    assert_non_null(strstr(e.items[0].message, "fax"));
    assert_int_equal(
        parse("{\"from\": \"2026-02-01T00:00:00Z\", \"to\": \"2026-01-01T00:00:00Z\"}", &f, &e),
        CN_EVALIDATION);
    assert_string_equal(e.items[0].field, "to");
    assert_int_equal(parse("{\"sentiment_min\": 0.5, \"sentiment_max\": 0.1}", &f, &e),
                     CN_EVALIDATION);
    assert_string_equal(e.items[0].field, "sentiment_max");
    assert_int_equal(parse("{\"segments\": \"a,,b\"}", &f, &e), CN_EVALIDATION);
    assert_string_equal(e.items[0].field, "segments");
    assert_int_equal(parse("{\"segments\": \"1,2,3,4,5,6,7,8,9,10,11\"}", &f, &e), CN_EVALIDATION);
    assert_int_equal(parse("{\"cursor\": \"!!!\"}", &f, &e), CN_EVALIDATION);
    assert_string_equal(e.items[0].field, "cursor");
    assert_int_equal(parse("{\"channels\": \"web,web,chat\"}", &f, &e), 0);
    assert_int_equal(f.n_channels, 2); /* duplicates collapse */
}

static void test_cursor_round_trip(void **state)
{
    (void)state;
    ins_filter_t f, g;
    cn_verrors_t e;
    char cursor[200], q[300];
    const int64_t id = 987654321;
    assert_int_equal(parse("{}", &f, &e), 0);
    ins_cursor_encode(&f, 1767225600123, 0, id, cursor, sizeof(cursor));
    snprintf(q, sizeof(q), "{\"cursor\": \"%s\"}", cursor);
    assert_int_equal(parse(q, &g, &e), 0);
    assert_true(g.has_cursor);
    assert_int_equal(g.cursor_ts, 1767225600123);
    assert_int_equal(g.cursor_seq, id);
    /* a compound survives exactly (no rounding that would skip or repeat rows) */
    assert_int_equal(parse("{\"sort\": \"sentiment\"}", &f, &e), 0);
    ins_cursor_encode(&f, 0, -0.123456789012345678, id, cursor, sizeof(cursor));
    snprintf(q, sizeof(q), "{\"sort\": \"sentiment\", \"cursor\": \"%s\"}", cursor);
    assert_int_equal(parse(q, &g, &e), 0);
    assert_true(g.cursor_compound == -0.123456789012345678);
    /* a time cursor is refused by a sentiment-sorted list */
    assert_int_equal(parse("{}", &f, &e), 0);
    ins_cursor_encode(&f, 5, 0, id, cursor, sizeof(cursor));
    snprintf(q, sizeof(q), "{\"sort\": \"sentiment\", \"cursor\": \"%s\"}", cursor);
    assert_int_equal(parse(q, &g, &e), CN_EVALIDATION);
}

static int64_t one_int(cn_store_t *db, const char *sql)
{
    int64_t v = -1;
    cn_err_t err = {0};
    if (cn_store_one_int(db, sql, NULL, 0, &v, &err) != 0)
        fail_msg("%s: %s", sql, err.msg);
    return v;
}

static void exec_sql(cn_store_t *db, const char *sql)
{
    cn_err_t err = {0};
    if (cn_store_exec(db, sql, NULL, 0, NULL, &err) != 0)
        fail_msg("%s: %s", sql, err.msg);
}

/* Migration 4 gives the interactions already stored their segment rollups: the rows of
 * each segment hold what its customers' interactions count, and the rows of all
 * customers are kept as they were. */
static void test_segment_rollups_of_stored_data(void **state)
{
    (void)state;
    char d[64] = "/tmp/cairn-insights-mig-XXXXXX";
    assert_non_null(mkdtemp(d));
    cn_err_t err = {0};
    cn_store_opts_t opts = {.data_dir = d, .busy_timeout_ms = 5000};
    cn_store_t *db;
    assert_int_equal(cn_store_open(&opts, &db, &err), 0);
    cn_migration_t before[4] = {0};
    memcpy(before, insights_app.migrations, 3 * sizeof(before[0]));
    cn_migration_set_t old_sets[] = {{"insights", before}};
    assert_int_equal(cn_migrate(db, old_sets, 1, 0, NULL, NULL, &err), 0);
    exec_sql(db, "INSERT INTO customers (tenant_id, external_id, segment, created_at, updated_at)"
                 " VALUES ('t', 'a', 'gold', 0, 0), ('t', 'b', NULL, 0, 0),"
                 " ('u', 'a', 'silver', 0, 0)");
    /* a: two in the first slot (web, chat), one scored in the second; b: one; u's a: one */
    exec_sql(db, "INSERT INTO interactions (seq, tenant_id, id, customer_id, ts, channel,"
                 " event_type, sentiment, s_compound, processed_at, created_at) VALUES"
                 " (1, 't', 'i1', 'a', 1000, 'web', 'm', 'positive', 0.5, 1, 0),"
                 " (2, 't', 'i2', 'a', 2000, 'chat', 'm', NULL, NULL, NULL, 0),"
                 " (3, 't', 'i3', 'a', 901000, 'web', 'm', 'negative', -0.25, 1, 0),"
                 " (4, 't', 'i4', 'b', 1000, 'web', 'm', NULL, NULL, NULL, 0),"
                 " (5, 'u', 'i5', 'a', 1000, 'web', 'm', NULL, NULL, NULL, 0)");
    exec_sql(db, "INSERT INTO insight_rollups (tenant_id, bucket, channel, interactions)"
                 " VALUES ('t', 0, '*', 3), ('t', 900000, '*', 1)");
    cn_migration_set_t sets[] = {{"insights", insights_app.migrations}};
    assert_int_equal(cn_migrate(db, sets, 1, 0, NULL, NULL, &err), 0);
    assert_int_equal(one_int(db, "SELECT SUM(interactions) FROM insight_rollups"
                                 " WHERE tenant_id = 't' AND segment = '' AND channel = '*'"),
                     4);
    assert_int_equal(one_int(db, "SELECT interactions * 10 + processed FROM insight_rollups"
                                 " WHERE tenant_id = 't' AND segment = 'gold' AND channel = '*'"
                                 " AND bucket = 0"),
                     21);
    assert_int_equal(one_int(db, "SELECT positive FROM insight_rollups WHERE tenant_id = 't'"
                                 " AND segment = 'gold' AND channel = 'web' AND bucket = 0"),
                     1);
    assert_int_equal(one_int(db, "SELECT negative * 100 + analysed * 10 + (compound_sum < 0)"
                                 " FROM insight_rollups WHERE tenant_id = 't'"
                                 " AND segment = 'gold' AND channel = '*' AND bucket = 900000"),
                     111);
    /* gold: web, chat and all in the first slot, web and all in the second; silver: 2 */
    assert_int_equal(one_int(db, "SELECT COUNT(*) FROM insight_rollups WHERE segment <> ''"), 7);
    assert_int_equal(one_int(db, "SELECT interactions FROM insight_rollups WHERE tenant_id = 'u'"
                                 " AND segment = 'silver' AND channel = 'web'"),
                     1);
    assert_int_equal(one_int(db, "SELECT COUNT(*) FROM customers"
                                 " WHERE rollup_segment IS NOT segment"),
                     0);
    cn_store_close(db);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", d);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_plans_use_indexes),
        cmocka_unit_test(test_other_plans_use_indexes),
        cmocka_unit_test(test_filter_errors_name_the_parameter),
        cmocka_unit_test(test_cursor_round_trip),
        cmocka_unit_test(test_segment_rollups_of_stored_data),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
