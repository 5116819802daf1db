# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Virtual mode orders starts as systemd does: After= units loaded on the machine first, a failed Requires= fails."""

from __future__ import annotations

import threading

from lab.fleetlab.virtual import VirtualRuntime

MACHINE = {"id": "m1"}


def unit(*lines):
    options = []
    for line in lines:
        section, _sep, rest = line.partition(":")
        name, _eq, value = rest.partition("=")
        options.append({"section": section, "name": name, "value": value})
    return options


class Recorder:
    def __init__(self):
        self.events = []
        self.cond = threading.Condition()

    def __call__(self, machine_id, name, load, active, sub):
        with self.cond:
            self.events.append((name, active, sub))
            self.cond.notify_all()

    def wait_for(self, name, active, timeout=5):
        with self.cond:
            assert self.cond.wait_for(lambda: (name, active) in [(n, a) for n, a, _s in self.events], timeout), self.events

    def order(self, active):
        return [n for n, a, _s in self.events if a == active]


def runtime_with(recorder, units):
    runtime = VirtualRuntime(recorder)
    for name, options in units.items():
        runtime.load(MACHINE, name, options, {})
    return runtime


def test_units_started_together_become_active_in_after_order():
    recorder = Recorder()
    runtime = runtime_with(recorder, {
        "a.service": unit("X-Fleetlab:StartSeconds=0.1"),
        "b.service": unit("Unit:Requires=a.service", "Unit:After=a.service", "X-Fleetlab:StartSeconds=0.01"),
        "c.service": unit("Unit:Requires=b.service", "Unit:After=b.service other-not-loaded.service",
                          "X-Fleetlab:StartSeconds=0.01"),
    })
    try:
        for name in ("c.service", "b.service", "a.service"):
            runtime.start("m1", name)
        recorder.wait_for("c.service", "active")
        assert recorder.order("active") == ["a.service", "b.service", "c.service"]
        # b and c queued (inactive/dead) until what they are ordered after was active.
        assert ("b.service", "inactive", "dead") in recorder.events
        assert ("c.service", "inactive", "dead") in recorder.events
    finally:
        runtime.shutdown()


def test_a_failed_required_unit_fails_the_units_ordered_after_it():
    recorder = Recorder()
    runtime = runtime_with(recorder, {
        "a.service": unit("X-Fleetlab:Fail=true"),
        "b.service": unit("Unit:Requires=a.service", "Unit:After=a.service"),
        "c.service": unit("Unit:Requires=b.service", "Unit:After=b.service"),
        "d.service": unit("Unit:After=a.service"),
    })
    try:
        for name in ("a.service", "b.service", "c.service", "d.service"):
            runtime.start("m1", name)
        recorder.wait_for("c.service", "failed")
        recorder.wait_for("d.service", "active")
        assert recorder.order("failed") == ["a.service", "b.service", "c.service"]
        assert "b.service" not in recorder.order("active")
    finally:
        runtime.shutdown()


def test_starting_a_unit_pulls_in_what_it_requires():
    recorder = Recorder()
    runtime = runtime_with(recorder, {
        "a.service": unit("X-Fleetlab:StartSeconds=0.01"),
        "b.service": unit("Unit:Requires=a.service", "Unit:After=a.service"),
    })
    try:
        runtime.start("m1", "b.service")
        recorder.wait_for("b.service", "active")
        assert recorder.order("active") == ["a.service", "b.service"]
    finally:
        runtime.shutdown()


def test_a_finished_oneshot_satisfies_the_ordering():
    recorder = Recorder()
    runtime = runtime_with(recorder, {
        "setup.service": unit("Service:Type=oneshot"),
        "app.service": unit("Unit:Requires=setup.service", "Unit:After=setup.service"),
    })
    try:
        runtime.start("m1", "app.service")
        runtime.start("m1", "setup.service")
        recorder.wait_for("app.service", "active")
        assert ("app.service", "failed", "failed") not in recorder.events
    finally:
        runtime.shutdown()


def test_a_unit_reloaded_with_new_content_behaves_as_the_new_content_says_on_every_machine():
    """The options are parsed once per content and shared by the machines that load it; new content is parsed anew."""
    ends = {}
    done = threading.Condition()

    def report(machine_id, name, load, active, sub):
        if active in ("active", "failed"):
            with done:
                ends[machine_id] = active
                done.notify_all()

    runtime = VirtualRuntime(report)
    try:
        for machine in ("m1", "m2", "m3"):
            runtime.load({"id": machine}, "a.service", unit("X-Fleetlab:StartSeconds=0.01"), {})
        runtime.load({"id": "m2"}, "a.service", unit("X-Fleetlab:StartSeconds=0.01", "X-Fleetlab:Fail=true"), {})
        for machine in ("m1", "m2", "m3"):
            runtime.start(machine, "a.service")
        with done:
            assert done.wait_for(lambda: len(ends) == 3, 5), ends
        assert ends == {"m1": "active", "m2": "failed", "m3": "active"}
    finally:
        runtime.shutdown()
