/*
 * The job queue's own module (see jobs.h): the jobs table's migrations, the jobs.manage
 * permission and GET /api/v1/jobs[/{id}], POST /api/v1/jobs/{id}/retry, which show a
 * tenant its jobs and queue a dead one again. Its handlers read the table and call the
 * engine's cn_jobs_retry; they never claim or run a job.
 */
#include "core/http.h"
#include "core/jobs_int.h"
#include "core/module.h"
#include "core/page.h"

#include <string.h>

static const char *const job_states[] = {"queued", "running", "done", "dead", NULL};

int cn_jobs_state_valid(const char *state)
{
    for (const char *const *s = job_states; *s; s++)
        if (strcmp(*s, state) == 0)
            return 1;
    return 0;
}

void cn__jobs_write_job(cn_jw_t *w, cn_stmt_t *st, int with_tenant)
{
    static const char *const names[] = {"id",         "tenant_id",    "name",        "state",
                                        "attempts",   "max_attempts", "run_at",      "lease_until",
                                        "unique_key", "every_ms",     "last_error",  "payload",
                                        "created_at", "updated_at",   "finished_at", "progress"};
    cn_jw_object(w);
    for (int c = 0; c < (int)CN_ARRAY_SIZE(names); c++) {
        if (c == 1 && !with_tenant)
            continue;
        cn_jw_key(w, names[c]);
        size_t len;
        const char *t = cn_stmt_text(st, c, &len);
        if (cn_stmt_is_null(st, c)) {
            cn_jw_null(w);
        } else if (c == 11 || c == 15) { /* payload, progress: JSON text */
            w->after_key = 0;
            cn_buf_append(w->b, t, len);
        } else if (c == 4 || c == 5 || c == 6 || c == 7 || c == 9 || (c >= 12 && c <= 14)) {
            cn_jw_int(w, cn_stmt_int(st, c));
        } else {
            cn_jw_str(w, t, len);
        }
    }
    cn_jw_end(w);
}

/* ---- API ---- */

static const cn_field_t list_fields[] = {
    {"state", CN_T_STRING, .enum_values = job_states},
    {"name", CN_T_STRING, .min_len = 1, .max_len = 100, .description = "job type"},
    {"limit", CN_T_INTEGER, .has_min = 1, .min = 1, .has_max = 1, .max = CN_PAGE_MAX,
     .description = "Page size (default 50)"},
    {"cursor", CN_T_STRING, .max_len = 128, .description = "next_cursor of the previous page"},
    {0},
};
static const cn_schema_t list_query = {"JobListQuery", list_fields};

static int list_jobs(cn_req_t *r)
{
    const char *state = json_string_value(json_object_get(r->query, "state"));
    const char *name = json_string_value(json_object_get(r->query, "name"));
    cn_page_t page;
    int rc = cn_page_begin(r, &page);
    if (rc != 0)
        return rc;
    cn_val_t a[] = {CN_VTEXT(cn_req_tenant(r)), CN_VTEXT(page.after[0] ? page.after : "~"),
                    state ? CN_VTEXT(state) : CN_VNULL, name ? CN_VTEXT(name) : CN_VNULL,
                    CN_VINT(page.limit + 1)};
    cn_stmt_t *st;
    if ((rc = cn_store_query(r->store,
                             "SELECT " JOB_COLUMNS " FROM jobs WHERE tenant_id = $1 AND id < $2"
                             " AND (CAST($3 AS TEXT) IS NULL OR state = $3) AND (CAST($4 AS TEXT) "
                             "IS NULL OR name = $4)"
                             " ORDER BY id DESC LIMIT $5",
                             a, CN_ARRAY_SIZE(a), &st, &r->err)) != 0)
        return rc;
    while ((rc = cn_stmt_step(st, &r->err)) == CN_ROW && cn_page_room(&page)) {
        size_t len;
        const char *id = cn_stmt_text(st, 0, &len);
        cn__jobs_write_job(&page.w, st, 0);
        cn_page_item(&page, id, len);
    }
    cn_stmt_finish(st);
    if (rc < 0)
        return rc;
    cn_page_end_items(&page);
    /* counts by state for the same selection, whatever the state filter */
    int64_t counts[4] = {0};
    cn_val_t c[] = {CN_VTEXT(cn_req_tenant(r)), name ? CN_VTEXT(name) : CN_VNULL};
    if ((rc = cn_store_query(r->store,
                             "SELECT state, count(*) FROM jobs WHERE tenant_id = $1"
                             " AND (CAST($2 AS TEXT) IS NULL OR name = $2) GROUP BY state",
                             c, 2, &st, &r->err)) != 0)
        return rc;
    while ((rc = cn_stmt_step(st, &r->err)) == CN_ROW)
        for (int k = 0; k < 4; k++)
            if (strcmp(cn_stmt_text(st, 0, NULL), job_states[k]) == 0)
                counts[k] = cn_stmt_int(st, 1);
    cn_stmt_finish(st);
    if (rc < 0)
        return rc;
    cn_jw_key(&page.w, "counts");
    cn_jw_object(&page.w);
    for (int k = 0; k < 4; k++) {
        cn_jw_key(&page.w, job_states[k]);
        cn_jw_int(&page.w, counts[k]);
    }
    cn_jw_end(&page.w);
    cn_jw_end(&page.w);
    return cn_reply_json_buf(r, 200);
}

static int reply_job(cn_req_t *r, int status)
{
    cn_val_t a[] = {CN_VTEXT(cn_req_tenant(r)), CN_VTEXT(cn_req_param(r, "id"))};
    cn_stmt_t *st;
    int rc = cn_store_query(r->store,
                            "SELECT " JOB_COLUMNS " FROM jobs WHERE tenant_id = $1 AND id = $2", a,
                            2, &st, &r->err);
    if (rc != 0)
        return rc;
    rc = cn_stmt_step(st, &r->err);
    if (rc == CN_ROW) {
        cn_jw_t w;
        cn_jw_init(&w, cn_reply_buffer(r));
        cn__jobs_write_job(&w, st, 0);
    }
    cn_stmt_finish(st);
    if (rc < 0)
        return rc;
    if (rc != CN_ROW)
        return cn_fail(r, CN_ENOTFOUND, "no job with this id");
    return cn_reply_json_buf(r, status);
}

static int get_job(cn_req_t *r)
{
    return reply_job(r, 200);
}

static int retry_job(cn_req_t *r)
{
    int rc = cn_jobs_retry(r->store, cn_req_tenant(r), cn_req_param(r, "id"), &r->err);
    return rc != 0 ? rc : reply_job(r, 200);
}

/* The answers (write_job, list_jobs). */
static const cn_field_t job_fields[] = {
    {"id", CN_T_STRING, .required = 1, .format = CN_FMT_UUID},
    {"name", CN_T_STRING, .required = 1, .description = "The job type (\"notes.analyse\")"},
    {"state", CN_T_STRING, .required = 1, .enum_values = job_states},
    {"attempts", CN_T_INTEGER, .required = 1},
    {"max_attempts", CN_T_INTEGER, .required = 1},
    CN_R_TIME("run_at"),
    CN_R_TIME_OR_NULL("lease_until"),
    {"unique_key", CN_T_STRING, .required = 1, .nullable = 1},
    {"every_ms", CN_T_INTEGER, .required = 1, .description = "Repeat period; 0: runs once"},
    {"last_error", CN_T_STRING, .required = 1, .nullable = 1},
    {"payload", CN_T_OBJECT, .required = 1, .description = "The job's input, as enqueued"},
    CN_R_TIME("created_at"),
    CN_R_TIME("updated_at"),
    CN_R_TIME_OR_NULL("finished_at"),
    {"progress", CN_T_OBJECT, .required = 1, .nullable = 1,
     .description = "What the handler last reported, if anything"},
    {0},
};
static const cn_schema_t job_schema = {"Job", job_fields};
static const cn_field_t count_fields[] = {
    {"queued", CN_T_INTEGER, .required = 1},
    {"running", CN_T_INTEGER, .required = 1},
    {"done", CN_T_INTEGER, .required = 1},
    {"dead", CN_T_INTEGER, .required = 1},
    {0},
};
static const cn_schema_t count_schema = {"JobCounts", count_fields};
static const cn_field_t job_list_fields[] = {
    CN_PAGE_FIELDS(&job_schema),
    CN_R_OBJECT("counts", &count_schema),
    {0},
};
static const cn_schema_t job_list_schema = {"JobList", job_list_fields};

static const cn_route_t routes[] = {
    {CN_GET, "/api/v1/jobs", list_jobs, "jobs.manage", .query = &list_query,
     .summary = "List the tenant's jobs, newest first, with counts by state",
     .response = &job_list_schema, .operation = "jobs.list"},
    {CN_GET, "/api/v1/jobs/{id}", get_job, "jobs.manage", .params = &cn_id_param,
     .summary = "Get a job", .response = &job_schema, .operation = "jobs.get"},
    {CN_POST, "/api/v1/jobs/{id}/retry", retry_job, "jobs.manage", .params = &cn_id_param,
     .summary = "Queue a dead job again (409 unless it is dead)", .response = &job_schema,
     .errors = CN_ANS_409, .operation = "jobs.retry"},
    {0},
};

static const cn_permission_t permissions[] = {
    {"jobs.manage", "See the tenant's background jobs (payloads included) and retry dead ones",
     CN_ROLES_ADMINS},
    {0},
};

/* PostgreSQL's schema (see cn_migration_t): the latest one at version 1, in its vocabulary
 * (BIGINT: PostgreSQL's INTEGER is 32 bits and the times are Unix ms). */
static const char jobs_pg[] = "CREATE TABLE jobs ("
                              " id TEXT PRIMARY KEY,"
                              " tenant_id TEXT,"
                              " name TEXT NOT NULL,"
                              " payload TEXT NOT NULL DEFAULT '{}',"
                              " state TEXT NOT NULL DEFAULT 'queued',"
                              " attempts BIGINT NOT NULL DEFAULT 0,"
                              " max_attempts BIGINT NOT NULL,"
                              " run_at BIGINT NOT NULL,"
                              " lease_until BIGINT,"
                              " unique_key TEXT,"
                              " every_ms BIGINT NOT NULL DEFAULT 0,"
                              " last_error TEXT,"
                              " created_at BIGINT NOT NULL,"
                              " updated_at BIGINT NOT NULL,"
                              " finished_at BIGINT,"
                              " progress TEXT);"
                              "CREATE UNIQUE INDEX jobs_unique ON jobs (name, unique_key)"
                              " WHERE unique_key IS NOT NULL;"
                              "CREATE INDEX jobs_due ON jobs (state, run_at);"
                              "CREATE INDEX jobs_tenant ON jobs (tenant_id, id)"
                              " WHERE tenant_id IS NOT NULL";

/* The id index serves enqueue-time uniqueness and lookups; (state, run_at) serves claims,
 * reclaims (state = 'running') and the retention purge; the tenant index serves the API. */
static const cn_migration_t migrations[] = {
    {1, "create_jobs",
     "CREATE TABLE jobs ("
     " id TEXT PRIMARY KEY,"
     " tenant_id TEXT,"
     " name TEXT NOT NULL,"
     " payload TEXT NOT NULL DEFAULT '{}',"
     " state TEXT NOT NULL DEFAULT 'queued',"
     " attempts INTEGER NOT NULL DEFAULT 0,"
     " max_attempts INTEGER NOT NULL,"
     " run_at INTEGER NOT NULL,"
     " lease_until INTEGER,"
     " unique_key TEXT,"
     " every_ms INTEGER NOT NULL DEFAULT 0,"
     " last_error TEXT,"
     " created_at INTEGER NOT NULL,"
     " updated_at INTEGER NOT NULL,"
     " finished_at INTEGER);"
     "CREATE UNIQUE INDEX jobs_unique ON jobs (name, unique_key) WHERE unique_key IS NOT NULL;"
     "CREATE INDEX jobs_due ON jobs (state, run_at);"
     "CREATE INDEX jobs_tenant ON jobs (tenant_id, id) WHERE tenant_id IS NOT NULL",
     jobs_pg},
    /* what a long job has done so far (JSON text it writes itself), shown by the API */
    {2, "job_progress", "ALTER TABLE jobs ADD COLUMN progress TEXT", ""},
    {0},
};

const cn_app_t cn_jobs_app = {
    .name = "jobs",
    .description = "Durable background jobs: state, retries and dead letters",
    .migrations = migrations,
    .routes = routes,
    .permissions = permissions,
};
