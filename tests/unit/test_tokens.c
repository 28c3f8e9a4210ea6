/* Unit tests for src/tokens.c: the server-side token record (sealed at rest), the refresh
 * decision and the refresh_token grant's request body. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <apr_strings.h>
#include <apr_escape.h>

#include "unit.h"
#include "tokens.h"
#include "token.h"
#include "seal.h"

#define NOW 1700000000
#define AAD "msoauth tokens v1|00000000-1111-2222-3333-444444444444|handle-1"

/* Fixed keys: the record format is under test here, not key derivation (test_seal). */
static const unsigned char key[MSOAUTH_KEY_LEN] = "0123456789abcdef0123456789abcde";
static const unsigned char other_key[MSOAUTH_KEY_LEN] = "fedcba9876543210fedcba987654321";

static const char *seal_record(const msoauth_tokens_t *t)
{
    const char *sealed = NULL;

    assert_int_equal(msoauth_tokens_seal(unit_pool, key, AAD, t, &sealed), APR_SUCCESS);
    assert_non_null(sealed);
    return sealed;
}

static void test_tokens_seal_open_round_trip(void **state)
{
    static const msoauth_tokens_t rows[] = {
        {"eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.e30.sig", NOW + 3599, "0.AXYA-refresh_token.x",
         0},
        {"at", NOW, "", NOW - 3},
        {"at with \"quotes\" and \\ and \xc3\xa9", 1, "rt", 1},
        {"", 0, "", 0},
        {"at", APR_INT64_C(4102444800), "rt", APR_INT64_C(4102444800)}, /* past 2038 */
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(rows); i++) {
        msoauth_tokens_t *back = NULL;
        const char *err = NULL;
        apr_status_t rv =
            msoauth_tokens_open(unit_pool, key, AAD, seal_record(&rows[i]), &back, &err);
        ROW_CHECK(failures,
                  rv == APR_SUCCESS && back && unit_streq(back->access_token, rows[i].access_token)
                      && back->expires_at == rows[i].expires_at
                      && unit_streq(back->refresh_token, rows[i].refresh_token)
                      && back->refreshing_since == rows[i].refreshing_since,
                  "row %zu: rv %d (%s)", i, rv, unit_show(err));
    }
    assert_int_equal(failures, 0);
}

/* No refresh token (offline_access not granted): stored as "", never NULL when read back. */
static void test_tokens_missing_refresh_token_reads_back_empty(void **state)
{
    msoauth_tokens_t t = {"at", NOW + 60, NULL, 0}, *back = NULL;
    const char *err = NULL;

    (void)state;
    assert_int_equal(msoauth_tokens_open(unit_pool, key, AAD, seal_record(&t), &back, &err),
                     APR_SUCCESS);
    assert_string_equal(back->refresh_token, "");
}

/* The record is encrypted: no token is readable in the stored form. */
static void test_tokens_sealed_form_hides_the_tokens(void **state)
{
    msoauth_tokens_t t = {"ACCESS-TOKEN-SECRET", NOW, "REFRESH-TOKEN-SECRET", 0};
    const char *sealed;

    (void)state;
    sealed = seal_record(&t);
    assert_null(strstr(sealed, "SECRET"));
    assert_null(strstr(sealed, "ACCESS"));
    /* and each sealing is fresh (random IV) */
    assert_string_not_equal(sealed, seal_record(&t));
}

/* A record sealed for another session (aad), under another key, or altered does not open. */
static void test_tokens_open_refuses_foreign_records(void **state)
{
    msoauth_tokens_t t = {"at", NOW, "rt", 0}, *back;
    const char *sealed, *err;
    char *tampered;

    (void)state;
    sealed = seal_record(&t);

    back = (msoauth_tokens_t *)1;
    err = NULL;
    assert_int_equal(msoauth_tokens_open(unit_pool, other_key, AAD, sealed, &back, &err),
                     APR_EINVAL);
    assert_null(back);
    assert_non_null(err);

    back = (msoauth_tokens_t *)1;
    err = NULL;
    assert_int_equal(msoauth_tokens_open(unit_pool, key, AAD "x", sealed, &back, &err), APR_EINVAL);
    assert_null(back);
    assert_non_null(err);

    tampered = apr_pstrdup(unit_pool, sealed);
    tampered[strlen(tampered) / 2] = tampered[strlen(tampered) / 2] == 'A' ? 'B' : 'A';
    back = (msoauth_tokens_t *)1;
    err = NULL;
    assert_int_equal(msoauth_tokens_open(unit_pool, key, AAD, tampered, &back, &err), APR_EINVAL);
    assert_null(back);
    assert_non_null(err);

    back = (msoauth_tokens_t *)1;
    err = NULL;
    assert_int_equal(msoauth_tokens_open(unit_pool, key, AAD, "", &back, &err), APR_EINVAL);
    assert_null(back);
    assert_non_null(err);
}

/* Sealed correctly but not a token record: refused with a reason. */
static void test_tokens_open_refuses_malformed_records(void **state)
{
    static const char *const plains[] = {
        "not json",
        "[]",
        "{}",
        "{\"at\":\"a\",\"exp\":1,\"rt\":\"r\"}",                     /* rf missing */
        "{\"at\":\"a\",\"exp\":1,\"rt\":\"r\",\"rf\":0,\"x\":1}",     /* unknown member */
        "{\"at\":1,\"exp\":1,\"rt\":\"r\",\"rf\":0}",
        "{\"at\":\"a\",\"exp\":\"1\",\"rt\":\"r\",\"rf\":0}",
        "{\"at\":\"a\",\"exp\":1,\"rt\":null,\"rf\":0}",
        "{\"at\":\"a\",\"exp\":1.5,\"rt\":\"r\",\"rf\":0}",
        "{\"at\":\"a\",\"at\":\"b\",\"exp\":1,\"rt\":\"r\",\"rf\":0}", /* duplicate key */
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(plains); i++) {
        const char *sealed = NULL, *err = NULL;
        msoauth_tokens_t *back = (msoauth_tokens_t *)1;
        apr_status_t rv;

        assert_int_equal(msoauth_seal(unit_pool, key, AAD, plains[i], strlen(plains[i]), &sealed),
                         APR_SUCCESS);
        rv = msoauth_tokens_open(unit_pool, key, AAD, sealed, &back, &err);
        ROW_CHECK(failures, rv == APR_EINVAL && back == NULL && err && *err,
                  "row %zu '%s': rv %d, accepted", i, plains[i], rv);
    }
    assert_int_equal(failures, 0);
}

/* Refresh when less than MSOAUTH_REFRESH_MARGIN seconds are left; an unknown expiry never. */
static void test_tokens_need_refresh(void **state)
{
    static const struct {
        apr_int64_t expires_at;
        int refresh;
    } rows[] = {
        {0, 0},                                 /* unknown */
        {NOW + 3600, 0},
        {NOW + MSOAUTH_REFRESH_MARGIN + 1, 0},
        {NOW + MSOAUTH_REFRESH_MARGIN, 0},
        {NOW + MSOAUTH_REFRESH_MARGIN - 1, 1},
        {NOW + 1, 1},
        {NOW, 1},
        {NOW - 1, 1},
        {NOW - 86400, 1},
        {1, 1},
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(rows); i++) {
        msoauth_tokens_t t = {"at", rows[i].expires_at, "rt", 0};
        int got = msoauth_tokens_need_refresh(&t, NOW);
        ROW_CHECK(failures, got == rows[i].refresh,
                  "row %zu (expires at now%+" APR_INT64_T_FMT "): expected %d, got %d", i,
                  rows[i].expires_at - NOW, rows[i].refresh, got);
        /* whether someone else is refreshing is tokenstore's business, not this decision's */
        t.refreshing_since = NOW - 1;
        ROW_CHECK(failures, msoauth_tokens_need_refresh(&t, NOW) == rows[i].refresh,
                  "row %zu: refreshing_since changes the decision", i);
    }
    assert_int_equal(failures, 0);
}

/* Each value form-encoded: no value can add or change a parameter. */
static void test_refresh_request_body_escapes_every_value(void **state)
{
    static const struct {
        const char *client_id, *secret, *refresh_token, *scope;
    } rows[] = {
        {"00000000-1111-2222-3333-444444444444", "s3cret~", "0.AXYA_abc-def.ghi*",
         "openid profile email offline_access User.Read"},
        {"id", "a&b=c+d e/f%g", "rt&grant_type=password", "openid offline_access"},
        {"id&client_secret=x", "\xc3\xa9\r\n\t", "%2B", ""},
    };
    static const char *const names[] = {"grant_type", "client_id", "client_secret",
                                        "refresh_token", "scope"};
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(rows); i++) {
        const char *body = msoauth_refresh_request_body(unit_pool, rows[i].client_id,
                                                        rows[i].secret, rows[i].refresh_token,
                                                        rows[i].scope);
        const char *values[5];

        values[0] = "refresh_token";
        values[1] = rows[i].client_id;
        values[2] = rows[i].secret;
        values[3] = rows[i].refresh_token;
        values[4] = rows[i].scope;
        failures += unit_check_form(i, body, names, values, 5);
    }
    assert_int_equal(failures, 0);
}

static void test_refresh_request_body_exact_form(void **state)
{
    (void)state;
    assert_string_equal(
        msoauth_refresh_request_body(unit_pool, "cid", "p&q", "0.rt/x+y", "openid offline_access"),
        "grant_type=refresh_token&client_id=cid&client_secret=p%26q&refresh_token=0.rt%2fx%2by"
        "&scope=openid+offline_access");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_tokens_seal_open_round_trip),
        UNIT_TEST(test_tokens_missing_refresh_token_reads_back_empty),
        UNIT_TEST(test_tokens_sealed_form_hides_the_tokens),
        UNIT_TEST(test_tokens_open_refuses_foreign_records),
        UNIT_TEST(test_tokens_open_refuses_malformed_records),
        UNIT_TEST(test_tokens_need_refresh),
        UNIT_TEST(test_refresh_request_body_escapes_every_value),
        UNIT_TEST(test_refresh_request_body_exact_form),
    };
    return cmocka_run_group_tests_name("tokens", tests, unit_group_setup, unit_group_teardown);
}
