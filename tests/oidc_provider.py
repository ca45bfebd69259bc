"""A minimal OpenID Connect provider for tests: the real st.login redirect, no outside network.

Standard library HTTP server in a thread; the id_token is an RS256 JWT signed with a key made
for this run (`cryptography`, which Authlib depends on). It serves what Authlib's Starlette
client asks for during `st.login`:

- `/.well-known/openid-configuration`: the metadata (`server_metadata_url` points here);
- `/authorize`: checks client_id and redirect_uri and at once sends the browser back to
  redirect_uri with a one-time code and the state (no login form: the user is fixed);
- `/token`: checks the client's credentials (Basic or form), the code and redirect_uri, and
  answers an access token and an id_token carrying the nonce from `/authorize`;
- `/jwks`: the public key.

Every request's path is kept in `requests`, so a test can prove the browser went through it.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int_b64url(number: int) -> str:
    return b64url(number.to_bytes((number.bit_length() + 7) // 8, "big"))


@dataclass
class OidcProvider:
    """Start with `start()` (or as a context manager); `issuer` is its base URL."""

    client_id: str
    client_secret: str
    redirect_uri: str
    user: dict = field(default_factory=lambda: {"sub": "u-1001", "name": "Aigerim Sadykova",
                                                 "email": "aigerim@example.kz",
                                                 "email_verified": True})
    requests: list[str] = field(default_factory=list)
    key_id: str = field(default_factory=lambda: secrets.token_hex(8))

    def __post_init__(self) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._codes: dict[str, dict] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> OidcProvider:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="oidc-provider")
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None

    def __enter__(self) -> OidcProvider:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def issuer(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def metadata_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    # --- protocol ------------------------------------------------------------------------

    def metadata(self) -> dict:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic",
                                                      "client_secret_post"],
            "claims_supported": ["sub", "name", "email", "email_verified"],
        }

    def jwks(self) -> dict:
        numbers = self._key.public_key().public_numbers()
        return {"keys": [{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.key_id,
                          "n": _int_b64url(numbers.n), "e": _int_b64url(numbers.e)}]}

    def id_token(self, nonce: str | None) -> str:
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": self.client_id, "iat": now, "exp": now + 300,
                  "auth_time": now, **self.user}
        if nonce is not None:
            claims["nonce"] = nonce
        header = {"alg": "RS256", "typ": "JWT", "kid": self.key_id}
        signing_input = ".".join(b64url(json.dumps(part, separators=(",", ":")).encode())
                                 for part in (header, claims))
        signature = self._key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{b64url(signature)}"

    def authorize(self, query: dict[str, str]) -> tuple[int, dict, dict | None]:
        """(status, headers, json body): a redirect back, or an error page."""
        if query.get("client_id") != self.client_id:
            return 400, {}, {"error": "unauthorized_client"}
        if query.get("redirect_uri") != self.redirect_uri:
            return 400, {}, {"error": "invalid_request", "error_description": "redirect_uri"}
        if query.get("response_type") != "code" or "openid" not in query.get("scope", ""):
            return 400, {}, {"error": "invalid_request"}
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = {"nonce": query.get("nonce"),
                                 "redirect_uri": query["redirect_uri"]}
        back = {"code": code, **({"state": query["state"]} if "state" in query else {})}
        return 302, {"Location": f"{query['redirect_uri']}?{urlencode(back)}"}, None

    def token(self, form: dict[str, str], authorization: str | None) -> tuple[int, dict]:
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if authorization and authorization.startswith("Basic "):
            try:
                decoded = base64.b64decode(authorization[6:]).decode()
            except (binascii.Error, UnicodeDecodeError):
                return 401, {"error": "invalid_client"}
            client_id, _, client_secret = decoded.partition(":")
        if (client_id, client_secret) != (self.client_id, self.client_secret):
            return 401, {"error": "invalid_client"}
        with self._lock:
            grant = self._codes.pop(form.get("code", ""), None)  # a code works once
        if (form.get("grant_type") != "authorization_code" or grant is None
                or form.get("redirect_uri") != grant["redirect_uri"]):
            return 400, {"error": "invalid_grant"}
        return 200, {"access_token": secrets.token_urlsafe(24), "token_type": "Bearer",
                     "expires_in": 300, "scope": "openid email profile",
                     "id_token": self.id_token(grant["nonce"])}

    # --- HTTP ----------------------------------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep the test output quiet
                pass

            def _answer(self, status: int, body: dict | None, headers: dict | None = None
                        ) -> None:
                payload = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Cache-Control", "no-store")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                provider.requests.append(url.path)
                query = {name: values[0] for name, values in parse_qs(url.query).items()}
                if url.path == "/.well-known/openid-configuration":
                    self._answer(200, provider.metadata())
                elif url.path == "/jwks":
                    self._answer(200, provider.jwks())
                elif url.path == "/authorize":
                    status, headers, body = provider.authorize(query)
                    self._answer(status, body, headers)
                else:
                    self._answer(404, {"error": "not_found"})

            def do_POST(self) -> None:
                url = urlsplit(self.path)
                provider.requests.append(url.path)
                length = int(self.headers.get("Content-Length") or 0)
                form = {name: values[0] for name, values
                        in parse_qs(self.rfile.read(length).decode()).items()}
                if url.path == "/token":
                    status, body = provider.token(form, self.headers.get("Authorization"))
                    self._answer(status, body)
                else:
                    self._answer(404, {"error": "not_found"})

        return Handler
