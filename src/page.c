/* The module's own responses: short HTML pages that escape everything they echo, and the
 * headers every such response carries. */
#include <string.h>

#include <apr_strings.h>
#include <http_protocol.h>
#include <util_script.h>

#include "msoauth.h"

void msoauth_no_store(request_rec *r)
{
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->err_headers_out, "Pragma", "no-cache");
    apr_table_setn(r->err_headers_out, "Referrer-Policy", "no-referrer");
    apr_table_setn(r->err_headers_out, "X-Content-Type-Options", "nosniff");
}

const char *msoauth_log_trunc(apr_pool_t *p, const char *s, apr_size_t n)
{
    char *out, *q;

    if (!s) {
        return "(none)";
    }
    out = apr_pstrndup(p, s, n);
    for (q = out; *q; q++) {
        if ((unsigned char)*q < 0x20 || (unsigned char)*q >= 0x7f) {
            *q = '?';
        }
    }
    return strlen(s) > n ? apr_pstrcat(p, out, "...", NULL) : out;
}

int msoauth_page_send(request_rec *r, int status, const char *title, const char *message,
                      const char *detail, const char *retry)
{
    return msoauth_page_send_link(r, status, title, message, detail, retry, "Sign in again");
}

int msoauth_page_send_link(request_rec *r, int status, const char *title, const char *message,
                           const char *detail, const char *link, const char *label)
{
    const char *t = ap_escape_html2(r->pool, title, 1);
    const char *body = apr_pstrcat(
        r->pool,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"robots\" content=\"noindex\"><title>", t, "</title></head>\n<body>\n<h1>", t,
        "</h1>\n<p>", ap_escape_html2(r->pool, message, 1), "</p>\n",
        detail ? apr_pstrcat(r->pool, "<p><small>", ap_escape_html2(r->pool, detail, 1),
                             "</small></p>\n", NULL) : "",
        link ? apr_pstrcat(r->pool, "<p><a href=\"", ap_escape_html2(r->pool, link, 1), "\">",
                           ap_escape_html2(r->pool, label, 1), "</a></p>\n", NULL) : "",
        "</body></html>\n", NULL);

    ap_discard_request_body(r);
    msoauth_no_store(r);
    r->status = status;
    ap_set_content_type(r, "text/html; charset=utf-8");
    ap_set_content_length(r, strlen(body));
    if (!r->header_only) {
        ap_rputs(body, r);
    }
    /* The page is the whole response: the protected handler never runs. */
    return DONE;
}
