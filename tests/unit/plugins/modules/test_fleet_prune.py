# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Which units fleet_prune selects (pure selection; the removal itself is tested against fleetlab)."""

from __future__ import annotations

import pytest

from ansible_collections.houston.stack.plugins.module_utils._naming import marker_options
from ansible_collections.houston.stack.plugins.modules.fleet_prune import select, version_order


def unit(name, stack="example", version=None, marker=True, owner=None):
    options = [{"section": "Service", "name": "ExecStart", "value": "/bin/true"}]
    if marker:
        options += marker_options(stack, version or name.split("@")[1].split(".")[0])
        if owner:
            options[-1] = dict(options[-1], value=owner)
    return {"name": name, "options": options, "desiredState": "launched"}


UNITS = [
    unit("example@v1.service"), unit("example-db@v1.service"),
    unit("example@v2.service"), unit("example-db@v2.service"),
    unit("example@v3.service"), unit("example-db@v3.service"),
    unit("example@v4.service"), unit("example-db@v4.service"),
    unit("example-file-deploy@abcd1234.service", version="v2"),
    unit("example-manual@v1.service", marker=False),              # no marker: foreign
    unit("example-other@v1.service", owner="someone-else"),       # marker of another owner: foreign
    unit("other@v1.service", stack="other"),                      # other stack, outside the prefix
    unit("sneaky@v1.service", stack="example"),                   # marker says example but outside the prefix
    unit("example2@v1.service", stack="example"),                 # prefix look-alike
]
KEEP = ["example@v4.service", "example-db@v4.service", "example-file-deploy@abcd1234.service"]


@pytest.mark.parametrize("keep_versions, history, removed_versions, kept_versions", [
    (1, None, ["v1", "v2"], ["v3"]),
    (0, None, ["v1", "v2", "v3"], []),
    (2, None, ["v1"], ["v3", "v2"]),
    (5, None, [], ["v3", "v2", "v1"]),
    (1, ["v4", "v1", "v3", "v2"], ["v2", "v3"], ["v1"]),   # history order wins over name order
    (1, ["v4", "v2"], ["v1", "v3"], ["v2"]),               # versions missing from history are older
])
def test_select_by_version(keep_versions, history, removed_versions, kept_versions):
    remove, kept, kept_v, foreign = select(UNITS, "example", KEEP, keep_versions, history)
    assert kept_v == kept_versions
    assert remove == sorted(f"{base}@{v}.service" for v in removed_versions for base in ("example", "example-db"))
    assert set(KEEP) <= set(kept)
    assert foreign == ["example-manual@v1.service", "example-other@v1.service"]
    for untouchable in ("example-manual@v1.service", "example-other@v1.service", "other@v1.service", "sneaky@v1.service",
                        "example2@v1.service"):
        assert untouchable not in remove


def test_explicit_prefix_and_marker_both_required():
    remove, _kept, _kv, _foreign = select(UNITS, "example", [], 0, prefix="")
    assert "sneaky@v1.service" in remove and "example2@v1.service" in remove
    assert "other@v1.service" not in remove and "example-manual@v1.service" not in remove


def test_version_order():
    assert version_order({"a", "c", "b"}, None) == ["c", "b", "a"]
    assert version_order({"a", "c", "b"}, ["b", "zz", "a"]) == ["b", "a", "c"]
