/* mod_auth_msoauth: "Sign in with Microsoft" for any site behind Apache httpd 2.4.
 * This file is glue only: directives, per-directory config create/merge, hooks. The logic is
 * in src/ (see src/authn.c for the request flow). */
#include <string.h>

#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_file_io.h>
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_request.h>
#include <mod_auth.h>

#define MSOAUTH_GLUE
#include "src/msoauth.h"
#include "src/url.h"
#include "src/secret.h"
#include "src/http.h"
#include "src/provider.h"
#include "src/outbound.h"
#include "src/groups.h"

static void *create_dir_config(apr_pool_t *p, char *dir)
{
    msoauth_dir_cfg_t *c = apr_pcalloc(p, sizeof(*c));

    (void)dir;
    c->session_max_age = MSOAUTH_UNSET;
    c->state_timeout = MSOAUTH_UNSET;
    c->connect_timeout = MSOAUTH_UNSET;
    c->total_timeout = MSOAUTH_UNSET;
    c->pass_claims_as = MSOAUTH_UNSET;
    c->header_encoding = MSOAUTH_UNSET;
    c->easy_auth = MSOAUTH_UNSET;
    c->strip_cookies = MSOAUTH_UNSET;
    c->unauth_action = MSOAUTH_UNSET;
    c->inactivity_timeout = MSOAUTH_UNSET;
    c->pass_access_token = MSOAUTH_UNSET;
    c->logout_microsoft = MSOAUTH_UNSET;
    c->response_mode = MSOAUTH_UNSET;
    return c;
}

#define MERGE_PTR(f) m->f = add->f ? add->f : base->f
#define MERGE_INT(f) m->f = add->f != MSOAUTH_UNSET ? add->f : base->f

static void *merge_dir_config(apr_pool_t *p, void *basev, void *addv)
{
    const msoauth_dir_cfg_t *base = basev, *add = addv;
    msoauth_dir_cfg_t *m = apr_pcalloc(p, sizeof(*m));

    MERGE_PTR(client_id);
    MERGE_PTR(client_secret);
    MERGE_PTR(tenant);
    MERGE_PTR(allowed_tenants);
    MERGE_PTR(authority);
    MERGE_PTR(graph_url);
    MERGE_PTR(scope);
    MERGE_PTR(redirect_uri);
    MERGE_PTR(redirect_path);
    MERGE_PTR(keys);
    MERGE_PTR(remote_user_claim);
    MERGE_INT(session_max_age);
    MERGE_INT(state_timeout);
    MERGE_INT(connect_timeout);
    MERGE_INT(total_timeout);
    MERGE_PTR(ca_file);
    MERGE_INT(pass_claims_as);
    MERGE_INT(header_encoding);
    MERGE_INT(easy_auth);
    MERGE_INT(strip_cookies);
    MERGE_INT(unauth_action);
    MERGE_INT(inactivity_timeout);
    MERGE_INT(pass_access_token);
    MERGE_INT(logout_microsoft);
    MERGE_INT(response_mode);
    if (add->default_picture_url || add->default_picture) {
        m->default_picture_url = add->default_picture_url;
        m->default_picture = add->default_picture;
        m->default_picture_len = add->default_picture_len;
        m->default_picture_type = add->default_picture_type;
    }
    else {
        m->default_picture_url = base->default_picture_url;
        m->default_picture = base->default_picture;
        m->default_picture_len = base->default_picture_len;
        m->default_picture_type = base->default_picture_type;
    }
    return m;
}

/* ---- directive handlers: each validates its value, so configtest reports file:line ---- */

#define WARNINGS_KEY "msoauth_startup_warnings"

/* Warnings found while reading the configuration go to stderr at once (configtest shows them)
 * and are logged again from post_config, when the error log is open. */
static void startup_warning(cmd_parms *cmd, const char *msg)
{
    apr_array_header_t *list = NULL;
    const char *line = apr_psprintf(cmd->pool, "%s:%d: %s", cmd->directive->filename,
                                    cmd->directive->line_num, msg);

    ap_log_error(APLOG_MARK, APLOG_WARNING | APLOG_STARTUP, 0, NULL, "mod_auth_msoauth: %s", line);
    apr_pool_userdata_get((void **)&list, WARNINGS_KEY, cmd->pool);
    if (!list) {
        list = apr_array_make(cmd->pool, 4, sizeof(const char *));
        apr_pool_userdata_set(list, WARNINGS_KEY, NULL, cmd->pool);
    }
    *(const char **)apr_array_push(list) = line;
}

static const char *no_controls(cmd_parms *cmd, const char *v)
{
    const char *q;
    for (q = v; *q; q++) {
        if ((unsigned char)*q < 0x20 || *q == 0x7f) {
            return apr_psprintf(cmd->pool, "%s: control characters are not allowed", cmd->cmd->name);
        }
    }
    return *v ? NULL : apr_psprintf(cmd->pool, "%s: value must not be empty", cmd->cmd->name);
}

/* value, or file:/path read now (relative paths are under ServerRoot) */
static const char *read_secret(cmd_parms *cmd, const char *arg, const char **out)
{
    const char *path, *err = NULL;

    if (!msoauth_secret_is_file(arg, &path)) {
        *out = arg;
        return no_controls(cmd, arg);
    }
    path = ap_server_root_relative(cmd->pool, path);
    if (!path || msoauth_secret_read_file(cmd->pool, path, out, &err) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "%s: %s", cmd->cmd->name, err ? err : "invalid file: path");
    }
    return NULL;
}

static const char *set_client_id(cmd_parms *cmd, void *cfg, const char *arg)
{
    const char *q;
    for (q = arg; *q; q++) {
        if (!apr_isalnum(*q) && *q != '-' && *q != '_' && *q != '.') {
            return "MSOAuthClientID: expected the application (client) id, e.g. a GUID";
        }
    }
    ((msoauth_dir_cfg_t *)cfg)->client_id = arg;
    return no_controls(cmd, arg);
}

static const char *set_client_secret(cmd_parms *cmd, void *cfg, const char *arg)
{
    return read_secret(cmd, arg, &((msoauth_dir_cfg_t *)cfg)->client_secret);
}

static const char *set_tenant(cmd_parms *cmd, void *cfg, const char *arg)
{
    const char *q;
    (void)cmd;
    for (q = arg; *q; q++) {
        if (!apr_isalnum(*q) && *q != '-' && *q != '.') {
            return "MSOAuthTenant: expected common, organizations, consumers, a tenant GUID or a domain";
        }
    }
    if (!*arg) {
        return "MSOAuthTenant: value must not be empty";
    }
    ((msoauth_dir_cfg_t *)cfg)->tenant = arg;
    return NULL;
}

static const char *add_allowed_tenant(cmd_parms *cmd, void *cfg, const char *arg)
{
    msoauth_dir_cfg_t *c = cfg;

    if (!strcasecmp(arg, "consumers")) {
        arg = MSOAUTH_PERSONAL_TENANT;
    }
    if (!msoauth_is_guid(arg)) {
        return apr_psprintf(cmd->pool, "MSOAuthAllowedTenants: '%s' is not a tenant GUID (or 'consumers')", arg);
    }
    if (!c->allowed_tenants) {
        c->allowed_tenants = apr_array_make(cmd->pool, 4, sizeof(const char *));
    }
    *(const char **)apr_array_push(c->allowed_tenants) = apr_pstrdup(cmd->pool, arg);
    ap_str_tolower(APR_ARRAY_IDX(c->allowed_tenants, c->allowed_tenants->nelts - 1, char *));
    return NULL;
}

static const char *endpoint(cmd_parms *cmd, const char *arg, const char **out)
{
    const char *err;
    apr_size_t n = strlen(arg);

    if (msoauth_url_check_endpoint(cmd->pool, arg, &err) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "%s: '%s': %s", cmd->cmd->name, arg, err);
    }
    while (n > 0 && arg[n - 1] == '/') {
        n--;
    }
    *out = apr_pstrmemdup(cmd->pool, arg, n);
    return NULL;
}

static const char *set_authority(cmd_parms *cmd, void *cfg, const char *arg)
{
    return endpoint(cmd, arg, &((msoauth_dir_cfg_t *)cfg)->authority);
}

static const char *set_graph_url(cmd_parms *cmd, void *cfg, const char *arg)
{
    if (!strcasecmp(arg, "none")) {
        ((msoauth_dir_cfg_t *)cfg)->graph_url = "";
        return NULL;
    }
    return endpoint(cmd, arg, &((msoauth_dir_cfg_t *)cfg)->graph_url);
}

static const char *set_scope(cmd_parms *cmd, void *cfg, const char *arg)
{
    char *copy = apr_pstrdup(cmd->pool, arg), *tok, *last = NULL;
    int has_openid = 0;
    const char *q;

    for (q = arg; *q; q++) {
        if ((unsigned char)*q < 0x20 || (unsigned char)*q > 0x7e || *q == '"' || *q == '\\') {
            return "MSOAuthScope: scopes are printable ASCII separated by spaces";
        }
    }
    for (tok = apr_strtok(copy, " ", &last); tok; tok = apr_strtok(NULL, " ", &last)) {
        has_openid |= !strcmp(tok, "openid");
    }
    ((msoauth_dir_cfg_t *)cfg)->scope = has_openid ? arg : apr_pstrcat(cmd->pool, "openid ", arg, NULL);
    if (msoauth_scope_has_offline_access(arg)) {
        msoauth_tokenstore_wanted();
    }
    return NULL;
}

/* whichever of the two directives comes second sees both */
static void warn_form_post_over_http(cmd_parms *cmd, const msoauth_dir_cfg_t *c)
{
    if (c->response_mode == MSOAUTH_RESPONSE_FORM_POST && c->redirect_uri
        && !strncasecmp(c->redirect_uri, "http:", 5)) {
        startup_warning(cmd, "MSOAuthResponseMode form_post needs an https redirect URI: browsers send "
                             "the SameSite=None pending-login cookie only over https");
    }
}

static const char *set_redirect_uri(cmd_parms *cmd, void *cfg, const char *arg)
{
    msoauth_dir_cfg_t *c = cfg;
    apr_uri_t u;

    if (arg[0] == '/') {
        if (!msoauth_url_is_local_path(arg) || strchr(arg, '?') || strchr(arg, '#')) {
            return "MSOAuthRedirectURI: expected a plain path such as /app/oauth2/callback, or an absolute URL";
        }
        c->redirect_path = arg;
    }
    else {
        if (apr_uri_parse(cmd->pool, arg, &u) != APR_SUCCESS || !u.scheme || !u.hostname
            || (strcasecmp(u.scheme, "https") && strcasecmp(u.scheme, "http")) || !u.path
            || u.query || u.fragment || u.user) {
            return "MSOAuthRedirectURI: expected a path, or an absolute http(s) URL with a path and no query";
        }
        if (!strcasecmp(u.scheme, "http")) {
            startup_warning(cmd, apr_psprintf(cmd->pool, "MSOAuthRedirectURI %s is plain http: "
                                              "Microsoft accepts that only for localhost", arg));
        }
        c->redirect_path = u.path;
    }
    c->redirect_uri = arg;
    msoauth_cache_wanted_for_photos();
    warn_form_post_over_http(cmd, c);
    return NULL;
}

static const char *set_passphrase(cmd_parms *cmd, void *cfg, const char *arg)
{
    const char *pass, *err = read_secret(cmd, arg, &pass);
    msoauth_keys_t *keys;
    const char *memo_key;

    if (err) {
        return err;
    }
    if (strlen(pass) < 16) {
        return "MSOAuthCryptoPassphrase: use at least 16 characters (32 random ones are better)";
    }
    /* Derivation is deliberately slow: do it once per distinct passphrase per config pass. */
    memo_key = apr_pstrcat(cmd->temp_pool, "msoauth_keys:", pass, NULL);
    apr_pool_userdata_get((void **)&keys, memo_key, cmd->pool);
    if (!keys) {
        keys = apr_pcalloc(cmd->pool, sizeof(*keys));
        if (msoauth_keys_derive(pass, strlen(pass), keys) != APR_SUCCESS) {
            return "MSOAuthCryptoPassphrase: key derivation failed";
        }
        apr_pool_userdata_set(keys, apr_pstrdup(cmd->pool, memo_key), NULL, cmd->pool);
    }
    ((msoauth_dir_cfg_t *)cfg)->keys = keys;
    return NULL;
}

static const char *set_remote_user_claim(cmd_parms *cmd, void *cfg, const char *arg)
{
    static const char *const mutable_claims[] = {"email", "preferred_username", "upn", "unique_name",
                                                 "name", NULL};
    int i;

    for (i = 0; mutable_claims[i]; i++) {
        if (!strcmp(arg, mutable_claims[i])) {
            startup_warning(cmd, apr_psprintf(cmd->pool, "MSOAuthRemoteUserClaim %s can change or be "
                                              "reused for another person; oid (the default) is the "
                                              "stable id to key accounts on", arg));
        }
    }
    ((msoauth_dir_cfg_t *)cfg)->remote_user_claim = arg;
    return no_controls(cmd, arg);
}

static const char *seconds(cmd_parms *cmd, const char *arg, int min, int max, int *out)
{
    char *end;
    apr_int64_t v = apr_strtoi64(arg, &end, 10);

    if (*end || end == arg || v < min || v > max) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a number of seconds between %d and %d",
                            cmd->cmd->name, arg, min, max);
    }
    *out = (int)v;
    return NULL;
}

static const char *set_session_max_age(cmd_parms *cmd, void *cfg, const char *arg)
{
    return seconds(cmd, arg, 1, 31 * 24 * 3600, &((msoauth_dir_cfg_t *)cfg)->session_max_age);
}

static const char *set_state_timeout(cmd_parms *cmd, void *cfg, const char *arg)
{
    return seconds(cmd, arg, 1, 3600, &((msoauth_dir_cfg_t *)cfg)->state_timeout);
}

static const char *set_http_timeout(cmd_parms *cmd, void *cfg, const char *conn, const char *total)
{
    msoauth_dir_cfg_t *c = cfg;
    const char *err = seconds(cmd, conn, 1, 300, &c->connect_timeout);

    if (!err) {
        err = seconds(cmd, total ? total : conn, 1, 600, &c->total_timeout);
    }
    if (!err && c->connect_timeout > c->total_timeout) {
        err = "MSOAuthHTTPTimeout: the connect timeout must not exceed the total";
    }
    return err;
}

static const char *set_ca_file(cmd_parms *cmd, void *cfg, const char *arg)
{
    const char *path = ap_server_root_relative(cmd->pool, arg);
    apr_file_t *f;

    /* open it once now, so a typo stops start-up instead of failing every sign-in */
    if (!path || apr_file_open(&f, path, APR_FOPEN_READ, APR_FPROT_OS_DEFAULT, cmd->temp_pool)
                     != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "MSOAuthCAFile: cannot read %s", arg);
    }
    apr_file_close(f);
    ((msoauth_dir_cfg_t *)cfg)->ca_file = path;
    return NULL;
}

/* word -> value, from a NULL-terminated table; the error lists the choices */
typedef struct {
    const char *word;
    int value;
} choice_t;

static const char *choose(cmd_parms *cmd, const char *arg, const choice_t *choices, int *out)
{
    const choice_t *ch;
    const char *all = NULL;

    for (ch = choices; ch->word; ch++) {
        if (!strcasecmp(arg, ch->word)) {
            *out = ch->value;
            return NULL;
        }
        all = all ? apr_pstrcat(cmd->temp_pool, all, "|", ch->word, NULL) : ch->word;
    }
    return apr_psprintf(cmd->pool, "%s: '%s' is not one of %s", cmd->cmd->name, arg, all);
}

static const char *set_pass_claims_as(cmd_parms *cmd, void *cfg, const char *arg)
{
    static const choice_t choices[] = {{"environment", MSOAUTH_PASS_ENV}, {"headers", MSOAUTH_PASS_HEADERS},
                                       {"both", MSOAUTH_PASS_ENV | MSOAUTH_PASS_HEADERS}, {"none", 0},
                                       {NULL, 0}};
    return choose(cmd, arg, choices, &((msoauth_dir_cfg_t *)cfg)->pass_claims_as);
}

static const char *set_header_encoding(cmd_parms *cmd, void *cfg, const char *arg)
{
    static const choice_t choices[] = {{"none", MSOAUTH_ENC_NONE}, {"base64url", MSOAUTH_ENC_BASE64URL},
                                       {"latin1", MSOAUTH_ENC_LATIN1}, {NULL, 0}};
    return choose(cmd, arg, choices, &((msoauth_dir_cfg_t *)cfg)->header_encoding);
}

static const char *set_unauth_action(cmd_parms *cmd, void *cfg, const char *arg)
{
    static const choice_t choices[] = {{"auth", MSOAUTH_UNAUTH_AUTH}, {"pass", MSOAUTH_UNAUTH_PASS},
                                       {"401", MSOAUTH_UNAUTH_401}, {"403", MSOAUTH_UNAUTH_403},
                                       {NULL, 0}};
    return choose(cmd, arg, choices, &((msoauth_dir_cfg_t *)cfg)->unauth_action);
}

static const char *set_inactivity_timeout(cmd_parms *cmd, void *cfg, const char *arg)
{
    return seconds(cmd, arg, 60, 31 * 24 * 3600, &((msoauth_dir_cfg_t *)cfg)->inactivity_timeout);
}

static const char *set_pass_access_token(cmd_parms *cmd, void *cfg, int on)
{
    (void)cmd;
    ((msoauth_dir_cfg_t *)cfg)->pass_access_token = on;
    if (on) {
        msoauth_tokenstore_wanted();
    }
    return NULL;
}

static const char *set_response_mode(cmd_parms *cmd, void *cfg, const char *arg)
{
    static const choice_t choices[] = {{"query", MSOAUTH_RESPONSE_QUERY},
                                       {"form_post", MSOAUTH_RESPONSE_FORM_POST}, {NULL, 0}};
    msoauth_dir_cfg_t *c = cfg;
    const char *err = choose(cmd, arg, choices, &c->response_mode);

    if (!err) {
        warn_form_post_over_http(cmd, c);
    }
    return err;
}

/* A URL (the photo endpoint redirects there) or an image file read now. */
static const char *set_default_picture(cmd_parms *cmd, void *cfg, const char *arg)
{
    static const struct { const char *ext, *type; } types[] = {
        {".png", "image/png"}, {".jpg", "image/jpeg"}, {".jpeg", "image/jpeg"}, {".gif", "image/gif"},
        {".webp", "image/webp"}, {".svg", "image/svg+xml"}, {NULL, NULL}};
    msoauth_dir_cfg_t *c = cfg;
    const char *path, *dot, *err;
    apr_finfo_t fi;
    apr_file_t *f;
    apr_size_t n;
    char *buf;
    int i;

    if (arg[0] == '/' && arg[1] != '/' && !ap_server_root_relative(cmd->temp_pool, arg)) {
        return "MSOAuthDefaultPicture: invalid path";
    }
    if (!strncasecmp(arg, "https://", 8) || !strncasecmp(arg, "http://", 7)) {
        if (msoauth_url_check_endpoint(cmd->pool, arg, &err) != APR_SUCCESS
            && strncasecmp(arg, "http://", 7)) {
            return apr_psprintf(cmd->pool, "MSOAuthDefaultPicture: %s", err);
        }
        c->default_picture_url = arg;
        return NULL;
    }
    path = ap_server_root_relative(cmd->pool, arg);
    dot = path ? strrchr(path, '.') : NULL;
    for (i = 0; dot && types[i].ext && strcasecmp(dot, types[i].ext); i++) {
    }
    if (!dot || !types[i].ext) {
        return "MSOAuthDefaultPicture: expected an http(s) URL or a .png, .jpg, .gif, .webp or .svg file";
    }
    if (apr_stat(&fi, path, APR_FINFO_SIZE | APR_FINFO_TYPE, cmd->temp_pool) != APR_SUCCESS
        || fi.filetype != APR_REG || fi.size <= 0 || fi.size > 256 * 1024
        || apr_file_open(&f, path, APR_FOPEN_READ, APR_FPROT_OS_DEFAULT, cmd->temp_pool) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "MSOAuthDefaultPicture: cannot read %s (or larger than 256 KiB)", path);
    }
    buf = apr_palloc(cmd->pool, (apr_size_t)fi.size);
    if (apr_file_read_full(f, buf, (apr_size_t)fi.size, &n) != APR_SUCCESS || n != (apr_size_t)fi.size) {
        apr_file_close(f);
        return apr_psprintf(cmd->pool, "MSOAuthDefaultPicture: cannot read %s", path);
    }
    apr_file_close(f);
    c->default_picture = buf;
    c->default_picture_len = n;
    c->default_picture_type = types[i].type;
    return NULL;
}

static const char *set_cache(cmd_parms *cmd, void *cfg, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    (void)cfg;
    if (err) {
        return err;
    }
    msoauth_tokenstore_set_spec(arg);
    return NULL;
}

#define CONF (RSRC_CONF | ACCESS_CONF)

static const command_rec msoauth_cmds[] = {
    AP_INIT_TAKE1("MSOAuthClientID", set_client_id, NULL, CONF,
                  "The application (client) id from the Microsoft Entra app registration"),
    AP_INIT_TAKE1("MSOAuthClientSecret", set_client_secret, NULL, CONF,
                  "The client secret, or file:/path to read it from at start-up"),
    AP_INIT_TAKE1("MSOAuthTenant", set_tenant, NULL, CONF,
                  "common, organizations, consumers, a tenant GUID or a domain (default common)"),
    AP_INIT_ITERATE("MSOAuthAllowedTenants", add_allowed_tenant, NULL, CONF,
                    "Tenant GUIDs (or consumers) whose users may sign in (default any)"),
    AP_INIT_TAKE1("MSOAuthAuthority", set_authority, NULL, CONF,
                  "Login host (default https://login.microsoftonline.com)"),
    AP_INIT_TAKE1("MSOAuthGraphURL", set_graph_url, NULL, CONF,
                  "Microsoft Graph base URL for the profile, or none (default https://graph.microsoft.com/v1.0)"),
    AP_INIT_TAKE1("MSOAuthScope", set_scope, NULL, CONF,
                  "Requested scopes (default \"openid profile email User.Read\"; openid is always added)"),
    AP_INIT_TAKE1("MSOAuthRedirectURI", set_redirect_uri, NULL, CONF,
                  "The callback: a path on this server or an absolute URL"),
    AP_INIT_TAKE1("MSOAuthCryptoPassphrase", set_passphrase, NULL, CONF,
                  "Key material for sealing cookies and sessions, or file:/path"),
    AP_INIT_TAKE1("MSOAuthRemoteUserClaim", set_remote_user_claim, NULL, CONF,
                  "id_token claim for REMOTE_USER (default oid)"),
    AP_INIT_TAKE1("MSOAuthSessionMaxAge", set_session_max_age, NULL, CONF,
                  "Seconds after sign-in when the user must sign in again (default 28800)"),
    AP_INIT_TAKE1("MSOAuthStateTimeout", set_state_timeout, NULL, CONF,
                  "Seconds a started sign-in may take (default 300)"),
    AP_INIT_TAKE12("MSOAuthHTTPTimeout", set_http_timeout, NULL, CONF,
                   "Outgoing HTTP timeouts in seconds: connect [total] (default 5 15)"),
    AP_INIT_TAKE1("MSOAuthCAFile", set_ca_file, NULL, CONF,
                  "CA bundle for outgoing TLS (default: the system's)"),
    AP_INIT_TAKE1("MSOAuthPassClaimsAs", set_pass_claims_as, NULL, CONF,
                  "environment|headers|both|none: where the identity goes (default both)"),
    AP_INIT_TAKE1("MSOAuthHeaderEncoding", set_header_encoding, NULL, CONF,
                  "none|base64url|latin1: how identity header values are encoded (default none)"),
    AP_INIT_FLAG("MSOAuthEasyAuthHeaders", ap_set_flag_slot,
                 (void *)APR_OFFSETOF(msoauth_dir_cfg_t, easy_auth), CONF,
                 "Also send Azure App Service's X-MS-CLIENT-PRINCIPAL headers (default Off)"),
    AP_INIT_FLAG("MSOAuthStripCookies", ap_set_flag_slot,
                 (void *)APR_OFFSETOF(msoauth_dir_cfg_t, strip_cookies), CONF,
                 "Remove the module's cookies from the Cookie header the application sees (default On)"),
    AP_INIT_TAKE1("MSOAuthUnauthAction", set_unauth_action, NULL, CONF,
                  "auth|pass|401|403: what a request without a session gets (default auth)"),
    AP_INIT_TAKE1("MSOAuthSessionInactivityTimeout", set_inactivity_timeout, NULL, CONF,
                  "Seconds of inactivity that end a session (default 3600)"),
    AP_INIT_FLAG("MSOAuthPassAccessToken", set_pass_access_token, NULL, CONF,
                 "Hand the (refreshed) access token to the application (default Off)"),
    AP_INIT_FLAG("MSOAuthLogoutMicrosoft", ap_set_flag_slot,
                 (void *)APR_OFFSETOF(msoauth_dir_cfg_t, logout_microsoft), CONF,
                 "Sign-out also ends the Microsoft session (default On)"),
    AP_INIT_TAKE1("MSOAuthResponseMode", set_response_mode, NULL, CONF,
                  "query|form_post: how Microsoft returns the code (default query)"),
    AP_INIT_TAKE1("MSOAuthDefaultPicture", set_default_picture, NULL, CONF,
                  "Picture for users without a Microsoft photo: an http(s) URL or an image file"),
    AP_INIT_TAKE1("MSOAuthCache", set_cache, NULL, RSRC_CONF,
                  "Shared object cache for server-side tokens: provider[:args] (default shmcb)"),
    {NULL}};

/* ---- hooks ---- */

static int pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    (void)pconf;
    (void)plog;
    (void)ptemp;
    /* Require msoauth-group lines refill it while this configuration is read */
    msoauth_groups_wanted_reset();
    msoauth_tokenstore_reset(pconf);
    msoauth_session_reset();
    return OK;
}

static int check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    (void)pconf;
    (void)plog;
    return msoauth_check_config_tree(ptemp, s);
}

static int post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    apr_array_header_t *warnings = NULL;
    int i;

    (void)plog;
    /* resolve mod_session's functions for this generation, before any child runs */
    msoauth_session_available();
    apr_pool_userdata_get((void **)&warnings, WARNINGS_KEY, pconf);
    for (i = 0; warnings && i < warnings->nelts; i++) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, "%s", APR_ARRAY_IDX(warnings, i, const char *));
    }
    if (msoauth_tokenstore_post_config(pconf, ptemp, s) != OK) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    /* curl_global_init is not thread-safe: once, in the parent, before any child thread. */
    if (msoauth_http_global_init() != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, "curl_global_init failed");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

static void child_init(apr_pool_t *pchild, server_rec *s)
{
    msoauth_tokenstore_child_init(pchild, s);
    if (msoauth_provider_cache_init(pchild) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, "could not create the provider metadata cache");
    }
}

static void register_hooks(apr_pool_t *p)
{
    ap_hook_pre_config(pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(check_config, NULL, NULL, APR_HOOK_MIDDLE);
    /* forged identity headers go before any other module sees them */
    ap_hook_header_parser(msoauth_inbound_scrub, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_fixups(msoauth_inbound_strip_cookies, NULL, NULL, APR_HOOK_LAST);
    msoauth_authz_register(p);
    ap_hook_post_config(post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_authn(msoauth_authn_check, NULL, NULL, APR_HOOK_MIDDLE, AP_AUTH_INTERNAL_PER_CONF);
}

AP_DECLARE_MODULE(auth_msoauth) = {
    STANDARD20_MODULE_STUFF,
    create_dir_config,
    merge_dir_config,
    NULL,
    NULL,
    msoauth_cmds,
    register_hooks,
#if defined(AP_MODULE_FLAG_ALWAYS_MERGE)
    AP_MODULE_FLAG_NONE
#endif
};
