"""What each kind of backend receives: MSOAuthPassClaimsAs, MSOAuthHeaderEncoding, MSOAuthEasyAuthHeaders and
MSOAuthStripCookies, through a CGI script, a PHP application (php-cgi) and a proxied HTTP backend (mod_proxy_http).
The locations are /x/<variant>/<backend> (see conftest.py); one signed-in browser per user serves them all."""
import base64
import json
import re

import pytest

import harness
import mockms
from backends import BACKENDS, CONTROL, FIELDS, claim_env, claim_header, claim_text, fetch
from conftest import PERSONAL_TID, USERS, WORK_TID, jwt_parts, sign_in

WORK = USERS["work"]
WORK_OID = WORK["claims"]["oid"]

# What the module exports for the work user (as in test_identity.py), as text.
WORK_FIELDS = {
    "MSOAUTH_USER_ID": WORK_OID,
    "MSOAUTH_USERNAME": "josmaramllerldenscheidt",
    "MSOAUTH_EMAIL": "jose.mueller@contoso.example",
    "MSOAUTH_FULL_NAME": "José María Müller-Lüdenscheidt",
    "MSOAUTH_FIRST_NAME": "José María",
    "MSOAUTH_LAST_NAME": "Müller-Lüdenscheidt",
    "MSOAUTH_TENANT_ID": WORK_TID,
    "MSOAUTH_ACCOUNT_TYPE": "work",
}
INTL_NAME = "Zoë Łukasiewicz 李"

NAME_TYP = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"
ROLE_TYP = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"


def b64url_decode(value):
    assert re.match(rb"^[A-Za-z0-9_-]*$", value), "not unpadded base64url: %r" % value
    return base64.urlsafe_b64decode(value + b"=" * (-len(value) % 4))


def expected_headers(id_token, fields=WORK_FIELDS):
    """{header name: text} of the X-MSOAuth-* headers for a user: the fields and one per id_token claim (later
    issues add more fields: those are not checked here)."""
    out = {h: fields[env] for h, env in FIELDS.items()}
    for name, value in jwt_parts(id_token)[1].items():
        out[claim_header(name)] = claim_text(value)
    return out


def assert_identity_headers(seen, id_token, decode=lambda v: v.decode("utf-8"), fields=WORK_FIELDS):
    ours = {k: v for k, v in seen.ours().items() if k.startswith("x-msoauth-")}
    want = expected_headers(id_token, fields)
    missing = sorted(set(want) - set(ours))
    assert not missing, "%s did not receive %s" % (seen.backend, missing)
    for name, text in want.items():
        assert decode(ours[name]) == text, "%s %s: %r, expected %r" % (seen.backend, name, ours[name], text)


def assert_identity_env(seen, id_token, fields=WORK_FIELDS):
    for name, text in fields.items():
        assert seen.env.get(name, b"").decode("utf-8") == text, \
            "%s %s=%r, expected %r" % (seen.backend, name, seen.env.get(name), text)
    for name, value in jwt_parts(id_token)[1].items():
        assert seen.env.get(claim_env(name), b"").decode("utf-8") == claim_text(value), (seen.backend, name)


# ---------------------------------------------------------------------------------------------- PassClaimsAs

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("variant", ["both", "env", "headers", "none"])
def test_pass_claims_as(server, signed_in, variant, backend):
    b = signed_in("x")
    seen = fetch(b, server, variant, backend)
    env_wanted = variant in ("both", "env")
    headers_wanted = variant in ("both", "headers")
    if backend != "proxy":
        assert seen.remote_user == WORK_OID.encode(), "REMOTE_USER is always set (%s)" % variant
        assert seen.env.get("AUTH_TYPE") == b"msoauth"
        if env_wanted:
            assert_identity_env(seen, b.id_token)
        else:
            assert seen.msoauth_env() == {}, "MSOAuthPassClaimsAs %s: no MSOAUTH_* variable" % variant
    if headers_wanted:
        assert_identity_headers(seen, b.id_token)
    else:
        assert seen.ours() == {}, "MSOAuthPassClaimsAs %s: no identity header" % variant


def test_php_through_mod_actions(server, signed_in):
    # Debian's way to run php-cgi: an Action, i.e. an internal redirect to /cgi-bin/php-cgi/x/both/phpapp/...,
    # where Apache renames the admitted request's variables to REDIRECT_*. PHP must still find them as such.
    b = signed_in("x")
    seen = fetch(b, server, "both", "php-action")
    assert seen.env.get("REDIRECT_URL") == b"/x/both/phpapp/env.php", "PHP runs through the Action"
    assert seen.remote_user == WORK_OID.encode()
    assert seen.env.get("AUTH_TYPE") == b"msoauth"
    assert_identity_env(seen, b.id_token)
    assert_identity_headers(seen, b.id_token)
    plain = harness.http_session(server.pki.ca)
    seen = fetch(plain, server, "both", "php-action", headers={"Cookie": cookie_header(b)})
    assert seen.cookie == b"theme=dark; lang=de; my_x_session=keep; msoauth_stateful=keep", seen.cookie


def test_claim_header_names(server, signed_in):
    seen = fetch(signed_in("x"), server, "both", "proxy")
    names = {k.lower(): k for k, _ in seen.headers}
    assert "x-msoauth-claim-preferred-username" in names, sorted(names)
    assert seen.header("X-MSOAuth-Claim-preferred-username") == b"jmueller@contoso.example"
    assert seen.header("X-MSOAuth-Claim-roles") == b"Reader,Writer"


def test_headers_carry_odd_claim_names(server, browser, mock):
    mock.configure(id_token_claims={"weird claim-name.x": "v1", "obj": {"k": [1, 2]}, "num": 42})
    sign_in(browser, server, "/x/both/cgi")
    seen = fetch(browser, server, "both", "proxy")
    assert seen.header("X-MSOAuth-Claim-weird-claim-name-x") == b"v1"
    assert json.loads(seen.header("X-MSOAuth-Claim-obj")) == {"k": [1, 2]}
    assert seen.header("X-MSOAuth-Claim-num") == b"42"


def test_personal_account_headers(server, signed_in):
    b = signed_in("x", "personal")
    seen = fetch(b, server, "headers", "proxy")
    assert seen.header("X-MSOAuth-Account-Type") == b"personal"
    assert seen.header("X-MSOAuth-Tenant-Id") == PERSONAL_TID.encode()
    assert seen.header("X-MSOAuth-User-Id") == b"6e7b768e07e4f2b3"
    assert seen.header("X-MSOAuth-Email") == b"pat.obrien@outlook.com"
    assert seen.header("X-MSOAuth-Last-Name") == "O'Brien".encode()


# ---------------------------------------------------------------------------------------------- encodings

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("variant", ["both", "utf8"])
def test_header_encoding_none_is_utf8(server, signed_in, variant, backend):
    b = signed_in("x")
    seen = fetch(b, server, variant, backend)
    assert seen.header("X-MSOAuth-Full-Name") == "José María Müller-Lüdenscheidt".encode("utf-8")
    assert_identity_headers(seen, b.id_token)


@pytest.mark.parametrize("backend", BACKENDS)
def test_header_encoding_base64url(server, signed_in, backend):
    b = signed_in("x")
    seen = fetch(b, server, "b64", backend)
    assert b64url_decode(seen.header("X-MSOAuth-Full-Name")).decode("utf-8") == "José María Müller-Lüdenscheidt"
    assert_identity_headers(seen, b.id_token, decode=lambda v: b64url_decode(v).decode("utf-8"))
    if backend != "proxy":
        assert_identity_env(seen, b.id_token)   # environment variables stay UTF-8


@pytest.mark.parametrize("backend", BACKENDS)
def test_header_encoding_latin1(server, signed_in, backend):
    b = signed_in("x")
    seen = fetch(b, server, "latin1", backend)
    assert seen.header("X-MSOAuth-Full-Name") == "José María Müller-Lüdenscheidt".encode("latin-1")
    assert seen.header("X-MSOAuth-Last-Name") == b"M\xfcller-L\xfcdenscheidt"
    assert_identity_headers(seen, b.id_token, decode=lambda v: v.decode("latin-1"))
    if backend != "proxy":
        assert_identity_env(seen, b.id_token)


@pytest.mark.parametrize("backend", BACKENDS)
def test_non_latin1_letters(server, signed_in, backend):
    b = signed_in("x", "intl")
    latin1 = fetch(b, server, "latin1", backend)
    assert latin1.header("X-MSOAuth-Full-Name") == b"Zo\xeb ?ukasiewicz ?", \
        "characters outside Latin-1 become '?'"
    assert latin1.header("X-MSOAuth-Claim-name") == b"Zo\xeb ?ukasiewicz ?"
    assert latin1.header("X-MSOAuth-First-Name") == b"Zo\xeb"
    b64 = fetch(b, server, "b64", backend)
    assert b64url_decode(b64.header("X-MSOAuth-Full-Name")).decode("utf-8") == INTL_NAME
    utf8 = fetch(b, server, "utf8", backend)
    assert utf8.header("X-MSOAuth-Full-Name") == INTL_NAME.encode("utf-8")
    if backend != "proxy":
        assert latin1.env["MSOAUTH_FULL_NAME"] == INTL_NAME.encode("utf-8"), "variables stay UTF-8"


# ---------------------------------------------------------------------------------------------- CR / LF

def sanitized(text):
    return re.sub(r"[\x00-\x1f\x7f]", " ", text)


@pytest.fixture(scope="module")
def control_browser(server):
    """A browser signed in as a user whose name (claim and Graph) holds CR, LF, TAB, ESC, DEL and NUL."""
    b = harness.http_session(server.pki.ca)
    server.mock.configure(name_control_chars=True)
    try:
        sign_in(b, server, "/x/both/cgi")
    finally:
        server.mock.reset()
    yield b
    b.close()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("variant", ["utf8", "latin1", "b64"])
def test_control_characters_never_reach_a_header(server, control_browser, variant, backend):
    seen = fetch(control_browser, server, variant, backend)
    decode = {"utf8": lambda v: v, "latin1": lambda v: v, "b64": b64url_decode}[variant]
    for name, value in seen.ours().items():
        assert not CONTROL.search(decode(value)), "%s %s: control character in %r" % (backend, name, value)
    for name, value in seen.env.items():
        if name.startswith(("MSOAUTH_", "HTTP_X_MSOAUTH_")) or name == "REMOTE_USER":
            assert not CONTROL.search(decode(value) if name.startswith("HTTP_") else value), (name, value)
    assert not seen.all("X-Injected"), "a header was injected through the name"
    for line in seen.raw:
        assert not re.search(r"[\x00-\x1f\x7f]", line[:-2] if line.endswith("\r\n") else line), \
            "raw header line %r" % line
    want = sanitized(mockms.CONTROL_NAME)
    text = decode(seen.header("X-MSOAuth-Full-Name")).decode("utf-8" if variant != "latin1" else "latin-1")
    assert text == want, "control characters become spaces: %r, expected %r" % (text, want)
    assert decode(seen.header("X-MSOAuth-Claim-name")).decode("latin-1" if variant == "latin1" else "utf-8") == want


# ---------------------------------------------------------------------------------------------- Easy Auth

@pytest.mark.parametrize("backend", BACKENDS)
def test_easy_auth_headers(server, signed_in, backend):
    b = signed_in("x")
    seen = fetch(b, server, "easy", backend)
    claims = jwt_parts(b.id_token)[1]
    assert seen.header("X-MS-CLIENT-PRINCIPAL-ID") == WORK_OID.encode()
    assert seen.header("X-MS-CLIENT-PRINCIPAL-NAME") == b"jmueller@contoso.example"
    assert seen.header("X-MS-CLIENT-PRINCIPAL-IDP") == b"aad"
    raw = seen.header("X-MS-CLIENT-PRINCIPAL")
    assert raw and len(raw) % 4 == 0, "standard, padded base64: %r" % raw
    principal = json.loads(base64.b64decode(raw, validate=True).decode("utf-8"))
    assert principal["auth_typ"] == "aad"
    assert principal["name_typ"] == NAME_TYP
    assert principal["role_typ"] == ROLE_TYP
    assert isinstance(principal["claims"], list)
    for c in principal["claims"]:
        assert set(c) == {"typ", "val"} and isinstance(c["val"], str), c
    got = [(c["typ"], c["val"]) for c in principal["claims"]]
    for name, value in claims.items():
        for v in value if isinstance(value, list) else [value]:
            assert (name, claim_text(v)) in got, "claim %s=%r missing from %r" % (name, v, got)
    assert ("roles", "Reader") in got and ("roles", "Writer") in got, "array claims: one entry per element"
    assert (NAME_TYP, "jmueller@contoso.example") in got
    assert (ROLE_TYP, "Reader") in got and (ROLE_TYP, "Writer") in got
    # MSOAuthEasyAuthHeaders is independent of MSOAuthPassClaimsAs (none here).
    assert not [k for k in seen.ours() if k.startswith("x-msoauth-")], seen.ours()
    if backend != "proxy":
        assert seen.msoauth_env() == {}
        assert seen.remote_user == WORK_OID.encode()


def test_easy_auth_with_non_ascii_name(server, signed_in):
    seen = fetch(signed_in("x", "intl"), server, "easy", "proxy")
    principal = json.loads(base64.b64decode(seen.header("X-MS-CLIENT-PRINCIPAL")).decode("utf-8"))
    assert ("name", INTL_NAME) in [(c["typ"], c["val"]) for c in principal["claims"]]


def test_easy_auth_personal_account_has_no_roles(server, signed_in):
    seen = fetch(signed_in("x", "personal"), server, "easy", "proxy")
    principal = json.loads(base64.b64decode(seen.header("X-MS-CLIENT-PRINCIPAL")).decode("utf-8"))
    assert not [c for c in principal["claims"] if c["typ"] == ROLE_TYP]
    assert seen.header("X-MS-CLIENT-PRINCIPAL-NAME") == b"pat.obrien@outlook.com"


@pytest.mark.parametrize("backend", BACKENDS)
def test_easy_auth_headers_off_by_default(server, signed_in, backend):
    seen = fetch(signed_in("x"), server, "both", backend)
    assert not [k for k in seen.ours() if not k.startswith("x-msoauth-")], seen.ours()


# ---------------------------------------------------------------------------------------------- cookies

def cookie_header(browser, session_name="x_session"):
    """A Cookie header with the module's cookies among the application's, in a known order."""
    session = [c.value for c in browser.cookies if c.name == session_name]
    assert len(session) == 1, [c.name for c in browser.cookies]
    return ("theme=dark; %s=%s; msoauth_state_%s=sealed-pending-login; lang=de; my_x_session=keep; "
            "msoauth_stateful=keep" % (session_name, session[0], "A" * 43))


@pytest.mark.parametrize("backend", BACKENDS)
def test_strip_cookies_on_by_default(server, signed_in, backend):
    b = signed_in("x")
    plain = harness.http_session(server.pki.ca)
    seen = fetch(plain, server, "both", backend, headers={"Cookie": cookie_header(b)})
    assert seen.cookie == b"theme=dark; lang=de; my_x_session=keep; msoauth_stateful=keep", seen.cookie
    if backend == "php":
        cookies = seen.resp.json()["cookies"]
        assert cookies == {"theme": "dark", "lang": "de", "my_x_session": "keep", "msoauth_stateful": "keep"}
    assert seen.header("X-MSOAuth-User-Id") == WORK_OID.encode(), "signed in through the stripped cookie"


@pytest.mark.parametrize("backend", BACKENDS)
def test_strip_cookies_only_module_cookies(server, signed_in, backend):
    b = signed_in("x")
    plain = harness.http_session(server.pki.ca)
    seen = fetch(plain, server, "both", backend,
                 headers={"Cookie": "x_session=%s; msoauth_state_%s=x" % (b.cookies["x_session"], "B" * 43)})
    assert seen.cookie in (None, b""), "nothing of the application's: no (or an empty) Cookie header"


@pytest.mark.parametrize("backend", BACKENDS)
def test_strip_cookies_off(server, signed_in, backend):
    b = signed_in("x")
    plain = harness.http_session(server.pki.ca)
    header = cookie_header(b)
    seen = fetch(plain, server, "keep", backend, headers={"Cookie": header})
    assert seen.cookie == header.encode(), "MSOAuthStripCookies Off: the Cookie header as the browser sent it"
