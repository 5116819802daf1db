# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The session ``lab`` fixture and tests/support.py helpers, used as integration tests use them."""
from __future__ import annotations

import json
import textwrap

from tests.support import lab_environment, parse_recap, run_playbook

PLAYBOOK = """\
- name: Read the lab through its environment
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Ask the Consul server for its leader
      ansible.builtin.uri:
        url: "http://{{ lookup('ansible.builtin.env', 'CONSUL_HTTP_ADDR') }}/v1/status/leader"
      check_mode: false
      register: leader
    - name: Show what the lab offers
      ansible.builtin.debug:
        msg: "LEADER={{ leader.json }} INTERPRETER={{ ansible_python_interpreter }} GREETING={{ greeting }}"
    - name: Write a file in check mode
      ansible.builtin.copy:
        content: "x"
        dest: "{{ scratch }}"
        mode: "0644"
"""


def test_lab_fixture_describes_a_running_lab(lab):
    assert lab.consul_address == f"{lab.net}.10:8500"
    assert lab.env["CONSUL_HTTP_ADDR"] == lab.consul_address
    assert [m["ip"] for m in lab.machines] == [f"{lab.net}.{11 + i}" for i in range(len(lab.machines))]
    assert (lab.lab_dir / "state.json").exists()
    if lab.fleet_endpoint:
        assert lab.fleet_endpoint == f"unix://{lab.lab_dir}/fleet.sock"
        assert lab.fleetlab_admin_url == f"{lab.fleetlab_url}/fleetlab/v1"


def test_run_playbook_reaches_the_lab_with_the_venv_python(lab, tmp_path):
    playbook = tmp_path / "probe.yml"
    playbook.write_text(PLAYBOOK, encoding="utf-8")
    scratch = tmp_path / "scratch.txt"
    rc, out, err, recap = run_playbook(playbook, extra_vars={"greeting": "hi there", "scratch": str(scratch)},
                                       env=lab_environment(lab), check=True)
    assert rc == 0, out + err
    assert f"LEADER={lab.net}.10:8300" in out
    assert "INTERPRETER=" in out and ".venv/bin/python" in out
    assert "GREETING=hi there" in out
    assert recap["localhost"]["failed"] == 0
    assert recap["localhost"]["changed"] == 1
    assert not scratch.exists()  # check mode


def test_run_playbook_reports_failures_in_rc_and_recap(tmp_path):
    playbook = tmp_path / "fail.yml"
    playbook.write_text(textwrap.dedent("""\
        - name: Fail on purpose
          hosts: all
          gather_facts: false
          tasks:
            - name: Fail
              ansible.builtin.fail:
                msg: "failing for {{ who }}"
        """), encoding="utf-8")
    inventory = {"all": {"hosts": {"localhost": {"ansible_connection": "local", "who": "the test"}}}}
    rc, out, _err, recap = run_playbook(playbook, inventory=inventory)
    assert rc == 2
    assert "failing for the test" in out
    assert recap == {"localhost": {"ok": 0, "changed": 0, "unreachable": 0, "failed": 1, "skipped": 0,
                                   "rescued": 0, "ignored": 0}}


def test_parse_recap_reads_every_host():
    out = ("PLAY RECAP ****\n"
           "localhost                  : ok=3    changed=1    unreachable=0    failed=0    skipped=2    rescued=0    ignored=0\n"
           "web-1                      : ok=1    changed=0    unreachable=1    failed=0    skipped=0    rescued=0    ignored=0\n")
    assert parse_recap(out) == {
        "localhost": {"ok": 3, "changed": 1, "unreachable": 0, "failed": 0, "skipped": 2, "rescued": 0, "ignored": 0},
        "web-1": {"ok": 1, "changed": 0, "unreachable": 1, "failed": 0, "skipped": 0, "rescued": 0, "ignored": 0},
    }
    assert json.loads(json.dumps(parse_recap("no recap here"))) == {}
