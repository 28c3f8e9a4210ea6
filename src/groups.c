/* Group resolution for Require msoauth-group. Only groups some rule names are kept, so the
 * session stays small even for users in hundreds of groups. */
#include <string.h>

#include <apr_strings.h>
#include <apr_lib.h>

#include "groups.h"
#include "json.h"
#include "url.h"

static apr_array_header_t *wanted;

static void lower(char *s)
{
    for (; *s; s++) {
        *s = (char)apr_tolower(*s);
    }
}

void msoauth_groups_wanted_reset(void)
{
    wanted = NULL;
}

void msoauth_groups_wanted_add(apr_pool_t *pconf, const char *group)
{
    char *g;

    if (!wanted) {
        wanted = apr_array_make(pconf, 8, sizeof(const char *));
    }
    g = apr_pstrdup(pconf, group);
    lower(g);
    *(const char **)apr_array_push(wanted) = g;
}

int msoauth_groups_any_wanted(void)
{
    return wanted && wanted->nelts > 0;
}

static int is_wanted(const char *id)
{
    int i;
    for (i = 0; wanted && i < wanted->nelts; i++) {
        if (!strcasecmp(APR_ARRAY_IDX(wanted, i, const char *), id)) {
            return 1;
        }
    }
    return 0;
}

static void keep_if_wanted(apr_pool_t *p, apr_array_header_t *out, const char *id)
{
    int i;
    char *g;

    if (!id || !is_wanted(id)) {
        return;
    }
    for (i = 0; i < out->nelts; i++) {
        if (!strcasecmp(APR_ARRAY_IDX(out, i, const char *), id)) {
            return;
        }
    }
    g = apr_pstrdup(p, id);
    lower(g);
    *(const char **)apr_array_push(out) = g;
}

int msoauth_groups_overage(const json_t *claims)
{
    const json_t *names = json_object_get(claims, "_claim_names");
    return (json_is_object(names) && json_object_get(names, "groups"))
           || json_is_true(json_object_get(claims, "hasgroups"));
}

apr_array_header_t *msoauth_groups_from_claims(apr_pool_t *p, const json_t *claims)
{
    apr_array_header_t *out = apr_array_make(p, 4, sizeof(const char *));
    const json_t *groups = json_object_get(claims, "groups"), *g;
    size_t i;

    json_array_foreach(groups, i, g) {
        keep_if_wanted(p, out, json_string_value(g));
    }
    return out;
}

apr_status_t msoauth_groups_from_graph(apr_pool_t *p, const msoauth_http_req_t *http,
                                       const char *graph_url, const char *access_token,
                                       apr_array_header_t **out, const char **err)
{
    msoauth_http_req_t req = *http;
    const char *url = apr_pstrcat(p, graph_url, "/me/transitiveMemberOf?$select=id", NULL);
    const char *prefix = apr_pstrcat(p, graph_url, "/", NULL);
    int page;

    *out = apr_array_make(p, 4, sizeof(const char *));
    req.bearer = access_token;
    req.form_body = NULL;
    req.max_body = MSOAUTH_HTTP_BODY_MAX;
    for (page = 0; url && page < MSOAUTH_GROUP_PAGES_MAX; page++) {
        msoauth_http_resp_t resp;
        const json_t *value, *e;
        json_t *doc;
        const char *next;
        size_t i;

        req.url = url;
        if (msoauth_http_perform(p, &req, &resp, err) != APR_SUCCESS) {
            return APR_EGENERAL;
        }
        if (resp.status != 200) {
            *err = apr_psprintf(p, "%s answered HTTP %ld", url, resp.status);
            return APR_EGENERAL;
        }
        if (!(doc = msoauth_json_load(p, resp.body, resp.len, MSOAUTH_HTTP_BODY_MAX, err))) {
            return APR_EGENERAL;
        }
        value = json_object_get(doc, "value");
        json_array_foreach(value, i, e) {
            keep_if_wanted(p, *out, msoauth_json_str(e, "id"));
        }
        next = msoauth_json_str(doc, "@odata.nextLink");
        if (next && strncmp(next, prefix, strlen(prefix))) {
            *err = apr_psprintf(p, "@odata.nextLink leaves %s: not followed", graph_url);
            return APR_EGENERAL;
        }
        url = next;
    }
    if (url) {
        *err = apr_psprintf(p, "more than %d pages of groups", MSOAUTH_GROUP_PAGES_MAX);
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}
