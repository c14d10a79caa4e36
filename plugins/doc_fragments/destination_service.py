# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    """BTP Destination service options (declared in module_utils/_destination_service.py destination_argument_spec())."""

    DOCUMENTATION = r"""
options:
  destination_service_key:
    description:
      - The service key of a C(destination) service instance (plan C(lite)) as a dictionary or JSON text - C(clientid),
        C(clientsecret) (or C(certificate) and C(key)), C(url) (the XSUAA of the subaccount) and C(uri) (the Destination
        service). Its token manages the destinations of that subaccount (or of that instance, O(destination_level=instance)).
      - If not set, E(SAP_BTP_DESTINATION_SERVICE_KEY) is used.
    type: raw
    version_added: 1.0.0
  destination_service_key_path:
    description:
      - Path of a JSON file with the Destination service key, used when O(destination_service_key) is not set.
      - If not set, E(SAP_BTP_DESTINATION_SERVICE_KEY_PATH) is used.
    type: path
    version_added: 1.0.0
  destination_level:
    description:
      - V(subaccount) for a subaccount destination (seen by every application of the subaccount), V(instance) for a
        destination of the Destination service instance of O(destination_service_key).
    type: str
    choices: [subaccount, instance]
    default: subaccount
    version_added: 1.0.0
"""

    PLUGIN = r"""
options:
  destination_service_key:
    description:
      - For O(source=btp_destination), the Destination service key (dictionary or JSON text).
    type: raw
    env:
      - name: SAP_BTP_DESTINATION_SERVICE_KEY
    version_added: 1.0.0
  destination_service_key_path:
    description:
      - For O(source=btp_destination), the path of a JSON file with the Destination service key.
    type: path
    env:
      - name: SAP_BTP_DESTINATION_SERVICE_KEY_PATH
    version_added: 1.0.0
  destination_level:
    description:
      - For O(source=btp_destination), the level of the destination.
    type: str
    choices: [subaccount, instance]
    default: subaccount
    version_added: 1.0.0
"""
