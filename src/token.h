/* The token endpoint's answer, success or Microsoft-shaped error. Pure. */
#ifndef MSOAUTH_TOKEN_H
#define MSOAUTH_TOKEN_H

#include <apr_pools.h>
#include <apr_errno.h>

/* The endpoint answered with an OAuth error object (fields filled in). */
#define MSOAUTH_ETOKENERR (APR_OS_START_USERERR + 42)

typedef struct {
    const char *id_token;
    const char *access_token;
    const char *refresh_token; /* NULL when none */
    const char *scope;         /* the scopes granted, NULL when not given */
    apr_int64_t expires_in; /* -1 when absent */
    /* error responses */
    const char *error;
    const char *error_description;
    const char *aadsts;     /* "AADSTS70008" when Microsoft gave a code */
    const char *trace_id;
    const char *correlation_id;
} msoauth_token_resp_t;

/* The application/x-www-form-urlencoded body of the authorization-code redemption. */
const char *msoauth_token_request_body(apr_pool_t *p, const char *client_id,
                                       const char *client_secret, const char *code,
                                       const char *redirect_uri, const char *verifier,
                                       const char *scope);

/* The form body of a refresh_token grant. */
const char *msoauth_refresh_request_body(apr_pool_t *p, const char *client_id,
                                         const char *client_secret, const char *refresh_token,
                                         const char *scope);

/* status: the HTTP status; body/len: the response. APR_SUCCESS with id_token and access_token;
 * MSOAUTH_ETOKENERR for an OAuth error; APR_EINVAL (reason in err) for anything else. */
apr_status_t msoauth_token_parse(apr_pool_t *p, long status, const char *body, apr_size_t len,
                                 msoauth_token_resp_t *out, const char **err);

/* The same for a refresh_token grant: an id_token is optional there, an access token is not. */
apr_status_t msoauth_token_parse_refresh(apr_pool_t *p, long status, const char *body,
                                         apr_size_t len, msoauth_token_resp_t *out,
                                         const char **err);

#endif
