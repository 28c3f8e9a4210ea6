/* Sign-out: <MSOAuthRedirectURI>?logout=<path> ends the module's session (cookie and
 * server-side tokens), then sends the browser to Microsoft's end-session endpoint so the user is
 * not silently signed straight back in (MSOAuthLogoutMicrosoft On), which returns them to the
 * absolute URL of <path>; or straight to <path>. <path> must be a path on this server, else /. */
#include <string.h>

#include <apr_strings.h>
#include <apr_escape.h>
#include <http_protocol.h>
#include <http_core.h>

#include "msoauth.h"
#include "url.h"
#include "provider.h"
#include "discovery.h"

/* Microsoft's end-session URL for this location, or NULL (not advertised, or discovery down). */
static const char *end_session_url(request_rec *r, const msoauth_dir_cfg_t *c, const char *to,
                                   const msoauth_identity_t *id)
{
    msoauth_http_req_t http = msoauth_http_settings(c);
    msoauth_provider_t prov;
    const char *err = NULL, *hint = id ? apr_table_get(id->claims, "login_hint") : NULL;

    if (msoauth_provider_get(r->pool, &http, msoauth_discovery_url(r->pool, msoauth_cfg_authority(c),
                                                                   msoauth_cfg_tenant(c)),
                             apr_time_sec(apr_time_now()), &prov, &err) != APR_SUCCESS
        || !prov.end_session_endpoint) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      "signed out here only: Microsoft's end-session endpoint is unknown (%s)",
                      err ? err : "not in the discovery document");
        return NULL;
    }
    return apr_pstrcat(r->pool, prov.end_session_endpoint,
                       strchr(prov.end_session_endpoint, '?') ? "&" : "?",
                       "post_logout_redirect_uri=", apr_pescape_urlencoded(r->pool, ap_construct_url(r->pool, to, r)),
                       "&client_id=", apr_pescape_urlencoded(r->pool, c->client_id),
                       hint && *hint ? "&logout_hint=" : "", hint && *hint ? apr_pescape_urlencoded(r->pool, hint) : "",
                       NULL);
}

int msoauth_logout_handle(request_rec *r, const msoauth_dir_cfg_t *c, const char *target)
{
    const char *to = msoauth_url_is_local_path(target) ? target : "/", *location = NULL;
    msoauth_identity_t *id = NULL;
    int rc;

    if (to != target) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "sign-out target refused (not a local path): %s",
                      msoauth_log_trunc(r->pool, target, 200));
    }
    /* Another site linking here must not sign people out behind their back: a cross-site
     * request (as the browser reports it) gets a page to confirm with a same-site click. */
    if (apr_table_get(r->headers_in, "Sec-Fetch-Site")
        && !strcasecmp(apr_table_get(r->headers_in, "Sec-Fetch-Site"), "cross-site")) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "cross-site sign-out request: asking for confirmation");
        return msoauth_page_send_link(r, HTTP_OK, "Sign out?", "Do you want to sign out of this site?", NULL,
                                      apr_pstrcat(r->pool, r->uri, "?", r->args, NULL), "Sign out");
    }
    if ((rc = msoauth_session_read(r, c, &id)) != OK) {
        return rc;
    }
    if (id) {
        msoauth_tokenstore_remove(r, id->token_handle);
    }
    if ((rc = msoauth_session_clear(r)) != OK) {
        return rc;
    }
    if (msoauth_cfg_logout_microsoft(c)) {
        location = end_session_url(r, c, to, id);
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "signed out %s, going to %s%s", id ? id->remote_user : "(no session)",
                  msoauth_log_trunc(r->pool, to, 200), location ? " via Microsoft's end-session endpoint" : "");
    msoauth_no_store(r);
    apr_table_setn(r->headers_out, "Location", location ? location : to);
    return HTTP_MOVED_TEMPORARILY;
}
