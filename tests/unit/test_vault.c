/*
 * The vault: the key file is created 0600 and read back, a sealed value opens only for
 * its own row and only untouched, bad key files are refused, and TOTP secrets stored in
 * plain before the vault existed are sealed at start-up.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "auth/auth.h"
#include "auth/cookies.h"
#include "auth/mfa.h"
#include "auth/vault.h"
#include "store/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char dir[64], key_path[128];

static int setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/cairn-vault-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(key_path, sizeof(key_path), "%s/secrets.key", dir);
    return 0;
}

static int teardown(void **state)
{
    auth_vault_close();
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd);
}

static void test_seal_and_unseal(void **state)
{
    cn_err_t err = {0};
    assert_int_equal(auth_vault_open(key_path, &err), 0);
    struct stat st;
    assert_int_equal(stat(key_path, &st), 0);
    assert_int_equal(st.st_size, 32);
    assert_int_equal(st.st_mode & 0777, 0600);
    const uint8_t plain[20] = "0123456789abcdefghij";
    char box[AUTH_VAULT_LEN(20)];
    assert_int_equal(auth_vault_seal(plain, 20, "user-1", box, sizeof(box)), 0);
    assert_int_equal(strncmp(box, "v1:", 3), 0);
    uint8_t out[20];
    assert_int_equal(auth_vault_unseal(box, strlen(box), "user-1", out, 20), 0);
    assert_memory_equal(out, plain, 20);
    /* another row, a flipped character, a wrong length: refused */
    assert_int_equal(auth_vault_unseal(box, strlen(box), "user-2", out, 20), -1);
    char bad[sizeof(box)];
    memcpy(bad, box, sizeof(box));
    bad[10] = bad[10] == '0' ? '1' : '0';
    assert_int_equal(auth_vault_unseal(bad, strlen(bad), "user-1", out, 20), -1);
    assert_int_equal(auth_vault_unseal(box, strlen(box) - 2, "user-1", out, 20), -1);
    assert_int_equal(auth_vault_unseal("0123", 4, "user-1", out, 20), -1);
    /* reopening reads the same key: the old box still opens */
    assert_int_equal(auth_vault_open(key_path, &err), 0);
    assert_int_equal(auth_vault_unseal(box, strlen(box), "user-1", out, 20), 0);
}

static void test_bad_key_files(void **state)
{
    cn_err_t err = {0};
    assert_int_equal(auth_vault_open(key_path, &err), 0);
    chmod(key_path, 0644);
    assert_int_not_equal(auth_vault_open(key_path, &err), 0);
    assert_non_null(strstr(err.msg, "owner only"));
    FILE *f = fopen(key_path, "w");
    fputs("short", f);
    fclose(f);
    chmod(key_path, 0600);
    assert_int_not_equal(auth_vault_open(key_path, &err), 0);
    assert_non_null(strstr(err.msg, "exactly 32 bytes"));
    char missing_dir[192];
    snprintf(missing_dir, sizeof(missing_dir), "%s/no/such/dir/key", dir);
    assert_int_not_equal(auth_vault_open(missing_dir, &err), 0);
}

static void test_plain_secrets_are_sealed(void **state)
{
    cn_err_t err = {0};
    cn_store_t *s;
    cn_store_opts_t opts = {.data_dir = dir, .busy_timeout_ms = 1000};
    cn_migration_set_t set = {"auth", auth_module.migrations};
    assert_int_equal(cn_store_open(&opts, &s, &err), 0);
    assert_int_equal(cn_migrate(s, &set, 1, 0, NULL, NULL, &err), 0);
    assert_int_equal(
        cn_store_exec_script(s,
                             "INSERT INTO users VALUES ('u1', 'a@b.example', 'x', 0, 0);"
                             "INSERT INTO mfa (user_id, secret) VALUES ('u1',"
                             " '3132333435363738393031323334353637383930')",
                             &err),
        0);
    assert_int_equal(auth_vault_open(key_path, &err), 0);
    int64_t n = -1;
    assert_int_equal(auth_mfa_seal_plain(s, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(auth_mfa_seal_plain(s, &n, &err), 0);
    assert_int_equal(n, 0); /* already sealed */
    cn_stmt_t *st;
    assert_int_equal(cn_store_query(s, "SELECT secret FROM mfa", NULL, 0, &st, &err), 0);
    assert_int_equal(cn_stmt_step(st, &err), CN_ROW);
    size_t len;
    const char *text = cn_stmt_text(st, 0, &len);
    uint8_t out[20];
    assert_int_equal(auth_vault_unseal(text, len, "u1", out, 20), 0);
    assert_memory_equal(out, "12345678901234567890", 20);
    cn_stmt_finish(st);
    cn_store_close(s);
}

static void test_created_flag(void **state)
{
    cn_err_t err = {0};
    assert_int_equal(auth_vault_open(key_path, &err), 0);
    assert_int_equal(auth_vault_created(), 1); /* no file before: made now */
    assert_int_equal(auth_vault_open(key_path, &err), 0);
    assert_int_equal(auth_vault_created(), 0); /* read back */
}

static void test_derived_keys_and_csrf_tokens(void **state)
{
    cn_err_t err = {0};
    uint8_t a[32], b[32], c[32];
    char t1[48], t2[48], t3[48];
    /* without the vault key nothing is derived: no CSRF token from the database alone */
    assert_int_equal(auth_vault_derive(1, "cairncsr", a, sizeof(a)), -1);
    assert_int_equal(auth_csrf_token("session-a", t1), -1);
    assert_int_equal(auth_vault_open(key_path, &err), 0);
    assert_int_equal(auth_vault_derive(1, "cairncsr", a, sizeof(a)), 0);
    assert_int_equal(auth_vault_derive(1, "cairncsr", b, sizeof(b)), 0);
    assert_memory_equal(a, b, 32);
    assert_int_equal(auth_vault_derive(2, "cairncsr", c, sizeof(c)), 0);
    assert_memory_not_equal(a, c, 32);
    assert_int_equal(auth_vault_derive(1, "otherctx", c, sizeof(c)), 0);
    assert_memory_not_equal(a, c, 32);
    assert_int_equal(auth_vault_derive(1, "cairncsr", c, 8), -1); /* too short to be a key */
    /* the CSRF token: same session, same token; another session, another token */
    assert_int_equal(auth_csrf_token("session-a", t1), 0);
    assert_int_equal(auth_csrf_token("session-a", t2), 0);
    assert_int_equal(auth_csrf_token("session-b", t3), 0);
    assert_string_equal(t1, t2);
    assert_string_not_equal(t1, t3);
    assert_int_equal(strlen(t1), 43); /* base64url of an HMAC-SHA256 */
    /* another server key (another vault): other tokens for the same session */
    char other[160];
    snprintf(other, sizeof(other), "%s/other.key", dir);
    assert_int_equal(auth_vault_open(other, &err), 0);
    assert_int_equal(auth_csrf_token("session-a", t2), 0);
    assert_string_not_equal(t1, t2);
}

static void test_unusable_totp_secrets_are_counted(void **state)
{
    cn_err_t err = {0};
    cn_store_t *s;
    cn_store_opts_t opts = {.data_dir = dir, .busy_timeout_ms = 1000};
    cn_migration_set_t set = {"auth", auth_module.migrations};
    assert_int_equal(cn_store_open(&opts, &s, &err), 0);
    assert_int_equal(cn_migrate(s, &set, 1, 0, NULL, NULL, &err), 0);
    assert_int_equal(cn_store_exec_script(s,
                                          "INSERT INTO users VALUES ('u1', 'a@b.example', 'x', 0,"
                                          " 0);"
                                          "INSERT INTO mfa (user_id, secret) VALUES ('u1',"
                                          " '3132333435363738393031323334353637383930')",
                                          &err),
                     0);
    assert_int_equal(auth_vault_open(key_path, &err), 0);
    int64_t n = -1;
    assert_int_equal(auth_mfa_unusable(s, &n, &err), 0);
    assert_int_equal(n, 0); /* plain: not sealed yet, so not counted */
    assert_int_equal(auth_mfa_seal_plain(s, &n, &err), 0);
    assert_int_equal(auth_mfa_unusable(s, &n, &err), 0);
    assert_int_equal(n, 0);
    char other[160];
    snprintf(other, sizeof(other), "%s/other.key", dir);
    assert_int_equal(auth_vault_open(other, &err), 0);
    assert_int_equal(auth_mfa_unusable(s, &n, &err), 0);
    assert_int_equal(n, 1);
    cn_store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_seal_and_unseal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_key_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plain_secrets_are_sealed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_created_flag, setup, teardown),
        cmocka_unit_test_setup_teardown(test_derived_keys_and_csrf_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unusable_totp_secrets_are_counted, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
