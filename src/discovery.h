/* The OpenID provider's metadata and keys, and where to find them. Pure. */
#ifndef MSOAUTH_DISCOVERY_H
#define MSOAUTH_DISCOVERY_H

#include <apr_pools.h>
#include <apr_errno.h>

#define MSOAUTH_METADATA_MAX (1024 * 1024)

typedef struct {
    const char *issuer;   /* may hold the literal "{tenantid}" */
    const char *jwks_uri;
    const char *end_session_endpoint; /* NULL when not advertised */
} msoauth_metadata_t;

const char *msoauth_discovery_url(apr_pool_t *p, const char *authority, const char *tenant);
const char *msoauth_authorize_url(apr_pool_t *p, const char *authority, const char *tenant);
const char *msoauth_token_url(apr_pool_t *p, const char *authority, const char *tenant);

/* Parses the discovery document; jwks_uri must pass msoauth_url_check_endpoint. */
apr_status_t msoauth_metadata_parse(apr_pool_t *p, const char *body, apr_size_t len,
                                    msoauth_metadata_t *out, const char **err);

/* Checks a JWKS document: a JSON object with a "keys" array. */
apr_status_t msoauth_jwks_check(apr_pool_t *p, const char *body, apr_size_t len, const char **err);

#endif
