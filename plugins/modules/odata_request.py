#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: odata_request
short_description: Read and write the SAP Cloud Integration OData API (/api/v1), with paging
version_added: 1.0.0
description:
  - >-
    Generic access to the Cloud Integration OData API v1 (OData V2) of an V(api) service key: an entity set, a key
    and a navigation path (or a raw O(path)), with typed query options and raw ones.
  - Reads follow the server's C(__next) links, or page with C($skip) (O(page_size), or when the server stops
    linking before C(__count) is reached), up to O(max_items). When a server ignores C($skip) and answers the same
    entities again (as the C(IntegrationPackages('X')/IntegrationDesigntimeArtifacts) navigation does), paging stops
    and the collection is read once without client paging, instead of looping forever.
  - >-
    Results are flattened into RV(results) (collections) or RV(entity) (single entities), with C(/Date(ms\)/)
    values as ISO 8601 and C(__metadata) and deferred navigations dropped unless O(keep_metadata=true).
  - Writes (POST, PUT, PATCH, MERGE, DELETE) fetch a CSRF token first and send it (the API may not need one with a
    bearer token; then none is sent).
  - An V(integration-flow) key fails before any request, with a message that explains the two plans.
author:
  - sap_btp.cloud_integration contributors (@sap-btp-community)
extends_documentation_fragment:
  - sap_btp.cloud_integration.cpi_credentials
  - sap_btp.cloud_integration.cpi_credentials.CF_REFERENCE_KEY_NAME
  - sap_btp.cloud_integration.cpi_credentials.TOKEN
  - sap_btp.cloud_integration.cf_connection
  - sap_btp.cloud_integration.common
  - sap_btp.cloud_integration.attributes
  - sap_btp.cloud_integration.attributes.ACTION_GROUP
options:
  entity_set:
    description: The entity set, for example V(MessageProcessingLogs) or V(IntegrationPackages).
    type: str
  key:
    description:
      - The key of one entity. A string or number becomes C(('value')); a dictionary becomes
        C((Id='X',Version='active')); a string that already holds a predicate (quotes or C(=)) is used as given.
    type: raw
  navigation:
    description: A navigation path below the entity, for example V(ErrorInformation) or V(ErrorInformation/$value).
    type: str
  path:
    description:
      - The resource path relative to C(/api/v1), used instead of O(entity_set), O(key) and O(navigation), for
        example V(MessageProcessingLogs('AGk...')/ErrorInformation/$value).
    type: str
  method:
    description: The HTTP method.
    type: str
    choices: [GET, POST, PUT, PATCH, MERGE, DELETE]
    default: GET
  body:
    description: The request body of a write; a dictionary or list is sent as JSON, a string as given.
    type: raw
  filter:
    description: The C($filter) expression. Date literals are read as UTC and must not carry C(Z) or an offset.
    type: str
  select:
    description: Properties for C($select).
    type: list
    elements: str
  orderby:
    description: C($orderby) terms, for example V(LogEnd desc).
    type: list
    elements: str
  expand:
    description: Navigations for C($expand).
    type: list
    elements: str
  top:
    description: C($top), the number of entities wanted. Some entity sets reject it.
    type: int
  skip:
    description: C($skip), the number of entities to skip.
    type: int
  inlinecount:
    description: Ask for C($inlinecount=allpages) and return the total in RV(count). Not every entity set supports it.
    type: bool
    default: false
  query:
    description:
      - >-
        More query options as a dictionary (or a query string), sent as given, for example
        C({"filterCustomHeaderProperties": "'po_number' eq '12345'"}).
    type: raw
  paging:
    description: Follow C(__next) links and C($skip) continuations. V(false) reads one page.
    type: bool
    default: true
  page_size:
    description:
      - Page on the client side with C($top=page_size) and C($skip), for entity sets whose server pages are too
        large or that send no next links.
    type: int
  max_items:
    description:
      - The most entities to collect across pages; V(0) means no limit. RV(truncated) tells whether more exist.
    type: int
    default: 1000
  dest:
    description:
      - Write the entities of a collection to this file, as JSON Lines (one entity per line, in the form of
        RV(results)), instead of returning them in RV(results).
      - Pages are written as they arrive, so memory stays bounded by one page however many entities are read (use it
        for bulk reads such as O(max_items=0)). The file is replaced atomically (mode 0600), only when its content
        changes; the task reports C(changed) then. In check mode nothing is read or written.
      - Only for reads of a collection.
    type: path
  keep_metadata:
    description: Keep C(__metadata) and deferred navigations in the results.
    type: bool
    default: false
  convert_dates:
    description: Convert C(/Date(ms\)/) values to ISO 8601 strings (UTC, milliseconds).
    type: bool
    default: true
  headers:
    description: Extra request headers.
    type: dict
    default: {}
  auth:
    description:
      - V(oauth) sends a bearer token from the shared token cache; V(certificate) presents the client certificate
        of an V(api) certificate key directly to the API.
    type: str
    choices: [oauth, certificate]
    default: oauth
  csrf:
    description: Fetch and send a CSRF token for writes.
    type: bool
    default: true
  status_code:
    description: Status codes that count as success. By default any 2xx status.
    type: list
    elements: int
  name:
    description:
      - A label for the result and errors, for example the client that makes the request. In O(requests), the name of
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
      - Many OData requests in one task - faster than a loop, which starts a module process for every item (about 0.5 s
        each) and runs the items one after the other. The items run on O(concurrency) threads that share the
        connection pool and the tokens - one token per client (credentials), however many items the client has.
      - Each item sets the options of one request; an option an item does not set is taken from the task. An item that
        sets its own credentials takes no other credential option from the task. Items may repeat.
      - Every item is validated (credentials read, plan checked) before the first request. An item that fails does not
        stop the others; the task then fails and names every failed item, and RV(requests) still holds all results.
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
      key_name:
        description: See O(key_name).
        type: str
      service_key:
        description: O(service_key) of this request.
        type: raw
      service_key_path:
        description: O(service_key_path) of this request.
        type: path
      client_id:
        description: O(client_id) of this request.
        type: str
      client_secret:
        description: O(client_secret) of this request.
        type: str
      token_url:
        description: O(token_url) of this request.
        type: str
      url:
        description: O(url) of this request.
        type: str
      client_cert:
        description: O(client_cert) of this request.
        type: str
      client_key:
        description: O(client_key) of this request.
        type: str
      allow_http:
        description: O(allow_http) of this request.
        type: bool
      client_auth:
        description: O(client_auth) of this request.
        type: str
        choices:
        - basic
        - body
        - query
      cache:
        description: O(cache) of this request.
        type: bool
      min_ttl:
        description: O(min_ttl) of this request.
        type: int
      entity_set:
        description: O(entity_set) of this request.
        type: str
      key:
        description: O(key) of this request.
        type: raw
      navigation:
        description: O(navigation) of this request.
        type: str
      path:
        description: O(path) of this request.
        type: str
      method:
        description: O(method) of this request.
        type: str
        choices:
        - GET
        - POST
        - PUT
        - PATCH
        - MERGE
        - DELETE
      body:
        description: O(body) of this request.
        type: raw
      filter:
        description: O(filter) of this request.
        type: str
      select:
        description: O(select) of this request.
        type: list
        elements: str
      orderby:
        description: O(orderby) of this request.
        type: list
        elements: str
      expand:
        description: O(expand) of this request.
        type: list
        elements: str
      top:
        description: O(top) of this request.
        type: int
      skip:
        description: O(skip) of this request.
        type: int
      inlinecount:
        description: O(inlinecount) of this request.
        type: bool
      query:
        description: O(query) of this request.
        type: raw
      paging:
        description: O(paging) of this request.
        type: bool
      page_size:
        description: O(page_size) of this request.
        type: int
      max_items:
        description: O(max_items) of this request.
        type: int
      dest:
        description: O(dest) of this request.
        type: path
      keep_metadata:
        description: O(keep_metadata) of this request.
        type: bool
      convert_dates:
        description: O(convert_dates) of this request.
        type: bool
      headers:
        description: O(headers) of this request.
        type: dict
      auth:
        description: O(auth) of this request.
        type: str
        choices:
        - oauth
        - certificate
      csrf:
        description: O(csrf) of this request.
        type: bool
      status_code:
        description: O(status_code) of this request.
        type: list
        elements: int
      name:
        description: Name of this item in the results and in errors (see O(name)).
        type: str
  concurrency:
    description:
      - With O(requests), how many items run at the same time (1-32).
    type: int
    default: 8
    version_added: 1.1.0
attributes:
  check_mode:
    support: full
    details: Reads run in check mode; writes are not sent and report C(changed).
  diff_mode:
    support: none
notes:
  - The task reports C(changed) for writes, and for reads with O(dest) when the file changed.
"""

EXAMPLES = r"""
- name: All message processing logs of an iFlow in the last day, with the total
  sap_btp.cloud_integration.odata_request:
    service_key: "{{ api_key }}"
    entity_set: MessageProcessingLogs
    filter: "IntegrationArtifact/Id eq 'Orders' and Status ne 'DISCARDED'"
    orderby: [LogEnd desc]
    select: [MessageGuid, Status, LogStart, LogEnd]
    inlinecount: true
    max_items: 5000
  register: logs

- name: Error text of a failed message
  sap_btp.cloud_integration.odata_request:
    service_key: "{{ api_key }}"
    entity_set: MessageProcessingLogs
    key: "{{ mpl_id }}"
    navigation: ErrorInformation/$value
  register: error_text

- name: Design-time artifacts of a package (a navigation that ignores $skip)
  sap_btp.cloud_integration.odata_request:
    service_key: "{{ api_key }}"
    path: IntegrationPackages('Orders')/IntegrationDesigntimeArtifacts
    page_size: 50

- name: Every failed message processing log into a file (memory stays bounded)
  sap_btp.cloud_integration.odata_request:
    service_key: "{{ api_key }}"
    entity_set: MessageProcessingLogs
    filter: "Status eq 'FAILED'"
    max_items: 0
    dest: /var/tmp/mpls.jsonl
  register: export

- name: Create a package (CSRF token handled)
  sap_btp.cloud_integration.odata_request:
    service_key: "{{ api_key }}"
    entity_set: IntegrationPackages
    method: POST
    body:
      Id: Orders
      Name: Orders
      ShortText: Order processing
    status_code: [201]
"""

RETURN = r"""
requests:
  description:
    - With O(requests), the result of every item in the order of the items - the keys described here, C(changed),
      C(name) when the item has one, and C(failed) with C(msg) for a failed item.
  returned: with O(requests)
  type: list
  elements: dict
status:
  description: The HTTP status of the last answer.
  returned: when a request was sent
  type: int
  sample: 200
results:
  description: The entities of a collection, across all pages read.
  returned: when the answer is a collection and O(dest) is not set
  type: list
  elements: dict
dest:
  description: The file the entities were written to.
  returned: when O(dest) is set
  type: str
written:
  description: The number of entities written to O(dest).
  returned: when O(dest) is set and the answer is a collection
  type: int
  sample: 20000
entity:
  description: The entity of a single-entity answer.
  returned: when the answer is one entity
  type: dict
count:
  description: The total number of matching entities (C(__count)), with O(inlinecount=true).
  returned: when the server sent a count
  type: int
  sample: 3120
pages:
  description: The number of pages read.
  returned: when the answer is a collection
  type: int
truncated:
  description: Whether more entities exist than O(max_items) allowed to collect.
  returned: when the answer is a collection
  type: bool
skip_ignored:
  description: Whether the server ignored C($skip) (paging was stopped and the collection read once without it).
  returned: when the answer is a collection
  type: bool
content:
  description: The body of an answer that is not JSON (C($value), C($count), XML), as text.
  returned: when the answer is not JSON
  type: str
location:
  description: The C(Location) header of a write, if any.
  returned: when the server sent one
  type: str
csrf_handshake:
  description: Whether a CSRF token was fetched and sent.
  returned: for writes
  type: bool
resource:
  description: The URL of the resource (without query string).
  returned: always
  type: str
"""

import json

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils import _batch
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._errors import ParameterError, safe_url
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._credentials import argument_spec as credentials_argument_spec
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._credentials import module_kwargs as credentials_module_kwargs
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._credentials import resolve
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._module import CloudIntegrationModule
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._oauth import (
    PLAN_API,
    SharedTokens,
    token_argument_spec,
)
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._odata import (
    VALUE_ACCEPT,
    WRITE_METHODS,
    JsonLinesFile,
    Pager,
    api_client,
    clean,
    envelope,
    is_value_path,
    query_options,
    resource_path,
    with_options,
)


def _body(value):
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        return json.dumps(value).encode("utf-8")
    return str(value).encode("utf-8")


def _decode(response):
    content_type = (response.headers.get("Content-Type") or "").lower()
    if response.content and "json" in content_type:
        try:
            return response.json(), None
        except ValueError:
            pass
    return None, response.text if response.content else ""


def _shape(result, data, params):
    page, single, count, _next = envelope(data)
    if page is not None:
        result["results"] = clean(page, params["keep_metadata"], params["convert_dates"])
        if count is not None:
            result["count"] = count
    elif single is not None:
        result["entity"] = clean(single, params["keep_metadata"], params["convert_dates"])


def request(module, validate_only=False):
    params = module.params
    for name in ("top", "skip", "max_items", "page_size"):
        if params.get(name) is not None and params[name] < 0:
            raise ParameterError(name, "must be 0 or more")
    if not (params.get("path") or params.get("entity_set")):
        raise ParameterError("entity_set", "one of path or entity_set is required")
    resource = resource_path(params.get("entity_set"), params.get("key"), params.get("navigation"), params.get("path"))
    # an item of a batch resolves its credentials once, when it is validated (an instance key is one CF request)
    creds = module.__dict__.get("resolved_credentials")
    if creds is None:
        creds = resolve(module, require_url=True, plan=PLAN_API, purpose="the Cloud Integration OData API (odata_request)",
                        reference_key="key_name")
    if validate_only:
        module.__dict__["resolved_credentials"] = creds
        return None
    method = params["method"]
    write = method in WRITE_METHODS
    if params.get("dest") and (write or is_value_path(resource)):
        raise ParameterError("dest", "only reads of a collection can be written to a file")
    options = query_options(params.get("filter"), params.get("select"), params.get("orderby"), params.get("expand"),
                            params.get("top"), params.get("skip"), params["inlinecount"], params.get("query"))
    expected = params.get("status_code")
    with api_client(module, creds, extra_headers=params["headers"]) as client:
        url = client.url(resource)
        result = {"changed": write, "resource": safe_url(url)}
        if write:
            if module.check_mode:
                result["msg"] = "check mode: the %s request to %s was not sent" % (method, safe_url(url))
                return result
            response = client.write(method, with_options(url, options), data=_body(params.get("body")), csrf=params["csrf"])
            result["csrf_handshake"] = client.csrf_handshake
        elif is_value_path(resource):
            response = client.send("GET", with_options(url, options), accept=VALUE_ACCEPT)
        else:
            if params.get("dest") and module.check_mode:
                result.update(changed=True, dest=params["dest"],
                              msg="check mode: the entities of %s were not read into %s" % (safe_url(url), params["dest"]))
                return result
            sink = JsonLinesFile(params["dest"], params["keep_metadata"], params["convert_dates"]) if params.get("dest") else None
            try:
                pager = Pager(client.get_json, url, options, max_items=params["max_items"], page_size=params.get("page_size"),
                              follow=params["paging"], warn=module.warn, root=client.root, sink=sink,
                              read=client.reader())
                collected = pager.run()
                if sink is not None and pager.single is None and not pager.no_content:
                    result.update(changed=sink.finish(), dest=sink.dest, written=pager.written)
            finally:
                if sink is not None:
                    sink.discard()
            result["status"] = 204 if pager.no_content else 200
            if pager.no_content:
                return result
            if pager.single is not None:
                result["entity"] = clean(pager.single, params["keep_metadata"], params["convert_dates"])
                return result
            result.update(pages=pager.pages, truncated=pager.truncated, skip_ignored=pager.skip_ignored)
            if sink is None:
                result["results"] = clean(collected, params["keep_metadata"], params["convert_dates"])
            if pager.count is not None:
                result["count"] = pager.count
            return result
        result["status"] = response.status_code
        ok = (response.status_code in expected) if expected else 200 <= response.status_code < 300
        if not ok:
            client.raise_for(response, "OData %s %s" % (method, safe_url(url)))
        data, text = _decode(response)
        if data is not None:
            _shape(result, data, params)
            if "results" in result:
                result.update(pages=1, truncated=False, skip_ignored=False)
        elif text:
            result["content"] = module.redactor.scrub(text)
        if response.headers.get("Location"):
            result["location"] = response.headers["Location"]
        return result


def run(module, spec):
    if module.params.get("requests") is not None:
        return _batch.run_calls(module, "requests", _batch.call_item_options(spec), request, "OData requests", tokens=SharedTokens(),
                                exclusive=_batch.credential_exclusive((("path",), ("entity_set", "key", "navigation")), reference_key="key_name"))
    return request(module)


def main():
    spec = credentials_argument_spec(reference_key="key_name")
    spec.update(token_argument_spec())
    spec.update(
        entity_set=dict(type="str"),
        key=dict(type="raw", no_log=False),
        navigation=dict(type="str"),
        path=dict(type="str"),
        method=dict(type="str", default="GET", choices=["GET", "POST", "PUT", "PATCH", "MERGE", "DELETE"]),
        body=dict(type="raw"),
        filter=dict(type="str"),
        select=dict(type="list", elements="str"),
        orderby=dict(type="list", elements="str"),
        expand=dict(type="list", elements="str"),
        top=dict(type="int"),
        skip=dict(type="int"),
        inlinecount=dict(type="bool", default=False),
        query=dict(type="raw"),
        paging=dict(type="bool", default=True),
        page_size=dict(type="int"),
        max_items=dict(type="int", default=1000),
        dest=dict(type="path"),
        keep_metadata=dict(type="bool", default=False),
        convert_dates=dict(type="bool", default=True),
        headers=dict(type="dict", default={}),
        auth=dict(type="str", default="oauth", choices=["oauth", "certificate"]),
        csrf=dict(type="bool", default=True),
        status_code=dict(type="list", elements="int"),
    )
    _batch.add_requests_option(spec)
    module = CloudIntegrationModule(
        argument_spec=spec,
        supports_check_mode=True,
        **credentials_module_kwargs(reference_key="key_name", mutually_exclusive=[("path", "entity_set"), ("path", "key"), ("path", "navigation")],
                                    required_one_of=[("path", "entity_set", "requests")])
    )
    result = module.run(run, module, spec)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
