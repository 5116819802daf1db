# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""houston.stack.stack_plan driven through real ansible-playbook runs against the lab: the connection settings come
from the play's module defaults (action groups), the plan reads only, follows what fleet runs, and a Consul that does
not answer fails the plan naming the step."""

from __future__ import annotations

from tests.integration.test_fleet_modules import assert_ok, dump, run_play

UNIT = "[Unit]\nDescription=stack_plan test {name}\n\n[Service]\nExecStart=/bin/sleep 600\n"


def rendered(stack, version):
    return [{"unit": name, "version": version, "fleet_name": f"{stack}-{name}@{version}.service",
             "text": UNIT.format(name=name)} for name in ("db", "app")]


def plan_task(stack, version, consul_address, register="planned", **options):
    return {
        "name": f"Plan stack {stack}", "register": register,
        "module_defaults": {"group/houston.stack.consul": {"consul_address": consul_address}},
        "houston.stack.stack_plan": {"stack": stack, "kind": "standalone", "version": version,
                                     "units": rendered(stack, version), **options},
    }


def test_plan_reads_only_and_follows_what_fleet_runs(lab, tmp_path):
    stack = "planlab"
    cleanup = {"name": "Remove the units", "houston.stack.fleet_unit": {"name": "{{ item }}", "state": "absent"},
               "loop": [f"{stack}-db@v1.service", f"{stack}-app@v1.service"]}
    launch = {"name": "Launch the chain the plan computed", "houston.stack.fleet_chain": {"units": (
        "{{ cold.final | items2dict(key_name='fleet_name', value_name='content')"
        " | dict2items(key_name='name', value_name='content') }}")}}
    tasks = [{"block": [
        plan_task(stack, "v1", lab.consul_address, register="cold"),
        launch,
        plan_task(stack, "v1", lab.consul_address, register="again"),
        dict(plan_task(stack, "v2", lab.consul_address, register="upgrade"), check_mode=True),
        {"name": "Read the units after the plans", "houston.stack.fleet_unit_info": {"prefix": stack}, "register": "after"},
        dump("cold", "again", "upgrade", "after"),
    ], "always": [cleanup]}]
    proc, results = run_play(lab, tmp_path, tasks, name="stack-plan")
    assert_ok(proc)
    cold, again, upgrade = results["cold"], results["again"], results["upgrade"]

    # Nothing runs yet: every unit is created; the lock was looked at (free), the units chained.
    assert cold["changed"] is False and cold["needed"] is True
    assert [step["action"] for step in cold["plan"]] == ["create", "create"]
    assert cold["lock"]["held"] is False
    assert f"Requires={stack}-db@v1.service" in cold["final"][1]["content"]
    assert "[X-Houston]" in cold["final"][0]["content"]
    # The plan itself wrote nothing: the launch task created both units.
    assert cold["fleet_units"]["units"] == []

    # Once fleet runs the chain: nothing to launch. The history still names no version, so a deploy would record it.
    assert [step["action"] for step in again["plan"]] == ["keep", "keep"]
    assert again["changes"] == [] and again["history"]["current"] is None and again["needed"] is True

    # Another version: new units created, the running ones pruned (keep_versions 1 keeps no successful deploy here).
    assert [step["action"] for step in upgrade["plan"]] == ["create", "create"]
    assert sorted(upgrade["prune"]["would_remove"]) == [f"{stack}-app@v1.service", f"{stack}-db@v1.service"]
    # Predicted only: both units are still there.
    assert sorted(unit["name"] for unit in results["after"]["units"]) == [f"{stack}-app@v1.service", f"{stack}-db@v1.service"]


def test_plan_fails_naming_the_step_when_consul_does_not_answer(lab, tmp_path):
    tasks = [plan_task("planfail", "v1", "127.0.0.1:9", register="failed_plan") | {"ignore_errors": True},
             dump("failed_plan")]
    proc, results = run_play(lab, tmp_path, tasks, name="stack-plan-fail")
    assert_ok(proc)
    failed = results["failed_plan"]
    assert failed["failed"] is True
    assert failed["msg"].startswith("plan of stack planfail, looking at the deploy lock (houston.stack.consul_lock): ")
    assert "127.0.0.1:9" in failed["msg"]
