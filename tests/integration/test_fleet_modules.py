# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""fleet_unit, fleet_unit_info and fleet_prune driven through real ansible-playbook runs against the lab.

Each play follows the check / real / idempotent-check / idempotent idiom with asserts inside the play
and an ``always:`` cleanup; results the play cannot check by itself (machine ids and IPs of the lab,
files written by ExecStop, fleetlab's write counter) are dumped to JSON and checked here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from ansible_collections.houston.stack.plugins.module_utils._fleet import FleetClient
from ansible_collections.houston.stack.plugins.module_utils._naming import marker_text

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")


def run_play(lab, tmp_path, tasks, name="play"):
    """Run ``tasks`` on localhost with the lab's fleet endpoint; return (process, dumped results)."""
    dump = tmp_path / f"{name}.json"
    play = [{
        "name": name, "hosts": "localhost", "connection": "local", "gather_facts": False,
        "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}", "dump_file": str(dump)},
        "module_defaults": {"group/houston.stack.fleet": {"fleet_endpoint": lab.fleet_endpoint, "fleet_retries": 5}},
        "tasks": tasks,
    }]
    path = tmp_path / f"{name}.yml"
    path.write_text(yaml.safe_dump(play, sort_keys=False), encoding="utf-8")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / ".cache" / "collections"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_FORCE_COLOR="0", ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
               ANSIBLE_HOST_KEY_CHECKING="0")
    proc = subprocess.run([str(ANSIBLE_PLAYBOOK), "-i", "localhost,", str(path)], capture_output=True, text=True,
                          env=env, timeout=600, check=False)
    results = json.loads(dump.read_text(encoding="utf-8")) if dump.exists() else {}
    return proc, results


def dump(*names):
    """A task writing the registered results ``names`` to the play's dump file."""
    content = "{{ {" + ", ".join(f"'{n}': {n}" for n in names) + "} | to_json }}"
    return {"name": "Dump results", "ansible.builtin.copy": {"content": content, "dest": "{{ dump_file }}", "mode": "0644"}}


def assert_ok(proc):
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]


def admin(lab, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(lab.fleetlab_admin_url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        # A private opener: ansible's open_url (used in-process by FleetClient) installs a global urllib opener
        # bound to the last unix socket it used, which would send this request to fleet's socket instead.
        with urllib.request.build_opener().open(request, timeout=10) as response:
            raw = response.read()
    except urllib.error.HTTPError as e:
        raise AssertionError(f"fleetlab admin {method} {lab.fleetlab_admin_url}{path}: HTTP {e.code}: {e.read()!r}") from e
    return json.loads(raw) if raw else None


@pytest.fixture
def fleet(lab):
    if not lab.fleet_endpoint:
        pytest.skip("the lab runs without fleetlab")
    return FleetClient(lab.fleet_endpoint)


def unit_task(name, register=None, check=False, **args):
    task = {"name": f"fleet_unit {name} {args.get('state', 'launched')}{' (check)' if check else ''}",
            "houston.stack.fleet_unit": dict(name=name, **args)}
    if check:
        task["check_mode"] = True
    if register:
        task["register"] = register
    return task


def asserting(*conditions):
    return {"name": "Check", "ansible.builtin.assert": {"that": list(conditions)}}


V1 = "[Unit]\nDescription=fleet module test\n\n[Service]\nExecStart=/bin/sleep 600\n"
V2 = "[Unit]\nDescription=fleet module test, replaced\n\n[Service]\nExecStart=/bin/sleep 601\n"


def test_unit_lifecycle_check_real_idempotent(lab, fleet, tmp_path):
    name = "fmtest-life@v1.service"
    tasks = [{"block": [
        unit_task(name, "create_check", check=True, content=V1, wait_timeout=60),
        {"name": "Read after check", "houston.stack.fleet_unit_info": {"name": name}, "register": "after_check"},
        asserting("create_check is changed", "create_check.operation == 'created'", "create_check.unit.desired_state == 'launched'",
                  "after_check.units == []"),
        unit_task(name, "create", content=V1, wait_timeout=60),
        asserting("create is changed", "create.operation == 'created'", "create.unit.current_state == 'launched'",
                  "create.machines | length == 1", "create.machines[0].active_state == 'active'",
                  "create.machines[0].hash == create.unit.hash", "create.unit.hash == create_check.unit.hash"),
        unit_task(name, "same_check", check=True, content=V1 + "\n\n", wait_timeout=60),
        unit_task(name, "same", content="[Unit]\nDescription =  fleet module test  \n[Service]\nExecStart=/bin/sleep 600\n",
                  wait_timeout=60),
        asserting("same_check is not changed", "same_check.operation == 'none'", "same is not changed", "same.operation == 'none'",
                  "same.machines[0].active_state == 'active'"),
        unit_task(name, "replace_check", check=True, content=V2, wait_timeout=60),
        unit_task(name, "replace", content=V2, wait_timeout=60),
        unit_task(name, "replace_again", content=V2, wait_timeout=60),
        asserting("replace_check is changed", "replace_check.operation == 'replaced'", "replace.operation == 'replaced'",
                  "replace.unit.hash != create.unit.hash", "replace.machines[0].hash == replace.unit.hash",
                  "replace.machines[0].active_state == 'active'", "replace_again.operation == 'none'"),
        unit_task(name, "load_check", check=True, content=V2, state="loaded"),
        unit_task(name, "load", content=V2, state="loaded", wait=True, wait_timeout=60),
        unit_task(name, "load_again", content=V2, state="loaded"),
        asserting("load_check.operation == 'state_changed'", "load.operation == 'state_changed'", "load is changed",
                  "load.unit.desired_state == 'loaded'", "load.machines[0].active_state != 'active'",
                  "load_again is not changed"),
        unit_task(name, "delete_check", check=True, state="absent"),
        unit_task(name, "delete", state="absent", wait=True, wait_timeout=60),
        unit_task(name, "delete_again", state="absent"),
        {"name": "Read after delete", "houston.stack.fleet_unit_info": {"name": name}, "register": "after_delete"},
        asserting("delete_check.operation == 'deleted'", "delete.operation == 'deleted'", "delete is changed",
                  "delete_again is not changed", "delete_again.operation == 'none'", "after_delete.units == []"),
        dump("create", "replace_check", "replace"),
    ], "always": [unit_task(name, state="absent")]}]
    # Diff is asked for on the replace only, through the task keyword.
    next(t for t in tasks[0]["block"] if t.get("register") == "replace_check")["diff"] = True
    proc, results = run_play(lab, tmp_path, tasks)
    assert_ok(proc)
    # The diff (asked for on the replace check only) is the unit file, shown by the callback as a unified diff.
    assert f"--- before: fleet:unit/{name} (desiredState=launched)" in proc.stdout
    assert f"+++ after: fleet:unit/{name} (desiredState=launched)" in proc.stdout
    assert "-ExecStart=/bin/sleep 600" in proc.stdout and "+ExecStart=/bin/sleep 601" in proc.stdout
    assert "-Description=fleet module test\n+Description=fleet module test, replaced" in proc.stdout
    machine = results["create"]["machines"][0]
    assert {"id": machine["machine_id"], "ip": machine["ip"]} in [{"id": m["id"], "ip": m["ip"]} for m in lab.machines]
    assert fleet.unit(name) is None


def test_invalid_content_fails_before_any_write(lab, fleet, tmp_path):
    cases = {
        "nosection": "ExecStart=/bin/true\n",
        "badline": "[Service]\nExecStart /bin/true\n",
        "unknown": "[Service]\nExecStart=/bin/true\n[X-Fleet]\nMachineMetadatas=role=web\n",
        "globalid": f"[Service]\nExecStart=/bin/true\n[X-Fleet]\nGlobal=true\nMachineID={lab.machines[0]['id']}\n",
    }
    tasks = []
    for key, content in cases.items():
        task = unit_task(f"fmtest-bad-{key}@v1.service", key, content=content)
        task["ignore_errors"] = True
        tasks.append(task)
    tasks.append(dump(*cases))
    admin(lab, "POST", "/stats/reset")
    proc, results = run_play(lab, tmp_path, tasks)
    assert proc.returncode == 0, proc.stdout
    assert "before any [Section]" in results["nosection"]["msg"]
    assert "line 2: expected 'Name=Value'" in results["badline"]["msg"]
    assert "unknown [X-Fleet] option 'MachineMetadatas'" in results["unknown"]["msg"]
    assert "Global=true cannot be used with MachineID" in results["globalid"]["msg"]
    assert all(results[k]["failed"] and results[k]["changed"] is False for k in cases)
    assert admin(lab, "GET", "/stats")["writes"] == 0


def test_wait_fails_fast_on_failed_unit_and_removes_it(lab, fleet, tmp_path):
    name = "fmtest-fail@v1.service"
    fault = admin(lab, "POST", "/faults", {"kind": "unit_fail", "unit": "fmtest-fail@*"})
    try:
        tasks = [{"block": [
            dict(unit_task(name, "failing", content=V1, wait_timeout=300), ignore_errors=True),
            asserting("failing is failed", "failing.removed", "failing.operation == 'created'"),
            dump("failing"),
        ], "always": [unit_task(name, state="absent")]}]
        proc, results = run_play(lab, tmp_path, tasks)
    finally:
        admin(lab, "DELETE", f"/faults/{fault['id']}")
    assert_ok(proc)
    failing = results["failing"]
    row = next((r for r in failing["machines"] if r["active_state"] == "failed"), None)
    assert row, failing
    machine = next(m for m in lab.machines if m["id"] == row["machine_id"])
    assert f"unit '{name}' failed on machine {machine['id']} ({machine['ip']})" in failing["msg"]
    assert "/failed/" in failing["msg"] or "failed/failed" in failing["msg"]
    assert failing["elapsed"] < 300  # failed fast: did not run into the timeout
    assert fleet.unit(name) is None


def test_global_unit_waits_for_every_matching_machine(lab, fleet, tmp_path):
    name = "fmtest-global@v1.service"
    nowhere = "fmtest-nowhere@v1.service"
    web = sorted(m["id"] for m in lab.machines if m["metadata"].get("role") == "web")
    content = V1 + "\n[X-Fleet]\nGlobal=true\nMachineMetadata=role=web\n"
    tasks = [{"block": [
        unit_task(name, "global_check", check=True, content=content, wait_timeout=120),
        unit_task(name, "global_unit", content=content, wait_timeout=120),
        unit_task(name, "global_again", content=content, wait_timeout=120),
        asserting("global_check is changed", "global_unit.operation == 'created'", "global_unit.unit.global",
                  "global_unit.unit.current_state is none", "global_again is not changed",
                  "global_unit.machines | selectattr('active_state', 'eq', 'active') | list | length == global_unit.expected_machines | length"),
        dict(unit_task(nowhere, "nowhere", content=V1 + "\n[X-Fleet]\nGlobal=true\nMachineMetadata=role=nosuch\n",
                       wait_timeout=120), ignore_errors=True),
        asserting("nowhere is failed", "'no machine matches' in nowhere.msg", "nowhere.removed"),
        dump("global_unit"),
    ], "always": [unit_task(name, state="absent"), unit_task(nowhere, state="absent")]}]
    proc, results = run_play(lab, tmp_path, tasks)
    assert_ok(proc)
    assert len(web) >= 2
    assert results["global_unit"]["expected_machines"] == web
    assert sorted(r["machine_id"] for r in results["global_unit"]["machines"]) == web
    assert fleet.unit(name) is None and fleet.unit(nowhere) is None


def test_prune_keeps_versions_respects_max_remove_and_foreign_units(lab, fleet, tmp_path):
    stack = "fmprune"
    body = "[Service]\nExecStart=/bin/sleep 600\nExecStop=/bin/sh -c 'echo stopped > %p-%i.stopped'\n\n"
    units = {}
    for version in ("v1", "v2", "v3"):
        for base in (stack, f"{stack}-db"):
            units[f"{base}@{version}.service"] = body + marker_text(stack, version)
    foreign = {
        f"{stack}-manual@v1.service": body,                               # within the prefix, no marker
        "fmother@v1.service": body + marker_text("fmother", "v1"),        # another stack
        "fmsneaky@v1.service": body + marker_text(stack, "v1"),           # marker of the stack, outside the prefix
    }
    keep = [f"{stack}@v3.service", f"{stack}-db@v3.service"]
    v1 = [f"{stack}-db@v1.service", f"{stack}@v1.service"]
    everything = {**units, **foreign}
    create = [unit_task(n, content=c, wait_timeout=120) for n, c in everything.items()]
    prune = {"stack": stack, "keep": keep, "keep_versions": 1, "wait_timeout": 120}
    tasks = [{"block": create + [
        {"name": "Prune over the limit", "houston.stack.fleet_prune": dict(prune, max_remove=1), "register": "over",
         "ignore_errors": True},
        {"name": "Prune (check)", "houston.stack.fleet_prune": prune, "register": "prune_check", "check_mode": True},
        {"name": "Read after check", "houston.stack.fleet_unit_info": {"stack": stack}, "register": "info_check"},
        {"name": "Prune", "houston.stack.fleet_prune": prune, "register": "pruned"},
        {"name": "Prune again (check)", "houston.stack.fleet_prune": prune, "register": "again_check", "check_mode": True},
        {"name": "Prune again", "houston.stack.fleet_prune": prune, "register": "again"},
        {"name": "Prune with history order", "houston.stack.fleet_prune": dict(prune, keep_versions=0, history_versions=["v3", "v2"]),
         "register": "history", "check_mode": True},
        asserting("over is failed", "'max_remove=1' in over.msg", "over.would_remove | length == 2",
                  "prune_check is changed", f"prune_check.would_remove == {v1}", "prune_check.removed == []",
                  "info_check.units | length == 7",  # 6 stack units + fmsneaky (marker only)
                  f"pruned.removed == {v1}", "pruned.kept_versions == ['v2']",
                  f"'{stack}-manual@v1.service' in pruned.foreign",
                  "again_check is not changed", "again is not changed", "again.removed == []",
                  f"history.would_remove == ['{stack}-db@v2.service', '{stack}@v2.service']"),
        dump("over", "pruned"),
    ], "always": [unit_task(n, state="absent") for n in everything]}]
    admin(lab, "POST", "/stats/reset")
    proc, results = run_play(lab, tmp_path, tasks)
    assert_ok(proc)
    # The over-the-limit run touched nothing: every unit survived until the real prune.
    assert results["over"]["changed"] is False
    # The removed units were stopped through desiredState inactive, so their ExecStop ran.
    stopped = {p.name for m in lab.machines for p in Path(m["root"]).glob("fmprune*.stopped")}
    assert {"fmprune-v1.stopped", "fmprune-db-v1.stopped"} <= stopped
    for name in everything:
        assert fleet.unit(name) is None


def test_unit_info_versions_by_machine(lab, fleet, tmp_path):
    stack = "fmvbm"
    machines = {m["id"]: m["primaryIP"] for m in fleet.machines()}
    web = sorted(m["id"] for m in lab.machines if m["metadata"].get("role") == "web")
    others = sorted(set(machines) - set(web))
    assert len(web) >= 2 and others
    units = {
        f"{stack}@v1.service": V1 + f"\n[X-Fleet]\nMachineID={web[0]}\n\n" + marker_text(stack, "v1"),
        f"{stack}@v2.service": V1 + "\n[X-Fleet]\nGlobal=true\nMachineMetadata=role=web\n\n" + marker_text(stack, "v2"),
        # The archive extraction unit, on every machine: its version (the checksum) is not a version of the stack.
        f"{stack}-file-deploy@0a1b2c3d.service": V1 + "\n[X-Fleet]\nGlobal=true\n\n" + marker_text(stack, "0a1b2c3d"),
    }
    tasks = [{"block": [unit_task(n, content=c, wait_timeout=120) for n, c in units.items()] + [
        {"name": "Read the stack", "houston.stack.fleet_unit_info": {"stack": stack}, "register": "rows"},
        {"name": "Read the stack without rows", "houston.stack.fleet_unit_info": {"stack": stack, "state_rows": False},
         "register": "norows"},
        {"name": "Read by prefix", "houston.stack.fleet_unit_info": {"prefix": stack}, "register": "by_prefix"},
        asserting("rows.units | length == 3", "rows.units | selectattr('machines', 'defined') | list | length == 3",
                  "norows.units | selectattr('machines', 'defined') | list == []",
                  "norows.units | map(attribute='name') | list == rows.units | map(attribute='name') | list",
                  "norows.versions_by_machine == rows.versions_by_machine",
                  "by_prefix.versions_by_machine is not defined"),
        dump("rows"),
    ], "always": [unit_task(n, state="absent") for n in units]}]
    proc, results = run_play(lab, tmp_path, tasks)
    assert_ok(proc)
    expected = {machines[web[0]]: ["v1", "v2"], **{machines[m]: ["v2"] for m in web[1:]}}
    got = results["rows"]["versions_by_machine"]
    assert {ip: sorted(versions) for ip, versions in got.items()} == expected
    assert not set(got) & {machines[m] for m in others}
