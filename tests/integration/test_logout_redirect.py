"""Open redirects through sign-out (issue 4): <MSOAuthRedirectURI>?logout=<path> with several hundred hostile
<path> values. None may send the browser off this host: not the Location of the 302 (MSOAuthLogoutMicrosoft Off,
/bye), nor the post_logout_redirect_uri that Microsoft's end-session endpoint will send it to (On, /app).

Each payload is the value the module sees once the query string is decoded; it travels fully percent-encoded,
so that Apache and the client leave it alone. A browser reading a Location strips leading and trailing C0
controls and spaces, removes tabs and newlines anywhere, and reads '\\' as '/' (WHATWG URL parsing):
browser_target() does the same before comparing hosts. Paths that some framework or proxy might decode once
more are checked decoded as well."""
import http.client
import re
import ssl
import urllib.parse

import pytest

from conftest import CLIENT_A, sign_in
from test_open_redirect import assert_on_site

EVIL_HOSTS = ["evil.example", "evil.example/x?y=1", "evil.example:443", "127.0.0.1.evil.example",
              "127.0.0.1@evil.example", "user:pw@evil.example", "evil.example\\@127.0.0.1", "evil\u3002example",
              "\uff45vil.example"]

# Ways to start a network-path reference, an absolute URL, or something a browser, proxy or framework turns
# into one.
PREFIXES = [
    "//", "///", "////", "/\\", "\\/", "\\\\", "/\\/", "/\\\\", "\\", "\\\\\\",
    "/%2f", "/%2F", "%2f%2f", "%2F/", "/%5c", "/%5C", "%5c%5c", "%5C/", "/%2f%5c", "/%252f", "/%255c",
    "%252f%252f", "/%25252f",
    "/%09/", "%09//", "/\t/", "\t//", "/%0a/", "/%0d/", "/%0d%0a/", "\r\n//", "/\n/", "/\r/", " //", "/ /",
    "%20//", "/%20/", "/%00/", "\x00//", "/\x00/", "/\x0b/", "/\x0c/", "/\x7f/",
    "/./", "/.//", "/..//", "/%2e%2e//", "/.%2f/", "/;/", "/%3b/",
    "@", "//@", "/@/", ":", "//:",
    "https://", "http://", "https:/", "https:", "HTTPS://", "hTtP://", "//https://", "https:\\\\", "https:/\\",
    "ftp://", "wss://", "/https://", "/\\https://",
    "\uff0f\uff0f", "/\uff0f", "\uff3c\uff3c", "/\uff3c", "%EF%BC%8F%EF%BC%8F", "/%EF%BC%8F", "\u2215\u2215",
    "/\u2215", "\u2044\u2044", "\ufe68\ufe68", "/\u29f8", "/\u3000/", "\u2028//", "/%E2%80%A8/", "\u202e//",
    "/\u00a0/",
]

SPECIALS = [
    "javascript:alert(1)", "JaVaScRiPt:alert(document.domain)", "javascript://%0aalert(1)", "javascript:/\\evil",
    "data:text/html,<script>alert(1)</script>", "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "vbscript:msgbox(1)", "file:///etc/passwd", "evil.example", "evil.example/x", ".evil.example", "@evil.example",
    "//evil.example@127.0.0.1", "/\\evil.example@127.0.0.1", "https://127.0.0.1@evil.example",
    "https://evil.example#@127.0.0.1", "https://evil.example?@127.0.0.1", "//127.0.0.1%2f@evil.example",
    "/%2F%2Fevil.example", "/%5C%5Cevil.example", "/%u002f%u002fevil.example", "/..;//evil.example",
    "/%2e/%2e//evil.example", "//evil%E3%80%82example", "/%ef%bc%8f%ef%bc%8fevil.example",
    "/%0d%0aLocation:%20https://evil.example/", "/\r\nLocation: https://evil.example/",
    "/%0d%0aSet-Cookie:%20pwned=1", "/\r\nSet-Cookie: pwned=1", "/\nX-Injected: 1",
    "", " ", "%", "/%", "/%zz", "//%2e%2e", "tok/x", "./x", "../x", "?x=//evil.example", "#//evil.example",
    "https:evil.example", "http:\\\\evil.example", "\\\\evil.example\\share", "\\/\\/evil.example",
    "/" + "a" * 5000, "//" + "a" * 5000 + ".evil.example",
]

# Local paths: these must be honoured exactly.
LEGIT = ["/", "/bye/done", "/bye/done?a=1&b=%2F", "/caf%C3%A9/menu", "/a/b/../c", "/x?next=//evil.example",
         "/javascript:alert(1)", "/a@b", "/~user/;x=1"]


def corpus():
    seen, out = set(), []
    for p in [prefix + host for prefix in PREFIXES for host in EVIL_HOSTS] + SPECIALS:
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out


CORPUS = corpus()


class KeepAlive:
    """GET request targets exactly as given, over one keep-alive TLS connection (re-opened when needed)."""

    def __init__(self, server):
        self.parts = urllib.parse.urlsplit(server.base)
        self.ctx = ssl.create_default_context(cafile=server.pki.ca)
        self.conn = None

    def get(self, target, cookie=None):
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPSConnection(self.parts.hostname, self.parts.port, context=self.ctx,
                                                        timeout=20)
            try:
                self.conn.request("GET", target, headers={"Cookie": cookie} if cookie else {})
                r = self.conn.getresponse()
                r.read()
                if r.will_close:
                    self.close()
                return r.status, r.getheaders()
            except (http.client.HTTPException, ConnectionError):
                self.close()
                if attempt:
                    raise

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def browser_target(base, location):
    """The URL a browser goes to for this Location, the parts of WHATWG URL parsing that matter here."""
    loc = location.strip("".join(chr(c) for c in range(0x21)))
    loc = re.sub(r"[\t\n\r]", "", loc).replace("\\", "/")
    return urllib.parse.urlsplit(urllib.parse.urljoin(base + "/", loc))


def off_site(base, location):
    """Why location would leave base, or None."""
    ours = urllib.parse.urlsplit(base)
    for candidate in (location, urllib.parse.unquote(location)):
        t = browser_target(base, candidate)
        if (t.scheme, t.hostname, t.port) != (ours.scheme, ours.hostname, ours.port):
            return "a browser goes to %s://%s" % (t.scheme, t.netloc)
    try:
        assert_on_site(location, base)
        assert_on_site(urllib.parse.unquote(location), base)
    except AssertionError as e:
        return str(e).split("\n")[0]
    return None


def header(headers, name):
    values = [v for k, v in headers if k.lower() == name]
    return values[0] if len(values) == 1 else values or None


def check(server, conn, mode, payload, cookie=None):
    """Ask for a sign-out to payload; return a problem description or None."""
    path = {"off": "/bye/oauth2/callback", "on": "/app/oauth2/callback"}[mode]
    status, headers = conn.get(path + "?logout=" + urllib.parse.quote(payload, safe="", encoding="utf-8",
                                                                      errors="surrogateescape"), cookie)
    if status == 400 and header(headers, "location") is None:
        return None     # refused outright (e.g. a NUL byte in the query): no redirect at all
    if status != 302:
        return "status %d" % status
    names = {k.lower() for k, _ in headers}
    if "x-injected" in names or any("pwned" in v for k, v in headers if k.lower() == "set-cookie"):
        return "header injection: %r" % headers
    loc = header(headers, "location")
    if not isinstance(loc, str):
        return "Location %r" % loc
    if mode == "off":
        return off_site(server.base, loc)
    end_session = server.mock.base + "/common/oauth2/v2.0/logout?"
    if not loc.startswith(end_session):
        return "Location %r is not Microsoft's end-session endpoint" % loc
    q = urllib.parse.parse_qs(loc[len(end_session):], keep_blank_values=True)
    if q.get("client_id") != [CLIENT_A] or len(q.get("post_logout_redirect_uri", [])) != 1:
        return "end-session parameters %r" % q
    target = q["post_logout_redirect_uri"][0]
    if not target.startswith(server.base + "/"):
        return "post_logout_redirect_uri %r" % target
    return off_site(server.base, target) or off_site(server.base, target[len(server.base):])


@pytest.mark.parametrize("mode", ["off", "on"])
def test_no_sign_out_redirect_leaves_the_site(server, mode):
    assert len(CORPUS) >= 500, len(CORPUS)
    conn = KeepAlive(server)
    try:
        problems = ["%r: %s" % (p, why) for p in CORPUS for why in [check(server, conn, mode, p)] if why]
    finally:
        conn.close()
    assert not problems, "%d of %d payloads redirect off-site:\n%s" % (len(problems), len(CORPUS),
                                                                      "\n".join(problems[:40]))


@pytest.mark.parametrize("mode", ["off", "on"])
def test_local_paths_are_honoured(server, mode):
    conn = KeepAlive(server)
    try:
        for path in LEGIT:
            status, headers = conn.get({"off": "/bye", "on": "/app"}[mode] + "/oauth2/callback?logout="
                                       + urllib.parse.quote(path, safe=""))
            loc = header(headers, "location")
            assert status == 302, (path, status)
            if mode == "off":
                assert loc in (path, server.base + path), (path, loc)
            else:
                q = urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query)
                assert q["post_logout_redirect_uri"] == [server.base + path], (path, loc)
    finally:
        conn.close()


@pytest.mark.parametrize("location_", ["/bye", "/app"])
def test_hostile_targets_with_a_session(server, browser, location_):
    """The same checks while signed in: the session still ends, and the redirect stays here."""
    conn = KeepAlive(server)
    try:
        for payload in ["//evil.example/", "/%5cevil.example", "https://evil.example/"]:
            sign_in(browser, server, location_ + "/x")
            cookie = "; ".join("%s=%s" % (c.name, c.value) for c in browser.cookies)
            why = check(server, conn, "off" if location_ == "/bye" else "on", payload, cookie)
            assert why is None, (payload, why)
            browser.cookies.clear()
    finally:
        conn.close()
