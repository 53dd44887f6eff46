/*
 * The answers of the auth module's routes, declared as schemas: the route rows point at
 * them (.response) and the OpenAPI document renders them, so typed clients see them.
 */
#ifndef CAIRN_AUTH_ANSWERS_H
#define CAIRN_AUTH_ANSWERS_H

#include "core/router.h"

/** Tokens after sign-in, refresh, MFA or registration (no tokens in the body with cookies). */
extern const cn_schema_t auth_tokens_answer;
/** Sign-in: tokens, or the MFA challenge to answer at /auth/mfa/verify. */
extern const cn_schema_t auth_login_answer;
/** Other success answers of registration (202 mail sent) and its confirmation (200 joined). */
extern const cn_answer_t auth_register_also[];
extern const cn_answer_t auth_confirm_also[];
extern const cn_schema_t auth_logout_all_answer;
extern const cn_schema_t auth_mfa_enrol_answer;
extern const cn_schema_t auth_mfa_confirm_answer;
extern const cn_schema_t auth_reset_request_answer;
extern const cn_schema_t auth_me_answer;
extern const cn_schema_t auth_session_answer;
extern const cn_schema_t auth_export_answer;
extern const cn_schema_t auth_tenant_answer;
extern const cn_schema_t auth_tenant_list_answer;
extern const cn_schema_t auth_role_answer;
extern const cn_schema_t auth_role_list_answer;
extern const cn_schema_t auth_permission_list_answer;
extern const cn_schema_t auth_my_tenants_answer;
extern const cn_schema_t auth_member_list_answer;
extern const cn_schema_t auth_member_role_answer;
extern const cn_schema_t auth_unlock_answer;
extern const cn_schema_t auth_audit_list_answer;
extern const cn_schema_t auth_audit_verify_answer;
extern const cn_schema_t auth_api_key_created_answer;
extern const cn_schema_t auth_api_key_list_answer;
/** The path parameter of /roles/{name}. */
extern const cn_schema_t auth_role_param;

#endif
