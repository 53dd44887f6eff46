/*
 * The audit log: an append-only, hash-chained record of security events and of every
 * change made through the API. Each entry's hash covers the one before it, so an edited
 * or deleted row breaks the chain, and `cairn audit verify` names where.
 */
#ifndef CAIRN_AUTH_AUDIT_H
#define CAIRN_AUTH_AUDIT_H

#include "core/http.h"

extern const char auth_audit_sql[];

/**
 * What serialises appends to the chain: taken in the appending transaction before the
 * tail is read (auth_audit_tail_sql) and held until it ends. NULL on SQLite, whose process
 * write lock does it; on PostgreSQL a transaction-level advisory lock, so appends from
 * every node on one database make one chain.
 */
extern const cn_sql_pair_t auth_audit_chain_lock;
extern const char auth_audit_tail_sql[];

typedef struct st_auth_audit_t {
    const char *tenant_id; /* may be NULL */
    const char *actor;     /* user id, "key:<id>", "bootstrap" or "anonymous" */
    const char *action;    /* "POST /api/v1/notes", "auth.login.failed", ... */
    const char *object;    /* object id, or NULL */
    const char *ip;
    const char *request_id;
    int status;
} auth_audit_t;

/** Appends an entry inside the caller's transaction (the loop turn's batch). */
int auth_audit_append(cn_store_t *s, const auth_audit_t *e, cn_err_t *err);

/**
 * The kernel's after-write hook: records a successful change made through the API. The
 * entry is staged in the request's unit of work and written with the batch's other entries
 * by auth_audit_hook. Returns 0, or an error (the request's unit is then rolled back).
 */
int auth_audit_request(cn_req_t *r);

/**
 * Like auth_audit_append, but inside an open batch the entry waits for the batch's commit
 * and is written with the batch's other staged entries; staged in a unit of work, it is
 * dropped if that unit is rolled back.
 */
int auth_audit_stage(cn_store_t *s, const auth_audit_t *e, cn_err_t *err);

/** The store hook that writes staged entries before the commit (or drops them). */
extern const cn_store_hook_t auth_audit_hook;

/**
 * Walks the whole chain. Returns 0 with *entries set, or CN_EVALIDATION with err naming
 * the first entry whose hash or link does not match.
 */
int auth_audit_verify(cn_store_t *s, int64_t *entries, cn_err_t *err);

typedef struct st_auth_audit_check_t {
    int64_t entries;        /* entries whose hash and link match, before any break */
    int64_t tenant_entries; /* of those, the ones of the tenant asked about */
    int64_t broken_seq;     /* the first entry that does not match; 0 when intact */
    int broken_in_tenant;   /* that entry is one of the tenant's */
} auth_audit_check_t;

/**
 * auth_audit_verify, also counting the entries of tenant (may be NULL) and saying whether
 * the break, if any, is at one of them. Same returns; *out is set either way.
 */
int auth_audit_check(cn_store_t *s, const char *tenant, auth_audit_check_t *out, cn_err_t *err);

/** GET /api/v1/audit/verify (permission audit.manage): the chain's state, on a worker. */
int auth_get_audit_verify(cn_req_t *r);

/**
 * GDPR erasure: blanks the personal fields (actor, object, ip) of every entry about the
 * user. The entries' commitments stay, so the chain still verifies.
 */
int auth_audit_erase(cn_store_t *s, const char *user_id, const char *email, cn_err_t *err);

/** GET /api/v1/audit (permission audit.manage): filters and cursor pagination. */
int auth_list_audit(cn_req_t *r);
extern const cn_schema_t auth_audit_query;

#endif
