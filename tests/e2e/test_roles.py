# -*- coding: utf-8 -*-
"""End-to-end tests of the roles and playbooks against the in-process BTP sandbox and an OpenBao dev server.

Every test runs the playbooks the way users do (``ansible-playbook sap_btp.cloud_integration.<name>`` with the
collection staged on ANSIBLE_COLLECTIONS_PATH) and checks the outcome out of band: the sandbox admin API, the
written files and the KV store.
"""

import json
import os
import stat
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]

VAULT_PASSWORD = "e2e-vault-password"
ROLES = ("onboarding", "smoke_test", "key_rotation", "offboarding")


@pytest.fixture
def vault_env(e2e_env, openbao):
    password_file = e2e_env / "vault-password.txt"
    password_file.write_text(VAULT_PASSWORD + "\n", encoding="utf-8")
    return {"ANSIBLE_VAULT_PASSWORD_FILE": str(password_file), "VAULT_ADDR": openbao.addr, "VAULT_TOKEN": openbao.token}


def three_clients(prefix, creds_dir, api_roles=("MonitoringDataRead", "WorkspacePackagesRead")):
    """An api client (secret, JSON file), an iFlow client (secret, Ansible Vault) and an iFlow client
    (SAP-generated certificate, OpenBao)."""
    return [
        {"name": prefix + "-api", "plan": "api", "roles": list(api_roles),
         "destinations": [{"type": "file", "path": str(creds_dir / (prefix + "-api.json"))}]},
        {"name": prefix + "-orders", "plan": "integration-flow", "roles": ["ESBMessaging.send"],
         "destinations": [{"type": "ansible_vault", "path": str(creds_dir / (prefix + "-orders.vault.yml")), "format": "yaml"}]},
        {"name": prefix + "-ship", "plan": "integration-flow", "key_type": "certificate", "validity_days": 90,
         "destinations": [{"type": "hashicorp_vault", "path": "e2e/" + prefix + "-ship"}]},
    ]


def names_in_sandbox(sandbox_admin, prefix):
    state = sandbox_admin.state()
    instances = {i["name"]: i for i in state["instances"] if i["name"].startswith(prefix)}
    keys = {k["name"]: k for k in state["keys"] if k["instance_guid"] in {i["guid"] for i in instances.values()}}
    return instances, keys


def key_fields(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))["oauth"]


@pytest.fixture(scope="module")
def onboarded(e2e, btp_sandbox, staged_collection, tmp_path_factory, openbao):
    """Three clients onboarded once per module (read-only users: smoke tests)."""
    work = tmp_path_factory.mktemp("onboarded")
    creds = work / "creds"
    creds.mkdir()
    (work / "reports").mkdir()
    password_file = work / "vault-password.txt"
    password_file.write_text(VAULT_PASSWORD + "\n", encoding="utf-8")
    env = {"ANSIBLE_VAULT_PASSWORD_FILE": str(password_file), "VAULT_ADDR": openbao.addr, "VAULT_TOKEN": openbao.token}
    prefix = e2e.unique("smk")
    clients = three_clients(prefix, creds)
    host_vars = {"cloud_integration_cf": e2e.cf_connection_vars(btp_sandbox.connection),
                 "cloud_integration_ca_path": btp_sandbox.connection["ca_bundle"],
                 "cloud_integration_report_dir": str(work / "reports"),
                 "cloud_integration_clients": clients}
    inventory = e2e.write_inventory(work / "inventory.yml", {"acme-tenant": host_vars})
    result = e2e.run_ansible_playbook("sap_btp.cloud_integration.onboard", inventory, staged_collection, work, env=env)
    assert result.rc == 0, result.describe()
    return {"work": work, "env": env, "clients": clients, "host_vars": host_vars, "prefix": prefix}


# ---------------------------------------------------------------------------------------------------------------
# onboarding

def test_onboarding_check_mode_then_real_then_idempotent(e2e, run_playbook, tenant_inventory, e2e_env, vault_env,
                                                         sandbox_admin, openbao):
    prefix = e2e.unique("onb")
    creds = e2e_env / "creds"
    clients = three_clients(prefix, creds)
    inventory = tenant_inventory(clients)

    # Check mode on a tenant where nothing exists yet: runs through, predicts changes, creates nothing.
    check = run_playbook("onboard", inventory, check=True, env=vault_env)
    assert check.rc == 0, check.describe()
    assert check.changed() > 0
    instances, _keys = names_in_sandbox(sandbox_admin, prefix)
    assert instances == {}
    assert not creds.exists() or not any(creds.iterdir())

    first = run_playbook("onboard", inventory, env=vault_env)
    assert first.rc == 0, first.describe()
    assert first.changed() >= 3
    instances, keys = names_in_sandbox(sandbox_admin, prefix)
    assert sorted(instances) == sorted(c["name"] for c in clients)
    assert all(i["last_operation"]["state"] == "succeeded" for i in instances.values())
    assert sorted(keys) == sorted(c["name"] + "-key" for c in clients)
    assert {k["name"]: k["key_type"] for k in keys.values()}[prefix + "-ship-key"] == "certificate"
    assert instances[prefix + "-api"]["plan_name"] == "api"

    # Destinations: a 0600 JSON key file, an Ansible Vault file, a KV v2 secret on OpenBao.
    api_file = creds / (prefix + "-api.json")
    assert stat.S_IMODE(api_file.stat().st_mode) == 0o600
    assert key_fields(api_file)["clientid"] == keys[prefix + "-api-key"]["clientid"]
    vault_file = creds / (prefix + "-orders.vault.yml")
    assert vault_file.read_text(encoding="utf-8").startswith("$ANSIBLE_VAULT;1.")
    secret = openbao.read("e2e/%s-ship" % prefix)
    assert secret["clientid"] == keys[prefix + "-ship-key"]["clientid"]
    assert "BEGIN CERTIFICATE" in secret["certificate"] and "PRIVATE KEY" in secret["key"]

    stats = first.custom_stats["cloud_integration_onboarding"]["acme-tenant"]
    assert sorted(s["client"] for s in stats) == sorted(c["name"] for c in clients)
    ship = next(s for s in stats if s["client"] == prefix + "-ship")
    assert ship["key_guid"] == keys[prefix + "-ship-key"]["guid"] and ship["not_after"]

    second = run_playbook("onboard", inventory, env=vault_env)
    assert second.rc == 0, second.describe()
    assert second.changed() == 0, second.changed_tasks()
    _instances, keys_after = names_in_sandbox(sandbox_admin, prefix)
    assert {k["guid"] for k in keys_after.values()} == {k["guid"] for k in keys.values()}

    again_check = run_playbook("onboard", inventory, check=True, env=vault_env)
    assert again_check.rc == 0, again_check.describe()
    assert again_check.changed() == 0, again_check.changed_tasks()


def test_argument_spec_rejects_bad_input(run_playbook, tenant_inventory):
    inventory = tenant_inventory([{"name": "bad", "plan": "premium", "key_type": "password",
                                   "destinations": [{"type": "s3", "path": "/tmp/x"}]}])
    result = run_playbook("onboard", inventory)
    assert result.rc != 0
    message = " ".join(result.failure_messages())
    assert "plan" in message and "api, integration-flow" in message
    assert "key_type" in message
    assert "file, ansible_vault, hashicorp_vault" in message


def test_client_options_are_identical_in_every_role():
    specs = {}
    for role in ROLES:
        data = yaml.safe_load((REPO_ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))
        # option references name the role's own variable (O(onboarding_clients[].name)); compare without the prefix
        spec = json.dumps(data["argument_specs"]["main"]["options"]["%s_clients" % role], sort_keys=True)
        specs[role] = spec.replace("O(%s_clients[]." % role, "O(ROLE_clients[].")
    assert all(spec == specs["onboarding"] for spec in specs.values())


# ---------------------------------------------------------------------------------------------------------------
# smoke test

def test_smoke_test_passes(e2e, onboarded, run_playbook, btp_sandbox, e2e_env):
    host_vars = dict(onboarded["host_vars"], cloud_integration_report_dir=str(e2e_env / "reports"))
    inventory = e2e.write_inventory(e2e_env / "inventory.yml", {"acme-tenant": host_vars})
    result = run_playbook("smoke_test", inventory, env=onboarded["env"])
    assert result.rc == 0, result.describe()

    suite = ET.parse(e2e_env / "reports" / "smoke_test-acme-tenant.xml").getroot().find("testsuite")
    assert suite.get("tests") == "3" and suite.get("failures") == "0"
    assert {case.get("name") for case in suite.iter("testcase")} == {c["name"] for c in onboarded["clients"]}

    summary = (e2e_env / "reports" / "smoke_test-acme-tenant.md").read_text(encoding="utf-8")
    assert "| client | plan | auth kind | token ok | call status | MPL status | elapsed |" in summary
    prefix = onboarded["prefix"]
    assert "| %s-ship | integration-flow | certificate | yes | 200 | COMPLETED |" % prefix in summary
    assert "| %s-api | api | secret | yes | 200, 200 | n/a |" % prefix in summary

    stats = result.custom_stats["cloud_integration_smoke_test"]["acme-tenant"]
    assert stats["passed"] is True and stats["failed_clients"] == []


def test_smoke_test_fails_on_broken_iflow(e2e, onboarded, run_playbook, e2e_env):
    prefix = onboarded["prefix"]
    clients = json.loads(json.dumps(onboarded["clients"]))
    broken = next(c for c in clients if c["name"] == prefix + "-orders")
    broken["smoke_test"] = {"endpoints": [{"path": "/http/fail", "method": "POST", "body": {"productIdentifier": "HT-2000"}}]}
    host_vars = dict(onboarded["host_vars"], cloud_integration_clients=clients,
                     cloud_integration_report_dir=str(e2e_env / "reports"))
    inventory = e2e.write_inventory(e2e_env / "inventory.yml", {"acme-tenant": host_vars})
    result = run_playbook("smoke_test", inventory, env=onboarded["env"])
    assert result.rc != 0
    failure = " ".join(result.failure_messages())
    assert "1 of 3 client(s)" in failure and broken["name"] in failure

    suite = ET.parse(e2e_env / "reports" / "smoke_test-acme-tenant.xml").getroot().find("testsuite")
    assert suite.get("tests") == "3" and suite.get("failures") == "1"
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert cases[prefix + "-api"].find("failure") is None
    assert cases[prefix + "-ship"].find("failure") is None
    message = cases[broken["name"]].find("failure").get("message")
    assert "HTTP 500" in message and "MPL FAILED" in message
    assert "Simulated failure" in message  # the MPL error text

    stats = result.custom_stats["cloud_integration_smoke_test"]["acme-tenant"]
    assert stats["passed"] is False and stats["failed_clients"] == [broken["name"]]


def test_smoke_test_reports_unreadable_credentials_and_tests_the_others(e2e, onboarded, run_playbook, e2e_env):
    """Issue 14, section 2: a client whose stored credentials cannot be read (OpenBao down) is FAILED with the reason,
    the other clients are tested, and both reports are written anew (no stale report of an earlier run is left)."""
    prefix = onboarded["prefix"]
    clients = json.loads(json.dumps(onboarded["clients"]))
    down = next(c for c in clients if c["name"] == prefix + "-ship")
    down["destinations"][0]["url"] = "http://127.0.0.1:9"  # nothing listens there: the vault is down
    reports = e2e_env / "reports"
    reports.mkdir(exist_ok=True)
    for suffix in ("xml", "md"):
        (reports / ("smoke_test-acme-tenant." + suffix)).write_text("STALE REPORT of an earlier run", encoding="utf-8")
    host_vars = dict(onboarded["host_vars"], cloud_integration_clients=clients, cloud_integration_report_dir=str(reports))
    inventory = e2e.write_inventory(e2e_env / "inventory.yml", {"acme-tenant": host_vars})
    result = run_playbook("smoke_test", inventory, env=onboarded["env"])
    assert result.rc != 0
    failure = " ".join(result.failure_messages())
    assert "1 of 3 client(s)" in failure and down["name"] in failure, failure

    summary = (reports / "smoke_test-acme-tenant.md").read_text(encoding="utf-8")
    assert "STALE" not in summary
    assert "| %s-api | api | secret | yes | 200, 200 | n/a |" % prefix in summary
    assert "| %s-orders | integration-flow | secret | yes | 200 | COMPLETED |" % prefix in summary
    suite = ET.parse(reports / "smoke_test-acme-tenant.xml").getroot().find("testsuite")
    assert suite.get("tests") == "3" and suite.get("failures") == "1"
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    message = cases[down["name"]].find("failure").get("message")
    assert "credentials (hashicorp_vault e2e/%s)" % down["name"] in message and "127.0.0.1:9" in message, message
    # the probe names the unreadable client with its reason (not censored), and only that client
    probes = [host["ansible_facts"]["smoke_test_unreadable"] for play in result.data["plays"] for task in play["tasks"]
              if task["task"]["name"].endswith("Check that the stored credentials can be read") for host in task["hosts"].values()]
    assert len(probes) == 1 and list(probes[0]) == [down["name"]], probes
    assert "127.0.0.1:9" in probes[0][down["name"]] and "censored" not in probes[0][down["name"]], probes


# ---------------------------------------------------------------------------------------------------------------
# key rotation

def test_rotation_of_expiring_certificate(e2e, run_playbook, tenant_inventory, e2e_env, vault_env, sandbox_admin):
    prefix = e2e.unique("rot")
    key_file = e2e_env / "creds" / (prefix + "-cert.json")
    clients = [
        {"name": prefix + "-cert", "plan": "integration-flow", "key_type": "certificate", "validity_days": 5,
         "destinations": [{"type": "file", "path": str(key_file)}]},
        {"name": prefix + "-fresh", "plan": "integration-flow", "key_type": "certificate", "validity_days": 300,
         "destinations": [{"type": "file", "path": str(e2e_env / "creds" / (prefix + "-fresh.json"))}]},
    ]
    inventory = tenant_inventory(clients)
    onboard = run_playbook("onboard", inventory, env=vault_env)
    assert onboard.rc == 0, onboard.describe()
    _instances, keys = names_in_sandbox(sandbox_admin, prefix)
    old = keys[prefix + "-cert-key"]
    fresh = keys[prefix + "-fresh-key"]
    old_certificate = key_fields(key_file)["certificate"]

    # Check mode prints the plan and changes nothing.
    plan = run_playbook("rotate_keys", inventory, check=True, env=vault_env)
    assert plan.rc == 0, plan.describe()
    plan_text = json.dumps([r for _host, r in plan.task_results("Show the rotation plan")])
    assert "would rotate %s-cert-key" % prefix in plan_text and "expires in" in plan_text
    _instances, keys_after_plan = names_in_sandbox(sandbox_admin, prefix)
    assert set(keys_after_plan) == set(keys)

    rotation = run_playbook("rotate_keys", inventory, env=vault_env)
    assert rotation.rc == 0, rotation.describe()
    state = sandbox_admin.state()
    _instances, keys_after = names_in_sandbox(sandbox_admin, prefix)
    assert prefix + "-cert-key" not in keys_after, "the old key must be deleted after a successful verification"
    new_names = [name for name in keys_after if name.startswith(prefix + "-cert-key-")]
    assert len(new_names) == 1
    new = keys_after[new_names[0]]
    assert keys_after[prefix + "-fresh-key"]["guid"] == fresh["guid"], "a key that is not due must stay"

    # The destination holds the new key, and the new key was verified (a token was issued for it) before the old
    # key's delete job started.
    assert key_fields(key_file)["certificate"] != old_certificate
    assert key_fields(key_file)["clientid"] == new["clientid"]
    new_tokens = [t for t in state["tokens_issued"]["items"] if t.get("key_guid") == new["guid"]]
    assert new_tokens, "the new key was never used for a token"
    delete_jobs = [j for j in state["jobs"] if j["resource_guid"] == old["guid"] and j["operation"] == "service_keys.delete"]
    assert delete_jobs
    from datetime import datetime, timezone  # pylint: disable=import-outside-toplevel
    delete_started = datetime.strptime(delete_jobs[0]["created_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()
    assert min(t["iat"] for t in new_tokens) <= delete_started

    # Expiry report: Markdown and a self-contained HTML page sorted by days left.
    html = (e2e_env / "reports" / "key_expiry-acme-tenant.html").read_text(encoding="utf-8")
    assert "<style>" in html and "http" not in html.split("<body>")[0].replace("charset", "")
    assert html.index(new_names[0]) < html.index(prefix + "-fresh-key")
    markdown = (e2e_env / "reports" / "key_expiry-acme-tenant.md").read_text(encoding="utf-8")
    assert "rotated (old key %s-cert-key deleted)" % prefix in markdown
    stats = rotation.custom_stats["cloud_integration_key_rotation"]["acme-tenant"]
    assert [r["new_key"] for r in stats["rotated"]] == new_names
    assert {row["key_name"]: row["days_left"] for row in stats["expiry"]}[prefix + "-fresh-key"] >= 298

    # Onboarding recognises the rotated key as the current one.
    rerun = run_playbook("onboard", inventory, env=vault_env)
    assert rerun.rc == 0, rerun.describe()
    assert rerun.changed() == 0, rerun.changed_tasks()


def test_failed_verification_keeps_the_old_key(e2e, run_playbook, tenant_inventory, e2e_env, vault_env, sandbox_admin):
    prefix = e2e.unique("rbk")
    key_file = e2e_env / "creds" / (prefix + "-orders.json")
    clients = [{"name": prefix + "-orders", "plan": "integration-flow",
                "destinations": [{"type": "file", "path": str(key_file)}]}]
    inventory = tenant_inventory(clients)
    onboard = run_playbook("onboard", inventory, env=vault_env)
    assert onboard.rc == 0, onboard.describe()
    _instances, keys = names_in_sandbox(sandbox_admin, prefix)
    old = keys[prefix + "-orders-key"]
    before = key_fields(key_file)

    # The token server rejects every request while the rotation runs: the new key cannot be verified.
    sandbox_admin.add_faults([{"route": "token POST /oauth/token", "kind": "status", "status": 401,
                               "body": {"error": "invalid_client", "error_description": "Bad credentials"}}])
    rotation = run_playbook("rotate_keys", inventory, env=vault_env,
                            extra_vars={"key_rotation_force": [prefix + "-orders"]})
    sandbox_admin.clear_faults()
    assert rotation.rc != 0
    failure = " ".join(rotation.failure_messages())
    assert "Key rotation FAILED for %s-orders" % prefix in failure and "old keys were kept" in failure

    _instances, keys_after = names_in_sandbox(sandbox_admin, prefix)
    assert list(keys_after) == [prefix + "-orders-key"], "the unverified new key must be removed, the old one kept"
    assert keys_after[prefix + "-orders-key"]["guid"] == old["guid"]
    assert key_fields(key_file) == before, "the destination must hold the old key again"


# ---------------------------------------------------------------------------------------------------------------
# offboarding

def test_offboarding_leaves_nothing_behind(e2e, run_playbook, tenant_inventory, e2e_env, vault_env, sandbox_admin, openbao):
    prefix = e2e.unique("off")
    creds = e2e_env / "creds"
    clients = three_clients(prefix, creds)
    clients[0]["destinations"].append({"type": "file", "path": str(creds / (prefix + "-api.env")), "format": "env"})
    inventory = tenant_inventory(clients)
    onboard = run_playbook("onboard", inventory, env=vault_env)
    assert onboard.rc == 0, onboard.describe()
    instances, keys = names_in_sandbox(sandbox_admin, prefix)
    assert len(instances) == 3 and len(keys) == 3
    assert len(list(creds.iterdir())) == 3 and openbao.read("e2e/%s-ship" % prefix)

    result = run_playbook("offboard", inventory, env=vault_env, extra_vars={"offboarding_delete_instance": True})
    assert result.rc == 0, result.describe()
    instances, keys = names_in_sandbox(sandbox_admin, prefix)
    assert instances == {} and keys == {}
    key_guids = {k["guid"] for k in sandbox_admin.state()["keys"]}
    assert not any(k["name"].startswith(prefix) for k in sandbox_admin.state()["keys"]), key_guids
    assert list(creds.iterdir()) == []
    assert openbao.read("e2e/%s-ship" % prefix) is None
    assert not openbao.metadata_exists("e2e/%s-ship" % prefix), "all versions and the metadata must be destroyed"
    stats = result.custom_stats["cloud_integration_offboarding"]["acme-tenant"]
    assert sorted(stats["clients"]) == sorted(c["name"] for c in clients)

    again = run_playbook("offboard", inventory, env=vault_env, extra_vars={"offboarding_delete_instance": True})
    assert again.rc == 0, again.describe()
    assert again.changed() == 0, again.changed_tasks()


def test_example_inventory_passes_the_argument_specs(run_playbook, staged_collection, e2e_env):
    """The shipped example inventory (three tenants, secret and certificate clients) is valid input for every role.

    Only the tasks tagged `always` run (argument validation and the normalisation of the client list), so no
    request leaves the machine.
    """
    inventory = Path(staged_collection) / "ansible_collections" / "sap_btp" / "cloud_integration" / "playbooks" / "inventory"
    for playbook in ("onboard", "smoke_test", "rotate_keys", "offboard"):
        result = run_playbook(playbook, inventory, extra_vars={"vault_logistics_p12_password": "example"},
                              args=("--tags", "validate_only_no_such_tag"))
        assert result.rc == 0, result.describe()
        assert sorted(result.stats) == ["acme-dev", "acme-prod", "globex-prod"]
        validated = result.task_results("Validating arguments against arg spec")
        assert len(validated) == 3 and not any(r.get("failed") for _h, r in validated)


def test_playbooks_are_runnable_by_name(staged_collection):
    base = Path(staged_collection) / "ansible_collections" / "sap_btp" / "cloud_integration" / "playbooks"
    for name in ("onboard", "smoke_test", "rotate_keys", "offboard"):
        play = yaml.safe_load((base / (name + ".yml")).read_text(encoding="utf-8"))
        assert play[0]["connection"] == "local" and play[0]["gather_facts"] is False
    assert os.path.isfile(base / "inventory" / "hosts.yml")
    assert os.path.isfile(base / "inventory" / "group_vars" / "all" / "certificate_clients.yml")
