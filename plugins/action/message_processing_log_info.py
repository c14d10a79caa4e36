# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin for message_processing_log_info: reads a key given in ``stored`` (file, Ansible Vault file) on the controller.

The result carries no credentials, so it is shown as the module returns it.
"""

from __future__ import annotations

from ansible_collections.sap_btp.cloud_integration.plugins.plugin_utils._secret_action import SecretResultAction


class ActionModule(SecretResultAction):
    MODULE = "sap_btp.cloud_integration.message_processing_log_info"

    def result_has_secrets(self, args, result):
        return False
