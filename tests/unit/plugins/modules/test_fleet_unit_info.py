# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""fleet_unit_info's ``state_rows`` option and ``versions_by_machine`` result, and fleet_chain's ``state_rows`` option
and ``units[].ips`` result: the modules run in-process (``main()`` with patched module args) against a real
in-process fleetlab (virtual runtime, three machines on a unix socket).

Run: .venv/bin/pytest -q tests/unit/plugins/modules/test_fleet_unit_info.py
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.houston.stack.plugins.filter.stack import stack_status_rows, stack_versions_by_machine
from ansible_collections.houston.stack.plugins.module_utils._naming import marker_text
from ansible_collections.houston.stack.plugins.modules import fleet_chain, fleet_unit, fleet_unit_info

REPO = Path(__file__).resolve().parents[4]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from lab.fleetlab import Machine, start_fleetlab  # noqa: E402  pylint: disable=wrong-import-position

LAB_NET = os.environ.get("TEST_LAB_NET", "127.0.200")
WEB1, WEB2, WORKER = (f"{LAB_NET}.{n}" for n in (41, 42, 43))
IDS = {WEB1: "%032x" % 0x41, WEB2: "%032x" % 0x42, WORKER: "%032x" % 0x43}
ROLES = {WEB1: "web", WEB2: "web", WORKER: "worker"}
STACK = "vbm"
BODY = "[Unit]\nDescription=fleet_unit_info test\n\n[Service]\nExecStart=/bin/sleep 600\n"


@pytest.fixture
def endpoint(tmp_path):
    machines = [Machine(id=IDS[ip], ip=ip, metadata={"role": ROLES[ip]}, root=str(tmp_path / ip), consul=f"{ip}:8500")
                for ip in (WEB1, WEB2, WORKER)]
    server = start_fleetlab(machines, host="127.0.0.1", port=0, socket_path=str(tmp_path / "fleet.sock"),
                            state_dir=str(tmp_path / "state"), latency=0.01, process=False)
    try:
        yield f"unix://{tmp_path / 'fleet.sock'}"
    finally:
        server.stop()


def run_module(module, capsys, **args):
    """The result ``module.main()`` prints for ``args`` (``check=True`` runs it in check mode)."""
    if args.pop("check", False):
        args["_ansible_check_mode"] = True
    with patch_module_args(args), pytest.raises(SystemExit):
        module.main()
    return json.loads(capsys.readouterr().out)


def content(stack=STACK, version=None, x_fleet=""):
    text = BODY + (f"\n[X-Fleet]\n{x_fleet}\n" if x_fleet else "")
    return text + ("\n" + marker_text(stack, version) if version else "")


def launch(endpoint, capsys, name, text, state="launched"):
    result = run_module(fleet_unit, capsys, fleet_endpoint=endpoint, name=name, content=text, state=state,
                        wait=True, wait_timeout=60)
    assert not result.get("failed"), result
    return result


@pytest.fixture
def stack_units(endpoint, capsys):
    """A stack whose versions differ by machine, next to units that must not count."""
    units = {
        f"{STACK}@v1.service": content(version="v1", x_fleet=f"MachineID={IDS[WEB1]}"),
        f"{STACK}@v2.service": content(version="v2", x_fleet=f"MachineID={IDS[WEB2]}"),
        f"{STACK}-db@v2.service": content(version="v2", x_fleet="Global=true\nMachineMetadata=role=web"),
        # Loaded, not started: the machine still reports a state for it.
        f"{STACK}-cache@v3.service": content(version="v3", x_fleet=f"MachineID={IDS[WEB1]}"),
        # The archive extraction unit runs everywhere; its version is the archive's checksum.
        f"{STACK}-file-deploy@0a1b2c3d.service": content(version="0a1b2c3d", x_fleet="Global=true"),
        # Not scheduled anywhere: no machine reports it.
        f"{STACK}@v0.service": content(version="v0", x_fleet=f"MachineID={IDS[WORKER]}"),
        # Within the stack's names but without the marker, and another stack's unit: not the stack's.
        f"{STACK}-manual@v8.service": content(x_fleet=f"MachineID={IDS[WORKER]}"),
        "other@v9.service": content(stack="other", version="v9", x_fleet=f"MachineID={IDS[WORKER]}"),
    }
    states = {f"{STACK}-cache@v3.service": "loaded", f"{STACK}@v0.service": "inactive"}
    for name, text in units.items():
        launch(endpoint, capsys, name, text, states.get(name, "launched"))
    return units


def info(endpoint, capsys, **args):
    result = run_module(fleet_unit_info, capsys, fleet_endpoint=endpoint, **args)
    assert result["changed"] is False and not result.get("failed"), result
    return result


def test_versions_by_machine_of_a_stack(endpoint, capsys, stack_units):
    result = info(endpoint, capsys, stack=STACK)
    assert [u["name"] for u in result["units"]] == sorted(n for n in stack_units if "manual" not in n and "other" not in n)
    # WORKER runs the archive unit (left out) and units of no version or of another stack only.
    assert {ip: sorted(versions) for ip, versions in result["versions_by_machine"].items()} == {
        WEB1: ["v1", "v2", "v3"], WEB2: ["v2"]}
    # Versions in unit name order, each once per machine.
    assert result["versions_by_machine"] == {WEB1: ["v3", "v2", "v1"], WEB2: ["v2"]}


def test_versions_by_machine_matches_the_role_filters(endpoint, capsys, stack_units):
    """present.yml computes the report's versions_by_machine from the module (a deploy) or from the state rows through
    stack_status_rows | stack_versions_by_machine (no deploy): both give the same report."""
    result = info(endpoint, capsys, stack=STACK)
    owned = [u for u in result["units"] if "-file-deploy@" not in u["name"]]
    assert result["versions_by_machine"] == stack_versions_by_machine(stack_status_rows(owned))


def test_state_rows_false_leaves_the_rows_out_only(endpoint, capsys, stack_units):
    with_rows = info(endpoint, capsys, stack=STACK)
    default = info(endpoint, capsys, stack=STACK, state_rows=True)
    without = info(endpoint, capsys, stack=STACK, state_rows=False)
    assert default == with_rows
    assert {ip for u in with_rows["units"] for ip in (r["ip"] for r in u["machines"])} == {WEB1, WEB2, WORKER}
    assert [u for u in without["units"] if "machines" in u] == []
    assert without["units"] == [{k: v for k, v in u.items() if k != "machines"} for u in with_rows["units"]]
    assert without["versions_by_machine"] == with_rows["versions_by_machine"]
    assert without["machines"] == with_rows["machines"]
    assert [m["ip"] for m in without["machines"]] == [WEB1, WEB2, WORKER]


def test_versions_by_machine_only_with_stack(endpoint, capsys, stack_units):
    assert "versions_by_machine" not in info(endpoint, capsys)
    assert "versions_by_machine" not in info(endpoint, capsys, prefix=f"{STACK}-")
    assert "versions_by_machine" not in info(endpoint, capsys, name=f"{STACK}@v1.service")
    # With name or prefix too, only the units selected count.
    assert info(endpoint, capsys, stack=STACK, name=f"{STACK}@v2.service")["versions_by_machine"] == {WEB2: ["v2"]}
    assert info(endpoint, capsys, stack=STACK, prefix=f"{STACK}-")["versions_by_machine"] == {WEB1: ["v3", "v2"], WEB2: ["v2"]}
    # A stack without units, or whose only unit is the archive: an empty dict.
    assert info(endpoint, capsys, stack="nosuch")["versions_by_machine"] == {}
    archive = f"{STACK}-file-deploy@0a1b2c3d.service"
    assert info(endpoint, capsys, stack=STACK, name=archive)["versions_by_machine"] == {}


def test_versions_by_machine_of_an_empty_cluster(endpoint, capsys):
    result = info(endpoint, capsys, stack=STACK, state_rows=False)
    assert result["units"] == [] and result["versions_by_machine"] == {}
    assert len(result["machines"]) == 3


# fleet_chain: state_rows and units[].ips

SETUP = "[Unit]\nDescription=chain setup\n\n[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true\n\n" \
        "[X-Fleet]\nGlobal=true\nMachineMetadata=role=web\n"
APP = "[Unit]\nDescription=chain app\nRequires=ips-setup.service\nAfter=ips-setup.service\n\n" \
      "[Service]\nExecStart=/bin/sleep 600\n\n[X-Fleet]\nGlobal=true\nMachineMetadata=role=web\n"
SINGLE = f"[Unit]\nDescription=chain single\n\n[Service]\nExecStart=/bin/sleep 600\n\n[X-Fleet]\nMachineID={IDS[WORKER]}\n"
CHAIN = [{"name": "ips-setup.service", "content": SETUP}, {"name": "ips-app.service", "content": APP},
         {"name": "ips-single.service", "content": SINGLE}]
CHAIN_IPS = [[WEB1, WEB2], [WEB1, WEB2], [WORKER]]


def chain(endpoint, capsys, units=None, **args):
    return run_module(fleet_chain, capsys, fleet_endpoint=endpoint, units=units or CHAIN, wait_timeout=60, **args)


def row_ips(unit):
    return sorted(row["ip"] for row in unit["machines"])


def test_chain_state_rows_false_returns_ips_without_rows(endpoint, capsys):
    predicted = chain(endpoint, capsys, state_rows=False, check=True)
    assert predicted["changed"] and [u["operation"] for u in predicted["units"]] == ["created"] * 3
    # Nothing exists yet: no machine reports the units.
    assert [u["ips"] for u in predicted["units"]] == [[], [], []]
    assert [u for u in predicted["units"] if "machines" in u] == []

    launched = chain(endpoint, capsys, state_rows=False)
    assert launched["changed"] and not launched.get("failed"), launched
    assert [u["operation"] for u in launched["units"]] == ["created"] * 3
    assert [u["ips"] for u in launched["units"]] == CHAIN_IPS
    assert [u for u in launched["units"] if "machines" in u] == []

    # The default keeps the rows, and ips are the IPs of those rows.
    again = chain(endpoint, capsys)
    assert not again["changed"] and [u["operation"] for u in again["units"]] == ["none"] * 3
    assert [u["ips"] for u in again["units"]] == CHAIN_IPS
    assert [row_ips(u) for u in again["units"]] == CHAIN_IPS
    assert {row["active_state"] for u in again["units"] for row in u["machines"]} == {"active"}

    # Check mode over existing units reports their current machines either way.
    for state_rows in (True, False):
        checked = chain(endpoint, capsys, state_rows=state_rows, check=True)
        assert not checked["changed"] and [u["ips"] for u in checked["units"]] == CHAIN_IPS
        assert all(("machines" in u) is state_rows for u in checked["units"]), checked["units"]


@pytest.mark.parametrize("state_rows", [True, False], ids=["rows", "no-rows"])
def test_chain_failure_returns_ips(endpoint, capsys, state_rows):
    failing = APP.replace("[X-Fleet]", "[X-Fleetlab]\nFail=true\n\n[X-Fleet]")
    units = [CHAIN[0], {"name": "ips-app.service", "content": failing}, CHAIN[2]]
    result = chain(endpoint, capsys, units=units, state_rows=state_rows, remove_on_failure=True)
    assert result["failed"] and result["failed_unit"] == "ips-app.service", result
    assert result["msg"].startswith("unit 'ips-app.service' failed on machine ")
    assert result["removed"] == ["ips-setup.service", "ips-app.service"]
    setup, app, single = result["units"]
    assert [u["operation"] for u in result["units"]] == ["created", "created", "none"]
    # The units were seen on the web machines before they were removed; the last wave was never sent.
    assert setup["ips"] == [WEB1, WEB2]
    assert app["ips"] and set(app["ips"]) <= {WEB1, WEB2} and app["ips"] == sorted(app["ips"])
    assert single["ips"] == []
    for unit in result["units"]:
        assert ("machines" in unit) is state_rows, unit
        if state_rows:
            assert row_ips(unit) == unit["ips"]
    if state_rows:
        assert "failed" in {row["active_state"] for row in app["machines"]}
