/*
 * Request and response schemas declared as data. The same declaration validates request
 * bodies and query strings and is rendered into the OpenAPI document, so the two cannot
 * drift; response schemas are only rendered (the end-to-end tests hold answers to them).
 * Validation never allocates more than the error list and never recurses deeper than
 * the schema itself (the input's depth is bounded by the schema, not by the client).
 */
#ifndef CAIRN_CORE_SCHEMA_H
#define CAIRN_CORE_SCHEMA_H

#include "base/common.h"

#include <jansson.h>

typedef enum {
    CN_T_STRING = 1,
    CN_T_INTEGER,
    CN_T_NUMBER,
    CN_T_BOOLEAN,
    CN_T_OBJECT,
    CN_T_ARRAY,
    /* a point in time, as every answer writes it: integer Unix milliseconds (UTC); as input
     * an RFC 3339 date-time string is accepted too. Read the value with cn_schema_time. */
    CN_T_TIME,
} cn_type_t;

typedef enum {
    CN_FMT_NONE = 0,
    CN_FMT_UUID,
    CN_FMT_EMAIL,
    CN_FMT_DATETIME,
    /* an integer time: Unix milliseconds (UTC), the one form of every time in an answer */
    CN_FMT_UNIX_MS,
} cn_format_t;

typedef struct st_cn_schema_t cn_schema_t;

/** One property of an object schema. Zero-valued members mean "no constraint". */
typedef struct st_cn_field_t {
    const char *name; /* NULL terminates a field list */
    cn_type_t type;
    unsigned required : 1;
    unsigned nullable : 1;
    unsigned has_min : 1; /* min/max apply to integer and number values */
    unsigned has_max : 1;
    /* a name or title people read: no control, line-separator or bidi-override
     * characters (cn_text_line_ok). Every human-readable name/title field sets it; free
     * text that may hold line breaks (bodies, content) does not. */
    unsigned single_line : 1;
    cn_format_t format;
    size_t min_len; /* strings: code points; arrays: items */
    size_t max_len; /* 0 = unbounded */
    double min, max;
    const char *const *enum_values;    /* NULL-terminated list of allowed strings */
    const cn_schema_t *object;         /* CN_T_OBJECT: nested schema */
    const struct st_cn_field_t *items; /* CN_T_ARRAY: schema of each item (name unused) */
    const char *description;
} cn_field_t;

struct st_cn_schema_t {
    const char *name; /* component name in OpenAPI, e.g. "NoteCreate" */
    const cn_field_t *fields;
    unsigned allow_unknown : 1; /* default: unknown properties are an error */
    /* response-only: the value is exactly one of these (NULL-terminated); fields unused */
    const cn_schema_t *const *one_of;
    const char *description;
};

/** A response field that always holds an integer time (Unix milliseconds, UTC). */
#define CN_R_TIME(name_)                                                                           \
    {                                                                                              \
        (name_), CN_T_INTEGER, .required = 1, .format = CN_FMT_UNIX_MS                             \
    }
/** A response field holding an integer time, or null when it has none (yet). */
#define CN_R_TIME_OR_NULL(name_)                                                                   \
    {                                                                                              \
        (name_), CN_T_INTEGER, .required = 1, .nullable = 1, .format = CN_FMT_UNIX_MS              \
    }
/** A response field holding an array of objects of item_schema. */
#define CN_R_ARRAY_OF(name_, item_schema)                                                          \
    {                                                                                              \
        (name_), CN_T_ARRAY, .required = 1, .items = &(const cn_field_t)                           \
        {                                                                                          \
            "item", CN_T_OBJECT, .object = (item_schema)                                           \
        }                                                                                          \
    }
/** A response field holding an object of schema obj (always present). */
#define CN_R_OBJECT(name_, obj)                                                                    \
    {                                                                                              \
        (name_), CN_T_OBJECT, .required = 1, .object = (obj)                                       \
    }

/** Response fields, required in every answer: a UUID, a string, a string or null, an
 *  integer, a number, a number or null, a boolean, an array of strings. */
#define CN_R_UUID(name_)                                                                           \
    {                                                                                              \
        (name_), CN_T_STRING, .required = 1, .format = CN_FMT_UUID                                 \
    }
#define CN_R_TEXT(name_)                                                                           \
    {                                                                                              \
        (name_), CN_T_STRING, .required = 1                                                        \
    }
#define CN_R_TEXT_OR_NULL(name_)                                                                   \
    {                                                                                              \
        (name_), CN_T_STRING, .required = 1, .nullable = 1                                         \
    }
#define CN_R_INT(name_)                                                                            \
    {                                                                                              \
        (name_), CN_T_INTEGER, .required = 1                                                       \
    }
#define CN_R_NUMBER(name_)                                                                         \
    {                                                                                              \
        (name_), CN_T_NUMBER, .required = 1                                                        \
    }
#define CN_R_NUMBER_OR_NULL(name_)                                                                 \
    {                                                                                              \
        (name_), CN_T_NUMBER, .required = 1, .nullable = 1                                         \
    }
#define CN_R_BOOL(name_)                                                                           \
    {                                                                                              \
        (name_), CN_T_BOOLEAN, .required = 1                                                       \
    }
#define CN_R_STRINGS(name_)                                                                        \
    {                                                                                              \
        (name_), CN_T_ARRAY, .required = 1, .items = &(const cn_field_t)                           \
        {                                                                                          \
            "item", CN_T_STRING                                                                    \
        }                                                                                          \
    }

/** A validation failure: the field path ("items[2].title") and what is wrong with it. */
typedef struct st_cn_verror_t {
    char field[128];
    char message[160];
} cn_verror_t;

#define CN_MAX_VERRORS 16

typedef struct st_cn_verrors_t {
    size_t count;
    size_t dropped; /* errors beyond CN_MAX_VERRORS */
    cn_verror_t items[CN_MAX_VERRORS];
} cn_verrors_t;

void cn_verrors_add(cn_verrors_t *e, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The instants a CN_T_TIME field takes as an integer: those RFC 3339 can write
 * (0000-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z), so arithmetic on them cannot
 * overflow and every one can be written back as text (the CSV export). */
#define CN_TIME_MIN_MS (-62167219200000LL)
#define CN_TIME_MAX_MS 253402300799999LL

/**
 * Reads a CN_T_TIME value: an integer of Unix milliseconds within CN_TIME_MIN_MS ..
 * CN_TIME_MAX_MS, or an RFC 3339 date-time string. Returns 0 with *ms set, CN_ENOTFOUND
 * when v is NULL or JSON null, CN_EINVAL when it is neither form.
 */
int cn_schema_time(const json_t *v, int64_t *ms);

/** Validates value against an object schema. Returns 0, or CN_EVALIDATION with errs filled. */
int cn_schema_validate(const cn_schema_t *s, const json_t *value, cn_verrors_t *errs);

/**
 * Converts decoded query parameters (name/value pairs) into a JSON object typed by the
 * schema ("limit=5" -> {"limit": 5}) and validates it. Unknown and repeated parameters
 * are errors. On success *out is a new reference.
 */
typedef struct st_cn_kv_t {
    const char *key;
    size_t key_len;
    const char *value;
    size_t value_len;
} cn_kv_t;

int cn_schema_from_query(const cn_schema_t *s, const cn_kv_t *kv, size_t n, json_t **out,
                         cn_verrors_t *errs);

/**
 * Validates one string value (a path parameter) against the schema's field of that name.
 * Returns 0 when it passes (or the schema does not mention it), CN_EVALIDATION otherwise.
 */
int cn_schema_check_string(const cn_schema_t *s, const char *name, size_t name_len,
                           const char *value, size_t len);

/**
 * 1 when code point cp may not appear in a single line of human-readable text: C0
 * controls U+0000-U+001F (tab, CR and LF included), DEL and the C1 controls
 * U+007F-U+009F, the line and paragraph separators U+2028/U+2029, and the bidirectional
 * embeddings, overrides and isolates U+202A-U+202E and U+2066-U+2069, which make text
 * read differently from what it is.
 */
int cn_text_char_forbidden(uint32_t cp);

/**
 * 1 when s (len bytes) is valid UTF-8 and holds no character cn_text_char_forbidden
 * refuses. The rule of schema fields with .single_line, also used by the command line.
 */
int cn_text_line_ok(const char *s, size_t len);

/** The single_line rule as an ECMA-262 pattern, as the OpenAPI document shows it. */
#define CN_TEXT_LINE_PATTERN "^[^\\u0000-\\u001F\\u007F-\\u009F\\u2028-\\u202E\\u2066-\\u2069]*$"

/** Renders a schema as an OpenAPI 3.1 (JSON Schema 2020-12) object. New reference. */
json_t *cn_schema_openapi(const cn_schema_t *s);

/** Renders a single field's type and constraints. New reference. */
json_t *cn_field_openapi(const cn_field_t *f);

/**
 * Renders s into components (an object of named schemas) under its name, with every
 * named schema it nests rendered there too and referred to, and returns {"$ref": ...} to
 * it (new reference). A second schema of the same name is not rendered again.
 */
json_t *cn_schema_openapi_ref(const cn_schema_t *s, json_t *components);

#endif
