# -*- coding: utf-8 -*-
"""Default content of every sandbox tenant (btp_sandbox.content)."""

import re
import time
import types
from collections import Counter

import pytest

from btp_sandbox import content
from btp_sandbox.config import load_config
from btp_sandbox.state import Store

GUID_RE = re.compile(r"^A[A-Za-z0-9_-]{27}$")


def _seeded(tenant_name="acme", **runtime):
    config = load_config()
    for key, value in runtime.items():
        setattr(config.runtime, key, value)
    sandbox = types.SimpleNamespace(config=config, store=Store())
    tenant = next(t for t in config.tenants if t.name == tenant_name)
    content.seed(sandbox, tenant)
    return sandbox, tenant


def test_default_iflows_are_deployed():
    sandbox, _tenant = _seeded()
    flows = {(f["servlet"], f["address"]): f for f in sandbox.store.iflows["acme"]}
    assert flows[("http", "/products/details")]["methods"] == ["POST"]
    assert flows[("http", "/products/details")]["role"] == "ESBMessaging.send"
    assert flows[("http", "/products/details")]["csrf_protected"] is False
    assert flows[("http", "/echo")]["methods"] is None
    assert flows[("http", "/csrf/echo")]["csrf_protected"] is True
    assert flows[("http", "/fail")]["behaviour"]["kind"] == "fail"
    assert flows[("cxf", "/soap/echo")]["behaviour"]["kind"] == "soap_echo"
    deployed = {a["Id"]: a for a in sandbox.store.runtime_artifacts["acme"]}
    for flow in flows.values():
        assert deployed[flow["id"]]["Status"] == "STARTED"
        assert deployed[flow["id"]]["Type"] == "INTEGRATION_FLOW"


def test_packages_exist_and_reference_artifacts():
    sandbox, _tenant = _seeded()
    packages = {p["Id"]: p for p in sandbox.store.packages["acme"]}
    assert {"SandboxDemo", "SandboxOrders", "SandboxMasterData"} <= set(packages)
    assert packages["SandboxDemo"]["Mode"] == "EDIT_ALLOWED"
    artifacts = content.designtime_artifacts(sandbox.store, "acme")
    assert {a["PackageId"] for a in artifacts} == {"SandboxDemo", "SandboxOrders", "SandboxMasterData"}


def test_history_has_3000_mpls_over_7_days_with_mixed_statuses():
    sandbox, _tenant = _seeded()
    mpls = sandbox.store.mpls["acme"]
    assert len(mpls) >= 3000
    now_ms = time.time() * 1000
    assert all(now_ms - 7 * 24 * 3600 * 1000 <= m["LogStart"] <= now_ms for m in mpls)
    assert max(m["LogStart"] for m in mpls) - min(m["LogStart"] for m in mpls) > 6 * 24 * 3600 * 1000
    statuses = Counter(m["Status"] for m in mpls)
    assert set(statuses) == set(content.MPL_STATUSES)
    assert statuses["COMPLETED"] > statuses["FAILED"] > 0
    assert all(GUID_RE.match(m["MessageGuid"]) and GUID_RE.match(m["CorrelationId"]) for m in mpls)
    assert len({m["MessageGuid"] for m in mpls}) == len(mpls)
    assert all(m["_error"] for m in mpls if m["Status"] == "FAILED")
    assert all(re.match(r"^[0-9a-f]{32}$", m["TransactionId"]) for m in mpls)


def test_history_is_deterministic_per_tenant():
    first, _unused = _seeded()
    second, _unused = _seeded()
    other, _unused = _seeded("globex")
    ids = [m["MessageGuid"] for m in first.store.mpls["acme"]]
    assert ids == [m["MessageGuid"] for m in second.store.mpls["acme"]]
    assert [m["Status"] for m in first.store.mpls["acme"]] == [m["Status"] for m in second.store.mpls["acme"]]
    assert set(ids).isdisjoint(m["MessageGuid"] for m in other.store.mpls["globex"])


def test_history_size_is_configurable_and_seeding_is_fast():
    started = time.monotonic()
    sandbox, _tenant = _seeded(history_mpls=3500)
    assert time.monotonic() - started < 1.0
    assert len(sandbox.store.mpls["acme"]) == 3500


def test_seed_keeps_existing_content():
    sandbox, tenant = _seeded()
    sandbox.store.mpls["acme"].append({"MessageGuid": "Amarker"})
    content.seed(sandbox, tenant)
    assert sandbox.store.mpls["acme"][-1] == {"MessageGuid": "Amarker"}


def test_extra_iflows_from_config():
    sandbox, _tenant = _seeded(iflows=[{"id": "Custom_Flow", "address": "/custom/*", "role": "MyRole",
                                        "behaviour": {"kind": "status", "status": 202}}])
    flow = next(f for f in sandbox.store.iflows["acme"] if f["id"] == "Custom_Flow")
    assert flow["servlet"] == "http" and flow["csrf_protected"] is True  # adapter default: CSRF protected
    assert any(a["Id"] == "Custom_Flow" for a in sandbox.store.runtime_artifacts["acme"])


@pytest.mark.parametrize("address", ["no-slash", "/a*b", "/ab*"])
def test_invalid_iflow_addresses_are_rejected(address):
    with pytest.raises(ValueError):
        content.normalize_iflow({"id": "X", "address": address})


def test_products_catalogue():
    assert content.find_product("HT-2000")["productIdentifier"] == "HT-2000"
    for number in list(range(1000, 1011)) + list(range(2000, 2006)):
        assert content.find_product("HT-%d" % number)["currency"] == "EUR"
    assert content.find_product("HT-9999") is None


def test_runtime_mpl_completes_after_delay():
    sandbox, tenant = _seeded(mpl_complete_delay_s=0.05)
    flow = sandbox.store.iflows["acme"][0]
    mpl = content.start_runtime_mpl(sandbox.store, tenant, flow)
    content.finish_runtime_mpl(sandbox, tenant, mpl, "FAILED", error_text="boom")
    content.settle_mpls(sandbox.store, "acme")
    assert mpl["Status"] == "PROCESSING"
    content.settle_mpls(sandbox.store, "acme", now=time.time() + 0.1)
    assert mpl["Status"] == "FAILED" and mpl["_error"] == "boom" and mpl["LogEnd"] >= mpl["LogStart"]
    assert mpl["IntegrationArtifact"]["PackageName"] == "Sandbox Demo"
