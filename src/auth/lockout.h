/*
 * Sign-in lockout. Failed sign-ins are counted per account (tenant slug + e-mail, whether
 * or not an account exists) and client (its IPv4 address, or its IPv6 /64):
 * auth.lockout_attempts failures within auth.lockout_window_s lock that pair, each lock
 * twice as long as the one before but never longer than auth.lockout_max_s. Across all
 * clients the account has a larger ceiling, auth.lockout_account_attempts per window,
 * above which it is throttled (one password check per window / ceiling) rather than
 * locked; a client that signed in to the account within 30 days is exempt from that
 * throttle (not from its own lock). The state is in the database (login_failures), so
 * servers sharing it share one view. An admin (users.manage), the operator's CLI and a
 * password reset clear it; a recurring job deletes rows long over.
 */
#ifndef CAIRN_AUTH_LOCKOUT_H
#define CAIRN_AUTH_LOCKOUT_H

#include "auth/settings.h"
#include "core/http.h"
#include "core/jobs.h"

/** Migration auth/13: login_failures keyed by (account, ip); ip '' is the account-wide row. */
extern const char auth_lockout_migration_sql[];
/** Migration auth/17: known_until, until when a client that signed in is known. */
extern const char auth_lockout_known_sql[];

/** Locks and reads a row of (account $1, client $2), making it if missing (see lockout.c). */
extern const char auth_lockout_lock_sql[];
/** Forgetting stale rows: of one account's clients ($1 account, $2 and $3 times), and of
 *  all accounts ($1, $2 times); on PostgreSQL they skip rows in use instead of waiting. */
extern const cn_sql_pair_t auth_lockout_forget_sql, auth_lockout_sweep_sql;

/** Size of a client key: an IPv4 address, or an IPv6 /64 ("2001:db8:1:2::/64"). */
#define AUTH_CLIENT_LEN 64

/**
 * The client an address counts as: ip itself (IPv4, IPv4-mapped IPv6 as given), or for
 * IPv6 its /64, written "prefix::/64" — one host commonly holds a whole /64.
 */
void auth_lockout_client(const char *ip, char out[AUTH_CLIENT_LEN]);

/** The recurring job (type AUTH_LOCKOUT_SWEEP_JOB) that deletes rows long over. */
#define AUTH_LOCKOUT_SWEEP_JOB "auth.lockout_sweep"
int auth_lockout_sweep_job(cn_job_t *job, cn_err_t *err);

/** Takes auth.lockout_* from the module's settings. */
void auth_lockout_configure(const auth_settings_t *s);

/**
 * 0 when account may try to sign in from ip now; else answers 429 with Retry-After (the
 * pair is locked or the account throttled) and returns CN_ERATELIMIT.
 */
int auth_lockout_check(cn_req_t *r, const char *account, const char *ip);

/** Records a failed sign-in (inside the caller's unit of work). */
int auth_lockout_fail(cn_req_t *r, const char *account, const char *ip);

/**
 * A successful sign-in from ip: that pair starts afresh and its client is known to the
 * account for 30 days (the account-wide count stays).
 */
int auth_lockout_succeed(cn_req_t *r, const char *account, const char *ip);

/** Clears every record of user's accounts (all its tenants), e.g. after a password reset. */
int auth_lockout_clear_user(cn_store_t *s, const char *user, cn_err_t *err);

/**
 * Clears every record of the account (tenant slug + e-mail, normalised here), from every
 * IP; *n (may be NULL) gets how many. CN_ENOTFOUND when there is no tenant with slug.
 */
int auth_lockout_clear(cn_store_t *s, const char *slug, const char *email, int64_t *n,
                       cn_err_t *err);

/** POST /api/v1/users/{id}/unlock (users.manage): unlocks a member of the caller's tenant. */
int auth_post_unlock(cn_req_t *r);

#endif
