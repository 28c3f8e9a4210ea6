/* Unit tests for src/identity.c: the profile rules (username, names, email, user id, account
 * type, locale, email_verified), claim flattening and array claims kept element-wise, claim and
 * group lookups for the Require rules, and the session payload format. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <cmocka.h>

#include <apr_strings.h>

#include "unit.h"
#include "identity.h"
#include "json.h"
#include "seal.h"

#define NOW 1700000000
#define WORK_TID "72f988bf-86f1-41af-91ab-2d7cd011db47"

typedef struct {
    const char *input;
    const char *expected;
} str_row_t;

static int check_str_fn(const char *(*fn)(apr_pool_t *, const char *), const str_row_t *rows,
                        size_t n)
{
    size_t i;
    int failures = 0;

    for (i = 0; i < n; i++) {
        const char *got = fn(unit_pool, rows[i].input);
        ROW_CHECK(failures, unit_streq(got, rows[i].expected),
                  "row %zu '%s': expected '%s', got '%s'", i, unit_show(rows[i].input),
                  unit_show(rows[i].expected), unit_show(got));
    }
    return failures;
}

static json_t *parse(const char *text)
{
    json_error_t jerr;
    json_t *v;

    if (!text) {
        return NULL;
    }
    /* as msoauth_json_load parses what Microsoft sends: NUL allowed inside strings */
    v = json_loads(text, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (!v) {
        fail_msg("test JSON does not parse: %s: %s", jerr.text, text);
    }
    return msoauth_json_own(unit_pool, v);
}

/* Builds an identity from claims/graph JSON text; fails the test when the build fails. */
static msoauth_identity_t *build(const char *claims, const char *graph, const char **dropped)
{
    msoauth_identity_t *id = NULL;
    const char *err = NULL, *d = NULL;
    apr_status_t rv = msoauth_identity_build(unit_pool, parse(claims), parse(graph), "oid", NOW,
                                             &id, &d, &err);
    if (rv != APR_SUCCESS) {
        fail_msg("identity_build failed: %s", unit_show(err));
    }
    if (dropped) {
        *dropped = d;
    }
    return id;
}

static void test_username_keeps_only_lowercased_ascii_alphanumerics(void **state)
{
    static const str_row_t rows[] = {
        {"Jos\xc3\xa9 M\xc3\xbcller-L\xc3\xbc" "denscheidt", "josmllerldenscheidt"},
        {"John Smith", "johnsmith"},
        {"ALICE", "alice"},
        {"alice", "alice"},
        {"O'Brien, Se\xc3\xa1n", "obriensen"},
        {"Zo\xc3\xab 2nd", "zo2nd"},
        {"R2-D2", "r2d2"},
        {"0123456789", "0123456789"},
        {"a.b_c-d@e+f", "abcdef"},
        {"Tab\tName\r\n", "tabname"},
        {"\xe6\x9d\x8e\xe5\xb0\x8f\xe9\xbe\x8d", ""}, /* CJK only */
        {"\xd0\x98\xd0\xb2\xd0\xb0\xd0\xbd", ""},     /* Cyrillic only */
        {"@[`{/:", ""},                               /* neighbours of the ASCII ranges */
        {"AZaz09", "azaz09"},
        {"   ", ""},
        {"", ""},
        {NULL, ""},
    };

    (void)state;
    assert_int_equal(check_str_fn(msoauth_username_from_name, rows, ROWS(rows)), 0);
}

static void test_name_normalize_trims_and_collapses_white_space(void **state)
{
    static const str_row_t rows[] = {
        {"John Smith", "John Smith"},
        {"  John   Smith  ", "John Smith"},
        {"John\tSmith", "John Smith"},
        {"\r\nJohn\r\n\r\nSmith\r\n", "John Smith"},
        {"John \t \n Smith", "John Smith"},
        {"Jos\xc3\xa9   M\xc3\xbcller", "Jos\xc3\xa9 M\xc3\xbcller"},
        {"A\x7f" "B", "A B"},
        {"a\x01\x02" "b", "a b"},
        {"single", "single"},
        {"   ", ""},
        {"\t\r\n", ""},
        {"", ""},
        {NULL, ""},
    };

    (void)state;
    assert_int_equal(check_str_fn(msoauth_name_normalize, rows, ROWS(rows)), 0);
}

static void test_value_clean_replaces_control_characters(void **state)
{
    static const str_row_t rows[] = {
        {"plain value", "plain value"},
        {"a\r\nb", "a  b"},
        {"a\tb", "a b"},
        {"a\nX-Injected: 1", "a X-Injected: 1"},
        {"\x01\x1f", "  "},
        {"del\x7f", "del "},
        {"Jos\xc3\xa9", "Jos\xc3\xa9"},                 /* UTF-8 kept */
        {"  spaces kept  ", "  spaces kept  "},
        {"", ""},
        {NULL, ""},
    };

    (void)state;
    assert_int_equal(check_str_fn(msoauth_value_clean, rows, ROWS(rows)), 0);
}

static void test_claim_env_name_maps_to_env_safe_characters(void **state)
{
    static const str_row_t rows[] = {
        {"name", "name"},
        {"preferred_username", "preferred_username"},
        {"given-name", "given_name"},
        {"x.y", "x_y"},
        {"a b$c", "a_b_c"},
        {"http://schemas.example/claims/role", "http___schemas_example_claims_role"},
        {"h\xc3\xa9llo", "h__llo"},
        {"A1_z", "A1_z"},
        {"", ""},
    };

    (void)state;
    assert_int_equal(check_str_fn(msoauth_claim_env_name, rows, ROWS(rows)), 0);
}

static void test_account_type_is_personal_only_for_the_consumer_tenant(void **state)
{
    static const str_row_t rows[] = {
        {MSOAUTH_PERSONAL_TENANT, "personal"},
        {"9188040D-6C67-4C5B-B112-36A304B66DAD", "personal"},
        {WORK_TID, "work"},
        {"9188040d-6c67-4c5b-b112-36a304b66dae", "work"},
        {"9188040d-6c67-4c5b-b112-36a304b66dad ", "work"},
        {"consumers", "work"},
        {"", "work"},
        {NULL, "work"},
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(rows); i++) {
        msoauth_identity_t id;
        const char *got;
        memset(&id, 0, sizeof(id));
        id.tenant_id = rows[i].input;
        got = msoauth_identity_account_type(&id);
        ROW_CHECK(failures, unit_streq(got, rows[i].expected), "row %zu '%s': expected %s, got %s",
                  i, unit_show(rows[i].input), rows[i].expected, got);
    }
    assert_int_equal(failures, 0);
}

/* Graph mail > email claim > userPrincipalName / preferred_username containing '@' > empty. */
static void test_identity_email_fallback_order(void **state)
{
    static const struct {
        const char *claims, *graph, *expected;
    } rows[] = {
        {"{\"oid\":\"o\",\"email\":\"e@x.test\",\"preferred_username\":\"p@x.test\"}",
         "{\"mail\":\"g@x.test\",\"userPrincipalName\":\"u@x.test\"}", "g@x.test"},
        {"{\"oid\":\"o\",\"email\":\"e@x.test\",\"preferred_username\":\"p@x.test\"}",
         "{\"userPrincipalName\":\"u@x.test\"}", "e@x.test"},
        {"{\"oid\":\"o\",\"email\":\"e@x.test\"}",
         "{\"mail\":null,\"userPrincipalName\":\"u@x.test\"}", "e@x.test"},
        {"{\"oid\":\"o\",\"email\":\"e@x.test\"}", "{\"mail\":\"\"}", "e@x.test"},
        {"{\"oid\":\"o\",\"email\":\"e@x.test\"}", NULL, "e@x.test"},
        {"{\"oid\":\"o\",\"preferred_username\":\"p@x.test\"}",
         "{\"userPrincipalName\":\"u@x.test\"}", "u@x.test"},
        {"{\"oid\":\"o\",\"preferred_username\":\"p@x.test\"}",
         "{\"userPrincipalName\":\"u_x.test#EXT#\"}", "p@x.test"},
        {"{\"oid\":\"o\",\"preferred_username\":\"p@x.test\"}", NULL, "p@x.test"},
        {"{\"oid\":\"o\",\"preferred_username\":\"+15551234567\"}", NULL, ""},
        {"{\"oid\":\"o\",\"email\":\"\",\"preferred_username\":\"p@x.test\"}", NULL, "p@x.test"},
        {"{\"oid\":\"o\",\"email\":42,\"preferred_username\":\"p@x.test\"}", NULL, "p@x.test"},
        {"{\"oid\":\"o\"}", "{}", ""},
        {"{\"oid\":\"o\"}", NULL, ""},
        {"{\"oid\":\"o\",\"email\":\"e@x.test\\r\\nX-Evil: 1\"}", NULL, "e@x.test  X-Evil: 1"},
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(rows); i++) {
        msoauth_identity_t *id = build(rows[i].claims, rows[i].graph, NULL);
        ROW_CHECK(failures, unit_streq(id->email, rows[i].expected),
                  "row %zu: expected '%s', got '%s'", i, unit_show(rows[i].expected),
                  unit_show(id->email));
    }
    assert_int_equal(failures, 0);
}

/* Graph id > oid claim. */
static void test_identity_user_id_prefers_graph_id(void **state)
{
    static const struct {
        const char *claims, *graph, *expected;
    } rows[] = {
        {"{\"oid\":\"oid-1\"}", "{\"id\":\"graph-1\"}", "graph-1"},
        {"{\"oid\":\"oid-1\"}", "{\"id\":\"\"}", "oid-1"},
        {"{\"oid\":\"oid-1\"}", "{\"id\":7}", "oid-1"},
        {"{\"oid\":\"oid-1\"}", "{}", "oid-1"},
        {"{\"oid\":\"oid-1\"}", NULL, "oid-1"},
        {"{\"oid\":\"oid\\r\\n1\"}", NULL, "oid  1"},
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(rows); i++) {
        msoauth_identity_t *id = build(rows[i].claims, rows[i].graph, NULL);
        ROW_CHECK(failures, unit_streq(id->user_id, rows[i].expected),
                  "row %zu: expected '%s', got '%s'", i, unit_show(rows[i].expected),
                  unit_show(id->user_id));
    }
    assert_int_equal(failures, 0);
}

/* UTF-8 names; a hex escape must not run into the letters that follow it. */
#define JOSE "Jos\xc3\xa9"
#define MULLER "M\xc3\xbcller-L\xc3\xbc" "denscheidt"
#define CLAIM_NAMES                                                                                \
    "{\"oid\":\"o\",\"name\":\"Claim Name\",\"given_name\":\"Claim\",\"family_name\":\"Name\"}"

/* Graph displayName/givenName/surname > name/given_name/family_name claims. The full name is
 * passed as given (controls become spaces); first and last names are trimmed and collapsed;
 * the username is derived from the full name. */
static void test_identity_names_prefer_graph_and_are_normalised(void **state)
{
    static const struct {
        const char *claims, *graph;
        const char *full, *first, *last, *username;
    } rows[] = {
        {CLAIM_NAMES,
         "{\"displayName\":\"" JOSE " " MULLER "\",\"givenName\":\"" JOSE "\","
         "\"surname\":\"" MULLER "\"}",
         JOSE " " MULLER, JOSE, MULLER, "josmllerldenscheidt"},
        {"{\"oid\":\"o\",\"name\":\"  Claim \\t Name \",\"given_name\":\" Claim\","
         "\"family_name\":\"Name\\r\\n\"}",
         NULL, "  Claim   Name ", "Claim", "Name", "claimname"},
        {CLAIM_NAMES, "{\"displayName\":\"\",\"givenName\":null}", "Claim Name", "Claim", "Name",
         "claimname"},
        {"{\"oid\":\"o\",\"name\":\"Claim Name\"}", "{\"displayName\":\"Mary  Ann\\nSmith\"}",
         "Mary  Ann Smith", "", "", "maryannsmith"},
        {"{\"oid\":\"o\"}", NULL, "", "", "", ""},
        {"{\"oid\":\"o\",\"name\":\"\xe6\x9d\x8e\xe5\xb0\x8f\xe9\xbe\x8d\"}", NULL,
         "\xe6\x9d\x8e\xe5\xb0\x8f\xe9\xbe\x8d", "", "", ""},
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(rows); i++) {
        msoauth_identity_t *id = build(rows[i].claims, rows[i].graph, NULL);
        ROW_CHECK(failures,
                  unit_streq(id->full_name, rows[i].full)
                      && unit_streq(id->first_name, rows[i].first)
                      && unit_streq(id->last_name, rows[i].last)
                      && unit_streq(id->username, rows[i].username),
                  "row %zu: got full '%s' first '%s' last '%s' username '%s'", i,
                  unit_show(id->full_name), unit_show(id->first_name), unit_show(id->last_name),
                  unit_show(id->username));
    }
    assert_int_equal(failures, 0);
}

static void test_identity_build_sets_tenant_and_login_time(void **state)
{
    msoauth_identity_t *id;

    (void)state;
    id = build("{\"oid\":\"o\",\"tid\":\"" WORK_TID "\"}", NULL, NULL);
    assert_string_equal(id->tenant_id, WORK_TID);
    assert_string_equal(msoauth_identity_account_type(id), "work");
    assert_true(id->login_time == NOW);
    id = build("{\"oid\":\"o\",\"tid\":\"" MSOAUTH_PERSONAL_TENANT "\"}", NULL, NULL);
    assert_string_equal(msoauth_identity_account_type(id), "personal");
    id = build("{\"oid\":\"o\"}", NULL, NULL);
    assert_string_equal(id->tenant_id, "");
}

/* REMOTE_USER comes from the configured claim; a missing, empty or structured claim fails. */
static void test_identity_remote_user_claim(void **state)
{
    static const struct {
        const char *claims, *claim;
        int ok;
        const char *expected;
    } rows[] = {
        {"{\"oid\":\"0000-oid\",\"email\":\"e@x.test\"}", "oid", 1, "0000-oid"},
        {"{\"oid\":\"0000-oid\",\"email\":\"e@x.test\"}", "email", 1, "e@x.test"},
        {"{\"oid\":\"o\",\"exp\":1700003600}", "exp", 1, "1700003600"},
        {"{\"oid\":\"o\",\"flag\":true}", "flag", 1, "true"},
        {"{\"oid\":\"a\\r\\nb\"}", "oid", 1, "a  b"},
        {"{\"email\":\"e@x.test\"}", "oid", 0, NULL},
        {"{\"oid\":\"\"}", "oid", 0, NULL},
        {"{\"oid\":null}", "oid", 0, NULL},
        {"{\"oid\":[\"a\",\"b\"]}", "oid", 0, NULL},
        {"{\"oid\":{\"a\":1}}", "oid", 0, NULL},
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(rows); i++) {
        msoauth_identity_t *id = NULL;
        const char *err = NULL, *dropped = NULL;
        apr_status_t rv = msoauth_identity_build(unit_pool, parse(rows[i].claims), NULL,
                                                 rows[i].claim, NOW, &id, &dropped, &err);
        if (rows[i].ok) {
            ROW_CHECK(failures,
                      rv == APR_SUCCESS && id && unit_streq(id->remote_user, rows[i].expected),
                      "row %zu: expected '%s', got rv %d '%s' (%s)", i, rows[i].expected, rv,
                      id ? unit_show(id->remote_user) : "-", unit_show(err));
        }
        else {
            ROW_CHECK(failures, rv != APR_SUCCESS && !id && err && strstr(err, rows[i].claim),
                      "row %zu: expected a failure naming '%s', got rv %d (%s)", i, rows[i].claim,
                      rv, unit_show(err));
        }
    }
    assert_int_equal(failures, 0);
}

/* Every top-level claim kept as one line: arrays joined with ',', objects as compact JSON. */
static void test_identity_claims_are_flattened(void **state)
{
    static const str_row_t rows[] = {
        {"s", "text"},
        {"i", "42"},
        {"neg", "-7"},
        {"big", "1700000000123"},
        {"t", "true"},
        {"f", "false"},
        {"n", ""},
        {"roles", "Admin,Reader,Writer"},
        {"mixed", "1,x,true,false,"},
        {"one", "only"},
        {"empty_arr", ""},
        {"nested", "[\"a\",\"b\"],{\"k\":1}"},
        {"obj", "{\"a\":1,\"b\":[1,2],\"c\":{\"d\":\"e\"}}"},
        {"empty_obj", "{}"},
        {"real", "1.5"},
        {"crlf", "a  b"},
        {"uni", "Jos\xc3\xa9"},
        {"with space", "kept"},
    };
    const char *claims =
        "{\"oid\":\"o\",\"s\":\"text\",\"i\":42,\"neg\":-7,\"big\":1700000000123,\"t\":true,"
        "\"f\":false,\"n\":null,\"roles\":[\"Admin\",\"Reader\",\"Writer\"],"
        "\"mixed\":[1,\"x\",true,false,null],\"one\":[\"only\"],\"empty_arr\":[],"
        "\"nested\":[[\"a\",\"b\"],{\"k\":1}],\"obj\":{\"a\":1,\"b\":[1,2],\"c\":{\"d\":\"e\"}},"
        "\"empty_obj\":{},\"real\":1.5,\"crlf\":\"a\\r\\nb\",\"uni\":\"Jos\\u00e9\","
        "\"with space\":\"kept\"}";
    msoauth_identity_t *id;
    const char *dropped = "sentinel";
    size_t i;
    int failures = 0;

    (void)state;
    id = build(claims, NULL, &dropped);
    assert_null(dropped);
    for (i = 0; i < ROWS(rows); i++) {
        const char *got = apr_table_get(id->claims, rows[i].input);
        ROW_CHECK(failures, unit_streq(got, rows[i].expected),
                  "claim '%s': expected '%s', got '%s'", rows[i].input, unit_show(rows[i].expected),
                  unit_show(got));
    }
    assert_string_equal(apr_table_get(id->claims, "oid"), "o");
    assert_int_equal(apr_table_elts(id->claims)->nelts, ROWS(rows) + 1);
    assert_int_equal(failures, 0);
}

/* A NUL inside a JSON string never truncates or reaches an exported value: shown values get a
 * space, compared values (tid) are refused. */
static void test_identity_neutralises_nul_in_values(void **state)
{
    static const char claims[] =
        "{\"oid\":\"o\\u0000x\",\"tid\":\"" WORK_TID "\\u0000\",\"name\":\"Ann\\u0000Lee\","
        "\"given_name\":\"Ann\\u0000\",\"email\":\"a@x.test\\u0000.evil\",\"c\":\"v\\u0000w\","
        "\"arr\":[\"p\\u0000q\",\"r\"]}";
    msoauth_identity_t *id;
    const apr_array_header_t *elts;
    const apr_table_entry_t *e;
    int i;

    (void)state;
    id = build(claims, NULL, NULL);
    assert_string_equal(id->remote_user, "o x");
    assert_string_equal(id->user_id, "o x");
    assert_string_equal(id->tenant_id, "");
    assert_string_equal(msoauth_identity_account_type(id), "work");
    assert_string_equal(id->full_name, "Ann Lee");
    assert_string_equal(id->username, "annlee");
    assert_string_equal(id->first_name, "Ann");
    assert_string_equal(id->email, "a@x.test .evil");
    assert_string_equal(apr_table_get(id->claims, "c"), "v w");
    assert_string_equal(apr_table_get(id->claims, "arr"), "p q,r");
    elts = apr_table_elts(id->claims);
    e = (const apr_table_entry_t *)elts->elts;
    for (i = 0; i < elts->nelts; i++) {
        assert_null(strpbrk(e[i].val, "\r\n"));
    }
}

static void test_identity_claim_names_are_cleaned(void **state)
{
    msoauth_identity_t *id;

    (void)state;
    id = build("{\"oid\":\"o\",\"bad\\r\\nname\":\"v\"}", NULL, NULL);
    assert_string_equal(apr_table_get(id->claims, "bad  name"), "v");
}

/* A claim longer than MSOAUTH_CLAIM_VALUE_MAX once flattened is left out and reported. */
static void test_identity_drops_and_reports_oversized_claims(void **state)
{
    char *at_max = apr_palloc(unit_pool, MSOAUTH_CLAIM_VALUE_MAX + 1);
    char *over = apr_palloc(unit_pool, MSOAUTH_CLAIM_VALUE_MAX + 2);
    json_t *claims, *arr;
    msoauth_identity_t *id = NULL;
    const char *err = NULL, *dropped = NULL;
    int i;

    (void)state;
    memset(at_max, 'a', MSOAUTH_CLAIM_VALUE_MAX);
    at_max[MSOAUTH_CLAIM_VALUE_MAX] = '\0';
    memset(over, 'b', MSOAUTH_CLAIM_VALUE_MAX + 1);
    over[MSOAUTH_CLAIM_VALUE_MAX + 1] = '\0';
    /* an array whose parts are small but whose joined form is too long */
    arr = json_array();
    for (i = 0; i < 300; i++) {
        json_array_append_new(arr, json_string("group-0123"));
    }
    claims = msoauth_json_own(unit_pool, json_pack("{s:s, s:s, s:s, s:o, s:s}", "oid", "o", "huge",
                                                   over, "fits", at_max, "groups", arr, "name",
                                                   "Small"));
    assert_non_null(claims);
    assert_int_equal(
        msoauth_identity_build(unit_pool, claims, NULL, "oid", NOW, &id, &dropped, &err),
        APR_SUCCESS);
    assert_non_null(dropped);
    assert_string_equal(dropped, "huge,groups");
    assert_null(apr_table_get(id->claims, "huge"));
    assert_null(apr_table_get(id->claims, "groups"));
    assert_string_equal(apr_table_get(id->claims, "fits"), at_max);
    assert_string_equal(apr_table_get(id->claims, "name"), "Small");
}

/* Whatever identity_build keeps must survive the trip through the session: serialized, sealed,
 * and opened again (msoauth_open refuses anything over MSOAUTH_SEALED_MAX unread). Several
 * claims each under MSOAUTH_CLAIM_VALUE_MAX add up past it; if they are all kept, the session
 * written at sign-in never opens and the user is sent to sign in again, endlessly. */
static void test_identity_from_a_large_token_still_fits_the_session(void **state)
{
    static const unsigned char key[MSOAUTH_KEY_LEN] = "0123456789abcdef0123456789abcde";
    static const char aad[] = "msoauth session v1|00000000-1111-2222-3333-444444444444";
    char *value = apr_palloc(unit_pool, MSOAUTH_CLAIM_VALUE_MAX + 1);
    json_t *claims = msoauth_json_own(unit_pool, json_pack("{s:s}", "oid", "o"));
    msoauth_identity_t *id = NULL;
    const char *err = NULL, *dropped = NULL, *payload, *sealed = NULL;
    char *plain = NULL;
    apr_size_t len = 0;
    int i;

    (void)state;
    /* six claims at the per-claim cap: each one allowed, together far over the payload budget */
    memset(value, 'g', MSOAUTH_CLAIM_VALUE_MAX);
    value[MSOAUTH_CLAIM_VALUE_MAX] = '\0';
    for (i = 0; i < 6; i++) {
        json_object_set_new(claims, apr_psprintf(unit_pool, "ext%d", i), json_string(value));
    }
    assert_int_equal(
        msoauth_identity_build(unit_pool, claims, NULL, "oid", NOW, &id, &dropped, &err),
        APR_SUCCESS);
    payload = msoauth_identity_serialize(unit_pool, id);
    assert_int_equal(msoauth_seal(unit_pool, key, aad, payload, strlen(payload), &sealed),
                     APR_SUCCESS);
    if (msoauth_open(unit_pool, key, aad, sealed, &plain, &len, &err) != APR_SUCCESS) {
        fail_msg("identity of %zu bytes sealed to %zu characters does not open: %s (dropped: %s)",
                 strlen(payload), strlen(sealed), err, unit_show(dropped));
    }
    assert_true(strlen(payload) <= MSOAUTH_PAYLOAD_MAX);
    assert_non_null(dropped);
}

/* claim_lists as "name=value|name=value..." sorted by name (stable for equal names), for
 * comparing two identities whatever order the tables were filled in. */
static int cmp_entry(const void *a, const void *b)
{
    const apr_table_entry_t *x = a, *y = b;
    int c = strcasecmp(x->key, y->key);
    return c ? c : (x < y ? -1 : x > y);
}

static const char *lists_text(const apr_table_t *t)
{
    const apr_array_header_t *arr;
    apr_table_entry_t *copy;
    const char *out = "";
    int i;

    if (!t) {
        return "";
    }
    arr = apr_table_elts(t);
    copy = apr_pmemdup(unit_pool, arr->elts, arr->nelts * sizeof(*copy) + 1); /* +1: never 0 */
    qsort(copy, arr->nelts, sizeof(*copy), cmp_entry);
    for (i = 0; i < arr->nelts; i++) {
        out = apr_pstrcat(unit_pool, out, i ? "|" : "", copy[i].key, "=", copy[i].val, NULL);
    }
    return out;
}

static const char *groups_text(const apr_array_header_t *g)
{
    return g ? apr_array_pstrcat(unit_pool, g, ' ') : "";
}

static void assert_same_identity(const msoauth_identity_t *a, const msoauth_identity_t *b)
{
    const apr_array_header_t *ea = apr_table_elts(a->claims);
    const apr_table_entry_t *ta = (const apr_table_entry_t *)ea->elts;
    int i;

    assert_true(a->login_time == b->login_time);
    assert_string_equal(a->sid, b->sid);
    assert_string_equal(a->remote_user, b->remote_user);
    assert_string_equal(a->user_id, b->user_id);
    assert_string_equal(a->username, b->username);
    assert_string_equal(a->email, b->email);
    assert_string_equal(a->full_name, b->full_name);
    assert_string_equal(a->first_name, b->first_name);
    assert_string_equal(a->last_name, b->last_name);
    assert_string_equal(a->tenant_id, b->tenant_id);
    assert_true(a->last_seen == b->last_seen);
    assert_string_equal(a->token_handle, b->token_handle);
    assert_string_equal(a->timezone, b->timezone);
    assert_string_equal(a->locale, b->locale);
    assert_int_equal(a->email_verified, b->email_verified);
    assert_int_equal(a->has_photo, b->has_photo);
    assert_string_equal(lists_text(a->claim_lists), lists_text(b->claim_lists));
    assert_string_equal(groups_text(a->groups), groups_text(b->groups));
    assert_int_equal(ea->nelts, apr_table_elts(b->claims)->nelts);
    for (i = 0; i < ea->nelts; i++) {
        const char *v = apr_table_get(b->claims, ta[i].key);
        if (!unit_streq(v, ta[i].val)) {
            fail_msg("claim '%s': '%s' came back as '%s'", unit_show(ta[i].key),
                     unit_show(ta[i].val), unit_show(v));
        }
    }
}

/* Every character the payload format uses (&, =, +, %, '.') survives in values and names. */
static void test_identity_serialize_parse_round_trip(void **state)
{
    const char *claims =
        "{\"oid\":\"oid&=+%.1\",\"tid\":\"" WORK_TID "\",\"name\":\"Jos\\u00e9 M\\u00fcller\","
        "\"email\":\"a+b@x.test\",\"given_name\":\"Jos\\u00e9\",\"family_name\":\"M\\u00fcller\","
        "\"roles\":[\"a&b\",\"c=d\"],\"amp&name\":\"1\",\"eq=name\":\"2\",\"dot.name\":\"3\","
        "\"pct%name\":\"%41\",\"plus+name\":\"a+b c\",\"c.x\":\"looks like a prefix\","
        "\"empty\":\"\"}";
    msoauth_identity_t *id, *back = NULL;
    const char *payload, *err = NULL;

    (void)state;
    id = build(claims, "{\"id\":\"graph id\",\"mail\":\"m@x.test\"}", NULL);
    id->sid = "sid-Zm9v_-";
    payload = msoauth_identity_serialize(unit_pool, id);
    assert_non_null(payload);
    assert_null(strchr(payload, '\r'));
    assert_null(strchr(payload, '\n'));
    assert_null(strchr(payload, ' '));
    assert_int_equal(msoauth_identity_parse(unit_pool, payload, &back, &err), APR_SUCCESS);
    assert_same_identity(id, back);
    assert_string_equal(back->email, "m@x.test");
    assert_string_equal(back->remote_user, "oid&=+%.1");
    assert_string_equal(apr_table_get(back->claims, "c.x"), "looks like a prefix");
}

static void test_identity_round_trips_a_minimal_identity(void **state)
{
    msoauth_identity_t id, *back = NULL;
    const char *err = NULL;

    (void)state;
    memset(&id, 0, sizeof(id));
    id.login_time = NOW;
    id.remote_user = "only-user";
    assert_int_equal(msoauth_identity_parse(unit_pool, msoauth_identity_serialize(unit_pool, &id),
                                            &back, &err), APR_SUCCESS);
    assert_string_equal(back->remote_user, "only-user");
    assert_true(back->login_time == NOW);
    assert_string_equal(back->sid, "");
    assert_string_equal(back->email, "");
    assert_string_equal(back->tenant_id, "");
    assert_non_null(back->claims);
    assert_int_equal(apr_table_elts(back->claims)->nelts, 0);
}

static void test_identity_parse_accepts_well_formed_payloads(void **state)
{
    static const struct {
        const char *payload, *remote_user;
    } rows[] = {
        {"v=1&t=1&ru=x", "x"},
        {"ru=x&t=1700000000&v=1", "x"},                  /* any order */
        {"&&v=1&&t=5&ru=x&", "x"},                        /* empty pairs skipped */
        {"v=1&t=1&ru=x&unknown=1&zz=", "x"},              /* unknown keys ignored */
        {"v=1&t=1&ru=a+b%20c", "a b c"},
        {"v=1&t=1&ru=a%0d%0ab", "a  b"},                  /* cleaned again on the way out */
        {"v=1&t=1&ru=first&ru=second", "second"},
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(rows); i++) {
        msoauth_identity_t *id = NULL;
        const char *err = NULL;
        apr_status_t rv = msoauth_identity_parse(unit_pool, rows[i].payload, &id, &err);
        ROW_CHECK(failures,
                  rv == APR_SUCCESS && id && unit_streq(id->remote_user, rows[i].remote_user),
                  "row %zu '%s': expected user '%s', got rv %d '%s' (%s)", i, rows[i].payload,
                  rows[i].remote_user, rv, id ? unit_show(id->remote_user) : "-", unit_show(err));
    }
    assert_int_equal(failures, 0);
}

static void test_identity_parse_rejects_malformed_payloads(void **state)
{
    static const char *const bad[] = {
        "",
        "&&&",
        "garbage",
        "v=1",
        "t=1&ru=x",                 /* no version */
        "v=2&t=1&ru=x",             /* other version */
        "v=&t=1&ru=x",
        "v=1&ru=x",                 /* no login time */
        "v=1&t=&ru=x",
        "v=1&t=abc&ru=x",
        "v=1&t=1x&ru=x",
        "v=1&t=0&ru=x",
        "v=1&t=-5&ru=x",
        "v=1&t=1",                  /* no user */
        "v=1&t=1&ru=",
        "v=1&t=1&ru=x&noequals",
        "v=1&t=1&ru=%zz",
        "v=1&t=1&ru=%4",
        "v=1&t=1&ru=x&c.name=%g0",
        "v=1&t=1&%zz=x&ru=x",
        "v=1&t=1&ru=x&a=",          /* bad activity time */
        "v=1&t=1&ru=x&a=abc",
        "v=1&t=1&ru=x&a=0",
        "v=1&t=1&ru=x&a=-1",
        "v=1&t=1&ru=x&a=5s",
        "v=1&t=1&ru=x&l.roles=%zz",
        "v=1&t=1&ru=x&g=%4",
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(bad); i++) {
        msoauth_identity_t *id = (msoauth_identity_t *)1;
        const char *err = NULL;
        apr_status_t rv = msoauth_identity_parse(unit_pool, bad[i], &id, &err);
        ROW_CHECK(failures, rv != APR_SUCCESS && id == NULL && err && *err,
                  "row %zu '%s': accepted", i, unit_show(bad[i]));
    }
    assert_int_equal(failures, 0);
}

static void test_identity_build_sets_the_session_fields(void **state)
{
    msoauth_identity_t *id;

    (void)state;
    id = build("{\"oid\":\"o\"}", NULL, NULL);
    assert_true(id->last_seen == NOW);
    assert_string_equal(id->token_handle, "");
    assert_string_equal(id->timezone, "");
    assert_string_equal(id->locale, "");
    assert_int_equal(id->email_verified, 0);
    assert_int_equal(id->has_photo, 0);
    assert_non_null(id->claim_lists);
    assert_int_equal(apr_table_elts(id->claim_lists)->nelts, 0);
    assert_non_null(id->groups);
    assert_int_equal(id->groups->nelts, 0);
}

/* Graph preferredLanguage > xms_pl claim > empty. */
static void test_identity_locale_source(void **state)
{
    static const struct {
        const char *claims, *graph, *expected;
    } rows[] = {
        {"{\"oid\":\"o\",\"xms_pl\":\"fr-FR\"}", "{\"preferredLanguage\":\"de-DE\"}", "de-DE"},
        {"{\"oid\":\"o\",\"xms_pl\":\"fr-FR\"}", "{\"preferredLanguage\":\"\"}", "fr-FR"},
        {"{\"oid\":\"o\",\"xms_pl\":\"fr-FR\"}", "{\"preferredLanguage\":null}", "fr-FR"},
        {"{\"oid\":\"o\",\"xms_pl\":\"fr-FR\"}", NULL, "fr-FR"},
        {"{\"oid\":\"o\"}", "{\"preferredLanguage\":\"en-US\"}", "en-US"},
        {"{\"oid\":\"o\",\"xms_pl\":7}", NULL, ""},
        {"{\"oid\":\"o\"}", "{}", ""},
        {"{\"oid\":\"o\"}", NULL, ""},
        {"{\"oid\":\"o\"}", "{\"preferredLanguage\":\"en\\r\\nX: 1\"}", "en  X: 1"},
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(rows); i++) {
        msoauth_identity_t *id = build(rows[i].claims, rows[i].graph, NULL);
        ROW_CHECK(failures, unit_streq(id->locale, rows[i].expected),
                  "row %zu: expected '%s', got '%s'", i, unit_show(rows[i].expected),
                  unit_show(id->locale));
    }
    assert_int_equal(failures, 0);
}

#define PERSONAL "\"tid\":\"" MSOAUTH_PERSONAL_TENANT "\""
#define WORK "\"tid\":\"" WORK_TID "\""

/* Verified only when Microsoft vouches for it: xms_edov true (or 1), or a personal account's
 * sign-in address. */
static void test_identity_email_verified(void **state)
{
    static const struct {
        const char *claims, *graph;
        int verified;
    } rows[] = {
        {"{\"oid\":\"o\"," WORK ",\"email\":\"a@contoso.test\",\"xms_edov\":true}", NULL, 1},
        {"{\"oid\":\"o\"," WORK ",\"email\":\"a@contoso.test\",\"xms_edov\":1}", NULL, 1},
        {"{\"oid\":\"o\"," WORK ",\"email\":\"a@contoso.test\",\"xms_edov\":\"1\"}", NULL, 1},
        {"{\"oid\":\"o\"," WORK ",\"email\":\"a@contoso.test\",\"xms_edov\":\"true\"}", NULL, 1},
        {"{\"oid\":\"o\"," WORK ",\"preferred_username\":\"a@contoso.test\",\"xms_edov\":true}",
         NULL, 1},
        {"{\"oid\":\"o\"," WORK ",\"email\":\"a@contoso.test\",\"xms_edov\":false}", NULL, 0},
        {"{\"oid\":\"o\"," WORK ",\"email\":\"a@contoso.test\",\"xms_edov\":0}", NULL, 0},
        {"{\"oid\":\"o\"," WORK ",\"email\":\"a@contoso.test\",\"xms_edov\":2}", NULL, 0},
        {"{\"oid\":\"o\"," WORK ",\"email\":\"a@contoso.test\",\"xms_edov\":\"false\"}", NULL, 0},
        {"{\"oid\":\"o\"," WORK ",\"email\":\"a@contoso.test\",\"xms_edov\":\"0\"}", NULL, 0},
        {"{\"oid\":\"o\"," WORK ",\"email\":\"a@contoso.test\",\"xms_edov\":\"yes\"}", NULL, 0},
        {"{\"oid\":\"o\"," WORK ",\"email\":\"a@contoso.test\",\"xms_edov\":null}", NULL, 0},
        /* a work account's sign-in name is not proof of the mailbox */
        {"{\"oid\":\"o\"," WORK ",\"email\":\"a@contoso.test\","
         "\"preferred_username\":\"a@contoso.test\"}",
         NULL, 0},
        {"{\"oid\":\"o\"," WORK ",\"email\":\"a@contoso.test\"}", NULL, 0},
        /* personal accounts: the sign-in address is Microsoft's own */
        {"{\"oid\":\"o\"," PERSONAL ",\"email\":\"bob@outlook.test\","
         "\"preferred_username\":\"bob@outlook.test\"}",
         NULL, 1},
        {"{\"oid\":\"o\"," PERSONAL ",\"email\":\"Bob@Outlook.test\","
         "\"preferred_username\":\"bob@outlook.test\"}",
         NULL, 1},
        {"{\"oid\":\"o\",\"tid\":\"9188040D-6C67-4C5B-B112-36A304B66DAD\","
         "\"email\":\"bob@outlook.test\",\"preferred_username\":\"bob@outlook.test\"}",
         NULL, 1},
        {"{\"oid\":\"o\"," PERSONAL ",\"preferred_username\":\"bob@outlook.test\"}", NULL, 1},
        {"{\"oid\":\"o\"," PERSONAL ",\"email\":\"other@example.test\","
         "\"preferred_username\":\"bob@outlook.test\"}",
         NULL, 0},
        {"{\"oid\":\"o\"," PERSONAL ",\"preferred_username\":\"bob@outlook.test\"}",
         "{\"mail\":\"other@example.test\"}", 0},
        {"{\"oid\":\"o\"," PERSONAL ",\"preferred_username\":\"bob@outlook.test\"}",
         "{\"mail\":\"bob@outlook.test\"}", 1},
        {"{\"oid\":\"o\"," PERSONAL ",\"preferred_username\":\"+15551234567\"}", NULL, 0},
        {"{\"oid\":\"o\"," PERSONAL ",\"email\":\"bob@outlook.test\"}", NULL, 0},
        /* nothing to vouch for */
        {"{\"oid\":\"o\"," WORK ",\"xms_edov\":true}", NULL, 0},
        {"{\"oid\":\"o\"," PERSONAL ",\"xms_edov\":true}", NULL, 0},
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(rows); i++) {
        msoauth_identity_t *id = build(rows[i].claims, rows[i].graph, NULL);
        ROW_CHECK(failures, id->email_verified == rows[i].verified,
                  "row %zu %s: email '%s', expected %d, got %d", i, rows[i].claims,
                  unit_show(id->email), rows[i].verified, id->email_verified);
    }
    assert_int_equal(failures, 0);
}

/* Array claims: one claim_lists entry per element (for the Require rules) beside the joined
 * value (for the exports); scalar claims have no list entry. */
static void test_identity_array_claims_are_kept_element_wise(void **state)
{
    static const struct {
        const char *claim, *elements, *joined;
    } rows[] = {
        {"roles", "Admin|Reader|a,b", "Admin,Reader,a,b"},
        {"mixed", "1|x|true|false|", "1,x,true,false,"},
        {"nested", "[\"a\",\"b\"]|{\"k\":1}", "[\"a\",\"b\"],{\"k\":1}"},
        {"one", "only", "only"},
        {"crlf", "a  b|c", "a  b,c"},
        {"empty_arr", "", ""},
        {"s", "", "text"},
        {"obj", "", "{\"a\":[1,2]}"},
    };
    msoauth_identity_t *id;
    size_t i;
    int failures = 0;

    (void)state;
    id = build("{\"oid\":\"o\",\"roles\":[\"Admin\",\"Reader\",\"a,b\"],"
               "\"mixed\":[1,\"x\",true,false,null],\"nested\":[[\"a\",\"b\"],{\"k\":1}],"
               "\"one\":[\"only\"],\"crlf\":[\"a\\r\\nb\",\"c\"],\"empty_arr\":[],\"s\":\"text\","
               "\"obj\":{\"a\":[1,2]}}",
               NULL, NULL);
    for (i = 0; i < ROWS(rows); i++) {
        const apr_array_header_t *arr = apr_table_elts(id->claim_lists);
        const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
        const char *elements = "";
        int k, n = 0;
        for (k = 0; k < arr->nelts; k++) {
            if (!strcmp(e[k].key, rows[i].claim)) {
                elements = apr_pstrcat(unit_pool, elements, n++ ? "|" : "", e[k].val, NULL);
            }
        }
        ROW_CHECK(failures,
                  unit_streq(elements, rows[i].elements)
                      && unit_streq(apr_table_get(id->claims, rows[i].claim), rows[i].joined),
                  "claim '%s': elements '%s' (expected '%s'), joined '%s' (expected '%s')",
                  rows[i].claim, unit_show(elements), unit_show(rows[i].elements),
                  unit_show(apr_table_get(id->claims, rows[i].claim)), unit_show(rows[i].joined));
    }
    assert_int_equal(failures, 0);
}

#define HAS_CLAIMS                                                                                 \
    "{\"oid\":\"o\",\"tid\":\"" WORK_TID "\",\"roles\":[\"Admin\",\"Reader\",\"a,b\"],"           \
    "\"wids\":[\"62e90394-69f5-4237-9190-012177145e10\"],\"department\":\"Sales, EMEA\","        \
    "\"exp\":1700003600,\"flag\":true,\"n\":null,\"nums\":[1,2]}"

/* Require msoauth-claim / msoauth-role: equals the value, or (arrays) contains it. Exact,
 * case-sensitive values; a list element never matches a part of itself or the joined form. */
static void test_identity_claim_has(void **state)
{
    static const struct {
        const char *claim, *value;
        int has;
    } rows[] = {
        {"roles", "Admin", 1},
        {"roles", "Reader", 1},
        {"roles", "a,b", 1},
        {"roles", "a", 0},
        {"roles", "b", 0},
        {"roles", "admin", 0},
        {"roles", "Admin,Reader,a,b", 0},
        {"roles", "Admin ", 0},
        {"roles", "", 0},
        {"wids", "62e90394-69f5-4237-9190-012177145e10", 1},
        {"tid", WORK_TID, 1},
        {"tid", "72f988bf", 0},
        {"department", "Sales, EMEA", 1},
        {"department", "Sales", 0},
        {"exp", "1700003600", 1},
        {"flag", "true", 1},
        {"n", "", 0}, /* an empty value never matches, even an empty claim */
        {"nums", "2", 1},
        {"nums", "1,2", 0},
        {"missing", "", 0},
        {"missing", "x", 0},
    };
    msoauth_identity_t *id;
    const msoauth_identity_t *versions[2];
    size_t i, v;
    int failures = 0;

    (void)state;
    id = build(HAS_CLAIMS, NULL, NULL);
    versions[0] = id;
    versions[1] = NULL;
    {
        const char *err = NULL;
        msoauth_identity_t *back = NULL;
        assert_int_equal(msoauth_identity_parse(
                             unit_pool, msoauth_identity_serialize(unit_pool, id), &back, &err),
                         APR_SUCCESS);
        versions[1] = back;
    }
    for (v = 0; v < 2; v++) {
        for (i = 0; i < ROWS(rows); i++) {
            int got = msoauth_identity_claim_has(versions[v], rows[i].claim, rows[i].value);
            ROW_CHECK(failures, got == rows[i].has, "%s, row %zu %s:'%s': expected %d, got %d",
                      v ? "after the session" : "at sign-in", i, rows[i].claim,
                      unit_show(rows[i].value), rows[i].has, got);
        }
    }
    assert_int_equal(failures, 0);
}

/* An empty array has no element: "Require msoauth-claim roles:" (an empty value passes the
 * directive's check) must not match a user whose token says "roles": []. */
static void test_identity_claim_has_empty_array_contains_nothing(void **state)
{
    msoauth_identity_t *id;

    (void)state;
    id = build("{\"oid\":\"o\",\"roles\":[]}", NULL, NULL);
    if (msoauth_identity_claim_has(id, "roles", "")) {
        fail_msg("roles [] is reported to contain \"\" (claims table holds '%s', no list entry)",
                 unit_show(apr_table_get(id->claims, "roles")));
    }
}

static void test_identity_in_group(void **state)
{
    static const struct {
        const char *group;
        int in;
    } rows[] = {
        {"11111111-aaaa-4bbb-8ccc-000000000001", 1},
        {"11111111-AAAA-4BBB-8CCC-000000000001", 1},
        {"22222222-aaaa-4bbb-8ccc-000000000002", 1},
        {"33333333-aaaa-4bbb-8ccc-000000000003", 0},
        {"11111111-aaaa-4bbb-8ccc-00000000000", 0},
        {"11111111-aaaa-4bbb-8ccc-0000000000011", 0},
        {"", 0},
    };
    msoauth_identity_t *id, none;
    size_t i;
    int failures = 0;

    (void)state;
    /* the groups claim alone does not make membership: only resolved groups count */
    id = build("{\"oid\":\"o\",\"groups\":[\"33333333-aaaa-4bbb-8ccc-000000000003\"]}", NULL, NULL);
    *(const char **)apr_array_push(id->groups) = "11111111-aaaa-4bbb-8ccc-000000000001";
    *(const char **)apr_array_push(id->groups) = "22222222-aaaa-4bbb-8ccc-000000000002";
    for (i = 0; i < ROWS(rows); i++) {
        int got = msoauth_identity_in_group(id, rows[i].group);
        ROW_CHECK(failures, got == rows[i].in, "row %zu '%s': expected %d, got %d", i,
                  rows[i].group, rows[i].in, got);
    }
    assert_int_equal(failures, 0);
    memset(&none, 0, sizeof(none));
    assert_false(msoauth_identity_in_group(&none, "11111111-aaaa-4bbb-8ccc-000000000001"));
}

/* Every field added at or after sign-in survives the session: activity time, token handle, time
 * zone, locale, the two flags, array claims element by element, and resolved groups. */
static void test_identity_round_trips_the_session_fields(void **state)
{
    msoauth_identity_t *id, *back = NULL;
    const char *payload, *err = NULL;

    (void)state;
    id = build("{\"oid\":\"o\"," PERSONAL ",\"email\":\"bob@outlook.test\","
               "\"preferred_username\":\"bob@outlook.test\",\"xms_pl\":\"en-GB\","
               "\"roles\":[\"a&b\",\"c=d\",\"e,f\",\"\",\"g+h %41\"],\"groups\":[],"
               "\"amr\":[\"pwd\",\"mfa\"]}",
               NULL, NULL);
    id->sid = "sid-1";
    id->last_seen = NOW + 120;
    id->token_handle = "h4ndle_-XYZ";
    id->timezone = "America/Argentina/Buenos_Aires";
    id->has_photo = 1;
    *(const char **)apr_array_push(id->groups) = "11111111-aaaa-4bbb-8ccc-000000000001";
    *(const char **)apr_array_push(id->groups) = "22222222-aaaa-4bbb-8ccc-000000000002";
    assert_int_equal(id->email_verified, 1);
    payload = msoauth_identity_serialize(unit_pool, id);
    assert_int_equal(msoauth_identity_parse(unit_pool, payload, &back, &err), APR_SUCCESS);
    assert_same_identity(id, back);
    assert_true(back->last_seen == NOW + 120);
    assert_string_equal(back->token_handle, "h4ndle_-XYZ");
    assert_string_equal(back->timezone, "America/Argentina/Buenos_Aires");
    assert_string_equal(back->locale, "en-GB");
    assert_int_equal(back->email_verified, 1);
    assert_int_equal(back->has_photo, 1);
    assert_string_equal(apr_table_get(back->claims, "roles"), "a&b,c=d,e,f,,g+h %41");
    assert_true(msoauth_identity_claim_has(back, "roles", "e,f"));
    assert_false(msoauth_identity_claim_has(back, "roles", "")); /* an empty value never matches */
    assert_true(msoauth_identity_claim_has(back, "roles", "g+h %41"));
    assert_false(msoauth_identity_claim_has(back, "roles", "e"));
    assert_true(msoauth_identity_in_group(back, "22222222-AAAA-4BBB-8CCC-000000000002"));
    assert_int_equal(back->groups->nelts, 2);
}

/* Empty optional fields are left out of the payload (it travels in a cookie on every request),
 * and read back as empty. */
static void test_identity_payload_leaves_out_empty_optional_fields(void **state)
{
    static const char *const absent[] = {"&h=", "&tz=", "&lc=", "&ev=", "&ph=", "&g=", "&l."};
    msoauth_identity_t *id, *back = NULL;
    const char *payload, *err = NULL;
    size_t i;

    (void)state;
    id = build("{\"oid\":\"o\"," WORK ",\"email\":\"a@contoso.test\"}", NULL, NULL);
    payload = msoauth_identity_serialize(unit_pool, id);
    for (i = 0; i < ROWS(absent); i++) {
        if (strstr(payload, absent[i])) {
            fail_msg("'%s' in payload '%s'", absent[i], payload);
        }
    }
    assert_non_null(strstr(payload, "&a=1700000000"));
    assert_int_equal(msoauth_identity_parse(unit_pool, payload, &back, &err), APR_SUCCESS);
    assert_string_equal(back->token_handle, "");
    assert_string_equal(back->timezone, "");
    assert_string_equal(back->locale, "");
    assert_int_equal(back->email_verified, 0);
    assert_int_equal(back->has_photo, 0);
    assert_int_equal(back->groups->nelts, 0);
}

/* Payload rows for the fields added with the session features. */
static void test_identity_parse_reads_the_session_fields(void **state)
{
    static const struct {
        const char *payload;
        apr_int64_t last_seen;
        int ev, ph;
        const char *roles, *groups;
    } rows[] = {
        {"v=1&t=100&ru=x", 100, 0, 0, NULL, ""},                  /* no "a": the login time */
        {"v=1&t=100&ru=x&a=160", 160, 0, 0, NULL, ""},
        {"v=1&t=100&ru=x&ev=1&ph=1", 100, 1, 1, NULL, ""},
        {"v=1&t=100&ru=x&ev=0&ph=0", 100, 0, 0, NULL, ""},
        {"v=1&t=100&ru=x&ev=true&ph=yes", 100, 0, 0, NULL, ""},
        {"v=1&t=100&ru=x&l.roles=a&l.roles=b%2Cc", 100, 0, 0, "a,b,c", ""},
        {"v=1&t=100&ru=x&l.roles=&l.roles=b", 100, 0, 0, ",b", ""},
        {"v=1&t=100&ru=x&c.roles=a%2Cb", 100, 0, 0, "a,b", ""},
        {"v=1&t=100&ru=x&g=G1&g=g2", 100, 0, 0, NULL, "G1 g2"},
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(rows); i++) {
        msoauth_identity_t *id = NULL;
        const char *err = NULL;
        apr_status_t rv = msoauth_identity_parse(unit_pool, rows[i].payload, &id, &err);
        ROW_CHECK(failures,
                  rv == APR_SUCCESS && id && id->last_seen == rows[i].last_seen
                      && id->email_verified == rows[i].ev && id->has_photo == rows[i].ph
                      && unit_streq(apr_table_get(id->claims, "roles"), rows[i].roles)
                      && unit_streq(groups_text(id->groups), rows[i].groups),
                  "row %zu '%s': rv %d (%s)", i, rows[i].payload, rv, unit_show(err));
    }
    assert_int_equal(failures, 0);
}

/* A claim left out for size is gone from claim_lists too: no Require rule can match a claim
 * the session does not hold. */
static void test_identity_dropped_array_claims_leave_no_elements(void **state)
{
    json_t *claims = msoauth_json_own(unit_pool, json_pack("{s:s}", "oid", "o"));
    msoauth_identity_t *id = NULL;
    const char *err = NULL, *dropped = NULL, *payload;
    const apr_array_header_t *arr;
    const apr_table_entry_t *e;
    int i, k;

    (void)state;
    /* six arrays of 60 short elements: each well under the per-claim cap, together too big */
    for (k = 0; k < 6; k++) {
        json_t *arr_claim = json_array();
        for (i = 0; i < 60; i++) {
            json_array_append_new(arr_claim,
                                  json_string(apr_psprintf(unit_pool, "r%d-%02d", k, i)));
        }
        json_object_set_new(claims, apr_psprintf(unit_pool, "list%d", k), arr_claim);
    }
    assert_int_equal(
        msoauth_identity_build(unit_pool, claims, NULL, "oid", NOW, &id, &dropped, &err),
        APR_SUCCESS);
    assert_non_null(dropped);
    payload = msoauth_identity_serialize(unit_pool, id);
    assert_true(strlen(payload) <= MSOAUTH_PAYLOAD_MAX);
    arr = apr_table_elts(id->claim_lists);
    e = (const apr_table_entry_t *)arr->elts;
    for (i = 0; i < arr->nelts; i++) {
        if (!apr_table_get(id->claims, e[i].key)) {
            fail_msg("claim_lists keeps '%s' after the claim was dropped (%s)", e[i].key, dropped);
        }
    }
    for (k = 0; k < 6; k++) {
        const char *name = apr_psprintf(unit_pool, "list%d", k);
        if (!apr_table_get(id->claims, name)) {
            assert_false(
                msoauth_identity_claim_has(id, name, apr_psprintf(unit_pool, "r%d-00", k)));
        }
        else {
            assert_true(msoauth_identity_claim_has(id, name, apr_psprintf(unit_pool, "r%d-59", k)));
        }
    }
}

/* The payload budget (MSOAUTH_PAYLOAD_MAX) is what keeps the session cookie under 4 KB. The
 * callback completes the identity after msoauth_identity_build has trimmed it: a 22-character
 * sid, a 43-character token handle, the time zone, the photo flag and the wanted groups. The
 * stored identity must still fit: build has to leave room for them. */
static void test_identity_budget_leaves_room_for_what_sign_in_adds(void **state)
{
    char *value = apr_palloc(unit_pool, MSOAUTH_CLAIM_VALUE_MAX + 1);
    json_t *claims =
        msoauth_json_own(unit_pool, json_pack("{s:s, s:s}", "oid", "o", "tid", WORK_TID));
    msoauth_identity_t *id = NULL;
    const char *err = NULL, *dropped = NULL;
    apr_size_t at_build, completed;
    int i;

    (void)state;
    /* a token whose claims add up past the budget: build trims it to fit */
    for (i = 0; i < 8; i++) {
        memset(value, 'a' + i, 300 + 97 * i);
        value[300 + 97 * i] = '\0';
        json_object_set_new(claims, apr_psprintf(unit_pool, "ext%d", i), json_string(value));
    }
    assert_int_equal(
        msoauth_identity_build(unit_pool, claims, NULL, "oid", NOW, &id, &dropped, &err),
        APR_SUCCESS);
    assert_non_null(dropped);
    at_build = strlen(msoauth_identity_serialize(unit_pool, id));
    assert_true(at_build <= MSOAUTH_PAYLOAD_MAX);
    /* what msoauth_callback_handle sets afterwards (sizes as callback.c and tokenstore.c make
     * them: msoauth_random_b64url(16) and (32)) */
    id->sid = "AAAAAAAAAAAAAAAAAAAAAA";
    id->token_handle = "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB";
    id->timezone = "America/Argentina/Buenos_Aires";
    id->has_photo = 1;
    *(const char **)apr_array_push(id->groups) = "11111111-aaaa-4bbb-8ccc-000000000001";
    *(const char **)apr_array_push(id->groups) = "22222222-aaaa-4bbb-8ccc-000000000002";
    completed = strlen(msoauth_identity_serialize(unit_pool, id));
    if (completed > MSOAUTH_PAYLOAD_MAX) {
        fail_msg("payload is %zu bytes at build, %zu once sign-in completes it: over "
                 "MSOAUTH_PAYLOAD_MAX (%d)",
                 at_build, completed, MSOAUTH_PAYLOAD_MAX);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_username_keeps_only_lowercased_ascii_alphanumerics),
        UNIT_TEST(test_name_normalize_trims_and_collapses_white_space),
        UNIT_TEST(test_value_clean_replaces_control_characters),
        UNIT_TEST(test_claim_env_name_maps_to_env_safe_characters),
        UNIT_TEST(test_account_type_is_personal_only_for_the_consumer_tenant),
        UNIT_TEST(test_identity_email_fallback_order),
        UNIT_TEST(test_identity_user_id_prefers_graph_id),
        UNIT_TEST(test_identity_names_prefer_graph_and_are_normalised),
        UNIT_TEST(test_identity_build_sets_tenant_and_login_time),
        UNIT_TEST(test_identity_remote_user_claim),
        UNIT_TEST(test_identity_claims_are_flattened),
        UNIT_TEST(test_identity_neutralises_nul_in_values),
        UNIT_TEST(test_identity_claim_names_are_cleaned),
        UNIT_TEST(test_identity_drops_and_reports_oversized_claims),
        UNIT_TEST(test_identity_from_a_large_token_still_fits_the_session),
        UNIT_TEST(test_identity_serialize_parse_round_trip),
        UNIT_TEST(test_identity_round_trips_a_minimal_identity),
        UNIT_TEST(test_identity_parse_accepts_well_formed_payloads),
        UNIT_TEST(test_identity_parse_rejects_malformed_payloads),
        UNIT_TEST(test_identity_build_sets_the_session_fields),
        UNIT_TEST(test_identity_locale_source),
        UNIT_TEST(test_identity_email_verified),
        UNIT_TEST(test_identity_array_claims_are_kept_element_wise),
        UNIT_TEST(test_identity_claim_has),
        UNIT_TEST(test_identity_claim_has_empty_array_contains_nothing),
        UNIT_TEST(test_identity_in_group),
        UNIT_TEST(test_identity_round_trips_the_session_fields),
        UNIT_TEST(test_identity_payload_leaves_out_empty_optional_fields),
        UNIT_TEST(test_identity_parse_reads_the_session_fields),
        UNIT_TEST(test_identity_dropped_array_claims_leave_no_elements),
        UNIT_TEST(test_identity_budget_leaves_room_for_what_sign_in_adds),
    };
    return cmocka_run_group_tests_name("identity", tests, unit_group_setup, unit_group_teardown);
}
