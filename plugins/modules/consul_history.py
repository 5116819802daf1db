#!/usr/bin/python
# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: consul_history
short_description: Record the start and the end of a stack's deploy in Consul
version_added: 1.0.0
description:
  - Keeps the deploy history of O(stack) in Consul KV, C(houston/<stack>/history), a JSON list of entries newest first
    (id, version, units, archive sha256, start and end time, user, host, AWX job id, result), bounded to O(keep)
    entries, and the version of the last successful deploy in C(houston/<stack>/current).
  - O(action=start) adds a C(running) entry and returns it in RV(entry) (its C(id) identifies the deploy); O(action=finish) sets the entry's result and
    end time, and on V(success) makes its version current.
  - Every write is a check-and-set transaction retried on conflict, so concurrent writers never lose an update.
author:
  - houston.stack contributors (@houston-stack)
extends_documentation_fragment:
  - houston.stack._consul
  - houston.stack._consul.actiongroup_consul
  - houston.stack._attributes
attributes:
  check_mode:
    support: full
    details:
      - Check mode reads the history and returns the entry that would be written, without writing it.
  diff_mode:
    support: none
  idempotent:
    support: partial
    details:
      - O(action=start) adds a new entry each time unless O(id) names an existing one.
      - O(action=finish) with a result already recorded reports no change.
options:
  stack:
    description: Name of the stack.
    type: str
    required: true
  action:
    description: V(start) records a new deploy; V(finish) records its result.
    type: str
    choices: [start, finish]
    required: true
  version:
    description:
      - Version being deployed. Required for O(action=start); with O(action=finish) and no O(id), the newest running
        entry of this version is finished.
    type: str
  result:
    description: Result of the deploy, for O(action=finish).
    type: str
    choices: [success, failed]
  id:
    description:
      - The deploy id returned by O(action=start) (the C(id) of RV(entry)). With O(action=start), an id that is already recorded
        makes the call a no-op.
    type: str
  units:
    description: Names of the units of this deploy.
    type: list
    elements: str
  archive:
    description: The sha256 of the deploy's file archive.
    type: str
  keep:
    description: Maximum number of entries kept in the history (oldest dropped).
    type: int
    default: 20
seealso:
  - module: houston.stack.consul_history_info
  - module: houston.stack.consul_lock
"""

EXAMPLES = r"""
- name: Record the start of the deploy
  houston.stack.consul_history:
    stack: example
    action: start
    version: "{{ version }}"
    units: ["example-web@{{ version }}.service"]
  delegate_to: localhost
  register: example_deploy

- name: Record its success
  houston.stack.consul_history:
    stack: example
    action: finish
    id: "{{ example_deploy.entry.id }}"
    result: success
  delegate_to: localhost
"""

RETURN = r"""
entry:
  description: The history entry written (or, in check mode, that would be written).
  returned: success
  type: dict
  sample:
    id: 3f0c5b1e9d6a4e2b8c7d1a2b3c4d5e6f
    version: v2
    units: [example-web@v2.service]
    archive: null
    started: "2026-12-03T10:00:00Z"
    finished: "2026-12-03T10:02:00Z"
    result: success
    user: deploy
    host: ctl1
current:
  description: The current version (last successful deploy) after this call.
  returned: success
  type: str
  sample: v2
previous_versions:
  description: Versions of successful deploys, newest first, without the current one (rollback candidates).
  returned: success
  type: list
  elements: str
  sample: [v1]
elapsed:
  description: Seconds the call took (the deploy report's C(record_start) and C(record) timings).
  returned: success
  type: float
  sample: 0.012
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.houston.stack.plugins.module_utils._consul import CONSUL_ARGSPEC, ConsulClient, ConsulError
from ansible_collections.houston.stack.plugins.module_utils._history import History, HistoryError, previous_versions
from ansible_collections.houston.stack.plugins.module_utils._naming import InvalidName, validate_stack, validate_version


def main():
    module = AnsibleModule(
        argument_spec=dict(
            stack=dict(type="str", required=True),
            action=dict(type="str", choices=["start", "finish"], required=True),
            version=dict(type="str"),
            result=dict(type="str", choices=["success", "failed"]),
            id=dict(type="str"),
            units=dict(type="list", elements="str"),
            archive=dict(type="str"),
            keep=dict(type="int", default=20),
            **CONSUL_ARGSPEC
        ),
        required_if=[("action", "start", ("version",)), ("action", "finish", ("result",)),
                     ("action", "finish", ("id", "version"), True)],
        supports_check_mode=True,
    )
    p = module.params
    started = time.monotonic()
    try:
        stack = validate_stack(p["stack"])
        if p["version"]:
            validate_version(p["version"])
        if p["keep"] < 1:
            raise HistoryError("keep must be at least 1")
        history = History(ConsulClient.from_params(p), stack, keep=p["keep"])
        if p["action"] == "start":
            entry, entries, current, changed = history.start(p["version"], p["units"], p["archive"], p["id"],
                                                             check_mode=module.check_mode)
        else:
            entry, entries, current, changed = history.finish(p["result"], p["id"], p["version"], p["units"], p["archive"],
                                                              check_mode=module.check_mode)
    except (InvalidName, HistoryError) as e:
        module.fail_json(msg=f"consul_history for stack {p['stack']!r}: {e}")
    except ConsulError as e:
        module.fail_json(msg=f"consul_history for stack {p['stack']!r}: {e}", status=e.status)
    module.exit_json(changed=changed, entry=entry, current=current, previous_versions=previous_versions(entries, current),
                     elapsed=round(time.monotonic() - started, 3))


if __name__ == "__main__":
    main()
