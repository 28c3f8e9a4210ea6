"""The id_token checks: each way a token can be wrong gets a 401 page and an "id_token rejected: <reason>" log
line naming the claim or header involved; key rotation is followed with exactly one JWKS refetch."""
import re
import time

import pytest

import harness
from conftest import (COLD, WORK2_TID, WORK_TID, assert_error_page, login, sign_in, wait_jwks_rate_limit)


def rejected(server, browser, path, reason, user="work", authority=None):
    """Sign in and expect the id_token to be refused for reason (a word the log line must contain)."""
    mark = server.log_mark()
    r = login(browser, server.url(path), user=user, authority=authority)
    assert_error_page(r, 401)
    log = server.wait_log(mark, r"id_token rejected:")
    lines = [line for line in log.splitlines() if "id_token rejected:" in line]
    assert lines, "no 'id_token rejected:' line in the error log:\n" + log
    assert any(re.search(r"id_token rejected:.*\b(%s)\b" % reason, line) for line in lines), \
        "the rejection should name %r:\n%s" % (reason, "\n".join(lines))
    # Nothing was stored: the location still asks for a sign-in.
    again = browser.get(server.url(path), allow_redirects=False)
    assert again.status_code == 302 and "/oauth2/v2.0/authorize?" in again.headers["Location"]
    return r


def iss(server, tid):
    return "%s/%s/v2.0" % (server.mock.base, tid)


@pytest.mark.parametrize("case,settings,reason", [
    ("alg-none", {"id_token_alg": "none"}, "alg"),
    ("alg-hs256", {"id_token_alg": "HS256"}, "alg"),
    ("alg-rs512", {"id_token_alg": "RS512"}, "alg"),
    ("alg-none-with-kid", {"id_token_alg": "none", "id_token_header": {"kid": "whatever"}}, "alg"),
    ("unknown-kid", {"id_token_kid": "no-such-key-id"}, "kid"),
    ("no-kid", {"id_token_header": {"kid": None}}, "kid"),
    ("bad-signature", {"id_token_bad_signature": True}, "signature"),
    ("wrong-aud", {"id_token_claims": {"aud": "11111111-2222-3333-4444-555555555555"}}, "aud"),
    ("aud-array", {"id_token_claims": {"aud": ["11111111-2222-3333-4444-555555555555"]}}, "aud"),
    ("no-aud", {"id_token_claims": {"aud": None}}, "aud"),
    ("nonce-mismatch", {"id_token_claims": {"nonce": "x" * 43}}, "nonce"),
    ("no-nonce", {"id_token_claims": {"nonce": None}}, "nonce"),
    ("tid-not-guid", {"id_token_claims": {"tid": "contoso", "iss": "ISS:contoso"}}, "tid"),
    ("no-tid", {"id_token_claims": {"tid": None}}, "tid"),
    ("iss-other-host", {"id_token_claims": {"iss": "https://login.evil.example/%s/v2.0" % WORK_TID}}, "iss"),
    ("iss-other-tenant", {"id_token_claims": {"iss": "ISS:" + WORK2_TID}}, "iss"),
    ("iss-template", {"id_token_claims": {"iss": "ISS:{tenantid}"}}, "iss"),
    ("no-iss", {"id_token_claims": {"iss": None}}, "iss"),
    ("expired", {"id_token_claims": {"exp": "NOW-300", "iat": "NOW-4000", "nbf": "NOW-4000"}}, "exp"),
    ("expired-beyond-skew", {"id_token_claims": {"exp": "NOW-150", "iat": "NOW-4000", "nbf": "NOW-4000"}}, "exp"),
    ("no-exp", {"id_token_claims": {"exp": None}}, "exp"),
    ("nbf-beyond-skew", {"id_token_claims": {"nbf": "NOW+150"}}, "nbf"),
    ("nbf-future", {"id_token_claims": {"nbf": "NOW+300"}}, "nbf"),
    ("iat-future", {"id_token_claims": {"iat": "NOW+300", "nbf": "NOW"}}, "iat"),
])
def test_invalid_id_token_is_rejected(server, browser, mock, case, settings, reason):
    now = int(time.time())

    def fill(v):
        if isinstance(v, str) and v.startswith("NOW"):
            return now + int(v[3:] or 0)
        if isinstance(v, str) and v.startswith("ISS:"):
            return iss(server, v[4:])
        return v
    if "id_token_claims" in settings:
        settings = dict(settings, id_token_claims={k: fill(v) for k, v in settings["id_token_claims"].items()})
    if reason == "alg":
        # Keys cached first, so that any JWKS request below would be the module looking at keys.
        assert login(harness.http_session(server.pki.ca), server.url("/app/warm")).status_code == 302
        mock.reset_stats()
    mock.configure(**settings)
    rejected(server, browser, "/app/" + case, reason)
    if reason == "alg":
        assert mock.stats()["jwks"] == 0, "a token with a bad alg must be refused before keys are looked at"


def test_clock_skew_within_two_minutes_is_accepted(server, browser, mock):
    now = int(time.time())
    mock.configure(id_token_claims={"exp": now - 60, "iat": now + 60, "nbf": now + 60})
    env = sign_in(browser, server, "/app/skew")
    assert env["MSOAUTH_TENANT_ID"] == WORK_TID


def test_tenant_not_allowed(server, browser):
    rejected(server, browser, "/allowed/out", "tid", user="work2")


def test_key_rotation_costs_exactly_one_jwks_fetch(server, browser, mock):
    # Make sure the current keys are cached, and that the refetch rate limit is not in the way.
    assert login(harness.http_session(server.pki.ca), server.url("/app/warm")).status_code == 302
    wait_jwks_rate_limit(mock)
    mock.reset_stats()
    mock.configure(rotate_key=True)
    env = sign_in(browser, server, "/app/rotated", user="personal")
    assert env["MSOAUTH_ACCOUNT_TYPE"] == "personal"
    s = mock.stats()
    assert (s["jwks"], s["discovery"]) == (1, 0), s
    # The new key is cached now: more sign-ins fetch nothing.
    mock.reset_stats()
    assert login(harness.http_session(server.pki.ca), server.url("/app/rotated2")).status_code == 302
    assert mock.stats()["jwks"] == 0


def test_unlisted_key_is_rejected_with_at_most_one_refetch(server, browser, mock):
    wait_jwks_rate_limit(mock)
    mock.configure(sign_with_unlisted_key=True)
    rejected(server, browser, "/app/unlisted", "kid")
    # A second and third try within the rate-limit window: still refused, no more JWKS fetches.
    rejected(server, harness.http_session(server.pki.ca), "/app/unlisted2", "kid")
    rejected(server, harness.http_session(server.pki.ca), "/app/unlisted3", "kid")
    assert mock.stats()["jwks"] <= 1, mock.stats()


def test_key_issuer_mismatch(server, browser, mock):
    """A JWKS key that carries its own issuer must match the token's issuer (cold authority: fresh JWKS)."""
    authority = mock.bases[1 + COLD.index("key_issuer")]
    mock.configure(jwks_key_issuer="https://login.evil.example/{tenantid}/v2.0")
    rejected(server, browser, "/cold/key_issuer/x", "iss|issuer", authority=authority)
