# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""VirtualRuntime: the runtime interface of CONTRACT.md without processes (scripted transitions).

A unit becomes ``active/running`` (``active/exited`` for ``Type=oneshot`` with ``RemainAfterExit``)
``[X-Fleetlab] StartSeconds=`` (default 0.05) after ``start()``, or ``failed/failed`` when
``[X-Fleetlab] Fail=true``. One timer thread serves every unit, so thousands of units cost no threads.

Ordering is systemd's, as in the process runtime: starting a unit pulls in (starts) its ``Requires=``,
``BindsTo=`` and ``Wants=`` units loaded on the machine, and a start waits (queued, ``inactive/dead``) until every
``After=`` unit loaded on the same machine has started (active, or a oneshot that finished); when one of
them fails and the unit ``Requires=`` (or ``BindsTo=``) it, the start fails (``failed/failed``). Units not
loaded on the machine are ignored.
"""
from __future__ import annotations

import heapq
import itertools
import threading
import time
from typing import Callable

DEFAULT_START_SECONDS = 0.05
DEFAULT_STOP_SECONDS = 0.01
MAX_SPECS = 4096


def _option(options: list[dict], section: str, name: str) -> str | None:
    value = None
    for option in options:
        if option["section"] == section and option["name"] == name:
            value = option["value"]
    return value


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "yes", "true", "on", "t", "y")


def _names(options: list[dict], section: str, *names: str) -> set[str]:
    return {word for option in options if option["section"] == section and option["name"] in names
            for word in option["value"].split()}


class _UnitSpec:
    """What a unit's options say about its start (parsed once per content, shared by every machine that loads it)."""
    __slots__ = ("start_seconds", "fail", "oneshot", "remain", "after", "requires", "pulls")

    def __init__(self, options: list[dict]):
        try:
            self.start_seconds = max(0.0, float(_option(options, "X-Fleetlab", "StartSeconds") or DEFAULT_START_SECONDS))
        except ValueError:
            self.start_seconds = DEFAULT_START_SECONDS
        self.fail = _truthy(_option(options, "X-Fleetlab", "Fail"))
        self.oneshot = (_option(options, "Service", "Type") or "simple").strip() == "oneshot"
        self.remain = _truthy(_option(options, "Service", "RemainAfterExit"))
        self.after = frozenset(_names(options, "Unit", "After"))
        self.requires = frozenset(_names(options, "Unit", "Requires", "BindsTo"))
        self.pulls = frozenset(_names(options, "Unit", "Requires", "BindsTo", "Wants"))


class _VirtualUnit:
    __slots__ = ("start_seconds", "fail", "oneshot", "remain", "generation", "started_at", "running",
                 "after", "requires", "pulls", "queued", "result")

    def __init__(self, spec: _UnitSpec):
        self.start_seconds = spec.start_seconds
        self.fail = spec.fail
        self.oneshot = spec.oneshot
        self.remain = spec.remain
        self.after = spec.after
        self.requires = spec.requires
        self.pulls = spec.pulls
        self.generation = 0
        self.started_at = 0.0
        self.running = False
        self.queued = False
        self.result = None  # "active", "success" (a oneshot that finished) or "failed" once a start ends


class VirtualRuntime:
    """Same interface as ProcessRuntime; transitions are timers, nothing is executed."""

    def __init__(self, report: Callable[..., None], log_dir: str | None = None,
                 stop_seconds: float = DEFAULT_STOP_SECONDS):
        self._report = report
        self._log_dir = log_dir
        self._stop_seconds = stop_seconds
        self._units: dict[tuple[str, str], _VirtualUnit] = {}
        self._waiting_on: dict[tuple[str, str], set[str]] = {}  # (machine id, After= unit) -> queued units
        self._timings: dict[tuple[str, str], dict] = {}
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._heap: list = []
        # One parse per unit content: a global unit on 300 virtual machines is loaded 300 times with the same options.
        self._specs: dict[tuple, _UnitSpec] = {}
        self._seq = itertools.count()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="fleetlab-virtual", daemon=True)
        self._thread.start()

    # -- timer loop -------------------------------------------------------------------------------
    def _schedule(self, delay: float, callback: Callable[[], None]) -> None:
        heapq.heappush(self._heap, (time.monotonic() + delay, next(self._seq), callback))
        self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed and (not self._heap or self._heap[0][0] > time.monotonic()):
                    timeout = None if not self._heap else max(0.0, self._heap[0][0] - time.monotonic())
                    self._cond.wait(timeout)
                if self._closed:
                    return
                due = []
                now = time.monotonic()
                while self._heap and self._heap[0][0] <= now:
                    due.append(heapq.heappop(self._heap)[2])
            for callback in due:  # reports are made outside the lock
                callback()

    # -- interface -------------------------------------------------------------------------------
    def load(self, machine: dict, unit_name: str, options: list[dict], env: dict) -> None:
        key = (machine["id"], unit_name)
        content = tuple((o["section"], o["name"], o["value"]) for o in options)
        with self._lock:
            spec = self._specs.get(content)
            if spec is None:
                if len(self._specs) >= MAX_SPECS:
                    self._specs.clear()
                spec = self._specs[content] = _UnitSpec(options)
            unit = _VirtualUnit(spec)
            old = self._units.get(key)
            if old is not None:
                unit.generation = old.generation + 1
            self._units[key] = unit
        self._report(machine["id"], unit_name, "loaded", "inactive", "dead")

    def start(self, machine_id: str, unit_name: str) -> None:
        with self._lock:
            starting = []
            names = [unit_name]
            while names:  # the unit and the units it pulls in, as one transaction
                name = names.pop(0)
                unit = self._units.get((machine_id, name))
                if unit is None or unit.running or name in [n for n, _u in starting]:
                    continue
                starting.append((name, unit))
                names.extend(sorted(unit.pulls))
            for _name, unit in starting:
                unit.generation += 1
                unit.running = True
                unit.result = None
                unit.started_at = time.monotonic()
            reports = []
            for name, unit in starting:
                if unit.running and unit.result is None and not unit.queued:
                    reports += self._dispatch(machine_id, name, unit)
        for report in reports:
            self._report(*report)

    def _blocking(self, machine_id: str, unit: _VirtualUnit) -> tuple[bool, bool]:
        """(waiting, dependency_failed) of a start against the After= units loaded on the machine."""
        waiting = failed = False
        for name in unit.after:
            other = self._units.get((machine_id, name))
            if other is None or other.result in ("active", "success"):
                continue
            if other.result == "failed" and not other.running:
                failed = failed or name in unit.requires
                continue
            if other.running:
                waiting = True
        return waiting, failed

    def _dispatch(self, machine_id: str, unit_name: str, unit: _VirtualUnit) -> list[tuple]:
        """Start ``unit`` now, keep it queued, or fail it on a failed required dependency (lock held)."""
        waiting, failed = self._blocking(machine_id, unit)
        key = (machine_id, unit_name)
        if failed:
            unit.running = unit.queued = False
            unit.result = "failed"
            return [(machine_id, unit_name, "loaded", "failed", "failed")] + self._release(machine_id, unit_name)
        if waiting:
            for name in unit.after:
                self._waiting_on.setdefault((machine_id, name), set()).add(unit_name)
            if unit.queued:
                return []  # still queued: nothing to report (a report per queued unit per finished start is O(n^2))
            unit.queued = True
            return [(machine_id, unit_name, "loaded", "inactive", "dead")]
        unit.queued = False
        unit.started_at = time.monotonic()
        generation = unit.generation
        self._schedule(unit.start_seconds, lambda: self._finish_start(key, generation))
        return [(machine_id, unit_name, "loaded", "activating", "start")]

    def _release(self, machine_id: str, finished: str) -> list[tuple]:
        """Re-examine the queued starts of a machine ordered after ``finished``, one of its units that finished
        starting, failed or went away (lock held); the others still wait for something else."""
        reports = []
        for name in sorted(self._waiting_on.pop((machine_id, finished), ())):
            other = self._units.get((machine_id, name))
            if other is not None and other.queued and other.running:
                reports += self._dispatch(machine_id, name, other)
        return reports

    def _finish_start(self, key: tuple[str, str], generation: int) -> None:
        with self._lock:
            unit = self._units.get(key)
            if unit is None or unit.generation != generation:
                return
            if unit.fail:
                unit.running = False
                unit.result = "failed"
                triple = ("loaded", "failed", "failed")
            else:
                self._timings[key] = {"start_seconds": time.monotonic() - unit.started_at}
                if unit.oneshot and not unit.remain:
                    unit.running = False
                    unit.result = "success"
                    triple = ("loaded", "inactive", "dead")
                elif unit.oneshot:
                    unit.result = "active"
                    triple = ("loaded", "active", "exited")
                else:
                    unit.result = "active"
                    triple = ("loaded", "active", "running")
            reports = [(key[0], key[1], *triple)] + self._release(key[0], key[1])
        for report in reports:
            self._report(*report)

    def stop(self, machine_id: str, unit_name: str) -> None:
        key = (machine_id, unit_name)
        with self._lock:
            unit = self._units.get(key)
            if unit is None:
                return
            unit.generation += 1
            was_running = unit.running
            unit.running = False
            generation = unit.generation
            was_running = was_running and not unit.queued
            unit.queued = False
            unit.result = None
            if was_running:
                self._schedule(self._stop_seconds, lambda: self._finish_stop(key, generation))
        if was_running:
            self._report(machine_id, unit_name, "loaded", "deactivating", "stop-sigterm")
        else:
            self._report(machine_id, unit_name, "loaded", "inactive", "dead")

    def _finish_stop(self, key: tuple[str, str], generation: int) -> None:
        with self._lock:
            unit = self._units.get(key)
            if unit is None or unit.generation != generation:
                return
        self._report(key[0], key[1], "loaded", "inactive", "dead")

    def unload(self, machine_id: str, unit_name: str) -> None:
        key = (machine_id, unit_name)
        with self._lock:
            unit = self._units.pop(key, None)
            reports = self._release(machine_id, unit_name) if unit is not None else []
        if unit is not None:
            self._report(machine_id, unit_name, None, None, None)
        for report in reports:
            self._report(*report)

    def timings(self) -> dict:
        with self._lock:
            return {key: dict(value) for key, value in self._timings.items()}

    def shutdown(self) -> None:
        with self._cond:
            self._closed = True
            keys = list(self._units)
            self._units.clear()
            self._cond.notify_all()
        self._thread.join(timeout=5)
        del keys


class RoutingRuntime:
    """Dispatches each machine to its runtime: virtual machines to VirtualRuntime, real ones to ProcessRuntime."""

    def __init__(self, real, virtual, virtual_ids: set[str]):
        self._real = real
        self._virtual = virtual
        self._virtual_ids = virtual_ids

    def _for(self, machine_id: str):
        return self._virtual if machine_id in self._virtual_ids else self._real

    def load(self, machine: dict, unit_name: str, options: list[dict], env: dict) -> None:
        self._for(machine["id"]).load(machine, unit_name, options, env)

    def start(self, machine_id: str, unit_name: str) -> None:
        self._for(machine_id).start(machine_id, unit_name)

    def stop(self, machine_id: str, unit_name: str) -> None:
        self._for(machine_id).stop(machine_id, unit_name)

    def unload(self, machine_id: str, unit_name: str) -> None:
        self._for(machine_id).unload(machine_id, unit_name)

    def timings(self) -> dict:
        merged = dict(self._real.timings())
        merged.update(self._virtual.timings())
        return merged

    def shutdown(self) -> None:
        try:
            self._real.shutdown()
        finally:
            self._virtual.shutdown()
