/* MSOAUTH_PICTURE: <MSOAuthRedirectURI>?photo serves the signed-in user's own Microsoft photo,
 * read from Graph once at sign-in and kept in the module's shared cache; without one (Graph
 * 404, personal accounts often; or no cache) it serves MSOAuthDefaultPicture or a built-in
 * neutral avatar. The URL names no user: the session decides whose photo it is. */
#include <string.h>

#include <apr_strings.h>
#include <http_protocol.h>
#include <openssl/sha.h>

#include "msoauth.h"
#include "profile.h"

/* A neutral head-and-shoulders silhouette. */
static const char DEFAULT_AVATAR[] =
    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"96\" height=\"96\" viewBox=\"0 0 96 96\">"
    "<rect width=\"96\" height=\"96\" fill=\"#d0d4d9\"/>"
    "<circle cx=\"48\" cy=\"38\" r=\"18\" fill=\"#8a939e\"/>"
    "<path d=\"M16 96c0-20 14-32 32-32s32 12 32 32z\" fill=\"#8a939e\"/></svg>\n";

static const char *photo_key(apr_pool_t *p, const msoauth_identity_t *id)
{
    return apr_pstrcat(p, "msoauth-photo:", id->tenant_id, ":", id->user_id, NULL);
}

const char *msoauth_photo_url(request_rec *r, const msoauth_dir_cfg_t *c)
{
    return apr_pstrcat(r->pool, c->redirect_uri, "?photo", NULL);
}

void msoauth_photo_keep(request_rec *r, const msoauth_dir_cfg_t *c, msoauth_identity_t *id,
                        const unsigned char *photo, apr_size_t len, const char *type)
{
    apr_size_t tlen = strlen(type);
    char *entry = apr_palloc(r->pool, tlen + 1 + len);
    apr_time_t expiry = apr_time_from_sec(id->login_time + msoauth_cfg_session_max_age(c));

    memcpy(entry, type, tlen);
    entry[tlen] = '\n';
    memcpy(entry + tlen + 1, photo, len);
    if (msoauth_cache_put(r, photo_key(r->pool, id), entry, tlen + 1 + len, expiry) == APR_SUCCESS) {
        id->has_photo = 1;
    }
    else {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      "photo of %s (%" APR_SIZE_T_FMT " bytes) not kept: no room in the shared cache (MSOAuthCache)",
                      id->remote_user, len);
    }
}

static int send_image(request_rec *r, const char *type, const void *data, apr_size_t len, int cacheable)
{
    unsigned char digest[SHA256_DIGEST_LENGTH];
    const char *etag, *inm;

    SHA256(data, len, digest);
    etag = apr_psprintf(r->pool, "\"%02x%02x%02x%02x%02x%02x%02x%02x\"", digest[0], digest[1], digest[2],
                        digest[3], digest[4], digest[5], digest[6], digest[7]);
    ap_discard_request_body(r);
    /* the user's own data: never in shared caches; never run as a document. mod_session_cookie
     * adds "no-cache" to every response that loaded a session; this one sets no cookie. */
    apr_table_unset(r->headers_out, "Cache-Control");
    apr_table_setn(r->err_headers_out, "Cache-Control", cacheable ? "private, max-age=3600" : "private, no-cache");
    apr_table_setn(r->err_headers_out, "X-Content-Type-Options", "nosniff");
    apr_table_setn(r->err_headers_out, "Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; sandbox");
    apr_table_setn(r->err_headers_out, "ETag", etag);
    inm = apr_table_get(r->headers_in, "If-None-Match");
    if (inm && strstr(inm, etag)) {
        r->status = HTTP_NOT_MODIFIED;
        return DONE;
    }
    r->status = HTTP_OK;
    ap_set_content_type(r, type);
    ap_set_content_length(r, len);
    if (!r->header_only) {
        ap_rwrite(data, (int)len, r);
    }
    return DONE;
}

static int send_default(request_rec *r, const msoauth_dir_cfg_t *c)
{
    if (c->default_picture_url) {
        apr_table_setn(r->err_headers_out, "Cache-Control", "private, no-cache");
        apr_table_setn(r->headers_out, "Location", c->default_picture_url);
        return HTTP_MOVED_TEMPORARILY;
    }
    if (c->default_picture) {
        return send_image(r, c->default_picture_type, c->default_picture, c->default_picture_len, 0);
    }
    return send_image(r, "image/svg+xml", DEFAULT_AVATAR, sizeof(DEFAULT_AVATAR) - 1, 0);
}

int msoauth_photo_handle(request_rec *r, const msoauth_dir_cfg_t *c)
{
    msoauth_identity_t *id = NULL;
    unsigned char *entry;
    apr_size_t len = 0;
    const unsigned char *nl;
    int rc;

    if ((rc = msoauth_session_read(r, c, &id)) != OK) {
        return rc;
    }
    if (!id) {
        apr_table_setn(r->err_headers_out, "WWW-Authenticate", MSOAUTH_AUTH_TYPE);
        return msoauth_page_send(r, HTTP_UNAUTHORIZED, "Sign-in required",
                                 "Please sign in to see your picture.", NULL, NULL);
    }
    if (!id->has_photo
        || msoauth_cache_get(r, photo_key(r->pool, id), MSOAUTH_PHOTO_MAX + 64, &entry, &len) != APR_SUCCESS
        || !(nl = memchr(entry, '\n', len < 64 ? len : 64))) {
        return send_default(r, c);
    }
    return send_image(r, apr_pstrmemdup(r->pool, (const char *)entry, nl - entry), nl + 1,
                      len - (nl + 1 - entry), 1);
}
