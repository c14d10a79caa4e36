"""Cloud Foundry Cloud Controller v3 (the parts used to provision it-rt instances and keys).

Shapes, codes and messages follow provisioning-apis.md section A.
"""

import copy
import json
import math
import re
import threading
import time
import uuid
from urllib.parse import urlencode

import jwt
from flask import Flask, Response, g, jsonify, request

from .config import stable_guid
from .state import now_iso
from .uaa import verify_token

FIXED_CREATED = "2024-01-15T08:00:00Z"
LIST_COMMON = ("page", "per_page", "order_by", "label_selector", "created_ats", "updated_ats", "guids")
ORDER_BY = ("created_at", "updated_at", "name")
IN_PROGRESS = ("initial", "in progress")


class CfError(Exception):
    def __init__(self, status, code, title, detail, retry_after=None, content_type=None):
        super().__init__(detail)
        self.status, self.code, self.title, self.detail = status, code, title, detail
        self.retry_after, self.content_type = retry_after, content_type


class SeedError(ValueError):
    pass


def unprocessable(detail):
    return CfError(422, 10008, "CF-UnprocessableEntity", detail)


def bad_query(detail):
    return CfError(400, 10005, "CF-BadQueryParameter", "The query parameter is invalid: %s" % detail)


def not_found(detail):
    return CfError(404, 10010, "CF-ResourceNotFound", detail)


def _csv(name):
    value = request.args.get(name)
    if value is None:
        return None
    return value.split(",")


def _in(value, wanted, case_insensitive=False):
    if wanted is None:
        return True
    if case_insensitive:
        return (value or "").lower() in {w.lower() for w in wanted}
    return value in wanted


# -- label selectors -----------------------------------------------------------------------------
_REQ = re.compile(r"\s*(!?)([A-Za-z0-9./_-]+)(?:\s*(==|!=|=)\s*([A-Za-z0-9._-]*)|\s+(in|notin)\s*\(([^)]*)\))?\s*")


def parse_label_selector(text):
    requirements = []
    pos = 0
    while pos < len(text):
        match = _REQ.match(text, pos)
        if not match or match.end() == pos:
            raise bad_query("Invalid label_selector value")
        neg, key, op, value, set_op, values = match.groups()
        if neg and (op or set_op):
            raise bad_query("Invalid label_selector value")
        if neg:
            requirements.append(("absent", key, None))
        elif op:
            requirements.append(("ne" if op == "!=" else "eq", key, value))
        elif set_op:
            requirements.append((set_op, key, {v.strip() for v in values.split(",") if v.strip()}))
        else:
            requirements.append(("present", key, None))
        pos = match.end()
        if pos < len(text):
            if text[pos] != ",":
                raise bad_query("Invalid label_selector value")
            pos += 1
    return requirements


def labels_match(labels, requirements):
    for kind, key, value in requirements:
        have = labels.get(key)
        if kind == "present" and key not in labels:
            return False
        if kind == "absent" and key in labels:
            return False
        if kind == "eq" and have != value:
            return False
        if kind == "ne" and have == value:
            return False
        if kind == "in" and have not in value:
            return False
        if kind == "notin" and have in value:
            return False
    return True


def merge_metadata(current, patch):
    """CF metadata PATCH semantics: keys with null values are removed."""
    result = copy.deepcopy(current or {"labels": {}, "annotations": {}})
    result.setdefault("labels", {})
    result.setdefault("annotations", {})
    for section in ("labels", "annotations"):
        for key, value in ((patch or {}).get(section) or {}).items():
            if value is None:
                result[section].pop(key, None)
            else:
                result[section][key] = value
    return result


def validate_metadata(metadata):
    if metadata is None:
        return
    if not isinstance(metadata, dict) or set(metadata) - {"labels", "annotations"}:
        raise unprocessable("Metadata must be an object with 'labels' and/or 'annotations'")
    for section in ("labels", "annotations"):
        value = metadata.get(section)
        if value is not None and not isinstance(value, dict):
            raise unprocessable("Metadata %s must be an object" % section)
        for key, val in (value or {}).items():
            if val is not None and not isinstance(val, str):
                raise unprocessable("Metadata %s '%s' must be a string" % (section, key))
            if section == "labels" and val is not None and len(val) > 63:
                raise unprocessable("Metadata label value error: '%s' is greater than 63 characters" % val)


class RateCounter:
    """Cloud Controller's rate limiter: requests per identity in fixed windows (X-Ratelimit-* headers). As in CC's
    source (middleware/rate_limiter.rb), Remaining is an estimate rounded down to a tenth of the limit and Reset is
    the epoch second the window ends."""

    def __init__(self):
        self.lock = threading.Lock()
        self.windows = {}

    def consume(self, identity, limit, window_s, now=None):
        """Count one request; returns (limit, remaining, reset epoch s, exceeded)."""
        now = time.time() if now is None else now
        window_s = max(1, int(window_s))
        start = int(now) - int(now) % window_s
        with self.lock:
            window, count = self.windows.get(identity, (start, 0))
            if window != start:
                window, count = start, 0
            count += 1
            self.windows[identity] = (window, count)
        estimate = int(math.floor(10.0 * (limit - count) / limit) / 10.0 * limit) if limit > 0 else 0
        return limit, max(0, estimate), window + window_s, count > limit


def _identity():
    """Who a request counts against: the token's user (or client), else the caller's address."""
    claims = g.get("cf_claims")
    if claims is None:
        scheme, _unused, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            try:
                claims = jwt.decode(token.strip(), options={"verify_signature": False})
            except jwt.InvalidTokenError:
                claims = None
    if isinstance(claims, dict) and (claims.get("user_id") or claims.get("sub")):
        return "user:%s" % (claims.get("user_id") or claims.get("sub"))
    return "ip:%s" % request.remote_addr


class CloudController:
    """Request handlers; one instance per sandbox."""

    def __init__(self, sandbox):
        self.sandbox = sandbox
        self.store = sandbox.store
        self.broker = sandbox.broker

    @property
    def base(self):
        return self.sandbox.cf_url

    def href(self, path):
        return {"href": self.base + path}

    # -- orgs and spaces ------------------------------------------------------------------------
    def orgs(self):
        seen = {}
        for tenant in self.sandbox.config.tenants:
            if tenant.org not in seen:
                guid = stable_guid("org", tenant.org)
                seen[tenant.org] = {
                    "guid": guid, "created_at": FIXED_CREATED, "updated_at": FIXED_CREATED, "name": tenant.org,
                    "suspended": False,
                    "relationships": {"quota": {"data": {"guid": stable_guid("quota", "default")}}},
                    "metadata": {"labels": {}, "annotations": {}},
                    "links": {"self": self.href("/v3/organizations/" + guid),
                              "domains": self.href("/v3/organizations/%s/domains" % guid),
                              "default_domain": self.href("/v3/organizations/%s/domains/default" % guid),
                              "quota": self.href("/v3/organization_quotas/" + stable_guid("quota", "default"))},
                }
        return list(seen.values())

    def spaces(self):
        result = []
        for tenant in self.sandbox.config.tenants:
            guid = stable_guid("space", tenant.org, tenant.space)
            if any(s["guid"] == guid for s in result):
                continue
            org_guid = stable_guid("org", tenant.org)
            result.append({
                "guid": guid, "created_at": FIXED_CREATED, "updated_at": FIXED_CREATED, "name": tenant.space,
                "relationships": {"organization": {"data": {"guid": org_guid}}, "quota": {"data": None}},
                "metadata": {"labels": {}, "annotations": {}},
                "links": {"self": self.href("/v3/spaces/" + guid), "organization": self.href("/v3/organizations/" + org_guid),
                          "features": self.href("/v3/spaces/%s/features" % guid),
                          "apply_manifest": {"href": self.base + "/v3/spaces/%s/actions/apply_manifest" % guid, "method": "POST"}},
                "_tenant": tenant.name, "_org_name": tenant.org,
            })
        return result

    def space(self, guid):
        return next((s for s in self.spaces() if s["guid"] == guid), None)

    @staticmethod
    def public(resource):
        return {k: v for k, v in resource.items() if not k.startswith("_")}

    # -- catalog presenters ---------------------------------------------------------------------
    def offering_json(self, offering):
        guid = offering["guid"]
        return {
            "guid": guid, "created_at": FIXED_CREATED, "updated_at": FIXED_CREATED, "name": offering["name"],
            "description": offering["description"], "available": offering["available"], "tags": offering["tags"],
            "requires": offering["requires"], "shareable": offering["shareable"],
            "documentation_url": offering["documentation_url"], "broker_catalog": offering["broker_catalog"],
            "relationships": {"service_broker": {"data": {"guid": offering["broker_guid"]}}},
            "metadata": {"labels": {}, "annotations": {}},
            "links": {"self": self.href("/v3/service_offerings/" + guid),
                      "service_plans": self.href("/v3/service_plans?service_offering_guids=" + guid),
                      "service_broker": self.href("/v3/service_brokers/" + offering["broker_guid"])},
        }

    def plan_json(self, plan):
        guid = plan["guid"]
        return {
            "guid": guid, "created_at": FIXED_CREATED, "updated_at": FIXED_CREATED, "name": plan["name"],
            "visibility_type": plan["visibility_type"], "available": True, "free": plan["free"], "costs": [],
            "description": plan["description"], "maintenance_info": {},
            "broker_catalog": {"id": "%s-%s" % (plan["offering"]["name"], plan["name"]),
                               "metadata": copy.deepcopy(plan["catalog_metadata"]), "maximum_polling_duration": None,
                               "features": {"plan_updateable": plan["offering"]["broker_catalog"]["features"]["plan_updateable"],
                                            "bindable": plan["bindable"]}},
            "schemas": plan["schemas"],
            "relationships": {"service_offering": {"data": {"guid": plan["offering"]["guid"]}}},
            "metadata": {"labels": {}, "annotations": {}},
            "links": {"self": self.href("/v3/service_plans/" + guid),
                      "service_offering": self.href("/v3/service_offerings/" + plan["offering"]["guid"]),
                      "visibility": self.href("/v3/service_plans/%s/visibility" % guid)},
        }

    # -- instance / key / job presenters --------------------------------------------------------
    def instance_json(self, inst):
        guid = inst["guid"]
        data = {
            "guid": guid, "created_at": inst["created_at"], "updated_at": inst["updated_at"], "name": inst["name"],
            "tags": list(inst.get("tags") or []), "type": inst["type"],
            "last_operation": dict(inst["last_operation"]),
            "relationships": {"space": {"data": {"guid": inst["space_guid"]}}},
            "metadata": copy.deepcopy(inst.get("metadata") or {"labels": {}, "annotations": {}}),
            "links": {"self": self.href("/v3/service_instances/" + guid),
                      "space": self.href("/v3/spaces/" + inst["space_guid"]),
                      "service_credential_bindings": self.href("/v3/service_credential_bindings?service_instance_guids=" + guid),
                      "service_route_bindings": self.href("/v3/service_route_bindings?service_instance_guids=" + guid)},
        }
        if inst["type"] == "managed":
            data.update(maintenance_info={}, upgrade_available=False, dashboard_url=None)
            data["relationships"]["service_plan"] = {"data": {"guid": inst["plan_guid"]}}
            data["links"].update(service_plan=self.href("/v3/service_plans/" + inst["plan_guid"]),
                                 parameters=self.href("/v3/service_instances/%s/parameters" % guid),
                                 shared_spaces=self.href("/v3/service_instances/%s/relationships/shared_spaces" % guid))
        else:
            data.update(syslog_drain_url=inst.get("syslog_drain_url"), route_service_url=inst.get("route_service_url"))
            data["links"]["credentials"] = self.href("/v3/service_instances/%s/credentials" % guid)
        return data

    def key_json(self, key):
        guid = key["guid"]
        return {
            "guid": guid, "created_at": key["created_at"], "updated_at": key["updated_at"], "name": key["name"],
            "type": "key", "last_operation": dict(key["last_operation"]),
            "metadata": copy.deepcopy(key.get("metadata") or {"labels": {}, "annotations": {}}),
            "relationships": {"service_instance": {"data": {"guid": key["instance_guid"]}}},
            "links": {"self": self.href("/v3/service_credential_bindings/" + guid),
                      "details": self.href("/v3/service_credential_bindings/%s/details" % guid),
                      "parameters": self.href("/v3/service_credential_bindings/%s/parameters" % guid),
                      "service_instance": self.href("/v3/service_instances/" + key["instance_guid"])},
        }

    def job_json(self, job):
        links = {"self": self.href("/v3/jobs/" + job["guid"])}
        rtype, rguid = job["resource_type"], job["resource_guid"]
        if rtype == "service_credential_binding":
            if rguid in self.store.keys:
                links[rtype] = self.href("/v3/service_credential_bindings/" + rguid)
        elif rguid in self.store.instances:
            links[rtype] = self.href("/v3/service_instances/" + rguid)
        return {"guid": job["guid"], "created_at": job["created_at"], "updated_at": job["updated_at"],
                "operation": job["operation"], "state": job["state"], "errors": copy.deepcopy(job["errors"]),
                "warnings": copy.deepcopy(job["warnings"]), "links": links}

    # -- listing helpers ------------------------------------------------------------------------
    @staticmethod
    def check_params(allowed, fields_allowed=()):
        unknown = []
        for key in request.args:
            if key in allowed:
                continue
            match = re.fullmatch(r"fields\[([a-z_.]+)\]", key)
            if match and match.group(1) in fields_allowed:
                continue
            unknown.append(key)
        if unknown:
            valid = list(allowed) + ["fields[%s]" % f for f in fields_allowed]
            raise bad_query("Unknown query parameter(s): %s. Valid parameters are: %s" % (
                ", ".join("'%s'" % k for k in unknown), ", ".join("'%s'" % k for k in valid)))

    def paginate(self, items, path, order_default="created_at", extra=None):
        args = request.args
        cfg = self.sandbox.config.cf
        per_page_raw = args.get("per_page", str(cfg.default_per_page))
        page_raw = args.get("page", "1")
        try:
            per_page = int(per_page_raw)
        except ValueError as exc:
            raise bad_query("Per page must be between 1 and %d" % cfg.max_per_page) from exc
        if not 1 <= per_page <= cfg.max_per_page:
            raise bad_query("Per page must be between 1 and %d" % cfg.max_per_page)
        try:
            page = int(page_raw)
        except ValueError as exc:
            raise bad_query("Page must be greater than 0") from exc
        if page < 1:
            raise bad_query("Page must be greater than 0")
        order_by = args.get("order_by", order_default)
        field = order_by.lstrip("+-")
        if field not in ORDER_BY:
            raise bad_query("Order by can only be: %s" % ", ".join("'%s'" % o for o in ORDER_BY))
        items = sorted(items, key=lambda r: (r.get(field) or "", r.get("guid", "")), reverse=order_by.startswith("-"))
        total = len(items)
        total_pages = max(1, math.ceil(total / per_page))
        filters = [(k, v) for k, v in args.items(multi=True) if k not in ("page", "per_page")]

        def link(number):
            return {"href": "%s%s?%s" % (self.base, path, urlencode(filters + [("page", number), ("per_page", per_page)]))}

        body = {
            "pagination": {"total_results": total, "total_pages": total_pages, "first": link(1), "last": link(total_pages),
                           "next": link(page + 1) if page < total_pages else None,
                           "previous": link(page - 1) if page > 1 else None},
            "resources": items[(page - 1) * per_page: page * per_page],
        }
        if extra:
            body.update(extra(body["resources"]))
        return jsonify(body)

    @staticmethod
    def common_filters(items):
        guids = _csv("guids")
        if guids is not None:
            items = [i for i in items if i["guid"] in guids]
        selector = request.args.get("label_selector")
        if selector is not None:
            requirements = parse_label_selector(selector)
            items = [i for i in items if labels_match((i.get("metadata") or {}).get("labels") or {}, requirements)]
        for name in ("created_ats", "updated_ats"):
            value = request.args.get(name)
            if value is not None:
                wanted = set(value.split(","))
                items = [i for i in items if i.get(name[:-1]) in wanted]
        return items

    @staticmethod
    def select_fields(resource, wanted):
        out = {}
        for name in wanted:
            if name.startswith("relationships."):
                rel = name.split(".", 1)[1]
                if rel in resource.get("relationships", {}):
                    out.setdefault("relationships", {})[rel] = resource["relationships"][rel]
            elif name in resource:
                out[name] = resource[name]
        return out

    # -- body helpers ---------------------------------------------------------------------------
    @staticmethod
    def json_body():
        data = request.get_data(cache=True)
        try:
            body = json.loads(data or b"{}")
        except ValueError as exc:
            raise CfError(400, 1001, "CF-MessageParseError", "Request invalid due to parse error: invalid request body") from exc
        if not isinstance(body, dict):
            raise CfError(400, 1001, "CF-MessageParseError", "Request invalid due to parse error: invalid request body")
        return body

    @staticmethod
    def check_fields(body, allowed):
        unknown = [k for k in body if k not in allowed]
        if unknown:
            raise unprocessable("Unknown field(s): %s" % ", ".join("'%s'" % k for k in unknown))

    @staticmethod
    def rel_guid(body, name):
        try:
            guid = body["relationships"][name]["data"]["guid"]
        except (KeyError, TypeError):
            return None
        return guid if isinstance(guid, str) else None

    def job_location(self, job):
        response = Response(status=202)
        response.headers["Location"] = self.base + "/v3/jobs/" + job["guid"]
        return response

    # -- instance helpers -----------------------------------------------------------------------
    def get_instance(self, guid):
        inst = self.store.instances.get(guid)
        if inst is None:
            raise not_found("Service instance not found")
        return inst

    def new_instance(self, name, space, plan, parameters, tags, metadata, itype="managed"):
        ts = now_iso()
        guid = str(uuid.uuid4())
        inst = {
            "guid": guid, "name": name, "type": itype, "space_guid": space["guid"], "tenant": space["_tenant"],
            "plan_guid": plan["guid"] if plan else None, "plan_name": plan["name"] if plan else None,
            "offering_name": plan["offering"]["name"] if plan else None,
            "offering_guid": plan["offering"]["guid"] if plan else None,
            "parameters": parameters, "tags": tags or [], "metadata": merge_metadata(None, metadata),
            "created_at": ts, "updated_at": ts, "client_uuid": self.broker.new_client_uuid(),
            "last_operation": {"type": "create", "state": "initial", "description": None, "created_at": ts, "updated_at": ts},
        }
        self.store.instances[guid] = inst
        return inst

    def plans_visible(self, space):
        tenant = self.sandbox.tenant(space["_tenant"]) if space else None
        return [p for p in self.broker.plans if tenant is not None or p["offering"]["name"] != "it-rt"]


def seed_instance(sandbox, seed):
    """Create a succeeded instance (and its keys) without broker validation. Returns {guid, name, keys}."""
    cc = CloudController(sandbox)
    if not isinstance(seed, dict) or "name" not in seed:
        raise SeedError("a seed needs at least 'name' (and 'tenant' or 'org'/'space', 'plan', 'parameters', 'keys')")
    tenant_name = seed.get("tenant") or sandbox.config.tenants[0].name
    if tenant_name not in sandbox.tenants:
        raise SeedError("unknown tenant %r" % tenant_name)
    tenant = sandbox.tenant(tenant_name)
    space = cc.space(stable_guid("space", tenant.org, tenant.space))
    offering = seed.get("offering", "it-rt")
    plan = next((p for p in sandbox.broker.plans if p["name"] == seed.get("plan", "integration-flow")
                 and p["offering"]["name"] == offering), None)
    if plan is None:
        raise SeedError("unknown plan %r of offering %r" % (seed.get("plan"), offering))
    with sandbox.store.lock:
        inst = cc.new_instance(seed["name"], space, plan, seed.get("parameters") or {}, seed.get("tags"), seed.get("metadata"))
        inst["last_operation"].update(state="succeeded", description="")
        keys = []
        for key_seed in seed.get("keys") or []:
            ts = now_iso()
            record = {"guid": str(uuid.uuid4()), "name": key_seed["name"], "type": "key", "instance_guid": inst["guid"],
                      "tenant": inst["tenant"], "plan": inst["plan_name"], "key_type": None, "clientid": None,
                      "clientsecret": None, "cert_fingerprint": None, "state": "succeeded", "created_at": ts,
                      "updated_at": ts, "parameters": key_seed.get("parameters") or {}, "credentials": None,
                      "metadata": {"labels": {}, "annotations": {}},
                      "last_operation": {"type": "create", "state": "succeeded", "description": None,
                                         "created_at": ts, "updated_at": ts}}
            params = key_seed.get("parameters") or {}
            if params.get("key-type") == "certificate":
                key_params = {"key_type": "certificate", "validity": params.get("validity", 365),
                              "key_length": params.get("key-length", 2048)}
            else:
                key_params = {"key_type": "client_secret"}
            sandbox.store.keys[record["guid"]] = record
            sandbox.broker.build_key(record, inst, key_params)
            keys.append(record["guid"])
    sandbox.store.save()
    return {"guid": inst["guid"], "name": inst["name"], "keys": keys}


def create_app(sandbox):  # pylint: disable=too-many-locals,too-many-statements
    app = Flask("btp_sandbox.cf_api")
    cc = CloudController(sandbox)
    store = sandbox.store
    broker = sandbox.broker

    rates = RateCounter()

    def count_request():
        cfg = sandbox.config.cf
        if g.get("cf_rate") is None:
            g.cf_rate = rates.consume(_identity(), cfg.rate_limit, cfg.rate_limit_window_s)
        return g.cf_rate

    @app.after_request
    def cf_headers(response):
        """Headers of every Cloud Controller answer, faults and 429s included (observed on real SAP BTP CF, issue 13):
        `Content-Type: application/json; charset=utf-8` on JSON, no charset on empty 202/204 answers,
        `X-Vcap-Request-Id` and `X-Ratelimit-Limit/-Remaining/-Reset`."""
        cfg = sandbox.config.cf
        if response.mimetype == "application/json":
            response.headers["Content-Type"] = "application/json; charset=utf-8"
        elif response.status_code in (202, 204) and not response.get_data():
            if cfg.empty_body_content_type:
                response.headers["Content-Type"] = cfg.empty_body_content_type
            else:
                response.headers.pop("Content-Type", None)
        incoming = request.headers.get("X-Vcap-Request-Id")
        response.headers["X-Vcap-Request-Id"] = "%s::%s" % (incoming, uuid.uuid4()) if incoming else str(uuid.uuid4())
        limit, remaining, reset, _exceeded = count_request()
        if response.status_code == 429:
            remaining = 0
        response.headers["X-Ratelimit-Limit"] = str(limit)
        response.headers["X-Ratelimit-Remaining"] = str(remaining)
        response.headers["X-Ratelimit-Reset"] = str(reset)
        return response

    @app.errorhandler(CfError)
    def cf_error(exc):
        response = jsonify({"errors": [{"detail": exc.detail, "title": exc.title, "code": exc.code}]})
        response.status_code = exc.status
        if exc.retry_after is not None:
            response.headers["Retry-After"] = str(exc.retry_after)
        if exc.content_type:
            response.headers["Content-Type"] = exc.content_type
        return response

    @app.errorhandler(404)
    def unknown_route(_exc):
        return cf_error(CfError(404, 10000, "CF-NotFound", "Unknown request"))

    @app.errorhandler(405)
    def unknown_method(_exc):
        return cf_error(CfError(404, 10000, "CF-NotFound", "Unknown request"))

    @app.before_request
    def authenticate():
        if request.url_rule is None or request.url_rule.rule in ("/", "/v3"):
            return None
        header = request.headers.get("Authorization", "")
        if not header:
            raise CfError(401, 10002, "CF-NotAuthenticated", "Authentication error")
        scheme, _unused, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise CfError(401, 1000, "CF-InvalidAuthToken", "Invalid Auth Token")
        try:
            claims = verify_token(sandbox, token.strip())
        except jwt.InvalidTokenError as exc:
            raise CfError(401, 1000, "CF-InvalidAuthToken", "Invalid Auth Token") from exc
        g.cf_claims = claims
        _limit, _remaining, reset, exceeded = count_request()
        if exceeded and sandbox.config.cf.rate_limit_enforced:
            # CC's source: Retry-After repeats X-RateLimit-Reset (an epoch second), the JSON body goes as text/plain
            raise CfError(429, 10013, "CF-RateLimitExceeded", "Rate Limit Exceeded", retry_after=reset,
                          content_type="text/plain; charset=utf-8")
        scopes = set(claims.get("scope") or [])
        needed = {"cloud_controller.read", "cloud_controller.admin_read_only", "cloud_controller.admin"} \
            if request.method in ("GET", "HEAD") else {"cloud_controller.write", "cloud_controller.admin"}
        if not scopes & needed:
            raise CfError(403, 10003, "CF-NotAuthorized", "You are not authorized to perform the requested action")
        return None

    # -- root -----------------------------------------------------------------------------------
    @app.route("/", methods=["GET"])
    def root():
        base, uaa = sandbox.cf_url, sandbox.uaa_url
        return jsonify({"links": {
            "self": {"href": base},
            "cloud_controller_v2": {"href": base + "/v2", "meta": {"version": "2.245.0"}},
            "cloud_controller_v3": {"href": base + "/v3", "meta": {"version": sandbox.config.cf.api_version}},
            "network_policy_v0": {"href": base + "/networking/v0/external"},
            "network_policy_v1": {"href": base + "/networking/v1/external"},
            "login": {"href": uaa},
            "uaa": {"href": uaa},
            "credhub": None,
            # observed on real SAP BTP CF (issue 13): no bits_service link, routing is null, log_cache and
            # log_stream live on hosts of their own
            "routing": None,
            "logging": {"href": "wss://doppler.invalid:443"},
            "log_cache": {"href": "https://log-cache.sandbox.invalid"},
            "log_stream": {"href": "https://log-stream.sandbox.invalid"},
            "app_ssh": {"href": "ssh.invalid:2222", "meta": {"host_key_fingerprint": "sandbox", "oauth_client": "ssh-proxy"}},
        }})

    @app.route("/v3", methods=["GET"])
    def v3_root():
        base = sandbox.cf_url + "/v3"
        names = ("organizations", "spaces", "service_offerings", "service_plans", "service_instances",
                 "service_credential_bindings", "jobs")
        links = {"self": {"href": base}}
        links.update({n: {"href": "%s/%s" % (base, n)} for n in names})
        return jsonify({"links": links})

    # -- organizations and spaces ---------------------------------------------------------------
    @app.route("/v3/organizations", methods=["GET"])
    def list_orgs():
        cc.check_params(LIST_COMMON + ("names",))
        names = _csv("names")
        items = [o for o in cc.orgs() if _in(o["name"], names, True)]
        return cc.paginate(cc.common_filters(items), "/v3/organizations")

    @app.route("/v3/organizations/<guid>", methods=["GET"])
    def get_org(guid):
        cc.check_params(())
        org = next((o for o in cc.orgs() if o["guid"] == guid), None)
        if org is None:
            raise not_found("Organization not found")
        return jsonify(org)

    @app.route("/v3/spaces", methods=["GET"])
    def list_spaces():
        cc.check_params(LIST_COMMON + ("names", "organization_guids", "include"))
        names, org_guids = _csv("names"), _csv("organization_guids")
        include = _csv("include")
        if include and set(include) - {"organization"}:
            raise bad_query("Invalid included resource: '%s'. Valid included resources are: 'organization'" % ",".join(include))
        items = [s for s in cc.spaces() if _in(s["name"], names, True)
                 and _in(s["relationships"]["organization"]["data"]["guid"], org_guids)]
        items = [cc.public(s) for s in cc.common_filters(items)]

        def included(resources):
            if not include:
                return {}
            wanted = {r["relationships"]["organization"]["data"]["guid"] for r in resources}
            return {"included": {"organizations": [o for o in cc.orgs() if o["guid"] in wanted]}}

        return cc.paginate(items, "/v3/spaces", extra=included)

    @app.route("/v3/spaces/<guid>", methods=["GET"])
    def get_space(guid):
        cc.check_params(("include",))
        space = cc.space(guid)
        if space is None:
            raise not_found("Space not found")
        body = cc.public(space)
        if request.args.get("include") == "organization":
            org_guid = space["relationships"]["organization"]["data"]["guid"]
            body["included"] = {"organizations": [o for o in cc.orgs() if o["guid"] == org_guid]}
        return jsonify(body)

    # -- catalog --------------------------------------------------------------------------------
    @app.route("/v3/service_offerings", methods=["GET"])
    def list_offerings():
        cc.check_params(LIST_COMMON + ("names", "available", "service_broker_guids", "service_broker_names",
                                       "space_guids", "organization_guids"), ("service_broker",))
        names = _csv("names")
        available = request.args.get("available")
        items = [cc.offering_json(o) for o in broker.offerings if _in(o["name"], names, True)]
        if available is not None:
            items = [o for o in items if str(o["available"]).lower() == available.lower()]
        space_guids, org_guids = _csv("space_guids"), _csv("organization_guids")
        if space_guids is not None and not any(cc.space(g) for g in space_guids):
            items = []
        if org_guids is not None and not any(o["guid"] in org_guids for o in cc.orgs()):
            items = []
        if _csv("service_broker_names") is not None and "sm-broker" not in _csv("service_broker_names"):
            items = []
        return cc.paginate(cc.common_filters(items), "/v3/service_offerings")

    @app.route("/v3/service_offerings/<guid>", methods=["GET"])
    def get_offering(guid):
        cc.check_params((), ("service_broker",))
        offering = next((o for o in broker.offerings if o["guid"] == guid), None)
        if offering is None:
            raise not_found("Service offering not found")
        return jsonify(cc.offering_json(offering))

    @app.route("/v3/service_plans", methods=["GET"])
    def list_plans():
        cc.check_params(LIST_COMMON + ("names", "available", "broker_catalog_ids", "service_offering_guids",
                                       "service_offering_names", "service_broker_guids", "service_broker_names",
                                       "space_guids", "organization_guids", "service_instance_guids", "include"))
        names, off_names, off_guids = _csv("names"), _csv("service_offering_names"), _csv("service_offering_guids")
        instance_guids = _csv("service_instance_guids")
        include = _csv("include")
        if include and set(include) - {"space.organization", "service_offering"}:
            raise bad_query("Invalid included resource: '%s'. Valid included resources are: 'space.organization', "
                            "'service_offering'" % ",".join(include))
        plans = [p for p in broker.plans if _in(p["name"], names, True) and _in(p["offering"]["name"], off_names, True)
                 and _in(p["offering"]["guid"], off_guids)]
        if instance_guids is not None:
            used = {store.instances[g]["plan_guid"] for g in instance_guids if g in store.instances}
            plans = [p for p in plans if p["guid"] in used]
        space_guids, org_guids = _csv("space_guids"), _csv("organization_guids")
        if space_guids is not None and not any(cc.space(g) for g in space_guids):
            plans = []
        if org_guids is not None and not any(o["guid"] in org_guids for o in cc.orgs()):
            plans = []
        items = [cc.plan_json(p) for p in plans]

        def included(resources):
            if not include or "service_offering" not in include:
                return {}
            wanted = {r["relationships"]["service_offering"]["data"]["guid"] for r in resources}
            return {"included": {"service_offerings": [cc.offering_json(o) for o in broker.offerings if o["guid"] in wanted]}}

        return cc.paginate(cc.common_filters(items), "/v3/service_plans", extra=included)

    @app.route("/v3/service_plans/<guid>", methods=["GET"])
    def get_plan(guid):
        cc.check_params(("include",))
        plan = broker.plan_by_guid(guid)
        if plan is None:
            raise not_found("Service plan not found")
        return jsonify(cc.plan_json(plan))

    # -- service instances ----------------------------------------------------------------------
    instance_fields = ("space", "space.organization", "service_plan", "service_plan.service_offering",
                       "service_plan.service_offering.service_broker")

    @app.route("/v3/service_instances", methods=["GET"])
    def list_instances():
        cc.check_params(LIST_COMMON + ("names", "space_guids", "organization_guids", "type", "service_plan_guids",
                                       "service_plan_names"), instance_fields)
        names, space_guids, org_guids = _csv("names"), _csv("space_guids"), _csv("organization_guids")
        types, plan_guids, plan_names = _csv("type"), _csv("service_plan_guids"), _csv("service_plan_names")
        with store.lock:
            items = list(store.instances.values())
            items = [i for i in items if _in(i["name"], names) and _in(i["space_guid"], space_guids)
                     and _in(i["type"], types) and _in(i.get("plan_guid"), plan_guids)
                     and _in(i.get("plan_name"), plan_names, True)]
            if org_guids is not None:
                items = [i for i in items if (cc.space(i["space_guid"]) or {}).get("relationships", {})
                         .get("organization", {}).get("data", {}).get("guid") in org_guids]
            items = [cc.instance_json(i) for i in cc.common_filters(items)]

        def included(resources):
            out = {}
            space_fields = _csv("fields[space]")
            org_fields = _csv("fields[space.organization]")
            plan_fields = _csv("fields[service_plan]")
            offering_fields = _csv("fields[service_plan.service_offering]")
            if space_fields or org_fields:
                space_guids_used = {r["relationships"]["space"]["data"]["guid"] for r in resources}
                spaces = [cc.public(s) for s in cc.spaces() if s["guid"] in space_guids_used]
                if space_fields:
                    out["spaces"] = [cc.select_fields(s, space_fields) for s in spaces]
                if org_fields:
                    org_used = {s["relationships"]["organization"]["data"]["guid"] for s in spaces}
                    out["organizations"] = [cc.select_fields(o, org_fields) for o in cc.orgs() if o["guid"] in org_used]
            if plan_fields or offering_fields:
                plan_used = {r["relationships"].get("service_plan", {}).get("data", {}).get("guid") for r in resources}
                plans = [cc.plan_json(p) for p in broker.plans if p["guid"] in plan_used]
                if plan_fields:
                    out["service_plans"] = [cc.select_fields(p, plan_fields) for p in plans]
                if offering_fields:
                    off_used = {p["relationships"]["service_offering"]["data"]["guid"] for p in plans}
                    out["service_offerings"] = [cc.select_fields(cc.offering_json(o), offering_fields)
                                                for o in broker.offerings if o["guid"] in off_used]
            return {"included": out} if out else {}

        return cc.paginate(items, "/v3/service_instances", extra=included)

    @app.route("/v3/service_instances/<guid>", methods=["GET"])
    def get_instance(guid):
        cc.check_params((), instance_fields)
        with store.lock:
            return jsonify(cc.instance_json(cc.get_instance(guid)))

    @app.route("/v3/service_instances", methods=["POST"])
    def create_instance():
        cc.check_params(())
        body = cc.json_body()
        itype = body.get("type")
        if itype == "user-provided":
            cc.check_fields(body, ("type", "name", "relationships", "credentials", "syslog_drain_url", "route_service_url",
                                   "tags", "metadata"))
        else:
            cc.check_fields(body, ("type", "name", "relationships", "parameters", "tags", "metadata"))
        if itype not in ("managed", "user-provided"):
            raise unprocessable("Type must be one of 'managed', 'user-provided'")
        name = body.get("name")
        if not isinstance(name, str):
            raise unprocessable("Name must be a string")
        if not name:
            raise unprocessable("Name can't be blank")
        tags = body.get("tags")
        if tags is not None and (not isinstance(tags, list) or not all(isinstance(t, str) for t in tags)):
            raise unprocessable("Tags must be a list")
        parameters = body.get("parameters", {})
        if not isinstance(parameters, dict):
            raise unprocessable("Parameters must be an object")
        validate_metadata(body.get("metadata"))
        space = cc.space(cc.rel_guid(body, "space") or "")
        if space is None:
            raise unprocessable("Invalid space. Ensure that the space exists and you have access to it.")
        plan = None
        if itype == "managed":
            plan = broker.plan_by_guid(cc.rel_guid(body, "service_plan") or "")
            if plan is None or plan not in cc.plans_visible(space):
                raise unprocessable("Invalid service plan. Ensure that the service plan exists, is available, "
                                    "and you have access to it.")
        with store.lock:
            existing = next((i for i in store.instances.values()
                             if i["space_guid"] == space["guid"] and i["name"] == name), None)
            if existing is not None:
                last = existing["last_operation"]
                if last.get("type") == "create" and last.get("state") == "failed":
                    broker.remove_instance(existing["guid"])
                else:
                    raise unprocessable("The service instance name is taken: %s." % name)
            inst = cc.new_instance(name, space, plan, parameters, tags, body.get("metadata"), itype)
            if itype == "user-provided":
                inst["credentials"] = body.get("credentials") or {}
                inst["syslog_drain_url"] = body.get("syslog_drain_url")
                inst["route_service_url"] = body.get("route_service_url")
                inst["last_operation"].update(state="succeeded", description="Operation succeeded")
                store.save()
                response = jsonify(cc.instance_json(inst))
                response.status_code = 201
                return response
            job = broker.new_job("service_instance.create", "service_instances", inst["guid"],
                                 route_key=_route_key())
        return cc.job_location(job)

    @app.route("/v3/service_instances/<guid>", methods=["PATCH"])
    def update_instance(guid):
        cc.check_params(())
        body = cc.json_body()
        with store.lock:
            inst = cc.get_instance(guid)
            if inst["type"] == "user-provided":
                cc.check_fields(body, ("name", "credentials", "syslog_drain_url", "route_service_url", "tags", "metadata"))
            else:
                cc.check_fields(body, ("name", "tags", "parameters", "relationships", "maintenance_info", "metadata"))
            if inst["last_operation"].get("state") in IN_PROGRESS:
                raise unprocessable("There is an operation in progress for the service instance.")
            validate_metadata(body.get("metadata"))
            if "parameters" in body and not isinstance(body["parameters"], dict):
                raise unprocessable("Parameters must be an object")
            name = body.get("name")
            if name is not None:
                if not isinstance(name, str) or not name:
                    raise unprocessable("Name must be a string")
                clash = next((i for i in store.instances.values() if i["space_guid"] == inst["space_guid"]
                              and i["name"] == name and i["guid"] != guid), None)
                if clash is not None:
                    raise unprocessable("The service instance name is taken: %s." % name)
            payload = {}
            plan_guid = cc.rel_guid(body, "service_plan")
            if "relationships" in body:
                if plan_guid is None or set(body["relationships"]) - {"service_plan"}:
                    raise unprocessable("Relationships must only contain 'service_plan'")
                plan = broker.plan_by_guid(plan_guid)
                if plan is None or plan["offering"]["guid"] != inst["offering_guid"]:
                    raise unprocessable("Invalid service plan. Ensure that the service plan exists, is available, "
                                        "and you have access to it.")
                if plan["guid"] != inst["plan_guid"]:
                    if not plan["offering"]["broker_catalog"]["features"]["plan_updateable"]:
                        raise CfError(400, 10009, "CF-UnableToPerform",
                                      "Update could not be completed: The service does not support changing plans.")
                    payload.update(plan_guid=plan["guid"], plan_name=plan["name"])
            if inst["type"] == "managed" and "parameters" in body:
                payload["parameters"] = body["parameters"]
            if inst["type"] == "managed" and "maintenance_info" in body:
                payload["maintenance_info"] = body["maintenance_info"]
            if name is not None:
                inst["name"] = name
            if "tags" in body:
                inst["tags"] = list(body["tags"] or [])
            if "metadata" in body:
                inst["metadata"] = merge_metadata(inst.get("metadata"), body["metadata"])
            if inst["type"] == "user-provided":
                for field in ("credentials", "syslog_drain_url", "route_service_url"):
                    if field in body:
                        inst[field] = body[field]
            inst["updated_at"] = now_iso()
            if payload:
                ts = now_iso()
                inst["last_operation"] = {"type": "update", "state": "in progress", "description": None,
                                          "created_at": ts, "updated_at": ts}
                job = broker.new_job("service_instance.update", "service_instances", guid, payload=payload,
                                     route_key=_route_key())
                return cc.job_location(job)
            store.save()
            return jsonify(cc.instance_json(inst))

    def _start_delete(resource, guid, operation, resource_type, noun):
        """Start an async delete (caller holds store.lock): a repeat while it runs answers with the same job."""
        last = resource["last_operation"]
        if last.get("type") == "delete" and last.get("state") in IN_PROGRESS:
            job = next((j for j in store.jobs.values() if j["resource_guid"] == guid
                        and j["operation"] == operation and j["state"] not in ("COMPLETE", "FAILED")), None)
            if job is not None:
                return cc.job_location(job)
        if last.get("state") in IN_PROGRESS:
            raise unprocessable("There is an operation in progress for the %s." % noun)
        ts = now_iso()
        resource["last_operation"] = {"type": "delete", "state": "in progress", "description": None, "created_at": ts, "updated_at": ts}
        return cc.job_location(broker.new_job(operation, resource_type, guid, route_key=_route_key()))

    @app.route("/v3/service_instances/<guid>", methods=["DELETE"])
    def delete_instance(guid):
        cc.check_params(("purge",))
        with store.lock:
            inst = cc.get_instance(guid)
            purge = request.args.get("purge", "false").lower() == "true"
            if inst["type"] == "user-provided" or purge:
                broker.remove_instance(guid)
                store.save()
                return Response(status=204)
            return _start_delete(inst, guid, "service_instance.delete", "service_instance", "service instance")

    @app.route("/v3/service_instances/<guid>/parameters", methods=["GET"])
    def instance_parameters(guid):
        cc.check_params(())
        with store.lock:
            inst = cc.get_instance(guid)
            if inst["type"] != "managed" or not sandbox.config.broker.instances_retrievable and inst["offering_name"] == "it-rt":
                raise CfError(400, 120004, "CF-ServiceFetchInstanceParametersNotSupported",
                              "This service does not support fetching service instance parameters.")
            last = inst["last_operation"]
            if last.get("state") in IN_PROGRESS:
                raise CfError(409, 60016, "CF-AsyncServiceInstanceOperationInProgress",
                              "An operation for service instance %s is in progress." % inst["name"])
            if last.get("type") == "create" and last.get("state") == "failed":
                raise not_found("Service instance not found")
            return jsonify(copy.deepcopy(inst.get("parameters") or {}))

    @app.route("/v3/service_instances/<guid>/credentials", methods=["GET"])
    def instance_credentials(guid):
        cc.check_params(())
        with store.lock:
            inst = cc.get_instance(guid)
            if inst["type"] != "user-provided":
                raise not_found("Service instance not found")
            return jsonify(copy.deepcopy(inst.get("credentials") or {}))

    # -- service credential bindings (keys) -----------------------------------------------------
    @app.route("/v3/service_credential_bindings", methods=["GET"])
    def list_keys():
        cc.check_params(LIST_COMMON + ("names", "service_instance_guids", "service_instance_names", "type", "app_guids",
                                       "app_names", "service_plan_guids", "service_plan_names", "service_offering_guids",
                                       "service_offering_names", "include"))
        include = _csv("include")
        if include and set(include) - {"app", "service_instance"}:
            raise bad_query("Invalid included resource: '%s'. Valid included resources are: 'app', 'service_instance'"
                            % ",".join(include))
        names, inst_guids, inst_names = _csv("names"), _csv("service_instance_guids"), _csv("service_instance_names")
        types, app_guids, app_names = _csv("type"), _csv("app_guids"), _csv("app_names")
        plan_guids, plan_names = _csv("service_plan_guids"), _csv("service_plan_names")
        off_guids, off_names = _csv("service_offering_guids"), _csv("service_offering_names")
        with store.lock:
            items = []
            for key in store.keys.values():
                inst = store.instances.get(key["instance_guid"]) or {}
                if not (_in(key["name"], names) and _in(key["instance_guid"], inst_guids)
                        and _in(inst.get("name"), inst_names) and _in("key", types)
                        and _in(inst.get("plan_guid"), plan_guids) and _in(inst.get("plan_name"), plan_names, True)
                        and _in(inst.get("offering_guid"), off_guids) and _in(inst.get("offering_name"), off_names, True)):
                    continue
                if app_guids is not None or app_names is not None:
                    continue
                items.append(key)
            items = [cc.key_json(k) for k in cc.common_filters(items)]

            def included(resources):
                if not include or "service_instance" not in include:
                    return {}
                wanted = {r["relationships"]["service_instance"]["data"]["guid"] for r in resources}
                instances = [cc.instance_json(store.instances[g]) for g in wanted if g in store.instances]
                return {"included": {"apps": [], "service_instances": instances}}

            return cc.paginate(items, "/v3/service_credential_bindings", extra=included)

    def get_key(guid):
        key = store.keys.get(guid)
        if key is None:
            raise not_found("Service credential binding not found")
        return key

    @app.route("/v3/service_credential_bindings/<guid>", methods=["GET"])
    def show_key(guid):
        cc.check_params(("include",))
        with store.lock:
            return jsonify(cc.key_json(get_key(guid)))

    @app.route("/v3/service_credential_bindings/<guid>/details", methods=["GET"])
    def key_details(guid):
        cc.check_params(())
        with store.lock:
            key = get_key(guid)
            last = key["last_operation"]
            if last["type"] == "create" and last["state"] != "succeeded":
                raise not_found("Creation of service key %s" % ("failed" if last["state"] == "failed" else "in progress"))
            return jsonify({"credentials": copy.deepcopy(key["credentials"])})

    @app.route("/v3/service_credential_bindings/<guid>/parameters", methods=["GET"])
    def key_parameters(guid):
        cc.check_params(())
        with store.lock:
            key = get_key(guid)
            inst = store.instances.get(key["instance_guid"]) or {}
            if inst.get("offering_name") == "it-rt" and not sandbox.config.broker.bindings_retrievable:
                # Cloud Controller answers this itself from the catalog, without asking the broker
                # (observed on real SAP BTP CF, issue 13)
                raise CfError(400, 90007, "CF-ServiceFetchBindingParametersNotSupported",
                              "This service does not support fetching service binding parameters.")
            if key["last_operation"]["state"] in IN_PROGRESS:
                raise CfError(409, 90008, "CF-AsyncServiceBindingOperationInProgress",
                              "An operation for the service binding between app and service instance %s is in progress."
                              % inst.get("name"))
            return jsonify(copy.deepcopy(key.get("parameters") or {}))

    @app.route("/v3/service_credential_bindings", methods=["POST"])
    def create_key():
        cc.check_params(())
        body = cc.json_body()
        cc.check_fields(body, ("type", "name", "relationships", "parameters", "metadata"))
        if body.get("type") not in ("key", "app"):
            raise unprocessable("Type must be 'app' or 'key'")
        if body.get("type") == "app":
            raise unprocessable("The app could not be found: '%s'" % (cc.rel_guid(body, "app") or ""))
        name = body.get("name")
        if not isinstance(name, str) or not name:
            raise unprocessable("Name can't be blank" if not name else "Name must be a string")
        parameters = body.get("parameters", {})
        if not isinstance(parameters, dict):
            raise unprocessable("Parameters must be an object")
        validate_metadata(body.get("metadata"))
        inst_guid = cc.rel_guid(body, "service_instance")
        with store.lock:
            inst = store.instances.get(inst_guid or "")
            if inst is None:
                raise unprocessable("The service instance could not be found: '%s'" % (inst_guid or ""))
            if inst["type"] == "user-provided":
                raise unprocessable("Service credential bindings of type 'key' are not supported for user-provided "
                                    "service instances.")
            last = inst["last_operation"]
            if last.get("type") == "create" and last.get("state") == "failed":
                raise unprocessable("Service instance not found")
            plan = broker.plan_by_guid(inst["plan_guid"])
            if plan is not None and not plan["bindable"]:
                raise unprocessable("Service plan does not allow bindings.")
            if last.get("state") in IN_PROGRESS:
                raise unprocessable("There is an operation in progress for the service instance")
            existing = next((k for k in store.keys.values() if k["instance_guid"] == inst["guid"] and k["name"] == name), None)
            if existing is not None:
                elast = existing["last_operation"]
                if elast["type"] == "create" and elast["state"] == "failed":
                    broker.remove_key(existing["guid"])
                elif elast["type"] == "delete":
                    raise unprocessable("The binding name is invalid. Key binding names must be unique. The service "
                                        "instance already has a key binding with the name '%s' that is getting deleted "
                                        "or its deletion failed." % name)
                else:
                    raise unprocessable("The binding name is invalid. Key binding names must be unique. The service "
                                        "instance already has a key binding with name '%s'." % name)
            ts = now_iso()
            record = {"guid": str(uuid.uuid4()), "name": name, "type": "key", "instance_guid": inst["guid"],
                      "tenant": inst["tenant"], "plan": inst["plan_name"], "key_type": None, "clientid": None,
                      "clientsecret": None, "cert_fingerprint": None, "state": "in progress", "created_at": ts,
                      "updated_at": ts, "parameters": copy.deepcopy(parameters), "credentials": None,
                      "metadata": merge_metadata(None, body.get("metadata")),
                      "last_operation": {"type": "create", "state": "initial", "description": None,
                                         "created_at": ts, "updated_at": ts}}
            store.keys[record["guid"]] = record
            job = broker.new_job("service_keys.create", "service_credential_binding", record["guid"],
                                 payload={"parameters": parameters}, route_key=_route_key())
        return cc.job_location(job)

    @app.route("/v3/service_credential_bindings/<guid>", methods=["PATCH"])
    def update_key(guid):
        cc.check_params(())
        body = cc.json_body()
        cc.check_fields(body, ("metadata",))
        validate_metadata(body.get("metadata"))
        with store.lock:
            key = get_key(guid)
            # metadata lives beside the binding: a metadata-only PATCH does not move updated_at
            # (observed on real SAP BTP CF, issue 13)
            key["metadata"] = merge_metadata(key.get("metadata"), body.get("metadata"))
            store.save()
            return jsonify(cc.key_json(key))

    @app.route("/v3/service_credential_bindings/<guid>", methods=["DELETE"])
    def delete_key(guid):
        cc.check_params(())
        with store.lock:
            key = get_key(guid)
            return _start_delete(key, guid, "service_keys.delete", "service_credential_binding", "service binding")

    # -- jobs -----------------------------------------------------------------------------------
    @app.route("/v3/jobs/<guid>", methods=["GET"])
    def get_job(guid):
        cc.check_params(())
        with store.lock:
            job = store.jobs.get(guid)
            if job is None:
                raise not_found("Job not found")
            return jsonify(cc.job_json(job))

    return app


def _route_key():
    return g.get("sandbox_route_key")
