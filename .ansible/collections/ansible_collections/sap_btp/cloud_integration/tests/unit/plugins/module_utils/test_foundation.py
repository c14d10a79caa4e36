# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import json
import os
import sys

import pytest

from ansible.module_utils import basic
from ansible.module_utils.common.text.converters import to_bytes

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils import _deps
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._errors import ApiError, ParameterError
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._module import CloudIntegrationModule
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._version import COLLECTION_VERSION

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))


def test_version_matches_galaxy_yml():
    with open(os.path.join(ROOT, "galaxy.yml"), encoding="utf-8") as handle:
        versions = [line.split(":", 1)[1].strip() for line in handle if line.startswith("version:")]
    assert versions == [COLLECTION_VERSION]


def test_missing_library_gives_missing_required_lib(monkeypatch):
    monkeypatch.setitem(sys.modules, "hvac", None)
    monkeypatch.setattr(_deps, "_CACHE", {})
    with pytest.raises(_deps.MissingDependencyError) as info:
        _deps.hvac_lib()
    assert "Failed to import the required Python library (hvac)" in str(info.value)
    assert "ImportError" in info.value.import_traceback or "ModuleNotFoundError" in info.value.import_traceback


def test_present_library_loads_once():
    first = _deps.requests_lib()
    assert first is _deps.requests_lib()
    assert hasattr(first.exceptions, "ConnectionError")


def run_module(monkeypatch, capsys, args, body):
    monkeypatch.setattr(basic, "_ANSIBLE_ARGS", to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": args})))
    monkeypatch.setattr(basic, "_ANSIBLE_PROFILE", "legacy", raising=False)
    with pytest.raises(SystemExit):
        module = CloudIntegrationModule(argument_spec=dict(secret=dict(type="str", no_log=True)), supports_check_mode=True)
        module.add_secrets("hunter2-very-secret")
        module.run(body, module)
    return json.loads(capsys.readouterr().out)


def test_common_options_are_merged(monkeypatch, capsys):
    def body(module):
        module.exit_json(changed=False, options={k: module.params[k] for k in ("validate_certs", "ca_path", "timeout")})
    result = run_module(monkeypatch, capsys, {}, body)
    assert result["options"] == {"validate_certs": True, "ca_path": None, "timeout": 30}


def test_api_error_fails_cleanly_and_scrubbed(monkeypatch, capsys):
    def body(module):
        raise ApiError("token request failed: hunter2-very-secret rejected", status=401, code="unauthorized")
    result = run_module(monkeypatch, capsys, {}, body)
    assert result["failed"] is True
    assert "hunter2-very-secret" not in json.dumps(result)
    assert result["status"] == 401 and result["error_code"] == "unauthorized"
    assert "exception" not in result


def test_parameter_error_names_option(monkeypatch, capsys):
    def body(module):
        raise ParameterError("token_validity", "must be between 3600 and 86400, got 10")
    result = run_module(monkeypatch, capsys, {}, body)
    assert result["msg"] == "token_validity: must be between 3600 and 86400, got 10"
    assert result["changed"] is False


def test_bad_timeout_is_rejected(monkeypatch, capsys):
    result = run_module(monkeypatch, capsys, {"timeout": 0}, lambda module: module.exit_json(changed=False))
    assert result["failed"] and result["msg"].startswith("timeout:")
