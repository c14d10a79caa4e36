# -*- coding: utf-8 -*-
"""SAP's own stores through the roles (issue 17): onboarding writes a BTP destination and another tenant's security
material, key_rotation keeps every consumer working while it runs (an application through the find-destination API,
and globex's Forward_OAuth iFlow through the OAuth2 credential), offboarding removes both.

The consumers run in a thread during the rotation and call continuously; every call must succeed. The state is
checked out of band through the Destination service and OData APIs.
"""

import importlib.util
import json
import threading
import time
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parents[2]


def _demo_helpers():
    spec = importlib.util.spec_from_file_location("demo_sap_stores", REPO_ROOT / "scripts" / "demo_sap_stores.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Stores:
    """Out-of-band access to the Destination service and globex's security material."""

    def __init__(self, connection, dest_key, admin_key):
        self.conn = connection
        self.dest_key = dest_key
        self.admin_key = admin_key["oauth"]
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.verify = connection["ca_bundle"]

    def token(self, url, clientid, secret):
        response = self.session.post(url, data={"grant_type": "client_credentials"}, auth=(clientid, secret), timeout=10)
        assert response.status_code == 200, response.text
        return response.json()["access_token"]

    def dest_headers(self):
        return {"Authorization": "Bearer " + self.token(self.dest_key["url"] + "/oauth/token", self.dest_key["clientid"],
                                                        self.dest_key["clientsecret"])}

    def destination(self, name):
        response = self.session.get(self.dest_key["uri"] + "/destination-configuration/v1/subaccountDestinations/" + name,
                                    headers=self.dest_headers(), timeout=10)
        return response.json() if response.status_code == 200 else None

    def security_material(self, name):
        token = self.token(self.admin_key["tokenurl"], self.admin_key["clientid"], self.admin_key["clientsecret"])
        response = self.session.get(self.admin_key["url"] + "/api/v1/OAuth2ClientCredentials('%s')" % name,
                                    headers={"Authorization": "Bearer " + token, "Accept": "application/json"}, timeout=10)
        return response.json()["d"] if response.status_code == 200 else None


class Consumers(threading.Thread):
    """An application calling through the destination and a globex iFlow caller using the forward iFlow."""

    def __init__(self, stores, destination, caller_key, globex):
        super().__init__(daemon=True)
        self.stores = stores
        self.destination = destination
        self.caller = caller_key["oauth"]
        self.globex = globex
        self.stop_event = threading.Event()
        self.calls = {"destination": 0, "forward": 0}
        self.failures = []

    def once(self):
        session = self.stores.session
        found = session.get(self.stores.dest_key["uri"] + "/destination-configuration/v1/destinations/" + self.destination,
                            headers=self.stores.dest_headers(), timeout=10).json()
        auth = found["authTokens"][0]
        if auth.get("error"):
            self.failures.append("find-destination: %s" % auth["error"])
        else:
            call = session.post(found["destinationConfiguration"]["URL"] + "/http/echo", data=b"app",
                                headers={"Authorization": auth["http_header"]["value"]}, timeout=10)
            self.calls["destination"] += 1
            if call.status_code != 200:
                self.failures.append("destination call: HTTP %d" % call.status_code)
        token = self.stores.token(self.caller["tokenurl"], self.caller["clientid"], self.caller["clientsecret"])
        forward = session.post(self.globex["runtime_url"] + "/http/forward", data=b"iflow",
                               headers={"Authorization": "Bearer " + token}, timeout=10)
        self.calls["forward"] += 1
        if forward.status_code != 200:
            self.failures.append("forward iFlow: HTTP %d %s" % (forward.status_code, forward.text[:120]))

    def run(self):
        while not self.stop_event.is_set():
            try:
                self.once()
            except (requests.RequestException, KeyError, ValueError) as exc:
                self.failures.append("consumer error: %r" % exc)
            time.sleep(0.05)


def test_sap_stores_onboarding_rotation_and_offboarding(e2e, btp_sandbox, run_playbook, tenant_inventory, e2e_env):
    helpers = _demo_helpers()
    connection = btp_sandbox.connection
    dest_key = helpers.service_key(connection, "acme", "destination", "lite", "e2e-destination")
    admin_key = helpers.service_key(connection, "globex", "it-rt", "api", "e2e-partner-admin",
                                    {"roles": ["CredentialsEdit", "MonitoringDataRead"]})
    caller_key = helpers.service_key(connection, "globex", "it-rt", "integration-flow", "e2e-partner-caller")
    keys_dir = e2e_env / "sap-keys"
    keys_dir.mkdir()
    (keys_dir / "dest.json").write_text(json.dumps(dest_key), encoding="utf-8")
    (keys_dir / "partner.json").write_text(json.dumps(admin_key), encoding="utf-8")
    globex = next(t for t in connection["tenants"] if t["name"] == "globex")
    stores = Stores(connection, dest_key, admin_key)

    prefix = e2e.unique("sap")
    key_file = e2e_env / "creds" / (prefix + "-orders.json")
    clients = [{"name": prefix + "-orders", "plan": "integration-flow", "destinations": [
        {"type": "file", "path": str(key_file)},
        {"type": "btp_destination", "name": prefix + "-orders", "destination_service_key_path": str(keys_dir / "dest.json")},
        {"type": "cpi_security_material", "name": "forward_target", "target_service_key_path": str(keys_dir / "partner.json")},
    ]}]
    inventory = tenant_inventory(clients)

    onboard = run_playbook("onboard", inventory)
    assert onboard.rc == 0, onboard.describe()
    first = json.loads(key_file.read_text(encoding="utf-8"))["oauth"]
    destination = stores.destination(prefix + "-orders")
    assert destination["clientId"] == first["clientid"] and destination["clientSecret"] == first["clientsecret"]
    material = stores.security_material("forward_target")
    fingerprint_before = destination["sap_btp_cloud_integration_fingerprint"]
    assert fingerprint_before in material["Description"]
    again = run_playbook("onboard", inventory)
    assert again.rc == 0 and again.changed() == 0, again.changed_tasks()

    smoke = run_playbook("smoke_test", inventory, extra_vars={"smoke_test_default_endpoints": [
        {"path": "/http/echo", "method": "POST", "body": "hi", "status_code": [200], "mpl_status": "none"}]})
    assert smoke.rc == 0, smoke.describe()
    report = (e2e_env / "reports" / "smoke_test-acme-tenant.md").read_text(encoding="utf-8")
    rows = [line for line in report.splitlines() if line.startswith("| %s-orders " % prefix)]
    assert any("| destination | yes | 200 |" in row and row.endswith("PASSED |") for row in rows), rows

    consumers = Consumers(stores, prefix + "-orders", caller_key, globex)
    consumers.once()
    assert not consumers.failures, consumers.failures
    consumers.start()
    try:
        rotation = run_playbook("rotate_keys", inventory, extra_vars={"key_rotation_force": [prefix + "-orders"]})
    finally:
        consumers.stop_event.set()
        consumers.join(timeout=30)
    assert rotation.rc == 0, rotation.describe()
    assert not consumers.failures, consumers.failures[:5]
    assert consumers.calls["destination"] >= 2 and consumers.calls["forward"] >= 2, consumers.calls

    rotated = json.loads(key_file.read_text(encoding="utf-8"))["oauth"]
    assert rotated["clientsecret"] != first["clientsecret"]
    destination = stores.destination(prefix + "-orders")
    assert destination["clientSecret"] == rotated["clientsecret"]
    assert destination["sap_btp_cloud_integration_fingerprint"] != fingerprint_before
    assert destination["sap_btp_cloud_integration_fingerprint"] in stores.security_material("forward_target")["Description"]
    after = Consumers(stores, prefix + "-orders", caller_key, globex)
    after.once()
    assert not after.failures, after.failures

    offboard = run_playbook("offboard", inventory)
    assert offboard.rc == 0, offboard.describe()
    assert stores.destination(prefix + "-orders") is None
    assert stores.security_material("forward_target") is None
