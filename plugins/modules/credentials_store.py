#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: credentials_store
short_description: Deliver an SAP Cloud Integration service key to a file, a vault, a BTP destination or security material
version_added: 1.0.0
description:
  - Writes the service key of a Process Integration Runtime (C(it-rt)) instance to one destination per task,
    idempotently, without showing a secret in the task output, in a diff or in an error.
  - The key comes from Cloud Foundry (O(instance) and O(key), fetched by the module so that the credentials never pass
    through play variables; the recommended form), from the C(credentials) or C(raw) result of
    M(sap_btp.cloud_integration.service_key) (O(credentials)), from JSON text (O(content)) or from a key file (O(src)).
  - O(destination=file) writes one of several formats (O(format)) atomically, with mode C(0600) by default.
  - O(destination=ansible_vault) writes an Ansible Vault encrypted file with the vault secrets of the run and the vault ID
    chosen in O(vault_id). Encryption happens on the controller, in the action plugin of this module. The current file is
    decrypted and compared, so the file is rewritten only when its content really changes.
  - O(destination=hashicorp_vault) writes the fields of the key (C(clientid), C(clientsecret) or C(certificate) and C(key),
    C(url), C(tokenurl), ...) to a KV version 2 secret on HashiCorp Vault or OpenBao, reading the current version first.
  - O(destination=btp_destination) writes an C(OAuth2ClientCredentials) destination of the BTP Destination service
    (O(name), at O(destination_level)) with the key's C(url), C(clientid), C(tokenurl) and C(clientsecret); a certificate
    key's certificate and private key go to a destination certificate (PKCS#12, password O(pkcs12_password) or a random
    one) that the destination names in C(tokenService.KeyStoreLocation). The key's fingerprint is kept in the
    destination property C(sap_btp_cloud_integration_fingerprint).
  - O(destination=cpi_security_material) writes an C(OAuth2ClientCredentials) or C(UserCredentials) artifact
    (O(security_material_type)) named O(name) into the security material of the tenant of O(target_service_key), an
    C(api)-plan key with the roles C(CredentialsEdit) and C(MonitoringDataRead); that tenant may be another one than
    the client's. Secrets are never returned by that API, so the key's fingerprint is kept at the end of the artifact's
    C(Description). Certificate keys are refused (an artifact holds no client certificate).
  - Unchanged content reports C(changed=false). In check mode nothing is written. In diff mode, changed fields are shown
    as fingerprints (C(sha256:...)), never as values.
  - Every input is validated before anything is touched - malformed JSON, a key without an C(oauth) block, a certificate
    format for a client-secret key, an unwritable path, a sealed or unreachable vault and a check-and-set mismatch all fail
    with a clear message and leave the destination as it was.
author:
  - sap_btp.cloud_integration contributors (@sap-btp-community)
extends_documentation_fragment:
  - sap_btp.cloud_integration.common
  - sap_btp.cloud_integration.cf_connection
  - sap_btp.cloud_integration.hashicorp_vault
  - sap_btp.cloud_integration.destination_service
  - sap_btp.cloud_integration.attributes
  - sap_btp.cloud_integration.attributes.ACTION_GROUP
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: Field values are replaced by fingerprints; file attribute changes are shown as they are.
options:
  state:
    description:
      - V(present) writes the key; V(absent) removes the file(s) or the KV secret.
    type: str
    choices: [present, absent]
    default: present
  destination:
    description:
      - Where the key goes.
      - V(btp_destination) and V(cpi_security_material) were added in 1.0.0.
    type: str
    choices: [file, ansible_vault, hashicorp_vault, btp_destination, cpi_security_material]
    default: file
  name:
    description:
      - For O(destination=btp_destination), the name of the destination (letters, digits, C(-) and C(_)).
      - For O(destination=cpi_security_material), the name of the security material artifact.
    type: str
    version_added: 1.0.0
  destination_properties:
    description:
      - For O(destination=btp_destination), further destination properties (for example C(Description) or
        C(URL.headers.<name>)). The properties the module sets cannot be overridden.
    type: dict
    version_added: 1.0.0
  security_material_type:
    description:
      - For O(destination=cpi_security_material), V(oauth2_client_credentials) (for an outbound HTTP adapter with
        OAuth2 client credentials) or V(user_credentials) (client ID as user, secret as password, for Basic
        authentication).
    type: str
    choices: [oauth2_client_credentials, user_credentials]
    default: oauth2_client_credentials
    version_added: 1.0.0
  target_service_key:
    description:
      - For O(destination=cpi_security_material), the C(api)-plan service key of the tenant that receives the artifact
        (dictionary or JSON text), with the roles C(CredentialsEdit) and C(MonitoringDataRead).
      - If not set, E(CPI_TARGET_SERVICE_KEY) is used.
    type: raw
    version_added: 1.0.0
  target_service_key_path:
    description:
      - Path of a JSON file with the target tenant's C(api)-plan key, used when O(target_service_key) is not set.
      - If not set, E(CPI_TARGET_SERVICE_KEY_PATH) is used.
    type: path
    version_added: 1.0.0
  description:
    description:
      - For O(destination=cpi_security_material), the C(Description) of the artifact; the module appends the key's
        fingerprint in brackets.
    type: str
    default: Managed by sap_btp.cloud_integration
    version_added: 1.0.0
  client_authentication:
    description:
      - For O(security_material_type=oauth2_client_credentials), how the adapter sends the client ID and secret to the
        token service (the artifact's C(ClientAuthentication)).
    type: str
    default: Send as Request Header
    version_added: 1.0.0
  instance:
    description:
      - Name of the C(it-rt) service instance in the target space whose key O(key) is fetched from Cloud Foundry.
      - Uses the Cloud Foundry connection options. Mutually exclusive with O(credentials), O(content) and O(src).
    type: str
  key:
    description:
      - Name of the service key of O(instance).
    type: str
  key_guid:
    description:
      - GUID of the service key O(key) of O(instance), when it is known (for example RV(sap_btp.cloud_integration.service_key_info#module:service_keys[].guid)).
      - The key's credentials are then read with one request instead of looking the key up by name first.
    type: str
  credentials:
    description:
      - The service key as a dictionary - the C(credentials) or C(raw) value of a registered
        M(sap_btp.cloud_integration.service_key) result (or the whole registered result), the raw key with its C(oauth) block,
        or the output of the P(sap_btp.cloud_integration.credentials#lookup) lookup.
    type: raw
  content:
    description:
      - The JSON text of a service key as the SAP BTP cockpit or C(cf service-key) shows it. It must contain the C(oauth) block.
    type: str
  src:
    description:
      - Path (on the host that runs the module) of a service key file - the JSON the cockpit downloads, or a C(yaml),
        C(env) or C(postman) file written by this module. It must contain the C(oauth) block (or the fields of one).
    type: path
  path:
    description:
      - For O(destination=file) and O(destination=ansible_vault), the path of the file to write. For O(format=pem), the
        certificate chain goes here and the private key to O(private_key_path).
      - For O(destination=hashicorp_vault), the path of the secret inside the KV mount O(mount), for example V(cpi/acme-dev).
      - Required for those three destinations (in the task or in every item of O(destinations)); not used by
        V(btp_destination) and V(cpi_security_material).
    type: str
  format:
    description:
      - Format of the file. V(json) is the key exactly as SAP shows it; V(yaml) the same with PEMs as literal blocks;
        V(env) dotenv lines (C(CPI_CLIENT_ID), C(CPI_CLIENT_SECRET), C(CPI_TOKEN_URL), C(CPI_URL), C(CPI_CLIENT_CERT),
        C(CPI_CLIENT_KEY), C(CPI_CREATEDATE), with the prefix O(env_prefix)); V(pem) the certificate chain and the private
        key as two files with real line breaks; V(pkcs12) a password-protected bundle; V(postman) a Postman environment.
      - V(pem) and V(pkcs12) need a certificate key with its private key (O(destination=file) only).
      - O(destination=ansible_vault) takes V(json), V(yaml), V(env) or V(postman); O(destination=hashicorp_vault) stores
        the fields of the key and takes no other format than V(json).
      - Defaults to V(json).
    type: str
    choices: [json, yaml, env, pem, pkcs12, postman]
  private_key_path:
    description:
      - For O(format=pem), where the private key goes. Defaults to O(path) with the extension C(.pem), C(.crt) or C(.cer)
        replaced by C(.key) (or C(.key) appended).
      - For O(format=postman), the path of the private key file to reference in the environment (variable C(keyFile)).
    type: path
  certificate_path:
    description:
      - For O(format=postman) with a certificate key, the path of the certificate chain file to reference in the
        environment (variable C(certificateFile)). Write it in an earlier task with O(format=pem).
    type: path
  pkcs12_password:
    description:
      - Password of the PKCS#12 bundle (O(format=pkcs12), required there).
      - Changing the password rewrites the bundle.
    type: str
  pkcs12_friendly_name:
    description:
      - Friendly name (Java keystore alias) of the key and certificate in the PKCS#12 bundle.
    type: str
    default: cloud-integration
  env_prefix:
    description:
      - Prefix of the variable names of O(format=env).
    type: str
    default: CPI_
  postman_name:
    description:
      - Name of the Postman environment (O(format=postman)). Defaults to C(SAP Cloud Integration (<plan>)).
    type: str
  mode:
    description:
      - Permissions of the written file(s), as an octal string such as V('0600') or a symbolic mode.
    type: raw
    default: '0600'
  owner:
    description:
      - Owner of the written file(s).
    type: str
  group:
    description:
      - Group of the written file(s).
    type: str
  backup:
    description:
      - Keep a timestamped copy of a file before it is replaced or removed.
    type: bool
    default: false
  vault_id:
    description:
      - For O(destination=ansible_vault), the vault ID to encrypt with. It must be one of the vault IDs given to the run
        (C(--vault-id label@source)); its label is written into the file header.
      - Defaults to the run's default encrypt identity (C(DEFAULT_VAULT_ENCRYPT_IDENTITY)) or, when the run has only one
        vault secret, that one.
      - A file encrypted with another vault ID is re-encrypted with this one.
    type: str
  cas:
    description:
      - For O(destination=hashicorp_vault), check-and-set - write only if the current version of the secret is O(cas)
        (V(0) means that the secret must not exist yet).
      - The check is done before a write, in check mode as well, and the server enforces it again on the write.
      - When the content is unchanged nothing is written and O(cas) is not checked.
    type: int
  replace:
    description:
      - For O(destination=hashicorp_vault), replace the whole secret with the fields of the key.
      - By default, keys of the secret that are not fields of a service key (for example C(owner) or C(rotation_date))
        are kept; stale key fields (a C(clientsecret) after a switch to a certificate key) are always removed.
    type: bool
    default: false
  destroy:
    description:
      - For O(destination=hashicorp_vault) and O(state=absent), destroy all versions and the metadata of the secret
        instead of deleting (soft-deleting) its latest version.
    type: bool
    default: false
  label:
    description:
      - A label for the task's result and errors, for example the client the key belongs to. In O(destinations),
        the label of the item (the roles set the client's name); an item without one is named
        C(<destination>:<path>) (C(<destination>:<name>) for the SAP stores).
    type: str
    version_added: 1.1.0
  destinations:
    description:
      - Many destinations in one task - faster than a loop, which starts a module process for every item (about
        0.5 s each) and runs the items one after the other. The items run on O(concurrency) threads that share one
        Cloud Foundry login; Ansible Vault files of all items are encrypted by the action plugin in the same task.
      - Each item sets the options of one destination; an option an item does not set is taken from the task
        (O(destination), O(mode), O(url), ...). An item that sets a key source (O(destinations[].instance),
        O(destinations[].credentials), O(destinations[].content) or O(destinations[].src)) takes no other source from the task.
      - Every item is validated before the first request or write, so an invalid item changes nothing. An item that
        fails later does not stop the others; the task then fails, names every failed item (by O(destinations[].label)),
        and RV(destinations) still reports all of them.
      - Mutually exclusive with O(path).
    type: list
    elements: dict
    version_added: 1.1.0
    suboptions:
      label:
        description: Label of this item in RV(destinations) and in errors (see O(label)).
        type: str
      name:
        description: O(name) of this destination (the BTP destination or the security material artifact).
        type: str
      client_authentication:
        description: O(client_authentication) of this destination.
        type: str
      description:
        description: O(description) of this destination.
        type: str
      destination_level:
        description: O(destination_level) of this destination.
        type: str
        choices: [subaccount, instance]
      destination_properties:
        description: O(destination_properties) of this destination.
        type: dict
      destination_service_key:
        description: O(destination_service_key) of this destination.
        type: raw
      destination_service_key_path:
        description: O(destination_service_key_path) of this destination.
        type: path
      security_material_type:
        description: O(security_material_type) of this destination.
        type: str
        choices: [oauth2_client_credentials, user_credentials]
      target_service_key:
        description: O(target_service_key) of this destination.
        type: raw
      target_service_key_path:
        description: O(target_service_key_path) of this destination.
        type: path
      state:
        description: O(state) of this destination.
        type: str
        choices: [present, absent]
      destination:
        description: O(destination) of this destination.
        type: str
        choices: [file, ansible_vault, hashicorp_vault, btp_destination, cpi_security_material]
      instance:
        description: O(instance) of this destination.
        type: str
      key:
        description: O(key) of this destination.
        type: str
      key_guid:
        description: O(key_guid) of this destination.
        type: str
      credentials:
        description: O(credentials) of this destination.
        type: raw
      content:
        description: O(content) of this destination.
        type: str
      src:
        description: O(src) of this destination.
        type: path
      path: {description: O(path) of this destination (not used by the SAP stores)., type: str}
      format:
        description: O(format) of this destination.
        type: str
        choices: [json, yaml, env, pem, pkcs12, postman]
      private_key_path:
        description: O(private_key_path) of this destination.
        type: path
      certificate_path:
        description: O(certificate_path) of this destination.
        type: path
      pkcs12_password:
        description: O(pkcs12_password) of this destination.
        type: str
      pkcs12_friendly_name:
        description: O(pkcs12_friendly_name) of this destination.
        type: str
      env_prefix:
        description: O(env_prefix) of this destination.
        type: str
      postman_name:
        description: O(postman_name) of this destination.
        type: str
      mode:
        description: O(mode) of this destination.
        type: raw
      owner:
        description: O(owner) of this destination.
        type: str
      group:
        description: O(group) of this destination.
        type: str
      backup:
        description: O(backup) of this destination.
        type: bool
      vault_id:
        description: O(vault_id) of this destination.
        type: str
      cas:
        description: O(cas) of this destination.
        type: int
      replace:
        description: O(replace) of this destination.
        type: bool
      destroy:
        description: O(destroy) of this destination.
        type: bool
      url:
        description: O(url) of this destination.
        type: str
      auth_method:
        description: O(auth_method) of this destination.
        type: str
        choices: [token, approle]
      token:
        description: O(token) of this destination.
        type: str
      role_id:
        description: O(role_id) of this destination.
        type: str
      secret_id:
        description: O(secret_id) of this destination.
        type: str
      approle_mount:
        description: O(approle_mount) of this destination.
        type: str
      mount:
        description: O(mount) of this destination.
        type: str
      namespace:
        description: O(namespace) of this destination.
        type: str
      _vault_phase:
        description: Internal, set by the action plugin of this module. Do not set it.
        type: str
        choices: [read, write]
      _vault_content:
        description: Internal, set by the action plugin of this module. Do not set it.
        type: str
  concurrency:
    description:
      - With O(destinations), how many destinations are worked on at the same time (1-32).
    type: int
    default: 8
    version_added: 1.1.0
  _vault_phase:
    description:
      - Internal, set by the action plugin of this module for O(destination=ansible_vault). Do not set it.
    type: str
    choices: [read, write]
  _vault_content:
    description:
      - Internal, the encrypted file content the action plugin hands to the module. Do not set it.
    type: str
notes:
  - Files are written through a temporary file (mode C(0600)) in the same directory and an atomic rename, so readers
    never see a partial file and a secret is never readable by others, not even briefly.
  - Secrets never appear in results, diffs, warnings or error messages. The result carries a C(fingerprint) of the key
    that is the same for every destination, so deliveries can be compared without revealing them.
  - Reading back - the P(sap_btp.cloud_integration.credentials#lookup) lookup reads what this module writes (all
    formats except V(pem) and V(pkcs12)) and returns it in the normalised form other modules take as input.
  - O(destination=hashicorp_vault) reads the secret before writing, so the token (or AppRole) needs the C(read)
    capability as well as C(create) and C(update) on C(<mount>/data/<path>), C(delete) for O(state=absent), and
    C(delete) on C(<mount>/metadata/<path>) for O(destroy=true).
  - O(destination=ansible_vault) writes on the host the task runs on; use it on C(localhost) (the controller) so that
    the encrypted file can be used by later plays.
seealso:
  - module: sap_btp.cloud_integration.service_key
  - plugin: sap_btp.cloud_integration.credentials
    plugin_type: lookup
requirements:
  - cryptography (for O(format=pkcs12))
"""

EXAMPLES = r"""
- name: Store the key of an iFlow client as JSON, fetched directly from Cloud Foundry
  sap_btp.cloud_integration.credentials_store:
    cf_api: https://api.cf.eu10.hana.ondemand.com
    org: acme
    space: dev
    instance: orders-iflow-client
    key: orders-key
    path: /etc/cpi/orders.json

- name: Certificate chain and private key as two PEM files for curl or an HTTP client
  sap_btp.cloud_integration.credentials_store:
    instance: orders-iflow-client
    key: orders-cert-key
    path: /etc/cpi/orders.pem
    private_key_path: /etc/cpi/orders.key
    format: pem

- name: PKCS#12 bundle for a Java client
  sap_btp.cloud_integration.credentials_store:
    instance: orders-iflow-client
    key: orders-cert-key
    path: /etc/cpi/orders.p12
    format: pkcs12
    pkcs12_password: "{{ keystore_password }}"

- name: Ansible Vault file next to the inventory (encrypted with the run's vault ID 'prod')
  sap_btp.cloud_integration.credentials_store:
    instance: orders-iflow-client
    key: orders-key
    destination: ansible_vault
    vault_id: prod
    format: yaml
    path: "{{ inventory_dir }}/group_vars/all/cpi_orders.vault.yml"
  delegate_to: localhost

- name: KV v2 secret on OpenBao, keeping other keys of the secret
  sap_btp.cloud_integration.credentials_store:
    instance: orders-iflow-client
    key: orders-key
    destination: hashicorp_vault
    url: https://openbao.example.com:8200
    auth_method: approle
    role_id: "{{ approle_role_id }}"
    secret_id: "{{ approle_secret_id }}"
    mount: secret
    path: cpi/orders

- name: A Postman environment from a key registered by service_key
  sap_btp.cloud_integration.credentials_store:
    credentials: "{{ created_key }}"
    format: postman
    path: "{{ lookup('ansible.builtin.env', 'HOME') }}/postman/cpi-orders.postman_environment.json"

- name: An OAuth2ClientCredentials destination for a CAP application (Destination service key from a file)
  sap_btp.cloud_integration.credentials_store:
    instance: orders-iflow-client
    key: orders-key
    destination: btp_destination
    name: cpi-orders
    destination_service_key_path: /etc/btp/destination-key.json

- name: The same client as OAuth2 client credentials in another tenant's security material
  sap_btp.cloud_integration.credentials_store:
    instance: orders-iflow-client
    key: orders-key
    destination: cpi_security_material
    name: orders_partner
    target_service_key_path: /etc/cpi/partner-tenant-api-key.json

- name: Remove the secret, all versions (the vault token from VAULT_TOKEN)
  sap_btp.cloud_integration.credentials_store:
    destination: hashicorp_vault
    url: https://openbao.example.com:8200
    path: cpi/orders
    state: absent
    destroy: true
"""

RETURN = r"""
destination:
  description: The destination written.
  returned: always
  type: str
  sample: file
path:
  description:
    - The file written (the certificate chain for O(format=pem)).
    - Ansible adds the usual file facts of this path (C(mode), C(owner), C(group), C(size), ...) to the result.
  returned: when O(destination) is V(file) or V(ansible_vault)
  type: str
  sample: /etc/cpi/orders.json
kv_path:
  description: C(<mount>/<path>) of the KV secret.
  returned: when O(destination=hashicorp_vault)
  type: str
  sample: secret/cpi/orders
paths:
  description: All files written (two for O(format=pem)).
  returned: when O(destination) is V(file) or V(ansible_vault)
  type: list
  elements: str
  sample: [/etc/cpi/orders.pem, /etc/cpi/orders.key]
format:
  description: The format written.
  returned: when O(destination) is V(file) or V(ansible_vault)
  type: str
  sample: json
changed_fields:
  description:
    - Names of the key fields that changed (C(content) when only the file as a whole can be compared).
  returned: always
  type: list
  elements: str
  sample: [clientsecret]
fingerprint:
  description: Non-reversible fingerprint of the key's fields, the same for every destination and format.
  returned: when O(state=present)
  type: str
  sample: "sha256:3f0c2d118a7b4c1e"
key_type:
  description: Type of the key (V(client_secret), V(certificate) or V(external_certificate)).
  returned: when O(state=present)
  type: str
  sample: client_secret
plan:
  description: Plan the key belongs to (V(api) or V(integration-flow)), inferred from the client ID.
  returned: when O(state=present) and the plan can be inferred
  type: str
  sample: integration-flow
name:
  description: Name of the destination or security material artifact.
  returned: when O(destination) is V(btp_destination) or V(cpi_security_material)
  type: str
  sample: cpi-orders
  version_added: 1.0.0
level:
  description: Level of the destination (V(subaccount) or V(instance)).
  returned: when O(destination=btp_destination)
  type: str
  sample: subaccount
  version_added: 1.0.0
artifact_type:
  description: Entity set of the security material artifact (C(OAuth2ClientCredentials) or C(UserCredentials)).
  returned: when O(destination=cpi_security_material)
  type: str
  sample: OAuth2ClientCredentials
  version_added: 1.0.0
tenant_url:
  description: Management URL of the tenant that holds the security material.
  returned: when O(destination=cpi_security_material)
  type: str
  sample: https://acme-dev.it-cpi018.cfapps.eu10-003.hana.ondemand.com
  version_added: 1.0.0
version:
  description: Version of the KV secret after the task (the version that would be replaced in check mode).
  returned: when O(destination=hashicorp_vault)
  type: int
  sample: 3
backup_files:
  description: Backup copies made with O(backup=true).
  returned: when O(destination) is V(file) or V(ansible_vault)
  type: list
  elements: str
  sample: [/etc/cpi/orders.json.12345.2026-01-01@10:00:00~]
label:
  description: O(label) (in RV(destinations), the item's label, or C(<destination>:<path>), C(<destination>:<name>) for the SAP stores).
  returned: with O(destinations), and when O(label) is set
  type: str
  sample: orders-client
  version_added: 1.1.0
destinations:
  description:
    - With O(destinations), the result of every item in the order of the items - the keys described here
      (RV(destination), RV(path), RV(changed_fields), ...) and C(changed); a failed item has C(failed) and C(msg).
  returned: with O(destinations)
  type: list
  elements: dict
  sample: [{label: orders-client, destination: file, path: /etc/cpi/orders.json, changed: true, changed_fields: [clientsecret]}]
vault_id:
  description: The vault ID the file is encrypted with.
  returned: when O(destination=ansible_vault) and O(state=present)
  type: str
  sample: prod
"""

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils import _batch
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._cf import CfClient, cf_argument_spec, cf_module_kwargs, merge_module_kwargs
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._credentials_store import batch_item_options, run_batch, run_module
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._destination_service import destination_argument_spec
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._formats import FORMATS
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._module import CloudIntegrationModule
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._security_material import security_material_argument_spec
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._vault import vault_argument_spec


def argument_spec():
    spec = dict(
        state=dict(type="str", default="present", choices=["present", "absent"]),
        destination=dict(type="str", default="file", choices=["file", "ansible_vault", "hashicorp_vault", "btp_destination", "cpi_security_material"]),
        name=dict(type="str"),
        instance=dict(type="str"),
        key=dict(type="str", no_log=False),
        key_guid=dict(type="str", no_log=False),
        credentials=dict(type="raw", no_log=True),
        content=dict(type="str", no_log=True),
        src=dict(type="path"),
        path=dict(type="str"),
        label=dict(type="str"),
        format=dict(type="str", choices=list(FORMATS)),
        private_key_path=dict(type="path", no_log=False),
        certificate_path=dict(type="path"),
        pkcs12_password=dict(type="str", no_log=True),
        pkcs12_friendly_name=dict(type="str", default="cloud-integration"),
        env_prefix=dict(type="str", default="CPI_"),
        postman_name=dict(type="str"),
        mode=dict(type="raw", default="0600"),
        owner=dict(type="str"),
        group=dict(type="str"),
        backup=dict(type="bool", default=False),
        vault_id=dict(type="str"),
        cas=dict(type="int"),
        replace=dict(type="bool", default=False),
        destroy=dict(type="bool", default=False),
        # set by the action plugin only
        _vault_phase=dict(type="str", choices=["read", "write"]),
        _vault_content=dict(type="str", no_log=True),
    )
    spec.update(cf_argument_spec())
    spec.update(vault_argument_spec())
    spec.update(destination_argument_spec())
    spec.update(security_material_argument_spec())
    spec["concurrency"] = dict(type="int", default=8)
    spec["destinations"] = dict(type="list", elements="dict", options=_batch.item_spec(spec, item_options(spec), required=()))
    return spec


def item_options(spec):
    """The options a destinations item may set: every per-destination option of the module."""
    return batch_item_options(spec, cf_argument_spec())


def run(module):
    if module.params.get("destinations") is not None:
        return run_batch(module, item_options(argument_spec()), CfClient.from_module)
    return run_module(module)


def main():
    module = CloudIntegrationModule(
        argument_spec=argument_spec(),
        supports_check_mode=True,
        **merge_module_kwargs(cf_module_kwargs(), dict(
            mutually_exclusive=[("instance", "credentials", "content", "src"), ("path", "destinations")],
            required_together=[("instance", "key")],
            required_if=[("auth_method", "approle", ("role_id", "secret_id"))],
        ))
    )
    result = module.run(run, module)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
