#!/usr/bin/python3
"""Per-request cost of a signed-in request, against plain Apache in the same run.

Starts the mock Microsoft and one Apache (plain http on 127.0.0.1, one event-MPM child) serving the same
small static file three ways: /plain/ (no authentication), /app/ (AuthType msoauth, module sealing only),
/appcrypto/ (AuthType msoauth plus mod_session_crypto, which the module does not need). Signs in once with
requests, then runs wrk with the session cookie against each. Prints requests/s and the ratio to /plain/.
Loopback only; every wrk run is bounded (-d seconds).

    make bench            (or: /usr/bin/python3 bench/bench.py --seconds 10 --connections 16)
"""
import argparse
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "integration"))

import harness  # noqa: E402
import mockms  # noqa: E402


def wrk(url, cookie, seconds, connections, threads=2):
    cmd = ["wrk", "-t%d" % threads, "-c%d" % connections, "-d%ds" % seconds, "--latency"]
    if cookie:
        cmd += ["-H", "Cookie: " + cookie]
    out = subprocess.run(cmd + [url], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         timeout=seconds + 30).stdout.decode()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    p50 = re.search(r"50%\s+(\S+)", out)
    return rps, int(non2xx.group(1)) if non2xx else 0, p50.group(1) if p50 else "?"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()

    work = harness.make_workdir("msoauth-bench-")
    pki = harness.PKI(os.path.join(work, "pki"))
    mock = harness.MockMS(pki).start()
    apache = None
    try:
        docroot = os.path.join(work, "htdocs")
        os.makedirs(docroot)
        os.chmod(docroot, 0o755)
        harness.write_file(os.path.join(docroot, "hello.html"), "<p>hello</p>\n" * 10)
        client_id = mockms.CLIENT_A
        client_secret = mockms.CLIENTS[client_id]
        port = harness.free_port()
        common = ["AuthType msoauth", "Require valid-user", "Session On",
                  "SessionCookieName bench_session path=/;HttpOnly;SameSite=Lax"]
        lines = [
            'DocumentRoot "%s"' % docroot,
            '<Directory "%s">' % docroot, "    Require all granted", "</Directory>",
            'Alias /plain "%s"' % docroot, 'Alias /app "%s"' % docroot, 'Alias /appcrypto "%s"' % docroot,
            "MSOAuthClientID %s" % client_id,
            "MSOAuthClientSecret %s" % client_secret,
            "MSOAuthCryptoPassphrase bench-passphrase-0123456789abcdef",
            "MSOAuthAuthority %s" % mock.base,
            "MSOAuthGraphURL %s/v1.0" % mock.base,
            'MSOAuthCAFile "%s"' % pki.ca,
            "<Location /app>"] + ["    " + l for l in common] + [
            "    MSOAuthRedirectURI /app/oauth2/callback", "</Location>",
            "<Location /appcrypto>"] + ["    " + l for l in common] + [
            "    MSOAuthRedirectURI /appcrypto/oauth2/callback",
            "    SessionCryptoPassphrase another-secret", "</Location>"]
        vh = harness.VHost(port, tls=False, directives=lines)
        conf = harness.apache_config(work, [vh], module=harness.module_path(), log_level="warn")
        conf = conf.replace("ThreadsPerChild 25", "ThreadsPerChild 64").replace(
            "ThreadLimit 25", "ThreadLimit 64").replace("MaxRequestWorkers 25", "MaxRequestWorkers 64")
        apache = harness.Apache(work, conf, [port]).start()
        base = "http://127.0.0.1:%d" % port

        cookies = {}
        for loc in ("app", "appcrypto"):
            s = harness.http_session(pki.ca)
            r = s.get(base + "/%s/hello.html" % loc, allow_redirects=False)
            auth = r.headers["Location"] + "&mock_user=work&mock_action=approve"
            r = s.get(auth, allow_redirects=False)
            r = s.get(r.headers["Location"], allow_redirects=False)
            assert r.status_code == 302, r.text
            r = s.get(base + "/%s/hello.html" % loc, allow_redirects=False)
            assert r.status_code == 200, r.status_code
            cookies[loc] = "bench_session=" + s.cookies.get("bench_session")
        before = mock.stats()

        print("wrk: %d s per run, %d connections, 2 threads, %d rounds; one httpd child, 2 cores, loopback"
              % (args.seconds, args.connections, args.rounds))
        results = {"plain": [], "app": [], "appcrypto": []}
        for _ in range(args.rounds):
            for name in results:
                results[name].append(wrk(base + "/%s/hello.html" % name, cookies.get(name), args.seconds,
                                         args.connections))
        plain = max(r[0] for r in results["plain"])
        for name, runs in results.items():
            best = max(runs, key=lambda r: r[0])
            print("%-10s %9.0f req/s  (p50 %s, non-2xx %d)  ratio to plain %.2f"
                  % ("/" + name + "/", best[0], best[2], sum(r[1] for r in runs), best[0] / plain))
        after = mock.stats()
        print("requests to the mock Microsoft during the runs: %s"
              % ("none" if before == after else "%s -> %s" % (before, after)))
    finally:
        if apache:
            apache.stop()
        mock.stop()


if __name__ == "__main__":
    main()
