"""<MSOAuthRedirectURI>?info=json (issue 4): who is signed in, for single-page fronts of legacy apps; never a token."""
import time

from conftest import set_cookies, sign_in

FIELDS = {"remote_user", "user_id", "username", "email", "full_name", "first_name", "last_name", "tenant_id",
          "account_type", "signed_in_at", "session_expires"}


def info(browser, server, area, **headers):
    r = browser.get(server.url("/%s/oauth2/callback?info=json" % area), headers=headers, allow_redirects=False)
    assert r.headers.get("Content-Type", "").split(";")[0] == "application/json", r.headers
    assert "no-store" in r.headers.get("Cache-Control", ""), r.headers
    return r


def test_info_when_signed_in(server, browser, mock):
    before = int(time.time())
    env = sign_in(browser, server, "/tok/cgi")
    r = info(browser, server, "tok")
    assert r.status_code == 200
    doc = r.json()
    assert set(doc) == FIELDS | {"access_token_expires"}, sorted(doc)
    assert doc["remote_user"] == env["REMOTE_USER"]
    for field in ("user_id", "username", "email", "full_name", "first_name", "last_name", "tenant_id",
                  "account_type"):
        assert doc[field] == env["MSOAUTH_" + field.upper()], field
    assert before <= doc["signed_in_at"] <= int(time.time())
    assert doc["session_expires"] == doc["signed_in_at"] + 3600, "the inactivity timeout (3600) comes first"
    assert doc["access_token_expires"] == int(env["MSOAUTH_ACCESS_TOKEN_EXPIRES"])
    for grant in mock.issued():
        for token in (grant.get("access_token"), grant.get("refresh_token"), grant.get("id_token")):
            assert not token or token[6:30] not in r.text, "a token in the info answer"


def test_info_session_expiry_follows_the_nearest_limit(server, browser):
    sign_in(browser, server, "/idle/x")
    doc = info(browser, server, "idle").json()
    assert doc["session_expires"] == doc["signed_in_at"] + 60
    # (tokens are kept at every sign-in once any location of the server needs them, so the
    # answer may carry access_token_expires here too)
    sign_in(browser, server, "/maxage/x")
    doc = info(browser, server, "maxage").json()
    assert doc["session_expires"] == doc["signed_in_at"] + 2


def test_info_when_not_signed_in(server, browser, mock):
    for headers in ({}, {"Accept": "text/html"}):
        r = info(browser, server, "tok", **headers)
        assert r.status_code == 401, (r.status_code, r.text[:300])
        assert r.json() == {"error": "not signed in"}
        assert r.headers.get("WWW-Authenticate") == "msoauth"
        assert not set_cookies(r), "no sign-in is started"
    assert mock.stats()["authorize"] == 0


def test_info_takes_only_json(server, browser):
    sign_in(browser, server, "/idle/x")
    r = browser.get(server.url("/idle/oauth2/callback?info=xml"), allow_redirects=False)
    assert r.status_code == 400, (r.status_code, r.text[:200])
    assert browser.get(server.url("/idle/oauth2/callback?info=json"), allow_redirects=False).status_code == 200
