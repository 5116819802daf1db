# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""fleet_task: documented options match the argument spec; how an outcome becomes the result (no I/O)."""

from __future__ import annotations

import types

import pytest
import yaml

from ansible_collections.houston.stack.plugins.module_utils._consul import CONSUL_ARGSPEC
from ansible_collections.houston.stack.plugins.module_utils._fleet import FLEET_ARGSPEC
from ansible_collections.houston.stack.plugins.modules import fleet_task

PARAMS = {"stack": "shop", "version": "v3", "task": "migrate", "wait_timeout": 5}
MACHINE = {"id": "ab" * 16, "ip": "10.0.0.2"}


def runner():
    module = types.SimpleNamespace(params=dict(PARAMS), check_mode=False, no_log_values=set())
    task = fleet_task.FleetTask(module, fleet=None, consul=None)
    task.unit = "shop-task-migrate-0a1b2c3d@v3.service"
    return task


def result(stdout="", timed_out=False):
    return {"machine": dict(MACHINE), "timed_out": timed_out, "stdout": stdout, "stdout_lines": stdout.splitlines()}


def test_documented_options_match_the_argument_spec():
    doc = yaml.safe_load(fleet_task.DOCUMENTATION)
    own = set(fleet_task.argument_spec()) - set(FLEET_ARGSPEC) - set(CONSUL_ARGSPEC)
    assert own == set(doc["options"])
    for name in own:
        spec, documented = fleet_task.argument_spec()[name], doc["options"][name]
        assert spec["type"] == documented["type"], name
        assert spec.get("default") == documented.get("default"), name
    assert fleet_task.argument_spec()["wait_timeout"]["default"] == 600
    assert fleet_task.argument_spec()["output_limit"]["default"] == 64 * 1024


def test_success_returns_rc_zero():
    out = runner().conclude(result("done\n"), 0, None)
    assert out["rc"] == 0


def test_failure_names_task_machine_rc_and_shows_output():
    with pytest.raises(fleet_task.TaskFailed) as e:
        runner().conclude(result("".join(f"line {i}\n" for i in range(30))), 3, None)
    msg = str(e.value)
    assert "'migrate'" in msg and MACHINE["id"] in msg and MACHINE["ip"] in msg and "rc 3" in msg
    assert "line 29" in msg and "line 9\n" not in msg  # the last 20 lines
    assert e.value.result["rc"] == 3


def test_timeout_reports_124_even_when_the_unit_stored_stopped():
    with pytest.raises(fleet_task.TaskFailed) as e:
        runner().conclude(result("started\n", timed_out=True), "stopped", None)
    assert e.value.result["rc"] == 124 and "timed out after 5s" in str(e.value)


def test_stopped_by_someone_else_is_a_failure_with_rc_minus_one():
    with pytest.raises(fleet_task.TaskFailed) as e:
        runner().conclude(result(""), "stopped", None)
    assert e.value.result["rc"] == -1 and "stopped" in str(e.value) and "no output" in str(e.value)


def test_unit_failing_before_storing_a_status():
    row = {"machine_id": MACHINE["id"], "ip": MACHINE["ip"], "load_state": "loaded", "active_state": "failed",
           "sub_state": "failed"}
    with pytest.raises(fleet_task.TaskFailed) as e:
        runner().conclude(result(""), None, row)
    assert "before it stored an exit status" in str(e.value) and "failed/failed" in str(e.value)
