# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Service instances and health-gated rolling replacement on a 4-machine lab (3 machines role=app, 1 role=edge).

``roll``: a non-global service with ``instances: 3`` (one per app machine, fleet Conflicts anti-affinity), upgraded
v1 -> v2 batch by batch while Consul is watched, then v3 failing at its second batch (fleetlab unit_fail fault) and
rolled back to v2. ``rollg``: a global service rolled machine by machine (``rolling: {mode: per_machine}``).

The tests of this module run in order and build on each other.
Run: TEST_INSTANCES_LAB_NET=127.0.13 .venv/bin/pytest tests/integration/test_instances_rolling.py -x
"""
from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path

import pytest
import requests

from lab.cluster import Lab, LabConfig, LabInfo
from tests.conftest import lab_net_for
from tests.integration.stack_helpers import fleet, fleetlab_admin, kv_json, lock_session, report
from tests.support import lab_environment, run_playbook

APP = Path(__file__).parent / "files" / "instance_app.py"
METADATA = [{"role": "app", "az": "a"}, {"role": "app", "az": "b"}, {"role": "app", "az": "c"}, {"role": "edge", "az": "a"}]
SERVICE = """[Unit]
Description=Rolling test service {{ stack }} version {{ version }}

[Service]
ExecStart=/usr/bin/env python3 %(app)s --service {{ consul_service }} --id %%n --version {{ version }} {{ app_args | default('') }}
TimeoutStopSec=10

[X-Fleet]
MachineMetadata=role=app
%(extra)s"""


def inventory_vars(lab):
    """The test inventory: the service unit templates are written into the lab directory."""
    templates = Path(lab.lab_dir, "templates")
    templates.mkdir(exist_ok=True)
    Path(templates, "roll.service.j2").write_text(SERVICE % {"app": APP, "extra": ""}, encoding="utf-8")
    Path(templates, "rollg.service.j2").write_text(SERVICE % {"app": APP, "extra": "Global=true\n"}, encoding="utf-8")
    return {
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        "houston_environment": "lab",
        "houston_fleet_endpoint": "{{ lookup('ansible.builtin.env', 'FLEETCTL_ENDPOINT') }}",
        "houston_consul_address": "{{ lookup('ansible.builtin.env', 'CONSUL_HTTP_ADDR') }}",
        "houston_services": {
            "roll": {"keep_versions": 0, "instances": 3,
                     "rolling": {"batch_size": 1, "max_unavailable": 1, "rollback_on_failure": True},
                     "service": {"template": str(templates / "roll.service.j2")}},
            "rollg": {"keep_versions": 0, "rolling": {"mode": "per_machine"},
                      "service": {"template": str(templates / "rollg.service.j2")}},
        },
    }


def module_lab_net(config):
    """TEST_INSTANCES_LAB_NET, else the session lab's net (tests/conftest.py) with 40 added to the third octet, so
    this module's lab never shares addresses with the session lab of the same pytest worker."""
    if os.environ.get("TEST_INSTANCES_LAB_NET"):
        return os.environ["TEST_INSTANCES_LAB_NET"]
    first, second, third = lab_net_for(config).split(".")
    return f"{first}.{second}.{(int(third) + 40) % 250}"


@pytest.fixture(scope="module")
def lab(request, tmp_path_factory):
    """A private 4-machine lab for this module (see module_lab_net)."""
    lab_dir = tmp_path_factory.mktemp("lab-inst")
    config = LabConfig.from_env({"LAB_DIR": str(lab_dir), "LAB_NET": module_lab_net(request.config),
                                 "LAB_MACHINES": "4", "LAB_METADATA": json.dumps(METADATA),
                                 "LAB_CACHE": os.environ.get("LAB_CACHE", "")})
    cluster = Lab(config, out=sys.stderr)
    cluster.up()
    try:
        yield LabInfo.load(lab_dir)
    finally:
        cluster.down(quiet=True)


def deploy(lab, stack, version, **extra_vars):
    inventory = {"all": {"hosts": {"localhost": {}}, "vars": inventory_vars(lab)}}
    rc, out, err, recap = run_playbook("houston.stack.deploy", inventory=inventory,
                                       extra_vars={"stack": stack, "version": version, **extra_vars},
                                       env=lab_environment(lab))
    return rc, out, err, recap.get("localhost", {})


def roll_log(stdout):
    """The batches of the rolling replacement, as the play printed them (``stack_deploy_roll_log``)."""
    start = stdout.rfind('"stack_deploy_roll_log": [')
    assert start >= 0, f"no rolling log in the output:\n{stdout[-3000:]}"
    obj, _end = json.JSONDecoder().raw_decode(stdout[stdout.index("[", start):])
    return obj


def app_machines(lab):
    return sorted(m["id"] for m in lab.machines if m["metadata"]["role"] == "app")


def instances(lab, stack):
    """{unit name: [(machine id, activeState)]} of the stack's instance units, and their fleet options."""
    units = {u["name"]: u for u in fleet(lab, "units").get("units", []) if u["name"].startswith(f"{stack}-")}
    states = fleet(lab, "state").get("states", [])
    rows = {name: sorted((s["machineID"], s["systemdActiveState"]) for s in states if s["name"] == name) for name in units}
    return rows, units


def passing(lab, service):
    """[(address, version tag)] of the passing instances of ``service`` in Consul."""
    answer = requests.get(f"http://{lab.consul_address}/v1/health/service/{service}", params={"passing": "1"}, timeout=10)
    answer.raise_for_status()
    return sorted((e["Service"]["Address"], e["Service"]["Tags"][0]) for e in answer.json())


class ConsulWatcher:
    """Snapshots of the passing instances of a service, taken continuously while a deploy runs."""

    def __init__(self, lab, service):
        self.lab, self.service, self.snapshots = lab, service, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        index = "0"
        while not self._stop.is_set():
            try:
                answer = requests.get(f"http://{self.lab.consul_address}/v1/health/service/{self.service}",
                                      params={"passing": "1", "index": index, "wait": "2s"}, timeout=10)
                index = answer.headers.get("X-Consul-Index", index)
                self.snapshots.append(sorted(e["Service"]["Tags"][0] for e in answer.json()))
            except requests.RequestException:
                continue

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=15)


def test_instances_spread_over_machines_and_pass_in_consul(lab):
    rc, out, err, recap = deploy(lab, "roll", "v1")
    assert rc == 0, out + err
    rows, units = instances(lab, "roll")
    assert sorted(rows) == [f"roll-instance-{i}@v1.service" for i in (1, 2, 3)]
    assert all(len(r) == 1 and r[0][1] == "active" for r in rows.values()), rows
    assert sorted(r[0][0] for r in rows.values()) == app_machines(lab), "one instance on each app machine"
    for name, unit in units.items():
        options = {(o["section"], o["name"]): o["value"] for o in unit["options"]}
        assert options[("X-Fleet", "Conflicts")] == "roll-instance-*@v1.service"
        assert options[("X-Houston", "Instance")] == name.split("@")[0].rsplit("-", 1)[1]
    ips = {m["id"]: m["ip"] for m in lab.machines}
    assert passing(lab, "roll") == sorted((ips[m], "v1") for m in app_machines(lab))
    assert lock_session(lab, "roll") is None


def test_second_run_changes_nothing(lab):
    rc, out, err, recap = deploy(lab, "roll", "v1")
    assert rc == 0, out + err
    assert recap["changed"] == 0, out
    assert report(out)["deployed"] is False


def test_rolling_upgrade_keeps_instances_passing(lab):
    with ConsulWatcher(lab, "roll") as watcher:
        rc, out, err, recap = deploy(lab, "roll", "v2")
    assert rc == 0, out + err
    roll = roll_log(out)
    assert [(b["batch"], b["of"], b["new"], b["old_stopped"]) for b in roll] == [
        (i, 3, [f"roll-instance-{i}@v2.service"], [f"roll-instance-{i}@v1.service"]) for i in (1, 2, 3)]
    for earlier, later in zip(roll, roll[1:]):
        assert earlier["finished"] <= later["started"], "one batch after the other"
    for batch in roll:
        assert batch["started"] <= batch["passing"] <= batch["finished"]
    # From Consul itself: never fewer than N - max_unavailable passing, v2 only grows, v1 only shrinks.
    snapshots = watcher.snapshots
    assert len(snapshots) >= 4, snapshots
    assert min(len(s) for s in snapshots) >= 3 - 1, snapshots
    v2_counts = [s.count("v2") for s in snapshots]
    v1_counts = [s.count("v1") for s in snapshots]
    assert v2_counts == sorted(v2_counts) and v1_counts == sorted(v1_counts, reverse=True), snapshots
    assert v2_counts[-1] == 3 and v1_counts[-1] == 0
    rows, _units = instances(lab, "roll")
    assert sorted(rows) == [f"roll-instance-{i}@v2.service" for i in (1, 2, 3)], "v1 pruned (keep_versions 0)"
    assert sorted(r[0][0] for r in rows.values()) == app_machines(lab)


def test_failing_batch_stops_the_roll_and_rolls_back(lab):
    fault = fleetlab_admin(lab, "POST", "faults", {"kind": "unit_fail", "unit": "roll-instance-2@v3.service"})
    try:
        rc, out, err, recap = deploy(lab, "roll", "v3")
    finally:
        fleetlab_admin(lab, "DELETE", f"faults/{fault['id']}")
    assert rc != 0
    message = out + err
    assert "stopped at batch 2/3" in message
    assert "roll-instance-2@v3.service" in message and "failed" in message
    assert any(m["id"] in message for m in lab.machines), "the machine is named"
    assert "old instances started again: roll-instance-1@v2.service" in message
    rows, _units = instances(lab, "roll")
    assert sorted(rows) == [f"roll-instance-{i}@v2.service" for i in (1, 2, 3)], rows
    assert all(r[0][1] == "active" for r in rows.values()), rows
    ips = {m["id"]: m["ip"] for m in lab.machines}
    assert passing(lab, "roll") == sorted((ips[m], "v2") for m in app_machines(lab))
    history = kv_json(lab, "houston/roll/history")
    assert history[0]["version"] == "v3" and history[0]["result"] == "failed"
    assert kv_json(lab, "houston/roll/current") in ("v2", '"v2"')
    assert lock_session(lab, "roll") is None


def test_unhealthy_batch_without_rollback_keeps_the_replaced_batches(lab):
    # Instance 2 of v4 runs but never passes its Consul check: batch 2 stops the roll at the Consul gate.
    rc, out, err, recap = deploy(lab, "roll", "v4", houston_variables={"app_args": "--unhealthy-unit roll-instance-2@v4.service"},
                                 houston_rolling={"rollback_on_failure": False}, houston_consul_wait_timeout=8)
    assert rc != 0
    message = out + err
    assert "stopped at batch 2/3" in message and "roll-instance-2@v4.service" in message
    assert "No rollback" in message
    rows, _units = instances(lab, "roll")
    ips = {m["id"]: m["ip"] for m in lab.machines}
    failed_machine = next(m for m in lab.machines if m["id"][:8] in message.split("fleet now reports:")[1][:300])
    assert failed_machine["ip"] in message, "the failed unit's machine is named"
    assert "roll-instance-2@v4.service" not in rows, "the failed batch is removed"
    assert [r[0][1] for r in (rows["roll-instance-1@v4.service"], rows["roll-instance-2@v2.service"],
                              rows["roll-instance-3@v2.service"])] == ["active"] * 3
    assert rows["roll-instance-1@v2.service"][0][1] == "inactive", "replaced, stays stopped"
    assert sorted(tag for _ip, tag in passing(lab, "roll")) == ["v2", "v2", "v4"]
    assert kv_json(lab, "houston/roll/history")[0]["result"] == "failed"


def test_global_service_rolls_machine_by_machine(lab):
    rc, out, err, recap = deploy(lab, "rollg", "v1")
    assert rc == 0, out + err
    rows, units = instances(lab, "rollg")
    expected = {f"rollg-machine-{m[:8]}@v1.service": [(m, "active")] for m in app_machines(lab)}
    assert rows == expected
    for name, unit in units.items():
        options = {(o["section"], o["name"]): o["value"] for o in unit["options"]}
        assert options[("X-Fleet", "MachineID")][:8] == name.split("-")[2][:8] and ("X-Fleet", "Global") not in options
    with ConsulWatcher(lab, "rollg") as watcher:
        rc, out, err, recap = deploy(lab, "rollg", "v2")
    assert rc == 0, out + err
    roll = roll_log(out)
    assert [(b["new"], b["old_stopped"]) for b in roll] == [
        ([f"rollg-machine-{m[:8]}@v2.service"], [f"rollg-machine-{m[:8]}@v1.service"]) for m in app_machines(lab)]
    ips = {m["id"]: m["ip"] for m in lab.machines}
    assert [b["machines"] for b in roll] == [[ips[m]] for m in app_machines(lab)], "each new unit on its machine"
    assert min(len(s) for s in watcher.snapshots) >= 2, watcher.snapshots
    rows, _units = instances(lab, "rollg")
    assert rows == {f"rollg-machine-{m[:8]}@v2.service": [(m, "active")] for m in app_machines(lab)}
    assert passing(lab, "rollg") == sorted((ips[m], "v2") for m in app_machines(lab))
