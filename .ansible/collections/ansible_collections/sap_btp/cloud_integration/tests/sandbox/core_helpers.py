"""Helpers for the sandbox core tests: a small CF v3 client over `requests` (verify passed per call, so
REQUESTS_CA_BUNDLE in the environment cannot override the sandbox CA)."""

import datetime
import time
import uuid

import requests
from cryptography.hazmat.primitives import serialization

from btp_sandbox import pki


def unique(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:8])


class Cf:
    def __init__(self, connection):
        self.conn = connection
        self.ca = connection["ca_bundle"]
        self.api = connection["cf"]["api_url"]
        self.session = requests.Session()
        self.token = self.login()
        self.session.headers["Authorization"] = "bearer " + self.token

    def login(self):
        response = requests.post(self.conn["cf"]["uaa_url"] + "/oauth/token", auth=("cf", ""), verify=self.ca, timeout=10,
                                 data={"grant_type": "password", "username": self.conn["cf"]["username"],
                                       "password": self.conn["cf"]["password"]})
        response.raise_for_status()
        return response.json()["access_token"]

    def request(self, method, path, **kwargs):
        url = path if path.startswith("http") else self.api + path
        kwargs.setdefault("timeout", 10)
        return self.session.request(method, url, verify=self.ca, **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, body, **kwargs):
        return self.request("POST", path, json=body, **kwargs)

    def patch(self, path, body, **kwargs):
        return self.request("PATCH", path, json=body, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("DELETE", path, **kwargs)

    def wait_job(self, location, timeout=15):
        deadline = time.monotonic() + timeout
        while True:
            job = self.get(location).json()
            if job["state"] in ("COMPLETE", "FAILED"):
                return job
            assert time.monotonic() < deadline, "job did not finish: %r" % job
            time.sleep(0.03)

    def space_guid(self, tenant_index=0):
        tenant = self.conn["tenants"][tenant_index]
        org = self.get("/v3/organizations", params={"names": tenant["org"]}).json()["resources"][0]
        spaces = self.get("/v3/spaces", params={"names": tenant["space"], "organization_guids": org["guid"]}).json()
        return spaces["resources"][0]["guid"]

    def plan_guid(self, plan, offering="it-rt"):
        found = self.get("/v3/service_plans", params={"names": plan, "service_offering_names": offering}).json()
        assert found["pagination"]["total_results"] == 1
        return found["resources"][0]["guid"]

    def start_instance(self, name, plan="integration-flow", parameters=None, tenant_index=0, **extra):
        body = {"type": "managed", "name": name,
                "relationships": {"space": {"data": {"guid": self.space_guid(tenant_index)}},
                                  "service_plan": {"data": {"guid": self.plan_guid(plan)}}}}
        if parameters is not None:
            body["parameters"] = parameters
        body.update(extra)
        return self.post("/v3/service_instances", body)

    def create_instance(self, name=None, plan="integration-flow", parameters=None, tenant_index=0, **extra):
        """Create and wait; returns (instance json, job json)."""
        name = name or unique("inst")
        response = self.start_instance(name, plan, parameters, tenant_index, **extra)
        assert response.status_code == 202, response.text
        job = self.wait_job(response.headers["Location"])
        instances = self.get("/v3/service_instances", params={"names": name, "space_guids": self.space_guid(tenant_index)})
        return instances.json()["resources"][0], job

    def start_key(self, instance_guid, name, parameters=None):
        body = {"type": "key", "name": name, "relationships": {"service_instance": {"data": {"guid": instance_guid}}}}
        if parameters is not None:
            body["parameters"] = parameters
        return self.post("/v3/service_credential_bindings", body)

    def create_key(self, instance_guid, name=None, parameters=None):
        """Create and wait; returns (key json, job json, details json or None)."""
        name = name or unique("key")
        response = self.start_key(instance_guid, name, parameters)
        assert response.status_code == 202, response.text
        job = self.wait_job(response.headers["Location"])
        keys = self.get("/v3/service_credential_bindings", params={"names": name, "service_instance_guids": instance_guid})
        key = keys.json()["resources"][0]
        details = self.get("/v3/service_credential_bindings/%s/details" % key["guid"])
        return key, job, (details.json() if details.status_code == 200 else None)


def write_external_ca(directory, cn="Customer Test CA"):
    """A CA for external certificates; returns (ca_cert, ca_key, pem_path)."""
    cert, key = pki.make_ca("CN=%s,O=Customer,C=DE" % cn)
    path = directory / ("%s.pem" % cn.replace(" ", "_"))
    path.write_text(pki.cert_pem(cert))
    return cert, key, str(path)


def external_cert_pem(ca_cert, ca_key, cn="client", expired=False):
    now = datetime.datetime.now(datetime.timezone.utc)
    if expired:
        cert, _unused = pki.make_leaf(ca_cert, ca_key, "CN=%s,O=Customer,C=DE" % cn, not_before=now - datetime.timedelta(days=30),
                                      not_after=now - datetime.timedelta(days=1))
    else:
        cert, _unused = pki.make_leaf(ca_cert, ca_key, "CN=%s,O=Customer,C=DE" % cn, days=90)
    return cert.public_bytes(serialization.Encoding.PEM).decode()
