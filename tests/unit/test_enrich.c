/*
 * Unit tests for the enrichment libraries: User-Agent classification (src/lib/useragent.h)
 * on real browser and crawler strings, text preprocessing (src/lib/textprep.h), and GeoIP
 * lookups (src/lib/geoip.h) in a small database that tests/fixtures/make_geoip.pl writes at
 * run time. That script needs perl and MaxMind::DB::Writer (libmaxmind-db-writer-perl); the
 * GeoIP tests fail, not skip, without them.
 */
#include "lib/geoip.h"
#include "lib/textprep.h"
#include "lib/useragent.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

extern char **environ;

/* ---- cn_ua_parse ---- */

typedef struct {
    const char *ua;
    const char *device, *os, *client;
    int major;
} ua_case_t;

static const ua_case_t UA_CASES[] = {
    {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/120.0.0.0 Safari/537.36",
     "desktop", "Windows", "Chrome", 120},
    {"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) Version/17.1 Safari/605.1.15",
     "desktop", "macOS", "Safari", 17},
    {"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
     "like Gecko) Version/17.1.2 Mobile/15E148 Safari/604.1",
     "mobile", "iOS", "Safari", 17},
    {"Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/16.6 Mobile/15E148 Safari/604.1",
     "tablet", "iOS", "Safari", 16},
    {"Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1",
     "mobile", "iOS", "Chrome", 120},
    {"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/120.0.0.0 Mobile Safari/537.36",
     "mobile", "Android", "Chrome", 120},
    {"Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/119.0.0.0 Safari/537.36",
     "tablet", "Android", "Chrome", 119},
    {"Mozilla/5.0 (Android 14; Mobile; rv:121.0) Gecko/121.0 Firefox/121.0", "mobile", "Android",
     "Firefox", 121},
    {"Mozilla/5.0 (Android 13; Tablet; rv:121.0) Gecko/121.0 Firefox/121.0", "tablet", "Android",
     "Firefox", 121},
    {"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0", "desktop",
     "Linux", "Firefox", 121},
    {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91",
     "desktop", "Windows", "Edge", 120},
    {"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/120.0.0.0 Mobile Safari/537.36 EdgA/120.0.0.0",
     "mobile", "Android", "Edge", 120},
    {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/119.0.0.0 Safari/537.36 OPR/105.0.0.0",
     "desktop", "Windows", "Opera", 105},
    {"Opera/9.80 (Windows NT 6.1; WOW64) Presto/2.12.388 Version/12.18", "desktop", "Windows",
     "Opera", 12},
    {"Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
     "SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
     "mobile", "Android", "Samsung Internet", 23},
    {"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/120.0.0.0 Safari/537.36",
     "desktop", "ChromeOS", "Chrome", 120},
    /* the old stock Android browser says "Safari/" and is not Safari */
    {"Mozilla/5.0 (Linux; U; Android 4.0.3; ko-kr; LG-L160L Build/IML74K) AppleWebKit/534.30 "
     "(KHTML, like Gecko) Version/4.0 Mobile Safari/534.30",
     "mobile", "Android", "other", -1},
    /* a CUBOT phone is not a bot */
    {"Mozilla/5.0 (Linux; Android 9; CUBOT P30) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/116.0.0.0 Mobile Safari/537.36",
     "mobile", "Android", "Chrome", 116},
    {"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "bot", "other",
     "bot", -1},
    {"Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like "
     "Gecko) Chrome/120.0.6099.129 Mobile Safari/537.36 (compatible; Googlebot/2.1; "
     "+http://www.google.com/bot.html)",
     "bot", "Android", "bot", -1},
    {"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "bot", "other",
     "bot", -1},
    {"Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)", "bot", "other", "bot", -1},
    {"Baiduspider+(+http://www.baidu.com/search/spider.htm)", "bot", "other", "bot", -1},
    {"facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", "bot", "other",
     "bot", -1},
    {"curl/8.4.0", "unknown", "other", "curl", 8},
    {"Wget/1.21.3", "unknown", "other", "other", -1},
    {"", "unknown", "other", "other", -1},
    {"\x01\xff\xfe garbage \x80\x80", "unknown", "other", "other", -1},
    {"Chrome/", "unknown", "other", "Chrome", -1},
    {"Chrome/12345678.0", "unknown", "other", "Chrome", -1}, /* not a plausible version */
};

static void check_ua(const char *ua, size_t len, const ua_case_t *want)
{
    cn_ua_t got;
    memset(&got, 0xa5, sizeof(got)); /* every field must be written */
    cn_ua_parse(ua, len, &got);
    if (strcmp(got.device, want->device) != 0 || strcmp(got.os, want->os) != 0 ||
        strcmp(got.client, want->client) != 0 || got.client_major != want->major)
        fail_msg("\"%s\": got %s / %s / %s / %d, want %s / %s / %s / %d", ua, got.device, got.os,
                 got.client, got.client_major, want->device, want->os, want->client, want->major);
}

static void test_ua_table(void **state)
{
    for (size_t i = 0; i < N_OF(UA_CASES); i++)
        check_ua(UA_CASES[i].ua, strlen(UA_CASES[i].ua), &UA_CASES[i]);
}

static void test_ua_length_is_authoritative(void **state)
{
    /* a NUL is an ordinary byte; bytes past len are not looked at */
    static const char with_nul[] = "Mozilla/5.0 (Windows NT 10.0)\0 Firefox/121.0";
    const ua_case_t firefox = {NULL, "desktop", "Windows", "Firefox", 121};
    check_ua(with_nul, sizeof(with_nul) - 1, &firefox);
    const ua_case_t cut = {NULL, "desktop", "Windows", "other", -1};
    check_ua(with_nul, strlen(with_nul), &cut);
    const ua_case_t none = {NULL, "unknown", "other", "other", -1};
    check_ua(NULL, 0, &none);
}

static void test_ua_scan_is_bounded(void **state)
{
    /* a marker past CN_UA_SCAN_MAX bytes is not seen, however long the header */
    size_t len = 1 << 20;
    char *ua = malloc(len);
    assert_non_null(ua);
    memset(ua, 'x', len);
    memcpy(ua, "Mozilla/5.0 (X11; Linux x86_64)", 31);
    memcpy(ua + CN_UA_SCAN_MAX, "Googlebot/2.1 Firefox/121.0", 27);
    const ua_case_t linux_other = {NULL, "desktop", "Linux", "other", -1};
    check_ua(ua, len, &linux_other);
    memcpy(ua + CN_UA_SCAN_MAX - 13, "Firefox/121.0", 13);
    const ua_case_t firefox = {NULL, "desktop", "Linux", "Firefox", 121};
    check_ua(ua, len, &firefox);
    free(ua);
}

/* ---- cn_text_preprocess ---- */

static void expect_text(const char *in, size_t len, const char *want)
{
    char out[1024];
    assert_true(cn_text_preprocess_bound(len) <= sizeof(out));
    size_t n = cn_text_preprocess(in, len, out, sizeof(out));
    if (n != strlen(out) || strcmp(out, want) != 0)
        fail_msg("\"%s\" -> \"%s\" (%zu), want \"%s\"", in, out, n, want);
}

static void expect(const char *in, const char *want)
{
    expect_text(in, strlen(in), want);
}

static void test_text_case_and_spaces(void **state)
{
    expect("", "");
    expect("   \t\r\n ", "");
    expect("Hello   World", "hello world");
    expect("  leading and trailing \t\n", "leading and trailing");
    expect("tab\there\r\nnew line", "tab here new line");
    expect("MiXeD CaSe, Isn't It?", "mixed case, isn't it?");
    expect("a\xc2\xa0"
           "b\xe3\x80\x80"
           "c",
           "a b c"); /* no-break and ideographic spaces */
}

static void test_text_urls(void **state)
{
    expect("Visit https://Example.com/Path?q=1.", "visit [URL].");
    expect("see www.example.com, or HTTP://x.org/a_b", "see [URL], or [URL]");
    expect("ftp://files.example.org/a.txt!", "[URL]!");
    expect("(see https://en.wikipedia.org/wiki/C_(language))", "(see [URL])");
    expect("(www.x.com)", "([URL])");
    expect("\"https://x.io/\"", "\"[URL]\"");
    expect("http://user@host.example.com/", "[URL]");
    /* not URLs: no body, not at a word start, no scheme */
    expect("http:// nothing", "http: nothing");
    expect("awww.x.com", "awww.x.com");
    expect("example.com", "example.com");
}

static void test_text_emails(void **state)
{
    expect("mail Ann.Lee+x@Example.co.uk now", "mail [EMAIL] now");
    expect("write to a@b.com.", "write to [EMAIL].");
    expect("x@y.com,z@w.org", "[EMAIL],[EMAIL]");
    expect("mailto:ann@example.org", "mailto:[EMAIL]");
    expect("1@example.org", "[EMAIL]");
    /* not addresses: the '@' is a break */
    expect("@user hi", "user hi");
    expect("a@b", "a b");
    expect("a..b@c.com", "a..b c.com");
}

static void test_text_numbers(void **state)
{
    expect("Paid 1,000 USD on 3.14 and 42!", "paid [NUM] usd on [NUM] and [NUM]!");
    expect("-5 degrees, 1.2.3.4", "-[NUM] degrees, [NUM]");
    expect("ends with 7.", "ends with [NUM].");
    expect("$5 or 50%", "[NUM] or [NUM]");
    expect("mp3 5th 10am 1.5kg covid19", "mp3 5th 10am 1.5kg covid19");
    expect("\xef\xbc\x91\xef\xbc\x92\xef\xbc\x93 items", "[NUM] items"); /* fullwidth 123 */
    expect("\xd9\xa3 \xd9\xa4", "[NUM] [NUM]");                          /* Arabic-Indic 3 4 */
    expect("[NUM] [URL] [EMAIL]", "num url email"); /* typed tokens are not tokens */
}

static void test_text_unicode(void **state)
{
    expect("\xc3\x89"
           "COLE Stra\xc3\x9f"
           "e \xc3\x85NGSTR\xc3\x96M",
           "\xc3\xa9"
           "cole stra\xc3\x9f"
           "e \xc3\xa5ngstr\xc3\xb6m"); /* ÉCOLE Straße ÅNGSTRÖM */
    /* Привет, МИР! */
    expect("\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82, \xd0\x9c\xd0\x98\xd0\xa0!",
           "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82, \xd0\xbc\xd0\xb8\xd1\x80!");
    expect("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");
    expect("\xc2\xab Bonjour \xc2\xbb \xc2\xbfQu\xc3\xa9? \xe2\x80\xa6",
           "\xc2\xab bonjour \xc2\xbb \xc2\xbfqu\xc3\xa9? \xe2\x80\xa6"); /* « » ¿ … kept */
    expect("e\xcc\x81", "e\xcc\x81"); /* a combining accent is part of the letter */
    /* emoji and other symbols are word breaks */
    expect("great \xf0\x9f\x98\x80 product", "great product");
    expect("love\xf0\x9f\x98\x80it \xe2\x82\xac 2\xe2\x84\xa2", "love it [NUM]");
    /* ill-formed UTF-8 disappears */
    expect("\xff\xfeok\xc3", "ok");
    expect("a\xed\xa0\x80"
           "b",
           "ab"); /* an encoded surrogate */
}

static void test_text_symbols_and_controls(void **state)
{
    expect("and/or R&D c++ #tag a_b {x} [y] <z> |w| ~v^ `u` =t + s*r\\q",
           "and or r d c tag a b x y z w v u t s r q");
    expect("a\x01"
           "b\x7f"
           "c\x1b[0m",
           "abc 0m"); /* the escape goes; "[" is a break; "0m" is a word */
    expect("co\xc2\xad"
           "operate zero\xe2\x80\x8bwidth",
           "cooperate zerowidth"); /* soft hyphen, zero-width space */
    static const char with_nul[] = "nul\0inside";
    expect_text(with_nul, sizeof(with_nul) - 1, "nulinside");
}

/* Output cut for a small cap: a prefix of the full result, never half a token. */
static void expect_cut(const char *in, size_t cap, const char *want)
{
    char out[64];
    memset(out, '#', sizeof(out));
    size_t n = cn_text_preprocess(in, strlen(in), out, cap);
    if (n != strlen(want) || strcmp(out, want) != 0)
        fail_msg("\"%s\" cap %zu -> \"%s\" (%zu), want \"%s\"", in, cap, out, n, want);
    assert_int_equal(out[cap], '#'); /* nothing written at or past cap */
}

static void test_text_small_caps(void **state)
{
    char guard = '#';
    assert_int_equal(cn_text_preprocess("hello", 5, &guard, 0), 0);
    assert_int_equal(guard, '#');
    expect_cut("hello", 1, "");
    expect_cut("hello", 3, "he");
    expect_cut("hello world", 7, "hello"); /* the space goes with the word after it */
    expect_cut("hello world", 8, "hello w");
    expect_cut("1 2", 5, ""); /* [NUM] needs 6 with the NUL */
    expect_cut("1 2", 6, "[NUM]");
    expect_cut("ab 1", 5, "ab");
    expect_cut("ab 1", 9, "ab [NUM]");
    expect_cut("\xc3\xa9\xc3\xa9", 4, "\xc3\xa9"); /* no half character */
    expect_cut("see www.x.com", 8, "see");
}

static void test_text_bound_is_tight(void **state)
{
    static const char *const worst[] = {"1", "1 1 1", "1.a 2!3", "a@b.c"};
    for (size_t i = 0; i < N_OF(worst); i++) {
        size_t len = strlen(worst[i]), cap = cn_text_preprocess_bound(len);
        char big[256], exact[256];
        size_t n_big = cn_text_preprocess(worst[i], len, big, sizeof(big));
        size_t n_exact = cn_text_preprocess(worst[i], len, exact, cap);
        assert_true(n_big < cap);
        assert_int_equal(n_exact, n_big);
        assert_string_equal(exact, big);
    }
    char out[32];
    assert_int_equal(cn_text_preprocess("1 1 1", 5, out, sizeof(out)), 3 * 5 + 2);
    assert_true(cn_text_preprocess_bound(SIZE_MAX / 2) == SIZE_MAX);
}

/* ---- cn_geoip ---- */

static char fixture_path[64];
static cn_geoip_t *fixture;

/* The fixture script in the repository: $CAIRN_SOURCE_DIR, else the checkout this file
 * was compiled from (CMake passes absolute paths), else ".." (ctest runs in <repo>/build). */
static const char *fixture_script(char *buf, size_t cap)
{
    char compiled_from[4096];
    snprintf(compiled_from, sizeof(compiled_from), "%s", __FILE__);
    char *tail = strstr(compiled_from, "tests/unit/test_enrich.c");
    if (tail != NULL)
        *tail = '\0';
    const char *dirs[] = {getenv("CAIRN_SOURCE_DIR"), tail != NULL ? compiled_from : NULL, ".."};
    for (size_t i = 0; i < N_OF(dirs); i++) {
        if (dirs[i] == NULL || dirs[i][0] == '\0')
            continue;
        int n = snprintf(buf, cap, "%s/tests/fixtures/make_geoip.pl", dirs[i]);
        if (n > 0 && (size_t)n < cap && access(buf, R_OK) == 0)
            return buf;
    }
    return NULL;
}

static int run_perl(const char *script, const char *out_path)
{
    char *argv[] = {"perl", (char *)script, (char *)out_path, NULL};
    pid_t pid;
    int status = 0;
    if (posix_spawnp(&pid, "perl", NULL, NULL, argv, environ) != 0)
        return -1;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return -1;
    return 0;
}

/* Writes and opens the fixture database, or says why not in why. */
static cn_geoip_t *build_fixture(char *why, size_t cap)
{
    char script[4096], err[256];
    cn_geoip_t *db = NULL;
    if (fixture_script(script, sizeof(script)) == NULL) {
        snprintf(why, cap, "tests/fixtures/make_geoip.pl not found: set CAIRN_SOURCE_DIR");
        return NULL;
    }
    strcpy(fixture_path, "/tmp/cairn-geoip-XXXXXX");
    int fd = mkstemp(fixture_path);
    if (fd < 0) {
        snprintf(why, cap, "mkstemp: %s", strerror(errno));
        fixture_path[0] = '\0';
        return NULL;
    }
    close(fd);
    if (run_perl(script, fixture_path) != 0)
        snprintf(why, cap,
                 "perl %s failed: the GeoIP tests need perl and MaxMind::DB::Writer "
                 "(apt-get install libmaxmind-db-writer-perl)",
                 script);
    else if (cn_geoip_open(fixture_path, &db, err, sizeof(err)) != 0)
        snprintf(why, cap, "%s", err);
    return db;
}

/* The database every GeoIP test uses, built on first use; a failure fails each test. */
static cn_geoip_t *fixture_db(void)
{
    static char why[4400];
    if (fixture == NULL && why[0] == '\0')
        fixture = build_fixture(why, sizeof(why));
    if (fixture == NULL)
        fail_msg("%s", why);
    return fixture;
}

static int remove_fixture(void **state)
{
    cn_geoip_close(fixture);
    if (fixture_path[0] != '\0')
        unlink(fixture_path);
    return 0;
}

static void expect_place(const char *ip, const char *code, const char *country, const char *city,
                         int has_location)
{
    cn_geo_t g;
    int rc = cn_geoip_lookup(fixture_db(), ip, &g);
    if (rc != CN_GEO_FOUND)
        fail_msg("%s: %d", ip, rc);
    if (strcmp(g.country_code, code) != 0 || strcmp(g.country_name, country) != 0 ||
        strcmp(g.city, city) != 0 || g.has_location != has_location)
        fail_msg("%s: %s / %s / %s / %d", ip, g.country_code, g.country_name, g.city,
                 g.has_location);
}

static void test_geoip_found(void **state)
{
    expect_place("81.2.69.1", "GB", "United Kingdom", "London", 1);
    expect_place("81.2.69.255", "GB", "United Kingdom", "London", 1);
    expect_place("::ffff:81.2.69.1", "GB", "United Kingdom", "London", 1); /* mapped v4 */
    expect_place("2.125.160.216", "GB", "United Kingdom", "", 0);          /* country only */
    expect_place("175.16.199.5", "CN", "China", "Changchun", 1);
    expect_place("2001:db8::1", "US", "United States", "", 1);
    expect_place("2001:DB8:FFFF::ABCD", "US", "United States", "", 1);
    expect_place("89.160.20.115", "SE", "Sweden", "Link\xc3\xb6ping", 1);

    cn_geo_t g;
    assert_int_equal(cn_geoip_lookup(fixture_db(), "81.2.69.1", &g), CN_GEO_FOUND);
    assert_true(g.latitude > 51.51 && g.latitude < 51.52);
    assert_true(g.longitude > -0.094 && g.longitude < -0.093);
}

static void test_geoip_long_name_is_cut_at_a_character(void **state)
{
    cn_geo_t g;
    assert_int_equal(cn_geoip_lookup(fixture_db(), "203.0.113.9", &g), CN_GEO_FOUND);
    /* 60 two-byte characters; 95 bytes fit, so 47 whole characters are kept */
    assert_int_equal(strlen(g.city), 94);
    for (size_t i = 0; i < 94; i += 2)
        assert_memory_equal(g.city + i, "\xc3\x84", 2);
}

static void test_geoip_not_found(void **state)
{
    static const char *const absent[] = {"8.8.8.8", "81.2.70.1", "2a00:1450::1", "::1", "0.0.0.0"};
    for (size_t i = 0; i < N_OF(absent); i++) {
        cn_geo_t g;
        memset(&g, 0x5a, sizeof(g));
        int rc = cn_geoip_lookup(fixture_db(), absent[i], &g);
        if (rc != CN_GEO_NOT_FOUND)
            fail_msg("%s: %d", absent[i], rc);
        assert_string_equal(g.country_code, "");
        assert_string_equal(g.city, "");
        assert_int_equal(g.has_location, 0);
    }
}

static void test_geoip_invalid_addresses(void **state)
{
    /* host names must not resolve; inet_aton's legacy forms must not slip through */
    static const char *const bad[] = {
        "not-an-ip",      "999.1.1.1",   "",
        "localhost",      "1",           "81.2.69",
        "0x51.2.69.1",    "081.2.69.1",  " 81.2.69.1",
        "81.2.69.1 ",     "81.2.69.1\n", "fe80::1%lo",
        "2001:db8::1/32", "::g",         "example.com",
    };
    for (size_t i = 0; i < N_OF(bad); i++) {
        cn_geo_t g;
        memset(&g, 0x5a, sizeof(g));
        int rc = cn_geoip_lookup(fixture_db(), bad[i], &g);
        if (rc != CN_GEO_INVALID_IP)
            fail_msg("\"%s\": %d", bad[i], rc);
        assert_string_equal(g.country_code, "");
    }
    cn_geo_t g;
    assert_int_equal(cn_geoip_lookup(fixture_db(), NULL, &g), CN_GEO_INVALID_IP);
}

static void test_geoip_open_errors(void **state)
{
    cn_geoip_t *db = (cn_geoip_t *)1;
    char err[256];
    assert_int_equal(cn_geoip_open("/nonexistent/GeoLite2-City.mmdb", &db, err, sizeof(err)), -1);
    assert_null(db);
    assert_non_null(strstr(err, "/nonexistent/GeoLite2-City.mmdb"));

    char script[4096];
    assert_non_null(fixture_script(script, sizeof(script)));
    char tiny[8];
    assert_int_equal(cn_geoip_open(script, &db, tiny, sizeof(tiny)), -1); /* not a database */
    assert_null(db);
    assert_true(strlen(tiny) == sizeof(tiny) - 1);
    cn_geoip_close(NULL);
}

#define N_THREADS 4
#define N_LOOKUPS 20000

static void *lookup_many(void *arg)
{
    static const char *const ips[] = {"81.2.69.1", "175.16.199.5", "2001:db8::1", "8.8.8.8"};
    const cn_geoip_t *db = arg;
    for (int i = 0; i < N_LOOKUPS; i++) {
        cn_geo_t g;
        int rc = cn_geoip_lookup(db, ips[i % 4], &g);
        if (rc != (i % 4 == 3 ? CN_GEO_NOT_FOUND : CN_GEO_FOUND))
            return (void *)1;
        if (i % 4 == 1 && strcmp(g.city, "Changchun") != 0)
            return (void *)1;
    }
    return NULL;
}

static void test_geoip_concurrent_lookups(void **state)
{
    cn_geoip_t *db = fixture_db();
    pthread_t threads[N_THREADS];
    for (int i = 0; i < N_THREADS; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, lookup_many, db), 0);
    for (int i = 0; i < N_THREADS; i++) {
        void *failed = (void *)1;
        assert_int_equal(pthread_join(threads[i], &failed), 0);
        assert_null(failed);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ua_table),
        cmocka_unit_test(test_ua_length_is_authoritative),
        cmocka_unit_test(test_ua_scan_is_bounded),
        cmocka_unit_test(test_text_case_and_spaces),
        cmocka_unit_test(test_text_urls),
        cmocka_unit_test(test_text_emails),
        cmocka_unit_test(test_text_numbers),
        cmocka_unit_test(test_text_unicode),
        cmocka_unit_test(test_text_symbols_and_controls),
        cmocka_unit_test(test_text_small_caps),
        cmocka_unit_test(test_text_bound_is_tight),
        cmocka_unit_test(test_geoip_found),
        cmocka_unit_test(test_geoip_long_name_is_cut_at_a_character),
        cmocka_unit_test(test_geoip_not_found),
        cmocka_unit_test(test_geoip_invalid_addresses),
        cmocka_unit_test(test_geoip_open_errors),
        cmocka_unit_test(test_geoip_concurrent_lookups),
    };
    return cmocka_run_group_tests(tests, NULL, remove_fixture);
}
