#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: message_processing_log_info
short_description: Find SAP Cloud Integration message processing logs and wait for their status
version_added: 1.0.0
description:
  - >-
    Reads message processing logs (MPLs) through the Cloud Integration OData API with an V(api) service key
    (role C(MonitoringDataRead)): one log by O(mpl_id), or the logs of a O(correlation_id), or of an
    O(integration_flow) in a time window with given O(status) values.
  - With O(wait_for), polls until every matching log has one of those statuses. A log that ends in another final
    status (for example V(FAILED) while waiting for V(COMPLETED)) fails the task at once, with its error text.
  - For logs in status V(FAILED), V(RETRY) or V(ESCALATED) the error text (C(ErrorInformation/$value)) is added.
  - An V(integration-flow) key fails before any request, with a message that explains the two plans.
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
  - sap_btp.cloud_integration.attributes.INFO_MODULE
options:
  mpl_id:
    description: The C(MessageGuid) of one log, for example the C(mpl_id) returned by M(sap_btp.cloud_integration.iflow_request).
    type: str
  correlation_id:
    description: The C(CorrelationId) shared by the logs of one message flow.
    type: str
  integration_flow:
    description: The iFlow id (C(IntegrationArtifact/Id)).
    type: str
  status:
    description: Only logs with one of these statuses.
    type: list
    elements: str
    choices: [COMPLETED, PROCESSING, RETRY, ESCALATED, FAILED, CANCELLED, DISCARDED, ABANDONED]
  since:
    description:
      - Only logs that ended at or after this time. ISO 8601 (without zone = UTC) or an age such as V(30m), V(2h),
        V(1d).
    type: str
  until:
    description: Only logs that started at or before this time (same formats as O(since)).
    type: str
  max_items:
    description: The most logs to return (newest first).
    type: int
    default: 100
  wait_for:
    description:
      - Wait until every matching log (at least one) has one of these statuses.
    type: list
    elements: str
    choices: [COMPLETED, PROCESSING, RETRY, ESCALATED, FAILED, CANCELLED, DISCARDED, ABANDONED]
  wait_timeout:
    description: Seconds to wait for O(wait_for) before the task fails.
    type: int
    default: 300
  poll_interval:
    description: Seconds between two reads while waiting.
    type: int
    default: 3
  error_details:
    description: Read the error text of logs in status V(FAILED), V(RETRY) or V(ESCALATED) (at most 20 logs).
    type: bool
    default: true
  auth:
    description:
      - V(oauth) sends a bearer token from the shared token cache; V(certificate) presents the client certificate
        of an V(api) certificate key directly to the API.
    type: str
    choices: [oauth, certificate]
    default: oauth
  name:
    description:
      - A label for the result and errors, for example the client that makes the log read. In O(requests), the name of
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
      - Many log reads (for example one per MPL id) in one task - faster than a loop, which starts a module process for every item (about 0.5 s
        each) and runs the items one after the other. The items run on O(concurrency) threads that share the
        connection pool and the tokens - one token per client (credentials), however many items the client has.
      - Each item sets the options of one log read; an option an item does not set is taken from the task. An item that
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
      key:
        description: See O(key).
        type: str
        aliases: [key_name]
      service_key:
        description: O(service_key) of this log read.
        type: raw
      service_key_path:
        description: O(service_key_path) of this log read.
        type: path
      client_id:
        description: O(client_id) of this log read.
        type: str
      client_secret:
        description: O(client_secret) of this log read.
        type: str
      token_url:
        description: O(token_url) of this log read.
        type: str
      url:
        description: O(url) of this log read.
        type: str
      client_cert:
        description: O(client_cert) of this log read.
        type: str
      client_key:
        description: O(client_key) of this log read.
        type: str
      allow_http:
        description: O(allow_http) of this log read.
        type: bool
      client_auth:
        description: O(client_auth) of this log read.
        type: str
        choices:
        - basic
        - body
        - query
      cache:
        description: O(cache) of this log read.
        type: bool
      min_ttl:
        description: O(min_ttl) of this log read.
        type: int
      mpl_id:
        description: O(mpl_id) of this log read.
        type: str
      correlation_id:
        description: O(correlation_id) of this log read.
        type: str
      integration_flow:
        description: O(integration_flow) of this log read.
        type: str
      status:
        description: O(status) of this log read.
        type: list
        choices:
        - COMPLETED
        - PROCESSING
        - RETRY
        - ESCALATED
        - FAILED
        - CANCELLED
        - DISCARDED
        - ABANDONED
        elements: str
      since:
        description: O(since) of this log read.
        type: str
      until:
        description: O(until) of this log read.
        type: str
      max_items:
        description: O(max_items) of this log read.
        type: int
      wait_for:
        description: O(wait_for) of this log read.
        type: list
        choices:
        - COMPLETED
        - PROCESSING
        - RETRY
        - ESCALATED
        - FAILED
        - CANCELLED
        - DISCARDED
        - ABANDONED
        elements: str
      wait_timeout:
        description: O(wait_timeout) of this log read.
        type: int
      poll_interval:
        description: O(poll_interval) of this log read.
        type: int
      error_details:
        description: O(error_details) of this log read.
        type: bool
      auth:
        description: O(auth) of this log read.
        type: str
        choices:
        - oauth
        - certificate
      name:
        description: Name of this item in the results and in errors (see O(name)).
        type: str
  concurrency:
    description:
      - With O(requests), how many items run at the same time (1-32).
    type: int
    default: 8
    version_added: 1.1.0
"""

EXAMPLES = r"""
- name: Call an iFlow
  sap_btp.cloud_integration.iflow_request:
    service_key: "{{ iflow_key }}"
    path: /orders
    body: {orderId: 4711}
  register: call

- name: Wait until its message is COMPLETED (fails with the error text if it FAILED)
  sap_btp.cloud_integration.message_processing_log_info:
    service_key: "{{ api_key }}"
    mpl_id: "{{ call.mpl_id }}"
    wait_for: [COMPLETED]
    wait_timeout: 120

- name: Failed messages of an iFlow in the last two hours
  sap_btp.cloud_integration.message_processing_log_info:
    service_key: "{{ api_key }}"
    integration_flow: Orders
    status: [FAILED]
    since: 2h
  register: failures
"""

RETURN = r"""
requests:
  description:
    - With O(requests), the result of every item in the order of the items - the keys described here, C(changed),
      C(name) when the item has one, and C(failed) with C(msg) for a failed item.
  returned: with O(requests)
  type: list
  elements: dict
logs:
  description:
    - The matching logs, newest first, with dates as ISO 8601 and without C(__metadata).
    - Logs in status V(FAILED), V(RETRY) or V(ESCALATED) carry C(error_text) (null when the API has none).
  returned: always
  type: list
  elements: dict
  sample:
    - MessageGuid: AGk_xKgivsDaGSUpuvz-eEFzhKZO
      CorrelationId: AGk_xKi1R9hKPuBT4IxZqJkCkVvr
      IntegrationFlowName: Orders
      Status: FAILED
      LogStart: "2026-03-14T09:21:44.512Z"
      LogEnd: "2026-03-14T09:21:45.007Z"
      error_text: "java.lang.IllegalArgumentException: Mandatory field productIdentifier is missing"
status_counts:
  description: The number of returned logs per status.
  returned: always
  type: dict
  sample: {COMPLETED: 3, FAILED: 1}
waited:
  description: Seconds spent waiting for O(wait_for).
  returned: always
  type: float
"""

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils import _batch
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._errors import ApiError, ParameterError
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
    MPL_STATUSES,
    VALUE_ACCEPT,
    Pager,
    api_client,
    clean,
    key_predicate,
    mpl_filter,
    parse_time,
    poll,
    query_options,
)

ERROR_STATUSES = ("FAILED", "RETRY", "ESCALATED")
MAX_ERROR_READS = 20


class LogReader:
    def __init__(self, module, client):
        self.module = module
        self.client = client
        params = module.params
        since = parse_time(params.get("since"), "since")
        until = parse_time(params.get("until"), "until")
        self.filter = mpl_filter(params.get("correlation_id"), params.get("integration_flow"), params.get("status"), since, until)

    def read(self):
        params = self.module.params
        if params.get("mpl_id"):
            url = self.client.url("MessageProcessingLogs" + key_predicate(params["mpl_id"]))
            try:
                entity = self.client.get_json(url, context="reading message processing log %s" % params["mpl_id"])
            except ApiError as exc:
                if exc.status == 404:
                    return []
                raise
            logs = [entity.get("d", entity)] if isinstance(entity, dict) else []
            return [log for log in logs if self._matches(log)]
        options = query_options(filter=self.filter, orderby=["LogStart desc"])
        pager = Pager(self.client.get_json, self.client.url("MessageProcessingLogs"), options,
                      max_items=params["max_items"], warn=self.module.warn, root=self.client.root,
                      read=self.client.reader())
        return pager.run()

    def _matches(self, log):
        params = self.module.params
        if params.get("status") and log.get("Status") not in params["status"]:
            return False
        if params.get("correlation_id") and log.get("CorrelationId") != params["correlation_id"]:
            return False
        artifact = log.get("IntegrationArtifact") or {}
        if params.get("integration_flow") and artifact.get("Id") != params["integration_flow"]:
            return False
        return True

    def error_text(self, guid):
        url = self.client.url("MessageProcessingLogs%s/ErrorInformation/$value" % key_predicate(guid))
        response = self.client.send("GET", url, accept=VALUE_ACCEPT)
        if response.status_code in (204, 404):
            return None
        if response.status_code != 200:
            self.client.raise_for(response, "reading the error text of message processing log %s" % guid)
        return self.module.redactor.scrub(response.text.strip()) or None


def find_logs(module, validate_only=False):
    params = module.params
    for name in ("max_items", "wait_timeout", "poll_interval"):
        if params[name] < 0:
            raise ParameterError(name, "must be 0 or more")
    if params["wait_for"] and params["poll_interval"] == 0:
        raise ParameterError("poll_interval", "must be at least 1 second when wait_for is set")
    # an item of a batch resolves its credentials once, when it is validated (an instance key is one CF request)
    creds = module.__dict__.get("resolved_credentials")
    if creds is None:
        creds = resolve(module, require_url=True, plan=PLAN_API, purpose="message processing logs (the Cloud Integration OData API)")
    if validate_only:
        module.__dict__["resolved_credentials"] = creds
        return None
    with api_client(module, creds) as client:
        reader = LogReader(module, client)
        raw, outcome, waited = poll(reader.read, params.get("wait_for") or [], params["wait_timeout"], params["poll_interval"])
        logs = clean(raw)
        if params["error_details"]:
            reads = 0
            for log in logs:
                if log.get("Status") in ERROR_STATUSES and reads < MAX_ERROR_READS:
                    log["error_text"] = reader.error_text(log["MessageGuid"])
                    reads += 1
    counts = {}
    for log in logs:
        counts[log.get("Status")] = counts.get(log.get("Status"), 0) + 1
    result = {"changed": False, "logs": logs, "status_counts": counts, "waited": round(waited, 3)}
    wanted = ", ".join(params.get("wait_for") or [])
    if outcome == "unexpected":
        bad = [log for log in logs if log.get("Status") not in params["wait_for"]]
        details = "; ".join(
            "%s is %s%s" % (log.get("MessageGuid"), log.get("Status"), (": %s" % log["error_text"]) if log.get("error_text") else "")
            for log in bad[:5])
        result["failed"] = True
        result["msg"] = "message processing log did not reach %s: %s" % (wanted, details)
    elif outcome == "timeout":
        state = ", ".join("%s=%s" % (status, count) for status, count in sorted(counts.items())) or "no matching log yet"
        result["failed"] = True
        result["msg"] = "timed out after %ss waiting for %s (current: %s)" % (params["wait_timeout"], wanted, state)
    return result


def run(module, spec):
    if module.params.get("requests") is not None:
        return _batch.run_calls(module, "requests", _batch.call_item_options(spec), find_logs, "log reads", tokens=SharedTokens(),
                                exclusive=_batch.credential_exclusive())
    return find_logs(module)


def main():
    spec = credentials_argument_spec()
    spec.update(token_argument_spec())
    spec.update(
        mpl_id=dict(type="str"),
        correlation_id=dict(type="str"),
        integration_flow=dict(type="str"),
        status=dict(type="list", elements="str", choices=list(MPL_STATUSES)),
        since=dict(type="str"),
        until=dict(type="str"),
        max_items=dict(type="int", default=100),
        wait_for=dict(type="list", elements="str", choices=list(MPL_STATUSES)),
        wait_timeout=dict(type="int", default=300),
        poll_interval=dict(type="int", default=3),
        error_details=dict(type="bool", default=True),
        auth=dict(type="str", default="oauth", choices=["oauth", "certificate"]),
    )
    _batch.add_requests_option(spec)
    module = CloudIntegrationModule(argument_spec=spec, supports_check_mode=True, **credentials_module_kwargs())
    result = module.run(run, module, spec)
    if result.pop("failed", False):
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
