/* Unit tests for src/seal.c: key derivation and AES-256-GCM sealing of browser-held values. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <apr_strings.h>

#include "unit.h"
#include "seal.h"
#include "random.h"

#define AAD "msoauth test|00000000-1111-2222-3333-444444444444"
/* version byte + IV + tag */
#define SEAL_OVERHEAD (1 + 12 + 16)

/* Derived once per group (PBKDF2 is slow by design). */
static msoauth_keys_t keys_a, keys_a_again, keys_b;

static int seal_group_setup(void **state)
{
    static const char pass_a[] = "correct horse battery staple";
    static const char pass_b[] = "correct horse battery stapler";

    if (unit_group_setup(state) != 0
        || msoauth_keys_derive(pass_a, sizeof(pass_a) - 1, &keys_a) != APR_SUCCESS
        || msoauth_keys_derive(pass_a, sizeof(pass_a) - 1, &keys_a_again) != APR_SUCCESS
        || msoauth_keys_derive(pass_b, sizeof(pass_b) - 1, &keys_b) != APR_SUCCESS) {
        return -1;
    }
    return 0;
}

static const char *seal_text(const unsigned char *key, const char *aad, const char *text)
{
    const char *sealed = NULL;

    assert_int_equal(msoauth_seal(unit_pool, key, aad, text, strlen(text), &sealed), APR_SUCCESS);
    assert_non_null(sealed);
    return sealed;
}

/* 1 when sealed opens under key and aad. */
static int opens(const unsigned char *key, const char *aad, const char *sealed, const char **err)
{
    char *plain = NULL;
    apr_size_t len = 0;
    const char *why = NULL;
    apr_status_t rv = msoauth_open(unit_pool, key, aad, sealed, &plain, &len, &why);

    if (err) {
        *err = why;
    }
    if (rv != APR_SUCCESS) {
        /* a refusal always says why and never hands back plaintext */
        assert_non_null(why);
        assert_null(plain);
        return 0;
    }
    return 1;
}

static void test_keys_derive_is_deterministic_and_separates_purposes(void **state)
{
    (void)state;
    assert_memory_equal(keys_a.state, keys_a_again.state, MSOAUTH_KEY_LEN);
    assert_memory_equal(keys_a.session, keys_a_again.session, MSOAUTH_KEY_LEN);
    assert_memory_not_equal(keys_a.state, keys_a.session, MSOAUTH_KEY_LEN);
    assert_memory_not_equal(keys_a.state, keys_b.state, MSOAUTH_KEY_LEN);
    assert_memory_not_equal(keys_a.session, keys_b.session, MSOAUTH_KEY_LEN);
}

static void test_seal_round_trips(void **state)
{
    static const struct {
        const char *plain;
        apr_size_t len;
    } rows[] = {
        {"", 0},
        {"x", 1},
        {"v=1&t=1700000000&ru=abc", 23},
        {"with\0nul\0bytes", 14},
        {"\xff\xfe\x00\x01\x80", 5},
        {"Jos\xc3\xa9 M\xc3\xbcller", 13},
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(rows); i++) {
        const char *sealed = NULL, *err = NULL;
        char *plain = NULL;
        apr_size_t len = 99999;
        apr_status_t rv;

        assert_int_equal(msoauth_seal(unit_pool, keys_a.session, AAD, rows[i].plain, rows[i].len,
                                      &sealed), APR_SUCCESS);
        rv = msoauth_open(unit_pool, keys_a.session, AAD, sealed, &plain, &len, &err);
        ROW_CHECK(failures,
                  rv == APR_SUCCESS && len == rows[i].len && !memcmp(plain, rows[i].plain, len)
                      && plain[len] == '\0',
                  "row %zu: did not round-trip (%s)", i, unit_show(err));
    }
    assert_int_equal(failures, 0);
}

static void test_seal_round_trips_a_large_value(void **state)
{
    apr_size_t n = 4000;
    char *big = apr_palloc(unit_pool, n + 1);
    const char *sealed;
    char *plain = NULL;
    apr_size_t len = 0;
    const char *err = NULL;

    (void)state;
    memset(big, 'q', n);
    big[n] = '\0';
    sealed = seal_text(keys_a.session, AAD, big);
    assert_int_equal(msoauth_open(unit_pool, keys_a.session, AAD, sealed, &plain, &len, &err),
                     APR_SUCCESS);
    assert_int_equal(len, n);
    assert_string_equal(plain, big);
}

static void test_seal_output_is_b64url_with_fresh_iv(void **state)
{
    const char *a, *b;

    (void)state;
    a = seal_text(keys_a.session, AAD, "same plaintext");
    b = seal_text(keys_a.session, AAD, "same plaintext");
    assert_true(msoauth_is_b64url_token(a, strlen(a)));
    assert_string_not_equal(a, b);
    assert_int_equal(strlen(a), (4 * (SEAL_OVERHEAD + strlen("same plaintext")) + 2) / 3);
    assert_null(strstr(a, "plaintext"));
}

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Every character of the sealed text changed (top bit of its 6-bit value, which is always a data
 * bit, even in the last character) makes it fail. */
static void test_open_rejects_any_changed_character(void **state)
{
    const char *sealed;
    char *copy;
    size_t i, n;
    int failures = 0;

    (void)state;
    sealed = seal_text(keys_a.session, AAD, "v=1&t=1700000000&ru=someone");
    n = strlen(sealed);
    copy = apr_pstrdup(unit_pool, sealed);
    for (i = 0; i < n; i++) {
        int v = (int)(strchr(b64url_alphabet, sealed[i]) - b64url_alphabet);
        copy[i] = b64url_alphabet[v ^ 0x20];
        ROW_CHECK(failures, !opens(keys_a.session, AAD, copy, NULL),
                  "character %zu of %zu changed: still opens", i, n);
        copy[i] = sealed[i];
    }
    assert_true(opens(keys_a.session, AAD, copy, NULL));
    assert_int_equal(failures, 0);
}

/* Every bit of the decoded blob (version, IV, ciphertext, tag) flipped makes it fail. */
static void test_open_rejects_any_flipped_bit(void **state)
{
    const char *sealed;
    const unsigned char *raw;
    unsigned char *copy;
    apr_size_t len = 0, i;
    int bit, failures = 0;

    (void)state;
    sealed = seal_text(keys_a.session, AAD, "v=1&t=1700000000&ru=someone");
    raw = msoauth_b64url_decode(unit_pool, sealed, &len);
    assert_non_null(raw);
    copy = apr_pmemdup(unit_pool, raw, len);
    for (i = 0; i < len; i++) {
        for (bit = 0; bit < 8; bit++) {
            copy[i] ^= (unsigned char)(1 << bit);
            ROW_CHECK(
                failures,
                !opens(keys_a.session, AAD, msoauth_b64url_encode(unit_pool, copy, len), NULL),
                "byte %zu bit %d flipped: still opens", (size_t)i, bit);
            copy[i] ^= (unsigned char)(1 << bit);
        }
    }
    assert_int_equal(failures, 0);
}

static void test_open_rejects_other_key(void **state)
{
    const char *sealed;

    (void)state;
    sealed = seal_text(keys_a.session, AAD, "payload");
    assert_true(opens(keys_a.session, AAD, sealed, NULL));
    assert_true(opens(keys_a_again.session, AAD, sealed, NULL));
    assert_false(opens(keys_b.session, AAD, sealed, NULL));   /* other passphrase */
    assert_false(opens(keys_a.state, AAD, sealed, NULL)); /* other purpose: no replay as state */
}

/* The aad carries the client id: a value sealed for one client id never opens for another. */
static void test_open_rejects_other_aad(void **state)
{
    static const char *const others[] = {
        "msoauth test|00000000-1111-2222-3333-444444444445",
        "msoauth test|00000000-1111-2222-3333-44444444444",
        "msoauth test|00000000-1111-2222-3333-4444444444444",
        "msoauth test|",
        "",
        "MSOAUTH TEST|00000000-1111-2222-3333-444444444444",
    };
    const char *sealed;
    size_t i;
    int failures = 0;

    (void)state;
    sealed = seal_text(keys_a.session, AAD, "payload");
    for (i = 0; i < ROWS(others); i++) {
        ROW_CHECK(failures, !opens(keys_a.session, others[i], sealed, NULL),
                  "row %zu: opened with aad '%s'", i, others[i]);
    }
    assert_int_equal(failures, 0);
}

static void test_open_rejects_every_truncation(void **state)
{
    const char *sealed;
    size_t n, cut;
    int failures = 0;

    (void)state;
    sealed = seal_text(keys_a.session, AAD, "v=1&t=1700000000&ru=someone");
    n = strlen(sealed);
    for (cut = 0; cut < n; cut++) {
        ROW_CHECK(failures, !opens(keys_a.session, AAD, apr_pstrndup(unit_pool, sealed, cut), NULL),
                  "first %zu of %zu characters: opened", cut, n);
    }
    /* and from the front */
    for (cut = 1; cut < n; cut++) {
        ROW_CHECK(failures, !opens(keys_a.session, AAD, sealed + cut, NULL),
                  "without the first %zu characters: opened", cut);
    }
    assert_int_equal(failures, 0);
}

static void test_open_rejects_appended_data(void **state)
{
    const char *sealed;

    (void)state;
    sealed = seal_text(keys_a.session, AAD, "payload");
    assert_false(opens(keys_a.session, AAD, apr_pstrcat(unit_pool, sealed, "AAAA", NULL), NULL));
    assert_false(opens(keys_a.session, AAD, apr_pstrcat(unit_pool, sealed, sealed, NULL), NULL));
}

static void test_open_rejects_wrong_version(void **state)
{
    static const unsigned char versions[] = {0, 2, 0x81, 0xff};
    const char *sealed, *err = NULL;
    const unsigned char *raw;
    unsigned char *copy;
    apr_size_t len = 0;
    size_t i;
    int failures = 0;

    (void)state;
    sealed = seal_text(keys_a.session, AAD, "payload");
    raw = msoauth_b64url_decode(unit_pool, sealed, &len);
    assert_non_null(raw);
    assert_int_equal(raw[0], 1);
    copy = apr_pmemdup(unit_pool, raw, len);
    for (i = 0; i < ROWS(versions); i++) {
        copy[0] = versions[i];
        ROW_CHECK(failures,
                  !opens(keys_a.session, AAD, msoauth_b64url_encode(unit_pool, copy, len), &err)
                      && err && strstr(err, "version"),
                  "version byte %u: not refused as a wrong version (%s)", versions[i],
                  unit_show(err));
    }
    assert_int_equal(failures, 0);
}

static void test_open_rejects_non_b64url(void **state)
{
    const char *sealed, *err = NULL;
    static const char *const garbage[] = {
        "",
        "A",
        "AAAA",
        "not base64url!",
        "a b",
        "abc=",
        "ab+/",
        "\xc3\xa9\xc3\xa9",
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(garbage); i++) {
        ROW_CHECK(failures, !opens(keys_a.session, AAD, garbage[i], NULL), "row %zu '%s': opened",
                  i, unit_show(garbage[i]));
    }
    /* a real sealed value with one character outside the alphabet */
    sealed = seal_text(keys_a.session, AAD, "payload");
    {
        char *copy = apr_pstrdup(unit_pool, sealed);
        static const char bad_chars[] = "+/=. \t\n%";
        for (i = 0; i < sizeof(bad_chars) - 1; i++) {
            copy[5] = bad_chars[i];
            ROW_CHECK(failures, !opens(keys_a.session, AAD, copy, &err) && strstr(err, "base64url"),
                      "'%s': not refused as non-base64url (%s)", unit_show(copy), unit_show(err));
        }
        copy = apr_pstrcat(unit_pool, sealed, "=", NULL);
        ROW_CHECK(failures, !opens(keys_a.session, AAD, copy, NULL), "padded value opened");
    }
    assert_int_equal(failures, 0);
}

/* Browser input over MSOAUTH_SEALED_MAX characters is refused unread; a value just under it
 * still opens. */
static void test_open_refuses_oversized_values(void **state)
{
    /* plaintext sizes whose sealed form is exactly MSOAUTH_SEALED_MAX and just over it */
    apr_size_t fits = MSOAUTH_SEALED_MAX / 4 * 3 - SEAL_OVERHEAD;
    char *plain = apr_palloc(unit_pool, fits + 2);
    char *junk = apr_palloc(unit_pool, MSOAUTH_SEALED_MAX * 2 + 1);
    const char *sealed = NULL, *err = NULL;

    (void)state;
    memset(plain, 'p', fits + 1);
    plain[fits] = '\0';
    sealed = seal_text(keys_a.session, AAD, plain);
    assert_int_equal(strlen(sealed), MSOAUTH_SEALED_MAX);
    assert_true(opens(keys_a.session, AAD, sealed, NULL));

    plain[fits] = 'p';
    plain[fits + 1] = '\0';
    sealed = seal_text(keys_a.session, AAD, plain);
    assert_true(strlen(sealed) > MSOAUTH_SEALED_MAX);
    assert_false(opens(keys_a.session, AAD, sealed, &err));
    assert_non_null(strstr(err, "large"));

    memset(junk, 'A', MSOAUTH_SEALED_MAX * 2);
    junk[MSOAUTH_SEALED_MAX * 2] = '\0';
    assert_false(opens(keys_a.session, AAD, junk, &err));
    assert_non_null(strstr(err, "large"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_keys_derive_is_deterministic_and_separates_purposes),
        UNIT_TEST(test_seal_round_trips),
        UNIT_TEST(test_seal_round_trips_a_large_value),
        UNIT_TEST(test_seal_output_is_b64url_with_fresh_iv),
        UNIT_TEST(test_open_rejects_any_changed_character),
        UNIT_TEST(test_open_rejects_any_flipped_bit),
        UNIT_TEST(test_open_rejects_other_key),
        UNIT_TEST(test_open_rejects_other_aad),
        UNIT_TEST(test_open_rejects_every_truncation),
        UNIT_TEST(test_open_rejects_appended_data),
        UNIT_TEST(test_open_rejects_wrong_version),
        UNIT_TEST(test_open_rejects_non_b64url),
        UNIT_TEST(test_open_refuses_oversized_values),
    };
    return cmocka_run_group_tests_name("seal", tests, seal_group_setup, unit_group_teardown);
}
