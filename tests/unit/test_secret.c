/* Unit tests for src/secret.c: "file:" secrets read at start-up. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <apr_strings.h>
#include <apr_file_io.h>

#include "unit.h"
#include "secret.h"

/* A file holding exactly len bytes of content, in a fresh temporary name. */
static const char *write_file(const char *content, apr_size_t len)
{
    const char *dir = NULL;
    char *path;
    apr_file_t *f;
    apr_size_t written = 0;

    assert_int_equal(apr_temp_dir_get(&dir, unit_pool), APR_SUCCESS);
    path = apr_pstrcat(unit_pool, dir, "/msoauth-secret-XXXXXX", NULL);
    assert_int_equal(apr_file_mktemp(&f, path, APR_FOPEN_CREATE | APR_FOPEN_WRITE | APR_FOPEN_EXCL,
                                     unit_pool), APR_SUCCESS);
    if (len) {
        assert_int_equal(apr_file_write_full(f, content, len, &written), APR_SUCCESS);
    }
    apr_file_close(f);
    return path;
}

static void test_secret_is_file_table(void **state)
{
    static const struct {
        const char *arg;
        int expected;
        const char *path;
    } rows[] = {
        {"file:/etc/apache2/msoauth.secret", 1, "/etc/apache2/msoauth.secret"},
        {"file:relative/secret", 1, "relative/secret"},
        {"file:", 1, ""},
        {"s3cret", 0, NULL},
        {"", 0, NULL},
        {"FILE:/etc/x", 0, NULL},
        {"file/etc/x", 0, NULL},
        {" file:/etc/x", 0, NULL},
        {"xfile:/etc/x", 0, NULL},
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(rows); i++) {
        const char *path = NULL;
        int got = msoauth_secret_is_file(rows[i].arg, &path);
        ROW_CHECK(failures, got == rows[i].expected && (!got || unit_streq(path, rows[i].path)),
                  "row %zu '%s': got %d path '%s'", i, rows[i].arg, got, unit_show(path));
    }
    assert_int_equal(failures, 0);
}

static void test_secret_read_file_trims_trailing_newlines_only(void **state)
{
    static const struct {
        const char *content;
        apr_size_t len;
        const char *expected;
    } rows[] = {
        {"s3cret", 6, "s3cret"},
        {"s3cret\n", 7, "s3cret"},
        {"s3cret\r\n", 8, "s3cret"},
        {"s3cret\n\n\n", 9, "s3cret"},
        {"s3cret\r", 7, "s3cret"},
        {"  spaced secret  \n", 18, "  spaced secret  "},
        {"tab\t\n", 5, "tab\t"},
        {"line1\nline2\n", 12, "line1\nline2"},
        {"x", 1, "x"},
        {"Jos\xc3\xa9~!@#$%^&*()\n", 17, "Jos\xc3\xa9~!@#$%^&*()"},
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(rows); i++) {
        const char *path = write_file(rows[i].content, rows[i].len);
        const char *out = NULL, *err = NULL;
        apr_status_t rv = msoauth_secret_read_file(unit_pool, path, &out, &err);
        ROW_CHECK(failures, rv == APR_SUCCESS && unit_streq(out, rows[i].expected),
                  "row %zu '%s': rv %d, got '%s' (%s)", i, unit_show(rows[i].content), rv,
                  unit_show(out), unit_show(err));
        apr_file_remove(path, unit_pool);
    }
    assert_int_equal(failures, 0);
}

static void test_secret_read_file_refuses_empty_or_nul(void **state)
{
    static const struct {
        const char *content;
        apr_size_t len;
    } rows[] = {
        {"", 0},
        {"\n", 1},
        {"\r\n", 2},
        {"\n\n\n", 3},
        {"a\0b", 3},
        {"\0", 1},
        {"secret\0\n", 8},
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(rows); i++) {
        const char *path = write_file(rows[i].content, rows[i].len);
        const char *out = "sentinel", *err = NULL;
        apr_status_t rv = msoauth_secret_read_file(unit_pool, path, &out, &err);
        ROW_CHECK(failures, rv != APR_SUCCESS && out == NULL && err && strstr(err, path),
                  "row %zu (%zu bytes): rv %d out '%s' (%s)", i, (size_t)rows[i].len, rv,
                  unit_show(out), unit_show(err));
        apr_file_remove(path, unit_pool);
    }
    assert_int_equal(failures, 0);
}

static void test_secret_read_file_refuses_missing_file_and_directory(void **state)
{
    const char *out = "sentinel", *err = NULL, *dir = NULL;

    (void)state;
    assert_int_not_equal(
        msoauth_secret_read_file(unit_pool, "/nonexistent/msoauth/secret", &out, &err),
        APR_SUCCESS);
    assert_null(out);
    assert_non_null(strstr(err, "/nonexistent/msoauth/secret"));

    assert_int_equal(apr_temp_dir_get(&dir, unit_pool), APR_SUCCESS);
    out = "sentinel";
    err = NULL;
    assert_int_not_equal(msoauth_secret_read_file(unit_pool, dir, &out, &err), APR_SUCCESS);
    assert_null(out);
    assert_non_null(err);
}

/* At most MSOAUTH_SECRET_FILE_MAX bytes (newline included). */
static void test_secret_read_file_caps_size(void **state)
{
    static const struct {
        apr_size_t len;
        int newline;
        int ok;
    } rows[] = {
        {MSOAUTH_SECRET_FILE_MAX, 0, 1},
        {MSOAUTH_SECRET_FILE_MAX - 1, 1, 1},
        {MSOAUTH_SECRET_FILE_MAX, 1, 0},
        {MSOAUTH_SECRET_FILE_MAX + 1, 0, 0},
        {MSOAUTH_SECRET_FILE_MAX * 25, 0, 0},
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(rows); i++) {
        apr_size_t total = rows[i].len + (rows[i].newline ? 1 : 0);
        char *content = apr_palloc(unit_pool, total);
        const char *path, *out = NULL, *err = NULL;
        apr_status_t rv;

        memset(content, 'k', rows[i].len);
        if (rows[i].newline) {
            content[rows[i].len] = '\n';
        }
        path = write_file(content, total);
        rv = msoauth_secret_read_file(unit_pool, path, &out, &err);
        if (rows[i].ok) {
            ROW_CHECK(failures, rv == APR_SUCCESS && out && strlen(out) == rows[i].len,
                      "row %zu (%zu bytes): refused (%s)", i, (size_t)total, unit_show(err));
        }
        else {
            ROW_CHECK(failures, rv != APR_SUCCESS && out == NULL && err && strstr(err, "larger"),
                      "row %zu (%zu bytes): rv %d (%s)", i, (size_t)total, rv, unit_show(err));
        }
        apr_file_remove(path, unit_pool);
    }
    assert_int_equal(failures, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_secret_is_file_table),
        UNIT_TEST(test_secret_read_file_trims_trailing_newlines_only),
        UNIT_TEST(test_secret_read_file_refuses_empty_or_nul),
        UNIT_TEST(test_secret_read_file_refuses_missing_file_and_directory),
        UNIT_TEST(test_secret_read_file_caps_size),
    };
    return cmocka_run_group_tests_name("secret", tests, unit_group_setup, unit_group_teardown);
}
