/*
 * MFA (see mfa.h). The TOTP secret has to be usable to compute codes, so it is stored
 * encrypted with the vault's key (see vault.h), which is kept outside the database;
 * recovery codes and challenges are stored only as SHA-256 hashes. liboath compares codes
 * through our callback, which is constant-time.
 */
#include "auth/mfa.h"
#include "auth/tokens.h"
#include "auth/vault.h"
#include "core/log.h"
#include "lib/formats.h"

#include <ctype.h>
#include <liboath/oath.h>
#include <png.h>
#include <qrencode.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECRET_BYTES 20
#define RECOVERY_CODES 10
#define CHALLENGE_TTL_MS (5 * 60 * 1000)
#define SECRET_SEALED_ELSEWHERE 1000 /* load_secret: a row this vault key cannot open */

const char auth_mfa_sql[] =
    "CREATE TABLE mfa ("
    " user_id TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,"
    " secret TEXT NOT NULL, confirmed_at INTEGER, last_step INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE mfa_recovery ("
    " user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE, code_hash TEXT NOT NULL,"
    " used_at INTEGER, PRIMARY KEY (user_id, code_hash));"
    "CREATE TABLE mfa_challenges ("
    " id_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL, tenant_id TEXT NOT NULL,"
    " role TEXT NOT NULL, expires_at INTEGER NOT NULL, used_at INTEGER)";

/* NULL for a sign-in (its session gets the full lifetime); a switch's challenge keeps the end
 * of the session it replaces, since a switch never extends a sign-in */
const char auth_mfa_ends_sql[] = "ALTER TABLE mfa_challenges ADD COLUMN session_ends_at INTEGER";

static int ct_strcmp(void *handle, const char *test_otp)
{
    const char *code = handle;
    size_t n = strlen(test_otp);
    return strlen(code) == n && sodium_memcmp(code, test_otp, n) == 0 ? 0 : 1;
}

int auth_totp_check(const uint8_t *secret, size_t len, time_t now, const char *code,
                    uint64_t last_step, uint64_t *step)
{
    static int ready;
    if (!ready) /* oath_init only sets up gcrypt/nettle state; calling it twice is harmless */
        ready = oath_init() == OATH_OK;
    if (strlen(code) != 6)
        return -1;
    int pos;
    uint64_t counter = 0;
    int rc = oath_totp_validate3_callback((const char *)secret, len, now, 30, 0, 6, 1, &pos,
                                          &counter, ct_strcmp, (void *)code);
    if (rc < 0)
        return -1;
    if (counter <= last_step)
        return -2;
    *step = counter;
    return 0;
}

typedef struct {
    uint8_t *data;
    size_t len, cap;
} membuf_t;

static void png_write_mem(png_structp png, png_bytep data, png_size_t n)
{
    membuf_t *b = png_get_io_ptr(png);
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2;
        b->data = cn_realloc(b->data, b->cap);
    }
    memcpy(b->data + b->len, data, n);
    b->len += n;
}

static void png_flush_mem(png_structp png) {}

int auth_qr_png(const char *text, uint8_t **out, size_t *out_len)
{
    QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (qr == NULL)
        return -1;
    const int scale = 4, margin = 4, size = (qr->width + 2 * margin) * scale;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    membuf_t buf = {0};
    uint8_t *row = cn_malloc((size_t)size);
    if (png == NULL || info == NULL || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        QRcode_free(qr);
        free(row);
        free(buf.data);
        return -1;
    }
    png_set_write_fn(png, &buf, png_write_mem, png_flush_mem);
    png_set_IHDR(png, info, (png_uint_32)size, (png_uint_32)size, 8, PNG_COLOR_TYPE_GRAY,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < size; y++) {
        int qy = y / scale - margin;
        for (int x = 0; x < size; x++) {
            int qx = x / scale - margin;
            int dark = qx >= 0 && qy >= 0 && qx < qr->width && qy < qr->width &&
                       (qr->data[qy * qr->width + qx] & 1);
            row[x] = dark ? 0 : 255;
        }
        png_write_row(png, row);
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    QRcode_free(qr);
    free(row);
    *out = buf.data;
    *out_len = buf.len;
    return 0;
}

int auth_mfa_enabled(cn_store_t *s, const char *user_id, cn_err_t *err, int *enabled)
{
    cn_val_t args[] = {CN_VTEXT(user_id)};
    int rc = cn_store_exists(s, "SELECT 1 FROM mfa WHERE user_id = $1 AND confirmed_at IS NOT NULL",
                             args, 1, err);
    *enabled = rc == 0;
    return rc == CN_ENOTFOUND ? 0 : rc;
}

static void random_token(char out[48], char hash[65])
{
    uint8_t raw[32];
    cn_random(raw, sizeof(raw));
    cn_base64url_encode(raw, sizeof(raw), out);
    sodium_memzero(raw, sizeof(raw));
    auth_refresh_hash(out, strlen(out), hash);
}

int auth_mfa_challenge(cn_req_t *r, const char *user, const char *tenant, const char *role,
                       int64_t ends_at)
{
    char challenge[48], hash[65];
    random_token(challenge, hash);
    cn_val_t args[] = {CN_VTEXT(hash),
                       CN_VTEXT(user),
                       CN_VTEXT(tenant),
                       CN_VTEXT(role),
                       CN_VINT(cn_now_ms() + CHALLENGE_TTL_MS),
                       ends_at > 0 ? CN_VINT(ends_at) : CN_VNULL};
    int rc = cn_store_exec(r->store,
                           "INSERT INTO mfa_challenges (id_hash, user_id, tenant_id, role,"
                           " expires_at, session_ends_at) VALUES ($1, $2, $3, $4, $5, $6)",
                           args, 6, NULL, &r->err);
    if (rc != 0)
        return rc;
    cn_reply_header(r, "cache-control", H2O_STRLIT("no-store"));
    return cn_reply_json(r, 200,
                         json_pack("{s:b, s:s, s:i}", "mfa_required", 1, "challenge", challenge,
                                   "expires_in", CHALLENGE_TTL_MS / 1000));
}

/*
 * A confirmed secret this server cannot open (its secrets key was lost) can never give a
 * code again. Its owner may enrol anew once signed in with a second factor (a recovery
 * code): the old secret and recovery codes go, and MFA is on again with the new secret's
 * confirmation. Without this the account could never leave the recovery codes.
 */
static int load_secret(cn_req_t *r, const char *user, uint8_t secret[SECRET_BYTES],
                       uint64_t *last_step, int *confirmed);

static int drop_unusable_secret(cn_req_t *r)
{
    uint8_t secret[SECRET_BYTES];
    uint64_t last = 0;
    int confirmed = 0;
    int rc = load_secret(r, r->principal.subject, secret, &last, &confirmed);
    sodium_memzero(secret, sizeof(secret));
    if (rc != SECRET_SEALED_ELSEWHERE)
        return rc == CN_ENOTFOUND ? 0 : rc;
    if (!r->principal.mfa)
        return cn_fail(r, CN_EFORBIDDEN,
                       "sign in with a recovery code first: this account's TOTP secret cannot be "
                       "opened, and only a session with a second factor may replace it");
    cn_val_t who[] = {CN_VTEXT(r->principal.subject)};
    rc = cn_store_exec(r->store, "DELETE FROM mfa_recovery WHERE user_id = $1", who, 1, NULL,
                       &r->err);
    if (rc == 0)
        rc = cn_store_exec(r->store, "DELETE FROM mfa WHERE user_id = $1", who, 1, NULL, &r->err);
    return rc;
}

int auth_mfa_enroll(cn_req_t *r)
{
    int rc = drop_unusable_secret(r);
    if (rc != 0)
        return rc;
    uint8_t secret[SECRET_BYTES];
    char sealed[AUTH_VAULT_LEN(SECRET_BYTES)], *b32 = NULL, uri[1024], email[256] = "", label[800];
    size_t b32_len;
    cn_random(secret, sizeof(secret));
    int sealed_ok =
        auth_vault_seal(secret, sizeof(secret), r->principal.subject, sealed, sizeof(sealed)) == 0;
    int encoded = oath_base32_encode((const char *)secret, sizeof(secret), &b32, &b32_len);
    sodium_memzero(secret, sizeof(secret));
    if (!sealed_ok || encoded != OATH_OK) {
        free(b32);
        return cn_fail(r, CN_ERR, "cannot protect the secret");
    }
    cn_val_t who[] = {CN_VTEXT(r->principal.subject)};
    rc = cn_store_one_text(r->store, "SELECT email FROM users WHERE id = $1", who, 1, email,
                           sizeof(email), &r->err);
    if (rc == CN_ENOTFOUND) /* an API caller without an account: no e-mail in the label */
        rc = 0;
    cn_val_t args[] = {CN_VTEXT(r->principal.subject), CN_VTEXT(sealed)};
    if (rc == 0) /* an unconfirmed enrolment is replaced; a confirmed one is kept */
        rc = cn_store_exec(
            r->store,
            "INSERT INTO mfa (user_id, secret) VALUES ($1, $2) ON CONFLICT (user_id)"
            " DO UPDATE SET secret = $2, last_step = 0 WHERE mfa.confirmed_at IS NULL",
            args, 2, NULL, &r->err);
    int confirmed = 0;
    if (rc == 0)
        rc = auth_mfa_enabled(r->store, r->principal.subject, &r->err, &confirmed);
    if (rc == 0 && confirmed) {
        free(b32);
        return cn_fail(r, CN_ECONFLICT, "MFA is already enabled for this account");
    }
    /* the label is part of a URI: percent-encode all but unreserved characters and '@' */
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)email; *p && o + 4 < sizeof(label); p++)
        o += (size_t)(isalnum(*p) || strchr("-._~@", *p) ? snprintf(label + o, 2, "%c", *p)
                                                         : snprintf(label + o, 4, "%%%02X", *p));
    label[o] = '\0';
    snprintf(uri, sizeof(uri), "otpauth://totp/Cairn:%s?secret=%s&issuer=Cairn&digits=6&period=30",
             label, b32);
    uint8_t *png = NULL;
    size_t png_len = 0;
    if (rc == 0 && auth_qr_png(uri, &png, &png_len) != 0)
        rc = cn_fail(r, CN_ERR, "cannot render the QR code");
    if (rc != 0) {
        free(b32);
        return rc;
    }
    char *png64 = cn_malloc(png_len * 4 / 3 + 8);
    cn_base64url_encode(png, png_len, png64); /* base64url: safe in JSON and URLs */
    json_t *out =
        json_pack("{s:s, s:s, s:s}", "secret", b32, "otpauth_uri", uri, "qr_png_base64url", png64);
    free(png64);
    free(png);
    sodium_memzero(b32, b32_len);
    free(b32);
    cn_reply_header(r, "cache-control", H2O_STRLIT("no-store"));
    return cn_reply_json(r, 200, out);
}

/* Seals one plain (hex) secret left from before the vault existed. */
static int seal_one(cn_store_t *s, const char *user, const char *hex, size_t n, cn_err_t *err)
{
    uint8_t secret[SECRET_BYTES];
    char box[AUTH_VAULT_LEN(SECRET_BYTES)];
    size_t got = 0;
    int ok = sodium_hex2bin(secret, sizeof(secret), hex, n, NULL, &got, NULL) == 0 &&
             got == SECRET_BYTES && auth_vault_seal(secret, got, user, box, sizeof(box)) == 0;
    sodium_memzero(secret, sizeof(secret));
    if (!ok)
        return cn_err_set(err, CN_ERR, "the stored TOTP secret of %s is malformed", user);
    cn_val_t args[] = {CN_VTEXT(user), CN_VTEXT(box)};
    return cn_store_exec(s, "UPDATE mfa SET secret = $2 WHERE user_id = $1", args, 2, NULL, err);
}

int auth_mfa_seal_plain(cn_store_t *s, int64_t *sealed, cn_err_t *err)
{
    *sealed = 0;
    for (;;) { /* one row at a time: no statement stays open across the UPDATE */
        char user[64] = "", hex[128] = "";
        cn_stmt_t *st;
        int rc = cn_store_query(s,
                                "SELECT user_id, secret FROM mfa WHERE secret NOT LIKE 'v1:%'"
                                " LIMIT 1",
                                NULL, 0, &st, err);
        if (rc != 0)
            return rc;
        if ((rc = cn_stmt_step(st, err)) == CN_ROW) {
            snprintf(user, sizeof(user), "%s", cn_stmt_text(st, 0, NULL));
            snprintf(hex, sizeof(hex), "%s", cn_stmt_text(st, 1, NULL));
        }
        cn_stmt_finish(st);
        if (rc != CN_ROW)
            return rc < 0 ? rc : 0;
        rc = seal_one(s, user, hex, strlen(hex), err);
        sodium_memzero(hex, sizeof(hex));
        if (rc != 0)
            return rc;
        (*sealed)++;
    }
}

int auth_mfa_unusable(cn_store_t *s, int64_t *count, cn_err_t *err)
{
    *count = 0;
    cn_stmt_t *st;
    int rc = cn_store_query(s, "SELECT user_id, secret FROM mfa WHERE secret LIKE 'v1:%'", NULL, 0,
                            &st, err);
    if (rc != 0)
        return rc;
    while ((rc = cn_stmt_step(st, err)) == CN_ROW) {
        uint8_t secret[SECRET_BYTES];
        size_t n;
        const char *text = cn_stmt_text(st, 1, &n);
        if (auth_vault_unseal(text, n, cn_stmt_text(st, 0, NULL), secret, SECRET_BYTES) != 0)
            (*count)++;
        sodium_memzero(secret, sizeof(secret));
    }
    cn_stmt_finish(st);
    return rc < 0 ? rc : 0;
}

/*
 * The secret is there but this server cannot open it (started with
 * auth.allow_unusable_secrets after losing the secrets key): no code can ever match, and
 * that is no server fault the client should retry. A problem type of its own tells the
 * client what to do instead.
 */
static int secret_unusable(cn_req_t *r)
{
    cn_store_rollback(r->store); /* the unit of work begun for the code: nothing in it */
    json_t *p =
        json_pack("{s:s, s:s, s:i, s:s, s:s}", "type", "urn:cairn:problem:mfa-secret-unusable",
                  "title", "Conflict", "status", 409, "detail",
                  "this account's TOTP secret cannot be opened by the server (its "
                  "secrets key was lost): sign in with a recovery code, then enrol "
                  "again (POST /api/v1/auth/mfa/enroll)",
                  "request_id", r->request_id);
    char *body = json_dumps(p, JSON_COMPACT);
    json_decref(p);
    if (body == NULL)
        return CN_ERR;
    cn_reply_header(r, "cache-control", H2O_STRLIT("no-store"));
    int rc = cn_reply_raw(r, 409, "application/problem+json", body, strlen(body));
    free(body);
    return rc;
}

/* Loads the user's secret and last step; 0, CN_ENOTFOUND, CN_EGONE (sealed with another
 * key), or an error. */
static int load_secret(cn_req_t *r, const char *user, uint8_t secret[SECRET_BYTES],
                       uint64_t *last_step, int *confirmed)
{
    cn_stmt_t *st;
    cn_val_t args[] = {CN_VTEXT(user)};
    int rc = cn_store_query(r->store,
                            "SELECT secret, last_step, confirmed_at FROM mfa WHERE user_id = $1",
                            args, 1, &st, &r->err);
    if (rc != 0)
        return rc;
    rc = cn_stmt_step(st, &r->err);
    if (rc == CN_ROW) {
        size_t n;
        const char *text = cn_stmt_text(st, 0, &n);
        if (auth_vault_unseal(text, n, user, secret, SECRET_BYTES) != 0) {
            cn_log(CN_LOG_WARN, r->request_id,
                   "the TOTP secret of %s does not open with this server's secrets key", user);
            rc = SECRET_SEALED_ELSEWHERE;
        }
        *last_step = (uint64_t)cn_stmt_int(st, 1);
        *confirmed = !cn_stmt_is_null(st, 2);
    }
    cn_stmt_finish(st);
    return rc == CN_ROW ? 0 : rc < 0 ? rc : rc == SECRET_SEALED_ELSEWHERE ? rc : CN_ENOTFOUND;
}

static int use_step(cn_req_t *r, const char *user, uint64_t step)
{
    cn_val_t args[] = {CN_VTEXT(user), CN_VINT((int64_t)step)};
    int64_t changes = 0;
    /* the step only moves forward: a code raced on another thread is refused as a replay */
    int rc = cn_store_exec(r->store,
                           "UPDATE mfa SET last_step = $2 WHERE user_id = $1 AND last_step < $2",
                           args, 2, &changes, &r->err);
    return rc != 0 ? rc : changes == 1 ? 0 : cn_fail(r, CN_EUNAUTH, "this code was already used");
}

static const cn_field_t confirm_fields[] = {
    {"code", CN_T_STRING, .required = 1, .min_len = 6, .max_len = 6},
    {0},
};
const cn_schema_t auth_mfa_confirm_schema = {"MfaConfirm", confirm_fields};

int auth_mfa_confirm(cn_req_t *r)
{
    const char *user = r->principal.subject;
    uint8_t secret[SECRET_BYTES];
    uint64_t last = 0, step = 0;
    int confirmed = 0;
    int rc = load_secret(r, user, secret, &last, &confirmed);
    if (rc == CN_ENOTFOUND)
        return cn_fail(r, CN_ECONFLICT, "enrol first (POST /api/v1/auth/mfa/enroll)");
    if (rc == SECRET_SEALED_ELSEWHERE)
        return secret_unusable(r);
    if (rc != 0)
        return rc;
    if (confirmed)
        return cn_fail(r, CN_ECONFLICT, "MFA is already enabled for this account");
    int ok = auth_totp_check(secret, sizeof(secret), time(NULL),
                             json_string_value(json_object_get(r->body, "code")), last, &step);
    sodium_memzero(secret, sizeof(secret));
    if (ok != 0)
        return cn_fail_field(r, "code", "is not the current code of the authenticator");
    if ((rc = cn_store_begin(r->store, &r->err)) != 0 || (rc = use_step(r, user, step)) != 0)
        return rc;
    cn_val_t args[] = {CN_VTEXT(user), CN_VINT(cn_now_ms())};
    rc = cn_store_exec(r->store, "UPDATE mfa SET confirmed_at = $2 WHERE user_id = $1", args, 2,
                       NULL, &r->err);
    json_t *codes = json_array();
    for (int i = 0; rc == 0 && i < RECOVERY_CODES; i++) {
        uint8_t raw[10];
        char code[24], hash[65];
        cn_random(raw, sizeof(raw));
        for (int k = 0; k < 10; k++) /* ten characters, readable: no 0/O/1/l */
            code[k] = "abcdefghjkmnpqrstuvwxyz23456789"[raw[k] % 31];
        code[10] = '\0';
        auth_refresh_hash(code, 10, hash);
        cn_val_t ins[] = {CN_VTEXT(user), CN_VTEXT(hash)};
        rc =
            cn_store_exec(r->store, "INSERT INTO mfa_recovery (user_id, code_hash) VALUES ($1, $2)",
                          ins, 2, NULL, &r->err);
        json_array_append_new(codes, json_string(code));
    }
    if (rc == 0)
        rc = cn_store_commit(r->store, &r->err);
    if (rc != 0) {
        json_decref(codes);
        return rc;
    }
    cn_reply_header(r, "cache-control", H2O_STRLIT("no-store"));
    return cn_reply_json(r, 200,
                         json_pack("{s:b, s:o}", "mfa_enabled", 1, "recovery_codes", codes));
}

static const cn_field_t verify_fields[] = {
    {"challenge", CN_T_STRING, .required = 1, .min_len = 1, .max_len = 64},
    {"code", CN_T_STRING, .min_len = 6, .max_len = 6},
    {"recovery_code", CN_T_STRING, .min_len = 10, .max_len = 10},
    {"cookie", CN_T_BOOLEAN, .description = "also set the session cookies (browsers)"},
    {0},
};
const cn_schema_t auth_mfa_verify_schema = {"MfaVerify", verify_fields};

int auth_mfa_verify(cn_req_t *r, auth_start_session_fn start)
{
    const char *challenge = json_string_value(json_object_get(r->body, "challenge"));
    const char *code = json_string_value(json_object_get(r->body, "code"));
    const char *recovery = json_string_value(json_object_get(r->body, "recovery_code"));
    if ((code == NULL) == (recovery == NULL))
        return cn_fail_field(r, "", "give exactly one of code, recovery_code");
    char hash[65], user[64] = "", tenant[64] = "", role[CN_ROLE_NAME_MAX + 1] = "";
    int64_t ends_at = 0;
    auth_refresh_hash(challenge, strlen(challenge), hash);
    int rc = cn_store_begin(r->store, &r->err);
    cn_stmt_t *st;
    cn_val_t ch[] = {CN_VTEXT(hash), CN_VINT(cn_now_ms())};
    if (rc == 0)
        rc = cn_store_query(r->store,
                            "UPDATE mfa_challenges SET used_at = $2 WHERE id_hash = $1"
                            " AND used_at IS NULL AND expires_at > $2"
                            " RETURNING user_id, tenant_id, role, session_ends_at",
                            ch, 2, &st, &r->err);
    if (rc != 0)
        return rc;
    if ((rc = cn_stmt_step(st, &r->err)) == CN_ROW) {
        snprintf(user, sizeof(user), "%s", cn_stmt_text(st, 0, NULL));
        snprintf(tenant, sizeof(tenant), "%s", cn_stmt_text(st, 1, NULL));
        snprintf(role, sizeof(role), "%s", cn_stmt_text(st, 2, NULL));
        ends_at = cn_stmt_is_null(st, 3) ? 0 : cn_stmt_int(st, 3);
    }
    cn_stmt_finish(st);
    if (rc < 0)
        return rc;
    if (rc != CN_ROW)
        return cn_fail(r, CN_EUNAUTH, "the challenge is unknown, used or expired; sign in again");
    /* one attempt per challenge, kept even when the code is wrong: guessing needs a new
     * password sign-in (argon2id, lockout) for every try */
    if ((rc = cn_store_commit(r->store, &r->err)) != 0 ||
        (rc = cn_store_begin(r->store, &r->err)) != 0)
        return rc;
    if (code != NULL) {
        uint8_t secret[SECRET_BYTES];
        uint64_t last = 0, step = 0;
        int confirmed = 0;
        if ((rc = load_secret(r, user, secret, &last, &confirmed)) == SECRET_SEALED_ELSEWHERE)
            return secret_unusable(r);
        if (rc != 0)
            return rc == CN_ENOTFOUND ? cn_fail(r, CN_EUNAUTH, "MFA is not enabled") : rc;
        int ok = auth_totp_check(secret, sizeof(secret), time(NULL), code, last, &step);
        sodium_memzero(secret, sizeof(secret));
        if (ok == -2)
            return cn_fail(r, CN_EUNAUTH, "this code was already used");
        if (ok != 0)
            return cn_fail(r, CN_EUNAUTH, "the code is wrong");
        if ((rc = use_step(r, user, step)) != 0)
            return rc;
    } else {
        char code_hash[65];
        auth_refresh_hash(recovery, strlen(recovery), code_hash);
        cn_val_t args[] = {CN_VTEXT(user), CN_VTEXT(code_hash), CN_VINT(cn_now_ms())};
        int64_t changes = 0;
        rc = cn_store_exec(r->store,
                           "UPDATE mfa_recovery SET used_at = $3 WHERE user_id = $1"
                           " AND code_hash = $2 AND used_at IS NULL",
                           args, 3, &changes, &r->err);
        if (rc != 0)
            return rc;
        if (changes != 1)
            return cn_fail(r, CN_EUNAUTH, "the recovery code is wrong or was already used");
    }
    if ((rc = cn_store_commit(r->store, &r->err)) != 0)
        return rc;
    return start(r, user, tenant, role, ends_at);
}
