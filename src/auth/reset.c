/*
 * Password reset by e-mail (see reset.h). The request answers the same whether or not the
 * account exists; when it does, a job (enqueued with the audit entry, in one
 * transaction) makes a single-use token, stores only its hash and mails the token. The
 * token never sits in the job queue, so a reader of the database cannot use it.
 */
#include "auth/reset.h"
#include "auth/auth.h"
#include "auth/lockout.h"
#include "auth/passwords.h"
#include "auth/register.h"
#include "auth/tokens.h"
#include "core/jobs.h"
#include "core/log.h"
#include "core/mail.h"
#include "core/workers.h"
#include "lib/formats.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define MAIL_JOB "auth.password_reset_mail"

static struct {
    int ttl_s;
    char *reset_url;
} reset_settings = {1800, NULL};

const char auth_reset_migration_sql[] =
    "CREATE TABLE password_resets ("
    " token_hash TEXT PRIMARY KEY,"
    " user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    " tenant_id TEXT NOT NULL,"
    " created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, used_at INTEGER);"
    "CREATE INDEX password_resets_user ON password_resets (user_id)";

void auth_reset_configure(const auth_settings_t *s)
{
    reset_settings.ttl_s = s->reset_ttl_s;
    free(reset_settings.reset_url);
    reset_settings.reset_url = cn_strdup(s->reset_url);
}

void auth_reset_free(void)
{
    free(reset_settings.reset_url);
    reset_settings.reset_url = NULL;
}

static int audit(cn_req_t *r, const char *tenant, const char *actor, const char *action, int status)
{
    char ip[64];
    cn_req_peer(r, ip, sizeof(ip));
    return auth_security_event(r, tenant, actor, action, NULL, ip, status);
}

/* The mail job and the audit entry, together or not at all. */
static int enqueue_mail(cn_req_t *r, const char *user, const char *tenant)
{
    /* at most one mail a minute per account, however often it is asked for */
    char key[80];
    snprintf(key, sizeof(key), "%s:%lld", user, (long long)(cn_now_ms() / 60000));
    json_t *payload = json_pack("{s:s, s:s}", "user_id", user, "tenant_id", tenant);
    cn_job_opts_t opts = {.tenant_id = tenant, .unique_key = key};
    int rc = cn_store_begin(r->store, &r->err);
    if (rc == 0) {
        if ((rc = cn_jobs_enqueue(r->store, MAIL_JOB, payload, &opts, NULL, &r->err)) == 0)
            rc = audit(r, tenant, user, "auth.password.reset_requested", 202);
        rc = cn_store_end(r->store, rc, &r->err);
    }
    json_decref(payload);
    return rc;
}

/* ---- the request ---- */

static const cn_field_t request_fields[] = {
    {"tenant", CN_T_STRING, .required = 1, .min_len = 1, .max_len = 64,
     .description = "The tenant's slug"},
    {"email", CN_T_STRING, .required = 1, .format = CN_FMT_EMAIL, .max_len = 254},
    {0},
};
const cn_schema_t auth_reset_request_schema = {"PasswordResetRequest", request_fields};

int auth_post_reset_request(cn_req_t *r)
{
    char email[256], user[40] = "", tenant[40] = "";
    auth_email_normalize(json_string_value(json_object_get(r->body, "email")), email,
                         sizeof(email));
    cn_val_t args[] = {CN_VTEXT(json_string_value(json_object_get(r->body, "tenant"))),
                       CN_VTEXT(email)};
    cn_stmt_t *st;
    int rc =
        cn_store_query(r->store,
                       "SELECT u.id, t.id FROM users u JOIN memberships m ON m.user_id = u.id"
                       " JOIN tenants t ON t.id = m.tenant_id WHERE t.slug = $1 AND u.email = $2",
                       args, 2, &st, &r->err);
    if (rc != 0)
        return rc;
    if ((rc = cn_stmt_step(st, &r->err)) == CN_ROW) {
        snprintf(user, sizeof(user), "%s", cn_stmt_text(st, 0, NULL));
        snprintf(tenant, sizeof(tenant), "%s", cn_stmt_text(st, 1, NULL));
    }
    cn_stmt_finish(st);
    if (rc < 0)
        return rc;
    if (user[0] && (rc = enqueue_mail(r, user, tenant)) != 0)
        return rc;
    /* the same answer either way: the API does not tell who has an account */
    return cn_reply_json(r, 202, json_pack("{s:s}", "status", "accepted"));
}

/* ---- the mail job ---- */

void auth_mail_token(char token[64], char hash[65])
{
    uint8_t raw[32];
    cn_random(raw, sizeof(raw));
    cn_base64url_encode(raw, sizeof(raw), token);
    sodium_memzero(raw, sizeof(raw));
    auth_refresh_hash(token, strlen(token), hash);
}

void auth_mail_link(cn_buf_t *text, const char *url, const char *token, const char *api_route)
{
    if (url && url[0])
        cn_buf_appendf(text, "%s%stoken=%s\r\n", url, strchr(url, '?') ? "&" : "?", token);
    else
        cn_buf_appendf(text, "POST %s with the token %s\r\n", api_route, token);
}

/* Stores a new token's hash and reads where to send it: 1 done, 0 account gone, < 0 error. */
static int make_token(cn_store_t *s, const char *user, const char *tenant, char *token, char *email,
                      size_t email_cap, char *tenant_name, size_t name_cap, cn_err_t *err)
{
    char hash[65];
    auth_mail_token(token, hash);
    int64_t now = cn_now_ms();
    int rc = cn_store_begin(s, err);
    if (rc != 0)
        return rc;
    cn_val_t args[] = {CN_VTEXT(user), CN_VTEXT(tenant)};
    cn_stmt_t *st;
    rc = cn_store_query(s,
                        "SELECT u.email, t.name FROM users u JOIN memberships m ON m.user_id = u.id"
                        " JOIN tenants t ON t.id = m.tenant_id WHERE u.id = $1 AND t.id = $2",
                        args, 2, &st, err);
    int found = 0;
    if (rc == 0) {
        if ((rc = cn_stmt_step(st, err)) == CN_ROW) {
            found = 1;
            snprintf(email, email_cap, "%s", cn_stmt_text(st, 0, NULL));
            snprintf(tenant_name, name_cap, "%s", cn_stmt_text(st, 1, NULL));
        }
        cn_stmt_finish(st);
        rc = rc < 0 ? rc : 0;
    }
    if (rc == 0 && found) {
        cn_val_t ins[] = {CN_VTEXT(hash), CN_VTEXT(user), CN_VTEXT(tenant), CN_VINT(now),
                          CN_VINT(now + (int64_t)reset_settings.ttl_s * 1000)};
        rc = cn_store_exec(s,
                           "INSERT INTO password_resets (token_hash, user_id, tenant_id,"
                           " created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
                           ins, 5, NULL, err);
    }
    rc = cn_store_end(s, rc, err);
    return rc != 0 ? rc : found;
}

static int run_mail_job(cn_job_t *job, cn_err_t *err)
{
    const char *user = json_string_value(json_object_get(job->payload, "user_id"));
    const char *tenant = json_string_value(json_object_get(job->payload, "tenant_id"));
    if (user == NULL || tenant == NULL)
        return cn_err_set(err, CN_EINVAL, "payload needs user_id and tenant_id");
    if (!cn_mail_configured()) /* before a token exists: retried once mail is set up */
        return cn_err_set(err, CN_EBUSY, "mail.smtp_url is not set: no e-mail can be sent");
    char token[64], email[256], name[256];
    int rc =
        make_token(job->store, user, tenant, token, email, sizeof(email), name, sizeof(name), err);
    if (rc <= 0) /* 0: the account or membership is gone, nothing to send */
        return rc;
    cn_buf_t text = {0};
    /* the names are stored values, maybe from before they were checked: plain text only */
    cn_buf_lit(&text, "Someone asked to reset the password of ");
    cn_mail_append_value(&text, email);
    cn_buf_lit(&text, " in ");
    cn_mail_append_value(&text, name);
    cn_buf_appendf(&text,
                   ".\r\n\r\nTo choose a new password, open this link within %d minutes:\r\n\r\n  ",
                   (reset_settings.ttl_s + 59) / 60);
    auth_mail_link(&text, reset_settings.reset_url, token, "/api/v1/auth/password/reset");
    cn_buf_lit(&text, "\r\nThe link works once. If you did not ask for it, ignore this mail:\r\n"
                      "your password stays as it is.\r\n");
    cn_buf_append(&text, "", 1);
    rc = cn_mail_send(email, "Reset your password", text.data, err);
    sodium_memzero(text.data, text.len);
    sodium_memzero(token, sizeof(token));
    cn_buf_free(&text);
    return rc;
}

const cn_job_type_t auth_reset_jobs[] = {
    {MAIL_JOB, run_mail_job, .max_attempts = 5, .outside_txn = 1},
    /* the registration mails share the machinery (register.c) */
    {AUTH_REGISTER_JOB, auth_register_mail_job, .max_attempts = 5, .outside_txn = 1},
    /* hourly: sign-in failure rows long over (lockout.c) */
    {AUTH_LOCKOUT_SWEEP_JOB, auth_lockout_sweep_job, .every_ms = 3600 * 1000},
    {0},
};

/* ---- using the token ---- */

static const cn_field_t reset_fields[] = {
    {"token", CN_T_STRING, .required = 1, .min_len = 1, .max_len = 128,
     .description = "The token from the mail"},
    {"new_password", CN_T_STRING, .required = 1, .min_len = 1, .max_len = 1024},
    {0},
};
const cn_schema_t auth_reset_schema = {"PasswordReset", reset_fields};

typedef struct {
    char hash[65], user[40], tenant[40];
    char *password;
    size_t password_len;
    char fresh[AUTH_HASH_LEN];
    int ok;
} reset_t;

static void reset_free(reset_t *p)
{
    sodium_memzero(p->password, p->password_len);
    free(p->password);
    sodium_memzero(p, sizeof(*p));
    free(p);
}

static void reset_work(void *arg)
{
    reset_t *p = arg;
    p->ok = auth_password_hash(p->password, p->password_len, p->fresh) == 0;
}

/* In the completion's unit of work: the token is spent, the password set, every session
 * ends, or nothing happens. */
static int apply_reset(cn_req_t *r, reset_t *p)
{
    int64_t now = cn_now_ms(), spent = 0;
    cn_val_t use[] = {CN_VTEXT(p->hash), CN_VINT(now)};
    int rc = cn_store_exec(r->store,
                           "UPDATE password_resets SET used_at = $2 WHERE token_hash = $1"
                           " AND used_at IS NULL AND expires_at > $2",
                           use, 2, &spent, &r->err);
    if (rc == 0 && spent == 0) /* used by a concurrent request meanwhile */
        rc = cn_fail_field(r, "token", "is invalid, used or expired");
    cn_val_t user[] = {CN_VTEXT(p->user), CN_VINT(now)};
    if (rc == 0)
        rc = auth_store_password_hash(r, p->user, p->fresh);
    if (rc == 0) /* the account's other reset tokens die with the old password */
        rc = cn_store_exec(r->store,
                           "UPDATE password_resets SET used_at = $2 WHERE user_id = $1"
                           " AND used_at IS NULL",
                           user, 2, NULL, &r->err);
    if (rc == 0)
        rc = auth_revoke_sessions(r->store,
                                  "UPDATE sessions SET revoked_at = $2 WHERE user_id = $1"
                                  " AND revoked_at IS NULL RETURNING id",
                                  user, 2, NULL, &r->err);
    if (rc == 0) /* the owner proved who they are: failed sign-ins no longer lock them out */
        rc = auth_lockout_clear_user(r->store, p->user, &r->err);
    if (rc == 0)
        rc = audit(r, p->tenant, p->user, "auth.password.reset", 204);
    return rc;
}

static void reset_done(cn_req_t *r, void *arg)
{
    reset_t *p = arg;
    if (r != NULL) {
        int rc = p->ok ? apply_reset(r, p) : cn_fail(r, CN_ERR, "hashing the password failed");
        if (rc == 0)
            cn_reply_empty(r, 204);
        else
            cn_req_finish_error(r, rc);
    }
    reset_free(p);
}

int auth_post_reset(cn_req_t *r)
{
    json_t *tok = json_object_get(r->body, "token");
    json_t *pw = json_object_get(r->body, "new_password");
    reset_t *p = cn_calloc(1, sizeof(*p));
    auth_refresh_hash(json_string_value(tok), json_string_length(tok), p->hash);
    cn_val_t args[] = {CN_VTEXT(p->hash), CN_VINT(cn_now_ms())};
    cn_stmt_t *st;
    char email[256] = "";
    int rc = cn_store_query(r->store,
                            "SELECT pr.user_id, pr.tenant_id, u.email FROM password_resets pr"
                            " JOIN users u ON u.id = pr.user_id WHERE pr.token_hash = $1"
                            " AND pr.used_at IS NULL AND pr.expires_at > $2",
                            args, 2, &st, &r->err);
    if (rc == 0) {
        if ((rc = cn_stmt_step(st, &r->err)) == CN_ROW) {
            snprintf(p->user, sizeof(p->user), "%s", cn_stmt_text(st, 0, NULL));
            snprintf(p->tenant, sizeof(p->tenant), "%s", cn_stmt_text(st, 1, NULL));
            snprintf(email, sizeof(email), "%s", cn_stmt_text(st, 2, NULL));
        }
        cn_stmt_finish(st);
        rc = rc == CN_ROW ? 0
             : rc < 0     ? rc
                          : cn_fail_field(r, "token", "is invalid, used or expired");
    }
    const char *weak =
        rc == 0 ? auth_password_policy(json_string_value(pw), json_string_length(pw), email) : NULL;
    if (rc != 0 || weak != NULL) {
        reset_free(p);
        return rc != 0 ? rc : cn_fail_field(r, "new_password", weak);
    }
    p->password_len = json_string_length(pw);
    p->password = cn_strndup(json_string_value(pw), p->password_len);
    return cn_req_offload(r, reset_work, reset_done, p);
}
