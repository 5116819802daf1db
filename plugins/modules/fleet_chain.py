#!/usr/bin/python
# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: fleet_chain
short_description: Launch an ordered chain of fleet units and wait until all are active
version_added: 1.0.0
description:
  - Launches the units of O(units) in their order, as one M(houston.stack.fleet_unit) task per unit with
    C(state=launched) would, with one submission and one wait for every unit that systemd can order by itself.
  - Every unit is checked first (name, syntax, C([X-Fleet]) options), and fleet's units are read once; nothing is touched
    when one unit is invalid. Each unit is then created, replaced (when its content differs), started, or left alone.
  - A unit is launched together with the unit before it when both are global, it is ordered C(After=) the previous unit,
    and fleet runs it only on machines that also run the previous unit. Each machine then starts them in chain order, as
    systemd orders queued start jobs, so the result is the one of launching and waiting unit by unit. The first unit
    of such a wave is launched at once (it comes after none of the others), unless one of its options names a later
    unit of the wave; the others are submitted with desiredState C(loaded), then started once every machine has loaded
    the whole wave (fleet's agents load and start units in no particular order, and a machine must know a unit's
    C(After=) units before starting it). That is two round trips through fleet's registry for the wave instead of one
    per unit, and the first unit starts during the first of them.
  - A non-global unit (fleet picks its machine) or a unit that is not ordered after the previous one waits until every
    unit before it is active everywhere; RV(units[].wave) tells which units went together.
  - The wait polls fleet (first check at once, then every 0.05 s for 2 s, every 0.1 s until 10 s, then backing off to
    one check a second) for at most O(wait_timeout) seconds per wave, walking the units in chain order. It fails at
    once when a machine reports a unit C(failed), naming the first such unit in chain order, the machine, its IP and
    the unit's states there.
  - With O(remove_on_failure=true), a failed wait destroys every unit this run created or replaced, last first, so a
    broken new version does not stay behind; units that were already there are never removed.
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
      - Check mode reads fleet, predicts C(changed) and each unit's RV(units[].operation), writes nothing and does not
        wait.
  diff_mode:
    support: full
    details:
      - One diff per unit, the unit file before and after, headers carrying the unit's desiredState.
  idempotent:
    support: full
options:
  units:
    description:
      - The units in launch order. Each has a O(units[].name) and either O(units[].content) or O(units[].options).
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description:
          - Name of the unit, for example V(example-web@v1.service). fleet's unit name rules apply; names must be unique.
        type: str
        required: true
      content:
        description:
          - The unit file text (systemd syntax). Mutually exclusive with O(units[].options); one of them is required.
        type: str
      options:
        description:
          - The unit as a list of fleet unit options (mappings with C(section), C(name), C(value)).
        type: list
        elements: dict
  wait_timeout:
    description:
      - How long to wait, in seconds, for each wave of units to be active on every machine it belongs on.
    type: int
    default: 300
  remove_on_failure:
    description:
      - When a wait fails (a machine reports a unit failed, or O(wait_timeout) expires), destroy every unit this run
        created or replaced.
    type: bool
    default: true
  state_rows:
    description:
      - Return each unit's state rows (RV(units[].machines)).
      - V(false) leaves them out, which keeps the result small on large clusters (50 global units on 300 machines
        make 15000 rows); RV(units[].ips) is returned either way.
    type: bool
    default: true
notes:
  - The stack roles launch a stack's chain with this module; they inject C(Requires=) and C(After=) on the previous unit,
    as Houston did, so the units of a global stack sharing the same placement are launched together.
seealso:
  - module: houston.stack.fleet_unit
  - module: houston.stack.fleet_unit_info
"""

EXAMPLES = r"""
- name: Launch a cache, then a web server ordered after it, on every web machine
  houston.stack.fleet_chain:
    units:
      - name: example-cache@v1.service
        content: |
          [Unit]
          Description=Cache

          [Service]
          ExecStart=/usr/bin/memcached

          [X-Fleet]
          Global=true
          MachineMetadata=role=web
      - name: example-web@v1.service
        content: |
          [Unit]
          Description=Web server
          Requires=example-cache@v1.service
          After=example-cache@v1.service

          [Service]
          ExecStart=/usr/bin/python3 -m http.server 8080

          [X-Fleet]
          Global=true
          MachineMetadata=role=web
    wait_timeout: 120
  register: chain
  delegate_to: localhost

- name: Show which units started together and how long each took
  ansible.builtin.debug:
    msg: "{{ chain.units | map(attribute='name') | zip(chain.units | map(attribute='wave'), chain.units | map(attribute='elapsed')) }}"
"""

RETURN = r"""
units:
  description:
    - One entry per unit of O(units), in order. On failure too, so a caller knows what was created.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Unit name.
      type: str
    operation:
      description:
        - What was done to the unit (or would be in check mode). After a failure, units of waves that were never
          submitted report V(none).
      type: str
      choices: [created, replaced, state_changed, none]
    changed:
      description: Whether the unit was changed.
      type: bool
    global:
      description: Whether the unit is global.
      type: bool
    wave:
      description: The number of the submission (from 1) the unit went with.
      type: int
    machines:
      description:
        - The unit's state rows seen by the last check, as M(houston.stack.fleet_unit) returns them.
        - Left out with O(state_rows=false).
      type: list
      elements: dict
    ips:
      description: The IPs of the machines in those state rows, sorted.
      type: list
      elements: str
    expected_machines:
      description: Ids of the machines the wait expected the unit on.
      type: list
      elements: str
    elapsed:
      description: Seconds from the start of the launch until the unit was seen active everywhere.
      type: float
    unit:
      description: The unit as fleet reports it after the launch (in check mode, as predicted), as in M(houston.stack.fleet_unit).
      type: dict
      returned: success
elapsed:
  description: Seconds spent launching and waiting.
  returned: always
  type: float
  sample: 0.61
skipped_wait:
  description: True in check mode when a wait would have happened.
  returned: always
  type: bool
failed_unit:
  description: The unit whose wait failed (the first failed unit in chain order, or the one the timeout stopped at).
  returned: failure
  type: str
removed:
  description: Units destroyed after the failure (O(remove_on_failure)), in chain order (they are destroyed last first).
  returned: failure
  type: list
  elements: str
"""

import copy
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.houston.stack.plugins.module_utils._fleet import FLEET_ARGSPEC, FleetClient
from ansible_collections.houston.stack.plugins.module_utils._fleet_unit import UnitChain, WaitFailure, exit_with_result
from ansible_collections.houston.stack.plugins.module_utils._status import row_ips


def argument_spec():
    spec = dict(
        units=dict(type="list", elements="dict", required=True, options=dict(
            name=dict(type="str", required=True),
            content=dict(type="str"),
            options=dict(type="list", elements="dict"),
        ), mutually_exclusive=[("content", "options")], required_one_of=[("content", "options")]),
        wait_timeout=dict(type="int", default=300),
        remove_on_failure=dict(type="bool", default=True),
        state_rows=dict(type="bool", default=True),
    )
    spec.update(copy.deepcopy(FLEET_ARGSPEC))
    return spec


def run(module, client, clock=None):
    params = module.params
    chain = UnitChain(client, params["units"], wait_timeout=params["wait_timeout"],
                      remove_on_failure=params["remove_on_failure"], clock=clock)
    waves = chain.plan()
    changed = any(step.operation != "none" for step in chain.steps)
    result = dict(changed=changed, elapsed=0.0, skipped_wait=False)
    if module._diff:
        result["diff"] = chain.diffs()
    if module.check_mode:
        result.update(units=with_ips(chain.predict(), params["state_rows"]), skipped_wait=changed)
        return result
    start = time.monotonic()
    try:
        result["units"] = with_ips(chain.launch(waves), params["state_rows"])
    except WaitFailure as e:
        e.result.update(elapsed=round(time.monotonic() - start, 3), diff=result.get("diff"))
        with_ips(e.result.get("units") or [], params["state_rows"])
        raise
    result["elapsed"] = round(time.monotonic() - start, 3)
    return result


def with_ips(units, state_rows):
    """Add each unit's ``ips``; without ``state_rows``, drop its rows."""
    for unit in units:
        unit["ips"] = row_ips(unit.get("machines"))
        if not state_rows:
            unit.pop("machines", None)
    return units


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    client = FleetClient.from_params(module.params)
    exit_with_result(module, lambda: run(module, client))


if __name__ == "__main__":
    main()
