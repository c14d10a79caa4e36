# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin for sap_btp.cloud_integration.service_key_info: censors the displayed result when credentials are included."""

from __future__ import annotations

from ansible_collections.sap_btp.cloud_integration.plugins.plugin_utils._secret_action import SecretResultAction


class ActionModule(SecretResultAction):
    MODULE = "sap_btp.cloud_integration.service_key_info"

    def result_has_secrets(self, args, result):
        return any(item.get("credentials") for item in result.get("service_keys") or [])
