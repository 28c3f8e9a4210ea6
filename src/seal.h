/* Authenticated encryption (AES-256-GCM) for everything the module hands to a browser:
 * the pending-login cookies and the session payload. Pure (APR + OpenSSL). */
#ifndef MSOAUTH_SEAL_H
#define MSOAUTH_SEAL_H

#include <apr_pools.h>
#include <apr_errno.h>

#define MSOAUTH_KEY_LEN 32
/* A sealed value is refused unread past this size (browser input is hostile). */
#define MSOAUTH_SEALED_MAX 8192

/* One key per purpose, so a pending-login cookie can never be replayed as a session. */
typedef struct {
    unsigned char state[MSOAUTH_KEY_LEN];
    unsigned char session[MSOAUTH_KEY_LEN];
    unsigned char tokens[MSOAUTH_KEY_LEN]; /* server-side token store, encrypted at rest */
} msoauth_keys_t;

/* Slow by design (PBKDF2-SHA256, then HKDF-Expand per purpose): run once at start-up. */
apr_status_t msoauth_keys_derive(const char *passphrase, apr_size_t len, msoauth_keys_t *keys);

/* base64url(version | 12-byte random IV | ciphertext | 16-byte tag). aad binds the value to
 * its context (purpose and client id): opening with another aad fails. */
apr_status_t msoauth_seal(apr_pool_t *p, const unsigned char *key, const char *aad,
                          const void *plain, apr_size_t len, const char **sealed);

/* Fails (APR_EINVAL, reason in err) on anything that was not sealed by us with this key and aad.
 * The result is NUL-terminated for convenience. */
apr_status_t msoauth_open(apr_pool_t *p, const unsigned char *key, const char *aad,
                          const char *sealed, char **plain, apr_size_t *len, const char **err);

#endif
