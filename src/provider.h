/* The identity provider's metadata (issuer, jwks_uri) and signing keys, fetched once and kept
 * per Apache child process, shared by its threads. Never fetched per login; an unknown kid
 * may trigger one JWKS refetch, rate-limited. No httpd types. */
#ifndef MSOAUTH_PROVIDER_H
#define MSOAUTH_PROVIDER_H

#include <apr_pools.h>
#include <apr_errno.h>
#include <jansson.h>

#include "http.h"

/* Metadata and keys are refetched after this long (seconds). */
#define MSOAUTH_PROVIDER_TTL (24 * 3600)
/* At most one kid-triggered JWKS refetch per this many seconds per process. */
#define MSOAUTH_KID_REFETCH_INTERVAL 10

typedef struct {
    const char *issuer;
    const char *jwks_uri;
    const char *end_session_endpoint; /* NULL when not advertised */
    json_t *jwks;          /* parsed, owned by the caller's pool */
    int fetched;           /* 1 when this call went to the network */
} msoauth_provider_t;

/* Once per child process. Without it nothing is cached (every call fetches). */
apr_status_t msoauth_provider_cache_init(apr_pool_t *pchild);

/* http: timeouts and CA file to use (url and body are ignored). */
apr_status_t msoauth_provider_get(apr_pool_t *p, const msoauth_http_req_t *http,
                                  const char *discovery_url, apr_int64_t now,
                                  msoauth_provider_t *out, const char **err);

/* After an unknown kid: refetch the JWKS unless one was refetched for that reason less than
 * MSOAUTH_KID_REFETCH_INTERVAL seconds ago (then APR_EAGAIN). */
apr_status_t msoauth_provider_refresh_keys(apr_pool_t *p, const msoauth_http_req_t *http,
                                           const char *discovery_url, apr_int64_t now,
                                           msoauth_provider_t *out, const char **err);

#endif
