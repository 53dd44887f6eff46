/*
 * Tokens (see tokens.h). Issuing and verifying are done here (libjwt is the reference the
 * unit tests check against). Verification, before any claim is trusted: the header must say alg
 * HS256 with a known kid, and the HMAC is recomputed with OpenSSL and compared with CRYPTO_memcmp,
 * so the check is constant-time and "alg":"none" or algorithm switching can never reach a claim
 * parser.
 */
#include "auth/tokens.h"
#include "core/json.h"
#include "lib/formats.h"

#include <openssl/crypto.h>
#include <pthread.h>
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
} key_t_;

static struct {
    pthread_rwlock_t lock;
    key_t_ keys[MAX_KEYS]; /* newest first */
    size_t n;
    int64_t loaded_at_ms;
} K = {PTHREAD_RWLOCK_INITIALIZER};

static void hex(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int unhex(const char *s, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (uint8_t)v;
    }
    return 0;
}

static int read_keys(cn_store_t *s, cn_err_t *err)
{
    cn_stmt_t *st;
    cn_val_t args[] = {CN_VINT(MAX_KEYS)};
    int rc = cn_store_query(s,
                            "SELECT kid, secret, created_at FROM signing_keys"
                            " ORDER BY created_at DESC, kid DESC LIMIT $1",
                            args, 1, &st, err);
    if (rc != 0)
        return rc;
    key_t_ keys[MAX_KEYS];
    size_t n = 0;
    while ((rc = cn_stmt_step(st, err)) == CN_ROW && n < MAX_KEYS) {
        size_t len;
        const char *secret = cn_stmt_text(st, 1, &len);
        if (len != 2 * KEY_BYTES || unhex(secret, keys[n].secret, KEY_BYTES) != 0)
            continue;
        snprintf(keys[n].kid, sizeof(keys[n].kid), "%s", cn_stmt_text(st, 0, NULL));
        keys[n].created_at = cn_stmt_int(st, 2);
        n++;
    }
    cn_stmt_finish(st);
    if (rc < 0)
        return rc;
    pthread_rwlock_wrlock(&K.lock);
    memcpy(K.keys, keys, n * sizeof(key_t_));
    K.n = n;
    K.loaded_at_ms = cn_now_ms();
    pthread_rwlock_unlock(&K.lock);
    return 0;
}

int auth_keys_rotate(cn_store_t *s, char kid[40], cn_err_t *err)
{
    uint8_t secret[KEY_BYTES], id[8];
    char secret_hex[2 * KEY_BYTES + 1];
    cn_random(secret, sizeof(secret));
    cn_random(id, sizeof(id));
    kid[0] = 'k';
    hex(id, sizeof(id), kid + 1);
    hex(secret, sizeof(secret), secret_hex);
    OPENSSL_cleanse(secret, sizeof(secret));
    /* the newest key signs: make sure this one sorts newest even within one millisecond */
    int64_t created = cn_now_ms();
    cn_stmt_t *st;
    int rc = cn_store_query(s, "SELECT MAX(created_at) FROM signing_keys", NULL, 0, &st, err);
    if (rc != 0)
        return rc;
    if (cn_stmt_step(st, err) == CN_ROW && !cn_stmt_is_null(st, 0) && cn_stmt_int(st, 0) >= created)
        created = cn_stmt_int(st, 0) + 1;
    cn_stmt_finish(st);
    cn_val_t args[] = {CN_VTEXT(kid), CN_VTEXT(secret_hex), CN_VINT(created)};
    rc = cn_store_exec(s, "INSERT INTO signing_keys (kid, secret, created_at) VALUES ($1, $2, $3)",
                       args, 3, NULL, err);
    OPENSSL_cleanse(secret_hex, sizeof(secret_hex));
    return rc != 0 ? rc : read_keys(s, err);
}

int auth_keys_load(cn_store_t *s, cn_err_t *err)
{
    int rc = read_keys(s, err);
    if (rc == 0 && K.n == 0) {
        char kid[40];
        rc = auth_keys_rotate(s, kid, err);
    }
    return rc;
}

void auth_keys_free(void)
{
    pthread_rwlock_wrlock(&K.lock);
    OPENSSL_cleanse(K.keys, sizeof(K.keys));
    K.n = 0;
    pthread_rwlock_unlock(&K.lock);
}

static void append_b64url(cn_buf_t *out, const char *data, size_t len)
{
    cn_buf_reserve(out, len * 4 / 3 + 4);
    out->len += cn_base64url_encode((const uint8_t *)data, len, out->data + out->len);
}

/*
 * Signing is written out here rather than through libjwt: libjwt serialises with jansson
 * and signs through OpenSSL 3's EVP_Q_mac, which together cost a third of a token
 * refresh. The unit tests check every token we issue against libjwt's decoder.
 */
char *auth_token_issue(const auth_claims_t *c)
{
    pthread_rwlock_rdlock(&K.lock);
    if (K.n == 0) {
        pthread_rwlock_unlock(&K.lock);
        return NULL;
    }
    key_t_ key = K.keys[0];
    pthread_rwlock_unlock(&K.lock);
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
    OPENSSL_cleanse(&key, sizeof(key));
    cn_buf_lit(&out, ".");
    append_b64url(&out, (const char *)mac, sizeof(mac));
    cn_buf_free(&json);
    return out.data; /* the caller frees it */
}

static int find_key(const char *kid, uint8_t secret[KEY_BYTES])
{
    int found = 0;
    pthread_rwlock_rdlock(&K.lock);
    for (size_t i = 0; i < K.n && !found; i++)
        if (strcmp(K.keys[i].kid, kid) == 0) {
            memcpy(secret, K.keys[i].secret, KEY_BYTES);
            found = 1;
        }
    pthread_rwlock_unlock(&K.lock);
    return found;
}

static json_t *decode_segment(const char *p, size_t len)
{
    uint8_t buf[MAX_TOKEN];
    long n = len <= sizeof(buf) * 3 / 4 ? cn_base64url_decode(p, len, buf) : -1;
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
        return *why = "the token has expired", -1;
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

static int reload_if_older(cn_store_t *s, int64_t max_age_ms)
{
    pthread_rwlock_rdlock(&K.lock);
    int stale = cn_now_ms() - K.loaded_at_ms > max_age_ms;
    pthread_rwlock_unlock(&K.lock);
    cn_err_t err;
    return stale && s != NULL && read_keys(s, &err) == 0;
}

/* An unknown kid may be a key another process just added: reload, at most once a second. */
static int maybe_reload(cn_store_t *s)
{
    return reload_if_older(s, 1000);
}

void auth_keys_refresh(cn_store_t *s)
{
    reload_if_older(s, 60 * 1000); /* `cairn keys rotate` reaches signing within a minute */
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

static const auth_claims_t *cache_find(const char *token, size_t len)
{
    cached_t *cache = len <= CACHE_TOKEN_MAX ? thread_cache(0) : NULL;
    if (cache == NULL)
        return NULL;
    cached_t *c = &cache[cache_slot(token, len)];
    return c->len == len && CRYPTO_memcmp(c->token, token, len) == 0 ? &c->claims : NULL;
}

static void cache_put(const char *token, size_t len, const auth_claims_t *claims)
{
    if (len > CACHE_TOKEN_MAX)
        return;
    cached_t *c = &thread_cache(1)[cache_slot(token, len)];
    memcpy(c->token, token, len);
    c->len = len;
    c->claims = *claims;
}

static int verify_uncached(const char *token, size_t len, int64_t now_s, cn_store_t *s,
                           auth_claims_t *out, const char **why);

int auth_token_verify(const char *token, size_t len, int64_t now_s, cn_store_t *s,
                      auth_claims_t *out, const char **why)
{
    const auth_claims_t *hit = cache_find(token, len);
    if (hit == NULL) {
        int rc = verify_uncached(token, len, now_s, s, out, why);
        if (rc == 0)
            cache_put(token, len, out);
        return rc;
    }
    if (now_s >= hit->exp)
        return *why = "the token has expired", -1;
    if (now_s < hit->nbf)
        return *why = "the token is not valid yet", -1;
    *out = *hit;
    return 0;
}

static int verify_uncached(const char *token, size_t len, int64_t now_s, cn_store_t *s,
                           auth_claims_t *out, const char **why)
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
    } else if (kid == NULL ||
               (!find_key(kid, secret) && !(maybe_reload(s) && find_key(kid, secret)))) {
        *why = "the token's signing key is unknown";
    } else {
        /* libsodium's HMAC: no allocation or algorithm lookup per call (OpenSSL 3's is slow) */
        uint8_t mac[crypto_auth_hmacsha256_BYTES], sig[64];
        size_t sig_len = len - (size_t)(dot2 + 1 - token);
        long got = sig_len <= 86 ? cn_base64url_decode(dot2 + 1, sig_len, sig) : -1;
        crypto_auth_hmacsha256_state st;
        crypto_auth_hmacsha256_init(&st, secret, KEY_BYTES);
        crypto_auth_hmacsha256_update(&st, (const uint8_t *)token, (size_t)(dot2 - token));
        crypto_auth_hmacsha256_final(&st, mac);
        sodium_memzero(&st, sizeof(st));
        OPENSSL_cleanse(secret, sizeof(secret));
        if (got != (long)sizeof(mac) || CRYPTO_memcmp(mac, sig, sizeof(mac)) != 0) {
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

/* ---- revoked sessions: an open-addressing set, pruned as entries expire ---- */

#define REVOKED_MIN 1024 /* slots; a power of two, doubled while over half full */

typedef struct {
    char sid[40];
    int64_t until_s; /* 0 = empty slot */
} revoked_t;

static struct {
    pthread_rwlock_t lock;
    revoked_t *slots;
    size_t cap, count;
} R = {PTHREAD_RWLOCK_INITIALIZER};

/* Rebuilds the table with cap slots, dropping entries that expired. */
static void rebuild(size_t cap, int64_t now)
{
    revoked_t *old = R.slots;
    size_t old_cap = R.cap;
    R.slots = cn_calloc(cap, sizeof(revoked_t));
    R.cap = cap;
    R.count = 0;
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i].until_s <= now)
            continue;
        size_t j = cn_hash_str(old[i].sid) & (cap - 1);
        while (R.slots[j].until_s)
            j = (j + 1) & (cap - 1);
        R.slots[j] = old[i];
        R.count++;
    }
    free(old);
}

void auth_revoke_session(const char *sid)
{
    int64_t now = cn_now_ms() / 1000, until = now + AUTH_ACCESS_TTL_S + 60;
    pthread_rwlock_wrlock(&R.lock);
    if (R.slots == NULL)
        rebuild(REVOKED_MIN, now);
    if ((R.count + 1) * 2 > R.cap) { /* prune first; grow only if that is not enough */
        rebuild(R.cap, now);
        if ((R.count + 1) * 2 > R.cap)
            rebuild(R.cap * 2, now);
    }
    size_t j = cn_hash_str(sid) & (R.cap - 1);
    while (R.slots[j].until_s && strcmp(R.slots[j].sid, sid) != 0)
        j = (j + 1) & (R.cap - 1); /* ends: the table is at most half full */
    if (!R.slots[j].until_s)
        R.count++;
    snprintf(R.slots[j].sid, sizeof(R.slots[j].sid), "%s", sid);
    R.slots[j].until_s = until;
    pthread_rwlock_unlock(&R.lock);
}

int auth_session_revoked(const char *sid)
{
    int found = 0;
    pthread_rwlock_rdlock(&R.lock);
    if (R.count > 0) {
        size_t j = cn_hash_str(sid) & (R.cap - 1);
        for (size_t probes = 0; R.slots[j].until_s && !found && probes < R.cap; probes++) {
            found = strcmp(R.slots[j].sid, sid) == 0;
            j = (j + 1) & (R.cap - 1);
        }
    }
    pthread_rwlock_unlock(&R.lock);
    return found;
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

int auth_revocations_load(cn_store_t *s, cn_err_t *err)
{
    cn_val_t args[] = {CN_VINT(cn_now_ms() - (AUTH_ACCESS_TTL_S + 60) * 1000LL)};
    return auth_revoke_sessions(s, "SELECT id FROM sessions WHERE revoked_at > $1", args, 1, NULL,
                                err);
}

void auth_refresh_hash(const char *token, size_t len, char hash[65])
{
    uint8_t digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, (const uint8_t *)token, len);
    hex(digest, sizeof(digest), hash);
}

void auth_refresh_new(char token[48], char hash[65])
{
    uint8_t raw[32];
    cn_random(raw, sizeof(raw));
    cn_base64url_encode(raw, sizeof(raw), token);
    OPENSSL_cleanse(raw, sizeof(raw));
    auth_refresh_hash(token, strlen(token), hash);
}
