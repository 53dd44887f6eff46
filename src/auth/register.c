/*
 * Self-service registration (see register.h). With confirmation on, the request carries no
 * password and does the same work for every e-mail — store a pending registration, enqueue
 * the mail job — so neither its answer nor its timing tells whether an account exists. The job
 * decides what to send, and only the mailbox's owner learns it. The password of a new account is
 * chosen by whoever confirms, i.e. holds the mailbox: a registration request can never set the
 * password of someone else's account. A token is made by the job and only its SHA-256 is stored, as
 * for resets.
 */
#include "auth/register.h"
#include "auth/audit.h"
#include "auth/auth.h"
#include "auth/lockout.h"
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
    int64_t interval_ms; /* least time between two mails to one address in a tenant */
    char *url;
} register_settings = {86400, 60000, NULL};

const char auth_register_migration_sql[] =
    /* NULL: follow the server (on when it can send mail); 0 or 1: the tenant's choice */
    "ALTER TABLE tenants ADD COLUMN registration_requires_confirmation INTEGER;"
    "CREATE TABLE registrations ("
    " id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id),"
    " email TEXT NOT NULL, password_hash TEXT, token_hash TEXT UNIQUE,"
    " created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, used_at INTEGER);"
    "CREATE INDEX registrations_email ON registrations (email, tenant_id);"
    "CREATE INDEX registrations_expiry ON registrations (expires_at)";

const char auth_register_mail_at_sql[] =
    /* hashes stored by requests would have become a new account's password: gone (a link
     * already mailed still works: the person confirming now chooses the password) */
    "UPDATE registrations SET password_hash = NULL;"
    "ALTER TABLE registrations ADD COLUMN mail_at INTEGER;"
    /* the job that made the token: its retries mail again, other jobs of the address not */
    "ALTER TABLE registrations ADD COLUMN mailed_by TEXT";

void auth_register_configure(const auth_settings_t *s)
{
    register_settings.ttl_s = s->register_ttl_s;
    register_settings.interval_ms = (int64_t)s->register_mail_interval_s * 1000;
    free(register_settings.url);
    register_settings.url = cn_strdup(s->register_url);
}

void auth_register_free(void)
{
    free(register_settings.url);
    register_settings.url = NULL;
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
    {"password", CN_T_STRING, .min_len = 1, .max_len = 1024,
     .description = "Only where the tenant creates accounts at once (required there); where it "
                    "confirms by e-mail it is refused (422): the password is chosen at "
                    "POST /api/v1/auth/register/confirm"},
    {"cookie", CN_T_BOOLEAN, .description = "also set the session cookies (browsers)"},
    {0},
};
const cn_schema_t auth_register_schema = {"RegisterRequest", register_fields};

/* When the address's next mail may go: now, or interval after the last one planned. A mail
 * planned for later is shared (its job mails the newest registration when it runs). */
static int next_mail_at(cn_req_t *r, const char *tenant, const char *email, int64_t now,
                        int64_t *at)
{
    cn_val_t args[] = {CN_VTEXT(tenant), CN_VTEXT(email)};
    int64_t last = 0; /* no mail yet (NULL) reads as 0: long past */
    int rc = cn_store_one_int(r->store,
                              "SELECT MAX(mail_at) FROM registrations"
                              " WHERE tenant_id = $1 AND email = $2",
                              args, 2, &last, &r->err);
    if (rc != 0)
        return rc;
    *at = now;
    if (last > now) /* a mail is planned: this request shares it */
        *at = last;
    else if (last > 0 &&
             last + register_settings.interval_ms > now) /* one went lately: the next ends it */
        *at = last + register_settings.interval_ms;
    return 0;
}

/* The pending row, its mail job and the audit entry, in one unit of work. Older rows of
 * the address stay usable until the job mails a newer one: a link in the mailbox works
 * until a newer link arrives. */
static int store_pending(cn_req_t *r, const char *tenant, const char *email)
{
    char id[CN_UUID_LEN + 1], key[400];
    cn_uuid7(id);
    int64_t now = cn_now_ms(), mail_at = now;
    cn_val_t old[] = {CN_VINT(now)};
    int rc = cn_store_begin(r->store, &r->err);
    if (rc == 0) /* expired registrations go */
        rc = cn_store_exec(r->store, "DELETE FROM registrations WHERE expires_at < $1", old, 1,
                           NULL, &r->err);
    if (rc == 0)
        rc = next_mail_at(r, tenant, email, now, &mail_at);
    int64_t until = now + register_settings.ttl_s * 1000LL;
    cn_val_t row[] = {CN_VTEXT(id), CN_VTEXT(tenant), CN_VTEXT(email),
                      CN_VINT(now), CN_VINT(until),   CN_VINT(mail_at)};
    if (rc == 0)
        rc = cn_store_exec(r->store,
                           "INSERT INTO registrations (id, tenant_id, email, created_at,"
                           " expires_at, mail_at) VALUES ($1, $2, $3, $4, $5, $6)",
                           row, 6, NULL, &r->err);
    /* one job per planned mail: a request while one is planned adds nothing */
    snprintf(key, sizeof(key), "%s:%s:%lld", tenant, email, (long long)mail_at);
    json_t *payload = json_pack("{s:s}", "registration_id", id);
    cn_job_opts_t opts = {.tenant_id = tenant, .run_at_ms = mail_at, .unique_key = key};
    if (rc == 0)
        rc = cn_jobs_enqueue(r->store, AUTH_REGISTER_JOB, payload, &opts, NULL, &r->err);
    if (rc == 0)
        rc = audit(r, tenant, "anonymous", "auth.register.requested", 202);
    if (rc == 0) /* the same answer for every e-mail */
        rc = cn_reply_json(r, 202, json_pack("{s:s}", "status", "confirmation_sent"));
    json_decref(payload);
    return cn_store_end(r->store, rc, &r->err);
}

/* Without confirmation: the account is made at once, and an e-mail with an account is
 * refused (409) — which tells the caller that the e-mail has one. */
static int register_now(cn_req_t *r, const char *tenant, const char *email, auth_account_fn reply)
{
    if (json_object_get(r->body, "password") == NULL) /* checked before the e-mail is */
        return cn_fail_field(r, "password", "is required: this tenant creates the account at once");
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
    /* refused rather than ignored: a client must not believe a password was kept */
    if (json_object_get(r->body, "password") != NULL)
        return cn_fail_field(r, "password",
                             "must be left out: this tenant confirms registrations by e-mail, "
                             "and the password is chosen when confirming");
    return store_pending(r, tenant, email);
}

/* ---- the mail job ---- */

typedef enum { MAIL_NEW, MAIL_JOIN, MAIL_MEMBER } mail_kind_t;

typedef struct {
    char id[40], tenant[40], email[256], name[256];
    char token[64];
    mail_kind_t kind;
} letter_t;

/* The newest pending registration like the job's row (same tenant and e-mail), unless
 * another job mailed it already: 1 found, 0 nothing to send. */
static int read_pending(cn_store_t *s, const cn_job_t *job, const char *row, letter_t *l,
                        cn_err_t *err)
{
    cn_stmt_t *st;
    cn_val_t args[] = {CN_VTEXT(row), CN_VINT(cn_now_ms()), CN_VTEXT(job->id)};
    int rc =
        cn_store_query(s,
                       "SELECT r.id, r.tenant_id, r.email, t.name,"
                       " r.token_hash IS NOT NULL AND r.mailed_by IS DISTINCT FROM $3,"
                       " (SELECT u.id FROM users u WHERE u.email = r.email) AS user_id,"
                       " EXISTS (SELECT 1 FROM memberships m JOIN users u ON u.id = m.user_id"
                       "  WHERE u.email = r.email AND m.tenant_id = r.tenant_id)"
                       " FROM registrations r JOIN tenants t ON t.id = r.tenant_id"
                       " JOIN registrations j ON j.tenant_id = r.tenant_id AND j.email = r.email"
                       " WHERE j.id = $1 AND r.used_at IS NULL AND r.expires_at > $2"
                       " ORDER BY r.created_at DESC, r.id DESC LIMIT 1",
                       args, 3, &st, err);
    if (rc != 0)
        return rc;
    int mailed = 0;
    if ((rc = cn_stmt_step(st, err)) == CN_ROW) {
        snprintf(l->id, sizeof(l->id), "%s", cn_stmt_text(st, 0, NULL));
        snprintf(l->tenant, sizeof(l->tenant), "%s", cn_stmt_text(st, 1, NULL));
        snprintf(l->email, sizeof(l->email), "%s", cn_stmt_text(st, 2, NULL));
        snprintf(l->name, sizeof(l->name), "%s", cn_stmt_text(st, 3, NULL));
        mailed = cn_stmt_int(st, 4) != 0;
        l->kind = cn_stmt_int(st, 6) ? MAIL_MEMBER : cn_stmt_is_null(st, 5) ? MAIL_NEW : MAIL_JOIN;
    }
    cn_stmt_finish(st);
    return rc < 0 ? rc : rc == CN_ROW && !mailed;
}

/* Gives the registration a token (a notice needs none: the row is spent) and retires the
 * address's older ones. 1 to send, 0 nothing, < 0. The token is committed before the mail
 * goes (the job runs outside a transaction), so a mailed link always names a stored token. */
static int prepare_letter(const cn_job_t *job, const char *row, letter_t *l, cn_err_t *err)
{
    cn_store_t *s = job->store;
    int rc = cn_store_begin(s, err);
    int found = rc == 0 ? read_pending(s, job, row, l, err) : rc;
    rc = found < 0 ? found : 0;
    char hash[65] = "";
    if (found == 1 && l->kind != MAIL_MEMBER)
        auth_mail_token(l->token, hash);
    int64_t now = cn_now_ms();
    cn_val_t args[] = {CN_VTEXT(l->id), hash[0] ? CN_VTEXT(hash) : CN_VNULL, CN_VINT(now),
                       CN_VINT(now + register_settings.ttl_s * 1000LL), CN_VTEXT(job->id)};
    if (found == 1)
        rc = cn_store_exec(
            s,
            "UPDATE registrations SET token_hash = $2, mailed_by = $5,"
            " used_at = CASE WHEN CAST($2 AS TEXT) IS NULL THEN CAST($3 AS BIGINT) END,"
            " expires_at = $4 WHERE id = $1",
            args, 5, NULL, err);
    cn_val_t older[] = {CN_VTEXT(l->id), CN_VTEXT(l->tenant), CN_VTEXT(l->email), CN_VINT(now)};
    if (found == 1 && rc == 0) /* the newest request wins: links mailed before stop working */
        rc = cn_store_exec(s,
                           "UPDATE registrations SET used_at = $4"
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
        cn_buf_lit(text, ".\r\n\r\nThis address already has an account. To join with it, "
                         "confirming with that account's password (it stays as it is),");
    else
        cn_buf_lit(text, ".\r\n\r\nTo create the account and choose its password,");
    cn_buf_appendf(text, " open this link within %d hours:\r\n\r\n  ",
                   (register_settings.ttl_s + 3599) / 3600);
    auth_mail_link(text, register_settings.url, l->token, "/api/v1/auth/register/confirm");
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
    int rc = prepare_letter(job, id, &l, err);
    if (rc <= 0) /* 0: confirmed, expired, or mailed by an earlier job: nothing to send */
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
    {"password", CN_T_STRING, .required = 1, .min_len = 1, .max_len = 1024,
     .description = "A new account: its password, chosen now (the policy applies). An existing "
                    "account joining the tenant: that account's password"},
    {"cookie", CN_T_BOOLEAN, .description = "also set the session cookies (browsers)"},
    {0},
};
const cn_schema_t auth_register_confirm_schema = {"RegisterConfirm", confirm_fields};

/* One confirmation: read before the worker, settled after it. The hash is the account's
 * (a join: verified against the password) or the new one (made from it). */
typedef struct {
    char *password;
    size_t len;
    char id[40], tenant[40], email[256], slug[80], user[40];
    char key[80 + 256]; /* lockout key of a join: tenant slug + "/" + e-mail, as at sign-in */
    char hash[AUTH_HASH_LEN];
    int ok;
    auth_account_fn reply;
} confirm_t;

static void confirm_free(confirm_t *c)
{
    if (c->password) {
        sodium_memzero(c->password, c->len);
        free(c->password);
    }
    sodium_memzero(c, sizeof(*c));
    free(c);
}

static void token_hash_of(cn_req_t *r, char out[65])
{
    json_t *tok = json_object_get(r->body, "token");
    auth_refresh_hash(json_string_value(tok), json_string_length(tok), out);
}

/* Finds the live registration of the token and the address's account, if any: 0, or 422
 * naming the token, or 403 when the tenant closed registration meanwhile. */
static int find_pending(cn_req_t *r, confirm_t *c)
{
    char token_hash[65];
    token_hash_of(r, token_hash);
    cn_val_t args[] = {CN_VTEXT(token_hash), CN_VINT(cn_now_ms())};
    cn_stmt_t *st;
    int rc = cn_store_query(r->store,
                            "SELECT g.id, g.tenant_id, g.email, t.slug, t.allow_registration,"
                            " u.id, u.password_hash FROM registrations g"
                            " JOIN tenants t ON t.id = g.tenant_id"
                            " LEFT JOIN users u ON u.email = g.email WHERE g.token_hash = $1"
                            " AND g.used_at IS NULL AND g.expires_at > $2",
                            args, 2, &st, &r->err);
    if (rc != 0)
        return rc;
    int open = 0;
    if ((rc = cn_stmt_step(st, &r->err)) == CN_ROW) {
        snprintf(c->id, sizeof(c->id), "%s", cn_stmt_text(st, 0, NULL));
        snprintf(c->tenant, sizeof(c->tenant), "%s", cn_stmt_text(st, 1, NULL));
        snprintf(c->email, sizeof(c->email), "%s", cn_stmt_text(st, 2, NULL));
        snprintf(c->slug, sizeof(c->slug), "%s", cn_stmt_text(st, 3, NULL));
        open = cn_stmt_int(st, 4) != 0;
        if (!cn_stmt_is_null(st, 5)) {
            snprintf(c->user, sizeof(c->user), "%s", cn_stmt_text(st, 5, NULL));
            snprintf(c->hash, sizeof(c->hash), "%s", cn_stmt_text(st, 6, NULL));
        }
    }
    cn_stmt_finish(st);
    if (rc < 0)
        return rc;
    if (rc != CN_ROW)
        return cn_fail_field(r, "token", "is invalid, used or expired");
    if (!open)
        return cn_fail(r, CN_EFORBIDDEN, "this tenant does not accept self-service registration");
    return 0;
}

/* Spends the token (inside the unit of work), if it is still the one found: 0, or 422. */
static int spend(cn_req_t *r, const confirm_t *c)
{
    char token_hash[65];
    token_hash_of(r, token_hash);
    int64_t now = cn_now_ms();
    cn_val_t args[] = {CN_VTEXT(token_hash), CN_VINT(now), CN_VTEXT(c->id)};
    int64_t n = 0;
    int rc = cn_store_exec(r->store,
                           "UPDATE registrations SET used_at = $2 WHERE token_hash = $1"
                           " AND id = $3 AND used_at IS NULL AND expires_at > $2",
                           args, 3, &n, &r->err);
    if (rc != 0)
        return rc;
    if (n != 1) /* spent or replaced while the password was checked */
        return cn_fail_field(r, "token", "is invalid, used or expired");
    /* every pending registration of the address in the tenant ends with this one */
    cn_val_t all[] = {CN_VTEXT(c->tenant), CN_VTEXT(c->email), CN_VINT(now)};
    return cn_store_exec(r->store,
                         "UPDATE registrations SET used_at = $3"
                         " WHERE tenant_id = $1 AND email = $2 AND used_at IS NULL",
                         all, 3, NULL, &r->err);
}

/* The address has an account and its owner proved the password: it joins the tenant. No
 * session is opened: the person signs in as usually, with their second factor if any. */
static int join(cn_req_t *r, const confirm_t *c)
{
    char ip[64];
    cn_req_peer(r, ip, sizeof(ip));
    cn_val_t args[] = {CN_VTEXT(c->tenant), CN_VTEXT(c->user), CN_VINT(cn_now_ms())};
    /* failures recorded while this password was checked count: a burst cannot outrun */
    int rc = auth_lockout_check(r, c->key, ip);
    if (rc == 0)
        rc = auth_lockout_succeed(r, c->key, ip);
    if (rc == 0)
        rc = cn_store_exec(r->store,
                           "INSERT INTO memberships (tenant_id, user_id, role, created_at)"
                           " VALUES ($1, $2, 'member', $3) ON CONFLICT DO NOTHING",
                           args, 3, NULL, &r->err);
    if (rc == 0)
        rc = audit(r, c->tenant, c->user, "auth.register.joined", 200);
    if (rc == 0)
        rc = cn_reply_json(r, 200, json_pack("{s:s, s:s}", "status", "joined", "tenant", c->slug));
    return rc;
}

/* A wrong password for a join counts like a failed sign-in (the unit of work ends here,
 * committed); the token stays usable. */
static int join_refused(cn_req_t *r, const confirm_t *c)
{
    char ip[64];
    cn_req_peer(r, ip, sizeof(ip));
    int rc = auth_lockout_fail(r, c->key, ip);
    if (rc == 0)
        rc = auth_security_event(r, c->tenant, "anonymous", "auth.register.join_failed", c->user,
                                 ip, 401);
    if ((rc = cn_store_end(r->store, rc, &r->err)) != 0) /* the count is kept */
        return rc;
    return cn_fail(r, CN_EUNAUTH,
                   "the password is wrong: joining needs the password of the existing account "
                   "with this e-mail");
}

static int create(cn_req_t *r, const confirm_t *c, auth_account_fn reply)
{
    char id[CN_UUID_LEN + 1];
    cn_uuid7(id);
    int64_t now = cn_now_ms();
    cn_val_t args[] = {CN_VTEXT(id), CN_VTEXT(c->email), CN_VTEXT(c->hash), CN_VINT(now)};
    int rc = cn_store_exec(r->store,
                           "INSERT INTO users (id, email, password_hash, created_at, updated_at)"
                           " VALUES ($1, $2, $3, $4, $4)",
                           args, 4, NULL, &r->err);
    if (rc == 0)
        rc = auth_insert_membership(r, c->tenant, id, "member");
    return rc != 0 ? rc : reply(r, c->tenant, id, "member");
}

static void confirm_work(void *arg)
{
    confirm_t *c = arg;
    if (c->user[0] != '\0')
        c->ok = auth_password_verify(c->hash, c->password, c->len);
    else
        c->ok = auth_password_hash(c->password, c->len, c->hash) == 0;
}

/* Settles a confirmation in one unit of work, unless the account's existence changed
 * while the password was checked (then the person registers again). */
static int settle(cn_req_t *r, const confirm_t *c, auth_account_fn reply)
{
    char user[40] = "";
    int rc = cn_store_begin(r->store, &r->err);
    if (rc == 0 && c->user[0] != '\0' && !c->ok)
        return join_refused(r, c);
    if (rc == 0 && !c->ok)
        rc = cn_fail(r, CN_ERR, "cannot hash the password");
    if (rc == 0)
        rc = spend(r, c);
    if (rc == 0)
        rc = auth_find_account(r, c->email, user);
    if (rc == 0 && strcmp(user, c->user) != 0)
        rc = cn_fail(r, CN_ECONFLICT, "this registration can no longer be used: register again");
    if (rc == 0)
        rc = user[0] ? join(r, c) : create(r, c, reply);
    return cn_store_end(r->store, rc, &r->err);
}

static void confirm_done(cn_req_t *r, void *arg)
{
    confirm_t *c = arg;
    if (r != NULL) {
        int rc = settle(r, c, c->reply);
        if (rc != 0)
            cn_req_finish_error(r, rc);
    }
    confirm_free(c);
}

int auth_register_confirm(cn_req_t *r, auth_account_fn reply)
{
    confirm_t *c = cn_calloc(1, sizeof(*c));
    int rc = find_pending(r, c);
    json_t *pw = json_object_get(r->body, "password");
    char ip[64];
    cn_req_peer(r, ip, sizeof(ip));
    if (rc == 0 && c->user[0] != '\0') { /* a join is a sign-in: locked pairs are refused */
        snprintf(c->key, sizeof(c->key), "%s/%s", c->slug, c->email);
        rc = auth_lockout_check(r, c->key, ip);
    } else if (rc == 0) { /* a new account: the person confirming chooses its password */
        const char *weak =
            auth_password_policy(json_string_value(pw), json_string_length(pw), c->email);
        if (weak != NULL)
            rc = cn_fail_field(r, "password", weak);
    }
    if (rc != 0) {
        confirm_free(c);
        return rc;
    }
    c->len = json_string_length(pw);
    c->password = cn_strndup(json_string_value(pw), c->len);
    c->reply = reply;
    return cn_req_offload(r, confirm_work, confirm_done, c);
}
