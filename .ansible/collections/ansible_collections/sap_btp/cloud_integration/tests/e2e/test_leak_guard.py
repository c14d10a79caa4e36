# -*- coding: utf-8 -*-
"""Secret-leak guard: run the playbooks and modules that handle secrets in every output mode and look for the secrets.

What runs (one ``leak_guard.yml`` that imports the collection's playbooks, plus a tour of the secret-handling modules
as their EXAMPLES use them): onboarding of three clients (api + client secret, integration-flow + client secret,
integration-flow + SAP-generated certificate) into every kind of destination (JSON/env/Postman/PEM/PKCS#12 files,
an Ansible Vault file, OpenBao KV v2), the smoke test (tokens, iFlow calls, MPL tracking, OData), then
``service_key`` (with ``return_secrets``), ``service_key_info`` with credentials, ``credentials_store`` from a
registered result, the ``credentials`` lookup (file, Ansible Vault, KV), ``oauth_token`` (secret and mTLS),
``iflow_request``, ``odata_request`` and ``message_processing_log_info``.

Modes (each a test):
- ``vvvv_diff``: default callback, ``-vvvv --diff``, ANSIBLE_LOG_PATH set;
- ``json_check``: JSON output with ``--diff``, then a second run in ``--check --diff -vvvv`` with a changed and a new
  client. ansible-core ships no JSON stdout callback (``ansible.posix.json`` is not part of it), so the run records
  every result with the test callback ``e2e_record`` (the ``ansible.posix.json`` document shape, see
  tests/e2e/callback_plugins) and with ansible-core's own JSON callback ``ansible.builtin.tree`` (one JSON file per
  host); both are searched;
- ``runner``: through ansible-runner as AWX runs it (tests/e2e/test_runner.py's ``AwxJobRunner``): stdout, job events,
  fact cache and every other artifact, ``command`` (ansible-runner's record of the job's environment) included.

The secrets: every client secret and private key the sandbox issued, every access token in the token cache (CF UAA
and XSUAA), the CF password, the OpenBao token, the PKCS#12 password and the Ansible Vault password. They are
searched raw, JSON-escaped, URL-encoded and base64-encoded (whole and embedded at any alignment, e.g. inside a Basic
header), PEM bodies line by line, plus anything that looks like a JWT, in: stdout/stderr, the log file, runner
artifacts, the reports directory, HOME (``~/.ansible``), TMPDIR and the Ansible temp directories, and the token cache
(which may hold access tokens, its purpose, but nothing else). The credential destinations are where secrets belong;
they serve as the positive control that the search finds what it looks for. Target: zero hits.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from pathlib import Path

import pytest

from proof_helpers import OpenBao, SecretSet, e2e_conftest, scan_paths, scan_text

E2E = e2e_conftest()
JWT_RE = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
VAULT_PASSWORD = "leak-guard-vault-password-%s" % uuid.uuid4().hex[:8]
PKCS12_PASSWORD = "leak-guard-p12-%s" % uuid.uuid4().hex[:10]

TOUR = """
- name: Module tour (secret-handling modules, as their EXAMPLES use them)
  hosts: tenants
  connection: local
  gather_facts: false
  vars:
    dest: "{{ leak_dest }}"
    cf: &cf
      cf_api: "{{ cloud_integration_cf.api | default(omit) }}"
      cf_username: "{{ cloud_integration_cf.username | default(omit) }}"
      cf_password: "{{ cloud_integration_cf.password | default(omit) }}"
      org: "{{ cloud_integration_cf.org }}"
      space: "{{ cloud_integration_cf.space }}"
  module_defaults:
    group/sap_btp.cloud_integration.cloud_integration:
      ca_path: "{{ cloud_integration_ca_path | default(omit) }}"
    sap_btp.cloud_integration.service_key: *cf
    sap_btp.cloud_integration.service_key_info: *cf
    sap_btp.cloud_integration.credentials_store: *cf
  tasks:
    - name: Read the key of the iFlow client back (credentials stay masked)
      sap_btp.cloud_integration.service_key:
        name: "{{ leak_prefix }}-flow-key"
        instance: "{{ leak_prefix }}-flow"
      register: tour_key

    - name: Read it with return_secrets (the documented no_log pattern)
      sap_btp.cloud_integration.service_key:
        name: "{{ leak_prefix }}-flow-key"
        instance: "{{ leak_prefix }}-flow"
        return_secrets: true
      register: tour_key_secrets
      no_log: true

    - name: A keys batch with return_secrets in which one item fails (a shown failure, so it must hold no secret)
      sap_btp.cloud_integration.service_key:
        return_secrets: true
        keys:
          - {name: "{{ leak_prefix }}-flow-key", instance: "{{ leak_prefix }}-flow"}
          - {name: "{{ leak_prefix }}-none-key", instance: "{{ leak_prefix }}-no-such-instance"}
      register: tour_batch
      ignore_errors: true

    - name: The batch failed, named the missing instance and withheld the secrets of the other key
      ansible.builtin.assert:
        that:
          - tour_batch is failed
          - "'no-such-instance' in tour_batch.msg"
          - not tour_batch.secrets_returned
          - tour_batch.service_keys[0].guid | length > 0

    - name: Store the registered credentials as YAML
      sap_btp.cloud_integration.credentials_store:
        credentials: "{{ tour_key_secrets.credentials }}"
        destination: file
        path: "{{ dest }}/flow-from-result.yml"
        format: yaml
      no_log: true

    - name: List the keys of the instance with their credentials
      sap_btp.cloud_integration.service_key_info:
        instance: "{{ leak_prefix }}-flow"
        include_credentials: true
      register: tour_keys

    - name: Read the stored keys back with the credentials lookup
      ansible.builtin.set_fact:
        tour_from_file: "{{ lookup('sap_btp.cloud_integration.credentials', dest ~ '/api.json') }}"
        tour_from_vault_file: "{{ lookup('sap_btp.cloud_integration.credentials', dest ~ '/api.vault.yml', source='ansible_vault') }}"
        tour_from_kv: >-
          {{ lookup('sap_btp.cloud_integration.credentials', leak_kv_path, source='hashicorp_vault', url=leak_vault_addr,
                    token=leak_vault_token) }}
      no_log: true
      when: leak_ansible_vault | bool

    - name: Token for the api client (from the looked-up key)
      sap_btp.cloud_integration.oauth_token:
        service_key: "{{ tour_from_kv if leak_ansible_vault | bool else omit }}"
        service_key_path: "{{ omit if leak_ansible_vault | bool else dest ~ '/api.json' }}"
      register: tour_api_token

    - name: Token for the certificate client (mTLS)
      sap_btp.cloud_integration.oauth_token:
        service_key_path: "{{ dest }}/cert.json"
        cache: false
      register: tour_cert_token

    - name: Call an iFlow with the certificate client
      sap_btp.cloud_integration.iflow_request:
        service_key_path: "{{ dest }}/cert.json"
        auth: certificate
        path: /http/products/details
        body:
          productIdentifier: HT-2000
      register: tour_call

    - name: Call an iFlow with the secret client and Basic authentication
      sap_btp.cloud_integration.iflow_request:
        service_key_path: "{{ dest }}/flow.json"
        auth: basic
        path: /http/echo
        body: hello
      register: tour_basic

    - name: Follow the call's message processing log
      sap_btp.cloud_integration.message_processing_log_info:
        service_key_path: "{{ dest }}/api.json"
        mpl_id: "{{ tour_call.mpl_id }}"
        wait_for: [COMPLETED]
        wait_timeout: 60
      when: not ansible_check_mode

    - name: Read message processing logs through the OData API
      sap_btp.cloud_integration.odata_request:
        service_key_path: "{{ dest }}/api.json"
        path: MessageProcessingLogs
        top: 5
        paging: false
      register: tour_mpls

    - name: Show what the tour may show
      ansible.builtin.debug:
        msg: >-
          token {{ tour_api_token.token_type | default('') }} for {{ tour_api_token.claims.client_id | default('') }};
          call {{ tour_call.status | default('') }}
"""


def client_list(prefix, dest, vault_addr, vault_token, ansible_vault=True, extra=False):
    api_dest = [{"type": "file", "path": "%s/api.json" % dest},
                {"type": "hashicorp_vault", "path": "leak/%s/api" % prefix, "url": vault_addr, "token": vault_token}]
    if ansible_vault:
        api_dest.append({"type": "ansible_vault", "path": "%s/api.vault.yml" % dest})
    clients = [
        {"name": "%s-api" % prefix, "plan": "api", "roles": ["MonitoringDataRead"] + (["MessagePayloadsRead"] if extra else []),
         "destinations": api_dest},
        {"name": "%s-flow" % prefix, "plan": "integration-flow",
         "destinations": [{"type": "file", "path": "%s/flow.json" % dest},
                          {"type": "file", "path": "%s/flow.env" % dest, "format": "env"},
                          {"type": "file", "path": "%s/flow.postman.json" % dest, "format": "postman"}]},
        {"name": "%s-cert" % prefix, "plan": "integration-flow", "key_type": "certificate", "validity_days": 30,
         "destinations": [{"type": "file", "path": "%s/cert.json" % dest},
                          {"type": "file", "path": "%s/cert.pem" % dest, "format": "pem", "private_key_path": "%s/cert.key" % dest},
                          {"type": "file", "path": "%s/cert.p12" % dest, "format": "pkcs12", "pkcs12_password": PKCS12_PASSWORD}]},
    ]
    if extra:
        clients.append({"name": "%s-new" % prefix, "plan": "integration-flow",
                        "destinations": [{"type": "file", "path": "%s/new.json" % dest}]})
    return clients


class KeyCollector:
    """Records every key record the sandbox holds while a run is going on: keys deleted by rotation or offboarding
    take their secrets out of the sandbox, but not out of the search."""

    def __init__(self, sandbox):
        self.sandbox = sandbox
        self.records = {}
        self._stop = threading.Event()
        self._thread = None

    def collect(self):
        with self.sandbox.store.lock:
            for guid, record in self.sandbox.store.keys.items():
                if record.get("state") == "succeeded" and guid not in self.records:
                    self.records[guid] = dict(record)

    def _loop(self):
        while not self._stop.wait(0.1):
            self.collect()

    def __enter__(self):
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)
        self.collect()


class LeakRun:
    """One leak-guard scenario: directories, OpenBao, inventory and the secrets it can reveal."""

    def __init__(self, base, connection, sandbox, tenant="acme"):
        self.base = Path(base)
        self.connection = connection
        self.keys = KeyCollector(sandbox)
        self.prefix = "lk%s" % uuid.uuid4().hex[:6]
        for name in ("dest", "home", "tmp", "reports", "inputs", "work", "scan-extra"):
            (self.base / name).mkdir(parents=True, exist_ok=True)
        self.dest = self.base / "dest"
        self.cache = self.base / "work" / "token-cache"
        self.vault = OpenBao(self.base / "inputs")
        self.vault_password_file = self.base / "inputs" / "vault-password"
        self.vault_password_file.write_text(VAULT_PASSWORD + "\n", encoding="utf-8")
        self.tenant = next(t for t in connection["tenants"] if t["name"] == tenant)
        self.outputs = {}

    def host_vars(self, ansible_vault=True, extra=False, with_cf_credentials=True):
        cf = {k: v for k, v in E2E.cf_connection_vars(self.connection).items() if k != "ca_path"}
        if not with_cf_credentials:
            cf = {"org": cf["org"], "space": cf["space"]}
        return {
            "cloud_integration_cf": cf,
            "cloud_integration_ca_path": self.connection["ca_bundle"],
            "cloud_integration_report_dir": str(self.base / "reports"),
            "cloud_integration_clients": client_list(self.prefix, self.dest, self.vault.addr, self.vault.token, ansible_vault, extra),
            "leak_prefix": self.prefix, "leak_dest": str(self.dest), "leak_ansible_vault": ansible_vault,
            "leak_kv_path": "leak/%s/api" % self.prefix, "leak_vault_addr": self.vault.addr, "leak_vault_token": self.vault.token,
        }

    @staticmethod
    def playbook_text(lifecycle=False, smoke=True):
        """Onboarding, smoke test and the module tour; with ``lifecycle`` also key rotation and offboarding. (Check
        mode runs without the smoke test, whose iFlow calls are not sent in check mode.)"""
        text = "---\n- name: Onboard\n  ansible.builtin.import_playbook: sap_btp.cloud_integration.onboard\n"
        if smoke:
            text += "- name: Smoke test\n  ansible.builtin.import_playbook: sap_btp.cloud_integration.smoke_test\n"
        text += TOUR
        if lifecycle:
            text += ("\n- name: Rotate the keys that are due (the 30-day certificate)\n"
                     "  ansible.builtin.import_playbook: sap_btp.cloud_integration.rotate_keys\n"
                     "- name: Offboard\n  ansible.builtin.import_playbook: sap_btp.cloud_integration.offboard\n")
        return text

    def write_playbook(self, lifecycle=False, smoke=True):
        path = self.base / "inputs" / "leak_guard.yml"
        path.write_text(self.playbook_text(lifecycle, smoke), encoding="utf-8")
        return path

    def env(self, log_file=None):
        env = {"HOME": str(self.base / "home"), "TMPDIR": str(self.base / "tmp"),
               "ANSIBLE_VAULT_PASSWORD_FILE": str(self.vault_password_file),
               "SAP_BTP_CACHE_DIR": str(self.cache)}
        if log_file:
            env["ANSIBLE_LOG_PATH"] = str(log_file)
        return env

    def run_playbook(self, staged, label, args=(), callback="ansible.builtin.default", lifecycle=False, json_output=False,
                     **vars_options):
        inventory = E2E.write_inventory(self.base / "inputs" / ("inventory-%s.yml" % label),
                                        {"%s-tenant" % self.tenant["name"]: self.host_vars(**vars_options)})
        log_file = self.base / "work" / ("ansible-%s.log" % label)
        env = self.env(log_file)
        if json_output:
            env.update(ANSIBLE_CALLBACKS_ENABLED="ansible.builtin.tree", ANSIBLE_CALLBACK_TREE_DIR=str(self.base / "work" / "tree"))
        with self.keys:
            result = E2E.run_ansible_playbook(str(self.write_playbook(lifecycle, smoke="--check" not in args)), inventory,
                                              staged, self.base / "work",
                                              callback=callback, args=args, env=env, timeout=900)
        self.outputs["%s stdout" % label] = result.stdout
        self.outputs["%s stderr" % label] = result.stderr
        self.outputs["%s JSON record" % label] = json.dumps(result.data)
        return result

    # -- the secrets --------------------------------------------------------------------------------------------
    def secrets(self):
        found = SecretSet()
        self.keys.collect()
        for record in self.keys.records.values():
            oauth = (record.get("credentials") or {}).get("oauth", {})
            found.add("client secret of %s" % record["name"], record.get("clientsecret") or oauth.get("clientsecret"))
            found.add("private key of %s" % record["name"], oauth.get("key"))
        for path in self.cache.rglob("*.json") if self.cache.exists() else []:
            text = path.read_text(encoding="utf-8", errors="replace")
            for index, token in enumerate(JWT_RE.findall(text)):
                found.add("access token %s#%d" % (path.name[:8], index), token)
        for pem in self.dest.glob("*.key"):
            found.add("private key file %s" % pem.name, pem.read_text(encoding="utf-8"))
        found.add("CF password", self.connection["cf"]["password"])
        found.add("OpenBao token", self.vault.token)
        found.add("PKCS#12 password", PKCS12_PASSWORD)
        found.add("Ansible Vault password", VAULT_PASSWORD)
        return found

    def scan(self, secrets, extra_paths=()):
        """Every secret anywhere in the outputs and the scanned places is a hit; the only exception is the token
        cache, which exists to hold access tokens."""
        hits = []
        for where, text in self.outputs.items():
            hits += scan_text(secrets, text, where)
            hits += ["%s: a JWT-like value (%s...)" % (where, m[:12]) for m in JWT_RE.findall(text)]

        def allow(path, name):
            # the token cache exists to hold access tokens (and only those)
            return self.cache in path.parents and name.startswith("access token")

        places = [self.base / "work", self.base / "reports", self.base / "home", self.base / "tmp"] + list(extra_paths)
        file_hits, scanned = scan_paths(secrets, places, allow=allow)
        hits += file_hits
        for place in [self.base / "work", self.base / "reports", self.base / "home", self.base / "tmp"] + list(extra_paths):
            for path in place.rglob("*") if place.exists() else []:
                if path.is_file() and self.cache not in path.parents:
                    for match in JWT_RE.findall(path.read_text(encoding="utf-8", errors="replace")):
                        hits.append("%s: a JWT-like value (%s...)" % (path, match[:12]))
        return hits, scanned

    def positive_control(self, secrets):
        """The destinations hold the secrets: the search must find them there."""
        hits, scanned = scan_paths(secrets, [self.dest])
        names = {hit.split(": ", 1)[1].rsplit(" (", 1)[0] for hit in hits}
        return names, scanned

    def close(self):
        self.vault.stop()


def assert_clean(run, extra_paths=()):
    secrets = run.secrets()
    kinds = " ".join(secrets.names())
    for kind in ("client secret of %s-api-key" % run.prefix, "private key of %s-cert-key" % run.prefix, "access token",
                 "CF password", "OpenBao token", "PKCS#12 password"):
        assert kind in kinds, "the leak guard found no %s to search for (secrets: %s)" % (kind, secrets.names())
    found, scanned = run.positive_control(secrets)
    assert "client secret of %s-flow-key" % run.prefix in found, "positive control failed: %s" % found
    hits, scanned = run.scan(secrets, extra_paths)
    assert scanned > 0
    assert not hits, "secrets leaked:\n" + "\n".join(sorted(set(hits))[:50])


@pytest.fixture
def leak_run(btp_sandbox, tmp_path):
    run = LeakRun(tmp_path / "leak", btp_sandbox.connection, btp_sandbox)
    yield run
    run.close()


def test_leak_guard_vvvv_and_diff(leak_run, btp_sandbox, staged_collection):
    result = leak_run.run_playbook(staged_collection, "vvvv", args=("-vvvv", "--diff"), lifecycle=True)
    assert result.rc == 0, result.describe()
    assert "%s-flow" % leak_run.prefix in result.stdout and "> EXEC " in result.stdout
    assert (leak_run.base / "work" / "ansible-vvvv.log").stat().st_size > 0
    rotated = [r["name"] for r in leak_run.keys.records.values() if r["name"].startswith("%s-cert-key-" % leak_run.prefix)]
    assert rotated, "the certificate key was not rotated"
    assert not any(leak_run.dest.glob("api*")), "offboarding left credentials behind"
    assert_clean(leak_run)


def test_leak_guard_json_callback_and_check_mode(leak_run, btp_sandbox, staged_collection):
    first = leak_run.run_playbook(staged_collection, "json", args=("--diff",), json_output=True)
    assert first.rc == 0, first.describe()
    assert first.data.get("plays"), "the JSON record holds no plays"
    assert any((leak_run.base / "work" / "tree").iterdir()), "the tree callback wrote no JSON"
    check = leak_run.run_playbook(staged_collection, "check", args=("--check", "--diff", "-vvvv"), json_output=True, extra=True)
    assert check.rc == 0, check.describe()
    assert check.changed() > 0, "check mode predicted no change for a changed and a new client"
    assert not (leak_run.dest / "new.json").exists(), "check mode wrote a file"
    assert_clean(leak_run)


def test_leak_guard_ansible_runner(leak_run, btp_sandbox, staged_collection):
    from test_runner import AwxJobRunner  # the AWX emulation of issue 8 (credential types, private data dir)
    awx = AwxJobRunner(leak_run.base / "runner", staged_collection, btp_sandbox.connection)
    awx.cache_dir = leak_run.cache
    host_vars = leak_run.host_vars(ansible_vault=False, with_cf_credentials=False)
    with leak_run.keys:
        job = awx.run(leak_run.playbook_text(lifecycle=True), {"%s-tenant" % leak_run.tenant["name"]: host_vars},
                      [awx.credential_inputs("cf"), awx.credential_inputs("ca")], name="leak")
    assert job.rc == 0 and job.status == "successful", job.describe()
    assert any(f.parent.name == "job_events" for f in job.artifact_files())
    assert "%s-flow" % leak_run.prefix in job.stdout
    artifacts = job.artifact_dir
    # the whole artifact directory, ansible-runner's record of the job's environment (artifacts/<id>/command)
    # included: the credential types inject the CF password as a 0600 file, so only its path is in the environment
    assert (artifacts / "command").is_file() and "CF_PASSWORD_FILE" in (artifacts / "command").read_text(encoding="utf-8")
    assert_clean(leak_run, extra_paths=[artifacts, leak_run.base / "runner" / "ansible-tmp"])
