# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Scheduling by fleet's rules (reference section 8), observed through the API of a running fleetlab."""
from __future__ import annotations

import pytest

from lab.fleetlab.unitfile import unit_hash

from fleetlab_support import SLEEP, make_machines, opts, wait_for

A = "/fleet/v1"


def xfleet(*pairs):
    return SLEEP + opts(*[("X-Fleet", k, v) for k, v in pairs])


def placed(flab, name):
    """The machine a non-global unit is scheduled to, once the agent reports it (None if unschedulable)."""
    flab.settle()
    unit = flab.unit(name)
    return unit.get("machineID")


def test_least_loaded_with_ties_broken_by_machine_id(flab):
    ids = flab.ids
    for index in range(6):
        flab.put_unit("u%d.service" % index, SLEEP)
    flab.settle()
    targets = [flab.unit("u%d.service" % i)["machineID"] for i in range(6)]
    assert targets == ids + ids


@pytest.mark.parametrize("use_short", [False, True])
def test_machine_id_full_and_short(flab, use_short):
    target = flab.ids[2]
    flab.put_unit("pinned.service", xfleet(("MachineID", target[:8] if use_short else target)))
    assert placed(flab, "pinned.service") == target


def test_unknown_machine_id_stays_unscheduled(flab):
    flab.put_unit("lost.service", xfleet(("MachineID", "0" * 32)))
    assert placed(flab, "lost.service") is None
    unit = flab.unit("lost.service")
    assert (unit["currentState"], unit["desiredState"]) == ("inactive", "launched")
    assert flab.states(unitName="lost.service") == []


def test_metadata_and_across_keys_or_within_key(flab):
    web_b = [m.id for m in flab.machines if m.metadata == {"role": "web", "az": "b"}]
    flab.put_unit("md.service", xfleet(("MachineMetadata", '"role=web" "az=b"')))
    assert placed(flab, "md.service") == web_b[0]
    worker = [m.id for m in flab.machines if m.metadata["role"] == "worker"][0]
    flab.put_unit("md2.service", xfleet(("MachineMetadata", "role=worker"), ("MachineMetadata", "role=db")))
    assert placed(flab, "md2.service") == worker
    flab.put_unit("md3.service", xfleet(("MachineMetadata", "role=worker"), ("MachineMetadata", "az=b")))
    assert placed(flab, "md3.service") is None


def test_machine_of_follows_peer(flab):
    flab.put_unit("db.service", xfleet(("MachineID", flab.ids[1])))
    flab.put_unit("app.service", xfleet(("MachineOf", "db.service")))
    assert placed(flab, "app.service") == flab.ids[1]
    flab.put_unit("orphan.service", xfleet(("MachineOf", "missing.service")))
    assert placed(flab, "orphan.service") is None


def test_conflicts_both_directions(flab):
    for index in range(3):
        flab.put_unit("web@%d.service" % index, xfleet(("Conflicts", "web@*.service")))
    flab.settle()
    assert sorted(flab.unit("web@%d.service" % i)["machineID"] for i in range(3)) == flab.ids
    flab.put_unit("web@3.service", xfleet(("Conflicts", "web@*.service")))
    assert placed(flab, "web@3.service") is None
    # a unit without Conflicts is still blocked by other units' Conflicts
    worker = [m.id for m in flab.machines if m.metadata["role"] == "worker"][0]
    assert flab.put_unit("lonely.service", xfleet(("Conflicts", "plain.service"), ("MachineMetadata", "role=worker"))).status == 201
    assert flab.put_unit("plain.service", xfleet(("MachineMetadata", "role=worker"))).status == 201
    flab.settle()
    assert flab.unit("plain.service").get("machineID") is None
    assert flab.unit("lonely.service")["machineID"] == worker


def test_replaces_moves_the_replaced_unit(flab):
    flab.put_unit("old.service", xfleet(("MachineMetadata", "role=worker")))
    worker = placed(flab, "old.service")
    flab.put_unit("new.service", xfleet(("Replaces", "old.service"), ("MachineMetadata", "role=worker")))
    assert placed(flab, "new.service") == worker
    assert flab.unit("old.service")["machineID"] not in (None, worker)


def test_global_units_one_row_per_eligible_machine(flab):
    flab.put_unit("g.service", xfleet(("Global", "true"), ("MachineMetadata", "role=web")))
    rows = flab.wait_rows("g.service", lambda rows: len(rows) == 2 and all(r["systemdSubState"] == "running" for r in rows))
    web = sorted(m.id for m in flab.machines if m.metadata["role"] == "web")
    assert [r["machineID"] for r in rows] == web
    assert {r["hash"] for r in rows} == {unit_hash(xfleet(("Global", "true"), ("MachineMetadata", "role=web")))}
    # metadata change through PATCH adds the worker machine
    worker = [m.id for m in flab.machines if m.metadata["role"] == "worker"][0]
    patch = '[{"op":"replace","path":"/%s/metadata/role","value":{"value":"web"}}]' % worker
    assert flab.tcp.request("PATCH", A + "/machines", body=patch).status == 204
    flab.wait_rows("g.service", lambda rows: len(rows) == 3)


def test_conflicting_globals_first_name_wins(flab):
    flab.put_unit("ga.service", xfleet(("Global", "true"), ("Conflicts", "gb.service")))
    flab.put_unit("gb.service", xfleet(("Global", "true")))
    flab.wait_rows("ga.service", lambda rows: len(rows) == 3)
    flab.settle()
    assert flab.states(unitName="gb.service") == []


def test_unschedulable_unit_gets_placed_when_a_machine_appears(flab):
    flab.put_unit("later.service", xfleet(("MachineMetadata", "disk=ssd")))
    assert placed(flab, "later.service") is None
    target = flab.ids[0]
    patch = '[{"op":"add","path":"/%s/metadata/disk","value":{"value":"ssd"}}]' % target
    flab.tcp.request("PATCH", A + "/machines", body=patch)
    assert placed(flab, "later.service") == target


def test_machine_loss_reschedules_non_global_units(flab_factory):
    flab = flab_factory(make_machines(2))
    flab.put_unit("mover.service", SLEEP)
    first = placed(flab, "mover.service")
    flab.put_unit("everywhere.service", xfleet(("Global", "true")))
    flab.wait_rows("everywhere.service", lambda rows: len(rows) == 2)
    admin = flab.tcp.request("POST", "/fleetlab/v1/machines/%s/lose" % first)
    assert admin.status == 200
    flab.settle()
    second = flab.unit("mover.service")["machineID"]
    assert second not in (None, first)
    assert [m["id"] for m in flab.tcp.get(A + "/machines").json["machines"]] == [second]
    flab.wait_rows("everywhere.service", lambda rows: [r["machineID"] for r in rows] == [second])
    rows = flab.wait_rows("mover.service", lambda rows: [r["machineID"] for r in rows] == [second]
                          and rows[0]["systemdActiveState"] == "active")
    assert rows[0]["systemdSubState"] == "running"
    assert flab.tcp.request("POST", "/fleetlab/v1/machines/%s/restore" % first).status == 200
    flab.wait_rows("everywhere.service", lambda rows: len(rows) == 2)


def test_template_is_never_scheduled(flab):
    flab.put_unit("t@.service", SLEEP, desired="launched")
    assert placed(flab, "t@.service") is None


def test_desired_state_transitions_drive_the_agent(flab):
    flab.put_unit("life.service", SLEEP, desired="loaded")
    flab.wait_rows("life.service", lambda rows: [(r["systemdLoadState"], r["systemdActiveState"], r["systemdSubState"])
                                                 for r in rows] == [("loaded", "inactive", "dead")])
    wait_for(lambda: flab.unit("life.service")["currentState"] == "loaded", what="currentState loaded")
    flab.tcp.put(A + "/units/life.service", {"desiredState": "launched"})
    flab.wait_rows("life.service", lambda rows: rows and rows[0]["systemdSubState"] == "running")
    assert flab.unit("life.service")["currentState"] == "launched"
    flab.tcp.put(A + "/units/life.service", {"desiredState": "loaded"})
    flab.wait_rows("life.service", lambda rows: rows and rows[0]["systemdActiveState"] == "inactive")
    wait_for(lambda: flab.unit("life.service")["currentState"] == "loaded", what="currentState loaded again")
    flab.tcp.put(A + "/units/life.service", {"desiredState": "inactive"})
    flab.wait_rows("life.service", lambda rows: rows == [])
    unit = flab.unit("life.service")
    assert unit["currentState"] == "inactive" and "machineID" not in unit


def test_fail_option_and_replace_reload(flab):
    failing = SLEEP + opts(("X-Fleetlab", "Fail", "true"))
    flab.put_unit("bad.service", failing)
    rows = flab.wait_rows("bad.service", lambda rows: rows and rows[0]["systemdActiveState"] == "failed")
    assert rows[0]["systemdSubState"] == "failed"
    # fleet's currentState does not track systemd success
    assert flab.unit("bad.service")["currentState"] == "launched"
    # replacing with good options and launched reloads the unit with the new hash
    good = opts(("Service", "ExecStart", "/bin/true"))
    flab.put_unit("bad.service", good, desired="launched")
    rows = flab.wait_rows("bad.service", lambda rows: rows and rows[0]["systemdSubState"] == "running")
    assert rows[0]["hash"] == unit_hash(good) != unit_hash(failing)
