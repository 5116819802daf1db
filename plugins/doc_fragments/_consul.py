# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # The Consul connection options; kept in step with CONSUL_ARGSPEC in module_utils/_consul.py.
    DOCUMENTATION = r"""
options:
  consul_address:
    description:
      - Address of the Consul agent's HTTP API, V(host:port) or V(http://host:port) / V(https://host:port).
      - Without a scheme, V(https) is used when the E(CONSUL_HTTP_SSL) environment variable is V(true), else V(http).
      - If not set, the value of the E(CONSUL_HTTP_ADDR) environment variable is used.
    type: str
    default: 127.0.0.1:8500
  consul_token:
    description:
      - ACL token sent in the C(X-Consul-Token) header. It is never logged, returned or written into unit text.
      - If not set, the value of the E(CONSUL_HTTP_TOKEN) environment variable is used.
    type: str
  consul_datacenter:
    description:
      - Datacenter to query (C(?dc=)); the agent's own datacenter when not set.
    type: str
  consul_validate_certs:
    description:
      - Whether to verify the TLS certificate of an V(https://) address.
      - If not set, the value of the E(CONSUL_HTTP_SSL_VERIFY) environment variable is used.
    type: bool
    default: true
  consul_ca_path:
    description:
      - CA bundle used to verify the TLS certificate of an V(https://) address.
      - If not set, the value of the E(CONSUL_CACERT) environment variable is used.
    type: path
  consul_client_cert:
    description:
      - Client certificate (PEM) presented to an V(https://) address.
      - If not set, the value of the E(CONSUL_CLIENT_CERT) environment variable is used.
    type: path
  consul_client_key:
    description:
      - Private key (PEM) of O(consul_client_cert).
      - If not set, the value of the E(CONSUL_CLIENT_KEY) environment variable is used.
    type: path
  consul_timeout:
    description:
      - Timeout in seconds of each HTTP request to Consul (blocking queries add their wait time to it).
    type: int
    default: 10
notes:
  - >-
    The module talks to Consul from where it runs (the controller or an execution environment, with
    C(hosts: localhost) or C(delegate_to: localhost)); CoreOS hosts have no Python.
"""

    ACTIONGROUP_CONSUL = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/houston.stack.consul) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - houston.stack.consul
"""
