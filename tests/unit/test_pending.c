/* Unit tests for src/pending.c: the pending-login record, sealed into its cookie and opened. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <apr_strings.h>

#include "unit.h"
#include "pending.h"
#include "random.h"
#include "seal.h"

#define NOW 1700000000
#define TIMEOUT 300
#define CLIENT "00000000-1111-2222-3333-444444444444"
#define OTHER_CLIENT "00000000-1111-2222-3333-555555555555"

/* Raw keys: derivation is covered by test_seal. */
static const unsigned char key[MSOAUTH_KEY_LEN] = "0123456789abcdef0123456789abcde";
static const unsigned char other_key[MSOAUTH_KEY_LEN] = "0123456789abcdef0123456789abcdX";

static msoauth_pending_t *fresh(const char *return_url, apr_int64_t created)
{
    msoauth_pending_t *rec = NULL;

    assert_int_equal(msoauth_pending_new(unit_pool, return_url, created, &rec), APR_SUCCESS);
    assert_non_null(rec);
    return rec;
}

static const char *sealed_for(const msoauth_pending_t *rec, const unsigned char *k,
                              const char *client)
{
    const char *sealed = NULL;

    assert_int_equal(msoauth_pending_seal(unit_pool, k, client, rec, &sealed), APR_SUCCESS);
    assert_non_null(sealed);
    return sealed;
}

static apr_status_t open_at(const char *sealed, const unsigned char *k, const char *client,
                            apr_int64_t now, msoauth_pending_t **out, const char **err)
{
    msoauth_pending_t *rec = NULL;
    const char *why = NULL;
    apr_status_t rv = msoauth_pending_open(unit_pool, k, client, sealed, now, TIMEOUT, &rec, &why);

    if (rv != APR_SUCCESS) {
        assert_null(rec);
        assert_non_null(why);
    }
    if (out) {
        *out = rec;
    }
    if (err) {
        *err = why;
    }
    return rv;
}

static void test_pending_new_makes_three_distinct_43_char_tokens(void **state)
{
    msoauth_pending_t *a, *b;

    (void)state;
    a = fresh("/app/x?y=1", NOW);
    b = fresh("/app/x?y=1", NOW);
    assert_true(msoauth_is_b64url_token(a->state, MSOAUTH_TOKEN_CHARS));
    assert_true(msoauth_is_b64url_token(a->nonce, MSOAUTH_TOKEN_CHARS));
    assert_true(msoauth_is_b64url_token(a->verifier, MSOAUTH_TOKEN_CHARS));
    assert_string_not_equal(a->state, a->nonce);
    assert_string_not_equal(a->state, a->verifier);
    assert_string_not_equal(a->nonce, a->verifier);
    assert_string_not_equal(a->state, b->state);
    assert_string_not_equal(a->nonce, b->nonce);
    assert_string_not_equal(a->verifier, b->verifier);
    assert_string_equal(a->return_url, "/app/x?y=1");
    assert_true(a->created == NOW);
}

static void test_pending_seal_open_round_trip(void **state)
{
    msoauth_pending_t *rec, *back = NULL;
    const char *sealed, *err = NULL;

    (void)state;
    rec = fresh("/app/x?y=1&z=%C3%A9#frag", NOW);
    sealed = sealed_for(rec, key, CLIENT);
    assert_true(msoauth_is_b64url_token(sealed, strlen(sealed)));
    /* nothing readable in the cookie */
    assert_null(strstr(sealed, rec->state));
    assert_null(strstr(sealed, "app"));
    assert_int_equal(open_at(sealed, key, CLIENT, NOW + 1, &back, &err), APR_SUCCESS);
    assert_string_equal(back->state, rec->state);
    assert_string_equal(back->nonce, rec->nonce);
    assert_string_equal(back->verifier, rec->verifier);
    assert_string_equal(back->return_url, rec->return_url);
    assert_true(back->created == NOW);
}

/* Age relative to now: up to the timeout accepted, beyond it expired; created in the future
 * beyond the clock skew (120 s) refused. */
static void test_pending_open_checks_age(void **state)
{
    static const struct {
        apr_int64_t now_offset; /* now - created */
        apr_status_t expected;
        const char *reason;
    } rows[] = {
        {0, APR_SUCCESS, NULL},
        {1, APR_SUCCESS, NULL},
        {TIMEOUT - 1, APR_SUCCESS, NULL},
        {TIMEOUT, APR_SUCCESS, NULL},
        {TIMEOUT + 1, APR_TIMEUP, "expired"},
        {86400, APR_TIMEUP, "expired"},
        {-1, APR_SUCCESS, NULL},
        {-120, APR_SUCCESS, NULL},
        {-121, APR_EINVAL, "future"},
        {-86400, APR_EINVAL, "future"},
    };
    msoauth_pending_t *rec;
    const char *sealed;
    size_t i;
    int failures = 0;

    (void)state;
    rec = fresh("/app", NOW);
    sealed = sealed_for(rec, key, CLIENT);
    for (i = 0; i < ROWS(rows); i++) {
        const char *err = NULL;
        apr_status_t rv = open_at(sealed, key, CLIENT, NOW + rows[i].now_offset, NULL, &err);
        ROW_CHECK(failures,
                  rv == rows[i].expected
                      && (!rows[i].reason || (err && strstr(err, rows[i].reason))),
                  "now - created = %" APR_INT64_T_FMT ": expected rv %d, got %d (%s)",
                  rows[i].now_offset, rows[i].expected, rv, unit_show(err));
    }
    assert_int_equal(failures, 0);
}

static void test_pending_open_rejects_other_client_id_or_key(void **state)
{
    msoauth_pending_t *rec;
    const char *sealed;

    (void)state;
    rec = fresh("/app", NOW);
    sealed = sealed_for(rec, key, CLIENT);
    assert_int_equal(open_at(sealed, key, CLIENT, NOW, NULL, NULL), APR_SUCCESS);
    assert_int_not_equal(open_at(sealed, key, OTHER_CLIENT, NOW, NULL, NULL), APR_SUCCESS);
    assert_int_not_equal(open_at(sealed, key, "", NOW, NULL, NULL), APR_SUCCESS);
    assert_int_not_equal(open_at(sealed, other_key, CLIENT, NOW, NULL, NULL), APR_SUCCESS);
}

static void test_pending_open_rejects_garbage(void **state)
{
    static const char *const bad[] = {"", "x", "AAAA", "not a cookie", "%41%41", "Zm9vYmFy"};
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(bad); i++) {
        ROW_CHECK(failures, open_at(bad[i], key, CLIENT, NOW, NULL, NULL) != APR_SUCCESS,
                  "row %zu '%s': opened", i, bad[i]);
    }
    assert_int_equal(failures, 0);
}

/* The return URL is checked again when the record is opened: whatever went in, only a local
 * path comes out. */
static void test_pending_open_refuses_unsafe_return_url(void **state)
{
    static const struct {
        const char *url;
        int ok;
    } rows[] = {
        {"/app/x?y=1", 1},
        {"/", 1},
        {"//evil.com/", 0},
        {"/\\evil.com", 0},
        {"/%2f%2fevil.com", 0},
        {"/%5cevil.com", 0},
        {"https://evil.com/", 0},
        {"http:evil.com", 0},
        {"javascript:alert(1)", 0},
        {"/app\r\nSet-Cookie: x=1", 0},
        {"/\t/evil.com", 0},
        {"", 0},
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(rows); i++) {
        const char *sealed = sealed_for(fresh(rows[i].url, NOW), key, CLIENT);
        msoauth_pending_t *back = NULL;
        const char *err = NULL;
        apr_status_t rv = open_at(sealed, key, CLIENT, NOW, &back, &err);
        if (rows[i].ok) {
            ROW_CHECK(failures, rv == APR_SUCCESS && unit_streq(back->return_url, rows[i].url),
                      "row %zu '%s': refused (%s)", i, unit_show(rows[i].url), unit_show(err));
        }
        else {
            ROW_CHECK(failures, rv != APR_SUCCESS && strstr(err, "return URL"),
                      "row %zu '%s': not refused for its return URL (%s)", i,
                      unit_show(rows[i].url), unit_show(err));
        }
    }
    assert_int_equal(failures, 0);
}

/* Records sealed with the right key and aad but the wrong shape are refused. The aad text is
 * pending.c's own ("msoauth pending-login v1|" + client id). */
static void test_pending_open_rejects_malformed_records(void **state)
{
    static const char *const bad[] = {
        "",
        "not json",
        "[]",
        "{}",
        /* a member missing */
        "{\"s\":\"a\",\"n\":\"b\",\"v\":\"c\",\"r\":\"/\"}",
        "{\"s\":\"a\",\"n\":\"b\",\"v\":\"c\",\"t\":1700000000}",
        "{\"s\":\"a\",\"n\":\"b\",\"r\":\"/\",\"t\":1700000000}",
        /* a member of the wrong type */
        "{\"s\":1,\"n\":\"b\",\"v\":\"c\",\"r\":\"/\",\"t\":1700000000}",
        "{\"s\":\"a\",\"n\":\"b\",\"v\":\"c\",\"r\":\"/\",\"t\":\"1700000000\"}",
        /* an extra member, a duplicate member */
        "{\"s\":\"a\",\"n\":\"b\",\"v\":\"c\",\"r\":\"/\",\"t\":1700000000,\"x\":1}",
        "{\"s\":\"a\",\"s\":\"b\",\"n\":\"b\",\"v\":\"c\",\"r\":\"/\",\"t\":1700000000}",
    };
    const char *aad = "msoauth pending-login v1|" CLIENT;
    const char *good = "{\"s\":\"a\",\"n\":\"b\",\"v\":\"c\",\"r\":\"/app\",\"t\":1700000000}";
    const char *sealed = NULL;
    size_t i;
    int failures = 0;

    (void)state;
    /* the hand-made good record opens: the rows below fail for their shape alone */
    assert_int_equal(msoauth_seal(unit_pool, key, aad, good, strlen(good), &sealed), APR_SUCCESS);
    assert_int_equal(open_at(sealed, key, CLIENT, NOW, NULL, NULL), APR_SUCCESS);
    for (i = 0; i < ROWS(bad); i++) {
        assert_int_equal(msoauth_seal(unit_pool, key, aad, bad[i], strlen(bad[i]), &sealed),
                         APR_SUCCESS);
        ROW_CHECK(failures, open_at(sealed, key, CLIENT, NOW, NULL, NULL) != APR_SUCCESS,
                  "row %zu '%s': opened", i, bad[i]);
    }
    assert_int_equal(failures, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_pending_new_makes_three_distinct_43_char_tokens),
        UNIT_TEST(test_pending_seal_open_round_trip),
        UNIT_TEST(test_pending_open_checks_age),
        UNIT_TEST(test_pending_open_rejects_other_client_id_or_key),
        UNIT_TEST(test_pending_open_rejects_garbage),
        UNIT_TEST(test_pending_open_refuses_unsafe_return_url),
        UNIT_TEST(test_pending_open_rejects_malformed_records),
    };
    return cmocka_run_group_tests_name("pending", tests, unit_group_setup, unit_group_teardown);
}
