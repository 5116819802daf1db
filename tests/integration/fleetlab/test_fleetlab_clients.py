# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Third-party fleet clients from PyPI, unchanged, against a fleetlab subprocess (reference section 12).

python-fleet (``fleet==0.1.3``) loads fleet's discovery document and drives machines, list, create,
start, state and destroy over TCP and over the unix socket. fleetpy (``fleetpy==0.2.3``) is used for
its read paths and start/stop/destroy; its ``submit`` is broken on Python 3 (``vars()`` of a
namedtuple), so the submit test applies the harness patch the reference describes.
"""
from __future__ import annotations

import time
import urllib.parse

import pytest

fleet_v1 = pytest.importorskip("fleet.v1", reason="python-fleet (fleet==0.1.3) is not installed")
fleetpy = pytest.importorskip("fleetpy", reason="fleetpy==0.2.3 is not installed")


def wait_for(predicate, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for %s" % what)
        time.sleep(0.05)


def python_fleet_client(lab, transport):
    if transport == "tcp":
        return fleet_v1.Client(lab.url)
    return fleet_v1.Client("http+unix://" + urllib.parse.quote(lab.socket, safe=""))


@pytest.mark.parametrize("transport", ["tcp", "unix"])
def test_python_fleet_full_flow(fleetlab_process, transport):
    client = python_fleet_client(fleetlab_process, transport)
    machines = list(client.list_machines())
    assert sorted(m["id"] for m in machines) == sorted(m["id"] for m in fleetlab_process.machines)
    assert {m["primaryIP"] for m in machines} == {m["ip"] for m in fleetlab_process.machines}
    name = "pf-%s@1.service" % transport
    unit = fleet_v1.Unit(desired_state="loaded", options=[
        {"section": "Service", "name": "ExecStart", "value": "/bin/sleep 300"},
        {"section": "X-Fleet", "name": "MachineMetadata", "value": "role=worker"}])
    created = client.create_unit(name, unit)
    assert created.name == name and created.desiredState == "loaded"
    assert name in [u.name for u in client.list_units()]
    client.set_unit_desired_state(name, "launched")
    worker = [m["id"] for m in fleetlab_process.machines if m["metadata"]["role"] == "worker"][0]

    def running():
        states = list(client.list_unit_states(unit_name=name))
        return states if states and states[0]["systemdActiveState"] == "active" else None

    states = wait_for(running, what="%s active" % name)
    assert [s["machineID"] for s in states] == [worker]
    assert wait_for(lambda: client.get_unit(name).currentState == "launched", what="launched")
    assert [s["name"] for s in client.list_unit_states(machine_id=worker)] == [name]
    with pytest.raises(fleet_v1.errors.APIError) as err:
        client.get_unit("missing.service")
    assert err.value.code == 404 and "unit does not exist" in str(err.value)
    assert client.destroy_unit(name) is True
    assert name not in [u.name for u in client.list_units()]
    wait_for(lambda: not list(client.list_unit_states(unit_name=name)), what="rows gone")


def test_python_fleet_reports_api_errors(fleetlab_process):
    client = fleet_v1.Client(fleetlab_process.url)
    unit = fleet_v1.Unit(options=[{"section": "X-Fleet", "name": "MachineID", "value": "abc"},
                                  {"section": "X-Fleet", "name": "Global", "value": "true"}])
    with pytest.raises(fleet_v1.errors.APIError) as err:
        client.create_unit("bad.service", unit)
    assert err.value.code == 400 and "MachineID cannot be used with Global" in str(err.value)


def test_fleetpy_read_paths_and_lifecycle(fleetlab_process, monkeypatch):
    client = fleetpy.Client(fleetlab_process.url)
    machines = client.machines()
    assert sorted(m.id for m in machines) == sorted(m["id"] for m in fleetlab_process.machines)
    # fleetpy's submit calls vars() on a namedtuple, a TypeError on Python >= 3.5.1: apply the harness patch
    monkeypatch.setattr(fleetpy.unit.Unit, "options", lambda self: [o._asdict() for o in self._options])
    unit = client.unit("fp@1")
    unit.add_option("Service", "ExecStart", "/bin/sleep 300")
    assert unit.submit() is True
    assert unit.start() is True
    wait_for(lambda: any(s.unit == "fp@1.service" and s.state == "active" for s in client.state()), what="fp active")
    listed = {u.name: u for u in client.units()}
    assert "fp@1.service" in listed
    assert unit.refresh() is True
    full = [s for s in client.state(full=True) if s.unit == "fp@1.service"]
    assert len(full) == 1 and full[0].loaded is True
    assert unit.stop() is True
    assert unit.destroy() is True
    assert "fp@1.service" not in {u.name for u in client.units()}
