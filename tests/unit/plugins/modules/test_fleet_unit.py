# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""fleet_unit's decision table (the end-to-end behaviour is tested against fleetlab)."""

from __future__ import annotations

import pytest

from ansible_collections.houston.stack.plugins.modules.fleet_unit import plan

OPTS = [{"section": "Service", "name": "ExecStart", "value": "/bin/sleep 100"}]
PADDED = [{"section": "Service", "name": " ExecStart ", "value": " /bin/sleep 100  "}]
OTHER = [{"section": "Service", "name": "ExecStart", "value": "/bin/sleep 200"}]


@pytest.mark.parametrize("existing, desired, state, operation", [
    (None, OPTS, "launched", "created"),
    (None, OPTS, "inactive", "created"),
    (None, None, "absent", "none"),
    ({"options": OPTS, "desiredState": "launched"}, None, "absent", "deleted"),
    ({"options": OPTS, "desiredState": "launched"}, OPTS, "launched", "none"),
    ({"options": OPTS, "desiredState": "launched"}, PADDED, "launched", "none"),
    ({"options": OPTS, "desiredState": "loaded"}, OPTS, "launched", "state_changed"),
    ({"options": OPTS, "desiredState": "launched"}, OPTS, "inactive", "state_changed"),
    ({"options": OPTS, "desiredState": "launched"}, OTHER, "launched", "replaced"),
    ({"options": OPTS, "desiredState": "inactive"}, OTHER, "inactive", "replaced"),
])
def test_plan(existing, desired, state, operation):
    assert plan(existing, desired, state) == operation
