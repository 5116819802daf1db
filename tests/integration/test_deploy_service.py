# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The example service stack on the lab, end to end: check mode, deploy, idempotence, content-aware redeploy,
upgrade with and without kept versions, rollback, failure semantics, the lock, bad inputs and removal.

The tests of this module run in order and build on each other (each deploy takes tens of seconds).
Run: .venv/bin/pytest tests/integration/test_deploy_service.py -x
"""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.stack_helpers import (
    app_get, deploy, fleet_units, fleetlab_admin, kv_json, lock_session, passing_instances, report, web_machine_ips,
)

STACK = "example"


def units_of_version(lab, version):
    return {name: rows for name, rows in fleet_units(lab, STACK).items() if f"@{version}." in name}


def assert_running(lab, version):
    """Every unit of ``version`` active on the web machines, and the service passing there in Consul."""
    web = web_machine_ips(lab)
    units = units_of_version(lab, version)
    assert sorted(units) == sorted(f"{STACK}{suffix}@{version}.service" for suffix in ("-cache", "-web", "-kv-render", ""))
    for name, rows in units.items():
        assert rows == [(ip, "active") for ip in web], name
    assert [address for address, _tags in passing_instances(lab, STACK, tag=version)] == web


def test_check_mode_changes_nothing(lab):
    rc, out, err, recap = deploy(lab, check=True, version="v1")
    assert rc == 0, out + err
    assert recap["changed"] > 0  # it predicts the deploy
    assert report(out)["check_mode"] is True
    assert fleet_units(lab, STACK) == {}
    assert kv_json(lab, f"houston/{STACK}/history") is None
    assert lock_session(lab, STACK) is None


def test_deploy_v1_passing_in_consul_and_fleet(lab):
    rc, out, err, recap = deploy(lab, version="v1")
    assert rc == 0, out + err
    assert_running(lab, "v1")
    deployed = report(out)
    assert deployed["version"] == "v1"
    assert sorted(deployed["versions_by_machine"]) == web_machine_ips(lab)
    assert kv_json(lab, f"houston/{STACK}/current") in ("v1", '"v1"')
    assert lock_session(lab, STACK) is None
    machine = next(m for m in lab.machines if m["ip"] == web_machine_ips(lab)[0])
    served = app_get(machine["ip"], Path(machine["root"], "run", f"{STACK}@v1.port"))
    assert served["version"] == "v1" and served["cache"] is True
    assert served["config"] == "Hello from the lab"


def test_second_run_changes_nothing(lab):
    rc, out, err, recap = deploy(lab, version="v1")
    assert rc == 0, out + err
    assert recap["changed"] == 0, out
    assert report(out)["deployed"] is False
    assert_running(lab, "v1")


def test_check_mode_after_deploy_predicts_no_change(lab):
    rc, out, err, recap = deploy(lab, check=True, version="v1")
    assert rc == 0, out + err
    assert recap["changed"] == 0, out


def test_changed_variable_redeploys_only_affected_units(lab):
    # motd_default is used by the kv-render unit only: it is replaced and the service, which requires it,
    # restarted; the archive, cache and web units are left alone.
    variables = {"placement": "role=web", "motd_key": "example/motd", "motd_default": "changed welcome",
                 "greeting": "Hello from the lab"}
    before = fleet_units(lab, STACK)
    rc, out, err, recap = deploy(lab, version="v1", houston_variables=variables)
    assert rc == 0, out + err
    changes = {c["name"]: c["action"] for c in report(out)["changes"]}
    assert changes == {f"{STACK}-kv-render@v1.service": "replace", f"{STACK}@v1.service": "restart"}
    assert sorted(fleet_units(lab, STACK)) == sorted(before)
    assert_running(lab, "v1")
    rc, out, err, recap = deploy(lab, version="v1", houston_variables=variables)
    assert rc == 0 and recap["changed"] == 0, out + err


def test_upgrade_keeping_one_version_then_pruning_it(lab):
    rc, out, err, recap = deploy(lab, version="v2", service_stack_keep_versions=1)
    assert rc == 0, out + err
    assert_running(lab, "v2")
    assert units_of_version(lab, "v1"), "keep_versions=1 keeps v1 for rollback"
    rc, out, err, recap = deploy(lab, version="v3", service_stack_keep_versions=1)
    assert rc == 0, out + err
    assert_running(lab, "v3")
    assert units_of_version(lab, "v2"), "v2 is the kept previous version"
    assert units_of_version(lab, "v1") == {}, "v1 is pruned"
    assert passing_instances(lab, STACK, tag="v1") == []  # deregistered by ExecStop
    assert sorted(report(out)["pruned"]) == sorted(f"{STACK}{s}@v1.service" for s in ("-cache", "-web", "-kv-render", ""))


def test_rollback_to_previous_version(lab):
    rc, out, err, recap = deploy(lab, "houston.stack.rollback")
    assert rc == 0, out + err
    assert report(out)["version"] == "v2"
    assert_running(lab, "v2")
    assert units_of_version(lab, "v3") == {}, "keep_versions=0 (the example's) prunes v3"
    assert kv_json(lab, f"houston/{STACK}/current") in ("v2", '"v2"')


def test_failed_dependency_leaves_previous_version_serving(lab):
    web = web_machine_ips(lab)
    machine = next(m for m in lab.machines if m["ip"] == web[1])
    fault = fleetlab_admin(lab, "POST", "faults", {"kind": "unit_fail", "unit": f"{STACK}-web@v4.service",
                                                   "machine": machine["id"]})
    try:
        rc, out, err, recap = deploy(lab, version="v4")
    finally:
        fleetlab_admin(lab, "DELETE", f"faults/{fault['id']}")
    assert rc != 0
    message = out + err
    assert f"{STACK}-web@v4.service" in message and machine["id"] in message and "failed" in message
    assert units_of_version(lab, "v4") == {}, "the units this run created are removed"
    assert_running(lab, "v2")  # nothing pruned, previous version still serving
    assert lock_session(lab, STACK) is None
    history = kv_json(lab, f"houston/{STACK}/history")
    assert history[0]["version"] == "v4" and history[0]["result"] == "failed"
    assert kv_json(lab, f"houston/{STACK}/current") in ("v2", '"v2"')


def test_concurrent_deploy_waits_then_fails_naming_the_holder(lab):
    holder = {"user": "other-deployer", "job": "4711"}
    rc, out, err, _recap = deploy(lab, str(Path(__file__).parent / "files" / "hold_lock.yml"),
                                  lock_stack=STACK, lock_holder=holder)
    assert rc == 0, out + err
    try:
        rc, out, err, recap = deploy(lab, version="v5", houston_lock_timeout=3)
        assert rc != 0
        assert "other-deployer" in out + err
        assert units_of_version(lab, "v5") == {}
        assert_running(lab, "v2")
    finally:
        rc, out, err, _recap = deploy(lab, str(Path(__file__).parent / "files" / "hold_lock.yml"),
                                      lock_stack=STACK, lock_state="released")
        assert rc == 0, out + err
    assert lock_session(lab, STACK) is None


@pytest.mark.parametrize("extra, field", [
    ({"version": "v1/../x"}, "version"),
    ({"version": "v 1"}, "version"),
    ({"stack": "nosuchstack", "version": "v1"}, "nosuchstack"),
    ({"version": "v9", "houston_services": {STACK: {"units": ["bad name!"]}}}, "units[0]"),
    ({"version": "v9", "houston_services": {STACK: {"units": [], "files": [{"content": "x"}]}}}, "path"),
])
def test_bad_inputs_are_rejected_with_nothing_touched(lab, extra, field):
    before = fleet_units(lab, STACK)
    history = kv_json(lab, f"houston/{STACK}/history")
    rc, out, err, recap = deploy(lab, **extra)
    assert rc != 0
    assert field in out + err
    assert recap.get("changed", 0) == 0
    assert fleet_units(lab, STACK) == before
    assert kv_json(lab, f"houston/{STACK}/history") == history


def test_remove_tears_the_stack_down(lab):
    rc, out, err, recap = deploy(lab, "houston.stack.remove")
    assert rc == 0, out + err
    assert fleet_units(lab, STACK) == {}
    assert passing_instances(lab, STACK) == []
    rc, out, err, recap = deploy(lab, "houston.stack.remove")
    assert rc == 0 and recap["changed"] == 0, out + err
