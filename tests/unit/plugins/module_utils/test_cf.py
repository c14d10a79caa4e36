# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import base64
import json
import time

import pytest

requests = pytest.importorskip("requests")

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils import _cf  # noqa: E402
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._errors import ApiError, ParameterError  # noqa: E402
from ansible_collections.sap_btp.cloud_integration.tests.unit.plugins.module_utils.cf_fake import (  # noqa: E402
    API, REFRESH_TOKEN, SPACE_GUID, UAA, FakeCf, cf_error, make_client, response,
)


def jwt(exp):
    payload = base64.urlsafe_b64encode(json.dumps({"exp": exp}).encode()).decode().rstrip("=")
    return "eyJhbGciOiJub25lIn0.%s.sig" % payload


def test_argument_spec_env_fallbacks_and_no_log():
    spec = _cf.cf_argument_spec()
    assert spec["cf_api"]["fallback"][1] == ["CF_API"]
    assert spec["cf_username"]["fallback"][1] == ["CF_USERNAME"]
    assert spec["org"]["fallback"][1] == ["CF_ORG"] and spec["space"]["fallback"][1] == ["CF_SPACE"]
    for name in ("cf_password", "cf_client_secret", "cf_token"):
        assert spec[name]["no_log"] is True
    # the password file option is a path, not a secret; declared next to cf_password
    assert spec["cf_password_file"] == {"type": "path", "no_log": False, "fallback": spec["cf_password_file"]["fallback"]}
    assert spec["cf_password_file"]["fallback"][1] == ["CF_PASSWORD_FILE"]
    assert list(spec).index("cf_password_file") == list(spec).index("cf_password") + 1
    kwargs = _cf.cf_module_kwargs()
    assert ("cf_client_id", "cf_client_secret") in kwargs["required_together"]
    assert kwargs["required_by"]["cf_password"] == ("cf_username",)
    assert kwargs["required_by"]["cf_password_file"] == ("cf_username",)


# -- cf_password_file -------------------------------------------------------------------------------------

class FakeModule:
    """Just enough of CloudIntegrationModule for CfClient.from_module()."""

    def __init__(self, **params):
        self.params = {name: None for name in _cf.cf_argument_spec()}
        self.params.update(params)
        self.secrets = []
        self.warnings = []
        self.redactor = None

    def add_secrets(self, *values):
        self.secrets.extend(value for value in values if value)

    def warn(self, message):
        self.warnings.append(message)


def password_file(tmp_path, content, name="cf-password"):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return str(path)


@pytest.mark.parametrize("content, expected", [
    ("secret-pw", "secret-pw"),
    ("secret-pw\n", "secret-pw"),
    ("secret-pw\r\n", "secret-pw"),
    ("secret-pw\n\n", "secret-pw"),
    # only line breaks at the end go; spaces are part of a password
    ("  pass phrase with spaces \n", "  pass phrase with spaces "),
    ("p\u00e4ss-w\u00f6rd\n", "p\u00e4ss-w\u00f6rd"),
])
def test_password_file_is_read_without_trailing_line_breaks(tmp_path, content, expected):
    assert _cf.read_password_file(password_file(tmp_path, content)) == expected


def test_password_file_missing_names_the_option(tmp_path):
    path = str(tmp_path / "nowhere")
    with pytest.raises(ParameterError) as info:
        _cf.read_password_file(path)
    assert info.value.option == "cf_password_file"
    assert str(info.value) == "cf_password_file: the password file %s does not exist" % path


@pytest.mark.parametrize("content", ["", "\n", "\r\n\n"])
def test_password_file_empty(tmp_path, content):
    path = password_file(tmp_path, content)
    with pytest.raises(ParameterError) as info:
        _cf.read_password_file(path)
    assert info.value.option == "cf_password_file"
    assert str(info.value) == "cf_password_file: the password file %s is empty" % path


def test_password_file_unreadable_directory_or_binary(tmp_path, monkeypatch):
    with pytest.raises(ParameterError, match="^cf_password_file: .* is a directory"):
        _cf.read_password_file(str(tmp_path))
    binary = password_file(tmp_path, b"\xff\xfesecret-pw-bytes")
    with pytest.raises(ParameterError) as info:
        _cf.read_password_file(binary)
    assert str(info.value).startswith("cf_password_file: %s is not a text file" % binary)
    assert "secret-pw" not in str(info.value)
    # permissions cannot be tested with chmod when the tests run as root: make open() fail as it would
    readable = password_file(tmp_path, "secret-pw")
    from ansible_collections.sap_btp.cloud_integration.plugins.module_utils import _secret_io

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(_secret_io, "open", denied, raising=False)
    with pytest.raises(ParameterError) as info:
        _cf.read_password_file(readable)
    assert str(info.value) == "cf_password_file: cannot read %s: Permission denied" % readable


def test_resolve_password_precedence(tmp_path):
    path = password_file(tmp_path, "from-the-file\n")
    assert _cf.resolve_password({"cf_password": "from-the-option", "cf_password_file": path}) == "from-the-option"
    # cf_password wins without reading the file: a missing file is no error then
    assert _cf.resolve_password({"cf_password": "from-the-option", "cf_password_file": str(tmp_path / "none")}) == "from-the-option"
    assert _cf.resolve_password({"cf_password": None, "cf_password_file": path}) == "from-the-file"
    # an empty cf_password (an empty CF_PASSWORD) counts as not set
    assert _cf.resolve_password({"cf_password": "", "cf_password_file": path}) == "from-the-file"
    with pytest.raises(ParameterError) as info:
        _cf.resolve_password({"cf_password": None, "cf_password_file": None})
    assert info.value.option == "cf_password" and "cf_password_file" in str(info.value)


def test_from_module_logs_in_with_the_password_file(tmp_path, monkeypatch):
    from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._http import HttpClient
    from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._redact import Redactor

    monkeypatch.setenv("SAP_BTP_CACHE_DIR", str(tmp_path / "cache"))
    fake = FakeCf()
    module = FakeModule(cf_api=API, cf_username="user@example.com", cf_password_file=password_file(tmp_path, "secret-pw\n"),
                        space_guid=SPACE_GUID)
    module.redactor = Redactor()
    client = _cf.CfClient.from_module(module, http=HttpClient(session=fake, sleep=lambda s: None, redactor=module.redactor))
    assert client.auth["kind"] == "password" and client.auth["password"] == "secret-pw"
    # the password read from the file is a registered secret, like cf_password
    assert module.secrets == ["secret-pw"]
    client.find_instance("x")
    assert fake.tokens == 1  # UAA accepted the password without its trailing newline


def test_from_module_password_file_errors_and_laziness(tmp_path):
    missing = str(tmp_path / "missing")
    with pytest.raises(ParameterError, match="^cf_password_file: the password file .* does not exist"):
        _cf.CfClient.from_module(FakeModule(cf_api=API, cf_username="u", cf_password_file=missing), http=object())
    with pytest.raises(ParameterError, match="^cf_password: cf_username is set but no password"):
        _cf.CfClient.from_module(FakeModule(cf_api=API, cf_username="u"), http=object())
    # the file is read only for the password grant: another credential source never touches it
    module = FakeModule(cf_api=API, cf_token="bearer tok", cf_password_file=missing)
    assert _cf.CfClient.from_module(module, http=object()).auth == {"kind": "token", "token": "tok"}
    module = FakeModule(cf_api=API, cf_client_id="c", cf_client_secret="client-secret", cf_password_file=missing)
    assert _cf.CfClient.from_module(module, http=object()).auth["kind"] == "client_credentials"
    # cf_password wins over the file
    module = FakeModule(cf_api=API, cf_username="u", cf_password="from-the-option", cf_password_file=password_file(tmp_path, "from-file"))
    assert _cf.CfClient.from_module(module, http=object()).auth["password"] == "from-the-option"


def test_discovery_login_and_lookup_are_cached_across_clients(tmp_path):
    fake = FakeCf()
    fake.add_instance("a")
    client = make_client(fake, tmp_path)
    assert client.find_instance("a")["plan_name"] == "integration-flow"
    first = len(fake.calls)
    assert [c[1] for c in fake.calls] == ["/", "/oauth/token", "/v3/organizations", "/v3/spaces", "/v3/service_instances"]
    # a second task (new client, same cache): only the lookup itself
    other = make_client(fake, tmp_path)
    other.find_instance("a")
    assert len(fake.calls) == first + 1
    assert fake.tokens == 1


def test_password_grant_form_and_origin(tmp_path):
    fake = FakeCf()
    seen = {}
    original = fake.uaa

    def spy(method, path, kwargs):
        seen.update(kwargs)
        return original(method, path, kwargs)
    fake.uaa = spy
    client = make_client(fake, tmp_path, auth={"kind": "password", "username": "u", "password": "secret-pw", "origin": "corp-idp"})
    client.space_guid()
    assert seen["data"]["grant_type"] == "password"
    assert json.loads(seen["data"]["login_hint"]) == {"origin": "corp-idp"}
    assert seen["auth"] == ("cf", "")


def test_bad_password_message_has_no_secret(tmp_path):
    fake = FakeCf()
    client = make_client(fake, tmp_path, auth={"kind": "password", "username": "u", "password": "wrong-pw", "origin": None})
    client.redactor.add("wrong-pw")
    with pytest.raises(ApiError) as info:
        client.space_guid()
    assert "Bad credentials" in str(info.value) and "wrong-pw" not in str(info.value)
    assert info.value.status == 401


def test_a_different_password_never_reuses_the_cached_token(tmp_path):
    fake = FakeCf()
    good = {"kind": "password", "username": "u", "password": "secret-pw", "origin": None}
    make_client(fake, tmp_path, auth=good).space_guid()
    assert fake.tokens == 1
    make_client(fake, tmp_path, auth=dict(good)).access_token()
    assert fake.tokens == 1
    wrong = make_client(fake, tmp_path, auth=dict(good, password="wrong-pw"))
    with pytest.raises(ApiError) as info:
        wrong.access_token()
    assert info.value.status == 401 and "Bad credentials" in str(info.value)
    assert "secret-pw" not in wrong.principal and "wrong-pw" not in wrong.principal


def test_invalid_auth_token_refreshes_once(tmp_path):
    fake = FakeCf()
    client = make_client(fake, tmp_path)
    client.space_guid()
    fake.valid_tokens.clear()  # the cached token is revoked
    assert client.find_instance("nothing") is None
    assert fake.tokens == 2
    # the refreshed token went to the cache: a new client does not log in again
    make_client(fake, tmp_path).find_instance("nothing")
    assert fake.tokens == 2


def test_given_token_cannot_be_refreshed(tmp_path):
    fake = FakeCf()
    client = make_client(fake, tmp_path, auth={"kind": "token", "token": "expired"}, space_guid=SPACE_GUID)
    with pytest.raises(ApiError, match="cf_token is invalid or expired"):
        client.find_instance("x")


def test_cli_config_access_token_used_without_login(tmp_path):
    fake = FakeCf()
    token = jwt(time.time() + 3600)
    fake.valid_tokens.add(token)
    client = make_client(fake, tmp_path, auth={"kind": "cli", "access_token": token, "refresh_token": "rt", "client_id": "cf", "client_secret": ""},
                         space_guid=SPACE_GUID)
    client.find_instance("x")
    assert fake.tokens == 0


def test_cli_config_expired_access_token_uses_refresh_grant(tmp_path):
    fake = FakeCf()
    client = make_client(fake, tmp_path, auth={"kind": "cli", "access_token": jwt(time.time() - 10), "refresh_token": "rt", "client_id": "cf",
                                               "client_secret": ""}, space_guid=SPACE_GUID)
    client.find_instance("x")
    assert fake.tokens == 1


def test_cli_refresh_grant_reuses_the_opaque_refresh_token(tmp_path):
    """Real UAA (issue 13) answers a refresh grant with a new access token and the same opaque `<32 hex>-r` refresh
    token: every login of a cf CLI session sends the session's refresh token, never one from an answer."""
    fake = FakeCf()
    client = make_client(fake, tmp_path, auth={"kind": "cli", "access_token": jwt(time.time() - 10), "refresh_token": REFRESH_TOKEN,
                                               "client_id": "cf", "client_secret": ""}, space_guid=SPACE_GUID)
    client.find_instance("x")
    fake.valid_tokens.clear()  # CF rejects the token: the client logs in again once
    client.find_instance("x")
    assert fake.grants == [("refresh_token", REFRESH_TOKEN), ("refresh_token", REFRESH_TOKEN)]


def test_load_cf_cli_config(tmp_path, monkeypatch):
    (tmp_path / ".cf").mkdir()
    (tmp_path / ".cf" / "config.json").write_text(json.dumps({"Target": API, "RefreshToken": "rt", "SpaceFields": {"GUID": "s"}}))
    monkeypatch.setenv("CF_HOME", str(tmp_path))
    assert _cf.load_cf_cli_config()["Target"] == API
    monkeypatch.setenv("CF_HOME", str(tmp_path / "none"))
    assert _cf.load_cf_cli_config() is None


def test_missing_org_and_space_name_the_option(tmp_path):
    fake = FakeCf()
    client = make_client(fake, tmp_path)
    client.org = "nope"
    with pytest.raises(ParameterError, match="^org: organization 'nope' not found"):
        client.space_guid()
    client.org, client.space = "acme-org", "nope"
    with pytest.raises(ParameterError, match="^space: space 'nope' not found"):
        client.space_guid()


def test_no_api_endpoint():
    with pytest.raises(ParameterError, match="cf_api"):
        _cf.CfClient(None, None, {"kind": "token", "token": "t"}, use_cache=False)
    assert _cf.normalise_api_url("api.cf.example/") == "https://api.cf.example"


def test_pagination_is_followed_only_on_the_api_host(tmp_path):
    fake = FakeCf()
    client = make_client(fake, tmp_path, space_guid=SPACE_GUID)
    first = response(200, {"pagination": {"next": {"href": API + "/v3/service_instances?page=2"}}, "resources": [{"guid": "1"}]})
    second = response(200, {"pagination": {"next": None}, "resources": [{"guid": "2"}]})
    fake.faults += [("GET", "/v3/service_instances", first), ("GET", "/v3/service_instances", second)]
    resources, dummy = client.list_resources("/v3/service_instances", "list")
    assert [r["guid"] for r in resources] == ["1", "2"]
    evil = response(200, {"pagination": {"next": {"href": "https://evil.example/v3/x"}}, "resources": []})
    fake.faults.append(("GET", "/v3/service_instances", evil))
    with pytest.raises(ApiError, match="not on the API host"):
        client.list_resources("/v3/service_instances", "list")


def test_wait_for_job_retries_5xx_and_429_then_completes(tmp_path):
    fake = FakeCf(job_polls=2)
    client = make_client(fake, tmp_path, space_guid=SPACE_GUID)
    client.http.retries = 0
    job_response = fake.new_job("service_instance.create", "x", lambda ok: None)
    url = job_response.headers["Location"]
    fake.faults += [("GET", "/v3/jobs/", response(500, {"errors": []})), ("GET", "/v3/jobs/", response(429, None, {"Retry-After": "1"})),
                    ("GET", "/v3/jobs/", cf_error(502, 10001, "CF-ServiceBrokerBadResponse", "gateway"))]
    job = client.wait_for_job(url, 60, "Creating x")
    assert job["state"] == "COMPLETE"


def test_wait_for_job_failed_surfaces_broker_message(tmp_path):
    fake = FakeCf()
    client = make_client(fake, tmp_path, space_guid=SPACE_GUID)
    fake.fail_next_job = "Invalid role(s) for plan 'api': 'Foo'."
    url = fake.new_job("service_instance.create", "x", lambda ok: None).headers["Location"]
    with pytest.raises(ApiError) as info:
        client.wait_for_job(url, 60, "Creating service instance 'x'")
    assert "Service broker error: Service broker it-rt-broker failed with: Invalid role(s) for plan 'api': 'Foo'." in str(info.value)
    assert info.value.title == "CF-ServiceBrokerBadResponse"


def test_wait_for_job_timeout(tmp_path):
    fake = FakeCf(job_polls=10 ** 6)
    now = [1000.0]

    def clock():
        now[0] += 5
        return now[0]
    client = make_client(fake, tmp_path, space_guid=SPACE_GUID, clock=clock)
    url = fake.new_job("service_instance.create", "x", lambda ok: None).headers["Location"]
    with pytest.raises(ApiError, match="not finished after 30 seconds"):
        client.wait_for_job(url, 30, "Creating x")


def test_poll_intervals_start_short_and_back_off():
    client = _cf.CfClient(None, API, {"kind": "token", "token": "t"}, use_cache=False)
    intervals = client.poll_intervals()
    values = [next(intervals) for dummy in range(40)]
    assert values[0] <= 0.25 and values == sorted(values) and values[-1] == _cf.POLL_MAX
    # an operation that finishes after t seconds is seen at most about a third of t later
    for index in range(1, 40):
        waited = sum(values[:index])
        assert values[index] <= max(_cf.POLL_FIRST, 0.35 * waited) + 1e-9
    # a 60 s provisioning costs few polls
    assert len([v for v in range(40) if sum(values[:v]) < 60]) <= 25


def test_fetch_key_errors_and_success(tmp_path):
    fake = FakeCf()
    client = make_client(fake, tmp_path)
    with pytest.raises(ParameterError, match="^instance: service instance 'i' not found"):
        client.fetch_key("i", "k")
    inst = fake.add_instance("i")
    with pytest.raises(ParameterError, match="has no service key 'k'"):
        client.fetch_key("i", "k")
    fake.add_key("k", inst["guid"])
    before = len(fake.calls)
    raw = client.fetch_key("i", "k")
    assert len(fake.calls) - before == 2, fake.calls[before:]
    assert raw["oauth"]["clientsecret"].startswith("a1b2")
    key_guid = next(iter(fake.keys))
    before = len(fake.calls)
    assert client.fetch_key("i", "k", key_guid=key_guid) == raw and len(fake.calls) - before == 1
    with pytest.raises(ParameterError, match="^key_guid: service key no-such-guid .* not found"):
        client.fetch_key("i", "k", key_guid="no-such-guid")
    assert client.redactor.scrub(raw["oauth"]["clientsecret"]) == "********"


def test_find_key_by_instance_name_filters_space(tmp_path):
    fake = FakeCf()
    inst = fake.add_instance("i")
    other = fake.add_instance("i")
    other["relationships"]["space"]["data"]["guid"] = "other-space"
    fake.add_key("k", other["guid"])
    key = fake.add_key("k", inst["guid"])
    client = make_client(fake, tmp_path)
    found, instance = client.find_key_by_instance_name("i", "k")
    assert found["guid"] == key["guid"] and instance["guid"] == inst["guid"]


def test_request_refuses_foreign_host(tmp_path):
    client = make_client(FakeCf(), tmp_path, space_guid=SPACE_GUID)
    with pytest.raises(ApiError, match="refusing to send the Cloud Foundry token"):
        client.request("GET", UAA + "/userinfo", "x")
