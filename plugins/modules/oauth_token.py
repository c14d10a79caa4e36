#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: oauth_token
short_description: Get an OAuth client-credentials token for SAP Cloud Integration, with a shared token cache
version_added: 1.0.0
description:
  - Requests an access token from the XSUAA token endpoint of an C(it-rt) service key (plan V(api) or
    V(integration-flow)) with the client-credentials grant.
  - Client-secret keys send the secret with Basic authentication, in the form body, or with the grant in the query
    string (O(client_auth)). Certificate keys (SAP-generated, or external with O(client_key)) use mTLS on the
    C(.authentication.cert.) host; for a token URL on the normal host that host is derived, or discovered through
    C(/.well-known/openid-configuration) (C(mtls_endpoint_aliases)).
  - Tokens are cached on the controller across tasks, hosts and forks (O(cache)), so N calls in M tasks cost one
    token request per client while the token stays valid for O(min_ttl) seconds.
  - The result holds the access token, so an action plugin marks it C(no_log); C(register) still receives it.
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
  verify_signature:
    description:
      - Verify the token's RS256 signature and expiry against the signing keys of the token host (C(/token_keys)),
        using PyJWT. The keys are read from the host the token came from, never from the token's C(jku) header.
      - By default the claims are only decoded (base64), which needs no extra library.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    details: Fetching a token changes nothing, so the module does the same in check mode.
  diff_mode:
    support: none
requirements:
  - PyJWT >= 2.4 (only with O(verify_signature=true))
notes:
  - A 401 answer names the likely cause (wrong or rotated secret, deleted key, wrong token host for the key).
  - A 429 answer is retried, honouring C(Retry-After).
seealso:
  - name: XSUAA token endpoint
    description: Getting an application access token.
    link: https://help.sap.com/docs/btp/sap-business-technology-platform/getting-application-access-token
"""

EXAMPLES = r"""
- name: Read the client-secret key of an iFlow client, downloaded from the cockpit
  ansible.builtin.set_fact:
    iflow_key: "{{ lookup('ansible.builtin.file', 'keys/iflow-key.json') | from_json }}"
  no_log: true

- name: Get a token with it (cached across tasks and forks)
  sap_btp.cloud_integration.oauth_token:
    service_key: "{{ iflow_key }}"
  register: token
  no_log: true

- name: Call an iFlow with the token
  ansible.builtin.uri:
    url: "{{ iflow_key.oauth.url }}/http/orders"
    method: POST
    headers:
      Authorization: "Bearer {{ token.access_token }}"
    body_format: json
    body: {id: 1}

- name: Token for a key read through Cloud Foundry (the CF connection usually comes from module_defaults)
  sap_btp.cloud_integration.oauth_token:
    cf_api: https://api.cf.eu10.hana.ondemand.com
    org: acme-org
    space: dev
    instance: orders-sender
    key: orders-sender-key
  register: token
  no_log: true

- name: Token for a key stored earlier by credentials_store in an Ansible Vault file
  sap_btp.cloud_integration.oauth_token:
    stored:
      source: ansible_vault
      path: group_vars/all/cpi_orders.vault.yml
  register: token
  no_log: true

- name: Token with an SAP-generated certificate key (mTLS on the .cert. token host)
  sap_btp.cloud_integration.oauth_token:
    service_key_path: /etc/cpi/cert-key.json
  register: cert_token
  no_log: true

- name: Token with an external certificate key and its private key, signature verified
  sap_btp.cloud_integration.oauth_token:
    service_key: "{{ external_key }}"
    client_key: /etc/cpi/external-key.pem
    verify_signature: true
  register: ext_token
  no_log: true

- name: Client secret in the form body, never from the cache
  sap_btp.cloud_integration.oauth_token:
    client_id: "{{ vault_client_id }}"
    client_secret: "{{ vault_client_secret }}"
    token_url: https://acme-dev.authentication.eu10.hana.ondemand.com/oauth/token
    client_auth: body
    cache: false
  register: fresh
  no_log: true
"""

RETURN = r"""
access_token:
  description: The access token (a JWT). Hidden in output by the action plugin; available to C(register).
  returned: success
  type: str
token_type:
  description: The token type, C(bearer).
  returned: success
  type: str
  sample: bearer
expires_in:
  description: Seconds the token stays valid from now (a cached token has less than its original lifetime).
  returned: success
  type: int
  sample: 3298
expires_at:
  description: Expiry of the token, ISO 8601 in UTC.
  returned: success
  type: str
  sample: "2026-03-14T10:21:44Z"
scopes:
  description: The scopes granted to the client.
  returned: success
  type: list
  elements: str
  sample: ["it-rt-acme-dev!b196.ESBMessaging.send"]
claims:
  description:
    - The decoded JWT claims (C(client_id), C(zid), C(exp), C(iss), C(scope), ...).
    - Verified against the issuer's keys only with O(verify_signature=true).
  returned: success
  type: dict
cached:
  description: Whether the token came from the controller cache (no token request was sent).
  returned: success
  type: bool
token_url:
  description: The token endpoint the token was requested from (the C(.cert.) host for mTLS).
  returned: success
  type: str
auth_method:
  description: How the client authenticated, V(basic), V(body), V(query) or V(mtls).
  returned: success
  type: str
  sample: basic
client_id:
  description: The client id of the key.
  returned: success
  type: str
plan:
  description: The plan of the key, V(api) or V(integration-flow), or null if it cannot be inferred.
  returned: success
  type: str
  sample: integration-flow
signature_verified:
  description: Whether the signature was verified (O(verify_signature)).
  returned: success
  type: bool
"""

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._credentials import argument_spec as credentials_argument_spec
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._credentials import module_kwargs as credentials_module_kwargs
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._credentials import resolve
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._module import CloudIntegrationModule
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._oauth import (
    token_argument_spec,
    token_provider,
    verify_signature,
)


def get_token(module):
    creds = resolve(module)
    http = module.http()
    provider = token_provider(module, creds, http=http)
    entry = provider.token()
    module.redactor.add(entry["access_token"])
    result = provider.describe(entry)
    result["plan"] = creds.get("plan")
    result["signature_verified"] = False
    if module.params["verify_signature"]:
        if provider.method == "mtls":
            from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._http import client_cert_files

            with client_cert_files(creds["certificate"], creds["key"], creds.get("certificate_option")) as cert:
                claims = verify_signature(http, entry["access_token"], entry["token_url"], cert=cert)
        else:
            claims = verify_signature(http, entry["access_token"], entry["token_url"])
        result["claims"] = claims
        result["signature_verified"] = True
    result["access_token"] = entry["access_token"]
    return result


def main():
    spec = credentials_argument_spec()
    spec.update(token_argument_spec())
    spec.update(verify_signature=dict(type="bool", default=False))
    module = CloudIntegrationModule(argument_spec=spec, supports_check_mode=True, **credentials_module_kwargs())
    result = module.run(get_token, module)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
