# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.

"""Status views of units as fleet_unit_info describes them, shared by the modules and the stack filters."""

from __future__ import annotations


def row_ips(rows):
    """The IPs of state rows (``machines`` of a unit result), sorted and distinct."""
    return sorted({row["ip"] for row in rows or [] if row.get("ip")})


def status_rows(units):
    """Flatten fleet_unit_info ``units`` into rows ``{unit, version, stack, machine_id, ip, state}``."""
    rows = []
    for unit in units or []:
        marker = unit.get("marker") or {}
        machines = unit.get("machines") or []
        if not machines:
            rows.append({"unit": unit.get("name"), "stack": marker.get("stack"), "version": marker.get("version"),
                         "machine_id": None, "ip": None,
                         "state": f"{unit.get('desired_state')}/{unit.get('current_state')} (not scheduled)"})
        for machine in machines:
            rows.append({"unit": unit.get("name"), "stack": marker.get("stack"), "version": marker.get("version"),
                         "machine_id": machine.get("machine_id"), "ip": machine.get("ip"),
                         "state": f"{machine.get('load_state')}/{machine.get('active_state')}/{machine.get('sub_state')}"})
    return sorted(rows, key=lambda r: (str(r["ip"]), str(r["unit"])))


def versions_by_machine(rows):
    """``{ip: [versions]}`` from status_rows (versions in unit name order), for deploy reports."""
    result = {}
    for row in rows or []:
        if row.get("ip") is None:
            continue
        versions = result.setdefault(row["ip"], [])
        if row.get("version") and row["version"] not in versions:
            versions.append(row["version"])
    return result
