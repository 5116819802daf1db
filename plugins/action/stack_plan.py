# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""houston.stack.stack_plan: plan a deploy in one task, running the collection's modules in check mode, and take the
deploy lock when there is something to deploy."""

from __future__ import annotations

from ansible.errors import AnsibleError

from ansible_collections.houston.stack.plugins.plugin_utils._archive_src import resolve_files
from ansible_collections.houston.stack.plugins.plugin_utils._inprocess import preload
from ansible_collections.houston.stack.plugins.plugin_utils._module_steps import StepsAction
from ansible_collections.houston.stack.plugins.plugin_utils._stack_plan import plan_stack

for _leaf in ("consul_lock", "consul_history_info", "consul_archive", "fleet_unit_info", "fleet_prune",
              "consul_service_wait"):
    preload(_leaf)


class ActionModule(StepsAction):

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
        "take_lock": {"type": "bool", "default": False},
        "lock_session": {"type": "str"},
        "lock_ttl": {"type": "int", "default": 30},
        "lock_wait_timeout": {"type": "int", "default": 60},
        "lock_holder": {"type": "dict", "default": {}},
        "instances": {"type": "int", "default": 0},
        "rolling": {"type": "dict", "default": {}},
        "verify_consul": {"type": "bool", "default": False},
        "consul_service": {"type": "str"},
        "consul_wait_timeout": {"type": "int", "default": 120},
    }
    REQUIRED_IF = [("verify_consul", True, ("consul_service",))]
    SUBJECT = "plan of stack {stack}"
    # The plan changes nothing: the modules run in check mode, whatever the task says (the Consul verification of a
    # deploy with nothing to do excepted, which only reads, and the lock the deploy takes).
    PREDICTING = True

    def prepare(self, options):
        if options["keep_versions"] < 0:
            raise AnsibleError(f"keep_versions must be 0 or more, got {options['keep_versions']}")
        options["check_mode"] = bool(self._task.check_mode)
        options["files"] = resolve_files(self, options["files"])

    def sequence(self, options, steps, done):
        plan_stack(options, steps, done)

    def changed(self, done):
        # Holding the deploy lock is not a change of the deployed stack (as the consul_lock tasks of the roles say).
        return False
