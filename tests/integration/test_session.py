"""The session after sign-in: sealed, bound to the client id, limited by MSOAuthSessionMaxAge; anything wrong with
it means "signed out" (a new login starts)."""
import time
import urllib.parse

import harness
from conftest import CLIENT_B, USERS, query_of, sign_in

WORK = USERS["work"]


def asks_for_sign_in(browser, url, client_id=None):
    r = browser.get(url, allow_redirects=False)
    assert r.status_code == 302, "expected a new sign-in, got %d: %s" % (r.status_code, r.text[:300])
    assert "/oauth2/v2.0/authorize?" in r.headers["Location"], r.headers["Location"]
    if client_id:
        assert query_of(r.headers["Location"])["client_id"] == client_id
    return r


def cookie(browser, name):
    values = [c for c in browser.cookies if c.name == name]
    assert len(values) == 1, "cookie %s: %r" % (name, [(c.name, c.path) for c in browser.cookies])
    return values[0]


def replace_cookie(browser, name, value):
    c = cookie(browser, name)
    browser.cookies.set(name, value, domain=c.domain, path=c.path)


def flip(text, i=None):
    """text with one base64 character changed near position i (default: the middle)."""
    i = len(text) // 2 if i is None else i
    ch = text[i]
    repl = "B" if ch != "B" else "C"
    return text[:i] + repl + text[i + 1:]


def sealed_pairs(value):
    """mod_session's cookie format: key=value&... (url-encoded)."""
    return urllib.parse.parse_qsl(value, keep_blank_values=True)


def test_session_is_reused(server, browser):
    sign_in(browser, server, "/app/s1")
    for _ in range(3):
        r = browser.get(server.url("/app/s1"), allow_redirects=False)
        assert r.status_code == 200 and r.json()["REMOTE_USER"] == WORK["claims"]["oid"]


def test_forged_session_cookie(server, browser):
    browser.cookies.set("app_session", "forged-by-hand", domain="127.0.0.1", path="/")
    asks_for_sign_in(browser, server.url("/app/forged"))
    plain = harness.http_session(server.pki.ca)
    forged = urllib.parse.urlencode({"msoauth.oid": "evil", "msoauth.user": "evil", "msoauth.remote_user": "evil",
                                     "msoauth.email": "evil@evil.example", "msoauth.client_id": "x"})
    plain.cookies.set("nocrypto_session", forged, domain="127.0.0.1", path="/nocrypto")
    asks_for_sign_in(plain, server.url("/nocrypto/forged"))


def test_tampered_session_with_session_crypto(server, browser):
    sign_in(browser, server, "/app/t")
    value = cookie(browser, "app_session").value
    replace_cookie(browser, "app_session", flip(value))
    asks_for_sign_in(browser, server.url("/app/t"))


def test_session_is_not_readable_without_session_crypto(server, browser):
    sign_in(browser, server, "/nocrypto/read", user="work")
    raw = cookie(browser, "nocrypto_session").value
    text = urllib.parse.unquote_plus(raw)
    graph, claims = WORK["graph"], WORK["claims"]
    for secret in (graph["mail"], graph["userPrincipalName"], claims["oid"], claims["tid"], "Müller", "Mu%CC",
                   "M%C3%BCller", "jose", "contoso"):
        assert secret not in raw and secret not in text, "%r readable in the session cookie: %s" % (secret, raw)


def test_tampered_session_without_session_crypto(server, browser):
    sign_in(browser, server, "/nocrypto/tamper")
    raw = cookie(browser, "nocrypto_session").value
    pairs = sealed_pairs(raw)
    ours = [i for i, (k, _) in enumerate(pairs) if k.startswith("msoauth.")]
    assert ours, "expected msoauth.* keys in the session: %s" % raw
    for i in ours:
        for pos in (5, None, -3):
            k, v = pairs[i]
            tampered = list(pairs)
            tampered[i] = (k, flip(v, pos if pos is None or pos >= 0 else len(v) + pos))
            replace_cookie(browser, "nocrypto_session", urllib.parse.urlencode(tampered))
            asks_for_sign_in(browser, server.url("/nocrypto/tamper"))
    # Truncated, and emptied.
    k, v = pairs[ours[0]]
    for bad in (v[:len(v) // 2], ""):
        tampered = [(kk, bad if kk == k else vv) for kk, vv in pairs]
        replace_cookie(browser, "nocrypto_session", urllib.parse.urlencode(tampered))
        asks_for_sign_in(browser, server.url("/nocrypto/tamper"))
    # The untouched value still works.
    replace_cookie(browser, "nocrypto_session", raw)
    assert browser.get(server.url("/nocrypto/tamper"), allow_redirects=False).status_code == 200


def test_session_does_not_cross_client_ids(server, browser):
    """/app and /clientb share the session cookie and the mod_session_crypto passphrase, not the client id."""
    sign_in(browser, server, "/app/cross")
    asks_for_sign_in(browser, server.url("/clientb/cross"), client_id=CLIENT_B)


def test_session_does_not_cross_client_ids_without_session_crypto(server, browser):
    sign_in(browser, server, "/nocrypto/cross")
    value = cookie(browser, "nocrypto_session").value
    browser.cookies.set("nocryptob_session", value, domain="127.0.0.1", path="/nocryptob")
    asks_for_sign_in(browser, server.url("/nocryptob/cross"), client_id=CLIENT_B)


def test_client_b_signs_in_on_its_own(server, browser):
    env = sign_in(browser, server, "/clientb/own", user="work2")
    assert env["MSOAUTH_CLAIM_aud"] == CLIENT_B


def test_session_expires_after_max_age(server, browser):
    sign_in(browser, server, "/maxage/x")
    assert browser.get(server.url("/maxage/x"), allow_redirects=False).status_code == 200
    time.sleep(3.1)
    asks_for_sign_in(browser, server.url("/maxage/x"))


def test_sign_in_starts_a_new_session(server, browser):
    """Values planted in the session before sign-in do not survive it (no session fixation)."""
    browser.cookies.set("nocrypto_session", "planted=by-attacker&msoauth.x=1", domain="127.0.0.1",
                        path="/nocrypto")
    sign_in(browser, server, "/nocrypto/fixation")
    value = cookie(browser, "nocrypto_session").value
    assert "planted" not in value and "by-attacker" not in value, value


def test_session_cookie_stays_small(server, browser):
    """No tokens in the session: the cookie of a typical user stays well under the 4 KB browsers keep."""
    sign_in(browser, server, "/app/size")
    sign_in(browser, server, "/nocrypto/size")
    for name in ("app_session", "nocrypto_session"):
        size = len(name) + 1 + len(cookie(browser, name).value)
        assert size < 4000, "%s is %d bytes" % (name, size)
