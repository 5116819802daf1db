#!/usr/bin/python
# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: consul_service_wait
short_description: Wait until a Consul service passes its health checks where it is expected
version_added: 1.0.0
description:
  - Waits until the Consul service O(service), filtered by O(tag) (for example the deployed version), has a passing
    instance on each of O(expected_addresses), or at least O(min_passing) passing instances.
  - An instance passes when all its checks (node and service) are C(passing). Its address is the service address, or
    the node address when the service has none.
  - Uses Consul blocking queries on C(/v1/health/service/<service>) (C(index) and C(wait)), not fixed sleeps, with
    Consul's index rules (block with an index of at least 1, start over when the index goes backwards).
  - Fails after O(wait_timeout) seconds, listing the instances that pass and those that do not, with node, address and
    the output of the failing checks, and the expected addresses still missing.
  - Never changes anything.
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
      - Check mode reads the service's health once and reports it, without waiting or failing.
  diff_mode:
    support: N/A
    details:
      - This action does not modify state.
  idempotent:
    support: full
    details:
      - This action does not modify state.
options:
  service:
    description: Name of the Consul service.
    type: str
    required: true
  tag:
    description: Only count instances carrying this tag.
    type: str
  expected_addresses:
    description:
      - Addresses (node or service IPs) that must each have a passing instance. Mutually exclusive with O(min_passing).
    type: list
    elements: str
  min_passing:
    description:
      - Number of passing instances to wait for, when O(expected_addresses) is not given. Defaults to V(1).
    type: int
  wait_timeout:
    description: How long to wait, in seconds.
    type: int
    default: 120
seealso:
  - module: houston.stack.fleet_unit
"""

EXAMPLES = r"""
- name: Wait until version v2 of the example service passes on the machines fleet placed it on
  houston.stack.consul_service_wait:
    service: example
    tag: v2
    expected_addresses:
      - 10.0.0.11
      - 10.0.0.12
    wait_timeout: 300
  delegate_to: localhost
  register: example_health

- name: Wait for three passing instances
  houston.stack.consul_service_wait:
    service: example
    min_passing: 3
  delegate_to: localhost
"""

RETURN = r"""
instances:
  description: The instances seen last (passing or not).
  returned: always
  type: list
  elements: dict
  contains:
    node: {description: Consul node name., type: str, returned: always}
    address: {description: "Service address, or the node address.", type: str, returned: always}
    service_id: {description: Service instance id., type: str, returned: always}
    tags: {description: Service tags., type: list, elements: str, returned: always}
    status: {description: "Aggregate status: passing, warning or critical.", type: str, returned: always}
    checks:
      description: The instance's checks (name, check_id, status, output).
      type: list
      elements: dict
      returned: always
passing:
  description: Number of passing instances seen last.
  returned: always
  type: int
  sample: 2
missing:
  description: Expected addresses without a passing instance.
  returned: always
  type: list
  elements: str
elapsed:
  description: Seconds spent waiting.
  returned: always
  type: float
  sample: 1.7
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.houston.stack.plugins.module_utils._consul import (
    CONSUL_ARGSPEC, ConsulClient, ConsulError, describe_instances, evaluate_instances, instances_from_health,
    wait_for_service,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            service=dict(type="str", required=True),
            tag=dict(type="str"),
            expected_addresses=dict(type="list", elements="str"),
            min_passing=dict(type="int", no_log=False),
            wait_timeout=dict(type="int", default=120),
            **CONSUL_ARGSPEC
        ),
        mutually_exclusive=[("expected_addresses", "min_passing")],
        supports_check_mode=True,
    )
    p = module.params
    tags = [p["tag"]] if p["tag"] else []
    min_passing = 1 if p["min_passing"] is None else p["min_passing"]
    what = f"service {p['service']!r}" + (f" with tag {p['tag']!r}" if p["tag"] else "")
    try:
        client = ConsulClient.from_params(p)
        if module.check_mode:
            entries, _index = client.health_service(p["service"], tags=tags)
            instances = instances_from_health(entries)
            satisfied, missing = evaluate_instances(instances, p["expected_addresses"], min_passing)
            elapsed = 0.0
        else:
            satisfied, instances, missing, elapsed = wait_for_service(
                client, p["service"], tags=tags, expected_addresses=p["expected_addresses"], min_passing=min_passing,
                timeout=p["wait_timeout"])
    except ConsulError as e:
        module.fail_json(msg=f"consul_service_wait for {what}: {e}", status=e.status)
    passing = sum(1 for i in instances if i["status"] == "passing")
    result = dict(changed=False, instances=instances, passing=passing, missing=missing, elapsed=round(elapsed, 3))
    if not satisfied and not module.check_mode:
        want = (f"a passing instance on each of {', '.join(p['expected_addresses'])}" if p["expected_addresses"]
                else f"{min_passing} passing instance(s)")
        seen = describe_instances(instances)
        msg = (f"Timed out after {p['wait_timeout']}s waiting for {want} of {what}: {passing} passing"
               + (f"; no passing instance on {', '.join(missing)}" if missing else "")
               + ("; instances: " + " | ".join(seen) if seen else "; Consul knows no instance"))
        module.fail_json(msg=msg, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
