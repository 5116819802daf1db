# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""ModuleSteps.module_defaults: a step's arguments over the module defaults that apply to its module, templated once
per set of defaults in one action run. The defaults a play gives by name and by action group are applied through
ansible's own lookup; the stack actions' integration tests (test_stack_plan.py) run them on the lab."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from ansible_collections.houston.stack.plugins.plugin_utils import _module_steps

CONSUL = {"consul_address": "{{ stack_deploy_consul_address }}", "consul_token": "{{ token | default(omit) }}"}
FLEET = {"fleet_endpoint": "{{ stack_deploy_fleet_endpoint }}", "fleet_retries": 6}
RAW_DEFAULTS = {
    "houston.stack.consul_lock": CONSUL,
    "houston.stack.consul_history": CONSUL,
    "houston.stack.fleet_prune": FLEET,
    "houston.stack.fleet_unit_info": {**FLEET, "state_rows": ["{{ rows }}"]},
}


class CountingTemplar:
    """Templates a dict of defaults as ``T(value)`` and counts the calls."""

    def __init__(self):
        self._engine = object()
        self.templated = []

    def template(self, value):
        self.templated.append(value)
        return {option: f"T({raw})" for option, raw in value.items()}


@pytest.fixture
def steps(monkeypatch):
    monkeypatch.setattr(_module_steps, "_get_action_arg_defaults", lambda name, task, engine: dict(RAW_DEFAULTS[name]))
    action = SimpleNamespace(_task=object(), _templar=CountingTemplar())
    return _module_steps.ModuleSteps(action, {}, "plan of stack shop")


def test_the_defaults_a_step_shares_with_an_earlier_step_are_templated_once(steps):
    lock = steps.module_defaults("houston.stack.consul_lock", {"stack": "shop"})
    history = steps.module_defaults("houston.stack.consul_history", {"stack": "shop", "action": "start"})
    prune = steps.module_defaults("houston.stack.fleet_prune", {"stack": "shop"})
    assert lock == {"consul_address": "T({{ stack_deploy_consul_address }})",
                    "consul_token": "T({{ token | default(omit) }})", "stack": "shop"}
    assert history == dict(lock, action="start")
    assert prune == {"fleet_endpoint": "T({{ stack_deploy_fleet_endpoint }})", "fleet_retries": "T(6)", "stack": "shop"}
    assert steps.action._templar.templated == [CONSUL, FLEET]


def test_a_steps_own_arguments_win_and_are_not_templated_again(steps):
    args = steps.module_defaults("houston.stack.consul_lock", {"consul_address": "http://127.0.0.1:8500"})
    assert args["consul_address"] == "http://127.0.0.1:8500"
    # the first step templated only the token: the next step's whole set is another one, templated anew
    steps.module_defaults("houston.stack.consul_history", {})
    assert steps.action._templar.templated == [{"consul_token": CONSUL["consul_token"]}, CONSUL]


def test_a_default_that_cannot_be_a_key_is_templated_for_every_step(steps):
    first = steps.module_defaults("houston.stack.fleet_unit_info", {})
    second = steps.module_defaults("houston.stack.fleet_unit_info", {})
    assert first == second and first["state_rows"] == "T(['{{ rows }}'])"
    assert len(steps.action._templar.templated) == 2


def test_a_cached_set_of_defaults_is_never_shared_with_a_step(steps):
    first = steps.module_defaults("houston.stack.consul_lock", {"stack": "a"})
    first["consul_address"] = "changed by the caller"
    assert steps.module_defaults("houston.stack.consul_history", {})["consul_address"] == "T({{ stack_deploy_consul_address }})"
