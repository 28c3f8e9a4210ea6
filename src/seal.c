/* AES-256-GCM sealing with OpenSSL's EVP interface; keys from PBKDF2 + HKDF. */
#include <string.h>

#include <apr_strings.h>
#include <apr_general.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "seal.h"
#include "random.h"

#define SEAL_VERSION 1
#define IV_LEN 12
#define TAG_LEN 16
/* Start-up cost only; makes a weak passphrase expensive to guess from a captured cookie. */
#define PBKDF2_ITERATIONS 100000
static const char PBKDF2_SALT[] = "mod_auth_msoauth key v1";

static apr_status_t hkdf_expand(const unsigned char *prk, const char *info, unsigned char *out)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
    size_t outlen = MSOAUTH_KEY_LEN;
    int ok = ctx && EVP_PKEY_derive_init(ctx) > 0
             && EVP_PKEY_CTX_set_hkdf_md(ctx, EVP_sha256()) > 0
             && EVP_PKEY_CTX_hkdf_mode(ctx, EVP_PKEY_HKDEF_MODE_EXPAND_ONLY) > 0
             && EVP_PKEY_CTX_set1_hkdf_key(ctx, prk, MSOAUTH_KEY_LEN) > 0
             && EVP_PKEY_CTX_add1_hkdf_info(ctx, (const unsigned char *)info, (int)strlen(info)) > 0
             && EVP_PKEY_derive(ctx, out, &outlen) > 0 && outlen == MSOAUTH_KEY_LEN;

    EVP_PKEY_CTX_free(ctx);
    return ok ? APR_SUCCESS : APR_EGENERAL;
}

/* OpenSSL 3 looks the cipher up (with locks) on every EVP_aes_256_gcm() init: fetch it once.
 * Called from msoauth_keys_derive, at start-up, before any thread. */
static EVP_CIPHER *gcm;

static const EVP_CIPHER *cipher(void)
{
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
    if (!gcm) {
        gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    }
    return gcm ? gcm : EVP_aes_256_gcm();
#else
    return EVP_aes_256_gcm();
#endif
}

apr_status_t msoauth_keys_derive(const char *passphrase, apr_size_t len, msoauth_keys_t *keys)
{
    unsigned char prk[MSOAUTH_KEY_LEN];
    apr_status_t rv;

    cipher();
    if (!PKCS5_PBKDF2_HMAC(passphrase, (int)len, (const unsigned char *)PBKDF2_SALT,
                           (int)sizeof(PBKDF2_SALT) - 1, PBKDF2_ITERATIONS, EVP_sha256(),
                           MSOAUTH_KEY_LEN, prk)) {
        return APR_EGENERAL;
    }
    rv = hkdf_expand(prk, "msoauth pending-login cookie", keys->state);
    if (rv == APR_SUCCESS) {
        rv = hkdf_expand(prk, "msoauth session", keys->session);
    }
    if (rv == APR_SUCCESS) {
        rv = hkdf_expand(prk, "msoauth token store", keys->tokens);
    }
    OPENSSL_cleanse(prk, sizeof(prk));
    return rv;
}

apr_status_t msoauth_seal(apr_pool_t *p, const unsigned char *key, const char *aad,
                          const void *plain, apr_size_t len, const char **sealed)
{
    apr_size_t total = 1 + IV_LEN + len + TAG_LEN;
    unsigned char *buf = apr_palloc(p, total);
    unsigned char *iv = buf + 1, *ct = buf + 1 + IV_LEN, *tag = ct + len;
    EVP_CIPHER_CTX *ctx;
    int n = 0, ok;

    *sealed = NULL;
    buf[0] = SEAL_VERSION;
    if (apr_generate_random_bytes(iv, IV_LEN) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    ctx = EVP_CIPHER_CTX_new();
    ok = ctx && EVP_EncryptInit_ex(ctx, cipher(), NULL, key, iv) == 1
         && EVP_EncryptUpdate(ctx, NULL, &n, (const unsigned char *)aad, (int)strlen(aad)) == 1
         && EVP_EncryptUpdate(ctx, ct, &n, plain, (int)len) == 1 && (apr_size_t)n == len
         && EVP_EncryptFinal_ex(ctx, ct + n, &n) == 1
         && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) == 1;
    EVP_CIPHER_CTX_free(ctx);
    if (!ok) {
        return APR_EGENERAL;
    }
    *sealed = msoauth_b64url_encode(p, buf, total);
    return APR_SUCCESS;
}

apr_status_t msoauth_open(apr_pool_t *p, const unsigned char *key, const char *aad,
                          const char *sealed, char **plain, apr_size_t *len, const char **err)
{
    const unsigned char *buf;
    apr_size_t total, ctlen;
    unsigned char *out;
    EVP_CIPHER_CTX *ctx;
    int n = 0, ok;

    *plain = NULL;
    if (strlen(sealed) > MSOAUTH_SEALED_MAX) {
        *err = "sealed value too large";
        return APR_EINVAL;
    }
    buf = msoauth_b64url_decode(p, sealed, &total);
    if (!buf) {
        *err = "sealed value is not base64url";
        return APR_EINVAL;
    }
    if (total < 1 + IV_LEN + TAG_LEN || buf[0] != SEAL_VERSION) {
        *err = "sealed value has a wrong length or version";
        return APR_EINVAL;
    }
    ctlen = total - 1 - IV_LEN - TAG_LEN;
    out = apr_palloc(p, ctlen + 1);
    ctx = EVP_CIPHER_CTX_new();
    /* GCM checks the tag in DecryptFinal, in constant time; nothing is returned unless it matches. */
    ok = ctx && EVP_DecryptInit_ex(ctx, cipher(), NULL, key, buf + 1) == 1
         && EVP_DecryptUpdate(ctx, NULL, &n, (const unsigned char *)aad, (int)strlen(aad)) == 1
         && EVP_DecryptUpdate(ctx, out, &n, buf + 1 + IV_LEN, (int)ctlen) == 1
         && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN,
                                (void *)(buf + 1 + IV_LEN + ctlen)) == 1
         && EVP_DecryptFinal_ex(ctx, out + n, &n) == 1;
    EVP_CIPHER_CTX_free(ctx);
    if (!ok) {
        *err = "sealed value failed authentication (tampered, or sealed with another key or client id)";
        return APR_EINVAL;
    }
    out[ctlen] = '\0';
    *plain = (char *)out;
    *len = ctlen;
    return APR_SUCCESS;
}
