/* libFuzzer target: query-string parsing and typed conversion (untrusted URLs). */
#include "core/router.h"
#include "core/schema.h"

#include <stdlib.h>

static const char *const orders[] = {"asc", "desc", NULL};
static const cn_field_t fields[] = {
    {"limit", CN_T_INTEGER, .has_min = 1, .min = 1, .has_max = 1, .max = 200},
    {"cursor", CN_T_STRING, .max_len = 128},
    {"since", CN_T_STRING, .format = CN_FMT_DATETIME},
    {"order", CN_T_STRING, .enum_values = orders},
    {"score", CN_T_NUMBER, .has_min = 1, .min = -1, .has_max = 1, .max = 1},
    {"active", CN_T_BOOLEAN},
    {"until", CN_T_TIME},
    {0},
};
static const cn_schema_t schema = {"Q", fields};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *scratch = malloc(size + 1);
    cn_kv_t kv[32];
    cn_err_t err;
    int n = cn_query_parse((const char *)data, size, scratch, kv, 32, &err);
    if (n >= 0) {
        json_t *out = NULL;
        cn_verrors_t errs = {0};
        if (cn_schema_from_query(&schema, kv, (size_t)n, &out, &errs) == 0) {
            int64_t ms;
            json_t *until = out ? json_object_get(out, "until") : NULL;
            if (out == NULL || errs.count != 0 || (until && cn_schema_time(until, &ms) != 0))
                abort(); /* an accepted time is one the handler can read */
            json_decref(out);
        } else if (errs.count == 0) {
            abort(); /* a failure always names at least one field */
        }
    }
    free(scratch);
    return 0;
}
