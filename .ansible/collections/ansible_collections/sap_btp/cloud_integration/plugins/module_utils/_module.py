# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. The AnsibleModule wrapper every module of the collection uses.

- merges the common options (validate_certs, ca_path, timeout) into the module's argspec;
- owns a Redactor; every message that leaves the module is scrubbed of registered secrets;
- run() turns ParameterError, ApiError and MissingDependencyError into clean failures (no traceback).
"""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule, env_fallback

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._deps import MissingDependencyError
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._errors import ApiError, ParameterError
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._http import HttpClient
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._redact import Redactor


def common_argument_spec():
    """Options shared by every module that talks HTTP (documented in the common doc fragment)."""
    return dict(
        validate_certs=dict(type="bool", default=True, fallback=(env_fallback, ["SAP_BTP_VALIDATE_CERTS"])),
        ca_path=dict(type="path", fallback=(env_fallback, ["SAP_BTP_CA_PATH", "REQUESTS_CA_BUNDLE"])),
        timeout=dict(type="int", default=30, fallback=(env_fallback, ["SAP_BTP_TIMEOUT"])),
    )


class CloudIntegrationModule(AnsibleModule):
    """AnsibleModule with the collection's common options, redaction and error handling."""

    def __init__(self, argument_spec=None, common=True, **kwargs):
        spec = common_argument_spec() if common else {}
        spec.update(argument_spec or {})
        self.redactor = Redactor()
        super().__init__(argument_spec=spec, **kwargs)
        if self.params.get("timeout") is not None and self.params["timeout"] <= 0:
            self.fail_json(msg="timeout: must be a positive number of seconds, got %s" % self.params["timeout"])

    def add_secrets(self, *values):
        """Register secret values so no message, warning or failure can show them."""
        self.redactor.add(*values)
        for value in values:
            if isinstance(value, str) and len(value) >= 4:
                self.no_log_values.add(value)

    def http(self, **overrides):
        """An HttpClient configured from the common options."""
        options = dict(
            validate_certs=self.params.get("validate_certs", True),
            ca_path=self.params.get("ca_path"),
            timeout=self.params.get("timeout") or 30,
            redactor=self.redactor,
        )
        options.update(overrides)
        return HttpClient(**options)

    def warn(self, warning):
        super().warn(self.redactor.scrub(warning))

    def fail_json(self, msg=None, **kwargs):
        kwargs["msg"] = self.redactor.scrub(msg if msg is not None else "module failed")
        if kwargs.get("exception"):
            kwargs["exception"] = self.redactor.scrub(kwargs["exception"])
        else:
            kwargs.pop("exception", None)
        super().fail_json(**kwargs)

    def fail_api(self, error, msg=None, **result):
        """Fail with the message of an ApiError (and its status/code), never a traceback."""
        message = str(error) if msg is None else "%s: %s" % (msg, error)
        facts = error.to_result() if isinstance(error, ApiError) else {}
        facts.update(result)
        self.fail_json(msg=message, **facts)

    def run(self, func, *args, **kwargs):
        """Call func(*args, **kwargs) and map the collection's exceptions to clean failures."""
        try:
            return func(*args, **kwargs)
        except ParameterError as exc:
            self.fail_json(msg=str(exc), changed=False)
        except ApiError as exc:
            self.fail_api(exc)
        except MissingDependencyError as exc:
            self.fail_json(msg=str(exc), exception=exc.import_traceback)
        return None
