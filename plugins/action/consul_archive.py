# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Controller side of houston.stack.consul_archive: read ``files[].src`` on the controller, pass contents as base64."""

from __future__ import annotations

import base64

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.houston.stack.plugins.plugin_utils._inprocess import ModuleAction


class ActionModule(ModuleAction):

    MODULE = "consul_archive"

    def _resolve_files(self, files):
        if not isinstance(files, list):
            return files
        resolved = []
        for number, entry in enumerate(files, start=1):
            if not isinstance(entry, dict) or entry.get("src") in (None, ""):
                resolved.append(entry)
                continue
            entry = dict(entry)
            where = f"files entry #{number} ({entry.get('path')!r})"
            if entry.get("content") is not None:
                raise AnsibleError(f"consul_archive: {where}: content and src are mutually exclusive")
            if entry.get("encoding") not in (None, "plain"):
                raise AnsibleError(f"consul_archive: {where}: encoding applies to content; a src file is copied byte for byte")
            src = to_text(entry.pop("src"))
            try:
                path = self._find_needle("files", src)
            except AnsibleError as e:
                raise AnsibleError(f"consul_archive: {where}: cannot find src {src!r}: {e}") from e
            try:
                with open(path, "rb") as handle:
                    data = handle.read()
            except OSError as e:
                raise AnsibleError(f"consul_archive: {where}: cannot read src {path!r}: {e}") from e
            entry["content"] = base64.b64encode(data).decode("ascii")
            entry["encoding"] = "b64"
            resolved.append(entry)
        return resolved

    def run(self, tmp=None, task_vars=None):
        result = ActionBase.run(self, tmp, task_vars)  # ModuleAction.run would run the module with the raw args
        del tmp
        args = dict(self._task.args)
        try:
            args["files"] = self._resolve_files(args.get("files"))
        except AnsibleError as e:
            result.update(failed=True, msg=str(e))
            return result
        result.update(self.run_module(args, task_vars if task_vars is not None else {}))
        return result
