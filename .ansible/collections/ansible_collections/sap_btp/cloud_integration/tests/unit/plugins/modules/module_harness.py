# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Running a provisioning module in-process against the in-memory Cloud Foundry of cf_fake."""
from __future__ import annotations

import json

import pytest

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core < 2.19
    import contextlib

    from ansible.module_utils import basic
    from ansible.module_utils.common.text.converters import to_bytes

    @contextlib.contextmanager
    def patch_module_args(args):
        previous = basic._ANSIBLE_ARGS
        basic._ANSIBLE_ARGS = to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
        try:
            yield
        finally:
            basic._ANSIBLE_ARGS = previous

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils import _module
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._http import HttpClient
from ansible_collections.sap_btp.cloud_integration.tests.unit.plugins.module_utils.cf_fake import API

CONNECTION = {"cf_api": API, "cf_username": "user@example.com", "cf_password": "secret-pw", "org": "acme-org", "space": "dev"}


def use_fake(monkeypatch, tmp_path, fake):
    """Route every module HTTP request to ``fake``, with a token and lookup cache of the test's own."""
    monkeypatch.setenv("SAP_BTP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(_module.CloudIntegrationModule, "http",
                        lambda self, **kw: HttpClient(session=fake, sleep=lambda s: None, redactor=self.redactor))
    return fake


def run_module(module, args, capsys, check_mode=False, diff=False):
    """(result, stdout) of ``module.main()`` with CONNECTION and ``args``."""
    args = dict(CONNECTION, **args)
    if check_mode:
        args["_ansible_check_mode"] = True
    if diff:
        args["_ansible_diff"] = True
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module.main()
    out = capsys.readouterr().out
    return json.loads(out), out
