# -*- coding: utf-8 -*-
"""XSUAA token server of a sandbox tenant (btp_sandbox.xsuaa): normal and `.cert.` host."""

import base64
import json
import ssl
import time
from urllib.parse import quote

import jwt
import pytest
import requests
from oauthlib.oauth2 import BackendApplicationClient
from requests_oauthlib import OAuth2Session

from tenant_clients import tenant_info, write_cert_files


@pytest.fixture(scope="module")
def flow_instance(cf, acme):
    parameters = {"roles": ["ESBMessaging.send", "OrderRole"], "grant-types": ["client_credentials"]}
    return cf.create_instance(acme, "integration-flow", parameters)


@pytest.fixture(scope="module")
def flow_key(cf, flow_instance):
    return cf.create_key(flow_instance)[1]["oauth"]


@pytest.fixture(scope="module")
def api_key(cf, acme):
    instance = cf.create_instance(acme, "api", {"roles": ["MonitoringDataRead", "WorkspacePackagesRead"],
                                                "token-validity": 7200})
    return cf.create_key(instance)[1]["oauth"]


@pytest.fixture(scope="module")
def cert_key(cf, flow_instance):
    return cf.create_key(flow_instance, {"key-type": "certificate", "validity": 30, "key-length": 2048})[1]["oauth"]


def _post(conn, url, **kwargs):
    kwargs.setdefault("timeout", 10)
    return requests.post(url, verify=conn["ca_bundle"], **kwargs)


def _basic(user, password):
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


def _assert_token_response(response, validity):
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/json;charset=UTF-8"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope", "jti"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == validity - 1
    assert len(body["jti"]) == 32
    return body


def test_basic_auth_with_grant_in_query_string_and_no_body(conn, acme, flow_key):
    # Piper: POST <tokenurl>?grant_type=client_credentials, Basic clientid:secret, no body
    response = _post(conn, acme["token_url"] + "?grant_type=client_credentials",
                     headers={"Authorization": _basic(flow_key["clientid"], flow_key["clientsecret"]),
                              "Accept": "application/json"})
    body = _assert_token_response(response, 3600)
    assert body["scope"].split() == ["it-rt-acme-dev!b196.ESBMessaging.send", "it-rt-acme-dev!b196.OrderRole"]


def test_form_body_credentials(conn, acme, flow_key):
    form = {"grant_type": "client_credentials", "client_id": flow_key["clientid"],
            "client_secret": flow_key["clientsecret"]}
    response = _post(conn, acme["token_url"], data=form)
    _assert_token_response(response, 3600)


def test_basic_auth_with_client_id_in_body(conn, acme, flow_key):
    response = _post(conn, acme["token_url"], auth=(flow_key["clientid"], flow_key["clientsecret"]),
                     data={"grant_type": "client_credentials", "client_id": flow_key["clientid"]})
    _assert_token_response(response, 3600)


def test_requests_oauthlib_backend_application_client(conn, acme, flow_key):
    session = OAuth2Session(client=BackendApplicationClient(client_id=flow_key["clientid"]))
    token = session.fetch_token(token_url=acme["token_url"], client_id=flow_key["clientid"],
                                client_secret=flow_key["clientsecret"], verify=conn["ca_bundle"], timeout=10)
    assert token["token_type"] == "bearer"
    assert token["expires_in"] == 3599
    assert "it-rt-acme-dev!b196.ESBMessaging.send" in token["scope"]


def test_url_encoded_basic_credentials_need_the_cf_header(conn, acme, flow_key):
    encoded = _basic(quote(flow_key["clientid"], safe=""), quote(flow_key["clientsecret"], safe=""))
    ok = _post(conn, acme["token_url"] + "?grant_type=client_credentials",
               headers={"Authorization": encoded, "X-CF-ENCODED-CREDENTIALS": "true"})
    _assert_token_response(ok, 3600)
    refused = _post(conn, acme["token_url"] + "?grant_type=client_credentials", headers={"Authorization": encoded})
    assert refused.status_code == 401


def test_bad_credentials(conn, acme, flow_key):
    response = _post(conn, acme["token_url"] + "?grant_type=client_credentials",
                     auth=(flow_key["clientid"], "wrong-secret"))
    assert response.status_code == 401
    assert response.json() == {"error": "unauthorized", "error_description": "Bad credentials"}
    assert response.headers["WWW-Authenticate"] == \
        'Basic realm="UAA/client", error="unauthorized", error_description="Bad credentials"'


def test_bad_credentials_error_code_is_configurable(btp_sandbox, conn, acme, flow_key):
    btp_sandbox.config.xsuaa.bad_credentials_error = "unauthorized_client"
    try:
        response = _post(conn, acme["token_url"] + "?grant_type=client_credentials",
                         auth=(flow_key["clientid"], "wrong-secret"))
    finally:
        btp_sandbox.config.xsuaa.bad_credentials_error = "unauthorized"
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized_client"


def test_no_credentials(conn, acme):
    response = _post(conn, acme["token_url"], data={"grant_type": "client_credentials"})
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"


def test_missing_grant_type(conn, acme, flow_key):
    response = _post(conn, acme["token_url"], auth=(flow_key["clientid"], flow_key["clientsecret"]))
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_request", "error_description": "Missing grant type"}


def test_unsupported_grant_type(conn, acme, flow_key):
    response = _post(conn, acme["token_url"], auth=(flow_key["clientid"], flow_key["clientsecret"]),
                     data={"grant_type": "xyz"})
    assert response.status_code == 400
    assert response.json() == {"error": "unsupported_grant_type", "error_description": "Unsupported grant type: xyz"}


def test_grant_type_not_allowed_for_client(conn, acme, flow_key):
    response = _post(conn, acme["token_url"], auth=(flow_key["clientid"], flow_key["clientsecret"]),
                     data={"grant_type": "password", "username": "u", "password": "p"})
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_client", "error_description": "Unauthorized grant type: password"}


def test_get_is_not_supported(conn, acme, flow_key):
    response = requests.get(acme["token_url"] + "?grant_type=client_credentials", verify=conn["ca_bundle"],
                            auth=(flow_key["clientid"], flow_key["clientsecret"]), timeout=10)
    assert response.status_code == 405


def test_get_can_be_allowed(btp_sandbox, conn, acme, flow_key):
    btp_sandbox.config.xsuaa.allow_get = True
    try:
        response = requests.get(acme["token_url"] + "?grant_type=client_credentials", verify=conn["ca_bundle"],
                                auth=(flow_key["clientid"], flow_key["clientsecret"]), timeout=10)
    finally:
        btp_sandbox.config.xsuaa.allow_get = False
    _assert_token_response(response, 3600)


def test_jwt_header_and_claims(conn, acme, flow_key):
    response = _post(conn, acme["token_url"] + "?grant_type=client_credentials",
                     auth=(flow_key["clientid"], flow_key["clientsecret"]))
    body = response.json()
    header = jwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "RS256" and header["typ"] == "JWT"
    assert header["jku"] == acme["token_url"].rsplit("/oauth/token", 1)[0] + "/token_keys"
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    clientid = flow_key["clientid"]
    assert claims["sub"] == claims["client_id"] == claims["cid"] == claims["azp"] == clientid
    assert claims["grant_type"] == "client_credentials"
    assert claims["ext_attr"]["enhancer"] == "XSUAA"
    assert claims["ext_attr"]["zdn"] == "acme-dev"
    assert claims["ext_attr"]["subaccountid"] == acme["subaccount_id"]
    assert claims["scope"] == body["scope"].split()
    assert claims["iss"] == acme["token_url"]
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["jti"] == body["jti"]
    assert claims["zid"] and claims["rev_sig"]
    assert "it-rt-acme-dev!b196" in claims["aud"] and clientid in claims["aud"]


def test_token_keys_verify_the_signature(conn, acme, flow_key):
    keys = requests.get(acme["token_url"].replace("/oauth/token", "/token_keys"), verify=conn["ca_bundle"],
                        timeout=10).json()["keys"]
    assert keys[0]["kty"] == "RSA" and keys[0]["alg"] == "RS256" and keys[0]["use"] == "sig" and keys[0]["value"]
    token = _post(conn, acme["token_url"] + "?grant_type=client_credentials",
                  auth=(flow_key["clientid"], flow_key["clientsecret"])).json()["access_token"]
    assert jwt.get_unverified_header(token)["kid"] == keys[0]["kid"]
    public_key = jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(keys[0]))
    claims = jwt.decode(token, public_key, algorithms=["RS256"], options={"verify_aud": False})
    assert claims["client_id"] == flow_key["clientid"]


def test_api_plan_scopes_and_custom_validity(conn, acme, api_key):
    response = _post(conn, acme["token_url"] + "?grant_type=client_credentials",
                     auth=(api_key["clientid"], api_key["clientsecret"]))
    body = _assert_token_response(response, 7200)
    assert body["scope"].split() == ["it!b196.MonitoringDataRead", "it!b196.WorkspacePackagesRead"]


def test_api_plan_default_validity(conn, cf, acme):
    instance = cf.create_instance(acme, "api", {"roles": ["MonitoringDataRead"]})
    oauth = cf.create_key(instance)[1]["oauth"]
    response = _post(conn, acme["token_url"] + "?grant_type=client_credentials",
                     auth=(oauth["clientid"], oauth["clientsecret"]))
    _assert_token_response(response, 43200)


def test_keys_of_one_tenant_are_unknown_to_another(conn, flow_key):
    globex = tenant_info(conn, "globex")
    response = _post(conn, globex["token_url"] + "?grant_type=client_credentials",
                     auth=(flow_key["clientid"], flow_key["clientsecret"]))
    assert response.status_code == 401


def test_openid_configuration_points_to_cert_host(conn, acme):
    config = requests.get(acme["token_url"].replace("/oauth/token", "/.well-known/openid-configuration"),
                          verify=conn["ca_bundle"], timeout=10).json()
    assert config["token_endpoint"] == acme["token_url"]
    assert config["issuer"] == acme["token_url"]
    assert config["mtls_endpoint_aliases"]["token_endpoint"] == acme["cert_token_url"]
    assert config["jwks_uri"].endswith("/token_keys")


def test_certificate_key_gets_token_on_cert_host(conn, acme, cert_key, tmp_path):
    assert cert_key["tokenurl"] == acme["cert_token_url"]
    assert "clientsecret" not in cert_key
    cert, key = write_cert_files(cert_key, str(tmp_path))
    response = _post(conn, cert_key["tokenurl"], cert=(cert, key),
                     data={"grant_type": "client_credentials", "client_id": cert_key["clientid"]})
    body = _assert_token_response(response, 3600)
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["client_id"] == cert_key["clientid"]
    assert "x5t#S256" in claims["cnf"]


def test_cert_host_requires_matching_client_id(conn, cert_key, tmp_path):
    cert, key = write_cert_files(cert_key, str(tmp_path))
    response = _post(conn, cert_key["tokenurl"], cert=(cert, key),
                     data={"grant_type": "client_credentials", "client_id": "sb-other!b1|it-rt-acme-dev!b196"})
    assert response.status_code == 401
    missing = _post(conn, cert_key["tokenurl"], cert=(cert, key), data={"grant_type": "client_credentials"})
    assert missing.status_code == 401


def test_cert_host_refuses_connection_without_certificate(conn, cert_key):
    with pytest.raises((requests.exceptions.SSLError, requests.exceptions.ConnectionError, ssl.SSLError)):
        response = _post(conn, cert_key["tokenurl"],
                         data={"grant_type": "client_credentials", "client_id": cert_key["clientid"]})
        # TLS 1.3 may report the missing certificate only when the response is read
        assert response.status_code != 200


def test_certificate_key_refused_on_non_cert_host(conn, acme, cert_key):
    form = {"grant_type": "client_credentials", "client_id": cert_key["clientid"]}
    response = _post(conn, acme["token_url"], data=form)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert response.json()["error_description"].startswith("Unsupported instance credential")


def test_rate_limit_returns_429_with_retry_after(btp_sandbox, conn, acme, flow_key):
    btp_sandbox.config.xsuaa.rate_limit_per_s = 3
    try:
        statuses = []
        retry_after = None
        time.sleep(1.0 - time.time() % 1.0 + 0.01)  # start of a fresh one-second window
        for _unused in range(8):
            response = _post(conn, acme["token_url"] + "?grant_type=client_credentials",
                             auth=(flow_key["clientid"], flow_key["clientsecret"]))
            statuses.append(response.status_code)
            if response.status_code == 429:
                retry_after = response.headers.get("Retry-After")
    finally:
        btp_sandbox.config.xsuaa.rate_limit_per_s = 60.0
    assert statuses[:3] == [200, 200, 200]
    assert 429 in statuses
    assert retry_after == "1"


def test_deleted_key_is_revoked(conn, cf, acme, flow_instance, tmp_path):
    guid, credentials = cf.create_key(flow_instance)
    oauth = credentials["oauth"]
    cert_guid, cert_credentials = cf.create_key(flow_instance, {"key-type": "certificate", "validity": 5})
    cert, key = write_cert_files(cert_credentials["oauth"], str(tmp_path))
    cert_data = {"grant_type": "client_credentials", "client_id": cert_credentials["oauth"]["clientid"]}
    assert _post(conn, acme["token_url"] + "?grant_type=client_credentials",
                 auth=(oauth["clientid"], oauth["clientsecret"])).status_code == 200
    assert _post(conn, acme["cert_token_url"], cert=(cert, key), data=cert_data).status_code == 200
    cf.delete_key(guid)
    cf.delete_key(cert_guid)
    assert _post(conn, acme["token_url"] + "?grant_type=client_credentials",
                 auth=(oauth["clientid"], oauth["clientsecret"])).status_code == 401
    assert _post(conn, acme["cert_token_url"], cert=(cert, key), data=cert_data).status_code == 401


def test_issued_tokens_are_recorded(btp_sandbox, conn, acme, flow_key):
    body = _post(conn, acme["token_url"] + "?grant_type=client_credentials",
                 auth=(flow_key["clientid"], flow_key["clientsecret"])).json()
    record = next(t for t in btp_sandbox.store.tokens_issued if t["jti"] == body["jti"])
    assert record["client_id"] == flow_key["clientid"] and record["tenant"] == "acme"
    assert record["exp"] - record["iat"] == 3600 and record["key_guid"]


def test_fault_rule_on_token_route(conn, acme, flow_key):
    admin = conn["admin_url"]
    rule = {"route": "token POST /oauth/token", "kind": "status", "status": 503, "count": 1}
    assert requests.post(admin + "/faults", json=[rule], verify=conn["ca_bundle"], timeout=10).status_code == 201
    try:
        first = _post(conn, acme["token_url"] + "?grant_type=client_credentials",
                      auth=(flow_key["clientid"], flow_key["clientsecret"]))
        second = _post(conn, acme["token_url"] + "?grant_type=client_credentials",
                       auth=(flow_key["clientid"], flow_key["clientsecret"]))
    finally:
        requests.delete(admin + "/faults", verify=conn["ca_bundle"], timeout=10)
    assert first.status_code == 503
    assert second.status_code == 200
