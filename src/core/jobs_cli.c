/*
 * `cairn jobs list` and `cairn jobs show` (see jobs.h): the queue as an operator reads it
 * from the command line, on a store opened for the command. Reads only; never writes.
 */
#include "core/jobs_int.h"

#include <stdio.h>
#include <string.h>

int cn_jobs_print_list(cn_store_t *s, const char *state, const char *name, int64_t limit, FILE *out,
                       cn_err_t *err)
{
    cn_val_t a[] = {state ? CN_VTEXT(state) : CN_VNULL, name ? CN_VTEXT(name) : CN_VNULL,
                    CN_VINT(limit)};
    cn_stmt_t *st;
    int rc =
        cn_store_query(s,
                       "SELECT id, state, name, attempts, max_attempts, run_at, tenant_id,"
                       " last_error FROM jobs WHERE (CAST($1 AS TEXT) IS NULL OR state = $1)"
                       " AND (CAST($2 AS TEXT) IS NULL OR name = $2) ORDER BY id DESC LIMIT $3",
                       a, 3, &st, err);
    if (rc != 0)
        return rc;
    fprintf(out, "%-36s  %-7s  %-24s  %-8s  %-24s  %-36s  %s\n", "ID", "STATE", "NAME", "ATTEMPTS",
            "RUN AT", "TENANT", "LAST ERROR");
    while ((rc = cn_stmt_step(st, err)) == CN_ROW) {
        char at[40], tries[24];
        cn_format_rfc3339(cn_stmt_int(st, 5), at);
        snprintf(tries, sizeof(tries), "%lld/%lld", (long long)cn_stmt_int(st, 3),
                 (long long)cn_stmt_int(st, 4));
        const char *tenant = cn_stmt_text(st, 6, NULL), *last = cn_stmt_text(st, 7, NULL);
        fprintf(out, "%-36s  %-7s  %-24s  %-8s  %-24s  %-36s  %.120s\n", cn_stmt_text(st, 0, NULL),
                cn_stmt_text(st, 1, NULL), cn_stmt_text(st, 2, NULL), tries, at,
                tenant ? tenant : "-", last ? last : "");
    }
    cn_stmt_finish(st);
    return rc < 0 ? rc : 0;
}

int cn_jobs_print_one(cn_store_t *s, const char *id, FILE *out, cn_err_t *err)
{
    cn_val_t a[] = {CN_VTEXT(id)};
    cn_stmt_t *st;
    int rc = cn_store_query(s, "SELECT " JOB_COLUMNS " FROM jobs WHERE id = $1", a, 1, &st, err);
    if (rc != 0)
        return rc;
    rc = cn_stmt_step(st, err);
    if (rc == CN_ROW) {
        cn_buf_t b = {0};
        cn_jw_t w;
        cn_jw_init(&w, &b);
        cn__jobs_write_job(&w, st, 1);
        fprintf(out, "%.*s\n", (int)b.len, b.data);
        cn_buf_free(&b);
    }
    cn_stmt_finish(st);
    return rc == CN_ROW ? 0 : rc == CN_DONE ? cn_err_set(err, CN_ENOTFOUND, "no job %s", id) : rc;
}
