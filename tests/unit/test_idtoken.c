/* Unit tests for src/idtoken.c: id_token signature and claim checks against a JWKS.
 * Tokens are really signed (cjose, RS256) with a key made once per group; the attacks that
 * need a header cjose will not sign (alg none, HS256 with the public key as secret) are
 * crafted by hand. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <cmocka.h>

#include <apr_strings.h>
#include <apr_tables.h>
#include <cjose/cjose.h>
#include <openssl/hmac.h>
#include <openssl/evp.h>

#include "unit.h"
#include "idtoken.h"
#include "json.h"
#include "random.h"

#define NOW 1700000000
#define CLIENT "00000000-1111-2222-3333-444444444444"
#define OTHER_CLIENT "99999999-1111-2222-3333-444444444444"
#define WORK_TID "72f988bf-86f1-41af-91ab-2d7cd011db47"
#define OTHER_TID "11111111-2222-3333-4444-555555555555"
#define PERSONAL_TID "9188040d-6c67-4c5b-b112-36a304b66dad"
#define BASE "https://login.example.test"
#define TEMPLATE BASE "/{tenantid}/v2.0"
#define ISS_WORK BASE "/" WORK_TID "/v2.0"
#define ISS_OTHER BASE "/" OTHER_TID "/v2.0"
#define ISS_PERSONAL BASE "/" PERSONAL_TID "/v2.0"
#define NONCE "n0nce-Zm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm9vYmE"

static cjose_jwk_t *signing_key; /* its public half is in the JWKS */
static cjose_jwk_t *stranger_key; /* not in the JWKS */
static const char *public_jwk_text;
static json_t *jwks;

static apr_status_t release_jwk(void *k)
{
    cjose_jwk_release(k);
    return APR_SUCCESS;
}

static cjose_jwk_t *make_rsa_key(void)
{
    static const uint8_t e[] = {0x01, 0x00, 0x01};
    cjose_err cerr;
    cjose_jwk_t *k = cjose_jwk_create_RSA_random(2048, e, sizeof(e), &cerr);

    if (k) {
        apr_pool_cleanup_register(unit_root, k, release_jwk, apr_pool_cleanup_null);
    }
    return k;
}

/* A JWKS entry holding the public signing key under kid, with extra members from extra_json. */
static json_t *jwks_entry(const char *kid, const char *extra_json)
{
    json_error_t jerr;
    json_t *k = json_loads(public_jwk_text, 0, &jerr);

    json_object_set_new(k, "kid", json_string(kid));
    if (extra_json) {
        json_t *extra = json_loads(extra_json, 0, &jerr);
        json_object_update(k, extra);
        json_decref(extra);
    }
    return k;
}

static int idtoken_group_setup(void **state)
{
    cjose_err cerr;
    char *pub;
    json_t *keys;

    if (unit_group_setup(state) != 0 || !(signing_key = make_rsa_key())
        || !(stranger_key = make_rsa_key())) {
        return -1;
    }
    pub = cjose_jwk_to_json(signing_key, false, &cerr);
    if (!pub) {
        return -1;
    }
    public_jwk_text = apr_pstrdup(unit_root, pub);
    free(pub);

    keys = json_array();
    /* as Microsoft publishes them: use sig and an issuer template */
    json_array_append_new(keys,
                          jwks_entry("key-1", "{\"use\":\"sig\",\"issuer\":\"" TEMPLATE "\"}"));
    json_array_append_new(keys, jwks_entry("key-plain", NULL));
    json_array_append_new(keys, jwks_entry("key-alg", "{\"use\":\"sig\",\"alg\":\"RS256\"}"));
    json_array_append_new(keys, jwks_entry("key-enc", "{\"use\":\"enc\"}"));
    json_array_append_new(keys, jwks_entry("key-rs512", "{\"alg\":\"RS512\"}"));
    json_array_append_new(keys, jwks_entry("key-ec", "{\"kty\":\"EC\"}"));
    json_array_append_new(keys, jwks_entry("key-nokty", "{\"kty\":null}"));
    json_array_append_new(keys, jwks_entry("key-broken", "{\"n\":\"AQAB\",\"e\":\"!!\"}"));
    json_array_append_new(keys,
                          jwks_entry("key-evil-issuer",
                                     "{\"issuer\":\"https://evil.example.test/{tenantid}/v2.0\"}"));
    json_array_append_new(keys, jwks_entry("key-work-issuer", "{\"issuer\":\"" ISS_WORK "\"}"));
    jwks = msoauth_json_own(unit_root, json_pack("{s:o}", "keys", keys));
    return jwks ? 0 : -1;
}

typedef enum {
    SIGN_RS,        /* cjose, with the header's alg (RS256 or RS512), by the JWKS key */
    SIGN_STRANGER,  /* cjose RS256 by a key that is not in the JWKS */
    SIGN_HS256_PUB, /* HMAC-SHA256 keyed with the public JWK text: the alg-confusion attack */
    SIGN_EMPTY,     /* no signature at all (alg none) */
    SIGN_JUNK       /* a signature-shaped blob */
} sign_mode_t;

typedef enum {
    TAMPER_NONE,
    TAMPER_SIGNATURE, /* one character of the signature changed */
    TAMPER_PAYLOAD    /* one character of the payload changed */
} tamper_t;

/* obj updated by patch_json; members set to null in the patch are removed. */
static void apply_patch(json_t *obj, const char *patch_json)
{
    json_error_t jerr;
    json_t *patch, *v;
    const char *k;

    if (!patch_json) {
        return;
    }
    patch = json_loads(patch_json, JSON_ALLOW_NUL, &jerr);
    if (!patch) {
        fail_msg("bad patch in test table: %s: %s", jerr.text, patch_json);
    }
    json_object_foreach(patch, k, v) {
        if (json_is_null(v)) {
            json_object_del(obj, k);
        }
        else {
            json_object_set(obj, k, v);
        }
    }
    json_decref(patch);
}

static const char *b64(const void *data, size_t len)
{
    return msoauth_b64url_encode(unit_pool, data, len);
}

static const char *b64s(const char *s)
{
    return b64(s, strlen(s));
}

/* Changes the character at the middle of [from, to) to another of the alphabet, flipping the
 * top bit of its 6-bit value (always a data bit). */
static void flip_char(char *from, char *to)
{
    static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char *c = from + (to - from) / 2;
    *c = alpha[(strchr(alpha, *c) - alpha) ^ 0x20];
}

static const char *make_token(const char *header_patch, const char *claims_patch, sign_mode_t mode,
                              tamper_t tamper)
{
    json_t *header = json_pack("{s:s, s:s, s:s}", "alg", "RS256", "typ", "JWT", "kid", "key-1");
    json_t *claims = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:s, s:s, s:s, s:s}",
                               "aud", CLIENT, "iss", ISS_WORK, "tid", WORK_TID, "nonce", NONCE,
                               "exp", (json_int_t)(NOW + 3600), "iat", (json_int_t)(NOW - 60),
                               "nbf", (json_int_t)(NOW - 60), "oid",
                               "00000000-0000-0000-66f3-3332eca7ea81", "sub", "AAAAsubject",
                               "name", "Ada Lovelace", "preferred_username", "ada@contoso.test",
                               "ver", "2.0");
    char *payload, *head_text;
    const char *compact = NULL, *signing_input;
    char *out;

    apply_patch(header, header_patch);
    apply_patch(claims, claims_patch);
    payload = json_dumps(claims, JSON_COMPACT);
    head_text = json_dumps(header, JSON_COMPACT);
    signing_input = apr_pstrcat(unit_pool, b64(head_text, strlen(head_text)), ".",
                                b64(payload, strlen(payload)), NULL);

    switch (mode) {
    case SIGN_RS:
    case SIGN_STRANGER: {
        cjose_err cerr;
        cjose_jws_t *jws = cjose_jws_sign(mode == SIGN_RS ? signing_key : stranger_key,
                                          (cjose_header_t *)header, (const uint8_t *)payload,
                                          strlen(payload), &cerr);
        const char *ser = NULL;
        if (!jws || !cjose_jws_export(jws, &ser, &cerr)) {
            fail_msg("cjose could not sign: %s", cerr.message);
        }
        compact = apr_pstrdup(unit_pool, ser);
        cjose_jws_release(jws);
        break;
    }
    case SIGN_HS256_PUB: {
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int mac_len = 0;
        HMAC(EVP_sha256(), public_jwk_text, (int)strlen(public_jwk_text),
             (const unsigned char *)signing_input, strlen(signing_input), mac, &mac_len);
        compact = apr_pstrcat(unit_pool, signing_input, ".", b64(mac, mac_len), NULL);
        break;
    }
    case SIGN_EMPTY:
        compact = apr_pstrcat(unit_pool, signing_input, ".", NULL);
        break;
    case SIGN_JUNK:
        compact = apr_pstrcat(unit_pool, signing_input, ".",
                              b64("not a signature, just 32 bytes!!", 32), NULL);
        break;
    }
    free(payload);
    free(head_text);
    json_decref(header);
    json_decref(claims);

    out = apr_pstrdup(unit_pool, compact);
    if (tamper != TAMPER_NONE) {
        char *dot1 = strchr(out, '.'), *dot2 = strchr(dot1 + 1, '.');
        if (tamper == TAMPER_SIGNATURE) {
            flip_char(dot2 + 1, out + strlen(out));
        }
        else {
            flip_char(dot1 + 1, dot2);
        }
    }
    return out;
}

/* "a,b" -> array of strings; NULL -> NULL (any tenant). */
static const apr_array_header_t *tenant_list(const char *csv)
{
    apr_array_header_t *a;
    char *copy, *tok, *last = NULL;

    if (!csv) {
        return NULL;
    }
    a = apr_array_make(unit_pool, 4, sizeof(const char *));
    copy = apr_pstrdup(unit_pool, csv);
    for (tok = apr_strtok(copy, ",", &last); tok; tok = apr_strtok(NULL, ",", &last)) {
        APR_ARRAY_PUSH(a, const char *) = tok;
    }
    return a;
}

static apr_status_t validate(const char *compact, const char *tmpl, const char *allowed,
                             json_t **claims, const char **err)
{
    msoauth_idtoken_expect_t x;

    memset(&x, 0, sizeof(x));
    x.client_id = CLIENT;
    x.nonce = NONCE;
    x.issuer_template = tmpl ? tmpl : TEMPLATE;
    x.allowed_tenants = tenant_list(allowed);
    x.now = NOW;
    return msoauth_idtoken_validate(unit_pool, compact, jwks, &x, claims, err);
}

typedef struct {
    const char *what;
    const char *header;     /* patch of {"alg":"RS256","typ":"JWT","kid":"key-1"} */
    const char *claims;     /* patch of the baseline claims */
    sign_mode_t sign;
    tamper_t tamper;
    const char *tmpl;       /* issuer template, NULL: BASE/{tenantid}/v2.0 */
    const char *allowed;    /* MSOAuthAllowedTenants, comma separated; NULL: any */
    apr_status_t expected;
    const char *reason;     /* substring of err on failure */
} token_row_t;

static int run_rows(const token_row_t *rows, size_t n)
{
    size_t i;
    int failures = 0;

    for (i = 0; i < n; i++) {
        const token_row_t *r = &rows[i];
        const char *compact = make_token(r->header, r->claims, r->sign, r->tamper);
        json_t *claims = (json_t *)1;
        const char *err = NULL;
        apr_status_t rv = validate(compact, r->tmpl, r->allowed, &claims, &err);

        if (r->expected == APR_SUCCESS) {
            ROW_CHECK(failures, rv == APR_SUCCESS && claims && claims != (json_t *)1,
                      "%s: expected acceptance, got rv %d (%s)", r->what, rv, unit_show(err));
        }
        else {
            ROW_CHECK(failures,
                      rv == r->expected && claims == NULL && err && strstr(err, r->reason),
                      "%s: expected rv %d naming '%s', got rv %d (%s)", r->what, r->expected,
                      r->reason, rv, unit_show(err));
        }
    }
    return failures;
}

#define OK_ROW(what, h, c) {what, h, c, SIGN_RS, TAMPER_NONE, NULL, NULL, APR_SUCCESS, NULL}
#define BAD_ROW(what, h, c, reason)                                                                \
    {what, h, c, SIGN_RS, TAMPER_NONE, NULL, NULL, APR_EINVAL, reason}

static void test_idtoken_accepts_valid_token(void **state)
{
    const char *compact = make_token(NULL, NULL, SIGN_RS, TAMPER_NONE);
    json_t *claims = NULL;
    const char *err = NULL;

    (void)state;
    assert_int_equal(validate(compact, NULL, NULL, &claims, &err), APR_SUCCESS);
    assert_non_null(claims);
    assert_string_equal(msoauth_json_str(claims, "oid"), "00000000-0000-0000-66f3-3332eca7ea81");
    assert_string_equal(msoauth_json_str(claims, "tid"), WORK_TID);
    assert_string_equal(msoauth_json_str(claims, "name"), "Ada Lovelace");
}

/* RS256 only, checked before any key is looked up. */
static void test_idtoken_rejects_other_algorithms(void **state)
{
    static const token_row_t rows[] = {
        {"alg none", "{\"alg\":\"none\"}", NULL, SIGN_EMPTY, TAMPER_NONE, NULL, NULL, APR_EINVAL,
         "alg"},
        {"alg None", "{\"alg\":\"None\"}", NULL, SIGN_EMPTY, TAMPER_NONE, NULL, NULL, APR_EINVAL,
         "alg"},
        {"alg none, junk signature", "{\"alg\":\"none\"}", NULL, SIGN_JUNK, TAMPER_NONE, NULL, NULL,
         APR_EINVAL, "alg"},
        {"alg none, unknown kid: alg checked before keys", "{\"alg\":\"none\",\"kid\":\"nope\"}",
         NULL, SIGN_EMPTY, TAMPER_NONE, NULL, NULL, APR_EINVAL, "alg"},
        {"HS256 keyed with the public key", "{\"alg\":\"HS256\"}", NULL, SIGN_HS256_PUB,
         TAMPER_NONE, NULL, NULL, APR_EINVAL, "alg"},
        {"HS512", "{\"alg\":\"HS512\"}", NULL, SIGN_JUNK, TAMPER_NONE, NULL, NULL, APR_EINVAL,
         "alg"},
        {"RS512, validly signed", "{\"alg\":\"RS512\"}", NULL, SIGN_RS, TAMPER_NONE, NULL, NULL,
         APR_EINVAL, "alg"},
        {"RS384, validly signed", "{\"alg\":\"RS384\"}", NULL, SIGN_RS, TAMPER_NONE, NULL, NULL,
         APR_EINVAL, "alg"},
        {"PS256", "{\"alg\":\"PS256\"}", NULL, SIGN_JUNK, TAMPER_NONE, NULL, NULL, APR_EINVAL,
         "alg"},
        {"ES256", "{\"alg\":\"ES256\"}", NULL, SIGN_JUNK, TAMPER_NONE, NULL, NULL, APR_EINVAL,
         "alg"},
        {"rs256 lower case", "{\"alg\":\"rs256\"}", NULL, SIGN_JUNK, TAMPER_NONE, NULL, NULL,
         APR_EINVAL, "alg"},
        {"alg with trailing space", "{\"alg\":\"RS256 \"}", NULL, SIGN_JUNK, TAMPER_NONE, NULL,
         NULL, APR_EINVAL, "alg"},
        {"alg missing", "{\"alg\":null}", NULL, SIGN_JUNK, TAMPER_NONE, NULL, NULL, APR_EINVAL,
         "alg"},
        {"alg a number", "{\"alg\":256}", NULL, SIGN_JUNK, TAMPER_NONE, NULL, NULL, APR_EINVAL,
         "alg"},
        {"alg an array", "{\"alg\":[\"RS256\"]}", NULL, SIGN_JUNK, TAMPER_NONE, NULL, NULL,
         APR_EINVAL, "alg"},
    };

    (void)state;
    assert_int_equal(run_rows(rows, ROWS(rows)), 0);
}

static void test_idtoken_rejects_crit_header(void **state)
{
    static const token_row_t rows[] = {
        BAD_ROW("crit [exp]", "{\"crit\":[\"exp\"],\"exp\":1}", NULL, "crit"),
        BAD_ROW("crit []", "{\"crit\":[]}", NULL, "crit"),
        BAD_ROW("crit b64", "{\"crit\":[\"b64\"],\"b64\":false}", NULL, "crit"),
    };

    (void)state;
    assert_int_equal(run_rows(rows, ROWS(rows)), 0);
}

static void test_idtoken_kid_selects_a_usable_key(void **state)
{
    static const token_row_t rows[] = {
        BAD_ROW("missing kid", "{\"kid\":null}", NULL, "kid"),
        BAD_ROW("empty kid", "{\"kid\":\"\"}", NULL, "kid"),
        BAD_ROW("kid a number", "{\"kid\":1}", NULL, "kid"),
        {"unknown kid", "{\"kid\":\"rotated-away\"}", NULL, SIGN_RS, TAMPER_NONE, NULL, NULL,
         MSOAUTH_ENOKID, "kid"},
        {"kid differing in case", "{\"kid\":\"KEY-1\"}", NULL, SIGN_RS, TAMPER_NONE, NULL, NULL,
         MSOAUTH_ENOKID, "kid"},
        BAD_ROW("key with use enc", "{\"kid\":\"key-enc\"}", NULL, "kid"),
        BAD_ROW("key for RS512", "{\"kid\":\"key-rs512\"}", NULL, "kid"),
        BAD_ROW("EC key", "{\"kid\":\"key-ec\"}", NULL, "kid"),
        BAD_ROW("key without kty", "{\"kid\":\"key-nokty\"}", NULL, "kid"),
        BAD_ROW("unusable key material", "{\"kid\":\"key-broken\"}", NULL, "key"),
        OK_ROW("key without use or issuer", "{\"kid\":\"key-plain\"}", NULL),
        OK_ROW("key with use sig and alg RS256", "{\"kid\":\"key-alg\"}", NULL),
    };

    (void)state;
    assert_int_equal(run_rows(rows, ROWS(rows)), 0);
}

static void test_idtoken_rejects_unknown_kid_with_enokid_when_jwks_is_empty(void **state)
{
    static const char *const docs[] = {"{\"keys\":[]}", "{}", "{\"keys\":{}}"};
    const char *compact = make_token(NULL, NULL, SIGN_RS, TAMPER_NONE);
    size_t i;

    (void)state;
    for (i = 0; i < ROWS(docs); i++) {
        msoauth_idtoken_expect_t x = {CLIENT, NONCE, TEMPLATE, NULL, NOW};
        json_t *empty = msoauth_json_own(unit_pool, json_loads(docs[i], 0, NULL));
        json_t *claims = NULL;
        const char *err = NULL;
        assert_int_equal(msoauth_idtoken_validate(unit_pool, compact, empty, &x, &claims, &err),
                         MSOAUTH_ENOKID);
        assert_null(claims);
    }
}

static void test_idtoken_rejects_bad_signature(void **state)
{
    static const token_row_t rows[] = {
        {"signature byte flipped", NULL, NULL, SIGN_RS, TAMPER_SIGNATURE, NULL, NULL, APR_EINVAL,
         "signature"},
        {"payload byte flipped", NULL, NULL, SIGN_RS, TAMPER_PAYLOAD, NULL, NULL, APR_EINVAL,
         "signature"},
        {"signed by a key not in the JWKS", NULL, NULL, SIGN_STRANGER, TAMPER_NONE, NULL, NULL,
         APR_EINVAL, "signature"},
        {"junk signature", NULL, NULL, SIGN_JUNK, TAMPER_NONE, NULL, NULL, APR_EINVAL, "signature"},
        {"empty signature", NULL, NULL, SIGN_EMPTY, TAMPER_NONE, NULL, NULL, APR_EINVAL, ""},
    };

    (void)state;
    assert_int_equal(run_rows(rows, ROWS(rows)), 0);
}

/* Swapping the payload of a validly signed token for another fails. */
static void test_idtoken_rejects_spliced_payload(void **state)
{
    const char *good = make_token(NULL, NULL, SIGN_RS, TAMPER_NONE);
    const char *other = make_token(NULL, "{\"oid\":\"attacker\"}", SIGN_RS, TAMPER_NONE);
    const char *d1 = strchr(good, '.'), *d2 = strchr(d1 + 1, '.');
    const char *o1 = strchr(other, '.'), *o2 = strchr(o1 + 1, '.');
    const char *spliced = apr_pstrcat(unit_pool, apr_pstrmemdup(unit_pool, good, d1 - good + 1),
                                      apr_pstrmemdup(unit_pool, o1 + 1, o2 - o1 - 1), d2, NULL);
    json_t *claims = NULL;
    const char *err = NULL;

    (void)state;
    assert_int_equal(validate(spliced, NULL, NULL, &claims, &err), APR_EINVAL);
    assert_non_null(strstr(err, "signature"));
}

/* Keys named by the token itself (jwk, jku, x5u) are never used: only the JWKS counts. */
static void test_idtoken_ignores_keys_named_in_the_header(void **state)
{
    cjose_err cerr;
    char *stranger_pub = cjose_jwk_to_json(stranger_key, false, &cerr);
    const char *patch, *compact, *err = NULL;
    json_t *claims = NULL;

    (void)state;
    assert_non_null(stranger_pub);
    patch = apr_psprintf(unit_pool, "{\"jwk\":%s,\"jku\":\"https://evil.example.test/keys\","
                                    "\"x5u\":\"https://evil.example.test/cert\"}", stranger_pub);
    free(stranger_pub);
    compact = make_token(patch, NULL, SIGN_STRANGER, TAMPER_NONE);
    assert_int_equal(validate(compact, NULL, NULL, &claims, &err), APR_EINVAL);
    assert_non_null(strstr(err, "signature"));
    /* the same header on a token signed by the JWKS key is fine: the members are ignored */
    compact = make_token(patch, NULL, SIGN_RS, TAMPER_NONE);
    assert_int_equal(validate(compact, NULL, NULL, &claims, &err), APR_SUCCESS);
}

static void test_idtoken_checks_audience(void **state)
{
    static const token_row_t rows[] = {
        BAD_ROW("wrong aud", "{}", "{\"aud\":\"" OTHER_CLIENT "\"}", "aud"),
        BAD_ROW("aud missing", NULL, "{\"aud\":null}", "aud"),
        BAD_ROW("aud empty", NULL, "{\"aud\":\"\"}", "aud"),
        BAD_ROW("aud a prefix of ours", NULL, "{\"aud\":\"00000000-1111-2222-3333-44444444444\"}",
                "aud"),
        BAD_ROW("aud with a trailing space", NULL,
                "{\"aud\":\"00000000-1111-2222-3333-444444444444 \"}", "aud"),
        BAD_ROW("aud a number", NULL, "{\"aud\":0}", "aud"),
        OK_ROW("aud array of ours alone", NULL, "{\"aud\":[\"" CLIENT "\"]}"),
        BAD_ROW("aud array without us", NULL, "{\"aud\":[\"" OTHER_CLIENT "\"]}", "aud"),
        BAD_ROW("aud array empty", NULL, "{\"aud\":[]}", "aud"),
        BAD_ROW("aud array with us and another, no azp", NULL,
                "{\"aud\":[\"" CLIENT "\",\"" OTHER_CLIENT "\"]}", "aud"),
        BAD_ROW("aud array with us and another, azp another", NULL,
                "{\"aud\":[\"" CLIENT "\",\"" OTHER_CLIENT "\"],\"azp\":\"" OTHER_CLIENT "\"}",
                "aud"),
        OK_ROW("aud array with us and another, azp us", NULL,
               "{\"aud\":[\"" OTHER_CLIENT "\",\"" CLIENT "\"],\"azp\":\"" CLIENT "\"}"),
    };

    (void)state;
    assert_int_equal(run_rows(rows, ROWS(rows)), 0);
}

/* exp, nbf and iat with the 120 s clock skew. */
static void test_idtoken_checks_times_with_skew(void **state)
{
    static const token_row_t rows[] = {
        OK_ROW("exp in an hour", NULL, NULL),
        OK_ROW("exp 60 s ago, within skew", NULL, "{\"exp\":1699999940}"),
        OK_ROW("exp 119 s ago, within skew", NULL, "{\"exp\":1699999881}"),
        BAD_ROW("exp 120 s ago", NULL, "{\"exp\":1699999880}", "exp"),
        BAD_ROW("exp an hour ago", NULL, "{\"exp\":1699996400}", "exp"),
        BAD_ROW("exp missing", NULL, "{\"exp\":null}", "exp"),
        BAD_ROW("exp a string", NULL, "{\"exp\":\"1700003600\"}", "exp"),
        OK_ROW("exp a real number", NULL, "{\"exp\":1700003600.5}"),
        OK_ROW("nbf missing", NULL, "{\"nbf\":null}"),
        OK_ROW("nbf 120 s ahead, within skew", NULL, "{\"nbf\":1700000120}"),
        BAD_ROW("nbf 121 s ahead", NULL, "{\"nbf\":1700000121}", "nbf"),
        BAD_ROW("nbf an hour ahead", NULL, "{\"nbf\":1700003600}", "nbf"),
        BAD_ROW("nbf a string", NULL, "{\"nbf\":\"0\"}", "nbf"),
        OK_ROW("iat 120 s ahead, within skew", NULL, "{\"iat\":1700000120}"),
        BAD_ROW("iat 121 s ahead", NULL, "{\"iat\":1700000121}", "iat"),
        BAD_ROW("iat a day ahead", NULL, "{\"iat\":1700086400}", "iat"),
        BAD_ROW("iat missing", NULL, "{\"iat\":null}", "iat"),
    };

    (void)state;
    assert_int_equal(run_rows(rows, ROWS(rows)), 0);
}

static void test_idtoken_checks_nonce(void **state)
{
    static const token_row_t rows[] = {
        BAD_ROW("nonce mismatch", NULL, "{\"nonce\":\"another-nonce\"}", "nonce"),
        BAD_ROW("nonce missing", NULL, "{\"nonce\":null}", "nonce"),
        BAD_ROW("nonce empty", NULL, "{\"nonce\":\"\"}", "nonce"),
        BAD_ROW("nonce a prefix", NULL,
                "{\"nonce\":\"n0nce-Zm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm9vYm\"}", "nonce"),
        BAD_ROW("nonce with a suffix", NULL, "{\"nonce\":\"" NONCE "x\"}", "nonce"),
        BAD_ROW("nonce a number", NULL, "{\"nonce\":1}", "nonce"),
        BAD_ROW("nonce an array", NULL, "{\"nonce\":[\"" NONCE "\"]}", "nonce"),
    };

    (void)state;
    assert_int_equal(run_rows(rows, ROWS(rows)), 0);
}

static void test_idtoken_rejects_nonce_with_embedded_nul(void **state)
{
    const char *err = NULL;
    json_t *claims = NULL;
    /* "<nonce>\u0000junk": in C the string would seem to equal the expected nonce */
    const char *compact =
        make_token(NULL, "{\"nonce\":\"" NONCE "\\u0000junk\"}", SIGN_RS, TAMPER_NONE);

    (void)state;
    assert_int_equal(validate(compact, NULL, NULL, &claims, &err), APR_EINVAL);
    assert_null(claims);
}

/* tid a GUID; iss equal to the template with {tenantid} replaced by tid; key issuer too. */
static void test_idtoken_checks_tenant_and_issuer(void **state)
{
    static const token_row_t rows[] = {
        BAD_ROW("tid not a GUID", NULL, "{\"tid\":\"common\"}", "tid"),
        BAD_ROW("tid missing", NULL, "{\"tid\":null}", "tid"),
        BAD_ROW("tid a GUID with a suffix", NULL, "{\"tid\":\"" WORK_TID "x\"}", "tid"),
        BAD_ROW("tid in braces", NULL, "{\"tid\":\"{" WORK_TID "}\"}", "tid"),
        BAD_ROW("tid a number", NULL, "{\"tid\":7}", "tid"),
        BAD_ROW("iss of another tenant", NULL, "{\"iss\":\"" ISS_OTHER "\"}", "iss"),
        BAD_ROW("iss missing", NULL, "{\"iss\":null}", "iss"),
        BAD_ROW("iss with a trailing slash", NULL, "{\"iss\":\"" ISS_WORK "/\"}", "iss"),
        BAD_ROW("iss of another host", NULL,
                "{\"iss\":\"https://evil.example.test/" WORK_TID "/v2.0\"}", "iss"),
        BAD_ROW("iss as the literal template", NULL, "{\"iss\":\"" TEMPLATE "\"}", "iss"),
        BAD_ROW("iss v1 form", NULL, "{\"iss\":\"https://sts.windows.net/" WORK_TID "/\"}", "iss"),
        OK_ROW("{tenantid} template substituted: work tenant", NULL, NULL),
        OK_ROW("{tenantid} template substituted: personal account", NULL,
               "{\"tid\":\"" PERSONAL_TID "\",\"iss\":\"" ISS_PERSONAL "\"}"),
        OK_ROW("{tenantid} template substituted: any tenant when none are listed", NULL,
               "{\"tid\":\"" OTHER_TID "\",\"iss\":\"" ISS_OTHER "\"}"),
        {"fixed issuer of a GUID tenant", NULL, NULL, SIGN_RS, TAMPER_NONE, ISS_WORK, NULL,
         APR_SUCCESS, NULL},
        {"fixed issuer of another GUID tenant", NULL, NULL, SIGN_RS, TAMPER_NONE, ISS_OTHER, NULL,
         APR_EINVAL, "iss"},
        {"fixed issuer, token of another tenant", NULL,
         "{\"tid\":\"" OTHER_TID "\",\"iss\":\"" ISS_OTHER "\"}", SIGN_RS, TAMPER_NONE, ISS_WORK,
         NULL, APR_EINVAL, "iss"},
        BAD_ROW("key issuer of another host", "{\"kid\":\"key-evil-issuer\"}", NULL, "issuer"),
        OK_ROW("key issuer fixed to the token's tenant", "{\"kid\":\"key-work-issuer\"}", NULL),
        BAD_ROW("key issuer fixed to another tenant", "{\"kid\":\"key-work-issuer\"}",
                "{\"tid\":\"" OTHER_TID "\",\"iss\":\"" ISS_OTHER "\"}", "issuer"),
    };

    (void)state;
    assert_int_equal(run_rows(rows, ROWS(rows)), 0);
}

static void test_idtoken_checks_allowed_tenants(void **state)
{
    static const token_row_t rows[] = {
        {"tid in the list", NULL, NULL, SIGN_RS, TAMPER_NONE, NULL, WORK_TID, APR_SUCCESS, NULL},
        {"tid in a longer list", NULL, NULL, SIGN_RS, TAMPER_NONE, NULL, OTHER_TID "," WORK_TID,
         APR_SUCCESS, NULL},
        {"tid in upper case in the token", NULL,
         "{\"tid\":\"72F988BF-86F1-41AF-91AB-2D7CD011DB47\","
         "\"iss\":\"" BASE "/72F988BF-86F1-41AF-91AB-2D7CD011DB47/v2.0\"}",
         SIGN_RS, TAMPER_NONE, NULL, WORK_TID, APR_SUCCESS, NULL},
        {"tid not in the list", NULL, "{\"tid\":\"" OTHER_TID "\",\"iss\":\"" ISS_OTHER "\"}",
         SIGN_RS, TAMPER_NONE, NULL, WORK_TID, APR_EINVAL, "tid"},
        {"personal account, list without consumers", NULL,
         "{\"tid\":\"" PERSONAL_TID "\",\"iss\":\"" ISS_PERSONAL "\"}", SIGN_RS, TAMPER_NONE, NULL,
         WORK_TID, APR_EINVAL, "tid"},
        {"personal account, list with consumers", NULL,
         "{\"tid\":\"" PERSONAL_TID "\",\"iss\":\"" ISS_PERSONAL "\"}", SIGN_RS, TAMPER_NONE, NULL,
         WORK_TID "," PERSONAL_TID, APR_SUCCESS, NULL},
        {"empty list admits nobody", NULL, NULL, SIGN_RS, TAMPER_NONE, NULL, "", APR_EINVAL, "tid"},
    };

    (void)state;
    assert_int_equal(run_rows(rows, ROWS(rows)), 0);
}

/* Payloads that verify but are not a JSON object. */
static void test_idtoken_rejects_signed_non_object_payload(void **state)
{
    static const char *const payloads[] = {"not json", "[1,2]", "\"string\"", ""};
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(payloads); i++) {
        json_t *header = json_pack("{s:s, s:s}", "alg", "RS256", "kid", "key-1");
        cjose_err cerr;
        cjose_jws_t *jws = cjose_jws_sign(signing_key, (cjose_header_t *)header,
                                          (const uint8_t *)payloads[i], strlen(payloads[i]), &cerr);
        const char *ser = NULL, *err = NULL;
        json_t *claims = NULL;
        apr_status_t rv;

        json_decref(header);
        if (!jws) {
            continue; /* cjose refuses to sign an empty payload: nothing to test */
        }
        assert_true(cjose_jws_export(jws, &ser, &cerr));
        rv = validate(apr_pstrdup(unit_pool, ser), NULL, NULL, &claims, &err);
        cjose_jws_release(jws);
        ROW_CHECK(failures, rv == APR_EINVAL && claims == NULL && err && strstr(err, "payload"),
                  "payload '%s': rv %d (%s)", payloads[i], rv, unit_show(err));
    }
    assert_int_equal(failures, 0);
}

static void test_idtoken_rejects_malformed_compact(void **state)
{
    const char *good = make_token(NULL, NULL, SIGN_RS, TAMPER_NONE);
    const char *dot = strchr(good, '.');
    char *huge = apr_palloc(unit_pool, MSOAUTH_IDTOKEN_MAX + 2);
    const char *bad[] = {
        NULL,
        "",
        "abc",
        "a.b",
        "..",
        "a.b.c.d",
        apr_pstrcat(unit_pool, good, ".", NULL),        /* four parts */
        apr_pstrcat(unit_pool, good, ".extra", NULL),
        apr_pstrcat(unit_pool, "!!!", dot, NULL),          /* header not base64url */
        apr_pstrcat(unit_pool, "e30=", dot, NULL),         /* padded header */
        apr_pstrcat(unit_pool, b64s("not json"), dot, NULL),
        apr_pstrcat(unit_pool, b64s("[\"RS256\"]"), dot, NULL),
        apr_pstrcat(unit_pool, b64s("{\"alg\":\"RS256\",\"alg\":\"none\",\"kid\":\"key-1\"}"), dot,
                    NULL),                                /* duplicate alg */
        apr_pstrcat(unit_pool, b64s(""), dot, NULL),       /* empty header */
        apr_pstrcat(unit_pool, " ", good, NULL),
        apr_pstrcat(unit_pool, good, "\n", NULL),
        huge,
    };
    size_t i;
    int failures = 0;

    (void)state;
    memset(huge, 'A', MSOAUTH_IDTOKEN_MAX + 1);
    huge[MSOAUTH_IDTOKEN_MAX + 1] = '\0';
    huge[10] = huge[20] = '.';
    for (i = 0; i < ROWS(bad); i++) {
        json_t *claims = (json_t *)1;
        const char *err = NULL;
        apr_status_t rv = validate(bad[i], NULL, NULL, &claims, &err);
        ROW_CHECK(failures, rv != APR_SUCCESS && rv != MSOAUTH_ENOKID && claims == NULL && err,
                  "row %zu '%.60s': rv %d (%s)", i, unit_show(bad[i]), rv, unit_show(err));
    }
    assert_int_equal(failures, 0);
}

static void test_issuer_for_tenant_substitutes_the_template(void **state)
{
    static const struct {
        const char *tmpl, *tid, *expected;
    } rows[] = {
        {TEMPLATE, WORK_TID, ISS_WORK},
        {"https://login.microsoftonline.com/{tenantid}/v2.0", PERSONAL_TID,
         "https://login.microsoftonline.com/" PERSONAL_TID "/v2.0"},
        {ISS_WORK, OTHER_TID, ISS_WORK},              /* no template: unchanged */
        {"{tenantid}", WORK_TID, WORK_TID},
        {"x{tenantid}", WORK_TID, "x" WORK_TID},
        {"{tenantid}y", WORK_TID, WORK_TID "y"},
        {BASE "/{TENANTID}/v2.0", WORK_TID, BASE "/{TENANTID}/v2.0"}, /* case matters */
        {BASE "/{tenantid/v2.0", WORK_TID, BASE "/{tenantid/v2.0"},
        {"", WORK_TID, ""},
    };
    size_t i;
    int failures = 0;

    (void)state;
    for (i = 0; i < ROWS(rows); i++) {
        const char *got = msoauth_issuer_for_tenant(unit_pool, rows[i].tmpl, rows[i].tid);
        ROW_CHECK(failures, unit_streq(got, rows[i].expected), "row %zu: expected '%s', got '%s'",
                  i, rows[i].expected, unit_show(got));
    }
    assert_int_equal(failures, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_idtoken_accepts_valid_token),
        UNIT_TEST(test_idtoken_rejects_other_algorithms),
        UNIT_TEST(test_idtoken_rejects_crit_header),
        UNIT_TEST(test_idtoken_kid_selects_a_usable_key),
        UNIT_TEST(test_idtoken_rejects_unknown_kid_with_enokid_when_jwks_is_empty),
        UNIT_TEST(test_idtoken_rejects_bad_signature),
        UNIT_TEST(test_idtoken_rejects_spliced_payload),
        UNIT_TEST(test_idtoken_ignores_keys_named_in_the_header),
        UNIT_TEST(test_idtoken_checks_audience),
        UNIT_TEST(test_idtoken_checks_times_with_skew),
        UNIT_TEST(test_idtoken_checks_nonce),
        UNIT_TEST(test_idtoken_rejects_nonce_with_embedded_nul),
        UNIT_TEST(test_idtoken_checks_tenant_and_issuer),
        UNIT_TEST(test_idtoken_checks_allowed_tenants),
        UNIT_TEST(test_idtoken_rejects_signed_non_object_payload),
        UNIT_TEST(test_idtoken_rejects_malformed_compact),
        UNIT_TEST(test_issuer_for_tenant_substitutes_the_template),
    };
    return cmocka_run_group_tests_name("idtoken", tests, idtoken_group_setup, unit_group_teardown);
}
