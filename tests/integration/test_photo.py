"""The photo endpoint (issue 5): <MSOAuthRedirectURI>?photo serves the signed-in user's own Microsoft photo, read
at sign-in, or the default picture. The mock: work has a PNG, work2 a GIF, personal none (Graph's 404)."""
import re

import pytest

import harness
import mockms
from conftest import DEFAULT_PICTURE_PNG, DEFAULT_PICTURE_URL, set_cookies, sign_in

PHOTO = "/prof/oauth2/callback?photo"
PHOTO_MAX = 160 * 1024


def get_photo(browser, server, url=PHOTO, **headers):
    return browser.get(server.url(url), headers=headers, allow_redirects=False)


def assert_image(r, content_type, content):
    assert r.status_code == 200, (r.status_code, r.text[:300])
    assert r.headers["Content-Type"] == content_type
    assert r.content == content
    assert r.headers.get("X-Content-Type-Options") == "nosniff"
    assert "private" in r.headers.get("Cache-Control", ""), r.headers


def assert_default_avatar(r):
    assert r.status_code == 200, (r.status_code, r.text[:300])
    assert r.headers["Content-Type"].split(";")[0] == "image/svg+xml"
    assert r.text.lstrip().startswith("<svg") and "<script" not in r.text
    assert "private" in r.headers.get("Cache-Control", "")
    assert r.headers.get("X-Content-Type-Options") == "nosniff"


@pytest.fixture
def two_users(server):
    work, work2 = harness.http_session(server.pki.ca), harness.http_session(server.pki.ca)
    sign_in(work, server, "/prof/x", user="work")
    sign_in(work2, server, "/prof/x", user="work2")
    yield work, work2
    work.close()
    work2.close()


def test_own_photo_with_caching_headers(server, two_users, mock):
    work, _ = two_users
    mock.reset_stats()
    r = get_photo(work, server)
    assert_image(r, "image/png", mockms.PHOTO_PNG)
    assert r.headers["Cache-Control"].replace(" ", "") == "private,max-age=3600"
    etag = r.headers.get("ETag")
    assert etag and re.match(r'^(W/)?"[^"]+"$', etag), etag
    r = get_photo(work, server, **{"If-None-Match": etag})
    assert r.status_code == 304 and not r.content
    r = get_photo(work, server, **{"If-None-Match": '"something-else"'})
    assert_image(r, "image/png", mockms.PHOTO_PNG)
    assert r.headers["ETag"] == etag
    assert mock.stats()["graph"] == 0, "the photo was read at sign-in, not now"


def test_each_session_gets_its_own_photo(server, two_users):
    work, work2 = two_users
    for _ in range(2):
        a, b = get_photo(work, server), get_photo(work2, server)
        assert_image(a, "image/png", mockms.PHOTO_PNG)
        assert_image(b, "image/gif", mockms.PHOTO_GIF)
        assert a.headers["ETag"] != b.headers["ETag"]
    # The URL names no user: query parameters cannot pick someone else's photo.
    oid = mockms.USERS["work"]["claims"]["oid"]
    for extra in ("&user=%s" % oid, "&id=%s" % oid, "=%s" % oid):
        r = work2.get(server.url(PHOTO + extra), allow_redirects=False)
        assert r.content != mockms.PHOTO_PNG, extra


def test_no_photo_gives_the_default_avatar(server, browser):
    sign_in(browser, server, "/prof/x", user="personal")
    assert_default_avatar(get_photo(browser, server))


def test_anonymous_gets_401(server, browser, mock):
    for headers in ({}, {"Accept": "text/html,application/xhtml+xml"}, {"Accept": "image/*"}):
        r = get_photo(browser, server, **headers)
        assert r.status_code == 401, (headers, r.status_code)
        assert r.headers.get("WWW-Authenticate") == "msoauth"
        assert not set_cookies(r), "no sign-in started for a picture"
        assert b"PNG" not in r.content
    assert mock.stats()["authorize"] == 0


def test_default_picture_url(server, browser):
    sign_in(browser, server, "/profurl/x", user="personal")
    r = get_photo(browser, server, "/profurl/oauth2/callback?photo")
    assert r.status_code == 302 and r.headers["Location"] == DEFAULT_PICTURE_URL
    other = harness.http_session(server.pki.ca)
    sign_in(other, server, "/profurl/x", user="work")
    assert_image(get_photo(other, server, "/profurl/oauth2/callback?photo"), "image/png", mockms.PHOTO_PNG)
    other.close()


def test_default_picture_file(server, browser):
    sign_in(browser, server, "/proffile/x", user="personal")
    assert_image(get_photo(browser, server, "/proffile/oauth2/callback?photo"), "image/png", DEFAULT_PICTURE_PNG)


@pytest.mark.parametrize("failure", [{"photo_content_type": "text/html"}, {"photo_content_type": "image/svg+xml"},
                                     {"photo_status": 500}, {"photo_size": PHOTO_MAX + 1},
                                     {"photo_size": 400 * 1024}])
def test_unusable_photo_gives_the_default(server, browser, mock, failure):
    mock.configure(**failure)
    mark = server.log_mark()
    env = sign_in(browser, server, "/prof/x", user="work")
    assert env["MSOAUTH_PICTURE"] == PHOTO
    assert_default_avatar(get_photo(browser, server))
    log = server.wait_log(mark, r"auth_msoauth:warn.*photo")
    assert re.search(r"auth_msoauth:warn.*photo", log), "no warning about the photo:\n" + log


def test_largest_photo_is_kept(server, browser, mock):
    mock.configure(photo_size=PHOTO_MAX)
    sign_in(browser, server, "/prof/x", user="work")
    r = get_photo(browser, server)
    assert r.status_code == 200 and r.headers["Content-Type"] == "image/png", r.headers
    assert len(r.content) == PHOTO_MAX and r.content.startswith(b"\x89PNG")
