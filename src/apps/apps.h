/*
 * The application table: every app linked into this binary, in migration order.
 */
#ifndef CAIRN_APPS_APPS_H
#define CAIRN_APPS_APPS_H

#include "core/module.h"

/** NULL-terminated. */
extern const cn_app_t *const cn_apps[];

#endif
