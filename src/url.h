/* URL checks: where the module may send a browser, and which endpoints it may call. Pure. */
#ifndef MSOAUTH_URL_H
#define MSOAUTH_URL_H

#include <apr_pools.h>
#include <apr_errno.h>
#include <apr_tables.h>

/* Longest return URL a pending login keeps (longer ones fall back to the path alone). */
#define MSOAUTH_RETURN_URL_MAX 2048

/* 1 when s is a path on this server that is safe to put in a Location header: starts with one
 * '/', no scheme, no host, no "//" or "/\" at the start (also once percent-decoded), no '\',
 * no control character, no byte outside printable ASCII. */
int msoauth_url_is_local_path(const char *s);

/* An endpoint the module may call or send a browser to: https, or http for loopback hosts only
 * (127.0.0.0/8, ::1, localhost); no user info, query or fragment. */
apr_status_t msoauth_url_check_endpoint(apr_pool_t *p, const char *url, const char **err);

/* 1 for 8-4-4-4-12 hexadecimal GUIDs. */
int msoauth_is_guid(const char *s);

/* A query string (form-urlencoded: '+' is a space) into a table. Refuses malformed escapes,
 * more than 64 parameters, and any name given twice (which value would count is ambiguous). */
apr_status_t msoauth_query_parse(apr_pool_t *p, const char *query, apr_table_t **out,
                                 const char **err);

/* "a" + "/" + "b" without doubled or missing slashes. */
const char *msoauth_url_join(apr_pool_t *p, const char *base, const char *path);

#endif
