# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""_credentials: every credential source, the precedence between them, and the checks before any request."""
from __future__ import annotations

import datetime
import json

import pytest

x509 = pytest.importorskip("cryptography.x509")

from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator  # noqa: E402

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils import _cf, _credentials, _http, _oauth, _vault  # noqa: E402
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._errors import ParameterError  # noqa: E402
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._redact import Redactor  # noqa: E402
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._service_key import ServiceKeyError  # noqa: E402

RT_URL = "https://acme-dev.it-cpi018-rt.cfapps.eu10-003.hana.ondemand.com"
TOKEN_URL = "https://acme-dev.authentication.eu10.hana.ondemand.com/oauth/token"
CERT_TOKEN_URL = "https://acme-dev.authentication.cert.eu10.hana.ondemand.com/oauth/token"
RT_CLIENT = "sb-3f0c2d11-8a7b-4c1e-9d2f-5b6a7c8d9e01!b137126|it-rt-acme-dev!b196"
OTHER_CLIENT = "sb-99999999-8a7b-4c1e-9d2f-5b6a7c8d9e01!b137126|it-rt-acme-dev!b196"
SECRET = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d$Q2xpZW50U2VjcmV0"
OTHER_SECRET = "ffffffff-4e5f-4a6b-8c7d-9e0f1a2b3c4d$T3RoZXJTZWNyZXQ"


def rt_key(client=RT_CLIENT, secret=SECRET):
    return {"oauth": {"clientid": client, "clientsecret": secret, "url": RT_URL, "tokenurl": TOKEN_URL}}


def cert_and_key(days_valid=30, days_ago=1):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "client")])
    now = datetime.datetime.now(datetime.timezone.utc)
    start = now - datetime.timedelta(days=days_ago)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key()).serial_number(9)
            .not_valid_before(start).not_valid_after(start + datetime.timedelta(days=days_valid)).sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM).decode(),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode())


class FakeModule:
    def __init__(self, reference_key="key", **params):
        self.params = {name: None for name in _credentials.argument_spec(reference_key=reference_key)}
        self.params.update(validate_certs=True, ca_path=None, timeout=30, allow_http=False)
        self.params.update(params)
        self.no_log_values = set()
        self.redactor = Redactor()
        self.warnings = []

    def add_secrets(self, *values):
        self.redactor.add(*values)
        self.no_log_values.update(v for v in values if isinstance(v, str) and len(v) >= 4)

    def warn(self, text):
        self.warnings.append(text)


class FakeCfClient:
    """What _credentials asks of CfClient: fetch_key(instance, key, key_guid)."""

    def __init__(self, keys):
        self.keys = keys
        self.calls = []

    def fetch_key(self, instance, key, key_guid=None):
        self.calls.append((instance, key, key_guid))
        if (instance, key) not in self.keys:
            raise ParameterError("name", "service instance '%s' has no service key '%s'" % (instance, key))
        return {"credentials": self.keys[(instance, key)]}


@pytest.fixture
def cf(monkeypatch):
    client = FakeCfClient({("orders", "orders-key"): rt_key()})
    monkeypatch.setattr(_cf.CfClient, "from_module", classmethod(lambda cls, module, http=None: client))
    return client


# -- the CF reference ------------------------------------------------------------------------------------------

def test_cf_reference_reads_the_key_through_cloud_foundry(cf):
    module = FakeModule(instance="orders", key="orders-key")
    creds = _credentials.resolve(module, require_url=True, plan="integration-flow", purpose="an iFlow call")
    assert cf.calls == [("orders", "orders-key", None)]
    assert creds["source"] == "instance" and creds["clientid"] == RT_CLIENT and creds["url"] == RT_URL
    assert SECRET in module.no_log_values and module.redactor.scrub(SECRET) != SECRET


def test_cf_reference_errors_name_the_key_option(cf):
    with pytest.raises(ParameterError, match=r"^key: service instance 'orders' has no service key 'nope'"):
        _credentials.resolve(FakeModule(instance="orders", key="nope"))
    with pytest.raises(ParameterError, match=r"^key_name: "):
        _credentials.resolve(FakeModule(reference_key="key_name", instance="orders", key_name="nope"), reference_key="key_name")
    with pytest.raises(ParameterError, match=r"^key: the name of the service key of instance 'orders' is required"):
        _credentials.resolve(FakeModule(instance="orders"))


def test_cf_reference_plan_is_checked_before_any_call(cf):
    with pytest.raises(ServiceKeyError, match="instance"):
        _credentials.resolve(FakeModule(instance="orders", key="orders-key"), plan="api", purpose="the OData API")


# -- precedence ----------------------------------------------------------------------------------------------

def test_precedence_order_is_documented_order():
    assert _credentials.SOURCES == ("instance", "stored", "service_key", "service_key_path", "client_id")


def test_every_pair_of_sources_is_mutually_exclusive():
    spec = _credentials.argument_spec()
    validator = ArgumentSpecValidator(spec, **{k: v for k, v in _credentials.module_kwargs().items()
                                               if k in ("mutually_exclusive", "required_by", "required_together")})
    values = {"instance": "orders", "stored": {"path": "k.json"}, "service_key": rt_key(), "service_key_path": "/k.json",
              "client_id": RT_CLIENT}
    for first in values:
        for second in values:
            if first < second:
                result = validator.validate({first: values[first], second: values[second], "key": "k"})
                assert any("mutually exclusive" in message for message in result.error_messages), (first, second)


def test_task_source_wins_over_environment(cf, monkeypatch, tmp_path):
    # an AWX credential injects CPI_SERVICE_KEY; the task names a key file: the task's choice wins
    env_key = json.dumps(rt_key(OTHER_CLIENT, OTHER_SECRET))
    monkeypatch.setenv("CPI_SERVICE_KEY", env_key)
    path = tmp_path / "key.json"
    path.write_text(json.dumps(rt_key()))
    creds = _credentials.resolve(FakeModule(service_key=env_key, service_key_path=str(path)))
    assert creds["source"] == "service_key_path" and creds["clientid"] == RT_CLIENT
    creds = _credentials.resolve(FakeModule(service_key=env_key, instance="orders", key="orders-key"))
    assert creds["source"] == "instance" and creds["clientid"] == RT_CLIENT
    # with no source of its own, the environment is used
    creds = _credentials.resolve(FakeModule(service_key=env_key))
    assert creds["source"] == "service_key" and creds["clientid"] == OTHER_CLIENT


def test_without_any_source_the_message_lists_them_all():
    with pytest.raises(ParameterError) as info:
        _credentials.resolve(FakeModule())
    for name in ("instance and key", "stored", "service_key", "service_key_path", "client_id"):
        assert name in str(info.value)


def test_overrides_apply_to_every_source(cf):
    creds = _credentials.resolve(FakeModule(instance="orders", key="orders-key", token_url=CERT_TOKEN_URL, url=RT_URL + "/"))
    assert creds["tokenurl"] == CERT_TOKEN_URL and creds["url"] == RT_URL and creds["tokenurl_from_key"] is False


# -- stored keys -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, text", [
    ("key.json", json.dumps(rt_key())),
    ("key.yml", "oauth:\n  clientid: '%s'\n  clientsecret: '%s'\n  url: %s\n  tokenurl: %s\n" % (RT_CLIENT, SECRET, RT_URL, TOKEN_URL)),
    ("key.env", "CPI_CLIENT_ID='%s'\nCPI_CLIENT_SECRET='%s'\nCPI_URL=%s\nCPI_TOKEN_URL=%s\n" % (RT_CLIENT, SECRET, RT_URL, TOKEN_URL)),
])
def test_stored_file_in_every_readable_format(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    module = FakeModule(stored={"source": "file", "path": str(path), "format": "auto", "env_prefix": "CPI_"})
    creds = _credentials.resolve(module, require_url=True)
    assert (creds["source"], creds["clientid"], creds["clientsecret"], creds["url"]) == ("stored", RT_CLIENT, SECRET, RT_URL)
    assert SECRET in module.no_log_values


def test_stored_key_read_by_the_action_plugin_is_used_as_is(tmp_path):
    module = FakeModule(stored={"source": "ansible_vault", "path": str(tmp_path / "absent.yml")}, _stored_key=rt_key())
    module.no_log_values.update([RT_CLIENT, RT_URL])
    creds = _credentials.resolve(module)
    assert creds["source"] == "stored" and creds["clientsecret"] == SECRET
    assert RT_CLIENT not in module.no_log_values  # public fields of the key are not masked in results


def test_stored_vault_file_needs_the_controller(tmp_path):
    path = tmp_path / "key.vault.yml"
    path.write_text("$ANSIBLE_VAULT;1.1;AES256\n3132\n")
    with pytest.raises(ParameterError, match=r"^stored: .* encrypted with Ansible Vault; only the controller can decrypt it"):
        _credentials.resolve(FakeModule(stored={"source": "file", "path": str(path), "format": "auto", "env_prefix": "CPI_"}))
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps(rt_key()))
    with pytest.raises(ParameterError, match="is not encrypted with Ansible Vault"):
        _credentials.read_stored("ansible_vault", str(plain), option="stored")
    raw, creds = _credentials.read_stored("file", str(path), decrypt=lambda data, name: json.dumps(rt_key()).encode(), option="stored")
    assert creds["clientsecret"] == SECRET and raw["oauth"]["clientid"] == RT_CLIENT


def test_stored_missing_file_names_the_option(tmp_path):
    with pytest.raises(ParameterError, match=r"^stored: the file .*missing.json does not exist"):
        _credentials.resolve(FakeModule(stored={"source": "file", "path": str(tmp_path / "missing.json")}))


def test_stored_kv_secret(monkeypatch):
    seen = {}

    class Store:
        mount = "secret"

        def read(self, path):
            seen["path"] = path
            return _vault.KvState(data=dict(rt_key()["oauth"], owner="team-a"), version=3, exists=True)

    def from_params(cls, params, redactor=None):
        seen["params"] = params
        return Store()

    monkeypatch.setattr(_vault.KvStore, "from_params", classmethod(from_params))
    module = FakeModule(stored={"source": "hashicorp_vault", "path": "cpi/orders", "url": "https://bao.example:8200", "token": "s.tok3n",
                                "mount": "secret"}, ca_path="/etc/ca.pem")
    creds = _credentials.resolve(module)
    assert seen["path"] == "cpi/orders" and seen["params"]["ca_path"] == "/etc/ca.pem"
    assert creds["source"] == "stored" and creds["clientsecret"] == SECRET
    assert "s.tok3n" in module.no_log_values


# -- certificates ----------------------------------------------------------------------------------------------

def test_expired_client_certificate_is_reported_before_any_request():
    cert, key = cert_and_key(days_valid=10, days_ago=40)
    creds = _credentials.resolve(FakeModule(client_id=RT_CLIENT, token_url=CERT_TOKEN_URL, client_cert=cert, client_key=key))
    assert creds["certificate_option"] == "client_cert"
    with pytest.raises(ParameterError, match=r"^client_cert: the client certificate \(subject CN=client\) expired on \d{4}-"):
        with _http.client_cert_files(creds["certificate"], creds["key"], creds["certificate_option"]):
            pytest.fail("the files of an expired certificate must not be written")
    service_key = {"oauth": {"clientid": RT_CLIENT, "certificate": cert, "key": key, "url": RT_URL, "tokenurl": CERT_TOKEN_URL}}
    creds = _credentials.resolve(FakeModule(service_key=service_key))
    provider = _oauth.TokenProvider(http=None, creds=creds, cache=False)
    with pytest.raises(ParameterError, match=r"^service_key: the client certificate .* expired"):
        provider.token()  # no HTTP client: the check happens before any request


def test_valid_client_certificate_passes():
    cert, key = cert_and_key()
    module = FakeModule(client_id=RT_CLIENT, token_url=CERT_TOKEN_URL, client_cert=cert, client_key=key)
    creds = _credentials.resolve(module)
    assert creds["certificate"].strip() == cert.strip() and creds["key"] in module.no_log_values


# -- the argument spec -----------------------------------------------------------------------------------------

def test_argument_spec_carries_the_cf_connection_and_the_reference():
    spec = _credentials.argument_spec()
    assert set(_cf.cf_argument_spec()) <= set(spec)
    assert spec["key"]["aliases"] == ["key_name"] and "instance" in spec
    odata = _credentials.argument_spec(reference_key="key_name")
    assert "key" not in odata and "key_name" in odata
    assert _credentials.module_kwargs(reference_key="key_name")["required_by"]["instance"] == ("key_name",)
    assert "cf_api" not in _credentials.argument_spec(cf=False)
