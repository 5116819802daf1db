# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A unit_fail fault's failure is not hidden by a runtime report delivered after it.

The process runtime reports from its own reporter thread, so the ``loaded/inactive/dead`` of a load can reach the
registry after the failure the registry injected for the start that followed it. The runtime here delivers its load
report late on purpose: the row must still say failed (before the fix it went back to inactive/dead, and a wait on
the unit ran into its timeout instead of failing fast).
"""
from __future__ import annotations

import threading

from lab.fleetlab.registry import Machine, Registry, UnitFailRule

from fleetlab_support import wait_for

OPTIONS = [{"section": "Service", "name": "ExecStart", "value": "/bin/sleep 600"}]


class LateReportingRuntime:
    """Reports a load only once released; records what it was asked to do."""

    def __init__(self, report):
        self.report = report
        self.release = threading.Event()
        self.calls: list[tuple[str, str]] = []
        self.delivered = threading.Event()

    def load(self, machine, unit_name, options, env):
        self.calls.append(("load", unit_name))

        def deliver():
            self.release.wait(10)
            self.report(machine["id"], unit_name, "loaded", "inactive", "dead")
            self.delivered.set()
        threading.Thread(target=deliver, daemon=True).start()

    def start(self, machine_id, unit_name):
        self.calls.append(("start", unit_name))
        self.report(machine_id, unit_name, "loaded", "active", "running")

    def stop(self, machine_id, unit_name):
        self.calls.append(("stop", unit_name))

    def unload(self, machine_id, unit_name):
        self.calls.append(("unload", unit_name))
        self.report(machine_id, unit_name, None)

    def shutdown(self):
        self.release.set()


def test_injected_failure_survives_a_late_load_report(tmp_path):
    machine = Machine(id="a" * 32, ip="127.0.0.1", metadata={}, root=str(tmp_path), consul="")
    runtimes = []
    registry = Registry([machine], lambda report: runtimes.append(LateReportingRuntime(report)) or runtimes[0],
                        latency=0)
    runtime = runtimes[0]
    try:
        registry.unit_fail_rules.append(UnitFailRule("1", "boom@*"))
        registry.create_unit("boom@1.service", OPTIONS, "launched", target=machine.id)
        assert registry.wait_idle(10)
        key = ("boom@1.service", machine.id)
        assert registry.rows[key][1:3] == ("failed", "failed")
        assert ("start", "boom@1.service") not in runtime.calls  # the fault's unit is never started
        runtime.release.set()
        assert runtime.delivered.wait(10)
        assert registry.rows[key][1:3] == ("failed", "failed")

        # Without the fault, a relaunch starts it for real and the row follows the runtime again.
        registry.unit_fail_rules.clear()
        registry.set_desired("boom@1.service", "loaded")
        assert registry.wait_idle(10)
        registry.set_desired("boom@1.service", "launched")
        assert registry.wait_idle(10)
        wait_for(lambda: registry.rows[key][1:3] == ("active", "running"), what="the unit running")
    finally:
        registry.shutdown()
