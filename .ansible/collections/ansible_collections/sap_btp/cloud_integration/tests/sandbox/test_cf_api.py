"""Cloud Controller v3 + UAA emulation (provisioning-apis.md section A)."""

import time

import jwt
import pytest
import requests

from core_helpers import Cf, unique


@pytest.fixture(scope="module", name="conn")
def fixture_conn(btp_sandbox):
    return btp_sandbox.connection


@pytest.fixture(scope="module", name="cf")
def fixture_cf(conn):
    return Cf(conn)


def uaa_token(conn, data, auth=("cf", "")):
    return requests.post(conn["cf"]["uaa_url"] + "/oauth/token", data=data, auth=auth, verify=conn["ca_bundle"], timeout=10)


def error_of(response):
    return response.json()["errors"][0]


# -- discovery and UAA --------------------------------------------------------------------------
def test_root_document_links_without_auth(conn):
    response = requests.get(conn["cf"]["api_url"] + "/", verify=conn["ca_bundle"], timeout=10)
    assert response.status_code == 200
    links = response.json()["links"]
    assert links["self"]["href"] == conn["cf"]["api_url"]
    assert links["cloud_controller_v3"]["href"] == conn["cf"]["api_url"] + "/v3"
    assert links["login"]["href"] == conn["cf"]["uaa_url"]
    assert links["uaa"]["href"] == conn["cf"]["uaa_url"]
    assert "credhub" in links and links["credhub"] is None


def test_password_grant_returns_refresh_token(conn):
    response = uaa_token(conn, {"grant_type": "password", "username": conn["cf"]["username"],
                                "password": conn["cf"]["password"], "scope": ""})
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and body["refresh_token"] and body["expires_in"] == 1199
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["client_id"] == "cf" and claims["user_name"] == conn["cf"]["username"]
    assert "cloud_controller.write" in claims["scope"] and claims["exp"] - claims["iat"] == 1200


def test_uaa_error_bodies(conn):
    bad_password = uaa_token(conn, {"grant_type": "password", "username": conn["cf"]["username"], "password": "nope"})
    assert bad_password.status_code == 401
    assert bad_password.json() == {"error": "unauthorized", "error_description": "Bad credentials"}
    bad_client = uaa_token(conn, {"grant_type": "client_credentials"}, auth=("cf", "wrong"))
    assert bad_client.status_code == 401 and bad_client.json()["error"] == "unauthorized"
    assert bad_client.headers["WWW-Authenticate"].startswith('Basic realm="UAA/client"')
    missing = uaa_token(conn, {})
    assert missing.status_code == 400
    assert missing.json() == {"error": "invalid_request", "error_description": "Missing grant type"}
    unsupported = uaa_token(conn, {"grant_type": "magic"})
    assert unsupported.status_code == 400 and unsupported.json()["error"] == "unsupported_grant_type"
    not_allowed = uaa_token(conn, {"grant_type": "client_credentials"})
    assert not_allowed.status_code == 401
    assert not_allowed.json() == {"error": "invalid_client", "error_description": "Unauthorized grant type: client_credentials"}


def test_refresh_grant(conn):
    first = uaa_token(conn, {"grant_type": "password", "username": conn["cf"]["username"],
                             "password": conn["cf"]["password"]}).json()
    refreshed = uaa_token(conn, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert refreshed.status_code == 200
    token = refreshed.json()["access_token"]
    assert token != first["access_token"] and refreshed.json()["refresh_token"]
    orgs = requests.get(conn["cf"]["api_url"] + "/v3/organizations", headers={"Authorization": "bearer " + token},
                        verify=conn["ca_bundle"], timeout=10)
    assert orgs.status_code == 200
    bad = uaa_token(conn, {"grant_type": "refresh_token", "refresh_token": first["access_token"]})
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_token"


@pytest.mark.parametrize("how", ["basic", "body"])
def test_client_credentials_grant(conn, how):
    data = {"grant_type": "client_credentials"}
    auth = ("sandbox-ci", "sandbox-ci-secret")
    if how == "body":
        data.update(client_id="sandbox-ci", client_secret="sandbox-ci-secret")
        auth = None
    response = uaa_token(conn, data, auth=auth)
    assert response.status_code == 200
    body = response.json()
    assert "refresh_token" not in body
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["grant_type"] == "client_credentials" and claims["sub"] == "sandbox-ci"
    spaces = requests.get(conn["cf"]["api_url"] + "/v3/spaces", headers={"Authorization": "bearer " + body["access_token"]},
                          verify=conn["ca_bundle"], timeout=10)
    assert spaces.status_code == 200


def test_cc_auth_errors(conn, btp_sandbox):
    url = conn["cf"]["api_url"] + "/v3/service_instances"
    none = requests.get(url, verify=conn["ca_bundle"], timeout=10)
    assert none.status_code == 401
    assert none.json() == {"errors": [{"detail": "Authentication error", "title": "CF-NotAuthenticated", "code": 10002}]}
    garbage = requests.get(url, headers={"Authorization": "bearer abc.def.ghi"}, verify=conn["ca_bundle"], timeout=10)
    assert garbage.status_code == 401
    assert error_of(garbage) == {"detail": "Invalid Auth Token", "title": "CF-InvalidAuthToken", "code": 1000}
    now = int(time.time())
    expired = jwt.encode({"iat": now - 4000, "exp": now - 10, "scope": ["cloud_controller.read"], "client_id": "cf",
                          "iss": btp_sandbox.uaa_url + "/oauth/token"}, btp_sandbox.pki.signing_key, algorithm="RS256")
    response = requests.get(url, headers={"Authorization": "bearer " + expired}, verify=conn["ca_bundle"], timeout=10)
    assert response.status_code == 401 and error_of(response)["code"] == 1000


def test_unknown_route_and_unknown_guid(cf):
    unknown = cf.get("/v3/does_not_exist")
    assert unknown.status_code == 404
    assert error_of(unknown) == {"detail": "Unknown request", "title": "CF-NotFound", "code": 10000}
    missing = cf.get("/v3/service_instances/0b7f3d1c-0000-4000-8000-000000000000")
    assert missing.status_code == 404
    assert error_of(missing) == {"detail": "Service instance not found", "title": "CF-ResourceNotFound", "code": 10010}


# -- lookups ------------------------------------------------------------------------------------
def test_orgs_and_spaces_name_filters(cf, conn):
    orgs = cf.get("/v3/organizations", params={"names": "ACME-ORG"}).json()
    assert [o["name"] for o in orgs["resources"]] == ["acme-org"]
    spaces = cf.get("/v3/spaces", params={"names": "DEV", "organization_guids": orgs["resources"][0]["guid"],
                                          "include": "organization"}).json()
    assert [s["name"] for s in spaces["resources"]] == ["dev"]
    assert spaces["resources"][0]["relationships"]["organization"]["data"]["guid"] == orgs["resources"][0]["guid"]
    assert spaces["included"]["organizations"][0]["name"] == "acme-org"
    other = cf.get("/v3/spaces", params={"names": "prod", "organization_guids": orgs["resources"][0]["guid"]}).json()
    assert other["pagination"]["total_results"] == 0 and other["resources"] == []
    assert other["pagination"]["total_pages"] == 1 and other["pagination"]["next"] is None
    assert conn["tenants"][0]["org"] == "acme-org"


def test_offerings_and_plans_with_schemas(cf):
    offerings = cf.get("/v3/service_offerings").json()["resources"]
    names = {o["name"] for o in offerings}
    assert {"it-rt", "destination"} <= names
    it_rt = next(o for o in offerings if o["name"] == "it-rt")
    assert it_rt["broker_catalog"]["features"]["instances_retrievable"] is False
    plans = cf.get("/v3/service_plans", params={"service_offering_names": "IT-RT"}).json()["resources"]
    assert sorted(p["name"] for p in plans) == ["api", "integration-flow"]
    api = next(p for p in plans if p["name"] == "api")
    schema = api["schemas"]["service_instance"]["create"]["parameters"]
    assert schema["additionalProperties"] is False
    assert len(schema["properties"]["roles"]["items"]["enum"]) == 41 and schema["properties"]["roles"]["minItems"] == 1
    assert schema["properties"]["token-validity"]["default"] == 43200
    assert schema["properties"]["token-validity"]["minimum"] == 3600 and schema["properties"]["token-validity"]["maximum"] == 86400
    flow = next(p for p in plans if p["name"] == "integration-flow")
    flow_schema = flow["schemas"]["service_instance"]["create"]["parameters"]
    assert flow_schema["properties"]["roles"]["default"] == ["ESBMessaging.send"]
    assert "enum" not in flow_schema["properties"]["roles"]["items"]
    assert flow_schema["properties"]["token-validity"]["default"] == 3600
    assert "client_x509" not in flow_schema["properties"]["grant-types"]["items"]["enum"]
    lite = cf.get("/v3/service_plans", params={"names": "lite", "service_offering_names": "destination"}).json()
    assert lite["pagination"]["total_results"] == 1
    with_offering = cf.get("/v3/service_plans", params={"names": "api", "include": "service_offering"}).json()
    assert with_offering["included"]["service_offerings"][0]["name"] == "it-rt"


def test_unknown_query_parameter(cf):
    response = cf.get("/v3/service_instances", params={"names": "x", "bogus": "1"})
    assert response.status_code == 400
    err = error_of(response)
    assert err["code"] == 10005 and err["title"] == "CF-BadQueryParameter"
    assert err["detail"].startswith("The query parameter is invalid: Unknown query parameter(s): 'bogus'. Valid parameters are: ")
    assert "'names'" in err["detail"] and "'space_guids'" in err["detail"]


@pytest.mark.parametrize("per_page,status", [("0", 400), ("5001", 400), ("abc", 400), ("1", 200), ("5000", 200)])
def test_per_page_limits(cf, per_page, status):
    response = cf.get("/v3/service_offerings", params={"per_page": per_page})
    assert response.status_code == status
    if status == 400:
        assert error_of(response) == {"code": 10005, "title": "CF-BadQueryParameter",
                                      "detail": "The query parameter is invalid: Per page must be between 1 and 5000"}


def test_pagination_envelope_with_absolute_hrefs(cf, conn):
    tag = unique("page")
    for index in range(3):
        cf.create_instance("%s-%d" % (tag, index), metadata={"labels": {"page-test": tag}})
    first = cf.get("/v3/service_instances", params={"label_selector": "page-test=" + tag, "per_page": 2}).json()
    pagination = first["pagination"]
    assert pagination["total_results"] == 3 and pagination["total_pages"] == 2
    assert pagination["previous"] is None
    assert pagination["next"]["href"].startswith(conn["cf"]["api_url"] + "/v3/service_instances?")
    assert "page=2" in pagination["next"]["href"] and "per_page=2" in pagination["next"]["href"]
    assert "label_selector=page-test" in pagination["first"]["href"]
    second = cf.get(pagination["next"]["href"]).json()
    assert len(second["resources"]) == 1 and second["pagination"]["next"] is None
    assert second["pagination"]["previous"]["href"].endswith("page=1&per_page=2")
    names = [r["name"] for r in first["resources"] + second["resources"]]
    assert sorted(names) == ["%s-%d" % (tag, i) for i in range(3)]


# -- service instances --------------------------------------------------------------------------
def test_instance_create_is_async_with_absolute_job_location(cf, conn):
    name = unique("async")
    response = cf.start_instance(name, parameters={"roles": ["ESBMessaging.send"]})
    assert response.status_code == 202 and response.content == b""
    location = response.headers["Location"]
    assert location.startswith(conn["cf"]["api_url"] + "/v3/jobs/")
    job = cf.get(location).json()
    assert job["operation"] == "service_instance.create" and job["state"] in ("PROCESSING", "POLLING", "COMPLETE")
    instance = cf.get("/v3/service_instances", params={"names": name}).json()["resources"][0]
    assert instance["last_operation"]["type"] == "create"
    assert instance["type"] == "managed" and instance["dashboard_url"] is None
    assert instance["links"]["parameters"]["href"].endswith("/v3/service_instances/%s/parameters" % instance["guid"])
    done = cf.wait_job(location)
    assert done["state"] == "COMPLETE" and done["errors"] == []
    assert done["links"]["service_instances"]["href"] == conn["cf"]["api_url"] + "/v3/service_instances/" + instance["guid"]
    after = cf.get("/v3/service_instances/" + instance["guid"]).json()
    assert after["last_operation"]["state"] == "succeeded" and after["last_operation"]["description"] == ""


def test_job_and_last_operation_state_machine(sandbox_factory):
    sandbox = sandbox_factory({"profile": {"provisioning_s": 1.2, "polling_fraction": 0.4}})
    cf = Cf(sandbox.connection)
    response = cf.start_instance(unique("states"))
    location = response.headers["Location"]
    guid = next(iter(sandbox.store.instances))
    job_states, instance_states = [], []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        job = cf.get(location).json()
        instance = cf.get("/v3/service_instances/" + guid).json()
        for seen, value in ((job_states, job["state"]), (instance_states, instance["last_operation"]["state"])):
            if not seen or seen[-1] != value:
                seen.append(value)
        if job["state"] == "COMPLETE":
            break
        time.sleep(0.05)
    assert job_states == ["PROCESSING", "POLLING", "COMPLETE"]
    assert instance_states[0] == "initial" and instance_states[-1] == "succeeded" and "in progress" in instance_states


def test_instance_name_taken(cf):
    name = unique("taken")
    cf.create_instance(name)
    again = cf.start_instance(name)
    assert again.status_code == 422
    assert error_of(again) == {"detail": "The service instance name is taken: %s." % name,
                               "title": "CF-UnprocessableEntity", "code": 10008}
    other_case = cf.start_instance(name.upper())
    assert other_case.status_code == 202


def test_failed_create_of_same_name_is_replaced(cf):
    name = unique("replace")
    instance, job = cf.create_instance(name, parameters={"token-validity": 10})
    assert job["state"] == "FAILED"
    assert instance["last_operation"]["type"] == "create" and instance["last_operation"]["state"] == "failed"
    second, job2 = cf.create_instance(name, parameters={"token-validity": 7200})
    assert job2["state"] == "COMPLETE" and second["guid"] != instance["guid"]
    assert cf.get("/v3/service_instances/" + instance["guid"]).status_code == 404


def test_create_rejects_bad_plan_space_and_fields(cf):
    space = cf.space_guid()
    body = {"type": "managed", "name": unique("bad"), "relationships": {
        "space": {"data": {"guid": space}}, "service_plan": {"data": {"guid": "00000000-0000-4000-8000-000000000000"}}}}
    bad_plan = cf.post("/v3/service_instances", body)
    assert bad_plan.status_code == 422 and error_of(bad_plan)["code"] == 10008
    assert error_of(bad_plan)["detail"] == ("Invalid service plan. Ensure that the service plan exists, is available, "
                                            "and you have access to it.")
    body["relationships"]["service_plan"]["data"]["guid"] = cf.plan_guid("api")
    body["relationships"]["space"]["data"]["guid"] = "00000000-0000-4000-8000-000000000001"
    bad_space = cf.post("/v3/service_instances", body)
    assert bad_space.status_code == 422
    assert error_of(bad_space)["detail"] == "Invalid space. Ensure that the space exists and you have access to it."
    body["relationships"]["space"]["data"]["guid"] = space
    body["colour"] = "blue"
    unknown = cf.post("/v3/service_instances", body)
    assert unknown.status_code == 422 and error_of(unknown)["detail"] == "Unknown field(s): 'colour'"
    broken = cf.request("POST", "/v3/service_instances", data="{not json", headers={"Content-Type": "application/json"})
    assert broken.status_code == 400 and error_of(broken)["code"] == 1001


def test_metadata_labels_and_annotations(cf):
    name = unique("meta")
    instance, _unused = cf.create_instance(name, metadata={"labels": {"team": "integration"}, "annotations": {"owner": "ops@acme"}})
    assert instance["metadata"] == {"labels": {"team": "integration"}, "annotations": {"owner": "ops@acme"}}
    found = cf.get("/v3/service_instances", params={"label_selector": "team=integration", "names": name}).json()
    assert found["pagination"]["total_results"] == 1
    patched = cf.patch("/v3/service_instances/" + instance["guid"],
                       {"metadata": {"labels": {"team": None, "tier": "gold"}, "annotations": {"note": "x"}}})
    assert patched.status_code == 200
    assert patched.json()["metadata"] == {"labels": {"tier": "gold"}, "annotations": {"owner": "ops@acme", "note": "x"}}
    assert cf.get("/v3/service_instances", params={"label_selector": "team", "names": name}).json()["resources"] == []
    assert cf.get("/v3/service_instances", params={"label_selector": "tier in (gold,silver)", "names": name}
                  ).json()["pagination"]["total_results"] == 1


def test_instance_filters(cf):
    name = unique("filter")
    instance, _unused = cf.create_instance(name, plan="api", parameters={"roles": ["MonitoringDataRead"]})
    space = cf.space_guid()
    by_name = cf.get("/v3/service_instances", params={"names": name, "space_guids": space}).json()
    assert [r["guid"] for r in by_name["resources"]] == [instance["guid"]]
    assert cf.get("/v3/service_instances", params={"names": name.upper()}).json()["resources"] == []
    assert cf.get("/v3/service_instances", params={"names": name, "space_guids": cf.space_guid(1)}).json()["resources"] == []
    by_plan = cf.get("/v3/service_instances", params={"names": name, "service_plan_names": "api", "type": "managed"}).json()
    assert by_plan["pagination"]["total_results"] == 1
    assert cf.get("/v3/service_instances", params={"names": name, "service_plan_names": "integration-flow"}
                  ).json()["pagination"]["total_results"] == 0
    with_fields = cf.get("/v3/service_instances", params={"names": name, "fields[space]": "name,guid",
                                                          "fields[space.organization]": "name"}).json()
    assert with_fields["included"]["spaces"] == [{"name": "dev", "guid": space}]
    assert with_fields["included"]["organizations"] == [{"name": "acme-org"}]


def test_patch_parameters_is_async_and_applied(cf, btp_sandbox):
    instance, _unused = cf.create_instance(parameters={"roles": ["ESBMessaging.send"], "token-validity": 3600})
    url = "/v3/service_instances/" + instance["guid"]
    response = cf.patch(url, {"parameters": {"roles": ["ESBMessaging.send", "Custom"], "token-validity": 7200}})
    assert response.status_code == 202 and response.content == b""
    during = cf.get(url).json()["last_operation"]
    assert during["type"] == "update" and during["state"] == "in progress"
    busy = cf.patch(url, {"parameters": {"roles": []}})
    assert busy.status_code == 422
    assert error_of(busy)["detail"] == "There is an operation in progress for the service instance."
    job = cf.wait_job(response.headers["Location"])
    assert job["operation"] == "service_instance.update" and job["state"] == "COMPLETE"
    assert "service_instances" in job["links"]
    assert cf.get(url).json()["last_operation"] == {**cf.get(url).json()["last_operation"], "type": "update", "state": "succeeded"}
    assert btp_sandbox.store.instances[instance["guid"]]["parameters"]["token-validity"] == 7200
    renamed = cf.patch(url, {"name": instance["name"] + "-renamed", "tags": ["a"]})
    assert renamed.status_code == 200 and renamed.json()["name"].endswith("-renamed") and renamed.json()["tags"] == ["a"]


def test_patch_with_invalid_parameters_fails_and_keeps_old(cf, btp_sandbox):
    instance, _unused = cf.create_instance(parameters={"roles": ["ESBMessaging.send"]})
    response = cf.patch("/v3/service_instances/" + instance["guid"], {"parameters": {"token-validity": 99}})
    job = cf.wait_job(response.headers["Location"])
    assert job["state"] == "FAILED" and job["errors"][0]["code"] == 10001
    last = cf.get("/v3/service_instances/" + instance["guid"]).json()["last_operation"]
    assert last["type"] == "update" and last["state"] == "failed"
    assert btp_sandbox.store.instances[instance["guid"]]["parameters"] == {"roles": ["ESBMessaging.send"]}


def test_parameters_not_retrievable_by_default(cf):
    instance, _unused = cf.create_instance(parameters={"roles": ["ESBMessaging.send"]})
    response = cf.get("/v3/service_instances/%s/parameters" % instance["guid"])
    assert response.status_code == 400
    assert error_of(response) == {"code": 120004, "title": "CF-ServiceFetchInstanceParametersNotSupported",
                                  "detail": "This service does not support fetching service instance parameters."}


def test_parameters_retrievable_setting_and_409_during_operation(sandbox_factory):
    sandbox = sandbox_factory({"broker": {"instances_retrievable": True}, "profile": {"provisioning_s": 0.6}})
    cf = Cf(sandbox.connection)
    offering = cf.get("/v3/service_offerings", params={"names": "it-rt"}).json()["resources"][0]
    assert offering["broker_catalog"]["features"]["instances_retrievable"] is True
    params = {"roles": ["MonitoringDataRead"], "grant-types": ["client_credentials"]}
    response = cf.start_instance("retrievable", plan="api", parameters=params)
    guid = next(iter(sandbox.store.instances))
    busy = cf.get("/v3/service_instances/%s/parameters" % guid)
    assert busy.status_code == 409
    assert error_of(busy) == {"code": 60016, "title": "CF-AsyncServiceInstanceOperationInProgress",
                              "detail": "An operation for service instance retrievable is in progress."}
    cf.wait_job(response.headers["Location"])
    assert cf.get("/v3/service_instances/%s/parameters" % guid).json() == params


def test_delete_is_async_removes_keys_and_repeats_same_job(cf, btp_sandbox):
    instance, _unused = cf.create_instance()
    key, _unused, details = cf.create_key(instance["guid"])
    oauth = details["credentials"]["oauth"]
    tenant = btp_sandbox.connection["tenants"][0]["name"]
    assert btp_sandbox.store.find_key_by_secret(tenant, oauth["clientid"], oauth["clientsecret"]) is not None
    first = cf.delete("/v3/service_instances/" + instance["guid"])
    assert first.status_code == 202
    second = cf.delete("/v3/service_instances/" + instance["guid"])
    assert second.status_code == 202 and second.headers["Location"] == first.headers["Location"]
    job = cf.wait_job(first.headers["Location"])
    assert job["operation"] == "service_instance.delete" and job["state"] == "COMPLETE"
    assert list(job["links"]) == ["self"]
    assert cf.get("/v3/service_instances/" + instance["guid"]).status_code == 404
    assert cf.get("/v3/service_credential_bindings/" + key["guid"]).status_code == 404
    assert btp_sandbox.store.find_key_by_secret(tenant, oauth["clientid"], oauth["clientsecret"]) is None
    gone = cf.delete("/v3/service_instances/" + instance["guid"])
    assert gone.status_code == 404 and error_of(gone)["code"] == 10010


def test_user_provided_instance_and_key_rejection(cf):
    body = {"type": "user-provided", "name": unique("ups"), "credentials": {"user": "u"},
            "relationships": {"space": {"data": {"guid": cf.space_guid()}}}}
    created = cf.post("/v3/service_instances", body)
    assert created.status_code == 201 and created.json()["type"] == "user-provided"
    key = cf.start_key(created.json()["guid"], "k")
    assert key.status_code == 422
    assert error_of(key)["detail"] == ("Service credential bindings of type 'key' are not supported for user-provided "
                                       "service instances.")
