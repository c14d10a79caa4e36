# -*- coding: utf-8 -*-
"""Fidelity of the sandbox's BTP Destination service, security material and the forward iFlow (issue 17).

Sources of the behaviour checked here:
- SAP/cloud-sdk-js ``packages/connectivity/src/scp-cf/destination/destination-service.ts``: configuration API
  ``{uri}/destination-configuration/v1/{subaccount,instance}Destinations``, find-destination
  ``/destination-configuration/v1/destinations/<name>``, certificates under ``{subaccount,instance}Certificates``,
  errors as ``{"ErrorMessage": ...}``;
- SAP/cloud-sdk-js ``destination-service-types.ts``: ``authTokens[] {type, value, error, http_header{key, value}}``
  (a token error is reported inside authTokens);
- SAP-docs "Referring Resources Using the REST API" (78ba73a): v2 form ``/v2/destinations/<name>@subaccount``,
  response structure identical to find-destination (``destinationConfiguration``, ``authTokens``);
- the destination key ``{clientid, clientsecret, url (XSUAA), uri (service host)}``: public CF apps reading
  ``credentials.uri`` / ``credentials.url`` of the ``destination`` binding;
- security material: Prideth/terraform-provider-sap-integration-suite ``user_credential.go`` and
  ``oauth2_client_credential.go`` (202 create, PUT update, MERGE 405), the real ``$metadata``
  (/work/shared/reference/metadata/cloud-integration.json) for the entity shapes, and SAP-docs
  ``tasks-and-permissions-for-cloud-integration-556d557.md`` for the roles.
Unconfirmed wording and statuses are settings of ``DestinationConfig`` / ``ODataConfig``.
"""

import base64
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from tenant_clients import fetch_token, make_session

from btp_sandbox import content

API = "/destination-configuration/v1"
JSON = {"Accept": "application/json", "Content-Type": "application/json"}


def _plan_guid(cf, offering, plan):
    return cf.get("/v3/service_plans", names=plan, service_offering_names=offering)["resources"][0]["guid"]


def _instance(cf, tenant, offering, plan, parameters=None):
    cf.plan_guid = lambda name, _o=offering: _plan_guid(cf, _o, name)
    try:
        return cf.create_instance(tenant, plan, parameters)
    finally:
        del cf.plan_guid


@pytest.fixture(scope="module")
def dest_key(cf, acme):
    return cf.create_key(_instance(cf, acme, "destination", "lite"))[1]


@pytest.fixture(scope="module")
def dest(conn, dest_key):
    token = fetch_token(conn, dest_key)
    return make_session(conn, token), dest_key["uri"]


@pytest.fixture(scope="module")
def iflow_key(cf, acme):
    return cf.create_key(_instance(cf, acme, "it-rt", "integration-flow"))[1]["oauth"]


@pytest.fixture(scope="module")
def iflow_cert_key(cf, acme):
    instance = _instance(cf, acme, "it-rt", "integration-flow")
    return cf.create_key(instance, {"key-type": "certificate"})[1]["oauth"]


def _destination(name, oauth, **extra):
    body = {"Name": name, "Type": "HTTP", "URL": oauth["url"], "ProxyType": "Internet",
            "Authentication": "OAuth2ClientCredentials", "clientId": oauth["clientid"],
            "tokenServiceURL": oauth["tokenurl"]}
    if oauth.get("clientsecret"):
        body["clientSecret"] = oauth["clientsecret"]
    body.update(extra)
    return body


def test_destination_offering_and_key_shape(cf, conn, dest_key):
    offering = cf.get("/v3/service_offerings", names="destination")["resources"]
    assert offering and offering[0]["name"] == "destination"
    assert cf.get("/v3/service_plans", names="lite", service_offering_names="destination")["resources"]
    assert set(dest_key) >= {"clientid", "clientsecret", "url", "uri"}
    assert dest_key["uri"] == conn["destination_url"]


def test_configuration_crud_and_errors(dest, iflow_key):
    session, uri = dest
    body = _destination("orders_dest", iflow_key)
    assert session.post(uri + API + "/subaccountDestinations", json=body).status_code == 201
    again = session.post(uri + API + "/subaccountDestinations", json=body)
    assert again.status_code == 409 and again.json()["ErrorMessage"]
    read = session.get(uri + API + "/subaccountDestinations/orders_dest")
    assert read.status_code == 200 and read.json()["clientSecret"] == iflow_key["clientsecret"]
    assert session.put(uri + API + "/subaccountDestinations", json=dict(body, Description="x")).status_code == 200
    assert session.get(uri + API + "/subaccountDestinations/orders_dest").json()["Description"] == "x"
    missing = session.put(uri + API + "/subaccountDestinations", json=dict(body, Name="nope"))
    assert missing.status_code == 404 and "ErrorMessage" in missing.json()
    bad = session.post(uri + API + "/subaccountDestinations", json=dict(body, Name="with space"))
    assert bad.status_code == 400 and "with space" in bad.json()["ErrorMessage"]
    assert session.post(uri + API + "/subaccountDestinations", json={"Name": "x"}).status_code == 400
    assert [d["Name"] for d in session.get(uri + API + "/subaccountDestinations").json()] == ["orders_dest"]
    # instance level is a separate namespace
    assert session.get(uri + API + "/instanceDestinations/orders_dest").status_code == 404
    assert session.delete(uri + API + "/subaccountDestinations/orders_dest").status_code == 200
    assert session.get(uri + API + "/subaccountDestinations/orders_dest").status_code == 404


def test_auth_required(conn, dest_key, iflow_key):
    session = make_session(conn)
    assert session.get(dest_key["uri"] + API + "/subaccountDestinations").status_code == 401
    # an it-rt token is not a destination service token
    other = make_session(conn, fetch_token(conn, iflow_key))
    assert other.get(dest_key["uri"] + API + "/subaccountDestinations").status_code == 403


def test_find_destination_fetches_a_real_token(conn, dest, iflow_key):
    session, uri = dest
    session.post(uri + API + "/instanceDestinations", json=_destination("find_me", iflow_key))
    for path in ("/destination-configuration/v1/destinations/find_me", "/destination-configuration/v2/destinations/find_me@instance"):
        found = session.get(uri + path)
        assert found.status_code == 200, found.text
        data = found.json()
        assert data["destinationConfiguration"]["Name"] == "find_me"
        assert data["owner"]["InstanceId"]
        token = data["authTokens"][0]
        assert token["type"] == "bearer" and not token.get("error")
        assert token["http_header"] == {"key": "Authorization", "value": "Bearer " + token["value"]}
        call = make_session(conn, token["value"]).post(iflow_key["url"] + "/http/echo", data=b"hi")
        assert call.status_code == 200 and call.content == b"hi"
    # v2 does not fall back between levels
    assert session.get(uri + "/destination-configuration/v2/destinations/find_me@subaccount").status_code == 404
    assert session.get(uri + "/destination-configuration/v2/destinations/find_me").status_code == 400
    assert session.get(uri + "/destination-configuration/v1/destinations/unknown").status_code == 404


def test_find_destination_reports_token_errors_inside_auth_tokens(dest, iflow_key):
    session, uri = dest
    session.post(uri + API + "/subaccountDestinations", json=_destination("wrong", iflow_key, clientSecret="wrong-secret"))
    found = session.get(uri + "/destination-configuration/v1/destinations/wrong")
    assert found.status_code == 200
    token = found.json()["authTokens"][0]
    assert token["error"] and "401" in token["error"] and not token["value"]


def test_certificate_destination_uses_mtls(conn, dest, iflow_cert_key):
    session, uri = dest
    key = serialization.load_pem_private_key(iflow_cert_key["key"].encode(), None)
    from cryptography import x509  # pylint: disable=import-outside-toplevel
    chain = x509.load_pem_x509_certificates(iflow_cert_key["certificate"].encode())
    p12 = pkcs12.serialize_key_and_certificates(b"client", key, chain[0], chain[1:],
                                                serialization.BestAvailableEncryption(b"pw"))
    cert = {"Name": "client.p12", "Type": "CERTIFICATE", "Content": base64.b64encode(p12).decode()}
    assert session.post(uri + API + "/subaccountCertificates", json=cert).status_code == 201
    assert session.post(uri + API + "/subaccountCertificates", json=cert).status_code == 409
    assert session.get(uri + API + "/subaccountCertificates/client.p12").json()["Name"] == "client.p12"
    store = {"tokenService.KeyStoreLocation": "client.p12", "tokenService.KeyStorePassword": "pw"}
    body = _destination("cert_dest", iflow_cert_key, **store)
    assert session.post(uri + API + "/subaccountDestinations", json=body).status_code == 201
    data = session.get(uri + "/destination-configuration/v1/destinations/cert_dest").json()
    assert data["certificates"][0]["Name"] == "client.p12"
    token = data["authTokens"][0]
    assert not token.get("error"), token
    assert make_session(conn, token["value"]).post(iflow_cert_key["url"] + "/http/echo", data=b"x").status_code == 200
    session.put(uri + API + "/subaccountDestinations", json=dict(body, **{"tokenService.KeyStorePassword": "bad"}))
    assert session.get(uri + "/destination-configuration/v1/destinations/cert_dest").json()["authTokens"][0]["error"]


# ---- security material ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def globex_api(conn, cf):
    globex = next(t for t in conn["tenants"] if t["name"] == "globex")
    editor = cf.create_key(_instance(cf, globex, "it-rt", "api", {"roles": ["CredentialsEdit", "MonitoringDataRead"]}))[1]
    reader = cf.create_key(_instance(cf, globex, "it-rt", "api", {"roles": ["MonitoringDataRead"]}))[1]
    return (globex["api_url"] + "/api/v1", make_session(conn, fetch_token(conn, editor["oauth"], "globex")),
            make_session(conn, fetch_token(conn, reader["oauth"], "globex")), globex)


def test_security_material_crud_roles_and_no_secrets(globex_api, iflow_key):
    api, editor, reader, _globex = globex_api
    body = {"Name": "partner_oauth", "Description": "fp", "TokenServiceUrl": iflow_key["tokenurl"],
            "ClientId": iflow_key["clientid"], "ClientSecret": iflow_key["clientsecret"],
            "ClientAuthentication": "Send as Request Header", "Scope": "", "ScopeContentType": "", "Resource": "", "Audience": ""}
    assert reader.post(api + "/OAuth2ClientCredentials", json=body, headers=JSON).status_code == 403
    created = editor.post(api + "/OAuth2ClientCredentials", json=body, headers=JSON)
    assert created.status_code == 202 and created.content == b""
    assert editor.post(api + "/OAuth2ClientCredentials", json=body, headers=JSON).status_code == 409
    read = reader.get(api + "/OAuth2ClientCredentials('partner_oauth')", headers=JSON)
    assert read.status_code == 200
    entity = read.json()["d"]
    assert entity["ClientSecret"] is None and entity["ClientId"] == iflow_key["clientid"]
    assert entity["SecurityArtifactDescriptor"]["Type"] == "OAuth2ClientCredential"
    assert iflow_key["clientsecret"] not in reader.get(api + "/OAuth2ClientCredentials", headers=JSON).text
    merge = editor.post(api + "/OAuth2ClientCredentials('partner_oauth')", json=body,
                        headers=dict(JSON, **{"X-HTTP-Method": "MERGE"}))
    assert merge.status_code == 405
    assert editor.put(api + "/OAuth2ClientCredentials('partner_oauth')", json=dict(body, Description="fp2"),
                      headers=JSON).status_code == 202
    assert reader.get(api + "/OAuth2ClientCredentials('partner_oauth')", headers=JSON).json()["d"]["Description"] == "fp2"
    user = {"Name": "partner_user", "Kind": "default", "Description": "", "User": "u", "Password": "p", "CompanyId": None}
    assert editor.post(api + "/UserCredentials", json=user, headers=JSON).status_code == 202
    assert reader.get(api + "/UserCredentials('partner_user')", headers=JSON).json()["d"]["Password"] is None
    assert editor.post(api + "/UserCredentials", json=dict(user, Name="x", Kind="weird"), headers=JSON).status_code == 400
    assert reader.delete(api + "/UserCredentials('partner_user')").status_code == 403
    assert editor.delete(api + "/UserCredentials('partner_user')").status_code == 200
    assert reader.get(api + "/UserCredentials('partner_user')", headers=JSON).status_code == 404
    assert "OAuth2ClientCredentials" in reader.get(api + "/$metadata").text
    editor.delete(api + "/OAuth2ClientCredentials('partner_oauth')")


def test_forward_iflow_calls_another_tenant_with_a_named_oauth_credential(conn, cf, btp_sandbox, globex_api, iflow_key):
    """globex's Forward_OAuth iFlow calls acme's Echo iFlow with the OAuth2 credential 'forward_target'."""
    api, editor, _reader, globex = globex_api
    caller = cf.create_key(_instance(cf, globex, "it-rt", "integration-flow"))[1]["oauth"]
    runtime = make_session(conn, fetch_token(conn, caller, "globex"))
    missing = runtime.post(globex["runtime_url"] + "/http/forward", data=b"ping")
    assert missing.status_code == 500
    body = {"Name": "forward_target", "Description": "", "TokenServiceUrl": iflow_key["tokenurl"],
            "ClientId": iflow_key["clientid"], "ClientSecret": "wrong", "ClientAuthentication": "Send as Request Header"}
    assert editor.post(api + "/OAuth2ClientCredentials", json=body, headers=JSON).status_code == 202
    assert runtime.post(globex["runtime_url"] + "/http/forward", data=b"ping").status_code == 500
    editor.put(api + "/OAuth2ClientCredentials('forward_target')", json=dict(body, ClientSecret=iflow_key["clientsecret"]),
               headers=JSON)
    ok = runtime.post(globex["runtime_url"] + "/http/forward", data=b"ping")
    assert ok.status_code == 200 and ok.content == b"ping", ok.text
    assert ok.headers["x-forwarded-to"] == "acme"
    content.settle_mpls(btp_sandbox.store, "globex")
    editor.delete(api + "/OAuth2ClientCredentials('forward_target')")
    assert json.dumps(btp_sandbox.store.dump()).count(iflow_key["clientsecret"]) == 0
