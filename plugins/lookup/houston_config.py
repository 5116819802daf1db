# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: houston_config
author: houston.stack contributors (@houston-stack)
version_added: 1.0.0
short_description: Read a Houston configuration directory as a houston.stack stack definition
description:
  - Reads a configuration directory of Houston 0.3 (C(manifest.yaml), C(units/shared), C(units/service),
    C(files/global.yaml), C(files/standalone/<name>.yaml), C(files/service/<name>.yaml), C(file-unit.template))
    without any change to it, for one environment.
  - Returns the stack definition the roles of this collection take (C(houston_environment), C(houston_fleet_endpoint),
    C(houston_consul_address), C(houston_variables), C(houston_global), C(houston_standalone), C(houston_services)).
  - Unit files are returned as text (C(content)) with Houston's substitutions already applied, as Houston applied
    them before submitting a unit to fleet, C({service}) becomes the stack name (empty for global units, as in Houston 0.3),
    C({<variable>}) becomes the value of that manifest variable, and a reference C(<unit>.service) to another unit of
    the run becomes that unit's versioned fleet name (for example C(Requires=consul.service) becomes
    C(Requires=consul@35e75d05.service)).
  - In C(files/*.yaml) write_files entries, C({service}) and C({environment}) are substituted (manifest variables are
    not, as in Houston); entries with an C(environment) key for another environment are left out; integer
    C(permissions) (YAML 1.1 octal such as C(0755)) become octal strings; entries without C(permissions) get
    C('0600') (the mode Houston's archives carried).
  - A malformed directory, an unknown environment or a missing unit file fails with a message naming the file and
    the field.
options:
  _terms:
    description: Path of the Houston configuration directory (the directory holding C(manifest.yaml)).
    required: true
    type: list
    elements: path
  environment:
    description: The Houston environment (a key of C(environments) in C(manifest.yaml)), Houston's C(-e ENV).
    required: true
    type: str
  fleet_endpoint:
    description:
      - Use this fleet endpoint instead of the environment's C(fleet) URL.
      - When neither is set the environment must define C(fleet).
    type: str
  consul_address:
    description:
      - Use this Consul address instead of the environment's C(consul) URL.
      - When neither is set the environment must define C(consul).
    type: str
  stacks:
    description:
      - Resolve only these standalone and service stacks (the others are left out of the result, so a broken
        definition of an unrelated stack does not stop a deploy). The global units are always resolved.
      - Empty (the default) resolves every stack of the manifest.
    type: list
    elements: str
    default: []
notes:
  - Houston named a shared unit whose name starts with the stack name without the stack prefix
    (C(redis:2.8) in stack C(redis) was C(redis@2.8.service)); this collection always names a stack's unit
    C(<stack>-<unit>@<version>.service). See the migration guide (docs/houston-migration.md).
  - C(file-unit.template) is read and returned as C(houston_file_unit_template) for reference only; the archive
    unit deployed by this collection is the checksum-verifying one built by M(houston.stack.consul_archive).
"""

EXAMPLES = r"""
- name: Deploy a stack defined in an existing Houston configuration directory
  ansible.builtin.set_fact:
    houston_definition: "{{ lookup('houston.stack.houston_config', '/srv/houston-config', environment='test-us-east-1') }}"

- name: Show the units of the blog service stack
  ansible.builtin.debug:
    msg: "{{ houston_definition.houston_services.blog.units | map(attribute='name') }}"

- name: Point at a lab instead of the environment's endpoints
  ansible.builtin.set_fact:
    houston_definition: >-
      {{ lookup('houston.stack.houston_config', houston_config_dir, environment='lab',
                fleet_endpoint=lookup('env', 'FLEETCTL_ENDPOINT'), consul_address=lookup('env', 'CONSUL_HTTP_ADDR')) }}
"""

RETURN = r"""
_raw:
  description: One stack definition per directory given.
  type: list
  elements: dict
  contains:
    houston_environment:
      description: The environment name.
      type: str
    houston_fleet_endpoint:
      description: The fleet endpoint (the environment's C(fleet) URL unless overridden).
      type: str
    houston_consul_address:
      description: The Consul address; C(http)/C(https) URLs without a port get Houston's default port (80/443).
      type: str
    houston_variables:
      description: The manifest variables of the environment (per-environment block, or the flat mapping), as strings.
      type: dict
    houston_global:
      description: The global stack, C({units, files}); units are C({name, version, content}).
      type: dict
    houston_standalone:
      description: Standalone stacks by name, each C({units, files}).
      type: dict
    houston_services:
      description: Service stacks by name, each C({units, service, files, consul_service}); C(service) is C({content}).
      type: dict
    houston_file_unit_template:
      description: Text of C(file-unit.template) when the directory has one, else null.
      type: str
    houston_config_dir:
      description: Absolute path of the directory read.
      type: str
"""

import os
import re

import yaml

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase
from ansible.utils.display import Display
from ansible_collections.houston.stack.plugins.module_utils import _naming

display = Display()

MANIFEST = "manifest.yaml"
FILE_UNIT_TEMPLATE = "file-unit.template"
HOUSTON_FILE_MODE = "0600"
NAME_RE = r"[A-Za-z0-9][A-Za-z0-9._-]*"
UNIT_ENTRY_RE = re.compile(
    r"(?P<name>" + NAME_RE + r")(?::(?P<version>" + NAME_RE + r"))?(?:\[(?P<key>[\w-]+):(?P<value>[\w.:-]+)\])?"
)
STALE_KEYS = {"global-units": "global", "shared-stacks": "standalone", "shared-units": "service"}
DEFAULT_PORTS = {"http": 80, "https": 443}
WRITE_FILES_KEYS = ("path", "content", "owner", "group", "permissions", "environment")
UNRESOLVED_RE = re.compile(r"(?<!\$)\{([A-Za-z_][\w-]*)\}")


class HoustonConfigError(Exception):
    """A problem in the configuration directory, naming the file and the field."""

    def __init__(self, path, field, message):
        self.path = path
        self.field = field
        where = path if not field else "%s: %s" % (path, field)
        super().__init__("%s: %s" % (where, message))


def _load_yaml(path, required=True):
    if not os.path.isfile(path):
        if required:
            raise HoustonConfigError(path, None, "file not found")
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            return yaml.safe_load(handle)
    except yaml.YAMLError as error:
        raise HoustonConfigError(path, None, "not valid YAML: %s" % error) from None
    except (OSError, UnicodeDecodeError) as error:
        raise HoustonConfigError(path, None, "cannot be read: %s" % error) from None


def _read_text(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as error:
        raise HoustonConfigError(path, None, "cannot be read: %s" % error) from None


def _scalar_text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_unit_entry(entry, manifest_path, field):
    """Parse Houston's ``name[:version][[key:value]]`` into (name, version, condition)."""
    if not isinstance(entry, str):
        raise HoustonConfigError(manifest_path, field, "%r is not a unit entry string name[:version][[environment:env]]" % (entry,))
    match = UNIT_ENTRY_RE.fullmatch(entry.strip())
    if not match:
        raise HoustonConfigError(manifest_path, field, "%r is not a unit entry name[:version][[environment:env]]" % entry)
    version = match.group("version") or _naming.DEFAULT_VERSION
    try:
        _naming.validate_unit(match.group("name"))
        _naming.validate_version(version)
    except _naming.InvalidName as error:
        raise HoustonConfigError(manifest_path, field, "%r: %s" % (entry, error)) from None
    condition = (match.group("key"), match.group("value")) if match.group("key") else None
    return match.group("name"), version, condition


def fleet_unit_name(stack, unit, version):
    """The fleet name the roles give a unit: global units <unit>@<version>, stack units <stack>-<unit>@<version>."""
    if stack is None:
        return _naming.global_unit_name(unit, version)
    return _naming.unit_name(stack, unit, version)


def endpoint_address(url, manifest_path, field):
    """Houston's ``scheme://host[:port]``; http(s) without a port get Houston's default port."""
    if not isinstance(url, str) or not url.strip():
        raise HoustonConfigError(manifest_path, field, "must be a URL scheme://host[:port], got %r" % (url,))
    match = re.fullmatch(r"(?P<scheme>[A-Za-z][\w+.-]*)://(?P<rest>[^\s]+)", url.strip())
    if not match:
        raise HoustonConfigError(manifest_path, field, "must be a URL scheme://host[:port], got %r" % url)
    scheme = match.group("scheme").lower()
    rest = match.group("rest").rstrip("/")
    if scheme == "unix":
        return "unix://" + rest
    if scheme not in DEFAULT_PORTS:
        raise HoustonConfigError(manifest_path, field, "scheme %r is not one of http, https, unix" % scheme)
    host_port = re.fullmatch(r"(?P<host>\[[0-9A-Fa-f:.]+\]|[^:/\[\]]+)(?::(?P<port>\d+))?(?P<path>/.*)?", rest)
    if not host_port:
        raise HoustonConfigError(manifest_path, field, "cannot read host and port in %r" % url)
    port = host_port.group("port") or DEFAULT_PORTS[scheme]
    return "%s://%s:%s%s" % (scheme, host_port.group("host"), port, host_port.group("path") or "")


class HoustonConfig:
    """A Houston configuration directory read for one environment."""

    def __init__(self, config_dir, environment):
        self.config_dir = os.path.abspath(os.path.expanduser(config_dir))
        self.environment = environment
        self.manifest_path = os.path.join(self.config_dir, MANIFEST)
        self.warnings = []
        if not os.path.isdir(self.config_dir):
            raise HoustonConfigError(self.config_dir, None, "not a directory (expected a Houston configuration directory holding %s)" % MANIFEST)
        manifest = _load_yaml(self.manifest_path)
        if not isinstance(manifest, dict):
            raise HoustonConfigError(self.manifest_path, None, "must be a mapping with 'environments' (got %s)" % type(manifest).__name__)
        for stale, current in STALE_KEYS.items():
            if stale in manifest and current not in manifest:
                raise HoustonConfigError(
                    self.manifest_path, stale,
                    "key of Houston 0.1 (as in Houston's stale example); Houston 0.3 and this lookup read %r instead: rename it" % current)
        self.manifest = manifest

    # -- manifest sections -------------------------------------------------------------------------------------
    def _section(self, key, kind, default):
        value = self.manifest.get(key)
        if value is None:
            return default
        if not isinstance(value, kind):
            raise HoustonConfigError(self.manifest_path, key, "must be a %s, got %s" % ("list" if kind is list else "mapping", type(value).__name__))
        return value

    def environment_config(self):
        environments = self._section("environments", dict, None)
        if not environments:
            raise HoustonConfigError(self.manifest_path, "environments", "missing or empty; it must map environment names to {consul, fleet}")
        if self.environment not in environments:
            raise HoustonConfigError(
                self.manifest_path, "environments",
                "environment %r not found (known: %s)" % (self.environment, ", ".join(sorted(str(k) for k in environments))))
        config = environments[self.environment]
        if not isinstance(config, dict):
            raise HoustonConfigError(self.manifest_path, "environments.%s" % self.environment, "must be a mapping {consul, fleet}")
        return config

    def variables(self):
        variables = self._section("variables", dict, {})
        field = "variables"
        if self.environment in variables:
            variables = variables[self.environment]
            field = "variables.%s" % self.environment
            if variables is None:
                return {}
            if not isinstance(variables, dict):
                raise HoustonConfigError(self.manifest_path, field, "must be a mapping of variable names to strings")
        result = {}
        for name, value in variables.items():
            if isinstance(value, dict):
                # flat form: the blocks of other environments are not variables
                continue
            if isinstance(value, list) or value is None:
                raise HoustonConfigError(self.manifest_path, "%s.%s" % (field, name), "must be a string, got %s" % type(value).__name__)
            result[str(name)] = _scalar_text(value)
        return result

    def global_entries(self):
        return self._section("global", list, [])

    def stack_entries(self, kind):
        stacks = self._section(kind, dict, {})
        for name, entries in stacks.items():
            field = "%s.%s" % (kind, name)
            try:
                _naming.validate_stack(name)
            except _naming.InvalidName as error:
                raise HoustonConfigError(self.manifest_path, field, str(error)) from None
            if entries is None:
                entries = []
            if not isinstance(entries, list):
                raise HoustonConfigError(self.manifest_path, field, "must be a list of unit entries")
        return stacks

    # -- units -------------------------------------------------------------------------------------------------
    def unit_text(self, kind, unit, variant, needed_by):
        """Houston's _unit_file: <dir>/units/<kind>/<unit>.service, else <unit>.yaml keyed by 'global' or the stack."""
        base = os.path.join(self.config_dir, "units", kind, unit)
        if os.path.isfile(base + ".service"):
            return _read_text(base + ".service")
        if os.path.isfile(base + ".yaml"):
            data = _load_yaml(base + ".yaml")
            if not isinstance(data, dict):
                raise HoustonConfigError(base + ".yaml", None, "must map 'global' or stack names to unit text")
            if variant not in data:
                raise HoustonConfigError(base + ".yaml", variant, "no unit text for %r (keys: %s), needed by %s" % (
                    variant, ", ".join(sorted(str(k) for k in data)), needed_by))
            if not isinstance(data[variant], str):
                raise HoustonConfigError(base + ".yaml", variant, "must be the unit file text (a string)")
            return data[variant]
        raise HoustonConfigError(base + ".service", None, "unit file not found (nor %s.yaml), needed by %s" % (unit, needed_by))

    def substitute(self, text, service, variables, references):
        """Houston's _apply_variables: {service}, {variable}, then <unit>.service -> versioned fleet name."""
        text = text.replace("{service}", service)
        for name, value in variables.items():
            text = text.replace("{%s}" % name, value)
        for plain, versioned in references.items():
            # whole unit names only (Houston replaced substrings: nginx.service inside consul-template-nginx.service)
            text = re.sub(r"(?<![\w.@-])%s(?![\w@-])" % re.escape(plain), lambda _m, v=versioned: v, text)
        return text

    def _warn_unresolved(self, text, where):
        names = sorted(set(UNRESOLVED_RE.findall(text)))
        if names:
            self.warnings.append("%s: placeholders %s are not manifest variables and are left as they are" % (
                where, ", ".join("{%s}" % n for n in names)))

    # -- files -------------------------------------------------------------------------------------------------
    def write_files(self, relative, service):
        path = os.path.join(self.config_dir, "files", relative)
        entries = _load_yaml(path, required=False)
        if entries is None:
            return []
        if not isinstance(entries, list):
            raise HoustonConfigError(path, None, "must be a list of write_files entries {path, content, owner, group, permissions}")
        result = []
        for index, entry in enumerate(entries):
            field = "[%d]" % index
            if not isinstance(entry, dict):
                raise HoustonConfigError(path, field, "must be a mapping {path, content, owner, group, permissions}")
            unknown = sorted(str(k) for k in entry if k not in WRITE_FILES_KEYS)
            if unknown:
                self.warnings.append("%s: %s: keys %s are ignored (as Houston ignored them)" % (path, field, ", ".join(unknown)))
            condition = entry.get("environment")
            if condition is not None and str(condition) != self.environment:
                continue
            target = entry.get("path")
            if not isinstance(target, str) or not target.startswith("/"):
                raise HoustonConfigError(path, field + ".path", "must be an absolute path, got %r" % (target,))
            content = entry.get("content")
            content = "" if content is None else _scalar_text(content)
            content = content.replace("{service}", service).replace("{environment}", self.environment)
            item = {"path": target, "content": content, "permissions": self._mode(entry.get("permissions"), path, field)}
            for key in ("owner", "group"):
                if entry.get(key) is not None:
                    item[key] = _scalar_text(entry[key])
            result.append(item)
        return result

    @staticmethod
    def _mode(value, path, field):
        if value is None:
            return HOUSTON_FILE_MODE
        if isinstance(value, bool):
            raise HoustonConfigError(path, field + ".permissions", "must be a file mode such as 0644, got %r" % value)
        if isinstance(value, int):
            if not 0 <= value <= 0o7777:
                raise HoustonConfigError(path, field + ".permissions", "mode %r is out of range" % value)
            return "%04o" % value
        text = str(value).strip()
        if re.fullmatch(r"0?o?[0-7]{3,4}", text):
            return "%04o" % int(text.replace("o", ""), 8)
        raise HoustonConfigError(path, field + ".permissions", "must be a file mode such as 0644, got %r" % value)

    # -- the stack definition ----------------------------------------------------------------------------------
    def _resolve_units(self, entries, kind_field, stack, variables, references, variant):
        units = []
        for index, entry in enumerate(entries or []):
            field = "%s[%d]" % (kind_field, index)
            name, version, condition = parse_unit_entry(entry, self.manifest_path, field)
            if condition and condition[0] == "environment" and condition[1] != self.environment:
                continue
            text = self.unit_text("shared", name, variant, "%s %r" % (field, entry))
            content = self.substitute(text, stack or "", variables, references)
            self._warn_unresolved(content, "units/shared/%s (%s)" % (name, field))
            units.append({"name": name, "version": version, "content": content})
        return units

    def _references(self, entries, kind_field, stack):
        """<unit>.service -> versioned name for every unit of the list (and <stack>-<unit>.service for stack units)."""
        references = {}
        for index, entry in enumerate(entries or []):
            name, version, condition = parse_unit_entry(entry, self.manifest_path, "%s[%d]" % (kind_field, index))
            if condition and condition[0] == "environment" and condition[1] != self.environment:
                continue
            versioned = fleet_unit_name(stack, name, version)
            references["%s.service" % name] = versioned
            if stack is not None:
                references["%s-%s.service" % (stack, name)] = versioned
        return references

    def definition(self, fleet_endpoint=None, consul_address=None, stacks=None):
        env = self.environment_config()
        env_field = "environments.%s" % self.environment
        if not consul_address:
            if "consul" not in env:
                raise HoustonConfigError(self.manifest_path, env_field + ".consul", "missing (Houston requires it)")
            consul_address = endpoint_address(env["consul"], self.manifest_path, env_field + ".consul")
        if not fleet_endpoint:
            if "fleet" not in env:
                raise HoustonConfigError(self.manifest_path, env_field + ".fleet", "missing (the fleet API URL)")
            fleet_endpoint = env["fleet"]
            if not isinstance(fleet_endpoint, str) or "://" not in fleet_endpoint:
                raise HoustonConfigError(self.manifest_path, env_field + ".fleet",
                                         "must be a URL (http(s)://host[:port] or unix:///path), got %r" % (fleet_endpoint,))
        variables = self.variables()
        global_entries = self.global_entries()
        global_refs = self._references(global_entries, "global", None)
        definition = {
            "houston_environment": self.environment,
            "houston_fleet_endpoint": fleet_endpoint,
            "houston_consul_address": consul_address,
            "houston_variables": variables,
            "houston_global": {
                "units": self._resolve_units(global_entries, "global", None, variables, global_refs, "global"),
                "files": self.write_files("global.yaml", "global"),
            },
            "houston_standalone": {},
            "houston_services": {},
        }
        wanted = set(stacks or [])
        for kind, key in (("standalone", "houston_standalone"), ("service", "houston_services")):
            for stack, entries in self.stack_entries(kind).items():
                if wanted and stack not in wanted:
                    continue
                field = "%s.%s" % (kind, stack)
                references = dict(global_refs)
                references.update(self._references(entries, field, stack))
                item = {
                    "units": self._resolve_units(entries, field, stack, variables, references, stack),
                    "files": self.write_files(os.path.join(kind, "%s.yaml" % stack), stack),
                }
                if kind == "service":
                    text = self.unit_text("service", stack, stack, "%s (the service unit)" % field)
                    content = self.substitute(text, stack, variables, references)
                    self._warn_unresolved(content, "units/service/%s" % stack)
                    item["service"] = {"content": content}
                    item["consul_service"] = stack
                definition[key][stack] = item
        missing = sorted(wanted - set(definition["houston_standalone"]) - set(definition["houston_services"]))
        if missing:
            raise HoustonConfigError(self.manifest_path, "standalone/service", "no stack named %s" % ", ".join(repr(m) for m in missing))
        template_path = os.path.join(self.config_dir, FILE_UNIT_TEMPLATE)
        definition["houston_file_unit_template"] = _read_text(template_path) if os.path.isfile(template_path) else None
        definition["houston_config_dir"] = self.config_dir
        return definition


def read_houston_config(config_dir, environment, fleet_endpoint=None, consul_address=None, stacks=None):
    """Return (definition, warnings) for a Houston configuration directory and environment."""
    if not environment:
        raise HoustonConfigError(str(config_dir), None, "an environment is required (Houston's -e ENV)")
    config = HoustonConfig(config_dir, environment)
    definition = config.definition(fleet_endpoint=fleet_endpoint, consul_address=consul_address, stacks=stacks)
    return definition, config.warnings


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        results = []
        for term in terms:
            try:
                definition, warnings = read_houston_config(
                    term,
                    self.get_option("environment"),
                    fleet_endpoint=self.get_option("fleet_endpoint"),
                    consul_address=self.get_option("consul_address"),
                    stacks=self.get_option("stacks"),
                )
            except HoustonConfigError as error:
                raise AnsibleLookupError("houston_config: %s" % error) from None
            for warning in warnings:
                display.warning("houston_config: %s" % warning)
            results.append(definition)
        return results
