"""Session lifetime (issue 4): an idle session ends (MSOAuthSessionInactivityTimeout, at least 60 s), activity does
not rewrite the session cookie on every request, and a session ended by either limit signs in again to the same
URL (401 for requests that are not page navigations).

The idle test needs a minute of real time. Instead of sleeping through it, its browsers sign in when the run
starts (the test marked early runs first) and are looked at when it ends (the test marked late runs last); it
sleeps only for what the rest of the run did not take."""
import re
import time
import types

import pytest

import harness
from conftest import authorize, resolve, set_cookies, sign_in, start_login

IDLE_TIMEOUT = 60       # /idle
ACTIVE_TIMEOUT = 600    # /active
IDLE_PAGE = "/idle/page?n=1&q=caf%C3%A9"
ACTIVE_PAGE = "/active/page"


def session_set_cookies(resp, name):
    return [v for v in set_cookies(resp) if v.startswith(name + "=")]


@pytest.fixture(scope="session")
def early_sessions(server):
    """Two browsers signed in when the run starts: one at /idle, one at /active."""
    idle, active = harness.http_session(server.pki.ca), harness.http_session(server.pki.ca)
    sign_in(idle, server, IDLE_PAGE)
    sign_in(active, server, ACTIVE_PAGE)
    yield types.SimpleNamespace(idle=idle, active=active, signed_in_at=time.time())
    idle.close()
    active.close()


@pytest.mark.early
def test_activity_within_a_minute_does_not_resend_the_cookie(server, early_sessions):
    for browser, page, cookie in ((early_sessions.idle, IDLE_PAGE, "idle_session"),
                                  (early_sessions.active, ACTIVE_PAGE, "active_session")):
        for _ in range(3):
            r = browser.get(server.url(page), allow_redirects=False)
            assert r.status_code == 200, r.text[:300]
            assert not session_set_cookies(r, cookie), "the session cookie is re-sent on every request: %s" \
                % set_cookies(r)


@pytest.mark.late
def test_idle_session_ends_and_signs_in_again_to_the_same_url(server, early_sessions):
    time.sleep(max(0.0, early_sessions.signed_in_at + IDLE_TIMEOUT + 1.2 - time.time()))
    mark = server.log_mark()
    idle = early_sessions.idle

    # Not a page navigation: 401, and no pending-login cookie.
    r = idle.get(server.url(IDLE_PAGE), headers={"Accept": "application/json"}, allow_redirects=False)
    assert r.status_code == 401, (r.status_code, r.text[:300])
    assert r.headers.get("WWW-Authenticate") == "msoauth"
    assert not [v for v in set_cookies(r) if v.startswith("msoauth_state_")], set_cookies(r)

    # A navigation: sign in again, back to the very same URL.
    r = start_login(idle, server.url(IDLE_PAGE))
    back = idle.get(authorize(idle, r.headers["Location"]), allow_redirects=False)
    assert back.status_code == 302, back.text[:500]
    assert resolve(back) == server.url(IDLE_PAGE)
    assert idle.get(resolve(back), allow_redirects=False).status_code == 200
    log = server.wait_log(mark, r"idle for")
    assert re.search(r"ended: idle for \d+ s", log), log

    # The session in use for more than a minute: the cookie is re-sent once to record the activity.
    active = early_sessions.active
    r = active.get(server.url(ACTIVE_PAGE), allow_redirects=False)
    assert r.status_code == 200
    assert len(session_set_cookies(r, "active_session")) == 1, set_cookies(r)
    r = active.get(server.url(ACTIVE_PAGE), allow_redirects=False)
    assert r.status_code == 200 and not session_set_cookies(r, "active_session"), set_cookies(r)


def test_max_age_signs_in_again_to_the_same_url(server, browser):
    page = "/maxage/report?id=7"
    sign_in(browser, server, page)
    time.sleep(2.1)
    r = browser.get(server.url(page), headers={"X-Requested-With": "XMLHttpRequest"}, allow_redirects=False)
    assert r.status_code == 401 and r.headers.get("WWW-Authenticate") == "msoauth", r.status_code
    r = start_login(browser, server.url(page))
    back = browser.get(authorize(browser, r.headers["Location"]), allow_redirects=False)
    assert back.status_code == 302 and resolve(back) == server.url(page)
