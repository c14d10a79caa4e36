# -*- coding: utf-8 -*-
"""The bad-input catalogue: one table of wrong inputs, the task each one is given to, and the message it must produce.

tests/e2e/test_bad_input.py runs every case against the sandbox (one playbook, one block per case) and asserts that
the task fails with the expected message fragments, without a traceback, and without changing anything (sandbox
instances/keys/jobs and the files of the work directory are compared before and after each case).

docs/troubleshooting.md is generated from this table:

    python tests/e2e/bad_input_cases.py            # rewrite the generated part of docs/troubleshooting.md
    python tests/e2e/bad_input_cases.py --check    # exit 1 when the document is out of date

and a test fails when the document and the table disagree.

Task arguments are Jinja templates over the catalogue's variables (see ``test_bad_input.catalogue_vars``):
``w`` (work directory), ``ca`` (sandbox CA bundle), ``cf_api``/``cf_user``/``cf_pass``/``org``/``space``,
``keys.<name>`` (key files: api, iflow, iflow_cert, api_noread, iflow_norole, truncated, empty, list, no_oauth,
missing_fields, bare_no_tokenurl, http_tokenurl, apiportal_admin, apiportal_guest), ``pem.<name>`` (untrusted_ca, untrusted_cert, untrusted_key,
expired_cert, mismatch_key, not_a_pem), ``inst.<name>`` (iflow, api: existing instance names),
``iflow_key_name``, ``admin``, ``vault_addr``/``vault_token``, ``sealed_addr``, ``token_url``, ``api_url``,
``runtime_url``.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "troubleshooting.md"
BEGIN = "<!-- BAD-INPUT-CATALOGUE:BEGIN (generated from tests/e2e/bad_input_cases.py; do not edit) -->"
END = "<!-- BAD-INPUT-CATALOGUE:END -->"

NS = "sap_btp.cloud_integration."
CF = {"cf_api": "{{ cf_api }}", "cf_username": "{{ cf_user }}", "cf_password": "{{ cf_pass }}", "org": "{{ org }}",
      "space": "{{ space }}", "ca_path": "{{ ca }}"}
CA = {"ca_path": "{{ ca }}"}
ROLE = {"name": "sap_btp.cloud_integration.onboarding"}
ROLE_VARS = {"onboarding_cf": {"api": "{{ cf_api }}", "username": "{{ cf_user }}", "password": "{{ cf_pass }}", "org": "{{ org }}",
                               "space": "{{ space }}"},
             "onboarding_ca_path": "{{ ca }}"}


@dataclass
class Case:
    id: str
    area: str
    title: str
    module: str
    args: dict
    expect: list
    fix: str
    setup: list = field(default_factory=list)     # tasks run before the case (e.g. a fault rule)
    cleanup: list = field(default_factory=list)   # tasks run after it, always
    vars: dict = field(default_factory=dict)      # task vars (role input)

    @property
    def task(self):
        name = self.module if "." in self.module else NS + self.module
        task = {name: self.args}
        if self.vars:
            task["vars"] = self.vars
        return task


def fault(rule):
    """Setup task: add a sandbox fault rule (admin API)."""
    return {"name": "add fault", "ansible.builtin.uri": {
        "url": "{{ admin }}/faults", "method": "POST", "ca_path": "{{ ca }}", "body_format": "json", "body": [rule], "status_code": 201}}


CLEAR_FAULTS = {"name": "clear faults", "ansible.builtin.uri": {"url": "{{ admin }}/faults", "method": "DELETE",
                                                                "ca_path": "{{ ca }}", "status_code": 204}}
HTML_BODY = ("<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center>"
             "<hr><center>nginx</center></body></html>")


def _f(route, status, body=None, count=6):
    rule = {"route": route, "kind": "status", "status": status, "count": count}
    if body is not None:
        rule["body"] = body
    return [fault(rule)]


CASES = [
    # -- service keys -------------------------------------------------------------------------------------------
    Case("key-malformed-json", "service key", "Malformed service-key JSON", "oauth_token",
         dict(CA, service_key='{"oauth": {"clientid": "sb-x", "clientsecret": "s3cr3t-value"'),
         ["service_key", "not valid JSON", "paste the key exactly"], "Paste the whole key JSON as the cockpit or `cf service-key` shows it."),
    Case("key-truncated-file", "service key", "Truncated service-key file", "oauth_token",
         dict(CA, service_key_path="{{ keys.truncated }}"),
         ["service_key_path", "not valid JSON"], "The file was cut off while copying; download the key again."),
    Case("key-empty-file", "service key", "Empty service-key file", "oauth_token",
         dict(CA, service_key_path="{{ keys.empty }}"),
         ["service_key_path", "empty"], "Write the key JSON into the file."),
    Case("key-not-an-object", "service key", "Service key that is a JSON list, not an object", "oauth_token",
         dict(CA, service_key_path="{{ keys.list }}"),
         ["service_key_path", "expected a service key object", "list"], "Pass the key object (`{\"oauth\": {...}}`), not a list of keys."),
    Case("key-missing-file", "service key", "service_key_path that does not exist", "oauth_token",
         dict(CA, service_key_path="{{ w }}/no-such-key.json"),
         ["service_key_path", "the key file", "does not exist"], "Check the path; the lookup or task that writes the key must run first."),
    Case("key-oauth-missing-fields", "service key", "`oauth` block without clientsecret/tokenurl", "oauth_token",
         dict(CA, service_key_path="{{ keys.missing_fields }}"),
         ["service_key_path", "lacks", "tokenurl"], "Copy the complete key; every key has clientid, tokenurl and url plus clientsecret or certificate."),
    Case("key-no-wrapper-missing-tokenurl", "service key", "Key without its `oauth` wrapper and without tokenurl", "oauth_token",
         dict(CA, service_key_path="{{ keys.bare_no_tokenurl }}"),
         ["service_key_path", "lacks", "tokenurl"], "The wrapper is optional, the fields are not: add `tokenurl`."),
    Case("key-no-oauth-block", "service key", "JSON object that is not a service key", "oauth_token",
         dict(CA, service_key_path="{{ keys.no_oauth }}"),
         ["service_key_path", "lacks"], "This is not an it-rt service key (no `oauth` block, no clientid); use the key of an it-rt instance."),
    Case("key-no-credentials", "service key", "No credentials at all", "oauth_token", dict(CA),
         ["no Cloud Integration credentials", "service_key"], "Set service_key, service_key_path or client_id/token_url (or the CPI_* variables)."),
    Case("key-client-id-without-secret", "service key", "client_id without client_secret or certificate", "oauth_token",
         dict(CA, client_id="sb-abc!b1|it-rt-acme!b196", token_url="{{ token_url }}"),
         ["client_secret", "client_cert"], "Add client_secret, or client_cert and client_key for a certificate client."),
    Case("key-api-for-iflow", "service key", "`api` key used for an iFlow call", "iflow_request",
         dict(CA, service_key_path="{{ keys.api }}", path="/echo"),
         ["'api' key", "integration-flow", "iFlow endpoints"], "Use a key of an `integration-flow` instance for iFlow calls."),
    Case("key-iflow-for-odata", "service key", "`integration-flow` key used for the OData API", "odata_request",
         dict(CA, service_key_path="{{ keys.iflow }}", path="MessageProcessingLogs", max_items=1),
         ["'integration-flow' key", "'api' key", "OData API"], "Use a key of an `api` instance for the OData API."),
    Case("key-http-token-url", "service key", "`http://` token URL without an explicit opt-in", "oauth_token",
         dict(CA, client_id="sb-abc!b1|it-rt-acme!b196", client_secret="not-the-secret-1", token_url="http://127.0.0.1:9/oauth/token"),
         ["token_url", "https://", "allow_http"], "Use the https:// token URL of the key; plain HTTP needs `allow_http: true` (tests only)."),
    Case("key-relative-token-url", "service key", "token_url that is not a URL", "oauth_token",
         dict(CA, client_id="sb-abc!b1|it-rt-acme!b196", client_secret="not-the-secret-1", token_url="acme.authentication.eu10/oauth/token"),
         ["token_url", "absolute https:// URL"], "Give the full `tokenurl` of the key, including https://."),
    Case("key-cf-reference-missing-key", "service key", "CF reference (`instance` + `key`) to a key that does not exist", "iflow_request",
         dict(CF, instance="{{ inst.iflow }}", key="no-such-key", path="/echo"),
         ["key:", "has no service key 'no-such-key'"], "Create the key (service_key) or fix its name; `instance` + `key` read it through Cloud Foundry."),
    Case("key-two-sources", "service key", "Two credential sources in one task", "oauth_token",
         dict(CF, instance="{{ inst.iflow }}", key="{{ iflow_key_name }}", service_key_path="{{ keys.iflow }}"),
         ["mutually exclusive", "instance", "service_key_path"],
         "Give one source: instance + key, stored, service_key, service_key_path or client_id (README: where the credentials come from)."),
    Case("key-stored-missing-file", "service key", "`stored` key file that does not exist", "oauth_token",
         dict(CA, stored={"path": "{{ w }}/no-such-key.json"}),
         ["stored:", "does not exist"], "Store the key first (credentials_store) or fix stored.path (relative paths start at the playbook)."),
    # -- certificates -------------------------------------------------------------------------------------------
    Case("cert-expired-client", "certificates", "Client certificate that has expired", "oauth_token",
         dict(CA, client_id="sb-abc!b1|it-rt-acme!b196", token_url="{{ token_url }}", client_cert="{{ pem.expired_cert }}",
              client_key="{{ pem.untrusted_key }}", cache=False),
         ["client_cert", "expired on", "Create a new key"], "The certificate of the key has expired: rotate the key (key_rotation) and use the new one."),
    Case("cert-not-a-pem", "certificates", "client_cert that is not PEM", "oauth_token",
         dict(CA, client_id="sb-abc!b1|it-rt-acme!b196", token_url="{{ token_url }}", client_cert="{{ pem.not_a_pem }}",
              client_key="{{ pem.untrusted_key }}"),
         ["client_cert", "not a PEM certificate"], "Pass the certificate PEM (text or path) of the key."),
    Case("cert-key-mismatch", "certificates", "Private key that does not match its certificate", "oauth_token",
         dict(CA, client_id="sb-abc!b1|it-rt-acme!b196", token_url="{{ token_url }}", client_cert="{{ pem.untrusted_cert }}",
              client_key="{{ pem.mismatch_key }}"),
         ["client_key", "does not match"], "Use the private key that belongs to the certificate."),
    Case("cert-external-without-key", "certificates", "External-certificate key without the private key", "oauth_token",
         dict(CA, client_id="sb-abc!b1|it-rt-acme!b196", token_url="{{ token_url }}", client_cert="{{ pem.untrusted_cert }}"),
         ["client_key", "private key"], "An external-certificate key never holds the private key: pass it in client_key."),
    Case("cert-expired-external", "certificates", "Expired certificate for an external-certificate key", "service_key",
         dict(CF, name="bad-expired", instance="{{ inst.iflow }}", key_type="external_certificate",
              certificate="{{ pem.expired_cert }}"),
         ["certificate", "expired"], "Issue a new certificate; the broker refuses expired ones."),
    Case("cert-untrusted-external", "certificates", "Certificate from a CA the subaccount does not trust", "service_key",
         dict(CF, name="bad-untrusted", instance="{{ inst.iflow }}", key_type="external_certificate",
              certificate="{{ pem.untrusted_cert }}"),
         ["certificate", "trust"], "Use a certificate signed by a CA listed in the subaccount's trusted authorities."),
    Case("cert-invalid-pem-external", "certificates", "External certificate that is not PEM", "service_key",
         dict(CF, name="bad-notpem", instance="{{ inst.iflow }}", key_type="external_certificate",
              certificate="-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"),
         ["certificate", "cannot be parsed"], "Pass one PEM certificate (not the chain, not DER)."),
    # -- instance parameters ------------------------------------------------------------------------------------
    Case("inst-unknown-role", "instance parameters", "Unknown role for the `api` plan", "service_instance",
         dict(CF, name="bad-role", plan="api", roles=["MonitoringDataReader"]),
         ["roles", "MonitoringDataReader"], "Use a role of the api plan's list (e.g. MonitoringDataRead)."),
    Case("inst-api-without-roles", "instance parameters", "`api` plan without roles", "service_instance",
         dict(CF, name="bad-noroles", plan="api", roles=[]),
         ["roles", "at least one"], "An api client needs at least one role."),
    Case("inst-validity-too-low", "instance parameters", "token_validity below 3600 s", "service_instance",
         dict(CF, name="bad-val-low", plan="integration-flow", token_validity=60),
         ["token_validity", "60", "3600"], "token_validity is in seconds, between 3600 and 86400."),
    Case("inst-validity-too-high", "instance parameters", "token_validity above 86400 s", "service_instance",
         dict(CF, name="bad-val-high", plan="integration-flow", token_validity=90000),
         ["token_validity", "90000", "86400"], "token_validity is in seconds, between 3600 and 86400."),
    Case("inst-bad-grant-type", "instance parameters", "Unknown grant type", "service_instance",
         dict(CF, name="bad-grant", plan="integration-flow", grant_types=["implicit"]),
         ["grant_types", "implicit"], "Use grant types of the broker's list (client_credentials, ...)."),
    Case("inst-client-x509", "instance parameters", "Deprecated grant type client_x509", "service_instance",
         dict(CF, name="bad-x509", plan="integration-flow", grant_types=["client_x509"]),
         ["client_x509", "client_credentials"], "Replace client_x509 by client_credentials."),
    Case("inst-unknown-plan", "instance parameters", "Unknown plan", "service_instance",
         dict(CF, name="bad-plan", plan="standard"),
         ["plan", "standard"], "it-rt has the plans api and integration-flow."),
    # -- service key parameters ---------------------------------------------------------------------------------
    Case("key-validity-zero", "key parameters", "Certificate validity 0 days", "service_key",
         dict(CF, name="bad-v0", instance="{{ inst.iflow }}", key_type="certificate", validity_days=0),
         ["validity_days", "0", "365"], "validity_days is between 1 and 365."),
    Case("key-validity-366", "key parameters", "Certificate validity 366 days", "service_key",
         dict(CF, name="bad-v366", instance="{{ inst.iflow }}", key_type="certificate", validity_days=366),
         ["validity_days", "366", "365"], "validity_days is between 1 and 365."),
    Case("key-bad-key-length", "key parameters", "Unsupported key length", "service_key",
         dict(CF, name="bad-len", instance="{{ inst.iflow }}", key_type="certificate", key_length=1000),
         ["key_length", "1000"], "Use 2048, 3072 or 4096."),
    Case("key-type-change-without-force", "key parameters", "Existing key requested with another key type", "service_key",
         dict(CF, name="{{ iflow_key_name }}", instance="{{ inst.iflow }}", key_type="certificate"),
         ["force", "rotation"], "Keys are immutable: set force: true (delete and recreate) or use the key_rotation role."),
    Case("key-instance-missing", "key parameters", "Key for an instance that does not exist", "service_key",
         dict(CF, name="k1", instance="no-such-instance"),
         ["no-such-instance", "not found"], "Create the instance first (service_instance) or fix its name."),
    # -- batches (instances / keys): every item is validated before the first request ----------------------------
    Case("batch-bad-item", "batches", "One invalid item among valid ones", "service_instance",
         dict(CF, plan="integration-flow", instances=[{"name": "bad-batch-a"}, {"name": "bad-batch-b", "token_validity": 60}]),
         ["instances[1] 'bad-batch-b': token_validity", "3600"], "Fix the named item; no instance of the batch was created."),
    Case("batch-duplicate-item", "batches", "The same instance twice in one batch", "service_instance",
         dict(CF, plan="integration-flow", instances=[{"name": "bad-batch-c"}, {"name": "bad-batch-c"}]),
         ["instances[1] 'bad-batch-c'", "listed twice"], "List every instance once."),
    Case("batch-concurrency", "batches", "concurrency out of range", "service_instance",
         dict(CF, plan="integration-flow", concurrency=0, instances=[{"name": "bad-batch-d"}]),
         ["concurrency", "between 1 and 32"], "Use 1 to 32 threads (default 8)."),
    Case("batch-key-without-instance", "batches", "A key item without an instance", "service_key",
         dict(CF, keys=[{"name": "bad-batch-k1", "instance": "{{ inst.iflow }}"}, {"name": "bad-batch-k2"}]),
         ["keys[1] 'bad-batch-k2': instance", "required"], "Set instance (or instance_guid) in the task or in every item."),
    Case("batch-key-and-name", "batches", "`name` and `keys` in one task", "service_key",
         dict(CF, name="bad-batch-k3", instance="{{ inst.iflow }}", keys=[{"name": "bad-batch-k4"}]),
         ["mutually exclusive", "name", "keys"], "Use name for one key or keys for many, not both."),
    # -- Cloud Foundry connection -------------------------------------------------------------------------------
    Case("cf-wrong-password", "Cloud Foundry", "Wrong CF password (UAA 401)", "service_instance_info",
         dict(CF, cf_password="wrong-password-123"),
         ["Cloud Foundry login", "401", "Bad credentials", "check the credentials"], "Check cf_username/cf_password (CF_USERNAME/CF_PASSWORD) and cf_origin."),
    Case("cf-invalid-token", "Cloud Foundry", "Invalid cf_token (CF 401)", "service_instance_info",
         {"cf_api": "{{ cf_api }}", "cf_token": "eyJhbGciOiJub25lIn0.eyJleHAiOjF9.invalid", "org": "{{ org }}", "space": "{{ space }}", "ca_path": "{{ ca }}"},
         ["cf_token", "invalid or expired"], "The token expired or is not a CF token; log in again or use username/password."),
    Case("cf-forbidden", "Cloud Foundry", "CF API answers 403 (missing space role)", "service_instance_info",
         dict(CF), ["403", "NotAuthorized"], "The user needs the Space Developer role in the space.",
         setup=_f("cf GET /v3/service_instances", 403, {"errors": [{
             "code": 10003, "title": "CF-NotAuthorized", "detail": "You are not authorized to perform the requested action"}]}),
         cleanup=[CLEAR_FAULTS]),
    Case("cf-html-error", "Cloud Foundry", "HTML error page from a proxy in front of CF", "service_instance_info",
         dict(CF), ["500", "502 Bad Gateway"], "A proxy or load balancer failed; retry later or check the proxy.",
         setup=_f("cf GET /v3/service_instances", 500, HTML_BODY), cleanup=[CLEAR_FAULTS]),
    Case("cf-org-missing", "Cloud Foundry", "Org that does not exist", "service_instance_info",
         dict(CF, org="no-such-org"), ["no-such-org"], "Check org (CF_ORG); the user must be a member."),
    Case("cf-space-missing", "Cloud Foundry", "Space that does not exist", "service_instance_info",
         dict(CF, space="no-such-space"), ["no-such-space"], "Check space (CF_SPACE)."),
    Case("cf-unreachable", "Cloud Foundry", "Unreachable CF API host", "service_instance_info",
         dict(CF, cf_api="https://127.0.0.1:9", timeout=5), ["could not be reached"], "Check cf_api, DNS and proxy settings."),
    Case("cf-tls-untrusted", "Cloud Foundry", "TLS failure: server certificate not trusted (no ca_path)", "service_instance_info",
         {k: v for k, v in CF.items() if k != "ca_path"}, ["TLS verification failed", "ca_path"],
         "Pass the CA bundle that signs the server certificate in ca_path."),
    Case("cf-wrong-ca-bundle", "Cloud Foundry", "Wrong CA bundle in ca_path", "service_instance_info",
         dict(CF, ca_path="{{ pem.untrusted_ca }}"), ["TLS verification failed", "ca_path"],
         "ca_path must contain the CA that signed the CF API certificate."),
    Case("cf-no-api", "Cloud Foundry", "No CF API endpoint given", "service_instance_info",
         {"cf_username": "{{ cf_user }}", "cf_password": "{{ cf_pass }}", "org": "{{ org }}", "space": "{{ space }}"},
         ["cf_api", "CF_API"], "Set cf_api or CF_API."),
    # -- token server -------------------------------------------------------------------------------------------
    Case("token-wrong-secret", "token server", "Wrong client secret (XSUAA 401)", "oauth_token",
         dict(CA, client_id="{{ iflow_clientid }}", client_secret="wrong-secret-value", token_url="{{ token_url }}"),
         ["401", "secret"], "The secret is wrong or the key was deleted; fetch the current key."),
    Case("token-wrong-path", "token server", "token_url with a wrong path (`/oauth/tokn`)", "oauth_token",
         dict(CA, service_key_path="{{ keys.iflow }}", token_url="{{ token_url | regex_replace('/oauth/token$', '/oauth/tokn') }}", cache=False),
         ["token endpoint not found at", "/oauth/tokn"], "Use the key's `tokenurl` (it ends in /oauth/token), or leave token_url unset."),
    Case("token-forbidden", "token server", "Token server answers 403", "oauth_token",
         dict(CA, service_key_path="{{ keys.iflow }}", cache=False), ["403"], "The client may not use this grant; check grant_types.",
         setup=_f("token POST /oauth/token", 403, {"error": "access_denied", "error_description": "Access denied for client"}),
         cleanup=[CLEAR_FAULTS]),
    Case("token-html-error", "token server", "HTML error body from the token server", "oauth_token",
         dict(CA, service_key_path="{{ keys.iflow }}", cache=False), ["500", "502 Bad Gateway"],
         "The token host failed or a proxy answered; retry later.",
         setup=_f("token POST /oauth/token", 500, HTML_BODY), cleanup=[CLEAR_FAULTS]),
    Case("token-unreachable", "token server", "Unreachable token host", "oauth_token",
         dict(CA, client_id="sb-abc!b1|it-rt-acme!b196", client_secret="not-the-secret-1", token_url="https://127.0.0.1:9/oauth/token",
              timeout=5), ["could not be reached"], "Check the key's tokenurl, DNS and proxy settings."),
    # -- runtime and OData API ----------------------------------------------------------------------------------
    Case("iflow-missing-role", "runtime", "iFlow call without the sender role (runtime 403)", "iflow_request",
         dict(CA, service_key_path="{{ keys.iflow_norole }}", path="/echo", method="GET", retries=0),
         ["403", "role"], "Add the iFlow's user role (e.g. ESBMessaging.send) to the instance's roles."),
    Case("iflow-basic-wrong-secret", "runtime", "Basic auth with a wrong secret (runtime 401)", "iflow_request",
         dict(CA, client_id="{{ iflow_clientid }}", client_secret="wrong-secret-value", token_url="{{ token_url }}",
              url="{{ runtime_url }}", auth="basic", path="/echo", method="GET", retries=0),
         ["401"], "Check the client secret of the key."),
    Case("iflow-unknown-endpoint", "runtime", "iFlow endpoint that does not exist", "iflow_request",
         dict(CA, service_key_path="{{ keys.iflow }}", path="/no/such/flow", method="GET", retries=0),
         ["404"], "Check the path in the iFlow's HTTPS sender adapter and /http vs /cxf."),
    Case("odata-missing-role", "OData API", "OData read without MonitoringDataRead (403)", "odata_request",
         dict(CA, service_key_path="{{ keys.api_noread }}", path="MessageProcessingLogs", max_items=1),
         ["403"], "Add the role the resource needs (MonitoringDataRead for MPLs) to the api instance."),
    Case("odata-unauthorized", "OData API", "OData API answers 401", "odata_request",
         dict(CA, service_key_path="{{ keys.api }}", path="MessageProcessingLogs", max_items=1, cache=False),
         ["401"], "The token was rejected: the key may be deleted or of the wrong subaccount.",
         setup=_f("api GET /api/v1/MessageProcessingLogs", 401, {"error": {"code": "Unauthorized", "message": {"lang": "en", "value": "Unauthorized"}}}),
         cleanup=[CLEAR_FAULTS]),
    Case("odata-bad-filter", "OData API", "Invalid $filter", "odata_request",
         dict(CA, service_key_path="{{ keys.api }}", path="MessageProcessingLogs", filter="Status eq", max_items=1),
         ["400"], "Fix the filter expression (OData V2 syntax, e.g. Status eq 'FAILED')."),
    Case("odata-unknown-entity-set", "OData API", "Unknown entity set", "odata_request",
         dict(CA, service_key_path="{{ keys.api }}", entity_set="MessageProcessingLog", max_items=1),
         ["404"], "Entity sets are plural, e.g. MessageProcessingLogs."),
    # -- integration artifacts (issue 18) ------------------------------------------------------------------------
    Case("artifact-unknown-id", "integration artifacts", "iFlow called by an artifact id that is not deployed", "iflow_request",
         dict(CA, service_key_path="{{ keys.iflow }}", artifact_id="No_Such_Flow", api_credentials={"service_key_path": "{{ keys.api }}"},
              method="GET", retries=0),
         ["No_Such_Flow", "not deployed"], "Check the id (the iFlow's id, not its name) or deploy it with integration_artifact."),
    Case("artifact-missing-deploy-role", "integration artifacts", "Deploy with an api key that lacks WorkspaceArtifactsDeploy",
         "integration_artifact", dict(CA, service_key_path="{{ keys.api }}", artifact_id="No_Such_Flow"),
         ["403", "WorkspaceArtifactsDeploy"], "Add WorkspaceArtifactsDeploy (or AuthGroup_IntegrationDeveloper) to the api instance's roles."),
    Case("artifact-path-and-id", "integration artifacts", "iflow_request with both path and artifact_id", "iflow_request",
         dict(CA, service_key_path="{{ keys.iflow }}", path="/echo", artifact_id="Echo_HTTP",
              api_credentials={"service_key_path": "{{ keys.api }}"}),
         ["mutually exclusive", "path", "artifact_id"], "Name the endpoint either by its address (path) or by the iFlow id (artifact_id)."),
    Case("artifact-id-without-api-key", "integration artifacts", "artifact_id without an api key to resolve it", "iflow_request",
         dict(CA, service_key_path="{{ keys.iflow }}", artifact_id="Echo_HTTP"),
         ["api_credentials", "'api' service key"], "Pass the api key in api_credentials; the OData API does not accept integration-flow keys."),
    # -- credential destinations --------------------------------------------------------------------------------
    Case("store-unwritable-path", "destinations", "Destination path whose parent is a file", "credentials_store",
         dict(src="{{ keys.iflow }}", destination="file", path="{{ keys.iflow }}/sub/creds.json", format="json"),
         ["path", "does not exist"], "Point path at a writable directory."),
    Case("store-missing-directory", "destinations", "Destination directory that does not exist", "credentials_store",
         dict(src="{{ keys.iflow }}", destination="file", path="{{ w }}/missing-dir/creds.json", format="json"),
         ["path", "does not exist"], "Create the directory first (ansible.builtin.file state=directory)."),
    Case("store-pem-for-secret-key", "destinations", "PEM format requested for a secret-only key", "credentials_store",
         dict(src="{{ keys.iflow }}", destination="file", path="{{ w }}/out/iflow.pem", format="pem"),
         ["pem", "certificate"], "Secret keys have no certificate; use json, yaml, env or postman."),
    Case("store-pkcs12-without-password", "destinations", "PKCS#12 without a password", "credentials_store",
         dict(src="{{ keys.iflow_cert }}", destination="file", path="{{ w }}/out/cert.p12", format="pkcs12"),
         ["pkcs12_password"], "Set pkcs12_password."),
    Case("store-content-not-json", "destinations", "Key content that is not JSON", "credentials_store",
         dict(content="clientid=abc", destination="file", path="{{ w }}/out/garbage.json", format="json"),
         ["content", "JSON"], "Pass the key JSON text (or src, credentials, or instance + key)."),
    Case("store-vault-sealed", "destinations", "Sealed Vault/OpenBao", "credentials_store",
         dict(src="{{ keys.iflow }}", destination="hashicorp_vault", url="{{ sealed_addr }}", token="{{ vault_token }}",
              path="bad-input/sealed"),
         ["sealed", "unseal"], "Unseal the vault (bao operator unseal) and rerun."),
    Case("store-vault-unreachable", "destinations", "Unreachable Vault/OpenBao", "credentials_store",
         dict(src="{{ keys.iflow }}", destination="hashicorp_vault", url="http://127.0.0.1:9", token="{{ vault_token }}",
              path="bad-input/unreachable", timeout=5),
         ["127.0.0.1:9", "reach"], "Check url (VAULT_ADDR) and that the server runs."),
    Case("store-vault-forbidden", "destinations", "Vault token without permission (403)", "credentials_store",
         dict(src="{{ keys.iflow }}", destination="hashicorp_vault", url="{{ vault_addr }}", token="not-a-valid-token",
              path="bad-input/forbidden"),
         ["403", "permission"], "The token lacks a policy for the path, or expired."),
    Case("store-ansible-vault-no-password", "destinations", "Ansible Vault destination without a vault password", "credentials_store",
         dict(src="{{ keys.iflow }}", destination="ansible_vault", path="{{ w }}/out/creds.vault.yml"),
         ["vault", "password"], "Run with --vault-password-file or --vault-id."),
    Case("store-batch-two-sources", "destinations", "A destinations item with two key sources (batch)", "credentials_store",
         dict(destinations=[{"label": "good", "src": "{{ keys.iflow }}", "path": "{{ w }}/out/batch-good.json"},
                            {"label": "orders", "src": "{{ keys.iflow }}", "content": "{}", "path": "{{ w }}/out/batch-bad.json"}]),
         ["destinations[1] 'orders'", "mutually exclusive"],
         "Give each item one key source (instance + key, credentials, content or src); nothing is written until every item is valid."),
    Case("store-batch-same-path-twice", "destinations", "The same destination twice in one batch", "credentials_store",
         dict(destinations=[{"label": "a", "src": "{{ keys.iflow }}", "path": "{{ w }}/out/same.json"},
                            {"label": "b", "src": "{{ keys.iflow }}", "path": "{{ w }}/out/same.json"}]),
         ["destinations[1]", "listed twice"], "Every destination of a batch must have its own path."),
    Case("call-batch-api-key", "service key", "`api` key in an iFlow call batch", "iflow_request",
         dict(CA, path="/echo", requests=[{"name": "orders", "service_key_path": "{{ keys.iflow }}"},
                                          {"name": "monitor", "service_key_path": "{{ keys.api }}"}]),
         ["requests[1] 'monitor'", "'api' key", "integration-flow"],
         "Every item of an iFlow call batch needs an `integration-flow` key; no call is sent until every item is valid."),
    # -- API Management: API providers (issue 16) -----------------------------------------------------------------
    Case("apim-unknown-provider-type", "api management", "Unknown API provider type", "api_provider",
         dict(CA, name="bi-provider", provider_type="open_connectors", service_key_path="{{ keys.api }}",
              apiportal_key_path="{{ keys.apiportal_admin }}"),
         ["provider_type", "open_connectors", "cloud_integration"], "Only Cloud Integration providers are supported (provider_type: cloud_integration)."),
    Case("apim-no-portal-credentials", "api management", "No API portal credentials", "api_provider",
         dict(CA, name="bi-provider", service_key_path="{{ keys.api }}"),
         ["apiportal_key", "no API portal credentials", "apiportal-apiaccess"],
         "Pass the key of an apimanagement-apiportal instance (plan apiportal-apiaccess): apiportal_key, apiportal_key_path, "
         "apiportal_instance + apiportal_key_name, or APIPORTAL_* variables."),
    Case("apim-iflow-key-for-provider", "api management", "`integration-flow` key given for the provider", "api_provider",
         dict(CA, name="bi-provider", service_key_path="{{ keys.iflow }}", apiportal_key_path="{{ keys.apiportal_admin }}"),
         ["service_key_path", "integration-flow", "'api' key"], "The provider needs the key of an it-rt `api` instance."),
    Case("apim-portal-key-for-provider", "api management", "API portal key given where the Cloud Integration key belongs", "api_provider",
         dict(CA, name="bi-provider", service_key_path="{{ keys.apiportal_admin }}", apiportal_key_path="{{ keys.apiportal_admin }}"),
         ["service_key_path", "API portal key", "'api' key"], "service_key takes the it-rt `api` key; apiportal_key takes the API portal key."),
    Case("apim-guest-writes", "api management", "API portal key of role APIPortal.Guest used to create a provider", "api_provider",
         dict(CA, name="bi-provider", service_key_path="{{ keys.api }}", apiportal_key_path="{{ keys.apiportal_guest }}",
              verify_target=False),
         ["403", "APIPortal.Administrator"], "Writes need an apimanagement-apiportal instance with role APIPortal.Administrator."),
    # -- SAP stores (issue 17): BTP destinations and Cloud Integration security material ---------------------------
    Case("store-cert-into-user-credentials", "SAP stores", "Certificate key into user credentials", "credentials_store",
         dict(CA, src="{{ keys.iflow_cert }}", destination="cpi_security_material", security_material_type="user_credentials",
              name="bad_cert_user", target_service_key_path="{{ keys.api }}"),
         ["security_material_type", "certificate key", "user credentials"],
         "Security material holds a user and password or a client ID and secret; deliver a client-secret key, or the "
         "certificate key to a BTP destination or a file."),
    Case("store-security-material-without-credentialsedit", "SAP stores", "Target key without the role CredentialsEdit",
         "credentials_store",
         dict(CA, src="{{ keys.iflow }}", destination="cpi_security_material", name="bad_no_role",
              target_service_key_path="{{ keys.api }}"),
         ["target_service_key_path", "CredentialsEdit"],
         "Add CredentialsEdit (and MonitoringDataRead) to the roles of the target tenant's api instance."),
    Case("store-destination-name-with-spaces", "SAP stores", "Destination name with spaces", "credentials_store",
         dict(CA, src="{{ keys.iflow }}", destination="btp_destination", name="orders destination",
              destination_service_key={"clientid": "sb-dest!b17|destination-xsappname!b404", "clientsecret": "dest-secret-not-used",
                                       "url": "https://127.0.0.1:9", "uri": "https://127.0.0.1:9"}),
         ["name", "no spaces"], "Destination names take letters, digits, '-' and '_'."),
    Case("store-destination-without-service-key", "SAP stores", "BTP destination without a Destination service key",
         "credentials_store",
         dict(CA, src="{{ keys.iflow }}", destination="btp_destination", name="orders-destination"),
         ["destination_service_key", "plan lite"],
         "Create a key of the destination service (plan lite) and pass it in destination_service_key(_path) "
         "or SAP_BTP_DESTINATION_SERVICE_KEY."),
    # -- roles (argument specs and the errors of the modules they call) --------------------------------------------
    Case("role-unknown-plan", "roles", "Client with an unknown plan (onboarding role)", "ansible.builtin.include_role",
         ROLE, ["plan", "standard", "api", "integration-flow"], "plan is api or integration-flow.",
         vars=dict(ROLE_VARS, onboarding_clients=[{"name": "bad-plan", "plan": "standard"}])),
    Case("role-unknown-plan-inventory-variable", "roles", "Client with an unknown plan in the shared inventory variable (onboarding role)",
         "ansible.builtin.include_role",
         # the error names the variable the user set, not the role variable that defaults to it
         ROLE, ["cloud_integration_clients", "plan", "standard"], "plan is api or integration-flow (the error names cloud_integration_clients).",
         vars=dict(ROLE_VARS, cloud_integration_clients=[{"name": "bad-plan", "plan": "standard"}])),
    Case("role-unknown-cf-field", "roles", "Misspelt Cloud Foundry field in cloud_integration_cf (onboarding role)",
         "ansible.builtin.include_role",
         ROLE, ["cloud_integration_cf", "user"], "The fields are api, username, password, org, space (and the others of cloud_integration_cf).",
         vars={"cloud_integration_cf": {"api": "{{ cf_api }}", "user": "{{ cf_user }}", "password": "{{ cf_pass }}", "org": "{{ org }}",
                                        "space": "{{ space }}"}, "onboarding_ca_path": "{{ ca }}",
               "cloud_integration_clients": [{"name": "cf-field", "plan": "integration-flow"}]}),
    Case("role-client-without-name", "roles", "Client without a name (onboarding role)", "ansible.builtin.include_role",
         ROLE, ["name"], "Every client needs a name.", vars=dict(ROLE_VARS, onboarding_clients=[{"plan": "api", "roles": ["MonitoringDataRead"]}])),
    Case("role-unknown-destination", "roles", "Unknown destination type (onboarding role)", "ansible.builtin.include_role",
         ROLE, ["type", "s3", "file", "hashicorp_vault"], "Destinations are file, ansible_vault, hashicorp_vault, btp_destination or cpi_security_material.",
         vars=dict(ROLE_VARS, onboarding_clients=[{"name": "bad-dest", "plan": "integration-flow",
                                                   "destinations": [{"type": "s3", "path": "bucket/key"}]}])),
    Case("role-duplicate-names", "roles", "Two clients with the same name (onboarding role)", "ansible.builtin.include_role",
         ROLE, ["unique"], "Give every client of a tenant its own name.",
         vars=dict(ROLE_VARS, onboarding_clients=[{"name": "dup", "plan": "integration-flow"},
                                                  {"name": "dup", "plan": "api", "roles": ["MonitoringDataRead"]}])),
    Case("role-validity-out-of-range", "roles", "Token validity 0 in a client (onboarding role)", "ansible.builtin.include_role",
         # the role names the failed step once; the module's own error (token_validity: 3600..86400) is printed just above it
         ROLE, ["Ensure the it-rt service instances", "error is shown above", "rerun"],
         "token_validity is in seconds, between 3600 and 86400 (the instance task's error names it).",
         vars=dict(ROLE_VARS, onboarding_clients=[{"name": "{{ inst.iflow }}-v0", "plan": "integration-flow", "token_validity": 0}])),
    Case("role-certificate-validity-366", "roles", "Certificate validity 366 days in a client (onboarding role)", "ansible.builtin.include_role",
         ROLE, ["validity_days", "365"], "validity_days is between 1 and 365.",
         vars=dict(ROLE_VARS, onboarding_clients=[{"name": "{{ inst.iflow }}", "plan": "integration-flow", "key_name": "cert-366",
                                                   "key_type": "certificate", "validity_days": 366}])),
]


# ---------------------------------------------------------------------------------------------------------------
# document

def _cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def render(results=None):
    """The generated part of docs/troubleshooting.md. ``results`` ({case id: message}) adds observed messages."""
    lines = [BEGIN, ""]
    area = None
    for case in CASES:
        if case.area != area:
            area = case.area
            lines += ["", "### %s" % area[0].upper() + area[1:], "",
                      "| id | bad input | task | the message contains | what to do |", "|---|---|---|---|---|"]
        fragments = " … ".join("`%s`" % _cell(f) for f in case.expect)
        lines.append("| `%s` | %s | `%s` | %s | %s |" % (case.id, _cell(case.title), case.module, fragments, _cell(case.fix)))
    lines += ["", "%d cases." % len(CASES), "", END]
    del results
    return "\n".join(lines)


def generated_part(text):
    match = re.search(re.escape(BEGIN) + r".*?" + re.escape(END), text, re.S)
    return match.group(0) if match else None


def write_doc():
    text = DOC.read_text(encoding="utf-8")
    current = generated_part(text)
    if current is None:
        raise SystemExit("%s has no generated section (markers %s ... %s)" % (DOC, BEGIN, END))
    DOC.write_text(text.replace(current, render()), encoding="utf-8")


if __name__ == "__main__":
    if "--check" in sys.argv:
        sys.exit(0 if generated_part(DOC.read_text(encoding="utf-8")) == render() else 1)
    write_doc()
