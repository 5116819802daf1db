# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""houston.stack.stack_plan: plan a deploy in one task (reads only), running the collection's modules in check mode."""

from __future__ import annotations

import contextlib
import time

from ansible.errors import AnsibleError
from ansible.executor.module_common import _apply_action_arg_defaults
from ansible.plugins.action import ActionBase

from ansible_collections.houston.stack.plugins.plugin_utils._archive_src import resolve_files
from ansible_collections.houston.stack.plugins.plugin_utils._inprocess import COLLECTION_NAME, execute_module, preload
from ansible_collections.houston.stack.plugins.plugin_utils._stack_plan import StackPlanError, plan_stack

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
}

MODULES = ("consul_lock", "consul_history_info", "consul_archive", "fleet_unit_info", "fleet_prune")
for _leaf in MODULES:
    preload(_leaf)


@contextlib.contextmanager
def _predicting(task):
    """Run the modules in check mode and without diff, whatever the task says: the plan changes nothing."""
    saved = task.check_mode, task.diff
    task.check_mode, task.diff = True, False
    try:
        yield
    finally:
        task.check_mode, task.diff = saved


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        task_vars = task_vars if task_vars is not None else {}
        _validation, options = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        if options["keep_versions"] < 0:
            raise AnsibleError(f"keep_versions must be 0 or more, got {options['keep_versions']}")
        started = time.monotonic()
        warnings, deprecations = [], []
        try:
            options["files"] = resolve_files(self, options["files"])
        except AnsibleError as exc:
            result.update(failed=True, changed=False, msg=f"plan of stack {options['stack']}: {exc.message}")
            return result

        def run_module(step, leaf, args):
            name = f"{COLLECTION_NAME}.{leaf}"
            # module_defaults (the role's and the play's, by module and by action group) apply as to a task of the module.
            args = _apply_action_arg_defaults(name, self._task, args, self._templar)
            with _predicting(self._task):
                outcome = execute_module(self, name, args, task_vars)
            warnings.extend(outcome.pop("warnings", None) or [])
            deprecations.extend(outcome.pop("deprecations", None) or [])
            outcome.pop("invocation", None)
            if outcome.get("failed"):
                raise StackPlanError(f"plan of stack {options['stack']}, {step} ({name}): {outcome.get('msg', 'failed')}",
                                     outcome)
            return outcome

        try:
            planned = plan_stack(options, run_module)
        except StackPlanError as exc:
            result.update({k: v for k, v in exc.result.items() if k not in ("msg", "changed")})
            result.update(failed=True, msg=str(exc))
        except AnsibleError as exc:  # a unit the filters refuse (name, syntax, [X-Fleet] options)
            result.update(failed=True, msg=f"plan of stack {options['stack']}: {exc.message}")
        else:
            result.update(planned)
        result["changed"] = False
        result["elapsed"] = round(time.monotonic() - started, 3)
        if warnings:
            result["warnings"] = warnings
        if deprecations:
            result["deprecations"] = deprecations
        return result
