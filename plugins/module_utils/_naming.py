# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.

"""Stack, unit and version names, the unit names built from them, and the ownership marker.

Every unit the collection creates carries a ``[X-Houston]`` section (ignored by systemd and fleet)::

    [X-Houston]
    Stack=<stack>
    Version=<version>
    Owner=houston.stack

``fleet_prune`` removes only units whose marker says ``Owner=houston.stack`` and ``Stack=<stack>``.
"""

from __future__ import annotations

import re

MARKER_SECTION = "X-Houston"
MARKER_OWNER = "houston.stack"
DEFAULT_VERSION = "latest"
MAX_NAME_LENGTH = 64
MAX_VERSION_LENGTH = 64

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class InvalidName(ValueError):
    """A stack, unit or version name that the collection refuses (the message says why)."""


def _validate(kind, value, max_length):
    if not isinstance(value, str) or value == "":
        raise InvalidName(f"{kind} name must be a non-empty string, got {value!r}")
    if len(value) > max_length:
        raise InvalidName(f"{kind} name {value!r} is {len(value)} characters long; at most {max_length} are allowed")
    if not _NAME_RE.match(value):
        raise InvalidName(
            f"{kind} name {value!r} is invalid: use only letters, digits, '.', '_' and '-', starting with a letter or digit"
        )
    if ".." in value:
        raise InvalidName(f"{kind} name {value!r} is invalid: it must not contain '..'")
    return value


def validate_stack(stack):
    """Return ``stack`` when it is a valid stack name, else raise InvalidName."""
    return _validate("stack", stack, MAX_NAME_LENGTH)


def validate_unit(unit):
    """Return ``unit`` (a stack's unit name such as ``pgbouncer``, without ``@`` or suffix) when valid."""
    return _validate("unit", unit, MAX_NAME_LENGTH)


def validate_version(version):
    """Return ``version`` when it is a valid version, else raise InvalidName."""
    return _validate("version", version, MAX_VERSION_LENGTH)


def unit_name(stack, unit, version):
    """Name of a stack's unit: ``<stack>-<unit>@<version>.service``."""
    return f"{validate_stack(stack)}-{validate_unit(unit)}@{validate_version(version)}.service"


def service_unit_name(stack, version):
    """Name of a service stack's main unit: ``<stack>@<version>.service``."""
    return f"{validate_stack(stack)}@{validate_version(version)}.service"


def global_unit_name(unit, version=None):
    """Name of a global stack's unit: ``<unit>@<version>.service`` (version defaults to ``latest``)."""
    return f"{validate_unit(unit)}@{validate_version(version or DEFAULT_VERSION)}.service"


def archive_unit_name(stack, sha256, is_global=False):
    """Name of the file-archive extraction unit: ``<stack>-file-deploy@<sha8>.service``.

    For the global stack (``is_global``): ``global-file-deploy@<sha8>.service``.
    """
    sha = str(sha256 or "").lower()
    if not re.match(r"^[0-9a-f]{8,64}$", sha):
        raise InvalidName(f"archive checksum {sha256!r} is not a hex sha256")
    prefix = "global" if is_global else validate_stack(stack)
    return f"{prefix}-file-deploy@{sha[:8]}.service"


def is_archive_unit(name):
    """True for a file-archive extraction unit name (see :func:`archive_unit_name`)."""
    return bool(re.search(r"-file-deploy@[0-9a-f]{8}\.service$", str(name or "")))


def stack_prefix(stack):
    """Name prefix shared by every unit of a stack (``<stack>-`` units and the ``<stack>@`` service unit).

    Use :func:`belongs_to_stack` to test a name; the prefix alone is ``<stack>``.
    """
    return validate_stack(stack)


def belongs_to_stack(name, stack):
    """True when unit ``name`` is named like one of ``stack``'s units (``<stack>@...`` or ``<stack>-...@...``)."""
    if name.startswith(stack + "@"):
        return True
    return name.startswith(stack + "-") and "@" in name


def split_unit_name(name):
    """Split ``<base>@<version>.<type>`` into ``(base, version, type)``; version is None when there is no ``@``."""
    base, dot, suffix = name.rpartition(".")
    if not dot:
        base, suffix = name, ""
    if "@" in base:
        prefix, _sep, instance = base.partition("@")
        return prefix, instance, suffix
    return base, None, suffix


def unit_version(name):
    """The version (template instance) part of a unit name, or None."""
    return split_unit_name(name)[1]


def marker_options(stack, version):
    """The marker as fleet unit options (``[{"section", "name", "value"}]``)."""
    return [
        {"section": MARKER_SECTION, "name": "Stack", "value": validate_stack(stack)},
        {"section": MARKER_SECTION, "name": "Version", "value": validate_version(version)},
        {"section": MARKER_SECTION, "name": "Owner", "value": MARKER_OWNER},
    ]


def marker_text(stack, version):
    """The marker as unit-file text (a ``[X-Houston]`` section, ending with a newline)."""
    lines = [f"[{MARKER_SECTION}]"] + [f"{o['name']}={o['value']}" for o in marker_options(stack, version)]
    return "\n".join(lines) + "\n"


def read_marker(options):
    """The marker found in fleet unit options as ``{"stack", "version", "owner"}``, or None when absent."""
    found = {}
    for option in options or []:
        if option.get("section") == MARKER_SECTION:
            key = str(option.get("name", "")).lower()
            if key in ("stack", "version", "owner"):
                found[key] = option.get("value")
    if not found:
        return None
    return {"stack": found.get("stack"), "version": found.get("version"), "owner": found.get("owner")}


def marks_stack(marker, stack):
    """True when ``marker`` (as :func:`read_marker` returns it, or None) is the collection's marker for ``stack``."""
    return bool(marker) and marker.get("owner") == MARKER_OWNER and marker.get("stack") == stack


def is_owned(options, stack):
    """True when the options carry the collection's marker for ``stack``."""
    return marks_stack(read_marker(options), stack)
