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

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._artifacts import ArtifactApi, EndpointResolver
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._errors import ParameterError, safe_url
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


def call(module):
    params = module.params
    if params["retries"] < 0:
        raise ParameterError("retries", "must be 0 or more")
    by_id = bool(params.get("artifact_id") is not None)
    creds = resolve(module, require_url=not by_id, plan=PLAN_IFLOW, purpose="an iFlow call (iflow_request)")
    http = module.http(retries=params["retries"])
    endpoint = None
    cached = False
    if by_id:
        endpoint = _Endpoint(module)
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
    if response.status_code not in params["status_code"]:
        result["failed"] = True
        result["msg"] = failure_message(method, url, response.status_code, params["status_code"], text, mpl_id, caller.csrf_handshake)
    return result


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
    module = CloudIntegrationModule(
        argument_spec=spec,
        supports_check_mode=True,
        **credentials_module_kwargs(mutually_exclusive=[("body", "src"), ("path", "artifact_id")])
    )
    result = module.run(call, module)
    if result.pop("failed", False):
        msg = result.pop("msg")
        module.fail_json(msg=msg, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
