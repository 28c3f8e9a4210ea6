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
                                           (response_mode=form_post: an auto-submitting HTML form POSTing to the
                                           redirect_uri instead; its fields also in the X-Mock-Form-Post header)
  POST /{tenant}/oauth2/v2.0/token         authorization code + PKCE exchange, RS256 id_token; a refresh_token
                                           when offline_access is in the scope; grant_type=refresh_token (rotating)
  GET  /{tenant}/oauth2/v2.0/logout        end-session: records its parameters, 302 to post_logout_redirect_uri
  GET  /v1.0/me                            Graph profile for the access token ($select honoured)
  GET  /v1.0/me/mailboxSettings/timeZone   the user's Windows time zone (404 without a mailbox)
  GET  /v1.0/me/photo/$value               the user's photo (404 without one)
  POST /v1.0/$batch                        JSON batch of the three above (photo bodies base64-encoded)
  GET  /v1.0/me/transitiveMemberOf         Graph group memberships, paged through @odata.nextLink (answered under
                                           any path prefix, so that a module following an off-site nextLink shows
                                           up in /_mock/requests as endpoint graph_groups)
Test control (not part of Microsoft's API):
  POST /_mock/config  JSON object merged into the misbehaviour config     POST /_mock/reset  clears it
  GET  /_mock/config  the current config
  GET  /_mock/stats   request counts per endpoint (+ last_jwks_fetch)     POST /_mock/stats/reset
  GET  /_mock/requests  the recent requests (endpoint, base, path, query, form, authorization header)
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
import struct
import sys
import threading
import time
import urllib.parse
import uuid
import zlib
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

# Groups (object ids) the tests name in Require msoauth-group.
GROUP_STAFF = "0f1e2d3c-4b5a-4697-8877-665544332211"
GROUP_ADMINS = "a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d"
GROUP_OTHER = "12345678-9abc-4def-8123-456789abcdef"

# The users one can sign in as. "claims" are the id_token's user claims; "graph" is /v1.0/me;
# "member_of" describes /v1.0/me/transitiveMemberOf (see member_of()).
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
    # A name with letters outside Latin-1 (MSOAuthHeaderEncoding latin1 turns those into '?').
    "intl": {
        "label": "Zoë Łukasiewicz 李 (work account, Contoso)",
        "claims": {"name": "Zoë Łukasiewicz 李", "oid": "d5e6f7a8-b9c0-4d1e-8f2a-3b4c5d6e7f80",
                   "preferred_username": "zoe.l@contoso.example", "tid": WORK_TID},
        "graph": {"id": "d5e6f7a8-b9c0-4d1e-8f2a-3b4c5d6e7f80", "displayName": "Zoë Łukasiewicz 李",
                  "givenName": "Zoë", "surname": "Łukasiewicz 李", "mail": "zoe.l@contoso.example",
                  "userPrincipalName": "zoe.l@contoso.example"},
    },
    # Group membership in the id_token's groups claim.
    "grouped": {
        "label": "Gus Group (work account, Contoso, in the Staff group: groups claim)",
        "claims": {"name": "Gus Group", "oid": "e6f7a8b9-c0d1-4e2f-8a3b-4c5d6e7f8091",
                   "preferred_username": "gus@contoso.example", "tid": WORK_TID,
                   "groups": [GROUP_OTHER, GROUP_STAFF]},
        "graph": {"id": "e6f7a8b9-c0d1-4e2f-8a3b-4c5d6e7f8091", "displayName": "Gus Group", "givenName": "Gus",
                  "surname": "Group", "mail": "gus@contoso.example", "userPrincipalName": "gus@contoso.example"},
    },
    # Too many groups for the token: Microsoft leaves the groups claim out and points at a claim source
    # (_claim_names / _claim_sources); the groups come from Graph, Staff on the third page.
    "overage": {
        "label": "Olga Overage (work account, Contoso, 250 groups: group overage, groups from Graph)",
        "claims": {"name": "Olga Overage", "oid": "f7a8b9c0-d1e2-4f3a-8b4c-5d6e7f8091a2",
                   "preferred_username": "olga@contoso.example", "tid": WORK_TID,
                   "_claim_names": {"groups": "src1"},
                   "_claim_sources": {"src1": {"endpoint": "https://graph.windows.net/%s/users/"
                                                           "f7a8b9c0-d1e2-4f3a-8b4c-5d6e7f8091a2/getMemberObjects"
                                                           % WORK_TID}}},
        "graph": {"id": "f7a8b9c0-d1e2-4f3a-8b4c-5d6e7f8091a2", "displayName": "Olga Overage",
                  "givenName": "Olga", "surname": "Overage", "mail": "olga@contoso.example",
                  "userPrincipalName": "olga@contoso.example"},
        "member_of": {"count": 250, "at": {230: GROUP_STAFF}},
    },
    # The other overage signal: "hasgroups": true; Admins on the second page of Graph's answer.
    "hasgroups": {
        "label": "Hal Hasgroups (work account, Contoso, hasgroups claim, groups from Graph)",
        "claims": {"name": "Hal Hasgroups", "oid": "a8b9c0d1-e2f3-4a4b-8c5d-6e7f8091a2b3",
                   "preferred_username": "hal@contoso.example", "tid": WORK_TID, "hasgroups": True},
        "graph": {"id": "a8b9c0d1-e2f3-4a4b-8c5d-6e7f8091a2b3", "displayName": "Hal Hasgroups",
                  "givenName": "Hal", "surname": "Hasgroups", "mail": "hal@contoso.example",
                  "userPrincipalName": "hal@contoso.example"},
        "member_of": {"count": 120, "at": {110: GROUP_ADMINS}},
    },
    # Optional claims: a domain-verified e-mail (xms_edov) and the preferred language (xms_pl); no Graph
    # preferredLanguage, so the claim is what MSOAUTH_LOCALE has.
    "verified": {
        "label": "Vera Verified (work account, Contoso, domain-verified e-mail, xms_pl fr-FR)",
        "claims": {"name": "Vera Verified", "oid": "b9c0d1e2-f3a4-4b5c-8d6e-7f8091a2b3c4",
                   "preferred_username": "vera@contoso.example", "email": "vera@contoso.example",
                   "tid": WORK_TID, "xms_edov": True, "xms_pl": "fr-FR"},
        "graph": {"id": "b9c0d1e2-f3a4-4b5c-8d6e-7f8091a2b3c4", "displayName": "Vera Verified",
                  "givenName": "Vera", "surname": "Verified", "mail": "vera@contoso.example",
                  "userPrincipalName": "vera@contoso.example"},
    },
}

# What name_control_chars puts in the name claim and the Graph names.
CONTROL_NAME = "Eve\r\nX-Injected: yes\tTab\x1b[31m\x7fDel\x00Nul\rEnd"


def member_of(user):
    """The directory objects Graph lists for user under /me/transitiveMemberOf: [(odata type, id)]. Generated
    groups (and a few directory roles, as Graph mixes them in), with the named groups at fixed positions."""
    spec = USERS[user].get("member_of") or {}
    out = []
    for i in range(spec.get("count", 0)):
        gid = spec.get("at", {}).get(i) or str(uuid.uuid5(uuid.NAMESPACE_URL, "mockms/%s/group/%d" % (user, i)))
        kind = "#microsoft.graph.directoryRole" if i % 50 == 7 else "#microsoft.graph.group"
        out.append((kind, gid))
    return out


def png(size, disc, background, pad_to=0):
    """A real size x size PNG (8-bit RGB): a disc of colour disc on background. pad_to: grow the file to that
    many bytes with an ancillary tEXt chunk (still a valid PNG), for size-cap tests."""
    centre, radius2 = (size - 1) / 2.0, (size * 0.4) ** 2
    rows = b"".join(b"\x00" + b"".join(bytes(disc if (x - centre) ** 2 + (y - centre) ** 2 <= radius2
                                                 else background) for x in range(size))
                    for y in range(size))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)

    head = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
    body = chunk(b"IDAT", zlib.compress(rows, 9))
    tail = chunk(b"IEND", b"")
    if pad_to > len(head) + len(body) + len(tail) + 20:
        body += chunk(b"tEXt", b"Comment\x00" + b"x" * (pad_to - len(head) - len(body) - len(tail) - 20))
    return head + body + tail


# A 1x1 GIF89a: a two-colour global table, one LZW-coded pixel (clear code, index 0, end code).
PHOTO_GIF = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00" + b"\x1f\x5f\xbf" + b"\xff\xff\xff" +
             b",\x00\x00\x00\x00\x01\x00\x01\x00\x00" + b"\x02\x02\x44\x01\x00" + b";")
PHOTO_PNG = png(40, (0x2b, 0x57, 0x9a), (0xe8, 0xec, 0xf1))
# No Windows time zone has this name: ICU cannot map it.
UNKNOWN_ZONE = "Middle Earth Standard Time"

# What Graph knows beyond /me (issue 5), per user: the mailbox time zone (a Windows name, as Exchange keeps it;
# None: no mailbox, Graph answers 404), preferredLanguage, and the photo ((content type, bytes); None: Graph's
# 404, as for many personal accounts). Users not listed have none of these.
PROFILE = {
    "work": {"timezone": "W. Europe Standard Time", "preferredLanguage": "de-DE", "photo": ("image/png", PHOTO_PNG)},
    "work2": {"timezone": "Pacific Standard Time", "photo": ("image/gif", PHOTO_GIF)},
    "personal": {"timezone": "Tokyo Standard Time", "photo": None},
    "intl": {"timezone": UNKNOWN_ZONE, "preferredLanguage": "pl-PL"},
    "upnonly": {"timezone": None},
}

GRAPH_UNAVAILABLE = {"error": {"code": "serviceNotAvailable", "message": "The service is unavailable (mock)."}}
# Real properties of Graph's user type that a $select may name (others get Graph's 400).
GRAPH_USER_PROPERTIES = {"id", "displayName", "givenName", "surname", "mail", "userPrincipalName", "preferredLanguage",
                         "jobTitle", "mobilePhone", "officeLocation", "businessPhones", "mailNickname", "department",
                         "companyName", "country", "city", "usageLocation", "otherMails", "userType",
                         "accountEnabled", "employeeId", "onPremisesSamAccountName", "createdDateTime"}

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
    "graph_status": "HTTP status for /v1.0/me and the whole /v1.0/$batch (e.g. 500)",
    "graph_delay": "seconds to sleep before answering /v1.0/me",
    "graph_profile": "dict merged over the user's Graph profile (value null sets null)",
    "graph_groups_status": "HTTP status for /v1.0/me/transitiveMemberOf (e.g. 500)",
    "graph_groups_page_size": "entries per page of /v1.0/me/transitiveMemberOf (default 100)",
    "graph_nextlink_base": "URL put in front of /me/transitiveMemberOf in @odata.nextLink instead of <base>/v1.0 "
                           "(e.g. a path or port that is not the module's MSOAuthGraphURL: it must not follow it)",
    "name_control_chars": "true: CR, LF, TAB, ESC, DEL and NUL in the name claim and the Graph names (CONTROL_NAME)",
    "id_token_alg": "'none' | 'HS256' (HMAC with the client secret) | 'RS512' | 'RS256'",
    "id_token_claims": "dict merged over the id_token claims (value null deletes the claim)",
    "id_token_header": "dict merged over the id_token header (value null deletes the field)",
    "id_token_kid": "kid to put in the id_token header",
    "id_token_bad_signature": "true: flip a bit of the signature",
    "sign_with_unlisted_key": "true: sign with a key that is not in the JWKS",
    "rotate_key": "true (an action): a new key is added to the JWKS and signs the tokens from now on",
    # issue 4: token lifetime, refresh
    "access_token_lifetime": "expires_in (s) of the access tokens of the code grant (default 3599; e.g. 61: the "
                             "module must refresh about a second later)",
    "refreshed_lifetime": "expires_in (s) of the access tokens of a refresh grant (default: access_token_lifetime)",
    "expires_in_string": "true: expires_in as a JSON string (\"3599\"), which Microsoft has been seen to send",
    "granted_scope": "the scope the token response reports as granted (default: the scopes asked for)",
    "refresh_error": "true | AADSTS code (70000: revoked, 700082: expired): refresh grants fail with invalid_grant",
    "refresh_delay": "seconds to sleep before answering a refresh grant (so that concurrent requests overlap)",
    "refresh_id_token": "true: a refresh grant's answer carries an id_token too (without, as is normal, it has none)",
    # issue 5: the rest of the profile
    "batch_status": "HTTP status for the whole /v1.0/$batch only (e.g. 500: the module falls back to GET /me)",
    "graph_me_status": "HTTP status of the /me answer inside a $batch",
    "mailbox_timezone": "the time zone every mailbox reports (instead of PROFILE's)",
    "mailbox_status": "HTTP status of mailboxSettings/timeZone (e.g. 404, 500)",
    "photo_status": "HTTP status of photo/$value (e.g. 404, 500)",
    "photo_content_type": "Content-Type of the photo (e.g. text/html)",
    "photo_size": "bytes: every user's photo is a PNG of that size",
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
        self.refresh_tokens = {}            # refresh token -> {user, client_id, scope, uses}
        self.reset_stats()

    def reset_stats(self):
        # last_jwks_fetch survives a reset: tests use it to wait out the module's JWKS refetch rate limit.
        last = self.stats.get("last_jwks_fetch") if self.stats else None
        self.stats = {"discovery": 0, "jwks": 0, "authorize": 0, "token": 0, "graph": 0, "graph_groups": 0, "other": 0,
                      "refresh": 0, "refresh_reused": 0, "logout": 0, "last_jwks_fetch": last}
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

    def record(self, endpoint, query=None, form=None, **extra):
        STATE.count(endpoint, dict({"method": self.command, "base": self.base, "path": self.path, "query": query,
                                    "form": form,
                                    "authorization": self.headers.get("Authorization"),
                                    "content_type": self.headers.get("Content-Type"),
                                    "user_agent": self.headers.get("User-Agent")}, **extra))

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
            if len(parts) == 4 and parts[1:] == ["oauth2", "v2.0", "logout"]:
                return self.end_session(parts[0], q)
            if parts == ["v1.0", "me"]:
                return self.graph_me(q)
            if parts[-2:] == ["me", "transitiveMemberOf"]:
                return self.graph_member_of(q)
            if parts[:2] == ["v1.0", "me"] and len(parts) > 2:
                return self.graph_get_extra("/" + urllib.parse.unquote("/".join(parts[1:])))
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
            if parts == ["v1.0", "$batch"]:
                return self.graph_batch(body)
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
        if q.get("response_mode", "query") not in ("query", "form_post"):
            problems.append("response_mode must be query or form_post")
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
            if q.get("response_mode") == "form_post":
                return self.form_post(redirect_uri, params)
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

    def form_post(self, redirect_uri, params):
        """response_mode=form_post: the page Microsoft answers with, a form that POSTs the parameters to the
        redirect URI as soon as it loads. X-Mock-Form-Post carries the same fields, urlencoded, for clients
        that run no script."""
        fields = "".join('<input type="hidden" name="%s" value="%s" />' % (html.escape(k), html.escape(str(v)))
                         for k, v in params.items())
        body = ('<html><head><title>Working...</title></head><body><form method="POST" name="hiddenform" '
                'action="%s">%s<noscript><p>Script is disabled. Click Submit to continue.</p>'
                '<input type="submit" value="Submit" /></noscript></form>'
                '<script language="javascript">document.forms[0].submit();</script></body></html>'
                % (html.escape(redirect_uri), fields))
        self.send(200, body, "text/html; charset=utf-8",
                  {"X-Mock-Form-Post": urllib.parse.urlencode(params), "X-Mock-Form-Action": redirect_uri})

    def end_session(self, tenant, q):
        """Microsoft's end-session endpoint: the user is signed out there, then sent to post_logout_redirect_uri
        (Microsoft checks it against the registration; the mock takes any http(s) URL)."""
        self.record("logout", query=q)
        target = q.get("post_logout_redirect_uri", "")
        if urllib.parse.urlsplit(target).scheme in ("http", "https"):
            return self.redirect(target)
        self.send(200, self.page("Sign out", "<p>You signed out of your account (tenant %s).</p>"
                                 % html.escape(tenant)), "text/html; charset=utf-8")

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
        refresh = form.get("grant_type") == "refresh_token"
        self.record("refresh" if refresh else "token", form=form)
        self.sleep_for("token_delay")
        if refresh:
            self.sleep_for("refresh_delay")
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
        if refresh:
            return self.refresh_grant(form)
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
        scopes = [s for s in (form.get("scope") or grant["scope"]).split() if s]
        resp = self.new_tokens(client_id, grant["user"], scopes, STATE.cfg("access_token_lifetime"))
        resp["id_token"] = self.id_token(client_id, grant["nonce"], user["claims"])
        resp = merge(resp, STATE.cfg("token_response"))
        if STATE.cfg("token_oversize"):
            resp["padding"] = "x" * (2 * 1024 * 1024)
        with STATE.lock:
            STATE.issued.append({"code": code, "client_secret": form.get("client_secret"),
                                 "code_verifier": verifier, "access_token": resp.get("access_token"),
                                 "id_token": resp.get("id_token"), "refresh_token": resp.get("refresh_token"),
                                 "grant": "authorization_code", "user": grant["user"]})
            del STATE.issued[:-100]
        self.send(200, resp)

    def new_tokens(self, client_id, user, scopes, lifetime):
        """A successful token response without the id_token: an access token that Graph accepts, and a refresh
        token when offline_access was asked for (as Microsoft does)."""
        lifetime = lifetime if lifetime is not None else 3599
        access_token = "EwA%s" % random_token(96)
        resp = {"token_type": "Bearer", "scope": STATE.cfg("granted_scope") or " ".join(scopes),
                "expires_in": str(lifetime) if STATE.cfg("expires_in_string") else lifetime,
                "ext_expires_in": lifetime, "access_token": access_token}
        with STATE.lock:
            STATE.tokens[access_token] = user
            if "offline_access" in scopes:
                resp["refresh_token"] = "M.C5%s" % random_token(160)
                STATE.refresh_tokens[resp["refresh_token"]] = {"user": user, "client_id": client_id,
                                                               "scopes": scopes, "uses": 0}
        return resp

    def refresh_grant(self, form):
        """grant_type=refresh_token: new access token, new refresh token (the old one stays usable, as at
        Microsoft; stats count refresh grants and reuses of an already used refresh token); no id_token unless
        refresh_id_token is set."""
        client_id = form.get("client_id", "")
        if client_id not in CLIENTS or not hmac.compare_digest(form.get("client_secret", "").encode(),
                                                               CLIENTS[client_id].encode()):
            return self.ms_error(401, "invalid_client", 7000215, "Invalid client secret provided.")
        forced = STATE.cfg("refresh_error")
        if forced:
            code = forced if isinstance(forced, int) and not isinstance(forced, bool) else 70000
            desc = {70000: "The provided grant has expired due to it being revoked, a fresh auth token is needed. "
                           "The user might have changed or reset their password.",
                    700082: "The refresh token has expired due to inactivity. The token was issued on "
                            "2026-06-01T09:00:00Z and was inactive for 90.00:00:00."}.get(code, "Mock error %d." % code)
            return self.ms_error(400, "invalid_grant", code, desc)
        presented = form.get("refresh_token", "")
        with STATE.lock:
            grant = STATE.refresh_tokens.get(presented)
            if grant is not None:
                grant["uses"] += 1
                if grant["uses"] > 1:
                    STATE.stats["refresh_reused"] += 1
        if grant is None:
            return self.ms_error(400, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
        if grant["client_id"] != client_id:
            return self.ms_error(400, "invalid_grant", 70000, "The provided value for the 'refresh_token' is not "
                                 "valid for this client.")
        scopes = [s for s in (form.get("scope") or " ".join(grant["scopes"])).split() if s]
        lifetime = STATE.cfg("refreshed_lifetime", STATE.cfg("access_token_lifetime"))
        resp = self.new_tokens(client_id, grant["user"], scopes, lifetime)
        if STATE.cfg("refresh_id_token"):
            resp["id_token"] = self.id_token(client_id, None, USERS[grant["user"]]["claims"])
        with STATE.lock:
            STATE.issued.append({"grant": "refresh_token", "refresh_token_in": presented, "client_secret":
                                 form.get("client_secret"), "access_token": resp["access_token"],
                                 "refresh_token": resp.get("refresh_token"), "id_token": resp.get("id_token"),
                                 "user": grant["user"]})
            del STATE.issued[:-100]
        self.send(200, resp)

    def id_token(self, client_id, nonce, user_claims):
        now = int(time.time())
        claims = {"aud": client_id, "iss": "%s/%s/v2.0" % (self.base, user_claims["tid"]), "iat": now, "nbf": now,
                  "exp": now + 3600, "aio": random_token(30), "nonce": nonce, "rh": "0.A" + random_token(20),
                  "sub": b64url(hashlib.sha256((client_id + user_claims["oid"]).encode()).digest()),
                  "uti": random_token(16), "ver": "2.0"}
        if nonce is None:
            del claims["nonce"]     # a refresh grant's id_token has none
        claims.update(user_claims)
        if STATE.cfg("name_control_chars"):
            claims["name"] = CONTROL_NAME
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
    def graph_user(self):
        """The user of the request's bearer token, or None after sending Graph's 401."""
        auth = self.headers.get("Authorization") or ""
        token = auth[7:] if auth[:7].lower() == "bearer " else ""
        with STATE.lock:
            user = STATE.tokens.get(token)
        if user is None:
            self.send(401, {"error": {"code": "InvalidAuthenticationToken",
                                      "message": "Access token is empty." if not token else
                                      "IDX14100: JWT is not well formed.",
                                      "innerError": {"date": time.strftime("%Y-%m-%dT%H:%M:%S"),
                                                     "request-id": str(uuid.uuid4())}}},
                      headers={"WWW-Authenticate": 'Bearer realm="", error="invalid_token"'})
        return user

    def graph_me(self, q=None):
        """GET /v1.0/me (the module's fallback when $batch fails)."""
        self.record("graph", query=q)
        self.sleep_for("graph_delay")
        status = STATE.cfg("graph_status")
        if status:
            return self.send(int(status), GRAPH_UNAVAILABLE)
        user = self.graph_user()
        if user is None:
            return
        status, _, body = self.graph_answer(user, "/me", q or {})
        self.send(status, body)

    def graph_get_extra(self, path):
        """GET /v1.0/me/mailboxSettings/timeZone, /v1.0/me/photo/$value (outside a $batch)."""
        self.record("graph")
        self.sleep_for("graph_delay")
        status = STATE.cfg("graph_status")
        if status:
            return self.send(int(status), GRAPH_UNAVAILABLE)
        user = self.graph_user()
        if user is None:
            return
        status, headers, body = self.graph_answer(user, path, {})
        self.send(status, body, headers.get("Content-Type", "application/json"))

    def graph_batch(self, body):
        """POST /v1.0/$batch: {"requests": [{id, method, url}]} -> {"responses": [{id, status, headers, body}]},
        answered in reverse order (Graph promises no order); binary bodies (the photo) base64-encoded, as Graph
        does. The request list is recorded (endpoint graph, field batch)."""
        try:
            doc = json.loads(body or b"null")
            reqs = doc["requests"]
            if not isinstance(reqs, list) or not 1 <= len(reqs) <= 20 or len({r["id"] for r in reqs}) != len(reqs):
                raise ValueError("1 to 20 requests with distinct ids")
            batch = [{"id": r["id"], "method": r["method"], "url": r["url"]} for r in reqs]
            if not all(isinstance(v, str) for r in batch for v in r.values()):
                raise ValueError("id, method and url are strings")
        except (ValueError, KeyError, TypeError) as e:
            self.record("graph", batch=None)
            return self.send(400, {"error": {"code": "BadRequest", "message": "Invalid batch payload: %s" % e}})
        self.record("graph", batch=batch)
        self.sleep_for("graph_delay")
        status = STATE.cfg("graph_status") or STATE.cfg("batch_status")
        if status:
            return self.send(int(status), GRAPH_UNAVAILABLE)
        if (self.headers.get("Content-Type") or "").split(";")[0].strip().lower() != "application/json":
            return self.send(400, {"error": {"code": "BadRequest", "message": "Content-Type must be application/json"}})
        user = self.graph_user()
        if user is None:
            return
        responses = []
        for r in batch:
            url = urllib.parse.urlsplit(r["url"])
            if url.scheme or url.netloc:
                status, headers, out = 400, {}, {"error": {"code": "BadRequest", "message": "Invalid request URL"}}
            elif r["method"].upper() != "GET":
                status, headers, out = 405, {}, {"error": {"code": "BadRequest", "message": "Method not allowed"}}
            else:
                q = {k: v[0] for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
                status, headers, out = self.graph_answer(user, "/" + url.path.lstrip("/"), q)
            if isinstance(out, bytes):
                out = base64.b64encode(out).decode("ascii")
            responses.append({"id": r["id"], "status": status, "headers": headers, "body": out})
        self.send(200, {"responses": responses[::-1]})

    def graph_answer(self, user, path, q):
        """One Graph resource for user: (status, headers, JSON object or bytes)."""
        js = {"Content-Type": "application/json; odata.metadata=minimal; odata.streaming=true; charset=utf-8"}
        extra = PROFILE.get(user, {})
        if path == "/me":
            status = STATE.cfg("graph_me_status")
            if status:
                return int(status), js, GRAPH_UNAVAILABLE
            profile = {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity",
                       "businessPhones": [], "jobTitle": None, "mobilePhone": None, "officeLocation": None,
                       "preferredLanguage": extra.get("preferredLanguage")}
            profile.update(USERS[user]["graph"])
            if STATE.cfg("name_control_chars"):
                profile.update(displayName=CONTROL_NAME, givenName=CONTROL_NAME, surname=CONTROL_NAME)
            profile.update(STATE.cfg("graph_profile") or {})
            if q.get("$select"):
                fields = [f.strip() for f in q["$select"].split(",") if f.strip()]
                unknown = [f for f in fields if f not in profile and f not in GRAPH_USER_PROPERTIES]
                if unknown:
                    return 400, js, {"error": {"code": "BadRequest", "message": "Could not find a property named "
                                               "'%s' on type 'microsoft.graph.user'." % unknown[0]}}
                profile = dict({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users(%s)/$entity"
                                % ",".join(fields)}, **{f: profile.get(f) for f in fields})
            return 200, js, profile
        if path == "/me/mailboxSettings/timeZone":
            status = STATE.cfg("mailbox_status")
            zone = STATE.cfg("mailbox_timezone") or extra.get("timezone")
            if status or zone is None:
                return int(status or 404), js, {"error": {"code": "MailboxNotEnabledForRESTAPI", "message":
                                                          "The mailbox is either inactive, soft-deleted, or is "
                                                          "hosted on-premise."}}
            return 200, js, {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users('%s')/"
                                               "mailboxSettings/timeZone" % USERS[user]["graph"]["id"],
                             "value": zone}
        if path == "/me/photo/$value":
            status = STATE.cfg("photo_status")
            photo = extra.get("photo")
            if STATE.cfg("photo_size"):
                photo = ("image/png", png(40, (0x9a, 0x2b, 0x57), (0xff, 0xff, 0xff), int(STATE.cfg("photo_size"))))
            if status or not photo:
                return int(status or 404), js, {"error": {"code": "ImageNotFound", "message": "Exception of "
                                                          "type 'Microsoft.Fast.Profile.Core.Exception."
                                                          "ImageNotFoundException' was thrown."}}
            return 200, {"Content-Type": STATE.cfg("photo_content_type") or photo[0]}, photo[1]
        return 404, js, {"error": {"code": "Request_ResourceNotFound",
                                   "message": "Resource not found for the segment '%s'." % path}}

    def graph_member_of(self, q):
        """/me/transitiveMemberOf: pages of {"@odata.type", "id"}; $skiptoken is opaque to the client (here the
        offset, base64url-encoded), as Graph's is."""
        self.record("graph_groups", query=q)
        status = STATE.cfg("graph_groups_status")
        if status:
            return self.send(int(status), {"error": {"code": "serviceNotAvailable",
                                                     "message": "The service is unavailable (mock)."}})
        user = self.graph_user()
        if user is None:
            return
        try:
            start = int(base64.urlsafe_b64decode(q.get("$skiptoken", "") + "==").decode() or 0)
        except ValueError:
            return self.send(400, {"error": {"code": "BadRequest", "message": "Invalid $skiptoken."}})
        size = int(STATE.cfg("graph_groups_page_size") or 100)
        objects = member_of(user)
        body = {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#directoryObjects(id)",
                "value": [{"@odata.type": kind, "id": oid} for kind, oid in objects[start:start + size]]}
        if start + size < len(objects):
            base = STATE.cfg("graph_nextlink_base") or self.base + "/v1.0"
            body["@odata.nextLink"] = "%s/me/transitiveMemberOf?$select=id&$skiptoken=%s" % (
                base, b64url(str(start + size).encode()))
        self.send(200, body)


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
