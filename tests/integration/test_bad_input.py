"""Every row of the issue's "What bad input gets" table (except id_token checks: test_idtoken.py; sessions:
test_session.py; return URLs: test_open_redirect.py)."""
import re
import time
import urllib.parse

import pytest

import harness
from conftest import (COLD, assert_error_page, authorize, login, query_of, set_cookies, sign_in, start_login,
                      state_cookies)

CANCELLED = "Sign-in was cancelled"


def callback(server, loc="/app"):
    return server.url(loc + "/oauth2/callback")


def assert_no_session(resp, browser, server, loc="/app"):
    """Nothing stored: no session cookie was set and the location still asks for a sign-in."""
    for c in set_cookies(resp):
        name, _, rest = c.partition("=")
        if name.endswith("_session"):
            assert rest.split(";")[0] == "" or "max-age=0" in c.lower(), "a session was stored: %s" % c
    r = browser.get(server.url(loc + "/after"), allow_redirects=False)
    assert r.status_code == 302 and "/oauth2/v2.0/authorize?" in r.headers["Location"]


# ---------------------------------------------------------------------------------------------- callback input

def test_cancelled_sign_in(server, browser):
    mark = server.log_mark()
    r = login(browser, server.url("/app/cancel"), extra={"mock_action": "cancel"})
    assert_error_page(r, 401, CANCELLED)
    assert "href=" in r.text, "a link to start again"
    corr = query_of(r.callback_url)["correlation_id"]
    log = server.wait_log(mark, re.escape(corr))
    assert corr in log, "the correlation id must be logged:\n" + log
    assert "access_denied" in log or "65004" in log, log
    assert_no_session(r, browser, server)


@pytest.mark.parametrize("with_state", [True, False])
def test_attacker_controlled_error_is_escaped(server, browser, with_state):
    start = start_login(browser, server.url("/app/xss"))
    params = {"error": "access_denied<b>bold</b>",
              "error_description": "<script>alert(document.cookie)</script>AADSTS65004: \"quoted\" & 'single'",
              "correlation_id": "<img src=x onerror=alert(1)>",
              "error_uri": "javascript:alert(1)"}
    if with_state:
        params["state"] = query_of(start.headers["Location"])["state"]
    r = browser.get(callback(server) + "?" + urllib.parse.urlencode(params), allow_redirects=False)
    assert r.status_code in (400, 401)
    assert_error_page(r, r.status_code)
    body = r.text
    for raw in ("<script", "<img", "<b>bold", "javascript:alert"):
        assert raw not in body, "%r echoed unescaped:\n%s" % (raw, body)


def test_callback_without_state(server, browser):
    start_login(browser, server.url("/app/nostate"))
    r = browser.get(callback(server) + "?code=M.C5abcdef", allow_redirects=False)
    assert_error_page(r, 400)
    assert "href=" in r.text
    assert_no_session(r, browser, server)


def test_callback_with_unknown_state(server, browser, mock):
    start_login(browser, server.url("/app/unknownstate"))
    r = browser.get(callback(server) + "?code=M.C5abcdef&state=" + "A" * 43, allow_redirects=False)
    assert_error_page(r, 400)
    assert mock.stats()["token"] == 0
    assert_no_session(r, browser, server)


def test_callback_with_state_of_another_browser(server, browser, mock):
    other = harness.http_session(server.pki.ca)
    start = start_login(other, server.url("/app/stolen"))
    cb = authorize(other, start.headers["Location"])
    start_login(browser, server.url("/app/mine"))
    r = browser.get(cb, allow_redirects=False)
    assert_error_page(r, 400)
    assert mock.stats()["token"] == 0


def test_callback_without_code(server, browser, mock):
    start = start_login(browser, server.url("/app/nocode"))
    state = query_of(start.headers["Location"])["state"]
    r = browser.get(callback(server) + "?state=" + state, allow_redirects=False)
    assert_error_page(r, 400)
    assert mock.stats()["token"] == 0
    assert_no_session(r, browser, server)


def test_callback_with_expired_state(server, browser, mock):
    """MSOAuthStateTimeout 1: the sealed pending login itself expires, even if the cookie is sent back."""
    start = start_login(browser, server.url("/statetime/slow"))
    cookies = state_cookies(browser)
    assert len(cookies) == 1
    cb = authorize(browser, start.headers["Location"])
    time.sleep(2.2)
    late = harness.http_session(server.pki.ca)
    for name, value in cookies.items():
        late.cookies.set(name, value, domain="127.0.0.1", path="/")
    r = late.get(cb, allow_redirects=False)
    assert_error_page(r, 400)
    assert mock.stats()["token"] == 0


def test_callback_replayed(server, browser, mock):
    r = login(browser, server.url("/app/replay"))
    assert r.status_code == 302
    # The same browser again: the pending login is gone.
    again = browser.get(r.callback_url, allow_redirects=False)
    assert_error_page(again, 400)
    # Another browser that kept a copy of the pending-login cookie: never a second sign-in.
    cookie = [c for c in set_cookies(r.start) if c.startswith("msoauth_state_")][0]
    name, value = cookie.split(";")[0].split("=", 1)
    thief = harness.http_session(server.pki.ca)
    thief.cookies.set(name, value, domain="127.0.0.1", path="/")
    replay = thief.get(r.callback_url, allow_redirects=False)
    assert replay.status_code in (400, 502), replay.status_code
    assert_error_page(replay, replay.status_code)
    assert thief.get(server.url("/app/replay"), allow_redirects=False).status_code == 302


# ---------------------------------------------------------------------------------------------- token endpoint

def test_token_endpoint_error_is_shown_and_logged(server, browser, mock):
    trace, corr = "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9", "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
    mock.configure(token_error={"error": "invalid_grant", "error_codes": [70008], "trace_id": trace,
                                "correlation_id": corr})
    mark = server.log_mark()
    r = login(browser, server.url("/app/tokenerror"))
    assert_error_page(r, 502, "AADSTS70008", trace, corr)
    log = server.wait_log(mark, re.escape(corr))
    assert "AADSTS70008" in log and trace in log and corr in log, log
    assert_no_session(r, browser, server)


def test_token_endpoint_invalid_client(server, browser, mock):
    mock.configure(token_error={"error": "invalid_client", "status": 401, "error_codes": [7000215]})
    r = login(browser, server.url("/app/badsecret"))
    assert_error_page(r, 502, "AADSTS7000215")


def test_token_endpoint_error_with_markup_is_escaped(server, browser, mock):
    mock.configure(token_error={"error": "invalid_grant<script>", "trace_id": "<script>alert(1)</script>",
                                "correlation_id": "<img src=x onerror=alert(2)>",
                                "error_description_text": "<iframe src=javascript:alert(3)>"})
    r = login(browser, server.url("/app/tokenxss"))
    assert_error_page(r, 502)
    for raw in ("<script", "<img", "<iframe"):
        assert raw not in r.text, r.text


@pytest.mark.parametrize("settings", [
    {"token_down": True},
    {"token_down": 503},
    {"token_down": "close"},
    {"token_status": 200, "token_body": "<html><body>Service Unavailable</body></html>"},
    {"token_status": 200, "token_body": "{\"access_token\": \"abc\", \"id_token\": ", "token_content_type":
     "application/json"},
    {"token_oversize": True},
], ids=["500", "503", "connection-closed", "not-json", "truncated-json", "oversized"])
def test_token_endpoint_broken(server, browser, mock, settings):
    mock.configure(**settings)
    r = login(browser, server.url("/app/broken"))
    assert_error_page(r, 502)
    assert_no_session(r, browser, server)


def test_token_endpoint_slow(server, browser, mock):
    mock.configure(token_delay=5)
    t0 = time.time()
    r = login(browser, server.url("/short/slowtoken"))
    elapsed = time.time() - t0
    assert_error_page(r, 502)
    assert elapsed < 4, "MSOAuthHTTPTimeout 1 2 must bound the token call (took %.1fs)" % elapsed


def test_token_endpoint_unreachable(server, browser, mock):
    """/dead's authority has nobody listening: sign in at the mock, then the code exchange cannot connect."""
    t0 = time.time()
    r = login(browser, server.url("/dead/x"), via=mock.base)
    assert_error_page(r, 502)
    assert time.time() - t0 < 4


def test_token_response_without_id_token(server, browser, mock):
    mock.configure(token_response={"id_token": None})
    r = login(browser, server.url("/app/noidtoken"))
    assert r.status_code in (401, 502)
    assert_error_page(r, r.status_code)
    assert_no_session(r, browser, server)


# ---------------------------------------------------------------------------------------------- discovery and JWKS
# Each case uses a location whose authority is a mock port of its own: its discovery and JWKS are not cached yet.

def cold(server, name):
    return "/cold/" + name, server.mock.bases[1 + COLD.index(name)]


@pytest.mark.parametrize("name,settings", [
    ("discovery_500", {"discovery_down": True}),
    ("discovery_close", {"discovery_down": "close"}),
    ("discovery_nonjson", {"discovery_body": "<html>this is not JSON</html>"}),
    ("discovery_oversize", {"discovery_oversize": True}),
    ("jwks_500", {"jwks_down": True}),
])
def test_discovery_or_jwks_broken(server, browser, mock, name, settings):
    path, authority = cold(server, name)
    mock.configure(**settings)
    r = login(browser, server.url(path + "/x"), authority=authority)
    assert_error_page(r, 502)
    assert_no_session(r, browser, server, path)
    # Once Microsoft is back, signing in works (the failure was not cached).
    mock.reset()
    env = sign_in(harness.http_session(server.pki.ca), server, path + "/y", user="personal")
    assert env["MSOAUTH_ACCOUNT_TYPE"] == "personal"


@pytest.mark.parametrize("name,settings", [
    ("discovery_slow", {"discovery_delay": 5}),
    ("jwks_slow", {"jwks_delay": 5}),
])
def test_discovery_or_jwks_slow(server, browser, mock, name, settings):
    path, authority = cold(server, name)
    mock.configure(**settings)
    t0 = time.time()
    r = login(browser, server.url(path + "/x"), authority=authority)
    elapsed = time.time() - t0
    assert_error_page(r, 502)
    assert elapsed < 4, "MSOAuthHTTPTimeout 1 2 must bound the call (took %.1fs)" % elapsed
