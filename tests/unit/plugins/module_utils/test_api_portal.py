# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""API portal keys (_service_key) and the API provider logic of _api_portal without HTTP."""
from __future__ import annotations

import json

import pytest

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils import _api_portal, _formats, _it_rt
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._errors import ParameterError
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._service_key import (
    PLAN_APIPORTAL, ServiceKeyError, parse_raw_service_key, parse_service_key, secret_values, to_raw,
)

PORTAL_KEY = {
    "url": "https://acme-dev.prod.apimanagement.eu10.hana.ondemand.com",
    "tokenUrl": "https://acme-dev.authentication.eu10.hana.ondemand.com/oauth/token",
    "clientId": "sb-9d0c!b1|apiportal-apiaccess!b2458",
    "clientSecret": "5f1e$c2VjcmV0LXZhbHVl",
}
API_CREDS = {
    "clientid": "sb-1111!b137126|it!b196", "clientsecret": "api-secret$value",
    "url": "https://acme-dev.it-cpi018.cfapps.eu10-003.hana.ondemand.com",
    "tokenurl": "https://acme-dev.authentication.eu10.hana.ondemand.com/oauth/token", "plan": "api",
}


def test_flat_portal_key_is_normalised_like_it_rt_keys():
    creds = parse_service_key(PORTAL_KEY)
    assert creds["plan"] == PLAN_APIPORTAL and creds["key_type"] == "client_secret"
    assert (creds["clientid"], creds["clientsecret"], creds["tokenurl"], creds["url"]) == (
        PORTAL_KEY["clientId"], PORTAL_KEY["clientSecret"], PORTAL_KEY["tokenUrl"], PORTAL_KEY["url"])
    assert creds["clientsecret"] in secret_values(creds) and PORTAL_KEY["clientSecret"] in secret_values(PORTAL_KEY)


@pytest.mark.parametrize("shape", ["flat", "credentials", "json", "raw"])
def test_every_shape_gives_the_flat_raw_back(shape):
    given = {"flat": dict(PORTAL_KEY), "credentials": {"credentials": dict(PORTAL_KEY)}, "json": json.dumps(PORTAL_KEY),
             "raw": {"raw": dict(PORTAL_KEY)}}[shape]
    raw, creds = parse_raw_service_key(given, require_wrapper=True)
    assert raw == PORTAL_KEY and to_raw(creds) == PORTAL_KEY
    assert _formats.key_fields(raw) == PORTAL_KEY


def test_x509_portal_key_uses_certurl():
    key = {"url": PORTAL_KEY["url"], "clientId": PORTAL_KEY["clientId"],
           "certurl": "https://acme-dev.authentication.cert.eu10.hana.ondemand.com",
           "certificate": "-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----",
           "privateKey": "-----BEGIN PRIVATE KEY-----\\nMIIE\\n-----END PRIVATE KEY-----"}
    creds = parse_service_key(key, details=False)
    assert creds["key_type"] == "certificate" and creds["tokenurl"].endswith(".cert.eu10.hana.ondemand.com/oauth/token")
    assert creds["key"].startswith("-----BEGIN PRIVATE KEY-----\n")
    assert to_raw(creds)["certurl"] == key["certurl"]


@pytest.mark.parametrize("key, fragment", [
    ({"clientId": "x", "url": "https://a"}, "neither 'clientSecret'"),
    ({"clientId": "x", "clientSecret": "s3cr", "url": "https://a"}, "'tokenUrl'"),
    ({"clientId": "x", "clientSecret": "s3cr", "tokenUrl": "https://t"}, "'url'"),
])
def test_incomplete_portal_keys_are_rejected(key, fragment):
    with pytest.raises(ServiceKeyError) as err:
        parse_service_key(key, option="apiportal_key")
    assert fragment in str(err.value) and str(err.value).startswith("apiportal_key")


def test_instance_parameters_of_the_offering():
    assert _it_rt.build_instance_parameters("apimanagement-apiportal", "apiportal-apiaccess", {}, {"role": "APIPortal.Guest"}) == {
        "role": "APIPortal.Guest"}
    with pytest.raises(ParameterError) as err:
        _it_rt.build_instance_parameters("apimanagement-apiportal", "apiportal-apiaccess", {}, {"role": "Admin"})
    assert "APIPortal.Administrator" in str(err.value)
    with pytest.raises(ParameterError):
        _it_rt.build_instance_parameters("apimanagement-apiportal", "apiportal-apiaccess", {"roles": ["X"]}, None)
    with pytest.raises(ParameterError) as err:
        _it_rt.build_instance_parameters("apimanagement-apiportal", "standard", {}, {"role": "APIPortal.Guest"})
    assert err.value.option == "plan"


def _params(**extra):
    params = {"name": "cpi", "title": None, "description": "", "provider_type": "cloud_integration", "auth": "oauth2_client_credentials",
              "dest_type": "INTERNET", "path_prefix": "/api/v1"}
    params.update(extra)
    return params


def test_desired_provider_points_at_the_management_host():
    entity = _api_portal.desired_provider(_params(), API_CREDS)
    assert (entity["host"], entity["port"], entity["useSSL"], entity["pathPrefix"]) == (
        "acme-dev.it-cpi018.cfapps.eu10-003.hana.ondemand.com", 443, True, "/api/v1")
    assert entity["authType"] == "OAuth2ClientCredentials" and entity["clientSecret"] == API_CREDS["clientsecret"]
    assert entity["title"] == "cpi"
    fp = _api_portal.additional(entity)[_api_portal.FINGERPRINT_PROPERTY]
    assert fp.startswith("sha256:") and API_CREDS["clientsecret"] not in json.dumps(_api_portal.public_view(entity))
    basic = _api_portal.desired_provider(_params(auth="basic"), API_CREDS)
    assert basic["userName"] == API_CREDS["clientid"] and basic["clientId"] is None


def test_differences_compare_readable_fields_and_the_fingerprint():
    desired = _api_portal.desired_provider(_params(), API_CREDS)
    read_back = dict(desired, clientSecret=None, additionalProperties={"results": [
        {"name": _api_portal.FINGERPRINT_PROPERTY, "value": _api_portal.additional(desired)[_api_portal.FINGERPRINT_PROPERTY]}]})
    assert _api_portal.differences(read_back, desired) == []
    rotated = _api_portal.desired_provider(_params(), dict(API_CREDS, clientsecret="another$secret"))
    assert _api_portal.differences(read_back, rotated) == ["credential_fingerprint"]
    assert _api_portal.differences(dict(read_back, title="Old"), desired) == ["title"]
    # a secret that the API does return is compared as well
    assert "clientSecret" in _api_portal.differences(dict(read_back, clientSecret="stale"), desired)


@pytest.mark.parametrize("params, option", [
    (_params(provider_type="open_connectors"), "provider_type"),
    (_params(name="x" * 195), "name"),
    (_params(name="cpi--next"), "name"),
])
def test_bad_provider_input_names_the_option(params, option):
    with pytest.raises(ParameterError) as err:
        _api_portal.desired_provider(params, API_CREDS)
    assert err.value.option == option
