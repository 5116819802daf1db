#!/usr/bin/python
# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: consul_history_info
short_description: Read a stack's deploy history from Consul
version_added: 1.0.0
description:
  - Returns the deploy history of O(stack) (C(houston/<stack>/history)), the current version
    (C(houston/<stack>/current)) and the previous successful versions, as written by M(houston.stack.consul_history).
author:
  - houston.stack contributors (@houston-stack)
extends_documentation_fragment:
  - houston.stack._consul
  - houston.stack._consul.actiongroup_consul
  - houston.stack._attributes
  - houston.stack._attributes.info_module
options:
  stack:
    description: Name of the stack.
    type: str
    required: true
seealso:
  - module: houston.stack.consul_history
"""

EXAMPLES = r"""
- name: Find the version to roll back to
  houston.stack.consul_history_info:
    stack: example
  delegate_to: localhost
  register: example_history

- name: Show it
  ansible.builtin.debug:
    msg: "current {{ example_history.current }}, previous {{ example_history.previous_versions | first | default('none') }}"
"""

RETURN = r"""
history:
  description: The deploy entries, newest first (see RV(houston.stack.consul_history#module:entry)).
  returned: success
  type: list
  elements: dict
current:
  description: The current version, or null when no deploy succeeded yet.
  returned: success
  type: str
  sample: v2
previous_versions:
  description: Versions of successful deploys, newest first, without the current one.
  returned: success
  type: list
  elements: str
  sample: [v1]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.houston.stack.plugins.module_utils._consul import CONSUL_ARGSPEC, ConsulClient, ConsulError
from ansible_collections.houston.stack.plugins.module_utils._history import History, previous_versions
from ansible_collections.houston.stack.plugins.module_utils._naming import InvalidName, validate_stack


def main():
    module = AnsibleModule(argument_spec=dict(stack=dict(type="str", required=True), **CONSUL_ARGSPEC),
                           supports_check_mode=True)
    try:
        history = History(ConsulClient.from_params(module.params), validate_stack(module.params["stack"]))
        entries, _index, current = history.read()
    except InvalidName as e:
        module.fail_json(msg=f"consul_history_info: {e}")
    except ConsulError as e:
        module.fail_json(msg=f"consul_history_info for stack {module.params['stack']!r}: {e}", status=e.status)
    module.exit_json(changed=False, history=entries, current=current, previous_versions=previous_versions(entries, current))


if __name__ == "__main__":
    main()
