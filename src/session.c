/* mod_session adapter: the identity lives under one key, sealed with AES-256-GCM under the
 * session key from MSOAuthCryptoPassphrase, with the client id as associated data. So the
 * browser can neither read nor edit it, with or without mod_session_crypto, and a session made
 * for another client id (or with another passphrase) does not open. */
#include <string.h>
#include <apr_strings.h>
#include <apr_optional.h>
#include <apr_uuid.h>
#include <mod_session.h>

#include "msoauth.h"

static APR_OPTIONAL_FN_TYPE(ap_session_load) *session_load;
static APR_OPTIONAL_FN_TYPE(ap_session_get) *session_get;
static APR_OPTIONAL_FN_TYPE(ap_session_set) *session_set;
static APR_OPTIONAL_FN_TYPE(ap_session_save) *session_save;
static module *session_cookie; /* mod_session_cookie, when loaded */

/* At each configuration pass: after a restart mod_session may sit at another address. */
void msoauth_session_reset(void)
{
    session_load = NULL;
    session_get = NULL;
    session_set = NULL;
    session_save = NULL;
    session_cookie = NULL;
}

int msoauth_session_available(void)
{
    if (!session_load) {
        session_cookie = ap_find_linked_module("mod_session_cookie.c");
        session_load = APR_RETRIEVE_OPTIONAL_FN(ap_session_load);
        session_get = APR_RETRIEVE_OPTIONAL_FN(ap_session_get);
        session_set = APR_RETRIEVE_OPTIONAL_FN(ap_session_set);
        session_save = APR_RETRIEVE_OPTIONAL_FN(ap_session_save);
    }
    return session_load && session_get && session_set && session_save;
}

static const char *aad_for(apr_pool_t *p, const msoauth_dir_cfg_t *c)
{
    return apr_pstrcat(p, "msoauth session v1|", c->client_id, NULL);
}

static int load(request_rec *r, session_rec **z)
{
    *z = NULL;
    if (!msoauth_session_available()) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "mod_session is not loaded: AuthType msoauth needs it");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (session_load(r, z) != APR_SUCCESS || !*z) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "no session available for %s: add 'Session On' and a session store "
                      "(e.g. SessionCookieName) where AuthType msoauth is used", r->uri);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

int msoauth_session_read(request_rec *r, const msoauth_dir_cfg_t *c, msoauth_identity_t **id)
{
    session_rec *z;
    const char *sealed = NULL, *err = NULL;
    char *plain;
    apr_size_t len;
    apr_int64_t now = apr_time_sec(apr_time_now());
    int rc;

    *id = NULL;
    if ((rc = load(r, &z)) != OK) {
        return rc;
    }
    session_get(r, z, MSOAUTH_SESSION_KEY, &sealed);
    if (!sealed || !*sealed) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "no sign-in in this session");
        return OK;
    }
    if (msoauth_open(r->pool, c->keys->session, aad_for(r->pool, c), sealed, &plain, &len, &err)
            != APR_SUCCESS
        || msoauth_identity_parse(r->pool, plain, id, &err) != APR_SUCCESS) {
        /* Browser input: not worth more than info, and treated as signed out. */
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "session ignored: %s", err);
        *id = NULL;
        return OK;
    }
    if (now - (*id)->login_time >= msoauth_cfg_session_max_age(c)
        || (*id)->login_time > now + MSOAUTH_CLOCK_SKEW_SESSION) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "session of %s ended: signed in %" APR_INT64_T_FMT " s ago, MSOAuthSessionMaxAge %d",
                      (*id)->remote_user, now - (*id)->login_time, msoauth_cfg_session_max_age(c));
        *id = NULL;
    }
    else if (now - (*id)->last_seen >= msoauth_cfg_inactivity_timeout(c)) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "session of %s ended: idle for %" APR_INT64_T_FMT " s, MSOAuthSessionInactivityTimeout %d",
                      (*id)->remote_user, now - (*id)->last_seen, msoauth_cfg_inactivity_timeout(c));
        *id = NULL;
    }
    return OK;
}

/* Seal and store the identity under our key; fresh: a new sign-in (drop everything else). */
static int store(request_rec *r, const msoauth_dir_cfg_t *c, const msoauth_identity_t *id, int fresh)
{
    session_rec *z;
    const char *payload = msoauth_identity_serialize(r->pool, id), *sealed;
    int rc;

    if ((rc = load(r, &z)) != OK) {
        return rc;
    }
    if (msoauth_seal(r->pool, c->keys->session, aad_for(r->pool, c), payload, strlen(payload),
                     &sealed) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "could not seal the session");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (fresh) {
        /* A new sign-in is a new session: nothing from before it survives (no fixation). */
        apr_table_clear(z->entries);
        if (z->uuid) {
            apr_uuid_get(z->uuid);
        }
    }
    session_set(r, z, MSOAUTH_SESSION_KEY, sealed);
    if (fresh && strlen(sealed) > 3000) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      "session for %s is %" APR_SIZE_T_FMT " bytes: close to the 4 KB cookie limit",
                      id->remote_user, strlen(sealed));
    }
    if (session_save(r, z) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "mod_session could not save the session");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

int msoauth_session_touch(request_rec *r, const msoauth_dir_cfg_t *c, const msoauth_identity_t *id)
{
    return store(r, c, id, 0);
}

int msoauth_session_write(request_rec *r, const msoauth_dir_cfg_t *c, const msoauth_identity_t *id)
{
    return store(r, c, id, 1);
}

/* The first fields of mod_session_cookie's per-directory config, unchanged across httpd 2.4
 * releases (later ones append fields). Read-only, to know which cookie is the session. */
typedef struct {
    const char *name;
    int name_set;
    const char *name_attrs;
    const char *name2;
    int name2_set;
} session_cookie_conf_prefix_t;

void msoauth_session_cookie_names(request_rec *r, const char **name, const char **name2)
{
    const session_cookie_conf_prefix_t *conf;

    *name = *name2 = NULL;
    if (!session_cookie
        || !(conf = ap_get_module_config(r->per_dir_config, session_cookie))) {
        return;
    }
    *name = conf->name_set ? conf->name : NULL;
    *name2 = conf->name2_set ? conf->name2 : NULL;
}

int msoauth_session_clear(request_rec *r)
{
    session_rec *z;
    int rc;

    if ((rc = load(r, &z)) != OK) {
        return rc;
    }
    session_set(r, z, MSOAUTH_SESSION_KEY, NULL);
    if (session_save(r, z) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "mod_session could not save the session");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}
