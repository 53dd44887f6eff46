/*
 * API keys for servers: "cairn_<prefix>_<secret>", shown once, stored as the SHA-256 of
 * the secret, scoped to one tenant and a set of permissions, with an optional expiry,
 * a last-used time, and revocation that takes effect on the next request.
 */
#ifndef CAIRN_AUTH_APIKEYS_H
#define CAIRN_AUTH_APIKEYS_H

#include "core/http.h"

/** 1 when the credential has the shape of an API key. */
int auth_is_api_key(const char *token, size_t len);

/** Authenticates r with the API key token (fills r->principal). 0 or CN_EUNAUTH. */
int auth_api_key_authenticate(cn_req_t *r, const char *token, size_t len);

/** 1 when the key's scopes (comma-separated) include permission. */
int auth_scopes_allow(const char *scopes, const char *permission);

/** The routes and migrations of API keys, merged into the auth module's tables. */
extern const char auth_apikeys_sql[];
int auth_post_api_key(cn_req_t *r);
int auth_list_api_keys(cn_req_t *r);
int auth_delete_api_key(cn_req_t *r);
extern const cn_schema_t auth_api_key_schema;

#endif
