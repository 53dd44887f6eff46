/*
 * The answers of the insights routes, declared as schemas: the route rows point at them
 * (.response) and the OpenAPI document renders them, so typed clients see them.
 */
#ifndef CAIRN_APPS_INSIGHTS_ANSWERS_H
#define CAIRN_APPS_INSIGHTS_ANSWERS_H

#include "core/router.h"

extern const cn_schema_t ins_ingested_answer;
/** The other success answer of a single ingest: 200 for a retry (duplicate: true). */
extern const cn_answer_t ins_ingest_also[];
extern const cn_schema_t ins_batch_answer;
extern const cn_schema_t ins_import_queued_answer;
extern const cn_schema_t ins_import_answer;
extern const cn_schema_t ins_search_answer;
extern const cn_schema_t ins_list_answer;
extern const cn_schema_t ins_trends_answer;
extern const cn_schema_t ins_metrics_answer;
extern const cn_schema_t ins_settings_answer;
extern const cn_schema_t ins_sentiment_answer;
extern const cn_schema_t ins_sentiment_batch_answer;
extern const cn_schema_t ins_customer_answer;
extern const cn_schema_t ins_customer_list_answer;
extern const cn_schema_t ins_customer_profile_answer;
extern const cn_schema_t ins_patterns_answer;

#endif
