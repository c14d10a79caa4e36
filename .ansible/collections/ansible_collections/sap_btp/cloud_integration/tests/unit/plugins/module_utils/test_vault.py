# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._errors import ApiError, ParameterError
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._redact import Redactor
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._vault import KvStore, plan_write, secret_path

hvac_exceptions = pytest.importorskip("hvac.exceptions")
requests_exceptions = pytest.importorskip("requests.exceptions")

TOKEN = "hvs.super-secret-token-value"


class FakeKv:
    """Records calls; each method returns or raises what the test configured."""

    def __init__(self, behaviour):
        self.behaviour = behaviour
        self.calls = []

    def _do(self, name, **kwargs):
        self.calls.append((name, kwargs))
        outcome = self.behaviour.get(name)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def read_secret_version(self, **kwargs):
        return self._do("read", **kwargs)

    def create_or_update_secret(self, **kwargs):
        return self._do("write", **kwargs)

    def delete_latest_version_of_secret(self, **kwargs):
        return self._do("delete", **kwargs)

    def delete_metadata_and_all_versions(self, **kwargs):
        return self._do("destroy", **kwargs)


class FakeApprole:
    def __init__(self, outcome):
        self.outcome = outcome
        self.calls = []

    def login(self, **kwargs):
        self.calls.append(kwargs)
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


class FakeClient:
    def __init__(self, kv, approle=None, **kwargs):
        self.kwargs = kwargs
        self.token = kwargs.get("token")
        self.secrets = type("S", (), {"kv": type("K", (), {"v2": kv})()})()
        self.auth = type("A", (), {"approle": approle})()


def store(behaviour=None, approle=None, **kwargs):
    kv = FakeKv(behaviour or {})
    clients = []

    def factory(**client_kwargs):
        client = FakeClient(kv, approle=approle, **client_kwargs)
        clients.append(client)
        return client

    options = dict(url="https://vault.example.com:8200", token=TOKEN, redactor=Redactor())
    options.update(kwargs)
    kv_store = KvStore(client_factory=factory, **options)
    return kv_store, kv, clients


def version(data, number=3, deleted=False):
    return {"data": {"data": data, "metadata": {"version": number, "deletion_time": "2026-01-01T00:00:00Z" if deleted else "", "destroyed": False}}}


def test_plan_write_keeps_foreign_keys_and_drops_stale_key_fields():
    current = {"owner": "team-a", "clientsecret": "old", "clientid": "c"}
    assert plan_write(current, {"clientid": "c", "certificate": "PEM"}) == {"owner": "team-a", "clientid": "c", "certificate": "PEM"}
    assert plan_write(current, {"clientid": "c"}, replace=True) == {"clientid": "c"}
    assert plan_write(None, {"clientid": "c"}) == {"clientid": "c"}


def test_secret_path():
    assert secret_path("/cpi/dev/") == "cpi/dev"
    with pytest.raises(ParameterError, match="path"):
        secret_path(" / ")


def test_options_are_validated_before_any_request():
    with pytest.raises(ParameterError, match="VAULT_ADDR"):
        KvStore(None, token="t")
    with pytest.raises(ParameterError, match="VAULT_TOKEN"):
        KvStore("https://v", token=None)
    with pytest.raises(ParameterError, match="role_id and secret_id"):
        KvStore("https://v", auth_method="approle", role_id="r")


def test_read_states():
    kv_store, kv, clients = store({"read": version({"clientid": "c"}, number=4)})
    state = kv_store.read("cpi/dev")
    assert state.data == {"clientid": "c"} and state.version == 4 and state.exists
    assert kv.calls[0] == ("read", {"path": "cpi/dev", "mount_point": "secret", "raise_on_deleted_version": False})
    assert clients[0].kwargs["token"] == TOKEN and clients[0].kwargs["verify"] is True

    kv_store, dummy, dummy2 = store({"read": version(None, number=5, deleted=True)})
    state = kv_store.read("cpi/dev")
    assert state.data is None and state.deleted and state.version == 5

    kv_store, dummy, dummy2 = store({"read": hvac_exceptions.InvalidPath(None)})
    state = kv_store.read("cpi/dev")
    assert state.data is None and not state.exists and state.version == 0


def test_tls_options_reach_the_client():
    kv_store, dummy, clients = store({"read": version({})}, ca_path="/ca.pem", namespace="team", timeout=7)
    kv_store.read("x")
    assert clients[0].kwargs == {"url": "https://vault.example.com:8200", "token": TOKEN, "namespace": "team", "verify": "/ca.pem", "timeout": 7}
    kv_store, dummy, clients = store({"read": version({})}, validate_certs=False)
    kv_store.read("x")
    assert clients[0].kwargs["verify"] is False


@pytest.mark.parametrize("error, expected", [
    (hvac_exceptions.VaultDown("Vault is sealed"), "sealed or unavailable"),
    (requests_exceptions.ConnectionError("refused"), "cannot reach the vault"),
    (hvac_exceptions.Forbidden("permission denied"), "permission denied"),
    (hvac_exceptions.Unauthorized("bad token"), "rejected the credentials"),
    (hvac_exceptions.InvalidPath('no handler for route "nomount/data/x"'), "no secrets engine mounted at 'secret'"),
])
def test_errors_are_actionable(error, expected):
    kv_store, dummy, dummy2 = store({"read": error})
    with pytest.raises(ApiError, match=expected) as info:
        kv_store.read("cpi/dev")
    assert TOKEN not in str(info.value)


def test_cas_mismatch_from_the_server():
    error = hvac_exceptions.InvalidRequest("check-and-set parameter did not match the current version, on post https://v/v1/secret/data/x")
    kv_store, kv, dummy = store({"write": error})
    with pytest.raises(ApiError, match="check-and-set") as info:
        kv_store.write("x", {"a": 1}, cas=2)
    assert info.value.code == "cas_mismatch"
    assert kv.calls[0][1]["cas"] == 2


def test_write_delete_destroy():
    kv_store, kv, dummy = store({"write": {"data": {"version": 7}}})
    assert kv_store.write("x", {"a": "1"}) == 7
    assert "cas" not in kv.calls[0][1]
    kv_store.delete_latest("x")
    kv_store.destroy("x")
    assert [call[0] for call in kv.calls] == ["write", "delete", "destroy"]


def test_approle_login_sets_the_token_and_registers_it():
    approle = FakeApprole({"auth": {"client_token": "hvs.approle-issued-token"}})
    kv_store, dummy, clients = store({"read": version({})}, approle=approle, auth_method="approle", token=None, role_id="r-id",
                                     secret_id="s-id-secret", approle_mount="ar")
    kv_store.read("x")
    assert approle.calls == [{"role_id": "r-id", "secret_id": "s-id-secret", "mount_point": "ar"}]
    assert clients[0].token == "hvs.approle-issued-token"
    assert kv_store.redactor.scrub("hvs.approle-issued-token s-id-secret") == "******** ********"


def test_approle_login_failure():
    approle = FakeApprole(hvac_exceptions.InvalidRequest("invalid role or secret ID"))
    kv_store, dummy, dummy2 = store({}, approle=approle, auth_method="approle", token=None, role_id="r", secret_id="s-secret")
    with pytest.raises(ApiError, match="AppRole login failed.*invalid role or secret ID"):
        kv_store.read("x")
