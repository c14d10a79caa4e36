# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: credentials
short_description: Read a stored SAP Cloud Integration service key back, in normalised form
version_added: 1.0.0
author:
  - sap_btp.cloud_integration contributors (@sap-btp-community)
description:
  - Reads a service key that M(sap_btp.cloud_integration.credentials_store) (or a person) stored in a file, an Ansible Vault
    encrypted file or a KV version 2 secret on HashiCorp Vault or OpenBao, and returns it normalised - C(clientid),
    C(clientsecret) or C(certificate) and C(key) (PEMs with real line breaks), C(url), C(tokenurl), C(createdate),
    the inferred C(plan), C(key_type) and C(certificate_details).
  - The flat key of the API Management API portal (offering C(apimanagement-apiportal), plan C(apiportal-apiaccess)) is
    read the same way and normalised to the same fields, with C(plan=apiportal-apiaccess).
  - The result can be passed to every module of the collection that takes a service key.
  - Files are read on the controller. Ansible Vault files are decrypted with the vault secrets of the run.
options:
  _terms:
    description:
      - File paths (relative paths are resolved like other lookups, against the playbook or role directory), or paths
        of secrets inside the KV mount for O(source=hashicorp_vault).
    type: list
    elements: str
    required: true
  source:
    description:
      - Where the key is stored. V(file) reads plain files and decrypts Ansible Vault files transparently;
        V(ansible_vault) requires the file to be encrypted; V(hashicorp_vault) reads a KV version 2 secret.
      - V(btp_destination) reads an C(OAuth2ClientCredentials) destination of the BTP Destination service (the terms are
        destination names) with O(destination_service_key); a certificate destination is read with its PKCS#12 certificate.
      - V(cpi_security_material) always fails - Cloud Integration never returns the secret of security material, so it
        cannot be read back.
    type: str
    choices: [file, ansible_vault, hashicorp_vault, btp_destination, cpi_security_material]
    default: file
  format:
    description:
      - Format of the file. V(auto) recognises JSON (the raw key), a Postman environment, dotenv and YAML.
      - V(pem) and V(pkcs12) files hold no complete key and cannot be read back.
    type: str
    choices: [auto, json, yaml, env, postman]
    default: auto
  env_prefix:
    description:
      - Prefix of the variable names in an V(env) file.
    type: str
    default: CPI_
  raw:
    description:
      - Return the raw key as stored (the object with the C(oauth) block) instead of the normalised credentials.
    type: bool
    default: false
  check:
    description:
      - Only check whether each key can be read. Returns, for each term, a dictionary with C(readable) (V(true) or
        V(false)) and, when it cannot be read, C(error) (the reason) instead of the key, and never fails because a key
        cannot be read. No secret is returned.
      - For probing many stored keys in one template (the smoke_test role does), where one unreadable key must not stop
        the others. ansible-core before 2.19 ends a whole loop at the first lookup error.
    type: bool
    default: false
    version_added: 1.1.0
extends_documentation_fragment:
  - sap_btp.cloud_integration.hashicorp_vault.PLUGIN
  - sap_btp.cloud_integration.destination_service.PLUGIN
notes:
  - The returned value holds secrets. Use it in module arguments or with C(no_log=true); do not print it.
seealso:
  - module: sap_btp.cloud_integration.credentials_store
"""

EXAMPLES = r"""
- name: Call an iFlow with a key stored earlier in an Ansible Vault file
  sap_btp.cloud_integration.iflow_request:
    service_key: "{{ lookup('sap_btp.cloud_integration.credentials', 'group_vars/all/cpi_orders.vault.yml', source='ansible_vault') }}"
    path: /http/orders
    method: POST
    body: {orderId: 42}

- name: Read a key from OpenBao (url and token from VAULT_ADDR / VAULT_TOKEN)
  ansible.builtin.set_fact:
    orders_key: "{{ lookup('sap_btp.cloud_integration.credentials', 'cpi/orders', source='hashicorp_vault', mount='secret') }}"
  no_log: true

- name: Read the client of a BTP destination back
  ansible.builtin.set_fact:
    orders_key: "{{ lookup('sap_btp.cloud_integration.credentials', 'cpi-orders', source='btp_destination',
                    destination_service_key_path='/etc/btp/destination-key.json') }}"
  no_log: true

- name: Expiry of a certificate key stored as JSON
  ansible.builtin.debug:
    msg: "{{ lookup('sap_btp.cloud_integration.credentials', '/etc/cpi/orders.json').certificate_details.days_left }} days left"
- name: Find the clients whose stored key cannot be read (no secret is returned, nothing fails)
  ansible.builtin.debug:
    msg: >-
      {{ lookup('sap_btp.cloud_integration.credentials', 'creds/orders.json', 'creds/billing.json', check=true, wantlist=true)
         | rejectattr('readable') | map(attribute='error') | list }}
"""

RETURN = r"""
_raw:
  description:
    - One normalised key per term (or the raw key with O(raw=true)).
    - With O(check=true), one dictionary per term with C(readable) and, for an unreadable key, C(error), without secrets.
  type: list
  elements: dict
  contains:
    clientid:
      description: OAuth client ID.
      type: str
    clientsecret:
      description: Client secret (client-secret keys), else null.
      type: str
    certificate:
      description: PEM certificate chain with real line breaks (certificate keys), else null.
      type: str
    key:
      description: PEM private key (SAP-generated certificate keys), else null.
      type: str
    url:
      description: Tenant URL (runtime host for integration-flow keys, management host for api keys).
      type: str
    tokenurl:
      description: Token endpoint.
      type: str
    plan:
      description: V(api) or V(integration-flow), inferred from the client ID; V(apiportal-apiaccess) for an API portal key.
      type: str
    key_type:
      description: V(client_secret), V(certificate) or V(external_certificate).
      type: str
    certificate_details:
      description: Validity, subject, issuer and serial of the leaf certificate, or null.
      type: dict
"""

import os

from ansible.errors import AnsibleLookupError
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.lookup import LookupBase

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._deps import MissingDependencyError
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._destination_service import DestinationService, destination_key, read_destination
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._errors import ApiError, ParameterError
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._credentials import read_stored
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._http import HttpClient
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._redact import Redactor
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._security_material import CANNOT_READ_BACK
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._service_key import secret_values
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._vault import KvStore
from ansible_collections.sap_btp.cloud_integration.plugins.plugin_utils import _ansible_vault

DESTINATION_OPTIONS = ("destination_service_key", "destination_service_key_path", "destination_level")
VAULT_OPTIONS = ("url", "auth_method", "token", "role_id", "secret_id", "approle_mount", "mount", "namespace", "validate_certs", "ca_path", "timeout")


class LookupModule(LookupBase):
    """Read stored service keys back."""

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        if self.get_option("check"):
            return [self._check(term) for term in terms]
        return self._read_all(terms)

    def _read_all(self, terms):
        redactor = Redactor()
        source = self.get_option("source")
        results = []
        store = None
        try:
            if source == "hashicorp_vault":
                store = KvStore.from_params({name: self.get_option(name) for name in VAULT_OPTIONS}, redactor=redactor)
            elif source == "cpi_security_material":
                raise ParameterError("source", CANNOT_READ_BACK)
            elif source == "btp_destination":
                params = {name: self.get_option(name) for name in DESTINATION_OPTIONS}
                creds = destination_key(params)
                redactor.add(creds.get("clientsecret"), creds.get("key"))
                http = HttpClient(validate_certs=self.get_option("validate_certs"), ca_path=self.get_option("ca_path"),
                                  timeout=self.get_option("timeout") or 30, redactor=redactor)
                store = DestinationService(http, creds, level=params["destination_level"], redactor=redactor)
            for term in terms:
                raw, creds = self._read(to_text(term), source, store)
                redactor.add(*secret_values(creds))
                results.append(raw if self.get_option("raw") else creds)
        except (ParameterError, ApiError, MissingDependencyError, _ansible_vault.VaultFileError) as exc:
            raise AnsibleLookupError("sap_btp.cloud_integration.credentials: %s" % redactor.scrub(to_text(exc))) from None
        return results

    def _check(self, term):
        """{readable: true} or {readable: false, error}: the term read as run() reads it, without returning the key."""
        try:
            self._read_all([term])
        except AnsibleLookupError as exc:
            return {"readable": False, "error": to_text(exc).replace("sap_btp.cloud_integration.credentials: ", "", 1)}
        return {"readable": True}

    def _read(self, term, source, store):
        if source == "btp_destination":
            return read_destination(store, term)
        if source == "hashicorp_vault":
            return read_stored(source, term, store=store, option=term)
        path = self._loader.path_dwim(os.path.expanduser(term))

        def decrypt(data, filename):
            return _ansible_vault.decrypt(self._loader, data, filename=filename)[0]

        return read_stored(source, path, self.get_option("format"), self.get_option("env_prefix"), decrypt=decrypt, option=term)
