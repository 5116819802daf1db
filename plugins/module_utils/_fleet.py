# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.

"""A client for the fleet v1 HTTP API (units, state, machines, with nextPageToken pagination)."""

from __future__ import annotations

import json
from urllib.parse import quote, urlencode

from ansible.module_utils.basic import env_fallback

from ansible_collections.houston.stack.plugins.module_utils._http import HttpTransport, RequestError, quote_path

API = "/fleet/v1"
DESIRED_STATES = ("inactive", "loaded", "launched")
MAX_PAGES = 10000

FLEET_ARGSPEC = dict(
    fleet_endpoint=dict(type="str", default="unix:///var/run/fleet.sock", fallback=(env_fallback, ["FLEETCTL_ENDPOINT"])),
    fleet_timeout=dict(type="int", default=10),
    fleet_retries=dict(type="int", default=3),
    fleet_validate_certs=dict(type="bool", default=True),
    fleet_ca_path=dict(type="path"),
    fleet_client_cert=dict(type="path"),
    fleet_client_key=dict(type="path", no_log=False),
)


class FleetError(Exception):
    """A fleet API failure, with a message naming the operation, the resource and fleet's answer."""

    def __init__(self, message, error=None):
        super().__init__(message)
        self.error = error
        self.status = getattr(error, "status", None)


def fleet_message(error):
    """The ``error.message`` from a fleet error body, or the raw body / transport reason."""
    if error.status is None:
        return f"no answer from fleet: {error.reason}"
    try:
        data = json.loads(error.body)
        message = data["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = error.body.strip()
    return f"HTTP {error.status}: {message or error.reason or '(empty message)'}"


class FleetClient:
    """Calls against one fleet endpoint. Every failure raises FleetError (one place to turn into fail_json)."""

    def __init__(self, endpoint, timeout=10, retries=3, validate_certs=True, ca_path=None, client_cert=None,
                 client_key=None, transport=None):
        self.endpoint = endpoint
        self.transport = transport or HttpTransport(
            endpoint, timeout=timeout, retries=retries, validate_certs=validate_certs, ca_path=ca_path,
            client_cert=client_cert, client_key=client_key,
        )

    @classmethod
    def from_params(cls, params):
        return cls(
            params["fleet_endpoint"], timeout=params["fleet_timeout"], retries=params["fleet_retries"],
            validate_certs=params["fleet_validate_certs"], ca_path=params["fleet_ca_path"],
            client_cert=params["fleet_client_cert"], client_key=params["fleet_client_key"],
        )

    def _call(self, operation, method, path, body=None, missing_ok=False):
        try:
            return self.transport.request_json(method, API + path, body=body, operation=operation)
        except RequestError as e:
            if missing_ok and e.status == 404:
                return 404, None, e.headers
            raise FleetError(f"{operation} failed at fleet {self.endpoint}: {fleet_message(e)}", e) from e

    def _pages(self, operation, path, key, query=None, enough=None):
        """Every item of every page; ``enough(items)`` true stops before the next page."""
        items = []
        token = None
        for _page in range(MAX_PAGES):
            params = dict(query or {})
            if token:
                params["nextPageToken"] = token
            suffix = ("?" + urlencode(params, quote_via=quote)) if params else ""
            _status, data, _headers = self._call(operation, "GET", path + suffix)
            data = data or {}
            items.extend(data.get(key) or [])
            token = data.get("nextPageToken")
            if not token or (enough is not None and enough(items)):
                return items
        raise FleetError(f"{operation} at fleet {self.endpoint}: more than {MAX_PAGES} pages; giving up")

    def units(self):
        """Every unit (name, options, desiredState, currentState, machineID), all pages."""
        return self._pages("list fleet units", "/units", "units")

    def unit(self, name):
        """One unit, or None when fleet does not know it."""
        status, data, _headers = self._call(f"get fleet unit {name!r}", "GET", "/units/" + quote_path(name), missing_ok=True)
        return None if status == 404 else data

    def put_unit(self, name, options, desired_state):
        """Create (or replace) a unit with options and a desiredState; fleet answers 201."""
        body = {"name": name, "desiredState": desired_state, "options": options}
        return self._call(f"create fleet unit {name!r}", "PUT", "/units/" + quote_path(name), body=body)[0]

    def set_state(self, name, desired_state):
        """Change the desiredState of an existing unit; fleet answers 204."""
        body = {"name": name, "desiredState": desired_state}
        return self._call(f"set desiredState={desired_state} of fleet unit {name!r}", "PUT", "/units/" + quote_path(name), body=body)[0]

    def delete(self, name, missing_ok=True):
        """Destroy a unit; True when it existed."""
        status = self._call(f"destroy fleet unit {name!r}", "DELETE", "/units/" + quote_path(name), missing_ok=missing_ok)[0]
        return status != 404

    def state(self, unit_name=None, machine_id=None, machine_ids=None):
        """Unit state rows (one per unit and machine that loaded it), optionally filtered.

        With ``machine_ids`` (of one unit's rows, which fleet sorts by machine id), the pages stop once every one of
        those machines has a row: a probe of 300 machines reads 3 pages, not 3 and the empty fourth that follows a
        full page."""
        query = {}
        if unit_name:
            query["unitName"] = unit_name
        if machine_id:
            query["machineID"] = machine_id
        what = f" of unit {unit_name!r}" if unit_name else ""
        wanted = set(machine_ids or ())

        def every_wanted_machine_reported(rows):
            return wanted <= {r.get("machineID") for r in rows}

        return self._pages(f"list fleet unit states{what}", "/state", "states", query,
                           every_wanted_machine_reported if wanted else None)

    def machines(self):
        """Live machines (id, primaryIP, metadata), all pages."""
        return self._pages("list fleet machines", "/machines", "machines")


def state_row(row, machines_by_id=None):
    """A fleet UnitState as the modules return it (snake_case, with the machine's IP)."""
    machine = (machines_by_id or {}).get(row.get("machineID"), {})
    return {
        "machine_id": row.get("machineID"),
        "ip": machine.get("primaryIP"),
        "hash": row.get("hash"),
        "load_state": row.get("systemdLoadState"),
        "active_state": row.get("systemdActiveState"),
        "sub_state": row.get("systemdSubState"),
    }


def describe_row(row):
    """``machine <id> (<ip>): load/active/sub`` for error messages."""
    return (f"machine {row.get('machine_id')} ({row.get('ip') or 'no IP'}): "
            f"{row.get('load_state')}/{row.get('active_state')}/{row.get('sub_state')}")


UNIT_TYPES = frozenset("automount busname device mount path scope service slice snapshot socket swap target timer".split())
TEMPLATE_TYPES = frozenset("path service socket target timer".split())


def check_unit_name(name):
    """Validate a unit name with fleet's rules (systemd's unit_name_is_valid); returns it or raises ValueError."""
    if not name:
        raise ValueError("unit name cannot be empty")
    if len(name) > 256:
        raise ValueError(f"unit name {name!r} exceeds maximum length (256)")
    if "." not in name:
        raise ValueError(f'unit name {name!r} must contain "." (for example {name}.service)')
    if name.endswith("."):
        raise ValueError(f'unit name {name!r} cannot end in "."')
    base, _dot, suffix = name.rpartition(".")
    if suffix not in UNIT_TYPES:
        raise ValueError(f"unit name {name!r}: invalid unit type {suffix!r}")
    if "@" in name and suffix not in TEMPLATE_TYPES:
        raise ValueError(f"unit name {name!r}: invalid unit type for template {suffix!r}")
    for char in base:
        if not (char.isascii() and char.isalnum()) and char not in ":-_.\\@":
            raise ValueError(f"unit name {name!r}: invalid character {char!r}")
    if name.startswith("@"):
        raise ValueError(f'unit name {name!r} cannot start in "@"')
    return name


def is_template(name):
    """True for a template name such as ``foo@.service`` (empty instance)."""
    base = name.rpartition(".")[0]
    return "@" in base and base.partition("@")[2] == ""
