/* The redirect URI: Microsoft sends the browser back here with a code (or an error). Check the
 * pending login, redeem the code, validate the id_token, read the profile, start the session,
 * and send the browser back where it started. */
#include <string.h>

#include <apr_strings.h>
#include <http_protocol.h>
#include <util_script.h>
#include <util_cookies.h>
#include <openssl/crypto.h>

#include "msoauth.h"
#include "pending.h"
#include "random.h"
#include "url.h"
#include "http.h"
#include "token.h"
#include "discovery.h"
#include "provider.h"
#include "idtoken.h"
#include "json.h"
#include "groups.h"
#include "profile.h"
#include "timezone.h"

#define GRAPH_PROFILE_MAX (256 * 1024)

msoauth_http_req_t msoauth_http_settings(const msoauth_dir_cfg_t *c)
{
    msoauth_http_req_t h;

    memset(&h, 0, sizeof(h));
    h.connect_timeout = c->connect_timeout != MSOAUTH_UNSET ? c->connect_timeout : MSOAUTH_DEFAULT_CONNECT_TIMEOUT;
    h.total_timeout = c->total_timeout != MSOAUTH_UNSET ? c->total_timeout : MSOAUTH_DEFAULT_TOTAL_TIMEOUT;
    h.ca_file = c->ca_file;
    h.deadline = apr_time_now() + apr_time_from_sec(h.total_timeout);
    return h;
}

/* Where "Sign in again" points: the page the user wanted, else the site root. */
static const char *retry_target(const msoauth_pending_t *rec)
{
    return rec && msoauth_url_is_local_path(rec->return_url) ? rec->return_url : "/";
}

static int cancelled(request_rec *r, apr_table_t *args, const msoauth_pending_t *rec)
{
    const char *error = apr_table_get(args, "error");
    const char *desc = apr_table_get(args, "error_description");

    ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r,
                  "sign-in cancelled or refused at Microsoft: error=%s, error_description=%s, "
                  "correlation_id=%s",
                  msoauth_log_trunc(r->pool, error, 64), msoauth_log_trunc(r->pool, desc, 300),
                  msoauth_log_trunc(r->pool, apr_table_get(args, "correlation_id"), 64));
    return msoauth_page_send(r, HTTP_UNAUTHORIZED, "Sign-in was cancelled",
                             "The sign-in with Microsoft was cancelled or refused, so you are not signed in.",
                             NULL, retry_target(rec));
}

static int bad_request(request_rec *r, const char *why)
{
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "callback refused: %s", why);
    return msoauth_page_send(r, HTTP_BAD_REQUEST, "Sign-in could not be completed",
                             "This sign-in link is not valid any more (it was already used, it expired, "
                             "or it was started in another browser). Please start again.",
                             NULL, "/");
}

static int upstream_failed(request_rec *r, const char *why, const char *detail,
                           const msoauth_pending_t *rec)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "sign-in failed talking to Microsoft: %s", why);
    return msoauth_page_send(r, HTTP_BAD_GATEWAY, "Sign-in failed",
                             "Microsoft's sign-in service could not be reached or gave an answer we "
                             "could not use. Please try again in a moment.",
                             detail, retry_target(rec));
}

static int rejected(request_rec *r, const char *why, const msoauth_pending_t *rec)
{
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "id_token rejected: %s", why);
    return msoauth_page_send(r, HTTP_UNAUTHORIZED, "Sign-in failed",
                             "The answer from Microsoft could not be verified, so you are not signed in.",
                             NULL, retry_target(rec));
}

/* Open the pending login named by state; it is expired in the browser whatever happens. */
static int take_pending(request_rec *r, const msoauth_dir_cfg_t *c, const char *state,
                        msoauth_pending_t **rec, const char **why)
{
    const char *name = apr_pstrcat(r->pool, MSOAUTH_PENDING_COOKIE_PREFIX, state, NULL);
    const char *sealed = NULL;
    apr_int64_t now = apr_time_sec(apr_time_now());

    *rec = NULL;
    if (ap_cookie_read(r, name, &sealed, 0) != APR_SUCCESS || !sealed || !*sealed) {
        *why = apr_psprintf(r->pool, "no pending sign-in for state %s (unknown, already used, or expired)",
                            msoauth_log_trunc(r->pool, state, 6));
        return 0;
    }
    ap_cookie_remove(r, name, msoauth_pending_cookie_attrs(r), r->err_headers_out, NULL);
    if (msoauth_pending_open(r->pool, c->keys->state, c->client_id, sealed, now,
                             msoauth_cfg_state_timeout(c), rec, why) != APR_SUCCESS) {
        *rec = NULL;
        return 0;
    }
    /* the cookie name is browser input too: the sealed copy of state must match it */
    if (strlen((*rec)->state) != strlen(state)
        || CRYPTO_memcmp((*rec)->state, state, strlen(state)) != 0) {
        *why = "state does not match the pending sign-in";
        *rec = NULL;
        return 0;
    }
    return 1;
}

static int redeem_code(request_rec *r, const msoauth_dir_cfg_t *c, const msoauth_http_req_t *hd,
                       const char *code, const msoauth_pending_t *rec, msoauth_token_resp_t *tok)
{
    msoauth_http_req_t req = *hd;
    msoauth_http_resp_t resp;
    const char *err = NULL;
    apr_status_t rv;

    req.url = msoauth_token_url(r->pool, msoauth_cfg_authority(c), msoauth_cfg_tenant(c));
    req.form_body = msoauth_token_request_body(r->pool, c->client_id, c->client_secret, code,
                                               msoauth_redirect_uri_absolute(r, c), rec->verifier,
                                               msoauth_cfg_scope(c));
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "redeeming code %s at %s",
                  msoauth_log_trunc(r->pool, code, 6), req.url);
    if ((rv = msoauth_http_perform(r->pool, &req, &resp, &err)) != APR_SUCCESS) {
        return upstream_failed(r, apr_pstrcat(r->pool, "token endpoint: ", err, NULL), NULL, rec);
    }
    rv = msoauth_token_parse(r->pool, resp.status, resp.body, resp.len, tok, &err);
    if (rv == MSOAUTH_ETOKENERR) {
        const char *ref = apr_psprintf(r->pool, "Support reference: %s%serror %s, trace id %s, correlation id %s",
                                       tok->aadsts ? tok->aadsts : "", tok->aadsts ? ", " : "",
                                       msoauth_log_trunc(r->pool, tok->error, 64),
                                       msoauth_log_trunc(r->pool, tok->trace_id, 64),
                                       msoauth_log_trunc(r->pool, tok->correlation_id, 64));
        return upstream_failed(r, apr_psprintf(r->pool, "%s: %s (%s)", err,
                                               msoauth_log_trunc(r->pool, tok->error_description, 300), ref),
                               ref, rec);
    }
    if (rv != APR_SUCCESS) {
        return upstream_failed(r, err, NULL, rec);
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "code redeemed: id_token %s, access_token %s, expires_in %" APR_INT64_T_FMT,
                  msoauth_log_trunc(r->pool, tok->id_token, 6),
                  msoauth_log_trunc(r->pool, tok->access_token, 6), tok->expires_in);
    return OK;
}

static int validate_id_token(request_rec *r, const msoauth_dir_cfg_t *c, const msoauth_http_req_t *hd,
                             const msoauth_pending_t *rec, const char *id_token, json_t **claims)
{
    const char *discovery = msoauth_discovery_url(r->pool, msoauth_cfg_authority(c), msoauth_cfg_tenant(c));
    apr_int64_t now = apr_time_sec(apr_time_now());
    msoauth_provider_t prov;
    msoauth_idtoken_expect_t x;
    const char *err = NULL, *why = NULL;
    apr_status_t rv;

    if ((rv = msoauth_provider_get(r->pool, hd, discovery, now, &prov, &err)) != APR_SUCCESS) {
        return upstream_failed(r, err, NULL, rec);
    }
    if (err) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "using cached provider metadata: %s", err);
    }
    if (prov.fetched) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "fetched provider metadata and keys from %s", discovery);
    }
    x.client_id = c->client_id;
    x.nonce = rec->nonce;
    x.issuer_template = prov.issuer;
    x.allowed_tenants = c->allowed_tenants;
    x.now = now;
    rv = msoauth_idtoken_validate(r->pool, id_token, prov.jwks, &x, claims, &err);
    if (rv == MSOAUTH_ENOKID) {
        /* Key rotation: Microsoft may sign with a key newer than our copy of the JWKS. */
        if (msoauth_provider_refresh_keys(r->pool, hd, discovery, now, &prov, &why) == APR_SUCCESS) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "unknown kid: refetched the JWKS from %s", prov.jwks_uri);
            rv = msoauth_idtoken_validate(r->pool, id_token, prov.jwks, &x, claims, &err);
        }
        else {
            err = apr_pstrcat(r->pool, err, " (", why, ")", NULL);
        }
    }
    if (rv != APR_SUCCESS) {
        return rejected(r, err, rec);
    }
    return OK;
}

/* The Graph profile: /me, plus the mailbox time zone (when MailboxSettings.Read was granted) and
 * the photo, in one $batch. Optional: every failure leaves its fields empty, with a warning. */
static void graph_profile(request_rec *r, const msoauth_dir_cfg_t *c, const msoauth_http_req_t *hd,
                          const msoauth_token_resp_t *tok, msoauth_profile_t *prof)
{
    int want_tz = tok->scope && msoauth_scope_grants_mailbox(tok->scope);

    memset(prof, 0, sizeof(*prof));
    if (!*msoauth_cfg_graph_url(c)) {
        return;
    }
    if (!tok->access_token || !*tok->access_token) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "no access token for Microsoft Graph: using the id_token claims only");
        return;
    }
    msoauth_profile_fetch(r->pool, hd, msoauth_cfg_graph_url(c), tok->access_token, want_tz, 1, prof);
    if (prof->me_error) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      "Microsoft Graph profile unavailable, using the id_token claims: %s", prof->me_error);
    }
    else {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "Microsoft Graph profile read from %s",
                      msoauth_cfg_graph_url(c));
    }
    if (want_tz && prof->timezone_error) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "time zone unavailable: %s", prof->timezone_error);
    }
    if (prof->photo_error) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "photo unavailable: %s", prof->photo_error);
    }
}

/* The groups some Require msoauth-group asks about: from the token, or from Graph when the
 * token says there were too many to include (overage). */
static apr_array_header_t *resolve_groups(request_rec *r, const msoauth_dir_cfg_t *c,
                                          const msoauth_http_req_t *hd, const json_t *claims,
                                          const char *access_token)
{
    apr_array_header_t *groups;
    const char *err = NULL;

    if (!msoauth_groups_overage(claims)) {
        return msoauth_groups_from_claims(r->pool, claims);
    }
    if (!*msoauth_cfg_graph_url(c) || !access_token || !*access_token) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      "groups overage for this user but no Microsoft Graph access: group rules will not match");
        return apr_array_make(r->pool, 1, sizeof(const char *));
    }
    if (msoauth_groups_from_graph(r->pool, hd, msoauth_cfg_graph_url(c), access_token, &groups, &err)
        != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      "groups overage: could not read the groups from Microsoft Graph (%s); group rules will not match",
                      err);
        return apr_array_make(r->pool, 1, sizeof(const char *));
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "groups overage: %d relevant groups read from Microsoft Graph",
                  groups->nelts);
    return groups;
}

#define FORM_POST_MAX 16384

/* response_mode=form_post: the parameters come as an urlencoded body, capped in size. */
static int read_form(request_rec *r, apr_table_t **args, const char **why)
{
    const char *ct = apr_table_get(r->headers_in, "Content-Type");
    char *body = apr_palloc(r->pool, FORM_POST_MAX + 1);
    apr_size_t len = 0;
    long n;

    if (!ct || strncasecmp(ct, "application/x-www-form-urlencoded", 33)
        || (ct[33] && ct[33] != ';' && ct[33] != ' ')) {
        *why = "callback POST is not application/x-www-form-urlencoded";
        return HTTP_UNSUPPORTED_MEDIA_TYPE;
    }
    if (ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK) != OK) {
        *why = "callback POST body unreadable";
        return HTTP_BAD_REQUEST;
    }
    if (r->remaining > FORM_POST_MAX) {
        *why = "callback POST body too large";
        return HTTP_REQUEST_ENTITY_TOO_LARGE;
    }
    if (ap_should_client_block(r)) {
        while ((n = ap_get_client_block(r, body + len, FORM_POST_MAX + 1 - len)) > 0) {
            len += (apr_size_t)n;
            if (len > FORM_POST_MAX) {
                *why = "callback POST body too large";
                return HTTP_REQUEST_ENTITY_TOO_LARGE;
            }
        }
        if (n < 0) {
            *why = "callback POST body unreadable";
            return HTTP_BAD_REQUEST;
        }
    }
    body[len] = '\0';
    if (strlen(body) != len) {
        *why = "callback POST body holds a NUL byte";
        return HTTP_BAD_REQUEST;
    }
    if (msoauth_query_parse(r->pool, body, args, why) != APR_SUCCESS) {
        return HTTP_BAD_REQUEST;
    }
    return OK;
}

/* Keep the tokens server-side (never in the cookie); the session holds only the handle. */
static int keep_tokens(request_rec *r, const msoauth_dir_cfg_t *c, const msoauth_token_resp_t *tok,
                       msoauth_identity_t *id, const msoauth_pending_t *rec)
{
    msoauth_tokens_t t;
    apr_time_t expiry = apr_time_from_sec(id->login_time + msoauth_cfg_session_max_age(c));

    t.access_token = tok->access_token;
    t.expires_at = id->login_time + (tok->expires_in > 0 ? tok->expires_in : 3600);
    t.refresh_token = tok->refresh_token ? tok->refresh_token : "";
    t.refreshing_since = 0;
    if (!msoauth_tokenstore_available()
        || msoauth_tokenstore_create(r, c, &t, expiry, &id->token_handle) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "could not keep the tokens of %s in the cache (MSOAuthCache)",
                      id->remote_user);
        return msoauth_page_send(r, HTTP_INTERNAL_SERVER_ERROR, "Sign-in failed",
                                 "The sign-in worked, but this server could not keep it. Please try again.",
                                 NULL, retry_target(rec));
    }
    return OK;
}

int msoauth_callback_handle(request_rec *r, const msoauth_dir_cfg_t *c)
{
    apr_table_t *args = NULL;
    const char *state, *code, *why = NULL, *dropped = NULL;
    msoauth_pending_t *rec = NULL;
    msoauth_http_req_t hd = msoauth_http_settings(c);
    msoauth_token_resp_t tok;
    msoauth_identity_t *id;
    json_t *claims, *me;
    msoauth_profile_t prof;
    int rc;

    if (msoauth_query_parse(r->pool, r->args, &args, &why) != APR_SUCCESS) {
        return bad_request(r, why);
    }
    if (apr_table_get(args, "logout")) {
        return msoauth_logout_handle(r, c, apr_table_get(args, "logout"));
    }
    if (apr_table_get(args, "info")) {
        if (strcmp(apr_table_get(args, "info"), "json")) {
            return bad_request(r, "info takes the value json");
        }
        return msoauth_info_handle(r, c);
    }
    if (apr_table_get(args, "photo")) {
        return msoauth_photo_handle(r, c);
    }
    if (r->method_number == M_POST) {
        if (msoauth_cfg_response_mode(c) != MSOAUTH_RESPONSE_FORM_POST) {
            return bad_request(r, "POST to the callback, but MSOAuthResponseMode is query");
        }
        if ((rc = read_form(r, &args, &why)) != OK) {
            if (rc == HTTP_BAD_REQUEST) {
                return bad_request(r, why);
            }
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "callback refused: %s", why);
            return msoauth_page_send(r, rc, "Sign-in could not be completed", why, NULL, "/");
        }
    }
    else if (msoauth_cfg_response_mode(c) == MSOAUTH_RESPONSE_FORM_POST && apr_table_get(args, "code")) {
        /* form_post keeps the code out of URLs; one in a URL is not from Microsoft */
        return bad_request(r, "code in the query string, but MSOAuthResponseMode is form_post");
    }
    state = apr_table_get(args, "state");
    code = apr_table_get(args, "code");
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "callback: state %s, code %s, error %s",
                  msoauth_log_trunc(r->pool, state, 6), msoauth_log_trunc(r->pool, code, 6),
                  msoauth_log_trunc(r->pool, apr_table_get(args, "error"), 64));

    if (state && !msoauth_is_b64url_token(state, MSOAUTH_TOKEN_CHARS)) {
        return bad_request(r, "state parameter is malformed");
    }
    if (state && !take_pending(r, c, state, &rec, &why)) {
        if (apr_table_get(args, "error")) {
            return cancelled(r, args, NULL);
        }
        return bad_request(r, why);
    }
    if (apr_table_get(args, "error")) {
        return cancelled(r, args, rec);
    }
    if (!state) {
        return bad_request(r, "state parameter missing");
    }
    if (!code || !*code || strlen(code) > 4096) {
        return bad_request(r, "code parameter missing or oversized");
    }

    if ((rc = redeem_code(r, c, &hd, code, rec, &tok)) != OK
        || (rc = validate_id_token(r, c, &hd, rec, tok.id_token, &claims)) != OK) {
        return rc;
    }
    graph_profile(r, c, &hd, &tok, &prof);
    me = prof.me;
    if (msoauth_identity_build(r->pool, claims, me, msoauth_cfg_remote_user_claim(c),
                               apr_time_sec(apr_time_now()), &id, &dropped, &why) != APR_SUCCESS) {
        return rejected(r, why, rec);
    }
    if (prof.timezone) {
        id->timezone = msoauth_timezone_iana(r->pool, prof.timezone);
        if (!*id->timezone) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "time zone '%s' of %s is unknown to ICU: MSOAUTH_TIMEZONE left empty",
                          msoauth_log_trunc(r->pool, prof.timezone, 64), id->remote_user);
        }
    }
    if (prof.photo) {
        msoauth_photo_keep(r, c, id, prof.photo, prof.photo_len, prof.photo_type);
    }
    if (msoauth_groups_any_wanted()) {
        id->groups = resolve_groups(r, c, &hd, claims, tok.access_token);
    }
    if (dropped) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      "claims too large for the session left out for %s: %s", id->remote_user, dropped);
    }
    if (msoauth_random_b64url(r->pool, 16, &id->sid) != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if ((msoauth_cfg_keeps_tokens(c) || msoauth_tokenstore_is_wanted())
        && (rc = keep_tokens(r, c, &tok, id, rec)) != OK) {
        return rc;
    }
    if ((rc = msoauth_session_write(r, c, id)) != OK) {
        return rc;
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "signed in %s (tenant %s, %s account), returning to %s",
                  id->remote_user, id->tenant_id, msoauth_identity_account_type(id),
                  msoauth_log_trunc(r->pool, rec->return_url, 200));
    msoauth_no_store(r);
    apr_table_setn(r->headers_out, "Location", retry_target(rec));
    return HTTP_MOVED_TEMPORARILY;
}
