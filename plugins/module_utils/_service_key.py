# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. Parser and normaliser for it-rt (Process Integration Runtime) service keys.

Accepted shapes (all documented by SAP or produced by this collection):
- the raw key ``{"oauth": {...}}`` as the cockpit and ``cf service-key`` show it;
- the Cloud Foundry details response ``{"credentials": {"oauth": {...}}}``;
- the bare ``oauth`` object (``{"clientid": ..., "tokenurl": ...}``);
- this collection's normalised ``credentials`` or a registered ``service_key`` result (``raw`` inside);
- any of those as JSON text;
- the flat key of the API Management API portal (offering ``apimanagement-apiportal``, plan ``apiportal-apiaccess``):
  ``{"url", "tokenUrl", "clientId", "clientSecret"}`` or, for x509, ``{"url", "certurl", "clientId", "certificate",
  "privateKey"}``, normalised to the same fields as the it-rt keys with ``plan: apiportal-apiaccess``.
PEM values may use literal ``\\n`` escapes (as in the JSON) or real line breaks.
"""

from __future__ import annotations

import datetime
import json
import math
from urllib.parse import urlsplit, urlunsplit

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._deps import MissingDependencyError, crypto_lib
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._errors import ParameterError

PLAN_API = "api"
PLAN_IFLOW = "integration-flow"
PLAN_APIPORTAL = "apiportal-apiaccess"
PLANS = (PLAN_API, PLAN_IFLOW, PLAN_APIPORTAL)
# flat API portal key field -> normalised field (certurl is the base of the mTLS token host)
APIPORTAL_FIELDS = (("clientId", "clientid"), ("clientSecret", "clientsecret"), ("certificate", "certificate"),
                    ("privateKey", "key"), ("url", "url"), ("tokenUrl", "tokenurl"), ("certurl", "certurl"))
APIPORTAL_SECRET_FIELDS = ("clientSecret", "privateKey")
KEY_TYPES = ("client_secret", "certificate", "external_certificate")
PLAN_HELP = (
    "An it-rt key of plan 'api' calls the Cloud Integration OData API (/api/v1 on the tenant management host); "
    "a key of plan 'integration-flow' calls iFlow endpoints (/http/... or /cxf/... on the '-rt' runtime host). "
    "Create a service key on an instance of the plan you need."
)
SECRET_FIELDS = ("clientsecret", "key")


class ServiceKeyError(ParameterError):
    """A service key that cannot be used; the message says what is wrong with it."""


def fix_pem(value):
    """Turn a PEM from a service key (literal \\n escapes, stray spaces) into PEM text with real newlines."""
    if not value:
        return None
    text = value.replace("\\r\\n", "\n").replace("\\n", "\n").replace("\r\n", "\n").strip()
    return text + "\n"


def infer_plan(clientid, url=None):
    """Infer the it-rt plan from the client id (``|it!b`` vs ``|it-rt-``), falling back to the URL host."""
    if clientid:
        tail = clientid.rsplit("|", 1)[-1]
        if tail.startswith("apiportal"):
            return PLAN_APIPORTAL
        if tail.startswith("it-rt-"):
            return PLAN_IFLOW
        if tail.startswith("it!"):
            return PLAN_API
    if url:
        host = urlsplit(url).hostname or ""
        first = host.split(".")
        if any(label.endswith("-rt") for label in first[1:2]) or "-rt." in host:
            return PLAN_IFLOW
        if ".it-" in host or host.startswith("it-"):
            return PLAN_API
    return None


def is_apiportal_key(data):
    """Whether a dict is the flat key of the API portal (camelCase ``clientId`` and no ``oauth`` block)."""
    return isinstance(data, dict) and "oauth" not in data and "clientId" in data and "clientid" not in data


def apiportal_token_url(certurl):
    """The token endpoint of an x509 API portal key (its ``certurl`` is the base of the mTLS token host)."""
    base = certurl.rstrip("/")
    return base if base.endswith("/oauth/token") else base + "/oauth/token"


def _parse_apiportal(data, option, details):
    """Normalised credentials of a flat API portal key."""
    for name in ("clientId", "url"):
        if not data.get(name):
            raise ServiceKeyError(option, "the API portal key lacks '%s'" % name)
    for flat, dummy in APIPORTAL_FIELDS:
        if data.get(flat) is not None and not isinstance(data[flat], str):
            raise ServiceKeyError(option, "'%s' must be a string" % flat)
    certificate = fix_pem(data.get("certificate"))
    private_key = fix_pem(data.get("privateKey"))
    secret = data.get("clientSecret")
    if certificate and "-----BEGIN CERTIFICATE-----" not in certificate:
        raise ServiceKeyError(option, "'certificate' is not a PEM certificate")
    if private_key and "PRIVATE KEY-----" not in private_key:
        raise ServiceKeyError(option, "'privateKey' is not a PEM private key")
    if secret:
        if not data.get("tokenUrl"):
            raise ServiceKeyError(option, "the API portal key lacks 'tokenUrl'")
        tokenurl, key_type = data["tokenUrl"], "client_secret"
    elif certificate and private_key:
        if not data.get("certurl") and not data.get("tokenUrl"):
            raise ServiceKeyError(option, "the x509 API portal key lacks 'certurl'")
        tokenurl = apiportal_token_url(data["certurl"]) if data.get("certurl") else data["tokenUrl"]
        key_type = "certificate"
    else:
        raise ServiceKeyError(option, "the API portal key has neither 'clientSecret' nor 'certificate' with 'privateKey'")
    creds = {
        "clientid": data["clientId"], "clientsecret": secret or None, "certificate": certificate, "key": private_key,
        "url": data["url"].rstrip("/"), "tokenurl": tokenurl, "createdate": None, "plan": PLAN_APIPORTAL,
        "key_type": key_type, "certificate_details": None,
    }
    if certificate and details:
        creds["certificate_details"] = certificate_details(certificate)
    return creds


def _unwrap(data, option):
    """Find the oauth object inside any accepted shape. Returns (oauth_dict, had_wrapper)."""
    if isinstance(data, str):
        text = data.strip()
        if not text:
            raise ServiceKeyError(option, "the service key is empty")
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ServiceKeyError(option, "the service key is not valid JSON (%s); paste the key exactly as the cockpit shows it" % exc.msg) from None
    if not isinstance(data, dict):
        raise ServiceKeyError(option, "expected a service key object, got %s" % type(data).__name__)
    if isinstance(data.get("raw"), dict):
        data = data["raw"]
    if isinstance(data.get("credentials"), dict):
        data = data["credentials"]
    if isinstance(data.get("oauth"), dict):
        return data["oauth"], True
    if "oauth" in data:
        raise ServiceKeyError(option, "the 'oauth' block of the service key must be an object")
    return data, False


def parse_service_key(data, option="service_key", require_wrapper=False, details=True):
    """Parse any accepted shape and return the normalised credentials dict.

    details=False skips certificate_details() (and so the cryptography import): callers on a hot path that
    only need the fields (e.g. a cached token lookup) set it; certificate_details is then None.
    Raises ServiceKeyError naming the option and the problem (missing field, bad JSON, bad PEM).
    """
    oauth, had_wrapper = _unwrap(data, option)
    if is_apiportal_key(oauth):
        return _parse_apiportal(oauth, option, details)
    if require_wrapper and not had_wrapper and "plan" not in oauth:
        raise ServiceKeyError(
            option, "no 'oauth' block found; an it-rt service key looks like {\"oauth\": {\"clientid\": ..., \"tokenurl\": ..., \"url\": ...}}")
    missing = [name for name in ("clientid", "url", "tokenurl") if not oauth.get(name)]
    if missing:
        raise ServiceKeyError(option, "the service key lacks %s" % ", ".join("'%s'" % name for name in missing))
    for name in ("clientid", "url", "tokenurl"):
        if not isinstance(oauth[name], str):
            raise ServiceKeyError(option, "'%s' must be a string" % name)
    certificate = fix_pem(oauth.get("certificate"))
    private_key = fix_pem(oauth.get("key"))
    secret = oauth.get("clientsecret")
    if certificate and "-----BEGIN CERTIFICATE-----" not in certificate:
        raise ServiceKeyError(option, "'certificate' is not a PEM certificate")
    if private_key and "PRIVATE KEY-----" not in private_key:
        raise ServiceKeyError(option, "'key' is not a PEM private key")
    if not secret and not certificate:
        raise ServiceKeyError(option, "the service key has neither 'clientsecret' nor 'certificate'")
    if secret:
        key_type = "client_secret"
    elif private_key:
        key_type = "certificate"
    else:
        key_type = oauth.get("key_type") if oauth.get("key_type") in KEY_TYPES else "external_certificate"
    plan = oauth.get("plan") if oauth.get("plan") in PLANS else infer_plan(oauth["clientid"], oauth["url"])
    creds = {
        "clientid": oauth["clientid"],
        "clientsecret": secret or None,
        "certificate": certificate,
        "key": private_key,
        "url": oauth["url"].rstrip("/"),
        "tokenurl": oauth["tokenurl"],
        "createdate": oauth.get("createdate"),
        "plan": plan,
        "key_type": key_type,
        "certificate_details": None,
    }
    sap_details = oauth.get("certificatedetails")
    if certificate and details:
        creds["certificate_details"] = certificate_details(certificate, sap_details)
    return creds


def parse_raw_service_key(data, option="service_key", require_wrapper=False):
    """Parse any accepted shape. Returns (raw, creds): the SAP JSON form ``{"oauth": {...}}`` and the normalised credentials.

    The raw form is the key as given (a raw key, the ``raw`` of a registered ``service_key`` result, the
    ``credentials`` of a CF details response); shapes without the ``oauth`` wrapper are rebuilt with to_raw().
    """
    creds = parse_service_key(data, option=option, require_wrapper=require_wrapper)
    if isinstance(data, str):
        data = json.loads(data.strip())
    if isinstance(data.get("raw"), dict):
        data = data["raw"]
    if isinstance(data.get("credentials"), dict) and (isinstance(data["credentials"].get("oauth"), dict)
                                                      or is_apiportal_key(data["credentials"])):
        data = data["credentials"]
    if isinstance(data.get("oauth"), dict) or is_apiportal_key(data):
        return json.loads(json.dumps(data)), creds
    return to_raw(creds), creds


def to_raw(creds):
    """The SAP JSON form (``{"oauth": {...}}``; the flat form for API portal keys) of normalised credentials."""
    if creds.get("plan") == PLAN_APIPORTAL:
        flat = {"url": creds["url"], "clientId": creds["clientid"]}
        if creds.get("clientsecret"):
            flat.update(tokenUrl=creds["tokenurl"], clientSecret=creds["clientsecret"])
        else:
            flat["certurl"] = creds["tokenurl"][: -len("/oauth/token")] if creds["tokenurl"].endswith("/oauth/token") else creds["tokenurl"]
            flat.update(certificate=creds.get("certificate"), privateKey=creds.get("key"))
        return flat
    oauth = {"clientid": creds["clientid"]}
    if creds.get("clientsecret"):
        oauth["clientsecret"] = creds["clientsecret"]
    if creds.get("certificate"):
        oauth["certificate"] = creds["certificate"]
    if creds.get("key"):
        oauth["key"] = creds["key"]
    oauth["url"] = creds["url"]
    oauth["tokenurl"] = creds["tokenurl"]
    if creds.get("createdate"):
        oauth["createdate"] = creds["createdate"]
    details = creds.get("certificate_details") or {}
    if details.get("sap"):
        oauth["certificatedetails"] = details["sap"]
    return {"oauth": oauth}


def secret_values(creds):
    """The secret strings inside normalised credentials or a flat API portal key (for redaction)."""
    names = SECRET_FIELDS + APIPORTAL_SECRET_FIELDS
    return [creds.get(name) for name in names if isinstance(creds, dict) and creds.get(name)]


def public_view(creds):
    """Credentials with secret fields masked, safe to display."""
    view = dict(creds)
    for name in SECRET_FIELDS:
        if view.get(name):
            view[name] = "********"
    return view


def require_plan(creds, wanted, purpose, option="service_key"):
    """Fail before any request when a key of the wrong plan is used."""
    plan = creds.get("plan")
    if plan is None or plan == wanted:
        return
    raise ServiceKeyError(option, "this is an '%s' key but %s needs an '%s' key. %s" % (plan, purpose, wanted, PLAN_HELP))


def cert_token_url(tokenurl):
    """The mTLS token URL for a token URL: XSUAA serves certificate clients on the '.authentication.cert.' host."""
    parts = urlsplit(tokenurl)
    host = parts.hostname or ""
    if ".authentication.cert." in host:
        return tokenurl
    if ".authentication." in host:
        netloc = parts.netloc.replace(".authentication.", ".authentication.cert.", 1)
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return None


def _iso(value):
    return value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_sap_date(value):
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.timezone.utc)


def certificate_details(pem_chain, sap_details=None, now=None):
    """Details of the leaf certificate of a PEM chain: not_after (ISO 8601), days_left, subject, issuer, serial."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    details = {"sap": sap_details} if isinstance(sap_details, dict) else {"sap": None}
    try:
        crypto = crypto_lib()
    except MissingDependencyError:
        crypto = None
    if crypto is not None:
        try:
            leaf = crypto.x509.load_pem_x509_certificates(pem_chain.encode("ascii"))[0]
        except ValueError as exc:
            raise ServiceKeyError("certificate", "the certificate PEM cannot be parsed: %s" % exc) from None
        not_after = leaf.not_valid_after_utc
        details.update(
            not_before=_iso(leaf.not_valid_before_utc),
            not_after=_iso(not_after),
            subject=leaf.subject.rfc4514_string(),
            issuer=leaf.issuer.rfc4514_string(),
            serial="0x%X" % leaf.serial_number,
            fingerprint_sha256=leaf.fingerprint(crypto.hashes.SHA256()).hex(),
        )
    elif isinstance(sap_details, dict) and sap_details.get("validuntil"):
        not_after = _parse_sap_date(sap_details["validuntil"])
        details.update(not_before=None, not_after=_iso(not_after) if not_after else None, subject=sap_details.get("subjectdn"),
                       issuer=sap_details.get("issuerdn"), serial=sap_details.get("serialnumber"), fingerprint_sha256=None)
    else:
        not_after = None
        details.update(not_before=None, not_after=None, subject=None, issuer=None, serial=None, fingerprint_sha256=None)
    details["days_left"] = math.floor((not_after - now).total_seconds() / 86400) if not_after else None
    details["expired"] = bool(not_after and not_after <= now)
    return details
