#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: iflow_request
short_description: Call an SAP Cloud Integration iFlow endpoint and report its message processing log id
version_added: 1.0.0
description:
  - Sends a request to an iFlow endpoint on the runtime (C(-rt)) host of an V(integration-flow) service key, with
    an OAuth token from the shared token cache, Basic client id/secret, or the key's client certificate.
  - >-
    Performs the CSRF handshake of the HTTPS sender adapter when the endpoint answers 403 with
    C(X-CSRF-Token: required).
  - Returns the message processing log (MPL) id from the C(sap_messageprocessinglogid) header, or from the body of
    a failed (500) call, so the message can be followed with M(sap_btp.cloud_integration.message_processing_log_info).
  - An V(api) key fails before any request, with a message that explains the two plans.
author:
  - sap_btp.cloud_integration contributors (@sap-btp-community)
extends_documentation_fragment:
  - sap_btp.cloud_integration.cpi_credentials
  - sap_btp.cloud_integration.cpi_credentials.CF_REFERENCE_KEY
  - sap_btp.cloud_integration.cpi_credentials.TOKEN
  - sap_btp.cloud_integration.cf_connection
  - sap_btp.cloud_integration.common
  - sap_btp.cloud_integration.attributes
  - sap_btp.cloud_integration.attributes.ACTION_GROUP
options:
  path:
    description:
      - The endpoint address relative to the runtime URL of the key (or O(url)), for example V(/orders) or
        V(/http/orders). C(/http) is added when the path starts with neither C(/http/) nor C(/cxf/) (SOAP senders).
      - Without O(path) and O(artifact_id), O(url) must be the full endpoint URL (for example
        C(https://<tenant>-rt.../http/orders)), which is used as given.
      - Mutually exclusive with O(artifact_id).
    type: str
  artifact_id:
    description:
      - The id of the integration flow to call, for example V(Products_Details), instead of its address. Its
        endpoint URL is read from C(ServiceEndpoints?$expand=EntryPoints) on the OData API with the V(api) key of
        O(api_credentials).
      - The resolved URL is cached on the controller with the rules of the token cache (O(cache), E(SAP_BTP_CACHE_DIR),
        files 0600) for an hour; a cached URL that answers 404 or 503 is resolved again.
      - An iFlow that is not deployed, whose deployment failed or that is not started fails the task before the call,
        with its status and the deployment's error text (C(failure_kind) V(not_deployed), V(deployment_failed) or
        V(not_started)).
      - Mutually exclusive with O(path).
    type: str
    version_added: 1.0.0
  api_credentials:
    description:
      - The V(api) service key that resolves O(artifact_id), in the same forms as the task's own credentials
        (O(api_credentials.service_key), O(api_credentials.service_key_path), or O(api_credentials.client_id) with
        O(api_credentials.client_secret) or a certificate).
      - The iFlow itself is called with the task's V(integration-flow) credentials. The OData API accepts only
        V(api) keys and the runtime only V(integration-flow) keys, so a call by id needs one of each.
      - The V(api) key needs the role C(MonitoringDataRead) (runtime status and error text; assumed for
        C(ServiceEndpoints), whose role SAP does not document).
      - Required with O(artifact_id). Token options (O(client_auth), O(cache), O(min_ttl)), O(allow_http) and the
        common options are the task's.
    type: dict
    version_added: 1.0.0
    suboptions:
      service_key:
        description: The V(api) service key as a dictionary or JSON text.
        type: raw
      service_key_path:
        description: Path of a file that holds the V(api) service key as JSON.
        type: path
      client_id:
        description: The C(clientid) of the V(api) key, with O(api_credentials.token_url) and a secret or certificate.
        type: str
      client_secret:
        description: The C(clientsecret) of the V(api) key.
        type: str
      token_url:
        description: The token endpoint of the V(api) key (overrides the key's C(tokenurl)).
        type: str
      url:
        description: The tenant management host of the OData API (overrides the key's C(url)).
        type: str
      client_cert:
        description: Client certificate (PEM text or path) of an V(api) certificate key.
        type: str
      client_key:
        description: Private key (PEM text or path) of the client certificate.
        type: str
  method:
    description: The HTTP method.
    type: str
    default: POST
    choices: [GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS]
  body:
    description:
      - The request body. A dictionary or list is sent as JSON; a string as given (see O(body_format)).
      - Mutually exclusive with O(src).
    type: raw
  body_format:
    description:
      - V(auto) sends dictionaries and lists as JSON and strings as text; V(json) sends the body (or the file of
        O(src)) as JSON, validating a string body; V(raw) sends a string as given.
      - A C(Content-Type) in O(headers) always wins.
    type: str
    choices: [auto, json, raw]
    default: auto
  src:
    description: Path of a file whose content is sent as the body.
    type: path
  headers:
    description: Extra request headers, for example C(Content-Type) or C(SOAPAction).
    type: dict
    default: {}
  correlation_id:
    description:
      - Sent as C(SAP_MplCorrelationId), so that the message processing log carries this correlation id (the
        iFlow must allow the header).
    type: str
  auth:
    description:
      - V(oauth) sends a bearer token from the shared token cache (fetched with the key's secret or certificate).
      - V(basic) sends the key's client id and secret directly (documented by SAP, not recommended for production).
      - V(certificate) presents the key's client certificate to the runtime (mTLS), without a token.
    type: str
    choices: [oauth, basic, certificate]
    default: oauth
  csrf:
    description: Perform the CSRF handshake when the endpoint asks for it (403 with C(X-CSRF-Token) V(required)).
    type: bool
    default: true
  status_code:
    description: The status codes that count as success; any other status fails the task (the result still holds it).
    type: list
    elements: int
    default: [200, 201, 202, 204]
  retries:
    description:
      - How often a request is retried on 429, 502, 503, 504 or a connection error, with backoff and jitter.
      - Only idempotent methods (GET, HEAD, OPTIONS, PUT, DELETE) are re-sent after they may have reached the
        iFlow; a POST or PATCH is repeated only when it provably was not received (connection refused, 429).
    type: int
    default: 3
  name:
    description:
      - A label for the result and errors, for example the client that makes the call. In O(requests), the name of
        the item.
    type: str
    version_added: 1.1.0
  _requests_stored_keys:
    description:
      - Internal, the keys the action plugin read on the controller for the O(requests[].stored) of the items. Do not set it.
    type: raw
    version_added: 1.1.0
  requests:
    description:
      - Many calls in one task - faster than a loop, which starts a module process for every call (about 0.5 s each)
        and makes the calls one after the other. The calls run on O(concurrency) threads that share the connection
        pool and the tokens - one token per client (credentials), fetched or read from the cache once, however many
        calls the client makes.
      - Each item sets the options of one call; an option an item does not set is taken from the task (O(method),
        O(status_code), O(service_key_path), ...). An item that sets its own credentials takes no other credential
        option from the task. Items may repeat (the same call several times).
      - Every item is validated (credentials read, plan checked) before the first request. A call that fails does not
        stop the others; the task then fails and names every failed item, and RV(requests) still holds all results.
      - In check mode no call is sent, but each client's token is fetched (which changes nothing), so that the
        credentials are checked.
    type: list
    elements: dict
    version_added: 1.1.0
    suboptions:
      instance:
        description: See O(instance).
        type: str
      stored:
        description: See O(stored).
        type: dict
        suboptions:
          source:
            description: See O(stored.source).
            type: str
            choices: [file, ansible_vault, hashicorp_vault]
            default: file
          path:
            description: See O(stored.path).
            type: str
            required: true
          format:
            description: See O(stored.format).
            type: str
            choices: [auto, json, yaml, env, postman]
            default: auto
          env_prefix:
            description: See O(stored.env_prefix).
            type: str
            default: CPI_
          url:
            description: See O(stored.url).
            type: str
          auth_method:
            description: See O(stored.auth_method).
            type: str
            choices: [token, approle]
            default: token
          token:
            description: See O(stored.token).
            type: str
          role_id:
            description: See O(stored.role_id).
            type: str
          secret_id:
            description: See O(stored.secret_id).
            type: str
          approle_mount:
            description: See O(stored.approle_mount).
            type: str
            default: approle
          mount:
            description: See O(stored.mount).
            type: str
            default: secret
          namespace:
            description: See O(stored.namespace).
            type: str
      key:
        description: See O(key).
        type: str
        aliases: [key_name]
      artifact_id:
        description: See O(artifact_id).
        type: str
      api_credentials:
        description: See O(api_credentials).
        type: dict
        suboptions:
          service_key:
            description: See O(api_credentials.service_key).
            type: raw
          service_key_path:
            description: See O(api_credentials.service_key_path).
            type: path
          client_id:
            description: See O(api_credentials.client_id).
            type: str
          client_secret:
            description: See O(api_credentials.client_secret).
            type: str
          token_url:
            description: See O(api_credentials.token_url).
            type: str
          url:
            description: See O(api_credentials.url).
            type: str
          client_cert:
            description: See O(api_credentials.client_cert).
            type: str
          client_key:
            description: See O(api_credentials.client_key).
            type: str
      service_key:
        description: O(service_key) of this call.
        type: raw
      service_key_path:
        description: O(service_key_path) of this call.
        type: path
      client_id:
        description: O(client_id) of this call.
        type: str
      client_secret:
        description: O(client_secret) of this call.
        type: str
      token_url:
        description: O(token_url) of this call.
        type: str
      url:
        description: O(url) of this call.
        type: str
      client_cert:
        description: O(client_cert) of this call.
        type: str
      client_key:
        description: O(client_key) of this call.
        type: str
      allow_http:
        description: O(allow_http) of this call.
        type: bool
      client_auth:
        description: O(client_auth) of this call.
        type: str
        choices:
        - basic
        - body
        - query
      cache:
        description: O(cache) of this call.
        type: bool
      min_ttl:
        description: O(min_ttl) of this call.
        type: int
      path:
        description: O(path) of this call.
        type: str
      method:
        description: O(method) of this call.
        type: str
        choices:
        - GET
        - HEAD
        - POST
        - PUT
        - PATCH
        - DELETE
        - OPTIONS
      body:
        description: O(body) of this call.
        type: raw
      body_format:
        description: O(body_format) of this call.
        type: str
        choices:
        - auto
        - json
        - raw
      src:
        description: O(src) of this call.
        type: path
      headers:
        description: O(headers) of this call.
        type: dict
      correlation_id:
        description: O(correlation_id) of this call.
        type: str
      auth:
        description: O(auth) of this call.
        type: str
        choices:
        - oauth
        - basic
        - certificate
      csrf:
        description: O(csrf) of this call.
        type: bool
      status_code:
        description: O(status_code) of this call.
        type: list
        elements: int
      retries:
        description: O(retries) of this call.
        type: int
      name:
        description: Name of this item in the results and in errors (see O(name)).
        type: str
  concurrency:
    description:
      - With O(requests), how many calls are made at the same time (1-32).
    type: int
    default: 8
    version_added: 1.1.0
attributes:
  check_mode:
    support: partial
    details: In check mode the credentials and the plan are checked, but nothing is sent (every call of an iFlow
      processes a message). With O(artifact_id), the endpoint is resolved (read only), so a not-deployed or failed
      iFlow fails in check mode too.
  diff_mode:
    support: none
notes:
  - The task reports C(changed) for methods other than GET, HEAD and OPTIONS, since the iFlow processes a message.
"""

EXAMPLES = r"""
- name: Post an order to an iFlow (OAuth token from the shared cache, CSRF handled)
  sap_btp.cloud_integration.iflow_request:
    service_key: "{{ iflow_key }}"
    path: /orders
    body: {orderId: 4711}
  register: call

- name: Follow the message processing log of that call
  sap_btp.cloud_integration.message_processing_log_info:
    service_key: "{{ api_key }}"
    mpl_id: "{{ call.mpl_id }}"
    wait_for: [COMPLETED]

- name: Call an iFlow with nothing but the CF connection and two names (no secret becomes a play variable)
  sap_btp.cloud_integration.iflow_request:
    cf_api: https://api.cf.eu10.hana.ondemand.com
    org: acme-org
    space: dev
    instance: orders-sender
    key: orders-sender-key
    path: /orders
    body: {orderId: 4712}

- name: SOAP iFlow with the key's client certificate
  sap_btp.cloud_integration.iflow_request:
    service_key_path: /etc/cpi/iflow-cert-key.json
    path: /cxf/soap/echo
    auth: certificate
    src: files/request.xml
    headers:
      Content-Type: text/xml; charset=utf-8

- name: Two calls for each of two clients in one task (one token per client)
  sap_btp.cloud_integration.iflow_request:
    path: /products/details
    body: {productIdentifier: HT-2000}
    requests:
      - {name: orders, service_key_path: /etc/cpi/orders-key.json}
      - {name: orders, service_key_path: /etc/cpi/orders-key.json, body: {productIdentifier: HT-1000}}
      - {name: billing, service_key_path: /etc/cpi/billing-key.json}
      - {name: billing, service_key_path: /etc/cpi/billing-key.json, path: /orders, body: {orderId: 4711}}
  register: calls

- name: Call an iFlow by its id (endpoint from ServiceEndpoints, read with an api key; fails clearly if not deployed)
  sap_btp.cloud_integration.iflow_request:
    service_key: "{{ iflow_key }}"
    artifact_id: Products_Details
    api_credentials:
      service_key: "{{ api_key }}"
    body: {productIdentifier: HT-1000}
  register: by_id

- name: A call that is expected to fail, keeping the MPL id
  sap_btp.cloud_integration.iflow_request:
    service_key: "{{ iflow_key }}"
    path: /fail
    status_code: [500]
  register: failed_call
"""

RETURN = r"""
hint:
  description:
    - What an error status usually means (for example for 403, the role the sender adapter requires), also when the
      status is among O(status_code).
  returned: when the status is 400 or higher and there is a hint
  type: str
  sample: "authenticated but not authorised: the service instance lacks the role the sender adapter requires (default ESBMessaging.send)"
  version_added: 1.1.0
token_failed:
  description: True when no token could be fetched (the call was not sent); the message of the failure tells why.
  returned: when fetching the token failed
  type: bool
  sample: true
  version_added: 1.1.0
requests:
  description:
    - With O(requests), the result of every call in the order of the items - the keys described here (RV(status),
      RV(body), RV(mpl_id), ...), C(changed), C(name) when the item has one, and C(failed) with C(msg) for a failed call.
  returned: with O(requests)
  type: list
  elements: dict
  sample: [{name: orders-client, status: 200, mpl_id: AGXa1b2c3d4e5f6g7h8i9j0k1l2m, changed: true}]
status:
  description: The HTTP status of the answer.
  returned: when a request was sent
  type: int
  sample: 200
headers:
  description: The response headers, names in lower case.
  returned: when a request was sent
  type: dict
body:
  description: The response body, decoded when it is JSON, else text.
  returned: when a request was sent
  type: raw
content_type:
  description: The C(Content-Type) of the answer.
  returned: when a request was sent
  type: str
mpl_id:
  description: The message processing log id, from the C(sap_messageprocessinglogid) header or the 500 body; null if
    the call created no message (authentication, 404).
  returned: when a request was sent
  type: str
  sample: AGpyvUXKUZJ-xCKXdYXps-l8FDTq
correlation_id:
  description: The MPL correlation id (C(sap_mplcorrelationid) header, or the O(correlation_id) sent).
  returned: when a request was sent
  type: str
elapsed:
  description: Seconds the call took, including a token fetch or CSRF handshake.
  returned: when a request was sent
  type: float
csrf_handshake:
  description: Whether a CSRF token was fetched because the endpoint asked for it.
  returned: when a request was sent
  type: bool
endpoint:
  description: The endpoint URL called (without query string).
  returned: always
  type: str
  sample: https://acme-dev.it-cpi018-rt.cfapps.eu10-003.hana.ondemand.com/http/orders
artifact_id:
  description: The O(artifact_id) whose endpoint was called.
  returned: when O(artifact_id) is set
  type: str
  version_added: 1.0.0
endpoint_cached:
  description: Whether the endpoint of O(artifact_id) came from the controller cache.
  returned: when O(artifact_id) is set and resolved
  type: bool
  version_added: 1.0.0
artifact:
  description:
    - The runtime artifact of O(artifact_id) when it cannot be called (fields as in
      M(sap_btp.cloud_integration.integration_artifact_info) C(artifacts)).
  returned: when O(artifact_id) is not deployed, failed or not started
  type: dict
  version_added: 1.0.0
failure_kind:
  description: V(not_deployed), V(deployment_failed) or V(not_started) when O(artifact_id) cannot be called.
  returned: when O(artifact_id) is not deployed, failed or not started
  type: str
  version_added: 1.0.0
"""

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils import _batch
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._artifacts import ArtifactApi, EndpointResolver
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._errors import ApiError, ParameterError, safe_url
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._credentials import argument_spec as credentials_argument_spec
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._credentials import module_kwargs as credentials_module_kwargs
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._credentials import (
    check_plan,
    nested_credentials_spec,
    resolve,
    resolve_nested_credentials,
)
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._module import CloudIntegrationModule
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._oauth import (
    PLAN_API,
    PLAN_IFLOW,
    SharedTokens,
    token_argument_spec,
    token_provider,
)
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._odata import api_client
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._runtime import (
    CORRELATION_HEADER,
    CORRELATION_REQUEST_HEADER,
    SAFE_METHODS,
    IflowCaller,
    encode_body,
    failure_message,
    iflow_url,
    mpl_id_from,
    parse_body,
    status_hint,
)

STALE_ENDPOINT_STATUSES = (404, 503)


class _Endpoint:
    """The endpoint of ``artifact_id``, resolved with the api key of ``api_credentials`` (cached)."""

    def __init__(self, module):
        params = module.params
        self.module = module
        self.artifact_id = params["artifact_id"].strip()
        if not self.artifact_id:
            raise ParameterError("artifact_id", "must not be empty")
        if not params.get("api_credentials"):
            raise ParameterError("api_credentials", "artifact_id needs an 'api' service key to read the endpoint from "
                                 "ServiceEndpoints (the OData API does not accept the integration-flow key that calls the iFlow)")
        self.creds = resolve_nested_credentials(module, "api_credentials")
        check_plan(self.creds, PLAN_API, "resolving artifact_id (ServiceEndpoints on the Cloud Integration OData API)")

    def resolve(self, refresh=False):
        with api_client(self.module, self.creds, auth="oauth") as client:
            api = ArtifactApi(client, redactor=self.module.redactor, warn=self.module.warn)
            resolver = EndpointResolver(api, self.creds["url"], self.creds["clientid"], cache=self.module.params["cache"],
                                        warn=self.module.warn)
            if refresh:
                resolver.invalidate(self.artifact_id)
            found = resolver.resolve(self.artifact_id)
            return found["url"], resolver.from_cache


def call(module, validate_only=False):
    params = module.params
    if params["retries"] < 0:
        raise ParameterError("retries", "must be 0 or more")
    # (the argument spec checks these for a task; an item of O(requests) inherits task options, so again here)
    if params.get("body") is not None and params.get("src"):
        raise ParameterError("body", "parameters are mutually exclusive: body|src")
    if params.get("path") is not None and params.get("artifact_id") is not None:
        raise ParameterError("artifact_id", "parameters are mutually exclusive: path|artifact_id")
    by_id = bool(params.get("artifact_id") is not None)
    # an item of a batch resolves its credentials once, when it is validated (an instance key is one CF request)
    creds = module.__dict__.get("resolved_credentials")
    if creds is None:
        creds = resolve(module, require_url=not by_id, plan=PLAN_IFLOW, purpose="an iFlow call (iflow_request)")
    endpoint = _Endpoint(module) if by_id else None
    if validate_only:
        module.__dict__["resolved_credentials"] = creds
        return None
    http = module.http(retries=params["retries"])
    cached = False
    if by_id:
        url, cached = endpoint.resolve()
    else:
        url = iflow_url(creds["url"], path=params.get("path"))
    method = params["method"]
    changed = method not in SAFE_METHODS
    result = {"changed": changed, "endpoint": safe_url(url)}
    if by_id:
        result.update(artifact_id=endpoint.artifact_id, endpoint_cached=cached)
    headers = dict(params["headers"] or {})
    data, content_type = encode_body(params.get("body"), params["body_format"], params.get("src"), headers)
    if content_type and not any(name.lower() == "content-type" for name in headers):
        headers["Content-Type"] = content_type
    if params.get("correlation_id"):
        headers[CORRELATION_REQUEST_HEADER] = params["correlation_id"]
    provider = token_provider(module, creds, http=http) if params["auth"] == "oauth" else None

    def token_source(refresh):
        if refresh:
            provider.invalidate()
        entry = provider.token()
        module.redactor.add(entry["access_token"])
        return entry["access_token"]

    caller = IflowCaller(http, creds, auth=params["auth"], token_source=token_source, csrf=params["csrf"])
    caller.check()
    if provider is not None and (not module.check_mode or getattr(module, "shared_tokens", None) is not None):
        # the token first, so that a failure to get one is told apart from a failed call (token_failed); a batch
        # checks its tokens in check mode too (a token request changes nothing)
        try:
            token_source(False)
        except (ApiError, ParameterError) as exc:
            failed = {"changed": False, "failed": True, "msg": str(exc), "token_failed": True, "endpoint": safe_url(url)}
            if isinstance(exc, ApiError):
                failed.update(exc.to_result())
            return failed
    if module.check_mode:
        result["msg"] = "check mode: the %s request to %s was not sent" % (method, safe_url(url))
        return result
    response, elapsed = caller.call(method, url, headers=headers, data=data)
    if by_id and cached and response.status_code in STALE_ENDPOINT_STATUSES:
        # the cached endpoint may be gone (undeployed, failed, moved): resolve again, which fails with the status
        # and error text when the iFlow cannot be called, and call the new URL once if it changed
        fresh, _cached = endpoint.resolve(refresh=True)
        result["endpoint_cached"] = False
        if fresh != url:
            url = fresh
            result["endpoint"] = safe_url(url)
            response, more = caller.call(method, url, headers=headers, data=data)
            elapsed += more
    text = response.text if response.content else ""
    mpl_id = mpl_id_from(response.headers, text)
    result.update(
        status=response.status_code,
        headers={name.lower(): module.redactor.scrub(value) for name, value in response.headers.items()},
        body=parse_body(response),
        content_type=response.headers.get("Content-Type"),
        mpl_id=mpl_id,
        correlation_id=response.headers.get(CORRELATION_HEADER) or params.get("correlation_id"),
        elapsed=round(elapsed, 3),
        csrf_handshake=caller.csrf_handshake,
    )
    if response.status_code >= 400 and status_hint(response.status_code, mpl_id, caller.csrf_handshake):
        result["hint"] = status_hint(response.status_code, mpl_id, caller.csrf_handshake)
    if response.status_code not in params["status_code"]:
        result["failed"] = True
        result["msg"] = failure_message(method, url, response.status_code, params["status_code"], text, mpl_id, caller.csrf_handshake)
    return result


def run(module, spec):
    if module.params.get("requests") is not None:
        return _batch.run_calls(module, "requests", _batch.call_item_options(spec), call, "iFlow calls", tokens=SharedTokens(),
                                exclusive=_batch.credential_exclusive((("body",), ("src",)), (("path",), ("artifact_id",))))
    return call(module)


def main():
    spec = credentials_argument_spec()
    spec.update(token_argument_spec())
    spec.update(
        path=dict(type="str"),
        artifact_id=dict(type="str"),
        api_credentials=dict(type="dict", options=nested_credentials_spec()),
        method=dict(type="str", default="POST", choices=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]),
        body=dict(type="raw"),
        body_format=dict(type="str", default="auto", choices=["auto", "json", "raw"]),
        src=dict(type="path"),
        headers=dict(type="dict", default={}),
        correlation_id=dict(type="str"),
        auth=dict(type="str", default="oauth", choices=["oauth", "basic", "certificate"]),
        csrf=dict(type="bool", default=True),
        status_code=dict(type="list", elements="int", default=[200, 201, 202, 204]),
        retries=dict(type="int", default=3),
    )
    _batch.add_requests_option(spec)
    module = CloudIntegrationModule(
        argument_spec=spec,
        supports_check_mode=True,
        **credentials_module_kwargs(mutually_exclusive=[("body", "src"), ("path", "artifact_id")])
    )
    result = module.run(run, module, spec)
    if result.pop("failed", False):
        msg = result.pop("msg")
        module.fail_json(msg=msg, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
