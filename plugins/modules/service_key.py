#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: service_key
short_description: Manage service keys of Process Integration Runtime (it-rt) instances - client secret, certificate, external certificate
version_added: 1.0.0
description:
  - Creates or deletes a service key (a Cloud Foundry credential binding of type C(key)) of a service instance
    and returns the key in normalised form.
  - Three key types - V(client_secret) (ClientId/Secret), V(certificate) (SAP generates an X.509 certificate and
    its private key) and V(external_certificate) (the broker gets only your certificate; the private key stays
    with you).
  - For V(external_certificate) without O(certificate), a key pair and an X.509 client certificate are generated
    locally with C(cryptography), self-signed or signed by O(ca_certificate). The private key is written to
    O(private_key_path) with mode 0600, never returned and never sent anywhere.
  - Keys cannot be changed in Cloud Foundry. When an existing key does not match the task (type, key length,
    validity, certificate, parameters), the task fails and points to O(force) or the
    C(sap_btp.cloud_integration.key_rotation) role; a credential is never replaced silently.
  - Secrets (C(clientsecret), the private C(key)) are masked in the result unless O(return_secrets=true).
author:
  - sap_btp.cloud_integration contributors (@sap-btp-community)
extends_documentation_fragment:
  - sap_btp.cloud_integration.common
  - sap_btp.cloud_integration.cf_connection
  - sap_btp.cloud_integration.attributes
  - sap_btp.cloud_integration.attributes.ACTION_GROUP
attributes:
  check_mode:
    support: full
    details: Lookups are performed; no key is created or deleted and no file is written. C(changed) is predicted.
  diff_mode:
    support: full
    details: Shows state, key type, certificate expiry and a fingerprint of the credential - never a secret.
options:
  name:
    description:
      - Name of the service key (at most 32 characters for it-rt).
      - Exactly one of O(name) and O(keys) is required.
    type: str
  keys:
    description:
      - Many keys in one task - faster than a loop, which starts a module process for every item and runs the items
        one after the other. The items run on O(concurrency) threads that share one Cloud Foundry login.
      - Each item sets the options of one key; an option an item does not set is taken from the task (O(instance),
        O(key_type), O(validity_days), O(wait), ...). An item that sets O(keys[].instance) takes no O(instance_guid)
        from the task and the reverse; an item that sets O(keys[].certificate) takes none of O(private_key_path),
        O(certificate_path) and O(common_name). O(return_secrets), the CA and the passphrases apply to every item.
      - Every item is validated before the first request, so an invalid item changes nothing. An item that fails
        later does not stop the others; the task then fails and names every failed item, and RV(service_keys) still
        reports all of them.
    type: list
    elements: dict
    suboptions:
      name:
        description: Name of the key.
        type: str
        required: true
      instance:
        description: Name of the instance of this key.
        type: str
      instance_guid:
        description: GUID of the instance of this key.
        type: str
      state:
        description: V(present) or V(absent) for this key.
        type: str
        choices: [present, absent]
      key_type:
        description: Key type of this key (see O(key_type)).
        type: str
        choices: [client_secret, certificate, external_certificate]
      validity_days:
        description: Certificate validity of this key (see O(validity_days)).
        type: int
      key_length:
        description: RSA key length of this key (see O(key_length)).
        type: int
      certificate:
        description: External certificate of this key (see O(certificate)).
        type: str
      private_key_path:
        description: Where the generated private key of this key is written (see O(private_key_path)).
        type: path
      certificate_path:
        description: Where the generated certificate of this key is written (see O(certificate_path)).
        type: path
      common_name:
        description: Subject common name of the generated certificate of this key (see O(common_name)).
        type: str
      parameters:
        description: Extra parameters of this key (see O(parameters)).
        type: dict
      force:
        description: Replace this key when it does not match (see O(force)).
        type: bool
  concurrency:
    description:
      - With O(keys), how many keys are worked on at the same time (1-32).
    type: int
    default: 16
  instance:
    description:
      - Name of the service instance in the target space. One of O(instance) and O(instance_guid) is required
        (for O(keys), in the task or in every item).
    type: str
  instance_guid:
    description:
      - GUID of the service instance, instead of O(instance).
    type: str
  state:
    description:
      - V(present) creates the key if it does not exist; V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  key_type:
    description:
      - V(client_secret) - client id and secret (the default of the broker, no key parameters).
      - V(certificate) - SAP generates a certificate and private key (parameters C(key-type=certificate), C(validity), C(key-length)).
      - V(external_certificate) - your certificate (parameters C(key-type=certificate_external) and C(X.509)).
      - Certificate keys need the grant type V(client_credentials) on the instance.
    type: str
    choices: [client_secret, certificate, external_certificate]
    default: client_secret
  validity_days:
    description:
      - Validity of the certificate in days, 1 to 365.
      - For V(certificate), sent as C(validity) (the broker's default applies when not given).
      - For a generated V(external_certificate), the validity of the generated certificate (default 365).
    type: int
  key_length:
    description:
      - RSA key length, V(2048), V(3072) or V(4096).
      - For V(certificate), sent as C(key-length) (broker default 2048). For a generated V(external_certificate),
        the size of the generated key (default 2048).
    type: int
  certificate:
    description:
      - For V(external_certificate) - your client certificate, as PEM text or the path of a PEM file. A single
        certificate, not a chain; it must be signed by a CA that SAP trusts, and it can be used by one key only.
      - An expired certificate is rejected before any request.
      - Without it, a key pair and a certificate are generated (see O(private_key_path)).
    type: str
  private_key_path:
    description:
      - For a generated V(external_certificate) - where the private key is written (PEM, PKCS#8, mode 0600,
        atomically). An existing key at this path is reused, never overwritten.
    type: path
  private_key_passphrase:
    description:
      - Passphrase to encrypt the generated private key with (and to read an existing one).
    type: str
  certificate_path:
    description:
      - For a generated V(external_certificate) - where the certificate is written (PEM, mode 0644). A valid
        certificate at this path that matches the private key is reused.
    type: path
  common_name:
    description:
      - Common name of a generated certificate. Default C(<instance>-<name>).
    type: str
  ca_certificate:
    description:
      - CA certificate (PEM text or path) that signs a generated certificate; without it the certificate is self-signed.
      - SAP accepts external certificates only from CAs it trusts; a self-signed certificate is rejected by the broker
        unless its issuer is trusted.
    type: str
  ca_private_key_path:
    description:
      - Path of the private key of O(ca_certificate).
    type: path
  ca_private_key_passphrase:
    description:
      - Passphrase of O(ca_private_key_path).
    type: str
  parameters:
    description:
      - Additional key parameters for the broker, for example C(certificate-pinning) for an external certificate
        (parameter name not confirmed by SAP). C(key-type), C(validity), C(key-length) and C(X.509) are set through
        the options above.
    type: dict
  force:
    description:
      - When an existing key does not match the task, delete it and create a new one.
      - Clients using the old credentials stop working at once. Prefer the C(sap_btp.cloud_integration.key_rotation)
        role, which creates a new key, verifies it and only then deletes the old one.
    type: bool
    default: false
  return_secrets:
    description:
      - Return the secret fields (C(clientsecret), the private C(key)) in RV(credentials) and RV(raw) instead of C(********).
      - Risky - the values then live in the task result, in registered variables and in every fact cache or callback
        that stores results (AWX/AAP job events, ARA, JSON callbacks). The action plugin of this module marks such
        results as C(no_log), which hides them from the console and logs, but anything you do with the registered
        variable (C(debug), templates, C(set_stats)) can still reveal them.
      - Prefer delivering the key straight to a file or vault with C(sap_btp.cloud_integration.credentials_store).
    type: bool
    default: false
  wait:
    description:
      - Wait until the key is created or deleted. With V(false), the task returns when Cloud Foundry accepted the
        request, without credentials.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for an operation.
    type: int
    default: 300
notes:
  - An idempotent run costs two Cloud Foundry requests - the key lookup (by key and instance name, in one request)
    and the credentials (C(/details)).
  - When the broker rejects the key this task creates (for example an untrusted certificate), the failed key is deleted
    again, so the failed task leaves nothing behind. A failed key left by an interrupted run is replaced; a key creation
    or deletion in progress is adopted and awaited.
  - Certificate details (C(not_after), C(days_left)) come from the certificate itself, so expiry can be monitored.
seealso:
  - module: sap_btp.cloud_integration.service_key_info
  - module: sap_btp.cloud_integration.service_instance
"""

EXAMPLES = r"""
- name: Client id and secret for an iFlow sender (secrets masked in the result)
  sap_btp.cloud_integration.service_key:
    org: acme-org
    space: dev
    instance: orders-sender
    name: orders-sender-key
  register: key

- name: SAP-generated certificate valid for 90 days, secrets returned for a later task
  sap_btp.cloud_integration.service_key:
    org: acme-org
    space: dev
    instance: orders-sender
    name: orders-sender-cert
    key_type: certificate
    validity_days: 90
    return_secrets: true
  register: cert_key
  no_log: true

- name: External certificate, key pair generated locally and signed by our CA
  sap_btp.cloud_integration.service_key:
    org: acme-org
    space: dev
    instance: orders-sender
    name: orders-sender-ext
    key_type: external_certificate
    private_key_path: /etc/pki/cpi/orders-sender.key
    certificate_path: /etc/pki/cpi/orders-sender.crt
    ca_certificate: /etc/pki/cpi/client-ca.crt
    ca_private_key_path: /etc/pki/cpi/client-ca.key
    validity_days: 180

- name: External certificate from an existing PEM file
  sap_btp.cloud_integration.service_key:
    org: acme-org
    space: dev
    instance: orders-sender
    name: partner-x509
    key_type: external_certificate
    certificate: /etc/pki/cpi/partner.crt

- name: Client secret keys of several instances in one task, without waiting for each
  sap_btp.cloud_integration.service_key:
    org: acme-org
    space: dev
    wait: false
    keys:
      - {instance: partner-a, name: partner-a-key}
      - {instance: partner-b, name: partner-b-key}
      - {instance: partner-c, name: partner-c-cert, key_type: certificate, validity_days: 90}
  register: partner_keys

- name: Delete a key
  sap_btp.cloud_integration.service_key:
    org: acme-org
    space: dev
    instance: orders-sender
    name: orders-sender-key
    state: absent
"""

RETURN = r"""
service_keys:
  description:
    - With O(keys), the result of every item in the order of the items - the keys this module returns for one key
      (RV(name), RV(guid), RV(state), RV(instance), RV(credentials), ...) plus C(changed). A failed item has
      C(failed=true) and its message in C(msg).
  returned: with O(keys)
  type: list
  elements: dict
  sample: [{"name": "partner-a-key", "instance": "partner-a", "guid": "0c4d3f7e-5a1b-4e2f-9b8a-7d6c5e4f3a2b", "changed": true,
            "state": "create in progress", "credentials": null}]
name:
  description: Name of the key.
  returned: with O(name)
  type: str
guid:
  description: GUID of the key (null when absent or in check mode before it is created).
  returned: with O(name)
  type: str
state:
  description: V(present), V(absent), V(create in progress) or V(delete in progress).
  returned: with O(name)
  type: str
instance:
  description: Name of the service instance.
  returned: with O(name)
  type: str
instance_guid:
  description: GUID of the service instance.
  returned: with O(name)
  type: str
key_type:
  description: V(client_secret), V(certificate) or V(external_certificate).
  returned: when the key exists
  type: str
plan:
  description: Plan of the key's instance, inferred from the client id - V(api) or V(integration-flow).
  returned: when the key exists
  type: str
last_operation:
  description: Last operation of the key as Cloud Foundry reports it.
  returned: when the key exists
  type: dict
created_at:
  description: Creation time of the key.
  returned: when the key exists
  type: str
credentials:
  description:
    - The key normalised. Secret fields are C(********) unless O(return_secrets=true).
    - Null while the key is being created, in check mode and when it is absent.
  returned: with O(name)
  type: dict
  contains:
    clientid:
      description: OAuth client id.
      type: str
    clientsecret:
      description: OAuth client secret (V(client_secret) keys).
      type: str
    certificate:
      description: Certificate chain, PEM with real line breaks (certificate keys).
      type: str
    key:
      description: Private key, PEM with real line breaks (V(certificate) keys only).
      type: str
    url:
      description: Base URL - the tenant management host for plan V(api), the runtime (C(-rt)) host for V(integration-flow).
      type: str
    tokenurl:
      description: OAuth token URL (the C(.cert.) host for certificate keys).
      type: str
    createdate:
      description: Creation date reported in the key.
      type: str
    plan:
      description: Inferred plan.
      type: str
    key_type:
      description: Key type.
      type: str
    certificate_details:
      description: Same as RV(certificate_details).
      type: dict
raw:
  description:
    - The key exactly as Cloud Foundry returns it (C({"oauth" {...}})), to store as it is. Secret fields are
      C(********) unless O(return_secrets=true).
  returned: with O(name)
  type: dict
certificate_details:
  description: Details of the leaf certificate of a certificate key (null for client secrets).
  returned: with O(name)
  type: dict
  contains:
    not_after:
      description: End of validity, ISO 8601 UTC.
      type: str
      sample: "2027-03-14T09:30:02Z"
    not_before:
      description: Start of validity, ISO 8601 UTC.
      type: str
    days_left:
      description: Whole days until RV(certificate_details.not_after).
      type: int
    expired:
      description: Whether the certificate has expired.
      type: bool
    subject:
      description: Subject DN.
      type: str
    issuer:
      description: Issuer DN.
      type: str
    serial:
      description: Serial number (hex).
      type: str
    fingerprint_sha256:
      description: SHA-256 fingerprint of the certificate.
      type: str
    sap:
      description: The C(certificatedetails) object of the key as SAP returns it.
      type: dict
secrets_returned:
  description: Whether RV(credentials) and RV(raw) hold the real secret values.
  returned: always
  type: bool
private_key_path:
  description: Path of the private key of a generated external certificate.
  returned: for generated external certificates
  type: str
certificate_path:
  description: Path of the generated certificate (when O(certificate_path) is set).
  returned: for generated external certificates
  type: str
files_written:
  description: Files written (or that would be written in check mode) by this task.
  returned: for generated external certificates
  type: list
  elements: str
adopted:
  description: Type of an operation in progress that the task adopted.
  returned: when an operation was adopted
  type: str
replaced:
  description: True when O(force=true) replaced a key that did not match.
  returned: when that happened
  type: bool
replaced_reasons:
  description: Why the key did not match.
  returned: when a key was replaced
  type: list
  elements: str
replaced_failed:
  description: True when a key whose create had failed was replaced.
  returned: when that happened
  type: bool
"""

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils import _batch
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._cf import CfClient, cf_argument_spec, cf_module_kwargs, merge_module_kwargs
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._module import CloudIntegrationModule
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._provision import KeyManager, withhold_secrets


ITEM_OPTIONS = ("name", "instance", "instance_guid", "state", "key_type", "validity_days", "key_length", "certificate",
                "private_key_path", "certificate_path", "common_name", "parameters", "force")
EXCLUSIVE = ((("instance",), ("instance_guid",)),
             (("certificate",), ("private_key_path", "certificate_path", "common_name")))
ONE_OF_EACH = [("instance", "instance_guid"), ("certificate", "private_key_path")]


def register_for(module):
    if module.params["return_secrets"]:
        # registered for message scrubbing only: the values must reach the (no_log) result
        return module.redactor.add
    return module.add_secrets


def finalise_batch(output, failed):
    if failed:
        # a failure is shown (not no_log), so it carries no secrets: rerun the task to get those of the other keys
        output["service_keys"] = [withhold_secrets(result) for result in output["service_keys"]]
    output["secrets_returned"] = any(result.get("secrets_returned") for result in output["service_keys"])


def run(module):
    params = module.params
    for name in ("private_key_passphrase", "ca_private_key_passphrase"):
        if params.get(name):
            module.add_secrets(params[name])

    def make(item):
        return KeyManager(None, item, check_mode=module.check_mode, warn=module.warn, register_secrets=register_for(module))

    if params.get("keys") is not None:
        items = _batch.expand(dict(params), "keys", ITEM_OPTIONS, EXCLUSIVE, identity=("name", "instance", "instance_guid"))

        def batch_manager(item):
            manager = make(item)
            manager.defer_lookup = True
            return manager

        def prepare(client, managers):
            # one list request for the keys and one for the instances of all items (not one of each per key)
            by_name = [manager for manager in managers if not manager.p.get("instance_guid") and manager.p["state"] == "present"]
            if by_name:
                client.prefetch_keys([(manager.p["instance"], manager.p["name"]) for manager in by_name])
                client.prefetch_instances([manager.p["instance"] for manager in by_name])

        return _batch.run_batch(
            module, "keys", items, batch_manager, CfClient.from_module, "service keys",
            lambda manager: {"name": manager.p["name"], "instance": manager.p.get("instance"), "instance_guid": manager.p.get("instance_guid")},
            result_key="service_keys", finalise=finalise_batch, prepare=prepare, resolve=lambda client, pairs: client.keys_by_instance(pairs))
    return _batch.run_one(module, make(dict(params)), CfClient.from_module)


def main():
    argument_spec = cf_argument_spec()
    argument_spec.update(
        name=dict(type="str"),
        concurrency=dict(type="int", default=16),
        instance=dict(type="str"),
        instance_guid=dict(type="str"),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        key_type=dict(type="str", default="client_secret", choices=["client_secret", "certificate", "external_certificate"], no_log=False),
        validity_days=dict(type="int"),
        key_length=dict(type="int", no_log=False),
        certificate=dict(type="str"),
        private_key_path=dict(type="path", no_log=False),
        private_key_passphrase=dict(type="str", no_log=True),
        certificate_path=dict(type="path"),
        common_name=dict(type="str"),
        ca_certificate=dict(type="str"),
        ca_private_key_path=dict(type="path", no_log=False),
        ca_private_key_passphrase=dict(type="str", no_log=True),
        parameters=dict(type="dict"),
        force=dict(type="bool", default=False),
        return_secrets=dict(type="bool", default=False, no_log=False),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=300),
    )
    argument_spec["keys"] = dict(type="list", elements="dict", no_log=False, options=_batch.item_spec(argument_spec, ITEM_OPTIONS),
                                 mutually_exclusive=ONE_OF_EACH)
    kwargs = merge_module_kwargs(cf_module_kwargs(), dict(
        required_one_of=[("name", "keys")],
        mutually_exclusive=ONE_OF_EACH + [("name", "keys")],
    ))
    module = CloudIntegrationModule(argument_spec=argument_spec, supports_check_mode=True, **kwargs)
    result = module.run(run, module)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
