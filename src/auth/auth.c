/*
 * auth module (see auth.h): its tables (migrations, routes, permissions), start and stop,
 * the hooks the router calls to authenticate and authorise every request, and the small
 * helpers auth.h declares for the module's files. The routes' handlers live in the files
 * named for what they do: login.c (sign-in, sessions, logout), refresh.c, self.c (the
 * caller, password change), gdpr.c (export, erasure), members.c, apikeys.c, mfa.c, ...
 */
#include "auth/auth.h"
#include "auth/apikeys.h"
#include "auth/audit.h"
#include "auth/answers.h"
#include "auth/cookies.h"
#include "auth/gdpr.h"
#include "auth/lockout.h"
#include "auth/login.h"
#include "auth/members.h"
#include "auth/mfa.h"
#include "auth/passwords.h"
#include "auth/rbac.h"
#include "auth/refresh.h"
#include "auth/register.h"
#include "auth/reset.h"
#include "auth/self.h"
#include "auth/settings.h"
#include "auth/tokens.h"
#include "auth/vault.h"
#include "core/http.h"
#include "core/page.h"
#include "core/log.h"
#include "lib/formats.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/*
 * PostgreSQL's schema (see cn_migration_t): the tables as the 18 SQLite migrations leave
 * them, created at version 1 (the later versions are "" on PostgreSQL). BIGINT for every
 * integer (PostgreSQL's INTEGER is 32 bits and the times are Unix ms), no WITHOUT ROWID;
 * audit_log.seq is assigned by the code, so BIGINT PRIMARY KEY needs no rowid alias.
 */
static const char auth_pg[] =
    "CREATE TABLE tenants ("
    " id TEXT PRIMARY KEY, slug TEXT NOT NULL UNIQUE, name TEXT NOT NULL,"
    " created_at BIGINT NOT NULL, mfa_required_for_admins BIGINT NOT NULL DEFAULT 0,"
    " allow_registration BIGINT NOT NULL DEFAULT 0, registration_requires_confirmation BIGINT);"
    "CREATE TABLE users ("
    " id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL,"
    " created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL);"
    "CREATE TABLE memberships ("
    " tenant_id TEXT NOT NULL REFERENCES tenants(id),"
    " user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    " role TEXT NOT NULL, created_at BIGINT NOT NULL, PRIMARY KEY (tenant_id, user_id));"
    "CREATE INDEX memberships_user ON memberships (user_id);"
    "CREATE TABLE sessions ("
    " id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, user_id TEXT NOT NULL,"
    " created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, revoked_at BIGINT,"
    " refresh_gen BIGINT NOT NULL DEFAULT 0, refresh_hash TEXT NOT NULL DEFAULT '',"
    " refresh_prev TEXT NOT NULL DEFAULT '', mfa BIGINT NOT NULL DEFAULT 0);"
    "CREATE INDEX sessions_user ON sessions (user_id, tenant_id);"
    "CREATE INDEX sessions_revoked ON sessions (revoked_at);"
    "CREATE TABLE signing_keys ("
    " kid TEXT PRIMARY KEY, secret TEXT NOT NULL, created_at BIGINT NOT NULL,"
    " retired_at BIGINT, verify_until BIGINT);"
    "CREATE TABLE api_keys ("
    " id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id),"
    " prefix TEXT NOT NULL UNIQUE, secret_hash TEXT NOT NULL, name TEXT NOT NULL,"
    " scopes TEXT NOT NULL, created_by TEXT NOT NULL, created_at BIGINT NOT NULL,"
    " expires_at BIGINT, last_used_at BIGINT, revoked_at BIGINT);"
    "CREATE INDEX api_keys_tenant ON api_keys (tenant_id, id);"
    "CREATE TABLE audit_log ("
    " seq BIGINT PRIMARY KEY, tenant_id TEXT, actor TEXT NOT NULL, action TEXT NOT NULL,"
    " object TEXT, ip TEXT NOT NULL, request_id TEXT NOT NULL, status BIGINT NOT NULL,"
    " at BIGINT NOT NULL, salt TEXT NOT NULL, personal TEXT NOT NULL, hash TEXT NOT NULL);"
    "CREATE INDEX audit_log_tenant ON audit_log (tenant_id, seq);"
    "CREATE TABLE mfa ("
    " user_id TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,"
    " secret TEXT NOT NULL, confirmed_at BIGINT, last_step BIGINT NOT NULL DEFAULT 0);"
    "CREATE TABLE mfa_recovery ("
    " user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE, code_hash TEXT NOT NULL,"
    " used_at BIGINT, PRIMARY KEY (user_id, code_hash));"
    "CREATE TABLE mfa_challenges ("
    " id_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL, tenant_id TEXT NOT NULL,"
    " role TEXT NOT NULL, expires_at BIGINT NOT NULL, used_at BIGINT, session_ends_at BIGINT);"
    "CREATE TABLE roles ("
    " tenant_id TEXT NOT NULL REFERENCES tenants(id), name TEXT NOT NULL,"
    " permissions TEXT NOT NULL, created_at BIGINT NOT NULL, PRIMARY KEY (tenant_id, name));"
    "CREATE TABLE password_resets ("
    " token_hash TEXT PRIMARY KEY,"
    " user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    " tenant_id TEXT NOT NULL,"
    " created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, used_at BIGINT);"
    "CREATE INDEX password_resets_user ON password_resets (user_id);"
    "CREATE TABLE login_failures ("
    " account TEXT NOT NULL, ip TEXT NOT NULL, failures BIGINT NOT NULL,"
    " window_start BIGINT NOT NULL, lockouts BIGINT NOT NULL, locked_until BIGINT NOT NULL,"
    " known_until BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (account, ip));"
    "CREATE TABLE registrations ("
    " id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id),"
    " email TEXT NOT NULL, password_hash TEXT, token_hash TEXT UNIQUE,"
    " created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, used_at BIGINT,"
    " mail_at BIGINT, mailed_by TEXT);"
    "CREATE INDEX registrations_email ON registrations (email, tenant_id);"
    "CREATE INDEX registrations_expiry ON registrations (expires_at)";

static const cn_migration_t migrations[] = {
    {1, "create_identity",
     "CREATE TABLE tenants ("
     " id TEXT PRIMARY KEY, slug TEXT NOT NULL UNIQUE, name TEXT NOT NULL,"
     " created_at INTEGER NOT NULL);"
     "CREATE TABLE users ("
     " id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL,"
     " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
     "CREATE TABLE memberships ("
     " tenant_id TEXT NOT NULL REFERENCES tenants(id),"
     " user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
     " role TEXT NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY (tenant_id, user_id));"
     "CREATE INDEX memberships_user ON memberships (user_id);"
     "CREATE TABLE sessions ("
     " id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, user_id TEXT NOT NULL,"
     " created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, revoked_at INTEGER);"
     "CREATE INDEX sessions_user ON sessions (user_id, tenant_id);"
     "CREATE INDEX sessions_revoked ON sessions (revoked_at);"
     "CREATE TABLE refresh_tokens ("
     " token_hash TEXT PRIMARY KEY,"
     " session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,"
     " created_at INTEGER NOT NULL, rotated_at INTEGER);"
     "CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);"
     "CREATE TABLE signing_keys ("
     " kid TEXT PRIMARY KEY, secret TEXT NOT NULL, created_at INTEGER NOT NULL)",
     auth_pg},
    {2, "create_login_failures",
     /* keyed by tenant slug + e-mail, so unknown accounts lock exactly like real ones */
     "CREATE TABLE login_failures ("
     " key TEXT PRIMARY KEY, failures INTEGER NOT NULL, window_start INTEGER NOT NULL,"
     " lockouts INTEGER NOT NULL, locked_until INTEGER NOT NULL)",
     ""},
    {3, "refresh_in_session",
     /* one row per session instead of per token: a rotation updates that row in place */
     "DROP TABLE refresh_tokens;"
     "ALTER TABLE sessions ADD COLUMN refresh_gen INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE sessions ADD COLUMN refresh_hash TEXT NOT NULL DEFAULT ''",
     ""},
    {4, "create_api_keys", auth_apikeys_sql, ""},
    {5, "create_audit_log", auth_audit_sql, ""},
    {6, "refresh_history",
     /* hashes of the last generations: only a token really issued can prove reuse */
     "ALTER TABLE sessions ADD COLUMN refresh_prev TEXT NOT NULL DEFAULT ''", ""},
    {7, "create_mfa", auth_mfa_sql, ""},
    {8, "create_roles", auth_roles_sql, ""},
    {9, "tenant_policy",
     "ALTER TABLE tenants ADD COLUMN mfa_required_for_admins INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE sessions ADD COLUMN mfa INTEGER NOT NULL DEFAULT 0",
     ""},
    {10, "audit_without_prev_hash",
     /* the previous entry's hash is that row's own: storing it again cost a sixth of
      * every entry's bytes, and verification recomputes the links anyway */
     "ALTER TABLE audit_log DROP COLUMN prev_hash", ""},
    {11, "tenant_registration",
     "ALTER TABLE tenants ADD COLUMN allow_registration INTEGER NOT NULL DEFAULT 0", ""},
    {12, "password_resets", auth_reset_migration_sql, ""},
    {13, "login_failures_per_ip", auth_lockout_migration_sql, ""},
    {14, "registration_confirmation", auth_register_migration_sql, ""},
    {15, "signing_key_retirement",
     /* a retired key verifies until verify_until (NULL: not retired), then never again */
     "ALTER TABLE signing_keys ADD COLUMN retired_at INTEGER;"
     "ALTER TABLE signing_keys ADD COLUMN verify_until INTEGER",
     ""},
    {16, "registration_password_at_confirm", auth_register_mail_at_sql, ""},
    {17, "login_failures_known_clients", auth_lockout_known_sql, ""},
    {18, "mfa_challenge_session_end", auth_mfa_ends_sql, ""},
    {0},
};

/* ---- hooks the router calls ---- */

/* The problem type of a refused access token: what its client can do about it. */
static const char *token_problem(const char *why)
{
    if (why == auth_why_token_expired || why == auth_why_key_retired)
        return "token-expired"; /* the session goes on: refresh */
    if (why == auth_why_signed_out || why == auth_why_session_expired)
        return "token-revoked"; /* the session is over: sign in again */
    if (why == auth_why_session_unchecked)
        return NULL; /* says nothing about the token: the status's own type */
    return "token-invalid";
}

/* Verifies an access token and checks it against its live session; fills the principal. */
static int authenticate_token(cn_req_t *r, const char *token, size_t len)
{
    auth_claims_t c;
    const char *why;
    /* the time the request came in (h2o took it already): no clock read per request */
    int64_t now = r->h->processed_at.at.tv_sec;
    if (now <= 0)
        now = cn_now_ms() / 1000;
    if (auth_token_verify(token, len, now, r->store, &c, &why) != 0 ||
        auth_session_check(r->store, &c, now, &why) != 0)
        return cn_fail_typed(r, CN_EUNAUTH, token_problem(why), "%s", why);
    cn_principal_t *p = &r->principal;
    memcpy(p->tenant_id, c.tid, sizeof(c.tid));
    memcpy(p->subject, c.sub, sizeof(c.sub));
    memcpy(p->session_id, c.sid, sizeof(c.sid));
    memcpy(p->role, c.role, sizeof(c.role)); /* the session's role (auth_session_check) */
    p->mfa = c.mfa;
    p->authenticated = 1;
    return 0;
}

static int authenticate(cn_req_t *r)
{
    h2o_iovec_t v = cn_req_header(r, "authorization");
    h2o_iovec_t k = cn_req_header(r, "x-api-key");
    if (k.len == 0 && v.len > 7 && strncasecmp(v.base, "Bearer ", 7) == 0)
        k = h2o_iovec_init(v.base + 7, v.len - 7);
    if (auth_is_api_key(k.base ? k.base : "", k.len))
        return auth_api_key_authenticate(r, k.base, k.len);
    if (v.len > 7 && strncasecmp(v.base, "Bearer ", 7) == 0 && memchr(v.base + 7, '.', v.len - 7))
        return authenticate_token(r, v.base + 7, v.len - 7);
    if (v.len == 0) { /* a browser: the session cookie, with CSRF on unsafe methods */
        char cookie_token[1024];
        h2o_iovec_t ck = cn_req_header(r, "cookie");
        long n = ck.len ? auth_cookie_get(ck.base, ck.len, AUTH_COOKIE_ACCESS, cookie_token,
                                          sizeof(cookie_token))
                        : -1;
        if (n > 0) {
            int rc = authenticate_token(r, cookie_token, (size_t)n);
            if (rc == 0 && r->method != CN_GET && r->method != CN_HEAD &&
                r->method != CN_OPTIONS) /* the CSRF token is bound to this very session */
                rc = auth_csrf_check(r, r->principal.session_id);
            if (rc != 0)
                r->principal.authenticated = 0;
            return rc;
        }
    }
    return cn_auth_bootstrap(r); /* the operator's token, until API keys replace it */
}

static int tenant_requires_mfa(cn_req_t *r)
{
    cn_err_t err;
    int64_t required = 0;
    cn_val_t args[] = {CN_VTEXT(r->principal.tenant_id)};
    int rc = cn_store_one_int(r->store, "SELECT mfa_required_for_admins FROM tenants WHERE id = $1",
                              args, 1, &required, &err);
    if (rc != 0 && rc != CN_ENOTFOUND)
        return 1; /* cannot tell: the stricter answer */
    return required != 0;
}

static int authorize(cn_req_t *r, const char *permission)
{
    if (!auth_caller_holds(r, permission))
        return CN_EFORBIDDEN;
    /* tenant policy: owners and admins without a second factor may only tend to themselves
     * (enrol MFA, sign out) until they sign in with one */
    const cn_principal_t *p = &r->principal;
    if (!p->is_key && !p->mfa && strncmp(permission, "self.", 5) != 0 &&
        (strcmp(p->role, "owner") == 0 || strcmp(p->role, "admin") == 0) && tenant_requires_mfa(r))
        return cn_fail_typed(r, CN_EFORBIDDEN, "mfa-required",
                             "this tenant requires MFA for owners and admins: enrol "
                             "(POST /api/v1/auth/mfa/enroll) and sign in again");
    return 0;
}

/* ---- helpers the module's files share (auth.h) ---- */

int auth_security_event(cn_req_t *r, const char *tenant, const char *actor, const char *action,
                        const char *object, const char *ip, int status)
{
    auth_audit_t e = {tenant, actor, action, object, ip, r->request_id, status};
    return auth_audit_append(r->store, &e, &r->err);
}

int auth_set_password_hash(cn_store_t *s, const char *user, const char *hash, cn_err_t *err)
{
    cn_val_t args[] = {CN_VTEXT(user), CN_VTEXT(hash), CN_VINT(cn_now_ms())};
    return cn_store_exec(s, "UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1",
                         args, 3, NULL, err);
}

int auth_store_password_hash(cn_req_t *r, const char *user, const char *hash)
{
    return auth_set_password_hash(r->store, user, hash, &r->err);
}

void auth_email_normalize(const char *in, char *out, size_t cap)
{
    size_t i = 0;
    for (; in[i] && i + 1 < cap; i++)
        out[i] = (char)tolower((unsigned char)in[i]);
    out[i] = '\0';
}

int auth_slug_chars_ok(const char *slug)
{
    for (const char *p = slug; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
            return 0;
    return 1;
}

/* ---- tables ---- */

static const cn_field_t login_fields[] = {
    {"tenant", CN_T_STRING, .required = 1, .min_len = 1, .max_len = 64,
     .description = "Tenant slug"},
    {"email", CN_T_STRING, .required = 1, .format = CN_FMT_EMAIL},
    {"password", CN_T_STRING, .required = 1, .min_len = 1, .max_len = 1024},
    {"cookie", CN_T_BOOLEAN, .description = "also set the session cookies (browsers)"},
    {0},
};

static const cn_schema_t login_schema = {"LoginRequest", login_fields};

static const cn_field_t refresh_fields[] = {
    {"refresh_token", CN_T_STRING, .min_len = 1, .max_len = AUTH_REFRESH_MAX,
     .description = "omit to use the cairn_rt cookie (then X-CSRF-Token is required)"},
    {0},
};

static const cn_schema_t refresh_schema = {"RefreshRequest", refresh_fields};

static const cn_field_t password_fields[] = {
    {"current_password", CN_T_STRING, .required = 1, .min_len = 1, .max_len = 1024},
    {"new_password", CN_T_STRING, .required = 1, .min_len = 1, .max_len = 1024},
    {0},
};

static const cn_schema_t password_schema = {"PasswordChange", password_fields};

static const cn_field_t switch_fields[] = {
    {"tenant", CN_T_STRING, .required = 1, .min_len = 1, .max_len = 64,
     .description = "Slug of another tenant the account is a member of"},
    {"refresh_token", CN_T_STRING, .min_len = 1, .max_len = AUTH_REFRESH_MAX,
     .description = "this session's; omit to use the cairn_rt cookie"},
    {"cookie", CN_T_BOOLEAN, .description = "answer with the session cookies (browsers)"},
    {0},
};

const cn_schema_t auth_switch_schema = {"SwitchTenant", switch_fields};

static const cn_route_t routes[] = {
    {CN_POST, "/api/v1/auth/login", auth_post_login, .body = &login_schema,
     .summary = "Sign in: tokens for a tenant, e-mail and password", .rate_auth = 1,
     .response = &auth_login_answer, .errors = CN_ANS_401 | CN_ANS_403, .operation = "auth.login"},
    {CN_POST, "/api/v1/auth/register", auth_post_register, .body = &auth_register_schema,
     .summary = "Register in a tenant that allows it: 202 and a confirmation mail where the "
                "tenant requires confirmation (no password: it is chosen when confirming), else "
                "201 with tokens",
     .rate_auth = 1, .success_status = 201, .response = &auth_tokens_answer,
     .also = auth_register_also, .errors = CN_ANS_403 | CN_ANS_409, .operation = "auth.register"},
    {CN_POST, "/api/v1/auth/register/confirm", auth_post_register_confirm,
     .body = &auth_register_confirm_schema, .rate_auth = 1, .success_status = 201,
     .summary = "Spend a mailed registration token with a password: 201 with tokens for a "
                "new account (the password is its own), 200 when an existing account joined "
                "(the password is that account's)",
     .response = &auth_tokens_answer, .also = auth_confirm_also, .errors = CN_ANS_401,
     .operation = "auth.confirmRegistration"},
    {CN_POST, "/api/v1/auth/refresh", auth_post_refresh, .body = &refresh_schema,
     .body_optional = 1,
     .summary = "Exchange a refresh token for new tokens (the old one stops working); with no"
                " body, the cairn_rt cookie's",
     .rate_auth = 1, .response = &auth_tokens_answer, .errors = CN_ANS_401 | CN_ANS_403,
     .operation = "auth.refresh"},
    {CN_GET, "/api/v1/auth/tenants", auth_list_my_tenants, "self.read",
     .summary = "The tenants the signed-in account is a member of, with its role in each",
     .response = &auth_my_tenants_answer, .errors = CN_ANS_404, .operation = "auth.tenants"},
    {CN_POST, "/api/v1/auth/switch", auth_post_switch, "self.sessions", .body = &auth_switch_schema,
     .summary = "Move this session to another tenant of the account (spends its refresh token;"
                " tokens, cookies, or the MFA challenge as at sign-in)",
     .rate_auth = 1, .response = &auth_login_answer, .errors = CN_ANS_401 | CN_ANS_404,
     .operation = "auth.switch"},
    {CN_POST, "/api/v1/auth/logout", auth_post_logout, "self.sessions",
     .summary = "Sign out this session, effective immediately", .success_status = 204,
     .operation = "auth.logout"},
    {CN_POST, "/api/v1/auth/logout-all", auth_post_logout_all, "self.sessions",
     .summary = "Sign out every session of the caller in this tenant",
     .response = &auth_logout_all_answer, .operation = "auth.logoutAll"},
    {CN_POST, "/api/v1/auth/mfa/enroll", auth_mfa_enroll, "self.sessions",
     .summary = "Start TOTP enrolment: secret, otpauth:// URI and QR code PNG",
     .response = &auth_mfa_enrol_answer, .errors = CN_ANS_409, .operation = "auth.mfaEnroll"},
    {CN_POST, "/api/v1/auth/mfa/confirm", auth_mfa_confirm, "self.sessions",
     .body = &auth_mfa_confirm_schema,
     .summary = "Confirm enrolment with a first code; answers ten single-use recovery codes",
     .response = &auth_mfa_confirm_answer, .errors = CN_ANS_409, .operation = "auth.mfaConfirm"},
    {CN_POST, "/api/v1/auth/mfa/verify", auth_post_mfa_verify, .body = &auth_mfa_verify_schema,
     .summary = "Second sign-in step: challenge plus a TOTP or recovery code", .rate_auth = 1,
     .response = &auth_tokens_answer, .errors = CN_ANS_401, .operation = "auth.mfaVerify"},
    {CN_POST, "/api/v1/auth/password", auth_post_password, "self.sessions",
     .body = &password_schema, .summary = "Change one's password; every other session ends",
     .success_status = 204, .operation = "auth.changePassword"},
    {CN_POST, "/api/v1/auth/password/reset-request", auth_post_reset_request,
     .body = &auth_reset_request_schema, .rate_auth = 1, .success_status = 202,
     .summary = "Mail a password-reset token if the account exists (same answer either way)",
     .response = &auth_reset_request_answer, .operation = "auth.requestPasswordReset"},
    {CN_POST, "/api/v1/auth/password/reset", auth_post_reset, .body = &auth_reset_schema,
     .rate_auth = 1, .success_status = 204,
     .summary = "Set a new password with a mailed token; every session of the account ends",
     .errors = CN_ANS_401, .operation = "auth.resetPassword"},
    {CN_GET, "/api/v1/users/me", auth_get_me, "self.read", .summary = "The caller",
     .response = &auth_me_answer, .errors = CN_ANS_404, .operation = "users.me"},
    {CN_GET, "/api/v1/auth/session", auth_get_session, "self.read",
     .summary = "The caller's session as checked (tenant, user, role, mfa); no database read",
     .response = &auth_session_answer, .errors = CN_ANS_404, .operation = "auth.session"},
    {CN_GET, "/api/v1/users/me/export", auth_get_export, "self.read",
     .summary = "Everything held about the caller, as JSON (GDPR)", .response = &auth_export_answer,
     .operation = "users.exportMe"},
    {CN_DELETE, "/api/v1/users/me", auth_delete_me, "self.delete",
     .summary = "Delete the caller's account: data removed, audit entries anonymised (GDPR)",
     .success_status = 204, .errors = CN_ANS_409, .operation = "users.deleteMe"},
    {CN_GET, "/api/v1/tenant", auth_get_tenant, "users.read", .summary = "The caller's tenant",
     .response = &auth_tenant_answer, .operation = "tenant.get"},
    {CN_PATCH, "/api/v1/tenant", auth_patch_tenant, "tenant.manage", .body = &auth_tenant_schema,
     .summary = "Rename the tenant, set its MFA policy or open self-service registration",
     .response = &auth_tenant_answer, .operation = "tenant.update"},
    {CN_POST, "/api/v1/tenants", auth_post_tenant, "platform.tenants",
     .body = &auth_new_tenant_schema, .success_status = 201,
     .summary = "Create a tenant, optionally with its first owner (operator token only)",
     .response = &auth_tenant_answer, .errors = CN_ANS_409, .operation = "tenants.create"},
    {CN_GET, "/api/v1/tenants", auth_list_tenants, "platform.tenants", .query = &cn_page_query,
     .summary = "Every tenant on this server (operator token only)",
     .response = &auth_tenant_list_answer, .operation = "tenants.list"},
    {CN_GET, "/api/v1/tenants/{id}", auth_get_any_tenant, "platform.tenants",
     .params = &cn_id_param, .summary = "One tenant (operator token only)",
     .response = &auth_tenant_answer, .operation = "tenants.get"},
    {CN_GET, "/api/v1/roles", auth_list_roles, "users.read",
     .summary = "Built-in and custom roles of the tenant", .response = &auth_role_list_answer,
     .operation = "roles.list"},
    {CN_GET, "/api/v1/permissions", auth_list_permissions, "users.read",
     .summary = "Every permission, its description and the built-in roles holding it",
     .response = &auth_permission_list_answer, .operation = "permissions.list"},
    {CN_POST, "/api/v1/roles", auth_post_role, "roles.manage", .body = &auth_role_schema,
     .summary = "Create a custom role (only permissions the caller holds)", .success_status = 201,
     .response = &auth_role_answer, .errors = CN_ANS_409, .operation = "roles.create"},
    {CN_DELETE, "/api/v1/roles/{name}", auth_delete_role, "roles.manage",
     .params = &auth_role_param, .summary = "Delete a custom role no member has",
     .success_status = 204, .errors = CN_ANS_409, .operation = "roles.delete"},
    {CN_GET, "/api/v1/users", auth_list_members, "users.read", .query = &cn_page_query,
     .summary = "Members of the tenant", .response = &auth_member_list_answer,
     .operation = "users.list"},
    {CN_POST, "/api/v1/users", auth_post_member, "users.manage", .body = &auth_member_schema,
     .summary = "Add a member (creating the account when the e-mail has none)",
     .success_status = 201, .response = &auth_member_role_answer, .errors = CN_ANS_409,
     .operation = "users.add"},
    {CN_PATCH, "/api/v1/users/{id}", auth_patch_member, "users.manage",
     .body = &auth_member_patch_schema, .params = &cn_id_param,
     .summary = "Change a member's role (their sessions in this tenant end)",
     .response = &auth_member_role_answer, .errors = CN_ANS_409, .operation = "users.update"},
    {CN_DELETE, "/api/v1/users/{id}", auth_delete_member, "users.manage", .params = &cn_id_param,
     .summary = "Remove a member from the tenant (their sessions end)", .success_status = 204,
     .errors = CN_ANS_409, .operation = "users.remove"},
    {CN_POST, "/api/v1/users/{id}/unlock", auth_post_unlock, "users.manage", .params = &cn_id_param,
     .summary = "Clear a member's sign-in lockout (every client IP)",
     .response = &auth_unlock_answer, .operation = "users.unlock"},
    {CN_GET, "/api/v1/audit", auth_list_audit, "audit.manage", .query = &auth_audit_query,
     .summary = "The tenant's audit log, newest first (filters: actor, action, since, until)",
     .response = &auth_audit_list_answer, .operation = "audit.list"},
    {CN_GET, "/api/v1/audit/verify", auth_get_audit_verify, "audit.manage",
     .summary = "Verify the audit log's hash chain (as `cairn audit verify` does)",
     .response = &auth_audit_verify_answer, .operation = "audit.verify"},
    {CN_POST, "/api/v1/api-keys", auth_post_api_key, "api_keys.manage",
     .body = &auth_api_key_schema, .summary = "Create an API key (the key is shown only here)",
     .success_status = 201, .response = &auth_api_key_created_answer,
     .operation = "apiKeys.create"},
    {CN_GET, "/api/v1/api-keys", auth_list_api_keys, "api_keys.manage", .query = &cn_page_query,
     .summary = "List the tenant's API keys (never their secrets)",
     .response = &auth_api_key_list_answer, .operation = "apiKeys.list"},
    {CN_DELETE, "/api/v1/api-keys/{id}", auth_delete_api_key, "api_keys.manage",
     .params = &cn_id_param, .summary = "Revoke an API key, effective immediately",
     .success_status = 204, .operation = "apiKeys.revoke"},
    {0},
};

static const cn_permission_t permissions[] = {
    {"api_keys.manage", "Create, list and revoke the tenant's API keys", CN_ROLES_ADMINS},
    {"platform.tenants", "Create and list every tenant (the operator token; no tenant role)",
     CN_ROLE_NONE},
    {"audit.manage", "Read the tenant's audit log (owners and admins)", CN_ROLES_ADMINS},
    {"roles.manage", "Create and delete the tenant's custom roles", CN_ROLES_ADMINS},
    {"tenant.manage", "Rename the tenant and set its policies", CN_ROLES_ADMINS},
    {"users.read", "See the tenant's members and roles", CN_ROLES_ALL},
    {"users.manage", "Add members, change their roles, remove them", CN_ROLES_ADMINS},
    {"self.read", "Read one's own profile and export one's data", CN_ROLES_ALL},
    {"self.delete", "Delete one's own account", CN_ROLES_ALL},
    {"self.sessions", "Sign one's own sessions out", CN_ROLES_ALL},
    {0},
};

/*
 * Secrets sealed with another key (a database restored without its secrets.key, or a new
 * key made because the file was missing) would fail later and confusingly: signing keys
 * silently, TOTP checks as 500s. Refuse to start, naming what is missing, unless the
 * operator said to go on: then such signing keys retire (a new one signs) and such TOTP
 * secrets answer a problem of their own at mfa/verify.
 */
static int check_secrets(cn_store_t *store, const char *key_path, cn_err_t *err)
{
    int64_t keys = 0, totp = 0;
    int rc = auth_keys_unusable(store, 0, &keys, err);
    if (rc == 0)
        rc = auth_mfa_unusable(store, &totp, err);
    if (rc != 0 || keys + totp == 0)
        return rc;
    if (!auth_settings.allow_unusable_secrets) {
        int created = auth_vault_created();
        if (created) /* leave no new key behind: the right file can simply be put back */
            unlink(key_path);
        return cn_err_set(err, CN_EINVAL,
                          "auth.secrets_key_file %s %s: %lld signing keys and %lld TOTP secrets"
                          " in the database were sealed with another key. Restore the secrets"
                          " key file that belongs to this database, or start with"
                          " --allow-unusable-secrets (auth.allow_unusable_secrets) to retire those"
                          " signing keys (everyone signs in again) and leave those users to"
                          " their recovery codes",
                          key_path, created ? "was missing" : "does not open them", (long long)keys,
                          (long long)totp);
    }
    cn_log(CN_LOG_WARN, NULL,
           "auth.allow_unusable_secrets: %lld signing keys retired, %lld TOTP secrets unusable"
           " (those users sign in with a recovery code until an admin resets their MFA)",
           (long long)keys, (long long)totp);
    return auth_keys_unusable(store, 1, &keys, err);
}

int auth_secrets_open(const cn_config_t *cfg, cn_store_t *store, cn_err_t *err)
{
    char key_path[4096];
    auth_secrets_key_path(cfg, key_path, sizeof(key_path));
    int64_t totp = 0, keys = 0;
    int rc = auth_vault_open(key_path, err);
    if (rc == 0)
        rc = check_secrets(store, key_path, err);
    if (rc == 0 && (rc = auth_mfa_seal_plain(store, &totp, err)) == 0 && totp > 0)
        cn_log(CN_LOG_INFO, NULL, "encrypted %lld TOTP secrets stored before the vault",
               (long long)totp);
    if (rc == 0 && (rc = auth_keys_seal_plain(store, &keys, err)) == 0 && keys > 0)
        cn_log(CN_LOG_INFO, NULL, "encrypted %lld signing keys stored in plain", (long long)keys);
    return rc;
}

static int start(const cn_config_t *cfg, cn_store_t *store, cn_err_t *err)
{
    auth_lockout_configure(&auth_settings);
    auth_reset_configure(&auth_settings);
    auth_register_configure(&auth_settings);
    if (auth_passwords_init(AUTH_COMMON_PASSWORDS) != 0)
        return cn_err_set(err, CN_ERR,
                          "cannot load the common-password list %s (package john-data)",
                          AUTH_COMMON_PASSWORDS);
    int rc = auth_secrets_open(cfg, store, err);
    if (rc == 0)
        rc = auth_keys_load(store, err);
    if (rc == 0)
        rc = auth_sessions_load(store, err);
    if (rc == 0)
        rc = auth_sessions_attach_bus(err);
    if (rc == 0) {
        cn_set_auth_hook(authenticate);
        cn_set_authz_hook(authorize);
        cn_set_after_write_hook(auth_audit_request);
        cn_set_session_revoked_hook(auth_session_gone);
        cn_store_add_hook(&auth_audit_hook);
    }
    return rc;
}

static void stop(void)
{
    auth_reset_free();
    auth_register_free();
    auth_keys_free();
    auth_sessions_free();
    auth_vault_close();
}

const cn_app_t auth_module = {
    .name = "auth",
    .description = "Identity and access: tenants, users, sessions, tokens",
    .migrations = migrations,
    .routes = routes,
    .permissions = permissions,
    .start = start,
    .stop = stop,
    .jobs = auth_reset_jobs,
    .settings = auth_settings_table,
};
