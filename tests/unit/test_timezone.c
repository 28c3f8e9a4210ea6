/* Unit tests for src/timezone.c: Windows time zone names (Graph mailboxSettings) to IANA names
 * (PHP's date_default_timezone_set), through ICU. Empty when unknown, never an error. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <apr_strings.h>

#include "unit.h"
#include "timezone.h"

typedef struct {
    const char *input;
    const char *expected;
} str_row_t;

static int check_rows(const str_row_t *rows, size_t n)
{
    size_t i;
    int failures = 0;

    for (i = 0; i < n; i++) {
        const char *got = msoauth_timezone_iana(unit_pool, rows[i].input);
        ROW_CHECK(failures, unit_streq(got, rows[i].expected),
                  "row %zu '%s': expected '%s', got '%s'", i, unit_show(rows[i].input),
                  unit_show(rows[i].expected), unit_show(got));
    }
    return failures;
}

static void test_timezone_maps_windows_names(void **state)
{
    static const str_row_t rows[] = {
        {"W. Europe Standard Time", "Europe/Berlin"},
        {"Pacific Standard Time", "America/Los_Angeles"},
        {"Eastern Standard Time", "America/New_York"},
        {"GMT Standard Time", "Europe/London"},
        {"Romance Standard Time", "Europe/Paris"},
        {"Tokyo Standard Time", "Asia/Tokyo"},
        {"E. South America Standard Time", "America/Sao_Paulo"},
        {"Pacific Standard Time (Mexico)", "America/Tijuana"},
        {"UTC", "Etc/UTC"},
        {"UTC+12", "Etc/GMT-12"},
        {"Dateline Standard Time", "Etc/GMT+12"},
    };

    (void)state;
    assert_int_equal(check_rows(rows, ROWS(rows)), 0);
}

/* Outlook lets users pick IANA zones too: a name ICU knows is kept. */
static void test_timezone_keeps_iana_names(void **state)
{
    static const str_row_t rows[] = {
        {"Europe/Berlin", "Europe/Berlin"},
        {"America/New_York", "America/New_York"},
        {"America/Los_Angeles", "America/Los_Angeles"},
        {"Asia/Tokyo", "Asia/Tokyo"},
        {"Etc/UTC", "Etc/UTC"},
        {"Etc/GMT+5", "Etc/GMT+5"},
        {"Australia/Lord_Howe", "Australia/Lord_Howe"},
    };

    (void)state;
    assert_int_equal(check_rows(rows, ROWS(rows)), 0);
}

/* Renamed zones: IANA's current name must come back as given, not as the older spelling that ICU
 * (CLDR) keeps as its canonical id. PHP's timezone_identifiers_list() (what a sign-up form's
 * time zone menu is built from) lists Asia/Kolkata and Europe/Kyiv, not Asia/Calcutta and
 * Europe/Kiev, so the older name pre-selects nothing. */
static void test_timezone_keeps_renamed_iana_names_as_given(void **state)
{
    static const str_row_t rows[] = {
        {"Asia/Kolkata", "Asia/Kolkata"},
        {"Europe/Kyiv", "Europe/Kyiv"},
        {"Asia/Ho_Chi_Minh", "Asia/Ho_Chi_Minh"},
        {"Asia/Kathmandu", "Asia/Kathmandu"},
    };

    (void)state;
    assert_int_equal(check_rows(rows, ROWS(rows)), 0);
}

/* Anything ICU does not know, and anything that is not a plain ASCII name, gives "". */
static void test_timezone_unknown_names_give_empty(void **state)
{
    static const str_row_t rows[] = {
        {"Mars Standard Time", ""},
        {"Customized Time Zone", ""},            /* what Graph reports for a custom zone */
        {"w. europe standard time", ""},         /* Windows ids are exact */
        {"W. Europe Standard Time ", ""},
        {"Europe/Atlantis", ""},
        {"Europe/Berlin ", ""},
        {"tzone://Microsoft/Utc", ""},
        {"Europe/Z\xc3\xbcrich", ""},            /* non-ASCII */
        {"W. Europe\r\nStandard Time", ""},      /* control characters */
        {"/", ""},
        {"", ""},
        {NULL, ""},
    };

    (void)state;
    assert_int_equal(check_rows(rows, ROWS(rows)), 0);
}

/* A name longer than any zone id is refused, not truncated into a match. */
static void test_timezone_refuses_overlong_names(void **state)
{
    char *name = apr_palloc(unit_pool, 301);
    const char *prefix = "W. Europe Standard Time";

    (void)state;
    memset(name, 'x', 300);
    name[300] = '\0';
    memcpy(name, prefix, strlen(prefix));
    assert_string_equal(msoauth_timezone_iana(unit_pool, name), "");
    memcpy(name, "Europe/Berlin", 13);
    assert_string_equal(msoauth_timezone_iana(unit_pool, name), "");
    /* a 127-character name still fits the buffer and is looked up (and is unknown) */
    name[127] = '\0';
    assert_string_equal(msoauth_timezone_iana(unit_pool, name), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_timezone_maps_windows_names),
        UNIT_TEST(test_timezone_keeps_iana_names),
        UNIT_TEST(test_timezone_keeps_renamed_iana_names_as_given),
        UNIT_TEST(test_timezone_unknown_names_give_empty),
        UNIT_TEST(test_timezone_refuses_overlong_names),
    };
    return cmocka_run_group_tests_name("timezone", tests, unit_group_setup, unit_group_teardown);
}
