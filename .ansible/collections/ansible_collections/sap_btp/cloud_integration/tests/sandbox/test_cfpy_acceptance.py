"""Acceptance: the third-party `cloudfoundry-client` works against the sandbox unchanged."""

from cloudfoundry_client.client import CloudFoundryClient


def test_cloudfoundry_client_creates_instance_and_key_and_reads_details(btp_sandbox):
    conn = btp_sandbox.connection
    client = CloudFoundryClient(conn["cf"]["api_url"], verify=conn["ca_bundle"])
    client.init_with_user_credentials(conn["cf"]["username"], conn["cf"]["password"])

    org = client.v3.organizations.get_first(names=conn["cf"]["org"])
    space = client.v3.spaces.get_first(names=conn["cf"]["space"], organization_guids=org["guid"])
    plan = client.v3.service_plans.get_first(names="integration-flow", service_offering_names="it-rt")
    created = client.v3.service_instances.create("cfpy-instance", space["guid"], plan["guid"],
                                                 meta_labels={"origin": "cfpy"},
                                                 parameters={"roles": ["ESBMessaging.send"],
                                                             "grant-types": ["client_credentials"]})
    job_guid = created["links"]["job"]["href"].rsplit("/", 1)[1]
    job = client.v3.jobs.wait_for_job_completion(job_guid, step=0.05, step_function=lambda s: s)
    assert job["state"] == "COMPLETE"

    instance = client.v3.service_instances.get_first(names="cfpy-instance", space_guids=space["guid"])
    assert instance["last_operation"]["state"] == "succeeded"
    assert instance["metadata"]["labels"] == {"origin": "cfpy"}

    key_job = client.v3.service_credential_bindings.create("cfpy-key", "key", instance["guid"], None, None, None, None)
    assert client.v3.jobs.wait_for_job_completion(key_job, step=0.05, step_function=lambda s: s)["state"] == "COMPLETE"
    key = client.v3.service_credential_bindings.get_first(names="cfpy-key", service_instance_guids=instance["guid"])
    details = client.v3.service_credential_bindings.get(key["guid"], "details")
    oauth = details["credentials"]["oauth"]
    assert oauth["clientid"].startswith("sb-") and oauth["clientid"].endswith("|it-rt-acme-dev!b196")
    assert "$" in oauth["clientsecret"] and oauth["url"] == conn["tenants"][0]["runtime_url"]
    assert len(list(client.v3.service_instances.list(names="cfpy-instance"))) == 1

    remove_job = client.v3.service_instances._remove(instance["guid"])  # pylint: disable=protected-access
    assert client.v3.jobs.wait_for_job_completion(remove_job, step=0.05, step_function=lambda s: s)["state"] == "COMPLETE"
