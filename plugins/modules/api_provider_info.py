#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: api_provider_info
short_description: Read API providers of SAP API Management, and check a Cloud Integration provider's target
version_added: 1.0.0
description:
  - Reads one API provider (O(name)) or all of them from the API portal (C(/apiportal/api/1.0/Management.svc/APIProviders)).
    Secrets are never returned; the credentials show as the fingerprint the M(sap_btp.cloud_integration.api_provider) module
    keeps in an additional property.
  - >-
    With a Cloud Integration C(api) key (O(instance)/O(key), O(service_key), ...) and O(name), O(verify_target=true)
    checks that the provider holds this key's credentials (by fingerprint) and that its target answers a read
    (C(GET https://host/api/v1/)) with them.
  - Reads may come from the API portal's read cache (about 20 seconds after a write).
  - An API portal key of role C(APIPortal.Guest) is enough.
author:
  - sap_btp.cloud_integration contributors (@sap-btp-community)
extends_documentation_fragment:
  - sap_btp.cloud_integration.api_portal
  - sap_btp.cloud_integration.cpi_credentials
  - sap_btp.cloud_integration.cpi_credentials.CF_REFERENCE_KEY
  - sap_btp.cloud_integration.cpi_credentials.TOKEN
  - sap_btp.cloud_integration.cf_connection
  - sap_btp.cloud_integration.common
  - sap_btp.cloud_integration.attributes
  - sap_btp.cloud_integration.attributes.INFO_MODULE
  - sap_btp.cloud_integration.attributes.ACTION_GROUP
options:
  name:
    description: Name of one provider. Without it every provider is listed.
    type: str
  verify_target:
    description:
      - Check the target of provider O(name) with the given Cloud Integration key; fails when the target does not answer
        or the provider holds other credentials.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Read the provider registered by onboarding
  sap_btp.cloud_integration.api_provider_info:
    name: cpi-tenant
    apiportal_instance: apim-guest
    apiportal_key_name: apim-guest-key
  register: provider

- name: Smoke test - the provider holds the current key and its target answers with it
  sap_btp.cloud_integration.api_provider_info:
    name: cpi-tenant
    verify_target: true
    instance: cpi-api-client
    key: cpi-api-key
    apiportal_key_path: /etc/apim/guest-key.json
"""

RETURN = r"""
exists:
  description: Whether provider O(name) exists (only with O(name)).
  returned: success
  type: bool
provider:
  description: Provider O(name) (null when it does not exist); credentials only as a fingerprint.
  returned: with O(name)
  type: dict
providers:
  description: Every provider (without O(name)).
  returned: without O(name)
  type: list
  elements: dict
target:
  description: C(status), C(url) and C(credentials_match) of the target check.
  returned: with O(verify_target=true)
  type: dict
"""

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils import _api_portal
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._errors import ApiError, ParameterError
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._module import CloudIntegrationModule


def run(module):
    p = module.params
    cpi = None
    if p["verify_target"]:
        if not p.get("name"):
            raise ParameterError("verify_target", "needs name (the provider whose target is checked)")
        cpi = _api_portal.resolve_cpi_credentials(module)
    client = _api_portal.PortalClient(module, _api_portal.resolve_portal_credentials(module))
    if not p.get("name"):
        return {"changed": False, "providers": [_api_portal.public_view(entity) for entity in client.list()]}
    entity = client.get(p["name"])
    result = {"changed": False, "exists": entity is not None, "provider": _api_portal.public_view(entity)}
    if cpi is not None:
        if entity is None:
            raise ApiError("API provider '%s' does not exist" % p["name"], status=404)
        result["target"] = _api_portal.check_target(module, entity, cpi)
        if not result["target"]["credentials_match"]:
            raise ApiError("API provider '%s' holds other credentials than the given Cloud Integration key (fingerprint differs)" % p["name"])
    return result


def main():
    module = CloudIntegrationModule(**_api_portal.module_args(name=dict(type="str"), verify_target=dict(type="bool", default=False)))
    result = module.run(run, module)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
