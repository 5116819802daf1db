#!/usr/bin/python
# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: fleet_prune
short_description: Stop and destroy the fleet units of a stack's other versions
version_added: 1.0.0
description:
  - Selects the units of stack O(stack) - those whose name starts with the stack's prefix (O(prefix)) B(and) which carry
    the collection's marker C([X-Houston]) with C(Stack=<stack>) and C(Owner=houston.stack). Units outside the prefix
    or without that marker are never touched.
  - Units named in O(keep) are kept. The other selected units are grouped by the version in their marker; the
    O(keep_versions) most recent versions are kept too (for rollback), and the units of older versions are removed.
  - Removal first sets each unit's desiredState to C(inactive) and waits until no machine reports it active any more,
    so that its C(ExecStop) commands run, and then destroys it.
  - When more than O(max_remove) units would be removed, the module fails without touching anything.
author:
  - houston.stack contributors (@houston-stack)
extends_documentation_fragment:
  - houston.stack._fleet
  - houston.stack._fleet.actiongroup_fleet
  - houston.stack._attributes
attributes:
  check_mode:
    support: full
    details:
      - Check mode returns RV(would_remove) and changes nothing.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  stack:
    description:
      - The stack whose units are pruned.
    type: str
    required: true
  prefix:
    description:
      - Name prefix the units must have.
      - The default selects the stack's own names, C(<stack>@...) and C(<stack>-...@...). The global stack's units are
        named C(<unit>@<version>.service); pass V("") to rely on the marker alone.
    type: str
  keep:
    description:
      - Names of the units to keep (normally the units of the version just deployed).
    type: list
    elements: str
    default: []
  keep_versions:
    description:
      - How many of the most recent other versions to keep, besides the units in O(keep).
      - Versions are ordered by O(history_versions) when given (versions missing from it count as older, in reverse
        name order), else in reverse name order.
    type: int
    default: 1
  history_versions:
    description:
      - The stack's versions, newest first, as recorded in the deploy history (see M(houston.stack.consul_history_info)).
    type: list
    elements: str
  max_remove:
    description:
      - Fail without touching anything when more than this many units would be removed.
    type: int
    default: 50
  wait_timeout:
    description:
      - How long to wait, in seconds, for the stopped units to be inactive on every machine before destroying them.
    type: int
    default: 300
seealso:
  - module: houston.stack.fleet_unit
  - module: houston.stack.fleet_unit_info
"""

EXAMPLES = r"""
- name: Remove the example stack's older versions, keeping v7 and the previous version
  houston.stack.fleet_prune:
    stack: example
    keep:
      - example@v7.service
      - example-pgbouncer@v7.service
    keep_versions: 1
    history_versions: "{{ history.previous_versions }}"
  register: pruned
  delegate_to: localhost

- name: Show what was removed
  ansible.builtin.debug:
    var: pruned.removed
"""

RETURN = r"""
removed:
  description: Units that were stopped and destroyed (empty in check mode).
  returned: always
  type: list
  elements: str
  sample: [example@v5.service, example-pgbouncer@v5.service]
would_remove:
  description: Units selected for removal (in check mode, those that would be removed).
  returned: always
  type: list
  elements: str
kept:
  description: The stack's units that are kept (in O(keep), or of one of the O(keep_versions) most recent other versions).
  returned: always
  type: list
  elements: str
kept_versions:
  description: The other versions kept by O(keep_versions), most recent first.
  returned: always
  type: list
  elements: str
foreign:
  description: Units within the prefix that do not carry the stack's marker, left alone.
  returned: always
  type: list
  elements: str
elapsed:
  description: Seconds spent waiting for the units to stop.
  returned: always
  type: float
"""

import copy

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.houston.stack.plugins.module_utils._fleet import FLEET_ARGSPEC, FleetClient, FleetError, describe_row, state_row
from ansible_collections.houston.stack.plugins.module_utils._naming import InvalidName, belongs_to_stack, is_owned, read_marker, unit_version, validate_stack
from ansible_collections.houston.stack.plugins.module_utils._wait import DONE, PENDING, get_waiter

STILL_RUNNING = frozenset(("active", "activating", "deactivating", "reloading"))


class PruneError(Exception):
    def __init__(self, message, result=None):
        super().__init__(message)
        self.result = result or {}


def in_prefix(name, stack, prefix):
    if prefix is None:
        return belongs_to_stack(name, stack)
    return name.startswith(prefix)


def version_order(versions, history):
    """Versions most recent first: by position in ``history`` (newest first), then the rest in reverse name order."""
    history = list(history or [])
    known = [v for v in history if v in versions]
    rest = sorted((v for v in versions if v not in history), reverse=True)
    return known + rest


def select(units, stack, keep, keep_versions, history=None, prefix=None):
    """Split the stack's units into (remove, kept, kept_versions, foreign). Pure: no I/O."""
    keep = set(keep or [])
    owned, foreign = [], []
    for unit in units:
        if not in_prefix(unit["name"], stack, prefix):
            continue
        (owned if is_owned(unit.get("options"), stack) else foreign).append(unit)
    by_version = {}
    for unit in owned:
        if unit["name"] in keep:
            continue
        version = (read_marker(unit.get("options")) or {}).get("version") or unit_version(unit["name"]) or ""
        by_version.setdefault(version, []).append(unit["name"])
    ordered = version_order(set(by_version), history)
    kept_versions = ordered[:max(0, keep_versions)]
    remove = sorted(name for version in ordered[len(kept_versions):] for name in by_version[version])
    kept = sorted(u["name"] for u in owned if u["name"] not in remove)
    return remove, kept, kept_versions, sorted(u["name"] for u in foreign)


def prune(module, client):
    p = module.params
    try:
        validate_stack(p["stack"])
    except InvalidName as e:
        raise PruneError(str(e)) from e
    units = client.units()
    remove, kept, kept_versions, foreign = select(units, p["stack"], p["keep"], p["keep_versions"], p["history_versions"], p["prefix"])
    result = dict(changed=bool(remove), removed=[], would_remove=remove, kept=kept, kept_versions=kept_versions,
                  foreign=foreign, elapsed=0.0)
    if len(remove) > p["max_remove"]:
        raise PruneError(f"refusing to prune stack {p['stack']!r}: {len(remove)} units would be removed, more than "
                         f"max_remove={p['max_remove']}; nothing was touched", dict(result, changed=False))
    if module.check_mode or not remove:
        return result

    desired = {u["name"]: u.get("desiredState") for u in units}
    for name in remove:
        if desired.get(name) != "inactive":
            client.set_state(name, "inactive")
    machines = {m["id"]: m for m in client.machines()}
    pending = set(remove)

    def probe():
        rows = [r for r in client.state() if r.get("name") in pending and r.get("systemdActiveState") in STILL_RUNNING]
        return (DONE if not rows else PENDING), rows

    outcome = get_waiter(p["wait_timeout"]).wait(probe)
    result["elapsed"] = outcome.elapsed
    still = {r["name"] for r in outcome.observation or []}
    for name in remove:
        if name not in still:
            client.delete(name)
            result["removed"].append(name)
    if still:
        detail = "; ".join(f"{r['name']} on {describe_row(state_row(r, machines))}" for r in outcome.observation)
        raise PruneError(f"timed out after {outcome.elapsed}s waiting for units of stack {p['stack']!r} to stop "
                         f"(left in desiredState inactive, not destroyed): {detail}", result)
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            stack=dict(type="str", required=True),
            prefix=dict(type="str"),
            keep=dict(type="list", elements="str", default=[]),
            keep_versions=dict(type="int", default=1),
            history_versions=dict(type="list", elements="str"),
            max_remove=dict(type="int", default=50),
            wait_timeout=dict(type="int", default=300),
            **copy.deepcopy(FLEET_ARGSPEC)
        ),
        supports_check_mode=True,
    )
    client = FleetClient.from_params(module.params)
    try:
        result = prune(module, client)
    except PruneError as e:
        module.fail_json(msg=str(e), **e.result)
    except FleetError as e:
        module.fail_json(msg=str(e), status=e.status)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
