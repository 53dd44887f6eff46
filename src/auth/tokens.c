/*
 * Tokens (see tokens.h). Signing keys are kept sealed by the vault (a database copy holds
 * no usable key) and retire: a retired key verifies for one more token lifetime, then
 * never again. Issuing and verifying are done here (libjwt is the reference the
 * unit tests check against). Verification, before any claim is trusted: the header must say alg
 * HS256 with a known kid, and the HMAC is recomputed with libsodium and compared with
 * sodium_memcmp, so the check is constant-time and "alg":"none" or algorithm switching can never
 * reach a claim parser.
 */
#include "auth/tokens.h"
#include "auth/auth.h"
#include "auth/sessions.h"
#include "auth/vault.h"
#include "core/json.h"
#include "core/log.h"
#include "lib/formats.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KEYS 16
#define KEY_BYTES 32
#define MAX_TOKEN 4096

typedef struct {
    char kid[40];
    uint8_t secret[KEY_BYTES];
    int64_t created_at;
    int64_t until_s; /* verifies tokens until then: INT64_MAX while not retired */
    int retired;
} key_t_;

/* The keys still verifying, active (not retired) first, each group newest first; so
 * keys[0] signs when it is active. Owned here; loop threads read under the lock. */
static struct {
    pthread_rwlock_t lock;
    key_t_ keys[MAX_KEYS];
    size_t n;
    _Atomic int64_t loaded_at_ms;
    _Atomic uint64_t gen;  /* changes whenever the key set or a retirement does */
    _Atomic int reloading; /* one thread re-reads at a time */
    uint64_t fingerprint;  /* of the kids and deadlines loaded, to tell a change */
} key_ring = {PTHREAD_RWLOCK_INITIALIZER};

/* The associated data a key is sealed with: a sealed key copied to another kid (or to a
 * TOTP row) does not open. */
static void key_ad(const char *kid, char ad[64])
{
    snprintf(ad, 64, "signing_key:%s", kid);
}

int auth_key_unseal(const char *kid, const char *sealed, size_t len, uint8_t secret[32])
{
    char ad[64];
    key_ad(kid, ad);
    return auth_vault_unseal(sealed, len, ad, secret, KEY_BYTES);
}

static int64_t until_of(cn_stmt_t *st, int col)
{
    return cn_stmt_is_null(st, col) ? INT64_MAX : cn_stmt_int(st, col) / 1000;
}

/* Publishes keys[0..n) and bumps the generation when they differ from what was there. */
static void publish_keys(const key_t_ *keys, size_t n)
{
    uint64_t fp = cn_fnv1a(CN_FNV_OFFSET, &n, sizeof(n));
    for (size_t i = 0; i < n; i++) {
        fp = cn_fnv1a(fp, keys[i].kid, strlen(keys[i].kid));
        fp = cn_fnv1a(fp, &keys[i].until_s, sizeof(keys[i].until_s));
    }
    pthread_rwlock_wrlock(&key_ring.lock);
    memcpy(key_ring.keys, keys, n * sizeof(key_t_));
    sodium_memzero(key_ring.keys + n, (MAX_KEYS - n) * sizeof(key_t_));
    key_ring.n = n;
    if (fp != key_ring.fingerprint) {
        key_ring.fingerprint = fp;
        atomic_fetch_add(&key_ring.gen,
                         1); /* verified tokens cached per thread are checked again */
    }
    atomic_store(&key_ring.loaded_at_ms, cn_now_ms());
    pthread_rwlock_unlock(&key_ring.lock);
}

/*
 * Reads the keys that still verify: not retired, or retired less than their grace ago.
 * Only sealed keys count: one that does not open with the vault key (or a plain one a
 * newer process would have sealed) is skipped, never used.
 */
static int read_keys(cn_store_t *s, cn_err_t *err)
{
    cn_stmt_t *st;
    cn_val_t args[] = {CN_VINT(cn_now_ms()), CN_VINT(MAX_KEYS)};
    int rc = cn_store_query(s,
                            "SELECT kid, secret, created_at, retired_at, verify_until"
                            " FROM signing_keys WHERE verify_until IS NULL OR verify_until > $1"
                            " ORDER BY retired_at IS NOT NULL, created_at DESC, kid DESC LIMIT $2",
                            args, 2, &st, err);
    if (rc != 0)
        return rc;
    key_t_ keys[MAX_KEYS];
    size_t n = 0;
    while ((rc = cn_stmt_step(st, err)) == CN_ROW && n < MAX_KEYS) {
        size_t len;
        const char *kid = cn_stmt_text(st, 0, NULL), *sealed = cn_stmt_text(st, 1, &len);
        if (strlen(kid) >= sizeof(keys[n].kid) ||
            auth_key_unseal(kid, sealed, len, keys[n].secret) != 0)
            continue;
        snprintf(keys[n].kid, sizeof(keys[n].kid), "%s", kid);
        keys[n].created_at = cn_stmt_int(st, 2);
        keys[n].retired = !cn_stmt_is_null(st, 3);
        keys[n].until_s = until_of(st, 4);
        n++;
    }
    cn_stmt_finish(st);
    if (rc < 0) {
        sodium_memzero(keys, sizeof(keys));
        return rc;
    }
    publish_keys(keys, n);
    sodium_memzero(keys, sizeof(keys));
    return 0;
}

/* Inserts a new sealed key that sorts newest, even within one millisecond. */
static int insert_key(cn_store_t *s, char kid[40], cn_err_t *err)
{
    uint8_t secret[KEY_BYTES], id[8];
    char sealed[AUTH_VAULT_LEN(KEY_BYTES)], ad[64];
    cn_random(secret, sizeof(secret));
    cn_random(id, sizeof(id));
    kid[0] = 'k';
    sodium_bin2hex(kid + 1, 39, id, sizeof(id));
    key_ad(kid, ad);
    int ok = auth_vault_seal(secret, sizeof(secret), ad, sealed, sizeof(sealed)) == 0;
    sodium_memzero(secret, sizeof(secret));
    if (!ok)
        return cn_err_set(err, CN_ERR, "cannot seal a signing key: the secrets key is not open");
    int64_t created = cn_now_ms();
    int64_t newest = 0; /* NULL (no key yet) reads as 0 */
    int rc = cn_store_one_int(s, "SELECT MAX(created_at) FROM signing_keys", NULL, 0, &newest, err);
    if (rc != 0)
        return rc;
    if (newest >= created)
        created = newest + 1;
    cn_val_t args[] = {CN_VTEXT(kid), CN_VTEXT(sealed), CN_VINT(created)};
    return cn_store_exec(s,
                         "INSERT INTO signing_keys (kid, secret, created_at) VALUES ($1, $2, $3)",
                         args, 3, NULL, err);
}

const cn_sql_pair_t auth_keys_lock = {
    .sqlite = NULL, /* the write transaction holds the process write lock */
    .postgres = "SELECT pg_advisory_xact_lock(hashtextextended('cairn.signing_keys', 0))"};

/* Opens the transaction of a change to the set of keys, holding the keys' lock from its
 * first statement: such changes (a first key, a rotation, a retirement) run one after the
 * other whichever node makes them, and each reads the keys only once it holds the lock. */
static int begin_keys(cn_store_t *s, cn_err_t *err)
{
    int rc = cn_store_begin(s, err);
    const char *lock = cn_store_sql(s, &auth_keys_lock);
    if (rc == 0 && lock != NULL && (rc = cn_store_exec(s, lock, NULL, 0, NULL, err)) != 0)
        cn_store_rollback(s);
    return rc;
}

/* Adds a new key (it signs from now on) and retires the others: they verify for one more
 * token lifetime. Inside begin_keys' transaction. */
static int replace_keys(cn_store_t *s, char kid[40], cn_err_t *err)
{
    int rc = insert_key(s, kid, err);
    if (rc != 0)
        return rc;
    int64_t now = cn_now_ms();
    cn_val_t args[] = {CN_VTEXT(kid), CN_VINT(now), CN_VINT(now + AUTH_KEY_GRACE_S * 1000LL)};
    return cn_store_exec(s,
                         "UPDATE signing_keys SET retired_at = $2, verify_until = $3"
                         " WHERE retired_at IS NULL AND kid <> $1",
                         args, 3, NULL, err);
}

int auth_keys_rotate(cn_store_t *s, char kid[40], cn_err_t *err)
{
    int rc = begin_keys(s, err);
    if (rc != 0)
        return rc;
    rc = cn_store_end(s, replace_keys(s, kid, err), err);
    return rc != 0 ? rc : read_keys(s, err);
}

/* The newest key that is not retired, in the store (not in memory): "" when none. */
static int newest_active(cn_store_t *s, char kid[40], cn_err_t *err)
{
    kid[0] = '\0';
    int rc = cn_store_one_text(s,
                               "SELECT kid FROM signing_keys WHERE retired_at IS NULL"
                               " ORDER BY created_at DESC, kid DESC LIMIT 1",
                               NULL, 0, kid, 40, err);
    return rc == CN_ENOTFOUND ? 0 : rc; /* none: kid stays empty */
}

/* Ends key kid (every key but keep, when kid is NULL) now; reports each one retired. */
static int retire_now(cn_store_t *s, const char *kid, const char *keep,
                      void (*each)(const char *kid, void *ud), void *ud, cn_err_t *err)
{
    int64_t now = cn_now_ms();
    cn_val_t args[] = {CN_VTEXT(kid ? kid : ""), CN_VTEXT(keep), CN_VINT(now)};
    cn_stmt_t *st;
    int rc = cn_store_query(s,
                            "UPDATE signing_keys SET retired_at = COALESCE(retired_at, $3),"
                            " verify_until = $3 WHERE (verify_until IS NULL OR verify_until > $3)"
                            " AND (kid = $1 OR ($1 = '' AND kid <> $2)) RETURNING kid",
                            args, 3, &st, err);
    if (rc != 0)
        return rc;
    while ((rc = cn_stmt_step(st, err)) == CN_ROW)
        if (each != NULL)
            each(cn_stmt_text(st, 0, NULL), ud);
    cn_stmt_finish(st);
    return rc == CN_DONE ? 0 : rc;
}

int auth_keys_retire(cn_store_t *s, const char *kid, void (*each)(const char *kid, void *ud),
                     void *ud, cn_err_t *err)
{
    char newest[40] = "", fresh[40];
    int rc = begin_keys(s, err);
    if (rc == 0)
        rc = newest_active(s, newest, err);
    if (rc == 0 && kid != NULL) {
        cn_val_t a[] = {CN_VTEXT(kid)};
        rc = cn_store_exists(s, "SELECT 1 FROM signing_keys WHERE kid = $1", a, 1, err);
        if (rc == CN_ENOTFOUND)
            cn_err_set(err, CN_ENOTFOUND, "no signing key %s", kid);
    }
    /* the signing key itself goes (or there is none): a new one signs from now on */
    int needs_new = newest[0] == '\0' || (kid != NULL && strcmp(kid, newest) == 0);
    if (rc == 0 && needs_new && (rc = insert_key(s, fresh, err)) == 0)
        snprintf(newest, sizeof(newest), "%s", fresh);
    if (rc == 0)
        rc = retire_now(s, kid, newest, each, ud, err);
    rc = cn_store_end(s, rc, err);
    return rc != 0 ? rc : read_keys(s, err);
}

/* Seals one key stored in plain hex by an older version. */
static int seal_key(cn_store_t *s, const char *kid, const char *plain, cn_err_t *err)
{
    uint8_t secret[KEY_BYTES];
    char sealed[AUTH_VAULT_LEN(KEY_BYTES)], ad[64];
    size_t got = 0;
    key_ad(kid, ad);
    int ok = sodium_hex2bin(secret, sizeof(secret), plain, strlen(plain), NULL, &got, NULL) == 0 &&
             got == KEY_BYTES && auth_vault_seal(secret, got, ad, sealed, sizeof(sealed)) == 0;
    sodium_memzero(secret, sizeof(secret));
    if (!ok)
        return cn_err_set(err, CN_ERR, "the stored signing key %s is malformed", kid);
    cn_val_t args[] = {CN_VTEXT(kid), CN_VTEXT(sealed)};
    return cn_store_exec(s, "UPDATE signing_keys SET secret = $2 WHERE kid = $1", args, 2, NULL,
                         err);
}

int auth_keys_seal_plain(cn_store_t *s, int64_t *sealed, cn_err_t *err)
{
    *sealed = 0;
    for (;;) { /* one row at a time: no statement stays open across the UPDATE */
        char kid[64] = "", plain[160] = "";
        cn_stmt_t *st;
        int rc = cn_store_query(s,
                                "SELECT kid, secret FROM signing_keys WHERE secret NOT LIKE 'v1:%'"
                                " LIMIT 1",
                                NULL, 0, &st, err);
        if (rc != 0)
            return rc;
        if ((rc = cn_stmt_step(st, err)) == CN_ROW) {
            snprintf(kid, sizeof(kid), "%s", cn_stmt_text(st, 0, NULL));
            snprintf(plain, sizeof(plain), "%s", cn_stmt_text(st, 1, NULL));
        }
        cn_stmt_finish(st);
        if (rc != CN_ROW)
            return rc < 0 ? rc : 0;
        rc = seal_key(s, kid, plain, err);
        sodium_memzero(plain, sizeof(plain));
        if (rc != 0)
            return rc;
        (*sealed)++;
    }
}

int auth_keys_unusable(cn_store_t *s, int retire, int64_t *count, cn_err_t *err)
{
    *count = 0;
    cn_stmt_t *st;
    cn_val_t args[] = {CN_VINT(cn_now_ms())};
    int rc = cn_store_query(s,
                            "SELECT kid, secret FROM signing_keys WHERE secret LIKE 'v1:%'"
                            " AND (verify_until IS NULL OR verify_until > $1)",
                            args, 1, &st, err);
    if (rc != 0)
        return rc;
    char bad[MAX_KEYS][40];
    size_t n_bad = 0;
    while ((rc = cn_stmt_step(st, err)) == CN_ROW) {
        size_t len;
        uint8_t secret[KEY_BYTES];
        const char *kid = cn_stmt_text(st, 0, NULL), *sealed = cn_stmt_text(st, 1, &len);
        if (auth_key_unseal(kid, sealed, len, secret) != 0) {
            if (n_bad < MAX_KEYS)
                snprintf(bad[n_bad++], sizeof(bad[0]), "%s", kid);
            (*count)++;
        }
        sodium_memzero(secret, sizeof(secret));
    }
    cn_stmt_finish(st);
    if (rc < 0)
        return rc;
    for (size_t i = 0; retire && i < n_bad; i++) /* nobody can use them: they end now */
        if ((rc = retire_now(s, bad[i], "", NULL, NULL, err)) != 0)
            return rc;
    return 0;
}

/* Whether the keys in memory include one that signs. */
static int can_sign(void)
{
    pthread_rwlock_rdlock(&key_ring.lock);
    int yes = key_ring.n > 0 && !key_ring.keys[0].retired;
    pthread_rwlock_unlock(&key_ring.lock);
    return yes;
}

int auth_keys_load(cn_store_t *s, cn_err_t *err)
{
    int rc = read_keys(s, err);
    if (rc != 0 || can_sign())
        return rc;
    /* None signs (a first start): look again holding the keys' lock, and add one only if
     * there is still none, so nodes starting together on one database add one key, not
     * one each (each retiring the others'). */
    char kid[40];
    if ((rc = begin_keys(s, err)) != 0)
        return rc;
    if ((rc = read_keys(s, err)) == 0 && !can_sign())
        rc = replace_keys(s, kid, err);
    rc = cn_store_end(s, rc, err);
    return rc != 0 ? rc : read_keys(s, err);
}

void auth_keys_free(void)
{
    pthread_rwlock_wrlock(&key_ring.lock);
    sodium_memzero(key_ring.keys, sizeof(key_ring.keys));
    key_ring.n = 0;
    key_ring.fingerprint = 0;
    atomic_fetch_add(&key_ring.gen, 1);
    atomic_store(&key_ring.loaded_at_ms, 0);
    pthread_rwlock_unlock(&key_ring.lock);
}

static void append_b64url(cn_buf_t *out, const char *data, size_t len)
{
    cn_buf_reserve(out, len * 4 / 3 + 4);
    out->len += cn_base64url_encode_fast((const uint8_t *)data, len, out->data + out->len);
}

/*
 * Signing is written out here rather than through libjwt: libjwt serialises with jansson
 * and signs through OpenSSL 3's EVP_Q_mac, which together cost a third of a token
 * refresh. The unit tests check every token we issue against libjwt's decoder.
 */
char *auth_token_issue(const auth_claims_t *c)
{
    pthread_rwlock_rdlock(&key_ring.lock);
    if (key_ring.n == 0 || key_ring.keys[0].retired) { /* retired keys only verify */
        pthread_rwlock_unlock(&key_ring.lock);
        return NULL;
    }
    key_t_ key = key_ring.keys[0];
    pthread_rwlock_unlock(&key_ring.lock);
    cn_buf_t json = {0}, out = {0};
    cn_jw_t w;
    cn_jw_init(&w, &json);
    cn_jw_object(&w);
    cn_jw_key(&w, "alg");
    cn_jw_str(&w, "HS256", 5);
    cn_jw_key(&w, "kid");
    cn_jw_str(&w, key.kid, strlen(key.kid));
    cn_jw_key(&w, "typ");
    cn_jw_str(&w, "JWT", 3);
    cn_jw_end(&w);
    append_b64url(&out, json.data, json.len);
    cn_buf_lit(&out, ".");
    json.len = 0;
    cn_jw_init(&w, &json);
    cn_jw_object(&w);
    const char *names[] = {"iss", "aud", "sub", "tid", "sid"};
    const char *values[] = {AUTH_ISSUER, AUTH_AUDIENCE, c->sub, c->tid, c->sid};
    for (size_t i = 0; i < 5; i++) {
        cn_jw_key(&w, names[i]);
        cn_jw_str(&w, values[i], strlen(values[i]));
    }
    cn_jw_key(&w, "roles");
    cn_jw_array(&w);
    cn_jw_str(&w, c->role, strlen(c->role));
    cn_jw_end(&w);
    cn_jw_key(&w, "mfa");
    cn_jw_bool(&w, c->mfa);
    cn_jw_key(&w, "iat");
    cn_jw_int(&w, c->iat);
    cn_jw_key(&w, "nbf");
    cn_jw_int(&w, c->nbf);
    cn_jw_key(&w, "exp");
    cn_jw_int(&w, c->exp);
    cn_jw_end(&w);
    append_b64url(&out, json.data, json.len);
    uint8_t mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key.secret, KEY_BYTES);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)out.data, out.len);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_memzero(&st, sizeof(st));
    sodium_memzero(&key, sizeof(key));
    cn_buf_lit(&out, ".");
    append_b64url(&out, (const char *)mac, sizeof(mac));
    cn_buf_free(&json);
    return out.data; /* the caller frees it */
}

/* Copies the secret of kid and until when it verifies; 0 when the kid is unknown. */
static int find_key(const char *kid, uint8_t secret[KEY_BYTES], int64_t *until_s)
{
    int found = 0;
    pthread_rwlock_rdlock(&key_ring.lock);
    for (size_t i = 0; i < key_ring.n && !found; i++)
        if (strcmp(key_ring.keys[i].kid, kid) == 0) {
            memcpy(secret, key_ring.keys[i].secret, KEY_BYTES);
            *until_s = key_ring.keys[i].until_s;
            found = 1;
        }
    pthread_rwlock_unlock(&key_ring.lock);
    return found;
}

static json_t *decode_segment(const char *p, size_t len)
{
    uint8_t buf[MAX_TOKEN];
    long n = len <= sizeof(buf) * 3 / 4 ? cn_base64url_decode_fast(p, len, buf) : -1;
    if (n <= 0)
        return NULL;
    json_error_t jerr;
    json_t *j = json_loadb((const char *)buf, (size_t)n, JSON_REJECT_DUPLICATES, &jerr);
    if (j != NULL && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static int copy_claim(json_t *payload, const char *name, char *out, size_t cap)
{
    const char *v = json_string_value(json_object_get(payload, name));
    if (v == NULL || strlen(v) == 0 || strlen(v) >= cap)
        return -1;
    memcpy(out, v, strlen(v) + 1);
    return 0;
}

const char auth_why_token_expired[] = "the token has expired";
const char auth_why_key_retired[] = "the token's signing key was retired";

static int check_claims(json_t *p, int64_t now, auth_claims_t *out, const char **why)
{
    const char *iss = json_string_value(json_object_get(p, "iss"));
    const char *aud = json_string_value(json_object_get(p, "aud"));
    json_t *exp = json_object_get(p, "exp"), *nbf = json_object_get(p, "nbf");
    json_t *roles = json_object_get(p, "roles");
    if (iss == NULL || strcmp(iss, AUTH_ISSUER) != 0 || aud == NULL ||
        strcmp(aud, AUTH_AUDIENCE) != 0)
        return *why = "the token was not issued for this API", -1;
    if (!json_is_integer(exp) || !json_is_integer(nbf))
        return *why = "the token lacks its validity times", -1;
    out->exp = json_integer_value(exp);
    out->nbf = json_integer_value(nbf);
    out->iat = json_integer_value(json_object_get(p, "iat")); /* 0 when absent */
    out->mfa = json_is_true(json_object_get(p, "mfa"));
    if (now >= out->exp)
        return *why = auth_why_token_expired, -1;
    if (now < out->nbf)
        return *why = "the token is not valid yet", -1;
    if (copy_claim(p, "sub", out->sub, sizeof(out->sub)) ||
        copy_claim(p, "tid", out->tid, sizeof(out->tid)) ||
        copy_claim(p, "sid", out->sid, sizeof(out->sid)) || !json_is_array(roles) ||
        json_array_size(roles) != 1 || !json_is_string(json_array_get(roles, 0)) ||
        json_string_length(json_array_get(roles, 0)) >= sizeof(out->role))
        return *why = "the token lacks required claims", -1;
    snprintf(out->role, sizeof(out->role), "%s", json_string_value(json_array_get(roles, 0)));
    return 0;
}

/* Re-reads the keys when the copy was read in an earlier second than now_s: at most once
 * a second, never more than a second late. One thread at a time (the others go on with
 * the copy they have). 1 when this call re-read them. */
static int reload_if_older(cn_store_t *s, int64_t now_s)
{
    int expected = 0;
    if (s == NULL ||
        now_s <= atomic_load_explicit(&key_ring.loaded_at_ms, memory_order_relaxed) / 1000 ||
        !atomic_compare_exchange_strong(&key_ring.reloading, &expected, 1))
        return 0;
    cn_err_t err;
    int64_t since_ms = atomic_load(&key_ring.loaded_at_ms) - 2000; /* overlap: commits in flight */
    int ok = read_keys(s, &err) == 0;
    /* sessions another process ended (cairn user set-password): refused within a second */
    if (ok && since_ms > 0 && auth_revocations_since(s, since_ms, &err) != 0)
        cn_log(CN_LOG_WARN, NULL, "cannot re-read ended sessions: %s", err.msg);
    atomic_store(&key_ring.reloading, 0);
    return ok;
}

/*
 * Verification re-reads the keys at most once a second (a new second of the request's
 * own time, so no clock is read per request): a key `cairn keys retire` ended in another
 * process stops verifying here within that second, and an unknown kid may be a key
 * another process just added.
 */
static int maybe_reload(cn_store_t *s, int64_t now_s)
{
    return reload_if_older(s, now_s);
}

void auth_keys_refresh(cn_store_t *s)
{
    reload_if_older(s, cn_now_ms() / 1000); /* `cairn keys rotate` reaches signing in a second */
}

/*
 * A per-thread cache of tokens already verified: a client sends the same access token
 * for up to 15 minutes, and re-parsing two JSON segments and an HMAC per request would
 * halve the throughput of authenticated reads. A hit needs the whole presented token to
 * equal the cached one (compared in constant time); times are checked on every use.
 */
#define CACHE_SLOTS 256
#define CACHE_TOKEN_MAX 640

typedef struct {
    size_t len; /* 0 = empty */
    char token[CACHE_TOKEN_MAX];
    auth_claims_t claims;
    uint64_t key_gen; /* key_ring.gen when verified: any change to the keys verifies again */
    int64_t key_until_s;
} cached_t;

/* A pthread key (not _Thread_local) so each thread's cache is freed when it exits. */
static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static void make_cache_key(void)
{
    pthread_key_create(&cache_key, free);
}

static cached_t *thread_cache(int create)
{
    pthread_once(&cache_once, make_cache_key);
    cached_t *c = pthread_getspecific(cache_key);
    if (c == NULL && create) {
        c = cn_calloc(CACHE_SLOTS, sizeof(cached_t));
        pthread_setspecific(cache_key, c);
    }
    return c;
}

static size_t cache_slot(const char *token, size_t len)
{
    size_t from = len > 16 ? len - 16 : 0; /* the last characters are the signature: random */
    return (size_t)(cn_fnv1a(CN_FNV_OFFSET, token + from, len - from) % CACHE_SLOTS);
}

/*
 * 1 when a and b (n bytes each) are equal, in time that depends on n only: the bytes are
 * combined eight at a time with no branch on their values. sodium_memcmp (like CRYPTO_memcmp)
 * goes a byte at a time through a volatile pointer, which on a whole token was 2 % of an
 * authenticated GET.
 */
static int equal_ct(const char *a, const char *b, size_t n)
{
    uint64_t diff = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        diff |= x ^ y;
    }
    for (; i < n; i++)
        diff |= (uint8_t)(a[i] ^ b[i]);
    return diff == 0;
}

static const cached_t *cache_find(const char *token, size_t len)
{
    cached_t *cache = len <= CACHE_TOKEN_MAX ? thread_cache(0) : NULL;
    if (cache == NULL)
        return NULL;
    cached_t *c = &cache[cache_slot(token, len)];
    return c->len == len &&
                   c->key_gen == atomic_load_explicit(&key_ring.gen, memory_order_relaxed) &&
                   equal_ct(c->token, token, len)
               ? c
               : NULL;
}

static void cache_put(const char *token, size_t len, const auth_claims_t *claims, uint64_t gen,
                      int64_t key_until_s)
{
    if (len > CACHE_TOKEN_MAX)
        return;
    cached_t *c = &thread_cache(1)[cache_slot(token, len)];
    memcpy(c->token, token, len);
    c->len = len;
    c->claims = *claims;
    c->key_gen = gen;
    c->key_until_s = key_until_s;
}

static int verify_uncached(const char *token, size_t len, int64_t now_s, cn_store_t *s,
                           auth_claims_t *out, int64_t *key_until_s, const char **why);

int auth_token_verify(const char *token, size_t len, int64_t now_s, cn_store_t *s,
                      auth_claims_t *out, const char **why)
{
    maybe_reload(s, now_s);
    const cached_t *c = cache_find(token, len);
    if (c == NULL) {
        uint64_t gen =
            atomic_load(&key_ring.gen); /* before reading the key: a change re-verifies */
        int64_t key_until_s = 0;
        int rc = verify_uncached(token, len, now_s, s, out, &key_until_s, why);
        if (rc == 0)
            cache_put(token, len, out, gen, key_until_s);
        return rc;
    }
    const auth_claims_t *hit = &c->claims;
    if (now_s >= c->key_until_s)
        return *why = auth_why_key_retired, -1;
    if (now_s >= hit->exp)
        return *why = auth_why_token_expired, -1;
    if (now_s < hit->nbf)
        return *why = "the token is not valid yet", -1;
    *out = *hit;
    return 0;
}

static int verify_uncached(const char *token, size_t len, int64_t now_s, cn_store_t *s,
                           auth_claims_t *out, int64_t *key_until_s, const char **why)
{
    *why = "the token is malformed";
    if (len == 0 || len > MAX_TOKEN)
        return -1;
    const char *dot1 = memchr(token, '.', len);
    const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
    if (dot1 == NULL || dot2 == NULL || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)))
        return -1;
    json_t *header = decode_segment(token, (size_t)(dot1 - token));
    const char *alg = json_string_value(json_object_get(header, "alg"));
    const char *kid = json_string_value(json_object_get(header, "kid"));
    uint8_t secret[KEY_BYTES];
    int rc = -1;
    if (alg == NULL || strcmp(alg, "HS256") != 0) {
        *why = "the token must be signed with HS256";
    } else if (kid == NULL || (!find_key(kid, secret, key_until_s) &&
                               !(maybe_reload(s, now_s) && find_key(kid, secret, key_until_s)))) {
        *why = "the token's signing key is unknown";
    } else if (now_s >= *key_until_s) {
        sodium_memzero(secret, sizeof(secret));
        *why = auth_why_key_retired;
    } else {
        /* libsodium's HMAC: no allocation or algorithm lookup per call (OpenSSL 3's is slow) */
        uint8_t mac[crypto_auth_hmacsha256_BYTES], sig[64];
        size_t sig_len = len - (size_t)(dot2 + 1 - token);
        long got = sig_len <= 86 ? cn_base64url_decode_fast(dot2 + 1, sig_len, sig) : -1;
        crypto_auth_hmacsha256_state st;
        crypto_auth_hmacsha256_init(&st, secret, KEY_BYTES);
        crypto_auth_hmacsha256_update(&st, (const uint8_t *)token, (size_t)(dot2 - token));
        crypto_auth_hmacsha256_final(&st, mac);
        sodium_memzero(&st, sizeof(st));
        sodium_memzero(secret, sizeof(secret));
        if (got != (long)sizeof(mac) || sodium_memcmp(mac, sig, sizeof(mac)) != 0) {
            *why = "the token's signature is not valid";
        } else {
            json_t *payload = decode_segment(dot1 + 1, (size_t)(dot2 - dot1 - 1));
            rc = payload ? check_claims(payload, now_s, out, why) : -1;
            json_decref(payload);
        }
    }
    json_decref(header);
    return rc;
}

void auth_refresh_hash(const char *token, size_t len, char hash[65])
{
    uint8_t digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, (const uint8_t *)token, len);
    sodium_bin2hex(hash, 65, digest, sizeof(digest));
}

void auth_refresh_new(char token[48], char hash[65])
{
    uint8_t raw[32];
    cn_random(raw, sizeof(raw));
    cn_base64url_encode(raw, sizeof(raw), token);
    sodium_memzero(raw, sizeof(raw));
    auth_refresh_hash(token, strlen(token), hash);
}
