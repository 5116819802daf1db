# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a deploy guarantees when things go wrong (issue 5), on the lab with fleetlab's faults and real Consul:
the deploy report, a service that never becomes healthy (with and without auto_rollback), a controller killed
mid-deploy, a fleet API answering 503 for a few seconds, an unreachable Consul agent.

A small service stack ``safety`` (a cache unit, the service, the app file) is defined in extra vars; versions
listed in ``unhealthy_versions`` start fine in fleet but fail their Consul health check. The tests run in order
and build on each other. Run: .venv/bin/pytest tests/integration/test_safety_deploys.py -x
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import requests

from tests.integration.stack_helpers import (
    EXAMPLE_INVENTORY, consul_get, fleet_units, fleetlab_admin, kv_json, lock_session, passing_instances, report,
    web_machine_ips,
)
from tests.integration.stack_helpers import deploy as run_playbook
from tests.support import ANSIBLE_PLAYBOOK, COLLECTIONS_PATH, PYTHON, REPO_ROOT, lab_environment, parse_recap

STACK = "safety"
UNHEALTHY = ["bad1", "bad2", "bad3"]
DEFINITION = {
    "houston_variables": {"placement": "role=web", "unhealthy_versions": UNHEALTHY},
    "houston_services": {STACK: {
        "consul_service": STACK,
        "keep_versions": 0,
        "units": ["cache"],
        "service": {"template": str(Path(__file__).parent / "files" / "safety" / "safety.service.j2")},
        "files": [{"path": f"/opt/{STACK}/bin/example-app.py", "src": "example-app.py", "permissions": "0755"}],
    }},
}


def start_deploy(lab, version, tmp, **extra):
    """Start ``houston.stack.deploy`` of ``version`` in its own process group; returns the Popen."""
    variables = {"ansible_python_interpreter": str(PYTHON), "stack": STACK, "version": version, **DEFINITION, **extra}
    vars_file = Path(tmp, f"vars-{version}-{time.monotonic_ns()}.json")
    vars_file.write_text(json.dumps(variables), encoding="utf-8")
    env = lab_environment(lab)
    env.update({"ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS_PATH), "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0",
                "ANSIBLE_STDOUT_CALLBACK": "default", "ANSIBLE_SHOW_CUSTOM_STATS": "1", "ANSIBLE_RETRY_FILES_ENABLED": "0",
                "ANSIBLE_LOCALHOST_WARNING": "0", "PYTHONUNBUFFERED": "1"})
    cmd = [str(ANSIBLE_PLAYBOOK), "houston.stack.deploy", "-i", str(EXAMPLE_INVENTORY), "-e", f"@{vars_file}"]
    # Output to files, not pipes: a worker orphaned by a killed controller must not hold the reader up.
    with open(vars_file.with_suffix(".out"), "w", encoding="utf-8") as out, \
            open(vars_file.with_suffix(".err"), "w", encoding="utf-8") as err:
        proc = subprocess.Popen(cmd, env=env, cwd=REPO_ROOT, stdout=out, stderr=err, start_new_session=True)
    proc.output_files = (vars_file.with_suffix(".out"), vars_file.with_suffix(".err"))
    return proc


def finish(proc, timeout=600):
    proc.wait(timeout=timeout)
    out, err = (path.read_text(encoding="utf-8") for path in proc.output_files)
    return proc.returncode, out, err, parse_recap(out).get("localhost", {})


def deploy(lab, version, **extra):
    with tempfile.TemporaryDirectory(prefix="safety-") as tmp:
        return finish(start_deploy(lab, version, tmp, **extra))


def custom_stats(stdout):
    """The houston_deploy custom stat (set_stats) printed at the end of the play."""
    text = stdout[stdout.index("CUSTOM STATS"):]
    obj, _end = json.JSONDecoder().raw_decode(text[text.index("{"):])
    return obj["houston_deploy"]


def wait_for(predicate, what, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError(f"gave up waiting for {what}")


def units_of_version(lab, version):
    return {name: rows for name, rows in fleet_units(lab, STACK).items() if f"@{version}." in name}


def assert_serving(lab, version):
    """The units of ``version`` active on the web machines and its service passing in Consul on each."""
    web = web_machine_ips(lab)
    units = units_of_version(lab, version)
    assert sorted(units) == [f"{STACK}-cache@{version}.service", f"{STACK}@{version}.service"], units
    for name, rows in units.items():
        assert rows == [(ip, "active") for ip in web], name
    assert [address for address, _tags in passing_instances(lab, STACK, tag=version)] == web


def history(lab):
    return [(entry["version"], entry["result"]) for entry in kv_json(lab, f"houston/{STACK}/history")]


def current(lab):
    return str(kv_json(lab, f"houston/{STACK}/current")).strip('"')


def all_instances(lab, tag):
    answer = consul_get(lab, f"health/service/{STACK}", tag=tag)
    answer.raise_for_status()
    return answer.json()


def test_deploy_report_says_what_changed_how_long_and_what_runs(lab):
    rc, out, err, _recap = deploy(lab, "v1")
    assert rc == 0, out + err
    assert_serving(lab, "v1")
    deployed = report(out)
    assert deployed["units"] == {f"{STACK}-cache@v1.service": "create", f"{STACK}@v1.service": "create",
                                 next(n for n in deployed["units"] if "-file-deploy@" in n): "create"}
    assert all(change["reason"] == "new unit" for change in deployed["changes"])
    timings = deployed["timings"]
    for step in ("lock", "record_start", "archive", "units", "consul_wait", "prune", "record", "total"):
        assert timings[step] >= 0, step
    assert sorted(timings["each_unit"]) == sorted(deployed["units"])
    assert deployed["versions_by_machine"] == {ip: ["v1"] for ip in web_machine_ips(lab)}
    assert custom_stats(out)["version"] == "v1" and custom_stats(out)["units"] == deployed["units"]
    # Unchanged on a second run, and the report says why.
    rc, out, err, recap = deploy(lab, "v1")
    assert rc == 0 and recap["changed"] == 0, out + err
    assert set(report(out)["units"].values()) == {"keep"} and report(out)["deployed"] is False


def test_never_healthy_service_is_removed_and_previous_keeps_serving(lab):
    rc, out, err, _recap = deploy(lab, "bad1", houston_consul_wait_timeout=8)
    assert rc != 0
    message = out + err
    assert "waiting until the service passes in Consul (houston.stack.consul_service_wait)" in message
    assert f"service '{STACK}' with tag 'bad1'" in message
    assert units_of_version(lab, "bad1") == {}, "the units this run created are removed"
    assert all_instances(lab, "bad1") == [], "their Consul registrations are gone with them (ExecStop)"
    assert_serving(lab, "v1")  # nothing pruned: the previous version still passing
    assert lock_session(lab, STACK) is None
    assert history(lab)[0] == ("bad1", "failed") and current(lab) == "v1"


def test_auto_rollback_restores_the_previous_version_and_fails(lab):
    # The previous version was disturbed (its service unit stopped): the rollback must start it again.
    requests.put(f"{lab.fleetlab_url}/fleet/v1/units/{STACK}@v1.service", json={"desiredState": "inactive"},
                 timeout=10).raise_for_status()
    wait_for(lambda: passing_instances(lab, STACK, tag="v1") == [], "v1 to leave Consul")
    rc, out, err, _recap = deploy(lab, "bad2", houston_auto_rollback=True, houston_consul_wait_timeout=8)
    assert rc != 0
    message = out + err
    assert "version bad2 failed" in message and "auto_rollback: rolled back to version v1" in message
    assert units_of_version(lab, "bad2") == {}
    assert_serving(lab, "v1")
    assert history(lab)[:2] == [("v1", "success"), ("bad2", "failed")] and current(lab) == "v1"
    assert lock_session(lab, STACK) is None
    stats = custom_stats(out)
    assert stats["rolled_back"] is True and stats["failed_version"] == "bad2" and stats["rollback_to"] == "v1"


def test_killed_controller_lock_expires_and_rerun_completes(lab):
    with tempfile.TemporaryDirectory(prefix="safety-") as tmp:
        proc = start_deploy(lab, "bad3", tmp, houston_lock_ttl=10, houston_consul_wait_timeout=300)
        try:
            # The play waits in Consul for a service that never passes: kill -9 the controller there.
            wait_for(lambda: lock_session(lab, STACK) and all_instances(lab, "bad3"), "the deploy to wait in Consul")
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
            session = lock_session(lab, STACK)
            assert session, "the lock outlives the controller until its TTL"
            rc, out, err, _recap = deploy(lab, "v2", houston_lock_timeout=120)
            assert rc == 0, out + err
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the dead controller's orphaned worker, if any
            except ProcessLookupError:
                pass
    assert consul_get(lab, f"session/info/{session}").json() in (None, []), "the killed run's session expired"
    assert_serving(lab, "v2")
    assert units_of_version(lab, "bad3") == {} and units_of_version(lab, "v1") == {}, "pruned by the re-run"
    assert lock_session(lab, STACK) is None
    assert history(lab)[0] == ("v2", "success") and ("bad3", "running") in history(lab)


def test_a_deploy_that_waited_for_another_plans_again_under_the_lock(lab):
    # v2 runs, so a deploy of v2 has nothing to do, but another deployer holds the lock: it waits for it. While it
    # waits, the other deployer destroys the service unit of v2. Under the lock, the plan is made again and sees it.
    hold_lock = str(Path(__file__).parent / "files" / "hold_lock.yml")
    sessions_before = len(consul_get(lab, "session/list").json())
    rc, out, err, _recap = run_playbook(lab, hold_lock, lock_stack=STACK, lock_holder={"user": "other-deployer"})
    assert rc == 0, out + err
    with tempfile.TemporaryDirectory(prefix="safety-") as tmp:
        proc = start_deploy(lab, "v2", tmp, houston_lock_timeout=120)
        try:
            wait_for(lambda: len(consul_get(lab, "session/list").json()) >= sessions_before + 2,
                     "the deploy to wait for the lock with a session of its own")
            requests.delete(f"{lab.fleetlab_url}/fleet/v1/units/{STACK}@v2.service", timeout=10).raise_for_status()
        finally:
            rc, out, err, _recap = run_playbook(lab, hold_lock, lock_stack=STACK, lock_state="released")
            assert rc == 0, out + err
            rc, out, err, _recap = finish(proc)
    assert rc == 0, out + err
    deployed = report(out)
    assert deployed["deployed"] is True and deployed["timings"]["lock"] > 0
    assert [(change["name"], change["action"]) for change in deployed["changes"]] == [(f"{STACK}@v2.service", "create")]
    assert_serving(lab, "v2")
    assert lock_session(lab, STACK) is None
    assert history(lab)[0] == ("v2", "success")


def test_fleet_503_for_a_few_seconds_is_ridden_out(lab):
    hits = []
    with tempfile.TemporaryDirectory(prefix="safety-") as tmp:
        proc = start_deploy(lab, "v3", tmp)
        try:
            wait_for(lambda: lock_session(lab, STACK), "the deploy to take its lock")
            fault = fleetlab_admin(lab, "POST", "faults", {"kind": "status", "status": 503, "seconds": 6})
            while True:  # the fault disappears from the listing when its 6 s are over
                listed = [f for f in fleetlab_admin(lab, "GET", "faults")["faults"] if f["id"] == fault["id"]]
                if not listed:
                    break
                hits.append(listed[0]["hits"])
                time.sleep(0.3)
        finally:
            rc, out, err, _recap = finish(proc)
    assert max(hits, default=0) > 0, "the deploy met the 503s"
    assert rc == 0, out + err
    assert_serving(lab, "v3")
    assert history(lab)[0] == ("v3", "success")


def test_unreachable_consul_fails_clearly_touching_nothing(lab):
    address = f"{lab.net}.1:1"  # nothing listens there
    before = fleet_units(lab, STACK)
    fleetlab_admin(lab, "POST", "stats/reset")
    rc, out, err, recap = deploy(lab, "v4", houston_consul_address=address)
    assert rc != 0
    message = out + err
    assert "Consul" in message and address in message
    assert fleetlab_admin(lab, "GET", "stats")["writes"] == 0, "nothing changed on fleet"
    assert fleet_units(lab, STACK) == before  # nothing pruned
    assert recap.get("changed", 0) == 0
    assert_serving(lab, "v3")
