# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""houston.stack.stack_start: record the start of a deploy and store its file archive in one task."""

from __future__ import annotations

from ansible_collections.houston.stack.plugins.plugin_utils._archive_src import resolve_files
from ansible_collections.houston.stack.plugins.plugin_utils._inprocess import preload
from ansible_collections.houston.stack.plugins.plugin_utils._module_steps import StepsAction
from ansible_collections.houston.stack.plugins.plugin_utils._stack_start import start_stack

for _leaf in ("consul_history", "consul_archive"):
    preload(_leaf)


class ActionModule(StepsAction):

    ARGUMENT_SPEC = {
        "stack": {"type": "str", "required": True},
        "version": {"type": "str", "required": True},
        "units": {"type": "list", "elements": "str", "default": []},
        "archive": {"type": "str"},
        "files": {"type": "list", "elements": "dict", "default": []},
        "protect": {"type": "list", "elements": "str", "default": []},
    }
    SUBJECT = "start of the deploy of stack {stack}"

    def prepare(self, options):
        options["files"] = resolve_files(self, options["files"])

    def sequence(self, options, steps, done):
        start_stack(options, steps, done=done)
