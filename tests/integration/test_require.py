"""Require msoauth-tenant|account|role|group|claim, alone and composed with RequireAll/RequireAny and the built-in
providers; the 403 page; groups from the token or, on a group overage, from Graph (paged); the minimal sign-out.
The locations are /req/<rule> (REQ_RULES in conftest.py), sharing one session cookie."""
import html
import re
import urllib.parse

import pytest

import harness
from conftest import login, query_of, resolve, set_cookies, sign_in, start_login

OK, DENIED = 200, 403

USERS_ = ["work", "personal", "work2", "grouped"]
# rule: expected status for work (Contoso, roles Reader+Writer), personal, work2 (Fabrikam), grouped (Contoso,
# groups claim with Staff).
MATRIX = {
    "tenant":     (OK, DENIED, DENIED, OK),
    "tenants":    (DENIED, OK, OK, DENIED),
    "personal":   (DENIED, OK, DENIED, DENIED),
    "work":       (OK, DENIED, OK, OK),
    "role":       (OK, DENIED, DENIED, DENIED),
    "group":      (DENIED, DENIED, DENIED, OK),
    "claim":      (DENIED, DENIED, OK, DENIED),
    "claimarray": (OK, DENIED, DENIED, DENIED),
    "all":        (OK, DENIED, DENIED, DENIED),
    "any":        (DENIED, OK, OK, DENIED),
    "not":        (DENIED, OK, OK, DENIED),
}
CASES = [(rule, user, want[i]) for rule, want in MATRIX.items() for i, user in enumerate(USERS_)]

# The rule named in the error log when a user fails a single-rule location.
FAILS = [("role", "personal", "msoauth-role"), ("group", "work", "msoauth-group"),
         ("tenant", "personal", "msoauth-tenant"), ("personal", "work", "msoauth-account"),
         ("claim", "work", "msoauth-claim")]

SIGN_OUT = "/req/oauth2/callback?logout=/"


def assert_denied_page(resp, *texts):
    """The module's 403 page: "Access denied", short escaped HTML, not cached. texts are looked for in the text a
    browser shows (the module may write non-ASCII letters as character references)."""
    assert resp.status_code == 403, "expected 403, got %d: %s" % (resp.status_code, resp.text[:600])
    assert resp.headers.get("Content-Type", "").lower().startswith("text/html"), resp.headers
    assert "no-store" in resp.headers.get("Cache-Control", ""), resp.headers
    assert len(resp.content) < 16384
    body = resp.content.decode("utf-8")     # whatever the charset says, the bytes must read right as UTF-8 too
    assert re.search(r"<title>\s*Access denied\s*</title>", body), body
    shown = html.unescape(re.sub(r"<[^>]*>", "", body))
    for t in texts:
        assert t in shown, "%r not on the page:\n%s" % (t, body)
    return body


def sign_out_destination(mock, resp):
    """Where a sign-out response sends the browser back to on this site: its Location (the minimal sign-out of
    issue 3), or, when the module ends the Microsoft session too (issue 4, MSOAuthLogoutMicrosoft On), the
    post_logout_redirect_uri of the end-session URL it redirects to."""
    assert resp.status_code == 302, "%d %s" % (resp.status_code, resp.text[:300])
    location = resolve(resp)
    if location.startswith(mock.base + "/") and "/oauth2/v2.0/logout?" in location:
        return query_of(location)["post_logout_redirect_uri"]
    return location


@pytest.mark.parametrize("rule,user,status", CASES, ids=["%s-%s" % (r, u) for r, u, _ in CASES])
def test_rule(server, signed_in, rule, user, status):
    r = signed_in("req", user).get(server.url("/req/%s" % rule), allow_redirects=False)
    assert r.status_code == status, "%s at /req/%s: %d, expected %d: %s" % (user, rule, r.status_code, status,
                                                                           r.text[:300])
    if status == OK:
        assert r.json()["REMOTE_USER"]


def test_denied_page_names_the_user_and_offers_sign_out(server, signed_in):
    r = signed_in("req", "work").get(server.url("/req/personal"), allow_redirects=False)
    body = assert_denied_page(r, "José María Müller-Lüdenscheidt", "jose.mueller@contoso.example")
    assert set_cookies(r) == [], "a 403 does not touch the session"
    hrefs = [urllib.parse.unquote(html.unescape(h)) for h in re.findall(r'href="([^"]*)"', body)]
    assert SIGN_OUT in hrefs, hrefs


def test_denied_page_escapes_the_name(server, browser, mock):
    mock.configure(graph_profile={"displayName": '<img src=x onerror=alert(1)> "Eve" & Co',
                                  "mail": "eve+<b>@contoso.example"})
    sign_in(browser, server, "/req/login", user="work")
    r = browser.get(server.url("/req/personal"), allow_redirects=False)
    body = assert_denied_page(r, '<img src=x onerror=alert(1)> "Eve" & Co', "eve+<b>@contoso.example")
    assert "<img" not in body and "<b>@" not in body and " & Co" not in body, body


@pytest.mark.parametrize("rule,user,name", FAILS, ids=[f[2] for f in FAILS])
def test_log_names_the_failing_rule(server, signed_in, rule, user, name):
    b = signed_in("req", user)
    mark = server.log_mark()
    assert b.get(server.url("/req/" + rule), allow_redirects=False).status_code == 403
    log = server.wait_log(mark, re.escape(name))
    assert name in log, "the error log should name %s:\n%s" % (name, log)


@pytest.mark.parametrize("rule", list(MATRIX))
def test_anonymous_is_sent_to_sign_in(server, browser, rule):
    start_login(browser, server.url("/req/" + rule))


def test_sign_in_at_a_rule_location_lands_there(server, browser):
    env = sign_in(browser, server, "/req/role?a=1", user="work")
    assert env["MSOAUTH_CLAIM_roles"] == "Reader,Writer"


def test_sign_in_at_a_rule_location_then_denied(server, browser):
    r = login(browser, server.url("/req/role"), user="personal")
    assert r.status_code == 302 and resolve(r) == server.url("/req/role"), r.text[:300]
    assert_denied_page(browser.get(resolve(r), allow_redirects=False), "Pat O'Brien", "pat.obrien@outlook.com")


# ---------------------------------------------------------------------------------------------- groups

def graph_group_requests(mock):
    return mock.requests("graph_groups")


def session_cookie_size(browser):
    return max(len(c.name) + len(c.value) for c in browser.cookies if c.name == "req_session")


@pytest.mark.parametrize("user,pages", [("overage", 3), ("hasgroups", 2)])
def test_group_overage_is_resolved_through_graph(server, browser, mock, user, pages):
    sign_in(browser, server, "/req/group", user=user)
    reqs = graph_group_requests(mock)
    assert len(reqs) == pages, "every page of /me/transitiveMemberOf, once: %r" % [r["path"] for r in reqs]
    token = mock.issued()[-1]["access_token"]
    for r in reqs:
        assert r["base"] == mock.base and r["path"].startswith("/v1.0/me/transitiveMemberOf"), r
        assert r["authorization"] == "Bearer " + token
    assert reqs[0]["query"].get("$select") == "id", reqs[0]
    assert all(r["query"].get("$skiptoken") for r in reqs[1:])
    assert session_cookie_size(browser) < 4000, "only the groups the configuration names are kept"
    mock.reset_stats()
    for _ in range(2):
        assert browser.get(server.url("/req/group"), allow_redirects=False).status_code == 200
    assert mock.stats()["graph_groups"] == 0 and mock.stats()["graph"] == 0, "resolved once, at sign-in"


def test_group_overage_is_resolved_at_any_sign_in(server, browser, mock):
    # Signed in where no group rule applies: the groups that some Require msoauth-group names are still known
    # afterwards, without another call to Graph.
    sign_in(browser, server, "/req/login", user="overage")
    assert len(graph_group_requests(mock)) == 3
    mock.reset_stats()
    assert browser.get(server.url("/req/group"), allow_redirects=False).status_code == 200
    assert browser.get(server.url("/req/role"), allow_redirects=False).status_code == 403
    assert mock.stats()["graph_groups"] == 0


def test_groups_claim_needs_no_graph(server, browser, mock):
    sign_in(browser, server, "/req/group", user="grouped")
    assert mock.stats()["graph_groups"] == 0


def test_no_overage_no_groups_no_graph(server, browser, mock):
    r = login(browser, server.url("/req/group"), user="work")
    assert r.status_code == 302
    assert browser.get(resolve(r), allow_redirects=False).status_code == 403
    assert mock.stats()["graph_groups"] == 0


@pytest.mark.parametrize("where", ["other-path", "other-port"])
def test_off_site_next_link_is_not_followed(server, browser, mock, where):
    base = {"other-path": mock.base + "/offsite/v1.0", "other-port": mock.bases[1] + "/v1.0"}[where]
    mock.configure(graph_nextlink_base=base)
    r = login(browser, server.url("/req/group"), user="overage")
    reqs = graph_group_requests(mock)
    assert reqs, "the first page comes from MSOAuthGraphURL"
    for q in reqs:
        assert q["base"] == mock.base and q["path"].startswith("/v1.0/"), "followed an off-site nextLink: %r" % q
    assert len(reqs) == 1
    if r.status_code == 302:
        page = browser.get(resolve(r), allow_redirects=False)
        assert page.status_code != 200, "Staff is only on the pages behind the off-site link"


def test_small_pages(server, browser, mock):
    mock.configure(graph_groups_page_size=40)
    sign_in(browser, server, "/req/group", user="hasgroups")
    assert len(graph_group_requests(mock)) == 3


# ---------------------------------------------------------------------------------------------- sign-out

def test_sign_out_ends_the_session(server, browser, mock):
    sign_in(browser, server, "/req/login")
    r = browser.get(server.url("/req/oauth2/callback?logout=/req/role"), allow_redirects=False)
    assert sign_out_destination(mock, r) == server.url("/req/role")
    start_login(browser, server.url("/req/login"))


def test_sign_out_link_of_the_denied_page(server, browser, mock):
    sign_in(browser, server, "/req/login", user="work")
    page = browser.get(server.url("/req/personal"), allow_redirects=False)
    assert page.status_code == 403, page.status_code
    link = html.unescape(re.search(r'href="([^"]*logout=[^"]*)"', page.content.decode()).group(1))
    r = browser.get(server.url(link) if link.startswith("/") else link, allow_redirects=False)
    assert sign_out_destination(mock, r) == server.url("/")
    start_login(browser, server.url("/req/login"))


@pytest.mark.parametrize("target", ["//evil.example", "//evil.example/x", "https://evil.example/",
                                    "http://evil.example", "/\\evil.example", "\\\\evil.example",
                                    "javascript:alert(1)", ""])
def test_sign_out_never_leaves_the_site(server, mock, target):
    # Without a session: where the redirect goes does not depend on one (test_sign_out_unencoded_double_slash
    # below signs in first).
    browser = harness.http_session(server.pki.ca)
    r = browser.get(server.url("/req/oauth2/callback"), params={"logout": target}, allow_redirects=False)
    assert sign_out_destination(mock, r) == server.url("/"), "logout=%r went to %r" % (target, r.headers["Location"])


def test_sign_out_unencoded_double_slash(server, browser, mock):
    sign_in(browser, server, "/req/login")
    r = browser.get(server.url("/req/oauth2/callback?logout=//evil.example"), allow_redirects=False)
    assert sign_out_destination(mock, r) == server.url("/"), r.headers.get("Location")
    start_login(browser, server.url("/req/login"))


def test_denied_is_403_whatever_mod_authz_core_says(server, signed_in):
    # The contract: a signed-in user who fails a rule gets 403 and the "Access denied" page. /req/strict403 has
    # AuthzSendForbiddenOnFailure Off (httpd's default), where mod_authz_core answers 401 on its own unless the
    # module steps in.
    r = signed_in("req", "personal").get(server.url("/req/strict403"), allow_redirects=False)
    assert_denied_page(r, "Pat O'Brien")
