/* jansson values tied to APR pools, and the few conversions the module needs. Pure. */
#ifndef MSOAUTH_JSON_H
#define MSOAUTH_JSON_H

#include <apr_pools.h>
#include <jansson.h>

/* Parse a JSON object of at most max bytes; the value is released with the pool.
 * NULL with a reason in err for anything else (too large, not JSON, not an object). */
json_t *msoauth_json_load(apr_pool_t *p, const char *buf, apr_size_t len, apr_size_t max,
                          const char **err);

/* Release v when p is cleared (for values built rather than parsed). */
json_t *msoauth_json_own(apr_pool_t *p, json_t *v);

/* The string member key of obj, or NULL when absent, not a string, or holding a NUL. */
const char *msoauth_json_str(const json_t *obj, const char *key);

/* The string member key of obj as text (a NUL becomes a space), or NULL when absent or not
 * a string. For values shown to people, not for values compared. */
const char *msoauth_json_text(apr_pool_t *p, const json_t *obj, const char *key);

/* Compact JSON text of v, in p. */
const char *msoauth_json_dump(apr_pool_t *p, const json_t *v);

/* A claim value as one line of text: strings as they are, numbers and booleans printed,
 * null as "", arrays joined with ",", objects as compact JSON. */
const char *msoauth_json_flatten(apr_pool_t *p, const json_t *v);

#endif
