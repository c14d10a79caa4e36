# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import json

import pytest

from ansible.errors import AnsibleLookupError
from ansible.parsing.dataloader import DataLoader
from ansible.parsing.vault import VaultSecret
from ansible.plugins.loader import lookup_loader

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils import _formats
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._service_key import parse_raw_service_key
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._vault import KvStore
from ansible_collections.sap_btp.cloud_integration.plugins.plugin_utils import _ansible_vault
from ansible_collections.sap_btp.cloud_integration.tests.unit.plugins.module_utils.credentials_keys import (
    CLIENT_SECRET, certificate_key, pki, secret_key,
)

pytest.importorskip("cryptography")


@pytest.fixture
def lookup():
    data_loader = DataLoader()
    data_loader.set_vault_secrets([("primary", VaultSecret(b"pw-primary"))])
    return lookup_loader.get("sap_btp.cloud_integration.credentials", loader=data_loader, templar=None)


def write(tmp_path, name, fmt, key, **options):
    raw, creds = parse_raw_service_key(key)
    path = tmp_path / name
    path.write_bytes(_formats.render(fmt, raw, creds, str(path), options)[0]["content"])
    return str(path)


@pytest.mark.parametrize("fmt", ["json", "yaml", "env", "postman"])
def test_reads_every_text_format(lookup, tmp_path, fmt):
    path = write(tmp_path, "k." + fmt, fmt, secret_key())
    [creds] = lookup.run([path], {})
    assert creds["clientsecret"] == CLIENT_SECRET
    assert creds["plan"] == "integration-flow" and creds["key_type"] == "client_secret"


def test_reads_an_ansible_vault_file_and_returns_raw(lookup, tmp_path):
    raw, creds = parse_raw_service_key(certificate_key())
    text, dummy = _ansible_vault.encrypt(lookup._loader, _formats.render_yaml(raw), "primary")
    path = tmp_path / "k.vault.yml"
    path.write_text(text)
    [read] = lookup.run([str(path)], {}, source="ansible_vault")
    assert read["key"] == pki()[1] and read["certificate_details"]["subject"] == "CN=client-0"
    [raw_back] = lookup.run([str(path)], {}, raw=True)
    assert raw_back == certificate_key()


def test_errors_are_clear_and_scrubbed(lookup, tmp_path):
    plain = write(tmp_path, "k.json", "json", secret_key())
    with pytest.raises(AnsibleLookupError, match="not encrypted with Ansible Vault"):
        lookup.run([plain], {}, source="ansible_vault")
    with pytest.raises(AnsibleLookupError, match="does not exist"):
        lookup.run([str(tmp_path / "missing.json")], {})
    (tmp_path / "bare.json").write_text(json.dumps(secret_key()["oauth"]))
    with pytest.raises(AnsibleLookupError, match="no 'oauth' block") as info:
        lookup.run([str(tmp_path / "bare.json")], {})
    assert CLIENT_SECRET not in str(info.value)
    (tmp_path / "bin.p12").write_bytes(b"\x30\x82\xff\xfe")
    with pytest.raises(AnsibleLookupError, match="not a text file"):
        lookup.run([str(tmp_path / "bin.p12")], {})


def test_reads_a_kv_secret(lookup, monkeypatch):
    data = dict(secret_key()["oauth"], owner="team-a")

    class Kv:
        def read_secret_version(self, path, mount_point, raise_on_deleted_version):
            assert (path, mount_point) == ("cpi/dev", "kv")
            return {"data": {"data": data, "metadata": {"version": 2, "deletion_time": "", "destroyed": False}}}

    class Client:
        def __init__(self, **kwargs):
            self.secrets = type("S", (), {"kv": type("K", (), {"v2": Kv()})()})()

    original = KvStore.from_params.__func__
    monkeypatch.setattr(KvStore, "from_params", classmethod(lambda cls, params, redactor=None: _factory(original(cls, params, redactor), Client)))
    [creds] = lookup.run(["cpi/dev"], {}, source="hashicorp_vault", url="http://v", token="tok-123456", mount="kv")
    assert creds["clientsecret"] == CLIENT_SECRET and "owner" not in creds


def _factory(kv_store, client):
    kv_store._client_factory = client
    return kv_store


def test_check_reports_each_term_without_secrets_and_never_fails(lookup, tmp_path):
    good = write(tmp_path, "k.json", "json", secret_key())
    (tmp_path / "bare.json").write_text(json.dumps(secret_key()["oauth"]))
    results = lookup.run([good, str(tmp_path / "missing.json"), str(tmp_path / "bare.json")], {}, check=True)
    assert results[0] == {"readable": True}
    assert results[1]["readable"] is False and "does not exist" in results[1]["error"]
    assert results[2]["readable"] is False and "no 'oauth' block" in results[2]["error"]
    assert CLIENT_SECRET not in json.dumps(results)
    # a source that cannot be used at all is reported per term as well
    [vault] = lookup.run(["secret/x"], {}, check=True, source="hashicorp_vault", url="http://127.0.0.1:9", token="t", timeout=2)
    assert vault["readable"] is False and "127.0.0.1:9" in vault["error"]
