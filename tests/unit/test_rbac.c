/*
 * Unit tests for the built-in roles (src/auth/rbac.h) and the permission index they read
 * (src/core/permissions.h): the grants of the running modules, pinned as they were when
 * they still followed from the permission's suffix; grants that come from the declaration
 * and not from the name; the start-up refusal of a permission that declares no roles (the
 * server exits 78 naming the module and the permission); and unknown roles, which grant
 * nothing at all.
 */
#include "apps/apps.h"
#include "auth/rbac.h"
#include "core/permissions.h"
#include "core/router.h"
#include "core/server.h"
#include "core/system.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static const char *const ROLES[] = {"owner", "admin", "member", "viewer"};

/* One row per permission: what owner, admin, member and viewer get, in that order. */
typedef struct {
    const char *permission;
    int allowed[4];
} row_t;

/* Every permission the modules declared when the grants were still inferred from the
 * name ("*.manage" for owners and admins, "*.read" for everyone, the rest for members),
 * with what each role got then: declaring them must not have changed a single grant. */
static const row_t TODAY[] = {
    {"api_keys.manage", {1, 1, 0, 0}}, {"audit.manage", {1, 1, 0, 0}},
    {"roles.manage", {1, 1, 0, 0}},    {"tenant.manage", {1, 1, 0, 0}},
    {"users.manage", {1, 1, 0, 0}},    {"users.read", {1, 1, 1, 1}},
    {"self.read", {1, 1, 1, 1}},       {"self.delete", {1, 1, 1, 1}},
    {"self.sessions", {1, 1, 1, 1}},   {"platform.tenants", {0, 0, 0, 0}},
    {"jobs.manage", {1, 1, 0, 0}},     {"realtime.read", {1, 1, 1, 1}},
    {"notes.read", {1, 1, 1, 1}},      {"notes.write", {1, 1, 1, 0}},
    {"insights.read", {1, 1, 1, 1}},   {"insights.write", {1, 1, 1, 0}},
    {"insights.manage", {1, 1, 0, 0}},
};

/* The running server's module list: the system module, then the app table. */
static const cn_app_t *const *real_modules(void)
{
    static const cn_app_t *mods[32];
    size_t n = 0;
    mods[n++] = &cn_system_app;
    for (const cn_app_t *const *a = cn_apps; *a && n + 1 < CN_ARRAY_SIZE(mods); a++)
        mods[n++] = *a;
    mods[n] = NULL;
    return mods;
}

static void check_rows(const row_t *rows, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (size_t r = 0; r < 4; r++) {
            int got = auth_role_allows(ROLES[r], rows[i].permission);
            if (got != rows[i].allowed[r])
                fail_msg("role %s, permission %s: expected %d, got %d", ROLES[r],
                         rows[i].permission, rows[i].allowed[r], got);
        }
}

static void test_running_modules_grant_what_they_granted_before(void **state)
{
    cn_err_t err = {0};
    if (cn_permissions_build(real_modules(), &err) != 0)
        fail_msg("%s", err.msg);
    check_rows(TODAY, CN_ARRAY_SIZE(TODAY));
    /* and every permission the modules declare is one of those rows, or a new one that
     * declares its roles (the index refuses any other) */
    size_t declared = 0;
    for (const cn_app_t *const *m = real_modules(); *m; m++)
        for (const cn_permission_t *p = (*m)->permissions; p && p->name; p++, declared++)
            assert_int_not_equal(cn_permission_roles(p->name), 0);
    assert_true(declared >= CN_ARRAY_SIZE(TODAY));
    cn_permissions_free();
}

/* A module of made-up permissions whose names would mislead a suffix rule. */
static const cn_permission_t chat_perms[] = {
    {"chat.read", "Read the channels", CN_ROLES_ALL},
    {"chat.write", "Post", CN_ROLES_MEMBERS},
    {"chat.moderate", "Delete anyone's message", CN_ROLES_ADMINS},
    {"chat.history.read", "Read deleted messages", CN_ROLES_ADMINS},
    {"chat.pin.manage", "Pin messages", CN_ROLES_ALL},
    {"chat.export", "Export a channel", CN_ROLE_OWNER},
    {"chat.report", "Report a message", CN_ROLE_VIEWER},
    {"chat.bridge", "Bridge to another tenant", CN_ROLE_NONE},
    {0},
};
static const cn_channel_t chat_channels[] = {{"chat", "chat.read", "messages"}, {0}};
static const cn_app_t chat_app = {
    .name = "chat", .permissions = chat_perms, .channels = chat_channels};

static void test_grants_come_from_the_declaration_not_the_name(void **state)
{
    static const row_t rows[] = {
        {"chat.read", {1, 1, 1, 1}},
        {"chat.write", {1, 1, 1, 0}},
        {"chat.moderate", {1, 1, 0, 0}},     /* not every member's */
        {"chat.history.read", {1, 1, 0, 0}}, /* ".read", yet not the viewer's */
        {"chat.pin.manage", {1, 1, 1, 1}},   /* ".manage", yet everyone's */
        {"chat.export", {1, 0, 0, 0}},       /* the owner alone */
        {"chat.report", {0, 0, 0, 1}},
        {"chat.bridge", {0, 0, 0, 0}}, /* declared for no built-in role */
        /* permissions no running module declares grant nothing, whatever their name */
        {"notes.read", {0, 0, 0, 0}},
        {"self.read", {0, 0, 0, 0}},
        {"chat", {0, 0, 0, 0}},
        {"chat.read.x", {0, 0, 0, 0}},
        {"CHAT.READ", {0, 0, 0, 0}},
        {"", {0, 0, 0, 0}},
    };
    const cn_app_t *mods[] = {&chat_app, NULL};
    cn_err_t err = {0};
    assert_int_equal(cn_permissions_build(mods, &err), 0);
    check_rows(rows, CN_ARRAY_SIZE(rows));
    assert_int_equal(cn_permission_roles("chat.bridge"), CN_ROLE_NONE);
    assert_int_equal(cn_permission_exists("chat.bridge"), 1);
    assert_int_equal(cn_permission_exists("chat.unknown"), 0);
    cn_permissions_free();
    /* without an index nothing is granted */
    assert_int_equal(auth_role_allows("owner", "chat.read"), 0);
    assert_int_equal(cn_permission_exists("chat.read"), 0);
}

/* Many permissions: every one is found with its own roles (the table grows, probes wrap). */
static void test_index_of_many_permissions(void **state)
{
    enum { N = 300 };
    static cn_permission_t perms[N + 1];
    static char names[N][24];
    static const unsigned masks[] = {CN_ROLES_ALL,  CN_ROLES_MEMBERS, CN_ROLES_ADMINS,
                                     CN_ROLE_OWNER, CN_ROLE_VIEWER,   CN_ROLE_NONE};
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "m%d.p%d", i % 7, i);
        perms[i] = (cn_permission_t){names[i], "", masks[i % 6]};
    }
    const cn_app_t big = {.name = "big", .permissions = perms};
    const cn_app_t *mods[] = {&big, NULL};
    cn_err_t err = {0};
    assert_int_equal(cn_permissions_build(mods, &err), 0);
    for (int i = 0; i < N; i++)
        assert_int_equal(cn_permission_roles(names[i]), masks[i % 6]);
    assert_int_equal(cn_permission_roles("m0.p300"), 0);
    cn_permissions_free();
}

/* Builds an index of {chat, bad} and expects a refusal that names both words. */
static void expect_refused(const cn_app_t *bad, const char *word1, const char *word2)
{
    const cn_app_t *good[] = {&chat_app, NULL};
    const cn_app_t *mods[] = {&chat_app, bad, NULL};
    cn_err_t err = {0};
    assert_int_equal(cn_permissions_build(good, &err), 0);
    assert_int_equal(cn_permissions_build(mods, &err), CN_EINVAL);
    if (strstr(err.msg, word1) == NULL || strstr(err.msg, word2) == NULL)
        fail_msg("the message does not name %s and %s: %s", word1, word2, err.msg);
    /* the index of before stays */
    assert_int_equal(auth_role_allows("member", "chat.write"), 1);
    cn_permissions_free();
}

static const cn_permission_t forgot_perms[] = {
    {"pay.read", "Read payments", CN_ROLES_ALL},
    {"pay.refund", "Refund a payment"}, /* no roles: the mistake */
    {0},
};
static const cn_app_t forgot_app = {.name = "payments", .permissions = forgot_perms};

static void test_refuses_a_permission_without_roles(void **state)
{
    expect_refused(&forgot_app, "module payments:", "permission pay.refund does not declare");
}

static void test_refuses_contradictory_or_unknown_role_bits(void **state)
{
    static const cn_permission_t mixed[] = {{"pay.x", "", CN_ROLE_NONE | CN_ROLE_OWNER}, {0}};
    static const cn_permission_t alien[] = {{"pay.y", "", CN_ROLE_OWNER | (1u << 9)}, {0}};
    const cn_app_t a = {.name = "mixed", .permissions = mixed};
    const cn_app_t b = {.name = "alien", .permissions = alien};
    expect_refused(&a, "module mixed:", "pay.x");
    expect_refused(&b, "module alien:", "pay.y");
}

static void test_refuses_a_permission_declared_twice(void **state)
{
    static const cn_permission_t again[] = {{"chat.write", "", CN_ROLES_ALL}, {0}};
    const cn_app_t dup = {.name = "chat2", .permissions = again};
    expect_refused(&dup, "module chat2: permission chat.write", "declared by module chat");
}

static void test_refuses_a_channel_of_an_undeclared_permission(void **state)
{
    static const cn_channel_t ch[] = {{"feed", "feed.read", ""}, {0}};
    const cn_app_t feed = {.name = "feed", .channels = ch};
    expect_refused(&feed, "module feed: channel feed", "feed.read");
}

/* The server refuses to start with such a module: configuration error, exit code 78, and
 * before anything touched the database. */
static void test_server_start_refuses_undeclared_roles(void **state)
{
    char dir[] = "/tmp/cairn-rbac-XXXXXX";
    assert_non_null(mkdtemp(dir));
    cn_config_t cfg;
    cn_config_defaults(&cfg);
    free(cfg.data_dir);
    cfg.data_dir = cn_strdup(dir);

    const cn_app_t *apps[] = {&chat_app, &forgot_app, NULL};
    cn_router_t *router = cn_router_new();
    cn_err_t err = {0};
    assert_int_equal(cn_system_init(&cfg, apps, router, &err), CN_EINVAL);
    assert_non_null(strstr(err.msg, "module payments: permission pay.refund"));
    cn_system_free();
    cn_router_free(router);

    assert_int_equal(cn_server_run(&cfg, apps), 78);
    char db[300];
    snprintf(db, sizeof(db), "%s/cairn.db", dir);
    assert_int_not_equal(access(db, F_OK), 0);

    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    cn_config_free(&cfg);
}

static void test_unknown_roles_grant_nothing(void **state)
{
    static const char *const unknown[] = {"",         "root",   "Owner",   "OWNER",
                                          "admin ",   " admin", "own",     "owners",
                                          "viewer\n", "guest",  "member.", "superadmin"};
    cn_err_t err = {0};
    assert_int_equal(cn_permissions_build(real_modules(), &err), 0);
    for (size_t i = 0; i < CN_ARRAY_SIZE(unknown); i++)
        for (size_t p = 0; p < CN_ARRAY_SIZE(TODAY); p++)
            if (auth_role_allows(unknown[i], TODAY[p].permission) != 0)
                fail_msg("unknown role '%s' was granted %s", unknown[i], TODAY[p].permission);
    cn_permissions_free();
}

static void test_role_valid(void **state)
{
    for (size_t r = 0; r < 4; r++)
        assert_int_equal(auth_role_valid(ROLES[r]), 1);
    assert_int_equal(auth_role_valid(""), 0);
    assert_int_equal(auth_role_valid("root"), 0);
    assert_int_equal(auth_role_valid("Owner"), 0);
    assert_int_equal(auth_role_valid("ADMIN"), 0);
    assert_int_equal(auth_role_valid("owners"), 0);
    assert_int_equal(auth_role_valid("own"), 0);
    assert_int_equal(auth_role_valid("viewer "), 0);
    assert_int_equal(auth_role_valid("member\n"), 0);
    assert_int_equal(auth_role_valid("guest"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_running_modules_grant_what_they_granted_before),
        cmocka_unit_test(test_grants_come_from_the_declaration_not_the_name),
        cmocka_unit_test(test_index_of_many_permissions),
        cmocka_unit_test(test_refuses_a_permission_without_roles),
        cmocka_unit_test(test_refuses_contradictory_or_unknown_role_bits),
        cmocka_unit_test(test_refuses_a_permission_declared_twice),
        cmocka_unit_test(test_refuses_a_channel_of_an_undeclared_permission),
        cmocka_unit_test(test_server_start_refuses_undeclared_roles),
        cmocka_unit_test(test_unknown_roles_grant_nothing),
        cmocka_unit_test(test_role_valid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
