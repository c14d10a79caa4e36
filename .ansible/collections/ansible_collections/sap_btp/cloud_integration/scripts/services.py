"""Start and stop the local services the tests and the demo use: the BTP sandbox and an OpenBao dev server.

    python scripts/services.py start --dir DIR [--profile fast|realistic] [--integration-config FILE] [--no-vault]
    python scripts/services.py stop --dir DIR

`start` returns once both are ready and writes DIR/services.json with everything a client needs
(the sandbox connection file plus vault_addr / vault_token). With --integration-config it also writes
the variables file ansible-test passes to every integration target.
"""

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise SystemExit("timed out after %ss waiting for %s" % (timeout, what))


def vault_ready(addr):
    try:
        with urllib.request.urlopen(addr + "/v1/sys/health", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def start(args):
    os.makedirs(args.dir, exist_ok=True)
    bindir = os.path.dirname(sys.executable)
    pids = {}
    state_file = os.path.join(args.dir, "sandbox.json")
    command = [sys.executable, "-m", "btp_sandbox", "serve", "--state-file", state_file, "--profile", args.profile]
    if args.config:
        command += ["--config", args.config]
    with open(os.path.join(args.dir, "sandbox.log"), "wb") as log:
        pids["sandbox"] = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True).pid
    services = {}
    if not args.no_vault:
        port = free_port()
        token = "root-" + secrets.token_hex(12)
        addr = "http://127.0.0.1:%d" % port
        with open(os.path.join(args.dir, "openbao.log"), "wb") as log:
            pids["openbao"] = subprocess.Popen(
                [os.path.join(bindir, "bao"), "server", "-dev", "-dev-root-token-id=" + token, "-dev-listen-address=127.0.0.1:%d" % port],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                env=dict(os.environ, BAO_ADDR=addr, HOME=args.dir),
            ).pid
        services.update(vault_addr=addr, vault_token=token)
    with open(os.path.join(args.dir, "pids.json"), "w", encoding="utf-8") as handle:
        json.dump(pids, handle)
    wait_for(lambda: os.path.exists(state_file), 30, "the BTP sandbox (see %s)" % os.path.join(args.dir, "sandbox.log"))
    if "vault_addr" in services:
        wait_for(lambda: vault_ready(services["vault_addr"]), 30, "OpenBao (see %s)" % os.path.join(args.dir, "openbao.log"))
    with open(state_file, encoding="utf-8") as handle:
        sandbox = json.load(handle)
    services["sandbox"] = sandbox
    services["sandbox_state_file"] = state_file
    with open(os.path.join(args.dir, "services.json"), "w", encoding="utf-8") as handle:
        json.dump(services, handle, indent=2)
    if args.integration_config:
        write_integration_config(args.integration_config, services)
    print(json.dumps({"sandbox": state_file, "vault_addr": services.get("vault_addr")}))


def write_integration_config(path, services):
    """Variables for ansible-test integration targets (passed as extra vars)."""
    sandbox = services["sandbox"]
    variables = {
        "sandbox": sandbox,
        "cf_api": sandbox["cf"]["api_url"],
        "cf_username": sandbox["cf"]["username"],
        "cf_password": sandbox["cf"]["password"],
        "cf_org": sandbox["cf"]["org"],
        "cf_space": sandbox["cf"]["space"],
        "ca_path": sandbox["ca_bundle"],
        "admin_url": sandbox["admin_url"],
        "vault_addr": services.get("vault_addr"),
        "vault_token": services.get("vault_token"),
    }
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(variables, handle, indent=2)


def stop(args):
    path = os.path.join(args.dir, "pids.json")
    try:
        with open(path, encoding="utf-8") as handle:
            pids = json.load(handle)
    except OSError:
        return
    for pid in pids.values():
        try:
            os.killpg(pid, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.time() + 10
    for pid in pids.values():
        while time.time() < deadline:
            try:
                os.kill(pid, 0)
            except OSError:
                break
            time.sleep(0.1)
        else:
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
    os.unlink(path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_start = sub.add_parser("start")
    p_start.add_argument("--dir", required=True)
    p_start.add_argument("--profile", default="fast", choices=["fast", "realistic"])
    p_start.add_argument("--config")
    p_start.add_argument("--integration-config")
    p_start.add_argument("--no-vault", action="store_true")
    p_stop = sub.add_parser("stop")
    p_stop.add_argument("--dir", required=True)
    args = parser.parse_args()
    if args.command == "start":
        start(args)
    else:
        stop(args)


if __name__ == "__main__":
    main()
