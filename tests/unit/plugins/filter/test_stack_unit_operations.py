# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""stack_unit_operations predicts, from one read of fleet's units, what a check-mode fleet_unit predicts per unit."""
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.houston.stack.plugins.filter import stack as f
from ansible_collections.houston.stack.plugins.module_utils import _unitfile
from ansible_collections.houston.stack.plugins.modules import fleet_unit

WEB = "[Unit]\nDescription=web\n\n[Service]\nExecStart=/bin/web\n"


def fleet(name, content, state="launched"):
    return {"name": name, "options": _unitfile.parse(content), "desired_state": state}


def test_each_operation_from_one_read():
    units = [{"fleet_name": n, "content": WEB} for n in ("a@v1.service", "b@v1.service", "c@v1.service", "d@v1.service")]
    known = [
        # same unit after fleet's trimming: unchanged
        fleet("a@v1.service", "[Unit]\nDescription = web \n[Service]\nExecStart=/bin/web"),
        fleet("b@v1.service", WEB.replace("/bin/web", "/bin/web2")),
        fleet("c@v1.service", WEB, state="loaded"),
        fleet("other@v1.service", WEB),
    ]
    assert f.stack_unit_operations(units, known) == ["none", "replaced", "state_changed", "created"]


def test_agrees_with_fleet_unit_plan():
    existing = {"name": "a@v1.service", "options": _unitfile.parse(WEB), "desiredState": "inactive"}
    desired = _unitfile.validate(_unitfile.check_options(_unitfile.parse(WEB)))
    expected = fleet_unit.plan(existing, desired, "launched")
    known = [fleet("a@v1.service", WEB, state="inactive")]
    assert f.stack_unit_operations([{"fleet_name": "a@v1.service", "content": WEB}], known) == [expected]


@pytest.mark.parametrize("name,content,message", [
    ("bad name.service", WEB, "invalid character"),
    ("a@.service", WEB, "is a template"),
    ("a@v1.service", "no section here", "content of unit 'a@v1.service'"),
    ("a@v1.service", WEB + "[X-Fleet]\nNotAnOption=1\n", "unit 'a@v1.service'"),
])
def test_invalid_units_fail_naming_the_unit(name, content, message):
    with pytest.raises(AnsibleFilterError, match=message):
        f.stack_unit_operations([{"fleet_name": name, "content": content}], [])
