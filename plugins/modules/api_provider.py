#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: api_provider
short_description: Register a Cloud Integration tenant as an API provider in SAP API Management
version_added: 1.0.0
description:
  - >-
    Creates, replaces or deletes an API provider of type Cloud Integration in the API portal of SAP API Management
    (C(/apiportal/api/1.0/Management.svc/APIProviders)), from the C(api)-plan service key of the tenant: host and port
    of the key's C(url), path prefix C(/api/v1), and OAuth2ClientCredentials (client id, secret, token URL) or Basic
    authentication with the same client.
  - >-
    Idempotent. Every field that can be read back is compared. The API does not return the secret, so a
    fingerprint of the credentials is kept in the provider's additional property
    C(sap_btp.cloud_integration.credential_fingerprint) and compared instead.
  - >-
    Providers cannot be updated in place by default (O(update_mode=replace)). A replace first creates the new
    definition under the staging name C(<name>--next), then deletes the provider and creates it again, and deletes
    the staging provider last. A create that the API would reject therefore fails before the provider is touched.
    If the create under the real name fails anyway, the error says so, and the next run finishes the replace.
    RV(replaced) reports a replace.
  - The API portal answers reads from a cache for about 20 seconds after a write. After each write the module waits
    until reads show the change (O(read_timeout)).
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
  - sap_btp.cloud_integration.attributes.ACTION_GROUP
attributes:
  check_mode:
    support: full
    details: Reads the provider and predicts C(changed); nothing is created or deleted.
  diff_mode:
    support: full
    details: Shows the compared fields; the credentials only as a fingerprint.
options:
  name:
    description:
      - Name of the API provider (its key in the API portal), at most 194 characters. Names ending in C(--next) are reserved.
    type: str
    required: true
  state:
    description:
      - V(present) creates the provider or brings it to the definition; V(absent) deletes it (and a staging provider left by
        a failed replace).
    type: str
    choices: [present, absent]
    default: present
  title:
    description: Title shown in the API portal. Defaults to O(name).
    type: str
  description:
    description: Description of the provider.
    type: str
    default: ''
  provider_type:
    description:
      - The kind of provider. Only V(cloud_integration) (the tenant's management host from the C(api) key) is supported.
    type: str
    default: cloud_integration
  auth:
    description:
      - V(oauth2_client_credentials) - client id, secret and token URL of the C(api) key (the provider fetches tokens).
      - V(basic) - the client id and secret as user and password.
    type: str
    choices: [oauth2_client_credentials, basic]
    default: oauth2_client_credentials
  dest_type:
    description:
      - The C(destType) literal of the provider. V(INTERNET) is the documented value for a host on the internet; the
        literal the API portal UI uses for a Cloud Integration provider is not confirmed.
    type: str
    default: INTERNET
  path_prefix:
    description: Path prefix of the provider.
    type: str
    default: /api/v1
  update_mode:
    description:
      - V(replace) - change a provider by the staged delete and create described above (works everywhere).
      - V(in_place) - C(PUT) the provider (only where the API portal supports updates in place).
    type: str
    choices: [replace, in_place]
    default: replace
  verify_target:
    description:
      - With O(state=present), read the provider's target (C(https://host/api/v1/)) with the Cloud Integration key before any
        change, so that a provider is never created or replaced with credentials that do not work.
    type: bool
    default: true
notes:
  - The Cloud Integration key must be of plan V(api) and hold a client secret (an V(integration-flow) key is refused).
  - Writes need an API portal key of an instance with role C(APIPortal.Administrator); C(APIPortal.Guest) only reads.
seealso:
  - module: sap_btp.cloud_integration.api_provider_info
  - module: sap_btp.cloud_integration.service_key
"""

EXAMPLES = r"""
- name: Register the tenant as an API provider from the api-plan key in Cloud Foundry
  sap_btp.cloud_integration.api_provider:
    name: cpi-tenant
    title: Cloud Integration (production)
    instance: cpi-api-client
    key: cpi-api-key
    apiportal_instance: apim-admin
    apiportal_key_name: apim-admin-key

- name: Use stored keys (credentials lookup) for both sides
  sap_btp.cloud_integration.api_provider:
    name: cpi-tenant
    service_key: "{{ lookup('sap_btp.cloud_integration.credentials', 'cpi/api', source='hashicorp_vault') }}"
    apiportal_key: "{{ lookup('sap_btp.cloud_integration.credentials', 'apim/admin', source='hashicorp_vault') }}"

- name: Remove the provider
  sap_btp.cloud_integration.api_provider:
    name: cpi-tenant
    state: absent
    apiportal_key_path: /etc/apim/admin-key.json
"""

RETURN = r"""
name:
  description: Name of the provider.
  returned: always
  type: str
action:
  description: V(create), V(update), V(replace), V(delete) or V(none).
  returned: success
  type: str
replaced:
  description: Whether the provider was (or in check mode would be) replaced by delete and create.
  returned: success
  type: bool
changed_fields:
  description: Fields that differed (V(credential_fingerprint) for the credentials).
  returned: when the provider existed
  type: list
  elements: str
provider:
  description: The provider after the task (predicted in check mode); the credentials only as a fingerprint.
  returned: success and state=present
  type: dict
  contains:
    name:
      description: Name.
      type: str
    host:
      description: Host of the tenant's management URL.
      type: str
    pathPrefix:
      description: Path prefix.
      type: str
    authType:
      description: Authentication type literal.
      type: str
    clientId:
      description: Client id of the Cloud Integration key (OAuth).
      type: str
    credential_fingerprint:
      description: Fingerprint of the credentials the provider holds.
      type: str
steps:
  description: The requests that changed something, in order (for example the steps of a replace).
  returned: success
  type: list
  elements: str
target:
  description: The result of the read on the provider's target with O(verify_target=true).
  returned: when checked
  type: dict
"""

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils import _api_portal
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._errors import ParameterError
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._module import CloudIntegrationModule


def own_options():
    return dict(
        name=dict(type="str", required=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        title=dict(type="str"),
        description=dict(type="str", default=""),
        provider_type=dict(type="str", default="cloud_integration"),
        auth=dict(type="str", default="oauth2_client_credentials", choices=list(_api_portal.AUTH_TYPES)),
        dest_type=dict(type="str", default="INTERNET"),
        path_prefix=dict(type="str", default="/api/v1"),
        update_mode=dict(type="str", default="replace", choices=["replace", "in_place"]),
        verify_target=dict(type="bool", default=True),
    )


def run(module):
    p = module.params
    _api_portal.validate_name(p["name"])
    cpi = desired = None
    if p["state"] == "present":
        if p["provider_type"] not in _api_portal.PROVIDER_TYPES:
            raise ParameterError("provider_type", "'%s' is not a supported provider type; supported: %s" % (
                p["provider_type"], ", ".join(_api_portal.PROVIDER_TYPES)))
        cpi = _api_portal.resolve_cpi_credentials(module)
        desired = _api_portal.desired_provider(p, cpi)
    portal = _api_portal.resolve_portal_credentials(module)
    client = _api_portal.PortalClient(module, portal)
    manager = _api_portal.ProviderManager(module, client)
    result = {}
    if p["state"] == "absent":
        result.update(manager.absent(p["name"]))
    else:
        if p["verify_target"]:
            result["target"] = _api_portal.check_target(module, desired, cpi)
        result.update(manager.present(desired, p["update_mode"]))
        result["provider"] = _api_portal.public_view(desired)
    diff = result.pop("diff", None)
    if module._diff and diff and result.get("changed"):
        result["diff"] = diff
    result["steps"] = manager.steps
    result.setdefault("changed_fields", [])
    return result


def main():
    module = CloudIntegrationModule(**_api_portal.module_args(**own_options()))
    result = module.run(run, module)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
