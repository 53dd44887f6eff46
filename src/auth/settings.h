/*
 * The auth module's configuration keys (auth.secrets_key_file, auth.lockout_*, the reset
 * and registration mails): one table, `auth_settings_table`, that the kernel's loader
 * reads like its own (core/config.h), filling `auth_settings`. Only the loader writes
 * the struct, before the server or a command starts; the module reads it afterwards.
 * auth.bootstrap_token is not here: the kernel checks it before any module runs.
 */
#ifndef CAIRN_AUTH_SETTINGS_H
#define CAIRN_AUTH_SETTINGS_H

#include "core/config.h"

/** The auth module's settings; its strings are owned by the loaded configuration. */
typedef struct {
    char *secrets_key_file;     /* empty: DATA/secrets.key */
    int allow_unusable_secrets; /* start although sealed secrets do not open */
    int lockout_attempts;       /* failed sign-ins within the window that lock account + IP */
    int lockout_window_s;
    int lockout_max_s;            /* the longest lock of an (account, IP) pair */
    int lockout_account_attempts; /* failures per window from all IPs before throttling */
    char *reset_url;              /* page that takes ?token= in password-reset mails */
    int reset_ttl_s;
    char *register_url;           /* page that takes ?token= in registration mails */
    int register_ttl_s;           /* lifetime of a registration-confirmation token */
    int register_mail_interval_s; /* least time between two registration mails to one address */
    int access_ttl_s;             /* lifetime of an access token; 0 (not loaded): the longest */
} auth_settings_t;

extern auth_settings_t auth_settings;

/** The rows of auth_module.settings (ends with key NULL). */
extern const cn_setting_t auth_settings_table[];

/** The access-token lifetime in effect, seconds: auth.access_ttl_s, at most AUTH_ACCESS_TTL_S. */
int auth_access_ttl_s(void);

/** The vault's key file in effect: auth.secrets_key_file, or DATA/secrets.key. */
void auth_secrets_key_path(const cn_config_t *cfg, char *out, size_t cap);

#endif
