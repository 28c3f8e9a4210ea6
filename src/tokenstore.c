/* Server-side tokens: kept in Apache's shared object cache (mod_socache: shmcb by default,
 * memcache or redis for several servers), keyed by a random handle held in the session,
 * sealed at rest. Handing on an access token refreshes it first when it is about to expire,
 * once per session however many requests arrive together (single flight under a global lock). */
#include <string.h>

#include <apr_strings.h>
#include <apr_global_mutex.h>
#include <ap_socache.h>
#include <ap_provider.h>
#include <util_mutex.h>
#include <http_protocol.h>

#include "msoauth.h"
#include "tokens.h"
#include "token.h"
#include "http.h"
#include "discovery.h"
#include "random.h"

#define MUTEX_TYPE "msoauth-cache"
#define CACHE_ID_PREFIX "msoauth:"
#define ENTRY_MAX 16384

static const char *cache_spec;   /* MSOAuthCache, per configuration pass */
static int tokens_wanted;        /* some location may keep tokens: the cache must exist */
static int photos_wanted;        /* photos use the cache when it can be had */
static const ap_socache_provider_t *provider;
static ap_socache_instance_t *instance;
static apr_global_mutex_t *mutex;

int msoauth_scope_has_offline_access(const char *scope)
{
    const char *at = scope;
    apr_size_t n = strlen("offline_access");

    while ((at = strstr(at, "offline_access")) != NULL) {
        if ((at == scope || at[-1] == ' ') && (at[n] == '\0' || at[n] == ' ')) {
            return 1;
        }
        at += n;
    }
    return 0;
}

int msoauth_cfg_keeps_tokens(const msoauth_dir_cfg_t *c)
{
    return msoauth_cfg_pass_access_token(c) || msoauth_scope_has_offline_access(msoauth_cfg_scope(c));
}

void msoauth_tokenstore_reset(apr_pool_t *pconf)
{
    cache_spec = NULL;
    tokens_wanted = 0;
    photos_wanted = 0;
    provider = NULL;
    instance = NULL;
    mutex = NULL;
    ap_mutex_register(pconf, MUTEX_TYPE, NULL, APR_LOCK_DEFAULT, 0);
}

void msoauth_tokenstore_set_spec(const char *spec)
{
    cache_spec = spec;
}

void msoauth_tokenstore_wanted(void)
{
    tokens_wanted = 1;
}

void msoauth_cache_wanted_for_photos(void)
{
    photos_wanted = 1;
}

static apr_status_t destroy_instance(void *data)
{
    if (provider && instance) {
        provider->destroy(instance, (server_rec *)data);
    }
    instance = NULL;
    return APR_SUCCESS;
}

int msoauth_tokenstore_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
    static struct ap_socache_hints hints = {48, 1024, 60 * APR_USEC_PER_SEC};
    const char *spec = cache_spec ? cache_spec : "shmcb", *name, *args, *err;
    char *colon;
    apr_status_t rv;

    if (!tokens_wanted && !cache_spec && !photos_wanted) {
        return OK;
    }
    name = apr_pstrdup(ptemp, spec);
    args = NULL;
    if ((colon = strchr(name, ':')) != NULL) {
        *colon = '\0';
        args = colon + 1;
    }
    else if (!strcmp(name, "shmcb")) {
        /* room for photos (up to 160 KiB each): shmcb's own default is 512 KB */
        args = apr_pstrcat(ptemp, ap_runtime_dir_relative(ptemp, "msoauth-cache"), "(8388608)", NULL);
    }
    provider = ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP, name, AP_SOCACHE_PROVIDER_VERSION);
    if (!provider && !tokens_wanted && !cache_spec) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                     "no shared object cache (mod_socache_%s not loaded): profile photos are not kept, "
                     "MSOAUTH_PICTURE serves the default picture", name);
        return OK;
    }
    if (!provider) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                     "MSOAuthCache: shared object cache '%s' is not available: load mod_socache_%s "
                     "(a2enmod socache_%s)", name, name, name);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if ((err = provider->create(&instance, args, ptemp, pconf)) != NULL) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, "MSOAuthCache %s: %s", spec, err);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if ((rv = ap_global_mutex_create(&mutex, NULL, MUTEX_TYPE, NULL, s, pconf, 0)) != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if ((rv = provider->init(instance, "msoauth", &hints, s, pconf)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, "MSOAuthCache %s: could not initialise the cache", spec);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    apr_pool_cleanup_register(pconf, s, destroy_instance, apr_pool_cleanup_null);
    return OK;
}

void msoauth_tokenstore_child_init(apr_pool_t *pchild, server_rec *s)
{
    if (mutex && apr_global_mutex_child_init(&mutex, apr_global_mutex_lockfile(mutex), pchild)
                     != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, "could not reopen the token cache lock in this child");
    }
}

int msoauth_tokenstore_is_wanted(void)
{
    return tokens_wanted;
}

int msoauth_tokenstore_available(void)
{
    return instance != NULL;
}

static const char *aad_for(apr_pool_t *p, const msoauth_dir_cfg_t *c, const char *handle)
{
    return apr_pstrcat(p, "msoauth tokens v1|", c->client_id, "|", handle, NULL);
}

static const char *cache_id(apr_pool_t *p, const char *handle)
{
    return apr_pstrcat(p, CACHE_ID_PREFIX, handle, NULL);
}

/* lock held by caller */
static apr_status_t get_locked(request_rec *r, const msoauth_dir_cfg_t *c, const char *handle,
                               msoauth_tokens_t **t, const char **err)
{
    unsigned char *buf = apr_palloc(r->pool, ENTRY_MAX + 1);
    unsigned int len = ENTRY_MAX;
    const char *id = cache_id(r->pool, handle);
    apr_status_t rv;

    *t = NULL;
    rv = provider->retrieve(instance, r->server, (const unsigned char *)id, (unsigned int)strlen(id), buf,
                            &len, r->pool);
    if (rv != APR_SUCCESS) {
        *err = "no token record in the cache (expired, evicted, or the cache restarted)";
        return APR_NOTFOUND;
    }
    buf[len] = '\0';
    return msoauth_tokens_open(r->pool, c->keys->tokens, aad_for(r->pool, c, handle), (const char *)buf, t, err);
}

static apr_status_t put_locked(request_rec *r, const msoauth_dir_cfg_t *c, const char *handle,
                               const msoauth_tokens_t *t, apr_time_t expiry)
{
    const char *sealed, *id = cache_id(r->pool, handle);
    apr_status_t rv = msoauth_tokens_seal(r->pool, c->keys->tokens, aad_for(r->pool, c, handle), t, &sealed);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    return provider->store(instance, r->server, (const unsigned char *)id, (unsigned int)strlen(id), expiry,
                           (unsigned char *)sealed, (unsigned int)strlen(sealed), r->pool);
}

/* Always taken, even for providers that are safe on their own: the read-modify-write of a
 * refresh must be atomic. */
static void lock(void)
{
    apr_global_mutex_lock(mutex);
}

static void unlock(void)
{
    apr_global_mutex_unlock(mutex);
}

apr_status_t msoauth_tokenstore_create(request_rec *r, const msoauth_dir_cfg_t *c,
                                       const msoauth_tokens_t *t, apr_time_t expiry,
                                       const char **handle)
{
    apr_status_t rv;

    if (!instance) {
        return APR_ENOTIMPL;
    }
    if ((rv = msoauth_random_b64url(r->pool, 32, handle)) != APR_SUCCESS) {
        return rv;
    }
    lock();
    rv = put_locked(r, c, *handle, t, expiry);
    unlock();
    return rv;
}

void msoauth_tokenstore_remove(request_rec *r, const char *handle)
{
    const char *id;

    if (!instance || !handle || !*handle) {
        return;
    }
    id = cache_id(r->pool, handle);
    lock();
    provider->remove(instance, r->server, (const unsigned char *)id, (unsigned int)strlen(id), r->pool);
    unlock();
}

/* One refresh_token grant at the token endpoint. */
static apr_status_t refresh(request_rec *r, const msoauth_dir_cfg_t *c, const msoauth_tokens_t *old,
                            msoauth_tokens_t *fresh, const char **err)
{
    msoauth_http_req_t req;
    msoauth_http_resp_t resp;
    msoauth_token_resp_t tok;
    apr_status_t rv;

    req = msoauth_http_settings(c);
    req.url = msoauth_token_url(r->pool, msoauth_cfg_authority(c), msoauth_cfg_tenant(c));
    req.form_body = msoauth_refresh_request_body(r->pool, c->client_id, c->client_secret,
                                                 old->refresh_token, msoauth_cfg_scope(c));
    if ((rv = msoauth_http_perform(r->pool, &req, &resp, err)) != APR_SUCCESS) {
        return rv;
    }
    rv = msoauth_token_parse_refresh(r->pool, resp.status, resp.body, resp.len, &tok, err);
    if (rv == MSOAUTH_ETOKENERR) {
        *err = apr_psprintf(r->pool, "%s: %s%s%s (trace id %s, correlation id %s)", *err,
                            tok.aadsts ? tok.aadsts : "", tok.aadsts ? " " : "",
                            msoauth_log_trunc(r->pool, tok.error_description, 200),
                            msoauth_log_trunc(r->pool, tok.trace_id, 64),
                            msoauth_log_trunc(r->pool, tok.correlation_id, 64));
        return rv;
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    fresh->access_token = tok.access_token;
    fresh->expires_at = apr_time_sec(apr_time_now()) + (tok.expires_in > 0 ? tok.expires_in : 3600);
    /* Microsoft rotates refresh tokens: a new one replaces the old */
    fresh->refresh_token = tok.refresh_token && *tok.refresh_token ? tok.refresh_token : old->refresh_token;
    fresh->refreshing_since = 0;
    return APR_SUCCESS;
}

apr_status_t msoauth_tokenstore_current(request_rec *r, const msoauth_dir_cfg_t *c,
                                        const msoauth_identity_t *id, msoauth_tokens_t **out,
                                        const char **err)
{
    apr_time_t expiry = apr_time_from_sec(id->login_time + msoauth_cfg_session_max_age(c));
    apr_int64_t now = apr_time_sec(apr_time_now());
    apr_time_t give_up = apr_time_now() + apr_time_from_sec(MSOAUTH_REFRESH_LOCK_SECONDS + 2);
    msoauth_tokens_t *t = NULL, fresh;
    apr_status_t rv;

    *out = NULL;
    if (!instance) {
        *err = "no token cache configured";
        return APR_ENOTIMPL;
    }
    for (;;) {
        lock();
        rv = get_locked(r, c, id->token_handle, &t, err);
        if (rv != APR_SUCCESS || !msoauth_tokens_need_refresh(t, now)) {
            unlock();
            *out = t;
            return rv;
        }
        if (!t->refreshing_since || now - t->refreshing_since >= MSOAUTH_REFRESH_LOCK_SECONDS) {
            break; /* ours to refresh: lock still held */
        }
        unlock();
        /* another request of this session is refreshing: wait for its result */
        if (apr_time_now() > give_up) {
            *err = "timed out waiting for another request's token refresh";
            return APR_TIMEUP;
        }
        apr_sleep(apr_time_from_msec(50));
        now = apr_time_sec(apr_time_now());
    }
    if (!t->refresh_token || !*t->refresh_token) {
        unlock();
        *err = "access token expired and there is no refresh token (add offline_access to MSOAuthScope)";
        return APR_EGENERAL;
    }
    t->refreshing_since = now;
    put_locked(r, c, id->token_handle, t, expiry);
    unlock();

    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "refreshing the access token of %s (expires in %" APR_INT64_T_FMT " s)",
                  id->remote_user, t->expires_at - now);
    rv = refresh(r, c, t, &fresh, err);
    lock();
    if (rv == APR_SUCCESS) {
        rv = put_locked(r, c, id->token_handle, &fresh, expiry);
        *out = apr_pmemdup(r->pool, &fresh, sizeof(fresh));
    }
    else if (rv != MSOAUTH_ETOKENERR && t->expires_at > now) {
        /* Microsoft unreachable, but the token still has some seconds left: use it, and let a
         * later request try again */
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "token refresh failed (%s); using the current token", *err);
        t->refreshing_since = 0;
        put_locked(r, c, id->token_handle, t, expiry);
        *out = t;
        rv = APR_SUCCESS;
    }
    else {
        /* revoked or expired refresh token: the session cannot go on */
        provider->remove(instance, r->server, (const unsigned char *)cache_id(r->pool, id->token_handle),
                         (unsigned int)strlen(cache_id(r->pool, id->token_handle)), r->pool);
    }
    unlock();
    return rv;
}

apr_status_t msoauth_cache_put(request_rec *r, const char *id, const void *data, apr_size_t len,
                               apr_time_t expiry)
{
    apr_status_t rv;

    if (!instance) {
        return APR_ENOTIMPL;
    }
    lock();
    rv = provider->store(instance, r->server, (const unsigned char *)id, (unsigned int)strlen(id), expiry,
                         (unsigned char *)data, (unsigned int)len, r->pool);
    unlock();
    return rv;
}

apr_status_t msoauth_cache_get(request_rec *r, const char *id, apr_size_t max, unsigned char **data,
                               apr_size_t *len)
{
    unsigned int n = (unsigned int)max;
    apr_status_t rv;

    *data = NULL;
    if (!instance) {
        return APR_ENOTIMPL;
    }
    *data = apr_palloc(r->pool, max);
    lock();
    rv = provider->retrieve(instance, r->server, (const unsigned char *)id, (unsigned int)strlen(id), *data,
                            &n, r->pool);
    unlock();
    *len = n;
    return rv;
}
