/* Unit tests for src/discovery.c: endpoint URLs, the discovery document, the JWKS shape. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <apr_strings.h>

#include "unit.h"
#include "discovery.h"

#define MS "https://login.microsoftonline.com"

static void test_discovery_builds_endpoint_urls(void **state)
{
    static const struct {
        const char *(*fn)(apr_pool_t *, const char *, const char *);
        const char *authority, *tenant, *expected;
    } rows[] = {
        {msoauth_discovery_url, MS, "common", MS "/common/v2.0/.well-known/openid-configuration"},
        {msoauth_discovery_url, MS, "9188040d-6c67-4c5b-b112-36a304b66dad",
         MS "/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0/.well-known/openid-configuration"},
        {msoauth_authorize_url, MS, "organizations", MS "/organizations/oauth2/v2.0/authorize"},
        {msoauth_token_url, MS, "consumers", MS "/consumers/oauth2/v2.0/token"},
        {msoauth_token_url, "http://127.0.0.1:8443", "contoso.onmicrosoft.com",
         "http://127.0.0.1:8443/contoso.onmicrosoft.com/oauth2/v2.0/token"},
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(rows); i++) {
        const char *got = rows[i].fn(unit_pool, rows[i].authority, rows[i].tenant);
        ROW_CHECK(failures, unit_streq(got, rows[i].expected), "row %zu: expected '%s', got '%s'",
                  i, rows[i].expected, unit_show(got));
    }
    assert_int_equal(failures, 0);
}

static void test_metadata_parse_accepts_microsoft_documents(void **state)
{
    static const struct {
        const char *body, *issuer, *jwks_uri;
    } rows[] = {
        {"{\"token_endpoint\":\"" MS "/common/oauth2/v2.0/token\",\"jwks_uri\":\"" MS
         "/common/discovery/v2.0/"
         "keys\",\"response_modes_supported\":[\"query\",\"fragment\",\"form_post\"],"
         "\"issuer\":\"" MS "/{tenantid}/v2.0\",\"request_uri_parameter_supported\":false,"
         "\"tenant_region_scope\":null,\"cloud_instance_name\":\"microsoftonline.com\"}",
         MS "/{tenantid}/v2.0", MS "/common/discovery/v2.0/keys"},
        {"{\"issuer\":\"" MS "/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0\",\"jwks_uri\":\"" MS
         "/72f988bf-86f1-41af-91ab-2d7cd011db47/discovery/v2.0/keys\"}",
         MS "/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0",
         MS "/72f988bf-86f1-41af-91ab-2d7cd011db47/discovery/v2.0/keys"},
        {"{\"issuer\":\"http://127.0.0.1:8443/{tenantid}/v2.0\","
         "\"jwks_uri\":\"http://127.0.0.1:8443/common/discovery/v2.0/keys\"}",
         "http://127.0.0.1:8443/{tenantid}/v2.0",
         "http://127.0.0.1:8443/common/discovery/v2.0/keys"},
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(rows); i++) {
        msoauth_metadata_t md;
        const char *err = NULL;
        apr_status_t rv;
        memset(&md, 0, sizeof(md));
        rv = msoauth_metadata_parse(unit_pool, rows[i].body, strlen(rows[i].body), &md, &err);
        ROW_CHECK(failures,
                  rv == APR_SUCCESS && unit_streq(md.issuer, rows[i].issuer)
                      && unit_streq(md.jwks_uri, rows[i].jwks_uri),
                  "row %zu: rv %d issuer '%s' jwks_uri '%s' (%s)", i, rv, unit_show(md.issuer),
                  unit_show(md.jwks_uri), unit_show(err));
    }
    assert_int_equal(failures, 0);
}

static void test_metadata_parse_rejects_bad_documents(void **state)
{
    static const struct {
        const char *body;
        const char *reason;
    } rows[] = {
        {"", "discovery"},
        {"<html>Service Unavailable</html>", "discovery"},
        {"[]", "discovery"},
        {"{\"issuer\":\"" MS "/{tenantid}/v2.0\"", "discovery"},
        {"{}", "issuer"},
        {"{\"jwks_uri\":\"" MS "/common/discovery/v2.0/keys\"}", "issuer"},
        {"{\"issuer\":\"\",\"jwks_uri\":\"" MS "/common/discovery/v2.0/keys\"}", "issuer"},
        {"{\"issuer\":7,\"jwks_uri\":\"" MS "/common/discovery/v2.0/keys\"}", "issuer"},
        {"{\"issuer\":\"" MS "/{tenantid}/v2.0\"}", "jwks_uri"},
        {"{\"issuer\":\"" MS "/{tenantid}/v2.0\",\"jwks_uri\":null}", "jwks_uri"},
        {"{\"issuer\":\"" MS "/{tenantid}/v2.0\",\"jwks_uri\":[\"" MS "/keys\"]}", "jwks_uri"},
        {"{\"issuer\":\"" MS "/{tenantid}/v2.0\",\"jwks_uri\":\"\"}", "jwks_uri"},
        {"{\"issuer\":\"" MS
         "/{tenantid}/v2.0\",\"jwks_uri\":\"http://login.microsoftonline.com/keys\"}",
         "jwks_uri"},
        {"{\"issuer\":\"" MS "/{tenantid}/v2.0\",\"jwks_uri\":\"http://127.evil.com/keys\"}",
         "jwks_uri"},
        {"{\"issuer\":\"" MS "/{tenantid}/v2.0\",\"jwks_uri\":\"http://10.0.0.8/keys\"}",
         "jwks_uri"},
        {"{\"issuer\":\"" MS "/{tenantid}/v2.0\",\"jwks_uri\":\"/common/discovery/v2.0/keys\"}",
         "jwks_uri"},
        {"{\"issuer\":\"" MS "/{tenantid}/v2.0\",\"jwks_uri\":\"file:///etc/passwd\"}", "jwks_uri"},
        {"{\"issuer\":\"" MS
         "/{tenantid}/v2.0\",\"jwks_uri\":\"https://u:p@login.example.test/keys\"}",
         "jwks_uri"},
        {"{\"issuer\":\"" MS "/{tenantid}/v2.0\",\"jwks_uri\":\"" MS "/keys?x=1\"}", "jwks_uri"},
        /* duplicate member: which jwks_uri would count? */
        {"{\"issuer\":\"" MS "/{tenantid}/v2.0\",\"jwks_uri\":\"" MS
         "/keys\",\"jwks_uri\":\"https://evil.example.test/keys\"}",
         "discovery"},
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(rows); i++) {
        msoauth_metadata_t md;
        const char *err = NULL;
        apr_status_t rv;
        memset(&md, 0, sizeof(md));
        rv = msoauth_metadata_parse(unit_pool, rows[i].body, strlen(rows[i].body), &md, &err);
        ROW_CHECK(failures, rv != APR_SUCCESS && err && strstr(err, rows[i].reason),
                  "row %zu '%s': rv %d (%s), expected a reason naming '%s'", i,
                  unit_show(rows[i].body), rv, unit_show(err), rows[i].reason);
    }
    assert_int_equal(failures, 0);
}

static void test_metadata_parse_rejects_oversized_document(void **state)
{
    apr_size_t n = MSOAUTH_METADATA_MAX + 1;
    char *body = apr_palloc(unit_pool, n + 1);
    const char *doc = "{\"issuer\":\"" MS "/{tenantid}/v2.0\",\"jwks_uri\":\"" MS "/keys\"}";
    msoauth_metadata_t md;
    const char *err = NULL;

    (void)state;
    memset(body, ' ', n);
    memcpy(body, doc, strlen(doc));
    body[n] = '\0';
    assert_int_not_equal(msoauth_metadata_parse(unit_pool, body, n, &md, &err), APR_SUCCESS);
    assert_non_null(strstr(err, "larger"));
    assert_int_equal(msoauth_metadata_parse(unit_pool, body, n - 1, &md, &err), APR_SUCCESS);
}

static void test_jwks_check_table(void **state)
{
    static const struct {
        const char *body;
        int ok;
    } rows[] = {
        {"{\"keys\":[]}", 1},
        {"{\"keys\":[{\"kty\":\"RSA\",\"use\":\"sig\",\"kid\":\"k\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]"
         "}",
         1},
        {"{}", 0},
        {"{\"keys\":{}}", 0},
        {"{\"keys\":null}", 0},
        {"{\"keys\":\"[]\"}", 0},
        {"[]", 0},
        {"", 0},
        {"not json", 0},
        {"{\"keys\":[],\"keys\":[]}", 0},
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(rows); i++) {
        const char *err = NULL;
        apr_status_t rv = msoauth_jwks_check(unit_pool, rows[i].body, strlen(rows[i].body), &err);
        ROW_CHECK(failures, (rv == APR_SUCCESS) == rows[i].ok && (rows[i].ok || (err && *err)),
                  "row %zu '%s': expected %s, got rv %d (%s)", i, rows[i].body,
                  rows[i].ok ? "acceptance" : "refusal", rv, unit_show(err));
    }
    assert_int_equal(failures, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_discovery_builds_endpoint_urls),
        UNIT_TEST(test_metadata_parse_accepts_microsoft_documents),
        UNIT_TEST(test_metadata_parse_rejects_bad_documents),
        UNIT_TEST(test_metadata_parse_rejects_oversized_document),
        UNIT_TEST(test_jwks_check_table),
    };
    return cmocka_run_group_tests_name("discovery", tests, unit_group_setup, unit_group_teardown);
}
