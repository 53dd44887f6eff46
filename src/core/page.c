/* Cursor pagination (see page.h). */
#include "core/page.h"

#include <string.h>

static const cn_field_t page_fields[] = {
    {"limit", CN_T_INTEGER, .has_min = 1, .min = 1, .has_max = 1, .max = CN_PAGE_MAX,
     .description = "Page size (default 50)"},
    {"cursor", CN_T_STRING, .max_len = 128, .description = "next_cursor of the previous page"},
    {0},
};
const cn_schema_t cn_page_query = {"PageQuery", page_fields};

static const cn_field_t id_fields[] = {
    {"id", CN_T_STRING, .required = 1, .format = CN_FMT_UUID},
    {0},
};
const cn_schema_t cn_id_param = {"Id", id_fields};

int cn_page_begin(cn_req_t *r, cn_page_t *p)
{
    memset(p, 0, sizeof(*p));
    json_t *jl = json_object_get(r->query, "limit");
    const char *cursor = json_string_value(json_object_get(r->query, "cursor"));
    p->limit = jl ? json_integer_value(jl) : CN_PAGE_DEFAULT;
    if (cursor != NULL) {
        uint8_t raw[96];
        size_t len = strlen(cursor);
        long n = len <= 128 ? cn_base64url_decode_fast(cursor, len, raw) : -1;
        if (n != CN_UUID_LEN || !cn_is_uuid((const char *)raw, CN_UUID_LEN))
            return cn_fail_field(r, "cursor", "is not a cursor returned by this endpoint");
        memcpy(p->after, raw, CN_UUID_LEN);
        p->after[CN_UUID_LEN] = '\0';
    }
    cn_jw_init(&p->w, cn_reply_buffer(r));
    cn_jw_object(&p->w);
    cn_jw_key(&p->w, "items");
    cn_jw_array(&p->w);
    return 0;
}

int cn_page_room(cn_page_t *p)
{
    if (p->count < p->limit)
        return 1;
    p->more = 1;
    return 0;
}

void cn_page_item(cn_page_t *p, const char *id, size_t len)
{
    if (len > CN_UUID_LEN)
        len = CN_UUID_LEN;
    memcpy(p->last, id, len);
    p->last[len] = '\0';
    p->count++;
}

void cn_page_end_items(cn_page_t *p)
{
    cn_jw_end(&p->w);
    cn_jw_key(&p->w, "next_cursor");
    if (p->more) {
        char next[CN_UUID_LEN * 2];
        size_t n = cn_base64url_encode_fast((const uint8_t *)p->last, strlen(p->last), next);
        cn_jw_str(&p->w, next, n);
    } else {
        cn_jw_null(&p->w);
    }
}

int cn_page_send(cn_req_t *r, cn_page_t *p)
{
    cn_page_end_items(p);
    cn_jw_end(&p->w);
    return cn_reply_json_buf(r, 200);
}
