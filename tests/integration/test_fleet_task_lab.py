# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""fleet_task and playbooks/task.yml against the lab: real fleetlab units, real Consul agents, real sh and curl.

Results are dumped to JSON by the play and checked here, together with what fleet and Consul hold afterwards
(the task unit and its keys must be gone whatever the outcome).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ansible_collections.houston.stack.plugins.module_utils._consul import ConsulClient
from ansible_collections.houston.stack.plugins.module_utils._fleet import FleetClient
from tests.support import lab_environment, run_playbook

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")


@pytest.fixture
def fleet(lab):
    if not lab.fleet_endpoint:
        pytest.skip("the lab runs without fleetlab")
    return FleetClient(lab.fleet_endpoint)


@pytest.fixture
def consul(lab):
    return ConsulClient(lab.consul_address)


def run_task(lab, tmp_path, check=False, name="task", **args):
    """Run one fleet_task on localhost against the lab; return (process, the registered result)."""
    dump = tmp_path / f"{name}.json"
    task_args = {"stack": "tasktest", "version": "v1", "fleet_endpoint": lab.fleet_endpoint,
                 "consul_address": lab.consul_address, "fleet_retries": 5}
    task_args.update(args)
    play = [{
        "name": name, "hosts": "localhost", "connection": "local", "gather_facts": False,
        "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"},
        "tasks": [{
            "name": "run the task",
            "block": [{"name": "fleet_task", "houston.stack.fleet_task": task_args, "register": "result",
                       "check_mode": check}],
            "always": [{"name": "dump",
                        "ansible.builtin.copy": {"content": "{{ result | to_json }}", "dest": str(dump), "mode": "0644"}}],
        }],
    }]
    path = tmp_path / f"{name}.yml"
    path.write_text(yaml.safe_dump(play, sort_keys=False), encoding="utf-8")
    env = dict(lab_environment(lab), ANSIBLE_COLLECTIONS_PATH=str(REPO / ".cache" / "collections"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
    proc = subprocess.run([str(ANSIBLE_PLAYBOOK), "-i", "localhost,", str(path)], capture_output=True, text=True, env=env,
                          timeout=600, check=False)
    result = json.loads(dump.read_text(encoding="utf-8")) if dump.exists() else {}
    return proc, result


def assert_gone(fleet, consul, result):
    """Neither the unit nor its Consul keys are left."""
    assert result["unit"].startswith("tasktest-task-")
    assert fleet.unit(result["unit"]) is None
    assert fleet.state(unit_name=result["unit"]) == []
    assert consul.kv_keys(result["key_prefix"]) == []


def machine_by_ip(lab, ip):
    return next(m for m in lab.machines if m["ip"] == ip)


def test_task_succeeds_output_captured_and_cleaned(lab, tmp_path, fleet, consul):
    proc, result = run_task(lab, tmp_path, task="hello",
                            command='echo "hello $HOUSTON_STACK $HOUSTON_VERSION $GREETING"; echo to-stderr >&2; exit 0',
                            environment={"GREETING": "from the 'lab' 100%"})
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert result["rc"] == 0 and not result["timed_out"]
    assert result["stdout_lines"] == ["hello tasktest v1 from the 'lab' 100%", "to-stderr"]
    assert result["machine"]["id"] in [m["id"] for m in lab.machines]
    assert result["machine"]["ip"] == next(m["ip"] for m in lab.machines if m["id"] == result["machine"]["id"])
    assert "[X-Houston]" in result["unit_content"] and "Task=hello" in result["unit_content"]
    assert_gone(fleet, consul, result)


def test_argv_runs_each_word_as_one_argument(lab, tmp_path, fleet, consul):
    proc, result = run_task(lab, tmp_path, task="argv", argv=["printf", "<%s>\n", "two words", "$HOME", "it's"])
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert result["stdout_lines"] == ["<two words>", "<$HOME>", "<it's>"]
    assert_gone(fleet, consul, result)


def test_failing_task_fails_with_rc_and_output(lab, tmp_path, fleet, consul):
    proc, result = run_task(lab, tmp_path, task="broken", command="echo 'migration 0042 failed: no such table'; exit 3")
    assert proc.returncode != 0
    assert result["failed"] and result["rc"] == 3
    assert result["stdout_lines"] == ["migration 0042 failed: no such table"]
    assert "'broken'" in result["msg"] and "rc 3" in result["msg"] and result["machine"]["id"] in result["msg"]
    assert "no such table" in result["msg"]
    assert_gone(fleet, consul, result)


def test_task_times_out_with_rc_124_and_is_stopped(lab, tmp_path, fleet, consul):
    proc, result = run_task(lab, tmp_path, task="slow", command="echo started; sleep 300; echo never", wait_timeout=3)
    assert proc.returncode != 0
    assert result["timed_out"] is True and result["rc"] == 124
    assert "timed out" in result["msg"] and "rc 124" in result["msg"]
    assert result["stdout_lines"] == ["started"]
    assert_gone(fleet, consul, result)
    # the sleep was stopped with the unit: no process of the unit is left on the lab host
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    assert result["unit"] not in ps


def test_machine_chosen_by_metadata(lab, tmp_path, fleet, consul):
    wanted = [m for m in lab.machines if m["metadata"].get("role") == "worker"]
    assert wanted, "the lab has a worker machine"
    proc, result = run_task(lab, tmp_path, task="meta", command="echo $COREOS_PRIVATE_IPV4", metadata={"role": "worker"})
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert result["machine"]["id"] in [m["id"] for m in wanted]
    assert result["stdout_lines"] == [result["machine"]["ip"]]
    assert result["candidate_machines"] == sorted(m["id"] for m in wanted)


def test_machine_chosen_by_short_id(lab, tmp_path, fleet, consul):
    target = lab.machines[1]
    proc, result = run_task(lab, tmp_path, task="byid", command="echo $FLEETLAB_MACHINE_ID", machine_id=target["id"][:10])
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert result["machine"] == {"id": target["id"], "ip": target["ip"]}
    assert result["stdout_lines"] == [target["id"]]
    assert f"MachineID={target['id']}" in result["unit_content"]


def test_no_matching_machine_runs_nothing(lab, tmp_path, fleet):
    proc, result = run_task(lab, tmp_path, task="nowhere", command="true", metadata={"role": "nosuchrole"})
    assert proc.returncode != 0
    assert "no fleet machine matches" in result["msg"] and result["changed"] is False
    assert not [u for u in fleet.units() if u["name"].startswith("tasktest-task-nowhere-")]


def test_output_is_bounded_to_the_last_bytes(lab, tmp_path, fleet, consul):
    command = "i=0; while [ $i -lt 3000 ]; do echo line-$i; i=$((i+1)); done"
    proc, result = run_task(lab, tmp_path, task="chatty", command=command, output_limit=1000)
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert len(result["stdout"].encode()) == 1000
    assert result["stdout"].endswith("line-2999\n")
    assert "line-0\n" not in result["stdout"]
    assert_gone(fleet, consul, result)


def test_check_mode_runs_nothing(lab, tmp_path, fleet):
    root = Path(lab.machines[0]["root"])
    marker = root / "check-mode-ran"
    proc, result = run_task(lab, tmp_path, check=True, task="check", command=f"touch {marker}", machine_id=lab.machines[0]["id"])
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert result["changed"] is True and "rc" not in result
    assert "ExecStart=" in result["unit_content"] and result["machine"]["id"] == lab.machines[0]["id"]
    assert fleet.unit(result["unit"]) is None
    assert not marker.exists()


def test_consul_token_never_in_the_unit(lab, tmp_path, fleet, consul):
    """The token file on the machine is used by the unit at run time, the module's token is only sent to Consul by the
    module: the task reads its own unit from fleet while it runs and prints it; neither token may be there."""
    target = lab.machines[0]
    token_file = Path(target["root"]) / "etc" / "houston" / "consul-token"
    token_file.parent.mkdir(parents=True, exist_ok=True)
    token_file.write_text("file-token-6f1c2d\n", encoding="utf-8")
    try:
        command = 'curl -fsS "$FLEET_URL/fleet/v1/units/$HOUSTON_TASK_UNIT"'
        proc, result = run_task(lab, tmp_path, task="token", command=command, machine_id=target["id"],
                                environment={"FLEET_URL": lab.fleetlab_url}, consul_token="module-token-93ab7e")
    finally:
        token_file.unlink()
    assert proc.returncode == 0, proc.stdout[-4000:]
    unit = json.loads(result["stdout"])
    text = json.dumps(unit)
    assert unit["name"] == result["unit"] and "HOUSTON_TASK_TOKEN_FILE=/etc/houston/consul-token" in text
    for secret in ("file-token-6f1c2d", "module-token-93ab7e", "********"):
        assert secret not in text and secret not in result["unit_content"]
    assert_gone(fleet, consul, result)


def test_task_playbook_from_stack_definition(lab, tmp_path, fleet, consul):
    inventory = {"all": {"hosts": {"localhost": {"ansible_connection": "local"}}, "vars": {
        "houston_fleet_endpoint": lab.fleet_endpoint, "houston_consul_address": lab.consul_address,
        "houston_services": {"tasktest": {"units": [], "tasks": {
            "migrate": {"command": "echo migrating $HOUSTON_VERSION with $DB_NAME", "metadata": {"role": "worker"},
                        "environment": {"DB_NAME": "exampledb"}, "timeout": 60},
            "broken": {"command": "echo cannot migrate; exit 4"},
        }}},
    }}}
    env = lab_environment(lab)
    rc, out, err, recap = run_playbook("houston.stack.task", inventory=inventory, env=env,
                                       extra_vars={"stack": "tasktest", "version": "v7", "task": "migrate"})
    assert rc == 0, out[-4000:] + err[-2000:]
    assert "migrating v7 with exampledb" in out
    assert recap["localhost"]["failed"] == 0
    rc, out, err, recap = run_playbook("houston.stack.task", inventory=inventory, env=env,
                                       extra_vars={"stack": "tasktest", "version": "v7", "task": "broken"})
    assert rc != 0 and "cannot migrate" in out and "rc 4" in out
    rc, out, err, recap = run_playbook("houston.stack.task", inventory=inventory, env=env,
                                       extra_vars={"stack": "tasktest", "version": "v7", "task": "adhoc",
                                                   "command": "echo ad hoc"})
    assert rc == 0 and "ad hoc" in out, out[-4000:]
    consul.kv_put("houston/tasktest/current", "v9")
    try:
        rc, out, err, recap = run_playbook("houston.stack.task", inventory=inventory, env=env,
                                           extra_vars={"stack": "tasktest", "task": "migrate"})
    finally:
        consul.kv_delete("houston/tasktest/current")
    assert rc == 0 and "migrating v9 with exampledb" in out, out[-4000:]
    rc, out, err, recap = run_playbook("houston.stack.task", inventory=inventory, env=env,
                                       extra_vars={"stack": "tasktest", "version": "v7", "task": "undefined"})
    assert rc != 0 and "undefined" in out and "migrate" in out
    assert not [u for u in fleet.units() if u["name"].startswith("tasktest-task-")]
    assert consul.kv_keys("houston/tasktest/tasks/") == []
