# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. Renders a service key into the delivery formats and reads them back.

Formats:
- ``json``: the raw key (``{"oauth": {...}}``) exactly as SAP shows it, indented;
- ``yaml``: the same structure, PEMs as literal blocks with real line breaks;
- ``env``: dotenv lines ``CPI_CLIENT_ID='...'`` (names match the collection's ``CPI_*`` env fallbacks);
- ``pem``: the certificate chain and the private key as two files with real line breaks;
- ``pkcs12``: a password-protected bundle (leaf certificate, private key, chain) for Java clients and Postman;
- ``postman``: a Postman environment with the values the SAP tutorial has users type in by hand.

Rendering is deterministic (same key and options give the same bytes) except for PKCS#12, whose output is
salted; its equality is decided by decrypting the existing bundle and comparing certificates and key.
Fields are compared and shown by fingerprint only (``field_changes``); values never leave this module.
"""

from __future__ import annotations

import json
import os
import re
import uuid

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._deps import MissingDependencyError, crypto_lib
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._errors import ParameterError
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._redact import fingerprint
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._service_key import APIPORTAL_FIELDS, cert_token_url, is_apiportal_key

FORMATS = ("json", "yaml", "env", "pem", "pkcs12", "postman")
# formats that hold a whole key and can be read back
READABLE_FORMATS = ("json", "yaml", "env", "postman")
CERTIFICATE_FORMATS = ("pem", "pkcs12")
# the fields of the oauth block of an it-rt service key, in SAP's order
KEY_FIELDS = ("clientid", "clientsecret", "certificate", "key", "url", "tokenurl", "createdate", "certificatedetails")
ENV_NAMES = (
    ("clientid", "CLIENT_ID"),
    ("clientsecret", "CLIENT_SECRET"),
    ("tokenurl", "TOKEN_URL"),
    ("url", "URL"),
    ("certificate", "CLIENT_CERT"),
    ("key", "CLIENT_KEY"),
    ("createdate", "CREATEDATE"),
)
DEFAULT_ENV_PREFIX = "CPI_"
DEFAULT_FRIENDLY_NAME = "cloud-integration"
POSTMAN_SCOPE = "environment"
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ENV_LINE_RE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$")
_PEM_EXTENSIONS = (".pem", ".crt", ".cer")
_ESCAPE_RE = re.compile(r"\\(.)")


def key_fields(raw):
    """The oauth fields of a raw key that exist, in SAP's order (the flat fields of an API portal key as they are)."""
    if is_apiportal_key(raw):
        return {flat: raw[flat] for flat, dummy in APIPORTAL_FIELDS if raw.get(flat) not in (None, "")}
    oauth = raw.get("oauth") if isinstance(raw, dict) else None
    oauth = oauth if isinstance(oauth, dict) else {}
    return {name: oauth[name] for name in KEY_FIELDS if oauth.get(name) not in (None, "")}


def field_changes(before, after):
    """Compare two field dicts. Returns (changed field names, diff with fingerprints of changed fields only)."""
    before = before or {}
    after = after or {}
    names = [name for name in list(after) + [n for n in before if n not in after] if before.get(name) != after.get(name)]
    diff = {
        "before": {name: fingerprint(before[name]) for name in names if name in before},
        "after": {name: fingerprint(after[name]) for name in names if name in after},
    }
    return names, diff


def default_private_key_path(path):
    """Where the private key of the ``pem`` format goes when private_key_path is not set."""
    root, ext = os.path.splitext(path)
    if ext.lower() in _PEM_EXTENSIONS:
        return root + ".key"
    return path + ".key"


def _require_certificate(creds, fmt):
    if not creds.get("certificate"):
        raise ParameterError(
            "format",
            "format '%s' needs a certificate key, but this is a client-secret key (it has no certificate or private key); "
            "use json, yaml, env or postman, or create a key with key_type 'certificate'" % fmt,
        )
    if not creds.get("key"):
        raise ParameterError(
            "format",
            "format '%s' needs the private key, but this external-certificate key has none (the private key stays with its owner); "
            "use json, yaml, env or postman" % fmt,
        )


def render_json(raw):
    return (json.dumps(raw, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _yaml():
    """ansible-core's guarded PyYAML helpers (PyYAML is not guaranteed on a managed node)."""
    from ansible.module_utils.common import yaml as yaml_helpers

    if not yaml_helpers.HAS_YAML:
        raise MissingDependencyError("PyYAML", reason="to read or write the yaml format")
    return yaml_helpers


def render_yaml(raw):
    helpers = _yaml()

    class _Dumper(helpers.SafeDumper):  # pylint: disable=too-many-ancestors
        """SafeDumper that writes multi-line strings (PEMs) as literal blocks."""

    def _str(dumper, value):
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    _Dumper.add_representer(str, _str)
    text = helpers.yaml_dump(raw, Dumper=_Dumper, default_flow_style=False, sort_keys=False, allow_unicode=True, width=1000)
    return ("---\n" + text).encode("utf-8")


def _env_quote(value):
    value = str(value)
    if "'" not in value:
        return "'%s'" % value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$").replace("`", "\\`")
    return '"%s"' % escaped


def render_env(creds, prefix=DEFAULT_ENV_PREFIX):
    if prefix and not _ENV_NAME_RE.match(prefix.rstrip("_") or "_"):
        raise ParameterError("env_prefix", "must consist of letters, digits and underscores")
    lines = ["# SAP Cloud Integration service key (written by sap_btp.cloud_integration.credentials_store)"]
    for field, suffix in ENV_NAMES:
        value = creds.get(field)
        if value:
            if field in ("certificate", "key"):
                value = value.rstrip("\n")
            lines.append("%s%s=%s" % (prefix or "", suffix, _env_quote(value)))
    return ("\n".join(lines) + "\n").encode("utf-8")


def _token_url_for(creds):
    if creds.get("key_type") == "client_secret":
        return creds["tokenurl"]
    return cert_token_url(creds["tokenurl"]) or creds["tokenurl"]


def render_postman(creds, name=None, certificate_path=None, private_key_path=None):
    """A Postman environment (import it in Postman) with the values of the SAP tutorial's OAuth 2.0 dialog."""
    token_url = _token_url_for(creds)
    name = name or "SAP Cloud Integration (%s)" % (creds.get("plan") or "it-rt")
    values = [("tokenUrl", token_url, "default"), ("clientId", creds["clientid"], "default")]
    if creds.get("clientsecret"):
        values.append(("clientSecret", creds["clientsecret"], "secret"))
        values.append(("clientAuthentication", "header", "default"))
    else:
        host = token_url.split("://", 1)[-1].split("/", 1)[0]
        values.append(("clientAuthentication", "body", "default"))
        values.append(("certificateHost", host, "default"))
        if certificate_path:
            values.append(("certificateFile", certificate_path, "default"))
        if private_key_path:
            values.append(("keyFile", private_key_path, "default"))
    values.append(("grantType", "client_credentials", "default"))
    values.append(("url", creds["url"], "default"))
    environment = {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, "sap_btp.cloud_integration:%s:%s" % (creds["clientid"], name))),
        "name": name,
        "values": [{"key": key, "value": value, "type": kind, "enabled": True} for key, value, kind in values],
        "_postman_variable_scope": POSTMAN_SCOPE,
    }
    return (json.dumps(environment, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def render_pem(creds):
    """(certificate chain bytes, private key bytes)."""
    _require_certificate(creds, "pem")
    return creds["certificate"].encode("ascii"), creds["key"].encode("ascii")


def _load_pair(creds):
    crypto = crypto_lib()
    try:
        certificates = crypto.x509.load_pem_x509_certificates(creds["certificate"].encode("ascii"))
        private_key = crypto.serialization.load_pem_private_key(creds["key"].encode("ascii"), password=None)
    except (ValueError, TypeError) as exc:
        raise ParameterError("key", "the certificate or private key of the service key cannot be loaded: %s" % exc) from None
    spki = crypto.serialization.PublicFormat.SubjectPublicKeyInfo
    der = crypto.serialization.Encoding.DER
    if private_key.public_key().public_bytes(der, spki) != certificates[0].public_key().public_bytes(der, spki):
        raise ParameterError("key", "the private key of the service key does not match its certificate")
    return crypto, certificates, private_key


def render_pkcs12(creds, password, friendly_name=None):
    _require_certificate(creds, "pkcs12")
    if not password:
        raise ParameterError("pkcs12_password", "format 'pkcs12' needs a password for the bundle")
    crypto, certificates, private_key = _load_pair(creds)
    name = (friendly_name or DEFAULT_FRIENDLY_NAME).encode("utf-8")
    return crypto.pkcs12.serialize_key_and_certificates(
        name, private_key, certificates[0], certificates[1:] or None,
        crypto.serialization.BestAvailableEncryption(password.encode("utf-8")),
    )


def pkcs12_contents(data, password):
    """Decrypt a PKCS#12 bundle: dict(key, certificate, chain, friendly_name) as DER bytes, or None if it cannot be read."""
    crypto = crypto_lib()
    try:
        bundle = crypto.pkcs12.load_pkcs12(data, password.encode("utf-8") if password else None)
    except (ValueError, TypeError):
        return None
    if bundle.key is None or bundle.cert is None:
        return None
    der = crypto.serialization.Encoding.DER
    return {
        "key": bundle.key.private_bytes(der, crypto.serialization.PrivateFormat.PKCS8, crypto.serialization.NoEncryption()),
        "certificate": bundle.cert.certificate.public_bytes(der),
        "chain": [extra.certificate.public_bytes(der) for extra in bundle.additional_certs],
        "friendly_name": bundle.cert.friendly_name,
    }


def pkcs12_same(existing, creds, password, friendly_name=None):
    """True when the existing bundle decrypts with password and holds the same key, certificates and name."""
    current = pkcs12_contents(existing, password)
    if current is None:
        return False
    crypto, certificates, private_key = _load_pair(creds)
    der = crypto.serialization.Encoding.DER
    wanted = {
        "key": private_key.private_bytes(der, crypto.serialization.PrivateFormat.PKCS8, crypto.serialization.NoEncryption()),
        "certificate": certificates[0].public_bytes(der),
        "chain": [cert.public_bytes(der) for cert in certificates[1:]],
        "friendly_name": (friendly_name or DEFAULT_FRIENDLY_NAME).encode("utf-8"),
    }
    return current == wanted


def render(fmt, raw, creds, path, options=None):
    """Render a key. Returns a list of outputs: dict(role, path, content, same), one per file.

    options: private_key_path, certificate_path, pkcs12_password, pkcs12_friendly_name, env_prefix, postman_name.
    ``same`` is None (compare bytes) or a callable(existing_bytes) -> bool.
    """
    options = options or {}
    if fmt == "json":
        return [{"role": "key", "path": path, "content": render_json(raw), "same": None}]
    if fmt == "yaml":
        return [{"role": "key", "path": path, "content": render_yaml(raw), "same": None}]
    if fmt == "env":
        return [{"role": "key", "path": path, "content": render_env(creds, options.get("env_prefix", DEFAULT_ENV_PREFIX)), "same": None}]
    if fmt == "postman":
        content = render_postman(creds, options.get("postman_name"), options.get("certificate_path"), options.get("private_key_path"))
        return [{"role": "key", "path": path, "content": content, "same": None}]
    if fmt == "pem":
        certificate, private_key = render_pem(creds)
        key_path = options.get("private_key_path") or default_private_key_path(path)
        if os.path.abspath(key_path) == os.path.abspath(path):
            raise ParameterError("private_key_path", "must differ from path (the certificate chain goes to path)")
        return [
            {"role": "certificate", "path": path, "content": certificate, "same": None},
            {"role": "private_key", "path": key_path, "content": private_key, "same": None},
        ]
    if fmt == "pkcs12":
        password = options.get("pkcs12_password")
        friendly = options.get("pkcs12_friendly_name")
        content = render_pkcs12(creds, password, friendly)
        return [{"role": "pkcs12", "path": path, "content": content, "same": lambda existing: pkcs12_same(existing, creds, password, friendly)}]
    raise ParameterError("format", "unknown format '%s'; expected one of %s" % (fmt, ", ".join(FORMATS)))


def stored_fields(fmt, existing, options=None):
    """Key fields of existing files, for the diff: a dict ({} when nothing exists) or None when unreadable.

    existing: list of bytes-or-None aligned with the outputs of render().
    """
    options = options or {}
    if all(item is None for item in existing):
        return {}
    try:
        if fmt == "pem":
            fields = {}
            for (name, data) in zip(("certificate", "key"), existing):
                if data is not None:
                    fields[name] = data.decode("utf-8")
            return fields
        if fmt == "pkcs12":
            current = pkcs12_contents(existing[0], options.get("pkcs12_password"))
            if current is None:
                return None
            return {"certificate": [current["certificate"]] + current["chain"], "key": current["key"]}
        return key_fields(parse_stored(existing[0], fmt, options.get("env_prefix", DEFAULT_ENV_PREFIX), follow_references=False))
    except (ParameterError, UnicodeDecodeError, MissingDependencyError):
        return None


def rendered_fields(fmt, raw, creds, outputs, options=None):
    """The key fields a rendering holds, in the shape stored_fields reads them back."""
    options = options or {}
    if fmt == "pem":
        return {"certificate": creds["certificate"], "key": creds["key"]}
    if fmt == "pkcs12":
        crypto, certificates, private_key = _load_pair(creds)
        der = crypto.serialization.Encoding.DER
        return {"certificate": [cert.public_bytes(der) for cert in certificates],
                "key": private_key.private_bytes(der, crypto.serialization.PrivateFormat.PKCS8, crypto.serialization.NoEncryption())}
    if fmt in ("env", "postman"):
        return key_fields(parse_stored(outputs[0]["content"], fmt, options.get("env_prefix", DEFAULT_ENV_PREFIX), follow_references=False))
    return key_fields(raw)


def _hexed(value):
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list):
        return [_hexed(item) for item in value]
    if isinstance(value, dict):
        return {name: _hexed(item) for name, item in value.items()}
    return value


def content_field_changes(fmt, raw, creds, outputs, existing, options=None):
    """(changed field names, fingerprint diff) between the existing files and a new rendering.

    When the existing content cannot be read as a key (foreign content, another PKCS#12 password) or only
    non-key content differs (a Postman name, a file reference), the change is reported as field ``content``.
    """
    before = stored_fields(fmt, existing, options)
    after = rendered_fields(fmt, raw, creds, outputs, options)
    names, diff = ([], None) if before is None else field_changes(_hexed(before), _hexed(after))
    if names:
        return names, diff
    old = [item for item in existing if item is not None]
    return ["content"], {"before": {"content": fingerprint(b"".join(old))} if old else {},
                         "after": {"content": fingerprint(b"".join(item["content"] for item in outputs))}}


# ---------------------------------------------------------------- reading back


def _parse_env(text, prefix):
    """Parse dotenv text (single- and double-quoted values may span lines) into a dict of name -> value."""
    values = {}
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _ENV_LINE_RE.match(line)
        if not match:
            raise ParameterError("format", "line %d is not a NAME=value line" % index)
        name, rest = match.group(1), match.group(2)
        if rest[:1] in ("'", '"'):
            quote = rest[0]
            body = rest[1:]
            while not _closes(body, quote):
                if index >= len(lines):
                    raise ParameterError("format", "unterminated quoted value for %s" % name)
                body += "\n" + lines[index]
                index += 1
            body = body.rstrip()[:-1]
            if quote == '"':
                body = _ESCAPE_RE.sub(lambda m: "\n" if m.group(1) == "n" else m.group(1), body)
            values[name] = body
        else:
            values[name] = rest.split(" #", 1)[0].strip()
    wanted = {prefix + suffix: field for field, suffix in ENV_NAMES}
    oauth = {field: values[name] for name, field in wanted.items() if values.get(name)}
    for field in ("certificate", "key"):
        if oauth.get(field):
            oauth[field] = oauth[field].rstrip("\n") + "\n"
    return {"oauth": oauth} if oauth else {}


def _closes(body, quote):
    stripped = body.rstrip()
    if not stripped.endswith(quote):
        return False
    if quote == '"':
        backslashes = len(stripped[:-1]) - len(stripped[:-1].rstrip("\\"))
        return backslashes % 2 == 0
    return True


def _parse_postman(data, follow_references=True):
    values = {item.get("key"): item.get("value") for item in data.get("values") or [] if isinstance(item, dict) and item.get("enabled", True)}
    oauth = {}
    for source, field in (("clientId", "clientid"), ("clientSecret", "clientsecret"), ("url", "url"), ("tokenUrl", "tokenurl")):
        if values.get(source):
            oauth[field] = values[source]
    for source, field in (("certificateFile", "certificate"), ("keyFile", "key")):
        reference = values.get(source)
        if reference and follow_references and not oauth.get("clientsecret"):
            try:
                with open(os.path.expanduser(reference), "r", encoding="ascii") as handle:
                    oauth[field] = handle.read()
            except (OSError, UnicodeDecodeError) as exc:
                raise ParameterError("format", "the Postman environment refers to %s, which cannot be read: %s" % (source, exc)) from None
    return {"oauth": oauth}


def parse_stored(content, fmt="auto", env_prefix=DEFAULT_ENV_PREFIX, follow_references=True):
    """Read a stored key (json, yaml, env or postman text; bytes or str) back into the raw ``{"oauth": {...}}`` form.

    The result still has to go through _service_key.parse_service_key to be validated and normalised.
    """
    if isinstance(content, bytes):
        content = content.decode("utf-8")
    if fmt not in ("auto",) + READABLE_FORMATS:
        raise ParameterError("format", "format '%s' holds no complete key and cannot be read back; use one of %s" % (fmt, ", ".join(READABLE_FORMATS)))
    stripped = content.strip()
    if fmt in ("auto", "json", "postman"):
        try:
            data = json.loads(stripped)
        except ValueError as exc:
            if fmt != "auto":
                raise ParameterError("format", "the content is not valid JSON (%s)" % exc.msg) from None
            data = None
        if isinstance(data, dict):
            if data.get("_postman_variable_scope") == POSTMAN_SCOPE or (fmt == "postman" and "values" in data):
                return _parse_postman(data, follow_references)
            return data
        if fmt != "auto":
            raise ParameterError("format", "expected a JSON object")
    if fmt == "env" or (fmt == "auto" and _looks_like_env(stripped, env_prefix)):
        return _parse_env(content, env_prefix or "")
    if fmt in ("auto", "yaml"):
        _yaml()
        from ansible.module_utils.common.yaml import yaml_load

        try:
            data = yaml_load(content)
        except Exception as exc:  # pylint: disable=broad-except
            raise ParameterError("format", "the content is neither JSON, YAML nor dotenv: %s" % str(exc).splitlines()[0]) from None
        if not isinstance(data, dict):
            raise ParameterError("format", "expected a mapping, got %s" % type(data).__name__)
        return data
    raise ParameterError("format", "cannot read the content as %s" % fmt)


def _looks_like_env(text, prefix):
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _ENV_LINE_RE.match(line)
        return bool(match) and match.group(1).startswith(prefix or "")
    return False
