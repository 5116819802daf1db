#!/usr/bin/python
# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: fleet_unit_info
short_description: List fleet units with their per-machine states, and the fleet machines
version_added: 1.0.0
description:
  - Reads the units known to fleet, optionally only one (O(name)), those whose name starts with O(prefix), or those
    carrying the collection's marker for a stack (O(stack)), with the state rows of every machine that loaded them.
  - Also returns the fleet machines (id, IP, metadata).
  - Never changes anything.
author:
  - houston.stack contributors (@houston-stack)
extends_documentation_fragment:
  - houston.stack._fleet
  - houston.stack._fleet.actiongroup_fleet
  - houston.stack._attributes
  - houston.stack._attributes.info_module
options:
  name:
    description:
      - Only this unit. Nothing is returned in RV(units) when fleet does not know it.
    type: str
  prefix:
    description:
      - Only units whose name starts with this string.
    type: str
  stack:
    description:
      - Only units carrying the collection's marker for this stack (C([X-Houston]) C(Stack=<stack>) and
        C(Owner=houston.stack)).
      - Also returns RV(versions_by_machine).
    type: str
  state_rows:
    description:
      - Return the state rows of each unit (RV(units[].machines)).
      - V(false) leaves them out, which keeps the result small on large clusters (a stack of 50 global units on
        300 machines has 15000 rows); RV(versions_by_machine) is returned either way.
    type: bool
    default: true
seealso:
  - module: houston.stack.fleet_unit
  - module: houston.stack.fleet_prune
"""

EXAMPLES = r"""
- name: Read the units of the example stack
  houston.stack.fleet_unit_info:
    stack: example
  register: example_units
  delegate_to: localhost

- name: Fail unless every unit of the stack is active everywhere it runs
  ansible.builtin.assert:
    that:
      - example_units.units | map(attribute='machines') | flatten | rejectattr('active_state', 'eq', 'active') | list | length == 0

- name: Read one unit
  houston.stack.fleet_unit_info:
    name: example-web@v1.service
  register: web
  delegate_to: localhost
"""

RETURN = r"""
units:
  description: The selected units, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Unit name.
      type: str
    desired_state:
      description: The unit's desiredState.
      type: str
    current_state:
      description: The unit's currentState (V(null) for global units).
      type: str
    machine_id:
      description: The machine a non-global unit is scheduled to.
      type: str
    global:
      description: Whether the unit is global.
      type: bool
    hash:
      description: fleet's hash of the unit file.
      type: str
    options:
      description: The unit options.
      type: list
      elements: dict
    content:
      description: The unit file text, as fleet serialises it.
      type: str
    marker:
      description: The collection's marker (V(null) when the unit has none).
      type: dict
      contains:
        stack:
          description: Stack the unit belongs to.
          type: str
        version:
          description: Version of the stack that created the unit.
          type: str
        owner:
          description: Always V(houston.stack) for units the collection created.
          type: str
    machines:
      description: State rows, one per machine that loaded the unit (left out with O(state_rows=false)).
      type: list
      elements: dict
      contains:
        machine_id:
          description: Machine id.
          type: str
        ip:
          description: The machine's primary IP.
          type: str
        hash:
          description: Hash of the unit file the machine loaded.
          type: str
        load_state:
          description: systemd LoadState.
          type: str
        active_state:
          description: systemd ActiveState.
          type: str
        sub_state:
          description: systemd SubState.
          type: str
versions_by_machine:
  description:
    - With O(stack), the versions of the stack's units each machine reports a state for, by machine IP, in the order
      of the units' names.
    - The units that extract the stack's file archive are left out, as their version is the archive's checksum.
  returned: when O(stack) is given
  type: dict
  sample: {"10.0.0.11": ["v2"], "10.0.0.12": ["v1", "v2"]}
machines:
  description: The live fleet machines, sorted by id.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Machine id.
      type: str
    ip:
      description: Primary IP.
      type: str
    metadata:
      description: Machine metadata.
      type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.houston.stack.plugins.module_utils import _unitfile as unitfile
from ansible_collections.houston.stack.plugins.module_utils._fleet import FLEET_ARGSPEC, FleetClient, FleetError, state_row
from ansible_collections.houston.stack.plugins.module_utils._naming import is_archive_unit, is_owned, read_marker
from ansible_collections.houston.stack.plugins.module_utils._status import status_rows, versions_by_machine


def describe_unit(unit, rows, machines_by_id):
    options = unit.get("options") or []
    global_unit = unitfile.is_global(options)
    return {
        "name": unit["name"],
        "desired_state": unit.get("desiredState"),
        "current_state": None if global_unit else unit.get("currentState"),
        "machine_id": None if global_unit else unit.get("machineID"),
        "global": global_unit,
        "hash": unitfile.unit_hash(unitfile.normalise(options)),
        "options": options,
        "content": unitfile.render(options),
        "marker": read_marker(options),
        "machines": sorted((state_row(r, machines_by_id) for r in rows), key=lambda r: r["machine_id"] or ""),
    }


def collect(client, name=None, prefix=None, stack=None, state_rows=True):
    machines = client.machines()
    machines_by_id = {m["id"]: m for m in machines}
    if name:
        unit = client.unit(name)
        units = [unit] if unit else []
        rows = client.state(unit_name=name) if unit else []
    else:
        units = client.units()
        rows = None
    if prefix:
        units = [u for u in units if u["name"].startswith(prefix)]
    if stack:
        units = [u for u in units if is_owned(u.get("options"), stack)]
    if rows is None:
        rows = client.state() if units else []
    rows_by_unit = {}
    for row in rows:
        rows_by_unit.setdefault(row.get("name"), []).append(row)
    described = [describe_unit(u, rows_by_unit.get(u["name"], []), machines_by_id) for u in sorted(units, key=lambda u: u["name"])]
    result = {
        "units": described,
        "machines": [{"id": m["id"], "ip": m.get("primaryIP"), "metadata": m.get("metadata") or {}}
                     for m in sorted(machines, key=lambda m: m["id"])],
    }
    if stack:
        result["versions_by_machine"] = versions_by_machine(status_rows(u for u in described if not is_archive_unit(u["name"])))
    if not state_rows:
        for unit in described:
            del unit["machines"]
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(name=dict(type="str"), prefix=dict(type="str"), stack=dict(type="str"),
                           state_rows=dict(type="bool", default=True), **FLEET_ARGSPEC),
        supports_check_mode=True,
    )
    client = FleetClient.from_params(module.params)
    try:
        result = collect(client, module.params["name"], module.params["prefix"], module.params["stack"],
                         module.params["state_rows"])
    except FleetError as e:
        module.fail_json(msg=str(e), status=e.status)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
