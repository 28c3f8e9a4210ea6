/* The check_authn hook: decline what is not ours; handle the callback; a valid session
 * exports the user (no network, no disk); anything else starts a sign-in. */
#include <string.h>

#include <http_request.h>
#include <http_core.h>

#include "msoauth.h"
#include "outbound.h"

/* The directive missing for this request, if any (also caught by configtest where visible). */
static const char *missing_directive(const msoauth_dir_cfg_t *c)
{
    if (!c->client_id) return "MSOAuthClientID";
    if (!c->client_secret) return "MSOAuthClientSecret";
    if (!c->redirect_uri) return "MSOAuthRedirectURI";
    if (!c->keys) return "MSOAuthCryptoPassphrase";
    return NULL;
}

/* No valid session: what MSOAuthUnauthAction and the kind of request call for. */
static int unauthenticated(request_rec *r, const msoauth_dir_cfg_t *c)
{
    int action = msoauth_cfg_unauth_action(c);

    if (action == MSOAUTH_UNAUTH_PASS) {
        /* anonymous, but through: "Require valid-user" accepts the empty user */
        r->user = "";
        r->ap_auth_type = MSOAUTH_AUTH_TYPE;
        return OK;
    }
    if (action == MSOAUTH_UNAUTH_403) {
        return msoauth_page_send(r, HTTP_FORBIDDEN, "Access denied",
                                 "This page is only available to signed-in users.", NULL, NULL);
    }
    /* A subrequest, an XHR/fetch call or a 401 policy gets 401 and no pending-login cookie:
     * a page full of API calls must not pile up cookies or redirect into CORS errors. */
    if (action == MSOAUTH_UNAUTH_401 || r->main
        || !msoauth_is_navigation(apr_table_get(r->headers_in, "X-Requested-With"),
                                  apr_table_get(r->headers_in, "Sec-Fetch-Mode"),
                                  apr_table_get(r->headers_in, "Accept"))) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "not signed in: 401 for %s", r->uri);
        apr_table_setn(r->err_headers_out, "WWW-Authenticate", MSOAUTH_AUTH_TYPE);
        if (r->main) {
            return HTTP_UNAUTHORIZED;
        }
        return msoauth_page_send(r, HTTP_UNAUTHORIZED, "Sign-in required",
                                 "Please sign in to use this page.", NULL, NULL);
    }
    return msoauth_login_start(r, c);
}

static apr_int64_t touch_interval(const msoauth_dir_cfg_t *c)
{
    int half = msoauth_cfg_inactivity_timeout(c) / 2;
    return half < MSOAUTH_TOUCH_INTERVAL ? half : MSOAUTH_TOUCH_INTERVAL;
}

/* A valid session: keep it alive, hand on the identity (and the access token when asked). */
static int signed_in(request_rec *r, const msoauth_dir_cfg_t *c, msoauth_identity_t *id)
{
    apr_int64_t now = apr_time_sec(apr_time_now());
    msoauth_tokens_t *tokens = NULL;
    const char *err = NULL;

    if (msoauth_cfg_pass_access_token(c)) {
        if (!*id->token_handle) {
            err = "the session holds no tokens (signed in before MSOAuthPassAccessToken was set)";
        }
        else if (msoauth_tokenstore_current(r, c, id, &tokens, &err) != APR_SUCCESS) {
            tokens = NULL;
        }
        if (!tokens) {
            /* a lost or revoked token ends the session cleanly: sign in again */
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "session of %s ended: %s", id->remote_user, err);
            msoauth_tokenstore_remove(r, id->token_handle);
            msoauth_session_clear(r);
            return unauthenticated(r, c);
        }
    }
    /* Sliding inactivity window, but the cookie is rewritten at most once a minute (more often
     * only for inactivity timeouts under two minutes, so activity is never recorded too late). */
    if (now - id->last_seen >= touch_interval(c) && !r->main) {
        id->last_seen = now;
        if (msoauth_session_touch(r, c, id) != OK) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "could not record activity for %s", id->remote_user);
        }
    }
    msoauth_exports_set(r, c, id);
    if (tokens) {
        msoauth_exports_token(r, c, tokens);
    }
    ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r, "session of %s accepted", id->remote_user);
    return OK;
}

int msoauth_authn_check(request_rec *r)
{
    const char *missing;
    const msoauth_dir_cfg_t *c;
    msoauth_identity_t *id = NULL;
    int rc;

    if (!msoauth_is_active(r)) {
        return DECLINED;
    }
    /* header_parser did this for main requests; subrequests can come from elsewhere */
    msoauth_inbound_scrub(r);
    c = ap_get_module_config(r->per_dir_config, &auth_msoauth_module);
    if ((missing = missing_directive(c)) != NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "AuthType msoauth is used for %s but %s is not set",
                      r->uri, missing);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    /* A subrequest of a signed-in request (DirectoryIndex, SSI) is that same user. */
    if (r->main && r->main->user) {
        r->user = r->main->user;
        r->ap_auth_type = r->main->ap_auth_type;
        return OK;
    }
    if (msoauth_is_callback(r, c)) {
        return msoauth_callback_handle(r, c);
    }
    if ((rc = msoauth_session_read(r, c, &id)) != OK) {
        return rc;
    }
    if (id) {
        return signed_in(r, c, id);
    }
    return unauthenticated(r, c);
}
