/*
 * Our JWT code against libjwt, the reference: every token we issue must decode and
 * verify with libjwt using the same key, and a token libjwt signs must pass our verifier.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "auth/auth.h"
#include "auth/tokens.h"
#include "auth/vault.h"
#include "store/store_int.h"

#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];
static cn_store_t *store;
static char kid[40];
static unsigned char key[32];

static int setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/cairn-jwt-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    cn_store_opts_t opts = {.data_dir = dir, .busy_timeout_ms = 1000};
    cn_err_t err = {0};
    if (cn_store_open(&opts, &store, &err) != 0)
        return -1;
    cn_migration_set_t set = {"auth", auth_module.migrations};
    char key_path[128];
    snprintf(key_path, sizeof(key_path), "%s/secrets.key", dir);
    if (cn_migrate(store, &set, 1, 0, NULL, NULL, &err) != 0 ||
        auth_vault_open(key_path, &err) != 0 || auth_keys_load(store, &err) != 0)
        return -1;
    cn_stmt_t *st;
    if (cn_store_query(store, "SELECT kid, secret FROM signing_keys", NULL, 0, &st, &err) != 0 ||
        cn_stmt_step(st, &err) != CN_ROW)
        return -1;
    snprintf(kid, sizeof(kid), "%s", cn_stmt_text(st, 0, NULL));
    size_t len;
    const char *sealed = cn_stmt_text(st, 1, &len); /* keys are stored sealed by the vault */
    int rc = auth_key_unseal(kid, sealed, len, key);
    cn_stmt_finish(st);
    return rc;
}

static int teardown(void **state)
{
    cn_store_close(store);
    auth_keys_free();
    auth_vault_close();
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd);
}

static auth_claims_t sample(void)
{
    auth_claims_t c = {0};
    snprintf(c.sub, sizeof(c.sub), "user-1");
    snprintf(c.tid, sizeof(c.tid), "tenant-1");
    snprintf(c.sid, sizeof(c.sid), "session-1");
    snprintf(c.role, sizeof(c.role), "member");
    c.iat = c.nbf = cn_now_ms() / 1000;
    c.exp = c.iat + 900;
    return c;
}

static void test_libjwt_verifies_our_tokens(void **state)
{
    auth_claims_t c = sample();
    char *token = auth_token_issue(&c);
    assert_non_null(token);
    jwt_t *jwt = NULL;
    assert_int_equal(jwt_decode(&jwt, token, key, sizeof(key)), 0);
    assert_int_equal(jwt_get_alg(jwt), JWT_ALG_HS256);
    assert_string_equal(jwt_get_header(jwt, "kid"), kid);
    assert_string_equal(jwt_get_grant(jwt, "sub"), "user-1");
    assert_string_equal(jwt_get_grant(jwt, "tid"), "tenant-1");
    assert_string_equal(jwt_get_grant(jwt, "sid"), "session-1");
    assert_string_equal(jwt_get_grant(jwt, "iss"), "cairn");
    assert_string_equal(jwt_get_grant(jwt, "aud"), "cairn-api");
    assert_int_equal(jwt_get_grant_int(jwt, "exp"), c.exp);
    char *roles = jwt_get_grants_json(jwt, "roles");
    assert_string_equal(roles, "[\"member\"]");
    free(roles);
    jwt_free(jwt);
    /* and with the wrong key libjwt refuses it */
    unsigned char wrong[32];
    memcpy(wrong, key, sizeof(wrong));
    wrong[0] ^= 1;
    jwt = NULL;
    assert_int_not_equal(jwt_decode(&jwt, token, wrong, sizeof(wrong)), 0);
    jwt_free(jwt);
    free(token);
}

static void test_we_verify_libjwt_tokens(void **state)
{
    auth_claims_t c = sample();
    jwt_t *jwt = NULL;
    assert_int_equal(jwt_new(&jwt), 0);
    jwt_add_header(jwt, "kid", kid);
    jwt_add_grant(jwt, "iss", "cairn");
    jwt_add_grant(jwt, "aud", "cairn-api");
    jwt_add_grant(jwt, "sub", c.sub);
    jwt_add_grant(jwt, "tid", c.tid);
    jwt_add_grant(jwt, "sid", c.sid);
    jwt_add_grants_json(jwt, "{\"roles\":[\"member\"]}");
    jwt_add_grant_int(jwt, "iat", c.iat);
    jwt_add_grant_int(jwt, "nbf", c.nbf);
    jwt_add_grant_int(jwt, "exp", c.exp);
    jwt_set_alg(jwt, JWT_ALG_HS256, key, sizeof(key));
    char *token = jwt_encode_str(jwt);
    assert_non_null(token);
    auth_claims_t out;
    const char *why = NULL;
    assert_int_equal(auth_token_verify(token, strlen(token), c.iat, store, &out, &why), 0);
    assert_string_equal(out.sub, "user-1");
    assert_string_equal(out.role, "member");
    assert_int_equal(out.exp, c.exp);
    /* the same claims signed by libjwt with alg none are refused */
    jwt_set_alg(jwt, JWT_ALG_NONE, NULL, 0);
    char *unsigned_token = jwt_encode_str(jwt);
    assert_int_not_equal(
        auth_token_verify(unsigned_token, strlen(unsigned_token), c.iat, store, &out, &why), 0);
    free(unsigned_token);
    free(token);
    jwt_free(jwt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_libjwt_verifies_our_tokens),
        cmocka_unit_test(test_we_verify_libjwt_tokens),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
