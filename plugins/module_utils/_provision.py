# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. Desired-state logic of the service_instance and service_key modules.

Read before write; check mode never writes; every decision is made from at most two requests per object
when nothing has to change. Operations in progress are adopted, failed creates replaced, and an ambiguous
create (connection lost, 5xx) is never re-sent before looking the object up by name.
"""

from __future__ import annotations

import json

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils import _batch, _certs, _it_rt, _service_key
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._cf import IN_PROGRESS_STATES, last_operation, operation_in_progress
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._errors import ApiError, ParameterError
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._redact import fingerprint

ANNOTATION_PREFIX = "sap-btp.cloud-integration"
FINGERPRINT_ANNOTATION = ANNOTATION_PREFIX + "/parameters-sha256"
PARAMETERS_ANNOTATION = ANNOTATION_PREFIX + "/parameters"
KEY_SPEC_ANNOTATION = ANNOTATION_PREFIX + "/key-spec-sha256"
MASK = "********"


def _rel_guid(resource, name):
    return (((resource or {}).get("relationships") or {}).get(name) or {}).get("data", {}).get("guid")


def _annotations(resource):
    return ((resource or {}).get("metadata") or {}).get("annotations") or {}


def _canonical(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def parameters_fingerprint(offering, plan, params):
    return fingerprint(_canonical(_it_rt.normalise_parameters(offering, plan, params)))


def _ambiguous(exc):
    """A failure after which the request may or may not have been carried out."""
    return exc.status is None or exc.status >= 500 or exc.status == 429


def _public_instance(instance, parameters=None, parameters_source=None):
    if instance is None:
        return None
    return {
        "guid": instance.get("guid"),
        "name": instance.get("name"),
        "offering": instance.get("offering_name"),
        "plan": instance.get("plan_name"),
        "space_guid": _rel_guid(instance, "space"),
        "tags": instance.get("tags") or [],
        "dashboard_url": instance.get("dashboard_url"),
        "last_operation": last_operation(instance) or None,
        "created_at": instance.get("created_at"),
        "updated_at": instance.get("updated_at"),
        "parameters": parameters,
        "parameters_source": parameters_source,
    }


class InstanceManager:
    """service_instance: present / absent."""

    def __init__(self, client, params, check_mode=False, warn=None):
        self.client = client
        self.p = params
        self.check_mode = check_mode
        self.warn = warn or (lambda message: None)
        self.offering = params["offering"]
        self.plan = params.get("plan")
        self.desired = None
        self.defer_lookup = False

    # -- validation (no HTTP) ----------------------------------------------------------------------
    def validate(self):
        p = self.p
        _it_rt.validate_instance_name(p["name"], warn=self.warn)
        typed = {option: p.get(option) for option, dummy in _it_rt.TYPED_OPTIONS}
        if p["state"] == "present":
            if not self.plan:
                raise ParameterError("plan", "required with state=present (it-rt plans: api, integration-flow)")
            if self.offering == _it_rt.OFFERING:
                _it_rt.validate_plan(self.plan)
            self.desired = _it_rt.build_instance_parameters(self.offering, self.plan, typed, p.get("parameters"), warn=self.warn)
        if p.get("tags") is not None:
            for tag in p["tags"]:
                if not isinstance(tag, str) or not tag:
                    raise ParameterError("tags", "every tag must be a non-empty string, got %r" % (tag,))
        if p.get("wait_timeout") is not None and p["wait_timeout"] <= 0:
            raise ParameterError("wait_timeout", "must be a positive number of seconds, got %s" % p["wait_timeout"])

    # -- reading -----------------------------------------------------------------------------------
    def _wait_idle(self, instance, context):
        """Wait until no operation runs on the instance. Returns the refreshed instance (None if it is gone)."""
        guid = instance["guid"]
        done = self.client.wait_for_resource(lambda: self.client.get_instance(guid), self.p["wait_timeout"], context, gone_ok=True)
        if done is None:
            return None
        return self.client.find_instance(done["name"]) or done

    def applied_parameters(self, instance):
        """(parameters or None, source, fingerprint or None) of what is applied to an existing instance."""
        offering = instance.get("offering_name") or self.offering
        lastop = last_operation(instance)
        annotations = _annotations(instance)
        if not operation_in_progress(instance) and not (lastop.get("type") == "update" and lastop.get("state") == "failed"):
            known = self.client.parameters_retrievable(offering)
            if known is None:
                # the first instance of a batch finds out whether the broker lets parameters be read; the others wait
                with self.client.lock_for(("parameters retrievable", offering)):
                    read = self._read_parameters(instance, offering, self.client.parameters_retrievable(offering))
            else:
                read = self._read_parameters(instance, offering, known)
            if read is not None:
                return read, "broker", None
        stored = annotations.get(FINGERPRINT_ANNOTATION)
        shown = None
        if annotations.get(PARAMETERS_ANNOTATION):
            try:
                shown = json.loads(annotations[PARAMETERS_ANNOTATION])
            except ValueError:
                shown = None
        if lastop.get("type") == "update" and lastop.get("state") == "failed":
            return shown, "failed_update", None
        return shown, "annotation" if stored else "unknown", stored

    def _read_parameters(self, instance, offering, known):
        """The parameters the broker reports for the instance, or None (not retrievable, or known not to be)."""
        if known is False:
            return None
        read = self.client.instance_parameters(instance["guid"])
        if read is False:
            self.client.remember_parameters_retrievable(offering, False)
            return None
        if read is not None and known is None:
            self.client.remember_parameters_retrievable(offering, True)
        return read

    def _parameters_differ(self, instance, applied, source, stored_fp):
        if self.desired is None:
            return False
        offering = instance.get("offering_name") or self.offering
        if source == "broker":
            return not _it_rt.parameters_match(offering, self.plan, self.desired, applied, exact=False)
        if source == "annotation":
            return stored_fp != parameters_fingerprint(offering, self.plan, self.desired)
        return True

    # -- requests ----------------------------------------------------------------------------------
    def _metadata(self):
        if self.desired is None:
            return None
        annotations = {FINGERPRINT_ANNOTATION: parameters_fingerprint(self.offering, self.plan, self.desired)}
        if self.offering == _it_rt.OFFERING:
            annotations[PARAMETERS_ANNOTATION] = _canonical(_it_rt.normalise_parameters(self.offering, self.plan, self.desired))
        return {"annotations": annotations}

    def _create(self):
        """POST the instance once; on an ambiguous failure, look it up by name before trying again."""
        client = self.client
        name = self.p["name"]
        for attempt in range(3):
            body = {"type": "managed", "name": name,
                    "relationships": {"space": {"data": {"guid": client.space_guid()}},
                                      "service_plan": {"data": {"guid": client.plan_guid(self.offering, self.plan)}}}}
            if self.desired is not None:
                body["parameters"] = self.desired
            if self.p.get("tags") is not None:
                body["tags"] = list(self.p["tags"])
            metadata = self._metadata()
            if metadata:
                body["metadata"] = metadata
            try:
                return client.create_instance(body), None
            except ApiError as exc:
                detail = exc.detail or ""
                if exc.status == 422 and "Invalid space" in detail and attempt == 0:
                    client.forget_space()
                    continue
                if exc.status == 422 and "Invalid service plan" in detail and attempt == 0:
                    client.forget_catalog(self.offering)
                    continue
                if (exc.status == 422 and "name is taken" in detail) or _ambiguous(exc):
                    existing = client.find_instance(name)
                    if existing is not None and not (last_operation(existing).get("type") == "create" and last_operation(existing).get("state") == "failed"):
                        return None, existing
                    if _ambiguous(exc) and attempt < 2:
                        continue
                raise
        raise ApiError("Creating service instance '%s' did not succeed" % name)

    # -- states ------------------------------------------------------------------------------------
    def present(self):
        client = self.client
        name = self.p["name"]
        result = {"changed": False}
        instance = client.find_instance(name)
        adopted = None
        for dummy in range(3):
            if instance is not None and operation_in_progress(instance):
                op_type = last_operation(instance).get("type")
                adopted = op_type
                if self.check_mode:
                    if op_type == "delete":
                        instance = None
                    break
                if op_type != "delete" and not self.p["wait"]:
                    break
                instance = self._wait_idle(instance, "Waiting for the %s of service instance '%s' in progress" % (op_type, name))
                continue
            break
        if instance is not None and operation_in_progress(instance):
            # wait=false and a create or update of this instance is running: report it as it is
            return self._result(result, instance, None, None, adopted=adopted, before=instance)
        failed_create = instance is not None and last_operation(instance).get("type") == "create" and last_operation(instance).get("state") == "failed"
        if instance is None or failed_create:
            return self._create_flow(result, instance, failed_create, adopted)
        if instance.get("offering_name") and instance["offering_name"] != self.offering:
            raise ParameterError("offering", "service instance '%s' exists with offering '%s', not '%s'; choose another name or delete it first" % (
                name, instance["offering_name"], self.offering))
        applied, source, stored_fp = self.applied_parameters(instance)
        body = {}
        if instance.get("plan_name") != self.plan:
            body["relationships"] = {"service_plan": {"data": {"guid": client.plan_guid(self.offering, self.plan)}}}
        if self._parameters_differ(instance, applied, source, stored_fp) or (body and self.desired is not None):
            body["parameters"] = self.desired
            body["metadata"] = self._metadata()
        if self.p.get("tags") is not None and list(self.p["tags"]) != list(instance.get("tags") or []):
            body["tags"] = list(self.p["tags"])
        if not body:
            return self._result(result, instance, applied if self.desired is None else self.desired, source, adopted=adopted, before=instance,
                                before_parameters=applied)
        result["changed"] = True
        if source == "unknown" and "parameters" in body:
            result["parameters_unverified"] = True
            self.warn("The parameters of service instance '%s' cannot be read from the broker and carry no fingerprint of this collection; "
                      "they are applied once so that later runs can detect drift" % name)
        if self.check_mode:
            predicted = dict(instance)
            predicted["plan_name"] = self.plan
            if "tags" in body:
                predicted["tags"] = body["tags"]
            return self._result(result, predicted, self.desired if self.desired is not None else applied, source, adopted=adopted, before=instance,
                                before_parameters=applied)
        job_url, updated = self._patch(instance, body)
        if job_url and self.p["wait"]:
            client.wait_for_job(job_url, self.p["wait_timeout"], "Updating service instance '%s'" % name)
        after = client.find_instance(name) or updated or instance
        return self._result(result, after, self.desired if self.desired is not None else applied, "requested" if "parameters" in body else source,
                            adopted=adopted, before=instance, before_parameters=applied)

    def _patch(self, instance, body):
        name = self.p["name"]
        try:
            return self.client.update_instance(instance["guid"], body, name=name)
        except ApiError as exc:
            if exc.status == 422 and "in progress" in (exc.detail or ""):
                idle = self._wait_idle(instance, "Waiting for another operation on service instance '%s'" % name)
                if idle is None:
                    raise ApiError("Service instance '%s' was deleted while it was being updated" % name) from None
                return self.client.update_instance(instance["guid"], body, name=name)
            raise

    def _create_flow(self, result, instance, failed_create, adopted):
        client = self.client
        name = self.p["name"]
        result["changed"] = True
        if failed_create:
            result["replaced_failed"] = True
            self.warn("Service instance '%s' exists from a failed create (%s); it is replaced" % (
                name, last_operation(instance).get("description") or "no details"))
        before = instance if failed_create else None
        if self.check_mode:
            client.plan_guid(self.offering, self.plan)  # an unknown offering or plan fails in check mode too
            predicted = {"name": name, "offering_name": self.offering, "plan_name": self.plan, "tags": self.p.get("tags") or [],
                         "last_operation": {"type": "create", "state": "initial"},
                         "relationships": {"space": {"data": {"guid": client.space_guid()}}}}
            return self._result(result, predicted, self.desired, "requested", adopted=adopted, before=before)
        job_url, existing = self._create()
        if existing is not None:
            # the create had landed, or someone else created the instance meanwhile: adopt it and converge
            result["changed"] = False
            self.p = dict(self.p)
            outcome = InstanceManager(client, self.p, self.check_mode, self.warn)
            outcome.desired = self.desired
            converged = outcome.present()
            converged["adopted"] = converged.get("adopted") or "create"
            converged["changed"] = True
            converged["diff"]["before"] = {"state": "absent"}
            return converged
        if job_url and self.p["wait"]:
            client.wait_for_job(job_url, self.p["wait_timeout"], "Creating service instance '%s'" % name)

        def created(after):
            if after is None:
                raise ApiError("Service instance '%s' was created but cannot be found in the target space" % name)
            return self._result(result, after, self.desired, "requested", adopted=adopted, before=before)

        if self.defer_lookup and not self.p["wait"]:
            # a batch looks up all its new instances with one list request
            return _batch.Deferred(name, created)
        return created(client.find_instance(name))

    def absent(self):
        client = self.client
        name = self.p["name"]
        result = {"changed": False}
        instance = client.find_instance(name)
        if instance is None:
            return self._result(result, None, None, None, before=None)
        if instance.get("offering_name") and instance["offering_name"] != self.offering:
            raise ParameterError("offering", "service instance '%s' has offering '%s', not '%s'; set offering: %s to delete it" % (
                name, instance["offering_name"], self.offering, instance["offering_name"]))
        lastop = last_operation(instance)
        if operation_in_progress(instance) and lastop.get("type") == "delete":
            result["adopted"] = "delete"
            if self.check_mode or not self.p["wait"]:
                return self._result(result, instance, None, None, before=instance, deleting=True)
            client.wait_for_resource(lambda: client.get_instance(instance["guid"]), self.p["wait_timeout"],
                                     "Waiting for the deletion of service instance '%s'" % name, gone_ok=True)
            return self._result(result, None, None, None, before=instance)
        keys = [key.get("name") for key in client.list_keys([instance["guid"]])]
        result["changed"] = True
        result["deleted_keys"] = keys
        if self.check_mode:
            return self._result(result, None, None, None, before=instance)
        if operation_in_progress(instance):
            instance = self._wait_idle(instance, "Waiting for the %s of service instance '%s' before deleting it" % (lastop.get("type"), name))
            if instance is None:
                return self._result(result, None, None, None, before=None)
        try:
            job_url = client.delete_instance(instance["guid"], name=name)
        except ApiError as exc:
            if exc.status == 422 and "in progress" in (exc.detail or ""):
                instance = self._wait_idle(instance, "Waiting for another operation on service instance '%s'" % name)
                job_url = client.delete_instance(instance["guid"], name=name) if instance is not None else None
            else:
                raise
        if job_url and self.p["wait"]:
            client.wait_for_job(job_url, self.p["wait_timeout"], "Deleting service instance '%s'" % name)
            return self._result(result, None, None, None, before=instance)
        if job_url:
            current = client.get_instance(instance["guid"])
            return self._result(result, current, None, None, before=instance, deleting=current is not None)
        return self._result(result, None, None, None, before=instance)

    # -- result --------------------------------------------------------------------------------------
    def _diff_view(self, instance, parameters, deleting=False):
        if instance is None:
            return {"state": "absent"}
        view = {"state": "deleting" if deleting else "present", "name": instance.get("name"), "offering": instance.get("offering_name"),
                "plan": instance.get("plan_name"), "tags": instance.get("tags") or []}
        if parameters is not None:
            view["parameters"] = parameters if (instance.get("offering_name") or self.offering) == _it_rt.OFFERING else {
                "sha256": parameters_fingerprint(self.offering, self.plan, parameters)}
        elif _annotations(instance).get(FINGERPRINT_ANNOTATION):
            view["parameters"] = {"sha256": _annotations(instance)[FINGERPRINT_ANNOTATION]}
        return view

    def _result(self, result, instance, parameters, source, adopted=None, before=None, before_parameters=None, deleting=False):
        result = dict(result)
        if adopted:
            result["adopted"] = adopted
        public = _public_instance(instance, parameters, source)
        if instance is not None and instance.get("guid") is None:
            public["guid"] = None
        result.update(public or {"guid": None, "name": self.p["name"], "state": "absent"})
        result["state"] = "absent" if instance is None else ("deleting" if deleting else "present")
        result["name"] = self.p["name"]
        result["diff"] = {"before": self._diff_view(before, before_parameters if before_parameters is not None else None),
                          "after": self._diff_view(instance, parameters, deleting)}
        return result


# ------------------------------------------------------------------------------------------------------
def instance_summary(client, instance, include_parameters=False):
    """The info-module view of an instance."""
    parameters, source = None, None
    if include_parameters:
        read = client.instance_parameters(instance["guid"])
        if read not in (None, False):
            parameters, source = read, "broker"
        else:
            annotations = _annotations(instance)
            if annotations.get(PARAMETERS_ANNOTATION):
                try:
                    parameters, source = json.loads(annotations[PARAMETERS_ANNOTATION]), "annotation"
                except ValueError:
                    parameters = None
    return _public_instance(instance, parameters, source)


def _poll_listing(client, timeout, step, what):
    """Call step() (one list request) until it returns (result, pending) with nothing pending, and return the result.
    Sleeps between rounds as client.poll_intervals() says, never past the deadline; the timeout names what is pending."""
    deadline = client.clock() + timeout
    intervals = client.poll_intervals()
    while True:
        result, pending = step()
        if not pending:
            return result
        if client.clock() >= deadline:
            raise ApiError("Still waiting after %s seconds for %s %s" % (timeout, what, ", ".join("'%s'" % n for n in pending)))
        client.sleep(min(next(intervals), max(0.0, deadline - client.clock())))


def wait_for_instances(client, names, wait_for, timeout):
    """Poll the named instances (one list request per round) until all are ready (``settled``: ready or failed) or all
    are gone."""
    def step():
        instances = client.list_instances(names=names)
        by_name = {item["name"]: item for item in instances}
        if wait_for == "absent":
            return instances, sorted(by_name)
        missing = sorted(set(names) - set(by_name))
        if missing:
            raise ApiError("Service instance(s) %s not found in the target space" % ", ".join("'%s'" % n for n in missing))
        failed = [item for item in instances if last_operation(item).get("state") == "failed"]
        if failed and wait_for != "settled":
            raise ApiError("Service instance(s) failed: %s" % "; ".join(
                "'%s' (%s: %s)" % (item["name"], last_operation(item).get("type"), last_operation(item).get("description") or "no details")
                for item in failed))
        return instances, sorted(item["name"] for item in instances if last_operation(item).get("state") in IN_PROGRESS_STATES)

    return _poll_listing(client, timeout, step, "service instance(s)")


def wait_for_keys(client, instance_guids, names, timeout):
    """Poll the keys of the instances (one list request per round) until none of the named keys has an operation in
    progress; returns that listing (keys whose create failed are in it, as they are)."""
    def step():
        keys = [key for key in client.list_keys(instance_guids) if key.get("name") in names]
        return keys, sorted({key["name"] for key in keys if last_operation(key).get("state") in IN_PROGRESS_STATES})

    return _poll_listing(client, timeout, step, "service key(s)")


# ------------------------------------------------------------------------------------------------------
def mask_raw(raw):
    """A copy of a raw key with the secret fields masked."""
    if not isinstance(raw, dict):
        return raw
    masked = json.loads(json.dumps(raw))
    oauth = masked.get("oauth") if isinstance(masked.get("oauth"), dict) else masked
    for name in _service_key.SECRET_FIELDS + _service_key.APIPORTAL_SECRET_FIELDS:
        if oauth.get(name):
            oauth[name] = MASK
    return masked


def parse_raw(raw, option="service_key"):
    """Normalised credentials of a raw key, including certificatedetails placed next to the oauth block."""
    data = raw
    if isinstance(raw, dict) and isinstance(raw.get("oauth"), dict) and isinstance(raw.get("certificatedetails"), dict) \
            and "certificatedetails" not in raw["oauth"]:
        data = {"oauth": dict(raw["oauth"], certificatedetails=raw["certificatedetails"])}
    return _service_key.parse_service_key(data, option=option)


def credential_fingerprint(creds):
    if not creds:
        return None
    return fingerprint(creds.get("clientsecret") or creds.get("certificate") or creds.get("clientid"))


class KeyManager:
    """service_key: present / absent (keys are immutable; a mismatch fails unless force=true)."""

    def __init__(self, client, params, check_mode=False, warn=None, register_secrets=None, now=None):
        self.client = client
        self.p = params
        self.check_mode = check_mode
        self.warn = warn or (lambda message: None)
        self.register_secrets = register_secrets or (lambda *values: None)
        self.now = now
        self.certificate_pem = None
        self.certificate = None
        self.generate = False
        self.ca = None
        self.files = {}
        self.defer_lookup = False

    # -- validation (no HTTP) ----------------------------------------------------------------------
    def validate(self):
        p = self.p
        _it_rt.validate_key_name(p["name"])
        if not p.get("instance") and not p.get("instance_guid"):
            raise ParameterError("instance", "the instance of the key is required: set instance or instance_guid")
        if p.get("instance") is not None:
            _it_rt.validate_instance_name(p["instance"], option="instance")
        if p.get("wait_timeout") is not None and p["wait_timeout"] <= 0:
            raise ParameterError("wait_timeout", "must be a positive number of seconds, got %s" % p["wait_timeout"])
        if p["state"] == "absent":
            return
        key_type = p["key_type"]
        generation_options = ("private_key_path", "certificate_path", "ca_certificate", "ca_private_key_path", "common_name")
        if key_type != "external_certificate":
            for option in generation_options:
                if p.get(option) is not None:
                    raise ParameterError(option, "applies only to key_type 'external_certificate'")
        if key_type == "external_certificate":
            if p.get("certificate") is not None:
                for option in generation_options:
                    if p.get(option) is not None:
                        raise ParameterError(option, "is for generating a certificate; it cannot be combined with 'certificate'")
                self.certificate_pem = _certs.read_pem_option(p["certificate"], "certificate")
                self.certificate = _certs.check_external_certificate(self.certificate_pem, "certificate", now=self.now)
                self.certificate_pem = _certs.certificate_pem(self.certificate)
            else:
                if not p.get("private_key_path"):
                    raise ParameterError("private_key_path", "required for key_type 'external_certificate' without 'certificate': the key pair "
                                         "is generated locally and the private key is written there (mode 0600)")
                if (p.get("ca_certificate") is None) != (p.get("ca_private_key_path") is None):
                    raise ParameterError("ca_certificate", "ca_certificate and ca_private_key_path must be given together")
                self.generate = True
                if p.get("ca_certificate") is not None:
                    self.ca = _certs.load_ca(p["ca_certificate"], p["ca_private_key_path"], p.get("ca_private_key_passphrase"))
        _it_rt.build_key_parameters(key_type, p.get("validity_days") if key_type != "external_certificate" else None,
                                    p.get("key_length") if key_type != "external_certificate" else None,
                                    self.certificate_pem, p.get("parameters"))

    def key_parameters(self, certificate_pem=None):
        p = self.p
        key_type = p["key_type"]
        if key_type == "external_certificate":
            return _it_rt.build_key_parameters(key_type, certificate_pem=certificate_pem or self.certificate_pem, extra=p.get("parameters"))
        return _it_rt.build_key_parameters(key_type, p.get("validity_days"), p.get("key_length"), extra=p.get("parameters"))

    def spec_fingerprint(self):
        return fingerprint(_canonical(self.p.get("parameters") or {}))

    # -- reading -----------------------------------------------------------------------------------
    def locate(self):
        """(key, instance_guid, instance_name); the instance is only looked up when the key lookup needs it."""
        p = self.p
        if p.get("instance_guid"):
            return self.client.find_key(p["instance_guid"], p["name"]), p["instance_guid"], p.get("instance")
        key, instance = self.client.find_key_by_instance_name(p["instance"], p["name"])
        if key is not None:
            return key, instance["guid"], instance.get("name")
        return None, None, p["instance"]

    def _instance_for_create(self, instance_guid):
        client = self.client
        p = self.p
        if instance_guid:
            instance = client.get_instance(instance_guid)
            where = "with GUID %s" % instance_guid
        else:
            instance = client.find_instance(p["instance"])
            where = "'%s' in the target space" % p["instance"]
        if instance is None:
            raise ParameterError("instance_guid" if p.get("instance_guid") else "instance",
                                 "service instance %s not found; create it first (sap_btp.cloud_integration.service_instance)" % where)
        lastop = last_operation(instance)
        if lastop.get("type") == "create" and lastop.get("state") == "failed":
            raise ApiError("Service instance '%s' failed to be created (%s); fix and re-create it before adding keys" % (
                instance.get("name"), lastop.get("description") or "no details"))
        if operation_in_progress(instance) and not self.check_mode:
            done = client.wait_for_resource(lambda: client.get_instance(instance["guid"]), p["wait_timeout"],
                                            "Waiting for the %s of service instance '%s' before creating key '%s'" % (
                                                lastop.get("type"), instance.get("name"), p["name"]), gone_ok=True)
            if done is None:
                raise ParameterError("instance", "service instance '%s' was deleted" % instance.get("name"))
            instance = done
        return instance

    def details(self, key):
        raw = self.client.key_details(key["guid"])
        creds = parse_raw(raw)
        self.register_secrets(*_service_key.secret_values(creds))
        return raw, creds

    def mismatches(self, key, creds):
        """Reasons why the existing key does not match the request (empty when it does)."""
        p = self.p
        reasons = []
        wanted = p["key_type"]
        actual = creds.get("key_type")
        if actual != wanted:
            return ["the key is of type '%s', the task asks for '%s'" % (actual, wanted)]
        leaf = None
        if creds.get("certificate"):
            leaf = _certs.load_certificates(creds["certificate"], "certificate")[0]
        if wanted == "certificate" and leaf is not None:
            if p.get("key_length") and _certs.public_key_bits(leaf) != p["key_length"]:
                reasons.append("its key length is %s bits, the task asks for %s" % (_certs.public_key_bits(leaf), p["key_length"]))
            if p.get("validity_days") and abs(_certs.lifetime_days(leaf) - p["validity_days"]) > 1.5:
                reasons.append("its certificate is valid for %d days, the task asks for %d" % (round(_certs.lifetime_days(leaf)), p["validity_days"]))
        if wanted == "external_certificate" and leaf is not None:
            if self.certificate is not None and _certs.fingerprint(leaf) != _certs.fingerprint(self.certificate):
                reasons.append("it holds a different certificate (sha256 %s..., the task gives %s...)" % (
                    _certs.fingerprint(leaf)[:16], _certs.fingerprint(self.certificate)[:16]))
            if self.generate:
                private_key = _certs.load_private_key(p["private_key_path"], p.get("private_key_passphrase"))
                if private_key is None:
                    reasons.append("its private key is not at private_key_path %s" % p["private_key_path"])
                elif not _certs.matches_private_key(leaf, private_key):
                    reasons.append("its certificate does not belong to the private key at %s" % p["private_key_path"])
        stored = _annotations(key).get(KEY_SPEC_ANNOTATION)
        if stored and stored != self.spec_fingerprint():
            reasons.append("it was created with other 'parameters'")
        return reasons

    # -- local key pair ----------------------------------------------------------------------------
    def prepare_certificate(self, force_new=False):
        """For generated external certificates: the PEM to send (writing the private key first, unless in check mode)."""
        p = self.p
        path = p["private_key_path"]
        passphrase = p.get("private_key_passphrase")
        private_key = _certs.load_private_key(path, passphrase)
        created_key = private_key is None
        if created_key:
            private_key = _certs.generate_private_key(p.get("key_length") or 2048)
        elif p.get("key_length") and private_key.key_size != p["key_length"]:
            raise ParameterError("key_length", "the existing private key at %s has %d bits, not %d; remove it or use another private_key_path" % (
                path, private_key.key_size, p["key_length"]))
        cert = None
        cert_path = p.get("certificate_path")
        if cert_path and not created_key and not force_new:
            try:
                existing = _certs.load_certificates(_certs.read_pem_option(cert_path, "certificate_path"), "certificate_path")[0]
            except ParameterError:
                existing = None
            if existing is not None and _certs.matches_private_key(existing, private_key) \
                    and (existing.not_valid_after_utc - _certs.utcnow()).total_seconds() > 86400:
                cert = existing
        written = []
        if cert is None:
            issuer_cert, issuer_key = self.ca if self.ca else (None, None)
            common_name = p.get("common_name") or "%s-%s" % (p.get("instance") or p.get("instance_guid"), p["name"])
            cert = _certs.build_certificate(private_key, common_name[:64], p.get("validity_days") or 365, issuer_cert, issuer_key)
            if cert_path:
                written.append(cert_path)
        if created_key:
            written.insert(0, path)
        if not self.check_mode:
            if created_key:
                _certs.write_private_key(path, private_key, passphrase)
            if cert_path and cert_path in written:
                _certs.write_private_file(cert_path, _certs.certificate_pem(cert).encode("ascii"), 0o644)
        self.files = {"private_key_path": path, "certificate_path": cert_path, "written": written}
        self.certificate = cert
        return _certs.certificate_pem(cert)

    # -- requests ----------------------------------------------------------------------------------
    def _post(self, instance_guid, parameters):
        client = self.client
        name = self.p["name"]
        body = {"type": "key", "name": name, "relationships": {"service_instance": {"data": {"guid": instance_guid}}},
                "metadata": {"annotations": {KEY_SPEC_ANNOTATION: self.spec_fingerprint()}}}
        if parameters:
            body["parameters"] = parameters
        for attempt in range(3):
            try:
                return client.create_key(body), None
            except ApiError as exc:
                detail = exc.detail or ""
                if exc.status == 422 and "operation in progress" in detail and attempt < 2:
                    client.wait_for_resource(lambda: client.get_instance(instance_guid), self.p["wait_timeout"],
                                             "Waiting for an operation on the service instance before creating key '%s'" % name, gone_ok=True)
                    continue
                if (exc.status == 422 and "must be unique" in detail) or _ambiguous(exc):
                    existing = client.find_key(instance_guid, name)
                    if existing is not None and not (last_operation(existing).get("type") == "create" and last_operation(existing).get("state") == "failed"):
                        return None, existing
                    if _ambiguous(exc) and attempt < 2:
                        continue
                raise
        raise ApiError("Creating service key '%s' did not succeed" % name)

    def _wait_key(self, key, context, gone_ok=False):
        return self.client.wait_for_resource(lambda: self.client.get_key(key["guid"]), self.p["wait_timeout"], context, gone_ok=gone_ok)

    def _remove_failed(self, instance_guid):
        """Best effort after our own create failed: delete the binding the broker rejected, so that a rejected key (an
        untrusted certificate, a broker error) leaves nothing behind. Returns True when one was removed."""
        try:
            key = self.client.find_key(instance_guid, self.p["name"])
            lastop = last_operation(key) if key is not None else {}
            if lastop.get("type") == "create" and lastop.get("state") == "failed":
                self._delete(key)
                return True
        except ApiError:
            pass
        return False

    def _delete(self, key):
        name = self.p["name"]
        job_url = self.client.delete_key(key["guid"], name=name)
        if job_url:
            self.client.wait_for_job(job_url, self.p["wait_timeout"], "Deleting service key '%s'" % name)

    # -- states ------------------------------------------------------------------------------------
    def present(self):
        p = self.p
        name = p["name"]
        result = {"changed": False}
        key, instance_guid, instance_name = self.locate()
        before = None
        if key is not None:
            lastop = last_operation(key)
            if lastop.get("state") in IN_PROGRESS_STATES:
                result["adopted"] = lastop.get("type")
                if lastop.get("type") == "create":
                    if self.check_mode or not p["wait"]:
                        return self._result(result, key, instance_guid, instance_name, None, None, before=None)
                    key = self._wait_key(key, "Waiting for the creation of service key '%s' in progress" % name, gone_ok=True)
                else:
                    if self.check_mode:
                        key = None
                    else:
                        self._wait_key(key, "Waiting for the deletion of service key '%s' in progress" % name, gone_ok=True)
                        key = None
            if key is not None and last_operation(key).get("state") == "failed":
                lastop = last_operation(key)
                if lastop.get("type") == "create":
                    self.warn("Service key '%s' exists from a failed create (%s); it is replaced" % (name, lastop.get("description") or "no details"))
                    result["replaced_failed"] = True
                    before = {"state": "failed"}
                    key = None
                else:
                    before = {"state": "delete failed"}
                    if not self.check_mode:
                        self._delete(key)
                    key = None
        if key is not None:
            raw, creds = self.details(key)
            reasons = self.mismatches(key, creds)
            if not reasons:
                return self._result(result, key, instance_guid, instance_name, raw, creds, before=self._diff_view(key, creds))
            if not p["force"]:
                raise ParameterError("name", "service key '%s' exists but does not match the task: %s. Service keys cannot be changed. Set "
                                     "force: true to delete and re-create it (clients using the old credentials stop working at once), or "
                                     "rotate it without downtime with the sap_btp.cloud_integration.key_rotation role" % (name, "; ".join(reasons)))
            result["replaced"] = True
            result["replaced_reasons"] = reasons
            before = self._diff_view(key, creds)
            if not self.check_mode:
                self._delete(key)
            key = None
        return self._create(result, instance_guid, instance_name, before, force_new=bool(result.get("replaced")))

    def _create(self, result, instance_guid, instance_name, before, force_new=False):
        p = self.p
        name = p["name"]
        result["changed"] = True
        instance = self._instance_for_create(instance_guid)
        instance_guid, instance_name = instance["guid"], instance.get("name") or instance_name
        certificate_pem = self.prepare_certificate(force_new=force_new) if self.generate else None
        parameters = self.key_parameters(certificate_pem)
        if self.check_mode:
            predicted = {"name": name, "guid": None, "last_operation": {"type": "create", "state": "initial"}}
            return self._result(result, predicted, instance_guid, instance_name, None, None, before=before or {"state": "absent"})
        job_url, existing = self._post(instance_guid, parameters)
        if existing is not None:
            key = existing
            if operation_in_progress(key) and p["wait"]:
                key = self._wait_key(key, "Waiting for the creation of service key '%s'" % name)
            result["adopted"] = "create"
        else:
            def created(key):
                try:
                    if key is None:
                        raise ApiError("Service key '%s' was created but cannot be found" % name)
                    if last_operation(key).get("state") == "failed":
                        raise ApiError("Creating service key '%s' failed: %s" % (name, last_operation(key).get("description") or "no details"))
                except ApiError as exc:
                    if self._remove_failed(instance_guid):
                        raise ApiError("%s. The key that failed to be created was removed; fix the cause and run the task again" % exc,
                                       status=exc.status, method=exc.method, url=exc.url, code=exc.code, title=exc.title,
                                       detail=exc.detail) from None
                    raise
                return self._created(result, key, instance_guid, instance_name, before, None)

            try:
                if job_url and p["wait"]:
                    self.client.wait_for_job(job_url, p["wait_timeout"], "Creating service key '%s'" % name)
            except ApiError as exc:
                if self._remove_failed(instance_guid):
                    raise ApiError("%s. The key that failed to be created was removed; fix the cause and run the task again" % exc,
                                   status=exc.status, method=exc.method, url=exc.url, code=exc.code, title=exc.title,
                                   detail=exc.detail) from None
                raise
            if self.defer_lookup and not p["wait"]:
                # a batch looks up all its new keys with one list request
                return _batch.Deferred((instance_guid, name), created)
            return created(self.client.find_key(instance_guid, name))
        return self._created(result, key, instance_guid, instance_name, before, existing)

    def _created(self, result, key, instance_guid, instance_name, before, existing):
        name = self.p["name"]
        if last_operation(key).get("state") == "failed":
            raise ApiError("Creating service key '%s' failed: %s" % (name, last_operation(key).get("description") or "no details"))
        if operation_in_progress(key):
            return self._result(result, key, instance_guid, instance_name, None, None, before=before or {"state": "absent"})
        raw, creds = self.details(key)
        if existing is not None:
            reasons = self.mismatches(key, creds)
            if reasons:
                raise ParameterError("name", "service key '%s' was created concurrently by someone else and does not match the task: %s" % (
                    name, "; ".join(reasons)))
        return self._result(result, key, instance_guid, instance_name, raw, creds, before=before or {"state": "absent"})

    def absent(self):
        p = self.p
        name = p["name"]
        result = {"changed": False}
        key, instance_guid, instance_name = self.locate()
        if key is None:
            return self._result(result, None, instance_guid, instance_name, None, None, before={"state": "absent"})
        lastop = last_operation(key)
        before = self._diff_view(key, None)
        if lastop.get("type") == "delete" and lastop.get("state") in IN_PROGRESS_STATES:
            result["adopted"] = "delete"
            if not self.check_mode and p["wait"]:
                self._wait_key(key, "Waiting for the deletion of service key '%s'" % name, gone_ok=True)
                return self._result(result, None, instance_guid, instance_name, None, None, before=before)
            return self._result(result, key, instance_guid, instance_name, None, None, before=before)
        result["changed"] = True
        if self.check_mode:
            return self._result(result, None, instance_guid, instance_name, None, None, before=before)
        if operation_in_progress(key):
            key = self._wait_key(key, "Waiting for the creation of service key '%s' before deleting it" % name, gone_ok=True)
            if key is None:
                return self._result(result, None, instance_guid, instance_name, None, None, before=before)
        job_url = self.client.delete_key(key["guid"], name=name)
        if job_url and p["wait"]:
            self.client.wait_for_job(job_url, p["wait_timeout"], "Deleting service key '%s'" % name)
            return self._result(result, None, instance_guid, instance_name, None, None, before=before)
        current = self.client.get_key(key["guid"]) if job_url else None
        return self._result(result, current, instance_guid, instance_name, None, None, before=before)

    # -- result --------------------------------------------------------------------------------------
    @staticmethod
    def _diff_view(key, creds):
        if key is None:
            return {"state": "absent"}
        view = {"state": "present" if not operation_in_progress(key) else "%s in progress" % last_operation(key).get("type"),
                "name": key.get("name")}
        if creds:
            view["key_type"] = creds.get("key_type")
            view["credential_sha256"] = credential_fingerprint(creds)
            details = creds.get("certificate_details") or {}
            if details.get("not_after"):
                view["not_after"] = details["not_after"]
        return view

    def _result(self, result, key, instance_guid, instance_name, raw, creds, before=None):
        p = self.p
        result = dict(result)
        reveal = bool(p.get("return_secrets"))
        result.update(
            name=p["name"],
            guid=(key or {}).get("guid"),
            state="absent" if key is None else ("present" if not operation_in_progress(key) else "%s in progress" % last_operation(key).get("type")),
            instance_guid=instance_guid,
            instance=instance_name,
            last_operation=last_operation(key) or None,
            created_at=(key or {}).get("created_at"),
            key_type=(creds or {}).get("key_type") or (p.get("key_type") if key is not None else None),
            plan=(creds or {}).get("plan"),
            certificate_details=(creds or {}).get("certificate_details"),
            credentials=None if creds is None else (creds if reveal else _service_key.public_view(creds)),
            raw=None if raw is None else (raw if reveal else mask_raw(raw)),
            secrets_returned=bool(reveal and creds),
        )
        if self.generate:
            result["private_key_path"] = p.get("private_key_path")
            result["certificate_path"] = p.get("certificate_path")
            result["files_written"] = self.files.get("written") or []
        after = self._diff_view(key, creds)
        if key is not None and creds is None and result["changed"] and self.check_mode:
            after = {"state": "present", "name": p["name"], "key_type": p["key_type"]}
        result["diff"] = {"before": before or {"state": "absent"}, "after": after}
        return result


def withhold_secrets(result):
    """A key result with its secrets masked (for a failed batch: its message must stay visible, so it cannot be no_log)."""
    if not result.get("secrets_returned"):
        return result
    result = dict(result, secrets_returned=False)
    if result.get("credentials") is not None:
        result["credentials"] = _service_key.public_view(result["credentials"])
    if result.get("raw") is not None:
        result["raw"] = mask_raw(result["raw"])
    return result


def key_summary(client, key, instance, include_credentials=False, register_secrets=None, details=True):
    """The info-module view of a key: metadata and certificate expiry; credentials only on request.

    ``details=False`` skips the key's ``/details`` request (no key type, client id, URLs or certificate expiry)."""
    summary = {
        "guid": key.get("guid"), "name": key.get("name"),
        "instance_guid": _rel_guid(key, "service_instance"), "instance": (instance or {}).get("name"),
        "plan": (instance or {}).get("plan_name"),
        "created_at": key.get("created_at"), "updated_at": key.get("updated_at"),
        "last_operation": last_operation(key) or None,
        "labels": ((key.get("metadata") or {}).get("labels") or {}),
        "annotations": ((key.get("metadata") or {}).get("annotations") or {}),
        "key_type": None, "clientid": None, "url": None, "tokenurl": None, "createdate": None,
        "certificate_details": None, "credentials": None, "raw": None,
    }
    lastop = last_operation(key)
    if (lastop.get("type") == "create" and lastop.get("state") != "succeeded") or not details:
        return summary
    raw = client.key_details(key["guid"])
    try:
        creds = parse_raw(raw)
    except ParameterError as exc:
        summary["parse_error"] = str(exc)
        return summary
    if register_secrets:
        register_secrets(*_service_key.secret_values(creds))
    summary.update(key_type=creds.get("key_type"), clientid=creds.get("clientid"), url=creds.get("url"), tokenurl=creds.get("tokenurl"),
                   createdate=creds.get("createdate"), certificate_details=creds.get("certificate_details"))
    summary["plan"] = creds.get("plan") or summary["plan"]
    if include_credentials:
        summary["credentials"] = creds
        summary["raw"] = raw
    return summary
