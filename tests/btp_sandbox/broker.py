"""The service brokers behind the Cloud Controller: `it-rt` (validated against the documented schema) and a
simple `destination` offering, plus the asynchronous operation engine (jobs).

Operations run in two phases on timers: after `polling_fraction` of the profile duration the broker "answers"
(validation happens here; a violation fails the job like a synchronous broker error, CF-ServiceBrokerBadResponse
10001), then after the full duration the operation completes (or fails asynchronously through an injected
`fail_operation` fault, CF-UnableToPerform 10009).
"""

import base64
import datetime
import os
import secrets
import threading
import uuid

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from .config import API_ROLES, API_ROLES_2026, GRANT_TYPES, stable_guid
from .pki import cert_details, fingerprint, load_cert, utcnow
from .state import now_iso

INSTANCE_PARAMETERS = ("roles", "grant-types", "redirect-uris", "token-validity")
KEY_PARAMETERS = ("key-type", "validity", "key-length", "X.509")
CERT_KEY_TYPES = ("certificate", "certificate_external")
IN_PROGRESS = ("initial", "in progress")
APIPORTAL_OFFERING = "apimanagement-apiportal"
APIPORTAL_PLAN = "apiportal-apiaccess"
OP_TEXT = {
    "service_instance.create": "create managed", "service_instance.update": "update managed",
    "service_instance.delete": "delete managed", "service_keys.create": "create service key",
    "service_keys.delete": "delete service key",
}


class BrokerError(Exception):
    """A broker rejection; `str(exc)` is the broker's description."""


def _unique_strings(value):
    return isinstance(value, list) and all(isinstance(v, str) for v in value) and len(set(value)) == len(value)


def instance_schema(plan_name, roles_enum):
    """The JSON schema (draft-07) of the it-rt instance parameters for one plan."""
    if plan_name == "api":
        roles = {"type": "array", "title": "Roles", "uniqueItems": True, "minItems": 1,
                 "items": {"type": "string", "enum": list(roles_enum)}}
    else:
        roles = {"type": "array", "title": "Roles", "uniqueItems": True, "minItems": 0,
                 "items": {"type": "string"}, "default": ["ESBMessaging.send"]}
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "roles": roles,
            "grant-types": {"type": "array", "title": "Grant Types", "uniqueItems": True, "minItems": 0,
                            "items": {"type": "string", "enum": list(GRANT_TYPES)}, "default": ["client_credentials"]},
            "redirect-uris": {"type": "array", "title": "Redirect URIs", "uniqueItems": True, "minItems": 0,
                              "items": {"type": "string"}, "default": []},
            "token-validity": {"type": "integer", "title": "Access Token Validity (in seconds)", "minimum": 3600,
                               "maximum": 86400, "default": 43200 if plan_name == "api" else 3600},
        },
    }


def key_schema(allowed_key_lengths):
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {
            "key-type": {"type": "string", "enum": list(CERT_KEY_TYPES)},
            "validity": {"type": "integer", "minimum": 1, "maximum": 365},
            "key-length": {"type": "integer", "enum": list(allowed_key_lengths), "default": 2048},
            "X.509": {"type": "string"},
        },
    }


class Broker:
    """Catalog, parameter validation, credential generation and the job engine."""

    def __init__(self, sandbox):
        self.sandbox = sandbox
        self.store = sandbox.store
        self.config = sandbox.config.broker
        self.profile = sandbox.config.profile
        self._timers = set()
        self._timers_lock = threading.Lock()
        self._stopped = False
        self.trust = []
        for path in sandbox.config.trust_ca_files:
            with open(path, "rb") as handle:
                self.trust.extend(x509.load_pem_x509_certificates(handle.read()))
        self.roles_enum = list(API_ROLES) + (list(API_ROLES_2026) if self.config.accept_2026_api_roles else [])
        self.offerings, self.plans = self._catalog()

    # -- catalog --------------------------------------------------------------------------------
    def _catalog(self):
        broker_guid = stable_guid("broker", "sm-broker")
        offerings = []
        plans = []
        # observed on real SAP BTP CF (issue 13): SAP offerings carry non-empty tags and broker_catalog.metadata with
        # sm_offering_id, serviceInventoryId and documentation links; the values here are the sandbox's own
        it_rt = {
            "guid": stable_guid("offering", "it-rt"), "name": "it-rt",
            "description": "Process Integration Runtime", "available": True, "tags": list(self.config.it_rt_tags),
            "requires": [], "shareable": False, "documentation_url": "https://help.sap.com/docs/cloud-integration",
            "broker_name": self.config.it_rt_broker_name,
            "broker_catalog": {"id": "it-rt-catalog-id",
                               "metadata": {"displayName": "Process Integration Runtime",
                                            "sm_offering_id": stable_guid("sm-offering", "it-rt"),
                                            "serviceInventoryId": "SERVICE-248",
                                            "documentationUrl": "https://help.sap.com/docs/cloud-integration",
                                            "supportUrl": "https://launchpad.support.sap.com"},
                               "features": {"plan_updateable": True, "bindable": True,
                                            "instances_retrievable": bool(self.config.instances_retrievable),
                                            "bindings_retrievable": bool(self.config.bindings_retrievable),
                                            "allow_context_updates": False}},
            "broker_guid": broker_guid,
        }
        destination = {
            "guid": stable_guid("offering", "destination"), "name": "destination",
            "description": "Manage destination configurations", "available": True, "tags": ["destination"],
            "requires": [], "shareable": True, "documentation_url": "https://help.sap.com/docs/connectivity",
            "broker_name": "destination-broker",
            "broker_catalog": {"id": "destination-catalog-id",
                               "metadata": {"displayName": "Destination",
                                            "sm_offering_id": stable_guid("sm-offering", "destination"),
                                            "serviceInventoryId": "SERVICE-171",
                                            "documentationUrl": "https://help.sap.com/docs/connectivity",
                                            "supportUrl": "https://launchpad.support.sap.com"},
                               "features": {"plan_updateable": False, "bindable": True, "instances_retrievable": True,
                                            "bindings_retrievable": True, "allow_context_updates": False}},
            "broker_guid": broker_guid,
        }
        apiportal = {
            "guid": stable_guid("offering", APIPORTAL_OFFERING), "name": APIPORTAL_OFFERING,
            "description": "API Management, API portal", "available": True, "tags": ["api-management"],
            "requires": [], "shareable": False, "documentation_url": "https://help.sap.com/docs/sap-api-management",
            "broker_name": "apimanagement-apiportal-broker",
            "broker_catalog": {"id": "apimanagement-apiportal-catalog-id",
                               "metadata": {"displayName": "API Management, API portal",
                                            "sm_offering_id": stable_guid("sm-offering", APIPORTAL_OFFERING),
                                            "serviceInventoryId": "SERVICE-215",
                                            "documentationUrl": "https://help.sap.com/docs/sap-api-management",
                                            "supportUrl": "https://launchpad.support.sap.com"},
                               "features": {"plan_updateable": False, "bindable": True, "instances_retrievable": True,
                                            "bindings_retrievable": True, "allow_context_updates": False}},
            "broker_guid": broker_guid,
        }
        offerings.extend([it_rt, destination, apiportal])
        for plan_name, description in (("api", "OAuth client for the Cloud Integration OData API"),
                                       ("integration-flow", "OAuth client for integration flow endpoints")):
            schema = instance_schema(plan_name, self.roles_enum)
            plans.append({
                "guid": stable_guid("plan", "it-rt", plan_name), "name": plan_name, "description": description,
                "offering": it_rt, "free": True, "bindable": True, "visibility_type": "organization",
                "catalog_metadata": self._plan_metadata("it-rt", plan_name),
                "schemas": {"service_instance": {"create": {"parameters": schema}, "update": {"parameters": schema}},
                            "service_binding": {"create": {"parameters": key_schema(self.config.allowed_key_lengths)}}},
            })
        plans.append({
            "guid": stable_guid("plan", "destination", "lite"), "name": "lite",
            "description": "Destination lite plan", "offering": destination, "free": True, "bindable": True,
            "visibility_type": "organization", "catalog_metadata": self._plan_metadata("destination", "lite"),
            "schemas": {"service_instance": {"create": {"parameters": {}}, "update": {"parameters": {}}},
                        "service_binding": {"create": {"parameters": {}}}},
        })
        apiportal_schema = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
                            "properties": {"role": {"type": "string", "enum": list(self.sandbox.config.apiportal.roles)}},
                            "required": ["role"]}
        plans.append({
            "guid": stable_guid("plan", APIPORTAL_OFFERING, APIPORTAL_PLAN), "name": APIPORTAL_PLAN,
            "description": "Access to the API portal API", "offering": apiportal, "free": True, "bindable": True,
            "visibility_type": "organization", "catalog_metadata": self._plan_metadata(APIPORTAL_OFFERING, APIPORTAL_PLAN),
            "schemas": {"service_instance": {"create": {"parameters": apiportal_schema}, "update": {"parameters": apiportal_schema}},
                        "service_binding": {"create": {"parameters": {}}}},
        })
        return offerings, plans

    @staticmethod
    def _plan_metadata(offering, plan):
        """broker_catalog.metadata of a plan (observed keys on real SAP BTP CF, issue 13; the values are the
        sandbox's own)."""
        return {"sm_plan_id": stable_guid("sm-plan", offering, plan),
                "supportedPlatforms": ["cloudfoundry", "kubernetes", "sapbtp"],
                "supportedMinOSBVersion": "2.11", "supportedMaxOSBVersion": "2.17"}

    def failure_text(self, instance, text):
        """A broker failure as Cloud Controller surfaces it on SAP BTP: "Service broker error: Service broker <name>
        failed with: <text>" (observed on real SAP BTP CF, issue 13)."""
        offering = next((o for o in self.offerings if o["name"] == (instance or {}).get("offering_name")), None)
        name = (offering or {}).get("broker_name") or self.config.it_rt_broker_name
        return "Service broker error: Service broker %s failed with: %s" % (name, text)

    def plan_by_guid(self, guid):
        return next((p for p in self.plans if p["guid"] == guid), None)

    # -- validation -----------------------------------------------------------------------------
    def validate_instance_parameters(self, offering_name, plan_name, params):
        if offering_name == APIPORTAL_OFFERING:
            if not isinstance(params, dict):
                raise BrokerError("Parameters must be a JSON object.")
            roles = self.sandbox.config.apiportal.roles
            if params.get("role") not in roles:
                raise BrokerError("Parameter 'role' is required and must be one of %s." % ", ".join("'%s'" % r for r in roles))
            unknown = sorted(set(params) - {"role"})
            if unknown:
                raise BrokerError("Unsupported parameter(s): %s." % ", ".join("'%s'" % k for k in unknown))
            return
        if offering_name != "it-rt":
            if not isinstance(params, dict):
                raise BrokerError("Parameters must be a JSON object.")
            return
        if not isinstance(params, dict):
            raise BrokerError("Parameters must be a JSON object.")
        unknown = [k for k in params if k not in INSTANCE_PARAMETERS]
        if unknown:
            raise BrokerError("Unsupported parameter(s): %s. Allowed parameters are: %s." % (
                ", ".join("'%s'" % k for k in sorted(unknown)), ", ".join("'%s'" % k for k in INSTANCE_PARAMETERS)))
        if "roles" in params:
            roles = params["roles"]
            if not _unique_strings(roles):
                raise BrokerError("'roles' must be an array of unique strings.")
            if plan_name == "api":
                if not roles:
                    raise BrokerError("'roles' must contain at least one role for plan 'api'.")
                bad = [r for r in roles if r not in self.roles_enum]
                if bad:
                    raise BrokerError("Invalid role(s) for plan 'api': %s." % ", ".join("'%s'" % r for r in bad))
        elif plan_name == "api":
            raise BrokerError("'roles' is required for plan 'api' and must contain at least one role.")
        if "grant-types" in params:
            grants = params["grant-types"]
            if not _unique_strings(grants):
                raise BrokerError("'grant-types' must be an array of unique strings.")
            if "client_x509" in grants:
                raise BrokerError("The grant type 'client_x509' is deprecated and no longer supported; "
                                  "use 'client_credentials' instead.")
            bad = [g for g in grants if g not in GRANT_TYPES]
            if bad:
                raise BrokerError("Invalid grant type(s): %s. Allowed values are: %s." % (
                    ", ".join("'%s'" % g for g in bad), ", ".join("'%s'" % g for g in GRANT_TYPES)))
        if "redirect-uris" in params and not _unique_strings(params["redirect-uris"]):
            raise BrokerError("'redirect-uris' must be an array of unique strings.")
        if "token-validity" in params:
            validity = params["token-validity"]
            if isinstance(validity, bool) or not isinstance(validity, int) or not 3600 <= validity <= 86400:
                raise BrokerError("'token-validity' must be an integer between 3600 and 86400.")

    def validate_key_parameters(self, instance, params, key_guid=None):
        """Return the normalised key parameters {key_type, validity, key_length, x509, pin}."""
        if not isinstance(params, dict):
            raise BrokerError("Parameters must be a JSON object.")
        if instance["offering_name"] == APIPORTAL_OFFERING:
            name = self.sandbox.config.apiportal.x509_key_parameter
            unknown = sorted(set(params) - {name})
            if unknown:
                raise BrokerError("Unsupported key parameter(s): %s." % ", ".join("'%s'" % k for k in unknown))
            if name in params and params[name] not in ("x509", "binding-secret"):
                raise BrokerError("'%s' must be 'x509' or 'binding-secret'." % name)
            return {"key_type": "certificate" if params.get(name) == "x509" else "client_secret"}
        if instance["offering_name"] != "it-rt":
            return {"key_type": "client_secret"}
        grants = (instance.get("parameters") or {}).get("grant-types", ["client_credentials"])
        if "client_x509" in grants:
            raise BrokerError("The service instance uses the deprecated grant type 'client_x509'. Replace it with "
                              "'client_credentials' before creating service keys.")
        allowed = list(KEY_PARAMETERS) + [self.config.pin_certificate_parameter]
        unknown = [k for k in params if k not in allowed]
        if unknown and self.config.strict_key_parameters:
            raise BrokerError("Unsupported key parameter(s): %s." % ", ".join("'%s'" % k for k in sorted(unknown)))
        key_type = params.get("key-type")
        if key_type is None or key_type in self.config.explicit_secret_key_types:
            return {"key_type": "client_secret"}
        if key_type not in CERT_KEY_TYPES:
            raise BrokerError("Invalid key-type '%s'. Allowed values are 'certificate' and 'certificate_external'." % (key_type,))
        if "client_credentials" not in grants:
            raise BrokerError("Certificate-based service keys require the grant type 'client_credentials' "
                              "on the service instance.")
        result = {"key_type": key_type, "pin": params.get(self.config.pin_certificate_parameter, True)}
        if key_type == "certificate":
            validity = params.get("validity", self.config.default_certificate_validity_days)
            if isinstance(validity, bool) or not isinstance(validity, int) or not 1 <= validity <= 365:
                raise BrokerError("'validity' must be an integer between 1 and 365 (days).")
            key_length = params.get("key-length", 2048)
            if isinstance(key_length, bool) or key_length not in self.config.allowed_key_lengths:
                raise BrokerError("'key-length' must be one of %s." % ", ".join(str(n) for n in self.config.allowed_key_lengths))
            result.update(validity=validity, key_length=key_length)
            return result
        pem = params.get("X.509")
        if not pem or not isinstance(pem, str):
            raise BrokerError("Parameter 'X.509' is required for key-type 'certificate_external'.")
        pem = pem.replace("\\n", "\n")
        try:
            certs = x509.load_pem_x509_certificates(pem.encode())
        except ValueError as exc:
            raise BrokerError("Parameter 'X.509' is not a valid PEM encoded X.509 certificate.") from exc
        if len(certs) != 1:
            raise BrokerError("Parameter 'X.509' must contain exactly one certificate, not a chain.")
        cert = certs[0]
        now = utcnow()
        if cert.not_valid_after_utc <= now:
            raise BrokerError("The certificate in 'X.509' has expired.")
        if cert.not_valid_before_utc > now:
            raise BrokerError("The certificate in 'X.509' is not yet valid.")
        if not self._trusted(cert):
            raise BrokerError("The certificate in 'X.509' is not signed by a trusted certificate authority.")
        fp = fingerprint(cert)
        with self.store.lock:
            owner = self.store.used_external_certs.get(fp)
            if owner and owner != key_guid and owner in self.store.keys:
                raise BrokerError("The certificate in 'X.509' is already used by another service key. "
                                  "A certificate can be used only once across all service instances.")
        result["certificate"] = cert
        return result

    def _trusted(self, cert):
        for ca in self.trust:
            if ca.subject != cert.issuer:
                continue
            try:
                cert.verify_directly_issued_by(ca)
                return True
            except (ValueError, TypeError, x509.InvalidSignature):
                continue
        return False

    # -- credentials ----------------------------------------------------------------------------
    def _clientid(self, instance, key_guid):
        tenant = self.sandbox.tenant(instance["tenant"])
        base = instance["client_uuid"] if self.config.keys_share_clientid else str(uuid.uuid5(uuid.UUID(instance["client_uuid"]), key_guid))
        suffix = tenant.xsappname_api if instance["plan_name"] == "api" else tenant.xsappname_rt
        return "sb-%s%s|%s" % (base, self.config.clone_suffix, suffix)

    @staticmethod
    def new_secret():
        return "%s$%s" % (uuid.uuid4(), base64.b64encode(os.urandom(32)).decode())

    def build_key(self, record, instance, key_params):
        """Fill the key record's credentials (called when the broker answers)."""
        tenant = self.sandbox.tenant(instance["tenant"])
        created = datetime.datetime.now(datetime.timezone.utc)
        createdate = created.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (created.microsecond // 1000)
        if instance["offering_name"] == APIPORTAL_OFFERING:
            self._build_apiportal_key(record, instance, key_params, tenant)
            return
        if instance["offering_name"] != "it-rt":
            secret = self.new_secret()
            clientid = "sb-%s!b%s|destination-xsappname!b404" % (instance["client_uuid"], "17")
            record.update(clientid=clientid, clientsecret=secret, key_type="client_secret", cert_fingerprint=None,
                          plan=instance["plan_name"])
            record["credentials"] = {"clientid": clientid, "clientsecret": secret,
                                     "uri": getattr(self.sandbox, "destination_url", "") or
                                     "https://destination-configuration.cfapps.%s.hana.ondemand.com" % tenant.region,
                                     "url": tenant.token_base, "identityzone": tenant.subdomain,
                                     "tenantid": tenant.subaccount_id}
            return
        clientid = self._clientid(instance, record["guid"])
        url = tenant.api_url if instance["plan_name"] == "api" else tenant.runtime_url
        key_type = key_params["key_type"]
        oauth = {"clientid": clientid}
        details = None
        record.update(clientid=clientid, key_type=key_type, plan=instance["plan_name"], cert_fingerprint=None,
                      clientsecret=None)
        if key_type == "client_secret":
            secret = self.new_secret()
            oauth["clientsecret"] = secret
            record["clientsecret"] = secret
        elif key_type == "certificate":
            chain, key_pem, details = self.sandbox.pki.issue_client_cert(
                clientid.split("!")[0][3:], key_params["validity"], key_params["key_length"],
                subaccount_id=tenant.subaccount_id, region=tenant.region)
            oauth["certificate"] = chain
            oauth["key"] = key_pem
            record["cert_fingerprint"] = fingerprint(load_cert(chain))
        else:
            cert = key_params["certificate"]
            oauth["certificate"] = cert.public_bytes(serialization.Encoding.PEM).decode()
            details = cert_details(cert)
            record["cert_fingerprint"] = fingerprint(cert)
            record["pin_certificate"] = bool(key_params.get("pin", True))
            with self.store.lock:
                self.store.used_external_certs[record["cert_fingerprint"]] = record["guid"]
        oauth["url"] = url
        if key_type != "client_secret" and self.config.cert_key_tokenurl_on_cert_host:
            oauth["tokenurl"] = tenant.cert_token_url
        else:
            oauth["tokenurl"] = tenant.token_url
        if self.config.include_createdate:
            oauth["createdate"] = createdate
        credentials = {"oauth": oauth}
        if details is not None:
            if self.config.certificatedetails_in_oauth:
                oauth["certificatedetails"] = details
            else:
                credentials["certificatedetails"] = details
        record["credentials"] = credentials

    def _build_apiportal_key(self, record, instance, key_params, tenant):
        """The flat key of apimanagement-apiportal: {url, tokenUrl, clientId, clientSecret} or, for x509,
        {url, certurl, clientId, certificate, privateKey} (integration-suite-apis.md)."""
        clientid = "sb-%s%s|%s" % (instance["client_uuid"], self.config.clone_suffix, tenant.xsappname_apiportal)
        record.update(clientid=clientid, key_type=key_params["key_type"], plan=instance["plan_name"], cert_fingerprint=None,
                      clientsecret=None)
        credentials = {"url": tenant.apiportal_url, "clientId": clientid}
        if key_params["key_type"] == "certificate":
            chain, key_pem, _details = self.sandbox.pki.issue_client_cert(
                clientid.split("!")[0][3:], self.config.default_certificate_validity_days, 2048,
                subaccount_id=tenant.subaccount_id, region=tenant.region)
            record["cert_fingerprint"] = fingerprint(load_cert(chain))
            credentials.update(certurl=tenant.cert_token_base, certificate=chain, privateKey=key_pem)
        else:
            secret = self.new_secret()
            record["clientsecret"] = secret
            credentials.update(tokenUrl=tenant.token_url, clientSecret=secret)
        record["credentials"] = credentials

    # -- job engine -----------------------------------------------------------------------------
    def new_job(self, operation, resource_type, resource_guid, payload=None, route_key=None):
        job_guid = str(uuid.uuid4())
        ts = now_iso()
        fault = self.sandbox.faults.take_operation_failure(route_key, operation)
        job = {"guid": job_guid, "created_at": ts, "updated_at": ts, "operation": operation, "state": "PROCESSING",
               "errors": [], "warnings": [], "resource_type": resource_type, "resource_guid": resource_guid,
               "payload": payload or {}, "phase": "answer",
               "fault": {"mode": fault.mode, "message": fault.message} if fault else None}
        with self.store.lock:
            self.store.jobs[job_guid] = job
        self.store.save()
        self._schedule(job_guid)
        return job

    def _durations(self, operation):
        if operation.startswith("service_keys"):
            total = self.profile.key_s
        elif operation.endswith("delete"):
            total = self.profile.deprovisioning_s
        else:
            total = self.profile.provisioning_s
        total = max(0.0, float(total))
        return total * self.profile.polling_fraction, total * (1 - self.profile.polling_fraction)

    def _schedule(self, job_guid, delay=None):
        with self.store.lock:
            job = self.store.jobs.get(job_guid)
            if job is None or job["state"] in ("COMPLETE", "FAILED"):
                return
            first, second = self._durations(job["operation"])
            delay = delay if delay is not None else (first if job["phase"] == "answer" else second)
        with self._timers_lock:
            if self._stopped:
                return
            timer = threading.Timer(delay, self._step, args=(job_guid,))
            timer.daemon = True
            self._timers.add(timer)
        timer.start()

    def resume(self):
        """Reschedule unfinished jobs (after loading persisted state)."""
        with self.store.lock:
            pending = [g for g, j in self.store.jobs.items() if j["state"] not in ("COMPLETE", "FAILED")]
        for guid in pending:
            self._schedule(guid, delay=0.05)

    def stop(self):
        with self._timers_lock:
            self._stopped = True
            timers = list(self._timers)
            self._timers.clear()
        for timer in timers:
            timer.cancel()

    def _step(self, job_guid):
        with self._timers_lock:
            # this timer has fired (every timer leaves the set here, so no other finished one is left in it)
            self._timers.discard(threading.current_thread())
        if self._stopped:
            return
        with self.store.lock:
            job = self.store.jobs.get(job_guid)
            if job is None or job["state"] in ("COMPLETE", "FAILED"):
                return
            phase = job["phase"]
        try:
            if phase == "answer":
                self._answer(job)
            else:
                self._complete(job)
        except BrokerError as exc:
            text = self.failure_text(self._instance_of(job), exc)
            self._fail(job, 10001, "CF-ServiceBrokerBadResponse", text, text)
        self.store.save()
        with self.store.lock:
            again = job["state"] not in ("COMPLETE", "FAILED")
        if again:
            self._schedule(job_guid)

    def _resource(self, job):
        table = self.store.keys if job["operation"].startswith("service_keys") else self.store.instances
        return table.get(job["resource_guid"])

    def _instance_of(self, job):
        """The instance a job works on (for a key job: the key's instance), or None."""
        with self.store.lock:
            resource = self._resource(job)
            if resource is not None and job["operation"].startswith("service_keys"):
                return self.store.instances.get(resource.get("instance_guid"))
            return resource

    @staticmethod
    def _set_last_operation(resource, op_type, state, description=None):
        """Move the resource's last_operation. The resource's own updated_at stays: Cloud Controller keeps
        operations beside the resource (an instance's updated_at does not move when its create job completes,
        observed on real SAP BTP CF, issue 13)."""
        ts = now_iso()
        last = resource.setdefault("last_operation", {})
        if last.get("type") != op_type:
            last["created_at"] = ts
        last.update(type=op_type, state=state, description=description, updated_at=ts)
        last.setdefault("created_at", ts)

    def _fail(self, job, code, title, detail, description):
        with self.store.lock:
            job.update(state="FAILED", updated_at=now_iso(),
                       errors=[{"code": code, "title": title, "detail": detail}])
            resource = self._resource(job)
            if resource is not None:
                op_type = job["operation"].split(".")[1]
                self._set_last_operation(resource, op_type, "failed", description)
                if job["operation"] == "service_keys.create":
                    resource["state"] = "failed"
                    fp = resource.get("cert_fingerprint")
                    if fp and self.store.used_external_certs.get(fp) == resource["guid"]:
                        del self.store.used_external_certs[fp]

    def _answer(self, job):
        """Phase 1: the broker receives the request (validation, credential generation)."""
        operation = job["operation"]
        fault = job.get("fault")
        if fault and fault["mode"] == "sync":
            raise BrokerError(fault["message"])
        with self.store.lock:
            resource = self._resource(job)
            if resource is None:
                job.update(state="FAILED", updated_at=now_iso(), errors=[{
                    "code": 10010, "title": "CF-ResourceNotFound", "detail": "The resource could not be found"}])
                return
            instance = resource if operation.startswith("service_instance") else self.store.instances.get(resource["instance_guid"])
        if operation == "service_instance.create":
            self.validate_instance_parameters(instance["offering_name"], instance["plan_name"], instance.get("parameters") or {})
        elif operation == "service_instance.update":
            payload = job["payload"]
            plan_name = payload.get("plan_name", instance["plan_name"])
            if "parameters" in payload:
                self.validate_instance_parameters(instance["offering_name"], plan_name, payload["parameters"])
            current = instance.get("parameters") or {}
            grants = current.get("grant-types", [])
            if "client_x509" in grants and "grant-types" not in payload.get("parameters", {}):
                if self.config.update_parameters_mode == "merge" or "parameters" not in payload:
                    raise BrokerError("The service instance uses the deprecated grant type 'client_x509' and cannot be "
                                      "updated. Replace it with 'client_credentials'.")
        elif operation == "service_keys.create":
            key_params = self.validate_key_parameters(instance, job["payload"].get("parameters") or {}, resource["guid"])
            with self.store.lock:
                self.build_key(resource, instance, key_params)
        with self.store.lock:
            op_type = operation.split(".")[1]
            self._set_last_operation(resource, op_type, "in progress")
            if operation == "service_keys.create":
                resource["state"] = "in progress"
            job.update(state="POLLING", phase="complete", updated_at=now_iso())

    def _complete(self, job):
        """Phase 2: the broker reports the operation's outcome."""
        operation = job["operation"]
        fault = job.get("fault")
        with self.store.lock:
            resource = self._resource(job)
            if fault:
                text = self.failure_text(self._instance_of(job), fault["message"])
                self._fail(job, 10009, "CF-UnableToPerform",
                           "%s could not be completed: %s" % (OP_TEXT.get(operation, operation), text), text)
                return
            if resource is None:
                job.update(state="COMPLETE", updated_at=now_iso())
                return
            op_type = operation.split(".")[1]
            if operation == "service_instance.update":
                payload = job["payload"]
                if "parameters" in payload:
                    if self.config.update_parameters_mode == "merge":
                        merged = dict(resource.get("parameters") or {})
                        merged.update(payload["parameters"])
                        resource["parameters"] = merged
                    else:
                        resource["parameters"] = payload["parameters"]
                if "plan_guid" in payload:
                    resource["plan_guid"] = payload["plan_guid"]
                    resource["plan_name"] = payload["plan_name"]
                    resource["updated_at"] = now_iso()
            if operation == "service_instance.delete":
                self.remove_instance(resource["guid"])
            elif operation == "service_keys.delete":
                self.remove_key(resource["guid"])
            else:
                self._set_last_operation(resource, op_type, "succeeded", "" if operation.startswith("service_instance") else None)
                if operation == "service_keys.create":
                    resource["state"] = "succeeded"
            job.update(state="COMPLETE", updated_at=now_iso(), errors=[])

    # -- removal --------------------------------------------------------------------------------
    def remove_key(self, key_guid):
        """Delete a key: its secret / certificate is revoked at once."""
        with self.store.lock:
            record = self.store.keys.pop(key_guid, None)
            if record is None:
                return
            fp = record.get("cert_fingerprint")
            if fp and self.store.used_external_certs.get(fp) == key_guid:
                del self.store.used_external_certs[fp]

    def remove_instance(self, instance_guid):
        with self.store.lock:
            for key_guid in [g for g, k in self.store.keys.items() if k["instance_guid"] == instance_guid]:
                self.remove_key(key_guid)
            self.store.instances.pop(instance_guid, None)

    @staticmethod
    def new_client_uuid():
        return str(uuid.UUID(bytes=secrets.token_bytes(16), version=4))
