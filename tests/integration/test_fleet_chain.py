# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""fleet_chain driven through real ansible-playbook runs against the lab (check / real / idempotent-check /
idempotent, with an ``always:`` cleanup): units launched together still start in chain order on every machine,
and a failure names the first failed unit and removes what the run created."""

from __future__ import annotations

# fleet is a fixture, used by name.
from tests.integration.test_fleet_modules import assert_ok, dump, fleet, run_play  # noqa: F401 pylint: disable=unused-import

# The first unit takes a while and leaves a file; the second refuses to start without that file, so it can only
# succeed if the machine started it after the first one finished (After=), although both were submitted together.
SETUP = """[Unit]
Description=chain test setup {tag}

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'sleep 0.5; echo {tag} > chain-{tag}.ready'
ExecStop=/bin/rm -f chain-{tag}.ready

[X-Fleet]
Global=true
"""
APP = """[Unit]
Description=chain test app {tag}
Requires=chain-setup-{tag}.service
After=chain-setup-{tag}.service

[Service]
ExecStartPre=/bin/test -f chain-{tag}.ready
ExecStart={command}

[X-Fleet]
Global=true
"""
SINGLE = """[Unit]
Description=chain test single {tag}
Requires=chain-app-{tag}.service
After=chain-app-{tag}.service

[Service]
ExecStart=/bin/sleep 600
"""


def units(tag, command="/bin/sleep 600"):
    return [
        {"name": f"chain-setup-{tag}.service", "content": SETUP.format(tag=tag)},
        {"name": f"chain-app-{tag}.service", "content": APP.format(tag=tag, command=command)},
        {"name": f"chain-single-{tag}.service", "content": SINGLE.format(tag=tag)},
    ]


def cleanup(tag):
    return {"name": "Remove the chain's units", "houston.stack.fleet_unit": {"name": "{{ item.name }}", "state": "absent"},
            "loop": units(tag)}


def test_chain_check_real_idempotent(lab, tmp_path, fleet):
    chain = {"units": units("ok"), "wait_timeout": 60}
    tasks = [{"block": [
        {"name": "Check", "houston.stack.fleet_chain": chain, "check_mode": True, "register": "check"},
        {"name": "Launch", "houston.stack.fleet_chain": chain, "register": "real"},
        {"name": "Idempotent check", "houston.stack.fleet_chain": chain, "check_mode": True, "register": "again_check"},
        {"name": "Idempotent", "houston.stack.fleet_chain": chain, "register": "again"},
        {"name": "Assert", "ansible.builtin.assert": {"that": [
            "check is changed", "check.skipped_wait",
            "check.units | map(attribute='operation') | list == ['created', 'created', 'created']",
            "real is changed",
            "real.units | map(attribute='operation') | list == ['created', 'created', 'created']",
            # The two global units went together; the non-global one waited for them.
            "real.units | map(attribute='wave') | list == [1, 1, 2]",
            "again_check is not changed", "again is not changed",
            "again.units | map(attribute='operation') | list == ['none', 'none', 'none']",
        ]}},
        dump("real"),
    ], "always": [cleanup("ok")]}]
    proc, results = run_play(lab, tmp_path, tasks)
    assert_ok(proc)
    machines = {m["id"] for m in fleet.machines()}
    setup, app, single = results["real"]["units"]
    for unit in (setup, app):
        assert set(unit["expected_machines"]) == machines
        assert {row["machine_id"] for row in unit["machines"] if row["active_state"] == "active"} == machines
    assert [row["active_state"] for row in single["machines"]] == ["active"]
    # Every unit was reported active no earlier than the unit before it.
    assert setup["elapsed"] <= app["elapsed"] <= single["elapsed"]
    assert not [u for u in fleet.units() if u["name"].startswith("chain-")]


def test_chain_failure_names_the_first_failed_unit_and_removes_what_it_created(lab, tmp_path, fleet):
    tag = "bad"
    tasks = [{"block": [
        {"name": "Launch the setup unit alone (already there before the failing launch)",
         "houston.stack.fleet_chain": {"units": units(tag)[:1], "wait_timeout": 60}},
        {"name": "Launch a chain whose app fails", "houston.stack.fleet_chain": {
            "units": units(tag, command="/bin/false"), "wait_timeout": 60}, "register": "failed_launch",
         "ignore_errors": True},
        {"name": "Read the units fleet knows", "houston.stack.fleet_unit_info": {"prefix": "chain-"}, "register": "after"},
        dump("failed_launch", "after"),
    ], "always": [cleanup(tag)]}]
    proc, results = run_play(lab, tmp_path, tasks)
    assert_ok(proc)
    failed = results["failed_launch"]
    assert failed["failed"]
    assert failed["msg"].startswith(f"unit 'chain-app-{tag}.service' failed on machine ")
    assert failed["failed_unit"] == f"chain-app-{tag}.service"
    # The app was created and is gone; the setup unit was there before and stays; the non-global unit of the next
    # wave was never sent to fleet.
    assert failed["removed"] == [f"chain-app-{tag}.service"]
    assert [u["operation"] for u in failed["units"]] == ["none", "created", "none"]
    assert [u["name"] for u in results["after"]["units"]] == [f"chain-setup-{tag}.service"]


def test_chain_without_state_rows_returns_the_ips(lab, tmp_path, fleet):
    tag = "ips"
    chain = {"units": units(tag), "wait_timeout": 60, "state_rows": False}
    tasks = [{"block": [
        {"name": "Check without rows", "houston.stack.fleet_chain": chain, "check_mode": True, "register": "check"},
        {"name": "Launch without rows", "houston.stack.fleet_chain": chain, "register": "real"},
        {"name": "Again, with rows", "houston.stack.fleet_chain": dict(chain, state_rows=True), "register": "again"},
        {"name": "Assert", "ansible.builtin.assert": {"that": [
            "check is changed", "check.units | map(attribute='ips') | list == [[], [], []]",
            "real is changed", "real.units | map(attribute='operation') | list == ['created', 'created', 'created']",
            "real.units | selectattr('machines', 'defined') | list == []",
            "again is not changed", "again.units | selectattr('machines', 'defined') | list | length == 3",
            "again.units | map(attribute='ips') | list == real.units | map(attribute='ips') | list",
        ]}},
        dump("real", "again"),
    ], "always": [cleanup(tag)]}]
    proc, results = run_play(lab, tmp_path, tasks)
    assert_ok(proc)
    every_ip = sorted(m["primaryIP"] for m in fleet.machines())
    setup, app, single = results["real"]["units"]
    assert setup["ips"] == app["ips"] == every_ip
    assert len(single["ips"]) == 1 and single["ips"][0] in every_ip
    for unit in results["again"]["units"]:
        assert unit["ips"] == sorted(row["ip"] for row in unit["machines"])
