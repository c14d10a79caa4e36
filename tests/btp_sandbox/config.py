"""Sandbox configuration: dataclasses, profiles and YAML/JSON overrides.

Every fact that the reference marks as unconfirmed is a setting here, with the documented default.
"""

import dataclasses
import json
import os
import uuid
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import yaml

# The 41 role templates of the it-rt `api` plan (broker enum, sap-cloud-integration.md section 1.3).
API_ROLES = (
    "AccessAllAccessPoliciesArtifacts", "AccessPoliciesEdit", "AccessPoliciesRead", "AuthGroup_Administrator",
    "AuthGroup_BusinessExpert", "AuthGroup_ContentPublisher", "AuthGroup_IntegrationDeveloper", "AuthGroup_ReadOnly",
    "AuthGroup_TenantPartnerDirectoryConfigurator", "CatalogPackageArtifactsRead", "CatalogPackagesCopy",
    "CatalogPackagesRead", "CredentialsEdit", "CredentialsRead", "DataArchivingActivate", "DataArchivingRead",
    "DataStorePayloadsRead", "DataStoresAndQueuesConfig", "DataStoresAndQueuesDelete", "DataStoresAndQueuesRead",
    "ExternalLoggingActivate", "ExternalLoggingActivationRead", "HealthCheckMonitoringDataRead", "MessagePayloadsRead",
    "MessageProcessingLocksDelete", "MessageProcessingLocksRead", "MonitoringArtifactsDeploy", "MonitoringDataRead",
    "QueuesActivate", "QueuesRetry", "SecurityMaterialDownload", "SecurityMaterialEdit", "TraceConfigurationEdit",
    "TraceConfigurationRead", "WorkspaceArtifactLocksDelete", "WorkspaceArtifactLocksRead", "WorkspaceArtifactsDeploy",
    "WorkspacePackagesConfigure", "WorkspacePackagesEdit", "WorkspacePackagesRead", "WorkspacePackagesTransport",
)

# Role templates listed by the 2026 docs only; whether the broker accepts them is unconfirmed.
API_ROLES_2026 = (
    "UserRolesEdit", "IntegrationCellOperationCockpitRead", "IntegrationCellOperationCockpitWrite",
    "WorkspaceDesignGuidelinesConfigure",
)

GRANT_TYPES = (
    "authorization_code", "client_credentials", "password", "refresh_token",
    "urn:ietf:params:oauth:grant-type:saml2-bearer", "urn:ietf:params:oauth:grant-type:jwt-bearer",
)

NAMESPACE = uuid.UUID("6f1c7c1e-5d43-4a8e-9b5c-0c1d2e3f4a5b")


def stable_guid(*parts):
    """A GUID derived from names, so that restarts keep the same GUIDs for orgs, spaces, plans."""
    return str(uuid.uuid5(NAMESPACE, "/".join(parts)))


@dataclass
class Tenant:
    """One Cloud Integration tenant (subaccount). URLs are filled by the server at start."""
    name: str
    subdomain: str
    org: str
    space: str
    region: str = "eu10"
    subaccount_id: str = ""
    zone_id: str = ""
    xsappname_api: str = "it!b196"
    xsappname_rt: str = ""
    xsappname_apiportal: str = "apiportal-apiaccess!b2458"   # unconfirmed: xsappname of the API portal access client
    apiportal_url: str = ""
    apiportal_base: str = ""
    token_url: str = ""
    cert_token_url: str = ""
    api_url: str = ""
    runtime_url: str = ""
    token_base: str = ""
    cert_token_base: str = ""
    api_base: str = ""
    runtime_base: str = ""
    ports: Dict[str, int] = field(default_factory=dict)

    def __post_init__(self):
        if not self.subaccount_id:
            self.subaccount_id = stable_guid("subaccount", self.name)
        if not self.zone_id:
            self.zone_id = self.subaccount_id
        if not self.xsappname_rt:
            self.xsappname_rt = "it-rt-%s!b196" % self.subdomain


@dataclass
class ProfileConfig:
    """Timing of asynchronous broker operations and per-request latency."""
    name: str = "fast"
    provisioning_s: float = 0.2      # instance create / update
    deprovisioning_s: float = 0.2    # instance delete
    key_s: float = 0.2               # key create / delete
    polling_fraction: float = 0.3    # share of the duration spent in PROCESSING before POLLING
    latency_ms: float = 0.0          # added to every counted request
    deploy_s: float = 0.3            # build + start of an iFlow deployment (half build, half start)
    apiportal_read_cache_s: Optional[float] = None  # overrides apiportal.read_cache_s (fast: short but present)


PROFILES = {
    "fast": {"name": "fast", "provisioning_s": 0.2, "deprovisioning_s": 0.2, "key_s": 0.2, "latency_ms": 0.0,
             "apiportal_read_cache_s": 1.0},
    "realistic": {"name": "realistic", "provisioning_s": 2.0, "deprovisioning_s": 1.0, "key_s": 1.0, "latency_ms": 30.0,
                  "deploy_s": 4.0},
}


@dataclass
class CfClient:
    client_id: str
    secret: str = ""
    grant_types: List[str] = field(default_factory=lambda: ["client_credentials"])
    authorities: List[str] = field(default_factory=lambda: ["cloud_controller.read", "cloud_controller.write"])


@dataclass
class CfConfig:
    """Cloud Controller v3 + UAA."""
    username: str = "sandbox-admin@example.com"
    password: str = "Sandbox-Passw0rd!"
    access_token_validity_s: int = 1200
    refresh_token_validity_s: int = 2592000
    clients: List[CfClient] = field(default_factory=lambda: [
        CfClient("cf", "", ["password", "refresh_token"], []),
        CfClient("sandbox-ci", "sandbox-ci-secret", ["client_credentials"]),
    ])
    # unconfirmed: UAA error for a wrong user password / bad client (provisioning-apis.md A1)
    bad_credentials_error: str = "unauthorized"
    bad_credentials_description: str = "Bad credentials"
    bad_password_description: str = "Bad credentials"
    default_per_page: int = 50
    max_per_page: int = 5000
    # observed on real SAP BTP CF (issue 13): the v3 version is a 3.18x-3.19x number
    api_version: str = "3.194.0"
    # observed (issue 13): the scopes of an ordinary SAP BTP user in the password / refresh grant of client `cf`
    user_scopes: List[str] = field(default_factory=lambda: [
        "openid", "uaa.user", "cloud_controller.read", "password.write", "cloud_controller.write"])
    # observed (issue 13): X-Ratelimit-* on every Cloud Controller answer; the limit and window are unconfirmed
    # (Cloud Controller's own rate limiter: requests per identity and window). Not enforced by default, so that long
    # test sessions never meet it; `rate_limit` faults emulate 429s, `rate_limit_enforced: true` answers 429
    # CF-RateLimitExceeded when an identity has used up its window.
    rate_limit: int = 20000
    rate_limit_window_s: int = 3600
    rate_limit_enforced: bool = False
    # observed (issue 13): no charset on 202 answers with an empty body; whether the header is absent or bare is
    # unconfirmed ("" = no Content-Type header)
    empty_body_content_type: str = ""


@dataclass
class BrokerConfig:
    """it-rt broker behaviour. Defaults follow the reference; unconfirmed facts are settings."""
    instances_retrievable: bool = False           # unconfirmed (provisioning-apis.md A6)
    bindings_retrievable: bool = False            # unconfirmed
    keys_share_clientid: bool = True              # unconfirmed (sap-cloud-integration.md 3.4)
    cert_key_tokenurl_on_cert_host: bool = True   # unconfirmed (3.2)
    include_createdate: bool = True               # unconfirmed (3.1)
    certificatedetails_in_oauth: bool = True      # unconfirmed: position of certificatedetails (3.2)
    accept_2026_api_roles: bool = False           # unconfirmed (1.3)
    default_certificate_validity_days: int = 365  # unconfirmed (2)
    allowed_key_lengths: List[int] = field(default_factory=lambda: [2048, 3072, 4096])  # unconfirmed beyond 2048
    explicit_secret_key_types: List[str] = field(default_factory=list)  # unconfirmed: key-type value for secret keys
    pin_certificate_parameter: str = "certificate-pinning"  # unconfirmed name (2)
    strict_key_parameters: bool = True            # reject unknown key parameters
    update_parameters_mode: str = "replace"       # replace | merge (how PATCH parameters combine), unconfirmed
    clone_suffix: str = "!b137126"
    xsappname_suffix: str = "!b196"
    # unconfirmed: the name of the it-rt broker behind SAP's Service Manager, as failure texts name it
    # ("Service broker error: Service broker <name> failed with: <text>", observed, issue 13)
    it_rt_broker_name: str = "it-rt-broker"
    # unconfirmed values; observed (issue 13): offering tags are non-empty lists
    it_rt_tags: List[str] = field(default_factory=lambda: ["integration", "it-rt"])


@dataclass
class XsuaaConfig:
    """Per-tenant XSUAA token server (used by xsuaa.py)."""
    rate_limit_per_s: float = 60.0
    bad_credentials_error: str = "unauthorized"   # unconfirmed (4.4)
    bad_credentials_description: str = "Bad credentials"
    allow_get: bool = False                       # unconfirmed (4.1)
    extra_scopes: List[str] = field(default_factory=list)  # unconfirmed, e.g. ["uaa.resource"]
    # added for xsuaa.py (helper B): further unconfirmed facts of section 4.4
    retry_after_s: int = 1
    missing_grant_status: int = 400               # unconfirmed, likely 400
    unsupported_grant_status: int = 400           # unconfirmed
    unauthorized_grant_status: int = 401          # unconfirmed (Spring/UAA heritage)
    unauthorized_grant_error: str = "invalid_client"
    reject_cert_keys_on_secret_host: bool = True  # unconfirmed for it-rt (C2)
    unsupported_credential_status: int = 401
    unsupported_credential_description: str = "Unsupported instance credential for %s"


@dataclass
class RuntimeConfig:
    """Cloud Integration runtime (used by runtime.py / content.py)."""
    case_sensitive_paths: bool = False            # unconfirmed (5.1)
    mpl_complete_delay_s: float = 0.2
    iflows: List[Dict[str, Any]] = field(default_factory=list)   # extra iFlows on top of the default content
    history_mpls: int = 3000
    history_days: int = 7
    # added for runtime.py (helper B): unconfirmed statuses of section 5.2 / 5.4
    unauthenticated_status: int = 401
    missing_role_status: int = 403
    api_token_status: int = 403                   # api-plan token/key on the runtime, unconfirmed (401 or 403)
    tail_log_line: bool = True                    # second line "For more details please check tail log."
    # added for issue 18 (integration artifacts)
    unavailable_status: int = 503                 # iFlow whose deployment failed or is starting (issue 18 brief)


@dataclass
class ODataConfig:
    """Cloud Integration OData API v1 (used by odata.py)."""
    page_cap: int = 1000
    # added for odata.py (helper B)
    bearer_writes_require_csrf: bool = False      # unconfirmed (6.5); field reports say not required
    wrong_plan_status: int = 403                  # integration-flow token on the API, unconfirmed
    # added for issue 18 (integration artifacts); the roles are unconfirmed apart from the two the reference names
    service_endpoints_role: str = "MonitoringDataRead"   # unconfirmed role of GET ServiceEndpoints
    deploy_role: str = "WorkspaceArtifactsDeploy"        # integration-suite-apis.md, roles table
    deploy_status_role: str = "WorkspaceArtifactsDeploy"  # unconfirmed role of GET BuildAndDeployStatus
    service_endpoint_protocols: Dict[str, str] = field(default_factory=lambda: {"http": "REST", "cxf": "SOAP"})  # unconfirmed

    security_material_update_status: int = 202    # PUT UserCredentials('<n>') / OAuth2ClientCredentials, unconfirmed
    security_material_delete_status: int = 200    # unconfirmed
    security_material_conflict_status: int = 409  # POST of an existing name, unconfirmed


@dataclass
class ApiPortalConfig:
    """API Management API portal (``/apiportal/api/1.0/Management.svc``, used by apiportal.py) and its
    ``apimanagement-apiportal`` offering. Sources: integration-suite-apis.md, "API Management: API providers"."""
    # Piper sends no CSRF token on APIM calls (JL pkg/apim/APIMUtility.go): not required unless set
    csrf_required: bool = False
    # "Reads are cached for about 20 s after a write" (PTF docs/guides/classic-api-management.md); the fast
    # profile shortens it (PROFILES) but keeps it
    read_cache_s: float = 20.0
    # unconfirmed: whether PUT/MERGE APIProviders('<name>') updates in place; conservative default: no
    update_in_place: bool = False
    update_rejected_status: int = 405             # unconfirmed: the answer to PUT/MERGE when not supported
    # unconfirmed: whether clientSecret/password come back on read; conservative default: no
    secrets_returned_on_read: bool = False
    duplicate_status: int = 409                   # unconfirmed: POST of an existing name
    # unconfirmed literals; PTF confirms only destType INTERNET and authType BASIC
    dest_types: List[str] = field(default_factory=lambda: ["INTERNET", "ON_PREMISE"])
    auth_types: List[str] = field(default_factory=lambda: ["NONE", "BASIC", "OAuth2ClientCredentials"])
    roles: List[str] = field(default_factory=lambda: [
        "APIPortal.Administrator", "APIPortal.Guest", "APIManagement.SelfService.Administrator"])
    write_roles: List[str] = field(default_factory=lambda: ["APIPortal.Administrator", "APIManagement.SelfService.Administrator"])
    unauthenticated_status: int = 401
    missing_role_status: int = 403
    x509_key_parameter: str = "credential-type"   # unconfirmed: key parameter {"credential-type": "x509"} for x509 keys


@dataclass
class DestinationConfig:
    """BTP Destination service (used by destination.py). Texts and rules not in a public source are unconfirmed."""
    not_found_message: str = "Configuration with the specified name was not found"       # unconfirmed wording
    conflict_message: str = "Configuration with the same name already exists"            # unconfirmed wording
    name_pattern: str = r"^[A-Za-z0-9_-]{1,200}$"    # unconfirmed: letters, digits, '-' and '_' (cockpit rule)
    invalid_name_message: str = "Invalid destination name '%s': use letters, digits, '-' and '_' (at most 200)"
    certificate_name_pattern: str = r"^[A-Za-z0-9_.-]{1,200}$"                        # unconfirmed
    types: List[str] = field(default_factory=lambda: ["HTTP", "RFC", "MAIL", "LDAP", "TCP"])
    token_client_auth: str = "body"                  # unconfirmed: how the service sends clientId/clientSecret
    token_error_text: str = "Retrieval of OAuthToken failed due to: %s"                  # unconfirmed wording
    expires_in_field: str = "expires_in"             # unconfirmed: cloud-sdk-js types name it expiresIn


@dataclass
class FaultRuleConfig:
    route: str = "*"
    kind: str = "status"
    status: Optional[int] = None
    probability: Optional[float] = None
    count: Optional[int] = None
    delay_s: float = 0.0
    body: Any = None
    headers: Dict[str, str] = field(default_factory=dict)
    message: str = ""
    operation: str = "*"
    mode: str = "async"
    limit: int = 0
    window_s: float = 1.0
    retry_after_s: Optional[int] = None
    regex: bool = False


@dataclass
class SandboxConfig:
    profile: ProfileConfig = field(default_factory=ProfileConfig)
    tenants: List[Tenant] = field(default_factory=lambda: [
        Tenant(name="acme", subdomain="acme-dev", org="acme-org", space="dev"),
        Tenant(name="globex", subdomain="globex-prod", org="globex-org", space="prod"),
    ])
    cf: CfConfig = field(default_factory=CfConfig)
    broker: BrokerConfig = field(default_factory=BrokerConfig)
    xsuaa: XsuaaConfig = field(default_factory=XsuaaConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    odata: ODataConfig = field(default_factory=ODataConfig)
    apiportal: ApiPortalConfig = field(default_factory=ApiPortalConfig)
    destination: DestinationConfig = field(default_factory=DestinationConfig)
    faults: List[FaultRuleConfig] = field(default_factory=list)
    # fixed ports by listener name ("cf", "uaa", "admin", "<tenant>/token", "<tenant>/cert-token",
    # "<tenant>/api", "<tenant>/runtime", "<tenant>/apiportal"); 0 or missing = a free port
    ports: Dict[str, int] = field(default_factory=dict)
    host: str = "127.0.0.1"
    admin_tls: bool = True
    trust_ca_files: List[str] = field(default_factory=list)  # PEM CA files trusted for external certificates
    persistence_file: str = ""                               # JSON file; empty = in-memory only
    pki_cache_dir: Optional[str] = None                      # None = default cache dir, "" = no caching
    work_dir: str = ""                                       # where ca_bundle etc. go; empty = a temp dir
    seed_instances: List[Dict[str, Any]] = field(default_factory=list)


def _build(cls, data, path):
    """Build dataclass `cls` from a dict, rejecting unknown keys (typos) with a helpful path."""
    if isinstance(data, cls):
        return data
    if not isinstance(data, dict):
        raise ValueError("%s: expected a mapping, got %r" % (path, data))
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValueError("%s: unknown setting(s) %s; valid: %s" % (path, ", ".join(unknown), ", ".join(sorted(fields))))
    kwargs = {}
    for key, value in data.items():
        sub = _NESTED.get((cls, key))
        if sub is not None and value is not None:
            if isinstance(value, list):
                value = [_build(sub, item, "%s.%s[%d]" % (path, key, i)) for i, item in enumerate(value)]
            else:
                value = _build(sub, value, "%s.%s" % (path, key))
        kwargs[key] = value
    return cls(**kwargs)


_NESTED = {
    (SandboxConfig, "profile"): ProfileConfig,
    (SandboxConfig, "tenants"): Tenant,
    (SandboxConfig, "cf"): CfConfig,
    (SandboxConfig, "broker"): BrokerConfig,
    (SandboxConfig, "xsuaa"): XsuaaConfig,
    (SandboxConfig, "runtime"): RuntimeConfig,
    (SandboxConfig, "odata"): ODataConfig,
    (SandboxConfig, "apiportal"): ApiPortalConfig,
    (SandboxConfig, "destination"): DestinationConfig,
    (SandboxConfig, "faults"): FaultRuleConfig,
    (CfConfig, "clients"): CfClient,
}


def _merge(base, override):
    """Deep-merge plain dicts (lists are replaced)."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def config_to_dict(config):
    return dataclasses.asdict(config)


def load_config(path=None, profile=None, overrides=None):
    """Build a SandboxConfig.

    Order: dataclass defaults < profile (`fast` default) < file (YAML or JSON) < `overrides` dict.
    A `profile` key in the file or overrides may be a profile name or a mapping of ProfileConfig fields.
    """
    data = {}
    if path:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        loaded = json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
        data = _merge(data, loaded or {})
    if overrides:
        data = _merge(data, overrides)
    file_profile = data.pop("profile", None)
    profile_name = profile or (file_profile if isinstance(file_profile, str) else None)
    if isinstance(file_profile, dict):
        profile_name = profile or file_profile.get("name") or "fast"
    profile_name = profile_name or "fast"
    if profile_name not in PROFILES:
        raise ValueError("unknown profile %r; valid: %s" % (profile_name, ", ".join(sorted(PROFILES))))
    profile_data = dict(PROFILES[profile_name])
    if isinstance(file_profile, dict):
        profile_data.update({k: v for k, v in file_profile.items() if k != "name"})
    data["profile"] = profile_data
    config = _build(SandboxConfig, data, "config")
    names = [t.name for t in config.tenants]
    if len(set(names)) != len(names):
        raise ValueError("config.tenants: tenant names must be unique")
    if config.broker.update_parameters_mode not in ("replace", "merge"):
        raise ValueError("config.broker.update_parameters_mode must be 'replace' or 'merge'")
    for ca_file in config.trust_ca_files:
        if not os.path.isfile(ca_file):
            raise ValueError("config.trust_ca_files: %s does not exist" % ca_file)
    return config
