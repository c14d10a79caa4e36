# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import datetime
import json

import pytest

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._service_key import (
    ServiceKeyError, cert_token_url, fix_pem, infer_plan, parse_service_key, public_view, require_plan, secret_values, to_raw,
)

x509 = pytest.importorskip("cryptography.x509")
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

IFLOW_SECRET_KEY = {
    "oauth": {
        "clientid": "sb-3f0c2d11-8a7b-4c1e-9d2f-5b6a7c8d9e01!b137126|it-rt-acme-dev-x1y2z3!b196",
        "clientsecret": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d$Q2xpZW50U2VjcmV0RmFrZVZhbHVlRm9yRW11bGF0b3I=",
        "url": "https://acme-dev-x1y2z3.it-cpi018-rt.cfapps.eu10-003.hana.ondemand.com",
        "tokenurl": "https://acme-dev-x1y2z3.authentication.eu10.hana.ondemand.com/oauth/token",
        "createdate": "2025-03-14T09:21:44.512Z",
    }
}
API_SECRET_KEY = {
    "oauth": {
        "clientid": "sb-11111111-2222-3333-4444-555555555555!b137126|it!b196",
        "clientsecret": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee$abc+def/ghi=",
        "url": "https://acme-dev-x1y2z3.it-cpi018.cfapps.eu10-003.hana.ondemand.com",
        "tokenurl": "https://acme-dev-x1y2z3.authentication.eu10.hana.ondemand.com/oauth/token",
    }
}


def _cert_and_key(days=30):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "client")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key()).serial_number(0x5A1B2C)
            .not_valid_before(now + datetime.timedelta(days=min(days, 0) - 1)).not_valid_after(now + datetime.timedelta(days=days, hours=1))
            .sign(key, hashes.SHA256()))
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()).decode()
    return cert_pem, key_pem


@pytest.fixture(scope="module")
def cert_key():
    return _cert_and_key()


def test_secret_key_integration_flow():
    creds = parse_service_key(IFLOW_SECRET_KEY)
    assert creds["plan"] == "integration-flow"
    assert creds["key_type"] == "client_secret"
    assert creds["certificate"] is None and creds["certificate_details"] is None
    assert creds["createdate"] == "2025-03-14T09:21:44.512Z"


def test_secret_key_api_plan_and_json_text():
    creds = parse_service_key(json.dumps(API_SECRET_KEY))
    assert creds["plan"] == "api"
    assert secret_values(creds) == [API_SECRET_KEY["oauth"]["clientsecret"]]


def test_every_wrapper_shape_gives_the_same_credentials():
    expected = parse_service_key(IFLOW_SECRET_KEY)
    shapes = [
        IFLOW_SECRET_KEY["oauth"],
        {"credentials": IFLOW_SECRET_KEY},
        {"raw": IFLOW_SECRET_KEY, "credentials": expected},
        expected,
        json.dumps({"credentials": IFLOW_SECRET_KEY}),
    ]
    for shape in shapes:
        assert parse_service_key(shape) == expected


def test_certificate_key_with_escaped_newlines(cert_key):
    cert_pem, key_pem = cert_key
    oauth = {
        "clientid": IFLOW_SECRET_KEY["oauth"]["clientid"],
        "certificate": (cert_pem + cert_pem).replace("\n", "\\n"),
        "key": key_pem.replace("\n", "\\n"),
        "url": IFLOW_SECRET_KEY["oauth"]["url"],
        "tokenurl": "https://acme-dev-x1y2z3.authentication.cert.eu10.hana.ondemand.com/oauth/token",
        "certificatedetails": {"issuerdn": "CN=client", "subjectdn": "CN=client", "serialnumber": "0x5A1B2C", "validuntil": "2026-03-14T09:30:02.000Z"},
    }
    text = json.dumps({"oauth": oauth}).replace("\\\\n", "\\n")
    creds = parse_service_key(text)
    assert creds["key_type"] == "certificate"
    assert creds["certificate"].count("-----BEGIN CERTIFICATE-----") == 2
    assert "\\n" not in creds["certificate"] and creds["key"] == key_pem
    details = creds["certificate_details"]
    assert details["serial"] == "0x5A1B2C"
    assert details["subject"] == "CN=client"
    assert details["days_left"] == 30
    assert details["not_after"].endswith("Z") and not details["expired"]
    assert details["sap"]["validuntil"] == "2026-03-14T09:30:02.000Z"
    raw = to_raw(creds)
    assert raw["oauth"]["certificatedetails"] == oauth["certificatedetails"]
    assert parse_service_key(raw) == creds


def test_external_certificate_has_no_key(cert_key):
    cert_pem, _key = cert_key
    creds = parse_service_key({"oauth": {"clientid": "sb-x!b1|it-rt-a!b196", "certificate": cert_pem, "url": "https://a-rt.x", "tokenurl": "https://t"}})
    assert creds["key_type"] == "external_certificate"
    assert secret_values(creds) == []


def test_expired_certificate_reports_negative_days():
    cert_pem, _key = _cert_and_key(days=-3)
    creds = parse_service_key({"oauth": {"clientid": "sb-x!b1|it!b196", "certificate": cert_pem, "url": "https://a", "tokenurl": "https://t"}})
    assert creds["certificate_details"]["expired"] is True
    assert creds["certificate_details"]["days_left"] < 0


@pytest.mark.parametrize("value, message", [
    ("", "empty"),
    ("{not json", "not valid JSON"),
    ("[1]", "expected a service key object"),
    ({"oauth": "x"}, "must be an object"),
    ({"oauth": {"clientid": "a", "tokenurl": "t"}}, "lacks 'url'"),
    ({"oauth": {"clientid": "a", "url": "u", "tokenurl": "t"}}, "neither 'clientsecret' nor 'certificate'"),
    ({"oauth": {"clientid": "a", "url": "u", "tokenurl": "t", "certificate": "garbage"}}, "not a PEM certificate"),
    ({"oauth": {"clientid": 5, "url": "u", "tokenurl": "t", "clientsecret": "s"}}, "'clientid' must be a string"),
])
def test_bad_keys_are_explained(value, message):
    with pytest.raises(ServiceKeyError) as info:
        parse_service_key(value, option="service_key")
    assert message in str(info.value)
    assert str(info.value).startswith("service_key: ")


def test_require_wrapper():
    with pytest.raises(ServiceKeyError) as info:
        parse_service_key(IFLOW_SECRET_KEY["oauth"], require_wrapper=True)
    assert "no 'oauth' block" in str(info.value)
    assert parse_service_key(IFLOW_SECRET_KEY, require_wrapper=True)["plan"] == "integration-flow"


def test_plan_inference_and_checks():
    assert infer_plan("sb-1!b1|it-rt-sub!b196") == "integration-flow"
    assert infer_plan("sb-1!b1|it!b196") == "api"
    assert infer_plan("custom", "https://sub.it-cpi018-rt.cfapps.eu10.hana.ondemand.com") == "integration-flow"
    assert infer_plan("custom", "https://sub.it-cpi018.cfapps.eu10.hana.ondemand.com") == "api"
    assert infer_plan("custom", "https://127.0.0.1:8443") is None
    creds = parse_service_key(API_SECRET_KEY)
    require_plan(creds, "api", "the OData API")
    with pytest.raises(ServiceKeyError) as info:
        require_plan(creds, "integration-flow", "an iFlow call")
    assert "'api' key" in str(info.value) and "'-rt' runtime host" in str(info.value)


def test_cert_token_url():
    assert cert_token_url("https://a.authentication.eu10.hana.ondemand.com/oauth/token") == "https://a.authentication.cert.eu10.hana.ondemand.com/oauth/token"
    assert cert_token_url("https://a.authentication.cert.eu10.hana.ondemand.com/oauth/token").count(".cert.") == 1
    assert cert_token_url("https://127.0.0.1:9443/oauth/token") is None


def test_public_view_masks_secrets():
    creds = parse_service_key(IFLOW_SECRET_KEY)
    view = public_view(creds)
    assert view["clientsecret"] == "********" and view["clientid"] == creds["clientid"]


def test_fix_pem():
    assert fix_pem("a\\nb") == "a\nb\n"
    assert fix_pem(None) is None
