# -*- coding: utf-8 -*-
"""The bad-input catalogue (tests/e2e/bad_input_cases.py) against the sandbox.

All cases run in one playbook, one block per case, so the suite costs one ansible-playbook start. Around every case
the playbook records a snapshot of the sandbox (instances, keys, broker jobs) and of the work directory's files; each
case must fail with its expected message fragments, without a traceback, and with identical snapshots.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import yaml

import bad_input_cases as catalogue
from proof_helpers import CfSetup, OpenBao, SnapshotServer, e2e_conftest, pem_material, run_once_across_workers, unique

# The catalogue runs as one playbook; its cases are checked on the worker that ran it (pytest --dist loadgroup), so the
# other worker goes on with other suites instead of waiting for the result.
pytestmark = pytest.mark.xdist_group("bad-input-catalogue")

E2E = e2e_conftest()

TRACEBACK_MARKERS = ("Traceback (most recent call last)", "MODULE FAILURE", "An exception occurred during task execution")


# ---------------------------------------------------------------------------------------------------------------
# inputs

def _write(path, text):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    os.chmod(path, 0o600)
    return str(path)


def prepare_inputs(connection, work):
    """Sandbox clients, key files and certificate material the cases refer to."""
    cf = CfSetup(connection)
    tenant = cf.tenant
    prefix = unique("bi")
    _unused, api = cf.client(prefix + "-api", "api", roles=["MonitoringDataRead"])
    iflow_instance, iflow = cf.client(prefix + "-flow", "integration-flow")
    _unused, api_noread = cf.client(prefix + "-api-nr", "api", roles=["WorkspacePackagesRead"])
    _unused, iflow_norole = cf.client(prefix + "-flow-nr", "integration-flow", roles=["SomeOtherRole"])
    iflow_cert = cf.create_key(iflow_instance["guid"], prefix + "-flow-cert", {"key-type": "certificate", "validity": 30})
    portal = {role: cf.create_key(cf.create_instance("%s-apim-%s" % (prefix, role.split(".")[1].lower()), "apiportal-apiaccess",
                                                     {"role": role})["guid"], prefix + "-apim-key")["credentials"]
              for role in ("APIPortal.Administrator", "APIPortal.Guest")}
    keys_dir = work / "keys"
    iflow_text = json.dumps(iflow["credentials"])
    oauth = iflow["credentials"]["oauth"]
    keys = {
        "api": _write(keys_dir / "api.json", json.dumps(api["credentials"])),
        "iflow": _write(keys_dir / "iflow.json", iflow_text),
        "iflow_cert": _write(keys_dir / "iflow-cert.json", json.dumps(iflow_cert["credentials"])),
        "api_noread": _write(keys_dir / "api-noread.json", json.dumps(api_noread["credentials"])),
        "iflow_norole": _write(keys_dir / "iflow-norole.json", json.dumps(iflow_norole["credentials"])),
        "truncated": _write(keys_dir / "truncated.json", iflow_text[:len(iflow_text) // 2]),
        "empty": _write(keys_dir / "empty.json", ""),
        "list": _write(keys_dir / "list.json", json.dumps([iflow["credentials"]])),
        "no_oauth": _write(keys_dir / "no-oauth.json", json.dumps({"name": "my-key", "type": "it-rt", "plan": "api"})),
        "missing_fields": _write(keys_dir / "missing-fields.json", json.dumps({"oauth": {"clientid": oauth["clientid"], "url": oauth["url"]}})),
        "bare_no_tokenurl": _write(keys_dir / "bare.json", json.dumps({k: v for k, v in oauth.items() if k != "tokenurl"})),
        "apiportal_admin": _write(keys_dir / "apiportal-admin.json", json.dumps(portal["APIPortal.Administrator"])),
        "apiportal_guest": _write(keys_dir / "apiportal-guest.json", json.dumps(portal["APIPortal.Guest"])),
    }
    (work / "out").mkdir(exist_ok=True)
    return {
        "w": str(work), "ca": connection["ca_bundle"], "admin": connection["admin_url"],
        "cf_api": connection["cf"]["api_url"], "cf_user": connection["cf"]["username"], "cf_pass": connection["cf"]["password"],
        "org": tenant["org"], "space": tenant["space"], "token_url": tenant["token_url"], "api_url": tenant["api_url"],
        "runtime_url": tenant["runtime_url"], "keys": keys, "pem": pem_material(work / "pem"),
        "inst": {"iflow": prefix + "-flow", "api": prefix + "-api"}, "iflow_key_name": prefix + "-flow-key",
        "iflow_clientid": oauth["clientid"],
    }


# ---------------------------------------------------------------------------------------------------------------
# the playbook

def _snapshot_expr():
    return "{{ lookup('ansible.builtin.url', snapshot_url, split_lines=False, use_proxy=False) | from_json }}"


def _merge(case_id, key, value):
    return "{{ catalogue_results | combine({'%s': {'%s': %s}}, recursive=True) }}" % (case_id, key, value)


def build_playbook(path):
    tasks = []
    for case in catalogue.CASES:
        block = list(case.setup) + [
            {"name": "%s: snapshot before" % case.id, "ansible.builtin.set_fact": {"catalogue_before": _snapshot_expr()}},
            dict(case.task, name="%s: case" % case.id, register="case_result"),
            {"name": "%s: unexpected success" % case.id,
             "ansible.builtin.set_fact": {"catalogue_results": _merge(case.id, "result", "case_result | combine({'outcome': 'succeeded'})")}},
        ]
        tasks.append({
            "name": "case %s" % case.id,
            "block": block,
            "rescue": [{"name": "%s: record the failure" % case.id, "ansible.builtin.set_fact": {
                "catalogue_results": _merge(case.id, "result",
                                            "ansible_failed_result | combine({'outcome': 'failed', 'failed_task': ansible_failed_task.name})")}}],
            "always": list(case.cleanup) + [{"name": "%s: snapshot after" % case.id, "ansible.builtin.set_fact": {
                "catalogue_results": _merge(case.id, "snapshots", "{'before': catalogue_before | default({}), 'after': %s}"
                                            % _snapshot_expr()[3:-3])}}],
        })
    tasks.append({"name": "Write the results", "ansible.builtin.copy": {
        "content": "{{ catalogue_results | to_nice_json }}", "dest": "{{ results_file }}", "mode": "0600"}})
    play = {"name": "Bad-input catalogue", "hosts": "localhost", "gather_facts": False,
            "vars": {"catalogue_results": {}}, "tasks": tasks}
    Path(path).write_text(yaml.safe_dump([play], sort_keys=False, width=1000), encoding="utf-8")
    return path


def run_catalogue(request, tmp_path_factory):
    connection = request.getfixturevalue("btp_sandbox").connection
    staged = request.getfixturevalue("staged_collection")
    base = tmp_path_factory.mktemp("bad-input")
    work = base / "work"
    work.mkdir()
    variables = prepare_inputs(connection, work)
    vault = OpenBao(base)
    sealed = OpenBao(base)
    snapshots = SnapshotServer(request.getfixturevalue("btp_sandbox"), work)
    try:
        sealed.seal()
        variables.update(vault_addr=vault.addr, vault_token=vault.token, sealed_addr=sealed.addr,
                         results_file=str(base / "results.json"), snapshot_url=snapshots.url)
        playbook = build_playbook(base / "catalogue.yml")
        inventory = base / "inventory.ini"
        inventory.write_text("localhost ansible_connection=local ansible_python_interpreter=%s\n" % sys.executable)
        run = E2E.run_ansible_playbook(str(playbook), inventory, staged, base, extra_vars=variables, callback="ansible.builtin.default",
                                       timeout=1200)
        results = json.loads((base / "results.json").read_text()) if (base / "results.json").exists() else {}
        vault_paths = {path: vault.secret_versions(path) for path in ("bad-input/sealed", "bad-input/unreachable", "bad-input/forbidden")}
    finally:
        snapshots.stop()
        vault.stop()
        sealed.stop()
    return {"rc": run.rc, "stdout_tail": run.stdout[-5000:], "stderr_tail": run.stderr[-3000:], "results": results,
            "vault_paths": vault_paths}


@pytest.fixture(scope="session")
def catalogue_run(request, tmp_path_factory):
    return run_once_across_workers(tmp_path_factory, "bad-input-catalogue", lambda: run_catalogue(request, tmp_path_factory))


# ---------------------------------------------------------------------------------------------------------------
# tests

def test_catalogue_has_at_least_40_unique_cases():
    ids = [case.id for case in catalogue.CASES]
    assert len(ids) >= 40
    assert len(set(ids)) == len(ids), "duplicate case ids"
    for case in catalogue.CASES:
        assert case.expect and all(case.expect), case.id
        assert case.fix, case.id


def test_troubleshooting_doc_matches_the_table():
    text = catalogue.DOC.read_text(encoding="utf-8")
    assert catalogue.generated_part(text) == catalogue.render(), (
        "docs/troubleshooting.md is out of date: run `python tests/e2e/bad_input_cases.py`")


def test_catalogue_playbook_completed(catalogue_run):
    assert catalogue_run["rc"] == 0, "%s\n%s" % (catalogue_run["stdout_tail"], catalogue_run["stderr_tail"])
    assert set(catalogue_run["results"]) == {case.id for case in catalogue.CASES}
    for path, versions in catalogue_run["vault_paths"].items():
        assert not versions, "the vault secret %s was written" % path


def _message(result):
    parts = [str(result.get("msg") or "")]
    for key in ("argument_errors", "errors"):
        if result.get(key):
            parts.append(json.dumps(result[key]))
    return " ".join(parts)


@pytest.mark.parametrize("case", catalogue.CASES, ids=[case.id for case in catalogue.CASES])
def test_bad_input(case, catalogue_run):
    record = catalogue_run["results"].get(case.id)
    assert record is not None, "case %s did not run:\n%s" % (case.id, catalogue_run["stdout_tail"])
    result = record["result"]
    assert result.get("outcome") == "failed", "%s: the task did not fail: %s" % (case.id, json.dumps(result)[:1500])
    setup_names = {task.get("name") for task in case.setup}
    assert result.get("failed_task") and result["failed_task"] not in setup_names, (
        "%s: a set-up task failed: %s" % (case.id, _message(result)))
    text = json.dumps(result)
    for marker in TRACEBACK_MARKERS:
        assert marker not in text, "%s: traceback or module crash: %s" % (case.id, text[:3000])
    message = _message(result)
    missing = [fragment for fragment in case.expect if fragment.lower() not in message.lower()]
    assert not missing, "%s: message lacks %s:\n%s" % (case.id, missing, message)
    assert not result.get("changed"), "%s: reported changed" % case.id
    snapshots = record["snapshots"]
    assert snapshots["before"] and snapshots["after"], case.id
    assert snapshots["before"]["sandbox"] == snapshots["after"]["sandbox"], "%s changed the sandbox: %s" % (case.id, snapshots)
    assert snapshots["before"]["files"] == snapshots["after"]["files"], "%s changed files: %s" % (case.id, snapshots)
