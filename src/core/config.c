/*
 * Configuration (see config.h). The `keys` table is the single source of truth: adding a
 * key means adding one row, and the file parser, environment, flags, `config check` and
 * help text all follow from it.
 */
#include "core/config.h"
#include "core/proxy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef enum { T_INT, T_SIZE, T_BOOL, T_ENUM, T_STRING, T_SECRET, T_LISTEN } key_type_t;

typedef struct {
    const char *key;  /* "section.name" */
    const char *env;  /* CAIRN_* */
    const char *flag; /* "--name" or NULL */
    key_type_t type;
    const char *def;
    long long min, max;
    const char *const *allowed; /* T_ENUM: NULL-terminated */
    size_t offset;
    const char *help;
} key_t_;

static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const sync_modes[] = {"normal", "full", NULL};

#define OFF(f) offsetof(cn_config_t, f)

static const key_t_ keys[] = {
    {"server.listen", "CAIRN_LISTEN", "--listen", T_LISTEN, "127.0.0.1:8080", 0, 0, NULL,
     OFF(listen), "HOST:PORT to listen on (repeatable; port 0 picks a free port)"},
    {"server.threads", "CAIRN_THREADS", "--threads", T_INT, "0", 0, 256, NULL, OFF(threads),
     "event-loop threads; 0 = one per CPU core"},
    {"server.workers", "CAIRN_WORKERS", "--workers", T_INT, "2", 1, 64, NULL, OFF(workers),
     "worker threads for slow work such as password hashing"},
    {"server.max_body", "CAIRN_MAX_BODY", "--max-body", T_SIZE, "1M", 1024, 1LL << 30, NULL,
     OFF(max_body), "largest accepted request body (bytes; K/M/G suffixes)"},
    {"server.request_timeout_ms", "CAIRN_REQUEST_TIMEOUT_MS", NULL, T_INT, "10000", 100, 600000,
     NULL, OFF(request_timeout_ms),
     "HTTP/1 time allowed to send request headers and body, and to stay idle between requests"},
    {"server.idle_timeout_ms", "CAIRN_IDLE_TIMEOUT_MS", NULL, T_INT, "60000", 100, 3600000, NULL,
     OFF(idle_timeout_ms), "HTTP/2 idle connection timeout"},
    {"server.shutdown_timeout_s", "CAIRN_SHUTDOWN_TIMEOUT_S", NULL, T_INT, "10", 1, 300, NULL,
     OFF(shutdown_timeout_s), "graceful shutdown deadline for in-flight requests"},
    {"server.cors_origins", "CAIRN_CORS_ORIGINS", NULL, T_STRING, "", 0, 0, NULL, OFF(cors_origins),
     "comma-separated origins allowed by CORS (exact match); empty = none"},
    {"server.trusted_proxies", "CAIRN_TRUSTED_PROXIES", NULL, T_STRING, "", 0, 0, NULL,
     OFF(trusted_proxies),
     "addresses or CIDR blocks of reverse proxies whose X-Forwarded-For is believed; empty = "
     "none"},
    {"server.tls_cert", "CAIRN_TLS_CERT", "--tls-cert", T_STRING, "", 0, 0, NULL, OFF(tls_cert),
     "PEM certificate chain; enables TLS and HTTP/2 (ALPN)"},
    {"server.tls_key", "CAIRN_TLS_KEY", "--tls-key", T_STRING, "", 0, 0, NULL, OFF(tls_key),
     "PEM private key for server.tls_cert"},
    {"store.data", "CAIRN_DATA", "--data", T_STRING, "./data", 0, 0, NULL, OFF(data_dir),
     "directory holding the SQLite database (created if missing)"},
    {"store.synchronous", "CAIRN_SYNCHRONOUS", NULL, T_ENUM, "normal", 0, 0, sync_modes,
     OFF(synchronous_full),
     "normal: commits survive a process crash (kill -9); full: also a power loss"},
    {"store.busy_timeout_ms", "CAIRN_BUSY_TIMEOUT_MS", NULL, T_INT, "5000", 0, 600000, NULL,
     OFF(busy_timeout_ms), "how long to wait for another process holding the database lock"},
    {"store.cache_size", "CAIRN_STORE_CACHE_SIZE", NULL, T_SIZE, "32M", 0, 1LL << 34, NULL,
     OFF(store_cache_bytes),
     "SQLite page cache per reading connection (each loop, job worker and worker), filled"
     " as used"},
    {"store.write_cache_size", "CAIRN_STORE_WRITE_CACHE_SIZE", NULL, T_SIZE, "16M", 0, 1LL << 34,
     NULL, OFF(store_write_cache_bytes),
     "SQLite page cache of the one write connection; it stays filled, as no other connection"
     " writes"},
    {"store.auto_migrate", "CAIRN_AUTO_MIGRATE", NULL, T_BOOL, "true", 0, 0, NULL,
     OFF(auto_migrate), "apply pending migrations when the server starts"},
    {"log.level", "CAIRN_LOG_LEVEL", "--log-level", T_ENUM, "info", 0, 0, log_levels,
     OFF(log_level), "lowest level written to the application log"},
    {"log.access", "CAIRN_ACCESS_LOG", NULL, T_BOOL, "true", 0, 0, NULL, OFF(access_log),
     "write one JSON line per request"},
    {"auth.bootstrap_token", "CAIRN_BOOTSTRAP_TOKEN", NULL, T_SECRET, "", 0, 0, NULL,
     OFF(bootstrap_token), "bearer token accepted for routes that need a permission"},
    {"auth.secrets_key_file", "CAIRN_SECRETS_KEY_FILE", NULL, T_STRING, "", 0, 0, NULL,
     OFF(secrets_key_file),
     "32-byte key encrypting TOTP secrets and signing keys at rest (created if missing);"
     " empty = DATA/secrets.key"},
    {"auth.allow_unusable_secrets", "CAIRN_ALLOW_UNUSABLE_SECRETS", NULL, T_BOOL, "false", 0, 0,
     NULL, OFF(allow_unusable_secrets),
     "start even when stored secrets do not open with the secrets key: such signing keys are"
     " retired, such TOTP secrets answer 409 until re-enrolled"
     " (serve --allow-unusable-secrets)"},
    {"limits.ip_per_min", "CAIRN_RATE_IP_PER_MIN", NULL, T_INT, "1000", 1, 10000000, NULL,
     OFF(rate_ip_per_min), "requests per minute per client IP (token bucket)"},
    {"limits.user_per_min", "CAIRN_RATE_USER_PER_MIN", NULL, T_INT, "100", 1, 10000000, NULL,
     OFF(rate_user_per_min), "authenticated requests per minute per user or API key"},
    {"limits.auth_per_min", "CAIRN_RATE_AUTH_PER_MIN", NULL, T_INT, "5", 1, 10000000, NULL,
     OFF(rate_auth_per_min), "sign-in and token-refresh requests per minute per client IP"},
    {"auth.lockout_attempts", "CAIRN_LOCKOUT_ATTEMPTS", NULL, T_INT, "5", 1, 1000, NULL,
     OFF(lockout_attempts),
     "failed sign-ins within the window that lock an account + client IP pair"},
    {"auth.lockout_window_s", "CAIRN_LOCKOUT_WINDOW_S", NULL, T_INT, "900", 1, 86400, NULL,
     OFF(lockout_window_s), "window for counting failed sign-ins; the first lock lasts this long"},
    {"auth.lockout_max_s", "CAIRN_LOCKOUT_MAX_S", NULL, T_INT, "3600", 1, 86400, NULL,
     OFF(lockout_max_s), "longest lock of an account + client IP pair (locks double up to it)"},
    {"auth.lockout_account_attempts", "CAIRN_LOCKOUT_ACCOUNT_ATTEMPTS", NULL, T_INT, "100", 1,
     1000000, NULL, OFF(lockout_account_attempts),
     "failed sign-ins per window from all IPs before the account is throttled (not locked)"},
    {"cache.max_bytes", "CAIRN_CACHE_MAX_BYTES", NULL, T_SIZE, "64M", 0, 1LL << 40, NULL,
     OFF(cache_max_bytes), "in-process response cache size (bytes; K/M/G suffixes); 0 = off"},
    {"cache.ttl_ms", "CAIRN_CACHE_TTL_MS", NULL, T_INT, "60000", 1, 86400000, NULL,
     OFF(cache_ttl_ms), "lifetime of a cached response unless its caller sets one"},
    {"jobs.workers", "CAIRN_JOBS_WORKERS", NULL, T_INT, "2", 0, 64, NULL, OFF(jobs_workers),
     "job worker threads; 0 = this process runs no jobs"},
    {"jobs.lease_ms", "CAIRN_JOBS_LEASE_MS", NULL, T_INT, "30000", 100, 86400000, NULL,
     OFF(jobs_lease_ms), "how long a claimed job is reserved before another worker may claim it"},
    {"jobs.max_attempts", "CAIRN_JOBS_MAX_ATTEMPTS", NULL, T_INT, "5", 1, 1000, NULL,
     OFF(jobs_max_attempts), "runs before a failing job is dead (types may set their own)"},
    {"jobs.backoff_ms", "CAIRN_JOBS_BACKOFF_MS", NULL, T_INT, "1000", 1, 86400000, NULL,
     OFF(jobs_backoff_ms), "delay before the first retry; doubles with each attempt (jittered)"},
    {"jobs.backoff_max_ms", "CAIRN_JOBS_BACKOFF_MAX_MS", NULL, T_INT, "3600000", 1, 604800000, NULL,
     OFF(jobs_backoff_max_ms), "longest delay between two attempts"},
    {"jobs.poll_ms", "CAIRN_JOBS_POLL_MS", NULL, T_INT, "1000", 10, 60000, NULL, OFF(jobs_poll_ms),
     "idle workers look for due jobs at least this often"},
    {"jobs.retention_s", "CAIRN_JOBS_RETENTION_S", NULL, T_INT, "604800", 0, 315360000, NULL,
     OFF(jobs_retention_s), "finished (done) jobs are deleted after this; 0 = kept"},
    {"mail.smtp_url", "CAIRN_MAIL_SMTP_URL", NULL, T_SECRET, "", 0, 0, NULL, OFF(mail_smtp_url),
     "SMTP server for outgoing mail (smtp://host:port or smtps://user:pass@host); empty = none"},
    {"mail.from", "CAIRN_MAIL_FROM", NULL, T_STRING, "cairn@localhost", 0, 0, NULL, OFF(mail_from),
     "sender address of outgoing mail"},
    {"auth.reset_url", "CAIRN_RESET_URL", NULL, T_STRING, "", 0, 0, NULL, OFF(reset_url),
     "page that takes ?token= in password-reset mails; empty = the mail shows the token"},
    {"auth.reset_ttl_s", "CAIRN_RESET_TTL_S", NULL, T_INT, "1800", 1, 86400, NULL, OFF(reset_ttl_s),
     "how long a password-reset token stays valid"},
    {"auth.register_url", "CAIRN_REGISTER_URL", NULL, T_STRING, "", 0, 0, NULL, OFF(register_url),
     "page that takes ?token= in registration-confirmation mails; empty = the mail shows it"},
    {"auth.register_ttl_s", "CAIRN_REGISTER_TTL_S", NULL, T_INT, "86400", 1, 604800, NULL,
     OFF(register_ttl_s), "how long a registration-confirmation link stays valid"},
    {"realtime.history_count", "CAIRN_REALTIME_HISTORY_COUNT", NULL, T_INT, "1000", 1, 10000000,
     NULL, OFF(rt_history_count), "events kept per channel for clients that resume"},
    {"realtime.history_age_s", "CAIRN_REALTIME_HISTORY_AGE_S", NULL, T_INT, "86400", 1, 31536000,
     NULL, OFF(rt_history_age_s), "oldest event (seconds) a resuming client can still get"},
    {"realtime.max_queue_bytes", "CAIRN_REALTIME_MAX_QUEUE_BYTES", NULL, T_SIZE, "1M", 4096,
     1LL << 30, NULL, OFF(rt_max_queue_bytes),
     "unsent bytes a connection may hold before it is closed as too slow (1008)"},
    {"realtime.max_message_bytes", "CAIRN_REALTIME_MAX_MESSAGE_BYTES", NULL, T_SIZE, "64K", 256,
     16LL << 20, NULL, OFF(rt_max_message_bytes), "largest message a client may send (1009)"},
    {"realtime.max_subscriptions", "CAIRN_REALTIME_MAX_SUBSCRIPTIONS", NULL, T_INT, "100", 1,
     100000, NULL, OFF(rt_max_subscriptions), "channels one connection may subscribe to"},
    {"realtime.heartbeat_s", "CAIRN_REALTIME_HEARTBEAT_S", NULL, T_INT, "30", 1, 3600, NULL,
     OFF(rt_heartbeat_s), "ping interval; a connection silent for two intervals is closed"},
    {"realtime.max_connections", "CAIRN_REALTIME_MAX_CONNECTIONS", NULL, T_INT, "10000", 1,
     10000000, NULL, OFF(rt_max_connections), "open WebSocket and SSE connections of the process"},
    {"realtime.max_per_tenant", "CAIRN_REALTIME_MAX_PER_TENANT", NULL, T_INT, "1000", 1, 10000000,
     NULL, OFF(rt_max_per_tenant), "open realtime connections of one tenant"},
    {"realtime.max_per_principal", "CAIRN_REALTIME_MAX_PER_PRINCIPAL", NULL, T_INT, "32", 1,
     10000000, NULL, OFF(rt_max_per_principal),
     "open realtime connections of one user, API key or the operator token"},
    {"realtime.max_unauthenticated_per_ip", "CAIRN_REALTIME_MAX_UNAUTHENTICATED_PER_IP", NULL,
     T_INT, "16", 1, 10000000, NULL, OFF(rt_max_anon_per_ip),
     "WebSockets of one client address still waiting for their auth message"},
    {"realtime.max_queued_bytes_total", "CAIRN_REALTIME_MAX_QUEUED_BYTES_TOTAL", NULL, T_SIZE,
     "256M", 65536, 1LL << 40, NULL, OFF(rt_max_queued_bytes_total),
     "unsent bytes of all realtime connections together (past it: close 1008)"},
    {"insights.geoip_db", "CAIRN_INSIGHTS_GEOIP_DB", NULL, T_STRING, "", 0, 0, NULL,
     OFF(insights_geoip_db),
     "MaxMind .mmdb (City or Country) used to geolocate interaction IPs; empty = off"},
    {"insights.pattern_delay_s", "CAIRN_INSIGHTS_PATTERN_DELAY_S", NULL, T_INT, "60", 0, 86400,
     NULL, OFF(insights_pattern_delay_s),
     "behaviour patterns are recomputed this long after new interactions (debounce)"},
};

_Static_assert(CN_ARRAY_SIZE(keys) <= CN_ARRAY_SIZE(((cn_config_t *)0)->sources),
               "cn_config_t.sources is too small");

static const key_t_ *find_key(const char *key)
{
    for (size_t i = 0; i < CN_ARRAY_SIZE(keys); i++)
        if (strcmp(keys[i].key, key) == 0)
            return &keys[i];
    return NULL;
}

const char *cn_config_key_for_flag(const char *flag)
{
    for (size_t i = 0; i < CN_ARRAY_SIZE(keys); i++)
        if (keys[i].flag != NULL && strcmp(keys[i].flag, flag) == 0)
            return keys[i].key;
    return NULL;
}

static void set_string(char **slot, const char *value)
{
    free(*slot);
    *slot = cn_strdup(value);
}

static int parse_ll(const char *s, long long *out, int allow_suffix)
{
    char *end;
    errno = 0;
    if (!isdigit((unsigned char)s[0]))
        return -1;
    long long v = strtoll(s, &end, 10);
    if (errno != 0)
        return -1;
    if (allow_suffix && *end != '\0' && end[1] == '\0') {
        int shift = *end == 'K' || *end == 'k'   ? 10
                    : *end == 'M' || *end == 'm' ? 20
                    : *end == 'G' || *end == 'g' ? 30
                                                 : -1;
        if (shift < 0 || v > (1LL << (62 - shift)))
            return -1;
        v <<= shift;
        end++;
    }
    if (*end != '\0')
        return -1;
    *out = v;
    return 0;
}

/* A DNS name: dot-separated labels of letters, digits and '-' (RFC 1123). */
static int valid_hostname(const char *h)
{
    size_t n = strlen(h), label = 0;
    if (n == 0 || n > 253)
        return 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || h[i] == '.') {
            if (label == 0 || label > 63 || h[i - 1] == '-' || h[i - label] == '-')
                return 0;
            label = 0;
        } else if (isalnum((unsigned char)h[i]) || h[i] == '-') {
            label++;
        } else {
            return 0;
        }
    }
    return 1;
}

/*
 * Checks one HOST:PORT. The host is what getaddrinfo() gets when the server starts: an
 * IPv4 address, an IPv6 address (in brackets, or bare as before), or a DNS name, which
 * is only checked for its shape here (resolving it would make the check depend on the
 * network). Dotted digits are an IPv4 address or nothing, so "999.1.1.1" is refused.
 * Returns NULL, or what is wrong.
 */
static const char *listen_problem(const char *v)
{
    const char *colon = strrchr(v, ':');
    long long port;
    if (colon == NULL || colon == v || parse_ll(colon + 1, &port, 0) != 0 || port > 65535)
        return "must be HOST:PORT with a port from 0 to 65535";
    char host[256], probe[16];
    size_t n = (size_t)(colon - v);
    int bracketed = v[0] == '[';
    if (bracketed && (n < 3 || colon[-1] != ']'))
        return "an IPv6 address must be in brackets, such as [::1]:8080";
    if (bracketed)
        v++, n -= 2;
    if (n >= sizeof(host))
        return "the host is too long";
    memcpy(host, v, n);
    host[n] = '\0';
    if (bracketed || strchr(host, ':'))
        return inet_pton(AF_INET6, host, probe) == 1 ? NULL : "the host is not an IPv6 address";
    if (strspn(host, "0123456789.") == n)
        return inet_pton(AF_INET, host, probe) == 1 ? NULL : "the host is not an IPv4 address";
    return valid_hostname(host) ? NULL : "the host is not an IP address or a host name";
}

static int set_listen(cn_config_t *c, const char *value, cn_config_source_t src, int entry,
                      cn_err_t *err)
{
    /* parse into a new list first: a bad value leaves the old list untouched */
    char *list[CN_MAX_LISTEN];
    size_t n = 0;
    char *copy = cn_strdup(value), *save = NULL;
    int rc = 0;
    for (char *tok = strtok_r(copy, ", ", &save); tok != NULL && rc == 0;
         tok = strtok_r(NULL, ", ", &save)) {
        const char *problem = listen_problem(tok);
        if (problem != NULL)
            rc = cn_err_set(err, CN_EINVAL, "server.listen: %s (got \"%s\")", problem, tok);
        else if (n == CN_MAX_LISTEN)
            rc = cn_err_set(err, CN_EINVAL, "server.listen: at most %d addresses", CN_MAX_LISTEN);
        else
            list[n++] = cn_strdup(tok);
    }
    free(copy);
    if (rc == 0 && n == 0)
        rc = cn_err_set(err, CN_EINVAL,
                        "server.listen: must be HOST:PORT with a port from 0 to "
                        "65535 (got \"%s\")",
                        value);
    /* a higher source replaces the whole list; the same source appends (repeated flags) */
    size_t keep = c->sources[entry] == src ? c->n_listen : 0;
    if (rc == 0 && keep + n > CN_MAX_LISTEN)
        rc = cn_err_set(err, CN_EINVAL, "server.listen: at most %d addresses", CN_MAX_LISTEN);
    if (rc != 0) {
        for (size_t i = 0; i < n; i++)
            free(list[i]);
        return rc;
    }
    for (size_t i = keep; i < c->n_listen; i++)
        free(c->listen[i]);
    memcpy(c->listen + keep, list, n * sizeof(char *));
    c->n_listen = keep + n;
    return 0;
}

static int parse_bool(const char *v, int *out)
{
    static const char *const yes[] = {"true", "1", "yes", "on"}, *const no[] = {"false", "0", "no",
                                                                                "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0)
            return *out = 1, 0;
        if (strcasecmp(v, no[i]) == 0)
            return *out = 0, 0;
    }
    return -1;
}

int cn_config_set(cn_config_t *c, const char *key, const char *value, cn_config_source_t src,
                  cn_err_t *err)
{
    const key_t_ *k = find_key(key);
    if (k == NULL)
        return cn_err_set(err, CN_EINVAL, "unknown configuration key \"%s\"", key);
    int entry = (int)(k - keys);
    void *slot = (char *)c + k->offset;
    long long ll;
    int b;
    switch (k->type) {
    case T_INT:
    case T_SIZE:
        if (parse_ll(value, &ll, k->type == T_SIZE) != 0 || ll < k->min || ll > k->max)
            return cn_err_set(err, CN_EINVAL, "%s: must be %s from %lld to %lld (got \"%s\")", key,
                              k->type == T_SIZE ? "a size in bytes (K/M/G suffix allowed)"
                                                : "an integer",
                              k->min, k->max, value);
        if (k->type == T_INT)
            *(int *)slot = (int)ll;
        else
            *(int64_t *)slot = ll;
        break;
    case T_BOOL:
        if (parse_bool(value, &b) != 0)
            return cn_err_set(err, CN_EINVAL, "%s: must be true or false (got \"%s\")", key, value);
        *(int *)slot = b;
        break;
    case T_ENUM: {
        int idx = -1;
        char allowed[128] = "";
        for (int i = 0; k->allowed[i] != NULL; i++) {
            if (strcmp(k->allowed[i], value) == 0)
                idx = i;
            snprintf(allowed + strlen(allowed), sizeof(allowed) - strlen(allowed), "%s%s",
                     i ? ", " : "", k->allowed[i]);
        }
        if (idx < 0)
            return cn_err_set(err, CN_EINVAL, "%s: must be one of %s (got \"%s\")", key, allowed,
                              value);
        *(int *)slot = idx;
        break;
    }
    case T_STRING:
    case T_SECRET: set_string(slot, value); break;
    case T_LISTEN: {
        int rc = set_listen(c, value, src, entry, err);
        if (rc != 0)
            return rc;
        break;
    }
    }
    c->sources[entry] = src;
    return 0;
}

void cn_config_defaults(cn_config_t *c)
{
    memset(c, 0, sizeof(*c));
    for (size_t i = 0; i < CN_ARRAY_SIZE(keys); i++) {
        cn_err_t err;
        c->sources[i] = (cn_config_source_t)-1; /* so the default list is replaced, not kept */
        if (cn_config_set(c, keys[i].key, keys[i].def, CN_SRC_DEFAULT, &err) != 0)
            abort(); /* a bad default is a programming error */
    }
}

void cn_config_free(cn_config_t *c)
{
    for (size_t i = 0; i < c->n_listen; i++)
        free(c->listen[i]);
    for (size_t i = 0; i < CN_ARRAY_SIZE(keys); i++)
        if (keys[i].type == T_STRING || keys[i].type == T_SECRET)
            free(*(char **)((char *)c + keys[i].offset));
    free(c->config_file);
    memset(c, 0, sizeof(*c));
}

typedef struct {
    cn_config_t *c;
    cn_err_t *err;
    int failed;
} ini_ctx_t;

static int on_ini(void *user, const char *section, const char *name, const char *value)
{
    ini_ctx_t *ctx = user;
    if (ctx->failed)
        return 0;
    char key[128];
    snprintf(key, sizeof(key), "%s.%s", section, name);
    if (cn_config_set(ctx->c, key, value, CN_SRC_FILE, ctx->err) != 0) {
        ctx->failed = 1;
        return 0;
    }
    return 1;
}

static const char *env_get(char *const *envp, const char *name)
{
    size_t n = strlen(name);
    for (char *const *e = envp; e != NULL && *e != NULL; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

int cn_config_load(cn_config_t *c, char *const *envp, const char *const *flag_kv, size_t n_flags,
                   cn_err_t *err)
{
    char *file = c->config_file ? cn_strdup(c->config_file) : NULL;
    cn_config_free(c);
    cn_config_defaults(c);
    c->config_file = file;
    if (c->config_file == NULL && env_get(envp, "CAIRN_CONFIG") != NULL)
        c->config_file = cn_strdup(env_get(envp, "CAIRN_CONFIG"));
    if (c->config_file != NULL) {
        ini_ctx_t ctx = {c, err, 0};
        int rc = ini_parse(c->config_file, on_ini, &ctx);
        if (ctx.failed) {
            char msg[sizeof(err->msg)];
            memcpy(msg, err->msg, sizeof(msg));
            return cn_err_set(err, CN_EINVAL, "%s: %s", c->config_file, msg);
        }
        if (rc < 0)
            return cn_err_set(err, CN_EINVAL, "%s: cannot open the config file", c->config_file);
        if (rc > 0)
            return cn_err_set(err, CN_EINVAL, "%s: syntax error on line %d", c->config_file, rc);
    }
    for (size_t i = 0; i < CN_ARRAY_SIZE(keys); i++) {
        const char *v = env_get(envp, keys[i].env);
        if (v != NULL && cn_config_set(c, keys[i].key, v, CN_SRC_ENV, err) != 0) {
            char msg[sizeof(err->msg)];
            memcpy(msg, err->msg, sizeof(msg));
            return cn_err_set(err, CN_EINVAL, "%s (from %s)", msg, keys[i].env);
        }
    }
    for (size_t i = 0; i + 1 < n_flags * 2; i += 2)
        if (cn_config_set(c, flag_kv[i], flag_kv[i + 1], CN_SRC_FLAG, err) != 0)
            return CN_EINVAL;
    return cn_config_validate(c, err);
}

/* 1 when s is "scheme://rest" for one of the schemes and rest is not empty. */
static int has_scheme(const char *s, const char *const *schemes)
{
    for (; *schemes; schemes++) {
        size_t n = strlen(*schemes);
        if (strncmp(s, *schemes, n) == 0 && s[n] != '\0' && s[n] != '/')
            return 1;
    }
    return 0;
}

/* Origins are compared with the Origin header exactly: scheme://host[:port], no path. */
static int check_origins(const char *list, cn_err_t *err)
{
    static const char *const web[] = {"http://", "https://", NULL};
    char *copy = cn_strdup(list), *save = NULL;
    int rc = 0;
    for (char *o = strtok_r(copy, ", ", &save); o != NULL && rc == 0;
         o = strtok_r(NULL, ", ", &save))
        if (!has_scheme(o, web) || strchr(strstr(o, "://") + 3, '/') != NULL)
            rc = cn_err_set(err, CN_EINVAL,
                            "server.cors_origins: each origin must be scheme://host[:port] "
                            "without a path or wildcard, such as https://app.example.com "
                            "(got \"%s\")",
                            o);
    free(copy);
    return rc;
}

/* Files the server reads at start: refused now, before anything is created. */
static int check_readable(const char *key, const char *path, cn_err_t *err)
{
    if (path[0] != '\0' && access(path, R_OK) != 0)
        return cn_err_set(err, CN_EINVAL, "%s: cannot read \"%s\": %s", key, path, strerror(errno));
    return 0;
}

/* Addresses, URLs and files: checks cheap enough to run before anything is created. */
static int validate_addresses(const cn_config_t *c, cn_err_t *err)
{
    static const char *const mail[] = {"smtp://", "smtps://", NULL};
    static const char *const web[] = {"http://", "https://", NULL};
    cn_proxies_t *p;
    char bad[64];
    if (cn_proxies_parse(c->trusted_proxies, &p, bad, sizeof(bad)) != 0)
        return cn_err_set(err, CN_EINVAL,
                          "server.trusted_proxies: must be IP addresses or CIDR blocks such as "
                          "10.0.0.0/8 (got \"%s\")",
                          bad);
    cn_proxies_free(p);
    if (check_origins(c->cors_origins, err) != 0)
        return CN_EINVAL;
    if (c->mail_smtp_url[0] != '\0' && !has_scheme(c->mail_smtp_url, mail))
        /* the value may hold a password: it is not repeated */
        return cn_err_set(err, CN_EINVAL,
                          "mail.smtp_url: must start with smtp:// or smtps:// and name a host");
    if (c->reset_url[0] != '\0' && !has_scheme(c->reset_url, web))
        return cn_err_set(err, CN_EINVAL,
                          "auth.reset_url: must be an http:// or https:// URL (got \"%s\")",
                          c->reset_url);
    if (check_readable("server.tls_cert", c->tls_cert, err) != 0 ||
        check_readable("server.tls_key", c->tls_key, err) != 0)
        return CN_EINVAL;
    return check_readable("insights.geoip_db", c->insights_geoip_db, err);
}

int cn_config_validate(const cn_config_t *c, cn_err_t *err)
{
    if ((c->tls_cert[0] == '\0') != (c->tls_key[0] == '\0'))
        return cn_err_set(err, CN_EINVAL,
                          "server.tls_cert and server.tls_key: set both or neither");
    if (c->data_dir[0] == '\0')
        return cn_err_set(err, CN_EINVAL, "store.data: must not be empty");
    if (c->jobs_backoff_max_ms < c->jobs_backoff_ms)
        return cn_err_set(err, CN_EINVAL,
                          "jobs.backoff_max_ms: must not be below jobs.backoff_ms (%d)",
                          c->jobs_backoff_ms);
    return validate_addresses(c, err);
}

void cn_config_secrets_key_path(const cn_config_t *c, char *out, size_t cap)
{
    if (c->secrets_key_file[0] != '\0')
        snprintf(out, cap, "%s", c->secrets_key_file);
    else
        snprintf(out, cap, "%s/secrets.key", c->data_dir);
}

static const char *source_name(cn_config_source_t s)
{
    switch (s) {
    case CN_SRC_DEFAULT: return "default";
    case CN_SRC_FILE: return "file";
    case CN_SRC_ENV: return "env";
    case CN_SRC_FLAG: return "flag";
    }
    return "default";
}

void cn_config_print(const cn_config_t *c, FILE *out)
{
    if (c->config_file)
        fprintf(out, "# config file: %s\n", c->config_file);
    for (size_t i = 0; i < CN_ARRAY_SIZE(keys); i++) {
        const key_t_ *k = &keys[i];
        const void *slot = (const char *)c + k->offset;
        fprintf(out, "%s = ", k->key);
        switch (k->type) {
        case T_INT: fprintf(out, "%d", *(const int *)slot); break;
        case T_SIZE: fprintf(out, "%lld", (long long)*(const int64_t *)slot); break;
        case T_BOOL: fputs(*(const int *)slot ? "true" : "false", out); break;
        case T_ENUM: fputs(k->allowed[*(const int *)slot], out); break;
        case T_STRING:
            if (k->offset == OFF(secrets_key_file)) { /* the effective path, not "" */
                char path[4096];
                cn_config_secrets_key_path(c, path, sizeof(path));
                fputs(path, out);
            } else {
                fputs(*(char *const *)slot, out);
            }
            break;
        case T_SECRET: fputs(**(char *const *)slot ? "<redacted>" : "", out); break;
        case T_LISTEN:
            for (size_t j = 0; j < c->n_listen; j++)
                fprintf(out, "%s%s", j ? "," : "", c->listen[j]);
            break;
        }
        fprintf(out, "  # %s\n", source_name(c->sources[i]));
    }
}

void cn_config_print_flags(FILE *out)
{
    for (size_t i = 0; i < CN_ARRAY_SIZE(keys); i++)
        if (keys[i].flag != NULL)
            fprintf(out, "  %-26s %s\n  %-26s key %s, %s, default \"%s\"\n", keys[i].flag,
                    keys[i].help, "", keys[i].key, keys[i].env, keys[i].def);
}

void cn_config_print_help(FILE *out)
{
    for (size_t i = 0; i < CN_ARRAY_SIZE(keys); i++)
        fprintf(out, "  %-26s %-26s %-12s default \"%s\"\n      %s\n", keys[i].key, keys[i].env,
                keys[i].flag ? keys[i].flag : "", keys[i].def, keys[i].help);
}

int cn_config_threads(const cn_config_t *c)
{
    if (c->threads > 0)
        return c->threads;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}
