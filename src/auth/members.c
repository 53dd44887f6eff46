/*
 * Roles and members (see members.h). Custom roles are read from the store on each check,
 * so a change applies to the very next request. Nobody can grant more than they hold,
 * only owners make owners, and a tenant never loses its last owner.
 */
#include "auth/members.h"
#include "auth/apikeys.h"
#include "auth/audit.h"
#include "auth/auth.h"
#include "auth/passwords.h"
#include "auth/rbac.h"
#include "auth/register.h"
#include "auth/tokens.h"
#include "core/page.h"
#include "core/permissions.h"
#include "core/system.h"
#include "core/workers.h"
#include "lib/formats.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A custom role lists at most ROLE_PERMS_MAX permissions of at most PERM_NAME_MAX bytes,
 * stored comma-separated: ROLE_PERMS_LEN holds the longest list, commas and NUL included,
 * so a role read back is never cut short (a permission lost off the end of the list). */
#define ROLE_PERMS_MAX 64
#define PERM_NAME_MAX 64
#define ROLE_PERMS_LEN (ROLE_PERMS_MAX * (PERM_NAME_MAX + 1))

const char auth_roles_sql[] =
    "CREATE TABLE roles ("
    " tenant_id TEXT NOT NULL REFERENCES tenants(id), name TEXT NOT NULL,"
    " permissions TEXT NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY (tenant_id, name))";

static int custom_role_scopes(cn_store_t *s, const char *tenant, const char *role, char *out,
                              size_t cap)
{
    cn_stmt_t *st;
    cn_err_t err;
    cn_val_t args[] = {CN_VTEXT(tenant), CN_VTEXT(role)};
    if (cn_store_query(s, "SELECT permissions FROM roles WHERE tenant_id = $1 AND name = $2", args,
                       2, &st, &err) != 0)
        return 0;
    int found = cn_stmt_step(st, &err) == CN_ROW;
    if (found)
        snprintf(out, cap, "%s", cn_stmt_text(st, 0, NULL));
    cn_stmt_finish(st);
    return found;
}

int auth_caller_holds(cn_req_t *r, const char *permission)
{
    const cn_principal_t *p = &r->principal;
    if (!p->authenticated)
        return 0;
    if (p->is_key)
        return auth_scopes_allow(p->scopes, permission);
    if (p->is_operator)
        return 1;
    if (auth_role_valid(p->role))
        return auth_role_allows(p->role, permission);
    char scopes[ROLE_PERMS_LEN];
    return strncmp(permission, "self.", 5) == 0 ||
           (custom_role_scopes(r->store, p->tenant_id, p->role, scopes, sizeof(scopes)) &&
            auth_scopes_allow(scopes, permission));
}

int auth_role_exists(cn_store_t *s, const char *tenant, const char *role)
{
    char scopes[ROLE_PERMS_LEN];
    return auth_role_valid(role) || custom_role_scopes(s, tenant, role, scopes, sizeof(scopes));
}

/* ---- roles ---- */

static const cn_field_t perm_item = {"permission", CN_T_STRING, .min_len = 1,
                                     .max_len = PERM_NAME_MAX};
static const cn_field_t role_fields[] = {
    {"name", CN_T_STRING, .required = 1, .min_len = 1, .max_len = CN_ROLE_NAME_MAX,
     .single_line = 1, .description = "lower-case letters, digits, '_' and '-'"},
    {"permissions", CN_T_ARRAY, .required = 1, .min_len = 1, .max_len = ROLE_PERMS_MAX,
     .items = &perm_item},
    {0},
};
const cn_schema_t auth_role_schema = {"RoleCreate", role_fields};

/* The permissions a built-in role holds: those whose module declares the role's bit. */
static json_t *builtin_permissions(unsigned bit)
{
    json_t *perms = json_array();
    for (const cn_app_t *const *m = cn_system_modules(); m && *m; m++)
        for (const cn_permission_t *p = (*m)->permissions; p && p->name; p++)
            if (p->roles & bit)
                json_array_append_new(perms, json_string(p->name));
    return perms;
}

int auth_list_roles(cn_req_t *r)
{
    json_t *items = json_array();
    for (unsigned i = 0; cn_role_names[i]; i++)
        json_array_append_new(items,
                              json_pack("{s:s, s:b, s:o}", "name", cn_role_names[i], "builtin", 1,
                                        "permissions", builtin_permissions(1u << i)));
    cn_stmt_t *st;
    cn_val_t args[] = {CN_VTEXT(r->principal.tenant_id)};
    int rc = cn_store_query(r->store,
                            "SELECT name, permissions, created_at FROM roles WHERE tenant_id = $1"
                            " ORDER BY name",
                            args, 1, &st, &r->err);
    if (rc != 0) {
        json_decref(items);
        return rc;
    }
    while ((rc = cn_stmt_step(st, &r->err)) == CN_ROW) {
        json_t *perms = json_array();
        char list[ROLE_PERMS_LEN];
        snprintf(list, sizeof(list), "%s", cn_stmt_text(st, 1, NULL));
        for (char *save = NULL, *p = strtok_r(list, ",", &save); p; p = strtok_r(NULL, ",", &save))
            json_array_append_new(perms, json_string(p));
        json_array_append_new(items,
                              json_pack("{s:s, s:b, s:o, s:I}", "name", cn_stmt_text(st, 0, NULL),
                                        "builtin", 0, "permissions", perms, "created_at",
                                        (json_int_t)cn_stmt_int(st, 2)));
    }
    cn_stmt_finish(st);
    if (rc < 0) {
        json_decref(items);
        return rc;
    }
    return cn_reply_json(r, 200, json_pack("{s:o, s:n}", "items", items, "next_cursor"));
}

int auth_list_permissions(cn_req_t *r)
{
    json_t *items = json_array();
    for (const cn_app_t *const *m = cn_system_modules(); m && *m; m++)
        for (const cn_permission_t *p = (*m)->permissions; p && p->name; p++) {
            json_t *roles = json_array();
            for (unsigned i = 0; cn_role_names[i]; i++)
                if (p->roles & (1u << i))
                    json_array_append_new(roles, json_string(cn_role_names[i]));
            json_array_append_new(items,
                                  json_pack("{s:s, s:s, s:s, s:o}", "name", p->name, "description",
                                            p->description ? p->description : "", "module",
                                            (*m)->name, "roles", roles));
        }
    return cn_reply_json(r, 200, json_pack("{s:o, s:n}", "items", items, "next_cursor"));
}

int auth_post_role(cn_req_t *r)
{
    const char *name = json_string_value(json_object_get(r->body, "name"));
    for (const char *p = name; *p; p++)
        if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_' || *p == '-'))
            return cn_fail_field(r, "name", "use lower-case letters, digits, '_' and '-'");
    if (auth_role_valid(name))
        return cn_fail_field(r, "name", "is a built-in role");
    char scopes[ROLE_PERMS_LEN] = "";
    size_t used = 0, i;
    json_t *v;
    json_array_foreach(json_object_get(r->body, "permissions"), i, v)
    {
        const char *perm = json_string_value(v);
        char field[48];
        snprintf(field, sizeof(field), "permissions[%zu]", i);
        if (!cn_permission_exists(perm))
            cn_verrors_add(&r->verrors, field, "is not a permission of this server");
        else if (!auth_caller_holds(r, perm))
            cn_verrors_add(&r->verrors, field, "is not held by the caller");
        else if (!auth_scopes_allow(scopes, perm) && used + strlen(perm) + 2 <= sizeof(scopes))
            used += (size_t)snprintf(scopes + used, sizeof(scopes) - used, "%s%s", used ? "," : "",
                                     perm);
    }
    if (r->verrors.count)
        return cn_fail(r, CN_EVALIDATION, "the role's permissions are not allowed");
    cn_val_t args[] = {CN_VTEXT(r->principal.tenant_id), CN_VTEXT(name), CN_VTEXT(scopes),
                       CN_VINT(cn_now_ms())};
    int rc = cn_store_exec(r->store,
                           "INSERT INTO roles (tenant_id, name, permissions, created_at)"
                           " VALUES ($1, $2, $3, $4)",
                           args, 4, NULL, &r->err);
    if (rc == CN_ECONFLICT)
        return cn_fail(r, CN_ECONFLICT, "a role named %s exists", name);
    if (rc != 0)
        return rc;
    return cn_reply_json(r, 201,
                         json_pack("{s:s, s:b, s:O}", "name", name, "builtin", 0, "permissions",
                                   json_object_get(r->body, "permissions")));
}

int auth_delete_role(cn_req_t *r)
{
    const char *name = cn_req_param(r, "name");
    cn_val_t args[] = {CN_VTEXT(r->principal.tenant_id), CN_VTEXT(name)};
    int rc = cn_store_exists(
        r->store, "SELECT 1 FROM memberships WHERE tenant_id = $1 AND role = $2", args, 2, &r->err);
    if (rc == 0)
        return cn_fail(r, CN_ECONFLICT, "members still have this role; give them another first");
    if (rc != CN_ENOTFOUND) /* an error is not "unused": the role stays */
        return rc;
    int64_t changes = 0;
    rc = cn_store_exec(r->store, "DELETE FROM roles WHERE tenant_id = $1 AND name = $2", args, 2,
                       &changes, &r->err);
    if (rc != 0)
        return rc;
    return changes ? cn_reply_empty(r, 204)
                   : cn_fail(r, CN_ENOTFOUND, "no custom role with this name");
}

/* ---- members ---- */

static const cn_field_t member_fields[] = {
    {"email", CN_T_STRING, .required = 1, .format = CN_FMT_EMAIL},
    {"role", CN_T_STRING, .required = 1, .min_len = 1, .max_len = CN_ROLE_NAME_MAX},
    {"password", CN_T_STRING, .min_len = 1, .max_len = 1024,
     .description = "required when the e-mail has no account yet"},
    {0},
};
const cn_schema_t auth_member_schema = {"MemberAdd", member_fields};

static const cn_field_t member_patch_fields[] = {
    {"role", CN_T_STRING, .required = 1, .min_len = 1, .max_len = CN_ROLE_NAME_MAX},
    {0},
};
const cn_schema_t auth_member_patch_schema = {"MemberUpdate", member_patch_fields};

/* 1 when the caller holds every permission the built-in role with this CN_ROLE_* bit is
 * declared to hold; self.* concern one's own account and every role holds them. */
static int holds_builtin_role(cn_req_t *r, unsigned bit)
{
    for (const cn_app_t *const *m = cn_system_modules(); m && *m; m++)
        for (const cn_permission_t *p = (*m)->permissions; p && p->name; p++)
            if ((p->roles & bit) && strncmp(p->name, "self.", 5) != 0 &&
                !auth_caller_holds(r, p->name))
                return 0;
    return 1;
}

/* 1 when the caller holds every permission role grants (nobody hands out more). */
static int role_within_caller(cn_req_t *r, const char *role)
{
    const cn_principal_t *p = &r->principal;
    if (p->is_operator)
        return 1;
    if (strcmp(role, "owner") == 0) /* owners only, never a key */
        return !p->is_key && strcmp(p->role, "owner") == 0;
    if (strcmp(role, "admin") == 0 || strcmp(role, "member") == 0)
        return !p->is_key && (strcmp(p->role, "owner") == 0 || strcmp(p->role, "admin") == 0);
    if (strcmp(role, "viewer") == 0) /* users.manage alone (a key, a custom role) is not enough */
        return holds_builtin_role(r, CN_ROLE_VIEWER);
    char scopes[ROLE_PERMS_LEN];
    if (!custom_role_scopes(r->store, p->tenant_id, role, scopes, sizeof(scopes)))
        return 0;
    for (char *save = NULL, *perm = strtok_r(scopes, ",", &save); perm;
         perm = strtok_r(NULL, ",", &save))
        if (!auth_caller_holds(r, perm))
            return 0;
    return 1;
}

/* Who may hand out role: it must exist and grant nothing the caller lacks. */
static int check_grant(cn_req_t *r, const char *role, const char *field)
{
    if (!auth_role_exists(r->store, r->principal.tenant_id, role))
        return cn_fail_field(r, field, "is not a role of this tenant");
    if (!role_within_caller(r, role))
        return cn_fail(r, CN_EFORBIDDEN, "the role %s grants more than the caller holds", role);
    return 0;
}

/* Counts the tenant's owners after locking the tenant's row until the transaction ends.
 * Every change that may take an owner away counts this way, so two at once (two owners
 * demoting each other, on two nodes of one PostgreSQL under READ COMMITTED) count one
 * after the other, and the second sees the first's result instead of a tenant that still
 * has two owners. A no-op UPDATE both engines accept (SQLite has no SELECT ... FOR UPDATE;
 * its process write lock already serialises the two). It sets name, not id: assigning a
 * key that other tables reference makes SQLite check those tables. */
const char auth_owners_lock_sql[] = "UPDATE tenants SET name = name WHERE id = $1";

static int count_owners(cn_req_t *r, int64_t *n)
{
    cn_val_t args[] = {CN_VTEXT(r->principal.tenant_id)};
    int rc = cn_store_exec(r->store, auth_owners_lock_sql, args, 1, NULL, &r->err);
    if (rc != 0)
        return rc;
    return cn_store_one_int(r->store, /* count: one row */
                            "SELECT count(*) FROM memberships WHERE tenant_id = $1"
                            " AND role = 'owner'",
                            args, 1, n, &r->err);
}

static int member_role(cn_req_t *r, const char *user, char role[CN_ROLE_NAME_MAX + 1])
{
    cn_val_t args[] = {CN_VTEXT(r->principal.tenant_id), CN_VTEXT(user)};
    int rc = cn_store_one_text(r->store,
                               "SELECT role FROM memberships WHERE tenant_id = $1 AND user_id = $2",
                               args, 2, role, CN_ROLE_NAME_MAX + 1, &r->err);
    return rc == CN_ENOTFOUND ? cn_fail(r, rc, "no member with this id") : rc;
}

int auth_list_members(cn_req_t *r)
{
    cn_page_t page;
    int rc = cn_page_begin(r, &page);
    if (rc != 0)
        return rc;
    cn_val_t args[] = {CN_VTEXT(r->principal.tenant_id), CN_VTEXT(page.after),
                       CN_VINT(page.limit + 1)};
    cn_stmt_t *st;
    /* the lockout account is the tenant slug and the e-mail; the latest lock from any client
     * (what `cairn user list` shows), so an admin sees whom an unlock would help */
    if ((rc = cn_store_query(
             r->store,
             "SELECT u.id, u.email, m.role, m.created_at,"
             " COALESCE((SELECT MAX(f.locked_until) FROM login_failures f"
             "  WHERE f.account = (SELECT slug FROM tenants WHERE id = $1) || '/' || u.email), 0)"
             " FROM memberships m JOIN users u ON u.id = m.user_id"
             " WHERE m.tenant_id = $1 AND u.id > $2 ORDER BY u.id LIMIT $3",
             args, 3, &st, &r->err)) != 0)
        return rc;
    int64_t now = cn_now_ms();
    while ((rc = cn_stmt_step(st, &r->err)) == CN_ROW && cn_page_room(&page)) {
        size_t id_len, email_len, role_len;
        const char *id = cn_stmt_text(st, 0, &id_len);
        const char *email = cn_stmt_text(st, 1, &email_len);
        const char *role = cn_stmt_text(st, 2, &role_len);
        cn_jw_object(&page.w);
        cn_jw_key(&page.w, "id");
        cn_jw_str(&page.w, id, id_len);
        cn_jw_key(&page.w, "email");
        cn_jw_str(&page.w, email, email_len);
        cn_jw_key(&page.w, "role");
        cn_jw_str(&page.w, role, role_len);
        cn_jw_key(&page.w, "member_since");
        cn_jw_int(&page.w, cn_stmt_int(st, 3));
        int64_t locked = cn_stmt_int(st, 4);
        cn_jw_key(&page.w, "locked_until");
        if (locked > now)
            cn_jw_int(&page.w, locked);
        else
            cn_jw_null(&page.w);
        cn_jw_end(&page.w);
        cn_page_item(&page, id, id_len);
    }
    cn_stmt_finish(st);
    return rc < 0 ? rc : cn_page_send(r, &page);
}

/* ---- adding a member, and creating an account on the way ---- */

int auth_insert_membership(cn_req_t *r, const char *tenant, const char *user, const char *role)
{
    cn_val_t args[] = {CN_VTEXT(tenant), CN_VTEXT(user), CN_VTEXT(role), CN_VINT(cn_now_ms())};
    int rc = cn_store_exec(r->store,
                           "INSERT INTO memberships (tenant_id, user_id, role, created_at)"
                           " VALUES ($1, $2, $3, $4)",
                           args, 4, NULL, &r->err);
    return rc == CN_ECONFLICT ? cn_fail(r, CN_ECONFLICT, "already a member of this tenant") : rc;
}

typedef struct {
    char *password;
    size_t len;
    char hash[AUTH_HASH_LEN];
    int ok;
    char tenant[40], email[256], role[CN_ROLE_NAME_MAX + 1];
    auth_account_fn before, reply;
} add_t;

static void add_work(void *arg)
{
    add_t *a = arg;
    a->ok = auth_password_hash(a->password, a->len, a->hash) == 0;
}

static void add_done(cn_req_t *r, void *arg)
{
    add_t *a = arg;
    if (r != NULL) {
        char id[CN_UUID_LEN + 1];
        cn_uuid7(id);
        int64_t now = cn_now_ms();
        cn_val_t args[] = {CN_VTEXT(id), CN_VTEXT(a->email), CN_VTEXT(a->hash), CN_VINT(now)};
        int rc = a->ok ? 0 : cn_fail(r, CN_ERR, "cannot hash the password");
        if (rc == 0 && a->before) /* all in the completion's unit of work */
            rc = a->before(r, a->tenant, NULL, NULL);
        if (rc == 0)
            rc =
                cn_store_exec(r->store,
                              "INSERT INTO users (id, email, password_hash, created_at, updated_at)"
                              " VALUES ($1, $2, $3, $4, $4)",
                              args, 4, NULL, &r->err);
        if (rc == CN_ECONFLICT) /* the address got an account meanwhile */
            rc = cn_fail(r, CN_ECONFLICT, "this e-mail got an account meanwhile; try again");
        if (rc == 0 && (rc = auth_insert_membership(r, a->tenant, id, a->role)) == 0)
            rc = a->reply(r, a->tenant, id, a->role);
        if (rc != 0)
            cn_req_finish_error(r, rc);
    }
    sodium_memzero(a->password, a->len);
    free(a->password);
    sodium_memzero(a, sizeof(*a));
    free(a);
}

int auth_add_account(cn_req_t *r, const char *tenant, const char *email, const char *role,
                     const char *password_field, auth_account_fn before, auth_account_fn reply)
{
    json_t *pw = json_object_get(r->body, password_field);
    if (pw == NULL)
        return cn_fail_field(r, password_field, "is required for an e-mail without an account");
    const char *weak = auth_password_policy(json_string_value(pw), json_string_length(pw), email);
    if (weak != NULL)
        return cn_fail_field(r, password_field, weak);
    add_t *a = cn_calloc(1, sizeof(*a));
    a->len = json_string_length(pw);
    a->password = cn_strndup(json_string_value(pw), a->len);
    snprintf(a->tenant, sizeof(a->tenant), "%s", tenant);
    snprintf(a->email, sizeof(a->email), "%s", email);
    snprintf(a->role, sizeof(a->role), "%s", role);
    a->before = before;
    a->reply = reply;
    return cn_req_offload(r, add_work, add_done, a);
}

int auth_find_account(cn_req_t *r, const char *email, char user[40])
{
    user[0] = '\0';
    cn_val_t a[] = {CN_VTEXT(email)};
    int rc = cn_store_one_text(r->store, "SELECT id FROM users WHERE email = $1", a, 1, user, 40,
                               &r->err);
    return rc == CN_ENOTFOUND ? 0 : rc; /* none: user stays empty */
}

static int reply_member(cn_req_t *r, const char *tenant, const char *user, const char *role)
{
    char location[96];
    int n = snprintf(location, sizeof(location), "/api/v1/users/%s", user);
    cn_reply_header(r, "location", location, (size_t)n);
    return cn_reply_json(r, 201, json_pack("{s:s, s:s}", "id", user, "role", role));
}

int auth_post_member(cn_req_t *r)
{
    char email[256], user[40];
    auth_email_normalize(json_string_value(json_object_get(r->body, "email")), email,
                         sizeof(email));
    const char *role = json_string_value(json_object_get(r->body, "role"));
    const char *tenant = r->principal.tenant_id;
    int rc = check_grant(r, role, "role");
    if (rc == 0)
        rc = auth_find_account(r, email, user);
    if (rc != 0)
        return rc;
    if (user[0]) { /* an existing account joins; its password is its own */
        rc = auth_insert_membership(r, tenant, user, role);
        return rc != 0 ? rc : reply_member(r, tenant, user, role);
    }
    return auth_add_account(r, tenant, email, role, "password", NULL, reply_member);
}

/* Ends the member's sessions in this tenant at once (role change, removal), and revokes
 * the API keys they created there: a key must not outlive its maker's rights. */
static int end_sessions(cn_req_t *r, const char *user)
{
    cn_val_t keys[] = {CN_VTEXT(r->principal.tenant_id), CN_VTEXT(user), CN_VINT(cn_now_ms())};
    /* their ids join the revoked set, as a session's do: refused at once, cached or not */
    int krc = auth_revoke_sessions(r->store,
                                   "UPDATE api_keys SET revoked_at = $3 WHERE tenant_id = $1"
                                   " AND created_by = $2 AND revoked_at IS NULL RETURNING id",
                                   keys, 3, NULL, &r->err);
    if (krc != 0)
        return krc;
    cn_val_t args[] = {CN_VTEXT(user), CN_VTEXT(r->principal.tenant_id), CN_VINT(cn_now_ms())};
    return auth_revoke_sessions(r->store,
                                "UPDATE sessions SET revoked_at = $3 WHERE user_id = $1"
                                " AND tenant_id = $2 AND revoked_at IS NULL RETURNING id",
                                args, 3, NULL, &r->err);
}

static int keeps_an_owner(cn_req_t *r, const char *old_role)
{
    if (strcmp(old_role, "owner") != 0)
        return 0;
    if (!r->principal.is_operator &&
        (r->principal.is_key || strcmp(r->principal.role, "owner") != 0))
        return cn_fail(r, CN_EFORBIDDEN, "only owners can change an owner");
    int64_t owners = 0;
    int rc = count_owners(r, &owners);
    if (rc == 0 && owners <= 1)
        rc = cn_fail(r, CN_ECONFLICT, "a tenant must keep at least one owner");
    return rc;
}

int auth_patch_member(cn_req_t *r)
{
    const char *user = cn_req_param(r, "id"),
               *role = json_string_value(json_object_get(r->body, "role"));
    char old[CN_ROLE_NAME_MAX + 1];
    int rc = member_role(r, user, old);
    if (rc == 0)
        rc = check_grant(r, role, "role");
    if (rc == 0 && strcmp(role, "owner") != 0)
        rc = keeps_an_owner(r, old);
    if (rc != 0)
        return rc;
    cn_val_t args[] = {CN_VTEXT(r->principal.tenant_id), CN_VTEXT(user), CN_VTEXT(role)};
    if ((rc = cn_store_exec(
             r->store, "UPDATE memberships SET role = $3 WHERE tenant_id = $1 AND user_id = $2",
             args, 3, NULL, &r->err)) != 0 ||
        (rc = end_sessions(r, user)) != 0) /* their tokens carry the old role */
        return rc;
    return cn_reply_json(r, 200, json_pack("{s:s, s:s}", "id", user, "role", role));
}

int auth_delete_member(cn_req_t *r)
{
    const char *user = cn_req_param(r, "id");
    char old[CN_ROLE_NAME_MAX + 1];
    int rc = member_role(r, user, old);
    if (rc == 0)
        rc = keeps_an_owner(r, old);
    if (rc != 0)
        return rc;
    cn_val_t args[] = {CN_VTEXT(r->principal.tenant_id), CN_VTEXT(user)};
    if ((rc = cn_store_exec(r->store,
                            "DELETE FROM memberships WHERE tenant_id = $1 AND user_id = $2", args,
                            2, NULL, &r->err)) != 0 ||
        (rc = end_sessions(r, user)) != 0)
        return rc;
    return cn_reply_empty(r, 204);
}

/* ---- tenants: the caller's own settings, and (operator) creating and listing all ---- */

static const cn_field_t tenant_fields[] = {
    {"name", CN_T_STRING, .min_len = 1, .max_len = 200, .single_line = 1},
    {"mfa_required_for_admins", CN_T_BOOLEAN,
     .description = "owners and admins must sign in with a second factor"},
    {"allow_registration", CN_T_BOOLEAN,
     .description = "anyone may create an account here (role member) with POST /auth/register"},
    {"registration_requires_confirmation", CN_T_BOOLEAN, .nullable = 1,
     .description = "registrations are confirmed by mail first; null = on when the server can "
                    "send mail (mail.smtp_url)"},
    {0},
};
const cn_schema_t auth_tenant_schema = {"TenantUpdate", tenant_fields};

static const char tenant_columns[] =
    "SELECT id, slug, name, mfa_required_for_admins, allow_registration, created_at,"
    " registration_requires_confirmation FROM tenants";

/* registration_requires_confirmation is shown as it applies (a null follows the server) */
static void write_tenant(cn_jw_t *w, cn_stmt_t *st)
{
    static const char *const names[] = {"id",
                                        "slug",
                                        "name",
                                        "mfa_required_for_admins",
                                        "allow_registration",
                                        "created_at",
                                        "registration_requires_confirmation"};
    cn_jw_object(w);
    for (int c = 0; c < 7; c++) {
        cn_jw_key(w, names[c]);
        size_t len;
        const char *t = cn_stmt_text(st, c, &len);
        if (c == 3 || c == 4)
            cn_jw_bool(w, cn_stmt_int(st, c) != 0);
        else if (c == 5)
            cn_jw_int(w, cn_stmt_int(st, c));
        else if (c == 6)
            cn_jw_bool(w, auth_registration_confirms(t == NULL, cn_stmt_int(st, c)));
        else
            cn_jw_str(w, t, len);
    }
    cn_jw_end(w);
}

static int reply_tenant_by_id(cn_req_t *r, const char *tenant, int status)
{
    cn_stmt_t *st;
    cn_val_t args[] = {CN_VTEXT(tenant)};
    char sql[sizeof(tenant_columns) + 32];
    snprintf(sql, sizeof(sql), "%s WHERE id = $1", tenant_columns);
    int rc = cn_store_query(r->store, sql, args, 1, &st, &r->err);
    if (rc != 0)
        return rc;
    cn_jw_t w;
    cn_jw_init(&w, cn_reply_buffer(r));
    if ((rc = cn_stmt_step(st, &r->err)) == CN_ROW)
        write_tenant(&w, st);
    cn_stmt_finish(st);
    if (rc < 0)
        return rc;
    if (rc != CN_ROW)
        return cn_fail(r, CN_ENOTFOUND, "no such tenant");
    return cn_reply_json_buf(r, status);
}

int auth_get_tenant(cn_req_t *r)
{
    return reply_tenant_by_id(r, r->principal.tenant_id, 200);
}

int auth_patch_tenant(cn_req_t *r)
{
    json_t *name = json_object_get(r->body, "name"),
           *mfa = json_object_get(r->body, "mfa_required_for_admins"),
           *reg = json_object_get(r->body, "allow_registration"),
           *confirm = json_object_get(r->body, "registration_requires_confirmation");
    if (name == NULL && mfa == NULL && reg == NULL && confirm == NULL)
        return cn_fail_field(r, "",
                             "give at least one of name, mfa_required_for_admins, "
                             "allow_registration, registration_requires_confirmation");
    cn_val_t args[] = {CN_VTEXT(r->principal.tenant_id),
                       name ? CN_VTEXT(json_string_value(name)) : CN_VNULL,
                       mfa ? CN_VINT(json_is_true(mfa)) : CN_VNULL,
                       reg ? CN_VINT(json_is_true(reg)) : CN_VNULL,
                       CN_VINT(confirm != NULL),
                       json_is_boolean(confirm) ? CN_VINT(json_is_true(confirm)) : CN_VNULL};
    int rc = cn_store_exec(
        r->store,
        "UPDATE tenants SET name = COALESCE($2, name),"
        " mfa_required_for_admins = COALESCE($3, mfa_required_for_admins),"
        " allow_registration = COALESCE($4, allow_registration),"
        " registration_requires_confirmation = CASE WHEN $5 = 1 THEN CAST($6 AS BIGINT)"
        " ELSE registration_requires_confirmation END WHERE id = $1",
        args, 6, NULL, &r->err);
    return rc != 0 ? rc : reply_tenant_by_id(r, r->principal.tenant_id, 200);
}

static const cn_field_t new_tenant_fields[] = {
    {"slug", CN_T_STRING, .required = 1, .min_len = 1, .max_len = 64,
     .description = "lower-case letters, digits and '-'; used to sign in"},
    {"name", CN_T_STRING, .required = 1, .min_len = 1, .max_len = 200, .single_line = 1},
    {"allow_registration", CN_T_BOOLEAN},
    {"mfa_required_for_admins", CN_T_BOOLEAN},
    {"registration_requires_confirmation", CN_T_BOOLEAN, .nullable = 1,
     .description = "omitted or null: on when the server can send mail (mail.smtp_url)"},
    {"owner_email", CN_T_STRING, .format = CN_FMT_EMAIL, .max_len = 254,
     .description = "becomes the tenant's owner (an existing account, or a new one)"},
    {"owner_password", CN_T_STRING, .min_len = 1, .max_len = 1024,
     .description = "required when owner_email has no account yet"},
    {0},
};
const cn_schema_t auth_new_tenant_schema = {"TenantCreate", new_tenant_fields};

/* The tenant row of POST /api/v1/tenants, inside the request's unit of work. */
static int insert_tenant(cn_req_t *r, const char *tenant, const char *user, const char *role)
{
    const char *slug = json_string_value(json_object_get(r->body, "slug"));
    json_t *confirm = json_object_get(r->body, "registration_requires_confirmation");
    cn_val_t args[] = {CN_VTEXT(tenant),
                       CN_VTEXT(slug),
                       CN_VTEXT(json_string_value(json_object_get(r->body, "name"))),
                       CN_VINT(cn_now_ms()),
                       CN_VINT(json_is_true(json_object_get(r->body, "allow_registration"))),
                       CN_VINT(json_is_true(json_object_get(r->body, "mfa_required_for_admins"))),
                       json_is_boolean(confirm) ? CN_VINT(json_is_true(confirm)) : CN_VNULL};
    int rc = cn_store_exec(r->store,
                           "INSERT INTO tenants (id, slug, name, created_at, allow_registration,"
                           " mfa_required_for_admins, registration_requires_confirmation)"
                           " VALUES ($1, $2, $3, $4, $5, $6, $7)",
                           args, 7, NULL, &r->err);
    if (rc == CN_ECONFLICT)
        return cn_fail(r, CN_ECONFLICT, "a tenant with slug %s exists", slug);
    return rc;
}

static int reply_new_tenant(cn_req_t *r, const char *tenant, const char *user, const char *role)
{
    char location[96];
    int n = snprintf(location, sizeof(location), "/api/v1/tenants/%s", tenant);
    cn_reply_header(r, "location", location, (size_t)n);
    return reply_tenant_by_id(r, tenant, 201);
}

int auth_post_tenant(cn_req_t *r)
{
    if (!auth_slug_chars_ok(json_string_value(json_object_get(r->body, "slug"))))
        return cn_fail_field(r, "slug", "may hold only lower-case letters, digits and '-'");
    char tenant[CN_UUID_LEN + 1], email[256], user[40] = "";
    cn_uuid7(tenant);
    const char *owner = json_string_value(json_object_get(r->body, "owner_email"));
    int rc = 0;
    if (owner != NULL) {
        auth_email_normalize(owner, email, sizeof(email));
        if ((rc = auth_find_account(r, email, user)) != 0)
            return rc;
        if (user[0] == '\0')
            return auth_add_account(r, tenant, email, "owner", "owner_password", insert_tenant,
                                    reply_new_tenant);
    }
    if ((rc = insert_tenant(r, tenant, NULL, NULL)) == 0 &&
        (user[0] == '\0' || (rc = auth_insert_membership(r, tenant, user, "owner")) == 0))
        rc = reply_new_tenant(r, tenant, NULL, NULL);
    return rc; /* the kernel keeps the tenant and its owner together, or neither */
}

int auth_get_any_tenant(cn_req_t *r)
{
    return reply_tenant_by_id(r, cn_req_param(r, "id"), 200);
}

int auth_list_tenants(cn_req_t *r)
{
    cn_page_t page;
    int rc = cn_page_begin(r, &page);
    if (rc != 0)
        return rc;
    char sql[sizeof(tenant_columns) + 64];
    snprintf(sql, sizeof(sql), "%s WHERE id > $1 ORDER BY id LIMIT $2", tenant_columns);
    cn_val_t args[] = {CN_VTEXT(page.after), CN_VINT(page.limit + 1)};
    cn_stmt_t *st;
    if ((rc = cn_store_query(r->store, sql, args, 2, &st, &r->err)) != 0)
        return rc;
    while ((rc = cn_stmt_step(st, &r->err)) == CN_ROW && cn_page_room(&page)) {
        size_t len;
        const char *id = cn_stmt_text(st, 0, &len);
        write_tenant(&page.w, st);
        cn_page_item(&page, id, len);
    }
    cn_stmt_finish(st);
    return rc < 0 ? rc : cn_page_send(r, &page);
}
