# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The registry: units, machines, state rows, and the reconciler that drives the runtime.

Threading: one lock guards all registry data. The reconciler thread computes what the agents must
do under the lock, then calls the runtime *outside* it (the runtime calls ``report`` from its own
threads, which takes the lock), so there is no lock-order inversion.
"""
from __future__ import annotations

import bisect
import fnmatch
import logging
import threading
from dataclasses import dataclass, field

from . import scheduler
from .unitfile import NameInfo, Requirements, normalize, unit_hash

LOG = logging.getLogger("fleetlab.registry")
DEFAULT_LATENCY = 0.3  # seconds between a change and the agents acting on it (> fleetctl's 250 ms poll)


@dataclass
class Machine:
    id: str
    ip: str
    metadata: dict[str, str]
    root: str
    consul: str
    virtual: bool = False
    alive: bool = True

    def as_dict(self) -> dict:
        return {"id": self.id, "ip": self.ip, "consul": self.consul, "metadata": dict(self.metadata), "root": self.root}


@dataclass
class UnitRecord(scheduler.SchedUnit):
    options: list[dict] = field(default_factory=list)  # normalised (as stored by fleet)
    hash: str = ""


@dataclass
class AgentUnit:
    hash: str
    state: str  # loaded | launched
    unloading: bool = False
    # A unit_fail fault failed its last start: the runtime was not asked to start it, so what the runtime
    # reports for it (its loaded/inactive/dead from the load, queued on the runtime's reporter thread and
    # possibly delivered after the injected failure) must not hide the failure.
    fault_failed: bool = False


@dataclass
class UnitFailRule:
    id: str
    unit: str
    machine: str | None = None

    def matches(self, machine_id: str, unit_name: str) -> bool:
        if self.machine is not None and self.machine not in (machine_id, machine_id[:8]):
            return False
        return fnmatch.fnmatchcase(unit_name, self.unit)


class Registry:
    """fleet's registry + engine + agents, in memory."""

    def __init__(self, machines: list[Machine], runtime_factory=None, latency: float = DEFAULT_LATENCY):
        self.lock = threading.RLock()
        self.machines: dict[str, Machine] = {m.id: m for m in machines}
        self.dynamic_metadata: dict[str, dict[str, str]] = {}
        self.units: dict[str, UnitRecord] = {}
        self.rows: dict[tuple[str, str], tuple[str, str, str, str]] = {}  # (unit, machine) -> (load, active, sub, hash)
        self._row_keys: list[tuple[str, str]] = []  # sorted keys of rows
        self._unit_names: list[str] | None = None
        self._machine_ids: list[str] | None = None
        self.agent: dict[tuple[str, str], AgentUnit] = {}  # (machine, unit) -> what the agent has loaded
        self.unit_fail_rules: list[UnitFailRule] = []
        self.latency = latency
        self._dirty = threading.Event()
        self._closed = False
        self._idle = threading.Condition(self.lock)
        self._generation = 0  # bumped per change
        self._applied = 0  # generation applied by the last reconcile
        self.runtime = runtime_factory(self.report) if runtime_factory else None
        self._thread = threading.Thread(target=self._reconcile_loop, name="fleetlab-reconciler", daemon=True)
        self._thread.start()

    # -- machines ------------------------------------------------------------------------------
    def effective_metadata(self, machine_id: str) -> dict[str, str]:
        machine = self.machines.get(machine_id)
        merged = dict(machine.metadata) if machine else {}
        merged.update(self.dynamic_metadata.get(machine_id, {}))
        return {k: v for k, v in merged.items() if v != ""}

    def machine_ids(self) -> list[str]:
        with self.lock:
            if self._machine_ids is None:
                self._machine_ids = sorted(m.id for m in self.machines.values() if m.alive)
            return self._machine_ids

    def machine_entity(self, machine_id: str) -> dict:
        machine = self.machines[machine_id]
        entity: dict = {"id": machine.id}
        metadata = self.effective_metadata(machine_id)
        if metadata:
            entity["metadata"] = dict(sorted(metadata.items()))
        if machine.ip:
            entity["primaryIP"] = machine.ip
        return entity

    def set_metadata(self, ops: list[tuple[str, str, str | None]]) -> None:
        """Apply (machine_id, key, value or None for remove) in order."""
        with self.lock:
            for machine_id, key, value in ops:
                self.dynamic_metadata.setdefault(machine_id, {})[key] = "" if value is None else value
            self._changed()

    def set_alive(self, machine_id: str, alive: bool) -> bool:
        with self.lock:
            machine = self.machines.get(machine_id)
            if machine is None:
                return False
            machine.alive = alive
            self._machine_ids = None
            self._changed()
            return True

    # -- units -----------------------------------------------------------------------------------
    def unit_names(self) -> list[str]:
        with self.lock:
            if self._unit_names is None:
                self._unit_names = sorted(self.units)
            return self._unit_names

    def get_unit(self, name: str) -> UnitRecord | None:
        return self.units.get(name)

    def current_state(self, unit: UnitRecord) -> str | None:
        """None for global units (omitted on GET); fleet's read-time computation otherwise."""
        if unit.req.is_global:
            return None
        if unit.target is None or (unit.name, unit.target) not in self.rows:
            return "inactive"
        agent = self.agent.get((unit.target, unit.name))
        if agent is not None and agent.state == "launched" and not agent.unloading:
            return "launched"
        return "loaded"

    def unit_entity(self, unit: UnitRecord, in_list: bool = False) -> dict:
        entity: dict = {}
        current = self.current_state(unit)
        if current is None and in_list:
            current = "inactive"
        if current:
            entity["currentState"] = current
        entity["desiredState"] = unit.desired
        if unit.target and not unit.req.is_global:
            entity["machineID"] = unit.target
        entity["name"] = unit.name
        if unit.options:
            entity["options"] = [{"name": o["name"], "section": o["section"], "value": o["value"]} for o in unit.options]
        return entity

    def create_unit(self, name: str, options: list[dict], desired: str, target: str | None = None) -> None:
        """Create or replace (new options): stores normalised options, keeps the target on replace."""
        stored = normalize(options)
        info = NameInfo.parse(name)
        with self.lock:
            old = self.units.get(name)
            record = UnitRecord(name=name, desired=desired, req=Requirements.from_options(name, stored),
                                target=old.target if old else target, is_template=bool(info and info.is_template),
                                options=stored, hash=unit_hash(stored))
            self.units[name] = record
            if old is None:
                self._unit_names = None
            self._changed()

    def set_desired(self, name: str, desired: str) -> None:
        with self.lock:
            self.units[name].desired = desired
            self._changed()

    def delete_unit(self, name: str) -> bool:
        with self.lock:
            if self.units.pop(name, None) is None:
                return False
            self._unit_names = None
            self._changed()
            return True

    # -- state rows ------------------------------------------------------------------------------
    @staticmethod
    def row_entity(key: tuple[str, str], row: tuple[str, str, str, str]) -> dict:
        entity = {}
        if row[3]:
            entity["hash"] = row[3]
        entity["machineID"] = key[1]
        entity["name"] = key[0]
        if row[1]:
            entity["systemdActiveState"] = row[1]
        if row[0]:
            entity["systemdLoadState"] = row[0]
        if row[2]:
            entity["systemdSubState"] = row[2]
        return entity

    def state_keys(self, machine_id: str = "", unit_name: str = "") -> list[tuple[str, str]]:
        """Sorted (unit, machine) keys matching the filters (exact match, AND)."""
        with self.lock:
            keys = self._row_keys
            if unit_name:
                lo = bisect.bisect_left(keys, (unit_name, ""))
                hi = lo
                while hi < len(keys) and keys[hi][0] == unit_name:
                    hi += 1
                keys = keys[lo:hi]
            if machine_id:
                keys = [k for k in keys if k[1] == machine_id]
            return keys

    def state_page(self, keys: list[tuple[str, str]]) -> list[dict]:
        with self.lock:
            return [self.row_entity(k, self.rows[k]) for k in keys if k in self.rows]

    def _set_row(self, key: tuple[str, str], row: tuple[str, str, str, str]) -> None:
        if key not in self.rows:
            bisect.insort(self._row_keys, key)
        self.rows[key] = row

    def _drop_row(self, key: tuple[str, str]) -> None:
        if self.rows.pop(key, None) is not None:
            index = bisect.bisect_left(self._row_keys, key)
            if index < len(self._row_keys) and self._row_keys[index] == key:
                del self._row_keys[index]

    def report(self, machine_id: str, unit_name: str, load: str | None, active: str | None = None,
               sub: str | None = None) -> None:
        """Runtime callback (any thread): the systemd state of unit_name on machine_id changed."""
        with self.lock:
            key = (unit_name, machine_id)
            agent = self.agent.get((machine_id, unit_name))
            if load is None:
                if agent is None:
                    self._drop_row(key)
                elif agent.unloading:
                    del self.agent[(machine_id, unit_name)]
                    self._drop_row(key)
                # else: unloaded for a reload (replaced unit); the new load reports next
                return
            if agent is None:
                return  # late report for a unit the agent no longer has
            if agent.fault_failed:
                active, sub = "failed", "failed"
            self._set_row(key, (load, active or "", sub or "", agent.hash))

    # -- faults --------------------------------------------------------------------------------
    def unit_fails(self, machine_id: str, unit_name: str) -> bool:
        return any(rule.matches(machine_id, unit_name) for rule in self.unit_fail_rules)

    # -- reconciler ------------------------------------------------------------------------------
    def _changed(self) -> None:
        self._generation += 1
        self._dirty.set()

    def kick(self) -> None:
        with self.lock:
            self._changed()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until every change so far has been handed to the runtime (for tests and tools)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._applied >= self._generation or self._closed, timeout)

    def _reconcile_loop(self) -> None:
        while True:
            self._dirty.wait()
            if self._closed:
                return
            if self.latency > 0:
                threading.Event().wait(self.latency)
            self._dirty.clear()
            try:
                self.reconcile()
            except Exception:  # keep the lab alive; the failure is logged  # pylint: disable=broad-except
                LOG.exception("reconcile failed")
            if self._closed:
                return

    def reconcile(self) -> None:
        with self.lock:
            generation = self._generation
            actions = self._plan()
        self._execute(actions)
        with self._idle:
            self._applied = max(self._applied, generation)
            self._idle.notify_all()

    def _plan(self) -> list[tuple]:
        live = {mid: scheduler.SchedMachine(mid, self.effective_metadata(mid))
                for mid, m in self.machines.items() if m.alive}
        wanted = scheduler.schedule(self.units, live)
        actions: list[tuple] = []
        for (machine_id, unit_name), agent in list(self.agent.items()):
            if agent.unloading:
                continue
            if unit_name not in wanted.get(machine_id, {}):
                agent.unloading = True
                actions.append(("unload", machine_id, unit_name))
        for machine_id in sorted(wanted):
            for unit_name, state in sorted(wanted[machine_id].items()):
                unit = self.units[unit_name]
                agent = self.agent.get((machine_id, unit_name))
                start = state == "launched"
                if agent is None or agent.unloading:
                    self.agent[(machine_id, unit_name)] = AgentUnit(unit.hash, state)
                    actions.append(("load", machine_id, unit_name, unit.options))
                elif agent.hash != unit.hash:
                    agent.hash, agent.state, agent.fault_failed = unit.hash, state, False
                    actions.append(("unload", machine_id, unit_name))
                    actions.append(("load", machine_id, unit_name, unit.options))
                elif agent.state != state:
                    agent.state = state
                    if not start:
                        actions.append(("stop", machine_id, unit_name))
                else:
                    start = False
                if start:
                    agent = self.agent[(machine_id, unit_name)]
                    agent.fault_failed = self.unit_fails(machine_id, unit_name)
                    actions.append(("fail" if agent.fault_failed else "start", machine_id, unit_name))
        return actions

    def unit_env(self, machine: Machine) -> dict:
        env = {
            "COREOS_PUBLIC_IPV4": machine.ip,
            "COREOS_PRIVATE_IPV4": machine.ip,
            "FLEETLAB_ROOT": machine.root,
            "CONSUL_HTTP_ADDR": machine.consul or "%s:8500" % machine.ip,
            "FLEETLAB_MACHINE_ID": machine.id,
        }
        return env  # PATH, HOME and LANG come from the runtime (its PATH starts with the lab's own Python)

    def _execute(self, actions: list[tuple]) -> None:
        runtime = self.runtime
        if runtime is None:
            return
        for action in actions:
            kind, machine_id, unit_name = action[:3]
            try:
                if kind == "load":
                    machine = self.machines[machine_id]
                    runtime.load(machine.as_dict(), unit_name, action[3], self.unit_env(machine))
                elif kind == "start":
                    runtime.start(machine_id, unit_name)
                elif kind == "stop":
                    runtime.stop(machine_id, unit_name)
                elif kind == "unload":
                    runtime.unload(machine_id, unit_name)
                elif kind == "fail":  # unit_fail fault: the runtime is not asked to start it
                    self.report(machine_id, unit_name, "loaded", "failed", "failed")
            except Exception:  # pylint: disable=broad-except
                LOG.exception("runtime %s of %s on %s failed", kind, unit_name, machine_id)

    def shutdown(self) -> None:
        self._closed = True
        self._dirty.set()
        self._thread.join(timeout=10)
        with self._idle:
            self._idle.notify_all()
        if self.runtime is not None:
            self.runtime.shutdown()
