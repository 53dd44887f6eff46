/* The application table (see apps.h). Adding an app is one line here. */
#include "apps/apps.h"
#include "apps/notes/notes.h"

const cn_app_t *const cn_apps[] = {
    &notes_app,
    NULL,
};
