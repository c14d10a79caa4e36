# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. Ansible Vault encryption and decryption with the vault secrets of the run.

Shared by the credentials_store action plugin (encrypt, decrypt-and-compare) and the credentials lookup (decrypt).
Only controller-side plugins can use it: modules never see the vault secrets.
"""

from __future__ import annotations

from ansible import constants as C
from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.parsing.vault import VaultLib, is_encrypted, match_encrypt_secret, parse_vaulttext_envelope


class VaultFileError(Exception):
    """Ansible Vault content cannot be encrypted or decrypted with the run's secrets."""


HOW_TO_PASS_SECRETS = "pass them with --vault-id LABEL@SOURCE, --vault-password-file or --ask-vault-pass"


def run_secrets(loader):
    """The (vault_id, secret) pairs of the run."""
    vault = getattr(loader, "_vault", None)
    return list(getattr(vault, "secrets", None) or [])


def encrypt_identity(loader, vault_id=None):
    """(vault_id, secret) to encrypt with: the requested vault id, the configured encrypt identity, or the only/best one."""
    secrets = run_secrets(loader)
    if not secrets:
        raise VaultFileError("this run has no Ansible Vault secrets to encrypt with; %s" % HOW_TO_PASS_SECRETS)
    wanted = vault_id or C.DEFAULT_VAULT_ENCRYPT_IDENTITY
    try:
        found = match_encrypt_secret(secrets, wanted)
    except AnsibleError:
        found = None
    if not found or found[1] is None:
        available = ", ".join(sorted({label for label, dummy in secrets}))
        raise VaultFileError("vault_id '%s' is not among the vault IDs of this run (%s); %s" % (wanted, available, HOW_TO_PASS_SECRETS))
    return found[0], found[1]


def encrypt(loader, plaintext, vault_id=None):
    """Encrypt bytes; returns (vault text as str, vault id used)."""
    label, secret = encrypt_identity(loader, vault_id)
    ciphertext = VaultLib().encrypt(to_bytes(plaintext), secret, vault_id=label)
    return to_text(ciphertext), label


def encrypted(data):
    """True when data (bytes or str) is Ansible Vault text."""
    return data is not None and is_encrypted(to_bytes(data))


def header_vault_id(data):
    """The vault id label of the header (``default`` for a 1.1 header)."""
    dummy, dummy, dummy, label = parse_vaulttext_envelope(to_bytes(data).strip())
    return label or C.DEFAULT_VAULT_IDENTITY


def decrypt(loader, data, filename=None):
    """Decrypt vault text with the run's secrets; returns (plaintext bytes, vault id that decrypted it)."""
    secrets = run_secrets(loader)
    if not secrets:
        raise VaultFileError("%s is encrypted with Ansible Vault, but this run has no vault secrets; %s" % (filename or "the content", HOW_TO_PASS_SECRETS))
    try:
        plaintext, label, dummy = VaultLib(secrets).decrypt_and_get_vault_id(to_bytes(data).strip())
    except AnsibleError as exc:
        reason = to_text(exc).splitlines()[0]
        raise VaultFileError("%s cannot be decrypted with the vault secrets of this run (%s)" % (filename or "the content", reason)) from None
    return plaintext, label or header_vault_id(data)
