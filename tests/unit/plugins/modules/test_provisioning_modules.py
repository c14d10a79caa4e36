# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import json

import pytest

requests = pytest.importorskip("requests")

from ansible.module_utils.testing import patch_module_args  # noqa: E402

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils import _module  # noqa: E402
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._http import HttpClient  # noqa: E402
from ansible_collections.sap_btp.cloud_integration.plugins.modules import service_instance, service_instance_info, service_key, service_key_info  # noqa: E402
from ansible_collections.sap_btp.cloud_integration.tests.unit.plugins.module_utils.cf_fake import API, FakeCf  # noqa: E402

SECRET = "a1b2c3d4-0000$S3cr3tValueForTests="
CONNECTION = {"cf_api": API, "cf_username": "user@example.com", "cf_password": "secret-pw", "org": "acme-org", "space": "dev"}


@pytest.fixture
def fake(monkeypatch, tmp_path):
    fake = FakeCf()
    monkeypatch.setenv("SAP_BTP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(_module.CloudIntegrationModule, "http", lambda self, **kw: HttpClient(session=fake, sleep=lambda s: None, redactor=self.redactor))
    return fake


def run(module, args, capsys, check_mode=False, diff=False):
    args = dict(CONNECTION, **args)
    if check_mode:
        args["_ansible_check_mode"] = True
    if diff:
        args["_ansible_diff"] = True
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module.main()
    out = capsys.readouterr().out
    return json.loads(out), out


def test_service_instance_module_check_real_idempotent_diff(fake, capsys):
    args = {"name": "orders", "plan": "integration-flow", "roles": ["ESBMessaging.send"]}
    result, dummy = run(service_instance, args, capsys, check_mode=True, diff=True)
    assert result["changed"] and result["diff"]["after"]["state"] == "present" and not fake.instances
    result, dummy = run(service_instance, args, capsys)
    assert result["changed"] and "diff" not in result and result["guid"]
    result, dummy = run(service_instance, args, capsys)
    assert not result["changed"]


def test_service_instance_validation_error_before_http(fake, capsys):
    result, dummy = run(service_instance, {"name": "mon", "plan": "api", "roles": ["MonitoringDataReed"]}, capsys)
    assert result["failed"] and result["msg"].startswith("roles: 'MonitoringDataReed' is not a role of plan 'api'; did you mean 'MonitoringDataRead'?")
    assert fake.calls == []


def test_service_instance_requires_plan(fake, capsys):
    result, dummy = run(service_instance, {"name": "x"}, capsys)
    assert result["failed"] and "plan" in result["msg"]


def test_service_key_module_masks_secrets(fake, capsys):
    fake.add_instance("orders")
    result, out = run(service_key, {"instance": "orders", "name": "k1"}, capsys, diff=True)
    assert result["changed"] and SECRET not in out and result["credentials"]["clientsecret"] == "********"
    assert result["secrets_returned"] is False and "sha256:" in result["diff"]["after"]["credential_sha256"]


def test_service_key_module_return_secrets(fake, capsys):
    fake.add_instance("orders")
    result, dummy = run(service_key, {"instance": "orders", "name": "k1", "return_secrets": True}, capsys)
    assert result["credentials"]["clientsecret"] == SECRET and result["raw"]["oauth"]["clientsecret"] == SECRET


def test_service_key_module_failure_message_without_secret(fake, capsys):
    fake.add_instance("orders")
    run(service_key, {"instance": "orders", "name": "k1"}, capsys)
    result, out = run(service_key, {"instance": "orders", "name": "k1", "key_type": "certificate"}, capsys)
    assert result["failed"] and "force: true" in result["msg"] and SECRET not in out


def test_info_modules(fake, capsys):
    inst = fake.add_instance("orders")
    fake.add_instance("other", plan_guid="plan-lite")
    fake.add_key("k1", inst["guid"])
    result, dummy = run(service_instance_info, {}, capsys)
    assert [i["name"] for i in result["service_instances"]] == ["orders"] and result["service_instances"][0]["plan"] == "integration-flow"
    result, dummy = run(service_instance_info, {"names": ["orders", "gone"]}, capsys)
    assert result["missing"] == ["gone"]
    result, out = run(service_key_info, {}, capsys)
    assert result["service_keys"][0]["key_type"] == "client_secret" and result["service_keys"][0]["credentials"] is None and SECRET not in out
    result, dummy = run(service_key_info, {"instance": "orders", "include_credentials": True}, capsys)
    assert result["service_keys"][0]["credentials"]["clientsecret"] == SECRET


def test_wait_for_needs_names(fake, capsys):
    result, dummy = run(service_instance_info, {"wait_for": "ready"}, capsys)
    assert result["failed"] and result["msg"].startswith("wait_for: needs names")


@pytest.fixture
def no_cf_env(monkeypatch):
    for name in ("CF_API", "CF_USERNAME", "CF_PASSWORD", "CF_PASSWORD_FILE", "CF_ORIGIN", "CF_CLIENT_ID", "CF_CLIENT_SECRET", "CF_TOKEN"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("through_env", [False, True])
def test_password_from_a_file(fake, capsys, tmp_path, monkeypatch, no_cf_env, through_env):
    """How the AWX credential type hands the password over: a file, named by CF_PASSWORD_FILE."""
    fake.add_instance("orders")
    path = tmp_path / "cf-password"
    path.write_text("secret-pw\n", encoding="utf-8")
    if through_env:
        monkeypatch.setenv("CF_PASSWORD_FILE", str(path))
        args = {"cf_password": None}
    else:
        args = {"cf_password": None, "cf_password_file": str(path)}
    result, out = run(service_instance_info, args, capsys)
    assert not result.get("failed"), result
    assert [i["name"] for i in result["service_instances"]] == ["orders"]
    assert fake.tokens == 1
    # a path is no secret: no no_log warning or deprecation for the option
    assert "cf_password_file" not in json.dumps(result.get("warnings", [])) + json.dumps(result.get("deprecations", []))


def test_password_file_errors_fail_before_any_request(fake, capsys, tmp_path, no_cf_env):
    missing = tmp_path / "missing"
    result, dummy = run(service_instance_info, {"cf_password": None, "cf_password_file": str(missing)}, capsys)
    assert result["failed"] and result["msg"] == "cf_password_file: the password file %s does not exist" % missing
    empty = tmp_path / "empty"
    empty.write_text("\n", encoding="utf-8")
    result, dummy = run(service_instance_info, {"cf_password": None, "cf_password_file": str(empty)}, capsys)
    assert result["failed"] and result["msg"] == "cf_password_file: the password file %s is empty" % empty
    result, dummy = run(service_instance_info, {"cf_password": None}, capsys)
    assert result["failed"] and result["msg"].startswith("cf_password: cf_username is set but no password")
    assert fake.calls == []
    # like cf_password, the file needs cf_username
    result, dummy = run(service_instance_info, {"cf_username": None, "cf_password": None, "cf_password_file": str(empty)}, capsys)
    assert result["failed"] and "cf_password_file" in result["msg"] and "cf_username" in result["msg"]


def test_cf_password_wins_over_the_password_file(fake, capsys, tmp_path, monkeypatch, no_cf_env):
    wrong = tmp_path / "wrong"
    wrong.write_text("wrong-pw-from-file\n", encoding="utf-8")
    monkeypatch.setenv("CF_PASSWORD_FILE", str(wrong))
    result, out = run(service_instance_info, {}, capsys)  # CONNECTION has cf_password
    assert not result.get("failed"), result
    assert fake.tokens == 1 and "wrong-pw-from-file" not in out
