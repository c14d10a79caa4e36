# -*- coding: utf-8 -*-
"""Helpers for the tenant-service tests: create it-rt instances and keys through the sandbox's CF API v3
and call the tenant hosts with `requests`."""

import json
import os
import tempfile
import time
import uuid

import requests

_COUNTER = {"n": 0}


class CfClient:
    """Minimal CF v3 client (password grant at the sandbox UAA, client `cf`)."""

    def __init__(self, connection):
        self.conn = connection
        self.verify = connection["ca_bundle"]
        token = requests.post(
            connection["cf"]["uaa_url"] + "/oauth/token",
            data={"grant_type": "password", "username": connection["cf"]["username"],
                  "password": connection["cf"]["password"]},
            auth=("cf", ""), verify=self.verify, timeout=10)
        token.raise_for_status()
        self.session = make_session(connection)
        self.session.headers["Authorization"] = "bearer " + token.json()["access_token"]
        self.api = connection["cf"]["api_url"]

    def get(self, path, **params):
        response = self.session.get(self.api + path, params=params, timeout=10)
        response.raise_for_status()
        return response.json()

    def wait_job(self, location, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.session.get(location, timeout=10).json()
            if job["state"] in ("COMPLETE", "FAILED"):
                return job
            time.sleep(0.05)
        raise AssertionError("job %s did not finish" % location)

    def space_guid(self, tenant):
        org = self.get("/v3/organizations", names=tenant["org"])["resources"][0]["guid"]
        return self.get("/v3/spaces", names=tenant["space"], organization_guids=org)["resources"][0]["guid"]

    def plan_guid(self, plan):
        offering = "apimanagement-apiportal" if plan == "apiportal-apiaccess" else "it-rt"
        return self.get("/v3/service_plans", names=plan, service_offering_names=offering)["resources"][0]["guid"]

    def create_instance(self, tenant, plan, parameters=None, name=None):
        _COUNTER["n"] += 1
        name = name or "t-%s-%d-%s" % (plan[:3], _COUNTER["n"], uuid.uuid4().hex[:6])
        body = {"type": "managed", "name": name,
                "relationships": {"space": {"data": {"guid": self.space_guid(tenant)}},
                                  "service_plan": {"data": {"guid": self.plan_guid(plan)}}}}
        if parameters is not None:
            body["parameters"] = parameters
        response = self.session.post(self.api + "/v3/service_instances", json=body, timeout=10)
        assert response.status_code == 202, response.text
        job = self.wait_job(response.headers["Location"])
        assert job["state"] == "COMPLETE", job
        return self.get("/v3/service_instances", names=name)["resources"][0]["guid"]

    def create_key(self, instance_guid, parameters=None, name=None):
        _COUNTER["n"] += 1
        name = name or "k-%d-%s" % (_COUNTER["n"], uuid.uuid4().hex[:6])
        body = {"type": "key", "name": name, "relationships": {"service_instance": {"data": {"guid": instance_guid}}}}
        if parameters is not None:
            body["parameters"] = parameters
        response = self.session.post(self.api + "/v3/service_credential_bindings", json=body, timeout=10)
        assert response.status_code == 202, response.text
        job = self.wait_job(response.headers["Location"])
        assert job["state"] == "COMPLETE", job
        guid = self.get("/v3/service_credential_bindings", names=name,
                        service_instance_guids=instance_guid)["resources"][0]["guid"]
        credentials = self.get("/v3/service_credential_bindings/%s/details" % guid)["credentials"]
        return guid, credentials

    def delete_key(self, guid):
        response = self.session.delete(self.api + "/v3/service_credential_bindings/%s" % guid, timeout=10)
        assert response.status_code in (202, 204), response.text
        if response.status_code == 202:
            self.wait_job(response.headers["Location"])


def make_session(connection, token=None):
    """A requests Session that trusts the sandbox CA (trust_env off: REQUESTS_CA_BUNDLE would override verify)."""
    session = requests.Session()
    session.trust_env = False
    session.verify = connection["ca_bundle"]
    if token:
        session.headers["Authorization"] = "Bearer " + token
    return session


def write_cert_files(oauth, directory=None):
    """Write the key's certificate chain and private key (JSON `\\n` already decoded) to PEM files."""
    directory = directory or tempfile.mkdtemp(prefix="btp-sandbox-test-")
    cert = os.path.join(directory, "client.pem")
    key = os.path.join(directory, "client-key.pem")
    with open(cert, "w", encoding="utf-8") as handle:
        handle.write(oauth["certificate"].replace("\\n", "\n"))
    with open(key, "w", encoding="utf-8") as handle:
        handle.write(oauth["key"].replace("\\n", "\n"))
    return cert, key


def tenant_info(connection, name="acme"):
    return next(t for t in connection["tenants"] if t["name"] == name)


def fetch_token(connection, oauth, tenant="acme"):
    info = tenant_info(connection, tenant)
    response = requests.post(info["token_url"], data={"grant_type": "client_credentials"},
                             auth=(oauth["clientid"], oauth["clientsecret"]), verify=connection["ca_bundle"],
                             timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def pretty(response):
    try:
        return json.dumps(response.json())
    except ValueError:
        return response.text
