# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: client_keys
short_description: The service keys of one client, oldest first
version_added: 1.0.0
description:
  - Picks the keys of one client out of a list of service keys (RV(sap_btp.cloud_integration.service_key_info#module:service_keys))
    - the keys of the client's instance named C(key_name), or C(<key_name[:19]>-<yymmddHHMMSS>) as the
    C(key_rotation) role names the keys it creates - sorted by creation time, oldest first. The last one is the
    client's current key.
  - A key whose create failed is left out unless O(failed=true); it is never the current key.
  - The onboarding and key_rotation roles use it, so both agree on which key is current.
options:
  _input:
    description: Service keys as M(sap_btp.cloud_integration.service_key_info) returns them.
    type: list
    elements: dict
    required: true
  client:
    description: The client, a dict with C(instance) (instance name) and C(key_name).
    type: dict
    required: true
  failed:
    description: Also return keys whose create failed.
    type: bool
    default: false
author:
  - sap_btp.cloud_integration contributors (@sap-btp-community)
"""

EXAMPLES = r"""
- name: The current key of a client
  ansible.builtin.debug:
    msg: "{{ (info.service_keys | sap_btp.cloud_integration.client_keys(client) | last).name }}"
  vars:
    client: {instance: orders-sender, key_name: orders-sender-key}
"""

RETURN = r"""
_value:
  description: The client's keys, oldest first (the input dicts, unchanged).
  type: list
  elements: dict
"""

import re

from ansible.errors import AnsibleFilterError


def client_keys(keys, client, failed=False):
    if not isinstance(keys, list):
        raise AnsibleFilterError("client_keys: the input must be a list of service keys, got %s" % type(keys).__name__)
    if not isinstance(client, dict) or not client.get("instance") or not client.get("key_name"):
        raise AnsibleFilterError("client_keys: client must be a dict with instance and key_name")
    name = str(client["key_name"])
    pattern = re.compile(r"^(%s|%s-[0-9]{12})$" % (re.escape(name), re.escape(name[:19])))
    mine = []
    for key in keys:
        if not isinstance(key, dict) or key.get("instance") != client["instance"] or not pattern.match(str(key.get("name") or "")):
            continue
        if not failed and ((key.get("last_operation") or {}).get("state") == "failed"):
            continue
        mine.append(key)
    return sorted(mine, key=lambda key: (str(key.get("created_at") or ""), str(key.get("name") or "")))


class FilterModule:
    def filters(self):
        return {"client_keys": client_keys}
