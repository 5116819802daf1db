# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # The wait options; kept in step with WAIT_ARGSPEC in module_utils/_wait.py.
    DOCUMENTATION = r"""
options:
  wait:
    description:
      - Whether to wait until the operation has taken effect on the machines, polling fleet (first check at once,
        then every 0.05 s for 2 s, every 0.1 s until 10 s, then backing off to one check a second).
      - The default depends on the module and on O(state); see the module's description.
    type: bool
  wait_timeout:
    description:
      - How long to wait, in seconds, when O(wait=true).
    type: int
    default: 300
"""
