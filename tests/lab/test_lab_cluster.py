# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The lab launcher (lab/cluster.py, python -m lab) against real Consul agents.

These tests run their own labs on a separate loopback net (second octet of TEST_LAB_NET + 1,
default 127.1.200.x) so they never touch the session ``lab`` fixture.
"""
from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import consul
import pytest

from lab.cluster import Lab, LabConfig, LabError, LabInfo, fleetlab_available, _alive
from tests.conftest import REPO_ROOT, lab_net_for

PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
METADATA = [{"role": "web", "az": "a"}, {"role": "db", "az": "b"}]


@pytest.fixture(scope="module")
def net(request) -> str:
    first, second, third = lab_net_for(request.config).split(".")
    return f"{first}.{int(second) + 1}.{third}"


def _lab_env(lab_dir: Path, net: str, **extra) -> dict:
    env = dict(os.environ)
    for name in ("LAB_VIRTUAL", "LAB_NO_FLEETLAB", "LAB_NO_PROCESS", "LAB_MACHINES", "LAB_METADATA"):
        env.pop(name, None)
    env.update({"LAB_DIR": str(lab_dir), "LAB_NET": net, "PYTHONPATH": str(REPO_ROOT)})
    env.update(extra)
    return env


def _cli(command: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([str(PYTHON), "-m", "lab", command], cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=180, check=False)


def _listeners(prefix: str) -> list[str]:
    """TCP listeners (ip:port) whose address starts with ``prefix`` (from /proc/net/tcp)."""
    found = []
    for line in Path("/proc/net/tcp").read_text(encoding="utf-8").splitlines()[1:]:
        fields = line.split()
        addr, port = fields[1].split(":")
        ip = socket.inet_ntoa(bytes.fromhex(addr)[::-1])
        if fields[3] == "0A" and ip.startswith(prefix):
            found.append(f"{ip}:{int(port, 16)}")
    return found


@pytest.fixture(scope="module")
def running(net, tmp_path_factory):
    """A lab with 3 machines and 2 metadata entries (cycled), started through the CLI."""
    lab_dir = tmp_path_factory.mktemp("launcher")
    env = _lab_env(lab_dir, net, LAB_METADATA=json.dumps(METADATA))
    started = _cli("up", env)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        yield {"dir": lab_dir, "env": env, "net": net, "up": started, "info": LabInfo.load(lab_dir)}
    finally:
        _cli("down", env)


def test_env_file_exports_the_lab_endpoints(running):
    text = (running["dir"] / "env").read_text(encoding="utf-8")
    lines = text.splitlines()
    assert all(line.startswith("export ") for line in lines)
    assert f"export CONSUL_HTTP_ADDR={running['net']}.10:8500" in lines
    if fleetlab_available():
        assert f"export FLEETCTL_ENDPOINT=unix://{running['dir']}/fleet.sock" in lines
        url = running["info"].fleetlab_url
        assert url.startswith(f"http://{running['net']}.1:")
        assert f"export FLEETLAB_ADMIN_URL={url}/fleetlab/v1" in lines
    else:
        assert "FLEETCTL_ENDPOINT" not in text
        assert "fleetlab/__main__.py does not exist yet" in running["up"].stdout


def test_machines_json_lists_every_machine_with_a_deterministic_id(running):
    machines = json.loads((running["dir"] / "machines.json").read_text(encoding="utf-8"))
    net = running["net"]
    assert [m["ip"] for m in machines] == [f"{net}.11", f"{net}.12", f"{net}.13"]
    for machine in machines:
        assert set(machine) == {"id", "ip", "consul", "metadata", "root"}
        assert machine["id"] == hashlib.sha256(machine["ip"].encode()).hexdigest()[:32]
        assert machine["consul"] == f"{machine['ip']}:8500"
        assert Path(machine["root"]) == running["dir"] / "machines" / machine["id"]
        assert Path(machine["root"]).is_dir()
    assert [m["metadata"] for m in machines] == [METADATA[0], METADATA[1], METADATA[0]]


def test_consul_has_a_leader_and_one_member_per_agent(running):
    net = running["net"]
    server = consul.Consul(host=f"{net}.10", port=8500)
    assert server.status.leader() == f"{net}.10:8300"
    members = {m["Name"]: (m["Addr"], m["Status"]) for m in server.agent.members()}
    assert members == {
        "lab-server": (f"{net}.10", 1),
        "machine-1": (f"{net}.11", 1),
        "machine-2": (f"{net}.12", 1),
        "machine-3": (f"{net}.13", 1),
    }
    expected = {f"machine-{index + 1}": machine["id"] for index, machine in enumerate(running["info"].machines)}
    deadline = time.monotonic() + 60
    while True:  # a node joins the catalog through serf before the agent's anti-entropy sync writes its meta
        _index, nodes = server.catalog.nodes()
        meta = {n["Node"]: (n.get("Meta") or {}).get("fleet_machine_id") for n in nodes}
        if all(meta.get(node) == machine_id for node, machine_id in expected.items()) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    for node, machine_id in expected.items():
        assert meta.get(node) == machine_id, (node, meta)


def test_kv_written_through_a_client_agent_is_read_through_the_server(running):
    machine = running["info"].machines[1]
    host, port = machine["consul"].split(":")
    key, value = f"lab-test/{uuid.uuid4().hex}", b"written on machine-2"
    assert consul.Consul(host=host, port=int(port)).kv.put(key, value)
    _index, entry = consul.Consul(host=f"{running['net']}.10", port=8500).kv.get(key)
    assert entry["Value"] == value


def test_service_registered_on_a_client_appears_with_that_machines_address(running):
    machine = running["info"].machines[2]
    host, port = machine["consul"].split(":")
    agent = consul.Consul(host=host, port=int(port))
    assert agent.agent.service.register("labtest", service_id="labtest-1", port=9999, tags=["v1"])
    _index, instances = consul.Consul(host=f"{running['net']}.10", port=8500).catalog.service("labtest")
    assert [(i["Node"], i["Address"], i["ServicePort"], i["ServiceTags"]) for i in instances] == [
        ("machine-3", machine["ip"], 9999, ["v1"])]


def test_status_prints_members_leader_and_machines(running):
    result = _cli("status", running["env"])
    assert result.returncode == 0, result.stdout + result.stderr
    net = running["net"]
    assert ": healthy" in result.stdout
    assert f"consul leader: {net}.10:8300" in result.stdout
    for name in ("lab-server", "machine-1", "machine-2", "machine-3"):
        assert name in result.stdout
    for machine in running["info"].machines:
        assert f"{machine['id']}  {machine['ip']}" in result.stdout
    assert "fleetlab: " in result.stdout


def test_second_up_is_refused_and_leaves_the_lab_running(running):
    state_before = json.loads((running["dir"] / "state.json").read_text(encoding="utf-8"))
    result = _cli("up", running["env"])
    assert result.returncode == 1
    assert "is already running" in result.stderr and "make lab-down" in result.stderr
    assert all(_alive(p) for p in state_before["processes"])
    assert _cli("status", running["env"]).returncode == 0


def test_ensure_keeps_a_healthy_lab(running):
    pids = [p["pid"] for p in json.loads((running["dir"] / "state.json").read_text(encoding="utf-8"))["processes"]]
    result = _cli("ensure", running["env"])
    assert result.returncode == 0
    assert "already up and healthy" in result.stdout
    after = [p["pid"] for p in json.loads((running["dir"] / "state.json").read_text(encoding="utf-8"))["processes"]]
    assert after == pids


def test_a_taken_address_is_named_with_its_owner(net, tmp_path):
    first, second, third = net.split(".")
    other_net = f"{first}.{second}.{int(third) + 1}" if int(third) < 255 else f"{first}.{second}.{int(third) - 1}"
    blocker = socket.socket()
    try:
        blocker.bind((f"{other_net}.12", 8500))
        blocker.listen()
        lab = Lab(LabConfig.from_env({"LAB_DIR": str(tmp_path / "lab"), "LAB_NET": other_net}), out=sys.stderr)
        with pytest.raises(LabError) as failure:
            lab.up()
        message = str(failure.value)
        assert f"{other_net}.12:8500/tcp" in message
        assert "machine 2" in message
        assert f"by pid {os.getpid()}" in message
        assert not (tmp_path / "lab" / "state.json").exists()
    finally:
        blocker.close()


def test_crashed_lab_is_cleaned_and_restarted(net, tmp_path):
    first, second, third = net.split(".")
    crash_net = f"{first}.{int(second) + 1}.{third}"
    env = _lab_env(tmp_path, crash_net, LAB_MACHINES="1", LAB_NO_FLEETLAB="1")
    assert _cli("up", env).returncode == 0
    state = json.loads((tmp_path / "state.json").read_text(encoding="utf-8"))
    for proc in state["processes"]:
        os.kill(proc["pid"], signal.SIGKILL)
    status = _cli("status", env)
    assert status.returncode == 1 and "dead processes" in status.stdout
    try:
        restarted = _cli("up", env)
        assert restarted.returncode == 0, restarted.stdout + restarted.stderr
        assert "cleaning stale state of a crashed lab" in restarted.stdout
        assert _cli("status", env).returncode == 0
    finally:
        _cli("down", env)


def test_up_status_down_twice_leaves_no_process_and_no_listener(net, tmp_path):
    first, second, third = net.split(".")
    cycle_net = f"{first}.{int(second) + 2}.{third}"
    env = _lab_env(tmp_path, cycle_net, LAB_MACHINES="2")
    for _cycle in range(2):
        up = _cli("up", env)
        assert up.returncode == 0, up.stdout + up.stderr
        assert _cli("status", env).returncode == 0
        processes = json.loads((tmp_path / "state.json").read_text(encoding="utf-8"))["processes"]
        assert len(processes) == 3 + (1 if fleetlab_available() else 0)
        assert _listeners(cycle_net + ".")
        down = _cli("down", env)
        assert down.returncode == 0, down.stdout + down.stderr
        assert not any(_alive(p) for p in processes)
        assert _listeners(cycle_net + ".") == []
        assert not (tmp_path / "env").exists() and not (tmp_path / "state.json").exists()
        status = _cli("status", env)
        assert status.returncode == 1 and "not running" in status.stdout


@pytest.mark.skipif(not fleetlab_available(), reason="fleetlab cannot run here")
def test_no_process_lab_runs_every_unit_virtually(net, tmp_path):
    """LAB_NO_PROCESS=1: the real machines' units run in fleetlab's virtual runtime too (the bench's scale labs)."""
    first, second, third = net.split(".")
    env = _lab_env(tmp_path, f"{first}.{int(second) + 3}.{third}", LAB_MACHINES="1", LAB_NO_PROCESS="1")
    up = _cli("up", env)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        info = json.loads((tmp_path / "fleetlab.json").read_text(encoding="utf-8"))
        machine = json.loads((tmp_path / "machines.json").read_text(encoding="utf-8"))[0]
        marker = Path(machine["root"]) / "ran"
        unit = {"desiredState": "launched", "options": [
            {"section": "Service", "name": "Type", "value": "oneshot"},
            {"section": "Service", "name": "RemainAfterExit", "value": "yes"},
            {"section": "Service", "name": "ExecStart", "value": f"/bin/touch {marker}"}]}
        fleet = info["url"] + "/fleet/v1"
        request = urllib.request.Request(fleet + "/units/marker.service", data=json.dumps(unit).encode(), method="PUT",
                                         headers={"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=10).close()
        deadline, states = time.monotonic() + 20, []
        while time.monotonic() < deadline:
            with urllib.request.urlopen(fleet + "/state", timeout=10) as answer:
                states = json.load(answer).get("states") or []
            if [s.get("systemdActiveState") for s in states] == ["active"]:
                break
            time.sleep(0.1)
        assert [(s["name"], s["systemdActiveState"], s["systemdSubState"]) for s in states] == [
            ("marker.service", "active", "exited")]
        assert not marker.exists()
    finally:
        _cli("down", env)
