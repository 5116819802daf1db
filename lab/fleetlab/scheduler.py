# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""fleet's engine (least-loaded scheduler) and agents' global-unit decisions, as pure functions.

Rules (reference section 8): MachineID (full or 8-char short id), MachineOf (every peer scheduled on
the machine), MachineMetadata (AND across keys, OR within a key), Conflicts (Go globs, both
directions), Replaces (the replaced unit is moved to the least-loaded other machine without
constraint checks), Global (every eligible machine; among conflicting globals the alphabetically
first wins). Machines are sorted by (number of units, id).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .unitfile import Requirements, go_path_match


@dataclass
class SchedUnit:
    """What the scheduler needs to know about a unit (a view of the registry record)."""

    name: str
    desired: str
    req: Requirements
    target: str | None = None
    is_template: bool = False


@dataclass
class SchedMachine:
    id: str
    metadata: dict[str, str]
    units: dict[str, SchedUnit] = field(default_factory=dict)


def has_conflict(machine: SchedMachine, unit: SchedUnit) -> bool:
    """fleet's AgentState.HasConflict, both directions, skipping the unit itself."""
    for other in machine.units.values():
        if other.name == unit.name:
            continue
        for pattern in unit.req.conflicts:
            if go_path_match(pattern, other.name):
                return True
        for pattern in other.req.conflicts:
            if go_path_match(pattern, unit.name):
                return True
    return False


def replaced_unit(machine: SchedMachine, unit: SchedUnit) -> SchedUnit | None:
    """The unit on machine that unit replaces (mutual Replaces are ignored)."""
    if not unit.req.replaces:
        return None
    for other in sorted(machine.units.values(), key=lambda u: u.name):
        if other.name == unit.name or other.req.is_global:
            continue
        if any(go_path_match(pattern, other.name) for pattern in unit.req.replaces):
            if any(go_path_match(pattern, unit.name) for pattern in other.req.replaces):
                continue
            return other
    return None


def able_to_run(machine: SchedMachine, unit: SchedUnit, check_conflicts: bool = True) -> bool:
    """fleet's AgentState.AbleToRun (True for Schedule and Reschedule)."""
    if not unit.req.machine_matches(machine.id):
        return False
    if unit.req.metadata and not unit.req.metadata_matches(machine.metadata):
        return False
    for peer in unit.req.peers:
        if peer not in machine.units or machine.units[peer].req.is_global:
            return False
    if check_conflicts and has_conflict(machine, unit):
        return False
    return True


def _sorted_machines(machines: dict[str, SchedMachine]) -> list[SchedMachine]:
    return sorted(machines.values(), key=lambda m: (len(m.units), m.id))


def schedulable(unit: SchedUnit) -> bool:
    return unit.desired != "inactive" and not unit.is_template


def schedule(units: dict[str, SchedUnit], machines: dict[str, SchedMachine]) -> dict[str, dict[str, str]]:
    """Reconcile targets of non-global units in place; return {machine_id: {unit: desired state}}.

    ``machines`` are the live machines with their effective metadata; ``units`` every unit.
    """
    any_conflicts = any(u.req.conflicts for u in units.values())
    names = sorted(units)
    globals_ = [units[n] for n in names if units[n].req.is_global and schedulable(units[n])]
    for machine in machines.values():
        machine.units = {}
    # the engine counts global units that apply to a machine in its load
    for unit in globals_:
        for machine in machines.values():
            if unit.req.metadata_matches(machine.metadata):
                machine.units[unit.name] = unit
    # 1. scheduled units: unschedule what can no longer run there
    for name in names:
        unit = units[name]
        if unit.req.is_global:
            unit.target = None
            continue
        if unit.target is None:
            continue
        machine = machines.get(unit.target)
        if not schedulable(unit) or machine is None:
            unit.target = None
            continue
        machine.units[name] = unit
    for name in names:
        unit = units[name]
        if unit.target is None or unit.req.is_global:
            continue
        machine = machines[unit.target]
        if not able_to_run(machine, unit, any_conflicts):
            del machine.units[name]
            unit.target = None
    # 2. unscheduled units: least loaded machine that can run them; repeat so followers find peers
    for _round in range(len(names) + 1):
        changed = False
        for name in names:
            unit = units[name]
            if unit.target is not None or unit.req.is_global or not schedulable(unit):
                continue
            for machine in _sorted_machines(machines):
                if not able_to_run(machine, unit, any_conflicts):
                    continue
                victim = replaced_unit(machine, unit)
                if victim is not None:
                    others = [m for m in _sorted_machines(machines) if m.id != machine.id]
                    del machine.units[victim.name]
                    victim.target = None
                    if others:
                        victim.target = others[0].id
                        others[0].units[victim.name] = victim
                unit.target = machine.id
                machine.units[name] = unit
                changed = True
                break
        if not changed:
            break
    # 3. what each agent should run: scheduled units plus eligible global units
    wanted: dict[str, dict[str, str]] = {mid: {} for mid in machines}
    present: dict[str, dict[str, SchedUnit]] = {mid: {} for mid in machines}
    for name in names:
        unit = units[name]
        if unit.target is not None and not unit.req.is_global:
            wanted[unit.target][name] = unit.desired
            present[unit.target][name] = unit
    for unit in globals_:
        for machine in machines.values():
            if not unit.req.metadata_matches(machine.metadata):
                continue
            if any_conflicts and has_conflict(SchedMachine(machine.id, machine.metadata, present[machine.id]), unit):
                continue
            wanted[machine.id][unit.name] = unit.desired
            present[machine.id][unit.name] = unit
    return wanted
