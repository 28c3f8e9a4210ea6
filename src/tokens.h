/* The tokens kept server-side for a session: access token, its expiry, refresh token, and the
 * single-flight marker of a refresh in progress. Sealed at rest. Pure. */
#ifndef MSOAUTH_TOKENS_H
#define MSOAUTH_TOKENS_H

#include <apr_pools.h>
#include <apr_errno.h>

/* Refresh when the access token has less than this many seconds left. */
#define MSOAUTH_REFRESH_MARGIN 60
/* A refresh in progress is trusted for this long; after it another request may try. */
#define MSOAUTH_REFRESH_LOCK_SECONDS 15

typedef struct {
    const char *access_token;
    apr_int64_t expires_at;      /* seconds since the epoch; 0 unknown */
    const char *refresh_token;   /* "" when none */
    apr_int64_t refreshing_since; /* 0 when no refresh is in progress */
} msoauth_tokens_t;

apr_status_t msoauth_tokens_seal(apr_pool_t *p, const unsigned char *key, const char *aad,
                                 const msoauth_tokens_t *t, const char **sealed);
apr_status_t msoauth_tokens_open(apr_pool_t *p, const unsigned char *key, const char *aad,
                                 const char *sealed, msoauth_tokens_t **t, const char **err);

/* 1 when the access token must be refreshed before it is handed on. */
int msoauth_tokens_need_refresh(const msoauth_tokens_t *t, apr_int64_t now);

#endif
