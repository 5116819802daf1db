# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Bad input: every case runs the real deploy playbook (houston.stack.deploy) against the lab and must fail with an
error naming the bad field, and change nothing on the cluster (fleet units with their options and desired state,
every Consul KV key with its ModifyIndex, the lock free).

Run: .venv/bin/pytest tests/integration/reliability/test_rel_bad_input.py
"""
from __future__ import annotations

import pytest

from tests.integration.reliability.rel_support import changes, deploy, lock_holder, snapshot
from tests.support import lab_environment

# a valid service stack definition to put one bad thing into
RS = {"keep_versions": 1, "units": ["dep"],
      "service": {"content": "[Service]\nExecStart=/bin/sleep 1000000\n\n[X-Fleet]\nGlobal=true\n"}}


def services(name, **definition):
    """houston_services with one stack ``name`` (extra vars replace the inventory's)."""
    return {"houston_services": {name: {**RS, **definition}}}


def files(*entries):
    return {"files": list(entries)}


# (id, stack, version, extra vars, environment changes, substrings the error must contain)
CASES = [
    # versions (the stack rel-sec is deployed; a bad version must not touch it)
    ("version-empty", "rel-sec", "", {}, {}, ["version"]),
    ("version-spaces", "rel-sec", "v 1", {}, {}, ["version", "'v 1'"]),
    ("version-only-spaces", "rel-sec", "   ", {}, {}, ["version"]),
    ("version-dotdot", "rel-sec", "v1..2", {}, {}, ["version", "'v1..2'", ".."]),
    ("version-slash", "rel-sec", "v1/2", {}, {}, ["version", "'v1/2'"]),
    ("version-at", "rel-sec", "v1@2", {}, {}, ["version", "'v1@2'"]),
    ("version-command-substitution", "rel-sec", "$(touch /tmp/pwned)", {}, {}, ["version", "$(touch /tmp/pwned)"]),
    ("version-backticks", "rel-sec", "`id`", {}, {}, ["version", "`id`"]),
    ("version-newline", "rel-sec", "v1\nExecStart=/bin/evil", {}, {}, ["version", "ExecStart=/bin/evil"]),
    ("version-300-chars", "rel-sec", "v" * 300, {}, {}, ["version", "300 characters"]),
    ("version-non-ascii", "rel-sec", "v1-é", {}, {}, ["version", "v1-é"]),
    ("version-leading-dash", "rel-sec", "-v1", {}, {}, ["version", "'-v1'"]),
    ("version-semicolon", "rel-sec", "v1;reboot", {}, {}, ["version", "v1;reboot"]),
    # stack names and unknown stacks
    ("stack-unknown", "no-such-stack", "v1", {}, {}, ["no-such-stack", "not defined"]),
    ("stack-name-slash", "bad/stack", "v1", services("bad/stack"), {}, ["stack", "'bad/stack'"]),
    ("stack-name-dotdot", "bad..stack", "v1", services("bad..stack"), {}, ["stack", "'bad..stack'", ".."]),
    ("stack-name-space", "bad stack", "v1", services("bad stack"), {}, ["stack", "'bad stack'"]),
    ("stack-name-65-chars", "s" * 65, "v1", services("s" * 65), {}, ["stack", "65 characters"]),
    ("stack-name-non-ascii", "stäck", "v1", services("stäck"), {}, ["stack", "stäck"]),
    # unit names
    ("unit-name-dollar", "bad-unit-name", "v1", {}, {}, ["units[0]", "we$rd"]),
    ("unit-version-traversal", "bad-unit-version", "v1", {}, {}, ["units[0]", "version", "v1/../../x"]),
    ("unit-name-at", "bad-at", "v1", services("bad-at", units=[{"name": "a@b"}]), {}, ["units[0]", "a@b"]),
    ("unit-listed-twice", "bad-twice", "v1", services("bad-twice", units=["dep", "dep"]), {}, ["units[1]", "twice"]),
    ("unit-entry-unknown-key", "bad-key", "v1", services("bad-key", units=[{"name": "dep", "image": "x"}]), {},
     ["units[0]", "image"]),
    # templates
    ("template-missing", "bad-missing-template", "v1", {}, {}, ["no-such-unit.service.j2"]),
    ("template-render-error", "bad-render", "v1", {}, {}, ["this_variable_is_not_defined"]),
    # unit file syntax and fleet options
    ("unit-no-section", "bad-no-section", "v1", {}, {}, ["bad-no-section-nosection@v1.service", "section"]),
    ("unit-option-before-section", "bad-option-before-section", "v1", {}, {},
     ["bad-option-before-section-early@v1.service", "Description"]),
    ("unit-bad-line", "bad-line", "v1", {}, {}, ["bad-line-badline@v1.service", "this line has no equals sign"]),
    ("xfleet-unknown-option", "bad-xfleet-option", "v1", {}, {}, ["bad-xfleet-option-xfleet@v1.service", "MachineColour"]),
    ("xfleet-global-with-machineid", "bad-global-machineid", "v1", {}, {},
     ["bad-global-machineid-gmid@v1.service", "Global", "MachineID"]),
    # write_files
    ("files-relative-path", "bad-relative-path", "v1", {}, {}, ["opt/bad/relative", "absolute"]),
    ("files-dotdot", "bad-dotdot-path", "v1", {}, {}, ["/opt/bad/../../etc/passwd", ".."]),
    ("files-duplicate-path", "bad-duplicate-path", "v1", {}, {}, ["/opt/bad/same", "duplicate"]),
    ("files-bad-mode", "bad-mode", "v1", {}, {}, ["/opt/bad/mode", "0999"]),
    ("files-huge", "bad-huge-file", "v1", {}, {}, ["size cap"]),
    ("files-binary-without-encoding", "bad-binary", "v1",
     services("bad-binary", **files({"path": "/opt/bad/binary", "content": "\x00\x01\x02binary\x7f"})), {},
     ["/opt/bad/binary", "encoding"]),
    ("files-unknown-encoding", "bad-enc", "v1",
     services("bad-enc", **files({"path": "/opt/bad/enc", "content": "x", "encoding": "gzip"})), {}, ["encoding", "gzip"]),
    ("files-src-missing", "bad-src", "v1",
     services("bad-src", **files({"path": "/opt/bad/src", "src": "no-such-file.txt"})), {}, ["no-such-file.txt"]),
    ("files-bad-owner", "bad-owner", "v1",
     services("bad-owner", **files({"path": "/opt/bad/own", "content": "x", "owner": "root; rm -rf /"})), {},
     ["/opt/bad/own", "owner"]),
    ("files-content-and-src", "bad-both", "v1",
     services("bad-both", **files({"path": "/opt/bad/both", "content": "x", "src": "svc.py"})), {},
     ["/opt/bad/both", "content", "src"]),
    # environments
    ("environment-filter-matches-nothing", "bad-env-filter", "", {}, {}, ["bad-env-filter", "environment", "lab"]),
    # settings
    ("keep-versions-negative", "bad-keep", "v1", services("bad-keep", keep_versions=-1), {}, ["keep_versions"]),
    # connection settings
    ("consul-address-missing", "rel-sec", "v2", {}, {"CONSUL_HTTP_ADDR": None}, ["127.0.0.1:8500"]),
    ("consul-address-unreachable", "rel-sec", "v2", {}, {"CONSUL_HTTP_ADDR": "LABNET.99:8500"}, ["LABNET.99:8500"]),
    ("fleet-endpoint-missing", "rel-sec", "v2", {}, {"FLEETCTL_ENDPOINT": None}, ["/var/run/fleet.sock"]),
    ("fleet-endpoint-bad-socket", "rel-sec", "v2", {}, {"FLEETCTL_ENDPOINT": "unix:///nonexistent/fleet.sock"},
     ["/nonexistent/fleet.sock"]),
]


# Cases that fail because of a bug in the roles or plugins (reported to their owners).
KNOWN_BUGS: dict = {}
PARAMS = [pytest.param(c, id=c[0], marks=[pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[c[0]])] if c[0] in KNOWN_BUGS
                       else []) for c in CASES]


def _remove_leftovers(lab, rel_files, stack):
    """A wrongly accepted throwaway stack is removed so later cases start from the same cluster."""
    if stack != "rel-sec":
        deploy(lab, rel_files, stack, "v1", playbook="houston.stack.remove", **{"houston_services": {stack: RS}})


@pytest.mark.parametrize("case", PARAMS)
def test_bad_input_is_refused_and_changes_nothing(lab, rel_files, baseline, case):
    _name, stack, version, extra_vars, env_changes, expected = case
    extra_vars = {"houston_consul_wait_timeout": 10, "houston_lock_timeout": 10, **extra_vars}
    env = lab_environment(lab)
    for key, value in env_changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value.replace("LABNET", lab.net)
    expected = [e.replace("LABNET", lab.net) for e in expected]
    before = snapshot(lab)
    rc, out = deploy(lab, rel_files, stack, version, env=env, **extra_vars)
    after = snapshot(lab)
    if rc == 0 or changes(before, after):
        _remove_leftovers(lab, rel_files, stack)
    assert rc != 0, f"the deploy succeeded:\n{out[-3000:]}"
    failures = "\n".join(line for line in out.splitlines() if "FAILED!" in line or line.startswith(("ERROR", "[ERROR]")))
    assert failures, out[-3000:]
    missing = [e for e in expected if e not in failures]
    assert not missing, f"the error does not name {missing}:\n{failures[-3000:]}"
    assert "Traceback" not in out, out[-3000:]
    assert changes(before, after) == {}, f"the cluster changed:\n{failures[-2000:]}"
    assert lock_holder(lab, stack) is None
