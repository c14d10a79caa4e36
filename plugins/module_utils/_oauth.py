# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. XSUAA client-credentials tokens for resolved Cloud Integration credentials.

- token_argument_spec(): the token options (doc fragment ``cpi_credentials.TOKEN``); where the credentials come
  from is decided by ``_credentials.resolve()``, never here;
- get_token(): client secret via Basic (URL-encoded with ``X-CF-ENCODED-CREDENTIALS: true`` when the secret needs
  it), in the form body or with the grant in the query string; or mTLS with the key's certificate on the
  ``.authentication.cert.`` host. Tokens are cached through ``_cache.FileCache`` across tasks, hosts and forks.

The hot path (a cached token) imports neither requests nor cryptography: HttpClient creates its session lazily,
and claims are decoded with base64 only.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import re
import threading
import time
from urllib.parse import quote, urlsplit, urlunsplit

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._cache import CacheError, FileCache, cache_key
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._deps import MissingDependencyError
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._errors import ApiError, ParameterError, api_error_from_response, safe_url
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._service_key import (
    PLAN_API,
    PLAN_HELP,
    PLAN_IFLOW,
    cert_token_url,
)

CACHE_NAMESPACE = "xsuaa_tokens"
DEFAULT_MIN_TTL = 300
CLIENT_AUTH_CHOICES = ("basic", "body", "query")
# Characters that change meaning inside a Basic header or under the URL-decoding XSUAA applies to it.
_NEEDS_ENCODING_RE = re.compile(r"[+%:\s]|[^\x00-\x7f]")


def token_argument_spec():
    """Token options shared by every module that fetches an XSUAA token (doc fragment ``cpi_credentials.TOKEN``)."""
    return dict(
        client_auth=dict(type="str", default="basic", choices=list(CLIENT_AUTH_CHOICES)),
        cache=dict(type="bool", default=True),
        min_ttl=dict(type="int", default=DEFAULT_MIN_TTL),
    )


# ---------------------------------------------------------------------------------------------------------------
# token helpers

def decode_claims(token):
    """The claims of a JWT, decoded without verification (base64 only); None if it is not a JWT."""
    parts = token.split(".") if isinstance(token, str) else []
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")).decode("utf-8"))
    except (ValueError, UnicodeError):
        return None
    return claims if isinstance(claims, dict) else None


def decode_header(token):
    head = token.split(".")[0] if isinstance(token, str) else ""
    try:
        return json.loads(base64.urlsafe_b64decode((head + "=" * (-len(head) % 4)).encode("ascii")).decode("utf-8"))
    except (ValueError, UnicodeError):
        return {}


def iso_utc(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def needs_encoding(value):
    return bool(value and _NEEDS_ENCODING_RE.search(value))


def basic_header(clientid, secret):
    """(Authorization header value, extra headers): URL-encoded with X-CF-ENCODED-CREDENTIALS when needed."""
    extra = {}
    if needs_encoding(clientid) or needs_encoding(secret):
        clientid, secret = quote(clientid, safe=""), quote(secret, safe="")
        extra["X-CF-ENCODED-CREDENTIALS"] = "true"
    raw = ("%s:%s" % (clientid, secret)).encode("utf-8")
    return "Basic " + base64.b64encode(raw).decode("ascii"), extra


def strip_query(url):
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def auth_method(creds, client_auth="basic"):
    """mtls when the credentials hold a certificate and private key, else the client secret style."""
    if creds.get("certificate") and creds.get("key") and not creds.get("clientsecret"):
        return "mtls"
    if not creds.get("clientsecret"):
        raise ParameterError("client_secret", "the credentials hold neither a client secret nor a certificate with its private key")
    return client_auth or "basic"


def token_cache_key(creds, method):
    """Cache key: token URL + client id + auth kind + a digest of the credential (the secret or the certificate).

    The digest makes a rotated secret or another key of the same client a separate entry, and a wrong secret can
    never be answered from the cache. Only the sha256 of all parts is used as the file name.
    """
    kind = "certificate" if method == "mtls" else "client_secret"
    credential = creds.get("certificate") if kind == "certificate" else creds.get("clientsecret")
    digest = hashlib.sha256((credential or "").encode("utf-8")).hexdigest()
    return cache_key(strip_query(creds["tokenurl"]), creds["clientid"], kind, digest)


def _base_of(token_url):
    parts = urlsplit(token_url)
    path = parts.path
    if path.endswith("/oauth/token"):
        path = path[: -len("/oauth/token")]
    return urlunsplit((parts.scheme, parts.netloc, path.rstrip("/"), "", ""))


def hint_for_401(creds, method, used_url, detail):
    detail = (detail or "").lower()
    if method == "mtls":
        return (
            "XSUAA did not accept the client certificate. Likely causes: the service key was deleted (its certificate "
            "is revoked with it), the certificate expired, client_key does not belong to the certificate, or %s is not "
            "the '.authentication.cert.' token host of the subaccount that issued the key (wrong token host)" % safe_url(used_url)
        )
    if "unsupported instance credential" in detail:
        return (
            "this client authenticates with a certificate, not a secret: use the certificate key's certificate and private "
            "key (client_cert/client_key) so the token is requested with mTLS on the '.authentication.cert.' host"
        )
    return (
        "XSUAA rejected client '%s'. Likely causes: the client secret is wrong or was rotated, the service key was deleted "
        "(its secret is revoked with it), or the token URL belongs to another subaccount (wrong token host)" % creds["clientid"]
    )


class TokenProvider:
    """Fetches and caches XSUAA client-credentials tokens for one set of credentials."""

    def __init__(self, http, creds, client_auth="basic", cache=True, min_ttl=DEFAULT_MIN_TTL, warn=None, clock=time.time,
                 cache_dir=None):
        self.http = http
        self.creds = creds
        self.method = auth_method(creds, client_auth)
        self.use_cache = cache
        self.min_ttl = max(0, int(min_ttl or 0))
        self.warn = warn
        self.clock = clock
        self.cache_dir = cache_dir
        self.used_url = None
        self.fetched = False
        self.requests = 0

    # -- cache ---------------------------------------------------------------------------------------------------

    def token(self):
        """Return the cached or freshly fetched token entry (dict with access_token, expires_at, ...)."""
        if not self.use_cache:
            entry, _expires_at = self._fetch()
            self.fetched = True
            return entry
        cache = FileCache(CACHE_NAMESPACE, directory=self.cache_dir)
        key = token_cache_key(self.creds, self.method)
        try:
            entry, self.fetched = cache.get_or_fetch(key, self._fetch, min_ttl=self.min_ttl)
        except (CacheError, OSError) as exc:
            if self.warn:
                self.warn("token cache unusable (%s); fetching the token without cache" % exc)
            entry, _expires_at = self._fetch()
            self.fetched = True
        return entry

    def invalidate(self):
        """Drop the cached token (e.g. after the server rejected it)."""
        if self.use_cache:
            try:
                FileCache(CACHE_NAMESPACE, directory=self.cache_dir).delete(token_cache_key(self.creds, self.method))
            except OSError:
                pass

    # -- fetch ---------------------------------------------------------------------------------------------------

    def _fetch(self):
        creds = self.creds
        token_url = strip_query(creds["tokenurl"])
        headers = {"Accept": "application/json"}
        data = {"grant_type": "client_credentials"}
        if self.method == "mtls":
            from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._http import client_cert_files

            data["client_id"] = creds["clientid"]
            with client_cert_files(creds["certificate"], creds["key"], creds.get("certificate_option")) as cert:
                token_url = self.mtls_token_url(token_url, cert)
                response = self._post(token_url, headers, data, cert=cert)
        else:
            if self.method == "body":
                data.update(client_id=creds["clientid"], client_secret=creds["clientsecret"])
            else:
                header, extra = basic_header(creds["clientid"], creds["clientsecret"])
                headers["Authorization"] = header
                headers.update(extra)
                if self.method == "query":
                    token_url = token_url + "?grant_type=client_credentials"
                    data = None
                else:
                    data["client_id"] = creds["clientid"]
            response = self._post(token_url, headers, data)
        self.used_url = strip_query(token_url)
        return self._entry(response)

    def mtls_token_url(self, token_url, cert):
        """The token URL for an mTLS request (see module docs)."""
        host = urlsplit(token_url).hostname or ""
        if ".authentication.cert." in host or (self.creds.get("tokenurl_from_key") and self.creds.get("key_type") != "client_secret"):
            return token_url
        derived = cert_token_url(token_url)
        if derived:
            return derived
        discovery = _base_of(token_url) + "/.well-known/openid-configuration"
        try:
            response = self.http.request("GET", discovery, context="OpenID configuration discovery", cert=cert,
                                         headers={"Accept": "application/json"})
            self.requests += 1
            if response.status_code == 200:
                aliases = (response.json() or {}).get("mtls_endpoint_aliases") or {}
                if isinstance(aliases, dict) and aliases.get("token_endpoint"):
                    return aliases["token_endpoint"]
        except (ApiError, ValueError):
            pass
        if self.warn:
            self.warn("no mTLS token endpoint found for %s (no '.authentication.cert.' host, no mtls_endpoint_aliases); "
                      "using it as given" % safe_url(token_url))
        return token_url

    def _post(self, url, headers, data, cert=None):
        kwargs = {"data": data} if data is not None else {}
        if cert is not None:
            kwargs["cert"] = cert
        self.requests += 1
        response = self.http.request("POST", url, context="token request to %s" % safe_url(url), headers=headers,
                                     retry_safe=True, **kwargs)
        if response.status_code != 200:
            self._raise(response, url)
        return response

    def _raise(self, response, url):
        if response.status_code in (404, 405):
            # a wrong path (/oauth/tokn): the server's HTML page says nothing useful
            raise ApiError("token request for client '%s' failed: token endpoint not found at %s (HTTP %s); use the 'tokenurl' of "
                           "the service key, which ends in /oauth/token" % (self.creds["clientid"], safe_url(url), response.status_code),
                           status=response.status_code, method="POST", url=safe_url(url))
        error = api_error_from_response(response, "token request for client '%s'" % self.creds["clientid"])
        if response.status_code in (400, 401, 403):
            hint = hint_for_401(self.creds, self.method, url, error.detail)
            if response.status_code == 400 and "grant" not in (error.detail or "").lower():
                hint = None
            if hint:
                error = api_error_from_response(response, "token request for client '%s'" % self.creds["clientid"], hint=hint)
        if response.status_code == 429:
            error = api_error_from_response(
                response, "token request for client '%s'" % self.creds["clientid"],
                hint="XSUAA rate limit (60 requests/s per subaccount) still exceeded after retries honouring Retry-After; "
                     "keep the token cache enabled")
        raise error

    def _entry(self, response):
        try:
            data = response.json()
        except ValueError:
            raise ApiError("token request for client '%s' failed: the token endpoint did not answer JSON [POST %s]"
                           % (self.creds["clientid"], safe_url(response.url)), status=response.status_code) from None
        token = data.get("access_token") if isinstance(data, dict) else None
        if not token:
            raise ApiError("token request for client '%s' failed: no access_token in the answer [POST %s]"
                           % (self.creds["clientid"], safe_url(response.url)), status=response.status_code)
        now = self.clock()
        try:
            expires_in = int(data.get("expires_in") or 0)
        except (TypeError, ValueError):
            expires_in = 0
        claims = decode_claims(token) or {}
        expires_at = now + expires_in if expires_in > 0 else None
        if isinstance(claims.get("exp"), (int, float)):
            expires_at = min(expires_at, claims["exp"]) if expires_at else claims["exp"]
        if expires_at is None:
            expires_at = now + 60
        scope = data.get("scope")
        entry = {
            "access_token": token,
            "token_type": data.get("token_type") or "bearer",
            "scope": scope if isinstance(scope, str) else " ".join(claims.get("scope") or []),
            "jti": data.get("jti") or claims.get("jti"),
            "expires_at": expires_at,
            "obtained_at": now,
            "token_url": self.used_url or safe_url(response.url),
        }
        return entry, expires_at

    # -- results -------------------------------------------------------------------------------------------------

    def describe(self, entry):
        """Facts about a token entry, safe to return (the access token itself is added by the caller)."""
        now = self.clock()
        claims = decode_claims(entry["access_token"]) or {}
        scopes = entry.get("scope").split() if entry.get("scope") else list(claims.get("scope") or [])
        return {
            "token_type": entry.get("token_type") or "bearer",
            "expires_in": max(0, int(entry["expires_at"] - now)),
            "expires_at": iso_utc(entry["expires_at"]),
            "scopes": scopes,
            "claims": claims,
            "cached": not self.fetched,
            "token_url": entry.get("token_url"),
            "auth_method": self.method,
            "client_id": self.creds["clientid"],
        }


def verify_signature(http, token, token_url, cert=None, jwt_namespace=None):
    """Verify an RS256 JWT against the /token_keys of the token host it came from; returns the verified claims.

    The keys are fetched from the host the token was requested from (a host trusted through TLS), never from the
    token's own ``jku`` header.
    """
    from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._deps import jwt_lib

    jwt = jwt_namespace or jwt_lib().jwt
    keys_url = _base_of(token_url) + "/token_keys"
    kwargs = {"cert": cert} if cert else {}
    data, _response = http.json("GET", keys_url, context="token key download", headers={"Accept": "application/json"}, **kwargs)
    keys = (data or {}).get("keys") or []
    kid = decode_header(token).get("kid")
    candidates = [k for k in keys if isinstance(k, dict) and (kid is None or k.get("kid") == kid)] or [k for k in keys if isinstance(k, dict)]
    if not candidates:
        raise ApiError("token signature verification failed: %s lists no signing keys" % safe_url(keys_url))
    last_error = None
    for jwk in candidates:
        try:
            key = jwt.PyJWK(jwk).key
            return jwt.decode(token, key=key, algorithms=["RS256"], options={"verify_aud": False, "require": ["exp", "iat"]})
        except jwt.PyJWTError as exc:
            last_error = exc
    raise ApiError("token signature verification failed against %s: %s" % (safe_url(keys_url), last_error))


# ---------------------------------------------------------------------------------------------------------------
# entry points for modules

class SharedTokens:
    """The tokens of a batch of calls (``_batch.ItemModule.shared_tokens``): one token per credentials and options,
    fetched (or read from the cache) by the first item that needs it while the other items of the same client wait."""

    def __init__(self):
        self._lock = threading.Lock()
        self._locks = {}
        self._entries = {}

    def lock_for(self, key):
        with self._lock:
            return self._locks.setdefault(key, threading.Lock())

    def wrap(self, provider, key, on_error=None):
        return _SharedProvider(self, provider, key, on_error)


class _SharedProvider:
    """A TokenProvider whose token is shared by the items of a batch (same interface: token(), invalidate())."""

    def __init__(self, shared, provider, key, on_error=None):
        self._shared = shared
        self._provider = provider
        self._key = key
        self._on_error = on_error

    def __getattr__(self, name):
        return getattr(self._provider, name)

    def token(self):
        with self._shared.lock_for(self._key):
            entry = self._shared._entries.get(self._key)
            if entry is None:
                try:
                    entry = self._shared._entries[self._key] = self._provider.token()
                except (ApiError, ParameterError, MissingDependencyError) as exc:
                    if self._on_error is not None:
                        self._on_error(exc)
                    raise
            return entry

    def invalidate(self):
        with self._shared.lock_for(self._key):
            self._shared._entries.pop(self._key, None)
            self._provider.invalidate()


def token_provider(module, creds, http=None):
    """A TokenProvider configured from the module's token options (shared by the items of a batch of calls)."""
    params = module.params
    provider = TokenProvider(
        http or module.http(),
        creds,
        client_auth=params.get("client_auth") or "basic",
        cache=params.get("cache", True),
        min_ttl=params.get("min_ttl") if params.get("min_ttl") is not None else DEFAULT_MIN_TTL,
        warn=module.warn,
    )
    shared = getattr(module, "shared_tokens", None)
    if isinstance(shared, SharedTokens):
        key = (token_cache_key(creds, provider.method), provider.use_cache, provider.min_ttl)
        # a batch item remembers that its token could not be fetched (the item's result then says token_failed)
        return shared.wrap(provider, key, on_error=lambda exc: setattr(module, "token_error", str(exc)))
    return provider


def bearer_token(module, creds, http=None):
    """(access token, provider) for API calls; the token is registered as a secret for messages."""
    provider = token_provider(module, creds, http=http)
    entry = provider.token()
    module.redactor.add(entry["access_token"])
    return entry["access_token"], provider


__all__ = [
    "PLAN_API",
    "PLAN_IFLOW",
    "PLAN_HELP",
    "token_argument_spec",
    "TokenProvider",
    "SharedTokens",
    "verify_signature",
    "bearer_token",
    "token_provider",
]
