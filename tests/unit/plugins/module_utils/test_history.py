# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""History helpers that need no server (the CAS writes are tested against Consul in tests/integration)."""

from __future__ import annotations

import pytest

from ansible_collections.houston.stack.plugins.module_utils._history import previous_versions


def entry(version, result):
    return {"version": version, "result": result}


@pytest.mark.parametrize("entries, current, expected", [
    ([], None, []),
    ([entry("v3", "success"), entry("v2", "success"), entry("v1", "success")], "v3", ["v2", "v1"]),
    ([entry("v4", "failed"), entry("v3", "success"), entry("v2", "running"), entry("v1", "success")], "v3", ["v1"]),
    ([entry("v2", "success"), entry("v1", "success"), entry("v2", "success"), entry("v1", "success")], "v2", ["v1"]),
    ([entry("v1", "success"), entry("v2", "success")], "v1", ["v2"]),  # rolled back: v2 stays a candidate
])
def test_previous_versions(entries, current, expected):
    assert previous_versions(entries, current) == expected
