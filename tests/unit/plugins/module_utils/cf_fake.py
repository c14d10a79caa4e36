# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small in-memory Cloud Controller v3 + UAA behind a fake requests session (the HTTP boundary of HttpClient)."""
from __future__ import annotations

import io
import json
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import requests

API = "https://api.cf.example"
UAA = "https://login.cf.example"
SPACE_GUID = "space-1"
ORG_GUID = "org-1"
PLANS = {"plan-api": ("api", "off-it-rt"), "plan-iflow": ("integration-flow", "off-it-rt"), "plan-lite": ("lite", "off-dest")}
OFFERINGS = {"off-it-rt": "it-rt", "off-dest": "destination"}
# How CF on SAP BTP words a broker failure (observed on real SAP BTP CF, issue 13; the broker name is the sandbox's)
BROKER_FAILURE = "Service broker error: Service broker it-rt-broker failed with: %s"
REFRESH_TOKEN = "7e5484b39343476e833a5a1c1c40bae0-r"


def broker_failure(text):
    return BROKER_FAILURE % text


def response(status, body=None, headers=None, url=API, method="GET"):
    resp = requests.Response()
    resp.status_code = status
    resp._content = b"" if body is None else json.dumps(body).encode()
    resp.headers.update(headers or {})
    if body is not None:
        resp.headers.setdefault("Content-Type", "application/json")
    resp.url = url
    resp.raw = io.BytesIO(b"")
    resp.request = requests.Request(method, url).prepare()
    return resp


def cf_error(status, code, title, detail, url=API, method="GET"):
    return response(status, {"errors": [{"code": code, "title": title, "detail": detail}]}, url=url, method=method)


class FakeCf:
    """Routes requests; state: instances, keys, jobs. `faults` is a list of (method, path_prefix, response|exception) used once."""

    def __init__(self, retrievable=False, job_polls=1):
        self.instances = {}
        self.keys = {}
        self.jobs = {}
        self.calls = []
        self.faults = []
        self.retrievable = retrievable
        self.job_polls = job_polls
        self.tokens = 0
        self.grants = []
        self.valid_tokens = set()
        self.fail_next_job = None
        self.key_factory = self.default_key

    # -- session interface ------------------------------------------------------------------------
    def request(self, method, url, headers=None, **kwargs):
        parts = urlsplit(url)
        path = parts.path
        self.calls.append((method, path, parts.query))
        for index, (f_method, prefix, outcome) in enumerate(self.faults):
            if f_method == method and path.startswith(prefix):
                del self.faults[index]
                if callable(outcome) and not isinstance(outcome, requests.Response):
                    outcome = outcome()
                if isinstance(outcome, Exception):
                    raise outcome
                return outcome
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if url.startswith(UAA):
            return self.uaa(method, path, kwargs)
        auth = (headers or {}).get("Authorization", "")
        if path != "/" and auth.split(" ", 1)[-1] not in self.valid_tokens:
            return cf_error(401, 1000, "CF-InvalidAuthToken", "Invalid Auth Token", url, method)
        return self.route(method, path, query, kwargs.get("json"), url)

    def close(self):
        pass

    def count(self, method=None, prefix=""):
        return len([c for c in self.calls if (method is None or c[0] == method) and c[1].startswith(prefix)])

    # -- UAA ----------------------------------------------------------------------------------------
    def uaa(self, method, path, kwargs):
        form = kwargs.get("data") or {}
        if form.get("grant_type") == "password" and form.get("password") != "secret-pw":
            return response(401, {"error": "unauthorized", "error_description": "Bad credentials"}, url=UAA + path, method=method)
        self.tokens += 1
        token = "token-%d" % self.tokens
        self.valid_tokens.add(token)
        self.grants.append((form.get("grant_type"), form.get("refresh_token")))
        # as real UAA answers (issue 13): an id_token, an opaque refresh token that a refresh grant returns unchanged
        body = {"access_token": token, "token_type": "bearer", "expires_in": 1199, "jti": uuid.uuid4().hex,
                "scope": "openid uaa.user cloud_controller.read password.write cloud_controller.write"}
        if form.get("grant_type") in ("password", "refresh_token"):
            body.update(id_token="id-" + token, refresh_token=form.get("refresh_token") or REFRESH_TOKEN)
        return response(200, body, url=UAA + path, method=method,
                        headers={"Cache-Control": "no-store", "Pragma": "no-cache", "Content-Type": "application/json;charset=UTF-8"})

    # -- CF -------------------------------------------------------------------------------------------
    @staticmethod
    def page(resources, included=None):
        body = {"pagination": {"total_results": len(resources), "next": None}, "resources": resources}
        if included:
            body["included"] = included
        return response(200, body)

    def instance_json(self, inst):
        data = json.loads(json.dumps(inst))
        data.pop("parameters", None)
        return data

    def new_job(self, operation, resource_guid, on_complete):
        guid = str(uuid.uuid4())
        fail = self.fail_next_job
        self.fail_next_job = None
        self.jobs[guid] = {"guid": guid, "operation": operation, "state": "PROCESSING", "polls": 0, "on_complete": on_complete,
                           "resource": resource_guid, "fail": fail, "errors": []}
        return response(202, None, headers={"Location": API + "/v3/jobs/" + guid})

    def route(self, method, path, query, body, url):
        seg = path.strip("/").split("/")
        if path == "/":
            links = {"self": {"href": API}, "cloud_controller_v3": {"href": API + "/v3"}, "login": {"href": UAA}, "uaa": {"href": UAA}, "credhub": None}
            return response(200, {"links": links})
        if path == "/v3/organizations":
            return self.page([{"guid": ORG_GUID, "name": "acme-org"}] if query.get("names", "").lower() == "acme-org" else [])
        if path == "/v3/spaces":
            return self.page([{"guid": SPACE_GUID, "name": "dev"}] if query.get("names", "").lower() == "dev" else [])
        if path == "/v3/service_offerings":
            found = [{"guid": g, "name": n, "broker_catalog": {"features": {"instances_retrievable": self.retrievable}}}
                     for g, n in OFFERINGS.items() if n == query.get("names")]
            return self.page(found)
        if path == "/v3/service_plans":
            wanted = query.get("service_offering_guids", "").split(",")
            return self.page([{"guid": g, "name": n} for g, (n, o) in PLANS.items() if o in wanted])
        if seg[:2] == ["v3", "jobs"]:
            return self.job(seg[2])
        if seg[:2] == ["v3", "service_instances"]:
            return self.instances_route(method, seg[2:], query, body)
        if seg[:2] == ["v3", "service_credential_bindings"]:
            return self.keys_route(method, seg[2:], query, body)
        return cf_error(404, 10000, "CF-NotFound", "Unknown request")

    def tick(self, resource_guid):
        """Reading a resource lets the time pass for its pending jobs (as polling the job does)."""
        for guid, job in list(self.jobs.items()):
            if job["resource"] == resource_guid and job["state"] not in ("COMPLETE", "FAILED"):
                self.job(guid)

    def job(self, guid):
        job = self.jobs.get(guid)
        if job is None:
            return cf_error(404, 10010, "CF-ResourceNotFound", "Job not found")
        job["polls"] += 1
        if job["state"] not in ("COMPLETE", "FAILED") and job["polls"] >= self.job_polls:
            if job["fail"]:
                job["state"] = "FAILED"
                job["errors"] = [{"code": 10001, "title": "CF-ServiceBrokerBadResponse", "detail": broker_failure(job["fail"])}]
                job["on_complete"](False)
            else:
                job["state"] = "COMPLETE"
                job["on_complete"](True)
        elif job["state"] not in ("COMPLETE", "FAILED"):
            job["state"] = "POLLING"
        return response(200, {"guid": guid, "state": job["state"], "operation": job["operation"], "errors": job["errors"], "warnings": []})

    def plan_fields(self, resources):
        plan_guids = {r["relationships"]["service_plan"]["data"]["guid"] for r in resources}
        plans = [{"guid": g, "name": PLANS[g][0], "relationships": {"service_offering": {"data": {"guid": PLANS[g][1]}}}} for g in plan_guids]
        offerings = [{"guid": o, "name": OFFERINGS[o]} for o in {PLANS[g][1] for g in plan_guids}]
        return {"service_plans": plans, "service_offerings": offerings}

    def add_instance(self, name, plan_guid="plan-iflow", state="succeeded", op_type="create", parameters=None, annotations=None, tags=None):
        guid = str(uuid.uuid4())
        self.instances[guid] = {"guid": guid, "name": name, "type": "managed", "tags": tags or [], "dashboard_url": None,
                                "last_operation": {"type": op_type, "state": state,
                                                   "description": broker_failure("broker says no") if state == "failed" else ""},
                                "relationships": {"space": {"data": {"guid": SPACE_GUID}}, "service_plan": {"data": {"guid": plan_guid}}},
                                "metadata": {"labels": {}, "annotations": dict(annotations or {})}, "parameters": parameters or {},
                                "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"}
        return self.instances[guid]

    def instances_route(self, method, rest, query, body):
        if not rest and method == "GET":
            found = [i for i in self.instances.values() if (not query.get("names") or i["name"] in query["names"].split(","))
                     and (not query.get("service_plan_guids") or i["relationships"]["service_plan"]["data"]["guid"] in query["service_plan_guids"].split(","))]
            found = [self.instance_json(i) for i in found]
            return self.page(found, self.plan_fields(found) if "fields[service_plan]" in query else None)
        if not rest and method == "POST":
            existing = next((i for i in self.instances.values() if i["name"] == body["name"]), None)
            if existing is not None:
                if existing["last_operation"]["type"] == "create" and existing["last_operation"]["state"] == "failed":
                    del self.instances[existing["guid"]]
                else:
                    return cf_error(422, 10008, "CF-UnprocessableEntity", "The service instance name is taken: %s." % body["name"])
            inst = self.add_instance(body["name"], body["relationships"]["service_plan"]["data"]["guid"], state="initial",
                                     parameters=body.get("parameters"), annotations=(body.get("metadata") or {}).get("annotations"), tags=body.get("tags"))

            def done(ok):
                inst["last_operation"].update(state="succeeded" if ok else "failed")
            return self.new_job("service_instance.create", inst["guid"], done)
        if method == "GET" and len(rest) == 1:
            self.tick(rest[0])
        inst = self.instances.get(rest[0])
        if inst is None:
            return cf_error(404, 10010, "CF-ResourceNotFound", "Service instance not found")
        if len(rest) == 2 and rest[1] == "parameters":
            if not self.retrievable:
                return cf_error(400, 120004, "CF-ServiceFetchInstanceParametersNotSupported",
                                "This service does not support fetching service instance parameters.")
            return response(200, inst["parameters"])
        if method == "GET":
            return response(200, self.instance_json(inst))
        if method == "PATCH":
            if inst["last_operation"]["state"] in ("initial", "in progress"):
                return cf_error(422, 10008, "CF-UnprocessableEntity", "There is an operation in progress for the service instance.")
            if "tags" in body:
                inst["tags"] = body["tags"]
            if body.get("metadata"):
                inst["metadata"]["annotations"].update(body["metadata"].get("annotations") or {})
            if "parameters" not in body and "relationships" not in body:
                return response(200, self.instance_json(inst))
            inst["last_operation"] = {"type": "update", "state": "in progress", "description": None}

            def done(ok):
                inst["last_operation"]["state"] = "succeeded" if ok else "failed"
                if ok:
                    if "parameters" in body:
                        inst["parameters"] = body["parameters"]
                    if "relationships" in body:
                        inst["relationships"]["service_plan"] = body["relationships"]["service_plan"]
            return self.new_job("service_instance.update", inst["guid"], done)
        if method == "DELETE":
            inst["last_operation"] = {"type": "delete", "state": "in progress", "description": None}

            def done(ok):
                if ok:
                    self.instances.pop(inst["guid"], None)
                    for key_guid in [g for g, k in self.keys.items() if k["relationships"]["service_instance"]["data"]["guid"] == inst["guid"]]:
                        del self.keys[key_guid]
                else:
                    inst["last_operation"]["state"] = "failed"
            return self.new_job("service_instance.delete", inst["guid"], done)
        return cf_error(405, 0, "MethodNotAllowed", method)

    @staticmethod
    def default_key(instance, parameters):
        key_type = parameters.get("key-type")
        oauth = {"clientid": "sb-abc!b1|it-rt-acme!b196", "url": "https://acme.it-cpi018-rt.cfapps.eu10.hana.ondemand.com",
                 "tokenurl": "https://acme.authentication.eu10.hana.ondemand.com/oauth/token", "createdate": "2026-01-01T00:00:00.000Z"}
        if key_type is None:
            oauth["clientsecret"] = "a1b2c3d4-0000$S3cr3tValueForTests="
        elif key_type == "certificate_external":
            oauth["certificate"] = parameters["X.509"].replace("\n", "\\n")
            oauth["tokenurl"] = "https://acme.authentication.cert.eu10.hana.ondemand.com/oauth/token"
        return {"oauth": oauth}

    def add_key(self, name, instance_guid, state="succeeded", op_type="create", credentials=None, annotations=None):
        guid = str(uuid.uuid4())
        self.keys[guid] = {"guid": guid, "name": name, "type": "key", "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
                           "last_operation": {"type": op_type, "state": state, "description": broker_failure("bad") if state == "failed" else None},
                           "relationships": {"service_instance": {"data": {"guid": instance_guid}}},
                           "metadata": {"labels": {}, "annotations": dict(annotations or {})},
                           "credentials": credentials or self.key_factory(self.instances.get(instance_guid), {})}
        return self.keys[guid]

    def key_json(self, key):
        data = json.loads(json.dumps(key))
        data.pop("credentials")
        return data

    def keys_route(self, method, rest, query, body):
        if not rest and method == "GET":
            found = list(self.keys.values())
            if query.get("names"):
                found = [k for k in found if k["name"] in query["names"].split(",")]
            if query.get("service_instance_guids"):
                found = [k for k in found if k["relationships"]["service_instance"]["data"]["guid"] in query["service_instance_guids"].split(",")]
            if query.get("service_instance_names"):
                found = [k for k in found if (self.instances.get(k["relationships"]["service_instance"]["data"]["guid"]) or {}).get("name")
                         in query["service_instance_names"].split(",")]
            included = None
            if query.get("include") == "service_instance":
                guids = {k["relationships"]["service_instance"]["data"]["guid"] for k in found}
                included = {"service_instances": [self.instance_json(self.instances[g]) for g in guids if g in self.instances]}
            return self.page([self.key_json(k) for k in found], included)
        if not rest and method == "POST":
            inst_guid = body["relationships"]["service_instance"]["data"]["guid"]
            existing = next((k for k in self.keys.values()
                             if k["name"] == body["name"] and k["relationships"]["service_instance"]["data"]["guid"] == inst_guid), None)
            if existing is not None:
                if existing["last_operation"]["type"] == "create" and existing["last_operation"]["state"] == "failed":
                    del self.keys[existing["guid"]]
                else:
                    return cf_error(422, 10008, "CF-UnprocessableEntity", "The binding name is invalid. Key binding names must be unique. "
                                    "The service instance already has a key binding with name '%s'." % body["name"])
            credentials = self.key_factory(self.instances.get(inst_guid), body.get("parameters") or {})
            key = self.add_key(body["name"], inst_guid, state="initial", credentials=credentials,
                               annotations=(body.get("metadata") or {}).get("annotations"))
            key["parameters"] = body.get("parameters") or {}

            def done(ok):
                key["last_operation"]["state"] = "succeeded" if ok else "failed"
            return self.new_job("service_keys.create", key["guid"], done)
        if method == "GET" and len(rest) == 1:
            self.tick(rest[0])
        key = self.keys.get(rest[0])
        if key is None:
            return cf_error(404, 10010, "CF-ResourceNotFound", "Service credential binding not found")
        if len(rest) == 2 and rest[1] == "details":
            if key["last_operation"]["state"] != "succeeded":
                return cf_error(404, 10010, "CF-ResourceNotFound", "Creation of service key in progress")
            return response(200, {"credentials": key["credentials"]})
        if method == "GET":
            return response(200, self.key_json(key))
        if method == "DELETE":
            key["last_operation"] = {"type": "delete", "state": "in progress", "description": None}

            def done(ok):
                if ok:
                    self.keys.pop(key["guid"], None)
            return self.new_job("service_keys.delete", key["guid"], done)
        return cf_error(405, 0, "MethodNotAllowed", method)


INSTANCES_PATH = "/v3/service_instances"
KEYS_PATH = "/v3/service_credential_bindings"


class LockedFakeCf(FakeCf):
    """The in-memory CF answering one request at a time: a batch calls it from several threads at once.

    reject_create: instance or key name -> message; the Cloud Controller rejects its create at once (422).
    fail_create_job: key name -> message; the broker accepts the create of that key and then fails the operation
    (the job ends FAILED and the key is left in state 'create failed', as with a real broker).
    latency: seconds every request takes, outside the lock, so that the threads' requests overlap as on a network
    (racing lookups then show up as extra requests).
    revoke_at: the number of key lookups after which every access token issued so far is revoked (once).
    max_in_flight: the most requests that were open at the same time."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        import threading  # pylint: disable=import-outside-toplevel
        self.lock = threading.Lock()
        self.reject_create = {}
        self.fail_create_job = {}
        self.latency = 0
        self.revoke_at = None
        self.in_flight = 0
        self.max_in_flight = 0

    def request(self, method, url, headers=None, **kwargs):
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.latency:
                time.sleep(self.latency)
            with self.lock:
                path = urlsplit(url).path
                body = kwargs.get("json") or {}
                if method == "POST" and path in (INSTANCES_PATH, KEYS_PATH) and body.get("name") in self.reject_create:
                    self.calls.append((method, path, ""))
                    return cf_error(422, 10001, "CF-ServiceBrokerBadResponse", broker_failure(self.reject_create[body["name"]]),
                                    url=url, method=method)
                if method == "POST" and path == KEYS_PATH and body.get("name") in self.fail_create_job:
                    self.fail_next_job = self.fail_create_job[body["name"]]
                if self.revoke_at is not None and method == "GET" and path == KEYS_PATH and self.count("GET", KEYS_PATH) + 1 >= self.revoke_at:
                    self.revoke_at = None
                    self.valid_tokens.clear()
                return super().request(method, url, headers=headers, **kwargs)
        finally:
            with self.lock:
                self.in_flight -= 1


def make_client(fake, tmp_path, auth=None, space_guid=None, clock=None):
    """A CfClient talking to fake (cache in tmp_path, no sleeping)."""
    from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._cf import CfClient
    from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._http import HttpClient
    from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._redact import Redactor

    redactor = Redactor()
    http = HttpClient(session=fake, sleep=lambda s: None, redactor=redactor)
    auth = auth or {"kind": "password", "username": "user@example.com", "password": "secret-pw", "origin": None}
    kwargs = {"org": "acme-org", "space": "dev"} if space_guid is None else {"space_guid": space_guid}
    warnings = []
    if clock is None:
        now = [time.time()]

        def clock():
            now[0] += 0.5
            return now[0]
    client = CfClient(http, API, auth, cache_dir=str(tmp_path / "cache"), redactor=redactor, warn=warnings.append, sleep=lambda s: None,
                      clock=clock, **kwargs)
    client.warnings = warnings
    return client
