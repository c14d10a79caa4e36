# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Test-only callback: records every task result, the stats and the set_stats data of a run as JSON.

It runs next to the stdout callback (so people still read the normal output) and writes the file named by
E2E_RECORD_FILE when the run ends, in the shape of the ansible.posix.json callback. Results arrive here already
censored for no_log tasks, like in every other callback.
"""

from __future__ import annotations

import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: e2e_record
type: aggregate
short_description: Record task results and stats as JSON for the end-to-end tests
description:
  - Writes the results, per-host stats and custom stats of a run to the file in E(E2E_RECORD_FILE).
requirements:
  - enable in configuration
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "e2e_record"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.plays = []

    def v2_playbook_on_play_start(self, play):
        self.plays.append({"play": {"name": play.get_name()}, "tasks": []})

    def _task_entry(self, task):
        if not self.plays:
            self.plays.append({"play": {"name": ""}, "tasks": []})
        tasks = self.plays[-1]["tasks"]
        if not tasks or tasks[-1]["task"].get("uuid") != task._uuid:  # pylint: disable=protected-access
            tasks.append({"task": {"name": task.get_name(), "uuid": task._uuid}, "hosts": {}})  # pylint: disable=protected-access
        return tasks[-1]

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._task_entry(task)

    def _record(self, result, **extra):
        entry = self._task_entry(result._task)  # pylint: disable=protected-access
        data = dict(result._result)  # pylint: disable=protected-access
        data.update(extra)
        entry["hosts"][result._host.get_name()] = json.loads(json.dumps(data, default=str))  # pylint: disable=protected-access

    def v2_runner_on_ok(self, result):
        self._record(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, failed=True)

    def v2_runner_on_unreachable(self, result):
        self._record(result, unreachable=True)

    def v2_runner_on_skipped(self, result):
        self._record(result, skipped=True)

    def v2_playbook_on_stats(self, stats):
        hosts = sorted(stats.processed.keys())
        summary = {host: stats.summarize(host) for host in hosts}
        custom = stats.custom.get("_run", {}) if stats.custom else {}
        path = os.environ.get("E2E_RECORD_FILE")
        if path:
            with open(path, "w", encoding="utf-8") as handle:
                json.dump({"plays": self.plays, "stats": summary, "global_custom_stats": custom}, handle, default=str)
