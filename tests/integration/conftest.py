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

Issue 3 (exports, spoofing, unauthenticated requests, Require rules) adds two areas, each with one session cookie
for the whole area, so that one sign-in serves every location in it:

  /x/VARIANT  /x with the directives of X_VARIANTS[VARIANT]; each has three backends:
              /x/VARIANT/cgi (env.cgi), /x/VARIANT/php (env.php through php-cgi), /x/VARIANT/proxy (mod_proxy_http
              to the echo backend, echo.py, which answers with the request headers it received)
  /x/u401, /x/u403, /x/pass/auth  MSOAuthUnauthAction 401, 403, and auth again below a pass location (env.cgi)
  /req/RULE   Require lines of REQ_RULES[RULE] (env.cgi); /req itself: Require valid-user and, as the docs ask
              of every location with msoauth-* rules, AuthzSendForbiddenOnFailure On; /req/strict403 without it
  /ssi/NAME.shtml  unprotected SSI pages that include /x/<variant>/cgi (an internal subrequest), see SSI_PAGES
  /x/both/phpapp/env.php, /x/pass/phpapp/env.php  env.php run the Debian way (conf/example-php.conf, way 2):
              SetHandler application/x-httpd-php + Action to /cgi-bin/php-cgi (php-cgi itself), so PHP runs in
              an internal redirect to an unprotected URL

Issues 4 and 5 (session lifetime, server-side tokens, sign-out, form_post; the whole profile), each location with
a session cookie of its own (see issue45_locations):

  /tok        MSOAuthPassAccessToken On, offline_access in the scope; /tok/env passes the environment only,
              /tok/proxy proxies to the echo backend
  /tokonly    MSOAuthPassAccessToken On without offline_access (no refresh token)
  /offline    offline_access in the scope, MSOAuthPassAccessToken Off (tokens kept, not handed on)
  /idle       MSOAuthSessionInactivityTimeout 60          /active  MSOAuthSessionInactivityTimeout 600
  /bye        MSOAuthLogoutMicrosoft Off                  /fp      MSOAuthResponseMode form_post
  /prof       MailboxSettings.Read in the scope           /profurl, /proffile  MSOAuthDefaultPicture URL / file
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

import echo
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

WORK2_OID = mockms.USERS["work2"]["claims"]["oid"]
GROUP_STAFF, GROUP_ADMINS, GROUP_OTHER = mockms.GROUP_STAFF, mockms.GROUP_ADMINS, mockms.GROUP_OTHER

# /x/VARIANT: directives on top of /x (defaults: MSOAuthPassClaimsAs both, MSOAuthHeaderEncoding none,
# MSOAuthEasyAuthHeaders Off, MSOAuthStripCookies On, MSOAuthUnauthAction auth).
X_VARIANTS = {
    "both": {},
    "env": {"MSOAuthPassClaimsAs": "environment"},
    "headers": {"MSOAuthPassClaimsAs": "headers"},
    "none": {"MSOAuthPassClaimsAs": "none"},
    "utf8": {"MSOAuthHeaderEncoding": "none"},
    "b64": {"MSOAuthHeaderEncoding": "base64url"},
    "latin1": {"MSOAuthHeaderEncoding": "latin1"},
    "easy": {"MSOAuthEasyAuthHeaders": "On", "MSOAuthPassClaimsAs": "none"},
    "keep": {"MSOAuthStripCookies": "Off"},
    "pass": {"MSOAuthUnauthAction": "pass"},
}
# Unauthenticated-request variants with the env CGI only (nested below /x; pass/auth below /x/pass).
X_UNAUTH = {
    "u401": {"MSOAuthUnauthAction": "401"},
    "u403": {"MSOAuthUnauthAction": "403"},
    "pass/auth": {"MSOAuthUnauthAction": "auth"},
}
BACKENDS = ("cgi", "php", "proxy")

# /req/RULE: the Require lines of the location (below /req, whose session cookie it shares).
REQ_RULES = {
    "tenant": ["Require msoauth-tenant %s" % WORK_TID],
    "tenants": ["Require msoauth-tenant %s consumers" % WORK2_TID],
    "personal": ["Require msoauth-account personal"],
    "work": ["Require msoauth-account work"],
    "role": ["Require msoauth-role Admin Writer"],
    "group": ["Require msoauth-group %s %s" % (GROUP_ADMINS, GROUP_STAFF)],
    "claim": ["Require msoauth-claim preferred_username:kim.lee@fabrikam.example"],
    "claimarray": ["Require msoauth-claim roles:Reader"],
    "all": ["<RequireAll>", "    Require msoauth-account work", "    Require msoauth-role Writer", "</RequireAll>"],
    "any": ["<RequireAny>", "    Require msoauth-role Admin", "    Require msoauth-account personal",
            "    Require user %s" % WORK2_OID, "</RequireAny>"],
    "not": ["<RequireAll>", "    Require valid-user", "    Require not msoauth-tenant %s" % WORK_TID,
            "</RequireAll>"],
    "strict403": ["Require msoauth-role Admin Writer", "AuthzSendForbiddenOnFailure Off"],
}

# /ssi/NAME.shtml: an unprotected page whose only content is the output of a subrequest to a protected CGI.
SSI_PAGES = {"pass": "/x/pass/cgi?format=raw", "both": "/x/both/cgi?format=raw"}

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


def issue3_locations(workdir, echo_port):
    """The /x and /req areas (see the top of this file): ({path: directives}, {path: script or None})."""
    php = os.path.join(workdir, "cgi", os.path.basename(harness.PHP_CGI))
    locations = {"/x": location("x")}
    scripts = {}
    for name, directives in X_VARIANTS.items():
        locations["/x/" + name] = directives or ["# the defaults of /x"]
        locations["/x/%s/proxy" % name] = {"ProxyPass": "http://127.0.0.1:%d/x/%s/proxy" % (echo_port, name)}
        scripts["/x/%s/php" % name] = php
        scripts["/x/%s/proxy" % name] = None
    for name, directives in X_UNAUTH.items():
        locations["/x/" + name] = directives
    locations["/req"] = location("req", AuthzSendForbiddenOnFailure="On")
    for name, lines in REQ_RULES.items():
        locations["/req/" + name] = lines
    return locations, scripts


OFFLINE_SCOPE = '"openid profile email User.Read offline_access"'
PROFILE_SCOPE = '"openid profile email User.Read MailboxSettings.Read"'
DEFAULT_PICTURE_URL = "https://cdn.example/avatars/default.png"
# MSOAuthDefaultPicture as a file: a real PNG, different from every user's photo.
DEFAULT_PICTURE_PNG = mockms.png(24, (0x70, 0x70, 0x70), (0xf0, 0xf0, 0xf0))


def issue45_locations(workdir, echo_port):
    """The issue 4 and 5 locations (see the top of this file): ({path: directives}, {path: script or None})."""
    pictures = os.path.join(workdir, "pictures")
    os.makedirs(pictures, exist_ok=True)
    os.chmod(pictures, 0o755)
    default_png = os.path.join(pictures, "default.png")
    with open(default_png, "wb") as f:
        f.write(DEFAULT_PICTURE_PNG)
    os.chmod(default_png, 0o644)
    locations = {
        "/tok": location("tok", MSOAuthPassAccessToken="On", MSOAuthScope=OFFLINE_SCOPE),
        "/tok/env": {"MSOAuthPassClaimsAs": "environment"},
        "/tok/proxy": {"ProxyPass": "http://127.0.0.1:%d/tok/proxy" % echo_port},
        "/tokonly": location("tokonly", MSOAuthPassAccessToken="On"),
        "/offline": location("offline", MSOAuthScope=OFFLINE_SCOPE),
        "/idle": location("idle", MSOAuthSessionInactivityTimeout="60"),
        "/active": location("active", MSOAuthSessionInactivityTimeout="600"),
        "/bye": location("bye", MSOAuthLogoutMicrosoft="Off"),
        "/fp": location("fp", MSOAuthResponseMode="form_post"),
        "/prof": location("prof", MSOAuthScope=PROFILE_SCOPE),
        "/profurl": location("profurl", MSOAuthDefaultPicture=DEFAULT_PICTURE_URL),
        "/proffile": location("proffile", MSOAuthDefaultPicture=default_png),
    }
    return locations, {"/tok/proxy": None}


def php_action_directives(workdir):
    """PHP through mod_actions, as Debian's php-cgi package sets it up: .php files get the handler
    application/x-httpd-php, and Action sends them (internal redirect) to the php-cgi binary."""
    app, bindir = os.path.join(workdir, "phpapp"), os.path.join(workdir, "phpbin")
    for d in (app, bindir):
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o755)
    shutil.copyfile(harness.PHP_FILES[1], os.path.join(app, "env.php"))
    os.chmod(os.path.join(app, "env.php"), 0o644)
    os.symlink(harness.PHP_BINARY, os.path.join(bindir, "php-cgi"))
    lines = ['ScriptAlias /cgi-bin/php-cgi "%s/php-cgi"' % bindir,
             '<Directory "%s">' % bindir, "    Require all granted", "</Directory>"]
    lines += ['Alias /x/%s/phpapp "%s"' % (variant, app) for variant in ("both", "pass")]
    lines += ['<Directory "%s">' % app,
              '    <FilesMatch "\\.php$">',
              "        SetHandler application/x-httpd-php",
              "    </FilesMatch>",
              "    Action application/x-httpd-php /cgi-bin/php-cgi",
              "    Require all granted",
              "</Directory>"]
    return lines


def ssi_directives(workdir):
    """The unprotected /ssi pages (mod_include): each includes one protected CGI through a subrequest."""
    d = os.path.join(workdir, "ssi")
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o755)
    for name, target in SSI_PAGES.items():
        harness.write_file(os.path.join(d, name + ".shtml"), '<!--#include virtual="%s" -->' % target)
    return ['Alias /ssi "%s"' % d,
            '<Directory "%s">' % d,
            "    Options +Includes",
            "    AddOutputFilter INCLUDES .shtml",
            "    Require all granted",
            "</Directory>"]


def build_config(workdir, pki_, mock, module, port, port_root, dead_port, secrets_dir, echo_port):
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
    more, scripts = issue3_locations(workdir, echo_port)
    locations.update(more)
    more, more_scripts = issue45_locations(workdir, echo_port)
    locations.update(more)
    scripts.update(more_scripts)
    main = harness.VHost(port, tls=True, locations=locations, scripts=scripts, directives=ssi_directives(workdir) + php_action_directives(workdir))
    root = harness.VHost(port_root, tls=True, locations={
        "/": location("", MSOAuthRedirectURI="/oauth2/callback",
                      SessionCookieName="root_session path=/;HttpOnly;Secure;SameSite=Lax")})
    return harness.apache_config(workdir, [main, root], global_directives=global_directives, module=module,
                                 pki_=pki_, modules=harness.BASE_MODULES + ["include", "actions"]), main, root


def pytest_configure(config):
    config.addinivalue_line("markers", "early: run before every other test (starts a clock that a late test reads)")
    config.addinivalue_line("markers", "late: run after every other test")


def pytest_collection_modifyitems(items):
    """Tests marked early run first and tests marked late last, so that a test needing a minute of real time
    (an idle session) spends the rest of the run's time instead of sleeping."""
    early = [i for i in items if i.get_closest_marker("early")]
    late = [i for i in items if i.get_closest_marker("late")]
    items[:] = early + [i for i in items if i not in early and i not in late] + late


@pytest.fixture(scope="session")
def server():
    module = harness.module_path()
    if not os.path.exists(module):
        pytest.fail("the module under test is not built: %s (run make, or set MSOAUTH_MODULE)" % module)
    if not os.access(harness.PHP_BINARY, os.X_OK):
        pytest.fail("%s is missing: install Debian's php-cgi (scripts/deps.sh does)" % harness.PHP_BINARY)
    workdir = harness.make_workdir()
    pki_ = harness.PKI(os.path.join(workdir, "pki"))
    backend = echo.start()
    mock = harness.MockMS(pki_, ports=1 + len(COLD), log_path=os.path.join(workdir, "mock.log")).start()
    apache = None
    try:
        harness.install_cgi(workdir, [harness.ENV_CGI] + harness.PHP_FILES)
        secrets_dir = os.path.join(workdir, "secrets")
        os.makedirs(secrets_dir)
        os.chmod(secrets_dir, 0o755)
        port, port_root, dead_port = harness.free_port(), harness.free_port(), harness.free_port()
        conf, main, root = build_config(workdir, pki_, mock, module, port, port_root, dead_port, secrets_dir,
                                        backend.port)
        apache = harness.Apache(workdir, conf, [port, port_root]).start()
        srv = Server(workdir, pki_, mock, apache, main.base, root.base)
        srv.conf_text = conf
        srv.echo = backend
        srv.secrets = [mockms.CLIENTS[CLIENT_A], mockms.CLIENTS[CLIENT_B], CRYPTO_PASSPHRASE, SESSION_PASSPHRASE]
        yield srv
    finally:
        if apache:
            apache.stop()
        mock.stop()
        backend.shutdown()
        backend.server_close()
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


@pytest.fixture(scope="session")
def signed_in(server):
    """signed_in(area, user): a browser signed in as user in the /x or /req area, shared by the tests that only
    read through it (one sign-in per area and user for the whole run). .id_token is the token it signed in with.
    Call it before configuring any misbehaviour of the mock."""
    cache = {}

    def get(area, user="work"):
        if (area, user) not in cache:
            b = harness.http_session(server.pki.ca)
            sign_in(b, server, {"x": "/x/both/cgi", "req": "/req/login"}[area], user)
            b.id_token = server.mock.issued()[-1]["id_token"]
            cache[area, user] = b
        return cache[area, user]

    yield get
    for b in cache.values():
        b.close()


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
