# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A unit submitted through fleet's API runs ``python3`` as the lab's own interpreter, whatever the caller's PATH."""
from __future__ import annotations

import json
import os
import sys

from fleetlab_support import make_machines, opts, wait_for


def test_python3_in_a_unit_is_the_labs_interpreter(flab_factory, tmp_path):
    out = tmp_path / "seen.json"
    machines = make_machines(count=1, root=str(tmp_path / "machines"))
    for machine in machines:
        os.makedirs(machine.root, exist_ok=True)
    lab = flab_factory(machines, process=True)
    script = f"import json, os, sys; json.dump([sys.prefix, os.environ[\"PATH\"]], open(\"{out}\", \"w\"))"
    reply = lab.put_unit("which-python.service", opts(
        ("Service", "Type", "oneshot"), ("Service", "RemainAfterExit", "yes"),
        ("Service", "ExecStart", f"/usr/bin/env python3 -c '{script}'"),
        ("X-Fleet", "Global", "true")))
    assert reply.status == 201, reply.raw
    wait_for(lambda: out.exists() and out.stat().st_size > 0, what="the unit's report")
    prefix, path = json.loads(out.read_text())
    assert prefix == sys.prefix
    assert path.split(os.pathsep)[0] == os.path.dirname(sys.executable)
