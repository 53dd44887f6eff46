/*
 * Unit tests for the built-in roles (src/auth/rbac.h): the full role x permission table,
 * the "self.*" permissions every role holds, suffix matching that must not be fooled by
 * look-alike names, and unknown roles, which grant nothing at all.
 */
#include "auth/rbac.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static const char *const ROLES[] = {"owner", "admin", "member", "viewer"};

/* One row per permission: what owner, admin, member and viewer get, in that order. */
typedef struct {
    const char *permission;
    int allowed[4];
} row_t;

static const row_t TABLE[] = {
    /* the notes module's permissions */
    {"notes.read", {1, 1, 1, 1}},
    {"notes.write", {1, 1, 1, 0}},
    /* a module's administrative permission: owner and admin only */
    {"notes.manage", {1, 1, 0, 0}},
    {"tenant.manage", {1, 1, 0, 0}},
    {"users.manage", {1, 1, 0, 0}},
    /* other verbs: everyone but the viewer */
    {"billing.write", {1, 1, 1, 0}},
    {"files.delete", {1, 1, 1, 0}},
    {"reports.export", {1, 1, 1, 0}},
    /* reading is for everyone */
    {"billing.read", {1, 1, 1, 1}},
    {"users.read", {1, 1, 1, 1}},
    /* platform permissions sit above every tenant: no tenant role holds them */
    {"platform.tenants", {0, 0, 0, 0}},
    {"platform.tenants.read", {0, 0, 0, 0}},
    /* the auth module's own permissions: every role */
    {"self.read", {1, 1, 1, 1}},
    {"self.sessions", {1, 1, 1, 1}},
    /* "self." wins over the suffix rules: a viewer may do anything to itself */
    {"self.write", {1, 1, 1, 1}},
    {"self.manage", {1, 1, 1, 1}},
    /* look-alikes: only an exact ".read" / ".manage" suffix and "self." prefix count */
    {"notes.reader", {1, 1, 1, 0}},
    {"notes.readonly", {1, 1, 1, 0}},
    {"notes.unread", {1, 1, 1, 0}},
    {"notes.manager", {1, 1, 1, 0}},
    {"notes.mismanage", {1, 1, 1, 0}},
    {"read", {1, 1, 1, 0}},
    {"manage", {1, 1, 1, 0}},
    {"selfish.write", {1, 1, 1, 0}},
    {"self", {1, 1, 1, 0}},
    {"myself.sessions", {1, 1, 1, 0}},
    {"notes.READ", {1, 1, 1, 0}},
    {"notes.MANAGE", {1, 1, 1, 0}},
    {"SELF.read", {1, 1, 1, 1}}, /* allowed to a viewer through ".read", not through "self." */
    {"SELF.write", {1, 1, 1, 0}},
};

static void test_role_table(void **state)
{
    int checked = 0;
    for (size_t i = 0; i < sizeof(TABLE) / sizeof(TABLE[0]); i++)
        for (size_t r = 0; r < 4; r++) {
            int got = auth_role_allows(ROLES[r], TABLE[i].permission);
            if (got != TABLE[i].allowed[r])
                fail_msg("role %s, permission %s: expected %d, got %d", ROLES[r],
                         TABLE[i].permission, TABLE[i].allowed[r], got);
            checked++;
        }
    assert_int_equal(checked, 4 * (int)(sizeof(TABLE) / sizeof(TABLE[0])));
}

static void test_owner_and_admin_hold_every_tenant_permission(void **state)
{
    static const char *const perms[] = {"notes.read",   "notes.write", "notes.manage",
                                        "a.b.c.manage", "x",           "self.sessions",
                                        "tenant.delete"};
    for (size_t i = 0; i < sizeof(perms) / sizeof(perms[0]); i++) {
        assert_int_equal(auth_role_allows("owner", perms[i]), 1);
        assert_int_equal(auth_role_allows("admin", perms[i]), 1);
    }
}

static void test_member_lacks_only_manage(void **state)
{
    assert_int_equal(auth_role_allows("member", "notes.write"), 1);
    assert_int_equal(auth_role_allows("member", "a.b.c.write"), 1);
    assert_int_equal(auth_role_allows("member", "notes.manage"), 0);
    assert_int_equal(auth_role_allows("member", "a.b.c.manage"), 0);
    assert_int_equal(auth_role_allows("member", ".manage"), 0);
    assert_int_equal(auth_role_allows("member", "self.manage"), 1);
}

static void test_viewer_reads_only(void **state)
{
    assert_int_equal(auth_role_allows("viewer", "notes.read"), 1);
    assert_int_equal(auth_role_allows("viewer", "a.b.c.read"), 1);
    assert_int_equal(auth_role_allows("viewer", ".read"), 1);
    assert_int_equal(auth_role_allows("viewer", "notes.write"), 0);
    assert_int_equal(auth_role_allows("viewer", "notes.manage"), 0);
    assert_int_equal(auth_role_allows("viewer", "notes.read.write"), 0);
    assert_int_equal(auth_role_allows("viewer", "self.sessions"), 1);
}

static void test_unknown_roles_grant_nothing(void **state)
{
    static const char *const unknown[] = {"",         "root",   "Owner",   "OWNER",
                                          "admin ",   " admin", "own",     "owners",
                                          "viewer\n", "guest",  "member.", "superadmin"};
    static const char *const perms[] = {"notes.read", "notes.write",   "notes.manage",
                                        "self.read",  "self.sessions", "x"};
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++)
        for (size_t p = 0; p < sizeof(perms) / sizeof(perms[0]); p++)
            if (auth_role_allows(unknown[i], perms[p]) != 0)
                fail_msg("unknown role '%s' was granted %s", unknown[i], perms[p]);
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
        cmocka_unit_test(test_role_table),
        cmocka_unit_test(test_owner_and_admin_hold_every_tenant_permission),
        cmocka_unit_test(test_member_lacks_only_manage),
        cmocka_unit_test(test_viewer_reads_only),
        cmocka_unit_test(test_unknown_roles_grant_nothing),
        cmocka_unit_test(test_role_valid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
