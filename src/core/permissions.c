/*
 * The permission index (see permissions.h): an open-addressing table keyed by the
 * permission's name, at most half full, so a lookup on the request path is one hash of a
 * short string and usually one comparison. Keys point into the modules' static tables,
 * which outlive the index. Built before the loops start; never written while they run.
 */
#include "core/permissions.h"

#include <stdlib.h>
#include <string.h>

const char *const cn_role_names[] = {"owner", "admin", "member", "viewer", NULL};

#define KNOWN_ROLES (CN_ROLES_ALL | CN_ROLE_NONE)

typedef struct {
    const char *name; /* NULL: empty slot */
    const cn_app_t *module;
    unsigned roles;
} slot_t;

typedef struct {
    slot_t *slots;
    size_t mask; /* capacity - 1; capacity is a power of two */
} index_t;

static index_t perm_index;

static slot_t *find_slot(const index_t *ix, const char *name)
{
    size_t i = (size_t)cn_hash_str(name) & ix->mask;
    while (ix->slots[i].name != NULL && strcmp(ix->slots[i].name, name) != 0)
        i = (i + 1) & ix->mask;
    return &ix->slots[i];
}

static int check_roles(const cn_app_t *m, const cn_permission_t *p, cn_err_t *err)
{
    if (p->roles == 0)
        return cn_err_set(err, CN_EINVAL,
                          "module %s: permission %s does not declare which built-in roles hold"
                          " it (.roles: CN_ROLE_* bits, or CN_ROLE_NONE)",
                          m->name, p->name);
    if ((p->roles & ~KNOWN_ROLES) != 0 || (p->roles & CN_ROLE_NONE && p->roles != CN_ROLE_NONE))
        return cn_err_set(err, CN_EINVAL,
                          "module %s: permission %s declares roles 0x%x: CN_ROLE_NONE stands"
                          " alone, and only CN_ROLE_OWNER, _ADMIN, _MEMBER, _VIEWER exist",
                          m->name, p->name, p->roles);
    return 0;
}

static int add_module(index_t *ix, const cn_app_t *m, cn_err_t *err)
{
    for (const cn_permission_t *p = m->permissions; p && p->name; p++) {
        int rc = check_roles(m, p, err);
        if (rc != 0)
            return rc;
        slot_t *s = find_slot(ix, p->name);
        if (s->name != NULL)
            return cn_err_set(err, CN_EINVAL,
                              "module %s: permission %s is already declared by module %s", m->name,
                              p->name, s->module->name);
        *s = (slot_t){p->name, m, p->roles};
    }
    return 0;
}

/* A channel whose permission nobody declares could never be granted to any role. */
static int check_channels(const index_t *ix, const cn_app_t *const *modules, cn_err_t *err)
{
    for (const cn_app_t *const *m = modules; *m; m++)
        for (const cn_channel_t *ch = (*m)->channels; ch && ch->prefix; ch++)
            if (ch->permission == NULL || find_slot(ix, ch->permission)->name == NULL)
                return cn_err_set(
                    err, CN_EINVAL, "module %s: channel %s needs undeclared permission %s",
                    (*m)->name, ch->prefix, ch->permission ? ch->permission : "(none)");
    return 0;
}

int cn_permissions_build(const cn_app_t *const *modules, cn_err_t *err)
{
    size_t n = 0, cap = 16;
    for (const cn_app_t *const *m = modules; *m; m++)
        for (const cn_permission_t *p = (*m)->permissions; p && p->name; p++)
            n++;
    while (cap < 2 * n)
        cap *= 2;
    index_t ix = {cn_calloc(cap, sizeof(slot_t)), cap - 1};
    int rc = 0;
    for (const cn_app_t *const *m = modules; rc == 0 && *m; m++)
        rc = add_module(&ix, *m, err);
    if (rc == 0)
        rc = check_channels(&ix, modules, err);
    if (rc != 0) {
        free(ix.slots);
        return rc;
    }
    free(perm_index.slots);
    perm_index = ix;
    return 0;
}

void cn_permissions_free(void)
{
    free(perm_index.slots);
    perm_index = (index_t){0};
}

unsigned cn_permission_roles(const char *permission)
{
    if (perm_index.slots == NULL)
        return 0;
    const slot_t *s = find_slot(&perm_index, permission);
    return s->name != NULL ? s->roles : 0;
}

int cn_permission_exists(const char *permission)
{
    return cn_permission_roles(permission) != 0;
}
