#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: integration_artifact
short_description: Deploy or undeploy an SAP Cloud Integration iFlow and follow its build-and-deploy task
version_added: 1.0.0
description:
  - >-
    O(state=deployed) deploys a design-time integration flow (C(DeployIntegrationDesigntimeArtifact)) unless the
    runtime already runs the same version (status V(STARTED)), follows the build-and-deploy task
    (C(BuildAndDeployStatus)) and then the runtime status until V(STARTED). A failed deployment fails the task with
    the tenant's error text (C(ErrorInformation/$value)) as readable text.
  - An artifact in status V(ERROR) is deployed again; one in status V(STARTING) with the wanted version is a
    deployment in progress, which the module waits for instead of starting another.
  - O(state=undeployed) removes the runtime artifact (C(DELETE IntegrationRuntimeArtifacts)); the design-time
    artifact stays.
  - Needs an V(api) service key with the role C(WorkspaceArtifactsDeploy) (deploy, undeploy, task status),
    C(MonitoringDataRead) (runtime status) and C(WorkspacePackagesRead) (the design-time version to compare), for
    example the role collection C(AuthGroup_IntegrationDeveloper).
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
  artifact_id:
    description: The id of the integration flow, for example V(Products_Details).
    type: str
    required: true
  version:
    description:
      - The design-time version to deploy. V(active) is the current version of the design-time artifact; its
        version number is what the runtime's deployed version is compared with.
    type: str
    default: active
  state:
    description: V(deployed) or V(undeployed).
    type: str
    choices: [deployed, undeployed]
    default: deployed
  wait:
    description:
      - Follow the build-and-deploy task and the runtime status until V(STARTED) (or, for O(state=undeployed), until
        the runtime artifact is gone).
      - V(false) returns right after the request with the task id.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait before the task fails.
    type: int
    default: 300
  poll_interval:
    description: Seconds between two status reads.
    type: int
    default: 2
  auth:
    description:
      - V(oauth) sends a bearer token from the shared token cache; V(certificate) presents the client certificate
        of an V(api) certificate key directly to the API.
    type: str
    choices: [oauth, certificate]
    default: oauth
attributes:
  check_mode:
    support: full
    details: Reads the runtime and design-time status and reports what would change; nothing is deployed.
  diff_mode:
    support: full
    details: The runtime status and version before and after.
notes:
  - >-
    Modifying calls fetch a CSRF token first (C(X-CSRF-Token: Fetch) on the service root, cookies kept) and send it
    when the tenant hands one out; whether bearer-token calls need it is not documented by SAP.
  - If the key cannot read the design-time artifact (no C(WorkspacePackagesRead)), a V(STARTED) artifact is left
    as it is with a warning, since its version cannot be compared.
"""

EXAMPLES = r"""
- name: Deploy an iFlow and wait until it runs
  sap_btp.cloud_integration.integration_artifact:
    service_key: "{{ deployer_key }}"
    artifact_id: Products_Details
  register: deployment

- name: Preview a deployment
  sap_btp.cloud_integration.integration_artifact:
    service_key_path: /etc/cpi/deployer-key.json
    artifact_id: Products_Details
  check_mode: true
  diff: true

- name: Undeploy an iFlow
  sap_btp.cloud_integration.integration_artifact:
    service_key: "{{ deployer_key }}"
    artifact_id: Old_Orders_Flow
    state: undeployed
"""

RETURN = r"""
artifact:
  description: The runtime artifact after the task (C(deployed=false) when it is not deployed); the fields of
    M(sap_btp.cloud_integration.integration_artifact_info) C(artifacts) without C(endpoints).
  returned: always
  type: dict
  sample:
    id: Products_Details
    version: 1.0.3
    status: STARTED
    deployed: true
    deployed_by: sb-1d2c...!b196|it!b196
    deployed_on: "2026-03-14T09:21:44.512Z"
    error_text: null
task_id:
  description: The build-and-deploy task id of a deployment.
  returned: when a deployment was started
  type: str
task_status:
  description: The final status of the build-and-deploy task (V(SUCCESS), V(FAIL), V(FAIL_ON_LICENSE_ERROR)).
  returned: when a deployment was followed
  type: str
error_text:
  description: The readable error text of a failed deployment.
  returned: when the deployment failed
  type: str
failure_kind:
  description: V(deployment_failed) when the deployment failed.
  returned: when the deployment failed
  type: str
waited:
  description: Seconds spent following the deployment.
  returned: always
  type: float
"""

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._artifacts import ArtifactApi, describe, not_deployed
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._errors import ApiError, ParameterError
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._module import CloudIntegrationModule
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils import _credentials
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._oauth import (
    PLAN_API,
    token_argument_spec,
)
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._odata import api_client


def _state(artifact):
    return {"deployed": artifact["deployed"], "status": artifact["status"], "version": artifact["version"]}


def _current(api, artifact_id):
    entity = api.runtime(artifact_id)
    return describe(entity) if entity is not None else not_deployed(artifact_id)


def _wanted_version(module, api, params, current):
    """The version number to run, or None when it cannot be read (no WorkspacePackagesRead)."""
    try:
        design = api.designtime(params["artifact_id"], params["version"])
    except ApiError as exc:
        if exc.status == 403:
            if current["status"] == "STARTED":
                module.warn("cannot read the design-time artifact %s (%s); it is STARTED, so it is left as it is"
                            % (params["artifact_id"], exc))
            return None
        raise
    if design is None:
        raise ParameterError("artifact_id", "the tenant has no design-time integration flow %s with version %s"
                             % (params["artifact_id"], params["version"]))
    return design.get("Version") or params["version"]


def _follow(api, params, result, start_waited=0.0):
    """Follow a deployment until STARTED; sets the result (fails with the error text)."""
    artifact_id = params["artifact_id"]
    waited = start_waited
    if result.get("task_id"):
        status, task_waited = api.wait_task(result["task_id"], params["wait_timeout"], params["poll_interval"])
        waited += task_waited
        result["task_status"] = status
        if status is None:
            result["failed"] = True
            result["msg"] = "timed out after %ss waiting for the build-and-deploy task %s of %s" % (
                params["wait_timeout"], result["task_id"], artifact_id)
            result["waited"] = round(waited, 3)
            return
    remaining = max(0, params["wait_timeout"] - waited)
    current, outcome, runtime_waited = api.wait_runtime([artifact_id], ["STARTED"], remaining, params["poll_interval"])
    waited += runtime_waited
    artifact = current[artifact_id]
    if result.get("task_status") in ("FAIL", "FAIL_ON_LICENSE_ERROR") and outcome != "error":
        artifact["error_text"] = api.error_text(artifact_id)
        outcome = "error"
    result["artifact"] = artifact
    result["waited"] = round(waited, 3)
    if outcome == "error":
        result["failed"] = True
        result["failure_kind"] = "deployment_failed"
        result["error_text"] = artifact.get("error_text")
        result["msg"] = "deployment of %s failed (task %s, status %s): %s" % (
            artifact_id, result.get("task_status") or "-", artifact["status"] or "not deployed",
            artifact.get("error_text") or "the tenant gave no error text")
    elif outcome == "timeout":
        result["failed"] = True
        result["msg"] = "timed out after %ss waiting for %s to start (status %s)" % (
            params["wait_timeout"], artifact_id, artifact["status"] or "not deployed")


def deployed(module, api, params):
    current = _current(api, params["artifact_id"])
    result = {"changed": False, "artifact": current, "waited": 0.0}
    wanted = _wanted_version(module, api, params, current)
    if wanted is None and current["status"] == "STARTED":
        return result
    same = wanted is not None and current["version"] == wanted
    if same and current["status"] == "STARTED":
        return result
    if same and current["status"] == "STARTING":
        if params["wait"] and not module.check_mode:
            _follow(api, params, result)
        return result
    result["changed"] = True
    after = {"deployed": True, "status": "STARTED", "version": wanted or params["version"]}
    result["diff"] = {"before": _state(current), "after": after}
    if module.check_mode:
        result["msg"] = "check mode: %s would be deployed (version %s)" % (params["artifact_id"], after["version"])
        return result
    result["task_id"] = api.deploy(params["artifact_id"], params["version"])
    if params["wait"]:
        _follow(api, params, result)
    else:
        result["artifact"] = _current(api, params["artifact_id"])
    return result


def undeployed(module, api, params):
    artifact_id = params["artifact_id"]
    current = _current(api, artifact_id)
    result = {"changed": False, "artifact": current, "waited": 0.0}
    if not current["deployed"]:
        return result
    result["changed"] = True
    result["diff"] = {"before": _state(current), "after": {"deployed": False, "status": None, "version": None}}
    if module.check_mode:
        result["msg"] = "check mode: %s would be undeployed" % artifact_id
        return result
    api.undeploy(artifact_id)
    if params["wait"]:
        current, outcome, waited = api.wait_runtime([artifact_id], [None], params["wait_timeout"], params["poll_interval"],
                                                    fail_on_error=False)
        result["waited"] = round(waited, 3)
        if outcome == "timeout":
            result["failed"] = True
            result["msg"] = "timed out after %ss waiting for %s to be undeployed (status %s)" % (
                params["wait_timeout"], artifact_id, current[artifact_id]["status"])
        result["artifact"] = current[artifact_id]
    else:
        result["artifact"] = _current(api, artifact_id)
    return result


def run(module):
    params = module.params
    if not params["artifact_id"].strip():
        raise ParameterError("artifact_id", "must not be empty")
    if not params["version"].strip():
        raise ParameterError("version", "must not be empty (use active for the current design-time version)")
    for name in ("wait_timeout", "poll_interval"):
        if params[name] < 0:
            raise ParameterError(name, "must be 0 or more")
    if params["wait"] and params["poll_interval"] == 0:
        raise ParameterError("poll_interval", "must be at least 1 second when wait is true")
    creds = _credentials.resolve(module, require_url=True)
    _credentials.check_plan(creds, PLAN_API, "deploying integration artifacts (the Cloud Integration OData API)")
    with api_client(module, creds) as client:
        api = ArtifactApi(client, redactor=module.redactor, warn=module.warn)
        if params["state"] == "deployed":
            return deployed(module, api, params)
        return undeployed(module, api, params)


def main():
    spec = _credentials.argument_spec()
    spec.update(token_argument_spec())
    spec.update(
        artifact_id=dict(type="str", required=True),
        version=dict(type="str", default="active"),
        state=dict(type="str", default="deployed", choices=["deployed", "undeployed"]),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=300),
        poll_interval=dict(type="int", default=2),
        auth=dict(type="str", default="oauth", choices=["oauth", "certificate"]),
    )
    module = CloudIntegrationModule(argument_spec=spec, supports_check_mode=True, **_credentials.module_kwargs())
    result = module.run(run, module)
    if not module._diff:
        result.pop("diff", None)
    if result.pop("failed", False):
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
