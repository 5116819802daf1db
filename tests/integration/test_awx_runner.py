# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""deploy.yml run through ansible-runner the way AWX runs a job template.

AWX builds a private data directory per job: ``project/`` (the SCM project, whose playbook is a
one-play wrapper importing ``houston.stack.deploy``, see examples/awx/project), ``inventory/``,
``env/extravars`` (job template variables + survey answers), ``env/envvars`` (credential
injectors: CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN, FLEETCTL_ENDPOINT) and ``--check`` on the command line
for the Check job type. The test deploys the example stack on a private lab, then runs a Check job
for the next version, which must predict changes and change nothing on the cluster: fleet units
(name, desired and current state, unit hash, states per machine) and every Consul KV entry
(key, ModifyIndex, value, lock session) are compared before and after.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import ansible_runner
import pytest
import requests

from ansible_collections.houston.stack.plugins.module_utils._fleet import FleetClient

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_INVENTORY = REPO_ROOT / "examples" / "lab" / "inventory"
AWX_PROJECT = REPO_ROOT / "examples" / "awx" / "project"
STACK = os.environ.get("AWX_TEST_STACK", "example")
# Versions no other test file deploys: test files share a lab per pytest worker.
FIRST, SECOND = "awx-v1", "awx-v2"


def private_data_dir(tmp_path: Path, lab, extravars: dict) -> Path:
    """Lay out a private data directory as AWX does for a job."""
    root = tmp_path / "awx-job"
    shutil.copytree(AWX_PROJECT, root / "project")
    # The environment's inventory with its unit templates and files next to it (examples/lab layout:
    # group_vars point at <inventory>/../units and ../files), as an inventory sourced from the project.
    shutil.copytree(EXAMPLE_INVENTORY, root / "inventory")
    for sibling in ("units", "files"):
        if (EXAMPLE_INVENTORY.parent / sibling).is_dir():
            shutil.copytree(EXAMPLE_INVENTORY.parent / sibling, root / sibling)
    (root / "env").mkdir()
    # Survey answers and job template variables: extra vars, highest precedence.
    (root / "env" / "extravars").write_text(json.dumps(extravars), encoding="utf-8")
    # The credential type's injectors (docs/awx.md): plain environment variables.
    envvars = {
        "CONSUL_HTTP_ADDR": lab.consul_address,
        "FLEETCTL_ENDPOINT": lab.fleet_endpoint,
        "ANSIBLE_COLLECTIONS_PATH": str(REPO_ROOT / ".cache" / "collections"),
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
        # the EE's ansible-playbook: the one of this virtualenv
        "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
    }
    (root / "env" / "envvars").write_text(json.dumps(envvars), encoding="utf-8")
    (root / "env" / "settings").write_text(json.dumps({"suppress_ansible_output": True}), encoding="utf-8")
    return root


def run_job(root: Path, ident: str, check: bool = False):
    cmdline = "--check --diff" if check else "--diff"
    return ansible_runner.run(
        private_data_dir=str(root), playbook="deploy.yml", ident=ident, cmdline=cmdline,
        quiet=True,
    )


def failures(result) -> str:
    lines = []
    for event in result.events:
        if event.get("event") in ("runner_on_failed", "runner_on_unreachable"):
            data = event.get("event_data", {})
            lines.append("%s: %s" % (data.get("task"), json.dumps(data.get("res", {}).get("msg", data.get("res")))[:2000]))
    return "\n".join(lines) or result.stdout.read()[-4000:]


def final_stats(result) -> dict:
    for event in result.events:
        if event.get("event") == "playbook_on_stats":
            return event["event_data"]
    raise AssertionError("no playbook_on_stats event")


def cluster_state(lab) -> dict:
    """Everything a deploy can change: fleet units with their per-machine states, and all of Consul KV."""
    fleet = FleetClient(lab.fleet_endpoint)
    units = {
        u["name"]: (u.get("desiredState"), u.get("currentState"), json.dumps(u.get("options"), sort_keys=True))
        for u in fleet.units()
    }
    states = sorted((s["name"], s.get("machineID"), s.get("systemdActiveState"), s.get("systemdSubState")) for s in fleet.state())
    answer = requests.get("http://%s/v1/kv/?recurse=true" % lab.consul_address, timeout=10)
    kv = {} if answer.status_code == 404 else {
        e["Key"]: (e["ModifyIndex"], e.get("Value"), e.get("Session"), e.get("Flags")) for e in answer.json()
    }
    return {"units": units, "states": states, "kv": kv}


@pytest.fixture(name="deployed")
def fixture_deployed(lab, tmp_path):
    root = private_data_dir(tmp_path / "run", lab, {"stack": STACK, "version": FIRST})
    result = run_job(root, "deploy-" + FIRST)
    assert result.status == "successful" and result.rc == 0, failures(result)
    return result


def test_awx_job_deploys_and_reports_stats(lab, deployed):
    stats = final_stats(deployed)
    assert sum(stats.get("changed", {}).values()) > 0
    # set_stats data becomes workflow artifacts in AWX
    artifacts = stats.get("artifact_data", {})
    assert FIRST in json.dumps(artifacts), artifacts
    units = [u["name"] for u in FleetClient(lab.fleet_endpoint).units()]
    assert "%s@%s.service" % (STACK, FIRST) in units


def test_awx_check_job_predicts_and_changes_nothing(lab, deployed, tmp_path):
    before = cluster_state(lab)
    root = private_data_dir(tmp_path / "check", lab, {"stack": STACK, "version": SECOND})
    result = run_job(root, "check-" + SECOND, check=True)
    assert result.status == "successful" and result.rc == 0, failures(result)
    after = cluster_state(lab)
    assert after["units"] == before["units"]
    assert after["states"] == before["states"]
    assert after["kv"] == before["kv"]
    # The check run predicted the deploy of v2 (it would change the cluster) without doing it.
    assert sum(final_stats(result).get("changed", {}).values()) > 0
    assert "%s@%s.service" % (STACK, SECOND) not in after["units"]


def test_awx_empty_survey_answer_fails_before_touching_the_cluster(lab, deployed, tmp_path):
    """An optional survey question left empty arrives as "" (not undefined): the playbook must refuse it."""
    before = cluster_state(lab)
    root = private_data_dir(tmp_path / "empty", lab, {"stack": STACK, "version": ""})
    result = run_job(root, "empty-version")
    assert result.status == "failed"
    assert "version" in failures(result)
    assert cluster_state(lab) == before
