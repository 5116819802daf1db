# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.

"""One fleet unit brought to a desired state, and the chain of units a deploy launches together.

:class:`FleetUnit` is the service layer of ``fleet_unit``: plan (what to do), apply (the writes), probe (where
the unit stands on the machines it belongs on) and the messages of a failed wait. :class:`UnitChain` is the
service layer of ``fleet_chain``: it launches an ordered chain of units with one submission per wave and one
poll loop per wave, using :class:`FleetUnit` for each unit.
"""

from __future__ import annotations

import time

from ansible_collections.houston.stack.plugins.module_utils import _unitfile as unitfile
from ansible_collections.houston.stack.plugins.module_utils import _unitplan as unitplan
from ansible_collections.houston.stack.plugins.module_utils._fleet import FleetError, describe_row, state_row
from ansible_collections.houston.stack.plugins.module_utils._wait import DONE, FAILED, PENDING, get_waiter

ACTIVE = "active"
RUNNING = frozenset(("active", "activating", "deactivating", "reloading"))
GOALS = {"launched": "active", "loaded": "loaded and stopped", "inactive": "gone from every machine",
         "absent": "gone from every machine"}
# What a state row must show for each goal of a wait on a machine the unit belongs on (loaded there, right hash).
REACHED = {
    "active": lambda row: row["active_state"] == ACTIVE,
    "loaded and stopped": lambda row: row["active_state"] not in RUNNING,
    "loaded": lambda row: True,
}


class WaitFailure(Exception):
    """A wait that ended in a failed unit or a timeout; ``result`` is the module result to fail with."""

    def __init__(self, message, result):
        super().__init__(message)
        self.result = result


def exit_with_result(module, run):
    """``module.exit_json`` with ``run()``'s result, or ``fail_json`` naming what went wrong: an invalid unit (nothing
    touched), a failed wait (with the result so far) or a fleet API error (with its HTTP status)."""
    try:
        result = run()
    except unitfile.UnitFileError as e:
        module.fail_json(msg=str(e), changed=False)
    except WaitFailure as e:
        module.fail_json(msg=str(e), **{key: value for key, value in e.result.items() if value is not None})
    except FleetError as e:
        module.fail_json(msg=str(e), changed=False, status=e.status)
    module.exit_json(**result)


def plan(existing, desired_options, state):
    """The operation that brings ``existing`` (fleet unit or None) to ``desired_options`` in ``state``."""
    if existing is None:
        return unitplan.operation(None, None, desired_options, state)
    return unitplan.operation(existing.get("options") or [], existing.get("desiredState"), desired_options, state)


class Machines:
    """fleet's machine list, read once and shared by the units of a run; refreshed when an unknown id shows up."""

    def __init__(self, client):
        self.client = client
        self._by_id = None

    def by_id(self):
        if self._by_id is None:
            self._by_id = {m["id"]: m for m in self.client.machines()}
        return self._by_id

    def refresh(self):
        self._by_id = None


class FleetUnit:
    """The unit ``name`` of fleet, brought to ``state`` with ``content`` (unit text) or ``options``."""

    def __init__(self, client, name, state, content=None, options=None, machines=None):
        self.client = client
        self.name = name
        self.state = state
        self.content = content
        self.options = options
        self.machines = machines or Machines(client)

    def desired_options(self):
        """The checked, normalised options (None for state=absent); raises UnitFileError before anything is touched."""
        return unitplan.desired_options(self.name, self.state, self.content, self.options)

    def rows(self, expected=None):
        """The unit's state rows; with ``expected`` (machine ids), read only until each of them has a row."""
        machines = self.machines.by_id()
        rows = [state_row(r, machines) for r in self.client.state(unit_name=self.name, machine_ids=expected)
                if r.get("name", self.name) == self.name]
        return sorted(rows, key=lambda r: r["machine_id"] or "")

    def describe(self, unit, fallback_options=None):
        options = (unit or {}).get("options") or fallback_options or []
        global_unit = unitfile.is_global(options)
        return {
            "name": self.name,
            "hash": unitfile.unit_hash(unitfile.normalise(options)),
            "desired_state": (unit or {}).get("desiredState"),
            "current_state": None if global_unit else (unit or {}).get("currentState"),
            "machine_id": None if global_unit else (unit or {}).get("machineID"),
            "global": global_unit,
            "options": unitfile.normalise(options),
        }

    def predicted(self, existing, desired, operation):
        """The unit as check mode predicts it after ``operation``."""
        predicted = dict(existing or {}, options=desired, desiredState=self.state)
        if operation in ("created", "replaced"):
            predicted.pop("currentState", None)
            predicted.pop("machineID", None)
        return self.describe(predicted)

    def diff(self, existing, desired_options):
        before = unitfile.render(existing["options"]) if existing else ""
        after = unitfile.render(desired_options) if desired_options is not None else ""
        before_state = existing.get("desiredState") if existing else "absent"
        return {
            "before": before, "after": after,
            "before_header": f"fleet:unit/{self.name} (desiredState={before_state})",
            "after_header": f"fleet:unit/{self.name} (desiredState={self.state})",
        }

    def submit(self, operation, desired):
        """The writes of ``operation`` once any old unit of a replacement is gone (see :meth:`unload_old`)."""
        if operation == "deleted":
            self.client.delete(self.name)
        elif operation in ("created", "replaced"):
            self.client.put_unit(self.name, desired, self.state)
        elif operation == "state_changed":
            self.client.set_state(self.name, self.state)

    def submit_loaded(self, operation, desired):
        """Like :meth:`submit` to desiredState ``loaded``: the unit is scheduled and loaded, not started yet."""
        if operation in ("created", "replaced"):
            self.client.put_unit(self.name, desired, "loaded")
        elif operation == "state_changed":
            self.client.set_state(self.name, "loaded")

    def unload_old(self):
        """Destroy the unit a replacement replaces (its machines then stop and unload it)."""
        self.client.delete(self.name)

    def apply(self, operation, desired, wait_timeout, clock=None):
        """Every write of ``operation``; a replacement lets the old unit unload before the new content arrives."""
        if operation == "replaced":
            self.unload_old()
            wait_unloaded([self], wait_timeout, clock)
        self.submit(operation, desired)

    # The wait -----------------------------------------------------------------------------------------

    def expected(self, desired):
        """Ids of the machines the unit must reach, or None while a non-global unit is not scheduled."""
        if unitfile.is_global(desired):
            return [m["id"] for m in unitfile.expected_machines(desired, list(self.machines.by_id().values()), self.name)]
        unit = self.client.unit(self.name) or {}
        machine_id = unit.get("machineID")
        return [machine_id] if machine_id else None

    def probe(self, desired, wanted_hash, goal=None):
        """``(status, observation)`` of the unit against ``goal`` (a key of REACHED; by default the one of its
        state), for a Waiter."""
        goal = goal or GOALS[self.state]
        if self.state in ("inactive", "absent"):
            rows = self.rows()
            return (DONE if not rows else PENDING), {"rows": rows, "expected": [], "reason": "still reported", "goal": goal}
        expected = self.expected(desired)
        if expected is not None and any(machine_id not in self.machines.by_id() for machine_id in expected):
            self.machines.refresh()  # a machine we did not know yet: refresh IPs
        rows = self.rows(expected)
        observation = {"rows": rows, "expected": expected or [], "reason": None, "goal": goal}
        if expected is None:
            observation["reason"] = "not scheduled to any machine yet (currentState inactive); check its [X-Fleet] constraints"
            return PENDING, observation
        if not expected:
            observation["reason"] = "no machine matches its [X-Fleet] constraints"
            return FAILED, observation
        by_machine = {r["machine_id"]: r for r in rows if r["hash"] in (None, wanted_hash)}
        for machine_id in expected:
            row = by_machine.get(machine_id)
            if row and row["active_state"] == "failed":
                observation["failed_row"] = row
                return FAILED, observation
        missing = []
        for machine_id in expected:
            row = by_machine.get(machine_id)
            if row is None or row["load_state"] != "loaded" or not REACHED[goal](row):
                missing.append(row or {"machine_id": machine_id, "ip": self.machines.by_id().get(machine_id, {}).get("primaryIP"),
                                       "load_state": None, "active_state": None, "sub_state": None})
        observation["missing"] = missing
        return (DONE if not missing else PENDING), observation

    def prober(self, desired, goal=None):
        wanted_hash = unitfile.unit_hash(unitfile.normalise(desired or []))
        return lambda: self.probe(desired, wanted_hash, goal)

    def wait_for(self, desired, wait_timeout, clock=None):
        return get_waiter(wait_timeout, clock=clock).wait(self.prober(desired))

    def wait_message(self, outcome):
        obs = outcome.observation
        goal = obs.get("goal") or GOALS[self.state]
        if outcome.failed and obs.get("failed_row"):
            return f"unit {self.name!r} failed on {describe_row(obs['failed_row'])}"
        if outcome.failed:
            return f"unit {self.name!r} cannot run anywhere: {obs['reason']} (machines known to fleet: {len(self.machines.by_id())})"
        head = f"timed out after {outcome.elapsed}s waiting for unit {self.name!r} to be {goal}"
        if obs.get("reason"):
            return f"{head}: {obs['reason']}"
        if self.state in ("inactive", "absent"):
            return f"{head}: still on " + "; ".join(describe_row(r) for r in obs["rows"])
        waiting = "; ".join(describe_row(r) if r.get("load_state") else f"machine {r['machine_id']} ({r.get('ip') or 'no IP'}): no state row"
                            for r in obs.get("missing", []))
        return f"{head} on {len(obs['expected'])} machine(s); not yet: {waiting}"


def wait_unloaded(units, wait_timeout, clock=None):
    """After destroying the old units of replacements, let the machines stop and unload them (ExecStop runs)
    before the new content arrives under the same names; bounded by wait_timeout, then carry on."""
    pending = list(units)

    def gone():
        pending[:] = [u for u in pending if u.rows()]
        return (PENDING if pending else DONE), None
    get_waiter(wait_timeout, clock=clock).wait(gone)


def ordered_after(desired, previous_name):
    """Whether the unit (normalised options) is ordered after ``previous_name`` (``After=`` in ``[Unit]``)."""
    for option in desired or []:
        if option["section"] == "Unit" and option["name"] == "After" and previous_name in option["value"].split():
            return True
    return False


class ChainStep:
    """One unit of a chain: its FleetUnit, checked options, fleet's current unit and the planned operation."""

    def __init__(self, unit, desired, existing):
        self.unit = unit
        self.desired = desired
        self.existing = existing
        self.operation = plan(existing, desired, unit.state)
        self.is_global = unitfile.is_global(desired)
        self.submitted = False
        self.result = {"name": unit.name, "operation": self.operation, "changed": self.operation != "none",
                       "global": self.is_global, "wave": None, "machines": [], "expected_machines": [], "elapsed": 0.0}


class UnitChain:
    """Launch an ordered chain of units: each wave is submitted at once and waited for in one poll loop.

    A unit joins the wave of the unit before it when systemd can order the two itself: both are global, the
    unit is ordered ``After=`` the previous one, and fleet runs it only on machines that also run the previous
    one. Then every machine starts them in chain order, exactly as if the deploy had waited for each, with one
    registry round trip for all of them (two, in fact: but for its first unit, launched at once, a wave is first
    submitted loaded, and started once every machine has loaded all of it, so no machine starts a unit before it
    knows what the unit is ordered after; fleet's agents load and start units in no particular order). Any other
    unit (a non-global unit, whose machine fleet picks, or a unit not ordered after the previous one) starts a new
    wave, which is submitted only once the previous wave is active everywhere. Within a wave the poll walks the
    units in chain order and stops at the first that is not active yet: a unit ordered after it cannot be active
    before it, and the first failed unit is the cause.
    """

    def __init__(self, client, units, wait_timeout=300, remove_on_failure=True, clock=None):
        self.client = client
        self.machines = Machines(client)
        self.units = [FleetUnit(client, u["name"], "launched", u.get("content"), u.get("options"), self.machines) for u in units]
        self.wait_timeout = wait_timeout
        self.remove_on_failure = remove_on_failure
        self.clock = clock
        self.steps = []

    def plan(self):
        """Check every unit, read fleet's units once, plan each unit and split the chain into waves."""
        names = [u.name for u in self.units]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise unitfile.UnitFileError(f"the chain names unit(s) {', '.join(duplicates)} more than once")
        desired = [u.desired_options() for u in self.units]
        existing = {u.get("name"): u for u in self.client.units()}
        self.steps = [ChainStep(unit, options, existing.get(unit.name)) for unit, options in zip(self.units, desired)]
        return self.waves()

    def waves(self):
        machines = list(self.machines.by_id().values()) if any(s.is_global for s in self.steps) else []
        waves = []
        previous = None
        for step in self.steps:
            if previous is not None and self.orders_itself(previous, step, machines):
                waves[-1].append(step)
            else:
                waves.append([step])
            previous = step
        for number, wave in enumerate(waves, 1):
            for step in wave:
                step.result["wave"] = number
        return waves

    @staticmethod
    def names_later(wave):
        """Whether the wave's first unit names a later unit of the wave in one of its options (a Requires= or Wants=
        of a unit ordered after it): then it starts with the others, once every machine has loaded them."""
        later = {s.unit.name for s in wave[1:]}
        return any(word in later for option in wave[0].desired or [] for word in str(option["value"]).split())

    @staticmethod
    def orders_itself(previous, step, machines):
        if not (previous.is_global and step.is_global and ordered_after(step.desired, previous.unit.name)):
            return False
        runs_previous = {m["id"] for m in unitfile.expected_machines(previous.desired, machines, previous.unit.name)}
        return all(m["id"] in runs_previous for m in unitfile.expected_machines(step.desired, machines, step.unit.name))

    def diffs(self):
        return [s.unit.diff(s.existing, s.desired) for s in self.steps]

    def predict(self):
        """Check mode: what each unit would become, with its current rows; nothing written, no wait."""
        for step in self.steps:
            step.result["unit"] = step.unit.predicted(step.existing, step.desired, step.operation)
            step.result["machines"] = step.unit.rows() if step.existing else []
        return [s.result for s in self.steps]

    def launch(self, waves):
        """Submit and wait wave by wave; raises WaitFailure naming the first unit that failed or timed out, or the
        fleet error that stopped the launch, after removing what this run created (remove_on_failure)."""
        start = self._now()
        for wave in waves:
            current = wave[0]
            try:
                replaced = [s for s in reversed(wave) if s.operation == "replaced"]
                for current in replaced:
                    current.unit.unload_old()
                if replaced:
                    wait_unloaded([s.unit for s in replaced], self.wait_timeout, self.clock)
                changed = [s for s in wave if s.operation != "none"]
                # The wave's first unit is ordered after none of the others: it is launched at once (its start overlaps
                # the others' load), unless its options name one of them.
                staged = [s for s in changed if s is not wave[0] or self.names_later(wave)]
                for current in wave:
                    current.submitted = True
                    if current in staged:
                        current.unit.submit_loaded(current.operation, current.desired)
                    else:
                        current.unit.submit(current.operation, current.desired)
                # A machine starting a unit whose Requires=/After= unit it has not loaded yet would not order it: every
                # machine loads the whole wave (the first unit loaded on its way to active) before the rest start.
                outcome, failing = self.wait_steps(changed if staged else [], "loaded")
                if outcome.done:
                    for current in staged:
                        self.client.set_state(current.unit.name, "launched")
                    outcome, failing = self.wait_steps(wave, "active", start)
            except FleetError as e:
                self.fail(current, str(e), status=e.status)
            if not outcome.done:
                self.fail(failing, failing.unit.wait_message(outcome))
        for step in self.steps:
            step.result["unit"] = step.unit.describe(self.client.unit(step.unit.name), step.desired)
        return [s.result for s in self.steps]

    def wait_steps(self, steps, goal, start=None):
        """Poll ``steps`` in chain order until each reached ``goal``, stopping at the first that has not: a unit
        ordered after it cannot be ahead of it, and the first failed unit is the cause. With ``start``, each unit's
        result records the seconds from ``start`` until it was seen there."""
        probes = [(step, step.unit.prober(step.desired, goal)) for step in steps]
        position = {"index": 0}

        def probe():
            while position["index"] < len(probes):
                step, unit_probe = probes[position["index"]]
                status, observation = unit_probe()
                step.result.update(machines=observation["rows"], expected_machines=observation["expected"])
                if status != DONE:
                    return status, (step, observation)
                if start is not None:
                    step.result["elapsed"] = round(self._now() - start, 3)
                position["index"] += 1
            return DONE, (None, None)

        outcome = get_waiter(self.wait_timeout, clock=self.clock).wait(probe)
        failing, observation = outcome.observation
        outcome.observation = observation
        return outcome, failing

    def fail(self, failing, message, status=None):
        """Raise the WaitFailure of ``failing``, after destroying what this run created (remove_on_failure)."""
        removed = []
        if self.remove_on_failure:
            for step in reversed(self.steps):
                if step.submitted and step.operation in ("created", "replaced"):
                    try:
                        self.client.delete(step.unit.name)
                    except FleetError as e:
                        message += f"; could not destroy unit {step.unit.name!r}: {e}"
                        continue
                    removed.append(step.unit.name)
            if removed:
                message += f"; destroyed the units this run created or replaced (remove_on_failure): {', '.join(reversed(removed))}"
        for step in self.steps:
            if not step.submitted:  # a later wave, never sent to fleet
                step.result.update(operation="none", changed=False)
        result = {"changed": any(s.submitted and s.operation != "none" for s in self.steps),
                  "units": [s.result for s in self.steps], "failed_unit": failing.unit.name, "removed": removed[::-1],
                  "status": status}
        raise WaitFailure(message, result)

    def _now(self):
        return self.clock.now() if self.clock else time.monotonic()
