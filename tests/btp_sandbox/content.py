# -*- coding: utf-8 -*-
"""Default Cloud Integration content of every sandbox tenant.

Every tenant ships with these iFlows (runtime host, ``<runtime_url>/<servlet>/<address>``):

================================  ======  =====================  ====  ==========================================
address                           method  role                   CSRF  behaviour
================================  ======  =====================  ====  ==========================================
``/http/products/details``        POST    ESBMessaging.send      no    product lookup (see below)
``/http/echo``                    any     ESBMessaging.send      no    echoes body and content type
``/http/csrf/echo``               any     ESBMessaging.send      yes   echoes body (CSRF handshake required)
``/http/fail``                    any     ESBMessaging.send      no    always fails: 500 + MPL id in the body
``/http/status/created``          any     ESBMessaging.send      no    custom status 201 (CamelHttpResponseCode)
``/http/slow``                    any     ESBMessaging.send      no    echo after a 0.3 s delay
``/cxf/soap/echo``                POST    ESBMessaging.send      no    SOAP envelope echo (text/xml)
================================  ======  =====================  ====  ==========================================

Product lookup (``/http/products/details``): the request body is JSON ``{"productIdentifier": "HT-2000"}``.

* Known IDs (``HT-1000`` .. ``HT-1010`` and ``HT-2000`` .. ``HT-2005``) answer ``200`` with
  ``{"productIdentifier", "name", "category", "description", "price", "currency", "supplier", "stock", "weight",
  "weightUnit"}``; the MPL is COMPLETED.
* An unknown ID is a *business* error handled inside the iFlow: ``404`` (set through ``CamelHttpResponseCode``),
  ``application/json`` body ``{"error": {"code": "PRODUCT_NOT_FOUND", "message": "Product HT-9999 does not exist"}}``;
  the MPL is COMPLETED with ``CustomStatus`` ``ProductNotFound``.
* A body that is not JSON or lacks ``productIdentifier`` is a processing error: ``500`` text/plain with the MPL id,
  the MPL is FAILED and its ErrorInformation explains the problem.

Integration packages: ``SandboxDemo`` (the iFlows above), ``SandboxOrders`` and ``SandboxMasterData`` (historic
iFlows that only appear in MPLs and as design-time/runtime artifacts).

Historic MPLs: ``config.runtime.history_mpls`` (3000) logs per tenant spread over the last
``config.runtime.history_days`` (7) days, generated from a seeded random generator (seed = tenant name +
``DEFAULT_SEED``), so IDs and statuses are stable between runs; timestamps are relative to the sandbox start.
Extra iFlows come from ``config.runtime.iflows`` (dicts shaped like ``DEFAULT_IFLOWS``).

Deployments (issue 18): every iFlow also exists at design time (``store.extra["designtime_iflows"]``), so it can be
undeployed and deployed again; ``deploy`` / ``settle_deployments`` / ``undeploy`` below run the build-and-deploy
tasks (``store.extra["deploy_tasks"]``) and the runtime status, with failures injected by ``fail_operation`` rules
on ``integration_artifact.deploy/<id>``.
"""


import base64
import copy
import json
import random
import threading
import time
import uuid

from .config import RuntimeConfig

MPL_HISTORY_COUNT = 3000
HISTORY_DAYS = 7
DEFAULT_SEED = 20250314

MPL_STATUSES = ("COMPLETED", "PROCESSING", "RETRY", "ESCALATED", "FAILED", "CANCELLED", "DISCARDED", "ABANDONED")
_STATUS_WEIGHTS = (78, 1, 2, 2, 10, 2, 4, 1)

_PRODUCT_NAMES = (
    ("Notebook Basic 15", "Notebooks", 956.0),
    ("Notebook Basic 17", "Notebooks", 1249.0),
    ("Notebook Basic 18", "Notebooks", 1570.0),
    ("Notebook Basic 19", "Notebooks", 1650.0),
    ("ITelO Vault", "PDAs & Organizers", 299.0),
    ("Notebook Professional 15", "Notebooks", 1999.0),
    ("Notebook Professional 17", "Notebooks", 2299.0),
    ("ITelO Vault Net", "PDAs & Organizers", 459.0),
    ("ITelO Vault SAT", "PDAs & Organizers", 149.0),
    ("Comfort Easy", "PDAs & Organizers", 1679.0),
    ("Comfort Senior", "PDAs & Organizers", 512.0),
)
_PRODUCT_NAMES_2000 = (
    ("Web cam reality", "Web Cams", 39.0),
    ("Web cam professional", "Web Cams", 89.0),
    ("Laser Allround Pro", "Laser Printers", 349.0),
    ("Laser Professional Eco", "Laser Printers", 829.0),
    ("Laser Basic", "Laser Printers", 489.0),
    ("Ultra Jet Super Color", "Ink Jet Printers", 139.0),
)
_SUPPLIERS = ("Becker Berlin", "Technocom", "Very Best Screens", "Talpa", "Panorama Studios")


def _build_products():
    products = {}
    for index, (name, category, price) in enumerate(_PRODUCT_NAMES):
        pid = "HT-%d" % (1000 + index)
        products[pid] = {
            "productIdentifier": pid, "name": name, "category": category,
            "description": "%s, sandbox demo product" % name, "price": price, "currency": "EUR",
            "supplier": _SUPPLIERS[index % len(_SUPPLIERS)], "stock": 10 * (index + 3),
            "weight": round(1.5 + index * 0.35, 2), "weightUnit": "KG",
        }
    for index, (name, category, price) in enumerate(_PRODUCT_NAMES_2000):
        pid = "HT-%d" % (2000 + index)
        products[pid] = {
            "productIdentifier": pid, "name": name, "category": category,
            "description": "%s, sandbox demo product" % name, "price": price, "currency": "EUR",
            "supplier": _SUPPLIERS[(index + 2) % len(_SUPPLIERS)], "stock": 25 * (index + 1),
            "weight": round(0.2 + index * 0.9, 2), "weightUnit": "KG",
        }
    return products


PRODUCTS = _build_products()

DEFAULT_PACKAGES = (
    {"Id": "SandboxDemo", "Name": "Sandbox Demo", "ShortText": "Demo iFlows of the BTP sandbox",
     "Description": "HTTP and SOAP demo integration flows used by the tests and the demo.", "Version": "1.0.3"},
    {"Id": "SandboxOrders", "Name": "Sandbox Orders", "ShortText": "Order replication",
     "Description": "Order replication between the web shop and the ERP system.", "Version": "2.1.0"},
    {"Id": "SandboxMasterData", "Name": "Sandbox Master Data", "ShortText": "Master data distribution",
     "Description": "Business partner and material master distribution.", "Version": "1.4.2"},
)

_ROLE = "ESBMessaging.send"

DEFAULT_IFLOWS = (
    {"id": "Products_Details", "name": "Products Details", "address": "/products/details", "servlet": "http",
     "methods": ["POST"], "role": _ROLE, "csrf_protected": False, "behaviour": {"kind": "products"},
     "package_id": "SandboxDemo", "sender": "WebShop", "receiver": "ProductCatalog", "version": "1.0.3"},
    {"id": "Echo_HTTP", "name": "Echo HTTP", "address": "/echo", "servlet": "http", "methods": None,
     "role": _ROLE, "csrf_protected": False, "behaviour": {"kind": "echo"},
     "package_id": "SandboxDemo", "sender": "Sender", "receiver": None, "version": "1.0.0"},
    {"id": "Echo_HTTP_CSRF", "name": "Echo HTTP CSRF", "address": "/csrf/echo", "servlet": "http",
     "methods": None, "role": _ROLE, "csrf_protected": True, "behaviour": {"kind": "echo"},
     "package_id": "SandboxDemo", "sender": "Sender", "receiver": None, "version": "1.0.0"},
    {"id": "Always_Fail", "name": "Always Fail", "address": "/fail", "servlet": "http", "methods": None,
     "role": _ROLE, "csrf_protected": False,
     "behaviour": {"kind": "fail",
                   "error": "com.sap.it.rt.adapter.http.api.exception.HttpResponseException: An internal server "
                            "error occurred: Simulated failure of iFlow Always_Fail."},
     "package_id": "SandboxDemo", "sender": "Sender", "receiver": "Backend", "version": "1.0.0"},
    {"id": "Status_Created", "name": "Status Created", "address": "/status/created", "servlet": "http",
     "methods": None, "role": _ROLE, "csrf_protected": False,
     "behaviour": {"kind": "status", "status": 201, "body": {"result": "created"}},
     "package_id": "SandboxDemo", "sender": "Sender", "receiver": None, "version": "1.0.0"},
    {"id": "Slow_Echo", "name": "Slow Echo", "address": "/slow", "servlet": "http", "methods": None,
     "role": _ROLE, "csrf_protected": False, "behaviour": {"kind": "delay", "seconds": 0.3},
     "package_id": "SandboxDemo", "sender": "Sender", "receiver": None, "version": "1.0.0"},
    {"id": "Forward_OAuth", "name": "Forward OAuth", "address": "/forward", "servlet": "http", "methods": None,
     "role": _ROLE, "csrf_protected": False,
     "behaviour": {"kind": "forward", "credential": "forward_target", "target_tenant": None, "path": "/http/echo"},
     "package_id": "SandboxDemo", "sender": "Sender", "receiver": "PartnerTenant", "version": "1.0.0"},
    {"id": "SOAP_Echo", "name": "SOAP Echo", "address": "/soap/echo", "servlet": "cxf", "methods": ["POST"],
     "role": _ROLE, "csrf_protected": False, "behaviour": {"kind": "soap_echo"},
     "package_id": "SandboxDemo", "sender": "SOAPSender", "receiver": None, "version": "1.0.1"},
)

# iFlows that exist only as history (MPLs) and design-time/runtime artifacts; they have no endpoint.
HISTORIC_IFLOWS = (
    {"id": "Order_Replication_S4", "name": "Order Replication to S/4HANA", "package_id": "SandboxOrders",
     "sender": "WebShop", "receiver": "S4HANA", "version": "2.1.0"},
    {"id": "Order_Status_Update", "name": "Order Status Update", "package_id": "SandboxOrders",
     "sender": "S4HANA", "receiver": "WebShop", "version": "2.0.4"},
    {"id": "BusinessPartner_Distribution", "name": "Business Partner Distribution",
     "package_id": "SandboxMasterData", "sender": "MDG", "receiver": "CRM", "version": "1.4.2"},
    {"id": "Material_Master_Sync", "name": "Material Master Sync", "package_id": "SandboxMasterData",
     "sender": "S4HANA", "receiver": "PIM", "version": "1.3.0"},
)

_ERROR_TEXTS = (
    "com.sap.gateway.core.ip.component.odata.exception.OsciException: Bad Request : 400 : HTTP/1.1 ",
    "org.apache.camel.component.ahc.AhcOperationFailedException: HTTP operation failed invoking "
    "https://backend.example.com/orders with statusCode: 503",
    "java.net.SocketTimeoutException: Read timed out",
    "com.sap.it.rt.scc.connectivity.security.IllegalCredentialsException: Credentials for the alias "
    "BACKEND_USER not found",
    "javax.script.ScriptException: java.lang.NullPointerException: Cannot invoke method getText() on null object",
)

_PENDING_LOCK = threading.Lock()


def new_guid(rng=None):
    """Return a 28-character MPL style id (base64url alphabet, starting with ``A``)."""
    if rng is None:
        raw = uuid.uuid4().bytes + uuid.uuid4().bytes[:4]
        body = base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")[:27]
        return "A" + body
    raw = rng.getrandbits(168).to_bytes(21, "big")
    return "A" + base64.urlsafe_b64encode(raw).decode("ascii")[:27]


def _hex32(rng=None):
    if rng is None:
        return uuid.uuid4().hex
    return "%032x" % rng.getrandbits(128)


def _component(tenant):
    return "CPI_%s" % tenant.subdomain


def package_index(store, tenant_name):
    """Map package id -> package dict for one tenant."""
    return {pkg["Id"]: pkg for pkg in store.packages.get(tenant_name, [])}


def _artifact(iflow, packages):
    pkg = packages.get(iflow.get("package_id"))
    return {
        "Id": iflow["id"], "Name": iflow.get("name") or iflow["id"], "Type": "INTEGRATION_FLOW",
        "PackageId": iflow.get("package_id"), "PackageName": pkg["Name"] if pkg else None,
    }


def new_mpl(tenant, iflow, packages, status="PROCESSING", start_ms=None, end_ms=None, rng=None,
            correlation_id=None, error_text=None, custom_status=None, application_message_id=None):
    """Build one MPL record.

    The record keys are the OData property names of ``com.sap.hci.api.MessageProcessingLog`` (dates as epoch
    milliseconds); keys starting with ``_`` are internal: ``_error`` (ErrorInformation text),
    ``_error_type``, ``_due`` / ``_final`` (pending completion of a runtime message).
    """
    now_ms = int(time.time() * 1000)
    start_ms = now_ms if start_ms is None else start_ms
    end_ms = start_ms if end_ms is None else end_ms
    guid = new_guid(rng)
    return {
        "MessageGuid": guid,
        "CorrelationId": correlation_id or new_guid(rng),
        "ApplicationMessageId": application_message_id,
        "PredecessorMessageGuid": None,
        "ApplicationMessageType": None,
        "LogStart": start_ms,
        "LogEnd": end_ms,
        "Sender": iflow.get("sender"),
        "Receiver": iflow.get("receiver"),
        "IntegrationFlowName": iflow["id"],
        "Status": status,
        "IntegrationArtifact": _artifact(iflow, packages),
        "LogLevel": "INFO",
        "CustomStatus": custom_status or status,
        "ArchivingStatus": "NOT_RELEVANT",
        "ArchivingSenderChannelMessages": False,
        "ArchivingReceiverChannelMessages": False,
        "ArchivingLogAttachments": False,
        "ArchivingPersistedMessages": False,
        "TransactionId": _hex32(rng),
        "PreviousComponentName": _component(tenant),
        "LocalComponentName": _component(tenant),
        "OriginComponentName": _component(tenant),
        "_error": error_text,
        "_error_type": "MPL_ERROR" if error_text else None,
    }


def _packages_for(tenant, created_ms):
    packages = []
    for spec in DEFAULT_PACKAGES:
        pkg = {
            "Id": spec["Id"], "Name": spec["Name"], "ResourceId": uuid.uuid5(uuid.NAMESPACE_URL, tenant.name + spec["Id"]).hex,
            "Description": spec["Description"], "ShortText": spec["ShortText"], "Version": spec["Version"],
            "Vendor": "Sandbox", "PartnerContent": False, "UpdateAvailable": False, "Mode": "EDIT_ALLOWED",
            "SupportedPlatform": "SAP Cloud Integration", "ModifiedBy": "sandbox-admin",
            "CreationDate": str(created_ms), "ModifiedDate": str(created_ms), "CreatedBy": "sandbox-admin",
            "Products": "SAP Cloud Integration", "Keywords": "sandbox", "Countries": "", "Industries": "",
            "LineOfBusiness": "",
        }
        packages.append(pkg)
    return packages


def _designtime_artifacts(iflows, created_ms):
    artifacts = []
    for iflow in iflows:
        artifacts.append({
            "Id": iflow["id"], "Version": iflow.get("version") or "1.0.0", "PackageId": iflow.get("package_id"),
            "Name": iflow.get("name") or iflow["id"], "Description": "Sandbox integration flow %s" % iflow["id"],
            "Sender": iflow.get("sender"), "Receiver": iflow.get("receiver"), "CreatedBy": "sandbox-admin",
            "CreatedAt": str(created_ms), "ModifiedBy": "sandbox-admin", "ModifiedAt": str(created_ms),
            "ArtifactContent": None,
        })
    return artifacts


def _runtime_artifacts(iflows, deployed_ms):
    return [{
        "Id": iflow["id"], "Version": iflow.get("version") or "1.0.0", "Name": iflow.get("name") or iflow["id"],
        "Type": "INTEGRATION_FLOW", "DeployedBy": "sandbox-admin", "DeployedOn": deployed_ms, "Status": "STARTED",
        "_error": None,
    } for iflow in iflows]


def _history(tenant, iflows, packages, count, seed, now_ms, days=HISTORY_DAYS):
    rng = random.Random("%s:%s" % (tenant.name, seed))
    span_ms = days * 24 * 3600 * 1000
    mpls = []
    for _unused in range(count):
        iflow = iflows[rng.randrange(len(iflows))]
        status = rng.choices(MPL_STATUSES, _STATUS_WEIGHTS)[0]
        start = now_ms - rng.randrange(60 * 1000, span_ms)
        if status == "PROCESSING":
            start = now_ms - rng.randrange(1000, 10 * 60 * 1000)
        end = start + rng.randrange(15, 4000)
        error = None
        if status in ("FAILED", "RETRY", "ESCALATED"):
            error = rng.choice(_ERROR_TEXTS)
        app_id = "PO-%07d" % rng.randrange(10 ** 7) if rng.random() < 0.3 else None
        mpls.append(new_mpl(tenant, iflow, packages, status=status, start_ms=start, end_ms=end, rng=rng,
                            error_text=error, application_message_id=app_id))
    mpls.sort(key=lambda m: m["LogStart"])
    return mpls


def runtime_config(sandbox):
    """``sandbox.config.runtime`` (RuntimeConfig: extra iFlows, history size, MPL completion delay)."""
    cfg = getattr(getattr(sandbox, "config", None), "runtime", None)
    return cfg if cfg is not None else RuntimeConfig()


def normalize_iflow(spec):
    """Fill defaults of an iFlow definition (dict as in ``DEFAULT_IFLOWS``)."""
    iflow = {"servlet": "http", "methods": None, "role": _ROLE, "csrf_protected": True,
             "behaviour": {"kind": "echo"}, "package_id": "SandboxDemo", "sender": None, "receiver": None,
             "version": "1.0.0"}
    iflow.update(copy.deepcopy(spec))
    if "name" not in iflow:
        iflow["name"] = iflow["id"]
    address = iflow["address"]
    if not address.startswith("/"):
        raise ValueError("iFlow address must start with '/': %r" % address)
    if "*" in address[:-1] or (address.endswith("*") and not address.endswith("/*")):
        raise ValueError("'*' is only allowed at the end of an address, after '/': %r" % address)
    if iflow["servlet"] not in ("http", "cxf"):
        raise ValueError("servlet must be 'http' or 'cxf': %r" % iflow["servlet"])
    return iflow


def seed(sandbox, tenant):
    """Populate the store with the default content of one tenant (idempotent: keeps existing content)."""
    cfg = runtime_config(sandbox)
    store = sandbox.store
    now_ms = int(time.time() * 1000)
    created_ms = now_ms - 30 * 24 * 3600 * 1000
    with store.lock:
        if not store.packages.get(tenant.name):
            store.packages[tenant.name] = _packages_for(tenant, created_ms)
        packages = package_index(store, tenant.name)
        if not store.iflows.get(tenant.name):
            specs = list(DEFAULT_IFLOWS) + list(cfg.iflows)
            store.iflows[tenant.name] = [normalize_iflow(spec) for spec in specs]
        all_flows = list(store.iflows[tenant.name]) + list(HISTORIC_IFLOWS)
        registry = store.extra.setdefault("designtime_iflows", {})
        if not registry.get(tenant.name):
            registry[tenant.name] = {flow["id"]: copy.deepcopy(flow) for flow in all_flows}
        designtime = getattr(store, "designtime_artifacts", None)
        if isinstance(designtime, dict) and not designtime.get(tenant.name):
            designtime[tenant.name] = _designtime_artifacts(all_flows, created_ms)
        if not store.runtime_artifacts.get(tenant.name):
            store.runtime_artifacts[tenant.name] = _runtime_artifacts(all_flows, now_ms - 2 * 24 * 3600 * 1000)
        if not store.mpls.get(tenant.name):
            store.mpls[tenant.name] = _history(tenant, all_flows, packages, cfg.history_mpls, DEFAULT_SEED,
                                               now_ms, cfg.history_days)


def designtime_artifacts(store, tenant_name):
    """Design-time artifacts of a tenant (kept in ``store.designtime_artifacts`` when A's Store has it,
    otherwise derived from the design-time iFlows, which stay when an iFlow is undeployed)."""
    designtime = getattr(store, "designtime_artifacts", None)
    if isinstance(designtime, dict) and tenant_name in designtime:
        return designtime[tenant_name]
    registry = store.extra.get("designtime_iflows", {}).get(tenant_name)
    if registry is not None:
        return _designtime_artifacts(list(registry.values()), 0)
    flows = list(store.iflows.get(tenant_name, [])) + list(HISTORIC_IFLOWS)
    return _designtime_artifacts(flows, 0)


def add_iflow(store, tenant_name, spec):
    """Add (or replace by id) an iFlow of a tenant and mark it deployed; returns the normalised iFlow."""
    iflow = normalize_iflow(spec)
    with store.lock:
        store.extra.setdefault("designtime_iflows", {}).setdefault(tenant_name, {})[iflow["id"]] = copy.deepcopy(iflow)
        flows = [f for f in store.iflows.setdefault(tenant_name, []) if f["id"] != iflow["id"]]
        flows.append(iflow)
        store.iflows[tenant_name] = flows
        arts = [a for a in store.runtime_artifacts.setdefault(tenant_name, []) if a["Id"] != iflow["id"]]
        arts.extend(_runtime_artifacts([iflow], int(time.time() * 1000)))
        store.runtime_artifacts[tenant_name] = arts
    return iflow


def remove_iflow(store, tenant_name, iflow_id):
    """Undeploy an iFlow (its endpoint answers 404 afterwards)."""
    with store.lock:
        store.iflows[tenant_name] = [f for f in store.iflows.get(tenant_name, []) if f["id"] != iflow_id]
        store.runtime_artifacts[tenant_name] = [
            a for a in store.runtime_artifacts.get(tenant_name, []) if a["Id"] != iflow_id]


# ---------------------------------------------------------------------------------------------------------------
# Runtime MPLs: written as PROCESSING, completed lazily once their due time has passed.

def _pending(store):
    pending = getattr(store, "mpl_pending", None)
    if pending is None:
        with _PENDING_LOCK:
            pending = getattr(store, "mpl_pending", None)
            if pending is None:
                pending = {}
                store.mpl_pending = pending
    return pending


def start_runtime_mpl(store, tenant, iflow, correlation_id=None):
    """Record a PROCESSING MPL for a runtime call; returns the MPL dict."""
    with store.lock:
        packages = package_index(store, tenant.name)
        mpl = new_mpl(tenant, iflow, packages, status="PROCESSING", correlation_id=correlation_id)
        store.mpls.setdefault(tenant.name, []).append(mpl)
    return mpl


def finish_runtime_mpl(sandbox, tenant, mpl, status, error_text=None, custom_status=None):
    """Schedule the final status of a runtime MPL (applied after ``mpl_completion_delay_s``)."""
    store = sandbox.store
    delay = runtime_config(sandbox).mpl_complete_delay_s
    now = time.time()
    final = {"Status": status, "CustomStatus": custom_status or status, "LogEnd": int(now * 1000),
             "_error": error_text, "_error_type": "MPL_ERROR" if error_text else None}
    with store.lock:
        if delay <= 0:
            mpl.update(final)
            return
        mpl["_due"] = now + delay
        mpl["_final"] = final
        _pending(store).setdefault(tenant.name, []).append(mpl)


def settle_mpls(store, tenant_name, now=None):
    """Apply due completions of runtime MPLs of a tenant (called before the OData API reads MPLs)."""
    pending = _pending(store).get(tenant_name)
    if not pending:
        return
    now = time.time() if now is None else now
    with store.lock:
        keep = []
        for mpl in pending:
            if mpl.get("_due", 0) <= now:
                mpl.update(mpl.pop("_final", {}))
                mpl.pop("_due", None)
            else:
                keep.append(mpl)
        pending[:] = keep


def find_product(product_id):
    """Return the product dict of a demo product id, or None."""
    return PRODUCTS.get(product_id)


# ---------------------------------------------------------------------------------------------------------------
# Deployments (issue 18): DeployIntegrationDesigntimeArtifact -> build-and-deploy task -> runtime artifact.
#
# A task is DEPLOYING for the first half of ``profile.deploy_s`` (the build), then SUCCESS; the runtime artifact is
# STARTING until the end of ``deploy_s`` and then STARTED. A ``fail_operation`` fault rule whose ``operation``
# matches ``integration_artifact.deploy/<artifact id>`` makes the deployment fail with the rule's ``message``:
# mode ``async`` (default) lets the build succeed and the start fail (runtime artifact ERROR), mode ``sync`` fails
# the task itself (``FAIL``) and leaves the runtime artifact in ERROR. Sources: JL cmd/integrationArtifactDeploy.go
# (task id body, statuses), JL pkg/cpi/mockingUtils.go (ErrorInformation/$value shape).

DEPLOY_OPERATION = "integration_artifact.deploy/%s"
TASK_FINAL = ("SUCCESS", "FAIL", "FAIL_ON_LICENSE_ERROR")


def designtime_iflow(store, tenant_name, artifact_id):
    """The design-time iFlow spec of an id (None when the tenant has no such design-time artifact)."""
    with store.lock:
        spec = store.extra.get("designtime_iflows", {}).get(tenant_name, {}).get(artifact_id)
        return copy.deepcopy(spec) if spec is not None else None


def _tasks(store):
    with store.lock:
        return store.extra.setdefault("deploy_tasks", {})


def find_runtime_artifact(store, tenant_name, artifact_id):
    for art in store.runtime_artifacts.get(tenant_name, []):
        if art["Id"] == artifact_id:
            return art
    return None


def deploy(sandbox, tenant, artifact_id, deployed_by, fault=None):
    """Start a deployment of the design-time iFlow ``artifact_id``; returns the task id (the caller checked that the
    artifact exists). ``fault`` is a consumed ``fail_operation`` rule or None."""
    store = sandbox.store
    spec = designtime_iflow(store, tenant.name, artifact_id)
    deploy_s = float(getattr(sandbox.config.profile, "deploy_s", 0.3))
    now = time.time()
    task_id = uuid.uuid4().hex
    task = {"TaskId": task_id, "Status": "DEPLOYING", "tenant": tenant.name, "artifact_id": artifact_id,
            "build_due": now + deploy_s / 2.0, "start_due": now + deploy_s,
            "fault": {"mode": fault.mode, "message": fault.message} if fault is not None else None}
    with store.lock:
        art = find_runtime_artifact(store, tenant.name, artifact_id)
        if art is None:
            art = {"Id": artifact_id, "Name": spec.get("name") or artifact_id, "Type": "INTEGRATION_FLOW"}
            store.runtime_artifacts[tenant.name].append(art)
        art.update({"Version": spec.get("version") or "1.0.0", "Name": spec.get("name") or artifact_id,
                    "DeployedBy": deployed_by, "DeployedOn": int(now * 1000), "Status": "STARTING", "_error": None,
                    "_task": task_id})
        if spec.get("address"):
            flows = [f for f in store.iflows[tenant.name] if f["id"] != artifact_id]
            flows.append(normalize_iflow(spec))
            store.iflows[tenant.name] = flows
        # a newer deployment supersedes a pending one of the same artifact
        for other in _tasks(store).values():
            if other["tenant"] == tenant.name and other["artifact_id"] == artifact_id and other["Status"] == "DEPLOYING":
                other["Status"] = "FAIL"
                other["superseded"] = True
        _tasks(store)[task_id] = task
    return task_id


def deployment_error_text(message, artifact_id):
    """ErrorInformation/$value of a failed deployment, in the shape of the real API (JL pkg/cpi/mockingUtils.go)."""
    inner = {"message": "ERROR", "childMessageInstances": [
        {"message": "EXCEPTION",
         "parameters": ["org.osgi.service.blueprint.container.ComponentDefinitionException: Error when instantiating "
                        "bean MessageFlow_%s_configurator of class null" % artifact_id],
         "childMessageInstances": [{"message": "CAUSE", "parameters": [message]}]}]}
    return json.dumps({"message": {"subsystemName": "CONTENT", "subsytemPartName": "CONTENT_DEPLOY",
                                   "messageId": "InstanceError", "messageText": ""},
                       "parameter": [json.dumps(inner)]})


def settle_deployments(store, tenant_name, now=None):
    """Apply due steps of the build-and-deploy tasks of a tenant (called before anything reads their effects)."""
    now = time.time() if now is None else now
    with store.lock:
        for task in _tasks(store).values():
            if task["tenant"] != tenant_name or task.get("superseded") or task.get("settled"):
                continue
            art = find_runtime_artifact(store, tenant_name, task["artifact_id"])
            if art is None or art.get("_task") != task["TaskId"]:
                task["settled"] = True
                if task["Status"] == "DEPLOYING":
                    task["Status"] = "FAIL"
                continue
            fault = task.get("fault")
            if task["Status"] == "DEPLOYING" and now >= task["build_due"]:
                if fault and fault["mode"] == "sync":
                    task["Status"] = "FAIL"
                    art["Status"] = "ERROR"
                    art["_error"] = fault["message"]
                    task["settled"] = True
                    continue
                task["Status"] = "SUCCESS"
            if task["Status"] == "SUCCESS" and now >= task["start_due"]:
                if fault:
                    art["Status"] = "ERROR"
                    art["_error"] = fault["message"]
                else:
                    art["Status"] = "STARTED"
                task["settled"] = True


def find_task(store, tenant_name, task_id):
    with store.lock:
        task = _tasks(store).get(task_id)
        return dict(task) if task is not None and task["tenant"] == tenant_name else None


def undeploy(store, tenant_name, artifact_id):
    """Remove a runtime artifact and its endpoint (the endpoint answers 404 afterwards); False when not deployed."""
    with store.lock:
        if find_runtime_artifact(store, tenant_name, artifact_id) is None:
            return False
        remove_iflow(store, tenant_name, artifact_id)
        return True
