# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import base64
import datetime
import json
import multiprocessing
import os
import stat
import sys
import time
from urllib.parse import unquote

import pytest

requests = pytest.importorskip("requests")
x509 = pytest.importorskip("cryptography.x509")
jwt = pytest.importorskip("jwt")

from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils import _credentials, _oauth  # noqa: E402
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._errors import ApiError, ParameterError  # noqa: E402
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._http import HttpClient  # noqa: E402
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._redact import Redactor  # noqa: E402
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._service_key import ServiceKeyError  # noqa: E402

TOKEN_URL = "https://acme-dev.authentication.eu10.hana.ondemand.com/oauth/token"
CERT_TOKEN_URL = "https://acme-dev.authentication.cert.eu10.hana.ondemand.com/oauth/token"
RT_URL = "https://acme-dev.it-cpi018-rt.cfapps.eu10-003.hana.ondemand.com"
API_URL = "https://acme-dev.it-cpi018.cfapps.eu10-003.hana.ondemand.com"
RT_CLIENT = "sb-3f0c2d11-8a7b-4c1e-9d2f-5b6a7c8d9e01!b137126|it-rt-acme-dev!b196"
API_CLIENT = "sb-11111111-2222-3333-4444-555555555555!b137126|it!b196"
SECRET = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d$Q2xpZW50U2VjcmV0+RmFrZVZhbHVl/Rm9y=="
SIGNING_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _cert_and_key():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "client")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key()).serial_number(7)
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM).decode(),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                              serialization.NoEncryption()).decode())


CERT_PEM, KEY_PEM = _cert_and_key()


def make_jwt(client_id=RT_CLIENT, lifetime=3600, scopes=("it-rt-acme-dev!b196.ESBMessaging.send",), kid="key-1", iat=None):
    now = int(time.time()) if iat is None else iat
    claims = {"client_id": client_id, "cid": client_id, "sub": client_id, "scope": list(scopes), "iat": now,
              "exp": now + lifetime, "iss": TOKEN_URL, "zid": "zone-1", "jti": "abc"}
    return jwt.encode(claims, SIGNING_KEY, algorithm="RS256", headers={"kid": kid})


def jwk(kid="key-1"):
    numbers = SIGNING_KEY.public_key().public_numbers()

    def b64(value):
        raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return {"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig", "n": b64(numbers.n), "e": b64(numbers.e)}


def response(status, body=None, headers=None, url=TOKEN_URL, method="POST"):
    resp = requests.Response()
    resp.status_code = status
    resp._content = body if isinstance(body, bytes) else json.dumps(body if body is not None else {}).encode()
    resp._content_consumed = True
    resp.headers.update({"Content-Type": "application/json"})
    resp.headers.update(headers or {})
    resp.url = url
    resp.request = requests.Request(method, url).prepare()
    return resp


def token_answer(**kwargs):
    token = make_jwt(**kwargs)
    return response(200, {"access_token": token, "token_type": "bearer", "expires_in": kwargs.get("lifetime", 3600) - 1,
                          "scope": " ".join(kwargs.get("scopes", ("it-rt-acme-dev!b196.ESBMessaging.send",))), "jti": "abc"})


class FakeSession:
    def __init__(self, outcomes):
        self.outcomes = list(outcomes)
        self.calls = []

    def request(self, method, url, headers=None, **kwargs):
        call = {"method": method, "url": url, "headers": dict(headers or {}), **kwargs}
        if kwargs.get("cert"):
            call["cert_files_existed"] = all(os.path.exists(path) for path in kwargs["cert"])
        self.calls.append(call)
        outcome = self.outcomes.pop(0)
        if callable(outcome):
            outcome = outcome(method, url, headers, kwargs)
        return outcome

    def close(self):
        pass


def http(outcomes):
    return HttpClient(session=FakeSession(outcomes), sleep=lambda seconds: None)


class FakeModule:
    def __init__(self, **params):
        self.params = {name: None for name in _credentials.argument_spec()}
        self.params.update(client_auth="basic", cache=True, min_ttl=300)
        self.params.update(params)
        self.no_log_values = set()
        self.redactor = Redactor()
        self.warnings = []

    def add_secrets(self, *values):
        self.redactor.add(*values)
        self.no_log_values.update(v for v in values if isinstance(v, str) and len(v) >= 4)

    def warn(self, text):
        self.warnings.append(text)


def rt_key(**extra):
    oauth = {"clientid": RT_CLIENT, "clientsecret": SECRET, "url": RT_URL, "tokenurl": TOKEN_URL}
    oauth.update(extra)
    return {"oauth": oauth}


def cert_key(external=False):
    oauth = {"clientid": RT_CLIENT, "certificate": CERT_PEM.replace("\n", "\\n"), "url": RT_URL, "tokenurl": CERT_TOKEN_URL,
             "certificatedetails": {"validuntil": "2030-01-01T00:00:00.000Z"}}
    if not external:
        oauth["key"] = KEY_PEM.replace("\n", "\\n")
    return {"oauth": oauth}


# ---------------------------------------------------------------------------------------------------------------
# argument spec and credentials

def test_argument_spec_env_fallbacks_and_no_log():
    spec = _credentials.argument_spec(cf=False)
    envs = {name: option["fallback"][1] for name, option in spec.items() if "fallback" in option}
    assert envs == {
        "service_key": ["CPI_SERVICE_KEY"], "service_key_path": ["CPI_SERVICE_KEY_PATH"], "client_id": ["CPI_CLIENT_ID"],
        "client_secret": ["CPI_CLIENT_SECRET"], "token_url": ["CPI_TOKEN_URL"], "url": ["CPI_URL"],
        "client_cert": ["CPI_CLIENT_CERT", "CPI_CLIENT_CERT_PATH"], "client_key": ["CPI_CLIENT_KEY", "CPI_CLIENT_KEY_PATH"],
        "allow_http": ["SAP_BTP_ALLOW_HTTP"],
    }
    assert spec["service_key"]["no_log"] is True and spec["client_secret"]["no_log"] is True and spec["client_key"]["no_log"] is True
    assert spec["token_url"]["no_log"] is False and spec["service_key_path"]["no_log"] is False


@pytest.mark.parametrize("shape", [
    rt_key,
    lambda: rt_key()["oauth"],
    lambda: {"credentials": rt_key()},
    lambda: {"raw": rt_key(), "credentials": {"clientid": "ignored"}},
    lambda: json.dumps(rt_key()),
    lambda: "  " + json.dumps(rt_key()["oauth"]) + "\n",
])
def test_every_key_shape_resolves_to_the_same_credentials(shape):
    module = FakeModule(service_key=shape())
    creds = _credentials.resolve(module)
    assert (creds["clientid"], creds["clientsecret"], creds["url"], creds["tokenurl"]) == (RT_CLIENT, SECRET, RT_URL, TOKEN_URL)
    assert creds["plan"] == "integration-flow" and creds["source"] == "service_key"
    assert SECRET in module.no_log_values


def test_dict_key_keeps_only_secret_fields_masked():
    module = FakeModule(service_key=rt_key())
    # Ansible puts every leaf of a no_log dict into no_log_values
    module.no_log_values.update([RT_CLIENT, SECRET, RT_URL, TOKEN_URL])
    _credentials.resolve(module)
    assert SECRET in module.no_log_values
    assert not {RT_CLIENT, RT_URL, TOKEN_URL} & module.no_log_values


def test_service_key_path_and_overrides(tmp_path):
    path = tmp_path / "key.json"
    path.write_text(json.dumps(rt_key()))
    module = FakeModule(service_key_path=str(path), url=RT_URL + "/", token_url=CERT_TOKEN_URL)
    creds = _credentials.resolve(module)
    assert creds["source"] == "service_key_path" and creds["url"] == RT_URL and creds["tokenurl"] == CERT_TOKEN_URL
    assert creds["tokenurl_from_key"] is False


def test_explicit_options_and_plan_inference():
    module = FakeModule(client_id=API_CLIENT, client_secret=SECRET, token_url=TOKEN_URL, url=API_URL)
    creds = _credentials.resolve(module, require_url=True)
    assert creds["plan"] == "api" and creds["key_type"] == "client_secret" and creds["source"] == "client_id"
    with pytest.raises(ParameterError, match="token_url"):
        _credentials.resolve(FakeModule(client_id=API_CLIENT, client_secret=SECRET))
    with pytest.raises(ParameterError, match="client_secret"):
        _credentials.resolve(FakeModule(client_id=API_CLIENT, token_url=TOKEN_URL))
    with pytest.raises(ParameterError, match="url"):
        _credentials.resolve(FakeModule(client_id=API_CLIENT, client_secret=SECRET, token_url=TOKEN_URL), require_url=True)


def test_no_credentials_names_the_env_variables():
    with pytest.raises(ParameterError, match="CPI_SERVICE_KEY"):
        _credentials.resolve(FakeModule())


def test_certificate_key_with_escaped_pems_needs_no_cryptography(monkeypatch):
    monkeypatch.setitem(sys.modules, "cryptography", None)
    creds = _credentials.resolve(FakeModule(service_key=cert_key()))
    assert creds["key_type"] == "certificate" and creds["certificate"].startswith("-----BEGIN CERTIFICATE-----\n")
    assert creds["key"].startswith("-----BEGIN RSA PRIVATE KEY-----\n") and creds["certificate_details"] is None
    assert _oauth.auth_method(creds) == "mtls"


def test_external_certificate_key_needs_client_key(tmp_path):
    with pytest.raises(ParameterError, match="external-certificate key"):
        _credentials.resolve(FakeModule(service_key=cert_key(external=True)))
    key_file = tmp_path / "key.pem"
    key_file.write_text(KEY_PEM)
    module = FakeModule(service_key=cert_key(external=True), client_key=str(key_file))
    creds = _credentials.resolve(module)
    assert creds["key"] == KEY_PEM and KEY_PEM in module.no_log_values
    with pytest.raises(ParameterError, match="client_key"):
        _credentials.resolve(FakeModule(service_key=cert_key(external=True), client_key=str(tmp_path / "missing.pem")))


def test_explicit_certificate_client_from_escaped_text():
    module = FakeModule(client_id=RT_CLIENT, token_url=TOKEN_URL, client_cert=CERT_PEM.replace("\n", "\\n"), client_key=KEY_PEM)
    creds = _credentials.resolve(module)
    assert creds["certificate"] == CERT_PEM and _oauth.auth_method(creds) == "mtls"
    with pytest.raises(ParameterError, match="client_cert"):
        _credentials.resolve(FakeModule(client_id=RT_CLIENT, token_url=TOKEN_URL, client_cert=KEY_PEM, client_key=KEY_PEM))


def test_key_that_does_not_match_the_certificate_fails_before_any_request():
    other_cert, other_key = _cert_and_key()
    del other_cert
    with pytest.raises(ParameterError, match="client_key: the private key does not match the client certificate"):
        _credentials.resolve(FakeModule(client_id=RT_CLIENT, token_url=TOKEN_URL, client_cert=CERT_PEM, client_key=other_key))
    with pytest.raises(ParameterError, match="does not match"):
        _credentials.resolve(FakeModule(service_key=cert_key(external=True), client_key=other_key))
    with pytest.raises(ParameterError, match="cannot be loaded"):
        _credentials.resolve(FakeModule(client_id=RT_CLIENT, token_url=TOKEN_URL, client_cert=CERT_PEM,
                                        client_key="-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n"))


def test_plain_http_urls_need_an_explicit_opt_in():
    http_token_url = "http://127.0.0.1:8080/oauth/token"
    with pytest.raises(ParameterError, match=r"token_url: http://127.0.0.1:8080/oauth/token is a plain http:// URL.*allow_http"):
        _credentials.resolve(FakeModule(client_id=RT_CLIENT, client_secret=SECRET, token_url=http_token_url))
    with pytest.raises(ParameterError, match="url: .*allow_http"):
        _credentials.resolve(FakeModule(service_key=rt_key(), url="http://127.0.0.1:8081"))
    creds = _credentials.resolve(FakeModule(client_id=RT_CLIENT, client_secret=SECRET, token_url=http_token_url,
                                            allow_http=True))
    assert creds["tokenurl"] == http_token_url


def test_wrong_plan_fails_before_any_request():
    creds = _credentials.resolve(FakeModule(service_key=rt_key()))
    with pytest.raises(ServiceKeyError) as info:
        _credentials.check_plan(creds, _oauth.PLAN_API, "the OData API")
    assert "'integration-flow' key" in str(info.value) and "plan 'api'" in str(info.value)


def test_bad_json_key_is_explained_without_echoing_it():
    with pytest.raises(ServiceKeyError) as info:
        _credentials.resolve(FakeModule(service_key='{"oauth": {"clientsecret": "' + SECRET))
    assert SECRET not in str(info.value)


# ---------------------------------------------------------------------------------------------------------------
# token requests

def creds_for(key, **params):
    return _credentials.resolve(FakeModule(service_key=key, **params))


def provider(outcomes, creds, tmp_path, **kwargs):
    client = http(outcomes)
    kwargs.setdefault("cache_dir", str(tmp_path / "cache"))
    return _oauth.TokenProvider(client, creds, **kwargs), client.session


def basic_parts(header):
    user, _sep, password = base64.b64decode(header.split(" ", 1)[1]).decode().partition(":")
    return user, password


def test_basic_is_url_encoded_when_the_secret_needs_it(tmp_path):
    tokens, session = provider([token_answer()], creds_for(rt_key()), tmp_path)
    entry = tokens.token()
    call = session.calls[0]
    assert call["method"] == "POST" and call["url"] == TOKEN_URL
    assert call["headers"]["X-CF-ENCODED-CREDENTIALS"] == "true"
    user, password = basic_parts(call["headers"]["Authorization"])
    assert (unquote(user), unquote(password)) == (RT_CLIENT, SECRET) and "+" not in password
    assert call["data"] == {"grant_type": "client_credentials", "client_id": RT_CLIENT}
    assert entry["access_token"].count(".") == 2 and tokens.fetched


def test_basic_stays_plain_for_a_plain_secret(tmp_path):
    plain = "0a1b2c3d-4e5f$abcdef"
    tokens, session = provider([token_answer()], creds_for(rt_key(clientsecret=plain)), tmp_path)
    tokens.token()
    assert "X-CF-ENCODED-CREDENTIALS" not in session.calls[0]["headers"]
    assert basic_parts(session.calls[0]["headers"]["Authorization"]) == (RT_CLIENT, plain)


def test_body_style_sends_no_authorization_header(tmp_path):
    tokens, session = provider([token_answer()], creds_for(rt_key()), tmp_path, client_auth="body")
    tokens.token()
    call = session.calls[0]
    assert "Authorization" not in call["headers"]
    assert call["data"] == {"grant_type": "client_credentials", "client_id": RT_CLIENT, "client_secret": SECRET}


def test_query_style_puts_the_grant_in_the_url(tmp_path):
    creds = creds_for(rt_key(tokenurl=TOKEN_URL + "?grant_type=client_credentials"))
    tokens, session = provider([token_answer()], creds, tmp_path, client_auth="query")
    entry = tokens.token()
    call = session.calls[0]
    assert call["url"] == TOKEN_URL + "?grant_type=client_credentials" and "data" not in call
    assert call["headers"]["Authorization"].startswith("Basic ")
    assert entry["token_url"] == TOKEN_URL


def test_mtls_uses_the_cert_key_tokenurl_and_temporary_files(tmp_path):
    tokens, session = provider([token_answer()], creds_for(cert_key()), tmp_path)
    tokens.token()
    call = session.calls[0]
    assert call["url"] == CERT_TOKEN_URL and "Authorization" not in call["headers"]
    assert call["data"] == {"grant_type": "client_credentials", "client_id": RT_CLIENT}
    assert call["cert_files_existed"] and not any(os.path.exists(path) for path in call["cert"])
    assert tokens.method == "mtls" and tokens.used_url == CERT_TOKEN_URL


def test_mtls_derives_the_cert_host_from_a_normal_token_url(tmp_path):
    tokens, session = provider([token_answer()], creds_for(cert_key(), token_url=TOKEN_URL), tmp_path)
    tokens.token()
    assert session.calls[0]["url"] == CERT_TOKEN_URL


def test_mtls_discovers_the_cert_host_through_openid_configuration(tmp_path):
    plain = "https://127.0.0.1:4443/oauth/token"
    cert_host = "https://127.0.0.1:4444/oauth/token"
    discovery = response(200, {"mtls_endpoint_aliases": {"token_endpoint": cert_host}}, method="GET")
    tokens, session = provider([discovery, token_answer()], creds_for(cert_key(), token_url=plain), tmp_path)
    entry = tokens.token()
    assert session.calls[0]["method"] == "GET" and session.calls[0]["url"] == "https://127.0.0.1:4443/.well-known/openid-configuration"
    assert session.calls[1]["url"] == cert_host and entry["token_url"] == cert_host


def test_401_names_likely_causes_and_never_the_secret(tmp_path):
    bad = response(401, {"error": "unauthorized", "error_description": "Bad credentials"})
    tokens, _session = provider([bad], creds_for(rt_key()), tmp_path, cache=False)
    with pytest.raises(ApiError) as info:
        tokens.token()
    message = str(info.value)
    assert info.value.status == 401 and "Bad credentials" in message
    for cause in ("secret is wrong", "deleted", "wrong token host"):
        assert cause in message
    assert SECRET not in message


def test_wrong_token_path_says_the_endpoint_was_not_found(tmp_path):
    page = response(404, b"<html><body><h1>Whitelabel Error Page</h1>Not Found</body></html>", url=TOKEN_URL[:-1])
    tokens, _session = provider([page], creds_for(rt_key(), token_url=TOKEN_URL[:-1]), tmp_path, cache=False)
    with pytest.raises(ApiError) as info:
        tokens.token()
    message = str(info.value)
    assert "token endpoint not found at %s (HTTP 404)" % TOKEN_URL[:-1] in message
    assert "Whitelabel" not in message and info.value.status == 404


def test_401_for_a_certificate_client_on_the_secret_host(tmp_path):
    bad = response(401, {"error": "unauthorized", "error_description": "Unsupported instance credential for x"})
    tokens, _session = provider([bad], creds_for(rt_key()), tmp_path, cache=False)
    with pytest.raises(ApiError, match="authenticates with a certificate"):
        tokens.token()


def test_401_on_mtls_mentions_the_cert_host(tmp_path):
    bad = response(401, {"error": "unauthorized", "error_description": "Bad credentials"})
    tokens, _session = provider([bad], creds_for(cert_key()), tmp_path, cache=False)
    with pytest.raises(ApiError, match="authentication.cert"):
        tokens.token()


def test_429_is_retried_after_retry_after(tmp_path):
    sleeps = []
    client = HttpClient(session=FakeSession([response(429, {"error": "too_many_requests"}, {"Retry-After": "2"}), token_answer()]),
                        sleep=sleeps.append)
    tokens = _oauth.TokenProvider(client, creds_for(rt_key()), cache=False)
    tokens.token()
    assert sleeps and sleeps[0] >= 2


def test_answer_without_token_fails(tmp_path):
    tokens, _session = provider([response(200, {"token_type": "bearer"})], creds_for(rt_key()), tmp_path, cache=False)
    with pytest.raises(ApiError, match="no access_token"):
        tokens.token()


# ---------------------------------------------------------------------------------------------------------------
# cache

def test_cache_hit_across_providers_and_file_modes(tmp_path):
    creds = creds_for(rt_key())
    first, session1 = provider([token_answer()], creds, tmp_path)
    entry = first.token()
    second, session2 = provider([], creds, tmp_path)
    again = second.token()
    assert again["access_token"] == entry["access_token"] and not second.fetched and session2.calls == []
    cache_dir = tmp_path / "cache" / _oauth.CACHE_NAMESPACE
    files = [p for p in cache_dir.iterdir() if p.suffix == ".json"]
    assert len(files) == 1 and stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert stat.S_IMODE(cache_dir.stat().st_mode) == 0o700
    stored = files[0].read_text()
    assert SECRET not in stored and RT_CLIENT not in files[0].name and "clientsecret" not in stored
    assert len(session1.calls) == 1


def test_cache_never_holds_a_private_key(tmp_path):
    creds = creds_for(cert_key())
    tokens, _session = provider([token_answer()], creds, tmp_path)
    tokens.token()
    text = "".join(p.read_text() for p in (tmp_path / "cache" / _oauth.CACHE_NAMESPACE).glob("*.json"))
    assert "PRIVATE KEY" not in text and "CERTIFICATE" not in text


def test_refresh_below_min_ttl(tmp_path):
    creds = creds_for(rt_key())
    short, _session = provider([token_answer(lifetime=200)], creds, tmp_path, min_ttl=300)
    short.token()
    refreshed, session = provider([token_answer()], creds, tmp_path, min_ttl=300)
    refreshed.token()
    assert refreshed.fetched and len(session.calls) == 1
    cached, session = provider([], creds, tmp_path, min_ttl=300)
    cached.token()
    assert not cached.fetched and session.calls == []


def test_cache_false_always_fetches_and_stores_nothing(tmp_path):
    creds = creds_for(rt_key())
    for _round in range(2):
        tokens, session = provider([token_answer()], creds, tmp_path, cache=False)
        tokens.token()
        assert len(session.calls) == 1
    assert not (tmp_path / "cache").exists()


def test_another_secret_or_auth_kind_is_another_entry(tmp_path):
    creds = creds_for(rt_key())
    keys = {_oauth.token_cache_key(creds, "basic"), _oauth.token_cache_key(creds, "body"), _oauth.token_cache_key(creds, "query")}
    assert len(keys) == 1
    assert _oauth.token_cache_key(creds_for(rt_key(clientsecret="other-secret$x")), "basic") not in keys
    assert _oauth.token_cache_key(creds_for(cert_key()), "mtls") not in keys
    # a wrong secret is sent to the server, never answered from the cache of the right one
    good, _session = provider([token_answer()], creds, tmp_path)
    good.token()
    wrong, session = provider([response(401, {"error": "unauthorized", "error_description": "Bad credentials"})],
                              creds_for(rt_key(clientsecret="wrong$secret")), tmp_path)
    with pytest.raises(ApiError):
        wrong.token()
    assert len(session.calls) == 1


def test_invalidate_drops_the_entry(tmp_path):
    creds = creds_for(rt_key())
    tokens, _session = provider([token_answer()], creds, tmp_path)
    tokens.token()
    tokens.invalidate()
    again, session = provider([token_answer()], creds, tmp_path)
    again.token()
    assert again.fetched and len(session.calls) == 1


def test_unusable_cache_dir_warns_and_fetches(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    warnings = []
    tokens, _session = provider([token_answer()], creds_for(rt_key()), tmp_path, cache_dir=str(blocker), warn=warnings.append)
    assert tokens.token()["access_token"]
    assert warnings and "without cache" in warnings[0]


def _fork_fetch(cache_dir, counter_path, barrier):
    creds = creds_for(rt_key())

    def fetch_once(method, url, headers, kwargs):
        with open(counter_path, "a", encoding="utf-8") as handle:
            handle.write("x")
        time.sleep(0.3)
        return token_answer()
    barrier.wait()
    tokens = _oauth.TokenProvider(http([fetch_once]), creds, cache_dir=cache_dir)
    tokens.token()


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
def test_concurrent_forks_fetch_once(tmp_path):
    context = multiprocessing.get_context("fork")
    counter = tmp_path / "count"
    counter.write_text("")
    barrier = context.Barrier(4)
    workers = [context.Process(target=_fork_fetch, args=(str(tmp_path / "cache"), str(counter), barrier)) for _index in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    assert [worker.exitcode for worker in workers] == [0, 0, 0, 0]
    assert counter.read_text() == "x"


# ---------------------------------------------------------------------------------------------------------------
# claims and signatures

def test_decode_claims_and_describe(tmp_path):
    tokens, _session = provider([token_answer()], creds_for(rt_key()), tmp_path, cache=False)
    entry = tokens.token()
    facts = tokens.describe(entry)
    assert facts["claims"]["client_id"] == RT_CLIENT and facts["scopes"] == ["it-rt-acme-dev!b196.ESBMessaging.send"]
    assert 3500 < facts["expires_in"] <= 3600 and facts["expires_at"].endswith("Z") and facts["cached"] is False
    assert facts["auth_method"] == "basic" and "access_token" not in facts
    assert _oauth.decode_claims("not-a-jwt") is None and _oauth.decode_claims("a.!!!.c") is None


def test_expiry_uses_the_earlier_of_expires_in_and_exp(tmp_path):
    token = make_jwt(lifetime=100)
    answer = response(200, {"access_token": token, "expires_in": 43199})
    tokens, _session = provider([answer], creds_for(rt_key()), tmp_path, cache=False, clock=time.time)
    entry = tokens.token()
    assert entry["expires_at"] <= time.time() + 101


def test_verify_signature_against_token_keys():
    token = make_jwt()
    client = http([response(200, {"keys": [jwk("other"), jwk("key-1")]}, method="GET")])
    claims = _oauth.verify_signature(client, token, CERT_TOKEN_URL)
    assert claims["client_id"] == RT_CLIENT
    assert client.session.calls[0]["url"] == "https://acme-dev.authentication.cert.eu10.hana.ondemand.com/token_keys"


def test_verify_signature_rejects_a_forged_token():
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode({"client_id": "x", "iat": int(time.time()), "exp": int(time.time()) + 60}, forger, algorithm="RS256",
                        headers={"kid": "key-1"})
    client = http([response(200, {"keys": [jwk("key-1")]}, method="GET")])
    with pytest.raises(ApiError, match="signature verification failed"):
        _oauth.verify_signature(client, forged, TOKEN_URL)


def test_verify_signature_rejects_an_expired_token():
    token = make_jwt(lifetime=10, iat=int(time.time()) - 3600)
    client = http([response(200, {"keys": [jwk("key-1")]}, method="GET")])
    with pytest.raises(ApiError, match="expired"):
        _oauth.verify_signature(client, token, TOKEN_URL)


def test_needs_encoding():
    assert _oauth.needs_encoding("a+b") and _oauth.needs_encoding("a%b") and _oauth.needs_encoding("ä")
    assert not _oauth.needs_encoding("0a1b-2c3d$Q2xp/Zm9y=") and not _oauth.needs_encoding(None)
