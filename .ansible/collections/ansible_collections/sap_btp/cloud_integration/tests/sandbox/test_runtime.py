# -*- coding: utf-8 -*-
"""Cloud Integration runtime (-rt host) of a sandbox tenant (btp_sandbox.runtime)."""

import re
import time

import pytest
import requests

from btp_sandbox import content
from tenant_clients import fetch_token, make_session, tenant_info, write_cert_files

FAILURE_RE = re.compile(r"^An internal server error occured: The MPL ID for the failed message is : (A[\w-]{27})"
                        r"(\nFor more details please check tail log\.)?$")
SOAP = ('<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Header/>'
        '<soapenv:Body><ping xmlns="urn:sandbox">hello</ping></soapenv:Body></soapenv:Envelope>')


@pytest.fixture(scope="module")
def flow_instance(cf, acme):
    return cf.create_instance(acme, "integration-flow", {"roles": ["ESBMessaging.send"]})


@pytest.fixture(scope="module")
def flow_key(cf, flow_instance):
    return cf.create_key(flow_instance)[1]["oauth"]


@pytest.fixture(scope="module")
def token(conn, flow_key):
    return fetch_token(conn, flow_key)


@pytest.fixture(scope="module")
def api_key(cf, acme):
    return cf.create_key(cf.create_instance(acme, "api", {"roles": ["MonitoringDataRead"]}))[1]["oauth"]


@pytest.fixture(scope="module")
def session(conn, token):
    http = make_session(conn, token)
    return http


def _mpl_count(sandbox):
    with sandbox.store.lock:
        return len(sandbox.store.mpls["acme"])


def _mpl(sandbox, guid):
    content.settle_mpls(sandbox.store, "acme")
    with sandbox.store.lock:
        return next(m for m in reversed(sandbox.store.mpls["acme"]) if m["MessageGuid"] == guid)


def _wait_final(sandbox, guid, timeout=5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        mpl = _mpl(sandbox, guid)
        if mpl["Status"] != "PROCESSING":
            return mpl
        time.sleep(0.05)
    raise AssertionError("MPL %s stayed PROCESSING" % guid)


def test_product_details(btp_sandbox, session, acme):
    response = session.post(acme["runtime_url"] + "/http/products/details", json={"productIdentifier": "HT-2000"})
    assert response.status_code == 200
    assert response.json()["productIdentifier"] == "HT-2000"
    assert response.json()["name"] and response.json()["price"] > 0
    guid = response.headers["sap_messageprocessinglogid"]
    assert re.match(r"^A[\w-]{27}$", guid)
    assert response.headers["sap_mplcorrelationid"]
    assert re.match(r"^[0-9a-f-]{36}$", response.headers["x-correlationid"])
    mpl = _wait_final(btp_sandbox, guid)
    assert mpl["Status"] == "COMPLETED"
    assert mpl["IntegrationFlowName"] == "Products_Details"
    assert mpl["CorrelationId"] == response.headers["sap_mplcorrelationid"]


@pytest.mark.parametrize("product", ["HT-1000", "HT-1010", "HT-2005"])
def test_similar_product_ids(session, acme, product):
    response = session.post(acme["runtime_url"] + "/http/products/details", json={"productIdentifier": product})
    assert response.status_code == 200 and response.json()["productIdentifier"] == product


def test_unknown_product_is_a_business_error(btp_sandbox, session, acme):
    response = session.post(acme["runtime_url"] + "/http/products/details", json={"productIdentifier": "HT-9999"})
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "PRODUCT_NOT_FOUND", "message": "Product HT-9999 does not exist"}}
    mpl = _wait_final(btp_sandbox, response.headers["sap_messageprocessinglogid"])
    assert mpl["Status"] == "COMPLETED" and mpl["CustomStatus"] == "ProductNotFound"


def test_invalid_product_request_fails_with_mpl_id(btp_sandbox, session, acme):
    response = session.post(acme["runtime_url"] + "/http/products/details", data="not json",
                            headers={"Content-Type": "application/json"})
    assert response.status_code == 500
    match = FAILURE_RE.match(response.text)
    assert match, response.text
    assert "sap_messageprocessinglogid" not in response.headers
    mpl = _wait_final(btp_sandbox, match.group(1))
    assert mpl["Status"] == "FAILED" and "JSON" in mpl["_error"]


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "GET"])
def test_echo_any_method(session, acme, method):
    response = session.request(method, acme["runtime_url"] + "/http/echo", data=b"payload-123",
                               headers={"Content-Type": "application/octet-stream"})
    assert response.status_code == 200
    assert response.content == b"payload-123"
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["sap_messageprocessinglogid"]


def test_fail_iflow(btp_sandbox, session, acme):
    response = session.post(acme["runtime_url"] + "/http/fail", data="x")
    assert response.status_code == 500
    assert response.headers["Content-Type"].startswith("text/plain")
    match = FAILURE_RE.match(response.text)
    assert match and match.group(2)
    assert "sap_messageprocessinglogid" not in response.headers
    mpl = _wait_final(btp_sandbox, match.group(1))
    assert mpl["Status"] == "FAILED" and "Always_Fail" in mpl["_error"]


def test_fail_without_tail_log_line(btp_sandbox, session, acme):
    btp_sandbox.config.runtime.tail_log_line = False
    try:
        response = session.post(acme["runtime_url"] + "/http/fail", data="x")
    finally:
        btp_sandbox.config.runtime.tail_log_line = True
    assert response.status_code == 500
    assert "\n" not in response.text and FAILURE_RE.match(response.text)


def test_mpl_goes_from_processing_to_completed(btp_sandbox, session, acme):
    btp_sandbox.config.runtime.mpl_complete_delay_s = 0.4
    try:
        response = session.post(acme["runtime_url"] + "/http/echo", data="x")
        guid = response.headers["sap_messageprocessinglogid"]
        assert _mpl(btp_sandbox, guid)["Status"] == "PROCESSING"
        assert _wait_final(btp_sandbox, guid)["Status"] == "COMPLETED"
    finally:
        btp_sandbox.config.runtime.mpl_complete_delay_s = 0.2


def test_csrf_required_without_token(btp_sandbox, session, acme):
    before = _mpl_count(btp_sandbox)
    response = session.post(acme["runtime_url"] + "/http/csrf/echo", data="x")
    assert response.status_code == 403
    assert response.headers["X-CSRF-Token"] == "required"
    assert "<html" in response.text and "HTTP Status 403" in response.text
    assert {"JSESSIONID", "__VCAP_ID__"} <= set(response.cookies.keys())
    assert _mpl_count(btp_sandbox) == before


def test_csrf_handshake_with_cookies(btp_sandbox, conn, token, acme):
    http = make_session(conn, token)
    before = _mpl_count(btp_sandbox)
    fetch = http.get(acme["runtime_url"] + "/http/csrf/echo", headers={"X-CSRF-Token": "Fetch"})
    assert fetch.status_code == 200
    csrf = fetch.headers["X-CSRF-Token"]
    assert csrf and csrf.lower() != "required"
    assert {"JSESSIONID", "__VCAP_ID__"} <= set(fetch.cookies.keys())
    assert _mpl_count(btp_sandbox) == before  # the fetch is not processed
    response = http.post(acme["runtime_url"] + "/http/csrf/echo", data="hello", headers={"X-CSRF-Token": csrf})
    assert response.status_code == 200 and response.text == "hello"
    assert response.headers["sap_messageprocessinglogid"]


def test_csrf_fetch_with_head(btp_sandbox, conn, token, acme):
    http = make_session(conn, token)
    before = _mpl_count(btp_sandbox)
    fetch = http.head(acme["runtime_url"] + "/http/csrf/echo", headers={"X-CSRF-Token": "Fetch"})
    assert fetch.status_code == 200 and fetch.headers["X-CSRF-Token"]
    assert _mpl_count(btp_sandbox) == before
    response = http.put(acme["runtime_url"] + "/http/csrf/echo", data="put",
                        headers={"X-CSRF-Token": fetch.headers["X-CSRF-Token"]})
    assert response.status_code == 200 and response.text == "put"


def test_csrf_token_is_bound_to_cookies(conn, token, acme):
    http = make_session(conn, token)
    csrf = http.get(acme["runtime_url"] + "/http/csrf/echo", headers={"X-CSRF-Token": "Fetch"}).headers["X-CSRF-Token"]
    without_cookies = requests.post(acme["runtime_url"] + "/http/csrf/echo", data="x", verify=conn["ca_bundle"], timeout=10,
                                    headers={"Authorization": "Bearer " + token, "X-CSRF-Token": csrf})
    assert without_cookies.status_code == 403 and without_cookies.headers["X-CSRF-Token"] == "required"
    other = make_session(conn, token)
    other.get(acme["runtime_url"] + "/http/csrf/echo", headers={"X-CSRF-Token": "Fetch"})
    foreign = other.post(acme["runtime_url"] + "/http/csrf/echo", data="x", headers={"X-CSRF-Token": csrf})
    assert foreign.status_code == 403


def test_csrf_get_without_fetch_is_processed(session, acme):
    response = session.get(acme["runtime_url"] + "/http/csrf/echo")
    assert response.status_code == 200 and response.headers["sap_messageprocessinglogid"]


@pytest.mark.parametrize("path", ["/http/does/not/exist", "/cxf/echo", "/http/soap/echo", "/other", "/"])
def test_unknown_address_or_wrong_servlet_gives_tomcat_404(btp_sandbox, session, acme, path):
    before = _mpl_count(btp_sandbox)
    response = session.post(acme["runtime_url"] + path, data=SOAP)
    assert response.status_code == 404
    assert "HTTP Status 404" in response.text and response.headers["Content-Type"].startswith("text/html")
    assert "sap_messageprocessinglogid" not in response.headers
    assert _mpl_count(btp_sandbox) == before


def test_addresses_are_case_insensitive_by_default(btp_sandbox, session, acme):
    assert session.post(acme["runtime_url"] + "/http/ECHO", data="x").status_code == 200
    btp_sandbox.config.runtime.case_sensitive_paths = True
    try:
        assert session.post(acme["runtime_url"] + "/http/ECHO", data="x").status_code == 404
        assert session.post(acme["runtime_url"] + "/http/echo", data="x").status_code == 200
    finally:
        btp_sandbox.config.runtime.case_sensitive_paths = False


def test_wildcard_address_and_custom_role(btp_sandbox, cf, conn, acme, session):
    content.add_iflow(btp_sandbox.store, "acme", {"id": "Orders_Wildcard", "address": "/orders/*",
                                                  "role": "OrdersRole", "csrf_protected": False,
                                                  "behaviour": {"kind": "json", "status": 202,
                                                                "body": {"accepted": True}}})
    try:
        # ESBMessaging.send is not enough for an iFlow that requires OrdersRole
        assert session.post(acme["runtime_url"] + "/http/orders/4711", data="x").status_code == 403
        instance = cf.create_instance(acme, "integration-flow", {"roles": ["OrdersRole"]})
        orders_token = fetch_token(conn, cf.create_key(instance)[1]["oauth"])
        response = requests.post(acme["runtime_url"] + "/http/orders/4711/items", data="x", verify=conn["ca_bundle"], timeout=10,
                                 headers={"Authorization": "Bearer " + orders_token})
        assert response.status_code == 202 and response.json() == {"accepted": True}
        assert response.headers["sap_messageprocessinglogid"]
    finally:
        content.remove_iflow(btp_sandbox.store, "acme", "Orders_Wildcard")
    assert session.post(acme["runtime_url"] + "/http/orders/4711", data="x").status_code == 404


def test_custom_status(session, acme):
    response = session.post(acme["runtime_url"] + "/http/status/created", data="x")
    assert response.status_code == 201 and response.json() == {"result": "created"}


def test_delay(session, acme):
    started = time.monotonic()
    response = session.post(acme["runtime_url"] + "/http/slow", data="slow")
    assert response.status_code == 200 and response.text == "slow"
    assert time.monotonic() - started >= 0.3


def test_method_not_allowed(session, acme):
    response = session.get(acme["runtime_url"] + "/http/products/details")
    assert response.status_code == 405


def test_soap_echo(session, acme):
    response = session.post(acme["runtime_url"] + "/cxf/soap/echo", data=SOAP,
                            headers={"Content-Type": "text/xml; charset=utf-8"})
    assert response.status_code == 200
    assert response.text == SOAP
    assert response.headers["sap_messageprocessinglogid"]


def test_soap_echo_rejects_non_envelope(session, acme):
    response = session.post(acme["runtime_url"] + "/cxf/soap/echo", data="<a/>", headers={"Content-Type": "text/xml"})
    assert response.status_code == 500
    assert "soap:Fault" in response.text


def test_no_credentials_give_401_and_no_mpl(btp_sandbox, conn, acme):
    before = _mpl_count(btp_sandbox)
    response = requests.post(acme["runtime_url"] + "/http/echo", data="x", verify=conn["ca_bundle"], timeout=10)
    assert response.status_code == 401
    bad = requests.post(acme["runtime_url"] + "/http/echo", data="x", verify=conn["ca_bundle"], timeout=10,
                        headers={"Authorization": "Bearer not-a-jwt"})
    assert bad.status_code == 401
    assert _mpl_count(btp_sandbox) == before


def test_token_of_another_tenant_is_rejected(conn, token):
    globex = tenant_info(conn, "globex")
    response = requests.post(globex["runtime_url"] + "/http/echo", data="x", verify=conn["ca_bundle"], timeout=10,
                             headers={"Authorization": "Bearer " + token})
    assert response.status_code == 401


def test_api_plan_token_is_rejected(btp_sandbox, conn, acme, api_key):
    api_token = fetch_token(conn, api_key)
    before = _mpl_count(btp_sandbox)
    response = requests.post(acme["runtime_url"] + "/http/echo", data="x", verify=conn["ca_bundle"], timeout=10,
                             headers={"Authorization": "Bearer " + api_token})
    assert response.status_code == 403
    btp_sandbox.config.runtime.api_token_status = 401
    try:
        response = requests.post(acme["runtime_url"] + "/http/echo", data="x", verify=conn["ca_bundle"], timeout=10,
                                 headers={"Authorization": "Bearer " + api_token})
        assert response.status_code == 401
    finally:
        btp_sandbox.config.runtime.api_token_status = 403
    assert _mpl_count(btp_sandbox) == before


def test_basic_auth_with_clientid_and_secret(conn, acme, flow_key, api_key):
    ok = requests.post(acme["runtime_url"] + "/http/echo", data="basic", verify=conn["ca_bundle"], timeout=10,
                       auth=(flow_key["clientid"], flow_key["clientsecret"]))
    assert ok.status_code == 200 and ok.text == "basic" and ok.headers["sap_messageprocessinglogid"]
    wrong = requests.post(acme["runtime_url"] + "/http/echo", data="x", verify=conn["ca_bundle"], timeout=10,
                          auth=(flow_key["clientid"], "nope"))
    assert wrong.status_code == 401
    api = requests.post(acme["runtime_url"] + "/http/echo", data="x", verify=conn["ca_bundle"], timeout=10,
                        auth=(api_key["clientid"], api_key["clientsecret"]))
    assert api.status_code == 403


def test_client_certificate_of_integration_flow_key(conn, cf, acme, flow_instance, tmp_path):
    oauth = cf.create_key(flow_instance, {"key-type": "certificate", "validity": 10})[1]["oauth"]
    cert, key = write_cert_files(oauth, str(tmp_path))
    response = requests.post(acme["runtime_url"] + "/http/echo", data="mtls", verify=conn["ca_bundle"], timeout=10,
                             cert=(cert, key))
    assert response.status_code == 200 and response.text == "mtls"
    assert response.headers["sap_messageprocessinglogid"]


def test_fault_rule_on_runtime_route(conn, session, acme):
    admin = conn["admin_url"]
    rule = {"route": "runtime POST /http/<path:address>", "kind": "status", "status": 503, "count": 1}
    assert requests.post(admin + "/faults", json=[rule], verify=conn["ca_bundle"], timeout=10).status_code == 201
    try:
        first = session.post(acme["runtime_url"] + "/http/echo", data="x")
        second = session.post(acme["runtime_url"] + "/http/echo", data="x")
    finally:
        requests.delete(admin + "/faults", verify=conn["ca_bundle"], timeout=10)
    assert first.status_code == 503
    assert second.status_code == 200
