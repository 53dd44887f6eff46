/*
 * Sign-in lockout (see lockout.h). The pair (account, client) locks, not the account:
 * whoever guesses from one address cannot lock the real user out from another. Guessing
 * from many addresses is bounded by the account-wide ceiling, which only slows sign-ins
 * down (one check per step) instead of locking; a client that signed in to the account
 * recently is not slowed by it, so a distributed attack cannot keep the user out either.
 * Every read and write runs inside the sign-in's unit of work; nothing here may answer a
 * success or reveal whether an account exists (unknown e-mails count the same way).
 *
 * Counting a failure reads the rows, computes, and writes absolute values back. With
 * several nodes on one PostgreSQL (READ COMMITTED) two failures at once would both read
 * n and write n + 1, so the count locks the rows before reading them: the pair's row
 * first, then the account's (one order everywhere, so two sign-ins never wait on each
 * other crosswise). SQLite's process write lock already serialises them.
 */
#include "auth/lockout.h"
#include "auth/auth.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

/* rows untouched this long are forgotten (with them the doubling of their locks) */
#define FORGET_MS (24 * 3600 * 1000LL)
/* a client stays known to an account this long after its last successful sign-in */
#define KNOWN_MS (30 * 24 * 3600 * 1000LL)

static struct {
    int attempts, account_attempts;
    int64_t window_ms, max_ms;
} lockout_limits = {5, 100, 900000, 3600000};

const char auth_lockout_migration_sql[] =
    /* the old rows were keyed by account alone; their counts and locks are dropped */
    "DROP TABLE login_failures;"
    "CREATE TABLE login_failures ("
    " account TEXT NOT NULL, ip TEXT NOT NULL, failures INTEGER NOT NULL,"
    " window_start INTEGER NOT NULL, lockouts INTEGER NOT NULL, locked_until INTEGER NOT NULL,"
    " PRIMARY KEY (account, ip)) WITHOUT ROWID";

const char auth_lockout_known_sql[] =
    "ALTER TABLE login_failures ADD COLUMN known_until INTEGER NOT NULL DEFAULT 0";

void auth_lockout_configure(const auth_settings_t *s)
{
    lockout_limits.attempts = s->lockout_attempts;
    lockout_limits.account_attempts = s->lockout_account_attempts;
    lockout_limits.window_ms = (int64_t)s->lockout_window_s * 1000;
    lockout_limits.max_ms = (int64_t)s->lockout_max_s * 1000;
}

typedef struct {
    int64_t failures, window_start, lockouts, locked_until, known_until;
} row_t;

void auth_lockout_client(const char *ip, char out[AUTH_CLIENT_LEN])
{
    struct in6_addr a;
    if (strchr(ip, ':') == NULL || inet_pton(AF_INET6, ip, &a) != 1 ||
        IN6_IS_ADDR_V4MAPPED(&a)) { /* IPv4 (or unparsable: kept whole) */
        snprintf(out, AUTH_CLIENT_LEN, "%s", ip);
        return;
    }
    /* one IPv6 host holds a whole /64 and picks addresses in it at will */
    memset(a.s6_addr + 8, 0, 8);
    char net[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, &a, net, sizeof(net));
    snprintf(out, AUTH_CLIENT_LEN, "%s/64", net);
}

/* A no-op upsert: it locks the row for the rest of the transaction (making it, all zero,
 * when missing), which both engines can do while SQLite has no SELECT ... FOR UPDATE. */
const char auth_lockout_lock_sql[] =
    "INSERT INTO login_failures (account, ip, failures, window_start, lockouts, locked_until,"
    " known_until) VALUES ($1, $2, 0, 0, 0, 0, 0) ON CONFLICT (account, ip) DO UPDATE"
    " SET failures = login_failures.failures"
    " RETURNING failures, window_start, lockouts, locked_until, known_until";

static const char read_sql[] = "SELECT failures, window_start, lockouts, locked_until, known_until"
                               " FROM login_failures WHERE account = $1 AND ip = $2";

/* Stale rows of other clients of the account (or of any account, for the sweep). On
 * PostgreSQL a row some sign-in has locked right now is skipped, not waited for: it is in
 * use, so not stale, and waiting on it while holding this account's rows could deadlock
 * with that sign-in's own clean-up. */
const cn_sql_pair_t auth_lockout_forget_sql = {
    .sqlite = "DELETE FROM login_failures WHERE account = $1 AND ip <> ''"
              " AND window_start < $2 AND locked_until < $2 AND known_until < $3",
    .postgres = "DELETE FROM login_failures WHERE (account, ip) IN (SELECT account, ip"
                " FROM login_failures WHERE account = $1 AND ip <> '' AND window_start < $2"
                " AND locked_until < $2 AND known_until < $3 FOR UPDATE SKIP LOCKED)"};
const cn_sql_pair_t auth_lockout_sweep_sql = {
    .sqlite = "DELETE FROM login_failures WHERE window_start < $1"
              " AND locked_until < $1 AND known_until < $2",
    .postgres = "DELETE FROM login_failures WHERE (account, ip) IN (SELECT account, ip"
                " FROM login_failures WHERE window_start < $1 AND locked_until < $1"
                " AND known_until < $2 FOR UPDATE SKIP LOCKED)"};

/* The row of (account, client): read, or locked and read when sql is the lock. */
static int read_row(cn_req_t *r, const char *sql, const char *account, const char *client, row_t *f)
{
    memset(f, 0, sizeof(*f));
    cn_stmt_t *st;
    cn_val_t args[] = {CN_VTEXT(account), CN_VTEXT(client)};
    int rc = cn_store_query(r->store, sql, args, 2, &st, &r->err);
    if (rc != 0)
        return rc;
    if ((rc = cn_stmt_step(st, &r->err)) == CN_ROW)
        *f = (row_t){cn_stmt_int(st, 0), cn_stmt_int(st, 1), cn_stmt_int(st, 2), cn_stmt_int(st, 3),
                     cn_stmt_int(st, 4)};
    cn_stmt_finish(st);
    return rc < 0 ? rc : 0;
}

static int write_row(cn_req_t *r, const char *account, const char *client, const row_t *f)
{
    cn_val_t args[] = {CN_VTEXT(account),        CN_VTEXT(client),     CN_VINT(f->failures),
                       CN_VINT(f->window_start), CN_VINT(f->lockouts), CN_VINT(f->locked_until),
                       CN_VINT(f->known_until)};
    return cn_store_exec(
        r->store,
        "INSERT INTO login_failures (account, ip, failures, window_start, lockouts,"
        " locked_until, known_until) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        " ON CONFLICT (account, ip) DO UPDATE SET failures = $3,"
        " window_start = $4, lockouts = $5, locked_until = $6, known_until = $7",
        args, 7, NULL, &r->err);
}

/* The pair's row (client from ip), then the account-wide one, each through sql. */
static int read_rows(cn_req_t *r, const char *sql, const char *account, const char *ip,
                     char *client, row_t *pair, row_t *whole)
{
    auth_lockout_client(ip, client);
    int rc = read_row(r, sql, account, client, pair);
    return rc != 0 ? rc : read_row(r, sql, account, "", whole);
}

int auth_lockout_check(cn_req_t *r, const char *account, const char *ip)
{
    row_t pair, whole;
    char client[AUTH_CLIENT_LEN];
    int rc = read_rows(r, read_sql, account, ip, client, &pair, &whole);
    if (rc != 0)
        return rc;
    int64_t now = cn_now_ms();
    if (pair.known_until > now) /* signed in from here lately: only its own lock applies */
        whole.locked_until = 0;
    int64_t left_ms =
        pair.locked_until > whole.locked_until ? pair.locked_until - now : whole.locked_until - now;
    if (left_ms <= 0)
        return 0;
    char secs[24];
    int n = snprintf(secs, sizeof(secs), "%lld", (long long)((left_ms + 999) / 1000));
    cn_reply_header(r, "retry-after", secs, (size_t)n);
    return cn_fail(r, CN_ERATELIMIT, "too many failed sign-ins; try again in %s seconds", secs);
}

/* One more failure of the pair: at the threshold it locks, window << lockouts, capped. */
static void count_pair(row_t *f, int64_t now)
{
    if (now - f->window_start > lockout_limits.window_ms)
        f->failures = 0, f->window_start = now;
    if (++f->failures < lockout_limits.attempts)
        return;
    int shift = f->lockouts < 20 ? (int)f->lockouts : 20;
    int64_t lock = lockout_limits.window_ms << shift;
    f->locked_until = now + (lock < lockout_limits.max_ms ? lock : lockout_limits.max_ms);
    f->lockouts++;
    f->failures = 0;
    f->window_start = now;
}

/* One more failure of the account from anywhere: past the ceiling, each one pushes the
 * next allowed check a step (window / ceiling) ahead; the count restarts with the window. */
static void count_account(row_t *f, int64_t now)
{
    if (now - f->window_start > lockout_limits.window_ms)
        f->failures = 0, f->window_start = now;
    if (++f->failures >= lockout_limits.account_attempts)
        f->locked_until = now + lockout_limits.window_ms / lockout_limits.account_attempts;
}

int auth_lockout_fail(cn_req_t *r, const char *account, const char *ip)
{
    row_t pair, whole;
    char client[AUTH_CLIENT_LEN];
    int64_t now = cn_now_ms();
    int rc = read_rows(r, auth_lockout_lock_sql, account, ip, client, &pair, &whole);
    if (rc != 0)
        return rc;
    count_pair(&pair, now);
    count_account(&whole, now);
    cn_val_t old[] = {CN_VTEXT(account), CN_VINT(now - FORGET_MS), CN_VINT(now)};
    if ((rc = write_row(r, account, client, &pair)) == 0 &&
        (rc = write_row(r, account, "", &whole)) == 0) /* one account's rows stay few */
        rc = cn_store_exec(r->store, cn_store_sql(r->store, &auth_lockout_forget_sql), old, 3, NULL,
                           &r->err);
    return rc;
}

int auth_lockout_succeed(cn_req_t *r, const char *account, const char *ip)
{
    char client[AUTH_CLIENT_LEN];
    auth_lockout_client(ip, client);
    int64_t now = cn_now_ms();
    /* the pair starts afresh (its lock doubling too) and is known to the account */
    row_t known = {0, now, 0, 0, now + KNOWN_MS};
    return write_row(r, account, client, &known);
}

int auth_lockout_sweep_job(cn_job_t *job, cn_err_t *err)
{
    int64_t now = cn_now_ms();
    /* whatever the account: e-mails that never sign in again leave rows nobody else ends */
    cn_val_t args[] = {CN_VINT(now - FORGET_MS), CN_VINT(now)};
    return cn_store_exec(job->store, cn_store_sql(job->store, &auth_lockout_sweep_sql), args, 2,
                         NULL, err);
}

int auth_lockout_clear_user(cn_store_t *s, const char *user, cn_err_t *err)
{
    /* exact keys: an e-mail may hold LIKE wildcards ('%', '_') */
    cn_val_t args[] = {CN_VTEXT(user)};
    return cn_store_exec(s,
                         "DELETE FROM login_failures WHERE account IN (SELECT t.slug || '/' ||"
                         " u.email FROM users u JOIN memberships m ON m.user_id = u.id"
                         " JOIN tenants t ON t.id = m.tenant_id WHERE u.id = $1)",
                         args, 1, NULL, err);
}

int auth_lockout_clear(cn_store_t *s, const char *slug, const char *email, int64_t *n,
                       cn_err_t *err)
{
    char norm[256], account[330];
    auth_email_normalize(email, norm, sizeof(norm));
    snprintf(account, sizeof(account), "%s/%s", slug, norm);
    char tenant[40];
    cn_val_t by_slug[] = {CN_VTEXT(slug)};
    int rc = cn_store_one_text(s, "SELECT id FROM tenants WHERE slug = $1", by_slug, 1, tenant,
                               sizeof(tenant), err);
    if (rc == CN_ENOTFOUND)
        return cn_err_set(err, CN_ENOTFOUND, "no tenant with slug %s", slug);
    cn_val_t args[] = {CN_VTEXT(account)};
    return rc != 0
               ? rc
               : cn_store_exec(s, "DELETE FROM login_failures WHERE account = $1", args, 1, n, err);
}

int auth_post_unlock(cn_req_t *r)
{
    cn_stmt_t *st;
    cn_val_t args[] = {CN_VTEXT(r->principal.tenant_id), CN_VTEXT(cn_req_param(r, "id"))};
    int rc = cn_store_query(r->store,
                            "SELECT t.slug, u.email FROM memberships m JOIN users u"
                            " ON u.id = m.user_id JOIN tenants t ON t.id = m.tenant_id"
                            " WHERE m.tenant_id = $1 AND m.user_id = $2",
                            args, 2, &st, &r->err);
    if (rc != 0)
        return rc;
    char slug[80] = "", email[256] = "";
    if ((rc = cn_stmt_step(st, &r->err)) == CN_ROW) {
        snprintf(slug, sizeof(slug), "%s", cn_stmt_text(st, 0, NULL));
        snprintf(email, sizeof(email), "%s", cn_stmt_text(st, 1, NULL));
    }
    cn_stmt_finish(st);
    if (rc < 0)
        return rc;
    if (rc != CN_ROW) /* members of other tenants are not found either */
        return cn_fail(r, CN_ENOTFOUND, "no member with this id");
    int64_t cleared = 0;
    if ((rc = auth_lockout_clear(r->store, slug, email, &cleared, &r->err)) != 0)
        return rc;
    return cn_reply_json(r, 200,
                         json_pack("{s:s, s:I}", "id", cn_req_param(r, "id"), "cleared_records",
                                   (json_int_t)cleared));
}
