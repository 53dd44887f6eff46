/*
 * Multi-factor authentication: TOTP (RFC 6238, liboath) with enrolment, confirmation,
 * single-use recovery codes, sign-in step-up through a short-lived challenge, and no
 * replay of a code within its window.
 */
#ifndef CAIRN_AUTH_MFA_H
#define CAIRN_AUTH_MFA_H

#include "core/http.h"

#include <stdint.h>
#include <time.h>

extern const char auth_mfa_sql[];
/** Migration: the end a challenge carries over to the session it opens. */
extern const char auth_mfa_ends_sql[];

/**
 * Checks a 6-digit code against secret at time now (30 s steps, one step of drift either
 * way), in constant time. The code's time step must be newer than last_step (no replay).
 * Returns 0 with *step set, -1 for a wrong code, -2 for a replayed one.
 */
int auth_totp_check(const uint8_t *secret, size_t len, time_t now, const char *code,
                    uint64_t last_step, uint64_t *step);

/** Renders text as a QR code PNG (libqrencode + libpng). malloc'd; 0 or -1. */
int auth_qr_png(const char *text, uint8_t **png, size_t *png_len);

/** 1 when the user has confirmed MFA (then a password alone does not sign in). */
int auth_mfa_enabled(cn_store_t *s, const char *user_id, cn_err_t *err, int *enabled);

/**
 * Creates a 5-minute sign-in challenge and answers {mfa_required: true, challenge}. The
 * session the answer opens ends at ends_at (ms; 0: a new sign-in's 30 days), so a session
 * moved into a tenant that asks for the second factor keeps the end it had.
 */
int auth_mfa_challenge(cn_req_t *r, const char *user, const char *tenant, const char *role,
                       int64_t ends_at);

/**
 * Encrypts every TOTP secret still stored in plain (written before the vault existed)
 * with the vault's key; *sealed counts them. Runs at start-up, once the vault is open.
 */
int auth_mfa_seal_plain(cn_store_t *s, int64_t *sealed, cn_err_t *err);

/**
 * Counts sealed TOTP secrets that do not open with the vault's key (a database restored
 * without its secrets key file). Runs at start-up, once the vault is open.
 */
int auth_mfa_unusable(cn_store_t *s, int64_t *count, cn_err_t *err);

int auth_mfa_enroll(cn_req_t *r);
int auth_mfa_confirm(cn_req_t *r);
extern const cn_schema_t auth_mfa_confirm_schema;

/**
 * POST /api/v1/auth/mfa/verify: a challenge plus a code or a recovery code. On success
 * calls start(r, user, tenant, role, ends_at) to open the session; ends_at is the challenge's
 * (0: a new sign-in's full lifetime).
 */
typedef int (*auth_start_session_fn)(cn_req_t *r, const char *user, const char *tenant,
                                     const char *role, int64_t ends_at);
int auth_mfa_verify(cn_req_t *r, auth_start_session_fn start);
extern const cn_schema_t auth_mfa_verify_schema;

#endif
