/*
 * auth: identity and access. Tenants, users and their role in each tenant, argon2id
 * passwords, sessions with JWT access tokens and rotating refresh tokens, immediate
 * revocation, and the authentication/authorisation hooks the kernel's router calls.
 */
#ifndef CAIRN_AUTH_AUTH_H
#define CAIRN_AUTH_AUTH_H

#include "core/module.h"

extern const cn_app_t auth_module;

/**
 * Opens the vault (auth.secrets_key_file), refuses (CN_EINVAL, naming what is missing)
 * when stored secrets were sealed with another key unless auth.allow_unusable_secrets,
 * and seals secrets older versions stored in plain. The server's start and the CLI's
 * key commands both go through it.
 */
int auth_secrets_open(const cn_config_t *cfg, cn_store_t *store, cn_err_t *err);

/** E-mail addresses are stored and compared lower-case: copies in lower-cased into out. */
void auth_email_normalize(const char *in, char *out, size_t cap);

/** 1 when slug holds only lower-case letters, digits and '-' (length is the caller's). */
int auth_slug_chars_ok(const char *slug);

/**
 * Reads the single id column of sql for key into out: 0, CN_ENOTFOUND when there is no
 * row, or an error.
 */
/** Appends a security event (sign-in, password change, ...) to the audit log, now. */
int auth_security_event(cn_req_t *r, const char *tenant, const char *actor, const char *action,
                        const char *object, const char *ip, int status);

/** Replaces a user's password hash (argon2id, made on a worker). */
int auth_store_password_hash(cn_req_t *r, const char *user, const char *hash);

/** The same outside a request (the CLI): replaces user's password hash in store s. */
int auth_set_password_hash(cn_store_t *s, const char *user, const char *hash, cn_err_t *err);

#endif
