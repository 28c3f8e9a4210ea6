"""What the three kinds of backend received from Apache, in one shape, for the issue 3 tests.

  cgi    cgi/env.cgi?format=raw: the CGI environment, values base64-encoded (byte-exact)
  php    cgi/env.php through php-cgi: $_SERVER's MSOAUTH_*, HTTP_*, REMOTE_USER, AUTH_TYPE (byte-exact)
  proxy  echo.py behind mod_proxy_http: the request header lines as they came over the wire
  php-action  env.php through Debian's mod_actions set-up (an internal redirect to php-cgi); not in BACKENDS:
         a few tests take it on top

Seen.headers holds request headers with lower-case names, '_' read as '-' (CGI and PHP only see them as HTTP_*
variables, where Apache has upper-cased them and turned '-' into '_'); Seen.env the CGI/PHP variables (empty for
the proxy, which gets no environment). Values are bytes.
"""
import base64
import json
import re

BACKENDS = ("cgi", "php", "proxy")
NAMESPACE = ("x-msoauth-", "x-ms-client-principal", "x-ms-token-")

# The X-MSOAuth-* fields and the MSOAUTH_* variable each one mirrors.
FIELDS = {
    "x-msoauth-user-id": "MSOAUTH_USER_ID",
    "x-msoauth-username": "MSOAUTH_USERNAME",
    "x-msoauth-email": "MSOAUTH_EMAIL",
    "x-msoauth-full-name": "MSOAUTH_FULL_NAME",
    "x-msoauth-first-name": "MSOAUTH_FIRST_NAME",
    "x-msoauth-last-name": "MSOAUTH_LAST_NAME",
    "x-msoauth-tenant-id": "MSOAUTH_TENANT_ID",
    "x-msoauth-account-type": "MSOAUTH_ACCOUNT_TYPE",
}

CONTROL = re.compile(rb"[\x00-\x1f\x7f]")


def norm(name):
    """A header name as compared here: lower case, '_' read as '-'."""
    return name.lower().replace("_", "-")


def in_namespace(name):
    """A header name the module owns (and must scrub from requests)."""
    return norm(name).startswith(NAMESPACE)


def claim_header(name):
    """X-MSOAuth-Claim-<name>, compared lower-case: every character outside [A-Za-z0-9] becomes '-'."""
    return "x-msoauth-claim-" + re.sub(r"[^A-Za-z0-9]", "-", name).lower()


def claim_env(name):
    return "MSOAUTH_CLAIM_" + re.sub(r"[^A-Za-z0-9_]", "_", name)


def claim_text(value):
    """A claim value as the module exports it (arrays joined with ',', objects as compact JSON)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, list):
        return ",".join(claim_text(v) for v in value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class Seen:
    def __init__(self, backend, resp, env, headers, raw=None):
        self.backend, self.resp, self.env, self.headers, self.raw = backend, resp, env, headers, raw or []

    def __repr__(self):
        ours = [(k, v) for k, v in self.headers if in_namespace(k)]
        return "<%s saw %d MSOAUTH_* variables, REMOTE_USER=%r, namespace headers %r>" % (
            self.backend, len(self.msoauth_env()), self.remote_user, ours)

    def where(self, value):
        """The names of the variables and headers whose value contains value (bytes)."""
        return ([k for k, v in self.env.items() if value in v] + [k for k, v in self.headers if value in v] +
                ["raw line %r" % line for line in self.raw if value in line.encode("latin-1")])

    def all(self, name):
        n = norm(name)
        return [v for k, v in self.headers if norm(k) == n]

    def header(self, name):
        """The one value of a header, or None; two of them is a failure (a forged one left beside ours)."""
        values = self.all(name)
        assert len(values) <= 1, "%s received %d %s headers: %r" % (self.backend, len(values), name, values)
        return values[0] if values else None

    def ours(self):
        """{name: value} of every header in the module's namespace."""
        out = {}
        for k, v in self.headers:
            if in_namespace(k):
                assert norm(k) not in out, "%s received %s twice: %r" % (self.backend, k, self.all(k))
                out[norm(k)] = v
        return out

    def msoauth_env(self):
        return {k: v for k, v in self.env.items() if k.startswith("MSOAUTH_")}

    @property
    def remote_user(self):
        return self.env.get("REMOTE_USER")

    @property
    def cookie(self):
        return self.header("cookie")

    def everything(self):
        """Every byte the backend got from the request's identity side, to search for a forged value."""
        return b"\n".join([k.encode() + b"=" + v for k, v in self.env.items()] +
                          [k.encode("latin-1") + b": " + v for k, v in self.headers] +
                          [line.encode("latin-1") for line in self.raw])


def from_env(backend, resp, env):
    headers = [(norm(k[5:]), v) for k, v in sorted(env.items()) if k.startswith("HTTP_")]
    return Seen(backend, resp, env, headers)


def parse(backend, resp):
    """The Seen of a 200 response from one of the backends."""
    assert resp.status_code == 200, "%s: %d %s" % (resp.url, resp.status_code, resp.text[:800])
    data = resp.json()
    if backend == "cgi":
        return from_env(backend, resp, {k: base64.b64decode(v) for k, v in data.items()})
    if backend in ("php", "php-action"):
        assert data["sapi"] == "cgi-fcgi", data
        return from_env(backend, resp, {k: base64.b64decode(v) for k, v in data["vars"].items()})
    assert backend == "proxy"
    headers = [(name, (value or "").encode("latin-1")) for name, value in data["headers"]]
    return Seen(backend, resp, {}, headers, data["raw"])


def path(variant, backend, rest=""):
    """The URL path of a backend of /x/<variant>; the CGI answers byte-exact JSON with format=raw."""
    if backend == "php-action":
        return "/x/%s/phpapp/env.php%s" % (variant, rest)
    p = "/x/%s/%s%s" % (variant, backend, rest)
    return p + ("&" if "?" in p else "?") + "format=raw" if backend == "cgi" else p


def fetch(session, server, variant, backend, method="GET", headers=None, rest=""):
    """Request /x/<variant>/<backend> and return what the backend saw (the response must be a 200)."""
    r = session.request(method, server.url(path(variant, backend, rest)), headers=headers or {},
                        allow_redirects=False)
    return parse(backend, r)


class RawResponse:
    """The little of a requests response that parse() needs, for raw_request()."""

    def __init__(self, url, status, headers, body):
        self.url, self.status_code, self.headers, self.content = url, status, headers, body
        self.text = body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.content)


def raw_request(server, method, target, header_lines, body=None):
    """Send a request with exactly these header lines [(name, value)], duplicates and case kept (requests folds
    names that differ only in case into one)."""
    import http.client
    import ssl
    import urllib.parse
    p = urllib.parse.urlsplit(server.base)
    conn = http.client.HTTPSConnection(p.hostname, p.port, timeout=20,
                                       context=ssl.create_default_context(cafile=server.pki.ca))
    try:
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", p.netloc)
        for name, value in header_lines:
            conn.putheader(name, value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        r = conn.getresponse()
        return RawResponse(server.url(target), r.status, dict(r.getheaders()), r.read())
    finally:
        conn.close()
