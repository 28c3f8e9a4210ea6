"""`make demo`: Apache on http://127.0.0.1:8080/ with a page protected by mod_auth_msoauth.

Without settings, sign-in goes through the bundled mock Microsoft (tests/integration/mockms.py, its HTML sign-in
page lets you pick a personal or a work account): no internet, no app registration needed.

With MSOAUTH_CLIENT_ID and MSOAUTH_CLIENT_SECRET (and optionally MSOAUTH_TENANT, default common) set, the real
Microsoft identity platform and Graph are used; register http://localhost:8080/demo/oauth2/callback as a Web
redirect URI of the app, and open http://localhost:8080/demo/ (localhost, not 127.0.0.1: the pending-login cookie
must be set on the host Microsoft sends the browser back to).

    /usr/bin/python3 demo/demo.py [--port 8080]       Ctrl-C stops everything.
"""
import argparse
import os
import secrets
import shutil
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "integration"))

import harness  # noqa: E402
import mockms  # noqa: E402

INDEX = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>mod_auth_msoauth demo</title>
<style>body{font-family:sans-serif;max-width:40em;margin:3em auto;line-height:1.5}</style></head>
<body><h1>mod_auth_msoauth demo</h1>
<p>This Apache protects <a href="/demo/">/demo/</a> with <code>AuthType msoauth</code>. Following the link sends
you to %(who)s to sign in; you come back to the page you asked for, and the CGI script there shows what the module
put in its environment (<code>REMOTE_USER</code>, <code>MSOAUTH_*</code>).</p>
<p>Try <a href="/demo/some/page?with=query&amp;and=more">a deeper URL with a query string</a> too: you return to
exactly that URL.</p>
</body></html>
"""


def write_index(workdir, who):
    htdocs = os.path.join(workdir, "htdocs")
    os.makedirs(htdocs)
    os.chmod(htdocs, 0o755)
    harness.write_file(os.path.join(htdocs, "index.html"), INDEX % {"who": who})
    return htdocs


def main():
    ap = argparse.ArgumentParser(description="Run Apache with mod_auth_msoauth and a demo page.")
    ap.add_argument("--port", type=int, default=8080)
    args = ap.parse_args()

    module = harness.module_path()
    if not os.path.exists(module):
        sys.exit("demo: %s is not built (run make)" % module)
    if harness.wait_for_port(args.port, timeout=0.1):
        sys.exit("demo: port %d on 127.0.0.1 is already in use" % args.port)

    client_id = os.environ.get("MSOAUTH_CLIENT_ID", "").strip()
    client_secret = os.environ.get("MSOAUTH_CLIENT_SECRET", "").strip()
    real = bool(client_id and client_secret)
    if bool(client_id) != bool(client_secret):
        sys.exit("demo: set both MSOAUTH_CLIENT_ID and MSOAUTH_CLIENT_SECRET (or neither, for the mock)")

    workdir = harness.make_workdir("msoauth-demo-")
    mock = apache = None
    status = 0
    try:
        harness.install_cgi(workdir)
        private = os.path.join(workdir, "private")
        os.makedirs(private, mode=0o700)
        passphrase = harness.write_file(os.path.join(private, "msoauth.key"), secrets.token_urlsafe(32) + "\n",
                                        0o600)
        directives = {"MSOAuthCryptoPassphrase": "file:" + passphrase}
        if real:
            secret = harness.write_file(os.path.join(private, "client.secret"), client_secret + "\n", 0o600)
            directives.update({"MSOAuthClientID": client_id,
                               "MSOAuthClientSecret": "file:" + secret,
                               "MSOAuthTenant": os.environ.get("MSOAUTH_TENANT", "").strip() or "common"})
            redirect = "http://localhost:%d/demo/oauth2/callback" % args.port
            site = "http://localhost:%d" % args.port
            who = "Microsoft"
        else:
            mock = harness.MockMS(None, log_path=os.path.join(workdir, "mock.log")).start()
            secret = harness.write_file(os.path.join(private, "client.secret"),
                                        mockms.CLIENTS[mockms.CLIENT_A] + "\n", 0o600)
            directives.update({"MSOAuthClientID": mockms.CLIENT_A,
                               "MSOAuthClientSecret": "file:" + secret,
                               "MSOAuthTenant": "common",
                               "MSOAuthAuthority": mock.base,
                               "MSOAuthGraphURL": mock.base + "/v1.0"})
            redirect = "/demo/oauth2/callback"
            site = "http://127.0.0.1:%d" % args.port
            who = "the bundled mock Microsoft sign-in page"
        htdocs = write_index(workdir, who)
        global_directives = "\n".join(harness.render_directives(directives, indent="").splitlines() + [
            '<Directory "%s">' % htdocs, "    Require all granted", "</Directory>"])
        vhost = harness.VHost(args.port, tls=False, directives={"DocumentRoot": '"%s"' % htdocs,
                                                                "DirectoryIndex": "index.html"},
                              locations={"/demo": {
                                  "AuthType": "msoauth",
                                  "Require": "valid-user",
                                  "MSOAuthRedirectURI": redirect,
                                  "Session": "On",
                                  "SessionCookieName": "demo_session path=/;HttpOnly;SameSite=Lax",
                                  "SessionCryptoPassphrase": secrets.token_urlsafe(24)}})
        conf = harness.apache_config(workdir, [vhost], global_directives=global_directives, module=module,
                                     log_level="warn auth_msoauth:info")
        apache = harness.Apache(workdir, conf, [args.port]).start()

        print()
        print("mod_auth_msoauth demo is running.")
        if real:
            print("  Microsoft app %s, tenant %s" % (client_id, directives["MSOAuthTenant"]))
            print("  Redirect URI to register (Web platform): %s" % redirect)
        else:
            print("  Sign-in through the mock Microsoft at %s (no internet needed)" % mock.base)
        print("  Open:       %s/demo/" % site)
        print("  Error log:  %s" % apache.error_log_path)
        print("  Ctrl-C stops it.")
        sys.stdout.flush()

        # Ctrl-C and kill both stop cleanly (SIGINT explicitly: a shell may start us with it ignored).
        signal.signal(signal.SIGTERM, _interrupt)
        signal.signal(signal.SIGINT, _interrupt)
        while True:
            time.sleep(1)
            if mock and mock.proc.poll() is not None:
                print("demo: the mock Microsoft stopped unexpectedly (see %s/mock.log)" % workdir)
                break
    except KeyboardInterrupt:
        print("\nstopping ...")
    except RuntimeError as e:
        print("demo: %s" % e, file=sys.stderr)
        status = 1
    finally:
        if apache:
            apache.stop()
        if mock:
            mock.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return status


def _interrupt(signum, frame):
    raise KeyboardInterrupt()


if __name__ == "__main__":
    sys.exit(main())
