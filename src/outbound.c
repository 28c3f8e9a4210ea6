/* Header values and names, the reserved namespace, cookie stripping, navigation detection,
 * and HTML escaping. */
#include <string.h>

#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_tables.h>

#include "outbound.h"
#include "random.h"

/* Decode one UTF-8 sequence at s; returns its length (0 at the end) and the code point, or
 * -1 as code point for an invalid sequence (length 1). Overlongs and surrogates are invalid. */
static int utf8_next(const unsigned char *s, long *cp)
{
    int n, i;
    long v;

    if (!s[0]) {
        return 0;
    }
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if ((s[0] & 0xe0) == 0xc0) { n = 2; v = s[0] & 0x1f; }
    else if ((s[0] & 0xf0) == 0xe0) { n = 3; v = s[0] & 0x0f; }
    else if ((s[0] & 0xf8) == 0xf0) { n = 4; v = s[0] & 0x07; }
    else { *cp = -1; return 1; }
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            *cp = -1;
            return 1;
        }
        v = (v << 6) | (s[i] & 0x3f);
    }
    if ((n == 2 && v < 0x80) || (n == 3 && v < 0x800) || (n == 4 && v < 0x10000) || v > 0x10ffff
        || (v >= 0xd800 && v <= 0xdfff)) {
        *cp = -1;
        return 1;
    }
    *cp = v;
    return n;
}

static char *cleaned(apr_pool_t *p, const char *value)
{
    char *v = apr_pstrdup(p, value ? value : ""), *q;
    for (q = v; *q; q++) {
        if ((unsigned char)*q < 0x20 || *q == 0x7f) {
            *q = ' ';
        }
    }
    return v;
}

const char *msoauth_header_encode(apr_pool_t *p, const char *value, msoauth_header_enc_t enc)
{
    char *v = cleaned(p, value), *out, *w;
    const unsigned char *s;
    long cp;
    int n;

    switch (enc) {
    case MSOAUTH_ENC_BASE64URL:
        return msoauth_b64url_encode(p, v, strlen(v));
    case MSOAUTH_ENC_LATIN1:
        out = w = apr_palloc(p, strlen(v) + 1);
        for (s = (const unsigned char *)v; (n = utf8_next(s, &cp)) > 0; s += n) {
            /* C1 controls (U+0080..U+009F) are controls in Latin-1 too */
            *w++ = cp >= 0 && cp <= 0xff && !(cp >= 0x80 && cp <= 0x9f) ? (char)cp : '?';
        }
        *w = '\0';
        return out;
    default:
        return v;
    }
}

const char *msoauth_claim_header_name(apr_pool_t *p, const char *claim)
{
    char *name = apr_pstrcat(p, "X-MSOAuth-Claim-", claim, NULL);
    char *q;

    for (q = name + strlen("X-MSOAuth-Claim-"); *q; q++) {
        if (!apr_isalnum(*q)) {
            *q = '-';
        }
    }
    return name;
}

/* prefix match, case-insensitive, '_' and '-' alike */
static int has_prefix(const char *name, const char *prefix)
{
    for (; *prefix; name++, prefix++) {
        char c = (char)apr_tolower(*name);
        if (c == '_') {
            c = '-';
        }
        if (c != *prefix) {
            return 0;
        }
    }
    return 1;
}

int msoauth_header_is_reserved(const char *name)
{
    return has_prefix(name, "x-msoauth-") || has_prefix(name, "x-ms-client-principal")
           || has_prefix(name, "x-ms-token-");
}

const char *msoauth_cookies_without(apr_pool_t *p, const char *header, const char *const *names,
                                    const char *prefix)
{
    /* httpd joins repeated Cookie headers with ", ", and mod_session_cookie reads ',' as a
     * separator too: split on both, and keep each kept piece with its own separator so the
     * application's cookies arrive byte for byte. */
    char *out = apr_palloc(p, strlen(header) + 1), *w = out;
    const char *seg = header;
    char pending_sep = 0;

    while (*seg) {
        apr_size_t len = strcspn(seg, ";,"), n;
        const char *name = seg, *const *nm;
        int ours = 0;

        while (name < seg + len && (*name == ' ' || *name == '\t')) {
            name++;
        }
        n = strcspn(name, "=;,");
        for (nm = names; nm && *nm && !ours; nm++) {
            ours = strlen(*nm) == n && !strncmp(name, *nm, n);
        }
        if (prefix && !strncmp(name, prefix, strlen(prefix)) && n >= strlen(prefix)) {
            ours = 1;
        }
        if (!ours && name < seg + len) {
            if (w != out) {
                *w++ = pending_sep;
                memcpy(w, seg, len);
                w += len;
            }
            else {
                memcpy(w, name, len - (name - seg));
                w += len - (name - seg);
            }
        }
        seg += len;
        if (*seg) {
            if (w != out) {
                pending_sep = *seg;
            }
            seg++;
        }
    }
    *w = '\0';
    return w == out ? NULL : out;
}

/* 1 when the Accept header takes text/html, text/(any) or (any)/(any) */
static int accepts_html(const char *accept)
{
    const char *q = accept;

    while (*q) {
        apr_size_t n;
        while (*q == ' ' || *q == '\t' || *q == ',') {
            q++;
        }
        n = strcspn(q, ",;");
        /* optional white space before a parameter or the next range */
        while (n > 0 && (q[n - 1] == ' ' || q[n - 1] == '\t')) {
            n--;
        }
        if ((n == 9 && !strncasecmp(q, "text/html", 9)) || (n == 6 && !strncasecmp(q, "text/*", 6))
            || (n == 3 && !strncmp(q, "*/*", 3))) {
            return 1;
        }
        q += strcspn(q, ",");
    }
    return 0;
}

int msoauth_is_navigation(const char *x_requested_with, const char *sec_fetch_mode,
                          const char *accept)
{
    if (x_requested_with && !strcasecmp(x_requested_with, "XMLHttpRequest")) {
        return 0;
    }
    if (sec_fetch_mode && *sec_fetch_mode && strcasecmp(sec_fetch_mode, "navigate")) {
        return 0;
    }
    if (accept && *accept && !accepts_html(accept)) {
        return 0;
    }
    return 1;
}

const char *msoauth_html_escape(apr_pool_t *p, const char *s)
{
    apr_array_header_t *parts;
    const unsigned char *q;
    long cp;
    int n;

    if (!s) {
        return "";
    }
    parts = apr_array_make(p, 16, sizeof(const char *));
    for (q = (const unsigned char *)s; (n = utf8_next(q, &cp)) > 0; q += n) {
        const char *piece;
        switch (cp) {
        case '<': piece = "&lt;"; break;
        case '>': piece = "&gt;"; break;
        case '&': piece = "&amp;"; break;
        case '"': piece = "&quot;"; break;
        case '\'': piece = "&#39;"; break;
        default:
            if (cp < 0) piece = "&#xFFFD;";
            else if (cp < 0x20 || cp == 0x7f) piece = " ";
            else if (cp < 0x80) piece = apr_pstrndup(p, (const char *)q, 1);
            else piece = apr_psprintf(p, "&#x%lX;", cp);
        }
        *(const char **)apr_array_push(parts) = piece;
    }
    return apr_array_pstrcat(p, parts, 0);
}
