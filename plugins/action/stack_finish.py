# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""houston.stack.stack_finish: verify in Consul, prune and record a deploy in one task, running the collection's modules."""

from __future__ import annotations

import time

from ansible.plugins.action import ActionBase

from ansible_collections.houston.stack.plugins.plugin_utils._inprocess import preload
from ansible_collections.houston.stack.plugins.plugin_utils._module_steps import ModuleSteps, StepError
from ansible_collections.houston.stack.plugins.plugin_utils._stack_finish import finish_stack

ARGUMENT_SPEC = {
    "stack": {"type": "str", "required": True},
    "kind": {"type": "str", "required": True, "choices": ["global", "standalone", "service"]},
    "version": {"type": "str", "required": True},
    "wait_consul": {"type": "bool", "default": True},
    "consul_service": {"type": "str"},
    "expected_addresses": {"type": "list", "elements": "str", "default": []},
    "consul_wait_timeout": {"type": "int", "default": 120},
    "keep": {"type": "list", "elements": "str", "default": []},
    "max_remove": {"type": "int", "default": 50},
    "history_id": {"type": "str"},
    "units": {"type": "list", "elements": "str", "default": []},
    "archive": {"type": "str"},
}

MODULES = ("consul_service_wait", "fleet_prune", "consul_history")
for _leaf in MODULES:
    preload(_leaf)


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        task_vars = task_vars if task_vars is not None else {}
        _validation, options = self.validate_argument_spec(
            argument_spec=ARGUMENT_SPEC, required_if=[("wait_consul", True, ("consul_service",))])
        started = time.monotonic()
        steps = ModuleSteps(self, task_vars, f"finish of the deploy of stack {options['stack']}")
        done = {}
        try:
            finish_stack(options, steps, check_mode=bool(self._task.check_mode), done=done)
        except StepError as exc:
            result.update({k: v for k, v in exc.result.items() if k not in ("msg", "changed")})
            result.update(failed=True, msg=str(exc))
        result.update(done)
        result["changed"] = any(step.get("changed") for step in done.values())
        result["elapsed"] = round(time.monotonic() - started, 3)
        return steps.report(result)
