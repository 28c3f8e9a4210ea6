"""End to end in a real browser (issue 4): Debian's headless Chromium, driven by Selenium through chromedriver,
against the shared Apache and the mock Microsoft sign-in page with its Approve and Cancel buttons.

The browser reaches Apache as https://localhost:PORT and the mock as https://127.0.0.1:PORT. These are two sites,
as an application and login.microsoftonline.com are, so SameSite decides which cookies come back from the sign-in
page: a top-level GET in query mode, a cross-site POST in form_post mode. requests and curl ignore SameSite and
cookie scope. Chromium does not.

Each browser gets a fresh temporary directory. It holds the Chromium profile (--user-data-dir) and is also the
browser's HOME, where an NSS database (~/.pki/nssdb, made with certutil) trusts the run's throw-away CA. That is how
a CA is added on Linux, and no certificate check is switched off. Only loopback is used: the host resolver knows
localhost and 127.0.0.1 and nothing else.
"""
import json
import os
import shutil
import subprocess
import tempfile
import urllib.parse

import pytest

from conftest import CLIENT_A, USERS, query_of

try:
    from selenium import webdriver
    from selenium.common.exceptions import TimeoutException, WebDriverException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    SELENIUM_ERROR = None
except ImportError as e:  # reported by the fixture as a failure, never a silent skip
    SELENIUM_ERROR = e

# The binary itself: /usr/bin/chromium is a launcher script that adds flags of its own from /etc/chromium.d
# (extensions, API keys). The binary gets exactly the flags below.
CHROMIUM = "/usr/lib/chromium/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CERTUTIL = "/usr/bin/certutil"
PACKAGES = "chromium chromium-driver python3-selenium libnss3-tools (scripts/deps.sh installs them)"
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage",
         # Any host but localhost and 127.0.0.1 (the rules match IP literals too) fails to resolve: nothing
         # can leave the machine.
         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"]
WAIT = 15  # seconds for a page or a chain of redirects to settle

WORK = USERS["work"]
WORK_EMAIL = WORK["graph"]["mail"]          # jose.mueller@contoso.example (from Graph)
WORK_NAME = WORK["claims"]["name"]          # José María Müller-Lüdenscheidt (UTF-8 end to end)
SIGN_IN_TITLE = "Sign in to your account"   # the mock's sign-in page
# Microsoft's login_hint claim, opaque base64; sign-out hands it back as logout_hint.
LOGIN_HINT = ("O.CiQ3YzFmMmUzZC00YjVhLTQ5NjgtODc3Ni1hNWI0YzNkMmUxZjASJDNmMmE5YzFlLTViN2QtNGU4Zi05YTBiLTFjMmQzZTRm"
              "NWE2Yg==")

# What the page in front of the browser says, in one object. Status: the navigation's HTTP status
# (PerformanceNavigationTiming.responseStatus). vars: the CGI's HTML table of MSOAUTH_* (env.cgi answers a browser
# with HTML), or the JSON env.php prints, shown by Chromium in a <pre>.
READ_PAGE = """
const nav = performance.getEntriesByType('navigation')[0];
const vars = {};
for (const row of document.querySelectorAll('tr')) {
    const th = row.querySelector('th'), td = row.querySelector('td');
    if (th && td) vars[th.textContent] = td.textContent;
}
const pre = document.querySelector('pre');
return {url: location.href, title: document.title, status: nav ? nav.responseStatus : null,
        h1: (document.querySelector('h1') || {}).textContent || '',
        text: document.body ? document.body.innerText : '', vars: vars, pre: pre ? pre.textContent : null};
"""


class Browser:
    """One Chromium with a fresh profile, and the steps a user takes in it."""

    def __init__(self, driver, server, workdir):
        self.driver, self.server, self.workdir = driver, server, workdir
        p = urllib.parse.urlsplit(server.base)
        self.base = "https://localhost:%d" % p.port   # Apache, as a site apart from the mock
        self.mock_base = server.mock.base             # https://127.0.0.1:PORT

    def url(self, path):
        return self.base + path

    def page(self):
        return self.driver.execute_script(READ_PAGE)

    def wait(self, what, condition):
        """Wait until condition(page) holds for a fully loaded page; fail saying what the browser shows instead."""
        last = {}

        def check(_):
            nonlocal last
            try:
                if self.driver.execute_script("return document.readyState") != "complete":
                    return False
                last = self.page()
            except WebDriverException:  # the page went away under us: a navigation is under way
                return False
            return last if condition(last) else False

        try:
            return WebDriverWait(self.driver, WAIT, poll_frequency=0.05).until(check)
        except TimeoutException:
            pytest.fail("the browser never got to %s; it shows %s (HTTP %s, title %r):\n%s"
                        % (what, last.get("url"), last.get("status"), last.get("title"),
                           (last.get("text") or "")[:800]))

    def wait_at(self, url):
        return self.wait(url, lambda p: p["url"] == url)

    def open(self, path):
        self.driver.get(self.url(path))

    def at_sign_in(self):
        """The mock's sign-in page, reached through the module's redirect; returns its authorize parameters."""
        page = self.wait("the mock's sign-in page",
                         lambda p: p["url"].startswith(self.mock_base + "/") and p["title"] == SIGN_IN_TITLE)
        return query_of(page["url"])

    def approve(self, user="work"):
        self.driver.find_element(By.CSS_SELECTOR, 'input[name="mock_user"][value="%s"]' % user).click()
        self.driver.find_element(By.CSS_SELECTOR, 'button[value="approve"]').click()

    def cancel(self):
        self.driver.find_element(By.CSS_SELECTOR, 'button[value="cancel"]').click()

    def sign_in(self, path, user="work"):
        """Open a protected path, approve on the sign-in page, land back on path; returns the landing page."""
        self.open(path)
        self.at_sign_in()
        self.approve(user)
        return self.landed(path)

    def landed(self, path):
        """The protected page at path, signed in: HTTP 200 and the user's variables on it."""
        page = self.wait_at(self.url(path))
        assert page["status"] == 200, page
        if page["pre"] is not None:  # env.php: JSON
            page["vars"] = json.loads(page["pre"])["text"]
        return page

    def cookies(self, host="localhost"):
        """Every cookie the browser holds for host, with its attributes (HttpOnly ones too), by name."""
        got = self.driver.execute_cdp_cmd("Storage.getCookies", {})["cookies"]
        return {c["name"]: c for c in got if c["domain"] == host}

    def pending(self):
        """The pending-login cookies (msoauth_state_<state>) the browser holds for Apache."""
        return {n: c for n, c in self.cookies().items() if n.startswith("msoauth_state_")}


def nss_trusting(home, ca):
    """An NSS database in home/.pki/nssdb (where Chromium on Linux looks) that trusts ca for TLS servers."""
    db = "sql:" + os.path.join(home, ".pki", "nssdb")
    os.makedirs(db[4:])
    for cmd in (["-N", "--empty-password"], ["-A", "-n", "msoauth test CA", "-t", "C,,", "-i", ca]):
        p = subprocess.run([CERTUTIL, "-d", db] + cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if p.returncode != 0:
            pytest.fail("certutil %s failed: %s" % (" ".join(cmd), p.stdout.decode("utf-8", "replace")))


@pytest.fixture
def chromium(server):
    """A fresh headless Chromium trusting the test CA. Fails (never skips) when it cannot start."""
    if SELENIUM_ERROR is not None:
        pytest.fail("cannot import selenium (%s): install %s" % (SELENIUM_ERROR, PACKAGES))
    for path in (CHROMIUM, CHROMEDRIVER, CERTUTIL):
        if not os.access(path, os.X_OK):
            pytest.fail("%s is missing: install %s" % (path, PACKAGES))
    workdir = tempfile.mkdtemp(prefix="msoauth-chromium-")
    driver = None
    try:
        nss_trusting(workdir, server.pki.ca)
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in FLAGS + ["--user-data-dir=" + os.path.join(workdir, "profile")]:
            options.add_argument(flag)
        log = os.path.join(workdir, "chromedriver.log")
        env = dict(os.environ, HOME=workdir)
        try:
            driver = webdriver.Chrome(service=Service(CHROMEDRIVER, service_args=["--log-path=" + log], env=env),
                                      options=options)
        except WebDriverException as e:
            tail = ""
            if os.path.exists(log):
                with open(log, errors="replace") as f:
                    tail = f.read()[-2000:]
            pytest.fail("Chromium did not start: %s\nchromedriver log:\n%s" % (e.msg or e, tail))
        driver.set_page_load_timeout(WAIT)
        yield Browser(driver, server, workdir)
    finally:
        if driver is not None:
            driver.quit()
        shutil.rmtree(workdir, ignore_errors=True)


def authorize_requests(mock):
    return mock.requests("authorize")


# ---------------------------------------------------------------------------------------------- tests

def test_sign_in_lands_on_the_protected_page_with_the_users_email(chromium, mock):
    chromium.open("/app/welcome?from=browser&n=1")
    params = chromium.at_sign_in()
    assert params["redirect_uri"] == chromium.url("/app/oauth2/callback"), params
    # The pending login waits in a cookie that must come back on the top-level GET from the other site.
    pending = chromium.pending()
    assert list(pending) == ["msoauth_state_" + params["state"]], pending
    cookie = pending["msoauth_state_" + params["state"]]
    assert (cookie["path"], cookie["httpOnly"], cookie["secure"], cookie.get("sameSite")) == \
        ("/", True, True, "Lax"), cookie

    chromium.approve("work")
    page = chromium.landed("/app/welcome?from=browser&n=1")
    assert page["vars"]["MSOAUTH_EMAIL"] == WORK_EMAIL, page["vars"]
    assert page["vars"]["REMOTE_USER"] == WORK["claims"]["oid"]
    assert page["vars"]["AUTH_TYPE"] == "msoauth"
    assert page["h1"] == "Hello, %s" % WORK_NAME
    assert chromium.pending() == {}, "the pending-login cookie outlived the sign-in"
    assert "app_session" in chromium.cookies()

    # Signed in: another page of the application opens straight away, without Microsoft.
    signins = len(authorize_requests(mock))
    chromium.open("/app/another")
    page = chromium.landed("/app/another")
    assert page["vars"]["MSOAUTH_EMAIL"] == WORK_EMAIL
    assert len(authorize_requests(mock)) == signins


def test_sign_in_from_two_tabs_at_once(chromium, mock):
    # Both tabs reach the sign-in page before either is approved: two pending logins side by side.
    chromium.open("/x/both/php?tab=1")
    first = chromium.at_sign_in()
    tab1 = chromium.driver.current_window_handle
    chromium.driver.switch_to.new_window("tab")
    tab2 = chromium.driver.current_window_handle
    chromium.open("/x/both/cgi?tab=2")
    second = chromium.at_sign_in()
    assert first["state"] != second["state"]
    assert set(chromium.pending()) == {"msoauth_state_" + first["state"], "msoauth_state_" + second["state"]}

    chromium.driver.switch_to.window(tab1)
    chromium.approve("work")
    php = chromium.landed("/x/both/php?tab=1")
    assert php["vars"]["MSOAUTH_EMAIL"] == WORK_EMAIL, php["vars"]

    chromium.driver.switch_to.window(tab2)
    chromium.approve("work")
    cgi = chromium.landed("/x/both/cgi?tab=2")
    assert cgi["vars"]["MSOAUTH_EMAIL"] == WORK_EMAIL, cgi["vars"]
    assert chromium.pending() == {}, "a pending-login cookie outlived its sign-in"

    # The first tab is still signed in after the second sign-in.
    chromium.driver.switch_to.window(tab1)
    chromium.driver.refresh()
    assert chromium.landed("/x/both/php?tab=1")["vars"]["MSOAUTH_EMAIL"] == WORK_EMAIL


def test_cancel_shows_the_cancelled_page(chromium):
    chromium.open("/app/cancel-me")
    chromium.at_sign_in()
    chromium.cancel()
    page = chromium.wait("the module's cancelled page", lambda p: p["url"].startswith(
        chromium.url("/app/oauth2/callback?")) and "Sign-in was cancelled" in p["text"])
    assert page["status"] == 401, page
    assert "app_session" not in chromium.cookies()
    # Still signed out: the protected page asks to sign in again.
    chromium.open("/app/cancel-me")
    chromium.at_sign_in()


def test_sign_out_then_the_protected_page_asks_to_sign_in_again(chromium, mock):
    mock.configure(id_token_claims={"login_hint": LOGIN_HINT})
    chromium.sign_in("/app/before")
    # ?logout= goes through Microsoft's end-session endpoint, which sends the browser back to the path: a protected
    # page, so a signed-out browser lands on the sign-in page once more.
    chromium.open("/app/oauth2/callback?logout=" + urllib.parse.quote("/app/after?bye=1", safe=""))
    again = chromium.at_sign_in()
    logouts = mock.requests("logout")
    assert len(logouts) == 1, logouts
    q = logouts[0]["query"]
    assert q["post_logout_redirect_uri"] == chromium.url("/app/after?bye=1"), q
    assert q["client_id"] == CLIENT_A and q.get("logout_hint") == LOGIN_HINT, q
    assert authorize_requests(mock)[-1]["query"]["state"] == again["state"]
    session = chromium.cookies().get("app_session")
    assert session is None or session["value"] == "", session

    # Any protected page asks, not only the one sign-out returned to.
    chromium.open("/app/before")
    chromium.at_sign_in()
    chromium.approve("work")
    assert chromium.landed("/app/before")["vars"]["MSOAUTH_EMAIL"] == WORK_EMAIL


def test_sign_in_with_form_post(chromium, mock, server):
    chromium.open("/fp/welcome?from=browser")
    params = chromium.at_sign_in()
    assert params["response_mode"] == "form_post", params
    # Microsoft's form POSTs from its own site: only a SameSite=None (hence Secure) cookie comes along. The
    # attribute is checked as well as the outcome, because Chromium lets a cookie without SameSite ride a
    # cross-site POST for its first two minutes (the "Lax+POST" grace). A cookie without SameSite would pass
    # here and then fail for a user who takes longer to sign in.
    cookie = chromium.pending().get("msoauth_state_" + params["state"])
    assert cookie is not None, chromium.pending()
    assert (cookie.get("sameSite"), cookie["secure"], cookie["httpOnly"]) == ("None", True, True), cookie

    log = os.path.join(server.workdir, "access.log")
    mark = os.path.getsize(log)
    chromium.approve("work")
    page = chromium.landed("/fp/welcome?from=browser")
    assert page["vars"]["MSOAUTH_EMAIL"] == WORK_EMAIL, page["vars"]
    assert chromium.pending() == {}
    # The code came in a POST body: it never shows in a URL the browser went to or in the access log.
    with open(log, errors="replace") as f:
        f.seek(mark)
        requests = f.readlines()
    assert any('"POST /fp/oauth2/callback HTTP/1.1" 302' in line for line in requests), requests
    assert not any("code=" in line for line in requests), requests
