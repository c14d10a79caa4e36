# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import datetime
import json
from urllib.parse import parse_qs, urlsplit

import pytest

requests = pytest.importorskip("requests")

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils import _odata  # noqa: E402
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._errors import ApiError, ParameterError  # noqa: E402
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._http import HttpClient  # noqa: E402
from ansible_collections.sap_btp.cloud_integration.tests.unit.plugins.http_fakes import FakeSession, fake_response  # noqa: E402

ROOT = "https://tenant.it-cpi018.cfapps.eu10.hana.ondemand.com/api/v1"


# ---------------------------------------------------------------------------------------------------------------
# paths and queries

@pytest.mark.parametrize("key, expected", [
    ("AGk_xKgivsDaGSUpuvz-eEFzhKZO", "('AGk_xKgivsDaGSUpuvz-eEFzhKZO')"),
    ("O'Brien", "('O''Brien')"),
    ("'quoted'", "('quoted')"),
    ("Id='X',Version='active'", "(Id='X',Version='active')"),
    ({"Id": "X", "Version": "active"}, "(Id='X',Version='active')"),
    (42, "(42)"),
    ("(TaskId='t')", "(TaskId='t')"),
])
def test_key_predicate(key, expected):
    assert _odata.key_predicate(key) == expected


def test_resource_path_rules():
    assert _odata.resource_path("MessageProcessingLogs") == "MessageProcessingLogs"
    assert _odata.resource_path("MessageProcessingLogs", "A1", "ErrorInformation/$value") == \
        "MessageProcessingLogs('A1')/ErrorInformation/$value"
    assert _odata.resource_path(path="/IntegrationPackages('P')/IntegrationDesigntimeArtifacts") == \
        "IntegrationPackages('P')/IntegrationDesigntimeArtifacts"
    with pytest.raises(ParameterError, match="navigation"):
        _odata.resource_path("IntegrationPackages", navigation="IntegrationDesigntimeArtifacts")
    with pytest.raises(ParameterError, match="path"):
        _odata.resource_path("IntegrationPackages", path="X")
    with pytest.raises(ParameterError, match="entity_set"):
        _odata.resource_path()


def test_query_options_and_encoding():
    options = _odata.query_options(filter="IntegrationArtifact/Id eq 'Orders' and Status ne 'DISCARDED'", select=["MessageGuid", "Status"],
                                   orderby=["LogEnd desc"], top=10, skip=5, inlinecount=True,
                                   query={"filterCustomHeaderProperties": "'po' eq '1'"})
    names = ["$filter", "$select", "$orderby", "$top", "$skip", "$inlinecount", "filterCustomHeaderProperties"]
    assert [name for name, _value in options] == names
    url = _odata.with_options(ROOT + "/MessageProcessingLogs", options)
    assert "$filter=IntegrationArtifact/Id%20eq%20'Orders'%20and%20Status%20ne%20'DISCARDED'" in url
    assert "$select=MessageGuid,Status" in url and "$orderby=LogEnd%20desc" in url and "+" not in url
    parsed = parse_qs(urlsplit(url).query)
    assert parsed["$inlinecount"] == ["allpages"] and parsed["filterCustomHeaderProperties"] == ["'po' eq '1'"]
    assert _odata.query_options(query="$format=json&sap-client=100") == [("$format", "json"), ("sap-client", "100")]
    assert _odata.service_root("https://x/") == "https://x/api/v1" and _odata.service_root("https://x/api/v1/") == "https://x/api/v1"


# ---------------------------------------------------------------------------------------------------------------
# dates and flattening

@pytest.mark.parametrize("value, expected", [
    ("/Date(1611846759005)/", "2021-01-28T15:12:39.005Z"),
    ("/Date(0)/", "1970-01-01T00:00:00.000Z"),
    ("/Date(-86400000)/", "1969-12-31T00:00:00.000Z"),
    ("/Date(1611846759005+0060)/", "2021-01-28T16:12:39.005+01:00"),
    ("2021-01-28T15:12:39", "2021-01-28T15:12:39"),
    ("Date(5)", "Date(5)"),
    (17, 17),
    (None, None),
])
def test_odata_date(value, expected):
    assert _odata.odata_date(value) == expected


def test_clean_flattens_and_drops_metadata():
    entity = {
        "__metadata": {"uri": ROOT + "/MessageProcessingLogs('A')", "type": "com.sap.hci.api.MessageProcessingLog"},
        "MessageGuid": "A", "LogStart": "/Date(1611846759005)/",
        "IntegrationArtifact": {"__metadata": {"type": "com.sap.hci.api.IntegrationArtifact"}, "Id": "Orders"},
        "ErrorInformation": {"__deferred": {"uri": ROOT + "/MessageProcessingLogs('A')/ErrorInformation"}},
        "Runs": {"results": [{"__metadata": {"uri": "r"}, "RunStart": "/Date(0)/"}]},
    }
    assert _odata.clean(entity) == {"MessageGuid": "A", "LogStart": "2021-01-28T15:12:39.005Z",
                                    "IntegrationArtifact": {"Id": "Orders"}, "Runs": [{"RunStart": "1970-01-01T00:00:00.000Z"}]}
    kept = _odata.clean(entity, keep_metadata=True, convert_dates=False)
    assert kept["__metadata"]["type"].endswith("MessageProcessingLog") and kept["LogStart"] == "/Date(1611846759005)/"
    assert "__deferred" in kept["ErrorInformation"]


def test_envelope_shapes():
    assert _odata.envelope({"d": {"results": [1], "__count": "3120", "__next": "n"}}) == ([1], None, 3120, "n")
    assert _odata.envelope({"d": {"Id": "x"}}) == (None, {"Id": "x"}, None, None)
    assert _odata.envelope({"d": [1, 2]}) == ([1, 2], None, None, None)
    assert _odata.envelope(None) == (None, None, None, None)


# ---------------------------------------------------------------------------------------------------------------
# paging

def entity(index):
    return {"__metadata": {"uri": "%s/E('%d')" % (ROOT, index)}, "Id": index}


class FakeServer:
    """A collection of `total` entities with server pages of `cap`, optionally ignoring $skip or sending no links."""

    def __init__(self, total, cap=1000, ignore_skip=False, next_links=True, count_always=False):
        self.total = total
        self.cap = cap
        self.ignore_skip = ignore_skip
        self.next_links = next_links
        self.count_always = count_always
        self.urls = []

    def __call__(self, url):
        self.urls.append(url)
        query = {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}
        skip = 0 if self.ignore_skip else int(query.get("$skip", 0))
        top = int(query["$top"]) if "$top" in query else None
        token = int(query.get("$skiptoken", 0))
        end = self.total if top is None else min(self.total, skip + top)
        start = skip + token
        stop = min(end, start + self.cap)
        body = {"results": [entity(i) for i in range(start, stop)]}
        if query.get("$inlinecount") == "allpages" or self.count_always:
            body["__count"] = str(self.total)
        if stop < end and self.next_links:
            rest = [(k, v) for k, v in query.items() if k != "$skiptoken"] + [("$skiptoken", str(token + self.cap))]
            body["__next"] = "%s/E?%s" % (ROOT, "&".join("%s=%s" % pair for pair in rest))
        return {"d": body}


def test_follows_next_links_over_3000_entities():
    server = FakeServer(3120)
    pager = _odata.Pager(server, ROOT + "/E", [], max_items=5000, root=ROOT)
    results = pager.run()
    assert [e["Id"] for e in results] == list(range(3120))
    assert pager.pages == 4 and not pager.truncated and not pager.skip_ignored


def test_inlinecount_is_reported():
    server = FakeServer(2600)
    pager = _odata.Pager(server, ROOT + "/E", [("$inlinecount", "allpages")], max_items=0, root=ROOT)
    assert len(pager.run()) == 2600 and pager.count == 2600


def test_max_items_truncates_and_says_so():
    server = FakeServer(3120)
    pager = _odata.Pager(server, ROOT + "/E", [], max_items=1500, root=ROOT)
    assert len(pager.run()) == 1500 and pager.truncated and pager.pages == 2


def test_exactly_max_items_is_not_truncated():
    pager = _odata.Pager(FakeServer(1000), ROOT + "/E", [], max_items=1000, root=ROOT)
    assert len(pager.run()) == 1000 and not pager.truncated


def test_user_top_is_not_truncation():
    pager = _odata.Pager(FakeServer(3120), ROOT + "/E", [("$top", "1500")], max_items=5000, root=ROOT)
    assert len(pager.run()) == 1500 and not pager.truncated


def test_skip_continuation_when_the_server_stops_linking():
    server = FakeServer(2500, next_links=False)
    pager = _odata.Pager(server, ROOT + "/E", [("$inlinecount", "allpages")], max_items=0, root=ROOT)
    results = pager.run()
    assert [e["Id"] for e in results] == list(range(2500))
    assert "$skip=1000" in server.urls[1] and "$skip=2000" in server.urls[2]


def test_client_paging_with_page_size():
    server = FakeServer(25)
    pager = _odata.Pager(server, ROOT + "/E", [], page_size=10, max_items=0, root=ROOT)
    assert [e["Id"] for e in pager.run()] == list(range(25))
    assert pager.pages == 3 and "$top=10" in server.urls[0] and "$skip=20" in server.urls[2]


def test_a_server_that_ignores_skip_does_not_loop():
    server = FakeServer(7, ignore_skip=True)
    warnings = []
    pager = _odata.Pager(server, ROOT + "/E", [], page_size=3, max_items=0, warn=warnings.append, root=ROOT)
    results = pager.run()
    assert [e["Id"] for e in results] == list(range(7))
    assert pager.skip_ignored and warnings and "ignored $skip" in warnings[0]
    assert len(server.urls) == 3 and "$top" not in server.urls[-1]


def test_ignored_skip_with_count_stops_without_duplicates():
    server = FakeServer(2500, ignore_skip=True, next_links=False, count_always=True)
    pager = _odata.Pager(server, ROOT + "/E", [], max_items=0, root=ROOT)
    results = pager.run()
    assert len(results) == 1000 and len({e["Id"] for e in results}) == 1000 and pager.skip_ignored


def test_repeated_next_link_stops():
    calls = []

    def fetch(url):
        calls.append(url)
        return {"d": {"results": [entity(len(calls))], "__next": ROOT + "/E?$skiptoken=1"}}
    pager = _odata.Pager(fetch, ROOT + "/E", [], max_items=0, root=ROOT)
    assert len(pager.run()) == 2 and len(calls) == 2


def test_relative_next_links_resolve_against_the_service_root():
    pages = [{"d": {"results": [entity(1)], "__next": "IntegrationPackages?$skiptoken=1"}}, {"d": {"results": [entity(2)]}}]
    urls = []

    def fetch(url):
        urls.append(url)
        return pages.pop(0)
    _odata.Pager(fetch, ROOT + "/IntegrationPackages", [], root=ROOT).run()
    assert urls[1] == ROOT + "/IntegrationPackages?$skiptoken=1"


def test_single_entity_and_no_content():
    pager = _odata.Pager(lambda url: {"d": {"Id": "x"}}, ROOT + "/E('x')", [], root=ROOT)
    assert pager.run() == [] and pager.single == {"Id": "x"}
    empty = _odata.Pager(lambda url: None, ROOT + "/E('x')/ErrorInformation", [], root=ROOT)
    assert empty.run() == [] and empty.no_content


def _lines(path):
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def test_dest_streams_pages_to_a_file(tmp_path):
    dest = tmp_path / "mpls.jsonl"
    sink = _odata.JsonLinesFile(str(dest))
    pager = _odata.Pager(FakeServer(3120), ROOT + "/E", [], max_items=2500, root=ROOT, sink=sink)
    assert pager.run() == [] and pager.written == 2500 and pager.truncated
    assert sink.finish() is True
    sink.discard()
    lines = _lines(dest)
    assert [e["Id"] for e in lines] == list(range(2500)) and "__metadata" not in lines[0]
    assert oct(dest.stat().st_mode & 0o777) == "0o600" and [p.name for p in tmp_path.iterdir()] == ["mpls.jsonl"]
    # the same content again: the file is left alone
    again = _odata.JsonLinesFile(str(dest))
    _odata.Pager(FakeServer(3120), ROOT + "/E", [], max_items=2500, root=ROOT, sink=again).run()
    assert again.finish() is False
    again.discard()
    assert [p.name for p in tmp_path.iterdir()] == ["mpls.jsonl"]


def test_dest_with_ignored_skip_restarts_the_file(tmp_path):
    dest = tmp_path / "e.jsonl"
    sink = _odata.JsonLinesFile(str(dest))
    pager = _odata.Pager(FakeServer(7, ignore_skip=True), ROOT + "/E", [], page_size=3, max_items=0, root=ROOT, sink=sink)
    pager.run()
    sink.finish()
    assert [e["Id"] for e in _lines(dest)] == list(range(7)) and pager.written == 7


def test_dest_in_a_missing_directory_is_a_parameter_error(tmp_path):
    with pytest.raises(ParameterError, match="dest: the directory .* does not exist"):
        _odata.JsonLinesFile(str(tmp_path / "missing" / "e.jsonl"))


def test_paging_false_reads_one_page():
    server = FakeServer(3120)
    pager = _odata.Pager(server, ROOT + "/E", [], follow=False, max_items=0, root=ROOT)
    assert len(pager.run()) == 1000 and pager.pages == 1


# ---------------------------------------------------------------------------------------------------------------
# reading ahead: the next page is requested (from the __next link at the end of the raw answer) while the current
# one is decoded and kept

class RawAnswer:
    def __init__(self, data, content=None):
        self.data = data
        self.content = content if content is not None else json.dumps(data).encode("utf-8")


class RawReader:
    """``(get, decode)`` over a FakeServer; ``hints`` maps a URL to the raw bytes its answer should end with."""

    def __init__(self, server, hints=None, fail=()):
        self.server = server
        self.hints = hints or {}
        self.fail = fail
        self.threads = set()

    def get(self, url):
        import threading  # pylint: disable=import-outside-toplevel
        self.threads.add(threading.current_thread().name)
        if url in self.fail:
            self.server.urls.append(url)
            raise ApiError("OData GET %s failed: HTTP 500" % url, status=500)
        data = self.server(url)
        return RawAnswer(data, self.hints.get(url))

    @staticmethod
    def decode(answer):
        return answer.data

    def pair(self):
        return self.get, self.decode


@pytest.mark.parametrize("body, expected", [
    (b'{"d":{"results":[{"Id":1}],"__next":"https://h/api/v1/E?$skiptoken=1000"}}', "https://h/api/v1/E?$skiptoken=1000"),
    (b'{"d" : {"results" : [], "__next" : "https:\\/\\/h\\/E?$skiptoken=2"} }\n', "https://h/E?$skiptoken=2"),
    (b'{"d":{"results":[{"Id":1}]}}', None),
    # a __next of an expanded navigation inside the last entity is not the collection's
    (b'{"d":{"results":[{"Nav":{"results":[],"__next":"https://h/Nav?$skiptoken=1"}}]}}', None),
    (b'{"d":{"results":[],"__next":""}}', None),
    (b"", None),
    (None, None),
])
def test_next_link_hint(body, expected):
    assert _odata.next_link_hint(body) == expected


def test_read_ahead_requests_each_page_once_and_keeps_the_order(tmp_path):
    server = FakeServer(3120)
    reader = RawReader(server)
    dest = tmp_path / "e.jsonl"
    sink = _odata.JsonLinesFile(str(dest))
    pager = _odata.Pager(server, ROOT + "/E", [], max_items=5000, root=ROOT, sink=sink, read=reader.pair())
    assert pager.run() == [] and pager.written == 3120 and not pager.truncated
    sink.finish()
    assert [e["Id"] for e in _lines(dest)] == list(range(3120))
    assert len(server.urls) == len(set(server.urls)) == 4 and pager.pages == 4
    # pages 3 and 4 were requested on the worker thread while pages 2 and 3 were kept
    assert pager.read_ahead == 2 and len(reader.threads) == 2


def test_read_ahead_makes_no_request_past_max_items():
    server = FakeServer(9000)
    pager = _odata.Pager(server, ROOT + "/E", [], max_items=2500, root=ROOT, read=RawReader(server).pair())
    assert [e["Id"] for e in pager.run()] == list(range(2500)) and pager.truncated
    assert len(server.urls) == 3 and pager.read_ahead == 1


def test_read_ahead_drops_a_wrong_hint_and_its_error():
    server = FakeServer(2500)
    second = ROOT + "/E?$skiptoken=1000"
    wrong = ROOT + "/Other"
    # the raw end of page 2 names another link than its decoded __next, and reading that link fails
    reader = RawReader(server, hints={second: b'{"d":{"results":[],"__next":"%s"}}' % wrong.encode()}, fail=(wrong,))
    pager = _odata.Pager(server, ROOT + "/E", [], max_items=0, root=ROOT, read=reader.pair())
    assert [e["Id"] for e in pager.run()] == list(range(2500))
    assert wrong in server.urls and server.urls[-1] == ROOT + "/E?$skiptoken=2000"
    assert pager.read_ahead == 0 and pager.pages == 3


def test_read_ahead_raises_the_error_of_a_needed_page():
    server = FakeServer(3120)
    third = ROOT + "/E?$skiptoken=2000"
    pager = _odata.Pager(server, ROOT + "/E", [], max_items=0, root=ROOT, read=RawReader(server, fail=(third,)).pair())
    with pytest.raises(ApiError, match="HTTP 500"):
        pager.run()
    assert server.urls.count(third) == 1


def test_client_reader_is_get_json_in_two_halves():
    session = FakeSession([fake_response(200, {"d": {"results": [{"Id": 1}], "__next": ROOT + "/E?$skiptoken=1"}}),
                           fake_response(204)])
    api = _odata.ODataClient(HttpClient(session=session, retries=0), ROOT, auth_headers={"Authorization": "Bearer t"})
    get, decode = api.reader()
    first = get(ROOT + "/E")
    assert _odata.next_link_hint(first.content) == ROOT + "/E?$skiptoken=1"
    assert decode(first)["d"]["results"] == [{"Id": 1}]
    assert decode(get(ROOT + "/E?$skiptoken=1")) is None


# ---------------------------------------------------------------------------------------------------------------
# HTTP: errors and CSRF

def response(status, body=None, headers=None, url=ROOT, content_type="application/json"):
    return fake_response(status, body, headers, url=url, content_type=content_type)


def client(outcomes, **kwargs):
    return _odata.ODataClient(HttpClient(session=FakeSession(outcomes), sleep=lambda s: None), ROOT, **kwargs)


def test_odata_error_becomes_a_readable_message():
    api = client([response(501, {"error": {"code": "Not Implemented", "message": {"lang": "en", "value": "The query option $inlinecount is not supported"}}})],
                 auth_headers={"Authorization": "Bearer t"})
    with pytest.raises(ApiError) as info:
        api.get_json(ROOT + "/IntegrationPackages?$inlinecount=allpages")
    message = str(info.value)
    assert "HTTP 501" in message and "$inlinecount is not supported" in message and "drop it" in message
    assert "Bearer" not in message and "?" not in message.split("[", 1)[1]


def test_403_names_the_role():
    api = client([response(403, {"error": {"code": "Forbidden", "message": {"lang": "en", "value": None}}})])
    with pytest.raises(ApiError, match="MonitoringDataRead"):
        api.get_json(ROOT + "/MessageProcessingLogs")


def test_401_refreshes_the_token_once():
    refreshed = []
    api = client([response(401, {"error": "invalid_token"}), response(200, {"d": {"results": []}})],
                 auth_headers={"Authorization": "Bearer old"}, refresh=lambda: refreshed.append(1) or {"Authorization": "Bearer new"})
    assert api.get_json(ROOT + "/E") == {"d": {"results": []}}
    calls = api.http.session.calls
    assert refreshed == [1] and calls[0]["headers"]["Authorization"] == "Bearer old" and calls[1]["headers"]["Authorization"] == "Bearer new"
    assert calls[0]["headers"]["Accept"] == "application/json"


def test_write_fetches_and_sends_the_csrf_token():
    api = client([response(200, {"d": {}}, {"X-CSRF-Token": "tok-1"}), response(201, {"d": {"Id": "P"}})])
    result = api.write("POST", ROOT + "/IntegrationPackages", data=b'{"Id": "P"}')
    calls = api.http.session.calls
    assert result.status_code == 201 and api.csrf_handshake
    assert calls[0]["method"] == "GET" and calls[0]["url"] == ROOT + "/" and calls[0]["headers"]["X-CSRF-Token"] == "Fetch"
    assert calls[1]["headers"]["X-CSRF-Token"] == "tok-1" and calls[1]["headers"]["Content-Type"] == "application/json"


def test_write_without_token_and_retry_on_required():
    api = client([response(200, {"d": {}}), response(403, {"error": {"code": "Forbidden", "message": {"value": "CSRF"}}}, {"X-CSRF-Token": "Required"}),
                  response(200, {"d": {}}, {"X-CSRF-Token": "tok-2"}), response(201, {"d": {}})])
    result = api.write("POST", ROOT + "/IntegrationPackages", data=b"{}")
    calls = api.http.session.calls
    assert result.status_code == 201 and "X-CSRF-Token" not in calls[1]["headers"] and calls[3]["headers"]["X-CSRF-Token"] == "tok-2"


def test_no_content_is_none():
    assert client([response(204)]).get_json(ROOT + "/MessageProcessingLogs('A')/ErrorInformation") is None


# ---------------------------------------------------------------------------------------------------------------
# message processing logs

NOW = datetime.datetime(2026, 3, 14, 12, 0, 0, tzinfo=datetime.timezone.utc)


def test_parse_time_forms():
    assert _odata.parse_time("30m", "since", NOW) == NOW - datetime.timedelta(minutes=30)
    assert _odata.parse_time("2h", "since", NOW) == NOW - datetime.timedelta(hours=2)
    assert _odata.parse_time("2026-03-14T10:00:00", "since") == datetime.datetime(2026, 3, 14, 10, tzinfo=datetime.timezone.utc)
    assert _odata.parse_time("2026-03-14T11:00:00+01:00", "since") == datetime.datetime(2026, 3, 14, 10, tzinfo=datetime.timezone.utc)
    assert _odata.parse_time(None, "since") is None
    with pytest.raises(ParameterError, match="since"):
        _odata.parse_time("yesterday", "since")


def test_mpl_filter_uses_utc_literals_without_zone():
    text = _odata.mpl_filter(correlation_id="C1", integration_flow="Orders", statuses=["FAILED", "RETRY"],
                             since=NOW - datetime.timedelta(hours=1), until=NOW)
    assert text == ("CorrelationId eq 'C1' and IntegrationArtifact/Id eq 'Orders' and (Status eq 'FAILED' or Status eq 'RETRY') "
                    "and LogEnd ge datetime'2026-03-14T11:00:00.000' and LogStart le datetime'2026-03-14T12:00:00.000'")
    assert _odata.mpl_filter(statuses=["COMPLETED"]) == "Status eq 'COMPLETED'"
    assert _odata.mpl_filter() is None


def test_wait_outcomes():
    assert _odata.wait_outcome([], ["COMPLETED"]) == "pending"
    assert _odata.wait_outcome([{"Status": "PROCESSING"}], ["COMPLETED"]) == "pending"
    assert _odata.wait_outcome([{"Status": "COMPLETED"}], ["COMPLETED"]) == "done"
    assert _odata.wait_outcome([{"Status": "FAILED"}], ["COMPLETED"]) == "unexpected"
    assert _odata.wait_outcome([{"Status": "RETRY"}], ["COMPLETED"]) == "pending"
    assert _odata.wait_outcome([{"Status": "FAILED"}], ["FAILED", "COMPLETED"]) == "done"


def test_poll_until_completed_and_timeout():
    answers = [[], [{"Status": "PROCESSING"}], [{"Status": "COMPLETED"}]]
    clock = iter(range(100)).__next__
    sleeps = []
    logs, outcome, waited = _odata.poll(lambda: answers.pop(0), ["COMPLETED"], 60, 2, clock=clock, sleep=sleeps.append)
    assert outcome == "done" and logs == [{"Status": "COMPLETED"}] and sleeps == [2, 2]
    ticks = iter(range(0, 1000, 5)).__next__
    logs, outcome, waited = _odata.poll(lambda: [{"Status": "PROCESSING"}], ["COMPLETED"], 12, 2, clock=ticks, sleep=lambda s: None)
    assert outcome == "timeout" and waited >= 10
    logs, outcome, _waited = _odata.poll(lambda: [{"Status": "FAILED"}], ["COMPLETED"], 60, 2, clock=clock, sleep=sleeps.append)
    assert outcome == "unexpected"
    logs, outcome, _waited = _odata.poll(lambda: [], [], 60, 2)
    assert outcome == "done"
