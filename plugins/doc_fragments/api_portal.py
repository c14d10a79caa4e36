# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    """API Management API portal credentials (offering apimanagement-apiportal, plan apiportal-apiaccess) and the
    Cloud Integration api-plan key by Cloud Foundry reference."""

    DOCUMENTATION = r"""
options:
  apiportal_key:
    description:
      - >-
        The service key of an C(apimanagement-apiportal) instance of plan C(apiportal-apiaccess), as a dictionary or JSON
        text: the flat key C({"url", "tokenUrl", "clientId", "clientSecret"}) as the cockpit shows it, the x509 variant
        with C(certificate), C(privateKey) and C(certurl), the Cloud Foundry C(/details) answer, or the normalised
        credentials of the P(sap_btp.cloud_integration.credentials#lookup) lookup.
      - The instance's C(role) decides what the key may do - C(APIPortal.Administrator) writes, C(APIPortal.Guest) only reads.
      - If not set, E(APIPORTAL_SERVICE_KEY) (JSON text) is used.
    type: raw
  apiportal_key_path:
    description:
      - Path of a JSON file with the API portal key (any shape accepted by O(apiportal_key)).
      - If not set, E(APIPORTAL_SERVICE_KEY_PATH) is used.
    type: path
  apiportal_instance:
    description:
      - Name of the C(apimanagement-apiportal) service instance in the target space whose key O(apiportal_key_name) is read from Cloud
        Foundry (with the Cloud Foundry connection options).
    type: str
  apiportal_key_name:
    description:
      - Name of the service key of O(apiportal_instance).
    type: str
  apiportal_url:
    description:
      - The API portal URL (the key's C(url)); overrides the key's value. Required with O(apiportal_client_id).
      - If not set, E(APIPORTAL_URL) is used.
    type: str
  apiportal_token_url:
    description:
      - The token endpoint (the key's C(tokenUrl)). Required with O(apiportal_client_id).
      - If not set, E(APIPORTAL_TOKEN_URL) is used.
    type: str
  apiportal_client_id:
    description:
      - Client id of the API portal key, with O(apiportal_client_secret), O(apiportal_token_url) and O(apiportal_url)
        instead of a whole key.
      - If not set, E(APIPORTAL_CLIENT_ID) is used.
    type: str
  apiportal_client_secret:
    description:
      - Client secret of the API portal key. If not set, E(APIPORTAL_CLIENT_SECRET) is used.
    type: str
  read_timeout:
    description:
      - The API portal answers reads from a cache for about 20 seconds after a write. After each write the module reads until
        the change shows, for at most this many seconds, so that the next task sees it.
    type: int
    default: 60
"""
