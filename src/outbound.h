/* What the module adds to or removes from the request a backend sees: header names and value
 * encodings for the identity, the reserved header namespace, and cookie stripping. Pure. */
#ifndef MSOAUTH_OUTBOUND_H
#define MSOAUTH_OUTBOUND_H

#include <apr_pools.h>

typedef enum {
    MSOAUTH_ENC_NONE = 0, /* UTF-8 bytes as they are */
    MSOAUTH_ENC_BASE64URL,
    MSOAUTH_ENC_LATIN1
} msoauth_header_enc_t;

/* A header value: control characters become spaces, then the encoding is applied. */
const char *msoauth_header_encode(apr_pool_t *p, const char *value, msoauth_header_enc_t enc);

/* "X-MSOAuth-Claim-" + the claim name with every character outside [A-Za-z0-9] as '-'. */
const char *msoauth_claim_header_name(apr_pool_t *p, const char *claim);

/* 1 for a header in the module's namespace, compared case-insensitively with '_' read as '-':
 * X-MSOAuth-*, X-MS-CLIENT-PRINCIPAL*, X-MS-TOKEN-*. Inbound ones are forgeries. */
int msoauth_header_is_reserved(const char *name);

/* The Cookie header without the cookies named in names (NULL-terminated) or starting with
 * prefix; NULL when nothing is left. Other cookies keep their order and spelling. */
const char *msoauth_cookies_without(apr_pool_t *p, const char *header, const char *const *names,
                                    const char *prefix);

/* 1 when the request is a top-level page navigation (a 302 to Microsoft makes sense);
 * 0 for XHR/fetch: X-Requested-With: XMLHttpRequest, Sec-Fetch-Mode other than navigate,
 * or an Accept header that takes neither text/html nor a wildcard. Any argument may be NULL. */
int msoauth_is_navigation(const char *x_requested_with, const char *sec_fetch_mode,
                          const char *accept);

/* HTML-escape for pages whose charset may not be UTF-8: markup characters as entities and
 * every non-ASCII character as a numeric character reference (invalid UTF-8 as U+FFFD). */
const char *msoauth_html_escape(apr_pool_t *p, const char *s);

#endif
