/*
 * Live sessions (see sessions.h): one open-addressing table keyed by session id, under a
 * read-write lock. A lookup is a hash, a probe or two and a copy, no more than the
 * revoked-session set it replaces cost, so authenticated requests stay as cheap as
 * before. Entries leave when the table is rebuilt: live ones at the session's end,
 * revoked ones once every access token of theirs has expired. It never decides alone
 * that a session does not exist: a miss asks the database.
 */
#include "auth/sessions.h"
#include "auth/tokens.h"
#include "core/bus.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TABLE_MIN 1024 /* slots; a power of two, doubled while over half full */

typedef struct {
    auth_session_t s;
    int64_t until_s; /* 0 = empty slot; live: the session's end; revoked: tombstone end */
    int revoked;
} slot_t;

/* Owned here; every loop thread reads it, sign-in, refresh and revocation write it. */
static struct {
    pthread_rwlock_t lock;
    slot_t *slots;
    size_t cap, count;
} live_sessions = {PTHREAD_RWLOCK_INITIALIZER};

static int64_t now_s(void)
{
    return cn_now_ms() / 1000;
}

/* Rebuilds the table with cap slots, dropping entries past their end. Write lock held. */
static void rebuild(size_t cap, int64_t now)
{
    slot_t *old = live_sessions.slots;
    size_t old_cap = old != NULL ? live_sessions.cap : 0;
    live_sessions.slots = cn_calloc(cap, sizeof(slot_t));
    live_sessions.cap = cap;
    live_sessions.count = 0;
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i].until_s <= now)
            continue;
        size_t j = cn_hash_str(old[i].s.sid) & (cap - 1);
        while (live_sessions.slots[j].until_s)
            j = (j + 1) & (cap - 1);
        live_sessions.slots[j] = old[i];
        live_sessions.count++;
    }
    free(old);
}

/* The slot for sid (found, or the empty one where it goes), making room. Write lock held. */
static slot_t *slot_for_write(const char *sid)
{
    int64_t now = now_s();
    if (live_sessions.slots == NULL)
        rebuild(TABLE_MIN, now);
    if ((live_sessions.count + 1) * 2 >
        live_sessions.cap) { /* prune first; grow only if that is not enough */
        rebuild(live_sessions.cap, now);
        if ((live_sessions.count + 1) * 2 > live_sessions.cap)
            rebuild(live_sessions.cap * 2, now);
    }
    size_t j = cn_hash_str(sid) & (live_sessions.cap - 1);
    while (live_sessions.slots[j].until_s && strcmp(live_sessions.slots[j].s.sid, sid) != 0)
        j = (j + 1) & (live_sessions.cap - 1); /* ends: the table is at most half full */
    if (!live_sessions.slots[j].until_s)
        live_sessions.count++;
    return &live_sessions.slots[j];
}

/* Copies sid's entry into out: 1 when present. */
static int lookup(const char *sid, slot_t *out)
{
    int found = 0;
    pthread_rwlock_rdlock(&live_sessions.lock);
    if (live_sessions.count > 0) {
        size_t j = cn_hash_str(sid) & (live_sessions.cap - 1);
        for (size_t probes = 0;
             live_sessions.slots[j].until_s && !found && probes < live_sessions.cap; probes++) {
            if (strcmp(live_sessions.slots[j].s.sid, sid) == 0) {
                *out = live_sessions.slots[j];
                found = 1;
            }
            j = (j + 1) & (live_sessions.cap - 1);
        }
    }
    pthread_rwlock_unlock(&live_sessions.lock);
    return found;
}

void auth_session_put(const auth_session_t *s)
{
    if (s->sid[0] == '\0' || s->expires_s <= now_s())
        return;
    pthread_rwlock_wrlock(&live_sessions.lock);
    slot_t *slot = slot_for_write(s->sid);
    if (!slot->revoked) { /* a revocation that raced a refresh wins */
        slot->s = *s;
        slot->until_s = s->expires_s;
    }
    pthread_rwlock_unlock(&live_sessions.lock);
}

static void revoke_here(const char *sid)
{
    int64_t until = now_s() + AUTH_ACCESS_TTL_S + 60;
    pthread_rwlock_wrlock(&live_sessions.lock);
    slot_t *slot = slot_for_write(sid);
    if (slot->until_s == 0)
        snprintf(slot->s.sid, sizeof(slot->s.sid), "%s", sid);
    slot->revoked = 1;
    slot->until_s = until;
    pthread_rwlock_unlock(&live_sessions.lock);
}

/* Here and on every other node at once (their realtime connections of the session close at
 * their next tick); a node that missed the message reads ended sessions from the database
 * when it next verifies a token (tokens.c, at most once a second). */
void auth_revoke_session(const char *sid)
{
    revoke_here(sid);
    size_t n = strlen(sid);
    if (n > 0 && n < sizeof(((auth_session_t *)0)->sid))
        cn_bus_send("revoke", sid, n);
}

static void on_bus_revoke(const char *subject, const char *data, size_t len, void *ud)
{
    (void)subject;
    (void)ud;
    char sid[sizeof(((auth_session_t *)0)->sid)];
    if (len == 0 || len >= sizeof(sid))
        return;
    memcpy(sid, data, len);
    sid[len] = '\0';
    revoke_here(sid);
}

int auth_sessions_attach_bus(cn_err_t *err)
{
    cn_bus_t *bus = cn_bus_process();
    return bus == NULL ? 0 : cn_bus_subscribe(bus, "revoke", on_bus_revoke, NULL, err);
}

int auth_session_revoked(const char *sid)
{
    slot_t got;
    return lookup(sid, &got) && got.revoked;
}

int auth_session_gone(const char *sid, const char *tid)
{
    slot_t got;
    return lookup(sid, &got) &&
           (got.revoked || (tid != NULL && got.s.tid[0] && strcmp(got.s.tid, tid) != 0));
}

/* One indexed read: the session row (primary key) and its membership (primary key). */
static int read_session(cn_store_t *s, const char *sid, slot_t *out)
{
    cn_stmt_t *st;
    cn_err_t err;
    cn_val_t args[] = {CN_VTEXT(sid)};
    int rc = cn_store_query(s,
                            "SELECT s.tenant_id, s.user_id, m.role, s.mfa, s.expires_at,"
                            " s.revoked_at FROM sessions s JOIN memberships m"
                            " ON m.tenant_id = s.tenant_id AND m.user_id = s.user_id"
                            " WHERE s.id = $1",
                            args, 1, &st, &err);
    if (rc != 0)
        return rc;
    memset(out, 0, sizeof(*out));
    if ((rc = cn_stmt_step(st, &err)) == CN_ROW) {
        auth_session_t *x = &out->s;
        snprintf(x->sid, sizeof(x->sid), "%s", sid);
        snprintf(x->tid, sizeof(x->tid), "%s", cn_stmt_text(st, 0, NULL));
        snprintf(x->sub, sizeof(x->sub), "%s", cn_stmt_text(st, 1, NULL));
        snprintf(x->role, sizeof(x->role), "%s", cn_stmt_text(st, 2, NULL));
        x->mfa = (int)cn_stmt_int(st, 3);
        x->expires_s = cn_stmt_int(st, 4) / 1000;
        out->revoked = !cn_stmt_is_null(st, 5);
        out->until_s = x->expires_s;
    }
    cn_stmt_finish(st);
    return rc < 0 ? rc : rc == CN_ROW ? 0 : CN_ENOTFOUND;
}

const char auth_why_signed_out[] = "the session has been signed out";
const char auth_why_session_expired[] = "the session has expired";
const char auth_why_session_unchecked[] = "the session cannot be checked now";

/*
 * A sid this process has not seen: another node (cluster mode, one shared database) may
 * have opened it, or this process may have started after it did. One read decides; the
 * answer is kept either way, so the next request of that session is a memory lookup.
 * A sid with no row is not remembered: only a holder of a signing key can name one, and
 * a table of made-up ids would be memory anyone with such a key could fill.
 */
static int miss(cn_store_t *s, const char *sid, slot_t *got, const char **why)
{
    int rc = s != NULL ? read_session(s, sid, got) : CN_ENOTFOUND;
    if (rc == CN_ENOTFOUND)
        return *why = "the token's session does not exist", -1;
    if (rc != 0)
        return *why = auth_why_session_unchecked, -1;
    if (got->revoked)
        auth_revoke_session(sid);
    else
        auth_session_put(&got->s);
    return 0;
}

int auth_session_check(cn_store_t *s, auth_claims_t *c, int64_t now, const char **why)
{
    slot_t got;
    if (!lookup(c->sid, &got) && miss(s, c->sid, &got, why) != 0)
        return -1;
    if (got.revoked)
        return *why = auth_why_signed_out, -1;
    if (got.until_s <= now)
        return *why = auth_why_session_expired, -1;
    if (strcmp(got.s.tid, c->tid) != 0 || strcmp(got.s.sub, c->sub) != 0)
        return *why = "the token does not match its session", -1;
    memcpy(c->role, got.s.role, sizeof(c->role)); /* the session's role, not the token's */
    c->mfa = got.s.mfa;
    return 0;
}

int auth_revoke_sessions(cn_store_t *s, const char *sql, const cn_val_t *args, size_t n,
                         int64_t *count, cn_err_t *err)
{
    cn_stmt_t *st;
    int rc = cn_store_query(s, sql, args, n, &st, err);
    if (rc != 0)
        return rc;
    int64_t revoked = 0;
    while ((rc = cn_stmt_step(st, err)) == CN_ROW) {
        auth_revoke_session(cn_stmt_text(st, 0, NULL));
        revoked++;
    }
    cn_stmt_finish(st);
    if (count != NULL)
        *count = revoked;
    return rc == CN_DONE ? 0 : rc;
}

int auth_revocations_since(cn_store_t *s, int64_t since_ms, cn_err_t *err)
{
    cn_val_t args[] = {CN_VINT(since_ms)};
    return auth_revoke_sessions(s, "SELECT id FROM sessions WHERE revoked_at > $1", args, 1, NULL,
                                err);
}

int auth_revocations_load(cn_store_t *s, cn_err_t *err)
{
    return auth_revocations_since(s, cn_now_ms() - (AUTH_ACCESS_TTL_S + 60) * 1000LL, err);
}

int auth_sessions_load(cn_store_t *s, cn_err_t *err)
{
    cn_stmt_t *st;
    cn_val_t args[] = {CN_VINT(cn_now_ms())};
    int rc = cn_store_query(s,
                            "SELECT s.id, s.tenant_id, s.user_id, m.role, s.mfa, s.expires_at"
                            " FROM sessions s JOIN memberships m"
                            " ON m.tenant_id = s.tenant_id AND m.user_id = s.user_id"
                            " WHERE s.revoked_at IS NULL AND s.expires_at > $1",
                            args, 1, &st, err);
    if (rc != 0)
        return rc;
    while ((rc = cn_stmt_step(st, err)) == CN_ROW) {
        auth_session_t x = {0};
        snprintf(x.sid, sizeof(x.sid), "%s", cn_stmt_text(st, 0, NULL));
        snprintf(x.tid, sizeof(x.tid), "%s", cn_stmt_text(st, 1, NULL));
        snprintf(x.sub, sizeof(x.sub), "%s", cn_stmt_text(st, 2, NULL));
        snprintf(x.role, sizeof(x.role), "%s", cn_stmt_text(st, 3, NULL));
        x.mfa = (int)cn_stmt_int(st, 4);
        x.expires_s = cn_stmt_int(st, 5) / 1000;
        auth_session_put(&x);
    }
    cn_stmt_finish(st);
    return rc < 0 ? rc : auth_revocations_load(s, err);
}

void auth_sessions_free(void)
{
    pthread_rwlock_wrlock(&live_sessions.lock);
    free(live_sessions.slots);
    live_sessions.slots = NULL;
    live_sessions.cap = live_sessions.count = 0;
    pthread_rwlock_unlock(&live_sessions.lock);
}
