/* Graph profile at sign-in, batched. */
#include <string.h>

#include <apr_strings.h>
#include <apr_encode.h>
#include <apr_lib.h>

#include "profile.h"
#include "json.h"

int msoauth_scope_grants_mailbox(const char *scope)
{
    const char *q = scope;

    while (q && (q = strcasestr(q, "MailboxSettings.Read")) != NULL) {
        if (q == scope || q[-1] == ' ' || q[-1] == '/') {
            return 1;
        }
        q++;
    }
    return 0;
}

static const char *header_of(const json_t *resp, const char *name)
{
    const json_t *headers = json_object_get(resp, "headers");
    const char *key;
    const json_t *v;

    json_object_foreach((json_t *)headers, key, v) {
        if (!strcasecmp(key, name) && json_is_string(v)) {
            return json_string_value(v);
        }
    }
    return NULL;
}

/* Only image types a browser renders as images, never markup (a photo is served back). */
static const char *image_type(apr_pool_t *p, const char *ct)
{
    static const char *const ok[] = {"image/jpeg", "image/png", "image/gif", "image/webp", NULL};
    int i;

    for (i = 0; ct && ok[i]; i++) {
        apr_size_t n = strlen(ok[i]);
        if (!strncasecmp(ct, ok[i], n) && (ct[n] == '\0' || ct[n] == ';')) {
            return ok[i];
        }
    }
    (void)p;
    return NULL;
}

static void take_photo(apr_pool_t *p, const json_t *resp, long status, msoauth_profile_t *out)
{
    const json_t *body = json_object_get(resp, "body");
    const unsigned char *raw;
    apr_size_t len = 0;

    if (status == 404) {
        out->photo_missing = 1;
        return;
    }
    if (status != 200 || !json_is_string(body)) {
        out->photo_error = apr_psprintf(p, "photo: HTTP %ld", status);
        return;
    }
    if (!(out->photo_type = image_type(p, header_of(resp, "Content-Type")))) {
        out->photo_error = "photo: not a JPEG, PNG, GIF or WebP image";
        return;
    }
    if (json_string_length(body) > MSOAUTH_PHOTO_MAX * 4 / 3 + 8
        || !(raw = apr_pdecode_base64_binary(p, json_string_value(body), json_string_length(body),
                                             APR_ENCODE_NONE, &len))
        || len > MSOAUTH_PHOTO_MAX || len == 0) {
        out->photo_type = NULL;
        out->photo_error = apr_psprintf(p, "photo: unreadable or larger than %d bytes", MSOAUTH_PHOTO_MAX);
        return;
    }
    out->photo = raw;
    out->photo_len = len;
}

apr_status_t msoauth_profile_parse_batch(apr_pool_t *p, const char *body, apr_size_t len,
                                         msoauth_profile_t *out, const char **err)
{
    json_t *doc = msoauth_json_load(p, body, len, MSOAUTH_HTTP_BODY_MAX * 2, err);
    const json_t *responses, *resp;
    size_t i;

    if (!doc) {
        return APR_EINVAL;
    }
    responses = json_object_get(doc, "responses");
    if (!json_is_array(responses)) {
        *err = "$batch answer has no responses";
        return APR_EINVAL;
    }
    json_array_foreach(responses, i, resp) {
        const char *id = msoauth_json_str(resp, "id");
        const json_t *st = json_object_get(resp, "status");
        long status = json_is_integer(st) ? (long)json_integer_value(st) : 0;
        const json_t *b = json_object_get(resp, "body");
        if (!id) {
            continue;
        }
        if (!strcmp(id, "me")) {
            if (status == 200 && json_is_object(b)) out->me = (json_t *)b;
            else out->me_error = apr_psprintf(p, "/me: HTTP %ld", status);
        }
        else if (!strcmp(id, "tz")) {
            const char *v = json_is_object(b) ? msoauth_json_str(b, "value") : NULL;
            if (status == 200 && v) out->timezone = v;
            else out->timezone_error = apr_psprintf(p, "mailboxSettings/timeZone: HTTP %ld", status);
        }
        else if (!strcmp(id, "photo")) {
            take_photo(p, resp, status, out);
        }
    }
    if (!out->me && !out->me_error) {
        out->me_error = "/me missing from the $batch answer";
    }
    return APR_SUCCESS;
}

/* Plain GET /me, when $batch is not available. */
static void fetch_me(apr_pool_t *p, const msoauth_http_req_t *http, const char *graph_url,
                     const char *token, msoauth_profile_t *out)
{
    msoauth_http_req_t req = *http;
    msoauth_http_resp_t resp;
    const char *err = NULL;

    req.url = apr_pstrcat(p, graph_url, "/me?$select=" MSOAUTH_ME_SELECT, NULL);
    req.bearer = token;
    req.form_body = NULL;
    req.max_body = 256 * 1024;
    if (msoauth_http_perform(p, &req, &resp, &err) != APR_SUCCESS) {
        out->me_error = err;
    }
    else if (resp.status != 200) {
        out->me_error = apr_psprintf(p, "%s answered HTTP %ld", req.url, resp.status);
    }
    else if (!(out->me = msoauth_json_load(p, resp.body, resp.len, 256 * 1024, &err))) {
        out->me_error = err;
    }
}

void msoauth_profile_fetch(apr_pool_t *p, const msoauth_http_req_t *http, const char *graph_url,
                           const char *access_token, int want_tz, int want_photo,
                           msoauth_profile_t *out)
{
    msoauth_http_req_t req = *http;
    msoauth_http_resp_t resp;
    const char *err = NULL;
    json_t *requests, *batch;

    memset(out, 0, sizeof(*out));
    if (!want_tz && !want_photo) {
        fetch_me(p, http, graph_url, access_token, out);
        return;
    }
    requests = json_array();
    json_array_append_new(requests, json_pack("{s:s, s:s, s:s}", "id", "me", "method", "GET", "url",
                                              "/me?$select=" MSOAUTH_ME_SELECT));
    if (want_tz) {
        json_array_append_new(requests, json_pack("{s:s, s:s, s:s}", "id", "tz", "method", "GET", "url",
                                                  "/me/mailboxSettings/timeZone"));
    }
    if (want_photo) {
        json_array_append_new(requests, json_pack("{s:s, s:s, s:s}", "id", "photo", "method", "GET", "url",
                                                  "/me/photo/$value"));
    }
    batch = msoauth_json_own(p, json_pack("{s:o}", "requests", requests));
    req.url = apr_pstrcat(p, graph_url, "/$batch", NULL);
    req.form_body = msoauth_json_dump(p, batch);
    req.content_type = "application/json";
    req.bearer = access_token;
    req.max_body = MSOAUTH_HTTP_BODY_MAX * 2;
    if (msoauth_http_perform(p, &req, &resp, &err) == APR_SUCCESS && resp.status == 200
        && msoauth_profile_parse_batch(p, resp.body, resp.len, out, &err) == APR_SUCCESS) {
        return;
    }
    /* $batch unavailable: the profile itself still matters, the extras do not */
    memset(out, 0, sizeof(*out));
    out->timezone_error = out->photo_error = apr_psprintf(
        p, "$batch failed (%s)", err ? err : apr_psprintf(p, "HTTP %ld", resp.status));
    fetch_me(p, http, graph_url, access_token, out);
}
