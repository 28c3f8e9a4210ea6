"""A mock of the Microsoft identity platform (v2.0 endpoints) and of Microsoft Graph /me, for tests and the demo.

    /usr/bin/python3 mockms.py --port P --cert server.pem --key server.key [--host 127.0.0.1] [--port P2 ...]
    /usr/bin/python3 mockms.py --port P --http      (plain http: for `make demo`, so that a browser shows the
                                                     sign-in page without a certificate warning)

Serves HTTPS, prints "ready https://HOST:PORT ..." when listening (--port 0 picks a free port). Several --port
options serve the same users, keys and config on several ports: each port is a separate "authority" for the
module under test, with its own (cold) discovery and JWKS cache.
Endpoints (base = https://HOST:PORT):
  GET  /{tenant}/v2.0/.well-known/openid-configuration   discovery ({tenantid} template for common/organizations/consumers)
  GET  /{tenant}/discovery/v2.0/keys       JWKS (the discovery's jwks_uri names the same tenant, as Microsoft's does)
  GET  /{tenant}/oauth2/v2.0/authorize     sign-in page, or with mock_user=NAME[&mock_action=approve|cancel] a 302 back
  POST /{tenant}/oauth2/v2.0/token         authorization code + PKCE exchange, RS256 id_token
  GET  /v1.0/me                            Graph profile for the access token
Test control (not part of Microsoft's API):
  POST /_mock/config  JSON object merged into the misbehaviour config     POST /_mock/reset  clears it
  GET  /_mock/config  the current config
  GET  /_mock/stats   request counts per endpoint (+ last_jwks_fetch)     POST /_mock/stats/reset
  GET  /_mock/requests  the recent requests (endpoint, path, query, form, authorization header)
  GET  /_mock/issued  the codes, verifiers, access tokens and id_tokens handed out since the last stats reset
  GET  /_mock/users   the users, with their id_token claims and Graph profiles

Misbehaviour keys (see MISBEHAVIOUR below for the full list and meanings).
"""
import argparse
import base64
import copy
import hashlib
import hmac
import html
import json
import secrets
import ssl
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

PERSONAL_TID = "9188040d-6c67-4c5b-b112-36a304b66dad"
WORK_TID = "3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b"
WORK2_TID = "d4c3b2a1-0f9e-4d8c-b7a6-958473625140"
TENANT_DOMAINS = {"contoso.example": WORK_TID, "fabrikam.example": WORK2_TID}

# Registered applications: client id -> client secret.
CLIENT_A = "00000000-1111-2222-3333-444444444444"
CLIENT_B = "55555555-6666-7777-8888-999999999999"
CLIENTS = {
    CLIENT_A: "Xq8~client-A-secret.Zk3pW9vR2mT7yL4nB6cD1fG5hJ0",
    CLIENT_B: "Yr9~client-B-secret.Ab4qX0wS3nU8zM5oC7eF2gH6iK1",
}

# The users one can sign in as. "claims" are the id_token's user claims; "graph" is /v1.0/me.
USERS = {
    "personal": {
        "label": "Pat O'Brien (personal Microsoft account, outlook.com)",
        "claims": {"name": "Pat O'Brien", "oid": "00000000-0000-0000-6e7b-768e07e4f2b3",
                   "preferred_username": "pat.obrien@outlook.com", "email": "pat.obrien@outlook.com",
                   "tid": PERSONAL_TID},
        # Graph gives personal accounts a short hex id and no "mail": the e-mail comes from the claims.
        "graph": {"id": "6e7b768e07e4f2b3", "displayName": "Pat O'Brien", "givenName": "Pat",
                  "surname": "O'Brien", "mail": None, "userPrincipalName": "pat.obrien@outlook.com"},
    },
    "work": {
        "label": "José María Müller-Lüdenscheidt (work account, Contoso)",
        "claims": {"name": "José María Müller-Lüdenscheidt", "oid": "7c1f2e3d-4b5a-4968-8776-a5b4c3d2e1f0",
                   "preferred_username": "jmueller@contoso.example", "tid": WORK_TID,
                   "roles": ["Reader", "Writer"]},
        "graph": {"id": "7c1f2e3d-4b5a-4968-8776-a5b4c3d2e1f0", "displayName": "José María Müller-Lüdenscheidt",
                  "givenName": "  José   María ", "surname": "Müller-Lüdenscheidt",
                  "mail": "jose.mueller@contoso.example", "userPrincipalName": "jmueller@contoso.example"},
    },
    "work2": {
        "label": "Kim Lee (work account, Fabrikam)",
        "claims": {"name": "Kim Lee", "oid": "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
                   "preferred_username": "kim.lee@fabrikam.example", "email": "kim.lee@fabrikam.example",
                   "tid": WORK2_TID},
        "graph": {"id": "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d", "displayName": "Kim Lee", "givenName": "Kim",
                  "surname": "Lee", "mail": "kim.lee@fabrikam.example",
                  "userPrincipalName": "kim.lee@fabrikam.example"},
    },
    # No "email" claim, no Graph mail: the e-mail falls back to the user principal name.
    "upnonly": {
        "label": "Uma Upn (work account, no mailbox)",
        "claims": {"name": "Uma Upn", "oid": "b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e",
                   "preferred_username": "uma.upn@contoso.example", "tid": WORK_TID},
        "graph": {"id": "b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e", "displayName": "Uma Upn", "givenName": "Uma",
                  "surname": "Upn", "mail": None, "userPrincipalName": "uma.upn@contoso.example"},
    },
    # Signs in with a phone number: no '@' anywhere, so no e-mail at all; no name either.
    "noemail": {
        "label": "(no name, phone sign-in, work account)",
        "claims": {"oid": "c3d4e5f6-a7b8-4c9d-8e0f-2a3b4c5d6e7f", "preferred_username": "+15550100",
                   "tid": WORK_TID},
        "graph": {"id": "c3d4e5f6-a7b8-4c9d-8e0f-2a3b4c5d6e7f", "displayName": None, "givenName": None,
                  "surname": None, "mail": None, "userPrincipalName": "+15550100"},
    },
}

MISBEHAVIOUR = {
    # key: meaning (all off when absent)
    "token_error": "true | error code | {error, error_description, error_codes, status}: Microsoft-shaped error",
    "token_status": "HTTP status of the token response (with token_body: a raw body)",
    "token_body": "raw token response body (e.g. not JSON)",
    "token_content_type": "Content-Type for token_body",
    "token_down": "true | status | 'close': the token endpoint fails (500 by default; 'close' drops the connection)",
    "token_delay": "seconds to sleep before answering the token request",
    "token_oversize": "true: a 2 MiB (valid JSON) token response",
    "token_response": "dict merged over the successful token response (value null deletes a field)",
    "discovery_down": "true | status | 'close': discovery fails (500 by default; 'close' drops the connection)",
    "discovery_delay": "seconds to sleep before answering discovery",
    "discovery_body": "raw discovery body",
    "discovery_oversize": "true: a 2 MiB (valid JSON) discovery document",
    "discovery_issuer": "issuer to put in the discovery document",
    "jwks_down": "true | status | 'close': the JWKS endpoint fails",
    "jwks_delay": "seconds to sleep before answering the JWKS request",
    "jwks_key_issuer": "the 'issuer' field of every JWKS key",
    "graph_status": "HTTP status for /v1.0/me (e.g. 500)",
    "graph_delay": "seconds to sleep before answering /v1.0/me",
    "graph_profile": "dict merged over the user's Graph profile (value null sets null)",
    "id_token_alg": "'none' | 'HS256' (HMAC with the client secret) | 'RS512' | 'RS256'",
    "id_token_claims": "dict merged over the id_token claims (value null deletes the claim)",
    "id_token_header": "dict merged over the id_token header (value null deletes the field)",
    "id_token_kid": "kid to put in the id_token header",
    "id_token_bad_signature": "true: flip a bit of the signature",
    "sign_with_unlisted_key": "true: sign with a key that is not in the JWKS",
    "rotate_key": "true (an action): a new key is added to the JWKS and signs the tokens from now on",
}


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def int_b64url(n):
    return b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))


def random_token(nbytes=32):
    return b64url(secrets.token_bytes(nbytes))


class SigningKey:
    def __init__(self):
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        der = self.private.public_key().public_bytes(serialization.Encoding.DER,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo)
        # Microsoft's kids look like a base64url SHA-1 thumbprint; so do ours.
        self.kid = b64url(hashlib.sha1(der).digest())

    def jwk(self, issuer):
        numbers = self.private.public_key().public_numbers()
        return {"kty": "RSA", "use": "sig", "kid": self.kid, "x5t": self.kid,
                "n": int_b64url(numbers.n), "e": int_b64url(numbers.e), "issuer": issuer}


def merge(base, overrides):
    """Return base updated with overrides; an override of None deletes the key."""
    out = dict(base)
    for k, v in (overrides or {}).items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = v
    return out


class MockState:
    def __init__(self):
        self.lock = threading.Lock()
        self.config = {}
        self.keys = [SigningKey()]          # published in the JWKS; the last one signs
        self.unlisted = SigningKey()        # never published
        self.codes = {}                     # code -> pending authorization
        self.tokens = {}                    # access token -> user name
        self.stats = {}
        self.requests = []
        self.issued = []                    # what the token endpoint handed out (tests check it never leaks)
        self.reset_stats()

    def reset_stats(self):
        # last_jwks_fetch survives a reset: tests use it to wait out the module's JWKS refetch rate limit.
        last = self.stats.get("last_jwks_fetch") if self.stats else None
        self.stats = {"discovery": 0, "jwks": 0, "authorize": 0, "token": 0, "graph": 0, "other": 0,
                      "last_jwks_fetch": last}
        self.requests = []
        self.issued = []

    def count(self, endpoint, record):
        with self.lock:
            self.stats[endpoint] = self.stats.get(endpoint, 0) + 1
            if endpoint == "jwks":
                self.stats["last_jwks_fetch"] = time.time()
            self.requests.append(dict(record, endpoint=endpoint, time=time.time()))
            del self.requests[:-100]

    def cfg(self, key, default=None):
        with self.lock:
            return copy.deepcopy(self.config.get(key, default))


STATE = MockState()


def tenant_tid(tenant):
    """The tenant id for a GUID or a known domain, None for common/organizations/consumers, False if unknown."""
    if tenant in ("common", "organizations", "consumers"):
        return None
    try:
        return str(uuid.UUID(tenant))
    except ValueError:
        return TENANT_DOMAINS.get(tenant.lower(), False)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "MockMicrosoft/1.0"
    sys_version = ""

    # ------------------------------------------------------------------ plumbing
    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("mockms: %s %s\n" % (self.address_string(), fmt % args))

    @property
    def base(self):
        return self.server.base

    def send(self, status, body, content_type="application/json; charset=utf-8", headers=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store, no-cache")
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            # The client (the module under test) gave up, e.g. after its timeout: that is expected.
            self.close_connection = True

    def redirect(self, location):
        self.send(302, "", "text/plain", {"Location": location})

    def fail_or_close(self, how, what):
        """Serve an outage: how is True/status int/'close'."""
        if how == "close":
            self.close_connection = True
            try:
                self.connection.shutdown(2)
            except OSError:
                pass
            return
        status = how if isinstance(how, int) and not isinstance(how, bool) else 500
        self.send(status, "<html><body>%s is down (mock)</body></html>" % what, "text/html")

    def sleep_for(self, key):
        delay = STATE.cfg(key)
        if delay:
            time.sleep(float(delay))

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def record(self, endpoint, query=None, form=None):
        STATE.count(endpoint, {"method": self.command, "path": self.path, "query": query, "form": form,
                               "authorization": self.headers.get("Authorization"),
                               "content_type": self.headers.get("Content-Type"),
                               "user_agent": self.headers.get("User-Agent")})

    def ms_error(self, status, error, code, description, extra=None):
        """A Microsoft identity platform error body (extra may fix trace_id / correlation_id)."""
        extra = extra or {}
        trace = extra.get("trace_id") or str(uuid.uuid4())
        corr = extra.get("correlation_id") or str(uuid.uuid4())
        stamp = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())
        body = {"error": error,
                "error_description": "AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: %s"
                                     % (code, description, trace, corr, stamp),
                "error_codes": [code], "timestamp": stamp, "trace_id": trace, "correlation_id": corr,
                "error_uri": "%s/error?code=%d" % (self.base, code)}
        body.update(extra)
        self.send(status, body)

    # ------------------------------------------------------------------ routing
    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        parts = url.path.strip("/").split("/")
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        q = {k: v[0] for k, v in query.items()}
        try:
            if parts == ["_mock", "stats"]:
                with STATE.lock:
                    return self.send(200, dict(STATE.stats))
            if parts == ["_mock", "config"]:
                with STATE.lock:
                    return self.send(200, STATE.config)
            if parts == ["_mock", "requests"]:
                with STATE.lock:
                    return self.send(200, list(STATE.requests))
            if parts == ["_mock", "issued"]:
                with STATE.lock:
                    return self.send(200, list(STATE.issued))
            if parts == ["_mock", "users"]:
                return self.send(200, USERS)
            if len(parts) == 4 and parts[1:] == ["v2.0", ".well-known", "openid-configuration"]:
                return self.discovery(parts[0])
            if len(parts) == 4 and parts[1:] == ["discovery", "v2.0", "keys"]:
                return self.jwks()
            if len(parts) == 4 and parts[1:] == ["oauth2", "v2.0", "authorize"]:
                return self.authorize(parts[0], q)
            if parts == ["v1.0", "me"]:
                return self.graph_me()
            if parts == [""]:
                return self.send(200, "<html><body><h1>Mock Microsoft identity platform</h1></body></html>",
                                 "text/html; charset=utf-8")
        except Exception as e:  # a bug in the mock must show up in the test output, not as a hang
            sys.stderr.write("mockms: error serving %s: %r\n" % (self.path, e))
            return self.send(500, {"error": "mock_bug", "error_description": repr(e)})
        self.record("other", query=q)
        self.send(404, {"error": "not_found", "path": url.path})

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        parts = url.path.strip("/").split("/")
        body = self.read_body()
        try:
            if parts == ["_mock", "config"]:
                return self.set_config(json.loads(body or b"{}"))
            if parts == ["_mock", "reset"]:
                with STATE.lock:
                    STATE.config = {}
                return self.send(200, {})
            if parts == ["_mock", "stats", "reset"]:
                with STATE.lock:
                    STATE.reset_stats()
                return self.send(200, {})
            if len(parts) == 4 and parts[1:] == ["oauth2", "v2.0", "token"]:
                return self.token(parts[0], body)
        except Exception as e:
            sys.stderr.write("mockms: error serving %s: %r\n" % (self.path, e))
            return self.send(500, {"error": "mock_bug", "error_description": repr(e)})
        self.record("other")
        self.send(404, {"error": "not_found", "path": url.path})

    def set_config(self, update):
        if not isinstance(update, dict):
            return self.send(400, {"error": "config must be a JSON object"})
        unknown = sorted(set(update) - set(MISBEHAVIOUR))
        if unknown:
            return self.send(400, {"error": "unknown config keys: %s" % ", ".join(unknown)})
        if update.pop("rotate_key", False):
            key = SigningKey()
            with STATE.lock:
                STATE.keys.append(key)
        with STATE.lock:
            STATE.config.update(update)
            return self.send(200, {"config": STATE.config, "kids": [k.kid for k in STATE.keys],
                                   "unlisted_kid": STATE.unlisted.kid})

    # ------------------------------------------------------------------ identity platform
    def issuer_for(self, tenant):
        tid = tenant_tid(tenant)
        return "%s/%s/v2.0" % (self.base, "{tenantid}" if tid is None else tid)

    def discovery(self, tenant):
        self.record("discovery")
        self.sleep_for("discovery_delay")
        down = STATE.cfg("discovery_down")
        if down:
            return self.fail_or_close(down, "discovery")
        raw = STATE.cfg("discovery_body")
        if raw is not None:
            return self.send(200, raw)
        if tenant_tid(tenant) is False:
            return self.ms_error(400, "invalid_tenant", 90002, "Tenant '%s' not found." % tenant)
        b = self.base
        doc = {
            "token_endpoint": "%s/%s/oauth2/v2.0/token" % (b, tenant),
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": "%s/%s/discovery/v2.0/keys" % (b, tenant),
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": STATE.cfg("discovery_issuer") or self.issuer_for(tenant),
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": "%s/oidc/userinfo" % b,
            "authorization_endpoint": "%s/%s/oauth2/v2.0/authorize" % (b, tenant),
            "device_authorization_endpoint": "%s/%s/oauth2/v2.0/devicecode" % (b, tenant),
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": "%s/%s/oauth2/v2.0/logout" % (b, tenant),
            "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
                                 "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce",
                                 "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"],
            "kerberos_endpoint": "%s/%s/kerberos" % (b, tenant),
            "tenant_region_scope": None,
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
            "rbac_url": "https://pas.windows.net",
        }
        if STATE.cfg("discovery_oversize"):
            doc["padding"] = "x" * (2 * 1024 * 1024)
        self.send(200, doc)

    def jwks(self):
        self.record("jwks")
        self.sleep_for("jwks_delay")
        down = STATE.cfg("jwks_down")
        if down:
            return self.fail_or_close(down, "jwks")
        issuer = STATE.cfg("jwks_key_issuer") or "%s/{tenantid}/v2.0" % self.base
        with STATE.lock:
            keys = [k.jwk(issuer) for k in STATE.keys]
        self.send(200, {"keys": keys})

    def authorize(self, tenant, q):
        self.record("authorize", query=q)
        problems = []
        client_id = q.get("client_id", "")
        if client_id not in CLIENTS:
            return self.send(400, self.page("Sign in", "<p>AADSTS700016: Application with identifier '%s' was not "
                                            "found in the directory.</p>" % html.escape(client_id)),
                             "text/html; charset=utf-8")
        redirect_uri = q.get("redirect_uri", "")
        ru = urllib.parse.urlsplit(redirect_uri)
        if ru.scheme not in ("http", "https") or not ru.netloc or ru.fragment:
            return self.send(400, self.page("Sign in", "<p>AADSTS50011: The redirect URI '%s' specified in the "
                                            "request does not match the redirect URIs configured for the "
                                            "application.</p>" % html.escape(redirect_uri)),
                             "text/html; charset=utf-8")
        if q.get("response_type") != "code":
            problems.append("response_type must be code")
        if q.get("response_mode", "query") != "query":
            problems.append("response_mode must be query")
        if "openid" not in q.get("scope", "").split():
            problems.append("scope must contain openid")
        for name in ("state", "nonce", "code_challenge"):
            if not q.get(name):
                problems.append("%s is missing" % name)
        if q.get("code_challenge_method") != "S256":
            problems.append("code_challenge_method must be S256")
        if tenant_tid(tenant) is False:
            problems.append("tenant %s not found" % tenant)
        if problems:
            return self.send(400, self.page("Sign in", "<p>AADSTS900144: invalid request: %s</p>"
                                            % html.escape("; ".join(problems))), "text/html; charset=utf-8")

        user = q.get("mock_user")
        if not user:
            return self.send(200, self.signin_page(tenant, q), "text/html; charset=utf-8")
        state = q["state"]

        def back(**params):
            params["state"] = state
            sep = "&" if ru.query else "?"
            return self.redirect(redirect_uri + sep + urllib.parse.urlencode(params))

        corr = str(uuid.uuid4())
        if q.get("mock_error") or q.get("mock_action") == "cancel":
            desc = q.get("mock_error_description") or (
                "AADSTS65004: User declined to consent to access the app.\r\nTrace ID: %s\r\nCorrelation ID: %s\r\n"
                "Timestamp: %s" % (uuid.uuid4(), corr, time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())))
            return back(error=q.get("mock_error") or "access_denied", error_description=desc, correlation_id=corr)
        if user not in USERS:
            return self.send(400, self.page("Sign in", "<p>unknown mock user %s</p>" % html.escape(user)),
                             "text/html; charset=utf-8")
        tid = USERS[user]["claims"]["tid"]
        want = tenant_tid(tenant)
        personal = tid == PERSONAL_TID
        if ((tenant == "consumers" and not personal) or (tenant == "organizations" and personal)
                or (want and want != tid)):
            return back(error="invalid_request", correlation_id=corr,
                        error_description="AADSTS50020: User account from identity provider does not exist in "
                                          "tenant '%s' and cannot access the application." % tenant)
        code = "M.C5%s" % random_token(48)
        with STATE.lock:
            STATE.codes[code] = {"client_id": client_id, "redirect_uri": redirect_uri, "nonce": q["nonce"],
                                 "code_challenge": q["code_challenge"], "user": user, "scope": q.get("scope", ""),
                                 "tenant": tenant, "created": time.time(), "used": False}
        back(code=code)

    def page(self, title, body):
        return ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>%s</title>"
                "<style>body{font-family:Segoe UI,Helvetica,Arial,sans-serif;max-width:32em;margin:3em auto}"
                "label{display:block;margin:.4em 0}button{margin:1em .5em 0 0;padding:.4em 1.2em}</style>"
                "</head><body>%s</body></html>" % (html.escape(title), body))

    def signin_page(self, tenant, q):
        hidden = "".join('<input type="hidden" name="%s" value="%s">' % (html.escape(k), html.escape(v))
                         for k, v in q.items() if not k.startswith("mock_"))
        choices = "".join('<label><input type="radio" name="mock_user" value="%s"%s> %s</label>'
                          % (html.escape(name), " checked" if i == 0 else "", html.escape(u["label"]))
                          for i, (name, u) in enumerate(USERS.items()))
        body = ("<h1>Sign in</h1><p>Mock Microsoft sign-in (tenant <code>%s</code>) for application "
                "<code>%s</code>.</p><form method=\"get\" action=\"\">%s<fieldset><legend>Pick an account"
                "</legend>%s</fieldset><button name=\"mock_action\" value=\"approve\" type=\"submit\">Approve"
                "</button><button name=\"mock_action\" value=\"cancel\" type=\"submit\">Cancel</button></form>"
                % (html.escape(tenant), html.escape(q.get("client_id", "")), hidden, choices))
        return self.page("Sign in to your account", body)

    def token(self, tenant, body):
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode("utf-8", "replace"),
                                                           keep_blank_values=True).items()}
        self.record("token", form=form)
        self.sleep_for("token_delay")
        down = STATE.cfg("token_down")
        if down:
            return self.fail_or_close(down, "token")
        raw = STATE.cfg("token_body")
        if raw is not None or STATE.cfg("token_status"):
            return self.send(int(STATE.cfg("token_status") or 200), raw if raw is not None else "",
                             STATE.cfg("token_content_type") or "text/html; charset=utf-8")
        forced = STATE.cfg("token_error")
        if forced:
            spec = forced if isinstance(forced, dict) else {"error": forced if isinstance(forced, str) else
                                                            "invalid_grant"}
            code = (spec.get("error_codes") or [70008])[0]
            desc = spec.get("error_description_text",
                            "The provided authorization code or refresh token has expired due to inactivity. Send "
                            "a new interactive authorization request for this user and resource." if code == 70008
                            else "Mock error %d." % code)
            extra = {k: v for k, v in spec.items() if k not in ("status", "error_description_text")}
            return self.ms_error(int(spec.get("status", 400)), spec.get("error", "invalid_grant"), code, desc, extra)

        if ctype != "application/x-www-form-urlencoded":
            return self.ms_error(400, "invalid_request", 900144, "The request body must contain the following "
                                 "parameter: 'grant_type'. (Content-Type was %r)" % ctype)
        if form.get("grant_type") != "authorization_code":
            return self.ms_error(400, "unsupported_grant_type", 70003, "The app requested an unsupported grant "
                                 "type '%s'." % form.get("grant_type", ""))
        client_id = form.get("client_id", "")
        if client_id not in CLIENTS:
            return self.ms_error(400, "unauthorized_client", 700016, "Application with identifier '%s' was not "
                                 "found in the directory." % client_id)
        if not hmac.compare_digest(form.get("client_secret", "").encode(), CLIENTS[client_id].encode()):
            return self.ms_error(401, "invalid_client", 7000215, "Invalid client secret provided. Ensure the "
                                 "secret being sent in the request is the client secret value, not the client "
                                 "secret ID.")
        code = form.get("code", "")
        with STATE.lock:
            grant = STATE.codes.get(code)
            already = grant is not None and grant["used"]
            if grant is not None:
                grant["used"] = True
        if grant is None or time.time() - grant["created"] > 600:
            return self.ms_error(400, "invalid_grant", 70008, "The provided authorization code or refresh token "
                                 "has expired due to inactivity. Send a new interactive authorization request "
                                 "for this user and resource.")
        if already:
            return self.ms_error(400, "invalid_grant", 54005, "OAuth2 Authorization code was already redeemed, "
                                 "please retry with a new valid code or use an existing refresh token.")
        if grant["client_id"] != client_id:
            return self.ms_error(400, "invalid_grant", 70000, "The provided value for the 'code' parameter is "
                                 "not valid for this client.")
        if form.get("redirect_uri") != grant["redirect_uri"]:
            return self.ms_error(400, "invalid_grant", 70011, "The reply URL specified in the request does not "
                                 "match the reply URL used to obtain the authorization code.")
        verifier = form.get("code_verifier", "")
        if not verifier or b64url(hashlib.sha256(verifier.encode()).digest()) != grant["code_challenge"]:
            return self.ms_error(400, "invalid_grant", 501481, "The Code_Verifier does not match the "
                                 "code_challenge supplied in the authorization request.")

        user = USERS[grant["user"]]
        access_token = "EwA%s" % random_token(96)
        with STATE.lock:
            STATE.tokens[access_token] = grant["user"]
        scopes = [s for s in (form.get("scope") or grant["scope"]).split() if s]
        resp = {"token_type": "Bearer", "scope": " ".join(scopes), "expires_in": 3599, "ext_expires_in": 3599,
                "access_token": access_token,
                "id_token": self.id_token(client_id, grant["nonce"], user["claims"])}
        resp = merge(resp, STATE.cfg("token_response"))
        if STATE.cfg("token_oversize"):
            resp["padding"] = "x" * (2 * 1024 * 1024)
        with STATE.lock:
            STATE.issued.append({"code": code, "client_secret": form.get("client_secret"),
                                 "code_verifier": verifier, "access_token": resp.get("access_token"),
                                 "id_token": resp.get("id_token"), "user": grant["user"]})
            del STATE.issued[:-100]
        self.send(200, resp)

    def id_token(self, client_id, nonce, user_claims):
        now = int(time.time())
        claims = {"aud": client_id, "iss": "%s/%s/v2.0" % (self.base, user_claims["tid"]), "iat": now, "nbf": now,
                  "exp": now + 3600, "aio": random_token(30), "nonce": nonce, "rh": "0.A" + random_token(20),
                  "sub": b64url(hashlib.sha256((client_id + user_claims["oid"]).encode()).digest()),
                  "uti": random_token(16), "ver": "2.0"}
        claims.update(user_claims)
        claims = merge(claims, STATE.cfg("id_token_claims"))
        alg = STATE.cfg("id_token_alg") or "RS256"
        with STATE.lock:
            key = STATE.unlisted if STATE.config.get("sign_with_unlisted_key") else STATE.keys[-1]
        header = {"typ": "JWT", "alg": alg, "kid": STATE.cfg("id_token_kid") or key.kid}
        if alg in ("none", "HS256"):
            header.pop("kid")
        header = merge(header, STATE.cfg("id_token_header"))
        signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode()) + "." +
                         b64url(json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode("utf-8")))
        data = signing_input.encode("ascii")
        if alg == "none":
            sig = b""
        elif alg == "HS256":
            sig = hmac.new(CLIENTS[client_id].encode(), data, hashlib.sha256).digest()
        elif alg in ("RS256", "RS384", "RS512"):
            h = {"RS256": hashes.SHA256(), "RS384": hashes.SHA384(), "RS512": hashes.SHA512()}[alg]
            sig = key.private.sign(data, padding.PKCS1v15(), h)
        else:
            sig = key.private.sign(data, padding.PKCS1v15(), hashes.SHA256())
        if STATE.cfg("id_token_bad_signature") and sig:
            sig = bytes([sig[0] ^ 1]) + sig[1:]
        return signing_input + "." + b64url(sig)

    # ------------------------------------------------------------------ Graph
    def graph_me(self):
        self.record("graph")
        self.sleep_for("graph_delay")
        status = STATE.cfg("graph_status")
        if status:
            return self.send(int(status), {"error": {"code": "serviceNotAvailable",
                                                     "message": "The service is unavailable (mock)."}})
        auth = self.headers.get("Authorization") or ""
        token = auth[7:] if auth[:7].lower() == "bearer " else ""
        with STATE.lock:
            user = STATE.tokens.get(token)
        if user is None:
            return self.send(401, {"error": {"code": "InvalidAuthenticationToken",
                                             "message": "Access token is empty." if not token else
                                             "IDX14100: JWT is not well formed.",
                                             "innerError": {"date": time.strftime("%Y-%m-%dT%H:%M:%S"),
                                                            "request-id": str(uuid.uuid4())}}},
                             headers={"WWW-Authenticate": 'Bearer realm="", error="invalid_token"'})
        profile = {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity",
                   "businessPhones": [], "jobTitle": None, "mobilePhone": None, "officeLocation": None,
                   "preferredLanguage": None}
        profile.update(USERS[user]["graph"])
        profile.update(STATE.cfg("graph_profile") or {})
        self.send(200, profile)


class MockServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def handle_error(self, request, client_address):
        # Clients that drop the connection mid-handshake or mid-response are part of the tests.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ssl.SSLError, ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


def make_server(host, port, cert, key, verbose=False):
    """A mock on host:port: HTTPS with cert/key, or plain http when cert is None."""
    server = MockServer((host, port), Handler)
    if cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        # Handshake in the handler thread, not in accept(): a stalled client must not block the others.
        server.socket = ctx.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    server.base = "%s://%s:%d" % ("https" if cert else "http", host, server.server_address[1])
    server.verbose = verbose
    return server


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, action="append")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--http", action="store_true", help="plain http instead of HTTPS (no --cert/--key)")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    if not args.http and not (args.cert and args.key):
        ap.error("--cert and --key are required (or --http)")
    cert, key = (None, None) if args.http else (args.cert, args.key)
    servers = [make_server(args.host, port, cert, key, args.verbose) for port in args.port or [0]]
    for server in servers[1:]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print("ready %s" % " ".join(s.base for s in servers), flush=True)
    try:
        servers[0].serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        for server in servers:
            server.server_close()


if __name__ == "__main__":
    main()
