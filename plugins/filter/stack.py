# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Filters the stack roles use to turn a stack definition into an ordered chain of fleet units.

- ``unit_entry``: parse one Houston unit entry (``name[:version][[environment:env]]`` or a mapping).
- ``stack_units``: the stack's units for one environment, named the way fleet will see them.
- ``unit_require``: inject ``Requires=``/``After=`` on the previous unit of the chain (Houston's dependency injection).
- ``unit_marker``: append the ``[X-Houston]`` ownership marker.
- ``stack_keep_units``: the unit names a prune must keep (this deploy and the previous successful versions).
- ``stack_unit_operations``: what fleet_unit would do to each unit of a chain, from one read of fleet's units.
- ``stack_redeploy_plan``: which units a deploy creates, replaces or must restart because a unit they require changes.
- ``stack_status_rows``: one row per unit and machine, for status reports.
- ``stack_instances``: the units of a service with ``instances: N`` or with per-machine rolling (MachineID-pinned).
- ``stack_roll_plan``: the batches of a rolling replacement, pairing each new instance with the old one it replaces.
"""

from __future__ import annotations

import fnmatch
import re

from ansible.errors import AnsibleFilterError

from ansible_collections.houston.stack.plugins.module_utils import _naming, _unitfile, _unitplan
from ansible_collections.houston.stack.plugins.module_utils._status import row_ips
from ansible_collections.houston.stack.plugins.module_utils._status import status_rows as stack_status_rows
from ansible_collections.houston.stack.plugins.module_utils._status import versions_by_machine as stack_versions_by_machine

# Houston's UNIT_PATTERN, with the environment suffix kept as a list of key:value pairs.
_ENTRY_RE = re.compile(r"^(?P<name>[^:\[\]\s]+)(?::(?P<version>[^\[\]\s]+))?(?:\[(?P<expr>[^\]]*)\])?$")
_KINDS = ("global", "standalone", "service")


def _fail(message):
    raise AnsibleFilterError(message)


def _check(kind, value, where):
    try:
        return {
            "stack": _naming.validate_stack,
            "unit": _naming.validate_unit,
            "version": _naming.validate_version,
        }[kind](value)
    except _naming.InvalidName as exc:
        _fail(f"{where}: {exc}")


def unit_entry(entry, where="unit entry"):
    """Parse a unit entry into ``{name, version, environments, template, content}``.

    String form (Houston): ``name[:version][[environment:env]]``; several ``environment:x`` pairs may be
    given separated by ``,``. Mapping form: ``{name, version, environments | environment, template | content}``.
    ``version`` is None when the entry has none.
    """
    if isinstance(entry, str):
        match = _ENTRY_RE.match(entry.strip())
        if not match:
            _fail(f"{where}: {entry!r} is not of the form name[:version][[environment:env]]")
        environments = []
        for pair in (match.group("expr") or "").split(","):
            key, _sep, value = pair.strip().partition(":")
            if key == "environment" and value:
                environments.append(value)
        parsed = {"name": match.group("name"), "version": match.group("version"), "environments": environments,
                  "template": None, "content": None}
    elif isinstance(entry, dict):
        unknown = sorted(set(entry) - {"name", "version", "environments", "environment", "template", "content"})
        if unknown:
            _fail(f"{where}: unknown key(s) {', '.join(unknown)} (allowed: name, version, environments, template, content)")
        if "name" not in entry:
            _fail(f"{where}: a unit mapping needs 'name'")
        if entry.get("template") and entry.get("content"):
            _fail(f"{where}: 'template' and 'content' are mutually exclusive")
        environments = entry.get("environments", entry.get("environment")) or []
        if isinstance(environments, str):
            environments = [environments]
        version = entry.get("version")
        parsed = {"name": entry["name"], "version": None if version in (None, "") else str(version),
                  "environments": [str(e) for e in environments],
                  "template": entry.get("template") or None, "content": entry.get("content") or None}
    else:
        _fail(f"{where}: expected a string or a mapping, got {type(entry).__name__}")
    _check("unit", parsed["name"], f"{where} ({parsed['name']!r})")
    if parsed["version"] is not None:
        _check("version", parsed["version"], f"{where} ({parsed['name']!r})")
    return parsed


def stack_units(entries, stack, kind, version=None, environment=None, where=None):
    """The units of a stack for ``environment``, in deploy order, each with its fleet name.

    - global stack: ``<unit>@<unit version or 'latest'>.service``;
    - standalone stack: ``<stack>-<unit>@<unit version or 'latest'>.service``;
    - service stack: ``<stack>-<unit>@<unit version or the stack version>.service`` (units without a version of
      their own belong to one deploy version, so two versions never share, restart or prune each other's units).

    Entries restricted to other environments are left out. Returns ``[{unit, version, fleet_name, template,
    content, environments}]``. Fails naming the entry on a bad name or a duplicate.
    """
    if kind not in _KINDS:
        _fail(f"stack kind {kind!r} is not one of {', '.join(_KINDS)}")
    where = where or f"stack {stack!r}"
    _check("stack", stack, where)
    if kind == "service":
        if version in (None, ""):
            _fail(f"{where}: a service stack needs a version")
        _check("version", version, where)
    result = []
    seen = set()
    for index, entry in enumerate(entries or []):
        parsed = unit_entry(entry, f"{where} units[{index}]")
        if parsed["environments"] and environment not in parsed["environments"]:
            continue
        instance = parsed["version"] or (version if kind == "service" else _naming.DEFAULT_VERSION)
        if kind == "global":
            fleet_name = _naming.global_unit_name(parsed["name"], instance)
        else:
            fleet_name = _naming.unit_name(stack, parsed["name"], instance)
        if fleet_name in seen:
            _fail(f"{where} units[{index}]: unit {parsed['name']!r} is listed twice")
        if _naming.is_archive_unit(fleet_name):
            _fail(f"{where} units[{index}]: unit {parsed['name']!r} version {instance!r} makes {fleet_name!r}, the name of "
                  f"the stack's file archive unit; rename the unit")
        seen.add(fleet_name)
        result.append({"unit": parsed["name"], "version": instance, "fleet_name": fleet_name,
                       "template": parsed["template"], "content": parsed["content"],
                       "environments": parsed["environments"]})
    return result


def _split_sections(text):
    """Split unit text into [(header or None, [lines])] keeping every line as written."""
    sections = [(None, [])]
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            sections.append((stripped[1:-1], []))
        else:
            sections[-1][1].append(line)
    return sections


def _join_sections(sections):
    out = []
    for header, lines in sections:
        if header is not None:
            out.append(f"[{header}]")
        out.extend(lines)
    return "\n".join(out).strip("\n") + "\n"


def unit_require(content, previous=None):
    """Add ``Requires=<previous>`` and ``After=<previous>`` to the ``[Unit]`` section (created when missing).

    Placed right after ``Description=`` when there is one (as Houston does), else first in ``[Unit]``.
    Nothing is added when ``previous`` is empty or already required.
    """
    if not isinstance(content, str):
        _fail(f"unit_require: unit content must be a string, got {type(content).__name__}")
    if not previous:
        return content
    sections = _split_sections(content)
    unit = next((s for s in sections if s[0] == "Unit"), None)
    if unit is None:
        unit = ("Unit", [])
        sections.insert(1, unit)
    lines = unit[1]
    existing = {line.strip() for line in lines}
    added = [line for line in (f"Requires={previous}", f"After={previous}") if line not in existing]
    position = 0
    for index, line in enumerate(lines):
        if line.strip().startswith("Description="):
            position = index + 1
            break
    lines[position:position] = added
    return _join_sections(sections)


def unit_marker(content, stack, version):
    """Append the ``[X-Houston]`` marker (replacing one already present)."""
    if not isinstance(content, str):
        _fail(f"unit_marker: unit content must be a string, got {type(content).__name__}")
    sections = [s for s in _split_sections(content) if s[0] != _naming.MARKER_SECTION]
    try:
        marker = _naming.marker_text(stack, version)
    except _naming.InvalidName as exc:
        _fail(f"unit_marker: {exc}")
    return _join_sections(sections).rstrip("\n") + "\n\n" + marker


def stack_chain(units, stack, dependencies=True, head=None):
    """Final unit texts for a chain: each unit requires the previous one (when ``dependencies``), and carries
    the marker of ``stack`` with its own version.

    ``units``: ``[{fleet_name, version, text, marker (default true)}]`` in deploy order; ``head`` is the name of
    a unit the first one requires (optional). Units with ``marker: false`` (the archive unit, which consul_archive
    marks itself) are kept as they are apart from the injection. Returns the units with ``content`` set.
    """
    result = []
    previous = head
    for unit in units or []:
        text = unit.get("text")
        if text is None:
            text = unit.get("content")
        if not isinstance(text, str) or not text.strip():
            _fail(f"unit {unit.get('fleet_name')!r} of stack {stack!r} has no content")
        if dependencies and previous:
            text = unit_require(text, previous)
        if unit.get("marker", True):
            text = unit_marker(text, stack, unit.get("version"))
            if unit.get("instance") is not None:
                text = text.rstrip("\n") + f"\nInstance={unit['instance']}\n"
        result.append(dict(unit, content=text))
        # The instances of a service all require the unit before them, never each other.
        if unit.get("instance") is None:
            previous = unit.get("fleet_name")
    return result


def stack_keep_units(history, current_units, keep_versions=1, version=None):
    """Unit names a prune keeps: ``current_units`` plus those of the ``keep_versions`` newest successful
    deploys of other versions in ``history`` (newest first, as consul_history records it)."""
    keep = list(dict.fromkeys(current_units or []))
    kept_versions = []
    for entry in history or []:
        if len(kept_versions) >= int(keep_versions or 0):
            break
        if not isinstance(entry, dict) or entry.get("result") != "success":
            continue
        entry_version = entry.get("version")
        if entry_version == version or entry_version in kept_versions:
            continue
        kept_versions.append(entry_version)
        for name in entry.get("units") or []:
            if name not in keep:
                keep.append(name)
    return keep


def stack_unit_operations(units, fleet_units, state="launched"):
    """What a fleet_unit task with ``state`` would do to each unit of ``units`` (``[{fleet_name, content}]``).

    ``fleet_units``: the units fleet knows, as fleet_unit_info returns them (``name``, ``options``,
    ``desired_state``). The content of every unit is checked the way fleet_unit checks it (unit name, syntax,
    [X-Fleet] options), so an invalid unit fails the plan before anything is touched. Returns the operations
    (created, replaced, state_changed, none) in the order of ``units``.
    """
    known = {u.get("name"): u for u in fleet_units or []}
    operations = []
    for entry in units or []:
        name = entry.get("fleet_name")
        try:
            desired = _unitplan.desired_options(name, state, content=entry.get("content"))
        except _unitfile.UnitFileError as e:
            _fail(str(e))
        existing = known.get(name)
        operations.append(_unitplan.operation(None if existing is None else existing.get("options") or [],
                                              None if existing is None else existing.get("desired_state"),
                                              desired, state))
    return operations


def stack_redeploy_plan(names, operations):
    """Decide, from fleet_unit check-mode results in chain order, what a deploy does to each unit.

    ``names``: unit names in chain order; ``operations``: what fleet_unit predicts for each (created, replaced,
    state_changed, none). A unit that is replaced stops the units that require it, so every later unit of the
    chain that would otherwise stay untouched is restarted. Returns ``[{name, action, reason}]`` where action
    is create, replace, start, restart or keep.
    """
    if len(names or []) != len(operations or []):
        _fail(f"stack_redeploy_plan: {len(names or [])} names but {len(operations or [])} operations")
    predictions = [{"name": n, "operation": o} for n, o in zip(names or [], operations or [])]
    plan = []
    upstream_replaced = None
    for item in predictions or []:
        name = item.get("name")
        operation = item.get("operation") or "none"
        if operation == "created":
            plan.append({"name": name, "action": "create", "reason": "new unit"})
        elif operation == "replaced":
            plan.append({"name": name, "action": "replace", "reason": "unit content changed"})
            upstream_replaced = upstream_replaced or name
        elif upstream_replaced:
            plan.append({"name": name, "action": "restart", "reason": f"requires {upstream_replaced}, which is replaced"})
        elif operation == "state_changed":
            plan.append({"name": name, "action": "start", "reason": "unit not launched"})
        else:
            plan.append({"name": name, "action": "keep", "reason": "unchanged and active"})
    return plan


INSTANCE_KINDS = ("instance", "machine")
_INSTANCE_RE = re.compile(r"^(?P<stack>.+)-(?P<kind>instance|machine)-(?P<key>[A-Za-z0-9]+)@(?P<version>[^@]+)\.service$")


def instance_unit_name(stack, key, version, kind="instance"):
    """Name of one instance of a service: ``<stack>-instance-<n>@<version>.service`` (``instances: N``) or
    ``<stack>-machine-<machine id, 8 chars>@<version>.service`` (per-machine rolling of a global service)."""
    if kind not in INSTANCE_KINDS:
        _fail(f"instance kind {kind!r} is not one of {', '.join(INSTANCE_KINDS)}")
    try:
        return _naming.unit_name(stack, f"{kind}-{key}", version)
    except _naming.InvalidName as exc:
        _fail(f"instance {key!r} of stack {stack!r}: {exc}")


def instance_conflicts_glob(stack, version):
    """The fleet ``Conflicts=`` glob that keeps two instances of one version off the same machine."""
    return f"{stack}-instance-*@{version}.service"


def _xfleet_edit(text, drop=(), add=()):
    """Unit text with the ``[X-Fleet]`` options named in ``drop`` removed and the ``add`` lines appended there."""
    sections = _split_sections(text)
    xfleet = next((s for s in sections if s[0] == "X-Fleet"), None)
    if xfleet is None:
        xfleet = ("X-Fleet", [])
        sections.append(xfleet)
    lines = xfleet[1]
    kept = [line for line in lines if line.strip().partition("=")[0].strip() not in drop]
    while kept and not kept[-1].strip():
        kept.pop()
    lines[:] = kept + list(add) + [""]
    return _join_sections(sections)


def stack_instances(entry, stack, version, count=None, machines=None, taken=None):
    """Expand the rendered service unit ``entry`` into the units of its instances.

    ``count`` (``instances: N``): N units ``<stack>-instance-<i>@<version>.service`` (i = 1..N), each with
    ``[X-Fleet] Conflicts=<stack>-instance-*@<version>.service`` so fleet never puts two of them on one machine.
    The service unit must not be global.

    ``machines`` (per-machine rolling of a global service; fleet_unit_info ``machines``): one unit
    ``<stack>-machine-<id8>@<version>.service`` per machine the global unit's ``[X-Fleet]`` constraints select, its
    ``Global=`` replaced by ``MachineID=<id>``.

    ``taken``: the other unit names of the stack; one of them matching the instance names is an error. Every
    returned entry is ``entry`` with ``fleet_name``, ``text``, ``instance`` (the number or the 8-character machine
    id, written into the marker as ``Instance=``) and, per machine, ``machine_id``.
    """
    text = entry.get("text") or entry.get("content")
    if not isinstance(text, str) or not text.strip():
        _fail(f"service unit of stack {stack!r} has no content")
    try:
        options = _unitfile.parse(text)
    except _unitfile.UnitFileError as exc:
        _fail(f"service unit of stack {stack!r}: {exc}")
    result = []
    if machines is not None:
        if not _unitfile.is_global(options):
            _fail(f"stack {stack!r}: rolling mode per_machine needs a global service unit ([X-Fleet] Global=true); "
                  f"use 'instances: N' for a non-global service")
        eligible = _unitfile.expected_machines(options, machines)
        if not eligible:
            _fail(f"stack {stack!r}: no fleet machine matches the [X-Fleet] constraints of the service unit "
                  f"(machines: {', '.join(m.get('id', '?')[:8] for m in machines) or 'none'})")
        for machine in eligible:
            key = machine["id"][:8]
            name = instance_unit_name(stack, key, version, "machine")
            result.append(dict(entry, fleet_name=name, instance=key, machine_id=machine["id"],
                               text=_xfleet_edit(text, drop=("Global",), add=(f"MachineID={machine['id']}",))))
    else:
        try:
            count = int(count)
        except (TypeError, ValueError):
            _fail(f"stack {stack!r}: instances must be a number, got {count!r}")
        if count < 1:
            _fail(f"stack {stack!r}: instances must be at least 1, got {count}")
        if _unitfile.is_global(options):
            _fail(f"stack {stack!r}: 'instances: {count}' needs a non-global service unit; remove [X-Fleet] Global=true "
                  f"(or use rolling mode per_machine for a global service)")
        glob = instance_conflicts_glob(stack, version)
        for index in range(1, count + 1):
            name = instance_unit_name(stack, index, version)
            result.append(dict(entry, fleet_name=name, instance=str(index),
                               text=_xfleet_edit(text, add=(f"Conflicts={glob}",))))
    names = {unit["fleet_name"] for unit in result}
    for other in taken or []:
        if other in names or _instance_key(other, stack) is not None \
                or fnmatch.fnmatchcase(other, instance_conflicts_glob(stack, version)):
            _fail(f"stack {stack!r}: unit {other!r} is named like an instance of the service; rename that unit "
                  f"(names {stack}-instance-* and {stack}-machine-* are reserved for instances)")
    return result


def _instance_key(name, stack):
    match = _INSTANCE_RE.match(name or "")
    if not match or match.group("stack") != stack:
        return None
    return match.group("kind"), match.group("key")


def stack_roll_plan(new_units, fleet_units, stack, version, batch_size=1, operations=None):
    """Batches of a rolling replacement of a service's instances.

    ``new_units``: the instance entries of this deploy (stack_instances, in order); ``fleet_units``: fleet_unit_info
    ``units`` of the stack; ``operations``: ``{name: fleet_unit check-mode operation}`` of the new units.
    Old instances are the launched units of the stack (marker ``Owner=houston.stack``, ``Stack=<stack>``) of another
    version named like instances. New instance ``i`` (or on machine ``m``) replaces the old instance with the same
    number (machine). The roll is in batches of ``batch_size`` when there is an old instance or a new unit replaced in
    place; otherwise (first deploy) every instance is in one batch.

    Returns ``{rolling, batches: [{index, count, new: [names], old: [{name, version, options, machines}]}],
    leftover: [old instances without a new counterpart (stopped after the last batch)], old_versions}``.
    """
    try:
        batch_size = int(batch_size)
    except (TypeError, ValueError):
        _fail(f"rolling batch_size must be a number, got {batch_size!r}")
    if batch_size < 1:
        _fail(f"rolling batch_size must be at least 1, got {batch_size}")
    operations = operations or {}
    old = {}
    for unit in fleet_units or []:
        marker = unit.get("marker") or {}
        key = _instance_key(unit.get("name"), stack)
        if key is None or not _naming.marks_stack(marker, stack):
            continue
        if marker.get("version") == version or unit.get("desired_state") != "launched":
            continue
        old.setdefault(key, []).append({"name": unit["name"], "version": marker.get("version"),
                                        "options": unit.get("options") or [], "machines": unit.get("machines") or []})
    new_keys = []
    for unit in new_units or []:
        key = _instance_key(unit.get("fleet_name"), stack)
        if key is None:
            _fail(f"unit {unit.get('fleet_name')!r} is not an instance of stack {stack!r}")
        new_keys.append((unit["fleet_name"], key))
    rolling = bool(old) or any(operations.get(name) == "replaced" for name, _key in new_keys)
    size = batch_size if rolling else max(len(new_keys), 1)
    batches = []
    for start in range(0, len(new_keys), size):
        chunk = new_keys[start:start + size]
        batches.append({"new": [name for name, _key in chunk],
                        "old": [unit for _name, key in chunk for unit in old.pop(key, [])]})
    for index, batch in enumerate(batches, start=1):
        batch.update(index=index, count=len(batches))
    leftover = [unit for units in old.values() for unit in units]
    old_versions = sorted({u["version"] for b in batches for u in b["old"]} | {u["version"] for u in leftover})
    return {"rolling": rolling, "batches": batches, "leftover": leftover, "old_versions": old_versions}


def stack_applied(results, loop_var=None, units=None):
    """What a launch did, as present.yml remembers it: ``[{name, operation, service, instance, ips, elapsed}]``.

    ``results``: the ``results`` of a looped fleet_unit task (each carrying its unit entry under ``loop_var``), or
    the ``units`` of a fleet_chain result (``loop_var`` omitted; the unit entries are looked up by ``fleet_name`` in
    ``units``).
    """
    entries = {u.get("fleet_name"): u for u in units or []}
    applied = []
    for result in results or []:
        if result.get("skipped"):
            continue
        unit = result.get(loop_var) or {} if loop_var else entries.get(result.get("name"), {"fleet_name": result.get("name")})
        applied.append({"name": unit.get("fleet_name"), "operation": result.get("operation", "none"),
                        "service": bool(unit.get("service")), "instance": unit.get("instance"),
                        "ips": result.get("ips") or row_ips(result.get("machines")),
                        "elapsed": result.get("elapsed", 0)})
    return applied


def stack_report_versions(fleet_units, stack, launched=None, final=None, pruned=None):
    """The versions of ``stack`` on each machine once a deploy is done, from what fleet reported during the deploy.

    ``fleet_units``: the plan's fleet_unit_info ``units`` (with their state rows); ``launched``: what the deploy
    launched (stack_applied rows ``{name, ips}``, fleet's rows once each unit was active), which replaces the plan's
    rows of those units; ``final``: the deploy's unit entries (``fleet_name``, ``version``); ``pruned``: the names the
    prune removed. Units of other owners or stacks and file-archive units are left out. Returns ``{ip: [versions]}``
    in unit name order, as stack_versions_by_machine gives it for a read of the units after the deploy.
    """
    versions = {u.get("fleet_name"): u.get("version") for u in final or []}
    launched_names = {u.get("name") for u in launched or []}
    gone = set(pruned or []) | launched_names
    kept = [u for u in fleet_units or [] if u.get("name") not in gone and not _naming.is_archive_unit(u.get("name"))
            and _naming.marks_stack(u.get("marker"), stack)]
    rows = stack_status_rows(kept)
    for unit in launched or []:
        name = unit.get("name")
        if _naming.is_archive_unit(name):
            continue
        rows.extend({"unit": name, "version": versions.get(name), "ip": ip} for ip in unit.get("ips") or [])
    return stack_versions_by_machine(sorted(rows, key=lambda r: (str(r["ip"]), str(r["unit"]))))


def status_line(row):
    """One status row as a line: ``<ip> <machine8> <unit> <version> <load/active/sub>``."""
    machine = (row.get("machine_id") or "-")[:8]
    return f"{row.get('ip') or '-':<15} {machine:<8} {row.get('unit')} [{row.get('version') or '-'}] {row.get('state')}"


def consul_health_rows(entries):
    """Lines from Consul's ``/v1/health/service/<name>`` answer: node, address:port, tags and aggregate status."""
    lines = []
    for entry in entries or []:
        node = entry.get("Node") or {}
        service = entry.get("Service") or {}
        checks = entry.get("Checks") or []
        statuses = [c.get("Status") for c in checks]
        status = "critical" if "critical" in statuses else "warning" if "warning" in statuses else "passing"
        address = service.get("Address") or node.get("Address")
        lines.append(f"{node.get('Node')} {address}:{service.get('Port')} {service.get('ID')} "
                     f"tags={','.join(service.get('Tags') or [])} {status}")
    return sorted(lines)


def history_lines(history, count=5):
    """The newest ``count`` history entries as lines: version, result, start and end, who."""
    lines = []
    for entry in (history or [])[: int(count)]:
        who = entry.get("holder") or entry.get("user") or {}
        if isinstance(who, dict):
            who = " ".join(f"{k}={v}" for k, v in sorted(who.items()) if v not in (None, ""))
        started = entry.get("started") or entry.get("start") or "-"
        finished = entry.get("finished") or entry.get("end") or "-"
        lines.append(f"{entry.get('version')} {entry.get('result') or 'running'} {started} -> {finished} {who}".rstrip())
    return lines


class FilterModule:
    def filters(self):
        return {
            "unit_entry": unit_entry,
            "stack_units": stack_units,
            "unit_require": unit_require,
            "unit_marker": unit_marker,
            "stack_chain": stack_chain,
            "stack_keep_units": stack_keep_units,
            "stack_unit_operations": stack_unit_operations,
            "stack_redeploy_plan": stack_redeploy_plan,
            "stack_status_rows": stack_status_rows,
            "stack_instances": stack_instances,
            "stack_roll_plan": stack_roll_plan,
            "stack_applied": stack_applied,
            "stack_versions_by_machine": stack_versions_by_machine,
            "stack_report_versions": stack_report_versions,
            "status_line": status_line,
            "consul_health_rows": consul_health_rows,
            "history_lines": history_lines,
        }
