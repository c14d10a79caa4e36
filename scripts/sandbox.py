"""`make sandbox`: the BTP sandbox and an OpenBao dev server in the foreground, for your own inventory.

    python scripts/sandbox.py [--dir DIR] [--base-port PORT] [--vault-port PORT] [--profile fast|realistic]

Stable between runs, so an inventory written once keeps working:
- the CA bundle is DIR/ca-bundle.pem (default DIR: .sandbox/ in the repository), and the CA itself is kept in
  DIR/state.json (with the instances and keys, which survive a restart as well);
- the ports are fixed: Cloud Foundry API PORT (default 18440), UAA PORT+1, admin PORT+2, then four per tenant
  (token, cert token, OData API, runtime), and OpenBao on --vault-port (default 18200) with the root token
  `sandbox-root-token` (OpenBao dev mode keeps its secrets in memory: they are gone after Ctrl-C).

Prints the inventory variables to paste and the environment to export, then waits. Ctrl-C stops both services.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TENANTS = ("acme", "globex")
LISTENERS = ("token", "cert-token", "api", "runtime")
VAULT_TOKEN = "sandbox-root-token"


def port_map(base):
    """The fixed ports of every sandbox listener."""
    ports = {"cf": base, "uaa": base + 1, "admin": base + 2}
    for tenant_index, tenant in enumerate(TENANTS):
        for listener_index, listener in enumerate(LISTENERS):
            ports["%s/%s" % (tenant, listener)] = base + 3 + tenant_index * len(LISTENERS) + listener_index
    return ports


def sandbox_config(directory, base):
    return {"work_dir": directory, "persistence_file": os.path.join(directory, "state.json"), "ports": port_map(base)}


def inventory_text(connection, vault_addr):
    """Inventory variables for two tenants (the sandbox's acme and globex), ready to paste."""
    lines = [
        "# --- inventory (for example inventory/hosts.yml); one host = one tenant ---",
        "tenants:",
        "  vars:",
        "    ansible_connection: local",
        "    ansible_python_interpreter: \"{{ ansible_playbook_python }}\"",
        "    cloud_integration_ca_path: %s" % connection["ca_bundle"],
        "  hosts:",
    ]
    for tenant in connection["tenants"]:
        lines += [
            "    %s:" % tenant["subdomain"],
            "      cloud_integration_cf:",
            "        api: %s" % connection["cf"]["api_url"],
            "        username: %s" % connection["cf"]["username"],
            "        password: \"{{ vault_sandbox_cf_password }}\"   # ansible-vault encrypt_string '%s' --name vault_sandbox_cf_password"
            % connection["cf"]["password"],
            "        org: %s" % tenant["org"],
            "        space: %s" % tenant["space"],
            "      cloud_integration_clients: []   # your clients",
        ]
    lines += [
        "",
        "# --- or, for a play with module_defaults (README: One connection for every module) ---",
        "#   cf_api: %s   cf_username: %s   org: acme-org   space: dev" % (connection["cf"]["api_url"], connection["cf"]["username"]),
        "#   ca_path: %s" % connection["ca_bundle"],
        "",
        "# --- environment: hashicorp_vault destinations; the CF_* fallbacks (demo-output/inventory.yml uses them) ---",
        "export VAULT_ADDR=%s VAULT_TOKEN=%s" % (vault_addr, VAULT_TOKEN),
        "export CF_API=%s CF_USERNAME=%s CF_PASSWORD='%s'" % (
            connection["cf"]["api_url"], connection["cf"]["username"], connection["cf"]["password"]),
    ]
    return "\n".join(lines)


def vault_ready(addr):
    try:
        with urllib.request.urlopen(addr + "/v1/sys/health", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def wait_for(predicate, processes, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        for name, process in processes.items():
            if process.poll() is not None:
                raise SystemExit("%s exited with %s while starting (is a port of `make sandbox` in use? try --base-port)" % (name, process.returncode))
        time.sleep(0.1)
    raise SystemExit("timed out after %ss waiting for %s" % (timeout, what))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=os.environ.get("SANDBOX_DIR") or os.path.join(ROOT, ".sandbox"))
    parser.add_argument("--base-port", type=int, default=int(os.environ.get("SANDBOX_BASE_PORT") or 18440))
    parser.add_argument("--vault-port", type=int, default=int(os.environ.get("SANDBOX_VAULT_PORT") or 18200))
    parser.add_argument("--profile", default="fast", choices=["fast", "realistic"])
    parser.add_argument("--no-vault", action="store_true", help="start the BTP sandbox only")
    args = parser.parse_args(argv)

    directory = os.path.abspath(args.dir)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    config_file = os.path.join(directory, "config.json")
    with open(config_file, "w", encoding="utf-8") as handle:
        json.dump(sandbox_config(directory, args.base_port), handle, indent=2)
    state_file = os.path.join(directory, "connection.json")
    if os.path.exists(state_file):
        os.unlink(state_file)

    processes = {}
    logs = []

    def stop(*_args):
        for process in processes.values():
            if process.poll() is None:
                process.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        for log in logs:
            log.close()

    def interrupt(*_args):
        raise KeyboardInterrupt()

    # Ctrl-C (SIGINT) and SIGTERM stop both services; SIGINT is set explicitly because a shell that starts this in the
    # background makes it ignore SIGINT
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    try:
        sandbox_log = open(os.path.join(directory, "sandbox.log"), "ab")
        logs.append(sandbox_log)
        processes["the BTP sandbox"] = subprocess.Popen(
            [sys.executable, "-m", "btp_sandbox", "serve", "--state-file", state_file, "--config", config_file, "--profile", args.profile],
            stdout=sandbox_log, stderr=subprocess.STDOUT, start_new_session=True)
        vault_addr = "http://127.0.0.1:%d" % args.vault_port
        if not args.no_vault:
            vault_log = open(os.path.join(directory, "openbao.log"), "ab")
            logs.append(vault_log)
            processes["OpenBao"] = subprocess.Popen(
                [os.path.join(os.path.dirname(sys.executable), "bao"), "server", "-dev", "-dev-root-token-id=" + VAULT_TOKEN,
                 "-dev-listen-address=127.0.0.1:%d" % args.vault_port],
                stdout=vault_log, stderr=subprocess.STDOUT, start_new_session=True, env=dict(os.environ, HOME=directory))
        wait_for(lambda: os.path.exists(state_file), processes, 60, "the BTP sandbox (see %s/sandbox.log)" % directory)
        if not args.no_vault:
            wait_for(lambda: vault_ready(vault_addr), processes, 60, "OpenBao (see %s/openbao.log)" % directory)
        with open(state_file, encoding="utf-8") as handle:
            connection = json.load(handle)
        print("BTP sandbox and%s OpenBao are running (data and CA in %s). Ctrl-C stops them.\n" % ("" if not args.no_vault else " no", directory))
        print(inventory_text(connection, vault_addr), flush=True)
        print("\nCloud Foundry user: %s / %s   admin API: %s" % (
            connection["cf"]["username"], connection["cf"]["password"], connection["admin_url"]), flush=True)
        while True:
            for name, process in processes.items():
                if process.poll() is not None:
                    raise SystemExit("%s stopped unexpectedly (exit %s); see the logs in %s" % (name, process.returncode, directory))
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nStopping the sandbox and OpenBao ...", flush=True)
        return 0
    finally:
        stop()


if __name__ == "__main__":
    sys.exit(main())
