"""Cloud Foundry UAA: `/oauth/token` (password, refresh_token, client_credentials), `/token_keys`, `/login`."""

import base64
import binascii
import time
import uuid
from urllib.parse import unquote

import jwt
from flask import Flask, jsonify, request

# Response headers of UAA's token endpoint, on errors too (observed on real SAP BTP CF, issue 13)
TOKEN_HEADERS = {"Cache-Control": "no-store", "Pragma": "no-cache"}
JSON_CONTENT_TYPE = "application/json;charset=UTF-8"


def user_id(username):
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "uaa-user:" + username))


def oauth_error(status, error, description, www_authenticate=False):
    response = jsonify({"error": error, "error_description": description})
    response.status_code = status
    if www_authenticate:
        response.headers["WWW-Authenticate"] = 'Basic realm="UAA/client", error="%s", error_description="%s"' % (
            error, description)
    return response


def client_auth():
    """(client_id, secret, via) from Basic auth or the form body, or (None, None, None)."""
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:].strip()).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None, None, "basic"
        client_id, _unused, secret = decoded.partition(":")
        if request.headers.get("X-CF-ENCODED-CREDENTIALS", "").lower() == "true":
            client_id, secret = unquote(client_id), unquote(secret)
        return client_id, secret, "basic"
    if "client_id" in request.form:
        return request.form["client_id"], request.form.get("client_secret", ""), "body"
    return None, None, None


def verify_token(sandbox, token):
    """Decode a CF UAA access token; raises jwt.InvalidTokenError when bad or expired."""
    claims = jwt.decode(token, sandbox.pki.signing_key.public_key(), algorithms=["RS256"],
                        options={"verify_aud": False, "require": ["exp", "iat"]})
    if claims.get("iss") != sandbox.uaa_url + "/oauth/token":
        raise jwt.InvalidIssuerError("wrong issuer")
    return claims


def _sign(sandbox, claims):
    headers = {"kid": sandbox.pki.signing_kid, "jku": sandbox.uaa_url + "/token_keys"}
    return jwt.encode(claims, sandbox.pki.signing_key, algorithm="RS256", headers=headers)


def _refresh_tokens(sandbox):
    """Opaque refresh tokens (`<32 hex>-r`) -> {client_id, username, scopes, exp}; caller holds store.lock."""
    return sandbox.store.extra.setdefault("uaa_refresh_tokens", {})


def issue_tokens(sandbox, client_id, grant_type, scopes, username=None, with_refresh=False, refresh_token=None):
    """The token answer of UAA. For a user (password and refresh grants) it carries an `id_token` and an opaque
    refresh token `<32 hex>-r`; a refresh grant passes its `refresh_token`, which is returned unchanged
    (observed on real SAP BTP CF, issue 13)."""
    cfg = sandbox.config.cf
    now = int(time.time())
    jti = uuid.uuid4().hex
    issuer = sandbox.uaa_url + "/oauth/token"
    claims = {
        "jti": jti, "sub": user_id(username) if username else client_id, "scope": scopes, "client_id": client_id,
        "cid": client_id, "azp": client_id, "grant_type": grant_type, "rev_sig": uuid.uuid4().hex[:8], "iat": now,
        "exp": now + cfg.access_token_validity_s, "iss": issuer, "zid": "uaa",
        "aud": sorted({s.split(".")[0] for s in scopes} | {client_id}),
    }
    if username:
        claims.update(user_id=user_id(username), user_name=username, email=username, origin="uaa", auth_time=now)
    body = {
        "access_token": _sign(sandbox, claims),
        "token_type": "bearer",
    }
    if username and "openid" in scopes:
        id_claims = {"jti": uuid.uuid4().hex, "sub": user_id(username), "user_id": user_id(username),
                     "user_name": username, "email": username, "email_verified": True, "origin": "uaa",
                     "aud": [client_id], "azp": client_id, "cid": client_id, "client_id": client_id, "scope": ["openid"],
                     "amr": ["pwd"], "grant_type": grant_type, "iss": issuer, "zid": "uaa", "iat": now,
                     "exp": now + cfg.access_token_validity_s, "auth_time": now, "rev_sig": claims["rev_sig"]}
        body["id_token"] = _sign(sandbox, id_claims)
    if with_refresh:
        if refresh_token is None:
            refresh_token = uuid.uuid4().hex + "-r"
            with sandbox.store.lock:
                _refresh_tokens(sandbox)[refresh_token] = {
                    "client_id": client_id, "username": username, "scopes": list(scopes),
                    "exp": now + cfg.refresh_token_validity_s}
        body["refresh_token"] = refresh_token
    body.update({"expires_in": cfg.access_token_validity_s - 1, "scope": " ".join(scopes), "jti": jti})
    return body


def lookup_refresh_token(sandbox, value):
    """The record of a live opaque refresh token, or None."""
    with sandbox.store.lock:
        record = _refresh_tokens(sandbox).get(value or "")
        if record is None or record["exp"] <= time.time():
            return None
        return dict(record)


def create_app(sandbox):
    app = Flask("btp_sandbox.uaa")
    cfg = sandbox.config.cf

    def find_client(client_id):
        return next((c for c in cfg.clients if c.client_id == client_id), None)

    @app.route("/oauth/token", methods=["POST"])
    def token():
        client_id, secret, _via = client_auth()
        client = find_client(client_id) if client_id is not None else None
        if client is None or (client.secret or "") != (secret or ""):
            return oauth_error(401, cfg.bad_credentials_error, cfg.bad_credentials_description, www_authenticate=True)
        grant_type = request.form.get("grant_type") or request.args.get("grant_type")
        if not grant_type:
            return oauth_error(400, "invalid_request", "Missing grant type")
        if grant_type not in ("password", "refresh_token", "client_credentials"):
            return oauth_error(400, "unsupported_grant_type", "Unsupported grant type: %s" % grant_type)
        if grant_type not in client.grant_types:
            return oauth_error(401, "invalid_client", "Unauthorized grant type: %s" % grant_type)
        if grant_type == "password":
            username, password = request.form.get("username"), request.form.get("password")
            if not username or password is None:
                return oauth_error(401, "unauthorized", cfg.bad_password_description)
            if username != cfg.username or password != cfg.password:
                return oauth_error(401, "unauthorized", cfg.bad_password_description)
            return jsonify(issue_tokens(sandbox, client.client_id, "password", list(cfg.user_scopes), username,
                                        with_refresh=True))
        if grant_type == "refresh_token":
            refresh = request.form.get("refresh_token", "")
            record = lookup_refresh_token(sandbox, refresh)
            if record is None:
                return oauth_error(401, "invalid_token", "Invalid refresh token (expired or malformed)")
            if record["client_id"] != client.client_id:
                return oauth_error(401, "invalid_grant", "Wrong client for this refresh token: %s" % client.client_id)
            return jsonify(issue_tokens(sandbox, client.client_id, "refresh_token", record["scopes"],
                                        record["username"], with_refresh=True, refresh_token=refresh))
        return jsonify(issue_tokens(sandbox, client.client_id, "client_credentials",
                                    list(client.authorities) or ["uaa.none"]))

    @app.route("/token_keys", methods=["GET"])
    def token_keys():
        return jsonify({"keys": [sandbox.pki.jwk()]})

    @app.route("/token_key", methods=["GET"])
    def token_key():
        return jsonify(sandbox.pki.jwk())

    @app.route("/login", methods=["GET"])
    def login_info():
        return jsonify({"app": {"version": "77.0.0"}, "commit_id": "sandbox", "entityID": "uaa.sandbox",
                        "links": {"uaa": sandbox.uaa_url, "login": sandbox.uaa_url, "passwd": "/forgot_password",
                                  "register": "/create_account"},
                        "prompts": {"username": ["text", "Email"], "password": ["password", "Password"]},
                        "zone_name": "uaa"})

    @app.route("/.well-known/openid-configuration", methods=["GET"])
    def openid_configuration():
        return jsonify({"issuer": sandbox.uaa_url + "/oauth/token", "token_endpoint": sandbox.uaa_url + "/oauth/token",
                        "jwks_uri": sandbox.uaa_url + "/token_keys",
                        "grant_types_supported": ["password", "refresh_token", "client_credentials"],
                        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"]})

    @app.after_request
    def uaa_headers(response):
        """UAA answers JSON as `application/json;charset=UTF-8`; the token endpoint (and every error) adds
        `Cache-Control: no-store` and `Pragma: no-cache` (observed on real SAP BTP CF, issue 13)."""
        if response.mimetype == "application/json":
            response.headers["Content-Type"] = JSON_CONTENT_TYPE
        if request.path == "/oauth/token" or response.status_code >= 400:
            response.headers.update(TOKEN_HEADERS)
        return response

    @app.errorhandler(404)
    def not_found(_exc):
        return oauth_error(404, "not_found", "Not Found")

    @app.errorhandler(405)
    def not_allowed(_exc):
        return oauth_error(405, "method_not_allowed", "Request method '%s' is not supported" % request.method)

    return app
