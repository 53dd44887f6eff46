/*
 * libFuzzer target: the insights list's query string, from raw URL text through the
 * router's typed conversion to the filter and the SQL statement it builds. Checks that a
 * failure always names a parameter, that the statement's parameters match the values
 * bound, and that no client byte ever reaches the SQL text.
 */
#include "apps/insights/internal.h"
#include "core/router.h"

#include <stdlib.h>
#include <string.h>

static void check_sql(const char *sql, size_t n)
{
    /* the text is built from fixed fragments only: no quote can appear in it */
    if (strchr(sql, '\'') || strchr(sql, '"') || strchr(sql, ';'))
        abort();
    size_t max = 0;
    for (const char *p = strchr(sql, '$'); p; p = strchr(p + 1, '$')) {
        size_t k = strtoul(p + 1, NULL, 10);
        if (k == 0 || k > INS_ARGS_MAX)
            abort();
        max = k > max ? k : max;
    }
    if (max != n)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *scratch = malloc(size + 1);
    cn_kv_t kv[32];
    cn_err_t err;
    int n = cn_query_parse((const char *)data, size, scratch, kv, 32, &err);
    json_t *q = NULL;
    cn_verrors_t errs = {0};
    if (n >= 0 && cn_schema_from_query(&ins_list_query, kv, (size_t)n, &q, &errs) == 0) {
        ins_filter_t f;
        if (ins_filter_parse(q, &f, &errs) == 0) {
            char sql[INS_SQL_MAX];
            cn_val_t args[INS_ARGS_MAX];
            for (int page = 0; page < 2; page++)
                check_sql(sql, ins_filter_sql(&f, "00000000-0000-7000-8000-000000000001",
                                              INS_SELECT_ROWS, page, sql, args));
            if (f.limit < 1 || f.limit > 100 || f.n_channels > 5 || f.n_segments > INS_LIST_MAX)
                abort();
        } else if (errs.count == 0) {
            abort();
        }
        json_decref(q);
    }
    free(scratch);
    return 0;
}
