/* TOTP against RFC 6238's test vectors (SHA-1, 6 digits), replay refusal, QR rendering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "auth/mfa.h"

#include <stdlib.h>
#include <string.h>

static const uint8_t rfc_secret[] = "12345678901234567890";

static const struct {
    time_t t;
    const char *code; /* the RFC's 8-digit value, last 6 digits */
} vectors[] = {
    {59, "287082"},         {1111111109, "081804"}, {1111111111, "050471"},
    {1234567890, "005924"}, {2000000000, "279037"}, {20000000000, "353130"},
};

static void test_rfc6238_vectors(void **state)
{
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        uint64_t step = 0;
        assert_int_equal(auth_totp_check(rfc_secret, 20, vectors[i].t, vectors[i].code, 0, &step),
                         0);
        assert_int_equal(step, (uint64_t)(vectors[i].t / 30));
    }
}

static void test_wrong_and_malformed_codes(void **state)
{
    uint64_t step;
    assert_int_equal(auth_totp_check(rfc_secret, 20, 59, "287083", 0, &step), -1);
    assert_int_equal(auth_totp_check(rfc_secret, 20, 59, "28708", 0, &step), -1);
    assert_int_equal(auth_totp_check(rfc_secret, 20, 59, "2870822", 0, &step), -1);
    assert_int_equal(auth_totp_check(rfc_secret, 20, 59, "", 0, &step), -1);
    /* far outside the one-step window */
    assert_int_equal(auth_totp_check(rfc_secret, 20, 59 + 300, "287082", 0, &step), -1);
}

static void test_window_and_replay(void **state)
{
    uint64_t step = 0;
    /* one step of clock drift either way is accepted */
    assert_int_equal(auth_totp_check(rfc_secret, 20, 1111111109 + 30, "081804", 0, &step), 0);
    assert_int_equal(step, 1111111109 / 30);
    /* the same code again, or any older one, is a replay */
    assert_int_equal(auth_totp_check(rfc_secret, 20, 1111111109, "081804", step, &step), -2);
    assert_int_equal(auth_totp_check(rfc_secret, 20, 1111111109, "081804", step + 5, &step), -2);
}

static void test_qr_png(void **state)
{
    uint8_t *png = NULL;
    size_t len = 0;
    assert_int_equal(
        auth_qr_png("otpauth://totp/Cairn:a@b.example?secret=ABC&issuer=Cairn", &png, &len), 0);
    assert_true(len > 100);
    static const uint8_t magic[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    assert_memory_equal(png, magic, sizeof(magic));
    free(png);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc6238_vectors),
        cmocka_unit_test(test_wrong_and_malformed_codes),
        cmocka_unit_test(test_window_and_replay),
        cmocka_unit_test(test_qr_png),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
