# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # The fleet connection options; kept in step with FLEET_ARGSPEC in module_utils/_fleet.py.
    DOCUMENTATION = r"""
options:
  fleet_endpoint:
    description:
      - The fleet API endpoint, either V(unix:///path/to/fleet.sock) or V(http://host:port) / V(https://host:port).
      - If not set, the value of the E(FLEETCTL_ENDPOINT) environment variable is used.
    type: str
    default: unix:///var/run/fleet.sock
  fleet_timeout:
    description:
      - Timeout in seconds of each HTTP request to fleet.
    type: int
    default: 10
  fleet_retries:
    description:
      - How many times a request is retried, with exponential backoff, after a connection error or an HTTP 502, 503 or 504
        answer (fleet answers 503 while it cannot reach etcd).
    type: int
    default: 3
  fleet_validate_certs:
    description:
      - Whether to verify the TLS certificate of an V(https://) endpoint.
    type: bool
    default: true
  fleet_ca_path:
    description:
      - CA bundle used to verify the TLS certificate of an V(https://) endpoint.
    type: path
  fleet_client_cert:
    description:
      - Client certificate (PEM) presented to an V(https://) endpoint.
    type: path
  fleet_client_key:
    description:
      - Private key (PEM) of O(fleet_client_cert).
    type: path
notes:
  - >-
    The module talks to the fleet API from where it runs (the controller or an execution environment, with
    C(hosts: localhost) or C(delegate_to: localhost)); CoreOS hosts have no Python.
  - fleet's API has no authentication; anybody who can reach it can read unit text, so never put secrets in units.
"""

    ACTIONGROUP_FLEET = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/houston.stack.fleet) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - houston.stack.fleet
"""
