# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared pytest set-up for every test of the repository.

* ``.cache/collections/ansible_collections/houston/stack`` (a symlink to the repository) is
  created when missing, and ``.cache/collections`` plus the repository root are put on
  ``sys.path``: tests import ``ansible_collections.houston.stack...`` and ``lab``.
* ``lab`` (module fixture: each test file gets a fresh lab, so no file sees what another left,
  stopped agents and faults included): a private lab (real Consul cluster + fleetlab when it exists) in a
  pytest temporary directory, on ``TEST_LAB_NET`` (default ``127.0.200``; each pytest-xdist worker
  adds its index to the third octet), with ``TEST_LAB_MACHINES`` machines (default 3). It returns
  a :class:`lab.cluster.LabInfo`: ``env`` (dict of the lab's env file), ``machines`` (machines.json),
  ``consul_address``, ``fleet_endpoint``, ``fleetlab_url``, ``fleetlab_admin_url``, ``lab_dir``,
  ``net``. The lab is stopped at the end of the test file. A lab left behind by a killed test run on
  the same net is stopped first.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
COLLECTIONS_PATH = REPO_ROOT / ".cache" / "collections"
COLLECTION_LINK = COLLECTIONS_PATH / "ansible_collections" / "houston" / "stack"


def ensure_collection_link() -> Path:
    """Create the ``.cache/collections/.../houston/stack`` symlink to the repository if missing."""
    if not COLLECTION_LINK.is_symlink() and not COLLECTION_LINK.exists():
        COLLECTION_LINK.parent.mkdir(parents=True, exist_ok=True)
        try:
            COLLECTION_LINK.symlink_to(REPO_ROOT)
        except FileExistsError:  # created concurrently by another worker
            pass
    return COLLECTIONS_PATH


ensure_collection_link()
for _path in (str(COLLECTIONS_PATH), str(REPO_ROOT)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from lab.cluster import Lab, LabConfig, LabInfo  # noqa: E402  pylint: disable=wrong-import-position


def lab_net_for(config: pytest.Config) -> str:
    """The LAB_NET of this session's test lab (xdist worker N adds N to the third octet)."""
    base = os.environ.get("TEST_LAB_NET") or "127.0.200"
    worker = getattr(config, "workerinput", {}).get("workerid", "gw0")
    index = int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0
    first, second, third = base.split(".")
    return f"{first}.{second}.{int(third) + index}"


def _stop_leftover_lab(net: str) -> Path:
    """Stop a lab on ``net`` left by a killed test session (its LAB_DIR is recorded in .cache)."""
    marker = REPO_ROOT / ".cache" / "test-labs" / net
    if marker.exists():
        old_dir = Path(marker.read_text(encoding="utf-8").strip())
        if old_dir.is_dir():
            Lab(LabConfig.from_env({"LAB_DIR": str(old_dir), "LAB_NET": net})).down(quiet=True)
    marker.parent.mkdir(parents=True, exist_ok=True)
    return marker


@pytest.fixture(scope="module")
def lab(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> LabInfo:
    """A running private lab for one test file (see the module docstring)."""
    net = lab_net_for(request.config)
    lab_dir = tmp_path_factory.mktemp("lab")
    marker = _stop_leftover_lab(net)
    config = LabConfig.from_env({
        "LAB_DIR": str(lab_dir),
        "LAB_NET": net,
        "LAB_MACHINES": os.environ.get("TEST_LAB_MACHINES", "3"),
        "LAB_CACHE": os.environ.get("LAB_CACHE", ""),
        "LAB_METADATA": os.environ.get("TEST_LAB_METADATA", ""),
    })
    cluster = Lab(config, out=sys.stderr)
    marker.write_text(str(lab_dir), encoding="utf-8")
    cluster.up()
    try:
        yield LabInfo.load(lab_dir)
    finally:
        cluster.down(quiet=True)
        marker.unlink(missing_ok=True)
