# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The AWX / Automation Platform credential types in extensions/aap/credential_types (issue 8).

- every file loads and passes the checks AWX applies when a credential type is saved;
- the injectors render (as AWX renders them at launch) to exactly the expected environment and files;
- what they inject is what the modules read: the rendered environment goes through the real argument specs
  (env fallbacks, mutually exclusive options) and the real credential resolver;
- drift guard: every injected variable is an env fallback of the option it is meant for, and every env fallback
  that carries a credential is either injected or listed here with the reason it is not.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
from pathlib import Path

import pytest
import yaml

from aap_support import (
    CREDENTIAL_TYPES_DIR,
    CredentialTypeError,
    credential_type_by_name,
    inject_credential,
    load_credential_types,
    secret_variants,
    validate_credential_type,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
CF_TYPE = "SAP BTP Cloud Foundry"
CPI_TYPE = "SAP Cloud Integration service key"
CA_TYPE = "SAP BTP CA bundle"
APIM_TYPE = "SAP API Management API portal key"
DEST_TYPE = "SAP BTP Destination service key"

# injected environment variable -> the module option that reads it through its env fallback
INJECTED_OPTION = {
    "CF_API": "cf_api",
    "CF_USERNAME": "cf_username",
    "CF_PASSWORD_FILE": "cf_password_file",
    "CF_ORIGIN": "cf_origin",
    "CPI_SERVICE_KEY_PATH": "service_key_path",
    "CPI_CLIENT_CERT_PATH": "client_cert",
    "CPI_CLIENT_KEY_PATH": "client_key",
    "SAP_BTP_CA_PATH": "ca_path",
    "APIPORTAL_SERVICE_KEY_PATH": "apiportal_key_path",
    "SAP_BTP_DESTINATION_SERVICE_KEY_PATH": "destination_service_key_path",
}
# env fallbacks the credential types deliberately do not set, and why
NOT_INJECTED = {
    "CF_PASSWORD": "the password is injected as a 0600 file (CF_PASSWORD_FILE): ansible-runner records the job's "
                   "environment in artifacts/<id>/command",
    "CF_CLIENT_ID": "client-credentials login is exclusive with cf_username; AWX sets every env key of a type, even empty",
    "CF_CLIENT_SECRET": "see CF_CLIENT_ID",
    "CF_TOKEN": "a short-lived access token is no stored credential",
    "CF_ORG": "the target org is per tenant: inventory variable, not a credential",
    "CF_SPACE": "the target space is per tenant: inventory variable, not a credential",
    "CPI_SERVICE_KEY": "the key is injected as a 0600 file (CPI_SERVICE_KEY_PATH), never as an environment value",
    "CPI_CLIENT_ID": "composed into the key file; as env it would clash with service_key_path (mutually exclusive)",
    "CPI_CLIENT_SECRET": "composed into the key file; secrets stay out of the environment",
    "CPI_TOKEN_URL": "composed into the key file",
    "CPI_URL": "composed into the key file",
    "CPI_CLIENT_CERT": "the certificate is injected as a file (CPI_CLIENT_CERT_PATH)",
    "CPI_CLIENT_KEY": "the private key is injected as a file (CPI_CLIENT_KEY_PATH)",
    "SAP_BTP_VALIDATE_CERTS": "disabling TLS verification is no credential (a boolean input would default to false)",
    "SAP_BTP_TIMEOUT": "a tuning knob, not a credential",
    "REQUESTS_CA_BUNDLE": "the requests library's own variable; SAP_BTP_CA_PATH takes precedence",
    "SAP_BTP_ALLOW_HTTP": "allowing plain http:// endpoints is a test switch, not a credential",
    "APIPORTAL_SERVICE_KEY": "the API portal key is injected as a 0600 file (APIPORTAL_SERVICE_KEY_PATH)",
    "APIPORTAL_CLIENT_ID": "composed into the key file; as env it would clash with apiportal_key_path (mutually exclusive)",
    "APIPORTAL_CLIENT_SECRET": "composed into the key file; secrets stay out of the environment",
    "APIPORTAL_TOKEN_URL": "composed into the key file",
    "APIPORTAL_URL": "composed into the key file",
    "SAP_BTP_DESTINATION_SERVICE_KEY": "the key is injected as a 0600 file (SAP_BTP_DESTINATION_SERVICE_KEY_PATH)",
    "CPI_TARGET_SERVICE_KEY": "the target tenant's api key is a per-destination input (inventory/vault), not a job credential",
    "CPI_TARGET_SERVICE_KEY_PATH": "see CPI_TARGET_SERVICE_KEY",
}


@pytest.fixture(scope="module")
def module_utils(staged_collection):
    """The collection's module_utils, imported from the staged tree."""
    path = str(staged_collection)
    if path not in sys.path:
        sys.path.insert(0, path)
    from ansible_collections.sap_btp.cloud_integration.plugins.module_utils import (  # pylint: disable=import-outside-toplevel
        _api_portal, _cf, _credentials, _module, _oauth)
    from ansible_collections.sap_btp.cloud_integration.plugins.module_utils import (  # pylint: disable=import-outside-toplevel
        _destination_service, _security_material)
    return {"cf": _cf, "credentials": _credentials, "module": _module, "oauth": _oauth, "api_portal": _api_portal,
            "destination": _destination_service, "security_material": _security_material}


def fallback_envs(spec):
    """{option: [env names]} of an argument spec."""
    found = {}
    for option, settings in spec.items():
        fallback = settings.get("fallback")
        if fallback and getattr(fallback[0], "__name__", "") == "env_fallback":
            found[option] = list(fallback[1])
    return found


def all_fallbacks(module_utils):
    specs = {}
    specs.update(module_utils["cf"].cf_argument_spec())
    specs.update(module_utils["credentials"].argument_spec(cf=False))
    specs.update(module_utils["module"].common_argument_spec())
    specs.update(module_utils["api_portal"].apiportal_argument_spec())
    specs.update(module_utils["destination"].destination_argument_spec())
    specs.update(module_utils["security_material"].security_material_argument_spec())
    return fallback_envs(specs)


def _self_signed():
    """A real key pair and certificate: the modules check that a given private key matches its certificate."""
    import datetime  # pylint: disable=import-outside-toplevel
    from cryptography import x509  # pylint: disable=import-outside-toplevel
    from cryptography.hazmat.primitives import hashes, serialization  # pylint: disable=import-outside-toplevel
    from cryptography.hazmat.primitives.asymmetric import rsa  # pylint: disable=import-outside-toplevel
    from cryptography.x509.oid import NameOID  # pylint: disable=import-outside-toplevel

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sb-cert-test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=30)).sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii"), key_pem.decode("ascii")


CERT, KEY = _self_signed()
TOKEN_URL = "https://acme-dev.authentication.eu10.hana.ondemand.com/oauth/token"
RT_URL = "https://acme-dev.it-cpi018-rt.cfapps.eu10-003.hana.ondemand.com"
SECRET = "s3cr3t+/=:&value"


# ---------------------------------------------------------------------------------------------------------------
# loading and AWX validation

def test_shipped_types_load_and_validate():
    types = load_credential_types()
    assert {d["name"] for d in types.values()} == {CF_TYPE, CPI_TYPE, CA_TYPE, APIM_TYPE, DEST_TYPE}
    for stem, definition in types.items():
        ids = validate_credential_type(definition)
        assert ids, stem
        assert definition["kind"] == "cloud"
        assert set(definition) <= {"name", "description", "kind", "inputs", "injectors"}
        # every file parses as plain YAML too (no tags), so its sections can be pasted into the AWX UI
        text = (CREDENTIAL_TYPES_DIR / (stem + ".yml")).read_text(encoding="utf-8")
        assert not re.search(r"^[^#]*!", text, re.M), "YAML tags in %s" % stem


@pytest.mark.parametrize("name, expected", [
    (CF_TYPE, {"api_url": {}, "username": {}, "password": {"secret": True}, "origin": {}}),
    (CPI_TYPE, {"service_key": {"secret": True, "multiline": True}, "client_id": {}, "client_secret": {"secret": True},
                "token_url": {}, "url": {}, "certificate": {"multiline": True},
                "private_key": {"secret": True, "multiline": True}}),
    (CA_TYPE, {"ca_bundle": {"multiline": True}}),
    (DEST_TYPE, {"service_key": {"secret": True, "multiline": True}}),
])
def test_field_flags(name, expected):
    fields = {f["id"]: f for f in credential_type_by_name(name)["inputs"]["fields"]}
    assert list(fields) == list(expected)
    for field_id, flags in expected.items():
        field = fields[field_id]
        assert field.get("type", "string") == "string"
        assert field.get("secret", False) is flags.get("secret", False), field_id
        assert field.get("multiline", False) is flags.get("multiline", False), field_id
        assert field["label"]
    # nothing a user types is secret unless flagged: passwords, secrets, keys and whole service keys are
    secret_ids = {f for f, flags in expected.items() if flags.get("secret")}
    assert secret_ids == {f for f in fields if re.search(r"password|secret|private_key|service_key", f)}


def test_required_fields():
    assert credential_type_by_name(CF_TYPE)["inputs"]["required"] == ["api_url", "username", "password"]
    # the service key type has alternative input sets, so nothing is required on its own
    assert credential_type_by_name(CPI_TYPE)["inputs"]["required"] == []
    assert credential_type_by_name(CA_TYPE)["inputs"]["required"] == ["ca_bundle"]
    assert credential_type_by_name(DEST_TYPE)["inputs"]["required"] == ["service_key"]


def test_destination_service_key_reaches_the_destination_options(module_utils, tmp_path, monkeypatch):
    """The injected file is what credentials_store / the lookup read as the Destination service key."""
    raw = json.dumps({"clientid": "sb-dest!b17|destination-xsappname!b404", "clientsecret": SECRET,
                      "url": "https://acme-dev.authentication.eu10.hana.ondemand.com",
                      "uri": "https://destination-configuration.cfapps.eu10.hana.ondemand.com"})
    injection = inject_credential(credential_type_by_name(DEST_TYPE), {"service_key": raw}, tmp_path)
    assert set(injection.env) == {"SAP_BTP_DESTINATION_SERVICE_KEY_PATH"}
    assert SECRET not in json.dumps(injection.env)
    for name, value in injection.env.items():
        monkeypatch.setenv(name, value)
    spec = module_utils["destination"].destination_argument_spec()
    params = {option: None for option in spec}
    params["destination_service_key_path"] = os.environ["SAP_BTP_DESTINATION_SERVICE_KEY_PATH"]
    creds = module_utils["destination"].destination_key(params)
    assert creds["clientsecret"] == SECRET
    assert creds["tokenurl"] == "https://acme-dev.authentication.eu10.hana.ondemand.com/oauth/token"
    assert creds["uri"] == "https://destination-configuration.cfapps.eu10.hana.ondemand.com"


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["injectors"]["env"].update(X="{{ no_such_field }}"), "undefined field"),
    (lambda d: d["injectors"]["env"].update(ANSIBLE_CONFIG="{{ username }}"), "not allowed"),
    (lambda d: d["injectors"]["env"].update(PATH="{{ username }}"), "not allowed"),
    (lambda d: d["inputs"]["fields"].append({"id": "username", "label": "again"}), "unique"),
    (lambda d: d["inputs"]["fields"].append({"id": "tower", "label": "reserved"}), "reserved"),
    (lambda d: d["inputs"]["fields"].append({"id": "flag", "label": "f", "type": "boolean", "secret": True}), "not allowed"),
    (lambda d: d["inputs"]["fields"].append({"id": "n", "label": "n", "type": "string", "default": 3}), "is not a string"),
    (lambda d: d["inputs"]["required"].append("nothing"), "not defined"),
    (lambda d: d["inputs"]["fields"].append({"id": "1bad", "label": "x"}), "does not match"),
    (lambda d: d["injectors"].update(file={"template": "a", "template.b": "b"}), "multi-file"),
    (lambda d: d["injectors"]["env"].update(X="{{ tower.filename }}"), "undefined field"),
    (lambda d: d["injectors"]["env"].update(X="{{ username.__class__ }}"), "unsafe"),
    (lambda d: d["injectors"]["env"].update(X="{% if %}"), "Syntax error"),
])
def test_validator_rejects_what_awx_rejects(mutate, message):
    definition = yaml.safe_load(yaml.safe_dump(credential_type_by_name(CF_TYPE)))
    mutate(definition)
    with pytest.raises(CredentialTypeError, match=message):
        validate_credential_type(definition)


# ---------------------------------------------------------------------------------------------------------------
# rendering

def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_cf_injectors_render(tmp_path):
    definition = credential_type_by_name(CF_TYPE)
    password = "p@ss w0rd%"
    injection = inject_credential(definition, {"api_url": "https://api.cf.eu10.hana.ondemand.com", "username": "ops@example.com",
                                               "password": password, "origin": "sap.custom"}, tmp_path)
    path = injection.files["cf_password"]
    assert set(injection.files) == {"cf_password"} and injection.extra_vars == {}
    # the password is in a 0600 file of the private data directory, exactly as entered (no added newline)
    assert Path(path).read_text() == password and _mode(path) == 0o600
    assert Path(path).parent == tmp_path / "env"
    # the environment holds its path only: ansible-runner writes the job's environment to artifacts/<id>/command
    assert injection.env == {"CF_API": "https://api.cf.eu10.hana.ondemand.com", "CF_USERNAME": "ops@example.com",
                             "CF_PASSWORD_FILE": path, "CF_ORIGIN": "sap.custom"}
    assert injection.safe_env == injection.env
    assert "CF_PASSWORD" not in injection.env
    for form in secret_variants(password) | {password}:
        assert form not in json.dumps(injection.env) + json.dumps(injection.safe_env) + json.dumps(injection.extra_vars)
    # origin left empty (AWX leaves empty inputs out of the namespace): an empty variable, which the module ignores
    injection = inject_credential(definition, {"api_url": "https://api.example", "username": "u", "password": "p", "origin": ""}, tmp_path)
    assert injection.env["CF_ORIGIN"] == ""


def test_cf_password_file_in_a_container(tmp_path):
    """AWX runs the job in an execution environment with the private data directory mounted at /runner."""
    injection = inject_credential(credential_type_by_name(CF_TYPE), {"api_url": "https://api.example", "username": "u",
                                                                     "password": "pw-in-a-file", "origin": ""},
                                  tmp_path, container_root="/runner")
    assert injection.env["CF_PASSWORD_FILE"] == "/runner/env/" + Path(injection.files["cf_password"]).name
    assert Path(injection.files["cf_password"]).read_text() == "pw-in-a-file"


def test_ca_bundle_injectors_render(tmp_path):
    injection = inject_credential(credential_type_by_name(CA_TYPE), {"ca_bundle": CERT}, tmp_path, container_root="/runner")
    path = injection.files["ca_bundle"]
    assert Path(path).read_text() == CERT and _mode(path) == 0o600
    assert Path(path).parent == tmp_path / "env"
    assert injection.env == {"SAP_BTP_CA_PATH": "/runner/env/" + Path(path).name}


def _key_json(injection):
    return json.loads(Path(injection.files["service_key"]).read_text())


def test_service_key_whole_json(tmp_path):
    raw = json.dumps({"oauth": {"clientid": "sb-abc!b1|it-rt-acme!b196", "clientsecret": SECRET, "url": RT_URL,
                                "tokenurl": TOKEN_URL, "createdate": "2025-01-01T00:00:00Z"}}, indent=2)
    injection = inject_credential(credential_type_by_name(CPI_TYPE), {"service_key": raw}, tmp_path)
    # the key file holds the key exactly as given
    assert Path(injection.files["service_key"]).read_text() == raw
    assert injection.env == {"CPI_SERVICE_KEY_PATH": injection.files["service_key"], "CPI_CLIENT_CERT_PATH": "",
                             "CPI_CLIENT_KEY_PATH": ""}
    for path in injection.files.values():
        assert _mode(path) == 0o600
    assert Path(injection.files["certificate"]).read_text() == "" and Path(injection.files["private_key"]).read_text() == ""
    # no secret is in the environment, in its masked copy, or in extra vars
    assert SECRET not in json.dumps(injection.env) + json.dumps(injection.safe_env) + json.dumps(injection.extra_vars)


def test_service_key_from_fields(tmp_path):
    inputs = {"client_id": "sb-abc!b1|it-rt-acme!b196", "client_secret": SECRET, "token_url": TOKEN_URL, "url": RT_URL,
              "service_key": "", "certificate": "", "private_key": ""}
    injection = inject_credential(credential_type_by_name(CPI_TYPE), inputs, tmp_path)
    assert _key_json(injection) == {"clientid": "sb-abc!b1|it-rt-acme!b196", "clientsecret": SECRET, "certificate": "",
                                    "tokenurl": TOKEN_URL, "url": RT_URL}
    assert injection.env["CPI_CLIENT_CERT_PATH"] == "" and injection.env["CPI_CLIENT_KEY_PATH"] == ""


def test_service_key_certificate_and_key_as_files(tmp_path):
    inputs = {"client_id": "sb-cert!b1|it-rt-acme!b196", "token_url": TOKEN_URL, "url": RT_URL, "certificate": CERT,
              "private_key": KEY}
    injection = inject_credential(credential_type_by_name(CPI_TYPE), inputs, tmp_path, container_root="/runner")
    assert _key_json(injection) == {"clientid": "sb-cert!b1|it-rt-acme!b196", "clientsecret": "", "certificate": CERT,
                                    "tokenurl": TOKEN_URL, "url": RT_URL}
    assert Path(injection.files["certificate"]).read_text() == CERT
    assert Path(injection.files["private_key"]).read_text() == KEY
    assert injection.env == {
        "CPI_SERVICE_KEY_PATH": "/runner/env/" + Path(injection.files["service_key"]).name,
        "CPI_CLIENT_CERT_PATH": "/runner/env/" + Path(injection.files["certificate"]).name,
        "CPI_CLIENT_KEY_PATH": "/runner/env/" + Path(injection.files["private_key"]).name,
    }
    assert "PRIVATE KEY" not in json.dumps(injection.env) + Path(injection.files["service_key"]).read_text()


def test_external_certificate_key_plus_private_key(tmp_path):
    raw = json.dumps({"oauth": {"clientid": "sb-ext!b1|it-rt-acme!b196", "certificate": CERT, "url": RT_URL, "tokenurl": TOKEN_URL}})
    injection = inject_credential(credential_type_by_name(CPI_TYPE), {"service_key": raw, "private_key": KEY}, tmp_path)
    assert Path(injection.files["service_key"]).read_text() == raw
    assert Path(injection.files["private_key"]).read_text() == KEY
    assert injection.env["CPI_CLIENT_KEY_PATH"] == injection.files["private_key"]
    assert injection.env["CPI_CLIENT_CERT_PATH"] == ""


# ---------------------------------------------------------------------------------------------------------------
# what is injected is what the modules read

class _FakeModule:
    """Just enough of CloudIntegrationModule for _credentials.resolve() and CfClient.from_module()."""

    def __init__(self, params):
        self.params = params
        self.no_log_values = set()
        self.secrets = []
        self.redactor = None
        self.warnings = []

    def add_secrets(self, *values):
        self.secrets.extend(v for v in values if v)

    def warn(self, message):
        self.warnings.append(message)


def _validate(module_utils, spec, env, monkeypatch, **kwargs):
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator  # pylint: disable=import-outside-toplevel
    for name in list(os.environ):
        if name.startswith(("CF_", "CPI_", "SAP_BTP_")) or name == "REQUESTS_CA_BUNDLE":
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = ArgumentSpecValidator(spec, **kwargs).validate({})
    assert not result.error_messages, result.error_messages
    return result.validated_parameters


def _cpi_spec(module_utils):
    spec = module_utils["module"].common_argument_spec()
    spec.update(module_utils["credentials"].argument_spec(cf=False))
    return spec


@pytest.mark.parametrize("variant", ["whole_json", "fields", "certificate", "external"])
def test_modules_read_the_injected_service_key(variant, module_utils, tmp_path, monkeypatch):
    client_id = "sb-%s!b1|it-rt-acme!b196" % variant
    inputs = {
        "whole_json": {"service_key": json.dumps({"oauth": {"clientid": client_id, "clientsecret": SECRET, "url": RT_URL,
                                                            "tokenurl": TOKEN_URL}})},
        "fields": {"client_id": client_id, "client_secret": SECRET, "token_url": TOKEN_URL, "url": RT_URL},
        "certificate": {"client_id": client_id, "token_url": TOKEN_URL, "url": RT_URL, "certificate": CERT, "private_key": KEY},
        "external": {"service_key": json.dumps({"oauth": {"clientid": client_id, "certificate": CERT, "url": RT_URL,
                                                          "tokenurl": TOKEN_URL}}), "private_key": KEY},
    }[variant]
    injection = inject_credential(credential_type_by_name(CPI_TYPE), inputs, tmp_path)
    params = _validate(module_utils, _cpi_spec(module_utils), injection.env, monkeypatch,
                       mutually_exclusive=module_utils["credentials"].mutually_exclusive())
    assert params["service_key_path"] == injection.files["service_key"]
    module = _FakeModule(params)
    creds = module_utils["credentials"].resolve(module, require_url=True)
    assert creds["clientid"] == client_id
    assert creds["tokenurl"] == TOKEN_URL and creds["url"] == RT_URL
    if variant in ("whole_json", "fields"):
        assert creds["clientsecret"] == SECRET and not creds.get("key")
        assert SECRET in module.secrets
    else:
        assert not creds.get("clientsecret")
        assert creds["certificate"].strip() == CERT.strip() and creds["key"].strip() == KEY.strip()
        assert creds["key"] in module.secrets


def test_modules_read_the_injected_cf_login(module_utils, tmp_path, monkeypatch):
    injection = inject_credential(credential_type_by_name(CF_TYPE), {"api_url": "https://api.cf.example", "username": "ops",
                                                                     "password": "pw-from-awx", "origin": "corp-idp"}, tmp_path)
    ca = inject_credential(credential_type_by_name(CA_TYPE), {"ca_bundle": CERT}, tmp_path)
    spec = module_utils["module"].common_argument_spec()
    spec.update(module_utils["cf"].cf_argument_spec())
    kwargs = module_utils["cf"].cf_module_kwargs()
    params = _validate(module_utils, spec, dict(injection.env, **ca.env), monkeypatch, **kwargs)
    assert (params["cf_api"], params["cf_username"], params["cf_password_file"], params["cf_origin"]) == \
        ("https://api.cf.example", "ops", injection.files["cf_password"], "corp-idp")
    assert params["cf_password"] is None
    assert params["ca_path"] == ca.files["ca_bundle"]
    assert params["cf_client_id"] is None and params["cf_token"] is None
    # the real credential resolver reads the password from the injected file and registers it as a secret
    module = _FakeModule(params)
    client = module_utils["cf"].CfClient.from_module(module, http=object())
    assert client.auth == {"kind": "password", "username": "ops", "password": "pw-from-awx", "origin": "corp-idp"}
    assert "pw-from-awx" in module.secrets


@pytest.mark.parametrize("variant", ["whole_json", "fields"])
def test_modules_read_the_injected_apiportal_key(variant, module_utils, tmp_path, monkeypatch):
    """The API portal key credential (issue 16) reaches api_provider's resolver as the flat key, secrets registered."""
    portal_url = "https://acme-dev.prod.apimanagement.eu10.hana.ondemand.com"
    client_id = "sb-apim-%s!b1|apiportal-apiaccess!b2458" % variant
    inputs = {
        "whole_json": {"apiportal_key": json.dumps({"url": portal_url, "tokenUrl": TOKEN_URL, "clientId": client_id,
                                                    "clientSecret": SECRET})},
        "fields": {"client_id": client_id, "client_secret": SECRET, "token_url": TOKEN_URL, "url": portal_url},
    }[variant]
    injection = inject_credential(credential_type_by_name(APIM_TYPE), inputs, tmp_path)
    assert injection.env == {"APIPORTAL_SERVICE_KEY_PATH": injection.files["apiportal_key"]}
    assert oct(os.stat(injection.files["apiportal_key"]).st_mode & 0o777) == "0o600"
    assert SECRET not in json.dumps(injection.env) + json.dumps(injection.safe_env) + json.dumps(injection.extra_vars)
    for name in [n for n in os.environ if n.startswith("APIPORTAL_")]:
        monkeypatch.delenv(name)
    spec = module_utils["module"].common_argument_spec()
    spec.update(module_utils["api_portal"].apiportal_argument_spec())
    spec["allow_http"] = {"type": "bool", "default": False}
    params = _validate(module_utils, spec, injection.env, monkeypatch,
                       mutually_exclusive=module_utils["api_portal"].APIPORTAL_MUTUALLY_EXCLUSIVE[:1])
    assert params["apiportal_key_path"] == injection.files["apiportal_key"]
    module = _FakeModule(params)
    creds = module_utils["api_portal"].resolve_portal_credentials(module)
    assert (creds["clientid"], creds["clientsecret"], creds["tokenurl"], creds["url"]) == (client_id, SECRET, TOKEN_URL, portal_url)
    assert creds["plan"] == "apiportal-apiaccess" and SECRET in module.secrets


# ---------------------------------------------------------------------------------------------------------------
# drift guard

def test_injected_variables_are_the_env_fallbacks_of_their_options(module_utils):
    fallbacks = all_fallbacks(module_utils)
    injected = {}
    for definition in load_credential_types().values():
        for env_var in definition["injectors"].get("env", {}):
            assert env_var not in injected, "%s is injected by two credential types" % env_var
            injected[env_var] = definition["name"]
    assert set(injected) == set(INJECTED_OPTION), "update INJECTED_OPTION (and docs/aap.md) with the credential types"
    for env_var, option in INJECTED_OPTION.items():
        assert option in fallbacks, "option %s has no env fallback any more" % option
        assert env_var in fallbacks[option], "%s is not read by %s (reads %s)" % (env_var, option, fallbacks[option])


def test_every_env_fallback_is_injected_or_excluded_on_purpose(module_utils):
    read = {env for envs in all_fallbacks(module_utils).values() for env in envs}
    decided = set(INJECTED_OPTION) | set(NOT_INJECTED)
    assert read - decided == set(), "new env fallbacks: inject them in a credential type or list them in NOT_INJECTED"
    assert set(NOT_INJECTED) - read == set(), "NOT_INJECTED names variables no module reads any more"


# ---------------------------------------------------------------------------------------------------------------
# as code: the !unsafe vars file reaches a module literally

AS_CODE = REPO_ROOT / "extensions" / "aap" / "credential_types_as_code.yml"
AS_CODE_PLAY = """---
- name: What awx.awx.credential_type would receive
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Load the credential types as code
      ansible.builtin.include_vars:
        file: {vars_file}
    - name: Pass them to a module, as the awx.awx.credential_type task of docs/aap.md does
      ansible.builtin.copy:
        content: "{{{{ {{'name': item.name, 'description': item.description, 'kind': item.kind, 'inputs': item.inputs,
                       'injectors': item.injectors}} | to_json }}}}"
        dest: "{out_dir}/{{{{ item.name | replace(' ', '_') }}}}.json"
        mode: "0600"
      loop: "{{{{ sap_btp_credential_types }}}}"
"""


def test_as_code_vars_file_matches_and_is_not_templated(tmp_path):
    """Every field id exists as a variable in the play; had Ansible templated an injector, the module would see
    'TEMPLATED-...' instead of the Jinja2 source AWX needs."""
    import subprocess  # pylint: disable=import-outside-toplevel
    playbook = tmp_path / "play.yml"
    playbook.write_text(AS_CODE_PLAY.format(vars_file=AS_CODE, out_dir=tmp_path), encoding="utf-8")
    shipped = {d["name"]: d for d in load_credential_types().values()}
    field_ids = {f["id"] for d in shipped.values() for f in d["inputs"]["fields"]}
    extra = {field_id: "TEMPLATED-" + field_id for field_id in field_ids}
    extra["tower"] = {"filename": {"service_key": "TEMPLATED", "certificate": "TEMPLATED", "private_key": "TEMPLATED",
                                   "ca_bundle": "TEMPLATED", "cf_password": "TEMPLATED",
                                   "apiportal_key": "TEMPLATED"}}
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false")
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), str(playbook), "-e", json.dumps(extra)],
                          capture_output=True, text=True, env=env, timeout=300, check=False, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    received = {}
    for path in tmp_path.glob("*.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        received[data["name"]] = data
    assert set(received) == set(shipped)
    for name, definition in shipped.items():
        assert received[name] == {key: definition[key] for key in ("name", "description", "kind", "inputs", "injectors")}, name
    assert "TEMPLATED" not in json.dumps(received)
