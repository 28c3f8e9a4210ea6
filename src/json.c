/* jansson glue: pool-owned values and flattening. */
#include <string.h>

#include <apr_strings.h>
#include <apr_tables.h>

#include "json.h"

static apr_status_t json_release(void *data)
{
    json_decref((json_t *)data);
    return APR_SUCCESS;
}

json_t *msoauth_json_own(apr_pool_t *p, json_t *v)
{
    if (v) {
        apr_pool_cleanup_register(p, v, json_release, apr_pool_cleanup_null);
    }
    return v;
}

json_t *msoauth_json_load(apr_pool_t *p, const char *buf, apr_size_t len, apr_size_t max,
                          const char **err)
{
    json_error_t jerr;
    json_t *v;

    if (!buf || len == 0) {
        *err = "empty body";
        return NULL;
    }
    if (len > max) {
        *err = apr_psprintf(p, "JSON larger than %" APR_SIZE_T_FMT " bytes", max);
        return NULL;
    }
    /* NUL inside strings is allowed here and neutralised where values are read */
    v = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (!v) {
        *err = apr_psprintf(p, "not JSON (%s at line %d)", jerr.text, jerr.line);
        return NULL;
    }
    msoauth_json_own(p, v);
    if (!json_is_object(v)) {
        *err = "JSON is not an object";
        return NULL;
    }
    return v;
}

const char *msoauth_json_str(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);

    /* a string with an embedded NUL is not the string it would seem to be in C */
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
        return NULL;
    }
    return json_string_value(v);
}

const char *msoauth_json_text(apr_pool_t *p, const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? msoauth_json_flatten(p, v) : NULL;
}

const char *msoauth_json_dump(apr_pool_t *p, const json_t *v)
{
    size_t flags = JSON_COMPACT | JSON_ENCODE_ANY;
    size_t n = json_dumpb(v, NULL, 0, flags);
    char *buf;

    if (n == 0) {
        return "";
    }
    buf = apr_palloc(p, n + 1);
    json_dumpb(v, buf, n, flags);
    buf[n] = '\0';
    return buf;
}

const char *msoauth_json_flatten(apr_pool_t *p, const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_STRING: {
        char *s = apr_pstrmemdup(p, json_string_value(v), json_string_length(v));
        apr_size_t i;
        for (i = 0; i < json_string_length(v); i++) {
            if (s[i] == '\0') {
                s[i] = ' ';
            }
        }
        return s;
    }
    case JSON_INTEGER:
        return apr_psprintf(p, "%" APR_INT64_T_FMT, (apr_int64_t)json_integer_value(v));
    case JSON_TRUE:
        return "true";
    case JSON_FALSE:
        return "false";
    case JSON_NULL:
        return "";
    case JSON_ARRAY: {
        apr_array_header_t *parts = apr_array_make(p, (int)json_array_size(v) + 1, sizeof(char *));
        size_t i;
        for (i = 0; i < json_array_size(v); i++) {
            const json_t *e = json_array_get(v, i);
            *(const char **)apr_array_push(parts) =
                json_is_object(e) || json_is_array(e) ? msoauth_json_dump(p, e)
                                                       : msoauth_json_flatten(p, e);
        }
        return apr_array_pstrcat(p, parts, ',');
    }
    default: /* reals and objects */
        return msoauth_json_dump(p, v);
    }
}
