# -*- coding: utf-8 -*-
"""Integration artifacts of a sandbox tenant (issue 18): runtime status, deploy tasks, undeploy, service endpoints.

Sources of the behaviour checked here (see ../shared/reference/integration-suite-apis.md):
- JL = SAP/jenkins-library: cmd/integrationArtifactDeploy.go (POST DeployIntegrationDesigntimeArtifact?Id=..&Version=..
  -> 202 with the task id as the body; BuildAndDeployStatus(TaskId=..) d.Status DEPLOYING|SUCCESS|FAIL|...),
  cmd/integrationArtifactUnDeploy.go (DELETE IntegrationRuntimeArtifacts('..') -> 202),
  cmd/integrationArtifactGetServiceEndpoint.go and pkg/cpi/mockingUtils.go (ServiceEndpoints?$expand=EntryPoints,
  Name = the iFlow id, Id = '<id>$endpointAddress=<address>', EntryPoints.results[].Url, Type PROD; the
  ErrorInformation/$value JSON with 'parameter' holding the nested childMessageInstances).
- FP = engswee/flashpipe internal/api/runtime.go: GET IntegrationRuntimeArtifacts('<id>') 404 = not deployed.
- Entity shapes and the function import: ../shared/reference/metadata/cloud-integration.json.
- Roles MonitoringDataRead (read) and WorkspaceArtifactsDeploy (deploy/undeploy): SD tasks-and-permissions table.
- Unconfirmed, therefore settings: the role of ServiceEndpoints (odata.service_endpoints_role) and of
  BuildAndDeployStatus (odata.deploy_status_role), the Protocol values (odata.service_endpoint_protocols), the status
  of an iFlow whose deployment failed or is starting (runtime.unavailable_status, 503 as the issue states), CSRF
  for bearer writes (odata.bearer_writes_require_csrf).
"""

import json
import time
import xml.etree.ElementTree as ET

import pytest
import requests

from btp_sandbox import odata
from tenant_clients import CfClient, fetch_token, make_session, tenant_info

JSON = {"Accept": "application/json"}
ATOM = "{http://www.w3.org/2005/Atom}"
M = "{http://schemas.microsoft.com/ado/2007/08/dataservices/metadata}"
EDM = "{http://schemas.microsoft.com/ado/2008/09/edm}"
REFERENCE = "/work/shared/reference/metadata/cloud-integration.json"


class Tenant:
    """A fresh sandbox (deployments change state) with an api deployer, an api reader and an iFlow sender."""

    def __init__(self, sandbox):
        self.sandbox = sandbox
        self.conn = sandbox.connection
        self.info = tenant_info(self.conn, "acme")
        self.api = self.info["api_url"] + "/api/v1"
        self.runtime = self.info["runtime_url"]
        cf = CfClient(self.conn)

        def key(plan, roles):
            return cf.create_key(cf.create_instance(self.info, plan, {"roles": roles}))[1]["oauth"]

        self.deployer = make_session(self.conn, fetch_token(self.conn, key("api", [
            "WorkspaceArtifactsDeploy", "MonitoringDataRead", "WorkspacePackagesRead"])))
        self.reader = make_session(self.conn, fetch_token(self.conn, key("api", ["MonitoringDataRead"])))
        self.sender = make_session(self.conn, fetch_token(self.conn, key("integration-flow", ["ESBMessaging.send"])))

    def status(self, artifact_id):
        response = self.reader.get(self.api + "/IntegrationRuntimeArtifacts('%s')" % artifact_id, headers=JSON, timeout=10)
        if response.status_code == 404:
            return None
        assert response.status_code == 200, response.text
        return response.json()["d"]

    def deploy(self, artifact_id, version="active"):
        response = self.deployer.post(self.api + "/DeployIntegrationDesigntimeArtifact?Id='%s'&Version='%s'"
                                      % (artifact_id, version), headers=JSON, timeout=10)
        return response

    def task(self, task_id):
        response = self.deployer.get(self.api + "/BuildAndDeployStatus(TaskId='%s')" % task_id, headers=JSON, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()["d"]

    def wait_task(self, task_id, timeout=10):
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            status = self.task(task_id)["Status"]
            if not seen or seen[-1] != status:
                seen.append(status)
            if status in ("SUCCESS", "FAIL", "FAIL_ON_LICENSE_ERROR"):
                return seen
            time.sleep(0.05)
        raise AssertionError("task %s still %s" % (task_id, seen))

    def wait_runtime(self, artifact_id, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            art = self.status(artifact_id)
            if art is None or art["Status"] != "STARTING":
                return art
            time.sleep(0.05)
        raise AssertionError("%s still STARTING" % artifact_id)

    def echo(self, path="/http/echo"):
        return self.sender.post(self.runtime + path, data="ping", headers={"Content-Type": "text/plain"}, timeout=10)

    def admin(self, method, path, **kwargs):
        return requests.request(method, self.conn["admin_url"] + path, verify=self.conn["ca_bundle"], timeout=10, **kwargs)


@pytest.fixture(name="tenant")
def fixture_tenant(sandbox_factory):
    return Tenant(sandbox_factory())


def test_metadata_declares_the_reference_shapes(conn):
    """$metadata holds the entity types, keys, navigations and the function import as the live metadata does."""
    session = make_session(conn)
    info = tenant_info(conn, "acme")
    reference = json.load(open(REFERENCE, encoding="utf-8"))
    types = {t["name"].split(".")[-1]: t for t in reference["entityTypes"]}
    root = ET.fromstring(odata.metadata_xml())
    declared = {e.get("Name"): e for e in root.iter(EDM + "EntityType")}
    for name in ("IntegrationRuntimeArtifact", "ServiceEndpoint", "EntryPoint", "Definition", "BuildAndDeployStatus",
                 "RuntimeArtifactErrorInformation"):
        ref = types[name]
        ours = declared[name]
        assert [p.get("Name") for p in ours.iter(EDM + "PropertyRef")] == ref["key"]
        props = {p.get("Name"): p for p in ours.iter(EDM + "Property")}
        for prop in ref["properties"]:
            assert prop["name"] in props, (name, prop["name"])
            assert props[prop["name"]].get("Type") == prop["type"], (name, prop["name"])
            assert props[prop["name"]].get("Nullable") == ("true" if prop["nullable"] else "false"), (name, prop["name"])
        navs = {n.get("Name") for n in ours.iter(EDM + "NavigationProperty")}
        assert navs == {n["name"] for n in ref.get("navigationProperties", [])}, name
    sets = {e.get("Name") for e in root.iter(EDM + "EntitySet")}
    assert {"ServiceEndpoints", "EntryPoints", "APIDefinitions", "BuildAndDeployStatus", "IntegrationRuntimeArtifacts"} <= sets
    function = next(f for f in root.iter(EDM + "FunctionImport") if f.get("Name") == "DeployIntegrationDesigntimeArtifact")
    ref_op = next(o for o in reference["operations"] if o["name"] == "DeployIntegrationDesigntimeArtifact")
    assert function.get(M + "HttpMethod") == ref_op["httpMethod"] == "POST"
    assert function.get("ReturnType") == ref_op["returnType"]
    assert [p.get("Name") for p in function.iter(EDM + "Parameter")] == [p["name"] for p in ref_op["parameters"]]
    served = session.get(info["api_url"] + "/api/v1/$metadata", timeout=10)
    assert served.status_code == 401  # the served document needs a token like every resource


def test_default_content_runs_and_exists_at_design_time(tenant):
    art = tenant.status("Echo_HTTP")
    assert art["Status"] == "STARTED" and art["Type"] == "INTEGRATION_FLOW" and art["Version"] == "1.0.0"
    assert art["DeployedOn"].startswith("/Date(")
    response = tenant.deployer.get(tenant.api + "/IntegrationDesigntimeArtifacts(Id='Echo_HTTP',Version='active')",
                                   headers=JSON, timeout=10)
    assert response.status_code == 200 and response.json()["d"]["PackageId"] == "SandboxDemo"
    assert tenant.status("No_Such_Flow") is None  # FP: 404 = not deployed


def test_service_endpoints_with_entry_points(tenant):
    response = tenant.reader.get(tenant.api + "/ServiceEndpoints?$expand=EntryPoints", headers=JSON, timeout=10)
    assert response.status_code == 200, response.text
    endpoints = {e["Name"]: e for e in response.json()["d"]["results"]}
    echo = endpoints["Echo_HTTP"]
    assert echo["Id"] == "Echo_HTTP$endpointAddress=echo"
    assert echo["Protocol"] == "REST" and endpoints["SOAP_Echo"]["Protocol"] == "SOAP"
    entry = echo["EntryPoints"]["results"][0]
    assert entry["Url"] == tenant.runtime + "/http/echo" and entry["Type"] == "PROD" and entry["Name"] == "Echo_HTTP"
    assert endpoints["SOAP_Echo"]["EntryPoints"]["results"][0]["Url"] == tenant.runtime + "/cxf/soap/echo"
    assert "Order_Replication_S4" not in endpoints  # deployed without an HTTP endpoint
    # without $expand the navigation is deferred; the Atom form inlines the expanded feed
    plain = tenant.reader.get(tenant.api + "/ServiceEndpoints", headers=JSON, timeout=10).json()["d"]["results"][0]
    assert "__deferred" in plain["EntryPoints"]
    atom = ET.fromstring(tenant.reader.get(tenant.api + "/ServiceEndpoints?$expand=EntryPoints", timeout=10).content)
    inline = list(atom.iter(M + "inline"))
    assert inline and inline[0].find(ATOM + "feed").find(ATOM + "entry") is not None
    bad = tenant.reader.get(tenant.api + "/ServiceEndpoints?$expand=Nope", headers=JSON, timeout=10)
    assert bad.status_code == 400


def test_deploy_task_lifecycle_and_redeploy(tenant):
    response = tenant.deploy("Echo_HTTP")
    assert response.status_code == 202 and response.headers["Content-Type"].startswith("text/plain")
    task_id = response.text
    assert len(task_id) >= 16
    seen = tenant.wait_task(task_id)
    assert seen[0] == "DEPLOYING" and seen[-1] == "SUCCESS"
    art = tenant.wait_runtime("Echo_HTTP")
    assert art["Status"] == "STARTED" and art["DeployedBy"]
    assert tenant.echo().status_code == 200
    # Piper writes Version='Active'
    assert tenant.deploy("Echo_HTTP", "Active").status_code == 202
    assert tenant.deploy("Echo_HTTP", "9.9.9").status_code == 404
    assert tenant.deploy("No_Such_Flow").status_code == 404
    missing = tenant.deployer.post(tenant.api + "/DeployIntegrationDesigntimeArtifact?Id='Echo_HTTP'", headers=JSON,
                                   timeout=10)
    assert missing.status_code == 400
    unknown = tenant.deployer.get(tenant.api + "/BuildAndDeployStatus(TaskId='nope')", headers=JSON, timeout=10)
    assert unknown.status_code == 404


def test_realistic_profile_deploys_take_seconds(sandbox_factory):
    tenant = Tenant(sandbox_factory(profile="realistic"))
    start = time.monotonic()
    seen = tenant.wait_task(tenant.deploy("Echo_HTTP").text, timeout=15)
    art = tenant.wait_runtime("Echo_HTTP", timeout=15)
    took = time.monotonic() - start
    assert seen == ["DEPLOYING", "SUCCESS"] and art["Status"] == "STARTED"
    assert 3.0 <= took < 10, took


def test_undeploy_then_endpoint_is_missing_then_redeploy(tenant):
    response = tenant.deployer.delete(tenant.api + "/IntegrationRuntimeArtifacts('Echo_HTTP')", timeout=10)
    assert response.status_code == 202
    assert tenant.status("Echo_HTTP") is None
    missing = tenant.echo()
    assert missing.status_code == 404 and "HTTP Status 404" in missing.text  # as for an address nobody deployed
    endpoints = tenant.reader.get(tenant.api + "/ServiceEndpoints", headers=JSON, timeout=10).json()["d"]["results"]
    assert "Echo_HTTP" not in {e["Name"] for e in endpoints}
    again = tenant.deployer.delete(tenant.api + "/IntegrationRuntimeArtifacts('Echo_HTTP')", timeout=10)
    assert again.status_code == 404
    # still at design time: it can be deployed again and serves again
    tenant.wait_task(tenant.deploy("Echo_HTTP").text)
    assert tenant.wait_runtime("Echo_HTTP")["Status"] == "STARTED"
    assert tenant.echo().status_code == 200


def test_injected_failed_deployment_serves_503_until_fixed(tenant):
    text = "java.lang.IllegalStateException: No credentials for 'BACKEND_USER' found"
    rule = {"kind": "fail_operation", "operation": "integration_artifact.deploy/Echo_HTTP", "message": text,
            "count": 1}
    assert tenant.admin("POST", "/faults", json=rule).status_code in (200, 201)
    seen = tenant.wait_task(tenant.deploy("Echo_HTTP").text)
    assert seen[-1] == "SUCCESS"  # mode async: the build succeeds, the start fails
    art = tenant.wait_runtime("Echo_HTTP")
    assert art["Status"] == "ERROR"
    failed = tenant.echo()
    assert failed.status_code == 503 and "Service Unavailable" in failed.text
    value = tenant.reader.get(tenant.api + "/IntegrationRuntimeArtifacts('Echo_HTTP')/ErrorInformation/$value",
                              timeout=10)
    assert value.status_code == 200
    body = value.json()
    assert body["message"]["messageId"] == "InstanceError"
    inner = json.loads(body["parameter"][0])
    assert inner["childMessageInstances"][0]["childMessageInstances"][0]["parameters"] == [text]
    # ServiceEndpoints lists started artifacts only
    endpoints = tenant.reader.get(tenant.api + "/ServiceEndpoints", headers=JSON, timeout=10).json()["d"]["results"]
    assert "Echo_HTTP" not in {e["Name"] for e in endpoints}
    # fixed: the next deployment (the rule fired once) starts again
    tenant.wait_task(tenant.deploy("Echo_HTTP").text)
    assert tenant.wait_runtime("Echo_HTTP")["Status"] == "STARTED"
    assert tenant.echo().status_code == 200
    ok = tenant.reader.get(tenant.api + "/IntegrationRuntimeArtifacts('Echo_HTTP')/ErrorInformation/$value", timeout=10)
    assert ok.status_code == 204


def test_sync_failure_fails_the_task(tenant):
    rule = {"kind": "fail_operation", "operation": "integration_artifact.deploy/*", "mode": "sync",
            "message": "Build failed: unknown adapter type HTTPS2"}
    tenant.admin("POST", "/faults", json=rule)
    assert tenant.wait_task(tenant.deploy("Slow_Echo").text)[-1] == "FAIL"
    assert tenant.status("Slow_Echo")["Status"] == "ERROR"
    assert tenant.echo("/http/slow").status_code == 503
    tenant.admin("DELETE", "/faults")


def test_roles_are_enforced(tenant):
    # MonitoringDataRead alone cannot deploy, undeploy or read deploy tasks
    forbidden = tenant.reader.post(tenant.api + "/DeployIntegrationDesigntimeArtifact?Id='Echo_HTTP'&Version='active'",
                                   headers=JSON, timeout=10)
    assert forbidden.status_code == 403
    assert tenant.reader.delete(tenant.api + "/IntegrationRuntimeArtifacts('Echo_HTTP')", timeout=10).status_code == 403
    assert tenant.status("Echo_HTTP")["Status"] == "STARTED"
    # an integration-flow token is the wrong plan for the API
    assert tenant.sender.get(tenant.api + "/IntegrationRuntimeArtifacts", headers=JSON, timeout=10).status_code == 403


def test_bearer_writes_need_csrf_when_configured(sandbox_factory):
    tenant = Tenant(sandbox_factory({"odata": {"bearer_writes_require_csrf": True}}))
    refused = tenant.deploy("Echo_HTTP")
    assert refused.status_code == 403 and refused.headers.get("X-CSRF-Token") == "Required"
    fetch = tenant.deployer.get(tenant.api + "/", headers={"X-CSRF-Token": "Fetch"}, timeout=10)
    token = fetch.headers["X-CSRF-Token"]
    accepted = tenant.deployer.post(tenant.api + "/DeployIntegrationDesigntimeArtifact?Id='Echo_HTTP'&Version='active'",
                                    headers={"X-CSRF-Token": token}, timeout=10)
    assert accepted.status_code == 202
