#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: service_instance_info
short_description: List Process Integration Runtime (it-rt) service instances, or wait for many at once
version_added: 1.0.0
description:
  - Returns service instances of a Cloud Foundry space - the named ones, or all instances of an offering
    (default C(it-rt)).
  - With O(wait_for), polls the named instances with one request per round until none has an operation in
    progress, or until all are gone. Together with O(sap_btp.cloud_integration.service_instance#module:wait=false)
    this lets the provisioning of many instances overlap.
author:
  - sap_btp.cloud_integration contributors (@sap-btp-community)
extends_documentation_fragment:
  - sap_btp.cloud_integration.common
  - sap_btp.cloud_integration.cf_connection
  - sap_btp.cloud_integration.attributes
  - sap_btp.cloud_integration.attributes.ACTION_GROUP
  - sap_btp.cloud_integration.attributes.INFO_MODULE
options:
  names:
    description:
      - Names of the instances. When not given, all instances of O(offering) in the space are returned.
    type: list
    elements: str
    aliases: [name]
  offering:
    description:
      - Without O(names), the offering whose instances are listed.
    type: str
    default: it-rt
  plan:
    description:
      - Without O(names), only instances of this plan of O(offering).
    type: str
  include_parameters:
    description:
      - Also return the parameters of each instance (one request per instance). Read from the broker when the
        offering allows it, otherwise from the annotation written by M(sap_btp.cloud_integration.service_instance).
    type: bool
    default: false
  wait_for:
    description:
      - V(ready) waits until each instance in O(names) exists and has no operation in progress; fails when one of
        them failed, with the broker's message.
      - V(settled) waits like V(ready) but does not fail when an instance failed - the failed instances are returned
        with their C(last_operation), so that a play can go on with the others (V(settled) was added in 1.1.0).
      - V(absent) waits until none of O(names) exists any more.
      - V(none) returns the current state at once.
    type: str
    choices: [none, ready, settled, absent]
    default: none
  wait_timeout:
    description:
      - Seconds to wait with O(wait_for).
    type: int
    default: 600
seealso:
  - module: sap_btp.cloud_integration.service_instance
"""

EXAMPLES = r"""
- name: All it-rt instances of the space
  sap_btp.cloud_integration.service_instance_info:
    org: acme-org
    space: dev
  register: it_rt

- name: Instances of plan api, with their parameters
  sap_btp.cloud_integration.service_instance_info:
    org: acme-org
    space: dev
    plan: api
    include_parameters: true

- name: Wait until instances started with wait=false are ready
  sap_btp.cloud_integration.service_instance_info:
    org: acme-org
    space: dev
    names: [partner-a, partner-b, partner-c]
    wait_for: ready
    wait_timeout: 1200
"""

RETURN = r"""
service_instances:
  description: The instances found.
  returned: always
  type: list
  elements: dict
  contains:
    guid:
      description: GUID of the instance.
      type: str
    name:
      description: Name of the instance.
      type: str
    offering:
      description: Service offering.
      type: str
      sample: it-rt
    plan:
      description: Service plan.
      type: str
      sample: api
    space_guid:
      description: GUID of the space.
      type: str
    tags:
      description: Tags.
      type: list
      elements: str
    dashboard_url:
      description: Dashboard URL (usually null for it-rt).
      type: str
    last_operation:
      description: Last operation as Cloud Foundry reports it (C(type), C(state), C(description), timestamps).
      type: dict
    created_at:
      description: Creation time.
      type: str
    updated_at:
      description: Time of the last change.
      type: str
    parameters:
      description: Parameters, with O(include_parameters) (null when they cannot be read).
      type: dict
    parameters_source:
      description: V(broker) or V(annotation), with O(include_parameters).
      type: str
missing:
  description: Names from O(names) that do not exist in the space.
  returned: always
  type: list
  elements: str
"""

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._cf import CfClient, cf_argument_spec, cf_module_kwargs
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._errors import ParameterError
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._it_rt import validate_instance_name
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._module import CloudIntegrationModule
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._provision import instance_summary, wait_for_instances


def run(module):
    params = module.params
    names = params.get("names") or []
    for name in names:
        validate_instance_name(name, option="names")
    if params["wait_for"] != "none" and not names:
        raise ParameterError("wait_for", "needs names (the instances to wait for)")
    if params["wait_timeout"] <= 0:
        raise ParameterError("wait_timeout", "must be a positive number of seconds, got %s" % params["wait_timeout"])
    client = CfClient.from_module(module)
    if names:
        if params["wait_for"] != "none":
            instances = wait_for_instances(client, names, params["wait_for"], params["wait_timeout"])
        else:
            instances = client.list_instances(names=names)
    else:
        catalog = client.catalog(params["offering"])
        if params.get("plan"):
            plan_guids = [client.plan_guid(params["offering"], params["plan"])]
        else:
            plan_guids = list(catalog["plans"].values())
        instances = client.list_instances(plan_guids=plan_guids) if plan_guids else []
    found = {item["name"] for item in instances}
    return {
        "changed": False,
        "service_instances": [instance_summary(client, item, params["include_parameters"]) for item in instances],
        "missing": [name for name in names if name not in found],
    }


def main():
    argument_spec = cf_argument_spec()
    argument_spec.update(
        names=dict(type="list", elements="str", aliases=["name"]),
        offering=dict(type="str", default="it-rt"),
        plan=dict(type="str"),
        include_parameters=dict(type="bool", default=False),
        wait_for=dict(type="str", default="none", choices=["none", "ready", "settled", "absent"]),
        wait_timeout=dict(type="int", default=600),
    )
    module = CloudIntegrationModule(argument_spec=argument_spec, supports_check_mode=True, **cf_module_kwargs())
    result = module.run(run, module)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
