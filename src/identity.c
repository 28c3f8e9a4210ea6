/* Identity: profile rules, and the session payload format. */
#include <string.h>

#include <apr_strings.h>
#include <apr_escape.h>
#include <apr_lib.h>

#include "identity.h"
#include "json.h"

#define PAYLOAD_VERSION "1"

/* One pass, no allocation: the payload is parsed on every request. The result is never longer
 * than its input, so apr_unescape_url can write over it. NULL on a malformed escape. */
static char *unescape_in_place(char *s)
{
    apr_size_t len;
    apr_status_t rv;

    if (!strpbrk(s, "%+")) {
        return s; /* most values (ids, GUIDs, times) need nothing */
    }
    rv = apr_unescape_url(s, s, APR_ESCAPE_STRING, NULL, NULL, 1, &len);
    return rv == APR_SUCCESS || rv == APR_NOTFOUND ? s : NULL;
}

static void clean_in_place(char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f) {
            *s = ' ';
        }
    }
}

const char *msoauth_value_clean(apr_pool_t *p, const char *s)
{
    char *out, *q;

    if (!s) {
        return "";
    }
    out = apr_pstrdup(p, s);
    for (q = out; *q; q++) {
        if ((unsigned char)*q < 0x20 || *q == 0x7f) {
            *q = ' ';
        }
    }
    return out;
}

const char *msoauth_name_normalize(apr_pool_t *p, const char *s)
{
    char *out, *w;
    const char *q;
    int space = 0;

    if (!s) {
        return "";
    }
    out = w = apr_palloc(p, strlen(s) + 1);
    for (q = s; *q; q++) {
        unsigned char c = (unsigned char)*q;
        if (c <= 0x20 || c == 0x7f) {
            space = (w != out);
            continue;
        }
        if (space) {
            *w++ = ' ';
            space = 0;
        }
        *w++ = (char)c;
    }
    *w = '\0';
    return out;
}

const char *msoauth_username_from_name(apr_pool_t *p, const char *name)
{
    char *out, *w;

    if (!name) {
        return "";
    }
    out = w = apr_palloc(p, strlen(name) + 1);
    for (; *name; name++) {
        char c = *name;
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')) {
            *w++ = c;
        }
        else if (c >= 'A' && c <= 'Z') {
            *w++ = (char)(c - 'A' + 'a');
        }
    }
    *w = '\0';
    return out;
}

const char *msoauth_claim_env_name(apr_pool_t *p, const char *claim)
{
    char *out = apr_pstrdup(p, claim), *q;

    for (q = out; *q; q++) {
        if (!apr_isalnum(*q) && *q != '_') {
            *q = '_';
        }
    }
    return out;
}

const char *msoauth_identity_account_type(const msoauth_identity_t *id)
{
    return id->tenant_id && !strcasecmp(id->tenant_id, MSOAUTH_PERSONAL_TENANT) ? "personal"
                                                                                 : "work";
}

/* The first of the candidates that is a non-empty string. */
static const char *first_str(const char *a, const char *b)
{
    return a && *a ? a : (b && *b ? b : NULL);
}

static const char *if_email(const char *s)
{
    return s && strchr(s, '@') ? s : NULL;
}

#define TEXT(obj, key) msoauth_json_text(p, obj, key)

/* Only what Microsoft vouches for: a domain-verified address (xms_edov), or the sign-in
 * address of a personal account. */
static int email_verified(const json_t *claims, const msoauth_identity_t *id)
{
    const json_t *edov = json_object_get(claims, "xms_edov");
    const char *upn = msoauth_json_str(claims, "preferred_username");

    if (!*id->email) {
        return 0;
    }
    if (json_is_true(edov) || (json_is_integer(edov) && json_integer_value(edov) == 1)
        || (json_is_string(edov) && (!strcmp(json_string_value(edov), "1")
                                     || !strcasecmp(json_string_value(edov), "true")))) {
        return 1;
    }
    return !strcmp(msoauth_identity_account_type(id), "personal") && upn && !strcasecmp(upn, id->email);
}

apr_status_t msoauth_identity_build(apr_pool_t *p, const json_t *claims, const json_t *graph,
                                    const char *remote_user_claim, apr_int64_t now,
                                    msoauth_identity_t **out, const char **dropped,
                                    const char **err)
{
    msoauth_identity_t *id = apr_pcalloc(p, sizeof(*id));
    const json_t *ru = json_object_get(claims, remote_user_claim);
    const char *ru_text, *email, *key, *full;
    const json_t *value;
    const char *skipped = NULL;

    *out = NULL;
    *dropped = NULL;
    ru_text = ru && !json_is_object(ru) && !json_is_array(ru) ? msoauth_json_flatten(p, ru) : NULL;
    if (!ru_text || !*ru_text) {
        *err = apr_psprintf(p, "claim '%s' (MSOAuthRemoteUserClaim) is missing or empty in the id_token",
                            remote_user_claim);
        return APR_EINVAL;
    }
    id->login_time = now;
    id->last_seen = now;
    id->token_handle = "";
    id->remote_user = msoauth_value_clean(p, ru_text);
    id->tenant_id = msoauth_value_clean(p, msoauth_json_str(claims, "tid"));
    id->user_id = msoauth_value_clean(p, first_str(TEXT(graph, "id"), TEXT(claims, "oid")));
    full = first_str(TEXT(graph, "displayName"), TEXT(claims, "name"));
    id->full_name = msoauth_value_clean(p, full);
    id->username = msoauth_username_from_name(p, id->full_name);
    id->first_name = msoauth_name_normalize(p, first_str(TEXT(graph, "givenName"), TEXT(claims, "given_name")));
    id->last_name = msoauth_name_normalize(p, first_str(TEXT(graph, "surname"), TEXT(claims, "family_name")));
    email = first_str(TEXT(graph, "mail"), TEXT(claims, "email"));
    if (!email) {
        email = first_str(if_email(TEXT(graph, "userPrincipalName")),
                          if_email(TEXT(claims, "preferred_username")));
    }
    id->email = msoauth_value_clean(p, email);
    id->locale = msoauth_value_clean(p, first_str(TEXT(graph, "preferredLanguage"), TEXT(claims, "xms_pl")));
    id->timezone = "";
    id->email_verified = email_verified(claims, id);

    id->claims = apr_table_make(p, 24);
    id->claim_lists = apr_table_make(p, 8);
    id->groups = apr_array_make(p, 4, sizeof(const char *));
    json_object_foreach((json_t *)claims, key, value) {
        const char *text = msoauth_json_flatten(p, value), *name = msoauth_value_clean(p, key);
        if (strlen(text) > MSOAUTH_CLAIM_VALUE_MAX) {
            skipped = skipped ? apr_pstrcat(p, skipped, ",", key, NULL) : key;
            continue;
        }
        apr_table_setn(id->claims, name, msoauth_value_clean(p, text));
        if (json_is_array(value)) {
            size_t i;
            const json_t *e;
            json_array_foreach(value, i, e) {
                apr_table_addn(id->claim_lists, name,
                               msoauth_value_clean(p, json_is_object(e) || json_is_array(e)
                                                          ? msoauth_json_dump(p, e)
                                                          : msoauth_json_flatten(p, e)));
            }
        }
    }
    /* Over budget: leave out the largest claims until the payload fits. The fixed fields are
     * always kept. */
    while (strlen(msoauth_identity_serialize(p, id)) > MSOAUTH_PAYLOAD_MAX - MSOAUTH_PAYLOAD_RESERVE) {
        const apr_array_header_t *arr = apr_table_elts(id->claims);
        const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
        int i, largest = -1;
        for (i = 0; i < arr->nelts; i++) {
            if (largest < 0 || strlen(e[i].val) + strlen(e[i].key) > strlen(e[largest].val) + strlen(e[largest].key)) {
                largest = i;
            }
        }
        if (largest < 0) {
            break;
        }
        key = apr_pstrdup(p, e[largest].key);
        skipped = skipped ? apr_pstrcat(p, skipped, ",", key, NULL) : key;
        apr_table_unset(id->claims, key);
        apr_table_unset(id->claim_lists, key);
    }
    *dropped = skipped;
    *out = id;
    return APR_SUCCESS;
}

/* Payload: url-encoded key=value pairs joined by '&'. Fixed fields use one-letter keys,
 * claims are "c.<name>". Cheap to parse on every request (no JSON). */
typedef struct {
    apr_array_header_t *parts;
    apr_pool_t *p;
} writer_t;

static void put(writer_t *w, const char *key, const char *value)
{
    *(const char **)apr_array_push(w->parts) =
        apr_pstrcat(w->p, apr_pescape_urlencoded(w->p, key), "=",
                    apr_pescape_urlencoded(w->p, value ? value : ""), NULL);
}

typedef struct {
    writer_t *w;
    const apr_table_t *lists;
} claims_writer_t;

/* Array claims are written element by element ("l."), others whole ("c."). */
static int put_claim(void *data, const char *key, const char *value)
{
    claims_writer_t *cw = data;
    if (!apr_table_get(cw->lists, key)) {
        put(cw->w, apr_pstrcat(cw->w->p, "c.", key, NULL), value);
    }
    return 1;
}

static int put_list_item(void *data, const char *key, const char *value)
{
    put(data, apr_pstrcat(((writer_t *)data)->p, "l.", key, NULL), value);
    return 1;
}

const char *msoauth_identity_serialize(apr_pool_t *p, const msoauth_identity_t *id)
{
    writer_t w = {apr_array_make(p, 40, sizeof(char *)), p};
    int i;

    put(&w, "v", PAYLOAD_VERSION);
    put(&w, "t", apr_psprintf(p, "%" APR_INT64_T_FMT, id->login_time));
    put(&w, "sid", id->sid);
    put(&w, "a", apr_psprintf(p, "%" APR_INT64_T_FMT, id->last_seen ? id->last_seen : id->login_time));
    if (id->token_handle && *id->token_handle) {
        put(&w, "h", id->token_handle);
    }
    put(&w, "ru", id->remote_user);
    put(&w, "uid", id->user_id);
    put(&w, "un", id->username);
    put(&w, "em", id->email);
    put(&w, "fn", id->full_name);
    put(&w, "gn", id->first_name);
    put(&w, "sn", id->last_name);
    put(&w, "tid", id->tenant_id);
    if (id->timezone && *id->timezone) put(&w, "tz", id->timezone);
    if (id->locale && *id->locale) put(&w, "lc", id->locale);
    if (id->email_verified) put(&w, "ev", "1");
    if (id->has_photo) put(&w, "ph", "1");
    if (id->claims) {
        claims_writer_t cw = {&w, id->claim_lists ? id->claim_lists : apr_table_make(p, 1)};
        apr_table_do(put_claim, &cw, id->claims, NULL);
    }
    if (id->claim_lists) {
        apr_table_do(put_list_item, &w, id->claim_lists, NULL);
    }
    for (i = 0; id->groups && i < id->groups->nelts; i++) {
        put(&w, "g", APR_ARRAY_IDX(id->groups, i, const char *));
    }
    return apr_array_pstrcat(p, w.parts, '&');
}

apr_status_t msoauth_identity_parse(apr_pool_t *p, const char *s, msoauth_identity_t **out,
                                    const char **err)
{
    msoauth_identity_t *id = apr_pcalloc(p, sizeof(*id));
    char *copy = apr_pstrdup(p, s), *pair, *next;
    int version_ok = 0;
    char *end;

    *out = NULL;
    id->claims = apr_table_make(p, 24);
    id->claim_lists = apr_table_make(p, 8);
    id->groups = apr_array_make(p, 4, sizeof(const char *));
    for (pair = copy; pair; pair = next) {
        char *eq;
        const char *k, *v;
        /* split on '&' by hand: apr_strtok tests every character against its separator set */
        if ((next = strchr(pair, '&')) != NULL) {
            *next++ = '\0';
        }
        if (!*pair) {
            continue;
        }
        eq = strchr(pair, '=');
        if (!eq) {
            *err = "malformed session payload";
            return APR_EINVAL;
        }
        *eq = '\0';
        k = unescape_in_place(pair);
        v = unescape_in_place(eq + 1);
        if (!k || !v) {
            *err = "malformed escape in session payload";
            return APR_EINVAL;
        }
        /* values were cleaned before sealing; clean again (in place: v is our own copy) so
         * nothing unexpected is exported */
        clean_in_place((char *)v);
        /* addn: keys are unique in what we sealed, and setn would search the table each time */
        if (!strncmp(k, "c.", 2)) apr_table_addn(id->claims, k + 2, v);
        else if (!strncmp(k, "l.", 2)) {
            /* rebuild the exported, comma-joined form as the elements come */
            const char *sofar = apr_table_get(id->claim_lists, k + 2) ? apr_table_get(id->claims, k + 2) : NULL;
            apr_table_addn(id->claim_lists, k + 2, v);
            apr_table_setn(id->claims, k + 2, sofar ? apr_pstrcat(p, sofar, ",", v, NULL) : v);
        }
        else if (!strcmp(k, "g")) *(const char **)apr_array_push(id->groups) = v;
        else if (!strcmp(k, "v")) version_ok = !strcmp(v, PAYLOAD_VERSION);
        else if (!strcmp(k, "t")) {
            id->login_time = apr_strtoi64(v, &end, 10);
            if (*end || id->login_time <= 0) {
                *err = "bad login time in session payload";
                return APR_EINVAL;
            }
        }
        else if (!strcmp(k, "sid")) id->sid = v;
        else if (!strcmp(k, "h")) id->token_handle = v;
        else if (!strcmp(k, "a")) {
            id->last_seen = apr_strtoi64(v, &end, 10);
            if (*end || id->last_seen <= 0) {
                *err = "bad activity time in session payload";
                return APR_EINVAL;
            }
        }
        else if (!strcmp(k, "ru")) id->remote_user = v;
        else if (!strcmp(k, "uid")) id->user_id = v;
        else if (!strcmp(k, "un")) id->username = v;
        else if (!strcmp(k, "em")) id->email = v;
        else if (!strcmp(k, "fn")) id->full_name = v;
        else if (!strcmp(k, "gn")) id->first_name = v;
        else if (!strcmp(k, "sn")) id->last_name = v;
        else if (!strcmp(k, "tid")) id->tenant_id = v;
        else if (!strcmp(k, "tz")) id->timezone = v;
        else if (!strcmp(k, "lc")) id->locale = v;
        else if (!strcmp(k, "ev")) id->email_verified = !strcmp(v, "1");
        else if (!strcmp(k, "ph")) id->has_photo = !strcmp(v, "1");
    }
    if (!version_ok || !id->login_time || !id->remote_user || !*id->remote_user) {
        *err = "session payload lacks version, login time or user";
        return APR_EINVAL;
    }
#define OR_EMPTY(f) if (!id->f) id->f = ""
    OR_EMPTY(sid); OR_EMPTY(token_handle); OR_EMPTY(user_id); OR_EMPTY(username); OR_EMPTY(email);
    OR_EMPTY(full_name); OR_EMPTY(first_name); OR_EMPTY(last_name); OR_EMPTY(tenant_id);
    OR_EMPTY(timezone); OR_EMPTY(locale);
#undef OR_EMPTY
    if (!id->last_seen) {
        id->last_seen = id->login_time;
    }
    *out = id;
    return APR_SUCCESS;
}

typedef struct {
    const char *value;
    int found;
} finder_t;

static int find_value(void *data, const char *key, const char *value)
{
    finder_t *f = data;
    (void)key;
    if (!strcmp(value, f->value)) {
        f->found = 1;
        return 0;
    }
    return 1;
}

int msoauth_identity_claim_has(const msoauth_identity_t *id, const char *claim, const char *value)
{
    finder_t f = {value, 0};
    const char *whole;

    if (!*value) {
        return 0; /* an empty value never matches (an empty array holds nothing) */
    }

    if (id->claim_lists && apr_table_get(id->claim_lists, claim)) {
        apr_table_do(find_value, &f, id->claim_lists, claim, NULL);
        return f.found;
    }
    whole = apr_table_get(id->claims, claim);
    return whole && !strcmp(whole, value);
}

int msoauth_identity_in_group(const msoauth_identity_t *id, const char *group)
{
    int i;

    for (i = 0; id->groups && i < id->groups->nelts; i++) {
        if (!strcasecmp(APR_ARRAY_IDX(id->groups, i, const char *), group)) {
            return 1;
        }
    }
    return 0;
}
