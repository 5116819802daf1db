# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The soak tests' lab: fleetlab in virtual mode (``SOAK_VIRTUAL`` machines, default 30; no unit processes) with
the real Consul cluster of the first 3 machines, on ``SOAK_LAB_NET`` (default ``TEST_LAB_NET`` or 127.0.201), and a
generated inventory of ``SOAK_STACKS`` (default 20) service stacks. Run with ``make soak``, not with ``make test``."""
from __future__ import annotations

import json
import os
import sys

import pytest

from lab.cluster import Lab, LabConfig, LabInfo


@pytest.fixture(scope="session")
def virtual_lab(tmp_path_factory) -> LabInfo:
    lab_dir = tmp_path_factory.mktemp("soak-lab")
    config = LabConfig.from_env({
        "LAB_DIR": str(lab_dir),
        "LAB_NET": os.environ.get("SOAK_LAB_NET") or os.environ.get("TEST_LAB_NET") or "127.0.201",
        "LAB_VIRTUAL": os.environ.get("SOAK_VIRTUAL", "30"),
        "LAB_CACHE": os.environ.get("LAB_CACHE", ""),
    })
    # The soak checks growth (keys, units), not speed: fleetlab's emulated agent reaction time (0.3 s by
    # default, fleet's own order of magnitude) is shortened so that hundreds of deploys fit in a CI run.
    os.environ.setdefault("FLEETLAB_LATENCY", os.environ.get("SOAK_FLEETLAB_LATENCY", "0.05"))
    cluster = Lab(config, out=sys.stderr)
    cluster.down(quiet=True)
    cluster.up()
    try:
        yield LabInfo.load(lab_dir)
    finally:
        cluster.down(quiet=True)


UNIT = "[Unit]\nDescription=soak {name}\n\n[Service]\nType=simple\nExecStart=/bin/sleep 1000000\n\n[X-Fleet]\nGlobal=true\n"


@pytest.fixture(scope="session")
def soak_inventory(tmp_path_factory):
    """An inventory with stacks soak-01 .. soak-NN (a file, a dependency unit, the service; no Consul wait:
    virtual units run no process)."""
    count = int(os.environ.get("SOAK_STACKS", "20"))
    directory = tmp_path_factory.mktemp("soak-inventory")
    (directory / "group_vars").mkdir()
    services = {}
    for number in range(1, count + 1):
        name = f"soak-{number:02d}"
        services[name] = {
            "keep_versions": 1,
            "wait_consul": False,
            "units": [{"name": "dep", "content": UNIT.format(name=f"{name} dependency")}],
            "service": {"content": UNIT.format(name=name)},
            "files": [{"path": f"/opt/{name}/etc/version", "content": "{{ version }}\n"}],
        }
    variables = {
        "houston_environment": "soak",
        "houston_fleet_endpoint": "{{ lookup('ansible.builtin.env', 'FLEETCTL_ENDPOINT') }}",
        "houston_consul_address": "{{ lookup('ansible.builtin.env', 'CONSUL_HTTP_ADDR') }}",
        "houston_services": services,
    }
    (directory / "group_vars" / "all.yml").write_text(json.dumps(variables, indent=1), encoding="utf-8")
    (directory / "hosts.yml").write_text(json.dumps({"all": {"hosts": {"localhost": {
        "ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}}}}),
        encoding="utf-8")
    return directory, sorted(services)
