/*
 * Self-service registration (see register.h). With confirmation on, the request does the
 * same work for every e-mail — hash the password, store a pending registration, enqueue
 * the mail job — so neither its answer nor its timing tells whether an account exists.
 * The job decides what to send, and only the mailbox's owner learns it. A pending
 * registration holds the argon2id hash, never the password; its token is made by the job
 * and only its SHA-256 is stored, as for password resets.
 */
#include "auth/register.h"
#include "auth/audit.h"
#include "auth/auth.h"
#include "auth/passwords.h"
#include "auth/reset.h"
#include "auth/tokens.h"
#include "core/log.h"
#include "core/mail.h"
#include "core/workers.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static struct {
    int ttl_s;
    char *url;
} G = {86400, NULL};

const char auth_register_migration_sql[] =
    /* NULL: follow the server (on when it can send mail); 0 or 1: the tenant's choice */
    "ALTER TABLE tenants ADD COLUMN registration_requires_confirmation INTEGER;"
    "CREATE TABLE registrations ("
    " id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id),"
    " email TEXT NOT NULL, password_hash TEXT, token_hash TEXT UNIQUE,"
    " created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, used_at INTEGER);"
    "CREATE INDEX registrations_email ON registrations (email, tenant_id);"
    "CREATE INDEX registrations_expiry ON registrations (expires_at)";

void auth_register_configure(const cn_config_t *cfg)
{
    G.ttl_s = cfg->register_ttl_s;
    free(G.url);
    G.url = cn_strdup(cfg->register_url);
}

void auth_register_free(void)
{
    free(G.url);
    G.url = NULL;
}

int auth_registration_confirms(int is_null, int64_t setting)
{
    return is_null ? cn_mail_configured() : setting != 0;
}

static int audit(cn_req_t *r, const char *tenant, const char *actor, const char *action, int status)
{
    char ip[64];
    cn_req_peer(r, ip, sizeof(ip));
    return auth_security_event(r, tenant, actor, action, NULL, ip, status);
}

/* ---- the request ---- */

static const cn_field_t register_fields[] = {
    {"tenant", CN_T_STRING, .required = 1, .min_len = 1, .max_len = 64,
     .description = "Tenant slug (the tenant must allow registration)"},
    {"email", CN_T_STRING, .required = 1, .format = CN_FMT_EMAIL, .max_len = 254},
    {"password", CN_T_STRING, .required = 1, .min_len = 1, .max_len = 1024},
    {"cookie", CN_T_BOOLEAN, .description = "also set the session cookies (browsers)"},
    {0},
};
const cn_schema_t auth_register_schema = {"RegisterRequest", register_fields};

typedef struct {
    char *password;
    size_t len;
    char hash[AUTH_HASH_LEN];
    int ok;
    char tenant[40], email[256];
} pending_t;

static void pending_free(pending_t *p)
{
    sodium_memzero(p->password, p->len);
    free(p->password);
    sodium_memzero(p, sizeof(*p));
    free(p);
}

static void pending_work(void *arg)
{
    pending_t *p = arg;
    p->ok = auth_password_hash(p->password, p->len, p->hash) == 0;
}

/* The pending row, its mail job and the audit entry, in one unit of work. */
static int store_pending(cn_req_t *r, const pending_t *p)
{
    char id[CN_UUID_LEN + 1], key[400];
    cn_uuid7(id);
    int64_t now = cn_now_ms();
    /* one mail a minute per address and tenant, however often it is asked for */
    snprintf(key, sizeof(key), "%s:%s:%lld", p->tenant, p->email, (long long)(now / 60000));
    json_t *payload = json_pack("{s:s}", "registration_id", id);
    cn_job_opts_t opts = {.tenant_id = p->tenant, .unique_key = key};
    cn_val_t old[] = {CN_VINT(now)};
    cn_val_t row[] = {CN_VTEXT(id),      CN_VTEXT(p->tenant), CN_VTEXT(p->email),
                      CN_VTEXT(p->hash), CN_VINT(now),        CN_VINT(now + G.ttl_s * 1000LL)};
    /* expired registrations go, with their hashes */
    int rc = cn_store_exec(r->store, "DELETE FROM registrations WHERE expires_at < $1", old, 1,
                           NULL, &r->err);
    if (rc == 0)
        rc = cn_store_exec(r->store,
                           "INSERT INTO registrations (id, tenant_id, email, password_hash,"
                           " created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
                           row, 6, NULL, &r->err);
    if (rc == 0)
        rc = cn_jobs_enqueue(r->store, AUTH_REGISTER_JOB, payload, &opts, NULL, &r->err);
    if (rc == 0)
        rc = audit(r, p->tenant, "anonymous", "auth.register.requested", 202);
    if (rc == 0) /* the same answer for every e-mail */
        rc = cn_reply_json(r, 202, json_pack("{s:s}", "status", "confirmation_sent"));
    json_decref(payload);
    return rc;
}

static void pending_done(cn_req_t *r, void *arg)
{
    pending_t *p = arg;
    if (r != NULL) {
        int rc = p->ok ? store_pending(r, p) : cn_fail(r, CN_ERR, "cannot hash the password");
        if (rc != 0)
            cn_req_finish_error(r, rc);
    }
    pending_free(p);
}

/* Without confirmation: the account is made at once, and an e-mail with an account is
 * refused (409) — which tells the caller that the e-mail has one. */
static int register_now(cn_req_t *r, const char *tenant, const char *email, auth_account_fn reply)
{
    char user[40];
    int rc = auth_find_account(r, email, user);
    if (rc != 0)
        return rc;
    if (user[0] != '\0') /* never a second password for an account: its owner signs in */
        return cn_fail(r, CN_ECONFLICT,
                       "an account with this e-mail exists: sign in, and ask an admin of the "
                       "tenant to add it");
    return auth_add_account(r, tenant, email, "member", "password", NULL, reply);
}

int auth_register(cn_req_t *r, auth_account_fn reply)
{
    const char *slug = json_string_value(json_object_get(r->body, "tenant"));
    char email[256], tenant[40] = "";
    auth_email_normalize(json_string_value(json_object_get(r->body, "email")), email,
                         sizeof(email));
    cn_stmt_t *st;
    cn_val_t args[] = {CN_VTEXT(slug)};
    int rc = cn_store_query(r->store,
                            "SELECT id, registration_requires_confirmation IS NULL,"
                            " registration_requires_confirmation FROM tenants"
                            " WHERE slug = $1 AND allow_registration = 1",
                            args, 1, &st, &r->err);
    if (rc != 0)
        return rc;
    int confirms = 0;
    if ((rc = cn_stmt_step(st, &r->err)) == CN_ROW) {
        snprintf(tenant, sizeof(tenant), "%s", cn_stmt_text(st, 0, NULL));
        confirms = auth_registration_confirms((int)cn_stmt_int(st, 1), cn_stmt_int(st, 2));
    }
    cn_stmt_finish(st);
    if (rc < 0)
        return rc;
    /* unknown and closed tenants answer alike: slugs are not probed here */
    if (tenant[0] == '\0')
        return cn_fail(r, CN_EFORBIDDEN, "this tenant does not accept self-service registration");
    if (!confirms)
        return register_now(r, tenant, email, reply);
    json_t *pw = json_object_get(r->body, "password");
    const char *weak = auth_password_policy(json_string_value(pw), json_string_length(pw), email);
    if (weak != NULL)
        return cn_fail_field(r, "password", weak);
    pending_t *p = cn_calloc(1, sizeof(*p));
    p->len = json_string_length(pw);
    p->password = cn_strndup(json_string_value(pw), p->len);
    snprintf(p->tenant, sizeof(p->tenant), "%s", tenant);
    snprintf(p->email, sizeof(p->email), "%s", email);
    return cn_req_offload(r, pending_work, pending_done, p);
}

/* ---- the mail job ---- */

typedef enum { MAIL_NEW, MAIL_JOIN, MAIL_MEMBER } mail_kind_t;

typedef struct {
    char id[40], tenant[40], email[256], name[256];
    char token[64];
    mail_kind_t kind;
} letter_t;

/* The newest pending registration like job's (same tenant and e-mail): 1 found, 0 none. */
static int read_pending(cn_store_t *s, const char *id, letter_t *l, cn_err_t *err)
{
    cn_stmt_t *st;
    cn_val_t args[] = {CN_VTEXT(id), CN_VINT(cn_now_ms())};
    int rc =
        cn_store_query(s,
                       "SELECT r.id, r.tenant_id, r.email, t.name,"
                       " (SELECT u.id FROM users u WHERE u.email = r.email) AS user_id,"
                       " EXISTS (SELECT 1 FROM memberships m JOIN users u ON u.id = m.user_id"
                       "  WHERE u.email = r.email AND m.tenant_id = r.tenant_id)"
                       " FROM registrations r JOIN tenants t ON t.id = r.tenant_id"
                       " JOIN registrations j ON j.tenant_id = r.tenant_id AND j.email = r.email"
                       " WHERE j.id = $1 AND r.used_at IS NULL AND r.expires_at > $2"
                       " ORDER BY r.created_at DESC, r.id DESC LIMIT 1",
                       args, 2, &st, err);
    if (rc != 0)
        return rc;
    if ((rc = cn_stmt_step(st, err)) == CN_ROW) {
        snprintf(l->id, sizeof(l->id), "%s", cn_stmt_text(st, 0, NULL));
        snprintf(l->tenant, sizeof(l->tenant), "%s", cn_stmt_text(st, 1, NULL));
        snprintf(l->email, sizeof(l->email), "%s", cn_stmt_text(st, 2, NULL));
        snprintf(l->name, sizeof(l->name), "%s", cn_stmt_text(st, 3, NULL));
        l->kind = cn_stmt_int(st, 5) ? MAIL_MEMBER : cn_stmt_is_null(st, 4) ? MAIL_NEW : MAIL_JOIN;
    }
    cn_stmt_finish(st);
    return rc < 0 ? rc : rc == CN_ROW;
}

/* Gives the registration a token (a notice needs none: the row is spent), and forgets the
 * password's hash unless it may still become the account's. 1 to send, 0 nothing, < 0. */
static int prepare_letter(cn_store_t *s, const char *job_row, letter_t *l, cn_err_t *err)
{
    int rc = cn_store_begin(s, err);
    int found = rc == 0 ? read_pending(s, job_row, l, err) : rc;
    rc = found < 0 ? found : 0;
    char hash[65] = "";
    if (found == 1 && l->kind != MAIL_MEMBER)
        auth_mail_token(l->token, hash);
    int64_t now = cn_now_ms();
    cn_val_t args[] = {CN_VTEXT(l->id), hash[0] ? CN_VTEXT(hash) : CN_VNULL, CN_VINT(now),
                       CN_VINT(l->kind == MAIL_NEW), CN_VINT(now + G.ttl_s * 1000LL)};
    if (found == 1)
        rc = cn_store_exec(s,
                           "UPDATE registrations SET token_hash = $2,"
                           " password_hash = CASE WHEN $4 THEN password_hash END,"
                           " used_at = CASE WHEN $2 IS NULL THEN $3 END,"
                           " expires_at = $5 WHERE id = $1",
                           args, 5, NULL, err);
    cn_val_t older[] = {CN_VTEXT(l->id), CN_VTEXT(l->tenant), CN_VTEXT(l->email), CN_VINT(now)};
    if (found == 1 && rc == 0) /* the newest request wins; the others' hashes go */
        rc = cn_store_exec(s,
                           "UPDATE registrations SET password_hash = NULL, used_at = $4"
                           " WHERE tenant_id = $2 AND email = $3 AND id <> $1 AND used_at IS NULL",
                           older, 4, NULL, err);
    rc = cn_store_end(s, rc, err);
    return rc != 0 ? rc : found;
}

static void write_letter(const letter_t *l, cn_buf_t *subject, cn_buf_t *text)
{
    static const char *const subjects[] = {
        "Confirm your registration at ",
        "Join with your existing account: ", "Someone tried to register you at "};
    cn_buf_appendf(subject, "%s", subjects[l->kind]);
    cn_mail_append_value(subject, l->name); /* cleaned again and encoded by cn_mail_send */
    cn_buf_append(subject, "", 1);
    cn_buf_lit(text, "Someone asked to register ");
    cn_mail_append_value(text, l->email);
    cn_buf_lit(text, " in ");
    cn_mail_append_value(text, l->name);
    if (l->kind == MAIL_MEMBER) {
        cn_buf_lit(text,
                   ".\r\n\r\nThis address already has an account there. If it was you, sign in"
                   " with your password, or ask for a password reset if you forgot it.\r\n"
                   "If it was not you, ignore this mail: nothing has changed.\r\n");
        return;
    }
    if (l->kind == MAIL_JOIN)
        cn_buf_lit(text, ".\r\n\r\nThis address already has an account. To join with it (your "
                         "password stays as it is; the one given in the request is not used),");
    else
        cn_buf_lit(text, ".\r\n\r\nTo confirm and create the account,");
    cn_buf_appendf(text, " open this link within %d hours:\r\n\r\n  ", (G.ttl_s + 3599) / 3600);
    auth_mail_link(text, G.url, l->token, "/api/v1/auth/register/confirm");
    cn_buf_lit(text, "\r\nThe link works once. If you did not ask for it, ignore this mail: "
                     "nothing is created.\r\n");
}

int auth_register_mail_job(cn_job_t *job, cn_err_t *err)
{
    const char *id = json_string_value(json_object_get(job->payload, "registration_id"));
    if (id == NULL)
        return cn_err_set(err, CN_EINVAL, "payload needs registration_id");
    if (!cn_mail_configured()) /* before a token exists: retried once mail is set up */
        return cn_err_set(err, CN_EBUSY, "mail.smtp_url is not set: no e-mail can be sent");
    letter_t l = {0};
    int rc = prepare_letter(job->store, id, &l, err);
    if (rc <= 0) /* 0: confirmed, expired or replaced meanwhile: nothing to send */
        return rc;
    cn_buf_t subject = {0}, text = {0};
    write_letter(&l, &subject, &text);
    cn_buf_append(&text, "", 1);
    rc = cn_mail_send(l.email, subject.data, text.data, err);
    sodium_memzero(text.data, text.len);
    sodium_memzero(&l, sizeof(l));
    cn_buf_free(&subject);
    cn_buf_free(&text);
    return rc;
}

/* ---- confirming ---- */

static const cn_field_t confirm_fields[] = {
    {"token", CN_T_STRING, .required = 1, .min_len = 1, .max_len = 128,
     .description = "The token from the mail"},
    {"cookie", CN_T_BOOLEAN, .description = "also set the session cookies (browsers)"},
    {0},
};
const cn_schema_t auth_register_confirm_schema = {"RegisterConfirm", confirm_fields};

typedef struct {
    char id[40], tenant[40], email[256], hash[AUTH_HASH_LEN], slug[80];
    int has_hash, open;
} spent_t;

/* Spends the token (inside the unit of work): 0, or 422 naming the token. */
static int spend(cn_req_t *r, spent_t *p)
{
    json_t *tok = json_object_get(r->body, "token");
    char token_hash[65];
    auth_refresh_hash(json_string_value(tok), json_string_length(tok), token_hash);
    int64_t now = cn_now_ms();
    cn_val_t args[] = {CN_VTEXT(token_hash), CN_VINT(now)};
    cn_stmt_t *st;
    int rc =
        cn_store_query(r->store,
                       "UPDATE registrations SET used_at = $2 WHERE token_hash = $1"
                       " AND used_at IS NULL AND expires_at > $2 RETURNING id, tenant_id,"
                       " email, password_hash, (SELECT allow_registration FROM tenants"
                       " WHERE id = tenant_id), (SELECT slug FROM tenants WHERE id = tenant_id)",
                       args, 2, &st, &r->err);
    if (rc != 0)
        return rc;
    if ((rc = cn_stmt_step(st, &r->err)) == CN_ROW) {
        snprintf(p->id, sizeof(p->id), "%s", cn_stmt_text(st, 0, NULL));
        snprintf(p->tenant, sizeof(p->tenant), "%s", cn_stmt_text(st, 1, NULL));
        snprintf(p->email, sizeof(p->email), "%s", cn_stmt_text(st, 2, NULL));
        p->has_hash = !cn_stmt_is_null(st, 3);
        snprintf(p->hash, sizeof(p->hash), "%s", p->has_hash ? cn_stmt_text(st, 3, NULL) : "");
        p->open = cn_stmt_int(st, 4) != 0;
        snprintf(p->slug, sizeof(p->slug), "%s", cn_stmt_text(st, 5, NULL));
    }
    cn_stmt_finish(st);
    if (rc < 0)
        return rc;
    if (rc != CN_ROW)
        return cn_fail_field(r, "token", "is invalid, used or expired");
    if (!p->open)
        return cn_fail(r, CN_EFORBIDDEN, "this tenant does not accept self-service registration");
    /* every pending registration of the address in the tenant ends with this one */
    cn_val_t all[] = {CN_VTEXT(p->tenant), CN_VTEXT(p->email), CN_VINT(now)};
    return cn_store_exec(r->store,
                         "UPDATE registrations SET password_hash = NULL,"
                         " used_at = COALESCE(used_at, $3) WHERE tenant_id = $1 AND email = $2",
                         all, 3, NULL, &r->err);
}

/* The address has an account: it joins the tenant (the mailbox proved whose it is); the
 * person signs in as usually, with their own password and second factor. */
static int join(cn_req_t *r, const spent_t *p, const char *user)
{
    cn_val_t args[] = {CN_VTEXT(p->tenant), CN_VTEXT(user), CN_VINT(cn_now_ms())};
    int rc = cn_store_exec(r->store,
                           "INSERT INTO memberships (tenant_id, user_id, role, created_at)"
                           " VALUES ($1, $2, 'member', $3) ON CONFLICT DO NOTHING",
                           args, 3, NULL, &r->err);
    if (rc == 0)
        rc = audit(r, p->tenant, user, "auth.register.joined", 200);
    if (rc == 0)
        rc = cn_reply_json(r, 200, json_pack("{s:s, s:s}", "status", "joined", "tenant", p->slug));
    return rc;
}

static int create(cn_req_t *r, const spent_t *p, auth_account_fn reply)
{
    if (!p->has_hash) /* the address had an account when the mail was sent, not any more */
        return cn_fail(r, CN_ECONFLICT, "this registration can no longer be used: register again");
    char id[CN_UUID_LEN + 1];
    cn_uuid7(id);
    int64_t now = cn_now_ms();
    cn_val_t args[] = {CN_VTEXT(id), CN_VTEXT(p->email), CN_VTEXT(p->hash), CN_VINT(now)};
    int rc = cn_store_exec(r->store,
                           "INSERT INTO users (id, email, password_hash, created_at, updated_at)"
                           " VALUES ($1, $2, $3, $4, $4)",
                           args, 4, NULL, &r->err);
    if (rc == 0)
        rc = auth_insert_membership(r, p->tenant, id, "member");
    return rc != 0 ? rc : reply(r, p->tenant, id, "member");
}

int auth_register_confirm(cn_req_t *r, auth_account_fn reply)
{
    spent_t p = {0};
    char user[40] = "";
    int rc = spend(r, &p); /* spent only if the account is made too: one unit of work */
    if (rc == 0)
        rc = auth_find_account(r, p.email, user);
    if (rc == 0)
        rc = user[0] ? join(r, &p, user) : create(r, &p, reply);
    sodium_memzero(p.hash, sizeof(p.hash));
    return rc;
}
