# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Faults during real deploys (fleetlab's fault API, the lab's real Consul agents): after each, the previous version
still serves (or the new one, when the deploy rode the fault out), a re-run completes, and it leaves no orphan units
or keys and no version deployed twice. Each test uses its own stack.

Run: .venv/bin/pytest tests/integration/reliability/test_rel_faults.py
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest
import requests

from lab.cluster import _proc_start_time  # pylint: disable=protected-access
from tests.integration.reliability.rel_support import (
    assert_clean, assert_serving, deploy, deploy_command, kv_entries, lock_holder, run_env, stack_units,
    successes_per_version, wait_for, web_ips,
)


def admin(lab, method, path, body=None):
    answer = requests.request(method, f"{lab.fleetlab_admin_url}/{path}", json=body, timeout=10)
    answer.raise_for_status()
    return answer.json() if answer.content else None


def ok_deploy(lab, rel_files, stack, version, **extra):
    rc, out = deploy(lab, rel_files, stack, version, **extra)
    assert rc == 0, out[-4000:]
    return out


def start_deploy(lab, rel_files, tmp_path, stack, version, **extra):
    """Start a deploy in the background: (Popen, output file)."""
    output = tmp_path / f"{stack}-{version}-{time.monotonic_ns()}.log"
    cmd = deploy_command(lab, rel_files, stack, version, tmp_path / f"{stack}-{version}-{time.monotonic_ns()}.json",
                         **extra)
    handle = open(output, "w", encoding="utf-8")  # pylint: disable=consider-using-with
    proc = subprocess.Popen(cmd, env=run_env(lab), stdout=handle, stderr=subprocess.STDOUT,
                            cwd=str(tmp_path))
    proc.log_handle = handle
    return proc, output


def finish(proc, output, timeout=600):
    proc.wait(timeout=timeout)
    proc.log_handle.close()
    return proc.returncode, output.read_text(encoding="utf-8")


def assert_rerun_clean(lab, stack):
    assert_clean(lab, stack)
    assert all(count == 1 for count in successes_per_version(lab, stack).values()), successes_per_version(lab, stack)


# --- fleet API faults -----------------------------------------------------------------------------------------------
def test_fleet_503_dropped_connections_and_latency_are_ridden_out(lab, rel_files):
    stack = "rel-fleet"
    ok_deploy(lab, rel_files, stack, "v1")
    admin(lab, "POST", "stats/reset")
    faults = [admin(lab, "POST", "faults", body) for body in (
        {"kind": "status", "status": 503, "count": 3},
        {"kind": "drop", "count": 2},
        {"kind": "latency", "ms": 300, "count": 20},
    )]
    try:
        ok_deploy(lab, rel_files, stack, "v2")
    finally:
        admin(lab, "DELETE", "faults")
    assert all(f.get("id") for f in faults)
    assert_serving(lab, stack, "v2")
    assert_serving(lab, stack, "v1")  # keep_versions: 1
    assert_rerun_clean(lab, stack)


def test_fleet_503_for_longer_than_the_retries_fails_cleanly(lab, rel_files):
    stack = "rel-fleet"
    admin(lab, "POST", "faults", {"kind": "status", "status": 503, "seconds": 40, "methods": ["PUT", "DELETE"]})
    try:
        rc, out = deploy(lab, rel_files, stack, "v3")
    finally:
        admin(lab, "DELETE", "faults")
    assert rc != 0
    assert "503" in out, out[-3000:]
    assert_serving(lab, stack, "v2")
    assert lock_holder(lab, stack) is None
    ok_deploy(lab, rel_files, stack, "v3")
    assert_serving(lab, stack, "v3")
    assert_rerun_clean(lab, stack)


# --- a machine lost mid-deploy --------------------------------------------------------------------------------------
# Once flaky: every rel-* stack ships the same files, and the extraction units of two stacks used one work dir per
# archive on a machine; started together on the restored machine, one truncated the archive the other was
# extracting. The work dir is now per stack (its Consul key), so this runs without reruns.
def test_machine_lost_mid_deploy(lab, rel_files, tmp_path):
    stack = "rel-machine"
    ok_deploy(lab, rel_files, stack, "v1")
    lost = next(m for m in lab.machines if m["ip"] == web_ips(lab)[1])
    proc, output = start_deploy(lab, rel_files, tmp_path, stack, "v2")
    try:
        wait_for(lambda: f"{stack}-dep@v2.service" in stack_units(lab, stack) or proc.poll() is not None,
                 "the v2 dependency unit", timeout=300)
        admin(lab, "POST", f"machines/{lost['id']}/lose")
        rc, out = finish(proc, output)
    finally:
        admin(lab, "POST", f"machines/{lost['id']}/restore")
    remaining = [ip for ip in web_ips(lab) if ip != lost["ip"]]
    if rc == 0:
        assert_serving(lab, stack, "v2", ips=remaining)
    else:
        assert lost["id"] in out or lost["ip"] in out, out[-3000:]
        assert_serving(lab, stack, "v1", ips=remaining)
    wait_for(lambda: any(m["id"] == lost["id"] for m in requests.get(
        f"{lab.fleetlab_url}/fleet/v1/machines", timeout=10).json().get("machines", [])), "the machine back")
    ok_deploy(lab, rel_files, stack, "v2")
    assert_serving(lab, stack, "v2")
    assert_rerun_clean(lab, stack)


# --- Consul faults --------------------------------------------------------------------------------------------------
def _lab_process(lab, name):
    state = json.loads((lab.lab_dir / "state.json").read_text(encoding="utf-8"))
    return next(p for p in state["processes"] if p["name"] == name)


def _stop_agent(lab, name):
    record = _lab_process(lab, name)
    os.kill(record["pid"], signal.SIGTERM)
    wait_for(lambda: _proc_start_time(record["pid"]) is None, f"{name} stopped")
    return record


def _restart_agent(lab, record):
    """Start the agent again with its recorded command line, and record the new pid so `lab down` stops it."""
    log = open(lab.lab_dir / "logs" / f"{record['name']}.log", "ab")  # pylint: disable=consider-using-with
    proc = subprocess.Popen(record["argv"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    path = lab.lab_dir / "state.json"
    state = json.loads(path.read_text(encoding="utf-8"))
    for entry in state["processes"]:
        if entry["name"] == record["name"]:
            entry["pid"] = proc.pid
            entry["start"] = wait_for(lambda: _proc_start_time(proc.pid), "the agent's start time")
    path.write_text(json.dumps(state, indent=2), encoding="utf-8")
    wait_for(lambda: _members_alive(lab) == len(lab.machines) + 1, "every Consul member alive", timeout=120)


def _members_alive(lab):
    try:
        answer = requests.get(f"http://{lab.consul_address}/v1/agent/members", timeout=5)
        leader = requests.get(f"http://{lab.consul_address}/v1/status/leader", timeout=5).json()
    except requests.RequestException:
        return 0
    return sum(1 for m in answer.json() if m.get("Status") == 1) if leader else 0


def test_consul_leader_lost_during_the_wait(lab, rel_files, tmp_path):
    stack = "rel-consul"
    ok_deploy(lab, rel_files, stack, "v1")
    proc, output = start_deploy(lab, rel_files, tmp_path, stack, "v2")
    record = None
    try:
        wait_for(lambda: f"{stack}@v2.service" in stack_units(lab, stack) or proc.poll() is not None,
                 "the v2 service unit (the deploy is in its Consul wait)", timeout=300)
        record = _stop_agent(lab, "consul-server")
        time.sleep(3)  # the server stays down for a while (not an assertion)
        _restart_agent(lab, record)
        rc, out = finish(proc, output)
    finally:
        if record and _proc_start_time(_lab_process(lab, "consul-server")["pid"]) is None:
            _restart_agent(lab, record)
    if rc != 0:
        assert lab.consul_address in out or "Consul" in out, out[-3000:]
        assert_serving(lab, stack, "v1")
        ok_deploy(lab, rel_files, stack, "v2")
    assert_serving(lab, stack, "v2")
    assert_rerun_clean(lab, stack)


def test_one_machine_consul_agent_down(lab, rel_files):
    stack = "rel-consul"
    down_ip = web_ips(lab)[1]
    index = next(i for i, m in enumerate(lab.machines) if m["ip"] == down_ip)
    record = _stop_agent(lab, f"consul-machine-{index + 1}")
    try:
        rc, out = deploy(lab, rel_files, stack, "v3", houston_consul_wait_timeout=20)
    finally:
        _restart_agent(lab, record)
    assert rc != 0, "the service cannot be passing on a machine without its Consul agent"
    assert down_ip in out, out[-3000:]
    assert f"{stack}@v3.service" not in stack_units(lab, stack)
    wait_for(lambda: sorted(web_ips(lab)) == sorted(
        e["Service"]["Address"] for e in requests.get(f"http://{lab.consul_address}/v1/health/service/{stack}",
                                                      params={"passing": "1", "tag": "v2"}, timeout=10).json()),
        "v2 passing again on both machines", timeout=120)
    assert_serving(lab, stack, "v2")
    ok_deploy(lab, rel_files, stack, "v3")
    assert_serving(lab, stack, "v3")
    assert_rerun_clean(lab, stack)


def test_archive_over_the_kv_value_limit_is_chunked(lab, rel_files):
    stack = "rel-big"
    ok_deploy(lab, rel_files, stack, "v1")
    assert_serving(lab, stack, "v1")
    chunks = [e for e in kv_entries(lab) if e["Key"].startswith(f"houston/{stack}/archives/")]
    assert len(chunks) >= 3, [e["Key"] for e in chunks]  # manifest + at least 2 chunks
    expected = (rel_files / "big.bin").read_bytes()
    for machine in lab.machines:
        if machine["ip"] in web_ips(lab):
            assert (machine["root"] + "/opt/rel/data/big.b64") and \
                open(machine["root"] + "/opt/rel/data/big.b64", "rb").read() == expected
    assert_rerun_clean(lab, stack)


# --- concurrent deploys ---------------------------------------------------------------------------------------------
def test_five_concurrent_deploys_of_one_stack(lab, rel_files, tmp_path):
    stack = "rel-lock"
    runs = [start_deploy(lab, rel_files, tmp_path, stack, f"c{n}", houston_lock_timeout=15) for n in range(1, 6)]
    results = [finish(proc, output) for proc, output in runs]
    winners = [f"c{n}" for n, (rc, _out) in enumerate(results, 1) if rc == 0]
    assert winners, [out[-2000:] for _rc, out in results]
    for rc, out in results:
        if rc != 0:
            assert "held by" in out or "holder" in out, out[-3000:]
            assert "user" in out, out[-3000:]
    entries = list(json.loads(requests.get(f"http://{lab.consul_address}/v1/kv/houston/{stack}/history",
                                           params={"raw": "1"}, timeout=10).text))
    finished = sorted((e["started"], e["finished"]) for e in entries)
    for (_s1, end), (start, _e2) in zip(finished, finished[1:]):
        assert end <= start, f"two deploys overlapped: {finished}"
    assert sorted(e["version"] for e in entries if e["result"] == "success") == sorted(winners)
    assert_serving(lab, stack, [e["version"] for e in entries if e["result"] == "success"][0])
    assert_rerun_clean(lab, stack)


# --- kill -9 of the controller --------------------------------------------------------------------------------------
@pytest.mark.parametrize("step", ["lock-taken", "units-launching", "consul-wait"])
def test_controller_killed_then_rerun_completes(lab, rel_files, tmp_path, step):
    stack = "rel-kill"
    version = {"lock-taken": "k1", "units-launching": "k2", "consul-wait": "k3"}[step]
    if step == "lock-taken":
        ok_deploy(lab, rel_files, stack, "k0", houston_lock_ttl=10)
    condition = {
        "lock-taken": lambda: lock_holder(lab, stack),
        "units-launching": lambda: f"{stack}-dep@{version}.service" in stack_units(lab, stack),
        "consul-wait": lambda: f"{stack}@{version}.service" in stack_units(lab, stack),
    }[step]
    proc, output = start_deploy(lab, rel_files, tmp_path, stack, version, houston_lock_ttl=10)
    wait_for(lambda: condition() or proc.poll() is not None, f"the deploy at step {step}", timeout=300)
    assert proc.poll() is None, "the deploy ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    finish(proc, output)
    previous = {"lock-taken": "k0", "units-launching": "k1", "consul-wait": "k2"}[step]
    assert_serving(lab, stack, previous)
    wait_for(lambda: lock_holder(lab, stack) is None, "the lock expiring by its TTL", timeout=120)
    ok_deploy(lab, rel_files, stack, version, houston_lock_ttl=10)
    assert_serving(lab, stack, version)
    assert_rerun_clean(lab, stack)
