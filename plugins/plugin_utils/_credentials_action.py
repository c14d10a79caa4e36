# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. Controller side of the ``stored`` credential source (module_utils/_credentials.py).

A key stored in a file or an Ansible Vault file is read on the controller, as the ``credentials`` lookup reads it
(same reader, ``_credentials.read_stored``, and the run's vault secrets), and handed to the module in the internal
option ``_stored_key``. A KV secret is left to the module.
"""

from __future__ import annotations

import os

from ansible.module_utils.common.text.converters import to_text

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._credentials import STORED_KEY_PARAM, read_stored
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._errors import ParameterError
from ansible_collections.sap_btp.cloud_integration.plugins.plugin_utils import _ansible_vault


class StoredKeyError(Exception):
    """The stored key cannot be read on the controller; the message names the option."""


def module_args(loader, args):
    """The task's arguments, with the stored key read on the controller when ``stored`` names a file - for the task
    and for every item of a batch (``requests``) that names its own ``stored``."""
    args = _with_stored_key(loader, args, "stored")
    items = args.get("requests")
    if isinstance(items, list) and any(isinstance(item, dict) and item.get("stored") for item in items):
        keys = {}
        for index, item in enumerate(items):
            if isinstance(item, dict):
                read = _with_stored_key(loader, item, "requests[%d].stored" % index)
                if STORED_KEY_PARAM in read:
                    keys[str(index)] = read[STORED_KEY_PARAM]
        if keys:
            args = dict(args, _requests_stored_keys=keys)
    return args


def _with_stored_key(loader, args, option):
    stored = args.get("stored")
    if not isinstance(stored, dict) or (stored.get("source") or "file") == "hashicorp_vault" or not stored.get("path"):
        return args
    source = stored.get("source") or "file"
    path = loader.path_dwim(os.path.expanduser(to_text(stored["path"])))

    def decrypt(data, filename):
        return _ansible_vault.decrypt(loader, data, filename=filename)[0]

    try:
        raw, dummy = read_stored(source, path, stored.get("format") or "auto", stored.get("env_prefix"), decrypt=decrypt, option="stored")
    except (ParameterError, _ansible_vault.VaultFileError) as exc:
        message = to_text(exc)
        if message.startswith("stored"):
            message = message[len("stored"):].lstrip(": ")
        raise StoredKeyError("%s: %s" % (option, message)) from None
    args = dict(args)
    args[STORED_KEY_PARAM] = raw
    return args
