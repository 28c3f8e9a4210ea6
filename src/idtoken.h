/* id_token validation: RS256 signature against the provider's JWKS, then every claim
 * Microsoft's identity platform requires us to check. Pure (cjose, jansson). */
#ifndef MSOAUTH_IDTOKEN_H
#define MSOAUTH_IDTOKEN_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_errno.h>
#include <jansson.h>

/* The token's kid is not in the JWKS: the caller may refetch the keys once and retry. */
#define MSOAUTH_ENOKID (APR_OS_START_USERERR + 41)
#define MSOAUTH_IDTOKEN_MAX 16384
#define MSOAUTH_CLOCK_SKEW 120

typedef struct {
    const char *client_id;
    const char *nonce;
    const char *issuer_template;            /* discovery "issuer", may hold "{tenantid}" */
    const apr_array_header_t *allowed_tenants; /* lower-case GUIDs, NULL: any */
    apr_int64_t now;                        /* seconds since the epoch */
} msoauth_idtoken_expect_t;

/* jwks: the parsed JWKS document. On success claims holds the validated payload (owned by p).
 * Every failure puts the reason in err, naming the header or claim involved. */
apr_status_t msoauth_idtoken_validate(apr_pool_t *p, const char *compact, const json_t *jwks,
                                      const msoauth_idtoken_expect_t *x, json_t **claims,
                                      const char **err);

/* Microsoft's multi-tenant rule: the literal "{tenantid}" replaced by tid. */
const char *msoauth_issuer_for_tenant(apr_pool_t *p, const char *tmpl, const char *tid);

#endif
