"""Open-redirect attempts: whatever request path starts a sign-in, the redirect after it stays on this server.

These use the second virtual host, where the whole URL space "/" is protected, so that request targets such as
//evil.example/x reach the module."""
import re
import urllib.parse

import pytest

from conftest import authorize, raw_get

EVIL = "evil.example"

TARGETS = [
    "//evil.example/x",
    "///evil.example/x",
    "//evil.example",
    "//evil.example/%2e%2e",
    "/\\evil.example/x",
    "/\\/evil.example/x",
    "/%5cevil.example/x",
    "/%5c%5cevil.example/x",
    "/%2f%2fevil.example/x",
    "/%2F/evil.example/x",
    "/%09/evil.example/x",
    "/%0d%0aLocation:%20https://evil.example/",
    "/./%2f/evil.example",
    "/.//evil.example/x",
    "//%09/evil.example",
    "https://evil.example/x",
    "http://evil.example/x",
]


def parse_set_cookie(headers):
    out = {}
    for name, value in headers:
        if name.lower() == "set-cookie":
            k, _, rest = value.partition("=")
            v = rest.split(";")[0]
            if "max-age=0" in value.lower():
                out.pop(k, None)
            else:
                out[k] = v
    return out


def assert_on_site(location, base):
    """A Location header that a browser resolves to a URL on base."""
    assert not re.search(r"[\x00-\x1f\x7f]", location), "control character in Location %r" % location
    ours = urllib.parse.urlsplit(base)
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", location):
        p = urllib.parse.urlsplit(location)
        assert (p.scheme, p.netloc) == (ours.scheme, ours.netloc), "off-site redirect to %r" % location
        path = p.path
    else:
        assert location.startswith("/"), "relative redirect %r" % location
        path = location
    # Browsers treat '\' like '/': "/\evil" and "//evil" are both network-path references.
    assert not re.match(r"^[/\\]{2}", path.replace("\t", "")), "protocol-relative redirect %r" % location
    resolved = urllib.parse.urlsplit(urllib.parse.urljoin(base + "/", location.replace("\\", "/")))
    assert resolved.netloc == ours.netloc, "resolves off-site: %r" % location


@pytest.mark.parametrize("target", TARGETS)
def test_return_url_never_leaves_the_site(server, browser, target):
    base = server.base_root
    status, headers, _ = raw_get(server, target, base=base)
    hdrs = {k.lower(): v for k, v in headers}
    if status != 302:
        # Apache itself refused the target (e.g. encoded slashes): no redirect anywhere, fine.
        assert status in (400, 403, 404), status
        return
    loc = hdrs["location"]
    assert loc.startswith(server.mock.base + "/"), "the first redirect must go to Microsoft only: %r" % loc
    assert EVIL not in urllib.parse.unquote(urllib.parse.urlsplit(loc).path)
    for k, v in parse_set_cookie(headers).items():
        browser.cookies.set(k, v, domain="127.0.0.1", path="/")
    cb = authorize(browser, loc, user="work")
    if urllib.parse.urlsplit(cb).netloc == urllib.parse.urlsplit(base).netloc:
        r = browser.get(cb, allow_redirects=False)
        status, location, text = r.status_code, r.headers.get("Location"), r.text
    else:
        # An absolute-form request line made the module build its redirect_uri on the named host: deliver the
        # callback to us the same way, so that the code exchange matches.
        status, headers, body = raw_get(server, cb, base=base,
                                        cookies={c.name: c.value for c in browser.cookies})
        location, text = dict((k.lower(), v) for k, v in headers).get("location"), body.decode("utf-8", "replace")
    if status != 302:
        assert status in (400, 401), "%d: %s" % (status, text[:300])
        return
    assert_on_site(location, base)


def test_normal_return_url_on_the_root_host(server, browser):
    status, headers, _ = raw_get(server, "/some/page?a=1&b=%2F%2Fevil.example", base=server.base_root)
    assert status == 302
    hdrs = {k.lower(): v for k, v in headers}
    for k, v in parse_set_cookie(headers).items():
        browser.cookies.set(k, v, domain="127.0.0.1", path="/")
    cb = authorize(browser, hdrs["location"])
    r = browser.get(cb, allow_redirects=False)
    assert r.status_code == 302, r.text
    assert_on_site(r.headers["Location"], server.base_root)
    assert urllib.parse.urljoin(server.base_root + "/", r.headers["Location"]) == \
        server.base_root + "/some/page?a=1&b=%2F%2Fevil.example"
