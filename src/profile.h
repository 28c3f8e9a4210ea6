/* The user's Microsoft Graph profile, read once at sign-in: /me (selected fields), and where
 * asked the mailbox time zone and the photo, in one $batch round trip. No httpd types. */
#ifndef MSOAUTH_PROFILE_H
#define MSOAUTH_PROFILE_H

#include <apr_pools.h>
#include <apr_errno.h>
#include <jansson.h>

#include "http.h"

#define MSOAUTH_PHOTO_MAX (160 * 1024)
#define MSOAUTH_ME_SELECT "id,displayName,givenName,surname,mail,userPrincipalName,preferredLanguage"

typedef struct {
    json_t *me;                 /* NULL when /me failed */
    const char *me_error;
    const char *timezone;       /* as Graph gives it (Windows or IANA name), NULL when not read */
    const char *timezone_error;
    const unsigned char *photo; /* NULL when none */
    apr_size_t photo_len;
    const char *photo_type;     /* image/jpeg, image/png, image/gif or image/webp */
    int photo_missing;          /* Graph said 404: the user has no photo */
    const char *photo_error;
} msoauth_profile_t;

/* want_tz: also read /me/mailboxSettings/timeZone; want_photo: also /me/photo/$value.
 * Never fails as a whole: each part records its own error. */
void msoauth_profile_fetch(apr_pool_t *p, const msoauth_http_req_t *http, const char *graph_url,
                           const char *access_token, int want_tz, int want_photo,
                           msoauth_profile_t *out);

/* Parse a $batch response into out (exposed for unit tests). */
apr_status_t msoauth_profile_parse_batch(apr_pool_t *p, const char *body, apr_size_t len,
                                         msoauth_profile_t *out, const char **err);

/* 1 when the granted scope string holds MailboxSettings.Read (or ReadWrite). */
int msoauth_scope_grants_mailbox(const char *scope);

#endif
