# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""VirtualRuntime: the runtime interface of CONTRACT.md without processes (scripted transitions).

A unit becomes ``active/running`` (``active/exited`` for ``Type=oneshot`` with ``RemainAfterExit``)
``[X-Fleetlab] StartSeconds=`` (default 0.05) after ``start()``, or ``failed/failed`` when
``[X-Fleetlab] Fail=true``. One timer thread serves every unit, so thousands of units cost no threads.
"""
from __future__ import annotations

import heapq
import itertools
import threading
import time
from typing import Callable

DEFAULT_START_SECONDS = 0.05
DEFAULT_STOP_SECONDS = 0.01


def _option(options: list[dict], section: str, name: str) -> str | None:
    value = None
    for option in options:
        if option["section"] == section and option["name"] == name:
            value = option["value"]
    return value


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "yes", "true", "on", "t", "y")


class _VirtualUnit:
    __slots__ = ("start_seconds", "fail", "oneshot", "remain", "generation", "started_at", "running")

    def __init__(self, options: list[dict]):
        try:
            self.start_seconds = max(0.0, float(_option(options, "X-Fleetlab", "StartSeconds") or DEFAULT_START_SECONDS))
        except ValueError:
            self.start_seconds = DEFAULT_START_SECONDS
        self.fail = _truthy(_option(options, "X-Fleetlab", "Fail"))
        self.oneshot = (_option(options, "Service", "Type") or "simple").strip() == "oneshot"
        self.remain = _truthy(_option(options, "Service", "RemainAfterExit"))
        self.generation = 0
        self.started_at = 0.0
        self.running = False


class VirtualRuntime:
    """Same interface as ProcessRuntime; transitions are timers, nothing is executed."""

    def __init__(self, report: Callable[..., None], log_dir: str | None = None,
                 stop_seconds: float = DEFAULT_STOP_SECONDS):
        self._report = report
        self._log_dir = log_dir
        self._stop_seconds = stop_seconds
        self._units: dict[tuple[str, str], _VirtualUnit] = {}
        self._timings: dict[tuple[str, str], dict] = {}
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._heap: list = []
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
        with self._lock:
            unit = _VirtualUnit(options)
            old = self._units.get(key)
            if old is not None:
                unit.generation = old.generation + 1
            self._units[key] = unit
        self._report(machine["id"], unit_name, "loaded", "inactive", "dead")

    def start(self, machine_id: str, unit_name: str) -> None:
        key = (machine_id, unit_name)
        with self._lock:
            unit = self._units.get(key)
            if unit is None or unit.running:
                return
            unit.generation += 1
            unit.running = True
            unit.started_at = time.monotonic()
            generation = unit.generation
            self._schedule(unit.start_seconds, lambda: self._finish_start(key, generation))
        self._report(machine_id, unit_name, "loaded", "activating", "start")

    def _finish_start(self, key: tuple[str, str], generation: int) -> None:
        with self._lock:
            unit = self._units.get(key)
            if unit is None or unit.generation != generation:
                return
            if unit.fail:
                unit.running = False
                triple = ("loaded", "failed", "failed")
            else:
                self._timings[key] = {"start_seconds": time.monotonic() - unit.started_at}
                if unit.oneshot and not unit.remain:
                    unit.running = False
                    triple = ("loaded", "inactive", "dead")
                elif unit.oneshot:
                    triple = ("loaded", "active", "exited")
                else:
                    triple = ("loaded", "active", "running")
        self._report(key[0], key[1], *triple)

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
        if unit is not None:
            self._report(machine_id, unit_name, None, None, None)

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
