/*
 * Answer schemas of the insights routes (see answers.h). Each mirrors the code that
 * writes the answer (ins_write_row, write_customer_fields, trend_write, ...); the
 * end-to-end tests hold real answers to these schemas. Times are integer Unix ms.
 */
#include "apps/insights/answers.h"
#include "apps/insights/internal.h"
#include "core/page.h"

static const char *const labels[] = {"positive", "neutral", "negative", NULL};

/* ---- one interaction ---- */

static const cn_field_t sentiment_fields[] = {
    {"label", CN_T_STRING, .required = 1, .enum_values = labels},
    CN_R_NUMBER("pos"),
    CN_R_NUMBER("neu"),
    CN_R_NUMBER("neg"),
    {"compound", CN_T_NUMBER, .required = 1, .description = "VADER compound score, -1 to 1"},
    CN_R_NUMBER("confidence"),
    {0},
};
const cn_schema_t ins_sentiment_answer = {"Sentiment", sentiment_fields};

static const cn_field_t enrichment_fields[] = {
    CN_R_TEXT_OR_NULL("device"),  CN_R_TEXT_OR_NULL("os"),   CN_R_TEXT_OR_NULL("client"),
    CN_R_TEXT_OR_NULL("country"), CN_R_TEXT_OR_NULL("city"), {0},
};
static const cn_schema_t enrichment_schema = {"Enrichment", enrichment_fields};

static const cn_field_t interaction_fields[] = {
    {"id", CN_T_STRING, .required = 1, .description = "Server-assigned (UUIDv7)"},
    CN_R_UUID("customer_id"),
    CN_R_TIME("timestamp"),
    {"channel", CN_T_STRING, .required = 1, .enum_values = ins_channels},
    CN_R_TEXT("event_type"),
    CN_R_TEXT_OR_NULL("content"),
    {"metadata", CN_T_OBJECT, .required = 1, .nullable = 1},
    CN_R_OBJECT("enrichment", &enrichment_schema),
    {"sentiment", CN_T_OBJECT, .required = 1, .nullable = 1, .object = &ins_sentiment_answer,
     .description = "null until analysed, or without content"},
    CN_R_TIME_OR_NULL("processed_at"),
    CN_R_TIME("created_at"),
    {0},
};
static const cn_schema_t interaction_schema = {"Interaction", interaction_fields};

/* ---- ingest and import ---- */

static const cn_field_t ingested_fields[] = {
    CN_R_UUID("id"),
    CN_R_UUID("customer_id"),
    CN_R_TIME("timestamp"),
    {"channel", CN_T_STRING, .required = 1, .enum_values = ins_channels},
    {"duplicate", CN_T_BOOLEAN, .required = 1,
     .description = "true: the idempotency key was seen; nothing new was stored"},
    {0},
};
const cn_schema_t ins_ingested_answer = {"InteractionIngested", ingested_fields};
const cn_answer_t ins_ingest_also[] = {
    {200, &ins_ingested_answer, "A retry: the interaction stored under this key"},
    {0},
};

/* the shape of a problem's errors[] items: the kernel's component of the same name */
static const cn_field_t field_error_fields[] = {CN_R_TEXT("field"), CN_R_TEXT("message"), {0}};
static const cn_schema_t field_error_schema = {"FieldError", field_error_fields};
static const cn_field_t batch_item_fields[] = {
    {"index", CN_T_INTEGER, .required = 1, .description = "The item's position in the request"},
    {"id", CN_T_STRING, .format = CN_FMT_UUID, .description = "Stored (or found) as this id"},
    {"duplicate", CN_T_BOOLEAN},
    {"errors", CN_T_ARRAY, .description = "Why the item was refused",
     .items = &(const cn_field_t){"item", CN_T_OBJECT, .object = &field_error_schema}},
    {0},
};
static const cn_schema_t batch_item_schema = {"BatchItemResult", batch_item_fields};
static const cn_field_t batch_fields[] = {
    CN_R_ARRAY_OF("results", &batch_item_schema),
    CN_R_INT("created"),
    CN_R_INT("duplicates"),
    CN_R_INT("failed"),
    {0},
};
const cn_schema_t ins_batch_answer = {"InteractionBatchResult", batch_fields};

#define IMPORT_HEAD_FIELDS                                                                         \
    CN_R_UUID("id"), {"job_id", CN_T_STRING, .required = 1, .nullable = 1},                        \
        {"state", CN_T_STRING, .required = 1, .description = "queued, running, done or failed"},   \
    {                                                                                              \
        "bytes", CN_T_INTEGER, .required = 1                                                       \
    }
static const cn_field_t import_queued_fields[] = {IMPORT_HEAD_FIELDS, {0}};
const cn_schema_t ins_import_queued_answer = {"ImportQueued", import_queued_fields};
static const cn_field_t import_fields[] = {
    IMPORT_HEAD_FIELDS,
    CN_R_INT("records_read"),
    CN_R_INT("rows_done"),
    CN_R_INT("rows_failed"),
    CN_R_TIME("created_at"),
    CN_R_TIME_OR_NULL("finished_at"),
    {0},
};
const cn_schema_t ins_import_answer = {"Import", import_fields};

/* ---- lists, search, trends, metrics ---- */

static const cn_field_t list_fields[] = {
    CN_PAGE_FIELDS(&interaction_schema),
    {"total", CN_T_INTEGER, .description = "With include_total=true: matches of the filter"},
    {0},
};
const cn_schema_t ins_list_answer = {"InteractionList", list_fields};

static const cn_field_t snippet_fields[] = {
    CN_R_TEXT("text"),
    {"match", CN_T_BOOLEAN, .required = 1, .description = "This part matched the query"},
    {0},
};
static const cn_schema_t snippet_schema = {"SnippetPart", snippet_fields};
static const cn_field_t hit_fields[] = {
    CN_R_OBJECT("interaction", &interaction_schema),
    CN_R_ARRAY_OF("snippet", &snippet_schema),
    {"score", CN_T_NUMBER, .required = 1, .description = "Higher ranks first"},
    {0},
};
static const cn_schema_t hit_schema = {"SearchHit", hit_fields};
static const cn_field_t search_fields[] = {CN_PAGE_FIELDS(&hit_schema), {0}};
const cn_schema_t ins_search_answer = {"SearchResults", search_fields};

/* What a trend bucket and a segment both count of their interactions. */
#define SENTIMENT_COUNT_FIELDS                                                                     \
    CN_R_INT("interactions"), CN_R_INT("analysed"), CN_R_INT("positive"), CN_R_INT("neutral"),     \
        CN_R_INT("negative"), CN_R_NUMBER_OR_NULL("average_compound")

static const char *const units[] = {"hour", "day", "week", "month", NULL};
static const cn_field_t bucket_fields[] = {
    {"start", CN_T_INTEGER, .required = 1, .format = CN_FMT_UNIX_MS,
     .description = "The bucket's first instant (in the report zone's calendar), Unix ms"},
    SENTIMENT_COUNT_FIELDS,
    {0},
};
static const cn_schema_t bucket_schema = {"TrendBucket", bucket_fields};
static const cn_field_t trends_fields[] = {
    {"group_by", CN_T_STRING, .required = 1, .enum_values = units},
    CN_R_TEXT("timezone"),
    CN_R_ARRAY_OF("buckets", &bucket_schema),
    {0},
};
const cn_schema_t ins_trends_answer = {"SentimentTrends", trends_fields};

static const cn_field_t channel_count_fields[] = {
    CN_R_INT("web"),  CN_R_INT("mobile"), CN_R_INT("email"),
    CN_R_INT("chat"), CN_R_INT("phone"),  {0},
};
static const cn_schema_t channel_count_schema = {"ChannelCounts", channel_count_fields};
static const cn_field_t label_count_fields[] = {
    CN_R_INT("positive"), CN_R_INT("neutral"), CN_R_INT("negative"), CN_R_INT("not_analysed"), {0},
};
static const cn_schema_t label_count_schema = {"SentimentCounts", label_count_fields};
static const cn_field_t segment_count_fields[] = {
    CN_R_TEXT_OR_NULL("segment"),
    SENTIMENT_COUNT_FIELDS,
    {0},
};
static const cn_schema_t segment_count_schema = {"SegmentCounts", segment_count_fields};
static const cn_field_t metrics_fields[] = {
    CN_R_TIME("from"),
    CN_R_TIME("to"),
    CN_R_INT("interactions"),
    CN_R_OBJECT("by_channel", &channel_count_schema),
    CN_R_OBJECT("sentiment", &label_count_schema),
    CN_R_NUMBER_OR_NULL("average_compound"),
    CN_R_INT("pending_analysis"),
    CN_R_INT("active_customers"),
    CN_R_NUMBER_OR_NULL("interactions_per_customer"),
    {"by_segment", CN_T_ARRAY,
     .items = &(const cn_field_t){"item", CN_T_OBJECT, .object = &segment_count_schema},
     .description = "With by_segment=true: per segment (null: none), largest first, at most 50"},
    {0},
};
const cn_schema_t ins_metrics_answer = {"InsightMetrics", metrics_fields};

static const cn_field_t settings_fields[] = {
    {"timezone", CN_T_STRING, .required = 1, .description = "IANA zone of the reports"},
    {0},
};
const cn_schema_t ins_settings_answer = {"InsightSettingsAnswer", settings_fields};

static const cn_field_t sentiment_batch_fields[] = {
    CN_R_ARRAY_OF("results", &ins_sentiment_answer),
    {0},
};
const cn_schema_t ins_sentiment_batch_answer = {"SentimentBatch", sentiment_batch_fields};

/* ---- customers and patterns ---- */

#define CUSTOMER_FIELDS                                                                            \
    CN_R_UUID("id"), CN_R_TEXT_OR_NULL("email"), CN_R_TEXT_OR_NULL("segment"),                     \
        {"metadata", CN_T_OBJECT, .required = 1}, CN_R_TIME_OR_NULL("first_seen"),                 \
        CN_R_TIME_OR_NULL("last_seen"), CN_R_INT("interaction_count"), CN_R_INT("analysed_count"), \
        CN_R_NUMBER_OR_NULL("average_sentiment"), CN_R_TIME("created_at"), CN_R_TIME("updated_at")
static const cn_field_t customer_fields[] = {CUSTOMER_FIELDS, {0}};
const cn_schema_t ins_customer_answer = {"Customer", customer_fields};
static const cn_field_t customer_list_fields[] = {CN_PAGE_FIELDS(&ins_customer_answer), {0}};
const cn_schema_t ins_customer_list_answer = {"CustomerList", customer_list_fields};
static const cn_field_t profile_fields[] = {
    CUSTOMER_FIELDS,
    CN_R_OBJECT("channels", &channel_count_schema),
    CN_R_OBJECT("sentiment", &label_count_schema),
    CN_R_ARRAY_OF("recent_interactions", &interaction_schema),
    {0},
};
const cn_schema_t ins_customer_profile_answer = {"CustomerProfile", profile_fields};

static const cn_field_t pattern_fields[] = {
    CN_R_TEXT("type"),
    CN_R_NUMBER("confidence"),
    CN_R_NUMBER("frequency"),
    CN_R_TEXT("description"),
    {"metadata", CN_T_OBJECT, .required = 1},
    CN_R_TIME("detected_at"),
    CN_R_TIME("valid_until"),
    {0},
};
static const cn_schema_t pattern_schema = {"Pattern", pattern_fields};
static const cn_field_t patterns_fields[] = {CN_R_ARRAY_OF("items", &pattern_schema), {0}};
const cn_schema_t ins_patterns_answer = {"PatternList", patterns_fields};
