# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

requests = pytest.importorskip("requests")
jwt = pytest.importorskip("jwt")

from ansible.module_utils import basic  # noqa: E402
from ansible.module_utils.common.text.converters import to_bytes  # noqa: E402

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils import _module  # noqa: E402
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._http import HttpClient  # noqa: E402
from ansible_collections.sap_btp.cloud_integration.plugins.modules import iflow_request, message_processing_log_info, oauth_token, odata_request  # noqa: E402
from ansible_collections.sap_btp.cloud_integration.tests.unit.plugins.http_fakes import FakeSession, fake_response  # noqa: E402

TOKEN_URL = "https://acme-dev.authentication.eu10.hana.ondemand.com/oauth/token"
RT_KEY = {"oauth": {"clientid": "sb-1!b1|it-rt-acme-dev!b196", "clientsecret": "rt-secret$AAAA", "tokenurl": TOKEN_URL,
                    "url": "https://acme-dev.it-cpi018-rt.cfapps.eu10.hana.ondemand.com"}}
API_KEY = {"oauth": {"clientid": "sb-2!b1|it!b196", "clientsecret": "api-secret$BBBB", "tokenurl": TOKEN_URL,
                     "url": "https://acme-dev.it-cpi018.cfapps.eu10.hana.ondemand.com"}}
COLLECTIONS_ROOT = os.path.abspath(os.path.join(os.path.dirname(oauth_token.__file__), "..", "..", "..", "..", ".."))


def response(status, body=None, headers=None, content_type="application/json", url=TOKEN_URL):
    return fake_response(status, body, headers, url=url, content_type=content_type)


def token_answer():
    now = int(time.time())
    token = jwt.encode({"client_id": "sb-1!b1|it-rt-acme-dev!b196", "iat": now, "exp": now + 3600,
                        "scope": ["it-rt-acme-dev!b196.ESBMessaging.send"]}, "k" * 32, algorithm="HS256")
    return response(200, {"access_token": token, "token_type": "bearer", "expires_in": 3599,
                          "scope": "it-rt-acme-dev!b196.ESBMessaging.send"})


@pytest.fixture
def run(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("SAP_BTP_CACHE_DIR", str(tmp_path / "cache"))
    for name in ("CPI_SERVICE_KEY", "CPI_CLIENT_ID", "CPI_URL", "CPI_TOKEN_URL"):
        monkeypatch.delenv(name, raising=False)

    def runner(module, args, outcomes=()):
        session = FakeSession(outcomes)
        monkeypatch.setattr(_module.CloudIntegrationModule, "http",
                            lambda self, **kw: HttpClient(session=session, sleep=lambda s: None, redactor=self.redactor))
        monkeypatch.setattr(basic, "_ANSIBLE_ARGS", to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": args})))
        monkeypatch.setattr(basic, "_ANSIBLE_PROFILE", "legacy", raising=False)
        with pytest.raises(SystemExit):
            module.main()
        return json.loads(capsys.readouterr().out), session
    return runner


def test_oauth_token_result_and_cache(run):
    result, session = run(oauth_token, {"service_key": RT_KEY}, [token_answer()])
    assert not result.get("failed") and result["cached"] is False and result["plan"] == "integration-flow"
    assert result["access_token"].count(".") == 2 and result["scopes"] == ["it-rt-acme-dev!b196.ESBMessaging.send"]
    assert len(session.calls) == 1
    # the public fields of the no_log service key are not masked in the result
    assert result["client_id"] == RT_KEY["oauth"]["clientid"] and result["token_url"] == TOKEN_URL
    again, session = run(oauth_token, {"service_key": RT_KEY})
    assert again["cached"] is True and session.calls == [] and again["access_token"] == result["access_token"]
    assert "rt-secret$AAAA" not in json.dumps(again)


def test_oauth_token_401_message_is_clean(run):
    bad = response(401, {"error": "unauthorized", "error_description": "Bad credentials"})
    result, _session = run(oauth_token, {"service_key": RT_KEY, "cache": False}, [bad])
    assert result["failed"] and result["status"] == 401 and "deleted" in result["msg"]
    assert "rt-secret" not in json.dumps(result)


def test_iflow_request_with_an_api_key_fails_before_any_request(run):
    result, session = run(iflow_request, {"service_key": API_KEY, "path": "/echo"})
    assert result["failed"] and "'api' key" in result["msg"] and "integration-flow" in result["msg"] and session.calls == []


def test_odata_with_an_iflow_key_fails_before_any_request(run):
    for module, args in ((odata_request, {"entity_set": "MessageProcessingLogs"}), (message_processing_log_info, {"mpl_id": "A"})):
        result, session = run(module, dict(args, service_key=RT_KEY))
        assert result["failed"] and "'integration-flow' key" in result["msg"] and session.calls == []


def test_iflow_request_500_keeps_the_mpl_id(run):
    body = b"An internal server error occured: The MPL ID for the failed message is : AGk_xKgivsDaGSUpuvz-eEFzhKZO"
    result, session = run(iflow_request, {"service_key": RT_KEY, "path": "/fail", "body": {"a": 1}},
                          [token_answer(), response(500, body, content_type="text/plain")])
    assert result["failed"] and result["status"] == 500 and result["mpl_id"] == "AGk_xKgivsDaGSUpuvz-eEFzhKZO"
    assert "message_processing_log_info" in result["msg"] and result["changed"] is True
    assert session.calls[1]["url"].endswith("/http/fail") and session.calls[1]["headers"]["Content-Type"] == "application/json"


def test_iflow_request_check_mode_sends_nothing(run):
    result, session = run(iflow_request, {"service_key": RT_KEY, "path": "/echo", "_ansible_check_mode": True})
    assert result["changed"] is True and "not sent" in result["msg"] and session.calls == []


def test_odata_request_pages_and_converts(run):
    page1 = {"d": {"results": [{"__metadata": {"uri": "u1"}, "LogStart": "/Date(0)/"}], "__count": "2",
                   "__next": API_KEY["oauth"]["url"] + "/api/v1/MessageProcessingLogs?$skiptoken=1"}}
    page2 = {"d": {"results": [{"__metadata": {"uri": "u2"}, "LogStart": "/Date(1000)/"}]}}
    result, session = run(odata_request, {"service_key": API_KEY, "entity_set": "MessageProcessingLogs", "inlinecount": True},
                          [token_answer(), response(200, page1), response(200, page2)])
    assert result["results"] == [{"LogStart": "1970-01-01T00:00:00.000Z"}, {"LogStart": "1970-01-01T00:00:01.000Z"}]
    assert result["count"] == 2 and result["pages"] == 2 and result["truncated"] is False and result["changed"] is False
    assert "$inlinecount=allpages" in session.calls[1]["url"]


def test_message_processing_log_info_reports_failed_with_error_text(run):
    mpl = {"d": {"MessageGuid": "AMPL", "Status": "FAILED", "LogEnd": "/Date(0)/"}}
    result, _session = run(message_processing_log_info, {"service_key": API_KEY, "mpl_id": "AMPL", "wait_for": ["COMPLETED"]},
                           [token_answer(), response(200, mpl), response(200, b"java.lang.IllegalArgumentException: boom", content_type="text/plain")])
    assert result["failed"] and "AMPL is FAILED: java.lang.IllegalArgumentException: boom" in result["msg"]
    assert result["logs"][0]["error_text"] == "java.lang.IllegalArgumentException: boom"


def test_cached_token_path_imports_neither_requests_nor_cryptography(tmp_path):
    """A warm-cache oauth_token run stays cheap: no requests, no cryptography, no PyJWT import."""
    cert_key = {"oauth": {"clientid": "sb-1!b1|it-rt-acme-dev!b196", "url": RT_KEY["oauth"]["url"],
                          "tokenurl": TOKEN_URL.replace(".authentication.", ".authentication.cert."),
                          "certificate": "-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\\n",
                          "key": "-----BEGIN RSA PRIVATE KEY-----\\nMIIE\\n-----END RSA PRIVATE KEY-----\\n"}}
    script = r'''
import json, sys, time
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils import _oauth, _service_key
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._cache import FileCache
from ansible.module_utils import basic
args = json.loads(sys.argv[1])
creds = _service_key.parse_service_key(args["service_key"], details=False)
creds["tokenurl_from_key"] = True
entry = {"access_token": "a.eyJjbGllbnRfaWQiOiAieCJ9.c", "token_type": "bearer", "scope": "s", "expires_at": time.time() + 3600,
         "obtained_at": time.time(), "token_url": creds["tokenurl"]}
FileCache(_oauth.CACHE_NAMESPACE).put(_oauth.token_cache_key(creds, "mtls"), entry, entry["expires_at"])
basic._ANSIBLE_ARGS = json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode()
basic._ANSIBLE_PROFILE = "legacy"
from ansible_collections.sap_btp.cloud_integration.plugins.modules import oauth_token
try:
    oauth_token.main()
except SystemExit:
    pass
sys.stderr.write(json.dumps(sorted(m for m in ("requests", "cryptography", "jwt", "urllib3") if m in sys.modules)))
'''
    env = dict(os.environ, PYTHONPATH=COLLECTIONS_ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
               SAP_BTP_CACHE_DIR=str(tmp_path / "cache"))
    proc = subprocess.run([sys.executable, "-c", script, json.dumps({"service_key": cert_key})], capture_output=True, text=True,
                          env=env, timeout=60, check=False)
    assert proc.stdout, proc.stderr
    result = json.loads(proc.stdout)
    assert result["cached"] is True and result["auth_method"] == "mtls", proc.stderr
    assert json.loads(proc.stderr.strip().splitlines()[-1]) == []
