# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.

"""What fleet_unit does to one unit, shared by the module and by the controller-side plan of a whole stack.

:func:`desired_options` checks a unit's name and content the way fleet_unit does before touching anything;
:func:`operation` compares it with the unit fleet knows (``None`` when fleet does not know it). The
``stack_unit_operations`` filter runs both for every unit of a stack over one read of fleet's units, so a
deploy plans in one request what a check-mode fleet_unit per unit would predict.
"""

from __future__ import annotations

from ansible_collections.houston.stack.plugins.module_utils import _unitfile as unitfile
from ansible_collections.houston.stack.plugins.module_utils._fleet import check_unit_name, is_template

OPERATIONS = ("created", "replaced", "state_changed", "deleted", "none")


def desired_options(name, state, content=None, options=None):
    """The checked, normalised options of unit ``name`` (None for ``state=absent``); raises UnitFileError."""
    try:
        check_unit_name(name)
    except ValueError as e:
        raise unitfile.UnitFileError(str(e)) from e
    if is_template(name) and state in ("launched", "loaded"):
        raise unitfile.UnitFileError(f"unit {name!r} is a template; fleet cannot set it {state}")
    if state == "absent":
        return None
    if content is not None:
        try:
            options = unitfile.parse(content)
        except unitfile.UnitFileError as e:
            raise unitfile.UnitFileError(f"content of unit {name!r}: {e}") from e
    try:
        return unitfile.validate(unitfile.check_options(options))
    except unitfile.UnitFileError as e:
        raise unitfile.UnitFileError(f"unit {name!r}: {e}") from e


def operation(existing_options, existing_state, desired, state):
    """The operation that brings a unit (``existing_options`` None when fleet does not know it) to ``desired`` in ``state``."""
    if state == "absent":
        return "none" if existing_options is None else "deleted"
    if existing_options is None:
        return "created"
    if not unitfile.same_content(existing_options or [], desired):
        return "replaced"
    if existing_state != state:
        return "state_changed"
    return "none"
