"""No secret, code, token or cookie value in the error log (LogLevel auth_msoauth:debug is on for the whole run:
at debug only a 6-character prefix followed by "..." is allowed)."""
import harness
from conftest import login, query_of, set_cookies, sign_in


def leaked(log, value, prefix=True):
    """True when more of value than the allowed 6-character prefix shows up in log: its first 7 characters
    (prefix=False for values with a fixed, non-secret start) or 20 characters from its middle."""
    if prefix and len(value) > 6 and value[:7] in log:
        return True
    mid = len(value) // 2
    return len(value) >= 30 and value[mid - 10:mid + 10] in log


def cookie_values(*responses):
    out = []
    for resp in responses:
        for c in set_cookies(resp):
            value = c.split(";")[0].partition("=")[2]
            if value:
                out.append(value)
    return out


def test_no_secret_in_the_error_log(server, browser, mock):
    mark = server.log_mark()
    values = []
    # A successful sign-in and a later request.
    r = login(browser, server.url("/app/hygiene"), user="work")
    assert r.status_code == 302
    values.append(query_of(r.callback_url)["code"])
    cookies = cookie_values(r.start, r)
    browser.get(server.url("/app/hygiene"), allow_redirects=False)
    # A token endpoint error, an id_token rejection, a Graph failure, a cancelled sign-in.
    for settings, user, extra in (({"token_error": True}, "work", None),
                                  ({"id_token_claims": {"aud": "someone-else"}}, "personal", None),
                                  ({"graph_status": 500}, "work2", None),
                                  ({}, "work", {"mock_action": "cancel"})):
        mock.reset()
        if settings:
            mock.configure(**settings)
        b = harness.http_session(server.pki.ca)
        rr = login(b, server.url("/app/hygiene2"), user=user, extra=extra)
        q = query_of(rr.callback_url)
        if "code" in q:
            values.append(q["code"])
        cookies += cookie_values(rr.start, rr)
    for issued in mock.issued():
        values += [issued["access_token"], issued["code_verifier"], issued["code"]]
        # Every JWT starts alike ("eyJ0eXAi..."): look for its middle, and for its signature.
        cookies += [issued["id_token"], issued["id_token"].rsplit(".", 1)[1]]
    log = server.log_since(mark)
    assert "auth_msoauth:debug" in log, "the flow should be traced at debug level"
    for v in values:
        assert not leaked(log, v), "a code or token is in the error log: %s..." % v[:10]
    for v in cookies:
        assert not leaked(log, v, prefix=False), "a cookie value or id_token is in the error log: %s..." % v[:10]
    whole = server.apache.error_log(0)
    for secret in server.secrets:
        assert not leaked(whole, secret), "a secret or passphrase is in the error log: %s..." % secret[:4]


def test_flow_is_traced_at_debug(server, browser):
    mark = server.log_mark()
    sign_in(browser, server, "/app/traced")
    log = server.log_since(mark)
    debug = [line for line in log.splitlines() if "[auth_msoauth:debug]" in line]
    assert len(debug) >= 3, "expected the sign-in steps at debug level:\n" + log
