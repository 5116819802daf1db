# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Instances of a service (stack_instances), their place in the unit chain, and rolling batches (stack_roll_plan)."""
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.houston.stack.plugins.filter import stack as f
from ansible_collections.houston.stack.plugins.module_utils import _naming, _unitfile

SERVICE = {"unit": "api", "version": "v2", "fleet_name": "api@v2.service", "service": True,
           "text": "[Unit]\nDescription=API\n\n[Service]\nExecStart=/bin/api\n\n[X-Fleet]\nMachineMetadata=role=app\n"}
GLOBAL = dict(SERVICE, text=SERVICE["text"] + "Global=true\n")
MACHINES = [{"id": "a" * 32, "ip": "10.0.0.1", "metadata": {"role": "app"}},
            {"id": "b" * 32, "ip": "10.0.0.2", "metadata": {"role": "db"}},
            {"id": "c" * 32, "ip": "10.0.0.3", "metadata": {"role": "app"}}]


def xfleet(text):
    return _unitfile.xfleet_values(_unitfile.parse(text))


def test_instances_are_named_validly_and_conflict_within_their_version():
    units = f.stack_instances(SERVICE, "api", "v2", count=3)
    assert [u["fleet_name"] for u in units] == [f"api-instance-{i}@v2.service" for i in (1, 2, 3)]
    for unit in units:
        _naming.validate_unit(unit["fleet_name"].split("@")[0][len("api-"):])
        assert _naming.belongs_to_stack(unit["fleet_name"], "api")
        assert xfleet(unit["text"])["Conflicts"] == ["api-instance-*@v2.service"]
        assert xfleet(unit["text"])["MachineMetadata"] == ["role=app"]


def test_instances_require_the_unit_before_them_never_each_other_and_carry_the_instance_marker():
    chain = f.stack_chain([{"fleet_name": "api-cache@v2.service", "version": "v2", "text": "[Service]\nExecStart=/bin/c\n"}]
                          + f.stack_instances(SERVICE, "api", "v2", count=2), "api")
    for unit in chain[1:]:
        assert "Requires=api-cache@v2.service" in unit["content"]
        assert "Requires=api-instance" not in unit["content"]
        options = _unitfile.parse(unit["content"])
        assert _naming.is_owned(options, "api")
        assert {"section": "X-Houston", "name": "Instance", "value": unit["instance"]} in options


def test_per_machine_units_are_pinned_to_the_machines_the_global_unit_selects():
    units = f.stack_instances(GLOBAL, "api", "v2", machines=MACHINES)
    assert [u["fleet_name"] for u in units] == ["api-machine-aaaaaaaa@v2.service", "api-machine-cccccccc@v2.service"]
    for unit, machine in zip(units, (MACHINES[0], MACHINES[2])):
        values = xfleet(unit["text"])
        assert values["MachineID"] == [machine["id"]] and "Global" not in values
        _unitfile.validate(_unitfile.parse(unit["text"]))


@pytest.mark.parametrize("entry, kwargs, message", [
    (GLOBAL, {"count": 2}, "non-global"),
    (SERVICE, {"machines": MACHINES}, "global service unit"),
    (SERVICE, {"count": 0}, "at least 1"),
    (SERVICE, {"count": 2, "taken": ["api-instance-1@1.0.service"]}, "reserved"),
    (dict(GLOBAL, text=GLOBAL["text"].replace("role=app", "role=none")), {"machines": MACHINES}, "no fleet machine"),
])
def test_bad_instance_settings_are_refused(entry, kwargs, message):
    with pytest.raises(AnsibleFilterError, match=message):
        f.stack_instances(entry, "api", "v2", **kwargs)


def old_unit(name, version, state="launched", stack="api"):
    return {"name": name, "desired_state": state, "options": [{"section": "Service", "name": "ExecStart", "value": "/x"}],
            "marker": {"stack": stack, "version": version, "owner": "houston.stack"}, "machines": []}


def test_roll_plan_pairs_new_and_old_instances_in_batches():
    new = f.stack_instances(SERVICE, "api", "v2", count=3)
    fleet_units = [old_unit(f"api-instance-{i}@v1.service", "v1") for i in (1, 2, 3, 4)]
    fleet_units += [old_unit("api-instance-5@v0.service", "v0", state="loaded"),   # stopped: not rolled
                    old_unit("api-instance-9@v1.service", "v1", stack="other"),    # another stack's marker
                    old_unit("api@v1.service", "v1")]                              # not an instance
    plan = f.stack_roll_plan(new, fleet_units, "api", "v2", batch_size=2)
    assert plan["rolling"] is True
    assert [(b["index"], b["count"], b["new"], [o["name"] for o in b["old"]]) for b in plan["batches"]] == [
        (1, 2, ["api-instance-1@v2.service", "api-instance-2@v2.service"], ["api-instance-1@v1.service", "api-instance-2@v1.service"]),
        (2, 2, ["api-instance-3@v2.service"], ["api-instance-3@v1.service"])]
    assert [o["name"] for o in plan["leftover"]] == ["api-instance-4@v1.service"]
    assert plan["old_versions"] == ["v1"]
    assert plan["batches"][0]["old"][0]["options"] == fleet_units[0]["options"]


def test_first_deploy_is_one_batch_and_in_place_replacement_rolls():
    new = f.stack_instances(SERVICE, "api", "v2", count=3)
    first = f.stack_roll_plan(new, [], "api", "v2", batch_size=1)
    assert first["rolling"] is False and len(first["batches"]) == 1 and len(first["batches"][0]["new"]) == 3
    in_place = f.stack_roll_plan(new, [], "api", "v2", batch_size=1, operations={"api-instance-2@v2.service": "replaced"})
    assert in_place["rolling"] is True and len(in_place["batches"]) == 3


def test_applied_results_keep_name_operation_and_ips():
    results = [{"stack_deploy_new": {"fleet_name": "api-instance-1@v2.service", "service": True, "instance": "1"},
                "operation": "created", "machines": [{"ip": "10.0.0.1"}], "elapsed": 1.5},
               {"stack_deploy_new": {"fleet_name": "x"}, "skipped": True}]
    assert f.stack_applied(results, "stack_deploy_new") == [
        {"name": "api-instance-1@v2.service", "operation": "created", "service": True, "instance": "1",
         "ips": ["10.0.0.1"], "elapsed": 1.5}]


def test_applied_chain_units_keep_the_chain_ips_without_rows():
    units = [{"name": "web@v1.service", "operation": "created", "ips": ["10.0.0.2", "10.0.0.3"], "elapsed": 0.4}]
    assert f.stack_applied(units, units=[{"fleet_name": "web@v1.service", "service": True}]) == [
        {"name": "web@v1.service", "operation": "created", "service": True, "instance": None,
         "ips": ["10.0.0.2", "10.0.0.3"], "elapsed": 0.4}]
