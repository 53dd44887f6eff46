/*
 * API keys (see apikeys.h). A key is looked up by its public prefix and the SHA-256 of
 * its secret is compared in constant time. The row read is kept for a second per process
 * (on PostgreSQL that read was half the round trips of a GET): a key revoked here or on
 * another node is refused at once all the same, through the revoked set its id enters
 * (auth_revoke_session, which the cluster bus carries), an expired one by its expiry, and
 * a revocation made any other way within the second.
 */
#include "auth/apikeys.h"
#include "auth/members.h"
#include "auth/rbac.h"
#include "auth/tokens.h"
#include "core/page.h"
#include "core/permissions.h"
#include "lib/formats.h"

#include "auth/sessions.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define PREFIX_LEN 8
#define KEY_HEAD "cairn_"
#define LAST_USED_EVERY_MS 60000
#define KEY_CACHE_MS 1000   /* how long a key's row read stands for the row */
#define KEY_CACHE_SLOTS 512 /* direct-mapped by prefix; a collision only costs a read */

const char auth_apikeys_sql[] =
    "CREATE TABLE api_keys ("
    " id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id),"
    " prefix TEXT NOT NULL UNIQUE, secret_hash TEXT NOT NULL, name TEXT NOT NULL,"
    " scopes TEXT NOT NULL, created_by TEXT NOT NULL, created_at INTEGER NOT NULL,"
    " expires_at INTEGER, last_used_at INTEGER, revoked_at INTEGER);"
    "CREATE INDEX api_keys_tenant ON api_keys (tenant_id, id)";

int auth_is_api_key(const char *token, size_t len)
{
    return len > sizeof(KEY_HEAD) + PREFIX_LEN && memcmp(token, KEY_HEAD, 6) == 0 &&
           token[6 + PREFIX_LEN] == '_';
}

int auth_scopes_allow(const char *scopes, const char *permission)
{
    size_t n = strlen(permission);
    for (const char *p = scopes; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && memcmp(p, permission, n) == 0)
            return 1;
        p += len + (end != NULL);
    }
    return 0;
}

/* A key's row as authentication needs it. */
typedef struct {
    char prefix[PREFIX_LEN + 1];
    char id[40], tenant_id[64], hash[65];
    char scopes[sizeof(((cn_principal_t *)0)->scopes)];
    int64_t expires_at; /* 0: never */
    int64_t last_used;
    int64_t read_ms; /* when the row was read; 0: empty slot */
} key_row_t;

static struct {
    pthread_mutex_t lock;
    key_row_t slots[KEY_CACHE_SLOTS];
} key_cache = {PTHREAD_MUTEX_INITIALIZER};

static key_row_t *cache_slot(const char *prefix)
{
    return &key_cache.slots[cn_hash_str(prefix) & (KEY_CACHE_SLOTS - 1)];
}

/* 1 with *row filled when prefix's row was read less than KEY_CACHE_MS ago. */
static int cache_get(const char *prefix, int64_t now, key_row_t *row)
{
    pthread_mutex_lock(&key_cache.lock);
    key_row_t *slot = cache_slot(prefix);
    int hit = slot->read_ms > 0 && now - slot->read_ms < KEY_CACHE_MS &&
              strcmp(slot->prefix, prefix) == 0;
    if (hit)
        *row = *slot;
    pthread_mutex_unlock(&key_cache.lock);
    return hit;
}

static void cache_put(const key_row_t *row)
{
    pthread_mutex_lock(&key_cache.lock);
    *cache_slot(row->prefix) = *row;
    pthread_mutex_unlock(&key_cache.lock);
}

static void cache_touched(const char *prefix, int64_t now)
{
    pthread_mutex_lock(&key_cache.lock);
    key_row_t *slot = cache_slot(prefix);
    if (strcmp(slot->prefix, prefix) == 0)
        slot->last_used = now;
    pthread_mutex_unlock(&key_cache.lock);
}

/* Reads prefix's row: 0, CN_ENOTFOUND (no such key, or a revoked one), or the store's
 * error. */
static int read_key(cn_req_t *r, const char *prefix, int64_t now, key_row_t *row)
{
    cn_stmt_t *st;
    cn_val_t args[] = {CN_VTEXT(prefix)};
    int rc = cn_store_query(r->store,
                            "SELECT id, tenant_id, secret_hash, scopes, expires_at, last_used_at"
                            " FROM api_keys WHERE prefix = $1 AND revoked_at IS NULL",
                            args, 1, &st, &r->err);
    if (rc != 0)
        return rc;
    if ((rc = cn_stmt_step(st, &r->err)) == CN_ROW) {
        memset(row, 0, sizeof(*row));
        snprintf(row->prefix, sizeof(row->prefix), "%s", prefix);
        snprintf(row->id, sizeof(row->id), "%s", cn_stmt_text(st, 0, NULL));
        snprintf(row->tenant_id, sizeof(row->tenant_id), "%s", cn_stmt_text(st, 1, NULL));
        snprintf(row->hash, sizeof(row->hash), "%s", cn_stmt_text(st, 2, NULL));
        snprintf(row->scopes, sizeof(row->scopes), "%s", cn_stmt_text(st, 3, NULL));
        row->expires_at = cn_stmt_is_null(st, 4) ? 0 : cn_stmt_int(st, 4);
        row->last_used = cn_stmt_is_null(st, 5) ? 0 : cn_stmt_int(st, 5);
        row->read_ms = now;
    }
    cn_stmt_finish(st);
    return rc == CN_ROW ? 0 : rc == CN_DONE ? CN_ENOTFOUND : rc;
}

static void touch_last_used(cn_req_t *r, const char *prefix, const char *id, int64_t last_used)
{
    int64_t now = cn_now_ms();
    if (now - last_used < LAST_USED_EVERY_MS) /* one write a minute per key is enough */
        return;
    cache_touched(prefix, now);
    cn_err_t err;
    cn_val_t args[] = {CN_VTEXT(id), CN_VINT(now)};
    /* best effort: a failure must not refuse the request, and the next use tries again */
    cn_ignore(cn_store_exec(r->store, "UPDATE api_keys SET last_used_at = $2 WHERE id = $1", args,
                            2, NULL, &err));
}

int auth_api_key_authenticate(cn_req_t *r, const char *token, size_t len)
{
    char prefix[PREFIX_LEN + 1], hash[65];
    memcpy(prefix, token + 6, PREFIX_LEN);
    prefix[PREFIX_LEN] = '\0';
    const char *secret = token + 6 + PREFIX_LEN + 1;
    auth_refresh_hash(secret, len - (size_t)(secret - token), hash);
    int64_t now = cn_now_ms();
    key_row_t row = {.read_ms = 0}; /* all of it: the analyzer cannot follow the reads */
    if (!cache_get(prefix, now, &row)) {
        int rc = read_key(r, prefix, now, &row);
        if (rc != 0 && rc != CN_ENOTFOUND)
            return cn_fail(r, CN_EUNAUTH, "the API key cannot be checked now");
        if (rc == CN_ENOTFOUND)
            row.read_ms = 0;
        else
            cache_put(&row);
    }
    int ok = row.read_ms > 0 && strlen(row.hash) == 64 && sodium_memcmp(row.hash, hash, 64) == 0 &&
             (row.expires_at == 0 || row.expires_at > now) && !auth_session_revoked(row.id);
    if (!ok)
        return cn_fail_typed(r, CN_EUNAUTH, "token-invalid",
                             "the API key is not valid, expired or revoked");
    cn_principal_t *p = &r->principal;
    snprintf(p->tenant_id, sizeof(p->tenant_id), "%s", row.tenant_id);
    snprintf(p->subject, sizeof(p->subject), "key:%s", row.id);
    snprintf(p->scopes, sizeof(p->scopes), "%s", row.scopes);
    p->is_key = 1;
    p->authenticated = 1;
    touch_last_used(r, prefix, row.id, row.last_used);
    return 0;
}

/* ---- management routes (permission api_keys.manage) ---- */

static const cn_field_t scope_item = {"permission", CN_T_STRING, .min_len = 1, .max_len = 64};
static const cn_field_t create_fields[] = {
    {"name", CN_T_STRING, .required = 1, .min_len = 1, .max_len = 100, .single_line = 1},
    {"permissions", CN_T_ARRAY, .required = 1, .min_len = 1, .max_len = 32, .items = &scope_item},
    {"expires_at", CN_T_TIME, .description = "Unix ms or RFC 3339; omit for no expiry"},
    {0},
};
const cn_schema_t auth_api_key_schema = {"ApiKeyCreate", create_fields};

static int check_scopes(cn_req_t *r, json_t *perms, char *scopes, size_t cap)
{
    size_t used = 0, i;
    json_t *v;
    scopes[0] = '\0';
    json_array_foreach(perms, i, v)
    {
        const char *perm = json_string_value(v);
        char field[48];
        snprintf(field, sizeof(field), "permissions[%zu]", i);
        if (!cn_permission_exists(perm))
            cn_verrors_add(&r->verrors, field, "is not a permission of this server");
        else if (!auth_caller_holds(r, perm)) /* nobody hands out more than they hold */
            cn_verrors_add(&r->verrors, field, "is not held by the caller");
        else if (auth_scopes_allow(scopes, perm))
            continue;                           /* named twice */
        else if (used + strlen(perm) + 2 > cap) /* refused, never dropped: see cn_principal_t */
            cn_verrors_add(&r->verrors, field, "does not fit: the list is too long");
        else
            used += (size_t)snprintf(scopes + used, cap - used, "%s%s", used ? "," : "", perm);
    }
    return r->verrors.count ? cn_fail(r, CN_EVALIDATION, "the key's permissions are not allowed")
                            : 0;
}

static void write_key(cn_jw_t *w, cn_stmt_t *st)
{
    static const char *const names[] = {"id",         "name",       "prefix",       "permissions",
                                        "created_at", "expires_at", "last_used_at", "revoked_at"};
    cn_jw_object(w);
    for (int c = 0; c < 8; c++) {
        cn_jw_key(w, names[c]);
        size_t len;
        const char *text = cn_stmt_text(st, c, &len);
        if (cn_stmt_is_null(st, c)) {
            cn_jw_null(w);
        } else if (c == 3) { /* stored comma-separated */
            cn_jw_array(w);
            for (const char *p = text; *p;) {
                const char *end = strchr(p, ',');
                size_t n = end ? (size_t)(end - p) : strlen(p);
                cn_jw_str(w, p, n);
                p += n + (end != NULL);
            }
            cn_jw_end(w);
        } else if (c >= 4) {
            cn_jw_int(w, cn_stmt_int(st, c));
        } else {
            cn_jw_str(w, text, len);
        }
    }
    cn_jw_end(w);
}

#define KEY_COLUMNS "id, name, prefix, scopes, created_at, expires_at, last_used_at, revoked_at"

int auth_post_api_key(cn_req_t *r)
{
    if (r->principal.is_operator)
        return cn_fail(r, CN_ECONFLICT,
                       "the operator token acts in no real tenant: sign in as a "
                       "user of the tenant to create its keys");
    char scopes[sizeof(r->principal.scopes)]; /* what a request with the key can hold */
    int rc = check_scopes(r, json_object_get(r->body, "permissions"), scopes, sizeof(scopes));
    if (rc != 0)
        return rc;
    int64_t expires_ms = 0;
    int expires = cn_schema_time(json_object_get(r->body, "expires_at"), &expires_ms) == 0;
    if (expires && expires_ms <= cn_now_ms())
        return cn_fail_field(r, "expires_at", "must be in the future");
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    uint8_t raw[PREFIX_LEN + 32];
    cn_random(raw, sizeof(raw));
    char prefix[PREFIX_LEN + 1], secret[48], hash[65], key[80], id[CN_UUID_LEN + 1];
    for (int i = 0; i < PREFIX_LEN; i++)
        prefix[i] = alphabet[raw[i] % 36];
    prefix[PREFIX_LEN] = '\0';
    cn_base64url_encode(raw + PREFIX_LEN, 32, secret);
    sodium_memzero(raw, sizeof(raw));
    snprintf(key, sizeof(key), KEY_HEAD "%s_%s", prefix, secret);
    auth_refresh_hash(secret, strlen(secret), hash);
    sodium_memzero(secret, sizeof(secret));
    cn_uuid7(id);
    cn_val_t args[] = {CN_VTEXT(id),
                       CN_VTEXT(r->principal.tenant_id),
                       CN_VTEXT(prefix),
                       CN_VTEXT(hash),
                       CN_VTEXT(json_string_value(json_object_get(r->body, "name"))),
                       CN_VTEXT(scopes),
                       CN_VTEXT(r->principal.subject),
                       CN_VINT(cn_now_ms()),
                       expires ? CN_VINT(expires_ms) : CN_VNULL};
    cn_stmt_t *st;
    rc = cn_store_query(r->store,
                        "INSERT INTO api_keys (id, tenant_id, prefix, secret_hash, name, scopes,"
                        " created_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7,"
                        " $8, $9) RETURNING " KEY_COLUMNS,
                        args, CN_ARRAY_SIZE(args), &st, &r->err);
    if (rc != 0)
        return rc;
    cn_jw_t w;
    cn_jw_init(&w, cn_reply_buffer(r));
    if ((rc = cn_stmt_step(st, &r->err)) == CN_ROW) {
        write_key(&w, st);
        /* the one time the full key is shown: splice it into the object */
        w.b->len--; /* drop the closing brace */
        cn_buf_lit(w.b, ",\"key\":\"");
        cn_buf_append(w.b, key, strlen(key));
        cn_buf_lit(w.b, "\"}");
    }
    cn_stmt_finish(st);
    sodium_memzero(key, sizeof(key));
    if (rc != CN_ROW)
        return rc < 0 ? rc : cn_fail(r, CN_ERR, "insert returned no row");
    cn_reply_header(r, "cache-control", H2O_STRLIT("no-store"));
    return cn_reply_json_buf(r, 201);
}

int auth_list_api_keys(cn_req_t *r)
{
    cn_page_t page;
    int rc = cn_page_begin(r, &page);
    if (rc != 0)
        return rc;
    cn_val_t args[] = {CN_VTEXT(r->principal.tenant_id), CN_VTEXT(page.after[0] ? page.after : "~"),
                       CN_VINT(page.limit + 1)};
    cn_stmt_t *st;
    if ((rc = cn_store_query(r->store,
                             "SELECT " KEY_COLUMNS " FROM api_keys WHERE tenant_id = $1 AND id < $2"
                             " ORDER BY id DESC LIMIT $3",
                             args, 3, &st, &r->err)) != 0)
        return rc;
    while ((rc = cn_stmt_step(st, &r->err)) == CN_ROW && cn_page_room(&page)) {
        size_t len;
        const char *id = cn_stmt_text(st, 0, &len);
        write_key(&page.w, st);
        cn_page_item(&page, id, len);
    }
    cn_stmt_finish(st);
    return rc < 0 ? rc : cn_page_send(r, &page);
}

int auth_delete_api_key(cn_req_t *r)
{
    cn_val_t args[] = {CN_VTEXT(r->principal.tenant_id), CN_VTEXT(cn_req_param(r, "id")),
                       CN_VINT(cn_now_ms())};
    int64_t changes = 0;
    int rc = cn_store_exec(r->store,
                           "UPDATE api_keys SET revoked_at = $3"
                           " WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL",
                           args, 3, &changes, &r->err);
    if (rc != 0)
        return rc;
    if (changes == 0)
        return cn_fail(r, CN_ENOTFOUND, "no active API key with this id");
    /* the revoked set refuses it at once: requests (whatever the key cache holds) and the
     * realtime connections it opened, on every node the cluster bus reaches */
    auth_revoke_session(cn_req_param(r, "id"));
    return cn_reply_empty(r, 204);
}
