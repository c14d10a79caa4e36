# -*- coding: utf-8 -*-
"""The API provider of an api client through the four roles (issue 16): onboarding creates it after the key is
delivered, the smoke test checks its target, key rotation moves it to the new key without a failed request made with
the provider's credentials (and rolls back when the provider cannot be moved), offboarding removes it.

The provider's stored credentials are read from the sandbox (the API portal's side), as its runtime would use them.
"""

import json
import threading
import time
from pathlib import Path

import requests

from btp_sandbox import apiportal
from proof_helpers import CfSetup


def _portal_key(connection, prefix):
    cf = CfSetup(connection)
    instance = cf.create_instance(prefix + "-apim", "apiportal-apiaccess", {"role": "APIPortal.Administrator"})
    return cf.create_key(instance["guid"], prefix + "-apim-key")["credentials"]


def _provider(btp_sandbox, name):
    return apiportal.provider_credentials(btp_sandbox, "acme", name)


class TargetProbe(threading.Thread):
    """Calls the provider's target with the credentials the provider holds, as the API portal would, until stopped."""

    def __init__(self, btp_sandbox, name):
        super().__init__(daemon=True)
        self.sandbox, self.name = btp_sandbox, name
        self.ca = btp_sandbox.connection["ca_bundle"]
        self.stop = threading.Event()
        self.calls, self.failures, self.clients = 0, [], set()

    def run(self):
        while not self.stop.is_set():
            row = _provider(self.sandbox, self.name)
            if row is not None:
                token = requests.post(row["tokenUrl"], data={"grant_type": "client_credentials"},
                                      auth=(row["clientId"], row["clientSecret"]), verify=self.ca, timeout=10)
                status = token.status_code
                if status == 200:
                    status = requests.get("https://%s:%s%s/" % (row["host"], row["port"], row["pathPrefix"]), verify=self.ca, timeout=10,
                                          headers={"Authorization": "Bearer " + token.json()["access_token"]}).status_code
                self.calls += 1
                self.clients.add(row["clientSecret"][:8])
                if status != 200:
                    self.failures.append(status)
            time.sleep(0.05)


def test_api_provider_through_the_roles(e2e, btp_sandbox, run_playbook, tenant_inventory, e2e_env, sandbox_admin):
    prefix = e2e.unique("apv")
    provider_name = prefix + "-cpi"
    key_file = e2e_env / "creds" / (prefix + "-api.json")
    client = {"name": prefix + "-api", "plan": "api", "roles": ["AuthGroup_IntegrationDeveloper", "AuthGroup_Administrator"],
              "api_provider": {"name": provider_name, "title": "Cloud Integration " + prefix},
              "destinations": [{"type": "file", "path": str(key_file)}]}
    inventory = tenant_inventory([client], cloud_integration_apiportal={"key": _portal_key(btp_sandbox.connection, prefix)})

    onboard = run_playbook("onboard", inventory)
    assert onboard.rc == 0, onboard.describe()
    row = _provider(btp_sandbox, provider_name)
    key = json.loads(Path(key_file).read_text(encoding="utf-8"))["oauth"]
    assert row is not None and row["clientId"] == key["clientid"] and row["clientSecret"] == key["clientsecret"]
    assert row["title"] == "Cloud Integration " + prefix and row["pathPrefix"] == "/api/v1"
    assert key["clientsecret"] not in onboard.stdout

    again = run_playbook("onboard", inventory)
    assert again.rc == 0 and again.changed() == 0, again.changed_tasks()

    smoke = run_playbook("smoke_test", inventory)
    assert smoke.rc == 0, smoke.describe()
    results = smoke.custom_stats["cloud_integration_smoke_test"]["acme-tenant"]["results"]
    assert results[0]["api_provider"]["status"] == 200 and results[0]["api_provider"]["credentials_match"]

    # rotation: the provider moves to the new key before the old key is deleted; its credentials never fail
    probe = TargetProbe(btp_sandbox, provider_name)
    probe.start()
    rotation = run_playbook("rotate_keys", inventory, extra_vars={"key_rotation_force": [client["name"]]})
    probe.stop.set()
    probe.join(timeout=30)
    assert rotation.rc == 0, rotation.describe()
    new_key = json.loads(Path(key_file).read_text(encoding="utf-8"))["oauth"]
    assert new_key["clientsecret"] != key["clientsecret"]
    assert _provider(btp_sandbox, provider_name)["clientSecret"] == new_key["clientsecret"]
    assert probe.calls > 0 and probe.failures == [], (probe.calls, probe.failures)
    assert len(probe.clients) == 2, "the probe saw the provider on the old and on the new key"

    # a provider that cannot be moved (the API portal refuses creates) rolls the rotation back: old key, old provider
    sandbox_admin.add_faults([{"route": "apiportal POST /apiportal/api/1.0/Management.svc/APIProviders", "kind": "status",
                               "status": 500}])
    failed = run_playbook("rotate_keys", inventory, extra_vars={"key_rotation_force": [client["name"]]})
    sandbox_admin.clear_faults()
    assert failed.rc != 0
    assert "API provider %s" % provider_name in " ".join(failed.failure_messages())
    assert json.loads(Path(key_file).read_text(encoding="utf-8"))["oauth"] == new_key
    assert _provider(btp_sandbox, provider_name)["clientSecret"] == new_key["clientsecret"]

    smoke_again = run_playbook("smoke_test", inventory)
    assert smoke_again.rc == 0, smoke_again.describe()

    off = run_playbook("offboard", inventory)
    assert off.rc == 0, off.describe()
    assert _provider(btp_sandbox, provider_name) is None
