# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. Base for action plugins that keep secret results out of every output.

Modules cannot mark their own result as no_log. An action plugin can: when the wrapped module's result
carries secret values (an access token, credentials returned on request), the plugin sets
``_ansible_no_log``. Ansible then censors the result in all callbacks, logs and ``-vvvv`` output, while
``register`` still receives the full values for later tasks.

A key stored in a file for the ``stored`` credential option is read on the controller first
(``_credentials_action``), so that Ansible Vault files are decrypted with the run's secrets.
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.sap_btp.cloud_integration.plugins.plugin_utils import _credentials_action


class SecretResultAction(ActionBase):
    """Run the same-named module and censor its displayed result when it holds secrets."""

    MODULE = None
    TRANSFERS_FILES = False
    _requires_connection = True

    def result_has_secrets(self, args, result):  # pylint: disable=unused-argument
        """Override: return True when the module result contains secret values."""
        return True

    def run(self, tmp=None, task_vars=None):
        self._supports_check_mode = True
        self._supports_async = False
        result = super().run(tmp, task_vars)
        del tmp
        try:
            module_args = _credentials_action.module_args(self._loader, self._task.args)
        except _credentials_action.StoredKeyError as exc:
            result.update(failed=True, changed=False, msg=str(exc))
            return result
        module_result = self._execute_module(module_name=self.MODULE, module_args=module_args, task_vars=task_vars)
        result.update(module_result)
        return self.censor(result)

    def censor(self, result):
        """Mark the result no_log when it holds secrets - a failed one too (the modules keep secrets out of their
        failures, so that their messages stay visible; a failure that holds secrets anyway is hidden)."""
        if self.result_has_secrets(self._task.args, result):
            result["_ansible_no_log"] = True
        return result
