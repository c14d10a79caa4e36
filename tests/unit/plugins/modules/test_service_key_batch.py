# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""service_key in batch mode (keys, concurrency) against the in-memory Cloud Foundry of cf_fake."""
from __future__ import annotations


import pytest

requests = pytest.importorskip("requests")
pytest.importorskip("cryptography")


from ansible_collections.sap_btp.cloud_integration.plugins.module_utils import _certs  # noqa: E402
from ansible_collections.sap_btp.cloud_integration.plugins.modules import service_key  # noqa: E402
from ansible_collections.sap_btp.cloud_integration.tests.unit.plugins.module_utils.cf_fake import KEYS_PATH, FakeCf, LockedFakeCf  # noqa: E402
from ansible_collections.sap_btp.cloud_integration.tests.unit.plugins.modules.module_harness import run_module, use_fake  # noqa: E402

SECRET = "a1b2c3d4-0000$S3cr3tValueForTests="
INSTANCE_REQUIRED = "the instance of the key is required: set instance or instance_guid"


def certificate_aware_key(instance, parameters):
    """Client secret keys as cf_fake makes them; for key-type certificate an SAP-like certificate and private key."""
    if parameters.get("key-type") != "certificate":
        return FakeCf.default_key(instance, parameters)
    private_key = _certs.generate_private_key(parameters.get("key-length", 2048))
    cert = _certs.build_certificate(private_key, "sap-client", parameters.get("validity", 365))
    return {"oauth": {"clientid": "sb-cert!b1|it-rt-acme!b196", "certificate": _certs.certificate_pem(cert),
                      "key": _certs.private_key_pem(private_key).decode(),
                      "url": "https://acme.it-cpi018-rt.cfapps.eu10.hana.ondemand.com",
                      "tokenurl": "https://acme.authentication.cert.eu10.hana.ondemand.com/oauth/token"},
            "certificatedetails": {"validuntil": "2027-01-01T00:00:00.000Z", "serialnumber": "0x01"}}


@pytest.fixture
def fake(monkeypatch, tmp_path):
    fake = LockedFakeCf()
    fake.key_factory = certificate_aware_key
    return use_fake(monkeypatch, tmp_path, fake)


@pytest.fixture
def two_instances(fake):
    """orders and billing, the instances of the keys."""
    return {"orders": fake.add_instance("orders"), "billing": fake.add_instance("billing")}


def run(args, capsys, check_mode=False, diff=False):
    return run_module(service_key, args, capsys, check_mode=check_mode, diff=diff)


def instance_of(fake, key):
    return fake.instances[key["relationships"]["service_instance"]["data"]["guid"]]["name"]


def keys_by_place(fake):
    """{(instance name, key name): key} of the keys in the fake."""
    return {(instance_of(fake, key), key["name"]): key for key in fake.keys.values()}


def four_keys(two_instances):
    """Four client secret keys on two instances: two inherit the task's instance, one names its instance, one its GUID."""
    return {"instance": "orders", "keys": [
        {"name": "k-one"},
        {"name": "k-two"},
        {"name": "k-three", "instance": "billing"},
        {"name": "k-four", "instance_guid": two_instances["billing"]["guid"]},
    ]}


# ---- the normal run ----------------------------------------------------------------------------------------------------
def test_client_secret_keys_on_two_instances_with_one_login(fake, two_instances, capsys):
    fake.latency = 0.02
    result, out = run(dict(four_keys(two_instances), concurrency=4), capsys)
    assert not result.get("failed"), result
    assert result["changed"] and result["secrets_returned"] is False
    items = result["service_keys"]
    assert [item["name"] for item in items] == ["k-one", "k-two", "k-three", "k-four"]
    assert [item["instance"] for item in items] == ["orders", "orders", "billing", "billing"]
    assert [item["instance_guid"] for item in items] == [two_instances[name]["guid"] for name in ("orders", "orders", "billing", "billing")]
    assert all(item["changed"] and item["state"] == "present" and item["key_type"] == "client_secret" for item in items)
    created = keys_by_place(fake)
    assert sorted(created) == [("billing", "k-four"), ("billing", "k-three"), ("orders", "k-one"), ("orders", "k-two")]
    assert [item["guid"] for item in items] == [created[(item["instance"], item["name"])]["guid"] for item in items]
    # one UAA login for the whole batch, one create per key, and the threads overlapped
    assert fake.tokens == 1 and fake.count("POST", "/oauth/token") == 1
    assert fake.count("POST", KEYS_PATH) == 4
    assert fake.max_in_flight > 1
    # no per-item diff outside diff mode; the secret is masked everywhere
    assert "diff" not in result and all("diff" not in item for item in items)
    assert SECRET not in out
    assert all(item["credentials"]["clientsecret"] == "********" and item["raw"]["oauth"]["clientsecret"] == "********" for item in items)


def test_a_token_revoked_during_the_batch_is_renewed_once(fake, two_instances, capsys):
    """Every thread gets 401 for the revoked token; they share one new login."""
    fake.latency = 0.02
    fake.revoke_at = 2
    result, dummy = run(dict(four_keys(two_instances), concurrency=4), capsys)
    assert not result.get("failed"), result
    assert [item["changed"] for item in result["service_keys"]] == [True] * 4 and len(fake.keys) == 4
    assert fake.tokens == 2


def test_item_result_has_the_shape_of_a_single_key_result(fake, two_instances, capsys):
    single, dummy = run({"instance": "orders", "name": "solo"}, capsys)
    batch, dummy = run({"instance": "orders", "keys": [{"name": "in-batch"}]}, capsys)
    assert set(batch["service_keys"][0]) == set(single) - {"invocation", "warnings", "deprecations"}
    assert set(batch) - {"invocation", "warnings", "deprecations"} == {"changed", "service_keys", "secrets_returned"}


def test_second_run_is_idempotent(fake, two_instances, capsys):
    args = four_keys(two_instances)
    first, dummy = run(args, capsys)
    assert first["changed"]
    posts = fake.count("POST", KEYS_PATH)
    second, dummy = run(args, capsys)
    assert not second.get("failed"), second
    assert second["changed"] is False
    assert [item["changed"] for item in second["service_keys"]] == [False] * 4
    assert [item["guid"] for item in second["service_keys"]] == [item["guid"] for item in first["service_keys"]]
    assert fake.count("POST", KEYS_PATH) == posts and fake.count("DELETE") == 0
    assert len(fake.keys) == 4


def test_check_mode_creates_nothing(fake, two_instances, capsys):
    result, dummy = run(four_keys(two_instances), capsys, check_mode=True, diff=True)
    assert not result.get("failed"), result
    assert result["changed"]
    assert [item["changed"] for item in result["service_keys"]] == [True] * 4
    assert all(item["guid"] is None and item["credentials"] is None for item in result["service_keys"])
    assert [item["instance"] for item in result["service_keys"]] == ["orders", "orders", "billing", "billing"]
    assert fake.keys == {} and fake.count("POST", KEYS_PATH) == 0 and fake.count("DELETE") == 0
    assert len(result["diff"]) == 4
    assert [diff["before"]["state"] for diff in result["diff"]] == ["absent"] * 4
    assert [diff["after"]["name"] for diff in result["diff"]] == ["k-one", "k-two", "k-three", "k-four"]


def test_diff_mode_gives_one_diff_per_item_without_secrets(fake, two_instances, capsys):
    result, out = run(four_keys(two_instances), capsys, diff=True)
    assert len(result["diff"]) == 4 and all(diff["after"]["credential_sha256"].startswith("sha256:") for diff in result["diff"])
    assert all("diff" not in item for item in result["service_keys"]) and SECRET not in out


def test_same_key_name_on_two_instances(fake, two_instances, capsys):
    args = {"keys": [{"name": "shared", "instance": "orders"}, {"name": "shared", "instance": "billing"}]}
    result, dummy = run(args, capsys)
    assert not result.get("failed"), result
    assert [(item["name"], item["instance"], item["changed"]) for item in result["service_keys"]] == [
        ("shared", "orders", True), ("shared", "billing", True)]
    created = keys_by_place(fake)
    assert sorted(created) == [("billing", "shared"), ("orders", "shared")]
    assert result["service_keys"][0]["guid"] == created[("orders", "shared")]["guid"]
    assert result["service_keys"][1]["guid"] == created[("billing", "shared")]["guid"]
    again, dummy = run(args, capsys)
    assert again["changed"] is False and len(fake.keys) == 2


def test_state_per_item_and_delete_all_in_one_batch(fake, two_instances, capsys):
    run(four_keys(two_instances), capsys)
    mixed = four_keys(two_instances)
    mixed["keys"][1]["state"] = "absent"
    result, dummy = run(mixed, capsys)
    assert [item["changed"] for item in result["service_keys"]] == [False, True, False, False]
    assert result["service_keys"][1]["state"] == "absent" and ("orders", "k-two") not in keys_by_place(fake)
    gone, dummy = run(dict(four_keys(two_instances), state="absent"), capsys)
    assert not gone.get("failed"), gone
    assert [item["changed"] for item in gone["service_keys"]] == [True, False, True, True]
    assert [item["state"] for item in gone["service_keys"]] == ["absent"] * 4
    assert fake.keys == {}
    again, dummy = run(dict(four_keys(two_instances), state="absent"), capsys)
    assert again["changed"] is False


def test_wait_false_returns_keys_in_progress_without_credentials(fake, two_instances, capsys):
    result, dummy = run(dict(four_keys(two_instances), wait=False), capsys)
    assert not result.get("failed"), result
    assert [item["state"] for item in result["service_keys"]] == ["create in progress"] * 4
    assert all(item["guid"] and item["credentials"] is None for item in result["service_keys"])
    assert fake.count("GET", "/v3/jobs") == 0


def test_empty_list_does_nothing(fake, two_instances, capsys):
    result, dummy = run({"instance": "orders", "keys": []}, capsys)
    assert not result.get("failed"), result
    assert result["changed"] is False and result["service_keys"] == [] and fake.calls == []


# ---- validation before any request ------------------------------------------------------------------------------------
@pytest.mark.parametrize("keys, where", [
    ([{"name": "k1", "instance": "orders"}, {"name": "k2", "instance": "orders"}, {"name": "k1", "instance": "orders"}], 2),
    # the first item inherits the task's instance, the second names the same one
    ([{"name": "k1"}, {"name": "k1", "instance": "orders"}], 1),
])
def test_duplicate_name_and_instance_fails_before_any_request(fake, two_instances, capsys, keys, where):
    result, dummy = run({"instance": "orders", "keys": keys}, capsys)
    assert result["failed"] and result["msg"] == "keys[%d] 'k1': name 'k1', instance 'orders' is listed twice" % where
    assert fake.calls == []


def test_item_without_instance_fails_before_any_request(fake, two_instances, capsys):
    result, dummy = run({"keys": [{"name": "k1", "instance": "orders"}, {"name": "k2"}]}, capsys)
    assert result["failed"] and result["msg"] == "keys[1] 'k2': instance: " + INSTANCE_REQUIRED
    assert fake.calls == [] and fake.keys == {}


@pytest.mark.parametrize("item, expect", [
    ({"name": "k" * 33}, "keys[1] '%s': name: service key names of it-rt have at most 32 characters" % ("k" * 33)),
    ({"name": "k2", "key_type": "certificate", "validity_days": 0}, "keys[1] 'k2': validity_days: must be between 1 and 365 days, got 0"),
    ({"name": "k2", "validity_days": 30}, "keys[1] 'k2': validity_days: does not apply to key_type 'client_secret'"),
    ({"name": "k2", "instance": "a,b"}, "keys[1] 'k2': instance: 'a,b' contains a comma"),
    ({"name": "k,2"}, "keys[1] 'k,2': name: 'k,2' contains a comma"),
])
def test_invalid_item_fails_before_any_request(fake, two_instances, capsys, item, expect):
    result, dummy = run({"instance": "orders", "keys": [{"name": "k1"}, item]}, capsys)
    assert result["failed"] and result["msg"].startswith(expect), result["msg"]
    assert fake.calls == [] and fake.keys == {}


@pytest.mark.parametrize("concurrency", [0, 33])
def test_concurrency_out_of_bounds(fake, two_instances, capsys, concurrency):
    result, dummy = run({"instance": "orders", "keys": [{"name": "k1"}], "concurrency": concurrency}, capsys)
    assert result["failed"] and result["msg"] == "concurrency: must be between 1 and 32, got %d" % concurrency
    assert fake.calls == []


def test_name_and_keys_are_mutually_exclusive(fake, two_instances, capsys):
    result, dummy = run({"instance": "orders", "name": "k1", "keys": [{"name": "k2"}]}, capsys)
    assert result["failed"] and "mutually exclusive" in result["msg"] and "name|keys" in result["msg"]
    assert fake.calls == []


def test_name_or_keys_is_required(fake, two_instances, capsys):
    result, dummy = run({"instance": "orders"}, capsys)
    assert result["failed"] and "one of the following is required: name, keys" in result["msg"]
    assert fake.calls == []


def test_single_key_without_instance(fake, two_instances, capsys):
    result, dummy = run({"name": "k1"}, capsys)
    assert result["failed"] and result["msg"] == "instance: " + INSTANCE_REQUIRED
    assert fake.calls == []


def test_item_needs_a_name(fake, two_instances, capsys):
    result, dummy = run({"instance": "orders", "keys": [{"name": "k1"}, {"instance": "billing"}]}, capsys)
    assert result["failed"] and "name" in result["msg"] and "keys" in result["msg"]
    assert fake.calls == []


# ---- an item that fails later ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["broker_job", "cloud_controller"])
def test_failed_item_does_not_stop_the_others(fake, two_instances, capsys, where):
    if where == "broker_job":
        fake.fail_create_job["k-two"] = "Key quota exceeded"
    else:
        fake.reject_create["k-two"] = "Key quota exceeded"
    result, out = run(four_keys(two_instances), capsys)
    assert result["failed"] and result["changed"]
    assert result["msg"].startswith("1 of 4 service keys failed: k-two: ")
    assert "Key quota exceeded" in result["msg"] and "k-one" not in result["msg"]
    items = result["service_keys"]
    assert [item["name"] for item in items] == ["k-one", "k-two", "k-three", "k-four"]
    failed = items[1]
    assert failed == {"name": "k-two", "instance": "orders", "instance_guid": None, "failed": True, "changed": False, "msg": failed["msg"]}
    assert failed["msg"].startswith("k-two: ") and "Key quota exceeded" in failed["msg"]
    assert all(item["changed"] and item["state"] == "present" and item["guid"] for item in items[:1] + items[2:])
    # the other keys exist; the rejected one left nothing behind
    assert sorted(keys_by_place(fake)) == [("billing", "k-four"), ("billing", "k-three"), ("orders", "k-one")]
    if where == "broker_job":
        assert "was removed" in failed["msg"]
    assert SECRET not in out


def test_several_failures_in_one_message(fake, two_instances, capsys):
    fake.reject_create.update({"k-one": "no quota", "k-four": "broker down"})
    result, dummy = run(four_keys(two_instances), capsys)
    assert result["failed"] and result["msg"].startswith("2 of 4 service keys failed: k-one: ")
    assert "; k-four: " in result["msg"] and "no quota" in result["msg"] and "broker down" in result["msg"]
    assert [item.get("failed", False) for item in result["service_keys"]] == [True, False, False, True]
    # the failed item of an instance given by GUID has no instance name to report
    assert result["service_keys"][3]["instance"] is None


def test_a_missing_instance_fails_only_its_items(fake, two_instances, capsys):
    result, dummy = run({"instance": "orders", "keys": [{"name": "k1"}, {"name": "k2", "instance": "gone"}]}, capsys)
    assert result["failed"] and result["msg"].startswith("1 of 2 service keys failed: k2: instance: service instance 'gone' in the target space not found")
    assert result["service_keys"][0]["changed"] and sorted(keys_by_place(fake)) == [("orders", "k1")]


# ---- secrets and key types ---------------------------------------------------------------------------------------------
def test_secrets_masked_by_default_and_returned_on_request(fake, two_instances, capsys):
    args = {"instance": "orders", "keys": [{"name": "k1"}, {"name": "k2", "instance": "billing"},
                                           {"name": "k3", "key_type": "certificate", "validity_days": 30}]}
    masked, out = run(args, capsys)
    assert masked["secrets_returned"] is False and SECRET not in out and "PRIVATE KEY" not in out
    assert [item["credentials"]["clientsecret"] for item in masked["service_keys"][:2]] == ["********"] * 2
    assert masked["service_keys"][2]["credentials"]["key"] == "********"
    assert masked["service_keys"][2]["raw"]["oauth"]["key"] == "********"
    assert all(item["secrets_returned"] is False for item in masked["service_keys"])
    revealed, dummy = run(dict(args, return_secrets=True), capsys)
    assert not revealed["changed"] and revealed["secrets_returned"] is True
    assert [item["credentials"]["clientsecret"] for item in revealed["service_keys"][:2]] == [SECRET] * 2
    assert [item["raw"]["oauth"]["clientsecret"] for item in revealed["service_keys"][:2]] == [SECRET] * 2
    assert "PRIVATE KEY" in revealed["service_keys"][2]["credentials"]["key"]
    # the top-level secrets_returned is what the action plugin marks the displayed result no_log by
    assert all(item["secrets_returned"] is True for item in revealed["service_keys"])


def test_item_key_type_certificate_overrides_the_task(fake, two_instances, capsys):
    args = {"instance": "orders", "key_type": "client_secret", "keys": [
        {"name": "k-secret"},
        {"name": "k-cert", "key_type": "certificate", "validity_days": 30, "key_length": 3072},
    ]}
    result, out = run(args, capsys)
    assert not result.get("failed"), result
    secret, cert = result["service_keys"]
    assert secret["key_type"] == "client_secret" and secret["certificate_details"] is None
    assert cert["key_type"] == "certificate" and cert["certificate_details"]["days_left"] in (29, 30)
    assert cert["credentials"]["key"] == "********" and "PRIVATE KEY" not in out
    created = keys_by_place(fake)
    assert created[("orders", "k-secret")]["parameters"] == {}
    assert created[("orders", "k-cert")]["parameters"] == {"key-type": "certificate", "validity": 30, "key-length": 3072}
    again, dummy = run(args, capsys)
    assert again["changed"] is False


def test_item_with_a_certificate_takes_no_generation_options_from_the_task(fake, two_instances, capsys, tmp_path):
    """Task: external certificates generated locally; one item brings its own certificate instead."""
    partner = _certs.certificate_pem(_certs.build_certificate(_certs.generate_private_key(), "partner", 30))
    args = {"instance": "orders", "key_type": "external_certificate", "private_key_path": str(tmp_path / "gen.key"),
            "keys": [{"name": "k-generated"}, {"name": "k-partner", "certificate": partner}]}
    result, out = run(args, capsys)
    assert not result.get("failed"), result
    generated, given = result["service_keys"]
    assert generated["private_key_path"] == str(tmp_path / "gen.key") and generated["files_written"] == [str(tmp_path / "gen.key")]
    assert "private_key_path" not in given and "files_written" not in given
    assert keys_by_place(fake)[("orders", "k-partner")]["parameters"] == {"key-type": "certificate_external", "X.509": partner}
    assert (tmp_path / "gen.key").exists() and "PRIVATE KEY" not in out


def test_a_failed_batch_returns_no_secrets(fake, two_instances, capsys):
    """A failed result is displayed (its message must be seen), so it cannot be no_log: with return_secrets the items
    that succeeded come back masked, and secrets_returned is false; a rerun returns them."""
    fake.reject_create["k2"] = "no quota"
    result, out = run({"instance": "orders", "return_secrets": True, "keys": [{"name": "k1"}, {"name": "k2"}]}, capsys)
    assert result["failed"] and result["secrets_returned"] is False
    first = result["service_keys"][0]
    assert first["guid"] and first["credentials"]["clientsecret"] != SECRET and first["secrets_returned"] is False
    assert SECRET not in out and "k2" in result["msg"]
