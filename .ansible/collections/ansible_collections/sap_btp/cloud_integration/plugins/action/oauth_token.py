# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin for oauth_token: the result carries an access token, so it is hidden from every output."""

from __future__ import annotations

from ansible_collections.sap_btp.cloud_integration.plugins.plugin_utils._secret_action import SecretResultAction


class ActionModule(SecretResultAction):
    MODULE = "sap_btp.cloud_integration.oauth_token"

    def result_has_secrets(self, args, result):
        return bool(result.get("access_token"))
