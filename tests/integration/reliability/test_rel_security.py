# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Security: tokens never leak (output at -vvv, diffs, unit text, KV values), wrong tokens and untrusted
certificates are clear errors that change nothing, TLS verification is on by default and the CA and
client-certificate options work against a Consul HTTPS listener requiring client certificates, extraction keeps
modes and owners, and units of other owners are never pruned.

Run: .venv/bin/pytest tests/integration/reliability/test_rel_security.py
"""
from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import requests

from tests.integration.reliability.conftest import secure_kv
from tests.integration.reliability.rel_support import (
    FIXTURES, changes, deploy, fleet_all, kv_entries, snapshot, stack_units, web_ips,
)
from tests.support import lab_environment, run_playbook

TOKEN = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
MODULE_PLAYBOOK = FIXTURES / "playbooks" / "consul_modules.yml"


def _fleet_put(lab, name, options):
    answer = requests.put(f"{lab.fleetlab_url}/fleet/v1/units/{name}", json={"desiredState": "launched", "options": options},
                          timeout=10)
    assert answer.status_code in (201, 204), answer.text


SERVICE = [{"section": "Service", "name": "ExecStart", "value": "/bin/sleep 1000000"},
           {"section": "X-Fleet", "name": "MachineMetadata", "value": "role=web"}]


def test_token_never_leaks_and_foreign_units_are_never_pruned(lab, rel_files, baseline):
    stack = baseline
    # units of other owners that look like the stack's: no marker, and another stack's marker
    _fleet_put(lab, f"{stack}-dep@foreign.service", SERVICE)
    _fleet_put(lab, f"{stack}@other.service", SERVICE + [
        {"section": "X-Houston", "name": "Stack", "value": "someone-else"},
        {"section": "X-Houston", "name": "Version", "value": "other"},
        {"section": "X-Houston", "name": "Owner", "value": "houston.stack"}])
    env = lab_environment(lab)
    env["CONSUL_HTTP_TOKEN"] = TOKEN
    rc, stdout, stderr, _recap = run_playbook(
        "houston.stack.deploy", inventory=str(FIXTURES / "inventory"), env=env, verbosity=3, diff=True,
        extra_vars={"stack": stack, "version": "v2", "houston_files_dir": str(rel_files), "houston_consul_token": TOKEN,
                    "houston_max_remove": 50})
    out = stdout + stderr
    assert rc == 0, out[-4000:]
    assert TOKEN not in out, "the Consul token is in the output at -vvv"
    for unit in fleet_all(lab, "units", "units"):
        assert all(TOKEN not in o["value"] for o in unit["options"]), unit["name"]
    for entry in kv_entries(lab):
        value = base64.b64decode(entry["Value"] or "")
        assert TOKEN.encode() not in value, entry["Key"]
    units = stack_units(lab, stack)
    assert f"{stack}-dep@foreign.service" in units and f"{stack}@other.service" in units, sorted(units)
    # v3 prunes v1 (keep_versions 1) and still leaves the foreign units alone
    rc, out = deploy(lab, rel_files, stack, "v3")
    assert rc == 0, out[-4000:]
    units = stack_units(lab, stack)
    assert f"{stack}@v1.service" not in units
    assert f"{stack}-dep@foreign.service" in units and f"{stack}@other.service" in units, sorted(units)
    for name in (f"{stack}-dep@foreign.service", f"{stack}@other.service"):
        requests.delete(f"{lab.fleetlab_url}/fleet/v1/units/{name}", timeout=10)


def test_extraction_keeps_modes_and_owners(lab, baseline):
    for machine in lab.machines:
        if machine["ip"] not in web_ips(lab):
            continue
        root = Path(machine["root"])
        script, motd = root / "opt/rel/bin/svc.py", root / "opt/rel/etc/motd"
        assert stat.S_IMODE(script.stat().st_mode) == 0o755
        assert stat.S_IMODE(motd.stat().st_mode) == 0o644
        assert motd.read_text() == "reliability stack\n"
        if os.geteuid() == 0:  # owners are only applied by a root extraction (as on CoreOS)
            assert (script.stat().st_uid, script.stat().st_gid) == (0, 0)


def _module_run(lab, secure, **variables):
    rc, stdout, stderr, _recap = run_playbook(MODULE_PLAYBOOK, env=lab_environment(lab), verbosity=3,
                                              extra_vars={"lock_stack": "rel-tls", **variables})
    return rc, stdout + stderr


def test_wrong_token_is_refused_and_changes_nothing(lab, rel_files, baseline, secure_consul):
    before, secure_before = snapshot(lab), secure_kv(secure_consul)
    wrong = "11111111-2222-3333-4444-555555555555"
    rc, out = deploy(lab, rel_files, baseline, "v9", houston_consul_address=secure_consul["http"],
                     houston_consul_token=wrong)
    assert rc != 0
    assert "403" in out or "ACL not found" in out or "Permission denied" in out, out[-3000:]
    assert secure_consul["http"] in out, out[-3000:]
    assert wrong not in out
    assert changes(before, snapshot(lab)) == {}
    assert secure_kv(secure_consul) == secure_before


def test_tls_verification_is_on_by_default(lab, rel_files, baseline, secure_consul):
    before = snapshot(lab)
    rc, out = deploy(lab, rel_files, baseline, "v9", houston_consul_address=secure_consul["https"],
                     houston_consul_token=secure_consul["token"])
    assert rc != 0
    assert "CERTIFICATE_VERIFY_FAILED" in out or "certificate verify failed" in out, out[-3000:]
    assert secure_consul["token"] not in out
    assert changes(before, snapshot(lab)) == {}


def test_ca_and_client_certificate_against_https_with_verify_incoming(lab, secure_consul):
    common = {"consul_address": secure_consul["https"], "consul_token": secure_consul["token"]}
    cert = {"consul_client_cert": str(secure_consul["client"]), "consul_client_key": str(secure_consul["client_key"])}
    # the right CA and a client certificate: the lock is taken and released, history read
    rc, out = _module_run(lab, secure_consul, conn={**common, "consul_ca_path": str(secure_consul["ca"]), **cert})
    assert rc == 0, out[-3000:]
    assert "houston-reliability-ok" in out
    assert secure_consul["token"] not in out
    # the right CA without a client certificate: the listener requires one (verify_incoming_https)
    rc, out = _module_run(lab, secure_consul, conn={**common, "consul_ca_path": str(secure_consul["ca"])})
    assert rc != 0 and secure_consul["https"].split("//")[1] in out, out[-3000:]
    # a CA that did not sign the server certificate
    rc, out = _module_run(lab, secure_consul, conn={**common, "consul_ca_path": str(secure_consul["rogue_ca"]), **cert})
    assert rc != 0 and ("CERTIFICATE_VERIFY_FAILED" in out or "certificate verify failed" in out), out[-3000:]
    # verification switched off explicitly still needs the client certificate, and works with it
    rc, out = _module_run(lab, secure_consul, conn={**common, "consul_validate_certs": False, **cert})
    assert rc == 0, out[-3000:]
    assert secure_consul["token"] not in out
    lock = requests.get(f"http://{secure_consul['http']}/v1/kv/houston/rel-tls/lock",
                        headers={"X-Consul-Token": secure_consul["token"]}, timeout=10)
    assert lock.status_code == 404 or not lock.json()[0].get("Session"), "the lock was released"
