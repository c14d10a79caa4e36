# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. Where Cloud Integration credentials come from: the one home of credential resolution.

The API modules call (and new modules should call, see DEVELOPERS.md):

- ``argument_spec(reference_key="key")``: the credential options (doc fragment ``cpi_credentials``) plus the Cloud
  Foundry connection options (``cf_connection``), so that ``module_defaults`` for the action group reach every module;
- ``module_kwargs()``: the constraints between them, to pass to CloudIntegrationModule;
- ``resolve(module, require_url=False, plan=None, purpose=None)``: one normalised credentials dict (the shape of
  ``_service_key.parse_service_key``) from whichever source is set, with its secrets registered with the module.

Sources, in the order of precedence (the first one set wins; source options are mutually exclusive when given, and a
source that only the ``CPI_*`` environment variables supply counts only when no source option is given):

1. a CF reference: ``instance`` + ``key`` (``key_name``), read through the Cloud Foundry API with the CF connection;
2. ``stored``: a key stored by ``credentials_store`` in a file, an Ansible Vault file or a KV v2 secret, read with the
   readers the ``credentials`` lookup uses (``read_stored``; files are read on the controller by the action plugin);
3. ``service_key`` (dict or JSON text), then 4. ``service_key_path`` (a key file);
5. ``client_id`` + ``token_url`` with ``client_secret`` or ``client_cert``/``client_key``.

``url``, ``token_url``, ``client_cert`` and ``client_key`` then override or complete the values of the key.
A client certificate's private key must match it (checked here); that it has not expired is checked right before
it is first sent (``_http.client_cert_files``), so that a cached token needs no cryptography import.
"""

from __future__ import annotations

import json
import os
from urllib.parse import urlsplit

from ansible.module_utils.basic import env_fallback

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils import _formats, _secret_io
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._cf import cf_argument_spec, cf_module_kwargs, merge_module_kwargs
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._deps import crypto_lib
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._errors import ParameterError, safe_url
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._service_key import (
    fix_pem,
    infer_plan,
    parse_raw_service_key,
    parse_service_key,
    require_plan,
    secret_values,
)
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._vault import APIPORTAL_OWNED_FIELDS, OWNED_FIELDS, KvStore, vault_argument_spec

# every source option, in the order of precedence
SOURCES = ("instance", "stored", "service_key", "service_key_path", "client_id")
STORED_SOURCES = ("file", "ansible_vault", "hashicorp_vault")
STORED_FORMATS = ("auto", "json", "yaml", "env", "postman")
ENV = {
    "service_key": ["CPI_SERVICE_KEY"],
    "service_key_path": ["CPI_SERVICE_KEY_PATH"],
    "client_id": ["CPI_CLIENT_ID"],
    "client_secret": ["CPI_CLIENT_SECRET"],
    "token_url": ["CPI_TOKEN_URL"],
    "url": ["CPI_URL"],
    "client_cert": ["CPI_CLIENT_CERT", "CPI_CLIENT_CERT_PATH"],
    "client_key": ["CPI_CLIENT_KEY", "CPI_CLIENT_KEY_PATH"],
}
_SECRET_FIELDS = ("clientsecret", "key", "client_secret", "password", "clientSecret", "privateKey")
VAULT_HEADER = b"$ANSIBLE_VAULT;"
# set by the action plugins: the key they read (and decrypted) on the controller for O(stored)
STORED_KEY_PARAM = "_stored_key"


# ---------------------------------------------------------------------------------------------------------------
# argument spec

def stored_spec():
    """Suboptions of ``stored`` (doc fragment ``cpi_credentials``)."""
    spec = dict(
        source=dict(type="str", default="file", choices=list(STORED_SOURCES)),
        path=dict(type="str", required=True),
        format=dict(type="str", default="auto", choices=list(STORED_FORMATS)),
        env_prefix=dict(type="str", default=_formats.DEFAULT_ENV_PREFIX),
    )
    vault = vault_argument_spec()
    vault["url"]["no_log"] = False
    spec.update(vault)
    return spec


def argument_spec(reference_key="key", cf=True):
    """The credential options, the CF reference and (cf=True) the Cloud Foundry connection options.

    reference_key: the option naming the key of the CF reference - ``key`` (alias ``key_name``), or ``key_name`` in a
    module that has its own ``key`` option (odata_request: the OData entity key).
    """
    spec = dict(
        instance=dict(type="str"),
        stored=dict(type="dict", options=stored_spec()),
        service_key=dict(type="raw", no_log=True, fallback=(env_fallback, ENV["service_key"])),
        service_key_path=dict(type="path", no_log=False, fallback=(env_fallback, ENV["service_key_path"])),
        client_id=dict(type="str", fallback=(env_fallback, ENV["client_id"])),
        client_secret=dict(type="str", no_log=True, fallback=(env_fallback, ENV["client_secret"])),
        token_url=dict(type="str", no_log=False, fallback=(env_fallback, ENV["token_url"])),
        url=dict(type="str", fallback=(env_fallback, ENV["url"])),
        client_cert=dict(type="str", fallback=(env_fallback, ENV["client_cert"])),
        client_key=dict(type="str", no_log=True, fallback=(env_fallback, ENV["client_key"])),
        allow_http=dict(type="bool", default=False, fallback=(env_fallback, ["SAP_BTP_ALLOW_HTTP"])),
    )
    spec[STORED_KEY_PARAM] = dict(type="raw", no_log=True)
    if reference_key == "key":
        spec["key"] = dict(type="str", no_log=False, aliases=["key_name"])
    else:
        spec[reference_key] = dict(type="str", no_log=False)
    if cf:
        spec.update(cf_argument_spec())
    return spec


def mutually_exclusive():
    """Every pair of explicit source options (and a secret next to a key that brings its own)."""
    pairs = [(first, second) for index, first in enumerate(SOURCES) for second in SOURCES[index + 1:]]
    pairs += [(name, "client_secret") for name in SOURCES if name != "client_id"]
    return pairs


def module_kwargs(reference_key="key", cf=True, **extra):
    """CloudIntegrationModule keyword arguments for argument_spec(); extra kwargs (lists, dicts) are merged in."""
    own = dict(mutually_exclusive=mutually_exclusive(), required_by={"instance": (reference_key,)})
    return merge_module_kwargs(cf_module_kwargs() if cf else {}, own, extra)


# ---------------------------------------------------------------------------------------------------------------
# helpers

def _leaves(obj, parent=None):
    """(field name, string value) pairs of a nested structure."""
    if isinstance(obj, dict):
        for name, value in obj.items():
            yield from _leaves(value, name)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            yield from _leaves(value, parent)
    elif isinstance(obj, str) and obj:
        yield parent, obj
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        yield parent, str(obj)


def release_public_values(module, raw):
    """A service key given as a dict is no_log as a whole, so Ansible would mask its public fields (client id,
    URLs) wherever they appear in the result. Keep only its secret fields masked."""
    if not isinstance(raw, dict):
        return
    secrets = {value for name, value in _leaves(raw) if name in _SECRET_FIELDS}
    for name, value in _leaves(raw):
        if name not in _SECRET_FIELDS and value not in secrets:
            module.no_log_values.discard(value)


def load_pem(value, option, marker):
    """PEM text (real or ``\\n``-escaped line breaks) or the path of a PEM file."""
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    if "-----BEGIN" not in text:
        path = os.path.expanduser(text)
        if not os.path.isfile(path):
            raise ParameterError(option, "expected PEM text or the path of a readable PEM file; %s is not a file" % path)
        try:
            with open(path, "r", encoding="utf-8") as handle:
                text = handle.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise ParameterError(option, "cannot read the PEM file: %s" % (getattr(exc, "strerror", None) or exc)) from None
    pem = fix_pem(text)
    if marker not in pem:
        raise ParameterError(option, "the value is not a PEM %s" % ("certificate" if "CERTIFICATE" in marker else "private key"))
    return pem


def check_key_pair(certificate, key, option="client_key"):
    """Fail before any request when the private key does not belong to the (first) certificate of the chain."""
    crypto = crypto_lib()
    try:
        leaf = crypto.x509.load_pem_x509_certificates(certificate.encode("ascii"))[0]
        private_key = crypto.serialization.load_pem_private_key(key.encode("ascii"), password=None)
    except (ValueError, TypeError, UnicodeEncodeError) as exc:
        raise ParameterError(option, "the client certificate or its private key cannot be loaded: %s" % exc) from None
    spki = crypto.serialization.PublicFormat.SubjectPublicKeyInfo
    der = crypto.serialization.Encoding.DER
    if private_key.public_key().public_bytes(der, spki) != leaf.public_key().public_bytes(der, spki):
        raise ParameterError(
            option,
            "the private key does not match the client certificate (subject %s); pass the private key that belongs to "
            "this certificate" % leaf.subject.rfc4514_string(),
        )


def validate_url(value, option, allow_http=False):
    """An absolute https:// URL (http:// only with allow_http); the error names the option."""
    parts = urlsplit(value or "")
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ParameterError(option, "expected an absolute https:// URL")
    if parts.scheme == "http" and not allow_http:
        raise ParameterError(
            option,
            "%s is a plain http:// URL, which would send client credentials and tokens unencrypted; use the https:// URL "
            "of the service key, or set allow_http: true (only for a local test server)" % safe_url(value),
        )
    return value.rstrip("/") if option == "url" else value


# ---------------------------------------------------------------------------------------------------------------
# readers (shared with credentials_store and the credentials lookup)

def key_option(params, option, path_option):
    """(option, raw) of a key given in ``option`` (a dict or JSON text) or as a file in ``path_option``; (None, None) when
    neither is set. Every key an option pair takes (service_key, apiportal_key, destination_service_key,
    target_service_key) is read here."""
    value = params.get(option)
    if value not in (None, "", {}):
        return option, value
    if params.get(path_option):
        path = os.path.expanduser(params[path_option])
        return path_option, _secret_io.read_text(path, path_option, what="the key file", binary_hint="a service key is JSON")
    return None, None


def read_key_file(path, option="src"):
    """(raw, creds) of a key file: the JSON the cockpit downloads, or a json/yaml/env/postman file written by
    credentials_store."""
    path = os.path.expanduser(path)
    text = _secret_io.read_text(path, option, what="the key file", binary_hint="a service key is JSON")
    if text.startswith(VAULT_HEADER.decode("ascii")):
        raise ParameterError(option, "%s is encrypted with Ansible Vault; only the controller can decrypt it: use "
                                     "stored (source ansible_vault) or the credentials lookup" % path)
    if path.lower().endswith(".json") or text.lstrip().startswith(("{", "[")):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if not (isinstance(data, dict) and data.get("_postman_variable_scope") == _formats.POSTMAN_SCOPE):
            # the cockpit's JSON (parse_raw_service_key reports bad JSON with the position of the error)
            return parse_raw_service_key(text, option=option, require_wrapper=True)
    return parse_raw_service_key(_formats.parse_stored(text, "auto"), option=option, require_wrapper=True)


def encrypted(data):
    """True when data (bytes) is Ansible Vault text."""
    return data is not None and data.lstrip().startswith(VAULT_HEADER)


def read_stored(source, path, fmt="auto", env_prefix=None, store=None, decrypt=None, option=None):
    """(raw, creds) of a key stored by credentials_store (the readers of the credentials lookup).

    source: file, ansible_vault or hashicorp_vault. For hashicorp_vault, path is the secret's path inside the mount
    of store (a KvStore). For the files, path is a file path; decrypt(data, path) -> bytes decrypts Ansible Vault
    content (only the controller can: the lookup and the action plugins pass it).
    """
    option = option or path
    if source == "hashicorp_vault":
        state = store.read(path)
        if state.data is None:
            raise ParameterError(option, "no secret at %s/%s%s" % (store.mount, path.strip("/"), " (its latest version is deleted)" if state.deleted else ""))
        if "clientId" in state.data and "clientid" not in state.data:
            # the flat key of an apimanagement-apiportal instance
            flat = {name: state.data[name] for name in APIPORTAL_OWNED_FIELDS if name in state.data}
            return parse_raw_service_key(flat, option=option)
        oauth = {name: state.data[name] for name in OWNED_FIELDS if name in state.data}
        return parse_raw_service_key({"oauth": oauth}, option=option)
    data = _secret_io.read_file(path, option)
    if data is None:
        raise ParameterError(option, "the file %s does not exist" % path)
    if encrypted(data):
        if decrypt is None:
            raise ParameterError(option, "%s is encrypted with Ansible Vault; only the controller can decrypt it" % path)
        data = decrypt(data, path)
    elif source == "ansible_vault":
        raise ParameterError(option, "%s is not encrypted with Ansible Vault (use source=file for a plain file)" % path)
    text = _secret_io.decode_text(data, path, option, "pem and pkcs12 files cannot be read back")
    stored = _formats.parse_stored(text, fmt or "auto", env_prefix if env_prefix is not None else _formats.DEFAULT_ENV_PREFIX)
    return parse_raw_service_key(stored, option=option, require_wrapper=True)


def cf_key(module, instance, key, key_guid=None, option="key", cf_client=None):
    """(raw, creds) of service key `key` of service instance `instance`, read through the Cloud Foundry API with the
    module's CF connection options (or ``cf_client``, a client that a batch shares); registers the key's secrets."""
    from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._cf import CfClient

    if not key:
        raise ParameterError(option, "the name of the service key of instance '%s' is required" % instance)
    try:
        raw_data = (cf_client or CfClient.from_module(module)).fetch_key(instance, key, key_guid)
    except ParameterError as exc:
        if exc.option != "name":
            raise
        raise ParameterError(option, str(exc).split(": ", 1)[-1]) from None
    raw, creds = parse_raw_service_key(raw_data, option=option)
    register(module, raw, creds)
    return raw, creds


def register(module, raw, creds):
    """Register the secrets of a key (normalised and raw) with the module."""
    module.add_secrets(*secret_values(creds))
    if isinstance(raw, dict):
        module.add_secrets(*secret_values(raw.get("oauth") if isinstance(raw.get("oauth"), dict) else raw))


def _stored(module, reference_key):
    params = module.params
    stored = params["stored"]
    if params.get(STORED_KEY_PARAM) is not None:
        # read (and decrypted) on the controller by the action plugin
        release_public_values(module, params[STORED_KEY_PARAM])
        return parse_service_key(params[STORED_KEY_PARAM], option="stored", details=False)
    if stored["source"] == "hashicorp_vault":
        vault = dict(stored, validate_certs=params.get("validate_certs", True), ca_path=params.get("ca_path"), timeout=params.get("timeout"))
        for name in ("token", "secret_id"):
            if vault.get(name):
                module.add_secrets(vault[name])
        store = KvStore.from_params(vault, redactor=module.redactor)
        dummy, creds = read_stored("hashicorp_vault", stored["path"], store=store, option="stored")
        return creds
    path = os.path.abspath(os.path.expanduser(stored["path"]))
    dummy, creds = read_stored(stored["source"], path, stored.get("format"), stored.get("env_prefix"), option="stored")
    return creds


def _from_environment(params, name):
    """True when the value of option name is the one its environment variable supplied (an env fallback)."""
    value = params.get(name)
    return any(value == os.environ.get(variable) for variable in ENV.get(name, ())) if isinstance(value, str) else False


def choose_source(params):
    """The credential source option to use: the first one set (in SOURCES order) by the task or module_defaults;
    only when none is, the first one filled from its CPI_* environment variable."""
    present = [name for name in SOURCES if params.get(name) not in (None, "", {})]
    explicit = [name for name in present if not _from_environment(params, name)]
    return (explicit or present or [None])[0]


# ---------------------------------------------------------------------------------------------------------------
# the entry point

def resolve(module, require_url=False, plan=None, purpose=None, reference_key="key", register_secrets=True):
    """Normalised credentials from the module's options; registers their secrets with the module.

    require_url: fail (naming ``url``) when the credentials hold no Cloud Integration URL.
    plan: ``api`` or ``integration-flow``: fail before any request when the key is of another plan (purpose says
    what it is needed for).
    """
    params = module.params
    source = choose_source(params)
    values = {name: params.get(name) for name in SOURCES}
    if source == "instance":
        dummy, creds = cf_key(module, params["instance"], params.get(reference_key), option=reference_key)
    elif source == "stored":
        creds = _stored(module, reference_key)
    elif source in ("service_key", "service_key_path"):
        # the chosen source only: a CPI_SERVICE_KEY in the environment does not override the task's key file
        option, raw = key_option({source: values[source]}, "service_key", "service_key_path")
        try:
            creds = parse_service_key(raw, option=option, details=False)
        finally:
            if register_secrets and option == "service_key":
                release_public_values(module, raw)
    elif source == "client_id":
        if not params.get("token_url"):
            raise ParameterError("token_url", "required with client_id (the 'tokenurl' of the service key)")
        creds = {
            "clientid": values["client_id"],
            "clientsecret": params.get("client_secret") or None,
            "certificate": None,
            "key": None,
            "url": None,
            "tokenurl": params["token_url"],
            "plan": None,
            "key_type": "client_secret" if params.get("client_secret") else "certificate",
        }
    else:
        raise ParameterError(
            None,
            "no Cloud Integration credentials: set instance and %s (a service key read through Cloud Foundry), stored, "
            "service_key (or CPI_SERVICE_KEY), service_key_path (CPI_SERVICE_KEY_PATH), or client_id and token_url with "
            "client_secret or client_cert/client_key (CPI_CLIENT_ID, CPI_TOKEN_URL, ...)" % reference_key,
        )
    if register_secrets:
        module.add_secrets(creds.get("clientsecret"), creds.get("key"))
    creds["source"] = source
    creds["tokenurl_from_key"] = source != "client_id"
    if params.get("token_url") and source != "client_id":
        creds["tokenurl"] = params["token_url"]
        creds["tokenurl_from_key"] = False
    if params.get("url"):
        creds["url"] = params["url"]
    if source == "client_id" and params.get("client_secret") is None and not params.get("client_cert"):
        raise ParameterError("client_secret", "client_id needs client_secret, or client_cert and client_key for a certificate client")
    if params.get("client_cert"):
        creds["certificate"] = load_pem(params["client_cert"], "client_cert", "-----BEGIN CERTIFICATE-----")
    if params.get("client_key"):
        creds["key"] = load_pem(params["client_key"], "client_key", "PRIVATE KEY-----")
        if register_secrets:
            module.add_secrets(creds["key"])
    if creds.get("certificate") and not creds.get("clientsecret") and not creds.get("key"):
        raise ParameterError(
            "client_key",
            "this is an external-certificate key: it holds the certificate but not the private key; pass the private key "
            "that belongs to the certificate in client_key (PEM text or a path)",
        )
    if creds.get("key") and not creds.get("certificate"):
        raise ParameterError("client_cert", "client_key needs the matching certificate (client_cert or the key's 'certificate')")
    if (params.get("client_cert") or params.get("client_key")) and creds.get("certificate") and creds.get("key"):
        # a pair assembled by the user (the key of an external certificate, or an override): check it belongs together
        check_key_pair(creds["certificate"], creds["key"])
    # the option an error about the certificate names (its validity is checked before it is first sent)
    creds["certificate_option"] = "client_cert" if params.get("client_cert") else source
    allow_http = bool(params.get("allow_http"))
    creds["tokenurl"] = validate_url(creds["tokenurl"], "token_url", allow_http)
    if creds.get("url"):
        creds["url"] = validate_url(creds["url"], "url", allow_http)
    elif require_url:
        raise ParameterError("url", "the Cloud Integration URL is needed (the 'url' of the service key, or CPI_URL)")
    if creds.get("plan") is None:
        creds["plan"] = infer_plan(creds["clientid"], creds.get("url"))
    if plan:
        check_plan(creds, plan, purpose or "this module")
    return creds


def nested_credentials_spec():
    """The explicit credential options as suboptions of a dict option, for a second set of credentials in one task
    (such as the ``api`` key with which iflow_request resolves an endpoint). No environment fallbacks: the ``CPI_*``
    variables belong to the task's own credentials; O(allow_http) is the task's."""
    spec = argument_spec(cf=False)
    for name in ("allow_http", "instance", "stored", "key", STORED_KEY_PARAM):
        spec.pop(name, None)
    for option in spec.values():
        option.pop("fallback", None)
    return spec


class _NestedOptions:
    """What resolve() needs of a module, for the suboptions of one dict option."""

    def __init__(self, module, option):
        self.module = module
        self.params = dict(module.params.get(option) or {})
        self.params["allow_http"] = module.params.get("allow_http")
        self.no_log_values = module.no_log_values

    def add_secrets(self, *values):
        self.module.add_secrets(*values)


def resolve_nested_credentials(module, option, require_url=True):
    """resolve() for the dict option ``option``; errors name ``option.<suboption>``."""
    try:
        creds = resolve(_NestedOptions(module, option), require_url=require_url)
    except ParameterError as exc:
        raise ParameterError("%s.%s" % (option, exc.option) if exc.option else option, exc.reason) from None
    creds["source"] = "%s.%s" % (option, creds["source"])
    return creds


def check_plan(creds, wanted, purpose):
    """Fail before any request when the key is of the wrong plan (ServiceKeyError names the option)."""
    require_plan(creds, wanted, purpose, option=creds.get("source") or "service_key")


__all__ = [
    "SOURCES",
    "argument_spec",
    "module_kwargs",
    "resolve",
    "check_plan",
    "nested_credentials_spec",
    "resolve_nested_credentials",
    "read_stored",
    "read_key_file",
    "cf_key",
]
