# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the stack deploy tests observe, read with independent clients (requests, py-consul): fleet units,
Consul health, history and lock, and the deploy report printed by the roles."""
from __future__ import annotations

import json
import re
from pathlib import Path

import requests

from tests.support import REPO_ROOT, lab_environment, run_playbook

EXAMPLE_INVENTORY = REPO_ROOT / "examples" / "lab" / "inventory"


def deploy(lab, playbook="houston.stack.deploy", check=False, **extra_vars):
    """Run a collection playbook against the example inventory; (rc, stdout, stderr, recap of localhost)."""
    rc, out, err, recap = run_playbook(playbook, inventory=str(EXAMPLE_INVENTORY), extra_vars=extra_vars,
                                       env=lab_environment(lab), check=check)
    return rc, out, err, recap.get("localhost", {})


def report(stdout, key="stack_deploy_report"):
    """The last ``debug: var: <key>`` object printed by the play."""
    start = stdout.rfind(f'"{key}": {{')
    assert start >= 0, f"no {key} in the output:\n{stdout[-3000:]}"
    obj, _end = json.JSONDecoder().raw_decode(stdout[stdout.index("{", start):])
    return obj


def fleet(lab, path):
    """GET on fleetlab's TCP listener (the same API as the unix socket)."""
    answer = requests.get(f"{lab.fleetlab_url}/fleet/v1/{path}", timeout=10)
    answer.raise_for_status()
    return answer.json()


def fleet_units(lab, stack):
    """{unit name: [(ip, activeState)]} for the units of ``stack`` (by name prefix)."""
    ips = {m["id"]: m["ip"] for m in lab.machines}
    names = [u["name"] for u in fleet(lab, "units").get("units", [])]
    states = fleet(lab, "state").get("states", [])
    pattern = re.compile(rf"^{re.escape(stack)}(@|-)")
    result = {}
    for name in names:
        if pattern.match(name):
            result[name] = sorted((ips.get(s["machineID"]), s["systemdActiveState"]) for s in states if s["name"] == name)
    return result


def consul_get(lab, path, **params):
    answer = requests.get(f"http://{lab.consul_address}/v1/{path}", params=params, timeout=10)
    return answer


def passing_instances(lab, service, tag=None):
    """Sorted [(address, tags)] of the instances of ``service`` passing all checks."""
    params = {"passing": "1"}
    if tag:
        params["tag"] = tag
    answer = consul_get(lab, f"health/service/{service}", **params)
    answer.raise_for_status()
    return sorted((e["Service"]["Address"], tuple(e["Service"]["Tags"])) for e in answer.json())


def kv_json(lab, key):
    answer = consul_get(lab, f"kv/{key}", raw="1")
    if answer.status_code == 404:
        return None
    answer.raise_for_status()
    return answer.json() if answer.text.strip().startswith(("[", "{", '"')) else answer.text


def lock_session(lab, stack):
    """The session holding the deploy lock of ``stack``, or None."""
    answer = consul_get(lab, f"kv/houston/{stack}/lock")
    if answer.status_code == 404:
        return None
    return answer.json()[0].get("Session")


def web_machine_ips(lab):
    return sorted(m["ip"] for m in lab.machines if m["metadata"].get("role") == "web")


def fleetlab_admin(lab, method, path, body=None):
    answer = requests.request(method, f"{lab.fleetlab_admin_url}/{path}", json=body, timeout=10)
    answer.raise_for_status()
    return answer.json() if answer.content else None


def app_get(address, port_file):
    port = Path(port_file).read_text().strip()
    return requests.get(f"http://{address}:{port}/", timeout=10).json()
