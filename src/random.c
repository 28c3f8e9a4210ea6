/* Random tokens, base64url and the PKCE challenge. */
#include <string.h>

#include <apr_strings.h>
#include <apr_general.h>
#include <apr_encode.h>
#include <openssl/sha.h>

#include "random.h"

apr_status_t msoauth_random_b64url(apr_pool_t *p, apr_size_t nbytes, const char **out)
{
    unsigned char *buf = apr_palloc(p, nbytes);
    apr_status_t rv = apr_generate_random_bytes(buf, nbytes);

    *out = NULL;
    if (rv != APR_SUCCESS) {
        return rv;
    }
    *out = msoauth_b64url_encode(p, buf, nbytes);
    return *out ? APR_SUCCESS : APR_EGENERAL;
}

const char *msoauth_b64url_encode(apr_pool_t *p, const void *data, apr_size_t len)
{
    return apr_pencode_base64_binary(p, data, len, APR_ENCODE_BASE64URL | APR_ENCODE_NOPADDING,
                                     NULL);
}

int msoauth_is_b64url_token(const char *s, apr_size_t len)
{
    apr_size_t i;

    for (i = 0; s[i]; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
              || c == '-' || c == '_')) {
            return 0;
        }
    }
    return i == len;
}

const unsigned char *msoauth_b64url_decode(apr_pool_t *p, const char *s, apr_size_t *len)
{
    apr_size_t n = strlen(s);

    /* apr's decoder is lenient about some inputs; the alphabet check keeps it strict.
     * A length of 1 mod 4 can never be valid base64. */
    if (!msoauth_is_b64url_token(s, n) || n % 4 == 1) {
        return NULL;
    }
    return apr_pdecode_base64_binary(p, s, n, APR_ENCODE_BASE64URL, len);
}

const char *msoauth_pkce_challenge(apr_pool_t *p, const char *verifier)
{
    unsigned char digest[SHA256_DIGEST_LENGTH];

    SHA256((const unsigned char *)verifier, strlen(verifier), digest);
    return msoauth_b64url_encode(p, digest, sizeof(digest));
}
