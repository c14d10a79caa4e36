# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    """Cloud Integration (it-rt) service-key credentials, and the token options of modules that fetch a token."""

    DOCUMENTATION = r"""
options:
  service_key:
    description:
      - >-
        An C(it-rt) service key, as a dictionary or JSON text. Accepted shapes are the key as the cockpit and
        C(cf service-key) show it (C({"oauth": {...}})), the bare C(oauth) object, the Cloud Foundry C(/details)
        answer (C({"credentials": {...}})), and the registered result of the C(sap_btp.cloud_integration.service_key) module
        or the normalised credentials of the C(sap_btp.cloud_integration.credentials) lookup.
      - PEM values may use real line breaks or C(\n) escapes.
      - The plan (V(api) or V(integration-flow)) is inferred from the client id and the URL and checked before any
        request.
      - Mutually exclusive with O(service_key_path), O(client_id) and O(client_secret).
      - If not set, the environment variable E(CPI_SERVICE_KEY) (JSON text) is used.
    type: raw
  service_key_path:
    description:
      - Path of a file that holds the service key as JSON (any shape accepted by O(service_key)).
      - If not set, E(CPI_SERVICE_KEY_PATH) is used.
    type: path
  client_id:
    description:
      - The C(clientid) of the key, when no O(service_key) is given. Needs O(token_url) and either O(client_secret)
        or O(client_cert) and O(client_key).
      - If not set, E(CPI_CLIENT_ID) is used.
    type: str
  client_secret:
    description:
      - The C(clientsecret) of a client-secret key.
      - If not set, E(CPI_CLIENT_SECRET) is used.
    type: str
  token_url:
    description:
      - The XSUAA token endpoint (C(tokenurl) of the key, C(https://<subdomain>.authentication.<region>.hana.ondemand.com/oauth/token)).
      - Overrides the key's C(tokenurl). A query string (such as C(?grant_type=client_credentials)) is ignored; use
        O(client_auth=query) for that style.
      - If not set, E(CPI_TOKEN_URL) is used.
    type: str
  url:
    description:
      - The Cloud Integration URL of the key. For an V(integration-flow) key this is the runtime (C(-rt)) host of
        the iFlow endpoints, for an V(api) key the tenant management host of the OData API.
      - Overrides the key's C(url).
      - If not set, E(CPI_URL) is used.
    type: str
  client_cert:
    description:
      - Client certificate (PEM chain) as text or as the path of a PEM file. Overrides the key's C(certificate).
      - Needed with O(client_id) for certificate clients.
      - If not set, E(CPI_CLIENT_CERT) (PEM text) or E(CPI_CLIENT_CERT_PATH) is used.
    type: str
  client_key:
    description:
      - Private key of the client certificate (PEM text or the path of a PEM file).
      - Required for an external-certificate key, whose JSON holds the certificate but never the private key.
      - If not set, E(CPI_CLIENT_KEY) (PEM text) or E(CPI_CLIENT_KEY_PATH) is used.
      - When O(client_cert) or O(client_key) is given, the task fails before any request if the private key does not
        belong to the certificate.
    type: str
  allow_http:
    description:
      - Accept plain C(http://) token and Cloud Integration URLs.
      - Client credentials and tokens then travel unencrypted, so by default such URLs are rejected before any
        request. Only for a local test server.
      - If not set, E(SAP_BTP_ALLOW_HTTP) is used.
    type: bool
    default: false
notes:
  - "Credential precedence: O(service_key), then O(service_key_path), then O(client_id). O(url), O(token_url),
    O(client_cert) and O(client_key) override or complete the values of a key."
  - "Environment variables for AWX/AAP credential types: E(CPI_SERVICE_KEY), E(CPI_SERVICE_KEY_PATH),
    E(CPI_CLIENT_ID), E(CPI_CLIENT_SECRET), E(CPI_TOKEN_URL), E(CPI_URL), E(CPI_CLIENT_CERT) or
    E(CPI_CLIENT_CERT_PATH), E(CPI_CLIENT_KEY) or E(CPI_CLIENT_KEY_PATH)."
"""

    TOKEN = r"""
options:
  client_auth:
    description:
      - How a client secret is sent to the token endpoint.
      - >-
        V(basic) sends C(Authorization: Basic) with C(grant_type) and C(client_id) in the form body (the XSUAA
        documentation sample). Client id and secret are URL-encoded, with the header C(X-CF-ENCODED-CREDENTIALS: true),
        when they contain characters such as C(+), C(%) or C(:).
      - V(body) sends C(client_id) and C(client_secret) in the form body, without an C(Authorization) header.
      - >-
        V(query) sends C(Authorization: Basic) and C(?grant_type=client_credentials) in the query string, with an
        empty body (the style of the Cloud Integration documentation and Project Piper).
      - Ignored for certificate credentials, which always use mTLS on the C(.authentication.cert.) host.
    type: str
    choices: [basic, body, query]
    default: basic
  cache:
    description:
      - Cache tokens on the controller, shared by tasks, hosts and forks, in a per-user directory (mode 0700, files
        0600, file locks so that concurrent forks fetch a token only once).
      - The directory is C($XDG_CACHE_HOME/sap_btp.cloud_integration) (default C(~/.cache/...)); set
        E(SAP_BTP_CACHE_DIR) to move it.
      - Entries are keyed by token URL, client id, auth kind (secret or certificate) and a digest of the credential.
        They hold the access token and its expiry only, never a client secret or private key, and are stored
        unencrypted, protected by the file modes (as the cf CLI, gcloud and az do).
      - V(false) fetches a new token and stores nothing.
    type: bool
    default: true
  min_ttl:
    description:
      - A cached token is used only if it stays valid for at least this many seconds; otherwise a new one is fetched.
    type: int
    default: 300
"""
