"""it-rt broker: instance parameter schema, key parameters and service key content (sap-cloud-integration.md 1-3)."""

import datetime
import re

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from btp_sandbox.config import API_ROLES
from core_helpers import Cf, external_cert_pem, unique, write_external_ca

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
SECRET = re.compile(r"^%s\$[A-Za-z0-9+/]{43}=$" % UUID)


@pytest.fixture(scope="module", name="conn")
def fixture_conn(btp_sandbox):
    return btp_sandbox.connection


@pytest.fixture(scope="module", name="cf")
def fixture_cf(conn):
    return Cf(conn)


@pytest.fixture(scope="module", name="flow_instance")
def fixture_flow_instance(cf):
    return cf.create_instance(parameters={"roles": ["ESBMessaging.send"], "grant-types": ["client_credentials"]})[0]


@pytest.fixture(scope="module", name="api_instance")
def fixture_api_instance(cf):
    return cf.create_instance(plan="api", parameters={"roles": ["MonitoringDataRead"]})[0]


@pytest.fixture(scope="module", name="external_ca")
def fixture_external_ca(tmp_path_factory):
    return write_external_ca(tmp_path_factory.mktemp("ext-ca"))


@pytest.fixture(scope="module", name="trusting_sandbox")
def fixture_trusting_sandbox(external_ca, tmp_path_factory):
    from btp_sandbox import Sandbox, load_config  # pylint: disable=import-outside-toplevel
    state = tmp_path_factory.mktemp("trusting") / "conn.json"
    sandbox = Sandbox(load_config(overrides={"trust_ca_files": [external_ca[2]]}), state_file=str(state)).start()
    yield sandbox
    sandbox.stop()


BROKER_PREFIX = "Service broker error: Service broker it-rt-broker failed with: "


def broker_failure(job):
    """The broker's own text of a failed job; the wrapping is observed on real SAP BTP CF (issue 13)."""
    assert job["state"] == "FAILED"
    error = job["errors"][0]
    assert error["code"] == 10001 and error["title"] == "CF-ServiceBrokerBadResponse"
    assert error["detail"].startswith(BROKER_PREFIX)
    return error["detail"][len(BROKER_PREFIX):]


# -- instance parameters ------------------------------------------------------------------------
@pytest.mark.parametrize("plan,params,fragment", [
    ("api", {}, "'roles' is required for plan 'api'"),
    ("api", {"roles": []}, "at least one role"),
    ("api", {"roles": ["ESBMessaging.send"]}, "Invalid role(s) for plan 'api': 'ESBMessaging.send'"),
    ("api", {"roles": ["MonitoringDataRead", "MonitoringDataRead"]}, "unique"),
    ("integration-flow", {"grant-types": ["implicit"]}, "Invalid grant type(s): 'implicit'"),
    ("integration-flow", {"grant-types": ["client_x509"]}, "'client_x509' is deprecated"),
    ("integration-flow", {"token-validity": 3599}, "between 3600 and 86400"),
    ("integration-flow", {"token-validity": 86401}, "between 3600 and 86400"),
    ("integration-flow", {"token-validity": "3600"}, "between 3600 and 86400"),
    ("integration-flow", {"refresh-token-validity": 3600}, "Unsupported parameter(s): 'refresh-token-validity'"),
    ("integration-flow", {"roles": "ESBMessaging.send"}, "'roles' must be an array"),
    ("api", {"roles": ["MonitoringDataRead"], "scopes": ["x"]}, "Unsupported parameter(s): 'scopes'"),
])
def test_instance_schema_violations_fail_like_broker_errors(cf, plan, params, fragment):
    instance, job = cf.create_instance(plan=plan, parameters=params)
    description = broker_failure(job)
    assert fragment in description
    assert instance["last_operation"]["type"] == "create" and instance["last_operation"]["state"] == "failed"
    assert instance["last_operation"]["description"] == BROKER_PREFIX + description


@pytest.mark.parametrize("plan,params", [
    ("api", {"roles": list(API_ROLES)}),
    ("api", {"roles": ["AuthGroup_IntegrationDeveloper"], "grant-types": ["client_credentials", "password"],
             "token-validity": 86400}),
    ("integration-flow", {}),
    ("integration-flow", {"roles": ["ESBMessaging.send", "myRole1"], "grant-types": ["client_credentials"],
                          "redirect-uris": [], "token-validity": 3600}),
    ("integration-flow", {"roles": [], "grant-types": []}),
])
def test_valid_instance_parameters_are_accepted(cf, plan, params):
    _unused, job = cf.create_instance(plan=plan, parameters=params)
    assert job["state"] == "COMPLETE", job


def test_plan_defaults_applied_for_scopes(cf, btp_sandbox):
    flow, _unused = cf.create_instance()
    api, _unused = cf.create_instance(plan="api", parameters={"roles": ["MonitoringDataRead"]})
    _unused, _unused, flow_details = cf.create_key(flow["guid"])
    _unused, _unused, api_details = cf.create_key(api["guid"])
    store = btp_sandbox.store
    flow_key = store.find_key_by_secret("acme", flow_details["credentials"]["oauth"]["clientid"],
                                        flow_details["credentials"]["oauth"]["clientsecret"])
    api_key = store.find_key_by_secret("acme", api_details["credentials"]["oauth"]["clientid"],
                                       api_details["credentials"]["oauth"]["clientsecret"])
    assert store.client_scope_roles(flow_key) == (["ESBMessaging.send"], ["client_credentials"], 3600)
    assert store.client_scope_roles(api_key) == (["MonitoringDataRead"], ["client_credentials"], 43200)


# -- key content ----------------------------------------------------------------------------------
def test_secret_key_shape_integration_flow(cf, conn, flow_instance):
    key, job, details = cf.create_key(flow_instance["guid"])
    assert job["operation"] == "service_keys.create" and job["state"] == "COMPLETE"
    assert job["links"]["service_credential_binding"]["href"].endswith("/v3/service_credential_bindings/" + key["guid"])
    assert key["type"] == "key" and key["last_operation"]["state"] == "succeeded"
    assert key["relationships"] == {"service_instance": {"data": {"guid": flow_instance["guid"]}}}
    oauth = details["credentials"]["oauth"]
    assert list(details) == ["credentials"] and list(details["credentials"]) == ["oauth"]
    assert set(oauth) == {"clientid", "clientsecret", "url", "tokenurl", "createdate"}
    assert re.fullmatch(r"sb-%s!b137126\|it-rt-acme-dev!b196" % UUID, oauth["clientid"])
    assert SECRET.match(oauth["clientsecret"])
    tenant = conn["tenants"][0]
    assert oauth["url"] == tenant["runtime_url"] and oauth["tokenurl"] == tenant["token_url"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", oauth["createdate"])


def test_secret_key_shape_api_plan(cf, conn, api_instance):
    _unused, _unused, details = cf.create_key(api_instance["guid"])
    oauth = details["credentials"]["oauth"]
    assert re.fullmatch(r"sb-%s!b137126\|it!b196" % UUID, oauth["clientid"])
    assert oauth["url"] == conn["tenants"][0]["api_url"]
    assert oauth["tokenurl"] == conn["tenants"][0]["token_url"]


def test_keys_of_one_instance_share_clientid_with_distinct_secrets(cf, flow_instance):
    _unused, _unused, first = cf.create_key(flow_instance["guid"])
    _unused, _unused, second = cf.create_key(flow_instance["guid"])
    assert first["credentials"]["oauth"]["clientid"] == second["credentials"]["oauth"]["clientid"]
    assert first["credentials"]["oauth"]["clientsecret"] != second["credentials"]["oauth"]["clientsecret"]


def test_distinct_clientid_per_key_setting(sandbox_factory):
    cf = Cf(sandbox_factory({"broker": {"keys_share_clientid": False}}).connection)
    instance, _unused = cf.create_instance()
    _unused, _unused, first = cf.create_key(instance["guid"])
    _unused, _unused, second = cf.create_key(instance["guid"])
    assert first["credentials"]["oauth"]["clientid"] != second["credentials"]["oauth"]["clientid"]


def test_details_404_until_key_created(cf, flow_instance):
    response = cf.start_key(flow_instance["guid"], unique("pending"))
    assert response.status_code == 202 and response.content == b""
    keys = cf.get("/v3/service_credential_bindings", params={"service_instance_guids": flow_instance["guid"],
                                                             "type": "key", "per_page": 5000}).json()["resources"]
    pending = next(k for k in keys if k["last_operation"]["state"] != "succeeded")
    details = cf.get("/v3/service_credential_bindings/%s/details" % pending["guid"])
    assert details.status_code == 404
    assert details.json()["errors"][0] == {"detail": "Creation of service key in progress", "title": "CF-ResourceNotFound",
                                           "code": 10010}
    cf.wait_job(response.headers["Location"])
    assert cf.get("/v3/service_credential_bindings/%s/details" % pending["guid"]).status_code == 200
    unknown = cf.get("/v3/service_credential_bindings/00000000-0000-4000-8000-00000000000a/details")
    assert unknown.status_code == 404 and unknown.json()["errors"][0]["detail"] == "Service credential binding not found"


def test_certificate_key_shape(cf, conn, flow_instance):
    params = {"key-type": "certificate", "validity": 30, "key-length": 2048}
    key, _unused, details = cf.create_key(flow_instance["guid"], parameters=params)
    oauth = details["credentials"]["oauth"]
    assert "clientsecret" not in oauth
    assert oauth["tokenurl"] == conn["tenants"][0]["cert_token_url"]
    assert oauth["url"] == conn["tenants"][0]["runtime_url"]
    chain = x509.load_pem_x509_certificates(oauth["certificate"].encode())
    assert len(chain) == 3
    leaf, intermediate, root = chain
    leaf.verify_directly_issued_by(intermediate)
    intermediate.verify_directly_issued_by(root)
    assert oauth["key"].startswith("-----BEGIN RSA PRIVATE KEY-----\n")
    private = serialization.load_pem_private_key(oauth["key"].encode(), None)
    assert private.key_size == 2048
    assert private.public_key().public_numbers() == leaf.public_key().public_numbers()
    cd = oauth["certificatedetails"]
    assert cd["issuerdn"] == "CN=SAP PKI Certificate Service Client CA,OU=SAP BTP Clients,O=SAP SE,L=cf-eu10,C=DE"
    assert cd["subjectdn"].startswith("CN=") and ",L=sap-uaa,OU=" in cd["subjectdn"]
    assert cd["subjectdn"].endswith(",OU=SAP Cloud Platform Clients,O=SAP SE,C=DE")
    assert cd["serialnumber"] == "0x%X" % leaf.serial_number
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z", cd["validuntil"])
    created = datetime.datetime.strptime(oauth["createdate"][:19], "%Y-%m-%dT%H:%M:%S")
    valid_until = datetime.datetime.strptime(cd["validuntil"][:19], "%Y-%m-%dT%H:%M:%S")
    assert abs((valid_until - created) - datetime.timedelta(days=30)) <= datetime.timedelta(seconds=2)
    assert leaf.not_valid_after_utc.replace(tzinfo=None) == valid_until
    assert key["name"]


def test_certificate_key_with_4096_bits(cf, api_instance):
    _unused, job, details = cf.create_key(api_instance["guid"], parameters={"key-type": "certificate", "key-length": 4096})
    assert job["state"] == "COMPLETE"
    private = serialization.load_pem_private_key(details["credentials"]["oauth"]["key"].encode(), None)
    assert private.key_size == 4096


@pytest.mark.parametrize("params,fragment", [
    ({"key-type": "password"}, "Invalid key-type 'password'"),
    ({"key-type": "certificate", "validity": 0}, "'validity' must be an integer between 1 and 365"),
    ({"key-type": "certificate", "validity": 366}, "'validity' must be an integer between 1 and 365"),
    ({"key-type": "certificate", "key-length": 1000}, "'key-length' must be one of"),
    ({"key-type": "certificate_external"}, "Parameter 'X.509' is required"),
    ({"key-type": "certificate_external", "X.509": "not a pem"}, "not a valid PEM"),
    ({"colour": "blue"}, "Unsupported key parameter(s): 'colour'"),
])
def test_key_parameter_violations(cf, flow_instance, params, fragment):
    key, job, details = cf.create_key(flow_instance["guid"], parameters=params)
    assert fragment in broker_failure(job)
    assert key["last_operation"]["type"] == "create" and key["last_operation"]["state"] == "failed"
    assert details is None
    response = cf.get("/v3/service_credential_bindings/%s/details" % key["guid"])
    assert response.json()["errors"][0]["detail"] == "Creation of service key failed"


def test_duplicate_key_name_and_failed_key_replaced(cf, flow_instance):
    name = unique("dup")
    cf.create_key(flow_instance["guid"], name)
    again = cf.start_key(flow_instance["guid"], name)
    assert again.status_code == 422
    assert again.json()["errors"][0] == {
        "code": 10008, "title": "CF-UnprocessableEntity",
        "detail": "The binding name is invalid. Key binding names must be unique. The service instance already has a key "
                  "binding with name '%s'." % name}
    failed_name = unique("failed")
    failed, _unused, _unused = cf.create_key(flow_instance["guid"], failed_name, parameters={"key-type": "nope"})
    replaced, job, _unused = cf.create_key(flow_instance["guid"], failed_name)
    assert job["state"] == "COMPLETE" and replaced["guid"] != failed["guid"]


def test_key_on_unknown_or_busy_instance(cf, flow_instance):
    unknown = cf.start_key("00000000-0000-4000-8000-0000000000bb", "k")
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["detail"] == "The service instance could not be found: '00000000-0000-4000-8000-0000000000bb'"
    busy = cf.patch("/v3/service_instances/" + flow_instance["guid"], {"parameters": {"roles": ["ESBMessaging.send"]}})
    blocked = cf.start_key(flow_instance["guid"], unique("busy"))
    assert blocked.status_code == 422
    assert blocked.json()["errors"][0]["detail"] == "There is an operation in progress for the service instance"
    cf.wait_job(busy.headers["Location"])


def test_key_delete_is_async_and_revokes(cf, btp_sandbox, flow_instance):
    key, _unused, details = cf.create_key(flow_instance["guid"])
    oauth = details["credentials"]["oauth"]
    response = cf.delete("/v3/service_credential_bindings/" + key["guid"])
    assert response.status_code == 202
    job = cf.wait_job(response.headers["Location"])
    assert job["operation"] == "service_keys.delete" and job["state"] == "COMPLETE"
    assert cf.get("/v3/service_credential_bindings/" + key["guid"]).status_code == 404
    assert btp_sandbox.store.find_key_by_secret("acme", oauth["clientid"], oauth["clientsecret"]) is None


def test_key_list_filters(cf, flow_instance, api_instance):
    name = unique("listed")
    key, _unused, _unused = cf.create_key(api_instance["guid"], name)
    found = cf.get("/v3/service_credential_bindings", params={"names": name, "service_instance_guids": api_instance["guid"],
                                                              "type": "key", "per_page": 1, "page": 1}).json()
    assert [k["guid"] for k in found["resources"]] == [key["guid"]]
    assert cf.get("/v3/service_credential_bindings", params={"names": name, "service_instance_guids": flow_instance["guid"]}
                  ).json()["resources"] == []
    by_plan = cf.get("/v3/service_credential_bindings", params={"names": name, "service_plan_names": "api",
                                                                "include": "service_instance"}).json()
    assert by_plan["pagination"]["total_results"] == 1
    assert by_plan["included"]["service_instances"][0]["guid"] == api_instance["guid"]
    assert cf.get("/v3/service_credential_bindings", params={"names": name, "type": "app"}).json()["resources"] == []
    assert cf.get("/v3/service_credential_bindings", params={"names": name.upper()}).json()["resources"] == []
    assert cf.get("/v3/service_credential_bindings", params={"service_instance_name": "x"}).status_code == 400


def test_key_metadata_patch(cf, flow_instance):
    key, _unused, _unused = cf.create_key(flow_instance["guid"])
    response = cf.patch("/v3/service_credential_bindings/" + key["guid"], {"metadata": {"labels": {"rotation": "1"}}})
    assert response.status_code == 200 and response.json()["metadata"]["labels"] == {"rotation": "1"}
    bad = cf.patch("/v3/service_credential_bindings/" + key["guid"], {"name": "renamed"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["detail"] == "Unknown field(s): 'name'"


# -- external certificates ---------------------------------------------------------------------------
def test_external_certificate_untrusted_by_default(cf, flow_instance, external_ca):
    pem = external_cert_pem(external_ca[0], external_ca[1], "untrusted")
    _unused, job, _unused = cf.create_key(flow_instance["guid"], parameters={"key-type": "certificate_external", "X.509": pem})
    assert "not signed by a trusted certificate authority" in broker_failure(job)


def test_external_certificate_key(trusting_sandbox, external_ca):
    cf = Cf(trusting_sandbox.connection)
    instance, _unused = cf.create_instance()
    pem = external_cert_pem(external_ca[0], external_ca[1], "ext-client")
    params = {"key-type": "certificate_external", "X.509": pem, "validity": 365}
    _unused, job, details = cf.create_key(instance["guid"], parameters=params)
    assert job["state"] == "COMPLETE"
    oauth = details["credentials"]["oauth"]
    assert "key" not in oauth and "clientsecret" not in oauth
    assert oauth["certificate"] == pem
    assert oauth["tokenurl"] == trusting_sandbox.connection["tenants"][0]["cert_token_url"]
    assert oauth["certificatedetails"]["issuerdn"] == "CN=Customer Test CA,O=Customer,C=DE"
    assert oauth["certificatedetails"]["subjectdn"] == "CN=ext-client,O=Customer,C=DE"
    leaf_der = x509.load_pem_x509_certificate(pem.encode()).public_bytes(serialization.Encoding.DER)
    assert trusting_sandbox.store.find_key_by_cert("acme", leaf_der)["key_type"] == "certificate_external"


def test_external_certificate_escaped_newlines_accepted(trusting_sandbox, external_ca):
    cf = Cf(trusting_sandbox.connection)
    instance, _unused = cf.create_instance()
    pem = external_cert_pem(external_ca[0], external_ca[1], "escaped")
    params = {"key-type": "certificate_external", "X.509": pem.replace("\n", "\\n")}
    _unused, job, _unused = cf.create_key(instance["guid"], parameters=params)
    assert job["state"] == "COMPLETE"


def test_external_certificate_expired_or_chain_rejected(trusting_sandbox, external_ca):
    cf = Cf(trusting_sandbox.connection)
    instance, _unused = cf.create_instance()
    expired = external_cert_pem(external_ca[0], external_ca[1], "old", expired=True)
    _unused, job, _unused = cf.create_key(instance["guid"], parameters={"key-type": "certificate_external", "X.509": expired})
    assert "has expired" in broker_failure(job)
    with open(trusting_sandbox.config.trust_ca_files[0], encoding="utf-8") as handle:
        chain = external_cert_pem(external_ca[0], external_ca[1], "chained") + handle.read()
    _unused, job, _unused = cf.create_key(instance["guid"], parameters={"key-type": "certificate_external", "X.509": chain})
    assert "exactly one certificate" in broker_failure(job)


def test_external_certificate_usable_once(trusting_sandbox, external_ca):
    cf = Cf(trusting_sandbox.connection)
    first_instance, _unused = cf.create_instance()
    second_instance, _unused = cf.create_instance()
    pem = external_cert_pem(external_ca[0], external_ca[1], "once")
    params = {"key-type": "certificate_external", "X.509": pem}
    first_key, job, _unused = cf.create_key(first_instance["guid"], parameters=params)
    assert job["state"] == "COMPLETE"
    _unused, job, _unused = cf.create_key(second_instance["guid"], parameters=params)
    assert "already used by another service key" in broker_failure(job)
    cf.wait_job(cf.delete("/v3/service_credential_bindings/" + first_key["guid"]).headers["Location"])
    _unused, job, _unused = cf.create_key(second_instance["guid"], parameters=params)
    assert job["state"] == "COMPLETE"


# -- deprecated client_x509 ------------------------------------------------------------------------------
def test_client_x509_blocks_new_keys_and_updates(sandbox_factory):
    sandbox = sandbox_factory({"seed_instances": [{"tenant": "acme", "name": "legacy", "plan": "integration-flow",
                                                   "parameters": {"grant-types": ["client_x509"]},
                                                   "keys": [{"name": "old-key"}]}]})
    cf = Cf(sandbox.connection)
    legacy = cf.get("/v3/service_instances", params={"names": "legacy"}).json()["resources"][0]
    old_key = cf.get("/v3/service_credential_bindings", params={"names": "old-key"}).json()["resources"][0]
    assert cf.get("/v3/service_credential_bindings/%s/details" % old_key["guid"]).status_code == 200
    _unused, job, _unused = cf.create_key(legacy["guid"])
    assert "deprecated grant type 'client_x509'" in broker_failure(job)
    url = "/v3/service_instances/" + legacy["guid"]
    job = cf.wait_job(cf.patch(url, {"parameters": {"grant-types": ["client_x509", "client_credentials"]}}).headers["Location"])
    assert "deprecated" in broker_failure(job)
    job = cf.wait_job(cf.patch(url, {"parameters": {"grant-types": ["client_credentials"]}}).headers["Location"])
    assert job["state"] == "COMPLETE"
    _unused, job, details = cf.create_key(legacy["guid"])
    assert job["state"] == "COMPLETE" and details["credentials"]["oauth"]["clientsecret"]


def test_unconfirmed_key_settings(sandbox_factory):
    sandbox = sandbox_factory({"broker": {"cert_key_tokenurl_on_cert_host": False, "include_createdate": False,
                                          "certificatedetails_in_oauth": False, "explicit_secret_key_types": ["clientsecret"]}})
    cf = Cf(sandbox.connection)
    instance, _unused = cf.create_instance()
    _unused, _unused, cert = cf.create_key(instance["guid"], parameters={"key-type": "certificate", "validity": 1})
    assert cert["credentials"]["oauth"]["tokenurl"] == sandbox.connection["tenants"][0]["token_url"]
    assert "createdate" not in cert["credentials"]["oauth"]
    assert "certificatedetails" in cert["credentials"] and "certificatedetails" not in cert["credentials"]["oauth"]
    _unused, job, secret = cf.create_key(instance["guid"], parameters={"key-type": "clientsecret"})
    assert job["state"] == "COMPLETE" and secret["credentials"]["oauth"]["clientsecret"]


def test_destination_offering_instance_and_key(cf):
    space = cf.space_guid()
    body = {"type": "managed", "name": unique("dest"), "parameters": {"init_data": {}},
            "relationships": {"space": {"data": {"guid": space}},
                              "service_plan": {"data": {"guid": cf.plan_guid("lite", "destination")}}}}
    response = cf.post("/v3/service_instances", body)
    assert cf.wait_job(response.headers["Location"])["state"] == "COMPLETE"
    instance = cf.get("/v3/service_instances", params={"names": body["name"]}).json()["resources"][0]
    _unused, job, details = cf.create_key(instance["guid"])
    assert job["state"] == "COMPLETE" and "oauth" not in details["credentials"]
    assert {"clientid", "clientsecret", "uri", "url"} <= set(details["credentials"])
