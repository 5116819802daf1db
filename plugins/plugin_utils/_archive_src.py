# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this plugin util is **PRIVATE** to the collection. It can have breaking changes at any time.

"""The controller side of consul_archive's ``files[].src``, shared by its action and by houston.stack.stack_plan."""

from __future__ import annotations

import base64

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_text


def resolve_files(action, files):
    """``files`` with every ``src`` (found like the copy module finds it) read on the controller, as base64 ``content``."""
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
            path = action._find_needle("files", src)
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
