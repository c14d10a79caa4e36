# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark-only callback: records every task's wall time, loop items and changed/failed counts.

Enabled by the benchmark harness with ANSIBLE_CALLBACKS_ENABLED=bench_timer; writes JSON to $BENCH_TIMER_FILE.
"""

from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: bench_timer
type: aggregate
short_description: record task timings for the benchmarks
description: Writes task names, actions, durations, loop item counts and recap stats to the file in BENCH_TIMER_FILE.
requirements: [enabled in callbacks_enabled]
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_timer"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.tasks = []
        self.current = None
        self.started = time.monotonic()

    def _close_current(self):
        if self.current is not None and self.current.get("end") is None:
            self.current["end"] = time.monotonic() - self.started
            self.current["duration"] = self.current["end"] - self.current["start"]

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._close_current()
        self.current = {"name": task.get_name(), "action": task.action, "start": time.monotonic() - self.started,
                        "end": None, "items": 0, "changed": 0, "failed": 0, "skipped": 0, "hosts": 0}
        self.tasks.append(self.current)

    v2_playbook_on_handler_task_start = v2_playbook_on_task_start

    def _result(self, result, kind):
        if self.current is None:
            return
        self.current["hosts"] += 1
        data = result._result
        if kind == "failed" and not data.get("_ansible_ignore_errors"):
            self.current["failed"] += 1
        if kind == "skipped":
            self.current["skipped"] += 1
        if isinstance(data.get("results"), list):
            self.current["items"] += len(data["results"])
            self.current["changed"] += sum(1 for item in data["results"] if isinstance(item, dict) and item.get("changed"))
        elif data.get("changed"):
            self.current["changed"] += 1
        self.current["end"] = time.monotonic() - self.started
        self.current["duration"] = self.current["end"] - self.current["start"]

    def v2_runner_on_ok(self, result):
        self._result(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._result(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._result(result, "failed")

    def v2_playbook_on_stats(self, stats):
        self._close_current()
        path = os.environ.get("BENCH_TIMER_FILE")
        if not path:
            return
        summary = {host: stats.summarize(host) for host in sorted(stats.processed)}
        with open(path, "w", encoding="utf-8") as handle:
            json.dump({"tasks": self.tasks, "stats": summary, "wall": time.monotonic() - self.started}, handle, indent=1)
