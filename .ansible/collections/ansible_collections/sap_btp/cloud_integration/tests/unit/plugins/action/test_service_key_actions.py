# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

from ansible_collections.sap_btp.cloud_integration.plugins.action.service_key import ActionModule as KeyAction
from ansible_collections.sap_btp.cloud_integration.plugins.action.service_key_info import ActionModule as KeyInfoAction


def test_service_key_censors_only_results_with_secrets():
    assert KeyAction.MODULE == "sap_btp.cloud_integration.service_key"
    assert KeyAction.result_has_secrets(None, {}, {"secrets_returned": True, "credentials": {"clientsecret": "x"}}) is True
    assert KeyAction.result_has_secrets(None, {}, {"secrets_returned": False, "credentials": {"clientsecret": "********"}}) is False
    assert KeyAction.result_has_secrets(None, {}, {"failed": True, "msg": "x"}) is False


def test_service_key_info_censors_when_credentials_are_included():
    assert KeyInfoAction.MODULE == "sap_btp.cloud_integration.service_key_info"
    assert KeyInfoAction.result_has_secrets(None, {}, {"service_keys": [{"name": "k", "credentials": None}]}) is False
    assert KeyInfoAction.result_has_secrets(None, {}, {"service_keys": [{"name": "k", "credentials": {"clientsecret": "s"}}]}) is True
    assert KeyInfoAction.result_has_secrets(None, {}, {"service_keys": []}) is False


class _Task:
    args = {}


class _Censor:
    """The censor() of SecretResultAction on a stand-in for the action object."""

    def __init__(self, action_class):
        self._task = _Task()
        self.result_has_secrets = lambda args, result: action_class.result_has_secrets(self, args, result)
        self.censor = lambda result: action_class.censor(self, result)


def test_results_with_secrets_are_no_log_even_when_they_failed():
    censor = _Censor(KeyAction).censor
    assert censor({"failed": True, "msg": "1 of 2 service keys failed", "secrets_returned": True})["_ansible_no_log"] is True
    assert censor({"secrets_returned": True})["_ansible_no_log"] is True
    failed = censor({"failed": True, "msg": "1 of 2 service keys failed: k2: no quota", "secrets_returned": False})
    assert "_ansible_no_log" not in failed and failed["msg"].endswith("no quota")
