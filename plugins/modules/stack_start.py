#!/usr/bin/python
# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: stack_start
short_description: Record the start of a deploy, store its file archive, stop the units to restart (internal helper of the roles)
version_added: 1.0.0
description:
  - Internal helper of the roles C(houston.stack.global_stack), C(houston.stack.service_stack) and
    C(houston.stack.standalone_stack) (their private role C(houston.stack.stack_deploy)); it is not meant to be used
    directly and its options and results may change without notice.
  - Runs, in this order, M(houston.stack.consul_history) (the deploy of O(version) recorded as running),
    M(houston.stack.consul_archive) (the O(files) stored, when there are any) and M(houston.stack.fleet_unit) for
    each unit of O(restart), last first (stopped, desiredState C(loaded), waiting until no machine runs it), with the
    module defaults that apply to tasks of those modules (by name or by action group). The C(src) files of O(files) are read on the controller, as
    M(houston.stack.consul_archive) reads them.
  - A failed step fails naming the stack, the step and the module's answer; the history entry recorded before a
    failed archive is returned, so the caller can record the deploy as failed.
author:
  - houston.stack contributors (@houston-stack)
extends_documentation_fragment:
  - houston.stack._attributes
attributes:
  check_mode:
    support: full
    details:
      - Check mode predicts the history entry and the archive, as the modules do, and writes nothing.
  diff_mode:
    support: none
  idempotent:
    support: none
    details:
      - Each run records a new history entry.
options:
  stack:
    description: Name of the stack (C(global) for the global stack).
    type: str
    required: true
  version:
    description: Version of the deploy.
    type: str
    required: true
  units:
    description: Fleet names of the deploy's units, recorded in the history.
    type: list
    elements: str
    default: []
  archive:
    description: SHA-256 of the deploy's file archive, recorded in the history.
    type: str
  files:
    description: The C(write_files) entries of the archive, as M(houston.stack.consul_archive) takes them.
    type: list
    elements: dict
    default: []
  protect:
    description: Archives never pruned, as M(houston.stack.consul_archive) takes them.
    type: list
    elements: str
    default: []
  restart:
    description:
      - Units that require a replaced unit, in chain order, as M(houston.stack.stack_plan) returns them in RV(houston.stack.stack_plan#module:final)
        (C(fleet_name), C(content)). They are stopped last first; the launch starts them again after the unit they
        require.
    type: list
    elements: dict
    default: []
  wait_timeout:
    description: How long to wait for each unit of O(restart) to stop, in seconds.
    type: int
    default: 300
notes:
  - Runs on the controller; the modules it runs talk to fleet and Consul over HTTP.
seealso:
  - module: houston.stack.stack_plan
  - module: houston.stack.stack_finish
  - module: houston.stack.consul_history
  - module: houston.stack.consul_archive
  - module: houston.stack.fleet_unit
"""

EXAMPLES = r"""
- name: Record the start of the deploy of version v2 of stack example and store its files
  houston.stack.stack_start:
    stack: example
    version: v2
    units: "{{ planned.names }}"
    archive: "{{ planned.archive.sha256 }}"
    files:
      - path: /opt/example/etc/app.conf
        content: "listen = 8080\n"
  register: started
"""

RETURN = r"""
history:
  description: The result of M(houston.stack.consul_history) (C(entry), whose C(id) the deploy finishes).
  returned: always
  type: dict
  sample: {entry: {id: 3c0d, version: v2, result: running}}
archive:
  description: The result of M(houston.stack.consul_archive) (C(sha256), C(chunks)); C(skipped) without O(files).
  returned: always
  type: dict
stopped:
  description: The results of M(houston.stack.fleet_unit) for the units of O(restart), in the order they were stopped.
  returned: always
  type: dict
  sample: {changed: true, units: [{name: example@v1.service, changed: true}]}
elapsed:
  description: Seconds the steps took.
  returned: always
  type: float
  sample: 0.05
"""
