"""Requests without a session: page navigations are sent to Microsoft, XHR/fetch calls get 401 (no cookie, no
redirect), and MSOAuthUnauthAction pass|401|403 decide instead of the sign-in where configured."""
import pytest

import harness
from backends import BACKENDS, fetch, path
from conftest import USERS, set_cookies, start_login, state_cookies

WORK_OID = USERS["work"]["claims"]["oid"]

NOT_NAVIGATION = {
    "xhr": {"X-Requested-With": "XMLHttpRequest"},
    "xhr-lower-case-name": {"x-requested-with": "XMLHttpRequest"},
    "fetch-cors": {"Sec-Fetch-Mode": "cors", "Accept": "*/*"},
    "fetch-no-cors": {"Sec-Fetch-Mode": "no-cors"},
    "fetch-same-origin": {"Sec-Fetch-Mode": "same-origin", "Accept": "text/html"},
    "accept-json": {"Accept": "application/json"},
    "accept-json-text": {"Accept": "application/json, text/plain"},
    "navigate-but-xhr": {"Sec-Fetch-Mode": "navigate", "Accept": "text/html", "X-Requested-With": "XMLHttpRequest"},
    "navigate-but-json": {"Sec-Fetch-Mode": "navigate", "Accept": "application/json"},
}
NAVIGATION = {
    "browser": {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document",
                "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"},
    "navigate": {"Sec-Fetch-Mode": "navigate", "Accept": "text/html"},
    "accept-html": {"Accept": "text/html"},
    "accept-any": {"Accept": "*/*"},
    "no-accept": {"Accept": None},
}


def assert_401_msoauth(r):
    assert r.status_code == 401, "expected 401, got %d: %s" % (r.status_code, r.text[:300])
    challenge = r.headers.get("WWW-Authenticate", "")
    assert challenge.split(" ")[0].lower() == "msoauth", "WWW-Authenticate: %r" % challenge
    assert set_cookies(r) == [], "no cookie for a request that cannot sign in: %r" % set_cookies(r)
    assert "Location" not in r.headers


@pytest.mark.parametrize("kind", NOT_NAVIGATION)
def test_not_a_navigation_gets_401(server, browser, kind):
    r = browser.get(server.url(path("both", "cgi")), headers=NOT_NAVIGATION[kind], allow_redirects=False)
    assert_401_msoauth(r)
    assert state_cookies(browser) == {}


@pytest.mark.parametrize("kind", NAVIGATION)
def test_navigation_is_sent_to_sign_in(server, browser, kind):
    r = browser.get(server.url("/x/both/cgi"), headers=NAVIGATION[kind], allow_redirects=False)
    assert r.status_code == 302, "%d %s" % (r.status_code, r.text[:300])
    assert "/oauth2/v2.0/authorize?" in r.headers["Location"]
    assert len(state_cookies(browser)) == 1


def test_many_api_calls_pile_up_no_cookies(server, browser):
    for i in range(12):
        r = browser.get(server.url("/x/both/proxy/api/%d" % i), allow_redirects=False,
                        headers={"Sec-Fetch-Mode": "cors", "Accept": "application/json"})
        assert_401_msoauth(r)
    assert list(browser.cookies) == []


def test_not_a_navigation_is_401_at_a_require_location(server, browser):
    assert_401_msoauth(browser.get(server.url("/req/role"), headers=NOT_NAVIGATION["xhr"],
                                   allow_redirects=False))
    start_login(browser, server.url("/req/role"))


def test_signed_in_xhr_gets_through(server, signed_in):
    r = signed_in("x").get(server.url(path("both", "cgi")), headers=NOT_NAVIGATION["fetch-cors"],
                           allow_redirects=False)
    assert r.status_code == 200


# ---------------------------------------------------------------------------------------------- pass

@pytest.mark.parametrize("backend", BACKENDS + ("php-action",))
@pytest.mark.parametrize("headers", [NAVIGATION["browser"], NOT_NAVIGATION["xhr"]], ids=["navigation", "xhr"])
def test_pass_lets_anonymous_through_with_no_identity(server, backend, headers):
    anonymous = harness.http_session(server.pki.ca)
    seen = fetch(anonymous, server, "pass", backend, headers=headers)
    assert set_cookies(seen.resp) == [], "no Set-Cookie in pass mode"
    assert seen.ours() == {}, "no identity header"
    assert seen.msoauth_env() == {}, "no MSOAUTH_* variable"
    assert seen.remote_user in (None, b""), "REMOTE_USER is empty: %r" % seen.remote_user
    assert list(anonymous.cookies) == []


@pytest.mark.parametrize("backend", BACKENDS + ("php-action",))
def test_pass_gives_the_identity_when_signed_in(server, signed_in, backend):
    seen = fetch(signed_in("x"), server, "pass", backend)
    assert seen.header("X-MSOAuth-User-Id") == WORK_OID.encode()
    if backend != "proxy":
        assert seen.remote_user == WORK_OID.encode()
        assert seen.env["MSOAUTH_EMAIL"] == b"jose.mueller@contoso.example"


def test_auth_below_a_pass_location(server, browser):
    # A child location switches the parent's pass back to auth.
    assert browser.get(server.url("/x/pass/cgi"), allow_redirects=False).status_code == 200
    start_login(browser, server.url("/x/pass/auth/page"))
    assert_401_msoauth(browser.get(server.url("/x/pass/auth/page"), headers=NOT_NAVIGATION["xhr"],
                                   allow_redirects=False))


# ---------------------------------------------------------------------------------------------- 401 / 403

@pytest.mark.parametrize("headers", [NAVIGATION["browser"], NOT_NAVIGATION["xhr"]], ids=["navigation", "xhr"])
def test_unauth_action_401(server, browser, headers):
    assert_401_msoauth(browser.get(server.url("/x/u401/page"), headers=headers, allow_redirects=False))


@pytest.mark.parametrize("headers", [NAVIGATION["browser"], NOT_NAVIGATION["xhr"]], ids=["navigation", "xhr"])
def test_unauth_action_403(server, browser, headers):
    r = browser.get(server.url("/x/u403/page"), headers=headers, allow_redirects=False)
    assert r.status_code == 403, "%d %s" % (r.status_code, r.text[:300])
    assert set_cookies(r) == []
    assert "Location" not in r.headers


@pytest.mark.parametrize("loc", ["/x/u401/page", "/x/u403/page"])
def test_unauth_action_lets_a_signed_in_user_in(server, signed_in, loc):
    r = signed_in("x").get(server.url(loc + "?format=raw"), allow_redirects=False)
    assert r.status_code == 200, "%d %s" % (r.status_code, r.text[:300])
