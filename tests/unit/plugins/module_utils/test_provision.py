# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import json
import os
import re
import stat

import pytest

requests = pytest.importorskip("requests")
pytest.importorskip("cryptography")

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils import _certs, _provision  # noqa: E402
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._errors import ApiError, ParameterError  # noqa: E402
from ansible_collections.sap_btp.cloud_integration.tests.unit.plugins.module_utils.cf_fake import (  # noqa: E402
    FakeCf, broker_failure, cf_error, make_client,
)

SECRET = "a1b2c3d4-0000$S3cr3tValueForTests="


def instance_params(**overrides):
    params = dict(name="orders", state="present", offering="it-rt", plan="integration-flow", roles=None, grant_types=None,
                  redirect_uris=None, token_validity=None, parameters=None, tags=None, wait=True, wait_timeout=60)
    params.update(overrides)
    return params


def run_instance(fake, tmp_path, check_mode=False, **overrides):
    client = make_client(fake, tmp_path)
    manager = _provision.InstanceManager(client, instance_params(**overrides), check_mode=check_mode, warn=client.warn)
    manager.validate()
    result = manager.present() if manager.p["state"] == "present" else manager.absent()
    result["warnings"] = client.warnings
    return result


def writes(fake):
    return [c for c in fake.calls if c[0] in ("POST", "PATCH", "DELETE") and not c[1].startswith("/oauth")]


# -- instances -----------------------------------------------------------------------------------------
def test_create_check_mode_then_real_then_idempotent(tmp_path):
    fake = FakeCf()
    result = run_instance(fake, tmp_path, check_mode=True, roles=["ESBMessaging.send"], token_validity=7200)
    assert result["changed"] and not writes(fake) and not fake.instances
    assert result["diff"]["before"] == {"state": "absent"} and result["diff"]["after"]["parameters"]["token-validity"] == 7200
    result = run_instance(fake, tmp_path, roles=["ESBMessaging.send"], token_validity=7200)
    assert result["changed"] and result["state"] == "present" and result["plan"] == "integration-flow"
    inst = next(iter(fake.instances.values()))
    assert inst["parameters"]["token-validity"] == 7200 and inst["last_operation"]["state"] == "succeeded"
    assert inst["metadata"]["annotations"][_provision.FINGERPRINT_ANNOTATION].startswith("sha256:")
    fake.calls.clear()
    result = run_instance(fake, tmp_path, roles=["ESBMessaging.send"], token_validity=7200)
    assert not result["changed"] and result["parameters_source"] == "annotation"
    assert len(fake.calls) <= 2 and not writes(fake)
    fake.calls.clear()
    run_instance(fake, tmp_path, roles=["ESBMessaging.send"], token_validity=7200)
    assert len(fake.calls) == 1  # the offering is known not to expose parameters


def test_check_mode_reports_unknown_plan(tmp_path):
    fake = FakeCf()
    with pytest.raises(ParameterError, match="^plan: service offering 'destination' has no plan 'premium'; available plans: lite"):
        run_instance(fake, tmp_path, check_mode=True, offering="destination", plan="premium")
    assert not writes(fake)


def test_parameter_drift_from_annotation_updates_and_diffs(tmp_path):
    fake = FakeCf()
    run_instance(fake, tmp_path, roles=["ESBMessaging.send"])
    result = run_instance(fake, tmp_path, check_mode=True, roles=["ESBMessaging.send", "Partner.Orders"])
    assert result["changed"] and not writes(fake)[1:]
    assert result["diff"]["before"]["parameters"]["roles"] == ["ESBMessaging.send"]
    assert result["diff"]["after"]["parameters"]["roles"] == ["ESBMessaging.send", "Partner.Orders"]
    result = run_instance(fake, tmp_path, roles=["ESBMessaging.send", "Partner.Orders"])
    assert result["changed"] and next(iter(fake.instances.values()))["parameters"]["roles"] == ["ESBMessaging.send", "Partner.Orders"]
    assert not run_instance(fake, tmp_path, roles=["Partner.Orders", "ESBMessaging.send"])["changed"]


def test_parameter_drift_read_from_broker(tmp_path):
    fake = FakeCf(retrievable=True)
    inst = fake.add_instance("orders", parameters={"roles": ["ESBMessaging.send"], "grant-types": ["client_credentials"], "redirect-uris": [],
                                                   "token-validity": 3600})
    assert not run_instance(fake, tmp_path, roles=["ESBMessaging.send"])["changed"]
    inst["parameters"]["token-validity"] = 9000  # changed in the cockpit
    result = run_instance(fake, tmp_path, roles=["ESBMessaging.send"])
    assert result["changed"] and result["diff"]["before"]["parameters"]["token-validity"] == 9000
    assert inst["parameters"]["token-validity"] == 3600


def test_unmanaged_parameters_are_left_alone(tmp_path):
    fake = FakeCf()
    fake.add_instance("orders")
    result = run_instance(fake, tmp_path)
    assert not result["changed"] and not writes(fake)


def test_instance_without_fingerprint_is_applied_once(tmp_path):
    fake = FakeCf()
    fake.add_instance("orders")
    result = run_instance(fake, tmp_path, roles=["ESBMessaging.send"])
    assert result["changed"] and result["parameters_unverified"] and "applied once" in result["warnings"][0]
    assert not run_instance(fake, tmp_path, roles=["ESBMessaging.send"])["changed"]


def test_plan_change(tmp_path):
    fake = FakeCf()
    run_instance(fake, tmp_path, roles=["ESBMessaging.send"])
    result = run_instance(fake, tmp_path, check_mode=True, plan="api", roles=["MonitoringDataRead"])
    assert result["changed"] and result["diff"]["before"]["plan"] == "integration-flow" and result["diff"]["after"]["plan"] == "api"
    result = run_instance(fake, tmp_path, plan="api", roles=["MonitoringDataRead"])
    assert result["changed"] and result["plan"] == "api"
    inst = next(iter(fake.instances.values()))
    assert inst["relationships"]["service_plan"]["data"]["guid"] == "plan-api" and inst["parameters"]["token-validity"] == 43200
    assert not run_instance(fake, tmp_path, plan="api", roles=["MonitoringDataRead"])["changed"]


def test_tags_only_is_a_synchronous_patch(tmp_path):
    fake = FakeCf()
    fake.add_instance("orders", tags=["a"])
    result = run_instance(fake, tmp_path, tags=["a", "b"])
    assert result["changed"] and result["tags"] == ["a", "b"]
    assert not [c for c in fake.calls if c[1].startswith("/v3/jobs")]


def test_adopt_in_progress_create(tmp_path):
    fake = FakeCf()
    run_instance(fake, tmp_path, roles=["ESBMessaging.send"], wait=False)
    inst = next(iter(fake.instances.values()))
    assert inst["last_operation"]["state"] == "initial"
    job = next(iter(fake.jobs.values()))

    def finish_on_get():
        job["on_complete"](True)
        return None
    result = run_instance(fake, tmp_path, check_mode=True, roles=["ESBMessaging.send"])
    assert not result["changed"] and result["adopted"] == "create"
    fake.faults.append(("GET", "/v3/service_instances/" + inst["guid"], lambda: finish_on_get() or cf_error(503, 0, "x", "busy")))
    result = run_instance(fake, tmp_path, roles=["ESBMessaging.send"])
    assert not result["changed"] and result["adopted"] == "create" and result["last_operation"]["state"] == "succeeded"


def test_wait_false_returns_in_progress(tmp_path):
    fake = FakeCf()
    result = run_instance(fake, tmp_path, roles=["ESBMessaging.send"], wait=False)
    assert result["changed"] and result["last_operation"]["state"] == "initial" and result["guid"]
    again = run_instance(fake, tmp_path, roles=["ESBMessaging.send"], wait=False)
    assert not again["changed"] and again["adopted"] == "create"


def test_failed_create_is_replaced_and_broker_message_surfaces(tmp_path):
    fake = FakeCf()
    fake.fail_next_job = "Invalid role(s) for plan 'api': 'X'."
    with pytest.raises(ApiError, match=re.escape("Creating service instance 'orders' failed: " + broker_failure("Invalid role"))):
        run_instance(fake, tmp_path, roles=["ESBMessaging.send"])
    assert next(iter(fake.instances.values()))["last_operation"]["state"] == "failed"
    result = run_instance(fake, tmp_path, roles=["ESBMessaging.send"])
    assert result["changed"] and result["replaced_failed"] and len(fake.instances) == 1
    assert next(iter(fake.instances.values()))["last_operation"]["state"] == "succeeded"


def test_ambiguous_create_looks_up_before_retrying(tmp_path):
    fake = FakeCf()
    original = fake.instances_route

    def lost_response():
        # the request reaches CF, the instance is created, the response is lost
        original("POST", [], {}, {"name": "orders", "relationships": {"service_plan": {"data": {"guid": "plan-iflow"}}}})
        return requests.exceptions.ReadTimeout("read timed out")
    fake.faults.append(("POST", "/v3/service_instances", lost_response))
    result = run_instance(fake, tmp_path, roles=["ESBMessaging.send"])
    assert result["changed"] and len(fake.instances) == 1 and result["adopted"]
    assert fake.count("POST", "/v3/service_instances") == 1


def test_connection_refused_create_is_retried(tmp_path):
    fake = FakeCf()
    fake.faults.append(("POST", "/v3/service_instances", cf_error(503, 0, "x", "down")))
    result = run_instance(fake, tmp_path, roles=["ESBMessaging.send"])
    assert result["changed"] and len(fake.instances) == 1


def test_offering_mismatch(tmp_path):
    fake = FakeCf()
    fake.add_instance("orders", plan_guid="plan-lite")
    with pytest.raises(ParameterError, match="exists with offering 'destination'"):
        run_instance(fake, tmp_path, roles=["ESBMessaging.send"])


def test_absent_check_real_idempotent_with_cascade(tmp_path):
    fake = FakeCf()
    inst = fake.add_instance("orders")
    fake.add_key("k1", inst["guid"])
    result = run_instance(fake, tmp_path, check_mode=True, state="absent")
    assert result["changed"] and result["deleted_keys"] == ["k1"] and not writes(fake)
    result = run_instance(fake, tmp_path, state="absent")
    assert result["changed"] and result["state"] == "absent" and not fake.instances and not fake.keys
    fake.calls.clear()
    result = run_instance(fake, tmp_path, state="absent")
    assert not result["changed"] and len(fake.calls) == 1


def test_absent_refuses_other_offering(tmp_path):
    fake = FakeCf()
    fake.add_instance("orders", plan_guid="plan-lite")
    with pytest.raises(ParameterError, match="^offering: service instance 'orders' has offering 'destination'"):
        run_instance(fake, tmp_path, state="absent")
    assert not writes(fake)
    assert run_instance(fake, tmp_path, state="absent", offering="destination")["changed"]


def test_absent_adopts_delete_in_progress(tmp_path):
    fake = FakeCf()
    fake.add_instance("orders", state="in progress", op_type="delete")
    result = run_instance(fake, tmp_path, state="absent", wait=False)
    assert not result["changed"] and result["adopted"] == "delete" and result["state"] == "deleting"


def test_validation_happens_before_http(tmp_path):
    fake = FakeCf()
    with pytest.raises(ParameterError, match="^grant_types"):
        run_instance(fake, tmp_path, plan="api", roles=["MonitoringDataRead"], grant_types=["client_x509"])
    assert fake.calls == []


def test_wait_for_instances(tmp_path):
    fake = FakeCf()
    for name in ("a", "b"):
        run_instance(fake, tmp_path, name=name, roles=["ESBMessaging.send"], wait=False)
    client = make_client(fake, tmp_path)
    polls = []
    original = fake.instances_route

    def progress(method, rest, query, body):
        polls.append(1)
        if len(polls) == 2:
            for job in fake.jobs.values():
                job["on_complete"](True)
        return original(method, rest, query, body)
    fake.instances_route = progress
    instances = _provision.wait_for_instances(client, ["a", "b"], "ready", 60)
    assert {i["last_operation"]["state"] for i in instances} == {"succeeded"} and len(polls) == 2
    with pytest.raises(ApiError, match="'c' not found"):
        _provision.wait_for_instances(client, ["a", "c"], "ready", 60)


def test_wait_for_keys_polls_one_list_per_round_and_returns_failed_keys(tmp_path):
    fake = FakeCf()
    instance = fake.add_instance("orders")
    creating = fake.add_key("orders-key", instance["guid"], state="in progress")
    failing = fake.add_key("other-key", instance["guid"], state="in progress")
    fake.add_key("unrelated", instance["guid"], state="in progress")  # not named: not waited for
    client = make_client(fake, tmp_path)
    polls = []
    original = fake.keys_route

    def progress(method, rest, query, body):
        if method == "GET" and not rest:
            polls.append(1)
            if len(polls) == 3:
                creating["last_operation"]["state"] = "succeeded"
                failing["last_operation"]["state"] = "failed"
        return original(method, rest, query, body)
    fake.keys_route = progress
    keys = _provision.wait_for_keys(client, [instance["guid"]], {"orders-key", "other-key"}, 60)
    assert len(polls) == 3
    assert {k["name"]: k["last_operation"]["state"] for k in keys} == {"orders-key": "succeeded", "other-key": "failed"}


def test_wait_for_keys_times_out_naming_the_pending_keys(tmp_path):
    fake = FakeCf()
    instance = fake.add_instance("orders")
    fake.add_key("orders-key", instance["guid"], state="in progress")
    now = [0.0]
    client = make_client(fake, tmp_path, clock=lambda: now[0])
    client.sleep = lambda seconds: now.__setitem__(0, now[0] + seconds)
    with pytest.raises(ApiError, match="Still waiting after 5 seconds for service key\\(s\\) 'orders-key'"):
        _provision.wait_for_keys(client, [instance["guid"]], {"orders-key"}, 5)


# -- keys -----------------------------------------------------------------------------------------------
def key_params(**overrides):
    params = dict(name="k1", instance="orders", instance_guid=None, state="present", key_type="client_secret", validity_days=None, key_length=None,
                  certificate=None, private_key_path=None, private_key_passphrase=None, certificate_path=None, common_name=None,
                  ca_certificate=None, ca_private_key_path=None, ca_private_key_passphrase=None, parameters=None, force=False,
                  return_secrets=False, wait=True, wait_timeout=60)
    params.update(overrides)
    return params


def run_key(fake, tmp_path, check_mode=False, **overrides):
    client = make_client(fake, tmp_path)
    registered = []
    manager = _provision.KeyManager(client, key_params(**overrides), check_mode=check_mode, warn=client.warn,
                                    register_secrets=lambda *values: registered.extend(values))
    manager.validate()
    result = manager.present() if manager.p["state"] == "present" else manager.absent()
    result["registered"] = registered
    result["warnings"] = client.warnings
    return result


@pytest.fixture
def with_instance():
    fake = FakeCf()
    fake.add_instance("orders")
    return fake


def test_client_secret_key_check_real_idempotent_masked(tmp_path, with_instance):
    fake = with_instance
    result = run_key(fake, tmp_path, check_mode=True)
    assert result["changed"] and not fake.keys and result["credentials"] is None
    result = run_key(fake, tmp_path)
    assert result["changed"] and result["key_type"] == "client_secret" and result["plan"] == "integration-flow"
    assert result["credentials"]["clientsecret"] == "********" and result["raw"]["oauth"]["clientsecret"] == "********"
    assert SECRET in result["registered"] and SECRET not in json.dumps({k: v for k, v in result.items() if k != "registered"})
    assert not result["secrets_returned"]
    fake.calls.clear()
    result = run_key(fake, tmp_path)
    assert not result["changed"] and len(fake.calls) == 2 and not writes(fake)


def test_return_secrets_reveals_raw_exactly(tmp_path, with_instance):
    result = run_key(with_instance, tmp_path, return_secrets=True)
    assert result["credentials"]["clientsecret"] == SECRET and result["secrets_returned"]
    stored = next(iter(with_instance.keys.values()))["credentials"]
    assert result["raw"] == stored
    assert SECRET not in json.dumps(result["diff"])


def test_certificate_key_mismatch_fails_and_force_replaces(tmp_path, with_instance):
    fake = with_instance
    run_key(fake, tmp_path)
    with pytest.raises(ParameterError) as info:
        run_key(fake, tmp_path, key_type="certificate")
    message = str(info.value)
    assert "is of type 'client_secret'" in message and "force: true" in message and "key_rotation" in message
    old = next(iter(fake.keys))
    fake.key_factory = lambda inst, params: sap_certificate_key(params)
    result = run_key(fake, tmp_path, key_type="certificate", force=True, validity_days=30)
    assert result["changed"] and result["replaced"] and old not in fake.keys
    assert result["certificate_details"]["days_left"] in (29, 30) and result["credentials"]["key"] == "********"
    assert result["credentials"]["certificate"].count("-----BEGIN CERTIFICATE-----") == 1 and "\\n" not in result["credentials"]["certificate"]
    assert not run_key(fake, tmp_path, key_type="certificate", validity_days=30)["changed"]
    with pytest.raises(ParameterError, match="valid for 30 days, the task asks for 90"):
        run_key(fake, tmp_path, key_type="certificate", validity_days=90)


def sap_certificate_key(params):
    key = _certs.generate_private_key(params.get("key-length", 2048))
    cert = _certs.build_certificate(key, "sap-client", params.get("validity", 365))
    pem = _certs.certificate_pem(cert).replace("\n", "\\n")
    key_pem = _certs.private_key_pem(key).decode().replace("\n", "\\n")
    return {"oauth": {"clientid": "sb-x!b1|it-rt-acme!b196", "certificate": pem.replace("\\n", "\n"), "key": key_pem.replace("\\n", "\n"),
                      "url": "https://acme.it-cpi018-rt.cfapps.eu10.hana.ondemand.com",
                      "tokenurl": "https://acme.authentication.cert.eu10.hana.ondemand.com/oauth/token"},
            "certificatedetails": {"validuntil": "2027-01-01T00:00:00.000Z", "serialnumber": "0x01"}}


def test_certificatedetails_next_to_oauth_is_kept():
    creds = _provision.parse_raw(sap_certificate_key({}))
    assert creds["certificate_details"]["sap"]["serialnumber"] == "0x01" and creds["key_type"] == "certificate"
    masked = _provision.mask_raw(sap_certificate_key({}))
    assert masked["oauth"]["key"] == "********"


def test_external_certificate_given(tmp_path, with_instance):
    fake = with_instance
    key = _certs.generate_private_key(2048)
    pem = _certs.certificate_pem(_certs.build_certificate(key, "partner", 30))
    path = tmp_path / "partner.pem"
    path.write_text(pem)
    result = run_key(fake, tmp_path, key_type="external_certificate", certificate=str(path))
    assert result["changed"] and result["key_type"] == "external_certificate"
    assert next(iter(fake.keys.values()))["parameters"] == {"key-type": "certificate_external", "X.509": pem}
    assert not run_key(fake, tmp_path, key_type="external_certificate", certificate=pem)["changed"]
    other = _certs.certificate_pem(_certs.build_certificate(key, "partner2", 30))
    with pytest.raises(ParameterError, match="holds a different certificate"):
        run_key(fake, tmp_path, key_type="external_certificate", certificate=other)


def test_external_certificate_generated_locally(tmp_path, with_instance):
    fake = with_instance
    key_path, cert_path = str(tmp_path / "client.key"), str(tmp_path / "client.crt")
    result = run_key(fake, tmp_path, check_mode=True, key_type="external_certificate", private_key_path=key_path, certificate_path=cert_path)
    assert result["changed"] and result["files_written"] == [key_path, cert_path] and not os.path.exists(key_path) and not fake.keys
    result = run_key(fake, tmp_path, key_type="external_certificate", private_key_path=key_path, certificate_path=cert_path, validity_days=60)
    assert result["changed"] and stat.S_IMODE(os.stat(key_path).st_mode) == 0o600
    private_pem = open(key_path).read()
    assert private_pem not in json.dumps(result) and "PRIVATE KEY" not in json.dumps(fake.keys)
    sent = next(iter(fake.keys.values()))["parameters"]["X.509"]
    assert sent == open(cert_path).read()
    fake.calls.clear()
    again = run_key(fake, tmp_path, key_type="external_certificate", private_key_path=key_path, certificate_path=cert_path, validity_days=60)
    assert not again["changed"] and again["files_written"] == [] and len(fake.calls) == 2
    os.unlink(key_path)
    with pytest.raises(ParameterError, match="private key is not at private_key_path"):
        run_key(fake, tmp_path, key_type="external_certificate", private_key_path=key_path)
    result = run_key(fake, tmp_path, key_type="external_certificate", private_key_path=key_path, force=True)
    assert result["replaced"] and os.path.exists(key_path)


def test_external_certificate_signed_by_ca(tmp_path, with_instance):
    from ansible_collections.sap_btp.cloud_integration.tests.unit.plugins.module_utils.test_certs import make_ca
    ca_cert, ca_key = make_ca()
    ca_path, ca_key_path = tmp_path / "ca.pem", str(tmp_path / "ca.key")
    ca_path.write_text(_certs.certificate_pem(ca_cert))
    _certs.write_private_key(ca_key_path, ca_key)
    result = run_key(with_instance, tmp_path, key_type="external_certificate", private_key_path=str(tmp_path / "c.key"),
                     ca_certificate=str(ca_path), ca_private_key_path=ca_key_path)
    assert result["certificate_details"]["issuer"] == "CN=Test CA"


def test_expired_external_certificate_rejected_before_http(tmp_path, with_instance):
    import datetime
    key = _certs.generate_private_key(2048)
    old = _certs.build_certificate(key, "old", 1, now=_certs.utcnow() - datetime.timedelta(days=5))
    with_instance.calls.clear()
    with pytest.raises(ParameterError, match="^certificate: the certificate 'CN=old' expired on"):
        run_key(with_instance, tmp_path, key_type="external_certificate", certificate=_certs.certificate_pem(old))
    assert with_instance.calls == []


def test_untrusted_certificate_broker_message(tmp_path, with_instance):
    key = _certs.generate_private_key(2048)
    pem = _certs.certificate_pem(_certs.build_certificate(key, "self", 30))
    with_instance.fail_next_job = "The certificate in 'X.509' is not signed by a trusted certificate authority."
    with pytest.raises(ApiError, match=re.escape("Creating service key 'k1' failed: " + broker_failure("The certificate in 'X.509' is not signed"))):
        run_key(with_instance, tmp_path, key_type="external_certificate", certificate=pem)
    # the rejected key was removed at once, so the next run simply creates it
    assert with_instance.keys == {}
    result = run_key(with_instance, tmp_path, key_type="external_certificate", certificate=pem)
    assert result["changed"] and not result.get("replaced_failed") and len(with_instance.keys) == 1


def test_missing_instance(tmp_path):
    with pytest.raises(ParameterError, match="^instance: service instance 'orders' in the target space not found"):
        run_key(FakeCf(), tmp_path)


def test_key_adopts_in_progress_create(tmp_path, with_instance):
    fake = with_instance
    inst = next(iter(fake.instances.values()))
    key = fake.add_key("k1", inst["guid"], state="in progress")
    result = run_key(fake, tmp_path, wait=False)
    assert not result["changed"] and result["adopted"] == "create" and result["credentials"] is None
    fake.faults.append(("GET", "/v3/service_credential_bindings/" + key["guid"], lambda: key["last_operation"].update(state="succeeded")
                        or cf_error(502, 0, "x", "y")))
    result = run_key(fake, tmp_path)
    assert not result["changed"] and result["adopted"] == "create" and result["key_type"] == "client_secret"


def test_rejected_key_create_leaves_nothing_behind(tmp_path, with_instance):
    fake = with_instance
    fake.fail_next_job = "The certificate in 'X.509' is not signed by a trusted certificate authority."
    with pytest.raises(ApiError) as info:
        run_key(fake, tmp_path)
    message = str(info.value)
    assert "Creating service key 'k1' failed" in message and "not signed by a trusted certificate authority" in message
    assert "was removed" in message and "run the task again" in message
    assert fake.keys == {} and fake.count("DELETE", "/v3/service_credential_bindings/") == 1
    result = run_key(fake, tmp_path)
    assert result["changed"] and len(fake.keys) == 1 and not result.get("replaced_failed")


def test_ambiguous_key_create_is_not_duplicated(tmp_path, with_instance):
    fake = with_instance
    original = fake.keys_route

    def lost():
        inst = next(iter(fake.instances.values()))
        original("POST", [], {}, {"name": "k1", "relationships": {"service_instance": {"data": {"guid": inst["guid"]}}}})
        return requests.exceptions.ReadTimeout("timed out")
    fake.faults.append(("POST", "/v3/service_credential_bindings", lost))
    result = run_key(fake, tmp_path)
    assert result["changed"] and len(fake.keys) == 1 and fake.count("POST", "/v3/service_credential_bindings") == 1


def test_key_absent_check_real_idempotent(tmp_path, with_instance):
    fake = with_instance
    run_key(fake, tmp_path)
    fake.calls.clear()
    result = run_key(fake, tmp_path, check_mode=True, state="absent")
    assert result["changed"] and fake.keys and not writes(fake)
    assert run_key(fake, tmp_path, state="absent")["changed"] and not fake.keys
    fake.calls.clear()
    assert not run_key(fake, tmp_path, state="absent")["changed"] and len(fake.calls) == 1


def test_key_info_summary_hides_secrets(tmp_path, with_instance):
    fake = with_instance
    run_key(fake, tmp_path)
    client = make_client(fake, tmp_path)
    key = next(iter(fake.keys.values()))
    summary = _provision.key_summary(client, fake.key_json(key), client.find_instance("orders"))
    assert summary["key_type"] == "client_secret" and summary["credentials"] is None and SECRET not in json.dumps(summary)
    full = _provision.key_summary(client, fake.key_json(key), None, include_credentials=True)
    assert full["credentials"]["clientsecret"] == SECRET
    before = len(fake.calls)
    listed = _provision.key_summary(client, fake.key_json(key), None, details=False)
    assert len(fake.calls) == before, "details=False must not read the key's details"
    assert listed["name"] == key["name"] and listed["key_type"] is None and listed["certificate_details"] is None
