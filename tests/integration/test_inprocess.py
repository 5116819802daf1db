# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The example stack deployed by ansible-playbook with the modules run in the task workers (the default on the
controller) and through AnsiballZ (HOUSTON_STACK_IN_PROCESS=0) gives the same results; the Consul token never
appears in -vvvv output of a deploy or a removal; the deploy lock's keeper watches the ansible-playbook process in both modes.

Run: .venv/bin/pytest tests/integration/test_inprocess.py -x
"""
from __future__ import annotations

import json
import subprocess
import textwrap

import pytest

from tests.integration.stack_helpers import EXAMPLE_INVENTORY, fleet_units, kv_json, report
from tests.support import ANSIBLE_PLAYBOOK, COLLECTIONS_PATH, PYTHON, REPO_ROOT, lab_environment, run_playbook

STACK = "example"
TOKEN = "4f7c1d2e-inproc-secret-9a8b7c6d5e4f"
IN_PROCESS_LINE = "in-process from"


def deploy(lab, in_process, verbosity=3, token=None, playbook="houston.stack.deploy", **extra_vars):
    env = lab_environment(lab)
    env["HOUSTON_STACK_IN_PROCESS"] = "1" if in_process else "0"
    if token:
        env["CONSUL_HTTP_TOKEN"] = token  # the lab's Consul has no ACLs: any token is accepted
    extra_vars.setdefault("version", "v1")
    rc, out, err, recap = run_playbook(playbook, inventory=str(EXAMPLE_INVENTORY), env=env,
                                       extra_vars={"stack": STACK, **extra_vars}, verbosity=verbosity)
    return rc, out, err, recap.get("localhost", {})


def stable(deploy_report):
    """The parts of a deploy report that do not depend on timing."""
    return {key: value for key, value in deploy_report.items() if "elapsed" not in key and "seconds" not in key
            and key not in ("started", "finished", "check_mode", "timings")}


def test_deploy_in_process_then_through_ansiballz(lab):
    rc, out, err, recap = deploy(lab, in_process=True)
    assert rc == 0, out[-4000:] + err
    assert IN_PROCESS_LINE in out and "AnsiballZ_fleet_unit" not in out
    assert recap["changed"] > 0 and recap["failed"] == 0
    units = fleet_units(lab, STACK)
    assert units and all(state == "active" for rows in units.values() for _ip, state in rows), units
    assert kv_json(lab, f"houston/{STACK}/current") in ("v1", '"v1"')

    results = {}
    for in_process in (False, True):
        rc, out, err, recap = deploy(lab, in_process=in_process)
        assert rc == 0, out[-4000:] + err
        assert (IN_PROCESS_LINE in out) is in_process
        assert ("AnsiballZ_fleet_unit" in out) is not in_process
        results[in_process] = (recap, stable(report(out)))
        assert fleet_units(lab, STACK) == units
    assert results[False] == results[True]
    assert results[True][0]["changed"] == 0


@pytest.mark.parametrize("in_process", [True, False], ids=["in-process", "ansiballz"])
def test_token_never_in_verbose_output(lab, in_process):
    # A new version, so that the deploy runs the steps that write (history, archive, lock, prune), not only the plan's.
    version = "tok1" if in_process else "tok2"
    rc, out, err, recap = deploy(lab, in_process=in_process, token=TOKEN, verbosity=4, version=version)
    assert rc == 0, out[-4000:] + err
    assert recap["failed"] == 0 and report(out)["deployed"] is True
    assert TOKEN not in out and TOKEN not in err
    # A deploy runs its Consul modules as steps of the stack actions, which print no invocation. A removal runs
    # them as tasks of their own (the lock's, the archives'), whose invocation -vvvv prints.
    rc, out, err, recap = deploy(lab, in_process=in_process, token=TOKEN, verbosity=4, playbook="houston.stack.remove")
    assert rc == 0, out[-4000:] + err
    assert recap["failed"] == 0 and report(out)["removed"]
    assert TOKEN not in out and TOKEN not in err
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in out  # the modules did receive a token, masked


@pytest.mark.parametrize("in_process", [True, False], ids=["in-process", "ansiballz"])
def test_lock_keeper_watches_ansible_playbook(lab, in_process, tmp_path):
    """The lock's holder pid is the ansible-playbook process (not the task worker), and its keeper runs."""
    stack = f"inproc-lock-{'w' if in_process else 'z'}"
    play = tmp_path / "lock.yml"
    play.write_text(textwrap.dedent(f"""\
        - hosts: localhost
          gather_facts: false
          tasks:
            - name: Take the lock
              houston.stack.consul_lock:
                stack: {stack}
                ttl: 15
              register: taken
            - name: Show it
              ansible.builtin.debug:
                msg: "LOCK={{{{ taken | to_json }}}}"
            - name: Release it
              houston.stack.consul_lock:
                stack: {stack}
                state: released
                session: "{{{{ taken.session }}}}"
        """), encoding="utf-8")
    env = lab_environment(lab)
    env.update(HOUSTON_STACK_IN_PROCESS="1" if in_process else "0", ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS_PATH),
               ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_STDOUT_CALLBACK="default")
    proc = subprocess.Popen(  # pylint: disable=consider-using-with
        [str(ANSIBLE_PLAYBOOK), "-i", "localhost,", "-c", "local", "-e", f"ansible_python_interpreter={PYTHON}",
         str(play)], env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, out + err
    line = next(line for line in out.splitlines() if "LOCK=" in line)
    taken = json.loads(line.split("LOCK=", 1)[1].rstrip('"').encode().decode("unicode_escape"))
    assert taken["holder"]["pid"] == proc.pid
    assert taken.get("keeper_pid"), taken
    assert "no ansible-playbook process found" not in out + err
