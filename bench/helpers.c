/*
 * bench-helpers: a fixed, deterministic workload over the shared helpers on the hot paths
 * (JWT issue and uncached verify, JSON string escaping, base64url, the single-line
 * text check, VADER scoring), one phase per run, for instruction counts under callgrind:
 *
 *   valgrind --tool=callgrind --toggle-collect=phase_run build/bench-helpers jwt_verify
 *
 * Only the phase function is counted (set-up, key loading and migrations are not). The
 * same source builds against older trees, so the counts compare before and after a change.
 * Prints a checksum so the work cannot be optimised away.
 */
#include "auth/auth.h"
#include "auth/tokens.h"
#include "auth/vault.h"
#include "core/json.h"
#include "core/schema.h"
#include "lib/formats.h"
#include "lib/vader.h"
#include "store/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N_TOKENS 2000

static const char *const texts[] = {
    "The service was great, thank you so much!",
    "Terrible delay :( nobody answered my e-mail for three days...",
    "Café au lait, crème brûlée and a naïve façade — très bien",
    "Das Essen war nicht schlecht, aber der Kellner war unhöflich",
    "\xe5\x8f\xaf\xe4\xbb\xa5 \xe5\xbe\x88\xe5\xa5\xbd good \xf0\x9f\x98\x80 \xf0\x9f\x91\x8d",
    "I do not like it at all!!! VERY BAD support :-(",
    "bad bytes \xff\xfe here \xc0\xaf and a cut \xe2\x82",
    "quote \" backslash \\ tab \t newline \n and control \x01 done",
};
#define N_TEXTS (sizeof(texts) / sizeof(texts[0]))

static cn_store_t *store;
static char *tokens[N_TOKENS];
static unsigned long long checksum;

static void claims_for(int i, auth_claims_t *c, int64_t now)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->sub, sizeof(c->sub), "0190b3a4-7c4e-7d2a-8f3e-%012d", i);
    snprintf(c->tid, sizeof(c->tid), "0190b3a4-7c4e-7d2a-8f3e-1234567890ab");
    snprintf(c->sid, sizeof(c->sid), "0190b3a4-7c4e-7d2a-9f3e-%012d", i);
    snprintf(c->role, sizeof(c->role), "member");
    c->iat = c->nbf = now;
    c->exp = now + 900;
}

static int setup_keys(void)
{
    char dir[] = "/tmp/cairn-bench-helpers-XXXXXX", path[128];
    if (mkdtemp(dir) == NULL)
        return -1;
    cn_store_opts_t opts = {.data_dir = dir, .busy_timeout_ms = 1000};
    cn_err_t err = {0};
    const cn_migration_set_t sets[] = {{auth_module.name, auth_module.migrations}};
    snprintf(path, sizeof(path), "%s/secrets.key", dir);
    if (cn_store_open(&opts, &store, &err) != 0 ||
        cn_migrate(store, sets, 1, 0, NULL, NULL, &err) || auth_vault_open(path, &err) != 0 ||
        auth_keys_load(store, &err) != 0) {
        fprintf(stderr, "bench-helpers: %s (%s)\n", err.msg, dir);
        return -1;
    }
    return 0;
}

static void jwt_issue(void)
{
    auth_claims_t c;
    for (int i = 0; i < N_TOKENS; i++) {
        claims_for(i, &c, 1800000000);
        char *t = auth_token_issue(&c);
        checksum += (unsigned char)t[strlen(t) - 1];
        free(t);
    }
}

static void jwt_verify(void)
{
    auth_claims_t c;
    const char *why;
    for (int i = 0; i < N_TOKENS; i++) /* each token once: every call misses the cache */
        checksum +=
            auth_token_verify(tokens[i], strlen(tokens[i]), 1800000001, NULL, &c, &why) == 0;
}

static void json_escape(void)
{
    cn_buf_t b = {0};
    for (int r = 0; r < 20000; r++) {
        b.len = 0;
        for (size_t i = 0; i < N_TEXTS; i++)
            cn_buf_append_json_str(&b, texts[i], strlen(texts[i]));
        checksum += b.len;
    }
    cn_buf_free(&b);
}

static void base64url(void)
{
    char enc[128];
    uint8_t dec[128];
    for (int r = 0; r < 100000; r++) {
        size_t n = cn_base64url_encode((const uint8_t *)texts[r % 4], 36, enc);
        checksum += (unsigned long long)cn_base64url_decode(enc, n, dec);
    }
}

static void single_line(void)
{
    for (int r = 0; r < 50000; r++)
        for (size_t i = 0; i < N_TEXTS; i++)
            checksum += (unsigned long long)cn_text_line_ok(texts[i], strlen(texts[i]));
}

static void vader(void)
{
    cn_vader_scores_t s;
    for (int r = 0; r < 5000; r++)
        for (size_t i = 0; i < N_TEXTS; i++)
            if (cn_vader_score(texts[i], strlen(texts[i]), &s) == 0)
                checksum += (unsigned long long)(s.compound * 1000 + 1000);
}

/* The counted part: callgrind --toggle-collect=phase_run. */
__attribute__((noinline)) void phase_run(void (*fn)(void));
__attribute__((noinline)) void phase_run(void (*fn)(void))
{
    fn();
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        void (*fn)(void);
    } phases[] = {{"jwt_issue", jwt_issue},     {"jwt_verify", jwt_verify},
                  {"json_escape", json_escape}, {"base64url", base64url},
                  {"single_line", single_line}, {"vader", vader}};
    const char *want = argc > 1 ? argv[1] : "";
    for (size_t p = 0; p < sizeof(phases) / sizeof(phases[0]); p++) {
        if (strcmp(want, phases[p].name) != 0)
            continue;
        if (strncmp(want, "jwt", 3) == 0) {
            if (setup_keys() != 0)
                return 1;
            auth_claims_t c;
            for (int i = 0; i < N_TOKENS; i++) {
                claims_for(i, &c, 1800000000);
                tokens[i] = auth_token_issue(&c);
            }
        }
        if (strcmp(want, "vader") == 0 && cn_vader_init() != 0)
            return 1;
        phase_run(phases[p].fn);
        printf("%s checksum %llu\n", want, checksum);
        return 0;
    }
    fprintf(stderr, "usage: bench-helpers jwt_issue|jwt_verify|json_escape|base64url|single_line|"
                    "vader\n");
    return 2;
}
