"""Forged identity headers: whatever a client sends in the module's namespace (X-MSOAuth-*, X-MS-CLIENT-PRINCIPAL*,
X-MS-TOKEN-*, any case, '_' for '-') never reaches a CGI script, a PHP application or a proxied backend: signed in
or anonymous (MSOAuthUnauthAction pass), whatever MSOAuthPassClaimsAs says, and for OPTIONS and POST too."""
import base64
import json

import pytest

import harness
from backends import BACKENDS, fetch, from_env, parse, path, raw_request
from conftest import USERS

WORK_OID = USERS["work"]["claims"]["oid"]
FORGED_PRINCIPAL = base64.b64encode(json.dumps(
    {"auth_typ": "aad", "claims": [{"typ": "roles", "val": "GlobalAdmin-forged"}],
     "name_typ": "name", "role_typ": "roles"}).encode()).decode()

# (header name as the client sends it, forged value); every value is unique so that it can be searched for.
SPOOFS = [
    ("X-MSOAuth-Email", "boss-1@forged.example"),
    ("x-msoauth-email", "boss-2@forged.example"),
    ("X_MSOAUTH_EMAIL", "boss-3@forged.example"),
    ("x_msoauth_email", "boss-4@forged.example"),
    ("X-MsOAuth-EMAIL", "boss-5@forged.example"),
    ("X-MSOAUTH_Email", "boss-6@forged.example"),
    ("X-MSOAuth-User-Id", "forged-user-id-7"),
    ("X-MSOAuth-Claim-roles", "GlobalAdmin-forged-8"),
    ("X-MSOAuth-Claim-preferred-username", "forged-9@forged.example"),
    ("X-MSOAuth-Not-A-Field", "forged-10"),
    ("X-MS-CLIENT-PRINCIPAL", FORGED_PRINCIPAL),
    ("X-MS-CLIENT-PRINCIPAL-NAME", "forged-12@forged.example"),
    ("X-MS-CLIENT-PRINCIPAL-ID", "forged-principal-id-13"),
    ("x-ms-client-principal-idp", "forged-idp-14"),
    ("X-Ms-Client-Principal-Name", "forged-15@forged.example"),
    ("X_MS_CLIENT_PRINCIPAL_NAME", "forged-16@forged.example"),
    ("x-ms-token-aad-id-token", "eyJforged.id-token.17"),
    ("X-MS-TOKEN-AAD-ACCESS-TOKEN", "eyJforged.access-token.18"),
    ("x_ms_token_aad_id_token", "eyJforged.id-token.19"),
]
IDS = [name for name, _ in SPOOFS]
# Not in the namespace: must pass.
UNRELATED = [("X-Request-Id", "keep-me-1"), ("X-MS-Request-Id", "keep-me-2")]

# What the module itself sends in /x/both for the forged names it owns.
REAL = {"x-msoauth-email": b"jose.mueller@contoso.example", "x-msoauth-user-id": WORK_OID.encode(),
        "x-msoauth-claim-roles": b"Reader,Writer",
        "x-msoauth-claim-preferred-username": b"jmueller@contoso.example"}


def assert_not_forged(seen, spoofs=SPOOFS):
    leaked = ["%s (in %s)" % (name, ", ".join(seen.where(value.encode()))) for name, value in spoofs
              if value.encode() in seen.everything()]
    assert not leaked, "%s received forged headers: %s" % (seen.backend, "; ".join(leaked))
    for name, value in UNRELATED:
        assert seen.header(name) == value.encode(), "%s: %s must pass untouched" % (seen.backend, name)


def assert_signed_in_values(seen):
    """Where the module sends a header of the same name, exactly one, with the real value."""
    for name, value in REAL.items():
        assert seen.header(name) == value, "%s %s" % (seen.backend, name)
    if seen.backend != "proxy":
        assert seen.remote_user == WORK_OID.encode()
        assert seen.env["MSOAUTH_EMAIL"] == b"jose.mueller@contoso.example"


@pytest.mark.parametrize("spoof", SPOOFS, ids=IDS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_forged_header_signed_in(server, signed_in, backend, spoof):
    seen = fetch(signed_in("x"), server, "both", backend, headers=dict([spoof] + UNRELATED))
    assert_not_forged(seen, [spoof])
    assert_signed_in_values(seen)


@pytest.mark.parametrize("spoof", SPOOFS, ids=IDS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_forged_header_anonymous_pass(server, backend, spoof):
    anonymous = harness.http_session(server.pki.ca)
    seen = fetch(anonymous, server, "pass", backend, headers=dict([spoof] + UNRELATED))
    assert_not_forged(seen, [spoof])
    assert seen.ours() == {}, "anonymous: no identity header at all"
    assert seen.remote_user in (None, b"")


@pytest.mark.parametrize("spoof", SPOOFS, ids=IDS)
@pytest.mark.parametrize("state", ["signed-in", "anonymous"])
def test_forged_header_options(server, signed_in, state, spoof):
    # A CGI script (and so PHP through php-cgi) never runs for OPTIONS: Apache answers it. A proxied backend does.
    session = signed_in("x") if state == "signed-in" else harness.http_session(server.pki.ca)
    variant = "both" if state == "signed-in" else "pass"
    seen = fetch(session, server, variant, "proxy", method="OPTIONS",
                 headers=dict([spoof, ("Origin", "https://127.0.0.1"), ("Access-Control-Request-Method", "GET")]
                              + UNRELATED))
    assert seen.resp.json()["method"] == "OPTIONS"
    assert_not_forged(seen, [spoof])
    if state == "signed-in":
        assert_signed_in_values(seen)
    else:
        assert seen.ours() == {}


def every_spoof_at_once(cookie=None):
    """All forged headers in one request, several of them twice (as separate lines), plus the unrelated ones."""
    lines = list(SPOOFS) + [(n, v + "-again") for n, v in SPOOFS[::3]] + UNRELATED
    if cookie:
        lines.append(("Cookie", cookie))
    return lines


@pytest.mark.parametrize("variant,backend", [(v, b) for v in ("both", "env", "headers", "none", "b64", "latin1",
                                                                "easy", "keep") for b in BACKENDS]
                         + [("both", "php-action")])
def test_every_forged_header_at_once_signed_in(server, signed_in, variant, backend):
    b = signed_in("x")
    lines = every_spoof_at_once("x_session=" + b.cookies["x_session"])
    seen = parse(backend, raw_request(server, "GET", path(variant, backend), lines))
    assert_not_forged(seen, lines[:-len(UNRELATED) - 1])
    if backend != "proxy":
        assert seen.remote_user == WORK_OID.encode()
    if variant in ("env", "none"):
        assert seen.ours() == {}, "MSOAuthPassClaimsAs %s sends no header, and lets no forged one through" % variant
    if variant == "both":
        assert_signed_in_values(seen)


@pytest.mark.parametrize("backend", BACKENDS + ("php-action",))
def test_every_forged_header_at_once_anonymous(server, backend):
    lines = every_spoof_at_once()
    seen = parse(backend, raw_request(server, "GET", path("pass", backend), lines))
    assert_not_forged(seen, lines[:-len(UNRELATED)])
    assert seen.ours() == {}
    assert seen.msoauth_env() == {}


@pytest.mark.parametrize("state", ["signed-in", "anonymous"])
@pytest.mark.parametrize("method", ["POST", "OPTIONS", "DELETE"])
def test_every_forged_header_at_once_other_methods(server, signed_in, state, method):
    cookie = "x_session=" + signed_in("x").cookies["x_session"] if state == "signed-in" else None
    lines = every_spoof_at_once(cookie)
    body = b"a=1&b=2" if method == "POST" else None
    if body:
        lines.append(("Content-Type", "application/x-www-form-urlencoded"))
    variant = "both" if state == "signed-in" else "pass"
    r = raw_request(server, method, path(variant, "proxy"), lines, body=body)
    seen = parse("proxy", r)
    assert r.json()["method"] == method
    if body:
        assert r.json()["body"] == "a=1&b=2"
    assert_not_forged(seen, SPOOFS)
    if state == "signed-in":
        assert_signed_in_values(seen)
    else:
        assert seen.ours() == {}


# ---------------------------------------------------------------------------------------------- subrequests

def ssi(server, name, lines):
    """GET the unprotected /ssi/<name>.shtml (whose content is a subrequest to a protected CGI) with these header
    lines; the environment the included CGI saw, as a Seen (None when the include failed)."""
    r = raw_request(server, "GET", "/ssi/%s.shtml" % name, lines)
    assert r.status_code == 200, "%d %s" % (r.status_code, r.text[:300])
    try:
        data = json.loads(r.content)
    except ValueError:
        assert b"forged" not in r.content
        return None
    return from_env("cgi (subrequest)", r, {k: base64.b64decode(v) for k, v in data.items()})


def test_subrequest_anonymous_pass(server):
    seen = ssi(server, "pass", every_spoof_at_once())
    assert seen is not None, "a pass location lets an anonymous subrequest through"
    assert_not_forged(seen)
    assert seen.ours() == {} and seen.msoauth_env() == {}


@pytest.mark.parametrize("name", ["pass", "both"])
def test_subrequest_signed_in(server, signed_in, name):
    seen = ssi(server, name, every_spoof_at_once("x_session=" + signed_in("x").cookies["x_session"]))
    assert seen is not None, "a signed-in user's subrequest runs the CGI"
    assert_not_forged(seen)


def test_subrequest_anonymous_auth(server):
    # An anonymous subrequest into an auth location does not run the CGI (the docs: a plain 401 for it); either
    # way nothing forged may show.
    seen = ssi(server, "both", every_spoof_at_once())
    if seen is not None:
        assert_not_forged(seen)
        assert seen.ours() == {}
