# -*- coding: utf-8 -*-
"""Cloud Integration OData API v1 of a sandbox tenant (btp_sandbox.odata)."""

import calendar
import datetime
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor

import pyodata
import pytest
import requests

from btp_sandbox import content, odata
from tenant_clients import fetch_token, make_session, write_cert_files

ATOM = "{http://www.w3.org/2005/Atom}"
M = "{http://schemas.microsoft.com/ado/2007/08/dataservices/metadata}"
D = "{http://schemas.microsoft.com/ado/2007/08/dataservices}"
JSON = {"Accept": "application/json"}


@pytest.fixture(scope="module")
def api(acme):
    return acme["api_url"] + "/api/v1"


def _key(cf, acme, plan, roles, parameters=None):
    return cf.create_key(cf.create_instance(acme, plan, {"roles": roles}), parameters)[1]["oauth"]


@pytest.fixture(scope="module")
def admin_token(conn, cf, acme):
    roles = ["MonitoringDataRead", "WorkspacePackagesRead", "WorkspacePackagesEdit"]
    return fetch_token(conn, _key(cf, acme, "api", roles))


@pytest.fixture(scope="module")
def http(conn, admin_token):
    return make_session(conn, admin_token)


@pytest.fixture(scope="module")
def mpls(btp_sandbox):
    content.settle_mpls(btp_sandbox.store, "acme")
    with btp_sandbox.store.lock:
        return [dict(m) for m in btp_sandbox.store.mpls["acme"]]


def _ms(text):
    return calendar.timegm(datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S").timetuple()) * 1000


def _results(response):
    assert response.status_code == 200, response.text
    return response.json()["d"]["results"]


# ---- pure unit tests of the query machinery ------------------------------------------------------------------

def test_datetime_literals_are_utc_and_reject_offsets():
    assert odata.parse_datetime_literal("2021-02-01T00:00:00") == 1612137600000
    assert odata.parse_datetime_literal("2021-02-01T00:00") == 1612137600000
    assert odata.parse_datetime_literal("2021-02-01T00:00:00.123456") == 1612137600123
    for bad in ("2021-02-01T00:00:00Z", "2021-02-01T00:00:00+01:00", "2021-02-01"):
        with pytest.raises(odata.ODataError) as err:
            odata.parse_datetime_literal(bad)
        assert err.value.status == 400


def test_filter_compiler_operators():
    entity = {"Status": "FAILED", "LogStart": 1000, "IntegrationArtifact": {"Id": "A"}, "Sender": None}
    cases = {
        "Status eq 'FAILED'": True, "Status ne 'FAILED'": False, "LogStart gt 999": True, "LogStart lt 1000": False,
        "LogStart ge 1000": True, "LogStart le 999": False, "IntegrationArtifact/Id eq 'A'": True,
        "Status eq 'X' or (LogStart eq 1000 and IntegrationArtifact/Id eq 'A')": True,
        "not (Status eq 'FAILED')": False, "Sender eq null": True, "substringof('AIL', Status)": True,
        "startswith(Status, 'FA') and endswith(Status, 'ED')": True, "tolower(Status) eq 'failed'": True,
    }
    for text, expected in cases.items():
        assert odata.compile_filter(text, "MessageProcessingLog")(entity) is expected, text


@pytest.mark.parametrize("text", ["Status eq", "Nope eq 'x'", "IntegrationArtifact/Nope eq 'x'", "(Status eq 'A'",
                                  "Status eq 'A' xor", "Status eq 'A' % 2"])
def test_filter_compiler_rejects_invalid_expressions(text):
    with pytest.raises(odata.ODataError) as err:
        odata.compile_filter(text, "MessageProcessingLog")
    assert err.value.status == 400


# ---- metadata and third-party client ---------------------------------------------------------------------------

def test_metadata_is_edmx_v2(http, api):
    response = http.get(api + "/$metadata")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/xml")
    root = ET.fromstring(response.content)
    assert root.tag == "{http://schemas.microsoft.com/ado/2007/06/edmx}Edmx"
    schema = root.find(".//{http://schemas.microsoft.com/ado/2008/09/edm}Schema")
    assert schema.get("Namespace") == "com.sap.hci.api"
    sets = {e.get("Name") for e in root.iter("{http://schemas.microsoft.com/ado/2008/09/edm}EntitySet")}
    assert {"MessageProcessingLogs", "IntegrationPackages", "IntegrationRuntimeArtifacts",
            "IntegrationDesigntimeArtifacts", "MessageProcessingLogErrorInformations"} <= sets


def test_pyodata_reads_metadata_and_queries_mpls_with_filter_and_paging(http, api, mpls):
    # pylint: disable=no-member
    service = pyodata.Client(api + "/", http)
    entity_set = service.schema.entity_set("MessageProcessingLogs")
    assert entity_set.entity_type.name == "MessageProcessingLog"
    failed = sorted((m for m in mpls if m["Status"] == "FAILED"), key=lambda m: m["LogStart"], reverse=True)
    first = service.entity_sets.MessageProcessingLogs.get_entities().filter("Status eq 'FAILED'") \
        .order_by("LogStart desc").top(25).count(inline=True).execute()
    assert first.total_count >= len(failed)
    assert [e.MessageGuid for e in first] == [m["MessageGuid"] for m in failed[:25]]
    second = service.entity_sets.MessageProcessingLogs.get_entities().filter("Status eq 'FAILED'") \
        .order_by("LogStart desc").skip(25).top(25).execute()
    assert [e.MessageGuid for e in second] == [m["MessageGuid"] for m in failed[25:50]]
    entity = first[0]
    assert entity.LogStart.tzinfo is not None and entity.IntegrationArtifact["Type"] == "INTEGRATION_FLOW"
    count = service.entity_sets.MessageProcessingLogs.get_entities().filter("Status eq 'FAILED'").count().execute()
    assert count >= len(failed)
    by_key = service.entity_sets.MessageProcessingLogs.get_entity(failed[0]["MessageGuid"]).execute()
    assert by_key.Status == "FAILED"


def test_pyodata_follows_next_links(http, api, mpls):
    # pylint: disable=no-member
    service = pyodata.Client(api + "/", http)
    page = service.entity_sets.MessageProcessingLogs.get_entities().select("MessageGuid").execute()
    seen = [e.MessageGuid for e in page]
    assert len(seen) == 1000 and page.next_url
    while page.next_url:
        page = service.entity_sets.MessageProcessingLogs.get_entities().next_url(page.next_url).execute()
        seen.extend(e.MessageGuid for e in page)
    assert len(seen) >= len(mpls) and len(set(seen)) == len(seen)


# ---- MessageProcessingLogs -----------------------------------------------------------------------------------

def test_mpl_json_shape(http, api):
    entry = _results(http.get(api + "/MessageProcessingLogs?$top=1", headers=JSON))[0]
    assert len(entry) == 31  # 24 properties, 6 navigations, __metadata
    assert entry["__metadata"]["type"] == "com.sap.hci.api.MessageProcessingLog"
    assert entry["__metadata"]["uri"].endswith("/api/v1/MessageProcessingLogs('%s')" % entry["MessageGuid"])
    assert entry["LogStart"].startswith("/Date(") and entry["LogStart"].endswith(")/")
    assert entry["Status"] in content.MPL_STATUSES
    assert set(entry["IntegrationArtifact"]) == {"__metadata", "Id", "Name", "Type", "PackageId", "PackageName"}
    assert entry["ErrorInformation"] == {"__deferred": {"uri": entry["__metadata"]["uri"] + "/ErrorInformation"}}
    assert entry["ArchivingStatus"] == "NOT_RELEVANT" and entry["ArchivingLogAttachments"] is False
    assert len(entry["MessageGuid"]) == 28 and len(entry["TransactionId"]) == 32


def test_mpl_atom_xml_is_default(http, api):
    response = http.get(api + "/MessageProcessingLogs?$top=2&$inlinecount=allpages")
    assert response.headers["Content-Type"].startswith("application/atom+xml")
    feed = ET.fromstring(response.content)
    assert feed.tag == ATOM + "feed"
    assert int(feed.find(M + "count").text) >= 3000
    entries = feed.findall(ATOM + "entry")
    assert len(entries) == 2
    props = entries[0].find(ATOM + "content").find(M + "properties")
    assert props.find(D + "LogStart").get(M + "type") == "Edm.DateTime"
    assert props.find(D + "IntegrationArtifact").find(D + "Type").text == "INTEGRATION_FLOW"


def test_format_json_query_option(http, api):
    response = http.get(api + "/MessageProcessingLogs?$top=1&$format=json")
    assert response.headers["Content-Type"].startswith("application/json")
    assert len(response.json()["d"]["results"]) == 1


def test_mpl_by_key_and_unknown_key(http, api, mpls):
    guid = mpls[5]["MessageGuid"]
    response = http.get(api + "/MessageProcessingLogs('%s')" % guid, headers=JSON)
    assert response.status_code == 200 and response.json()["d"]["MessageGuid"] == guid
    missing = http.get(api + "/MessageProcessingLogs('ANope')", headers=JSON)
    assert missing.status_code == 404
    assert missing.json()["error"]["message"]["lang"] == "en"


def test_error_information(http, api, mpls):
    failed = next(m for m in mpls if m["Status"] == "FAILED")
    completed = next(m for m in mpls if m["Status"] == "COMPLETED")
    info = http.get(api + "/MessageProcessingLogs('%s')/ErrorInformation" % failed["MessageGuid"], headers=JSON)
    assert info.status_code == 200 and info.json()["d"]["MessageGuid"] == failed["MessageGuid"]
    value = http.get(api + "/MessageProcessingLogs('%s')/ErrorInformation/$value" % failed["MessageGuid"])
    assert value.status_code == 200 and value.text == failed["_error"]
    assert value.headers["Content-Type"].startswith("text/plain")
    none = http.get(api + "/MessageProcessingLogs('%s')/ErrorInformation" % completed["MessageGuid"], headers=JSON)
    assert none.status_code == 204


def test_mpl_navigation_collections(http, api, mpls):
    guid = mpls[0]["MessageGuid"]
    response = http.get(api + "/MessageProcessingLogs('%s')/CustomHeaderProperties" % guid, headers=JSON)
    assert _results(response) == []


def test_filter_against_store(http, api, mpls):
    since = "2000-01-01T00:00:00"
    flow = "Products_Details"
    query = ("IntegrationArtifact/Id eq '%s' and (Status eq 'FAILED' or Status eq 'RETRY') "
             "and LogStart ge datetime'%s'" % (flow, since))
    expected = {m["MessageGuid"] for m in mpls if m["IntegrationArtifact"]["Id"] == flow
                and m["Status"] in ("FAILED", "RETRY") and m["LogStart"] >= _ms(since)}
    got = {e["MessageGuid"] for e in _results(http.get(api + "/MessageProcessingLogs", headers=JSON,
                                                       params={"$filter": query}))}
    assert got == expected and expected


def test_filter_datetime_range(http, api, mpls):
    start = datetime.datetime.fromtimestamp(mpls[len(mpls) // 2]["LogStart"] / 1000, tz=datetime.timezone.utc)
    lower = start.strftime("%Y-%m-%dT%H:%M:%S")
    upper = (start + datetime.timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M:%S")
    query = "LogStart gt datetime'%s' and LogStart lt datetime'%s' and Status ne 'COMPLETED'" % (lower, upper)
    expected = {m["MessageGuid"] for m in mpls if _ms(lower) < m["LogStart"] < _ms(upper)
                and m["Status"] != "COMPLETED"}
    got = {e["MessageGuid"] for e in _results(http.get(api + "/MessageProcessingLogs", headers=JSON,
                                                       params={"$filter": query}))}
    assert got == expected


def test_piper_status_query(http, api, mpls):
    params = {"$filter": "IntegrationArtifact/Id eq 'Always_Fail' and Status ne 'DISCARDED'",
              "$orderby": "LogEnd desc", "$top": "1"}
    result = _results(http.get(api + "/MessageProcessingLogs", headers=JSON, params=params))
    candidates = [m for m in mpls if m["IntegrationArtifact"]["Id"] == "Always_Fail" and m["Status"] != "DISCARDED"]
    assert len(result) == 1
    assert int(result[0]["LogEnd"][6:-2]) >= max(m["LogEnd"] for m in candidates)


def test_filter_errors(http, api):
    for query in ("LogStart gt datetime'2021-02-01T00:00:00Z'", "Unknown eq 'x'", "Status eq"):
        response = http.get(api + "/MessageProcessingLogs", headers=JSON, params={"$filter": query})
        assert response.status_code == 400
        assert set(response.json()["error"]) == {"code", "message"}


def test_top_skip_inlinecount(http, api, mpls):
    ordered = sorted(mpls, key=lambda m: m["LogStart"])
    response = http.get(api + "/MessageProcessingLogs", headers=JSON,
                        params={"$orderby": "LogStart", "$skip": "10", "$top": "5", "$inlinecount": "allpages"})
    body = response.json()["d"]
    assert isinstance(body["__count"], str) and int(body["__count"]) >= len(mpls)
    assert [e["MessageGuid"] for e in body["results"]] == [m["MessageGuid"] for m in ordered[10:15]]
    assert "__next" not in body


def test_orderby_multiple_keys(http, api):
    results = _results(http.get(api + "/MessageProcessingLogs", headers=JSON,
                                params={"$orderby": "Status asc,LogStart desc", "$top": "500",
                                        "$select": "Status,LogStart"}))
    keys = [(r["Status"], -int(r["LogStart"][6:-2])) for r in results]
    assert keys == sorted(keys)


def test_select(http, api):
    entry = _results(http.get(api + "/MessageProcessingLogs", headers=JSON,
                              params={"$select": "MessageGuid,Status,IntegrationArtifact", "$top": "1"}))[0]
    assert set(entry) == {"__metadata", "MessageGuid", "Status", "IntegrationArtifact"}
    bad = http.get(api + "/MessageProcessingLogs", headers=JSON, params={"$select": "Nope"})
    assert bad.status_code == 400


def test_server_page_cap_and_skiptoken(http, api, mpls):
    body = http.get(api + "/MessageProcessingLogs", headers=JSON, params={"$inlinecount": "allpages"}).json()["d"]
    assert len(body["results"]) == 1000
    assert "$skiptoken=1000" in body["__next"]
    total = len(body["results"])
    next_link = body["__next"]
    while next_link:
        page = http.get(next_link, headers=JSON).json()["d"]
        total += len(page["results"])
        next_link = page.get("__next")
    assert total == int(body["__count"]) >= len(mpls)


def test_top_above_page_cap(http, api):
    body = http.get(api + "/MessageProcessingLogs", headers=JSON, params={"$top": "1500"}).json()["d"]
    assert len(body["results"]) == 1000
    rest = http.get(body["__next"], headers=JSON).json()["d"]
    assert len(rest["results"]) == 500 and "__next" not in rest


def test_next_link_in_atom(http, api):
    feed = ET.fromstring(http.get(api + "/MessageProcessingLogs").content)
    links = [link.get("href") for link in feed.findall(ATOM + "link") if link.get("rel") == "next"]
    assert len(links) == 1 and "$skiptoken=1000" in links[0]


def test_count_endpoint(http, api, mpls):
    response = http.get(api + "/MessageProcessingLogs/$count", params={"$filter": "Status eq 'ABANDONED'"})
    assert response.status_code == 200
    assert int(response.text) >= sum(1 for m in mpls if m["Status"] == "ABANDONED")


def test_runtime_call_shows_up_as_mpl(conn, cf, acme, http, api):
    token = fetch_token(conn, _key(cf, acme, "integration-flow", ["ESBMessaging.send"]))
    call = requests.post(acme["runtime_url"] + "/http/fail", data="x", verify=conn["ca_bundle"], timeout=10,
                         headers={"Authorization": "Bearer " + token})
    guid = call.text.split(" : ")[1].split("\n")[0]
    deadline = time.monotonic() + 5
    entry = None
    while time.monotonic() < deadline:
        entry = http.get(api + "/MessageProcessingLogs('%s')" % guid, headers=JSON).json()["d"]
        if entry["Status"] != "PROCESSING":
            break
        time.sleep(0.05)
    assert entry["Status"] == "FAILED" and entry["IntegrationArtifact"]["Id"] == "Always_Fail"
    text = http.get(api + "/MessageProcessingLogs('%s')/ErrorInformation/$value" % guid).text
    assert "Always_Fail" in text


# ---- packages and runtime artifacts --------------------------------------------------------------------------

def test_integration_packages(http, api):
    results = _results(http.get(api + "/IntegrationPackages", headers=JSON))
    ids = {p["Id"] for p in results}
    assert {"SandboxDemo", "SandboxOrders", "SandboxMasterData"} <= ids
    assert results[0]["__metadata"]["type"] == "com.sap.hci.api.IntegrationPackage"
    one = http.get(api + "/IntegrationPackages('SandboxDemo')", headers=JSON).json()["d"]
    assert one["Name"] == "Sandbox Demo"
    assert http.get(api + "/IntegrationPackages('Nope')", headers=JSON).status_code == 404


def test_integration_packages_inlinecount_not_implemented(http, api):
    response = http.get(api + "/IntegrationPackages", headers=JSON, params={"$inlinecount": "allpages"})
    assert response.status_code == 501
    assert response.json()["error"]["message"]["value"]


def test_package_artifacts_navigation_ignores_skip(http, api):
    url = api + "/IntegrationPackages('SandboxDemo')/IntegrationDesigntimeArtifacts"
    everything = _results(http.get(url, headers=JSON))
    skipped = _results(http.get(url, headers=JSON, params={"$skip": "3"}))
    assert len(everything) >= 5 and skipped == everything
    assert len(_results(http.get(url, headers=JSON, params={"$top": "2"}))) == 2
    artifact = everything[0]
    single = http.get(api + "/IntegrationDesigntimeArtifacts(Id='%s',Version='active')" % artifact["Id"],
                      headers=JSON)
    assert single.status_code == 200 and single.json()["d"]["Id"] == artifact["Id"]


def test_runtime_artifacts(http, api):
    results = _results(http.get(api + "/IntegrationRuntimeArtifacts", headers=JSON))
    by_id = {a["Id"]: a for a in results}
    for flow in ("Products_Details", "Echo_HTTP", "Echo_HTTP_CSRF", "Always_Fail", "SOAP_Echo"):
        assert by_id[flow]["Status"] == "STARTED" and by_id[flow]["Type"] == "INTEGRATION_FLOW"
    assert by_id["Products_Details"]["DeployedOn"].startswith("/Date(")
    assert http.get(api + "/IntegrationRuntimeArtifacts('Echo_HTTP')", headers=JSON).json()["d"]["Id"] == "Echo_HTTP"
    assert http.get(api + "/IntegrationRuntimeArtifacts", headers=JSON,
                    params={"$inlinecount": "allpages"}).status_code == 501
    assert http.get(api + "/IntegrationRuntimeArtifacts", headers=JSON, params={"$top": "2"}).json()["d"]["results"]


def test_create_package(http, api):
    body = {"Id": "CreatedByTest", "Name": "Created by test", "ShortText": "short"}
    created = http.post(api + "/IntegrationPackages", json=body, headers=JSON)
    assert created.status_code == 201, created.text
    assert created.json()["d"]["Id"] == "CreatedByTest"
    assert created.headers["Location"].endswith("/IntegrationPackages('CreatedByTest')")
    assert http.post(api + "/IntegrationPackages", json=body, headers=JSON).status_code == 409
    missing = http.post(api + "/IntegrationPackages", json={"Id": "X1", "Name": "x"}, headers=JSON)
    assert missing.status_code == 400 and "ShortText" in missing.json()["error"]["message"]["value"]


def test_csrf_for_writes_when_enabled(btp_sandbox, conn, admin_token, api):
    btp_sandbox.config.odata.bearer_writes_require_csrf = True
    try:
        http = make_session(conn, admin_token)
        body = {"Id": "CsrfPackage", "Name": "CSRF", "ShortText": "csrf"}
        refused = http.post(api + "/IntegrationPackages", json=body, headers=JSON)
        assert refused.status_code == 403 and refused.headers["X-CSRF-Token"] == "Required"
        fetch = http.get(api + "/", headers={"X-CSRF-Token": "Fetch"})
        assert fetch.status_code == 200
        token = fetch.headers["X-CSRF-Token"]
        created = http.post(api + "/IntegrationPackages", json=body, headers={**JSON, "X-CSRF-Token": token})
        assert created.status_code == 201
    finally:
        btp_sandbox.config.odata.bearer_writes_require_csrf = False


def test_bearer_writes_need_no_csrf_by_default(http, api):
    response = http.post(api + "/IntegrationPackages", json={"Id": "NoCsrf", "Name": "n", "ShortText": "s"},
                         headers=JSON)
    assert response.status_code == 201
    assert "X-CSRF-Token" not in response.headers


# ---- auth and roles ------------------------------------------------------------------------------------------

def test_missing_role_gives_403_with_null_value(conn, cf, acme, api):
    http = make_session(conn, fetch_token(conn, _key(cf, acme, "api", ["WorkspacePackagesRead"])))
    response = http.get(api + "/MessageProcessingLogs", headers=JSON)
    assert response.status_code == 403
    assert response.json() == {"error": {"code": "Forbidden", "message": {"lang": "en", "value": None}}}
    assert http.get(api + "/IntegrationPackages", headers=JSON).status_code == 200
    assert http.get(api + "/IntegrationRuntimeArtifacts", headers=JSON).status_code == 403
    write = http.post(api + "/IntegrationPackages", json={"Id": "Y", "Name": "y", "ShortText": "y"}, headers=JSON)
    assert write.status_code == 403


def test_errors_are_xml_without_json_accept(conn, cf, acme, api):
    http = make_session(conn, fetch_token(conn, _key(cf, acme, "api", ["WorkspacePackagesRead"])))
    response = http.get(api + "/MessageProcessingLogs")
    assert response.status_code == 403
    assert response.headers["Content-Type"].startswith("application/xml")
    root = ET.fromstring(response.content)
    assert root.tag == M + "error" and root.find(M + "code").text == "Forbidden"


def test_single_entity_in_atom(http, api):
    response = http.get(api + "/IntegrationPackages('SandboxDemo')")
    assert response.headers["Content-Type"].startswith("application/atom+xml;type=entry")
    entry = ET.fromstring(response.content)
    assert entry.tag == ATOM + "entry"
    assert entry.find(ATOM + "content").find(M + "properties").find(D + "Id").text == "SandboxDemo"


def test_monitoring_role_cannot_read_packages(conn, cf, acme, api):
    http = make_session(conn, fetch_token(conn, _key(cf, acme, "api", ["MonitoringDataRead"])))
    assert http.get(api + "/MessageProcessingLogs?$top=1", headers=JSON).status_code == 200
    assert http.get(api + "/IntegrationPackages", headers=JSON).status_code == 403


def test_auth_group_role_implies_read_roles(conn, cf, acme, api):
    http = make_session(conn, fetch_token(conn, _key(cf, acme, "api", ["AuthGroup_ReadOnly"])))
    assert http.get(api + "/MessageProcessingLogs?$top=1", headers=JSON).status_code == 200
    assert http.get(api + "/IntegrationPackages", headers=JSON).status_code == 200


def test_integration_flow_token_is_rejected(conn, cf, acme, api):
    token = fetch_token(conn, _key(cf, acme, "integration-flow", ["ESBMessaging.send"]))
    response = make_session(conn, token).get(api + "/MessageProcessingLogs", headers=JSON)
    assert response.status_code == 403


def test_unauthenticated_and_basic_are_rejected(conn, cf, acme, api):
    none = requests.get(api + "/MessageProcessingLogs", headers=JSON, verify=conn["ca_bundle"], timeout=10)
    assert none.status_code == 401
    oauth = _key(cf, acme, "api", ["MonitoringDataRead"])
    basic = requests.get(api + "/MessageProcessingLogs", headers=JSON, verify=conn["ca_bundle"], timeout=10,
                         auth=(oauth["clientid"], oauth["clientsecret"]))
    assert basic.status_code == 401
    forged = requests.get(api + "/MessageProcessingLogs", verify=conn["ca_bundle"], timeout=10,
                          headers={**JSON, "Authorization": "Bearer abc.def.ghi"})
    assert forged.status_code == 401


def test_api_certificate_key(conn, cf, acme, api, tmp_path):
    oauth = _key(cf, acme, "api", ["MonitoringDataRead"], {"key-type": "certificate", "validity": 10})
    cert, key = write_cert_files(oauth, str(tmp_path))
    response = requests.get(api + "/MessageProcessingLogs?$top=3", headers=JSON, verify=conn["ca_bundle"], timeout=10,
                            cert=(cert, key))
    assert response.status_code == 200 and len(response.json()["d"]["results"]) == 3


def test_unknown_entity_set(http, api):
    response = http.get(api + "/LogFiles", headers=JSON)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "Not Found"


def test_fault_rule_on_api_route(conn, http, api):
    admin = conn["admin_url"]
    rule = {"route": "api GET /api/v1/MessageProcessingLogs", "kind": "status", "status": 500, "count": 1}
    assert requests.post(admin + "/faults", json=[rule], verify=conn["ca_bundle"], timeout=10).status_code == 201
    try:
        first = http.get(api + "/MessageProcessingLogs?$top=1", headers=JSON)
        second = http.get(api + "/MessageProcessingLogs?$top=1", headers=JSON)
    finally:
        requests.delete(admin + "/faults", verify=conn["ca_bundle"], timeout=10)
    assert first.status_code == 500
    assert second.status_code == 200


# ---- throughput (fast profile) -------------------------------------------------------------------------------

def test_throughput_1000_tokens_and_1000_mpl_reads(btp_sandbox, conn, cf, acme, api, admin_token, mpls):
    """1,000 token requests and 1,000 MPL reads complete without error (rates printed, not asserted).

    The XSUAA rate limit (60 req/s per subaccount) is lifted for the token part, as a load test would.
    """
    oauth = _key(cf, acme, "integration-flow", ["ESBMessaging.send"])
    sessions = {}

    def session(kind):
        import threading  # pylint: disable=import-outside-toplevel
        key = (kind, threading.get_ident())
        if key not in sessions:
            sessions[key] = make_session(conn, admin_token if kind == "api" else None)
        return sessions[key]

    def get_token(_unused):
        response = session("token").post(acme["token_url"] + "?grant_type=client_credentials",
                                         auth=(oauth["clientid"], oauth["clientsecret"]))
        return response.status_code

    guids = [m["MessageGuid"] for m in mpls]

    def read_mpl(index):
        if index % 2:
            response = session("api").get(api + "/MessageProcessingLogs('%s')" % guids[index % len(guids)],
                                          headers=JSON)
        else:
            response = session("api").get(api + "/MessageProcessingLogs", headers=JSON,
                                          params={"$filter": "Status eq 'FAILED'", "$top": "20",
                                                  "$skip": str(index % 100)})
        return response.status_code

    limit = btp_sandbox.config.xsuaa.rate_limit_per_s
    btp_sandbox.config.xsuaa.rate_limit_per_s = 0
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            started = time.monotonic()
            token_statuses = list(pool.map(get_token, range(1000)))
            token_s = time.monotonic() - started
            started = time.monotonic()
            mpl_statuses = list(pool.map(read_mpl, range(1000)))
            mpl_s = time.monotonic() - started
    finally:
        btp_sandbox.config.xsuaa.rate_limit_per_s = limit
    print("\nthroughput: 1000 token requests in %.2f s (%.0f req/s); 1000 MPL reads in %.2f s (%.0f req/s)"
          % (token_s, 1000 / token_s, mpl_s, 1000 / mpl_s))
    assert token_statuses == [200] * 1000
    assert mpl_statuses == [200] * 1000
