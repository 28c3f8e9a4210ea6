/* Endpoint URLs and provider metadata. */
#include <apr_strings.h>

#include "discovery.h"
#include "json.h"
#include "url.h"

const char *msoauth_discovery_url(apr_pool_t *p, const char *authority, const char *tenant)
{
    return apr_pstrcat(p, authority, "/", tenant, "/v2.0/.well-known/openid-configuration", NULL);
}

const char *msoauth_authorize_url(apr_pool_t *p, const char *authority, const char *tenant)
{
    return apr_pstrcat(p, authority, "/", tenant, "/oauth2/v2.0/authorize", NULL);
}

const char *msoauth_token_url(apr_pool_t *p, const char *authority, const char *tenant)
{
    return apr_pstrcat(p, authority, "/", tenant, "/oauth2/v2.0/token", NULL);
}

apr_status_t msoauth_metadata_parse(apr_pool_t *p, const char *body, apr_size_t len,
                                    msoauth_metadata_t *out, const char **err)
{
    json_t *o = msoauth_json_load(p, body, len, MSOAUTH_METADATA_MAX, err);
    const char *why;

    if (!o) {
        *err = apr_psprintf(p, "discovery document: %s", *err);
        return APR_EINVAL;
    }
    out->issuer = msoauth_json_str(o, "issuer");
    out->jwks_uri = msoauth_json_str(o, "jwks_uri");
    if (!out->issuer || !*out->issuer || !out->jwks_uri) {
        *err = "discovery document lacks issuer or jwks_uri";
        return APR_EINVAL;
    }
    if (msoauth_url_check_endpoint(p, out->jwks_uri, &why) != APR_SUCCESS) {
        *err = apr_psprintf(p, "discovery document's jwks_uri refused: %s", why);
        return APR_EINVAL;
    }
    out->end_session_endpoint = msoauth_json_str(o, "end_session_endpoint");
    if (out->end_session_endpoint
        && msoauth_url_check_endpoint(p, out->end_session_endpoint, &why) != APR_SUCCESS) {
        out->end_session_endpoint = NULL; /* not a place to send browsers */
    }
    return APR_SUCCESS;
}

apr_status_t msoauth_jwks_check(apr_pool_t *p, const char *body, apr_size_t len, const char **err)
{
    json_t *o = msoauth_json_load(p, body, len, MSOAUTH_METADATA_MAX, err);

    if (!o) {
        *err = apr_psprintf(p, "JWKS: %s", *err);
        return APR_EINVAL;
    }
    if (!json_is_array(json_object_get(o, "keys"))) {
        *err = "JWKS has no keys array";
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}
