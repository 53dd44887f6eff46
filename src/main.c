/*
 * cairn: command-line entry. Parses the command and its flags, loads the configuration
 * chain and dispatches. Exit codes follow sysexits(3) so scripts can tell a usage error
 * (64) from bad data (65), an I/O failure (74) or a bad configuration (78).
 */
#include "apps/apps.h"
#include "auth/audit.h"
#include "auth/auth.h"
#include "auth/tokens.h"
#include "auth/vault.h"
#include "core/config.h"
#include "core/log.h"
#include "core/server.h"
#include "core/system.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

enum { EXIT_USAGE = 64, EXIT_DATAERR = 65, EXIT_IOERR = 74, EXIT_CONFIG = 78 };

extern char **environ;

#define MAX_OPTS 8

/** What a command gets: its positional arguments and its own options. */
typedef struct {
    int argc;
    char **argv;
    const char *names[MAX_OPTS], *values[MAX_OPTS]; /* value "" for a boolean option */
    int n_opts;
} args_t;

typedef struct {
    const char *name;
    int (*run)(cn_config_t *cfg, const args_t *a);
    const char *usage;
    const char *help;
    const char *const *options; /* the command's own options; "--x=" takes a value */
} command_t;

static int cmd_serve(cn_config_t *cfg, const args_t *a);
static int cmd_migrate(cn_config_t *cfg, const args_t *a);
static int cmd_backup(cn_config_t *cfg, const args_t *a);
static int cmd_config(cn_config_t *cfg, const args_t *a);
static int cmd_version(cn_config_t *cfg, const args_t *a);
static int cmd_tenant(cn_config_t *cfg, const args_t *a);
static int cmd_user(cn_config_t *cfg, const args_t *a);
static int cmd_keys(cn_config_t *cfg, const args_t *a);
static int cmd_audit(cn_config_t *cfg, const args_t *a);
static int cmd_jobs(cn_config_t *cfg, const args_t *a);

static const char *const migrate_opts[] = {"--dry-run", NULL};
static const char *const tenant_opts[] = {"--slug=", "--name=", NULL};
static const char *const jobs_opts[] = {"--state=", "--name=", "--limit=", "--older-than=", NULL};
static const char *const serve_opts[] = {"--allow-unusable-secrets", NULL};
static const char *const user_opts[] = {"--tenant=", "--email=", "--role=", "--password-stdin",
                                        NULL};

static const command_t commands[] = {
    {"serve", cmd_serve, "cairn serve [--listen HOST:PORT]... [--data DIR] [--threads N] [options]",
     "Applies pending migrations and serves the API until SIGTERM/SIGINT, then drains\n"
     "in-flight requests and exits 0. Prints 'listening on http://HOST:PORT' when ready.\n"
     "It exits 78 when secrets in the database do not open with auth.secrets_key_file;\n"
     "--allow-unusable-secrets (auth.allow_unusable_secrets) starts anyway: see docs/auth.md.",
     serve_opts},
    {"migrate", cmd_migrate, "cairn migrate [--dry-run] [--data DIR]",
     "Applies pending migrations, each in its own transaction. --dry-run applies them all\n"
     "in one transaction that is rolled back and reports what would change.",
     migrate_opts},
    {"backup", cmd_backup, "cairn backup FILE [--data DIR]",
     "Writes a consistent copy of the database to FILE, also while the server runs."},
    {"tenant", cmd_tenant, "cairn tenant create --slug SLUG --name NAME [--data DIR]",
     "Creates a tenant (organisation). Prints its id.", tenant_opts},
    {"user", cmd_user,
     "cairn user create --tenant SLUG --email E --role ROLE [--password-stdin] [--data DIR]",
     "Creates a user (or adds an existing one) with ROLE (owner, admin, member, viewer) in\n"
     "the tenant. The password is prompted for on the terminal, or read as one line from\n"
     "standard input with --password-stdin; never from the command line.",
     user_opts},
    {"audit", cmd_audit, "cairn audit verify [--data DIR]",
     "Checks the audit log's hash chain: exit 0 when intact, 65 naming the first entry that\n"
     "was changed or removed."},
    {"keys", cmd_keys, "cairn keys rotate | retire [KID]   [--data DIR]",
     "rotate: adds a new token-signing key (sealed with auth.secrets_key_file). New tokens\n"
     "are signed with it; the older keys retire and still verify for one token lifetime\n"
     "(16 minutes), so nobody is logged out.\n"
     "retire: ends keys at once: every key but the newest, or only KID. Tokens they signed\n"
     "stop verifying (a running server sees it within a second) and their holders must\n"
     "refresh or sign in again; retiring the newest key adds a new one first. Prints each\n"
     "key retired. Use it when a key may have leaked."},
    {"jobs", cmd_jobs,
     "cairn jobs list [--state S] [--name N] [--limit N] | show ID | retry ID |\n"
     "                purge [--state done|dead] [--older-than SECONDS]   [--data DIR]",
     "Background jobs (see docs/jobs.md). list: newest first (default 50). show: one job as\n"
     "JSON. retry: a dead job is queued again with its attempts reset (exit 1 if it is not\n"
     "dead, 65 if there is no such job). purge: deletes done (default) or dead jobs that\n"
     "finished more than SECONDS ago (default 0: all of them).",
     jobs_opts},
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

static const char *opt(const args_t *a, const char *name)
{
    for (int i = 0; i < a->n_opts; i++)
        if (strcmp(a->names[i], name) == 0)
            return a->values[i];
    return NULL;
}

/* Matches an argument against the command's options; sets *takes_value. */
static const char *command_option(const command_t *c, const char *name, int *takes_value)
{
    size_t n = strlen(name);
    for (const char *const *o = c->options; o && *o; o++)
        if (strncmp(*o, name, n) == 0 &&
            ((*o)[n] == '\0' || ((*o)[n] == '=' && (*o)[n + 1] == '\0'))) {
            *takes_value = (*o)[n] == '=';
            return *o;
        }
    return NULL;
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

static int cmd_migrate(cn_config_t *cfg, const args_t *a)
{
    cn_store_t *store;
    cn_migration_set_t sets[32];
    size_t n_sets;
    int rc = open_checked_store(cfg, 0, &store, sets, &n_sets);
    if (rc != 0)
        return rc;
    cn_err_t err = {0};
    cn_migrate_status_t st = {0};
    int dry_run = opt(a, "--dry-run") != NULL;
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

static int cmd_backup(cn_config_t *cfg, const args_t *a)
{
    if (a->argc != 1) {
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
    rc = cn_store_backup(store, a->argv[0], &err);
    cn_store_close(store);
    if (rc != 0) {
        fprintf(stderr, "cairn: %s\n", err.msg);
        return EXIT_IOERR;
    }
    printf("backup written to %s\n", a->argv[0]);
    return 0;
}

static int cmd_config(cn_config_t *cfg, const args_t *a)
{
    if (a->argc != 1 || strcmp(a->argv[0], "check") != 0) {
        fprintf(stderr, "cairn config: the only subcommand is 'check'\n");
        return EXIT_USAGE;
    }
    cn_config_print(cfg, stdout);
    return 0;
}

static int cmd_version(cn_config_t *cfg, const args_t *a)
{
    printf("cairn %s\n", CAIRN_VERSION);
    return 0;
}

static int cmd_serve(cn_config_t *cfg, const args_t *a)
{
    if (a->argc != 0) {
        fprintf(stderr, "cairn serve: unexpected argument '%s'\n", a->argv[0]);
        return EXIT_USAGE;
    }
    if (opt(a, "--allow-unusable-secrets") != NULL)
        cfg->allow_unusable_secrets = 1;
    return cn_server_run(cfg, cn_apps);
}

/* Opens the store for an admin command: migrations must be current (run them first). */
static int open_admin_store(cn_config_t *cfg, cn_store_t **store)
{
    cn_migration_set_t sets[32];
    size_t n_sets;
    int rc = open_checked_store(cfg, 0, store, sets, &n_sets);
    if (rc != 0)
        return rc;
    cn_err_t err = {0};
    rc = cn_migrate(*store, sets, n_sets, 0, NULL, NULL, &err);
    if (rc != 0) {
        fprintf(stderr, "cairn: %s\n", err.msg);
        cn_store_close(*store);
        return rc == CN_ETOONEW ? EXIT_DATAERR : EXIT_IOERR;
    }
    return 0;
}

static int exit_for(int code)
{
    return code == CN_EINVAL || code == CN_ENOTFOUND ? EXIT_DATAERR
           : code == CN_ECONFLICT                    ? 1
                                                     : EXIT_IOERR;
}

static int need_subcommand(const args_t *a, const char *command, const char *sub)
{
    if (a->argc == 1 && strcmp(a->argv[0], sub) == 0)
        return 0;
    fprintf(stderr, "cairn %s: the only subcommand is '%s'\n", command, sub);
    return EXIT_USAGE;
}

static int cmd_tenant(cn_config_t *cfg, const args_t *a)
{
    const char *slug = opt(a, "--slug"), *name = opt(a, "--name");
    if (need_subcommand(a, "tenant", "create") != 0)
        return EXIT_USAGE;
    if (slug == NULL || name == NULL) {
        fprintf(stderr, "cairn tenant create: --slug and --name are required\n");
        return EXIT_USAGE;
    }
    cn_store_t *store;
    int rc = open_admin_store(cfg, &store);
    if (rc != 0)
        return rc;
    cn_err_t err = {0};
    char id[40];
    rc = auth_tenant_create(store, slug, name, id, &err);
    cn_store_close(store);
    if (rc != 0) {
        fprintf(stderr, "cairn tenant create: %s\n", err.msg);
        return exit_for(rc);
    }
    printf("%s\n", id);
    return 0;
}

/* Reads the password: one line from stdin, or twice from the terminal without echo. */
static int read_password(int from_stdin, char *buf, size_t cap)
{
    if (from_stdin) {
        if (fgets(buf, (int)cap, stdin) == NULL)
            return -1;
        buf[strcspn(buf, "\r\n")] = '\0';
        return 0;
    }
    /* separate streams: reading and writing one FILE needs a seek in between */
    FILE *in = fopen("/dev/tty", "r"), *out = in ? fopen("/dev/tty", "w") : NULL;
    if (out == NULL) {
        if (in)
            fclose(in);
        return -1;
    }
    struct termios old, quiet;
    tcgetattr(fileno(in), &old);
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    tcsetattr(fileno(in), TCSAFLUSH, &quiet);
    char again[300];
    fputs("Password: ", out);
    fflush(out);
    int ok = fgets(buf, (int)cap, in) != NULL;
    fputs("\nRepeat: ", out);
    fflush(out);
    ok = ok && fgets(again, sizeof(again), in) != NULL;
    fputs("\n", out);
    tcsetattr(fileno(in), TCSAFLUSH, &old);
    fclose(in);
    fclose(out);
    buf[strcspn(buf, "\r\n")] = '\0';
    again[strcspn(again, "\r\n")] = '\0';
    ok = ok && strcmp(buf, again) == 0;
    memset(again, 0, sizeof(again));
    return ok ? 0 : -1;
}

static int cmd_user(cn_config_t *cfg, const args_t *a)
{
    const char *tenant = opt(a, "--tenant"), *email = opt(a, "--email"), *role = opt(a, "--role");
    if (need_subcommand(a, "user", "create") != 0)
        return EXIT_USAGE;
    if (tenant == NULL || email == NULL || role == NULL) {
        fprintf(stderr, "cairn user create: --tenant, --email and --role are required\n");
        return EXIT_USAGE;
    }
    char password[300];
    if (read_password(opt(a, "--password-stdin") != NULL, password, sizeof(password)) != 0) {
        fprintf(stderr, "cairn user create: no password read (the two entries must match; "
                        "without a terminal use --password-stdin)\n");
        return EXIT_USAGE;
    }
    cn_store_t *store;
    int rc = open_admin_store(cfg, &store);
    if (rc == 0) {
        cn_err_t err = {0};
        char id[40];
        rc = auth_user_create(store, tenant, email, role, password, id, &err);
        cn_store_close(store);
        if (rc != 0) {
            fprintf(stderr, "cairn user create: %s\n", err.msg);
            rc = exit_for(rc);
        } else {
            printf("%s\n", id);
        }
    }
    memset(password, 0, sizeof(password));
    return rc;
}

static void print_retired(const char *kid, void *ud)
{
    (*(int *)ud)++;
    printf("retired signing key %s\n", kid);
}

/* keys rotate | keys retire [KID]: both need the vault, as keys are stored sealed. */
static int cmd_keys(cn_config_t *cfg, const args_t *a)
{
    int rotate = a->argc == 1 && strcmp(a->argv[0], "rotate") == 0;
    int retire = (a->argc == 1 || a->argc == 2) && strcmp(a->argv[0], "retire") == 0;
    if (!rotate && !retire) {
        fprintf(stderr, "cairn keys: use 'keys rotate' or 'keys retire [KID]'\n");
        return EXIT_USAGE;
    }
    cn_store_t *store;
    int rc = open_admin_store(cfg, &store);
    if (rc != 0)
        return rc;
    cn_err_t err = {0};
    char kid[40];
    int retired = 0;
    rc = auth_secrets_open(cfg, store, &err);
    if (rc == 0)
        rc = rotate ? auth_keys_rotate(store, kid, &err)
                    : auth_keys_retire(store, a->argc == 2 ? a->argv[1] : NULL, print_retired,
                                       &retired, &err);
    cn_store_close(store);
    auth_keys_free();
    auth_vault_close();
    if (rc != 0) {
        fprintf(stderr, "cairn keys %s: %s\n", a->argv[0], err.msg);
        return rc == CN_EINVAL ? EXIT_CONFIG : rc == CN_ENOTFOUND ? EXIT_DATAERR : EXIT_IOERR;
    }
    if (rotate)
        printf("new signing key %s; running servers sign with it within a second\n", kid);
    else
        printf("%d signing keys retired; tokens they signed are refused from now on\n", retired);
    return 0;
}

static int cmd_audit(cn_config_t *cfg, const args_t *a)
{
    if (need_subcommand(a, "audit", "verify") != 0)
        return EXIT_USAGE;
    cn_store_t *store;
    int rc = open_admin_store(cfg, &store);
    if (rc != 0)
        return rc;
    cn_err_t err = {0};
    int64_t n = 0;
    rc = auth_audit_verify(store, &n, &err);
    cn_store_close(store);
    if (rc != 0) {
        fprintf(stderr, "cairn audit verify: %s\n", err.msg);
        return rc == CN_EVALIDATION ? EXIT_DATAERR : EXIT_IOERR;
    }
    printf("audit log intact: %lld entries\n", (long long)n);
    return 0;
}

static const command_t *find_command(const char *name);

/* Parses a non-negative integer option; -1 when it is not one. */
static long long count_opt(const char *v)
{
    char *end;
    long long n = v[0] >= '0' && v[0] <= '9' ? strtoll(v, &end, 10) : -1;
    return n >= 0 && *end == '\0' ? n : -1;
}

static int cmd_jobs(cn_config_t *cfg, const args_t *a)
{
    const char *sub = a->argc > 0 ? a->argv[0] : "", *state = opt(a, "--state");
    const char *name = opt(a, "--name"), *limit = opt(a, "--limit");
    const char *older = opt(a, "--older-than");
    int wants_id = strcmp(sub, "show") == 0 || strcmp(sub, "retry") == 0;
    int is_list = strcmp(sub, "list") == 0, is_purge = strcmp(sub, "purge") == 0;
    if (!wants_id && !is_list && !is_purge) {
        fprintf(stderr, "cairn jobs: the subcommands are list, show, retry and purge\n");
        return EXIT_USAGE;
    }
    if (a->argc != (wants_id ? 2 : 1) || (!is_list && (name || limit)) || (!is_purge && older) ||
        (wants_id && state)) {
        fprintf(stderr, "usage: %s\n", find_command("jobs")->usage);
        return EXIT_USAGE;
    }
    if (state &&
        (is_purge ? strcmp(state, "done") && strcmp(state, "dead") : !cn_jobs_state_valid(state))) {
        fprintf(stderr, "cairn jobs %s: --state must be one of %s (got \"%s\")\n", sub,
                is_purge ? "done, dead" : "queued, running, done, dead", state);
        return EXIT_USAGE;
    }
    long long n_limit = limit ? count_opt(limit) : 50, n_older = older ? count_opt(older) : 0;
    if (n_limit < 1 || n_older < 0) {
        fprintf(stderr, "cairn jobs %s: %s must be a %s integer\n", sub,
                n_limit < 1 ? "--limit" : "--older-than",
                n_limit < 1 ? "positive" : "non-negative");
        return EXIT_USAGE;
    }
    cn_store_t *store;
    int rc = open_admin_store(cfg, &store);
    if (rc != 0)
        return rc;
    cn_err_t err = {0};
    int64_t purged = 0;
    if (is_list)
        rc = cn_jobs_print_list(store, state, name, n_limit, stdout, &err);
    else if (strcmp(sub, "show") == 0)
        rc = cn_jobs_print_one(store, a->argv[1], stdout, &err);
    else if (strcmp(sub, "retry") == 0)
        rc = cn_jobs_retry(store, NULL, a->argv[1], &err);
    else
        rc = cn_jobs_purge(store, state ? state : "done", cn_now_ms() - n_older * 1000, &purged,
                           &err);
    cn_store_close(store);
    if (rc != 0) {
        fprintf(stderr, "cairn jobs %s: %s\n", sub, err.msg);
        return exit_for(rc);
    }
    if (strcmp(sub, "retry") == 0)
        printf("job %s queued again; a running server's workers pick it up within jobs.poll_ms\n",
               a->argv[1]);
    else if (is_purge)
        printf("%lld %s jobs purged\n", (long long)purged, state ? state : "done");
    return 0;
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
    args_t args = {.argv = calloc((size_t)argc, sizeof(char *))};
    size_t n_flags = 0;
    int rc = 0;
    for (int i = 2; i < argc; i++) {
        char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            print_command_help(cmd);
            goto Exit;
        }
        if (strncmp(a, "--", 2) != 0) {
            args.argv[args.argc++] = a;
            continue;
        }
        char *eq = strchr(a, '=');
        char name[64];
        snprintf(name, sizeof(name), "%.*s", eq ? (int)(eq - a) : (int)strlen(a), a);
        int takes_value = 0;
        if (command_option(cmd, name, &takes_value) != NULL && args.n_opts < MAX_OPTS) {
            const char *v = !takes_value ? "" : eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
            if (v == NULL || (!takes_value && eq)) {
                fprintf(stderr, "cairn %s: %s '%s'\n", cmd->name,
                        v == NULL ? "missing value for" : "no value allowed for", name);
                rc = EXIT_USAGE;
                goto Exit;
            }
            args.names[args.n_opts] = strdup(name);
            args.values[args.n_opts++] = v;
            continue;
        }
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
    rc = cmd->run(&cfg, &args);
Exit:
    cn_config_free(&cfg);
    free(flags);
    for (int i = 0; i < args.n_opts; i++)
        free((char *)args.names[i]);
    free(args.argv);
    return rc;
}
