"""Who the application sees: REMOTE_USER, AUTH_TYPE and the MSOAUTH_* variables for each kind of account."""
import json
import re
import time

import pytest

from conftest import (PERSONAL_TID, USERS, WORK_TID, assert_error_page, jwt_parts, login, query_of,
                      sign_in, start_login)

WORK_OID = USERS["work"]["claims"]["oid"]
PERSONAL_OID = USERS["personal"]["claims"]["oid"]


def claim_env_name(name):
    return "MSOAUTH_CLAIM_" + re.sub(r"[^A-Za-z0-9_]", "_", name)


def claim_env_value(value):
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, list):
        return ",".join(claim_env_value(v) for v in value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def assert_claims_exported(env, id_token):
    """Every top-level claim of the id_token the mock issued is in MSOAUTH_CLAIM_<name>."""
    _, claims = jwt_parts(id_token)
    for name, value in claims.items():
        assert env.get(claim_env_name(name)) == claim_env_value(value), \
            "%s: %r, expected %r" % (claim_env_name(name), env.get(claim_env_name(name)), claim_env_value(value))


def assert_clean(env):
    for k, v in env.items():
        if k.startswith("MSOAUTH_") or k in ("REMOTE_USER", "AUTH_TYPE"):
            assert not re.search(r"[\r\n\x00]", v), "%s contains CR, LF or NUL: %r" % (k, v)


def test_work_account_through_common(server, browser, mock):
    env = sign_in(browser, server, "/app/who?x=1", user="work")
    assert env["AUTH_TYPE"] == "msoauth"
    assert env["REMOTE_USER"] == WORK_OID
    assert env["MSOAUTH_USER_ID"] == WORK_OID
    assert env["MSOAUTH_USERNAME"] == "josmaramllerldenscheidt"
    assert env["MSOAUTH_EMAIL"] == "jose.mueller@contoso.example"
    assert env["MSOAUTH_FULL_NAME"] == "José María Müller-Lüdenscheidt"
    assert env["MSOAUTH_FIRST_NAME"] == "José María", "Graph givenName '  José   María ' trimmed and collapsed"
    assert env["MSOAUTH_LAST_NAME"] == "Müller-Lüdenscheidt"
    assert env["MSOAUTH_TENANT_ID"] == WORK_TID
    assert env["MSOAUTH_ACCOUNT_TYPE"] == "work"
    assert env["MSOAUTH_CLAIM_roles"] == "Reader,Writer"
    assert env["MSOAUTH_CLAIM_ver"] == "2.0"
    assert_claims_exported(env, mock.issued()[-1]["id_token"])
    assert_clean(env)


def test_personal_account_through_common(server, browser, mock):
    env = sign_in(browser, server, "/app/who", user="personal")
    assert env["AUTH_TYPE"] == "msoauth"
    assert env["REMOTE_USER"] == PERSONAL_OID
    assert env["MSOAUTH_USER_ID"] == "6e7b768e07e4f2b3", "the Graph id, not the oid"
    assert env["MSOAUTH_USERNAME"] == "patobrien"
    assert env["MSOAUTH_EMAIL"] == "pat.obrien@outlook.com", "Graph mail is null: the email claim"
    assert env["MSOAUTH_FULL_NAME"] == "Pat O'Brien"
    assert env["MSOAUTH_FIRST_NAME"] == "Pat"
    assert env["MSOAUTH_LAST_NAME"] == "O'Brien"
    assert env["MSOAUTH_TENANT_ID"] == PERSONAL_TID
    assert env["MSOAUTH_ACCOUNT_TYPE"] == "personal"
    assert env["MSOAUTH_CLAIM_email"] == "pat.obrien@outlook.com"
    assert_claims_exported(env, mock.issued()[-1]["id_token"])
    assert_clean(env)


def test_email_falls_back_to_the_user_principal_name(server, browser):
    env = sign_in(browser, server, "/app/upn", user="upnonly")
    assert env["MSOAUTH_EMAIL"] == "uma.upn@contoso.example"
    assert env["MSOAUTH_USERNAME"] == "umaupn"


def test_no_email_and_no_name_give_empty_values(server, browser):
    env = sign_in(browser, server, "/app/phone", user="noemail")
    assert env["REMOTE_USER"] == USERS["noemail"]["claims"]["oid"]
    for name in ("MSOAUTH_EMAIL", "MSOAUTH_USERNAME", "MSOAUTH_FULL_NAME", "MSOAUTH_FIRST_NAME", "MSOAUTH_LAST_NAME"):
        assert env.get(name, "") == "", "%s=%r" % (name, env.get(name))


def test_without_graph_the_claims_are_used(server, browser, mock):
    mock.configure(id_token_claims={"given_name": "  José   María ", "family_name": "Müller-Lüdenscheidt"})
    env = sign_in(browser, server, "/nograph/x", user="work")
    assert mock.stats()["graph"] == 0, "MSOAuthGraphURL none: no call to Graph"
    assert env["MSOAUTH_USER_ID"] == WORK_OID
    assert env["MSOAUTH_EMAIL"] == "jmueller@contoso.example", "no email claim: preferred_username with '@'"
    assert env["MSOAUTH_FULL_NAME"] == "José María Müller-Lüdenscheidt"
    assert env["MSOAUTH_USERNAME"] == "josmaramllerldenscheidt"
    assert env["MSOAUTH_FIRST_NAME"] == "José María"
    assert env["MSOAUTH_LAST_NAME"] == "Müller-Lüdenscheidt"


def test_without_graph_personal_account(server, browser):
    env = sign_in(browser, server, "/nograph/p", user="personal")
    assert env["MSOAUTH_USER_ID"] == PERSONAL_OID
    assert env["MSOAUTH_EMAIL"] == "pat.obrien@outlook.com"
    assert env["MSOAUTH_ACCOUNT_TYPE"] == "personal"


def test_graph_failure_still_signs_in_and_logs_a_warning(server, browser, mock):
    mock.configure(graph_status=500)
    mark = server.log_mark()
    env = sign_in(browser, server, "/app/nograph", user="work")
    assert mock.stats()["graph"] >= 1
    assert env["REMOTE_USER"] == WORK_OID
    assert env["MSOAUTH_USER_ID"] == WORK_OID
    assert env["MSOAUTH_EMAIL"] == "jmueller@contoso.example"
    assert env["MSOAUTH_FULL_NAME"] == "José María Müller-Lüdenscheidt"
    log = server.wait_log(mark, r"auth_msoauth:warn")
    assert re.search(r"\[auth_msoauth:warn\].*(?i:graph|/me)", log), log


def test_slow_graph_still_signs_in(server, browser, mock):
    mock.configure(graph_delay=4)
    t0 = time.time()
    env = sign_in(browser, server, "/short/slowgraph", user="personal")
    assert time.time() - t0 < 3.9, "MSOAuthHTTPTimeout 1 2 bounds the Graph call"
    assert env["MSOAUTH_USER_ID"] == PERSONAL_OID
    assert env["MSOAUTH_EMAIL"] == "pat.obrien@outlook.com"


def test_remote_user_claim_email(server, browser):
    env = sign_in(browser, server, "/byemail/x", user="personal")
    assert env["REMOTE_USER"] == "pat.obrien@outlook.com"
    assert env["MSOAUTH_USER_ID"] == "6e7b768e07e4f2b3"


def test_remote_user_claim_email_warns_at_start_up(server):
    text = server.apache.start_output + server.apache.error_log(0)
    lines = [line for line in text.splitlines()
             if "warn" in line.lower() and re.search(r"MSOAuthRemoteUserClaim|mutable", line, re.I)]
    assert lines, "expected a start-up warning about MSOAuthRemoteUserClaim email:\n" + text[:3000]


def test_tenant_consumers(server, browser):
    r = start_login(browser, server.url("/consumers/x"))
    assert "/consumers/oauth2/v2.0/authorize?" in r.headers["Location"]
    env = sign_in(browser, server, "/consumers/x", user="personal")
    assert env["MSOAUTH_ACCOUNT_TYPE"] == "personal"
    assert env["MSOAUTH_TENANT_ID"] == PERSONAL_TID


def test_tenant_consumers_refuses_a_work_account(server, browser):
    # Microsoft itself refuses (AADSTS50020) and comes back with error=.
    r = login(browser, server.url("/consumers/w"), user="work")
    assert_error_page(r, 401)


@pytest.mark.parametrize("user,tid", [("work", WORK_TID), ("personal", PERSONAL_TID)])
def test_allowed_tenants_admit(server, browser, user, tid):
    env = sign_in(browser, server, "/allowed/in", user=user)
    assert env["MSOAUTH_TENANT_ID"] == tid


def test_values_never_contain_cr_lf(server, browser, mock):
    mock.configure(graph_profile={"displayName": "Evil\r\nX-Injected: yes", "givenName": "Line1\nLine2"},
                   id_token_claims={"weird claim-name.x": "a\r\nb", "obj": {"k": [1, 2], "s": "v"},
                                    "multi": ["x", "y", "z"], "num": 42})
    r = login(browser, server.url("/app/crlf"))
    assert r.status_code == 302, r.text
    page = browser.get(server.url("/app/crlf"), allow_redirects=False)
    assert page.status_code == 200
    assert "X-Injected" not in page.headers
    env = page.json()
    assert_clean(env)
    assert "HTTP_X_INJECTED" not in env
    assert env["MSOAUTH_FULL_NAME"] == "Evil  X-Injected: yes"
    assert env["MSOAUTH_FIRST_NAME"] == "Line1 Line2"
    assert env["MSOAUTH_USERNAME"] == "evilxinjectedyes"
    assert env["MSOAUTH_CLAIM_weird_claim_name_x"] == "a  b"
    assert json.loads(env["MSOAUTH_CLAIM_obj"]) == {"k": [1, 2], "s": "v"}
    assert " " not in env["MSOAUTH_CLAIM_obj"], "objects as compact JSON"
    assert env["MSOAUTH_CLAIM_multi"] == "x,y,z"
    assert env["MSOAUTH_CLAIM_num"] == "42"


def test_values_never_contain_nul(server, browser, mock):
    mock.configure(graph_profile={"surname": "A\u0000B"}, id_token_claims={"nulclaim": "x\u0000y"})
    env = sign_in(browser, server, "/app/nul")
    assert_clean(env)
    assert env["MSOAUTH_LAST_NAME"] == "A B"
    assert env["MSOAUTH_CLAIM_nulclaim"] == "x y"


def test_spoofed_identity_headers_do_not_reach_the_application(server, browser):
    sign_in(browser, server, "/app/spoof", user="personal")
    r = browser.get(server.url("/app/spoof"), allow_redirects=False,
                    headers={"MSOAUTH_EMAIL": "boss@contoso.example", "MSOAuth-User-Id": "boss",
                             "Remote-User": "boss"})
    env = r.json()
    assert env["MSOAUTH_EMAIL"] == "pat.obrien@outlook.com"
    assert env["REMOTE_USER"] == PERSONAL_OID
    assert "boss" not in json.dumps({k: v for k, v in env.items() if k.startswith(("MSOAUTH", "REMOTE_USER"))})


def test_authorize_url_of_a_consumers_location_names_the_tenant(server, browser):
    q = query_of(start_login(browser, server.url("/consumers/q")).headers["Location"])
    assert q["redirect_uri"] == server.url("/consumers/oauth2/callback")


@pytest.mark.parametrize("loc,segment", [("/tenantguid", WORK_TID), ("/tenantdomain", "contoso.example")])
def test_single_tenant_location(server, browser, loc, segment):
    r = start_login(browser, server.url(loc + "/x"))
    assert "/%s/oauth2/v2.0/authorize?" % segment in r.headers["Location"]
    env = sign_in(browser, server, loc + "/x", user="work")
    assert env["MSOAUTH_TENANT_ID"] == WORK_TID


def test_single_tenant_location_refuses_another_tenant(server, browser):
    # Microsoft refuses a user of another tenant (AADSTS50020) and comes back with error=.
    assert_error_page(login(browser, server.url("/tenantguid/y"), user="work2"), 401)
