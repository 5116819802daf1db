# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers for integration tests: run playbooks against the lab.

Import as ``from tests.support import run_playbook, lab_environment`` (the repository root is on
sys.path through tests/conftest.py; ``import support`` also works from tests/).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = REPO_ROOT / ".venv" / "bin"
ANSIBLE_PLAYBOOK = VENV_BIN / "ansible-playbook"
PYTHON = VENV_BIN / "python"
COLLECTIONS_PATH = REPO_ROOT / ".cache" / "collections"

_RECAP_LINE = re.compile(r"^(?P<host>\S+)\s+:\s+(?P<counts>(?:\w+=\d+\s*)+)$")


def lab_environment(lab) -> dict:
    """Environment for a process that talks to ``lab`` (a LabInfo from the ``lab`` fixture).

    A copy of ``os.environ`` with the lab's env file applied: CONSUL_HTTP_ADDR, FLEETCTL_ENDPOINT,
    FLEETLAB_URL, FLEETLAB_ADMIN_URL, LAB_DIR and LAB_NET. Consul variables of the caller's
    environment that would redirect the modules elsewhere (token, TLS) are removed.
    """
    env = dict(os.environ)
    for name in ("CONSUL_HTTP_TOKEN", "CONSUL_HTTP_SSL", "CONSUL_HTTP_SSL_VERIFY", "CONSUL_CACERT",
                 "CONSUL_CLIENT_CERT", "CONSUL_CLIENT_KEY", "FLEETCTL_ENDPOINT", "FLEETLAB_URL", "FLEETLAB_ADMIN_URL"):
        env.pop(name, None)
    env.update(lab.env)
    return env


def parse_recap(stdout: str) -> dict:
    """``{host: {"ok": n, "changed": n, "unreachable": n, "failed": n, "skipped": n, ...}}`` from
    the PLAY RECAP of ansible-playbook's default output (empty when there is none)."""
    recap: dict = {}
    in_recap = False
    for line in stdout.splitlines():
        if line.startswith("PLAY RECAP"):
            in_recap = True
            continue
        if in_recap:
            match = _RECAP_LINE.match(line.strip())
            if match:
                counts = dict(item.split("=") for item in match.group("counts").split())
                recap[match.group("host")] = {key: int(value) for key, value in counts.items()}
    return recap


def run_playbook(playbook, inventory=None, extra_vars=None, env=None, check=False, diff=False, verbosity=0,
                 timeout=900, extra_args=()):
    """Run ``.venv/bin/ansible-playbook`` and return ``(rc, stdout, stderr, recap)``.

    playbook    path of a playbook, or a collection playbook FQCN (``houston.stack.deploy``)
    inventory   path of an inventory, a dict (written as a YAML-compatible JSON inventory), or
                None for the implicit localhost
    extra_vars  dict passed as ``-e @file.json`` (types preserved)
    env         environment for the run (e.g. ``lab_environment(lab)``); default os.environ
    check/diff  add ``--check`` / ``--diff``; verbosity: number of ``-v``
    timeout     seconds before the run is killed (subprocess.TimeoutExpired propagates)
    extra_args  more command-line arguments

    The collection is found through ANSIBLE_COLLECTIONS_PATH=.cache/collections (only), and
    ``ansible_python_interpreter`` is the venv's Python unless ``extra_vars`` sets it.
    ``recap`` is :func:`parse_recap` of stdout.
    """
    run_env = dict(os.environ if env is None else env)
    run_env.update({
        "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS_PATH),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_STDOUT_CALLBACK": "default",
        "ANSIBLE_LOCALHOST_WARNING": "0",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
        "ANSIBLE_DEPRECATION_WARNINGS": run_env.get("ANSIBLE_DEPRECATION_WARNINGS", "1"),
        "PYTHONUNBUFFERED": "1",
    })
    variables = {"ansible_python_interpreter": str(PYTHON)}
    variables.update(extra_vars or {})
    with tempfile.TemporaryDirectory(prefix="run-playbook-") as tmp:
        vars_file = Path(tmp, "extra_vars.json")
        vars_file.write_text(json.dumps(variables), encoding="utf-8")
        cmd = [str(ANSIBLE_PLAYBOOK), str(playbook), "-e", f"@{vars_file}"]
        if inventory is None:
            cmd += ["-i", "localhost,", "-c", "local"]
        elif isinstance(inventory, dict):
            inv_file = Path(tmp, "inventory.json")
            inv_file.write_text(json.dumps(inventory), encoding="utf-8")
            cmd += ["-i", str(inv_file)]
        else:
            cmd += ["-i", str(inventory)]
        if check:
            cmd.append("--check")
        if diff:
            cmd.append("--diff")
        if verbosity:
            cmd.append("-" + "v" * verbosity)
        cmd += list(extra_args)
        proc = subprocess.run(cmd, env=run_env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout,
                              check=False)
    return proc.returncode, proc.stdout, proc.stderr, parse_recap(proc.stdout)
