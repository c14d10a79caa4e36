# -*- coding: utf-8 -*-
"""API Management API portal of one tenant (``/apiportal/api/1.0/Management.svc``), OData V2, JSON.

Implemented: service document (+ CSRF fetch), ``$metadata`` (the APIProvider part of the live metadata,
``data/apiportal_metadata.json``), ``APIProviders`` (list with ``$filter=name eq '...'``, by key, POST, PUT/MERGE
when ``update_in_place``, DELETE), ``APIProviders('<name>')/additionalProperties`` and ``$expand=additionalProperties``.

Auth: Bearer token of an ``apiportal-apiaccess`` key issued by the tenant's XSUAA (scope
``<xsappname_apiportal>.<role>``); ``APIPortal.Administrator`` writes, ``APIPortal.Guest`` only reads.
Settings (``sandbox.config.apiportal``): CSRF, the read cache after writes, update in place, secrets on read,
the accepted ``destType``/``authType`` literals. Sources: integration-suite-apis.md, "API Management: API providers".
"""

import copy
import json
import os
import re
import threading
import time

from flask import Flask, Response, request

from .runtime import csrf_fetch_response, csrf_valid
from .xsuaa import verify_token

BASE = "/apiportal/api/1.0/Management.svc"
SERVICE = "apiportal"
SECRET_FIELDS = ("clientSecret", "password", "keystorePassword", "userSecret", "orgSecret")
_METADATA_FILE = os.path.join(os.path.dirname(__file__), "data", "apiportal_metadata.json")
_KEY_RE = re.compile(r"^APIProviders\('((?:[^']|'')*)'\)(/additionalProperties)?$")
_FILTER_RE = re.compile(r"^\s*name\s+eq\s+'((?:[^']|'')*)'\s*$")
_LOCK = threading.Lock()


def load_metadata():
    with open(_METADATA_FILE, encoding="utf-8") as handle:
        return json.load(handle)


def _props(meta, name):
    entity = next(e for e in meta["entityTypes"] if e["name"] == "apiportal." + name)
    return {p["name"]: p for p in entity["properties"]}


def metadata_xml(meta):
    """EDMX of the APIProvider part of the API portal service."""
    ns = meta["namespace"]
    out = ['<?xml version="1.0" encoding="utf-8"?>',
           '<edmx:Edmx Version="1.0" xmlns:edmx="http://schemas.microsoft.com/ado/2007/06/edmx">',
           '<edmx:DataServices xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata" '
           'm:DataServiceVersion="2.0">',
           '<Schema Namespace="%s" xmlns="http://schemas.microsoft.com/ado/2008/09/edm">' % ns]

    def prop(p):
        extra = ' MaxLength="%s"' % p["maxLength"] if p.get("maxLength") else ""
        return '<Property Name="%s" Type="%s" Nullable="%s"%s/>' % (
            p["name"], p["type"], "true" if p.get("nullable", True) else "false", extra)

    for entity in meta["entityTypes"]:
        out.append('<EntityType Name="%s">' % entity["name"].split(".", 1)[1])
        out.append('<Key>%s</Key>' % "".join('<PropertyRef Name="%s"/>' % k for k in entity["key"]))
        out.extend(prop(p) for p in entity["properties"])
        for nav in entity.get("navigationProperties", []):
            out.append('<NavigationProperty Name="%s" Relationship="%s" FromRole="%s" ToRole="%s"/>' % (
                nav["name"], nav["relationship"], nav["fromRole"], nav["toRole"]))
        out.append('</EntityType>')
    for complex_type in meta["complexTypes"]:
        out.append('<ComplexType Name="%s">' % complex_type["name"].split(".", 1)[1])
        out.extend(prop(p) for p in complex_type["properties"])
        out.append('</ComplexType>')
    for assoc in meta["associations"]:
        out.append('<Association Name="%s">' % assoc["name"].split(".", 1)[1])
        out.extend('<End Type="%s" Multiplicity="%s" Role="%s"/>' % (e["type"], e["multiplicity"], e["role"])
                   for e in assoc["ends"])
        out.append('</Association>')
    out.append('<EntityContainer Name="%s" m:IsDefaultEntityContainer="true">' % ns)
    for entity_set in meta["entitySets"]:
        out.append('<EntitySet Name="%s" EntityType="%s"/>' % (entity_set["name"], entity_set["entityType"]))
    out.append('</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>')
    return "\n".join(out)


class PortalError(Exception):
    def __init__(self, status, code, message, headers=None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def _json(data, status=200, headers=None):
    response = Response(json.dumps(data), status=status, content_type="application/json;charset=utf-8")
    response.headers["DataServiceVersion"] = "2.0"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _error(exc):
    return _json({"error": {"code": exc.code, "message": {"lang": "en", "value": exc.message}}}, exc.status, exc.headers)


def _now_odata():
    return "/Date(%d)/" % int(time.time() * 1000)


class Providers:
    """The providers of one tenant, with the read cache: after a write, reads answer the state of before the first
    write of the window until the window (``read_cache_s``) ends."""

    def __init__(self):
        self.current = {}
        self.snapshot = None
        self.cache_until = 0.0

    def readable(self):
        if self.snapshot is not None and time.monotonic() < self.cache_until:
            return self.snapshot
        self.snapshot = None
        return self.current

    def before_write(self, cache_s):
        if cache_s <= 0:
            return
        if self.snapshot is None or time.monotonic() >= self.cache_until:
            self.snapshot = copy.deepcopy(self.current)
        self.cache_until = time.monotonic() + cache_s


def providers_of(sandbox, tenant):
    with _LOCK:
        table = sandbox.store.extra.setdefault("apiportal_providers", {})
        if tenant.name not in table:
            table[tenant.name] = Providers()
        return table[tenant.name]


def create_app(sandbox, tenant):
    """Flask app of the tenant's API portal host."""
    app = Flask("apiportal-%s" % tenant.name)
    cfg = sandbox.config.apiportal
    store = sandbox.store
    meta = load_metadata()
    provider_props = _props(meta, "APIProvider")
    providers = providers_of(sandbox, tenant)

    def cache_s():
        override = sandbox.config.profile.apiportal_read_cache_s
        return float(cfg.read_cache_s if override is None else override)

    def principal():
        header = request.headers.get("Authorization", "")
        scheme, _unused, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise PortalError(cfg.unauthenticated_status, "Unauthorized", "Authentication required",
                              {"WWW-Authenticate": 'Bearer realm="apiportal"'})
        claims = verify_token(sandbox, tenant, value.strip())
        if claims is None:
            raise PortalError(cfg.unauthenticated_status, "Unauthorized", "Invalid or expired access token",
                              {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        prefix = tenant.xsappname_apiportal + "."
        roles = [s[len(prefix):] for s in claims.get("scope") or [] if s.startswith(prefix)]
        if not roles:
            raise PortalError(cfg.missing_role_status, "Forbidden", "The client has no API portal role")
        return claims.get("client_id"), roles

    def require_write():
        client, roles = principal()
        if not set(roles) & set(cfg.write_roles):
            raise PortalError(cfg.missing_role_status, "Forbidden",
                              "Role %s may not modify API providers (needs APIPortal.Administrator)" % ", ".join(roles))
        if cfg.csrf_required and not csrf_valid(store, tenant, SERVICE, request):
            raise PortalError(403, "Forbidden", "CSRF token validation failed", {"X-CSRF-Token": "Required"})
        return client

    def view(entity, expand):
        data = {}
        for name in provider_props:
            if name in SECRET_FIELDS and not cfg.secrets_returned_on_read:
                data[name] = None
            else:
                data[name] = entity.get(name)
        uri = "%s%s/APIProviders('%s')" % (request.host_url.rstrip("/"), BASE, entity["name"].replace("'", "''"))
        data["__metadata"] = {"id": uri, "uri": uri, "type": "apiportal.APIProvider"}
        props = [{"__metadata": {"type": "apiportal.APIProviderAdditionalProperty"}, "entityId": entity["name"],
                  "name": p["name"], "value": p.get("value")} for p in entity.get("additionalProperties", [])]
        data["additionalProperties"] = {"results": props} if expand else {"__deferred": {"uri": uri + "/additionalProperties"}}
        return data

    def validate(body, name=None):
        if not isinstance(body, dict):
            raise PortalError(400, "BadRequest", "The request body must be a JSON object")
        body = dict(body.get("d", body)) if isinstance(body.get("d"), dict) else dict(body)
        body.pop("__metadata", None)
        additional = body.pop("additionalProperties", None)
        unknown = sorted(set(body) - set(provider_props))
        if unknown:
            raise PortalError(400, "BadRequest", "Property '%s' does not exist in type 'apiportal.APIProvider'" % unknown[0])
        if name is not None:
            body.setdefault("name", name)
            if body["name"] != name:
                raise PortalError(400, "BadRequest", "The key 'name' cannot be changed")
        if not isinstance(body.get("name"), str) or not body["name"]:
            raise PortalError(400, "BadRequest", "Property 'name' is required")
        for prop_name, value in body.items():
            spec = provider_props[prop_name]
            if value is None:
                continue
            kind = spec["type"]
            if kind == "Edm.String" and not isinstance(value, str):
                raise PortalError(400, "BadRequest", "Property '%s' must be a string" % prop_name)
            if kind == "Edm.Boolean" and not isinstance(value, bool):
                raise PortalError(400, "BadRequest", "Property '%s' must be a boolean" % prop_name)
            if kind == "Edm.Int32" and (isinstance(value, bool) or not isinstance(value, int)):
                raise PortalError(400, "BadRequest", "Property '%s' must be an integer" % prop_name)
            if spec.get("maxLength") and isinstance(value, str) and len(value) > int(spec["maxLength"]):
                raise PortalError(400, "BadRequest", "Property '%s' exceeds its maximum length %s" % (prop_name, spec["maxLength"]))
        if body.get("destType") is not None and body["destType"] not in cfg.dest_types:
            raise PortalError(400, "BadRequest", "Invalid destType '%s'" % body["destType"])
        if body.get("authType") is not None and body["authType"] not in cfg.auth_types:
            raise PortalError(400, "BadRequest", "Invalid authType '%s'" % body["authType"])
        if isinstance(additional, dict):
            additional = additional.get("results")
        props = []
        for item in additional or []:
            if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
                raise PortalError(400, "BadRequest", "Every additional property needs a name")
            value = item.get("value")
            if value is not None and (not isinstance(value, str) or len(value) > 1024):
                raise PortalError(400, "BadRequest", "The value of additional property '%s' must be a string of at most 1024 "
                                  "characters" % item["name"])
            props.append({"name": item["name"], "value": value})
        body["additionalProperties"] = props
        return body

    def handle(func):
        try:
            return func()
        except PortalError as exc:
            return _error(exc)

    @app.route(BASE + "/", methods=["GET", "HEAD"])
    @app.route(BASE, methods=["GET", "HEAD"])
    def service_document():
        def run():
            principal()
            body = json.dumps({"d": {"EntitySets": [s["name"] for s in meta["entitySets"]]}})
            if request.headers.get("X-CSRF-Token", "").lower() == "fetch":
                return csrf_fetch_response(store, tenant, SERVICE, request, body, "application/json")
            return Response(body, content_type="application/json")
        return handle(run)

    @app.route(BASE + "/$metadata", methods=["GET"])
    def metadata():
        def run():
            principal()
            return Response(metadata_xml(meta), content_type="application/xml")
        return handle(run)

    @app.route(BASE + "/APIProviders", methods=["GET", "POST"])
    def collection():
        def run():
            if request.method == "GET":
                principal()
                expand = request.args.get("$expand", "") == "additionalProperties"
                with store.lock:
                    rows = list(providers.readable().values())
                flt = request.args.get("$filter")
                if flt:
                    match = _FILTER_RE.match(flt)
                    if not match:
                        raise PortalError(400, "BadRequest", "Unsupported $filter (only name eq '<name>')")
                    wanted = match.group(1).replace("''", "'")
                    rows = [r for r in rows if r["name"] == wanted]
                rows.sort(key=lambda r: r["name"])
                return _json({"d": {"results": [view(r, expand) for r in rows]}})
            client = require_write()
            body = validate(request.get_json(silent=True))
            with store.lock:
                if body["name"] in providers.current:
                    raise PortalError(cfg.duplicate_status, "Conflict", "API provider '%s' already exists" % body["name"])
                providers.before_write(cache_s())
                body["life_cycle"] = {"created_at": _now_odata(), "created_by": client, "changed_at": _now_odata(),
                                      "changed_by": client}
                providers.current[body["name"]] = body
                return _json({"d": view(body, True)}, 201)
        return handle(run)

    @app.route(BASE + "/<path:entity>", methods=["GET", "PUT", "MERGE", "PATCH", "DELETE", "POST"])
    def by_key(entity):
        def run():
            match = _KEY_RE.match(entity)
            if not match:
                raise PortalError(404, "NotFound", "Resource not found for segment '%s'" % entity)
            name = match.group(1).replace("''", "'")
            navigation = bool(match.group(2))
            method = request.headers.get("X-HTTP-Method", request.method).upper()
            if method == "GET":
                principal()
                with store.lock:
                    found = providers.readable().get(name)
                    found = copy.deepcopy(found) if found else None
                if found is None:
                    raise PortalError(404, "NotFound", "API provider '%s' not found" % name)
                if navigation:
                    return _json({"d": {"results": view(found, True)["additionalProperties"]["results"]}})
                return _json({"d": view(found, request.args.get("$expand", "") == "additionalProperties")})
            if navigation:
                raise PortalError(405, "MethodNotAllowed", "Additional properties are written with their provider")
            client = require_write()
            if method == "DELETE":
                with store.lock:
                    if name not in providers.current:
                        raise PortalError(404, "NotFound", "API provider '%s' not found" % name)
                    providers.before_write(cache_s())
                    del providers.current[name]
                return Response(status=204)
            if method in ("PUT", "MERGE", "PATCH"):
                if not cfg.update_in_place:
                    raise PortalError(cfg.update_rejected_status, "MethodNotAllowed",
                                      "API providers cannot be updated; delete and create the provider")
                body = validate(request.get_json(silent=True), name)
                with store.lock:
                    old = providers.current.get(name)
                    if old is None:
                        raise PortalError(404, "NotFound", "API provider '%s' not found" % name)
                    providers.before_write(cache_s())
                    new = dict(old) if method != "PUT" else {"life_cycle": old.get("life_cycle")}
                    new.update(body)
                    new["life_cycle"] = dict(old.get("life_cycle") or {}, changed_at=_now_odata(), changed_by=client)
                    providers.current[name] = new
                return Response(status=204)
            raise PortalError(405, "MethodNotAllowed", "Method %s not allowed" % method)
        return handle(run)

    return app


def admin_view(sandbox):
    """Every tenant's current providers (secrets as fingerprints) for the admin API."""
    import hashlib  # pylint: disable=import-outside-toplevel
    out = {}
    for tenant in sandbox.config.tenants:
        providers = providers_of(sandbox, tenant)
        with sandbox.store.lock:
            rows = copy.deepcopy(providers.current)
        for row in rows.values():
            for name in SECRET_FIELDS:
                if row.get(name):
                    row[name] = "sha256:" + hashlib.sha256(row[name].encode()).hexdigest()[:16]
        out[tenant.name] = rows
    return out


def provider_credentials(sandbox, tenant_name, name):
    """The stored (clientId, clientSecret, tokenUrl, host) of a provider, for tests that act like the API portal's
    runtime calling its target; None when there is no such provider."""
    tenant = sandbox.tenant(tenant_name)
    with sandbox.store.lock:
        row = providers_of(sandbox, tenant).current.get(name)
        return None if row is None else dict(row)


__all__ = ["create_app", "admin_view", "provider_credentials", "metadata_xml"]
