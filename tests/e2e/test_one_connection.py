# -*- coding: utf-8 -*-
"""Issue 14: one connection for every module, and what a new user stumbled over (roles, reports, titles)."""

import re
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
ROLES = ("onboarding", "smoke_test", "key_rotation", "offboarding")
GROUP = "group/sap_btp.cloud_integration.cloud_integration"


def task_files():
    return sorted((REPO_ROOT / "roles").glob("*/tasks/*.yml"))


def tasks_of(node):
    """Every task dict of a task list, blocks included."""
    for task in node or []:
        yield task
        for section in ("block", "rescue", "always"):
            yield from tasks_of(task.get(section))


@pytest.mark.parametrize("path", task_files(), ids=lambda p: "%s/%s" % (p.parts[-3], p.name))
def test_task_titles_are_neutral(path):
    """A title such as "Show the summary of acme-dev" heads the output of every tenant: titles name no host."""
    for task in tasks_of(yaml.safe_load(path.read_text(encoding="utf-8"))):
        assert "inventory_hostname" not in str(task.get("name", "")), task["name"]


@pytest.mark.parametrize("role", ROLES)
def test_roles_set_the_connection_once_for_the_action_group(role):
    text = (REPO_ROOT / "roles" / role / "tasks" / "main.yml").read_text(encoding="utf-8")
    assert not re.search(r"&\w+_cf_connection|\*\w+_cf_connection", text), "YAML anchors instead of the action group"
    if role == "smoke_test":
        return
    defaults = [task["module_defaults"] for task in tasks_of(yaml.safe_load(text)) if task.get("module_defaults")]
    assert defaults and all(list(item) == [GROUP] for item in defaults)
    assert {"cf_api", "cf_username", "cf_password", "org", "space", "ca_path"} <= set(defaults[0][GROUP])


def test_onboarding_warns_about_certificates_shorter_than_the_rotation_window(e2e, run_playbook, tenant_inventory, sandbox_admin):
    prefix = e2e.unique("win")
    clients = [{"name": prefix + "-short", "plan": "integration-flow", "key_type": "certificate", "validity_days": 10},
               {"name": prefix + "-long", "plan": "integration-flow", "key_type": "certificate", "validity_days": 90}]
    inventory = tenant_inventory(clients, key_rotation_rotate_before_days=30)
    result = run_playbook("onboard", inventory, check=True)
    assert result.rc == 0, result.describe()
    [(_host, warned)] = result.task_results("Warn about certificate keys that live no longer than the rotation window")
    messages = [item["msg"] for item in warned["results"] if not item.get("skipped")]
    assert len(messages) == 1 and messages[0].startswith("WARNING %s-short: certificate keys valid for 10 day(s)" % prefix)
    assert "rotation window of 30 day(s)" in messages[0]
    assert not [i for i in sandbox_admin.state()["instances"] if i["name"].startswith(prefix)]  # check mode created nothing


def test_rotation_plan_warns_and_secret_expiry_shows_no_days_left(e2e, run_playbook, tenant_inventory, e2e_env):
    prefix = e2e.unique("rwin")
    clients = [{"name": prefix + "-cert", "plan": "integration-flow", "key_type": "certificate", "validity_days": 20},
               {"name": prefix + "-secret", "plan": "integration-flow"}]
    inventory = tenant_inventory(clients)
    onboard = run_playbook("onboard", inventory)
    assert onboard.rc == 0, onboard.describe()
    inventory = tenant_inventory(clients, key_rotation_rotate_before_days=25)
    plan = run_playbook("rotate_keys", inventory, check=True)
    assert plan.rc == 0, plan.describe()
    [(_host, shown)] = plan.task_results("Show the rotation plan")
    lines = shown["msg"]
    warning = re.compile(r"WARNING %s-cert: its certificate keys are valid for (19|20) day\(s\), not longer than the rotation window of 25 "
                         % re.escape(prefix))
    assert any(warning.match(line) for line in lines), lines
    assert not any("%s-secret" % prefix in line for line in lines if line.startswith("WARNING")), lines
    report = (e2e_env / "reports" / "key_expiry-acme-tenant.md").read_text(encoding="utf-8")
    row = next(line for line in report.splitlines() if "| %s-secret |" % prefix in line)
    cells = [cell.strip() for cell in row.split("|")]
    assert cells[6] == "-" and cells[7] == "-", row  # expires, days left: a secret does not expire
    assert "secret rotation due in 180 day(s)" in row or "secret rotation due in 179 day(s)" in row, row


def test_demo_inventory_keeps_its_ca_bundle():
    """demo-output/inventory.yml must not point at the sandbox's temporary CA file, which vanishes with the demo."""
    script = (REPO_ROOT / "scripts" / "demo.sh").read_text(encoding="utf-8")
    assert 'cp "$(json \'d["sandbox"]["ca_bundle"]\')" "$OUT/ca-bundle.pem"' in script
    assert "CA_BUNDLE=$OUT/ca-bundle.pem" in script
    assert "cloud_integration_ca_path: $CA_BUNDLE" in script.split("cat > \"$INVENTORY\"", 1)[1]


def test_pinned_cryptography_prints_no_dsa_deprecation_warning():
    """README "Known warnings": ansible-core imports the DSA classes of cryptography for its ssh-agent support; with
    the tested cryptography that import stays silent (a newer release that warns fails this test, and the README
    then needs its advice checked)."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-W", "default", "-c", "import ansible.plugins.connection.ssh"], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "CryptographyDeprecationWarning" not in proc.stderr and "DSA is deprecated" not in proc.stderr, proc.stderr
