# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A Houston user points the playbooks at the configuration directory they already have
(-e houston_config_dir=DIR -e houston_environment=ENV) and the stack deploys from it unchanged.
Run: .venv/bin/pytest tests/integration/test_houston_import_deploy.py
"""
from __future__ import annotations

from tests.integration.stack_helpers import fleet_units, passing_instances
from tests.support import REPO_ROOT, lab_environment, run_playbook

HOUSTON_DIR = REPO_ROOT / "bench" / "houston-example"


def houston_deploy(lab, playbook="houston.stack.deploy", check=False, **extra_vars):
    variables = {
        "houston_config_dir": str(HOUSTON_DIR),
        "houston_environment": "lab",
        # extra vars win over the directory's endpoints: point the run at this lab
        "houston_fleet_endpoint": lab.fleet_endpoint,
        "houston_consul_address": lab.consul_address,
    }
    variables.update(extra_vars)
    rc, out, err, recap = run_playbook(playbook, extra_vars=variables, env=lab_environment(lab), check=check)
    return rc, out + err, recap.get("localhost", {})


def test_a_houston_directory_deploys_unchanged(lab):
    rc, out, recap = houston_deploy(lab, stack="example", version="h1", check=True)
    assert rc == 0, out
    assert recap["changed"] > 0 and not fleet_units(lab, "example"), "check mode must predict and touch nothing"

    rc, out, recap = houston_deploy(lab, stack="example", version="h1")
    assert rc == 0, out
    units = fleet_units(lab, "example")
    assert "example@h1.service" in units, sorted(units)
    assert all(state == "active" for rows in units.values() for _ip, state in rows), units
    assert [tags for _address, tags in passing_instances(lab, "example", tag="h1")], "service not passing in Consul"

    rc, out, recap = houston_deploy(lab, stack="example", version="h1")
    assert rc == 0 and recap["changed"] == 0, out

    rc, out, recap = houston_deploy(lab, "houston.stack.remove", stack="example")
    assert rc == 0, out
    assert not fleet_units(lab, "example")


def test_the_houston_environment_is_required(lab):
    rc, out, err, _recap = run_playbook("houston.stack.deploy", env=lab_environment(lab),
                                        extra_vars={"houston_config_dir": str(HOUSTON_DIR), "stack": "example", "version": "h1"})
    assert rc != 0 and "-e houston_environment=ENV" in out + err, out + err
