/*
 * Unit tests for passwords (src/auth/passwords.h): the policy (length in characters, the
 * e-mail, the common-password list with decorations stripped, cracklib), argon2id hashing
 * and verification, and when a stored hash needs re-hashing. Hashing takes tens of
 * milliseconds, so the number of hashes here is kept small.
 */
#include "auth/passwords.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#define STRONG "vivid-Otter-42-lantern"
#define HASH_PREFIX "$argon2id$v=19$m=19456,t=2,p=1$"

static const char *policy(const char *pw, const char *email)
{
    return auth_password_policy(pw, strlen(pw), email);
}

/* Asserts that the policy refuses pw with a reason containing want. */
static void refused(const char *pw, const char *email, const char *want)
{
    const char *why = policy(pw, email);
    if (why == NULL)
        fail_msg("'%s' was accepted; expected a refusal mentioning '%s'", pw, want);
    if (strstr(why, want) == NULL)
        fail_msg("'%s' was refused with '%s'; expected a reason mentioning '%s'", pw, why, want);
}

static void accepted(const char *pw, const char *email)
{
    const char *why = policy(pw, email);
    if (why != NULL)
        fail_msg("'%s' was refused: %s", pw, why);
}

static int group_setup(void **state)
{
    return auth_passwords_init(AUTH_COMMON_PASSWORDS);
}

/* ---- init ---- */

static void test_init(void **state)
{
    /* the group setup loaded the list already; loading again is a no-op that succeeds */
    assert_int_equal(auth_passwords_init("/usr/share/john/password.lst"), 0);
    assert_string_equal(AUTH_COMMON_PASSWORDS, "/usr/share/john/password.lst");
    assert_int_equal(AUTH_HASH_LEN, crypto_pwhash_STRBYTES);
}

/* ---- policy ---- */

static void test_policy_strong_passes(void **state)
{
    accepted(STRONG, NULL);
    accepted(STRONG, "alice@example.com");
    accepted("Correct-Horse-Battery-Staple-91", "bob@example.org");
    accepted("tWq7#vRz!pL2@mXe", NULL);
}

static void test_policy_length(void **state)
{
    refused("", NULL, "at least 12 characters");
    refused("x7#Qa", NULL, "at least 12 characters");
    refused("vivid-Ott42", NULL, "at least 12 characters"); /* 11 */
    /* 12 is enough for the length rule */
    const char *why = policy("vivid-Otr-42", NULL);
    assert_true(why == NULL || strstr(why, "characters") == NULL);

    char long_pw[300];
    const char *pattern = "Qz7!vivid-Otter-42-lantern#";
    for (size_t i = 0; i < 257; i++)
        long_pw[i] = pattern[i % strlen(pattern)];
    long_pw[257] = '\0';
    refused(long_pw, NULL, "at most 256 characters");
    long_pw[256] = '\0'; /* exactly 256: not refused for its length */
    why = policy(long_pw, NULL);
    assert_true(why == NULL || strstr(why, "at most") == NULL);
}

static void test_policy_counts_characters_not_bytes(void **state)
{
    /* eleven two-byte characters are 22 bytes but still too short */
    char pw[1200] = "";
    for (int i = 0; i < 11; i++)
        strcat(pw, "\xc3\xa9"); /* é */
    refused(pw, NULL, "at least 12 characters");
    /* 12 characters (five of them multi-byte) pass the length rule */
    const char *twelve = "\xc3\xa9t\xc3\xa9-Otter-\xe2\x82\xac\xc3\xbc\xc3\x9f";
    const char *why = policy(twelve, NULL);
    assert_true(why == NULL || strstr(why, "at least") == NULL);
    /* 257 two-byte characters are too long; 200 of them (400 bytes) are not */
    pw[0] = '\0';
    for (int i = 0; i < 257; i++)
        strcat(pw, (i % 2) ? "\xc3\xa9" : "\xc3\xbc");
    refused(pw, NULL, "at most 256 characters");
    pw[400] = '\0';
    why = policy(pw, NULL);
    assert_true(why == NULL || strstr(why, "at most") == NULL);
}

static void test_policy_refuses_nul(void **state)
{
    const char pw[] = "vivid-Otter\0-42-lantern";
    const char *why = auth_password_policy(pw, sizeof(pw) - 1, NULL);
    assert_non_null(why);
    assert_non_null(strstr(why, "NUL"));
}

static void test_policy_email(void **state)
{
    const char *email = "alice.smith@example.com";
    refused("xx-alice.smith@example.com-42", email, "e-mail");
    refused("ALICE.SMITH@EXAMPLE.COM", email, "e-mail"); /* case does not matter */
    refused("Zebra-Alice.Smith-42!", email, "e-mail");   /* the local part (11 characters) */
    refused("vivid-alice.smith", email, "e-mail");
    /* a local part of 4 characters counts */
    refused("vivid-Otter-JOHN-42", "john@example.com", "e-mail");
    /* one of 3 does not: "bob" may appear in a strong password */
    accepted("vivid-Bob-Otter-42", "bob@example.com");
    /* parts of the e-mail shorter than the whole local part are fine */
    accepted("vivid-Alic-Otter-42", "alice@example.com");
    /* and without an e-mail there is nothing to compare with */
    accepted("vivid-alice.smith-42", NULL);
}

static void test_policy_common(void **state)
{
    refused("password1234", NULL, "commonly used passwords");
    refused("Password123!", NULL, "commonly used passwords");
    refused("PASSWORD1234!!", NULL, "commonly used passwords");
    refused("letmein!2024#", NULL, "commonly used passwords");
    refused("qwerty123456", NULL, "commonly used passwords");
    refused("1234567890", NULL, "at least 12"); /* on the list, but length comes first */
}

static void test_policy_cracklib(void **state)
{
    /* cracklib's own reasons, passed through unchanged */
    refused("aaaaaaaaaaaaaa", NULL, "it does not contain enough DIFFERENT characters");
    refused("abcdefghijklmnop", NULL, "it is too simplistic/systematic");
    /* all digits: stripping trailing digits leaves nothing to look up, cracklib catches it */
    refused("123456789012", NULL, "it is too simplistic/systematic");
}

/* ---- hashing ---- */

static void test_hash_verify_round_trip(void **state)
{
    char h1[AUTH_HASH_LEN], h2[AUTH_HASH_LEN];
    assert_int_equal(auth_password_hash(STRONG, strlen(STRONG), h1), 0);
    assert_int_equal(strncmp(h1, HASH_PREFIX, strlen(HASH_PREFIX)), 0);
    assert_true(strlen(h1) < AUTH_HASH_LEN);
    assert_int_equal(auth_password_verify(h1, STRONG, strlen(STRONG)), 1);

    /* wrong, truncated, extended and re-cased passwords fail */
    assert_int_equal(auth_password_verify(h1, "vivid-Otter-42-lanterN", strlen(STRONG)), 0);
    assert_int_equal(auth_password_verify(h1, STRONG, strlen(STRONG) - 1), 0);
    assert_int_equal(auth_password_verify(h1, STRONG "x", strlen(STRONG) + 1), 0);
    assert_int_equal(auth_password_verify(h1, "", 0), 0);

    /* a fresh salt each time: same password, different hash, both verify */
    assert_int_equal(auth_password_hash(STRONG, strlen(STRONG), h2), 0);
    assert_string_not_equal(h1, h2);
    assert_int_equal(auth_password_verify(h2, STRONG, strlen(STRONG)), 1);

    /* a corrupted hash string verifies nothing */
    h2[strlen(h2) - 3] = h2[strlen(h2) - 3] == 'A' ? 'B' : 'A';
    assert_int_equal(auth_password_verify(h2, STRONG, strlen(STRONG)), 0);
    assert_int_equal(auth_password_verify("not a hash", STRONG, strlen(STRONG)), 0);
    assert_int_equal(auth_password_verify("", STRONG, strlen(STRONG)), 0);
}

static void test_hash_uses_length_not_nul(void **state)
{
    const char pw[] = "abc\0vivid-Otter-42";
    char h[AUTH_HASH_LEN];
    assert_int_equal(auth_password_hash(pw, sizeof(pw) - 1, h), 0);
    assert_int_equal(auth_password_verify(h, pw, sizeof(pw) - 1), 1);
    assert_int_equal(auth_password_verify(h, "abc", 3), 0);
}

static void test_null_hash_fails(void **state)
{
    /* an unknown account: the dummy hash is checked (same time), and it never matches */
    assert_int_equal(auth_password_verify(NULL, STRONG, strlen(STRONG)), 0);
    assert_int_equal(auth_password_verify(NULL, "", 0), 0);
    assert_int_equal(auth_password_verify(NULL, STRONG, strlen(STRONG)), 0);
}

static void test_needs_rehash(void **state)
{
    char fresh[AUTH_HASH_LEN], weak[AUTH_HASH_LEN], less_memory[AUTH_HASH_LEN];
    assert_int_equal(auth_password_hash(STRONG, strlen(STRONG), fresh), 0);
    assert_int_equal(auth_password_needs_rehash(fresh), 0);

    assert_int_equal(crypto_pwhash_str_alg(weak, STRONG, strlen(STRONG), crypto_pwhash_OPSLIMIT_MIN,
                                           crypto_pwhash_MEMLIMIT_MIN,
                                           crypto_pwhash_ALG_ARGON2ID13),
                     0);
    assert_int_equal(strncmp(weak, "$argon2id$", 10), 0);
    assert_int_equal(auth_password_needs_rehash(weak), 1);
    /* an old hash still verifies, so it can be upgraded at the next sign-in */
    assert_int_equal(auth_password_verify(weak, STRONG, strlen(STRONG)), 1);

    /* same time cost, less memory */
    assert_int_equal(crypto_pwhash_str_alg(less_memory, STRONG, strlen(STRONG), 2, 8u * 1024 * 1024,
                                           crypto_pwhash_ALG_ARGON2ID13),
                     0);
    assert_int_equal(auth_password_needs_rehash(less_memory), 1);

    /* something that is not a hash at all must be replaced too */
    assert_int_equal(auth_password_needs_rehash("plain-text"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init),
        cmocka_unit_test(test_policy_strong_passes),
        cmocka_unit_test(test_policy_length),
        cmocka_unit_test(test_policy_counts_characters_not_bytes),
        cmocka_unit_test(test_policy_refuses_nul),
        cmocka_unit_test(test_policy_email),
        cmocka_unit_test(test_policy_common),
        cmocka_unit_test(test_policy_cracklib),
        cmocka_unit_test(test_hash_verify_round_trip),
        cmocka_unit_test(test_hash_uses_length_not_nul),
        cmocka_unit_test(test_null_hash_fails),
        cmocka_unit_test(test_needs_rehash),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
