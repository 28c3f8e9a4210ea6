/* The App Service client principal. */
#include <string.h>

#include <apr_strings.h>
#include <apr_encode.h>
#include <jansson.h>

#include "easyauth.h"
#include "json.h"

typedef struct {
    json_t *claims;
    const apr_table_t *lists;
} collect_t;

static void add(json_t *claims, const char *typ, const char *val)
{
    json_array_append_new(claims, json_pack("{s:s, s:s}", "typ", typ, "val", val));
}

static int add_claim(void *data, const char *key, const char *value)
{
    collect_t *c = data;
    if (!apr_table_get(c->lists, key)) {
        add(c->claims, key, value);
    }
    return 1;
}

static int add_list_item(void *data, const char *key, const char *value)
{
    add(((collect_t *)data)->claims, key, value);
    return 1;
}

static int add_role(void *data, const char *key, const char *value)
{
    (void)key;
    add(data, MSOAUTH_EASYAUTH_ROLE_TYP, value);
    return 1;
}

const char *msoauth_easyauth_principal(apr_pool_t *p, const msoauth_identity_t *id)
{
    json_t *claims = json_array();
    json_t *principal;
    collect_t c = {claims, id->claim_lists ? id->claim_lists : apr_table_make(p, 1)};
    const char *upn = apr_table_get(id->claims, "preferred_username"), *text;

    apr_table_do(add_claim, &c, id->claims, NULL);
    apr_table_do(add_list_item, &c, c.lists, NULL);
    if (upn) {
        add(claims, MSOAUTH_EASYAUTH_NAME_TYP, upn);
    }
    if (apr_table_get(c.lists, "roles")) {
        apr_table_do(add_role, claims, c.lists, "roles", NULL);
    }
    else if (apr_table_get(id->claims, "roles") && *apr_table_get(id->claims, "roles")) {
        add(claims, MSOAUTH_EASYAUTH_ROLE_TYP, apr_table_get(id->claims, "roles"));
    }
    principal = msoauth_json_own(p, json_pack("{s:s, s:o, s:s, s:s}", "auth_typ", "aad", "claims", claims,
                                              "name_typ", MSOAUTH_EASYAUTH_NAME_TYP, "role_typ",
                                              MSOAUTH_EASYAUTH_ROLE_TYP));
    if (!principal) {
        return NULL;
    }
    text = msoauth_json_dump(p, principal);
    return apr_pencode_base64(p, text, APR_ENCODE_STRING, APR_ENCODE_NONE, NULL);
}
