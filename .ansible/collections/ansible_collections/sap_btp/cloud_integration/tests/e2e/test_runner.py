# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The playbooks run through ansible-runner the way AWX / Automation Platform runs them (issue 8).

Every job gets a private data directory like an AWX job: ``project/`` with the job template's playbook (which
imports the collection's playbook), ``inventory/`` with one host per tenant and no credential in it, and the
credentials of the job template rendered from the shipped credential types (extensions/aap/credential_types) by
the same algorithm AWX uses: files in ``env/`` with mode 0600, environment variables passed to ansible-runner.
The collection is found through ANSIBLE_COLLECTIONS_PATH, as it is installed in an execution environment.

Checked for every job: rc and status, the play recap (stats), the workflow outputs the roles publish with
set_stats (the ``artifact_data`` of the ``playbook_on_stats`` event, which AWX hands to the next workflow node),
and that no secret (CF password, client secrets, private keys, access tokens; raw, base64 and URL-encoded) is in
the runner artifacts: stdout, stderr, job_events/*.json and the fact cache, nor in ``artifacts/<id>/command``, where
ansible-runner records the job's environment (the credential types inject secrets as 0600 files, env holds paths).
"""

from __future__ import annotations

import base64
import glob
import json
import os
import re
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml

from aap_support import credential_type_by_name, inject_credential, secret_variants

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
JWT_RE = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
B64_JWT_RE = re.compile(r"ZXlK[A-Za-z0-9+/_-]{40,}")  # base64 of a JWT ("eyJ..." -> "ZXlK...")
ISO_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")


# ---------------------------------------------------------------------------------------------------------------
# an AWX job, emulated

@dataclass
class Job:
    """One ansible-runner run and what AWX would keep of it."""
    rc: int
    status: str
    stats: dict
    events: list
    artifact_dir: Path
    private_data_dir: Path
    env: dict
    safe_env: dict
    credential_files: list = field(default_factory=list)

    @property
    def artifact_data(self):
        stats_events = [e for e in self.events if e.get("event") == "playbook_on_stats"]
        assert len(stats_events) == 1, "no playbook_on_stats event"
        return stats_events[0]["event_data"].get("artifact_data") or {}

    @property
    def stdout(self):
        return (self.artifact_dir / "stdout").read_text(encoding="utf-8")

    def failures(self):
        lines = []
        for event in self.events:
            if event.get("event") in ("runner_on_failed", "runner_on_unreachable"):
                data = event["event_data"]
                lines.append("%s: %s: %s" % (data.get("host"), data.get("task"), (data.get("res") or {}).get("msg")))
        return lines

    def describe(self):
        return "rc=%s status=%s\nfailures: %s\nstdout (tail):\n%s" % (self.rc, self.status, self.failures(), self.stdout[-5000:])

    def artifact_files(self):
        """The artifacts AWX keeps or streams: stdout, stderr, job events, the fact cache."""
        files = [self.artifact_dir / "stdout", self.artifact_dir / "stderr"]
        files += sorted(Path(p) for p in glob.glob(str(self.artifact_dir / "job_events" / "*.json")))
        files += sorted(Path(p) for p in glob.glob(str(self.artifact_dir / "fact_cache" / "**"), recursive=True) if Path(p).is_file())
        return [f for f in files if f.is_file()]


class AwxJobRunner:
    """Builds private data directories like AWX and runs them with ansible_runner.run()."""

    def __init__(self, base, collections_path, connection):
        self.base = Path(base)
        self.collections_path = Path(collections_path)
        self.connection = connection
        self.cache_dir = self.base / "token-cache"  # the execution environment's home, shared by the jobs of a node

    def credential_inputs(self, kind, **inputs):
        """Inputs of a credential of the given type, as an admin would enter them in AWX."""
        if kind == "cf":
            cf = self.connection["cf"]
            return ("SAP BTP Cloud Foundry", dict({"api_url": cf["api_url"], "username": cf["username"],
                                                   "password": cf["password"], "origin": ""}, **inputs))
        if kind == "ca":
            return ("SAP BTP CA bundle", {"ca_bundle": Path(self.connection["ca_bundle"]).read_text(encoding="utf-8")})
        if kind == "cpi":
            return ("SAP Cloud Integration service key", inputs)
        raise ValueError(kind)

    def run(self, playbook_text, hosts, credentials, extravars=None, forks=5, name="job", limit=None):
        ident = "%s-%s" % (name, uuid.uuid4().hex[:8])
        pdd = self.base / ident
        (pdd / "project").mkdir(parents=True)
        (pdd / "inventory").mkdir()
        (pdd / "project" / "site.yml").write_text(playbook_text, encoding="utf-8")
        inventory = {"all": {"children": {"tenants": {"hosts": {
            host: dict(host_vars, ansible_connection="local", ansible_python_interpreter=sys.executable)
            for host, host_vars in hosts.items()}}}}}
        (pdd / "inventory" / "hosts.yml").write_text(yaml.safe_dump(inventory, sort_keys=False), encoding="utf-8")

        env, safe_env, files = {}, {}, []
        for type_name, inputs in credentials:
            injection = inject_credential(credential_type_by_name(type_name), inputs, pdd)
            env.update(injection.env)
            safe_env.update(injection.safe_env)
            files.extend(injection.files.values())
            assert not injection.extra_vars
        envvars = dict(env)
        envvars.update({
            # what the execution environment provides: the collection and a writable home for the token cache
            "ANSIBLE_COLLECTIONS_PATH": str(self.collections_path),
            "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
            "SAP_BTP_CACHE_DIR": str(self.cache_dir),
            "ANSIBLE_LOCAL_TEMP": str(self.base / "ansible-tmp"),
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_DEPRECATION_WARNINGS": "0",
        })
        import ansible_runner  # pylint: disable=import-outside-toplevel
        with pytest.MonkeyPatch.context() as mp:
            for variable in list(os.environ):
                if variable.startswith(("CF_", "CPI_", "SAP_BTP_", "VAULT_", "ANSIBLE_")) or variable == "REQUESTS_CA_BUNDLE":
                    mp.delenv(variable)
            mp.setenv("PATH", "%s%s%s" % (BIN, os.pathsep, os.environ.get("PATH", "")))
            runner = ansible_runner.run(
                private_data_dir=str(pdd), playbook="site.yml", ident=ident, envvars=envvars, extravars=extravars or {},
                forks=forks, limit=limit, quiet=True, settings={"suppress_ansible_output": True},
            )
        return Job(rc=runner.rc, status=runner.status, stats=runner.stats or {}, events=list(runner.events),
                   artifact_dir=Path(runner.config.artifact_dir), private_data_dir=pdd, env=env, safe_env=safe_env,
                   credential_files=files)


def key_file_secrets(path):
    """The secrets of a stored service key (JSON as credentials_store writes it), for leak checks."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    oauth = data.get("oauth", data)
    secrets = [oauth[name] for name in ("clientsecret", "key") if oauth.get(name)]
    if oauth.get("clientsecret"):
        pair = "%s:%s" % (oauth["clientid"], oauth["clientsecret"])
        encoded_pair = "%s:%s" % (quote(oauth["clientid"], safe=""), quote(oauth["clientsecret"], safe=""))
        secrets += [base64.b64encode(pair.encode()).decode(), base64.b64encode(encoded_pair.encode()).decode()]
    return secrets


def assert_no_leak(job, secrets, public):
    """No secret (in any encoded form) and no access token in the job's artifacts; ``public`` must be visible
    in them (proves the scan reads the right files)."""
    files = job.artifact_files()
    assert any(f.parent.name == "job_events" for f in files), "no job events were written"
    texts = {str(f.relative_to(job.artifact_dir)): f.read_text(encoding="utf-8", errors="replace") for f in files}
    everything = "\n".join(texts.values())
    for value in public:
        assert value in everything, "positive control %r not found in the artifacts" % value
    variants = set()
    for secret in secrets:
        variants |= secret_variants(secret)
    leaks = []
    for name, text in texts.items():
        for variant in variants:
            if variant in text:
                leaks.append("%s contains a secret (%s...)" % (name, variant[:6]))
        for regex in (JWT_RE, B64_JWT_RE):
            for match in regex.finditer(text):
                leaks.append("%s contains a token-like value (%s...)" % (name, match.group(0)[:12]))
    assert not leaks, "\n".join(sorted(set(leaks)))


# ---------------------------------------------------------------------------------------------------------------
# fixtures: one onboarding job over two tenants (fan-out), shared by the tests of this module

PLAYBOOK_ONBOARD = """---
# AWX project playbook of the "Onboard Cloud Integration clients" job template
- name: Onboard the Cloud Integration clients of every tenant
  ansible.builtin.import_playbook: sap_btp.cloud_integration.onboard
"""
PLAYBOOK_SMOKE = """---
# AWX project playbook of the "Smoke test Cloud Integration clients" job template
- name: Smoke test the Cloud Integration clients of every tenant
  ansible.builtin.import_playbook: sap_btp.cloud_integration.smoke_test
"""
PLAYBOOK_CPI_CALL = """---
# A job template that uses only a "SAP Cloud Integration service key" credential: no credential variable anywhere
- name: Call an iFlow with the credential of the job template
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Get a token (the result is protected by the collection's action plugin)
      sap_btp.cloud_integration.oauth_token:
      register: cpi_token

    - name: Call the product details iFlow
      sap_btp.cloud_integration.iflow_request:
        path: /http/products/details
        method: POST
        body:
          productIdentifier: HT-2000
      register: cpi_call

    - name: Publish the call for the workflow
      ansible.builtin.set_stats:
        data:
          cpi_call:
            status: "{{ cpi_call.status }}"
            mpl_id: "{{ cpi_call.mpl_id }}"
            token_type: "{{ cpi_token.token_type }}"
            expires_in: "{{ cpi_token.expires_in }}"
"""


@pytest.fixture(scope="module")
def awx(btp_sandbox, staged_collection, tmp_path_factory):
    return AwxJobRunner(tmp_path_factory.mktemp("awx-jobs"), staged_collection, btp_sandbox.connection)


@pytest.fixture(scope="module")
def tenants(btp_sandbox, tmp_path_factory):
    """Inventory host vars of two tenants: org/space and clients only. Credentials come from the job template."""
    store = tmp_path_factory.mktemp("delivered-keys")
    reports = tmp_path_factory.mktemp("reports")
    suffix = uuid.uuid4().hex[:6]
    hosts = {}
    for info in btp_sandbox.connection["tenants"][:2]:
        tenant = info["name"]
        (store / tenant).mkdir()
        clients = [
            {"name": "%s-monitor-%s" % (tenant, suffix), "plan": "api", "roles": ["MonitoringDataRead"],
             "destinations": [{"type": "file", "path": str(store / tenant / "monitor.json")}]},
            {"name": "%s-orders-%s" % (tenant, suffix), "plan": "integration-flow",
             "destinations": [{"type": "file", "path": str(store / tenant / "orders.json")}]},
            {"name": "%s-cert-%s" % (tenant, suffix), "plan": "integration-flow", "key_type": "certificate",
             "validity_days": 30, "destinations": [{"type": "file", "path": str(store / tenant / "cert.json")}]},
        ]
        hosts[tenant] = {"cloud_integration_cf": {"org": info["org"], "space": info["space"]},
                         "cloud_integration_clients": clients, "cloud_integration_report_dir": str(reports)}
    return hosts


@pytest.fixture(scope="module")
def onboarded(awx, tenants):
    job = awx.run(PLAYBOOK_ONBOARD, tenants, [awx.credential_inputs("cf"), awx.credential_inputs("ca")], forks=2, name="onboard")
    return job


def delivered_files(tenants):
    return [Path(d["path"]) for host in tenants.values() for c in host["cloud_integration_clients"] for d in c["destinations"]]


# ---------------------------------------------------------------------------------------------------------------
# tests

def test_onboarding_job(onboarded, tenants, awx):
    job = onboarded
    assert job.rc == 0 and job.status == "successful", job.describe()
    # fan-out: one host per tenant, both ran to the end in the same job
    assert set(job.stats["ok"]) == set(tenants)
    assert not job.stats.get("failures") and not job.stats.get("dark")
    assert all(job.stats["changed"].get(host, 0) > 0 for host in tenants)
    # credentials reached the modules from the injected environment only; the password as a 0600 file
    assert set(job.env) == {"CF_API", "CF_USERNAME", "CF_PASSWORD_FILE", "CF_ORIGIN", "SAP_BTP_CA_PATH"}
    password_file = Path(job.env["CF_PASSWORD_FILE"])
    assert password_file.parent == job.private_data_dir / "env" and password_file in map(Path, job.credential_files)
    assert oct(password_file.stat().st_mode & 0o777) == "0o600"
    assert password_file.read_text(encoding="utf-8") == awx.connection["cf"]["password"]
    for path in delivered_files(tenants):
        assert path.is_file() and oct(path.stat().st_mode & 0o777) == "0o600", path

    # workflow outputs: cloud_integration_onboarding = {tenant: [one entry per client]}
    data = job.artifact_data["cloud_integration_onboarding"]
    assert set(data) == set(tenants)
    for host, host_vars in tenants.items():
        entries = {e["client"]: e for e in data[host]}
        assert set(entries) == {c["name"] for c in host_vars["cloud_integration_clients"]}
        for client in host_vars["cloud_integration_clients"]:
            entry = entries[client["name"]]
            assert entry["plan"] == client["plan"] and entry["key_type"] == client.get("key_type", "client_secret")
            assert entry["instance"] == client["name"] and re.match(r"^[0-9a-f-]{36}$", entry["instance_guid"])
            assert entry["key_name"] == client["name"] + "-key" and re.match(r"^[0-9a-f-]{36}$", entry["key_guid"])
            assert entry["key_created"] is True and entry["destinations"] == ["file"]
            if client.get("key_type") == "certificate":
                assert ISO_RE.match(entry["not_after"]) and 28 <= entry["days_left"] <= 30
            else:
                assert entry["not_after"] is None and entry["days_left"] is None

    secrets = [awx.connection["cf"]["password"]]
    for path in delivered_files(tenants):
        secrets += key_file_secrets(path)
    public = [c["name"] for h in tenants.values() for c in h["cloud_integration_clients"]]
    assert_no_leak(job, secrets, public)
    # ansible-runner records the job's environment in artifacts/<ident>/command: the password file's path is
    # there (positive control), the password is not, in any form
    command = (job.artifact_dir / "command").read_text(encoding="utf-8")
    assert str(password_file) in command and "CF_PASSWORD_FILE" in command
    assert "CF_PASSWORD\"" not in command
    for form in secret_variants(awx.connection["cf"]["password"]) | {awx.connection["cf"]["password"]}:
        assert form not in command, "artifacts/command contains the CF password"


def test_smoke_test_job(onboarded, tenants, awx):
    assert onboarded.rc == 0, onboarded.describe()
    job = awx.run(PLAYBOOK_SMOKE, tenants, [awx.credential_inputs("ca")], forks=2, name="smoke")
    assert job.rc == 0 and job.status == "successful", job.describe()
    assert set(job.stats["ok"]) == set(tenants) and not job.stats.get("failures")
    assert set(job.env) == {"SAP_BTP_CA_PATH"}

    # workflow outputs: cloud_integration_smoke_test = {tenant: {passed, failed_clients, report, results}}
    data = job.artifact_data["cloud_integration_smoke_test"]
    assert set(data) == set(tenants)
    for host, host_vars in tenants.items():
        outcome = data[host]
        assert outcome["passed"] is True and outcome["failed_clients"] == []
        assert outcome["report"].endswith("smoke_test-%s.xml" % host) and Path(outcome["report"]).is_file()
        rows = {r["client"]: r for r in outcome["results"]}
        assert set(rows) == {c["name"] for c in host_vars["cloud_integration_clients"]}
        assert all(r["passed"] is True for r in rows.values()), rows

    secrets = []
    for path in delivered_files(tenants):
        secrets += key_file_secrets(path)
    assert_no_leak(job, secrets, public=list(tenants))


def _key(path):
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return data.get("oauth", data), data


@pytest.mark.parametrize("variant", ["whole_json", "fields", "certificate"])
def test_service_key_credential_job(variant, onboarded, tenants, awx):
    """A job template whose only Cloud Integration credential is a "SAP Cloud Integration service key"."""
    assert onboarded.rc == 0, onboarded.describe()
    tenant = next(iter(tenants))
    store = Path(tenants[tenant]["cloud_integration_clients"][1]["destinations"][0]["path"]).parent
    oauth, raw = _key(store / ("cert.json" if variant == "certificate" else "orders.json"))
    if variant == "whole_json":
        inputs = {"service_key": json.dumps(raw, indent=2)}
    elif variant == "fields":
        inputs = {"client_id": oauth["clientid"], "client_secret": oauth["clientsecret"], "token_url": oauth["tokenurl"],
                  "url": oauth["url"]}
    else:
        inputs = {"client_id": oauth["clientid"], "token_url": oauth["tokenurl"], "url": oauth["url"],
                  "certificate": oauth["certificate"], "private_key": oauth["key"]}
    job = awx.run(PLAYBOOK_CPI_CALL, {}, [awx.credential_inputs("cpi", **inputs), awx.credential_inputs("ca")],
                  name="cpi-" + variant)
    assert job.rc == 0 and job.status == "successful", job.describe()
    assert set(job.env) == {"CPI_SERVICE_KEY_PATH", "CPI_CLIENT_CERT_PATH", "CPI_CLIENT_KEY_PATH", "SAP_BTP_CA_PATH"}
    # the secrets are in 0600 files of the private data directory, not in the environment
    for value in job.env.values():
        assert not value or Path(value).parent == job.private_data_dir / "env"
    for path in job.credential_files:
        assert oct(Path(path).stat().st_mode & 0o777) == "0o600"
    call = job.artifact_data["cpi_call"]
    assert call["status"] == 200 and call["mpl_id"] and call["token_type"].lower() == "bearer"

    secrets = key_file_secrets(store / ("cert.json" if variant == "certificate" else "orders.json"))
    assert_no_leak(job, secrets, public=[call["mpl_id"]])
    # ansible-runner also records the job's environment in artifacts/<ident>/command: it holds only file paths
    command = (job.artifact_dir / "command").read_text(encoding="utf-8")
    for secret in secrets:
        for form in secret_variants(secret):
            assert form not in command
