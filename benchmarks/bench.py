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
BREAKDOWN_BEGIN = "<!-- BENCH-BREAKDOWN:BEGIN -->"
BREAKDOWN_END = "<!-- BENCH-BREAKDOWN:END -->"
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
        self.loads = []  # (run label, 1-minute load average before, after)

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
        load_before = os.getloadavg()[0]
        started = time.monotonic()
        with open(log_file, "w", encoding="utf-8") as log:
            proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=run_env, cwd=str(self.work))
            # wait4: the peak RSS (kB) of the largest process of the ansible-playbook tree (the controller)
            dummy, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - started
        timer = {}
        if timer_file.exists():
            timer = json.loads(timer_file.read_text(encoding="utf-8"))
        self.loads.append((label, load_before, os.getloadavg()[0]))
        result = {"wall": wall, "rc": proc.returncode, "timer": timer, "log": str(log_file), "rss_kb": usage.ru_maxrss,
                  "load": (load_before, os.getloadavg()[0])}
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


def onboard_reference(env, label, client_list, out_dir, naive=False):
    """The `uri` reference: the fair one (benchmarks/reference/onboard_uri.yml) or the naive, serial one."""
    extra = {"cf_api": env.conn["cf"]["api_url"], "cf_username": env.conn["cf"]["username"],
             "cf_password": env.conn["cf"]["password"], "cf_org": env.tenant()["org"], "cf_space": env.tenant()["space"],
             "ca_path": env.conn["ca_bundle"], "out_dir": str(out_dir), "clients": client_list}
    playbook = "onboard_uri_naive.yml" if naive else "onboard_uri.yml"
    return env.run(BENCH / "reference" / playbook, label, extra_vars=extra)


def floor_playbook(env, shape_run, label, items=True):
    """A playbook with the same tasks as `shape_run` (and, with items, the same loop items), every task an
    ansible.builtin.debug: Ansible's own cost for the shape of the run."""
    tasks = []
    for index, task in enumerate(shape_run["timer"]["tasks"]):
        debug = {"name": "floor %d: %s" % (index, task["name"]), "ansible.builtin.debug": {"msg": "{{ item | default('') }}"}}
        if task["items"] and items:
            debug["loop"] = "{{ range(%d) | list }}" % task["items"]
        tasks.append(debug)
    path = env.work / ("floor-%s.yml" % label)
    path.write_text(yaml.safe_dump([{"name": "Ansible floor (debug tasks of the same shape)", "hosts": "localhost",
                                     "gather_facts": False, "tasks": tasks}], sort_keys=False), encoding="utf-8")
    return env.run(path, label)


def smoke_ours(env, label, key_files, calls, cache_dir):
    """The smoke test with the collection: one iflow_request task with every call of every client (the requests
    batch: one token per client, the calls on threads sharing the connection pool)."""
    requests_ = [{"name": Path(key).stem, "service_key_path": str(key)} for key in key_files for dummy in range(calls)]
    tasks = [{
        "name": "Call the iFlows",
        "sap_btp.cloud_integration.iflow_request": {
            "path": "/products/details", "method": "POST", "body": {"productIdentifier": "HT-2000"},
            "status_code": [200], "ca_path": env.conn["ca_bundle"], "requests": "{{ calls }}"},
    }]
    path = env.work / ("smoke-%s.yml" % label)
    path.write_text(yaml.safe_dump([{"name": "Smoke test (collection modules)", "hosts": "localhost",
                                     "gather_facts": False, "vars": {"calls": requests_},
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

def requests_total(by_listener):
    """Requests to Cloud Foundry and its UAA (what a minimal playbook must make, each costing the profile's latency)."""
    return by_listener.get("cf", 0) + by_listener.get("uaa", 0)


def breakdown(run, top=12):
    """The tasks of a run that took longest: (name, action, seconds, items, seconds per item)."""
    rows = []
    for task in run["timer"].get("tasks", []):
        duration = task.get("duration") or 0.0
        rows.append({"name": task["name"], "action": task["action"], "seconds": round(duration, 2), "items": task["items"],
                     "per_item": round(duration / task["items"], 3) if task["items"] else None})
    rows.sort(key=lambda row: row["seconds"], reverse=True)
    return {"wall": round(run["wall"], 2), "tasks": len(rows), "top": rows[:top],
            "rest": round(sum(row["seconds"] for row in rows[top:]), 2)}


def spread(values):
    """(median, min, max) of a list of ratios."""
    return statistics.median(values), min(values), max(values)


class Benchmarks:
    def __init__(self, env, results, n_clients, n_scale, calls, repeats=1, naive=False):
        self.env = env
        self.r = results
        self.n = n_clients
        self.scale = n_scale
        self.calls = calls
        self.repeats = max(1, repeats)
        self.naive = naive
        self.rid = run_id()
        self.main = clients("b%sa" % self.rid, n_clients)
        self.main_dir = env.work / "creds-main"
        self.main_dir.mkdir(exist_ok=True)
        self.ref_clients = clients("b%sc" % self.rid, n_clients)
        self.ref_dir = env.work / "creds-ref"
        self.ref_dir.mkdir(exist_ok=True)
        self.ours25 = None
        self.breakdowns = {}

    def _pair(self, label, client_count, tag):
        """One side-by-side measurement: the collection, then the fair reference, on fresh clients of their own."""
        env = self.env
        ours_clients = self.main if tag == "main" else clients("b%s%so" % (self.rid, label), client_count)
        ref_clients = self.ref_clients if tag == "main" else clients("b%s%sr" % (self.rid, label), client_count)
        ours_dir = self.main_dir if tag == "main" else env.work / ("creds-%s-ours" % label)
        ref_dir = self.ref_dir if tag == "main" else env.work / ("creds-%s-ref" % label)
        ours_dir.mkdir(exist_ok=True)
        ref_dir.mkdir(exist_ok=True)
        env.reset_counts()
        ours = onboard_ours(env, "b2-ours-%s" % label, ours_clients, ours_dir)
        ours_counts = env.counts()
        env.reset_counts()
        ref = onboard_reference(env, "b2-uri-%s" % label, ref_clients, ref_dir)
        ref_counts = env.counts()
        self._verify_files(ours_dir, ours_clients, "B2")
        self._verify_files(ref_dir, ref_clients, "B2")
        return ours, ours_counts, ref, ref_counts

    def b2(self):
        env, r, n = self.env, self.r, self.n
        ratios, ratios1, pairs = [], [], []
        for repeat in range(self.repeats):
            tag = "main" if repeat == 0 else "x"
            ours, (ours_listener, ours_route), ref, (ref_listener, _unused) = self._pair("%d-%d" % (n, repeat), n, tag)
            ours1, _unused1, ref1, _unused2 = self._pair("1-%d" % repeat, 1, "one")
            pairs.append((ours, ours_listener, ref, ref_listener, ours1, ref1))
            ratios.append(ours["wall"] / ref["wall"])
            ratios1.append(ours1["wall"] / ref1["wall"])
            if repeat == 0:
                r.requests["B2 collection"] = ours_route
                self.ours25 = {"run": ours, "cf_per_client": ours_listener.get("cf", 0) / float(n), "ref_run": ref,
                               "ref_requests": requests_total(ref_listener)}
                self.breakdowns["first onboarding, %d clients" % n] = breakdown(ours)
                self.breakdowns["first onboarding, fair uri reference"] = breakdown(ref)
        ours, ours_listener, ref, ref_listener, ours1, ref1 = pairs[0]
        med, low, high = spread(ratios)
        r.add("B2", "onboarding %d clients, collection (wall)" % n, ours["wall"], unit="s")
        r.add("B2", "onboarding %d clients, fair uri reference (wall)" % n, ref["wall"], unit="s")
        r.add("B2", "collection / fair reference, %d clients (median, min-max of %d)" % (n, len(ratios)),
              "%.2f (%.2f-%.2f)" % (med, low, high), target="<= 0.30", ok=med <= 0.30, ratio=med)
        med1, low1, high1 = spread(ratios1)
        r.add("B2", "onboarding 1 client, collection / fair reference (wall)", "%.2f / %.2f s" % (ours1["wall"], ref1["wall"]))
        r.add("B2", "collection / fair reference, 1 client (median, min-max of %d)" % len(ratios1),
              "%.2f (%.2f-%.2f)" % (med1, low1, high1), target="<= 0.70", ok=med1 <= 0.70, ratio=med1)
        cf_per_client = ours_listener.get("cf", 0) / float(n)
        r.add("B2", "CF requests per client, collection / fair reference", "%.2f / %.2f" % (
            cf_per_client, ref_listener.get("cf", 0) / float(n)), target="<= 4", ok=cf_per_client <= 4, ratio=cf_per_client)
        # the floor: the fair reference's requests x latency, one overlapped provisioning and key wait, and an empty
        # play with the tasks of the collection's run
        profile = env.profile()
        empty = floor_playbook(env, ours, "b2-empty", items=False)
        floor = (requests_total(ref_listener) * profile.latency_ms / 1000.0 + profile.provisioning_s + profile.key_s
                 + empty["wall"])
        r.add("B2", "floor: %d requests x %.0f ms + %.0f s + %.0f s waits + empty play of %d tasks (%.2f s)" % (
            requests_total(ref_listener), profile.latency_ms, profile.provisioning_s, profile.key_s,
            len(ours["timer"].get("tasks", [])), empty["wall"]), floor, unit="s")
        r.add("B2", "first onboarding / floor", ours["wall"] / floor, ratio=ours["wall"] / floor)
        if self.naive:
            naive_dir = env.work / "creds-naive"
            naive_dir.mkdir(exist_ok=True)
            naive = onboard_reference(env, "b2-naive-%d" % n, clients("b%sn" % self.rid, n), naive_dir, naive=True)
            r.add("B2", "onboarding %d clients, naive serial uri reference (wall)" % n, naive["wall"], unit="s")
            r.add("B2", "collection / naive reference", ours["wall"] / naive["wall"], ratio=ours["wall"] / naive["wall"])

    def _verify_files(self, directory, client_list, bench):
        missing = [c["name"] for c in client_list if not (directory / ("%s.json" % c["name"])).exists()]
        if missing:
            self.r.add(bench, "credentials files written", "%d missing" % len(missing), target="all", ok=False)

    def b1(self):
        env, r, n = self.env, self.r, self.n
        ratios, pairs = [], []
        for repeat in range(self.repeats):
            env.reset_counts()
            rerun = onboard_ours(env, "b1-rerun-%d" % repeat, self.main, self.main_dir)
            ours_counts = env.counts()
            env.reset_counts()
            ref = onboard_reference(env, "b1-uri-rerun-%d" % repeat, self.ref_clients, self.ref_dir)
            ref_counts = env.counts()
            pairs.append((rerun, ours_counts, ref, ref_counts))
            ratios.append(rerun["wall"] / ref["wall"])
        rerun, (by_listener, by_route), ref, (ref_listener, _unused) = pairs[0]
        r.requests["B1 no-op rerun"] = by_route
        self.breakdowns["no-op rerun, %d clients" % n] = breakdown(rerun)
        changed = changed_total(rerun)
        ref_changed = changed_total(ref)
        cf_per_client = by_listener.get("cf", 0) / float(n)
        uaa = by_listener.get("uaa", 0)
        empty = floor_playbook(env, rerun, "b1-empty", items=False)
        profile = env.profile()
        minimum = requests_total(ref_listener)
        floor = minimum * profile.latency_ms / 1000.0 + empty["wall"]
        r.add("B1", "no-op rerun %d clients: changed (collection / fair reference)" % n, "%d / %d" % (changed, ref_changed),
              target="0", ok=changed == 0)
        r.add("B1", "CF API requests per client", cf_per_client, target="<= 3", ok=cf_per_client <= 3)
        r.add("B1", "UAA requests for the play", uaa, target="1", ok=uaa == 1)
        r.add("B1", "no-op rerun, collection / fair reference (wall)", "%.2f / %.2f s" % (rerun["wall"], ref["wall"]))
        med, low, high = spread(ratios)
        r.add("B1", "collection / fair reference rerun (median, min-max of %d)" % len(ratios), "%.2f (%.2f-%.2f)" % (med, low, high),
              target="<= 0.20", ok=med <= 0.20, ratio=med)
        r.add("B1", "floor: %d requests x %.0f ms + empty play of %d tasks (%.2f s)" % (
            minimum, profile.latency_ms, len(rerun["timer"].get("tasks", [])), empty["wall"]), floor, unit="s")
        r.add("B1", "rerun / floor", rerun["wall"] / floor, target="<= 3", ok=rerun["wall"] / floor <= 3, ratio=rerun["wall"] / floor)

    def b3(self):
        env, r = self.env, self.r
        keys = [self.main_dir / ("%s.json" % c["name"]) for c in self.main]
        ratios, first = [], None
        for repeat in range(self.repeats):
            env.reset_counts()
            ours = smoke_ours(env, "b3-ours-%d" % repeat, keys, self.calls, env.work / ("cache-b3-%d" % repeat))
            by_listener, by_route = env.counts()
            env.reset_counts()
            ref = smoke_reference(env, "b3-uri-%d" % repeat, self.main, self.main_dir, self.calls)
            ref_listener, _unused = env.counts()
            ratios.append(ours["wall"] / ref["wall"])
            if first is None:
                first = (ours, by_listener, by_route, ref, ref_listener)
        ours, by_listener, by_route, ref, ref_listener = first
        self.breakdowns["smoke test, %d clients x %d calls" % (self.n, self.calls)] = breakdown(ours)
        tokens = sum(n for route, n in by_route.items() if route.endswith("POST /oauth/token")
                     and route.split(" ", 1)[0] in ("token", "cert-token"))
        calls = by_listener.get("runtime", 0)
        r.add("B3", "token requests, %d clients x %d calls" % (self.n, self.calls), tokens, target="%d" % self.n,
              ok=tokens == self.n)
        r.add("B3", "iFlow calls made (collection / uri)", "%d / %d" % (calls, ref_listener.get("runtime", 0)))
        r.add("B3", "smoke test, collection / fair reference (wall)", "%.2f / %.2f s" % (ours["wall"], ref["wall"]))
        med, low, high = spread(ratios)
        r.add("B3", "collection / fair reference (median, min-max of %d)" % len(ratios), "%.2f (%.2f-%.2f)" % (med, low, high),
              target="<= 0.35", ok=med <= 0.35, ratio=med)

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
        if not self.ours25:
            r.add("B6", "CF requests per client", per_client)
            return
        baseline = self.ours25["cf_per_client"]
        r.add("B6", "CF requests per client at %d vs %d" % (self.scale, self.n), "%.2f vs %.2f" % (per_client, baseline),
              target="<= at %d" % self.n, ok=per_client <= baseline + 1e-9, ratio=per_client / baseline)
        wall25 = self.ours25["run"]["wall"]
        r.add("B6", "wall(%d) / wall(%d) (%.1f s)" % (self.scale, self.n, wall25), run["wall"] / wall25, target="<= 2",
              ok=run["wall"] / wall25 <= 2, ratio=run["wall"] / wall25)
        rss25 = self.ours25["run"]["rss_kb"]
        r.add("B6", "controller peak RSS at %d / %d clients" % (self.n, self.scale), "%.0f / %.0f MB" % (
            rss25 / 1024.0, run["rss_kb"] / 1024.0), target="<= 1.5x", ok=run["rss_kb"] <= 1.5 * rss25,
            ratio=run["rss_kb"] / float(rss25))
        self.breakdowns["first onboarding, %d clients" % self.scale] = breakdown(run)


def replace_block(text, begin, end, block):
    block = "%s\n%s\n%s" % (begin, block, end)
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        return head + block + rest.split(end, 1)[1]
    return text + "\n" + block + "\n"


def breakdown_markdown(breakdowns):
    """Per benchmark run: the tasks that took longest, with their items and time per item."""
    out = []
    for title, data in breakdowns.items():
        out.append("**%s** (wall %.2f s, %d tasks; the other tasks together %.2f s)\n" % (title, data["wall"], data["tasks"], data["rest"]))
        out.append("| task | module | s | items | s per item |")
        out.append("|---|---|---|---|---|")
        for row in data["top"]:
            per_item = "%.3f" % row["per_item"] if row["per_item"] else "-"
            out.append("| %s | %s | %.2f | %s | %s |" % (row["name"].replace("|", "/"), row["action"], row["seconds"], row["items"] or "-", per_item))
        out.append("")
    return "\n".join(out).rstrip()


def update_doc(results, settings, breakdowns=None, loads=None):
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
    text = replace_block(text, DOC_BEGIN, DOC_END, "%s\n\n%s" % (settings, results.table(markdown=True)))
    if breakdowns:
        extra = breakdown_markdown(breakdowns)
        if loads:
            extra += "\n\nLoad average (1 min) during the runs: %s." % load_summary(loads)
        text = replace_block(text, BREAKDOWN_BEGIN, BREAKDOWN_END, extra)
    DOC.write_text(text, encoding="utf-8")


def load_summary(loads):
    values = [value for dummy, before, after in loads for value in (before, after)]
    return "median %.2f, min %.2f, max %.2f over %d runs (2 CPUs; other jobs shared the machine)" % (
        statistics.median(values), min(values), max(values), len(loads)) if values else "-"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="B1,B2,B3,B4,B5,B6", help="comma-separated benchmarks (B1 needs B2)")
    parser.add_argument("--clients", type=int, default=25)
    parser.add_argument("--scale", type=int, default=200)
    parser.add_argument("--calls", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=1,
                        help="side-by-side pairs (collection, then fair reference) of B1-B3; ratios as median and min-max")
    parser.add_argument("--naive", action="store_true", help="B2 also runs the naive, serial uri reference (slow)")
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
        update_doc(results, saved["settings"], saved.get("breakdowns"), saved.get("loads"))
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
        bench = Benchmarks(env, results, args.clients, args.scale, args.calls, repeats=args.repeats, naive=args.naive)
        for name in ("B2", "B1", "B3", "B4", "B5", "B6"):
            if name not in wanted:
                continue
            if name not in ("B2", "B4", "B6") and bench.ours25 is None:
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
    print("load average (1 min) during the runs: %s" % load_summary(env.loads))
    (OUTPUT / "results.json").write_text(json.dumps({"settings": settings, "rows": results.rows,
                                                     "requests_by_route": results.requests, "breakdowns": bench.breakdowns,
                                                     "loads": env.loads}, indent=1),
                                         encoding="utf-8")
    if args.update_doc:
        update_doc(results, settings, bench.breakdowns, env.loads)
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
