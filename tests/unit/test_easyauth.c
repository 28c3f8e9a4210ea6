/* Unit tests for src/easyauth.c: the App Service X-MS-CLIENT-PRINCIPAL header, decoded back and
 * checked the way an app written for App Service reads it. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <apr_strings.h>
#include <apr_encode.h>

#include "unit.h"
#include "easyauth.h"
#include "identity.h"
#include "json.h"

#define NOW 1700000000
#define WORK_TID "72f988bf-86f1-41af-91ab-2d7cd011db47"

static json_t *parse(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);

    if (!v) {
        fail_msg("test JSON does not parse: %s: %s", jerr.text, text);
    }
    return msoauth_json_own(unit_pool, v);
}

static msoauth_identity_t *build(const char *claims)
{
    msoauth_identity_t *id = NULL;
    const char *err = NULL, *dropped = NULL;

    if (msoauth_identity_build(unit_pool, parse(claims), NULL, "oid", NOW, &id, &dropped, &err)
        != APR_SUCCESS) {
        fail_msg("identity_build failed: %s", unit_show(err));
    }
    return id;
}

/* The identity as a later request sees it: through the session payload and back. */
static msoauth_identity_t *through_session(const msoauth_identity_t *id)
{
    msoauth_identity_t *back = NULL;
    const char *err = NULL;

    if (msoauth_identity_parse(unit_pool, msoauth_identity_serialize(unit_pool, id), &back, &err)
        != APR_SUCCESS) {
        fail_msg("session round trip failed: %s", unit_show(err));
    }
    return back;
}

/* Base64 (standard alphabet, padded) -> the principal object, checked for its fixed members. */
static json_t *decode_principal(const char *header)
{
    apr_size_t len = 0;
    const char *json;
    json_t *o;

    assert_non_null(header);
    assert_int_equal(strlen(header) % 4, 0);
    assert_int_equal(strspn(header, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                    "0123456789+/="),
                     strlen(header));
    json = apr_pdecode_base64(unit_pool, header, APR_ENCODE_STRING, APR_ENCODE_NONE, &len);
    assert_non_null(json);
    o = parse(json);
    assert_true(json_is_object(o));
    assert_string_equal(msoauth_json_str(o, "auth_typ"), "aad");
    assert_string_equal(msoauth_json_str(o, "name_typ"), MSOAUTH_EASYAUTH_NAME_TYP);
    assert_string_equal(msoauth_json_str(o, "role_typ"), MSOAUTH_EASYAUTH_ROLE_TYP);
    assert_true(json_is_array(json_object_get(o, "claims")));
    return o;
}

/* How many {typ, val} entries the principal holds for typ (and val, when not NULL). */
static int count(const json_t *principal, const char *typ, const char *val)
{
    const json_t *claims = json_object_get(principal, "claims"), *c;
    size_t i;
    int n = 0;

    json_array_foreach(claims, i, c) {
        const char *t = msoauth_json_str(c, "typ"), *v = msoauth_json_str(c, "val");
        if (!t || !v || json_object_size(c) != 2) {
            fail_msg("claims[%zu] is not {typ, val}", i);
        }
        if (!strcmp(t, typ) && (!val || !strcmp(v, val))) {
            n++;
        }
    }
    return n;
}

#define FULL_CLAIMS                                                                                \
    "{\"oid\":\"00000000-0000-0000-0000-0000000000aa\",\"tid\":\"" WORK_TID "\","                  \
    "\"preferred_username\":\"alice@contoso.test\",\"name\":\"Jos\\u00e9 M\\u00fcller\","          \
    "\"roles\":[\"Admin\",\"Reader\",\"a,b\"],\"groups\":[\"g-1\",\"g-2\"],\"ver\":\"2.0\","       \
    "\"iat\":1700000000,\"amr\":[\"pwd\"]}"

/* Every claim appears, arrays one entry per element (never the comma-joined form), plus one
 * name_typ entry (preferred_username) and one role_typ entry per role. */
static void test_easyauth_principal_holds_every_claim(void **state)
{
    static const struct {
        const char *typ, *val;
        int n;
    } rows[] = {
        {"oid", "00000000-0000-0000-0000-0000000000aa", 1},
        {"tid", WORK_TID, 1},
        {"preferred_username", "alice@contoso.test", 1},
        {"name", "Jos\xc3\xa9 M\xc3\xbcller", 1},
        {"ver", "2.0", 1},
        {"iat", "1700000000", 1},
        {"roles", "Admin", 1},
        {"roles", "Reader", 1},
        {"roles", "a,b", 1},                       /* an element holding ',' stays one */
        {"roles", "Admin,Reader,a,b", 0},
        {"roles", NULL, 3},
        {"groups", "g-1", 1},
        {"groups", "g-2", 1},
        {"groups", NULL, 2},
        {"amr", "pwd", 1},
        {MSOAUTH_EASYAUTH_NAME_TYP, "alice@contoso.test", 1},
        {MSOAUTH_EASYAUTH_NAME_TYP, NULL, 1},
        {MSOAUTH_EASYAUTH_ROLE_TYP, "Admin", 1},
        {MSOAUTH_EASYAUTH_ROLE_TYP, "Reader", 1},
        {MSOAUTH_EASYAUTH_ROLE_TYP, "a,b", 1},
        {MSOAUTH_EASYAUTH_ROLE_TYP, NULL, 3},
    };
    msoauth_identity_t *id = build(FULL_CLAIMS);
    const msoauth_identity_t *versions[2];
    size_t i, v;
    int failures = 0;

    (void)state;
    versions[0] = id;                    /* at sign-in */
    versions[1] = through_session(id);   /* on every later request */
    for (v = 0; v < 2; v++) {
        json_t *principal = decode_principal(msoauth_easyauth_principal(unit_pool, versions[v]));
        for (i = 0; i < ROWS(rows); i++) {
            int got = count(principal, rows[i].typ, rows[i].val);
            ROW_CHECK(failures, got == rows[i].n, "%s, row %zu %s=%s: expected %d entries, got %d",
                      v ? "after the session" : "at sign-in", i, rows[i].typ,
                      unit_show(rows[i].val), rows[i].n, got);
        }
        /* 6 scalar claims, 3 roles, 2 groups, 1 amr, then name_typ and 3 role_typ */
        ROW_CHECK(failures,
                  json_array_size(json_object_get(principal, "claims")) == 6 + 3 + 2 + 1 + 1 + 3,
                  "%s: %zu claim entries", v ? "after the session" : "at sign-in",
                  json_array_size(json_object_get(principal, "claims")));
    }
    assert_int_equal(failures, 0);
}

/* Without preferred_username there is no name_typ entry; without roles no role_typ entry. */
static void test_easyauth_principal_without_name_or_roles(void **state)
{
    json_t *principal;

    (void)state;
    principal = decode_principal(msoauth_easyauth_principal(unit_pool, build("{\"oid\":\"o-1\"}")));
    assert_int_equal(json_array_size(json_object_get(principal, "claims")), 1);
    assert_int_equal(count(principal, "oid", "o-1"), 1);
    assert_int_equal(count(principal, MSOAUTH_EASYAUTH_NAME_TYP, NULL), 0);
    assert_int_equal(count(principal, MSOAUTH_EASYAUTH_ROLE_TYP, NULL), 0);
}

/* A roles claim that is a single string is one role. */
static void test_easyauth_principal_single_string_role(void **state)
{
    json_t *principal;

    (void)state;
    principal = decode_principal(
        msoauth_easyauth_principal(unit_pool, build("{\"oid\":\"o\",\"roles\":\"Admin\"}")));
    assert_int_equal(count(principal, MSOAUTH_EASYAUTH_ROLE_TYP, NULL), 1);
    assert_int_equal(count(principal, MSOAUTH_EASYAUTH_ROLE_TYP, "Admin"), 1);
    assert_int_equal(count(principal, "roles", "Admin"), 1);
}

/* "roles": [] means no roles: no role_typ entry (an app would otherwise see a role named ""),
 * at sign-in and after the session. */
static void test_easyauth_principal_empty_roles_gives_no_role(void **state)
{
    msoauth_identity_t *id;
    json_t *at_sign_in, *later;

    (void)state;
    id = build("{\"oid\":\"o\",\"roles\":[]}");
    at_sign_in = decode_principal(msoauth_easyauth_principal(unit_pool, id));
    later = decode_principal(msoauth_easyauth_principal(unit_pool, through_session(id)));
    if (count(at_sign_in, MSOAUTH_EASYAUTH_ROLE_TYP, NULL) != 0
        || count(later, MSOAUTH_EASYAUTH_ROLE_TYP, NULL) != 0) {
        fail_msg("roles [] gave %d role_typ entries at sign-in and %d later (role_typ val \"\")",
                 count(at_sign_in, MSOAUTH_EASYAUTH_ROLE_TYP, NULL),
                 count(later, MSOAUTH_EASYAUTH_ROLE_TYP, NULL));
    }
}

/* Values are the cleaned ones (no control characters), JSON-escaped, non-ASCII kept. */
static void test_easyauth_principal_values_are_clean_and_escaped(void **state)
{
    json_t *principal;

    (void)state;
    principal = decode_principal(msoauth_easyauth_principal(
        unit_pool, build("{\"oid\":\"o\",\"name\":\"a\\r\\nX-Evil: 1\","
                         "\"q\":\"say \\\"hi\\\" \\\\ <b>\",\"uni\":\"\\u674e\\ud83d\\ude00\","
                         "\"nul\":\"a\\u0000b\",\"obj\":{\"k\":[1,2]}}")));
    assert_int_equal(count(principal, "name", "a  X-Evil: 1"), 1);
    assert_int_equal(count(principal, "q", "say \"hi\" \\ <b>"), 1);
    assert_int_equal(count(principal, "uni", "\xe6\x9d\x8e\xf0\x9f\x98\x80"), 1);
    assert_int_equal(count(principal, "nul", "a b"), 1);
    assert_int_equal(count(principal, "obj", "{\"k\":[1,2]}"), 1);
}

/* A header of plain ASCII: what an app base64-decodes. */
static void test_easyauth_principal_exact_minimal_form(void **state)
{
    const char *header;
    apr_size_t len = 0;

    (void)state;
    header = msoauth_easyauth_principal(unit_pool, build("{\"oid\":\"o\"}"));
    assert_string_equal(
        apr_pdecode_base64(unit_pool, header, APR_ENCODE_STRING, APR_ENCODE_NONE, &len),
        "{\"auth_typ\":\"aad\",\"claims\":[{\"typ\":\"oid\",\"val\":\"o\"}],"
        "\"name_typ\":\"" MSOAUTH_EASYAUTH_NAME_TYP "\",\"role_typ\":\"" MSOAUTH_EASYAUTH_ROLE_TYP
        "\"}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_easyauth_principal_holds_every_claim),
        UNIT_TEST(test_easyauth_principal_without_name_or_roles),
        UNIT_TEST(test_easyauth_principal_single_string_role),
        UNIT_TEST(test_easyauth_principal_empty_roles_gives_no_role),
        UNIT_TEST(test_easyauth_principal_values_are_clean_and_escaped),
        UNIT_TEST(test_easyauth_principal_exact_minimal_form),
    };
    return cmocka_run_group_tests_name("easyauth", tests, unit_group_setup, unit_group_teardown);
}
