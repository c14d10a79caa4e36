# -*- coding: utf-8 -*-
"""Helpers shared by the proof suites (issue 9): bad-input catalogue, fault injection and the secret-leak guard.

- ``CfSetup``: creates it-rt instances and keys directly through the sandbox's CF v3 API (test fixtures that must
  not depend on the modules under test);
- ``pem_material``: certificates and keys for the certificate cases (expired, untrusted, mismatched);
- ``secret_forms`` / ``scan_paths`` / ``scan_text``: find secret values in any text or file tree, raw and encoded;
- ``sandbox_signature``: what must not change when a task fails (instances, keys, jobs);
- ``run_once_across_workers``: run an expensive step once per pytest session even under pytest-xdist.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import fcntl
import hashlib
import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote, quote_plus

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


HERE = Path(__file__).resolve().parent


def e2e_conftest():
    """tests/e2e/conftest.py as a module (the shared staging and playbook helpers), whatever other conftest.py
    pytest imported last under the name ``conftest``."""
    path = HERE / "conftest.py"
    module = sys.modules.get("conftest")
    if module is not None and Path(getattr(module, "__file__", "")).resolve() == path:
        return module
    module = sys.modules.get("e2e_conftest")
    if module is None:
        spec = importlib.util.spec_from_file_location("e2e_conftest", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules["e2e_conftest"] = module
        spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------------------------------------------
# sandbox set-up through the CF v3 API

class CfSetup:
    """A minimal CF v3 client for fixtures (password grant at the sandbox UAA)."""

    def __init__(self, connection, tenant="acme"):
        self.conn = connection
        self.tenant = next(t for t in connection["tenants"] if t["name"] == tenant)
        self.api = connection["cf"]["api_url"]
        self.verify = connection["ca_bundle"]   # per call: REQUESTS_CA_BUNDLE would override a session setting
        self.session = requests.Session()
        token = self.session.post(connection["cf"]["uaa_url"] + "/oauth/token", auth=("cf", ""), timeout=30, verify=self.verify, data={
            "grant_type": "password", "username": connection["cf"]["username"], "password": connection["cf"]["password"]})
        token.raise_for_status()
        self.session.headers["Authorization"] = "bearer " + token.json()["access_token"]
        self._space = None

    def get(self, path, **params):
        response = self.session.get(path if path.startswith("http") else self.api + path, params=params, timeout=30, verify=self.verify)
        response.raise_for_status()
        return response.json()

    def space_guid(self):
        if self._space is None:
            org = self.get("/v3/organizations", names=self.tenant["org"])["resources"][0]["guid"]
            self._space = self.get("/v3/spaces", names=self.tenant["space"], organization_guids=org)["resources"][0]["guid"]
        return self._space

    def plan_guid(self, plan):
        offering = "apimanagement-apiportal" if plan == "apiportal-apiaccess" else "it-rt"
        return self.get("/v3/service_plans", names=plan, service_offering_names=offering)["resources"][0]["guid"]

    def wait_job(self, location, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.get(location)
            if job["state"] in ("COMPLETE", "FAILED"):
                if job["state"] == "FAILED":
                    raise AssertionError("sandbox job failed: %s" % job.get("errors"))
                return job
            time.sleep(0.05)
        raise AssertionError("sandbox job %s did not finish" % location)

    def create_instance(self, name, plan, parameters=None):
        body = {"type": "managed", "name": name,
                "relationships": {"space": {"data": {"guid": self.space_guid()}},
                                  "service_plan": {"data": {"guid": self.plan_guid(plan)}}}}
        if parameters is not None:
            body["parameters"] = parameters
        response = self.session.post(self.api + "/v3/service_instances", json=body, timeout=30, verify=self.verify)
        assert response.status_code == 202, response.text
        self.wait_job(response.headers["Location"])
        return self.get("/v3/service_instances", names=name, space_guids=self.space_guid())["resources"][0]

    def create_key(self, instance_guid, name, parameters=None):
        """Create a key and return its details ({"credentials": {"oauth": ...}})."""
        body = {"type": "key", "name": name, "relationships": {"service_instance": {"data": {"guid": instance_guid}}}}
        if parameters is not None:
            body["parameters"] = parameters
        response = self.session.post(self.api + "/v3/service_credential_bindings", json=body, timeout=30, verify=self.verify)
        assert response.status_code == 202, response.text
        self.wait_job(response.headers["Location"])
        key = self.get("/v3/service_credential_bindings", names=name, service_instance_guids=instance_guid)["resources"][0]
        return self.get("/v3/service_credential_bindings/%s/details" % key["guid"])

    def client(self, name, plan, roles=None, key_parameters=None, key_name=None):
        """An instance with one key; returns (instance, details)."""
        parameters = {"roles": roles} if roles is not None else None
        instance = self.create_instance(name, plan, parameters)
        return instance, self.create_key(instance["guid"], key_name or name + "-key", key_parameters)


def unique(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:6])


# ---------------------------------------------------------------------------------------------------------------
# certificates

def _key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Customer")])


def make_cert(cn, key, issuer_cn=None, issuer_key=None, days=90, expired=False, ca=False):
    now = datetime.datetime.now(datetime.timezone.utc)
    not_before, not_after = (now - datetime.timedelta(days=30), now - datetime.timedelta(days=1)) if expired else (
        now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=days))
    builder = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(issuer_cn or cn))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(not_before).not_valid_after(not_after)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    return builder.sign(issuer_key or key, hashes.SHA256())


def cert_pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption()).decode("ascii")


def pem_material(directory):
    """Write certificate material for the certificate cases; returns {name: path}."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = _key()
    ca = make_cert("Untrusted Test CA", ca_key, ca=True, days=365)
    leaf_key, other_key = _key(), _key()
    files = {
        "untrusted_ca": cert_pem(ca),
        "untrusted_cert": cert_pem(make_cert("untrusted-client", leaf_key, "Untrusted Test CA", ca_key)),
        "untrusted_key": key_pem(leaf_key),
        "expired_cert": cert_pem(make_cert("expired-client", leaf_key, "Untrusted Test CA", ca_key, expired=True)),
        "mismatch_key": key_pem(other_key),
        "not_a_pem": "this is not a certificate\n",
    }
    paths = {}
    for name, text in files.items():
        path = directory / ("%s.pem" % name)
        path.write_text(text, encoding="utf-8")
        os.chmod(path, 0o600)
        paths[name] = str(path)
    return paths


# ---------------------------------------------------------------------------------------------------------------
# secrets: forms and scanning

MIN_SECRET = 8


def _b64_infixes(raw):
    """Base64 text that appears whenever ``raw`` is base64-encoded inside a longer value, at any alignment."""
    forms = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw).decode("ascii")
        start = (offset * 4 + 2) // 3 + (1 if offset else 0)
        end = len(encoded) - 4
        if end - start >= MIN_SECRET:
            body = encoded[start:end]
            forms.add(body)
            forms.add(body.replace("+", "-").replace("/", "_"))
    return forms


def secret_forms(secret):
    """Every form a secret takes in text: raw, JSON-escaped, URL-encoded, base64 (whole and embedded); for PEM text
    each body line."""
    forms = set()
    if not secret or len(secret) < MIN_SECRET:
        return forms
    raw = secret.encode("utf-8")
    forms.update({secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1],
                  base64.b64encode(raw).decode("ascii"), base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")})
    forms.update(_b64_infixes(raw))
    if "-----BEGIN" in secret:
        forms.update(line.strip() for line in secret.splitlines()
                     if len(line.strip()) >= 32 and not line.startswith("-----"))
        forms.add(secret.replace("\n", "\\n"))
    return {form for form in forms if len(form) >= MIN_SECRET}


class SecretSet:
    """Named secrets and all their forms."""

    def __init__(self):
        self.forms = {}   # form -> secret name

    def add(self, name, value):
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if not isinstance(value, str):
            return
        for form in secret_forms(value.strip()):
            self.forms.setdefault(form, name)
        if value != value.strip():
            for form in secret_forms(value):
                self.forms.setdefault(form, name)

    def names(self):
        return sorted(set(self.forms.values()))

    def __len__(self):
        return len(set(self.forms.values()))

    def find(self, text):
        """[(secret name, form kind)] of the secrets found in text."""
        hits = []
        for form, name in self.forms.items():
            if form in text:
                hits.append((name, form[:6] + "..."))
        return hits


def scan_text(secrets, text, where):
    return ["%s: %s (%s)" % (where, name, sample) for name, sample in secrets.find(text)]


def scan_paths(secrets, paths, allow=None):
    """Scan every regular file under ``paths``. ``allow(path, secret_name)`` may excuse intended storage."""
    hits = []
    scanned = 0
    for base in paths:
        base = Path(base)
        if not base.exists():
            continue
        candidates = [base] if base.is_file() else [p for p in base.rglob("*") if p.is_file() and not p.is_symlink()]
        for path in candidates:
            try:
                data = path.read_bytes()
            except OSError:
                continue
            scanned += 1
            text = data.decode("utf-8", "replace")
            for name, sample in secrets.find(text):
                if allow is not None and allow(path, name):
                    continue
                hits.append("%s: %s (%s)" % (path, name, sample))
    return hits, scanned


# ---------------------------------------------------------------------------------------------------------------
# state signatures

def sandbox_signature(state):
    """Instances (with parameters, plan, metadata, last operation) and keys (with their state). Broker jobs are
    records of requests, not resources, and are left out."""
    instances = sorted((i["guid"], i["name"], json.dumps(i.get("parameters"), sort_keys=True), i.get("plan_guid"),
                        json.dumps(i.get("metadata"), sort_keys=True), json.dumps(i.get("last_operation"), sort_keys=True))
                       for i in state["instances"])
    keys = sorted((k["guid"], k["name"], k.get("state")) for k in state["keys"])
    return {"instances": instances, "keys": keys}


def snapshot(sandbox, work):
    """What a failing task must not change: the sandbox's resources and the files under ``work``."""
    signature = sandbox_signature(sandbox.store.dump())
    from btp_sandbox import apiportal  # pylint: disable=import-outside-toplevel
    signature["api_providers"] = apiportal.admin_view(sandbox)
    files = {path: "%d:%s" % (size, digest[:16]) for path, (size, digest) in tree_signature(work).items()}
    return {"sandbox": hashlib.sha256(json.dumps(signature, sort_keys=True).encode()).hexdigest()[:24],
            "instances": len(signature["instances"]), "keys": len(signature["keys"]), "files": files}


class SnapshotServer:
    """A loopback HTTP endpoint (GET /) returning ``snapshot()`` as JSON, for ``lookup('ansible.builtin.url', ...)``
    inside a playbook: no process per snapshot."""

    def __init__(self, sandbox, work):
        import http.server  # pylint: disable=import-outside-toplevel
        import threading  # pylint: disable=import-outside-toplevel

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                body = json.dumps(snapshot(sandbox, work)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                return

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/" % self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def tree_signature(base):
    """{relative path: (size, sha256)} of every file under base."""
    out = {}
    for path in sorted(Path(base).rglob("*")):
        if path.is_file():
            out[str(path.relative_to(base))] = (path.stat().st_size, hashlib.sha256(path.read_bytes()).hexdigest())
    return out


# ---------------------------------------------------------------------------------------------------------------
# xdist: run once per session

@contextlib.contextmanager
def _locked(path):
    with open(path, "a+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def run_once_across_workers(tmp_path_factory, name, produce):
    """Return produce()'s JSON-serialisable result, computed by the first pytest-xdist worker that asks for it."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    result_file = base / ("%s.json" % name)
    with _locked(str(base / ("%s.lock" % name))):
        if result_file.exists():
            return json.loads(result_file.read_text(encoding="utf-8"))
        result = produce()
        result_file.write_text(json.dumps(result), encoding="utf-8")
        return result


# ---------------------------------------------------------------------------------------------------------------
# OpenBao dev servers (one normal, one sealed)

def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class OpenBao:
    """`bao server -dev` on loopback; `seal()` seals it."""

    def __init__(self, directory):
        self.port = _free_port()
        self.addr = "http://127.0.0.1:%d" % self.port
        self.token = "root-" + os.urandom(8).hex()
        self.log = open(Path(directory) / ("openbao-%d.log" % self.port), "wb")  # pylint: disable=consider-using-with
        self.proc = subprocess.Popen(  # pylint: disable=consider-using-with
            [str(Path(sys.executable).parent / "bao"), "server", "-dev", "-dev-root-token-id=" + self.token,
             "-dev-listen-address=127.0.0.1:%d" % self.port],
            stdout=self.log, stderr=subprocess.STDOUT, env=dict(os.environ, HOME=str(directory)), start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(self.addr + "/v1/sys/health", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("OpenBao did not start")

    def seal(self):
        requests.put(self.addr + "/v1/sys/seal", headers={"X-Vault-Token": self.token}, timeout=10).raise_for_status()

    def secret_versions(self, path, mount="secret"):
        response = requests.get("%s/v1/%s/metadata/%s" % (self.addr, mount, path), headers={"X-Vault-Token": self.token},
                                timeout=10)
        return {} if response.status_code == 404 else response.json()["data"]["versions"]

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
