# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import json

import pytest

requests = pytest.importorskip("requests")


from ansible_collections.sap_btp.cloud_integration.plugins.modules import service_instance, service_instance_info, service_key, service_key_info  # noqa: E402
from ansible_collections.sap_btp.cloud_integration.tests.unit.plugins.module_utils.cf_fake import API, FakeCf, LockedFakeCf, broker_failure  # noqa: E402
from ansible_collections.sap_btp.cloud_integration.tests.unit.plugins.modules.module_harness import run_module, use_fake  # noqa: E402

SECRET = "a1b2c3d4-0000$S3cr3tValueForTests="


@pytest.fixture
def fake(monkeypatch, tmp_path):
    return use_fake(monkeypatch, tmp_path, FakeCf())


run = run_module


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


# ---- service_instance: batch mode (instances) ------------------------------------------------------------------------
@pytest.fixture
def batch_fake(monkeypatch, tmp_path):
    return use_fake(monkeypatch, tmp_path, LockedFakeCf())


BATCH_RAW = {"roles": ["ESBMessaging.send", "Partner.Orders"], "token-validity": 5400}


def batch_args(**extra):
    """Five instances: two inherit the task's plan and roles, one api instance with its own roles, one with raw parameters."""
    args = {"plan": "integration-flow", "roles": ["ESBMessaging.send"], "instances": [
        {"name": "b-iflow-1"},
        {"name": "b-iflow-2", "token_validity": 7200},
        {"name": "b-api", "plan": "api", "roles": ["MonitoringDataRead"]},
        {"name": "b-raw", "parameters": BATCH_RAW},
        {"name": "b-tagged", "tags": ["team-a"]},
    ]}
    args.update(extra)
    return args


def by_name(fake):
    return {inst["name"]: inst for inst in fake.instances.values()}


def test_batch_creates_all_with_one_login(batch_fake, capsys):
    fake = batch_fake
    fake.latency = 0.02
    result, dummy = run(service_instance, batch_args(), capsys)
    assert not result.get("failed"), result
    assert result["changed"]
    assert [item["name"] for item in result["instances"]] == ["b-iflow-1", "b-iflow-2", "b-api", "b-raw", "b-tagged"]
    assert all(item["changed"] and item["guid"] and item["state"] == "present" for item in result["instances"])
    assert "diff" not in result and all("diff" not in item for item in result["instances"])
    created = by_name(fake)
    assert sorted(created) == ["b-api", "b-iflow-1", "b-iflow-2", "b-raw", "b-tagged"]
    assert {item["name"]: item["guid"] for item in result["instances"]} == {name: inst["guid"] for name, inst in created.items()}
    # one login for all the items, and one lookup of the space and of the catalog
    assert fake.tokens == 1 and fake.count("POST", "/oauth/token") == 1
    assert fake.count("GET", "/v3/spaces") == 1 and fake.count("GET", "/v3/service_offerings") == 1
    assert fake.count("POST", "/v3/service_instances") == 5
    # the item options over the task options; parameters and roles exclusive
    assert created["b-iflow-1"]["parameters"]["roles"] == ["ESBMessaging.send"]
    assert created["b-iflow-1"]["parameters"]["token-validity"] == 3600
    assert created["b-iflow-2"]["parameters"]["token-validity"] == 7200
    assert created["b-api"]["relationships"]["service_plan"]["data"]["guid"] == "plan-api"
    assert created["b-api"]["parameters"]["roles"] == ["MonitoringDataRead"]
    assert created["b-raw"]["parameters"]["roles"] == BATCH_RAW["roles"] and created["b-raw"]["parameters"]["token-validity"] == 5400
    assert created["b-tagged"]["tags"] == ["team-a"] and created["b-iflow-1"]["tags"] == []
    api = result["instances"][2]
    assert api["plan"] == "api" and api["parameters"]["roles"] == ["MonitoringDataRead"] and api["parameters"]["token-validity"] == 43200


def test_batch_item_result_has_the_shape_of_a_single_result(batch_fake, capsys):
    single, dummy = run(service_instance, {"name": "solo", "plan": "integration-flow"}, capsys)
    batch, dummy = run(service_instance, {"plan": "integration-flow", "instances": [{"name": "in-batch"}]}, capsys)
    single_keys = set(single) - {"invocation", "warnings", "deprecations"}
    assert set(batch["instances"][0]) == single_keys
    assert set(batch) - {"invocation", "warnings", "deprecations"} == {"changed", "instances"}


def test_batch_idempotent(batch_fake, capsys):
    fake = batch_fake
    run(service_instance, batch_args(), capsys)
    posts, patches = fake.count("POST", "/v3/service_instances"), fake.count("PATCH")
    result, dummy = run(service_instance, batch_args(), capsys)
    assert not result.get("failed"), result
    assert not result["changed"] and not any(item["changed"] for item in result["instances"])
    assert fake.count("POST", "/v3/service_instances") == posts and fake.count("PATCH") == patches == 0
    assert len(fake.instances) == 5


def test_batch_check_mode_creates_nothing(batch_fake, capsys):
    fake = batch_fake
    result, dummy = run(service_instance, batch_args(), capsys, check_mode=True)
    assert not result.get("failed"), result
    assert result["changed"] and all(item["changed"] and item["guid"] is None for item in result["instances"])
    assert [item["name"] for item in result["instances"]] == ["b-iflow-1", "b-iflow-2", "b-api", "b-raw", "b-tagged"]
    assert fake.instances == {}
    assert fake.count("POST", "/v3/service_instances") == 0 and fake.count("PATCH") == 0 and fake.count("DELETE") == 0


def test_batch_only_the_changed_item_changes(batch_fake, capsys):
    fake = batch_fake
    run(service_instance, batch_args(), capsys)
    args = batch_args()
    args["instances"][1]["token_validity"] = 9000
    result, dummy = run(service_instance, args, capsys)
    assert not result.get("failed"), result
    assert result["changed"]
    assert [item["changed"] for item in result["instances"]] == [False, True, False, False, False]
    assert by_name(fake)["b-iflow-2"]["parameters"]["token-validity"] == 9000
    assert fake.count("PATCH") == 1


def test_batch_diff_mode_lists_one_diff_per_item(batch_fake, capsys):
    fake = batch_fake
    result, dummy = run(service_instance, batch_args(), capsys, check_mode=True, diff=True)
    assert isinstance(result["diff"], list) and len(result["diff"]) == 5
    assert [diff["after"]["name"] for diff in result["diff"]] == ["b-iflow-1", "b-iflow-2", "b-api", "b-raw", "b-tagged"]
    assert all(diff["before"] == {"state": "absent"} and diff["after"]["state"] == "present" for diff in result["diff"])
    assert result["diff"][2]["after"]["plan"] == "api" and result["diff"][3]["after"]["parameters"]["token-validity"] == 5400
    assert all("diff" not in item for item in result["instances"])
    assert fake.instances == {}
    run(service_instance, batch_args(), capsys)
    args = batch_args(state="absent")
    result, dummy = run(service_instance, args, capsys, diff=True)
    assert [diff["before"]["state"] for diff in result["diff"]] == ["present"] * 5
    assert [diff["after"] for diff in result["diff"]] == [{"state": "absent"}] * 5


def test_batch_invalid_item_fails_before_any_request(batch_fake, capsys):
    fake = batch_fake
    args = batch_args()
    args["instances"][3] = {"name": "b-bad", "plan": "iflow"}
    result, dummy = run(service_instance, args, capsys)
    assert result["failed"] and not result["changed"]
    assert result["msg"].startswith("instances[3] 'b-bad': plan: 'iflow' is not a plan of it-rt"), result["msg"]
    assert fake.calls == [] and fake.instances == {}


@pytest.mark.parametrize("bad_item, expect", [
    ({"name": "b-bad", "plan": "api"}, "instances[1] 'b-bad': roles: 'ESBMessaging.send' is not a role of plan 'api'"),
    ({"name": "b-bad", "plan": "api", "roles": ["MonitoringDataReed"]},
     "instances[1] 'b-bad': roles: 'MonitoringDataReed' is not a role of plan 'api'; did you mean 'MonitoringDataRead'? Valid roles"),
    ({"name": "b-bad", "token_validity": 3599}, "instances[1] 'b-bad': token_validity: must be between 3600 and 86400 seconds"),
    ({"name": "b-bad", "parameters": {"roles": ["ESBMessaging.send"], "scopes": ["x"]}},
     "instances[1] 'b-bad': parameters: unknown it-rt parameter(s) 'scopes'"),
    ({"name": "b-1"}, "instances[1] 'b-1': name 'b-1' is listed twice"),
    ({"name": "b,2"}, "instances[1] 'b,2': name: 'b,2' contains a comma"),
])
def test_batch_item_validation_errors(batch_fake, capsys, bad_item, expect):
    args = {"plan": "integration-flow", "roles": ["ESBMessaging.send"], "instances": [{"name": "b-1"}, bad_item, {"name": "b-3"}]}
    result, dummy = run(service_instance, args, capsys)
    assert result["failed"] and result["msg"].startswith(expect), result["msg"]
    assert batch_fake.calls == []


@pytest.mark.parametrize("where, expect", [
    ({"org": "no-such-org"}, "org: organization 'no-such-org' not found"),
    ({"space": "no-such-space"}, "space: space 'no-such-space' not found in org 'acme-org'"),
])
def test_batch_wrong_org_or_space_fails_once_not_per_item(batch_fake, capsys, where, expect):
    result, dummy = run(service_instance, dict(batch_args(), **where), capsys)
    assert result["failed"] and result["msg"].startswith(expect), result["msg"]
    assert result["msg"].count("not found") == 1 and "instances" not in result
    assert batch_fake.instances == {}


def test_batch_failed_item_does_not_stop_the_others(batch_fake, capsys):
    fake = batch_fake
    fake.reject_create["b-api"] = "Quota exceeded for plan api"
    result, out = run(service_instance, batch_args(), capsys)
    assert result["failed"] and result["changed"]
    assert result["msg"].startswith("1 of 5 service instances failed: b-api: "), result["msg"]
    assert broker_failure("Quota exceeded for plan api") in result["msg"]
    assert [item["name"] for item in result["instances"]] == ["b-iflow-1", "b-iflow-2", "b-api", "b-raw", "b-tagged"]
    failed = result["instances"][2]
    assert failed["failed"] is True and failed["changed"] is False and set(failed) == {"name", "failed", "changed", "msg"}
    assert failed["msg"].startswith("b-api: ") and "Quota exceeded for plan api" in failed["msg"]
    others = [item for item in result["instances"] if item["name"] != "b-api"]
    assert all(item["changed"] and item["guid"] and not item.get("failed") for item in others)
    assert sorted(by_name(fake)) == ["b-iflow-1", "b-iflow-2", "b-raw", "b-tagged"]
    assert "secret-pw" not in out
    # diff mode: the diffs of the items that succeeded, in item order (a failed item has no diff)
    fake.instances.clear()
    result, dummy = run(service_instance, batch_args(), capsys, diff=True)
    assert result["failed"] and [diff["after"]["name"] for diff in result["diff"]] == ["b-iflow-1", "b-iflow-2", "b-raw", "b-tagged"]
    # the next run creates the missing one only
    del fake.reject_create["b-api"]
    result, dummy = run(service_instance, batch_args(), capsys)
    assert not result.get("failed"), result
    assert [item["changed"] for item in result["instances"]] == [False, False, True, False, False]


def test_batch_several_failures_in_one_message(batch_fake, capsys):
    fake = batch_fake
    fake.reject_create.update({"b-iflow-1": "first", "b-tagged": "second"})
    result, dummy = run(service_instance, batch_args(), capsys)
    assert result["failed"]
    where = " [POST %s/v3/service_instances]" % API
    assert result["msg"] == (
        "2 of 5 service instances failed: "
        "b-iflow-1: Creating service instance 'b-iflow-1' failed: HTTP 422 CF-ServiceBrokerBadResponse (code 10001): %s; "
        "b-tagged: Creating service instance 'b-tagged' failed: HTTP 422 CF-ServiceBrokerBadResponse (code 10001): %s"
    ) % (broker_failure("first") + where, broker_failure("second") + where)
    assert [item.get("failed", False) for item in result["instances"]] == [True, False, False, False, True]
    assert [item["msg"] for item in result["instances"] if item.get("failed")] == result["msg"].split(": ", 1)[1].split("; ")


def test_batch_state_per_item_and_delete_all(batch_fake, capsys):
    fake = batch_fake
    run(service_instance, batch_args(), capsys)
    args = batch_args()
    args["instances"][0]["state"] = "absent"
    result, dummy = run(service_instance, args, capsys)
    assert not result.get("failed"), result
    assert [item["changed"] for item in result["instances"]] == [True, False, False, False, False]
    assert result["instances"][0]["state"] == "absent" and "b-iflow-1" not in by_name(fake)
    result, dummy = run(service_instance, {"state": "absent", "instances": [{"name": name} for name in sorted(by_name(fake))]}, capsys)
    assert not result.get("failed"), result
    assert result["changed"] and all(item["state"] == "absent" for item in result["instances"])
    assert fake.instances == {}


@pytest.mark.parametrize("concurrency", [1, 32])
def test_batch_concurrency_bounds_accepted(batch_fake, capsys, concurrency):
    result, dummy = run(service_instance, batch_args(concurrency=concurrency), capsys)
    assert not result.get("failed"), result
    assert len(batch_fake.instances) == 5 and batch_fake.tokens == 1


@pytest.mark.parametrize("concurrency", [0, 33])
def test_batch_concurrency_out_of_bounds(batch_fake, capsys, concurrency):
    result, dummy = run(service_instance, batch_args(concurrency=concurrency), capsys)
    assert result["failed"] and result["msg"] == "concurrency: must be between 1 and 32, got %d" % concurrency
    assert batch_fake.calls == []


def test_batch_name_and_instances_are_mutually_exclusive(batch_fake, capsys):
    result, dummy = run(service_instance, batch_args(name="single"), capsys)
    assert result["failed"] and "mutually exclusive" in result["msg"] and "name|instances" in result["msg"], result["msg"]
    assert batch_fake.calls == []


def test_batch_name_or_instances_required(batch_fake, capsys):
    result, dummy = run(service_instance, {"plan": "integration-flow"}, capsys)
    assert result["failed"] and "one of the following is required: name, instances" in result["msg"], result["msg"]
    assert batch_fake.calls == []


def test_batch_item_parameters_and_roles_are_mutually_exclusive(batch_fake, capsys):
    args = {"plan": "integration-flow", "instances": [{"name": "b-1", "roles": ["ESBMessaging.send"], "parameters": {"roles": ["x"]}}]}
    result, dummy = run(service_instance, args, capsys)
    assert result["failed"] and "mutually exclusive" in result["msg"] and "parameters|roles" in result["msg"], result["msg"]
    assert batch_fake.calls == []


def test_batch_item_needs_a_name(batch_fake, capsys):
    result, dummy = run(service_instance, {"plan": "integration-flow", "instances": [{"name": "b-1"}, {"plan": "api"}]}, capsys)
    assert result["failed"] and "name" in result["msg"] and "instances" in result["msg"], result["msg"]
    assert batch_fake.calls == []


def test_batch_empty_list_does_nothing(batch_fake, capsys):
    result, dummy = run(service_instance, {"plan": "integration-flow", "instances": []}, capsys)
    assert not result.get("failed"), result
    assert not result["changed"] and result["instances"] == []
    assert batch_fake.tokens == 0


@pytest.mark.parametrize("retrievable, reads", [(False, 1), (True, 5)])
def test_batch_learns_once_whether_parameters_can_be_read(batch_fake, capsys, retrievable, reads):
    """A batch over existing instances that no run has looked at: when the broker does not let parameters be read,
    one thread finds that out and the others wait for its answer (one GET .../parameters, not one per thread); when
    it does, the parameters of every instance are read."""
    fake = batch_fake
    fake.retrievable = retrievable
    fake.latency = 0.02
    for item in batch_args()["instances"]:
        fake.add_instance(item["name"])
    result, dummy = run(service_instance, batch_args(), capsys)
    assert not result.get("failed"), result
    assert len([call for call in fake.calls if call[0] == "GET" and call[1].endswith("/parameters")]) == reads
