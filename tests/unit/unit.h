/* Shared by the unit tests: APR pools per test group, and reporting of failing table rows.
 * Each test file includes this once, after <cmocka.h>. */
#ifndef MSOAUTH_UNIT_H
#define MSOAUTH_UNIT_H

#include <stdio.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <apr_escape.h>

/* unit_root lives as long as the group (keys, JWKS); unit_pool is cleared after every test. */
static apr_pool_t *unit_root;
static apr_pool_t *unit_pool;

static int unit_group_setup(void **state)
{
    (void)state;
    if (apr_initialize() != APR_SUCCESS || apr_pool_create(&unit_root, NULL) != APR_SUCCESS
        || apr_pool_create(&unit_pool, unit_root) != APR_SUCCESS) {
        return -1;
    }
    return 0;
}

static int unit_group_teardown(void **state)
{
    (void)state;
    apr_pool_destroy(unit_root);
    apr_terminate();
    return 0;
}

static int unit_clear_pool(void **state)
{
    (void)state;
    apr_pool_clear(unit_pool);
    return 0;
}

#define UNIT_TEST(f) cmocka_unit_test_teardown(f, unit_clear_pool)
#define ROWS(t) (sizeof(t) / sizeof((t)[0]))

/* Table tests check every row, print each mismatch, then fail once: one run shows them all. */
#define ROW_CHECK(failures, cond, ...)                                                             \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            print_error(__VA_ARGS__);                                                              \
            print_error("\n");                                                                     \
            (failures)++;                                                                          \
        }                                                                                          \
    } while (0)

/* A printable form of s for messages: controls and non-ASCII as \xNN. */
static inline const char *unit_show(const char *s)
{
    static char buf[4][512];
    static int which;
    char *out = buf[which++ % 4], *w = out;

    if (!s) {
        return "(null)";
    }
    for (; *s && w < out + sizeof(buf[0]) - 8; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c >= 0x7f) {
            w += sprintf(w, "\\x%02x", c);
        }
        else {
            *w++ = (char)c;
        }
    }
    if (*s) {
        strcpy(w, "...");
        w += 3;
    }
    *w = '\0';
    return out;
}

static inline int unit_streq(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && !strcmp(a, b));
}

/* An application/x-www-form-urlencoded body holds only escaped characters, and exactly the n
 * parameters names[] in that order, with values[] once decoded. Returns the failures it printed. */
static inline int unit_check_form(size_t row, const char *body, const char *const *names,
                                  const char *const *values, int n)
{
    char *copy = apr_pstrdup(unit_pool, body), *pair, *last = NULL;
    int failures = 0, k = 0;

    ROW_CHECK(failures, strspn(body, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                     "0123456789-_.*%+=&") == strlen(body),
              "row %zu: unescaped character in '%s'", row, unit_show(body));
    for (pair = apr_strtok(copy, "&", &last); pair; pair = apr_strtok(NULL, "&", &last), k++) {
        char *eq = strchr(pair, '=');
        const char *v;
        if (k >= n || !eq) {
            k = 99;
            break;
        }
        *eq = '\0';
        v = apr_punescape_url(unit_pool, eq + 1, NULL, NULL, 1);
        ROW_CHECK(failures, !strcmp(pair, names[k]) && unit_streq(v, values[k]),
                  "row %zu parameter %d: '%s'='%s', expected '%s'='%s'", row, k, pair,
                  unit_show(v), names[k], unit_show(values[k]));
    }
    ROW_CHECK(failures, k == n, "row %zu: %d parameters in '%s'", row, k, unit_show(body));
    return failures;
}

#endif
