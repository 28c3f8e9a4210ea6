/* Unit tests for src/url.c: return-URL validation (open-redirect bypasses), endpoint rules,
 * GUIDs, joining. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <apr_strings.h>

#include "unit.h"
#include "url.h"

typedef struct {
    const char *input;
    int expected;
} bool_row_t;

static int check_local_paths(const bool_row_t *rows, size_t n)
{
    size_t i;
    int failures = 0;

    for (i = 0; i < n; i++) {
        int got = msoauth_url_is_local_path(rows[i].input);
        ROW_CHECK(failures, got == rows[i].expected, "row %zu '%s': expected %s, got %s", i,
                  unit_show(rows[i].input), rows[i].expected ? "accepted" : "refused",
                  got ? "accepted" : "refused");
    }
    return failures;
}

static void test_url_is_local_path_accepts_paths_on_this_server(void **state)
{
    static const bool_row_t rows[] = {
        {"/", 1},
        {"/app", 1},
        {"/app/", 1},
        {"/app/x?y=1", 1},
        {"/app/x?y=1&z=2", 1},
        {"/app/x?y=1#section", 1},
        {"/app/index.php", 1},
        {"/~user/page", 1},
        {"/app//x", 1},                   /* doubled slash after the first segment */
        {"/app/..//x", 1},                /* stays a path-absolute reference */
        {"/app?next=//evil.com", 1},      /* "//" in the query is data, not a host */
        {"/app?next=http://evil.com", 1},
        {"/app?q=%2F%2Fevil", 1},
        {"/http:evil", 1},                /* a path segment that looks like a scheme */
        {"/a:b@c", 1},
        {"/app/%20x", 1},                 /* encoded space */
        {"/app/a+b", 1},
        {"/app/caf%C3%A9", 1},            /* encoded UTF-8 */
        {"/app/%EF%BC%8Fevil", 1},        /* encoded fullwidth solidus: still a path byte */
        {"/%41pp", 1},                    /* encoded letter in second position */
        {"/.", 1},
        {"/..", 1},
        {"/%", 1},                        /* truncated escapes: no read past the end */
        {"/%2", 1},
        {"/x%", 1},
        {"/x%2", 1},
        {"/%zz", 1},
    };

    (void)state;
    assert_int_equal(check_local_paths(rows, ROWS(rows)), 0);
}

/* The classic open-redirect bypasses: network-path references, backslashes (read as '/'
 * by browsers), schemes, controls that browsers strip, and their percent-encoded forms. */
static void test_url_is_local_path_refuses_redirect_bypasses(void **state)
{
    static const bool_row_t rows[] = {
        {NULL, 0},
        {"", 0},
        {"app", 0},
        {"app/x", 0},
        {".", 0},
        {"?x=1", 0},
        {"#x", 0},
        /* network-path references */
        {"//evil", 0},
        {"//evil.com", 0},
        {"//evil.com/app", 0},
        {"///evil.com", 0},
        {"////evil.com", 0},
        {"//", 0},
        /* backslashes */
        {"/\\evil", 0},
        {"/\\evil.com", 0},
        {"\\\\evil.com", 0},
        {"\\/evil.com", 0},
        {"\\evil", 0},
        {"/app\\..\\x", 0},
        {"/app/\\\\evil", 0},
        /* schemes */
        {"http:evil", 0},
        {"http:/evil", 0},
        {"http://evil.com", 0},
        {"https://evil.com/app", 0},
        {"HTTPS://evil.com", 0},
        {"javascript:alert(1)", 0},
        {"data:text/html,x", 0},
        /* percent-encoded slashes and backslashes at the start */
        {"%2f%2fevil", 0},
        {"%2F%2Fevil.com", 0},
        {"/%2fevil", 0},
        {"/%2Fevil.com", 0},
        {"/%2f/evil", 0},
        {"/%5cevil", 0},
        {"/%5Cevil.com", 0},
        {"%5c%5cevil", 0},
        {"%2f%5cevil", 0},
        /* an encoded backslash anywhere */
        {"/app%5c", 0},
        {"/app/%5c..%5cx", 0},
        {"/app?x=%5C", 0},
        /* controls, raw: browsers strip tab/CR/LF, turning "/\t/evil" into "//evil" */
        {"/\t/evil", 0},
        {"/\r/evil", 0},
        {"/\n/evil", 0},
        {"\t//evil", 0},
        {"/app\r\nSet-Cookie: x=1", 0},
        {"/app\nLocation: //evil", 0},
        {"/app\x01", 0},
        {"/app\x1f", 0},
        {"/app\x7f", 0},
        /* controls, encoded */
        {"/%09/evil", 0},
        {"/%0d/evil", 0},
        {"/%0a/evil", 0},
        {"/app%0d%0aSet-Cookie:x=1", 0},
        {"/app%0D%0ALocation:%20//evil", 0},
        {"/app%00", 0},
        {"/app%00.php", 0},
        {"/app%7f", 0},
        {"/app%1b", 0},
        /* spaces */
        {" /app", 0},
        {"/app x", 0},
        {"/ /evil", 0},
        {"/app ", 0},
        /* non-ASCII, raw */
        {"/caf\xc3\xa9", 0},
        {"/\xef\xbc\x8f" "evil.com", 0},   /* U+FF0F fullwidth solidus */
        {"/\xe2\x80\xae" "moc.live", 0},   /* U+202E right-to-left override */
        {"/\xc2\xa0", 0},                  /* U+00A0 no-break space */
        {"/\x80", 0},
        {"/\xff", 0},
    };

    (void)state;
    assert_int_equal(check_local_paths(rows, ROWS(rows)), 0);
}

/* One level of percent-decoding is checked (url.h); a doubly-encoded value decodes once to a
 * harmless path, and browsers never decode a Location header, so it stays on this server. */
static void test_url_is_local_path_checks_one_decoding_level(void **state)
{
    static const bool_row_t rows[] = {
        {"/%252fevil", 1},          /* once decoded: "/%2fevil", a path */
        {"/%252f%252fevil", 1},
        {"/%255cevil", 1},
        {"/%25%32%66evil", 1},      /* once decoded: "/%2fevil" */
        {"/app%250d%250a", 1},
        {"/%2f%252fevil", 0},       /* the first level already gives "//" */
        {"/%5c%255cevil", 0},
    };

    (void)state;
    assert_int_equal(check_local_paths(rows, ROWS(rows)), 0);
}

static void test_url_is_local_path_caps_length(void **state)
{
    char *ok = apr_palloc(unit_pool, MSOAUTH_RETURN_URL_MAX + 2);
    char *too_long = apr_palloc(unit_pool, MSOAUTH_RETURN_URL_MAX + 2);

    (void)state;
    ok[0] = too_long[0] = '/';
    memset(ok + 1, 'a', MSOAUTH_RETURN_URL_MAX - 1);
    ok[MSOAUTH_RETURN_URL_MAX] = '\0';
    memset(too_long + 1, 'a', MSOAUTH_RETURN_URL_MAX);
    too_long[MSOAUTH_RETURN_URL_MAX + 1] = '\0';
    assert_true(msoauth_url_is_local_path(ok));
    assert_false(msoauth_url_is_local_path(too_long));
}

static void test_url_check_endpoint_accepts_https_and_loopback_http(void **state)
{
    static const char *const good[] = {
        "https://login.microsoftonline.com",
        "https://login.microsoftonline.com/",
        "https://login.microsoftonline.com/common/discovery/v2.0/keys",
        "https://graph.microsoft.com/v1.0",
        "HTTPS://Login.MicrosoftOnline.COM/x",
        "https://login.example.test:8443/base",
        "https://127.0.0.1:8443/",
        "http://127.0.0.1",
        "http://127.0.0.1/",
        "http://127.0.0.1:8443/common/v2.0",
        "http://127.1.2.3:9/x",
        "http://localhost",
        "http://localhost:8080/x",
        "http://LocalHost/",
        "HTTP://127.0.0.1/",
        "http://[::1]",
        "http://[::1]:8080/keys",
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(good); i++) {
        const char *err = NULL;
        apr_status_t rv = msoauth_url_check_endpoint(unit_pool, good[i], &err);
        ROW_CHECK(failures, rv == APR_SUCCESS, "row %zu '%s': refused (%s)", i, good[i],
                  unit_show(err));
    }
    assert_int_equal(failures, 0);
}

static void test_url_check_endpoint_refuses_unsafe_urls(void **state)
{
    static const char *const bad[] = {
        "",
        "login.microsoftonline.com",
        "/common/v2.0",
        "//login.microsoftonline.com/",
        "https:evil",
        "https://",
        "https:///path",
        /* plain http off loopback */
        "http://login.microsoftonline.com",
        "http://graph.microsoft.com/v1.0",
        "http://127.evil.com/",
        "http://127.0.0.1.evil.com/",
        "http://127.0.0.1x/",
        "http://localhost.evil.com/",
        "http://evil.com/127.0.0.1",
        "http://evil.com:127/",
        "http://10.0.0.1/",
        "http://0.0.0.0/",
        "http://128.0.0.1/",
        "http://[::2]/",
        "http://[::ffff:8.8.8.8]/",
        /* other schemes */
        "ftp://127.0.0.1/",
        "file:///etc/passwd",
        "ldap://127.0.0.1/",
        "javascript:alert(1)",
        /* user info */
        "https://user@login.example.test/",
        "https://user:pw@login.example.test/",
        "http://127.0.0.1@evil.com/",
        "http://evil.com@127.0.0.1/",
        "http://127.0.0.1:80@evil.com/",
        "http://127.0.0.1\\@evil.com/",
        /* query and fragment */
        "https://login.example.test/x?y=1",
        "https://login.example.test/x?",
        "https://login.example.test/x#frag",
        "https://login.example.test/#",
        "http://127.0.0.1/?x",
        /* white space, controls, non-ASCII */
        "https://login.example .test/",
        " https://login.example.test/",
        "https://login.example.test/ ",
        "https://login.example.test/\tx",
        "https://login.example.test/\r\nX: y",
        "https://login.example.test/\x7f",
        "https://l\xc3\xb6gin.example.test/",
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(bad); i++) {
        const char *err = NULL;
        apr_status_t rv = msoauth_url_check_endpoint(unit_pool, bad[i], &err);
        ROW_CHECK(failures, rv != APR_SUCCESS && err && *err, "row %zu '%s': accepted", i,
                  unit_show(bad[i]));
    }
    assert_int_equal(failures, 0);
}

static void test_url_check_endpoint_explains_plain_http(void **state)
{
    const char *err = NULL;

    (void)state;
    assert_int_not_equal(msoauth_url_check_endpoint(unit_pool, "http://login.example.test/", &err),
                         APR_SUCCESS);
    assert_non_null(strstr(err, "https"));
}

static void test_is_guid_accepts_only_8_4_4_4_12_hex(void **state)
{
    static const bool_row_t rows[] = {
        {"9188040d-6c67-4c5b-b112-36a304b66dad", 1},
        {"9188040D-6C67-4C5B-B112-36A304B66DAD", 1},
        {"00000000-0000-0000-0000-000000000000", 1},
        {"ffffffff-ffff-ffff-ffff-ffffffffffff", 1},
        {NULL, 0},
        {"", 0},
        {"common", 0},
        {"organizations", 0},
        {"contoso.onmicrosoft.com", 0},
        {"9188040d6c674c5bb11236a304b66dad", 0},       /* no dashes */
        {"9188040d-6c67-4c5b-b112-36a304b66da", 0},    /* short */
        {"9188040d-6c67-4c5b-b112-36a304b66dad0", 0},  /* long */
        {"9188040d-6c67-4c5b-b112-36a304b66dad\n", 0},
        {" 9188040d-6c67-4c5b-b112-36a304b66dad", 0},
        {"{9188040d-6c67-4c5b-b112-36a304b66dad}", 0},
        {"9188040g-6c67-4c5b-b112-36a304b66dad", 0},   /* g */
        {"9188040d-6c67-4c5b-b112-36a304b66dax", 0},
        {"9188040d_6c67_4c5b_b112_36a304b66dad", 0},
        {"9188040d-6c674-c5b-b112-36a304b66dad", 0},   /* dash moved */
        {"9188040d--6c67-4c5b-b11236a304b66dad", 0},
        {"------------------------------------", 0},
        {"9188040d-6c67-4c5b-b112-36a304b6 dad", 0},
        {"9188040d-6c67-4c5b-b112-36a304b66d\xc3\xa9", 0},
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(rows); i++) {
        int got = msoauth_is_guid(rows[i].input);
        ROW_CHECK(failures, got == rows[i].expected, "row %zu '%s': expected %d, got %d", i,
                  unit_show(rows[i].input), rows[i].expected, got);
    }
    assert_int_equal(failures, 0);
}

static void test_url_join_keeps_exactly_one_slash(void **state)
{
    static const struct {
        const char *base, *path, *expected;
    } rows[] = {
        {"https://graph.microsoft.com/v1.0", "me", "https://graph.microsoft.com/v1.0/me"},
        {"https://graph.microsoft.com/v1.0/", "me", "https://graph.microsoft.com/v1.0/me"},
        {"https://graph.microsoft.com/v1.0", "/me", "https://graph.microsoft.com/v1.0/me"},
        {"https://graph.microsoft.com/v1.0//", "//me", "https://graph.microsoft.com/v1.0/me"},
        {"https://a", "", "https://a/"},
        {"https://a", "b/c/", "https://a/b/c/"},
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(rows); i++) {
        const char *got = msoauth_url_join(unit_pool, rows[i].base, rows[i].path);
        ROW_CHECK(failures, unit_streq(got, rows[i].expected), "row %zu: expected '%s', got '%s'",
                  i, rows[i].expected, unit_show(got));
    }
    assert_int_equal(failures, 0);
}

/* The callback's query: '+' is a space, malformed escapes and repeated names are refused. */
static void test_query_parse_table(void **state)
{
    static const struct {
        const char *query;
        int ok;
        const char *expected; /* "k=v|k=v" of the resulting table, in order */
    } rows[] = {
        {NULL, 1, ""},
        {"", 1, ""},
        {"code=abc&state=xyz", 1, "code=abc|state=xyz"},
        {"state=xyz&code=abc", 1, "state=xyz|code=abc"},
        {"a=1+2", 1, "a=1 2"},
        {"a=%41%2b%26%3d", 1, "a=A+&="},
        {"a=caf%C3%A9", 1, "a=caf\xc3\xa9"},
        {"flag", 1, "flag="},
        {"a=", 1, "a="},
        {"=v", 1, "=v"},
        {"&&a=1&&", 1, "a=1"},
        {"a=x=y", 1, "a=x=y"},
        {"error=access_denied&error_description=AADSTS65004%3A+User+declined", 1,
         "error=access_denied|error_description=AADSTS65004: User declined"},
        {"a=%zz", 0, NULL},
        {"%zz=1", 0, NULL},
        {"a=%4", 0, NULL},
        {"a=%", 0, NULL},
        {"a=%00", 0, NULL},
        {"state=a&state=b", 0, NULL},
        {"state=a&state=a", 0, NULL},
        {"state=a&STATE=b", 0, NULL},   /* lookups are case-insensitive: as ambiguous */
        {"code=1&state=2&code=3", 0, NULL},
        {"st%61te=a&state=b", 0, NULL}, /* the same name once decoded */
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(rows); i++) {
        apr_table_t *t = NULL;
        const char *err = NULL, *got = NULL;
        apr_status_t rv = msoauth_query_parse(unit_pool, rows[i].query, &t, &err);
        if (rv == APR_SUCCESS && t) {
            const apr_array_header_t *a = apr_table_elts(t);
            const apr_table_entry_t *e = (const apr_table_entry_t *)a->elts;
            int j;
            got = "";
            for (j = 0; j < a->nelts; j++) {
                got = apr_pstrcat(unit_pool, got, j ? "|" : "", e[j].key, "=", e[j].val, NULL);
            }
        }
        if (rows[i].ok) {
            ROW_CHECK(failures, rv == APR_SUCCESS && unit_streq(got, rows[i].expected),
                      "row %zu '%s': expected '%s', got rv %d '%s' (%s)", i,
                      unit_show(rows[i].query), unit_show(rows[i].expected), rv, unit_show(got),
                      unit_show(err));
        }
        else {
            ROW_CHECK(failures, rv != APR_SUCCESS && err && *err, "row %zu '%s': accepted as '%s'",
                      i, unit_show(rows[i].query), unit_show(got));
        }
    }
    assert_int_equal(failures, 0);
}

static void test_query_parse_caps_parameter_count(void **state)
{
    const char *q64 = "p0=0", *q65;
    apr_table_t *t = NULL;
    const char *err = NULL;
    int i;

    (void)state;
    for (i = 1; i < 64; i++) {
        q64 = apr_psprintf(unit_pool, "%s&p%d=%d", q64, i, i);
    }
    q65 = apr_pstrcat(unit_pool, q64, "&p64=64", NULL);
    assert_int_equal(msoauth_query_parse(unit_pool, q64, &t, &err), APR_SUCCESS);
    assert_int_equal(apr_table_elts(t)->nelts, 64);
    assert_int_not_equal(msoauth_query_parse(unit_pool, q65, &t, &err), APR_SUCCESS);
    assert_non_null(strstr(err, "64"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_url_is_local_path_accepts_paths_on_this_server),
        UNIT_TEST(test_url_is_local_path_refuses_redirect_bypasses),
        UNIT_TEST(test_url_is_local_path_checks_one_decoding_level),
        UNIT_TEST(test_url_is_local_path_caps_length),
        UNIT_TEST(test_url_check_endpoint_accepts_https_and_loopback_http),
        UNIT_TEST(test_url_check_endpoint_refuses_unsafe_urls),
        UNIT_TEST(test_url_check_endpoint_explains_plain_http),
        UNIT_TEST(test_is_guid_accepts_only_8_4_4_4_12_hex),
        UNIT_TEST(test_url_join_keeps_exactly_one_slash),
        UNIT_TEST(test_query_parse_table),
        UNIT_TEST(test_query_parse_caps_parameter_count),
    };
    return cmocka_run_group_tests_name("url", tests, unit_group_setup, unit_group_teardown);
}
