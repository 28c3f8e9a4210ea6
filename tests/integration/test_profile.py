"""The whole profile (issue 5): MSOAUTH_TIMEZONE (the mailbox's Windows zone as an IANA name), MSOAUTH_LOCALE,
MSOAUTH_EMAIL_VERIFIED and MSOAUTH_PICTURE, read from Graph at sign-in in one $batch.

/prof asks for MailboxSettings.Read; /app does not. The mock's mailboxes: work "W. Europe Standard Time", work2
"Pacific Standard Time", personal "Tokyo Standard Time", intl a zone no one knows, upnonly no mailbox (404)."""
import os
import re
import subprocess
import tempfile

import pytest

import harness
import mockms
from conftest import sign_in

PROFILE_PATH = "/prof/x"
GRAPH_SCOPES_AS_URIS = ("openid profile email offline_access https://graph.microsoft.com/User.Read "
                        "https://graph.microsoft.com/MailboxSettings.Read")


def batch_requests(mock):
    graph = mock.requests("graph")
    batches = [g for g in graph if g["path"] == "/v1.0/$batch"]
    assert len(batches) == 1, [(g["method"], g["path"]) for g in graph]
    return {r["id"]: r for r in batches[0]["batch"]}


def php_accepts_time_zone(zone):
    """Whether PHP's date_default_timezone_set() takes the name (what the issue asks of MSOAUTH_TIMEZONE)."""
    with tempfile.NamedTemporaryFile("w", suffix=".php", delete=False) as f:
        f.write('<?php echo @date_default_timezone_set(getenv("ZONE")) ? "yes" : "no";')
    try:
        out = subprocess.run([harness.PHP_BINARY, "-q", f.name], env={"ZONE": zone}, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, timeout=30).stdout.decode()
    finally:
        os.unlink(f.name)
    return out.strip() == "yes"


# ---------------------------------------------------------------------------------------------- time zone

@pytest.mark.parametrize("user,zone", [("work", "Europe/Berlin"), ("work2", "America/Los_Angeles"),
                                       ("personal", "Asia/Tokyo"), ("intl", ""), ("upnonly", "")])
def test_time_zone_from_the_mailbox(server, browser, mock, user, zone):
    mark = server.log_mark()
    env = sign_in(browser, server, PROFILE_PATH, user=user)
    assert env["MSOAUTH_TIMEZONE"] == zone
    assert env["HTTP_X_MSOAUTH_TIMEZONE"] == zone
    if zone:
        assert php_accepts_time_zone(zone), zone
    else:
        log = server.wait_log(mark, r"auth_msoauth:warn.*(?i:time zone)")
        assert re.search(r"auth_msoauth:warn.*(?i:time zone)", log), "no warning about the time zone:\n" + log
        if user == "intl":
            assert mockms.UNKNOWN_ZONE in log


@pytest.mark.parametrize("mailbox,zones", [
    ("Europe/Berlin", {"Europe/Berlin"}),
    ("Asia/Kolkata", {"Asia/Kolkata", "Asia/Calcutta"}),     # ICU's canonical id is CLDR's (Asia/Calcutta)
    ("India Standard Time", {"Asia/Kolkata", "Asia/Calcutta"}),
    ("Tokyo Standard Time", {"Asia/Tokyo"}),
    ("Mars/Olympus_Mons", {""}),
    ("</script><script>alert(1)</script>", {""}),
])
def test_time_zone_names_outlook_may_hold(server, browser, mock, mailbox, zones):
    """Outlook lets users pick IANA names too: kept (in ICU's canonical form); anything unknown is left empty."""
    mock.configure(mailbox_timezone=mailbox)
    zone = sign_in(browser, server, PROFILE_PATH, user="work2")["MSOAUTH_TIMEZONE"]
    assert zone in zones
    assert not zone or php_accepts_time_zone(zone), zone


def test_time_zone_only_with_mailbox_settings_read(server, browser, mock):
    env = sign_in(browser, server, "/app/x", user="work")
    assert env["MSOAUTH_TIMEZONE"] == ""
    assert "tz" not in batch_requests(mock) and mock.stats()["graph"] == 1, "not asked for: not read"
    # Asked for, but not granted (the token response's scope is what counts).
    mock.reset_stats()
    mock.configure(granted_scope="openid profile email User.Read")
    env = sign_in(browser, server, PROFILE_PATH, user="work")
    assert env["MSOAUTH_TIMEZONE"] == ""
    assert "tz" not in batch_requests(mock)


def test_granted_scopes_as_resource_uris(server, browser, mock):
    mock.configure(granted_scope=GRAPH_SCOPES_AS_URIS)
    assert sign_in(browser, server, PROFILE_PATH, user="work")["MSOAUTH_TIMEZONE"] == "Europe/Berlin"


def test_one_batch_at_sign_in(server, browser, mock):
    sign_in(browser, server, PROFILE_PATH, user="work")
    issued = mock.issued()[-1]
    graph = mock.requests("graph")
    assert [(g["method"], g["path"]) for g in graph] == [("POST", "/v1.0/$batch")], "one round trip"
    assert graph[0]["authorization"] == "Bearer " + issued["access_token"]
    reqs = batch_requests(mock)
    assert set(reqs) == {"me", "tz", "photo"}
    assert all(r["method"] == "GET" for r in reqs.values())
    me = reqs["me"]["url"]
    assert me.startswith("/me?$select=")
    selected = set(me.split("=", 1)[1].split(","))
    assert {"id", "displayName", "givenName", "surname", "mail", "userPrincipalName", "preferredLanguage"} <= selected
    assert reqs["tz"]["url"] == "/me/mailboxSettings/timeZone"
    assert reqs["photo"]["url"] == "/me/photo/$value"
    # Later requests: no Graph at all.
    mock.reset_stats()
    browser.get(server.url(PROFILE_PATH), allow_redirects=False)
    browser.get(server.url("/prof/oauth2/callback?photo"), allow_redirects=False)
    assert mock.stats()["graph"] == 0


# ---------------------------------------------------------------------------------------------- locale

@pytest.mark.parametrize("path,user,claims,locale", [
    ("/app/x", "work", {}, "de-DE"),                      # Graph preferredLanguage
    ("/app/x", "work", {"xms_pl": "fr-FR"}, "de-DE"),     # Graph first
    ("/app/x", "personal", {"xms_pl": "fr-FR"}, "fr-FR"),  # no preferredLanguage: the xms_pl claim
    ("/app/x", "work2", {}, ""),                          # neither
    ("/app/x", "verified", {}, "fr-FR"),                  # the mock user with the xms_pl claim
    ("/nograph/x", "work", {"xms_pl": "en-GB"}, "en-GB"),  # no Graph at all
])
def test_locale(server, browser, mock, path, user, claims, locale):
    mock.configure(id_token_claims=claims)
    env = sign_in(browser, server, path, user=user)
    assert env["MSOAUTH_LOCALE"] == locale
    assert env["HTTP_X_MSOAUTH_LOCALE"] == locale


# ---------------------------------------------------------------------------------------------- email_verified

@pytest.mark.parametrize("user,claims,verified", [
    ("work", {}, "false"),
    ("work", {"xms_edov": True}, "true"),
    ("work", {"xms_edov": 1}, "true"),
    ("work", {"xms_edov": "1"}, "true"),
    ("work", {"xms_edov": False}, "false"),
    ("work", {"xms_edov": 0}, "false"),
    ("work", {"xms_edov": "0"}, "false"),
    ("work2", {}, "false"),          # a work account's email claim, however plausible, is not verified
    ("verified", {}, "true"),        # the mock user with xms_edov
    ("personal", {}, "true"),        # a personal account's sign-in address
    ("personal", {"email": "pat.other@outlook.com"}, "false"),
])
def test_email_verified(server, browser, mock, user, claims, verified):
    mock.configure(id_token_claims=claims)
    env = sign_in(browser, server, "/app/x", user=user)
    assert env["MSOAUTH_EMAIL_VERIFIED"] == verified, (env["MSOAUTH_EMAIL"], claims)
    assert env["HTTP_X_MSOAUTH_EMAIL_VERIFIED"] == verified


# ---------------------------------------------------------------------------------------------- picture

def test_picture_url(server, browser):
    env = sign_in(browser, server, PROFILE_PATH, user="personal")
    assert env["MSOAUTH_PICTURE"] == "/prof/oauth2/callback?photo", "even without a photo (the default one)"
    assert env["HTTP_X_MSOAUTH_PICTURE"] == env["MSOAUTH_PICTURE"]
    other = harness.http_session(server.pki.ca)
    try:
        env = sign_in(other, server, "/absredirect/x", user="work")
        assert env["MSOAUTH_PICTURE"] == server.url("/absredirect/oauth2/callback?photo")
    finally:
        other.close()


# ---------------------------------------------------------------------------------------------- Graph failing

def test_batch_failing_falls_back_to_me(server, browser, mock):
    mock.configure(batch_status=500)
    mark = server.log_mark()
    env = sign_in(browser, server, PROFILE_PATH, user="work")
    graph = mock.requests("graph")
    assert [(g["method"], g["path"].split("?")[0]) for g in graph] == [("POST", "/v1.0/$batch"), ("GET", "/v1.0/me")]
    assert env["MSOAUTH_FIRST_NAME"] == "José María", "the names still come from Graph"
    assert env["MSOAUTH_LOCALE"] == "de-DE"
    assert env["MSOAUTH_TIMEZONE"] == ""
    photo = browser.get(server.url("/prof/oauth2/callback?photo"))
    assert photo.status_code == 200 and photo.headers["Content-Type"].startswith("image/svg+xml")
    assert re.search(r"auth_msoauth:warn", server.wait_log(mark, r"auth_msoauth:warn"))


def test_graph_down_still_signs_in(server, browser, mock):
    mock.configure(graph_status=503)
    env = sign_in(browser, server, PROFILE_PATH, user="work")
    assert env["REMOTE_USER"] == mockms.USERS["work"]["claims"]["oid"]
    assert env["MSOAUTH_FIRST_NAME"] == "" and env["MSOAUTH_FULL_NAME"] == "José María Müller-Lüdenscheidt"
    assert (env["MSOAUTH_TIMEZONE"], env["MSOAUTH_LOCALE"]) == ("", "")
    assert env["MSOAUTH_PICTURE"] == "/prof/oauth2/callback?photo"


@pytest.mark.parametrize("failure,zone,first_name", [
    ({"graph_me_status": 500}, "Europe/Berlin", ""),     # /me failed inside the batch: the claims
    ({"mailbox_status": 500}, "", "José María"),
    ({"mailbox_status": 403}, "", "José María"),
])
def test_one_part_of_the_batch_failing(server, browser, mock, failure, zone, first_name):
    mock.configure(**failure)
    mark = server.log_mark()
    env = sign_in(browser, server, PROFILE_PATH, user="work")
    assert (env["MSOAUTH_TIMEZONE"], env["MSOAUTH_FIRST_NAME"]) == (zone, first_name)
    photo = browser.get(server.url("/prof/oauth2/callback?photo"))
    assert photo.content == mockms.PHOTO_PNG, "the photo part of the batch was fine"
    assert re.search(r"auth_msoauth:warn", server.wait_log(mark, r"auth_msoauth:warn"))
