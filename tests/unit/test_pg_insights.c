/*
 * The insights app's PostgreSQL statements against a real PostgreSQL 15 (ctest's pg
 * fixture, see test_pg.c), on the schema of the app's PostgreSQL migration: the search
 * index written from a transaction's JSON entries, the query text built from a client's
 * words, the ranked search (accents folded, prefixes, the tenant filter, rank before
 * recency among the newest candidates), one hit with its headline and the ellipses added
 * in C, the blocks of interaction numbers, and the lock that serialises two requests with
 * one idempotency key (two connections stand for two nodes).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "apps/insights/insights.h"
#include "apps/insights/internal.h"
#include "pg_db.h"
#include "store/pg_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pg_db_t db;
static cn_pg_t *a, *b; /* two nodes */

/* The search index's entries, as staging.c writes them ([seq, tenant, body] with the
 * body escaped for JSON), and the interaction rows they belong to. */
static const char entries[] = "[[1,\"t1\",\"ecole ecole ecole\"],"
                              "[2,\"t1\",\"l'école est fermée\"],"
                              "[3,\"t2\",\"l'école de t2\"],"
                              "[4,\"t1\",\"rien à voir\"],"
                              "[5,\"t1\",\"il a dit \\\"économie\\\" puis école\"],"
                              "[6,\"t1\",\"la ECOLE du soir\"]]";

static int setup(void **state)
{
    (void)state;
    pg_db_open_two(&db, "cairn_test_pg_insights", &a, &b);
    pg_db_migrate(a, "insights", insights_app.migrations);
    pg_script(a, "INSERT INTO interactions (seq, tenant_id, id, customer_id, ts, channel,"
                 " event_type, content, created_at)"
                 " SELECT n, CASE WHEN n = 3 THEN 't2' ELSE 't1' END, 'i' || n, 'c', 1000 * n,"
                 " 'chat', 'message', 'content ' || n, 0 FROM generate_series(1, 6) AS n");
    cn_val_t v[] = {CN_VTEXT(entries)};
    int64_t changes = 0;
    cn_err_t err = {0};
    pg_must(cn_pg_run(a, ins_sql_search_insert.postgres, v, 1, NULL, &changes, &err), &err,
            "search entries");
    assert_int_equal(changes, 6);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    pg_db_close_two(&db, a, b);
    return 0;
}

static void test_entries_are_stored_and_indexed(void **state)
{
    (void)state;
    /* FTS5's merge step has no PostgreSQL statement: the caller skips it */
    assert_null(ins_sql_search_merge.postgres);
    assert_non_null(ins_sql_search_merge.sqlite);
    cn_pg_rows_t r;
    cn_err_t err = {0};
    pg_must(cn_pg_run(a, "SELECT tenant_id, body, doc::text FROM interactions_fts WHERE seq = 5",
                      NULL, 0, &r, NULL, &err),
            &err, "read an entry");
    assert_int_equal(cn_pg_next(&r), CN_ROW);
    assert_string_equal(cn_pg_text(&r, 0, NULL), "t1");
    assert_string_equal(cn_pg_text(&r, 1, NULL), "il a dit \"économie\" puis école");
    /* lower case, accents folded: what FTS5's unicode61 remove_diacritics does */
    assert_non_null(strstr(cn_pg_text(&r, 2, NULL), "'economie'"));
    assert_non_null(strstr(cn_pg_text(&r, 2, NULL), "'ecole'"));
    cn_pg_rows_clear(&r);
}

/* the query text of q on each engine */
static void query_is(const char *q, int postgres, const char *want, int words)
{
    cn_buf_t out = {0};
    assert_int_equal(ins_search_text(q, postgres, &out), words);
    assert_string_equal(out.data, want);
    cn_buf_free(&out);
}

static void test_query_text_per_engine(void **state)
{
    (void)state;
    query_is("école", 1, "'école'", 1);
    query_is("  l'école, eco* 42!", 1, "'l' & 'école' & 'eco':* & '42'", 4);
    query_is("  l'école, eco* 42!", 0, "\"l\" AND \"école\" AND \"eco\"* AND \"42\"", 4);
    /* quotes, operators and backslashes of the client are separators, never syntax */
    query_is("a'&|!(b):*\\c\"d", 1, "'a' & 'b' & 'c' & 'd'", 4);
    query_is("*'!&", 1, "", 0);
    /* and what PostgreSQL makes of one: the words, folded like the index */
    cn_buf_t out = {0};
    ins_search_text("L'École eco* a'&|!(b):*\\c", 1, &out);
    cn_val_t v[] = {CN_VTEXT(out.data)};
    cn_pg_rows_t r;
    cn_err_t err = {0};
    pg_must(cn_pg_run(a, "SELECT to_tsquery('cairn_search', $1)::text", v, 1, &r, NULL, &err), &err,
            "to_tsquery");
    assert_int_equal(cn_pg_next(&r), CN_ROW);
    assert_string_equal(cn_pg_text(&r, 0, NULL), "'l' & 'ecole' & 'eco':* & 'a' & 'b' & 'c'");
    cn_pg_rows_clear(&r);
    cn_buf_free(&out);
}

/* The search statement for q (client words) in tenant: the hits' seqs, in order, into
 * hits (0 after the last); returns how many. */
static int search(const char *q, const char *tenant, int64_t limit, int64_t offset,
                  int64_t candidates, int64_t *hits, double *scores)
{
    cn_buf_t text = {0};
    assert_true(ins_search_text(q, 1, &text) > 0);
    cn_val_t v[] = {CN_VTEXT(text.data), CN_VINT(limit), CN_VINT(offset), CN_VINT(candidates),
                    CN_VTEXT(tenant)};
    cn_pg_rows_t r;
    cn_err_t err = {0};
    pg_must(cn_pg_run(a, ins_sql_search.postgres, v, 5, &r, NULL, &err), &err, "search");
    int n = 0;
    while (cn_pg_next(&r) == CN_ROW) {
        hits[n] = cn_pg_int(&r, 0);
        scores[n++] = cn_pg_real(&r, 1);
    }
    hits[n] = 0;
    cn_pg_rows_clear(&r);
    cn_buf_free(&text);
    return n;
}

static void test_search_finds_words_accents_folded(void **state)
{
    (void)state;
    int64_t h[8] = {0};
    double sc[8] = {0};
    /* "ecole" finds "école", "ECOLE" and "ecole"; seq 1 has it three times: ranked first
     * although it is the oldest; equal ranks keep the newest first */
    assert_int_equal(search("ecole", "t1", 10, 0, 2000, h, sc), 4);
    assert_int_equal(h[0], 1);
    assert_int_equal(h[1], 6);
    assert_int_equal(h[2], 5);
    assert_int_equal(h[3], 2);
    assert_true(sc[0] < sc[1]); /* lower is better, like bm25 */
    assert_true(sc[1] == sc[3]);
    /* the same with the accent in the query, and for a prefix */
    assert_int_equal(search("École", "t1", 10, 0, 2000, h, sc), 4);
    assert_int_equal(search("eco*", "t1", 10, 0, 2000, h, sc), 4);
    assert_int_equal(search("écon*", "t1", 10, 0, 2000, h, sc), 1);
    assert_int_equal(h[0], 5);
    assert_int_equal(search("eco", "t1", 10, 0, 2000, h, sc), 0); /* no prefix without * */
    /* every word must match */
    assert_int_equal(search("l'ecole fermee", "t1", 10, 0, 2000, h, sc), 1);
    assert_int_equal(h[0], 2);
}

static void test_search_stays_in_the_tenant(void **state)
{
    (void)state;
    int64_t h[8] = {0};
    double sc[8] = {0};
    assert_int_equal(search("ecole", "t2", 10, 0, 2000, h, sc), 1);
    assert_int_equal(h[0], 3);
    assert_int_equal(search("t2", "t1", 10, 0, 2000, h, sc), 0);
    assert_int_equal(search("ecole", "t3", 10, 0, 2000, h, sc), 0);
}

static void test_search_ranks_the_newest_candidates_in_pages(void **state)
{
    (void)state;
    int64_t h[8] = {0};
    double sc[8] = {0};
    /* only the 2 newest matches are ranked: seq 1 (the best) is not among them */
    assert_int_equal(search("ecole", "t1", 10, 0, 2, h, sc), 2);
    assert_int_equal(h[0], 6);
    assert_int_equal(h[1], 5);
    /* pages: limit and offset over the ranked list */
    assert_int_equal(search("ecole", "t1", 2, 0, 2000, h, sc), 2);
    assert_int_equal(h[0], 1);
    assert_int_equal(h[1], 6);
    assert_int_equal(search("ecole", "t1", 2, 2, 2000, h, sc), 2);
    assert_int_equal(h[0], 5);
    assert_int_equal(h[1], 2);
}

/* The hit statement for seq in tenant: 1 and the snippet as the API shows it (ellipses
 * added), or 0 when no row came. */
static int hit(const char *q, int64_t seq, const char *tenant, cn_buf_t *snippet)
{
    cn_buf_t text = {0};
    ins_search_text(q, 1, &text);
    cn_val_t v[] = {CN_VTEXT(text.data), CN_VINT(seq), CN_VTEXT(tenant)};
    cn_pg_rows_t r;
    cn_err_t err = {0};
    pg_must(cn_pg_run(a, ins_sql_search_hit.postgres, v, 3, &r, NULL, &err), &err, "hit");
    int found = cn_pg_next(&r) == CN_ROW;
    if (found) {
        char want[8];
        snprintf(want, sizeof(want), "i%lld", (long long)seq);
        assert_string_equal(cn_pg_text(&r, 0, NULL), want); /* INS_COLUMNS: id first */
        assert_int_equal(cn_pg_int(&r, INS_COL_SEQ), seq);
        size_t len, body_len;
        const char *head = cn_pg_text(&r, INS_COL_SEQ + 1, &len);
        const char *body = cn_pg_text(&r, INS_COL_SEQ + 2, &body_len);
        ins_headline_cuts(head, len, body, body_len, snippet);
        cn_buf_append(snippet, "", 1);
    }
    cn_pg_rows_clear(&r);
    cn_buf_free(&text);
    return found;
}

static void test_hit_marks_matches_in_its_headline(void **state)
{
    (void)state;
    cn_buf_t s = {0};
    assert_true(hit("ecole", 2, "t1", &s));
    assert_string_equal(s.data, "l'\x02école\x03 est fermée"); /* the whole text: no cut */
    cn_buf_free(&s);
    assert_true(hit("eco*", 5, "t1", &s));
    assert_string_equal(s.data, "il a dit \"\x02économie\x03\" puis \x02école\x03");
    cn_buf_free(&s);
    /* another tenant's row is not there */
    assert_false(hit("ecole", 3, "t1", &s));
    assert_false(hit("ecole", 2, "t2", &s));
}

static void test_long_texts_get_ellipses_where_cut(void **state)
{
    (void)state;
    /* 40 words, the match in the middle, then one at the end */
    char body[512];
    size_t len = 0;
    for (int i = 1; i <= 40; i++)
        len += (size_t)snprintf(body + len, sizeof(body) - len, "%s%s", i > 1 ? " " : "",
                                i == 20 ? "ecole" : (i == 40 ? "fin." : "mot"));
    char json[600];
    snprintf(json, sizeof(json), "[[7,\"t1\",\"%s\"]]", body);
    cn_val_t v[] = {CN_VTEXT(json)};
    cn_err_t err = {0};
    pg_must(cn_pg_run(a, ins_sql_search_insert.postgres, v, 1, NULL, NULL, &err), &err, "entry");
    pg_script(a, "INSERT INTO interactions (seq, tenant_id, id, customer_id, ts, channel,"
                 " event_type, created_at) VALUES (7, 't1', 'i7', 'c', 7000, 'web', 'view', 0)");
    cn_buf_t s = {0};
    assert_true(hit("ecole", 7, "t1", &s));
    assert_memory_equal(s.data, "…", strlen("…"));
    assert_non_null(strstr(s.data, "\x02"
                                   "ecole\x03"));
    assert_string_equal(s.data + strlen(s.data) - strlen("…"), "…");
    assert_true(strlen(s.data) < strlen(body)); /* about 16 words, not 40 */
    cn_buf_free(&s);
    assert_true(hit("fin", 7, "t1", &s)); /* reaches the end: an ellipsis before only */
    assert_memory_equal(s.data, "…", strlen("…"));
    assert_string_equal(s.data + strlen(s.data) -
                            strlen("\x02"
                                   "fin\x03."),
                        "\x02"
                        "fin\x03.");
    cn_buf_free(&s);
    /* ins_headline_cuts alone: marks do not count, text beyond either end does */
    static const char whole[] = "a \x02"
                                "b\x03 c";
    ins_headline_cuts(whole, strlen(whole), "a b c", 5, &s);
    assert_int_equal(s.len, strlen(whole));
    cn_buf_free(&s);
    ins_headline_cuts("\x02"
                      "b\x03",
                      3, "a b", 3, &s);
    cn_buf_append(&s, "", 1);
    assert_string_equal(s.data, "…\x02"
                                "b\x03");
    cn_buf_free(&s);
    ins_headline_cuts("a", 1, "a b", 3, &s);
    cn_buf_append(&s, "", 1);
    assert_string_equal(s.data, "a…");
    cn_buf_free(&s);
}

static int64_t next_seq(cn_pg_t *c)
{
    cn_pg_rows_t r;
    cn_err_t err = {0};
    pg_must(cn_pg_run(c, ins_sql_next_seq.postgres, NULL, 0, &r, NULL, &err), &err, "next seq");
    assert_int_equal(cn_pg_next(&r), CN_ROW);
    int64_t v = cn_pg_int(&r, 0);
    cn_pg_rows_clear(&r);
    return v;
}

/* each chunk gets a block of INS_CHUNK numbers of its own, on any connection */
static void test_each_chunk_gets_its_own_block_of_seqs(void **state)
{
    (void)state;
    pg_script(a, "BEGIN");
    pg_script(b, "BEGIN");
    int64_t x = next_seq(a), y = next_seq(b), z = next_seq(a);
    pg_script(b, "ROLLBACK"); /* a block is never handed out twice, even when unused */
    pg_script(a, "COMMIT");
    assert_int_equal(y - x, INS_CHUNK);
    assert_int_equal(z - y, INS_CHUNK);
    assert_int_equal(next_seq(b) - z, INS_CHUNK);
}

static int idem_lock(cn_pg_t *c, const char *tenant, const char *key, cn_err_t *err)
{
    cn_val_t v[] = {CN_VTEXT(tenant), CN_VTEXT(key)};
    return cn_pg_run(c, ins_sql_idem_lock.postgres, v, 2, NULL, NULL, err);
}

/* Two requests with one key on two nodes: the second waits for the first's transaction,
 * then finds its row. Other keys and other tenants do not wait. */
static void test_one_idempotency_key_at_a_time(void **state)
{
    (void)state;
    assert_null(ins_sql_idem_lock.sqlite); /* SQLite's single writer orders them already */
    cn_err_t err = {0};
    pg_script(b, "SET lock_timeout = '100ms'");
    pg_script(a, "BEGIN");
    pg_must(idem_lock(a, "t1", "key-1", &err), &err, "lock on a");
    pg_script(b, "BEGIN");
    assert_int_equal(idem_lock(b, "t1", "key-1", &err), CN_EBUSY); /* it would wait */
    pg_script(b, "ROLLBACK");
    pg_must(idem_lock(b, "t1", "key-2", &err), &err, "another key");
    pg_must(idem_lock(b, "t2", "key-1", &err), &err, "another tenant");
    pg_must(idem_lock(b, "t1k", "ey-1", &err), &err, "the same characters, split elsewhere");
    pg_script(a, "INSERT INTO interactions (seq, tenant_id, id, customer_id, ts, channel,"
                 " event_type, idempotency_key, created_at)"
                 " VALUES (1000, 't1', 'i1000', 'c', 1, 'web', 'view', 'key-1', 0)");
    pg_script(a, "COMMIT");
    pg_script(b, "BEGIN");
    pg_must(idem_lock(b, "t1", "key-1", &err), &err, "lock on b once a committed");
    cn_pg_rows_t r;
    pg_must(cn_pg_run(b,
                      "SELECT id FROM interactions WHERE tenant_id = 't1'"
                      " AND idempotency_key = 'key-1'",
                      NULL, 0, &r, NULL, &err),
            &err, "the check");
    assert_int_equal(cn_pg_next(&r), CN_ROW);
    assert_string_equal(cn_pg_text(&r, 0, NULL), "i1000");
    cn_pg_rows_clear(&r);
    pg_script(b, "COMMIT");
    pg_script(b, "RESET lock_timeout");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_entries_are_stored_and_indexed),
        cmocka_unit_test(test_query_text_per_engine),
        cmocka_unit_test(test_search_finds_words_accents_folded),
        cmocka_unit_test(test_search_stays_in_the_tenant),
        cmocka_unit_test(test_search_ranks_the_newest_candidates_in_pages),
        cmocka_unit_test(test_hit_marks_matches_in_its_headline),
        cmocka_unit_test(test_long_texts_get_ellipses_where_cut),
        cmocka_unit_test(test_each_chunk_gets_its_own_block_of_seqs),
        cmocka_unit_test(test_one_idempotency_key_at_a_time),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
