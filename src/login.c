/* Starting a sign-in: a fresh pending login sealed into its own cookie, and a 302 to
 * Microsoft's authorize endpoint with state, nonce and a PKCE S256 challenge. */
#include <string.h>

#include <apr_strings.h>
#include <apr_escape.h>
#include <http_protocol.h>
#include <http_core.h>
#include <util_cookies.h>

#include "msoauth.h"
#include "pending.h"
#include "random.h"
#include "url.h"
#include "discovery.h"

typedef struct {
    const char *name;
    apr_int64_t created;
} pending_cookie_t;

typedef struct {
    request_rec *r;
    const msoauth_dir_cfg_t *c;
    apr_int64_t now;
    const char *attrs;
    apr_array_header_t *live;
} prune_ctx_t;

const char *msoauth_redirect_uri_absolute(request_rec *r, const msoauth_dir_cfg_t *c)
{
    return c->redirect_uri[0] == '/' ? ap_construct_url(r->pool, c->redirect_uri, r) : c->redirect_uri;
}

int msoauth_is_callback(request_rec *r, const msoauth_dir_cfg_t *c)
{
    return r->uri && !strcmp(r->uri, c->redirect_path);
}

/* Cookie attributes of a pending login: sent back on Microsoft's top-level redirect (Lax). */
const char *msoauth_pending_cookie_attrs(request_rec *r)
{
    const msoauth_dir_cfg_t *c = ap_get_module_config(r->per_dir_config, &auth_msoauth_module);

    /* form_post: Microsoft's POST back is cross-site, so Lax cookies would not come with it */
    if (msoauth_cfg_response_mode(c) == MSOAUTH_RESPONSE_FORM_POST) {
        return "Path=/;HttpOnly;SameSite=None;Secure";
    }
    return !strcasecmp(ap_http_scheme(r), "https") ? "Path=/;HttpOnly;SameSite=Lax;Secure"
                                                   : "Path=/;HttpOnly;SameSite=Lax";
}

static int prune_one(void *data, const char *key, const char *header)
{
    prune_ctx_t *x = data;
    char *copy = apr_pstrdup(x->r->pool, header), *last = NULL, *pair;
    apr_size_t plen = strlen(MSOAUTH_PENDING_COOKIE_PREFIX);

    (void)key;
    for (pair = apr_strtok(copy, ";", &last); pair; pair = apr_strtok(NULL, ";", &last)) {
        char *eq;
        msoauth_pending_t *rec;
        const char *err;
        while (*pair == ' ') {
            pair++;
        }
        if (strncmp(pair, MSOAUTH_PENDING_COOKIE_PREFIX, plen) || !(eq = strchr(pair, '='))) {
            continue;
        }
        *eq = '\0';
        if (msoauth_pending_open(x->r->pool, x->c->keys->state, x->c->client_id, eq + 1, x->now,
                                 msoauth_cfg_state_timeout(x->c), &rec, &err) != APR_SUCCESS) {
            ap_cookie_remove(x->r, pair, x->attrs, x->r->err_headers_out, NULL);
        }
        else {
            pending_cookie_t *pc = apr_array_push(x->live);
            pc->name = pair;
            pc->created = rec->created;
        }
    }
    return 1;
}

/* Expire stale or foreign pending cookies, and the oldest ones beyond the cap. */
static void prune_pending(request_rec *r, const msoauth_dir_cfg_t *c, apr_int64_t now,
                          const char *attrs)
{
    prune_ctx_t x = {r, c, now, attrs, apr_array_make(r->pool, 8, sizeof(pending_cookie_t))};

    apr_table_do(prune_one, &x, r->headers_in, "Cookie", NULL);
    while (x.live->nelts >= MSOAUTH_PENDING_MAX) {
        int i, oldest = 0;
        pending_cookie_t *pc = (pending_cookie_t *)x.live->elts;
        for (i = 1; i < x.live->nelts; i++) {
            if (pc[i].created < pc[oldest].created) {
                oldest = i;
            }
        }
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "dropping the oldest pending sign-in %s",
                      msoauth_log_trunc(r->pool, pc[oldest].name + strlen(MSOAUTH_PENDING_COOKIE_PREFIX), 6));
        ap_cookie_remove(r, pc[oldest].name, attrs, r->err_headers_out, NULL);
        pc[oldest] = pc[x.live->nelts - 1];
        x.live->nelts--;
    }
}

/* Only a path on this server is ever kept as the place to come back to. */
static const char *return_url_for(request_rec *r)
{
    if (msoauth_url_is_local_path(r->unparsed_uri)) {
        return r->unparsed_uri;
    }
    if (msoauth_url_is_local_path(r->parsed_uri.path)) {
        return r->parsed_uri.path;
    }
    return "/";
}

static const char *q(apr_pool_t *p, const char *s)
{
    return apr_pescape_urlencoded(p, s);
}

int msoauth_login_start(request_rec *r, const msoauth_dir_cfg_t *c)
{
    apr_int64_t now = apr_time_sec(apr_time_now());
    const char *attrs = msoauth_pending_cookie_attrs(r);
    const char *redirect_uri = msoauth_redirect_uri_absolute(r, c);
    msoauth_pending_t *rec;
    const char *sealed, *location;

    if (msoauth_pending_new(r->pool, return_url_for(r), now, &rec) != APR_SUCCESS
        || msoauth_pending_seal(r->pool, c->keys->state, c->client_id, rec, &sealed) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "could not create a pending sign-in (random source or cipher failed)");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    prune_pending(r, c, now, attrs);
    ap_cookie_write(r, apr_pstrcat(r->pool, MSOAUTH_PENDING_COOKIE_PREFIX, rec->state, NULL), sealed,
                    attrs, msoauth_cfg_state_timeout(c), r->err_headers_out, NULL);

    location = apr_pstrcat(
        r->pool, msoauth_authorize_url(r->pool, msoauth_cfg_authority(c), msoauth_cfg_tenant(c)),
        "?client_id=", q(r->pool, c->client_id), "&response_type=code",
        "&redirect_uri=", q(r->pool, redirect_uri), "&response_mode=",
        msoauth_cfg_response_mode(c) == MSOAUTH_RESPONSE_FORM_POST ? "form_post" : "query",
        "&scope=", q(r->pool, msoauth_cfg_scope(c)), "&state=", rec->state, "&nonce=", rec->nonce,
        "&code_challenge=", msoauth_pkce_challenge(r->pool, rec->verifier),
        "&code_challenge_method=S256", NULL);

    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  "sign-in started for %s: state %s, redirect_uri %s, return to %s",
                  r->uri, msoauth_log_trunc(r->pool, rec->state, 6), redirect_uri,
                  msoauth_log_trunc(r->pool, rec->return_url, 200));
    if (msoauth_cfg_response_mode(c) == MSOAUTH_RESPONSE_FORM_POST && strcasecmp(ap_http_scheme(r), "https")) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "MSOAuthResponseMode form_post over plain http: browsers "
                      "drop the SameSite=None; Secure pending-login cookie, so this sign-in cannot complete");
    }
    msoauth_no_store(r);
    apr_table_setn(r->headers_out, "Location", location);
    return HTTP_MOVED_TEMPORARILY;
}
