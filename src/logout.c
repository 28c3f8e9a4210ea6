/* Sign-out: <MSOAuthRedirectURI>?logout=<path> ends the module's session and sends the browser
 * to <path> when that is a path on this server, else to /. */
#include <apr_strings.h>
#include <http_protocol.h>

#include "msoauth.h"
#include "url.h"

int msoauth_logout_handle(request_rec *r, const msoauth_dir_cfg_t *c, const char *target)
{
    const char *to = msoauth_url_is_local_path(target) ? target : "/";
    int rc;

    (void)c;
    if ((rc = msoauth_session_clear(r)) != OK) {
        return rc;
    }
    if (to != target) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "sign-out target refused (not a local path): %s",
                      msoauth_log_trunc(r->pool, target, 200));
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "signed out%s%s, going to %s", r->user ? " " : "",
                  r->user ? r->user : "", msoauth_log_trunc(r->pool, to, 200));
    msoauth_no_store(r);
    apr_table_setn(r->headers_out, "Location", to);
    return HTTP_MOVED_TEMPORARILY;
}
