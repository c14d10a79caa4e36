# -*- coding: utf-8 -*-
"""`make sandbox` (scripts/sandbox.py): foreground, stable CA path and ports, inventory to paste, Ctrl-C stops it."""

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_base(count=12):
    """A base port with `count` free ports after it (checked, not reserved)."""
    for base in range(29000, 60000, 97):
        ok = True
        for port in range(base, base + count):
            with socket.socket() as sock:
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError("no free port range")


def start(directory, base, vault_port):
    process = subprocess.Popen([sys.executable, str(REPO_ROOT / "scripts" / "sandbox.py"), "--dir", str(directory), "--base-port", str(base),
                                "--vault-port", str(vault_port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    deadline = time.time() + 90
    while time.time() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("Cloud Foundry user:"):
            return process, "".join(lines)
    process.kill()
    raise AssertionError("make sandbox did not come up:\n" + "".join(lines))


def stop(process):
    process.send_signal(signal.SIGINT)  # what Ctrl-C sends
    rest, _unused = process.communicate(timeout=30)
    return process.returncode, rest


def test_make_sandbox_is_stable_and_stops_on_ctrl_c(tmp_path):
    base, vault_port = free_base(), free_base(1) + 50
    directory = tmp_path / "sandbox"
    process, output = start(directory, base, vault_port)
    try:
        inventory = yaml.safe_load(output.split("# --- inventory", 1)[1].split("\n", 1)[1].split("\n# ---", 1)[0])
        hosts = inventory["tenants"]["hosts"]
        assert sorted(hosts) == ["acme-dev", "globex-prod"]
        ca_path = inventory["tenants"]["vars"]["cloud_integration_ca_path"]
        assert ca_path == str(directory / "ca-bundle.pem")
        assert hosts["acme-dev"]["cloud_integration_cf"]["api"] == "https://127.0.0.1:%d" % base
        assert "export VAULT_ADDR=http://127.0.0.1:%d VAULT_TOKEN=sandbox-root-token" % vault_port in output
        # the printed CA verifies the printed API endpoint, and OpenBao answers
        context = ssl.create_default_context(cafile=ca_path)
        with urllib.request.urlopen("https://127.0.0.1:%d/" % base, context=context, timeout=10) as answer:
            assert "links" in json.loads(answer.read())
        with urllib.request.urlopen("http://127.0.0.1:%d/v1/sys/health" % vault_port, timeout=10) as answer:
            assert answer.status == 200
        first_ca = Path(ca_path).read_bytes()
    finally:
        code, rest = stop(process)
    assert code == 0 and "Stopping the sandbox and OpenBao" in rest
    for port in (base, vault_port):  # both services are gone
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0
    assert Path(ca_path).read_bytes() == first_ca  # the CA file outlives the run

    # a second start: same CA file, same ports, so an inventory written once keeps working
    process, output = start(directory, base, vault_port)
    try:
        assert Path(ca_path).read_bytes() == first_ca
        assert "api: https://127.0.0.1:%d" % base in output
    finally:
        code, dummy = stop(process)
    assert code == 0
    assert not os.path.exists(directory / "connection.json")
