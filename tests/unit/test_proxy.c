/*
 * Trusted proxies: CIDR parsing (IPv4, IPv6, bad entries), and the X-Forwarded-For walk:
 * untrusted peers are taken as they are, trusted hops are skipped from the right, entries
 * written by the client left of the first untrusted hop never count.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/proxy.h"

#include <stdio.h>
#include <string.h>

static cn_proxies_t *parse(const char *list)
{
    cn_proxies_t *p = NULL;
    char bad[64];
    assert_int_equal(cn_proxies_parse(list, &p, bad, sizeof(bad)), 0);
    return p;
}

static void test_parse(void **state)
{
    cn_proxies_t *p = NULL;
    char bad[64] = "";
    assert_int_equal(cn_proxies_parse("", &p, bad, sizeof(bad)), 0);
    assert_null(p);
    const char *wrong[] = {"10.0.0.0/33", "10.0.0/8",    "fd00::/129", "1.2.3.4/",
                           "1.2.3.4/x",   "example.com", "1.2.3.4/-1"};
    for (size_t i = 0; i < sizeof(wrong) / sizeof(*wrong); i++) {
        char list[80];
        snprintf(list, sizeof(list), "127.0.0.1, %s", wrong[i]);
        assert_int_equal(cn_proxies_parse(list, &p, bad, sizeof(bad)), -1);
        assert_string_equal(bad, wrong[i]);
        assert_null(p);
    }
    p = parse("10.0.0.0/8 192.168.1.7, fd00::/8 ::1");
    assert_true(cn_proxies_trust(p, "10.255.1.2"));
    assert_true(cn_proxies_trust(p, "192.168.1.7"));
    assert_false(cn_proxies_trust(p, "192.168.1.8"));
    assert_false(cn_proxies_trust(p, "11.0.0.1"));
    assert_true(cn_proxies_trust(p, "fd12::1"));
    assert_true(cn_proxies_trust(p, "::1"));
    assert_false(cn_proxies_trust(p, "::2"));
    assert_true(cn_proxies_trust(p, "::ffff:10.1.1.1")); /* an IPv4-mapped peer */
    assert_false(cn_proxies_trust(p, "not-an-ip"));
    cn_proxies_free(p);
    p = parse("172.16.0.0/12");
    assert_true(cn_proxies_trust(p, "172.31.255.255"));
    assert_false(cn_proxies_trust(p, "172.32.0.0"));
    cn_proxies_free(p);
}

static const char *client(cn_proxies_t *p, const char *peer, const char *xff)
{
    static char out[48];
    cn_proxies_client(p, peer, xff, xff ? strlen(xff) : 0, out, sizeof(out));
    return out;
}

static void test_forwarded_for(void **state)
{
    cn_proxies_t *p = parse("127.0.0.1, 10.0.0.0/8");
    /* an untrusted peer's header is ignored */
    assert_string_equal(client(p, "203.0.113.9", "1.1.1.1"), "203.0.113.9");
    /* a trusted peer without the header is the client itself */
    assert_string_equal(client(p, "127.0.0.1", NULL), "127.0.0.1");
    assert_string_equal(client(p, "127.0.0.1", "198.51.100.4"), "198.51.100.4");
    /* the client's own forged entries left of the first untrusted hop never count */
    assert_string_equal(client(p, "127.0.0.1", "6.6.6.6, 198.51.100.4, 10.1.2.3"), "198.51.100.4");
    /* spaces, IPv6, normalisation */
    assert_string_equal(client(p, "127.0.0.1", " 2001:DB8:0:0::1 "), "2001:db8::1");
    /* garbage stops the walk at the trusted hop that passed it on */
    assert_string_equal(client(p, "127.0.0.1", "198.51.100.4, junk, 10.0.0.2"), "10.0.0.2");
    assert_string_equal(client(p, "127.0.0.1", ""), "127.0.0.1");
    assert_string_equal(client(p, "127.0.0.1", ",,"), "127.0.0.1");
    /* every hop trusted: the leftmost */
    assert_string_equal(client(p, "127.0.0.1", "10.0.0.5, 10.0.0.6"), "10.0.0.5");
    /* no proxies configured: always the peer */
    assert_string_equal(client(NULL, "127.0.0.1", "198.51.100.4"), "127.0.0.1");
    cn_proxies_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_forwarded_for),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
