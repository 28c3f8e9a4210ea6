/* Shared types of the httpd-facing files (adapters and glue). Pure files do not include this. */
#ifndef MSOAUTH_H
#define MSOAUTH_H

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <apr_tables.h>

#include "seal.h"
#include "identity.h"
#include "tokens.h"
#include "http.h"

/* AP_DECLARE_MODULE in the glue declares it there. */
#ifndef MSOAUTH_GLUE
APLOG_USE_MODULE(auth_msoauth);
#endif
extern module AP_MODULE_DECLARE_DATA auth_msoauth_module;

#define MSOAUTH_AUTH_TYPE "msoauth"
#define MSOAUTH_UNSET (-1)
#define MSOAUTH_SESSION_KEY "msoauth.s"
/* A session stamped this far in the future (clock differences between servers) is refused. */
#define MSOAUTH_CLOCK_SKEW_SESSION 120

#define MSOAUTH_DEFAULT_TENANT "common"
#define MSOAUTH_DEFAULT_AUTHORITY "https://login.microsoftonline.com"
#define MSOAUTH_DEFAULT_GRAPH "https://graph.microsoft.com/v1.0"
#define MSOAUTH_DEFAULT_SCOPE "openid profile email User.Read"
#define MSOAUTH_DEFAULT_REMOTE_USER_CLAIM "oid"
#define MSOAUTH_DEFAULT_SESSION_MAX_AGE 28800
#define MSOAUTH_DEFAULT_STATE_TIMEOUT 300
#define MSOAUTH_DEFAULT_CONNECT_TIMEOUT 5
#define MSOAUTH_DEFAULT_TOTAL_TIMEOUT 15

/* Per-directory (and server-wide, via the server's lookup defaults) configuration.
 * NULL / MSOAUTH_UNSET mean "not set here": merge takes the inner value when set, and
 * defaults are applied only when a value is read (msoauth_cfg_* below). */
typedef struct {
    const char *client_id;
    const char *client_secret;
    const char *tenant;
    apr_array_header_t *allowed_tenants; /* lower-case GUIDs */
    const char *authority;               /* no trailing slash */
    const char *graph_url;               /* "" for none; no trailing slash */
    const char *scope;                   /* always holds openid */
    const char *redirect_uri;            /* path or absolute URL */
    const char *redirect_path;           /* its path, to recognise the callback */
    const msoauth_keys_t *keys;          /* from MSOAuthCryptoPassphrase */
    const char *remote_user_claim;
    int session_max_age;
    int state_timeout;
    int connect_timeout;
    int total_timeout;
    const char *ca_file;
    int pass_claims_as;                  /* MSOAUTH_PASS_* bits */
    int header_encoding;                 /* msoauth_header_enc_t */
    int easy_auth;                       /* 0/1 */
    int strip_cookies;                   /* 0/1 */
    int unauth_action;                   /* MSOAUTH_UNAUTH_* */
    int inactivity_timeout;              /* seconds */
    int pass_access_token;               /* 0/1 */
    int logout_microsoft;                /* 0/1 */
    int response_mode;                   /* MSOAUTH_RESPONSE_* */
    const char *default_picture_url;     /* MSOAuthDefaultPicture URL (302 to it) */
    const char *default_picture;         /* ... or file contents */
    apr_size_t default_picture_len;
    const char *default_picture_type;
} msoauth_dir_cfg_t;

#define MSOAUTH_RESPONSE_QUERY 0
#define MSOAUTH_RESPONSE_FORM_POST 1
#define MSOAUTH_DEFAULT_INACTIVITY_TIMEOUT 3600
/* Keeping a session alive rewrites its cookie at most this often (seconds). */
#define MSOAUTH_TOUCH_INTERVAL 60

static inline int msoauth_cfg_inactivity_timeout(const msoauth_dir_cfg_t *c)
{
    return c->inactivity_timeout != MSOAUTH_UNSET ? c->inactivity_timeout : MSOAUTH_DEFAULT_INACTIVITY_TIMEOUT;
}
static inline int msoauth_cfg_pass_access_token(const msoauth_dir_cfg_t *c)
{
    return c->pass_access_token != MSOAUTH_UNSET ? c->pass_access_token : 0;
}
static inline int msoauth_cfg_logout_microsoft(const msoauth_dir_cfg_t *c)
{
    return c->logout_microsoft != MSOAUTH_UNSET ? c->logout_microsoft : 1;
}
static inline int msoauth_cfg_response_mode(const msoauth_dir_cfg_t *c)
{
    return c->response_mode != MSOAUTH_UNSET ? c->response_mode : MSOAUTH_RESPONSE_QUERY;
}
/* 1 when the scope asks for a refresh token */
int msoauth_scope_has_offline_access(const char *scope);
/* tokens are kept server-side for this location (MSOAuthPassAccessToken, or offline_access) */
int msoauth_cfg_keeps_tokens(const msoauth_dir_cfg_t *c);

#define MSOAUTH_PASS_ENV 1
#define MSOAUTH_PASS_HEADERS 2

typedef enum {
    MSOAUTH_UNAUTH_AUTH = 0,
    MSOAUTH_UNAUTH_PASS,
    MSOAUTH_UNAUTH_401,
    MSOAUTH_UNAUTH_403
} msoauth_unauth_t;

static inline int msoauth_cfg_pass(const msoauth_dir_cfg_t *c)
{
    return c->pass_claims_as != MSOAUTH_UNSET ? c->pass_claims_as : MSOAUTH_PASS_ENV | MSOAUTH_PASS_HEADERS;
}
static inline int msoauth_cfg_header_encoding(const msoauth_dir_cfg_t *c)
{
    return c->header_encoding != MSOAUTH_UNSET ? c->header_encoding : 0;
}
static inline int msoauth_cfg_easy_auth(const msoauth_dir_cfg_t *c)
{
    return c->easy_auth != MSOAUTH_UNSET ? c->easy_auth : 0;
}
static inline int msoauth_cfg_strip_cookies(const msoauth_dir_cfg_t *c)
{
    return c->strip_cookies != MSOAUTH_UNSET ? c->strip_cookies : 1;
}
static inline int msoauth_cfg_unauth_action(const msoauth_dir_cfg_t *c)
{
    return c->unauth_action != MSOAUTH_UNSET ? c->unauth_action : MSOAUTH_UNAUTH_AUTH;
}

static inline const char *msoauth_cfg_tenant(const msoauth_dir_cfg_t *c)
{
    return c->tenant ? c->tenant : MSOAUTH_DEFAULT_TENANT;
}
static inline const char *msoauth_cfg_authority(const msoauth_dir_cfg_t *c)
{
    return c->authority ? c->authority : MSOAUTH_DEFAULT_AUTHORITY;
}
static inline const char *msoauth_cfg_graph_url(const msoauth_dir_cfg_t *c)
{
    return c->graph_url ? c->graph_url : MSOAUTH_DEFAULT_GRAPH;
}
static inline const char *msoauth_cfg_scope(const msoauth_dir_cfg_t *c)
{
    return c->scope ? c->scope : MSOAUTH_DEFAULT_SCOPE;
}
static inline const char *msoauth_cfg_remote_user_claim(const msoauth_dir_cfg_t *c)
{
    return c->remote_user_claim ? c->remote_user_claim : MSOAUTH_DEFAULT_REMOTE_USER_CLAIM;
}
static inline int msoauth_cfg_session_max_age(const msoauth_dir_cfg_t *c)
{
    return c->session_max_age != MSOAUTH_UNSET ? c->session_max_age : MSOAUTH_DEFAULT_SESSION_MAX_AGE;
}
static inline int msoauth_cfg_state_timeout(const msoauth_dir_cfg_t *c)
{
    return c->state_timeout != MSOAUTH_UNSET ? c->state_timeout : MSOAUTH_DEFAULT_STATE_TIMEOUT;
}

/* authn.c: the check_authn hook body */
int msoauth_authn_check(request_rec *r);
/* login.c: start a sign-in (302 to Microsoft) */
int msoauth_login_start(request_rec *r, const msoauth_dir_cfg_t *c);
/* callback.c: outgoing HTTP settings of a location (timeouts, CA, one time budget from now) */
msoauth_http_req_t msoauth_http_settings(const msoauth_dir_cfg_t *c);
/* callback.c: the redirect URI */
int msoauth_callback_handle(request_rec *r, const msoauth_dir_cfg_t *c);
/* redirect.c: the absolute redirect URI for this request, and whether r is the callback */
const char *msoauth_redirect_uri_absolute(request_rec *r, const msoauth_dir_cfg_t *c);
int msoauth_is_callback(request_rec *r, const msoauth_dir_cfg_t *c);
/* session.c: mod_session adapter */
int msoauth_session_available(void);
void msoauth_session_reset(void);
int msoauth_session_read(request_rec *r, const msoauth_dir_cfg_t *c, msoauth_identity_t **id);
int msoauth_session_write(request_rec *r, const msoauth_dir_cfg_t *c, const msoauth_identity_t *id);
/* exports.c: identity -> REMOTE_USER, MSOAUTH_* variables, X-MSOAuth-* / Easy Auth headers */
void msoauth_exports_set(request_rec *r, const msoauth_dir_cfg_t *c, const msoauth_identity_t *id);
/* MSOAUTH_ACCESS_TOKEN(_EXPIRES) and X-MSOAuth-Access-Token as MSOAuthPassClaimsAs says;
 * remembered for internal redirects */
void msoauth_exports_token(request_rec *r, const msoauth_dir_cfg_t *c, const msoauth_tokens_t *t);
/* The identity of this request (set by authn, read by the Require providers); NULL if anonymous. */
void msoauth_request_identity_set(request_rec *r, const msoauth_dir_cfg_t *c, const msoauth_identity_t *id);
/* fixups: the identity again for an internal redirect (variables renamed REDIRECT_* by httpd) */
void msoauth_exports_after_redirect(request_rec *r);
const msoauth_identity_t *msoauth_request_identity(request_rec *r);
/* inbound.c: header_parser (scrub forged headers) and fixups (strip our cookies) */
int msoauth_inbound_scrub(request_rec *r);
int msoauth_inbound_strip_cookies(request_rec *r);
/* session.c: the session cookie names of mod_session_cookie for this request (NULL when unset) */
void msoauth_session_cookie_names(request_rec *r, const char **name, const char **name2);
int msoauth_session_clear(request_rec *r);
/* authz.c: the Require providers */
void msoauth_authz_register(apr_pool_t *p);
/* logout.c: <redirect uri>?logout=<path> */
int msoauth_logout_handle(request_rec *r, const msoauth_dir_cfg_t *c, const char *target);
/* tokenstore.c: server-side tokens in mod_socache */
apr_status_t msoauth_tokenstore_create(request_rec *r, const msoauth_dir_cfg_t *c,
                                       const msoauth_tokens_t *t, apr_time_t expiry,
                                       const char **handle);
/* The access token to hand on, refreshed first when it is about to expire (single flight). */
apr_status_t msoauth_tokenstore_current(request_rec *r, const msoauth_dir_cfg_t *c,
                                        const msoauth_identity_t *id, msoauth_tokens_t **out,
                                        const char **err);
void msoauth_tokenstore_reset(apr_pool_t *pconf);
void msoauth_tokenstore_set_spec(const char *spec);
void msoauth_tokenstore_wanted(void);
int msoauth_tokenstore_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s);
void msoauth_tokenstore_child_init(apr_pool_t *pchild, server_rec *s);
int msoauth_tokenstore_available(void);
/* some location keeps tokens: every sign-in keeps them (the callback may sit elsewhere) */
int msoauth_tokenstore_is_wanted(void);
void msoauth_tokenstore_remove(request_rec *r, const char *handle);
/* the same shared cache, for other data (photos) */
void msoauth_cache_wanted_for_photos(void);
apr_status_t msoauth_cache_put(request_rec *r, const char *id, const void *data, apr_size_t len,
                               apr_time_t expiry);
apr_status_t msoauth_cache_get(request_rec *r, const char *id, apr_size_t max, unsigned char **data,
                               apr_size_t *len);
/* photo.c: keep the photo at sign-in; serve <redirect uri>?photo */
void msoauth_photo_keep(request_rec *r, const msoauth_dir_cfg_t *c, msoauth_identity_t *id,
                        const unsigned char *photo, apr_size_t len, const char *type);
int msoauth_photo_handle(request_rec *r, const msoauth_dir_cfg_t *c);
const char *msoauth_photo_url(request_rec *r, const msoauth_dir_cfg_t *c);
/* session.c: rewrite the session with a new activity time (no new session) */
int msoauth_session_touch(request_rec *r, const msoauth_dir_cfg_t *c, const msoauth_identity_t *id);
/* info.c: <redirect uri>?info=json */
int msoauth_info_handle(request_rec *r, const msoauth_dir_cfg_t *c);
/* The module is active for r: AuthType msoauth */
int msoauth_is_active(request_rec *r);
/* page.c: the short, escaped HTML page; returns DONE. retry may be NULL. */
int msoauth_page_send(request_rec *r, int status, const char *title, const char *message,
                      const char *detail, const char *retry);
int msoauth_page_send_link(request_rec *r, int status, const char *title, const char *message,
                           const char *detail, const char *link, const char *label);
/* No caching, no referrer leak: for every response the module makes itself. */
void msoauth_no_store(request_rec *r);
const char *msoauth_pending_cookie_attrs(request_rec *r);
/* logsafe.c: at most n characters of s followed by "...", controls replaced, for debug logs. */
const char *msoauth_log_trunc(apr_pool_t *p, const char *s, apr_size_t n);
/* checkconf.c: configtest-time checks over the parsed configuration tree */
int msoauth_check_config_tree(apr_pool_t *ptemp, server_rec *s);

#endif
