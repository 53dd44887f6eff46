/*
 * Configuration: tables of keys drive the INI file, the CAIRN_* environment, the
 * command-line flags, validation, `cairn config check` and the key table of
 * docs/configuration.md. The kernel's table fills cn_config_t; each module (cn_app_t)
 * declares its own table, whose rows point at the module's own settings struct, and the
 * loader walks the kernel's table and then each module's in the module list's order.
 * Precedence, lowest first: defaults < config file < environment < flags. A bad value is
 * an error naming the key and what is allowed; nothing is silently clamped.
 */
#ifndef CAIRN_CORE_CONFIG_H
#define CAIRN_CORE_CONFIG_H

#include "base/common.h"

#include <stdio.h>

#define CN_MAX_LISTEN 8
#define CN_MAX_SETTINGS 160 /* kernel and module keys together */

struct st_cn_app_t; /* core/module.h */

typedef enum { CN_SRC_DEFAULT = 0, CN_SRC_FILE, CN_SRC_ENV, CN_SRC_FLAG } cn_config_source_t;

typedef enum { CN_LOG_DEBUG = 0, CN_LOG_INFO, CN_LOG_WARN, CN_LOG_ERROR } cn_log_level_t;

/** What a setting holds (the C type of its field) and how its text is read. */
typedef enum {
    CN_SET_INT,    /* int from min to max */
    CN_SET_SIZE,   /* int64_t bytes from min to max; K/M/G suffixes */
    CN_SET_BOOL,   /* int 0 or 1: true/false, 1/0, yes/no, on/off */
    CN_SET_ENUM,   /* int: the index of the value in allowed */
    CN_SET_STRING, /* char *, owned by the configuration (freed by cn_config_free) */
    CN_SET_SECRET, /* a string that `config check` prints as <redacted> and no error repeats */
    CN_SET_LISTEN, /* server.listen only: the list in cn_config_t */
} cn_setting_type_t;

/** A string's check by cn_config_validate, before anything is created. */
typedef enum {
    CN_CHECK_NONE = 0,
    CN_CHECK_FILE, /* when set, a file this process can read */
    CN_CHECK_URL,  /* when set, scheme://rest with one of the schemes in allowed */
    /* empty, sqlite: or a PostgreSQL URL (cn_store_url_check); printed with its password
     * redacted, like every message that shows it */
    CN_CHECK_STORE_URL,
    /* when set, nats://[user:password@]HOST:PORT, comma-separated; printed redacted */
    CN_CHECK_NATS_URL,
} cn_setting_check_t;

/**
 * One configuration key. A module's table ends with a row whose key is NULL; its rows set
 * slot to the field they fill (a module keeps its settings in a static struct of its own
 * and reads them in its start hook). The kernel's rows use offset into cn_config_t.
 */
typedef struct st_cn_setting_t {
    const char *key;  /* "section.name"; the section is the INI section */
    const char *env;  /* CAIRN_* */
    const char *flag; /* "--name" or NULL; never for a secret (ps(1) shows flags) */
    cn_setting_type_t type;
    const char *def; /* the default, as text; must pass the row's own parsing */
    long long min, max;
    const char *const *allowed; /* ENUM: the names; CN_CHECK_URL: the schemes; NULL-ended */
    size_t offset;              /* kernel rows: the field's offset in cn_config_t */
    const char *help;           /* one line for `config keys` and docs/configuration.md */
    void *slot;                 /* module rows: the field itself */
    cn_setting_check_t check;
    const char *data_file; /* STRING: empty means this file in store.data (printed so) */
} cn_setting_t;

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
    char *store_url;      /* store.url: empty or "sqlite:" = SQLite in data_dir; postgres:// */
    int synchronous_full; /* store.synchronous: 0 normal (durable against crashes), 1 full */
    int busy_timeout_ms;
    int64_t store_cache_bytes;       /* page cache per reading connection */
    int64_t store_write_cache_bytes; /* page cache of the write connection */
    int auto_migrate;
    int log_level; /* cn_log_level_t */
    int access_log;
    char *bootstrap_token;
    int rate_ip_per_min;     /* every request, per client IP */
    int rate_user_per_min;   /* authenticated requests, per user or API key */
    int rate_auth_per_min;   /* sign-in endpoints, per client IP */
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

    /* outgoing mail (mail.h): a kernel service any module may send through */
    char *mail_smtp_url;
    char *mail_from;

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

    /* cluster mode: the bus between nodes and how many nodes the operator runs */
    char *nats_url;     /* empty: events stay in this process */
    char *cluster_name; /* its subjects' and key-value bucket's prefix on NATS */
    int cluster_nodes;

    char *config_file;
    /* the modules whose tables follow the kernel's (NULL-terminated); NULL: none */
    const struct st_cn_app_t *const *modules;
    /* where each key's value came from: the kernel's keys, then each module's in order */
    cn_config_source_t sources[CN_MAX_SETTINGS];
} cn_config_t;

/**
 * Sets every kernel key to its default, with no modules (c->modules NULL): the start of a
 * configuration that cn_config_load completes.
 */
void cn_config_defaults(cn_config_t *c);

/** Frees the strings of c and of its modules' settings (which are NULL afterwards). */
void cn_config_free(cn_config_t *c);

/**
 * Sets key ("server.threads", or a key of one of c->modules) from text, validating it.
 * Returns 0 or CN_EINVAL with a message naming the key, the allowed values and the
 * rejected value (a secret's value is never repeated).
 */
int cn_config_set(cn_config_t *c, const char *key, const char *value, cn_config_source_t src,
                  cn_err_t *err);

/** Maps a command-line flag ("--threads") of the kernel or of modules to its key, or NULL. */
const char *cn_config_key_for_flag(const struct st_cn_app_t *const *modules, const char *flag);

/**
 * Loads the full chain for the kernel and modules (NULL-terminated, may be NULL; kept in
 * c->modules): defaults, then the INI file (c->config_file or CAIRN_CONFIG), then CAIRN_*
 * variables from envp, then the given flag pairs (key, value) in order, then
 * cn_config_validate. A module's settings live in the module (its table's slots), so one
 * configuration is loaded per process at a time.
 */
int cn_config_load(cn_config_t *c, const struct st_cn_app_t *const *modules, char *const *envp,
                   const char *const *flag_kv, size_t n_flags, cn_err_t *err);

/**
 * Cross-key checks run after loading (TLS cert needs a key, more than one cluster node
 * needs PostgreSQL and NATS, ...) and the checks of addresses, URLs and files read at
 * start (listen hosts, trusted proxies, CORS origins, every row's cn_setting_check_t:
 * URLs and readable files), so that a command refuses a bad value before it creates
 * anything.
 */
int cn_config_validate(const cn_config_t *c, cn_err_t *err);

/**
 * Prints "key = value  # source" lines with secrets redacted, grouped under "# kernel"
 * and one "# module NAME" line per module with keys (`cairn config check`).
 */
void cn_config_print(const cn_config_t *c, FILE *out);

/** Prints the keys, env names, flags and defaults by module (`cairn config keys`). */
void cn_config_print_help(const struct st_cn_app_t *const *modules, FILE *out);

/**
 * Prints one Markdown table per group (kernel, then each module): key, environment
 * variable, flag, default, allowed values and meaning. docs/configuration.md holds this
 * output between markers and a test compares the two (`cairn config keys --markdown`).
 */
void cn_config_print_markdown(const struct st_cn_app_t *const *modules, FILE *out);

/** Prints one line per key that has a command-line flag (`cairn serve --help`). */
void cn_config_print_flags(const struct st_cn_app_t *const *modules, FILE *out);

/** A path setting in effect: value, or DATA/file (store.data) when value is empty. */
void cn_config_data_path(const cn_config_t *c, const char *value, const char *file, char *out,
                         size_t cap);

/** Number of online CPUs when threads is 0, else threads. */
int cn_config_threads(const cn_config_t *c);

#endif
