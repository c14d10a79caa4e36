# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. The it-rt (Process Integration Runtime) broker schema.

Instance parameters and key parameters are validated here, before any HTTP request, against SAP's
documented broker schema (JSON Schema draft-07, ``additionalProperties: false``). Every error is a
ParameterError that names the module option and the bad value.
"""

from __future__ import annotations

import difflib
import json

from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._errors import ParameterError

OFFERING = "it-rt"
APIPORTAL_OFFERING = "apimanagement-apiportal"   # API Management API portal access (_api_portal.py)
PLAN_API = "api"
PLAN_IFLOW = "integration-flow"
PLANS = (PLAN_API, PLAN_IFLOW)

# The 41 role templates the broker accepts for plan 'api' (exact spelling).
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
# Role templates that newer SAP documentation lists; whether the broker accepts them is not confirmed.
API_ROLES_UNCONFIRMED = (
    "IntegrationCellOperationCockpitRead", "IntegrationCellOperationCockpitWrite", "UserRolesEdit",
    "WorkspaceDesignGuidelinesConfigure",
)
GRANT_TYPES = (
    "authorization_code", "client_credentials", "password", "refresh_token",
    "urn:ietf:params:oauth:grant-type:saml2-bearer", "urn:ietf:params:oauth:grant-type:jwt-bearer",
)
DEPRECATED_GRANT_TYPES = ("client_x509",)
TOKEN_VALIDITY_MIN = 3600
TOKEN_VALIDITY_MAX = 86400
DEFAULT_IFLOW_ROLE = "ESBMessaging.send"
PLAN_DEFAULTS = {
    PLAN_API: {"grant-types": ["client_credentials"], "redirect-uris": [], "token-validity": 43200},
    PLAN_IFLOW: {"roles": [DEFAULT_IFLOW_ROLE], "grant-types": ["client_credentials"], "redirect-uris": [], "token-validity": 3600},
}
# module option -> broker parameter
TYPED_OPTIONS = (("roles", "roles"), ("grant_types", "grant-types"), ("redirect_uris", "redirect-uris"), ("token_validity", "token-validity"))
BROKER_KEYS = tuple(key for dummy, key in TYPED_OPTIONS)
LIST_KEYS = ("roles", "grant-types", "redirect-uris")

KEY_TYPES = ("client_secret", "certificate", "external_certificate")
KEY_TYPE_PARAMETER = {"certificate": "certificate", "external_certificate": "certificate_external"}
KEY_LENGTHS = (2048, 3072, 4096)
VALIDITY_DAYS_MIN = 1
VALIDITY_DAYS_MAX = 365
MAX_KEY_NAME_LENGTH = 32
MAX_INSTANCE_NAME_LENGTH = 32
CLI_FRIENDLY = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")


def _sentence(text):
    """text ending in one full stop (a question such as "did you mean 'X'?" keeps its question mark)."""
    return text if text.endswith(("?", ".")) else text + "."


def _suggest(value, choices):
    if not isinstance(value, str):
        return ""
    lowered = {choice.lower(): choice for choice in choices}
    candidate = value.replace(".", "_") if value.startswith("AuthGroup.") else value
    if candidate.lower() in lowered:
        return "; did you mean '%s'?" % lowered[candidate.lower()]
    close = difflib.get_close_matches(candidate, choices, n=1, cutoff=0.75)
    return "; did you mean '%s'?" % close[0] if close else ""


def _string_list(option, value, allow_empty_items=False):
    if not isinstance(value, list):
        raise ParameterError(option, "must be a list of strings, got %s" % type(value).__name__)
    seen = set()
    for item in value:
        if not isinstance(item, str):
            raise ParameterError(option, "every item must be a string, got %r" % (item,))
        if not item.strip() and not allow_empty_items:
            raise ParameterError(option, "empty strings are not allowed")
        if item in seen:
            raise ParameterError(option, "'%s' is listed twice (the broker requires unique items)" % item)
        seen.add(item)
    return list(value)


def validate_roles(plan, roles, option="roles", warn=None):
    roles = _string_list(option, roles)
    if plan == PLAN_API:
        if not roles:
            raise ParameterError(option, "plan 'api' needs at least one role, for example MonitoringDataRead")
        for role in roles:
            if role in API_ROLES:
                continue
            if role in API_ROLES_UNCONFIRMED:
                if warn:
                    warn("%s: role '%s' is listed by newer SAP documentation, but whether the it-rt broker accepts it is not "
                         "confirmed; the broker will reject it if not" % (option, role))
                continue
            raise ParameterError(option, "%s Valid roles: %s" % (
                _sentence("'%s' is not a role of plan 'api'%s" % (role, _suggest(role, API_ROLES + API_ROLES_UNCONFIRMED))), ", ".join(API_ROLES)))
    else:
        for role in roles:
            if role != role.strip() or any(ch.isspace() for ch in role):
                raise ParameterError(option, "'%s' contains white space; role names of plan 'integration-flow' are the names of "
                                     "user roles of the tenant, for example ESBMessaging.send" % role)
    return roles


def validate_grant_types(plan, grant_types, option="grant_types", warn=None):
    grant_types = _string_list(option, grant_types)
    for grant in grant_types:
        if grant in DEPRECATED_GRANT_TYPES:
            raise ParameterError(option, "'%s' is deprecated and rejected by the broker; use 'client_credentials' (certificate keys "
                                 "work with it). Instances that still carry '%s' cannot be updated and no new keys can be created "
                                 "for them" % (grant, grant))
        if grant not in GRANT_TYPES:
            raise ParameterError(option, "%s Valid grant types: %s" % (
                _sentence("'%s' is not a valid grant type%s" % (grant, _suggest(grant, GRANT_TYPES))), ", ".join(GRANT_TYPES)))
    if plan == PLAN_API and "password" in grant_types and warn:
        warn("%s: the 'password' grant does not work with plan 'api' according to field reports" % option)
    return grant_types


def validate_token_validity(value, option="token_validity"):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParameterError(option, "must be an integer number of seconds, got %r" % (value,))
    if not TOKEN_VALIDITY_MIN <= value <= TOKEN_VALIDITY_MAX:
        raise ParameterError(option, "must be between %d and %d seconds (1 to 24 hours), got %d" % (TOKEN_VALIDITY_MIN, TOKEN_VALIDITY_MAX, value))
    return value


def validate_redirect_uris(value, option="redirect_uris"):
    uris = _string_list(option, value)
    for uri in uris:
        if "://" not in uri:
            raise ParameterError(option, "'%s' is not an absolute URI (for example https://app.example.com/callback)" % uri)
    return uris


def validate_plan(plan, option="plan"):
    if plan not in PLANS:
        raise ParameterError(option, "'%s' is not a plan of it-rt%s; valid plans: %s" % (plan, _suggest(plan, PLANS), ", ".join(PLANS)))
    return plan


def validate_instance_name(name, option="name", warn=None):
    if not isinstance(name, str) or not name.strip():
        raise ParameterError(option, "must not be empty")
    if "," in name:
        raise ParameterError(option, "'%s' contains a comma, which Cloud Foundry name filters cannot express" % name)
    if warn and (len(name) > MAX_INSTANCE_NAME_LENGTH or set(name) - CLI_FRIENDLY):
        warn("%s: SAP recommends instance names of at most %d characters from [A-Za-z0-9._-]; '%s' may be hard to use "
             "with the cf CLI" % (option, MAX_INSTANCE_NAME_LENGTH, name))
    return name


def validate_key_name(name, option="name"):
    if not isinstance(name, str) or not name.strip():
        raise ParameterError(option, "must not be empty")
    if "," in name:
        raise ParameterError(option, "'%s' contains a comma, which Cloud Foundry name filters cannot express" % name)
    if len(name) > MAX_KEY_NAME_LENGTH:
        raise ParameterError(option, "service key names of it-rt have at most %d characters; '%s' has %d" % (MAX_KEY_NAME_LENGTH, name, len(name)))
    return name


def build_instance_parameters(offering, plan, typed, raw=None, warn=None):
    """The parameters to send for an instance, or None when the task does not manage parameters.

    typed: {"roles": ..., "grant_types": ..., "redirect_uris": ..., "token_validity": ...} (None = not given).
    For it-rt the result is complete: options that are not given take the plan's documented default, so the
    same request works whether the broker replaces or merges parameters on update.
    """
    given = {option: typed.get(option) for option, dummy in TYPED_OPTIONS if typed.get(option) is not None}
    if offering == APIPORTAL_OFFERING:
        if given:
            raise ParameterError(sorted(given)[0], "only applies to offering 'it-rt'; offering '%s' takes parameters {\"role\": ...}" % offering)
        from ansible_collections.sap_btp.cloud_integration.plugins.module_utils._api_portal import validate_instance_parameters

        return validate_instance_parameters(plan, raw)
    if offering != OFFERING:
        if given:
            raise ParameterError(sorted(given)[0], "only applies to offering 'it-rt'; use 'parameters' for offering '%s'" % offering)
        if raw is not None and not isinstance(raw, dict):
            raise ParameterError("parameters", "must be a dictionary")
        return None if raw is None else dict(raw)
    validate_plan(plan)
    if raw is not None:
        if not isinstance(raw, dict):
            raise ParameterError("parameters", "must be a dictionary")
        unknown = sorted(set(raw) - set(BROKER_KEYS))
        if unknown:
            raise ParameterError("parameters", "unknown it-rt parameter(s) %s; the broker accepts only %s (prefer the options roles, "
                                 "grant_types, redirect_uris and token_validity)" % (", ".join("'%s'" % key for key in unknown), ", ".join(BROKER_KEYS)))
        source = {option: raw[key] for option, key in TYPED_OPTIONS if key in raw}
        prefix = "parameters."
    else:
        source = given
        prefix = ""
    if not source and raw is None:
        return None
    params = {}
    for option, key in TYPED_OPTIONS:
        name = prefix + (key if prefix else option)
        if option not in source:
            if key in PLAN_DEFAULTS[plan]:
                params[key] = json.loads(json.dumps(PLAN_DEFAULTS[plan][key]))
            continue
        value = source[option]
        if option == "roles":
            params[key] = validate_roles(plan, value, name, warn)
        elif option == "grant_types":
            params[key] = validate_grant_types(plan, value, name, warn)
        elif option == "redirect_uris":
            params[key] = validate_redirect_uris(value, name)
        else:
            params[key] = validate_token_validity(value, name)
    if plan == PLAN_API and "roles" not in params:
        raise ParameterError(prefix + "roles", "plan 'api' needs at least one role, for example MonitoringDataRead")
    return params


def normalise_parameters(offering, plan, params):
    """A comparable form: it-rt defaults filled in and list order ignored. Other offerings: unchanged."""
    if params is None:
        return None
    if offering != OFFERING or plan not in PLANS:
        return params
    result = json.loads(json.dumps(PLAN_DEFAULTS[plan]))
    result.update(params)
    for key in LIST_KEYS:
        if isinstance(result.get(key), list):
            result[key] = sorted(result[key], key=str)
    return result


def parameters_match(offering, plan, desired, applied, exact=True):
    """Whether desired parameters equal the applied ones (exact=False: desired is a subset, for brokers that add defaults)."""
    want = normalise_parameters(offering, plan, desired)
    have = normalise_parameters(offering, plan, applied or {})
    if exact or offering == OFFERING:
        return want == have
    return all(key in have and have[key] == value for key, value in want.items())


def build_key_parameters(key_type, validity_days=None, key_length=None, certificate_pem=None, extra=None):
    """The key parameters to send for a key type (validated)."""
    if key_type not in KEY_TYPES:
        raise ParameterError("key_type", "'%s' is not a key type; valid: %s" % (key_type, ", ".join(KEY_TYPES)))
    if key_type == "client_secret":
        for option, value in (("validity_days", validity_days), ("key_length", key_length), ("certificate", certificate_pem)):
            if value is not None:
                raise ParameterError(option, "does not apply to key_type 'client_secret' (only to certificate keys)")
    not_an_int = isinstance(validity_days, bool) or not isinstance(validity_days, int)
    if validity_days is not None and (not_an_int or not VALIDITY_DAYS_MIN <= validity_days <= VALIDITY_DAYS_MAX):
        raise ParameterError("validity_days", "must be between %d and %d days, got %r" % (VALIDITY_DAYS_MIN, VALIDITY_DAYS_MAX, validity_days))
    if key_length is not None and key_length not in KEY_LENGTHS:
        raise ParameterError("key_length", "must be one of %s, got %r" % (", ".join(str(n) for n in KEY_LENGTHS), key_length))
    params = {}
    if key_type == "certificate":
        if certificate_pem is not None:
            raise ParameterError("certificate", "applies only to key_type 'external_certificate'; SAP generates the certificate of a 'certificate' key")
        params["key-type"] = KEY_TYPE_PARAMETER[key_type]
        if validity_days is not None:
            params["validity"] = validity_days
        if key_length is not None:
            params["key-length"] = key_length
    elif key_type == "external_certificate":
        params["key-type"] = KEY_TYPE_PARAMETER[key_type]
        if certificate_pem is not None:
            params["X.509"] = certificate_pem
    if extra:
        if not isinstance(extra, dict):
            raise ParameterError("parameters", "must be a dictionary")
        clash = sorted(set(extra) & {"key-type", "validity", "key-length", "X.509"})
        if clash:
            raise ParameterError("parameters", "%s must be set through the options key_type, validity_days, key_length and certificate" % ", ".join(clash))
        params.update(extra)
    return params
