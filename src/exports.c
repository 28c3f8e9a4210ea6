/* The identity, handed to the application: REMOTE_USER and AUTH_TYPE always; MSOAUTH_*
 * variables (CGI, PHP) and X-MSOAuth-* request headers (proxied backends) as configured; the
 * App Service client-principal headers on request. */
#include <apr_strings.h>
#include <http_request.h>

#include "msoauth.h"
#include "outbound.h"
#include "easyauth.h"

typedef struct {
    request_rec *r;
    int env;
    int headers;
    msoauth_header_enc_t enc;
} export_ctx_t;

static void put(export_ctx_t *x, const char *env_name, const char *header_name, const char *value)
{
    if (x->env) {
        apr_table_setn(x->r->subprocess_env, env_name, value);
    }
    if (x->headers) {
        /* identity values carry no control characters (cleaned when the session was opened),
         * so the default encoding needs no copy */
        apr_table_setn(x->r->headers_in, header_name,
                       x->enc == MSOAUTH_ENC_NONE ? value : msoauth_header_encode(x->r->pool, value, x->enc));
    }
}

static int export_claim(void *data, const char *name, const char *value)
{
    export_ctx_t *x = data;
    apr_pool_t *p = x->r->pool;

    put(x, apr_pstrcat(p, "MSOAUTH_CLAIM_", msoauth_claim_env_name(p, name), NULL),
        msoauth_claim_header_name(p, name), value);
    return 1;
}

void msoauth_exports_set(request_rec *r, const msoauth_dir_cfg_t *c, const msoauth_identity_t *id)
{
    int pass = msoauth_cfg_pass(c);
    export_ctx_t x = {r, pass & MSOAUTH_PASS_ENV, pass & MSOAUTH_PASS_HEADERS,
                      (msoauth_header_enc_t)msoauth_cfg_header_encoding(c)};

    r->user = (char *)id->remote_user;
    r->ap_auth_type = MSOAUTH_AUTH_TYPE;
    msoauth_request_identity_set(r, c, id);
    if (x.env || x.headers) {
        put(&x, "MSOAUTH_USER_ID", "X-MSOAuth-User-Id", id->user_id);
        put(&x, "MSOAUTH_USERNAME", "X-MSOAuth-Username", id->username);
        put(&x, "MSOAUTH_EMAIL", "X-MSOAuth-Email", id->email);
        put(&x, "MSOAUTH_FULL_NAME", "X-MSOAuth-Full-Name", id->full_name);
        put(&x, "MSOAUTH_FIRST_NAME", "X-MSOAuth-First-Name", id->first_name);
        put(&x, "MSOAUTH_LAST_NAME", "X-MSOAuth-Last-Name", id->last_name);
        put(&x, "MSOAUTH_TENANT_ID", "X-MSOAuth-Tenant-Id", id->tenant_id);
        put(&x, "MSOAUTH_ACCOUNT_TYPE", "X-MSOAuth-Account-Type", msoauth_identity_account_type(id));
        put(&x, "MSOAUTH_TIMEZONE", "X-MSOAuth-Timezone", id->timezone);
        put(&x, "MSOAUTH_LOCALE", "X-MSOAuth-Locale", id->locale);
        put(&x, "MSOAUTH_EMAIL_VERIFIED", "X-MSOAuth-Email-Verified", id->email_verified ? "true" : "false");
        put(&x, "MSOAUTH_PICTURE", "X-MSOAuth-Picture", msoauth_photo_url(r, c));
        apr_table_do(export_claim, &x, id->claims, NULL);
    }
    if (msoauth_cfg_easy_auth(c)) {
        const char *principal = msoauth_easyauth_principal(r->pool, id);
        const char *oid = apr_table_get(id->claims, "oid");
        const char *upn = apr_table_get(id->claims, "preferred_username");
        if (principal) {
            apr_table_setn(r->headers_in, "X-MS-CLIENT-PRINCIPAL", principal);
        }
        apr_table_setn(r->headers_in, "X-MS-CLIENT-PRINCIPAL-ID", oid ? oid : id->user_id);
        if (upn) {
            apr_table_setn(r->headers_in, "X-MS-CLIENT-PRINCIPAL-NAME",
                           msoauth_header_encode(r->pool, upn, MSOAUTH_ENC_NONE));
        }
        apr_table_setn(r->headers_in, "X-MS-CLIENT-PRINCIPAL-IDP", "aad");
    }
}

/* What authn found, kept for the Require rules and for internal redirects. */
typedef struct {
    const msoauth_identity_t *id;
    const msoauth_dir_cfg_t *c;
    const msoauth_tokens_t *tokens;
} request_state_t;

static const request_state_t *request_state(request_rec *r)
{
    /* a subrequest or an internal redirect belongs to the same user as the request before */
    while (r) {
        const request_state_t *st = ap_get_module_config(r->request_config, &auth_msoauth_module);
        if (st) {
            return st;
        }
        r = r->main ? r->main : r->prev;
    }
    return NULL;
}

void msoauth_request_identity_set(request_rec *r, const msoauth_dir_cfg_t *c, const msoauth_identity_t *id)
{
    request_state_t *st = apr_pcalloc(r->pool, sizeof(*st));

    st->id = id;
    st->c = c;
    ap_set_module_config(r->request_config, &auth_msoauth_module, st);
}

const msoauth_identity_t *msoauth_request_identity(request_rec *r)
{
    const request_state_t *st = request_state(r);
    return st ? st->id : NULL;
}

void msoauth_exports_after_redirect(request_rec *r)
{
    const request_state_t *st;

    /* An internal redirect (mod_actions' php-cgi, mod_rewrite to index.php, ErrorDocument) is
     * made by the server for a request this module already admitted; httpd renamed the
     * variables to REDIRECT_* and may skip authentication, so hand the identity on again. */
    if (!r->prev || apr_table_get(r->subprocess_env, "MSOAUTH_USER_ID")
        || !(st = request_state(r)) || !st->id) {
        return;
    }
    msoauth_exports_set(r, st->c, st->id);
    if (st->tokens) {
        msoauth_exports_token(r, st->c, st->tokens);
    }
}

void msoauth_exports_token(request_rec *r, const msoauth_dir_cfg_t *c, const msoauth_tokens_t *t)
{
    int pass = msoauth_cfg_pass(c);
    request_state_t *st = ap_get_module_config(r->request_config, &auth_msoauth_module);

    if (st) {
        st->tokens = t;
    }
    const char *expires = apr_psprintf(r->pool, "%" APR_INT64_T_FMT, t->expires_at);

    if (pass & MSOAUTH_PASS_ENV) {
        apr_table_setn(r->subprocess_env, "MSOAUTH_ACCESS_TOKEN", t->access_token);
        apr_table_setn(r->subprocess_env, "MSOAUTH_ACCESS_TOKEN_EXPIRES", expires);
    }
    if (pass & MSOAUTH_PASS_HEADERS) {
        apr_table_setn(r->headers_in, "X-MSOAuth-Access-Token", msoauth_header_encode(r->pool, t->access_token, MSOAUTH_ENC_NONE));
        apr_table_setn(r->headers_in, "X-MSOAuth-Access-Token-Expires", expires);
    }
}
