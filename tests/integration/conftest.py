"""Fixtures for the integration tests: one mock Microsoft and one real Apache with the module, for the whole run.

The Apache has these protected locations (each maps every path below it to cgi/env.cgi, which prints its
environment as JSON):

  /app        client A, defaults from the main server config (secret and passphrase as file:), mod_session_crypto
  /clientb    client B, same session cookie and passphrase as /app (a session must not cross client ids)
  /nocrypto   no SessionCryptoPassphrase: only the module's own sealing protects the session
  /nocryptob  the same with client B
  /short      MSOAuthHTTPTimeout 1 2
  /allowed    MSOAuthAllowedTenants <work tenant> consumers
  /nograph    MSOAuthGraphURL none
  /byemail    MSOAuthRemoteUserClaim email
  /consumers  MSOAuthTenant consumers
  /scope      MSOAuthScope "User.Read profile" (openid must still be asked for)
  /tenantguid, /tenantdomain  MSOAuthTenant <work tenant GUID> / contoso.example (a discovery issuer without
              the {tenantid} template)
  /absredirect  MSOAuthRedirectURI as an absolute URL
  /maxage     MSOAuthSessionMaxAge 2
  /statetime  MSOAuthStateTimeout 1
  /dead       MSOAuthAuthority on a port nobody listens on
  /cold/NAME  MSOAuthAuthority on a mock port of its own (cold discovery/JWKS caches), MSOAuthHTTPTimeout 1 2
and a second https virtual host (server.base_root) whose whole URL space "/" is protected, for open-redirect tests.
"""
import base64
import http.client
import json
import os
import re
import shutil
import ssl
import time
import urllib.parse

import pytest

import harness
import mockms

CLIENT_A, CLIENT_B = mockms.CLIENT_A, mockms.CLIENT_B
USERS = mockms.USERS
PERSONAL_TID, WORK_TID, WORK2_TID = mockms.PERSONAL_TID, mockms.WORK_TID, mockms.WORK2_TID
SESSION_PASSPHRASE = "Qm4-session-crypto-pass-77e1c0"
CRYPTO_PASSPHRASE = "Pz7-test-passphrase-3c1b0f2e9d8a7f6e5d4c3b2a19081726"

# Locations with an authority (a mock port) of their own, so their discovery/JWKS caches are cold when the one
# test that uses each starts.
COLD = ["first_fetch", "discovery_500", "discovery_close", "discovery_slow", "discovery_nonjson",
        "discovery_oversize", "jwks_500", "jwks_slow", "key_issuer", "concurrent"]

STATE_COOKIE = re.compile(r"^msoauth_state_(.+)$")
B64URL43 = re.compile(r"^[A-Za-z0-9_-]{43}$")


class Server:
    """What the tests need to know about the running Apache and mock."""

    def __init__(self, workdir, pki_, mock, apache, base, base_root):
        self.workdir, self.pki, self.mock, self.apache = workdir, pki_, mock, apache
        self.base, self.base_root = base, base_root

    def url(self, path):
        return self.base + path

    def log_mark(self):
        return self.apache.log_mark()

    def log_since(self, mark):
        return self.apache.error_log(mark)

    def wait_log(self, mark, pattern, timeout=2.0):
        """The error log text after mark, once pattern (a regex) shows up in it (or after timeout)."""
        deadline = time.time() + timeout
        while True:
            text = self.log_since(mark)
            if re.search(pattern, text) or time.time() > deadline:
                return text
            time.sleep(0.05)


def location(name, **overrides):
    """The directives of a protected location /name (session cookie scoped to it); overrides win, None drops."""
    d = {"AuthType": "msoauth",
         "Require": "valid-user",
         "MSOAuthRedirectURI": "/%s/oauth2/callback" % name,
         "Session": "On",
         "SessionCookieName": "%s_session path=/%s;HttpOnly;Secure;SameSite=Lax" % (name.replace("/", "_"), name),
         "SessionCryptoPassphrase": SESSION_PASSPHRASE}
    d.update(overrides)
    return d


def build_config(workdir, pki_, mock, module, port, port_root, dead_port, secrets_dir):
    secret_a = harness.write_file(os.path.join(secrets_dir, "client-a.secret"), mockms.CLIENTS[CLIENT_A] + "\n")
    secret_b = harness.write_file(os.path.join(secrets_dir, "client-b.secret"), mockms.CLIENTS[CLIENT_B] + "\n")
    passphrase = harness.write_file(os.path.join(secrets_dir, "msoauth.key"), CRYPTO_PASSPHRASE + "\n")
    global_directives = {
        "MSOAuthClientID": CLIENT_A,
        "MSOAuthClientSecret": "file:" + secret_a,
        "MSOAuthTenant": "common",
        "MSOAuthCryptoPassphrase": "file:" + passphrase,
        "MSOAuthAuthority": mock.base,
        "MSOAuthGraphURL": mock.base + "/v1.0",
        "MSOAuthCAFile": pki_.ca,
    }
    shared_cookie = "app_session path=/;HttpOnly;Secure;SameSite=Lax"
    locations = {
        "/app": location("app", SessionCookieName=shared_cookie),
        "/clientb": location("clientb", SessionCookieName=shared_cookie, MSOAuthClientID=CLIENT_B,
                             MSOAuthClientSecret="file:" + secret_b),
        "/nocrypto": location("nocrypto", SessionCryptoPassphrase=None),
        "/nocryptob": location("nocryptob", SessionCryptoPassphrase=None, MSOAuthClientID=CLIENT_B,
                               MSOAuthClientSecret="file:" + secret_b),
        "/short": location("short", MSOAuthHTTPTimeout="1 2"),
        "/allowed": location("allowed", MSOAuthAllowedTenants="%s consumers" % WORK_TID),
        "/nograph": location("nograph", MSOAuthGraphURL="none"),
        "/byemail": location("byemail", MSOAuthRemoteUserClaim="email"),
        "/consumers": location("consumers", MSOAuthTenant="consumers"),
        "/scope": location("scope", MSOAuthScope='"User.Read profile"'),
        "/tenantguid": location("tenantguid", MSOAuthTenant=WORK_TID),
        "/tenantdomain": location("tenantdomain", MSOAuthTenant="contoso.example"),
        "/absredirect": location("absredirect",
                                 MSOAuthRedirectURI="https://127.0.0.1:%d/absredirect/oauth2/callback" % port),
        "/maxage": location("maxage", MSOAuthSessionMaxAge="2"),
        "/statetime": location("statetime", MSOAuthStateTimeout="1"),
        "/dead": location("dead", MSOAuthAuthority="https://127.0.0.1:%d" % dead_port, MSOAuthHTTPTimeout="1 2"),
    }
    for i, name in enumerate(COLD, start=1):
        locations["/cold/" + name] = location("cold/" + name, MSOAuthAuthority=mock.bases[i],
                                              MSOAuthHTTPTimeout="1 2")
    main = harness.VHost(port, tls=True, locations=locations)
    root = harness.VHost(port_root, tls=True, locations={
        "/": location("", MSOAuthRedirectURI="/oauth2/callback",
                      SessionCookieName="root_session path=/;HttpOnly;Secure;SameSite=Lax")})
    return harness.apache_config(workdir, [main, root], global_directives=global_directives, module=module,
                                 pki_=pki_), main, root


@pytest.fixture(scope="session")
def server():
    module = harness.module_path()
    if not os.path.exists(module):
        pytest.fail("the module under test is not built: %s (run make, or set MSOAUTH_MODULE)" % module)
    workdir = harness.make_workdir()
    pki_ = harness.PKI(os.path.join(workdir, "pki"))
    mock = harness.MockMS(pki_, ports=1 + len(COLD), log_path=os.path.join(workdir, "mock.log")).start()
    apache = None
    try:
        harness.install_cgi(workdir)
        secrets_dir = os.path.join(workdir, "secrets")
        os.makedirs(secrets_dir)
        os.chmod(secrets_dir, 0o755)
        port, port_root, dead_port = harness.free_port(), harness.free_port(), harness.free_port()
        conf, main, root = build_config(workdir, pki_, mock, module, port, port_root, dead_port, secrets_dir)
        apache = harness.Apache(workdir, conf, [port, port_root]).start()
        srv = Server(workdir, pki_, mock, apache, main.base, root.base)
        srv.conf_text = conf
        srv.secrets = [mockms.CLIENTS[CLIENT_A], mockms.CLIENTS[CLIENT_B], CRYPTO_PASSPHRASE, SESSION_PASSPHRASE]
        yield srv
    finally:
        if apache:
            apache.stop()
        mock.stop()
        if os.environ.get("MSOAUTH_KEEP_WORKDIR"):
            print("\nintegration workdir kept: %s" % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def mock(server):
    return server.mock


@pytest.fixture(autouse=True)
def clean_mock(request):
    """Every test starts with a well-behaved mock and zeroed request counts."""
    if "server" in request.fixturenames or "mock" in request.fixturenames:
        m = request.getfixturevalue("mock")
        m.reset()
        m.reset_stats()
    yield


@pytest.fixture
def browser(server):
    """A fresh cookie jar trusting the test CA: one browser."""
    s = harness.http_session(server.pki.ca)
    yield s
    s.close()


# ---------------------------------------------------------------------------------------------- helpers

def set_cookies(resp):
    """All Set-Cookie header values of a requests response."""
    return resp.raw.headers.getlist("Set-Cookie") if resp.raw is not None else []


def state_cookies(session):
    return {c.name: c.value for c in session.cookies if STATE_COOKIE.match(c.name)}


def query_of(url):
    return {k: v[0] for k, v in urllib.parse.parse_qs(urllib.parse.urlsplit(url).query,
                                                      keep_blank_values=True).items()}


def start_login(session, url, authority=None):
    """GET a protected URL without a session: assert the 302 to the mock's authorize endpoint; return the response."""
    r = session.get(url, allow_redirects=False)
    assert r.status_code == 302, "expected a 302 to Microsoft for %s, got %d: %s" % (url, r.status_code, r.text[:500])
    loc = r.headers["Location"]
    parts = urllib.parse.urlsplit(loc)
    assert parts.scheme == "https" and parts.hostname == "127.0.0.1", loc
    if authority:
        assert loc.startswith(authority + "/"), loc
    assert re.match(r"^/[^/]+/oauth2/v2\.0/authorize$", parts.path), loc
    return r


def authorize(session, authorize_url, user="work", extra=None, via=None):
    """Sign in at the mock as user (extra: more query parameters, e.g. mock_action=cancel); return the callback URL
    the mock redirects to. via: send the authorize request to this base instead of the URL's own."""
    if via:
        p = urllib.parse.urlsplit(authorize_url)
        authorize_url = via + p.path + "?" + p.query
    params = {"mock_user": user}
    params.update(extra or {})
    r = session.get(authorize_url + "&" + urllib.parse.urlencode(params), allow_redirects=False)
    assert r.status_code == 302, "mock authorize refused: %d %s" % (r.status_code, r.text[:500])
    return r.headers["Location"]


def login(session, url, user="work", extra=None, via=None, authority=None):
    """The whole sign-in with one browser: protected URL -> 302 to authorize -> mock signs user in -> 302 to the
    callback -> GET the callback. Returns the callback response (302 back on success, or an error page), with
    .start (the first response), .authorize_url and .callback_url attached."""
    start = start_login(session, url, authority)
    callback_url = authorize(session, start.headers["Location"], user, extra, via)
    r = session.get(callback_url, allow_redirects=False)
    r.start, r.authorize_url, r.callback_url = start, start.headers["Location"], callback_url
    return r


def resolve(resp):
    """The absolute URL a redirect response points to."""
    return urllib.parse.urljoin(resp.url, resp.headers["Location"])


def sign_in(session, server, path, user="work", **kw):
    """login() and follow the 302 back to path; assert it lands exactly there; return the CGI environment."""
    r = login(session, server.url(path), user, **kw)
    assert r.status_code == 302, "sign-in failed: %d %s" % (r.status_code, r.text[:800])
    assert resolve(r) == server.url(path), "returned to %r, not %r" % (r.headers["Location"], path)
    page = session.get(resolve(r), allow_redirects=False)
    assert page.status_code == 200, page.text[:800]
    return page.json()


def cgi_env(session, url):
    r = session.get(url, allow_redirects=False)
    assert r.status_code == 200, "%d %s" % (r.status_code, r.text[:500])
    return r.json()


def jwt_parts(token):
    def dec(part):
        return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    h, p, _ = token.split(".")
    return dec(h), dec(p)


def assert_error_page(resp, status, *texts):
    """One of the module's generated pages: status, short escaped HTML, no-store, no-referrer."""
    assert resp.status_code == status, "expected %d, got %d: %s" % (status, resp.status_code, resp.text[:800])
    ctype = resp.headers.get("Content-Type", "").replace(" ", "").lower()
    assert ctype == "text/html;charset=utf-8", resp.headers.get("Content-Type")
    assert "no-store" in resp.headers.get("Cache-Control", ""), resp.headers
    assert resp.headers.get("Referrer-Policy") == "no-referrer", resp.headers
    assert "<html" in resp.text.lower()
    assert len(resp.content) < 16384, "the page should be short"
    for t in texts:
        assert t in resp.text, "%r not in page:\n%s" % (t, resp.text)


def wait_jwks_rate_limit(mock, seconds=10.5):
    """Sleep until the module's kid-triggered JWKS refetch rate limit (10 s per process) has certainly passed."""
    last = mock.stats().get("last_jwks_fetch")
    if last:
        time.sleep(max(0.0, last + seconds - time.time()))


def raw_get(server, target, base=None, headers=None, cookies=None):
    """Send `GET <target>` exactly as given (no client-side normalisation); returns (status, headers list, body)."""
    p = urllib.parse.urlsplit(base or server.base)
    ctx = ssl.create_default_context(cafile=server.pki.ca)
    conn = http.client.HTTPSConnection(p.hostname, p.port, context=ctx, timeout=20)
    try:
        conn.putrequest("GET", target, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", p.netloc)
        if cookies:
            conn.putheader("Cookie", "; ".join("%s=%s" % kv for kv in cookies.items()))
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        conn.endheaders()
        r = conn.getresponse()
        return r.status, r.getheaders(), r.read()
    finally:
        conn.close()
