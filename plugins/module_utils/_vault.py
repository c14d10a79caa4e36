# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. KV v2 secrets on HashiCorp Vault or OpenBao, through hvac.

Used by the credentials_store module (write, delete) and the credentials lookup (read). Authentication by
token or AppRole; URL, token and namespace fall back to VAULT_ADDR / VAULT_TOKEN / VAULT_NAMESPACE (and the
BAO_* names of OpenBao). Every hvac or connection error becomes an ApiError whose message says what to do:
a sealed vault, an unreachable address, a rejected token, a missing mount, a permission or CAS problem.

Writes read the current version first (idempotency, CAS check, merge of foreign keys), so the token needs
read as well as create/update on the path.
"""

from __future__ import annotations

from ansible.module_utils.basic import env_fallback

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._deps import hvac_lib, requests_lib
from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._errors import ApiError, ParameterError, safe_url

AUTH_METHODS = ("token", "approle")
DEFAULT_MOUNT = "secret"
DEFAULT_APPROLE_MOUNT = "approle"
URL_ENV = ("VAULT_ADDR", "BAO_ADDR")
TOKEN_ENV = ("VAULT_TOKEN", "BAO_TOKEN")
NAMESPACE_ENV = ("VAULT_NAMESPACE", "BAO_NAMESPACE")
# the fields a service key owns inside a KV secret; other keys of the secret are kept unless replace=true
OWNED_FIELDS = ("clientid", "clientsecret", "certificate", "key", "url", "tokenurl", "createdate", "certificatedetails")
# the flat fields of an API portal (apiportal-apiaccess) key, stored as SAP names them
APIPORTAL_OWNED_FIELDS = ("clientId", "clientSecret", "certificate", "privateKey", "url", "tokenUrl", "certurl")


def vault_argument_spec():
    """Connection and authentication options (documented in the hashicorp_vault doc fragment)."""
    return dict(
        url=dict(type="str", fallback=(env_fallback, list(URL_ENV))),
        auth_method=dict(type="str", default="token", choices=list(AUTH_METHODS)),
        token=dict(type="str", no_log=True, fallback=(env_fallback, list(TOKEN_ENV))),
        role_id=dict(type="str"),
        secret_id=dict(type="str", no_log=True),
        approle_mount=dict(type="str", default=DEFAULT_APPROLE_MOUNT),
        mount=dict(type="str", default=DEFAULT_MOUNT),
        namespace=dict(type="str", fallback=(env_fallback, list(NAMESPACE_ENV))),
    )


def secret_path(path):
    """A KV path without leading/trailing slashes; ParameterError when empty."""
    cleaned = (path or "").strip().strip("/")
    if not cleaned:
        raise ParameterError("path", "the secret path inside the KV mount is required")
    return cleaned


def plan_write(current, fields, replace=False):
    """The data to write: the key's fields plus, unless replace, the existing keys that are not key fields."""
    desired = {}
    if not replace:
        desired.update((name, value) for name, value in (current or {}).items()
                       if name not in OWNED_FIELDS and name not in APIPORTAL_OWNED_FIELDS)
    desired.update(fields)
    return desired


class KvState:
    """What is stored at a path: data of the latest version (None when absent or deleted) and version numbers."""

    def __init__(self, data=None, version=0, deleted=False, exists=False):
        self.data = data
        self.version = version
        self.deleted = deleted
        self.exists = exists


class KvStore:
    """One KV v2 mount on one Vault/OpenBao server, authenticated lazily on first use."""

    def __init__(self, url, auth_method="token", token=None, role_id=None, secret_id=None, approle_mount=DEFAULT_APPROLE_MOUNT,
                 mount=DEFAULT_MOUNT, namespace=None, validate_certs=True, ca_path=None, timeout=30, redactor=None, client_factory=None):
        if not url:
            raise ParameterError("url", "the address of the vault is required: set url or the VAULT_ADDR environment variable")
        if auth_method not in AUTH_METHODS:
            raise ParameterError("auth_method", "expected one of %s" % ", ".join(AUTH_METHODS))
        if auth_method == "token" and not token:
            raise ParameterError("token", "a vault token is required with auth_method 'token': set token or VAULT_TOKEN")
        if auth_method == "approle" and not (role_id and secret_id):
            raise ParameterError("role_id", "auth_method 'approle' needs role_id and secret_id")
        self.url = url.rstrip("/")
        self.auth_method = auth_method
        self.token = token
        self.role_id = role_id
        self.secret_id = secret_id
        self.approle_mount = approle_mount or DEFAULT_APPROLE_MOUNT
        self.mount = (mount or DEFAULT_MOUNT).strip("/")
        self.namespace = namespace or None
        self.verify = (ca_path or True) if validate_certs else False
        self.timeout = timeout or 30
        self.redactor = redactor
        self._client_factory = client_factory
        self._client = None
        if redactor is not None:
            redactor.add(*(value for value in (token, secret_id) if value))

    @classmethod
    def from_params(cls, params, redactor=None):
        return cls(
            params.get("url"), auth_method=params.get("auth_method") or "token", token=params.get("token"), role_id=params.get("role_id"),
            secret_id=params.get("secret_id"), approle_mount=params.get("approle_mount"), mount=params.get("mount"),
            namespace=params.get("namespace"), validate_certs=params.get("validate_certs", True), ca_path=params.get("ca_path"),
            timeout=params.get("timeout"), redactor=redactor,
        )

    # -- errors ----------------------------------------------------------------------------------------
    def _where(self, path=None):
        where = "%s/%s" % (self.mount, path) if path else self.mount
        return "'%s' on %s%s" % (where, safe_url(self.url), " (namespace %s)" % self.namespace if self.namespace else "")

    def _scrub(self, text):
        text = str(text)
        return self.redactor.scrub(text) if self.redactor is not None else text

    def _translate(self, exc, action, path=None):
        """Turn an hvac or requests exception into an ApiError with an actionable message."""
        hvac = hvac_lib()
        errors = hvac.exceptions
        requests_exceptions = requests_lib().exceptions
        where = self._where(path)
        detail = self._scrub(exc).split(", on ")[0]
        if isinstance(exc, errors.VaultDown):
            return ApiError("%s failed: the vault at %s is sealed or unavailable (HTTP 503). Unseal it, or point url at an active node."
                            % (action, safe_url(self.url)), status=503)
        if isinstance(exc, requests_exceptions.SSLError):
            return ApiError("%s failed: TLS error talking to %s: %s. Set ca_path to the CA of the vault, or validate_certs false for tests."
                            % (action, safe_url(self.url), self._scrub(exc)))
        if isinstance(exc, (requests_exceptions.ConnectionError, requests_exceptions.Timeout)):
            return ApiError("%s failed: cannot reach the vault at %s (%s). Check url (or VAULT_ADDR) and that the server is running."
                            % (action, safe_url(self.url), type(exc).__name__))
        if isinstance(exc, errors.Unauthorized):
            return ApiError("%s failed: the vault rejected the credentials (HTTP 401): %s" % (action, detail), status=401)
        if isinstance(exc, errors.Forbidden):
            return ApiError(
                "%s failed: permission denied for %s (HTTP 403). The token may be invalid or expired, or its policy lacks a capability: "
                "credentials_store needs read plus create/update (and delete for state absent) on %s/data/%s and, for destroy, %s/metadata/%s."
                % (action, where, self.mount, path or "<path>", self.mount, path or "<path>"), status=403)
        if isinstance(exc, errors.InvalidRequest) and "check-and-set" in detail:
            return ApiError("%s failed: check-and-set (cas) mismatch for %s: %s" % (action, where, detail), status=400, code="cas_mismatch")
        if isinstance(exc, errors.InvalidPath) and "no handler for route" in detail:
            return ApiError("%s failed: there is no secrets engine mounted at '%s' on %s; check mount (it must be a KV version 2 engine)"
                            % (action, self.mount, safe_url(self.url)), status=404)
        if isinstance(exc, errors.VaultError):
            return ApiError("%s failed for %s: %s" % (action, where, detail or type(exc).__name__))
        return ApiError("%s failed for %s: %s" % (action, where, self._scrub(exc)))

    def _call(self, action, where, func, *args, **kwargs):
        errors = hvac_lib().exceptions
        requests_exceptions = requests_lib().exceptions
        try:
            return func(*args, **kwargs)
        except (errors.VaultError, requests_exceptions.RequestException) as exc:
            raise self._translate(exc, action, where) from None

    # -- client ----------------------------------------------------------------------------------------
    @property
    def client(self):
        if self._client is None:
            hvac = hvac_lib().hvac
            factory = self._client_factory or hvac.Client
            client = factory(url=self.url, token=self.token if self.auth_method == "token" else None, namespace=self.namespace,
                             verify=self.verify, timeout=self.timeout)
            if self.auth_method == "approle":
                result = self._call("AppRole login", None, client.auth.approle.login, role_id=self.role_id, secret_id=self.secret_id,
                                    mount_point=self.approle_mount)
                token = ((result or {}).get("auth") or {}).get("client_token")
                if not token:
                    raise ApiError("AppRole login at %s returned no client token" % safe_url(self.url))
                if self.redactor is not None:
                    self.redactor.add(token)
                client.token = token
            self._client = client
        return self._client

    @property
    def kv(self):
        return self.client.secrets.kv.v2

    # -- operations ------------------------------------------------------------------------------------
    def read(self, path):
        """The latest version at path as a KvState (data None when there is no secret or its latest version is deleted)."""
        path = secret_path(path)
        errors = hvac_lib().exceptions
        requests_exceptions = requests_lib().exceptions
        try:
            response = self.kv.read_secret_version(path=path, mount_point=self.mount, raise_on_deleted_version=False)
        except errors.InvalidPath as exc:
            if "no handler for route" in str(exc):
                raise self._translate(exc, "Reading the secret", path) from None
            return KvState()
        except (errors.VaultError, requests_exceptions.RequestException) as exc:
            raise self._translate(exc, "Reading the secret", path) from None
        body = (response or {}).get("data") or {}
        metadata = body.get("metadata") or {}
        version = metadata.get("version") or 0
        deleted = bool(metadata.get("deletion_time")) or bool(metadata.get("destroyed"))
        data = body.get("data")
        return KvState(data=None if deleted else (data or {}), version=version, deleted=deleted, exists=True)

    def write(self, path, data, cas=None):
        """Write a new version; returns its number. cas is passed to the server (0 = only if absent)."""
        path = secret_path(path)
        kwargs = {"path": path, "secret": data, "mount_point": self.mount}
        if cas is not None:
            kwargs["cas"] = cas
        response = self._call("Writing the secret", path, self.kv.create_or_update_secret, **kwargs)
        return ((response or {}).get("data") or {}).get("version")

    def delete_latest(self, path):
        path = secret_path(path)
        self._call("Deleting the latest version of the secret", path, self.kv.delete_latest_version_of_secret, path=path, mount_point=self.mount)

    def destroy(self, path):
        path = secret_path(path)
        self._call("Destroying all versions of the secret", path, self.kv.delete_metadata_and_all_versions, path=path, mount_point=self.mount)
