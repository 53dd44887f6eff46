/* The module table (see apps.h): identity first, then the apps. Adding one is a line. */
#include "apps/apps.h"
#include "auth/auth.h"
#include "apps/insights/insights.h"
#include "apps/notes/notes.h"
#include "core/realtime.h"

/* clang-format off */
const cn_app_t *const cn_apps[] = {
    &auth_module, /* first: apps may reference its tables */
    &cn_jobs_app, /* the job queue (core/jobs.c): apps enqueue into its table */
    &cn_realtime_app,
    &notes_app,
    &insights_app,
    NULL,
};
/* clang-format on */
