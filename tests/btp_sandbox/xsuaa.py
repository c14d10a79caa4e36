# -*- coding: utf-8 -*-
"""Per-tenant XSUAA token server (``<subdomain>.authentication[.cert].<region>``).

Routes: ``POST /oauth/token``, ``GET /token_keys``, ``GET /.well-known/openid-configuration``.
The same app serves the normal host (``cert=False``: client id + secret) and the ``.cert.`` host (``cert=True``:
mTLS with ``client_id`` in the body, secrets accepted as well). Settings: ``sandbox.config.xsuaa`` (XsuaaConfig).
"""


import base64
import hashlib
import threading
import time
import uuid
from urllib.parse import unquote_plus

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, jsonify, request

from .config import GRANT_TYPES, XsuaaConfig

_KEY_LOCK = threading.Lock()
_LIMITER_LOCK = threading.Lock()


# ---------------------------------------------------------------------------------------------------------------
# signing key and verification

class SigningKey:
    """RSA key that signs the JWTs of all tenants of one sandbox."""

    def __init__(self, private_key=None, kid=None):
        self.private_key = private_key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_key = self.private_key.public_key()
        numbers = self.public_key.public_numbers()
        modulus = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
        self.n = base64.urlsafe_b64encode(modulus).decode("ascii").rstrip("=")
        self.kid = kid or "default-jwt-key-%d" % (int(hashlib.sha256(modulus).hexdigest()[:8], 16))
        # `value` is a PEM string, as XSUAA serves it (sap-xssec loads it with loadPEM); `n`/`e` stay for JWK clients
        self.value = self.public_key.public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii").strip()

    def jwk(self):
        return {"kty": "RSA", "e": "AQAB", "use": "sig", "kid": self.kid, "alg": "RS256", "value": self.value,
                "n": self.n}


def signing_key(sandbox):
    """The sandbox-wide JWT signing key: ``sandbox.pki.signing_key`` (persisted with the PKI material), cached as
    ``sandbox.jwt_signing_key``; a fresh key when the sandbox has no PKI (unit tests)."""
    key = getattr(sandbox, "jwt_signing_key", None)
    if key is None:
        with _KEY_LOCK:
            key = getattr(sandbox, "jwt_signing_key", None)
            if key is None:
                pki = getattr(sandbox, "pki", None)
                if getattr(pki, "signing_key", None) is not None:
                    key = SigningKey(pki.signing_key, getattr(pki, "signing_kid", None))
                else:
                    key = SigningKey()
                sandbox.jwt_signing_key = key
    return key


def verify_token(sandbox, tenant, token):
    """Verify a JWT issued by the tenant's XSUAA: signature, ``exp``, ``iss`` and ``zid``.

    Returns the claims, or None when the token is invalid, expired or belongs to another tenant.
    """
    try:
        claims = jwt.decode(token, signing_key(sandbox).public_key, algorithms=["RS256"],
                            options={"verify_aud": False, "require": ["exp", "iat"]})
    except jwt.PyJWTError:
        return None
    if claims.get("zid") != tenant.zone_id or claims.get("iss") != tenant.token_url:
        return None
    return claims


def xsuaa_config(sandbox):
    cfg = getattr(getattr(sandbox, "config", None), "xsuaa", None)
    return cfg if cfg is not None else XsuaaConfig()


def _cfg(cfg, name, default):
    return getattr(cfg, name, default)


# ---------------------------------------------------------------------------------------------------------------
# rate limiting (per subaccount, shared by the normal and the cert host)

class RateLimiter:
    """Fixed one-second windows per subaccount."""

    def __init__(self):
        self.lock = threading.Lock()
        self.windows = {}

    def allow(self, subaccount, limit, now=None):
        if not limit or limit <= 0:
            return True
        now = time.time() if now is None else now
        second = int(now)
        with self.lock:
            window, count = self.windows.get(subaccount, (second, 0))
            if window != second:
                window, count = second, 0
            count += 1
            self.windows[subaccount] = (window, count)
            return count <= limit


def rate_limiter(sandbox):
    limiter = getattr(sandbox, "xsuaa_rate_limiter", None)
    if limiter is None:
        with _LIMITER_LOCK:
            limiter = getattr(sandbox, "xsuaa_rate_limiter", None)
            if limiter is None:
                limiter = RateLimiter()
                sandbox.xsuaa_rate_limiter = limiter
    return limiter


# ---------------------------------------------------------------------------------------------------------------
# helpers

def _oauth_error(status, error, description, www_authenticate=True):
    response = jsonify({"error": error, "error_description": description})
    response.status_code = status
    if www_authenticate and status == 401:
        response.headers["WWW-Authenticate"] = (
            'Basic realm="UAA/client", error="%s", error_description="%s"' % (error, description))
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def _param(name):
    value = request.form.get(name)
    if value is None:
        value = request.args.get(name)
    return value


def _basic_credentials():
    """(clientid, secret) from a Basic Authorization header, or None."""
    header = request.headers.get("Authorization", "")
    if not header[:6].lower() == "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return ("", "")
    user, _unused, password = decoded.partition(":")
    if request.headers.get("X-CF-ENCODED-CREDENTIALS", "").strip().lower() == "true":
        user, password = unquote_plus(user), unquote_plus(password)
    return user, password


def _cert_keys_with_clientid(store, tenant_name, clientid):
    with store.lock:
        return [k for k in store.keys.values()
                if k.get("tenant") == tenant_name and k.get("clientid") == clientid and k.get("state") == "succeeded"
                and k.get("key_type") in ("certificate", "certificate_external")]


def _xsappname(tenant, record):
    plan = record.get("plan")
    if plan == "api":
        return tenant.xsappname_api
    if plan == "apiportal-apiaccess":
        return tenant.xsappname_apiportal
    return tenant.xsappname_rt


def scopes_for(tenant, record, roles, cfg):
    prefix = _xsappname(tenant, record)
    scopes = ["%s.%s" % (prefix, role) for role in roles]
    for extra in _cfg(cfg, "extra_scopes", []) or []:
        if extra not in scopes:
            scopes.append(extra)
    return scopes


def _audiences(tenant, record, clientid, cfg):
    aud = [_xsappname(tenant, record)]
    for extra in _cfg(cfg, "extra_scopes", []) or []:
        app = extra.split(".", 1)[0]
        if app not in aud:
            aud.append(app)
    if clientid not in aud:
        aud.append(clientid)
    return aud


def issue_token(sandbox, tenant, record, cert_der=None):
    """Build and sign a client-credentials JWT for a key record; returns the token response dict."""
    cfg = xsuaa_config(sandbox)
    roles, _grant_types, validity = sandbox.store.client_scope_roles(record)
    clientid = record["clientid"]
    scopes = scopes_for(tenant, record, roles, cfg)
    now = int(time.time())
    jti = uuid.uuid4().hex
    claims = {
        "jti": jti,
        "ext_attr": {"enhancer": "XSUAA", "subaccountid": tenant.subaccount_id, "zdn": tenant.subdomain,
                     "serviceinstanceid": record.get("instance_guid")},
        "sub": clientid,
        "authorities": list(scopes),
        "scope": list(scopes),
        "client_id": clientid,
        "cid": clientid,
        "azp": clientid,
        "grant_type": "client_credentials",
        "rev_sig": hashlib.sha256(("%s:%s" % (clientid, record.get("guid"))).encode()).hexdigest()[:8],
        "iat": now,
        "exp": now + int(validity),
        "iss": tenant.token_url,
        "zid": tenant.zone_id,
        "aud": _audiences(tenant, record, clientid, cfg),
    }
    if cert_der is not None:
        thumb = base64.urlsafe_b64encode(hashlib.sha256(cert_der).digest()).decode("ascii").rstrip("=")
        claims["cnf"] = {"x5t#S256": thumb}
    key = signing_key(sandbox)
    headers = {"jku": "%s/token_keys" % tenant.token_base, "kid": key.kid, "typ": "JWT"}
    token = jwt.encode(claims, key.private_key, algorithm="RS256", headers=headers)
    with sandbox.store.lock:
        sandbox.store.tokens_issued.append({"jti": jti, "client_id": clientid, "tenant": tenant.name,
                                            "key_guid": record.get("guid"), "iat": now, "exp": claims["exp"]})
    return {"access_token": token, "token_type": "bearer", "expires_in": int(validity) - 1,
            "scope": " ".join(scopes), "jti": jti}


# ---------------------------------------------------------------------------------------------------------------
# app

def create_app(sandbox, tenant, cert=False):
    """Flask app of the tenant's token host (``cert=False``) or cert token host (``cert=True``)."""
    app = Flask("xsuaa-%s%s" % (tenant.name, "-cert" if cert else ""))
    store = sandbox.store

    def bad_credentials(cfg):
        return _oauth_error(401, _cfg(cfg, "bad_credentials_error", "unauthorized"),
                            _cfg(cfg, "bad_credentials_description", "Bad credentials"))

    def authenticate(cfg):
        """Return (record, cert_der) or a Flask error response."""
        basic = _basic_credentials()
        if basic is not None:
            clientid, secret = basic
        else:
            clientid, secret = _param("client_id"), _param("client_secret")
        if clientid and secret:
            record = store.find_key_by_secret(tenant.name, clientid, secret)
            if record is None:
                return bad_credentials(cfg)
            return record, None
        if cert:
            der = sandbox.peer_cert_der(request)
            if der is None or not clientid:
                return bad_credentials(cfg)
            record = store.find_key_by_cert(tenant.name, der)
            if record is None or record.get("clientid") != clientid:
                return bad_credentials(cfg)
            return record, der
        if clientid and _cfg(cfg, "reject_cert_keys_on_secret_host", True) and \
                _cert_keys_with_clientid(store, tenant.name, clientid):
            return _oauth_error(_cfg(cfg, "unsupported_credential_status", 401), "unauthorized",
                                _cfg(cfg, "unsupported_credential_description",
                                     "Unsupported instance credential for %s") % clientid)
        if clientid:
            return bad_credentials(cfg)
        return _oauth_error(401, "unauthorized", "Full authentication is required to access this resource")

    @app.route("/oauth/token", methods=["GET", "POST"])
    def token():
        cfg = xsuaa_config(sandbox)
        if request.method == "GET" and not _cfg(cfg, "allow_get", False):
            response = _oauth_error(405, "method_not_allowed", "Request method 'GET' not supported")
            response.headers["Allow"] = "POST"
            return response
        if not rate_limiter(sandbox).allow(tenant.subaccount_id, _cfg(cfg, "rate_limit_per_s", 60.0)):
            response = _oauth_error(429, "too_many_requests",
                                    "Rate limit exceeded for subaccount %s" % tenant.subaccount_id)
            response.headers["Retry-After"] = str(_cfg(cfg, "retry_after_s", 1))
            return response
        result = authenticate(cfg)
        if not isinstance(result, tuple):
            return result
        record, cert_der = result
        grant_type = _param("grant_type")
        if not grant_type:
            return _oauth_error(_cfg(cfg, "missing_grant_status", 400), "invalid_request", "Missing grant type")
        if grant_type not in GRANT_TYPES:
            return _oauth_error(_cfg(cfg, "unsupported_grant_status", 400), "unsupported_grant_type",
                                "Unsupported grant type: %s" % grant_type)
        _roles, grant_types, _validity = store.client_scope_roles(record)
        if grant_type not in grant_types:
            return _oauth_error(_cfg(cfg, "unauthorized_grant_status", 401),
                                _cfg(cfg, "unauthorized_grant_error", "invalid_client"),
                                "Unauthorized grant type: %s" % grant_type)
        if grant_type != "client_credentials":
            return _oauth_error(400, "invalid_grant",
                                "Grant type %s needs a user or code; this client can only use client_credentials"
                                % grant_type)
        response = jsonify(issue_token(sandbox, tenant, record, cert_der))
        response.headers["Content-Type"] = "application/json;charset=UTF-8"
        response.headers["Cache-Control"] = "no-store"
        response.headers["Pragma"] = "no-cache"
        return response

    @app.route("/token_keys", methods=["GET"])
    def token_keys():
        return jsonify({"keys": [signing_key(sandbox).jwk()]})

    @app.route("/.well-known/openid-configuration", methods=["GET"])
    def openid_configuration():
        base = tenant.token_base
        cert_base = tenant.cert_token_base
        return jsonify({
            "issuer": tenant.token_url,
            "authorization_endpoint": "%s/oauth/authorize" % base,
            "token_endpoint": "%s/oauth/token" % base,
            "userinfo_endpoint": "%s/userinfo" % base,
            "end_session_endpoint": "%s/logout.do" % base,
            "jwks_uri": "%s/token_keys" % base,
            "response_types_supported": ["code", "id_token", "token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post",
                                                      "tls_client_auth"],
            "grant_types_supported": list(GRANT_TYPES),
            "scopes_supported": ["openid"],
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "jti", "zid", "cid", "client_id", "scope"],
            "mtls_endpoint_aliases": {
                "token_endpoint": tenant.cert_token_url or "%s/oauth/token" % cert_base,
                "authorization_endpoint": "%s/oauth/authorize" % cert_base,
            },
        })

    return app
