# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixture: a fleetlab subprocess per test module, for the third-party client tests."""
from __future__ import annotations

import pytest

from fleetlab_process import start_fleetlab_process, stop_fleetlab_process


@pytest.fixture(scope="module")
def fleetlab_process(tmp_path_factory):
    lab = start_fleetlab_process(tmp_path_factory.mktemp("fleetlab"))
    yield lab
    stop_fleetlab_process(lab)
