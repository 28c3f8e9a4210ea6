"""Sign-out (issue 4): <MSOAuthRedirectURI>?logout=<path> ends the session (cookie and server-side tokens), then goes
through Microsoft's end-session endpoint (MSOAuthLogoutMicrosoft On, the default) or straight to <path> (Off)."""
import re
import urllib.parse

import harness
from conftest import CLIENT_A, query_of, set_cookies, sign_in

# Microsoft's login_hint claim: opaque, base64 with padding (so it needs encoding in a URL).
LOGIN_HINT = ("O.CiQ3YzFmMmUzZC00YjVhLTQ5NjgtODc3Ni1hNWI0YzNkMmUxZjASJDNmMmE5YzFlLTViN2QtNGU4Zi05YTBiLTFjMmQz"
              "ZTRmNWE2Yg==")


def end_session_url(mock):
    return mock.base + "/common/oauth2/v2.0/logout"


def cleared(resp, name):
    """The response expires (or empties) the session cookie."""
    for value in set_cookies(resp):
        if value.startswith(name + "="):
            v = value.split(";")[0][len(name) + 1:]
            return not v or "max-age=0" in value.lower() or "expires=thu, 01 jan 1970" in value.lower()
    return False


def asks_for_sign_in(resp):
    return resp.status_code == 302 and "/oauth2/v2.0/authorize?" in resp.headers.get("Location", "")


def test_sign_out_through_microsoft(server, browser, mock):
    mock.configure(id_token_claims={"login_hint": LOGIN_HINT})
    env = sign_in(browser, server, "/tok/cgi")
    stale = browser.cookies.get("tok_session")
    mark = server.log_mark()
    target = "/tok/goodbye?from=logout&x=%2F"
    r = browser.get(server.url("/tok/oauth2/callback?logout=" + urllib.parse.quote(target, safe="")),
                    allow_redirects=False)
    assert r.status_code == 302, (r.status_code, r.text[:300])
    loc = r.headers["Location"]
    assert loc.split("?")[0] == end_session_url(mock), loc
    q = query_of(loc)
    assert q == {"post_logout_redirect_uri": server.url(target), "client_id": CLIENT_A, "logout_hint": LOGIN_HINT}, q
    assert "no-store" in r.headers.get("Cache-Control", "")
    assert cleared(r, "tok_session"), set_cookies(r)
    assert re.search(r"signed out %s" % re.escape(env["REMOTE_USER"]), server.wait_log(mark, "signed out"))

    # Microsoft signs the user out and sends them back to the page asked for; it needs a sign-in now.
    r = browser.get(loc, allow_redirects=False)
    assert r.status_code == 302 and r.headers["Location"] == server.url(target)
    assert mock.requests("logout")[-1]["query"] == q
    assert asks_for_sign_in(browser.get(server.url(target), allow_redirects=False))

    # The session is really gone: the old cookie, replayed, finds no tokens behind it.
    replay = harness.http_session(server.pki.ca)
    replay.cookies.set("tok_session", stale, domain="127.0.0.1", path="/tok")
    assert asks_for_sign_in(replay.get(server.url("/tok/cgi"), allow_redirects=False))
    replay.close()


def test_no_logout_hint_without_the_login_hint_claim(server, browser, mock):
    sign_in(browser, server, "/app/x")
    r = browser.get(server.url("/app/oauth2/callback?logout=/app/"), allow_redirects=False)
    assert r.status_code == 302
    assert r.headers["Location"].split("?")[0] == end_session_url(mock)
    assert query_of(r.headers["Location"]) == {"post_logout_redirect_uri": server.url("/app/"), "client_id": CLIENT_A}
    assert cleared(r, "app_session")
    assert asks_for_sign_in(browser.get(server.url("/app/x"), allow_redirects=False))


def test_sign_out_here_only(server, browser, mock):
    sign_in(browser, server, "/bye/x")
    r = browser.get(server.url("/bye/oauth2/callback?logout=%2Fbye%2Fdone%3Fa%3D1"), allow_redirects=False)
    assert r.status_code == 302
    assert urllib.parse.urljoin(server.url("/"), r.headers["Location"]) == server.url("/bye/done?a=1")
    assert cleared(r, "bye_session"), set_cookies(r)
    assert "no-store" in r.headers.get("Cache-Control", "")
    assert asks_for_sign_in(browser.get(server.url("/bye/x"), allow_redirects=False))
    assert mock.stats()["logout"] == 0


def test_sign_out_without_a_session(server, browser, mock):
    r = browser.get(server.url("/bye/oauth2/callback?logout=/bye/"), allow_redirects=False)
    assert r.status_code == 302 and urllib.parse.urljoin(server.url("/"), r.headers["Location"]) == server.url("/bye/")
    r = browser.get(server.url("/tok/oauth2/callback?logout=/tok/"), allow_redirects=False)
    assert r.status_code == 302 and r.headers["Location"].split("?")[0] == end_session_url(mock)
    assert query_of(r.headers["Location"]) == {"post_logout_redirect_uri": server.url("/tok/"), "client_id": CLIENT_A}


def test_unsafe_target_becomes_the_site_root(server, browser):
    sign_in(browser, server, "/bye/x")
    r = browser.get(server.url("/bye/oauth2/callback?logout=" + urllib.parse.quote("//evil.example/x", safe="")),
                    allow_redirects=False)
    assert r.status_code == 302 and urllib.parse.urljoin(server.url("/"), r.headers["Location"]) == server.url("/")
    assert cleared(r, "bye_session"), "the sign-out itself still happens"


def test_cross_site_sign_out_asks_first(server, browser, mock):
    """A page on another site linking to ?logout must not sign the user out silently."""
    sign_in(browser, server, "/tok/cgi")
    url = server.url("/tok/oauth2/callback?logout=%2Ftok%2Fbye")
    r = browser.get(url, allow_redirects=False, headers={"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"})
    assert r.status_code == 200, (r.status_code, r.text[:300])
    assert "Sign out?" in r.text and 'href="/tok/oauth2/callback?logout=%2Ftok%2Fbye"' in r.text
    assert "no-store" in r.headers.get("Cache-Control", "")
    assert not set_cookies(r), "nothing is cleared before the user confirms"
    assert browser.get(server.url("/tok/cgi"), allow_redirects=False).status_code == 200, "still signed in"
    # the confirming click comes from this site
    r = browser.get(url, allow_redirects=False, headers={"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "navigate"})
    assert r.status_code == 302 and cleared(r, "tok_session")
    assert asks_for_sign_in(browser.get(server.url("/tok/cgi"), allow_redirects=False))
