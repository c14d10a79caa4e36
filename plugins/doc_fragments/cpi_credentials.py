# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    """Cloud Integration (it-rt) service-key credentials, and the token options of modules that fetch a token."""

    DOCUMENTATION = r"""
options:
  instance:
    description:
      - A CF reference - the name of the C(it-rt) service instance whose service key (named by the key option,
        O(key) or O(key_name) as the module documents) holds the credentials. The module reads the key through the Cloud Foundry API
        with the Cloud Foundry connection options (O(cf_api), O(cf_username), ..., O(org), O(space)), so no secret
        becomes a play variable. The form is the one M(sap_btp.cloud_integration.credentials_store) takes.
      - Takes precedence over every other credential source; mutually exclusive with O(stored), O(service_key),
        O(service_key_path) and O(client_id).
    type: str
    version_added: 1.0.0
  stored:
    description:
      - A service key stored earlier by M(sap_btp.cloud_integration.credentials_store) (or by a person), read with the
        readers of the P(sap_btp.cloud_integration.credentials#lookup) lookup.
      - Files (O(stored.source=file) and O(stored.source=ansible_vault)) are read on the controller by the module's
        action plugin and decrypted with the Ansible Vault secrets of the run; a KV secret is read by the module.
      - Mutually exclusive with O(instance), O(service_key), O(service_key_path) and O(client_id).
    type: dict
    version_added: 1.0.0
    suboptions:
      source:
        description:
          - Where the key is stored. V(file) reads a plain file (and decrypts an Ansible Vault file transparently),
            V(ansible_vault) requires an encrypted file, V(hashicorp_vault) reads a KV version 2 secret.
        type: str
        choices: [file, ansible_vault, hashicorp_vault]
        default: file
      path:
        description:
          - The file path (relative paths are resolved against the playbook or role directory, as for lookups), or the
            path of the secret inside the KV mount.
        type: str
        required: true
      format:
        description:
          - Format of a file. V(auto) recognises JSON, a Postman environment, dotenv and YAML.
        type: str
        choices: [auto, json, yaml, env, postman]
        default: auto
      env_prefix:
        description:
          - Prefix of the variable names in an V(env) file.
        type: str
        default: CPI_
      url:
        description:
          - Address of the vault (V(hashicorp_vault)). If not set, E(VAULT_ADDR) or E(BAO_ADDR) is used.
        type: str
      auth_method:
        description:
          - How to authenticate to the vault.
        type: str
        choices: [token, approle]
        default: token
      token:
        description:
          - Vault token for O(stored.auth_method=token). If not set, E(VAULT_TOKEN) or E(BAO_TOKEN) is used.
        type: str
      role_id:
        description:
          - AppRole role ID for O(stored.auth_method=approle).
        type: str
      secret_id:
        description:
          - AppRole secret ID for O(stored.auth_method=approle).
        type: str
      approle_mount:
        description:
          - Mount point of the AppRole auth method.
        type: str
        default: approle
      mount:
        description:
          - Mount point of the KV version 2 secrets engine.
        type: str
        default: secret
      namespace:
        description:
          - Vault namespace (Vault Enterprise, OpenBao). If not set, E(VAULT_NAMESPACE) or E(BAO_NAMESPACE) is used.
        type: str
  _stored_key:
    description:
      - Internal, the key the action plugin read on the controller for O(stored). Do not set it.
    type: raw
  service_key:
    description:
      - >-
        An C(it-rt) service key, as a dictionary or JSON text. Accepted shapes are the key as the cockpit and
        C(cf service-key) show it (C({"oauth": {...}})), the bare C(oauth) object, the Cloud Foundry C(/details)
        answer (C({"credentials": {...}})), and the registered result of the C(sap_btp.cloud_integration.service_key) module
        or the normalised credentials of the C(sap_btp.cloud_integration.credentials) lookup.
      - PEM values may use real line breaks or C(\n) escapes.
      - The plan (V(api) or V(integration-flow)) is inferred from the client id and the URL and checked before any
        request.
      - Mutually exclusive with O(instance), O(stored), O(service_key_path), O(client_id) and O(client_secret).
      - If not set, the environment variable E(CPI_SERVICE_KEY) (JSON text) is used.
    type: raw
  service_key_path:
    description:
      - Path of a file that holds the service key as JSON (any shape accepted by O(service_key)).
      - If not set, E(CPI_SERVICE_KEY_PATH) is used.
    type: path
  client_id:
    description:
      - The C(clientid) of the key, when no O(service_key) is given. Needs O(token_url) and either O(client_secret)
        or O(client_cert) and O(client_key).
      - If not set, E(CPI_CLIENT_ID) is used.
    type: str
  client_secret:
    description:
      - The C(clientsecret) of a client-secret key.
      - If not set, E(CPI_CLIENT_SECRET) is used.
    type: str
  token_url:
    description:
      - The XSUAA token endpoint (C(tokenurl) of the key, C(https://<subdomain>.authentication.<region>.hana.ondemand.com/oauth/token)).
      - Overrides the key's C(tokenurl). A query string (such as C(?grant_type=client_credentials)) is ignored; use
        O(client_auth=query) for that style.
      - If not set, E(CPI_TOKEN_URL) is used.
    type: str
  url:
    description:
      - The Cloud Integration URL of the key. For an V(integration-flow) key this is the runtime (C(-rt)) host of
        the iFlow endpoints, for an V(api) key the tenant management host of the OData API.
      - Overrides the key's C(url).
      - If not set, E(CPI_URL) is used.
    type: str
  client_cert:
    description:
      - Client certificate (PEM chain) as text or as the path of a PEM file. Overrides the key's C(certificate).
      - Needed with O(client_id) for certificate clients.
      - If not set, E(CPI_CLIENT_CERT) (PEM text) or E(CPI_CLIENT_CERT_PATH) is used.
    type: str
  client_key:
    description:
      - Private key of the client certificate (PEM text or the path of a PEM file).
      - Required for an external-certificate key, whose JSON holds the certificate but never the private key.
      - If not set, E(CPI_CLIENT_KEY) (PEM text) or E(CPI_CLIENT_KEY_PATH) is used.
      - When O(client_cert) or O(client_key) is given, the task fails before any request if the private key does not
        belong to the certificate.
    type: str
  allow_http:
    description:
      - Accept plain C(http://) token and Cloud Integration URLs.
      - Client credentials and tokens then travel unencrypted, so by default such URLs are rejected before any
        request. Only for a local test server.
      - If not set, E(SAP_BTP_ALLOW_HTTP) is used.
    type: bool
    default: false
notes:
  - "Credential precedence (the first source that is set wins): 1. the CF reference O(instance) and its key,
    2. O(stored), 3. O(service_key), 4. O(service_key_path), 5. O(client_id) with O(token_url). The source options
    are mutually exclusive when given as options (also through C(module_defaults)). A source that only an
    environment variable supplies (E(CPI_SERVICE_KEY), E(CPI_SERVICE_KEY_PATH), E(CPI_CLIENT_ID)) counts only when
    the task gives no source option, so a task's own source always wins over the environment of an AWX/AAP
    credential. O(url), O(token_url), O(client_cert) and O(client_key) (and their environment variables) then
    override or complete the values of the key."
  - A client certificate is checked before any request - its private key must belong to it and it must not have
    expired - so an expired certificate is reported as such, not as a TLS failure.
  - "Environment variables for AWX/AAP credential types: E(CPI_SERVICE_KEY), E(CPI_SERVICE_KEY_PATH),
    E(CPI_CLIENT_ID), E(CPI_CLIENT_SECRET), E(CPI_TOKEN_URL), E(CPI_URL), E(CPI_CLIENT_CERT) or
    E(CPI_CLIENT_CERT_PATH), E(CPI_CLIENT_KEY) or E(CPI_CLIENT_KEY_PATH)."
"""

    CF_REFERENCE_KEY = r"""
options:
  key:
    description:
      - The name of the service key of O(instance) (the CF reference). Required with O(instance).
    type: str
    aliases: [key_name]
    version_added: 1.0.0
"""

    CF_REFERENCE_KEY_NAME = r"""
options:
  key_name:
    description:
      - The name of the service key of O(instance) (the CF reference). Required with O(instance).
      - This module's O(key) is the OData entity key, so the key of the CF reference is named O(key_name) here (the
        other modules accept O(key_name) as an alias of their O(key) option).
    type: str
    version_added: 1.0.0
"""

    TOKEN = r"""
options:
  client_auth:
    description:
      - How a client secret is sent to the token endpoint.
      - >-
        V(basic) sends C(Authorization: Basic) with C(grant_type) and C(client_id) in the form body (the XSUAA
        documentation sample). Client id and secret are URL-encoded, with the header C(X-CF-ENCODED-CREDENTIALS: true),
        when they contain characters such as C(+), C(%) or C(:).
      - V(body) sends C(client_id) and C(client_secret) in the form body, without an C(Authorization) header.
      - >-
        V(query) sends C(Authorization: Basic) and C(?grant_type=client_credentials) in the query string, with an
        empty body (the style of the Cloud Integration documentation and Project Piper).
      - Ignored for certificate credentials, which always use mTLS on the C(.authentication.cert.) host.
    type: str
    choices: [basic, body, query]
    default: basic
  cache:
    description:
      - Cache tokens on the controller, shared by tasks, hosts and forks, in a per-user directory (mode 0700, files
        0600, file locks so that concurrent forks fetch a token only once).
      - The directory is C($XDG_CACHE_HOME/sap_btp.cloud_integration) (default C(~/.cache/...)); set
        E(SAP_BTP_CACHE_DIR) to move it.
      - Entries are keyed by token URL, client id, auth kind (secret or certificate) and a digest of the credential.
        They hold the access token and its expiry only, never a client secret or private key, and are stored
        unencrypted, protected by the file modes (as the cf CLI, gcloud and az do).
      - V(false) fetches a new token and stores nothing.
    type: bool
    default: true
  min_ttl:
    description:
      - A cached token is used only if it stays valid for at least this many seconds; otherwise a new one is fetched.
    type: int
    default: 300
"""
