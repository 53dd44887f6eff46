/*
 * System module and start-up assembly (see system.h). The route tables of all modules
 * are read here once: into the router, into the OpenAPI document, and into the
 * permission check, so those three can never disagree.
 */
#include "core/system.h"
#include "core/console.h"
#include "core/http.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/permissions.h"
#include "core/server.h"

#include <stdlib.h>
#include <string.h>

#define MAX_MODULES 32

static struct {
    const cn_app_t *modules[MAX_MODULES + 1]; /* system first, then apps; NULL-terminated */
    cn_migration_set_t sets[MAX_MODULES];
    size_t n_sets;
    char *openapi;
    size_t openapi_len;
} system_state;

static int get_healthz(cn_req_t *r)
{
    static const char body[] = "{\"status\":\"ok\"}";
    return cn_reply_raw(r, 200, "application/json", body, sizeof(body) - 1);
}

static int get_readyz(cn_req_t *r)
{
    cn_migrate_status_t st;
    cn_err_t err = {0};
    if (cn_store_ping(r->store, &err) != 0)
        return cn_fail(r, CN_EBUSY, "the store does not answer");
    int rc = cn_migrate_status(r->store, system_state.sets, system_state.n_sets, &st, &err);
    if (rc != 0)
        return cn_fail(r, CN_EBUSY, "%s", rc == CN_ETOONEW ? err.msg : "cannot read migrations");
    if (st.pending)
        return cn_fail(r, CN_EBUSY, "%d migrations are pending: run cairn migrate", st.pending);
    return cn_reply_json(r, 200,
                         json_pack("{s:s, s:i}", "status", "ready", "migrations", st.applied));
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

static const cn_route_t system_routes[] = {
    {CN_GET, "/", get_home, .summary = "A landing page for browsers (HTML)"},
    {CN_GET, "/console", cn_console_page, .summary = "The web console (HTML)"},
    {CN_GET, "/console/", cn_console_page,
     .summary = "The web console (HTML), as linked with a slash"},
    {CN_GET, "/console/app.js", cn_console_script, .summary = "The web console's script"},
    {CN_GET, "/console/app.css", cn_console_style, .summary = "The web console's styles"},
    {CN_GET, "/healthz", get_healthz, .summary = "Liveness: the process answers"},
    {CN_GET, "/readyz", get_readyz, .summary = "Readiness: store reachable, migrations current"},
    {CN_GET, "/metrics", get_metrics, .summary = "Prometheus metrics"},
    {CN_GET, "/api/openapi.json", get_openapi, .summary = "This OpenAPI 3.1 document"},
    {0},
};

const cn_app_t cn_system_app = {
    .name = "system",
    .description = "Health, readiness, metrics and API description",
    .routes = system_routes,
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

size_t cn_migration_sets(const cn_app_t *const *apps, cn_migration_set_t *out, size_t cap)
{
    size_t n = 0;
    for (const cn_app_t *const *a = apps; *a && n < cap; a++)
        if ((*a)->migrations)
            out[n++] = (cn_migration_set_t){(*a)->name, (*a)->migrations};
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
    size_t n = 0;
    system_state.modules[n++] = &cn_system_app;
    for (const cn_app_t *const *a = apps; *a && n < MAX_MODULES; a++)
        system_state.modules[n++] = *a;
    system_state.modules[n] = NULL;
    system_state.n_sets = cn_migration_sets(system_state.modules, system_state.sets, MAX_MODULES);
    int rc = cn_permissions_build(system_state.modules, err);
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

static json_t *problem_schema(void)
{
    return json_pack("{s:s, s:[s,s,s], s:{s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s, "
                     "s:{s:s, s:{s:{s:s}, s:{s:s}}}}}}",
                     "type", "object", "required", "type", "title", "status", "properties", "type",
                     "type", "string", "title", "type", "string", "status", "type", "integer",
                     "detail", "type", "string", "request_id", "type", "string", "errors", "type",
                     "array", "items", "type", "object", "properties", "field", "type", "string",
                     "message", "type", "string");
}

static json_t *ref_to(const char *name)
{
    char ref[128];
    snprintf(ref, sizeof(ref), "#/components/schemas/%s", name);
    return json_pack("{s:s}", "$ref", ref);
}

static json_t *parameters(const cn_route_t *rt)
{
    json_t *params = json_array();
    if (rt->params)
        for (const cn_field_t *f = rt->params->fields; f->name; f++)
            json_array_append_new(params,
                                  json_pack("{s:s, s:s, s:b, s:o}", "name", f->name, "in", "path",
                                            "required", 1, "schema", cn_field_openapi(f)));
    if (rt->query)
        for (const cn_field_t *f = rt->query->fields; f->name; f++)
            json_array_append_new(params, json_pack("{s:s, s:s, s:b, s:o}", "name", f->name, "in",
                                                    "query", "required", f->required, "schema",
                                                    cn_field_openapi(f)));
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

static json_t *operation(const cn_app_t *m, const cn_route_t *rt, json_t *schemas)
{
    char status[8];
    snprintf(status, sizeof(status), "%d", rt->success_status ? rt->success_status : 200);
    json_t *op = json_pack("{s:s, s:[s], s:o, s:{s:{s:s}, s:{s:s, s:{s:{s:o}}}}}", "summary",
                           rt->summary ? rt->summary : "", "tags", m->name, "parameters",
                           parameters(rt), "responses", status, "description", "Success", "default",
                           "description", "Error (RFC 9457 problem)", "content",
                           "application/problem+json", "schema", ref_to("Problem"));
    char opid[160];
    snprintf(opid, sizeof(opid), "%s_%s", cn_method_name(rt->method), rt->path);
    for (char *p = opid; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            *p = '_';
    json_object_set_new(op, "operationId", json_string(opid));
    if (rt->body) {
        json_object_set_new(schemas, rt->body->name, cn_schema_openapi(rt->body));
        json_object_set_new(op, "requestBody",
                            json_pack("{s:b, s:{s:{s:o}}}", "required", !rt->body_optional,
                                      "content", "application/json", "schema",
                                      ref_to(rt->body->name)));
    } else if (rt->raw_body) {
        json_object_set_new(op, "requestBody",
                            json_pack("{s:b, s:{s:{s:{s:s}}}}", "required", 1, "content",
                                      rt->raw_body, "schema", "type", "string"));
    }
    if (rt->permission) {
        json_object_set_new(op, "security", json_pack("[{s:[]}]", "bearer"));
        json_object_set_new(op, "x-permission", json_string(rt->permission));
        json_object_set_new(op, "x-roles", role_names(permission_declared(m, rt->permission)));
    } else {
        json_object_set_new(op, "security", json_array());
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

json_t *cn_openapi_build(const cn_app_t *const *modules)
{
    json_t *paths = json_object(), *schemas = json_object(), *tags = json_array();
    json_object_set_new(schemas, "Problem", problem_schema());
    for (const cn_app_t *const *m = modules; *m; m++) {
        json_array_append_new(tags, json_pack("{s:s, s:s}", "name", (*m)->name, "description",
                                              (*m)->description ? (*m)->description : ""));
        for (const cn_route_t *rt = (*m)->routes; rt && rt->path; rt++) {
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
    return json_pack("{s:s, s:{s:s, s:s, s:s}, s:o, s:o, s:{s:o, s:{s:{s:s, s:s}}}}", "openapi",
                     "3.1.0", "info", "title", "Cairn API", "version", CAIRN_VERSION, "description",
                     "Errors are RFC 9457 problem+json; lists are cursor-paginated.", "tags", tags,
                     "paths", paths, "components", "schemas", schemas, "securitySchemes", "bearer",
                     "type", "http", "scheme", "bearer");
}
