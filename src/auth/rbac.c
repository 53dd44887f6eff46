/* Built-in roles (see rbac.h). */
#include "auth/rbac.h"

#include <string.h>

static const char *const roles[] = {"owner", "admin", "member", "viewer", NULL};

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

int auth_role_valid(const char *role)
{
    for (const char *const *r = roles; *r; r++)
        if (strcmp(*r, role) == 0)
            return 1;
    return 0;
}

int auth_role_allows(const char *role, const char *permission)
{
    if (!auth_role_valid(role))
        return 0;
    if (strncmp(permission, "self.", 5) == 0)
        return 1;
    if (strncmp(permission, "platform.", 9) == 0) /* above every tenant: the operator only */
        return 0;
    if (strcmp(role, "owner") == 0 || strcmp(role, "admin") == 0)
        return 1;
    if (strcmp(role, "member") == 0)
        return !ends_with(permission, ".manage");
    return ends_with(permission, ".read"); /* viewer */
}
