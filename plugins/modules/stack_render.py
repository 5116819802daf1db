#!/usr/bin/python
# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: stack_render
short_description: Check a stack definition and render its unit templates and files (internal helper of the roles)
version_added: 1.0.0
description:
  - Internal helper of the roles C(houston.stack.global_stack), C(houston.stack.service_stack) and
    C(houston.stack.standalone_stack) (their private role C(houston.stack.stack_deploy)); it is not meant to be used
    directly and its options and results may change without notice.
  - Checks the stack's unit entries (names, versions, environments), its settings and its write_files entries, then
    renders, on the controller, every unit of the stack for O(environment) and every write_files entry, and returns
    them in RV(facts). Nothing is sent to fleet or Consul.
  - A unit without inline content is rendered from its template, as C(lookup('ansible.builtin.template')) renders it,
    with every variable of the task, the keys of O(variables) as top-level names, and C(stack), C(version),
    C(variables), C(unit), C(unit_version), C(unit_name) (its fleet name), C(unit_names) (short name to fleet name for
    every unit of the stack) and C(consul_service).
  - A write_files entry whose C(src) ends in C(.j2) is rendered the same way with the keys of O(variables), C(stack),
    C(version) and C(variables); another C(src) is returned as a path, an inline C(content) as it is.
  - Fails naming the stack and the unit or file on a bad unit entry, a template that cannot be found or rendered, a
    negative O(keep_versions), a write_files entry with both C(content) and C(src), or no unit left for
    O(environment).
author:
  - houston.stack contributors (@houston-stack)
extends_documentation_fragment:
  - houston.stack._attributes
attributes:
  check_mode:
    support: full
    details:
      - It only renders on the controller; check mode renders the same.
  diff_mode:
    support: none
  idempotent:
    support: full
    details:
      - It changes nothing.
options:
  stack:
    description: Name of the stack (C(global) for the global stack).
    type: str
    required: true
  kind:
    description: Kind of stack; it decides the fleet names of the units.
    type: str
    required: true
    choices:
      - global
      - standalone
      - service
  state:
    description:
      - V(present) renders the units (with the service unit of a service stack) and the files.
      - V(absent) only checks the unit entries and the settings, and returns empty lists.
    type: str
    default: present
    choices:
      - present
      - absent
  version:
    description: Version of the deploy (required for a service stack).
    type: raw
    default: ''
  environment:
    description: Environment of the deploy; unit entries and files limited to other environments are left out.
    type: raw
    default: ''
  units:
    description:
      - The stack's unit entries in order, C(name[:version][[environment:env]]) strings or mappings C(name), C(version),
        C(environments), C(template) or C(content).
    type: list
    elements: raw
    default: []
  service:
    description: The service unit of a service stack, a mapping with C(template) or C(content).
    type: dict
    default: {}
  variables:
    description: The stack's template variables.
    type: dict
    default: {}
  files:
    description:
      - The stack's write_files entries, mappings with C(path), C(content) or C(src), C(owner), C(group),
        C(permissions), C(encoding) and C(environment).
    type: list
    elements: raw
    default: []
  units_dir:
    description:
      - Directory of the unit templates, C(shared/<unit>.service.j2) and C(service/<stack>.service.j2); a relative
        C(template) of a unit entry is relative to it.
    type: str
    default: ''
  files_dir:
    description: Directory of relative write_files C(src) paths.
    type: str
    default: ''
  consul_service:
    description: Name of the Consul service of the stack, for the templates.
    type: str
    default: ''
  keep_versions:
    description: Previous versions the prune keeps; checked only (it must be 0 or more).
    type: int
    default: 1
notes:
  - Runs on the controller only.
seealso:
  - module: houston.stack.consul_archive
  - module: houston.stack.fleet_unit
"""

EXAMPLES = r"""
- name: Check and render the units and files of stack example
  houston.stack.stack_render:
    stack: example
    kind: service
    version: v1
    environment: lab
    units:
      - cache
      - web:1.9.3
    files:
      - path: /opt/example/etc/app.conf
        src: app.conf.j2
    variables:
      domain: example.com
    units_dir: "{{ playbook_dir }}/units"
    files_dir: "{{ playbook_dir }}/files"
    consul_service: example
  register: rendered
"""

RETURN = r"""
facts:
  description: What the roles keep with C(ansible.builtin.set_fact).
  returned: success
  type: dict
  contains:
    stack_deploy_rendered:
      description:
        - The units in deploy order (the service unit last), each a unit entry (C(unit), C(version), C(fleet_name),
          C(template), C(content), C(environments), C(service) for the service unit) with its rendered C(text).
        - Empty when O(state=absent).
      type: list
      elements: dict
      sample:
        - unit: cache
          version: v1
          fleet_name: example-cache@v1.service
          template: null
          content: null
          environments: []
          text: "[Unit]\nDescription=cache\n\n[Service]\nExecStart=/usr/bin/cache\n"
    stack_deploy_rendered_files:
      description:
        - The write_files entries for the environment, as M(houston.stack.consul_archive) takes them (C(path),
          C(owner), C(group), C(permissions) as octal text, C(content) or C(src), C(encoding)).
        - Empty when O(state=absent).
      type: list
      elements: dict
      sample:
        - path: /opt/example/etc/app.conf
          owner: root
          group: root
          permissions: "0644"
          content: "domain=example.com\n"
"""
