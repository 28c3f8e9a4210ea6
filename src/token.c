/* Token endpoint: request body and response parsing. */
#include <string.h>

#include <apr_strings.h>
#include <apr_escape.h>
#include <apr_lib.h>

#include "token.h"
#include "json.h"

#define TOKEN_RESPONSE_MAX (1024 * 1024)

static const char *form_pair(apr_pool_t *p, const char *k, const char *v)
{
    return apr_pstrcat(p, k, "=", apr_pescape_urlencoded(p, v), NULL);
}

const char *msoauth_token_request_body(apr_pool_t *p, const char *client_id,
                                       const char *client_secret, const char *code,
                                       const char *redirect_uri, const char *verifier,
                                       const char *scope)
{
    return apr_pstrcat(p, "grant_type=authorization_code",
                       "&", form_pair(p, "client_id", client_id),
                       "&", form_pair(p, "client_secret", client_secret),
                       "&", form_pair(p, "code", code),
                       "&", form_pair(p, "redirect_uri", redirect_uri),
                       "&", form_pair(p, "code_verifier", verifier),
                       "&", form_pair(p, "scope", scope), NULL);
}

const char *msoauth_refresh_request_body(apr_pool_t *p, const char *client_id,
                                         const char *client_secret, const char *refresh_token,
                                         const char *scope)
{
    return apr_pstrcat(p, "grant_type=refresh_token",
                       "&", form_pair(p, "client_id", client_id),
                       "&", form_pair(p, "client_secret", client_secret),
                       "&", form_pair(p, "refresh_token", refresh_token),
                       "&", form_pair(p, "scope", scope), NULL);
}

/* "AADSTS" followed by digits at the start of error_description, else error_codes[0]. */
static const char *aadsts_code(apr_pool_t *p, const char *desc, const json_t *codes)
{
    if (desc && !strncmp(desc, "AADSTS", 6) && apr_isdigit(desc[6])) {
        apr_size_t n = 6;
        while (apr_isdigit(desc[n]) && n < 16) {
            n++;
        }
        return apr_pstrmemdup(p, desc, n);
    }
    if (json_is_array(codes) && json_is_integer(json_array_get(codes, 0))) {
        return apr_psprintf(p, "AADSTS%" APR_INT64_T_FMT,
                            (apr_int64_t)json_integer_value(json_array_get(codes, 0)));
    }
    return NULL;
}

/* expires_in arrives as a number or as a string of digits. */
static apr_int64_t parse_expires_in(const json_t *v)
{
    char *end;
    apr_int64_t n;

    if (json_is_integer(v)) {
        return json_integer_value(v);
    }
    if (json_is_string(v)) {
        const char *text = json_string_value(v);
        n = apr_strtoi64(text, &end, 10);
        return *text && *end == '\0' && n >= 0 ? n : -1;
    }
    return -1;
}

static apr_status_t parse(apr_pool_t *p, long status, const char *body, apr_size_t len,
                          msoauth_token_resp_t *out, int refresh, const char **err)
{
    const char *jerr = NULL;
    json_t *o;

    memset(out, 0, sizeof(*out));
    out->expires_in = -1;
    o = msoauth_json_load(p, body, len, TOKEN_RESPONSE_MAX, &jerr);
    if (!o) {
        *err = apr_psprintf(p, "token endpoint answered HTTP %ld with a body that is %s", status, jerr);
        return APR_EINVAL;
    }
    out->error = msoauth_json_str(o, "error");
    if (out->error || status != 200) {
        out->error = out->error ? out->error : "(no error code)";
        out->error_description = msoauth_json_str(o, "error_description");
        out->trace_id = msoauth_json_str(o, "trace_id");
        out->correlation_id = msoauth_json_str(o, "correlation_id");
        out->aadsts = aadsts_code(p, out->error_description, json_object_get(o, "error_codes"));
        *err = apr_psprintf(p, "token endpoint answered HTTP %ld with error %s", status, out->error);
        return MSOAUTH_ETOKENERR;
    }
    out->id_token = msoauth_json_str(o, "id_token");
    out->access_token = msoauth_json_str(o, "access_token");
    out->refresh_token = msoauth_json_str(o, "refresh_token");
    out->scope = msoauth_json_str(o, "scope");
    out->expires_in = parse_expires_in(json_object_get(o, "expires_in"));
    if (refresh) {
        if (!out->access_token || !*out->access_token) {
            *err = "refresh response has no access_token";
            return APR_EINVAL;
        }
        return APR_SUCCESS;
    }
    if (!out->id_token || !*out->id_token) {
        *err = "token response has no id_token (is 'openid' in the scope?)";
        return APR_EINVAL;
    }
    if (!out->access_token) {
        out->access_token = "";
    }
    return APR_SUCCESS;
}

apr_status_t msoauth_token_parse(apr_pool_t *p, long status, const char *body, apr_size_t len,
                                 msoauth_token_resp_t *out, const char **err)
{
    return parse(p, status, body, len, out, 0, err);
}

apr_status_t msoauth_token_parse_refresh(apr_pool_t *p, long status, const char *body,
                                         apr_size_t len, msoauth_token_resp_t *out,
                                         const char **err)
{
    return parse(p, status, body, len, out, 1, err);
}
