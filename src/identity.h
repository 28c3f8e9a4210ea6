/* The signed-in user: built once at sign-in from the id_token claims and the Graph profile,
 * kept (sealed) in the session, exported on every request. Pure. */
#ifndef MSOAUTH_IDENTITY_H
#define MSOAUTH_IDENTITY_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_errno.h>
#include <jansson.h>

#define MSOAUTH_PERSONAL_TENANT "9188040d-6c67-4c5b-b112-36a304b66dad"
/* A single claim value longer than this is left out of the session (cookie size). */
#define MSOAUTH_CLAIM_VALUE_MAX 1024
/* The whole serialized identity stays under this, so that the session cookie stays under the
 * browsers' 4 KB even after sealing, mod_session's encoding and mod_session_crypto (about 1.8x).
 * The largest claims are left out first. */
#define MSOAUTH_PAYLOAD_MAX 2000
/* Room kept for what sign-in adds after building the identity: session id, token handle, time
 * zone, photo flag and a few group ids. */
#define MSOAUTH_PAYLOAD_RESERVE 320

typedef struct {
    apr_int64_t login_time; /* seconds since the epoch */
    const char *sid;        /* random id of this session, fresh at each sign-in */
    apr_int64_t last_seen;  /* last activity (seconds), refreshed at most once a minute */
    const char *token_handle; /* key of the server-side token record, "" when none */
    const char *remote_user;
    const char *user_id;
    const char *username;
    const char *email;
    const char *full_name;
    const char *first_name;
    const char *last_name;
    const char *tenant_id;
    const char *timezone;   /* IANA name or "" */
    const char *locale;     /* e.g. en-US, or "" */
    int email_verified;     /* domain-verified (xms_edov) or a personal account's sign-in address */
    int has_photo;          /* a photo was cached at sign-in */
    apr_table_t *claims;    /* id_token claim name -> flattened, cleaned value */
    apr_table_t *claim_lists; /* array claims: name -> one entry per element (for Require rules) */
    apr_array_header_t *groups; /* group ids that some Require msoauth-group names (lower-case) */
} msoauth_identity_t;

/* claims: the validated id_token payload; graph: the /me object or NULL.
 * Fails when remote_user_claim is absent or empty. dropped lists claims left out for size. */
apr_status_t msoauth_identity_build(apr_pool_t *p, const json_t *claims, const json_t *graph,
                                    const char *remote_user_claim, apr_int64_t now,
                                    msoauth_identity_t **out, const char **dropped,
                                    const char **err);

/* Compact url-encoded form of the identity, and back. parse fails on anything malformed. */
const char *msoauth_identity_serialize(apr_pool_t *p, const msoauth_identity_t *id);
apr_status_t msoauth_identity_parse(apr_pool_t *p, const char *s, msoauth_identity_t **out,
                                    const char **err);

const char *msoauth_identity_account_type(const msoauth_identity_t *id);

/* 1 when the claim equals value, or (array claims) one of its elements does. */
int msoauth_identity_claim_has(const msoauth_identity_t *id, const char *claim, const char *value);

/* 1 when the user is in the group (case-insensitive GUID). */
int msoauth_identity_in_group(const msoauth_identity_t *id, const char *group);

/* Every control character (CR, LF, NUL, tab, ...) becomes a space. */
const char *msoauth_value_clean(apr_pool_t *p, const char *s);
/* Trimmed, runs of white space collapsed to one space. */
const char *msoauth_name_normalize(apr_pool_t *p, const char *s);
/* Lower-cased, only [0-9a-z] kept. */
const char *msoauth_username_from_name(apr_pool_t *p, const char *display_name);
/* Environment-variable-safe form of a claim name: [A-Za-z0-9_] kept, the rest '_'. */
const char *msoauth_claim_env_name(apr_pool_t *p, const char *claim);

#endif
