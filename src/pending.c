/* Pending-login records: created, sealed, opened. */
#include <string.h>

#include <apr_strings.h>

#include "pending.h"
#include "random.h"
#include "seal.h"
#include "json.h"
#include "url.h"

/* A record created this far in the future is refused (clock skew between servers). */
#define FUTURE_SKEW 120

static const char *aad_for(apr_pool_t *p, const char *client_id)
{
    return apr_pstrcat(p, "msoauth pending-login v1|", client_id, NULL);
}

apr_status_t msoauth_pending_new(apr_pool_t *p, const char *return_url, apr_int64_t now,
                                 msoauth_pending_t **out)
{
    msoauth_pending_t *rec = apr_pcalloc(p, sizeof(*rec));
    apr_status_t rv;

    *out = NULL;
    if ((rv = msoauth_random_b64url(p, MSOAUTH_TOKEN_BYTES, &rec->state)) != APR_SUCCESS
        || (rv = msoauth_random_b64url(p, MSOAUTH_TOKEN_BYTES, &rec->nonce)) != APR_SUCCESS
        || (rv = msoauth_random_b64url(p, MSOAUTH_TOKEN_BYTES, &rec->verifier)) != APR_SUCCESS) {
        return rv;
    }
    rec->return_url = return_url;
    rec->created = now;
    *out = rec;
    return APR_SUCCESS;
}

apr_status_t msoauth_pending_seal(apr_pool_t *p, const unsigned char *key, const char *client_id,
                                  const msoauth_pending_t *rec, const char **sealed)
{
    json_t *o = msoauth_json_own(p, json_pack("{s:s, s:s, s:s, s:s, s:I}", "s", rec->state, "n",
                                              rec->nonce, "v", rec->verifier, "r",
                                              rec->return_url, "t", (json_int_t)rec->created));
    const char *text;

    if (!o) {
        return APR_EGENERAL;
    }
    text = msoauth_json_dump(p, o);
    return msoauth_seal(p, key, aad_for(p, client_id), text, strlen(text), sealed);
}

apr_status_t msoauth_pending_open(apr_pool_t *p, const unsigned char *key, const char *client_id,
                                  const char *sealed, apr_int64_t now, int timeout,
                                  msoauth_pending_t **out, const char **err)
{
    msoauth_pending_t *rec = apr_pcalloc(p, sizeof(*rec));
    char *plain;
    apr_size_t len;
    json_t *o;
    json_int_t created;
    json_error_t jerr;

    *out = NULL;
    if (msoauth_open(p, key, aad_for(p, client_id), sealed, &plain, &len, err) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    if (!(o = msoauth_json_load(p, plain, len, MSOAUTH_SEALED_MAX, err))
        || json_unpack_ex(o, &jerr, JSON_STRICT, "{s:s, s:s, s:s, s:s, s:I}", "s", &rec->state,
                          "n", &rec->nonce, "v", &rec->verifier, "r", &rec->return_url, "t",
                          &created) != 0) {
        *err = "pending-login record is malformed";
        return APR_EINVAL;
    }
    rec->created = created;
    if (created > now + FUTURE_SKEW) {
        *err = "pending login was created in the future";
        return APR_EINVAL;
    }
    if (now - created > timeout) {
        *err = apr_psprintf(p, "pending login expired (%" APR_INT64_T_FMT " s old, MSOAuthStateTimeout %d)",
                            (apr_int64_t)(now - created), timeout);
        return APR_TIMEUP;
    }
    if (!msoauth_url_is_local_path(rec->return_url)) {
        *err = "pending login holds an unsafe return URL";
        return APR_EINVAL;
    }
    *out = rec;
    return APR_SUCCESS;
}
