# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. The one guarded import point for each third-party library.

Imports are lazy: a task that never needs a library never pays for importing it (a cached token
lookup imports neither requests nor cryptography). Each accessor raises MissingDependencyError,
whose message is Ansible's standard missing_required_lib() text.
"""

from __future__ import annotations

import importlib
import traceback
import types

from ansible.module_utils.basic import missing_required_lib


class MissingDependencyError(Exception):
    """A required Python library is not installed on the host that runs the module."""

    def __init__(self, library, reason=None, import_traceback=None):
        self.library = library
        self.import_traceback = import_traceback
        super().__init__(missing_required_lib(library, reason=reason))


_CACHE = {}


def _load(key, modules, library, reason=None):
    if key in _CACHE:
        return _CACHE[key]
    try:
        loaded = {name.rsplit(".", 1)[-1] if alias is None else alias: importlib.import_module(name) for name, alias in modules}
    except ImportError:
        raise MissingDependencyError(library, reason=reason, import_traceback=traceback.format_exc()) from None
    namespace = types.SimpleNamespace(**loaded)
    _CACHE[key] = namespace
    return namespace


def requests_lib():
    """Return a namespace with requests, its adapters and exceptions modules."""
    return _load(
        "requests",
        [("requests", None), ("requests.adapters", "adapters"), ("requests.exceptions", "exceptions")],
        "requests",
    )


def crypto_lib():
    """Return a namespace with the parts of cryptography the collection uses."""
    return _load(
        "cryptography",
        [
            ("cryptography", None),
            ("cryptography.x509", "x509"),
            ("cryptography.x509.oid", "oid"),
            ("cryptography.hazmat.primitives.hashes", "hashes"),
            ("cryptography.hazmat.primitives.serialization", "serialization"),
            ("cryptography.hazmat.primitives.serialization.pkcs12", "pkcs12"),
            ("cryptography.hazmat.primitives.asymmetric.rsa", "rsa"),
            ("cryptography.hazmat.primitives.asymmetric.ec", "ec"),
            ("cryptography.hazmat.primitives.asymmetric.padding", "padding"),
        ],
        "cryptography",
    )


def jwt_lib():
    """Return a namespace with PyJWT (only needed to verify token signatures)."""
    return _load("jwt", [("jwt", None)], "PyJWT", reason="to verify token signatures")


def hvac_lib():
    """Return a namespace with hvac (HashiCorp Vault / OpenBao client)."""
    return _load("hvac", [("hvac", None), ("hvac.exceptions", "exceptions")], "hvac", reason="to write to HashiCorp Vault or OpenBao")
