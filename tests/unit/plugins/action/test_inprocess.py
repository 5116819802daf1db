# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The collection's action plugins run their module in the task worker (here: the test process) on a local
connection, with the result AnsiballZ would give, and fall back to AnsiballZ when told to.

The fleet modules talk to a real fleetlab (virtual runtime) on a unix socket; the Consul module used for the
no_log checks fails to connect before any answer, which is what makes the token appear in its message.
"""
from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from ansible.module_utils import _internal
from ansible.parsing.dataloader import DataLoader
from ansible.playbook.play_context import PlayContext
from ansible.playbook.task import Task
from ansible.plugins import loader as plugin_loader
from ansible.template import Templar, trust_as_template

from ansible_collections.houston.stack.plugins.plugin_utils._inprocess import IN_PROCESS_ENV, in_process_refusal

REPO = Path(__file__).resolve().parents[4]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from lab.fleetlab import Machine, start_fleetlab  # noqa: E402  pylint: disable=wrong-import-position

LAB_NET = os.environ.get("TEST_LAB_NET", "127.0.200")
UNIT = "inproc-web@v1.service"
CONTENT = "[Unit]\nDescription=in-process test\n\n[Service]\nExecStart=/bin/sleep 1000\n\n[X-Fleet]\nMachineMetadata=role=web\n"
TOKEN = "tok-5e11ae6b-d0c3-4d1e-a7c5-8f0f2b1c3d44"


def make_action(module, args, check=False, diff=False, no_log=False, task_vars=None):
    """The houston.stack action plugin of ``module`` for a task on localhost over the local connection,
    as ansible's TaskExecutor builds it; returns (action, task_vars)."""
    task = Task()
    task.action = f"houston.stack.{module}"
    task.args = dict(args)
    task.check_mode = check
    task.diff = diff
    task.no_log = no_log
    play_context = PlayContext()
    play_context.remote_addr = "localhost"
    connection = plugin_loader.connection_loader.get("local", play_context, None)
    connection.set_options()
    connection._shell.set_options()
    variables = {"ansible_python_interpreter": sys.executable, "ansible_playbook_python": sys.executable,
                 "inventory_hostname": "localhost", "ansible_connection": "local"}
    variables.update(task_vars or {})
    loader = DataLoader()
    plugin = importlib.import_module(f"ansible_collections.houston.stack.plugins.action.{module}")
    action = plugin.ActionModule(task=task, connection=connection, play_context=play_context, loader=loader,
                                 templar=Templar(loader=loader, variables=variables), shared_loader_obj=plugin_loader)
    return action, variables


def run(module, args, **kwargs):
    action, variables = make_action(module, args, **kwargs)
    result = action.run(task_vars=variables)
    return action, result


@pytest.fixture
def fleet(tmp_path):
    ip = f"{LAB_NET}.31"
    machine = Machine(id="%032x" % 0x1A2B, ip=ip, metadata={"role": "web"}, root=str(tmp_path / "m1"),
                      consul=f"{ip}:8500")
    server = start_fleetlab([machine], host="127.0.0.1", port=0, socket_path=str(tmp_path / "fleet.sock"),
                            state_dir=str(tmp_path / "state"), latency=0.01, process=False)
    try:
        yield f"unix://{tmp_path / 'fleet.sock'}"
    finally:
        server.stop()


def fleet_args(endpoint, **more):
    return dict(fleet_endpoint=endpoint, name=UNIT, content=CONTENT, **more)


def test_result_of_a_launch_in_process(fleet):
    action, result = run("fleet_unit", fleet_args(fleet))
    assert action._used_interpreter is None  # no AnsiballZ payload was built or run
    assert result["changed"] is True and not result.get("failed"), result
    assert result["operation"] == "created"
    assert result["unit"]["name"] == UNIT and result["unit"]["current_state"] == "launched"
    assert [m["active_state"] for m in result["machines"]] == ["active"]
    assert result["invocation"]["module_args"]["name"] == UNIT
    assert "_ansible_check_mode" not in result and "_ansible_suppress_tmpdir_delete" not in result
    again = run("fleet_unit", fleet_args(fleet))[1]
    assert again["changed"] is False and again["operation"] == "none"


def test_check_mode_predicts_and_changes_nothing(fleet):
    result = run("fleet_unit", fleet_args(fleet), check=True)[1]
    assert result["changed"] is True and result["operation"] == "created"
    info = run("fleet_unit_info", dict(fleet_endpoint=fleet))[1]
    assert info["units"] == [] or UNIT not in [u["name"] for u in info["units"]], info


def test_diff_mode_returns_the_unit_file_diff(fleet):
    without = run("fleet_unit", fleet_args(fleet), check=True)[1]
    assert "diff" not in without
    result = run("fleet_unit", fleet_args(fleet), check=True, diff=True)[1]
    diff = result["diff"]
    text = diff if isinstance(diff, str) else str(diff)
    assert "ExecStart=/bin/sleep 1000" in text, diff


def test_failure_message_names_the_operation_and_the_endpoint(tmp_path):
    missing = tmp_path / "nothing.sock"
    result = run("fleet_unit_info", dict(fleet_endpoint=f"unix://{missing}", fleet_retries=0))[1]
    assert result["failed"] is True
    assert str(missing) in result["msg"], result["msg"]


def test_module_errors_in_arguments_fail_like_ansiballz(fleet):
    result = run("fleet_unit", dict(fleet_endpoint=fleet, name=UNIT, content=CONTENT, options=[]))[1]
    assert result["failed"] is True
    assert "mutually exclusive" in result["msg"], result["msg"]


def test_no_log_token_is_masked_in_the_result():
    # The stack is named like the token, so the failure message (which names the stack) carries it: the
    # module's no_log handling must mask it there as well as in the invocation.
    args = dict(stack=TOKEN, consul_address="127.0.0.1:9", consul_token=TOKEN, consul_timeout=2)
    result = run("consul_history_info", args)[1]
    assert result["failed"] is True
    assert TOKEN not in repr(result), result
    assert "********" in result["msg"]
    assert result["invocation"]["module_args"]["consul_token"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


def test_process_state_is_restored_after_a_run(fleet):
    environ, cwd, opener = dict(os.environ), os.getcwd(), urllib.request._opener
    controller, stdout = _internal.is_controller, sys.stdout
    action, _result = run("fleet_unit_info", dict(fleet_endpoint=fleet))
    assert action._used_interpreter is None
    assert dict(os.environ) == environ and os.getcwd() == cwd
    assert urllib.request._opener is opener  # open_url installed a unix-socket opener during the run
    assert _internal.is_controller is controller and sys.stdout is stdout


def test_consecutive_runs_with_different_endpoints(fleet, tmp_path):
    first = run("fleet_unit_info", dict(fleet_endpoint=fleet))[1]
    assert not first.get("failed"), first
    missing = run("fleet_unit_info", dict(fleet_endpoint=f"unix://{tmp_path / 'other.sock'}", fleet_retries=0))[1]
    assert missing["failed"] is True and "other.sock" in missing["msg"]
    again = run("fleet_unit_info", dict(fleet_endpoint=fleet))[1]
    assert not again.get("failed") and again["machines"] == first["machines"]


def test_refusals():
    action, variables = make_action("fleet_unit_info", {})
    assert in_process_refusal(action, variables) is None
    action, variables = make_action("fleet_unit_info", {}, task_vars={"ansible_python_interpreter": "/usr/bin/python3"})
    assert "interpreter" in in_process_refusal(action, variables)
    action, variables = make_action("fleet_unit_info", {}, task_vars={"ansible_python_interpreter": trust_as_template("{{ ansible_playbook_python }}")})
    assert in_process_refusal(action, variables) is None


def adhoc(module, args, in_process, verbosity=3):
    """``ansible localhost -m houston.stack.<module>`` on the local connection: (result, -v output)."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / ".cache" / "collections"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_CALLBACK_RESULT_FORMAT="json")
    env[IN_PROCESS_ENV] = "1" if in_process else "0"
    cmd = [str(Path(sys.executable).parent / "ansible"), "localhost", "-i", "localhost,", "-c", "local",
           "-e", f"ansible_python_interpreter={sys.executable}", "-m", f"houston.stack.{module}", "-a", json.dumps(args),
           "-" + "v" * verbosity]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=False)
    start = proc.stdout.index("{", proc.stdout.index("localhost | "))  # the minimal callback: host | STATUS => {...}
    return json.JSONDecoder().raw_decode(proc.stdout[start:])[0], proc.stdout + proc.stderr


def test_fallback_to_ansiballz_when_disabled(fleet):
    in_process, output = adhoc("fleet_unit_info", dict(fleet_endpoint=fleet), in_process=True)
    assert "in-process" in output and "AnsiballZ_fleet_unit_info" not in output
    through_ansiballz, output = adhoc("fleet_unit_info", dict(fleet_endpoint=fleet), in_process=False)
    assert "in-process" not in output and "AnsiballZ_fleet_unit_info" in output
    assert through_ansiballz == in_process
