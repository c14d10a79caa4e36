"""BTP Destination service (one regional host, like destination-configuration.cfapps.<region>.hana.ondemand.com).

Callers authenticate with a token of a `destination` service key (plan `lite`) from the XSUAA of the key's
subaccount; the token's zone decides the subaccount, its ``ext_attr.serviceinstanceid`` the instance.

Configuration API (``/destination-configuration/v1``):
- ``subaccountDestinations`` / ``instanceDestinations``: ``GET`` lists, ``POST`` creates (409 when the name exists),
  ``PUT`` replaces with the whole body (404 when missing), ``GET|DELETE .../<name>`` reads / deletes (404);
- ``subaccountCertificates`` / ``instanceCertificates``: the same for ``{Name, Type, Content (base64)}``.
Errors are ``{"ErrorMessage": "..."}`` (SAP/cloud-sdk-js ``destination-service.ts`` reads ``ErrorMessage``).

Find-destination API: ``GET /destination-configuration/v1/destinations/<name>`` (instance level first, then the
subaccount) and ``GET /destination-configuration/v2/destinations/<name>@<subaccount|instance>`` (no fallback). The
answer is ``{owner, destinationConfiguration, certificates?, authTokens}``; for ``OAuth2ClientCredentials`` the
service fetches the token itself from ``tokenServiceURL`` with the stored ``clientId``/``clientSecret`` or, when
``tokenService.KeyStoreLocation`` names a PKCS#12 certificate, with mTLS. A failed token fetch is reported inside
``authTokens`` (``error``), the HTTP status stays 200. Shapes: SAP/cloud-sdk-js ``destination-service-types.ts``
(``DestinationAuthToken {type, value, error, http_header{key, value}}``) and SAP-docs "Referring Resources Using the
REST API" (v2 form ``<name>@subaccount``, response structure identical to find-destination).
"""

import base64
import os
import re
import shutil
import tempfile
import threading

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from flask import Flask, jsonify, request

from .config import DestinationConfig
from .xsuaa import verify_token

API = "/destination-configuration/v1"
LEVELS = ("subaccount", "instance")


def destination_config(sandbox):
    cfg = getattr(getattr(sandbox, "config", None), "destination", None)
    return cfg if cfg is not None else DestinationConfig()


class DestinationStore:
    """Destinations and certificates by owner: (subaccount id, instance guid or None)."""

    def __init__(self):
        self.lock = threading.RLock()
        self.destinations = {}
        self.certificates = {}

    def bucket(self, kind, owner):
        table = self.destinations if kind == "destinations" else self.certificates
        with self.lock:
            return table.setdefault(owner, {})

    def find(self, kind, owner, name):
        with self.lock:
            return (self.destinations if kind == "destinations" else self.certificates).get(owner, {}).get(name)

    def dump(self):
        with self.lock:
            return {"%s/%s" % owner: sorted(items) for owner, items in self.destinations.items() if items}


def store_of(sandbox):
    store = getattr(sandbox, "destination_store", None)
    if store is None:
        store = sandbox.destination_store = DestinationStore()
    return store


class DestError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def _caller(sandbox):
    """(tenant, instance guid) of the destination-service token in the request, or raise 401/403."""
    header = request.headers.get("Authorization", "")
    scheme, _unused, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise DestError(401, "Unauthorized")
    for tenant in sandbox.config.tenants:
        claims = verify_token(sandbox, tenant, token.strip())
        if claims is None:
            continue
        with sandbox.store.lock:
            record = next((r for r in sandbox.store.keys.values() if r.get("clientid") == claims.get("client_id")
                           and r.get("tenant") == tenant.name and r.get("plan") == "lite"), None)
        if record is None:
            raise DestError(403, "Forbidden: the token was not issued to a destination service instance")
        return tenant, record["instance_guid"]
    raise DestError(401, "Unauthorized")


def _owner(tenant, instance_guid, level):
    return (tenant.subaccount_id, instance_guid if level == "instance" else None)


def _body():
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise DestError(400, "The request body must be a JSON object")
    return data


def _check_destination(cfg, data):
    name = data.get("Name")
    if not isinstance(name, str) or not name:
        raise DestError(400, "Destination property 'Name' is mandatory")
    if not re.match(cfg.name_pattern, name):
        raise DestError(400, cfg.invalid_name_message % name)
    if data.get("Type") not in cfg.types:
        raise DestError(400, "Destination property 'Type' must be one of %s" % ", ".join(cfg.types))
    if data.get("Type") == "HTTP" and not data.get("URL"):
        raise DestError(400, "Destination property 'URL' is mandatory for type HTTP")
    for prop, value in data.items():
        if not isinstance(value, str):
            raise DestError(400, "Destination property '%s' must be a string" % prop)
    return name


def _check_certificate(cfg, data):
    name = data.get("Name")
    if not isinstance(name, str) or not name or not re.match(cfg.certificate_name_pattern, name):
        raise DestError(400, "Certificate property 'Name' is missing or invalid")
    if not isinstance(data.get("Content"), str) or not data["Content"]:
        raise DestError(400, "Certificate property 'Content' is mandatory")
    try:
        base64.b64decode(data["Content"], validate=True)
    except ValueError as exc:
        raise DestError(400, "Certificate property 'Content' must be base64") from exc
    return name


def _mtls_files(content_b64, password):
    """(directory, cert path, key path) of a PKCS#12 keystore's certificate and key (caller removes directory)."""
    key, cert, extra = pkcs12.load_key_and_certificates(base64.b64decode(content_b64),
                                                        password.encode("utf-8") if password else None)
    directory = tempfile.mkdtemp(prefix="btp-dest-")
    cert_path = os.path.join(directory, "cert.pem")
    key_path = os.path.join(directory, "key.pem")
    with open(cert_path, "wb") as handle:
        handle.write(cert.public_bytes(serialization.Encoding.PEM))
        for item in extra or []:
            handle.write(item.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return directory, cert_path, key_path


def _auth_token(sandbox, cfg, destination, certificate):
    """The authTokens entry of an OAuth2ClientCredentials destination: a real token fetched from its token URL."""
    url = destination.get("tokenServiceURL")
    data = {"grant_type": "client_credentials", "client_id": destination.get("clientId", "")}
    auth = None
    cert = None
    directory = None
    try:
        if certificate is not None:
            directory, cert_path, key_path = _mtls_files(certificate["Content"],
                                                         destination.get("tokenService.KeyStorePassword", ""))
            cert = (cert_path, key_path)
        elif cfg.token_client_auth == "basic":
            auth = (destination.get("clientId", ""), destination.get("clientSecret", ""))
        else:
            data["client_secret"] = destination.get("clientSecret", "")
        response = requests.post(url, data=data, auth=auth, cert=cert, verify=sandbox.ca_bundle, timeout=10)
    except (requests.RequestException, ValueError) as exc:
        return {"type": "", "value": "", "error": cfg.token_error_text % ("%s" % exc.__class__.__name__)}
    finally:
        if directory:
            shutil.rmtree(directory, ignore_errors=True)
    if response.status_code != 200:
        try:
            detail = response.json().get("error_description") or response.json().get("error")
        except ValueError:
            detail = response.text[:200]
        return {"type": "", "value": "", "error": cfg.token_error_text % ("%d %s" % (response.status_code, detail))}
    body = response.json()
    token_type = "bearer" if (body.get("token_type") or "bearer").lower() == "bearer" else body["token_type"]
    return {"type": token_type, "value": body["access_token"], cfg.expires_in_field: str(body.get("expires_in", "")),
            "http_header": {"key": "Authorization", "value": "Bearer " + body["access_token"]}}


def create_app(sandbox, tenant=None):
    """The Destination service app (one for all tenants: the caller's token names the subaccount)."""
    del tenant
    app = Flask("btp_sandbox.destination")
    dest_store = store_of(sandbox)

    @app.errorhandler(DestError)
    def on_error(err):
        return jsonify({"ErrorMessage": err.message}), err.status

    def configuration(level, kind):
        cfg = destination_config(sandbox)
        tenant, instance_guid = _caller(sandbox)
        bucket = dest_store.bucket(kind, _owner(tenant, instance_guid, level))
        check = _check_destination if kind == "destinations" else _check_certificate
        if request.method == "GET":
            with dest_store.lock:
                return jsonify([dict(item) for _name, item in sorted(bucket.items())])
        data = _body()
        name = check(cfg, data)
        with dest_store.lock:
            if request.method == "POST":
                if name in bucket:
                    raise DestError(409, cfg.conflict_message)
                bucket[name] = dict(data)
                return "", 201
            if name not in bucket:
                raise DestError(404, cfg.not_found_message)
            bucket[name] = dict(data)
        return "", 200

    def one(level, kind, name):
        cfg = destination_config(sandbox)
        tenant, instance_guid = _caller(sandbox)
        bucket = dest_store.bucket(kind, _owner(tenant, instance_guid, level))
        with dest_store.lock:
            item = bucket.get(name)
            if item is None:
                raise DestError(404, cfg.not_found_message)
            if request.method == "DELETE":
                del bucket[name]
                return jsonify({"Count": 1, "Summary": [{"Entity": name, "Status": "DELETED"}]})
            return jsonify(dict(item))

    for level in LEVELS:
        for kind, suffix in (("destinations", "Destinations"), ("certificates", "Certificates")):
            collection = "%s/%s%s" % (API, level, suffix)
            app.add_url_rule(collection, "%s_%s" % (level, kind), methods=["GET", "POST", "PUT"],
                             view_func=lambda level=level, kind=kind: configuration(level, kind))
            app.add_url_rule(collection + "/<name>", "%s_%s_one" % (level, kind), methods=["GET", "DELETE"],
                             view_func=lambda name, level=level, kind=kind: one(level, kind, name))

    def find(name, levels):
        cfg = destination_config(sandbox)
        tenant, instance_guid = _caller(sandbox)
        for level in levels:
            owner = _owner(tenant, instance_guid, level)
            destination = dest_store.find("destinations", owner, name)
            if destination is None:
                continue
            result = {"owner": {"SubaccountId": tenant.subaccount_id, "InstanceId": owner[1]},
                      "destinationConfiguration": dict(destination)}
            certificate = None
            store_name = destination.get("tokenService.KeyStoreLocation")
            if store_name:
                certificate = dest_store.find("certificates", owner, store_name) or \
                    dest_store.find("certificates", _owner(tenant, instance_guid, "subaccount"), store_name)
                if certificate is not None:
                    result["certificates"] = [dict(certificate)]
            if destination.get("Authentication") == "OAuth2ClientCredentials":
                if store_name and certificate is None:
                    token = {"type": "", "value": "", "error": cfg.token_error_text % (
                        "certificate %s not found" % store_name)}
                else:
                    token = _auth_token(sandbox, cfg, destination, certificate)
                result["authTokens"] = [token]
            return jsonify(result)
        raise DestError(404, cfg.not_found_message)

    @app.route(API + "/destinations/<name>", methods=["GET"])
    def find_v1(name):
        return find(name, ("instance", "subaccount"))

    @app.route("/destination-configuration/v2/destinations/<reference>", methods=["GET"])
    def find_v2(reference):
        name, _at, level = reference.rpartition("@")
        if not name or level not in LEVELS:
            raise DestError(400, "Expected <name>@subaccount or <name>@instance")
        return find(name, (level,))

    return app
