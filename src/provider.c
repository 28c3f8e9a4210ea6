/* Process-wide cache of provider metadata and JWKS. Network I/O happens outside the lock;
 * readers copy what they need into their own pool under the lock. */
#include <string.h>

#include <apr_strings.h>
#include <apr_hash.h>
#include <apr_thread_mutex.h>

#include "provider.h"
#include "discovery.h"
#include "json.h"

typedef struct {
    apr_pool_t *pool;       /* holds the strings below; replaced as a whole on refresh */
    const char *issuer;
    const char *jwks_uri;
    const char *end_session;
    const char *jwks_text;
    apr_int64_t fetched_at;
    apr_int64_t kid_refetch_at;
} entry_t;

static apr_pool_t *cache_pool;
static apr_hash_t *cache;
static apr_thread_mutex_t *cache_lock;

apr_status_t msoauth_provider_cache_init(apr_pool_t *pchild)
{
    apr_status_t rv = apr_pool_create(&cache_pool, pchild);

    if (rv == APR_SUCCESS) {
        rv = apr_thread_mutex_create(&cache_lock, APR_THREAD_MUTEX_DEFAULT, cache_pool);
    }
    if (rv == APR_SUCCESS) {
        cache = apr_hash_make(cache_pool);
    }
    return rv;
}

static apr_status_t fetch(apr_pool_t *p, const msoauth_http_req_t *proto, const char *url,
                          const char *what, msoauth_http_resp_t *resp, const char **err)
{
    msoauth_http_req_t req = *proto;
    apr_status_t rv;

    req.url = url;
    req.form_body = NULL;
    req.bearer = NULL;
    req.max_body = MSOAUTH_METADATA_MAX;
    if ((rv = msoauth_http_perform(p, &req, resp, err)) != APR_SUCCESS) {
        *err = apr_psprintf(p, "%s: %s", what, *err);
        return rv;
    }
    if (resp->status != 200) {
        *err = apr_psprintf(p, "%s: %s answered HTTP %ld", what, url, resp->status);
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

static apr_status_t fetch_jwks(apr_pool_t *p, const msoauth_http_req_t *proto, const char *uri,
                               const char **text, const char **err)
{
    msoauth_http_resp_t resp;
    apr_status_t rv = fetch(p, proto, uri, "JWKS", &resp, err);

    if (rv == APR_SUCCESS && (rv = msoauth_jwks_check(p, resp.body, resp.len, err)) == APR_SUCCESS) {
        *text = resp.body;
    }
    return rv;
}

/* Copy an entry into the caller's pool and parse its JWKS there. */
static apr_status_t export_entry(apr_pool_t *p, const char *issuer, const char *jwks_uri,
                                 const char *end_session, const char *jwks_text,
                                 msoauth_provider_t *out, const char **err)
{
    out->issuer = apr_pstrdup(p, issuer);
    out->jwks_uri = apr_pstrdup(p, jwks_uri);
    out->end_session_endpoint = end_session && *end_session ? apr_pstrdup(p, end_session) : NULL;
    out->jwks = msoauth_json_load(p, jwks_text, strlen(jwks_text), MSOAUTH_METADATA_MAX, err);
    return out->jwks ? APR_SUCCESS : APR_EINVAL;
}

/* Store under the lock; kid_refetch marks a kid-triggered refresh. */
static void store(const char *discovery_url, const char *issuer, const char *jwks_uri,
                  const char *end_session, const char *jwks_text, apr_int64_t now, int kid_refetch)
{
    entry_t *e;
    apr_pool_t *np;

    if (!cache) {
        return;
    }
    apr_thread_mutex_lock(cache_lock);
    e = apr_hash_get(cache, discovery_url, APR_HASH_KEY_STRING);
    if (!e) {
        e = apr_pcalloc(cache_pool, sizeof(*e));
        apr_hash_set(cache, apr_pstrdup(cache_pool, discovery_url), APR_HASH_KEY_STRING, e);
    }
    if (apr_pool_create(&np, cache_pool) == APR_SUCCESS) {
        if (e->pool) {
            apr_pool_destroy(e->pool);
        }
        e->pool = np;
        e->issuer = apr_pstrdup(np, issuer);
        e->jwks_uri = apr_pstrdup(np, jwks_uri);
        e->end_session = apr_pstrdup(np, end_session ? end_session : "");
        e->jwks_text = apr_pstrdup(np, jwks_text);
        e->fetched_at = now;
        if (kid_refetch) {
            e->kid_refetch_at = now;
        }
    }
    apr_thread_mutex_unlock(cache_lock);
}

/* Copies the cached entry when present (and fresh, unless any_age). */
static int lookup(apr_pool_t *p, const char *discovery_url, apr_int64_t now, int any_age,
                  const char **issuer, const char **jwks_uri, const char **end_session,
                  const char **jwks_text, apr_int64_t *kid_refetch_at)
{
    entry_t *e;
    int found = 0;

    if (!cache) {
        return 0;
    }
    apr_thread_mutex_lock(cache_lock);
    e = apr_hash_get(cache, discovery_url, APR_HASH_KEY_STRING);
    if (e && e->pool && (any_age || now - e->fetched_at < MSOAUTH_PROVIDER_TTL)) {
        *issuer = apr_pstrdup(p, e->issuer);
        *jwks_uri = apr_pstrdup(p, e->jwks_uri);
        *end_session = apr_pstrdup(p, e->end_session);
        *jwks_text = apr_pstrdup(p, e->jwks_text);
        *kid_refetch_at = e->kid_refetch_at;
        found = 1;
    }
    apr_thread_mutex_unlock(cache_lock);
    return found;
}

apr_status_t msoauth_provider_get(apr_pool_t *p, const msoauth_http_req_t *http,
                                  const char *discovery_url, apr_int64_t now,
                                  msoauth_provider_t *out, const char **err)
{
    const char *issuer, *jwks_uri, *end_session, *jwks_text, *why;
    apr_int64_t kid_at;
    msoauth_http_resp_t resp;
    msoauth_metadata_t md;
    apr_status_t rv;

    memset(out, 0, sizeof(*out));
    if (lookup(p, discovery_url, now, 0, &issuer, &jwks_uri, &end_session, &jwks_text, &kid_at)) {
        return export_entry(p, issuer, jwks_uri, end_session, jwks_text, out, err);
    }
    out->fetched = 1;
    rv = fetch(p, http, discovery_url, "discovery", &resp, err);
    if (rv == APR_SUCCESS) {
        rv = msoauth_metadata_parse(p, resp.body, resp.len, &md, err);
    }
    if (rv == APR_SUCCESS) {
        rv = fetch_jwks(p, http, md.jwks_uri, &jwks_text, err);
    }
    if (rv != APR_SUCCESS) {
        /* Keep signing people in with slightly stale keys rather than not at all. */
        if (lookup(p, discovery_url, now, 1, &issuer, &jwks_uri, &end_session, &jwks_text, &kid_at)) {
            why = *err;
            rv = export_entry(p, issuer, jwks_uri, end_session, jwks_text, out, err);
            *err = why;
            return rv == APR_SUCCESS ? APR_SUCCESS : rv;
        }
        return rv;
    }
    store(discovery_url, md.issuer, md.jwks_uri, md.end_session_endpoint, jwks_text, now, 0);
    return export_entry(p, md.issuer, md.jwks_uri, md.end_session_endpoint, jwks_text, out, err);
}

apr_status_t msoauth_provider_refresh_keys(apr_pool_t *p, const msoauth_http_req_t *http,
                                           const char *discovery_url, apr_int64_t now,
                                           msoauth_provider_t *out, const char **err)
{
    const char *issuer, *jwks_uri, *end_session, *jwks_text;
    apr_int64_t kid_at = 0;
    apr_status_t rv;

    if (lookup(p, discovery_url, now, 1, &issuer, &jwks_uri, &end_session, &jwks_text, &kid_at)
        && kid_at && now - kid_at < MSOAUTH_KID_REFETCH_INTERVAL) {
        *err = "JWKS refetch skipped: rate-limited";
        return APR_EAGAIN;
    }
    /* Mark the attempt before fetching so concurrent misses do not all go out. */
    if (cache) {
        entry_t *e;
        apr_thread_mutex_lock(cache_lock);
        e = apr_hash_get(cache, discovery_url, APR_HASH_KEY_STRING);
        if (e) {
            if (e->kid_refetch_at && now - e->kid_refetch_at < MSOAUTH_KID_REFETCH_INTERVAL) {
                apr_thread_mutex_unlock(cache_lock);
                *err = "JWKS refetch skipped: rate-limited";
                return APR_EAGAIN;
            }
            e->kid_refetch_at = now;
        }
        apr_thread_mutex_unlock(cache_lock);
    }
    if (!out->jwks_uri) {
        *err = "no jwks_uri known";
        return APR_EINVAL;
    }
    out->fetched = 1;
    if ((rv = fetch_jwks(p, http, out->jwks_uri, &jwks_text, err)) != APR_SUCCESS) {
        return rv;
    }
    store(discovery_url, out->issuer, out->jwks_uri, out->end_session_endpoint, jwks_text, now, 1);
    return export_entry(p, out->issuer, out->jwks_uri, out->end_session_endpoint, jwks_text, out, err);
}
