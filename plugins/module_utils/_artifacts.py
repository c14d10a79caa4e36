# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. Cloud Integration artifacts on the OData API v1: runtime status, deploy tasks,
service endpoints.

- runtime artifacts (``IntegrationRuntimeArtifacts``): status, version, deployed by/on; 404 means not deployed;
  the error text of a failed deployment (``ErrorInformation/$value``) turned into readable text, never bytes;
- design-time artifacts (``IntegrationDesigntimeArtifacts(Id=..,Version=..)``) for the version to compare;
- deploy (``DeployIntegrationDesigntimeArtifact``, 202 + task id) and the build-and-deploy task
  (``BuildAndDeployStatus(TaskId=..)``), undeploy (``DELETE IntegrationRuntimeArtifacts('..')``, 202);
- service endpoints (``ServiceEndpoints?$expand=EntryPoints``): the endpoint URL of a deployed iFlow, cached
  through ``_cache.FileCache`` like tokens, and a clear error for a not-deployed or failed iFlow.
Sources: SAP/jenkins-library (Project Piper) cmd/integrationArtifact*.go, engswee/flashpipe internal/api/runtime.go.
"""

from __future__ import annotations

import json
import time
from urllib.parse import urlsplit

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._cache import CacheError, FileCache, cache_key
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._errors import ApiError, ParameterError, api_error_from_response, safe_url
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._odata import (
    VALUE_ACCEPT,
    Pager,
    clean,
    key_predicate,
    literal,
    query_options,
    with_options,
)

RUNTIME_STATUSES = ("STARTED", "STARTING", "ERROR", "STOPPING", "STOPPED")
TASK_FINAL = ("SUCCESS", "FAIL", "FAIL_ON_LICENSE_ERROR")
READ_ROLE = "MonitoringDataRead"
DEPLOY_ROLE = "WorkspaceArtifactsDeploy"
DESIGN_ROLE = "WorkspacePackagesRead"
ENDPOINT_CACHE = "artifact_endpoints"
ENDPOINT_TTL = 3600
MAX_ERROR_CHARS = 2000


# ---------------------------------------------------------------------------------------------------------------
# readable error text

def _walk_instances(node, out):
    """Collect the texts of a ``{"message", "parameters", "childMessageInstances"}`` tree, depth first."""
    if isinstance(node, dict):
        for value in node.get("parameters") or []:
            if isinstance(value, str) and value.strip():
                out.append(value.strip())
        for child in node.get("childMessageInstances") or []:
            _walk_instances(child, out)
    elif isinstance(node, list):
        for item in node:
            _walk_instances(item, out)


def readable_error(raw):
    """The error text of ``ErrorInformation/$value`` as one readable line.

    The answer is JSON ``{"message": {..., "messageText"}, "parameter": ["<JSON of childMessageInstances>"]}``
    (Piper printed it as raw bytes until its PR 3286); the nested parameters (exception, cause) are joined with
    ``: ``. Bytes are decoded as UTF-8; anything that is not that JSON is returned as stripped text.
    """
    if raw is None:
        return None
    if isinstance(raw, (bytes, bytearray)):
        raw = bytes(raw).decode("utf-8", errors="replace")
    text = str(raw).strip()
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return text[:MAX_ERROR_CHARS]
    parts = []
    if isinstance(data, dict):
        message = data.get("message")
        if isinstance(message, dict) and str(message.get("messageText") or "").strip():
            parts.append(str(message["messageText"]).strip())
        for parameter in data.get("parameter") or []:
            try:
                nested = json.loads(parameter) if isinstance(parameter, str) else parameter
            except ValueError:
                nested = parameter
            if isinstance(nested, (dict, list)):
                _walk_instances(nested, parts)
            elif isinstance(nested, str) and nested.strip():
                parts.append(nested.strip())
        if not parts and isinstance(message, dict) and message.get("messageId"):
            parts.append(str(message["messageId"]))
    elif isinstance(data, str):
        parts.append(data)
    seen, unique = set(), []
    for part in parts:
        if part not in seen:
            seen.add(part)
            unique.append(part)
    result = ": ".join(unique) if unique else text
    return result[:MAX_ERROR_CHARS]


# ---------------------------------------------------------------------------------------------------------------
# results

def describe(entity, error_text=None, endpoints=None):
    """The module-facing form of a runtime artifact (OData names turned into snake_case)."""
    art = clean(entity) if entity is not None else {}
    return {
        "id": art.get("Id"),
        "name": art.get("Name"),
        "version": art.get("Version"),
        "type": art.get("Type"),
        "status": art.get("Status"),
        "deployed": bool(art),
        "deployed_by": art.get("DeployedBy"),
        "deployed_on": art.get("DeployedOn"),
        "error_text": error_text,
        "endpoints": endpoints or [],
    }


def not_deployed(artifact_id):
    out = describe(None)
    out.update(id=artifact_id, status=None, deployed=False)
    return out


def endpoint_rows(service_endpoint):
    """[{url, protocol, type, endpoint_id}] of one ServiceEndpoint with expanded EntryPoints."""
    rows = []
    entries = service_endpoint.get("EntryPoints")
    if isinstance(entries, dict):
        entries = entries.get("results")
    for entry in entries or []:
        if isinstance(entry, dict) and entry.get("Url"):
            rows.append({"url": entry["Url"], "protocol": service_endpoint.get("Protocol"), "type": entry.get("Type"),
                         "endpoint_id": service_endpoint.get("Id")})
    return rows


def unavailable_message(artifact_id, artifact):
    """Why an iFlow cannot be called: not deployed, failed (with its error text), still starting, no endpoint."""
    if artifact is None or not artifact.get("deployed"):
        return ("integration flow %s is not deployed on the tenant (no runtime artifact); deploy it with "
                "sap_btp.cloud_integration.integration_artifact" % artifact_id)
    status = artifact.get("status")
    if status == "ERROR":
        return "deployment of integration flow %s failed (status ERROR): %s" % (
            artifact_id, artifact.get("error_text") or "the tenant gave no error text")
    if status != "STARTED":
        return "integration flow %s is not started (status %s); wait for STARTED with " \
               "sap_btp.cloud_integration.integration_artifact_info wait_for" % (artifact_id, status)
    return "integration flow %s is deployed (STARTED) but has no HTTP or SOAP endpoint in ServiceEndpoints" % artifact_id


def failure_kind(artifact):
    """``not_deployed`` / ``deployment_failed`` / ``not_started`` / None for a STARTED artifact."""
    if artifact is None or not artifact.get("deployed"):
        return "not_deployed"
    if artifact.get("status") == "ERROR":
        return "deployment_failed"
    if artifact.get("status") != "STARTED":
        return "not_started"
    return None


# ---------------------------------------------------------------------------------------------------------------
# API

def _role_hint(status, role, what):
    if status == 403:
        return "The api key lacks the role %s, which %s needs (or a role collection holding it, such as " \
               "AuthGroup_IntegrationDeveloper)" % (role, what)
    return None


class ArtifactApi:
    """Runtime and design-time artifacts, deploy tasks and service endpoints on one ODataClient."""

    def __init__(self, client, redactor=None, warn=None, clock=time.monotonic, sleep=time.sleep):
        self.client = client
        self.redactor = redactor
        self.warn = warn
        self.clock = clock
        self.sleep = sleep

    def _fail(self, response, context, role=None, what=None):
        if role and response.status_code == 403:
            raise api_error_from_response(response, context, hint=_role_hint(403, role, what))
        self.client.raise_for(response, context)

    def _get(self, resource, context, role=READ_ROLE, what="reading runtime artifacts", accept="application/json"):
        response = self.client.send("GET", self.client.url(resource), accept=accept, context=context)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            self._fail(response, context, role, what)
        return response

    # ---- runtime ------------------------------------------------------------------------------------------------

    def runtime(self, artifact_id):
        """The runtime artifact (raw OData entity) or None when it is not deployed."""
        response = self._get("IntegrationRuntimeArtifacts" + key_predicate(artifact_id),
                             "reading the runtime status of %s" % artifact_id)
        if response is None:
            return None
        data = self.client.decode_json(response)
        return data.get("d", data) if isinstance(data, dict) else None

    def runtimes(self):
        url = self.client.url("IntegrationRuntimeArtifacts")
        pager = Pager(self.client.get_json, url, [], warn=self.warn, root=self.client.root)
        return pager.run()

    def error_text(self, artifact_id):
        response = self.client.send("GET", self.client.url("IntegrationRuntimeArtifacts%s/ErrorInformation/$value"
                                                           % key_predicate(artifact_id)), accept=VALUE_ACCEPT)
        if response.status_code in (204, 404):
            return None
        if response.status_code != 200:
            self._fail(response, "reading the deployment error of %s" % artifact_id, READ_ROLE, "reading runtime artifacts")
        text = readable_error(response.content)
        return self.redactor.scrub(text) if (self.redactor is not None and text) else text

    # ---- design time --------------------------------------------------------------------------------------------

    def designtime(self, artifact_id, version="active"):
        """The design-time artifact (raw entity) or None when the tenant has no such artifact/version."""
        resource = "IntegrationDesigntimeArtifacts" + key_predicate({"Id": artifact_id, "Version": version})
        response = self._get(resource, "reading the design-time artifact %s (version %s)" % (artifact_id, version),
                             DESIGN_ROLE, "reading design-time artifacts (to compare the deployed version)")
        if response is None:
            return None
        data = self.client.decode_json(response)
        return data.get("d", data) if isinstance(data, dict) else None

    # ---- deploy / undeploy --------------------------------------------------------------------------------------

    def deploy(self, artifact_id, version="active"):
        """Start a deployment; returns the build-and-deploy task id."""
        options = [("Id", literal(artifact_id)), ("Version", literal(version))]
        url = with_options(self.client.url("DeployIntegrationDesigntimeArtifact"), options)
        response = self.client.write("POST", url)
        context = "deploying %s (version %s)" % (artifact_id, version)
        if response.status_code == 404:
            raise ParameterError("artifact_id", "the tenant has no design-time integration flow %s with version %s"
                                 % (artifact_id, version))
        if response.status_code not in (200, 201, 202):
            self._fail(response, context, DEPLOY_ROLE, "deploying and undeploying")
        return self._task_id(response)

    @staticmethod
    def _task_id(response):
        """The task id: the plain body (Piper reads it so), or the value of a JSON function-import answer."""
        text = (response.text or "").strip()
        if text.startswith("{"):
            try:
                data = json.loads(text)
            except ValueError:
                data = None
            body = data.get("d", data) if isinstance(data, dict) else None
            if isinstance(body, dict):
                for value in body.values():
                    if isinstance(value, str) and value:
                        return value
        if not text:
            raise ApiError("the deploy call answered HTTP %s without a task id" % response.status_code,
                           status=response.status_code, url=safe_url(response.url))
        return text.strip('"')

    def task_status(self, task_id):
        response = self._get("BuildAndDeployStatus" + key_predicate({"TaskId": task_id}),
                             "reading the build-and-deploy task %s" % task_id, DEPLOY_ROLE, "following a deployment")
        if response is None:
            raise ApiError("the build-and-deploy task %s does not exist" % task_id, status=404)
        data = self.client.decode_json(response)
        body = data.get("d", data) if isinstance(data, dict) else {}
        return body.get("Status")

    def undeploy(self, artifact_id):
        """DELETE the runtime artifact; False when it was not deployed (404)."""
        url = self.client.url("IntegrationRuntimeArtifacts" + key_predicate(artifact_id))
        response = self.client.write("DELETE", url)
        if response.status_code == 404:
            return False
        if response.status_code not in (200, 202, 204):
            self._fail(response, "undeploying %s" % artifact_id, DEPLOY_ROLE, "deploying and undeploying")
        return True

    # ---- waiting ------------------------------------------------------------------------------------------------

    def wait_task(self, task_id, timeout, interval):
        """Poll the task until a final status; returns (status, waited seconds); status None on timeout."""
        start = self.clock()
        while True:
            status = self.task_status(task_id)
            waited = self.clock() - start
            if status in TASK_FINAL:
                return status, waited
            if waited + interval > timeout:
                return None, waited
            self.sleep(interval)

    def wait_runtime(self, artifact_ids, wanted, timeout, interval, fail_on_error=True):
        """Poll runtime artifacts until each has a status in ``wanted`` (``None`` in ``wanted``: not deployed).

        Returns (described artifacts by id, outcome, waited): outcome ``done``, ``error`` (an artifact is in ERROR
        and ERROR is not wanted; its error text is read), or ``timeout``.
        """
        start = self.clock()
        wanted = set(wanted)
        while True:
            current = {}
            for artifact_id in artifact_ids:
                entity = self.runtime(artifact_id)
                current[artifact_id] = describe(entity) if entity is not None else not_deployed(artifact_id)
            waited = self.clock() - start
            failed = [a for a in current.values() if a["status"] == "ERROR" and "ERROR" not in wanted]
            if failed and fail_on_error:
                for art in failed:
                    art["error_text"] = self.error_text(art["id"])
                return current, "error", waited
            if all(a["status"] in wanted for a in current.values()):
                return current, "done", waited
            if waited + interval > timeout:
                return current, "timeout", waited
            self.sleep(interval)

    # ---- service endpoints --------------------------------------------------------------------------------------

    def service_endpoints(self):
        """{artifact id: [endpoint rows]} of every deployed artifact with an endpoint."""
        url = self.client.url("ServiceEndpoints")
        options = query_options(expand=["EntryPoints"])
        try:
            pager = Pager(self.client.get_json, url, options, warn=self.warn, root=self.client.root)
            entities = pager.run()
        except ApiError as exc:
            if exc.status == 403:
                raise ApiError("%s. Reading ServiceEndpoints needs an api key with the role %s" % (exc, READ_ROLE),
                               status=exc.status, url=exc.url, code=exc.code, title=exc.title) from None
            raise
        out = {}
        for entity in entities:
            name = entity.get("Name")
            if name:
                out.setdefault(name, []).extend(endpoint_rows(entity))
        return out

    def artifacts(self, artifact_ids=None, endpoints=True, errors=True):
        """Described artifacts: the given ids (not deployed ones included) or every runtime artifact."""
        if artifact_ids:
            raw = [(artifact_id, self.runtime(artifact_id)) for artifact_id in artifact_ids]
        else:
            raw = [(entity.get("Id"), entity) for entity in self.runtimes()]
        by_endpoint = self.service_endpoints() if endpoints else {}
        out = []
        for artifact_id, entity in raw:
            if entity is None:
                out.append(not_deployed(artifact_id))
                continue
            status = entity.get("Status")
            error = self.error_text(artifact_id) if errors and status == "ERROR" else None
            out.append(describe(entity, error, by_endpoint.get(artifact_id)))
        return out


# ---------------------------------------------------------------------------------------------------------------
# endpoint resolution for iflow_request (cached like tokens)

def endpoint_cache_key(api_url, client_id, artifact_id):
    return cache_key("endpoint", (api_url or "").rstrip("/"), client_id or "", artifact_id)


class EndpointResolver:
    """The endpoint URL of a deployed iFlow, from ServiceEndpoints, cached in ``_cache.FileCache``.

    A cache entry holds the URL and protocol only (no secret) and expires after ``ENDPOINT_TTL`` seconds; the
    caller invalidates it when the endpoint answers 404 or 503 (undeployed, failed) and resolves again, which
    then reports the status and error text.
    """

    def __init__(self, api, api_url, client_id, cache=True, cache_dir=None, ttl=ENDPOINT_TTL, warn=None):
        self.api = api
        self.api_url = api_url
        self.client_id = client_id
        self.ttl = ttl
        self.warn = warn
        self.cache = FileCache(ENDPOINT_CACHE, directory=cache_dir) if cache else None
        self.from_cache = False

    def _resolve(self, artifact_id):
        endpoints = self.api.service_endpoints().get(artifact_id) or []
        if endpoints:
            return {"url": endpoints[0]["url"], "protocol": endpoints[0].get("protocol"), "status": "STARTED"}
        entity = self.api.runtime(artifact_id)
        artifact = describe(entity) if entity is not None else not_deployed(artifact_id)
        if artifact["status"] == "ERROR":
            artifact["error_text"] = self.api.error_text(artifact_id)
        raise ArtifactUnavailable(artifact_id, artifact)

    def resolve(self, artifact_id):
        """{url, protocol, status}; raises ArtifactUnavailable for a not-deployed, failed or starting iFlow."""
        self.from_cache = False
        if self.cache is None:
            return self._resolve(artifact_id)
        key = endpoint_cache_key(self.api_url, self.client_id, artifact_id)
        try:
            cached = self.cache.get(key)
            if cached is not None:
                self.from_cache = True
                return cached
            with self.cache.locked(key):
                cached = self.cache.get(key)
                if cached is not None:
                    self.from_cache = True
                    return cached
                value = self._resolve(artifact_id)
                self.cache.put(key, value, expires_at=time.time() + self.ttl)
                return value
        except (CacheError, OSError) as exc:
            if self.warn:
                self.warn("the endpoint cache is not usable (%s); resolving without it" % exc)
            self.cache = None
            return self._resolve(artifact_id)

    def invalidate(self, artifact_id):
        if self.cache is not None:
            try:
                self.cache.delete(endpoint_cache_key(self.api_url, self.client_id, artifact_id))
            except OSError:
                pass


class ArtifactUnavailable(ApiError):
    """The iFlow cannot be called: not deployed, deployment failed (with the error text), or not started."""

    def __init__(self, artifact_id, artifact):
        self.artifact_id = artifact_id
        self.artifact = artifact
        self.kind = failure_kind(artifact)
        super().__init__(unavailable_message(artifact_id, artifact))

    def to_result(self):
        return {"artifact": self.artifact, "failure_kind": self.kind}


def endpoint_path(url):
    """The runtime path of an endpoint URL (``/http/orders``), for reports."""
    return urlsplit(url).path or "/"
