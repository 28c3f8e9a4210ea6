/* What comes in from the browser and must not reach the application as it is: forged identity
 * headers (removed before authentication on every request we handle) and the module's own
 * cookies (removed from the Cookie header just before the handler). */
#include <string.h>

#include <apr_strings.h>
#include <http_request.h>
#include <http_core.h>

#include "msoauth.h"
#include "outbound.h"
#include "pending.h"

static int collect_reserved_env(void *data, const char *key, const char *value)
{
    (void)value;
    if (!strncmp(key, "HTTP_", 5) && msoauth_header_is_reserved(key + 5)) {
        *(const char **)apr_array_push((apr_array_header_t *)data) = key;
    }
    return 1;
}

int msoauth_is_active(request_rec *r)
{
    const char *type = ap_auth_type(r);
    return type && !strcasecmp(type, MSOAUTH_AUTH_TYPE);
}

static int collect_reserved(void *data, const char *key, const char *value)
{
    (void)value;
    if (msoauth_header_is_reserved(key)) {
        *(const char **)apr_array_push((apr_array_header_t *)data) = key;
    }
    return 1;
}

#define SCRUBBED_NOTE "msoauth-scrubbed"

/* 1 when r or a request it comes from (internal redirect, main request) was scrubbed: its
 * headers are clean, and any reserved header in them now is one this module set. */
static int already_scrubbed(request_rec *r)
{
    for (; r; r = r->prev ? r->prev : r->main) {
        if (apr_table_get(r->notes, SCRUBBED_NOTE)) {
            return 1;
        }
    }
    return 0;
}

int msoauth_inbound_scrub(request_rec *r)
{
    apr_array_header_t *forged;
    int i;

    if (!msoauth_is_active(r) || already_scrubbed(r)) {
        return DECLINED;
    }
    apr_table_setn(r->notes, SCRUBBED_NOTE, "1");
    forged = apr_array_make(r->pool, 2, sizeof(const char *));
    apr_table_do(collect_reserved, forged, r->headers_in, NULL);
    for (i = 0; i < forged->nelts; i++) {
        const char *name = APR_ARRAY_IDX(forged, i, const char *);
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "removed inbound header %s: that namespace is ours",
                      msoauth_log_trunc(r->pool, name, 64));
        apr_table_unset(r->headers_in, name);
    }
    /* A subrequest's headers are a copy, but its environment may already hold the main request's
     * HTTP_* variables (mod_include calls ap_add_common_vars): drop forged ones there too. */
    forged->nelts = 0;
    apr_table_do(collect_reserved_env, forged, r->subprocess_env, NULL);
    for (i = 0; i < forged->nelts; i++) {
        apr_table_unset(r->subprocess_env, APR_ARRAY_IDX(forged, i, const char *));
    }
    return DECLINED;
}

/* Several Cookie headers (HTTP/2 may send them split) read as one list. */
typedef struct {
    apr_pool_t *p;
    const char *all;
} cookie_join_t;

static int join_cookies(void *data, const char *key, const char *value)
{
    cookie_join_t *j = data;
    (void)key;
    j->all = j->all ? apr_pstrcat(j->p, j->all, "; ", value, NULL) : value;
    return 1;
}

int msoauth_inbound_strip_cookies(request_rec *r)
{
    const msoauth_dir_cfg_t *c;
    const char *names[3] = {NULL, NULL, NULL};
    const char *cookie, *rest;

    msoauth_exports_after_redirect(r);
    if (!msoauth_is_active(r)) {
        return DECLINED;
    }
    c = ap_get_module_config(r->per_dir_config, &auth_msoauth_module);
    if (!msoauth_cfg_strip_cookies(c) || !apr_table_get(r->headers_in, "Cookie")) {
        return DECLINED;
    }
    {
        cookie_join_t j = {r->pool, NULL};
        apr_table_do(join_cookies, &j, r->headers_in, "Cookie", NULL);
        cookie = j.all;
    }
    msoauth_session_cookie_names(r, &names[0], &names[1]);
    if (!names[0]) {
        names[0] = names[1];
        names[1] = NULL;
    }
    rest = msoauth_cookies_without(r->pool, cookie, names, MSOAUTH_PENDING_COOKIE_PREFIX);
    if (rest) {
        apr_table_setn(r->headers_in, "Cookie", rest);
    }
    else {
        apr_table_unset(r->headers_in, "Cookie");
    }
    return DECLINED;
}
