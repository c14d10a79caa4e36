# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest

from ansible.parsing.dataloader import DataLoader
from ansible.parsing.vault import VaultSecret

from ansible_collections.sap_btp.cloud_integration.plugins.plugin_utils import _ansible_vault


def loader(*pairs):
    data_loader = DataLoader()
    data_loader.set_vault_secrets([(label, VaultSecret(password.encode())) for label, password in pairs])
    return data_loader


def test_encrypt_with_the_chosen_vault_id_and_decrypt():
    run = loader(("primary", "pw-one"), ("other", "pw-two"))
    text, label = _ansible_vault.encrypt(run, b"oauth: {}\n", "other")
    assert label == "other"
    assert text.startswith("$ANSIBLE_VAULT;1.2;AES256;other\n")
    assert _ansible_vault.encrypted(text)
    assert _ansible_vault.header_vault_id(text) == "other"
    plaintext, used = _ansible_vault.decrypt(run, text)
    assert plaintext == b"oauth: {}\n" and used == "other"


def test_default_identity_gives_a_1_1_header():
    run = loader(("default", "pw"))
    text, label = _ansible_vault.encrypt(run, b"x")
    assert label == "default" and text.startswith("$ANSIBLE_VAULT;1.1;AES256\n")
    assert _ansible_vault.header_vault_id(text) == "default"


def test_unknown_vault_id_and_no_secrets():
    with pytest.raises(_ansible_vault.VaultFileError, match="'nope' is not among the vault IDs of this run \\(primary\\)"):
        _ansible_vault.encrypt(loader(("primary", "pw")), b"x", "nope")
    with pytest.raises(_ansible_vault.VaultFileError, match="no Ansible Vault secrets"):
        _ansible_vault.encrypt(loader(), b"x")


def test_decrypt_with_the_wrong_secret():
    text, dummy = _ansible_vault.encrypt(loader(("a", "pw-a")), b"x", "a")
    with pytest.raises(_ansible_vault.VaultFileError, match="cannot be decrypted"):
        _ansible_vault.decrypt(loader(("b", "pw-b")), text, filename="/f.yml")
    with pytest.raises(_ansible_vault.VaultFileError, match="has no vault secrets"):
        _ansible_vault.decrypt(loader(), text, filename="/f.yml")
    assert not _ansible_vault.encrypted(b"plain: text")
