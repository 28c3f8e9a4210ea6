"""Misconfiguration stops `apache2 -t` (apachectl configtest) with a line naming the directive."""
import os
import shutil

import pytest

import harness


@pytest.fixture
def workdir():
    d = harness.make_workdir("msoauth-conf-")
    harness.install_cgi(d)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def config(workdir, global_overrides=None, location_overrides=None, modules=None, with_location=True):
    secret = harness.write_file(os.path.join(workdir, "client.secret"), "s3cr3t-value\n")
    g = {"MSOAuthClientID": "00000000-1111-2222-3333-444444444444",
         "MSOAuthClientSecret": "file:" + secret,
         "MSOAuthTenant": "common",
         "MSOAuthCryptoPassphrase": "a-long-enough-test-passphrase"}
    g.update(global_overrides or {})
    loc = {"AuthType": "msoauth", "Require": "valid-user", "MSOAuthRedirectURI": "/app/oauth2/callback",
           "Session": "On", "SessionCookieName": "app_session path=/;HttpOnly;SameSite=Lax"}
    loc.update(location_overrides or {})
    vhost = harness.VHost(8, tls=False, locations={"/app": loc} if with_location else {})
    return harness.apache_config(workdir, [vhost], global_directives=g, module=harness.module_path(),
                                 modules=modules)


def check(workdir, **kw):
    return harness.configtest(config(workdir, **kw), workdir)


def assert_fails(result, *words):
    rc, out = result
    assert rc != 0, "configtest passed but should not:\n" + out
    for w in words:
        assert w in out, "%r not named in:\n%s" % (w, out)


def assert_passes(result):
    rc, out = result
    assert rc == 0, "configtest failed:\n" + out


def test_valid_config_passes(workdir):
    rc, out = check(workdir)
    assert rc == 0 and "Syntax OK" in out, out


def test_module_loaded_but_unused_passes(workdir):
    assert_passes(check(workdir, with_location=False,
                        global_overrides={"MSOAuthClientID": None, "MSOAuthClientSecret": None,
                                          "MSOAuthCryptoPassphrase": None}))


def test_server_level_settings_without_redirect_uri_pass_when_nothing_is_protected(workdir):
    assert_passes(check(workdir, with_location=False))


@pytest.mark.parametrize("directive", ["MSOAuthClientID", "MSOAuthClientSecret", "MSOAuthCryptoPassphrase"])
def test_missing_required_server_directive(workdir, directive):
    assert_fails(check(workdir, global_overrides={directive: None}), directive)


def test_missing_redirect_uri(workdir):
    assert_fails(check(workdir, location_overrides={"MSOAuthRedirectURI": None}), "MSOAuthRedirectURI")


def test_required_directives_may_come_from_the_location(workdir):
    secret = harness.write_file(os.path.join(workdir, "loc.secret"), "x\n")
    assert_passes(check(workdir, global_overrides={"MSOAuthClientID": None, "MSOAuthClientSecret": None},
                        location_overrides={"MSOAuthClientID": "55555555-6666-7777-8888-999999999999",
                                            "MSOAuthClientSecret": "file:" + secret}))


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_unreadable_secret_file(workdir, kind):
    path = os.path.join(workdir, "no-such.secret") if kind == "missing" else workdir
    assert_fails(check(workdir, global_overrides={"MSOAuthClientSecret": "file:" + path}), "MSOAuthClientSecret")


def test_unreadable_passphrase_file(workdir):
    path = os.path.join(workdir, "no-such.key")
    assert_fails(check(workdir, global_overrides={"MSOAuthCryptoPassphrase": "file:" + path}),
                 "MSOAuthCryptoPassphrase")


@pytest.mark.parametrize("url", [
    "http://login.example.com",
    "http://127.evil.example",
    "http://127.0.0.1.evil.example",
    "http://localhost.evil.example",
    "ftp://127.0.0.1",
    "login.microsoftonline.com",
    "https://",
])
def test_bad_authority(workdir, url):
    rc, out = check(workdir, global_overrides={"MSOAuthAuthority": url})
    assert_fails((rc, out), "MSOAuthAuthority")
    assert "httpd.conf" in out or "configtest-" in out, "the file and line should be named:\n" + out


@pytest.mark.parametrize("url", [
    "https://login.microsoftonline.com",
    "https://login.microsoftonline.us",
    "http://127.0.0.1:8443",
    "http://127.1.2.3:8443",
    "http://localhost:8443",
    "http://[::1]:8443",
])
def test_good_authority(workdir, url):
    assert_passes(check(workdir, global_overrides={"MSOAuthAuthority": url}))


def test_bad_graph_url(workdir):
    assert_fails(check(workdir, location_overrides={"MSOAuthGraphURL": "http://graph.example.com/v1.0"}),
                 "MSOAuthGraphURL")


@pytest.mark.parametrize("value", ["none", "https://graph.microsoft.us/v1.0", "http://127.0.0.1:9/v1.0"])
def test_good_graph_url(workdir, value):
    assert_passes(check(workdir, location_overrides={"MSOAuthGraphURL": value}))


def test_mod_session_not_loaded(workdir):
    modules = [m for m in harness.BASE_MODULES if not m.startswith("session")]
    assert_fails(check(workdir, modules=modules,
                       location_overrides={"Session": None, "SessionCookieName": None}), "mod_session")
