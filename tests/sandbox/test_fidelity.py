# -*- coding: utf-8 -*-
"""Sandbox fidelity, round 2 (issue 13): Cloud Controller and UAA facts recorded on a real SAP BTP Cloud Foundry
landscape. Every test names its source; facts that differ between landscapes or stay unconfirmed are settings
(tests/btp_sandbox/config.py) whose default is the observed value, and docs/sandbox.md ("Fidelity") lists them.
"""

import json
import re
import time

import jwt
import pytest
import requests

from core_helpers import Cf, unique

BROKER_TEXT = "Service broker error: Service broker it-rt-broker failed with: "
FIVE_SCOPES = ["openid", "uaa.user", "cloud_controller.read", "password.write", "cloud_controller.write"]


@pytest.fixture(scope="module", name="conn")
def fixture_conn(btp_sandbox):
    return btp_sandbox.connection


@pytest.fixture(scope="module", name="cf")
def fixture_cf(conn):
    return Cf(conn)


def uaa(conn, data, auth=("cf", "")):
    return requests.post(conn["cf"]["uaa_url"] + "/oauth/token", data=data, auth=auth, verify=conn["ca_bundle"], timeout=10)


def password_grant(conn):
    return uaa(conn, {"grant_type": "password", "username": conn["cf"]["username"], "password": conn["cf"]["password"]})


def admin(sandbox, method, path, **kwargs):
    response = requests.request(method, sandbox.admin_url + path, verify=sandbox.ca_bundle, timeout=10, **kwargs)
    assert response.status_code < 300, response.text
    return response


# -- 2. Cloud Controller -------------------------------------------------------------------------------------------

def test_binding_parameters_not_supported_is_answered_by_cloud_controller(cf):
    """GET .../service_credential_bindings/:guid/parameters of an offering with bindings_retrievable false: 400, code
    90007, CF-ServiceFetchBindingParametersNotSupported, answered by CC itself from the catalog, so even while the
    key is still being created (observed on real SAP BTP CF, issue 13)."""
    instance, _unused = cf.create_instance()
    started = cf.start_key(instance["guid"], unique("key"))
    key = cf.get("/v3/service_credential_bindings", params={"service_instance_guids": instance["guid"]}).json()["resources"][0]
    assert key["last_operation"]["state"] in ("initial", "in progress")
    for _attempt in range(2):
        response = cf.get("/v3/service_credential_bindings/%s/parameters" % key["guid"])
        assert response.status_code == 400
        assert response.json() == {"errors": [{
            "detail": "This service does not support fetching service binding parameters.",
            "title": "CF-ServiceFetchBindingParametersNotSupported", "code": 90007}]}
        cf.wait_job(started.headers["Location"])


def test_binding_parameters_of_a_retrievable_offering_are_served(cf):
    """The check follows the offering's bindings_retrievable: the destination offering (true) answers 200 (CC source,
    provisioning-apis.md A6; the contrast proves the it-rt answer comes from the catalog flag)."""
    offering = cf.get("/v3/service_offerings", params={"names": "destination"}).json()["resources"][0]
    assert offering["broker_catalog"]["features"]["bindings_retrievable"] is True
    plan = cf.plan_guid("lite", offering="destination")
    body = {"type": "managed", "name": unique("dest"), "relationships": {
        "space": {"data": {"guid": cf.space_guid()}}, "service_plan": {"data": {"guid": plan}}}}
    created = cf.post("/v3/service_instances", body)
    assert cf.wait_job(created.headers["Location"])["state"] == "COMPLETE"
    instance = cf.get("/v3/service_instances", params={"names": body["name"]}).json()["resources"][0]
    key, _job, _details = cf.create_key(instance["guid"])
    response = cf.get("/v3/service_credential_bindings/%s/parameters" % key["guid"])
    assert response.status_code == 200 and response.json() == {}


def test_broker_failures_are_wrapped_with_the_broker_name_everywhere(cf):
    """A failed broker operation reads "Service broker error: Service broker <broker name> failed with: <broker
    text>" in the job's errors[].detail and in last_operation.description, for instances and keys (observed on real
    SAP BTP CF, issue 13; the broker name is the setting broker.it_rt_broker_name, unconfirmed)."""
    instance, job = cf.create_instance(plan="api", parameters={"roles": ["NoSuchRole"]})
    text = "Invalid role(s) for plan 'api': 'NoSuchRole'."
    assert job["errors"] == [{"code": 10001, "title": "CF-ServiceBrokerBadResponse", "detail": BROKER_TEXT + text}]
    assert instance["last_operation"]["description"] == BROKER_TEXT + text
    shown = cf.get("/v3/service_instances/" + instance["guid"]).json()
    assert shown["last_operation"]["description"] == BROKER_TEXT + text

    good, _unused = cf.create_instance()
    key, job, details = cf.create_key(good["guid"], parameters={"key-type": "magic"})
    text = "Invalid key-type 'magic'. Allowed values are 'certificate' and 'certificate_external'."
    assert job["errors"][0]["detail"] == BROKER_TEXT + text and details is None
    assert key["last_operation"] == {**key["last_operation"], "type": "create", "state": "failed",
                                     "description": BROKER_TEXT + text}


def test_broker_name_is_a_setting(sandbox_factory):
    """The broker's name in the failure text comes from broker.it_rt_broker_name (unconfirmed, configurable)."""
    sandbox = sandbox_factory({"broker": {"it_rt_broker_name": "sm-it-rt-eu10"}})
    cf = Cf(sandbox.connection)
    _instance, job = cf.create_instance(plan="api", parameters={"roles": []})
    assert job["errors"][0]["detail"].startswith("Service broker error: Service broker sm-it-rt-eu10 failed with: ")


def test_sap_plans_have_organization_visibility(cf):
    """Plans of SAP offerings have visibility_type "organization", not "public" (observed on real SAP BTP CF,
    issue 13)."""
    plans = cf.get("/v3/service_plans").json()["resources"]
    assert plans and {p["visibility_type"] for p in plans} == {"organization"}


def test_catalog_metadata_tags_and_maintenance_info(cf):
    """Plans carry broker_catalog.metadata with sm_plan_id, supportedPlatforms, supportedMin/MaxOSBVersion;
    offerings carry sm_offering_id, serviceInventoryId and documentation links; offering tags are non-empty;
    maintenance_info is {} on plans and instances (observed on real SAP BTP CF, issue 13; the values are the
    sandbox's own)."""
    for plan in cf.get("/v3/service_plans").json()["resources"]:
        metadata = plan["broker_catalog"]["metadata"]
        assert re.fullmatch(r"[0-9a-f-]{36}", metadata["sm_plan_id"])
        assert isinstance(metadata["supportedPlatforms"], list) and "cloudfoundry" in metadata["supportedPlatforms"]
        assert metadata["supportedMinOSBVersion"] and metadata["supportedMaxOSBVersion"]
        assert plan["maintenance_info"] == {}
    for offering in cf.get("/v3/service_offerings").json()["resources"]:
        metadata = offering["broker_catalog"]["metadata"]
        assert re.fullmatch(r"[0-9a-f-]{36}", metadata["sm_offering_id"]) and metadata["serviceInventoryId"]
        assert metadata["documentationUrl"].startswith("https://")
        assert isinstance(offering["tags"], list) and offering["tags"] and all(offering["tags"])
    instance, _unused = cf.create_instance()
    assert instance["maintenance_info"] == {}


def test_json_content_type_has_a_charset_and_empty_202_has_none(cf, conn):
    """Content-Type: application/json; charset=utf-8 on JSON answers (2xx and errors); a 202 with an empty body has
    no charset (observed on real SAP BTP CF, issue 13; the sandbox sends no Content-Type there, setting
    cf.empty_body_content_type)."""
    for response in (cf.get("/v3/organizations"), cf.get("/v3/service_instances/nope"),
                     requests.get(conn["cf"]["api_url"] + "/", verify=conn["ca_bundle"], timeout=10)):
        assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    started = cf.start_instance(unique("ct"))
    assert started.status_code == 202 and started.content == b""
    assert "charset" not in started.headers.get("Content-Type", "")
    assert "Content-Type" not in started.headers
    cf.wait_job(started.headers["Location"])


def test_connections_are_kept_alive(conn, cf):
    """HTTP/1.1 connections stay open between requests (no `Connection: close`), also after an error answer and a
    request with a body: Cloud Foundry's gorouter keeps idle client connections for `router.frontend_idle_timeout`
    seconds (cloudfoundry/routing-release, jobs/gorouter/spec; 900 in cf-deployment). One requests.Session therefore
    makes one TLS connection for several calls, as against the real API."""
    session = requests.Session()
    token = "bearer " + cf.token
    answers = [session.get(conn["cf"]["api_url"] + "/v3/organizations", headers={"Authorization": token}, verify=conn["ca_bundle"], timeout=10),
               session.get(conn["cf"]["api_url"] + "/v3/service_instances/nope", headers={"Authorization": token}, verify=conn["ca_bundle"], timeout=10),
               session.post(conn["cf"]["api_url"] + "/v3/service_instances", json={"type": "managed"}, headers={"Authorization": token},
                            verify=conn["ca_bundle"], timeout=10),
               session.get(conn["cf"]["api_url"] + "/", verify=conn["ca_bundle"], timeout=10)]
    assert [answer.status_code for answer in answers][:2] == [200, 404] and answers[2].status_code >= 400
    for answer in answers:
        assert answer.raw.version == 11 and answer.headers.get("Connection", "").lower() != "close", answer.headers
    pools = session.get_adapter(conn["cf"]["api_url"]).poolmanager.pools
    opened = sum(pools[key].num_connections for key in pools.keys())
    assert opened == 1, "%d connections were opened for %d requests" % (opened, len(answers))


def test_root_document_links(conn):
    """GET /: links.routing is null, there is no bits_service link, log_cache and log_stream are URLs on hosts of
    their own, the v3 version is a 3.18x-3.19x number (observed on real SAP BTP CF, issue 13)."""
    links = requests.get(conn["cf"]["api_url"] + "/", verify=conn["ca_bundle"], timeout=10).json()["links"]
    assert links["routing"] is None and "bits_service" not in links
    api_host = requests.utils.urlparse(conn["cf"]["api_url"]).netloc
    for name in ("log_cache", "log_stream"):
        host = requests.utils.urlparse(links[name]["href"]).netloc
        assert links[name]["href"].startswith("https://") and host and host != api_host
    major, minor, _patch = links["cloud_controller_v3"]["meta"]["version"].split(".")
    assert major == "3" and 180 < int(minor) <= 199


def test_instance_updated_at_stays_when_create_completes(sandbox_factory):
    """An instance's updated_at does not move when its create job completes (observed on real SAP BTP CF,
    issue 13). The create takes 1.5 s here, so a moved timestamp would show."""
    sandbox = sandbox_factory({"profile": {"provisioning_s": 1.5}})
    cf = Cf(sandbox.connection)
    instance, job = cf.create_instance()
    assert job["state"] == "COMPLETE" and instance["last_operation"]["state"] == "succeeded"
    assert instance["updated_at"] == instance["created_at"]
    assert instance["last_operation"]["updated_at"] > instance["created_at"]


def test_metadata_patch_of_a_key_keeps_updated_at(cf):
    """A metadata-only PATCH of a key does not move the key's updated_at (observed on real SAP BTP CF, issue 13)."""
    instance, _unused = cf.create_instance()
    key, _job, _details = cf.create_key(instance["guid"])
    time.sleep(1.1)
    patched = cf.patch("/v3/service_credential_bindings/" + key["guid"], {"metadata": {"labels": {"team": "a"}}})
    assert patched.status_code == 200
    assert patched.json()["metadata"]["labels"] == {"team": "a"}
    assert patched.json()["updated_at"] == key["updated_at"]


def test_failed_create_stays_listed(cf):
    """An instance whose create failed is still listed, with last_operation {type: create, state: failed}
    (observed on real SAP BTP CF, issue 13)."""
    name = unique("failed")
    _instance, job = cf.create_instance(name=name, plan="api", parameters={"roles": []})
    assert job["state"] == "FAILED"
    listed = cf.get("/v3/service_instances", params={"names": name}).json()["resources"]
    assert len(listed) == 1
    assert listed[0]["last_operation"]["type"] == "create" and listed[0]["last_operation"]["state"] == "failed"


@pytest.mark.parametrize("mode, code", [("async", 10009), ("sync", 10001)])
def test_failed_instance_delete_keeps_instance_and_keys(btp_sandbox, cf, mode, code):
    """A failed delete leaves {type: delete, state: failed}; the instance and its keys remain (observed on real SAP
    BTP CF, issue 13), emulated with a fail_operation fault for service_instance.delete."""
    instance, _unused = cf.create_instance()
    key, _job, details = cf.create_key(instance["guid"])
    admin(btp_sandbox, "POST", "/faults", json=[{
        "route": "cf DELETE /v3/service_instances/*", "kind": "fail_operation", "operation": "service_instance.delete",
        "mode": mode, "count": 1, "message": "Deprovisioning is blocked"}])
    job = cf.wait_job(cf.delete("/v3/service_instances/" + instance["guid"]).headers["Location"])
    assert job["state"] == "FAILED" and job["errors"][0]["code"] == code
    assert job["errors"][0]["detail"].endswith(BROKER_TEXT + "Deprovisioning is blocked")
    shown = cf.get("/v3/service_instances/" + instance["guid"])
    assert shown.status_code == 200
    assert shown.json()["last_operation"] == {**shown.json()["last_operation"], "type": "delete", "state": "failed",
                                              "description": BROKER_TEXT + "Deprovisioning is blocked"}
    listed = cf.get("/v3/service_instances", params={"names": instance["name"]}).json()["resources"]
    assert [i["guid"] for i in listed] == [instance["guid"]]
    keys = cf.get("/v3/service_credential_bindings", params={"service_instance_guids": instance["guid"]}).json()
    assert [k["guid"] for k in keys["resources"]] == [key["guid"]]
    again = cf.get("/v3/service_credential_bindings/%s/details" % key["guid"])
    assert again.status_code == 200 and again.json() == details
    retry = cf.wait_job(cf.delete("/v3/service_instances/" + instance["guid"]).headers["Location"])
    assert retry["state"] == "COMPLETE"
    assert cf.get("/v3/service_instances/" + instance["guid"]).status_code == 404


def test_failed_key_delete_keeps_the_key(btp_sandbox, cf):
    """A failed key delete leaves the key with {type: delete, state: failed} (issue 13, as for instances), through a
    fail_operation fault for service_keys.delete."""
    instance, _unused = cf.create_instance()
    key, _job, _details = cf.create_key(instance["guid"])
    admin(btp_sandbox, "POST", "/faults",
          json=[{"kind": "fail_operation", "operation": "service_keys.delete", "count": 1, "message": "Key is locked"}])
    job = cf.wait_job(cf.delete("/v3/service_credential_bindings/" + key["guid"]).headers["Location"])
    assert job["state"] == "FAILED"
    shown = cf.get("/v3/service_credential_bindings/" + key["guid"]).json()
    assert shown["last_operation"]["type"] == "delete" and shown["last_operation"]["state"] == "failed"
    assert shown["last_operation"]["description"] == BROKER_TEXT + "Key is locked"


# -- 3. UAA and CC headers --------------------------------------------------------------------------------------

def test_password_grant_answer_shape(conn):
    """Password grant of client cf: access_token, token_type bearer, id_token (a JWT), an opaque refresh token
    `<32 hex>-r`, expires_in 1199, the five scopes, jti of 32 hex (observed on real SAP BTP CF, issue 13)."""
    response = password_grant(conn)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "id_token", "refresh_token", "expires_in", "scope", "jti"}
    assert body["token_type"] == "bearer" and body["expires_in"] == 1199
    assert re.fullmatch(r"[0-9a-f]{32}-r", body["refresh_token"])
    assert re.fullmatch(r"[0-9a-f]{32}", body["jti"])
    assert body["scope"] == " ".join(FIVE_SCOPES)
    access = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert sorted(access["scope"]) == sorted(FIVE_SCOPES) and access["jti"] == body["jti"]
    id_token = jwt.decode(body["id_token"], options={"verify_signature": False})
    assert id_token["aud"] == ["cf"] and id_token["user_name"] == conn["cf"]["username"]
    assert id_token["sub"] == access["user_id"] and id_token["iss"] == access["iss"]


def test_refresh_grant_returns_a_new_access_token_and_the_same_refresh_token(conn):
    """A refresh grant returns a new access token and the same opaque refresh token (observed on real SAP BTP CF,
    issue 13)."""
    first = password_grant(conn).json()
    second = uaa(conn, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    body = second.json()
    assert body["refresh_token"] == first["refresh_token"]
    assert body["access_token"] != first["access_token"] and body["jti"] != first["jti"]
    assert "id_token" in body and body["scope"] == " ".join(FIVE_SCOPES)
    third = uaa(conn, {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]})
    assert third.status_code == 200 and third.json()["refresh_token"] == first["refresh_token"]
    forged = uaa(conn, {"grant_type": "refresh_token", "refresh_token": "0" * 32 + "-r"})
    assert forged.status_code == 401 and forged.json()["error"] == "invalid_token"


def test_user_scopes_are_a_setting(sandbox_factory):
    """The scopes of the user are the setting cf.user_scopes (default: the five observed ones, issue 13)."""
    scopes = ["openid", "cloud_controller.read", "cloud_controller.write", "cloud_controller.admin_read_only"]
    sandbox = sandbox_factory({"cf": {"user_scopes": scopes}})
    body = password_grant(sandbox.connection).json()
    assert body["scope"] == " ".join(scopes)


@pytest.mark.parametrize("case", ["success", "bad_password", "bad_client", "missing_grant"])
def test_uaa_token_headers_on_answers_and_errors(conn, case):
    """Cache-Control: no-store, Pragma: no-cache, Content-Type: application/json;charset=UTF-8 on the token
    endpoint's answers, errors included (observed on real SAP BTP CF, issue 13)."""
    response = {
        "success": lambda: password_grant(conn),
        "bad_password": lambda: uaa(conn, {"grant_type": "password", "username": conn["cf"]["username"], "password": "x"}),
        "bad_client": lambda: uaa(conn, {"grant_type": "client_credentials"}, auth=("cf", "wrong")),
        "missing_grant": lambda: uaa(conn, {}),
    }[case]()
    assert response.status_code == (200 if case == "success" else 400 if case == "missing_grant" else 401)
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"
    assert response.headers["Content-Type"] == "application/json;charset=UTF-8"


def _assert_cc_headers(response):
    """Request id, limit, remaining (CC's estimate: a multiple of a tenth of the limit), reset (epoch seconds)."""
    assert re.fullmatch(r"[0-9a-f-]{36}", response.headers["X-Vcap-Request-Id"])
    limit, remaining = int(response.headers["X-Ratelimit-Limit"]), int(response.headers["X-Ratelimit-Remaining"])
    assert 0 <= remaining <= limit and (remaining * 10) % limit == 0
    assert int(response.headers["X-Ratelimit-Reset"]) > time.time() - 1
    return limit, remaining


def test_cloud_controller_answers_carry_request_id_and_rate_limit_headers(cf, conn):
    """X-Vcap-Request-Id and X-Ratelimit-Limit/-Remaining/-Reset on Cloud Controller answers, errors and the
    unauthenticated root included (observed on real SAP BTP CF, issue 13; the limit is the setting cf.rate_limit,
    unconfirmed)."""
    first = cf.get("/v3/organizations")
    limit, remaining = _assert_cc_headers(first)
    second = cf.get("/v3/spaces")
    assert _assert_cc_headers(second)[0] == limit and _assert_cc_headers(second)[1] <= remaining
    assert first.headers["X-Vcap-Request-Id"] != second.headers["X-Vcap-Request-Id"]
    _assert_cc_headers(cf.get("/v3/service_instances/nope"))
    _assert_cc_headers(requests.get(conn["cf"]["api_url"] + "/", verify=conn["ca_bundle"], timeout=10))


def test_rate_limiter_429_carries_the_headers(sandbox_factory):
    """A 429 from the rate limiter carries X-Vcap-Request-Id and X-Ratelimit-* too (observed on real SAP BTP CF,
    issue 13): both from a `rate_limit` fault and from Cloud Controller's own limiter (cf.rate_limit_enforced)."""
    sandbox = sandbox_factory({"cf": {"rate_limit": 4, "rate_limit_enforced": True},
                               "faults": [{"route": "cf GET /v3/spaces", "kind": "rate_limit", "limit": 1,
                                           "window_s": 60}]})
    cf = Cf(sandbox.connection)
    assert cf.get("/v3/spaces").status_code == 200
    faulted = cf.get("/v3/spaces")
    assert faulted.status_code == 429 and "Retry-After" in faulted.headers
    assert _assert_cc_headers(faulted) == (4, 0)
    statuses = [cf.get("/v3/organizations").status_code for _unused in range(3)]
    assert statuses == [200, 200, 429]
    limited = cf.get("/v3/organizations")
    assert limited.status_code == 429
    # CC's own limiter (CCNG middleware/rate_limiter.rb): the JSON body as text/plain, Retry-After = X-RateLimit-Reset
    assert limited.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert json.loads(limited.text) == {"errors": [{"detail": "Rate Limit Exceeded", "title": "CF-RateLimitExceeded",
                                                    "code": 10013}]}
    assert _assert_cc_headers(limited) == (4, 0)
    assert limited.headers["Retry-After"] == limited.headers["X-Ratelimit-Reset"]


def test_rate_limit_remaining_is_cloud_controllers_estimate(sandbox_factory):
    """X-Ratelimit-Remaining counts down in tenths of the limit (CCNG middleware/rate_limiter.rb `estimate_remaining`;
    the headers are observed on real SAP BTP CF, issue 13)."""
    sandbox = sandbox_factory({"cf": {"rate_limit": 20}})
    cf = Cf(sandbox.connection)
    remaining = [int(cf.get("/v3/organizations").headers["X-Ratelimit-Remaining"]) for _unused in range(4)]
    assert remaining == [18, 18, 16, 16]
