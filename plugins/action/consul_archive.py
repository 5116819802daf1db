# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Controller side of houston.stack.consul_archive: read ``files[].src`` on the controller, pass contents as base64."""

from __future__ import annotations

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase

from ansible_collections.houston.stack.plugins.plugin_utils._archive_src import resolve_files
from ansible_collections.houston.stack.plugins.plugin_utils._inprocess import ModuleAction


class ActionModule(ModuleAction):

    MODULE = "consul_archive"

    def run(self, tmp=None, task_vars=None):
        result = ActionBase.run(self, tmp, task_vars)  # ModuleAction.run would run the module with the raw args
        del tmp
        args = dict(self._task.args)
        try:
            args["files"] = resolve_files(self, args.get("files"))
        except AnsibleError as e:
            result.update(failed=True, msg=str(e))
            return result
        result.update(self.run_module(args, task_vars if task_vars is not None else {}))
        return result
