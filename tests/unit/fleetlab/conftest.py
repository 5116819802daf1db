# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures: an in-process fleetlab (virtual runtime) on the private lab net (``FLEETLAB_TEST_NET``)."""
from __future__ import annotations

import pytest

from fleetlab_support import LAB_NET, Lab, make_machines
from lab.fleetlab import start_fleetlab  # fleetlab_support puts the repository on sys.path


def _start(tmp_path, machines, **kwargs):
    sock = str(tmp_path / "fleet.sock")
    kwargs.setdefault("latency", 0.02)
    kwargs.setdefault("process", False)
    return start_fleetlab(machines, host=LAB_NET + ".1", port=0, socket_path=sock,
                          state_dir=str(tmp_path / "state"), **kwargs)


@pytest.fixture
def flab_factory(tmp_path):
    servers = []

    def factory(machines=None, **kwargs):
        machines = machines if machines is not None else make_machines()
        server = _start(tmp_path / ("lab%d" % len(servers)), machines, **kwargs) if servers else _start(tmp_path, machines, **kwargs)
        servers.append(server)
        return Lab(server, machines)

    (tmp_path / "lab1").mkdir()
    (tmp_path / "lab2").mkdir()
    yield factory
    for server in servers:
        server.stop()


@pytest.fixture
def flab(flab_factory):
    return flab_factory()
