/*
 * Configuration (see config.h). The kernel's `keys` table and the modules' tables are the
 * single source of truth: adding a key means adding one row, and the file parser,
 * environment, flags, validation, `config check`, `config keys` and the table in
 * docs/configuration.md all follow from it. Nothing here may know a module's key by name.
 */
#include "core/config.h"
#include "core/module.h"
#include "core/proxy.h"
#include "lib/redact.h"
#include "store/store_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const sync_modes[] = {"normal", "full", NULL};

#define OFF(f) offsetof(cn_config_t, f)

static const char *const mail_schemes[] = {"smtp://", "smtps://", NULL};

/* The kernel's keys. `help` is the "meaning" column of docs/configuration.md. */
static const cn_setting_t keys[] = {
    {"server.listen", "CAIRN_LISTEN", "--listen", CN_SET_LISTEN, "127.0.0.1:8080", 0, 0, NULL,
     OFF(listen),
     "HOST:PORT to listen on; port 0 picks a free port (printed in the `listening on` line)"},
    {"server.threads", "CAIRN_THREADS", "--threads", CN_SET_INT, "0", 0, 256, NULL, OFF(threads),
     "event-loop threads; 0 = one per CPU core"},
    {"server.workers", "CAIRN_WORKERS", "--workers", CN_SET_INT, "2", 1, 64, NULL, OFF(workers),
     "worker threads for slow work such as password hashing"},
    {"server.max_body", "CAIRN_MAX_BODY", "--max-body", CN_SET_SIZE, "1M", 1024, 1LL << 30, NULL,
     OFF(max_body), "largest request body, bytes with K/M/G suffixes; larger gets 413"},
    {"server.request_timeout_ms", "CAIRN_REQUEST_TIMEOUT_MS", NULL, CN_SET_INT, "10000", 100,
     600000, NULL, OFF(request_timeout_ms),
     "HTTP/1: time to send headers and body, and to idle between requests (slowloris bound)"},
    {"server.idle_timeout_ms", "CAIRN_IDLE_TIMEOUT_MS", NULL, CN_SET_INT, "60000", 100, 3600000,
     NULL, OFF(idle_timeout_ms), "HTTP/2 idle connection timeout"},
    {"server.shutdown_timeout_s", "CAIRN_SHUTDOWN_TIMEOUT_S", NULL, CN_SET_INT, "10", 1, 300, NULL,
     OFF(shutdown_timeout_s), "graceful-shutdown deadline for in-flight requests"},
    {"server.cors_origins", "CAIRN_CORS_ORIGINS", NULL, CN_SET_STRING, "", 0, 0, NULL,
     OFF(cors_origins),
     "comma-separated origins allowed by CORS, exact match (scheme://host[:port]); empty = none"},
    {"server.trusted_proxies", "CAIRN_TRUSTED_PROXIES", NULL, CN_SET_STRING, "", 0, 0, NULL,
     OFF(trusted_proxies),
     "addresses or CIDR blocks (`10.0.0.0/8, ::1`) of reverse proxies whose `X-Forwarded-For`"
     " is believed; empty = none"},
    {"server.tls_cert", "CAIRN_TLS_CERT", "--tls-cert", CN_SET_STRING, "", 0, 0, NULL,
     OFF(tls_cert), "PEM certificate chain: enables TLS and HTTP/2 via ALPN",
     .check = CN_CHECK_FILE},
    {"server.tls_key", "CAIRN_TLS_KEY", "--tls-key", CN_SET_STRING, "", 0, 0, NULL, OFF(tls_key),
     "PEM private key for server.tls_cert (set both or neither)", .check = CN_CHECK_FILE},
    {"store.data", "CAIRN_DATA", "--data", CN_SET_STRING, "./data", 0, 0, NULL, OFF(data_dir),
     "directory of the SQLite database `cairn.db` (created, mode 700)"},
    /* a flag although it may hold a password: --database is what the other tools take; the
     * help says where a password belongs instead */
    {"store.url", "CAIRN_DATABASE_URL", "--database", CN_SET_STRING, "", 0, 0, NULL, OFF(store_url),
     "the database engine: empty or `sqlite:` = SQLite in `store.data`;"
     " `postgres://USER@HOST:PORT/DB` (or `postgresql://`) = PostgreSQL 15 or newer, on a"
     " database created with the C collation (docs/operations.md). Shown with its password"
     " redacted; a flag is visible in ps(1), so give a password through the environment, the"
     " config file or libpq's `~/.pgpass`",
     .check = CN_CHECK_STORE_URL},
    {"store.synchronous", "CAIRN_SYNCHRONOUS", NULL, CN_SET_ENUM, "normal", 0, 0, sync_modes,
     OFF(synchronous_full),
     "`normal`: commits survive a process crash (kill -9); `full`: also a power loss"},
    {"store.busy_timeout_ms", "CAIRN_BUSY_TIMEOUT_MS", NULL, CN_SET_INT, "5000", 0, 600000, NULL,
     OFF(busy_timeout_ms), "how long to wait for another process holding the database lock"},
    {"store.cache_size", "CAIRN_STORE_CACHE_SIZE", NULL, CN_SET_SIZE, "32M", 0, 1LL << 34, NULL,
     OFF(store_cache_bytes),
     "SQLite page cache of each reading connection (one per event loop, job worker and"
     " worker); memory is taken as pages are read, so an idle server stays small. SQLite drops"
     " a reading connection's cache whenever another connection has committed"},
    {"store.write_cache_size", "CAIRN_STORE_WRITE_CACHE_SIZE", NULL, CN_SET_SIZE, "16M", 0,
     1LL << 34, NULL, OFF(store_write_cache_bytes),
     "SQLite page cache of the one write connection that every write transaction uses. Nothing"
     " else writes, so this cache stays filled and sets most of the memory under a write load:"
     " 16M keeps a server near 45 MB RSS after a million note inserts (32M: 61 MB)"},
    {"store.auto_migrate", "CAIRN_AUTO_MIGRATE", NULL, CN_SET_BOOL, "true", 0, 0, NULL,
     OFF(auto_migrate),
     "`cairn serve` applies pending migrations at start; if false it refuses to start with"
     " pending ones"},
    {"cluster.nodes", "CAIRN_CLUSTER_NODES", NULL, CN_SET_INT, "1", 1, 1000, NULL,
     OFF(cluster_nodes),
     "how many `cairn` nodes the operator runs on one database; more than 1 needs a PostgreSQL"
     " `store.url` and `cluster.nats_url`"},
    {"cluster.nats_url", "CAIRN_NATS_URL", NULL, CN_SET_STRING, "", 0, 0, NULL, OFF(nats_url),
     "NATS servers that carry events, session revocations, cache invalidations and job"
     " wake-ups between nodes, `nats://HOST:PORT`, comma-separated; empty = in this process"
     " (one node). A node that is not connected is not ready (`/readyz`) and bypasses its"
     " cache. Shown with its password redacted",
     .check = CN_CHECK_NATS_URL},
    {"cluster.name", "CAIRN_CLUSTER_NAME", NULL, CN_SET_STRING, "cairn", 0, 0, NULL,
     OFF(cluster_name),
     "names the cluster on NATS: the prefix of its subjects and of its key-value bucket, so"
     " several clusters (staging, production) can share one NATS; the same on every node of"
     " a cluster; 1 to 32 letters, digits, `_` or `-`"},
    {"log.level", "CAIRN_LOG_LEVEL", "--log-level", CN_SET_ENUM, "info", 0, 0, log_levels,
     OFF(log_level), "lowest level written to the application log"},
    {"log.access", "CAIRN_ACCESS_LOG", NULL, CN_SET_BOOL, "true", 0, 0, NULL, OFF(access_log),
     "write one JSON line per request"},
    /* the kernel checks it (http.c) before any module's authentication hook runs */
    {"auth.bootstrap_token", "CAIRN_BOOTSTRAP_TOKEN", NULL, CN_SET_SECRET, "", 0, 0, NULL,
     OFF(bootstrap_token),
     "the operator's secret bearer token: every permission, in a built-in tenant of its own"
     " (`make run` keeps one in DATA/bootstrap-token)"},
    {"limits.ip_per_min", "CAIRN_RATE_IP_PER_MIN", NULL, CN_SET_INT, "1000", 1, 10000000, NULL,
     OFF(rate_ip_per_min), "requests per minute per client IP (token bucket, bursts up to it)"},
    {"limits.user_per_min", "CAIRN_RATE_USER_PER_MIN", NULL, CN_SET_INT, "100", 1, 10000000, NULL,
     OFF(rate_user_per_min), "authenticated requests per minute per user or API key"},
    {"limits.auth_per_min", "CAIRN_RATE_AUTH_PER_MIN", NULL, CN_SET_INT, "5", 1, 10000000, NULL,
     OFF(rate_auth_per_min), "sign-in and token-refresh requests per minute per client IP"},
    {"cache.max_bytes", "CAIRN_CACHE_MAX_BYTES", NULL, CN_SET_SIZE, "64M", 0, 1LL << 40, NULL,
     OFF(cache_max_bytes),
     "in-process response cache budget, bytes with K/M/G suffixes; 0 turns the cache off. See"
     " \"Cache\" in `architecture.md`"},
    {"cache.ttl_ms", "CAIRN_CACHE_TTL_MS", NULL, CN_SET_INT, "60000", 1, 86400000, NULL,
     OFF(cache_ttl_ms), "lifetime of a cached entry whose caller sets none"},
    {"jobs.workers", "CAIRN_JOBS_WORKERS", NULL, CN_SET_INT, "2", 0, 64, NULL, OFF(jobs_workers),
     "job worker threads; 0 = this process runs no jobs (it still enqueues them). See"
     " `jobs.md`"},
    {"jobs.lease_ms", "CAIRN_JOBS_LEASE_MS", NULL, CN_SET_INT, "30000", 100, 86400000, NULL,
     OFF(jobs_lease_ms),
     "how long a claimed job is reserved; a job whose worker died is claimed again after it"},
    {"jobs.max_attempts", "CAIRN_JOBS_MAX_ATTEMPTS", NULL, CN_SET_INT, "5", 1, 1000, NULL,
     OFF(jobs_max_attempts),
     "runs before a failing job is dead, for types that do not set their own"},
    {"jobs.backoff_ms", "CAIRN_JOBS_BACKOFF_MS", NULL, CN_SET_INT, "1000", 1, 86400000, NULL,
     OFF(jobs_backoff_ms), "delay before the first retry; doubles with each attempt, with jitter"},
    {"jobs.backoff_max_ms", "CAIRN_JOBS_BACKOFF_MAX_MS", NULL, CN_SET_INT, "3600000", 1, 604800000,
     NULL, OFF(jobs_backoff_max_ms), "cap of the retry delay (not below `jobs.backoff_ms`)"},
    {"jobs.poll_ms", "CAIRN_JOBS_POLL_MS", NULL, CN_SET_INT, "1000", 10, 60000, NULL,
     OFF(jobs_poll_ms),
     "idle workers look for due jobs at least this often (jobs enqueued by this process wake"
     " them at once)"},
    {"jobs.retention_s", "CAIRN_JOBS_RETENTION_S", NULL, CN_SET_INT, "604800", 0, 315360000, NULL,
     OFF(jobs_retention_s),
     "done jobs are deleted this long after they finished; 0 = kept. Dead jobs are kept until"
     " purged"},
    /* mail is a kernel service (mail.c) that any module sends through, not auth's */
    {"mail.smtp_url", "CAIRN_MAIL_SMTP_URL", NULL, CN_SET_SECRET, "", 0, 0, mail_schemes,
     OFF(mail_smtp_url),
     "SMTP server for outgoing mail, `smtp://host:port` or `smtps://user:pass@host`; empty ="
     " no mail",
     .check = CN_CHECK_URL},
    {"mail.from", "CAIRN_MAIL_FROM", NULL, CN_SET_STRING, "cairn@localhost", 0, 0, NULL,
     OFF(mail_from), "sender address of outgoing mail"},
    {"realtime.history_count", "CAIRN_REALTIME_HISTORY_COUNT", NULL, CN_SET_INT, "1000", 1,
     10000000, NULL, OFF(rt_history_count),
     "events kept per channel for resuming clients (at least; trimmed in steps of 64)"},
    {"realtime.history_age_s", "CAIRN_REALTIME_HISTORY_AGE_S", NULL, CN_SET_INT, "86400", 1,
     31536000, NULL, OFF(rt_history_age_s), "oldest event a resuming client can still get"},
    {"realtime.max_queue_bytes", "CAIRN_REALTIME_MAX_QUEUE_BYTES", NULL, CN_SET_SIZE, "1M", 4096,
     1LL << 30, NULL, OFF(rt_max_queue_bytes),
     "unsent bytes per connection before it is closed as too slow (1008)"},
    {"realtime.max_message_bytes", "CAIRN_REALTIME_MAX_MESSAGE_BYTES", NULL, CN_SET_SIZE, "64K",
     256, 16LL << 20, NULL, OFF(rt_max_message_bytes),
     "largest client message; larger closes with 1009"},
    {"realtime.max_subscriptions", "CAIRN_REALTIME_MAX_SUBSCRIPTIONS", NULL, CN_SET_INT, "100", 1,
     100000, NULL, OFF(rt_max_subscriptions), "channels per connection"},
    {"realtime.heartbeat_s", "CAIRN_REALTIME_HEARTBEAT_S", NULL, CN_SET_INT, "30", 1, 3600, NULL,
     OFF(rt_heartbeat_s), "ping interval; two silent intervals close a connection"},
    {"realtime.max_connections", "CAIRN_REALTIME_MAX_CONNECTIONS", NULL, CN_SET_INT, "10000", 1,
     10000000, NULL, OFF(rt_max_connections),
     "open WebSocket and SSE connections of the process; more are refused (429). Their queued"
     " memory is bounded by `realtime.max_queued_bytes_total`"},
    {"realtime.max_per_tenant", "CAIRN_REALTIME_MAX_PER_TENANT", NULL, CN_SET_INT, "1000", 1,
     10000000, NULL, OFF(rt_max_per_tenant),
     "open realtime connections of one tenant (429, or close 4429)"},
    {"realtime.max_per_principal", "CAIRN_REALTIME_MAX_PER_PRINCIPAL", NULL, CN_SET_INT, "32", 1,
     10000000, NULL, OFF(rt_max_per_principal),
     "open realtime connections of one user, API key or the operator token (429, or close"
     " 4429)"},
    {"realtime.max_unauthenticated_per_ip", "CAIRN_REALTIME_MAX_UNAUTHENTICATED_PER_IP", NULL,
     CN_SET_INT, "16", 1, 10000000, NULL, OFF(rt_max_anon_per_ip),
     "WebSockets of one client address still waiting for their auth message (429)"},
    {"realtime.max_queued_bytes_total", "CAIRN_REALTIME_MAX_QUEUED_BYTES_TOTAL", NULL, CN_SET_SIZE,
     "256M", 65536, 1LL << 40, NULL, OFF(rt_max_queued_bytes_total),
     "unsent bytes of all realtime connections together, with K/M/G suffixes; past it the"
     " connection whose queue grows is closed (1008)"},
};

/*
 * Walks every key: the kernel's table, then each module's in the module list's order. index
 * is the key's slot in cn_config_t.sources; module is NULL for the kernel's keys.
 */
typedef struct {
    const cn_app_t *const *next; /* the modules not yet visited */
    const cn_app_t *module;
    const cn_setting_t *row;
    int index;
} key_iter_t;

static key_iter_t keys_begin(const cn_app_t *const *modules)
{
    return (key_iter_t){.next = modules, .index = -1};
}

/* Moves to the next key; 0 after the last one. */
static int keys_next(key_iter_t *it)
{
    it->index++;
    if (it->row == NULL) {
        it->row = keys;
        return 1;
    }
    if (it->module == NULL && it->row + 1 < keys + CN_ARRAY_SIZE(keys)) {
        it->row++;
        return 1;
    }
    if (it->module != NULL && it->row[1].key != NULL) {
        it->row++;
        return 1;
    }
    for (; it->next != NULL && *it->next != NULL; it->next++) {
        const cn_setting_t *first = (*it->next)->settings;
        if (first != NULL && first->key != NULL) {
            it->module = *it->next++;
            it->row = first;
            return 1;
        }
    }
    return 0;
}

/* The field a row fills: the module's own, or the kernel's in c. */
static void *slot_of(const cn_config_t *c, const cn_setting_t *k)
{
    return k->slot != NULL ? k->slot : (char *)c + k->offset;
}

static int find_key(const cn_app_t *const *modules, const char *key, key_iter_t *it)
{
    for (*it = keys_begin(modules); keys_next(it);)
        if (strcmp(it->row->key, key) == 0)
            return 1;
    return 0;
}

const char *cn_config_key_for_flag(const cn_app_t *const *modules, const char *flag)
{
    for (key_iter_t it = keys_begin(modules); keys_next(&it);)
        if (it.row->flag != NULL && strcmp(it.row->flag, flag) == 0)
            return it.row->key;
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

/* Parses value into the row's field; the field is unchanged when value is refused. */
static int set_value(cn_config_t *c, const cn_setting_t *k, int entry, const char *value,
                     cn_config_source_t src, cn_err_t *err)
{
    const char *key = k->key;
    void *slot = slot_of(c, k);
    long long ll;
    int b;
    switch (k->type) {
    case CN_SET_INT:
    case CN_SET_SIZE:
        if (parse_ll(value, &ll, k->type == CN_SET_SIZE) != 0 || ll < k->min || ll > k->max)
            return cn_err_set(err, CN_EINVAL, "%s: must be %s from %lld to %lld (got \"%s\")", key,
                              k->type == CN_SET_SIZE ? "a size in bytes (K/M/G suffix allowed)"
                                                     : "an integer",
                              k->min, k->max, value);
        if (k->type == CN_SET_INT)
            *(int *)slot = (int)ll;
        else
            *(int64_t *)slot = ll;
        break;
    case CN_SET_BOOL:
        if (parse_bool(value, &b) != 0)
            return cn_err_set(err, CN_EINVAL, "%s: must be true or false (got \"%s\")", key, value);
        *(int *)slot = b;
        break;
    case CN_SET_ENUM: {
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
    case CN_SET_STRING:
    case CN_SET_SECRET: set_string(slot, value); break;
    case CN_SET_LISTEN: {
        int rc = set_listen(c, value, src, entry, err);
        if (rc != 0)
            return rc;
        break;
    }
    }
    c->sources[entry] = src;
    return 0;
}

int cn_config_set(cn_config_t *c, const char *key, const char *value, cn_config_source_t src,
                  cn_err_t *err)
{
    key_iter_t it;
    if (!find_key(c->modules, key, &it))
        return cn_err_set(err, CN_EINVAL, "unknown configuration key \"%s\"", key);
    return set_value(c, it.row, it.index, value, src, err);
}

/* Stops on a row that cannot work: a programming error, found by every start. */
static void declaration_error(const key_iter_t *at, const char *problem)
{
    fprintf(stderr, "cairn: configuration key %s (%s): %s\n", at->row->key, at->row->env, problem);
    abort();
}

/*
 * Two rows with one key or one variable would leave one of them unreachable; a module's
 * row fills a field of its own (and server.listen is the kernel's); a flag would show a
 * secret in ps(1).
 */
static void check_declaration(const cn_app_t *const *modules, const key_iter_t *at)
{
    for (key_iter_t it = keys_begin(modules); keys_next(&it) && it.index < at->index;)
        if (strcmp(it.row->key, at->row->key) == 0 || strcmp(it.row->env, at->row->env) == 0)
            declaration_error(at, "declared twice");
    if (at->module != NULL && (at->row->slot == NULL || at->row->type == CN_SET_LISTEN))
        declaration_error(at, "a module's row needs a slot of its own");
    if (at->row->type == CN_SET_SECRET && at->row->flag != NULL)
        declaration_error(at, "a secret cannot have a flag");
}

/* Every key of the kernel and of c->modules to its default. */
static void set_defaults(cn_config_t *c)
{
    for (key_iter_t it = keys_begin(c->modules); keys_next(&it);) {
        cn_err_t err;
        if (it.index >= CN_MAX_SETTINGS)
            abort(); /* a programming error: raise CN_MAX_SETTINGS */
        check_declaration(c->modules, &it);
        c->sources[it.index] = (cn_config_source_t)-1; /* so the default list is replaced */
        if (set_value(c, it.row, it.index, it.row->def, CN_SRC_DEFAULT, &err) != 0) {
            fprintf(stderr, "cairn: bad default of %s: %s\n", it.row->key, err.msg);
            abort(); /* a programming error */
        }
    }
}

void cn_config_defaults(cn_config_t *c)
{
    memset(c, 0, sizeof(*c));
    set_defaults(c);
}

void cn_config_free(cn_config_t *c)
{
    for (size_t i = 0; i < c->n_listen; i++)
        free(c->listen[i]);
    for (key_iter_t it = keys_begin(c->modules); keys_next(&it);)
        if (it.row->type == CN_SET_STRING || it.row->type == CN_SET_SECRET) {
            char **slot = slot_of(c, it.row);
            free(*slot);
            *slot = NULL; /* a module's field outlives c */
        }
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

int cn_config_load(cn_config_t *c, const cn_app_t *const *modules, char *const *envp,
                   const char *const *flag_kv, size_t n_flags, cn_err_t *err)
{
    char *file = c->config_file ? cn_strdup(c->config_file) : NULL;
    cn_config_free(c);
    c->modules = modules;
    set_defaults(c);
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
    for (key_iter_t it = keys_begin(modules); keys_next(&it);) {
        const char *v = env_get(envp, it.row->env);
        if (v != NULL && set_value(c, it.row, it.index, v, CN_SRC_ENV, err) != 0) {
            char msg[sizeof(err->msg)];
            memcpy(msg, err->msg, sizeof(msg));
            return cn_err_set(err, CN_EINVAL, "%s (from %s)", msg, it.row->env);
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

/* "a or b or c" (sep " or ") from a NULL-terminated list. */
static void join(const char *const *list, const char *sep, char *out, size_t cap)
{
    out[0] = '\0';
    for (size_t i = 0; list != NULL && list[i] != NULL; i++)
        snprintf(out + strlen(out), cap - strlen(out), "%s%s", i ? sep : "", list[i]);
}

/*
 * One server of a NATS list: nats://[userinfo@]HOST:PORT, nothing after the port. The
 * host is checked as a listen address's is (shape only: nothing is resolved).
 */
static int nats_server_valid(const char *s)
{
    if (strncmp(s, "nats://", 7) != 0)
        return 0;
    s += 7;
    const char *at = strrchr(s, '@');
    if (at != NULL)
        s = at + 1;
    const char *colon = strrchr(s, ':');
    return strpbrk(s, "/?#") == NULL && listen_problem(s) == NULL && atoi(colon + 1) > 0;
}

/* cluster.nats_url: a comma-separated list of servers, shown redacted if one is refused. */
static int check_nats(const char *key, const char *list, cn_err_t *err)
{
    char *copy = cn_strdup(list), *save = NULL, shown[512];
    int rc = 0;
    for (char *s = strtok_r(copy, ", ", &save); s != NULL && rc == 0;
         s = strtok_r(NULL, ", ", &save))
        if (!nats_server_valid(s)) {
            /* the whole list: a password may hold the comma or space this split at */
            cn_url_redact(list, shown, sizeof(shown));
            rc = cn_err_set(err, CN_EINVAL,
                            "%s: each server must be nats://HOST:PORT with a port from 1 to "
                            "65535 (user:password@ allowed), comma-separated, such as "
                            "nats://127.0.0.1:4222 (got \"%s\")",
                            key, shown);
        }
    free(copy);
    return rc;
}

/*
 * A row's own check (cn_setting_check_t): files the server reads at start, URLs it puts in
 * mails and the URLs of the engines it runs on, refused now, before anything is created.
 * A secret is never repeated, nor a URL's password.
 */
static int check_row(const cn_config_t *c, const cn_setting_t *k, cn_err_t *err)
{
    const char *v = k->check != CN_CHECK_NONE ? *(char *const *)slot_of(c, k) : "";
    char schemes[128];
    if (v[0] == '\0')
        return 0;
    if (k->check == CN_CHECK_STORE_URL)
        return cn_store_url_check(v, err);
    if (k->check == CN_CHECK_NATS_URL)
        return check_nats(k->key, v, err);
    if (k->check == CN_CHECK_FILE)
        return access(v, R_OK) == 0 ? 0
                                    : cn_err_set(err, CN_EINVAL, "%s: cannot read \"%s\": %s",
                                                 k->key, v, strerror(errno));
    if (has_scheme(v, k->allowed))
        return 0;
    join(k->allowed, " or ", schemes, sizeof(schemes));
    if (k->type == CN_SET_SECRET) /* the value may hold a password */
        return cn_err_set(err, CN_EINVAL, "%s: must start with %s and name a host", k->key,
                          schemes);
    return cn_err_set(err, CN_EINVAL, "%s: must be an %s URL (got \"%s\")", k->key, schemes, v);
}

/*
 * Several nodes share one database and pass events between them: SQLite is one node's
 * file, and without a bus each node would keep its events, revocations and cache
 * invalidations to itself.
 */
static int check_cluster(const cn_config_t *c, cn_err_t *err)
{
    size_t n = strspn(c->cluster_name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                       "0123456789_-");
    if (n == 0 || n > 32 || c->cluster_name[n] != '\0')
        return cn_err_set(err, CN_EINVAL,
                          "cluster.name: 1 to 32 letters, digits, _ or - (it prefixes NATS "
                          "subjects and a key-value bucket)");
    if (c->cluster_nodes <= 1)
        return 0;
    if (cn_store_engine(c->store_url) == CN_ENGINE_SQLITE)
        return cn_err_set(err, CN_EINVAL,
                          "cluster.nodes: %d nodes cannot share SQLite, which serves one node: "
                          "set store.url to a postgres:// URL, or cluster.nodes to 1",
                          c->cluster_nodes);
    if (c->nats_url[0] == '\0')
        return cn_err_set(err, CN_EINVAL,
                          "cluster.nodes: %d nodes on PostgreSQL need cluster.nats_url "
                          "(nats://HOST:PORT) to pass events, realtime and cache invalidations "
                          "between them: set it, or cluster.nodes to 1",
                          c->cluster_nodes);
    return 0;
}

int cn_config_validate(const cn_config_t *c, cn_err_t *err)
{
    cn_proxies_t *p;
    char bad[64];
    if ((c->tls_cert[0] == '\0') != (c->tls_key[0] == '\0'))
        return cn_err_set(err, CN_EINVAL,
                          "server.tls_cert and server.tls_key: set both or neither");
    if (c->data_dir[0] == '\0')
        return cn_err_set(err, CN_EINVAL, "store.data: must not be empty");
    if (c->jobs_backoff_max_ms < c->jobs_backoff_ms)
        return cn_err_set(err, CN_EINVAL,
                          "jobs.backoff_max_ms: must not be below jobs.backoff_ms (%d)",
                          c->jobs_backoff_ms);
    if (cn_proxies_parse(c->trusted_proxies, &p, bad, sizeof(bad)) != 0)
        return cn_err_set(err, CN_EINVAL,
                          "server.trusted_proxies: must be IP addresses or CIDR blocks such as "
                          "10.0.0.0/8 (got \"%s\")",
                          bad);
    cn_proxies_free(p);
    if (check_origins(c->cors_origins, err) != 0)
        return CN_EINVAL;
    for (key_iter_t it = keys_begin(c->modules); keys_next(&it);)
        if (check_row(c, it.row, err) != 0)
            return CN_EINVAL;
    return check_cluster(c, err);
}

void cn_config_data_path(const cn_config_t *c, const char *value, const char *file, char *out,
                         size_t cap)
{
    if (value != NULL && value[0] != '\0')
        snprintf(out, cap, "%s", value);
    else
        snprintf(out, cap, "%s/%s", c->data_dir, file);
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

/* "kernel", or the module's name: the group a key is listed under. */
static const char *group_of(const key_iter_t *it)
{
    return it->module != NULL ? it->module->name : "kernel";
}

/* 1 when the key starts a group (the kernel's first key, or a module's). */
static int starts_group(const key_iter_t *it)
{
    return it->index == 0 || (it->module != NULL && it->row == it->module->settings);
}

static void print_value(const cn_config_t *c, const cn_setting_t *k, FILE *out)
{
    const void *slot = slot_of(c, k);
    char path[4096];
    switch (k->type) {
    case CN_SET_INT: fprintf(out, "%d", *(const int *)slot); break;
    case CN_SET_SIZE: fprintf(out, "%lld", (long long)*(const int64_t *)slot); break;
    case CN_SET_BOOL: fputs(*(const int *)slot ? "true" : "false", out); break;
    case CN_SET_ENUM: fputs(k->allowed[*(const int *)slot], out); break;
    case CN_SET_STRING:
        if (k->data_file != NULL) { /* the effective path, not "" */
            cn_config_data_path(c, *(char *const *)slot, k->data_file, path, sizeof(path));
            fputs(path, out);
        } else if (k->check == CN_CHECK_STORE_URL || k->check == CN_CHECK_NATS_URL) {
            cn_url_redact(*(char *const *)slot, path, sizeof(path));
            fputs(path, out);
        } else {
            fputs(*(char *const *)slot, out);
        }
        break;
    case CN_SET_SECRET: fputs(**(char *const *)slot ? "<redacted>" : "", out); break;
    case CN_SET_LISTEN:
        for (size_t j = 0; j < c->n_listen; j++)
            fprintf(out, "%s%s", j ? "," : "", c->listen[j]);
        break;
    }
}

void cn_config_print(const cn_config_t *c, FILE *out)
{
    if (c->config_file)
        fprintf(out, "# config file: %s\n", c->config_file);
    for (key_iter_t it = keys_begin(c->modules); keys_next(&it);) {
        if (starts_group(&it))
            fprintf(out, "# %s%s\n", it.module ? "module " : "", group_of(&it));
        fprintf(out, "%s = ", it.row->key);
        print_value(c, it.row, out);
        fprintf(out, "  # %s\n", source_name(c->sources[it.index]));
    }
}

void cn_config_print_flags(const cn_app_t *const *modules, FILE *out)
{
    for (key_iter_t it = keys_begin(modules); keys_next(&it);)
        if (it.row->flag != NULL)
            fprintf(out, "  %-26s %s\n  %-26s key %s, %s, default \"%s\"\n", it.row->flag,
                    it.row->help, "", it.row->key, it.row->env, it.row->def);
}

void cn_config_print_help(const cn_app_t *const *modules, FILE *out)
{
    for (key_iter_t it = keys_begin(modules); keys_next(&it);) {
        if (starts_group(&it))
            fprintf(out, "%s%s:\n", it.module ? "module " : "", group_of(&it));
        fprintf(out, "  %-26s %-26s %-12s default \"%s\"\n      %s\n", it.row->key, it.row->env,
                it.row->flag ? it.row->flag : "", it.row->def, it.row->help);
    }
}

/* 1M, 64K, 1G: a size in the largest unit that divides it, as the tables write it. */
static void format_size(long long v, char *out, size_t cap)
{
    static const char *const units[] = {"", "K", "M", "G", "T"};
    size_t u = 0;
    while (u + 1 < CN_ARRAY_SIZE(units) && v != 0 && v % 1024 == 0) {
        v /= 1024;
        u++;
    }
    snprintf(out, cap, "%lld%s", v, units[u]);
}

/* The "allowed" column: what the row's parser and check accept. */
static void describe_allowed(const cn_setting_t *k, char *out, size_t cap)
{
    char lo[32], hi[32], list[128];
    switch (k->type) {
    case CN_SET_INT: snprintf(out, cap, "%lld–%lld", k->min, k->max); return;
    case CN_SET_SIZE:
        format_size(k->min, lo, sizeof(lo));
        format_size(k->max, hi, sizeof(hi));
        snprintf(out, cap, "%s–%s bytes", lo, hi);
        return;
    case CN_SET_BOOL: snprintf(out, cap, "true, false"); return;
    case CN_SET_ENUM: join(k->allowed, ", ", out, cap); return;
    case CN_SET_LISTEN: snprintf(out, cap, "HOST:PORT, repeatable"); return;
    case CN_SET_STRING:
    case CN_SET_SECRET: break;
    }
    join(k->allowed, " or ", list, sizeof(list));
    const char *secret = k->type == CN_SET_SECRET ? "secret: " : "";
    if (k->check == CN_CHECK_STORE_URL)
        snprintf(out, cap,
                 "empty, `sqlite:`, or a URL starting with postgres:// or"
                 " postgresql://");
    else if (k->check == CN_CHECK_NATS_URL)
        snprintf(out, cap, "empty, or nats://HOST:PORT, comma-separated");
    else if (k->check == CN_CHECK_FILE)
        snprintf(out, cap, "%sempty, or a readable file", secret);
    else if (k->check == CN_CHECK_URL)
        snprintf(out, cap, "%sempty, or a URL starting with %s", secret, list);
    else
        snprintf(out, cap, "%stext", secret);
}

/* Writes s into a table cell: a '|' would end the cell. */
static void put_cell(const char *s, FILE *out)
{
    for (; *s; s++) {
        if (*s == '|')
            fputc('\\', out);
        fputc(*s, out);
    }
}

void cn_config_print_markdown(const cn_app_t *const *modules, FILE *out)
{
    for (key_iter_t it = keys_begin(modules); keys_next(&it);) {
        const cn_setting_t *k = it.row;
        char allowed[256];
        if (starts_group(&it))
            fprintf(out,
                    "%s### %s%s\n\n| key | environment | flag | default | allowed | meaning |\n"
                    "|---|---|---|---|---|---|\n",
                    it.index ? "\n" : "", it.module ? "module " : "", group_of(&it));
        describe_allowed(k, allowed, sizeof(allowed));
        fprintf(out, "| %s | %s | %s | ", k->key, k->env, k->flag ? k->flag : "");
        if (k->data_file != NULL)
            fprintf(out, "DATA/%s", k->data_file);
        else
            put_cell(k->def[0] ? k->def : "(empty)", out);
        fprintf(out, " | %s | ", allowed);
        put_cell(k->help, out);
        fputs(" |\n", out);
    }
}

int cn_config_threads(const cn_config_t *c)
{
    if (c->threads > 0)
        return c->threads;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}
