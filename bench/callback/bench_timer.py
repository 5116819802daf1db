# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Callback of the bench (not part of the collection): per task durations as JSON lines.

Enabled by the bench with ``ANSIBLE_CALLBACK_PLUGINS=<repo>/bench/callback`` and
``ANSIBLE_CALLBACKS_ENABLED=bench_timer``; writes to the file named by ``BENCH_TIMINGS_FILE``
one JSON object per finished task: ``{"task", "role", "action", "seconds", "status"}``, and one
``{"event": "play_start"|"stats", "t": <epoch>}`` at the start of the first play and at the end.
"""
from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: bench_timer
type: aggregate
short_description: per task durations for the bench
description: Writes one JSON line per task (name, role, action, seconds) to $BENCH_TIMINGS_FILE.
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_timer"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self._path = os.environ.get("BENCH_TIMINGS_FILE")
        self._task = None
        self._started = None
        self._play_started = False

    def _write(self, record: dict) -> None:
        if not self._path:
            return
        with open(self._path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")

    def _close_task(self, status: str = "ok") -> None:
        if self._task is None:
            return
        task = self._task
        self._write({"task": task.get_name(), "role": task._role.get_name() if task._role else None,
                     "action": task.action, "seconds": round(time.monotonic() - self._started, 4), "status": status})
        self._task = None

    def v2_playbook_on_play_start(self, play):
        if not self._play_started:
            self._play_started = True
            self._write({"event": "play_start", "t": time.time()})

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._close_task()
        self._task = task
        self._started = time.monotonic()

    def v2_playbook_on_handler_task_start(self, task):
        self._close_task()
        self._task = task
        self._started = time.monotonic()

    def v2_runner_on_failed(self, result, ignore_errors=False):
        if not ignore_errors:
            self._close_task("failed")

    def v2_playbook_on_stats(self, stats):
        self._close_task()
        self._write({"event": "stats", "t": time.time()})
