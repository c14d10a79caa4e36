# -*- coding: utf-8 -*-
"""API Management API portal of a sandbox tenant (btp_sandbox.apiportal) and the apimanagement-apiportal offering.

Sources of the behaviour (integration-suite-apis.md, "API Management: API providers"): endpoints and flat key
(SD accessing-api-management-apis-programmatically), read cache of about 20 s after writes (PTF guide), no CSRF
token sent by Piper (JL APIMUtility.go); update in place and secrets on read are unconfirmed settings.
"""

import time
import xml.etree.ElementTree as ET

import pytest
import requests

from tenant_clients import CfClient, fetch_token, make_session, tenant_info

BASE = "/apiportal/api/1.0/Management.svc"


def _portal_key(cf, acme, role, parameters=None):
    return cf.create_key(cf.create_instance(acme, "apiportal-apiaccess", {"role": role}), parameters)[1]


def _token(conn, key):
    return fetch_token(conn, {"clientid": key["clientId"], "clientsecret": key["clientSecret"]})


@pytest.fixture(scope="module")
def admin_key(cf, acme):
    return _portal_key(cf, acme, "APIPortal.Administrator")


@pytest.fixture(scope="module")
def admin(conn, admin_key):
    return make_session(conn, _token(conn, admin_key))


@pytest.fixture(scope="module")
def portal(admin_key):
    return admin_key["url"] + BASE


def _provider(name, **extra):
    body = {"name": name, "title": "T", "description": "D", "destType": "INTERNET", "host": "tenant.example.com",
            "port": 443, "useSSL": True, "pathPrefix": "/api/v1", "authType": "OAuth2ClientCredentials",
            "clientId": "cid", "clientSecret": "s3cr3t-value", "tokenUrl": "https://t.example.com/oauth/token",
            "additionalProperties": {"results": [{"name": "fp", "value": "sha256:1"}]}}
    body.update(extra)
    return body


def test_key_is_flat_and_plan_is_in_marketplace(cf, acme, admin_key, conn):
    assert set(admin_key) == {"url", "tokenUrl", "clientId", "clientSecret"}
    assert admin_key["url"] == tenant_info(conn, "acme")["apiportal_url"]
    plans = cf.get("/v3/service_plans", service_offering_names="apimanagement-apiportal")["resources"]
    assert [p["name"] for p in plans] == ["apiportal-apiaccess"]


def test_x509_key_variant(cf, acme):
    key = _portal_key(cf, acme, "APIPortal.Guest", {"credential-type": "x509"})
    assert set(key) == {"url", "certurl", "clientId", "certificate", "privateKey"}
    assert "BEGIN CERTIFICATE" in key["certificate"]


def test_instance_role_is_validated(cf, acme):
    body = {"type": "managed", "name": "bad-role", "parameters": {"role": "APIPortal.Nobody"},
            "relationships": {"space": {"data": {"guid": cf.space_guid(acme)}},
                              "service_plan": {"data": {"guid": cf.plan_guid("apiportal-apiaccess")}}}}
    response = cf.session.post(cf.api + "/v3/service_instances", json=body, timeout=10)
    job = cf.wait_job(response.headers["Location"])
    assert job["state"] == "FAILED" and "role" in job["errors"][0]["detail"]


def test_metadata_declares_the_live_apiprovider(admin, portal):
    response = admin.get(portal + "/$metadata")
    assert response.status_code == 200
    root = ET.fromstring(response.content)
    edm = "{http://schemas.microsoft.com/ado/2008/09/edm}"
    entity = next(e for e in root.iter(edm + "EntityType") if e.get("Name") == "APIProvider")
    props = {p.get("Name"): p for p in entity.iter(edm + "Property")}
    assert props["name"].get("MaxLength") == "200" and props["name"].get("Nullable") == "false"
    assert {"clientId", "clientSecret", "tokenUrl", "destType", "authType", "pathPrefix"} <= set(props)
    assert [n.get("Name") for n in entity.iter(edm + "NavigationProperty")] == ["additionalProperties"]


def test_crud_and_read_cache(admin, portal, btp_sandbox):
    name = "prov-crud"
    assert admin.post(portal + "/APIProviders", json=_provider(name)).status_code == 201
    # the read cache answers the state from before the write for a while (fast profile: short)
    cached = admin.get(portal + "/APIProviders('%s')" % name)
    assert cached.status_code == 404
    deadline = time.time() + 5
    while time.time() < deadline:
        found = admin.get(portal + "/APIProviders('%s')?$expand=additionalProperties" % name)
        if found.status_code == 200:
            break
        time.sleep(0.2)
    data = found.json()["d"]
    assert data["clientId"] == "cid" and data["clientSecret"] is None
    assert data["additionalProperties"]["results"][0]["value"] == "sha256:1"
    listed = admin.get(portal + "/APIProviders", params={"$filter": "name eq '%s'" % name}).json()["d"]["results"]
    assert [p["name"] for p in listed] == [name]
    assert admin.post(portal + "/APIProviders", json=_provider(name)).status_code == 409
    assert admin.put(portal + "/APIProviders('%s')" % name, json=_provider(name)).status_code == 405
    assert admin.delete(portal + "/APIProviders('%s')" % name).status_code == 204
    assert admin.delete(portal + "/APIProviders('%s')" % name).status_code == 404


def test_guest_reads_but_cannot_write(conn, cf, acme, portal):
    guest = make_session(conn, _token(conn, _portal_key(cf, acme, "APIPortal.Guest")))
    assert guest.get(portal + "/APIProviders").status_code == 200
    assert guest.post(portal + "/APIProviders", json=_provider("guest-prov")).status_code == 403


def test_unauthenticated_and_wrong_plan(conn, cf, acme, portal):
    assert requests.get(portal + "/APIProviders", verify=conn["ca_bundle"], timeout=10).status_code == 401
    api_key = cf.create_key(cf.create_instance(acme, "api", {"roles": ["MonitoringDataRead"]}))[1]["oauth"]
    other = make_session(conn, fetch_token(conn, api_key))
    assert other.get(portal + "/APIProviders").status_code == 403


def test_settings_csrf_update_in_place_secrets(sandbox_factory):
    sandbox = sandbox_factory({"apiportal": {"csrf_required": True, "update_in_place": True,
                                             "secrets_returned_on_read": True, "read_cache_s": 0},
                               "profile": {"name": "fast", "apiportal_read_cache_s": 0}})
    conn = sandbox.connection
    cf = CfClient(conn)
    acme = tenant_info(conn, "acme")
    key = _portal_key(cf, acme, "APIPortal.Administrator")
    session = make_session(conn, _token(conn, key))
    portal = key["url"] + BASE
    refused = session.post(portal + "/APIProviders", json=_provider("p1"))
    assert refused.status_code == 403 and refused.headers["X-CSRF-Token"] == "Required"
    token = session.get(portal + "/", headers={"X-CSRF-Token": "Fetch"}).headers["X-CSRF-Token"]
    session.headers["X-CSRF-Token"] = token
    assert session.post(portal + "/APIProviders", json=_provider("p1")).status_code == 201
    assert session.put(portal + "/APIProviders('p1')", json=_provider("p1", title="T2")).status_code == 204
    data = session.get(portal + "/APIProviders('p1')").json()["d"]
    assert data["title"] == "T2" and data["clientSecret"] == "s3cr3t-value"
