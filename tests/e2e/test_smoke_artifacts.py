# -*- coding: utf-8 -*-
"""smoke_test with iFlows named by artifact_id (issue 18), on a private sandbox (deployments change its state).

One iFlow runs (Echo_HTTP), one is not deployed (Slow_Echo, undeployed over the OData API), one failed to deploy
(Status_Created, through a fail_operation fault rule). The reports must show "not deployed" and "deployment failed:
<text>" as failures of their own kind, in the JUnit file too; with deploy_if_missing the deploy client fixes both.
"""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET

import requests

from proof_helpers import CfSetup, unique

FAILURE_TEXT = "java.lang.IllegalStateException: No credentials for 'SMOKE_BACKEND' found"


def _token(connection, oauth):
    response = requests.post(oauth["tokenurl"], data={"grant_type": "client_credentials"},
                             auth=(oauth["clientid"], oauth["clientsecret"]), verify=connection["ca_bundle"], timeout=30)
    response.raise_for_status()
    return response.json()["access_token"]


class Api:
    def __init__(self, connection, oauth):
        self.connection = connection
        self.base = oauth["url"] + "/api/v1"
        self.headers = {"Authorization": "Bearer " + _token(connection, oauth), "Accept": "application/json"}

    def call(self, method, path):
        return requests.request(method, self.base + path, headers=self.headers, verify=self.connection["ca_bundle"], timeout=30)

    def status(self, artifact_id):
        response = self.call("GET", "/IntegrationRuntimeArtifacts('%s')" % artifact_id)
        return response.json()["d"]["Status"] if response.status_code == 200 else None

    def wait_settled(self, artifact_id, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.status(artifact_id)
            if status != "STARTING":
                return status
            time.sleep(0.1)
        raise AssertionError("%s still STARTING" % artifact_id)


def _write(path, details):
    path.write_text(json.dumps(details["credentials"]), encoding="utf-8")
    path.chmod(0o600)
    return str(path)


def test_smoke_test_reports_not_deployed_and_failed_iflows_then_deploys_them(e2e, sandbox_factory, run_playbook, e2e_env):
    sandbox = sandbox_factory()
    connection = sandbox.connection
    cf = CfSetup(connection)
    prefix = unique("sma")
    creds = e2e_env / "creds"
    creds.mkdir()
    _unused, monitor = cf.client(prefix + "-mon", "api", roles=["MonitoringDataRead"])
    deploy_roles = ["WorkspaceArtifactsDeploy", "MonitoringDataRead", "WorkspacePackagesRead"]
    _unused, deployer = cf.client(prefix + "-dep", "api", roles=deploy_roles)
    _unused, flow = cf.client(prefix + "-flow", "integration-flow")
    files = {"mon": _write(creds / "mon.json", monitor), "dep": _write(creds / "dep.json", deployer),
             "flow": _write(creds / "flow.json", flow)}

    # Slow_Echo not deployed, Status_Created failed to deploy (out of band, on the OData API)
    api = Api(connection, deployer["credentials"]["oauth"])
    assert api.call("DELETE", "/IntegrationRuntimeArtifacts('Slow_Echo')").status_code == 202
    admin = connection["admin_url"]
    requests.post(admin + "/faults", json={"kind": "fail_operation", "operation": "integration_artifact.deploy/Status_Created",
                                           "message": FAILURE_TEXT, "count": 1},
                  verify=connection["ca_bundle"], timeout=30).raise_for_status()
    assert api.call("POST", "/DeployIntegrationDesigntimeArtifact?Id='Status_Created'&Version='active'").status_code == 202
    assert api.wait_settled("Status_Created") == "ERROR"

    def client(name, artifact_id, **endpoint):
        spec = {"artifact_id": artifact_id, "method": "POST", "body": "ping", "headers": {"Content-Type": "text/plain"},
                "status_code": [200, 201]}
        spec.update(endpoint)
        return {"name": prefix + "-" + name, "plan": "integration-flow",
                "destinations": [{"type": "file", "path": files["flow"]}], "smoke_test": {"endpoints": [spec]}}

    def inventory(deploy_if_missing):
        clients = [
            {"name": prefix + "-mon", "plan": "api", "roles": ["MonitoringDataRead"],
             "destinations": [{"type": "file", "path": files["mon"]}]},
            {"name": prefix + "-dep", "plan": "api", "roles": ["WorkspaceArtifactsDeploy", "MonitoringDataRead"],
             "destinations": [{"type": "file", "path": files["dep"]}], "smoke_test": {"enabled": False}},
            client("ok", "Echo_HTTP", body_contains="ping"),
            client("missing", "Slow_Echo", deploy_if_missing=deploy_if_missing),
            client("failed", "Status_Created", deploy_if_missing=deploy_if_missing),
        ]
        host_vars = {"cloud_integration_cf": e2e.cf_connection_vars(connection),
                     "cloud_integration_ca_path": connection["ca_bundle"],
                     "cloud_integration_report_dir": str(e2e_env / "reports"),
                     "cloud_integration_clients": clients,
                     "smoke_test_monitor_client": prefix + "-mon",
                     "smoke_test_deploy_client": prefix + "-dep"}
        return e2e.write_inventory(e2e_env / "inventory.yml", {"acme-tenant": host_vars})

    # ---- report only: the two unavailable iFlows fail, each with its own kind ---------------------------------------
    first = run_playbook("smoke_test", inventory(False), extra_vars={"smoke_test_fail": False})
    assert first.rc == 0, first.describe()
    suite = ET.parse(e2e_env / "reports" / "smoke_test-acme-tenant.xml").getroot().find("testsuite")
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert cases[prefix + "-ok"].find("failure") is None
    assert cases[prefix + "-mon"].find("failure") is None
    missing = cases[prefix + "-missing"].find("failure")
    assert missing.get("type") == "NotDeployed"
    assert "iFlow Slow_Echo: not deployed" in missing.get("message")
    failed = cases[prefix + "-failed"].find("failure")
    assert failed.get("type") == "DeploymentFailed"
    assert "iFlow Status_Created: deployment failed: " in failed.get("message") and FAILURE_TEXT in failed.get("message")
    assert suite.get("failures") == "2"
    out = cases[prefix + "-ok"].find("system-out").text
    assert "iFlow Echo_HTTP -> STARTED" in out and "POST /http/echo -> 200" in out
    summary = (e2e_env / "reports" / "smoke_test-acme-tenant.md").read_text(encoding="utf-8")
    assert "| %s-ok | Echo_HTTP | STARTED |" % prefix in summary
    assert "| %s-missing | Slow_Echo | NOT_DEPLOYED - not deployed |" % prefix in summary
    assert ("| %s-failed | Status_Created | ERROR |" % prefix) in summary and FAILURE_TEXT in summary
    # one status read for the tenant, not one per client
    assert len(first.task_results("Read the runtime status of the iFlows")) == 1
    assert api.status("Slow_Echo") is None and api.status("Status_Created") == "ERROR"

    # ---- deploy_if_missing: the deploy client deploys both, every client passes ---------------------------------------
    second = run_playbook("smoke_test", inventory(True))
    assert second.rc == 0, second.describe()
    suite = ET.parse(e2e_env / "reports" / "smoke_test-acme-tenant.xml").getroot().find("testsuite")
    assert suite.get("failures") == "0"
    assert api.status("Slow_Echo") == "STARTED" and api.status("Status_Created") == "STARTED"
    summary = (e2e_env / "reports" / "smoke_test-acme-tenant.md").read_text(encoding="utf-8")
    assert "| %s-missing | Slow_Echo | STARTED - deployed by the smoke test |" % prefix in summary
