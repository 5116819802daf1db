# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""UnitChain's waves and failure handling (the launch itself is tested against fleetlab, in tests/integration)."""

from __future__ import annotations

import pytest

from ansible_collections.houston.stack.plugins.module_utils import _unitfile as unitfile
from ansible_collections.houston.stack.plugins.module_utils._fleet_unit import UnitChain, WaitFailure

MACHINES = [
    {"id": "m1", "primaryIP": "10.0.0.1", "metadata": {"role": "web"}},
    {"id": "m2", "primaryIP": "10.0.0.2", "metadata": {"role": "web"}},
    {"id": "m3", "primaryIP": "10.0.0.3", "metadata": {"role": "db"}},
]


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def now(self):
        return self.t

    def sleep(self, seconds):
        self.t += seconds


class FleetStandIn:
    """Just enough of FleetClient for UnitChain: units and machines as given; every state row is ``row_state``."""

    def __init__(self, units=(), row_state=("loaded", "active", "running"), failing=()):
        self.known = {u["name"]: u for u in units}
        self.row_state = row_state
        self.failing = set(failing)
        self.calls = []

    def units(self):
        return list(self.known.values())

    def machines(self):
        return MACHINES

    def unit(self, name):
        return self.known.get(name)

    def put_unit(self, name, options, desired_state):
        self.calls.append(("put", name, desired_state))
        self.known[name] = {"name": name, "options": options, "desiredState": desired_state}

    def set_state(self, name, desired_state):
        self.calls.append(("state", name, desired_state))
        self.known[name]["desiredState"] = desired_state

    def delete(self, name):
        self.calls.append(("delete", name))
        return self.known.pop(name, None) is not None

    def state(self, unit_name=None, machine_id=None, machine_ids=None):  # one page: machine_ids changes nothing
        unit = self.known.get(unit_name)
        if not unit:
            return []
        options = unitfile.normalise(unit["options"])
        rows = []
        for machine in unitfile.expected_machines(options, MACHINES, unit_name):
            load, active, sub = ("loaded", "failed", "failed") if unit_name in self.failing else self.row_state
            rows.append({"name": unit_name, "machineID": machine["id"], "hash": unitfile.unit_hash(options),
                         "systemdLoadState": load, "systemdActiveState": active, "systemdSubState": sub})
        return rows


def text(after=None, placement="role=web", is_global=True, command="/bin/true", wants=None):
    lines = ["[Unit]", "Description=test"]
    if after:
        lines += [f"Requires={after}", f"After={after}"]
    if wants:
        lines.append(f"Wants={wants}")
    lines += ["", "[Service]", f"ExecStart={command}", "", "[X-Fleet]"]
    if is_global:
        lines.append("Global=true")
    if placement:
        lines.append(f"MachineMetadata={placement}")
    return "\n".join(lines) + "\n"


def chain_of(*specs):
    """``(name, kwargs for text)`` pairs -> fleet_chain ``units``."""
    return [{"name": name, "content": text(**kwargs)} for name, kwargs in specs]


@pytest.mark.parametrize("specs, waves", [
    # Ordered after the previous unit, global, on the same machines: one wave.
    ([("a.service", {}), ("b.service", {"after": "a.service"}), ("c.service", {"after": "b.service"})], [1, 1, 1]),
    # Not ordered after the previous unit: systemd would not order them, so wait first.
    ([("a.service", {}), ("b.service", {})], [1, 2]),
    # On machines that do not run the previous unit (db vs web): a new wave.
    ([("a.service", {}), ("b.service", {"after": "a.service", "placement": "role=db"})], [1, 2]),
    # On a subset of the previous unit's machines (every machine vs the web ones): same wave.
    ([("a.service", {"placement": None}), ("b.service", {"after": "a.service"})], [1, 1]),
    # A non-global unit: fleet picks its machine, so it always waits for the units before it.
    ([("a.service", {}), ("b.service", {"after": "a.service", "is_global": False}),
      ("c.service", {"after": "b.service", "is_global": False})], [1, 2, 3]),
])
def test_waves(specs, waves):
    chain = UnitChain(FleetStandIn(), chain_of(*specs))
    chain.plan()
    assert [step.result["wave"] for step in chain.steps] == waves


def test_a_wave_starts_its_first_unit_at_once_the_others_once_loaded_and_reports_every_unit():
    client = FleetStandIn()
    chain = UnitChain(client, chain_of(("a.service", {}), ("b.service", {"after": "a.service"}),
                                       ("c.service", {"after": "b.service"})), clock=FakeClock())
    units = chain.launch(chain.plan())
    # a is ordered after nothing in the wave; b and c are started once every machine has loaded the wave.
    assert client.calls == [("put", "a.service", "launched"), ("put", "b.service", "loaded"), ("put", "c.service", "loaded"),
                            ("state", "b.service", "launched"), ("state", "c.service", "launched")]
    assert all(unit["desiredState"] == "launched" for unit in client.known.values())
    assert [(u["name"], u["operation"], u["wave"]) for u in units] == [
        ("a.service", "created", 1), ("b.service", "created", 1), ("c.service", "created", 1)]
    assert all(u["expected_machines"] == ["m1", "m2"] for u in units)


def test_a_first_unit_that_names_a_later_unit_of_its_wave_starts_with_them():
    client = FleetStandIn()
    chain = UnitChain(client, chain_of(("a.service", {"wants": "b.service"}), ("b.service", {"after": "a.service"})),
                      clock=FakeClock())
    chain.launch(chain.plan())
    assert client.calls == [("put", "a.service", "loaded"), ("put", "b.service", "loaded"),
                            ("state", "a.service", "launched"), ("state", "b.service", "launched")]


def test_a_first_unit_failing_while_the_wave_loads_stops_the_wave_before_the_others_start():
    client = FleetStandIn(failing={"a.service"})
    chain = UnitChain(client, chain_of(("a.service", {}), ("b.service", {"after": "a.service"})), clock=FakeClock())
    with pytest.raises(WaitFailure, match="unit 'a.service' failed on machine m1"):
        chain.launch(chain.plan())
    assert not any(call[0] == "state" for call in client.calls)
    assert client.known == {}  # both created by this run, both destroyed


def test_an_invalid_unit_fails_before_anything_is_touched():
    client = FleetStandIn()
    units = chain_of(("a.service", {})) + [{"name": "b.service", "content": "ExecStart=/bin/true\n"}]
    with pytest.raises(unitfile.UnitFileError, match="b.service"):
        UnitChain(client, units).plan()
    assert client.calls == []


def test_duplicate_names_are_refused():
    with pytest.raises(unitfile.UnitFileError, match="a.service more than once"):
        UnitChain(FleetStandIn(), chain_of(("a.service", {}), ("a.service", {}))).plan()


def test_the_first_failed_unit_is_named_and_what_was_created_is_destroyed():
    kept = {"name": "a.service", "options": unitfile.parse(text()), "desiredState": "launched"}
    client = FleetStandIn(units=[kept], failing={"b.service", "c.service"})
    chain = UnitChain(client, chain_of(("a.service", {}), ("b.service", {"after": "a.service"}),
                                       ("c.service", {"after": "b.service"}), ("d.service", {"is_global": False})),
                      clock=FakeClock())
    with pytest.raises(WaitFailure) as failure:
        chain.launch(chain.plan())
    assert str(failure.value).startswith("unit 'b.service' failed on machine m1 (10.0.0.1): loaded/failed/failed")
    result = failure.value.result
    assert result["failed_unit"] == "b.service"
    # a was there before and stays; b and c were created by this run; d (next wave) was never sent.
    assert result["removed"] == ["b.service", "c.service"]
    assert ("delete", "a.service") not in client.calls and not any(call[:2] == ("put", "d.service") for call in client.calls)
    assert [u["operation"] for u in result["units"]] == ["none", "created", "created", "none"]


def test_keep_what_failed_when_asked():
    client = FleetStandIn(failing={"a.service"})
    chain = UnitChain(client, chain_of(("a.service", {})), remove_on_failure=False, clock=FakeClock())
    with pytest.raises(WaitFailure) as failure:
        chain.launch(chain.plan())
    assert failure.value.result["removed"] == [] and "a.service" in client.known


def test_a_timeout_names_the_unit_it_stopped_at():
    client = FleetStandIn(row_state=("loaded", "activating", "start"))
    chain = UnitChain(client, chain_of(("a.service", {}), ("b.service", {"after": "a.service"})), wait_timeout=3,
                      clock=FakeClock())
    with pytest.raises(WaitFailure, match=r"timed out after 3\.0s waiting for unit 'a.service' to be active on 2 machine"):
        chain.launch(chain.plan())
