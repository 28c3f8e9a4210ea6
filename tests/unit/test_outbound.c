/* Unit tests for src/outbound.c: header value encodings, claim header names, the reserved header
 * namespace, cookie stripping, navigation detection and HTML escaping. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <apr_strings.h>

#include "unit.h"
#include "outbound.h"
#include "random.h"

#define JOSE_MULLER_UTF8 "Jos\xc3\xa9 M\xc3\xbcller"
#define JOSE_MULLER_LATIN1 "Jos\xe9 M\xfcller"

typedef struct {
    const char *input;
    const char *expected;
} str_row_t;

static int check_encoding(msoauth_header_enc_t enc, const str_row_t *rows, size_t n)
{
    size_t i;
    int failures = 0;

    for (i = 0; i < n; i++) {
        const char *got = msoauth_header_encode(unit_pool, rows[i].input, enc);
        ROW_CHECK(failures, unit_streq(got, rows[i].expected),
                  "row %zu '%s': expected '%s', got '%s'", i, unit_show(rows[i].input),
                  unit_show(rows[i].expected), unit_show(got));
    }
    return failures;
}

/* 1 when s holds no byte below 0x20 and no DEL */
static int no_controls(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f) {
            return 0;
        }
    }
    return 1;
}

/* none: the UTF-8 bytes as they are, control characters as spaces. */
static void test_header_encode_none_keeps_utf8_and_blanks_controls(void **state)
{
    static const str_row_t rows[] = {
        {"plain", "plain"},
        {JOSE_MULLER_UTF8, JOSE_MULLER_UTF8},
        {"\xe6\x9d\x8e\xe5\xb0\x8f\xe9\xbe\x8d", "\xe6\x9d\x8e\xe5\xb0\x8f\xe9\xbe\x8d"},
        {"Evil\r\nX-MSOAuth-Email: a@b", "Evil  X-MSOAuth-Email: a@b"},
        {"a\tb\x01" "c\x1f" "d\x7f", "a b c d "},
        {"\xff\xfe", "\xff\xfe"}, /* none means none: bytes untouched */
        {"", ""},
        {NULL, ""},
    };

    (void)state;
    assert_int_equal(check_encoding(MSOAUTH_ENC_NONE, rows, ROWS(rows)), 0);
}

/* latin1: each character U+0000..U+00FF as its one byte, '?' for anything else and for every
 * byte of invalid UTF-8. */
static void test_header_encode_latin1(void **state)
{
    static const str_row_t rows[] = {
        {JOSE_MULLER_UTF8, JOSE_MULLER_LATIN1},
        {"Fran\xc3\xa7ois \xc3\x98stergaard", "Fran\xe7ois \xd8stergaard"},
        {"\xc3\xbf", "\xff"},                       /* U+00FF, the last Latin-1 character */
        {"\xc2\xa0", "\xa0"},                       /* U+00A0 no-break space */
        {"\xc4\x80", "?"},                          /* U+0100, the first one outside */
        {"5 \xe2\x82\xac", "5 ?"},                  /* euro sign */
        {"\xe6\x9d\x8e\xe5\xb0\x8f\xe9\xbe\x8d", "???"},  /* three CJK characters */
        {"\xf0\x9f\x98\x80!", "?!"},                /* U+1F600, four bytes */
        {"a\xff" "b", "a?b"},                       /* byte that never starts UTF-8 */
        {"a\xc3", "a?"},                            /* truncated at the end */
        {"\xc3(", "?("},                            /* lead byte without continuation */
        {"\x80", "?"},                              /* lone continuation byte */
        {"\xc0\xaf", "??"},                         /* overlong '/' */
        {"\xe0\x80\xaf", "???"},                    /* overlong, three bytes */
        {"\xed\xa0\x80", "???"},                    /* UTF-16 surrogate */
        {"\xf4\x90\x80\x80", "????"},               /* above U+10FFFF */
        {"Jos\xc3\xa9\r\nX: 1", "Jos\xe9  X: 1"},   /* controls first, then the encoding */
        {"\xc3\r", "? "},
        {"plain ASCII", "plain ASCII"},
        {"", ""},
        {NULL, ""},
    };

    (void)state;
    assert_int_equal(check_encoding(MSOAUTH_ENC_LATIN1, rows, ROWS(rows)), 0);
}

/* base64url of the cleaned UTF-8 bytes, unpadded. */
static void test_header_encode_base64url(void **state)
{
    static const struct {
        const char *input, *decoded, *encoded;
    } rows[] = {
        {JOSE_MULLER_UTF8, JOSE_MULLER_UTF8, "Sm9zw6kgTcO8bGxlcg"},
        {"a\r\nb", "a  b", NULL},
        {"\xff\xfe\xfd", "\xff\xfe\xfd", "__79"},   /* both base64url-only characters */
        {"\xfb\xef", "\xfb\xef", "--8"},
        {"a", "a", "YQ"},
        {"ab", "ab", "YWI"},
        {"abc", "abc", "YWJj"},
        {"", "", ""},
        {NULL, "", ""},
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(rows); i++) {
        const char *got = msoauth_header_encode(unit_pool, rows[i].input, MSOAUTH_ENC_BASE64URL);
        const unsigned char *back;
        apr_size_t len = 0;

        ROW_CHECK(failures,
                  got && strspn(got, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                     "0123456789-_") == strlen(got),
                  "row %zu: '%s' is not unpadded base64url", i, unit_show(got));
        if (rows[i].encoded) {
            ROW_CHECK(failures, unit_streq(got, rows[i].encoded),
                      "row %zu: expected '%s', got '%s'", i, rows[i].encoded, unit_show(got));
        }
        back = got ? msoauth_b64url_decode(unit_pool, got, &len) : NULL;
        ROW_CHECK(failures,
                  back && len == strlen(rows[i].decoded) && !memcmp(back, rows[i].decoded, len),
                  "row %zu: '%s' does not decode to '%s'", i, unit_show(got),
                  unit_show(rows[i].decoded));
    }
    assert_int_equal(failures, 0);
}

/* Whatever the encoding, no control character reaches a header value. */
static void test_header_encode_never_emits_controls(void **state)
{
    static const char *const inputs[] = {
        "a\r\nb", "\r\n\r\n", "nul\x01here", "tab\there", "del\x7f", "\xc3\r\n",
        "Jos\xc3\xa9\nM\xc3\xbcller", "\x1b[31mred",
    };
    static const msoauth_header_enc_t encs[] = {MSOAUTH_ENC_NONE, MSOAUTH_ENC_BASE64URL,
                                                MSOAUTH_ENC_LATIN1};
    size_t i, k;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(inputs); i++) {
        for (k = 0; k < ROWS(encs); k++) {
            const char *got = msoauth_header_encode(unit_pool, inputs[i], encs[k]);
            ROW_CHECK(failures, got && no_controls(got), "input %zu, encoding %zu: '%s'", i, k,
                      unit_show(got));
        }
    }
    assert_int_equal(failures, 0);
}

/* ISO-8859-1 reserves 0x80-0x9F for the C1 control characters (NEL, CSI, ...): a value that
 * holds U+0080..U+009F must not put those bytes in a latin1 header, where they are control
 * characters again (the issue: "CR, LF, NUL and other control characters never reach a header,
 * whatever the encoding"). */
static void test_header_encode_latin1_never_emits_c1_controls(void **state)
{
    static const char *const inputs[] = {
        "line\xc2\x85" "break", /* U+0085 NEXT LINE */
        "\xc2\x80",             /* U+0080 */
        "\xc2\x9b" "31m",       /* U+009B CSI */
        "\xc2\x9f",             /* U+009F */
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(inputs); i++) {
        const char *got = msoauth_header_encode(unit_pool, inputs[i], MSOAUTH_ENC_LATIN1);
        const unsigned char *q;
        int c1 = 0;
        for (q = (const unsigned char *)got; *q; q++) {
            c1 |= *q >= 0x80 && *q <= 0x9f;
        }
        ROW_CHECK(failures, !c1, "row %zu '%s': latin1 gives '%s', a C1 control byte", i,
                  unit_show(inputs[i]), unit_show(got));
    }
    assert_int_equal(failures, 0);
}

static void test_claim_header_name(void **state)
{
    static const str_row_t rows[] = {
        {"roles", "X-MSOAuth-Claim-roles"},
        {"preferred_username", "X-MSOAuth-Claim-preferred-username"},
        {"given-name", "X-MSOAuth-Claim-given-name"},
        {"xms_pl", "X-MSOAuth-Claim-xms-pl"},
        {"Tid9", "X-MSOAuth-Claim-Tid9"},
        {"http://schemas.example/claims/role",
         "X-MSOAuth-Claim-http---schemas-example-claims-role"},
        {"a b:c\r\nd", "X-MSOAuth-Claim-a-b-c--d"},
        {"h\xc3\xa9llo", "X-MSOAuth-Claim-h--llo"},
        {"", "X-MSOAuth-Claim-"},
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(rows); i++) {
        const char *got = msoauth_claim_header_name(unit_pool, rows[i].input);
        ROW_CHECK(failures, unit_streq(got, rows[i].expected),
                  "row %zu '%s': expected '%s', got '%s'", i, unit_show(rows[i].input),
                  rows[i].expected, unit_show(got));
        /* what we send is in the namespace we scrub: a client cannot pre-set it */
        ROW_CHECK(failures, msoauth_header_is_reserved(got), "row %zu: '%s' is not reserved", i,
                  unit_show(got));
    }
    assert_int_equal(failures, 0);
}

static void test_header_is_reserved(void **state)
{
    static const struct {
        const char *name;
        int reserved;
    } rows[] = {
        {"X-MSOAuth-Email", 1},
        {"x-msoauth-email", 1},
        {"X_MSOAUTH_EMAIL", 1},
        {"x_msoauth_email", 1},
        {"X-MSOAUTH-EMAIL", 1},
        {"x-MsOaUtH-eMaIl", 1},
        {"X_MSOAuth-User-Id", 1},
        {"X-MSOAuth_Claim_roles", 1},
        {"X-MSOAuth-Claim-preferred-username", 1},
        {"X-MSOAuth-Access-Token", 1},
        {"X-MSOAuth-", 1},
        {"X-MSOAuth_", 1},
        {"X-MS-CLIENT-PRINCIPAL", 1},
        {"X-MS-CLIENT-PRINCIPAL-NAME", 1},
        {"x-ms-client-principal-id", 1},
        {"X_MS_CLIENT_PRINCIPAL_IDP", 1},
        {"x_ms_client_principal", 1},
        {"X-MS-CLIENT-PRINCIPALX", 1},               /* X-MS-CLIENT-PRINCIPAL* */
        {"x-ms-token-aad-id-token", 1},
        {"X-MS-TOKEN-AAD-ACCESS-TOKEN", 1},
        {"X_MS_TOKEN_AAD_REFRESH_TOKEN", 1},
        {"X-MS-TOKEN-", 1},
        /* near misses: not ours */
        {"X-MSOAuthx", 0},
        {"X-MSOAuth", 0},
        {"X-MSOAut-Email", 0},
        {"XMSOAuth-Email", 0},
        {"X--MSOAuth-Email", 0},
        {"Y-MSOAuth-Email", 0},
        {"X-MS-Client", 0},
        {"X-MS-CLIENT-PRINCIPA", 0},
        {"X-MS-CLIENT-ID", 0},
        {"X-MS-TOKEN", 0},
        {"X-MS-TOKENS-X", 0},
        {"X-MS-Request-Id", 0},
        {"X-MSO", 0},
        {"MSOAuth-Email", 0},
        {"Authorization", 0},
        {"Cookie", 0},
        {"X-Forwarded-For", 0},
        {"", 0},
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(rows); i++) {
        int got = msoauth_header_is_reserved(rows[i].name);
        ROW_CHECK(failures, got == rows[i].reserved, "row %zu '%s': expected %d, got %d", i,
                  unit_show(rows[i].name), rows[i].reserved, got);
    }
    assert_int_equal(failures, 0);
}

/* The module's cookies (session names, the pending-login prefix) leave; the application's stay,
 * in their order and spelling. */
static void test_cookies_without(void **state)
{
    static const char *const session_only[] = {"session", NULL};
    static const char *const two[] = {"session", "session2", NULL};
    static const struct {
        const char *header;
        const char *const *names;
        const char *prefix;
        const char *expected;
    } rows[] = {
        {"app=1; session=abc; msoauth_state_Zm9v=x; PHPSESSID=xyz", session_only,
         "msoauth_state_", "app=1; PHPSESSID=xyz"},
        {"z=1; session=s; a=2; msoauth_state_q=y; m=3", session_only, "msoauth_state_",
         "z=1; a=2; m=3"},
        {"session=s", session_only, "msoauth_state_", NULL},
        {"session=s; msoauth_state_a=1; msoauth_state_b=2", session_only, "msoauth_state_", NULL},
        {"a=1;session=s;b=2", session_only, NULL, "a=1;b=2"}, /* separators kept as sent */
        {"  a=1;   session=s ;\tb=2", session_only, NULL, "a=1;\tb=2"},
        {"session=s; session2=t; other=u", two, NULL, "other=u"},
        /* near names stay */
        {"session2=1; mysession=2; SESSION=3; session=4; sessionx=5", session_only, NULL,
         "session2=1; mysession=2; SESSION=3; sessionx=5"},
        {"msoauth_statex=1; Msoauth_state_a=2; xmsoauth_state_a=3; msoauth_state_=4", NULL,
         "msoauth_state_", "msoauth_statex=1; Msoauth_state_a=2; xmsoauth_state_a=3"},
        /* values that look like our names, and values holding '=', stay as they are */
        {"theme=session=s; token=a=b==; flag", session_only, "msoauth_state_",
         "theme=session=s; token=a=b==; flag"},
        {"app=\"quoted; value\"", NULL, NULL, "app=\"quoted; value\""},
        {"app=1", NULL, NULL, "app=1"},
        {"app=1; session=s", NULL, "msoauth_state_", "app=1; session=s"},
        {";;  ; app=1;;", session_only, "msoauth_state_", "app=1"},
        {"", session_only, "msoauth_state_", NULL},
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(rows); i++) {
        const char *got = msoauth_cookies_without(unit_pool, rows[i].header, rows[i].names,
                                                  rows[i].prefix);
        ROW_CHECK(failures, unit_streq(got, rows[i].expected),
                  "row %zu '%s': expected '%s', got '%s'", i, unit_show(rows[i].header),
                  unit_show(rows[i].expected), unit_show(got));
    }
    assert_int_equal(failures, 0);
}

/* httpd joins repeated request headers with ", " (apr_table_compress with MERGE in
 * ap_get_mime_headers_core), so "Cookie: app=1" + "Cookie: session=s" arrive as one value
 * "app=1, session=s"; mod_session_cookie (ap_cookie_read) splits on ',' as well as ';' and finds
 * the session there. The module's cookies must not reach the backend in that form either. */
static void test_cookies_without_handles_merged_cookie_headers(void **state)
{
    static const char *const session_only[] = {"session", NULL};
    static const struct {
        const char *header, *must_not_contain;
    } rows[] = {
        {"app=1, session=s3cret", "s3cret"},
        {"app=1, msoauth_state_abc=pending", "pending"},
        {"session=s3cret, app=1", "s3cret"},
        {"app=1; b=2, session=s3cret; c=3", "s3cret"},
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(rows); i++) {
        const char *got = msoauth_cookies_without(unit_pool, rows[i].header, session_only,
                                                  "msoauth_state_");
        ROW_CHECK(failures, !got || !strstr(got, rows[i].must_not_contain),
                  "row %zu '%s': the backend still gets '%s'", i, rows[i].header, unit_show(got));
        ROW_CHECK(failures, got && strstr(got, "app=1"),
                  "row %zu '%s': the app's cookie is gone ('%s')", i, rows[i].header,
                  unit_show(got));
    }
    assert_int_equal(failures, 0);
}

#define BROWSER_ACCEPT "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"

static void test_is_navigation(void **state)
{
    static const struct {
        const char *xrw, *mode, *accept;
        int nav;
    } rows[] = {
        /* what a browser sends for a link or the address bar */
        {NULL, "navigate", BROWSER_ACCEPT, 1},
        {NULL, NULL, NULL, 1},
        {NULL, "", "", 1},
        {NULL, "NAVIGATE", NULL, 1},
        /* XHR */
        {"XMLHttpRequest", NULL, NULL, 0},
        {"xmlhttprequest", NULL, NULL, 0},
        {"XMLHttpRequest", "navigate", "text/html", 0},
        {"com.example.app", NULL, NULL, 1}, /* Android WebViews send their package name */
        {"", NULL, NULL, 1},
        /* fetch */
        {NULL, "cors", NULL, 0},
        {NULL, "no-cors", NULL, 0},
        {NULL, "same-origin", BROWSER_ACCEPT, 0},
        {NULL, "websocket", NULL, 0},
        {NULL, "cors", "text/html", 0},
        /* Accept */
        {NULL, NULL, "application/json", 0},
        {NULL, NULL, "application/json, text/plain", 0},
        {NULL, NULL, "text/plain", 0},
        {NULL, NULL, "image/*", 0},
        {NULL, NULL, "text/htmlx", 0},
        {NULL, NULL, "application/xhtml+xml", 0},
        {NULL, NULL, "text/html", 1},
        {NULL, NULL, "TEXT/HTML", 1},
        {NULL, NULL, "text/html;q=0.9", 1},
        {NULL, NULL, "text/html; charset=utf-8", 1},
        {NULL, NULL, "*/*", 1},
        {NULL, NULL, "*/*;q=0.1", 1},
        {NULL, NULL, "text/*", 1},
        {NULL, NULL, "Text/*", 1},
        {NULL, NULL, "application/json, text/plain, */*", 1},
        {NULL, NULL, "application/json,text/html", 1},
        {NULL, NULL, "application/json;q=1,  text/html;q=0.1", 1},
        {NULL, "navigate", "application/json", 0},
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(rows); i++) {
        int got = msoauth_is_navigation(rows[i].xrw, rows[i].mode, rows[i].accept);
        ROW_CHECK(failures, got == rows[i].nav,
                  "row %zu (X-Requested-With '%s', Sec-Fetch-Mode '%s', Accept '%s'): expected %d, "
                  "got %d",
                  i, unit_show(rows[i].xrw), unit_show(rows[i].mode), unit_show(rows[i].accept),
                  rows[i].nav, got);
    }
    assert_int_equal(failures, 0);
}

/* RFC 9110 allows optional white space around ';' and ',' in Accept (media-range
 * *( OWS ";" OWS parameter ), and the #list rule): these still take text/html. */
static void test_is_navigation_allows_optional_white_space_in_accept(void **state)
{
    static const char *const accepts[] = {
        "text/html ;q=0.9",
        "text/html , application/json",
        "application/json ,\ttext/html",
        "*/* ;q=0.1",
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(accepts); i++) {
        int got = msoauth_is_navigation(NULL, NULL, accepts[i]);
        ROW_CHECK(failures, got == 1, "Accept '%s': expected a navigation, got %d",
                  unit_show(accepts[i]), got);
    }
    assert_int_equal(failures, 0);
}

static void test_html_escape(void **state)
{
    static const str_row_t rows[] = {
        {"<script>alert('x')</script>", "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"},
        {"a & b \"c\"", "a &amp; b &quot;c&quot;"},
        {"<a href=\"javascript:x\">", "&lt;a href=&quot;javascript:x&quot;&gt;"},
        {"&amp;", "&amp;amp;"},
        {JOSE_MULLER_UTF8, "Jos&#xE9; M&#xFC;ller"},
        {"\xc2\xa0", "&#xA0;"},
        {"5 \xe2\x82\xac", "5 &#x20AC;"},
        {"\xe6\x9d\x8e", "&#x674E;"},
        {"\xf0\x9f\x98\x80", "&#x1F600;"},
        {"\xf4\x8f\xbf\xbf", "&#x10FFFF;"},
        {"a\xff" "b", "a&#xFFFD;b"},
        {"\xc3", "&#xFFFD;"},
        {"\xc3<", "&#xFFFD;&lt;"},                   /* '<' is not eaten by a broken sequence */
        {"\xc0\xbc", "&#xFFFD;&#xFFFD;"},            /* overlong '<' stays harmless */
        {"\xed\xa0\x80", "&#xFFFD;&#xFFFD;&#xFFFD;"},
        {"\xf4\x90\x80\x80", "&#xFFFD;&#xFFFD;&#xFFFD;&#xFFFD;"},
        {"a\r\nb\tc", "a  b c"},
        {"plain text 123", "plain text 123"},
        {"", ""},
        {NULL, ""},
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(rows); i++) {
        const char *got = msoauth_html_escape(unit_pool, rows[i].input);
        const char *q;
        int ascii = 1;
        for (q = got; q && *q; q++) {
            ascii &= (unsigned char)*q < 0x80;
        }
        ROW_CHECK(failures, unit_streq(got, rows[i].expected) && ascii,
                  "row %zu '%s': expected '%s', got '%s'", i, unit_show(rows[i].input),
                  unit_show(rows[i].expected), unit_show(got));
    }
    assert_int_equal(failures, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_header_encode_none_keeps_utf8_and_blanks_controls),
        UNIT_TEST(test_header_encode_latin1),
        UNIT_TEST(test_header_encode_base64url),
        UNIT_TEST(test_header_encode_never_emits_controls),
        UNIT_TEST(test_header_encode_latin1_never_emits_c1_controls),
        UNIT_TEST(test_claim_header_name),
        UNIT_TEST(test_header_is_reserved),
        UNIT_TEST(test_cookies_without),
        UNIT_TEST(test_cookies_without_handles_merged_cookie_headers),
        UNIT_TEST(test_is_navigation),
        UNIT_TEST(test_is_navigation_allows_optional_white_space_in_accept),
        UNIT_TEST(test_html_escape),
    };
    return cmocka_run_group_tests_name("outbound", tests, unit_group_setup, unit_group_teardown);
}
