/*
 * Audit log (see audit.h). Entries are appended in the writing transaction, so an entry
 * exists exactly when its change committed. "Read the last hash, write the next" is safe
 * because appends are serialised: on SQLite by the process write lock, on PostgreSQL
 * (several nodes, READ COMMITTED) by a transaction-level advisory lock every append takes
 * before it reads the tail, held until its transaction ends. The hash (BLAKE2b-256,
 * libsodium's generichash: a third of SHA-256's cost here) covers every field, each
 * length-prefixed so no two different entries can encode alike.
 */
#include "auth/audit.h"
#include "core/log.h"
#include "core/workers.h"
#include "lib/formats.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Personal fields (actor, object, ip) enter the chain through a salted commitment, so
 * erasing them for a deleted account (GDPR) leaves the chain verifiable. */
const char auth_audit_sql[] =
    "CREATE TABLE audit_log ("
    " seq INTEGER PRIMARY KEY, tenant_id TEXT, actor TEXT NOT NULL, action TEXT NOT NULL,"
    " object TEXT, ip TEXT NOT NULL, request_id TEXT NOT NULL, status INTEGER NOT NULL,"
    " at INTEGER NOT NULL, salt TEXT NOT NULL, personal TEXT NOT NULL,"
    " prev_hash TEXT NOT NULL, hash TEXT NOT NULL);"
    "CREATE INDEX audit_log_tenant ON audit_log (tenant_id, seq)";

const char auth_audit_tail_sql[] = "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1";

static const char genesis[] = "0000000000000000000000000000000000000000000000000000000000000000";

/* Each field enters the hash as its 4-byte big-endian length, then its bytes: no two
 * different field lists encode alike. (snprintf here cost a tenth of an insert.) */
static void feed_bytes(crypto_generichash_state *h, const void *v, size_t n)
{
    uint8_t len[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
    crypto_generichash_update(h, len, sizeof(len));
    crypto_generichash_update(h, v, n);
}

static void feed(crypto_generichash_state *h, const char *v)
{
    v = v ? v : "";
    feed_bytes(h, v, strlen(v));
}

static void feed_int(crypto_generichash_state *h, int64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)((uint64_t)v >> (56 - 8 * i));
    feed_bytes(h, b, sizeof(b));
}

static void finish_hex(crypto_generichash_state *h, char out[65])
{
    uint8_t digest[32];
    crypto_generichash_final(h, digest, sizeof(digest));
    sodium_bin2hex(out, 65, digest, sizeof(digest));
}

/* The commitment to an entry's personal fields: BLAKE2b-256(salt, actor, object, ip). */
static void personal_commit(const char *salt, const auth_audit_t *e, char out[65])
{
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, 32);
    const char *fields[] = {salt, e->actor, e->object, e->ip};
    for (size_t i = 0; i < 4; i++)
        feed(&h, fields[i]);
    finish_hex(&h, out);
}

static void entry_hash(const char *prev, int64_t seq, const auth_audit_t *e, const char *personal,
                       int64_t at, char out[65])
{
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, 32);
    feed(&h, prev);
    feed_int(&h, seq);
    feed(&h, e->tenant_id);
    feed(&h, personal);
    feed(&h, e->action);
    feed(&h, e->request_id);
    feed_int(&h, e->status);
    feed_int(&h, at);
    finish_hex(&h, out);
}

const cn_sql_pair_t auth_audit_chain_lock = {
    .sqlite = NULL, /* the process write lock, held by every writing transaction */
    .postgres = "SELECT pg_advisory_xact_lock(hashtextextended('cairn.audit_log', 0))"};

/* The chain's tail as last written by this thread inside one batch transaction. It stays
 * the chain's tail only while this transaction holds the chain (the write lock, or the
 * advisory lock that every append takes in its transaction): within the same batch, and
 * no unit of work rolled back since (that changes the batch id; the rolled-back unit may
 * have written the entry, and on PostgreSQL may have taken the lock, which its rollback
 * releases). Otherwise the tail is read again, after taking the lock. */
static _Thread_local struct {
    const cn_store_t *store;
    uint64_t batch;
    int64_t seq;
    char hash[65];
} tail;

static int read_tail(cn_store_t *s, int64_t *seq, char prev[65], cn_err_t *err)
{
    uint64_t batch = cn_store_batch_id(s);
    if (batch != 0 && tail.store == s && tail.batch == batch) {
        *seq = tail.seq;
        memcpy(prev, tail.hash, 65);
        return 0;
    }
    const char *lock = cn_store_sql(s, &auth_audit_chain_lock);
    int rc = lock != NULL ? cn_store_exec(s, lock, NULL, 0, NULL, err) : 0;
    if (rc != 0)
        return rc;
    cn_stmt_t *st;
    rc = cn_store_query(s, auth_audit_tail_sql, NULL, 0, &st, err);
    if (rc != 0)
        return rc;
    *seq = 0;
    memcpy(prev, genesis, 65);
    if ((rc = cn_stmt_step(st, err)) == CN_ROW) {
        *seq = cn_stmt_int(st, 0);
        snprintf(prev, 65, "%s", cn_stmt_text(st, 1, NULL));
    }
    cn_stmt_finish(st);
    return rc < 0 ? rc : 0;
}

/* An entry copied out of its request, waiting for the batch's commit. The sizes hold the
 * largest values the callers produce (object: "tenant-slug/e-mail" of a sign-in). */
typedef struct {
    char tenant[40], actor[100], action[200], object[400], ip[64], request_id[80];
    int has_tenant, has_object, status;
    int depth; /* units of work it was staged in that have not been released yet */
    int64_t at;
    char salt[33], personal[65], hash[65];
} row_t;

static int copy_field(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src ? src : "");
    if (n >= cap)
        return -1;
    memcpy(dst, src ? src : "", n + 1);
    return 0;
}

static int fill_row(row_t *w, const auth_audit_t *e, cn_err_t *err)
{
    w->has_tenant = e->tenant_id != NULL;
    w->has_object = e->object != NULL;
    w->status = e->status;
    w->at = cn_now_ms();
    if (copy_field(w->tenant, sizeof(w->tenant), e->tenant_id) ||
        copy_field(w->actor, sizeof(w->actor), e->actor) ||
        copy_field(w->action, sizeof(w->action), e->action) ||
        copy_field(w->object, sizeof(w->object), e->object) ||
        copy_field(w->ip, sizeof(w->ip), e->ip) ||
        copy_field(w->request_id, sizeof(w->request_id), e->request_id))
        return cn_err_set(err, CN_ERR, "audit entry %s has a field too long to record", e->action);
    return 0;
}

/* Gives the row its salt, personal commitment and chained hash. */
static void seal_row(row_t *w, int64_t seq, const char *prev)
{
    uint8_t raw_salt[16];
    cn_random(raw_salt, sizeof(raw_salt));
    sodium_bin2hex(w->salt, sizeof(w->salt), raw_salt, sizeof(raw_salt));
    auth_audit_t e = {w->has_tenant ? w->tenant : NULL,
                      w->actor,
                      w->action,
                      w->has_object ? w->object : NULL,
                      w->ip,
                      w->request_id,
                      w->status};
    personal_commit(w->salt, &e, w->personal);
    entry_hash(prev, seq, &e, w->personal, w->at, w->hash);
}

#define COLS 12
#define ROWS_PER_INSERT CN_ROWS_MAX

static cn_rows_sql_t insert_rows = {"INSERT INTO audit_log (seq, tenant_id, actor, action, object,"
                                    " ip, request_id, status, at, salt, personal, hash)",
                                    COLS};

/* Chains and inserts rows [0, n) after the current tail, CN_ROWS_MAX rows per statement. */
static int write_rows(cn_store_t *s, row_t *rows, size_t n, cn_err_t *err)
{
    int64_t seq;
    char prev[65];
    int rc = read_tail(s, &seq, prev, err);
    for (size_t i = 0; rc == 0 && i < n; i += ROWS_PER_INSERT) {
        size_t k = n - i < ROWS_PER_INSERT ? n - i : ROWS_PER_INSERT;
        cn_val_t args[ROWS_PER_INSERT * COLS], *a = args;
        for (size_t j = 0; j < k; j++) {
            row_t *w = &rows[i + j];
            seal_row(w, ++seq, prev);
            memcpy(prev, w->hash, sizeof(prev));
            *a++ = CN_VINT(seq);
            *a++ = w->has_tenant ? CN_VTEXT(w->tenant) : CN_VNULL;
            *a++ = CN_VTEXT(w->actor);
            *a++ = CN_VTEXT(w->action);
            *a++ = w->has_object ? CN_VTEXT(w->object) : CN_VNULL;
            *a++ = CN_VTEXT(w->ip);
            *a++ = CN_VTEXT(w->request_id);
            *a++ = CN_VINT(w->status);
            *a++ = CN_VINT(w->at);
            *a++ = CN_VTEXT(w->salt);
            *a++ = CN_VTEXT(w->personal);
            *a++ = CN_VTEXT(w->hash);
        }
        rc = cn_store_exec(s, cn_rows_sql(&insert_rows, k), args, k * COLS, NULL, err);
    }
    if (rc == 0) {
        tail.store = s;
        tail.batch = cn_store_batch_id(s); /* the INSERT joined (or opened) the batch */
        tail.seq = seq;
        memcpy(tail.hash, prev, sizeof(tail.hash));
    } else {
        tail.store = NULL;
    }
    return rc;
}

int auth_audit_append(cn_store_t *s, const auth_audit_t *e, cn_err_t *err)
{
    row_t w;
    int rc = fill_row(&w, e, err);
    return rc != 0 ? rc : write_rows(s, &w, 1, err);
}

/* Entries of the after-write hook wait for their batch's commit and are written together
 * (see precommit below): a statement per 32 entries instead of one each. */
static _Thread_local struct {
    const cn_store_t *store;
    row_t *rows;
    size_t n, cap;
} staged;

int auth_audit_stage(cn_store_t *s, const auth_audit_t *e, cn_err_t *err)
{
    if (!cn_store_batch_open(s))
        return auth_audit_append(s, e, err);
    if (staged.n == staged.cap) {
        staged.cap = staged.cap ? staged.cap * 2 : 64;
        staged.rows = cn_realloc(staged.rows, staged.cap * sizeof(row_t));
    }
    int rc = fill_row(&staged.rows[staged.n], e, err);
    if (rc == 0) {
        staged.rows[staged.n].depth = cn_store_unit_depth(s);
        staged.store = s;
        staged.n++;
    }
    return rc;
}

static int precommit(cn_store_t *s, cn_err_t *err)
{
    if (staged.n == 0 || staged.store != s)
        return 0;
    int rc = write_rows(s, staged.rows, staged.n, err);
    /* released with every batch: one allocation per batch is cheap, and a buffer left in a
     * thread-local when its loop thread ends would be lost */
    free(staged.rows);
    staged.rows = NULL;
    staged.n = staged.cap = 0;
    return rc;
}

static void end(cn_store_t *s, int committed)
{
    (void)committed; /* written by precommit, or dropped with a rolled-back batch */
    if (staged.store == s) {
        free(staged.rows);
        staged.rows = NULL;
        staged.n = staged.cap = 0;
    }
}

/* A unit's rows are the tail of the staged ones (it began after the others were staged):
 * released, they join the enclosing level; rolled back, they are dropped. */
static void unit_end(cn_store_t *s, int committed)
{
    if (staged.store != s)
        return;
    int depth = cn_store_unit_depth(s);
    size_t keep = staged.n;
    while (keep > 0 && staged.rows[keep - 1].depth >= depth)
        keep--;
    for (size_t i = keep; i < staged.n && committed; i++)
        staged.rows[i].depth = depth - 1;
    if (!committed)
        staged.n = keep;
}

const cn_store_hook_t auth_audit_hook = {.precommit = precommit, .end = end, .unit_end = unit_end};

int auth_audit_request(cn_req_t *r)
{
    int status = r->h->res.status;
    /* public routes (sign-in, refresh) record their own security events */
    if (status >= 400 || r->route == NULL || r->route->permission == NULL)
        return 0;
    char action[160], ip[64];
    const char *method = cn_method_name(r->method);
    size_t ml = strlen(method), pl = strlen(r->route->path);
    if (ml + 1 + pl >= sizeof(action))
        pl = sizeof(action) - ml - 2;
    memcpy(action, method, ml); /* "POST /api/v1/notes", without printf on every write */
    action[ml] = ' ';
    memcpy(action + ml + 1, r->route->path, pl);
    action[ml + 1 + pl] = '\0';
    if (strcmp(r->principal.subject, "erased") == 0) /* the account was just deleted */
        snprintf(ip, sizeof(ip), "erased");
    else
        cn_req_peer(r, ip, sizeof(ip));
    const char *object = cn_req_param(r, "id");
    char created[64] = "";
    if (object == NULL) { /* a create: the new object's id ends its Location */
        ssize_t i = h2o_find_header_by_str(&r->h->res.headers, H2O_STRLIT("location"), -1);
        if (i >= 0) {
            h2o_iovec_t loc = r->h->res.headers.entries[i].value;
            const char *slash = memrchr(loc.base, '/', loc.len);
            if (slash != NULL)
                snprintf(created, sizeof(created), "%.*s", (int)(loc.base + loc.len - slash - 1),
                         slash + 1);
        }
        object = created[0] ? created : NULL;
    }
    auth_audit_t e = {r->principal.authenticated ? r->principal.tenant_id : NULL,
                      r->principal.authenticated ? r->principal.subject : "anonymous",
                      action,
                      object,
                      ip,
                      r->request_id,
                      status};
    cn_err_t err;
    int rc = auth_audit_stage(r->store, &e, &err);
    if (rc != 0) /* no change without its entry: the kernel rolls the request's unit back */
        cn_log(CN_LOG_ERROR, r->request_id, "audit append failed: %s", err.msg);
    return rc;
}

/* Where a walk of the chain stands: the last entry that matched, its hash and the one
 * before (so a later walk can check that entry again), and where it broke. */
typedef struct {
    int64_t seq; /* 0: none yet (the genesis) */
    char hash[65], before[65];
    int64_t broken_seq; /* 0 while intact */
    char broken_tenant[64];
} walk_t;

/* Told of every entry that matched, with its tenant (NULL for none). */
typedef void (*walk_each_fn)(void *ctx, int64_t seq, const char *tenant);

/* Checks the entries after w->seq (whose hash is w->hash) in order, moving w along; 0 at
 * the end, CN_EVALIDATION at the first entry changed or missing (w->broken_*, err). */
static int walk_chain(cn_store_t *s, walk_t *w, walk_each_fn each, void *ctx, cn_err_t *err)
{
    cn_stmt_t *st;
    cn_val_t args[] = {CN_VINT(w->seq)};
    int rc = cn_store_query(s,
                            "SELECT seq, tenant_id, actor, action, object, ip, request_id, status,"
                            " at, salt, personal, hash FROM audit_log WHERE seq > $1 ORDER BY seq",
                            args, 1, &st, err);
    if (rc != 0)
        return rc;
    while ((rc = cn_stmt_step(st, err)) == CN_ROW) {
        int64_t seq = cn_stmt_int(st, 0);
        auth_audit_t e = {cn_stmt_text(st, 1, NULL), cn_stmt_text(st, 2, NULL),
                          cn_stmt_text(st, 3, NULL), cn_stmt_text(st, 4, NULL),
                          cn_stmt_text(st, 5, NULL), cn_stmt_text(st, 6, NULL),
                          (int)cn_stmt_int(st, 7)};
        const char *salt = cn_stmt_text(st, 9, NULL), *personal = cn_stmt_text(st, 10, NULL);
        char commit[65], hash[65];
        entry_hash(w->hash, seq, &e, personal, cn_stmt_int(st, 8), hash);
        const char *stored = cn_stmt_text(st, 11, NULL);
        const char *tenant = cn_stmt_is_null(st, 1) ? NULL : e.tenant_id;
        /* an erased entry (empty salt) keeps only its commitment; others must match it */
        int personal_ok =
            salt[0] == '\0' || (personal_commit(salt, &e, commit), strcmp(commit, personal) == 0);
        if (seq != w->seq + 1) {
            w->broken_seq = w->seq + 1; /* whose it was is gone with it */
            rc = cn_err_set(err, CN_EVALIDATION, "entry %lld is missing (the next is %lld)",
                            (long long)w->seq + 1, (long long)seq);
            break;
        }
        if (!personal_ok || strcmp(stored, hash) != 0) {
            w->broken_seq = seq;
            snprintf(w->broken_tenant, sizeof(w->broken_tenant), "%s", tenant ? tenant : "");
            rc = cn_err_set(err, CN_EVALIDATION, "entry %lld was changed (its hash does not match)",
                            (long long)seq);
            break;
        }
        memcpy(w->before, w->hash, sizeof(w->before));
        memcpy(w->hash, hash, sizeof(w->hash));
        w->seq = seq;
        if (each != NULL)
            each(ctx, seq, tenant);
    }
    cn_stmt_finish(st);
    return rc == CN_DONE ? 0 : rc;
}

static void walk_from_genesis(walk_t *w)
{
    memset(w, 0, sizeof(*w));
    memcpy(w->hash, genesis, sizeof(w->hash));
    memcpy(w->before, genesis, sizeof(w->before));
}

typedef struct {
    const char *tenant;
    auth_audit_check_t *out;
} check_ctx_t;

static void check_each(void *ctx, int64_t seq, const char *tenant)
{
    check_ctx_t *c = ctx;
    c->out->entries++;
    c->out->tenant_entries += c->tenant != NULL && tenant != NULL && strcmp(tenant, c->tenant) == 0;
}

int auth_audit_check(cn_store_t *s, const char *tenant, auth_audit_check_t *out, cn_err_t *err)
{
    memset(out, 0, sizeof(*out)); /* set whatever the answer: callers read it on failure too */
    walk_t w;
    walk_from_genesis(&w);
    check_ctx_t c = {tenant, out};
    int rc = walk_chain(s, &w, check_each, &c, err);
    out->broken_seq = w.broken_seq;
    out->broken_in_tenant =
        tenant != NULL && w.broken_tenant[0] != '\0' && strcmp(w.broken_tenant, tenant) == 0;
    return rc;
}

int auth_audit_verify(cn_store_t *s, int64_t *entries, cn_err_t *err)
{
    auth_audit_check_t c;
    int rc = auth_audit_check(s, NULL, &c, err);
    *entries = c.entries;
    return rc;
}

int auth_audit_erase(cn_store_t *s, const char *user_id, const char *email, cn_err_t *err)
{
    /* sign-in attempts name "tenant slug/e-mail": matched exactly, never with LIKE, since
     * an address may contain '%' or '_' */
    cn_val_t args[] = {CN_VTEXT(user_id), CN_VTEXT(email)};
    return cn_store_exec(s,
                         "UPDATE audit_log SET actor = 'erased', object = NULL, ip = 'erased',"
                         " salt = '' WHERE actor = $1 OR object = $1 OR object IN"
                         " (SELECT slug || '/' || $2 FROM tenants)",
                         args, 2, NULL, err);
}

static const cn_field_t query_fields[] = {
    {"actor", CN_T_STRING, .max_len = 64},
    {"action", CN_T_STRING, .max_len = 160, .description = "e.g. \"POST /api/v1/notes\""},
    {"since", CN_T_TIME},
    {"until", CN_T_TIME},
    {"limit", CN_T_INTEGER, .has_min = 1, .min = 1, .has_max = 1, .max = 200},
    {"cursor", CN_T_STRING, .max_len = 32},
    {0},
};
const cn_schema_t auth_audit_query = {"AuditQuery", query_fields};

static int64_t time_param(cn_req_t *r, const char *name, int64_t fallback)
{
    int64_t ms;
    return cn_schema_time(json_object_get(r->query, name), &ms) == 0 ? ms : fallback;
}

int auth_list_audit(cn_req_t *r)
{
    json_t *q = r->query;
    const char *actor = json_string_value(json_object_get(q, "actor"));
    const char *action = json_string_value(json_object_get(q, "action"));
    const char *cursor = json_string_value(json_object_get(q, "cursor"));
    int64_t limit =
        json_object_get(q, "limit") ? json_integer_value(json_object_get(q, "limit")) : 50;
    long long before = INT64_MAX;
    if (cursor && (sscanf(cursor, "%lld", &before) != 1 || before < 1))
        return cn_fail_field(r, "cursor", "is not a cursor returned by this endpoint");
    cn_val_t args[] = {CN_VTEXT(r->principal.tenant_id),
                       CN_VINT(before),
                       actor ? CN_VTEXT(actor) : CN_VNULL,
                       action ? CN_VTEXT(action) : CN_VNULL,
                       CN_VINT(time_param(r, "since", 0)),
                       CN_VINT(time_param(r, "until", INT64_MAX)),
                       CN_VINT(limit + 1)};
    cn_stmt_t *st;
    int rc = cn_store_query(
        r->store,
        "SELECT seq, actor, action, object, ip, request_id, status, at FROM audit_log"
        " WHERE tenant_id = $1 AND seq < $2 AND (CAST($3 AS TEXT) IS NULL OR actor = $3)"
        " AND (CAST($4 AS TEXT) IS NULL OR action = $4) AND at >= $5 AND at < $6"
        " ORDER BY seq DESC LIMIT $7",
        args, CN_ARRAY_SIZE(args), &st, &r->err);
    if (rc != 0)
        return rc;
    static const char *const names[] = {"seq", "actor",      "action", "object",
                                        "ip",  "request_id", "status", "at"};
    cn_jw_t w;
    cn_jw_init(&w, cn_reply_buffer(r));
    cn_jw_object(&w);
    cn_jw_key(&w, "items");
    cn_jw_array(&w);
    int64_t count = 0, last = 0;
    char next[24] = "";
    while ((rc = cn_stmt_step(st, &r->err)) == CN_ROW) {
        if (count == limit) {
            snprintf(next, sizeof(next), "%lld", (long long)last);
            break;
        }
        cn_jw_object(&w);
        for (int c = 0; c < 8; c++) {
            cn_jw_key(&w, names[c]);
            size_t len;
            const char *t = cn_stmt_text(st, c, &len);
            if (cn_stmt_is_null(st, c))
                cn_jw_null(&w);
            else if (c == 0 || c == 6 || c == 7)
                cn_jw_int(&w, cn_stmt_int(st, c));
            else
                cn_jw_str(&w, t, len);
        }
        cn_jw_end(&w);
        last = cn_stmt_int(st, 0);
        count++;
    }
    cn_stmt_finish(st);
    if (rc < 0)
        return rc;
    cn_jw_end(&w);
    cn_jw_key(&w, "next_cursor");
    if (next[0])
        cn_jw_str(&w, next, strlen(next));
    else
        cn_jw_null(&w);
    cn_jw_end(&w);
    return cn_reply_json_buf(r, 200);
}

/* ---- chain verification over the API ---- */

/*
 * One walk per process at a time, shared: a request arriving while a walk runs is parked
 * (holding no worker) and answered from that walk; one arriving within VERIFY_FRESH_MS of
 * the last walk's end is answered from it at once. A walk goes on from the last entry the
 * previous one verified, checking that entry again (so an edit of the newest verified
 * entry is found); the whole chain is walked at start, every VERIFY_FULL_EVERY_MS, and
 * whenever an entry verified before no longer matches. So an older entry edited after it
 * was verified is found by the next full walk, not the next request; `cairn audit verify`
 * always walks the whole chain.
 */
#define VERIFY_FRESH_MS 3000
#define VERIFY_FULL_EVERY_MS (3600 * 1000LL)

typedef struct {
    char id[64];
    int64_t n;
} tenant_count_t;

/* Entries per tenant in the verified part, sorted by tenant id. */
typedef struct {
    tenant_count_t *v;
    size_t n, cap;
} counts_t;

static tenant_count_t *counts_find(const counts_t *c, const char *id, size_t *at)
{
    size_t lo = 0, hi = c->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = strcmp(c->v[mid].id, id);
        if (cmp == 0)
            return &c->v[mid];
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (at != NULL)
        *at = lo;
    return NULL;
}

static void counts_add(counts_t *c, const char *id, int64_t k)
{
    size_t at = 0;
    tenant_count_t *t = counts_find(c, id, &at);
    if (t != NULL) {
        t->n += k;
        return;
    }
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->v = cn_realloc(c->v, c->cap * sizeof(*c->v));
    }
    memmove(c->v + at + 1, c->v + at, (c->n - at) * sizeof(*c->v));
    snprintf(c->v[at].id, sizeof(c->v[at].id), "%s", id);
    c->v[at].n = k;
    c->n++;
}

typedef struct verify_s {
    struct verify_s *next; /* parked behind the running walk */
    cn_work_t *parked;
    char tenant[64];
    int rc; /* 0 intact, CN_EVALIDATION broken, else the walk failed (err) */
    cn_err_t err;
    int64_t entries, broken_seq, at; /* broken_seq: 0 unless the entry is the tenant's */
} verify_t;

static struct {
    pthread_mutex_t mu;
    int running;      /* a walk is on a worker */
    verify_t *parked; /* the requests waiting for it */
    walk_t mark;      /* the verified part (seq 0: nothing verified yet) */
    int64_t full_at;  /* when the last walk of the whole chain began */
    counts_t counts;
    /* the last walk's outcome */
    int64_t at; /* when it ended; 0: nothing to reuse */
    int rc;
    walk_t end;
    cn_err_t err;
} chain = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* v's answer from the last walk, for its tenant. chain.mu held. */
static void answer_of(verify_t *v)
{
    const tenant_count_t *t = counts_find(&chain.counts, v->tenant, NULL);
    v->rc = chain.rc;
    v->err = chain.err;
    v->entries = t ? t->n : 0;
    v->at = chain.at;
    v->broken_seq = chain.rc == CN_EVALIDATION && chain.end.broken_tenant[0] != '\0' &&
                            strcmp(chain.end.broken_tenant, v->tenant) == 0
                        ? chain.end.broken_seq
                        : 0;
}

typedef struct {
    int64_t after; /* entries up to this one are counted already */
    counts_t *add;
} count_ctx_t;

static void count_each(void *ctx, int64_t seq, const char *tenant)
{
    count_ctx_t *c = ctx;
    if (tenant != NULL && seq > c->after)
        counts_add(c->add, tenant, 1);
}

/* One walk, from the mark or (full) from the genesis. Runs only on the walking worker,
 * the only writer of chain.mark and chain.counts (under chain.mu). */
static int walk_once(cn_store_t *s, int full, walk_t *w, cn_err_t *err)
{
    pthread_mutex_lock(&chain.mu);
    walk_t from = chain.mark;
    pthread_mutex_unlock(&chain.mu);
    int64_t started = cn_now_ms();
    if (full || from.seq == 0) {
        full = 1;
        walk_from_genesis(w);
    } else { /* step back one entry: the newest verified one is checked again */
        *w = from;
        w->seq = from.seq - 1;
        memcpy(w->hash, from.before, sizeof(w->hash));
    }
    counts_t add = {0};
    count_ctx_t c = {full ? 0 : from.seq, &add};
    int rc = walk_chain(s, w, count_each, &c, err);
    if (rc == CN_EVALIDATION && !full && w->broken_seq <= from.seq) {
        free(add.v); /* a verified entry changed: only a full walk knows what still holds */
        return walk_once(s, 1, w, err);
    }
    pthread_mutex_lock(&chain.mu);
    if (rc == 0 || rc == CN_EVALIDATION) {
        if (full) {
            free(chain.counts.v);
            chain.counts = add;
            chain.full_at = started;
            add.v = NULL;
        } else {
            for (size_t i = 0; i < add.n; i++)
                counts_add(&chain.counts, add.v[i].id, add.v[i].n);
        }
        chain.mark = *w;
        chain.mark.broken_seq = 0;
        chain.mark.broken_tenant[0] = '\0';
    }
    pthread_mutex_unlock(&chain.mu);
    free(add.v);
    return rc;
}

static void walk_work(void *arg)
{
    verify_t *first = arg;
    cn_err_t err = {0};
    walk_t w;
    walk_from_genesis(&w);
    cn_store_t *s = cn_worker_store(&err);
    pthread_mutex_lock(&chain.mu);
    int full = chain.mark.seq == 0 || cn_now_ms() - chain.full_at >= VERIFY_FULL_EVERY_MS;
    pthread_mutex_unlock(&chain.mu);
    int rc = s ? walk_once(s, full, &w, &err) : CN_ERR;
    pthread_mutex_lock(&chain.mu);
    chain.rc = rc;
    chain.err = err;
    chain.end = w;
    /* a failed walk (not a broken chain) is not reused: the next request tries again */
    chain.at = rc == 0 || rc == CN_EVALIDATION ? cn_now_ms() : 0;
    answer_of(first);
    if (first->at == 0)
        first->at = cn_now_ms();
    verify_t *waiting = chain.parked;
    for (verify_t *v = waiting; v != NULL; v = v->next) {
        answer_of(v);
        v->at = first->at;
    }
    chain.parked = NULL;
    chain.running = 0;
    pthread_mutex_unlock(&chain.mu);
    for (verify_t *v = waiting, *next; v != NULL; v = next) {
        next = v->next; /* v is freed by its completion, perhaps before wake returns */
        cn_work_wake(v->parked);
    }
}

/* A tenant learns where the chain breaks only when the entry is its own: the other
 * entries, their number and their owners are none of its business. */
static int verify_reply(cn_req_t *r, const verify_t *v)
{
    int shown = v->rc != 0 && v->broken_seq != 0;
    cn_jw_t w;
    cn_jw_init(&w, cn_reply_buffer(r));
    cn_jw_object(&w);
    cn_jw_key(&w, "intact");
    cn_jw_bool(&w, v->rc == 0);
    cn_jw_key(&w, "entries");
    cn_jw_int(&w, v->entries);
    cn_jw_key(&w, "broken_seq");
    if (shown)
        cn_jw_int(&w, v->broken_seq);
    else
        cn_jw_null(&w);
    cn_jw_key(&w, "reason");
    if (shown)
        cn_jw_str(&w, v->err.msg, strlen(v->err.msg));
    else if (v->rc != 0)
        cn_jw_str(&w, H2O_STRLIT("the chain breaks at an entry that is not this tenant's"));
    else
        cn_jw_null(&w);
    cn_jw_key(&w, "checked_at");
    cn_jw_int(&w, v->at);
    cn_jw_end(&w);
    cn_reply_header(r, "cache-control", H2O_STRLIT("no-store"));
    return cn_reply_json_buf(r, 200);
}

static void verify_done(cn_req_t *r, void *arg)
{
    verify_t *v = arg;
    if (r != NULL && v->rc != 0 && v->rc != CN_EVALIDATION) {
        r->err = v->err;
        cn_req_finish_error(r, v->rc);
    } else if (r != NULL) {
        verify_reply(r, v);
    }
    free(v);
}

int auth_get_audit_verify(cn_req_t *r)
{
    verify_t *v = cn_calloc(1, sizeof(*v));
    snprintf(v->tenant, sizeof(v->tenant), "%s", r->principal.tenant_id);
    pthread_mutex_lock(&chain.mu);
    if (!chain.running && chain.at != 0 && cn_now_ms() - chain.at < VERIFY_FRESH_MS) {
        answer_of(v);
        pthread_mutex_unlock(&chain.mu);
        int rc = verify_reply(r, v);
        free(v);
        return rc;
    }
    if (chain.running) { /* wait for the walk under way, on no thread */
        v->parked = cn_req_park(r, verify_done, v);
        v->next = chain.parked;
        chain.parked = v;
        pthread_mutex_unlock(&chain.mu);
        return CN_PENDING;
    }
    chain.running = 1;
    pthread_mutex_unlock(&chain.mu);
    return cn_req_offload(r, walk_work, verify_done, v);
}
