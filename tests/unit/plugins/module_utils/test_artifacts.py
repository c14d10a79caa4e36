# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import json

import pytest

requests = pytest.importorskip("requests")

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils import _artifacts  # noqa: E402
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._errors import ApiError, ParameterError  # noqa: E402
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._http import HttpClient  # noqa: E402
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._odata import ODataClient  # noqa: E402
from ansible_collections.sap_btp.cloud_integration.tests.unit.plugins.http_fakes import FakeSession, fake_response  # noqa: E402

ROOT = "https://tenant.it-cpi018.cfapps.eu10.hana.ondemand.com/api/v1"
RUNTIME = "https://tenant.it-cpi018-rt.cfapps.eu10.hana.ondemand.com"

# The ErrorInformation/$value answer of a failed deployment as Project Piper's mocks record it
# (SAP/jenkins-library pkg/cpi/mockingUtils.go).
PIPER_ERROR = json.dumps({
    "message": {"subsystemName": "CONTENT", "subsytemPartName": "CONTENT_DEPLOY", "messageId": "InstanceError",
                "messageText": ""},
    "parameter": [json.dumps({"message": "ERROR", "childMessageInstances": [
        {"message": "EXCEPTION", "parameters": ["org.osgi.service.blueprint.container.ComponentDefinitionException: "
                                                "Error when instantiating bean MessageFlow_28_configurator of class null"],
         "childMessageInstances": [{"message": "CAUSE",
                                    "parameters": ["java.lang.IllegalStateException: No credentials for 'smtp' found"]}]}]})]})


def api(outcomes):
    session = FakeSession(outcomes)
    client = ODataClient(HttpClient(session=session, retries=0, sleep=lambda s: None), ROOT,
                         auth_headers={"Authorization": "Bearer t"})
    return _artifacts.ArtifactApi(client, clock=Clock(), sleep=lambda s: None), session


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        self.now += 1.0
        return self.now


def entity(artifact_id, status, version="1.0.3"):
    return {"d": {"__metadata": {"uri": ROOT + "/IntegrationRuntimeArtifacts('%s')" % artifact_id},
                  "Id": artifact_id, "Name": artifact_id, "Version": version, "Type": "INTEGRATION_FLOW",
                  "DeployedBy": "sb-x", "DeployedOn": "/Date(1611846759005)/", "Status": status}}


def endpoints(*names):
    return {"d": {"results": [{"Name": name, "Id": "%s$endpointAddress=x" % name, "Protocol": "REST",
                               "EntryPoints": {"results": [{"Name": name, "Url": RUNTIME + "/http/" + name.lower(),
                                                            "Type": "PROD"}]}} for name in names]}}


# ---------------------------------------------------------------------------------------------------------------
# readable error text

def test_readable_error_joins_the_nested_parameters():
    text = _artifacts.readable_error(PIPER_ERROR.encode("utf-8"))
    assert text == ("org.osgi.service.blueprint.container.ComponentDefinitionException: Error when instantiating bean "
                    "MessageFlow_28_configurator of class null: java.lang.IllegalStateException: No credentials for "
                    "'smtp' found")
    assert not text.startswith("b'") and "\\" not in text


@pytest.mark.parametrize("raw, expected", [
    (None, None),
    (b"", None),
    (b"  plain text error \n", "plain text error"),
    ("caf\u00e9 failed".encode("utf-8"), "caf\u00e9 failed"),
    (json.dumps({"message": {"messageId": "InstanceError", "messageText": ""}, "parameter": []}), "InstanceError"),
    (json.dumps({"message": {"messageText": "Build failed"}, "parameter": ["plain parameter"]}),
     "Build failed: plain parameter"),
    (b"\xff\xfe not utf-8", "\ufffd\ufffd not utf-8"),
])
def test_readable_error_other_shapes(raw, expected):
    assert _artifacts.readable_error(raw) == expected


def test_failure_kind_and_message():
    missing = _artifacts.not_deployed("X")
    assert _artifacts.failure_kind(missing) == "not_deployed"
    assert "X is not deployed" in _artifacts.unavailable_message("X", missing)
    failed = dict(missing, deployed=True, status="ERROR", error_text="boom")
    assert _artifacts.failure_kind(failed) == "deployment_failed"
    assert _artifacts.unavailable_message("X", failed) == "deployment of integration flow X failed (status ERROR): boom"
    assert _artifacts.failure_kind(dict(failed, status="STARTING")) == "not_started"
    assert _artifacts.failure_kind(dict(failed, status="STARTED")) is None


# ---------------------------------------------------------------------------------------------------------------
# API

def test_runtime_status_404_is_not_deployed_and_dates_are_iso():
    artifacts, session = api([fake_response(404, {"error": {"code": "Not Found", "message": {"value": "x"}}}),
                              fake_response(200, entity("A", "STARTED"))])
    assert artifacts.runtime("Missing") is None
    described = _artifacts.describe(artifacts.runtime("A"))
    assert described["status"] == "STARTED" and described["deployed"] and described["deployed_on"] == "2021-01-28T15:12:39.005Z"
    assert session.calls[0]["url"] == ROOT + "/IntegrationRuntimeArtifacts('Missing')"


def test_deploy_returns_the_plain_task_id_and_fetches_csrf():
    artifacts, session = api([fake_response(200, b"", headers={"X-CSRF-Token": "tok"}),
                              fake_response(202, b"0f1e2d3c4b5a69788796a5b4c3d2e1f0", content_type="text/plain")])
    assert artifacts.deploy("Orders", "active") == "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    post = session.calls[1]
    assert post["method"] == "POST"
    assert post["url"] == ROOT + "/DeployIntegrationDesigntimeArtifact?Id='Orders'&Version='active'"
    assert post["headers"]["X-CSRF-Token"] == "tok"


def test_deploy_task_id_from_a_json_answer_and_errors():
    artifacts, _session = api([fake_response(200, b""),
                               fake_response(202, {"d": {"DeployIntegrationDesigntimeArtifact": "task-1"}})])
    assert artifacts.deploy("Orders") == "task-1"
    artifacts, _session = api([fake_response(200, b""), fake_response(404, {"error": {"code": "Not Found"}})])
    with pytest.raises(ParameterError, match="^artifact_id: the tenant has no design-time integration flow Orders"):
        artifacts.deploy("Orders")
    artifacts, _session = api([fake_response(200, b""), fake_response(403, b"")])
    with pytest.raises(ApiError, match="lacks the role WorkspaceArtifactsDeploy") as err:
        artifacts.deploy("Orders")
    assert err.value.status == 403


def test_wait_task_until_final_and_timeout():
    statuses = [fake_response(200, {"d": {"TaskId": "t", "Status": status}}) for status in ("DEPLOYING", "DEPLOYING", "FAIL")]
    artifacts, _session = api(statuses)
    assert artifacts.wait_task("t", timeout=60, interval=1) == ("FAIL", 3.0)
    artifacts, _session = api([fake_response(200, {"d": {"TaskId": "t", "Status": "DEPLOYING"}})] * 3)
    status, _waited = artifacts.wait_task("t", timeout=2, interval=1)
    assert status is None


def test_wait_runtime_stops_at_error_with_the_text():
    artifacts, _session = api([fake_response(200, entity("A", "STARTING")),
                               fake_response(200, entity("A", "ERROR")),
                               fake_response(200, PIPER_ERROR.encode(), content_type="application/json")])
    current, outcome, _waited = artifacts.wait_runtime(["A"], ["STARTED"], timeout=60, interval=1)
    assert outcome == "error"
    assert current["A"]["error_text"].endswith("No credentials for 'smtp' found")


def test_service_endpoints_by_artifact():
    artifacts, session = api([fake_response(200, endpoints("Orders", "Echo"))])
    found = artifacts.service_endpoints()
    assert found["Orders"] == [{"url": RUNTIME + "/http/orders", "protocol": "REST", "type": "PROD",
                                "endpoint_id": "Orders$endpointAddress=x"}]
    assert session.calls[0]["url"] == ROOT + "/ServiceEndpoints?$expand=EntryPoints"


# ---------------------------------------------------------------------------------------------------------------
# endpoint resolution

def test_resolver_caches_the_url_and_reports_unavailable_iflows(tmp_path):
    artifacts, session = api([fake_response(200, endpoints("Orders"))])
    resolver = _artifacts.EndpointResolver(artifacts, ROOT, "sb-client", cache_dir=str(tmp_path))
    assert resolver.resolve("Orders")["url"] == RUNTIME + "/http/orders" and not resolver.from_cache
    again = _artifacts.EndpointResolver(artifacts, ROOT, "sb-client", cache_dir=str(tmp_path))
    assert again.resolve("Orders")["url"] == RUNTIME + "/http/orders" and again.from_cache
    assert len(session.calls) == 1
    entries = list((tmp_path / _artifacts.ENDPOINT_CACHE).glob("*.json"))
    assert len(entries) == 1 and (entries[0].stat().st_mode & 0o777) == 0o600
    again.invalidate("Orders")
    assert not list((tmp_path / _artifacts.ENDPOINT_CACHE).glob("*.json"))

    artifacts, _session = api([fake_response(200, endpoints()), fake_response(200, entity("Orders", "ERROR")),
                               fake_response(200, PIPER_ERROR.encode())])
    resolver = _artifacts.EndpointResolver(artifacts, ROOT, "sb-client", cache=False)
    with pytest.raises(_artifacts.ArtifactUnavailable) as err:
        resolver.resolve("Orders")
    assert err.value.kind == "deployment_failed"
    assert "No credentials for 'smtp' found" in str(err.value)
    assert err.value.to_result()["artifact"]["status"] == "ERROR"

    artifacts, _session = api([fake_response(200, endpoints()), fake_response(404, b"")])
    with pytest.raises(_artifacts.ArtifactUnavailable, match="Orders is not deployed"):
        _artifacts.EndpointResolver(artifacts, ROOT, "sb-client", cache=False).resolve("Orders")
