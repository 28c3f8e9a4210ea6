"""response_mode=form_post (issue 4): Microsoft POSTs the code to the callback, so it never shows up in a URL, a log
line or a Referer. /fp has MSOAuthResponseMode form_post; /app is in query mode."""
import html.parser
import os
import re
import shutil
import urllib.parse

import harness
import mockms
from conftest import assert_error_page, query_of, set_cookies, start_login

FORM = "application/x-www-form-urlencoded"


class HiddenForm(html.parser.HTMLParser):
    """The first form of a page: its method, action and input fields."""

    def __init__(self, text):
        super().__init__()
        self.method = self.action = None
        self.fields = {}
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and self.action is None:
            self.method, self.action = (a.get("method") or "get").upper(), a.get("action")
        elif tag == "input" and a.get("name") and a.get("type") == "hidden":
            self.fields[a["name"]] = a.get("value", "")


def authorize_form(browser, authorize_url, user="work", extra=None):
    """Approve at the mock in form_post mode: the auto-submitting form Microsoft answers with."""
    params = {"mock_user": user}
    params.update(extra or {})
    r = browser.get(authorize_url + "&" + urllib.parse.urlencode(params), allow_redirects=False)
    assert r.status_code == 200, (r.status_code, r.text[:300])
    form = HiddenForm(r.text)
    assert form.method == "POST" and "document.forms[0].submit()" in r.text
    assert form.fields == dict(urllib.parse.parse_qsl(r.headers["X-Mock-Form-Post"]))
    return form


def pending_cookie_header(resp):
    values = [v for v in set_cookies(resp) if v.startswith("msoauth_state_")]
    assert len(values) == 1, set_cookies(resp)
    return values[0]


def attributes(set_cookie):
    return {a.strip().split("=")[0].lower(): (a.strip().split("=", 1) + [""])[1] for a in set_cookie.split(";")[1:]}


def test_sign_in_with_form_post(server, browser, mock):
    access_mark = os.path.getsize(os.path.join(server.workdir, "access.log"))
    mark = server.log_mark()
    page = "/fp/orders?id=42"
    start = start_login(browser, server.url(page))
    q = query_of(start.headers["Location"])
    assert q["response_mode"] == "form_post"
    form = authorize_form(browser, start.headers["Location"])
    assert form.action == server.url("/fp/oauth2/callback") == q["redirect_uri"]
    code = form.fields["code"]
    r = browser.post(form.action, data=form.fields, allow_redirects=False)
    assert r.status_code == 302, (r.status_code, r.text[:500])
    assert urllib.parse.urljoin(server.url("/"), r.headers["Location"]) == server.url(page)
    env = browser.get(server.url(page), allow_redirects=False).json()
    assert env["REMOTE_USER"] == mockms.USERS["work"]["claims"]["oid"]
    assert env["MSOAUTH_EMAIL"] == "jose.mueller@contoso.example"
    assert mock.requests("token")[-1]["form"]["code"] == code
    with open(os.path.join(server.workdir, "access.log"), "rb") as f:
        f.seek(access_mark)
        access_log = f.read().decode("utf-8", "replace")
    assert "/fp/oauth2/callback HTTP" in access_log, "the callback came as a POST without a query"
    assert code[6:] not in access_log and code[6:] not in server.log_since(mark)


def test_pending_cookie_is_samesite_none_and_secure(server, browser):
    attrs = attributes(pending_cookie_header(start_login(browser, server.url("/fp/x"))))
    assert attrs.get("samesite", "").lower() == "none", attrs
    assert "secure" in attrs and "httponly" in attrs and attrs.get("path") == "/", attrs
    # In query mode it stays Lax.
    other = harness.http_session(server.pki.ca)
    attrs = attributes(pending_cookie_header(start_login(other, server.url("/app/x"))))
    other.close()
    assert attrs.get("samesite", "").lower() == "lax", attrs


def test_extra_fields_from_microsoft_are_fine(server, browser):
    start = start_login(browser, server.url("/fp/x"))
    form = authorize_form(browser, start.headers["Location"])
    fields = dict(form.fields, session_state="5c1e2f0a-3b4d-4e6f-8a9b-0c1d2e3f4a5b")
    r = browser.post(form.action, data=fields, allow_redirects=False)
    assert r.status_code == 302, (r.status_code, r.text[:300])


def test_cancel_with_form_post(server, browser):
    start = start_login(browser, server.url("/fp/x"))
    form = authorize_form(browser, start.headers["Location"], extra={"mock_action": "cancel"})
    assert form.fields["error"] == "access_denied"
    r = browser.post(form.action, data=form.fields, allow_redirects=False)
    assert_error_page(r, 401, "Sign-in was cancelled")


def pending_fields(browser, server):
    """A pending sign-in at /fp and the fields Microsoft would POST for it."""
    start = start_login(browser, server.url("/fp/x"))
    return authorize_form(browser, start.headers["Location"])


def test_wrong_content_type_is_415(server, browser, mock):
    form = pending_fields(browser, server)
    body = urllib.parse.urlencode(form.fields)
    for ctype in ("application/json", "text/plain", "multipart/form-data; boundary=xyz", "text/html", None,
                  "application/x-www-form-urlencodedx"):
        headers = {"Content-Type": ctype} if ctype else {}
        r = browser.post(form.action, data=body.encode(), headers=headers, allow_redirects=False)
        assert r.status_code == 415, (ctype, r.status_code, r.text[:300])
    assert mock.stats()["token"] == 0, "no code was redeemed"
    # The right type, with a charset, still works afterwards.
    r = browser.post(form.action, data=body.encode(), headers={"Content-Type": FORM + "; charset=UTF-8"},
                     allow_redirects=False)
    assert r.status_code == 302, (r.status_code, r.text[:300])


def test_oversized_body_is_413(server, browser, mock):
    form = pending_fields(browser, server)
    big = urllib.parse.urlencode(dict(form.fields, padding="x" * 20000)).encode()
    r = browser.post(form.action, data=big, headers={"Content-Type": FORM}, allow_redirects=False)
    assert r.status_code == 413, (r.status_code, r.text[:300])
    # The same without a Content-Length (chunked).
    r = browser.post(form.action, data=iter([big[:8000], big[8000:]]), headers={"Content-Type": FORM},
                     allow_redirects=False)
    assert r.status_code == 413, (r.status_code, r.text[:300])
    assert mock.stats()["token"] == 0


def test_get_with_a_code_is_refused_in_form_post_mode(server, browser, mock):
    form = pending_fields(browser, server)
    r = browser.get(form.action + "?" + urllib.parse.urlencode(form.fields), allow_redirects=False)
    assert_error_page(r, 400)
    assert mock.stats()["token"] == 0, "a code in a URL is not redeemed"


def test_post_in_query_mode_is_refused(server, browser, mock):
    start = start_login(browser, server.url("/app/x"))
    q = query_of(start.headers["Location"])
    r = browser.post(server.url("/app/oauth2/callback"), data={"code": "M.C5forged", "state": q["state"]},
                     allow_redirects=False)
    assert_error_page(r, 400)
    assert mock.stats()["token"] == 0


def test_startup_warning_for_a_plain_http_redirect_uri():
    """form_post needs https (browsers send the SameSite=None cookie only over it): Apache's start-up says so in
    the error log, whichever of the two directives comes first; not for an https redirect URI."""
    workdir = harness.make_workdir("msoauth-fp-")
    port = harness.free_port()
    try:
        harness.install_cgi(workdir)
        common = ["AuthType msoauth", "Require valid-user", "Session On", "SessionCookieName s path=/"]
        uri = "MSOAuthRedirectURI http://127.0.0.1:%d/%s/oauth2/callback"
        locations = {"/first": common + [uri % (port, "first"), "MSOAuthResponseMode form_post"],
                     "/second": common + ["MSOAuthResponseMode form_post", uri % (port, "second")],
                     "/tls": common + ["MSOAuthResponseMode form_post",
                                       "MSOAuthRedirectURI https://app.example/tls/oauth2/callback"]}
        conf = harness.apache_config(workdir, [harness.VHost(port, tls=False, locations=locations)],
                                     global_directives={"MSOAuthClientID": mockms.CLIENT_A,
                                                        "MSOAuthClientSecret": "s3cret-value",
                                                        "MSOAuthCryptoPassphrase": "a-long-enough-test-passphrase"},
                                     module=harness.module_path())
        apache = harness.Apache(workdir, conf, [port]).start()
        apache.stop()
        lines = conf.splitlines()
        log = apache.error_log()
        pattern = r"httpd\.conf:(\d+): MSOAuthResponseMode form_post needs an https"
        warned = {section_of(lines, int(n)) for n in re.findall(pattern, log)}
        assert warned == {"/first", "/second"}, "form_post warnings for %s, expected /first and /second:\n%s" \
            % (sorted(warned), log)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def section_of(lines, n):
    """The <Location> path that line n (1-based) of a config is in."""
    for line in reversed(lines[:n]):
        m = re.match(r'\s*<Location "([^"]+)">', line)
        if m:
            return m.group(1)
    return None
