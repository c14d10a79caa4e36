# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import json
import os
import stat

import pytest

from ansible.module_utils import basic
from ansible.module_utils.common.text.converters import to_bytes

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils import _credentials_store
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._vault import KvStore
from ansible_collections.sap_btp.cloud_integration.plugins.modules import credentials_store
from ansible_collections.sap_btp.cloud_integration.tests.unit.plugins.module_utils.credentials_keys import (
    CLIENT_SECRET, as_sap_json, certificate_key, pki, secret_key,
)

hvac_exceptions = pytest.importorskip("hvac.exceptions")
pytest.importorskip("cryptography")

PRIVATE_KEY_LINE = pki()[1].splitlines()[1]


def run(monkeypatch, capsys, args, check_mode=False, diff=True):
    payload = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)
    monkeypatch.setattr(basic, "_ANSIBLE_ARGS", to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": payload})))
    monkeypatch.setattr(basic, "_ANSIBLE_PROFILE", "legacy", raising=False)
    with pytest.raises(SystemExit):
        credentials_store.main()
    out = capsys.readouterr().out
    assert CLIENT_SECRET not in out and PRIVATE_KEY_LINE not in out  # never a secret in any result
    return json.loads(out)


def test_json_file_check_real_idempotent(monkeypatch, capsys, tmp_path):
    path = str(tmp_path / "k.json")
    args = {"content": as_sap_json(secret_key()), "path": path}
    result = run(monkeypatch, capsys, args, check_mode=True)
    assert result["changed"] and not os.path.exists(path)
    assert result["changed_fields"] == ["clientid", "clientsecret", "url", "tokenurl", "createdate"]
    assert result["diff"]["after"]["clientsecret"].startswith("sha256:")
    result = run(monkeypatch, capsys, args)
    assert result["changed"] and json.load(open(path)) == secret_key()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert result["key_type"] == "client_secret" and result["plan"] == "integration-flow"
    again = run(monkeypatch, capsys, args)
    assert again["changed"] is False and "diff" not in again
    assert again["fingerprint"] == result["fingerprint"]


def test_changed_secret_is_reported_as_fingerprint(monkeypatch, capsys, tmp_path):
    path = str(tmp_path / "k.json")
    run(monkeypatch, capsys, {"credentials": secret_key("first-secret-1234"), "path": path})
    result = run(monkeypatch, capsys, {"credentials": secret_key(), "path": path})
    assert result["changed_fields"] == ["clientsecret"]
    assert set(result["diff"]["before"]) == {"clientsecret"}
    assert "first-secret-1234" not in json.dumps(result)


def test_credentials_as_json_text_from_the_action_plugin(monkeypatch, capsys, tmp_path):
    # the action plugin hands dict credentials over as one JSON string (one no_log value, not one per field)
    path = str(tmp_path / "k.json")
    result = run(monkeypatch, capsys, {"credentials": json.dumps(secret_key()), "path": path})
    assert result["changed"] and result["plan"] == "integration-flow" and result["key_type"] == "client_secret"
    assert json.load(open(path)) == secret_key()


def test_registered_service_key_result_is_accepted(monkeypatch, capsys, tmp_path):
    registered = {"changed": True, "raw": secret_key(), "credentials": {"clientid": "x"}, "name": "k"}
    path = str(tmp_path / "k.yml")
    result = run(monkeypatch, capsys, {"credentials": registered, "path": path, "format": "yaml"})
    assert result["changed"]
    assert "clientsecret: 0a1b2c3d" in open(path).read()


def test_src_file_and_pem_pair(monkeypatch, capsys, tmp_path):
    src = tmp_path / "key.json"
    src.write_text(as_sap_json(certificate_key()))
    args = {"src": str(src), "path": str(tmp_path / "client.pem"), "format": "pem", "mode": "0640"}
    result = run(monkeypatch, capsys, args)
    assert result["paths"] == [str(tmp_path / "client.pem"), str(tmp_path / "client.key")]
    assert open(tmp_path / "client.key").read() == pki()[1]
    assert stat.S_IMODE(os.stat(tmp_path / "client.key").st_mode) == 0o640
    assert run(monkeypatch, capsys, args)["changed"] is False
    removed = run(monkeypatch, capsys, dict(args, state="absent"))
    assert removed["changed"] and not os.path.exists(tmp_path / "client.pem") and not os.path.exists(tmp_path / "client.key")
    assert run(monkeypatch, capsys, dict(args, state="absent"))["changed"] is False


def test_mode_change_only(monkeypatch, capsys, tmp_path):
    path = str(tmp_path / "k.json")
    run(monkeypatch, capsys, {"credentials": secret_key(), "path": path})
    result = run(monkeypatch, capsys, {"credentials": secret_key(), "path": path, "mode": "0400"})
    assert result["changed"] and result["changed_fields"] == []
    assert result["diff"]["before"]["mode"] == "0600" and result["diff"]["after"]["mode"] == "0400"


@pytest.mark.parametrize("args, message", [
    ({"content": "{\"oauth\": {\"clientid\": "}, "not valid JSON"),
    ({"content": json.dumps(secret_key()["oauth"])}, "no 'oauth' block"),
    ({"credentials": secret_key(), "format": "pem"}, "client-secret key"),
    ({"credentials": secret_key(), "format": "pkcs12", "pkcs12_password": "pw"}, "client-secret key"),
    ({"credentials": certificate_key(), "format": "pkcs12"}, "pkcs12_password"),
    ({"credentials": secret_key(), "destination": "ansible_vault"}, "action plugin"),
    ({"credentials": secret_key(), "destination": "ansible_vault", "format": "pem"}, "Ansible Vault file holds one text document"),
    ({"credentials": secret_key(), "destination": "hashicorp_vault", "format": "env", "token": "tok-123456", "url": "http://v"}, "format applies"),
    ({"src": "/nonexistent/key.json"}, "does not exist"),
])
def test_bad_input_fails_and_touches_nothing(monkeypatch, capsys, tmp_path, args, message):
    path = tmp_path / "out.json"
    result = run(monkeypatch, capsys, dict(args, path=str(path)))
    assert result["failed"] and message in result["msg"], result["msg"]
    assert os.listdir(tmp_path) == []


def test_unwritable_path(monkeypatch, capsys, tmp_path):
    result = run(monkeypatch, capsys, {"credentials": secret_key(), "path": str(tmp_path / "missing" / "k.json")})
    assert result["failed"] and "does not exist" in result["msg"]
    result = run(monkeypatch, capsys, {"credentials": secret_key(), "path": "/proc/sap_btp_k.json"})
    assert result["failed"] and result["msg"].startswith("path: cannot create a file in /proc")


@pytest.mark.parametrize("fmt", ["json", "pem"])
def test_check_mode_predicts_a_file_in_a_directory_not_created_yet(monkeypatch, capsys, tmp_path, fmt):
    # onboarding --check: the task that creates the directory did not run, so check mode predicts instead of failing
    from ansible_collections.sap_btp.cloud_integration.plugins.module_utils import _module

    warnings = []
    monkeypatch.setattr(_module.CloudIntegrationModule, "warn", lambda self, text: warnings.append(text))
    path = tmp_path / "not-yet" / ("k." + fmt)
    key = secret_key() if fmt == "json" else certificate_key()
    result = run(monkeypatch, capsys, {"credentials": key, "path": str(path), "format": fmt}, check_mode=True)
    assert not result.get("failed") and result["changed"] is True, result
    assert any("does not exist yet" in text and str(path.parent) in text for text in warnings), warnings
    assert not path.parent.exists()
    # the real run still fails, naming the option, and creates nothing
    result = run(monkeypatch, capsys, {"credentials": key, "path": str(path), "format": fmt})
    assert result["failed"] and result["msg"] == "path: the directory %s does not exist" % path.parent
    assert not path.parent.exists()


class MemoryKv:
    """An in-memory KV v2 mount with versions, soft delete and cas, behind the hvac method names."""

    def __init__(self):
        self.versions = {}
        self.deleted = {}

    def read_secret_version(self, path, mount_point, raise_on_deleted_version):
        if path not in self.versions:
            raise hvac_exceptions.InvalidPath(None)
        number = len(self.versions[path])
        deleted = self.deleted.get(path) == number
        return {"data": {"data": None if deleted else dict(self.versions[path][-1]),
                         "metadata": {"version": number, "deletion_time": "t" if deleted else "", "destroyed": False}}}

    def create_or_update_secret(self, path, secret, mount_point, cas=None):
        current = len(self.versions.get(path, []))
        if cas is not None and cas != current:
            raise hvac_exceptions.InvalidRequest("check-and-set parameter did not match the current version")
        self.versions.setdefault(path, []).append(dict(secret))
        return {"data": {"version": current + 1}}

    def delete_latest_version_of_secret(self, path, mount_point):
        self.deleted[path] = len(self.versions[path])

    def delete_metadata_and_all_versions(self, path, mount_point):
        self.versions.pop(path, None)
        self.deleted.pop(path, None)


@pytest.fixture
def memory_kv(monkeypatch):
    kv = MemoryKv()

    class Client:
        def __init__(self, **kwargs):
            self.secrets = type("S", (), {"kv": type("K", (), {"v2": kv})()})()

    original = KvStore.from_params.__func__

    def from_params(cls, params, redactor=None):
        kv_store = original(cls, params, redactor=redactor)
        kv_store._client_factory = Client
        return kv_store

    monkeypatch.setattr(_credentials_store.KvStore, "from_params", classmethod(from_params))
    return kv


def test_kv_check_real_idempotent_merge_and_delete(monkeypatch, capsys, memory_kv):
    memory_kv.versions["cpi/dev"] = [{"owner": "team-a", "clientsecret": "stale-secret-999"}]
    args = {"destination": "hashicorp_vault", "url": "http://127.0.0.1:1", "token": "tok-123456", "path": "cpi/dev",
            "credentials": certificate_key()}
    result = run(monkeypatch, capsys, args, check_mode=True)
    assert result["changed"] and len(memory_kv.versions["cpi/dev"]) == 1
    result = run(monkeypatch, capsys, args)
    assert result["changed"] and result["version"] == 2 and result["kv_path"] == "secret/cpi/dev"
    stored = memory_kv.versions["cpi/dev"][-1]
    assert stored["owner"] == "team-a" and "clientsecret" not in stored and stored["key"] == pki()[1]
    assert "stale-secret-999" not in json.dumps(result)
    assert run(monkeypatch, capsys, args)["changed"] is False
    replaced = run(monkeypatch, capsys, dict(args, replace=True))
    assert replaced["changed"] and replaced["changed_fields"] == ["owner"] and "owner" not in memory_kv.versions["cpi/dev"][-1]
    deleted = run(monkeypatch, capsys, dict(args, state="absent"))
    assert deleted["changed"] and memory_kv.deleted["cpi/dev"] == 3
    assert run(monkeypatch, capsys, dict(args, state="absent"))["changed"] is False
    destroyed = run(monkeypatch, capsys, dict(args, state="absent", destroy=True))
    assert destroyed["changed"] and "cpi/dev" not in memory_kv.versions
    assert run(monkeypatch, capsys, dict(args, state="absent", destroy=True))["changed"] is False


def test_kv_cas(monkeypatch, capsys, memory_kv):
    args = {"destination": "hashicorp_vault", "url": "http://v", "token": "tok-123456", "path": "cpi/dev", "credentials": secret_key()}
    result = run(monkeypatch, capsys, dict(args, cas=1), check_mode=True)
    assert result["failed"] and "current version is 0 but cas is 1" in result["msg"]
    result = run(monkeypatch, capsys, dict(args, cas=1))
    assert result["failed"] and "cpi/dev" not in memory_kv.versions
    assert run(monkeypatch, capsys, dict(args, cas=0))["version"] == 1
    assert run(monkeypatch, capsys, dict(args, cas=0))["changed"] is False  # unchanged: cas not checked
    result = run(monkeypatch, capsys, dict(args, cas=0, credentials=secret_key("rotated-secret-5678")))
    assert result["failed"] and "check-and-set" in result["msg"] and len(memory_kv.versions["cpi/dev"]) == 1
    assert "rotated-secret-5678" not in json.dumps(result)


def test_kv_unreachable_and_sealed(monkeypatch, capsys):
    args = {"destination": "hashicorp_vault", "url": "http://127.0.0.1:9", "token": "tok-123456", "path": "cpi/dev", "credentials": secret_key(),
            "timeout": 2}
    result = run(monkeypatch, capsys, args)
    assert result["failed"] and "cannot reach the vault at http://127.0.0.1:9" in result["msg"]

    class Sealed:
        def __init__(self, **kwargs):
            kv = type("V", (), {"read_secret_version": _sealed_read})()
            self.secrets = type("S", (), {"kv": type("K", (), {"v2": kv})()})()

    original = KvStore.from_params.__func__
    monkeypatch.setattr(_credentials_store.KvStore, "from_params",
                        classmethod(lambda cls, params, redactor=None: _with_factory(original(cls, params, redactor), Sealed)))
    result = run(monkeypatch, capsys, args)
    assert result["failed"] and "sealed" in result["msg"]


def _sealed_read(*args, **kwargs):
    raise hvac_exceptions.VaultDown("Vault is sealed")


def _with_factory(kv_store, factory):
    kv_store._client_factory = factory
    return kv_store


# ---------------------------------------------------------------------------------------------------------------
# the destinations batch (issue 19)

def test_destinations_batch_check_real_idempotent(monkeypatch, capsys, tmp_path, memory_kv):
    items = [{"label": "orders", "credentials": secret_key(), "path": str(tmp_path / "orders.json")},
             {"label": "orders", "credentials": secret_key(), "path": str(tmp_path / "orders.env"), "format": "env"},
             {"label": "ship", "credentials": certificate_key(), "destination": "hashicorp_vault", "path": "cpi/ship"}]
    args = {"destinations": items, "url": "http://127.0.0.1:1", "token": "tok-123456", "concurrency": 2}
    result = run(monkeypatch, capsys, args, check_mode=True)
    assert result["changed"] and not os.path.exists(items[0]["path"]) and "cpi/ship" not in memory_kv.versions
    assert [item["label"] for item in result["destinations"]] == ["orders", "orders", "ship"]
    assert len(result["diff"]) == 3
    result = run(monkeypatch, capsys, args)
    assert [item["changed"] for item in result["destinations"]] == [True, True, True]
    assert json.load(open(items[0]["path"])) == secret_key()
    assert "CPI_CLIENT_SECRET=" in open(items[1]["path"]).read()
    assert result["destinations"][2]["kv_path"] == "secret/cpi/ship" and memory_kv.versions["cpi/ship"][-1]["key"] == pki()[1]
    again = run(monkeypatch, capsys, args)
    assert again["changed"] is False and not any(item["changed"] for item in again["destinations"])


def test_destinations_batch_reports_a_failed_item_and_writes_the_others(monkeypatch, capsys, tmp_path):
    good = str(tmp_path / "good.json")
    items = [{"label": "good", "credentials": secret_key(), "path": good},
             {"label": "down", "credentials": secret_key(), "destination": "hashicorp_vault", "path": "cpi/down",
              "url": "http://127.0.0.1:9", "token": "tok-123456"}]
    result = run(monkeypatch, capsys, {"destinations": items, "timeout": 2})
    assert result["failed"] and result["msg"].startswith("1 of 2 destinations failed: down: ")
    assert "cannot reach the vault at http://127.0.0.1:9" in result["msg"]
    assert json.load(open(good)) == secret_key() and result["destinations"][0]["changed"]
    failed = result["destinations"][1]
    assert failed == {"label": "down", "name": None, "destination": "hashicorp_vault", "path": "cpi/down", "failed": True, "changed": False,
                      "msg": failed["msg"]}


@pytest.mark.parametrize("item, message", [
    ({"label": "bad", "credentials": "{}", "content": "{}"}, "destinations[1] 'bad': content: parameters are mutually exclusive"),
    ({"label": "bad", "credentials": "{}", "destination": "hashicorp_vault", "format": "env"},
     "destinations[1] 'bad': format: a KV secret stores the fields of the key"),
    ({"label": "bad", "credentials": "{}", "destination": "hashicorp_vault", "auth_method": "approle", "role_id": "r"},
     "destinations[1] 'bad': secret_id: auth_method is approle but secret_id is missing"),
])
def test_destinations_batch_validates_every_item_first(monkeypatch, capsys, tmp_path, item, message):
    first = str(tmp_path / "first.json")
    items = [{"label": "first", "credentials": secret_key(), "path": first}, dict(item, path=str(tmp_path / "second.json"))]
    result = run(monkeypatch, capsys, {"destinations": items})
    assert result["failed"] and message in result["msg"], result["msg"]
    assert not os.path.exists(first)  # nothing is written when one item is invalid


def test_destinations_and_path_are_exclusive(monkeypatch, capsys, tmp_path):
    result = run(monkeypatch, capsys, {"destinations": [], "path": str(tmp_path / "k.json"), "credentials": secret_key()})
    assert result["failed"] and "mutually exclusive" in result["msg"]
