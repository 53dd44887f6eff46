/*
 * Unit tests for access tokens (src/auth/tokens.h) on a real store in a temporary
 * directory, with the auth module's own migrations: issue/verify round trips, every way a
 * token can be forged or damaged (payload, signature, "alg":"none", other algorithms,
 * unknown keys, wrong issuer or audience, validity times, missing or oversized claims,
 * garbage), key rotation, the revoked-session set and refresh-token material. Tokens with
 * arbitrary contents are built here by hand: the signing secret is read from the
 * signing_keys table and the HMAC computed with OpenSSL. A seeded random test flips bytes
 * of a valid token and checks that no changed token verifies.
 */
#include "auth/auth.h"
#include "auth/tokens.h"
#include "auth/vault.h"
#include "store/store_int.h"

#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

/* ---- fixture: a temporary data directory with the auth tables and a signing key ---- */

typedef struct {
    char dir[64];
    cn_store_t *store;
    int64_t now; /* seconds */
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return -1;
    strcpy(f->dir, "/tmp/cairn-unit-tokens-XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }
    cn_store_opts_t opts = {.data_dir = f->dir, .busy_timeout_ms = 1000};
    cn_err_t err = {0};
    if (cn_store_open(&opts, &f->store, &err) != 0) {
        fprintf(stderr, "cn_store_open(%s): %s\n", f->dir, err.msg);
        return -1;
    }
    const cn_migration_set_t sets[] = {{auth_module.name, auth_module.migrations}};
    if (cn_migrate(f->store, sets, 1, 0, NULL, NULL, &err) != 0) {
        fprintf(stderr, "cn_migrate: %s\n", err.msg);
        return -1;
    }
    auth_keys_free(); /* keys are process-wide: start every test from this store's */
    auth_sessions_free();
    char key_path[128];
    snprintf(key_path, sizeof(key_path), "%s/secrets.key", f->dir);
    if (auth_vault_open(key_path, &err) != 0 || auth_keys_load(f->store, &err) != 0) {
        fprintf(stderr, "auth_keys_load: %s\n", err.msg);
        return -1;
    }
    f->now = (int64_t)time(NULL);
    *state = f;
    return 0;
}

static int remove_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    return remove(path);
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    auth_keys_free();
    auth_sessions_free();
    auth_vault_close();
    cn_store_close(f->store);
    nftw(f->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* ---- helpers: SQL ---- */

static void exec_sql(cn_store_t *s, const char *sql, const cn_val_t *args, size_t n)
{
    cn_err_t err = {0};
    if (cn_store_exec(s, sql, args, n, NULL, &err) != 0)
        fail_msg("%s: %s", sql, err.msg);
}

static int64_t count_keys(cn_store_t *s)
{
    cn_stmt_t *st;
    cn_err_t err = {0};
    if (cn_store_query(s, "SELECT count(*) FROM signing_keys", NULL, 0, &st, &err) != 0)
        fail_msg("count: %s", err.msg);
    int64_t n = cn_stmt_step(st, &err) == CN_ROW ? cn_stmt_int(st, 0) : -1;
    cn_stmt_finish(st);
    return n;
}

/* The newest key's id and secret, as auth_keys_load orders them. */
static void newest_key(cn_store_t *s, char kid[40], uint8_t secret[32])
{
    cn_stmt_t *st;
    cn_err_t err = {0};
    if (cn_store_query(s,
                       "SELECT kid, secret FROM signing_keys ORDER BY created_at DESC, kid DESC"
                       " LIMIT 1",
                       NULL, 0, &st, &err) != 0)
        fail_msg("newest key: %s", err.msg);
    if (cn_stmt_step(st, &err) != CN_ROW)
        fail_msg("no signing key in the store");
    snprintf(kid, 40, "%s", cn_stmt_text(st, 0, NULL));
    size_t len;
    const char *sealed = cn_stmt_text(st, 1, &len);
    if (auth_key_unseal(kid, sealed, len, secret) != 0)
        fail_msg("the key %s does not open with the vault: %s", kid, sealed);
    cn_stmt_finish(st);
}

/* Inserts a key as `cairn keys rotate` in another process would: sealed by the vault. */
static void insert_sealed_key(cn_store_t *s, const char *kid, const uint8_t secret[32],
                              int64_t created_ms)
{
    char ad[64], sealed[AUTH_VAULT_LEN(32)];
    snprintf(ad, sizeof(ad), "signing_key:%s", kid);
    assert_int_equal(auth_vault_seal(secret, 32, ad, sealed, sizeof(sealed)), 0);
    cn_val_t args[] = {CN_VTEXT(kid), CN_VTEXT(sealed), CN_VINT(created_ms)};
    exec_sql(s, "INSERT INTO signing_keys (kid, secret, created_at) VALUES ($1, $2, $3)", args, 3);
}

/* ---- helpers: base64url and hand-made tokens ---- */

#define B64_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
static const char B64[] = B64_CHARS;

/* Unpadded base64url of n bytes; returns the length written (out gets a NUL). */
static size_t b64url(const void *in, size_t n, char *out)
{
    const uint8_t *p = in;
    size_t o = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = B64[v >> 18 & 63];
        out[o++] = B64[v >> 12 & 63];
        out[o++] = B64[v >> 6 & 63];
        out[o++] = B64[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        out[o++] = B64[v >> 18 & 63];
        out[o++] = B64[v >> 12 & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        out[o++] = B64[v >> 18 & 63];
        out[o++] = B64[v >> 12 & 63];
        out[o++] = B64[v >> 6 & 63];
    }
    out[o] = '\0';
    return o;
}

static int b64val(char c)
{
    const char *p = c ? strchr(B64, c) : NULL;
    return p ? (int)(p - B64) : -1;
}

/* Decodes unpadded base64url into out; returns the length, or -1. */
static long unb64url(const char *in, size_t n, uint8_t *out)
{
    uint32_t acc = 0;
    int bits = 0;
    long o = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64val(in[i]);
        if (v < 0)
            return -1;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    return o;
}

/* A token from raw header and payload JSON, signed with HMAC(md, key); malloc'd. */
static char *sign_raw(const char *header, const char *payload, const uint8_t *key, size_t key_len,
                      const EVP_MD *md)
{
    size_t cap = 2 * (strlen(header) + strlen(payload)) + 200;
    char *tok = malloc(cap);
    assert_non_null(tok);
    size_t n = b64url(header, strlen(header), tok);
    tok[n++] = '.';
    n += b64url(payload, strlen(payload), tok + n);
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned mac_len = 0;
    assert_non_null(HMAC(md, key, (int)key_len, (const uint8_t *)tok, n, mac, &mac_len));
    tok[n++] = '.';
    b64url(mac, mac_len, tok + n);
    return tok;
}

/* Signed with the store's newest key (the one that signs), HS256 with its kid. */
static char *sign_json(fixture_t *f, const char *header_or_null, const char *payload)
{
    char kid[40], header[256];
    uint8_t secret[32];
    newest_key(f->store, kid, secret);
    if (header_or_null == NULL)
        snprintf(header, sizeof(header), "{\"alg\":\"HS256\",\"kid\":\"%s\",\"typ\":\"JWT\"}", kid);
    else
        snprintf(header, sizeof(header), "%s", header_or_null);
    return sign_raw(header, payload, secret, sizeof(secret), EVP_sha256());
}

/* Payload fields as raw JSON values; NULL leaves the field out. */
typedef struct {
    const char *iss, *aud, *sub, *tid, *sid, *roles, *iat, *nbf, *exp, *extra;
} payload_t;

static char nbf_buf[32], exp_buf[32], iat_buf[32];

static payload_t good_payload(int64_t now)
{
    snprintf(iat_buf, sizeof(iat_buf), "%lld", (long long)now);
    snprintf(nbf_buf, sizeof(nbf_buf), "%lld", (long long)now);
    snprintf(exp_buf, sizeof(exp_buf), "%lld", (long long)(now + 900));
    return (payload_t){
        .iss = "\"cairn\"",
        .aud = "\"cairn-api\"",
        .sub = "\"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b\"",
        .tid = "\"0190a1b2-c3d4-7e5f-8a9b-000000000001\"",
        .sid = "\"0190a1b2-c3d4-7e5f-8a9b-00000000000a\"",
        .roles = "[\"member\"]",
        .iat = iat_buf,
        .nbf = nbf_buf,
        .exp = exp_buf,
    };
}

static void build_payload(const payload_t *p, char *out, size_t cap)
{
    const char *names[] = {"iss", "aud", "sub", "tid", "sid", "roles", "iat", "nbf", "exp"};
    const char *vals[] = {p->iss, p->aud, p->sub, p->tid, p->sid, p->roles, p->iat, p->nbf, p->exp};
    size_t n = (size_t)snprintf(out, cap, "{");
    for (size_t i = 0; i < 9; i++)
        if (vals[i] != NULL)
            n += (size_t)snprintf(out + n, cap - n, "%s\"%s\":%s", n > 1 ? "," : "", names[i],
                                  vals[i]);
    if (p->extra)
        n += (size_t)snprintf(out + n, cap - n, "%s%s", n > 1 ? "," : "", p->extra);
    snprintf(out + n, cap - n, "}");
}

static char *sign_payload(fixture_t *f, const payload_t *p)
{
    char payload[8192];
    build_payload(p, payload, sizeof(payload));
    return sign_json(f, NULL, payload);
}

static int verify_at(fixture_t *f, const char *tok, int64_t now, auth_claims_t *out,
                     const char **why)
{
    *why = NULL;
    return auth_token_verify(tok, strlen(tok), now, f->store, out, why);
}

/* Asserts that tok is refused at f->now with a reason containing want (if given). */
static void refused(fixture_t *f, const char *tok, const char *want)
{
    auth_claims_t c;
    const char *why = NULL;
    int rc = verify_at(f, tok, f->now, &c, &why);
    if (rc != -1)
        fail_msg("token verified (rc %d) but must not: %s", rc, tok);
    if (why == NULL || why[0] == '\0')
        fail_msg("no reason given for refusing %s", tok);
    if (want && strstr(why, want) == NULL)
        fail_msg("refused with '%s', expected a reason mentioning '%s'", why, want);
}

static void accepted(fixture_t *f, const char *tok, auth_claims_t *out)
{
    const char *why = NULL;
    int rc = verify_at(f, tok, f->now, out, &why);
    if (rc != 0)
        fail_msg("token refused (%s) but must verify: %s", why ? why : "?", tok);
}

static auth_claims_t sample_claims(int64_t now, const char *role)
{
    auth_claims_t c;
    memset(&c, 0, sizeof(c));
    snprintf(c.sub, sizeof(c.sub), "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b");
    snprintf(c.tid, sizeof(c.tid), "0190a1b2-c3d4-7e5f-8a9b-000000000001");
    snprintf(c.sid, sizeof(c.sid), "0190a1b2-c3d4-7e5f-8a9b-00000000000a");
    snprintf(c.role, sizeof(c.role), "%s", role);
    c.iat = c.nbf = now;
    c.exp = now + AUTH_ACCESS_TTL_S;
    return c;
}

static char *issue(const auth_claims_t *c)
{
    char *tok = auth_token_issue(c);
    assert_non_null(tok);
    return tok;
}

/* The token's header, parsed. */
static json_t *header_of(const char *tok)
{
    const char *dot = strchr(tok, '.');
    assert_non_null(dot);
    uint8_t buf[1024];
    long n = unb64url(tok, (size_t)(dot - tok), buf);
    assert_true(n > 0);
    json_error_t jerr;
    json_t *h = json_loadb((const char *)buf, (size_t)n, 0, &jerr);
    assert_non_null(h);
    return h;
}

/* Replaces segment i (0, 1 or 2) of tok with seg; malloc'd. */
static char *with_segment(const char *tok, int i, const char *seg)
{
    const char *d1 = strchr(tok, '.'), *d2 = strchr(d1 + 1, '.');
    size_t cap = strlen(tok) + strlen(seg) + 4;
    char *out = malloc(cap);
    assert_non_null(out);
    if (i == 0)
        snprintf(out, cap, "%s%s", seg, d1);
    else if (i == 1)
        snprintf(out, cap, "%.*s.%s%s", (int)(d1 - tok), tok, seg, d2);
    else
        snprintf(out, cap, "%.*s.%s", (int)(d2 - tok), tok, seg);
    return out;
}

/* ---- round trip ---- */

static void test_issue_verify_round_trip(void **state)
{
    fixture_t *f = *state;
    static const char *const roles[] = {"owner", "admin", "member", "viewer"};
    for (size_t i = 0; i < 4; i++) {
        auth_claims_t in = sample_claims(f->now, roles[i]), out;
        char *tok = issue(&in);
        /* three non-empty segments of the base64url alphabet */
        const char *d1 = strchr(tok, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
        assert_non_null(d2);
        assert_null(strchr(d2 + 1, '.'));
        assert_true(d1 > tok && d2 > d1 + 1 && d2[1] != '\0');
        assert_int_equal(strspn(tok, B64_CHARS "."), strlen(tok));

        memset(&out, 0x5a, sizeof(out));
        accepted(f, tok, &out);
        assert_string_equal(out.sub, in.sub);
        assert_string_equal(out.tid, in.tid);
        assert_string_equal(out.sid, in.sid);
        assert_string_equal(out.role, roles[i]);
        assert_int_equal(out.nbf, in.nbf);
        assert_int_equal(out.exp, in.exp);
        free(tok);
    }
}

static void test_verify_fills_iat(void **state)
{
    /* "Returns 0 with out filled": iat is part of auth_claims_t and of every token */
    fixture_t *f = *state;
    auth_claims_t in = sample_claims(f->now, "member"), out;
    char *tok = issue(&in);
    memset(&out, 0x5a, sizeof(out));
    accepted(f, tok, &out);
    assert_int_equal(out.iat, in.iat);
    free(tok);
}

static void test_token_header_and_claims(void **state)
{
    fixture_t *f = *state;
    auth_claims_t in = sample_claims(f->now, "viewer");
    char *tok = issue(&in);
    char kid[40];
    uint8_t secret[32];
    newest_key(f->store, kid, secret);

    json_t *h = header_of(tok);
    assert_string_equal(json_string_value(json_object_get(h, "alg")), "HS256");
    assert_string_equal(json_string_value(json_object_get(h, "kid")), kid);
    assert_string_equal(json_string_value(json_object_get(h, "typ")), "JWT");
    json_decref(h);

    /* the payload carries the documented claims, times in seconds */
    const char *d1 = strchr(tok, '.'), *d2 = strchr(d1 + 1, '.');
    uint8_t buf[2048];
    long n = unb64url(d1 + 1, (size_t)(d2 - d1 - 1), buf);
    assert_true(n > 0);
    json_error_t jerr;
    json_t *p = json_loadb((const char *)buf, (size_t)n, 0, &jerr);
    assert_non_null(p);
    assert_string_equal(json_string_value(json_object_get(p, "iss")), "cairn");
    assert_string_equal(json_string_value(json_object_get(p, "aud")), "cairn-api");
    assert_string_equal(json_string_value(json_object_get(p, "sub")), in.sub);
    assert_string_equal(json_string_value(json_object_get(p, "tid")), in.tid);
    assert_string_equal(json_string_value(json_object_get(p, "sid")), in.sid);
    json_t *roles = json_object_get(p, "roles");
    assert_int_equal(json_array_size(roles), 1);
    assert_string_equal(json_string_value(json_array_get(roles, 0)), "viewer");
    assert_int_equal(json_integer_value(json_object_get(p, "iat")), f->now);
    assert_int_equal(json_integer_value(json_object_get(p, "nbf")), f->now);
    assert_int_equal(json_integer_value(json_object_get(p, "exp")), f->now + 900);
    json_decref(p);

    /* and the signature is HMAC-SHA256 of header.payload with the newest key */
    uint8_t mac[32], sig[64];
    unsigned mac_len = 0;
    HMAC(EVP_sha256(), secret, 32, (const uint8_t *)tok, (size_t)(d2 - tok), mac, &mac_len);
    assert_int_equal(mac_len, 32);
    assert_int_equal(unb64url(d2 + 1, strlen(d2 + 1), sig), 32);
    assert_memory_equal(mac, sig, 32);
    free(tok);
}

static void test_hand_made_token_verifies(void **state)
{
    /* the control for every hand-made forgery below: built correctly, it is accepted */
    fixture_t *f = *state;
    payload_t p = good_payload(f->now);
    char *tok = sign_payload(f, &p);
    auth_claims_t out;
    accepted(f, tok, &out);
    assert_string_equal(out.sub, "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b");
    assert_string_equal(out.tid, "0190a1b2-c3d4-7e5f-8a9b-000000000001");
    assert_string_equal(out.sid, "0190a1b2-c3d4-7e5f-8a9b-00000000000a");
    assert_string_equal(out.role, "member");
    assert_int_equal(out.exp, f->now + 900);
    free(tok);
}

static void test_verify_respects_length(void **state)
{
    /* the token arrives inside a header buffer, not NUL-terminated */
    fixture_t *f = *state;
    auth_claims_t in = sample_claims(f->now, "owner"), out;
    char *tok = issue(&in);
    size_t len = strlen(tok);
    char *buf = malloc(len + 16);
    memcpy(buf, tok, len);
    memcpy(buf + len, "XYZ.garbage", 12);
    const char *why = NULL;
    assert_int_equal(auth_token_verify(buf, len, f->now, f->store, &out, &why), 0);
    assert_string_equal(out.role, "owner");
    /* one byte short, or two bytes more, is another token */
    assert_int_equal(auth_token_verify(buf, len - 1, f->now, f->store, &out, &why), -1);
    assert_int_equal(auth_token_verify(buf, len + 2, f->now, f->store, &out, &why), -1);
    free(buf);
    free(tok);
}

/* ---- tampering ---- */

static void test_tampered_payload(void **state)
{
    fixture_t *f = *state;
    auth_claims_t in = sample_claims(f->now, "viewer");
    char *tok = issue(&in);
    const char *d1 = strchr(tok, '.'), *d2 = strchr(d1 + 1, '.');
    size_t mid = (size_t)(d1 - tok) + (size_t)(d2 - d1) / 2;
    tok[mid] = tok[mid] == 'A' ? 'B' : 'A';
    refused(f, tok, "signature is not valid");
    free(tok);

    /* a viewer's signature with an owner's payload: re-encoded claims, same signature */
    tok = issue(&in);
    auth_claims_t owner = sample_claims(f->now, "owner");
    char *other = issue(&owner);
    const char *o1 = strchr(other, '.'), *o2 = strchr(o1 + 1, '.');
    char seg[2048];
    snprintf(seg, sizeof(seg), "%.*s", (int)(o2 - o1 - 1), o1 + 1);
    char *mixed = with_segment(tok, 1, seg);
    refused(f, mixed, "signature is not valid");
    free(mixed);

    /* claims edited by hand and re-encoded without re-signing */
    payload_t p = good_payload(f->now);
    p.roles = "[\"owner\"]";
    char payload[2048], enc[4096];
    build_payload(&p, payload, sizeof(payload));
    b64url(payload, strlen(payload), enc);
    mixed = with_segment(tok, 1, enc);
    refused(f, mixed, "signature is not valid");
    free(mixed);
    free(other);
    free(tok);
}

static void test_tampered_signature(void **state)
{
    fixture_t *f = *state;
    auth_claims_t in = sample_claims(f->now, "member");
    char *tok = issue(&in);
    size_t len = strlen(tok);
    const char *d2 = strrchr(tok, '.');
    size_t sig_at = (size_t)(d2 + 1 - tok), sig_len = len - sig_at;
    assert_int_equal(sig_len, 43); /* 32 bytes */

    char *t = strdup(tok);
    t[sig_at + sig_len / 2] = t[sig_at + sig_len / 2] == 'A' ? 'B' : 'A';
    refused(f, t, "signature is not valid");
    free(t);

    t = strdup(tok);
    t[sig_at] = t[sig_at] == '_' ? '-' : '_';
    refused(f, t, "signature is not valid");
    free(t);

    /* truncated, empty, extended, padded, another token's signature, all zeros */
    char *cut = strndup(tok, len - 1);
    refused(f, cut, NULL);
    free(cut);
    char *empty = with_segment(tok, 2, "");
    refused(f, empty, NULL);
    free(empty);
    char longer[4200], padded[4200];
    snprintf(longer, sizeof(longer), "%sAAAA", tok);
    refused(f, longer, NULL);
    snprintf(padded, sizeof(padded), "%s=", tok);
    refused(f, padded, NULL);

    auth_claims_t in2 = sample_claims(f->now + 1, "member");
    char *tok2 = issue(&in2);
    char *swapped = with_segment(tok, 2, strrchr(tok2, '.') + 1);
    refused(f, swapped, "signature is not valid");
    free(swapped);
    uint8_t zeros[32] = {0};
    char zero_sig[64];
    b64url(zeros, 32, zero_sig);
    char *zeroed = with_segment(tok, 2, zero_sig);
    refused(f, zeroed, "signature is not valid");
    free(zeroed);

    /* the original is still fine */
    auth_claims_t out;
    accepted(f, tok, &out);
    free(tok2);
    free(tok);
}

static void test_signed_with_another_secret(void **state)
{
    fixture_t *f = *state;
    char kid[40], header[128], payload[2048];
    uint8_t secret[32];
    newest_key(f->store, kid, secret);
    snprintf(header, sizeof(header), "{\"alg\":\"HS256\",\"kid\":\"%s\",\"typ\":\"JWT\"}", kid);
    payload_t p = good_payload(f->now);
    build_payload(&p, payload, sizeof(payload));
    secret[0] ^= 1;
    char *tok = sign_raw(header, payload, secret, 32, EVP_sha256());
    refused(f, tok, "signature is not valid");
    free(tok);
    /* an empty key (a classic confusion) */
    tok = sign_raw(header, payload, (const uint8_t *)"", 0, EVP_sha256());
    refused(f, tok, "signature is not valid");
    free(tok);
}

/* ---- algorithms ---- */

static void test_alg_none(void **state)
{
    fixture_t *f = *state;
    auth_claims_t in = sample_claims(f->now, "viewer");
    char *tok = issue(&in);
    char kid[40];
    uint8_t secret[32];
    newest_key(f->store, kid, secret);
    const char *d1 = strchr(tok, '.'), *d2 = strchr(d1 + 1, '.');

    static const char *const algs[] = {"\"none\"",   "\"None\"", "\"NONE\"",   "\"nOnE\"",
                                       "\"\"",       "null",     "\"hs256\"",  "\"HS256 \"",
                                       "\"HS2560\"", "256",      "[\"HS256\"]"};
    for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        char header[160], enc[400], forged[4200];
        snprintf(header, sizeof(header), "{\"alg\":%s,\"kid\":\"%s\"}", algs[i], kid);
        b64url(header, strlen(header), enc);
        /* the classic: no signature at all */
        snprintf(forged, sizeof(forged), "%s.%.*s.", enc, (int)(d2 - d1 - 1), d1 + 1);
        refused(f, forged, "HS256");
        /* and with the original (valid for the original header) signature kept */
        snprintf(forged, sizeof(forged), "%s%s", enc, d1);
        refused(f, forged, "HS256");
    }
    /* no alg at all */
    char header[160], enc[400], forged[4200];
    snprintf(header, sizeof(header), "{\"kid\":\"%s\",\"typ\":\"JWT\"}", kid);
    b64url(header, strlen(header), enc);
    snprintf(forged, sizeof(forged), "%s%s", enc, d1);
    refused(f, forged, "HS256");
    free(tok);
}

static void test_other_algorithms(void **state)
{
    /* properly signed for what the header claims, yet only HS256 is accepted */
    fixture_t *f = *state;
    char kid[40], payload[2048];
    uint8_t secret[32];
    newest_key(f->store, kid, secret);
    payload_t p = good_payload(f->now);
    build_payload(&p, payload, sizeof(payload));
    struct {
        const char *alg;
        const EVP_MD *md;
    } cases[] = {{"HS512", EVP_sha512()}, {"HS384", EVP_sha384()}, {"RS256", EVP_sha256()},
                 {"ES256", EVP_sha256()}, {"PS256", EVP_sha256()}, {"EdDSA", EVP_sha256()}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char header[160];
        snprintf(header, sizeof(header), "{\"alg\":\"%s\",\"kid\":\"%s\",\"typ\":\"JWT\"}",
                 cases[i].alg, kid);
        char *tok = sign_raw(header, payload, secret, 32, cases[i].md);
        refused(f, tok, "HS256");
        free(tok);
    }
}

/* ---- keys ---- */

static void test_unknown_kid(void **state)
{
    fixture_t *f = *state;
    char kid[40], payload[2048];
    uint8_t secret[32];
    newest_key(f->store, kid, secret);
    payload_t p = good_payload(f->now);
    build_payload(&p, payload, sizeof(payload));
    /* signed with the real secret, but naming keys that do not exist */
    static const char *const kids[] = {
        "\"k0000000000000000\"", "\"\"", "\"K-unknown\"", "null", "42", "[\"x\"]"};
    for (size_t i = 0; i < sizeof(kids) / sizeof(kids[0]); i++) {
        char header[160];
        snprintf(header, sizeof(header), "{\"alg\":\"HS256\",\"kid\":%s,\"typ\":\"JWT\"}", kids[i]);
        char *tok = sign_raw(header, payload, secret, 32, EVP_sha256());
        refused(f, tok, "signing key is unknown");
        free(tok);
    }
    /* a kid that differs from the real one by case or a suffix */
    char header[160], upper[40];
    snprintf(upper, sizeof(upper), "%s", kid);
    upper[0] = (char)(upper[0] == 'k' ? 'K' : 'k');
    snprintf(header, sizeof(header), "{\"alg\":\"HS256\",\"kid\":\"%s\"}", upper);
    char *tok = sign_raw(header, payload, secret, 32, EVP_sha256());
    refused(f, tok, "signing key is unknown");
    free(tok);
    snprintf(header, sizeof(header), "{\"alg\":\"HS256\",\"kid\":\"%s0\"}", kid);
    tok = sign_raw(header, payload, secret, 32, EVP_sha256());
    refused(f, tok, "signing key is unknown");
    free(tok);
    /* no kid */
    tok = sign_raw("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payload, secret, 32, EVP_sha256());
    refused(f, tok, "signing key is unknown");
    free(tok);
    /* without a store to reload from, an unknown kid is still just refused */
    tok = sign_raw("{\"alg\":\"HS256\",\"kid\":\"k1\"}", payload, secret, 32, EVP_sha256());
    auth_claims_t out;
    const char *why = NULL;
    assert_int_equal(auth_token_verify(tok, strlen(tok), f->now, NULL, &out, &why), -1);
    assert_non_null(why);
    free(tok);
}

static void test_rotation(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(count_keys(f->store), 1);
    char kid1[40], kid2[40];
    uint8_t s1[32], s2[32];
    newest_key(f->store, kid1, s1);
    assert_int_equal(kid1[0], 'k');
    assert_int_equal(strlen(kid1), 17);

    auth_claims_t in = sample_claims(f->now, "admin"), out;
    char *old = issue(&in);
    json_t *h = header_of(old);
    assert_string_equal(json_string_value(json_object_get(h, "kid")), kid1);
    json_decref(h);

    cn_err_t err = {0};
    char rotated[40];
    /* keys are ordered by their creation millisecond: see test_rotated_key_signs_first */
    usleep(3000);
    assert_int_equal(auth_keys_rotate(f->store, rotated, &err), 0);
    assert_int_equal(count_keys(f->store), 2);
    newest_key(f->store, kid2, s2);
    assert_string_equal(rotated, kid2);
    assert_string_not_equal(kid1, kid2);
    assert_memory_not_equal(s1, s2, 32);

    char *fresh = issue(&in);
    h = header_of(fresh);
    assert_string_equal(json_string_value(json_object_get(h, "kid")), kid2);
    json_decref(h);

    accepted(f, old, &out);
    assert_string_equal(out.role, "admin");
    accepted(f, fresh, &out);
    assert_string_equal(out.sub, in.sub);

    /* a third key: both older keys still verify */
    usleep(3000);
    assert_int_equal(auth_keys_rotate(f->store, rotated, &err), 0);
    char *third = issue(&in);
    accepted(f, old, &out);
    accepted(f, fresh, &out);
    accepted(f, third, &out);

    /* loading again reads the same keys and adds none */
    assert_int_equal(auth_keys_load(f->store, &err), 0);
    assert_int_equal(count_keys(f->store), 3);
    accepted(f, old, &out);
    free(third);
    free(fresh);
    free(old);
}

static void test_rotated_key_signs_first(void **state)
{
    /* "Adds a new signing key (it signs from now on)": also when the newest existing key
     * has the same or a later creation time (two rotations within one millisecond, or the
     * wall clock stepped back since the last one) */
    fixture_t *f = *state;
    const uint8_t ahead[32] = {0xff, 0xee, 0xdd};
    insert_sealed_key(f->store, "kzzzzahead0000000", ahead, cn_now_ms() + 60 * 1000);
    cn_err_t err = {0};
    char rotated[40];
    assert_int_equal(auth_keys_rotate(f->store, rotated, &err), 0);
    auth_claims_t in = sample_claims(f->now, "member");
    char *tok = issue(&in);
    json_t *h = header_of(tok);
    const char *signer = json_string_value(json_object_get(h, "kid"));
    if (strcmp(signer, rotated) != 0)
        fail_msg("after rotating to %s, tokens are still signed with %s", rotated, signer);
    json_decref(h);
    free(tok);

    /* back-to-back rotations: each new key signs at once */
    for (int i = 0; i < 5; i++) {
        assert_int_equal(auth_keys_rotate(f->store, rotated, &err), 0);
        tok = issue(&in);
        h = header_of(tok);
        signer = json_string_value(json_object_get(h, "kid"));
        if (strcmp(signer, rotated) != 0)
            fail_msg("rotation %d: new key %s, tokens signed with %s", i, rotated, signer);
        json_decref(h);
        free(tok);
    }
}

static void test_no_key_no_token(void **state)
{
    fixture_t *f = *state;
    auth_claims_t in = sample_claims(f->now, "member");
    auth_keys_free();
    assert_null(auth_token_issue(&in));
    cn_err_t err = {0};
    assert_int_equal(auth_keys_load(f->store, &err), 0);
    assert_int_equal(count_keys(f->store), 1); /* the existing key, not a new one */
    char *tok = auth_token_issue(&in);
    assert_non_null(tok);
    free(tok);
}

static void test_key_added_by_another_process(void **state)
{
    /* `cairn keys rotate` writes the table from another process: a token signed with that
     * key is accepted once the keys are re-read (at most once a second) */
    fixture_t *f = *state;
    uint8_t secret[32];
    for (int i = 0; i < 32; i++)
        secret[i] = (uint8_t)(i * 17);
    insert_sealed_key(f->store, "kfromelsewhere0001", secret, cn_now_ms() + 1000);
    char payload[2048];
    payload_t p = good_payload(f->now);
    build_payload(&p, payload, sizeof(payload));
    char *tok = sign_raw("{\"alg\":\"HS256\",\"kid\":\"kfromelsewhere0001\"}", payload, secret, 32,
                         EVP_sha256());
    usleep(1100 * 1000);
    f->now = (int64_t)time(NULL); /* keys are re-read by the time verification is at */
    auth_claims_t out;
    accepted(f, tok, &out);
    assert_string_equal(out.role, "member");
    free(tok);
}

/* ---- validity times ---- */

static void test_expiry(void **state)
{
    fixture_t *f = *state;
    auth_claims_t in = sample_claims(f->now, "member"), out;
    char *tok = issue(&in);
    const char *why;
    assert_int_equal(verify_at(f, tok, in.exp - 1, &out, &why), 0);
    assert_int_equal(verify_at(f, tok, in.exp, &out, &why), -1);
    assert_ptr_equal(why, auth_why_token_expired); /* the problem type token-expired */
    assert_int_equal(verify_at(f, tok, in.exp + 1, &out, &why), -1);
    assert_int_equal(verify_at(f, tok, in.exp + 86400 * 365, &out, &why), -1);
    assert_non_null(strstr(why, "expired"));
    free(tok);

    /* a token that expired before it was valid is never valid */
    in.nbf = f->now;
    in.exp = f->now;
    tok = issue(&in);
    assert_int_equal(verify_at(f, tok, f->now, &out, &why), -1);
    assert_int_equal(verify_at(f, tok, f->now - 1, &out, &why), -1);
    free(tok);
}

static void test_not_before(void **state)
{
    fixture_t *f = *state;
    auth_claims_t in = sample_claims(f->now, "member"), out;
    in.nbf = f->now + 60;
    char *tok = issue(&in);
    const char *why;
    assert_int_equal(verify_at(f, tok, f->now, &out, &why), -1);
    assert_non_null(strstr(why, "not valid yet"));
    assert_int_equal(verify_at(f, tok, in.nbf - 1, &out, &why), -1);
    assert_int_equal(verify_at(f, tok, in.nbf, &out, &why), 0);
    assert_int_equal(out.nbf, f->now + 60);
    free(tok);
}

/* ---- claims (hand-made, correctly signed) ---- */

typedef struct {
    const char *what;
    payload_t p;
    const char *why; /* NULL: must verify */
} claim_case_t;

static void test_claims(void **state)
{
    fixture_t *f = *state;
    payload_t g = good_payload(f->now);
    char exp_past[32], nbf_future[32], exp_real[48], big[64];
    snprintf(exp_past, sizeof(exp_past), "%lld", (long long)f->now - 1);
    snprintf(nbf_future, sizeof(nbf_future), "%lld", (long long)f->now + 5);
    snprintf(exp_real, sizeof(exp_real), "%lld.0", (long long)f->now + 900);
    snprintf(big, sizeof(big), "\"%lld\"", (long long)f->now + 900);
    char sub39[48], sub40[48], role_max[48], role_over[48];
    snprintf(sub39, sizeof(sub39), "\"%039d\"", 1);
    snprintf(sub40, sizeof(sub40), "\"%040d\"", 1);
    /* the longest role name a tenant may create fits; one more byte does not */
    snprintf(role_max, sizeof(role_max), "[\"%.*s\"]", CN_ROLE_NAME_MAX,
             "rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr");
    snprintf(role_over, sizeof(role_over), "[\"%.*s\"]", CN_ROLE_NAME_MAX + 1,
             "rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr");

#define WITH(field, value)                                                                         \
    ({                                                                                             \
        payload_t q_ = g;                                                                          \
        q_.field = (value);                                                                        \
        q_;                                                                                        \
    })
    const claim_case_t cases[] = {
        {"control", g, NULL},
        {"iss other", WITH(iss, "\"evil\""), "not issued for this API"},
        {"iss case", WITH(iss, "\"Cairn\""), "not issued for this API"},
        {"iss prefix", WITH(iss, "\"cairn2\""), "not issued for this API"},
        {"iss missing", WITH(iss, NULL), "not issued for this API"},
        {"iss number", WITH(iss, "1"), "not issued for this API"},
        {"aud other", WITH(aud, "\"other-api\""), "not issued for this API"},
        {"aud missing", WITH(aud, NULL), "not issued for this API"},
        {"aud empty", WITH(aud, "\"\""), "not issued for this API"},
        {"aud null", WITH(aud, "null"), "not issued for this API"},
        {"exp missing", WITH(exp, NULL), "validity times"},
        {"nbf missing", WITH(nbf, NULL), "validity times"},
        {"exp string", WITH(exp, big), "validity times"},
        {"exp real", WITH(exp, exp_real), "validity times"},
        {"exp past", WITH(exp, exp_past), "expired"},
        {"nbf future", WITH(nbf, nbf_future), "not valid yet"},
        {"iat missing (not required)", WITH(iat, NULL), NULL},
        {"sub missing", WITH(sub, NULL), "required claims"},
        {"sub empty", WITH(sub, "\"\""), "required claims"},
        {"sub number", WITH(sub, "7"), "required claims"},
        {"sub 39 chars", WITH(sub, sub39), NULL},
        {"sub 40 chars", WITH(sub, sub40), "required claims"},
        {"tid missing", WITH(tid, NULL), "required claims"},
        {"tid 40 chars", WITH(tid, sub40), "required claims"},
        {"sid missing", WITH(sid, NULL), "required claims"},
        {"sid null", WITH(sid, "null"), "required claims"},
        {"roles missing", WITH(roles, NULL), "required claims"},
        {"roles string", WITH(roles, "\"owner\""), "required claims"},
        {"roles empty", WITH(roles, "[]"), "required claims"},
        {"roles two", WITH(roles, "[\"viewer\",\"owner\"]"), "required claims"},
        {"roles number", WITH(roles, "[1]"), "required claims"},
        {"roles longest name", WITH(roles, role_max), NULL},
        {"roles name too long", WITH(roles, role_over), "required claims"},
        {"duplicate sub", WITH(extra, "\"sub\":\"someone-else\""), NULL /* see below */},
    };
#undef WITH
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *tok = sign_payload(f, &cases[i].p);
        auth_claims_t out;
        const char *why = NULL;
        int rc = verify_at(f, tok, f->now, &out, &why);
        int dup = strcmp(cases[i].what, "duplicate sub") == 0;
        if (dup) {
            /* two values for one claim: which one wins is parser-dependent, so refuse */
            if (rc != -1)
                fail_msg("%s: verified, sub=%s", cases[i].what, out.sub);
        } else if (cases[i].why == NULL) {
            if (rc != 0)
                fail_msg("%s: refused (%s) but must verify", cases[i].what, why ? why : "?");
        } else {
            if (rc != -1)
                fail_msg("%s: verified but must be refused", cases[i].what);
            if (why == NULL || strstr(why, cases[i].why) == NULL)
                fail_msg("%s: reason '%s', expected '%s'", cases[i].what, why ? why : "(null)",
                         cases[i].why);
        }
        free(tok);
    }
}

static void test_segments_that_are_not_objects(void **state)
{
    fixture_t *f = *state;
    static const char *const payloads[] = {
        "[]", "\"x\"", "42", "null", "", "{", "{\"a\":1}x", "{\"iss\":\"cairn\"", "\xff\xfe"};
    for (size_t i = 0; i < sizeof(payloads) / sizeof(payloads[0]); i++) {
        char *tok = sign_json(f, NULL, payloads[i]);
        refused(f, tok, NULL);
        free(tok);
    }
    char kid[40], payload[2048];
    uint8_t secret[32];
    newest_key(f->store, kid, secret);
    payload_t p = good_payload(f->now);
    build_payload(&p, payload, sizeof(payload));
    static const char *const headers[] = {"[\"HS256\"]", "\"HS256\"", "", "{", "null"};
    for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
        char *tok = sign_raw(headers[i], payload, secret, 32, EVP_sha256());
        refused(f, tok, NULL);
        free(tok);
    }
}

/* ---- garbage ---- */

static void test_garbage(void **state)
{
    fixture_t *f = *state;
    static const char *const inputs[] = {
        "",
        ".",
        "..",
        "...",
        "....",
        "a",
        "a.b",
        "a.b.c",
        "a.b.c.d",
        "a..c",
        ".b.c",
        "a.b.",
        "eyJ",
        "eyJhbGciOiJIUzI1NiJ9..",
        "eyJhbGciOiJIUzI1NiJ9.e30.",
        "Bearer x.y.z",
        "null",
        "%%%.%%%.%%%",
        "e30.e30.e30",
        "=.=.=",
        "\xff\xfe\xfd.\x01\x02.\x80",
    };
    auth_claims_t out;
    const char *why;
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        why = NULL;
        if (auth_token_verify(inputs[i], strlen(inputs[i]), f->now, f->store, &out, &why) != -1)
            fail_msg("'%s' verified", inputs[i]);
        assert_non_null(why);
    }
    /* a valid token with a fourth segment, or a dot more */
    auth_claims_t in = sample_claims(f->now, "member");
    char *tok = issue(&in);
    char buf[6000];
    snprintf(buf, sizeof(buf), "%s.", tok);
    refused(f, buf, "malformed");
    snprintf(buf, sizeof(buf), "%s.%s", tok, strrchr(tok, '.') + 1);
    refused(f, buf, "malformed");
    free(tok);

    /* 5000 bytes: letters only, with two dots, with three */
    memset(buf, 'A', 5000);
    buf[5000] = '\0';
    refused(f, buf, "malformed");
    buf[1000] = '.';
    buf[2000] = '.';
    refused(f, buf, NULL);
    buf[3000] = '.';
    refused(f, buf, "malformed");
    /* under the length limit, but a header segment too long to be a header */
    memset(buf, 'A', 4000);
    buf[3500] = '.';
    buf[3700] = '.';
    buf[4000] = '\0';
    refused(f, buf, "HS256");
    /* over the length limit, with a header that would be valid */
    char kid[40];
    uint8_t secret[32];
    newest_key(f->store, kid, secret);
    payload_t p = good_payload(f->now);
    char pad[3100];
    memset(pad, 'x', 3000);
    pad[3000] = '\0';
    char extra[3200];
    snprintf(extra, sizeof(extra), "\"pad\":\"%s\"", pad);
    p.extra = extra;
    char *huge = sign_payload(f, &p);
    assert_true(strlen(huge) > 4096);
    refused(f, huge, "malformed");
    free(huge);

    /* NUL bytes inside */
    char nul[] = "eyJhbGciOiJIUzI1NiJ9\0.e30.abc";
    why = NULL;
    assert_int_equal(auth_token_verify(nul, sizeof(nul) - 1, f->now, f->store, &out, &why), -1);
    assert_non_null(why);

    /* random bytes of random lengths */
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 500; i++) {
        size_t n = 0;
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        n = (size_t)(x % 600);
        for (size_t k = 0; k < n; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            buf[k] = (char)(x % 5 == 0 ? '.' : (x >> 8) & 0xff);
        }
        why = NULL;
        assert_int_equal(auth_token_verify(buf, n, f->now, f->store, &out, &why), -1);
        assert_non_null(why);
    }
}

/* ---- property: no mutation of a valid token verifies ---- */

static uint64_t rng_state;
static uint64_t rnd(void)
{
    uint64_t x = rng_state; /* xorshift64* */
    x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
    rng_state = x;
    return x * 0x2545f4914f6cdd1dull;
}

static void test_random_mutations_never_verify(void **state)
{
    fixture_t *f = *state;
    auth_claims_t in = sample_claims(f->now, "viewer"), out;
    char *tok = issue(&in);
    size_t len = strlen(tok);
    const char *d1 = strchr(tok, '.'), *d2 = strchr(d1 + 1, '.');
    size_t seg_end[3] = {(size_t)(d1 - tok), (size_t)(d2 - tok), len};
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ";
    char buf[8192];
    int tried = 0, per_segment[3] = {0, 0, 0};
    const char *why;
    rng_state = 0x5eed5eed12345678ull;

    for (int it = 0; it < 2000; it++) {
        memcpy(buf, tok, len + 1);
        size_t n = len;
        int changes = 1 + (int)(rnd() % 3);
        size_t first_pos = SIZE_MAX;
        for (int c = 0; c < changes; c++) {
            size_t pos = (size_t)(rnd() % n);
            if (first_pos == SIZE_MAX)
                first_pos = pos;
            switch (rnd() % 6) {
            case 0: /* replace with a base64url character (or a separator) */
                buf[pos] = alphabet[rnd() % (sizeof(alphabet) - 1)];
                break;
            case 1: /* flip one bit */ buf[pos] = (char)(buf[pos] ^ (1 << (rnd() % 8))); break;
            case 2: /* any byte */ buf[pos] = (char)(rnd() & 0xff); break;
            case 3: /* delete */
                memmove(buf + pos, buf + pos + 1, n - pos);
                n--;
                break;
            case 4: /* insert */
                memmove(buf + pos + 1, buf + pos, n - pos + 1);
                buf[pos] = alphabet[rnd() % (sizeof(alphabet) - 1)];
                n++;
                break;
            default: /* swap with a neighbour */
                if (pos + 1 < n) {
                    char t = buf[pos];
                    buf[pos] = buf[pos + 1];
                    buf[pos + 1] = t;
                }
                break;
            }
            if (n == 0)
                break;
        }
        if (n == len && memcmp(buf, tok, len) == 0)
            continue; /* no change */
        tried++;
        per_segment[first_pos < seg_end[0] ? 0 : first_pos < seg_end[1] ? 1 : 2]++;
        why = NULL;
        if (auth_token_verify(buf, n, f->now, f->store, &out, &why) != -1)
            fail_msg("iteration %d: a mutated token verified: %.*s", it, (int)n, buf);
        assert_non_null(why);
        if (it % 250 == 0) /* the original keeps verifying */
            assert_int_equal(auth_token_verify(tok, len, f->now, f->store, &out, &why), 0);
    }
    assert_true(tried >= 1900);
    for (int s = 0; s < 3; s++)
        assert_true(per_segment[s] >= 50);
    free(tok);
}

/* ---- revoked sessions ---- */

/* Regression: a full set used to make the next revocation spin forever under the lock. */
static void test_revocation_set_grows_past_any_fixed_size(void **state)
{
    char sid[40];
    for (int i = 0; i < 150000; i++) {
        snprintf(sid, sizeof(sid), "bulk-%d", i);
        auth_revoke_session(sid);
    }
    assert_true(auth_session_revoked("bulk-0"));
    assert_true(auth_session_revoked("bulk-149999"));
    assert_false(auth_session_revoked("bulk-150000"));
}

static void test_revocation_set(void **state)
{
    char sid[40], other[40];
    cn_uuid7(sid);
    cn_uuid7(other);
    assert_int_equal(auth_session_revoked(sid), 0);
    auth_revoke_session(sid);
    assert_int_equal(auth_session_revoked(sid), 1);
    assert_int_equal(auth_session_revoked(other), 0);
    auth_revoke_session(sid); /* twice is fine */
    assert_int_equal(auth_session_revoked(sid), 1);
    /* a prefix or extension of a revoked id is another session */
    char prefix[40];
    snprintf(prefix, sizeof(prefix), "%.35s", sid);
    assert_int_equal(auth_session_revoked(prefix), 0);
    char longer[48];
    snprintf(longer, sizeof(longer), "%sx", sid);
    assert_int_equal(auth_session_revoked(longer), 0);

    /* many: every revoked one is found, no other one is */
    static char revoked[2000][40], kept[2000][40];
    for (int i = 0; i < 2000; i++) {
        cn_uuid7(revoked[i]);
        cn_uuid7(kept[i]);
        auth_revoke_session(revoked[i]);
    }
    for (int i = 0; i < 2000; i++) {
        if (!auth_session_revoked(revoked[i]))
            fail_msg("revoked session %s not found", revoked[i]);
        if (auth_session_revoked(kept[i]))
            fail_msg("session %s reported revoked", kept[i]);
    }
    assert_int_equal(auth_session_revoked(sid), 1);
}

static void test_revocations_load(void **state)
{
    /* at start-up, sessions revoked within an access token's lifetime are refused again */
    fixture_t *f = *state;
    char recent[40], old[40], live[40], just[40];
    cn_uuid7(recent);
    cn_uuid7(old);
    cn_uuid7(live);
    cn_uuid7(just);
    int64_t now = cn_now_ms();
    struct {
        const char *id;
        cn_val_t revoked_at;
    } rows[] = {
        {recent, CN_VINT(now - 60 * 1000)},
        {just, CN_VINT(now - (AUTH_ACCESS_TTL_S - 5) * 1000LL)},
        {old, CN_VINT(now - 3600 * 1000)},
        {live, CN_VNULL},
    };
    for (size_t i = 0; i < 4; i++) {
        cn_val_t args[] = {CN_VTEXT(rows[i].id),   CN_VTEXT("t"),           CN_VTEXT("u"),
                           CN_VINT(now - 7200000), CN_VINT(now + 86400000), rows[i].revoked_at};
        exec_sql(f->store,
                 "INSERT INTO sessions (id, tenant_id, user_id, created_at, expires_at, revoked_at)"
                 " VALUES ($1, $2, $3, $4, $5, $6)",
                 args, 6);
    }
    cn_err_t err = {0};
    assert_int_equal(auth_revocations_load(f->store, &err), 0);
    assert_int_equal(auth_session_revoked(recent), 1);
    assert_int_equal(auth_session_revoked(just), 1);
    assert_int_equal(auth_session_revoked(old), 0); /* its tokens have long expired */
    assert_int_equal(auth_session_revoked(live), 0);
}

/* ---- keys at rest, retirement, unusable keys ---- */

static void test_keys_stored_sealed(void **state)
{
    /* a copy of the database is no master key: the stored text is sealed, and a token
     * signed with anything one could read out of it is refused */
    fixture_t *f = *state;
    char kid[40];
    uint8_t secret[32];
    newest_key(f->store, kid, secret);
    cn_stmt_t *st;
    cn_err_t err = {0};
    assert_int_equal(
        cn_store_query(f->store, "SELECT secret FROM signing_keys", NULL, 0, &st, &err), 0);
    assert_int_equal(cn_stmt_step(st, &err), CN_ROW);
    char stored[256];
    snprintf(stored, sizeof(stored), "%s", cn_stmt_text(st, 0, NULL));
    cn_stmt_finish(st);
    assert_int_equal(strncmp(stored, "v1:", 3), 0);
    char secret_hex[65];
    for (int i = 0; i < 32; i++)
        snprintf(secret_hex + 2 * i, 3, "%02x", secret[i]);
    assert_null(strstr(stored, secret_hex));
    /* what an attacker holding only the database would try: the stored bytes as the key */
    uint8_t guess[32];
    for (int i = 0; i < 32; i++) {
        unsigned v;
        sscanf(stored + 3 + 2 * i, "%2x", &v);
        guess[i] = (uint8_t)v;
    }
    char payload[2048], header[128];
    payload_t p = good_payload(f->now);
    build_payload(&p, payload, sizeof(payload));
    snprintf(header, sizeof(header), "{\"alg\":\"HS256\",\"kid\":\"%s\"}", kid);
    char *tok = sign_raw(header, payload, guess, 32, EVP_sha256());
    refused(f, tok, "signature");
    free(tok);
    tok = sign_raw(header, payload, (const uint8_t *)stored, strlen(stored), EVP_sha256());
    refused(f, tok, "signature");
    free(tok);
}

static void test_plain_keys_are_sealed(void **state)
{
    /* a key an older version stored in plain hex is not used as it is (it is skipped) and
     * is sealed at start-up, after which it verifies again */
    fixture_t *f = *state;
    const char *hexkey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    uint8_t secret[32];
    for (int i = 0; i < 32; i++) {
        unsigned v;
        sscanf(hexkey + 2 * i, "%2x", &v);
        secret[i] = (uint8_t)v;
    }
    cn_val_t args[] = {CN_VTEXT("kplainolder000001"), CN_VTEXT(hexkey), CN_VINT(1000)};
    exec_sql(f->store, "INSERT INTO signing_keys (kid, secret, created_at) VALUES ($1, $2, $3)",
             args, 3);
    char payload[2048];
    payload_t p = good_payload(f->now);
    build_payload(&p, payload, sizeof(payload));
    char *tok = sign_raw("{\"alg\":\"HS256\",\"kid\":\"kplainolder000001\"}", payload, secret, 32,
                         EVP_sha256());
    cn_err_t err = {0};
    assert_int_equal(auth_keys_load(f->store, &err), 0);
    refused(f, tok, "unknown");
    int64_t sealed = 0;
    assert_int_equal(auth_keys_seal_plain(f->store, &sealed, &err), 0);
    assert_int_equal(sealed, 1);
    assert_int_equal(auth_keys_load(f->store, &err), 0);
    auth_claims_t out;
    accepted(f, tok, &out);
    free(tok);
    assert_int_equal(auth_keys_seal_plain(f->store, &sealed, &err), 0);
    assert_int_equal(sealed, 0);
}

static void test_rotated_key_verifies_for_its_grace_only(void **state)
{
    fixture_t *f = *state;
    auth_claims_t in = sample_claims(f->now, "member"), out;
    char *old = issue(&in);
    accepted(f, old, &out); /* in the per-thread cache now */
    cn_err_t err = {0};
    char rotated[40];
    usleep(3000);
    assert_int_equal(auth_keys_rotate(f->store, rotated, &err), 0);
    accepted(f, old, &out);
    const char *why;
    /* a token still unexpired then, signed by a key retired longer ago than the grace */
    assert_int_equal(verify_at(f, old, f->now + AUTH_KEY_GRACE_S + 2, &out, &why), -1);
    assert_ptr_equal(why, auth_why_key_retired); /* token-expired: the session goes on */
    /* and the same through the uncached path: a fresh token made of the old key */
    auth_keys_free();
    assert_int_equal(auth_keys_load(f->store, &err), 0);
    assert_int_equal(verify_at(f, old, f->now + AUTH_KEY_GRACE_S + 2, &out, &why), -1);
    free(old);
}

static void test_key_past_deadline_in_store_is_gone(void **state)
{
    /* a key whose deadline passed (in the store) stops verifying once keys are re-read,
     * which verification does at most once a second: also for a token already cached */
    fixture_t *f = *state;
    auth_claims_t in = sample_claims(f->now, "member"), out;
    char *tok = issue(&in);
    accepted(f, tok, &out);
    cn_val_t args[] = {CN_VINT(cn_now_ms() - 1000)};
    exec_sql(f->store, "UPDATE signing_keys SET retired_at = $1, verify_until = $1", args, 1);
    usleep(1100 * 1000);
    f->now = (int64_t)time(NULL); /* keys are re-read by the time verification is at */
    refused(f, tok, NULL);
    free(tok);
}

static void collect(const char *kid, void *ud)
{
    char *out = ud;
    strcat(out, kid);
    strcat(out, ",");
}

static void test_retire_ends_keys_at_once(void **state)
{
    fixture_t *f = *state;
    auth_claims_t in = sample_claims(f->now, "member"), out;
    char *first = issue(&in), kid1[40], kid2[40], kid3[40];
    uint8_t secret[32];
    newest_key(f->store, kid1, secret);
    accepted(f, first, &out);
    cn_err_t err = {0};
    usleep(3000);
    assert_int_equal(auth_keys_rotate(f->store, kid2, &err), 0);
    char *second = issue(&in);
    accepted(f, first, &out); /* rotated: still within its grace */
    usleep(3000);
    assert_int_equal(auth_keys_rotate(f->store, kid3, &err), 0);
    char *third = issue(&in);
    char retired[256] = "";
    assert_int_equal(auth_keys_retire(f->store, NULL, collect, retired, &err), 0);
    /* every key but the newest, each reported once */
    assert_non_null(strstr(retired, kid1));
    assert_non_null(strstr(retired, kid2));
    assert_null(strstr(retired, kid3));
    refused(f, first, NULL); /* was cached: a change of keys verifies again */
    refused(f, second, NULL);
    accepted(f, third, &out);
    /* retiring again retires nothing more */
    retired[0] = '\0';
    assert_int_equal(auth_keys_retire(f->store, NULL, collect, retired, &err), 0);
    assert_string_equal(retired, "");
    /* retiring the signing key itself: a new one signs, the old one's tokens end */
    assert_int_equal(auth_keys_retire(f->store, kid3, collect, retired, &err), 0);
    strcat(kid3, ",");
    assert_string_equal(retired, kid3);
    kid3[strlen(kid3) - 1] = '\0';
    refused(f, third, NULL);
    char *fourth = issue(&in);
    assert_non_null(fourth);
    json_t *h = header_of(fourth);
    assert_string_not_equal(json_string_value(json_object_get(h, "kid")), kid3);
    json_decref(h);
    accepted(f, fourth, &out);
    assert_int_equal(auth_keys_retire(f->store, "knosuchkey", NULL, NULL, &err), CN_ENOTFOUND);
    free(first);
    free(second);
    free(third);
    free(fourth);
}

static void test_keys_sealed_with_another_key_are_unusable(void **state)
{
    /* a database restored without its secrets key: its keys do not open; they are
     * counted, and retired on request, after which a new key signs */
    fixture_t *f = *state;
    cn_err_t err = {0};
    int64_t n = -1;
    assert_int_equal(auth_keys_unusable(f->store, 0, &n, &err), 0);
    assert_int_equal(n, 0);
    char other[128];
    snprintf(other, sizeof(other), "%s/other.key", f->dir);
    assert_int_equal(auth_vault_open(other, &err), 0); /* a new, different key */
    assert_int_equal(auth_keys_unusable(f->store, 0, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(auth_keys_unusable(f->store, 1, &n, &err), 0);
    assert_int_equal(auth_keys_unusable(f->store, 0, &n, &err), 0);
    assert_int_equal(n, 0);
    auth_keys_free();
    assert_int_equal(auth_keys_load(f->store, &err), 0);
    assert_int_equal(count_keys(f->store), 2);
    auth_claims_t in = sample_claims(f->now, "member"), out;
    char *tok = issue(&in);
    accepted(f, tok, &out);
    free(tok);
}

/* ---- the live-session check ---- */

static auth_session_t live_session(const char *sid, const char *role, int64_t expires_s)
{
    auth_session_t x = {.mfa = 0, .expires_s = expires_s};
    snprintf(x.sid, sizeof(x.sid), "%s", sid);
    snprintf(x.tid, sizeof(x.tid), "tenant-1");
    snprintf(x.sub, sizeof(x.sub), "user-1");
    snprintf(x.role, sizeof(x.role), "%s", role);
    return x;
}

static auth_claims_t claims_for(const char *sid, const char *tid, const char *sub, const char *role,
                                int mfa)
{
    auth_claims_t c = {0};
    snprintf(c.sid, sizeof(c.sid), "%s", sid);
    snprintf(c.tid, sizeof(c.tid), "%s", tid);
    snprintf(c.sub, sizeof(c.sub), "%s", sub);
    snprintf(c.role, sizeof(c.role), "%s", role);
    c.mfa = mfa;
    return c;
}

static void test_session_check(void **state)
{
    fixture_t *f = *state;
    const char *why;
    auth_session_t x = live_session("s-live", "viewer", f->now + 3600);
    auth_session_put(&x);
    /* roles and the MFA flag come from the session, whatever the token says */
    auth_claims_t c = claims_for("s-live", "tenant-1", "user-1", "owner", 1);
    assert_int_equal(auth_session_check(f->store, &c, f->now, &why), 0);
    assert_string_equal(c.role, "viewer");
    assert_int_equal(c.mfa, 0);
    /* another tenant or user than the session's */
    c = claims_for("s-live", "tenant-2", "user-1", "viewer", 0);
    assert_int_equal(auth_session_check(f->store, &c, f->now, &why), -1);
    assert_non_null(strstr(why, "does not match"));
    c = claims_for("s-live", "tenant-1", "user-2", "viewer", 0);
    assert_int_equal(auth_session_check(f->store, &c, f->now, &why), -1);
    /* a session that never existed (no row either) */
    c = claims_for("s-never", "tenant-1", "user-1", "owner", 1);
    assert_int_equal(auth_session_check(f->store, &c, f->now, &why), -1);
    assert_non_null(strstr(why, "does not exist"));
    assert_int_equal(auth_session_check(NULL, &c, f->now, &why), -1);
    /* past its end */
    c = claims_for("s-live", "tenant-1", "user-1", "viewer", 0);
    assert_int_equal(auth_session_check(f->store, &c, f->now + 3601, &why), -1);
    assert_non_null(strstr(why, "expired"));
    /* revoked, and a refresh racing the revocation does not bring it back */
    auth_revoke_session("s-live");
    assert_int_equal(auth_session_check(f->store, &c, f->now, &why), -1);
    assert_non_null(strstr(why, "signed out"));
    auth_session_put(&x);
    assert_int_equal(auth_session_check(f->store, &c, f->now, &why), -1);
}

static void insert_session_row(fixture_t *f, const char *sid, const char *role, cn_val_t revoked_at)
{
    int64_t now = cn_now_ms();
    cn_val_t m[] = {CN_VTEXT("tenant-1"), CN_VTEXT("user-1"), CN_VTEXT(role), CN_VINT(now)};
    exec_sql(f->store,
             "INSERT OR REPLACE INTO memberships (tenant_id, user_id, role, created_at)"
             " VALUES ($1, $2, $3, $4)",
             m, 4);
    cn_val_t args[] = {CN_VTEXT(sid), CN_VINT(now), CN_VINT(now + 86400000), revoked_at};
    exec_sql(
        f->store,
        "INSERT INTO sessions (id, tenant_id, user_id, created_at, expires_at, revoked_at, mfa)"
        " VALUES ($1, 'tenant-1', 'user-1', $2, $3, $4, 1)",
        args, 4);
}

static void test_session_opened_elsewhere_is_found(void **state)
{
    /* a session this process never saw (opened by another node on the same database, or
     * before this process started) is read once from the store, then kept */
    fixture_t *f = *state;
    exec_sql(f->store,
             "INSERT INTO tenants (id, slug, name, created_at) VALUES"
             " ('tenant-1', 't1', 'T', 0)",
             NULL, 0);
    exec_sql(f->store,
             "INSERT INTO users (id, email, password_hash, created_at, updated_at)"
             " VALUES ('user-1', 'u@x.test', '-', 0, 0)",
             NULL, 0);
    insert_session_row(f, "s-elsewhere", "admin", CN_VNULL);
    insert_session_row(f, "s-ended", "admin", CN_VINT(cn_now_ms()));
    const char *why;
    auth_claims_t c = claims_for("s-elsewhere", "tenant-1", "user-1", "owner", 0);
    assert_int_equal(auth_session_check(f->store, &c, f->now, &why), 0);
    assert_string_equal(c.role, "admin");
    assert_int_equal(c.mfa, 1);
    /* kept: found without the store now */
    c = claims_for("s-elsewhere", "tenant-1", "user-1", "owner", 0);
    assert_int_equal(auth_session_check(NULL, &c, f->now, &why), 0);
    c = claims_for("s-ended", "tenant-1", "user-1", "admin", 0);
    assert_int_equal(auth_session_check(f->store, &c, f->now, &why), -1);
    assert_non_null(strstr(why, "signed out"));
    assert_int_equal(auth_session_revoked("s-ended"), 1);
    /* loading at start-up: live sessions are in memory without a read */
    auth_sessions_free();
    cn_err_t err = {0};
    assert_int_equal(auth_sessions_load(f->store, &err), 0);
    c = claims_for("s-elsewhere", "tenant-1", "user-1", "viewer", 0);
    assert_int_equal(auth_session_check(NULL, &c, f->now, &why), 0);
    assert_string_equal(c.role, "admin");
    assert_int_equal(auth_session_revoked("s-ended"), 1);
}

/* ---- refresh-token material ---- */

static int is_lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return s[n] == '\0';
}

static void test_refresh_material(void **state)
{
    char t1[48], h1[65], t2[48], h2[65], again[65];
    auth_refresh_new(t1, h1);
    auth_refresh_new(t2, h2);
    assert_int_equal(strlen(t1), 43); /* base64url of 32 bytes */
    assert_int_equal(strspn(t1, B64), 43);
    assert_int_equal(strlen(h1), 64);
    assert_true(is_lower_hex(h1, 64));
    assert_string_not_equal(t1, t2);
    assert_string_not_equal(h1, h2);
    auth_refresh_hash(t1, strlen(t1), again);
    assert_string_equal(again, h1);
    auth_refresh_hash(t1, strlen(t1), again);
    assert_string_equal(again, h1);
    auth_refresh_hash(t2, strlen(t2), again);
    assert_string_equal(again, h2);

    /* SHA-256 test vectors (FIPS 180-2) */
    auth_refresh_hash("abc", 3, again);
    assert_string_equal(again, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    auth_refresh_hash("", 0, again);
    assert_string_equal(again, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    /* only len bytes count */
    auth_refresh_hash("abcdef", 3, again);
    assert_string_equal(again, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_issue_verify_round_trip),
        T(test_verify_fills_iat),
        T(test_token_header_and_claims),
        T(test_hand_made_token_verifies),
        T(test_verify_respects_length),
        T(test_tampered_payload),
        T(test_tampered_signature),
        T(test_signed_with_another_secret),
        T(test_alg_none),
        T(test_other_algorithms),
        T(test_unknown_kid),
        T(test_rotation),
        T(test_rotated_key_signs_first),
        T(test_no_key_no_token),
        T(test_key_added_by_another_process),
        T(test_expiry),
        T(test_not_before),
        T(test_claims),
        T(test_segments_that_are_not_objects),
        T(test_garbage),
        T(test_random_mutations_never_verify),
        T(test_revocation_set),
        T(test_revocation_set_grows_past_any_fixed_size),
        T(test_revocations_load),
        T(test_refresh_material),
        T(test_keys_stored_sealed),
        T(test_plain_keys_are_sealed),
        T(test_rotated_key_verifies_for_its_grace_only),
        T(test_key_past_deadline_in_store_is_gone),
        T(test_retire_ends_keys_at_once),
        T(test_keys_sealed_with_another_key_are_unusable),
        T(test_session_check),
        T(test_session_opened_elsewhere_is_found),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
