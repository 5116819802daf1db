# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""houston.stack.stack_finish: verify in Consul, prune, record a deploy and release its lock in one task, running the
collection's modules."""

from __future__ import annotations

from ansible_collections.houston.stack.plugins.plugin_utils._inprocess import preload
from ansible_collections.houston.stack.plugins.plugin_utils._module_steps import StepsAction
from ansible_collections.houston.stack.plugins.plugin_utils._stack_finish import finish_stack

for _leaf in ("consul_service_wait", "fleet_prune", "consul_history", "consul_lock"):
    preload(_leaf)


class ActionModule(StepsAction):

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
        "lock_session": {"type": "str"},
    }
    REQUIRED_IF = [("wait_consul", True, ("consul_service",))]
    SUBJECT = "finish of the deploy of stack {stack}"

    def sequence(self, options, steps, done):
        finish_stack(options, steps, check_mode=bool(self._task.check_mode), done=done)
