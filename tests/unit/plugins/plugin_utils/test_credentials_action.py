# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller side of ``stored``: key files are read (and Ansible Vault files decrypted) before the module runs."""
from __future__ import annotations

import json

import pytest

from ansible.parsing.dataloader import DataLoader
from ansible.parsing.vault import VaultSecret

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils import _formats
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._service_key import parse_raw_service_key
from ansible_collections.sap_btp.cloud_integration.plugins.plugin_utils import _ansible_vault
from ansible_collections.sap_btp.cloud_integration.plugins.plugin_utils._credentials_action import StoredKeyError, module_args
from ansible_collections.sap_btp.cloud_integration.tests.unit.plugins.module_utils.credentials_keys import CLIENT_SECRET, secret_key

pytest.importorskip("cryptography")


@pytest.fixture
def loader():
    data_loader = DataLoader()
    data_loader.set_vault_secrets([("primary", VaultSecret(b"pw-primary"))])
    return data_loader


def vault_file(loader, tmp_path):
    raw, dummy = parse_raw_service_key(secret_key())
    text, dummy = _ansible_vault.encrypt(loader, _formats.render_yaml(raw), "primary")
    path = tmp_path / "orders.vault.yml"
    path.write_text(text)
    return path


def test_ansible_vault_file_is_decrypted_on_the_controller(loader, tmp_path):
    path = vault_file(loader, tmp_path)
    args = {"stored": {"source": "ansible_vault", "path": str(path)}, "path": "/orders"}
    result = module_args(loader, args)
    assert result["_stored_key"]["oauth"]["clientsecret"] == CLIENT_SECRET
    assert result["path"] == "/orders" and "_stored_key" not in args  # the task's own args are not changed
    # source file decrypts a vault file transparently, as the credentials lookup does
    assert module_args(loader, {"stored": {"path": str(path)}})["_stored_key"]["oauth"]["clientsecret"] == CLIENT_SECRET


def test_plain_file_and_kv(loader, tmp_path):
    path = tmp_path / "orders.json"
    path.write_text(json.dumps(secret_key()))
    assert module_args(loader, {"stored": {"source": "file", "path": str(path), "format": "json"}})["_stored_key"] == secret_key()
    kv = {"stored": {"source": "hashicorp_vault", "path": "cpi/orders"}}
    assert module_args(loader, kv) is kv  # read by the module
    assert module_args(loader, {"service_key_path": str(path)}) == {"service_key_path": str(path)}


def test_errors_name_the_option_and_hold_no_secret(loader, tmp_path):
    path = vault_file(loader, tmp_path)
    other = DataLoader()
    other.set_vault_secrets([("other", VaultSecret(b"wrong"))])
    with pytest.raises(StoredKeyError, match=r"^stored: .*cannot be decrypted with the vault secrets of this run"):
        module_args(other, {"stored": {"source": "ansible_vault", "path": str(path)}})
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps(secret_key()))
    with pytest.raises(StoredKeyError) as info:
        module_args(loader, {"stored": {"source": "ansible_vault", "path": str(plain)}})
    assert str(info.value).startswith("stored: ") and "is not encrypted with Ansible Vault" in str(info.value)
    assert CLIENT_SECRET not in str(info.value)
    with pytest.raises(StoredKeyError, match=r"^stored: the file .*missing.json does not exist"):
        module_args(loader, {"stored": {"path": str(tmp_path / "missing.json")}})
