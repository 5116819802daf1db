# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Load: 20 stacks deployed concurrently on 30 virtual machines, and 200 sequential deploys of one stack with no
growth of Consul keys or fleet units beyond keep_versions. Figures (durations, counts) are printed for
docs/reliability.md; nothing here asserts a duration.

Run: make soak   (or .venv/bin/pytest tests/soak -s)
"""
from __future__ import annotations

import json
import os
import subprocess
import time

import requests

from tests.integration.reliability.rel_support import fleet_all, kv_entries, run_env, stack_units
from tests.support import PYTHON, REPO_ROOT


def _command(inventory, variables, tmp_path, name):
    vars_file = tmp_path / f"{name}.json"
    vars_file.write_text(json.dumps({"ansible_python_interpreter": str(PYTHON), **variables}), encoding="utf-8")
    return [str(REPO_ROOT / ".venv" / "bin" / "ansible-playbook"), "houston.stack.deploy", "-i", str(inventory),
            "-e", f"@{vars_file}"]


def _expected_machines(lab):
    return {m["id"] for m in fleet_all(lab, "machines", "machines")}


def test_twenty_stacks_deploy_concurrently_on_thirty_machines(virtual_lab, soak_inventory, tmp_path):
    lab = virtual_lab
    inventory, stacks = soak_inventory
    machines = _expected_machines(lab)
    assert len(machines) >= 30
    started = time.monotonic()
    procs = []
    for stack in stacks:
        log = open(tmp_path / f"{stack}.log", "w", encoding="utf-8")  # pylint: disable=consider-using-with
        procs.append((stack, log, subprocess.Popen(_command(inventory, {"stack": stack, "version": "v1"}, tmp_path, stack),
                                                   env=run_env(lab), stdout=log, stderr=subprocess.STDOUT)))
    failed = []
    for stack, log, proc in procs:
        proc.wait(timeout=3600)
        log.close()
        if proc.returncode != 0:
            failed.append((stack, (tmp_path / f"{stack}.log").read_text()[-2000:]))
    elapsed = time.monotonic() - started
    assert not failed, failed
    for stack in stacks:
        units = stack_units(lab, stack)
        assert sorted(n for n in units if "-file-deploy@" not in n) == [f"{stack}-dep@v1.service", f"{stack}@v1.service"]
        for name, rows in units.items():
            assert set(rows) == machines and set(rows.values()) == {"active"}, name
    print(f"\nSOAK concurrent: {len(stacks)} stacks x {len(machines)} machines deployed in {elapsed:.0f} s "
          f"({len(fleet_all(lab, 'units', 'units'))} units, {len(kv_entries(lab))} KV keys)")


def test_sequential_deploys_do_not_grow_keys_or_units(virtual_lab, soak_inventory, tmp_path):
    lab = virtual_lab
    inventory, stacks = soak_inventory
    stack = stacks[0]
    total = int(os.environ.get("SOAK_DEPLOYS", "200"))
    batch = int(os.environ.get("SOAK_BATCH", "50"))
    playbook = tmp_path / "sequential.yml"
    playbook.write_text(json.dumps([{
        "name": "Deploy one stack many times in a row", "hosts": "localhost", "gather_facts": False,
        "tasks": [{"name": "Deploy a version", "ansible.builtin.include_role": {"name": "houston.stack.service_stack"},
                   "vars": {"service_stack_name": stack, "service_stack_version": "s{{ '%04d' % item }}",
                            "stack": stack, "version": "s{{ '%04d' % item }}"},
                   "loop": "{{ range(first, last) | list }}"}]}]), encoding="utf-8")
    counts = []
    started = time.monotonic()
    done = 0
    while done < total:
        last = min(total, done + batch)
        cmd = [str(REPO_ROOT / ".venv" / "bin" / "ansible-playbook"), str(playbook), "-i", str(inventory),
               "-e", json.dumps({"first": done + 1, "last": last + 1, "ansible_python_interpreter": str(PYTHON)})]
        proc = subprocess.run(cmd, env=run_env(lab), capture_output=True, text=True, timeout=7200, check=False)
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
        done = last
        units = stack_units(lab, stack)
        keys = [e["Key"] for e in kv_entries(lab) if e["Key"].startswith(f"houston/{stack}/")]
        counts.append((done, len(units), len(keys)))
        versions = sorted({n.rsplit("@", 1)[1][:-len(".service")] for n in units if "-file-deploy@" not in n})
        assert versions == [f"s{done - 1:04d}", f"s{done:04d}"][-min(2, done):], versions  # current + keep_versions 1
        assert len(units) <= 2 * 3, sorted(units)  # (dep, service, archive) x (current + 1 kept)
    elapsed = time.monotonic() - started
    history = json.loads(requests.get(f"http://{lab.consul_address}/v1/kv/houston/{stack}/history",
                                      params={"raw": "1"}, timeout=10).text)
    assert len(history) <= 20
    assert len({c[2] for c in counts[1:]}) <= 1 and all(c[2] <= counts[0][2] + 2 for c in counts), counts
    print(f"\nSOAK sequential: {total} deploys of {stack} in {elapsed:.0f} s; (deploys, units, keys) after each "
          f"batch: {counts}")
