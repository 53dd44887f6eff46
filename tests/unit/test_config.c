/*
 * Unit tests for configuration (src/core/config.h): defaults, the file < env < flag chain,
 * listen-list merging, value parsing and its error messages, cross-key validation, the
 * redacting printer, and the keys modules declare (a module of this file's own, and the
 * real module list of apps.c). Config files are written to temporary files and removed
 * afterwards.
 */
#include "apps/apps.h"
#include "core/config.h"
#include "core/module.h"
#include "store/store_int.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

/* ---- helpers ---- */

/* Writes text to a new temporary file; returns its path (owned by the caller). */
static char *write_ini(const char *text)
{
    char tmpl[] = "/tmp/cairn-unit-config-XXXXXX";
    int fd = mkstemp(tmpl);
    if (fd < 0)
        fail_msg("mkstemp failed");
    size_t len = strlen(text);
    if (write(fd, text, len) != (ssize_t)len)
        fail_msg("write failed");
    close(fd);
    return strdup(tmpl);
}

/* Loads the chain for modules with an optional config file (path, or NULL). */
static int load_modules(cn_config_t *c, const cn_app_t *const *modules, const char *file,
                        char *const *envp, const char *const *flags, size_t n_flags, cn_err_t *err)
{
    memset(c, 0, sizeof(*c));
    memset(err, 0, sizeof(*err));
    if (file != NULL)
        c->config_file = strdup(file);
    return cn_config_load(c, modules, envp, flags, n_flags, err);
}

/* The same with the binary's module list (apps.c). */
static int load(cn_config_t *c, const char *file, char *const *envp, const char *const *flags,
                size_t n_flags, cn_err_t *err)
{
    return load_modules(c, cn_apps, file, envp, flags, n_flags, err);
}

/* Runs cn_config_print into a heap string (owned by the caller). */
static char *print_config(const cn_config_t *c)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    cn_config_print(c, f);
    fclose(f);
    return text;
}

static void assert_contains(const char *haystack, const char *needle)
{
    if (strstr(haystack, needle) == NULL)
        fail_msg("\"%s\" not found in:\n%s", needle, haystack);
}

static void assert_listen(const cn_config_t *c, size_t n, const char *const *want)
{
    if (c->n_listen != n) {
        for (size_t i = 0; i < c->n_listen; i++)
            print_error("  listen[%zu] = %s\n", i, c->listen[i]);
        fail_msg("%zu listen addresses, want %zu", c->n_listen, n);
    }
    for (size_t i = 0; i < n; i++)
        assert_string_equal(c->listen[i], want[i]);
}

/* ---- defaults ---- */

static void test_defaults(void **state)
{
    cn_config_t c;
    cn_config_defaults(&c);
    assert_listen(&c, 1, (const char *const[]){"127.0.0.1:8080"});
    assert_int_equal(c.threads, 0);
    assert_int_equal(c.max_body, 1048576);
    assert_int_equal(c.request_timeout_ms, 10000);
    assert_int_equal(c.idle_timeout_ms, 60000);
    assert_int_equal(c.shutdown_timeout_s, 10);
    assert_string_equal(c.cors_origins, "");
    assert_string_equal(c.tls_cert, "");
    assert_string_equal(c.tls_key, "");
    assert_string_equal(c.data_dir, "./data");
    assert_int_equal(c.synchronous_full, 0);
    assert_int_equal(c.busy_timeout_ms, 5000);
    assert_int_equal(c.auto_migrate, 1);
    assert_int_equal(c.log_level, CN_LOG_INFO);
    assert_int_equal(c.access_log, 1);
    assert_string_equal(c.bootstrap_token, "");
    assert_null(c.config_file);
    assert_int_equal(cn_config_validate(&c, NULL), 0);

    char *text = print_config(&c);
    assert_contains(text, "server.threads = 0  # default\n");
    assert_contains(text, "log.level = info  # default\n");
    free(text);
    cn_config_free(&c);
}

static void test_load_without_sources_gives_defaults(void **state)
{
    cn_config_t c;
    cn_err_t err;
    char *envp[] = {"PATH=/bin", "HOME=/tmp", NULL};
    assert_int_equal(load(&c, NULL, envp, NULL, 0, &err), 0);
    assert_int_equal(c.threads, 0);
    assert_int_equal(c.max_body, 1048576);
    assert_string_equal(c.data_dir, "./data");
    cn_config_free(&c);

    /* a NULL environment is an empty one */
    assert_int_equal(load(&c, NULL, NULL, NULL, 0, &err), 0);
    assert_int_equal(c.log_level, CN_LOG_INFO);
    cn_config_free(&c);
}

/* ---- precedence ---- */

static const char precedence_ini[] = "; comment\n"
                                     "[server]\n"
                                     "threads = 3\n"
                                     "max_body = 2M\n"
                                     "shutdown_timeout_s = 20\n"
                                     "[log]\n"
                                     "level = warn\n"
                                     "[store]\n"
                                     "synchronous = full\n";

static void test_file_overrides_defaults(void **state)
{
    char *path = write_ini(precedence_ini);
    cn_config_t c;
    cn_err_t err;
    int rc = load(&c, path, NULL, NULL, 0, &err);
    if (rc != 0)
        fail_msg("load failed: %s", err.msg);
    assert_int_equal(c.threads, 3);
    assert_int_equal(c.max_body, 2 * 1048576);
    assert_int_equal(c.shutdown_timeout_s, 20);
    assert_int_equal(c.log_level, CN_LOG_WARN);
    assert_int_equal(c.synchronous_full, 1);
    assert_int_equal(c.request_timeout_ms, 10000); /* untouched key keeps its default */
    assert_string_equal(c.config_file, path);

    char *text = print_config(&c);
    assert_contains(text, "server.threads = 3  # file\n");
    assert_contains(text, "server.max_body = 2097152  # file\n");
    assert_contains(text, "store.synchronous = full  # file\n");
    assert_contains(text, "server.request_timeout_ms = 10000  # default\n");
    free(text);
    cn_config_free(&c);
    unlink(path);
    free(path);
}

static void test_env_overrides_file_and_flags_override_env(void **state)
{
    char *path = write_ini(precedence_ini);
    cn_config_t c;
    cn_err_t err;
    char *envp[] = {"CAIRN_THREADS=5", "CAIRN_LOG_LEVEL=error", "CAIRN_DATA=/srv/cairn", NULL};
    const char *const flags[] = {"server.threads", "7", "store.data", "/var/lib/cairn"};

    assert_int_equal(load(&c, path, envp, NULL, 0, &err), 0);
    assert_int_equal(c.threads, 5);
    assert_int_equal(c.log_level, CN_LOG_ERROR);
    assert_string_equal(c.data_dir, "/srv/cairn");
    assert_int_equal(c.max_body, 2 * 1048576); /* the file still wins over the default */
    cn_config_free(&c);

    assert_int_equal(load(&c, path, envp, flags, 2, &err), 0);
    assert_int_equal(c.threads, 7);
    assert_string_equal(c.data_dir, "/var/lib/cairn");
    assert_int_equal(c.log_level, CN_LOG_ERROR);
    assert_int_equal(c.shutdown_timeout_s, 20);

    char *text = print_config(&c);
    assert_contains(text, "server.threads = 7  # flag\n");
    assert_contains(text, "store.data = /var/lib/cairn  # flag\n");
    assert_contains(text, "log.level = error  # env\n");
    assert_contains(text, "server.shutdown_timeout_s = 20  # file\n");
    assert_contains(text, "server.idle_timeout_ms = 60000  # default\n");
    free(text);
    cn_config_free(&c);
    unlink(path);
    free(path);
}

static void test_flags_apply_in_order(void **state)
{
    cn_config_t c;
    cn_err_t err;
    const char *const flags[] = {"server.threads", "2", "server.threads", "4"};
    assert_int_equal(load(&c, NULL, NULL, flags, 2, &err), 0);
    assert_int_equal(c.threads, 4);
    cn_config_free(&c);
}

static void test_config_file_from_env(void **state)
{
    char *path = write_ini("[server]\nthreads = 9\n");
    char var[256];
    snprintf(var, sizeof(var), "CAIRN_CONFIG=%s", path);
    char *envp[] = {var, NULL};
    cn_config_t c;
    cn_err_t err;
    assert_int_equal(load(&c, NULL, envp, NULL, 0, &err), 0);
    assert_int_equal(c.threads, 9);
    assert_string_equal(c.config_file, path);
    cn_config_free(&c);
    unlink(path);
    free(path);
}

static void test_missing_or_broken_file(void **state)
{
    cn_config_t c;
    cn_err_t err;
    assert_int_equal(load(&c, "/nonexistent/cairn.ini", NULL, NULL, 0, &err), CN_EINVAL);
    assert_int_equal(err.code, CN_EINVAL);
    assert_contains(err.msg, "/nonexistent/cairn.ini");
    assert_contains(err.msg, "cannot open");
    cn_config_free(&c);

    char *path = write_ini("[server]\nthreads = 2\n[broken\n");
    assert_int_equal(load(&c, path, NULL, NULL, 0, &err), CN_EINVAL);
    assert_contains(err.msg, path);
    assert_contains(err.msg, "line 3");
    cn_config_free(&c);
    unlink(path);
    free(path);
}

/* ---- listen ---- */

static void test_listen_replaced_by_higher_source_appended_within_one(void **state)
{
    char *path = write_ini("[server]\nlisten = 0.0.0.0:80\nlisten = [::1]:81\n");
    cn_config_t c;
    cn_err_t err;

    /* the file replaces the default and its two lines accumulate */
    assert_int_equal(load(&c, path, NULL, NULL, 0, &err), 0);
    assert_listen(&c, 2, (const char *const[]){"0.0.0.0:80", "[::1]:81"});
    cn_config_free(&c);

    /* the environment replaces the file's list; one variable may hold several addresses */
    char *envp[] = {"CAIRN_LISTEN=10.0.0.1:1, 10.0.0.2:2", NULL};
    assert_int_equal(load(&c, path, envp, NULL, 0, &err), 0);
    assert_listen(&c, 2, (const char *const[]){"10.0.0.1:1", "10.0.0.2:2"});
    cn_config_free(&c);

    /* flags replace the environment's list, and repeated flags accumulate */
    const char *const flags[] = {"server.listen", "a.example:3", "server.listen", "b.example:4"};
    assert_int_equal(load(&c, path, envp, flags, 2, &err), 0);
    assert_listen(&c, 2, (const char *const[]){"a.example:3", "b.example:4"});
    char *text = print_config(&c);
    assert_contains(text, "server.listen = a.example:3,b.example:4  # flag\n");
    free(text);
    cn_config_free(&c);

    assert_int_equal(load(&c, path, envp, flags, 1, &err), 0);
    assert_listen(&c, 1, (const char *const[]){"a.example:3"});
    cn_config_free(&c);
    unlink(path);
    free(path);
}

static void test_listen_values(void **state)
{
    static const char *const good[] = {"127.0.0.1:0", "localhost:65535", "[::]:8080",
                                       "[::1]:443",   "0.0.0.0:80",      "my-host.example.com:1"};
    static const char *const bad[] = {
        "nohost",       ":8080",         "host:",        "host:65536",   "host:-1",
        "host:80x",     "[::1:80",       "[]:80",        "999.1.1.1:80", "10.0.0.256:1",
        "bad_host!:80", "-x.example:80", "[1.2.3.4]:80", "a..b:80"};
    for (size_t i = 0; i < CN_ARRAY_SIZE(good); i++) {
        cn_config_t c;
        cn_err_t err = {0};
        cn_config_defaults(&c);
        if (cn_config_set(&c, "server.listen", good[i], CN_SRC_FLAG, &err) != 0)
            fail_msg("listen \"%s\" rejected: %s", good[i], err.msg);
        assert_listen(&c, 1, &good[i]);
        cn_config_free(&c);
    }
    for (size_t i = 0; i < CN_ARRAY_SIZE(bad); i++) {
        cn_config_t c;
        cn_err_t err = {0};
        cn_config_defaults(&c);
        if (cn_config_set(&c, "server.listen", bad[i], CN_SRC_FLAG, &err) != CN_EINVAL)
            fail_msg("listen \"%s\" accepted", bad[i]);
        assert_contains(err.msg, "server.listen: ");
        assert_contains(err.msg, bad[i]); /* the message names the value */
        cn_config_free(&c);
    }
}

static void test_empty_listen_rejected(void **state)
{
    /* a value with no address would leave the server listening nowhere */
    static const char *const empty[] = {"", " ", ",", ", ,"};
    for (size_t i = 0; i < CN_ARRAY_SIZE(empty); i++) {
        cn_config_t c;
        cn_err_t err = {0};
        cn_config_defaults(&c);
        int rc = cn_config_set(&c, "server.listen", empty[i], CN_SRC_ENV, &err);
        size_t n = c.n_listen;
        cn_config_free(&c);
        if (rc != CN_EINVAL)
            fail_msg("listen \"%s\" accepted, leaving %zu addresses", empty[i], n);
    }
}

static void test_listen_limit(void **state)
{
    cn_config_t c;
    cn_err_t err = {0};
    cn_config_defaults(&c);
    char list[256] = "";
    for (int i = 0; i < CN_MAX_LISTEN; i++)
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%sh:%d", i ? "," : "", i);
    assert_int_equal(cn_config_set(&c, "server.listen", list, CN_SRC_FLAG, &err), 0);
    assert_int_equal(c.n_listen, CN_MAX_LISTEN);
    assert_int_equal(cn_config_set(&c, "server.listen", "h:99", CN_SRC_FLAG, &err), CN_EINVAL);
    assert_contains(err.msg, "at most");
    assert_int_equal(c.n_listen, CN_MAX_LISTEN);
    cn_config_free(&c);
}

/* ---- values ---- */

static void test_bad_values_name_key_and_allowed_values(void **state)
{
    static const struct {
        const char *key, *value, *message;
    } cases[] = {
        {"log.level", "verbose", "log.level: must be one of debug, info, warn, error"},
        {"log.level", "INFO", "log.level: must be one of debug, info, warn, error"},
        {"store.synchronous", "extra", "store.synchronous: must be one of normal, full"},
        {"server.threads", "300", "server.threads: must be an integer from 0 to 256"},
        {"server.threads", "-1", "server.threads: must be an integer from 0 to 256"},
        {"server.threads", "abc", "server.threads: must be an integer"},
        {"server.threads", "3x", "server.threads: must be an integer"},
        {"server.threads", "", "server.threads: must be an integer"},
        {"server.threads", "99999999999999999999", "server.threads: must be an integer"},
        {"server.request_timeout_ms", "99",
         "server.request_timeout_ms: must be an integer from "
         "100 to 600000"},
        {"store.auto_migrate", "maybe", "store.auto_migrate: must be true or false"},
        {"log.access", "", "log.access: must be true or false"},
        {"server.max_body", "1T", "server.max_body: must be a size in bytes"},
    };
    for (size_t i = 0; i < CN_ARRAY_SIZE(cases); i++) {
        cn_config_t c;
        cn_err_t err = {0};
        cn_config_defaults(&c);
        int rc = cn_config_set(&c, cases[i].key, cases[i].value, CN_SRC_FLAG, &err);
        if (rc != CN_EINVAL)
            fail_msg("%s = \"%s\" accepted", cases[i].key, cases[i].value);
        assert_int_equal(err.code, CN_EINVAL);
        assert_contains(err.msg, cases[i].message);
        /* and the rejected value, quoted */
        char quoted[64];
        snprintf(quoted, sizeof(quoted), "(got \"%s\")", cases[i].value);
        assert_contains(err.msg, quoted);
        /* nothing changed */
        assert_int_equal(c.threads, 0);
        assert_int_equal(c.log_level, CN_LOG_INFO);
        assert_int_equal(c.auto_migrate, 1);
        cn_config_free(&c);
    }
}

static void test_bad_value_from_env_and_file_names_the_source(void **state)
{
    cn_config_t c;
    cn_err_t err;
    char *envp[] = {"CAIRN_LOG_LEVEL=loud", NULL};
    assert_int_equal(load(&c, NULL, envp, NULL, 0, &err), CN_EINVAL);
    assert_contains(err.msg, "log.level: must be one of debug, info, warn, error");
    assert_contains(err.msg, "CAIRN_LOG_LEVEL");
    cn_config_free(&c);

    char *path = write_ini("[server]\nthreads = lots\n");
    assert_int_equal(load(&c, path, NULL, NULL, 0, &err), CN_EINVAL);
    assert_contains(err.msg, path);
    assert_contains(err.msg, "server.threads: must be an integer from 0 to 256");
    cn_config_free(&c);
    unlink(path);
    free(path);

    const char *const flags[] = {"log.level", "chatty"};
    assert_int_equal(load(&c, NULL, NULL, flags, 1, &err), CN_EINVAL);
    assert_contains(err.msg, "log.level: must be one of debug, info, warn, error");
    cn_config_free(&c);
}

static void test_unknown_keys(void **state)
{
    char *path = write_ini("[server]\nthreads = 2\nbogus = 1\n");
    cn_config_t c;
    cn_err_t err;
    assert_int_equal(load(&c, path, NULL, NULL, 0, &err), CN_EINVAL);
    assert_contains(err.msg, path);
    assert_contains(err.msg, "server.bogus");
    cn_config_free(&c);
    unlink(path);
    free(path);

    /* a key outside any section is unknown too */
    path = write_ini("threads = 2\n");
    assert_int_equal(load(&c, path, NULL, NULL, 0, &err), CN_EINVAL);
    cn_config_free(&c);
    unlink(path);
    free(path);

    const char *const flags[] = {"server.nope", "1"};
    assert_int_equal(load(&c, NULL, NULL, flags, 1, &err), CN_EINVAL);
    assert_contains(err.msg, "server.nope");
    cn_config_free(&c);

    /* unknown CAIRN_* variables are ignored: the environment is shared with other tools */
    char *envp[] = {"CAIRN_SOMETHING_ELSE=1", "CAIRN_THREADSX=4", NULL};
    assert_int_equal(load(&c, NULL, envp, NULL, 0, &err), 0);
    assert_int_equal(c.threads, 0);
    cn_config_free(&c);
}

static void test_size_suffixes(void **state)
{
    static const struct {
        const char *text;
        int64_t value;
    } good[] = {
        {"1M", 1048576},    {"1m", 1048576}, {"64K", 65536}, {"64k", 65536},   {"1G", 1073741824},
        {"1g", 1073741824}, {"2048", 2048},  {"1024", 1024}, {"512K", 524288}, {"1K", 1024},
    };
    static const char *const bad[] = {"2G", "1000", "1MB", "1T",  "1.5M",
                                      "M",  "-1M",  " 1M", "1 M", ""};
    for (size_t i = 0; i < CN_ARRAY_SIZE(good); i++) {
        cn_config_t c;
        cn_err_t err = {0};
        cn_config_defaults(&c);
        if (cn_config_set(&c, "server.max_body", good[i].text, CN_SRC_FILE, &err) != 0)
            fail_msg("max_body \"%s\" rejected: %s", good[i].text, err.msg);
        assert_int_equal(c.max_body, good[i].value);
        cn_config_free(&c);
    }
    for (size_t i = 0; i < CN_ARRAY_SIZE(bad); i++) {
        cn_config_t c;
        cn_err_t err = {0};
        cn_config_defaults(&c);
        if (cn_config_set(&c, "server.max_body", bad[i], CN_SRC_FILE, &err) != CN_EINVAL)
            fail_msg("max_body \"%s\" accepted (%lld)", bad[i], (long long)c.max_body);
        assert_contains(err.msg, "server.max_body: must be a size in bytes");
        assert_int_equal(c.max_body, 1048576);
        cn_config_free(&c);
    }
}

static void test_bool_spellings(void **state)
{
    static const char *const yes[] = {"true", "1", "yes", "on", "TRUE", "Yes", "ON"};
    static const char *const no[] = {"false", "0", "no", "off", "FALSE", "No", "Off"};
    static const char *const bad[] = {"2", "y", "n", "enabled", "truee", " true"};
    cn_config_t c;
    cn_err_t err = {0};
    cn_config_defaults(&c);
    for (size_t i = 0; i < CN_ARRAY_SIZE(no); i++) {
        c.access_log = 1;
        assert_int_equal(cn_config_set(&c, "log.access", no[i], CN_SRC_ENV, &err), 0);
        assert_int_equal(c.access_log, 0);
    }
    for (size_t i = 0; i < CN_ARRAY_SIZE(yes); i++) {
        c.access_log = 0;
        assert_int_equal(cn_config_set(&c, "log.access", yes[i], CN_SRC_ENV, &err), 0);
        assert_int_equal(c.access_log, 1);
    }
    for (size_t i = 0; i < CN_ARRAY_SIZE(bad); i++)
        if (cn_config_set(&c, "log.access", bad[i], CN_SRC_ENV, &err) != CN_EINVAL)
            fail_msg("bool \"%s\" accepted", bad[i]);
    cn_config_free(&c);
}

static void test_enum_values_map_to_indexes(void **state)
{
    static const char *const levels[] = {"debug", "info", "warn", "error"};
    cn_config_t c;
    cn_err_t err = {0};
    cn_config_defaults(&c);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(cn_config_set(&c, "log.level", levels[i], CN_SRC_FLAG, &err), 0);
        assert_int_equal(c.log_level, i);
    }
    assert_int_equal(cn_config_set(&c, "store.synchronous", "full", CN_SRC_FLAG, &err), 0);
    assert_int_equal(c.synchronous_full, 1);
    assert_int_equal(cn_config_set(&c, "store.synchronous", "normal", CN_SRC_FLAG, &err), 0);
    assert_int_equal(c.synchronous_full, 0);
    cn_config_free(&c);
}

/* ---- validation ---- */

static void test_tls_cert_needs_key(void **state)
{
    cn_config_t c;
    cn_err_t err = {0};
    cn_config_defaults(&c);
    assert_int_equal(cn_config_set(&c, "server.tls_cert", "/dev/null", CN_SRC_FLAG, &err), 0);
    assert_int_equal(cn_config_validate(&c, &err), CN_EINVAL);
    assert_int_equal(err.code, CN_EINVAL);
    assert_contains(err.msg, "server.tls_cert");
    assert_contains(err.msg, "server.tls_key");

    /* both set: the files must be readable (loading them is the server's job) */
    assert_int_equal(cn_config_set(&c, "server.tls_key", "/nonexistent/key.pem", CN_SRC_FLAG, &err),
                     0);
    assert_int_equal(cn_config_validate(&c, &err), CN_EINVAL);
    assert_contains(err.msg, "server.tls_key: cannot read \"/nonexistent/key.pem\"");
    assert_int_equal(cn_config_set(&c, "server.tls_key", "/dev/null", CN_SRC_FLAG, &err), 0);
    assert_int_equal(cn_config_validate(&c, &err), 0);

    assert_int_equal(cn_config_set(&c, "server.tls_cert", "", CN_SRC_FLAG, &err), 0);
    assert_int_equal(cn_config_validate(&c, &err), CN_EINVAL); /* key without cert */
    cn_config_free(&c);

    /* load runs the same check */
    const char *const flags[] = {"server.tls_cert", "/etc/cert.pem"};
    assert_int_equal(load(&c, NULL, NULL, flags, 1, &err), CN_EINVAL);
    assert_contains(err.msg, "server.tls_key");
    cn_config_free(&c);
}

static void test_empty_data_dir_invalid(void **state)
{
    cn_config_t c;
    cn_err_t err = {0};
    const char *const flags[] = {"store.data", ""};
    assert_int_equal(load(&c, NULL, NULL, flags, 1, &err), CN_EINVAL);
    assert_contains(err.msg, "store.data");
    cn_config_free(&c);
}

/* ---- the engines: store.url, cluster.nats_url, cluster.nodes ---- */

static void test_engine_keys_default_to_one_sqlite_node(void **state)
{
    cn_config_t c;
    cn_err_t err;
    assert_int_equal(load(&c, NULL, NULL, NULL, 0, &err), 0);
    assert_string_equal(c.store_url, "");
    assert_string_equal(c.nats_url, "");
    assert_int_equal(c.cluster_nodes, 1);
    char *text = print_config(&c);
    assert_contains(text, "store.url =   # default\n");
    assert_contains(text, "cluster.nats_url =   # default\n");
    assert_contains(text, "cluster.nodes = 1  # default\n");
    free(text);
    cn_config_free(&c);
}

static void test_store_url_sources_and_forms(void **state)
{
    cn_config_t c;
    cn_err_t err;
    char *ini = write_ini("[store]\nurl = sqlite:\n");
    assert_int_equal(load(&c, ini, NULL, NULL, 0, &err), 0);
    assert_string_equal(c.store_url, "sqlite:");
    assert_int_equal(cn_store_engine(c.store_url), CN_ENGINE_SQLITE);
    cn_config_free(&c);

    char *envp[] = {"CAIRN_DATABASE_URL=postgresql://cairn@db.example.com/cairn", NULL};
    assert_int_equal(load(&c, ini, envp, NULL, 0, &err), 0);
    assert_int_equal(cn_store_engine(c.store_url), CN_ENGINE_POSTGRES);
    char *text = print_config(&c);
    assert_contains(text, "store.url = postgresql://cairn@db.example.com/cairn  # env\n");
    free(text);
    cn_config_free(&c);

    /* --database maps to store.url and wins over the environment */
    assert_string_equal(cn_config_key_for_flag(cn_apps, "--database"), "store.url");
    const char *flags[] = {"store.url", "postgres:///cairn?host=/var/run/postgresql"};
    assert_int_equal(load(&c, ini, envp, flags, 1, &err), 0);
    assert_string_equal(c.store_url, "postgres:///cairn?host=/var/run/postgresql");
    text = print_config(&c);
    assert_contains(text, "store.url = postgres:///cairn?host=/var/run/postgresql  # flag\n");
    free(text);
    cn_config_free(&c);
    unlink(ini);
    free(ini);
}

static void test_store_url_refusals_name_the_key_not_the_password(void **state)
{
    static const struct {
        const char *env, *message;
    } bad[] = {
        {"CAIRN_DATABASE_URL=sqlite:/srv/cairn.db", "store.url: sqlite: takes no path"},
        {"CAIRN_DATABASE_URL=sqlite://x", "write sqlite: alone or leave store.url empty"},
        {"CAIRN_DATABASE_URL=SQLITE:", "store.url: must be empty or sqlite:"},
        {"CAIRN_DATABASE_URL=mysql://root:hunter2@db/x",
         "store.url: must be empty or sqlite: (SQLite in store.data), or a postgres:// or "
         "postgresql:// URL (got \"mysql://root:***@db/x\")"},
        {"CAIRN_DATABASE_URL=postgres:///cairn", "store.url: name the PostgreSQL server"},
        {"CAIRN_DATABASE_URL=postgres://u:hunter2@/cairn", "store.url: name the PostgreSQL"},
        {"CAIRN_DATABASE_URL=postgres://u:hunter2@db/x?bogus=1",
         "store.url: not a PostgreSQL URL libpq accepts: write it as"},
        {"CAIRN_DATABASE_URL=postgres://u:hunter2@[::1/x", "store.url: not a PostgreSQL URL"},
    };
    for (size_t i = 0; i < CN_ARRAY_SIZE(bad); i++) {
        cn_config_t c;
        cn_err_t err;
        char *envp[] = {(char *)bad[i].env, NULL};
        assert_int_equal(load(&c, NULL, envp, NULL, 0, &err), CN_EINVAL);
        assert_contains(err.msg, bad[i].message);
        if (strstr(err.msg, "hunter2") != NULL)
            fail_msg("the password leaked: %s", err.msg);
        cn_config_free(&c);
    }
}

static void test_nats_url_shapes(void **state)
{
    static const char *const good[] = {
        "CAIRN_NATS_URL=nats://127.0.0.1:4222",
        "CAIRN_NATS_URL=nats://a.example.com:4222,nats://b.example.com:4223",
        "CAIRN_NATS_URL=nats://[::1]:4222, nats://u:p@h:1",
    };
    for (size_t i = 0; i < CN_ARRAY_SIZE(good); i++) {
        cn_config_t c;
        cn_err_t err;
        char *envp[] = {(char *)good[i], NULL};
        if (load(&c, NULL, envp, NULL, 0, &err) != 0)
            fail_msg("%s: %s", good[i], err.msg);
        cn_config_free(&c);
    }
    static const char *const bad[] = {
        "CAIRN_NATS_URL=127.0.0.1:4222",
        "CAIRN_NATS_URL=nats://127.0.0.1",
        "CAIRN_NATS_URL=nats://h:0",
        "CAIRN_NATS_URL=nats://h:99999",
        "CAIRN_NATS_URL=nats://h:4222/x",
        "CAIRN_NATS_URL=tls://h:4222",
        "CAIRN_NATS_URL=nats://h:4222,http://h:80",
        "CAIRN_NATS_URL=nats://u:hunter2@:4222",
    };
    for (size_t i = 0; i < CN_ARRAY_SIZE(bad); i++) {
        cn_config_t c;
        cn_err_t err;
        char *envp[] = {(char *)bad[i], NULL};
        if (load(&c, NULL, envp, NULL, 0, &err) != CN_EINVAL)
            fail_msg("%s was accepted", bad[i]);
        assert_contains(err.msg, "cluster.nats_url: each server must be nats://HOST:PORT");
        assert_null(strstr(err.msg, "hunter2"));
        cn_config_free(&c);
    }
}

static void test_nodes_need_postgres_and_nats(void **state)
{
    cn_config_t c;
    cn_err_t err;
    char *sqlite[] = {"CAIRN_CLUSTER_NODES=3", NULL};
    assert_int_equal(load(&c, NULL, sqlite, NULL, 0, &err), CN_EINVAL);
    assert_contains(err.msg, "cluster.nodes: 3 nodes cannot share SQLite");
    assert_contains(err.msg, "set store.url to a postgres:// URL");
    cn_config_free(&c);

    char *no_bus[] = {"CAIRN_CLUSTER_NODES=2", "CAIRN_DATABASE_URL=postgres://db/cairn", NULL};
    assert_int_equal(load(&c, NULL, no_bus, NULL, 0, &err), CN_EINVAL);
    assert_contains(err.msg, "cluster.nodes: 2 nodes on PostgreSQL need cluster.nats_url");
    cn_config_free(&c);

    char *full[] = {"CAIRN_CLUSTER_NODES=3", "CAIRN_DATABASE_URL=postgres://db/cairn",
                    "CAIRN_NATS_URL=nats://127.0.0.1:4222", NULL};
    assert_int_equal(load(&c, NULL, full, NULL, 0, &err), 0);
    assert_int_equal(c.cluster_nodes, 3);
    cn_config_free(&c);

    /* one node needs neither; zero nodes is no value */
    char *one[] = {"CAIRN_CLUSTER_NODES=1", "CAIRN_DATABASE_URL=postgres://db/cairn", NULL};
    assert_int_equal(load(&c, NULL, one, NULL, 0, &err), 0);
    cn_config_free(&c);
    char *zero[] = {"CAIRN_CLUSTER_NODES=0", NULL};
    assert_int_equal(load(&c, NULL, zero, NULL, 0, &err), CN_EINVAL);
    assert_contains(err.msg, "cluster.nodes: must be an integer from 1 to 1000");
    cn_config_free(&c);

    /* cluster.name prefixes NATS subjects: a word, not a subject of its own */
    assert_int_equal(load(&c, NULL, one, NULL, 0, &err), 0);
    assert_string_equal(c.cluster_name, "cairn");
    cn_config_free(&c);
    char *named[] = {"CAIRN_CLUSTER_NAME=staging-2", NULL};
    assert_int_equal(load(&c, NULL, named, NULL, 0, &err), 0);
    assert_string_equal(c.cluster_name, "staging-2");
    cn_config_free(&c);
    const char *bad_names[] = {"CAIRN_CLUSTER_NAME=", "CAIRN_CLUSTER_NAME=a.b",
                               "CAIRN_CLUSTER_NAME=a>", "CAIRN_CLUSTER_NAME=prod*",
                               "CAIRN_CLUSTER_NAME=abcdefghijklmnopqrstuvwxyz0123456"};
    for (size_t i = 0; i < CN_ARRAY_SIZE(bad_names); i++) {
        char *env[] = {(char *)bad_names[i], NULL};
        assert_int_equal(load(&c, NULL, env, NULL, 0, &err), CN_EINVAL);
        assert_contains(err.msg, "cluster.name: 1 to 32 letters, digits, _ or -");
        cn_config_free(&c);
    }
}

static void test_print_redacts_url_passwords(void **state)
{
    cn_config_t c;
    cn_err_t err;
    char *envp[] = {"CAIRN_DATABASE_URL=postgres://cairn:hunter2@127.0.0.1:5432/"
                    "cairn?sslpassword=hunter3&application_name=x",
                    "CAIRN_NATS_URL=nats://n:hunter4@127.0.0.1:4222,nats://hunter5@h:4222", NULL};
    assert_int_equal(load(&c, NULL, envp, NULL, 0, &err), 0);
    char *text = print_config(&c);
    assert_contains(text, "store.url = postgres://cairn:***@127.0.0.1:5432/"
                          "cairn?sslpassword=***&application_name=x  # env\n");
    assert_contains(text, "cluster.nats_url = nats://n:***@127.0.0.1:4222,nats://***@h:4222"
                          "  # env\n");
    if (strstr(text, "hunter") != NULL)
        fail_msg("a password leaked:\n%s", text);
    free(text);
    cn_config_free(&c);
}

static void test_store_open_names_what_fails(void **state)
{
    cn_store_t *s = NULL;
    cn_err_t err = {0};
    /* nothing listens on port 1: the PostgreSQL driver says so without the password */
    cn_store_opts_t opts = {.url = "postgres://u:hunter2@127.0.0.1:1/cairn",
                            .data_dir = "/nonexistent/cairn-unit-engine"};
    assert_int_equal(cn_store_open(&opts, &s, &err), CN_EBUSY);
    assert_null(s);
    assert_contains(err.msg, "cannot connect to PostgreSQL");
    assert_null(strstr(err.msg, "hunter2"));
    opts.url = "mysql://u:hunter2@h/x";
    assert_int_equal(cn_store_open(&opts, &s, &err), CN_EINVAL);
    assert_contains(err.msg, "store.url");
    assert_null(strstr(err.msg, "hunter2"));
    assert_int_equal(cn_store_driver_check("postgresql://h/x", &err), 0);
    assert_int_equal(cn_store_driver_check("", &err), 0);
    assert_int_equal(cn_store_driver_check(NULL, &err), 0);
    assert_int_equal(cn_store_driver_check("sqlite:", &err), 0);
    assert_int_equal(cn_store_driver_check("sqlite:x", &err), CN_EINVAL);
    assert_int_equal(cn_store_driver_check("redis://h", &err), CN_EINVAL);
}

/* ---- printing, flags, threads ---- */

static void test_print_redacts_secret(void **state)
{
    cn_config_t c;
    cn_err_t err;
    char *envp[] = {"CAIRN_BOOTSTRAP_TOKEN=s3cr3t-bootstrap-value", NULL};
    assert_int_equal(load(&c, NULL, envp, NULL, 0, &err), 0);
    assert_string_equal(c.bootstrap_token, "s3cr3t-bootstrap-value");

    char *text = print_config(&c);
    assert_contains(text, "auth.bootstrap_token = <redacted>  # env\n");
    if (strstr(text, "s3cr3t") != NULL)
        fail_msg("the secret leaked:\n%s", text);
    free(text);
    cn_config_free(&c);

    /* unset: nothing to redact, and no fake value either */
    cn_config_defaults(&c);
    text = print_config(&c);
    assert_contains(text, "auth.bootstrap_token =   # default\n");
    free(text);
    cn_config_free(&c);
}

/* The first word of each printed line: a key, or a "# group" header line as it is. */
static size_t printed_items(char *text, const char **items, size_t cap)
{
    size_t n = 0;
    for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        if (n == cap)
            fail_msg("more than %zu lines", cap);
        if (line[0] != '#')
            line[strcspn(line, " ")] = '\0';
        items[n++] = line;
    }
    return n;
}

static void test_print_lists_every_key_once_by_module(void **state)
{
    static const char *const want[] = {
        "# kernel",
        "server.listen",
        "server.threads",
        "server.workers",
        "server.max_body",
        "server.request_timeout_ms",
        "server.idle_timeout_ms",
        "server.shutdown_timeout_s",
        "server.cors_origins",
        "server.trusted_proxies",
        "server.tls_cert",
        "server.tls_key",
        "store.data",
        "store.url",
        "store.synchronous",
        "store.busy_timeout_ms",
        "store.cache_size",
        "store.write_cache_size",
        "store.auto_migrate",
        "cluster.nodes",
        "cluster.nats_url",
        "cluster.name",
        "log.level",
        "log.access",
        "auth.bootstrap_token",
        "limits.ip_per_min",
        "limits.user_per_min",
        "limits.auth_per_min",
        "cache.max_bytes",
        "cache.ttl_ms",
        "jobs.workers",
        "jobs.lease_ms",
        "jobs.max_attempts",
        "jobs.backoff_ms",
        "jobs.backoff_max_ms",
        "jobs.poll_ms",
        "jobs.retention_s",
        "mail.smtp_url",
        "mail.from",
        "realtime.history_count",
        "realtime.history_age_s",
        "realtime.max_queue_bytes",
        "realtime.max_message_bytes",
        "realtime.max_subscriptions",
        "realtime.heartbeat_s",
        "realtime.max_connections",
        "realtime.max_per_tenant",
        "realtime.max_per_principal",
        "realtime.max_unauthenticated_per_ip",
        "realtime.max_queued_bytes_total",
        "# module auth",
        "auth.secrets_key_file",
        "auth.allow_unusable_secrets",
        "auth.lockout_attempts",
        "auth.lockout_window_s",
        "auth.lockout_max_s",
        "auth.lockout_account_attempts",
        "auth.reset_url",
        "auth.reset_ttl_s",
        "auth.register_url",
        "auth.register_ttl_s",
        "auth.register_mail_interval_s",
        "auth.access_ttl_s",
        "# module insights",
        "insights.geoip_db",
        "insights.pattern_delay_s",
    };
    cn_config_t c;
    cn_err_t err;
    assert_int_equal(load(&c, NULL, NULL, NULL, 0, &err), 0);
    char *printed = print_config(&c);
    const char *items[128];
    size_t n = printed_items(printed, items, CN_ARRAY_SIZE(items));
    for (size_t i = 0; i < n && i < CN_ARRAY_SIZE(want); i++)
        if (strcmp(items[i], want[i]) != 0)
            fail_msg("line %zu is \"%s\", want \"%s\"", i + 1, items[i], want[i]);
    assert_int_equal(n, CN_ARRAY_SIZE(want));
    free(printed);
    cn_config_free(&c);

    /* without modules, only the kernel's keys */
    cn_config_defaults(&c);
    printed = print_config(&c);
    n = printed_items(printed, items, CN_ARRAY_SIZE(items));
    assert_string_equal(items[n - 1], "realtime.max_queued_bytes_total");
    free(printed);
    cn_config_free(&c);
}

/* ---- keys declared by a module ---- */

static const char *const demo_modes[] = {"slow", "fast", NULL};
static const char *const demo_schemes[] = {"https://", NULL};

/* A module of this file's own: one key of each type, filling its own struct. */
static struct {
    int count;
    int64_t budget;
    int enabled;
    int mode;
    char *name, *hook_url, *token, *map_file;
} demo;

static const cn_setting_t demo_settings[] = {
    {"demo.count", "CAIRN_DEMO_COUNT", "--demo-count", CN_SET_INT, "3", 1, 10, .slot = &demo.count,
     .help = "a count"},
    {"demo.budget", "CAIRN_DEMO_BUDGET", NULL, CN_SET_SIZE, "1K", 0, 1LL << 20,
     .slot = &demo.budget, .help = "a size"},
    {"demo.enabled", "CAIRN_DEMO_ENABLED", NULL, CN_SET_BOOL, "false", .slot = &demo.enabled,
     .help = "a switch"},
    {"demo.mode", "CAIRN_DEMO_MODE", NULL, CN_SET_ENUM, "slow", .allowed = demo_modes,
     .slot = &demo.mode, .help = "a choice"},
    {"demo.name", "CAIRN_DEMO_NAME", NULL, CN_SET_STRING, "demo", .slot = &demo.name,
     .help = "a | name"},
    {"demo.hook_url", "CAIRN_DEMO_HOOK_URL", NULL, CN_SET_STRING, "", .allowed = demo_schemes,
     .slot = &demo.hook_url, .check = CN_CHECK_URL, .help = "a URL"},
    {"demo.token", "CAIRN_DEMO_TOKEN", NULL, CN_SET_SECRET, "", .allowed = demo_schemes,
     .slot = &demo.token, .check = CN_CHECK_URL, .help = "a secret URL"},
    {"demo.map_file", "CAIRN_DEMO_MAP_FILE", NULL, CN_SET_STRING, "", .slot = &demo.map_file,
     .check = CN_CHECK_FILE, .data_file = "demo.map", .help = "a file"},
    {NULL},
};

static const cn_app_t demo_app = {.name = "demo", .settings = demo_settings};
static const cn_app_t empty_app = {.name = "empty"}; /* no settings: no group */
static const cn_app_t *const demo_modules[] = {&empty_app, &demo_app, NULL};

static void test_module_keys_defaults_and_precedence(void **state)
{
    cn_config_t c;
    cn_err_t err;
    assert_int_equal(load_modules(&c, demo_modules, NULL, NULL, NULL, 0, &err), 0);
    assert_int_equal(demo.count, 3);
    assert_int_equal(demo.budget, 1024);
    assert_int_equal(demo.enabled, 0);
    assert_int_equal(demo.mode, 0);
    assert_string_equal(demo.name, "demo");
    assert_string_equal(demo.hook_url, "");
    cn_config_free(&c);
    assert_null(demo.name); /* freed with the configuration */

    char *path = write_ini("[demo]\ncount = 4\nbudget = 2K\nmode = fast\nname = from-file\n"
                           "[server]\nthreads = 2\n");
    char *envp[] = {"CAIRN_DEMO_COUNT=5", "CAIRN_DEMO_ENABLED=yes", NULL};
    const char *const flags[] = {"demo.count", "6", "demo.name", "from-flag"};
    assert_int_equal(load_modules(&c, demo_modules, path, envp, NULL, 0, &err), 0);
    assert_int_equal(demo.count, 5); /* env over file */
    assert_int_equal(demo.budget, 2048);
    assert_int_equal(demo.enabled, 1);
    assert_int_equal(demo.mode, 1);
    assert_string_equal(demo.name, "from-file");
    assert_int_equal(c.threads, 2); /* the kernel's keys in the same file */
    cn_config_free(&c);

    assert_int_equal(load_modules(&c, demo_modules, path, envp, flags, 2, &err), 0);
    assert_int_equal(demo.count, 6); /* flag over env */
    assert_string_equal(demo.name, "from-flag");
    char *text = print_config(&c);
    assert_contains(text, "\n# module demo\ndemo.count = 6  # flag\n");
    assert_contains(text, "demo.budget = 2048  # file\n");
    assert_contains(text, "demo.enabled = true  # env\n");
    assert_contains(text, "demo.mode = fast  # file\n");
    assert_contains(text, "demo.hook_url =   # default\n");
    assert_null(strstr(text, "# module empty"));
    free(text);
    /* cn_config_set reaches the module's keys too (serve --allow-unusable-secrets) */
    assert_int_equal(cn_config_set(&c, "demo.mode", "slow", CN_SRC_FLAG, &err), 0);
    assert_int_equal(demo.mode, 0);
    assert_string_equal(cn_config_key_for_flag(demo_modules, "--demo-count"), "demo.count");
    assert_null(cn_config_key_for_flag(NULL, "--demo-count"));
    cn_config_free(&c);
    unlink(path);
    free(path);
}

static void test_module_bad_values_name_the_key(void **state)
{
    static const struct {
        const char *key, *value, *message;
    } cases[] = {
        {"demo.count", "11", "demo.count: must be an integer from 1 to 10 (got \"11\")"},
        {"demo.count", "x", "demo.count: must be an integer from 1 to 10 (got \"x\")"},
        {"demo.budget", "2M",
         "demo.budget: must be a size in bytes (K/M/G suffix allowed) from 0"
         " to 1048576 (got \"2M\")"},
        {"demo.enabled", "maybe", "demo.enabled: must be true or false (got \"maybe\")"},
        {"demo.mode", "medium", "demo.mode: must be one of slow, fast (got \"medium\")"},
    };
    for (size_t i = 0; i < CN_ARRAY_SIZE(cases); i++) {
        cn_config_t c;
        cn_err_t err;
        assert_int_equal(load_modules(&c, demo_modules, NULL, NULL, NULL, 0, &err), 0);
        assert_int_equal(cn_config_set(&c, cases[i].key, cases[i].value, CN_SRC_FLAG, &err),
                         CN_EINVAL);
        assert_contains(err.msg, cases[i].message);
        assert_int_equal(demo.count, 3); /* nothing changed */
        assert_int_equal(demo.mode, 0);
        cn_config_free(&c);
    }

    /* from the environment and the file, the source is named as for the kernel's keys */
    cn_config_t c;
    cn_err_t err;
    char *envp[] = {"CAIRN_DEMO_COUNT=0", NULL};
    assert_int_equal(load_modules(&c, demo_modules, NULL, envp, NULL, 0, &err), CN_EINVAL);
    assert_contains(err.msg, "demo.count: must be an integer from 1 to 10 (got \"0\") (from "
                             "CAIRN_DEMO_COUNT)");
    cn_config_free(&c);
    char *path = write_ini("[demo]\nmode = loud\n");
    assert_int_equal(load_modules(&c, demo_modules, path, NULL, NULL, 0, &err), CN_EINVAL);
    assert_contains(err.msg, path);
    assert_contains(err.msg, "demo.mode: must be one of slow, fast (got \"loud\")");
    cn_config_free(&c);
    unlink(path);
    free(path);

    /* a real module's key, with the real module list */
    char *lockout[] = {"CAIRN_LOCKOUT_ATTEMPTS=0", NULL};
    assert_int_equal(load(&c, NULL, lockout, NULL, 0, &err), CN_EINVAL);
    assert_contains(err.msg, "auth.lockout_attempts: must be an integer from 1 to 1000 (got "
                             "\"0\") (from CAIRN_LOCKOUT_ATTEMPTS)");
    cn_config_free(&c);
}

static void test_module_unknown_keys(void **state)
{
    cn_config_t c;
    cn_err_t err;
    char *path = write_ini("[demo]\ncount = 2\ncolour = red\n");
    assert_int_equal(load_modules(&c, demo_modules, path, NULL, NULL, 0, &err), CN_EINVAL);
    assert_contains(err.msg, path);
    assert_contains(err.msg, "unknown configuration key \"demo.colour\"");
    cn_config_free(&c);
    unlink(path);
    free(path);

    /* a module's key is unknown where the module is not loaded */
    path = write_ini("[demo]\ncount = 2\n");
    assert_int_equal(load_modules(&c, NULL, path, NULL, NULL, 0, &err), CN_EINVAL);
    assert_contains(err.msg, "unknown configuration key \"demo.count\"");
    cn_config_free(&c);
    assert_int_equal(load(&c, path, NULL, NULL, 0, &err), CN_EINVAL);
    cn_config_free(&c);
    unlink(path);
    free(path);
    cn_config_defaults(&c);
    assert_int_equal(cn_config_set(&c, "insights.pattern_delay_s", "5", CN_SRC_FLAG, &err),
                     CN_EINVAL);
    cn_config_free(&c);
}

static void test_module_checks_urls_and_files(void **state)
{
    cn_config_t c;
    cn_err_t err;
    char *url[] = {"CAIRN_DEMO_HOOK_URL=http://hooks.example.com/x", NULL};
    assert_int_equal(load_modules(&c, demo_modules, NULL, url, NULL, 0, &err), CN_EINVAL);
    assert_contains(err.msg, "demo.hook_url: must be an https:// URL (got "
                             "\"http://hooks.example.com/x\")");
    cn_config_free(&c);

    /* a secret is not repeated */
    char *token[] = {"CAIRN_DEMO_TOKEN=hunter2", NULL};
    assert_int_equal(load_modules(&c, demo_modules, NULL, token, NULL, 0, &err), CN_EINVAL);
    assert_contains(err.msg, "demo.token: must start with https:// and name a host");
    assert_null(strstr(err.msg, "hunter2"));
    cn_config_free(&c);

    char *file[] = {"CAIRN_DEMO_MAP_FILE=/nonexistent/demo.map", NULL};
    assert_int_equal(load_modules(&c, demo_modules, NULL, file, NULL, 0, &err), CN_EINVAL);
    assert_contains(err.msg, "demo.map_file: cannot read \"/nonexistent/demo.map\"");
    cn_config_free(&c);

    /* the real modules' checks: auth's URLs, the insights GeoIP file, the kernel's mail URL */
    static const struct {
        const char *env, *message;
    } real[] = {
        {"CAIRN_RESET_URL=app.example.com/reset", "auth.reset_url: must be an http:// or "
                                                  "https:// URL (got \"app.example.com/reset\")"},
        {"CAIRN_REGISTER_URL=ftp://x", "auth.register_url: must be an http:// or https:// URL"},
        {"CAIRN_INSIGHTS_GEOIP_DB=/nonexistent/x.mmdb", "insights.geoip_db: cannot read"},
        {"CAIRN_MAIL_SMTP_URL=u:p@host", "mail.smtp_url: must start with smtp:// or smtps:// and "
                                         "name a host"},
    };
    for (size_t i = 0; i < CN_ARRAY_SIZE(real); i++) {
        char *envp[] = {(char *)real[i].env, NULL};
        assert_int_equal(load(&c, NULL, envp, NULL, 0, &err), CN_EINVAL);
        assert_contains(err.msg, real[i].message);
        cn_config_free(&c);
    }

    /* set and good: accepted; an empty path prints as the file in the data directory */
    char *good[] = {"CAIRN_DEMO_HOOK_URL=https://hooks.example.com/x",
                    "CAIRN_DEMO_MAP_FILE=", "CAIRN_DATA=/srv/cairn", NULL};
    assert_int_equal(load_modules(&c, demo_modules, NULL, good, NULL, 0, &err), 0);
    char *text = print_config(&c);
    assert_contains(text, "demo.map_file = /srv/cairn/demo.map  # env\n");
    free(text);
    cn_config_free(&c);
}

/* A row that cannot work (a key or variable twice, no slot, a secret's flag) aborts start. */
static void test_module_key_declared_twice_aborts(void **state)
{
    static const cn_setting_t twice[] = {
        {"server.threads", "CAIRN_OTHER_THREADS", NULL, CN_SET_INT, "1", 0, 9, .slot = &demo.count},
        {NULL},
    };
    static const cn_setting_t same_env[] = {
        {"other.count", "CAIRN_DEMO_COUNT", NULL, CN_SET_INT, "1", 0, 9, .slot = &demo.count},
        {NULL},
    };
    static const cn_setting_t no_slot[] = {
        {"other.count", "CAIRN_OTHER_COUNT", NULL, CN_SET_INT, "1", 0, 9}, {NULL}};
    static const cn_setting_t secret_flag[] = {
        {"other.key", "CAIRN_OTHER_KEY", "--other-key", CN_SET_SECRET, "", .slot = &demo.token},
        {NULL}};
    static const cn_app_t twice_app = {.name = "twice", .settings = twice};
    static const cn_app_t env_app = {.name = "env", .settings = same_env};
    static const cn_app_t no_slot_app = {.name = "no_slot", .settings = no_slot};
    static const cn_app_t secret_flag_app = {.name = "secret_flag", .settings = secret_flag};
    static const cn_app_t *const lists[][3] = {{&twice_app, NULL},
                                               {&demo_app, &env_app, NULL},
                                               {&no_slot_app, NULL},
                                               {&secret_flag_app, NULL}};
    for (size_t i = 0; i < CN_ARRAY_SIZE(lists); i++) {
        pid_t pid = fork();
        if (pid == 0) {
            cn_config_t c;
            cn_err_t err;
            if (freopen("/dev/null", "w", stderr) == NULL) /* the abort's message */
                _exit(2);
            load_modules(&c, lists[i], NULL, NULL, NULL, 0, &err);
            _exit(0);
        }
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
    }
}

/* Markdown of the tables (docs/configuration.md): one table per group, every key once. */
static void test_markdown_tables(void **state)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cn_config_print_markdown(demo_modules, f);
    fclose(f);
    assert_true(strncmp(text, "### kernel\n\n| key | environment |", 32) == 0);
    assert_contains(text, "\n\n### module demo\n\n| key | environment | flag | default | allowed"
                          " | meaning |\n|---|---|---|---|---|---|\n");
    assert_null(strstr(text, "### module empty"));
    assert_contains(text,
                    "| demo.count | CAIRN_DEMO_COUNT | --demo-count | 3 | 1–10 | a count |\n");
    assert_contains(text, "| demo.budget | CAIRN_DEMO_BUDGET |  | 1K | 0–1M bytes | a size |\n");
    assert_contains(text, "| demo.mode | CAIRN_DEMO_MODE |  | slow | slow, fast | a choice |\n");
    assert_contains(text, "| demo.name | CAIRN_DEMO_NAME |  | demo | text | a \\| name |\n");
    assert_contains(text, "| demo.token | CAIRN_DEMO_TOKEN |  | (empty) | secret: empty, or a URL"
                          " starting with https:// | a secret URL |\n");
    assert_contains(text, "| demo.map_file | CAIRN_DEMO_MAP_FILE |  | DATA/demo.map | empty, or a"
                          " readable file | a file |\n");
    assert_contains(text, "| server.max_body | CAIRN_MAX_BODY | --max-body | 1M | 1K–1G bytes |");
    free(text);
}

static void test_key_for_flag(void **state)
{
    assert_string_equal(cn_config_key_for_flag(cn_apps, "--threads"), "server.threads");
    assert_string_equal(cn_config_key_for_flag(cn_apps, "--listen"), "server.listen");
    assert_string_equal(cn_config_key_for_flag(cn_apps, "--max-body"), "server.max_body");
    assert_string_equal(cn_config_key_for_flag(cn_apps, "--log-level"), "log.level");
    assert_string_equal(cn_config_key_for_flag(cn_apps, "--data"), "store.data");
    assert_null(cn_config_key_for_flag(cn_apps, "--nope"));
    assert_null(cn_config_key_for_flag(cn_apps, "threads"));
    assert_null(cn_config_key_for_flag(cn_apps, "--thread"));
    /* secrets have no flag: they would show up in ps(1) */
    assert_null(cn_config_key_for_flag(cn_apps, "--bootstrap-token"));
}

static void test_threads(void **state)
{
    cn_config_t c;
    cn_err_t err = {0};
    cn_config_defaults(&c);
    assert_true(cn_config_threads(&c) >= 1);
    assert_int_equal(cn_config_set(&c, "server.threads", "3", CN_SRC_FLAG, &err), 0);
    assert_int_equal(cn_config_threads(&c), 3);
    cn_config_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_load_without_sources_gives_defaults),
        cmocka_unit_test(test_file_overrides_defaults),
        cmocka_unit_test(test_env_overrides_file_and_flags_override_env),
        cmocka_unit_test(test_flags_apply_in_order),
        cmocka_unit_test(test_config_file_from_env),
        cmocka_unit_test(test_missing_or_broken_file),
        cmocka_unit_test(test_listen_replaced_by_higher_source_appended_within_one),
        cmocka_unit_test(test_listen_values),
        cmocka_unit_test(test_empty_listen_rejected),
        cmocka_unit_test(test_listen_limit),
        cmocka_unit_test(test_bad_values_name_key_and_allowed_values),
        cmocka_unit_test(test_bad_value_from_env_and_file_names_the_source),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_size_suffixes),
        cmocka_unit_test(test_bool_spellings),
        cmocka_unit_test(test_enum_values_map_to_indexes),
        cmocka_unit_test(test_tls_cert_needs_key),
        cmocka_unit_test(test_empty_data_dir_invalid),
        cmocka_unit_test(test_engine_keys_default_to_one_sqlite_node),
        cmocka_unit_test(test_store_url_sources_and_forms),
        cmocka_unit_test(test_store_url_refusals_name_the_key_not_the_password),
        cmocka_unit_test(test_nats_url_shapes),
        cmocka_unit_test(test_nodes_need_postgres_and_nats),
        cmocka_unit_test(test_print_redacts_url_passwords),
        cmocka_unit_test(test_store_open_names_what_fails),
        cmocka_unit_test(test_print_redacts_secret),
        cmocka_unit_test(test_print_lists_every_key_once_by_module),
        cmocka_unit_test(test_module_keys_defaults_and_precedence),
        cmocka_unit_test(test_module_bad_values_name_the_key),
        cmocka_unit_test(test_module_unknown_keys),
        cmocka_unit_test(test_module_checks_urls_and_files),
        cmocka_unit_test(test_module_key_declared_twice_aborts),
        cmocka_unit_test(test_markdown_tables),
        cmocka_unit_test(test_key_for_flag),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
