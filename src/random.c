/* Random tokens, base64url and the PKCE challenge. */
#include <string.h>

#include <apr_strings.h>
#include <apr_general.h>
#include <apr_encode.h>
#include <limits.h>
#include <openssl/sha.h>
#include <openssl/evp.h>

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
    apr_size_t n = strlen(s), i, padded = (n + 3) & ~(apr_size_t)3;
    unsigned char *std, *out;
    int got;

    /* A length of 1 mod 4 can never be valid base64; the alphabet check keeps decoding strict. */
    if (n % 4 == 1 || n > (apr_size_t)INT_MAX / 2) {
        return NULL;
    }
    /* OpenSSL's decoder is several times faster than apr's on the session-sized values read on
     * every request: map the URL alphabet to the standard one and pad. */
    std = apr_palloc(p, padded + 1);
    for (i = 0; i < n; i++) {
        char c = s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            std[i] = (unsigned char)c;
        }
        else if (c == '-') {
            std[i] = '+';
        }
        else if (c == '_') {
            std[i] = '/';
        }
        else {
            return NULL;
        }
    }
    for (; i < padded; i++) {
        std[i] = '=';
    }
    std[padded] = '\0';
    out = apr_palloc(p, padded / 4 * 3 + 1);
    got = EVP_DecodeBlock(out, std, (int)padded);
    if (got < 0) {
        return NULL;
    }
    /* EVP_DecodeBlock counts the padding as zero bytes */
    *len = (apr_size_t)got - (padded - n);
    out[*len] = '\0';
    return out;
}

const char *msoauth_pkce_challenge(apr_pool_t *p, const char *verifier)
{
    unsigned char digest[SHA256_DIGEST_LENGTH];

    SHA256((const unsigned char *)verifier, strlen(verifier), digest);
    return msoauth_b64url_encode(p, digest, sizeof(digest));
}
