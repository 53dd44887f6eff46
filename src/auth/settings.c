/*
 * The auth module's configuration keys (see settings.h). Names, variables and defaults
 * are those of the kernel's table before the keys moved here: existing configuration
 * files and environments keep working unchanged.
 */
#include "auth/settings.h"
#include "auth/tokens.h"

#include <stddef.h>
#include <stdio.h>

auth_settings_t auth_settings;

static const char *const web_schemes[] = {"http://", "https://", NULL};

/* clang-format off */
const cn_setting_t auth_settings_table[] = {
    {"auth.secrets_key_file", "CAIRN_SECRETS_KEY_FILE", NULL, CN_SET_STRING, "",
     .slot = &auth_settings.secrets_key_file, .data_file = "secrets.key",
     .help = "32-byte key (mode 600, created if missing) that encrypts TOTP secrets and"
             " token-signing keys at rest and keys the CSRF tokens; back it up apart from the"
             " database. A database whose sealed secrets do not open with it stops `serve`"
             " (exit 78)"},
    {"auth.allow_unusable_secrets", "CAIRN_ALLOW_UNUSABLE_SECRETS", NULL, CN_SET_BOOL, "false",
     .slot = &auth_settings.allow_unusable_secrets,
     .help = "start although sealed secrets do not open with the key file (also"
             " `serve --allow-unusable-secrets`): such signing keys are retired at once (everyone"
             " signs in again) and such TOTP secrets answer 409"
             " `urn:cairn:problem:mfa-secret-unusable` at `mfa/verify` and `mfa/confirm`"
             " (recovery codes still work, and a user signed in with one may enrol again); see"
             " docs/auth.md"},
    {"auth.lockout_attempts", "CAIRN_LOCKOUT_ATTEMPTS", NULL, CN_SET_INT, "5", 1, 1000,
     .slot = &auth_settings.lockout_attempts,
     .help = "failed sign-ins within the window that lock a tenant + e-mail for one client IP"},
    {"auth.lockout_window_s", "CAIRN_LOCKOUT_WINDOW_S", NULL, CN_SET_INT, "900", 1, 86400,
     .slot = &auth_settings.lockout_window_s, .help = "the counting window, and the first lock's length"},
    {"auth.lockout_max_s", "CAIRN_LOCKOUT_MAX_S", NULL, CN_SET_INT, "3600", 1, 86400,
     .slot = &auth_settings.lockout_max_s, .help = "the longest lock; locks double up to it"},
    {"auth.lockout_account_attempts", "CAIRN_LOCKOUT_ACCOUNT_ATTEMPTS", NULL, CN_SET_INT, "100",
     1, 1000000, .slot = &auth_settings.lockout_account_attempts,
     .help = "failures per window from all IPs before the account is throttled (not locked) to"
             " one check per window/this"},
    {"auth.reset_url", "CAIRN_RESET_URL", NULL, CN_SET_STRING, "", .allowed = web_schemes,
     .slot = &auth_settings.reset_url, .check = CN_CHECK_URL,
     .help = "page that takes `?token=` in password-reset mails; empty: the mail shows the"
             " token"},
    {"auth.reset_ttl_s", "CAIRN_RESET_TTL_S", NULL, CN_SET_INT, "1800", 1, 86400,
     .slot = &auth_settings.reset_ttl_s, .help = "lifetime of a password-reset token"},
    {"auth.register_url", "CAIRN_REGISTER_URL", NULL, CN_SET_STRING, "", .allowed = web_schemes,
     .slot = &auth_settings.register_url, .check = CN_CHECK_URL,
     .help = "page that takes `?token=` in registration-confirmation mails; empty: the mail"
             " shows the token"},
    {"auth.register_ttl_s", "CAIRN_REGISTER_TTL_S", NULL, CN_SET_INT, "86400", 1, 604800,
     .slot = &auth_settings.register_ttl_s, .help = "lifetime of a registration-confirmation token"},
    {"auth.register_mail_interval_s", "CAIRN_REGISTER_MAIL_INTERVAL_S", NULL, CN_SET_INT, "60", 1,
     86400, .slot = &auth_settings.register_mail_interval_s,
     .help = "least time between two registration mails to an address (a request within it is"
             " mailed when it ends)"},
    {"auth.access_ttl_s", "CAIRN_ACCESS_TTL_S", NULL, CN_SET_INT, "900", 1, AUTH_ACCESS_TTL_S,
     .slot = &auth_settings.access_ttl_s,
     .help = "lifetime of an access token and of its cookie, at most 900 (15 minutes); the"
             " refresh token renews it. Shorter: a copied token is good for less time, clients"
             " refresh more often (tests of expiry set a few seconds)"},
    {NULL},
};
/* clang-format on */

int auth_access_ttl_s(void)
{
    int s = auth_settings.access_ttl_s;
    return s > 0 && s < AUTH_ACCESS_TTL_S ? s : AUTH_ACCESS_TTL_S;
}

void auth_secrets_key_path(const cn_config_t *cfg, char *out, size_t cap)
{
    cn_config_data_path(cfg, auth_settings.secrets_key_file, "secrets.key", out, cap);
}
