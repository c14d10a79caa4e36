# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""AWX / Automation Platform stand-ins for the tests of issue 8 (credential types, ansible-runner).

- load_credential_types(): the shipped custom credential types (extensions/aap/credential_types/*.yml);
- validate_credential_type(): the checks AWX applies when a credential type is saved (the JSON schemas of
  ``CredentialTypeInputField`` / ``CredentialTypeInjectorField`` in awx/main/fields.py, unique ids, the reserved
  ``tower`` id, string-only flags, typed defaults, forbidden environment variables, and rendering every injector
  template with ``StrictUndefined`` against a namespace in which every field is ``EXAMPLE``);
- inject_credential(): what AWX does at job launch (``CredentialType.inject_credential`` in
  awx/main/models/credential): a namespace of the non-empty inputs, every ``file`` template rendered with
  Jinja2's ``ImmutableSandboxedEnvironment`` into ``mkstemp(dir=<private_data_dir>/env)`` with mode 0600, the
  ``tower.filename[.<name>]`` namespace, then the ``env`` and ``extra_vars`` templates;
- secret_variants(): the raw, base64 and URL-encoded forms of a secret, for leak checks over artifacts.
"""

from __future__ import annotations

import base64
import os
import stat
import tempfile
from pathlib import Path
from urllib.parse import quote, quote_plus

import yaml
from jinja2 import StrictUndefined
from jinja2.exceptions import SecurityError, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

REPO_ROOT = Path(__file__).resolve().parents[2]
CREDENTIAL_TYPES_DIR = REPO_ROOT / "extensions" / "aap" / "credential_types"

# awx/main/constants.py ENV_BLOCKLIST, plus every ANSIBLE_* variable (validate_env_var_allowed()).
AWX_ENV_BLOCKLIST = frozenset((
    "VIRTUAL_ENV", "PATH", "PYTHONPATH", "JOB_ID", "INVENTORY_ID", "INVENTORY_SOURCE_ID", "INVENTORY_UPDATE_ID",
    "AD_HOC_COMMAND_ID", "REST_API_URL", "REST_API_TOKEN", "MAX_EVENT_RES", "CALLBACK_QUEUE", "CALLBACK_CONNECTION",
    "CACHE", "JOB_CALLBACK_DEBUG", "INVENTORY_HOSTVARS", "AWX_HOST", "PROJECT_REVISION", "SUPERVISOR_CONFIG_PATH",
    "SUPERVISOR_WEB_CONFIG_PATH",
))

# The JSON schemas AWX validates `inputs` and `injectors` with (awx/main/fields.py).
INPUTS_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "required": {"type": "array", "items": {"type": "string"}},
        "fields": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "type": {"enum": ["string", "boolean"]},
                    "format": {"enum": ["ssh_private_key", "url"]},
                    "choices": {"type": "array", "minItems": 1, "items": {"type": "string"}, "uniqueItems": True},
                    "id": {"type": "string", "pattern": "^[a-zA-Z_]+[a-zA-Z0-9_]*$"},
                    "label": {"type": "string"},
                    "help_text": {"type": "string"},
                    "multiline": {"type": "boolean"},
                    "secret": {"type": "boolean"},
                    "ask_at_runtime": {"type": "boolean"},
                    "default": {},
                },
                "additionalProperties": False,
                "required": ["id", "label"],
            },
        },
    },
}
INJECTORS_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "file": {
            "type": "object",
            "patternProperties": {r"^template(\.[a-zA-Z_]+[a-zA-Z0-9_]*)?$": {"type": "string"}},
            "additionalProperties": False,
        },
        "env": {
            "type": "object",
            "patternProperties": {"^[a-zA-Z_]+[a-zA-Z0-9_]*$": {"type": "string", "pattern": "^[\x00-\x7F]*$"}},
            "additionalProperties": False,
        },
        "extra_vars": {
            "type": "object",
            "patternProperties": {"^[a-zA-Z_]+[a-zA-Z0-9_]*$": {"type": "string"}},
            "additionalProperties": False,
        },
    },
}
CREDENTIAL_KINDS = ("ssh", "vault", "net", "scm", "cloud", "registry", "token", "insights", "external", "kubernetes",
                    "galaxy", "cryptography")


class CredentialTypeError(ValueError):
    """A credential type that AWX would refuse to save."""


def load_credential_types(directory=CREDENTIAL_TYPES_DIR):
    """{file stem: definition} of every shipped credential type."""
    types = {}
    for path in sorted(Path(directory).glob("*.yml")):
        with open(path, "r", encoding="utf-8") as handle:
            types[path.stem] = yaml.safe_load(handle)
    return types


def credential_type_by_name(name, directory=CREDENTIAL_TYPES_DIR):
    for definition in load_credential_types(directory).values():
        if definition["name"] == name:
            return definition
    raise KeyError(name)


def _template_names(injectors):
    return [name for name in injectors.get("file", {}) if name.startswith("template")]


def validate_credential_type(definition):
    """Raise CredentialTypeError where AWX would refuse the definition; return the list of field ids."""
    import jsonschema  # pylint: disable=import-outside-toplevel

    for key in ("name", "kind", "inputs", "injectors"):
        if key not in definition:
            raise CredentialTypeError("missing top-level key %r" % key)
    if definition["kind"] not in CREDENTIAL_KINDS:
        raise CredentialTypeError("unknown kind %r" % definition["kind"])
    inputs, injectors = definition["inputs"], definition["injectors"]
    try:
        jsonschema.validate(inputs, INPUTS_SCHEMA)
        jsonschema.validate(injectors, INJECTORS_SCHEMA)
    except jsonschema.ValidationError as exc:
        raise CredentialTypeError(exc.message) from None
    if "dependencies" in inputs:
        raise CredentialTypeError("'dependencies' is not supported for custom credentials")
    ids = []
    for field in inputs.get("fields", []):
        if field["id"] == "tower":
            raise CredentialTypeError('"tower" is a reserved field name')
        if field["id"] in ids:
            raise CredentialTypeError("field IDs must be unique (%s)" % field["id"])
        ids.append(field["id"])
        ftype = field.get("type", "string")
        if "default" in field and not isinstance(field["default"], {"string": str, "boolean": bool}[ftype]):
            raise CredentialTypeError("%s is not a %s" % (field["default"], ftype))
        for key in ("choices", "multiline", "format", "secret"):
            if key in field and ftype != "string":
                raise CredentialTypeError("%s not allowed for %s type (%s)" % (key, ftype, field["id"]))
    for name in inputs.get("required", []):
        if name not in ids:
            raise CredentialTypeError("required field %r is not defined" % name)

    for env_var in injectors.get("env", {}):
        if env_var.startswith("ANSIBLE_") or env_var in AWX_ENV_BLOCKLIST:
            raise CredentialTypeError("environment variable %s is not allowed in credentials" % env_var)

    class ExplodingNamespace:
        def __str__(self):
            raise UndefinedError("Must define unnamed file injector in order to reference `tower.filename`.")

    class TowerNamespace:
        def __init__(self):
            self.filename = ExplodingNamespace()

        def __str__(self):
            raise UndefinedError("Cannot directly reference reserved `tower` namespace container.")

    namespace = {field_id: "EXAMPLE" for field_id in ids}
    namespace["tower"] = TowerNamespace()
    names = _template_names(injectors)
    if "template" in names:
        namespace["tower"].filename = "EXAMPLE_FILENAME"
        if len(names) > 1:
            raise CredentialTypeError("Must use multi-file syntax when injecting multiple files")
    else:
        for name in names:
            setattr(namespace["tower"].filename, name.split(".", 1)[1], "EXAMPLE_FILENAME")
    for kind, injector in injectors.items():
        for key, template in injector.items():
            try:
                ImmutableSandboxedEnvironment(undefined=StrictUndefined).from_string(template).render(namespace)
            except UndefinedError as exc:
                raise CredentialTypeError("%s uses an undefined field (%s)" % (key, exc)) from None
            except SecurityError as exc:
                raise CredentialTypeError("Encountered unsafe code execution: %s" % exc) from None
            except TemplateSyntaxError as exc:
                raise CredentialTypeError("Syntax error rendering template for %s inside of %s (%s)" % (key, kind, exc)) from None
    return ids


class _TowerNamespace:
    pass


class Injection:
    """The outcome of inject_credential(): env (real values), safe_env (secrets masked), files, extra_vars."""

    def __init__(self):
        self.env = {}
        self.safe_env = {}
        self.files = {}  # file label ("template" or the part after "template.") -> host path
        self.extra_vars = {}


def inject_credential(definition, inputs, private_data_dir, container_root=None):
    """Render a credential type's injectors for ``inputs`` exactly as AWX does at job launch.

    Files are created in ``<private_data_dir>/env`` (mode 0600). ``tower.filename`` is the host path, or the path
    under ``container_root`` (AWX uses ``/runner``) when the job runs in a container.
    """
    secret_fields = {f["id"] for f in definition["inputs"].get("fields", []) if f.get("secret")}
    tower = _TowerNamespace()
    namespace, safe_namespace = {"tower": tower}, {"tower": tower}
    for field_name, value in inputs.items():
        if isinstance(value, bool):
            namespace[field_name] = safe_namespace[field_name] = value
            continue
        if field_name in secret_fields:
            safe_namespace[field_name] = "**********"
        elif len(value):
            safe_namespace[field_name] = value
        if len(value):
            namespace[field_name] = value
    for field in definition["inputs"].get("fields", []):
        if field.get("type") == "boolean" and field["id"] not in inputs:
            namespace[field["id"]] = safe_namespace[field["id"]] = False
        if field.get("format") == "ssh_private_key" and field["id"] in namespace and not namespace[field["id"]].endswith("\n"):
            namespace[field["id"]] += "\n"

    result = Injection()
    env_dir = Path(private_data_dir) / "env"
    env_dir.mkdir(parents=True, exist_ok=True)
    sandbox_env = ImmutableSandboxedEnvironment()
    for label, template in definition["injectors"].get("file", {}).items():
        data = sandbox_env.from_string(template).render(**namespace)
        handle, path = tempfile.mkstemp(dir=str(env_dir))
        with os.fdopen(handle, "w") as output:
            output.write(data)
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
        visible = path if container_root is None else os.path.join(container_root, os.path.relpath(path, private_data_dir))
        if "." not in label:
            tower.filename = visible
            result.files["template"] = path
        else:
            if not hasattr(tower, "filename"):
                tower.filename = _TowerNamespace()
            name = label.split(".", 1)[1]
            setattr(tower.filename, name, visible)
            result.files[name] = path
    for env_var, template in definition["injectors"].get("env", {}).items():
        if env_var.startswith("ANSIBLE_") or env_var in AWX_ENV_BLOCKLIST:
            continue
        result.env[env_var] = sandbox_env.from_string(template).render(**namespace)
        result.safe_env[env_var] = sandbox_env.from_string(template).render(**safe_namespace)
    for var, template in definition["injectors"].get("extra_vars", {}).items():
        result.extra_vars[var] = sandbox_env.from_string(template).render(**namespace)
    return result


def secret_variants(secret):
    """The forms a secret could leak in: raw, JSON-escaped, base64 (standard and URL-safe), URL-encoded."""
    secret = str(secret)
    forms = {secret, secret.replace("\n", "\\n"), quote(secret, safe=""), quote_plus(secret)}
    raw = secret.encode("utf-8")
    for encoded in (base64.b64encode(raw).decode("ascii"), base64.urlsafe_b64encode(raw).decode("ascii")):
        forms.add(encoded)
        forms.add(encoded.rstrip("="))
    if "-----BEGIN" in secret:
        # a PEM key may leak line by line (or re-wrapped): every base64 body line is a secret of its own
        forms.update(line.strip() for line in secret.splitlines() if line.strip() and "-----" not in line)
    return {form for form in forms if len(form) >= 8}
