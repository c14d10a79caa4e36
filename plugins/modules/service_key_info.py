#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: service_key_info
short_description: List the service keys of it-rt instances, with key type and certificate expiry
version_added: 1.0.0
description:
  - Returns the service keys of one service instance, or of all instances of an offering (default C(it-rt)) in a
    Cloud Foundry space, with metadata, key type, client id, URLs and certificate expiry (C(not_after), C(days_left)).
  - Secrets are not returned unless O(include_credentials=true).
author:
  - sap_btp.cloud_integration contributors (@sap-btp-community)
extends_documentation_fragment:
  - sap_btp.cloud_integration.common
  - sap_btp.cloud_integration.cf_connection
  - sap_btp.cloud_integration.attributes
  - sap_btp.cloud_integration.attributes.ACTION_GROUP
  - sap_btp.cloud_integration.attributes.INFO_MODULE
options:
  instance:
    description:
      - Name of the service instance whose keys are listed. Without O(instance) and O(instance_guid), the keys of all
        instances of O(offering) in the space are listed.
    type: str
  instance_guid:
    description:
      - GUID of the service instance, instead of O(instance).
    type: str
  offering:
    description:
      - Without O(instance) and O(instance_guid), the offering whose instances' keys are listed.
    type: str
    default: it-rt
  names:
    description:
      - Only keys with these names.
    type: list
    elements: str
    aliases: [name]
  include_credentials:
    description:
      - Also return the normalised credentials and the raw key, with secrets.
      - The action plugin marks such results as C(no_log); see the risks described for
        O(sap_btp.cloud_integration.service_key#module:return_secrets).
    type: bool
    default: false
  wait_for:
    description:
      - V(settled) waits until none of the keys named in O(names) is still being created or deleted, polling the keys
        of the instances with one request per round (first after 0.2 s, then less often, at most every 10 s). A key whose
        create failed is returned with RV(service_keys[].last_operation) C(failed), so that a play can go on with the others.
      - V(none) returns the keys as they are.
    type: str
    choices: [none, settled]
    default: none
    version_added: 1.1.0
  wait_timeout:
    description:
      - Seconds to wait with O(wait_for).
    type: int
    default: 600
    version_added: 1.1.0
  details:
    description:
      - Read each key's credentials (C(/details), one request per key) for its key type, client id, URLs and
        certificate expiry.
      - V(false) lists the keys with their metadata only (one request for all keys); RV(service_keys[].key_type),
        RV(service_keys[].clientid), RV(service_keys[].url), RV(service_keys[].tokenurl) and
        RV(service_keys[].certificate_details) are then V(null). Cannot be combined with O(include_credentials=true).
    type: bool
    default: true
seealso:
  - module: sap_btp.cloud_integration.service_key
"""

EXAMPLES = r"""
- name: Keys of one instance
  sap_btp.cloud_integration.service_key_info:
    org: acme-org
    space: dev
    instance: orders-sender
  register: keys

- name: Certificate keys of all it-rt instances expiring within 30 days
  sap_btp.cloud_integration.service_key_info:
    org: acme-org
    space: dev
  register: all_keys

- name: Report them
  ansible.builtin.debug:
    msg: "{{ item.instance }}/{{ item.name }} expires {{ item.certificate_details.not_after }}"
  loop: "{{ all_keys.service_keys | selectattr('certificate_details') | selectattr('certificate_details.days_left', 'lt', 30) }}"
  loop_control:
    label: "{{ item.instance }}/{{ item.name }}"

- name: Wait until the keys created without waiting are ready (one list request per round)
  sap_btp.cloud_integration.service_key_info:
    org: acme-org
    space: dev
    names: [orders-sender-key, monitoring-key]
    wait_for: settled
    wait_timeout: 300
  register: new_keys
"""

RETURN = r"""
service_keys:
  description: The keys found.
  returned: always
  type: list
  elements: dict
  contains:
    guid:
      description: GUID of the key.
      type: str
    name:
      description: Name of the key.
      type: str
    instance:
      description: Name of the service instance.
      type: str
    instance_guid:
      description: GUID of the service instance.
      type: str
    plan:
      description: Plan (V(api) or V(integration-flow)).
      type: str
    key_type:
      description: V(client_secret), V(certificate) or V(external_certificate) (null while the key is not ready).
      type: str
    clientid:
      description: OAuth client id (not a secret).
      type: str
    url:
      description: Base URL of the key.
      type: str
    tokenurl:
      description: OAuth token URL.
      type: str
    createdate:
      description: Creation date reported in the key.
      type: str
    created_at:
      description: Creation time of the key in Cloud Foundry.
      type: str
    updated_at:
      description: Time of the last change.
      type: str
    last_operation:
      description: Last operation of the key.
      type: dict
    labels:
      description: Metadata labels.
      type: dict
    annotations:
      description: Metadata annotations.
      type: dict
    certificate_details:
      description: Leaf certificate details (C(not_after), C(days_left), C(expired), C(subject), C(issuer), C(serial)) of certificate keys.
      type: dict
    credentials:
      description: Normalised credentials with secrets (with O(include_credentials) only).
      type: dict
    raw:
      description: The key as Cloud Foundry returns it (with O(include_credentials) only).
      type: dict
"""

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._cf import CfClient, cf_argument_spec, cf_module_kwargs, merge_module_kwargs
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._errors import ParameterError
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._module import CloudIntegrationModule
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._provision import key_summary, wait_for_keys


def run(module):
    params = module.params
    if params["include_credentials"] and not params["details"]:
        raise ParameterError("details", "include_credentials needs the key details; set details: true")
    if params["wait_for"] != "none" and not params.get("names"):
        raise ParameterError("wait_for", "needs names (the keys to wait for)")
    if params["wait_timeout"] <= 0:
        raise ParameterError("wait_timeout", "must be a positive number of seconds, got %s" % params["wait_timeout"])
    client = CfClient.from_module(module)
    if params.get("instance_guid"):
        instance = client.get_instance(params["instance_guid"])
        if instance is None:
            raise ParameterError("instance_guid", "service instance %s not found" % params["instance_guid"])
        instances = [instance]
    elif params.get("instance"):
        instance = client.find_instance(params["instance"])
        if instance is None:
            raise ParameterError("instance", "service instance '%s' not found in the target space" % params["instance"])
        instances = [instance]
    else:
        plan_guids = list(client.catalog(params["offering"])["plans"].values())
        instances = client.list_instances(plan_guids=plan_guids) if plan_guids else []
    by_guid = {item["guid"]: item for item in instances}
    names = params.get("names")
    if params["wait_for"] == "settled":
        keys = wait_for_keys(client, list(by_guid), set(names), params["wait_timeout"]) if by_guid else []
    else:
        keys = client.list_keys(list(by_guid))
        if names:
            keys = [key for key in keys if key.get("name") in names]
    register = module.redactor.add if params["include_credentials"] else module.add_secrets
    summaries = []
    for key in keys:
        instance_guid = (((key.get("relationships") or {}).get("service_instance") or {}).get("data") or {}).get("guid")
        summaries.append(key_summary(client, key, by_guid.get(instance_guid), params["include_credentials"], register,
                                     details=params["details"]))
    summaries.sort(key=lambda item: ((item.get("instance") or ""), item.get("name") or ""))
    return {"changed": False, "service_keys": summaries}


def main():
    argument_spec = cf_argument_spec()
    argument_spec.update(
        instance=dict(type="str"),
        instance_guid=dict(type="str"),
        offering=dict(type="str", default="it-rt"),
        names=dict(type="list", elements="str", aliases=["name"]),
        include_credentials=dict(type="bool", default=False),
        details=dict(type="bool", default=True),
        wait_for=dict(type="str", default="none", choices=["none", "settled"]),
        wait_timeout=dict(type="int", default=600),
    )
    kwargs = merge_module_kwargs(cf_module_kwargs(), dict(mutually_exclusive=[("instance", "instance_guid")]))
    module = CloudIntegrationModule(argument_spec=argument_spec, supports_check_mode=True, **kwargs)
    result = module.run(run, module)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
