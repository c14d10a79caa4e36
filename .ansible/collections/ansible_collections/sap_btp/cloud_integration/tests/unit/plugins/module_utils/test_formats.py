# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import json

import pytest

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils import _formats
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._errors import ParameterError
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._service_key import parse_raw_service_key
from ansible_collections.sap_btp.cloud_integration.tests.unit.plugins.module_utils.credentials_keys import (
    CLIENT_SECRET, CERT_TOKEN_URL, TOKEN_URL, as_sap_json, certificate_key, external_key, pki, secret_key,
)

pytest.importorskip("cryptography")
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.serialization import pkcs12  # noqa: E402


def _parsed(key):
    return parse_raw_service_key(key)


def test_json_is_the_raw_key_and_deterministic():
    raw, creds = _parsed(secret_key())
    out = _formats.render("json", raw, creds, "/x/k.json")
    assert len(out) == 1 and out[0]["path"] == "/x/k.json"
    assert json.loads(out[0]["content"]) == secret_key()
    assert out[0]["content"] == _formats.render("json", raw, creds, "/x/k.json")[0]["content"]


def test_json_keeps_the_sap_text_shape_from_json_input():
    raw, creds = parse_raw_service_key(as_sap_json(certificate_key()), require_wrapper=True)
    content = _formats.render("json", raw, creds, "/x/k.json")[0]["content"].decode()
    assert "\\n" in content  # PEMs as SAP shows them, escaped in JSON
    assert json.loads(content) == certificate_key()


def test_yaml_has_literal_pem_blocks_and_round_trips():
    raw, creds = _parsed(certificate_key())
    content = _formats.render("yaml", raw, creds, "/x/k.yml")[0]["content"].decode()
    assert "certificate: |" in content and "\\n" not in content
    assert _formats.parse_stored(content, "yaml") == certificate_key()
    assert _formats.parse_stored(content) == certificate_key()


@pytest.mark.parametrize("key", [secret_key(), certificate_key()], ids=["secret", "certificate"])
def test_env_round_trips(key):
    raw, creds = _parsed(key)
    content = _formats.render("env", raw, creds, "/x/.env")[0]["content"].decode()
    assert "CPI_CLIENT_ID='%s'" % key["oauth"]["clientid"] in content
    assert "CPI_TOKEN_URL=" in content and "CPI_URL=" in content
    back, back_creds = parse_raw_service_key(_formats.parse_stored(content, "auto"), require_wrapper=True)
    assert back_creds["clientid"] == creds["clientid"]
    assert back_creds["clientsecret"] == creds["clientsecret"]
    assert back_creds["certificate"] == creds["certificate"]
    assert back_creds["key"] == creds["key"]


def test_env_single_quotes_keep_dollar_literal_and_quote_fallback():
    raw, creds = _parsed(secret_key("abc$HOME'x\"y"))
    content = _formats.render("env", raw, creds, "/x/.env", {"env_prefix": "MY_"})[0]["content"].decode()
    assert 'MY_CLIENT_SECRET="abc\\$HOME\'x\\"y"' in content
    assert _formats.parse_stored(content, "env", "MY_")["oauth"]["clientsecret"] == "abc$HOME'x\"y"


def test_env_rejects_bad_prefix():
    raw, creds = _parsed(secret_key())
    with pytest.raises(ParameterError, match="env_prefix"):
        _formats.render("env", raw, creds, "/x/.env", {"env_prefix": "BAD-"})


def test_postman_secret_key_matches_the_tutorial_fields():
    raw, creds = _parsed(secret_key())
    env = json.loads(_formats.render("postman", raw, creds, "/x/p.json")[0]["content"])
    values = {item["key"]: item for item in env["values"]}
    assert env["_postman_variable_scope"] == "environment"
    assert values["tokenUrl"]["value"] == TOKEN_URL
    assert values["clientId"]["value"] == creds["clientid"]
    assert values["clientSecret"]["value"] == CLIENT_SECRET and values["clientSecret"]["type"] == "secret"
    assert values["clientAuthentication"]["value"] == "header"
    assert values["grantType"]["value"] == "client_credentials"
    assert values["url"]["value"] == creds["url"]
    again = json.loads(_formats.render("postman", raw, creds, "/x/p.json")[0]["content"])
    assert again["id"] == env["id"]


def test_postman_certificate_key_references_files_and_cert_host():
    raw, creds = _parsed(certificate_key())
    env = json.loads(_formats.render("postman", raw, creds, "/x/p.json", {"certificate_path": "/c.pem", "private_key_path": "/c.key"})[0]["content"])
    values = {item["key"]: item["value"] for item in env["values"]}
    assert "clientSecret" not in values
    assert values["certificateHost"] == "acme-dev-x1y2z3.authentication.cert.eu10.hana.ondemand.com"
    assert values["tokenUrl"] == CERT_TOKEN_URL
    assert values["certificateFile"] == "/c.pem" and values["keyFile"] == "/c.key"
    assert values["clientAuthentication"] == "body"
    assert "PRIVATE KEY" not in json.dumps(env)


def test_postman_reads_back_with_referenced_files(tmp_path):
    chain, key, dummy = pki()
    (tmp_path / "c.pem").write_text(chain)
    (tmp_path / "c.key").write_text(key)
    raw, creds = _parsed(certificate_key())
    options = {"certificate_path": str(tmp_path / "c.pem"), "private_key_path": str(tmp_path / "c.key")}
    content = _formats.render("postman", raw, creds, "/x", options)[0]["content"]
    back = _formats.parse_stored(content)
    assert back["oauth"]["certificate"] == chain and back["oauth"]["key"] == key


def test_pem_writes_two_files_with_real_newlines():
    raw, creds = parse_raw_service_key(as_sap_json(certificate_key()), require_wrapper=True)
    certificate, private_key = _formats.render("pem", raw, creds, "/x/client.pem")
    assert certificate["path"] == "/x/client.pem" and private_key["path"] == "/x/client.key"
    assert len(x509.load_pem_x509_certificates(certificate["content"])) == 2
    assert serialization.load_pem_private_key(private_key["content"], None)
    assert b"\\n" not in certificate["content"]


def test_pem_key_path_defaults_and_override():
    assert _formats.default_private_key_path("/a/b.crt") == "/a/b.key"
    assert _formats.default_private_key_path("/a/bundle") == "/a/bundle.key"
    raw, creds = _parsed(certificate_key())
    with pytest.raises(ParameterError, match="private_key_path"):
        _formats.render("pem", raw, creds, "/x/a.pem", {"private_key_path": "/x/a.pem"})


@pytest.mark.parametrize("fmt", ["pem", "pkcs12"])
def test_certificate_formats_refuse_a_secret_key(fmt):
    raw, creds = _parsed(secret_key())
    with pytest.raises(ParameterError, match="client-secret key"):
        _formats.render(fmt, raw, creds, "/x/a", {"pkcs12_password": "pw"})


@pytest.mark.parametrize("fmt", ["pem", "pkcs12"])
def test_certificate_formats_refuse_an_external_key(fmt):
    raw, creds = _parsed(external_key())
    with pytest.raises(ParameterError, match="private key"):
        _formats.render(fmt, raw, creds, "/x/a", {"pkcs12_password": "pw"})


def test_pkcs12_needs_a_password():
    raw, creds = _parsed(certificate_key())
    with pytest.raises(ParameterError, match="pkcs12_password"):
        _formats.render("pkcs12", raw, creds, "/x/a.p12")


def test_pkcs12_is_salted_but_compared_by_content():
    raw, creds = _parsed(certificate_key())
    options = {"pkcs12_password": "changeit"}
    first = _formats.render("pkcs12", raw, creds, "/x/a.p12", options)[0]
    second = _formats.render("pkcs12", raw, creds, "/x/a.p12", options)[0]
    assert first["content"] != second["content"]  # salted
    assert second["same"](first["content"]) is True
    bundle = pkcs12.load_pkcs12(first["content"], b"changeit")
    assert bundle.cert.friendly_name == b"cloud-integration"
    assert len(bundle.additional_certs) == 1
    # another password, another key or another name is a real change
    assert _formats.render("pkcs12", raw, creds, "/x", {"pkcs12_password": "other"})[0]["same"](first["content"]) is False
    raw2, creds2 = _parsed(certificate_key(seed=1))
    assert _formats.render("pkcs12", raw2, creds2, "/x", options)[0]["same"](first["content"]) is False
    renamed = _formats.render("pkcs12", raw, creds, "/x", dict(options, pkcs12_friendly_name="alias"))[0]
    assert renamed["same"](first["content"]) is False
    assert renamed["same"](b"garbage") is False


def test_pkcs12_rejects_a_key_that_does_not_match_the_certificate():
    key = certificate_key()
    key["oauth"]["key"] = pki(seed=2)[1]
    raw, creds = _parsed(key)
    with pytest.raises(ParameterError, match="does not match"):
        _formats.render("pkcs12", raw, creds, "/x", {"pkcs12_password": "pw"})


def test_field_changes_show_fingerprints_only():
    names, diff = _formats.field_changes({"clientsecret": "old-secret-value", "url": "u"}, {"clientsecret": "new-secret-value", "url": "u"})
    assert names == ["clientsecret"]
    text = json.dumps(diff)
    assert "secret-value" not in text
    assert diff["before"]["clientsecret"].startswith("sha256:")


def test_content_field_changes_for_each_format():
    raw, creds = _parsed(secret_key())
    old_raw, old_creds = _parsed(secret_key("another-secret-1234"))
    for fmt in ("json", "yaml", "env", "postman"):
        outputs = _formats.render(fmt, raw, creds, "/x")
        existing = [_formats.render(fmt, old_raw, old_creds, "/x")[0]["content"]]
        names, diff = _formats.content_field_changes(fmt, raw, creds, outputs, existing)
        assert names == ["clientsecret"], fmt
        assert CLIENT_SECRET not in json.dumps(diff)
    names, diff = _formats.content_field_changes("json", raw, creds, _formats.render("json", raw, creds, "/x"), [None])
    assert "clientsecret" in names and diff["before"] == {}
    names, diff = _formats.content_field_changes("json", raw, creds, _formats.render("json", raw, creds, "/x"), [b"not json at all: ["])
    assert names == ["content"]


def test_content_field_changes_pkcs12_and_pem():
    raw, creds = _parsed(certificate_key())
    raw2, creds2 = _parsed(certificate_key(seed=1))
    options = {"pkcs12_password": "pw"}
    old = _formats.render("pkcs12", raw2, creds2, "/x", options)[0]["content"]
    names, dummy = _formats.content_field_changes("pkcs12", raw, creds, _formats.render("pkcs12", raw, creds, "/x", options), [old], options)
    assert sorted(names) == ["certificate", "key"]
    names, dummy = _formats.content_field_changes("pkcs12", raw, creds, _formats.render("pkcs12", raw, creds, "/x", options), [old], {"pkcs12_password": "x"})
    assert names == ["content"]
    pem_old = [item["content"] for item in _formats.render("pem", raw2, creds2, "/x.pem")]
    names, dummy = _formats.content_field_changes("pem", raw, creds, _formats.render("pem", raw, creds, "/x.pem"), pem_old)
    assert sorted(names) == ["certificate", "key"]


def test_parse_stored_errors():
    with pytest.raises(ParameterError, match="not valid JSON"):
        _formats.parse_stored("{broken", "json")
    with pytest.raises(ParameterError, match="cannot be read back"):
        _formats.parse_stored("x", "pem")
    with pytest.raises(ParameterError, match="mapping"):
        _formats.parse_stored("- a\n- b\n", "yaml")
    with pytest.raises(ParameterError, match="unterminated"):
        _formats.parse_stored("CPI_CLIENT_ID='abc\n", "env")


def test_unknown_format():
    raw, creds = _parsed(secret_key())
    with pytest.raises(ParameterError, match="unknown format"):
        _formats.render("xml", raw, creds, "/x")
