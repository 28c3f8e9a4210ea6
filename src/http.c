/* libcurl wrapper. */
#include <string.h>

#include <apr_strings.h>
#include <apr_tables.h>
#include <curl/curl.h>

#include "http.h"

typedef struct {
    apr_pool_t *p;
    apr_array_header_t *chunks; /* struct iovec-like: collected, flattened once */
    apr_size_t total;
    apr_size_t max;
    int too_large;
} collector_t;

typedef struct {
    const char *data;
    apr_size_t len;
} chunk_t;

apr_status_t msoauth_http_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? APR_SUCCESS : APR_EGENERAL;
}

static size_t collect(char *data, size_t size, size_t n, void *ctx)
{
    collector_t *c = ctx;
    size_t len = size * n;
    chunk_t *ch;

    if (c->total + len > c->max) {
        c->too_large = 1;
        return 0; /* makes curl abort with CURLE_WRITE_ERROR */
    }
    ch = apr_array_push(c->chunks);
    ch->data = apr_pmemdup(c->p, data, len);
    ch->len = len;
    c->total += len;
    return len;
}

static apr_status_t easy_cleanup(void *h)
{
    curl_easy_cleanup(h);
    return APR_SUCCESS;
}

static apr_status_t slist_cleanup(void *l)
{
    curl_slist_free_all(l);
    return APR_SUCCESS;
}

apr_status_t msoauth_http_perform(apr_pool_t *p, const msoauth_http_req_t *req,
                                  msoauth_http_resp_t *resp, const char **err)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    collector_t c = {p, apr_array_make(p, 8, sizeof(chunk_t)), 0, 0, 0};
    struct curl_slist *headers = NULL;
    CURL *h = curl_easy_init();
    CURLcode rc;
    char *body, *w;
    int i;

    long total_ms = req->total_timeout * 1000, connect_ms = req->connect_timeout * 1000;

    memset(resp, 0, sizeof(*resp));
    /* One time budget for a whole sign-in, however many calls it takes. */
    if (req->deadline) {
        apr_time_t left = req->deadline - apr_time_now();
        if (left < apr_time_from_msec(50)) {
            *err = apr_psprintf(p, "request to %s not made: MSOAuthHTTPTimeout budget used up", req->url);
            return APR_TIMEUP;
        }
        if (apr_time_as_msec(left) < total_ms) {
            total_ms = (long)apr_time_as_msec(left);
        }
    }
    if (connect_ms > total_ms) {
        connect_ms = total_ms;
    }
    if (!h) {
        *err = "curl_easy_init failed";
        return APR_ENOMEM;
    }
    apr_pool_cleanup_register(p, h, easy_cleanup, apr_pool_cleanup_null);
    c.max = req->max_body ? req->max_body : MSOAUTH_HTTP_BODY_MAX;

    headers = curl_slist_append(headers, "Accept: application/json");
    if (req->bearer) {
        headers = curl_slist_append(headers, apr_pstrcat(p, "Authorization: Bearer ", req->bearer, NULL));
    }
    if (req->form_body) {
        headers = curl_slist_append(headers, apr_pstrcat(p, "Content-Type: ",
                                                         req->content_type ? req->content_type
                                                                           : "application/x-www-form-urlencoded",
                                                         NULL));
    }
    if (headers) {
        apr_pool_cleanup_register(p, headers, slist_cleanup, apr_pool_cleanup_null);
    }

    curl_easy_setopt(h, CURLOPT_URL, req->url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, total_ms);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "mod_auth_msoauth/0.1");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &c);
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c.max);
    if (req->ca_file) {
        curl_easy_setopt(h, CURLOPT_CAINFO, req->ca_file);
    }
    if (req->form_body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->form_body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(req->form_body));
    }

    rc = curl_easy_perform(h);
    if (rc != CURLE_OK) {
        if (c.too_large || rc == CURLE_FILESIZE_EXCEEDED) {
            *err = apr_psprintf(p, "response from %s larger than %" APR_SIZE_T_FMT " bytes",
                                req->url, c.max);
            return APR_ENOSPC;
        }
        *err = apr_psprintf(p, "request to %s failed: %s", req->url,
                            errbuf[0] ? errbuf : curl_easy_strerror(rc));
        return rc == CURLE_OPERATION_TIMEDOUT ? APR_TIMEUP : APR_EGENERAL;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);

    body = w = apr_palloc(p, c.total + 1);
    for (i = 0; i < c.chunks->nelts; i++) {
        const chunk_t *ch = &APR_ARRAY_IDX(c.chunks, i, chunk_t);
        memcpy(w, ch->data, ch->len);
        w += ch->len;
    }
    *w = '\0';
    resp->body = body;
    resp->len = c.total;
    return APR_SUCCESS;
}
