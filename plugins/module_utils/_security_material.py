# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. Cloud Integration security material: ``UserCredentials`` and ``OAuth2ClientCredentials``.

The ``cpi_security_material`` destination of ``credentials_store`` writes a client's key into the security material
of a tenant named by its own ``api``-plan key (``target_service_key``), so the tenant can be another one than the
client's. The OData API v1 never returns ``Password``/``ClientSecret``; the key's fingerprint is kept in the
artifact's ``Description`` (``... [sap_btp.cloud_integration sha256:...]``) and a rerun compares it and writes nothing.
Create is ``POST`` (202), update ``PUT <Set>('<name>')`` with the full body (MERGE is refused), delete ``DELETE``.
Writing needs the role ``CredentialsEdit``, reading ``MonitoringDataRead``; both are checked in the token before any
request that changes something.

Certificate keys are refused: an ``OAuth2ClientCredentials`` artifact has no field for a client certificate, so a
key pair in the keystore would not be used by the artifact (see docs/design.md).
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote

from ansible.module_utils.basic import env_fallback

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils import _credentials
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._errors import ParameterError, api_error_from_response

TYPES = {"oauth2_client_credentials": "OAuth2ClientCredentials", "user_credentials": "UserCredentials"}
SECRET_FIELD = {"OAuth2ClientCredentials": "ClientSecret", "UserCredentials": "Password"}
MARK_RE = re.compile(r"\s*\[sap_btp\.cloud_integration (sha256:[0-9a-f]+)\]$")
NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,150}$")
ROLE_WRITE = "CredentialsEdit"
ROLE_READ = "MonitoringDataRead"
ADMIN_GROUPS = ("AuthGroup_Administrator",)


def security_material_argument_spec():
    """Options of the ``cpi_security_material`` destination."""
    return dict(
        security_material_type=dict(type="str", default="oauth2_client_credentials", choices=list(TYPES)),
        target_service_key=dict(type="raw", no_log=True, fallback=(env_fallback, ["CPI_TARGET_SERVICE_KEY"])),
        target_service_key_path=dict(type="path", no_log=False, fallback=(env_fallback, ["CPI_TARGET_SERVICE_KEY_PATH"])),
        description=dict(type="str", default="Managed by sap_btp.cloud_integration"),
        client_authentication=dict(type="str", default="Send as Request Header"),
    )


def check_name(name, option="name"):
    if not name:
        raise ParameterError(option, "the name of the security material artifact is required")
    if not NAME_RE.match(name):
        raise ParameterError(option, "'%s' is not a valid artifact name: use letters, digits, '.', '-' and '_' (no spaces)" % name)
    return name


def target_credentials(module):
    """Normalised credentials of the target tenant's api-plan key (``target_service_key(_path)``)."""
    from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._service_key import parse_service_key

    params = module.params
    option, value = _credentials.key_option(params, "target_service_key", "target_service_key_path")
    if option is None:
        raise ParameterError("target_service_key", "security material is written with an api-plan key of the target tenant "
                                                   "(role CredentialsEdit): set target_service_key or target_service_key_path")
    if isinstance(value, str) and value.strip().startswith("{"):
        try:
            value = json.loads(value)
        except ValueError:
            raise ParameterError(option, "the key is not valid JSON") from None
    creds = parse_service_key(value, option=option, details=False)
    module.add_secrets(creds.get("clientsecret"), creds.get("key"))
    if creds.get("plan") not in (None, "api"):
        raise ParameterError(option, "this is an %s key; security material is written through the OData API with an api-plan key "
                                     "of the target tenant" % creds.get("plan"))
    creds["option"] = option
    return creds


def check_roles(token, option, write):
    """Fail before any change when the token lacks CredentialsEdit (write) or MonitoringDataRead (read)."""
    from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._oauth import decode_claims

    scopes = (decode_claims(token) or {}).get("scope") or []
    roles = {scope.rsplit(".", 1)[-1] for scope in scopes if isinstance(scope, str)}
    if not scopes or roles & set(ADMIN_GROUPS):
        return
    needed = [role for role in ((ROLE_WRITE, ROLE_READ) if write else (ROLE_READ,)) if role not in roles]
    if needed:
        raise ParameterError(option, "the api-plan key of the target tenant lacks the role(s) %s (it has %s); add %s to the "
                                     "roles of its service instance" % (", ".join(needed), ", ".join(sorted(roles)) or "none",
                                                                        " and ".join(needed)))


class SecurityMaterial:
    """OData calls on the target tenant's ``/api/v1``."""

    def __init__(self, module, creds):
        from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._oauth import TokenProvider

        self.module = module
        self.http = module.http()
        self.creds = creds
        self.base = creds["url"].rstrip("/") + "/api/v1"
        self.token = TokenProvider(self.http, creds, warn=module.warn).token()["access_token"]
        module.add_secrets(self.token)

    def _headers(self):
        return {"Authorization": "Bearer " + self.token, "Accept": "application/json", "Content-Type": "application/json"}

    def _url(self, set_name, name=None):
        return "%s/%s%s" % (self.base, set_name, "('%s')" % quote(name.replace("'", "''"), safe="") if name is not None else "")

    def _call(self, method, url, context, expected, body=None):
        kwargs = {"json": body} if body is not None else {}
        response = self.http.request(method, url, context=context, headers=self._headers(), **kwargs)
        if response.status_code not in expected:
            hint = None
            if response.status_code == 403:
                hint = "the api-plan key needs CredentialsEdit to write and MonitoringDataRead to read security material"
            raise api_error_from_response(response, context, hint=hint)
        return response

    def get(self, set_name, name):
        response = self._call("GET", self._url(set_name, name), "read of %s '%s'" % (set_name, name), (200, 404))
        if response.status_code == 404:
            return None
        data = response.json()
        return data.get("d", data) if isinstance(data, dict) else None

    def write(self, set_name, body, exists):
        if exists:
            self._call("PUT", self._url(set_name, body["Name"]), "update of %s '%s'" % (set_name, body["Name"]), (200, 201, 202, 204), body)
        else:
            self._call("POST", self._url(set_name), "creation of %s '%s'" % (set_name, body["Name"]), (200, 201, 202, 204), body)

    def delete(self, set_name, name):
        response = self._call("DELETE", self._url(set_name, name), "deletion of %s '%s'" % (set_name, name), (200, 202, 204, 404))
        return response.status_code != 404


def marked_description(text, key_fingerprint):
    return "%s [sap_btp.cloud_integration %s]" % ((text or "").strip(), key_fingerprint)


def stored_fingerprint(description):
    match = MARK_RE.search(description or "")
    return match.group(1) if match else None


class SecurityMaterialWriter:
    """credentials_store destination ``cpi_security_material``."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.set_name = TYPES[self.params.get("security_material_type") or "oauth2_client_credentials"]

    def desired(self, name, creds, key_fingerprint):
        description = marked_description(self.params.get("description"), key_fingerprint)
        if self.set_name == "UserCredentials":
            return {"Name": name, "Kind": "default", "Description": description, "User": creds["clientid"],
                    "Password": creds["clientsecret"], "CompanyId": None}
        return {"Name": name, "Description": description, "TokenServiceUrl": creds["tokenurl"], "ClientId": creds["clientid"],
                "ClientSecret": creds["clientsecret"], "ClientAuthentication": self.params.get("client_authentication"),
                "Scope": "", "ScopeContentType": "", "Resource": "", "Audience": ""}

    def _connect(self, write):
        target = target_credentials(self.module)
        store = SecurityMaterial(self.module, target)
        check_roles(store.token, target["option"], write)
        return store

    def present(self, creds, key_fingerprint):
        name = check_name(self.params.get("name"))
        if not creds.get("clientsecret"):
            what = "user credentials" if self.set_name == "UserCredentials" else "an OAuth2 client credentials artifact"
            raise ParameterError("security_material_type", "a certificate key cannot be stored as %s: the artifact holds a user and "
                                                           "password or a client ID and secret, no client certificate. Create a "
                                                           "client-secret key for this consumer, or deliver the certificate key to "
                                                           "another destination" % what)
        store = self._connect(write=True)
        desired = self.desired(name, creds, key_fingerprint)
        current = store.get(self.set_name, name)
        secret = SECRET_FIELD[self.set_name]
        compare = [k for k in desired if k not in (secret, "Description")]
        if current is None:
            changed_fields = sorted(compare + [secret])
        else:
            changed_fields = sorted(k for k in compare if (current.get(k) or "") != (desired[k] or ""))
            if stored_fingerprint(current.get("Description")) != key_fingerprint:
                changed_fields.append(secret)
            elif current.get("Description") != desired["Description"]:
                changed_fields.append("Description")
        changed = bool(changed_fields)
        if changed and not self.module.check_mode:
            store.write(self.set_name, desired, current is not None)
        view = {k: v for k, v in desired.items() if k != secret}
        view[secret] = key_fingerprint
        if current is None:
            before = {"state": "absent"}
        else:
            before = {k: current.get(k) for k in compare}
            before[secret] = stored_fingerprint(current.get("Description"))
        result = {"changed": changed, "destination": "cpi_security_material", "name": name, "artifact_type": self.set_name,
                  "tenant_url": store.creds["url"], "changed_fields": changed_fields}
        return result, ({"before": before, "after": view} if changed else None)

    def absent(self):
        name = check_name(self.params.get("name"))
        store = self._connect(write=True)
        current = store.get(self.set_name, name)
        result = {"destination": "cpi_security_material", "name": name, "artifact_type": self.set_name,
                  "tenant_url": store.creds["url"], "changed_fields": [], "changed": current is not None}
        if current is None:
            return result, None
        if not self.module.check_mode:
            store.delete(self.set_name, name)
        before = {"state": "present", SECRET_FIELD[self.set_name]: stored_fingerprint(current.get("Description"))}
        return result, {"before": before, "after": {"state": "absent"}}


CANNOT_READ_BACK = ("Cloud Integration security material cannot be read back: the OData API never returns the Password of "
                    "UserCredentials or the ClientSecret of OAuth2ClientCredentials. Read the key from another destination "
                    "(a file, Ansible Vault, a KV secret or a BTP destination) instead.")
