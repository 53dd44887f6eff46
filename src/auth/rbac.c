/* Built-in roles (see rbac.h): a role's bit against the permission's declared roles. */
#include "auth/rbac.h"
#include "core/permissions.h"

#include <string.h>

/* The role's CN_ROLE_* bit; 0 for anything that is not exactly a built-in role's name. */
static unsigned role_bit(const char *role)
{
    for (unsigned i = 0; cn_role_names[i]; i++)
        if (strcmp(cn_role_names[i], role) == 0)
            return 1u << i;
    return 0;
}

int auth_role_valid(const char *role)
{
    return role_bit(role) != 0;
}

int auth_role_allows(const char *role, const char *permission)
{
    unsigned bit = role_bit(role);
    return bit != 0 && (cn_permission_roles(permission) & bit) != 0;
}
