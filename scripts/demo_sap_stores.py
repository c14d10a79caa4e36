# -*- coding: utf-8 -*-
"""Demo prerequisites for SAP's own stores (issue 17), created as an administrator would in the cockpit:

- a `destination` service instance (plan lite) and its key in the demo tenant's space -> OUT/destination-key.json;
- an `api` instance with CredentialsEdit + MonitoringDataRead on the partner tenant and its key
  -> OUT/partner-api-key.json (the key credentials_store uses to write the partner's security material).

Usage: demo_sap_stores.py SERVICES_JSON OUT_DIR. Idempotent: existing instances and keys are reused.
"""

import json
import os
import sys
import time

import requests


def cf_session(sandbox):
    """(session, api url) logged in to the sandbox's Cloud Foundry API as its admin user."""
    session = requests.Session()
    session.trust_env = False
    session.verify = sandbox["ca_bundle"]
    login = session.post(sandbox["cf"]["uaa_url"] + "/oauth/token", auth=("cf", ""), timeout=30,
                         data={"grant_type": "password", "username": sandbox["cf"]["username"],
                               "password": sandbox["cf"]["password"]})
    login.raise_for_status()
    session.headers["Authorization"] = "bearer " + login.json()["access_token"]
    return session, sandbox["cf"]["api_url"]


def service_key(sandbox, tenant, offering, plan, name, parameters=None):
    """The credentials of the key `<name>-key` of instance `name` (both created when missing) in a tenant's space."""
    session, api = cf_session(sandbox)
    tenant = next(t for t in sandbox["tenants"] if t["name"] == tenant)

    def get(path, **params):
        response = session.get(api + path, params=params, timeout=30)
        response.raise_for_status()
        return response.json()["resources"]

    def wait(response):
        if response.status_code == 202:
            for _attempt in range(300):
                job = session.get(response.headers["Location"], timeout=30).json()
                if job["state"] == "COMPLETE":
                    return
                if job["state"] == "FAILED":
                    raise SystemExit("job failed: %s" % job["errors"])
                time.sleep(0.2)
        response.raise_for_status()

    org_guid = get("/v3/organizations", names=tenant["org"])[0]["guid"]
    space_guid = get("/v3/spaces", names=tenant["space"], organization_guids=org_guid)[0]["guid"]
    instances = get("/v3/service_instances", names=name, space_guids=space_guid)
    if not instances:
        plan_guid = get("/v3/service_plans", names=plan, service_offering_names=offering)[0]["guid"]
        wait(session.post(api + "/v3/service_instances", timeout=30, json={
            "type": "managed", "name": name, "parameters": parameters or {},
            "relationships": {"space": {"data": {"guid": space_guid}}, "service_plan": {"data": {"guid": plan_guid}}}}))
        instances = get("/v3/service_instances", names=name, space_guids=space_guid)
    guid = instances[0]["guid"]
    keys = get("/v3/service_credential_bindings", names=name + "-key", service_instance_guids=guid)
    if not keys:
        wait(session.post(api + "/v3/service_credential_bindings", timeout=30, json={
            "type": "key", "name": name + "-key", "relationships": {"service_instance": {"data": {"guid": guid}}}}))
        keys = get("/v3/service_credential_bindings", names=name + "-key", service_instance_guids=guid)
    response = session.get(api + "/v3/service_credential_bindings/%s/details" % keys[0]["guid"], timeout=30)
    response.raise_for_status()
    return response.json()["credentials"]


def main(services_json, out_dir):
    with open(services_json, encoding="utf-8") as handle:
        sandbox = json.load(handle)["sandbox"]
    files = {
        "destination-key.json": service_key(sandbox, "acme", "destination", "lite", "demo-destination"),
        "partner-api-key.json": service_key(sandbox, "globex", "it-rt", "api", "demo-partner-admin",
                                            {"roles": ["CredentialsEdit", "MonitoringDataRead"]}),
    }
    os.makedirs(out_dir, mode=0o700, exist_ok=True)
    for name, content in files.items():
        path = os.path.join(out_dir, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(content, handle, indent=2)
        sys.stdout.write("    %s\n" % path)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
