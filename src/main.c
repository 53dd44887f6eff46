/*
 * cairn: command-line entry. Parses the command and its flags, loads the configuration
 * chain and dispatches. Exit codes follow sysexits(3) so scripts can tell a usage error
 * (64) from bad data (65), an I/O failure (74) or a bad configuration (78).
 */
#include "apps/apps.h"
#include "core/config.h"
#include "core/log.h"
#include "core/server.h"
#include "core/system.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { EXIT_USAGE = 64, EXIT_DATAERR = 65, EXIT_IOERR = 74, EXIT_CONFIG = 78 };

extern char **environ;

typedef struct {
    const char *name;
    int (*run)(cn_config_t *cfg, int argc, char **argv, int dry_run);
    const char *usage;
    const char *help;
    int takes_file;
} command_t;

static int cmd_serve(cn_config_t *cfg, int argc, char **argv, int dry_run);
static int cmd_migrate(cn_config_t *cfg, int argc, char **argv, int dry_run);
static int cmd_backup(cn_config_t *cfg, int argc, char **argv, int dry_run);
static int cmd_config(cn_config_t *cfg, int argc, char **argv, int dry_run);
static int cmd_version(cn_config_t *cfg, int argc, char **argv, int dry_run);

static const command_t commands[] = {
    {"serve", cmd_serve, "cairn serve [--listen HOST:PORT]... [--data DIR] [--threads N] [options]",
     "Applies pending migrations and serves the API until SIGTERM/SIGINT, then drains\n"
     "in-flight requests and exits 0. Prints 'listening on http://HOST:PORT' when ready."},
    {"migrate", cmd_migrate, "cairn migrate [--dry-run] [--data DIR]",
     "Applies pending migrations, each in its own transaction. --dry-run applies them all\n"
     "in one transaction that is rolled back and reports what would change."},
    {"backup", cmd_backup, "cairn backup FILE [--data DIR]",
     "Writes a consistent copy of the database to FILE, also while the server runs.", 1},
    {"config", cmd_config, "cairn config check [options]",
     "Validates the configuration chain and prints the effective values (secrets redacted)."},
    {"version", cmd_version, "cairn version", "Prints the version."},
};

static const char options_help[] =
    "Options (every key can also come from the config file or its CAIRN_* variable):\n"
    "  --config FILE              INI config file (env CAIRN_CONFIG)\n"
    "  --help                     this text\n";

static void print_usage(FILE *out)
{
    fprintf(out,
            "cairn %s - multi-tenant platform server\n\nUsage: cairn COMMAND [options]\n\n"
            "Commands:\n",
            CAIRN_VERSION);
    for (size_t i = 0; i < CN_ARRAY_SIZE(commands); i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].usage);
    fprintf(out, "  help     cairn help [COMMAND]\n\nExit codes: 0 ok, 1 failure, 64 usage, "
                 "65 database newer than this binary, 74 I/O error, 78 bad configuration.\n"
                 "Run 'cairn COMMAND --help' for details.\n");
}

static void print_command_help(const command_t *c)
{
    printf("Usage: %s\n\n%s\n\n%s\nConfiguration keys (key, environment, flag, default):\n",
           c->usage, c->help, options_help);
    cn_config_print_help(stdout);
}

static int open_checked_store(cn_config_t *cfg, int must_exist, cn_store_t **store,
                              cn_migration_set_t *sets, size_t *n_sets)
{
    cn_err_t err = {0};
    const cn_app_t *modules[64] = {&cn_system_app};
    size_t n = 1;
    for (const cn_app_t *const *a = cn_apps; *a && n < 63; a++)
        modules[n++] = *a;
    *n_sets = cn_migration_sets(modules, sets, 32);
    if (cn_open_store(cfg, must_exist, store, &err) != 0) {
        fprintf(stderr, "cairn: %s\n", err.msg);
        return EXIT_IOERR;
    }
    return 0;
}

static void print_line(const char *line, void *ud)
{
    printf("%s\n", line);
}

static int cmd_migrate(cn_config_t *cfg, int argc, char **argv, int dry_run)
{
    cn_store_t *store;
    cn_migration_set_t sets[32];
    size_t n_sets;
    int rc = open_checked_store(cfg, 0, &store, sets, &n_sets);
    if (rc != 0)
        return rc;
    cn_err_t err = {0};
    cn_migrate_status_t st = {0};
    rc = cn_migrate_status(store, sets, n_sets, &st, &err);
    if (rc == 0)
        rc = cn_migrate(store, sets, n_sets, dry_run, print_line, NULL, &err);
    cn_store_close(store);
    if (rc != 0) {
        fprintf(stderr, "cairn: %s\n", err.msg);
        return rc == CN_ETOONEW ? EXIT_DATAERR : 1;
    }
    printf("%d applied before, %d %s\n", st.applied, st.pending,
           dry_run ? "would be applied (dry run: nothing changed)" : "applied now");
    return 0;
}

static int cmd_backup(cn_config_t *cfg, int argc, char **argv, int dry_run)
{
    if (argc != 1) {
        fprintf(stderr, "cairn backup: needs exactly one FILE\n");
        return EXIT_USAGE;
    }
    cn_store_t *store;
    cn_migration_set_t sets[32];
    size_t n_sets;
    int rc = open_checked_store(cfg, 1, &store, sets, &n_sets);
    if (rc != 0)
        return rc;
    cn_err_t err = {0};
    rc = cn_store_backup(store, argv[0], &err);
    cn_store_close(store);
    if (rc != 0) {
        fprintf(stderr, "cairn: %s\n", err.msg);
        return EXIT_IOERR;
    }
    printf("backup written to %s\n", argv[0]);
    return 0;
}

static int cmd_config(cn_config_t *cfg, int argc, char **argv, int dry_run)
{
    if (argc != 1 || strcmp(argv[0], "check") != 0) {
        fprintf(stderr, "cairn config: the only subcommand is 'check'\n");
        return EXIT_USAGE;
    }
    cn_config_print(cfg, stdout);
    return 0;
}

static int cmd_version(cn_config_t *cfg, int argc, char **argv, int dry_run)
{
    printf("cairn %s\n", CAIRN_VERSION);
    return 0;
}

static int cmd_serve(cn_config_t *cfg, int argc, char **argv, int dry_run)
{
    if (argc != 0) {
        fprintf(stderr, "cairn serve: unexpected argument '%s'\n", argv[0]);
        return EXIT_USAGE;
    }
    return cn_server_run(cfg, cn_apps);
}

static const command_t *find_command(const char *name)
{
    for (size_t i = 0; i < CN_ARRAY_SIZE(commands); i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "-h") == 0) {
        const command_t *c = argc > 2 ? find_command(argv[2]) : NULL;
        if (c) {
            print_command_help(c);
            return 0;
        }
        if (argc > 2)
            fprintf(stderr, "cairn help: unknown command '%s'\n\n", argv[2]);
        print_usage(argc > 2 ? stderr : stdout);
        return argc > 2 && c == NULL ? EXIT_USAGE : 0;
    }
    const command_t *cmd = find_command(argv[1]);
    if (cmd == NULL) {
        fprintf(stderr, "cairn: unknown command '%s'\n\n", argv[1]);
        print_usage(stderr);
        return EXIT_USAGE;
    }
    cn_config_t cfg;
    cn_config_defaults(&cfg);
    const char **flags = calloc((size_t)argc * 2, sizeof(char *));
    char **pos = calloc((size_t)argc, sizeof(char *));
    size_t n_flags = 0;
    int n_pos = 0, dry_run = 0, rc = 0;
    for (int i = 2; i < argc; i++) {
        char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            print_command_help(cmd);
            goto Exit;
        }
        if (strcmp(a, "--dry-run") == 0 && cmd->run == cmd_migrate) {
            dry_run = 1;
            continue;
        }
        if (strncmp(a, "--", 2) != 0) {
            pos[n_pos++] = a;
            continue;
        }
        char *eq = strchr(a, '=');
        char name[64];
        snprintf(name, sizeof(name), "%.*s", eq ? (int)(eq - a) : (int)strlen(a), a);
        const char *value = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        const char *key = strcmp(name, "--config") == 0 ? "" : cn_config_key_for_flag(name);
        if (key == NULL || value == NULL) {
            fprintf(stderr, "cairn %s: %s '%s'\n", cmd->name,
                    key ? "missing value for" : "unknown option", name);
            rc = EXIT_USAGE;
            goto Exit;
        }
        if (key[0] == '\0') {
            free(cfg.config_file);
            cfg.config_file = cn_strdup(value);
            continue;
        }
        flags[2 * n_flags] = key;
        flags[2 * n_flags + 1] = value;
        n_flags++;
    }
    cn_err_t err = {0};
    if (cn_config_load(&cfg, environ, flags, n_flags, &err) != 0) {
        fprintf(stderr, "cairn: configuration error: %s\n", err.msg);
        rc = EXIT_CONFIG;
        goto Exit;
    }
    cn_log_init(cfg.log_level, cfg.access_log);
    rc = cmd->run(&cfg, n_pos, pos, dry_run);
Exit:
    cn_config_free(&cfg);
    free(flags);
    free(pos);
    return rc;
}
