/* Group membership for Require msoauth-group: which groups the configuration asks about, and
 * the user's groups from the token or, on a groups overage, from Microsoft Graph. No httpd types. */
#ifndef MSOAUTH_GROUPS_H
#define MSOAUTH_GROUPS_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <jansson.h>

#include "http.h"

/* Pages of /me/transitiveMemberOf read at most (Graph pages hold up to 100 entries by default). */
#define MSOAUTH_GROUP_PAGES_MAX 50

/* The registry of group ids named by Require msoauth-group lines, rebuilt with each
 * configuration pass (reset from pre_config; the list lives in the config pool). */
void msoauth_groups_wanted_reset(void);
void msoauth_groups_wanted_add(apr_pool_t *pconf, const char *group);
int msoauth_groups_any_wanted(void);

/* 1 when the id_token says its groups claim was left out for size (overage). */
int msoauth_groups_overage(const json_t *claims);

/* The wanted groups among the token's groups claim (lower-case ids). */
apr_array_header_t *msoauth_groups_from_claims(apr_pool_t *p, const json_t *claims);

/* The wanted groups among Graph's /me/transitiveMemberOf, following @odata.nextLink only when
 * it stays under graph_url. http: timeouts, CA, deadline. */
apr_status_t msoauth_groups_from_graph(apr_pool_t *p, const msoauth_http_req_t *http,
                                       const char *graph_url, const char *access_token,
                                       apr_array_header_t **out, const char **err);

#endif
