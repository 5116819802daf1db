# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The global and the standalone stack of examples/lab on the lab: deploy, idempotence, files after units
(global), status, remove. Run: .venv/bin/pytest tests/integration/test_roles_global_standalone.py -x
"""
from __future__ import annotations

from pathlib import Path

from tests.integration.stack_helpers import deploy, fleet, kv_json, report


def global_units(lab):
    ips = {m["id"]: m["ip"] for m in lab.machines}
    names = [u["name"] for u in fleet(lab, "units").get("units", [])
             if u["name"].startswith(("node-helper@", "global-file-deploy@"))]
    states = fleet(lab, "state").get("states", [])
    return {n: sorted((ips[s["machineID"]], s["systemdActiveState"]) for s in states if s["name"] == n) for n in names}


def test_global_stack_units_then_files_on_every_machine(lab):
    rc, out, err, recap = deploy(lab, stack="global")
    assert rc == 0, out + err
    every = sorted(m["ip"] for m in lab.machines)
    units = global_units(lab)
    assert sorted(n.split("@")[0] for n in units) == ["global-file-deploy", "node-helper"]
    for name, rows in units.items():
        assert rows == [(ip, "active") for ip in every], name
    changes = [c["name"] for c in report(out)["changes"]]
    assert changes[0] == "node-helper@v1.service" and changes[-1].startswith("global-file-deploy@")
    for machine in lab.machines:
        assert Path(machine["root"], "etc", "houston", "environment").read_text() == "environment=lab\n"
    assert kv_json(lab, "houston/global/history")[0]["result"] == "success"


def test_global_stack_second_run_changes_nothing(lab):
    rc, out, err, recap = deploy(lab, stack="global")
    assert rc == 0 and recap["changed"] == 0, out + err


def test_global_stack_new_unit_version_replaces_the_old(lab):
    definition = {"units": ["node-helper:v2"], "files": [{"path": "/etc/houston/environment", "content": "environment=lab\n"}]}
    rc, out, err, recap = deploy(lab, stack="global", houston_global=definition)
    assert rc == 0, out + err
    assert sorted(n for n in global_units(lab) if n.startswith("node-helper@")) == ["node-helper@v2.service"]


def test_standalone_stack_deploy_status_and_remove(lab):
    rc, out, err, recap = deploy(lab, stack="static-site")
    assert rc == 0, out + err
    names = [u["name"] for u in fleet(lab, "units").get("units", []) if u["name"].startswith("static-site")]
    assert sorted(n.split("@")[0] for n in names) == ["static-site-file-deploy", "static-site-web"]
    web_root = next(m for m in lab.machines if m["metadata"].get("role") == "web")["root"]
    assert Path(web_root, "run", "static-site-web@v1.service.port").exists()
    rc, out, err, recap = deploy(lab, stack="static-site")
    assert rc == 0 and recap["changed"] == 0, out + err
    rc, out, err, recap = deploy(lab, "houston.stack.status", stack="static-site")
    assert rc == 0, out + err
    status = report(out, "status_report")
    assert any("static-site-web@v1.service" in line and "active" in line for line in status["units"])
    rc, out, err, recap = deploy(lab, "houston.stack.remove", stack="static-site")
    assert rc == 0, out + err
    assert [u["name"] for u in fleet(lab, "units").get("units", []) if u["name"].startswith("static-site")] == []


def test_global_stack_remove(lab):
    rc, out, err, recap = deploy(lab, "houston.stack.remove", stack="global")
    assert rc == 0, out + err
    assert global_units(lab) == {}
