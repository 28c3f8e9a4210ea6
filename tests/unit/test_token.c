/* Unit tests for src/token.c: the code-redemption request body and the token endpoint's answer,
 * for the authorization code and for the refresh_token grant. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <apr_strings.h>
#include <apr_escape.h>
#include <apr_tables.h>

#include "unit.h"
#include "token.h"

static apr_status_t parse(long status, const char *body, msoauth_token_resp_t *out,
                          const char **err)
{
    return msoauth_token_parse(unit_pool, status, body, body ? strlen(body) : 0, out, err);
}

static void test_token_parse_success(void **state)
{
    static const struct {
        const char *body;
        const char *access_token;
        apr_int64_t expires_in;
    } rows[] = {
        {"{\"token_type\":\"Bearer\",\"scope\":\"openid profile email "
         "User.Read\",\"expires_in\":3599,"
         "\"ext_expires_in\":3599,\"access_token\":\"EwB4A8l6\",\"id_token\":\"h.p.s\"}",
         "EwB4A8l6", 3599},
        {"{\"id_token\":\"h.p.s\",\"access_token\":\"at\",\"expires_in\":\"3599\"}", "at", 3599},
        {"{\"id_token\":\"h.p.s\",\"access_token\":\"at\",\"expires_in\":0}", "at", 0},
        {"{\"id_token\":\"h.p.s\",\"access_token\":\"at\",\"expires_in\":\"0\"}", "at", 0},
        {"{\"id_token\":\"h.p.s\",\"access_token\":\"at\"}", "at", -1},
        {"{\"id_token\":\"h.p.s\",\"access_token\":\"at\",\"expires_in\":null}", "at", -1},
        {"{\"id_token\":\"h.p.s\",\"access_token\":\"at\",\"expires_in\":\"soon\"}", "at", -1},
        {"{\"id_token\":\"h.p.s\",\"access_token\":\"at\",\"expires_in\":\"-5\"}", "at", -1},
        {"{\"id_token\":\"h.p.s\",\"access_token\":\"at\",\"expires_in\":\"12abc\"}", "at", -1},
        {"{\"id_token\":\"h.p.s\",\"access_token\":\"at\",\"expires_in\":3599.5}", "at", -1},
        {"{\"id_token\":\"h.p.s\"}", "", -1}, /* no access token: Graph skipped */
        {"{\"id_token\":\"h.p.s\",\"access_token\":7}", "", -1},
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(rows); i++) {
        msoauth_token_resp_t t;
        const char *err = NULL;
        apr_status_t rv = parse(200, rows[i].body, &t, &err);
        ROW_CHECK(
            failures,
            rv == APR_SUCCESS && unit_streq(t.id_token, "h.p.s")
                && unit_streq(t.access_token, rows[i].access_token)
                && t.expires_in == rows[i].expires_in && t.error == NULL,
            "row %zu: rv %d id_token '%s' access_token '%s' expires_in %" APR_INT64_T_FMT " (%s)",
            i, rv, unit_show(t.id_token), unit_show(t.access_token), t.expires_in, unit_show(err));
    }
    assert_int_equal(failures, 0);
}

/* "" is not a string of digits: it must read as absent (-1), not as "expires now" (0). */
static void test_token_parse_treats_empty_expires_in_as_absent(void **state)
{
    msoauth_token_resp_t t;
    const char *err = NULL;

    (void)state;
    assert_int_equal(parse(200, "{\"id_token\":\"h.p.s\",\"expires_in\":\"\"}", &t, &err),
                     APR_SUCCESS);
    assert_int_equal(t.expires_in, -1);
}

/* Microsoft's error object: AADSTS code from error_description, else from error_codes. */
static void test_token_parse_microsoft_errors(void **state)
{
    static const struct {
        long status;
        const char *body;
        const char *error, *aadsts, *trace_id, *correlation_id;
    } rows[] = {
        {400,
         "{\"error\":\"invalid_grant\",\"error_description\":\"AADSTS70008: The provided "
         "authorization "
         "code or refresh token has expired due to inactivity.\\r\\nTrace ID: t-1\\r\\nCorrelation "
         "ID: "
         "c-1\",\"error_codes\":[70008],\"timestamp\":\"2026-12-04 "
         "20:00:00Z\",\"trace_id\":\"t-1\","
         "\"correlation_id\":\"c-1\",\"error_uri\":\"https://login.microsoftonline.com/"
         "error?code=70008\"}",
         "invalid_grant", "AADSTS70008", "t-1", "c-1"},
        {400,
         "{\"error\":\"invalid_client\",\"error_description\":\"Client authentication failed.\","
         "\"error_codes\":[7000215],\"trace_id\":\"t-2\",\"correlation_id\":\"c-2\"}",
         "invalid_client", "AADSTS7000215", "t-2", "c-2"},
        {401,
         "{\"error\":\"invalid_client\",\"error_description\":\"AADSTS7000215: Invalid client "
         "secret provided.\",\"error_codes\":[1]}",
         "invalid_client", "AADSTS7000215", NULL, NULL},
        {400,
         "{\"error\":\"invalid_grant\",\"error_description\":\"AADSTS: no digits\","
         "\"error_codes\":[50126]}",
         "invalid_grant", "AADSTS50126", NULL, NULL},
        {400, "{\"error\":\"invalid_grant\",\"error_description\":\"see AADSTS70008 inside\"}",
         "invalid_grant", NULL, NULL, NULL},
        {400, "{\"error\":\"invalid_grant\",\"error_codes\":[\"70008\"]}", "invalid_grant", NULL,
         NULL, NULL},
        {400, "{\"error\":\"invalid_grant\",\"error_codes\":[]}", "invalid_grant", NULL, NULL,
         NULL},
        {400, "{\"error\":\"invalid_grant\",\"error_description\":\"AADSTS123456789012345: long\"}",
         "invalid_grant", "AADSTS1234567890", NULL, NULL},
        {400, "{\"error\":\"invalid_request\"}", "invalid_request", NULL, NULL, NULL},
        /* an error object even with 200 */
        {200, "{\"error\":\"temporarily_unavailable\",\"id_token\":\"h.p.s\"}",
         "temporarily_unavailable", NULL, NULL, NULL},
        /* JSON without "error" but a failure status */
        {500, "{\"message\":\"oops\"}", "(no error code)", NULL, NULL, NULL},
        {503, "{\"id_token\":\"h.p.s\",\"access_token\":\"at\"}", "(no error code)", NULL, NULL,
         NULL},
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(rows); i++) {
        msoauth_token_resp_t t;
        const char *err = NULL;
        apr_status_t rv = parse(rows[i].status, rows[i].body, &t, &err);
        ROW_CHECK(failures,
                  rv == MSOAUTH_ETOKENERR && unit_streq(t.error, rows[i].error)
                      && unit_streq(t.aadsts, rows[i].aadsts)
                      && unit_streq(t.trace_id, rows[i].trace_id)
                      && unit_streq(t.correlation_id, rows[i].correlation_id) && err
                      && strstr(err, apr_ltoa(unit_pool, rows[i].status)),
                  "row %zu: rv %d error '%s' aadsts '%s' trace '%s' correlation '%s' (%s)", i, rv,
                  unit_show(t.error), unit_show(t.aadsts), unit_show(t.trace_id),
                  unit_show(t.correlation_id), unit_show(err));
    }
    assert_int_equal(failures, 0);
}

static void test_token_parse_error_keeps_description(void **state)
{
    msoauth_token_resp_t t;
    const char *err = NULL;

    (void)state;
    assert_int_equal(
        parse(400, "{\"error\":\"invalid_grant\",\"error_description\":\"AADSTS70008: expired\"}",
              &t, &err),
        MSOAUTH_ETOKENERR);
    assert_string_equal(t.error_description, "AADSTS70008: expired");
    assert_null(t.id_token);
}

static void test_token_parse_rejects_unusable_bodies(void **state)
{
    static const struct {
        long status;
        const char *body;
        const char *reason;
    } rows[] = {
        {502, "<html><body>502 Bad Gateway</body></html>", "502"},
        {200, "<html>", "200"},
        {200, "", "200"},
        {200, NULL, "200"},
        {200, "[]", "object"},
        {200, "\"id_token\"", "200"},
        {200, "{\"id_token\":\"a\",\"id_token\":\"b\"}", "200"},   /* duplicate keys */
        {200, "{\"id_token\":\"h.p.s\"", "200"},                  /* truncated */
        {200, "{\"access_token\":\"at\"}", "id_token"},
        {200, "{\"id_token\":\"\",\"access_token\":\"at\"}", "id_token"},
        {200, "{\"id_token\":null,\"access_token\":\"at\"}", "id_token"},
        {200, "{\"id_token\":7,\"access_token\":\"at\"}", "id_token"},
        {200, "{\"id_token\":[\"h.p.s\"],\"access_token\":\"at\"}", "id_token"},
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(rows); i++) {
        msoauth_token_resp_t t;
        const char *err = NULL;
        apr_status_t rv = parse(rows[i].status, rows[i].body, &t, &err);
        ROW_CHECK(failures, rv == APR_EINVAL && err && strstr(err, rows[i].reason),
                  "row %zu '%s': rv %d (%s), expected a reason naming '%s'", i,
                  unit_show(rows[i].body), rv, unit_show(err), rows[i].reason);
    }
    assert_int_equal(failures, 0);
}

static void test_token_parse_rejects_oversized_body(void **state)
{
    apr_size_t n = 1024 * 1024 + 1;
    char *body = apr_palloc(unit_pool, n + 1);
    msoauth_token_resp_t t;
    const char *err = NULL;

    (void)state;
    /* a valid JSON object, one byte over 1 MiB */
    memset(body, ' ', n);
    memcpy(body, "{\"id_token\":\"h.p.s\"}", 20);
    body[n] = '\0';
    assert_int_equal(msoauth_token_parse(unit_pool, 200, body, n, &t, &err), APR_EINVAL);
    assert_non_null(strstr(err, "larger"));
    assert_int_equal(msoauth_token_parse(unit_pool, 200, body, n - 1, &t, &err), APR_SUCCESS);
}

/* Each value is form-encoded so that no value can add or change a parameter. */
static void test_token_request_body_escapes_every_value(void **state)
{
    static const struct {
        const char *client_id, *secret, *code, *redirect, *verifier, *scope;
    } rows[] = {
        {"00000000-1111-2222-3333-444444444444", "s3cret", "M.C105_BAY.2.U.abc",
         "https://app.example.test/app/oauth2/callback",
         "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "openid profile email User.Read"},
        {"id", "a&b=c+d e/f%g~h", "code&grant_type=password", "https://h/cb?x=1&y=2#f", "v",
         "openid offline_access"},
        {"id&client_secret=x", "\xc3\xa9\r\n\t", "c%2B", "", "", ""},
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(rows); i++) {
        const char *body = msoauth_token_request_body(unit_pool, rows[i].client_id, rows[i].secret,
                                                      rows[i].code, rows[i].redirect,
                                                      rows[i].verifier, rows[i].scope);
        static const char *const names[] = {"grant_type", "client_id", "client_secret", "code",
                                            "redirect_uri", "code_verifier", "scope"};
        const char *values[7];

        values[0] = "authorization_code";
        values[1] = rows[i].client_id;
        values[2] = rows[i].secret;
        values[3] = rows[i].code;
        values[4] = rows[i].redirect;
        values[5] = rows[i].verifier;
        values[6] = rows[i].scope;
        failures += unit_check_form(i, body, names, values, 7);
    }
    assert_int_equal(failures, 0);
}

static void test_token_request_body_exact_form(void **state)
{
    (void)state;
    assert_string_equal(msoauth_token_request_body(unit_pool, "cid", "p&q", "c0de", "https://h/cb",
                                                   "ver", "openid email"),
                        "grant_type=authorization_code&client_id=cid&client_secret=p%26q&code=c0de"
                        "&redirect_uri=https%3a%2f%2fh%2fcb&code_verifier=ver&scope=openid+email");
}

/* The code redemption also hands back the refresh token (offline_access) and the granted scopes
 * (MailboxSettings.Read decides whether the time zone is read). */
static void test_token_parse_keeps_refresh_token_and_scope(void **state)
{
    static const struct {
        const char *body;
        const char *refresh_token, *scope;
    } rows[] = {
        {"{\"id_token\":\"h.p.s\",\"access_token\":\"at\",\"refresh_token\":\"0.AXYA-rt_1\","
         "\"scope\":\"openid profile email offline_access User.Read MailboxSettings.Read\"}",
         "0.AXYA-rt_1", "openid profile email offline_access User.Read MailboxSettings.Read"},
        {"{\"id_token\":\"h.p.s\",\"access_token\":\"at\",\"scope\":\"User.Read\"}", NULL,
         "User.Read"},
        {"{\"id_token\":\"h.p.s\",\"access_token\":\"at\",\"refresh_token\":\"rt\"}", "rt", NULL},
        {"{\"id_token\":\"h.p.s\",\"access_token\":\"at\"}", NULL, NULL},
        {"{\"id_token\":\"h.p.s\",\"refresh_token\":7,\"scope\":[\"User.Read\"]}", NULL, NULL},
        {"{\"id_token\":\"h.p.s\",\"refresh_token\":null,\"scope\":null}", NULL, NULL},
        {"{\"id_token\":\"h.p.s\",\"refresh_token\":\"r\\u0000t\",\"scope\":\"a\\u0000b\"}", NULL,
         NULL}, /* a NUL inside is not the string it would seem */
        {"{\"id_token\":\"h.p.s\",\"refresh_token\":\"\",\"scope\":\"\"}", "", ""},
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(rows); i++) {
        msoauth_token_resp_t t;
        const char *err = NULL;
        apr_status_t rv = parse(200, rows[i].body, &t, &err);
        ROW_CHECK(failures,
                  rv == APR_SUCCESS && unit_streq(t.refresh_token, rows[i].refresh_token)
                      && unit_streq(t.scope, rows[i].scope),
                  "row %zu: rv %d refresh_token '%s' scope '%s' (%s)", i, rv,
                  unit_show(t.refresh_token), unit_show(t.scope), unit_show(err));
    }
    assert_int_equal(failures, 0);
}

static apr_status_t parse_refresh(long status, const char *body, msoauth_token_resp_t *out,
                                  const char **err)
{
    return msoauth_token_parse_refresh(unit_pool, status, body, body ? strlen(body) : 0, out, err);
}

/* A refresh answer needs an access token; the id_token and a new refresh token are optional. */
static void test_token_parse_refresh_success(void **state)
{
    static const struct {
        const char *body;
        const char *access_token, *id_token, *refresh_token, *scope;
        apr_int64_t expires_in;
    } rows[] = {
        {"{\"token_type\":\"Bearer\",\"scope\":\"openid offline_access User.Read\","
         "\"expires_in\":4493,\"ext_expires_in\":4493,\"access_token\":\"at-2\","
         "\"refresh_token\":\"rt-2\",\"id_token\":\"h.p.s\"}",
         "at-2", "h.p.s", "rt-2", "openid offline_access User.Read", 4493},
        {"{\"access_token\":\"at-2\",\"expires_in\":\"3599\"}", "at-2", NULL, NULL, NULL, 3599},
        {"{\"access_token\":\"at-2\",\"refresh_token\":\"rt-2\"}", "at-2", NULL, "rt-2", NULL, -1},
        {"{\"access_token\":\"at-2\",\"id_token\":\"\"}", "at-2", "", NULL, NULL, -1},
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(rows); i++) {
        msoauth_token_resp_t t;
        const char *err = NULL;
        apr_status_t rv = parse_refresh(200, rows[i].body, &t, &err);
        ROW_CHECK(failures,
                  rv == APR_SUCCESS && unit_streq(t.access_token, rows[i].access_token)
                      && unit_streq(t.id_token, rows[i].id_token)
                      && unit_streq(t.refresh_token, rows[i].refresh_token)
                      && unit_streq(t.scope, rows[i].scope) && t.expires_in == rows[i].expires_in
                      && t.error == NULL,
                  "row %zu: rv %d access '%s' id '%s' refresh '%s' scope '%s' expires_in %"
                  APR_INT64_T_FMT " (%s)",
                  i, rv, unit_show(t.access_token), unit_show(t.id_token),
                  unit_show(t.refresh_token), unit_show(t.scope), t.expires_in, unit_show(err));
    }
    assert_int_equal(failures, 0);
}

static void test_token_parse_refresh_requires_an_access_token(void **state)
{
    static const char *const bodies[] = {
        "{\"id_token\":\"h.p.s\",\"refresh_token\":\"rt\"}",
        "{\"access_token\":\"\",\"refresh_token\":\"rt\"}",
        "{\"access_token\":null}",
        "{\"access_token\":42}",
        "{\"access_token\":\"a\\u0000t\"}",
        "{}",
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(bodies); i++) {
        msoauth_token_resp_t t;
        const char *err = NULL;
        apr_status_t rv = parse_refresh(200, bodies[i], &t, &err);
        ROW_CHECK(failures, rv == APR_EINVAL && err && strstr(err, "access_token"),
                  "row %zu '%s': rv %d (%s)", i, unit_show(bodies[i]), rv, unit_show(err));
    }
    assert_int_equal(failures, 0);
}

/* A revoked or expired refresh token: Microsoft's error object, as for the code redemption. */
static void test_token_parse_refresh_errors(void **state)
{
    static const struct {
        long status;
        const char *body;
        apr_status_t rv;
        const char *error, *aadsts;
    } rows[] = {
        {400,
         "{\"error\":\"invalid_grant\",\"error_description\":\"AADSTS70008: The provided "
         "authorization code or refresh token has expired due to inactivity.\","
         "\"error_codes\":[70008],\"trace_id\":\"t\",\"correlation_id\":\"c\"}",
         MSOAUTH_ETOKENERR, "invalid_grant", "AADSTS70008"},
        {400,
         "{\"error\":\"invalid_grant\",\"error_description\":\"AADSTS50173: The provided grant "
         "has expired due to it being revoked.\"}",
         MSOAUTH_ETOKENERR, "invalid_grant", "AADSTS50173"},
        {400,
         "{\"error\":\"interaction_required\",\"error_codes\":[50076],\"access_token\":\"at\"}",
         MSOAUTH_ETOKENERR, "interaction_required", "AADSTS50076"},
        {200, "{\"error\":\"temporarily_unavailable\",\"access_token\":\"at\"}", MSOAUTH_ETOKENERR,
         "temporarily_unavailable", NULL},
        {503, "{\"access_token\":\"at\"}", MSOAUTH_ETOKENERR, "(no error code)", NULL},
        {502, "<html>Bad Gateway</html>", APR_EINVAL, NULL, NULL},
        {200, "", APR_EINVAL, NULL, NULL},
        {200, NULL, APR_EINVAL, NULL, NULL},
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(rows); i++) {
        msoauth_token_resp_t t;
        const char *err = NULL;
        apr_status_t rv = parse_refresh(rows[i].status, rows[i].body, &t, &err);
        ROW_CHECK(failures,
                  rv == rows[i].rv && unit_streq(t.error, rows[i].error)
                      && unit_streq(t.aadsts, rows[i].aadsts) && t.access_token == NULL && err
                      && strstr(err, apr_ltoa(unit_pool, rows[i].status)),
                  "row %zu: rv %d error '%s' aadsts '%s' access '%s' (%s)", i, rv,
                  unit_show(t.error), unit_show(t.aadsts), unit_show(t.access_token),
                  unit_show(err));
    }
    assert_int_equal(failures, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_token_parse_success),
        UNIT_TEST(test_token_parse_treats_empty_expires_in_as_absent),
        UNIT_TEST(test_token_parse_microsoft_errors),
        UNIT_TEST(test_token_parse_error_keeps_description),
        UNIT_TEST(test_token_parse_rejects_unusable_bodies),
        UNIT_TEST(test_token_parse_rejects_oversized_body),
        UNIT_TEST(test_token_request_body_escapes_every_value),
        UNIT_TEST(test_token_request_body_exact_form),
        UNIT_TEST(test_token_parse_keeps_refresh_token_and_scope),
        UNIT_TEST(test_token_parse_refresh_success),
        UNIT_TEST(test_token_parse_refresh_requires_an_access_token),
        UNIT_TEST(test_token_parse_refresh_errors),
    };
    return cmocka_run_group_tests_name("token", tests, unit_group_setup, unit_group_teardown);
}
