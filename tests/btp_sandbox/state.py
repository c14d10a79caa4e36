"""Shared, thread-safe sandbox state (see INTERFACE.md), with optional persistence to a JSON file."""

import collections
import copy
import datetime
import json
import os
import tempfile
import threading

from .pki import fingerprint

PLAN_DEFAULT_VALIDITY = {"api": 43200, "integration-flow": 3600}
PLAN_DEFAULT_ROLES = {"api": [], "integration-flow": ["ESBMessaging.send"]}
PERSISTED = ("instances", "keys", "jobs", "used_external_certs")


def now_iso():
    """CF timestamp: 2026-07-10T06:49:28Z."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def effective_parameters(plan_name, parameters):
    """Instance parameters with the broker's plan defaults applied."""
    params = dict(parameters or {})
    roles = params.get("roles")
    if roles is None and isinstance(params.get("role"), str):
        roles = [params["role"]]   # apimanagement-apiportal: one role per instance
    if roles is None:
        roles = list(PLAN_DEFAULT_ROLES.get(plan_name, []))
    return {
        "roles": list(roles),
        "grant-types": list(params.get("grant-types", ["client_credentials"])),
        "redirect-uris": list(params.get("redirect-uris", [])),
        "token-validity": int(params.get("token-validity", PLAN_DEFAULT_VALIDITY.get(plan_name, 3600))),
    }


class Store:
    """Everything the sandbox knows. `lock` (an RLock) guards every attribute."""

    def __init__(self, persistence_file=""):
        self.lock = threading.RLock()
        self.persistence_file = persistence_file
        self.instances = {}
        self.keys = {}
        self.jobs = {}
        self.used_external_certs = {}   # sha256 fingerprint -> key guid
        self.tokens_issued = []
        self.mpls = collections.defaultdict(list)
        self.packages = collections.defaultdict(list)
        self.runtime_artifacts = collections.defaultdict(list)
        self.iflows = collections.defaultdict(list)
        self.csrf = {}
        self.extra = {}                 # free-form per-module state
        self.loaded = False
        if persistence_file and os.path.exists(persistence_file):
            self._load()

    # -- persistence ----------------------------------------------------------------------------
    def _load(self):
        with open(self.persistence_file, encoding="utf-8") as handle:
            data = json.load(handle)
        for name in PERSISTED:
            setattr(self, name, data.get(name, {}))
        self.extra["pki"] = data.get("pki")
        self.loaded = True

    def save(self):
        """Write the persistent part of the state atomically (no-op without a persistence file)."""
        if not self.persistence_file:
            return
        with self.lock:
            data = {name: copy.deepcopy(getattr(self, name)) for name in PERSISTED}
            data["pki"] = self.extra.get("pki")
        directory = os.path.dirname(os.path.abspath(self.persistence_file))
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".btp-sandbox-state-")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1, sort_keys=True)
        os.replace(tmp, self.persistence_file)

    # -- key lookups used by the token server and the runtime ----------------------------------
    def find_key_by_secret(self, tenant_name, clientid, secret):
        """The succeeded key with this clientid + secret in the tenant, or None."""
        with self.lock:
            for record in self.keys.values():
                if (record["tenant"] == tenant_name and record["state"] == "succeeded" and record["clientid"] == clientid
                        and record.get("clientsecret") is not None and record["clientsecret"] == secret):
                    return record
        return None

    def find_key_by_cert(self, tenant_name, cert_der):
        """The succeeded certificate key of the tenant whose leaf certificate is `cert_der`, or None."""
        wanted = fingerprint(cert_der)
        with self.lock:
            for record in self.keys.values():
                if record["tenant"] == tenant_name and record["state"] == "succeeded" and record.get("cert_fingerprint") == wanted:
                    return record
        return None

    def keys_for_clientid(self, tenant_name, clientid):
        with self.lock:
            return [r for r in self.keys.values() if r["tenant"] == tenant_name and r["clientid"] == clientid and r["state"] == "succeeded"]

    def client_scope_roles(self, record):
        """(roles, grant_types, token_validity) of the key's instance, plan defaults applied."""
        with self.lock:
            instance = self.instances.get(record["instance_guid"])
            plan = record.get("plan") or (instance or {}).get("plan_name", "integration-flow")
            params = effective_parameters(plan, (instance or {}).get("parameters"))
        return params["roles"], params["grant-types"], params["token-validity"]

    # -- dumps ----------------------------------------------------------------------------------
    def dump(self):
        """State for the admin API, secrets masked."""
        def mask(value):
            if not value:
                return value
            return value[:4] + "****" if len(value) > 8 else "****"

        with self.lock:
            keys = []
            for record in self.keys.values():
                item = {k: v for k, v in record.items() if k not in ("credentials", "clientsecret", "private_key")}
                item["clientsecret"] = mask(record.get("clientsecret"))
                oauth = dict((record.get("credentials") or {}).get("oauth", {}))
                for secret_field in ("clientsecret", "key"):
                    if oauth.get(secret_field):
                        oauth[secret_field] = mask(oauth[secret_field]) if secret_field == "clientsecret" else "****"
                item["credentials"] = {"oauth": oauth} if oauth else {}
                keys.append(item)
            tokens = []
            for token in self.tokens_issued:
                item = dict(token)
                if "jti" in item:
                    item["jti"] = mask(item["jti"])
                for secret_field in ("access_token", "token"):
                    if secret_field in item:
                        item[secret_field] = "****"
                tokens.append(item)
            mpls = {tenant: {"total": len(items), "by_status": dict(collections.Counter(m.get("Status", "?") for m in items))}
                    for tenant, items in self.mpls.items()}
            return {
                "instances": copy.deepcopy(list(self.instances.values())),
                "keys": keys,
                "jobs": copy.deepcopy(list(self.jobs.values())),
                "tokens_issued": {"total": len(tokens), "items": tokens[-200:]},
                "mpls": mpls,
            }
