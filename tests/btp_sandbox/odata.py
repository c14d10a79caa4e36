# -*- coding: utf-8 -*-
"""Cloud Integration OData API v1 (management host, ``/api/v1``), OData V2, namespace ``com.sap.hci.api``.

Implemented: service document (+ CSRF fetch), ``$metadata``, ``MessageProcessingLogs`` (collection, ``$count``,
by key, ``ErrorInformation``, ``ErrorInformation/$value`` and empty MPL navigations), ``IntegrationPackages``
(collection, by key, POST, navigation ``IntegrationDesigntimeArtifacts``), ``IntegrationDesigntimeArtifacts`` by
key, ``IntegrationRuntimeArtifacts`` (collection, by key, ``ErrorInformation/$value``, DELETE = undeploy),
``DeployIntegrationDesigntimeArtifact`` (202 + task id), ``BuildAndDeployStatus(TaskId=..)`` and
``ServiceEndpoints`` (``$expand=EntryPoints``) (issue 18; deployments run in ``content.py``).

Auth: Bearer token of an ``api`` key (scopes ``<xsappname_api>.<Role>``) or the client certificate of an ``api``
certificate key. Roles per resource follow the CF role templates; ``AuthGroup_*`` roles imply the task roles listed
in ``AUTH_GROUPS`` (an approximation of the real role collections). Settings: ``sandbox.config.odata``.
"""


import datetime
import json
import re
import time
import xml.etree.ElementTree as ET
from urllib.parse import quote

from flask import Flask, Response, g, request

from . import content
from .config import API_ROLES, ODataConfig
from .runtime import csrf_fetch_response, csrf_valid
from .xsuaa import verify_token

NS = "com.sap.hci.api"
ATOM = "http://www.w3.org/2005/Atom"
NS_M = "http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"
NS_D = "http://schemas.microsoft.com/ado/2007/08/dataservices"
NS_SCHEME = "http://schemas.microsoft.com/ado/2007/08/dataservices/scheme"
NS_RELATED = "http://schemas.microsoft.com/ado/2007/08/dataservices/related/"

ROLE_MPL = "MonitoringDataRead"
ROLE_PACKAGES_READ = "WorkspacePackagesRead"
ROLE_PACKAGES_EDIT = "WorkspacePackagesEdit"
ROLE_DEPLOY = "WorkspaceArtifactsDeploy"

AUTH_GROUPS = {
    "AuthGroup_Administrator": set(API_ROLES),
    "AuthGroup_IntegrationDeveloper": {
        "MonitoringDataRead", "MessagePayloadsRead", "WorkspacePackagesRead", "WorkspacePackagesEdit",
        "WorkspacePackagesConfigure", "WorkspaceArtifactsDeploy", "MonitoringArtifactsDeploy",
        "WorkspaceArtifactLocksRead", "TraceConfigurationRead", "TraceConfigurationEdit", "CredentialsRead",
        "DataStoresAndQueuesRead"},
    "AuthGroup_BusinessExpert": {"MonitoringDataRead", "MessagePayloadsRead", "WorkspacePackagesRead"},
    "AuthGroup_ReadOnly": {"MonitoringDataRead", "WorkspacePackagesRead"},
    "AuthGroup_ContentPublisher": {"WorkspacePackagesRead", "WorkspacePackagesTransport"},
}

# ---------------------------------------------------------------------------------------------------------------
# model

S, DT, B, I64 = "Edm.String", "Edm.DateTime", "Edm.Boolean", "Edm.Int64"

COMPLEX_TYPES = {
    "IntegrationArtifact": [("Id", S), ("Name", S), ("Type", S), ("PackageId", S), ("PackageName", S)],
}

# entity type -> (entity set, keys, [(property, type)], [(navigation, target type, target multiplicity)], has_stream)
ENTITY_TYPES = {
    "MessageProcessingLog": (
        "MessageProcessingLogs", ["MessageGuid"],
        [("MessageGuid", S), ("CorrelationId", S), ("ApplicationMessageId", S), ("PredecessorMessageGuid", S),
         ("ApplicationMessageType", S), ("LogStart", DT), ("LogEnd", DT), ("Sender", S), ("Receiver", S),
         ("IntegrationFlowName", S), ("Status", S), ("AlternateWebLink", S),
         ("IntegrationArtifact", NS + ".IntegrationArtifact"), ("LogLevel", S), ("CustomStatus", S),
         ("ArchivingStatus", S), ("ArchivingSenderChannelMessages", B), ("ArchivingReceiverChannelMessages", B),
         ("ArchivingLogAttachments", B), ("ArchivingPersistedMessages", B), ("TransactionId", S),
         ("PreviousComponentName", S), ("LocalComponentName", S), ("OriginComponentName", S)],
        [("CustomHeaderProperties", "MessageProcessingLogCustomHeaderProperty", "*"),
         ("MessageStoreEntries", "MessageStoreEntry", "*"),
         ("ErrorInformation", "MessageProcessingLogErrorInformation", "0..1"),
         ("AdapterAttributes", "MessageProcessingLogAdapterAttribute", "*"),
         ("Attachments", "MessageProcessingLogAttachment", "*"),
         ("Runs", "MessageProcessingLogRun", "*")],
        False),
    "MessageProcessingLogErrorInformation": (
        "MessageProcessingLogErrorInformations", ["MessageGuid"],
        [("MessageGuid", S), ("Type", S), ("LastErrorModelStepId", S)], [], True),
    "MessageProcessingLogCustomHeaderProperty": (
        "MessageProcessingLogCustomHeaderProperties", ["Id"], [("Id", S), ("Name", S), ("Value", S)], [], False),
    "MessageStoreEntry": (
        "MessageStoreEntries", ["Id"],
        [("Id", S), ("MessageGuid", S), ("MessageStoreId", S), ("TimeStamp", DT), ("HasAttachments", B)], [], True),
    "MessageProcessingLogAdapterAttribute": (
        "MessageProcessingLogAdapterAttributes", ["Id"],
        [("Id", S), ("AdapterId", S), ("AdapterMessageId", S), ("Name", S), ("Value", S)], [], False),
    "MessageProcessingLogAttachment": (
        "MessageProcessingLogAttachments", ["Id"],
        [("Id", S), ("MessageGuid", S), ("TimeStamp", DT), ("Name", S), ("ContentType", S), ("PayloadSize", I64)],
        [], True),
    "MessageProcessingLogRun": (
        "MessageProcessingLogRuns", ["Id"],
        [("Id", S), ("RunStart", DT), ("RunStop", DT), ("LogLevel", S), ("OverallState", S), ("ProcessId", S)],
        [], False),
    "IntegrationPackage": (
        "IntegrationPackages", ["Id"],
        [("Id", S), ("Name", S), ("ResourceId", S), ("Description", S), ("ShortText", S), ("Version", S),
         ("Vendor", S), ("PartnerContent", B), ("UpdateAvailable", B), ("Mode", S), ("SupportedPlatform", S),
         ("ModifiedBy", S), ("CreationDate", S), ("ModifiedDate", S), ("CreatedBy", S), ("Products", S),
         ("Keywords", S), ("Countries", S), ("Industries", S), ("LineOfBusiness", S)],
        [("IntegrationDesigntimeArtifacts", "IntegrationDesigntimeArtifact", "*")],
        True),
    "IntegrationDesigntimeArtifact": (
        "IntegrationDesigntimeArtifacts", ["Id", "Version"],
        [("Id", S), ("Version", S), ("PackageId", S), ("Name", S), ("Description", S), ("Sender", S),
         ("Receiver", S), ("CreatedBy", S), ("CreatedAt", S), ("ModifiedBy", S), ("ModifiedAt", S),
         ("ArtifactContent", "Edm.Binary")],
        [], True),
    "IntegrationRuntimeArtifact": (
        "IntegrationRuntimeArtifacts", ["Id"],
        [("Id", S), ("Version", S), ("Name", S), ("Type", S), ("DeployedBy", S), ("DeployedOn", DT), ("Status", S)],
        [("ErrorInformation", "RuntimeArtifactErrorInformation", "0..1")],
        True),
    "RuntimeArtifactErrorInformation": (
        "RuntimeArtifactErrorInformations", ["Id"], [("Id", S)], [], True),
    # issue 18: shapes from ../shared/reference/metadata/cloud-integration.json
    "ServiceEndpoint": (
        "ServiceEndpoints", ["Id"],
        [("Name", S), ("Id", S), ("Title", S), ("Version", S), ("Summary", S), ("Description", S),
         ("LastUpdated", DT), ("Protocol", S)],
        [("EntryPoints", "EntryPoint", "*"), ("ApiDefinitions", "Definition", "*")],
        False),
    "EntryPoint": (
        "EntryPoints", ["Url"], [("Name", S), ("Url", S), ("Type", S), ("AdditionalInformation", S)], [], False),
    "Definition": ("APIDefinitions", ["Url"], [("Name", S), ("Url", S)], [], False),
    "BuildAndDeployStatus": ("BuildAndDeployStatus", ["TaskId"], [("TaskId", S), ("Status", S)], [], False),
}

# properties the reference declares Nullable="false" besides the keys
NOT_NULLABLE = {("ServiceEndpoint", "Description"), ("ServiceEndpoint", "Summary"), ("ServiceEndpoint", "Title"),
                ("ServiceEndpoint", "Version"), ("EntryPoint", "Name"), ("Definition", "Name")}

# function imports: name -> (HTTP method, return type, [(parameter, type)])
FUNCTION_IMPORTS = {
    "DeployIntegrationDesigntimeArtifact": ("POST", S, [("Id", S), ("Version", S)]),
}

PROPERTY_TYPES = {name: dict(spec[2]) for name, spec in ENTITY_TYPES.items()}


def _assoc_name(source, nav):
    return "%s_%s" % (source, nav)


def metadata_xml():
    """EDMX (OData V2) of the implemented part of the API."""
    out = ['<?xml version="1.0" encoding="utf-8"?>',
           '<edmx:Edmx Version="1.0" xmlns:edmx="http://schemas.microsoft.com/ado/2007/06/edmx">',
           '<edmx:DataServices xmlns:m="%s" m:DataServiceVersion="2.0">' % NS_M,
           '<Schema Namespace="%s" xmlns="http://schemas.microsoft.com/ado/2008/09/edm">' % NS]
    for name, props in COMPLEX_TYPES.items():
        out.append('<ComplexType Name="%s">' % name)
        out.extend('<Property Name="%s" Type="%s" Nullable="true"/>' % (p, t) for p, t in props)
        out.append('</ComplexType>')
    assocs = []
    for name, (_set, keys, props, navs, stream) in ENTITY_TYPES.items():
        out.append('<EntityType Name="%s"%s>' % (name, ' m:HasStream="true"' if stream else ""))
        out.append('<Key>%s</Key>' % "".join('<PropertyRef Name="%s"/>' % k for k in keys))
        for prop, typ in props:
            nullable = "false" if prop in keys or typ.startswith(NS) or (name, prop) in NOT_NULLABLE else "true"
            out.append('<Property Name="%s" Type="%s" Nullable="%s"/>' % (prop, typ, nullable))
        for nav, target, mult in navs:
            assoc = _assoc_name(name, nav)
            assocs.append((assoc, name, nav, target, mult))
            out.append('<NavigationProperty Name="%s" Relationship="%s.%s" FromRole="From_%s" ToRole="To_%s"/>'
                       % (nav, NS, assoc, name, target))
        out.append('</EntityType>')
    for assoc, source, _nav, target, mult in assocs:
        out.append('<Association Name="%s"><End Type="%s.%s" Multiplicity="1" Role="From_%s"/>'
                   '<End Type="%s.%s" Multiplicity="%s" Role="To_%s"/></Association>'
                   % (assoc, NS, source, source, NS, target, mult, target))
    out.append('<EntityContainer Name="%s" m:IsDefaultEntityContainer="true">' % NS.replace(".", "_"))
    for name, (entity_set, *_rest) in ENTITY_TYPES.items():
        out.append('<EntitySet Name="%s" EntityType="%s.%s"/>' % (entity_set, NS, name))
    for assoc, source, _nav, target, _mult in assocs:
        out.append('<AssociationSet Name="%s" Association="%s.%s"><End EntitySet="%s" Role="From_%s"/>'
                   '<End EntitySet="%s" Role="To_%s"/></AssociationSet>'
                   % (assoc, NS, assoc, ENTITY_TYPES[source][0], source, ENTITY_TYPES[target][0], target))
    for name, (method, returns, params) in FUNCTION_IMPORTS.items():
        out.append('<FunctionImport Name="%s" ReturnType="%s" m:HttpMethod="%s">' % (name, returns, method))
        out.extend('<Parameter Name="%s" Type="%s" Mode="In" Nullable="false"/>' % (p, t) for p, t in params)
        out.append('</FunctionImport>')
    out.append('</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>')
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------------------------
# errors


class ODataError(Exception):
    """An error answered as ``{"error":{"code":..,"message":{"lang":"en","value":..}}}``."""

    def __init__(self, status, code, message, headers=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def wants_json(req):
    fmt = (req.args.get("$format") or "").lower()
    if fmt:
        return fmt == "json"
    return "application/json" in (req.headers.get("Accept") or "").lower()


def error_response(err, as_json):
    if as_json:
        body = json.dumps({"error": {"code": err.code, "message": {"lang": "en", "value": err.message}}})
        response = Response(body, status=err.status, content_type="application/json")
    else:
        root = ET.Element("error", {"xmlns": NS_M})
        ET.SubElement(root, "code").text = err.code
        message = ET.SubElement(root, "message", {"xml:lang": "en"})
        message.text = err.message
        body = '<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(root, encoding="unicode")
        response = Response(body, status=err.status, content_type="application/xml")
    for name, value in err.headers.items():
        response.headers[name] = value
    return response


# ---------------------------------------------------------------------------------------------------------------
# $filter

_TOKEN_RE = re.compile(r"""
    (?P<ws>\s+)
  | (?P<typed>(?:datetimeoffset|datetime|guid|time|X|binary)'(?:[^']|'')*')
  | (?P<string>'(?:[^']|'')*')
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[LlMmDdFf]?)
  | (?P<path>[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<punct>[(),])
""", re.VERBOSE)

_COMPARE = {"eq", "ne", "gt", "lt", "ge", "le"}
_FUNCTIONS = {"substringof", "startswith", "endswith", "tolower", "toupper", "length", "trim"}
_DATETIME_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?$")


def parse_datetime_literal(text):
    """``datetime'yyyy-mm-ddThh:mm[:ss[.fffffff]]'`` read as UTC; returns epoch milliseconds.

    A trailing ``Z`` or an offset is rejected (the real API does not parse them correctly).
    """
    match = _DATETIME_RE.match(text)
    if not match:
        raise ODataError(400, "Bad Request", "Invalid datetime literal: datetime'%s'" % text)
    year, month, day, hour, minute = (int(match.group(i)) for i in range(1, 6))
    second = int(match.group(6) or 0)
    fraction = (match.group(7) or "0").ljust(7, "0")
    try:
        value = datetime.datetime(year, month, day, hour, minute, second, tzinfo=datetime.timezone.utc)
    except ValueError as exc:
        raise ODataError(400, "Bad Request", "Invalid datetime literal: datetime'%s'" % text) from exc
    return int(value.timestamp() * 1000) + int(fraction) // 10000


class _Literal:
    def __init__(self, value, kind):
        self.value = value
        self.kind = kind


def _either(left, right):
    """Predicate true when either operand predicate is true (OData 'or')."""
    return lambda entity: bool(left(entity)) or bool(right(entity))


def _both(left, right):
    """Predicate true when both operand predicates are true (OData 'and')."""
    return lambda entity: bool(left(entity)) and bool(right(entity))


class FilterParser:
    """Recursive descent parser for OData V2 ``$filter``; compiles to a Python predicate."""

    def __init__(self, text, entity_type):
        self.text = text
        self.entity_type = entity_type
        self.tokens = self._tokenize(text)
        self.pos = 0

    def _tokenize(self, text):
        tokens = []
        pos = 0
        while pos < len(text):
            match = _TOKEN_RE.match(text, pos)
            if not match:
                raise ODataError(400, "Bad Request", "Invalid filter expression: '%s' at position %d" % (text, pos))
            pos = match.end()
            kind = match.lastgroup
            if kind != "ws":
                tokens.append((kind, match.group()))
        return tokens

    def _peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else (None, None)

    def _next(self):
        token = self._peek()
        self.pos += 1
        return token

    def _expect(self, value):
        kind, text = self._next()
        if text != value:
            raise ODataError(400, "Bad Request", "Invalid filter expression: '%s' (expected '%s', found %s)"
                             % (self.text, value, text if kind else "end"))

    def _is_word(self, word):
        kind, text = self._peek()
        return kind == "path" and text == word

    def parse(self):
        if not self.tokens:
            raise ODataError(400, "Bad Request", "Invalid filter expression: empty")
        expr = self._or()
        if self.pos != len(self.tokens):
            raise ODataError(400, "Bad Request", "Invalid filter expression: '%s'" % self.text)
        return expr

    def _or(self):
        left = self._and()
        while self._is_word("or"):
            self._next()
            right = self._and()
            left = _either(left, right)
        return left

    def _and(self):
        left = self._not()
        while self._is_word("and"):
            self._next()
            right = self._not()
            left = _both(left, right)
        return left

    def _not(self):
        if self._is_word("not"):
            self._next()
            inner = self._not()
            return lambda e: not inner(e)
        return self._compare()

    def _compare(self):
        left = self._operand()
        kind, text = self._peek()
        if kind == "path" and text in _COMPARE:
            self._next()
            right = self._operand()
            return self._comparison(text, left, right)
        return left

    def _comparison(self, op, left, right):
        def check(entity):
            a, b = left(entity), right(entity)
            if op == "eq":
                return a == b
            if op == "ne":
                return a != b
            if a is None or b is None:
                return False
            if type(a) is not type(b) and not (isinstance(a, (int, float)) and isinstance(b, (int, float))):
                return False
            if op == "gt":
                return a > b
            if op == "lt":
                return a < b
            if op == "ge":
                return a >= b
            return a <= b
        return check

    def _operand(self):
        kind, text = self._next()
        if kind is None:
            raise ODataError(400, "Bad Request", "Invalid filter expression: '%s' (unexpected end)" % self.text)
        if text == "(":
            expr = self._or()
            self._expect(")")
            return expr
        if kind == "string":
            value = text[1:-1].replace("''", "'")
            return lambda e: value
        if kind == "typed":
            prefix, _unused, rest = text.partition("'")
            literal = rest[:-1].replace("''", "'")
            if prefix.lower() == "datetime":
                value = parse_datetime_literal(literal)
                return lambda e: value
            if prefix.lower() == "guid":
                return lambda e: literal
            raise ODataError(400, "Bad Request", "Unsupported literal %s in filter expression" % text)
        if kind == "number":
            number = text.rstrip("LlMmDdFf")
            value = float(number) if ("." in number or "e" in number.lower()) else int(number)
            return lambda e: value
        if kind == "path":
            if text in ("true", "false"):
                value = text == "true"
                return lambda e: value
            if text == "null":
                return lambda e: None
            if text in _FUNCTIONS and self._peek()[1] == "(":
                return self._function(text)
            return self._property(text)
        raise ODataError(400, "Bad Request", "Invalid filter expression: '%s' (unexpected '%s')" % (self.text, text))

    def _function(self, name):
        self._expect("(")
        args = [self._or()]
        while self._peek()[1] == ",":
            self._next()
            args.append(self._or())
        self._expect(")")
        arity = {"substringof": 2, "startswith": 2, "endswith": 2}.get(name, 1)
        if len(args) != arity:
            raise ODataError(400, "Bad Request", "Function %s expects %d argument(s)" % (name, arity))

        def text_of(fn, entity):
            value = fn(entity)
            return value if isinstance(value, str) else ("" if value is None else str(value))

        if name == "substringof":
            return lambda e: text_of(args[0], e) in text_of(args[1], e)
        if name == "startswith":
            return lambda e: text_of(args[0], e).startswith(text_of(args[1], e))
        if name == "endswith":
            return lambda e: text_of(args[0], e).endswith(text_of(args[1], e))
        if name == "tolower":
            return lambda e: text_of(args[0], e).lower()
        if name == "toupper":
            return lambda e: text_of(args[0], e).upper()
        if name == "trim":
            return lambda e: text_of(args[0], e).strip()
        return lambda e: len(text_of(args[0], e))

    def _property(self, path):
        return property_getter(self.entity_type, path)


def property_getter(entity_type, path):
    """Getter for a property path (``Status``, ``IntegrationArtifact/Id``); 400 for unknown properties."""
    parts = path.split("/")
    types = PROPERTY_TYPES[entity_type]
    if parts[0] not in types:
        raise ODataError(400, "Bad Request", "Could not find property with name: '%s'." % parts[0])
    if len(parts) == 1:
        name = parts[0]
        return lambda e: e.get(name)
    complex_name = types[parts[0]].split(".")[-1]
    members = dict(COMPLEX_TYPES.get(complex_name, []))
    if len(parts) != 2 or parts[1] not in members:
        raise ODataError(400, "Bad Request", "Could not find property with name: '%s'." % path)
    outer, inner = parts

    def get(entity):
        value = entity.get(outer)
        return value.get(inner) if isinstance(value, dict) else None
    return get


def compile_filter(text, entity_type):
    return FilterParser(text, entity_type).parse()


def apply_orderby(items, text, entity_type):
    """Sort by ``$orderby`` (``prop [asc|desc]`` comma separated); None sorts first in ascending order."""
    clauses = []
    for part in text.split(","):
        words = part.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
            raise ODataError(400, "Bad Request", "Invalid $orderby expression: '%s'" % text)
        clauses.append((property_getter(entity_type, words[0]), len(words) == 2 and words[1].lower() == "desc"))
    result = list(items)
    for getter, descending in reversed(clauses):
        result.sort(key=lambda e, g=getter: (g(e) is not None, g(e) if g(e) is not None else 0), reverse=descending)
    return result


def _int_option(name, value):
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = -1
    if number < 0:
        raise ODataError(400, "Bad Request", "Invalid value '%s' of system query option %s" % (value, name))
    return number


def parse_select(text, entity_type):
    if not text or text.strip() == "*":
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    spec = ENTITY_TYPES[entity_type]
    valid = {p for p, _t in spec[2]} | {n for n, _t, _m in spec[3]}
    for name in names:
        if name.split("/")[0] not in valid:
            raise ODataError(400, "Bad Request", "Could not find property with name: '%s'." % name)
    return [n.split("/")[0] for n in names]


# ---------------------------------------------------------------------------------------------------------------
# serialisation

def key_predicate(entity_type, entity):
    keys = ENTITY_TYPES[entity_type][1]
    if len(keys) == 1:
        return "('%s')" % quote(str(entity.get(keys[0])).replace("'", "''"), safe="!$&*+,;=:@-._~")
    return "(%s)" % ",".join("%s='%s'" % (k, quote(str(entity.get(k)).replace("'", "''"), safe="!$&*+,;=:@-._~"))
                             for k in keys)


def _json_value(typ, value):
    if value is None:
        return None
    if typ == DT:
        return "/Date(%d)/" % int(value)
    if typ == I64:
        return str(value)
    if typ.startswith(NS + "."):
        name = typ.split(".")[-1]
        out = {"__metadata": {"type": typ}}
        for prop, ptyp in COMPLEX_TYPES[name]:
            out[prop] = _json_value(ptyp, value.get(prop))
        return out
    return value


def entity_json(base, entity_type, entity, select=None, expand=None):
    """``expand``: navigation names whose related entities (``entity["_nav"][name]``) are sent inline."""
    entity_set, _keys, props, navs, _stream = ENTITY_TYPES[entity_type]
    uri = "%s%s%s" % (base, entity_set, key_predicate(entity_type, entity))
    out = {"__metadata": {"id": uri, "uri": uri, "type": "%s.%s" % (NS, entity_type)}}
    for prop, typ in props:
        if select is None or prop in select:
            out[prop] = _json_value(typ, entity.get(prop))
    for nav, target, _mult in navs:
        if expand and nav in expand:
            related = (entity.get("_nav") or {}).get(nav, [])
            out[nav] = {"results": [entity_json(base, target, item) for item in related]}
        elif select is None or nav in select:
            out[nav] = {"__deferred": {"uri": "%s/%s" % (uri, nav)}}
    return out


def _xml_value(typ, value):
    if typ == DT:
        stamp = datetime.datetime.fromtimestamp(int(value) / 1000.0, tz=datetime.timezone.utc)
        return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + "%03d" % (int(value) % 1000)
    if typ == B:
        return "true" if value else "false"
    return str(value)


def _xml_property(parent, prop, typ, value):
    attrs = {}
    if typ != S:
        attrs["{%s}type" % NS_M] = typ
    element = ET.SubElement(parent, "{%s}%s" % (NS_D, prop), attrs)
    if value is None:
        element.set("{%s}null" % NS_M, "true")
    elif typ.startswith(NS + "."):
        for member, mtyp in COMPLEX_TYPES[typ.split(".")[-1]]:
            _xml_property(element, member, mtyp, value.get(member))
    else:
        element.text = _xml_value(typ, value)


def _entry_xml(parent, base, entity_type, entity, select, updated, expand=None):
    entity_set, _keys, props, navs, _stream = ENTITY_TYPES[entity_type]
    rel = "%s%s" % (entity_set, key_predicate(entity_type, entity))
    entry = ET.SubElement(parent, "{%s}entry" % ATOM) if parent is not None else ET.Element("{%s}entry" % ATOM)
    ET.SubElement(entry, "{%s}id" % ATOM).text = base + rel
    ET.SubElement(entry, "{%s}title" % ATOM, {"type": "text"}).text = entity_set
    ET.SubElement(entry, "{%s}updated" % ATOM).text = updated
    ET.SubElement(ET.SubElement(entry, "{%s}author" % ATOM), "{%s}name" % ATOM)
    ET.SubElement(entry, "{%s}link" % ATOM, {"href": rel, "rel": "edit", "title": entity_type})
    for nav, _target, mult in navs:
        if select is None or nav in select or (expand and nav in expand):
            kind = "feed" if mult == "*" else "entry"
            attrs = {"href": "%s/%s" % (rel, nav), "rel": NS_RELATED + nav,
                     "type": "application/atom+xml;type=%s" % kind, "title": nav}
            link = ET.SubElement(entry, "{%s}link" % ATOM, attrs)
            if expand and nav in expand:
                inline = ET.SubElement(ET.SubElement(link, "{%s}inline" % NS_M), "{%s}feed" % ATOM)
                ET.SubElement(inline, "{%s}id" % ATOM).text = base + rel + "/" + nav
                ET.SubElement(inline, "{%s}title" % ATOM, {"type": "text"}).text = nav
                ET.SubElement(inline, "{%s}updated" % ATOM).text = updated
                for item in (entity.get("_nav") or {}).get(nav, []):
                    _entry_xml(inline, base, _target, item, None, updated)
    ET.SubElement(entry, "{%s}category" % ATOM, {"term": "%s.%s" % (NS, entity_type), "scheme": NS_SCHEME})
    content_el = ET.SubElement(entry, "{%s}content" % ATOM, {"type": "application/xml"})
    properties = ET.SubElement(content_el, "{%s}properties" % NS_M)
    for prop, typ in props:
        if select is None or prop in select:
            _xml_property(properties, prop, typ, entity.get(prop))
    return entry


def _xml_doc(root):
    ET.register_namespace("", ATOM)
    ET.register_namespace("m", NS_M)
    ET.register_namespace("d", NS_D)
    return '<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(root, encoding="unicode")


def _now_iso():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _odata_response(body, status, as_json):
    if as_json:
        response = Response(json.dumps(body), status=status, content_type="application/json")
    else:
        response = Response(body, status=status, content_type="application/atom+xml;charset=utf-8")
    response.headers["DataServiceVersion"] = "2.0"
    return response


def collection_response(base, entity_type, items, as_json, count=None, next_link=None, select=None, title=None,
                        expand=None):
    entity_set = title or ENTITY_TYPES[entity_type][0]
    if as_json:
        payload = {"results": [entity_json(base, entity_type, e, select, expand) for e in items]}
        if count is not None:
            payload["__count"] = str(count)
        if next_link:
            payload["__next"] = next_link
        return _odata_response({"d": payload}, 200, True)
    updated = _now_iso()
    feed = ET.Element("{%s}feed" % ATOM, {"{http://www.w3.org/XML/1998/namespace}base": base})
    ET.SubElement(feed, "{%s}id" % ATOM).text = base + entity_set
    ET.SubElement(feed, "{%s}title" % ATOM, {"type": "text"}).text = entity_set
    ET.SubElement(feed, "{%s}updated" % ATOM).text = updated
    ET.SubElement(ET.SubElement(feed, "{%s}author" % ATOM), "{%s}name" % ATOM)
    ET.SubElement(feed, "{%s}link" % ATOM, {"href": entity_set, "rel": "self", "title": entity_set})
    if count is not None:
        ET.SubElement(feed, "{%s}count" % NS_M).text = str(count)
    for entity in items:
        _entry_xml(feed, base, entity_type, entity, select, updated, expand)
    if next_link:
        ET.SubElement(feed, "{%s}link" % ATOM, {"href": next_link, "rel": "next"})
    return _odata_response(_xml_doc(feed), 200, False)


def entity_response(base, entity_type, entity, as_json, select=None, status=200):
    if as_json:
        response = _odata_response({"d": entity_json(base, entity_type, entity, select)}, status, True)
    else:
        entry = _entry_xml(None, base, entity_type, entity, select, _now_iso())
        entry.set("{http://www.w3.org/XML/1998/namespace}base", base)
        response = _odata_response(_xml_doc(entry), status, False)
        response.headers["Content-Type"] = "application/atom+xml;type=entry;charset=utf-8"
    return response


# ---------------------------------------------------------------------------------------------------------------
# auth

class ApiPrincipal:
    def __init__(self, client_id, roles, method):
        self.client_id = client_id
        self.roles = set(roles)
        self.method = method

    def has_role(self, role):
        if role in self.roles:
            return True
        return any(role in AUTH_GROUPS.get(group, ()) for group in self.roles)


def odata_config(sandbox):
    cfg = getattr(getattr(sandbox, "config", None), "odata", None)
    return cfg if cfg is not None else ODataConfig()


def _cfg(cfg, name, default):
    return getattr(cfg, name, default)


def authenticate(sandbox, tenant, req):
    """Return an ApiPrincipal or raise ODataError (401, or 403 for an integration-flow credential)."""
    cfg = odata_config(sandbox)
    wrong_plan = ODataError(_cfg(cfg, "wrong_plan_status", 403), "Forbidden", None)
    header = req.headers.get("Authorization", "")
    scheme, _unused, value = header.partition(" ")
    if scheme.lower() == "bearer":
        claims = verify_token(sandbox, tenant, value.strip())
        if claims is None:
            raise ODataError(401, "Unauthorized", "Invalid or expired access token",
                             {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        prefix = tenant.xsappname_api + "."
        roles = [s[len(prefix):] for s in claims.get("scope") or [] if s.startswith(prefix)]
        if not roles:
            raise wrong_plan
        return ApiPrincipal(claims.get("client_id"), roles, "bearer")
    if header:
        raise ODataError(401, "Unauthorized", "Authentication failed",
                         {"WWW-Authenticate": 'Basic realm="SAP Cloud Integration"'})
    der = sandbox.peer_cert_der(req)
    record = sandbox.store.find_key_by_cert(tenant.name, der) if der is not None else None
    if record is None:
        raise ODataError(401, "Unauthorized", "Authentication required",
                         {"WWW-Authenticate": 'Bearer realm="SAP Cloud Integration"'})
    if record.get("plan") != "api":
        raise wrong_plan
    roles, _grants, _validity = sandbox.store.client_scope_roles(record)
    return ApiPrincipal(record.get("clientid"), roles, "certificate")


# ---------------------------------------------------------------------------------------------------------------
# app

ALLOWED_OPTIONS = {"$filter", "$top", "$skip", "$orderby", "$select", "$inlinecount", "$format", "$skiptoken",
                   "$expand", "filterCustomHeaderProperties"}


def create_app(sandbox, tenant):
    """Flask app of the tenant's management host (``/api/v1``)."""
    app = Flask("odata-%s" % tenant.name)
    store = sandbox.store

    def base_url():
        return request.host_url + "api/v1/"

    def guard(role=None):
        principal = authenticate(sandbox, tenant, request)
        if role and not principal.has_role(role):
            raise ODataError(403, "Forbidden", None)
        for name in request.args:
            if name.startswith("$") and name not in ALLOWED_OPTIONS:
                raise ODataError(400, "Bad Request", "The query option %s is not supported" % name)
        return principal

    @app.errorhandler(ODataError)
    def on_odata_error(err):
        return error_response(err, wants_json(request))

    def query_collection(entity_type, items, allow_inlinecount=True, ignore_skip=False, title=None, decorate=None,
                         expand=None):
        args = request.args
        as_json = wants_json(request)
        cfg = odata_config(sandbox)
        inline = (args.get("$inlinecount") or "none").lower()
        if inline not in ("allpages", "none"):
            raise ODataError(400, "Bad Request", "Invalid value '%s' of $inlinecount" % inline)
        if inline == "allpages" and not allow_inlinecount:
            raise ODataError(501, "Not Implemented", "The query option $inlinecount is not supported")
        if args.get("$filter"):
            predicate = compile_filter(args["$filter"], entity_type)
            items = [e for e in items if predicate(e)]
        if args.get("$orderby"):
            items = apply_orderby(items, args["$orderby"], entity_type)
        select = parse_select(args.get("$select"), entity_type)
        total = len(items)
        skip = 0 if ignore_skip else _int_option("$skip", args.get("$skip", 0))
        top = _int_option("$top", args["$top"]) if "$top" in args else None
        skiptoken = _int_option("$skiptoken", args.get("$skiptoken", 0))
        cap = int(_cfg(cfg, "page_cap", 1000))
        end_total = total if top is None else min(total, skip + top)
        start = skip + skiptoken
        page_end = min(end_total, start + cap)
        page = items[start:page_end] if start < page_end else []
        next_link = None
        if page_end < end_total:
            params = [(k, v) for k, v in args.items(multi=True) if k != "$skiptoken"]
            params.append(("$skiptoken", str(skiptoken + cap)))
            query = "&".join("%s=%s" % (quote(k, safe="$"), quote(v, safe="$'(),:/")) for k, v in params)
            next_link = "%s%s?%s" % (base_url(), request.path.split("/api/v1/", 1)[1], query)
        count = total if inline == "allpages" else None
        if decorate is not None:
            page = [decorate(e) for e in page]
        return collection_response(base_url(), entity_type, page, as_json, count, next_link, select, title, expand)

    def count_response(items, entity_type):
        args = request.args
        if args.get("$filter"):
            predicate = compile_filter(args["$filter"], entity_type)
            items = [e for e in items if predicate(e)]
        count = len(items)
        skip = _int_option("$skip", args.get("$skip", 0))
        count = max(0, count - skip)
        if "$top" in args:
            count = min(count, _int_option("$top", args["$top"]))
        return Response(str(count), status=200, content_type="text/plain")

    def mpls():
        content.settle_mpls(store, tenant.name)
        with store.lock:
            return list(store.mpls.get(tenant.name, []))

    def _with_link(mpl):
        if mpl.get("AlternateWebLink"):
            return mpl
        out = dict(mpl)
        out["AlternateWebLink"] = "%s/shell/monitoring/MessageDetails/%s" % (
            tenant.api_url.rstrip("/"), quote('{"messageGuid":"%s"}' % mpl["MessageGuid"], safe=""))
        return out

    def find_mpl(guid):
        content.settle_mpls(store, tenant.name)
        with store.lock:
            for mpl in reversed(store.mpls.get(tenant.name, [])):
                if mpl["MessageGuid"] == guid:
                    return _with_link(mpl)
        raise ODataError(404, "Not Found", "Message processing log with ID '%s' not found." % guid)

    # ---- service root, metadata -----------------------------------------------------------------------------

    @app.route("/api/v1/", methods=["GET", "HEAD"])
    @app.route("/api/v1", methods=["GET", "HEAD"])
    def service_root():
        guard()
        sets = [spec[0] for spec in ENTITY_TYPES.values()]
        if wants_json(request):
            body, content_type = json.dumps({"d": {"EntitySets": sets}}), "application/json"
        else:
            collections = "".join('<collection href="%s"><atom:title>%s</atom:title></collection>' % (s, s)
                                  for s in sets)
            body = ('<?xml version="1.0" encoding="utf-8"?><service xml:base="%s" xmlns="http://www.w3.org/2007/app" '
                    'xmlns:atom="%s"><workspace><atom:title>Default</atom:title>%s</workspace></service>'
                    % (base_url(), ATOM, collections))
            content_type = "application/atomsvc+xml;charset=utf-8"
        if request.headers.get("X-CSRF-Token", "").lower() == "fetch":
            response = csrf_fetch_response(store, tenant, "odata", request, body, content_type)
        else:
            response = Response(body, status=200, content_type=content_type)
        response.headers["DataServiceVersion"] = "1.0"
        return response

    @app.route("/api/v1/$metadata", methods=["GET"])
    def metadata():
        guard()
        response = Response(metadata_xml(), status=200, content_type="application/xml;charset=utf-8")
        response.headers["DataServiceVersion"] = "2.0"
        return response

    # ---- MessageProcessingLogs --------------------------------------------------------------------------------

    @app.route("/api/v1/MessageProcessingLogs", methods=["GET"])
    def mpl_collection():
        guard(ROLE_MPL)
        return query_collection("MessageProcessingLog", mpls(), decorate=_with_link)

    @app.route("/api/v1/MessageProcessingLogs/$count", methods=["GET"])
    def mpl_count():
        guard(ROLE_MPL)
        return count_response(mpls(), "MessageProcessingLog")

    @app.route("/api/v1/MessageProcessingLogs('<guid>')", methods=["GET"])
    def mpl_entity(guid):
        guard(ROLE_MPL)
        select = parse_select(request.args.get("$select"), "MessageProcessingLog")
        return entity_response(base_url(), "MessageProcessingLog", find_mpl(guid), wants_json(request), select)

    @app.route("/api/v1/MessageProcessingLogs('<guid>')/ErrorInformation", methods=["GET"])
    def mpl_error_information(guid):
        guard(ROLE_MPL)
        mpl = find_mpl(guid)
        if not mpl.get("_error"):
            return Response(status=204)
        info = {"MessageGuid": mpl["MessageGuid"], "Type": mpl.get("_error_type") or "MPL_ERROR",
                "LastErrorModelStepId": "CallActivity_1"}
        return entity_response(base_url(), "MessageProcessingLogErrorInformation", info, wants_json(request))

    @app.route("/api/v1/MessageProcessingLogs('<guid>')/ErrorInformation/$value", methods=["GET"])
    def mpl_error_value(guid):
        guard(ROLE_MPL)
        mpl = find_mpl(guid)
        if not mpl.get("_error"):
            return Response(status=204)
        return Response(mpl["_error"], status=200, content_type="text/plain;charset=utf-8")

    @app.route("/api/v1/MessageProcessingLogs('<guid>')/<any(AdapterAttributes, Attachments, "
               "CustomHeaderProperties, MessageStoreEntries, Runs):nav>", methods=["GET"])
    def mpl_navigation(guid, nav):
        guard(ROLE_MPL)
        find_mpl(guid)
        target = dict((n, t) for n, t, _m in ENTITY_TYPES["MessageProcessingLog"][3])[nav]
        return collection_response(base_url(), target, [], wants_json(request),
                                   title="MessageProcessingLogs('%s')/%s" % (guid, nav))

    # ---- IntegrationPackages ----------------------------------------------------------------------------------

    def packages():
        with store.lock:
            return list(store.packages.get(tenant.name, []))

    def find_package(package_id):
        for pkg in packages():
            if pkg["Id"] == package_id:
                return pkg
        raise ODataError(404, "Not Found", "Integration package %s does not exist." % package_id)

    @app.route("/api/v1/IntegrationPackages", methods=["GET"])
    def package_collection():
        guard(ROLE_PACKAGES_READ)
        return query_collection("IntegrationPackage", packages(), allow_inlinecount=False)

    def check_csrf(principal):
        cfg = odata_config(sandbox)
        if not _cfg(cfg, "bearer_writes_require_csrf", False):
            return
        if principal.method in ("bearer", "certificate") and not csrf_valid(store, tenant, "odata", request):
            raise ODataError(403, "Forbidden", "CSRF token validation failed", {"X-CSRF-Token": "Required"})

    @app.route("/api/v1/IntegrationPackages", methods=["POST"])
    def package_create():
        principal = guard(ROLE_PACKAGES_EDIT)
        check_csrf(principal)
        try:
            data = json.loads(request.get_data(as_text=True) or "")
        except ValueError as exc:
            raise ODataError(400, "Bad Request", "The request body is not valid JSON") from exc
        if not isinstance(data, dict):
            raise ODataError(400, "Bad Request", "The request body must be a JSON object")
        data = data.get("d", data) if isinstance(data.get("d"), dict) else data
        for field in ("Id", "Name", "ShortText"):
            if not isinstance(data.get(field), str) or not data[field].strip():
                raise ODataError(400, "Bad Request", "Mandatory property %s is missing." % field)
        if not re.match(r"^[A-Za-z0-9_.\-]+$", data["Id"]):
            raise ODataError(400, "Bad Request", "Package ID %s contains invalid characters." % data["Id"])
        now_ms = str(int(time.time() * 1000))
        pkg = {prop: None for prop, _t in ENTITY_TYPES["IntegrationPackage"][2]}
        pkg.update({"ResourceId": data["Id"], "Version": "1.0.0", "Vendor": "", "PartnerContent": False,
                    "UpdateAvailable": False, "Mode": "EDIT_ALLOWED", "SupportedPlatform": "SAP Cloud Integration",
                    "CreatedBy": principal.client_id, "ModifiedBy": principal.client_id, "CreationDate": now_ms,
                    "ModifiedDate": now_ms, "Description": ""})
        pkg.update({k: v for k, v in data.items() if k in PROPERTY_TYPES["IntegrationPackage"]
                    and k not in ("CreatedBy", "ModifiedBy", "CreationDate", "ModifiedDate")})
        with store.lock:
            existing = store.packages.setdefault(tenant.name, [])
            if any(p["Id"] == pkg["Id"] for p in existing):
                raise ODataError(409, "Conflict", "Integration package with ID %s already exists." % pkg["Id"])
            existing.append(pkg)
        response = entity_response(base_url(), "IntegrationPackage", pkg, wants_json(request), status=201)
        response.headers["Location"] = "%sIntegrationPackages%s" % (base_url(), key_predicate("IntegrationPackage", pkg))
        return response

    @app.route("/api/v1/IntegrationPackages('<package_id>')", methods=["GET"])
    def package_entity(package_id):
        guard(ROLE_PACKAGES_READ)
        select = parse_select(request.args.get("$select"), "IntegrationPackage")
        return entity_response(base_url(), "IntegrationPackage", find_package(package_id), wants_json(request), select)

    @app.route("/api/v1/IntegrationPackages('<package_id>')/IntegrationDesigntimeArtifacts", methods=["GET"])
    def package_artifacts(package_id):
        guard(ROLE_PACKAGES_READ)
        find_package(package_id)
        with store.lock:
            items = [a for a in content.designtime_artifacts(store, tenant.name) if a.get("PackageId") == package_id]
        return query_collection("IntegrationDesigntimeArtifact", items, ignore_skip=True,
                                title="IntegrationPackages('%s')/IntegrationDesigntimeArtifacts" % package_id)

    @app.route("/api/v1/IntegrationDesigntimeArtifacts(Id='<artifact_id>',Version='<version>')", methods=["GET"])
    def designtime_artifact(artifact_id, version):
        guard(ROLE_PACKAGES_READ)
        with store.lock:
            items = [a for a in content.designtime_artifacts(store, tenant.name) if a["Id"] == artifact_id]
        match = [a for a in items if version.lower() == "active" or a["Version"] == version]
        if not match:
            raise ODataError(404, "Not Found", "Integration design time artifact %s with version %s does not exist."
                             % (artifact_id, version))
        return entity_response(base_url(), "IntegrationDesigntimeArtifact", match[-1], wants_json(request))

    # ---- IntegrationRuntimeArtifacts --------------------------------------------------------------------------

    def runtime_artifacts():
        with store.lock:
            return list(store.runtime_artifacts.get(tenant.name, []))

    def find_runtime_artifact(artifact_id):
        for art in runtime_artifacts():
            if art["Id"] == artifact_id:
                return art
        raise ODataError(404, "Not Found", "Integration runtime artifact %s does not exist." % artifact_id)

    @app.route("/api/v1/IntegrationRuntimeArtifacts", methods=["GET"])
    def runtime_collection():
        guard(ROLE_MPL)
        content.settle_deployments(store, tenant.name)
        return query_collection("IntegrationRuntimeArtifact", runtime_artifacts(), allow_inlinecount=False)

    @app.route("/api/v1/IntegrationRuntimeArtifacts('<artifact_id>')", methods=["GET"])
    def runtime_entity(artifact_id):
        guard(ROLE_MPL)
        content.settle_deployments(store, tenant.name)
        return entity_response(base_url(), "IntegrationRuntimeArtifact", find_runtime_artifact(artifact_id),
                               wants_json(request))

    @app.route("/api/v1/IntegrationRuntimeArtifacts('<artifact_id>')", methods=["DELETE"])
    def runtime_undeploy(artifact_id):
        # JL cmd/integrationArtifactUnDeploy.go: DELETE -> 202
        principal = guard(_cfg(odata_config(sandbox), "deploy_role", ROLE_DEPLOY))
        check_csrf(principal)
        find_runtime_artifact(artifact_id)
        content.undeploy(store, tenant.name, artifact_id)
        return Response(status=202)

    @app.route("/api/v1/IntegrationRuntimeArtifacts('<artifact_id>')/ErrorInformation/$value", methods=["GET"])
    def runtime_error_value(artifact_id):
        guard(ROLE_MPL)
        content.settle_deployments(store, tenant.name)
        art = find_runtime_artifact(artifact_id)
        if "application/json" in (request.headers.get("Accept") or "").lower():
            raise ODataError(406, "Not Acceptable", "The requested media type is not supported.")
        if not art.get("_error"):
            return Response(status=204)
        return Response(content.deployment_error_text(art["_error"], artifact_id), status=200,
                        content_type="application/json")

    # ---- deploy, build-and-deploy status, service endpoints (issue 18) -----------------------------------------

    def function_parameter(name):
        raw = request.args.get(name)
        if raw is None:
            raise ODataError(400, "Bad Request", "Mandatory parameter %s of function import "
                             "DeployIntegrationDesigntimeArtifact is missing." % name)
        raw = raw.strip()
        if len(raw) < 2 or raw[0] != "'" or raw[-1] != "'":
            raise ODataError(400, "Bad Request", "Invalid value %s of parameter %s: a string literal in quotes is "
                             "expected." % (raw, name))
        return raw[1:-1].replace("''", "'")

    @app.route("/api/v1/DeployIntegrationDesigntimeArtifact", methods=["POST"])
    def deploy_artifact():
        # JL cmd/integrationArtifactDeploy.go: POST ?Id='..'&Version='..' -> 202, body = the task id
        principal = guard(_cfg(odata_config(sandbox), "deploy_role", ROLE_DEPLOY))
        check_csrf(principal)
        artifact_id = function_parameter("Id")
        version = function_parameter("Version")
        spec = content.designtime_iflow(store, tenant.name, artifact_id)
        if spec is None or (version.lower() != "active" and version != (spec.get("version") or "1.0.0")):
            raise ODataError(404, "Not Found", "Integration design time artifact %s with version %s does not exist."
                             % (artifact_id, version))
        route_key = getattr(g, "sandbox_route_key", None)
        fault = sandbox.faults.take_operation_failure(route_key, content.DEPLOY_OPERATION % artifact_id)
        task_id = content.deploy(sandbox, tenant, artifact_id, principal.client_id, fault)
        return Response(task_id, status=202, content_type="text/plain;charset=utf-8")

    @app.route("/api/v1/BuildAndDeployStatus(TaskId='<task_id>')", methods=["GET"])
    def deploy_status(task_id):
        guard(_cfg(odata_config(sandbox), "deploy_status_role", ROLE_DEPLOY))
        content.settle_deployments(store, tenant.name)
        task = content.find_task(store, tenant.name, task_id)
        if task is None:
            raise ODataError(404, "Not Found", "Build and deploy task %s does not exist." % task_id)
        return entity_response(base_url(), "BuildAndDeployStatus", task, wants_json(request))

    def service_endpoints():
        cfg = odata_config(sandbox)
        protocols = _cfg(cfg, "service_endpoint_protocols", {"http": "REST", "cxf": "SOAP"})
        content.settle_deployments(store, tenant.name)
        with store.lock:
            flows = {f["id"]: f for f in store.iflows.get(tenant.name, [])}
            arts = [a for a in store.runtime_artifacts.get(tenant.name, []) if a.get("Status") == "STARTED"]
        out = []
        for art in arts:
            flow = flows.get(art["Id"])
            if flow is None:
                continue
            servlet = flow.get("servlet", "http")
            url = "%s/%s%s" % (tenant.runtime_url.rstrip("/"), servlet, flow["address"])
            out.append({
                "Name": art["Id"], "Id": "%s$endpointAddress=%s" % (art["Id"], flow["address"].lstrip("/")),
                "Title": art.get("Name") or art["Id"], "Version": art.get("Version") or "", "Summary": "",
                "Description": "", "LastUpdated": art.get("DeployedOn"), "Protocol": protocols.get(servlet, "REST"),
                "_nav": {"EntryPoints": [{"Name": art["Id"], "Url": url, "Type": "PROD", "AdditionalInformation": ""}],
                         "ApiDefinitions": []}})
        return out

    def parse_expand(entity_type):
        text = request.args.get("$expand") or ""
        names = [n.strip() for n in text.split(",") if n.strip()]
        valid = {n for n, _t, _m in ENTITY_TYPES[entity_type][3]}
        for name in names:
            if name not in valid:
                raise ODataError(400, "Bad Request", "Could not find navigation property with name: '%s'." % name)
        return names

    @app.route("/api/v1/ServiceEndpoints", methods=["GET"])
    def service_endpoint_collection():
        guard(_cfg(odata_config(sandbox), "service_endpoints_role", ROLE_MPL))
        expand = parse_expand("ServiceEndpoint")
        return query_collection("ServiceEndpoint", service_endpoints(), allow_inlinecount=False, expand=expand)

    from . import security_material  # pylint: disable=import-outside-toplevel
    security_material.register(app, sandbox, tenant, guard, base_url)

    @app.route("/api/v1/<path:resource>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def unknown_resource(resource):
        guard()
        name = resource.split("(")[0].split("/")[0]
        raise ODataError(404, "Not Found", "Could not find an entity set or function import for '%s'." % name)

    return app
