#!/usr/bin/python
# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: fleet_unit
short_description: Ensure a fleet unit exists with the given content in the desired state
version_added: 1.0.0
description:
  - Ensures that the fleet unit O(name) has the content given by O(content) (unit-file text) or O(options) (a list of
    fleet unit options), in the desired O(state), or that it does not exist (O(state=absent)).
  - Content is compared after fleet's normalisation (names and values trimmed, options grouped by section). fleet cannot
    change the options of an existing unit in place, so a unit whose content differs is replaced (destroyed, then
    created again with the new content).
  - The reported RV(operation) says what was done; C(changed) is true whenever it is not V(none).
  - With O(wait=true) (the default for O(state=launched)), the module waits until the unit is active on every machine
    fleet is expected to run it on. For a global unit these are the machines matching its C([X-Fleet]) constraints,
    computed from the fleet machine list, so a unit that no machine runs is never a success. For a non-global unit this
    is the machine fleet scheduled it to. The wait fails at once when a machine reports the unit C(failed), naming the
    machine id, its IP and the unit's states there.
  - With O(wait=true) and O(state=loaded), waits until the unit is loaded on those machines; with O(state=inactive) or
    O(state=absent), waits until no machine reports the unit any more.
  - The content is checked before anything is touched. Unit text must have sections and C(Name=Value) lines,
    C([X-Fleet]) options must be known to fleet, and a global unit cannot use C(MachineID), C(MachineOf), C(Conflicts)
    or C(Replaces).
author:
  - houston.stack contributors (@houston-stack)
extends_documentation_fragment:
  - houston.stack._fleet
  - houston.stack._fleet.actiongroup_fleet
  - houston.stack._wait
  - houston.stack._attributes
attributes:
  check_mode:
    support: full
    details:
      - Check mode reads fleet, predicts C(changed) and RV(operation), writes nothing and does not wait.
  diff_mode:
    support: full
    details:
      - The diff is the unit file before and after; the headers carry the unit's desiredState.
  idempotent:
    support: full
options:
  name:
    description:
      - Name of the unit, for example V(example-web@v1.service).
      - fleet's unit name rules apply. A template (V(foo@.service)) can only be in O(state=inactive) or O(state=absent).
    type: str
    required: true
  content:
    description:
      - The unit file text (systemd syntax).
      - Mutually exclusive with O(options). One of them is required unless O(state=absent).
    type: str
  options:
    description:
      - The unit as a list of fleet unit options.
      - Mutually exclusive with O(content).
    type: list
    elements: dict
    suboptions:
      section:
        description: Section of the option, for example V(Service) or V(X-Fleet).
        type: str
        required: true
      name:
        description: Name of the option, for example V(ExecStart).
        type: str
        required: true
      value:
        description: Value of the option.
        type: str
        default: ""
  state:
    description:
      - V(launched) (started), V(loaded) (scheduled and loaded, not started), V(inactive) (known to fleet, not
        scheduled), or V(absent) (destroyed).
    type: str
    choices: [launched, loaded, inactive, absent]
    default: launched
  wait:
    description:
      - Whether to wait until the unit has reached O(state) on the machines it belongs on, polling fleet (first check
        at once, then every 0.05 s for 2 s, every 0.1 s until 10 s, then backing off to one check a second), for at
        most O(wait_timeout) seconds.
      - Defaults to V(true) for O(state=launched) and to V(false) otherwise.
  remove_on_failure:
    description:
      - When the wait fails (a machine reports the unit failed, or O(wait_timeout) expires), destroy the unit if this run
        created or replaced it, so a broken new unit does not stay behind. A unit that was already there is never removed.
    type: bool
    default: true
seealso:
  - module: houston.stack.fleet_unit_info
  - module: houston.stack.fleet_prune
"""

EXAMPLES = r"""
- name: Launch a unit and wait until it is active on its machine
  houston.stack.fleet_unit:
    name: example-web@v1.service
    content: |
      [Unit]
      Description=Example web server

      [Service]
      ExecStart=/usr/bin/python3 -m http.server 8080

      [X-Fleet]
      MachineMetadata=role=web
    wait_timeout: 120
  delegate_to: localhost

- name: Run a global unit on every web machine, given as options
  houston.stack.fleet_unit:
    name: node-exporter@v2.service
    options:
      - {section: Service, name: ExecStart, value: /usr/bin/node_exporter}
      - {section: X-Fleet, name: Global, value: "true"}
      - {section: X-Fleet, name: MachineMetadata, value: role=web}
  register: exporter
  delegate_to: localhost

- name: Show where it runs
  ansible.builtin.debug:
    msg: "{{ exporter.machines | map(attribute='ip') | list }}"

- name: Stop a unit but keep it loaded
  houston.stack.fleet_unit:
    name: example-web@v1.service
    content: "{{ lookup('ansible.builtin.file', 'example-web.service') }}"
    state: loaded
  delegate_to: localhost

- name: Destroy a unit
  houston.stack.fleet_unit:
    name: example-web@v1.service
    state: absent
  delegate_to: localhost

- name: Use one endpoint for every fleet module
  module_defaults:
    group/houston.stack.fleet:
      fleet_endpoint: http://127.0.0.1:49153
  block:
    - name: Launch the unit
      houston.stack.fleet_unit:
        name: example-web@v1.service
        content: "{{ lookup('ansible.builtin.file', 'example-web.service') }}"
      delegate_to: localhost
"""

RETURN = r"""
operation:
  description: What the module did (or would do in check mode).
  returned: always
  type: str
  choices: [created, replaced, state_changed, deleted, none]
  sample: created
unit:
  description: The unit as fleet reports it after the change (in check mode, as predicted).
  returned: when O(state) is not V(absent)
  type: dict
  contains:
    name:
      description: Unit name.
      type: str
      sample: example-web@v1.service
    hash:
      description: fleet's hash of the unit (SHA-1 of the normalised unit file), as in its state rows.
      type: str
      sample: 1c6fb6f3684bafb0c173d8b8b957ceff031180c1
    desired_state:
      description: The unit's desiredState.
      type: str
      sample: launched
    current_state:
      description: The unit's currentState (V(null) for a global unit, which fleet does not report).
      type: str
      sample: launched
    machine_id:
      description: The machine a non-global unit is scheduled to (V(null) for global or unscheduled units).
      type: str
    global:
      description: Whether the unit is global.
      type: bool
    options:
      description: The unit options after fleet's normalisation.
      type: list
      elements: dict
machines:
  description:
    - The unit's state rows, one per machine that loaded it, with the machine's IP.
    - After a wait, the rows seen by the last check.
  returned: always
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
      sample: loaded
    active_state:
      description: systemd ActiveState.
      type: str
      sample: active
    sub_state:
      description: systemd SubState.
      type: str
      sample: running
expected_machines:
  description: Ids of the machines the wait expected the unit on.
  returned: when the module waited
  type: list
  elements: str
elapsed:
  description: Seconds spent waiting.
  returned: always
  type: float
  sample: 1.25
skipped_wait:
  description: True in check mode when a wait would have happened.
  returned: always
  type: bool
removed:
  description: True when a failed wait destroyed the unit this run had created or replaced (O(remove_on_failure)).
  returned: failure
  type: bool
"""

import copy

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.houston.stack.plugins.module_utils._fleet import FLEET_ARGSPEC, FleetClient
from ansible_collections.houston.stack.plugins.module_utils._fleet_unit import FleetUnit, WaitFailure, exit_with_result, plan
from ansible_collections.houston.stack.plugins.module_utils._wait import WAIT_ARGSPEC


def argument_spec():
    spec = dict(
        name=dict(type="str", required=True),
        content=dict(type="str"),
        options=dict(type="list", elements="dict", options=dict(
            section=dict(type="str", required=True),
            name=dict(type="str", required=True),
            value=dict(type="str", default=""),
        )),
        state=dict(type="str", default="launched", choices=["launched", "loaded", "inactive", "absent"]),
        remove_on_failure=dict(type="bool", default=True),
    )
    spec.update(copy.deepcopy(WAIT_ARGSPEC))
    spec.update(copy.deepcopy(FLEET_ARGSPEC))
    return spec


def run(module, client, clock=None):
    params = module.params
    unit = FleetUnit(client, params["name"], params["state"], params["content"], params["options"])
    desired = unit.desired_options()
    existing = client.unit(unit.name)
    operation = plan(existing, desired, unit.state)
    wait = params["wait"] if params["wait"] is not None else unit.state == "launched"
    result = dict(changed=operation != "none", operation=operation, elapsed=0.0, skipped_wait=False)
    if module._diff:
        result["diff"] = unit.diff(existing, desired)

    if module.check_mode:
        if unit.state != "absent":
            result["unit"] = unit.predicted(existing, desired, operation)
        result["machines"] = unit.rows() if existing else []
        result["skipped_wait"] = bool(wait) and operation != "none"
        return result

    unit.apply(operation, desired, params["wait_timeout"], clock)
    if wait:
        outcome = unit.wait_for(desired, params["wait_timeout"], clock)
        result.update(elapsed=outcome.elapsed, machines=outcome.observation["rows"],
                      expected_machines=outcome.observation["expected"])
        if not outcome.done:
            message = unit.wait_message(outcome)
            result["removed"] = False
            if params["remove_on_failure"] and operation in ("created", "replaced"):
                client.delete(unit.name)
                result["removed"] = True
                message += f"; unit {unit.name!r} destroyed (remove_on_failure)"
            raise WaitFailure(message, result)
    else:
        result["machines"] = unit.rows() if unit.state != "absent" else []
    if unit.state != "absent":
        result["unit"] = unit.describe(client.unit(unit.name), desired)
    return result


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        mutually_exclusive=[("content", "options")],
        required_if=[(field, value, ("content", "options"), True)
                     for field, value in (("state", "launched"), ("state", "loaded"), ("state", "inactive"))],
        supports_check_mode=True,
    )
    client = FleetClient.from_params(module.params)
    exit_with_result(module, lambda: run(module, client))


if __name__ == "__main__":
    main()
