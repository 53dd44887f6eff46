/*
 * Cursor pagination, written once for every list: reads ?limit= and ?cursor=, streams
 * {"items": [...], "next_cursor": ...} and encodes the next page's cursor (the last
 * item's id, base64url). Lists fetch limit + 1 rows: the extra one only says "more".
 */
#ifndef CAIRN_CORE_PAGE_H
#define CAIRN_CORE_PAGE_H

#include "core/http.h"
#include "lib/formats.h"

#define CN_PAGE_DEFAULT 50
#define CN_PAGE_MAX 200

/** The query schema of every list: limit (1-200) and cursor. */
extern const cn_schema_t cn_page_query;

/** The path-parameter schema of routes addressing an object by its UUID ({id}). */
extern const cn_schema_t cn_id_param;

/** The fields of a list answer (one page) of item_schema: items and next_cursor. */
#define CN_PAGE_FIELDS(item_schema)                                                                \
    CN_R_ARRAY_OF("items", (item_schema)),                                                         \
    {                                                                                              \
        "next_cursor", CN_T_STRING, .required = 1, .nullable = 1,                                  \
                                    .description = "The cursor of the next page; null on the last" \
    }

typedef struct st_cn_page_t {
    cn_jw_t w;
    int64_t limit, count;
    char after[CN_UUID_LEN + 1]; /* the decoded cursor, or "" on the first page */
    char last[CN_UUID_LEN + 1];  /* id of the last item written */
    int more;
} cn_page_t;

/** Reads limit and cursor (an invalid cursor is a 422 naming "cursor") and opens the list. */
int cn_page_begin(cn_req_t *r, cn_page_t *p);

/** 1 when the next row belongs on this page; 0 when it only shows that more follow. */
int cn_page_room(cn_page_t *p);

/** Records the id of the item just written. */
void cn_page_item(cn_page_t *p, const char *id, size_t len);

/** Closes the items array and writes next_cursor, leaving the object open for more keys. */
void cn_page_end_items(cn_page_t *p);

/** Closes the list with next_cursor and answers 200. */
int cn_page_send(cn_req_t *r, cn_page_t *p);

#endif
