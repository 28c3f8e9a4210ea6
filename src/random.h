/* Random tokens and base64url, the encodings every other file shares. Pure (APR only). */
#ifndef MSOAUTH_RANDOM_H
#define MSOAUTH_RANDOM_H

#include <apr_pools.h>
#include <apr_errno.h>

/* nbytes of CSPRNG output (apr_generate_random_bytes) as unpadded base64url. */
apr_status_t msoauth_random_b64url(apr_pool_t *p, apr_size_t nbytes, const char **out);

const char *msoauth_b64url_encode(apr_pool_t *p, const void *data, apr_size_t len);

/* Strict: returns NULL on any character outside the base64url alphabet or on padding. */
const unsigned char *msoauth_b64url_decode(apr_pool_t *p, const char *s, apr_size_t *len);

/* The PKCE S256 challenge of a verifier: base64url(SHA-256(verifier)). */
const char *msoauth_pkce_challenge(apr_pool_t *p, const char *verifier);

/* 1 when s has exactly len characters, all from the base64url alphabet. */
int msoauth_is_b64url_token(const char *s, apr_size_t len);

#endif
