/* The check_authn hook: decline what is not ours; handle the callback; a valid session
 * exports the user (no network, no disk); anything else starts a sign-in. */
#include <string.h>

#include <http_request.h>
#include <http_core.h>

#include "msoauth.h"

/* The directive missing for this request, if any (also caught by configtest where visible). */
static const char *missing_directive(const msoauth_dir_cfg_t *c)
{
    if (!c->client_id) return "MSOAuthClientID";
    if (!c->client_secret) return "MSOAuthClientSecret";
    if (!c->redirect_uri) return "MSOAuthRedirectURI";
    if (!c->keys) return "MSOAuthCryptoPassphrase";
    return NULL;
}

int msoauth_authn_check(request_rec *r)
{
    const char *type = ap_auth_type(r), *missing;
    const msoauth_dir_cfg_t *c;
    msoauth_identity_t *id = NULL;
    int rc;

    if (!type || strcasecmp(type, MSOAUTH_AUTH_TYPE)) {
        return DECLINED;
    }
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
        msoauth_exports_set(r, id);
        ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r, "session of %s accepted", id->remote_user);
        return OK;
    }
    /* A subrequest never starts a sign-in (no cookies or redirects from lookups). */
    if (r->main) {
        return HTTP_UNAUTHORIZED;
    }
    return msoauth_login_start(r, c);
}
