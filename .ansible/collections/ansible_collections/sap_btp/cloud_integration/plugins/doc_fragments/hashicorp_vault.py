# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    """HashiCorp Vault / OpenBao KV v2 connection options (declared in module_utils/_vault.py vault_argument_spec())."""

    DOCUMENTATION = r"""
options:
  url:
    description:
      - Address of the HashiCorp Vault or OpenBao server, for example V(https://vault.example.com:8200).
      - If not set, E(VAULT_ADDR) is used, then E(BAO_ADDR).
      - TLS is verified with O(validate_certs) and O(ca_path).
    type: str
  auth_method:
    description:
      - How to authenticate. V(token) uses O(token); V(approle) logs in with O(role_id) and O(secret_id).
    type: str
    choices: [token, approle]
    default: token
  token:
    description:
      - Vault token for O(auth_method=token). If not set, E(VAULT_TOKEN) is used, then E(BAO_TOKEN).
    type: str
  role_id:
    description:
      - AppRole role ID for O(auth_method=approle).
    type: str
  secret_id:
    description:
      - AppRole secret ID for O(auth_method=approle).
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
      - Vault Enterprise or OpenBao namespace. If not set, E(VAULT_NAMESPACE) is used, then E(BAO_NAMESPACE).
    type: str
requirements:
  - hvac >= 1.0 (for the HashiCorp Vault / OpenBao destination or source)
"""

    PLUGIN = r"""
options:
  url:
    description:
      - Address of the HashiCorp Vault or OpenBao server.
    type: str
    env:
      - name: VAULT_ADDR
      - name: BAO_ADDR
    vars:
      - name: sap_btp_vault_url
  auth_method:
    description:
      - How to authenticate. V(token) uses O(token); V(approle) logs in with O(role_id) and O(secret_id).
    type: str
    choices: [token, approle]
    default: token
  token:
    description:
      - Vault token for O(auth_method=token).
    type: str
    env:
      - name: VAULT_TOKEN
      - name: BAO_TOKEN
    vars:
      - name: sap_btp_vault_token
  role_id:
    description:
      - AppRole role ID for O(auth_method=approle).
    type: str
  secret_id:
    description:
      - AppRole secret ID for O(auth_method=approle).
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
      - Vault Enterprise or OpenBao namespace.
    type: str
    env:
      - name: VAULT_NAMESPACE
      - name: BAO_NAMESPACE
  validate_certs:
    description:
      - Verify the TLS certificate of the vault.
    type: bool
    default: true
  ca_path:
    description:
      - Path to a PEM bundle of CA certificates used to verify the vault.
    type: path
  timeout:
    description:
      - Seconds to wait for the vault to connect and to answer.
    type: int
    default: 30
requirements:
  - hvac >= 1.0 (to read from HashiCorp Vault / OpenBao)
"""
