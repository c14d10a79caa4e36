# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    """Options shared by every module that talks HTTP."""

    DOCUMENTATION = r"""
options:
  validate_certs:
    description:
      - Verify the TLS certificates of the servers.
      - Set to V(false) only for tests; prefer O(ca_path) for private CAs.
      - If not set, the environment variable E(SAP_BTP_VALIDATE_CERTS) is used.
    type: bool
    default: true
  ca_path:
    description:
      - Path to a PEM bundle of CA certificates used to verify the servers, instead of the system store.
      - If not set, E(SAP_BTP_CA_PATH) or E(REQUESTS_CA_BUNDLE) is used.
    type: path
  timeout:
    description:
      - Seconds to wait for a server to connect and to answer each request.
      - If not set, E(SAP_BTP_TIMEOUT) is used.
    type: int
    default: 30
notes:
  - Requests that fail with HTTP 429, 502, 503, 504 or a connection error are retried with exponential
    backoff and jitter, honouring C(Retry-After). Requests that are not idempotent are re-sent only when
    they provably did not reach the server.
requirements:
  - requests >= 2.28
"""
