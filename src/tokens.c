/* Server-side token records. */
#include <string.h>

#include <apr_strings.h>

#include "tokens.h"
#include "seal.h"
#include "json.h"

apr_status_t msoauth_tokens_seal(apr_pool_t *p, const unsigned char *key, const char *aad,
                                 const msoauth_tokens_t *t, const char **sealed)
{
    json_t *o = msoauth_json_own(p, json_pack("{s:s, s:I, s:s, s:I}", "at", t->access_token, "exp",
                                              (json_int_t)t->expires_at, "rt",
                                              t->refresh_token ? t->refresh_token : "", "rf",
                                              (json_int_t)t->refreshing_since));
    const char *text;

    if (!o) {
        return APR_EGENERAL;
    }
    text = msoauth_json_dump(p, o);
    return msoauth_seal(p, key, aad, text, strlen(text), sealed);
}

apr_status_t msoauth_tokens_open(apr_pool_t *p, const unsigned char *key, const char *aad,
                                 const char *sealed, msoauth_tokens_t **t, const char **err)
{
    msoauth_tokens_t *out = apr_pcalloc(p, sizeof(*out));
    json_int_t exp, rf;
    json_error_t jerr;
    apr_size_t len;
    char *plain;
    json_t *o;

    *t = NULL;
    if (msoauth_open(p, key, aad, sealed, &plain, &len, err) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    if (!(o = msoauth_json_load(p, plain, len, MSOAUTH_SEALED_MAX, err))
        || json_unpack_ex(o, &jerr, JSON_STRICT, "{s:s, s:I, s:s, s:I}", "at", &out->access_token,
                          "exp", &exp, "rt", &out->refresh_token, "rf", &rf) != 0) {
        *err = "token record is malformed";
        return APR_EINVAL;
    }
    out->expires_at = exp;
    out->refreshing_since = rf;
    *t = out;
    return APR_SUCCESS;
}

int msoauth_tokens_need_refresh(const msoauth_tokens_t *t, apr_int64_t now)
{
    return t->expires_at && t->expires_at - now < MSOAUTH_REFRESH_MARGIN;
}
