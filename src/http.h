/* All outgoing HTTP, through libcurl: TLS verified, no redirects, bounded in time and size.
 * No httpd types; the caller logs. */
#ifndef MSOAUTH_HTTP_H
#define MSOAUTH_HTTP_H

#include <apr_pools.h>
#include <apr_errno.h>
#include <apr_time.h>

#define MSOAUTH_HTTP_BODY_MAX (1024 * 1024)

typedef struct {
    const char *url;
    const char *form_body;   /* POST body when set (application/x-www-form-urlencoded), else GET */
    const char *content_type; /* of form_body when it is not a form (e.g. application/json) */
    const char *bearer;      /* Authorization: Bearer, when set */
    long connect_timeout;    /* seconds */
    long total_timeout;      /* seconds */
    const char *ca_file;     /* NULL: system CAs */
    apr_size_t max_body;     /* 0: MSOAUTH_HTTP_BODY_MAX */
    apr_time_t deadline;     /* when set, the whole exchange this call belongs to must end by then */
} msoauth_http_req_t;

typedef struct {
    long status;
    const char *body;        /* NUL-terminated */
    apr_size_t len;
} msoauth_http_resp_t;

/* Once per process, before threads (post_config). */
apr_status_t msoauth_http_global_init(void);

/* APR_SUCCESS whenever an HTTP response arrived (any status); otherwise a failure with the
 * reason (timeout, TLS, refused, too large) in err. */
apr_status_t msoauth_http_perform(apr_pool_t *p, const msoauth_http_req_t *req,
                                  msoauth_http_resp_t *resp, const char **err);

#endif
