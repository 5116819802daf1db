# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""houston.stack.deploy refuses inputs the inventory (or the Houston directory) cannot deploy, before the role runs:
nothing is read from or written to the cluster, and the message says what to give.
Run: .venv/bin/pytest tests/integration/test_deploy_inputs.py
"""
from __future__ import annotations

import pytest

from tests.support import REPO_ROOT, run_playbook

INVENTORY = {"all": {"hosts": {"localhost": {"ansible_connection": "local"}}, "vars": {
    "houston_services": {"shop": {"units": []}},
    "houston_standalone": {"static-site": {"units": []}},
    # Nothing listens here: a run that got past the check would fail on the connection instead.
    "houston_fleet_endpoint": "http://127.0.0.1:9",
    "houston_consul_address": "127.0.0.1:9",
}}}


@pytest.mark.parametrize("extra_vars, message", [
    ({}, "give the stack to deploy with -e stack=NAME (or set houston_stack in the inventory)"),
    ({"stack": "nope", "version": "1"},
     "stack \"nope\" is not defined: it is neither 'global' nor a key of houston_standalone\n  (static-site) nor of houston_services\n  (shop)"),
    ({"stack": "shop"}, "stack shop is a service stack: give the version to deploy with -e version=V"),
    ({"stack": ["shop"], "version": "1"}, 'stack must be a name, not ["shop"]'),
    # With a Houston directory, the stacks it defines are the ones known.
    ({"houston_config_dir": str(REPO_ROOT / "bench" / "houston-example"), "houston_environment": "lab", "stack": "shop",
      "version": "1"}, "nor of houston_services\n  (example)"),
], ids=["no-stack", "unknown-stack", "service-without-version", "stack-not-a-name", "houston-directory"])
def test_inputs_that_cannot_be_deployed_fail_before_the_role_runs(extra_vars, message):
    rc, out, err, recap = run_playbook("houston.stack.deploy", inventory=INVENTORY, extra_vars=extra_vars)
    assert rc != 0 and recap["localhost"]["failed"] == 1, out + err
    assert message in out, out
    assert "Fail on inputs the inventory cannot deploy" in out
    assert "stack_deploy :" not in out, "the role must not run"
