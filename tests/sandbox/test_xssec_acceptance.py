# -*- coding: utf-8 -*-
"""Acceptance: SAP's own token library, `sap-xssec` (PyPI), validates sandbox XSUAA tokens unchanged.

Source: issue 13 (sap-xssec rejected every sandbox token, "Could not parse the provided public key", because
`/token_keys` served `value` as bare base64 DER; UAA and XSUAA serve a PEM string next to `n`/`e`).

Tokens of all three key types (client secret, SAP-generated certificate over mTLS, external certificate over mTLS)
go through `create_security_context_xsuaa(token, config)` with the key's own credentials as `config`, as an
application bound to the instance would call it: signature (keys fetched from `<url>/token_keys`), audience and
local scopes. The collection's own `oauth_token` module then fetches tokens for the same keys with
`verify_signature: true`, and sap-xssec validates those tokens too.
"""

import importlib.util
import json
import os
import sys

import pytest
import requests
from sap.xssec import create_security_context_xsuaa
from sap.xssec.security_context_xsuaa import SecurityContextXSUAA

from btp_sandbox import Sandbox, load_config, pki
from core_helpers import write_external_ca
from tenant_clients import CfClient, tenant_info

ROLES = ["ESBMessaging.send", "OrderRole"]
API_ROLES = ["MonitoringDataRead"]
E2E_CONFTEST = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "e2e", "conftest.py")


@pytest.fixture(scope="module", name="world")
def fixture_world(tmp_path_factory):
    """A sandbox trusting a customer CA, an integration-flow instance with one key of each type, an api key."""
    work = tmp_path_factory.mktemp("xssec")
    ca_cert, ca_key, ca_path = write_external_ca(work, cn="Xssec Test CA")
    sandbox = Sandbox(load_config(overrides={"trust_ca_files": [ca_path]}), state_file=str(work / "conn.json")).start()
    try:
        conn = sandbox.connection
        tenant = tenant_info(conn, "acme")
        cf = CfClient(conn)
        flow = cf.create_instance(tenant, "integration-flow", {"roles": ROLES, "grant-types": ["client_credentials"]})
        leaf, leaf_key = pki.make_leaf(ca_cert, ca_key, "CN=xssec-client,O=Customer,C=DE", days=30)
        keys = {
            "client_secret": cf.create_key(flow)[1]["oauth"],
            "certificate": cf.create_key(flow, {"key-type": "certificate", "validity": 30})[1]["oauth"],
            "certificate_external": cf.create_key(flow, {"key-type": "certificate_external",
                                                         "X.509": pki.cert_pem(leaf)})[1]["oauth"],
            "api": cf.create_key(cf.create_instance(tenant, "api", {"roles": API_ROLES}))[1]["oauth"],
        }
        files = {}
        for name, oauth in keys.items():
            path = work / ("%s.json" % name)
            path.write_text(json.dumps({"oauth": oauth}), encoding="utf-8")
            files[name] = str(path)
        (work / "cert.pem").write_text(keys["certificate"]["certificate"].replace("\\n", "\n"), encoding="utf-8")
        (work / "cert-key.pem").write_text(keys["certificate"]["key"].replace("\\n", "\n"), encoding="utf-8")
        (work / "external.pem").write_text(pki.cert_pem(leaf), encoding="utf-8")
        (work / "external-key.pem").write_text(pki.key_pem(leaf_key), encoding="utf-8")
        yield {"sandbox": sandbox, "conn": conn, "tenant": tenant, "keys": keys, "files": files, "work": work,
               "tls": {"certificate": (str(work / "cert.pem"), str(work / "cert-key.pem")),
                       "certificate_external": (str(work / "external.pem"), str(work / "external-key.pem"))}}
    finally:
        sandbox.stop()


@pytest.fixture(autouse=True)
def _trust_sandbox_ca(world, monkeypatch):
    """sap-xssec downloads the keys with httpx, which trusts SSL_CERT_FILE: point it at the sandbox CA (the library
    itself stays unchanged). Its key cache is process-wide; clear it so every test downloads the keys."""
    monkeypatch.setenv("SSL_CERT_FILE", world["conn"]["ca_bundle"])
    SecurityContextXSUAA.verificationKeyCache._cache.clear()  # pylint: disable=protected-access


def fetch_token(world, key_type):
    """A token of the tenant's XSUAA for one key (client secret on the normal host, mTLS on the `.cert.` host)."""
    oauth = world["keys"][key_type]
    verify = world["conn"]["ca_bundle"]
    if key_type in ("client_secret", "api"):
        response = requests.post(oauth["tokenurl"], data={"grant_type": "client_credentials"},
                                 auth=(oauth["clientid"], oauth["clientsecret"]), verify=verify, timeout=10)
    else:
        response = requests.post(oauth["tokenurl"], data={"grant_type": "client_credentials", "client_id": oauth["clientid"]},
                                 cert=world["tls"][key_type], verify=verify, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def xssec_config(world, key_type, **changes):
    """The credentials an application bound to the instance hands to sap-xssec: {clientid, clientsecret, url,
    xsappname} for secret keys, {clientid, certificate, certurl, url, xsappname} for certificate keys."""
    oauth = world["keys"][key_type]
    tenant = world["tenant"]
    xsappname = "it!b196" if key_type == "api" else "it-rt-%s!b196" % tenant["subdomain"]
    config = {"clientid": oauth["clientid"], "url": tenant["token_url"].rsplit("/oauth/token", 1)[0],
              "xsappname": xsappname}
    if "clientsecret" in oauth:
        config["clientsecret"] = oauth["clientsecret"]
    else:
        config.update(certificate=oauth["certificate"], certurl=tenant["cert_token_url"].rsplit("/oauth/token", 1)[0])
    config.update(changes)
    return config


def test_token_keys_value_is_pem_next_to_n_and_e(world):
    """`value` is a PEM public key, `n`/`e` remain (issue 13: as UAA and XSUAA serve it)."""
    for base in (world["tenant"]["token_url"].rsplit("/oauth/token", 1)[0], world["conn"]["cf"]["uaa_url"]):
        keys = requests.get(base + "/token_keys", verify=world["conn"]["ca_bundle"], timeout=10).json()["keys"]
        assert keys and all(k["value"].startswith("-----BEGIN PUBLIC KEY-----\n") for k in keys)
        assert all(k["value"].endswith("\n-----END PUBLIC KEY-----") for k in keys)
        assert all(k["n"] and k["e"] == "AQAB" and k["kty"] == "RSA" for k in keys)


@pytest.mark.parametrize("key_type", ["client_secret", "certificate", "certificate_external"])
def test_sap_xssec_accepts_tokens_of_every_key_type(world, key_type):
    """sap-xssec validates the signature, reads the claims and checks the audience and the local scopes."""
    token = fetch_token(world, key_type)
    context = create_security_context_xsuaa(token, xssec_config(world, key_type))
    oauth = world["keys"][key_type]
    assert context.get_clientid() == oauth["clientid"]
    assert context.get_grant_type() == "client_credentials"
    assert context.get_zone_id() == world["sandbox"].tenant("acme").zone_id
    assert context.get_subaccount_id() == world["tenant"]["subaccount_id"]
    assert context.get_subdomain() == world["tenant"]["subdomain"]
    assert "it-rt-%s!b196" % world["tenant"]["subdomain"] in context.get_audience()
    assert all(context.check_local_scope(role) for role in ROLES)
    assert not context.check_local_scope("WorkspacePackagesRead")
    assert context.check_scope("it-rt-%s!b196.ESBMessaging.send" % world["tenant"]["subdomain"])


def test_sap_xssec_accepts_api_plan_tokens(world):
    """An api-plan token: audience `it!b196` and its role as a local scope."""
    context = create_security_context_xsuaa(fetch_token(world, "api"), xssec_config(world, "api"))
    assert context.check_local_scope("MonitoringDataRead")
    assert not context.check_local_scope("ESBMessaging.send")


@pytest.mark.parametrize("key_type", ["client_secret", "certificate"])
def test_sap_xssec_audience_check_rejects_a_foreign_application(world, key_type):
    """The audience check has teeth: an application with another client id and xsappname rejects the token."""
    token = fetch_token(world, key_type)
    other = xssec_config(world, "api", xsappname="other-app!b42")
    other["clientid"] = "sb-other-client!b1|other-app!b42"
    with pytest.raises(RuntimeError, match="Audience Validation Failed"):
        create_security_context_xsuaa(token, other)


def test_sap_xssec_rejects_a_token_of_another_signer(world):
    """The signature check has teeth: a token signed with another key fails although the kid matches."""
    token = fetch_token(world, "client_secret")
    header, payload, _signature = token.split(".")
    forged = "%s.%s.%s" % (header, payload, fetch_token(world, "api").split(".")[2])
    with pytest.raises(RuntimeError):
        create_security_context_xsuaa(forged, xssec_config(world, "client_secret"))


def _load_e2e_helpers():
    """tests/e2e/conftest.py as a module: its staging and ansible-playbook helpers."""
    module = sys.modules.get("e2e_conftest")
    if module is None:
        spec = importlib.util.spec_from_file_location("e2e_conftest", E2E_CONFTEST)
        module = importlib.util.module_from_spec(spec)
        sys.modules["e2e_conftest"] = module
        spec.loader.exec_module(module)
    return module


PLAYBOOK = """
- name: Tokens of the collection's oauth_token, signatures verified
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Get a token per key with verify_signature
      sap_btp.cloud_integration.oauth_token:
        service_key_path: "{{ item.path }}"
        client_key: "{{ item.client_key | default(omit) }}"
        ca_path: "{{ ca_path }}"
        verify_signature: true
        cache: false
      loop: "{{ keys }}"
      loop_control:
        label: "{{ item.name }}"
      register: tokens
      no_log: true

    - name: Hand the tokens to the test
      ansible.builtin.copy:
        dest: "{{ out }}"
        mode: "0600"
        content: "{{ dict(keys | map(attribute='name') | zip(tokens.results | map(attribute='access_token'))) | to_json }}"
      no_log: true
"""


def test_collection_oauth_token_verifies_the_same_keys_and_sap_xssec_accepts_its_tokens(world):
    """The collection's oauth_token (verify_signature: true, PyJWT over the PEM/JWK keys) gets tokens of all three
    key types; sap-xssec accepts those very tokens."""
    e2e = _load_e2e_helpers()
    work = world["work"]
    collections = e2e.stage_collection(work / "collections")
    playbook = work / "tokens.yml"
    playbook.write_text(PLAYBOOK, encoding="utf-8")
    inventory = work / "inventory.ini"
    inventory.write_text("localhost ansible_connection=local ansible_python_interpreter=%s\n" % sys.executable,
                         encoding="utf-8")
    out = work / "tokens.json"
    keys = [{"name": "client_secret", "path": world["files"]["client_secret"]},
            {"name": "certificate", "path": world["files"]["certificate"]},
            {"name": "certificate_external", "path": world["files"]["certificate_external"],
             "client_key": world["tls"]["certificate_external"][1]}]
    result = e2e.run_ansible_playbook(str(playbook), inventory, collections, work,
                                      extra_vars={"keys": keys, "ca_path": world["conn"]["ca_bundle"], "out": str(out)})
    assert result.rc == 0, result.describe()
    tokens = json.loads(out.read_text(encoding="utf-8"))
    assert sorted(tokens) == ["certificate", "certificate_external", "client_secret"]
    for key_type, token in tokens.items():
        context = create_security_context_xsuaa(token, xssec_config(world, key_type))
        assert context.get_clientid() == world["keys"][key_type]["clientid"]
        assert context.check_local_scope("ESBMessaging.send")
