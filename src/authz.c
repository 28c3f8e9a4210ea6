/* Require rules on the signed-in user: msoauth-tenant, msoauth-account, msoauth-role,
 * msoauth-group, msoauth-claim. Arguments are checked at configuration time (configtest shows
 * file:line); at request time a rule looks only at the identity already opened by authn. */
#include <string.h>

#include <apr_strings.h>
#include <http_request.h>
#include <http_core.h>
#include <ap_provider.h>
#include <mod_auth.h>
#include <http_protocol.h>
#include <util_filter.h>

#include "msoauth.h"
#include "url.h"
#include "groups.h"
#include "outbound.h"

typedef int (*match_fn)(const msoauth_identity_t *id, const char *arg);

static apr_array_header_t *split_args(apr_pool_t *p, const char *line)
{
    apr_array_header_t *args = apr_array_make(p, 4, sizeof(const char *));
    const char *word;

    while (*line && *(word = ap_getword_conf(p, &line))) {
        *(const char **)apr_array_push(args) = word;
    }
    return args;
}

static const char *parse_common(cmd_parms *cmd, const char *rule, const char *line,
                                const void **parsed, const char *(*check)(cmd_parms *, const char *))
{
    apr_array_header_t *args = split_args(cmd->pool, line);
    int i;

    if (!args->nelts) {
        return apr_psprintf(cmd->pool, "Require %s needs at least one value", rule);
    }
    for (i = 0; i < args->nelts; i++) {
        const char *err = check(cmd, APR_ARRAY_IDX(args, i, const char *));
        if (err) {
            return apr_psprintf(cmd->pool, "Require %s: %s", rule, err);
        }
    }
    *parsed = args;
    return NULL;
}

/* The page a signed-in user gets when the rules keep them out. mod_authz_core sends it with
 * its own (ISO-8859-1) content type, hence the ASCII-only escaping. */
static void denied_page(request_rec *r, const msoauth_identity_t *id)
{
    const msoauth_dir_cfg_t *c = ap_get_module_config(r->per_dir_config, &auth_msoauth_module);
    const char *who = *id->full_name ? id->full_name : id->remote_user;
    const char *signout = c->redirect_path ? apr_pstrcat(r->pool, c->redirect_path, "?logout=%2F", NULL) : "/";

    const char *page;

    msoauth_no_store(r);
    page = apr_pstrcat(
        r->pool, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<title>Access denied</title></head>\n<body>\n<h1>Access denied</h1>\n<p>You are signed in as ",
        msoauth_html_escape(r->pool, who), *id->email ? " (" : "", msoauth_html_escape(r->pool, id->email),
        *id->email ? ")" : "", ", but this page is not available to your account.</p>\n<p><a href=\"",
        msoauth_html_escape(r->pool, signout), "\">Sign out</a> to use another account.</p>\n</body></html>\n",
        NULL);
    /* 401 is what mod_authz_core sends by default (turned into 403 by the filter), 403 with
     * AuthzSendForbiddenOnFailure On */
    ap_custom_response(r, HTTP_UNAUTHORIZED, page);
    ap_custom_response(r, HTTP_FORBIDDEN, page);
}

#define FORBID_FILTER "MSOAUTH_FORBID"
#define FAILED_NOTE "msoauth-failed-rules"

/* mod_authz_core answers a signed-in user who fails the rules with 401 (so that Basic auth can
 * re-prompt) unless AuthzSendForbiddenOnFailure is on. A new prompt means nothing here: the user
 * is signed in, they are just not allowed. This filter turns that 401 into a 403 before the
 * status line is written. */
static apr_status_t forbid_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    if (f->r->status == HTTP_UNAUTHORIZED) {
        f->r->status = HTTP_FORBIDDEN;
        f->r->status_line = NULL;
        apr_table_unset(f->r->err_headers_out, "WWW-Authenticate");
    }
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, bb);
}

/* A 401 for a user who is signed in here can only be an authorization failure (also through
 * "Require not ..."): answer 403 with the page that says who they are. */
static void insert_error_filter(request_rec *r)
{
    const msoauth_identity_t *id;

    if ((r->status == HTTP_UNAUTHORIZED || r->status == HTTP_FORBIDDEN) && msoauth_is_active(r)
        && r->user && *r->user && (id = msoauth_request_identity(r)) != NULL) {
        const char *failed = apr_table_get(r->notes, FAILED_NOTE);
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "access to %s denied to %s: %s", r->uri,
                      id->remote_user, failed ? failed : "a Require rule (other than msoauth-*) failed");
        denied_page(r, id);
        if (r->status == HTTP_UNAUTHORIZED) {
            ap_add_output_filter(FORBID_FILTER, NULL, r, r->connection);
        }
    }
}

/* ap_note_auth_failure for AuthType msoauth: how to ask for credentials. Not for a signed-in
 * user who was denied (see above). */
static int note_auth_failure(request_rec *r, const char *type)
{
    if (strcasecmp(type, MSOAUTH_AUTH_TYPE)) {
        return DECLINED;
    }
    if (!(r->user && *r->user && msoauth_request_identity(r))) {
        apr_table_setn(r->err_headers_out, "WWW-Authenticate", MSOAUTH_AUTH_TYPE);
    }
    return OK;
}

static authz_status check_common(request_rec *r, const char *rule, const void *parsed, match_fn match)
{
    const apr_array_header_t *args = parsed;
    const msoauth_identity_t *id = msoauth_request_identity(r);
    int i;

    if (!r->user || !id) {
        return AUTHZ_DENIED_NO_USER;
    }
    for (i = 0; i < args->nelts; i++) {
        if (match(id, APR_ARRAY_IDX(args, i, const char *))) {
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "Require %s granted for %s", rule, id->remote_user);
            return AUTHZ_GRANTED;
        }
    }
    /* logged now at debug (inside RequireAny a failed rule is normal), and at warning with the
     * final 403 below */
    {
        const char *what = apr_psprintf(r->pool, "Require %s %s", rule, apr_array_pstrcat(r->pool, args, ' '));
        const char *sofar = apr_table_get(r->notes, FAILED_NOTE);
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "%s: not satisfied by %s", what, id->remote_user);
        apr_table_setn(r->notes, FAILED_NOTE, sofar ? apr_pstrcat(r->pool, sofar, "; ", what, NULL) : what);
    }
    denied_page(r, id);
    return AUTHZ_DENIED;
}

/* ---- msoauth-tenant ---- */
static const char *check_tenant_arg(cmd_parms *cmd, const char *a)
{
    return !strcasecmp(a, "consumers") || msoauth_is_guid(a)
               ? NULL : apr_psprintf(cmd->pool, "'%s' is not a tenant GUID or consumers", a);
}
static int match_tenant(const msoauth_identity_t *id, const char *a)
{
    return !strcasecmp(a, "consumers") ? !strcasecmp(id->tenant_id, MSOAUTH_PERSONAL_TENANT)
                                       : !strcasecmp(id->tenant_id, a);
}
static const char *parse_tenant(cmd_parms *cmd, const char *line, const void **parsed)
{
    return parse_common(cmd, "msoauth-tenant", line, parsed, check_tenant_arg);
}
static authz_status authz_tenant(request_rec *r, const char *line, const void *parsed)
{
    return check_common(r, "msoauth-tenant", parsed, match_tenant);
}

/* ---- msoauth-account ---- */
static const char *check_account_arg(cmd_parms *cmd, const char *a)
{
    return !strcmp(a, "personal") || !strcmp(a, "work")
               ? NULL : apr_psprintf(cmd->pool, "'%s' is neither personal nor work", a);
}
static int match_account(const msoauth_identity_t *id, const char *a)
{
    return !strcmp(msoauth_identity_account_type(id), a);
}
static const char *parse_account(cmd_parms *cmd, const char *line, const void **parsed)
{
    return parse_common(cmd, "msoauth-account", line, parsed, check_account_arg);
}
static authz_status authz_account(request_rec *r, const char *line, const void *parsed)
{
    return check_common(r, "msoauth-account", parsed, match_account);
}

/* ---- msoauth-role ---- */
static const char *check_any_arg(cmd_parms *cmd, const char *a)
{
    (void)cmd;
    (void)a;
    return NULL;
}
static int match_role(const msoauth_identity_t *id, const char *a)
{
    return msoauth_identity_claim_has(id, "roles", a);
}
static const char *parse_role(cmd_parms *cmd, const char *line, const void **parsed)
{
    return parse_common(cmd, "msoauth-role", line, parsed, check_any_arg);
}
static authz_status authz_role(request_rec *r, const char *line, const void *parsed)
{
    return check_common(r, "msoauth-role", parsed, match_role);
}

/* ---- msoauth-group ---- */
static const char *check_group_arg(cmd_parms *cmd, const char *a)
{
    if (!msoauth_is_guid(a)) {
        return apr_psprintf(cmd->pool, "'%s' is not a group object id (GUID)", a);
    }
    /* sign-ins keep only the groups some rule asks about */
    msoauth_groups_wanted_add(cmd->pool, a);
    return NULL;
}
static int match_group(const msoauth_identity_t *id, const char *a)
{
    return msoauth_identity_in_group(id, a);
}
static const char *parse_group(cmd_parms *cmd, const char *line, const void **parsed)
{
    return parse_common(cmd, "msoauth-group", line, parsed, check_group_arg);
}
static authz_status authz_group(request_rec *r, const char *line, const void *parsed)
{
    return check_common(r, "msoauth-group", parsed, match_group);
}

/* ---- msoauth-claim name:value ---- */
static const char *check_claim_arg(cmd_parms *cmd, const char *a)
{
    const char *colon = strchr(a, ':');
    return colon && colon != a ? NULL : apr_psprintf(cmd->pool, "'%s' is not name:value", a);
}
static int match_claim(const msoauth_identity_t *id, const char *a)
{
    const char *colon = strchr(a, ':');
    char name[256];
    apr_size_t n = colon - a;

    if (n >= sizeof(name)) {
        return 0;
    }
    memcpy(name, a, n);
    name[n] = '\0';
    return msoauth_identity_claim_has(id, name, colon + 1);
}
static const char *parse_claim(cmd_parms *cmd, const char *line, const void **parsed)
{
    return parse_common(cmd, "msoauth-claim", line, parsed, check_claim_arg);
}
static authz_status authz_claim(request_rec *r, const char *line, const void *parsed)
{
    return check_common(r, "msoauth-claim", parsed, match_claim);
}

static const authz_provider tenant_provider = {authz_tenant, parse_tenant};
static const authz_provider account_provider = {authz_account, parse_account};
static const authz_provider role_provider = {authz_role, parse_role};
static const authz_provider group_provider = {authz_group, parse_group};
static const authz_provider claim_provider = {authz_claim, parse_claim};

void msoauth_authz_register(apr_pool_t *p)
{
    ap_register_output_filter(FORBID_FILTER, forbid_filter, NULL, AP_FTYPE_RESOURCE);
    ap_hook_insert_error_filter(insert_error_filter, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_note_auth_failure(note_auth_failure, NULL, NULL, APR_HOOK_MIDDLE);
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "msoauth-tenant", AUTHZ_PROVIDER_VERSION,
                              &tenant_provider, AP_AUTH_INTERNAL_PER_CONF);
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "msoauth-account", AUTHZ_PROVIDER_VERSION,
                              &account_provider, AP_AUTH_INTERNAL_PER_CONF);
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "msoauth-role", AUTHZ_PROVIDER_VERSION,
                              &role_provider, AP_AUTH_INTERNAL_PER_CONF);
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "msoauth-group", AUTHZ_PROVIDER_VERSION,
                              &group_provider, AP_AUTH_INTERNAL_PER_CONF);
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "msoauth-claim", AUTHZ_PROVIDER_VERSION,
                              &claim_provider, AP_AUTH_INTERNAL_PER_CONF);
}
