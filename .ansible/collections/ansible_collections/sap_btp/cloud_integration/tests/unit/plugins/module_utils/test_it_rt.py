# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils import _it_rt
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._errors import ParameterError


def build(plan, **typed):
    warnings = []
    return _it_rt.build_instance_parameters("it-rt", plan, typed, warn=warnings.append), warnings


def test_role_enum_has_41_roles():
    assert len(_it_rt.API_ROLES) == 41 and len(set(_it_rt.API_ROLES)) == 41
    assert "MonitoringDataRead" in _it_rt.API_ROLES and "AuthGroup_IntegrationDeveloper" in _it_rt.API_ROLES


def test_api_plan_defaults_filled():
    params, dummy = build("api", roles=["MonitoringDataRead"])
    assert params == {"roles": ["MonitoringDataRead"], "grant-types": ["client_credentials"], "redirect-uris": [], "token-validity": 43200}


def test_iflow_plan_defaults_and_custom_roles():
    params, dummy = build("integration-flow", token_validity=7200)
    assert params == {"roles": ["ESBMessaging.send"], "grant-types": ["client_credentials"], "redirect-uris": [], "token-validity": 7200}
    params, dummy = build("integration-flow", roles=["ESBMessaging.send", "Partner.Orders"])
    assert params["roles"] == ["ESBMessaging.send", "Partner.Orders"]


def test_no_parameter_options_means_unmanaged():
    assert build("integration-flow")[0] is None


@pytest.mark.parametrize("typed, option, fragment", [
    ({"roles": ["MonitoringDataReed"]}, "roles", "did you mean 'MonitoringDataRead'"),
    ({"roles": ["AuthGroup.IntegrationDeveloper"]}, "roles", "did you mean 'AuthGroup_IntegrationDeveloper'"),
    ({"roles": ["monitoringdataread"]}, "roles", "did you mean 'MonitoringDataRead'"),
    ({"roles": []}, "roles", "at least one role"),
    ({"roles": ["MonitoringDataRead", "MonitoringDataRead"]}, "roles", "listed twice"),
    ({"grant_types": ["client_x509"], "roles": ["MonitoringDataRead"]}, "grant_types", "'client_x509' is deprecated"),
    ({"grant_types": ["client_credential"], "roles": ["MonitoringDataRead"]}, "grant_types", "did you mean 'client_credentials'"),
    ({"token_validity": 3599, "roles": ["MonitoringDataRead"]}, "token_validity", "got 3599"),
    ({"token_validity": 86401, "roles": ["MonitoringDataRead"]}, "token_validity", "between 3600 and 86400"),
    ({"redirect_uris": ["not a uri"], "roles": ["MonitoringDataRead"]}, "redirect_uris", "'not a uri' is not an absolute URI"),
    ({"token_validity": 7200}, "roles", "plan 'api' needs at least one role"),
])
def test_api_validation_errors_name_option_and_value(typed, option, fragment):
    with pytest.raises(ParameterError) as info:
        build("api", **typed)
    assert info.value.option == option
    assert str(info.value).startswith(option + ": ")
    assert fragment in str(info.value)


def test_iflow_role_with_space_rejected():
    with pytest.raises(ParameterError, match="^roles: 'ESB send' contains white space"):
        build("integration-flow", roles=["ESB send"])


def test_unconfirmed_2026_role_warns():
    params, warnings = build("api", roles=["UserRolesEdit"])
    assert params["roles"] == ["UserRolesEdit"] and "not confirmed" in warnings[0]


def test_password_grant_with_api_warns():
    dummy, warnings = build("api", roles=["MonitoringDataRead"], grant_types=["password"])
    assert "password" in warnings[0]


def test_bad_plan():
    with pytest.raises(ParameterError, match="^plan: 'iflow' is not a plan of it-rt"):
        build("iflow", roles=["x"])


def test_raw_parameters_for_it_rt_are_validated():
    with pytest.raises(ParameterError, match="^parameters: unknown it-rt parameter\\(s\\) 'scopes'"):
        _it_rt.build_instance_parameters("it-rt", "api", {}, {"roles": ["MonitoringDataRead"], "scopes": []})
    with pytest.raises(ParameterError, match="^parameters.grant-types: 'client_x509' is deprecated"):
        _it_rt.build_instance_parameters("it-rt", "api", {}, {"roles": ["MonitoringDataRead"], "grant-types": ["client_x509"]})
    params = _it_rt.build_instance_parameters("it-rt", "api", {}, {"roles": ["MonitoringDataRead"], "token-validity": 3600})
    assert params["token-validity"] == 3600 and params["grant-types"] == ["client_credentials"]


def test_typed_options_only_for_it_rt():
    with pytest.raises(ParameterError, match="^roles: only applies to offering 'it-rt'"):
        _it_rt.build_instance_parameters("destination", "lite", {"roles": ["x"]})
    assert _it_rt.build_instance_parameters("destination", "lite", {}, {"a": 1}) == {"a": 1}


def test_parameters_match_ignores_order_and_defaults():
    desired, dummy = build("integration-flow", roles=["b", "a"])
    assert _it_rt.parameters_match("it-rt", "integration-flow", desired, {"roles": ["a", "b"]})
    assert not _it_rt.parameters_match("it-rt", "integration-flow", desired, {"roles": ["a"]})
    assert _it_rt.parameters_match("destination", "lite", {"a": 1}, {"a": 1, "extra": 2}, exact=False)
    assert not _it_rt.parameters_match("destination", "lite", {"a": 1}, {"a": 2}, exact=False)


@pytest.mark.parametrize("args, expected", [
    (("client_secret",), {}),
    (("certificate", 90, 4096), {"key-type": "certificate", "validity": 90, "key-length": 4096}),
    (("certificate",), {"key-type": "certificate"}),
    (("external_certificate", None, None, "PEM"), {"key-type": "certificate_external", "X.509": "PEM"}),
])
def test_key_parameters(args, expected):
    assert _it_rt.build_key_parameters(*args) == expected


@pytest.mark.parametrize("kwargs, option", [
    ({"key_type": "client_secret", "validity_days": 30}, "validity_days"),
    ({"key_type": "certificate", "validity_days": 0}, "validity_days"),
    ({"key_type": "certificate", "validity_days": 366}, "validity_days"),
    ({"key_type": "certificate", "key_length": 1024}, "key_length"),
    ({"key_type": "certificate", "certificate_pem": "x"}, "certificate"),
    ({"key_type": "certificate", "extra": {"validity": 3}}, "parameters"),
    ({"key_type": "rsa"}, "key_type"),
])
def test_key_parameter_errors(kwargs, option):
    with pytest.raises(ParameterError) as info:
        _it_rt.build_key_parameters(**kwargs)
    assert info.value.option == option


def test_names():
    with pytest.raises(ParameterError, match="^name: service key names of it-rt have at most 32 characters"):
        _it_rt.validate_key_name("k" * 33)
    with pytest.raises(ParameterError, match="comma"):
        _it_rt.validate_instance_name("a,b")
    warnings = []
    _it_rt.validate_instance_name("has space", warn=warnings.append)
    assert warnings
