/*
 * Operator commands' identity queries (see admin.h). They reuse the server's own pieces
 * (password policy and hashing, session revocation, the audit chain) so that a password
 * set from the command line is treated exactly like one set by a reset; nothing here may
 * print or keep a password or a hash.
 */
#include "auth/admin.h"
#include "auth/audit.h"
#include "auth/auth.h"
#include "auth/lockout.h"
#include "auth/passwords.h"
#include "auth/rbac.h"
#include "auth/tokens.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

int auth_tenants_each(cn_store_t *s, void (*fn)(const auth_tenant_row_t *, void *), void *ud,
                      cn_err_t *err)
{
    cn_stmt_t *st;
    int rc = cn_store_query(s, "SELECT id, slug, name, created_at FROM tenants ORDER BY slug", NULL,
                            0, &st, err);
    if (rc != 0)
        return rc;
    while ((rc = cn_stmt_step(st, err)) == CN_ROW) {
        auth_tenant_row_t t = {cn_stmt_text(st, 0, NULL), cn_stmt_text(st, 1, NULL),
                               cn_stmt_text(st, 2, NULL), cn_stmt_int(st, 3)};
        fn(&t, ud);
    }
    cn_stmt_finish(st);
    return rc == CN_DONE ? 0 : rc;
}

static int tenant_id(cn_store_t *s, const char *slug, char id[40], cn_err_t *err)
{
    cn_val_t a[] = {CN_VTEXT(slug)};
    int rc = cn_store_one_text(s, "SELECT id FROM tenants WHERE slug = $1", a, 1, id, 40, err);
    return rc == CN_ENOTFOUND ? cn_err_set(err, CN_ENOTFOUND, "no tenant with slug %s", slug) : rc;
}

int auth_members_each(cn_store_t *s, const char *slug,
                      void (*fn)(const auth_member_row_t *, void *), void *ud, cn_err_t *err)
{
    char tenant[40];
    int rc = tenant_id(s, slug, tenant, err);
    if (rc != 0)
        return rc;
    /* the lockout account is the tenant slug and the e-mail; the latest lock from any
     * client IP (see lockout.h) */
    cn_val_t args[] = {CN_VTEXT(tenant), CN_VTEXT(slug)};
    cn_stmt_t *st;
    rc = cn_store_query(s,
                        "SELECT u.id, u.email, m.role, m.created_at,"
                        " EXISTS (SELECT 1 FROM mfa WHERE mfa.user_id = u.id"
                        "  AND mfa.confirmed_at IS NOT NULL),"
                        " COALESCE((SELECT MAX(locked_until) FROM login_failures"
                        "  WHERE account = $2 || '/' || u.email), 0)"
                        " FROM memberships m JOIN users u ON u.id = m.user_id"
                        " WHERE m.tenant_id = $1 ORDER BY u.email",
                        args, 2, &st, err);
    if (rc != 0)
        return rc;
    while ((rc = cn_stmt_step(st, err)) == CN_ROW) {
        auth_member_row_t m = {cn_stmt_text(st, 0, NULL), cn_stmt_text(st, 1, NULL),
                               cn_stmt_text(st, 2, NULL), (int)cn_stmt_int(st, 4),
                               cn_stmt_int(st, 5),        cn_stmt_int(st, 3)};
        fn(&m, ud);
    }
    cn_stmt_finish(st);
    return rc == CN_DONE ? 0 : rc;
}

/* One unit of work, like a password reset: new hash, reset tokens void, sessions ended. */
/* The audit entry of an operator's change from the command line (no request, no IP). */
static int audit_operator(cn_store_t *s, const char *tenant, const char *action, const char *object,
                          cn_err_t *err)
{
    auth_audit_t e = {.tenant_id = tenant,
                      .actor = "operator",
                      .action = action,
                      .object = object,
                      .ip = "",
                      .request_id = "",
                      .status = 204};
    return auth_audit_append(s, &e, err);
}

static int store_new_password(cn_store_t *s, const char *tenant, const char *user, const char *hash,
                              int64_t *n_sessions, cn_err_t *err)
{
    int rc = cn_store_begin(s, err);
    if (rc != 0)
        return rc;
    cn_val_t args[] = {CN_VTEXT(user), CN_VINT(cn_now_ms())};
    rc = auth_set_password_hash(s, user, hash, err);
    if (rc == 0)
        rc = cn_store_exec(s,
                           "UPDATE password_resets SET used_at = $2 WHERE user_id = $1"
                           " AND used_at IS NULL",
                           args, 2, NULL, err);
    if (rc == 0)
        rc = auth_revoke_sessions(s,
                                  "UPDATE sessions SET revoked_at = $2 WHERE user_id = $1"
                                  " AND revoked_at IS NULL RETURNING id",
                                  args, 2, n_sessions, err);
    if (rc == 0) /* as a password reset does: the owner of the account is back in */
        rc = auth_lockout_clear_user(s, user, err);
    if (rc == 0)
        rc = audit_operator(s, tenant, "auth.password.set_by_operator", user, err);
    return cn_store_end(s, rc, err);
}

int auth_user_set_password(cn_store_t *s, const char *slug, const char *email_in,
                           const char *password, int64_t *n_sessions, cn_err_t *err)
{
    char email[256], tenant[40], user[40], hash[AUTH_HASH_LEN];
    auth_email_normalize(email_in, email, sizeof(email));
    if (auth_passwords_init(AUTH_COMMON_PASSWORDS) != 0)
        return cn_err_set(err, CN_ERR, "cannot load %s (package john-data)", AUTH_COMMON_PASSWORDS);
    const char *weak = auth_password_policy(password, strlen(password), email);
    if (weak != NULL)
        return cn_err_set(err, CN_EINVAL, "the password %s", weak);
    int rc = tenant_id(s, slug, tenant, err);
    if (rc != 0)
        return rc;
    cn_val_t args[] = {CN_VTEXT(tenant), CN_VTEXT(email)};
    rc = cn_store_one_text(s,
                           "SELECT u.id FROM users u JOIN memberships m ON m.user_id = u.id"
                           " WHERE m.tenant_id = $1 AND u.email = $2",
                           args, 2, user, sizeof(user), err);
    if (rc == CN_ENOTFOUND)
        return cn_err_set(err, CN_ENOTFOUND, "%s is not a member of %s", email, slug);
    if (rc != 0)
        return rc;
    if (auth_password_hash(password, strlen(password), hash) != 0)
        return cn_err_set(err, CN_ERR, "cannot hash the password (out of memory)");
    rc = store_new_password(s, tenant, user, hash, n_sessions, err);
    sodium_memzero(hash, sizeof(hash));
    return rc;
}

int auth_user_unlock(cn_store_t *s, const char *slug, const char *email, int64_t *n_rows,
                     cn_err_t *err)
{
    char tenant[40];
    int rc = tenant_id(s, slug, tenant, err);
    if (rc == 0)
        rc = cn_store_begin(s, err);
    if (rc != 0)
        return rc;
    /* the account's id, as the API's unlock route records it; none for an e-mail without
     * an account (its lockout rows exist all the same), never the e-mail itself */
    char norm[256], user[40] = "";
    auth_email_normalize(email, norm, sizeof(norm));
    cn_val_t by_email[] = {CN_VTEXT(norm)};
    rc = cn_store_one_text(s, "SELECT id FROM users WHERE email = $1", by_email, 1, user,
                           sizeof(user), err);
    if (rc == CN_ENOTFOUND)
        rc = 0;
    if (rc == 0)
        rc = auth_lockout_clear(s, slug, email, n_rows, err);
    if (rc == 0)
        rc = audit_operator(s, tenant, "auth.lockout.cleared_by_operator", user, err);
    return cn_store_end(s, rc, err);
}

/* ---- creating tenants and users (cairn tenant create, cairn user create) ---- */

int auth_tenant_create(cn_store_t *s, const char *slug, const char *name, char id_out[40],
                       cn_err_t *err)
{
    if (!auth_slug_chars_ok(slug))
        return cn_err_set(err, CN_EINVAL, "--slug: use lower-case letters, digits and '-'");
    if (slug[0] == '\0' || strlen(slug) > 64 || name[0] == '\0')
        return cn_err_set(err, CN_EINVAL, "--slug (1-64 characters) and --name are required");
    if (!cn_text_line_ok(name, strlen(name)))
        return cn_err_set(err, CN_EINVAL,
                          "--name: one line of text, without control, line-break or bidi-override "
                          "characters");
    cn_uuid7(id_out);
    cn_val_t args[] = {CN_VTEXT(id_out), CN_VTEXT(slug), CN_VTEXT(name), CN_VINT(cn_now_ms())};
    int rc =
        cn_store_exec(s, "INSERT INTO tenants (id, slug, name, created_at) VALUES ($1, $2, $3, $4)",
                      args, 4, NULL, err);
    if (rc == CN_ECONFLICT)
        cn_err_set(err, CN_ECONFLICT, "a tenant with slug %s exists", slug);
    return rc;
}

int auth_user_create(cn_store_t *s, const char *tenant_slug, const char *email_in, const char *role,
                     const char *password, char id_out[40], cn_err_t *err)
{
    char email[256], tenant[40], hash[AUTH_HASH_LEN];
    auth_email_normalize(email_in, email, sizeof(email));
    if (!cn_is_email(email, strlen(email)))
        return cn_err_set(err, CN_EINVAL, "--email: not a valid e-mail address");
    if (!auth_role_valid(role))
        return cn_err_set(err, CN_EINVAL, "--role: must be one of owner, admin, member, viewer");
    if (auth_passwords_init(AUTH_COMMON_PASSWORDS) != 0)
        return cn_err_set(err, CN_ERR, "cannot load %s (package john-data)", AUTH_COMMON_PASSWORDS);
    const char *weak = auth_password_policy(password, strlen(password), email);
    if (weak != NULL)
        return cn_err_set(err, CN_EINVAL, "the password %s", weak);
    cn_val_t slug_arg[] = {CN_VTEXT(tenant_slug)}, email_arg[] = {CN_VTEXT(email)};
    int rc = cn_store_one_text(s, "SELECT id FROM tenants WHERE slug = $1", slug_arg, 1, tenant, 40,
                               err);
    if (rc == CN_ENOTFOUND)
        return cn_err_set(err, CN_ENOTFOUND, "no tenant with slug %s", tenant_slug);
    if (rc != 0)
        return rc;
    if ((rc = cn_store_begin(s, err)) != 0)
        return rc;
    rc = cn_store_one_text(s, "SELECT id FROM users WHERE email = $1", email_arg, 1, id_out, 40,
                           err);
    if (rc == CN_ENOTFOUND) {
        if (auth_password_hash(password, strlen(password), hash) != 0)
            return cn_store_end(
                s, cn_err_set(err, CN_ERR, "cannot hash the password (out of memory)"), err);
        cn_uuid7(id_out);
        int64_t now = cn_now_ms();
        cn_val_t args[] = {CN_VTEXT(id_out), CN_VTEXT(email), CN_VTEXT(hash), CN_VINT(now)};
        rc = cn_store_exec(s,
                           "INSERT INTO users (id, email, password_hash, created_at, updated_at)"
                           " VALUES ($1, $2, $3, $4, $4)",
                           args, 4, NULL, err);
        sodium_memzero(hash, sizeof(hash));
    }
    if (rc == 0) {
        cn_val_t args[] = {CN_VTEXT(tenant), CN_VTEXT(id_out), CN_VTEXT(role),
                           CN_VINT(cn_now_ms())};
        rc = cn_store_exec(s,
                           "INSERT INTO memberships (tenant_id, user_id, role, created_at)"
                           " VALUES ($1, $2, $3, $4)",
                           args, 4, NULL, err);
        if (rc == CN_ECONFLICT)
            cn_err_set(err, CN_ECONFLICT, "%s is already a member of %s", email, tenant_slug);
    }
    return cn_store_end(s, rc, err);
}
