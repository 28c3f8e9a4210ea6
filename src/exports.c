/* The identity, handed to the application: REMOTE_USER, AUTH_TYPE and MSOAUTH_* variables. */
#include <apr_strings.h>

#include "msoauth.h"

typedef struct {
    request_rec *r;
} claim_ctx_t;

static int export_claim(void *data, const char *name, const char *value)
{
    request_rec *r = ((claim_ctx_t *)data)->r;
    apr_table_setn(r->subprocess_env,
                   apr_pstrcat(r->pool, "MSOAUTH_CLAIM_", msoauth_claim_env_name(r->pool, name), NULL),
                   value);
    return 1;
}

void msoauth_exports_set(request_rec *r, const msoauth_identity_t *id)
{
    apr_table_t *e = r->subprocess_env;
    claim_ctx_t ctx = {r};

    r->user = (char *)id->remote_user;
    r->ap_auth_type = MSOAUTH_AUTH_TYPE;
    apr_table_setn(e, "MSOAUTH_USER_ID", id->user_id);
    apr_table_setn(e, "MSOAUTH_USERNAME", id->username);
    apr_table_setn(e, "MSOAUTH_EMAIL", id->email);
    apr_table_setn(e, "MSOAUTH_FULL_NAME", id->full_name);
    apr_table_setn(e, "MSOAUTH_FIRST_NAME", id->first_name);
    apr_table_setn(e, "MSOAUTH_LAST_NAME", id->last_name);
    apr_table_setn(e, "MSOAUTH_TENANT_ID", id->tenant_id);
    apr_table_setn(e, "MSOAUTH_ACCOUNT_TYPE", msoauth_identity_account_type(id));
    apr_table_do(export_claim, &ctx, id->claims, NULL);
}
