/* The pending login: what must survive the round trip to Microsoft, sealed into a cookie
 * so no server-side storage is needed. Pure. */
#ifndef MSOAUTH_PENDING_H
#define MSOAUTH_PENDING_H

#include <apr_pools.h>
#include <apr_errno.h>

/* Cookie name prefix; the state value follows it. */
#define MSOAUTH_PENDING_COOKIE_PREFIX "msoauth_state_"
/* At most this many sign-ins in flight per browser (tabs); the oldest is dropped. */
#define MSOAUTH_PENDING_MAX 5
/* 32 random bytes in base64url: state, nonce and PKCE verifier alike. */
#define MSOAUTH_TOKEN_BYTES 32
#define MSOAUTH_TOKEN_CHARS 43

typedef struct {
    const char *state;
    const char *nonce;
    const char *verifier;
    const char *return_url;
    apr_int64_t created; /* seconds since the epoch */
} msoauth_pending_t;

/* Fresh random state, nonce and verifier. */
apr_status_t msoauth_pending_new(apr_pool_t *p, const char *return_url, apr_int64_t now,
                                 msoauth_pending_t **out);

apr_status_t msoauth_pending_seal(apr_pool_t *p, const unsigned char *key, const char *client_id,
                                  const msoauth_pending_t *rec, const char **sealed);

/* Opens and checks age: fails when tampered, sealed for another client id, malformed,
 * older than timeout seconds, or from the future. */
apr_status_t msoauth_pending_open(apr_pool_t *p, const unsigned char *key, const char *client_id,
                                  const char *sealed, apr_int64_t now, int timeout,
                                  msoauth_pending_t **out, const char **err);

#endif
