# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. The BTP Destination service: configuration API and find-destination API.

- destination_key(): the ``destination`` service key (plan ``lite``: ``clientid``, ``clientsecret`` or
  ``certificate``/``key``, ``url`` = XSUAA, ``uri`` = the service) as token credentials for ``_oauth.TokenProvider``;
- DestinationService: ``{uri}/destination-configuration/v1/{subaccount,instance}{Destinations,Certificates}`` (POST
  creates, PUT replaces with the whole body, GET/DELETE ``.../<name>``) and the find-destination API (v1, v2);
- DestinationWriter: the ``btp_destination`` destination of ``credentials_store``: an ``OAuth2ClientCredentials``
  destination for an iFlow (or api) client, with the key's fingerprint in the property ``FINGERPRINT_PROPERTY`` so a
  rerun writes nothing; a certificate key's client certificate goes to a destination certificate (PKCS#12 with a
  password) that the destination names in ``tokenService.KeyStoreLocation``;
- read_destination(): a destination back as a service key (the ``credentials`` lookup).
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from urllib.parse import quote

from ansible.module_utils.basic import env_fallback

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils import _credentials
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._errors import ApiError, ParameterError, api_error_from_response
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._redact import fingerprint

API = "/destination-configuration/v1"
LEVELS = ("subaccount", "instance")
FINGERPRINT_PROPERTY = "sap_btp_cloud_integration_fingerprint"
NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,200}$")
ENV_KEY = ["SAP_BTP_DESTINATION_SERVICE_KEY"]
ENV_KEY_PATH = ["SAP_BTP_DESTINATION_SERVICE_KEY_PATH"]
SECRET_PROPERTIES = ("clientSecret", "tokenService.KeyStorePassword", "Password")


def destination_argument_spec():
    """Options of the Destination service (credentials_store ``btp_destination`` and the lookup)."""
    return dict(
        destination_service_key=dict(type="raw", no_log=True, fallback=(env_fallback, ENV_KEY)),
        destination_service_key_path=dict(type="path", no_log=False, fallback=(env_fallback, ENV_KEY_PATH)),
        destination_level=dict(type="str", default="subaccount", choices=list(LEVELS)),
        destination_properties=dict(type="dict"),
    )


def check_name(name, option="name"):
    if not name:
        raise ParameterError(option, "the name of the destination is required")
    if not NAME_RE.match(name):
        raise ParameterError(option, "'%s' is not a valid destination name: use letters, digits, '-' and '_' (no spaces, "
                                     "at most 200 characters)" % name)
    return name


def _load_json(value, option):
    if isinstance(value, dict):
        return value
    text = str(value).strip()
    try:
        data = json.loads(text)
    except ValueError:
        raise ParameterError(option, "expected the Destination service key as a dictionary or JSON text") from None
    if not isinstance(data, dict):
        raise ParameterError(option, "expected the Destination service key as a JSON object")
    return data


def destination_key(params):
    """Token credentials of the Destination service key from ``destination_service_key(_path)``."""
    option, value = _credentials.key_option(params, "destination_service_key", "destination_service_key_path")
    if option is None:
        raise ParameterError("destination_service_key", "the Destination service needs a service key of the 'destination' offering "
                                                        "(plan lite): set destination_service_key or destination_service_key_path "
                                                        "(SAP_BTP_DESTINATION_SERVICE_KEY[_PATH])")
    data = _load_json(value, option)
    if isinstance(data.get("credentials"), dict):
        data = data["credentials"]
    missing = [name for name in ("clientid", "url", "uri") if not data.get(name)]
    if missing:
        raise ParameterError(option, "not a Destination service key: '%s' is missing (expected clientid, clientsecret, url, uri)"
                             % "', '".join(missing))
    creds = {"clientid": data["clientid"], "clientsecret": data.get("clientsecret"), "certificate": data.get("certificate"),
             "key": data.get("key"), "uri": data["uri"].rstrip("/"), "key_type": "client_secret"}
    if creds["clientsecret"]:
        creds["tokenurl"] = data["url"].rstrip("/") + "/oauth/token"
    elif creds["certificate"] and creds["key"]:
        creds["tokenurl"] = (data.get("certurl") or data["url"]).rstrip("/") + "/oauth/token"
        creds["key_type"] = "certificate"
        creds["tokenurl_from_key"] = True
    else:
        raise ParameterError(option, "the Destination service key holds neither clientsecret nor certificate and key")
    return creds


def destination_token(http, creds, warn=None):
    from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._oauth import TokenProvider

    return TokenProvider(http, creds, warn=warn).token()["access_token"]


class DestinationService:
    """Calls of the Destination service with a token of its service key."""

    def __init__(self, http, creds, level="subaccount", redactor=None, warn=None):
        self.http = http
        self.creds = creds
        self.level = level
        self.redactor = redactor
        self.warn = warn
        self._token = None

    def _headers(self):
        if self._token is None:
            self._token = destination_token(self.http, self.creds, warn=self.warn)
            if self.redactor is not None:
                self.redactor.add(self._token)
        return {"Authorization": "Bearer " + self._token, "Accept": "application/json"}

    def _url(self, kind, name=None):
        url = "%s%s/%s%s" % (self.creds["uri"], API, self.level, "Destinations" if kind == "destination" else "Certificates")
        return url + ("/" + quote(name, safe="") if name is not None else "")

    def _call(self, method, url, context, expected, body=None):
        kwargs = {"json": body} if body is not None else {}
        response = self.http.request(method, url, context=context, headers=self._headers(), **kwargs)
        if response.status_code == 401 and self._token is not None:
            raise api_error_from_response(response, context, hint="the Destination service rejected the token of its service key")
        if response.status_code not in expected:
            raise api_error_from_response(response, context)
        return response

    def get(self, kind, name):
        response = self._call("GET", self._url(kind, name), "read of %s %s '%s'" % (self.level, kind, name), (200, 404))
        return response.json() if response.status_code == 200 else None

    def write(self, kind, body, exists):
        method = "PUT" if exists else "POST"
        self._call(method, self._url(kind), "%s of %s %s '%s'" % ("update" if exists else "creation", self.level, kind, body["Name"]),
                   (200, 201, 204), body)

    def delete(self, kind, name):
        response = self._call("DELETE", self._url(kind, name), "deletion of %s %s '%s'" % (self.level, kind, name), (200, 204, 404))
        return response.status_code != 404

    def find(self, name, version=1):
        """The find-destination answer (destinationConfiguration, authTokens, certificates) of a destination."""
        if version == 2:
            url = "%s/destination-configuration/v2/destinations/%s@%s" % (self.creds["uri"], quote(name, safe=""), self.level)
        else:
            url = "%s%s/destinations/%s" % (self.creds["uri"], API, quote(name, safe=""))
        response = self._call("GET", url, "find-destination of '%s'" % name, (200,))
        return response.json()


def _pkcs12(certificate, key, password, name):
    from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._deps import crypto_lib

    crypto = crypto_lib()
    certs = crypto.x509.load_pem_x509_certificates(certificate.encode("ascii"))
    private_key = crypto.serialization.load_pem_private_key(key.encode("ascii"), password=None)
    data = crypto.pkcs12.serialize_key_and_certificates(name.encode("utf-8"), private_key, certs[0], certs[1:] or None,
                                                        crypto.serialization.BestAvailableEncryption(password.encode("utf-8")))
    return base64.b64encode(data).decode("ascii")


def public_view(properties):
    """Destination properties with secret values replaced by fingerprints (for diffs)."""
    return {name: (fingerprint(value) if name in SECRET_PROPERTIES or name == "Content" else value) for name, value in properties.items()}


class DestinationWriter:
    """credentials_store destination ``btp_destination``."""

    def __init__(self, module, service):
        self.module = module
        self.params = module.params
        self.service = service

    def certificate_name(self, name):
        return "%s.p12" % name

    def desired(self, name, creds, key_fingerprint):
        props = {
            "Name": name, "Type": "HTTP", "URL": creds["url"], "ProxyType": "Internet",
            "Authentication": "OAuth2ClientCredentials", "clientId": creds["clientid"], "tokenServiceURL": creds["tokenurl"],
            "tokenServiceURLType": "Dedicated", FINGERPRINT_PROPERTY: key_fingerprint,
        }
        if creds.get("clientsecret"):
            props["clientSecret"] = creds["clientsecret"]
        else:
            props["tokenService.KeyStoreLocation"] = self.certificate_name(name)
        for prop, value in (self.params.get("destination_properties") or {}).items():
            if prop in props or prop in ("clientSecret", "tokenService.KeyStorePassword"):
                raise ParameterError("destination_properties", "'%s' is set by the module and cannot be overridden" % prop)
            props[prop] = str(value)
        return props

    def present(self, creds, key_fingerprint):
        name = check_name(self.params.get("name"))
        if creds.get("certificate") and not creds.get("key"):
            raise ParameterError("destination", "an external-certificate key holds no private key; the Destination service needs "
                                                "the client certificate with its key (a PKCS#12 keystore)")
        desired = self.desired(name, creds, key_fingerprint)
        current = self.service.get("destination", name)
        compare = {k: v for k, v in desired.items() if k not in SECRET_PROPERTIES}
        changed_fields = []
        if current is None:
            changed_fields = sorted(compare) + (["clientSecret"] if "clientSecret" in desired else [])
        else:
            changed_fields = sorted(k for k, v in compare.items() if current.get(k) != v)
            extra = sorted(k for k in current if k not in desired and k not in SECRET_PROPERTIES and k != FINGERPRINT_PROPERTY)
            changed_fields += extra
            if "clientSecret" in desired and current.get("clientSecret") is not None and current["clientSecret"] != desired["clientSecret"]:
                changed_fields.append("clientSecret")
        certificate = None
        certificate_exists = False
        if "tokenService.KeyStoreLocation" in desired:
            cert_name = desired["tokenService.KeyStoreLocation"]
            existing_cert = self.service.get("certificate", cert_name)
            if existing_cert is None and "certificate" not in changed_fields:
                changed_fields.append("certificate")
            if changed_fields:
                password = self.params.get("pkcs12_password") or secrets.token_urlsafe(24)
                self.module.add_secrets(password)
                desired["tokenService.KeyStorePassword"] = password
                certificate = {"Name": cert_name, "Type": "CERTIFICATE",
                               "Content": _pkcs12(creds["certificate"], creds["key"], password, name)}
                self.module.add_secrets(certificate["Content"])
                certificate_exists = existing_cert is not None
        changed_fields = sorted(set(changed_fields))
        changed = bool(changed_fields)
        if changed and not self.module.check_mode:
            if certificate is not None:
                self.service.write("certificate", certificate, certificate_exists)
            self.service.write("destination", desired, current is not None)
        before = {"state": "absent"} if current is None else public_view({k: v for k, v in current.items() if k != "Content"})
        after = public_view(desired)
        if certificate is not None:
            after["certificate"] = fingerprint(creds["certificate"])
        result = {"changed": changed, "destination": "btp_destination", "name": name, "level": self.service.level,
                  "changed_fields": changed_fields}
        return result, ({"before": before, "after": after} if changed else None)

    def absent(self):
        name = check_name(self.params.get("name"))
        current = self.service.get("destination", name)
        result = {"destination": "btp_destination", "name": name, "level": self.service.level, "changed_fields": [],
                  "changed": current is not None}
        if current is None:
            return result, None
        cert_name = current.get("tokenService.KeyStoreLocation")
        if not self.module.check_mode:
            self.service.delete("destination", name)
            if cert_name == self.certificate_name(name):
                self.service.delete("certificate", cert_name)
        return result, {"before": public_view(current), "after": {"state": "absent"}}


def read_destination(service, name):
    """(raw key, creds) of a destination written by btp_destination (the credentials lookup)."""
    from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._service_key import parse_raw_service_key

    check_name(name, option=name)
    props = service.get("destination", name)
    if props is None:
        raise ParameterError(name, "no %s destination '%s' in the Destination service" % (service.level, name))
    if props.get("Authentication") != "OAuth2ClientCredentials" or not props.get("clientId"):
        raise ParameterError(name, "destination '%s' is not an OAuth2ClientCredentials destination (Authentication: %s)"
                             % (name, props.get("Authentication")))
    oauth = {"clientid": props["clientId"], "url": props.get("URL"), "tokenurl": props.get("tokenServiceURL")}
    if props.get("clientSecret"):
        oauth["clientsecret"] = props["clientSecret"]
    elif props.get("tokenService.KeyStoreLocation"):
        cert = service.get("certificate", props["tokenService.KeyStoreLocation"])
        if cert is None:
            raise ParameterError(name, "the certificate '%s' of destination '%s' is missing" % (props["tokenService.KeyStoreLocation"], name))
        oauth["certificate"], oauth["key"] = _unpack_pkcs12(cert["Content"], props.get("tokenService.KeyStorePassword") or "", name)
    return parse_raw_service_key({"oauth": oauth}, option=name)


def _unpack_pkcs12(content, password, option):
    from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._deps import crypto_lib

    crypto = crypto_lib()
    try:
        key, cert, extra = crypto.pkcs12.load_key_and_certificates(base64.b64decode(content), password.encode("utf-8"))
    except ValueError as exc:
        raise ParameterError(option, "the destination certificate cannot be opened with its password: %s" % exc) from None
    pem = crypto.serialization.Encoding.PEM
    chain = "".join(item.public_bytes(pem).decode("ascii") for item in [cert] + list(extra or []))
    key_pem = key.private_bytes(pem, crypto.serialization.PrivateFormat.PKCS8, crypto.serialization.NoEncryption()).decode("ascii")
    return chain, key_pem


__all__ = ["destination_argument_spec", "destination_key", "DestinationService", "DestinationWriter", "read_destination", "ApiError"]
