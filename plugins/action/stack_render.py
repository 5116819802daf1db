# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""houston.stack.stack_render: validate a stack definition and render its units and files on the controller."""

from __future__ import annotations

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase

from ansible_collections.houston.stack.plugins.plugin_utils._stack_render import (
    StackRenderError,
    render_stack,
    render_template_file,
)

ARGUMENT_SPEC = {
    "stack": {"type": "str", "required": True},
    "kind": {"type": "str", "required": True, "choices": ["global", "standalone", "service"]},
    "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
    "version": {"type": "raw", "default": ""},
    "environment": {"type": "raw", "default": ""},
    "units": {"type": "list", "elements": "raw", "default": []},
    "service": {"type": "dict", "default": {}},
    "variables": {"type": "dict", "default": {}},
    "files": {"type": "raw", "default": []},
    "units_dir": {"type": "str", "default": ""},
    "files_dir": {"type": "str", "default": ""},
    "consul_service": {"type": "str", "default": ""},
    "keep_versions": {"type": "int", "default": 1},
}

# Inline contents of write_files entries may use stack, version and variables: this argument is templated by run(),
# with those names set to this deploy's values, not when the task's arguments are.
_DEFERRED = "files"


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _requires_connection = False

    @classmethod
    def finalize_task_arg(cls, name, value, templar, context):
        if name == _DEFERRED:
            return value
        return super().finalize_task_arg(name, value, templar, context)

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        task_vars = task_vars if task_vars is not None else {}
        _validation, options = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)

        names = {"stack": options["stack"], "version": options["version"], "variables": options["variables"]}
        try:
            files = self._templar.copy_with_new_env(available_variables=dict(task_vars, **names)).template(options["files"])
        except AnsibleError as exc:
            result.update(failed=True, msg=f"write_files entries of stack {options['stack']}: {exc.message}")
            return result
        if not isinstance(files, list):
            result.update(failed=True, msg=f"write_files entries of stack {options['stack']} must be a list, got {type(files).__name__}")
            return result
        options["files"] = files

        def render(path, template_vars):
            return render_template_file(self._templar, self._loader, task_vars, path, template_vars)

        try:
            facts = render_stack(options, render)
        except StackRenderError as exc:
            result.update(failed=True, msg=str(exc))
            return result
        result.update(changed=False, facts=facts)
        return result
