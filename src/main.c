/*
 * cairn: command-line entry. One table row per command or subcommand (`commands` below)
 * gives its name, positional arguments, options and help; the parser, `cairn help` and
 * every `--help` read that row, so adding a command is one row and one function. Exit
 * codes follow sysexits(3) and mean one thing each (`exit_codes`, printed by `cairn
 * help`). Nothing is created (data directory, database, key files) before the command
 * line and the configuration are known to be valid.
 */
#include "apps/apps.h"
#include "auth/admin.h"
#include "auth/audit.h"
#include "auth/auth.h"
#include "auth/tokens.h"
#include "auth/vault.h"
#include "core/config.h"
#include "core/instance.h"
#include "core/jobs.h"
#include "core/jobs_int.h"
#include "core/log.h"
#include "core/server.h"
#include "core/store_open.h"
#include "core/system.h"
#include "lib/formats.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

enum {
    EXIT_REFUSED = 1,   /* the data's current state says no */
    EXIT_USAGE = 64,    /* EX_USAGE */
    EXIT_DATAERR = 65,  /* EX_DATAERR: a value the operator gave is not acceptable */
    EXIT_NOINPUT = 66,  /* EX_NOINPUT: no such item, or no database */
    EXIT_EXISTS = 73,   /* EX_CANTCREAT: the output file exists */
    EXIT_IOERR = 74,    /* EX_IOERR */
    EXIT_TEMPFAIL = 75, /* EX_TEMPFAIL: the database or the data directory is held */
    EXIT_TOONEW = 76,   /* EX_PROTOCOL: the database speaks a newer schema */
    EXIT_CONFIG = 78,   /* EX_CONFIG */
};

/* The one table of exit codes: `cairn help` prints it and docs/operations.md copies it. */
static const struct {
    int code;
    const char *meaning;
} exit_codes[] = {
    {0, "success"},
    {EXIT_REFUSED, "refused by the current state: exists already, job not dead, audit chain "
                   "broken"},
    {EXIT_USAGE, "usage: unknown command or option, missing or extra argument, bad option value"},
    {EXIT_DATAERR, "bad input data: invalid slug, e-mail or role, weak password"},
    {EXIT_NOINPUT, "no such item (tenant, member, job), or no database in the data directory"},
    {EXIT_EXISTS, "the output file exists (cairn backup without --force)"},
    {EXIT_IOERR, "I/O error: cannot read or write the database or a file"},
    {EXIT_TEMPFAIL, "the database or data directory is held by another process; try again"},
    {EXIT_TOONEW, "the database was written by a newer cairn"},
    {EXIT_CONFIG, "configuration error: bad key or value, cannot listen, bad certificate, "
                  "an engine this build has no driver for"},
};

extern char **environ;

#define MAX_OPTS 8

/** A command's own option; arg NULL for a switch. */
typedef struct {
    const char *name; /* "--slug" */
    const char *arg;  /* "SLUG", or NULL */
    int required;
    const char *help;
} option_t;

/** What a command gets: its positional arguments and its own options. */
typedef struct {
    int argc;
    char **argv;
    const char *names[MAX_OPTS], *values[MAX_OPTS]; /* value "" for a switch */
    int n_opts;
} args_t;

enum {
    CMD_NO_CONFIG = 1, /* runs without loading the configuration (version) */
    CMD_ALL_FLAGS = 2, /* its help lists every configuration flag (serve) */
};

typedef struct {
    const char *name; /* "serve", or "group sub" for a subcommand */
    int (*run)(cn_config_t *cfg, const args_t *a);
    const char *args; /* positional arguments as the synopsis shows them, or NULL */
    int n_args;       /* exactly this many; at most, when args is "[...]" */
    const option_t *options;
    const char *help;
    int flags;
} command_t;

#define CMD(f) static int f(cn_config_t *cfg, const args_t *a)
CMD(cmd_serve);
CMD(cmd_migrate);
CMD(cmd_backup);
CMD(cmd_config_check);
CMD(cmd_config_keys);
CMD(cmd_version);
CMD(cmd_openapi);
CMD(cmd_tenant_create);
CMD(cmd_tenant_list);
CMD(cmd_user_create);
CMD(cmd_user_list);
CMD(cmd_user_set_password);
CMD(cmd_user_unlock);
CMD(cmd_keys_rotate);
CMD(cmd_keys_retire);
CMD(cmd_audit_verify);
CMD(cmd_jobs_list);
CMD(cmd_jobs_show);
CMD(cmd_jobs_retry);
CMD(cmd_jobs_purge);

static const option_t serve_opts[] = {
    {"--allow-unusable-secrets", NULL, 0,
     "start although stored secrets do not open with auth.secrets_key_file"},
    {0}};
static const option_t migrate_opts[] = {
    {"--dry-run", NULL, 0, "apply in one transaction that is rolled back; report only"}, {0}};
static const option_t backup_opts[] = {{"--force", NULL, 0, "replace FILE if it exists"}, {0}};
static const option_t keys_opts[] = {
    {"--markdown", NULL, 0, "the tables of docs/configuration.md instead of text"}, {0}};
static const option_t json_opt[] = {{"--json", NULL, 0, "one JSON array instead of text"}, {0}};
static const option_t tenant_create_opts[] = {
    {"--slug", "SLUG", 1, "lower-case letters, digits and '-' (1-64)"},
    {"--name", "NAME", 1, "display name"},
    {0}};
static const option_t user_create_opts[] = {
    {"--tenant", "SLUG", 1, "the tenant"},
    {"--email", "E", 1, "the user's e-mail address"},
    {"--role", "ROLE", 1, "owner, admin, member or viewer"},
    {"--password-stdin", NULL, 0, "read the password as one line from standard input"},
    {0}};
static const option_t user_list_opts[] = {{"--tenant", "SLUG", 1, "the tenant"},
                                          {"--json", NULL, 0, "one JSON array instead of text"},
                                          {0}};
static const option_t set_password_opts[] = {
    {"--tenant", "SLUG", 1, "a tenant the user is a member of"},
    {"--email", "E", 1, "the user's e-mail address"},
    {"--password-stdin", NULL, 0, "read the password as one line from standard input"},
    {0}};
static const option_t user_unlock_opts[] = {
    {"--tenant", "SLUG", 1, "the tenant"}, {"--email", "E", 1, "the user's e-mail address"}, {0}};
static const option_t jobs_list_opts[] = {{"--state", "S", 0, "queued, running, done or dead"},
                                          {"--name", "N", 0, "only jobs of this type"},
                                          {"--limit", "N", 0, "at most N jobs (default 50)"},
                                          {0}};
static const option_t jobs_purge_opts[] = {
    {"--state", "S", 0, "done (default) or dead"},
    {"--older-than", "SECONDS", 0, "only jobs finished more than SECONDS ago (default 0)"},
    {0}};

static const command_t commands[] = {
    {"serve", cmd_serve, NULL, 0, serve_opts,
     "Applies pending migrations and serves the API until SIGTERM/SIGINT, then drains\n"
     "in-flight requests and exits 0. Prints 'listening on http://HOST:PORT' when ready.\n"
     "One server per data directory (75 if another holds DATA/cairn.lock) and per\n"
     "address (78 if the address is in use). It exits 78 when secrets in the database do\n"
     "not open with auth.secrets_key_file; --allow-unusable-secrets\n"
     "(auth.allow_unusable_secrets) starts anyway: see docs/auth.md.",
     CMD_ALL_FLAGS},
    {"migrate", cmd_migrate, NULL, 0, migrate_opts,
     "Applies pending migrations, each in its own transaction. Refuses (75) while a server\n"
     "runs on the data directory, except with --dry-run."},
    {"backup", cmd_backup, "FILE", 1, backup_opts,
     "Writes a consistent copy of the database to FILE (mode 600), also while the server\n"
     "runs. It is written to a temporary file beside FILE and renamed into place, so FILE\n"
     "is never left half-written. An existing FILE is kept unless --force is given."},
    {"tenant create", cmd_tenant_create, NULL, 0, tenant_create_opts,
     "Creates a tenant (organisation). Prints its id."},
    {"tenant list", cmd_tenant_list, NULL, 0, json_opt,
     "Lists every tenant: slug, name, id and creation time, one line each."},
    {"user create", cmd_user_create, NULL, 0, user_create_opts,
     "Creates a user (or adds an existing one) with ROLE in the tenant. The password is\n"
     "prompted for twice on the terminal, or read as one line from standard input with\n"
     "--password-stdin; never from the command line."},
    {"user list", cmd_user_list, NULL, 0, user_list_opts,
     "Lists the tenant's members: e-mail, role, MFA on/off, locked until, user id."},
    {"user set-password", cmd_user_set_password, NULL, 0, set_password_opts,
     "Sets a member's password, as a password reset does: the password policy applies,\n"
     "every session of the account in every tenant ends (a running server refuses their\n"
     "tokens within a second of its next authenticated request), unused reset tokens are\n"
     "voided, the sign-in lockout is cleared, and the audit log records it. The password\n"
     "is prompted for twice on the terminal, or read as one line from standard input with\n"
     "--password-stdin; never from the command line."},
    {"user unlock", cmd_user_unlock, NULL, 0, user_unlock_opts,
     "Clears the sign-in lockout of that tenant + e-mail, from every client IP (what an\n"
     "admin's POST /api/v1/users/{id}/unlock does)."},
    {"keys rotate", cmd_keys_rotate, NULL, 0, NULL,
     "Adds a new token-signing key (sealed with auth.secrets_key_file). New tokens are\n"
     "signed with it; the older keys retire and still verify for one token lifetime (16\n"
     "minutes), so nobody is logged out."},
    {"keys retire", cmd_keys_retire, "[KID]", 1, NULL,
     "Ends keys at once: every key but the newest, or only KID. Tokens they signed stop\n"
     "verifying (a running server sees it within a second) and their holders must refresh\n"
     "or sign in again; retiring the newest key adds a new one first. Prints each key\n"
     "retired. Use it when a key may have leaked."},
    {"audit verify", cmd_audit_verify, NULL, 0, NULL,
     "Checks the audit log's hash chain: exit 0 when intact, 1 naming the first entry that\n"
     "was changed or removed."},
    {"jobs list", cmd_jobs_list, NULL, 0, jobs_list_opts,
     "Lists background jobs, newest first (see docs/jobs.md)."},
    {"jobs show", cmd_jobs_show, "ID", 1, NULL, "Prints one job as JSON."},
    {"jobs retry", cmd_jobs_retry, "ID", 1, NULL,
     "Queues a dead job again with its attempts reset (exit 1 if it is not dead)."},
    {"jobs purge", cmd_jobs_purge, NULL, 0, jobs_purge_opts, "Deletes finished jobs."},
    {"config check", cmd_config_check, NULL, 0, NULL,
     "Validates the configuration chain (file, CAIRN_* environment, flags) and prints the\n"
     "effective values with their source, secrets redacted, the kernel's keys and then\n"
     "each module's under a '# module NAME' line. Exit 78 names a bad key.",
     CMD_ALL_FLAGS},
    {"config keys", cmd_config_keys, NULL, 0, keys_opts,
     "Prints every configuration key, the kernel's and then each module's, with its\n"
     "environment variable, flag, default and meaning; --markdown prints the tables of\n"
     "docs/configuration.md (scripts/config-docs writes them there).",
     CMD_NO_CONFIG},
    {"openapi", cmd_openapi, NULL, 0, NULL,
     "Prints the OpenAPI document the server serves at /api/openapi.json (JSON), without\n"
     "starting one: what typed clients and sdk/js/api.d.ts are generated from.",
     CMD_NO_CONFIG},
    {"version", cmd_version, NULL, 0, NULL, "Prints the version (also: cairn --version).",
     CMD_NO_CONFIG},
};

/* ---- help ---- */

static void print_synopsis(FILE *out, const command_t *c)
{
    fprintf(out, "cairn %s", c->name);
    if (c->args)
        fprintf(out, " %s", c->args);
    for (const option_t *o = c->options; o && o->name; o++)
        fprintf(out, " %s%s%s%s%s", o->required ? "" : "[", o->name, o->arg ? " " : "",
                o->arg ? o->arg : "", o->required ? "" : "]");
    if (!(c->flags & CMD_NO_CONFIG))
        fputs(c->flags & CMD_ALL_FLAGS ? " [options]" : " [--data DIR]", out);
}

static void print_exit_codes(FILE *out)
{
    fputs("Exit codes (sysexits):\n", out);
    for (size_t i = 0; i < CN_ARRAY_SIZE(exit_codes); i++)
        fprintf(out, "  %-3d %s\n", exit_codes[i].code, exit_codes[i].meaning);
}

static void print_usage(FILE *out)
{
    fprintf(out,
            "cairn %s - multi-tenant platform server\n\nUsage: cairn COMMAND [options]\n\n"
            "Commands:\n",
            CAIRN_VERSION);
    for (size_t i = 0; i < CN_ARRAY_SIZE(commands); i++) {
        fputs("  ", out);
        print_synopsis(out, &commands[i]);
        fputc('\n', out);
    }
    fputs("  cairn help [COMMAND [SUBCOMMAND]]\n\n", out);
    print_exit_codes(out);
    fputs("\nRun 'cairn COMMAND --help' for a command's options, 'cairn config keys' for every\n"
          "configuration key.\n",
          out);
}

static void print_command_help(FILE *out, const command_t *c)
{
    fputs("Usage: ", out);
    print_synopsis(out, c);
    fprintf(out, "\n\n%s\n", c->help);
    if (c->options)
        fputs("\nOptions:\n", out);
    for (const option_t *o = c->options; o && o->name; o++) {
        char left[48];
        snprintf(left, sizeof(left), "%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        fprintf(out, "  %-26s %s\n", left, o->help);
    }
    if (c->flags & CMD_NO_CONFIG)
        return;
    if (c->flags & CMD_ALL_FLAGS) {
        fputs("\nConfiguration flags (each also a config-file key and a CAIRN_* variable):\n", out);
        cn_config_print_flags(cn_apps, out);
    } else {
        fprintf(out, "\nCommon options:\n  %-26s %s\n", "--data DIR",
                "the data directory (store.data, CAIRN_DATA; default ./data)");
    }
    fprintf(out, "  %-26s %s\n  %-26s %s\n\nEvery key of 'cairn config keys' applies too.\n",
            "--config FILE", "INI config file (CAIRN_CONFIG)", "--help", "this text");
}

/* `cairn help tenant`: the group's subcommands. */
static void print_group_help(FILE *out, const char *group)
{
    fprintf(out, "Usage: cairn %s SUBCOMMAND [options]\n\nSubcommands:\n", group);
    size_t n = strlen(group);
    for (size_t i = 0; i < CN_ARRAY_SIZE(commands); i++)
        if (strncmp(commands[i].name, group, n) == 0 && commands[i].name[n] == ' ') {
            fputs("  ", out);
            print_synopsis(out, &commands[i]);
            fputc('\n', out);
        }
    fprintf(out, "\nRun 'cairn %s SUBCOMMAND --help' for details.\n", group);
}

static int is_help(const char *a)
{
    return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

/* ---- finding the command ---- */

static const command_t *find_command(const char *name)
{
    for (size_t i = 0; i < CN_ARRAY_SIZE(commands); i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static int is_group(const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < CN_ARRAY_SIZE(commands); i++)
        if (strncmp(commands[i].name, name, n) == 0 && commands[i].name[n] == ' ')
            return 1;
    return 0;
}

/*
 * Resolves argv[0] (and argv[1] for a group) to a row; *used says how many words it took.
 * NULL with *rc set when it printed help (0) or a usage error (64).
 */
static const command_t *resolve(int argc, char **argv, int *used, int *rc)
{
    const command_t *c = find_command(argv[0]);
    *used = 1;
    if (c != NULL || !is_group(argv[0])) {
        if (c == NULL) {
            fprintf(stderr, "cairn: unknown command '%s'\n\n", argv[0]);
            print_usage(stderr);
        }
        *rc = EXIT_USAGE;
        return c;
    }
    if (argc < 2 || is_help(argv[1])) {
        if (argc < 2)
            fprintf(stderr, "cairn %s: needs a subcommand\n\n", argv[0]);
        print_group_help(argc < 2 ? stderr : stdout, argv[0]);
        *rc = argc < 2 ? EXIT_USAGE : 0;
        return NULL;
    }
    char name[128];
    snprintf(name, sizeof(name), "%s %s", argv[0], argv[1]);
    *used = 2;
    if ((c = find_command(name)) == NULL) {
        fprintf(stderr, "cairn %s: unknown subcommand '%s'\n\n", argv[0], argv[1]);
        print_group_help(stderr, argv[0]);
        *rc = EXIT_USAGE;
    }
    return c;
}

/* `cairn help [COMMAND [SUB]]` */
static int run_help(int argc, char **argv)
{
    if (argc == 0) {
        print_usage(stdout);
        return 0;
    }
    if (argc == 1 && is_group(argv[0]) && !find_command(argv[0])) {
        print_group_help(stdout, argv[0]);
        return 0;
    }
    int used, rc;
    const command_t *c = resolve(argc, argv, &used, &rc);
    if (c == NULL)
        return rc;
    print_command_help(stdout, c);
    return 0;
}

/* ---- parsing a command's arguments ---- */

static const char *opt(const args_t *a, const char *name)
{
    for (int i = 0; i < a->n_opts; i++)
        if (strcmp(a->names[i], name) == 0)
            return a->values[i];
    return NULL;
}

static const option_t *command_option(const command_t *c, const char *name)
{
    for (const option_t *o = c->options; o && o->name; o++)
        if (strcmp(o->name, name) == 0)
            return o;
    return NULL;
}

typedef struct {
    args_t args;
    const char **flags; /* (key, value) pairs for cn_config_load */
    size_t n_flags;
    char *config_file;
} parsed_t;

/* One "--name[=value]" argument at argv[*i]; returns 0, or an exit code after a message. */
static int parse_option(const command_t *c, int argc, char **argv, int *i, parsed_t *p)
{
    char *a = argv[*i], *eq = strchr(a, '='), name[64];
    snprintf(name, sizeof(name), "%.*s", eq ? (int)(eq - a) : (int)strlen(a), a);
    const option_t *o = command_option(c, name);
    const char *key = o                               ? NULL
                      : strcmp(name, "--config") == 0 ? ""
                                                      : cn_config_key_for_flag(cn_apps, name);
    if (o == NULL && (key == NULL || (c->flags & CMD_NO_CONFIG))) {
        fprintf(stderr, "cairn %s: unknown option '%s'\n", c->name, name);
        return EXIT_USAGE;
    }
    int takes_value = o == NULL || o->arg != NULL;
    const char *v = !takes_value ? "" : eq ? eq + 1 : *i + 1 < argc ? argv[++*i] : NULL;
    if (v == NULL || (!takes_value && eq)) {
        fprintf(stderr, "cairn %s: %s '%s'\n", c->name,
                v == NULL ? "missing value for" : "no value allowed for", name);
        return EXIT_USAGE;
    }
    if (o != NULL && p->args.n_opts < MAX_OPTS) {
        p->args.names[p->args.n_opts] = o->name;
        p->args.values[p->args.n_opts++] = v;
    } else if (key != NULL && key[0] == '\0') {
        p->config_file = (char *)v;
    } else if (key != NULL) {
        p->flags[2 * p->n_flags] = key;
        p->flags[2 * p->n_flags + 1] = v;
        p->n_flags++;
    }
    return 0;
}

/* Fills p from argv; returns -1 after printing the help, 0, or an exit code. */
static int parse_args(const command_t *c, int argc, char **argv, parsed_t *p)
{
    for (int i = 0; i < argc; i++) {
        if (is_help(argv[i])) {
            print_command_help(stdout, c);
            return -1;
        }
        if (strncmp(argv[i], "--", 2) != 0) {
            p->args.argv[p->args.argc++] = argv[i];
            continue;
        }
        int rc = parse_option(c, argc, argv, &i, p);
        if (rc != 0)
            return rc;
    }
    /* "[X]" in the synopsis: the argument may be left out */
    int optional = c->args != NULL && c->args[0] == '[';
    if (p->args.argc != c->n_args && !(optional && p->args.argc < c->n_args)) {
        if (p->args.argc > c->n_args)
            fprintf(stderr, "cairn %s: unexpected argument '%s'\n", c->name,
                    p->args.argv[c->n_args]);
        else
            fprintf(stderr, "cairn %s: needs %s\n", c->name, c->args);
        return EXIT_USAGE;
    }
    for (const option_t *o = c->options; o && o->name; o++)
        if (o->required && opt(&p->args, o->name) == NULL) {
            fprintf(stderr, "cairn %s: %s %s is required\n", c->name, o->name, o->arg);
            return EXIT_USAGE;
        }
    return 0;
}

/* ---- shared by the commands ---- */

/* The one mapping from an error code to an exit code (see exit_codes). */
static int exit_for(int code)
{
    switch (code) {
    case 0: return 0;
    case CN_EINVAL:
    case CN_EVALIDATION: return EXIT_DATAERR;
    case CN_ENOTFOUND: return EXIT_NOINPUT;
    case CN_ECONFLICT: return EXIT_REFUSED;
    case CN_EBUSY: return EXIT_TEMPFAIL;
    case CN_ETOONEW: return EXIT_TOONEW;
    case CN_EUNSUPPORTED: return EXIT_CONFIG; /* store.url names an engine not built in */
    default: return EXIT_IOERR;
    }
}

/* Prints "cairn COMMAND: message" for a failed call and returns its exit code. */
static int fail(const char *command, int code, const cn_err_t *err)
{
    fprintf(stderr, "cairn %s: %s\n", command, err->msg);
    return exit_for(code);
}

/* The migration sets of every module in apply order, from the list the server runs. */
static int migration_sets(cn_migration_set_t *sets, size_t *n_sets, cn_err_t *err)
{
    const cn_app_t *modules[CN_MODULES_MAX + 1];
    int rc = cn_modules_list(cn_apps, modules, err);
    *n_sets = rc == 0 ? cn_migration_sets(modules, sets) : 0;
    return rc;
}

/*
 * Takes the data directory's lock (see instance.h) for a command that changes the schema,
 * so that no command migrates a database under a running server: the fd to release, -1
 * when no lock is needed, or a negative exit code below -1 after printing why (75:
 * another process, a server, holds it). PostgreSQL needs none: the nodes of a cluster
 * share its database by design, and cn_migrate holds a lock in the database itself.
 */
static int lock_data_dir(const cn_config_t *cfg, const char *command)
{
    if (cn_store_engine(cfg->store_url) == CN_ENGINE_POSTGRES)
        return -1;
    cn_err_t err = {0};
    int fd = cn_instance_lock(cfg->data_dir, &err);
    if (fd >= 0)
        return fd;
    fprintf(stderr, "cairn %s: %s%s\n", command, err.msg,
            fd == CN_EBUSY ? "; stop that server first (or let it migrate when it starts)" : "");
    return -exit_for(fd);
}

/* Applies pending migrations; under the data directory's lock when there are any. */
static int migrate_locked(cn_config_t *cfg, const char *command, cn_store_t *store)
{
    cn_migration_set_t sets[CN_MODULES_MAX];
    size_t n_sets;
    cn_err_t err = {0};
    cn_migrate_status_t st = {0};
    int rc = migration_sets(sets, &n_sets, &err);
    if (rc == 0)
        rc = cn_migrate_status(store, sets, n_sets, &st, &err);
    if (rc != 0)
        return fail(command, rc, &err);
    if (st.pending == 0) /* the usual case: a running server applied them */
        return 0;
    int lock = lock_data_dir(cfg, command);
    if (lock < -1)
        return -lock;
    rc = cn_migrate(store, sets, n_sets, 0, NULL, NULL, &err);
    cn_instance_unlock(lock);
    return rc == 0 ? 0 : fail(command, rc, &err);
}

/*
 * Opens the store for a command. must_exist: the command only reads or changes existing
 * data, so a missing database is an error (66) rather than a new, empty one created at a
 * mistyped --data. migrate: bring the schema up to date first (admin commands need it).
 */
static int open_store(cn_config_t *cfg, const char *command, int must_exist, int migrate,
                      cn_store_t **store)
{
    cn_err_t err = {0};
    int rc = cn_open_store(cfg, must_exist, store, &err);
    if (rc != 0)
        return fail(command, rc, &err);
    if (migrate && (rc = migrate_locked(cfg, command, *store)) != 0)
        cn_store_close(*store);
    return rc;
}

static void print_line(const char *line, void *ud)
{
    printf("%s\n", line);
}

/* ---- serve, migrate, backup, config, version ---- */

CMD(cmd_serve)
{
    cn_err_t err = {0};
    if (opt(a, "--allow-unusable-secrets") != NULL &&
        cn_config_set(cfg, "auth.allow_unusable_secrets", "true", CN_SRC_FLAG, &err) != 0)
        return fail("serve", CN_EINVAL, &err);
    return cn_server_run(cfg, cn_apps);
}

CMD(cmd_migrate)
{
    int dry_run = opt(a, "--dry-run") != NULL;
    cn_err_t err = {0};
    if (cn_store_driver_check(cfg->store_url, &err) != 0) /* before the lock creates DATA */
        return fail("migrate", err.code, &err);
    int lock = dry_run ? -1 : lock_data_dir(cfg, "migrate"); /* a dry run changes nothing */
    if (lock < -1)
        return -lock;
    cn_store_t *store;
    int rc = open_store(cfg, "migrate", 0, 0, &store);
    if (rc != 0) {
        cn_instance_unlock(lock);
        return rc;
    }
    cn_migrate_status_t st = {0};
    cn_migration_set_t sets[CN_MODULES_MAX];
    size_t n_sets;
    rc = migration_sets(sets, &n_sets, &err);
    if (rc == 0)
        rc = cn_migrate_status(store, sets, n_sets, &st, &err);
    if (rc == 0)
        rc = cn_migrate(store, sets, n_sets, dry_run, print_line, NULL, &err);
    cn_store_close(store);
    cn_instance_unlock(lock);
    if (rc != 0)
        return fail("migrate", rc, &err);
    printf("%d applied before, %d %s\n", st.applied, st.pending,
           dry_run ? "would be applied (dry run: nothing changed)" : "applied now");
    return 0;
}

CMD(cmd_backup)
{
    const char *file = a->argv[0];
    int force = opt(a, "--force") != NULL;
    if (!force && access(file, F_OK) == 0) { /* checked again, atomically, when it is linked */
        fprintf(stderr, "cairn backup: %s exists; use --force to replace it\n", file);
        return EXIT_EXISTS;
    }
    if (cn_store_engine(cfg->store_url) == CN_ENGINE_POSTGRES) {
        fprintf(stderr, "cairn backup: store.url names a PostgreSQL database, and cairn backup "
                        "copies SQLite: back PostgreSQL up with pg_dump --format=custom "
                        "\"$CAIRN_DATABASE_URL\" (see docs/operations.md)\n");
        return EXIT_CONFIG;
    }
    cn_store_t *store;
    int rc = open_store(cfg, "backup", 1, 0, &store);
    if (rc != 0)
        return rc;
    cn_err_t err = {0};
    rc = cn_store_backup(store, file, force, &err);
    cn_store_close(store);
    if (rc != 0) {
        fprintf(stderr, "cairn backup: %s%s\n", err.msg,
                rc == CN_ECONFLICT ? "; use --force to replace it" : "");
        return rc == CN_ECONFLICT ? EXIT_EXISTS : EXIT_IOERR;
    }
    printf("backup written to %s\n", file);
    return 0;
}

CMD(cmd_config_check)
{
    cn_config_print(cfg, stdout);
    return 0;
}

CMD(cmd_config_keys)
{
    if (opt(a, "--markdown") != NULL) {
        cn_config_print_markdown(cn_apps, stdout);
        return 0;
    }
    printf("Configuration keys (key, environment variable, flag, default), by module:\n");
    cn_config_print_help(cn_apps, stdout);
    return 0;
}

CMD(cmd_openapi)
{
    cn_err_t err = {0};
    const cn_app_t *modules[CN_MODULES_MAX + 1];
    int rc = cn_modules_list(cn_apps, modules, &err);
    if (rc != 0)
        return fail("openapi", rc, &err);
    json_t *doc = cn_openapi_build(modules);
    cn_buf_t b = {0};
    cn_json_dump(doc, &b);
    json_decref(doc);
    int ok = fwrite(b.data, 1, b.len, stdout) == b.len && fputc('\n', stdout) != EOF;
    cn_buf_free(&b);
    return ok ? 0 : EXIT_IOERR;
}

CMD(cmd_version)
{
    printf("cairn %s\n", CAIRN_VERSION);
    return 0;
}

/* ---- tenants and users ---- */

CMD(cmd_tenant_create)
{
    cn_store_t *store;
    int rc = open_store(cfg, "tenant create", 0, 1, &store);
    if (rc != 0)
        return rc;
    cn_err_t err = {0};
    char id[40];
    rc = auth_tenant_create(store, opt(a, "--slug"), opt(a, "--name"), id, &err);
    cn_store_close(store);
    if (rc != 0)
        return fail("tenant create", rc, &err);
    printf("%s\n", id);
    return 0;
}

/* Text columns must stay on one line: control characters (a name may hold any) become '?'. */
static void put_field(const char *s, int width)
{
    int n = 0;
    for (; *s; s++, n++)
        putchar((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
    for (; n < width; n++)
        putchar(' ');
}

/* What a listing callback writes to: the JSON array (--json), or text with its header. */
typedef struct {
    json_t *json;
    const char *header;
} listing_t;

/* The header goes out with the first line, so a failed lookup prints nothing on stdout. */
static json_t *listing_row(listing_t *l)
{
    if (l->json == NULL && l->header != NULL) {
        fputs(l->header, stdout);
        l->header = NULL;
    }
    return l->json;
}

/* Ends a listing: the header of an empty text list, or the JSON array (then freed). */
static int listing_end(listing_t *l, int rc)
{
    if (rc == 0)
        listing_row(l);
    if (rc == 0 && l->json != NULL) {
        json_dumpf(l->json, stdout, JSON_INDENT(2));
        putchar('\n');
    }
    json_decref(l->json);
    return rc;
}

static void print_tenant(const auth_tenant_row_t *t, void *ud)
{
    char at[40];
    cn_format_rfc3339(t->created_at, at);
    json_t *json = listing_row(ud);
    if (json != NULL) {
        /* JSON times are Unix ms, as in the API; the table shows RFC 3339 */
        json_array_append_new(json,
                              json_pack("{s:s, s:s, s:s, s:I}", "id", t->id, "slug", t->slug,
                                        "name", t->name, "created_at", (json_int_t)t->created_at));
        return;
    }
    put_field(t->slug, 24);
    printf("  %-36s  %-24s  ", t->id, at);
    put_field(t->name, 0);
    putchar('\n');
}

CMD(cmd_tenant_list)
{
    cn_store_t *store;
    int rc = open_store(cfg, "tenant list", 1, 1, &store);
    if (rc != 0)
        return rc;
    listing_t l = {opt(a, "--json") ? json_array() : NULL,
                   "SLUG                      ID                                    CREATED"
                   "                   NAME\n"};
    cn_err_t err = {0};
    rc = listing_end(&l, auth_tenants_each(store, print_tenant, &l, &err));
    cn_store_close(store);
    return rc == 0 ? 0 : fail("tenant list", rc, &err);
}

static void print_member(const auth_member_row_t *m, void *ud)
{
    char until[40] = "no";
    int locked = m->locked_until > cn_now_ms();
    if (locked)
        cn_format_rfc3339(m->locked_until, until);
    json_t *json = listing_row(ud);
    if (json != NULL) {
        json_array_append_new(
            json, json_pack("{s:s, s:s, s:s, s:b, s:o}", "id", m->id, "email", m->email, "role",
                            m->role, "mfa", m->mfa, "locked_until",
                            locked ? json_integer((json_int_t)m->locked_until) : json_null()));
        return;
    }
    put_field(m->email, 32);
    printf("  %-8s  %-3s  %-24s  %s\n", m->role, m->mfa ? "on" : "off", until, m->id);
}

CMD(cmd_user_list)
{
    cn_store_t *store;
    int rc = open_store(cfg, "user list", 1, 1, &store);
    if (rc != 0)
        return rc;
    listing_t l = {
        opt(a, "--json") ? json_array() : NULL,
        "EMAIL                             ROLE      MFA  LOCKED UNTIL              ID\n"};
    cn_err_t err = {0};
    rc = listing_end(&l, auth_members_each(store, opt(a, "--tenant"), print_member, &l, &err));
    cn_store_close(store);
    return rc == 0 ? 0 : fail("user list", rc, &err);
}

/* Reads one line from the terminal without echo; 0, or -1 when there is no terminal. */
/* PW_MAX: room for the policy's longest password (256 characters of up to 4 bytes). */
enum { PW_MAX = 1100 };

/* One line into buf without its line end: 0, -1 when none could be read, -2 when it did
 * not fit (never cut short: the stored password would not be the one typed). */
static int read_line(FILE *in, char *buf, size_t cap)
{
    if (fgets(buf, (int)cap, in) == NULL)
        return -1;
    size_t n = strcspn(buf, "\r\n");
    int whole = buf[n] != '\0' || feof(in);
    buf[n] = '\0';
    return whole ? 0 : -2;
}

static int prompt(FILE *in, FILE *out, const char *label, char *buf, size_t cap)
{
    struct termios old, quiet;
    tcgetattr(fileno(in), &old);
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    tcsetattr(fileno(in), TCSAFLUSH, &quiet);
    fputs(label, out);
    fflush(out);
    int rc = read_line(in, buf, cap);
    fputs("\n", out);
    tcsetattr(fileno(in), TCSAFLUSH, &old);
    return rc;
}

/*
 * Reads the password: one line from stdin, or twice from the terminal without echo.
 * Returns 0, EXIT_USAGE when none could be read, EXIT_DATAERR when the two entries differ
 * or a line is longer than buf.
 */
static int read_password(int from_stdin, char *buf, size_t cap)
{
    if (from_stdin) {
        int got = read_line(stdin, buf, cap);
        return got == 0 ? 0 : got == -1 ? EXIT_USAGE : EXIT_DATAERR;
    }
    /* separate streams: reading and writing one FILE needs a seek in between */
    FILE *in = fopen("/dev/tty", "r"), *out = in ? fopen("/dev/tty", "w") : NULL;
    char again[PW_MAX];
    int rc = out == NULL ? EXIT_USAGE : 0, got = 0;
    if (rc == 0 && ((got = prompt(in, out, "Password: ", buf, cap)) != 0 ||
                    (got = prompt(in, out, "Repeat: ", again, sizeof(again))) != 0))
        rc = got == -2 ? EXIT_DATAERR : EXIT_USAGE;
    if (rc == 0 && strcmp(buf, again) != 0)
        rc = EXIT_DATAERR;
    sodium_memzero(again, sizeof(again));
    if (in)
        fclose(in);
    if (out)
        fclose(out);
    return rc;
}

/* The password for command, or an exit code after a message. */
static int get_password(const char *command, const args_t *a, char *buf, size_t cap)
{
    int rc = read_password(opt(a, "--password-stdin") != NULL, buf, cap);
    if (rc == EXIT_USAGE)
        fprintf(stderr, "cairn %s: no password read (without a terminal use --password-stdin)\n",
                command);
    else if (rc != 0)
        fprintf(stderr,
                "cairn %s: the two entries differ, or the password is longer than %d "
                "bytes\n",
                command, PW_MAX - 2);
    return rc;
}

CMD(cmd_user_create)
{
    char password[PW_MAX];
    int rc = get_password("user create", a, password, sizeof(password));
    cn_store_t *store;
    if (rc == 0 && (rc = open_store(cfg, "user create", 0, 1, &store)) == 0) {
        cn_err_t err = {0};
        char id[40];
        rc = auth_user_create(store, opt(a, "--tenant"), opt(a, "--email"), opt(a, "--role"),
                              password, id, &err);
        cn_store_close(store);
        if (rc == 0)
            printf("%s\n", id);
        rc = rc == 0 ? 0 : fail("user create", rc, &err);
    }
    sodium_memzero(password, sizeof(password));
    return rc;
}

CMD(cmd_user_set_password)
{
    char password[PW_MAX];
    int rc = get_password("user set-password", a, password, sizeof(password));
    cn_store_t *store;
    if (rc == 0 && (rc = open_store(cfg, "user set-password", 1, 1, &store)) == 0) {
        cn_err_t err = {0};
        int64_t n = 0;
        rc = auth_user_set_password(store, opt(a, "--tenant"), opt(a, "--email"), password, &n,
                                    &err);
        cn_store_close(store);
        if (rc == 0)
            printf("password set; %lld sessions ended\n", (long long)n);
        rc = rc == 0 ? 0 : fail("user set-password", rc, &err);
    }
    sodium_memzero(password, sizeof(password));
    return rc;
}

/* What an admin's POST /api/v1/users/{id}/unlock does, found by e-mail. */
CMD(cmd_user_unlock)
{
    cn_store_t *store;
    int rc = open_store(cfg, "user unlock", 1, 1, &store);
    if (rc != 0)
        return rc;
    cn_err_t err = {0};
    int64_t n = 0;
    rc = auth_user_unlock(store, opt(a, "--tenant"), opt(a, "--email"), &n, &err);
    cn_store_close(store);
    if (rc != 0)
        return fail("user unlock", rc, &err);
    printf("%lld sign-in failure records cleared\n", (long long)n);
    return 0;
}

/* ---- keys, audit ---- */

/* Opens the store and the vault that seals the signing keys, for the keys commands. */
static int open_keys(cn_config_t *cfg, const char *command, cn_store_t **store)
{
    int rc = open_store(cfg, command, 0, 1, store);
    if (rc != 0)
        return rc;
    cn_err_t err = {0};
    if ((rc = auth_secrets_open(cfg, *store, &err)) != 0) {
        cn_store_close(*store);
        if (rc != CN_EINVAL)
            return fail(command, rc, &err);
        fprintf(stderr, "cairn %s: %s\n", command, err.msg); /* the key file: as serve says */
        return EXIT_CONFIG;
    }
    return 0;
}

static void close_keys(cn_store_t *store)
{
    cn_store_close(store);
    auth_keys_free();
    auth_vault_close();
}

CMD(cmd_keys_rotate)
{
    cn_store_t *store;
    int rc = open_keys(cfg, "keys rotate", &store);
    if (rc != 0)
        return rc;
    cn_err_t err = {0};
    char kid[40];
    rc = auth_keys_rotate(store, kid, &err);
    close_keys(store);
    if (rc != 0)
        return fail("keys rotate", rc, &err);
    printf("new signing key %s; running servers sign with it within a second\n", kid);
    return 0;
}

static void print_retired(const char *kid, void *ud)
{
    (*(int *)ud)++;
    printf("retired signing key %s\n", kid);
}

CMD(cmd_keys_retire)
{
    cn_store_t *store;
    int rc = open_keys(cfg, "keys retire", &store);
    if (rc != 0)
        return rc;
    cn_err_t err = {0};
    int retired = 0;
    rc = auth_keys_retire(store, a->argc == 1 ? a->argv[0] : NULL, print_retired, &retired, &err);
    close_keys(store);
    if (rc != 0)
        return fail("keys retire", rc, &err);
    printf("%d signing keys retired; tokens they signed are refused from now on\n", retired);
    return 0;
}

CMD(cmd_audit_verify)
{
    cn_store_t *store;
    int rc = open_store(cfg, "audit verify", 1, 1, &store);
    if (rc != 0)
        return rc;
    cn_err_t err = {0};
    int64_t n = 0;
    rc = auth_audit_verify(store, &n, &err);
    cn_store_close(store);
    if (rc == CN_EVALIDATION) { /* the check ran and failed: not bad input */
        fprintf(stderr, "cairn audit verify: %s\n", err.msg);
        return EXIT_REFUSED;
    }
    if (rc != 0)
        return fail("audit verify", rc, &err);
    printf("audit log intact: %lld entries\n", (long long)n);
    return 0;
}

/* ---- jobs ---- */

/* Parses a non-negative integer option; -1 when it is not one. */
static long long count_opt(const char *v)
{
    char *end;
    long long n = v[0] >= '0' && v[0] <= '9' ? strtoll(v, &end, 10) : -1;
    return n >= 0 && *end == '\0' ? n : -1;
}

/* Runs fn on the store of an existing database; CN_* codes become exit codes. */
static int with_jobs_store(cn_config_t *cfg, const char *command,
                           int (*fn)(cn_store_t *, const args_t *, cn_err_t *), const args_t *a)
{
    cn_store_t *store;
    int rc = open_store(cfg, command, 1, 1, &store);
    if (rc != 0)
        return rc;
    cn_err_t err = {0};
    rc = fn(store, a, &err);
    cn_store_close(store);
    return rc == 0 ? 0 : fail(command, rc, &err);
}

static int jobs_list(cn_store_t *s, const args_t *a, cn_err_t *err)
{
    const char *limit = opt(a, "--limit");
    return cn_jobs_print_list(s, opt(a, "--state"), opt(a, "--name"), limit ? count_opt(limit) : 50,
                              stdout, err);
}

CMD(cmd_jobs_list)
{
    const char *state = opt(a, "--state"), *limit = opt(a, "--limit");
    if (state && !cn_jobs_state_valid(state)) {
        fprintf(stderr,
                "cairn jobs list: --state must be one of queued, running, done, dead "
                "(got \"%s\")\n",
                state);
        return EXIT_USAGE;
    }
    if (limit && count_opt(limit) < 1) {
        fprintf(stderr, "cairn jobs list: --limit must be a positive integer\n");
        return EXIT_USAGE;
    }
    return with_jobs_store(cfg, "jobs list", jobs_list, a);
}

static int jobs_show(cn_store_t *s, const args_t *a, cn_err_t *err)
{
    return cn_jobs_print_one(s, a->argv[0], stdout, err);
}

CMD(cmd_jobs_show)
{
    return with_jobs_store(cfg, "jobs show", jobs_show, a);
}

static int jobs_retry(cn_store_t *s, const args_t *a, cn_err_t *err)
{
    int rc = cn_jobs_retry(s, NULL, a->argv[0], err);
    if (rc == 0)
        printf("job %s queued again; a running server's workers pick it up within jobs.poll_ms\n",
               a->argv[0]);
    return rc;
}

CMD(cmd_jobs_retry)
{
    return with_jobs_store(cfg, "jobs retry", jobs_retry, a);
}

static int jobs_purge(cn_store_t *s, const args_t *a, cn_err_t *err)
{
    const char *state = opt(a, "--state") ? opt(a, "--state") : "done";
    const char *older = opt(a, "--older-than");
    int64_t purged = 0;
    int rc =
        cn_jobs_purge(s, state, cn_now_ms() - (older ? count_opt(older) : 0) * 1000, &purged, err);
    if (rc == 0)
        printf("%lld %s jobs purged\n", (long long)purged, state);
    return rc;
}

CMD(cmd_jobs_purge)
{
    const char *state = opt(a, "--state"), *older = opt(a, "--older-than");
    if (state && strcmp(state, "done") != 0 && strcmp(state, "dead") != 0) {
        fprintf(stderr, "cairn jobs purge: --state must be one of done, dead (got \"%s\")\n",
                state);
        return EXIT_USAGE;
    }
    if (older && count_opt(older) < 0) {
        fprintf(stderr, "cairn jobs purge: --older-than must be a non-negative integer\n");
        return EXIT_USAGE;
    }
    return with_jobs_store(cfg, "jobs purge", jobs_purge, a);
}

/* ---- main ---- */

/* Parses the command's arguments, loads the configuration and runs it. */
static int run_command(const command_t *c, int argc, char **argv)
{
    parsed_t p = {.flags = cn_calloc((size_t)argc * 2 + 1, sizeof(char *))};
    p.args.argv = cn_calloc((size_t)argc + 1, sizeof(char *));
    cn_config_t cfg;
    cn_config_defaults(&cfg);
    int rc = parse_args(c, argc, argv, &p);
    if (rc == 0 && !(c->flags & CMD_NO_CONFIG)) {
        cn_err_t err = {0};
        cfg.config_file = p.config_file ? cn_strdup(p.config_file) : NULL;
        if (cn_config_load(&cfg, cn_apps, environ, p.flags, p.n_flags, &err) != 0) {
            fprintf(stderr, "cairn: configuration error: %s\n", err.msg);
            rc = EXIT_CONFIG;
        }
    }
    if (rc == 0) {
        cn_log_init(cfg.log_level, cfg.access_log);
        rc = c->run(&cfg, &p.args);
    }
    cn_config_free(&cfg);
    free(p.flags);
    free(p.args.argv);
    return rc < 0 ? 0 : rc; /* -1: the help was printed */
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "help") == 0 || is_help(argv[1]))
        return run_help(argc - 2, argv + 2);
    if (strcmp(argv[1], "--version") == 0)
        return cmd_version(NULL, NULL);
    int used, rc;
    const command_t *c = resolve(argc - 1, argv + 1, &used, &rc);
    return c == NULL ? rc : run_command(c, argc - 1 - used, argv + 1 + used);
}
