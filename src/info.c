/* <MSOAuthRedirectURI>?info=json: who is signed in, for single-page fronts of legacy apps.
 * Identity fields and expiry times only; never a token. */
#include <string.h>

#include <apr_strings.h>
#include <http_protocol.h>
#include <jansson.h>

#include "msoauth.h"
#include "json.h"

static int send_json(request_rec *r, int status, json_t *body)
{
    const char *text = msoauth_json_dump(r->pool, msoauth_json_own(r->pool, body));

    ap_discard_request_body(r);
    msoauth_no_store(r);
    r->status = status;
    ap_set_content_type(r, "application/json");
    ap_set_content_length(r, strlen(text));
    if (!r->header_only) {
        ap_rputs(text, r);
    }
    return DONE;
}

int msoauth_info_handle(request_rec *r, const msoauth_dir_cfg_t *c)
{
    msoauth_identity_t *id = NULL;
    msoauth_tokens_t *tokens = NULL;
    const char *err = NULL;
    apr_int64_t ends;
    json_t *o;
    int rc;

    if ((rc = msoauth_session_read(r, c, &id)) != OK) {
        return rc;
    }
    if (!id) {
        apr_table_setn(r->err_headers_out, "WWW-Authenticate", MSOAUTH_AUTH_TYPE);
        return send_json(r, HTTP_UNAUTHORIZED, json_pack("{s:s}", "error", "not signed in"));
    }
    ends = id->login_time + msoauth_cfg_session_max_age(c);
    if (id->last_seen + msoauth_cfg_inactivity_timeout(c) < ends) {
        ends = id->last_seen + msoauth_cfg_inactivity_timeout(c);
    }
    o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I}",
                  "remote_user", id->remote_user, "user_id", id->user_id, "username", id->username,
                  "email", id->email, "full_name", id->full_name, "first_name", id->first_name,
                  "last_name", id->last_name, "tenant_id", id->tenant_id, "account_type",
                  msoauth_identity_account_type(id), "signed_in_at",
                  (json_int_t)id->login_time, "session_expires", (json_int_t)ends);
    if (!o) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (*id->token_handle && msoauth_tokenstore_available()
        && msoauth_tokenstore_current(r, c, id, &tokens, &err) == APR_SUCCESS && tokens) {
        json_object_set_new(o, "access_token_expires", json_integer(tokens->expires_at));
    }
    return send_json(r, HTTP_OK, o);
}
