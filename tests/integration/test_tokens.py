"""Server-side tokens (issue 4): the access token for the application, refresh, single flight, revoked refresh
tokens, a lost cache entry; the refresh token never leaves the server.

/tok hands the access token on (MSOAuthPassAccessToken On, offline_access in the scope). The mock's
access_token_lifetime 61 makes the module refresh about a second after sign-in (it refreshes when less than 60 s
are left)."""
import subprocess
import json
import os
import re
import shutil
import threading
import time

import pytest

import harness
import mockms
from conftest import CLIENT_A, CRYPTO_PASSPHRASE, OFFLINE_SCOPE, location, set_cookies, sign_in

AADSTS_REVOKED = 70000


def get_env(browser, server, path, **headers):
    r = browser.get(server.url(path), headers=headers, allow_redirects=False)
    assert r.status_code == 200, "%d %s" % (r.status_code, r.text[:500])
    return r.json()


def wait_until_refresh_due(expires):
    """Sleep until the module sees the access token as due (less than 60 s left, in whole seconds of its clock)."""
    delay = int(expires) - 59 + 0.05 - time.time()
    if delay > 0:
        time.sleep(delay)


def refresh_grants(mock):
    return mock.requests("refresh")


def session_cleared(resp, name):
    """True when the response expires the session cookie name (or empties it)."""
    for value in set_cookies(resp):
        if value.startswith(name + "="):
            v = value.split(";")[0][len(name) + 1:]
            if not v or "max-age=0" in value.lower() or "expires=thu, 01 jan 1970" in value.lower():
                return True
    return False


def assert_asks_for_sign_in(resp):
    assert resp.status_code == 302, "%d %s" % (resp.status_code, resp.text[:300])
    assert "/oauth2/v2.0/authorize?" in resp.headers["Location"], resp.headers["Location"]


# ---------------------------------------------------------------------------------------------- handing on

def test_access_token_reaches_the_cgi(server, browser, mock):
    before = int(time.time())
    env = sign_in(browser, server, "/tok/cgi")
    after = int(time.time())
    issued = mock.issued()[-1]
    assert env["MSOAUTH_ACCESS_TOKEN"] == issued["access_token"]
    expires = int(env["MSOAUTH_ACCESS_TOKEN_EXPIRES"])
    assert before + 3599 - 1 <= expires <= after + 3599 + 1, (before, expires)
    # PassClaimsAs both (the default): the request headers carry it too, so a CGI sees HTTP_X_MSOAUTH_*.
    assert env["HTTP_X_MSOAUTH_ACCESS_TOKEN"] == issued["access_token"]
    assert env["HTTP_X_MSOAUTH_ACCESS_TOKEN_EXPIRES"] == env["MSOAUTH_ACCESS_TOKEN_EXPIRES"]
    assert mock.stats()["refresh"] == 0


def test_access_token_reaches_a_proxied_backend(server, browser, mock):
    sign_in(browser, server, "/tok/cgi")
    issued = mock.issued()[-1]
    r = browser.get(server.url("/tok/proxy/api"), allow_redirects=False)
    assert r.status_code == 200, r.text[:300]
    headers = {k.lower(): v for k, v in r.json()["headers"]}
    assert headers.get("x-msoauth-access-token") == issued["access_token"]
    assert re.match(r"^\d{10}$", headers.get("x-msoauth-access-token-expires", "")), headers


def test_environment_only_means_no_token_header(server, browser, mock):
    sign_in(browser, server, "/tok/env/x")
    env = get_env(browser, server, "/tok/env/x", **{"X-MSOAuth-Access-Token": "forged-token"})
    assert env["MSOAUTH_ACCESS_TOKEN"] == mock.issued()[-1]["access_token"]
    assert not [k for k in env if k.startswith("HTTP_X_MSOAUTH_ACCESS_TOKEN")], "forged or passed header seen"


def test_no_token_without_pass_access_token(server, browser, mock):
    env = sign_in(browser, server, "/offline/x")
    assert "offline_access" in mock.requests("token")[-1]["form"]["scope"].split()
    assert mock.issued()[-1]["refresh_token"], "the mock issues a refresh token for offline_access"
    assert not [k for k in env if "ACCESS_TOKEN" in k], sorted(env)
    # A forged header does not get through either.
    env = get_env(browser, server, "/offline/x", **{"X-MSOAuth-Access-Token": "forged-token"})
    assert not [k for k in env if "ACCESS_TOKEN" in k], sorted(env)


# ---------------------------------------------------------------------------------------------- refresh

def test_refresh_hands_on_a_new_token_and_uses_the_rotated_refresh_token(server, browser, mock):
    mock.configure(access_token_lifetime=61)
    started = time.time()
    env0 = sign_in(browser, server, "/tok/cgi")
    first = mock.issued()[-1]
    assert env0["MSOAUTH_ACCESS_TOKEN"] == first["access_token"] and first["refresh_token"]
    assert get_env(browser, server, "/tok/cgi")["MSOAUTH_ACCESS_TOKEN"] == first["access_token"]
    if time.time() < started + 1:
        # Within a second of signing in more than 60 s are certainly left (the module counts whole seconds).
        assert mock.stats()["refresh"] == 0, "no refresh while more than 60 s are left"
    graph_calls = mock.stats()["graph"]

    wait_until_refresh_due(env0["MSOAUTH_ACCESS_TOKEN_EXPIRES"])
    now = int(time.time())
    r = browser.get(server.url("/tok/cgi"), allow_redirects=False)
    assert r.status_code == 200, r.text[:300]
    assert not set_cookies(r), "the tokens live on the server: a refresh does not touch the cookie"
    env1 = r.json()
    grants = refresh_grants(mock)
    assert len(grants) == 1, grants
    form = grants[0]["form"]
    assert form["grant_type"] == "refresh_token"
    assert form["client_id"] == CLIENT_A and form["client_secret"] == mockms.CLIENTS[CLIENT_A]
    assert form["refresh_token"] == first["refresh_token"]
    assert "offline_access" in form["scope"].split()
    second = mock.issued()[-1]
    assert second["grant"] == "refresh_token" and not second.get("id_token")
    assert env1["MSOAUTH_ACCESS_TOKEN"] == second["access_token"] != first["access_token"]
    assert now + 61 - 1 <= int(env1["MSOAUTH_ACCESS_TOKEN_EXPIRES"]) <= int(time.time()) + 61 + 1
    assert mock.stats()["graph"] == graph_calls, "refreshing is not signing in: no Graph calls"

    # This time the answer carries an id_token too (Microsoft may send one): still just a new access token.
    mock.configure(refresh_id_token=True)
    wait_until_refresh_due(env1["MSOAUTH_ACCESS_TOKEN_EXPIRES"])
    env2 = get_env(browser, server, "/tok/cgi")
    grants = refresh_grants(mock)
    assert len(grants) == 2
    assert grants[1]["form"]["refresh_token"] == second["refresh_token"], "the new refresh token replaces the old"
    assert env2["MSOAUTH_ACCESS_TOKEN"] == mock.issued()[-1]["access_token"]
    assert env2["REMOTE_USER"] == env0["REMOTE_USER"]
    assert mock.stats()["refresh_reused"] == 0


def test_expires_in_as_a_string(server, browser, mock):
    mock.configure(access_token_lifetime=61, expires_in_string=True)
    before = int(time.time())
    env0 = sign_in(browser, server, "/tok/cgi")
    expires = int(env0["MSOAUTH_ACCESS_TOKEN_EXPIRES"])
    assert before + 60 <= expires <= int(time.time()) + 62, "expires_in \"61\" read as 61 s: %d" % (expires - before)
    wait_until_refresh_due(expires)
    env1 = get_env(browser, server, "/tok/cgi")
    assert env1["MSOAUTH_ACCESS_TOKEN"] == mock.issued()[-1]["access_token"] != env0["MSOAUTH_ACCESS_TOKEN"]
    assert int(env1["MSOAUTH_ACCESS_TOKEN_EXPIRES"]) <= int(time.time()) + 62


def test_concurrent_requests_refresh_once(server, browser, mock):
    mock.configure(access_token_lifetime=61, refreshed_lifetime=3599)
    env0 = sign_in(browser, server, "/tok/cgi")
    cookies = "; ".join("%s=%s" % (c.name, c.value) for c in browser.cookies)
    wait_until_refresh_due(env0["MSOAUTH_ACCESS_TOKEN_EXPIRES"])
    mock.configure(refresh_delay=1.5)
    n = 20
    barrier = threading.Barrier(n)
    results = [None] * n

    def one(i):
        s = harness.http_session(server.pki.ca)
        try:
            barrier.wait(10)
            r = s.get(server.url("/tok/cgi/%d" % i), headers={"Cookie": cookies}, allow_redirects=False,
                      timeout=30)
            results[i] = (r.status_code, r.json().get("MSOAUTH_ACCESS_TOKEN") if r.status_code == 200 else r.text)
        except Exception as e:  # reported below
            results[i] = ("error", repr(e))
        finally:
            s.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    grants = refresh_grants(mock)
    assert len(grants) == 1, "%d refresh grants for %d concurrent requests of one session" % (len(grants), n)
    fresh = mock.issued()[-1]["access_token"]
    assert all(res == (200, fresh) for res in results), results


def test_refresh_impossible_ends_the_session(server, mock):
    """A revoked refresh token (navigation: sign in again; XHR: 401), and no refresh token at all."""
    mock.configure(access_token_lifetime=61)
    nav, xhr, norefresh = (harness.http_session(server.pki.ca) for _ in range(3))
    try:
        envs = [sign_in(nav, server, "/tok/cgi"), sign_in(xhr, server, "/tok/cgi"),
                sign_in(norefresh, server, "/tokonly/cgi")]
        stale_cookie = nav.cookies.get("tok_session")
        assert mock.issued()[-1]["refresh_token"] is None, "no offline_access, no refresh token"
        wait_until_refresh_due(max(int(env["MSOAUTH_ACCESS_TOKEN_EXPIRES"]) for env in envs))
        mock.configure(refresh_error=AADSTS_REVOKED)
        mark = server.log_mark()

        r = nav.get(server.url("/tok/cgi/page?x=1"), allow_redirects=False)
        assert_asks_for_sign_in(r)
        assert session_cleared(r, "tok_session"), set_cookies(r)
        r = xhr.get(server.url("/tok/cgi/api"), headers={"X-Requested-With": "XMLHttpRequest"}, allow_redirects=False)
        assert r.status_code == 401 and r.headers.get("WWW-Authenticate") == "msoauth", (r.status_code, r.headers)
        assert len(refresh_grants(mock)) == 2
        log = server.wait_log(mark, r"AADSTS%d" % AADSTS_REVOKED)
        assert re.search(r"AADSTS%d" % AADSTS_REVOKED, log), "the log names Microsoft's error code:\n" + log

        r = norefresh.get(server.url("/tokonly/cgi"), allow_redirects=False)
        assert_asks_for_sign_in(r)
        assert len(refresh_grants(mock)) == 2, "nothing to refresh with"

        # The session is over for good: no second refresh, even with the old cookie replayed.
        mock.reset()
        r = nav.get(server.url("/tok/cgi"), allow_redirects=False)
        assert_asks_for_sign_in(r)
        replay = harness.http_session(server.pki.ca)
        replay.cookies.set("tok_session", stale_cookie, domain="127.0.0.1", path="/tok")
        assert_asks_for_sign_in(replay.get(server.url("/tok/cgi"), allow_redirects=False))
        replay.close()
        assert len(refresh_grants(mock)) == 2
        # And signing in again works.
        env = sign_in(nav, server, "/tok/cgi")
        assert env["MSOAUTH_ACCESS_TOKEN"] == mock.issued()[-1]["access_token"]
    finally:
        for s in (nav, xhr, norefresh):
            s.close()


def test_refresh_token_never_leaves_the_server(server, browser, mock):
    mock.configure(access_token_lifetime=61)
    mark = server.log_mark()
    access_mark = os.path.getsize(os.path.join(server.workdir, "access.log"))
    seen = []
    env0 = sign_in(browser, server, "/tok/cgi")
    seen.append(json.dumps(env0))
    wait_until_refresh_due(env0["MSOAUTH_ACCESS_TOKEN_EXPIRES"])
    for path in ("/tok/cgi", "/tok/proxy/x", "/tok/env/x", "/tok/oauth2/callback?info=json", "/tok/cgi?again"):
        r = browser.get(server.url(path), allow_redirects=False)
        assert r.status_code == 200, (path, r.status_code)
        seen += [r.text, json.dumps(dict(r.headers))] + set_cookies(r)
    seen += ["%s=%s" % (c.name, c.value) for c in browser.cookies]
    grants = [i for i in mock.issued()]
    refresh_tokens = [g["refresh_token"] for g in grants if g.get("refresh_token")]
    access_tokens = [g["access_token"] for g in grants]
    assert len(refresh_tokens) == 2 and len(refresh_grants(mock)) == 1
    with open(os.path.join(server.workdir, "access.log"), "rb") as f:
        f.seek(access_mark)
        access_log = f.read().decode("utf-8", "replace")
    error_log = server.log_since(mark)
    for rt in refresh_tokens:
        for text in seen + [error_log, access_log]:
            assert rt[6:40] not in text, "a refresh token leaked into: %s" % text[:300]
    for at in access_tokens:
        # The access token is for the application only; the log has at most its first characters.
        assert at[6:40] not in error_log + access_log


# ---------------------------------------------------------------------------------------------- lost cache

@pytest.fixture
def own_apache(server):
    """A second Apache of its own (restartable), with /lost (tokens kept) and /pic (no tokens), both signing in
    at the shared mock, and an explicit MSOAuthCache."""
    workdir = harness.make_workdir("msoauth-lost-")
    port = harness.free_port()
    harness.install_cgi(workdir)
    globals_ = {"MSOAuthClientID": CLIENT_A, "MSOAuthClientSecret": '"%s"' % mockms.CLIENTS[CLIENT_A],
                "MSOAuthCryptoPassphrase": CRYPTO_PASSPHRASE, "MSOAuthAuthority": server.mock.base,
                "MSOAuthGraphURL": server.mock.base + "/v1.0", "MSOAuthCAFile": server.pki.ca,
                "MSOAuthCache": '"shmcb:%s/msoauth-tokens(2000000)"' % workdir}
    vhost = harness.VHost(port, tls=True, locations={
        "/lost": location("lost", MSOAuthPassAccessToken="On", MSOAuthScope=OFFLINE_SCOPE),
        "/pic": location("pic")})
    conf = harness.apache_config(workdir, [vhost], global_directives=globals_, module=harness.module_path(),
                                 pki_=server.pki)
    apache = harness.Apache(workdir, conf, [port]).start()
    apache.base = vhost.base
    try:
        yield apache
    finally:
        apache.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def test_lost_cache_entry_ends_the_session_cleanly(server, own_apache, mock):
    class Own:
        pki = server.pki

        @staticmethod
        def url(path):
            return own_apache.base + path
    own = Own()
    tok, pic, xhr = (harness.http_session(server.pki.ca) for _ in range(3))
    try:
        env = sign_in(tok, own, "/lost/cgi")
        assert env["MSOAUTH_ACCESS_TOKEN"] == mock.issued()[-1]["access_token"]
        sign_in(xhr, own, "/lost/cgi")
        sign_in(pic, own, "/pic/cgi", user="work")
        photo = pic.get(own.url("/pic/oauth2/callback?photo"))
        assert photo.status_code == 200 and photo.content == mockms.PHOTO_PNG

        # A restart empties shmcb: the tokens (never in the cookie) are gone, the cookie is still valid.
        own_apache.stop()
        own_apache.start()
        mark = own_apache.log_mark()
        r = tok.get(own.url("/lost/cgi/page"), allow_redirects=False)
        assert_asks_for_sign_in(r)
        assert session_cleared(r, "lost_session"), set_cookies(r)
        r = xhr.get(own.url("/lost/cgi/api"), headers={"Accept": "application/json"}, allow_redirects=False)
        assert r.status_code == 401, (r.status_code, r.text[:300])
        log = own_apache.error_log(mark)
        assert re.search(r"session of \S+ ended", log), log
        assert "[auth_msoauth:error]" not in log and "[auth_msoauth:crit]" not in log, log

        # The session without tokens goes on; its photo went with the cache: the default picture, no error.
        assert get_env(pic, own, "/pic/cgi")["MSOAUTH_EMAIL"]
        photo = pic.get(own.url("/pic/oauth2/callback?photo"), allow_redirects=False)
        assert photo.status_code == 200 and photo.headers["Content-Type"].startswith("image/svg+xml")

        # Signing in again starts afresh.
        env = sign_in(tok, own, "/lost/cgi")
        assert env["MSOAUTH_ACCESS_TOKEN"] == mock.issued()[-1]["access_token"]
    finally:
        for s in (tok, pic, xhr):
            s.close()


def test_graceful_restart_keeps_sessions_and_sign_in_working(server, own_apache, mock):
    """After `apachectl graceful` (modules reloaded, mod_session possibly at another address) a signed-in
    user stays signed in (the session is a sealed cookie; only shmcb's tokens are lost) and new sign-ins work."""
    class Own:
        pki = server.pki

        @staticmethod
        def url(path):
            return own_apache.base + path
    own = Own()
    before, after = harness.http_session(server.pki.ca), harness.http_session(server.pki.ca)
    try:
        env = sign_in(before, own, "/pic/cgi", user="personal")
        pid = own_apache.pid
        mark = own_apache.log_mark()
        subprocess.run([harness.APACHE, "-f", own_apache.conf, "-k", "graceful"], check=True, timeout=60)
        deadline = time.time() + 20
        while time.time() < deadline and "resuming normal operations" not in own_apache.error_log(mark):
            time.sleep(0.1)
        assert "resuming normal operations" in own_apache.error_log(mark), own_apache.error_log(mark)
        r = before.get(own.url("/pic/cgi/again"), allow_redirects=False)
        assert r.status_code == 200, (r.status_code, r.text[:300])
        assert r.json()["REMOTE_USER"] == env["REMOTE_USER"]
        assert sign_in(after, own, "/pic/cgi", user="work")["MSOAUTH_ACCOUNT_TYPE"] == "work"
        log = own_apache.error_log(mark)
        assert "Segmentation fault" not in log and "exit signal" not in log, log
        assert own_apache.pid == pid, "a graceful restart keeps the parent process"
    finally:
        before.close()
        after.close()
