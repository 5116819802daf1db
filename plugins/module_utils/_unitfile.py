# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.

"""systemd unit files as fleet sees them: parse, render, normalise, hash, validate, and [X-Fleet] placement.

fleet stores a unit as a flat list of options ``[{"section", "name", "value"}]``. It serialises them
with go-systemd (sections grouped in order of first appearance, one blank line between sections),
trims names and values on the round trip, and hashes the serialised text with SHA-1.
"""

from __future__ import annotations

import fnmatch
import hashlib

XFLEET = "X-Fleet"
MAX_LINE = 2048

# Canonical X-Fleet keys, with the deprecated spellings fleet still honours.
XFLEET_KEYS = {
    "MachineID": "MachineID",
    "X-ConditionMachineID": "MachineID",
    "X-ConditionMachineBootID": "MachineID",
    "MachineOf": "MachineOf",
    "X-ConditionMachineOf": "MachineOf",
    "MachineMetadata": "MachineMetadata",
    "X-ConditionMachineMetadata": "MachineMetadata",
    "Conflicts": "Conflicts",
    "X-Conflicts": "Conflicts",
    "Replaces": "Replaces",
    "Global": "Global",
}
TRUTHY = frozenset(("true", "yes", "1", "on", "t"))


class UnitFileError(ValueError):
    """Unit text or options that fleet would refuse or that the collection cannot reason about."""


def option(section, name, value):
    return {"section": section, "name": name, "value": value}


def parse(text):
    """Parse unit-file text into fleet options.

    Supports comments (``#``, ``;``), blank lines, ``[Section]`` headers, ``Name=Value`` lines and
    backslash line continuation (joined with a space, as systemd does). Raises UnitFileError on a line
    that is neither, on an option before any section, and on text without any section.
    """
    if not isinstance(text, str):
        raise UnitFileError(f"unit text must be a string, got {type(text).__name__}")
    options = []
    section = None
    sections = 0
    pending = None  # (lineno, name, value-so-far) while a continuation is open
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if pending is not None:
            start, name, value = pending
            if line.endswith("\\"):
                pending = (start, name, value + " " + line[:-1].strip())
                continue
            options.append(option(section, name, (value + " " + line).strip()))
            pending = None
            continue
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            if not line.endswith("]") or len(line) < 3:
                raise UnitFileError(f"line {lineno}: malformed section header {raw!r}")
            section = line[1:-1]
            sections += 1
            continue
        if "=" not in line:
            raise UnitFileError(f"line {lineno}: expected 'Name=Value' or '[Section]', got {raw!r}")
        name, _sep, value = line.partition("=")
        name, value = name.strip(), value.strip()
        if not name:
            raise UnitFileError(f"line {lineno}: option without a name: {raw!r}")
        if section is None:
            raise UnitFileError(f"line {lineno}: option {name!r} appears before any [Section] header")
        if value.endswith("\\"):
            pending = (lineno, name, value[:-1].strip())
            continue
        options.append(option(section, name, value))
    if pending is not None:
        start, name, value = pending
        options.append(option(section, name, value.strip()))
    if sections == 0:
        raise UnitFileError("unit text has no [Section] header (is it empty?)")
    return options


def _grouped(options):
    order = []
    by_section = {}
    for opt in options:
        section = opt["section"]
        if section not in by_section:
            by_section[section] = []
            order.append(section)
        by_section[section].append(opt)
    return [(section, by_section[section]) for section in order]


def render(options):
    """Serialise options the way fleet does (go-systemd Serialize); the empty list gives ''."""
    chunks = []
    for section, opts in _grouped(options or []):
        lines = [f"[{section}]\n"] + [f"{o['name']}={o['value']}\n" for o in opts]
        chunks.append("".join(lines))
    return "\n".join(chunks)


def normalise(options):
    """Options as fleet returns them after its storage round trip: trimmed names/values, regrouped by section."""
    trimmed = [option(str(o["section"]), str(o["name"]).strip(), str(o["value"]).strip()) for o in options or []]
    return [opt for _section, opts in _grouped(trimmed) for opt in opts]


def unit_hash(options):
    """fleet's hash of a unit: SHA-1 hex of the serialised options (as given: normalise first to match agents)."""
    return hashlib.sha1(render(options).encode("utf-8")).hexdigest()


def same_content(a, b):
    """True when two option lists are the same unit after fleet's normalisation."""
    return normalise(a) == normalise(b)


def check_options(options):
    """Validate a list of option dicts (types, keys); returns them normalised. Raises UnitFileError."""
    if not isinstance(options, list) or not options:
        raise UnitFileError("unit options must be a non-empty list of {section, name, value} mappings")
    checked = []
    for index, opt in enumerate(options):
        if not isinstance(opt, dict) or set(opt) - {"section", "name", "value"} or not {"section", "name"} <= set(opt):
            raise UnitFileError(f"option #{index + 1} {opt!r}: expected a mapping with keys section, name, value")
        value = opt.get("value")
        value = "" if value is None else value
        if isinstance(value, bool):
            value = "true" if value else "false"
        checked.append(option(str(opt["section"]), str(opt["name"]), str(value)))
    for opt in checked:
        if not opt["section"].strip() or not opt["name"].strip():
            raise UnitFileError(f"option {opt!r}: section and name must not be empty")
        for field in ("section", "name", "value"):
            if "\n" in opt[field] or "\r" in opt[field]:
                raise UnitFileError(f"option [{opt['section']}] {opt['name']}: {field} contains a newline")
    return normalise(checked)


def xfleet_values(options):
    """The [X-Fleet] requirements as ``{canonical key: [values...]}`` (multi-value lines split like fleet)."""
    reqs = {}
    for opt in options or []:
        if opt["section"] != XFLEET:
            continue
        key = XFLEET_KEYS.get(opt["name"])
        if key is None:
            continue
        value = opt["value"]
        if key == "Conflicts":
            values = value.split()
        elif key in ("MachineMetadata", "MachineOf", "MachineID") and value.startswith('"'):
            values = _multivalue(value)
        else:
            values = [value]
        reqs.setdefault(key, []).extend(v for v in values if v != "" or key == "Global")
    return reqs


def _multivalue(line):
    """fleet's parseMultivalueLine: quoted items separated by spaces; quotes dropped."""
    values, current, quoted = [], [], False
    for char in line:
        if char == '"':
            quoted = not quoted
            continue
        if char == " " and not quoted:
            values.append("".join(current))
            current = []
            continue
        current.append(char)
    values.append("".join(current))
    return [v for v in values if v]


def is_global(options):
    """True when the unit is global (the last Global= value is truthy)."""
    values = xfleet_values(options).get("Global")
    return bool(values) and values[-1].strip().lower() in TRUTHY


def validate(options):
    """Refuse [X-Fleet] content fleet would reject or the collection cannot place (raises UnitFileError)."""
    for opt in options:
        if opt["section"] == XFLEET and opt["name"] not in XFLEET_KEYS:
            known = ", ".join(sorted(k for k in XFLEET_KEYS if not k.startswith("X-")))
            raise UnitFileError(f"unknown [X-Fleet] option {opt['name']!r} (known: {known})")
        line = f"{opt['name']}={opt['value']}"
        if len(line.encode("utf-8")) >= MAX_LINE:
            raise UnitFileError(f"option [{opt['section']}] {opt['name']} is {len(line)} bytes; fleet accepts lines below {MAX_LINE}")
    reqs = xfleet_values(options)
    for peer in reqs.get("MachineOf", []):
        for pattern in reqs.get("Conflicts", []):
            if fnmatch.fnmatchcase(peer, pattern):
                raise UnitFileError(f"unresolvable requirements: peer {peer!r} matches conflict {pattern!r}")
        for pattern in reqs.get("Replaces", []):
            if fnmatch.fnmatchcase(peer, pattern):
                raise UnitFileError(f"unresolvable requirements: peer {peer!r} matches replace {pattern!r}")
    if reqs.get("MachineID"):
        for other, label in (("MachineOf", "MachineOf"), ("Conflicts", "Conflicts"), ("Replaces", "Replaces")):
            if reqs.get(other):
                raise UnitFileError(f"[X-Fleet] MachineID cannot be used with {label}")
    if is_global(options):
        for other in ("MachineID", "MachineOf", "Conflicts", "Replaces"):
            if reqs.get(other):
                raise UnitFileError(
                    f"[X-Fleet] Global=true cannot be used with {other}: a global unit runs on every machine matching "
                    "MachineMetadata, so the machines it must run on are known before it starts"
                )
    if reqs.get("Conflicts") and reqs.get("Replaces"):
        raise UnitFileError("[X-Fleet] Conflicts cannot be used with Replaces")
    return options


def expand_specifiers(value, unit_name):
    """Expand %n %N %p %i %% in an X-Fleet value for ``unit_name``."""
    if not unit_name or "%" not in value:
        return value
    base, _dot, _suffix = unit_name.rpartition(".")
    base = base or unit_name
    prefix, _at, instance = base.partition("@")
    table = {"n": unit_name, "N": base, "p": prefix, "i": instance, "%": "%"}
    out, i = [], 0
    while i < len(value):
        if value[i] == "%" and i + 1 < len(value) and value[i + 1] in table:
            out.append(table[value[i + 1]])
            i += 2
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def metadata_requirements(values):
    """``MachineMetadata`` values as ``{key: set(values)}``; malformed pairs are ignored like fleet does."""
    wanted = {}
    for pair in values:
        parts = pair.split("=")
        if len(parts) != 2 or not parts[0] or not parts[1]:
            continue
        wanted.setdefault(parts[0], set()).add(parts[1])
    return wanted


def machine_matches(options, machine, unit_name=None):
    """True when ``machine`` (fleet Machine: id, primaryIP, metadata) satisfies MachineID and MachineMetadata."""
    reqs = xfleet_values(options)
    machine_id = machine.get("id", "")
    for wanted in reqs.get("MachineID", []):
        wanted = expand_specifiers(wanted, unit_name)
        if wanted not in (machine_id, machine_id[:8]):
            return False
    metadata = machine.get("metadata") or {}
    pairs = [expand_specifiers(v, unit_name) for v in reqs.get("MachineMetadata", [])]
    for key, allowed in metadata_requirements(pairs).items():
        if metadata.get(key) not in allowed:
            return False
    return True


def expected_machines(options, machines, unit_name=None):
    """Machines the unit may run on, sorted by id.

    For a global unit this is exactly the set of machines fleet runs it on (MachineMetadata; Global with
    MachineID, MachineOf, Conflicts or Replaces is refused by validate()). For a non-global unit it is
    the set of candidates satisfying MachineID and MachineMetadata (MachineOf and Conflicts depend on
    where other units are and are not evaluated here); fleet picks one of them.
    """
    return sorted((m for m in machines if machine_matches(options, m, unit_name)), key=lambda m: m.get("id", ""))
