/* The module table (see apps.h): identity first, then the apps. Adding one is a line. */
#include "apps/apps.h"
#include "auth/auth.h"
#include "apps/notes/notes.h"

const cn_app_t *const cn_apps[] = {
    &auth_module, /* first: apps may reference its tables */
    &notes_app,
    NULL,
};
