# -*- coding: utf-8 -*-
"""Cloud Integration runtime (worker, ``-rt`` host): iFlow endpoints under ``/http/...`` and ``/cxf/...``.

Order of checks for a call: authentication (401) -> endpoint lookup (Tomcat 404, also for the wrong servlet
prefix) -> plan/role (403) -> method (405) -> CSRF (403 + ``X-CSRF-Token: required``) -> processing. Only processed
calls write an MPL. Settings: ``sandbox.config.runtime`` (RuntimeConfig).
"""


import base64
import binascii
import json
import secrets
import time
import uuid
import xml.etree.ElementTree as ET

from flask import Flask, Response, request

from . import content
from .config import RuntimeConfig
from .xsuaa import verify_token

HTTP_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
CSRF_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

_TOMCAT_STYLE = ("body {font-family:Tahoma,Arial,sans-serif;} h1, h2, h3, b {color:white;background-color:#525D76;} "
                 "h1 {font-size:22px;} h2 {font-size:16px;} h3 {font-size:14px;} p {font-size:12px;} "
                 "a {color:black;} .line {height:1px;background-color:#525D76;border:none;}")
_DESCRIPTIONS = {
    401: "The request has not been applied because it lacks valid authentication credentials for the target resource.",
    403: "The server understood the request but refuses to authorize it.",
    404: "The origin server did not find a current representation for the target resource or is not willing to "
         "disclose that one exists.",
    405: "The method received in the request-line is known by the origin server but not supported by the target "
         "resource.",
    503: "The server is currently unable to handle the request due to a temporary overload or scheduled maintenance, "
         "which will likely be alleviated after some delay.",
}
_REASONS = {401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}
FAILURE_TEXT = "An internal server error occured: The MPL ID for the failed message is : %s"
TAIL_LOG_LINE = "For more details please check tail log."


def runtime_config(sandbox):
    cfg = getattr(getattr(sandbox, "config", None), "runtime", None)
    return cfg if cfg is not None else RuntimeConfig()


def _cfg(cfg, name, default):
    return getattr(cfg, name, default)


def tomcat_error(status, headers=None):
    """Tomcat-like HTML error page."""
    reason = _REASONS.get(status, "Error")
    body = ('<!doctype html><html lang="en"><head><title>HTTP Status %d \u2013 %s</title>'
            '<style type="text/css">%s</style></head><body><h1>HTTP Status %d \u2013 %s</h1><hr class="line" />'
            '<p><b>Type</b> Status Report</p><p><b>Description</b> %s</p><hr class="line" />'
            '<h3>SAP Cloud Integration</h3></body></html>') % (
        status, reason, _TOMCAT_STYLE, status, reason, _DESCRIPTIONS.get(status, reason))
    response = Response(body, status=status, content_type="text/html;charset=utf-8")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


class Principal:
    """An authenticated caller of the runtime."""

    def __init__(self, client_id, roles, plan, method, key_guid=None):
        self.client_id = client_id
        self.roles = roles
        self.plan = plan
        self.method = method
        self.key_guid = key_guid


def authenticate(sandbox, tenant, req):
    """Authenticate a runtime call: Bearer JWT, Basic clientid:secret or client certificate.

    Returns a Principal or None. Bearer tokens yield runtime roles only from ``<xsappname_rt>.<role>`` scopes;
    a token without such scopes (an api-plan token) gets plan ``api``.
    """
    store = sandbox.store
    header = req.headers.get("Authorization", "")
    scheme, _unused, value = header.partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer":
        claims = verify_token(sandbox, tenant, value.strip())
        if claims is None:
            return None
        prefix = tenant.xsappname_rt + "."
        scopes = claims.get("scope") or []
        roles = [s[len(prefix):] for s in scopes if s.startswith(prefix)]
        plan = "integration-flow" if roles else "api"
        return Principal(claims.get("client_id"), roles, plan, "bearer")
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, ValueError, UnicodeDecodeError):
            return None
        clientid, _unused, secret = decoded.partition(":")
        record = store.find_key_by_secret(tenant.name, clientid, secret)
        if record is None:
            return None
        roles, _grants, _validity = store.client_scope_roles(record)
        return Principal(clientid, list(roles), record.get("plan"), "basic", record.get("guid"))
    if header:
        return None
    der = sandbox.peer_cert_der(req)
    if der is None:
        return None
    record = store.find_key_by_cert(tenant.name, der)
    if record is None:
        return None
    roles, _grants, _validity = store.client_scope_roles(record)
    return Principal(record.get("clientid"), list(roles), record.get("plan"), "certificate", record.get("guid"))


def _norm(text, case_sensitive):
    text = text.rstrip("/") or "/"
    return text if case_sensitive else text.lower()


def find_iflow(iflows, servlet, address, case_sensitive=False):
    """Match an address against deployed iFlows of one servlet: exact first, then ``/prefix/*`` wildcards."""
    wanted = _norm(address, case_sensitive)
    candidates = [f for f in iflows if f.get("servlet", "http") == servlet]
    for iflow in candidates:
        if not iflow["address"].endswith("*") and _norm(iflow["address"], case_sensitive) == wanted:
            return iflow
    best, best_length = None, -1
    for iflow in candidates:
        if iflow["address"].endswith("/*"):
            prefix = _norm(iflow["address"][:-2], case_sensitive)
            if (wanted == prefix or wanted.startswith(prefix + "/")) and len(prefix) > best_length:
                best, best_length = iflow, len(prefix)
    return best


# ---------------------------------------------------------------------------------------------------------------
# CSRF

def _cookie_values(req):
    return req.cookies.get("JSESSIONID"), req.cookies.get("__VCAP_ID__")


def _set_session_cookies(response, tenant, jsessionid, vcap_id):
    response.set_cookie("JSESSIONID", jsessionid, path="/", secure=True, httponly=True, samesite="None")
    response.set_cookie("__VCAP_ID__", vcap_id, path="/", secure=True, httponly=True, samesite="None")
    response.set_cookie("JTENANTSESSIONID_%s" % tenant.subdomain, secrets.token_urlsafe(24), path="/", secure=True,
                        httponly=True, samesite="None")


def new_session_ids(req):
    jsessionid, vcap_id = _cookie_values(req)
    return (jsessionid or secrets.token_hex(16).upper(), vcap_id or secrets.token_hex(14))


CSRF_TOKEN_CAP = 5000


def issue_csrf(store, tenant, service, jsessionid, vcap_id):
    """Issue a CSRF token bound to the session cookies (the oldest tokens expire beyond ``CSRF_TOKEN_CAP``)."""
    token = secrets.token_urlsafe(24)
    with store.lock:
        if len(store.csrf) >= CSRF_TOKEN_CAP:
            for old in sorted(store.csrf, key=lambda t: store.csrf[t]["created"])[:CSRF_TOKEN_CAP // 5]:
                del store.csrf[old]
        store.csrf[token] = {"tenant": tenant.name, "service": service, "jsessionid": jsessionid,
                             "vcap_id": vcap_id, "created": time.time()}
    return token


def csrf_valid(store, tenant, service, req):
    """True when the request's X-CSRF-Token was issued for the same tenant, service and session cookies."""
    token = req.headers.get("X-CSRF-Token", "")
    if not token or token.lower() == "fetch":
        return False
    with store.lock:
        entry = store.csrf.get(token)
    if not entry:
        return False
    jsessionid, vcap_id = _cookie_values(req)
    return (entry["tenant"] == tenant.name and entry["service"] == service
            and entry["jsessionid"] == jsessionid and entry["vcap_id"] == vcap_id)


def csrf_fetch_response(store, tenant, service, req, body="", content_type="text/plain"):
    jsessionid, vcap_id = new_session_ids(req)
    token = issue_csrf(store, tenant, service, jsessionid, vcap_id)
    response = Response(body, status=200, content_type=content_type)
    response.headers["X-CSRF-Token"] = token
    _set_session_cookies(response, tenant, jsessionid, vcap_id)
    return response


def csrf_required_response(tenant, req):
    response = tomcat_error(403, {"X-CSRF-Token": "required"})
    jsessionid, vcap_id = new_session_ids(req)
    _set_session_cookies(response, tenant, jsessionid, vcap_id)
    return response


# ---------------------------------------------------------------------------------------------------------------
# behaviours

class ProcessingError(Exception):
    """An exception inside the iFlow: the call fails with 500 and the MPL becomes FAILED."""


def _json_response(status, payload):
    return Response(json.dumps(payload), status=status, content_type="application/json")


def _echo(req):
    body = req.get_data()
    return Response(body, status=200, content_type=req.headers.get("Content-Type") or "text/plain")


def _products(req):
    try:
        payload = json.loads(req.get_data(as_text=True) or "")
    except ValueError as exc:
        raise ProcessingError("com.sap.it.rt.adapter.http.api.exception.HttpResponseException: JSON to XML "
                              "conversion failed: %s" % exc) from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("productIdentifier"), str):
        raise ProcessingError("java.lang.IllegalArgumentException: Mandatory field productIdentifier is missing")
    product_id = payload["productIdentifier"].strip()
    product = content.find_product(product_id)
    if product is None:
        return _json_response(404, {"error": {"code": "PRODUCT_NOT_FOUND",
                                              "message": "Product %s does not exist" % product_id}}), "ProductNotFound"
    return _json_response(200, product), None


def _soap_echo(req):
    data = req.get_data()
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise ProcessingError("org.apache.cxf.binding.soap.SoapFault: Error reading XMLStreamReader: %s" % exc) from exc
    if not root.tag.endswith("}Envelope"):
        raise ProcessingError("org.apache.cxf.binding.soap.SoapFault: Message part %s was not recognized." % root.tag)
    content_type = req.headers.get("Content-Type") or "text/xml; charset=utf-8"
    return Response(data, status=200, content_type=content_type)


def soap_fault(text):
    body = ('<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault>'
            '<faultcode>soap:Server</faultcode><faultstring>%s</faultstring></soap:Fault></soap:Body>'
            '</soap:Envelope>') % (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))
    return Response(body, status=500, content_type="text/xml;charset=UTF-8")


def run_behaviour(iflow, req, sandbox=None, tenant=None):
    """Run an iFlow's behaviour; returns (response, custom_status) or raises ProcessingError."""
    behaviour = iflow.get("behaviour") or {"kind": "echo"}
    kind = behaviour.get("kind", "echo")
    if kind == "forward" and sandbox is not None:
        from .security_material import forward  # pylint: disable=import-outside-toplevel
        return forward(sandbox, tenant, behaviour, req)
    delay = float(behaviour.get("seconds", behaviour.get("delay_s", 0)) or 0)
    if delay > 0:
        time.sleep(delay)
    if kind in ("echo", "delay"):
        return _echo(req), None
    if kind == "products":
        return _products(req)
    if kind == "soap_echo":
        return _soap_echo(req), None
    if kind == "fail":
        raise ProcessingError(behaviour.get("error") or "Simulated failure of iFlow %s" % iflow["id"])
    if kind in ("json", "status"):
        status = int(behaviour.get("status", 200))
        body = behaviour.get("body")
        if body is None:
            return Response(b"", status=status), behaviour.get("custom_status")
        if isinstance(body, (dict, list)):
            return _json_response(status, body), behaviour.get("custom_status")
        return Response(str(body), status=status, content_type=behaviour.get("content_type", "text/plain")), \
            behaviour.get("custom_status")
    raise ProcessingError("Unknown behaviour %r of iFlow %s" % (kind, iflow["id"]))


# ---------------------------------------------------------------------------------------------------------------
# app

def create_app(sandbox, tenant):
    """Flask app of the tenant's runtime (``-rt``) host."""
    app = Flask("runtime-%s" % tenant.name)
    store = sandbox.store

    def handle(servlet, address):
        cfg = runtime_config(sandbox)
        principal = authenticate(sandbox, tenant, request)
        if principal is None:
            return tomcat_error(_cfg(cfg, "unauthenticated_status", 401))
        with store.lock:
            iflows = list(store.iflows.get(tenant.name, []))
        iflow = find_iflow(iflows, servlet, "/" + address, _cfg(cfg, "case_sensitive_paths", False))
        if iflow is None:
            return tomcat_error(404)
        content.settle_deployments(store, tenant.name)
        with store.lock:
            artifact = content.find_runtime_artifact(store, tenant.name, iflow["id"])
            status = artifact.get("Status") if artifact is not None else "STARTED"
        if status != "STARTED":
            # a failed (ERROR) or starting deployment: the endpoint is unavailable until it is deployed again
            return tomcat_error(_cfg(cfg, "unavailable_status", 503))
        if principal.plan != "integration-flow":
            return tomcat_error(_cfg(cfg, "api_token_status", 403))
        if iflow.get("role") not in principal.roles:
            return tomcat_error(_cfg(cfg, "missing_role_status", 403))
        if iflow.get("csrf_protected"):
            if request.method in ("GET", "HEAD") and request.headers.get("X-CSRF-Token", "").lower() == "fetch":
                return csrf_fetch_response(store, tenant, "runtime", request)
            if request.method not in CSRF_SAFE_METHODS and not csrf_valid(store, tenant, "runtime", request):
                return csrf_required_response(tenant, request)
        methods = iflow.get("methods")
        if methods and request.method not in methods:
            return tomcat_error(405, {"Allow": ", ".join(methods)})
        mpl = content.start_runtime_mpl(store, tenant, iflow)
        try:
            response, custom_status = run_behaviour(iflow, request, sandbox=sandbox, tenant=tenant)
        except ProcessingError as exc:
            content.finish_runtime_mpl(sandbox, tenant, mpl, "FAILED", error_text=str(exc))
            if servlet == "cxf":
                return soap_fault(str(exc))
            text = FAILURE_TEXT % mpl["MessageGuid"]
            if _cfg(cfg, "tail_log_line", True):
                text += "\n" + TAIL_LOG_LINE
            return Response(text, status=500, content_type="text/plain")
        content.finish_runtime_mpl(sandbox, tenant, mpl, "COMPLETED", custom_status=custom_status)
        response.headers["sap_messageprocessinglogid"] = mpl["MessageGuid"]
        response.headers["sap_mplcorrelationid"] = mpl["CorrelationId"]
        response.headers["x-correlationid"] = str(uuid.uuid4())
        return response

    @app.route("/http/<path:address>", methods=HTTP_METHODS, provide_automatic_options=False)
    def http_servlet(address):
        return handle("http", address)

    @app.route("/cxf/<path:address>", methods=HTTP_METHODS, provide_automatic_options=False)
    def cxf_servlet(address):
        return handle("cxf", address)

    @app.route("/", defaults={"path": ""}, methods=HTTP_METHODS, provide_automatic_options=False)
    @app.route("/<path:path>", methods=HTTP_METHODS, provide_automatic_options=False)
    def not_found(path):
        del path
        return tomcat_error(404)

    return app
