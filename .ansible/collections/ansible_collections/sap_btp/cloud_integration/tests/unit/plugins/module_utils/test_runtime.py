# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import base64

import pytest

requests = pytest.importorskip("requests")

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils import _runtime  # noqa: E402
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._errors import ParameterError  # noqa: E402
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._http import HttpClient  # noqa: E402
from ansible_collections.sap_btp.cloud_integration.tests.unit.plugins.http_fakes import FakeSession, fake_response  # noqa: E402

RT = "https://acme-dev.it-cpi018-rt.cfapps.eu10-003.hana.ondemand.com"
CREDS = {"clientid": "sb-x!b1|it-rt-acme!b196", "clientsecret": "s3cr3t$abc", "certificate": None, "key": None}


@pytest.mark.parametrize("path, expected", [
    ("/orders", RT + "/http/orders"),
    ("orders/new", RT + "/http/orders/new"),
    ("/http/orders", RT + "/http/orders"),
    ("/cxf/soap/echo", RT + "/cxf/soap/echo"),
    ("/HTTP/Orders", RT + "/HTTP/Orders"),
    ("/httpbin", RT + "/http/httpbin"),
])
def test_iflow_url(path, expected):
    assert _runtime.iflow_url(RT, path) == expected


def test_iflow_url_without_path_needs_a_full_url():
    assert _runtime.iflow_url(RT + "/http/orders") == RT + "/http/orders"
    with pytest.raises(ParameterError, match="path"):
        _runtime.iflow_url(RT)
    with pytest.raises(ParameterError, match="empty"):
        _runtime.iflow_url(RT, "/")
    with pytest.raises(ParameterError, match="url"):
        _runtime.iflow_url(None, "/x")


def test_mpl_id_from_header_or_500_body():
    assert _runtime.mpl_id_from({"sap_messageprocessinglogid": "AGpyvUXKUZJ-xCKXdYXps-l8FDTq"}, "") == "AGpyvUXKUZJ-xCKXdYXps-l8FDTq"
    body = ("An internal server error occured: The MPL ID for the failed message is : AGk_xKgivsDaGSUpuvz-eEFzhKZO\n"
            "For more details please check tail log.")
    assert _runtime.mpl_id_from({}, body) == "AGk_xKgivsDaGSUpuvz-eEFzhKZO"
    assert _runtime.mpl_id_from({}, "<html>404</html>") is None


def test_encode_body(tmp_path):
    assert _runtime.encode_body({"a": 1}, "auto", None, {}) == (b'{"a": 1}', "application/json")
    assert _runtime.encode_body("<x/>", "auto", None, {}) == (b"<x/>", "text/plain; charset=utf-8")
    assert _runtime.encode_body('{"a": 1}', "json", None, {}) == (b'{"a": 1}', "application/json")
    with pytest.raises(ParameterError, match="not valid JSON"):
        _runtime.encode_body("{nope", "json", None, {})
    src = tmp_path / "body.xml"
    src.write_bytes(b"<soap/>")
    assert _runtime.encode_body(None, "auto", str(src), {}) == (b"<soap/>", None)
    with pytest.raises(ParameterError, match="src"):
        _runtime.encode_body(None, "auto", str(tmp_path / "missing"), {})
    assert _runtime.encode_body(None, "auto", None, {}) == (None, None)


def response(status, body=b"", headers=None, content_type="text/plain"):
    return fake_response(status, body, headers, url=RT + "/http/x", method="POST", content_type=content_type)


def caller(outcomes, auth="oauth", creds=None, tokens=None):
    tokens = tokens if tokens is not None else ["tok-1", "tok-2"]
    issued = []

    def source(refresh):
        issued.append(refresh)
        return tokens[len(issued) - 1]
    http = HttpClient(session=FakeSession(outcomes), sleep=lambda s: None)
    return _runtime.IflowCaller(http, creds or CREDS, auth=auth, token_source=source), issued


def test_csrf_handshake_on_403_required():
    iflow, _issued = caller([
        response(403, b"<html>Forbidden</html>", {"X-CSRF-Token": "required"}, "text/html"),
        response(200, b"", {"X-CSRF-Token": "csrf-123"}),
        response(200, b'{"ok": true}', {"sap_messageprocessinglogid": "AMPL"}, "application/json"),
    ])
    result, elapsed = iflow.call("POST", RT + "/http/x", headers={"Content-Type": "application/json"}, data=b"{}")
    calls = iflow.http.session.calls
    assert result.status_code == 200 and iflow.csrf_handshake and elapsed >= 0
    assert calls[1]["method"] == "GET" and calls[1]["headers"]["X-CSRF-Token"] == "Fetch" and calls[1]["data"] is None
    assert calls[2]["headers"]["X-CSRF-Token"] == "csrf-123" and calls[2]["headers"]["Authorization"] == "Bearer tok-1"
    assert _runtime.parse_body(result) == {"ok": True}


def test_a_role_403_is_not_a_csrf_case():
    iflow, _issued = caller([response(403, b"<html>Forbidden</html>", content_type="text/html")])
    result, _elapsed = iflow.call("POST", RT + "/http/x", data=b"{}")
    assert result.status_code == 403 and not iflow.csrf_handshake and len(iflow.http.session.calls) == 1


def test_401_with_a_cached_token_fetches_a_new_one_once():
    iflow, issued = caller([response(401), response(401)])
    result, _elapsed = iflow.call("GET", RT + "/http/x")
    calls = iflow.http.session.calls
    assert result.status_code == 401 and issued == [False, True] and len(calls) == 2
    assert calls[1]["headers"]["Authorization"] == "Bearer tok-2"


def test_basic_and_certificate_auth():
    iflow, issued = caller([response(200)], auth="basic")
    iflow.call("POST", RT + "/http/x")
    header = iflow.http.session.calls[0]["headers"]["Authorization"]
    assert base64.b64decode(header.split()[1]).decode() == "%s:%s" % (CREDS["clientid"], CREDS["clientsecret"]) and issued == []
    cert_creds = dict(CREDS, clientsecret=None, certificate="-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n",
                      key="-----BEGIN RSA PRIVATE KEY-----\ny\n-----END RSA PRIVATE KEY-----\n")
    iflow, issued = caller([response(200)], auth="certificate", creds=cert_creds)
    iflow.call("POST", RT + "/http/x")
    call = iflow.http.session.calls[0]
    assert "Authorization" not in call["headers"] and len(call["cert"]) == 2 and issued == []


def test_auth_checks_before_sending():
    with pytest.raises(ParameterError, match="client secret"):
        caller([], auth="basic", creds=dict(CREDS, clientsecret=None))[0].check()
    with pytest.raises(ParameterError, match="certificate"):
        caller([], auth="certificate")[0].check()


def test_post_is_not_resent_after_a_503():
    iflow, _issued = caller([response(503)])
    result, _elapsed = iflow.call("POST", RT + "/http/x", data=b"{}")
    assert result.status_code == 503 and len(iflow.http.session.calls) == 1
    iflow, _issued = caller([response(503), response(200)])
    result, _elapsed = iflow.call("GET", RT + "/http/x")
    assert result.status_code == 200 and len(iflow.http.session.calls) == 2


@pytest.mark.parametrize("status, fragment", [
    (401, "did not accept the credentials"),
    (403, "ESBMessaging.send"),
    (404, "/cxf/"),
    (500, "message_processing_log_info"),
])
def test_failure_messages(status, fragment):
    message = _runtime.failure_message("POST", RT + "/http/x?secret=1", status, [200], "body text", "AMPL" if status == 500 else None, False)
    assert fragment in message and "HTTP %d" % status in message and "secret=1" not in message
