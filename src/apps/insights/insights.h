/*
 * insights: customer insights. Interactions are ingested (one, a batch, or a CSV import),
 * scored with VADER by a background job, folded into customer profiles and trend
 * rollups, mined for behaviour patterns, and read back through filtered lists, trends,
 * metrics and full-text search. Events go out on the tenant's "insights" channel.
 */
#ifndef CAIRN_APPS_INSIGHTS_H
#define CAIRN_APPS_INSIGHTS_H

#include "core/module.h"

extern const cn_app_t insights_app;

#endif
