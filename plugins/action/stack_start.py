# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""houston.stack.stack_start: record the start of a deploy, store its file archive, stop the units to restart."""

from __future__ import annotations

from ansible.errors import AnsibleError

from ansible_collections.houston.stack.plugins.plugin_utils._archive_src import resolve_files
from ansible_collections.houston.stack.plugins.plugin_utils._inprocess import preload
from ansible_collections.houston.stack.plugins.plugin_utils._module_steps import StepsAction
from ansible_collections.houston.stack.plugins.plugin_utils._stack_start import start_stack

for _leaf in ("consul_history", "consul_archive", "fleet_unit"):
    preload(_leaf)


class ActionModule(StepsAction):

    ARGUMENT_SPEC = {
        "stack": {"type": "str", "required": True},
        "version": {"type": "str", "required": True},
        "units": {"type": "list", "elements": "str", "default": []},
        "archive": {"type": "str"},
        "files": {"type": "list", "elements": "dict", "default": []},
        "protect": {"type": "list", "elements": "str", "default": []},
        "restart": {"type": "list", "elements": "dict", "default": []},
        "wait_timeout": {"type": "int", "default": 300},
    }
    SUBJECT = "start of the deploy of stack {stack}"

    def prepare(self, options):
        options["files"] = resolve_files(self, options["files"])
        for number, unit in enumerate(options["restart"], start=1):
            if not isinstance(unit.get("fleet_name"), str) or not isinstance(unit.get("content"), str):
                raise AnsibleError(f"restart entry #{number} needs a fleet_name and a content (the plan's final units)")

    def sequence(self, options, steps, done):
        start_stack(options, steps, done=done)
