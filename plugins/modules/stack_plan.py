#!/usr/bin/python
# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: stack_plan
short_description: Plan the deploy of a stack and take its deploy lock (internal helper of the roles)
version_added: 1.0.0
description:
  - Internal helper of the roles C(houston.stack.global_stack), C(houston.stack.service_stack) and
    C(houston.stack.standalone_stack) (their private role C(houston.stack.stack_deploy)); it is not meant to be used
    directly and its options and results may change without notice.
  - Runs, in check mode and in this order, M(houston.stack.consul_lock) (a look at the deploy lock, unless
    O(lock_session) is given), M(houston.stack.consul_history_info), M(houston.stack.consul_archive) (when there are
    O(files)), M(houston.stack.fleet_unit_info) and M(houston.stack.fleet_prune), with the module defaults that apply
    to tasks of those modules (by name or by action group). Nothing is written to fleet or Consul, but for the deploy
    lock O(take_lock) takes.
  - From their results it builds the unit chain (each unit requiring the previous one when O(dependencies), with the
    stack's ownership marker, the file archive unit first, or last and unchained for a global stack), what the deploy
    does to each unit (create, replace, start, restart or keep), the units the prune keeps, and whether anything is to
    be done.
  - A service stack with O(instances) or rolling mode C(per_machine) has its service unit expanded into its instances
    (C(instances), or one unit per machine fleet knows that the service unit's C([X-Fleet]) options select), and its
    O(rolling) settings checked, before anything is read.
  - When there is nothing to do, no other deploy holds the lock and O(verify_consul=true), waits with
    M(houston.stack.consul_service_wait) (not in check mode) until the running version passes in Consul.
  - With O(take_lock=true), not in check mode, a deploy with something to do, or that found another deploy holding
    the lock, then takes the deploy lock with M(houston.stack.consul_lock), waiting for it. When the lock's index is
    one past the one the look saw, no other deploy held it in between and the plan stands. Otherwise, and always
    after another deploy held it, the plan is made again under the lock. A deploy with nothing to do takes no lock.
  - The lock taken stays held when the task ends (RV(lock_taken)); the caller releases it, also when the task fails.
  - Fails naming the stack, the step and the module's answer when a module fails, or when a unit is invalid.
author:
  - houston.stack contributors (@houston-stack)
extends_documentation_fragment:
  - houston.stack._attributes
attributes:
  check_mode:
    support: full
    details:
      - The plan is the same in check mode; it takes no lock and does not verify the running version in Consul.
  diff_mode:
    support: none
  idempotent:
    support: full
    details:
      - The stack is never changed. The deploy lock O(take_lock) takes is reported as no change; the caller releases
        it.
options:
  stack:
    description: Name of the stack (C(global) for the global stack).
    type: str
    required: true
  kind:
    description: Kind of stack; a global stack's units are read without a name prefix and its archive goes last.
    type: str
    required: true
    choices:
      - global
      - standalone
      - service
  version:
    description:
      - Version of the deploy. Empty for a global or standalone stack deployed without one, which gets the first 8
        hex digits of the SHA-1 of its units' content.
    type: raw
    default: ''
  units:
    description: The rendered units in deploy order, as M(houston.stack.stack_render) returns them.
    type: list
    elements: dict
    default: []
  files:
    description: The rendered write_files entries, as M(houston.stack.stack_render) returns them.
    type: list
    elements: dict
    default: []
  dependencies:
    description: Whether each unit requires the previous one of the chain.
    type: bool
    default: true
  keep_versions:
    description: Previous successful versions whose units the prune keeps for rollback.
    type: int
    default: 1
  max_remove:
    description: Fail when the prune would remove more units than this.
    type: int
    default: 50
  rolling_back:
    description: The deploy restores an earlier version; it is deployed even when nothing else differs.
    type: bool
    default: false
  take_lock:
    description:
      - Take the stack's deploy lock when there is something to deploy or another deploy holds it, and plan again
        under it when another deploy may have changed the stack since the plan looked. Not in check mode.
    type: bool
    default: false
  lock_session:
    description:
      - A session that holds the deploy lock already (an auto-rollback redeploys under the failed deploy's lock). The
        lock is not looked at, and O(take_lock) renews it with this session instead of acquiring it.
    type: str
  lock_ttl:
    description: TTL of the lock's session in seconds (M(houston.stack.consul_lock)'s O(houston.stack.consul_lock#module:ttl)).
    type: int
    default: 30
  lock_wait_timeout:
    description: How long to wait for a lock another deploy holds, in seconds; V(0) fails at once.
    type: int
    default: 60
  lock_holder:
    description: Facts about this deploy stored with the lock (M(houston.stack.consul_lock)'s O(houston.stack.consul_lock#module:holder)).
    type: dict
    default: {}
  instances:
    description: Number of instances of a service stack's service unit (V(0), one service unit).
    type: int
    default: 0
  rolling:
    description:
      - Rolling settings of a service stack with instances (C(mode), C(batch_size), C(max_unavailable), C(order),
        C(rollback_on_failure); docs/stack-definition.md), over their defaults.
    type: dict
    default: {}
  verify_consul:
    description:
      - With nothing to do and no other deploy holding the lock, wait until the service tagged with the version passes
        in Consul (as many instances as the chain has, at least one). Not in check mode.
    type: bool
    default: false
  consul_service:
    description: Name of the Consul service. Required with O(verify_consul=true).
    type: str
  consul_wait_timeout:
    description: How long the verification waits for the service, in seconds.
    type: int
    default: 120
notes:
  - Runs on the controller; the modules it runs talk to fleet and Consul over HTTP.
seealso:
  - module: houston.stack.stack_render
  - module: houston.stack.fleet_prune
  - module: houston.stack.stack_finish
"""

EXAMPLES = r"""
- name: Plan the deploy of stack example
  houston.stack.stack_plan:
    stack: example
    kind: service
    version: v2
    units: "{{ rendered.facts.stack_deploy_rendered }}"
    files: "{{ rendered.facts.stack_deploy_rendered_files }}"
  register: planned

- name: Show what the deploy would do
  ansible.builtin.debug:
    msg: "{{ planned.changes if planned.needed else 'nothing to do' }}"

- name: Plan under the deploy lock, taken when there is something to deploy
  block:
    - name: Plan the deploy of stack example, taking its lock
      houston.stack.stack_plan:
        stack: example
        kind: service
        version: v3
        units: "{{ rendered.facts.stack_deploy_rendered }}"
        take_lock: true
        lock_holder:
          version: v3
      register: locked_plan

    - name: Show the plan made under the lock
      ansible.builtin.debug:
        msg: "{{ locked_plan.changes }} (planned again under the lock: {{ locked_plan.replanned }})"
  always:
    - name: Release the deploy lock
      houston.stack.consul_lock:
        stack: example
        state: released
        session: "{{ locked_plan.lock_taken.session }}"
      when: locked_plan.lock_taken.session is defined
"""

RETURN = r"""
lock:
  description: The result of the look at the deploy lock (C(held), C(lock_index)); empty with O(lock_session).
  returned: success
  type: dict
  sample: {held: false, lock_index: 3, key: houston/example/lock}
lock_taken:
  description:
    - The deploy lock this deploy holds when the task ends, the result of M(houston.stack.consul_lock) (C(session),
      C(lock_index), C(waited), C(holder)); empty when it took none. Also returned when the plan failed after taking it.
    - With O(lock_session), at least that C(session).
  returned: always
  type: dict
  sample: {session: 4a5e1c9e-8d0b-4f8e-9a54-3e9c1f0b2d11, lock_index: 4, waited: 0.0}
replanned:
  description: Whether the plan was made again under the lock (the results above are then that plan's).
  returned: always
  type: bool
history:
  description: The result of M(houston.stack.consul_history_info) (C(history), C(current)).
  returned: success
  type: dict
archive:
  description:
    - The check-mode result of M(houston.stack.consul_archive) (C(sha256), C(unit_name), C(unit_content), C(changed)).
    - C(skipped) true when there are no O(files).
  returned: success
  type: dict
fleet_units:
  description: The result of M(houston.stack.fleet_unit_info) for the stack's name prefix (C(units)).
  returned: success
  type: dict
prune:
  description: The check-mode result of M(houston.stack.fleet_prune) (C(would_remove), C(kept)).
  returned: success
  type: dict
final:
  description: The units of the chain in launch order, each with its final C(content).
  returned: success
  type: list
  elements: dict
launch:
  description:
    - The units of RV(final) that M(houston.stack.fleet_chain) launches, in order (C(name), C(content)); the instances
      of a service are left out (the role rolls them batch by batch).
  returned: success
  type: list
  elements: dict
instances:
  description: How many instances of the service RV(final) has (V(0) without O(instances) or rolling mode C(per_machine)).
  returned: success
  type: int
  sample: 0
names:
  description: The fleet names of RV(final).
  returned: success
  type: list
  elements: str
  sample: [example-file-deploy@0a1b2c3d.service, example-cache@v2.service, example@v2.service]
version:
  description: The version of the deploy (O(version), or the one named by the units' content).
  returned: success
  type: str
  sample: v2
plan:
  description: What the deploy does to each unit of RV(names), in order (C(name), C(action), C(reason)).
  returned: success
  type: list
  elements: dict
  sample: [{name: example@v2.service, action: create, reason: new unit}]
changes:
  description: The entries of RV(plan) whose action is not C(keep).
  returned: success
  type: list
  elements: dict
keep:
  description: Unit names the prune keeps (this deploy's and those of the versions kept for rollback).
  returned: success
  type: list
  elements: str
needed:
  description:
    - Whether the deploy has anything to do, a unit to launch, a unit to prune, an archive to store, a history that
      names another version, or O(rolling_back).
  returned: success
  type: bool
verified:
  description:
    - The result of M(houston.stack.consul_service_wait) (C(passing)) when the plan verified the service; empty when
      it did not.
  returned: success
  type: dict
  sample: {passing: 2, elapsed: 0.01}
roll:
  description: The checked rolling settings of a service with instances (defaults included); empty without instances.
  returned: success
  type: dict
  sample: {mode: instances, batch_size: 1, max_unavailable: 1, order: start_first, rollback_on_failure: true}
started:
  description: When the (first) plan was made (UTC, ISO 8601, no offset); the deploy's start.
  returned: success
  type: str
  sample: '2026-12-03T16:40:00.123456'
start_stamp:
  description: The same moment as a Unix timestamp.
  returned: success
  type: float
elapsed:
  description: Seconds the plan took.
  returned: always
  type: float
  sample: 0.08
"""
