# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""houston.stack.stack_plan: plan a deploy in one task (reads only), running the collection's modules in check mode."""

from __future__ import annotations

import time

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase

from ansible_collections.houston.stack.plugins.plugin_utils._archive_src import resolve_files
from ansible_collections.houston.stack.plugins.plugin_utils._inprocess import preload
from ansible_collections.houston.stack.plugins.plugin_utils._module_steps import ModuleSteps, StepError
from ansible_collections.houston.stack.plugins.plugin_utils._stack_plan import plan_stack

ARGUMENT_SPEC = {
    "stack": {"type": "str", "required": True},
    "kind": {"type": "str", "required": True, "choices": ["global", "standalone", "service"]},
    "version": {"type": "raw", "default": ""},
    "units": {"type": "list", "elements": "dict", "default": []},
    "files": {"type": "list", "elements": "dict", "default": []},
    "dependencies": {"type": "bool", "default": True},
    "keep_versions": {"type": "int", "default": 1},
    "max_remove": {"type": "int", "default": 50},
    "rolling_back": {"type": "bool", "default": False},
    "look_at_lock": {"type": "bool", "default": True},
    "instances": {"type": "int", "default": 0},
    "rolling": {"type": "dict", "default": {}},
    "verify_consul": {"type": "bool", "default": False},
    "consul_service": {"type": "str"},
    "consul_wait_timeout": {"type": "int", "default": 120},
}

MODULES = ("consul_lock", "consul_history_info", "consul_archive", "fleet_unit_info", "fleet_prune", "consul_service_wait")
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
            argument_spec=ARGUMENT_SPEC, required_if=[("verify_consul", True, ("consul_service",))])
        options["check_mode"] = bool(self._task.check_mode)
        if options["keep_versions"] < 0:
            raise AnsibleError(f"keep_versions must be 0 or more, got {options['keep_versions']}")
        started = time.monotonic()
        try:
            options["files"] = resolve_files(self, options["files"])
        except AnsibleError as exc:
            result.update(failed=True, changed=False, msg=f"plan of stack {options['stack']}: {exc.message}")
            return result
        # The plan changes nothing: the modules run in check mode, whatever the task says.
        steps = ModuleSteps(self, task_vars, f"plan of stack {options['stack']}", predicting=True)
        try:
            planned = plan_stack(options, steps)
        except StepError as exc:
            result.update({k: v for k, v in exc.result.items() if k not in ("msg", "changed")})
            result.update(failed=True, msg=str(exc))
        except AnsibleError as exc:  # a unit the filters refuse (name, syntax, [X-Fleet] options)
            result.update(failed=True, msg=f"plan of stack {options['stack']}: {exc.message}")
        else:
            result.update(planned)
        result["changed"] = False
        result["elapsed"] = round(time.monotonic() - started, 3)
        return steps.report(result)
