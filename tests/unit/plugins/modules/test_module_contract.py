# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every module of the collection promises, checked for every module of the action group (new ones included).

- it accepts the CF connection options and the common options, so ``module_defaults`` for
  ``group/sap_btp.cloud_integration.cloud_integration`` reach every module of a play;
- every task of its EXAMPLES passes its argument spec (types, choices, mutually exclusive and required options),
  and, run in check mode, passes the module's own input checks before its first request: an example cannot go
  stale without this test failing.
"""
from __future__ import annotations

import importlib
import json
import os
import re

import pytest
import yaml

from ansible.module_utils import basic
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils import _cf, _module
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._errors import ParameterError
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._http import HttpClient
from ansible_collections.sap_btp.cloud_integration.tests.unit.plugins.modules.module_harness import patch_module_args

COLLECTION_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
PREFIX = "sap_btp.cloud_integration."
RT_KEY = {"oauth": {"clientid": "sb-11111111-2222-3333-4444-555555555555!b1|it-rt-acme-dev!b196", "clientsecret": "example-secret-1234",
                    "url": "https://acme-dev.it-cpi018-rt.cfapps.eu10-003.hana.ondemand.com",
                    "tokenurl": "https://acme-dev.authentication.eu10.hana.ondemand.com/oauth/token"}}
API_KEY = {"oauth": {"clientid": "sb-11111111-2222-3333-4444-555555555555!b1|it!b196", "clientsecret": "example-secret-1234",
                     "url": "https://acme-dev.it-cpi018.cfapps.eu10-003.hana.ondemand.com",
                     "tokenurl": "https://acme-dev.authentication.eu10.hana.ondemand.com/oauth/token"}}
# modules (and dict options) whose templated service key is an api-plan key
PORTAL_KEY = {"url": "https://acme-apiportal.cfapps.eu10.hana.ondemand.com", "clientId": "sb-apiaccess-example!b1|api-portal-service!b2",
              "clientSecret": "example-secret-1234", "tokenUrl": "https://acme-dev.authentication.eu10.hana.ondemand.com/oauth/token"}
API_MODULES = ("odata_request", "message_processing_log_info", "integration_artifact", "integration_artifact_info", "api_provider",
               "api_provider_info", "iflow_request.api_credentials")
CHECK_KWARGS = ("mutually_exclusive", "required_together", "required_one_of", "required_if", "required_by")


def action_group():
    with open(os.path.join(COLLECTION_ROOT, "meta", "runtime.yml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)["action_groups"]["cloud_integration"]


def module_names():
    return sorted(name[:-3] for name in os.listdir(os.path.join(COLLECTION_ROOT, "plugins", "modules"))
                  if name.endswith(".py") and not name.startswith("_"))


class Captured(Exception):
    def __init__(self, spec, kwargs):
        super().__init__("captured")
        self.spec = spec
        self.kwargs = kwargs


def argument_spec_of(name, monkeypatch):
    """(argument spec, keyword arguments) the module passes to AnsibleModule, common options included."""
    module = importlib.import_module("ansible_collections.sap_btp.cloud_integration.plugins.modules." + name)

    def capture(self, argument_spec=None, **kwargs):
        raise Captured(argument_spec, kwargs)

    original = basic.AnsibleModule.__init__
    basic.AnsibleModule.__init__ = capture
    try:
        with pytest.raises(Captured) as info:
            module.main()
    finally:
        basic.AnsibleModule.__init__ = original
    return module, info.value.spec, info.value.kwargs


def test_every_module_is_in_the_action_group():
    assert action_group() == module_names()


@pytest.mark.parametrize("name", action_group())
def test_every_module_accepts_the_group_connection_options(name, monkeypatch):
    dummy, spec, dummy_kwargs = argument_spec_of(name, monkeypatch)
    shared = set(_cf.cf_argument_spec()) | set(_module.common_argument_spec())
    assert shared <= set(spec), "%s lacks %s: module_defaults for the action group would fail it" % (name, sorted(shared - set(spec)))
    for option in shared:
        assert spec[option] == dict(_cf.cf_argument_spec(), **_module.common_argument_spec())[option], "%s declares %s its own way" % (name, option)


# ---------------------------------------------------------------------------------------------------------------
# EXAMPLES

def example_tasks(name, module):
    tasks = yaml.safe_load(module.EXAMPLES)
    assert isinstance(tasks, list) and tasks, "%s: EXAMPLES is not a task list" % name
    found = []
    for task in tasks:
        action = next((key for key in task if key.startswith(PREFIX)), None)
        if action:
            assert action[len(PREFIX):] in action_group(), "%s: example task '%s' uses unknown module %s" % (name, task.get("name"), action)
            found.append((task.get("name"), action[len(PREFIX):], task[action] or {}))
    return found


TEMPLATE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)


def placeholder(module_name, option, settings, value):
    """A value of the option's type for a templated example value (the play would supply it)."""
    if not (isinstance(value, str) and TEMPLATE.search(value)):
        if isinstance(value, dict) and settings.get("options"):
            return {key: placeholder("%s.%s" % (module_name, option), key, settings["options"].get(key, {}), item) for key, item in value.items()}
        if isinstance(value, list) and settings.get("options"):
            return [placeholder(module_name, option, dict(settings, type="dict"), item) for item in value]
        return value
    kind = settings.get("type", "str")
    if option in ("service_key", "credentials"):
        return json.dumps(API_KEY if module_name in API_MODULES else RT_KEY)
    if option == "apiportal_key":
        return json.dumps(PORTAL_KEY)
    if TEMPLATE.sub("", value).strip() and kind in ("str", "path"):
        return TEMPLATE.sub("example", value)
    return {"int": 1, "float": 1.0, "bool": True, "list": [], "dict": {}, "path": "/nonexistent/example"}.get(kind, "example-value")


def test_examples_pass_the_argument_spec(monkeypatch):
    failures = []
    for name in action_group():
        module, dummy_spec, dummy_kwargs = argument_spec_of(name, monkeypatch)
        for title, target, args in example_tasks(name, module):
            dummy, spec, kwargs = argument_spec_of(target, monkeypatch)
            for variable in list(os.environ):
                if variable.startswith(("CF_", "CPI_", "SAP_BTP_", "VAULT_", "BAO_")):
                    monkeypatch.delenv(variable)
            filled = {option: placeholder(target, option, spec.get(option, {}), value) for option, value in args.items()}
            result = ArgumentSpecValidator(spec, **{k: v for k, v in kwargs.items() if k in CHECK_KWARGS}).validate(filled)
            if result.error_messages:
                failures.append("%s EXAMPLES, task '%s': %s" % (name, title, "; ".join(result.error_messages)))
    assert not failures, "\n".join(failures)


class RequestAttempted(Exception):
    """The module got past its input checks and sent its first request."""


class NoNetwork:
    def request(self, method, url, **kwargs):
        raise RequestAttempted("%s %s" % (method, url))

    def close(self):
        pass


def missing_path_in(message, args):
    """True when a ParameterError is about a file of the example that does not exist on this machine."""
    paths = [value for value in json.dumps(args).split('"') if "/" in value and "://" not in value and not TEMPLATE.search(value)]
    return any(path in message and not os.path.exists(os.path.expanduser(path)) for path in paths)


def test_examples_pass_the_input_checks_in_check_mode(monkeypatch, capsys, tmp_path):
    """Every example task, run in check mode with the CF connection of module_defaults, fails only after its first
    request (there is no network here) - never on its own input."""
    failures = []
    monkeypatch.setenv("SAP_BTP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("VAULT_TOKEN", "example-vault-token")  # an example may rely on the documented VAULT_TOKEN
    connection = {"cf_api": "https://api.cf.example.com", "cf_username": "user@example.com", "cf_password": "example-pw"}
    for name in action_group():
        module, dummy_spec, dummy_kwargs = argument_spec_of(name, monkeypatch)
        for title, target, args in example_tasks(name, module):
            target_module, spec, dummy_kwargs = argument_spec_of(target, monkeypatch)
            filled = {option: placeholder(target, option, spec.get(option, {}), value) for option, value in args.items()}
            if "destination" in filled and filled["destination"] == "ansible_vault":
                continue  # runs through the controller-side action plugin
            call = dict(connection, **filled) if "cf_api" in spec else dict(filled)
            call.update(_ansible_check_mode=True)
            errors = []
            original_run = _module.CloudIntegrationModule.run

            def recording_run(self, func, *a, **kw):
                try:
                    return original_run(self, lambda *x, **y: _raise_through(func, errors, *x, **y), *a, **kw)
                except RequestAttempted:
                    raise SystemExit(0) from None

            with monkeypatch.context() as patched:
                patched.setattr(_module.CloudIntegrationModule, "run", recording_run)
                patched.setattr(_module.CloudIntegrationModule, "http",
                                lambda self, **kw: HttpClient(session=NoNetwork(), sleep=lambda s: None, retries=0, redactor=self.redactor))
                with patch_module_args(call):
                    with pytest.raises(SystemExit):
                        target_module.main()
            capsys.readouterr()
            for error in errors:
                if not missing_path_in(str(error), args):
                    failures.append("%s EXAMPLES, task '%s': %s" % (name, title, error))
    assert not failures, "\n".join(failures)


def _raise_through(func, errors, *args, **kwargs):
    try:
        return func(*args, **kwargs)
    except ParameterError as exc:
        errors.append(exc)
        raise
