# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmarks B1-B6 of sap_btp.cloud_integration against the BTP sandbox (realistic profile).

    python benchmarks/bench.py [--only B1,B2,...] [--clients 25] [--scale 200] [--update-doc]

Starts the sandbox with `scripts/services.py` (realistic profile: per-request latency and broker durations are
printed), runs every benchmark with `ansible-playbook` in a subprocess, reads request counts from the sandbox's admin
counters (`GET /requests`), prints a table of figures, targets and ratios, and writes benchmarks/output/results.json.
With --update-doc the table in docs/performance.md (between the BENCH-TABLE markers) is replaced by this run's.
Exit code 1 when a target does not hold.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import requests
import yaml

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
OUTPUT = BENCH / "output"
BIN = Path(sys.executable).parent
DOC = ROOT / "docs" / "performance.md"
DOC_BEGIN = "<!-- BENCH-TABLE:BEGIN -->"
DOC_END = "<!-- BENCH-TABLE:END -->"
B4_REPEATS = 3  # timed runs of each side of B4 (the median counts)
TENANT = "acme"


# ---------------------------------------------------------------------------------------------------------------
# results

class Results:
    """Rows of (benchmark, figure, measured, target, ratio, ok)."""

    def __init__(self):
        self.rows = []
        self.notes = []
        self.requests = {}   # benchmark run label -> sandbox request counts by route

    def add(self, bench, figure, measured, target=None, ok=None, ratio=None, unit=""):
        self.rows.append({"bench": bench, "figure": figure, "measured": measured, "unit": unit, "target": target,
                          "ratio": ratio, "ok": ok})
        return ok

    @staticmethod
    def fmt(value, unit=""):
        if value is None:
            return "-"
        if isinstance(value, float):
            text = "%.2f" % value if abs(value) < 100 else "%.0f" % value
        else:
            text = str(value)
        return text + (" " + unit if unit else "")

    def table(self, markdown=False):
        header = ("bench", "figure", "measured", "target", "ratio", "result")
        lines = []
        for row in self.rows:
            result = "-" if row["ok"] is None else ("PASS" if row["ok"] else "FAIL")
            ratio = "-" if row["ratio"] is None else "%.2f" % row["ratio"]
            lines.append((row["bench"], row["figure"], self.fmt(row["measured"], row["unit"]), row["target"] or "-",
                          ratio, result))
        if markdown:
            out = ["| %s |" % " | ".join(header), "|%s|" % "|".join("---" for _unused in header)]
            out += ["| %s |" % " | ".join(line) for line in lines]
            return "\n".join(out)
        widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h) for i, h in enumerate(header)]
        out = ["  ".join(h.ljust(w) for h, w in zip(header, widths)), "  ".join("-" * w for w in widths)]
        out += ["  ".join(c.ljust(w) for c, w in zip(line, widths)) for line in lines]
        return "\n".join(out)

    @property
    def failed(self):
        return [row for row in self.rows if row["ok"] is False]


# ---------------------------------------------------------------------------------------------------------------
# environment

class Env:
    """The sandbox (realistic profile), the staged collection and a playbook runner."""

    def __init__(self, work, profile_overrides=None):
        self.work = work
        self.services = work / "services"
        self.collections = work / "collections"
        self.profile_overrides = profile_overrides or {}
        self.conn = None
        self.run_counter = 0

    # -- services ---------------------------------------------------------------------------------
    def start(self):
        config = {"runtime": {"history_mpls": 20500}}
        if self.profile_overrides:
            config["profile"] = dict(self.profile_overrides, name="realistic")
        config_file = self.work / "sandbox-config.yml"
        config_file.write_text(yaml.safe_dump(config), encoding="utf-8")
        subprocess.run([sys.executable, str(ROOT / "scripts" / "services.py"), "start", "--dir", str(self.services),
                        "--profile", "realistic", "--config", str(config_file), "--no-vault"], check=True,
                       stdout=subprocess.DEVNULL)
        with open(self.services / "services.json", encoding="utf-8") as handle:
            self.conn = json.load(handle)["sandbox"]
        target = self.collections / "ansible_collections" / "sap_btp"
        target.mkdir(parents=True, exist_ok=True)
        link = target / "cloud_integration"
        if not link.exists():
            link.symlink_to(ROOT, target_is_directory=True)

    def stop(self):
        subprocess.run([sys.executable, str(ROOT / "scripts" / "services.py"), "stop", "--dir", str(self.services)],
                       check=False)

    def profile(self):
        from btp_sandbox.config import load_config  # pylint: disable=import-outside-toplevel
        config = load_config(str(self.work / "sandbox-config.yml"), profile="realistic")
        return config.profile

    # -- admin API ----------------------------------------------------------------------------------
    def admin(self, method, path, **kwargs):
        response = requests.request(method, self.conn["admin_url"] + path, verify=self.conn["ca_bundle"], timeout=60,
                                    **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def reset_counts(self):
        self.admin("POST", "/requests/reset")

    def counts(self):
        """Request counts by listener ({"cf": n, "uaa": n, "token": n, ...}) and by route."""
        by_route = self.admin("GET", "/requests")["by_route"]
        by_listener = {}
        for route, count in by_route.items():
            listener = route.split(" ", 1)[0]
            by_listener[listener] = by_listener.get(listener, 0) + count
        return by_listener, by_route

    def tenant(self, name=TENANT):
        return next(t for t in self.conn["tenants"] if t["name"] == name)

    # -- playbooks ------------------------------------------------------------------------------------
    def cf_vars(self):
        tenant = self.tenant()
        return {"api": self.conn["cf"]["api_url"], "username": self.conn["cf"]["username"],
                "password": self.conn["cf"]["password"], "org": tenant["org"], "space": tenant["space"]}

    def inventory(self, name, host_vars, interpreter=None):
        host_vars = dict(host_vars, ansible_connection="local",
                         ansible_python_interpreter=interpreter or sys.executable)
        path = self.work / ("inventory-%s.yml" % name)
        path.write_text(yaml.safe_dump({"all": {"children": {"tenants": {"hosts": {"%s-tenant" % TENANT: host_vars}}}}}),
                        encoding="utf-8")
        return path

    def run(self, playbook, label, inventory=None, extra_vars=None, cache_dir=None, env=None, args=()):
        """Run ansible-playbook; returns {"wall", "rc", "timer": {...}, "log"}. Output goes to a log file."""
        self.run_counter += 1
        tag = "%02d-%s" % (self.run_counter, label)
        cache_dir = Path(cache_dir or (self.work / ("cache-" + tag)))
        cache_dir.mkdir(parents=True, exist_ok=True)
        timer_file = self.work / ("timer-%s.json" % tag)
        log_file = self.work / ("log-%s.txt" % tag)
        command = [str(BIN / "ansible-playbook"), str(playbook)]
        command += ["-i", str(inventory)] if inventory else ["-i", "localhost,", "-c", "local"]
        if extra_vars:
            vars_file = self.work / ("vars-%s.json" % tag)
            vars_file.write_text(json.dumps(extra_vars), encoding="utf-8")
            command += ["-e", "@%s" % vars_file]
        command += list(args)
        run_env = dict(os.environ)
        for name in ("CF_API", "CF_USERNAME", "CF_PASSWORD", "CF_ORG", "CF_SPACE", "VAULT_ADDR", "VAULT_TOKEN"):
            run_env.pop(name, None)
        run_env.update({
            "ANSIBLE_COLLECTIONS_PATH": str(self.collections),
            "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
            "ANSIBLE_CALLBACK_PLUGINS": str(BENCH / "callback_plugins"),
            "ANSIBLE_CALLBACKS_ENABLED": "bench_timer",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_RETRY_FILES_ENABLED": "false",
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
            "ANSIBLE_LOCALHOST_WARNING": "false",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
            "ANSIBLE_LOCAL_TEMP": str(cache_dir / "ansible-local"),
            "SAP_BTP_CACHE_DIR": str(cache_dir / "token-cache"),
            "BENCH_TIMER_FILE": str(timer_file),
            "PATH": "%s%s%s" % (BIN, os.pathsep, os.environ.get("PATH", "")),
        })
        run_env.update(env or {})
        started = time.monotonic()
        with open(log_file, "w", encoding="utf-8") as log:
            proc = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=run_env, cwd=str(self.work),
                                  check=False)
        wall = time.monotonic() - started
        timer = {}
        if timer_file.exists():
            timer = json.loads(timer_file.read_text(encoding="utf-8"))
        result = {"wall": wall, "rc": proc.returncode, "timer": timer, "log": str(log_file)}
        if proc.returncode != 0:
            text = log_file.read_text(encoding="utf-8")
            failures = [line for line in text.splitlines() if line.startswith(("fatal:", "failed:", "[ERROR]"))]
            raise RuntimeError("%s failed (rc %s); log %s:\n%s" % (label, proc.returncode, log_file,
                                                                   "\n".join(line[:600] for line in failures[-5:]) or text[-2000:]))
        return result


def changed_total(run):
    return sum(host.get("changed", 0) for host in run["timer"].get("stats", {}).values())


def clients(prefix, count, plan="integration-flow"):
    roles = ["MonitoringDataRead"] if plan == "api" else ["ESBMessaging.send"]
    return [{"name": "%s-%03d" % (prefix, i), "plan": plan, "roles": roles, "key_name": "%s-%03d-key" % (prefix, i)}
            for i in range(1, count + 1)]


def run_id():
    return uuid.uuid4().hex[:4]


# ---------------------------------------------------------------------------------------------------------------
# the collection side (roles and modules)

def onboard_ours(env, label, client_list, out_dir, cache_dir=None, check=False):
    """Onboarding through the collection's playbook, as users run it (inventory = one tenant host)."""
    role_clients = []
    for client in client_list:
        role_clients.append({
            "name": client["name"], "plan": client["plan"], "roles": client["roles"], "key_name": client["key_name"],
            "destinations": [{"type": "file", "path": "%s/%s.json" % (out_dir, client["name"]), "format": "json"}],
        })
    inventory = env.inventory(label, {"cloud_integration_cf": env.cf_vars(),
                                      "cloud_integration_ca_path": env.conn["ca_bundle"],
                                      "cloud_integration_report_dir": str(env.work / "reports"),
                                      "cloud_integration_clients": role_clients})
    return env.run("sap_btp.cloud_integration.onboard", label, inventory=inventory, cache_dir=cache_dir,
                   args=("--check",) if check else ())


def onboard_reference(env, label, client_list, out_dir):
    extra = {"cf_api": env.conn["cf"]["api_url"], "cf_username": env.conn["cf"]["username"],
             "cf_password": env.conn["cf"]["password"], "cf_org": env.tenant()["org"], "cf_space": env.tenant()["space"],
             "ca_path": env.conn["ca_bundle"], "out_dir": str(out_dir), "clients": client_list}
    return env.run(BENCH / "reference" / "onboard_uri.yml", label, extra_vars=extra)


def floor_playbook(env, shape_run, label):
    """A playbook with the same tasks and loop items as `shape_run`, every task an ansible.builtin.debug."""
    tasks = []
    for index, task in enumerate(shape_run["timer"]["tasks"]):
        debug = {"name": "floor %d: %s" % (index, task["name"]), "ansible.builtin.debug": {"msg": "{{ item | default('') }}"}}
        if task["items"]:
            debug["loop"] = "{{ range(%d) | list }}" % task["items"]
        tasks.append(debug)
    path = env.work / ("floor-%s.yml" % label)
    path.write_text(yaml.safe_dump([{"name": "Ansible floor (debug tasks of the same shape)", "hosts": "localhost",
                                     "gather_facts": False, "tasks": tasks}], sort_keys=False), encoding="utf-8")
    return env.run(path, label)


def smoke_ours(env, label, key_files, calls, cache_dir):
    tasks = []
    for index in range(calls):
        tasks.append({
            "name": "Call the iFlow (%d)" % (index + 1),
            "sap_btp.cloud_integration.iflow_request": {
                "service_key_path": "{{ item }}", "path": "/products/details", "method": "POST",
                "body": {"productIdentifier": "HT-2000"}, "status_code": [200], "ca_path": env.conn["ca_bundle"]},
            "loop": "{{ key_files }}",
        })
    path = env.work / ("smoke-%s.yml" % label)
    path.write_text(yaml.safe_dump([{"name": "Smoke test (collection modules)", "hosts": "localhost",
                                     "gather_facts": False, "vars": {"key_files": [str(k) for k in key_files]},
                                     "tasks": tasks}], sort_keys=False), encoding="utf-8")
    return env.run(path, label, cache_dir=cache_dir)


def smoke_reference(env, label, client_list, out_dir, calls):
    extra = {"out_dir": str(out_dir), "clients": client_list, "calls_per_client": calls, "ca_path": env.conn["ca_bundle"]}
    return env.run(BENCH / "reference" / "smoke_uri.yml", label, extra_vars=extra)


def repeated_tasks_playbook(env, label, task, count, warmup=None):
    tasks = [warmup] if warmup else []
    for index in range(count):
        tasks.append(dict(task, name="%s %d" % (task["name"], index + 1)))
    path = env.work / ("repeat-%s.yml" % label)
    path.write_text(yaml.safe_dump([{"name": label, "hosts": "localhost", "gather_facts": False, "tasks": tasks}],
                                   sort_keys=False), encoding="utf-8")
    return path


def task_durations(run, name_prefix):
    return [t["duration"] for t in run["timer"]["tasks"] if t["name"].startswith(name_prefix) and t.get("duration")]


def rss_python(work):
    """An executable copy of rss_wrapper.py whose shebang is this Python: the interpreter Ansible runs modules with."""
    path = work / "rss-python"
    if not path.exists():
        text = (BENCH / "rss_wrapper.py").read_text(encoding="utf-8")
        path.write_text("#!%s\n%s" % (sys.executable, text), encoding="utf-8")
        path.chmod(0o755)
    return path


def read_rss(path):
    values = []
    if Path(path).exists():
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if line.strip():
                values.append(int(line.split()[0]))
    return values


# ---------------------------------------------------------------------------------------------------------------
# benchmarks

class Benchmarks:
    def __init__(self, env, results, n_clients, n_scale, calls):
        self.env = env
        self.r = results
        self.n = n_clients
        self.scale = n_scale
        self.calls = calls
        self.rid = run_id()
        self.main = clients("b%sa" % self.rid, n_clients)
        self.main_dir = env.work / "creds-main"
        self.main_dir.mkdir(exist_ok=True)
        self.ours25 = None

    def b2(self):
        env, r = self.env, self.r
        env.reset_counts()
        ours = onboard_ours(env, "b2-ours-%d" % self.n, self.main, self.main_dir)
        by_listener, by_route = env.counts()
        r.requests["B2 collection"] = by_route
        self.ours25 = {"run": ours, "cf_per_client": by_listener.get("cf", 0) / float(self.n)}
        one_dir = env.work / "creds-one"
        one_dir.mkdir(exist_ok=True)
        ours1 = onboard_ours(env, "b2-ours-1", clients("b%sb" % self.rid, 1), one_dir)
        ref_dir = env.work / "creds-ref"
        ref_dir.mkdir(exist_ok=True)
        env.reset_counts()
        ref = onboard_reference(env, "b2-uri-%d" % self.n, clients("b%sc" % self.rid, self.n), ref_dir)
        ref_listener, _unused = env.counts()
        ratio = ours["wall"] / ref["wall"]
        r.add("B2", "onboarding %d clients, collection (wall)" % self.n, ours["wall"], unit="s")
        r.add("B2", "onboarding %d clients, uri reference (wall)" % self.n, ref["wall"], unit="s")
        r.add("B2", "collection / uri reference", ratio, target="<= 0.30", ok=ratio <= 0.30, ratio=ratio)
        r.add("B2", "onboarding 1 client, collection (wall)", ours1["wall"], unit="s")
        scale = ours["wall"] / ours1["wall"]
        r.add("B2", "wall(%d) / wall(1)" % self.n, scale, target="<= 4", ok=scale <= 4, ratio=scale)
        r.add("B2", "CF requests per client: collection / uri", "%.1f / %.1f" % (
            self.ours25["cf_per_client"], ref_listener.get("cf", 0) / float(self.n)))
        self._verify_files(self.main_dir, self.main, "B2")

    def _verify_files(self, directory, client_list, bench):
        missing = [c["name"] for c in client_list if not (directory / ("%s.json" % c["name"])).exists()]
        if missing:
            self.r.add(bench, "credentials files written", "%d missing" % len(missing), target="all", ok=False)

    def b1(self):
        env, r = self.env, self.r
        env.reset_counts()
        rerun = onboard_ours(env, "b1-rerun", self.main, self.main_dir)
        by_listener, by_route = env.counts()
        r.requests["B1 no-op rerun"] = by_route
        changed = changed_total(rerun)
        cf_per_client = by_listener.get("cf", 0) / float(self.n)
        uaa = by_listener.get("uaa", 0)
        floor = floor_playbook(env, rerun, "b1-floor")
        r.add("B1", "no-op rerun %d clients: changed" % self.n, changed, target="0", ok=changed == 0)
        r.add("B1", "CF API requests per client", cf_per_client, target="<= 3", ok=cf_per_client <= 3)
        r.add("B1", "UAA requests for the play", uaa, target="1", ok=uaa == 1)
        r.add("B1", "no-op rerun (wall)", rerun["wall"], unit="s")
        r.add("B1", "Ansible floor, debug tasks of the same shape (wall)", floor["wall"], unit="s")
        r.add("B1", "rerun / floor", rerun["wall"] / floor["wall"], ratio=rerun["wall"] / floor["wall"])

    def b3(self):
        env, r = self.env, self.r
        keys = [self.main_dir / ("%s.json" % c["name"]) for c in self.main]
        env.reset_counts()
        ours = smoke_ours(env, "b3-ours", keys, self.calls, env.work / "cache-b3")
        by_listener, by_route = env.counts()
        tokens = sum(n for route, n in by_route.items() if route.endswith("POST /oauth/token")
                     and route.split(" ", 1)[0] in ("token", "cert-token"))
        calls = by_listener.get("runtime", 0)
        env.reset_counts()
        ref = smoke_reference(env, "b3-uri", self.main, self.main_dir, self.calls)
        ref_listener, _unused = env.counts()
        r.add("B3", "token requests, %d clients x %d calls" % (self.n, self.calls), tokens, target="%d" % self.n,
              ok=tokens == self.n)
        r.add("B3", "iFlow calls made (collection / uri)", "%d / %d" % (calls, ref_listener.get("runtime", 0)))
        r.add("B3", "smoke test, collection (wall)", ours["wall"], unit="s")
        r.add("B3", "smoke test, uri reference (wall)", ref["wall"], unit="s")
        r.add("B3", "collection / uri reference", ours["wall"] / ref["wall"], ratio=ours["wall"] / ref["wall"])

    def _api_key(self):
        api_dir = self.env.work / "creds-api"
        api_dir.mkdir(exist_ok=True)
        api_client = clients("b%sd" % self.rid, 1, plan="api")
        onboard_ours(self.env, "b4-setup", api_client, api_dir)
        return api_dir / ("%s.json" % api_client[0]["name"])

    def b4(self):
        env, r = self.env, self.r
        key_file = self._api_key()
        figures = {}
        for items in (2000, 20000):
            def module_task(dest):
                return {"name": "Read MPLs", "sap_btp.cloud_integration.odata_request": {
                    "service_key_path": str(key_file), "path": "MessageProcessingLogs", "max_items": items,
                    # the same output as the requests loop: raw OData values (without __metadata), no date conversion
                    "convert_dates": False, "dest": str(dest), "ca_path": env.conn["ca_bundle"]}, "register": "mpls"}

            # memory: one run through the RSS wrapper (an extra process, so it is not timed)
            rss_file = env.work / ("rss-%d.txt" % items)
            dest = env.work / ("mpls-module-%d.jsonl" % items)
            playbook = repeated_tasks_playbook(env, "b4-rss-%d" % items, module_task(dest), 1)
            env.run(playbook, "b4-rss-%d" % items, args=("-e", "ansible_python_interpreter=%s" % rss_python(env.work)),
                    env={"BENCH_RSS_FILE": str(rss_file)})
            lines = sum(1 for _unused in open(dest, encoding="utf-8"))
            # time: the module task and the loop in turn, each writing a new file; the median of the repeats
            module_walls, loop_walls, loop = [], [], {}
            for repeat in range(B4_REPEATS):
                timed_dest = env.work / ("mpls-module-%d-%d.jsonl" % (items, repeat))
                playbook = repeated_tasks_playbook(env, "b4-module-%d-%d" % (items, repeat), module_task(timed_dest), 1)
                run = env.run(playbook, "b4-module-%d-%d" % (items, repeat))
                module_walls.append(task_durations(run, "Read MPLs")[0])
                loop_dest = env.work / ("mpls-loop-%d-%d.jsonl" % (items, repeat))
                started = time.monotonic()
                proc = subprocess.run([sys.executable, str(BENCH / "baseline" / "odata_requests_loop.py"), "--key",
                                       str(key_file), "--ca", env.conn["ca_bundle"], "--max-items", str(items),
                                       "--page-size", "1000", "--dest", str(loop_dest)],
                                      capture_output=True, text=True, check=True)
                loop_walls.append(time.monotonic() - started)
                loop = json.loads(proc.stdout.strip().splitlines()[-1])
            figures[items] = {"module": statistics.median(module_walls), "loop": statistics.median(loop_walls),
                              "rss": max(read_rss(rss_file) or [0]), "loop_rss": loop["max_rss_kb"], "lines": lines,
                              "loop_items": loop["items"]}
        big = figures[20000]
        ratio = big["module"] / big["loop"]
        r.add("B4", "20,000 MPLs, odata_request task (wall, median of %d)" % B4_REPEATS, big["module"], unit="s")
        r.add("B4", "20,000 MPLs, bare requests loop (wall incl. interpreter start, median of %d)" % B4_REPEATS, big["loop"],
              unit="s")
        r.add("B4", "module / requests loop", ratio, target="<= 1.2", ok=ratio <= 1.2, ratio=ratio)
        r.add("B4", "items written (module / loop)", "%d / %d" % (big["lines"], big["loop_items"]),
              target="20000", ok=big["lines"] == 20000)
        growth = big["rss"] / float(figures[2000]["rss"] or 1)
        r.add("B4", "module peak RSS at 2,000 / 20,000 items", "%.0f / %.0f MB" % (
            figures[2000]["rss"] / 1024.0, big["rss"] / 1024.0), target="bounded (<= 1.5x growth)",
            ok=growth <= 1.5, ratio=growth)
        r.add("B4", "requests loop peak RSS at 20,000 items", "%.0f MB" % (big["loop_rss"] / 1024.0))

    def b5(self, count=15):
        env, r = self.env, self.r
        key_file = self.main_dir / ("%s.json" % self.main[0]["name"])
        token_task = {"name": "Cached token", "sap_btp.cloud_integration.oauth_token": {
            "service_key_path": str(key_file), "ca_path": env.conn["ca_bundle"]}, "no_log": True}
        warmup = dict(token_task, name="Warm the cache")
        playbook = repeated_tasks_playbook(env, "b5-token", token_task, count, warmup=warmup)
        cache = env.work / "cache-b5"
        env.reset_counts()
        token_run = env.run(playbook, "b5-token", cache_dir=cache)
        _unused, by_route = env.counts()
        fetched = sum(n for route, n in by_route.items() if route.endswith("POST /oauth/token"))
        ping_playbook = repeated_tasks_playbook(env, "b5-ping", {"name": "Ping", "ansible.builtin.ping": {}}, count)
        ping_run = env.run(ping_playbook, "b5-ping", cache_dir=cache)
        token_median = statistics.median(task_durations(token_run, "Cached token"))
        ping_median = statistics.median(task_durations(ping_run, "Ping"))
        ratio = token_median / ping_median
        r.add("B5", "oauth_token task, warm cache (median of %d)" % count, token_median * 1000, unit="ms")
        r.add("B5", "ansible.builtin.ping task (median of %d)" % count, ping_median * 1000, unit="ms")
        r.add("B5", "oauth_token / ping", ratio, target="<= 1.5", ok=ratio <= 1.5, ratio=ratio)
        r.add("B5", "token requests for %d cached tasks (+1 warm-up)" % count, fetched, target="1", ok=fetched == 1)

    def b6(self):
        env, r = self.env, self.r
        big = clients("b%se" % self.rid, self.scale)
        out = env.work / "creds-scale"
        out.mkdir(exist_ok=True)
        env.reset_counts()
        run = onboard_ours(env, "b6-scale-%d" % self.scale, big, out)
        by_listener, _unused = env.counts()
        per_client = by_listener.get("cf", 0) / float(self.scale)
        files = sum(1 for c in big if (out / ("%s.json" % c["name"])).exists())
        r.add("B6", "onboarding %d clients (wall)" % self.scale, run["wall"], unit="s")
        r.add("B6", "clients onboarded", files, target=str(self.scale), ok=files == self.scale)
        baseline = self.ours25["cf_per_client"] if self.ours25 else None
        if baseline is None:
            r.add("B6", "CF requests per client", per_client)
        else:
            r.add("B6", "CF requests per client at %d vs %d" % (self.scale, self.n), "%.2f vs %.2f" % (per_client, baseline),
                  target="<= at %d" % self.n, ok=per_client <= baseline + 1e-9, ratio=per_client / baseline)


def update_doc(results, settings):
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
    block = "%s\n%s\n\n%s\n%s" % (DOC_BEGIN, settings, results.table(markdown=True), DOC_END)
    if DOC_BEGIN in text and DOC_END in text:
        head, rest = text.split(DOC_BEGIN, 1)
        tail = rest.split(DOC_END, 1)[1]
        text = head + block + tail
    else:
        text = text + "\n" + block + "\n"
    DOC.write_text(text, encoding="utf-8")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="B1,B2,B3,B4,B5,B6", help="comma-separated benchmarks (B1 needs B2)")
    parser.add_argument("--clients", type=int, default=25)
    parser.add_argument("--scale", type=int, default=200)
    parser.add_argument("--calls", type=int, default=4)
    parser.add_argument("--update-doc", action="store_true", help="write the table into docs/performance.md")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--merge", action="store_true",
                        help="keep the figures of benchmarks not run now from the previous benchmarks/output/results.json")
    parser.add_argument("--doc-only", action="store_true",
                        help="run nothing: write the table of benchmarks/output/results.json into docs/performance.md")
    args = parser.parse_args()
    if args.doc_only:
        saved = json.loads((OUTPUT / "results.json").read_text(encoding="utf-8"))
        results = Results()
        results.rows = saved["rows"]
        update_doc(results, saved["settings"])
        print(results.table())
        return 1 if results.failed else 0
    wanted = {name.strip().upper() for name in args.only.split(",") if name.strip()}
    if wanted & {"B1", "B3", "B5"}:
        wanted.add("B2")

    OUTPUT.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    work = OUTPUT / stamp
    work.mkdir()
    env = Env(work)
    results = Results()
    env.start()
    try:
        profile = env.profile()
        settings = ("Sandbox profile `%s`: %.0f ms added to every request, instance provisioning %.1f s, key creation "
                    "%.1f s; %s, %d CPUs, Python %s; %d clients (B1-B3), %d clients (B6), %d calls per client (B3)." % (
                        profile.name, profile.latency_ms, profile.provisioning_s, profile.key_s,
                        platform.platform(terse=True), os.cpu_count() or 0, platform.python_version(), args.clients,
                        args.scale, args.calls))
        print(settings, flush=True)
        bench = Benchmarks(env, results, args.clients, args.scale, args.calls)
        for name in ("B2", "B1", "B3", "B4", "B5", "B6"):
            if name not in wanted:
                continue
            if name != "B2" and name != "B4" and bench.ours25 is None:
                results.add(name, "not run", "B2 (onboarding) failed", target="runs", ok=False)
                continue
            started = time.monotonic()
            print("running %s ..." % name, flush=True)
            try:
                getattr(bench, name.lower())()
            except Exception as exc:  # pylint: disable=broad-except
                results.add(name, "benchmark error", str(exc).splitlines()[0][:120], target="runs", ok=False)
                print(str(exc), file=sys.stderr)
            print("  %s done in %.0f s" % (name, time.monotonic() - started), flush=True)
    finally:
        env.stop()
    previous = OUTPUT / "results.json"
    if args.merge and previous.exists():
        # keep the previous figures of the benchmarks this run did not repeat (same settings, same sandbox profile)
        earlier = json.loads(previous.read_text(encoding="utf-8"))
        ran = {row["bench"] for row in results.rows}
        kept = [row for row in earlier.get("rows", []) if row["bench"] not in ran]
        order = ["B1", "B2", "B3", "B4", "B5", "B6"]
        results.rows = sorted(results.rows + kept, key=lambda row: order.index(row["bench"]) if row["bench"] in order else 99)
        for label, counts in earlier.get("requests_by_route", {}).items():
            results.requests.setdefault(label, counts)
    print()
    print(settings)
    print(results.table())
    (OUTPUT / "results.json").write_text(json.dumps({"settings": settings, "rows": results.rows,
                                                     "requests_by_route": results.requests}, indent=1),
                                         encoding="utf-8")
    if args.update_doc:
        update_doc(results, settings)
    if args.keep or results.failed:
        print("work directory (logs, timings): %s" % work)
    else:
        shutil.rmtree(work, ignore_errors=True)
    if results.failed:
        print("\n%d target(s) not met" % len(results.failed))
        return 1
    print("\nall targets met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
