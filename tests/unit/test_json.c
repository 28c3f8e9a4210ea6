/* Unit tests for src/json.c: bounded parsing, string access that is NUL-safe, flattening. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <apr_strings.h>

#include "unit.h"
#include "json.h"

static void test_json_load_accepts_objects(void **state)
{
    static const char *const good[] = {
        "{}",
        "{\"a\":1}",
        " \n{\"a\":[1,2,{\"b\":null}]}\n ",
        "{\"s\":\"nul\\u0000inside\"}",
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(good); i++) {
        const char *err = NULL;
        json_t *v = msoauth_json_load(unit_pool, good[i], strlen(good[i]), 1024, &err);
        ROW_CHECK(failures, v && json_is_object(v), "row %zu '%s': refused (%s)", i,
                  unit_show(good[i]), unit_show(err));
    }
    assert_int_equal(failures, 0);
}

static void test_json_load_rejects_non_objects_and_oversized(void **state)
{
    static const struct {
        const char *body;
        apr_size_t max;
    } bad[] = {
        {"", 1024},
        {"[]", 1024},
        {"\"string\"", 1024},
        {"42", 1024},
        {"null", 1024},
        {"<html>502 Bad Gateway</html>", 1024},
        {"{\"a\":1", 1024},
        {"{\"a\":1}{\"b\":2}", 1024},
        {"{\"a\":1,\"a\":2}", 1024},          /* duplicate keys: which one would count? */
        {"{'a':1}", 1024},
        {"{\"a\":1}", 6},                     /* one byte over max */
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(bad); i++) {
        const char *err = NULL;
        json_t *v =
            msoauth_json_load(unit_pool, bad[i].body, strlen(bad[i].body), bad[i].max, &err);
        ROW_CHECK(failures, v == NULL && err && *err, "row %zu '%s': accepted", i,
                  unit_show(bad[i].body));
    }
    assert_int_equal(failures, 0);
    {
        const char *err = NULL;
        assert_null(msoauth_json_load(unit_pool, NULL, 0, 1024, &err));
        assert_non_null(err);
        assert_non_null(msoauth_json_load(unit_pool, "{\"a\":1}", 7, 7, &err)); /* exactly max */
    }
}

static void test_json_str_and_text(void **state)
{
    static const struct {
        const char *key, *str, *text;
    } rows[] = {
        {"s", "plain", "plain"},
        {"empty", "", ""},
        {"nul", NULL, "a b"},       /* str refuses it, text shows it with a space */
        {"num", NULL, NULL},
        {"arr", NULL, NULL},
        {"null", NULL, NULL},
        {"absent", NULL, NULL},
    };
    const char *doc = "{\"s\":\"plain\",\"empty\":\"\",\"nul\":\"a\\u0000b\",\"num\":1,"
                      "\"arr\":[\"x\"],\"null\":null}";
    const char *err = NULL;
    json_t *o = msoauth_json_load(unit_pool, doc, strlen(doc), 1024, &err);
    size_t i;
    int failures = 0;

    (void)state;
    assert_non_null(o);
    for (i = 0; i < ROWS(rows); i++) {
        const char *s = msoauth_json_str(o, rows[i].key);
        const char *t = msoauth_json_text(unit_pool, o, rows[i].key);
        ROW_CHECK(failures, unit_streq(s, rows[i].str) && unit_streq(t, rows[i].text),
                  "key '%s': str '%s' text '%s'", rows[i].key, unit_show(s), unit_show(t));
    }
    assert_null(msoauth_json_str(NULL, "s"));
    assert_null(msoauth_json_text(unit_pool, NULL, "s"));
    assert_int_equal(failures, 0);
}

static void test_json_flatten_table(void **state)
{
    static const struct {
        const char *json, *expected;
    } rows[] = {
        {"\"text\"", "text"},
        {"\"a\\u0000b\"", "a b"},
        {"\"\"", ""},
        {"0", "0"},
        {"42", "42"},
        {"-9007199254740993", "-9007199254740993"},
        {"9223372036854775807", "9223372036854775807"},
        {"true", "true"},
        {"false", "false"},
        {"null", ""},
        {"1.5", "1.5"},
        {"[]", ""},
        {"[\"a\"]", "a"},
        {"[\"a\",\"b\",\"c\"]", "a,b,c"},
        {"[1,true,null,\"x\"]", "1,true,,x"},
        {"[[1,2],{\"k\":\"v\"}]", "[1,2],{\"k\":\"v\"}"},
        {"{}", "{}"},
        {"{\"b\": 1, \"a\": [1, 2]}", "{\"b\":1,\"a\":[1,2]}"},
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(rows); i++) {
        json_error_t jerr;
        json_t *v = msoauth_json_own(
            unit_pool, json_loads(rows[i].json, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr));
        const char *got = v ? msoauth_json_flatten(unit_pool, v) : "(unparsable test row)";
        ROW_CHECK(failures, unit_streq(got, rows[i].expected),
                  "row %zu %s: expected '%s', got '%s'", i, rows[i].json, rows[i].expected,
                  unit_show(got));
    }
    assert_int_equal(failures, 0);
}

static void test_json_dump_is_compact(void **state)
{
    json_t *v = msoauth_json_own(unit_pool, json_pack("{s:i, s:[s, b]}", "a", 1, "b", "x", 1));

    (void)state;
    assert_string_equal(msoauth_json_dump(unit_pool, v), "{\"a\":1,\"b\":[\"x\",true]}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_json_load_accepts_objects),
        UNIT_TEST(test_json_load_rejects_non_objects_and_oversized),
        UNIT_TEST(test_json_str_and_text),
        UNIT_TEST(test_json_flatten_table),
        UNIT_TEST(test_json_dump_is_compact),
    };
    return cmocka_run_group_tests_name("json", tests, unit_group_setup, unit_group_teardown);
}
