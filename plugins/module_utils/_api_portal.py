# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. SAP API Management (API portal): API providers for a Cloud Integration tenant.

- apiportal_argument_spec(): the API portal credential options (doc fragment ``api_portal``, ``APIPORTAL_*`` env);
- validate_instance_parameters(): the ``apimanagement-apiportal`` instance parameters (``{"role": ...}``);
- resolve_portal_credentials() / resolve_cpi_credentials(): the two keys a provider needs; every source is parsed by
  ``_service_key.parse_service_key`` and the plans are checked before any request;
- PortalClient: ``/apiportal/api/1.0/Management.svc/APIProviders`` (OData V2, JSON) with a bearer token from
  ``_oauth.TokenProvider``, a CSRF token fetched only when the service asks for one, and read-your-writes waits
  (the API portal answers reads from a cache for about 20 s after a write);
- ProviderManager: present/absent with compare, check mode, diff and the safe replace.

Replace order. A provider's name is its key and the API offers no confirmed update in place, so changing a
provider means delete + create under the same name. To never delete a working provider for a create that cannot
succeed, the new definition is first created under a staging name (``<name>--next``): that proves the payload, the
role and the CSRF handling. Only then is the old provider deleted and the new one created under its name; the staging
provider is deleted last. If the create under the real name still fails (a transient fault), the staging provider
keeps the new definition and the error says so; the next run creates the provider and removes the staging one.
"""

from __future__ import annotations

import json
import time
from urllib.parse import quote, urlsplit

from ansible.module_utils.basic import env_fallback

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils import _credentials, _oauth, _service_key
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._errors import ApiError, ParameterError, safe_url
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._redact import fingerprint

OFFERING = "apimanagement-apiportal"
PLAN = _service_key.PLAN_APIPORTAL
ROLES = ("APIPortal.Administrator", "APIPortal.Guest", "APIManagement.SelfService.Administrator")
BASE_PATH = "/apiportal/api/1.0/Management.svc"
PROVIDER_TYPES = ("cloud_integration",)
# auth option -> authType literal. PTF confirms only "BASIC"; the OAuth literal follows the UI's wording (unconfirmed).
AUTH_TYPES = {"oauth2_client_credentials": "OAuth2ClientCredentials", "basic": "BASIC"}
FINGERPRINT_PROPERTY = "sap_btp.cloud_integration.credential_fingerprint"
STAGING_SUFFIX = "--next"
MAX_NAME_LENGTH = 200 - len(STAGING_SUFFIX)
# the fields this collection manages and compares (everything readable back); secrets are compared by fingerprint
COMPARED_FIELDS = ("title", "description", "destType", "isOnPremise", "host", "port", "useSSL", "trustAll", "pathPrefix",
                   "authType", "clientId", "tokenUrl", "userName")
SECRET_FIELDS = ("clientSecret", "password")
ENV = {
    "apiportal_key": ["APIPORTAL_SERVICE_KEY"],
    "apiportal_key_path": ["APIPORTAL_SERVICE_KEY_PATH"],
    "apiportal_url": ["APIPORTAL_URL"],
    "apiportal_token_url": ["APIPORTAL_TOKEN_URL"],
    "apiportal_client_id": ["APIPORTAL_CLIENT_ID"],
    "apiportal_client_secret": ["APIPORTAL_CLIENT_SECRET"],
}


def apiportal_argument_spec():
    """The API portal credential options (doc fragment ``api_portal``)."""
    return dict(
        apiportal_key=dict(type="raw", no_log=True, fallback=(env_fallback, ENV["apiportal_key"])),
        apiportal_key_path=dict(type="path", no_log=False, fallback=(env_fallback, ENV["apiportal_key_path"])),
        apiportal_instance=dict(type="str"),
        apiportal_key_name=dict(type="str", no_log=False),
        apiportal_url=dict(type="str", fallback=(env_fallback, ENV["apiportal_url"])),
        apiportal_token_url=dict(type="str", no_log=False, fallback=(env_fallback, ENV["apiportal_token_url"])),
        apiportal_client_id=dict(type="str", fallback=(env_fallback, ENV["apiportal_client_id"])),
        apiportal_client_secret=dict(type="str", no_log=True, fallback=(env_fallback, ENV["apiportal_client_secret"])),
        read_timeout=dict(type="int", default=60),
    )


APIPORTAL_MUTUALLY_EXCLUSIVE = [
    ("apiportal_key", "apiportal_key_path", "apiportal_instance", "apiportal_client_id"),
]
APIPORTAL_REQUIRED_TOGETHER = [("apiportal_instance", "apiportal_key_name")]


def module_args(**own_options):
    """AnsibleModule keyword arguments of api_provider and api_provider_info: the Cloud Integration credentials of every
    module, the token options, the API portal key, then the module's own options."""
    spec = _credentials.argument_spec()
    spec.update(_oauth.token_argument_spec())
    spec.update(apiportal_argument_spec())
    spec.update(own_options)
    return dict(argument_spec=spec, supports_check_mode=True,
                **_credentials.module_kwargs(mutually_exclusive=APIPORTAL_MUTUALLY_EXCLUSIVE, required_together=APIPORTAL_REQUIRED_TOGETHER))


# ---------------------------------------------------------------------------------------------------------------
# the apimanagement-apiportal offering

def validate_instance_parameters(plan, params, option="parameters"):
    """The parameters of an apimanagement-apiportal instance: exactly ``{"role": <one of ROLES>}``."""
    if plan != PLAN:
        raise ParameterError("plan", "offering '%s' has the plan '%s', not '%s'" % (OFFERING, PLAN, plan))
    if params is None:
        raise ParameterError(option, "offering '%s' needs parameters {\"role\": ...}, role one of %s" % (OFFERING, ", ".join(ROLES)))
    if not isinstance(params, dict):
        raise ParameterError(option, "must be a dictionary")
    unknown = sorted(set(params) - {"role"})
    if unknown:
        raise ParameterError(option, "unknown parameter(s) %s of offering '%s'; the only parameter is 'role'" % (
            ", ".join("'%s'" % name for name in unknown), OFFERING))
    if params.get("role") not in ROLES:
        raise ParameterError(option + ".role", "'%s' is not an API portal role; valid roles: %s (APIPortal.Guest is read only)" % (
            params.get("role"), ", ".join(ROLES)))
    return dict(params)


# ---------------------------------------------------------------------------------------------------------------
# credentials

def resolve_portal_credentials(module):
    """Normalised credentials of the API portal key (plan apiportal-apiaccess); secrets registered."""
    p = module.params
    option, raw = _credentials.key_option(p, "apiportal_key", "apiportal_key_path")
    if option:
        try:
            creds = _service_key.parse_service_key(raw, option=option, details=False)
        finally:
            if option == "apiportal_key":
                # the key dict is no_log as a whole: keep only its secrets masked, not its URLs and client id
                _credentials.release_public_values(module, raw)
    elif p.get("apiportal_instance"):
        option = "apiportal_instance"
        dummy, creds = _credentials.cf_key(module, p["apiportal_instance"], p["apiportal_key_name"], option="apiportal_key_name")
    elif p.get("apiportal_client_id"):
        option = "apiportal_client_id"
        for name in ("apiportal_client_secret", "apiportal_token_url", "apiportal_url"):
            if not p.get(name):
                raise ParameterError(name, "required with apiportal_client_id (from the API portal key; env %s)" % ENV[name][0])
        creds = {"clientid": p["apiportal_client_id"], "clientsecret": p["apiportal_client_secret"], "certificate": None, "key": None,
                 "url": p["apiportal_url"].rstrip("/"), "tokenurl": p["apiportal_token_url"], "plan": PLAN, "key_type": "client_secret"}
    else:
        raise ParameterError(
            "apiportal_key",
            "no API portal credentials: set apiportal_key (or APIPORTAL_SERVICE_KEY), apiportal_key_path, apiportal_instance and "
            "apiportal_key_name, or apiportal_client_id, apiportal_client_secret, apiportal_token_url and apiportal_url "
            "(APIPORTAL_*); the key comes from an instance of offering '%s', plan '%s'" % (OFFERING, PLAN))
    module.add_secrets(*_service_key.secret_values(creds))
    if creds.get("plan") in (_service_key.PLAN_API, _service_key.PLAN_IFLOW):
        raise ParameterError(option, "this is a Cloud Integration (it-rt '%s') key, not an API portal key; the API portal key comes from "
                                     "an instance of offering '%s', plan '%s'" % (creds["plan"], OFFERING, PLAN))
    if p.get("apiportal_url"):
        creds["url"] = p["apiportal_url"].rstrip("/")
    allow_http = bool(p.get("allow_http"))
    _credentials.validate_url(creds["url"], "apiportal_url", allow_http)
    _credentials.validate_url(creds["tokenurl"], "apiportal_token_url", allow_http)
    creds["source"] = option
    creds["tokenurl_from_key"] = option != "apiportal_client_id"
    return creds


def resolve_cpi_credentials(module, required=True):
    """Normalised credentials of the Cloud Integration api-plan key the provider uses (None when not given and not required).
    The sources and their precedence are those of every module (_credentials.resolve)."""
    p = module.params
    if not required and _credentials.choose_source(p) is None:
        return None
    try:
        creds = _credentials.resolve(module, require_url=True)
    except ParameterError as exc:
        if exc.option is None:
            raise ParameterError("service_key", "no Cloud Integration credentials for the provider: set instance and key (an it-rt 'api' "
                                                "instance and its key), stored, service_key (a key dict, e.g. from the credentials lookup), "
                                                "service_key_path, or client_id/client_secret/token_url/url (CPI_*)") from None
        raise
    if creds.get("plan") == PLAN:
        raise ParameterError(creds["source"], "this is an API portal key; the provider needs the it-rt 'api' key of the Cloud "
                                              "Integration tenant (apiportal_key takes the API portal key)")
    if creds.get("plan") == _service_key.PLAN_IFLOW:
        raise ParameterError(creds["source"], "this is an it-rt 'integration-flow' key but an API provider of type Cloud Integration "
                                              "needs an 'api' key (roles AuthGroup_IntegrationDeveloper, AuthGroup_Administrator). %s"
                                              % _service_key.PLAN_HELP)
    if not creds.get("clientsecret"):
        raise ParameterError(creds["source"], "the API provider authenticates with client id and secret; this key holds a certificate. "
                                              "Create a client_secret key of the 'api' instance")
    return creds


# ---------------------------------------------------------------------------------------------------------------
# desired state

def validate_name(name, option="name"):
    if not isinstance(name, str) or not name.strip():
        raise ParameterError(option, "must not be empty")
    if len(name) > MAX_NAME_LENGTH:
        raise ParameterError(option, "at most %d characters (the API allows 200; the replace needs room for '%s')" % (MAX_NAME_LENGTH, STAGING_SUFFIX))
    if name.endswith(STAGING_SUFFIX):
        raise ParameterError(option, "names ending in '%s' are reserved for the staging provider of a replace" % STAGING_SUFFIX)
    return name


def credential_fingerprint(auth, creds):
    """Fingerprint of what the provider authenticates with (kept as an additional property: the secret is not readable)."""
    return fingerprint(json.dumps({"auth": auth, "clientid": creds["clientid"], "clientsecret": creds["clientsecret"],
                                   "tokenurl": creds["tokenurl"]}, sort_keys=True))


def desired_provider(params, creds):
    """The APIProvider entity to create (secret included) for a Cloud Integration tenant."""
    provider_type = params.get("provider_type") or "cloud_integration"
    if provider_type not in PROVIDER_TYPES:
        raise ParameterError("provider_type", "'%s' is not a supported provider type; supported: %s" % (provider_type, ", ".join(PROVIDER_TYPES)))
    auth = params.get("auth") or "oauth2_client_credentials"
    if auth not in AUTH_TYPES:
        raise ParameterError("auth", "'%s' is not supported; use one of %s" % (auth, ", ".join(AUTH_TYPES)))
    parts = urlsplit(creds["url"])
    port = parts.port or (443 if parts.scheme == "https" else 80)
    entity = {
        "name": validate_name(params["name"]),
        "title": params.get("title") or params["name"],
        "description": params.get("description") or "",
        "destType": params.get("dest_type") or "INTERNET",
        "isOnPremise": False,
        "host": parts.hostname,
        "port": port,
        "useSSL": parts.scheme == "https",
        "trustAll": False,
        "pathPrefix": params.get("path_prefix") or "/api/v1",
        "authType": AUTH_TYPES[auth],
    }
    if auth == "basic":
        entity.update(userName=creds["clientid"], password=creds["clientsecret"], clientId=None, tokenUrl=None, clientSecret=None)
    else:
        entity.update(clientId=creds["clientid"], clientSecret=creds["clientsecret"], tokenUrl=creds["tokenurl"], userName=None, password=None)
    entity["additionalProperties"] = {"results": [{"name": FINGERPRINT_PROPERTY, "value": credential_fingerprint(auth, creds)}]}
    return entity


def additional(entity):
    props = (entity or {}).get("additionalProperties") or {}
    rows = props.get("results") if isinstance(props, dict) else props
    return {row.get("name"): row.get("value") for row in rows or [] if isinstance(row, dict)}


def public_view(entity):
    """A provider as this collection returns it: compared fields, secrets as fingerprints, additional properties."""
    if entity is None:
        return None
    view = {"name": entity.get("name")}
    for name in COMPARED_FIELDS:
        view[name] = entity.get(name)
    props = additional(entity)
    view["credential_fingerprint"] = props.get(FINGERPRINT_PROPERTY)
    view["additional_properties"] = props
    return view


def differences(current, desired):
    """Names of the fields that differ (secrets through the fingerprint property; a secret read back is compared too)."""
    def differs(name):
        if current.get(name) is None and desired.get(name) in ("", None):
            return False
        return (current.get(name) or None) != (desired.get(name) or None)

    names = [name for name in COMPARED_FIELDS if differs(name)]
    if additional(current).get(FINGERPRINT_PROPERTY) != additional(desired).get(FINGERPRINT_PROPERTY):
        names.append("credential_fingerprint")
    for name in SECRET_FIELDS:
        if current.get(name) and current.get(name) != desired.get(name):
            names.append(name)
    return names


# ---------------------------------------------------------------------------------------------------------------
# HTTP

class PortalClient:
    """APIProviders of one API portal, with a bearer token of the portal key."""

    def __init__(self, module, creds, http=None, clock=time.monotonic, sleep=time.sleep):
        self.module = module
        self.creds = creds
        self.http = http or module.http()
        self.base = creds["url"].rstrip("/") + BASE_PATH
        self.csrf = None
        self.clock = clock
        self.sleep = sleep
        self.read_timeout = max(0, int(module.params.get("read_timeout") or 0))
        self.tokens = _oauth.TokenProvider(self.http, creds, client_auth="basic", cache=module.params.get("cache", True),
                                           min_ttl=module.params.get("min_ttl") or _oauth.DEFAULT_MIN_TTL, warn=module.warn)

    def _headers(self, extra=None):
        token = self.tokens.token()["access_token"]
        self.module.redactor.add(token)
        headers = {"Authorization": "Bearer " + token, "Accept": "application/json"}
        headers.update(extra or {})
        return headers

    @staticmethod
    def entity_url(base, name):
        return "%s/APIProviders('%s')" % (base, quote(name.replace("'", "''"), safe=""))

    def _fail(self, response, context, hint=None):
        from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._errors import api_error_from_response

        if response.status_code == 403 and hint is None:
            hint = ("the API portal key's role may not do this: writes need an instance with role APIPortal.Administrator "
                    "(APIPortal.Guest reads only)")
        if response.status_code == 401:
            hint = "the API portal did not accept the token of client '%s'" % self.creds["clientid"]
        raise api_error_from_response(response, context, hint=hint)

    def get(self, name):
        """The provider (as the API answers it, maybe from its read cache) or None."""
        url = self.entity_url(self.base, name) + "?$expand=additionalProperties"
        response = self.http.request("GET", url, context="Reading API provider '%s'" % name, headers=self._headers())
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            self._fail(response, "Reading API provider '%s'" % name)
        return (response.json() or {}).get("d")

    def list(self):
        url = self.base + "/APIProviders?$expand=additionalProperties"
        response = self.http.request("GET", url, context="Listing API providers", headers=self._headers())
        if response.status_code != 200:
            self._fail(response, "Listing API providers")
        return ((response.json() or {}).get("d") or {}).get("results") or []

    def _fetch_csrf(self):
        response = self.http.request("GET", self.base + "/", context="Fetching a CSRF token from the API portal",
                                     headers=self._headers({"X-CSRF-Token": "Fetch"}))
        if response.status_code != 200 or not response.headers.get("X-CSRF-Token"):
            self._fail(response, "Fetching a CSRF token from the API portal")
        self.csrf = response.headers["X-CSRF-Token"]

    def _write(self, method, url, context, body=None, retry_safe=False):
        """A write; a CSRF token is fetched and the write repeated once when the service asks for one."""
        kwargs = {"json": body} if body is not None else {}
        response = self.http.request(method, url, context=context, headers=self._headers({"X-CSRF-Token": self.csrf} if self.csrf else None),
                                     retry_safe=retry_safe, **kwargs)
        if response.status_code == 403 and (response.headers.get("X-CSRF-Token") or "").lower() == "required":
            self._fetch_csrf()
            response = self.http.request(method, url, context=context, headers=self._headers({"X-CSRF-Token": self.csrf}),
                                         retry_safe=retry_safe, **kwargs)
        return response

    def create(self, entity):
        """POST the provider. Returns True when created, False when one of that name already existed."""
        context = "Creating API provider '%s'" % entity["name"]
        response = self._write("POST", self.base + "/APIProviders", context, entity, retry_safe=True)
        if response.status_code in (200, 201):
            return True
        if response.status_code == 409:
            return False
        self._fail(response, context)
        return False

    def update(self, entity):
        context = "Updating API provider '%s' in place" % entity["name"]
        response = self._write("PUT", self.entity_url(self.base, entity["name"]), context, entity)
        if response.status_code not in (200, 204):
            self._fail(response, context, hint="set update_mode: replace if this API portal cannot update providers in place"
                       if response.status_code in (400, 405, 501) else None)

    def delete(self, name):
        """DELETE the provider. Returns False when it did not exist."""
        context = "Deleting API provider '%s'" % name
        response = self._write("DELETE", self.entity_url(self.base, name), context)
        if response.status_code in (200, 204):
            return True
        if response.status_code == 404:
            return False
        self._fail(response, context)
        return False

    def wait_read(self, name, predicate, what):
        """Poll reads until predicate(entity or None) holds (the API portal caches reads after writes)."""
        deadline = self.clock() + self.read_timeout
        delay = 0.25
        while True:
            entity = self.get(name)
            if predicate(entity):
                return entity
            if self.clock() >= deadline:
                raise ApiError("API provider '%s': the API portal still answers reads from before the change after %d s (%s); "
                               "rerun later or raise read_timeout" % (name, self.read_timeout, what))
            self.sleep(delay)
            delay = min(2.0, delay * 1.5)


def check_target(module, provider, cpi_creds, http=None):
    """A read on the provider's target (``https://host:port<pathPrefix>/``) with the Cloud Integration key it uses.

    Returns a dict (status, url, credentials_match); raises ApiError when the target does not answer 200.
    """
    http = http or module.http()
    auth = "basic" if provider.get("authType") == AUTH_TYPES["basic"] else "oauth2_client_credentials"
    match = additional(provider).get(FINGERPRINT_PROPERTY) == credential_fingerprint(auth, cpi_creds)
    scheme = "https" if provider.get("useSSL", True) else "http"
    port = provider.get("port")
    netloc = provider["host"] if port in (None, 443 if scheme == "https" else 80) else "%s:%s" % (provider["host"], port)
    url = "%s://%s%s/" % (scheme, netloc, (provider.get("pathPrefix") or "").rstrip("/"))
    if auth == "basic":
        headers = {"Authorization": _oauth.basic_header(cpi_creds["clientid"], cpi_creds["clientsecret"])[0], "Accept": "application/json"}
    else:
        token, dummy = _oauth.bearer_token(module, cpi_creds, http=http)
        headers = {"Authorization": "Bearer " + token, "Accept": "application/json"}
    response = http.request("GET", url, context="Reading the target of API provider '%s'" % provider.get("name"), headers=headers)
    if response.status_code != 200:
        raise ApiError("the target of API provider '%s' (%s) answered HTTP %s with the Cloud Integration key%s" % (
            provider.get("name"), safe_url(url), response.status_code,
            "" if match else " (the provider holds other credentials than this key)"), status=response.status_code)
    return {"status": response.status_code, "url": safe_url(url), "credentials_match": match}


# ---------------------------------------------------------------------------------------------------------------
# present / absent

class ProviderManager:
    """Ensure one API provider."""

    def __init__(self, module, client):
        self.module = module
        self.client = client
        self.check_mode = module.check_mode
        self.steps = []

    def _await(self, name, entity):
        fp = additional(entity).get(FINGERPRINT_PROPERTY)
        return self.client.wait_read(name, lambda found: found is not None and additional(found).get(FINGERPRINT_PROPERTY) == fp,
                                     "waiting for the created provider")

    def _await_gone(self, name):
        self.client.wait_read(name, lambda found: found is None, "waiting for the deleted provider to disappear")

    def _create_visible(self, entity):
        """Create (or find already created) and wait until reads show this definition."""
        created = self.client.create(entity)
        self.steps.append("create %s" % entity["name"] if created else "found %s already created" % entity["name"])
        if not created:
            current = self.client.wait_read(entity["name"], lambda found: found is not None, "waiting for the existing provider")
            if differences(current, entity):
                raise ApiError("API provider '%s' exists with another definition although reads did not show it; rerun the task"
                               % entity["name"])
            return current
        return self._await(entity["name"], entity)

    def present(self, desired, update_mode="replace"):
        name = desired["name"]
        staging = name + STAGING_SUFFIX
        current = self.client.get(name)
        leftover = self.client.get(staging)
        result = {"changed": False, "replaced": False, "name": name}
        if current is None:
            if not self.check_mode:
                self._create_visible(desired)
                if leftover is not None:
                    self.client.delete(staging)
                    self.steps.append("delete %s" % staging)
                    self._await_gone(staging)
            result.update(changed=True, action="create", diff={"before": {"state": "absent"}, "after": _diff_view(desired)})
            return result
        names = differences(current, desired)
        if not names:
            if leftover is not None and not self.check_mode:
                self.client.delete(staging)
                self.steps.append("delete %s" % staging)
                self._await_gone(staging)
                result["changed"] = True
            result.update(action="none", changed_fields=[])
            return result
        result.update(changed=True, changed_fields=names, diff={"before": _diff_view(current), "after": _diff_view(desired)})
        if update_mode == "in_place":
            result["action"] = "update"
            if not self.check_mode:
                self.client.update(desired)
                self.steps.append("update %s" % name)
                self._await(name, desired)
            return result
        result.update(action="replace", replaced=True)
        if self.check_mode:
            return result
        staged = dict(desired, name=staging)
        if leftover is not None:
            self.client.delete(staging)
            self.steps.append("delete %s" % staging)
        if not self.client.create(staged):
            raise ApiError("API provider '%s' (the staging name of a replace) exists and could not be replaced; delete it" % staging)
        self.steps.append("create %s" % staging)
        self.client.delete(name)
        self.steps.append("delete %s" % name)
        try:
            self._create_visible(desired)
        except ApiError as exc:
            raise ApiError("API provider '%s' was deleted for the replace but creating it again failed: %s. The new definition is kept "
                           "as '%s'; rerun the task to finish the replace" % (name, exc, staging), status=exc.status) from None
        self.client.delete(staging)
        self.steps.append("delete %s" % staging)
        self._await_gone(staging)
        return result

    def absent(self, name):
        staging = name + STAGING_SUFFIX
        current = self.client.get(name)
        leftover = self.client.get(staging)
        result = {"changed": current is not None or leftover is not None, "name": name, "action": "none", "replaced": False}
        if current is not None:
            result.update(action="delete", diff={"before": _diff_view(current), "after": {"state": "absent"}})
        if self.check_mode:
            return result
        for target in ((name,) if current is not None else ()) + ((staging,) if leftover is not None else ()):
            if self.client.delete(target):
                self.steps.append("delete %s" % target)
            self._await_gone(target)
        return result


def _diff_view(entity):
    view = public_view(entity)
    view.pop("additional_properties", None)
    view["state"] = "present"
    return view
