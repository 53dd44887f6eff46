/* libFuzzer target: access-token verification and credential shapes (untrusted headers). */
#include "auth/apikeys.h"
#include "auth/auth.h"
#include "auth/tokens.h"
#include "auth/vault.h"
#include "store/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int ready;

static void init(void)
{
    static char dir[] = "/tmp/cairn-fuzz-jwt-XXXXXX", key_path[64];
    cn_store_t *s;
    cn_err_t err;
    cn_store_opts_t opts = {.data_dir = mkdtemp(dir), .busy_timeout_ms = 1000};
    cn_migration_set_t set = {"auth", auth_module.migrations};
    snprintf(key_path, sizeof(key_path), "%s/secrets.key", dir);
    /* signing keys are sealed by the vault: without it open, no key can be made */
    if (opts.data_dir == NULL || cn_store_open(&opts, &s, &err) != 0 ||
        cn_migrate(s, &set, 1, 0, NULL, NULL, &err) != 0 || auth_vault_open(key_path, &err) != 0 ||
        auth_keys_load(s, &err) != 0)
        abort();
    cn_store_close(s); /* the keys stay in memory */
    ready = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ready)
        init();
    auth_claims_t claims;
    const char *why = NULL;
    /* a forged token never verifies: no input here carries a valid signature */
    if (auth_token_verify((const char *)data, size, 1700000000, NULL, &claims, &why) == 0)
        abort();
    if (why == NULL)
        abort();
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    auth_is_api_key(text, strlen(text));
    auth_scopes_allow(text, "notes.read");
    free(text);
    return 0;
}
