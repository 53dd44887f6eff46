/*
 * Answer schemas of the auth routes (see answers.h). Each mirrors the code that writes the
 * answer; the end-to-end tests hold real answers to these schemas, so a field added there
 * and not here fails a test.
 */
#include "auth/answers.h"
#include "core/page.h"

/* ---- tokens ---- */

static const char *const bearer[] = {"Bearer", NULL};
static const cn_field_t tokens_fields[] = {
    {"access_token", CN_T_STRING, .description = "A JWT; absent when cookies carry it"},
    {"refresh_token", CN_T_STRING, .description = "Single use; absent when cookies carry it"},
    {"token_type", CN_T_STRING, .required = 1, .enum_values = bearer},
    {"expires_in", CN_T_INTEGER, .required = 1, .description = "Seconds the access token lives"},
    {0},
};
const cn_schema_t auth_tokens_answer = {"Tokens", tokens_fields};

static const cn_field_t challenge_fields[] = {
    {"mfa_required", CN_T_BOOLEAN, .required = 1},
    {"challenge", CN_T_STRING, .required = 1, .description = "Give it to /auth/mfa/verify"},
    {"expires_in", CN_T_INTEGER, .required = 1, .description = "Seconds the challenge lives"},
    {0},
};
static const cn_schema_t challenge_schema = {"MfaChallenge", challenge_fields};
static const cn_schema_t *const login_alternatives[] = {&auth_tokens_answer, &challenge_schema,
                                                        NULL};
const cn_schema_t auth_login_answer = {"LoginAnswer", NULL, .one_of = login_alternatives,
                                       .description = "Tokens, or a second factor to give"};

static const char *const sent[] = {"confirmation_sent", NULL};
static const cn_field_t pending_fields[] = {
    {"status", CN_T_STRING, .required = 1, .enum_values = sent},
    {0},
};
static const cn_schema_t pending_schema = {"RegistrationPending", pending_fields};
const cn_answer_t auth_register_also[] = {
    {202, &pending_schema, "A confirmation mail is on its way (the same for every e-mail)"},
    {0},
};
static const char *const joined[] = {"joined", NULL};
static const cn_field_t joined_fields[] = {
    {"status", CN_T_STRING, .required = 1, .enum_values = joined},
    {"tenant", CN_T_STRING, .required = 1, .description = "The tenant's slug"},
    {0},
};
static const cn_schema_t joined_schema = {"RegistrationJoined", joined_fields};
const cn_answer_t auth_confirm_also[] = {
    {200, &joined_schema, "An existing account joined the tenant: sign in as usual"},
    {0},
};

static const cn_field_t logout_all_fields[] = {CN_R_INT("revoked_sessions"), {0}};
const cn_schema_t auth_logout_all_answer = {"SessionsRevoked", logout_all_fields};

/* ---- MFA ---- */

static const cn_field_t enrol_fields[] = {
    {"secret", CN_T_STRING, .required = 1, .description = "Base32 TOTP secret"},
    CN_R_TEXT("otpauth_uri"),
    {"qr_png_base64url", CN_T_STRING, .required = 1, .description = "A PNG of the URI's QR code"},
    {0},
};
const cn_schema_t auth_mfa_enrol_answer = {"MfaEnrolment", enrol_fields};
static const cn_field_t confirm_fields[] = {
    CN_R_BOOL("mfa_enabled"),
    CN_R_STRINGS("recovery_codes"),
    {0},
};
const cn_schema_t auth_mfa_confirm_answer = {"MfaEnabled", confirm_fields};

static const char *const accepted[] = {"accepted", NULL};
static const cn_field_t accepted_fields[] = {
    {"status", CN_T_STRING, .required = 1, .enum_values = accepted},
    {0},
};
const cn_schema_t auth_reset_request_answer = {"ResetRequested", accepted_fields};

/* ---- the caller ---- */

static const cn_field_t tenant_ref_fields[] = {
    CN_R_UUID("id"),
    CN_R_TEXT("slug"),
    CN_R_TEXT("name"),
    {0},
};
static const cn_schema_t tenant_ref_schema = {"TenantRef", tenant_ref_fields};
static const cn_field_t me_fields[] = {
    CN_R_UUID("id"),
    CN_R_TEXT("email"),
    CN_R_TEXT("role"),
    CN_R_OBJECT("tenant", &tenant_ref_schema),
    {0},
};
const cn_schema_t auth_me_answer = {"Me", me_fields};

static const cn_field_t session_fields[] = {
    CN_R_UUID("session_id"), CN_R_UUID("tenant_id"), CN_R_UUID("user_id"),
    CN_R_TEXT("role"),       CN_R_BOOL("mfa"),       {0},
};
const cn_schema_t auth_session_answer = {"Session", session_fields};

/* the export's parts are rows as stored (get_export) */
static const cn_field_t export_user_fields[] = {
    CN_R_UUID("id"), CN_R_TEXT("email"), CN_R_TIME("created_at"), CN_R_TIME("updated_at"), {0},
};
static const cn_schema_t export_user_schema = {"ExportUser", export_user_fields};
static const cn_field_t export_membership_fields[] = {
    CN_R_UUID("tenant_id"),
    CN_R_TEXT("tenant_slug"),
    CN_R_TEXT("role"),
    CN_R_TIME("created_at"),
    {0},
};
static const cn_schema_t export_membership_schema = {"ExportMembership", export_membership_fields};
static const cn_field_t export_session_fields[] = {
    CN_R_UUID("id"),         CN_R_UUID("tenant_id"),          CN_R_TIME("created_at"),
    CN_R_TIME("expires_at"), CN_R_TIME_OR_NULL("revoked_at"), {0},
};
static const cn_schema_t export_session_schema = {"ExportSession", export_session_fields};
static const cn_field_t export_key_fields[] = {
    CN_R_UUID("id"),
    CN_R_UUID("tenant_id"),
    CN_R_TEXT("name"),
    {"scopes", CN_T_STRING, .required = 1, .description = "Permissions, comma-separated"},
    CN_R_TIME("created_at"),
    CN_R_TIME_OR_NULL("expires_at"),
    CN_R_TIME_OR_NULL("last_used_at"),
    CN_R_TIME_OR_NULL("revoked_at"),
    {0},
};
static const cn_schema_t export_key_schema = {"ExportApiKey", export_key_fields};
static const cn_field_t export_audit_fields[] = {
    CN_R_INT("seq"),
    CN_R_UUID("tenant_id"),
    CN_R_TEXT("action"),
    CN_R_TEXT_OR_NULL("object"),
    CN_R_TEXT_OR_NULL("ip"),
    CN_R_TEXT_OR_NULL("request_id"),
    CN_R_INT("status"),
    CN_R_TIME("recorded_at"),
    {0},
};
static const cn_schema_t export_audit_schema = {"ExportAuditEntry", export_audit_fields};
static const cn_field_t export_fields[] = {
    CN_R_OBJECT("user", &export_user_schema),
    CN_R_ARRAY_OF("memberships", &export_membership_schema),
    CN_R_ARRAY_OF("sessions", &export_session_schema),
    CN_R_ARRAY_OF("api_keys_created", &export_key_schema),
    CN_R_ARRAY_OF("audit_entries", &export_audit_schema),
    CN_R_TIME("exported_at"),
    {0},
};
const cn_schema_t auth_export_answer = {"AccountExport", export_fields};

/* ---- the tenant, its roles and members ---- */

static const cn_field_t tenant_fields[] = {
    CN_R_UUID("id"),
    CN_R_TEXT("slug"),
    CN_R_TEXT("name"),
    CN_R_BOOL("mfa_required_for_admins"),
    CN_R_BOOL("allow_registration"),
    CN_R_TIME("created_at"),
    CN_R_BOOL("registration_requires_confirmation"),
    {0},
};
const cn_schema_t auth_tenant_answer = {"Tenant", tenant_fields};
static const cn_field_t tenant_list_fields[] = {CN_PAGE_FIELDS(&auth_tenant_answer), {0}};
const cn_schema_t auth_tenant_list_answer = {"TenantList", tenant_list_fields};

static const cn_field_t role_fields[] = {
    CN_R_TEXT("name"),
    CN_R_BOOL("builtin"),
    CN_R_STRINGS("permissions"),
    {"created_at", CN_T_INTEGER, .format = CN_FMT_UNIX_MS,
     .description = "Custom roles only: Unix time in milliseconds (UTC)"},
    {0},
};
const cn_schema_t auth_role_answer = {"Role", role_fields};
static const cn_field_t role_list_fields[] = {CN_PAGE_FIELDS(&auth_role_answer), {0}};
const cn_schema_t auth_role_list_answer = {"RoleList", role_list_fields};
static const cn_field_t permission_fields[] = {
    CN_R_TEXT("name"),
    CN_R_TEXT("description"),
    {"module", CN_T_STRING, .required = 1, .description = "The module that declares it"},
    {"roles", CN_T_ARRAY, .required = 1, .items = &(const cn_field_t){"item", CN_T_STRING},
     .description = "Built-in roles holding it; empty: the operator's alone"},
    {0},
};
static const cn_schema_t permission_schema = {"Permission", permission_fields};
static const cn_field_t permission_list_fields[] = {CN_PAGE_FIELDS(&permission_schema), {0}};
const cn_schema_t auth_permission_list_answer = {"PermissionList", permission_list_fields};
static const cn_field_t my_tenant_fields[] = {
    CN_R_UUID("id"),
    CN_R_TEXT("slug"),
    CN_R_TEXT("name"),
    CN_R_TEXT("role"),
    {"current", CN_T_BOOLEAN, .required = 1, .description = "The tenant of this session"},
    {0},
};
static const cn_schema_t my_tenant_schema = {"MyTenant", my_tenant_fields};
static const cn_field_t my_tenant_list_fields[] = {CN_PAGE_FIELDS(&my_tenant_schema), {0}};
const cn_schema_t auth_my_tenants_answer = {"MyTenantList", my_tenant_list_fields};
static const cn_field_t role_param_fields[] = {
    {"name", CN_T_STRING, .required = 1, .min_len = 1, .description = "A custom role's name"},
    {0},
};
const cn_schema_t auth_role_param = {"RoleName", role_param_fields};

static const cn_field_t member_fields[] = {
    CN_R_UUID("id"),
    CN_R_TEXT("email"),
    CN_R_TEXT("role"),
    CN_R_TIME("member_since"),
    {"locked_until", CN_T_INTEGER, .required = 1, .nullable = 1, .format = CN_FMT_UNIX_MS,
     .description = "Sign-ins from some client are refused until then (the latest lock; "
                    "POST /users/{id}/unlock clears it); null when none is locked now"},
    {0},
};
static const cn_schema_t member_schema = {"Member", member_fields};
static const cn_field_t member_list_fields[] = {CN_PAGE_FIELDS(&member_schema), {0}};
const cn_schema_t auth_member_list_answer = {"MemberList", member_list_fields};
static const cn_field_t member_role_fields[] = {CN_R_UUID("id"), CN_R_TEXT("role"), {0}};
const cn_schema_t auth_member_role_answer = {"MemberRole", member_role_fields};
static const cn_field_t unlock_fields[] = {
    CN_R_UUID("id"),
    {"cleared_records", CN_T_INTEGER, .required = 1, .description = "Lockout records removed"},
    {0},
};
const cn_schema_t auth_unlock_answer = {"Unlocked", unlock_fields};

/* ---- audit and API keys ---- */

static const cn_field_t audit_fields[] = {
    CN_R_INT("seq"),
    {"actor", CN_T_STRING, .required = 1, .nullable = 1,
     .description = "The user or key; null once the account is deleted"},
    CN_R_TEXT("action"),
    CN_R_TEXT_OR_NULL("object"),
    CN_R_TEXT_OR_NULL("ip"),
    CN_R_TEXT_OR_NULL("request_id"),
    CN_R_INT("status"),
    CN_R_TIME("at"),
    {0},
};
static const cn_schema_t audit_schema = {"AuditEntry", audit_fields};
static const cn_field_t audit_list_fields[] = {CN_PAGE_FIELDS(&audit_schema), {0}};
const cn_schema_t auth_audit_list_answer = {"AuditList", audit_list_fields};

static const cn_field_t audit_verify_fields[] = {
    {"intact", CN_T_BOOLEAN, .required = 1,
     .description = "Every entry's hash and link match, from the first to the last"},
    {"entries", CN_T_INTEGER, .required = 1,
     .description = "The tenant's entries verified (those before any break)"},
    {"broken_seq", CN_T_INTEGER, .required = 1, .nullable = 1,
     .description = "seq of the first entry that does not match, when it is the tenant's"},
    {"reason", CN_T_STRING, .required = 1, .nullable = 1,
     .description = "What does not match; null when intact"},
    CN_R_TIME("checked_at"),
    {0},
};
const cn_schema_t auth_audit_verify_answer = {"AuditVerification", audit_verify_fields};

#define API_KEY_FIELDS                                                                             \
    CN_R_UUID("id"), CN_R_TEXT("name"),                                                            \
        {"prefix", CN_T_STRING, .required = 1, .description = "Names the key; not secret"},        \
        CN_R_STRINGS("permissions"), CN_R_TIME("created_at"), CN_R_TIME_OR_NULL("expires_at"),     \
        CN_R_TIME_OR_NULL("last_used_at"), CN_R_TIME_OR_NULL("revoked_at")
static const cn_field_t api_key_fields[] = {API_KEY_FIELDS, {0}};
static const cn_schema_t api_key_schema = {"ApiKey", api_key_fields};
static const cn_field_t api_key_created_fields[] = {
    API_KEY_FIELDS,
    {"key", CN_T_STRING, .required = 1, .description = "The secret: shown only in this answer"},
    {0},
};
const cn_schema_t auth_api_key_created_answer = {"ApiKeyCreated", api_key_created_fields};
static const cn_field_t api_key_list_fields[] = {CN_PAGE_FIELDS(&api_key_schema), {0}};
const cn_schema_t auth_api_key_list_answer = {"ApiKeyList", api_key_list_fields};
