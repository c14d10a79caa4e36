"""Cloud Integration security material on the tenant's API host, and the outbound call of the "forward" iFlow.

Entity sets (shapes from the real ``$metadata``, /work/shared/reference/metadata/cloud-integration.json):
- ``UserCredentials`` ``{Name, Kind, Description, User, Password, CompanyId, SecurityArtifactDescriptor}``;
- ``OAuth2ClientCredentials`` ``{Name, Description, TokenServiceUrl, ClientId, ClientSecret, ClientAuthentication,
  Scope, ScopeContentType, Resource, Audience, SecurityArtifactDescriptor}``.
Behaviour (Prideth/terraform-provider-sap-integration-suite ``internal/client/securitycontent/user_credential.go``,
``oauth2_client_credential.go``): ``POST`` creates and answers 202 without a body; ``PUT <Set>('<name>')`` replaces
with the full body, secret included; ``DELETE`` deletes; MERGE is refused with 405; secrets are never returned.
Roles (SAP-docs ``tasks-and-permissions-for-cloud-integration-556d557.md``): ``CredentialsEdit`` to write,
``MonitoringDataRead`` to read. Update/delete statuses and the conflict answer are settings (unconfirmed).

``forward()`` is the behaviour ``{"kind": "forward", "credential": <name>, "target_tenant": <tenant or None>,
"path": "/http/echo"}`` of an iFlow: like an HTTP receiver adapter with authentication "OAuth2 Client Credentials"
(or "Basic" with a user credential), it reads the named artifact of its own tenant, fetches a token from the
artifact's ``TokenServiceUrl`` and calls the target tenant's runtime with it.
"""

import json
import time

import requests
from flask import Response, request

from . import odata
from .odata import NS, ODataError

ROLE_WRITE = "CredentialsEdit"
ROLE_READ = "MonitoringDataRead"
SETS = {"UserCredentials": "UserCredential", "OAuth2ClientCredentials": "OAuth2ClientCredential"}
SECRETS = {"UserCredentials": "Password", "OAuth2ClientCredentials": "ClientSecret"}
S = odata.S
DT = odata.DT

odata.COMPLEX_TYPES.setdefault("SecurityArtifactDescriptor", [("DeployedBy", S), ("DeployedOn", DT), ("Status", S),
                                                              ("Type", S)])
odata.ENTITY_TYPES.setdefault("UserCredential", (
    "UserCredentials", ["Name"],
    [("Name", S), ("Kind", S), ("Description", S), ("User", S), ("Password", S), ("CompanyId", S),
     ("SecurityArtifactDescriptor", NS + ".SecurityArtifactDescriptor")], [], False))
odata.ENTITY_TYPES.setdefault("OAuth2ClientCredential", (
    "OAuth2ClientCredentials", ["Name"],
    [("Name", S), ("Description", S), ("TokenServiceUrl", S), ("ClientId", S), ("ClientSecret", S),
     ("ClientAuthentication", S), ("Scope", S), ("ScopeContentType", S), ("Resource", S), ("Audience", S),
     ("SecurityArtifactDescriptor", NS + ".SecurityArtifactDescriptor")], [], False))
for _name in ("UserCredential", "OAuth2ClientCredential"):
    odata.PROPERTY_TYPES[_name] = dict(odata.ENTITY_TYPES[_name][2])

REQUIRED = {"UserCredentials": ("Name",), "OAuth2ClientCredentials": ("Name", "TokenServiceUrl", "ClientId")}
KINDS = ("default", "successfactors", "openconnectors")


def material(sandbox, tenant_name):
    """{set name: {artifact name: entity}} of a tenant (created on first use)."""
    with sandbox.store.lock:
        everything = sandbox.store.__dict__.setdefault("security_material", {})
        return everything.setdefault(tenant_name, {name: {} for name in SETS})


def _public(set_name, entity):
    out = dict(entity)
    out[SECRETS[set_name]] = None
    return out


def _payload(set_name):
    try:
        data = json.loads(request.get_data(as_text=True) or "")
    except ValueError as exc:
        raise ODataError(400, "Bad Request", "The request body is not valid JSON") from exc
    if isinstance(data, dict) and isinstance(data.get("d"), dict):
        data = data["d"]
    if not isinstance(data, dict):
        raise ODataError(400, "Bad Request", "The request body must be a JSON object")
    props = odata.PROPERTY_TYPES[SETS[set_name]]
    unknown = sorted(k for k in data if k not in props and k != "__metadata")
    if unknown:
        raise ODataError(400, "Bad Request", "Property '%s' is invalid for %s." % (unknown[0], SETS[set_name]))
    for name in REQUIRED[set_name]:
        if not isinstance(data.get(name), str) or not data[name].strip():
            raise ODataError(400, "Bad Request", "Mandatory property %s is missing." % name)
    if set_name == "UserCredentials":
        if data.get("Kind", "default") not in KINDS:
            raise ODataError(400, "Bad Request", "Kind must be one of %s." % ", ".join(KINDS))
        if not isinstance(data.get("Description"), str):
            raise ODataError(400, "Bad Request", "Description must not be null.")
    return {k: v for k, v in data.items() if k != "__metadata"}


def register(app, sandbox, tenant, guard, base_url):
    """Add the security-material routes to the tenant's OData app."""
    cfg = odata.odata_config(sandbox)

    def store(set_name):
        return material(sandbox, tenant.name)[set_name]

    def stamp(principal, entity, set_name):
        entity["SecurityArtifactDescriptor"] = {"DeployedBy": principal.client_id, "DeployedOn": int(time.time() * 1000),
                                                "Status": "DEPLOYED", "Type": SETS[set_name]}
        return entity

    def collection(set_name):
        if request.method == "GET":
            guard(ROLE_READ)
            with sandbox.store.lock:
                items = [_public(set_name, e) for _n, e in sorted(store(set_name).items())]
            return odata.collection_response(base_url(), SETS[set_name], items, odata.wants_json(request))
        principal = guard(ROLE_WRITE)
        if request.method != "POST" or request.headers.get("X-HTTP-Method", "").upper() == "MERGE":
            raise ODataError(405, "Method Not Allowed", "The method is not allowed for %s." % set_name)
        data = _payload(set_name)
        with sandbox.store.lock:
            if data["Name"] in store(set_name):
                raise ODataError(getattr(cfg, "security_material_conflict_status", 409), "Conflict",
                                 "Security artifact %s already exists." % data["Name"])
            store(set_name)[data["Name"]] = stamp(principal, data, set_name)
        return Response(status=202)

    def entity(set_name, name):
        if request.method == "GET":
            guard(ROLE_READ)
            with sandbox.store.lock:
                item = store(set_name).get(name)
            if item is None:
                raise ODataError(404, "Not Found", "Security artifact %s does not exist." % name)
            return odata.entity_response(base_url(), SETS[set_name], _public(set_name, item), odata.wants_json(request))
        principal = guard(ROLE_WRITE)
        if request.method in ("MERGE", "PATCH") or request.headers.get("X-HTTP-Method", "").upper() == "MERGE":
            raise ODataError(405, "Method Not Allowed", "MERGE is not supported for %s; use PUT with the full body." % set_name)
        with sandbox.store.lock:
            if name not in store(set_name):
                raise ODataError(404, "Not Found", "Security artifact %s does not exist." % name)
            if request.method == "DELETE":
                del store(set_name)[name]
                return Response(status=getattr(cfg, "security_material_delete_status", 200))
            data = _payload(set_name)
            if data["Name"] != name:
                raise ODataError(400, "Bad Request", "The Name in the body must be %s." % name)
            store(set_name)[name] = stamp(principal, data, set_name)
        return Response(status=getattr(cfg, "security_material_update_status", 202))

    for set_name in SETS:
        app.add_url_rule("/api/v1/%s" % set_name, "sm_%s" % set_name, methods=["GET", "POST", "MERGE", "PATCH"],
                         view_func=lambda set_name=set_name: collection(set_name))
        app.add_url_rule("/api/v1/%s('<name>')" % set_name, "sm_%s_one" % set_name,
                         methods=["GET", "PUT", "DELETE", "MERGE", "PATCH", "POST"],
                         view_func=lambda name, set_name=set_name: entity(set_name, name))


def forward(sandbox, tenant, behaviour, req):
    """Run a "forward" iFlow: token with the named credential, then the call to the target tenant's iFlow."""
    from .runtime import ProcessingError  # pylint: disable=import-outside-toplevel

    name = behaviour.get("credential") or "forward_target"
    with sandbox.store.lock:
        oauth = material(sandbox, tenant.name)["OAuth2ClientCredentials"].get(name)
        user = material(sandbox, tenant.name)["UserCredentials"].get(name)
    target_name = behaviour.get("target_tenant")
    tenants = [t.name for t in sandbox.config.tenants]
    if not target_name:
        target_name = tenants[(tenants.index(tenant.name) + 1) % len(tenants)]
    target = sandbox.tenant(target_name)
    url = target.runtime_url + (behaviour.get("path") or "/http/echo")
    try:
        if oauth is not None:
            data = {"grant_type": "client_credentials"}
            auth = None
            if (oauth.get("ClientAuthentication") or "").lower().replace(" ", "") in ("sendasbodyparameter", "body"):
                data.update(client_id=oauth["ClientId"], client_secret=oauth.get("ClientSecret") or "")
            else:
                auth = (oauth["ClientId"], oauth.get("ClientSecret") or "")
            if oauth.get("Scope"):
                data["scope"] = oauth["Scope"]
            token = requests.post(oauth["TokenServiceUrl"], data=data, auth=auth, verify=sandbox.ca_bundle, timeout=10)
            if token.status_code != 200:
                raise ProcessingError("com.sap.it.rt.scc.connectivity.security.IllegalStateException: Unable to fetch "
                                      "an access token for credential %s: HTTP %d" % (name, token.status_code))
            headers = {"Authorization": "Bearer " + token.json()["access_token"]}
            response = requests.post(url, data=req.get_data(), headers=headers, verify=sandbox.ca_bundle, timeout=10)
        elif user is not None:
            response = requests.post(url, data=req.get_data(), auth=(user.get("User") or "", user.get("Password") or ""),
                                     verify=sandbox.ca_bundle, timeout=10)
        else:
            raise ProcessingError("com.sap.it.nm.security.CredentialNotFoundException: Credential %s is not deployed" % name)
    except requests.RequestException as exc:
        raise ProcessingError("java.net.ConnectException: %s" % exc.__class__.__name__) from None
    if response.status_code >= 300:
        raise ProcessingError("com.sap.it.rt.adapter.http.api.exception.HttpResponseException: An internal server error "
                              "occurred: HTTP %d from %s." % (response.status_code, url))
    out = Response(response.content, status=response.status_code,
                   content_type=response.headers.get("Content-Type", "application/octet-stream"))
    out.headers["x-forwarded-to"] = target_name
    return out, None
