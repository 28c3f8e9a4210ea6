"""The handshake as a browser and Microsoft see it: the authorize redirect, the pending-login cookie, the code
exchange, the return to the original URL, and a session that needs no further call to Microsoft."""
import base64
import hashlib
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

from conftest import (B64URL43, CLIENT_A, COLD, STATE_COOKIE, authorize, cgi_env, login, query_of, resolve, set_cookies,
                      sign_in, start_login, state_cookies)
import harness
import mockms


def test_authorize_redirect_carries_every_parameter(server, browser):
    r = start_login(browser, server.url("/app/some/page?x=1"), authority=server.mock.base)
    loc = urllib.parse.urlsplit(r.headers["Location"])
    assert loc.path == "/common/oauth2/v2.0/authorize"
    pairs = urllib.parse.parse_qsl(loc.query, keep_blank_values=True)
    names = [k for k, _ in pairs]
    assert len(names) == len(set(names)), "a parameter is repeated: %s" % names
    q = dict(pairs)
    assert q["client_id"] == CLIENT_A
    assert q["response_type"] == "code"
    assert q["redirect_uri"] == server.url("/app/oauth2/callback")
    assert q["response_mode"] == "query"
    assert set(q["scope"].split(" ")) == {"openid", "profile", "email", "User.Read"}
    assert q["code_challenge_method"] == "S256"
    for name in ("state", "nonce", "code_challenge"):
        assert B64URL43.match(q[name]), "%s=%r is not 43 base64url characters (32 bytes)" % (name, q[name])
    assert q["state"] != q["nonce"]
    assert "no-store" in r.headers.get("Cache-Control", "")


def test_state_nonce_and_challenge_are_fresh_each_time(server, browser):
    seen = {"state": set(), "nonce": set(), "code_challenge": set()}
    for i in range(4):
        q = query_of(start_login(browser, server.url("/app/fresh%d" % i)).headers["Location"])
        for name in seen:
            seen[name].add(q[name])
    for name, values in seen.items():
        assert len(values) == 4, "%s repeated across logins" % name
    assert not (seen["state"] & seen["nonce"])


def test_pending_login_cookie_attributes(server, browser):
    r = start_login(browser, server.url("/app/cookie"))
    state = query_of(r.headers["Location"])["state"]
    ours = [c for c in set_cookies(r) if c.startswith("msoauth_state_")]
    assert len(ours) == 1, set_cookies(r)
    cookie = ours[0]
    name = cookie.split("=", 1)[0]
    assert name == "msoauth_state_" + state
    attrs = [a.strip().lower() for a in cookie.split(";")[1:]]
    assert "path=/" in attrs
    assert "httponly" in attrs
    assert "secure" in attrs
    assert "samesite=lax" in attrs
    assert "max-age=300" in attrs
    value = cookie.split(";")[0].split("=", 1)[1]
    # The pending login is sealed: none of its parts is readable in the cookie.
    assert state not in value and query_of(r.headers["Location"])["nonce"] not in value
    assert "/app/cookie" not in urllib.parse.unquote(value)


def test_code_exchange_uses_pkce_and_client_secret_post(server, browser, mock):
    r = login(browser, server.url("/app/exchange"))
    assert r.status_code == 302, r.text
    tokens = mock.requests("token")
    assert len(tokens) == 1
    t = tokens[0]
    assert t["path"] == "/common/oauth2/v2.0/token"
    assert t["content_type"].split(";")[0] == "application/x-www-form-urlencoded"
    assert t["authorization"] is None, "the secret goes in the form (client_secret_post)"
    form = t["form"]
    code = query_of(r.callback_url)["code"]
    challenge = query_of(r.authorize_url)["code_challenge"]
    assert form["grant_type"] == "authorization_code"
    assert form["client_id"] == CLIENT_A
    assert form["client_secret"] == mockms.CLIENTS[CLIENT_A], "file: secret must be read with its newline trimmed"
    assert form["code"] == code
    assert form["redirect_uri"] == server.url("/app/oauth2/callback")
    assert B64URL43.match(form["code_verifier"])
    digest = base64.urlsafe_b64encode(hashlib.sha256(form["code_verifier"].encode()).digest()).rstrip(b"=")
    assert digest.decode() == challenge
    assert "openid" in form["scope"].split()


def test_graph_is_called_with_the_access_token(server, browser, mock):
    assert login(browser, server.url("/app/graph")).status_code == 302
    issued = mock.issued()
    graph = mock.requests("graph")
    assert len(graph) == 1, "one round trip: the profile and its extras in one $batch"
    assert (graph[0]["method"], graph[0]["path"]) == ("POST", "/v1.0/$batch")
    assert graph[0]["authorization"] == "Bearer " + issued[-1]["access_token"]
    assert graph[0]["content_type"].split(";")[0] == "application/json"
    me = [r for r in graph[0]["batch"] if r["id"] == "me"]
    assert len(me) == 1 and me[0]["method"] == "GET" and me[0]["url"].startswith("/me?$select="), graph[0]["batch"]


def test_return_to_the_original_url_with_its_query_string(server, browser):
    path = "/app/reports/2024/list.php?year=2024&q=caf%C3%A9+cr%C3%A8me&sort=-date&empty="
    env = sign_in(browser, server, path)
    assert env["REQUEST_URI"] == path
    assert env["QUERY_STRING"] == "year=2024&q=caf%C3%A9+cr%C3%A8me&sort=-date&empty="


def test_pending_login_cookie_is_removed_after_the_callback(server, browser):
    r = login(browser, server.url("/app/once"))
    assert r.status_code == 302
    expired = [c for c in set_cookies(r) if STATE_COOKIE.match(c.split("=", 1)[0])]
    assert expired, "the callback must expire the pending-login cookie"
    assert any("max-age=0" in c.lower() or "expires=thu, 01 jan 1970" in c.lower() for c in expired), expired
    assert state_cookies(browser) == {}


def test_signed_in_requests_make_no_call_to_microsoft(server, browser, mock):
    sign_in(browser, server, "/app/quiet")
    mock.reset_stats()
    for path in ("/app/quiet", "/app/other?z=1", "/app/", "/app"):
        env = cgi_env(browser, server.url(path))
        assert env["REMOTE_USER"] == mockms.USERS["work"]["claims"]["oid"]
    stats = mock.stats()
    assert [stats[k] for k in ("discovery", "jwks", "authorize", "token", "graph")] == [0, 0, 0, 0, 0], stats


def test_discovery_and_jwks_are_fetched_once_then_cached(server, mock):
    """A cold authority: the first sign-in fetches discovery and JWKS once; the next ones fetch neither."""
    base = server.url("/cold/first_fetch")
    b1 = harness.http_session(server.pki.ca)
    r = login(b1, base + "/one", authority=mock.bases[1])
    assert r.status_code == 302, r.text
    s = mock.stats()
    assert (s["discovery"], s["jwks"]) == (1, 1), s
    mock.reset_stats()
    for i in range(3):
        b = harness.http_session(server.pki.ca)
        assert login(b, base + "/again%d" % i, user=["personal", "work", "work2"][i]).status_code == 302
    s = mock.stats()
    assert (s["discovery"], s["jwks"], s["token"]) == (0, 0, 3), s


def test_two_tabs_sign_in_at_once(server, browser):
    tab1 = start_login(browser, server.url("/app/tab1?first=1"))
    tab2 = start_login(browser, server.url("/app/tab2?second=2"))
    assert len(state_cookies(browser)) == 2
    # The second tab finishes first, then the first.
    cb2 = authorize(browser, tab2.headers["Location"], "work")
    cb1 = authorize(browser, tab1.headers["Location"], "work")
    r2 = browser.get(cb2, allow_redirects=False)
    assert r2.status_code == 302, r2.text
    assert resolve(r2) == server.url("/app/tab2?second=2")
    r1 = browser.get(cb1, allow_redirects=False)
    assert r1.status_code == 302, r1.text
    assert resolve(r1) == server.url("/app/tab1?first=1")
    assert cgi_env(browser, server.url("/app/tab1?first=1"))["MSOAUTH_TENANT_ID"] == mockms.WORK_TID


def test_at_most_five_pending_logins(server, browser):
    starts = [start_login(browser, server.url("/app/pending%d" % i)) for i in range(6)]
    states = [query_of(s.headers["Location"])["state"] for s in starts]
    cookies = state_cookies(browser)
    assert len(cookies) == 5, sorted(cookies)
    assert "msoauth_state_" + states[0] not in cookies, "the oldest pending login must be dropped"
    sixth = set_cookies(starts[5])
    dropped = [c for c in sixth if c.startswith("msoauth_state_%s=" % states[0])]
    assert dropped and "max-age=0" in dropped[0].lower(), sixth
    # The dropped login can no longer finish; the newest one can.
    cb0 = authorize(browser, starts[0].headers["Location"])
    assert browser.get(cb0, allow_redirects=False).status_code == 400
    cb5 = authorize(browser, starts[5].headers["Location"])
    r = browser.get(cb5, allow_redirects=False)
    assert r.status_code == 302 and resolve(r) == server.url("/app/pending5")


def test_openid_is_always_requested(server, browser):
    q = query_of(start_login(browser, server.url("/scope/x")).headers["Location"])
    assert set(q["scope"].split(" ")) == {"openid", "User.Read", "profile"}
    env = sign_in(browser, server, "/scope/x", user="personal")
    assert env["MSOAUTH_ACCOUNT_TYPE"] == "personal"


def _sign_in_alone(server, path, user, authority):
    b = harness.http_session(server.pki.ca)
    try:
        env = sign_in(b, server, path, user=user, authority=authority)
        return env["REMOTE_USER"], env["REQUEST_URI"]
    finally:
        b.close()


def test_concurrent_sign_ins(server, mock):
    """Many browsers at once, on a cold authority (discovery and JWKS caches filled while requests race)."""
    users = ["personal", "work", "work2", "upnonly"] * 4
    base, authority = "/cold/concurrent", mock.bases[1 + COLD.index("concurrent")]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda iu: _sign_in_alone(server, "%s/u%d?n=%d" % (base, iu[0], iu[0]), iu[1],
                                                           authority), enumerate(users)))
    for i, (user, (remote_user, uri)) in enumerate(zip(users, results)):
        assert remote_user == mockms.USERS[user]["claims"]["oid"]
        assert uri == "%s/u%d?n=%d" % (base, i, i)
    assert mock.stats()["token"] == len(users)


def test_absolute_redirect_uri(server, browser):
    q = query_of(start_login(browser, server.url("/absredirect/a?b=c")).headers["Location"])
    assert q["redirect_uri"] == server.url("/absredirect/oauth2/callback")
    env = sign_in(browser, server, "/absredirect/a?b=c", user="personal")
    assert env["MSOAUTH_ACCOUNT_TYPE"] == "personal"
