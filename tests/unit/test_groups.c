/* Unit tests for src/groups.c, the parts without HTTP: the registry of groups that Require
 * msoauth-group lines name, overage detection, and the wanted groups from the token's claim.
 * (msoauth_groups_from_graph is covered by the integration tests against the mock Graph.) */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <apr_strings.h>

#include "unit.h"
#include "groups.h"
#include "json.h"

#define G1 "11111111-aaaa-4bbb-8ccc-000000000001"
#define G1_UPPER "11111111-AAAA-4BBB-8CCC-000000000001"
#define G2 "22222222-aaaa-4bbb-8ccc-000000000002"
#define G3 "33333333-aaaa-4bbb-8ccc-000000000003"
#define NOT_WANTED "99999999-aaaa-4bbb-8ccc-000000000009"

static json_t *parse(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);

    if (!v) {
        fail_msg("test JSON does not parse: %s: %s", jerr.text, text);
    }
    return msoauth_json_own(unit_pool, v);
}

/* The registry lives in the config pool; here in unit_pool, so every test starts afresh. */
static int registry_reset(void **state)
{
    (void)state;
    msoauth_groups_wanted_reset();
    return 0;
}

static int registry_teardown(void **state)
{
    msoauth_groups_wanted_reset();
    return unit_clear_pool(state);
}

#define GROUPS_TEST(f) cmocka_unit_test_setup_teardown(f, registry_reset, registry_teardown)

static const char *joined(const apr_array_header_t *a)
{
    return a ? apr_array_pstrcat(unit_pool, a, ' ') : "(null)";
}

static void test_groups_registry_reset_and_add(void **state)
{
    (void)state;
    assert_false(msoauth_groups_any_wanted());
    msoauth_groups_wanted_add(unit_pool, G1);
    assert_true(msoauth_groups_any_wanted());
    msoauth_groups_wanted_add(unit_pool, G2);
    assert_true(msoauth_groups_any_wanted());
    /* a new configuration pass starts empty */
    msoauth_groups_wanted_reset();
    assert_false(msoauth_groups_any_wanted());
    msoauth_groups_wanted_add(unit_pool, G3);
    assert_true(msoauth_groups_any_wanted());
}

/* The caller's string is copied: the registry does not keep a pointer into a config line. */
static void test_groups_registry_copies_the_name(void **state)
{
    char line[64];

    (void)state;
    apr_cpystrn(line, G1_UPPER, sizeof(line));
    msoauth_groups_wanted_add(unit_pool, line);
    memset(line, 'x', strlen(line));
    assert_string_equal(
        joined(msoauth_groups_from_claims(unit_pool, parse("{\"groups\":[\"" G1 "\"]}"))), G1);
}

static void test_groups_overage(void **state)
{
    static const struct {
        const char *claims;
        int overage;
    } rows[] = {
        {"{\"_claim_names\":{\"groups\":\"src1\"},\"_claim_sources\":{\"src1\":{\"endpoint\":"
         "\"https://graph.microsoft.com/v1.0/users/x/getMemberObjects\"}}}",
         1},
        {"{\"_claim_names\":{\"groups\":\"src1\"}}", 1},
        {"{\"_claim_names\":{\"roles\":\"src1\",\"groups\":\"src2\"}}", 1},
        {"{\"hasgroups\":true}", 1},
        {"{\"hasgroups\":true,\"groups\":[\"" G1 "\"]}", 1},
        {"{\"hasgroups\":false}", 0},
        {"{\"hasgroups\":null}", 0},
        {"{\"_claim_names\":{\"roles\":\"src1\"}}", 0},
        {"{\"_claim_names\":{}}", 0},
        {"{\"_claim_names\":\"groups\"}", 0},
        {"{\"_claim_names\":[\"groups\"]}", 0},
        {"{\"groups\":[\"" G1 "\",\"" G2 "\"]}", 0},
        {"{\"groups\":[]}", 0},
        {"{}", 0},
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(rows); i++) {
        int got = msoauth_groups_overage(parse(rows[i].claims));
        ROW_CHECK(failures, got == rows[i].overage, "row %zu '%s': expected %d, got %d", i,
                  rows[i].claims, rows[i].overage, got);
    }
    assert_int_equal(failures, 0);
}

/* Only the wanted groups are kept, lower-case, once each, in the token's order. */
static void test_groups_from_claims(void **state)
{
    static const struct {
        const char *claims, *expected;
    } rows[] = {
        {"{\"groups\":[\"" G1 "\",\"" G2 "\"]}", G1 " " G2},
        {"{\"groups\":[\"" G2 "\",\"" G1 "\"]}", G2 " " G1},
        {"{\"groups\":[\"" NOT_WANTED "\",\"" G2 "\",\"" NOT_WANTED "\"]}", G2},
        {"{\"groups\":[\"" G1_UPPER "\"]}", G1},
        {"{\"groups\":[\"" G1 "\",\"" G1_UPPER "\",\"" G1 "\"]}", G1},
        {"{\"groups\":[\"" NOT_WANTED "\"]}", ""},
        {"{\"groups\":[\"" G1 " \",\" " G1 "\",\"" G1 "x\"]}", ""},  /* no near matches */
        {"{\"groups\":[1,null,true,{\"id\":\"" G1 "\"},[\"" G1 "\"],\"" G3 "\"]}", G3},
        {"{\"groups\":\"" G1 "\"}", ""},                           /* not an array */
        {"{\"groups\":[]}", ""},
        {"{\"groups\":null}", ""},
        {"{\"roles\":[\"" G1 "\"]}", ""},
        {"{}", ""},
    };
    size_t i;
    int failures = 0;

    (void)state;
    msoauth_groups_wanted_add(unit_pool, G1_UPPER); /* config spelling does not matter */
    msoauth_groups_wanted_add(unit_pool, G2);
    msoauth_groups_wanted_add(unit_pool, G3);
    msoauth_groups_wanted_add(unit_pool, G2); /* named by two Require lines */
    for (i = 0; i < ROWS(rows); i++) {
        const apr_array_header_t *got =
            msoauth_groups_from_claims(unit_pool, parse(rows[i].claims));
        ROW_CHECK(failures, got && unit_streq(joined(got), rows[i].expected),
                  "row %zu '%s': expected '%s', got '%s'", i, rows[i].claims, rows[i].expected,
                  joined(got));
    }
    assert_int_equal(failures, 0);
}

/* No Require msoauth-group anywhere: nothing is kept, however many groups the token has. */
static void test_groups_from_claims_with_nothing_wanted(void **state)
{
    const apr_array_header_t *got;

    (void)state;
    got = msoauth_groups_from_claims(unit_pool, parse("{\"groups\":[\"" G1 "\",\"" G2 "\"]}"));
    assert_non_null(got);
    assert_int_equal(got->nelts, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        GROUPS_TEST(test_groups_registry_reset_and_add),
        GROUPS_TEST(test_groups_registry_copies_the_name),
        GROUPS_TEST(test_groups_overage),
        GROUPS_TEST(test_groups_from_claims),
        GROUPS_TEST(test_groups_from_claims_with_nothing_wanted),
    };
    return cmocka_run_group_tests_name("groups", tests, unit_group_setup, unit_group_teardown);
}
