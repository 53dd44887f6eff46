/*
 * Schema validation and OpenAPI rendering (see schema.h). The schema is trusted static
 * data; the value is untrusted. Error messages quote field names from the schema or a
 * sanitised copy of the client's key, never raw client bytes.
 */
#include "core/schema.h"
#include "lib/formats.h"
#include "lib/utf8.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cn_verrors_add(cn_verrors_t *e, const char *field, const char *fmt, ...)
{
    if (e->count >= CN_MAX_VERRORS) {
        e->dropped++;
        return;
    }
    cn_verror_t *v = &e->items[e->count++];
    snprintf(v->field, sizeof(v->field), "%s", field);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->message, sizeof(v->message), fmt, ap);
    va_end(ap);
}

int cn_text_char_forbidden(uint32_t cp)
{
    return cp <= 0x1f || (cp >= 0x7f && cp <= 0x9f) || (cp >= 0x2028 && cp <= 0x202e) ||
           (cp >= 0x2066 && cp <= 0x2069);
}

int cn_text_line_ok(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        if (p[i] < 0x80) { /* most text is ASCII: its only forbidden characters are controls */
            if (p[i] <= 0x1f || p[i] == 0x7f)
                return 0;
            i++;
            continue;
        }
        uint32_t cp;
        int n = cn_utf8_decode(p + i, len - i, &cp);
        if (n < 0 || cn_text_char_forbidden(cp))
            return 0;
        i += (size_t)n;
    }
    return 1;
}

static const char *type_name(cn_type_t t)
{
    switch (t) {
    case CN_T_STRING: return "string";
    case CN_T_INTEGER: return "integer";
    case CN_T_NUMBER: return "number";
    case CN_T_BOOLEAN: return "boolean";
    case CN_T_OBJECT: return "object";
    case CN_T_ARRAY: return "array";
    case CN_T_TIME: return "time";
    }
    return "value";
}

static const char *format_name(cn_format_t f)
{
    switch (f) {
    case CN_FMT_UUID: return "uuid";
    case CN_FMT_EMAIL: return "email";
    case CN_FMT_DATETIME: return "date-time";
    case CN_FMT_UNIX_MS: return "unix-ms";
    case CN_FMT_NONE: break;
    }
    return NULL;
}

static int type_matches(cn_type_t t, const json_t *v)
{
    switch (t) {
    case CN_T_STRING: return json_is_string(v);
    case CN_T_INTEGER: return json_is_integer(v);
    case CN_T_NUMBER: return json_is_number(v);
    case CN_T_BOOLEAN: return json_is_boolean(v);
    case CN_T_OBJECT: return json_is_object(v);
    case CN_T_ARRAY: return json_is_array(v);
    case CN_T_TIME: return json_is_integer(v) || json_is_string(v);
    }
    return 0;
}

#define TIME_MESSAGE "must be integer Unix milliseconds or an RFC 3339 date-time"

int cn_schema_time(const json_t *v, int64_t *ms)
{
    if (v == NULL || json_is_null(v))
        return CN_ENOTFOUND;
    if (json_is_integer(v)) {
        json_int_t n = json_integer_value(v);
        if (n < CN_TIME_MIN_MS || n > CN_TIME_MAX_MS)
            return CN_EINVAL;
        *ms = (int64_t)n;
        return 0;
    }
    if (json_is_string(v) && cn_parse_rfc3339(json_string_value(v), json_string_length(v), ms) == 0)
        return 0;
    return CN_EINVAL;
}

static void validate_object(const cn_schema_t *s, const json_t *obj, const json_t *given,
                            const char *path, cn_verrors_t *e);

static void validate_string(const cn_field_t *f, const char *s, size_t len, const char *path,
                            cn_verrors_t *e)
{
    size_t cps = cn_utf8_count(s, len);
    if (cps < f->min_len)
        cn_verrors_add(e, path,
                       f->min_len == 1 ? "must not be empty" : "must be at least %zu characters",
                       f->min_len);
    if (f->max_len && cps > f->max_len)
        cn_verrors_add(e, path, "must be at most %zu characters", f->max_len);
    if (f->single_line && !cn_text_line_ok(s, len))
        cn_verrors_add(e, path,
                       "must be one line of text: no control, line-break or bidi-override "
                       "characters");
    else if (memchr(s, '\0', len) != NULL)
        cn_verrors_add(e, path, "must not contain NUL characters");
    int64_t ms;
    if ((f->format == CN_FMT_UUID && !cn_is_uuid(s, len)) ||
        (f->format == CN_FMT_EMAIL && !cn_is_email(s, len)) ||
        (f->format == CN_FMT_DATETIME && cn_parse_rfc3339(s, len, &ms) != 0))
        cn_verrors_add(e, path, "must be a valid %s", format_name(f->format));
    if (f->enum_values != NULL) {
        for (const char *const *ev = f->enum_values; *ev != NULL; ev++)
            if (strlen(*ev) == len && memcmp(*ev, s, len) == 0)
                return;
        char allowed[120] = "";
        size_t used = 0;
        for (const char *const *ev = f->enum_values; *ev != NULL && used < sizeof(allowed); ev++)
            used += (size_t)snprintf(allowed + used, sizeof(allowed) - used, "%s%s",
                                     ev == f->enum_values ? "" : ", ", *ev);
        cn_verrors_add(e, path, "must be one of: %s", allowed);
    }
}

int cn_schema_check_string(const cn_schema_t *s, const char *name, size_t name_len,
                           const char *value, size_t len)
{
    for (const cn_field_t *f = s->fields; f->name != NULL; f++) {
        if (strlen(f->name) != name_len || memcmp(f->name, name, name_len) != 0)
            continue;
        if (f->type != CN_T_STRING)
            return CN_EVALIDATION;
        cn_verrors_t errs; /* every path parameter comes here: count, not 4.6 KB of slots */
        errs.count = errs.dropped = 0;
        validate_string(f, value, len, f->name, &errs);
        return errs.count ? CN_EVALIDATION : 0;
    }
    return 0;
}

static void validate_value(const cn_field_t *f, const json_t *v, const char *path, cn_verrors_t *e)
{
    if (json_is_null(v)) {
        if (!f->nullable)
            cn_verrors_add(e, path, "must not be null");
        return;
    }
    if (f->type == CN_T_TIME) {
        int64_t ms;
        if (cn_schema_time(v, &ms) != 0)
            cn_verrors_add(e, path, TIME_MESSAGE);
        return;
    }
    if (!type_matches(f->type, v)) {
        cn_verrors_add(
            e, path, "must be %s %s",
            f->type == CN_T_INTEGER || f->type == CN_T_OBJECT || f->type == CN_T_ARRAY ? "an" : "a",
            type_name(f->type));
        return;
    }
    switch (f->type) {
    case CN_T_STRING:
        validate_string(f, json_string_value(v), json_string_length(v), path, e);
        break;
    case CN_T_INTEGER:
    case CN_T_NUMBER: {
        double d = json_number_value(v);
        if (f->has_min && d < f->min)
            cn_verrors_add(e, path, "must be at least %g", f->min);
        if (f->has_max && d > f->max)
            cn_verrors_add(e, path, "must be at most %g", f->max);
        break;
    }
    case CN_T_OBJECT:
        if (f->object != NULL)
            validate_object(f->object, v, NULL, path, e);
        break;
    case CN_T_ARRAY: {
        size_t n = json_array_size(v);
        if (n < f->min_len)
            cn_verrors_add(e, path, "must have at least %zu items", f->min_len);
        if (f->max_len && n > f->max_len) {
            cn_verrors_add(e, path, "must have at most %zu items", f->max_len);
            return; /* do not walk an oversized array */
        }
        if (f->items == NULL)
            break;
        char item_path[128];
        for (size_t i = 0; i < n && e->count < CN_MAX_VERRORS; i++) {
            snprintf(item_path, sizeof(item_path), "%s[%zu]", path, i);
            validate_value(f->items, json_array_get(v, i), item_path, e);
        }
        break;
    }
    case CN_T_BOOLEAN:
    case CN_T_TIME: break;
    }
}

/* Copies a client-supplied key into dst, keeping it printable ASCII and short. */
static void sanitize_key(const char *key, size_t len, char *dst, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 4 < cap; i++) {
        unsigned char c = (unsigned char)key[i];
        dst[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (o + 4 >= cap && o < len)
        memcpy(dst + o, "...", 3), o += 3;
    dst[o] = '\0';
}

static void join_path(char *out, size_t cap, const char *prefix, const char *name)
{
    snprintf(out, cap, "%s%s%s", prefix, *prefix ? "." : "", name);
}

/* given (may be NULL) names fields the client sent but that failed conversion already:
 * they are not reported missing as well. */
static void validate_object(const cn_schema_t *s, const json_t *obj, const json_t *given,
                            const char *path, cn_verrors_t *e)
{
    char fpath[128];
    for (const cn_field_t *f = s->fields; f->name != NULL; f++) {
        join_path(fpath, sizeof(fpath), path, f->name);
        const json_t *v = json_object_get(obj, f->name);
        if (v == NULL) {
            if (f->required && (given == NULL || json_object_get(given, f->name) == NULL))
                cn_verrors_add(e, fpath, "is required");
            continue;
        }
        validate_value(f, v, fpath, e);
    }
    if (s->allow_unknown)
        return;
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        const cn_field_t *f = s->fields;
        while (f->name != NULL && strcmp(f->name, key) != 0)
            f++;
        if (f->name == NULL) {
            char clean[64];
            sanitize_key(key, strlen(key), clean, sizeof(clean));
            join_path(fpath, sizeof(fpath), path, clean);
            cn_verrors_add(e, fpath, "is not a known field");
        }
    }
}

int cn_schema_validate(const cn_schema_t *s, const json_t *value, cn_verrors_t *errs)
{
    if (!json_is_object(value)) {
        cn_verrors_add(errs, "", "the body must be a JSON object");
        return CN_EVALIDATION;
    }
    validate_object(s, value, NULL, "", errs);
    return errs->count ? CN_EVALIDATION : 0;
}

/* JSON's number grammar (no '+', no hex, no spaces); integers without fraction/exponent. */
static int is_json_number(const char *s, size_t len, int integer_only)
{
    size_t i = 0;
    if (i < len && s[i] == '-')
        i++;
    size_t digits_start = i;
    while (i < len && s[i] >= '0' && s[i] <= '9')
        i++;
    if (i == digits_start)
        return 0;
    if (integer_only)
        return i == len;
    if (i < len && s[i] == '.') {
        size_t frac = ++i;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == frac)
            return 0;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t exp = i;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == exp)
            return 0;
    }
    return i == len;
}

static json_t *query_string(const cn_kv_t *kv, const char *field, cn_verrors_t *e)
{
    json_t *s = json_stringn(kv->value, kv->value_len);
    if (s == NULL)
        cn_verrors_add(e, field, "must be valid UTF-8");
    return s;
}

/* a number of the JSON grammar as an integer or a real; NULL when it is not one */
static json_t *query_number(const cn_kv_t *kv, int integer)
{
    char tmp[64];
    if (kv->value_len == 0 || kv->value_len >= sizeof(tmp) ||
        !is_json_number(kv->value, kv->value_len, integer))
        return NULL;
    memcpy(tmp, kv->value, kv->value_len);
    tmp[kv->value_len] = '\0';
    char *end;
    errno = 0;
    if (integer) {
        long long ll = strtoll(tmp, &end, 10);
        return *end == '\0' && errno == 0 ? json_integer(ll) : NULL;
    }
    double d = strtod(tmp, &end);
    return *end == '\0' && errno == 0 && isfinite(d) ? json_real(d) : NULL;
}

static json_t *query_value(const cn_field_t *f, const cn_kv_t *kv, const char *field,
                           cn_verrors_t *e)
{
    json_t *v = NULL;
    switch (f->type) {
    case CN_T_TIME: /* digits: milliseconds; anything else is read as a date-time */
        if (!is_json_number(kv->value, kv->value_len, 1))
            return query_string(kv, field, e);
        v = query_number(kv, 1);
        break;
    case CN_T_INTEGER:
    case CN_T_NUMBER: v = query_number(kv, f->type == CN_T_INTEGER); break;
    case CN_T_BOOLEAN:
        if (kv->value_len == 4 && memcmp(kv->value, "true", 4) == 0)
            return json_true();
        if (kv->value_len == 5 && memcmp(kv->value, "false", 5) == 0)
            return json_false();
        break;
    case CN_T_STRING: return query_string(kv, field, e);
    default: break;
    }
    if (v != NULL)
        return v;
    if (f->type == CN_T_TIME)
        cn_verrors_add(e, field, TIME_MESSAGE);
    else
        cn_verrors_add(e, field, "must be %s %s", f->type == CN_T_INTEGER ? "an" : "a",
                       type_name(f->type));
    return NULL;
}

/* the field list of a route without a query schema: every parameter is unknown */
static const cn_field_t no_fields[] = {{0}};

int cn_schema_from_query(const cn_schema_t *s, const cn_kv_t *kv, size_t n, json_t **out,
                         cn_verrors_t *errs)
{
    json_t *obj = json_object(), *given = json_object();
    for (size_t i = 0; i < n; i++) {
        char clean[64];
        sanitize_key(kv[i].key, kv[i].key_len, clean, sizeof(clean));
        const cn_field_t *f = s != NULL ? s->fields : no_fields;
        while (f->name != NULL && !(strlen(f->name) == kv[i].key_len &&
                                    memcmp(f->name, kv[i].key, kv[i].key_len) == 0))
            f++;
        if (f->name == NULL) {
            cn_verrors_add(errs, clean, "is not a known query parameter");
            continue;
        }
        if (json_object_get(obj, f->name) != NULL) {
            cn_verrors_add(errs, clean, "is given more than once");
            continue;
        }
        json_t *v = query_value(f, &kv[i], f->name, errs);
        if (v != NULL)
            json_object_set_new(obj, f->name, v);
        json_object_set_new(given, f->name, json_true());
    }
    if (s != NULL) /* also after a conversion error, so one answer lists every problem */
        validate_object(s, obj, given, "", errs);
    json_decref(given);
    if (errs->count) {
        json_decref(obj);
        return CN_EVALIDATION;
    }
    *out = obj;
    return 0;
}

/* integer milliseconds, or (as input) an RFC 3339 date-time */
static json_t *time_openapi(const cn_field_t *f)
{
    json_t *any = json_pack("[{s:s, s:s}, {s:s, s:s}]", "type", "integer", "format", "int64",
                            "type", "string", "format", "date-time");
    if (f->nullable)
        json_array_append_new(any, json_pack("{s:s}", "type", "null"));
    return json_pack("{s:o, s:s}", "anyOf", any, "description",
                     f->description ? f->description
                                    : "Unix milliseconds (UTC), or an RFC 3339 date-time");
}

static json_t *field_openapi(const cn_field_t *f, json_t *components);
static json_t *schema_openapi(const cn_schema_t *s, json_t *components);

static json_t *ref_to(const char *name)
{
    char ref[128];
    snprintf(ref, sizeof(ref), "#/components/schemas/%s", name);
    return json_pack("{s:s}", "$ref", ref);
}

/* A nested schema: referred to when it has a name and there is a components object to
 * hold it, written in place otherwise. */
static json_t *nested_openapi(const cn_schema_t *s, json_t *components)
{
    return components && s->name ? cn_schema_openapi_ref(s, components)
                                 : schema_openapi(s, components);
}

static void field_bounds(const cn_field_t *f, json_t *o)
{
    const char *lo = f->type == CN_T_ARRAY ? "minItems" : "minLength";
    const char *hi = f->type == CN_T_ARRAY ? "maxItems" : "maxLength";
    if (f->min_len)
        json_object_set_new(o, lo, json_integer((json_int_t)f->min_len));
    if (f->max_len)
        json_object_set_new(o, hi, json_integer((json_int_t)f->max_len));
    if (f->has_min)
        json_object_set_new(o, "minimum",
                            f->type == CN_T_INTEGER ? json_integer((json_int_t)f->min)
                                                    : json_real(f->min));
    if (f->has_max)
        json_object_set_new(o, "maximum",
                            f->type == CN_T_INTEGER ? json_integer((json_int_t)f->max)
                                                    : json_real(f->max));
    if (f->enum_values) {
        json_t *ev = json_array();
        for (const char *const *p = f->enum_values; *p; p++)
            json_array_append_new(ev, json_string(*p));
        json_object_set_new(o, "enum", ev);
    }
}

/* An object field with a named schema: its $ref, or (nullable) one of it and null. */
static json_t *object_field_openapi(const cn_field_t *f, json_t *components)
{
    json_t *ref = nested_openapi(f->object, components);
    json_t *o = f->nullable ? json_pack("{s:[o, {s:s}]}", "oneOf", ref, "type", "null") : ref;
    if (f->description)
        json_object_set_new(o, "description", json_string(f->description));
    return o;
}

static json_t *field_openapi(const cn_field_t *f, json_t *components)
{
    if (f->type == CN_T_TIME)
        return time_openapi(f);
    if (f->type == CN_T_OBJECT && f->object && f->object->name && components)
        return object_field_openapi(f, components);
    json_t *o = json_object();
    if (f->nullable)
        json_object_set_new(o, "type", json_pack("[ss]", type_name(f->type), "null"));
    else
        json_object_set_new(o, "type", json_string(type_name(f->type)));
    if (f->description)
        json_object_set_new(o, "description", json_string(f->description));
    else if (f->format == CN_FMT_UNIX_MS)
        json_object_set_new(o, "description", json_string("Unix time in milliseconds (UTC)"));
    if (format_name(f->format))
        json_object_set_new(o, "format", json_string(format_name(f->format)));
    if (f->single_line)
        json_object_set_new(o, "pattern", json_string(CN_TEXT_LINE_PATTERN));
    field_bounds(f, o);
    if (f->type == CN_T_OBJECT && f->object) {
        json_t *nested = schema_openapi(f->object, components);
        json_object_update(o, nested);
        json_decref(nested);
        if (f->nullable) /* the nested "type": "object" replaced the pair */
            json_object_set_new(o, "type", json_pack("[ss]", "object", "null"));
    }
    if (f->type == CN_T_ARRAY && f->items)
        json_object_set_new(o, "items", field_openapi(f->items, components));
    return o;
}

json_t *cn_field_openapi(const cn_field_t *f)
{
    return field_openapi(f, NULL);
}

static json_t *schema_openapi(const cn_schema_t *s, json_t *components)
{
    if (s->one_of) {
        json_t *alts = json_array();
        for (const cn_schema_t *const *a = s->one_of; *a; a++)
            json_array_append_new(alts, nested_openapi(*a, components));
        json_t *o = json_pack("{s:o}", "oneOf", alts);
        if (s->description)
            json_object_set_new(o, "description", json_string(s->description));
        return o;
    }
    json_t *props = json_object(), *required = json_array();
    for (const cn_field_t *f = s->fields; f->name != NULL; f++) {
        json_object_set_new(props, f->name, field_openapi(f, components));
        if (f->required)
            json_array_append_new(required, json_string(f->name));
    }
    json_t *o = json_pack("{s:s, s:o}", "type", "object", "properties", props);
    if (json_array_size(required))
        json_object_set_new(o, "required", required);
    else
        json_decref(required);
    json_object_set_new(o, "additionalProperties", json_boolean(s->allow_unknown));
    if (s->description)
        json_object_set_new(o, "description", json_string(s->description));
    return o;
}

json_t *cn_schema_openapi(const cn_schema_t *s)
{
    return schema_openapi(s, NULL);
}

json_t *cn_schema_openapi_ref(const cn_schema_t *s, json_t *components)
{
    if (json_object_get(components, s->name) == NULL) {
        /* claimed before rendering, so a schema that nests itself ends */
        json_object_set_new(components, s->name, json_object());
        json_object_set_new(components, s->name, schema_openapi(s, components));
    }
    return ref_to(s->name);
}
