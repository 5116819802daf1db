# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Controller side of houston.stack.fleet_chain: run the module in the task worker when the task runs on the controller."""

from __future__ import annotations

from ansible_collections.houston.stack.plugins.plugin_utils._inprocess import ModuleAction


class ActionModule(ModuleAction):

    MODULE = "fleet_chain"
