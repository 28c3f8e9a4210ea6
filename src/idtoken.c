/* id_token checks. Order matters: the header's alg is checked before any key is touched,
 * the signature before any claim is believed. */
#include <string.h>

#include <apr_strings.h>
#include <openssl/crypto.h>
#include <cjose/cjose.h>

#include "idtoken.h"
#include "json.h"
#include "random.h"
#include "url.h"

const char *msoauth_issuer_for_tenant(apr_pool_t *p, const char *tmpl, const char *tid)
{
    const char *at = strstr(tmpl, "{tenantid}");

    if (!at) {
        return tmpl;
    }
    return apr_pstrcat(p, apr_pstrmemdup(p, tmpl, at - tmpl), tid, at + strlen("{tenantid}"),
                       NULL);
}

static int str_eq_ct(const char *a, const char *b)
{
    size_t n = strlen(a);
    return n == strlen(b) && CRYPTO_memcmp(a, b, n) == 0;
}

/* The JWKS entry for kid, if it is an RSA signing key usable with RS256. */
static const json_t *find_key(const json_t *jwks, const char *kid, const char **err)
{
    const json_t *keys = json_object_get(jwks, "keys"), *k;
    size_t i;

    json_array_foreach(keys, i, k) {
        const char *use = msoauth_json_str(k, "use"), *alg = msoauth_json_str(k, "alg");
        const char *kty = msoauth_json_str(k, "kty"), *id = msoauth_json_str(k, "kid");
        if (!id || strcmp(id, kid)) {
            continue;
        }
        if (!kty || strcmp(kty, "RSA") || (use && strcmp(use, "sig")) || (alg && strcmp(alg, "RS256"))) {
            *err = "kid names a key that is not an RSA signing key for RS256";
            return NULL;
        }
        return k;
    }
    *err = "kid not found in the provider's JWKS";
    return NULL;
}

static apr_status_t check_header(apr_pool_t *p, const char *compact, const char **kid,
                                 const char **err)
{
    const char *dot = strchr(compact, '.');
    const unsigned char *raw;
    apr_size_t len;
    const char *alg;
    json_t *h;

    if (!dot || !strchr(dot + 1, '.') || strchr(strchr(dot + 1, '.') + 1, '.')) {
        *err = "not a compact JWS (three dot-separated parts)";
        return APR_EINVAL;
    }
    raw = msoauth_b64url_decode(p, apr_pstrmemdup(p, compact, dot - compact), &len);
    if (!raw || !(h = msoauth_json_load(p, (const char *)raw, len, 4096, err))) {
        *err = "header is not base64url JSON";
        return APR_EINVAL;
    }
    alg = msoauth_json_str(h, "alg");
    if (!alg || strcmp(alg, "RS256")) {
        *err = apr_psprintf(p, "alg '%s' not allowed (RS256 only)",
                            alg ? msoauth_json_flatten(p, json_object_get(h, "alg")) : "(none)");
        return APR_EINVAL;
    }
    if (json_object_get(h, "crit")) {
        *err = "header has 'crit' extensions we do not understand";
        return APR_EINVAL;
    }
    *kid = msoauth_json_str(h, "kid");
    if (!*kid || !**kid) {
        *err = "header has no kid";
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

/* cjose allocates with malloc; release its objects even on early returns. */
static apr_status_t release_jws(void *d)
{
    cjose_jws_release(d);
    return APR_SUCCESS;
}
static apr_status_t release_jwk(void *d)
{
    cjose_jwk_release(d);
    return APR_SUCCESS;
}

static apr_status_t check_signature(apr_pool_t *p, const char *compact, const json_t *key,
                                    json_t **payload, const char **err)
{
    cjose_err cerr;
    cjose_jwk_t *jwk = cjose_jwk_import_json((cjose_header_t *)key, &cerr);
    cjose_jws_t *jws;
    uint8_t *plain = NULL;
    size_t plain_len = 0;

    if (!jwk) {
        *err = apr_psprintf(p, "JWKS key unusable (%s)", cerr.message);
        return APR_EINVAL;
    }
    apr_pool_cleanup_register(p, jwk, release_jwk, apr_pool_cleanup_null);
    jws = cjose_jws_import(compact, strlen(compact), &cerr);
    if (!jws) {
        *err = apr_psprintf(p, "not a valid JWS (%s)", cerr.message);
        return APR_EINVAL;
    }
    apr_pool_cleanup_register(p, jws, release_jws, apr_pool_cleanup_null);
    if (!cjose_jws_verify(jws, jwk, &cerr)) {
        *err = "signature does not verify";
        return APR_EINVAL;
    }
    if (!cjose_jws_get_plaintext(jws, &plain, &plain_len, &cerr)) {
        *err = "payload unreadable";
        return APR_EINVAL;
    }
    *payload = msoauth_json_load(p, (const char *)plain, plain_len, MSOAUTH_IDTOKEN_MAX, err);
    if (!*payload) {
        *err = apr_psprintf(p, "payload: %s", *err);
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

static int get_time(const json_t *claims, const char *name, apr_int64_t *t)
{
    const json_t *v = json_object_get(claims, name);
    if (json_is_integer(v)) {
        *t = json_integer_value(v);
        return 1;
    }
    if (json_is_real(v)) {
        *t = (apr_int64_t)json_real_value(v);
        return 1;
    }
    return 0;
}

static apr_status_t check_audience(apr_pool_t *p, const json_t *c, const char *client_id,
                                   const char **err)
{
    const json_t *aud = json_object_get(c, "aud"), *e;
    size_t i;
    int found = 0;

    if (json_is_string(aud)) {
        found = !strcmp(json_string_value(aud), client_id);
    }
    else if (json_is_array(aud)) {
        json_array_foreach(aud, i, e) {
            found |= json_is_string(e) && !strcmp(json_string_value(e), client_id);
        }
        /* several audiences: only acceptable when we are the authorized party */
        if (found && json_array_size(aud) > 1) {
            const char *azp = msoauth_json_str(c, "azp");
            found = azp && !strcmp(azp, client_id);
        }
    }
    if (!found) {
        *err = apr_psprintf(p, "aud mismatch (token for '%s', expected our client id)",
                            aud ? msoauth_json_flatten(p, aud) : "(none)");
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

static apr_status_t check_times(apr_pool_t *p, const json_t *c, apr_int64_t now, const char **err)
{
    apr_int64_t exp, iat, nbf;

    if (!get_time(c, "exp", &exp)) {
        *err = "exp missing";
        return APR_EINVAL;
    }
    if (exp <= now - MSOAUTH_CLOCK_SKEW) {
        *err = apr_psprintf(p, "expired (exp %" APR_INT64_T_FMT " s ago)", now - exp);
        return APR_EINVAL;
    }
    if (!get_time(c, "iat", &iat)) {
        *err = "iat missing";
        return APR_EINVAL;
    }
    if (iat > now + MSOAUTH_CLOCK_SKEW) {
        *err = apr_psprintf(p, "iat %" APR_INT64_T_FMT " s in the future", iat - now);
        return APR_EINVAL;
    }
    if (get_time(c, "nbf", &nbf) && nbf > now + MSOAUTH_CLOCK_SKEW) {
        *err = apr_psprintf(p, "not valid yet (nbf %" APR_INT64_T_FMT " s in the future)", nbf - now);
        return APR_EINVAL;
    }
    if (json_object_get(c, "nbf") && !get_time(c, "nbf", &nbf)) {
        *err = "nbf is not a number";
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

static int tenant_allowed(const apr_array_header_t *allowed, const char *tid)
{
    int i;

    if (!allowed) {
        return 1;
    }
    for (i = 0; i < allowed->nelts; i++) {
        if (!strcasecmp(APR_ARRAY_IDX(allowed, i, const char *), tid)) {
            return 1;
        }
    }
    return 0;
}

apr_status_t msoauth_idtoken_validate(apr_pool_t *p, const char *compact, const json_t *jwks,
                                      const msoauth_idtoken_expect_t *x, json_t **claims,
                                      const char **err)
{
    const char *kid = NULL, *tid, *iss, *nonce, *want_iss, *key_iss;
    const json_t *key;
    json_t *c;
    apr_status_t rv;

    *claims = NULL;
    if (!compact || strlen(compact) > MSOAUTH_IDTOKEN_MAX) {
        *err = "missing or larger than " APR_STRINGIFY(MSOAUTH_IDTOKEN_MAX) " bytes";
        return APR_EINVAL;
    }
    if ((rv = check_header(p, compact, &kid, err)) != APR_SUCCESS) {
        return rv;
    }
    if (!(key = find_key(jwks, kid, err))) {
        return strstr(*err, "not found") ? MSOAUTH_ENOKID : APR_EINVAL;
    }
    if ((rv = check_signature(p, compact, key, &c, err)) != APR_SUCCESS
        || (rv = check_audience(p, c, x->client_id, err)) != APR_SUCCESS
        || (rv = check_times(p, c, x->now, err)) != APR_SUCCESS) {
        return rv;
    }
    nonce = msoauth_json_str(c, "nonce");
    if (!nonce || !str_eq_ct(nonce, x->nonce)) {
        *err = nonce ? "nonce mismatch" : "nonce missing";
        return APR_EINVAL;
    }
    tid = msoauth_json_str(c, "tid");
    if (!msoauth_is_guid(tid)) {
        *err = "tid missing or not a GUID";
        return APR_EINVAL;
    }
    iss = msoauth_json_str(c, "iss");
    want_iss = msoauth_issuer_for_tenant(p, x->issuer_template, tid);
    if (!iss || strcmp(iss, want_iss)) {
        *err = apr_psprintf(p, "iss mismatch ('%s', expected '%s')", iss ? iss : "(none)", want_iss);
        return APR_EINVAL;
    }
    key_iss = msoauth_json_str(key, "issuer");
    if (key_iss && strcmp(iss, msoauth_issuer_for_tenant(p, key_iss, tid))) {
        *err = apr_psprintf(p, "iss '%s' does not match the signing key's issuer '%s'", iss, key_iss);
        return APR_EINVAL;
    }
    if (!tenant_allowed(x->allowed_tenants, tid)) {
        *err = apr_psprintf(p, "tid %s is not in MSOAuthAllowedTenants", tid);
        return APR_EINVAL;
    }
    *claims = c;
    return APR_SUCCESS;
}
