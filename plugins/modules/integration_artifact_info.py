#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: integration_artifact_info
short_description: Runtime status, error text and endpoints of SAP Cloud Integration artifacts, and waiting for STARTED
version_added: 1.0.0
description:
  - >-
    Reads the runtime artifacts of a Cloud Integration tenant through the OData API with an V(api) service key
    (role C(MonitoringDataRead)): all of them, or the ones named in O(artifact_ids), with status, version, deployed
    by and on, the error text of failed deployments (C(ErrorInformation/$value), as readable text) and the endpoints
    (URL, protocol) from C(ServiceEndpoints).
  - An artifact named in O(artifact_ids) that is not deployed is returned with C(deployed=false) and C(status=null)
    (the API answers 404 for it).
  - With O(wait_for), polls until every named artifact has one of those statuses. An artifact whose deployment
    fails (status V(ERROR)) fails the task at once with its error text; the timeout fails the task with the current
    statuses.
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
  artifact_ids:
    description:
      - The artifact (iFlow) ids to report, for example V(Products_Details). Without it, every runtime artifact of
        the tenant is reported.
    type: list
    elements: str
    aliases: [artifact_id]
  endpoints:
    description:
      - Read C(ServiceEndpoints?$expand=EntryPoints) and add each artifact's endpoints.
      - V(false) saves the request when only the status matters.
    type: bool
    default: true
  wait_for:
    description:
      - Wait until every artifact of O(artifact_ids) has one of these statuses, for example V([STARTED]) after a
        deployment. Needs O(artifact_ids).
    type: list
    elements: str
    choices: [STARTED, STARTING, ERROR, STOPPING, STOPPED]
  wait_timeout:
    description: Seconds to wait for O(wait_for) before the task fails.
    type: int
    default: 300
  poll_interval:
    description: Seconds between two reads while waiting.
    type: int
    default: 3
  auth:
    description:
      - V(oauth) sends a bearer token from the shared token cache; V(certificate) presents the client certificate
        of an V(api) certificate key directly to the API.
    type: str
    choices: [oauth, certificate]
    default: oauth
notes:
  - The role that C(ServiceEndpoints) needs is not documented by SAP; the collection assumes C(MonitoringDataRead),
    like the runtime status. Set O(endpoints=false) if the key cannot read it.
"""

EXAMPLES = r"""
- name: Status and endpoint of one iFlow
  sap_btp.cloud_integration.integration_artifact_info:
    service_key: "{{ api_key }}"
    artifact_ids: [Products_Details]
  register: flow

- name: Show why it is not running
  ansible.builtin.debug:
    msg: "{{ flow.artifacts[0].status }}: {{ flow.artifacts[0].error_text }}"
  when: flow.artifacts[0].status != 'STARTED'

- name: Wait until two iFlows are started (fails at once with the error text of a failed deployment)
  sap_btp.cloud_integration.integration_artifact_info:
    service_key: "{{ api_key }}"
    artifact_ids: [Products_Details, Echo_HTTP]
    wait_for: [STARTED]
    wait_timeout: 180

- name: Every runtime artifact of the tenant, without endpoints
  sap_btp.cloud_integration.integration_artifact_info:
    service_key_path: /etc/cpi/api-key.json
    endpoints: false
  register: runtime
"""

RETURN = r"""
artifacts:
  description: The runtime artifacts, in the order of O(artifact_ids) (or as the API lists them).
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: The artifact id.
      type: str
      sample: Products_Details
    name:
      description: The artifact name.
      type: str
    version:
      description: The deployed version.
      type: str
      sample: 1.0.3
    type:
      description: The artifact type, for example C(INTEGRATION_FLOW).
      type: str
    status:
      description: The runtime status (V(STARTED), V(STARTING), V(ERROR), ...); null when not deployed.
      type: str
    deployed:
      description: Whether a runtime artifact exists.
      type: bool
    deployed_by:
      description: Who deployed it.
      type: str
    deployed_on:
      description: When it was deployed (ISO 8601).
      type: str
    error_text:
      description: The readable error text of a failed deployment (status V(ERROR)), else null.
      type: str
      sample: "org.osgi...ComponentDefinitionException: Error when instantiating bean ...: java.lang.IllegalStateException: No credentials for 'smtp' found"
    endpoints:
      description: The endpoints of the artifact (C(url), C(protocol), C(type), C(endpoint_id)).
      type: list
      elements: dict
status_counts:
  description: The number of returned artifacts per status (V(NOT_DEPLOYED) for named artifacts that are not deployed).
  returned: always
  type: dict
  sample: {STARTED: 7, ERROR: 1}
waited:
  description: Seconds spent waiting for O(wait_for).
  returned: always
  type: float
"""

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._artifacts import RUNTIME_STATUSES, ArtifactApi
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._errors import ParameterError
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._module import CloudIntegrationModule
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils import _credentials
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._oauth import (
    PLAN_API,
    token_argument_spec,
)
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._odata import api_client


def report(module):
    params = module.params
    for name in ("wait_timeout", "poll_interval"):
        if params[name] < 0:
            raise ParameterError(name, "must be 0 or more")
    ids = [artifact_id.strip() for artifact_id in params.get("artifact_ids") or []]
    if any(not artifact_id for artifact_id in ids):
        raise ParameterError("artifact_ids", "an artifact id is empty")
    if params.get("wait_for") and not ids:
        raise ParameterError("wait_for", "needs artifact_ids (the artifacts to wait for)")
    if params.get("wait_for") and params["poll_interval"] == 0:
        raise ParameterError("poll_interval", "must be at least 1 second when wait_for is set")
    creds = _credentials.resolve(module, require_url=True)
    _credentials.check_plan(creds, PLAN_API, "integration artifacts (the Cloud Integration OData API)")
    result = {"changed": False, "waited": 0.0}
    with api_client(module, creds) as client:
        api = ArtifactApi(client, redactor=module.redactor, warn=module.warn)
        if params.get("wait_for"):
            current, outcome, waited = api.wait_runtime(ids, params["wait_for"], params["wait_timeout"], params["poll_interval"])
            result["waited"] = round(waited, 3)
            if outcome == "error":
                failed = [a for a in current.values() if a["status"] == "ERROR"]
                result["artifacts"] = [current[i] for i in ids]
                result["failed"] = True
                result["msg"] = "; ".join("deployment of %s failed (status ERROR): %s" % (
                    a["id"], a.get("error_text") or "the tenant gave no error text") for a in failed)
            elif outcome == "timeout":
                state = ", ".join("%s=%s" % (i, current[i]["status"] or "not deployed") for i in ids)
                result["artifacts"] = [current[i] for i in ids]
                result["failed"] = True
                result["msg"] = "timed out after %ss waiting for %s (current: %s)" % (
                    params["wait_timeout"], ", ".join(params["wait_for"]), state)
        if not result.get("failed"):
            result["artifacts"] = api.artifacts(ids or None, endpoints=params["endpoints"])
    counts = {}
    for art in result["artifacts"]:
        status = art["status"] or "NOT_DEPLOYED"
        counts[status] = counts.get(status, 0) + 1
    result["status_counts"] = counts
    return result


def main():
    spec = _credentials.argument_spec()
    spec.update(token_argument_spec())
    spec.update(
        artifact_ids=dict(type="list", elements="str", aliases=["artifact_id"]),
        endpoints=dict(type="bool", default=True),
        wait_for=dict(type="list", elements="str", choices=list(RUNTIME_STATUSES)),
        wait_timeout=dict(type="int", default=300),
        poll_interval=dict(type="int", default=3),
        auth=dict(type="str", default="oauth", choices=["oauth", "certificate"]),
    )
    module = CloudIntegrationModule(argument_spec=spec, supports_check_mode=True, **_credentials.module_kwargs())
    result = module.run(report, module)
    if result.pop("failed", False):
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
