/* Unit tests for src/random.c: base64url (strict decoding), random tokens, PKCE S256. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "unit.h"
#include "random.h"

/* RFC 4648 section 10 vectors, in the URL-safe alphabet without padding, plus the two
 * characters that differ from standard base64. */
static const struct {
    const char *plain;
    apr_size_t len;
    const char *encoded;
} b64url_vectors[] = {
    {"", 0, ""},
    {"f", 1, "Zg"},
    {"fo", 2, "Zm8"},
    {"foo", 3, "Zm9v"},
    {"foob", 4, "Zm9vYg"},
    {"fooba", 5, "Zm9vYmE"},
    {"foobar", 6, "Zm9vYmFy"},
    {"\xfb\xff", 2, "-_8"},
    {"\xff\xff\xfe", 3, "___-"},
    {"\x00\x00\x00", 3, "AAAA"},
    {"\x00", 1, "AA"},
};

static void test_b64url_encode_matches_rfc4648_vectors(void **state)
{
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(b64url_vectors); i++) {
        const char *got = msoauth_b64url_encode(unit_pool, b64url_vectors[i].plain,
                                                b64url_vectors[i].len);
        ROW_CHECK(failures, unit_streq(got, b64url_vectors[i].encoded),
                  "row %zu: expected '%s', got '%s'", i, b64url_vectors[i].encoded, unit_show(got));
    }
    assert_int_equal(failures, 0);
}

static void test_b64url_decode_matches_rfc4648_vectors(void **state)
{
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(b64url_vectors); i++) {
        apr_size_t len = 12345;
        const unsigned char *got =
            msoauth_b64url_decode(unit_pool, b64url_vectors[i].encoded, &len);
        ROW_CHECK(failures,
                  got && len == b64url_vectors[i].len
                      && !memcmp(got, b64url_vectors[i].plain, len),
                  "row %zu: '%s' did not decode to its %zu bytes", i, b64url_vectors[i].encoded,
                  (size_t)b64url_vectors[i].len);
    }
    assert_int_equal(failures, 0);
}

/* Anything outside the base64url alphabet, padding, or an impossible length is refused. */
static void test_b64url_decode_rejects_non_b64url(void **state)
{
    static const char *const bad[] = {
        "Zg==",        /* padding */
        "Zm8=",        /* padding */
        "Zm9v+w",      /* standard-base64 '+' */
        "Zm9v/w",      /* standard-base64 '/' */
        "+/8",         /* "-_8" in standard base64 */
        "Zm9 v",       /* space */
        "Zm9v\n",      /* trailing newline */
        "\tZm9v",      /* leading tab */
        "Zm9v\r\nYmFy", /* CR LF inside */
        "Zm.v",        /* dot (the JWS separator) */
        "Zm9v%3D",     /* percent-encoded padding */
        "Zm9\xc3\xa9", /* non-ASCII */
        "Z",           /* length 1 mod 4 */
        "Zm9vY",       /* length 1 mod 4 */
        "Zm9vYmFyZ",   /* length 1 mod 4 */
        "=",
        "====",
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(bad); i++) {
        apr_size_t len = 0;
        ROW_CHECK(failures, msoauth_b64url_decode(unit_pool, bad[i], &len) == NULL,
                  "row %zu: '%s' was accepted", i, unit_show(bad[i]));
    }
    assert_int_equal(failures, 0);
}

static void test_b64url_round_trips_every_length(void **state)
{
    unsigned char buf[70];
    apr_size_t n, i;

    (void)state;
    for (i = 0; i < sizeof(buf); i++) {
        buf[i] = (unsigned char)(i * 37 + 250);
    }
    for (n = 0; n <= sizeof(buf); n++) {
        const char *enc = msoauth_b64url_encode(unit_pool, buf, n);
        apr_size_t len = 0;
        const unsigned char *dec;

        assert_non_null(enc);
        assert_int_equal(strlen(enc), (4 * n + 2) / 3); /* no padding */
        assert_true(msoauth_is_b64url_token(enc, strlen(enc)));
        dec = msoauth_b64url_decode(unit_pool, enc, &len);
        assert_non_null(dec);
        assert_int_equal(len, n);
        assert_memory_equal(dec, buf, n);
    }
}

static void test_is_b64url_token_checks_alphabet_and_length(void **state)
{
    static const struct {
        const char *s;
        apr_size_t len;
        int expected;
    } rows[] = {
        {"", 0, 1},
        {"abc", 3, 1},
        {"abc", 4, 0},
        {"abc", 2, 0},
        {"AZaz09-_", 8, 1},
        {"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", 43, 1},
        {"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", 42, 0},
        {"ab=", 3, 0},
        {"ab+", 3, 0},
        {"ab/", 3, 0},
        {"a b", 3, 0},
        {"ab.", 3, 0},
        {"ab\n", 3, 0},
        {"\xc3\xa9", 2, 0},
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(rows); i++) {
        int got = msoauth_is_b64url_token(rows[i].s, rows[i].len);
        ROW_CHECK(failures, got == rows[i].expected, "row %zu ('%s', %zu): expected %d, got %d", i,
                  unit_show(rows[i].s), (size_t)rows[i].len, rows[i].expected, got);
    }
    assert_int_equal(failures, 0);
}

static void test_random_b64url_gives_43_fresh_characters_for_32_bytes(void **state)
{
    const char *a = NULL, *b = NULL;

    (void)state;
    assert_int_equal(msoauth_random_b64url(unit_pool, 32, &a), APR_SUCCESS);
    assert_int_equal(msoauth_random_b64url(unit_pool, 32, &b), APR_SUCCESS);
    assert_non_null(a);
    assert_non_null(b);
    assert_true(msoauth_is_b64url_token(a, 43));
    assert_true(msoauth_is_b64url_token(b, 43));
    assert_string_not_equal(a, b);
}

/* RFC 7636 appendix B. */
static void test_pkce_challenge_matches_rfc7636_appendix_b(void **state)
{
    (void)state;
    assert_string_equal(
        msoauth_pkce_challenge(unit_pool, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}

static void test_pkce_challenge_is_43_b64url_characters(void **state)
{
    const char *verifier = NULL, *challenge;

    (void)state;
    assert_int_equal(msoauth_random_b64url(unit_pool, 32, &verifier), APR_SUCCESS);
    challenge = msoauth_pkce_challenge(unit_pool, verifier);
    assert_true(msoauth_is_b64url_token(challenge, 43));
    assert_string_not_equal(challenge, verifier);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_b64url_encode_matches_rfc4648_vectors),
        UNIT_TEST(test_b64url_decode_matches_rfc4648_vectors),
        UNIT_TEST(test_b64url_decode_rejects_non_b64url),
        UNIT_TEST(test_b64url_round_trips_every_length),
        UNIT_TEST(test_is_b64url_token_checks_alphabet_and_length),
        UNIT_TEST(test_random_b64url_gives_43_fresh_characters_for_32_bytes),
        UNIT_TEST(test_pkce_challenge_matches_rfc7636_appendix_b),
        UNIT_TEST(test_pkce_challenge_is_43_b64url_characters),
    };
    return cmocka_run_group_tests_name("random", tests, unit_group_setup, unit_group_teardown);
}
