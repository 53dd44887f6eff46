/* libFuzzer target: JSON body parsing and schema validation (untrusted bodies). */
#include "core/json.h"
#include "core/schema.h"
#include "lib/formats.h"

#include <stdlib.h>

static const char *const channels[] = {"web", "mobile", "email", NULL};
static const cn_field_t tag_item = {"tag", CN_T_STRING, .min_len = 1, .max_len = 20};
static const cn_field_t meta_fields[] = {
    {"source", CN_T_STRING, .max_len = 50},
    {"weight", CN_T_NUMBER, .has_min = 1, .min = 0},
    {0},
};
static const cn_schema_t meta = {"Meta", meta_fields, .allow_unknown = 1};
static const cn_field_t fields[] = {
    {"id", CN_T_STRING, .required = 1, .format = CN_FMT_UUID},
    {"email", CN_T_STRING, .format = CN_FMT_EMAIL},
    {"at", CN_T_STRING, .format = CN_FMT_DATETIME},
    {"channel", CN_T_STRING, .enum_values = channels},
    {"count", CN_T_INTEGER, .has_min = 1, .min = 0, .has_max = 1, .max = 1000},
    {"tags", CN_T_ARRAY, .max_len = 10, .items = &tag_item},
    {"meta", CN_T_OBJECT, .object = &meta, .nullable = 1},
    {"flag", CN_T_BOOLEAN},
    {"name", CN_T_STRING, .single_line = 1, .max_len = 200},
    {0},
};
static const cn_schema_t schema = {"Body", fields};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cn_err_t err;
    json_t *j = cn_json_parse((const char *)data, size, &err);
    if (j != NULL) {
        cn_verrors_t errs = {0};
        int rc = cn_schema_validate(&schema, j, &errs);
        if ((rc == 0) != (errs.count == 0))
            abort();
        json_t *name = json_object_get(j, "name");
        if (rc == 0 && json_is_string(name) &&
            !cn_text_line_ok(json_string_value(name), json_string_length(name)))
            abort(); /* a name that passed must be one clean line */
        json_decref(j);
    }
    /* what the single-line rule accepts is valid UTF-8 by jansson's stricter check too */
    if (cn_text_line_ok((const char *)data, size)) {
        json_t *s = json_stringn((const char *)data, size);
        if (s == NULL)
            abort();
        json_decref(s);
    }
    /* the format helpers also see raw client text */
    int64_t ms;
    if (cn_parse_rfc3339((const char *)data, size, &ms) == 0) {
        char buf[40];
        cn_format_rfc3339(ms, buf);
    }
    uint8_t *out = malloc(size + 1);
    cn_base64url_decode((const char *)data, size, out);
    free(out);
    return 0;
}
