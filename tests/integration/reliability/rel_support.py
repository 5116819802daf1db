# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the reliability suite observes on the lab, read with independent clients (requests): a snapshot of the
cluster (fleet units and Consul KV), deploys of the suite's inventory, and the checks every fault case makes
(the previous version still serves, no orphan units or keys, no version deployed twice)."""
from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path

import requests

from tests.support import REPO_ROOT, lab_environment, run_playbook

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "reliability"
INVENTORY = FIXTURES / "inventory"
# Keys rewritten by every deploy's lock churn (acquire/release), not by what is deployed.
_LOCK_KEY = re.compile(r"^houston/[^/]+/lock$")


# --- raw reads ------------------------------------------------------------------------------------------------------
def fleet_get(lab, path, **params):
    answer = requests.get(f"{lab.fleetlab_url}/fleet/v1/{path}", params=params, timeout=30)
    answer.raise_for_status()
    return answer.json()


def fleet_all(lab, path, key):
    """Every item of a paginated fleet collection."""
    items, token = [], None
    while True:
        page = fleet_get(lab, path, **({"nextPageToken": token} if token else {}))
        items += page.get(key, [])
        token = page.get("nextPageToken")
        if not token:
            return items


def consul_get(lab, path, address=None, **params):
    return requests.get(f"http://{address or lab.consul_address}/v1/{path}", params=params, timeout=30)


def kv_entries(lab):
    answer = consul_get(lab, "kv/", recurse="1")
    if answer.status_code == 404:
        return []
    answer.raise_for_status()
    return answer.json()


# --- the snapshot ---------------------------------------------------------------------------------------------------
def unit_fingerprint(unit) -> tuple:
    """(hash of the unit's options, desired state) of a fleet unit."""
    options = json.dumps(sorted((o["section"], o["name"], o["value"]) for o in unit.get("options", [])))
    return hashlib.sha1(options.encode()).hexdigest(), unit.get("desiredState")


def snapshot_from(units, kv) -> dict:
    """The comparable state of the cluster from raw fleet units and Consul KV entries."""
    return {
        "units": {u["name"]: unit_fingerprint(u) for u in units},
        "kv": {e["Key"]: e["ModifyIndex"] for e in kv if not _LOCK_KEY.match(e["Key"])},
    }


def snapshot(lab) -> dict:
    """Fleet units (options hash + desired state) and every Consul KV key with its ModifyIndex, lock keys excluded."""
    return snapshot_from(fleet_all(lab, "units", "units"), kv_entries(lab))


def changes(before, after) -> dict:
    """What differs between two snapshots (empty when nothing changed)."""
    diff = {}
    for part in ("units", "kv"):
        added = sorted(set(after[part]) - set(before[part]))
        removed = sorted(set(before[part]) - set(after[part]))
        modified = sorted(k for k in set(before[part]) & set(after[part]) if before[part][k] != after[part][k])
        if added or removed or modified:
            diff[part] = {"added": added, "removed": removed, "modified": modified}
    return diff


# --- deploys --------------------------------------------------------------------------------------------------------
def deploy(lab, files_dir, stack, version=None, playbook="houston.stack.deploy", verbosity=0, env=None, **extra):
    """Run a collection playbook against the suite's inventory; (rc, stdout + stderr)."""
    extra_vars = {"stack": stack, "houston_files_dir": str(files_dir), **extra}
    if version is not None:
        extra_vars["version"] = version
    rc, out, err, _recap = run_playbook(playbook, inventory=str(INVENTORY), extra_vars=extra_vars,
                                        env=env or lab_environment(lab), verbosity=verbosity)
    return rc, out + err


def deploy_command(lab, files_dir, stack, version, vars_file: Path, **extra) -> list[str]:
    """The ansible-playbook command line of a deploy (for runs the test starts and kills itself)."""
    variables = {"stack": stack, "version": version, "houston_files_dir": str(files_dir),
                 "ansible_python_interpreter": str(REPO_ROOT / ".venv" / "bin" / "python"), **extra}
    vars_file.write_text(json.dumps(variables), encoding="utf-8")
    return [str(REPO_ROOT / ".venv" / "bin" / "ansible-playbook"), "houston.stack.deploy", "-i", str(INVENTORY),
            "-e", f"@{vars_file}"]


def run_env(lab) -> dict:
    env = lab_environment(lab)
    env.update({"ANSIBLE_COLLECTIONS_PATH": str(REPO_ROOT / ".cache" / "collections"), "ANSIBLE_NOCOLOR": "1",
                "ANSIBLE_STDOUT_CALLBACK": "default", "ANSIBLE_LOCALHOST_WARNING": "0", "PYTHONUNBUFFERED": "1",
                "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0", "ANSIBLE_RETRY_FILES_ENABLED": "0"})
    return env


# --- what a fault case asserts --------------------------------------------------------------------------------------
def stack_units(lab, stack) -> dict:
    """{unit name: {machine id: activeState}} of the stack's units (by name prefix)."""
    pattern = re.compile(rf"^{re.escape(stack)}(@|-)")
    names = [u["name"] for u in fleet_all(lab, "units", "units") if pattern.match(u["name"])]
    states = fleet_all(lab, "state", "states")
    return {name: {s["machineID"]: s["systemdActiveState"] for s in states if s["name"] == name} for name in names}


def versions_of(units) -> set:
    return {name.rsplit("@", 1)[1].rsplit(".", 1)[0] for name in units if "-file-deploy@" not in name}


def passing(lab, service, tag=None) -> list:
    params = {"passing": "1", **({"tag": tag} if tag else {})}
    answer = consul_get(lab, f"health/service/{service}", **params)
    answer.raise_for_status()
    return sorted(e["Service"]["Address"] for e in answer.json())


def web_ips(lab) -> list:
    return sorted(m["ip"] for m in lab.machines if m["metadata"].get("role") == "web")


def kv_value(lab, key):
    answer = consul_get(lab, f"kv/{key}", raw="1")
    if answer.status_code == 404:
        return None
    answer.raise_for_status()
    try:
        return answer.json()
    except ValueError:
        return answer.text


def history(lab, stack) -> list:
    return kv_value(lab, f"houston/{stack}/history") or []


def current(lab, stack):
    value = kv_value(lab, f"houston/{stack}/current")
    return value.get("version") if isinstance(value, dict) else value


def lock_holder(lab, stack):
    answer = consul_get(lab, f"kv/houston/{stack}/lock")
    if answer.status_code == 404:
        return None
    return answer.json()[0].get("Session")


def wait_for(predicate, what, timeout=90.0):
    """Poll ``predicate`` until it is true (a condition of the cluster, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.5)


def assert_serving(lab, stack, version, ips=None):
    """Every unit of ``version`` active on the web machines (or ``ips``), the service passing there in Consul."""
    ips = sorted(ips or web_ips(lab))
    by_ip = {m["id"]: m["ip"] for m in lab.machines}
    units = {n: rows for n, rows in stack_units(lab, stack).items() if f"@{version}." in n}
    assert sorted(units) == sorted([f"{stack}-dep@{version}.service", f"{stack}@{version}.service"]), units
    for name, rows in units.items():
        active = sorted(by_ip.get(m) for m, state in rows.items() if state == "active")
        assert active == ips, f"{name}: active on {active}, expected {ips}"
    assert passing(lab, stack, tag=version) == ips


def assert_clean(lab, stack, keep_versions=1):
    """No orphan: the stack's units are those of the current version and at most ``keep_versions`` previous ones
    (plus their archive units), every archive in KV is referenced, the lock is free, and no version was recorded as
    deployed successfully twice in a row."""
    entries = history(lab, stack)
    now = current(lab, stack)
    successes = [e["version"] for e in entries if e.get("result") == "success"]
    kept = []
    for version in successes:
        if version not in kept:
            kept.append(version)
    kept = kept[:1 + keep_versions]
    assert now == (kept[0] if kept else None), (now, entries)
    units = stack_units(lab, stack)
    assert versions_of(units) <= set(kept), f"orphan units {sorted(units)} (kept versions {kept})"
    archives = [n for n in units if "-file-deploy@" in n]
    assert len(archives) <= len(kept), archives
    archive_keys = {e["Key"].split("/")[3] for e in kv_entries(lab)
                    if e["Key"].startswith(f"houston/{stack}/archives/") and e["Key"].count("/") >= 4}
    assert len(archive_keys) <= max(3, len(kept)), f"archives in KV: {sorted(archive_keys)}"
    assert lock_holder(lab, stack) is None, "the deploy lock is still held"
    assert not entries or entries[0].get("result") != "running", f"the newest deploy never finished: {entries[0]}"
    return units


def successes_per_version(lab, stack) -> dict:
    """{version: number of successful deploys recorded}: a fault case's re-run must not deploy a version twice."""
    counts: dict = {}
    for entry in history(lab, stack):
        if entry.get("result") == "success":
            counts[entry["version"]] = counts.get(entry["version"], 0) + 1
    return counts
