/*
 * notes: the kernel's demo module. Small on purpose: it exercises the whole module
 * contract (migrations, routes, permissions, schemas, tenant scoping, cursor pagination)
 * and is the shape later apps copy.
 */
#ifndef CAIRN_APPS_NOTES_H
#define CAIRN_APPS_NOTES_H

#include "core/module.h"

extern const cn_app_t notes_app;

#endif
