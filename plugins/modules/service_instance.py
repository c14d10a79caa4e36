#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: service_instance
short_description: Manage Process Integration Runtime (it-rt) service instances on Cloud Foundry
version_added: 1.0.0
description:
  - Creates, updates and deletes a managed service instance in a Cloud Foundry space through the Cloud Controller
    v3 API; made for the C(it-rt) offering (Process Integration Runtime), whose instances are the OAuth clients of
    SAP Cloud Integration.
  - The it-rt parameters O(roles), O(grant_types), O(redirect_uris) and O(token_validity) are validated against
    SAP's documented broker schema before any request is sent.
  - Idempotent - the instance is looked up by name in the space; the plan, the parameters and the tags are
    compared with what is applied and changed only when they differ. A second identical run costs one or two
    Cloud Foundry requests.
  - Operations in progress (also those started by other tools) are adopted and awaited; an instance whose create
    failed is replaced; an interrupted run converges on the next run without creating duplicates.
author:
  - sap_btp.cloud_integration contributors (@sap-btp-community)
extends_documentation_fragment:
  - sap_btp.cloud_integration.common
  - sap_btp.cloud_integration.cf_connection
  - sap_btp.cloud_integration.attributes
  - sap_btp.cloud_integration.attributes.ACTION_GROUP
attributes:
  check_mode:
    support: full
    details: Lookups are performed; nothing is created, changed or deleted. C(changed) is predicted.
  diff_mode:
    support: full
    details: Shows state, plan, tags and parameters before and after. Parameters of offerings other than it-rt are shown as fingerprints.
options:
  name:
    description:
      - Name of the service instance, unique in the space. SAP recommends at most 32 characters from C([A-Za-z0-9._-]).
      - Exactly one of O(name) and O(instances) is required.
    type: str
  instances:
    description:
      - Many instances in one task - faster than a loop, which starts a module process for every item and runs the
        items one after the other (about 0.5 s each). The items run on O(concurrency) threads that share one
        Cloud Foundry login.
      - Each item sets the options of one instance; an option an item does not set is taken from the task
        (O(plan), O(roles), O(state), ...). An item that sets O(instances[].parameters) takes none of O(roles),
        O(grant_types), O(redirect_uris) and O(token_validity) from the task, and the reverse.
      - Every item is validated before the first request, so an invalid item changes nothing. An item that fails
        later does not stop the others; the task then fails and names every failed item, and RV(instances) still
        reports all of them.
      - Results are in RV(instances), in the order of the items.
    type: list
    elements: dict
    suboptions:
      name:
        description: Name of the instance.
        type: str
        required: true
      state:
        description: V(present) or V(absent) for this instance.
        type: str
        choices: [present, absent]
      plan:
        description: Service plan of this instance.
        type: str
      roles:
        description: Roles of this instance (see O(roles)).
        type: list
        elements: str
      grant_types:
        description: Grant types of this instance (see O(grant_types)).
        type: list
        elements: str
      redirect_uris:
        description: Redirect URIs of this instance (see O(redirect_uris)).
        type: list
        elements: str
      token_validity:
        description: Access token validity of this instance in seconds (see O(token_validity)).
        type: int
      parameters:
        description: Raw parameters of this instance (see O(parameters)).
        type: dict
      tags:
        description: Tags of this instance.
        type: list
        elements: str
  concurrency:
    description:
      - With O(instances), how many instances are worked on at the same time (1-32).
    type: int
    default: 16
  state:
    description:
      - V(present) creates or updates the instance; V(absent) deletes it, together with its service keys.
    type: str
    choices: [present, absent]
    default: present
  offering:
    description:
      - Name of the service offering in the marketplace.
      - For V(apimanagement-apiportal) (API Management API portal access) the plan is V(apiportal-apiaccess) and O(parameters)
        holds only C(role) - V(APIPortal.Administrator), V(APIPortal.Guest) (read only) or
        V(APIManagement.SelfService.Administrator) - checked before any request. Its keys are flat (C(url), C(tokenUrl),
        C(clientId), C(clientSecret)).
    type: str
    default: it-rt
  plan:
    description:
      - Service plan. For it-rt, V(integration-flow) (OAuth client for senders calling iFlow endpoints) or
        V(api) (OAuth client for the Cloud Integration OData API).
      - Required with O(state=present). Changing it updates the plan of an existing instance.
    type: str
  roles:
    description:
      - it-rt only. Roles of the OAuth client (broker parameter C(roles)).
      - For plan V(api), at least one of the 41 role templates, for example V(MonitoringDataRead),
        V(WorkspacePackagesRead) or V(AuthGroup_IntegrationDeveloper) (exact spelling, with an underscore).
      - For plan V(integration-flow), role names of the tenant (default V(ESBMessaging.send), or custom roles
        created in Cloud Integration); an iFlow's sender adapter accepts a client holding its user role.
      - Role changes can take up to an hour to take effect in Cloud Integration.
    type: list
    elements: str
  grant_types:
    description:
      - it-rt only. OAuth grant types (broker parameter C(grant-types)). Default V([client_credentials]).
      - Valid - V(client_credentials), V(authorization_code), V(password), V(refresh_token),
        V(urn:ietf:params:oauth:grant-type:saml2-bearer), V(urn:ietf:params:oauth:grant-type:jwt-bearer).
      - V(client_x509) is deprecated and rejected; certificate keys work with V(client_credentials).
    type: list
    elements: str
  redirect_uris:
    description:
      - it-rt only. Redirect URIs for the authorization code grant (broker parameter C(redirect-uris)). Default V([]).
    type: list
    elements: str
  token_validity:
    description:
      - it-rt only. Access token validity in seconds, 3600 to 86400 (broker parameter C(token-validity)).
      - Default 43200 for plan V(api), 3600 for plan V(integration-flow).
    type: int
  parameters:
    description:
      - Raw parameters for offerings other than it-rt, sent as they are.
      - For it-rt, prefer the typed options; a raw dictionary with the broker's hyphenated keys is accepted and validated the same way.
      - When none of O(roles), O(grant_types), O(redirect_uris), O(token_validity) and O(parameters) is given, the
        parameters of an existing instance are left alone.
    type: dict
  tags:
    description:
      - Tags of the instance. When not given, existing tags are left alone.
    type: list
    elements: str
  wait:
    description:
      - Wait until Cloud Foundry and the broker have finished the operation.
      - With V(false) the task returns as soon as Cloud Foundry has accepted the request; wait for many instances at
        once later with M(sap_btp.cloud_integration.service_instance_info) and O(sap_btp.cloud_integration.service_instance_info#module:wait_for).
      - An operation of another run that blocks this task (a deletion in progress when the instance must exist) is
        awaited even with V(false).
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for an operation. The job is polled at a short interval first, backing off to 10 seconds.
    type: int
    default: 600
notes:
  - For it-rt the typed parameters describe the whole OAuth client - options that are not given take the plan's
    documented default, and the complete set is sent on every create and update. This works whether the broker
    replaces or merges parameters.
  - Parameter drift is detected from the broker (C(GET /v3/service_instances/:guid/parameters)) when the offering
    allows reading parameters. Otherwise the module stores a fingerprint of the applied parameters (and, for it-rt,
    the non-secret parameters themselves) in the instance annotations C(sap-btp.cloud-integration/parameters-sha256)
    and C(sap-btp.cloud-integration/parameters), and compares against them; changes made with other tools are then
    invisible until the parameters are applied again. An instance created by other tools has no fingerprint; its
    parameters are applied once (RV(parameters_unverified)).
  - Deleting an instance deletes its service keys; the credentials stop working at once.
seealso:
  - module: sap_btp.cloud_integration.service_instance_info
  - module: sap_btp.cloud_integration.service_key
"""

EXAMPLES = r"""
- name: OAuth client for senders that call iFlows
  sap_btp.cloud_integration.service_instance:
    cf_api: https://api.cf.eu10.hana.ondemand.com
    cf_username: "{{ cf_user }}"
    cf_password: "{{ cf_password }}"
    org: acme-org
    space: dev
    name: orders-sender
    plan: integration-flow
    roles:
      - ESBMessaging.send
    token_validity: 7200

- name: OAuth client for the OData API (monitoring)
  sap_btp.cloud_integration.service_instance:
    org: acme-org
    space: dev
    name: cpi-monitoring
    plan: api
    roles: [MonitoringDataRead, WorkspacePackagesRead]

- name: Start several instances in one task, without waiting for each
  sap_btp.cloud_integration.service_instance:
    org: acme-org
    space: dev
    plan: integration-flow
    roles: [ESBMessaging.send]
    wait: false
    instances:
      - name: partner-a
      - name: partner-b
        token_validity: 14400
      - name: partner-c
        roles: [ESBMessaging.send, ESBDataStore.Read]
  register: partners

- name: Then wait for all of them at once
  sap_btp.cloud_integration.service_instance_info:
    org: acme-org
    space: dev
    names: [partner-a, partner-b, partner-c]
    wait_for: ready

- name: Delete an instance (and its keys)
  sap_btp.cloud_integration.service_instance:
    org: acme-org
    space: dev
    name: partner-c
    state: absent
"""

RETURN = r"""
guid:
  description: GUID of the instance (null when absent, or in check mode before it is created).
  returned: with O(name)
  type: str
  sample: 6d2f5a3e-2f5b-4d4c-9a58-1f3b0c1d2e3f
name:
  description: Name of the instance.
  returned: with O(name)
  type: str
  sample: orders-sender
state:
  description: V(present), V(absent) or V(deleting) (after O(state=absent) with O(wait=false)).
  returned: with O(name)
  type: str
  sample: present
instances:
  description:
    - With O(instances), the result of every item in the order of the items - the keys this module returns for
      one instance (RV(guid), RV(name), RV(state), RV(plan), RV(last_operation), ...) plus C(changed). A failed
      item has C(failed=true) and its message in C(msg).
  returned: with O(instances)
  type: list
  elements: dict
  sample: [{"name": "partner-a", "guid": "6d2f5a3e-2f5b-4d4c-9a58-1f3b0c1d2e3f", "changed": true, "state": "present",
            "plan": "integration-flow", "last_operation": {"type": "create", "state": "in progress"}}]
offering:
  description: Service offering of the instance.
  returned: when the instance exists
  type: str
  sample: it-rt
plan:
  description: Service plan of the instance.
  returned: when the instance exists
  type: str
  sample: integration-flow
space_guid:
  description: GUID of the space.
  returned: when the instance exists
  type: str
tags:
  description: Tags of the instance.
  returned: when the instance exists
  type: list
  elements: str
dashboard_url:
  description: Dashboard URL reported by the broker (usually null for it-rt).
  returned: when the instance exists
  type: str
last_operation:
  description: The last operation of the instance as Cloud Foundry reports it.
  returned: when the instance exists
  type: dict
  sample: {"type": "create", "state": "succeeded", "description": "", "created_at": "2026-07-10T06:49:28Z", "updated_at": "2026-07-10T06:49:33Z"}
created_at:
  description: Creation time (ISO 8601).
  returned: when the instance exists
  type: str
updated_at:
  description: Time of the last change (ISO 8601).
  returned: when the instance exists
  type: str
parameters:
  description:
    - The parameters applied to the instance - those requested when the task manages parameters, otherwise
      those read from the broker or the annotation (null when unknown).
  returned: when the instance exists
  type: dict
  sample: {"roles": ["ESBMessaging.send"], "grant-types": ["client_credentials"], "redirect-uris": [], "token-validity": 7200}
parameters_source:
  description:
    - Where RV(parameters) comes from - V(requested), V(broker), V(annotation), V(unknown), V(failed_update).
  returned: when the instance exists
  type: str
parameters_unverified:
  description: True when the parameters of an existing instance could not be read or compared and were therefore applied.
  returned: when that happened
  type: bool
adopted:
  description: The type of an operation in progress (started elsewhere, or by an interrupted run) that the task adopted.
  returned: when an operation was adopted
  type: str
  sample: create
replaced_failed:
  description: True when an instance whose create had failed was replaced.
  returned: when that happened
  type: bool
deleted_keys:
  description: Names of the service keys deleted together with the instance.
  returned: when the instance is deleted
  type: list
  elements: str
"""

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils import _batch
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._cf import CfClient, cf_argument_spec, cf_module_kwargs, merge_module_kwargs
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._module import CloudIntegrationModule
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._provision import InstanceManager


TYPED = ("roles", "grant_types", "redirect_uris", "token_validity")
RAW_OR_TYPED = [("parameters", name) for name in TYPED]
ITEM_OPTIONS = ("name", "state", "plan", "parameters", "tags") + TYPED
EXCLUSIVE = ((("parameters",), TYPED),)


def run(module):
    def batch_manager(item):
        manager = InstanceManager(None, item, check_mode=module.check_mode, warn=module.warn)
        manager.defer_lookup = True
        return manager

    if module.params.get("instances") is not None:
        return _batch.run_batch(
            module, "instances", _batch.expand(dict(module.params), "instances", ITEM_OPTIONS, EXCLUSIVE),
            batch_manager, CfClient.from_module, "service instances", lambda manager: {"name": manager.p["name"]},
            # one list request looks every instance up before, and one every new instance after (not one per instance)
            prepare=lambda client, managers: client.prefetch_instances([manager.p["name"] for manager in managers]),
            resolve=lambda client, names: client.instances_by_name(names))
    return _batch.run_one(module, InstanceManager(None, dict(module.params), check_mode=module.check_mode, warn=module.warn),
                          CfClient.from_module)


def main():
    argument_spec = cf_argument_spec()
    argument_spec.update(
        name=dict(type="str"),
        concurrency=dict(type="int", default=16),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        offering=dict(type="str", default="it-rt"),
        plan=dict(type="str"),
        roles=dict(type="list", elements="str"),
        grant_types=dict(type="list", elements="str"),
        redirect_uris=dict(type="list", elements="str"),
        token_validity=dict(type="int", no_log=False),
        parameters=dict(type="dict"),
        tags=dict(type="list", elements="str"),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=600),
    )
    argument_spec["instances"] = dict(type="list", elements="dict", options=_batch.item_spec(argument_spec, ITEM_OPTIONS),
                                      mutually_exclusive=RAW_OR_TYPED)
    kwargs = merge_module_kwargs(cf_module_kwargs(), dict(
        mutually_exclusive=RAW_OR_TYPED + [("name", "instances")],
        required_one_of=[("name", "instances")],
    ))
    module = CloudIntegrationModule(argument_spec=argument_spec, supports_check_mode=True, **kwargs)
    result = module.run(run, module)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
