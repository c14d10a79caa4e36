# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""module_utils/_destination_service.py and _security_material.py: inputs checked before any request."""
from __future__ import annotations

import base64
import json

import pytest

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils import _destination_service as dest
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils import _security_material as sm
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._errors import ParameterError

KEY = {"clientid": "sb-x!b17|destination-xsappname!b404", "clientsecret": "dest-secret-1234",
       "url": "https://acme.authentication.eu10.hana.ondemand.com/", "uri": "https://destination-configuration.cfapps.eu10.hana.ondemand.com/"}


def _params(**values):
    params = {name: None for name in dest.destination_argument_spec()}
    params.update(values)
    return params


def test_destination_key_from_dict_json_and_file(tmp_path):
    creds = dest.destination_key(_params(destination_service_key=KEY))
    assert creds["tokenurl"] == "https://acme.authentication.eu10.hana.ondemand.com/oauth/token"
    assert creds["uri"] == "https://destination-configuration.cfapps.eu10.hana.ondemand.com"
    assert dest.destination_key(_params(destination_service_key=json.dumps({"credentials": KEY}))) == creds
    path = tmp_path / "key.json"
    path.write_text(json.dumps(KEY), encoding="utf-8")
    assert dest.destination_key(_params(destination_service_key_path=str(path))) == creds


@pytest.mark.parametrize("value, fragment", [
    (None, "plan lite"),
    ("not json", "dictionary or JSON"),
    ({"clientid": "a", "clientsecret": "b", "url": "https://x"}, "'uri' is missing"),
    ({"clientid": "a", "url": "https://x", "uri": "https://y"}, "neither clientsecret nor certificate"),
])
def test_destination_key_errors_name_the_option(value, fragment):
    with pytest.raises(ParameterError) as caught:
        dest.destination_key(_params(destination_service_key=value))
    assert caught.value.option == "destination_service_key"
    assert fragment in str(caught.value)


@pytest.mark.parametrize("name", ["orders destination", "", "a/b", "x" * 201])
def test_destination_names_are_checked(name):
    with pytest.raises(ParameterError) as caught:
        dest.check_name(name)
    assert caught.value.option == "name"


def test_public_view_hides_secrets():
    view = dest.public_view({"clientSecret": "s3cret-value", "tokenService.KeyStorePassword": "pw-value", "URL": "https://rt"})
    assert view["URL"] == "https://rt"
    assert view["clientSecret"].startswith("sha256:") and view["tokenService.KeyStorePassword"].startswith("sha256:")


def test_fingerprint_in_description_round_trips():
    text = sm.marked_description("Managed by me", "sha256:0123456789abcdef")
    assert text == "Managed by me [sap_btp.cloud_integration sha256:0123456789abcdef]"
    assert sm.stored_fingerprint(text) == "sha256:0123456789abcdef"
    assert sm.stored_fingerprint("edited by hand") is None


def _token(scopes):
    body = base64.urlsafe_b64encode(json.dumps({"scope": scopes}).encode()).decode().rstrip("=")
    return "e30.%s.sig" % body


def test_roles_are_checked_in_the_token():
    sm.check_roles(_token(["it!b196.CredentialsEdit", "it!b196.MonitoringDataRead"]), "target_service_key", write=True)
    sm.check_roles(_token(["it!b196.AuthGroup_Administrator"]), "target_service_key", write=True)
    with pytest.raises(ParameterError) as caught:
        sm.check_roles(_token(["it!b196.MonitoringDataRead"]), "target_service_key_path", write=True)
    assert caught.value.option == "target_service_key_path" and "CredentialsEdit" in str(caught.value)
    sm.check_roles(_token(["it!b196.MonitoringDataRead"]), "target_service_key", write=False)


@pytest.mark.parametrize("name", ["with space", "", "a'b"])
def test_artifact_names_are_checked(name):
    with pytest.raises(ParameterError):
        sm.check_name(name)
