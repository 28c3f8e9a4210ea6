/* URL checks for return targets and endpoints. */
#include <string.h>

#include <apr_strings.h>
#include <apr_uri.h>
#include <apr_lib.h>
#include <apr_escape.h>

#include "url.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The byte at s once one level of percent-decoding is applied; advances *s past it. */
static int next_decoded(const char **s)
{
    const char *q = *s;
    if (q[0] == '%' && hexval(q[1]) >= 0 && hexval(q[2]) >= 0) {
        *s = q + 3;
        return hexval(q[1]) * 16 + hexval(q[2]);
    }
    *s = q + 1;
    return (unsigned char)q[0];
}

int msoauth_url_is_local_path(const char *s)
{
    const char *q;
    int c1, c2;

    if (!s || s[0] != '/' || strlen(s) > MSOAUTH_RETURN_URL_MAX) {
        return 0;
    }
    for (q = s; *q; q++) {
        unsigned char c = (unsigned char)*q;
        /* '\' is read as '/' by browsers; controls (tab, CR, LF) are stripped by them. */
        if (c < 0x21 || c > 0x7e || c == '\\') {
            return 0;
        }
    }
    /* "//host" and "/\host" are network-path references; check them decoded too, for the
     * proxies and frameworks that decode once before redirecting. */
    q = s;
    c1 = next_decoded(&q);
    c2 = *q ? next_decoded(&q) : 0;
    if (c1 != '/' || c2 == '/' || c2 == '\\') {
        return 0;
    }
    /* Any encoded backslash or control character is refused outright. */
    for (q = s; *q;) {
        int c = next_decoded(&q);
        if (c == '\\' || c < 0x20 || c == 0x7f) {
            return 0;
        }
    }
    return 1;
}

static int is_loopback_host(const char *host)
{
    if (!strcasecmp(host, "localhost") || !strcmp(host, "::1")) {
        return 1;
    }
    if (!strncmp(host, "127.", 4)) {
        /* all digits and dots: a real IPv4 literal, not "127.evil.com" */
        return host[strspn(host, "0123456789.")] == '\0';
    }
    return 0;
}

apr_status_t msoauth_url_check_endpoint(apr_pool_t *p, const char *url, const char **err)
{
    apr_uri_t u;
    const char *q;

    for (q = url; *q; q++) {
        if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f) {
            *err = "URL contains white space, control or non-ASCII characters";
            return APR_EINVAL;
        }
    }
    if (apr_uri_parse(p, url, &u) != APR_SUCCESS || !u.scheme || !u.hostname || !*u.hostname) {
        *err = "not an absolute URL";
        return APR_EINVAL;
    }
    if (u.user || u.password || u.query || u.fragment) {
        *err = "URL must not contain user info, a query or a fragment";
        return APR_EINVAL;
    }
    if (!strcasecmp(u.scheme, "https")) {
        return APR_SUCCESS;
    }
    if (!strcasecmp(u.scheme, "http")) {
        if (is_loopback_host(u.hostname)) {
            return APR_SUCCESS;
        }
        *err = "plain http is allowed only for loopback hosts (127.0.0.1, ::1, localhost); use https";
        return APR_EINVAL;
    }
    *err = "only https URLs are allowed";
    return APR_EINVAL;
}

int msoauth_is_guid(const char *s)
{
    static const int dash_at[] = {8, 13, 18, 23};
    int i, d = 0;

    if (!s || strlen(s) != 36) {
        return 0;
    }
    for (i = 0; i < 36; i++) {
        if (d < 4 && i == dash_at[d]) {
            if (s[i] != '-') return 0;
            d++;
        }
        else if (!apr_isxdigit(s[i])) {
            return 0;
        }
    }
    return 1;
}

const char *msoauth_url_join(apr_pool_t *p, const char *base, const char *path)
{
    apr_size_t n = strlen(base);

    while (n > 0 && base[n - 1] == '/') {
        n--;
    }
    while (*path == '/') {
        path++;
    }
    return apr_pstrcat(p, apr_pstrmemdup(p, base, n), "/", path, NULL);
}

apr_status_t msoauth_query_parse(apr_pool_t *p, const char *query, apr_table_t **out,
                                 const char **err)
{
    apr_table_t *t = apr_table_make(p, 8);
    char *copy, *pair, *last = NULL;
    int n = 0;

    *out = t;
    if (!query) {
        return APR_SUCCESS;
    }
    copy = apr_pstrdup(p, query);
    for (pair = apr_strtok(copy, "&", &last); pair; pair = apr_strtok(NULL, "&", &last)) {
        char *eq = strchr(pair, '=');
        const char *k, *v;
        if (++n > 64) {
            *err = "more than 64 query parameters";
            return APR_EINVAL;
        }
        if (eq) {
            *eq = '\0';
        }
        k = apr_punescape_url(p, pair, NULL, NULL, 1);
        v = eq ? apr_punescape_url(p, eq + 1, NULL, NULL, 1) : "";
        if (!k || !v) {
            *err = "malformed percent-escape in the query";
            return APR_EINVAL;
        }
        if (apr_table_get(t, k)) {
            *err = apr_psprintf(p, "query parameter '%s' given twice", k);
            return APR_EINVAL;
        }
        apr_table_setn(t, k, v);
    }
    return APR_SUCCESS;
}
