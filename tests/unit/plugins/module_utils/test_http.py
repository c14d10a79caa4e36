# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import os
import stat

import pytest

requests = pytest.importorskip("requests")

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._errors import ApiError  # noqa: E402
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._http import (  # noqa: E402
    USER_AGENT, HttpClient, backoff_delay, client_cert_files, parse_retry_after,
)
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._redact import Redactor  # noqa: E402
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._version import COLLECTION_VERSION  # noqa: E402
from ansible_collections.sap_btp.cloud_integration.tests.unit.plugins.http_fakes import FakeSession, fake_response  # noqa: E402


def make_response(status, body=b"", headers=None, url="https://api.example/v3/x", method="GET"):
    return fake_response(status, body, headers, url=url, method=method)


def client(outcomes, **kwargs):
    sleeps = []
    http = HttpClient(session=FakeSession(outcomes), sleep=sleeps.append, **kwargs)
    return http, sleeps


def test_defaults_timeout_verify_and_user_agent():
    http, _unused = client([make_response(200, {"ok": True})], timeout=7)
    data, _unused = http.json("GET", "https://api.example/v3/x")
    call = http.session.calls[0]
    assert data == {"ok": True}
    assert call["timeout"] == 7
    assert call["verify"] is True
    assert call["headers"]["User-Agent"] == USER_AGENT
    assert USER_AGENT == "sap_btp.cloud_integration/%s" % COLLECTION_VERSION


def test_ca_path_and_validate_certs_and_client_cert():
    http, _unused = client([make_response(200)], ca_path="/tmp/ca.pem", client_cert=("/c.pem", "/k.pem"))
    http.request("GET", "https://x")
    assert http.session.calls[0]["verify"] == "/tmp/ca.pem"
    assert http.session.calls[0]["cert"] == ("/c.pem", "/k.pem")
    http2, _unused = client([make_response(200)], validate_certs=False, ca_path="/tmp/ca.pem")
    http2.request("GET", "https://x")
    assert http2.session.calls[0]["verify"] is False


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_get_is_retried_on_transient_status(status):
    http, sleeps = client([make_response(status), make_response(status), make_response(200, {"a": 1})])
    data, _unused = http.json("GET", "https://x")
    assert data == {"a": 1}
    assert len(http.session.calls) == 3
    assert len(sleeps) == 2


def test_retry_after_is_honoured():
    http, sleeps = client([make_response(429, headers={"Retry-After": "3"}), make_response(200)], backoff=0.01)
    http.request("GET", "https://x")
    assert sleeps == [3.0]


def test_post_is_not_resent_after_503_but_is_after_429():
    http, sleeps = client([make_response(503, method="POST")])
    with pytest.raises(ApiError) as info:
        http.request("POST", "https://x", expected=(201,))
    assert info.value.status == 503
    assert len(http.session.calls) == 1 and sleeps == []
    http, sleeps = client([make_response(429, method="POST"), make_response(201, method="POST")])
    assert http.request("POST", "https://x", expected=(201,)).status_code == 201
    assert len(http.session.calls) == 2


def test_post_declared_safe_is_retried():
    http, _unused = client([make_response(503, method="POST"), make_response(200, method="POST")])
    assert http.request("POST", "https://x", retry_safe=True).status_code == 200


def test_connection_errors_retry_rules():
    reset = requests.exceptions.ConnectionError("Connection reset by peer")
    http, _unused = client([reset, make_response(200)])
    assert http.request("GET", "https://x").status_code == 200
    http, _unused = client([requests.exceptions.ConnectionError("Connection reset by peer")])
    with pytest.raises(ApiError) as info:
        http.request("POST", "https://x")
    assert "could not be reached" in str(info.value)
    http, _unused = client([requests.exceptions.ConnectTimeout("connect timeout"), make_response(201)])
    assert http.request("POST", "https://x").status_code == 201


def test_retries_are_bounded():
    http, sleeps = client([make_response(503)] * 4, retries=3)
    with pytest.raises(ApiError):
        http.request("GET", "https://x", expected=(200,))
    assert len(http.session.calls) == 4 and len(sleeps) == 3


def test_tls_error_is_not_retried_and_explains():
    http, _unused = client([requests.exceptions.SSLError("certificate verify failed")])
    with pytest.raises(ApiError) as info:
        http.request("GET", "https://x/path?client_secret=abc")
    assert "ca_path" in str(info.value)
    assert "client_secret" not in str(info.value)


@pytest.mark.parametrize("text", [
    "[SSL: SSLV3_ALERT_BAD_CERTIFICATE] sslv3 alert bad certificate (_ssl.c:2580)",
    "[SSL: TLSV1_ALERT_CERTIFICATE_EXPIRED] tlsv1 alert certificate expired",
    "[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] tlsv13 alert certificate required",
    "[SSL: TLSV1_ALERT_UNKNOWN_CA] tlsv1 alert unknown ca",
])
def test_rejected_client_certificate_is_told_apart_from_an_untrusted_server(text):
    http, _unused = client([requests.exceptions.SSLError(text)])
    with pytest.raises(ApiError) as info:
        http.request("POST", "https://x.authentication.cert.example/oauth/token", cert=("c.pem", "k.pem"))
    assert "rejected the client certificate" in str(info.value) and "check ca_path" not in info.value.hint
    # the same alert without a client certificate, and a server certificate this host does not trust, are trust problems
    http, _unused = client([requests.exceptions.SSLError(text)])
    with pytest.raises(ApiError, match="check ca_path"):
        http.request("POST", "https://x.example/oauth/token")
    http, _unused = client([requests.exceptions.SSLError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")])
    with pytest.raises(ApiError, match="check ca_path"):
        http.request("POST", "https://x.example/oauth/token", cert=("c.pem", "k.pem"))


def test_connection_error_detail_is_scrubbed():
    redactor = Redactor().add("supersecretvalue")
    http, _unused = client([requests.exceptions.ConnectionError("failed for supersecretvalue")], retries=0, redactor=redactor)
    with pytest.raises(ApiError) as info:
        http.request("GET", "https://x")
    assert "supersecretvalue" not in info.value.detail


def test_error_message_from_cf_envelope():
    body = {"errors": [{"code": 10010, "title": "CF-ResourceNotFound", "detail": "Service instance not found"}]}
    http, _unused = client([make_response(404, body, url="https://api.example/v3/service_instances/abc")])
    with pytest.raises(ApiError) as info:
        http.request("GET", "https://api.example/v3/service_instances/abc", context="Reading instance", expected=(200,))
    message = str(info.value)
    assert message.startswith("Reading instance failed: HTTP 404 CF-ResourceNotFound (code 10010): Service instance not found")
    assert info.value.code == 10010


def test_json_rejects_html():
    http, _unused = client([make_response(200, b"<html>login</html>", headers={"Content-Type": "text/html"})])
    with pytest.raises(ApiError) as info:
        http.json("GET", "https://x")
    assert "expected JSON" in str(info.value)


def test_parse_retry_after_forms():
    assert parse_retry_after(None) is None
    assert parse_retry_after("5") == 5.0
    assert parse_retry_after("garbage") is None
    assert parse_retry_after("100000") == 120.0
    # Cloud Controller's rate limiter: Retry-After = X-RateLimit-Reset, epoch seconds (CCNG middleware/rate_limiter.rb)
    assert parse_retry_after("1445412480", now=1445412475.0) == 5.0
    assert parse_retry_after("1445412400", now=1445412475.0) == 0.0
    assert parse_retry_after("1445419999", now=1445412475.0) == 120.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412475.0) == 5.0


def test_backoff_is_exponential_with_jitter_and_capped():
    assert backoff_delay(0, 0.5, 20, rng=lambda: 1.0) == 0.5
    assert backoff_delay(3, 0.5, 20, rng=lambda: 1.0) == 4.0
    assert backoff_delay(10, 0.5, 20, rng=lambda: 1.0) == 20
    assert backoff_delay(3, 0.5, 20, rng=lambda: 0.25) == 1.0


def test_client_cert_files_are_private_and_removed():
    with client_cert_files("CERT", "KEY") as (cert, key):
        assert open(cert).read() == "CERT" and open(key).read() == "KEY"
        assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(os.path.dirname(key)).st_mode) == 0o700
    assert not os.path.exists(cert) and not os.path.exists(os.path.dirname(key))
