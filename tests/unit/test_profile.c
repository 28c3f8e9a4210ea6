/* Unit tests for src/profile.c, the parts without HTTP: the Graph $batch answer (profile, mailbox
 * time zone, photo) and whether the granted scopes allow reading the mailbox settings. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <apr_strings.h>
#include <apr_encode.h>

#include "unit.h"
#include "profile.h"
#include "json.h"

/* The first bytes of a JPEG and of a PNG, enough to tell them apart. */
static const unsigned char jpeg[] = {0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0x00,
                                     0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0xff,
                                     0xd9};
static const unsigned char png[] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00};

#define ME_OK                                                                                      \
    "{\"id\":\"me\",\"status\":200,\"headers\":{\"Content-Type\":\"application/json\"},"          \
    "\"body\":{\"id\":\"u-1\",\"displayName\":\"Jos\\u00e9 M\\u00fcller\","                        \
    "\"mail\":\"jose@contoso.test\",\"preferredLanguage\":\"de-DE\"}}"
#define TZ_OK                                                                                      \
    "{\"id\":\"tz\",\"status\":200,\"headers\":{\"Content-Type\":\"application/json\"},"          \
    "\"body\":{\"@odata.context\":\"https://graph.microsoft.com/v1.0/$metadata#users('u-1')/"      \
    "mailboxSettings/timeZone\",\"value\":\"W. Europe Standard Time\"}}"
#define PHOTO_404                                                                                  \
    "{\"id\":\"photo\",\"status\":404,\"headers\":{\"Content-Type\":\"application/json\"},"       \
    "\"body\":{\"error\":{\"code\":\"ImageNotFound\",\"message\":\"The photo wasn't found.\"}}}"

static const char *b64(const void *data, apr_size_t len)
{
    return apr_pencode_base64_binary(unit_pool, data, len, APR_ENCODE_NONE, NULL);
}

/* One photo response with the given status, content type and body (a JSON value's text). */
static const char *photo_resp(long status, const char *content_type, const char *body_json)
{
    return apr_psprintf(unit_pool,
                        "{\"id\":\"photo\",\"status\":%ld,\"headers\":{%s%s%s},\"body\":%s}",
                        status, content_type ? "\"Content-Type\":\"" : "",
                        content_type ? content_type : "", content_type ? "\"" : "", body_json);
}

static const char *batch(const char *a, const char *b, const char *c)
{
    return apr_pstrcat(unit_pool, "{\"responses\":[", a ? a : "", a && b ? "," : "", b ? b : "",
                       (a || b) && c ? "," : "", c ? c : "", "]}", NULL);
}

static apr_status_t parse_into(const char *body, msoauth_profile_t *out, const char **err)
{
    memset(out, 0, sizeof(*out));
    *err = NULL;
    return msoauth_profile_parse_batch(unit_pool, body, body ? strlen(body) : 0, out, err);
}

static void test_profile_batch_with_everything(void **state)
{
    msoauth_profile_t prof;
    const char *err;
    const char *body = batch(
        ME_OK, TZ_OK,
        photo_resp(200, "image/jpeg", apr_psprintf(unit_pool, "\"%s\"", b64(jpeg, sizeof(jpeg)))));

    (void)state;
    assert_int_equal(parse_into(body, &prof, &err), APR_SUCCESS);
    assert_non_null(prof.me);
    assert_null(prof.me_error);
    assert_string_equal(msoauth_json_str(prof.me, "displayName"), "Jos\xc3\xa9 M\xc3\xbcller");
    assert_string_equal(msoauth_json_str(prof.me, "preferredLanguage"), "de-DE");
    assert_string_equal(prof.timezone, "W. Europe Standard Time");
    assert_null(prof.timezone_error);
    assert_non_null(prof.photo);
    assert_int_equal(prof.photo_len, sizeof(jpeg));
    assert_memory_equal(prof.photo, jpeg, sizeof(jpeg));
    assert_string_equal(prof.photo_type, "image/jpeg");
    assert_false(prof.photo_missing);
    assert_null(prof.photo_error);
}

/* Graph answers a $batch in any order. */
static void test_profile_batch_in_any_order(void **state)
{
    msoauth_profile_t prof;
    const char *err;
    const char *body = batch(photo_resp(200, "image/png",
                                        apr_psprintf(unit_pool, "\"%s\"", b64(png, sizeof(png)))),
                             TZ_OK, ME_OK);

    (void)state;
    assert_int_equal(parse_into(body, &prof, &err), APR_SUCCESS);
    assert_non_null(prof.me);
    assert_string_equal(prof.timezone, "W. Europe Standard Time");
    assert_string_equal(prof.photo_type, "image/png");
    assert_int_equal(prof.photo_len, sizeof(png));
    assert_memory_equal(prof.photo, png, sizeof(png));
}

/* 404: the user has no photo (personal accounts often): not an error. */
static void test_profile_batch_photo_404_is_missing_not_an_error(void **state)
{
    msoauth_profile_t prof;
    const char *err;

    (void)state;
    assert_int_equal(parse_into(batch(ME_OK, PHOTO_404, NULL), &prof, &err), APR_SUCCESS);
    assert_non_null(prof.me);
    assert_true(prof.photo_missing);
    assert_null(prof.photo);
    assert_null(prof.photo_type);
    assert_null(prof.photo_error);
    /* the time zone was not asked for */
    assert_null(prof.timezone);
    assert_null(prof.timezone_error);
}

/* Only JPEG, PNG, GIF and WebP are kept (a photo is served back from this server: never markup
 * or SVG); a parameter after ';' is allowed, case does not matter. */
static void test_profile_batch_photo_content_types(void **state)
{
    static const struct {
        const char *content_type, *kept_as;
    } rows[] = {
        {"image/jpeg", "image/jpeg"},
        {"image/png", "image/png"},
        {"image/gif", "image/gif"},
        {"image/webp", "image/webp"},
        {"IMAGE/JPEG", "image/jpeg"},
        {"image/jpeg;charset=binary", "image/jpeg"},
        {"image/jpeg; q=1", "image/jpeg"},
        {"text/html", NULL},
        {"text/html; charset=utf-8", NULL},
        {"image/svg+xml", NULL},
        {"application/octet-stream", NULL},
        {"application/json", NULL},
        {"image/jpegx", NULL},
        {"image/jpe", NULL},
        {"image/pngfoo", NULL},
        {"image/jpeg,text/html", NULL},
        {"", NULL},
        {NULL, NULL},                   /* no Content-Type at all */
    };
    const char *body_json = apr_psprintf(unit_pool, "\"%s\"", b64(jpeg, sizeof(jpeg)));
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(rows); i++) {
        msoauth_profile_t prof;
        const char *err;
        apr_status_t rv = parse_into(
            batch(ME_OK, photo_resp(200, rows[i].content_type, body_json), NULL), &prof, &err);
        if (rows[i].kept_as) {
            ROW_CHECK(failures,
                      rv == APR_SUCCESS && prof.photo && prof.photo_len == sizeof(jpeg)
                          && unit_streq(prof.photo_type, rows[i].kept_as) && !prof.photo_error,
                      "row %zu '%s': expected a photo of type %s, got type '%s' (%s)", i,
                      unit_show(rows[i].content_type), rows[i].kept_as, unit_show(prof.photo_type),
                      unit_show(prof.photo_error));
        }
        else {
            ROW_CHECK(failures,
                      rv == APR_SUCCESS && !prof.photo && !prof.photo_type && prof.photo_error
                          && !prof.photo_missing && prof.me,
                      "row %zu '%s': expected the photo refused, got type '%s' error '%s'", i,
                      unit_show(rows[i].content_type), unit_show(prof.photo_type),
                      unit_show(prof.photo_error));
        }
    }
    assert_int_equal(failures, 0);
}

/* Content-Type is found whatever the spelling of the header name. */
static void test_profile_batch_photo_header_name_case(void **state)
{
    msoauth_profile_t prof;
    const char *err;
    const char *resp =
        apr_psprintf(unit_pool,
                     "{\"id\":\"photo\",\"status\":200,\"headers\":{\"content-type\":"
                     "\"image/gif\",\"ETag\":\"W/x\"},\"body\":\"%s\"}",
                     b64(jpeg, sizeof(jpeg)));

    (void)state;
    assert_int_equal(parse_into(batch(ME_OK, resp, NULL), &prof, &err), APR_SUCCESS);
    assert_string_equal(prof.photo_type, "image/gif");
    assert_non_null(prof.photo);
}

/* Up to MSOAUTH_PHOTO_MAX bytes is kept; one byte more is refused. */
static void test_profile_batch_photo_size_cap(void **state)
{
    static const apr_size_t sizes[] = {MSOAUTH_PHOTO_MAX - 1, MSOAUTH_PHOTO_MAX,
                                       MSOAUTH_PHOTO_MAX + 1, MSOAUTH_PHOTO_MAX + 3,
                                       4 * MSOAUTH_PHOTO_MAX};
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(sizes); i++) {
        unsigned char *raw = apr_palloc(unit_pool, sizes[i]);
        msoauth_profile_t prof;
        const char *err;
        apr_status_t rv;
        int keep = sizes[i] <= MSOAUTH_PHOTO_MAX;

        memset(raw, 0xa5, sizes[i]);
        memcpy(raw, jpeg, 4);
        rv = parse_into(batch(ME_OK,
                              photo_resp(200, "image/jpeg",
                                         apr_psprintf(unit_pool, "\"%s\"", b64(raw, sizes[i]))),
                              NULL),
                        &prof, &err);
        ROW_CHECK(failures, rv == APR_SUCCESS && prof.me, "size %zu: rv %d (%s)", sizes[i], rv,
                  unit_show(err));
        if (keep) {
            ROW_CHECK(failures,
                      prof.photo && prof.photo_len == sizes[i] &&
                          !memcmp(prof.photo, raw, sizes[i]) && !prof.photo_error,
                      "size %zu: expected the photo kept (%s)", sizes[i],
                      unit_show(prof.photo_error));
        }
        else {
            ROW_CHECK(failures, !prof.photo && !prof.photo_type && prof.photo_error,
                      "size %zu: expected the photo refused", sizes[i]);
        }
    }
    assert_int_equal(failures, 0);
}

/* A photo whose body is not usable base64 image data is refused, with a reason. */
static void test_profile_batch_photo_unusable_bodies(void **state)
{
    static const char *const bodies[] = {
        "\"\"",                 /* empty */
        "\"!!!not base64!!!\"",
        "\"/9j/4A\\u0000AQ\"",  /* NUL inside */
        "null",
        "42",
        "{\"data\":\"/9j/4AAQ\"}",
        "[\"/9j/4AAQ\"]",
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(bodies); i++) {
        msoauth_profile_t prof;
        const char *err;
        apr_status_t rv = parse_into(batch(ME_OK, photo_resp(200, "image/jpeg", bodies[i]), NULL),
                                     &prof, &err);
        ROW_CHECK(failures,
                  rv == APR_SUCCESS && !prof.photo && !prof.photo_type && prof.photo_error,
                  "row %zu %s: expected the photo refused, got %zu bytes (%s)", i, bodies[i],
                  prof.photo_len, unit_show(prof.photo_error));
    }
    assert_int_equal(failures, 0);
}

/* Every part fails on its own: the others are still read. */
static void test_profile_batch_parts_fail_independently(void **state)
{
    msoauth_profile_t prof;
    const char *err;

    (void)state;
    /* /me refused, time zone forbidden (MailboxSettings.Read not consented), photo server error */
    assert_int_equal(
        parse_into(batch("{\"id\":\"me\",\"status\":401,\"body\":{\"error\":{\"code\":\"x\"}}}",
                         "{\"id\":\"tz\",\"status\":403,\"body\":{\"error\":{}}}",
                         photo_resp(500, "application/json", "{}")),
                   &prof, &err),
        APR_SUCCESS);
    assert_null(prof.me);
    assert_non_null(prof.me_error);
    assert_non_null(strstr(prof.me_error, "401"));
    assert_null(prof.timezone);
    assert_non_null(prof.timezone_error);
    assert_non_null(strstr(prof.timezone_error, "403"));
    assert_null(prof.photo);
    assert_false(prof.photo_missing);
    assert_non_null(prof.photo_error);
    assert_non_null(strstr(prof.photo_error, "500"));

    /* time zone answered but without a string value; /me answered 200 with a non-object */
    assert_int_equal(
        parse_into(batch("{\"id\":\"me\",\"status\":200,\"body\":\"text\"}",
                         "{\"id\":\"tz\",\"status\":200,\"body\":{\"value\":null}}", NULL),
                   &prof, &err),
        APR_SUCCESS);
    assert_null(prof.me);
    assert_non_null(prof.me_error);
    assert_null(prof.timezone);
    assert_non_null(prof.timezone_error);

    /* status missing or not a number reads as failure */
    assert_int_equal(
        parse_into(batch("{\"id\":\"me\",\"body\":{\"id\":\"u\"}}",
                         "{\"id\":\"tz\",\"status\":\"200\",\"body\":{\"value\":\"UTC\"}}", NULL),
                   &prof, &err),
        APR_SUCCESS);
    assert_null(prof.me);
    assert_non_null(prof.me_error);
    assert_null(prof.timezone);
    assert_non_null(prof.timezone_error);
}

/* /me absent from the answer is recorded as a /me error; unknown or id-less parts are ignored. */
static void test_profile_batch_missing_me_and_unknown_parts(void **state)
{
    msoauth_profile_t prof;
    const char *err;

    (void)state;
    assert_int_equal(parse_into(batch(TZ_OK, "{\"id\":\"other\",\"status\":200,\"body\":{}}",
                                      "{\"status\":200,\"body\":{\"id\":\"not me\"}}"),
                                &prof, &err),
                     APR_SUCCESS);
    assert_null(prof.me);
    assert_non_null(prof.me_error);
    assert_string_equal(prof.timezone, "W. Europe Standard Time");
    assert_null(prof.photo);
    assert_null(prof.photo_error);

    assert_int_equal(parse_into("{\"responses\":[]}", &prof, &err), APR_SUCCESS);
    assert_null(prof.me);
    assert_non_null(prof.me_error);
}

/* Not a $batch answer at all: the call fails with a reason. */
static void test_profile_batch_rejects_unusable_answers(void **state)
{
    static const char *const bodies[] = {
        "",
        "not json",
        "[]",
        "{}",
        "{\"responses\":{}}",
        "{\"responses\":null}",
        "{\"responses\":[]",
        "{\"responses\":[],\"responses\":[]}",
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(bodies); i++) {
        msoauth_profile_t prof;
        const char *err;
        apr_status_t rv = parse_into(bodies[i], &prof, &err);
        ROW_CHECK(failures, rv != APR_SUCCESS && err && *err, "row %zu '%s': rv %d, accepted", i,
                  bodies[i], rv);
    }
    assert_int_equal(failures, 0);
}

static void test_scope_grants_mailbox(void **state)
{
    static const struct {
        const char *scope;
        int grants;
    } rows[] = {
        {"openid profile email User.Read MailboxSettings.Read", 1},
        {"MailboxSettings.Read", 1},
        {"MailboxSettings.Read openid", 1},
        {"MailboxSettings.ReadWrite User.Read", 1},
        {"https://graph.microsoft.com/MailboxSettings.Read https://graph.microsoft.com/User.Read",
         1},
        {"User.Read https://graph.microsoft.com/MailboxSettings.ReadWrite", 1},
        {"openid mailboxsettings.read", 1},
        {"openid profile email User.Read", 0},
        {"openid Mail.Read Mail.ReadBasic", 0},
        {"XMailboxSettings.Read", 0},
        {"User.ReadMailboxSettings.Read", 0},
        {"MailboxSettings", 0},
        {"MailboxSettings.Rea", 0},
        {"", 0},
        {NULL, 0},
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(rows); i++) {
        int got = msoauth_scope_grants_mailbox(rows[i].scope);
        ROW_CHECK(failures, got == rows[i].grants, "row %zu '%s': expected %d, got %d", i,
                  unit_show(rows[i].scope), rows[i].grants, got);
    }
    assert_int_equal(failures, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_profile_batch_with_everything),
        UNIT_TEST(test_profile_batch_in_any_order),
        UNIT_TEST(test_profile_batch_photo_404_is_missing_not_an_error),
        UNIT_TEST(test_profile_batch_photo_content_types),
        UNIT_TEST(test_profile_batch_photo_header_name_case),
        UNIT_TEST(test_profile_batch_photo_size_cap),
        UNIT_TEST(test_profile_batch_photo_unusable_bodies),
        UNIT_TEST(test_profile_batch_parts_fail_independently),
        UNIT_TEST(test_profile_batch_missing_me_and_unknown_parts),
        UNIT_TEST(test_profile_batch_rejects_unusable_answers),
        UNIT_TEST(test_scope_grants_mailbox),
    };
    return cmocka_run_group_tests_name("profile", tests, unit_group_setup, unit_group_teardown);
}
