# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""fleet's view of a unit: name validation, option validation, normalisation, hash, X-Fleet rules.

Everything here follows fleet v1.0.0 (api/units.go, unit/unit.go, job/job.go) as described in
/work/shared/reference/fleet-api-v1.md sections 5, 7 and 8.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

UNIT_NAME_MAX = 256
VALID_CHARS = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ:-_.\\@")
VALID_UNIT_TYPES = frozenset(
    "automount busname device mount path scope service slice snapshot socket swap target timer".split())
VALID_TEMPLATE_TYPES = frozenset("path service socket target timer".split())
JOB_STATES = ("inactive", "loaded", "launched")
SYSTEMD_LINE_MAX = 2048


def go_quote(text: str) -> str:
    """Go's %q for a string (enough for unit names and globs)."""
    out = ['"']
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif char == "\r":
            out.append("\\r")
        elif ord(char) < 0x20 or ord(char) == 0x7f:
            out.append("\\x%02x" % ord(char))
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def go_quote_rune(char: str) -> str:
    """Go's %q for a rune: 'a', '$', ' ', '\\n'."""
    if char == "'":
        return "'\\''"
    if char == "\\":
        return "'\\\\'"
    if char == "\n":
        return "'\\n'"
    if char == "\t":
        return "'\\t'"
    if ord(char) < 0x20 or ord(char) == 0x7f:
        return "'\\x%02x'" % ord(char)
    return "'%s'" % char


def validate_name(name: str) -> str | None:
    """Return fleet's error text for an invalid unit name, or None."""
    length = len(name.encode("utf-8"))
    if length == 0:
        return "unit name cannot be empty"
    if length > UNIT_NAME_MAX:
        return "unit name exceeds maximum length (%d)" % UNIT_NAME_MAX
    dot = name.rfind(".")
    if dot == -1:
        return 'unit name must contain "."'
    if dot == len(name) - 1:
        return 'unit name cannot end in "."'
    suffix = name[dot + 1:]
    if suffix not in VALID_UNIT_TYPES:
        return "invalid unit type: %s" % go_quote(suffix)
    if "@" in name and suffix not in VALID_TEMPLATE_TYPES:
        return "invalid unit type for template: %s" % go_quote(suffix)
    for char in name[:dot]:
        if char not in VALID_CHARS:
            return "invalid character %s in unit name" % go_quote_rune(char)
    if name.startswith("@"):
        return 'unit name cannot start in "@"'
    return None


@dataclass(frozen=True)
class NameInfo:
    """fleet's UnitNameInfo."""

    full_name: str
    name: str
    prefix: str
    template: str
    instance: str

    @property
    def is_template(self) -> bool:
        return bool(self.template) and not self.instance

    @classmethod
    def parse(cls, unit_name: str) -> "NameInfo | None":
        dot = unit_name.rfind(".")
        if dot == -1:
            return None
        name, suffix = unit_name[:dot], unit_name[dot:]
        at = name.find("@")
        if at == -1:
            return cls(unit_name, name, name, "", "")
        return cls(unit_name, name, name[:at], "%s@%s" % (name[:at], suffix), name[at + 1:])


def group_options(options: list[dict]) -> list[tuple[str, list[dict]]]:
    """Group options by section, sections in order of first appearance."""
    sections: dict[str, list[dict]] = {}
    for option in options:
        sections.setdefault(option["section"], []).append(option)
    return list(sections.items())


def serialize(options: list[dict]) -> str:
    """go-systemd unit.Serialize: the unit file text that fleet stores and hashes."""
    chunks = []
    for section, opts in group_options(options):
        lines = ["[%s]\n" % section] + ["%s=%s\n" % (o["name"], o["value"]) for o in opts]
        chunks.append("".join(lines))
    return "\n".join(chunks)


def unit_hash(options: list[dict]) -> str:
    """fleet's unit hash: SHA-1 of the serialised unit file."""
    return hashlib.sha1(serialize(options).encode("utf-8")).hexdigest()


def normalize(options: list[dict]) -> list[dict]:
    """The storage round trip: regroup by section, trim option names and values."""
    out = []
    for section, opts in group_options(options):
        for option in opts:
            out.append({"section": section, "name": option["name"].strip(), "value": option["value"].strip()})
    return out


def check_round_trip(options: list[dict]) -> str | None:
    """go-systemd Deserialize(Serialize(options)) errors that fleet reports at creation."""
    for line in serialize(options).split("\n"):
        if len(line.encode("utf-8")) >= SYSTEMD_LINE_MAX:
            return "line too long (max %d bytes)" % SYSTEMD_LINE_MAX
    for option in options:
        if "\n" in option["name"] or "\n" in option["value"]:
            return "unexpected newline encountered while parsing option name"
    return None


def go_path_match(pattern: str, name: str) -> bool:
    """Go's path.Match for unit names (no '/' in names): * ? [class] [^class] and \\ escapes."""
    return _glob_regex(pattern).fullmatch(name) is not None


_GLOB_CACHE: dict[str, re.Pattern] = {}


def _glob_regex(pattern: str) -> re.Pattern:
    cached = _GLOB_CACHE.get(pattern)
    if cached is not None:
        return cached
    out = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        elif char == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                regex = re.compile(r"(?!x)x")  # malformed pattern never matches (Go returns ErrBadPattern)
                _GLOB_CACHE[pattern] = regex
                return regex
            body = pattern[i + 1:end]
            negate = body.startswith("^")
            if negate:
                body = body[1:]
            body = body.replace("\\", "\\\\").replace("[", "\\[")
            out.append("[%s%s]" % ("^" if negate else "", body))
            i = end
        else:
            out.append(re.escape(char))
        i += 1
    regex = re.compile("".join(out), re.DOTALL)
    _GLOB_CACHE[pattern] = regex
    return regex


def parse_multivalue(line: str) -> list[str]:
    """fleet's parseMultivalueLine for X-Fleet values."""
    if not (line.startswith('"') and line.endswith('"')):
        return [line]
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
    return values


def _truthy(value: str) -> bool:
    return value.lower() in ("true", "yes", "1", "on", "t")


@dataclass
class Requirements:
    """The [X-Fleet] requirements of a unit, specifiers expanded as fleet's engine does."""

    is_global: bool = False
    machine_id: str | None = None
    peers: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    replaces: list[str] = field(default_factory=list)
    metadata: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def from_options(cls, unit_name: str, options: list[dict], expand: bool = True) -> "Requirements":
        info = NameInfo.parse(unit_name) if expand else None
        req: dict[str, list[str]] = {}
        for option in options:
            if option["section"] != "X-Fleet":
                continue
            for value in parse_multivalue(option["value"]):
                if info is not None:
                    value = (value.replace("%n", info.full_name).replace("%N", info.name)
                             .replace("%p", info.prefix).replace("%i", info.instance))
                req.setdefault(option["name"], []).append(value)
        result = cls()
        glob_values = req.get("Global", [])
        result.is_global = bool(glob_values) and _truthy(glob_values[-1])
        for key in ("MachineID", "X-ConditionMachineID", "X-ConditionMachineBootID"):
            if req.get(key):
                result.machine_id = req[key][0]
                break
        result.peers = req.get("X-ConditionMachineOf", []) + req.get("MachineOf", [])
        for key in ("X-Conflicts", "Conflicts"):
            for value in req.get(key, []):
                result.conflicts.extend(value.split())
        result.replaces = list(req.get("Replaces", []))
        for key in ("X-ConditionMachineMetadata", "MachineMetadata"):
            for pair in req.get(key, []):
                parts = pair.split("=")
                if len(parts) != 2 or not parts[0] or not parts[1]:
                    continue
                result.metadata.setdefault(parts[0], set()).add(parts[1])
        return result

    def metadata_matches(self, machine_metadata: dict[str, str]) -> bool:
        for key, wanted in self.metadata.items():
            if machine_metadata.get(key) not in wanted:
                return False
        return True

    def machine_matches(self, machine_id: str) -> bool:
        if self.machine_id is None:
            return True
        return machine_id == self.machine_id or machine_id[:8] == self.machine_id


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


def validate_options(options: list[dict]) -> str | None:
    """fleet's ValidateOptions (creation only). Returns the error text or None."""
    error = check_round_trip(options)
    if error:
        return error
    # fleet's API validation runs on the job without a name, so specifiers are not expanded
    req = Requirements.from_options("", options, expand=False)
    conflicts, replaces, peers = _unique(req.conflicts), _unique(req.replaces), _unique(req.peers)
    for peer in peers:
        for conflict in conflicts:
            if go_path_match(conflict, peer):
                return "unresolvable requirements: peer %s matches conflict %s" % (go_quote(peer), go_quote(conflict))
        for replace in replaces:
            if go_path_match(replace, peer):
                return "unresolvable requirements: peer %s matches replace %s" % (go_quote(peer), go_quote(replace))
    has_target = req.machine_id is not None
    checks = [
        (has_target and bool(peers), "MachineID cannot be used with Peers"),
        (has_target and bool(conflicts), "MachineID cannot be used with Conflicts"),
        (has_target and req.is_global, "MachineID cannot be used with Global"),
        (has_target and bool(replaces), "MachineID cannot be used with Replaces"),
        (req.is_global and bool(peers), "Global cannot be used with Peers"),
        (req.is_global and bool(replaces), "Global cannot be used with Replaces"),
        (bool(conflicts) and bool(replaces), "Conflicts cannot be used with Replaces"),
    ]
    for failed, message in checks:
        if failed:
            return message
    return None
