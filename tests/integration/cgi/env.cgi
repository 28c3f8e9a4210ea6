#!/usr/bin/python3
"""CGI script for the integration tests and the demo: shows its environment.

JSON by default (what the tests read); an HTML table when the query string has format=html or the browser
asks for text/html first (the demo page); with format=raw, JSON of base64-encoded values, for byte-exact checks
of header values that are not UTF-8 (MSOAuthHeaderEncoding latin1).
"""
import base64
import html
import json
import os
import sys


def main():
    env = {k.decode("utf-8", "backslashreplace"): v.decode("utf-8", "backslashreplace")
           for k, v in os.environb.items()}
    query = env.get("QUERY_STRING", "")
    accept = env.get("HTTP_ACCEPT", "")
    out = sys.stdout.buffer
    if "format=raw" in query.split("&"):
        raw = {k.decode("utf-8", "backslashreplace"): base64.b64encode(v).decode("ascii")
               for k, v in os.environb.items()}
        body = json.dumps(raw, sort_keys=True, indent=1).encode("utf-8")
        out.write(b"Content-Type: application/json; charset=utf-8\r\n")
    elif "format=html" in query.split("&") or accept.startswith("text/html"):
        ours = sorted(k for k in env if k.startswith("MSOAUTH_") or k in ("REMOTE_USER", "AUTH_TYPE"))
        rest = sorted(k for k in env if k not in ours)

        def rows(keys):
            return "".join("<tr><th>%s</th><td>%s</td></tr>" % (html.escape(k), html.escape(env[k])) for k in keys)

        page = ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Signed in</title><style>"
                "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
                "th,td{border:1px solid #ccc;padding:.2em .6em;text-align:left;font-family:monospace}"
                "th{background:#f4f4f4}</style></head><body>"
                "<h1>Hello, %s</h1><p>This page is a CGI script protected by mod_auth_msoauth. "
                "What the module exported:</p><table>%s</table>"
                "<details><summary>The rest of the CGI environment</summary><table>%s</table></details>"
                "</body></html>" % (html.escape(env.get("MSOAUTH_FULL_NAME") or env.get("REMOTE_USER", "?")),
                                    rows(ours), rows(rest)))
        body = page.encode("utf-8")
        out.write(b"Content-Type: text/html; charset=utf-8\r\n")
    else:
        body = json.dumps(env, sort_keys=True, indent=1, ensure_ascii=False).encode("utf-8")
        out.write(b"Content-Type: application/json; charset=utf-8\r\n")
    out.write(b"Cache-Control: no-store\r\nContent-Length: %d\r\n\r\n" % len(body))
    out.write(body)
    out.flush()


main()
