#!/usr/bin/python
# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: stack_finish
short_description: Verify in Consul, prune, record a deploy whose units run and release its lock (internal helper of the roles)
version_added: 1.0.0
description:
  - Internal helper of the roles C(houston.stack.global_stack), C(houston.stack.service_stack) and
    C(houston.stack.standalone_stack) (their private role C(houston.stack.stack_deploy)); it is not meant to be used
    directly and its options and results may change without notice.
  - Runs, in this order, M(houston.stack.consul_service_wait) (when O(wait_consul); the service tagged O(version)
    passing on each of O(expected_addresses)), M(houston.stack.fleet_prune) (the stack's units other than O(keep))
    and M(houston.stack.consul_history) (the deploy recorded as successful, finishing the entry O(history_id)), then,
    with O(lock_session), M(houston.stack.consul_lock) releasing the deploy lock, with the module defaults that apply
    to tasks of those modules (by name or by action group).
  - A failed step stops the sequence, so nothing is pruned or recorded as successful after a failed wait, and fails
    naming the stack, the step and the module's answer. The results of the steps before it are returned.
  - The deploy is recorded before the lock is released, so a release that fails does not fail the task; RV(lock)
    says why (its C(released) false), and the lock is then the caller's to release (the roles' C(always:) release
    does, and fails naming Consul's answer).
author:
  - houston.stack contributors (@houston-stack)
extends_documentation_fragment:
  - houston.stack._attributes
attributes:
  check_mode:
    support: full
    details:
      - Check mode does not wait for Consul, records nothing and releases no lock; the prune predicts what it would
        remove.
  diff_mode:
    support: none
  idempotent:
    support: full
    details:
      - Once the units of O(keep) alone are left and the deploy is recorded, it changes nothing.
options:
  stack:
    description: Name of the stack (C(global) for the global stack).
    type: str
    required: true
  kind:
    description: Kind of stack; a global stack's units are pruned without a name prefix.
    type: str
    required: true
    choices:
      - global
      - standalone
      - service
  version:
    description: Version of the deploy (the tag its service instances carry in Consul, the version recorded).
    type: str
    required: true
  wait_consul:
    description: Wait until the service passes in Consul before the prune.
    type: bool
    default: true
  consul_service:
    description: Name of the Consul service. Required with O(wait_consul=true).
    type: str
  expected_addresses:
    description: Addresses (node or service IPs) that must each have a passing instance of the service.
    type: list
    elements: str
    default: []
  consul_wait_timeout:
    description: How long to wait for the service, in seconds.
    type: int
    default: 120
  keep:
    description: Unit names the prune keeps (this deploy's and those of the versions kept for rollback).
    type: list
    elements: str
    default: []
  max_remove:
    description: Fail when the prune would remove more units than this.
    type: int
    default: 50
  history_id:
    description: Id of the history entry that recorded the start of the deploy.
    type: str
  units:
    description: Fleet names of the deploy's units, recorded in the history.
    type: list
    elements: str
    default: []
  archive:
    description: SHA-256 of the deploy's file archive, recorded in the history.
    type: str
  lock_session:
    description:
      - The Consul session holding the deploy lock of O(stack) (RV(houston.stack.consul_lock#module:session) of its
        acquire). Once the deploy is recorded, the lock is released, so a deploy waiting for it starts without waiting
        for the rest of this play.
      - Without it, the lock is left alone.
    type: str
notes:
  - Runs on the controller; the modules it runs talk to fleet and Consul over HTTP.
seealso:
  - module: houston.stack.stack_plan
  - module: houston.stack.consul_service_wait
  - module: houston.stack.fleet_prune
  - module: houston.stack.consul_history
  - module: houston.stack.consul_lock
"""

EXAMPLES = r"""
- name: Verify, prune and record the deploy of version v2 of stack example
  houston.stack.stack_finish:
    stack: example
    kind: service
    version: v2
    consul_service: example
    expected_addresses: [10.0.0.11, 10.0.0.12]
    keep: "{{ planned.keep }}"
    history_id: "{{ started.entry.id }}"
    units: "{{ planned.names }}"
    lock_session: "{{ deploy_lock.session }}"
  register: finished
"""

RETURN = r"""
consul:
  description: The result of M(houston.stack.consul_service_wait) (C(passing), C(elapsed)); C(skipped) when it did not run.
  returned: always
  type: dict
  sample: {passing: 2, elapsed: 0.11}
prune:
  description:
    - The result of M(houston.stack.fleet_prune) (C(removed), or C(would_remove) in check mode); C(skipped) when an
      earlier step failed.
  returned: always
  type: dict
history:
  description: The result of M(houston.stack.consul_history) (C(entry)); C(skipped) in check mode or after a failed step.
  returned: always
  type: dict
lock:
  description:
    - The result of M(houston.stack.consul_lock) releasing the lock, with C(released) true; C(released) false and
      C(msg) (Consul's answer) when the release failed; C(skipped) without O(lock_session), in check mode or after a
      failed step.
  returned: always
  type: dict
  sample: {released: true, changed: true, key: houston/example/lock}
elapsed:
  description: Seconds the steps took.
  returned: always
  type: float
  sample: 0.2
"""
