# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: credentials
short_description: Read a stored SAP Cloud Integration service key back, in normalised form
version_added: 0.1.0
author:
  - sap_btp.cloud_integration contributors (@sap-btp-community)
description:
  - Reads a service key that M(sap_btp.cloud_integration.credentials_store) (or a person) stored in a file, an Ansible Vault
    encrypted file or a KV version 2 secret on HashiCorp Vault or OpenBao, and returns it normalised - C(clientid),
    C(clientsecret) or C(certificate) and C(key) (PEMs with real line breaks), C(url), C(tokenurl), C(createdate),
    the inferred C(plan), C(key_type) and C(certificate_details).
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
    type: str
    choices: [file, ansible_vault, hashicorp_vault]
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
extends_documentation_fragment:
  - sap_btp.cloud_integration.hashicorp_vault.PLUGIN
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

- name: Expiry of a certificate key stored as JSON
  ansible.builtin.debug:
    msg: "{{ lookup('sap_btp.cloud_integration.credentials', '/etc/cpi/orders.json').certificate_details.days_left }} days left"
"""

RETURN = r"""
_raw:
  description:
    - One normalised key per term (or the raw key with O(raw=true)).
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
      description: V(api) or V(integration-flow), inferred from the client ID.
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
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._errors import ApiError, ParameterError
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._formats import parse_stored
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._redact import Redactor
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._secret_io import decode_text, read_file
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._service_key import parse_raw_service_key, secret_values
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._vault import OWNED_FIELDS, KvStore
from ansible_collections.sap_btp.cloud_integration.plugins.plugin_utils import _ansible_vault

VAULT_OPTIONS = ("url", "auth_method", "token", "role_id", "secret_id", "approle_mount", "mount", "namespace", "validate_certs", "ca_path", "timeout")


class LookupModule(LookupBase):
    """Read stored service keys back."""

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        redactor = Redactor()
        source = self.get_option("source")
        results = []
        store = None
        try:
            if source == "hashicorp_vault":
                store = KvStore.from_params({name: self.get_option(name) for name in VAULT_OPTIONS}, redactor=redactor)
            for term in terms:
                raw, creds = self._read(to_text(term), source, store)
                redactor.add(*secret_values(creds))
                results.append(raw if self.get_option("raw") else creds)
        except (ParameterError, ApiError, MissingDependencyError, _ansible_vault.VaultFileError) as exc:
            raise AnsibleLookupError("sap_btp.cloud_integration.credentials: %s" % redactor.scrub(to_text(exc))) from None
        return results

    def _read(self, term, source, store):
        if source == "hashicorp_vault":
            state = store.read(term)
            if state.data is None:
                raise ParameterError(term, "no secret at %s/%s%s" % (store.mount, term.strip("/"), " (its latest version is deleted)" if state.deleted else ""))
            oauth = {name: state.data[name] for name in OWNED_FIELDS if name in state.data}
            return parse_raw_service_key({"oauth": oauth}, option=term)
        path = self._loader.path_dwim(os.path.expanduser(term))
        data = read_file(path, term)
        if data is None:
            raise ParameterError(term, "the file %s does not exist" % path)
        if _ansible_vault.encrypted(data):
            data, dummy = _ansible_vault.decrypt(self._loader, data, filename=path)
        elif source == "ansible_vault":
            raise ParameterError(term, "%s is not encrypted with Ansible Vault (use source=file for a plain file)" % path)
        text = decode_text(data, path, term, "pem and pkcs12 files cannot be read back")
        stored = parse_stored(text, self.get_option("format"), self.get_option("env_prefix"))
        return parse_raw_service_key(stored, option=term, require_wrapper=True)
