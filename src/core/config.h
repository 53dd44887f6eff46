/*
 * Configuration: one table of keys drives the INI file, the CAIRN_* environment, the
 * command-line flags, validation and `cairn config check`. Precedence, lowest first:
 * defaults < config file < environment < flags. A bad value is an error naming the key
 * and what is allowed; nothing is silently clamped.
 */
#ifndef CAIRN_CORE_CONFIG_H
#define CAIRN_CORE_CONFIG_H

#include "core/common.h"

#include <stdio.h>

#define CN_MAX_LISTEN 8

typedef enum { CN_SRC_DEFAULT = 0, CN_SRC_FILE, CN_SRC_ENV, CN_SRC_FLAG } cn_config_source_t;

typedef enum { CN_LOG_DEBUG = 0, CN_LOG_INFO, CN_LOG_WARN, CN_LOG_ERROR } cn_log_level_t;

/** The effective configuration. Owned by main(); strings are owned by the struct. */
typedef struct st_cn_config_t {
    char *listen[CN_MAX_LISTEN];
    size_t n_listen;
    int threads; /* 0 = one per online CPU */
    int workers; /* threads for slow work (password hashing) */
    int64_t max_body;
    int request_timeout_ms;
    int idle_timeout_ms;
    int shutdown_timeout_s;
    char *cors_origins;    /* comma-separated exact origins; empty = CORS off */
    char *trusted_proxies; /* addresses/CIDR blocks whose X-Forwarded-For counts */
    char *tls_cert;
    char *tls_key;
    char *data_dir;
    int synchronous_full; /* store.synchronous: 0 normal (durable against crashes), 1 full */
    int busy_timeout_ms;
    int64_t store_cache_bytes;       /* page cache per reading connection */
    int64_t store_write_cache_bytes; /* page cache of the write connection */
    int auto_migrate;
    int log_level; /* cn_log_level_t */
    int access_log;
    char *bootstrap_token;
    char *secrets_key_file; /* empty: <data_dir>/secrets.key */
    int rate_ip_per_min;    /* every request, per client IP */
    int rate_user_per_min;  /* authenticated requests, per user or API key */
    int rate_auth_per_min;  /* sign-in endpoints, per client IP */
    int lockout_attempts;   /* failed sign-ins within the window that lock an account + IP */
    int lockout_window_s;
    int lockout_max_s;            /* the longest lock of an (account, IP) pair */
    int lockout_account_attempts; /* failures per window from all IPs before throttling */

    /* start although sealed secrets do not open with auth.secrets_key_file */
    int allow_unusable_secrets;
    int64_t cache_max_bytes; /* response cache budget; 0 = off */
    int cache_ttl_ms;        /* default entry lifetime */

    /* the job queue (jobs.h) */
    int jobs_workers;        /* job worker threads; 0: this process runs no jobs */
    int jobs_lease_ms;       /* a claimed job is reclaimed when its lease runs out */
    int jobs_max_attempts;   /* for job types that do not set their own */
    int jobs_backoff_ms;     /* first retry delay; doubles per attempt */
    int jobs_backoff_max_ms; /* retry delay cap */
    int jobs_poll_ms;        /* idle workers look for due jobs at least this often */
    int jobs_retention_s;    /* finished jobs are deleted after this; 0: kept */

    /* outgoing mail (mail.h) and password reset */
    char *mail_smtp_url;
    char *mail_from;
    char *reset_url;
    int reset_ttl_s;
    char *register_url; /* page that takes ?token= in registration mails */
    int register_ttl_s; /* lifetime of a registration-confirmation token */

    /* the realtime hub (realtime.h) */
    int rt_history_count;
    int rt_history_age_s;
    int64_t rt_max_queue_bytes;
    int64_t rt_max_message_bytes;
    int rt_max_subscriptions;
    int rt_heartbeat_s;
    int rt_max_connections;
    int rt_max_per_tenant;
    int rt_max_per_principal;
    int rt_max_anon_per_ip;
    int64_t rt_max_queued_bytes_total;

    /* the customer-insights app */
    char *insights_geoip_db;      /* .mmdb file for IP geolocation; empty: none */
    int insights_pattern_delay_s; /* behaviour patterns are recomputed this long after
                                   * a customer's newest interaction was analysed */

    char *config_file;
    cn_config_source_t sources[64]; /* where each table entry's value came from */
} cn_config_t;

/** Sets every key to its default. */
void cn_config_defaults(cn_config_t *c);
void cn_config_free(cn_config_t *c);

/**
 * Sets key ("server.threads") from text, validating it. Returns 0 or CN_EINVAL with a
 * message naming the key, the allowed values and the rejected value.
 */
int cn_config_set(cn_config_t *c, const char *key, const char *value, cn_config_source_t src,
                  cn_err_t *err);

/** Maps a command-line flag ("--threads") to its key, or NULL. */
const char *cn_config_key_for_flag(const char *flag);

/**
 * Loads the full chain: defaults, then the INI file (c->config_file or CAIRN_CONFIG), then
 * CAIRN_* variables from envp, then the given flag pairs (key, value) in order.
 */
int cn_config_load(cn_config_t *c, char *const *envp, const char *const *flag_kv, size_t n_flags,
                   cn_err_t *err);

/**
 * Cross-key checks run after loading (TLS cert needs a key, ...) and the checks of
 * addresses, URLs and files read at start (listen hosts, trusted proxies, CORS origins,
 * mail and reset URLs, TLS and GeoIP files), so that a command refuses a bad value
 * before it creates anything.
 */
int cn_config_validate(const cn_config_t *c, cn_err_t *err);

/** Prints "key = value  # source" lines with secrets redacted. */
void cn_config_print(const cn_config_t *c, FILE *out);

/** Prints the table of keys, env names, flags and defaults (`cairn config keys`). */
void cn_config_print_help(FILE *out);

/** Prints one line per key that has a command-line flag (`cairn serve --help`). */
void cn_config_print_flags(FILE *out);

/** The TOTP vault key file in effect: auth.secrets_key_file, or DATA/secrets.key. */
void cn_config_secrets_key_path(const cn_config_t *c, char *out, size_t cap);

/** Number of online CPUs when threads is 0, else threads. */
int cn_config_threads(const cn_config_t *c);

#endif
