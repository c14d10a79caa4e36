# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. A small Cloud Foundry v3 (Cloud Controller) client.

- UAA is discovered from ``GET /`` (``links.login`` or ``links.uaa``); the root document is cached.
- Authentication: password grant (client ``cf``, optional origin), client credentials, a given access
  token, or the refresh token of the user's cf CLI configuration (``$CF_HOME/.cf/config.json``).
- The password of the password grant comes from ``cf_password`` or, when that is not set, from the file named
  by ``cf_password_file`` (how AWX credential types hand secrets over: a 0600 file instead of an environment
  variable). The file is read only when the password grant is the chosen authentication, when the client is
  built: a digest of the password is part of the token cache key, so it is needed even to reuse a cached token.
- UAA access tokens are cached through ``_cache.FileCache`` across tasks, hosts and forks; the entry is
  fetched under an exclusive lock, so concurrent forks share one UAA request. On ``CF-InvalidAuthToken``
  the token is refreshed once per request.
- Non-secret lookups that rarely change (root links, org/space GUIDs, an offering's plans) are cached for
  a few minutes, as the cf CLI keeps its target in its config file. A stale entry is dropped and resolved
  again when CF reports the object as invalid.
- Lookups use name filters, never full listings; pagination links are followed only on the API host.
- Jobs are polled with a short first interval that backs off; 5xx and 429 while polling are retried until
  the deadline.
"""

from __future__ import annotations

import base64
import concurrent.futures
import json
import os
import threading
import time
from urllib.parse import urlencode, urlsplit

from ansible.module_utils.basic import env_fallback

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._cache import CacheError, FileCache, cache_key
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._errors import ApiError, ParameterError, api_error_from_response, safe_url
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._secret_io import read_text

CF_CLIENT_ID = "cf"
TOKEN_MIN_TTL = 120
LOOKUP_TTL = 900
ROOT_TTL = 3600
# Polling waits a share of the time waited so far (at least POLL_FIRST, at most POLL_MAX): an operation is seen done
# at most about a third later than it finished, and a long provisioning costs few requests.
POLL_FIRST = 0.2
POLL_SHARE = 0.35
POLL_MAX = 10.0
IN_PROGRESS_STATES = ("initial", "in progress")
# list requests of a lookup that is split into chunks (URL length) that run at the same time
LIST_CHUNK_THREADS = 4
JOB_DONE_STATES = ("COMPLETE", "FAILED")


def cf_argument_spec():
    """The shared Cloud Foundry connection options (documented in the cf_connection doc fragment)."""
    return dict(
        cf_api=dict(type="str", fallback=(env_fallback, ["CF_API"])),
        cf_username=dict(type="str", fallback=(env_fallback, ["CF_USERNAME"])),
        cf_password=dict(type="str", no_log=True, fallback=(env_fallback, ["CF_PASSWORD"])),
        # a path, not a secret: no_log=False says so explicitly (the name contains "password")
        cf_password_file=dict(type="path", no_log=False, fallback=(env_fallback, ["CF_PASSWORD_FILE"])),
        cf_origin=dict(type="str", fallback=(env_fallback, ["CF_ORIGIN"])),
        cf_client_id=dict(type="str", fallback=(env_fallback, ["CF_CLIENT_ID"])),
        cf_client_secret=dict(type="str", no_log=True, fallback=(env_fallback, ["CF_CLIENT_SECRET"])),
        cf_token=dict(type="str", no_log=True, fallback=(env_fallback, ["CF_TOKEN"])),
        org=dict(type="str", fallback=(env_fallback, ["CF_ORG"])),
        space=dict(type="str", fallback=(env_fallback, ["CF_SPACE"])),
        space_guid=dict(type="str"),
    )


def cf_module_kwargs():
    """Constraints between the CF connection options, to merge into the AnsibleModule keyword arguments.

    A password (cf_password or cf_password_file) requires cf_username. That cf_username has one of the two is
    checked by resolve_password() (an argument spec cannot say "requires one of"); both may be set, for example
    CF_PASSWORD_FILE from an AWX credential next to a cf_password of the task, and then cf_password wins.
    """
    return dict(
        mutually_exclusive=[("cf_username", "cf_client_id", "cf_token"), ("space", "space_guid"), ("org", "space_guid")],
        required_together=[("cf_client_id", "cf_client_secret")],
        required_by={"space": ("org",), "cf_password": ("cf_username",), "cf_password_file": ("cf_username",)},
    )


def read_password_file(path):
    """The password in the file at path: its text without trailing line breaks. Errors name cf_password_file
    and never show the content."""
    text = read_text(path, "cf_password_file", what="the password file", binary_hint="expected the password as UTF-8 text")
    password = text.rstrip("\r\n")
    if not password:
        raise ParameterError("cf_password_file", "the password file %s is empty" % path)
    return password


def resolve_password(params):
    """The password for the password grant of params["cf_username"]: cf_password (option or CF_PASSWORD) if set,
    else the content of cf_password_file (option or CF_PASSWORD_FILE)."""
    if params.get("cf_password"):
        return params["cf_password"]
    if params.get("cf_password_file"):
        return read_password_file(params["cf_password_file"])
    raise ParameterError("cf_password", "cf_username is set but no password: set cf_password (or CF_PASSWORD) or "
                         "cf_password_file (or CF_PASSWORD_FILE)")


def merge_module_kwargs(*dicts):
    """Merge AnsibleModule keyword argument dicts (lists are concatenated, dicts merged)."""
    merged = {}
    for item in dicts:
        for key, value in item.items():
            if isinstance(value, list):
                merged.setdefault(key, [])
                merged[key] = merged[key] + list(value)
            elif isinstance(value, dict):
                merged.setdefault(key, {})
                merged[key].update(value)
            else:
                merged[key] = value
    return merged


def normalise_api_url(value):
    value = (value or "").strip()
    if not value:
        return None
    if "://" not in value:
        value = "https://" + value
    return value.rstrip("/")


def jwt_expiry(token):
    """The ``exp`` claim of a JWT (seconds since the epoch) without verifying it; None if unreadable."""
    try:
        payload = token.split(".")[1]
        payload += "=" * (-len(payload) % 4)
        claims = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")))
        return float(claims["exp"])
    except (IndexError, KeyError, TypeError, ValueError):
        return None


def strip_bearer(token):
    token = (token or "").strip()
    if token.lower().startswith("bearer "):
        token = token[7:].strip()
    return token


def cf_cli_config_path(environ=None):
    environ = os.environ if environ is None else environ
    home = environ.get("CF_HOME") or os.path.expanduser("~")
    return os.path.join(home, ".cf", "config.json")


def load_cf_cli_config(path=None):
    """The cf CLI configuration as a dict, or None when there is none."""
    path = path or cf_cli_config_path()
    try:
        with open(path, "r", encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ParameterError("cf_api", "the cf CLI configuration %s cannot be read: %s" % (path, exc)) from None
    return data if isinstance(data, dict) else None


def job_error_message(job):
    """The broker's or CF's message of a FAILED job."""
    errors = job.get("errors") or []
    if isinstance(errors, dict):
        errors = [errors]
    parts = []
    for error in errors:
        if not isinstance(error, dict):
            continue
        detail = error.get("detail") or error.get("description") or ""
        label = " ".join(str(p) for p in (error.get("title"), error.get("code")) if p is not None)
        parts.append("%s (%s)" % (detail, label) if label else detail)
    return "; ".join(p for p in parts if p) or "no error details"


def last_operation(resource):
    return (resource or {}).get("last_operation") or {}


def operation_in_progress(resource):
    return last_operation(resource).get("state") in IN_PROGRESS_STATES


class CfClient:
    """Cloud Foundry v3 API client bound to one API endpoint, one identity and (optionally) one space."""

    def __init__(self, http, api_url, auth, org=None, space=None, space_guid=None, cache_dir=None, use_cache=True,
                 redactor=None, warn=None, sleep=time.sleep, clock=time.time, cli_config=None):
        self.http = http
        self.api_url = normalise_api_url(api_url)
        if not self.api_url:
            raise ParameterError("cf_api", "no Cloud Foundry API endpoint: set cf_api (or CF_API), or log in with the cf CLI")
        self.auth = auth
        self.org = org
        self.space = space
        self._space_guid = space_guid
        self.redactor = redactor
        self.warn = warn or (lambda message: None)
        self.sleep = sleep
        self.clock = clock
        self.cli_config = cli_config
        self._token = None
        self._links = None
        self._cache = None
        self._cache_warned = False
        if use_cache:
            self._cache = FileCache("cf", directory=cache_dir)
        self.uaa_requests = 0
        # a batch (module_utils/_batch.py) shares one client between threads: one login and one lookup of each
        # cached value, however many threads ask at once
        self._lock = threading.RLock()
        self._locks = {}
        self._retrievable = {}
        self._prefetched = {}
        self._prefetched_keys = {}

    # -- construction -----------------------------------------------------------------------------
    @classmethod
    def from_module(cls, module, http=None):
        """Build a client from the cf_connection options of a CloudIntegrationModule."""
        params = module.params
        for name in ("cf_password", "cf_client_secret", "cf_token"):
            if params.get(name):
                module.add_secrets(params[name])
        cli_config = None
        if params.get("cf_token"):
            auth = {"kind": "token", "token": strip_bearer(params["cf_token"])}
        elif params.get("cf_client_id"):
            auth = {"kind": "client_credentials", "client_id": params["cf_client_id"], "client_secret": params["cf_client_secret"]}
        elif params.get("cf_username"):
            password = resolve_password(params)
            module.add_secrets(password)
            auth = {"kind": "password", "username": params["cf_username"], "password": password,
                    "origin": params.get("cf_origin")}
        else:
            cli_config = load_cf_cli_config()
            if not cli_config or not (cli_config.get("RefreshToken") or cli_config.get("AccessToken")):
                raise ParameterError(
                    "cf_username", "no Cloud Foundry credentials: set cf_username with cf_password or cf_password_file, "
                    "cf_client_id/cf_client_secret or cf_token "
                    "(or the CF_* environment variables), or log in with the cf CLI first")
            auth = {"kind": "cli", "refresh_token": cli_config.get("RefreshToken") or None,
                    "access_token": strip_bearer(cli_config.get("AccessToken")) or None,
                    "client_id": cli_config.get("UAAOAuthClient") or CF_CLIENT_ID,
                    "client_secret": cli_config.get("UAAOAuthClientSecret") or ""}
            module.add_secrets(*(value for value in (auth["refresh_token"], auth["access_token"]) if value))
        api_url = params.get("cf_api") or (cli_config or {}).get("Target")
        space_guid = params.get("space_guid")
        org, space = params.get("org"), params.get("space")
        if cli_config and not (space_guid or space) and normalise_api_url(cli_config.get("Target")) == normalise_api_url(api_url):
            space_guid = (cli_config.get("SpaceFields") or {}).get("GUID") or None
        if http is None:
            http = module.http()
        return cls(http, api_url, auth, org=org, space=space, space_guid=space_guid, redactor=module.redactor,
                   warn=module.warn, cli_config=cli_config)

    # -- caching of non-secret lookups ---------------------------------------------------------------
    def _cache_call(self, func):
        """func(cache) on the lookup cache, or None without one. A cache that fails is dropped with one warning (the
        cache object is passed in, so a thread of a batch never sees it disappear half-way)."""
        cache = self._cache
        if cache is None:
            return None
        try:
            return func(cache)
        except (CacheError, OSError) as exc:
            if not self._cache_warned:
                self._cache_warned = True
                self.warn("The token and lookup cache is not usable (%s); continuing without it." % exc)
            self._cache = None
            return None

    def _cached(self, parts, fetch, ttl):
        """Return fetch() through the lookup cache (entries keyed by parts, valid for ttl seconds)."""
        key = cache_key(*parts)
        with self._lock:
            value = self._cache_call(lambda cache: cache.get(key, now=self.clock()))
            if value is not None:
                return value
            value = fetch()
            if value is not None:
                self._cache_call(lambda cache: cache.put(key, value, expires_at=self.clock() + ttl))
            return value

    def _forget(self, parts):
        self._cache_call(lambda cache: cache.delete(cache_key(*parts)))

    @property
    def principal(self):
        # A digest of the secret is part of the identity: a wrong or changed password must reach UAA (and fail there)
        # instead of silently reusing a token cached with the previous one.
        auth = self.auth
        if auth["kind"] == "password":
            return "user:%s:%s:%s" % (auth.get("origin") or "", auth["username"], cache_key(auth.get("password") or ""))
        if auth["kind"] == "client_credentials":
            return "client:%s:%s" % (auth["client_id"], cache_key(auth.get("client_secret") or ""))
        if auth["kind"] == "token":
            return "token:%s" % cache_key(auth["token"])
        return "cli:%s" % cache_key(auth.get("refresh_token") or auth.get("access_token"))

    # -- discovery and authentication -----------------------------------------------------------------
    def links(self):
        if self._links is None:
            def fetch():
                data, dummy = self.http.json("GET", self.api_url + "/", context="Cloud Foundry API discovery (GET %s/)" % self.api_url)
                links = (data or {}).get("links") if isinstance(data, dict) else None
                if not isinstance(links, dict) or not isinstance(links.get("cloud_controller_v3"), dict):
                    raise ApiError("Cloud Foundry API discovery failed: %s/ does not look like a Cloud Foundry API "
                                   "(no links.cloud_controller_v3); check cf_api" % self.api_url, url=self.api_url)
                return {name: (link or {}).get("href") for name, link in links.items() if isinstance(link, dict) or link is None}
            self._links = self._cached(("root", self.api_url), fetch, ROOT_TTL)
        return self._links

    def token_url(self):
        links = self.links()
        base = links.get("login") or links.get("uaa")
        if not base:
            raise ApiError("Cloud Foundry API %s advertises no login or uaa link" % self.api_url)
        return base.rstrip("/") + "/oauth/token"

    def _token_cache_key(self):
        return cache_key("uaa-token", self.api_url, self.principal)

    def _fetch_token(self):
        """Request a new access token from UAA. Returns (value, expires_at) for the cache."""
        auth = self.auth
        if auth["kind"] == "token":
            raise ApiError("The Cloud Foundry token given in cf_token is invalid or expired; pass a fresh one "
                           "(cf oauth-token) or use cf_username/cf_password or cf_client_id/cf_client_secret", status=401)
        url = self.token_url()
        basic = (CF_CLIENT_ID, "")
        if auth["kind"] == "password":
            form = {"grant_type": "password", "username": auth["username"], "password": auth["password"]}
            if auth.get("origin"):
                form["login_hint"] = json.dumps({"origin": auth["origin"]}, separators=(",", ":"))
            who = "user %s" % auth["username"]
        elif auth["kind"] == "client_credentials":
            form = {"grant_type": "client_credentials", "client_id": auth["client_id"], "client_secret": auth["client_secret"]}
            basic = (auth["client_id"], auth["client_secret"])
            who = "client %s" % auth["client_id"]
        else:
            if not auth.get("refresh_token"):
                raise ApiError("The cf CLI session has expired; run 'cf login' again or set cf_username/cf_password", status=401)
            form = {"grant_type": "refresh_token", "refresh_token": auth["refresh_token"]}
            basic = (auth.get("client_id") or CF_CLIENT_ID, auth.get("client_secret") or "")
            who = "the cf CLI session"
        self.uaa_requests += 1
        try:
            data, dummy = self.http.json("POST", url, context="Cloud Foundry login (%s)" % who, data=form, auth=basic,
                                         headers={"Accept": "application/json"}, retry_safe=True)
        except ApiError as exc:
            if exc.status in (400, 401):
                hint = "check the credentials" if auth["kind"] != "cli" else "run 'cf login' again"
                raise ApiError("%s. %s" % (exc, hint[0].upper() + hint[1:]), status=exc.status, code=exc.code, title=exc.title,
                               method=exc.method, url=exc.url) from None
            raise
        token = (data or {}).get("access_token")
        if not token:
            raise ApiError("Cloud Foundry login (%s) returned no access_token" % who, url=safe_url(url))
        if self.redactor is not None:
            self.redactor.add(token)
        now = self.clock()
        expires_in = data.get("expires_in")
        expires_at = now + float(expires_in) if isinstance(expires_in, (int, float)) else (jwt_expiry(token) or now + 300)
        return {"access_token": token}, expires_at

    def access_token(self, rejected=None):
        """A valid UAA access token; rejected is a token CF refused, which must not be returned again."""
        if self._token and self._token != rejected:
            return self._token
        with self._lock:
            return self._access_token_unlocked(rejected)

    def _access_token_unlocked(self, rejected):
        if self._token and self._token != rejected:
            return self._token
        auth = self.auth
        if auth["kind"] == "token":
            if rejected:
                self._fetch_token()
            self._token = auth["token"]
            return self._token
        if auth["kind"] == "cli" and not rejected and auth.get("access_token"):
            expiry = jwt_expiry(auth["access_token"])
            if expiry and expiry - self.clock() > TOKEN_MIN_TTL:
                self._token = auth["access_token"]
                return self._token
        key = self._token_cache_key()
        if self._cache is not None:
            def locked_fetch(cache):
                with cache.locked(key):
                    value = cache.get(key, min_ttl=TOKEN_MIN_TTL, now=self.clock())
                    if value and value.get("access_token") and value["access_token"] != rejected:
                        return value["access_token"]
                    value, expires_at = self._fetch_token()
                    cache.put(key, value, expires_at=expires_at)
                    return value["access_token"]
            cached = self._cache_call(lambda cache: cache.get(key, min_ttl=TOKEN_MIN_TTL, now=self.clock()))
            if cached and cached.get("access_token") and cached["access_token"] != rejected:
                self._token = cached["access_token"]
            else:
                self._token = self._cache_call(locked_fetch)
        if not self._token or self._token == rejected:
            value, dummy = self._fetch_token()
            self._token = value["access_token"]
        if self.redactor is not None:
            self.redactor.add(self._token)
        return self._token

    # -- requests ----------------------------------------------------------------------------------
    def url(self, path_or_url):
        if path_or_url.startswith("https://") or path_or_url.startswith("http://"):
            return path_or_url
        return self.api_url + path_or_url

    def on_api_host(self, url):
        own, other = urlsplit(self.api_url), urlsplit(url)
        return (own.scheme, own.netloc) == (other.scheme, other.netloc)

    def request(self, method, path_or_url, context, expected=(200,), params=None, body=None, retry_safe=False):
        """Send an authenticated request; returns (data, response). Refreshes the token once on CF-InvalidAuthToken."""
        url = self.url(path_or_url)
        if not self.on_api_host(url):
            raise ApiError("%s: refusing to send the Cloud Foundry token to %s (not the API host)" % (context, safe_url(url)))
        if params:
            url = "%s%s%s" % (url, "&" if "?" in url else "?", urlencode(params, safe=",[]"))
        token = self.access_token()
        for attempt in (0, 1):
            kwargs = {"headers": {"Authorization": "bearer %s" % token, "Accept": "application/json"}, "retry_safe": retry_safe}
            if body is not None:
                kwargs["json"] = body
            response = self.http.request(method, url, context=context, expected=None, **kwargs)
            if response.status_code == 401 and attempt == 0 and self._invalid_token(response):
                token = self.access_token(rejected=token)
                continue
            break
        if expected is not None and response.status_code not in expected:
            raise api_error_from_response(response, context, hint=self._hint(response))
        if response.status_code == 204 or not response.content:
            return None, response
        try:
            return response.json(), response
        except ValueError:
            raise ApiError("%s failed: expected JSON, got %s" % (context, response.headers.get("Content-Type", "no content type")),
                           status=response.status_code, method=method, url=safe_url(url)) from None

    @staticmethod
    def _error(response):
        try:
            errors = response.json().get("errors") or []
            return errors[0] if errors and isinstance(errors[0], dict) else {}
        except (ValueError, AttributeError):
            return {}

    def _invalid_token(self, response):
        error = self._error(response)
        return error.get("title") == "CF-InvalidAuthToken" or error.get("code") == 1000 or not error

    def _hint(self, response):
        error = self._error(response)
        title = error.get("title")
        if title == "CF-NotAuthorized" or response.status_code == 403:
            return "The Cloud Foundry user needs the Space Developer role in the target space"
        if title in ("CF-InvalidAuthToken", "CF-NotAuthenticated"):
            return "The Cloud Foundry token was rejected; check the credentials"
        return None

    def get(self, path, context, params=None, expected=(200,)):
        data, dummy = self.request("GET", path, context, params=params, expected=expected)
        return data

    def list_resources(self, path, context, params=None, limit=None):
        """All resources of a list (following next links on the API host); returns (resources, included)."""
        params = dict(params or {})
        params.setdefault("per_page", 100 if limit is None else min(max(limit, 1), 5000))
        resources, included = [], {}
        url = path
        while url:
            data, dummy = self.request("GET", url, context, params=params)
            data = data or {}
            resources.extend(data.get("resources") or [])
            for kind, items in (data.get("included") or {}).items():
                included.setdefault(kind, []).extend(items or [])
            if limit is not None and len(resources) >= limit:
                return resources[:limit], included
            following = ((data.get("pagination") or {}).get("next") or {}).get("href")
            if following and not self.on_api_host(following):
                raise ApiError("%s: the next page link %s is not on the API host" % (context, safe_url(following)))
            url, params = following, None
        return resources, included

    def first(self, path, context, params):
        resources, dummy = self.list_resources(path, context, params=params, limit=1)
        return resources[0] if resources else None

    # -- org and space ------------------------------------------------------------------------------
    def space_guid(self):
        """The GUID of the target space (space_guid, or org + space resolved by name)."""
        if self._space_guid:
            return self._space_guid
        if not self.space or not self.org:
            raise ParameterError("space", "no target space: set org and space (or CF_ORG and CF_SPACE), or space_guid")

        def fetch():
            org = self.first("/v3/organizations", "Looking up org '%s'" % self.org, {"names": self.org})
            if org is None:
                raise ParameterError("org", "organization '%s' not found (or the user is not a member of it)" % self.org)
            space = self.first("/v3/spaces", "Looking up space '%s' in org '%s'" % (self.space, self.org),
                               {"names": self.space, "organization_guids": org["guid"]})
            if space is None:
                raise ParameterError("space", "space '%s' not found in org '%s' (or the user has no role in it)" % (self.space, self.org))
            return space["guid"]
        self._space_guid = self._cached(("space", self.api_url, self.principal, self.org.lower(), self.space.lower()), fetch, LOOKUP_TTL)
        return self._space_guid

    def forget_space(self):
        """Drop a cached space GUID that CF reported as invalid."""
        if self.space and self.org:
            self._forget(("space", self.api_url, self.principal, self.org.lower(), self.space.lower()))
            self._space_guid = None

    # -- catalog --------------------------------------------------------------------------------------
    def _catalog_parts(self, offering):
        return ("catalog", self.api_url, self.principal, offering)

    def catalog(self, offering):
        """{"offering_guid", "instances_retrievable", "plans": {name: guid}} of a service offering (cached)."""
        def fetch():
            offerings, dummy = self.list_resources("/v3/service_offerings", "Looking up service offering '%s'" % offering,
                                                   {"names": offering})
            if not offerings:
                return None
            entry = offerings[0]
            features = (entry.get("broker_catalog") or {}).get("features") or {}
            plans, dummy = self.list_resources("/v3/service_plans", "Looking up the plans of '%s'" % offering,
                                               {"service_offering_guids": entry["guid"]})
            return {"offering_guid": entry["guid"], "instances_retrievable": features.get("instances_retrievable"),
                    "plans": {plan["name"]: plan["guid"] for plan in plans}}
        found = self._cached(self._catalog_parts(offering), fetch, LOOKUP_TTL)
        if found is None:
            raise ParameterError("offering", "service offering '%s' not found in the marketplace of this Cloud Foundry API "
                                 "(for it-rt, a Cloud Integration runtime must be provisioned in the subaccount)" % offering)
        return found

    def plan_guid(self, offering, plan):
        plans = self.catalog(offering)["plans"]
        if plan not in plans:
            self.forget_catalog(offering)
            plans = self.catalog(offering)["plans"]
        if plan not in plans:
            raise ParameterError("plan", "service offering '%s' has no plan '%s'; available plans: %s" % (
                offering, plan, ", ".join(sorted(plans)) or "none"))
        return plans[plan]

    def plan_name(self, offering, guid):
        for name, plan_guid in self.catalog(offering)["plans"].items():
            if plan_guid == guid:
                return name
        return None

    def forget_catalog(self, offering):
        self._forget(self._catalog_parts(offering))

    # -- service instances ----------------------------------------------------------------------------
    PLAN_FIELDS = {"fields[service_plan]": "guid,name,relationships.service_offering", "fields[service_plan.service_offering]": "guid,name"}

    @staticmethod
    def _describe_instances(resources, included):
        """Add plan_name and offering_name (from the included plan and offering) to instance resources."""
        plans = {plan.get("guid"): plan for plan in included.get("service_plans") or []}
        offerings = {offering.get("guid"): offering for offering in included.get("service_offerings") or []}
        for resource in resources:
            plan_guid = (((resource.get("relationships") or {}).get("service_plan") or {}).get("data") or {}).get("guid")
            plan = plans.get(plan_guid) or {}
            offering_guid = (((plan.get("relationships") or {}).get("service_offering") or {}).get("data") or {}).get("guid")
            resource["plan_name"] = plan.get("name")
            resource["offering_name"] = (offerings.get(offering_guid) or {}).get("name")
        return resources

    def instances_by_name(self, names):
        """{name: instance} of the named instances that exist: one list request per 100 names (URL length), the
        requests made at the same time."""
        found = {}
        for instances in self._chunks(list(names), 100, lambda chunk: self.list_instances(names=chunk)):
            for instance in instances:
                found[instance.get("name")] = instance
        return found

    def prefetch_instances(self, names):
        """Look up many instances with one list request (per 100 names) before a batch works on them: the first
        find_instance() of each name is then answered from this listing, later ones ask the API again."""
        names = list(dict.fromkeys(names))
        found = self.instances_by_name(names)
        with self._lock:
            for name in names:
                self._prefetched[name] = found.get(name)

    def find_instance(self, name):
        """The service instance with this exact name in the target space, or None.

        The resource carries two extra keys, plan_name and offering_name (None for user-provided instances).
        """
        with self._lock:
            if name in self._prefetched:
                return self._prefetched.pop(name)
        params = {"names": name, "space_guids": self.space_guid()}
        params.update(self.PLAN_FIELDS)
        resources, included = self.list_resources("/v3/service_instances", "Looking up service instance '%s'" % name, params, limit=1)
        return self._describe_instances(resources, included)[0] if resources else None

    def list_instances(self, names=None, plan_guids=None):
        """Instances of the target space, filtered by names and/or plan GUIDs (with plan_name and offering_name)."""
        params = {"space_guids": self.space_guid()}
        if names:
            params["names"] = ",".join(names)
        if plan_guids:
            params["service_plan_guids"] = ",".join(plan_guids)
        params.update(self.PLAN_FIELDS)
        resources, included = self.list_resources("/v3/service_instances", "Listing service instances", params)
        return self._describe_instances(resources, included)

    def parameters_retrievable(self, offering):
        """What this or an earlier run learned about reading the offering's instance parameters: True, False or None."""
        if offering in self._retrievable:
            return self._retrievable[offering]
        return self._cache_call(lambda cache: cache.get(cache_key("retrievable", self.api_url, offering), now=self.clock()))

    def remember_parameters_retrievable(self, offering, value):
        self._retrievable[offering] = bool(value)
        self._cache_call(lambda cache: cache.put(cache_key("retrievable", self.api_url, offering), bool(value),
                                                 expires_at=self.clock() + LOOKUP_TTL))

    def lock_for(self, name):
        """A lock per name, for work that one thread of a batch does while the others wait for its outcome."""
        with self._lock:
            return self._locks.setdefault(name, threading.Lock())

    @staticmethod
    def _chunks(items, size, fetch):
        """fetch(chunk) for every chunk of ``size`` items; several chunks are fetched at the same time (one list request
        each), the results come in chunk order and the error of the first chunk that failed is raised."""
        chunks = [items[start:start + size] for start in range(0, len(items), size)]
        if len(chunks) <= 1:
            return [fetch(chunk) for chunk in chunks]
        with concurrent.futures.ThreadPoolExecutor(max_workers=min(len(chunks), LIST_CHUNK_THREADS)) as pool:
            futures = [pool.submit(fetch, chunk) for chunk in chunks]
            return [future.result() for future in futures]

    def get_instance(self, guid):
        """The instance by GUID, or None when it no longer exists."""
        data, response = self.request("GET", "/v3/service_instances/%s" % guid, "Reading service instance %s" % guid, expected=(200, 404))
        return None if response.status_code == 404 else data

    def instance_parameters(self, guid):
        """The parameters CF (the broker) reports for an instance.

        Returns False when the offering does not allow reading them, None when they cannot be read now
        (operation in progress, failed create, broker error).
        """
        data, response = self.request("GET", "/v3/service_instances/%s/parameters" % guid, "Reading the parameters of service instance %s" % guid,
                                      expected=(200, 400, 404, 409, 502))
        if response.status_code == 200:
            return data if isinstance(data, dict) else {}
        if response.status_code == 400 and self._error(response).get("title") == "CF-ServiceFetchInstanceParametersNotSupported":
            return False
        return None

    def create_instance(self, body):
        """POST a new managed instance; returns the job URL. Never retried blindly (see create_once)."""
        dummy, response = self.request("POST", "/v3/service_instances", "Creating service instance '%s'" % body.get("name"),
                                       expected=(201, 202), body=body)
        return response.headers.get("Location")

    def update_instance(self, guid, body, name=None):
        """PATCH an instance; returns (job_url or None, instance or None)."""
        data, response = self.request("PATCH", "/v3/service_instances/%s" % guid, "Updating service instance '%s'" % (name or guid),
                                      expected=(200, 202), body=body, retry_safe=True)
        if response.status_code == 202:
            return response.headers.get("Location"), None
        return None, data

    def delete_instance(self, guid, name=None):
        """DELETE an instance; returns the job URL, or None when it was deleted at once or was already gone."""
        dummy, response = self.request("DELETE", "/v3/service_instances/%s" % guid, "Deleting service instance '%s'" % (name or guid),
                                       expected=(202, 204, 404))
        return response.headers.get("Location") if response.status_code == 202 else None

    # -- service keys -----------------------------------------------------------------------------------
    def find_key(self, instance_guid, name):
        """The service key with this name of the instance, or None."""
        return self.first("/v3/service_credential_bindings", "Looking up service key '%s'" % name,
                          {"names": name, "service_instance_guids": instance_guid, "type": "key"})

    def _keys_with_instances(self, key_names, instance_names, context):
        """{(instance name, key name): (key, instance)} of the keys in the target space, one list request."""
        params = {"names": ",".join(key_names), "service_instance_names": ",".join(instance_names), "type": "key",
                  "include": "service_instance"}
        resources, included = self.list_resources("/v3/service_credential_bindings", context, params)
        space_guid = self.space_guid()
        instances = {item.get("guid"): item for item in included.get("service_instances") or []}
        found = {}
        for key in resources:
            instance_guid = (((key.get("relationships") or {}).get("service_instance") or {}).get("data") or {}).get("guid")
            instance = instances.get(instance_guid)
            if instance and (((instance.get("relationships") or {}).get("space") or {}).get("data") or {}).get("guid") == space_guid:
                found.setdefault((instance.get("name"), key.get("name")), (key, instance))
        return found

    def prefetch_keys(self, pairs):
        """Look up many keys by (instance name, key name) with one list request (per 50 pairs) before a batch works on
        them: the first find_key_by_instance_name() of each pair is answered from this listing."""
        pairs = list(dict.fromkeys(pairs))
        found = {}
        for chunk_found in self._chunks(pairs, 50, lambda chunk: self._keys_with_instances(
                sorted({key for dummy, key in chunk}), sorted({inst for inst, dummy in chunk}), "Looking up %d service keys" % len(chunk))):
            found.update(chunk_found)
        with self._lock:
            for pair in pairs:
                self._prefetched_keys[pair] = found.get(pair, (None, None))

    def find_key_by_instance_name(self, instance_name, key_name):
        """(key, instance) for a key looked up by its instance's name in one request, or (None, None)."""
        with self._lock:
            if (instance_name, key_name) in self._prefetched_keys:
                return self._prefetched_keys.pop((instance_name, key_name))
        found = self._keys_with_instances([key_name], [instance_name], "Looking up service key '%s' of '%s'" % (key_name, instance_name))
        return found.get((instance_name, key_name), (None, None))

    def keys_by_instance(self, pairs):
        """{(instance guid, key name): key} for many keys, with one list request per 50 instances."""
        wanted = set(pairs)
        found = {}
        for key in self.list_keys(sorted({guid for guid, dummy in wanted})):
            guid = (((key.get("relationships") or {}).get("service_instance") or {}).get("data") or {}).get("guid")
            if (guid, key.get("name")) in wanted:
                found[(guid, key.get("name"))] = key
        return found

    def list_keys(self, instance_guids):
        if not instance_guids:
            return []
        resources = []
        for found, dummy in self._chunks(list(instance_guids), 50, lambda chunk: self.list_resources(
                "/v3/service_credential_bindings", "Listing service keys", {"service_instance_guids": ",".join(chunk), "type": "key"})):
            resources.extend(found)
        return resources

    def get_key(self, guid):
        data, response = self.request("GET", "/v3/service_credential_bindings/%s" % guid, "Reading service key %s" % guid, expected=(200, 404))
        return None if response.status_code == 404 else data

    def key_details(self, key_guid):
        """The raw credentials of a key exactly as CF gives them (for it-rt: {"oauth": {...}})."""
        data = self.get("/v3/service_credential_bindings/%s/details" % key_guid, "Reading the credentials of service key %s" % key_guid)
        credentials = (data or {}).get("credentials")
        if not isinstance(credentials, dict):
            raise ApiError("Reading the credentials of service key %s: the response has no credentials object" % key_guid)
        if self.redactor is not None:
            oauth = credentials.get("oauth") if isinstance(credentials.get("oauth"), dict) else credentials
            self.redactor.add(*(oauth.get(name) for name in ("clientsecret", "key") if isinstance(oauth.get(name), str)))
        return credentials

    def create_key(self, body):
        dummy, response = self.request("POST", "/v3/service_credential_bindings", "Creating service key '%s'" % body.get("name"),
                                       expected=(201, 202), body=body)
        return response.headers.get("Location")

    def delete_key(self, guid, name=None):
        dummy, response = self.request("DELETE", "/v3/service_credential_bindings/%s" % guid, "Deleting service key '%s'" % (name or guid),
                                       expected=(202, 204, 404))
        return response.headers.get("Location") if response.status_code == 202 else None

    def fetch_key(self, instance_name, key_name, key_guid=None):
        """The raw credentials of key key_name of instance instance_name in the target space.

        Two requests when the key exists: the key looked up by its and its instance's name at once, then its details;
        one request when the caller knows the key's GUID (for example from a service key listing).
        """
        if key_guid:
            try:
                return self.key_details(key_guid)
            except ApiError as exc:
                if exc.status != 404:
                    raise
                raise ParameterError("key_guid", "service key %s ('%s' of '%s') not found" % (key_guid, key_name, instance_name)) from None
        key, dummy = self.find_key_by_instance_name(instance_name, key_name)
        if key is None:
            if self.find_instance(instance_name) is None:
                raise ParameterError("instance", "service instance '%s' not found in the target space" % instance_name)
            raise ParameterError("name", "service instance '%s' has no service key '%s'" % (instance_name, key_name))
        state = last_operation(key).get("state")
        if state in IN_PROGRESS_STATES:
            raise ApiError("Service key '%s' of '%s' is still being created; wait for it (service_key with wait: true)" % (key_name, instance_name))
        if state == "failed":
            raise ApiError("Service key '%s' of '%s' failed: %s" % (key_name, instance_name, last_operation(key).get("description") or "no details"))
        return self.key_details(key["guid"])

    # -- polling --------------------------------------------------------------------------------------
    def poll_intervals(self):
        waited = 0.0
        while True:
            delay = min(POLL_MAX, max(POLL_FIRST, waited * POLL_SHARE))
            yield delay
            waited += delay

    def _transient(self, response):
        return response.status_code >= 500 or response.status_code == 429

    def wait_for_job(self, job_url, timeout, context):
        """Poll a CF job until COMPLETE or FAILED. Returns the job; raises ApiError on FAILED or timeout."""
        if not job_url:
            return None
        if not self.on_api_host(job_url):
            job_url = self.api_url + urlsplit(job_url).path
        deadline = self.clock() + timeout
        intervals = self.poll_intervals()
        while True:
            self.sleep(min(next(intervals), max(0.0, deadline - self.clock())))
            data, response = self.request("GET", job_url, context + " (polling the job)", expected=None)
            if not self._transient(response) and response.status_code != 200:
                raise api_error_from_response(response, context + " (polling the job)")
            if response.status_code == 200 and isinstance(data, dict):
                state = data.get("state")
                if state == "COMPLETE":
                    return data
                if state == "FAILED":
                    raise ApiError("%s failed: %s" % (context, job_error_message(data)), code=((data.get("errors") or [{}])[0] or {}).get("code"),
                                   title=((data.get("errors") or [{}])[0] or {}).get("title"))
            if self.clock() >= deadline:
                raise ApiError("%s: not finished after %s seconds (job %s still %s); rerun the task to wait again, or raise wait_timeout" % (
                    context, timeout, urlsplit(job_url).path.rsplit("/", 1)[-1], (data or {}).get("state") if isinstance(data, dict) else "unknown"))

    def wait_for_resource(self, read, timeout, context, gone_ok=False):
        """Poll read() (instance or key) until no operation is in progress. Returns the resource (None if gone)."""
        deadline = self.clock() + timeout
        intervals = self.poll_intervals()
        while True:
            try:
                resource = read()
            except ApiError as exc:
                if exc.status is None or (exc.status < 500 and exc.status != 429):
                    raise
                resource = {"last_operation": {"state": "in progress"}}
            if resource is None:
                if gone_ok:
                    return None
                raise ApiError("%s: the resource disappeared while waiting for it" % context)
            if not operation_in_progress(resource):
                return resource
            if self.clock() >= deadline:
                raise ApiError("%s: still in progress after %s seconds; rerun the task to wait again, or raise wait_timeout" % (context, timeout))
            self.sleep(min(next(intervals), max(0.0, deadline - self.clock())))
