/*
 * System module and start-up assembly (see system.h). The route tables of all modules
 * are read here once: into the router, into the OpenAPI document, and into the
 * permission check, so those three can never disagree.
 */
#include "core/system.h"
#include "core/bus.h"
#include "core/events_int.h"
#include "core/console.h"
#include "core/http.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/permissions.h"
#include "core/realtime.h"
#include "core/store_open.h"

#include <stdlib.h>
#include <string.h>

static struct {
    const cn_app_t *modules[CN_MODULES_MAX + 1]; /* system first, then apps; NULL-terminated */
    cn_migration_set_t sets[CN_MODULES_MAX];
    size_t n_sets;
    char *openapi;
    size_t openapi_len;
} system_state;

static int get_healthz(cn_req_t *r)
{
    static const char body[] = "{\"status\":\"ok\"}";
    return cn_reply_raw(r, 200, "application/json", body, sizeof(body) - 1);
}

/* 0 when the store answers, no migration is pending and the cluster bus (if any) is
 * connected; else CN_EBUSY with why set. */
static int readiness(cn_store_t *s, int *applied, char *why, size_t cap)
{
    cn_migrate_status_t st;
    cn_err_t err = {0};
    *applied = 0;
    if (cn_store_ping(s, &err) != 0) {
        snprintf(why, cap, "the store does not answer");
        return CN_EBUSY;
    }
    int rc = cn_migrate_status(s, system_state.sets, system_state.n_sets, &st, &err);
    if (rc != 0) {
        snprintf(why, cap, "%s", rc == CN_ETOONEW ? err.msg : "cannot read migrations");
        return CN_EBUSY;
    }
    *applied = st.applied;
    if (st.pending) {
        snprintf(why, cap, "%d migrations are pending: run cairn migrate", st.pending);
        return CN_EBUSY;
    }
    if (!cn_bus_connected()) { /* other nodes' events and invalidations would not arrive */
        snprintf(why, cap,
                 "not connected to NATS (cluster.nats_url): events from other nodes"
                 " would not arrive");
        return CN_EBUSY;
    }
    return 0;
}

static int get_readyz(cn_req_t *r)
{
    char why[sizeof(((cn_err_t *)0)->msg) + 64];
    int applied;
    if (readiness(r->store, &applied, why, sizeof(why)) != 0)
        return cn_fail(r, CN_EBUSY, "%s", why);
    return cn_reply_json(r, 200, json_pack("{s:s, s:i}", "status", "ready", "migrations", applied));
}

/* Jobs waiting, running and dead: the caller's tenant's (a tenant learns nothing of the
 * others' queues), every tenant's for the operator, who runs the process. */
static int job_depth(cn_req_t *r, int64_t depth[3])
{
    static const char *const states[] = {"queued", "running", "dead"};
    cn_stmt_t *st;
    cn_val_t args[] = {r->principal.is_operator ? CN_VNULL : CN_VTEXT(r->principal.tenant_id)};
    int rc = cn_store_query(r->store,
                            "SELECT state, count(*) FROM jobs"
                            " WHERE state IN ('queued', 'running', 'dead')"
                            " AND (CAST($1 AS TEXT) IS NULL OR tenant_id = $1) GROUP BY state",
                            args, 1, &st, &r->err);
    if (rc != 0)
        return rc;
    while ((rc = cn_stmt_step(st, &r->err)) == CN_ROW)
        for (int i = 0; i < 3; i++)
            if (strcmp(cn_stmt_text(st, 0, NULL), states[i]) == 0)
                depth[i] = cn_stmt_int(st, 1);
    cn_stmt_finish(st);
    return rc < 0 ? rc : 0;
}

static json_t *seconds_to_ms(double s)
{
    return s < 0 ? json_null() : json_real(s * 1000.0);
}

/* The console's health page: what /readyz and /metrics say, as one JSON object. The
 * request and latency numbers are the process's (as /metrics shows them, recomputed at
 * most once a second); the job counts are the caller's tenant's, null when not ready. */
static int get_status(cn_req_t *r)
{
    char why[sizeof(((cn_err_t *)0)->msg) + 64];
    int applied;
    int ready = readiness(r->store, &applied, why, sizeof(why)) == 0;
    int64_t depth[3] = {0, 0, 0};
    int rc = ready ? job_depth(r, depth) : 0;
    if (rc != 0)
        return rc;
    cn_metrics_summary_t m;
    cn_metrics_summary(&m);
    json_t *body = json_pack(
        "{s:b, s:o, s:i, s:s, s:I, s:I,"
        " s:{s:I, s:I, s:I, s:I, s:I, s:f},"
        " s:{s:o, s:o, s:o},"
        " s:o, s:{s:I}}",
        "ready", ready, "ready_detail", ready ? json_null() : json_string(why), "migrations",
        applied, "version", CAIRN_VERSION, "started_at", (json_int_t)m.started_ms, "uptime_ms",
        (json_int_t)m.uptime_ms, "requests", "total", (json_int_t)m.requests, "errors",
        (json_int_t)m.errors, "window_ms", (json_int_t)m.window_ms, "window_total",
        (json_int_t)m.window_requests, "window_errors", (json_int_t)m.window_errors, "per_second",
        m.rate, "latency_ms", "p50", seconds_to_ms(m.p50), "p90", seconds_to_ms(m.p90), "p99",
        seconds_to_ms(m.p99), "jobs",
        ready ? json_pack("{s:I, s:I, s:I}", "queued", (json_int_t)depth[0], "running",
                          (json_int_t)depth[1], "dead", (json_int_t)depth[2])
              : json_null(),
        "realtime", "connections", (json_int_t)cn_realtime_connections());
    cn_reply_header(r, "cache-control", H2O_STRLIT("no-store"));
    return cn_reply_json(r, 200, body);
}

static _Thread_local cn_buf_t metrics_buf;

void cn_system_thread_exit(void)
{
    cn_buf_free(&metrics_buf);
}

static int get_metrics(cn_req_t *r)
{
    metrics_buf.len = 0;
    cn_metrics_render(&metrics_buf);
    return cn_reply_raw(r, 200, "text/plain; version=0.0.4; charset=utf-8", metrics_buf.data,
                        metrics_buf.len);
}

static int get_openapi(cn_req_t *r)
{
    return cn_reply_raw(r, 200, "application/json", system_state.openapi, system_state.openapi_len);
}

/* A landing page for whoever opens the server in a browser: the console, and where the
 * machine-readable parts are. */
static const char home_html[] =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<title>Cairn</title></head><body>\n<h1>Cairn</h1>\n"
    "<p>The server is running. The API lives under <code>/api/v1</code>.</p>\n<ul>\n"
    "<li><a href=\"/console\">Console</a> (sign in)</li>\n"
    "<li><a href=\"/api/openapi.json\">OpenAPI document</a></li>\n"
    "<li><a href=\"/healthz\">Liveness</a> and <a href=\"/readyz\">readiness</a></li>\n"
    "<li><a href=\"/metrics\">Prometheus metrics</a></li>\n</ul>\n</body></html>\n";

static int get_home(cn_req_t *r)
{
    return cn_reply_raw(r, 200, "text/html; charset=utf-8", home_html, sizeof(home_html) - 1);
}

static const cn_field_t health_fields[] = {
    {"status", CN_T_STRING, .required = 1, .enum_values = (const char *const[]){"ok", NULL}},
    {0},
};
static const cn_schema_t health_schema = {"Health", health_fields};
static const cn_field_t ready_fields[] = {
    {"status", CN_T_STRING, .required = 1, .enum_values = (const char *const[]){"ready", NULL}},
    {"migrations", CN_T_INTEGER, .required = 1, .description = "Migrations applied"},
    {0},
};
static const cn_schema_t ready_schema = {"Readiness", ready_fields};
/* the document describes itself loosely: its own schema is OpenAPI's */
static const cn_field_t openapi_fields[] = {
    {"openapi", CN_T_STRING, .required = 1},
    {"info", CN_T_OBJECT, .required = 1},
    {"paths", CN_T_OBJECT, .required = 1},
    {0},
};
static const cn_schema_t openapi_schema = {"OpenApiDocument", openapi_fields, .allow_unknown = 1};

static const cn_field_t status_request_fields[] = {
    CN_R_INT("total"),
    {"errors", CN_T_INTEGER, .required = 1, .description = "5xx answers"},
    {"window_ms", CN_T_INTEGER, .required = 1,
     .description = "What the window-based numbers cover: up to the last minute"},
    CN_R_INT("window_total"),
    CN_R_INT("window_errors"),
    {"per_second", CN_T_NUMBER, .required = 1, .description = "Requests per second (window)"},
    {0},
};
static const cn_schema_t status_request_schema = {"StatusRequests", status_request_fields};
static const cn_field_t status_latency_fields[] = {
    CN_R_NUMBER_OR_NULL("p50"),
    CN_R_NUMBER_OR_NULL("p90"),
    CN_R_NUMBER_OR_NULL("p99"),
    {0},
};
static const cn_schema_t status_latency_schema = {
    "StatusLatency", status_latency_fields,
    .description = "Request latency quantiles over the window in ms (null: no request)"};
static const cn_field_t status_jobs_fields[] = {
    CN_R_INT("queued"), CN_R_INT("running"), CN_R_INT("dead"), {0}};
static const cn_schema_t status_jobs_schema = {"StatusJobs", status_jobs_fields};
static const cn_field_t status_rt_fields[] = {CN_R_INT("connections"), {0}};
static const cn_schema_t status_rt_schema = {"StatusRealtime", status_rt_fields};
static const cn_field_t status_fields[] = {
    {"ready", CN_T_BOOLEAN, .required = 1, .description = "What /readyz answers 200 for"},
    {"ready_detail", CN_T_STRING, .required = 1, .nullable = 1,
     .description = "Why not ready; null when ready"},
    CN_R_INT("migrations"),
    CN_R_TEXT("version"),
    CN_R_TIME("started_at"),
    CN_R_INT("uptime_ms"),
    CN_R_OBJECT("requests", &status_request_schema),
    CN_R_OBJECT("latency_ms", &status_latency_schema),
    {"jobs", CN_T_OBJECT, .required = 1, .nullable = 1, .object = &status_jobs_schema,
     .description = "The caller's tenant's jobs (every tenant's for the operator); null when "
                    "not ready"},
    CN_R_OBJECT("realtime", &status_rt_schema),
    {0},
};
static const cn_schema_t status_schema = {"SystemStatus", status_fields};

static const cn_route_t system_routes[] = {
    {CN_GET, "/", get_home, .summary = "A landing page for browsers (HTML)",
     .response_type = "text/html", .operation = "system.home"},
    /* the console's files are a web page, not API operations */
    {CN_GET, "/console", cn_console_get, .summary = "The web console (HTML)", .hidden = 1,
     .page = 1},
    {CN_GET, "/console/", cn_console_get,
     .summary = "The web console (HTML), as linked with a slash", .hidden = 1, .page = 1},
    {CN_GET, "/console/{path...}", cn_console_get,
     .summary = "The web console's files, and its own routes (HTML)", .hidden = 1, .page = 1},
    {CN_GET, "/healthz", get_healthz, .summary = "Liveness: the process answers",
     .response = &health_schema, .operation = "system.health"},
    {CN_GET, "/readyz", get_readyz, .summary = "Readiness: store reachable, migrations current",
     .response = &ready_schema, .errors = CN_ANS_503, .operation = "system.ready"},
    {CN_GET, "/api/v1/system/status", get_status, "system.status",
     .summary = "Readiness, version, uptime, request rate, latency, job queue, realtime",
     .response = &status_schema, .operation = "system.status"},
    {CN_GET, "/metrics", get_metrics, .summary = "Prometheus metrics",
     .response_type = "text/plain", .operation = "system.metrics"},
    {CN_GET, "/api/openapi.json", get_openapi, .summary = "This OpenAPI 3.1 document",
     .response = &openapi_schema, .operation = "system.openapi"},
    {0},
};

static const cn_permission_t system_permissions[] = {
    {"system.status", "See the server's readiness and key metrics (the process's, as /metrics)",
     CN_ROLES_ADMINS},
    {0},
};

const cn_app_t cn_system_app = {
    .name = "system",
    .description = "Health, readiness, metrics and API description",
    .routes = system_routes,
    .permissions = system_permissions,
};

static const cn_permission_t *permission_declared(const cn_app_t *m, const char *perm)
{
    for (const cn_permission_t *p = m->permissions; p && p->name; p++)
        if (strcmp(p->name, perm) == 0)
            return p;
    return NULL;
}

const cn_app_t *const *cn_system_modules(void)
{
    return system_state.modules;
}

int cn_register_routes(cn_router_t *router, const cn_app_t *const *modules, cn_err_t *err)
{
    for (const cn_app_t *const *m = modules; *m; m++) {
        if ((*m)->routes == NULL)
            continue;
        for (const cn_route_t *rt = (*m)->routes; rt->path; rt++)
            if (rt->permission && !permission_declared(*m, rt->permission))
                return cn_err_set(err, CN_EINVAL,
                                  "module %s: route %s uses undeclared permission %s", (*m)->name,
                                  rt->path, rt->permission);
        int rc = cn_router_add_table(router, (*m)->routes, err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int cn_modules_list(const cn_app_t *const *apps, const cn_app_t *out[CN_MODULES_MAX + 1],
                    cn_err_t *err)
{
    size_t n = 0;
    out[n++] = &cn_system_app;
    for (const cn_app_t *const *a = apps; *a; a++) {
        if (n == CN_MODULES_MAX) { /* refused, not cut short: a dropped module is silent */
            out[0] = NULL;
            return cn_err_set(err, CN_EINVAL, "more than %d modules (module %s and after)",
                              CN_MODULES_MAX - 1, (*a)->name);
        }
        out[n++] = *a;
    }
    out[n] = NULL;
    return 0;
}

size_t cn_migration_sets(const cn_app_t *const *modules, cn_migration_set_t *out)
{
    size_t n = 0;
    for (const cn_app_t *const *m = modules; *m && n < CN_MODULES_MAX; m++)
        if ((*m)->migrations)
            out[n++] = (cn_migration_set_t){(*m)->name, (*m)->migrations};
    return n;
}

static void report_line(const char *line, void *ud)
{
    cn_log(CN_LOG_INFO, NULL, "migration %s", line);
}

static int prepare_schema(const cn_config_t *cfg, cn_err_t *err)
{
    cn_store_t *store;
    int rc = cn_open_store(cfg, 0, &store, err);
    if (rc != 0)
        return rc;
    cn_migrate_status_t st;
    rc = cn_migrate_status(store, system_state.sets, system_state.n_sets, &st, err);
    if (rc == 0 && st.pending) {
        if (cfg->auto_migrate)
            rc = cn_migrate(store, system_state.sets, system_state.n_sets, 0, report_line, NULL,
                            err);
        else
            rc = cn_err_set(
                err, CN_EINVAL,
                "%d migrations are pending and store.auto_migrate is false: run cairn migrate",
                st.pending);
    }
    for (const cn_app_t *const *m = system_state.modules; rc == 0 && *m; m++)
        if ((*m)->start != NULL)
            rc = (*m)->start(cfg, store, err);
    for (const cn_app_t *const *m = system_state.modules; rc == 0 && *m; m++)
        for (const cn_subscription_t *s = (*m)->subscriptions; s && s->type_prefix; s++)
            cn_events_subscribe(s->type_prefix, s->fn, NULL);
    cn_store_close(store);
    return rc;
}

int cn_system_init(const cn_config_t *cfg, const cn_app_t *const *apps, cn_router_t *router,
                   cn_err_t *err)
{
    int rc = cn_modules_list(apps, system_state.modules, err);
    if (rc != 0)
        return rc;
    system_state.n_sets = cn_migration_sets(system_state.modules, system_state.sets);
    rc = cn_permissions_build(system_state.modules, err);
    if (rc == 0)
        rc = cn_register_routes(router, system_state.modules, err);
    if (rc != 0)
        return rc;
    json_t *doc = cn_openapi_build(system_state.modules);
    cn_buf_t b = {0};
    cn_json_dump(doc, &b);
    json_decref(doc);
    system_state.openapi = b.data;
    system_state.openapi_len = b.len;
    return prepare_schema(cfg, err);
}

void cn_system_free(void)
{
    for (const cn_app_t *const *m = system_state.modules; *m; m++)
        if ((*m)->stop != NULL)
            (*m)->stop();
    free(system_state.openapi);
    cn_permissions_free();
    memset(&system_state, 0, sizeof(system_state));
}

/* ---- OpenAPI ---- */

/* An RFC 9457 problem, as the kernel writes every error (http.c); extensions may follow. */
static const cn_field_t field_error_fields[] = {
    {"field", CN_T_STRING, .required = 1, .description = "The field's path (\"items[2].title\")"},
    {"message", CN_T_STRING, .required = 1},
    {0},
};
static const cn_schema_t field_error_schema = {"FieldError", field_error_fields};
static const cn_field_t problem_fields[] = {
    {"type", CN_T_STRING, .required = 1,
     .description = "urn:cairn:problem:<slug>: the stable name of the problem (docs/api.md)"},
    {"title", CN_T_STRING, .required = 1},
    {"status", CN_T_INTEGER, .required = 1},
    {"detail", CN_T_STRING},
    {"request_id", CN_T_STRING},
    {"errors", CN_T_ARRAY, .description = "With 422: the fields at fault",
     .items = &(const cn_field_t){"item", CN_T_OBJECT, .object = &field_error_schema}},
    {"errors_truncated", CN_T_INTEGER, .description = "Field errors left out of errors"},
    {0},
};
static const cn_schema_t problem = {"Problem", problem_fields, .allow_unknown = 1,
                                    .description = "An RFC 9457 problem: every error answer"};

static json_t *ref_to(const char *kind, const char *name)
{
    char ref[128];
    snprintf(ref, sizeof(ref), "#/components/%s/%s", kind, name);
    return json_pack("{s:s}", "$ref", ref);
}

/* The error answers, each a shared response component of problem+json. */
static const struct {
    unsigned bit;
    const char *status, *name, *description;
} error_answers[] = {
    {CN_ANS_400, "400", "BadRequest", "Malformed request (bad JSON, escape or header)"},
    {CN_ANS_401, "401", "Unauthorized", "No credentials, or credentials that are not valid"},
    {CN_ANS_403, "403", "Forbidden", "The caller lacks the permission"},
    {CN_ANS_404, "404", "NotFound", "No such resource in the caller's tenant"},
    {CN_ANS_409, "409", "Conflict", "The resource's state or a uniqueness rule refuses it"},
    {CN_ANS_415, "415", "UnsupportedMediaType", "The body's content type is not accepted"},
    {CN_ANS_422, "422", "ValidationFailed", "Fields that break the schema (listed in errors)"},
    {CN_ANS_429, "429", "TooManyRequests", "A rate limit refused it (see Retry-After)"},
    {CN_ANS_426, "426", "UpgradeRequired", "The endpoint speaks another protocol (WebSocket)"},
    {CN_ANS_503, "503", "Unavailable", "Not ready, or the store is busy: retry later"},
};

static json_t *error_responses(void)
{
    json_t *out = json_object();
    for (size_t i = 0; i < CN_ARRAY_SIZE(error_answers); i++)
        json_object_set_new(
            out, error_answers[i].name,
            json_pack("{s:s, s:{s:{s:o}}}", "description", error_answers[i].description, "content",
                      "application/problem+json", "schema", ref_to("schemas", "Problem")));
    return out;
}

/* The statuses a route can answer with a problem: those its row implies, and its own. */
static unsigned route_errors(const cn_route_t *rt)
{
    unsigned e = rt->errors | CN_ANS_429; /* the per-IP limit applies to every request */
    if (rt->body || rt->raw_body)
        e |= CN_ANS_400 | CN_ANS_415 | (rt->body ? CN_ANS_422 : 0);
    if (rt->query || rt->params)
        e |= CN_ANS_400 | CN_ANS_422;
    if (rt->params || strchr(rt->path, '{'))
        e |= CN_ANS_404;
    if (rt->permission)
        e |= CN_ANS_401 | CN_ANS_403;
    return e;
}

static json_t *path_parameter(const cn_route_t *rt, const char *name, size_t len)
{
    for (const cn_field_t *f = rt->params ? rt->params->fields : NULL; f && f->name; f++)
        if (strlen(f->name) == len && memcmp(f->name, name, len) == 0)
            return json_pack("{s:s, s:s, s:b, s:o}", "name", f->name, "in", "path", "required", 1,
                             "schema", cn_field_openapi(f));
    return json_pack("{s:s%, s:s, s:b, s:{s:s}}", "name", name, len, "in", "path", "required", 1,
                     "schema", "type", "string");
}

/* Every {name} of the template is declared, typed by rt->params when it names it. */
static json_t *parameters(const cn_route_t *rt)
{
    json_t *params = json_array();
    for (const char *p = strchr(rt->path, '{'); p; p = strchr(p + 1, '{')) {
        const char *end = strchr(p, '}');
        if (end != NULL)
            json_array_append_new(params, path_parameter(rt, p + 1, (size_t)(end - p - 1)));
    }
    if (rt->query)
        for (const cn_field_t *f = rt->query->fields; f->name; f++)
            json_array_append_new(params, json_pack("{s:s, s:s, s:b, s:o}", "name", f->name, "in",
                                                    "query", "required", f->required, "schema",
                                                    cn_field_openapi(f)));
    if (rt->idempotency_key)
        json_array_append_new(
            params, json_pack("{s:s, s:s, s:b, s:s, s:{s:s, s:i, s:i}}", "name", "Idempotency-Key",
                              "in", "header", "required", 0, "description",
                              "A retry with the same key answers the first result and stores "
                              "nothing new",
                              "schema", "type", "string", "minLength", 1, "maxLength", 200));
    return params;
}

/* The built-in roles a permission's declaration names: what the matrix test expects. */
static json_t *role_names(const cn_permission_t *p)
{
    json_t *names = json_array();
    for (size_t i = 0; p && cn_role_names[i]; i++)
        if (p->roles & (1u << i))
            json_array_append_new(names, json_string(cn_role_names[i]));
    return names;
}

static json_t *success_answer(const char *description, const cn_schema_t *schema,
                              const char *media_type, json_t *schemas)
{
    json_t *a = json_pack("{s:s}", "description", description);
    if (schema)
        json_object_set_new(a, "content",
                            json_pack("{s:{s:o}}", "application/json", "schema",
                                      cn_schema_openapi_ref(schema, schemas)));
    else if (media_type)
        json_object_set_new(a, "content",
                            json_pack("{s:{s:{s:s}}}", media_type, "schema", "type", "string"));
    return a;
}

static json_t *responses(const cn_route_t *rt, json_t *schemas)
{
    json_t *out = json_object();
    char status[8];
    snprintf(status, sizeof(status), "%d", rt->success_status ? rt->success_status : 200);
    json_object_set_new(
        out, status,
        success_answer(rt->response || rt->response_type ? "Success" : "Success (no body)",
                       rt->response, rt->response_type, schemas));
    for (const cn_answer_t *a = rt->also; a && a->status; a++) {
        snprintf(status, sizeof(status), "%d", a->status);
        json_object_set_new(out, status, success_answer(a->description, a->schema, NULL, schemas));
    }
    unsigned errors = route_errors(rt);
    for (size_t i = 0; i < CN_ARRAY_SIZE(error_answers); i++)
        if (errors & error_answers[i].bit)
            json_object_set_new(out, error_answers[i].status,
                                ref_to("responses", error_answers[i].name));
    json_object_set_new(
        out, "default",
        json_pack("{s:s, s:{s:{s:o}}}", "description", "Any other error (RFC 9457 problem)",
                  "content", "application/problem+json", "schema", ref_to("schemas", "Problem")));
    return out;
}

/* Who may call: the operator's token alone for platform routes, else any credential. */
static json_t *security(const cn_route_t *rt)
{
    if (rt->permission == NULL && !rt->self_auth)
        return json_array();
    if (rt->permission == NULL)
        return json_pack("[{s:[]}, {s:[]}, {s:[]}]", "bearer", "apiKey", "cookie");
    if (strncmp(rt->permission, "platform.", 9) == 0)
        return json_pack("[{s:[]}]", "bearer");
    return json_pack("[{s:[]}, {s:[]}, {s:[]}]", "bearer", "apiKey", "cookie");
}

/* A row without .operation still gets a stable name: module, method and path. */
static void operation_id(const cn_app_t *m, const cn_route_t *rt, char *out, size_t cap)
{
    if (rt->operation) {
        snprintf(out, cap, "%s", rt->operation);
        return;
    }
    size_t n = (size_t)snprintf(out, cap, "%s.", m->name);
    for (const char *p = cn_method_name(rt->method); *p && n + 1 < cap; p++)
        out[n++] = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    int up = 1;
    for (const char *p = rt->path; *p && n + 1 < cap; p++) {
        int alnum = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z');
        if (alnum)
            out[n++] = (char)(up && *p >= 'a' && *p <= 'z' ? *p - 32 : *p);
        up = !alnum;
    }
    out[n] = '\0';
}

static json_t *operation(const cn_app_t *m, const cn_route_t *rt, json_t *schemas)
{
    char opid[160];
    operation_id(m, rt, opid, sizeof(opid));
    const char *summary = rt->summary ? rt->summary : "";
    json_t *op =
        json_pack("{s:s, s:s, s:s, s:[s], s:o, s:o, s:o}", "operationId", opid, "summary", summary,
                  "description", summary, "tags", m->name, "parameters", parameters(rt),
                  "responses", responses(rt, schemas), "security", security(rt));
    if (rt->self_auth) /* credentials listed, yet no permission the kernel checks first */
        json_object_set_new(op, "x-auth", json_string("handler"));
    if (rt->body) {
        json_object_set_new(op, "requestBody",
                            json_pack("{s:b, s:{s:{s:o}}}", "required", !rt->body_optional,
                                      "content", "application/json", "schema",
                                      cn_schema_openapi_ref(rt->body, schemas)));
    } else if (rt->raw_body) {
        json_object_set_new(op, "requestBody",
                            json_pack("{s:b, s:{s:{s:{s:s}}}}", "required", 1, "content",
                                      rt->raw_body, "schema", "type", "string"));
    }
    if (rt->permission) {
        json_object_set_new(op, "x-permission", json_string(rt->permission));
        json_object_set_new(op, "x-roles", role_names(permission_declared(m, rt->permission)));
    }
    return op;
}

static void lower(const char *s, char *out, size_t cap)
{
    size_t i = 0;
    for (; s[i] && i + 1 < cap; i++)
        out[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
    out[i] = '\0';
}

/* The auth module's access cookie (auth/cookies.h; the kernel does not include auth): the
 * system test signs in with cookies and checks that this is the cookie it gets. */
#define SESSION_COOKIE "cairn_at"

static json_t *security_schemes(void)
{
    return json_pack(
        "{s:{s:s, s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:s}}", "bearer",
        "type", "http", "scheme", "bearer", "bearerFormat", "JWT", "description",
        "Authorization: Bearer with an access token (a JWT from sign-in), an API key, or the "
        "operator's bootstrap token (CAIRN_BOOTSTRAP_TOKEN; platform routes accept only it)",
        "apiKey", "type", "apiKey", "in", "header", "name", "X-Api-Key", "description",
        "An API key (cairn_...), with the permissions it was created with", "cookie", "type",
        "apiKey", "in", "cookie", "name", SESSION_COOKIE, "description",
        "The browser session's HttpOnly access cookie (sign in with cookie: true); unsafe "
        "methods also need the X-CSRF-Token header");
}

static json_t *document(json_t *tags, json_t *paths, json_t *schemas)
{
    return json_pack("{s:s, s:{s:s, s:s, s:s}, s:[{s:s}], s:o, s:o, s:{s:o, s:o, s:o}}", "openapi",
                     "3.1.0", "info", "title", "Cairn API", "version", CAIRN_VERSION, "description",
                     "Errors are RFC 9457 problem+json; lists are cursor-paginated; times in "
                     "answers are integer Unix milliseconds (UTC).",
                     "servers", "url", "/", "tags", tags, "paths", paths, "components", "schemas",
                     schemas, "responses", error_responses(), "securitySchemes",
                     security_schemes());
}

json_t *cn_openapi_build(const cn_app_t *const *modules)
{
    json_t *paths = json_object(), *schemas = json_object(), *tags = json_array();
    json_decref(cn_schema_openapi_ref(&problem, schemas));
    for (const cn_app_t *const *m = modules; *m; m++) {
        json_array_append_new(tags, json_pack("{s:s, s:s}", "name", (*m)->name, "description",
                                              (*m)->description ? (*m)->description : ""));
        for (const cn_route_t *rt = (*m)->routes; rt && rt->path; rt++) {
            if (rt->hidden)
                continue;
            json_t *item = json_object_get(paths, rt->path);
            if (item == NULL) {
                item = json_object();
                json_object_set_new(paths, rt->path, item);
            }
            char method[16];
            lower(cn_method_name(rt->method), method, sizeof(method));
            json_object_set_new(item, method, operation(*m, rt, schemas));
        }
    }
    return document(tags, paths, schemas);
}
